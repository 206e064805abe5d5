/*
 * sl_http_request_body.c: reading a request body for a handler that wants it (the proxy):
 * Content-Length or chunked, into one client_body_buffer_size buffer, spilling to an
 * anonymous temp file under client_body_temp_path when the body is larger, bounded by
 * client_max_body_size, with client_body_timeout between reads and "100 Continue" sent
 * when the body is actually wanted.
 *
 * When done, r->request_body->bufs holds the body: one memory buf, or one file buf (the
 * whole body, in the temp file).  The post handler then runs.
 */
#include <fcntl.h>

#include "sl_file.h"
#include "sl_http_request.h"
#include "sl_pool.h"

static void read_body_handler(sl_http_request_t *r);

static void close_temp_file(void *data)
{
    sl_file_t *file = data;

    if (file->fd != -1) {
        sl_close_file(file->fd);
        file->fd = -1;
    }
}

static sl_int_t open_temp_file(sl_http_request_t *r, sl_http_request_body_t *rb)
{
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);
    sl_pool_cleanup_t *cln = sl_pool_cleanup_add(r->pool, sizeof(sl_file_t));

    if (cln == NULL) {
        return SL_ERROR;
    }
    sl_file_t *file = cln->data;
    memset(file, 0, sizeof(*file));
    file->fd = sl_open_tempfile(&clcf->client_body_temp_path->name, r->connection->log);
    if (file->fd == -1) {
        return SL_ERROR;
    }
    /* nginx's warning (client_body_buffer_size is too small for this body); the file has
     * no name (O_TMPFILE), so its directory is given */
    sl_log_error(SL_LOG_WARN, r->connection->log, 0,
                 "a client request body is buffered to a temporary file in %.*s",
                 SL_STR_ARG(clcf->client_body_temp_path->name));
    file->name = clcf->client_body_temp_path->name;
    file->log = r->connection->log;
    cln->handler = close_temp_file;
    rb->temp_file = file;
    return SL_OK;
}

/* The full buffer goes to the temp file; the buffer is reused. */
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

static sl_int_t too_large(sl_http_request_t *r, sl_http_request_body_t *rb)
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

/* Copies n body bytes from p into the buffer, spilling to the file when it is full. */
static sl_int_t store(sl_http_request_t *r, sl_http_request_body_t *rb, const u_char *p, size_t n)
{
    while (n) {
        if (rb->buf->last == rb->buf->end && flush_to_file(r, rb) != SL_OK) {
            return SL_HTTP_INTERNAL_SERVER_ERROR;
        }
        size_t room = (size_t) (rb->buf->end - rb->buf->last);
        size_t k = sl_min(room, n);
        memcpy(rb->buf->last, p, k);
        rb->buf->last += k;
        p += k;
        n -= k;
        rb->received += (off_t) k;
        r->request_length += (off_t) k;
    }
    return too_large(r, rb) ? SL_HTTP_REQUEST_ENTITY_TOO_LARGE : SL_OK;
}

/* Takes body bytes from [b->pos, b->last): SL_OK when the body is complete, SL_AGAIN for
 * more, or an HTTP error. */
static sl_int_t consume(sl_http_request_t *r, sl_http_request_body_t *rb, sl_buf_t *b)
{
    if (!r->headers_in.chunked) {
        size_t n = (size_t) sl_min((off_t) (b->last - b->pos), rb->rest);
        sl_int_t rc = store(r, rb, b->pos, n);
        b->pos += n;
        rb->rest -= (off_t) n;
        return rc != SL_OK ? rc : rb->rest == 0 ? SL_OK : SL_AGAIN;
    }
    while (b->pos < b->last) {
        u_char *start = b->pos;
        sl_int_t rc = sl_http_parse_chunked(rb->chunked, b);
        r->request_length += b->pos - start;
        if (rc == SL_DONE) {
            return SL_OK;
        }
        if (rc == SL_AGAIN) {
            break;
        }
        if (rc != SL_OK) {
            sl_log_error(SL_LOG_INFO, r->connection->log, 0, "client sent invalid chunked body");
            r->keepalive = 0;
            r->lingering_close = 1;
            return SL_HTTP_BAD_REQUEST;
        }
        size_t n = (size_t) sl_min((off_t) (b->last - b->pos), rb->chunked->size);
        sl_int_t src = store(r, rb, b->pos, n);
        b->pos += n;
        rb->chunked->size -= (off_t) n;
        if (src != SL_OK) {
            return src;
        }
    }
    return SL_AGAIN;
}

