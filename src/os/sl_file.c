/*
 * sl_file.c: temp files, closing files, chain writes, file part reads.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "sl_file.h"
#include "sl_os.h"
#include "sl_pool.h"

static int make_dir(const char *path, sl_log_t *log)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST) {
        return 0;
    }
    sl_log_error(SL_LOG_CRIT, log, errno, "mkdir() \"%s\" failed", path);
    return -1;
}

sl_int_t sl_close_file(int fd)
{
    return close(fd) == -1 ? SL_ERROR : SL_OK;
}

/* A named file removed at once, where O_TMPFILE is not supported. */
static int named_tempfile(const char *dir, sl_log_t *log)
{
    char path[4096 + 32];

    snprintf(path, sizeof(path), "%.4095s/sluice.XXXXXX", dir);
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd == -1) {
        sl_log_error(SL_LOG_CRIT, log, errno, "mkostemp() \"%s\" failed", path);
        return -1;
    }
    unlink(path);
    return fd;
}

int sl_open_tempfile(const sl_str_t *dir, sl_log_t *log)
{
    char path[4096];

    if (dir->len >= sizeof(path) - 16) {
        sl_log_error(SL_LOG_CRIT, log, 0, "temp path \"%.*s\" is too long", SL_STR_ARG(*dir));
        return -1;
    }
    memcpy(path, dir->data, dir->len);
    path[dir->len] = '\0';
    for (int tries = 0; tries < 2; tries++) {
        int fd = open(path, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd != -1) {
            return fd;
        }
        if (errno == ENOENT && tries == 0) {
            if (make_dir(path, log) != 0) {
                return -1;
            }
            continue;
        }
        if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL) {
            return named_tempfile(path, log);
        }
        sl_log_error(SL_LOG_CRIT, log, errno, "open() temp file in \"%s\" failed", path);
        return -1;
    }
    return -1;
}

/* The next candidate name: a per-process sequence started apart from other workers'. */
static uint64_t next_temp_number(void)
{
    static uint64_t number;

    if (number == 0) {
        number = (uint64_t) (getpid() % 100000) * 100000 + 1;
    }
    return number++ % 10000000000ULL;
}

/* "dir/L1/L2/NNNNNNNNNN": each level is taken from the end of the name, as nginx's. */
static void format_temp_name(char *out, size_t size, const sl_path_t *path, uint64_t number)
{
    char digits[11];
    int n = snprintf(out, size, "%.*s", (int) path->name.len, path->name.data);

    snprintf(digits, sizeof(digits), "%010llu", (unsigned long long) number);
    size_t end = 10;
    for (int i = 0; i < SL_MAX_PATH_LEVEL && path->level[i]; i++) {
        end -= path->level[i];
        n += snprintf(out + n, size - (size_t) n, "/%.*s", (int) path->level[i], digits + end);
    }
    snprintf(out + n, size - (size_t) n, "/%s", digits);
}

/* Creates the level directories above the file name in name (dir itself included). */
static int make_level_dirs(char *name, size_t dir_len, sl_log_t *log)
{
    char *slash = name + dir_len;

    for (;;) {
        *slash = '\0';
        int rc = make_dir(name, log);
        *slash = '/';
        if (rc != 0) {
            return -1;
        }
        char *next = strchr(slash + 1, '/');
        if (next == NULL) {
            return 0;
        }
        slash = next;
    }
}

/* Links the open file at target: 0, an errno, or -1 when a level directory could not be
 * made (logged). */
static int link_temp_name(const char *proc, char *target, size_t dir_len, sl_log_t *log)
{
    if (linkat(AT_FDCWD, proc, AT_FDCWD, target, AT_SYMLINK_FOLLOW) == 0) {
        return 0;
    }
    if (errno != ENOENT) {
        return errno;
    }
    if (make_level_dirs(target, dir_len, log) != 0) {
        return -1;
    }
    return linkat(AT_FDCWD, proc, AT_FDCWD, target, AT_SYMLINK_FOLLOW) == 0 ? 0 : errno;
}

sl_int_t sl_name_tempfile(int fd, const sl_path_t *path, sl_pool_t *pool, sl_str_t *name,
                          sl_log_t *log)
{
    char proc[64], target[4096 + 64];

    if (path->name.len > 4096) {
        sl_log_error(SL_LOG_CRIT, log, 0, "temp path \"%.*s\" is too long", SL_STR_ARG(path->name));
        return SL_ERROR;
    }
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    int err = EEXIST;
    for (int tries = 0; tries < 100 && err == EEXIST; tries++) {
        format_temp_name(target, sizeof(target), path, next_temp_number());
        err = link_temp_name(proc, target, path->name.len, log);
    }
    if (err == -1) {
        return SL_ERROR;
    }
    if (err) {
        sl_log_error(SL_LOG_CRIT, log, err, "linkat() \"%s\" failed", target);
        return SL_ERROR;
    }
    name->len = strlen(target);
    name->data = sl_pnalloc(pool, name->len + 1);
    if (name->data == NULL) {
        unlink(target);
        return SL_ERROR;
    }
    memcpy(name->data, target, name->len + 1);
    return SL_OK;
}

ssize_t sl_write_chain_to_file(sl_file_t *file, sl_chain_t *cl, sl_log_t *log)
{
    struct iovec iov[SL_IOVS_PREALLOCATE];
    ssize_t total = 0;

    while (cl) {
        int n = 0;
        size_t size = 0;
        for (; cl && n < SL_IOVS_PREALLOCATE; cl = cl->next) {
            sl_buf_t *b = cl->buf;
            if (!sl_buf_in_memory(b) || b->last == b->pos) {
                continue;
            }
            iov[n].iov_base = b->pos;
            iov[n].iov_len = (size_t) (b->last - b->pos);
            size += iov[n].iov_len;
            n++;
        }
        size_t done = 0;
        while (done < size) {
            ssize_t w = pwritev(file->fd, iov, n, file->offset);
            if (w == -1 && errno == EINTR) {
                continue;
            }
            if (w <= 0) {
                sl_log_error(SL_LOG_CRIT, log, w == 0 ? ENOSPC : errno, "pwritev() \"%.*s\" failed",
                             SL_STR_ARG(file->name));
                return SL_ERROR;
            }
            file->offset += w;
            done += (size_t) w;
            /* a short write: drop what was written from the iovecs and go on */
            while (n && (size_t) w >= iov[0].iov_len) {
                w -= (ssize_t) iov[0].iov_len;
                memmove(iov, iov + 1, (size_t) --n * sizeof(struct iovec));
            }
            if (n && w) {
                iov[0].iov_base = (u_char *) iov[0].iov_base + w;
                iov[0].iov_len -= (size_t) w;
            }
        }
        total += (ssize_t) size;
    }
    return total;
}

sl_int_t sl_read_file_part(const sl_buf_t *b, u_char *dst, size_t size, sl_log_t *log)
{
    ssize_t n = pread(b->file->fd, dst, size, b->file_pos);

    if (n == -1) {
        sl_log_error(SL_LOG_CRIT, log, errno, "pread() \"%s\" failed", b->file->name.data);
        return SL_ERROR;
    }
    if ((size_t) n != size) {
        sl_log_error(SL_LOG_CRIT, log, 0, "read only %zd of %zu from \"%s\"", n, size,
                     b->file->name.data);
        return SL_ERROR;
    }
    return SL_OK;
}
