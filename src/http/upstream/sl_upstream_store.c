/*
 * sl_upstream_store.c: proxy_store and proxy_store_access.
 *
 * proxy_store is the upstream tee's first user (sl_upstream_tee.c): the buffered body the
 * event pipe writes to its temp file as it streams to the client (the pipe is "cacheable":
 * every byte goes through the file).  The temp file is anonymous (O_TMPFILE), so a
 * response that fails, or a crash, leaves nothing behind.  A complete body (the tee's
 * word: read to its end, as long as its Content-Length said) of a 200 is published: the
 * file is linked at the target path (through
 * /proc/self/fd, no privilege needed), or linked beside it and renamed over an existing
 * file, so a reader sees either no file (or the old one) or the whole new one, never a
 * part.  Missing directories are created as nginx does, with proxy_store_access's rights
 * plus x where r is.  Where the link cannot be made (the temp path on another filesystem,
 * no O_TMPFILE), the file is copied beside the target under a unique name and renamed.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sl_file.h"
#include "sl_http_variables.h"
#include "sl_pool.h"
#include "sl_upstream.h"

#define STORE_PATH_MAX 4096

void sl_upstream_store_init_conf(sl_upstream_store_conf_t *conf)
{
    conf->on = SL_CONF_UNSET;
    conf->path = NULL;
    conf->access = SL_CONF_UNSET_UINT;
}

void sl_upstream_store_merge(sl_upstream_store_conf_t *conf, const sl_upstream_store_conf_t *prev)
{
    if (conf->on == SL_CONF_UNSET) {
        conf->on = prev->on == SL_CONF_UNSET ? 0 : prev->on;
        conf->path = prev->path;
    }
    sl_conf_merge_uint_value(conf->access, prev->access, 0600);
}

/* proxy_store on | off | path: conf points at the module's loc conf, the offset at the
 * sl_upstream_store_conf_t inside it. */
char *sl_upstream_store_set(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_upstream_store_conf_t *sc = (sl_upstream_store_conf_t *) ((u_char *) conf + cmd->offset);
    sl_str_t *value = cf->args->elts;

    if (sc->on != SL_CONF_UNSET) {
        return "is duplicate";
    }
    if (sl_str_eq_cstr(&value[1], "off")) {
        sc->on = 0;
        return SL_CONF_OK;
    }
    sc->on = 1;
    if (sl_str_eq_cstr(&value[1], "on")) {
        return SL_CONF_OK;
    }
    sc->path = sl_pcalloc(cf->pool, sizeof(sl_http_complex_value_t));
    if (sc->path == NULL || sl_http_compile_value(cf, &value[1], sc->path) != SL_OK) {
        return SL_CONF_ERROR;
    }
    return SL_CONF_OK;
}

/* "user:rw", "group:r", "all:rw"...: the bits it grants, or -1 when it is none of them. */
static int access_bits(const sl_str_t *v, int *user)
{
    static const struct {
        const char *who;
        int shift;
    } whos[] = { { "user:", 6 }, { "group:", 3 }, { "all:", 0 } };

    for (size_t i = 0; i < sl_nelems(whos); i++) {
        size_t n = strlen(whos[i].who);
        if (v->len <= n || memcmp(v->data, whos[i].who, n) != 0) {
            continue;
        }
        sl_str_t rights = { v->len - n, v->data + n };
        int bits = sl_str_eq_cstr(&rights, "rw") ? 6 : sl_str_eq_cstr(&rights, "r") ? 4 : -1;
        if (bits == -1) {
            return -1;
        }
        *user |= i == 0;
        return bits << whos[i].shift;
    }
    return -1;
}

/* proxy_store_access users:permissions ...: user:rw unless given (nginx's rule). */
char *sl_upstream_store_access_set(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_upstream_store_conf_t *sc = (sl_upstream_store_conf_t *) ((u_char *) conf + cmd->offset);
    sl_str_t *value = cf->args->elts;
    int user = 0;
    sl_uint_t access = 0;

    if (sc->access != SL_CONF_UNSET_UINT) {
        return "is duplicate";
    }
    for (sl_uint_t i = 1; i < cf->args->nelts; i++) {
        int bits = access_bits(&value[i], &user);
        if (bits == -1) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid value \"%.*s\"", SL_STR_ARG(value[i]));
            return SL_CONF_ERROR;
        }
        access |= (sl_uint_t) bits;
    }
    sc->access = user ? access : access | 0600;
    return SL_CONF_OK;
}

/* The target: proxy_store's path, or root/alias + uri.  A NUL-terminated copy in buf. */
static sl_int_t target_path(sl_http_request_t *r, sl_upstream_t *u, char *buf)
{
    sl_str_t path;
    size_t root_len;

    if (u->conf->store.path) {
        if (sl_http_complex_value(r, u->conf->store.path, &path) != SL_OK) {
            return SL_ERROR;
        }
    } else if (sl_http_map_uri_to_path(r, &path, &root_len, 0) != SL_OK) {
        return SL_ERROR;
    }
    if (path.len == 0 || path.len >= STORE_PATH_MAX - 64 || memchr(path.data, '\0', path.len)) {
        sl_log_error(SL_LOG_CRIT, r->connection->log, 0, "invalid store path \"%.*s\"",
                     SL_STR_ARG(path));
        return SL_ERROR;
    }
    memcpy(buf, path.data, path.len);
    buf[path.len] = '\0';
    return SL_OK;
}

/* Every missing directory of path's parents, as nginx: each component in turn. */
static void create_dirs(char *path, mode_t mode)
{
    for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        (void) mkdir(path, mode); /* EEXIST is the usual answer; the link reports the rest */
        *s = '/';
    }
}

