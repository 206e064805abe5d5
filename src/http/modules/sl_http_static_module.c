/*
 * sl_http_static_module.c: files from disk.
 *
 * The content handler maps the uri to a path (root + uri, or alias in place of the
 * location's prefix), opens the file and answers 200 with one file buf covering it; the
 * write filter sends that buf with sendfile().  A directory answers 301 to "uri/", and
 * open() errors become 404, 403 or 500 with nginx's log lines.
 *
 * "sendfile off" (nginx's default, and ours), or a connection that cannot sendfile (its I/O
 * table says so: TLS): a body filter below the range filter reads file bufs into the
 * location's output_buffers (nginx's "2 32k" by default), refilled as the client drains
 * them, so memory stays bounded whatever the file size.  It works for any file buf that
 * reaches it (the proxy's temp file parts too), and also with sendfile on when a filter above
 * needs the bytes (gzip sets r->main_filter_need_in_memory).
 *
 * root and alias may hold variables ("alias /data/$1;" in a regex location): they are
 * compiled after parsing, in this module's postconfiguration, for every location whose path
 * has a '$'.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sl_http_output.h"
#include "sl_http_static.h"
#include "sl_http_variables.h"
#include "sl_file.h"
#include "sl_pool.h"

/* r->buffered bit: file data not yet read into memory (nginx's "copy buffered"). */
#define SL_HTTP_COPY_BUFFERED 0x04

/* Exported for the index module and the core's "directory index ... is forbidden". */

typedef struct {
    /** root or alias with variables, compiled; NULL when the path is plain text */
    sl_http_complex_value_t *root_value;
} static_loc_conf_t;

/* The sendfile-off reader's request state. */
typedef struct {
    /** links still to pass on: file bufs partly read, and what follows them */
    sl_chain_t *in;
    /** memory bufs of ours that were sent (reusable) or are in flight */
    sl_chain_t *free;
    sl_chain_t *busy;
    sl_uint_t allocated;
    /** the location's output_buffers: how many bufs at most, and their size */
    sl_bufs_t bufs;
    /** each memory buf also says where in the file its bytes are (in_file too), for a
     * filter that sends long unchanged runs from the file (r->keep_file_origin) */
    unsigned keep_origin : 1;
} read_ctx_t;

static void *create_loc_conf(sl_conf_t *cf);
static sl_int_t preconfiguration(sl_conf_t *cf);
static sl_int_t postconfiguration(sl_conf_t *cf);

static sl_http_module_t static_module_ctx = {
    preconfiguration, postconfiguration, NULL, NULL, NULL, NULL, create_loc_conf, NULL,
};

sl_module_t sl_http_static_module = {
    "http_static", 0, 0, SL_HTTP_MODULE, &static_module_ctx, NULL, NULL, NULL, NULL,
};

static sl_http_output_body_filter_pt next_body_filter;

static void *create_loc_conf(sl_conf_t *cf)
{
    return sl_pcalloc(cf->pool, sizeof(static_loc_conf_t));
}

/*
 * Writes root (or alias) + the rest of the uri into pool memory, NUL-terminated, with
 * reserved bytes of room after the NUL for the caller (index names).  path->len excludes the
 * NUL; *root_len is the length of the root part.  An alias replaces the location's prefix;
 * in a regex location it replaces the whole uri (as nginx: "alias /data/$1;").  SL_OK, or
 * SL_ERROR (pool exhaustion, a variable failing: the caller answers 500).
 */
sl_int_t sl_http_map_uri_to_path(sl_http_request_t *r, sl_str_t *path, size_t *root_len,
                                 size_t reserved)
{
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);
    static_loc_conf_t *slcf = sl_http_get_module_loc_conf(r, sl_http_static_module);
    sl_str_t root = clcf->alias.data ? clcf->alias : clcf->root;
    sl_str_t tail = r->uri;

    if (clcf->alias.data) {
        /* try_files found a file under a regex location's alias: alias + uri */
        size_t skip = clcf->alias_len == SIZE_MAX ? (r->add_uri_to_alias ? 0 : tail.len)
                                                  : sl_min(clcf->alias_len, tail.len);
        tail.data += skip;
        tail.len -= skip;
    }
    if (slcf->root_value && sl_http_complex_value(r, slcf->root_value, &root) != SL_OK) {
        return SL_ERROR;
    }
    path->data = sl_pnalloc(r->pool, root.len + tail.len + 1 + reserved);
    if (path->data == NULL) {
        return SL_ERROR;
    }
    memcpy(path->data, root.data, root.len);
    memcpy(path->data + root.len, tail.data, tail.len);
    path->len = root.len + tail.len;
    path->data[path->len] = '\0';
    *root_len = root.len;
    return SL_OK;
}

