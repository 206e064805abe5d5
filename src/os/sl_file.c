/*
 * sl_file.c: temp files, closing files, chain writes, file part reads.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "sl_file.h"
#include "sl_os.h"

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