/* A name beside path no other request uses: path + ".sl" + pid + counter. */
static void sibling_name(const char *path, char *out)
{
    static unsigned long counter;

    snprintf(out, STORE_PATH_MAX, "%s.sl%ld.%lu", path, (long) getpid(), ++counter);
}

/* Gives the anonymous file fd the name path (replacing any file there).  0 or errno. */
static int link_fd(int fd, const char *path)
{
    char proc[64], tmp[STORE_PATH_MAX];

    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0) {
        return 0;
    }
    if (errno != EEXIST) {
        return errno;
    }
    sibling_name(path, tmp);
    if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) == -1) {
        return errno;
    }
    if (rename(tmp, path) == -1) {
        int err = errno;
        unlink(tmp);
        return err;
    }
    return 0;
}

/* Copies size bytes of fd into a new file beside path, renamed over it.  0 or errno. */
static int copy_to(sl_http_request_t *r, int fd, off_t size, const char *path, mode_t mode)
{
    char tmp[STORE_PATH_MAX];
    size_t bsize = 65536;
    u_char *buf = sl_pnalloc(r->pool, bsize);

    sibling_name(path, tmp);
    int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (buf == NULL || out == -1) {
        return out == -1 ? errno : ENOMEM;
    }
    int err = 0;
    for (off_t off = 0; off < size && err == 0;) {
        ssize_t n = pread(fd, buf, (size_t) sl_min((off_t) bsize, size - off), off);
        if (n <= 0 || write(out, buf, (size_t) n) != n) {
            err = n == 0 ? EIO : errno ? errno : EIO;
            break;
        }
        off += n;
    }
    /* the copy keeps the temp file's times (the origin's Last-Modified) */
    struct stat st;
    struct timespec ts[2];
    if (err == 0 && fstat(fd, &st) == 0) {
        ts[0] = st.st_atim;
        ts[1] = st.st_mtim;
        (void) futimens(out, ts);
    }
    if (err == 0 && (fchmod(out, mode) == -1 || rename(tmp, path) == -1)) {
        err = errno;
    }
    sl_close_file(out);
    if (err) {
        unlink(tmp);
    }
    return err;
}

/* The upstream's Last-Modified as a time, or -1 when absent or not an HTTP date. */
static time_t last_modified(sl_upstream_t *u)
{
    const sl_table_elt_t *h = sl_upstream_find_header(u, SL_UPSTREAM_H_LAST_MODIFIED);

    return h ? sl_http_parse_time(h->value.data, h->value.len) : -1;
}

/* The stored file carries the origin's Last-Modified as its mtime (as nginx), so a static
 * location serving it later answers with the origin's date; set before the file is named,
 * a reader never sees another one.  atime is now, as nginx sets it. */
static void set_mtime(sl_http_request_t *r, sl_upstream_t *u, int fd)
{
    time_t lm = last_modified(u);
    struct timespec ts[2] = { { 0, UTIME_NOW }, { lm, 0 } };

    if (lm != -1 && futimens(fd, ts) == -1) {
        sl_log_error(SL_LOG_CRIT, r->connection->log, errno, "futimens() of a stored file failed");
    }
}

/* Publishes the temp file at path with the configured rights.  Logs a failure. */
static void publish(sl_http_request_t *r, sl_upstream_t *u, int fd, off_t size, char *path)
{
    mode_t mode = (mode_t) u->conf->store.access;
    /* directories: x for whoever may read, as nginx */
    mode_t dir_mode = mode | ((mode & 0444) >> 2);

    if (fchmod(fd, mode) == -1) {
        sl_log_error(SL_LOG_CRIT, r->connection->log, errno, "fchmod() \"%s\" failed", path);
        return;
    }
    set_mtime(r, u, fd);
    int err = link_fd(fd, path);
    if (err == ENOENT) {
        create_dirs(path, dir_mode);
        err = link_fd(fd, path);
    }
    if (err == EXDEV || err == ENOENT) {
        /* another filesystem, or a temp file that cannot be linked: a copy */
        err = copy_to(r, fd, size, path, mode);
    }
    if (err) {
        sl_log_error(SL_LOG_CRIT, r->connection->log, err, "storing \"%s\" failed", path);
    }
}

/* Every response of a proxy_store location is copied; only a 200 is published. */
static int store_open(sl_http_request_t *r, sl_upstream_t *u, sl_str_t *dir, off_t *reserve)
{
    (void) r;
    (void) reserve;
    *dir = u->conf->temp_path->name;
    return 1;
}

static void store_complete(sl_http_request_t *r, sl_upstream_t *u, sl_file_t *file, off_t size)
{
    char path[STORE_PATH_MAX];

    if (u->headers_in.status_n != SL_HTTP_OK || target_path(r, u, path) != SL_OK) {
        return;
    }
    if (file && file->fd != -1) {
        publish(r, u, file->fd, size, path);
        return;
    }
    /* an empty body wrote no temp file: an empty one is published */
    int fd = sl_open_tempfile(&u->conf->temp_path->name, r->connection->log);
    if (fd != -1) {
        publish(r, u, fd, 0, path);
        sl_close_file(fd);
    }
}

/* Nothing to undo: the copy is the pipe's anonymous temp file, gone when it is closed. */
static void store_truncated(sl_http_request_t *r, sl_upstream_t *u)
{
    (void) r;
    (void) u;
}

const sl_upstream_tee_t sl_upstream_store_tee = { store_open, store_complete, store_truncated };
