/*
 * sl_http_gzip_static_module.c: a file's precompressed copy ("FILE.gz" beside it) sent as
 * the gzip-encoded response, instead of compressing on each request.
 *
 *   gzip_static on|off|always   (default off)
 *
 * "on" sends the copy to clients sl_http_gzip_ok() accepts; "always" to every client (a
 * location that also has gunzip decodes it for those that cannot take it).  The copy is
 * answered as static files are (Content-Type by the original name, Last-Modified and ETag
 * of the .gz file) with "Content-Encoding: gzip" and no ranges, and "Vary: Accept-Encoding"
 * where gzip_vary is on, also on the plain file's answer to a client that could not take
 * it.  No copy: the static module serves the file.  A content handler that runs before the
 * static module's.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sl_file.h"
#include "sl_http_gzip.h"
#include "sl_http_output.h"
#include "sl_http_static.h"
#include "sl_pool.h"

#define GZIP_STATIC_OFF 0
#define GZIP_STATIC_ON 1
#define GZIP_STATIC_ALWAYS 2

typedef struct {
    sl_uint_t enable;
} gzip_static_loc_conf_t;

static void *create_loc_conf(sl_conf_t *cf);
static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child);
static sl_int_t postconfiguration(sl_conf_t *cf);

static sl_conf_enum_t gzip_static_values[] = {
    { sl_string("off"), GZIP_STATIC_OFF },
    { sl_string("on"), GZIP_STATIC_ON },
    { sl_string("always"), GZIP_STATIC_ALWAYS },
    { sl_null_string, 0 },
};

static sl_command_t gzip_static_commands[] = {
    { sl_string("gzip_static"),
      SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF | SL_CONF_TAKE1,
      sl_conf_set_enum_slot, SL_HTTP_LOC_CONF_OFFSET, offsetof(gzip_static_loc_conf_t, enable),
      gzip_static_values },
    sl_null_command,
};

static sl_http_module_t gzip_static_module_ctx = {
    NULL, postconfiguration, NULL, NULL, NULL, NULL, create_loc_conf, merge_loc_conf,
};

// clang-format off
sl_module_t sl_http_gzip_static_module = {
    "http_gzip_static", 0, 0, SL_HTTP_MODULE, &gzip_static_module_ctx, gzip_static_commands,
    NULL, NULL, NULL,
};
// clang-format on

static void *create_loc_conf(sl_conf_t *cf)
{
    gzip_static_loc_conf_t *conf = sl_pcalloc(cf->pool, sizeof(gzip_static_loc_conf_t));

    if (conf) {
        conf->enable = SL_CONF_UNSET_UINT;
    }
    return conf;
}

static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child)
{
    gzip_static_loc_conf_t *prev = parent;
    gzip_static_loc_conf_t *conf = child;

    sl_conf_merge_uint_value(conf->enable, prev->enable, GZIP_STATIC_OFF);
    return SL_CONF_OK;
}

static void close_file(void *data)
{
    sl_file_t *file = data;

    if (file->fd != -1 && sl_close_file(file->fd) != SL_OK) {
        sl_log_error(SL_LOG_ALERT, file->log, errno, "close() \"%s\" failed", file->name.data);
    }
    file->fd = -1;
}

/*
 * Opens "PATH.gz" with a pool cleanup that closes it.  NULL when there is none to send: no
 * such file (quietly), or one that cannot be opened (logged as nginx: permission problems at
 * error level, anything else critical); the plain file is served then.
 */