/* $request_filename: the path the uri maps to (root or alias), as nginx. */
static sl_int_t var_request_filename(sl_http_request_t *r, sl_http_variable_value_t *v,
                                     uintptr_t data)
{
    sl_str_t path;
    size_t root;

    if (sl_http_map_uri_to_path(r, &path, &root, 0) != SL_OK) {
        return SL_ERROR;
    }
    v->data = path.data;
    v->len = (unsigned) path.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return SL_OK;
}

static sl_int_t preconfiguration(sl_conf_t *cf)
{
    sl_str_t name = sl_string("request_filename");
    sl_http_variable_t *v = sl_http_add_variable(cf, &name, SL_HTTP_VAR_NOCACHEABLE);

    if (v == NULL) {
        return SL_ERROR;
    }
    v->get_handler = var_request_filename;
    return SL_OK;
}

/* nginx escapes these bytes of the uri in the Location of a directory redirect. */
static int escape_in_location(u_char c)
{
    return c <= 0x20 || c >= 0x7f || strchr("\"#%<>?\\^`{|}", c) != NULL;
}

/* 301 to "uri/?args", the uri escaped as nginx does; the header filter makes it absolute. */
static sl_int_t redirect_to_directory(sl_http_request_t *r)
{
    static const u_char hex[] = "0123456789ABCDEF";
    size_t len = r->uri.len + 1 + (r->args.len ? r->args.len + 1 : 0);

    for (size_t i = 0; i < r->uri.len; i++) {
        len += escape_in_location(r->uri.data[i]) ? 2 : 0;
    }
    u_char *loc = sl_pnalloc(r->pool, len), *p = loc;
    if (loc == NULL) {
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    for (size_t i = 0; i < r->uri.len; i++) {
        u_char c = r->uri.data[i];
        if (escape_in_location(c)) {
            *p++ = '%';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 0xf];
        } else {
            *p++ = c;
        }
    }
    *p++ = '/';
    if (r->args.len) {
        *p++ = '?';
        memcpy(p, r->args.data, r->args.len);
    }
    return sl_http_set_location(r, loc, len) ? SL_HTTP_MOVED_PERMANENTLY
                                             : SL_HTTP_INTERNAL_SERVER_ERROR;
}

/* What a failed open() answers, logged as nginx logs it. */
static sl_int_t open_error(sl_http_request_t *r, const sl_str_t *path, int err)
{
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);
    sl_uint_t level = SL_LOG_ERR;
    sl_int_t rc;

    switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
        rc = SL_HTTP_NOT_FOUND;
        break;
    case EACCES:
    case ELOOP:
    case EMLINK:
        rc = SL_HTTP_FORBIDDEN;
        break;
    default:
        level = SL_LOG_CRIT;
        rc = SL_HTTP_INTERNAL_SERVER_ERROR;
        break;
    }
    if (rc != SL_HTTP_NOT_FOUND || clcf->log_not_found) {
        sl_log_error(level, r->connection->log, err, "open() \"%s\" failed", path->data);
    }
    return rc;
}

static void close_file(void *data)
{
    sl_file_t *file = data;

    if (file->fd != -1 && sl_close_file(file->fd) != SL_OK) {
        sl_log_error(SL_LOG_ALERT, file->log, errno, "close() \"%s\" failed", file->name.data);
    }
    file->fd = -1;
}

