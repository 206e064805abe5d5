/*
 * sl_http_request_body.c: reading a request body for a handler that wants it (the proxy):
 * Content-Length or chunked, into one client_body_buffer_size buffer, spilling to a temp
 * file under client_body_temp_path when the body is larger (or always, with
 * client_body_in_file_only), bounded by client_max_body_size, with client_body_timeout
 * between reads and "100 Continue" sent when the body is about to be read.
 *
 * Reads never go past the body (each asks for at most what the framing says is left), so
 * a pipelined request behind it is read as the next request.  The body's data is decoded in
 * place: chunk framing is dropped as the bytes arrive.
 *
 * When done, r->request_body->bufs holds the body: one memory buf (the body in a single
 * buffer, so client_body_in_single_buffer is always so), or one file buf (the whole body,
 * in the temp file).  The post handler then runs.  With r->request_body_no_buffering
 * (proxy_request_buffering off) the reader never spills: at the first wait, or when its
 * buffer is full, it calls the post handler with r->reading_body still set and what it has
 * in rb->buf; the caller streams the rest.
 */
#include <fcntl.h>
#include <unistd.h>

#include "sl_file.h"
#include "sl_http_request.h"
#include "sl_pool.h"

/* The temp file and what its release must do. */
typedef struct {
    /** first: rb->temp_file points here */
    sl_file_t file;
    /** the file's name once it has one, else empty */
    sl_str_t path;
    /** client_body_in_file_only on: the named file outlives the request */
    unsigned keep : 1;
} body_file_t;

static void read_body_handler(sl_http_request_t *r);

static void release_body_file(void *data)
{
    body_file_t *bf = data;

    if (bf->file.fd != -1) {
        sl_close_file(bf->file.fd);
        bf->file.fd = -1;
    }
    if (bf->path.len && !bf->keep && unlink((char *) bf->path.data) == -1) {
        sl_log_error(SL_LOG_CRIT, bf->file.log, errno, "unlink() \"%s\" failed", bf->path.data);
    }
}

static sl_int_t name_body_file(sl_http_request_t *r, body_file_t *bf)
{
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);

    if (sl_name_tempfile(bf->file.fd, clcf->client_body_temp_path, r->pool, &bf->path,
                         r->connection->log)
        != SL_OK) {
        return SL_ERROR;
    }
    bf->file.name = bf->path;
    return SL_OK;
}

static sl_int_t open_temp_file(sl_http_request_t *r, sl_http_request_body_t *rb)
{
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);
    sl_pool_cleanup_t *cln = sl_pool_cleanup_add(r->pool, sizeof(body_file_t));

    if (cln == NULL) {
        return SL_ERROR;
    }
    body_file_t *bf = cln->data;
    memset(bf, 0, sizeof(*bf));
    bf->file.fd = sl_open_tempfile(&clcf->client_body_temp_path->name, r->connection->log);
    if (bf->file.fd == -1) {
        return SL_ERROR;
    }
    bf->file.name = clcf->client_body_temp_path->name;
    bf->file.log = r->connection->log;
    cln->handler = release_body_file;
    rb->temp_file = &bf->file;
    if (r->request_body_in_file_only) {
        /* the file is there to be handed on by name ($request_body_file) */
        bf->keep = clcf->client_body_in_file_only == SL_HTTP_BODY_FILE_ON;
        return name_body_file(r, bf);
    }
    /* nginx's warning (client_body_buffer_size is too small for this body); the file has
     * no name yet, so its directory is given */
    sl_log_error(SL_LOG_WARN, r->connection->log, 0,
                 "a client request body is buffered to a temporary file in %.*s",
                 SL_STR_ARG(clcf->client_body_temp_path->name));
    return SL_OK;
}

sl_int_t sl_http_request_body_file_name(sl_http_request_t *r, sl_str_t *name)
{
    sl_http_request_body_t *rb = r->request_body;

    if (rb == NULL || rb->temp_file == NULL || r->reading_body) {
        return SL_DECLINED;
    }
    body_file_t *bf = (body_file_t *) rb->temp_file;
    if (bf->path.len == 0 && name_body_file(r, bf) != SL_OK) {
        return SL_ERROR;
    }
    *name = bf->path;
    return SL_OK;
}

/* What is in the buffer goes to the temp file; the buffer is reused. */
static sl_int_t flush_to_file(sl_http_request_t *r, sl_http_request_body_t *rb)
{
    if (rb->temp_file == NULL && open_temp_file(r, rb) != SL_OK) {
        return SL_ERROR;
    }
    sl_chain_t cl = { rb->buf, NULL };
    if (sl_write_chain_to_file(rb->temp_file, &cl, r->connection->log) == SL_ERROR) {
        return SL_ERROR;
    }
    rb->buf->pos = rb->buf->start;
    rb->buf->last = rb->buf->start;
    return SL_OK;
}