/* The body is complete: describe it as one memory buf or one file buf. */
static sl_int_t finish(sl_http_request_t *r, sl_http_request_body_t *rb)
{
    sl_chain_t *cl = sl_alloc_chain_link(r->pool);

    if (cl == NULL) {
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    cl->next = NULL;
    if (rb->temp_file) {
        if (rb->buf->last > rb->buf->pos && flush_to_file(r, rb) != SL_OK) {
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
    } else {
        cl->buf = rb->buf;
    }
    cl->buf->last_buf = 1;
    rb->bufs = cl;
    rb->rest = 0;
    r->reading_body = 0;
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
        return SL_OK;
    }
    /* the connection is writable at this point; a short write means a broken client */
    ssize_t n = r->connection->io->send(r->connection, line, sizeof(line) - 1);
    if (n != (ssize_t) sizeof(line) - 1) {
        r->connection->error = 1;
        return SL_ERROR;
    }
    return SL_OK;
}

/* Reads from the socket until the body ends or the socket is empty. */
static sl_int_t read_socket(sl_http_request_t *r, sl_http_request_body_t *rb)
{
    sl_connection_t *c = r->connection;
    u_char buf[16384];

    for (;;) {
        ssize_t n = c->io->recv(c, buf, sizeof(buf));
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
        sl_buf_t b;
        memset(&b, 0, sizeof(b));
        b.pos = buf;
        b.last = buf + n;
        sl_int_t rc = consume(r, rb, &b);
        if (rc == SL_OK && b.pos < b.last) {
            /* bytes beyond the body: a pipelined request cannot be told apart from junk
             * once they are in this buffer, so the connection is not reused */
            r->keepalive = 0;
        }
        if (rc != SL_AGAIN) {
            return rc;
        }
    }
}

static sl_int_t init_body(sl_http_request_t *r, sl_http_request_body_t **out)
{
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);
    sl_http_request_body_t *rb = sl_pcalloc(r->pool, sizeof(sl_http_request_body_t));

    if (rb == NULL) {
        return SL_ERROR;
    }
    rb->rest = r->headers_in.content_length_n;
    size_t size = clcf->client_body_buffer_size;
    if (r->headers_in.chunked) {
        rb->rest = -1;
        rb->chunked = sl_pcalloc(r->pool, sizeof(sl_http_chunked_t));
        if (rb->chunked == NULL) {
            return SL_ERROR;
        }
    } else if (rb->rest < (off_t) size) {
        size = (size_t) rb->rest;
    }
    rb->buf = sl_create_temp_buf(r->pool, sl_max(size, 1));
    if (rb->buf == NULL) {
        return SL_ERROR;
    }
    r->request_body = rb;
    *out = rb;
    return SL_OK;
}

sl_int_t sl_http_read_client_request_body(sl_http_request_t *r,
                                          sl_http_client_body_handler_pt post_handler)
{
    sl_http_request_body_t *rb;

    r->main->count++;
    if (r->request_body || r->discard_body) {
        post_handler(r);
        return SL_OK;
    }
    if (r->headers_in.content_length_n <= 0 && !r->headers_in.chunked) {
        r->request_body = sl_pcalloc(r->pool, sizeof(sl_http_request_body_t));
        if (r->request_body == NULL) {
            return SL_HTTP_INTERNAL_SERVER_ERROR;
        }
        post_handler(r);
        return SL_OK;
    }
    if (init_body(r, &rb) != SL_OK || sl_http_send_continue(r) != SL_OK) {
        r->main->count--;
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    rb->post_handler = post_handler;
    r->reading_body = 1;
    sl_int_t rc = consume(r, rb, r->header_in);
    if (rc == SL_AGAIN) {
        rc = read_socket(r, rb);
    }
    if (rc == SL_OK) {
        rc = finish(r, rb);
        if (rc == SL_OK) {
            post_handler(r);
            return SL_OK;
        }
    }
    if (rc != SL_AGAIN) {
        r->main->count--;
        r->reading_body = 0;
        return rc;
    }
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);
    sl_add_timer(r->connection->read, clcf->client_body_timeout);
    r->read_event_handler = read_body_handler;
    r->write_event_handler = sl_http_request_empty_handler;
    return SL_AGAIN;
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