/* Opens path with a pool cleanup that closes it.  The file, or NULL with *rc the answer. */
static sl_file_t *open_file(sl_http_request_t *r, const sl_str_t *path, sl_int_t *rc)
{
    sl_pool_cleanup_t *cln = sl_pool_cleanup_add(r->pool, sizeof(sl_file_t));

    *rc = SL_HTTP_INTERNAL_SERVER_ERROR;
    if (cln == NULL) {
        return NULL;
    }
    sl_file_t *file = cln->data;
    memset(file, 0, sizeof(*file));
    file->name = *path;
    file->log = r->connection->log;
    file->fd = open((const char *) path->data, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    cln->handler = close_file;
    if (file->fd == -1) {
        *rc = open_error(r, path, errno);
        return NULL;
    }
    return file;
}

sl_int_t sl_http_static_set_headers(sl_http_request_t *r, const struct stat *st)
{
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);

    r->headers_out.status = SL_HTTP_OK;
    r->headers_out.content_length_n = st->st_size;
    r->headers_out.last_modified_time = st->st_mtime;
    if (clcf->etag) {
        u_char etag[2 * 16 + 4];
        int n = snprintf((char *) etag, sizeof(etag), "\"%llx-%llx\"",
                         (unsigned long long) st->st_mtime, (unsigned long long) st->st_size);
        sl_http_clear_etag(r);
        r->headers_out.etag = sl_http_add_response_header(r, "ETag", etag, (size_t) n);
        if (r->headers_out.etag == NULL) {
            return SL_ERROR;
        }
    }
    /* the extension of r->uri as it is now (r->exten may predate an internal redirect) */
    sl_str_t exten = sl_null_string;
    for (size_t i = r->uri.len; i > 0 && r->uri.data[i - 1] != '/'; i--) {
        if (r->uri.data[i - 1] == '.') {
            exten.data = r->uri.data + i;
            exten.len = r->uri.len - i;
            break;
        }
    }
    sl_http_set_content_type(r, &clcf->default_type);
    if (exten.len) {
        sl_str_t *type = sl_hash_find(&clcf->types_hash, sl_hash_key_lc(exten.data, exten.len),
                                      exten.data, exten.len);
        if (type) {
            sl_http_set_content_type(r, type);
        }
    }
    r->allow_ranges = 1;
    return SL_OK;
}

/* The body: one buf over the whole file, the last of the response. */
static sl_int_t send_file(sl_http_request_t *r, sl_file_t *file, off_t size)
{
    if (size == 0) {
        return sl_http_send_last(r);
    }
    sl_buf_t *b = sl_calloc_buf(r->pool);
    if (b == NULL) {
        return SL_ERROR;
    }
    b->in_file = 1;
    b->file = file;
    b->file_pos = 0;
    b->file_last = size;
    b->last_buf = r == r->main;
    b->last_in_chain = 1;
    sl_chain_t out = { b, NULL };
    return sl_http_output_filter(r, &out);
}

/*
 * The content handler.  SL_DECLINED for a uri ending in '/' (the index module's, or the
 * core's 403); an HTTP status for errors and the directory redirect; else what sending
 * returned (SL_OK, SL_AGAIN while the body drains, SL_ERROR).  The descriptor belongs to the
 * request pool's cleanup.
 */