sl_int_t sl_http_request_body_decode(sl_http_request_t *r, sl_buf_t *b, u_char **out)
{
    sl_http_request_body_t *rb = r->request_body;
    u_char *dst = *out;
    sl_int_t rc = SL_AGAIN;

    if (!r->headers_in.chunked) {
        size_t n = (size_t) sl_min((off_t) (b->last - b->pos), rb->rest);
        memmove(dst, b->pos, n);
        dst += n;
        b->pos += n;
        rb->rest -= (off_t) n;
        rc = rb->rest == 0 ? SL_OK : SL_AGAIN;
    }
    while (r->headers_in.chunked && b->pos < b->last) {
        /* the parser first, always: in data it returns at once, and while a size line is
         * cut between reads, size holds its digits so far, not data */
        rc = sl_http_parse_chunked(rb->chunked, b);
        if (rc == SL_DONE) {
            rc = SL_OK;
            break;
        }
        if (rc == SL_AGAIN) {
            break;
        }
        if (rc != SL_OK) {
            sl_log_error(SL_LOG_ERR, r->connection->log, 0, "client sent invalid chunked body");
            rc = SL_ERROR;
            break;
        }
        size_t n = (size_t) sl_min((off_t) (b->last - b->pos), rb->chunked->size);
        memmove(dst, b->pos, n);
        dst += n;
        b->pos += n;
        rb->chunked->size -= (off_t) n;
        rc = SL_AGAIN;
    }
    rb->received += dst - *out;
    *out = dst;
    return rc;
}

off_t sl_http_request_body_left(sl_http_request_t *r)
{
    sl_http_request_body_t *rb = r->request_body;

    return r->headers_in.chunked ? sl_http_chunked_left(rb->chunked) : rb->rest;
}

/* A chunked body past client_max_body_size (a Content-Length was checked before). */
static int too_large(sl_http_request_t *r, sl_http_request_body_t *rb)
{
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);

    if (clcf->client_max_body_size && rb->received > clcf->client_max_body_size) {
        sl_log_error(SL_LOG_ERR, r->connection->log, 0,
                     "client intended to send too large chunked body: %lld bytes",
                     (long long) rb->received);
        r->lingering_close = 1;
        return 1;
    }
    return 0;
}

/* After a decode: SL_OK (the body is complete), SL_AGAIN, or an HTTP error. */
static sl_int_t decoded(sl_http_request_t *r, sl_http_request_body_t *rb, sl_int_t rc)
{
    if (rc == SL_ERROR) {
        r->keepalive = 0;
        r->lingering_close = 1;
        return SL_HTTP_BAD_REQUEST;
    }
    return too_large(r, rb) ? SL_HTTP_REQUEST_ENTITY_TOO_LARGE : rc;
}

/* Room in the buffer, flushing it to the file when full.  0 when the buffer is full and
 * must stay so (no buffering: the caller takes it as it is); SL_ERROR. */
static ssize_t make_room(sl_http_request_t *r, sl_http_request_body_t *rb)
{
    if (rb->buf->last == rb->buf->end) {
        if (r->request_body_no_buffering) {
            return 0;
        }
        if (flush_to_file(r, rb) != SL_OK) {
            return SL_ERROR;
        }
    }
    return rb->buf->end - rb->buf->last;
}

/* Copies n bytes of body data into the buffer, flushing it to the file when full. */
static sl_int_t store(sl_http_request_t *r, sl_http_request_body_t *rb, const u_char *p, size_t n)
{
    while (n) {
        ssize_t room = make_room(r, rb);
        if (room <= 0) {
            return SL_HTTP_INTERNAL_SERVER_ERROR;
        }
        size_t k = sl_min((size_t) room, n);
        memcpy(rb->buf->last, p, k);
        rb->buf->last += k;
        p += k;
        n -= k;
    }
    return SL_OK;
}

/*
 * The body's buffer, made when the body did not all come with the header: at most
 * client_body_buffer_size (or what is left of a shorter body), except that without
 * buffering it holds at least the data that came with the header (at most a header
 * buffer), which goes to the upstream first.
 */