static sl_file_t *open_copy(sl_http_request_t *r, const sl_str_t *path)
{
    sl_pool_cleanup_t *cln = sl_pool_cleanup_add(r->pool, sizeof(sl_file_t));

    if (cln == NULL) {
        return NULL;
    }
    sl_file_t *file = cln->data;
    memset(file, 0, sizeof(*file));
    file->name = *path;
    file->log = r->connection->log;
    file->fd = open((const char *) path->data, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    cln->handler = close_file;
    if (file->fd != -1) {
        return file;
    }
    int err = errno;
    if (err != ENOENT && err != ENOTDIR && err != ENAMETOOLONG) {
        sl_uint_t level = err == EACCES || err == ELOOP || err == EMLINK ? SL_LOG_ERR : SL_LOG_CRIT;
        sl_log_error(level, r->connection->log, err, "open() \"%s\" failed", path->data);
    }
    return NULL;
}

/* The copy as the response: the static module's headers for it, gzip-encoded, no ranges. */
static sl_int_t send_copy(sl_http_request_t *r, sl_file_t *file, const struct stat *st)
{
    sl_int_t rc = sl_http_discard_request_body(r);

    if (rc != SL_OK) {
        return rc;
    }
    if (sl_http_static_set_headers(r, st) != SL_OK) {
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    r->allow_ranges = 0;
    r->headers_out.content_encoding =
        sl_http_add_response_header(r, "Content-Encoding", (const u_char *) "gzip", 4);
    if (r->headers_out.content_encoding == NULL) {
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    rc = sl_http_send_header(r);
    if (rc == SL_ERROR || rc > SL_OK || r->header_only) {
        return rc;
    }
    if (st->st_size == 0) {
        return sl_http_send_last(r);
    }
    sl_buf_t *b = sl_calloc_buf(r->pool);
    if (b == NULL) {
        return SL_ERROR;
    }
    b->in_file = 1;
    b->file = file;
    b->file_last = st->st_size;
    b->last_buf = r == r->main;
    b->last_in_chain = 1;
    sl_chain_t out = { b, NULL };
    return sl_http_output_filter(r, &out);
}

/*
 * The content handler: SL_DECLINED to let the static module serve the plain file (off, a
 * uri naming a directory, a client that cannot take gzip, no copy, a copy that is a
 * directory); else what sending returned, or an HTTP error.
 */
static sl_int_t gzip_static_handler(sl_http_request_t *r)
{
    gzip_static_loc_conf_t *conf = sl_http_get_module_loc_conf(r, sl_http_gzip_static_module);
    sl_str_t path;
    size_t root;
    struct stat st;

    if (conf->enable == GZIP_STATIC_OFF || !(r->method & (SL_HTTP_GET | SL_HTTP_HEAD))
        || r->uri.len == 0 || r->uri.data[r->uri.len - 1] == '/') {
        return SL_DECLINED;
    }
    int ok = conf->enable == GZIP_STATIC_ALWAYS || sl_http_gzip_ok(r) == SL_OK;
    /* a client that cannot take it still gets Vary when there is a copy to vary to */
    if (!ok && !sl_http_gzip_vary_on(r)) {
        return SL_DECLINED;
    }
    if (sl_http_map_uri_to_path(r, &path, &root, sizeof(".gz") - 1) != SL_OK) {
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    memcpy(path.data + path.len, ".gz", sizeof(".gz"));
    path.len += sizeof(".gz") - 1;
    sl_file_t *file = open_copy(r, &path);
    if (file == NULL) {
        return SL_DECLINED;
    }
    if (fstat(file->fd, &st) == -1) {
        sl_log_error(SL_LOG_CRIT, r->connection->log, errno, "fstat() \"%s\" failed", path.data);
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    sl_http_gzip_set_vary(r);
    if (!ok || S_ISDIR(st.st_mode)) {
        close_file(file);
        return SL_DECLINED;
    }
    if (!S_ISREG(st.st_mode)) {
        sl_log_error(SL_LOG_CRIT, r->connection->log, 0, "\"%s\" is not a regular file", path.data);
        return SL_HTTP_NOT_FOUND;
    }
    return send_copy(r, file, &st);
}

static sl_int_t postconfiguration(sl_conf_t *cf)
{
    return sl_http_add_phase_handler(cf, SL_HTTP_CONTENT_PHASE, gzip_static_handler);
}