static sl_int_t static_handler(sl_http_request_t *r)
{
    sl_str_t path;
    size_t root;
    sl_int_t rc;
    struct stat st;

    if (!(r->method & (SL_HTTP_GET | SL_HTTP_HEAD | SL_HTTP_POST))) {
        return SL_HTTP_NOT_ALLOWED;
    }
    if (r->uri.len == 0 || r->uri.data[r->uri.len - 1] == '/') {
        return SL_DECLINED;
    }
    if (sl_http_map_uri_to_path(r, &path, &root, 0) != SL_OK) {
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    sl_file_t *file = open_file(r, &path, &rc);
    if (file == NULL) {
        return rc;
    }
    if (fstat(file->fd, &st) == -1) {
        sl_log_error(SL_LOG_CRIT, r->connection->log, errno, "fstat() \"%s\" failed", path.data);
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (S_ISDIR(st.st_mode)) {
        close_file(file);
        return redirect_to_directory(r);
    }
    if (!S_ISREG(st.st_mode)) {
        sl_log_error(SL_LOG_CRIT, r->connection->log, 0, "\"%s\" is not a regular file", path.data);
        return SL_HTTP_NOT_FOUND;
    }
    if (r->method == SL_HTTP_POST) {
        return SL_HTTP_NOT_ALLOWED;
    }
    rc = sl_http_discard_request_body(r);
    if (rc != SL_OK) {
        return rc;
    }
    if (sl_http_static_set_headers(r, &st) != SL_OK) {
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    rc = sl_http_send_header(r);
    if (rc == SL_ERROR || rc > SL_OK || r->header_only) {
        return rc;
    }
    return send_file(r, file, st.st_size);
}

/* --- sendfile off: file bufs read into memory ------------------------------------------ */

static int chain_has_file(sl_chain_t *cl)
{
    for (; cl; cl = cl->next) {
        if (cl->buf->in_file && !sl_buf_in_memory(cl->buf)) {
            return 1;
        }
    }
    return 0;
}

/* A memory buf of ours for the next read, or NULL when all are in flight. */
static sl_buf_t *get_read_buf(sl_http_request_t *r, read_ctx_t *ctx)
{
    if (ctx->free) {
        sl_chain_t *cl = ctx->free;
        ctx->free = cl->next;
        sl_buf_t *b = cl->buf;
        sl_free_chain_link(r->pool, cl);
        b->pos = b->start;
        b->last = b->start;
        return b;
    }
    if (ctx->allocated == (sl_uint_t) ctx->bufs.num) {
        return NULL;
    }
    sl_buf_t *b = sl_create_temp_buf(r->pool, ctx->bufs.size);
    if (b == NULL) {
        return NULL;
    }
    b->tag = (sl_buf_tag_t) &sl_http_static_module;
    ctx->allocated++;
    return b;
}

/* Reads the next piece of the file buf fb into b; with keep_origin b keeps the file range
 * its start..last came from.  SL_OK or SL_ERROR (logged). */
static sl_int_t read_piece(sl_http_request_t *r, sl_buf_t *fb, sl_buf_t *b, int keep_origin)
{
    size_t want = (size_t) sl_min(fb->file_last - fb->file_pos, (off_t) (b->end - b->start));

    b->in_file = keep_origin;
    b->file = keep_origin ? fb->file : NULL;
    b->file_pos = fb->file_pos;
    b->file_last = fb->file_pos + (off_t) want;
    /* a file that shrank under us cannot keep the promised length: an error */
    if (sl_read_file_part(fb, b->start, want, r->connection->log) != SL_OK) {
        return SL_ERROR;
    }
    b->pos = b->start;
    b->last = b->start + want;
    fb->file_pos += (off_t) want;
    return SL_OK;
}

/* Moves what can be passed on now from ctx->in to *out: memory and special bufs as they
 * are, file bufs read piece by piece while buffers are free.  SL_OK or SL_ERROR. */
static sl_int_t fill(sl_http_request_t *r, read_ctx_t *ctx, sl_chain_t **out)
{
    sl_chain_t **ll = out;

    while (ctx->in) {
        sl_chain_t *cl = ctx->in;
        sl_buf_t *fb = cl->buf;
        if (!fb->in_file || sl_buf_in_memory(fb)) {
            ctx->in = cl->next;
            cl->next = NULL;
            *ll = cl;
            ll = &cl->next;
            continue;
        }
        if (ctx->free == NULL && ctx->allocated == (sl_uint_t) ctx->bufs.num) {
            /* every buffer is in flight: wait for the client */
            return SL_OK;
        }
        sl_buf_t *b = get_read_buf(r, ctx);
        sl_chain_t *nl = sl_alloc_chain_link(r->pool);
        if (b == NULL || nl == NULL || read_piece(r, fb, b, ctx->keep_origin) != SL_OK) {
            return SL_ERROR;
        }
        b->last_buf = 0;
        b->last_in_chain = 0;
        b->flush = 0;
        if (fb->file_pos == fb->file_last) {
            b->last_buf = fb->last_buf;
            b->last_in_chain = fb->last_in_chain;
            b->flush = fb->flush;
            ctx->in = cl->next;
        }
        nl->buf = b;
        nl->next = NULL;
        *ll = nl;
        ll = &nl->next;
    }
    return SL_OK;
}

/*
 * With sendfile off, or on a connection whose I/O table cannot sendfile (TLS), file bufs
 * become memory bufs here: at most output_buffers of them in flight.
 * Returns what the next filter returned, or SL_AGAIN while file data waits for a buffer
 * (r->buffered says so, and the writer calls again with in == NULL).
 */
static sl_int_t read_body_filter(sl_http_request_t *r, sl_chain_t *in)
{
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);
    read_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_static_module);

    if (ctx == NULL) {
        /* a filter above (gzip, charset) that needs the bytes asks for memory whatever
         * sendfile says */
        int sendfile = clcf->sendfile && r->connection->io->sendfile;
        if ((sendfile && !r->main_filter_need_in_memory && !r->filter_need_in_memory)
            || !chain_has_file(in)) {
            return next_body_filter(r, in);
        }
        ctx = sl_pcalloc(r->pool, sizeof(read_ctx_t));
        if (ctx == NULL) {
            return SL_ERROR;
        }
        ctx->bufs = clcf->output_buffers;
        ctx->keep_origin = sendfile && r->keep_file_origin;
        sl_http_set_ctx(r, ctx, sl_http_static_module);
    }
    if (in && sl_chain_add_copy(r->pool, &ctx->in, in) != SL_OK) {
        return SL_ERROR;
    }
    for (;;) {
        sl_chain_t *out = NULL;
        sl_chain_update(r->pool, &ctx->free, &ctx->busy, &out,
                        (sl_buf_tag_t) &sl_http_static_module);
        if (fill(r, ctx, &out) != SL_OK) {
            return SL_ERROR;
        }
        sl_int_t rc = next_body_filter(r, out);
        if (rc == SL_ERROR) {
            return rc;
        }
        sl_chain_update(r->pool, &ctx->free, &ctx->busy, &out,
                        (sl_buf_tag_t) &sl_http_static_module);
        if (ctx->in == NULL) {
            r->buffered &= ~SL_HTTP_COPY_BUFFERED;
            return rc;
        }
        if (ctx->free == NULL && ctx->allocated == (sl_uint_t) ctx->bufs.num) {
            r->buffered |= SL_HTTP_COPY_BUFFERED;
            return SL_AGAIN;
        }
    }
}

/* --- configuration ------------------------------------------------------------------------ */

/* Compiles the root/alias of clcf when it has variables; a location inheriting the same
 * text shares its parent's compiled value. */
static sl_int_t compile_root(sl_conf_t *cf, sl_http_core_loc_conf_t *clcf, void **loc_conf,
                             const sl_str_t *parent_text, sl_http_complex_value_t *parent_value)
{
    static_loc_conf_t *slcf = loc_conf[sl_http_static_module.ctx_index];
    sl_str_t *text = clcf->alias.data ? &clcf->alias : &clcf->root;

    if (text->data == parent_text->data && text->len == parent_text->len) {
        slcf->root_value = parent_value;
    } else if (text->len && memchr(text->data, '$', text->len)) {
        sl_http_compile_complex_value_t ccv;
        slcf->root_value = sl_pcalloc(cf->pool, sizeof(sl_http_complex_value_t));
        if (slcf->root_value == NULL) {
            return SL_ERROR;
        }
        memset(&ccv, 0, sizeof(ccv));
        ccv.cf = cf;
        ccv.value = text;
        ccv.complex_value = slcf->root_value;
        if (sl_http_compile_complex_value(&ccv) != SL_OK) {
            return SL_ERROR;
        }
    }
    if (clcf->limit_except_loc_conf) {
        void **lmt = clcf->limit_except_loc_conf;
        if (compile_root(cf, lmt[sl_http_core_module.ctx_index], lmt, text, slcf->root_value)
            != SL_OK) {
            return SL_ERROR;
        }
    }
    sl_http_core_loc_conf_t **locs = clcf->locations ? clcf->locations->elts : NULL;
    for (sl_uint_t i = 0; locs && i < clcf->locations->nelts; i++) {
        if (compile_root(cf, locs[i], locs[i]->loc_conf, text, slcf->root_value) != SL_OK) {
            return SL_ERROR;
        }
    }
    return SL_OK;
}

static sl_int_t postconfiguration(sl_conf_t *cf)
{
    sl_http_core_main_conf_t *cmcf = sl_http_conf_get_module_main_conf(cf, sl_http_core_module);
    sl_http_core_srv_conf_t **servers = cmcf->servers.elts;
    sl_str_t none = sl_null_string;

    if (sl_http_add_phase_handler(cf, SL_HTTP_CONTENT_PHASE, static_handler) != SL_OK) {
        return SL_ERROR;
    }
    next_body_filter = sl_http_top_body_filter;
    sl_http_top_body_filter = read_body_filter;
    for (sl_uint_t i = 0; i < cmcf->servers.nelts; i++) {
        void **loc_conf = servers[i]->ctx->loc_conf;
        sl_http_core_loc_conf_t *clcf = loc_conf[sl_http_core_module.ctx_index];
        if (compile_root(cf, clcf, loc_conf, &none, NULL) != SL_OK) {
            return SL_ERROR;
        }
    }
    return SL_OK;
}