static sl_int_t alloc_buffer(sl_http_request_t *r, sl_http_request_body_t *rb, size_t preread)
{
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);
    size_t size = clcf->client_body_buffer_size;

    if (!r->headers_in.chunked && preread + (size_t) rb->rest < size) {
        size = preread + (size_t) rb->rest;
    }
    if (r->request_body_no_buffering && size < preread) {
        size = preread;
    }
    rb->buf = sl_create_temp_buf(r->pool, sl_max(size, 1));
    return rb->buf ? SL_OK : SL_ERROR;
}

/* A body that came whole with the header stays where it is, as nginx's: in memory
 * whatever client_body_buffer_size says (it is no larger than the header buffer). */
static sl_int_t keep_in_header(sl_http_request_t *r, sl_http_request_body_t *rb, u_char *data,
                               u_char *end)
{
    rb->buf = sl_calloc_buf(r->pool);
    if (rb->buf == NULL) {
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    rb->buf->start = data;
    rb->buf->pos = data;
    rb->buf->last = end;
    rb->buf->end = end;
    rb->buf->temporary = 1;
    return SL_OK;
}

/* Reads from the socket straight into the buffer, decoding in place, until the body ends,
 * the socket is empty, or (no buffering) the buffer is full. */
static sl_int_t read_socket(sl_http_request_t *r, sl_http_request_body_t *rb)
{
    sl_connection_t *c = r->connection;

    for (;;) {
        ssize_t room = make_room(r, rb);
        if (room <= 0) {
            return room == 0 ? SL_AGAIN : SL_HTTP_INTERNAL_SERVER_ERROR;
        }
        size_t size = (size_t) sl_min((off_t) room, sl_http_request_body_left(r));
        ssize_t n = c->io->recv(c, rb->buf->last, size);
        if (n == SL_AGAIN) {
            return SL_AGAIN;
        }
        if (n == 0) {
            sl_log_error(SL_LOG_INFO, c->log, 0,
                         "client prematurely closed connection while reading client request body");
        }
        if (n == 0 || n == SL_ERROR) {
            c->error = 1;
            return SL_HTTP_BAD_REQUEST;
        }
        r->request_length += n;
        sl_buf_t raw = { .pos = rb->buf->last, .last = rb->buf->last + n };
        sl_int_t rc = decoded(r, rb, sl_http_request_body_decode(r, &raw, &rb->buf->last));
        if (rc != SL_AGAIN) {
            return rc;
        }
    }
}

/* The first go: the body bytes that came with the header (decoded where they are), then
 * the socket until it is empty. */
static sl_int_t read_first(sl_http_request_t *r, sl_http_request_body_t *rb)
{
    sl_buf_t *h = r->header_in;
    u_char *start = h->pos, *end = h->pos;
    sl_int_t rc = decoded(r, rb, sl_http_request_body_decode(r, h, &end));

    r->request_length += h->pos - start;
    if (rc != SL_OK && rc != SL_AGAIN) {
        return rc;
    }
    if (rc == SL_OK && !r->request_body_in_file_only) {
        return keep_in_header(r, rb, start, end);
    }
    if (alloc_buffer(r, rb, (size_t) (end - start)) != SL_OK) {
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    sl_int_t src = store(r, rb, start, (size_t) (end - start));
    if (src != SL_OK || rc == SL_OK) {
        return src;
    }
    return read_socket(r, rb);
}

/* The body is complete: one memory buf, or one file buf holding all of it. */
static sl_int_t finish(sl_http_request_t *r, sl_http_request_body_t *rb)
{
    sl_chain_t *cl = sl_alloc_chain_link(r->pool);

    if (cl == NULL) {
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    cl->next = NULL;
    cl->buf = rb->buf;
    if (rb->temp_file || r->request_body_in_file_only) {
        if (flush_to_file(r, rb) != SL_OK) {
            return SL_HTTP_INTERNAL_SERVER_ERROR;
        }
        sl_buf_t *b = sl_calloc_buf(r->pool);
        if (b == NULL) {
            return SL_HTTP_INTERNAL_SERVER_ERROR;
        }
        b->in_file = 1;
        b->file = rb->temp_file;
        b->file_last = rb->temp_file->offset;
        cl->buf = b;
    }
    cl->buf->last_buf = 1;
    rb->bufs = cl;
    rb->rest = 0;
    r->reading_body = 0;
    r->request_body_no_buffering = 0;
    r->read_event_handler = sl_http_block_reading;
    return SL_OK;
}

sl_int_t sl_http_send_continue(sl_http_request_t *r)
{
    static const u_char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
    sl_table_elt_t *e = r->headers_in.expect;

    if (r->expect_tested || e == NULL || r->http_version < SL_HTTP_VERSION_11) {
        return SL_OK;
    }
    r->expect_tested = 1;
    if (e->value.len != 12 || sl_strncasecmp(e->value.data, (u_char *) "100-continue", 12) != 0) {
        return SL_OK; /* nginx 1.22 answers no other expectation, nor refuses it */
    }
    /* the connection is writable at this point; a short write means a broken client */
    ssize_t n = r->connection->io->send(r->connection, line, sizeof(line) - 1);
    if (n != (ssize_t) sizeof(line) - 1) {
        r->connection->error = 1;
        return SL_ERROR;
    }
    /* counted as nginx counts it: in $bytes_sent and (the header size not knowing of it)
     * in $body_bytes_sent too */
    r->connection->sent += n;
    return SL_OK;
}

static sl_int_t init_body(sl_http_request_t *r)
{
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);
    sl_http_request_body_t *rb = sl_pcalloc(r->pool, sizeof(sl_http_request_body_t));

    if (rb == NULL) {
        return SL_ERROR;
    }
    r->request_body = rb;
    r->request_body_in_file_only =
        clcf->client_body_in_file_only != SL_HTTP_BODY_FILE_OFF && !r->request_body_no_buffering;
    rb->rest = sl_max(r->headers_in.content_length_n, 0);
    if (rb->rest == 0 && !r->headers_in.chunked
        && (r->headers_in.content_length_n < 0 || !r->request_body_in_file_only)) {
        /* no body: rb->bufs stays NULL, $request_body and $request_body_file are not
         * found; as nginx, "Content-Length: 0" still gets its (empty) file where bodies
         * always go to files, a request without one does not */
        return SL_OK;
    }
    if (r->headers_in.chunked) {
        rb->rest = -1;
        rb->chunked = sl_pcalloc(r->pool, sizeof(sl_http_chunked_t));
        if (rb->chunked == NULL) {
            return SL_ERROR;
        }
    }
    rb->has_body = 1;
    return SL_OK;
}

/* Waits for more of the body (client_body_timeout), or hands over what there is. */
static sl_int_t wait_for_body(sl_http_request_t *r, sl_http_request_body_t *rb)
{
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);

    if (r->request_body_no_buffering) {
        /* the caller streams the rest: what there is so far is in rb->buf */
        rb->post_handler(r);
        return SL_OK;
    }
    sl_add_timer(r->connection->read, clcf->client_body_timeout);
    r->read_event_handler = read_body_handler;
    r->write_event_handler = sl_http_request_empty_handler;
    return SL_AGAIN;
}

sl_int_t sl_http_read_client_request_body(sl_http_request_t *r,
                                          sl_http_client_body_handler_pt post_handler)
{
    r->main->count++;
    if (r != r->main || r->request_body || r->discard_body) {
        r->request_body_no_buffering = 0;
        post_handler(r);
        return SL_OK;
    }
    /* before anything else, as nginx: even a body of length 0 gets its "100 Continue" */
    if (sl_http_send_continue(r) != SL_OK || init_body(r) != SL_OK) {
        r->main->count--;
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    sl_http_request_body_t *rb = r->request_body;
    if (!rb->has_body) {
        r->request_body_no_buffering = 0;
        post_handler(r);
        return SL_OK;
    }
    rb->post_handler = post_handler;
    r->reading_body = 1;
    sl_int_t rc = read_first(r, rb);
    if (rc == SL_OK) {
        rc = finish(r, rb);
    }
    if (rc == SL_OK) {
        post_handler(r);
        return SL_OK;
    }
    if (rc == SL_AGAIN) {
        return wait_for_body(r, rb);
    }
    r->main->count--;
    r->reading_body = 0;
    return rc;
}

static void read_body_handler(sl_http_request_t *r)
{
    sl_connection_t *c = r->connection;
    sl_http_request_body_t *rb = r->request_body;

    if (c->read->timedout) {
        sl_log_error(SL_LOG_INFO, c->log, ETIMEDOUT, "client timed out");
        c->timedout = 1;
        sl_http_finalize_request(r, SL_HTTP_REQUEST_TIME_OUT);
        return;
    }
    sl_int_t rc = read_socket(r, rb);
    if (rc == SL_AGAIN) {
        sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);
        sl_add_timer(c->read, clcf->client_body_timeout);
        return;
    }
    sl_del_timer(c->read);
    if (rc == SL_OK) {
        rc = finish(r, rb);
    }
    if (rc != SL_OK) {
        r->reading_body = 0;
        sl_http_finalize_request(r, rc);
        return;
    }
    rb->post_handler(r);
}
