/*
 * sl_upstream_body.c: proxy_request_buffering off.  The request body goes to the upstream
 * as it arrives from the client, through one client_body_buffer_size buffer: read from the
 * client when the buffer is empty, write to the upstream, read again when it is sent.  A
 * body of known length keeps its Content-Length; a chunked one is re-framed as chunked
 * (to an HTTP/1.1 upstream), so the upstream always gets one clean framing.
 */
#include <stdio.h>

#include "sl_http_output.h"
#include "sl_pool.h"
#include "sl_upstream.h"

/* A buf over [p, p + n) linked after *ll. */
static sl_int_t add_span(sl_http_request_t *r, sl_chain_t ***ll, u_char *p, size_t n)
{
    sl_chain_t *cl = sl_alloc_chain_link(r->pool);
    sl_buf_t *b = sl_calloc_buf(r->pool);

    if (cl == NULL || b == NULL) {
        return SL_ERROR;
    }
    b->memory = 1;
    b->start = p;
    b->pos = p;
    b->last = p + n;
    cl->buf = b;
    cl->next = NULL;
    **ll = cl;
    *ll = &cl->next;
    return SL_OK;
}

/* Chunk framing in pool memory: "size\r\n" before a piece, "\r\n" after, "0\r\n\r\n". */
static sl_int_t add_text(sl_http_request_t *r, sl_chain_t ***ll, const char *fmt, size_t size)
{
    u_char *p = sl_pnalloc(r->pool, 24);

    if (p == NULL) {
        return SL_ERROR;
    }
    int n = snprintf((char *) p, 24, fmt, size);
    return add_span(r, ll, p, (size_t) n);
}

/* Takes body bytes from b: spans of data into the chain, framed for the upstream.
 * SL_OK (the body is complete), SL_AGAIN (more to come), SL_ERROR (bad chunk framing). */
static sl_int_t take(sl_http_request_t *r, sl_upstream_t *u, sl_buf_t *b, sl_chain_t ***ll)
{
    sl_http_request_body_t *rb = r->request_body;

    if (!r->headers_in.chunked) {
        size_t n = (size_t) sl_min((off_t) (b->last - b->pos), rb->rest);
        if (n && add_span(r, ll, b->pos, n) != SL_OK) {
            return SL_ERROR;
        }
        b->pos += n;
        rb->rest -= (off_t) n;
        return rb->rest == 0 ? SL_OK : SL_AGAIN;
    }
    while (b->pos < b->last) {
        if (rb->chunked->size == 0) {
            sl_int_t rc = sl_http_parse_chunked(rb->chunked, b);
            if (rc == SL_DONE) {
                return add_text(r, ll, "0\r\n\r\n", 0);
            }
            if (rc == SL_AGAIN) {
                return SL_AGAIN;
            }
            if (rc != SL_OK) {
                sl_log_error(SL_LOG_INFO, r->connection->log, 0,
                             "client sent invalid chunked body");
                return SL_ERROR;
            }
        }
        size_t n = (size_t) sl_min((off_t) (b->last - b->pos), rb->chunked->size);
        if (add_text(r, ll, "%zx\r\n", n) != SL_OK || add_span(r, ll, b->pos, n) != SL_OK
            || add_text(r, ll, "\r\n", 0) != SL_OK) {
            return SL_ERROR;
        }
        b->pos += n;
        rb->chunked->size -= (off_t) n;
    }
    return SL_AGAIN;
}

/* Reads more of the body from the client into the (empty) body buffer. */
static sl_int_t read_client(sl_http_request_t *r, sl_upstream_t *u)
{
    sl_connection_t *c = r->connection;
    sl_buf_t *b = u->body_buf;

    b->pos = b->start;
    b->last = b->start;
    ssize_t n = c->io->recv(c, b->last, (size_t) (b->end - b->last));
    if (n == SL_AGAIN) {
        return SL_AGAIN;
    }
    if (n == 0 || n == SL_ERROR) {
        sl_log_error(SL_LOG_INFO, c->log, 0,
                     "client prematurely closed connection while sending request body to upstream");
        c->error = 1;
        return SL_ERROR;
    }
    b->last += n;
    r->request_length += n;
    return SL_OK;
}

static sl_int_t init_body(sl_http_request_t *r, sl_upstream_t *u)
{
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);

    u->body_buf = sl_create_temp_buf(r->pool, clcf->client_body_buffer_size);
    if (u->body_buf == NULL) {
        return SL_ERROR;
    }
    /* the body bytes that came with the header go first, without a copy */
    u->body_started = 1;
    return sl_http_send_continue(r);
}

sl_int_t sl_upstream_stream_body(sl_http_request_t *r, sl_upstream_t *u, sl_uint_t *status)
{
    sl_connection_t *pc = u->peer.connection;
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);

    *status = SL_HTTP_BAD_GATEWAY;
    if (!u->body_started && init_body(r, u) != SL_OK) {
        *status = SL_HTTP_INTERNAL_SERVER_ERROR;
        return SL_ERROR;
    }
    for (;;) {
        if (u->body_out) {
            sl_chain_t *rest = pc->io->send_chain(pc, u->body_out, 0);
            if (rest == SL_CHAIN_ERROR) {
                return SL_ERROR;
            }
            u->body_out = rest;
            if (rest) {
                return SL_AGAIN; /* the upstream's write event brings us back */
            }
        }
        if (u->body_done) {
            return SL_OK;
        }
        sl_buf_t *src = r->header_in->pos < r->header_in->last ? r->header_in : u->body_buf;
        if (src == u->body_buf) {
            sl_int_t rc = read_client(r, u);
            if (rc == SL_AGAIN) {
                sl_add_timer(r->connection->read, clcf->client_body_timeout);
                return SL_AGAIN; /* the client's read event brings us back */
            }
            if (rc == SL_ERROR) {
                *status = SL_HTTP_BAD_REQUEST;
                return SL_ERROR;
            }
            sl_del_timer(r->connection->read);
        }
        sl_chain_t **ll = &u->body_out;
        sl_int_t rc = take(r, u, src, &ll);
        if (rc == SL_ERROR) {
            *status = SL_HTTP_BAD_REQUEST;
            return SL_ERROR;
        }
        u->body_done = rc == SL_OK;
        if (u->body_done && src->pos < src->last) {
            /* bytes after the body cannot be a request we will read: no keepalive */
            r->keepalive = 0;
        }
    }
}
