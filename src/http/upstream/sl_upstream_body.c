/*
 * sl_upstream_body.c: proxy_request_buffering off.  The request body goes to the upstream
 * as it arrives from the client, through the body reader's one buffer (at most
 * client_body_buffer_size): what the reader had when the body stopped coming goes with the
 * request header; then read from the client when the buffer is empty (never past the body's
 * end), write to the upstream, read again when it is sent.  A body of known length keeps
 * its Content-Length; a chunked one is re-framed as chunked (to an HTTP/1.1 upstream), one
 * chunk per read event, so the upstream always gets one clean framing.
 */
#include <stdio.h>
#include <string.h>

#include "sl_pool.h"
#include "sl_upstream.h"

/* The links that carry one piece to the upstream, made once per request and reused for
 * every piece (a piece is sent whole before the next is read), so memory does not grow
 * with the length of the body. */
struct sl_upstream_body_frames_s {
    /** size line, data, CRLF after the data, the last chunk */
    sl_chain_t links[4];
    sl_buf_t bufs[4];
    u_char size_line[24];
};

/* Links bufs[i] over [p, p + n) after *ll. */
static void add_span(sl_upstream_body_frames_t *f, int i, sl_chain_t ***ll, const u_char *p,
                     size_t n)
{
    sl_buf_t *b = &f->bufs[i];

    memset(b, 0, sizeof(*b));
    b->memory = 1;
    b->start = (u_char *) p;
    b->pos = (u_char *) p;
    b->last = (u_char *) p + n;
    f->links[i].buf = b;
    f->links[i].next = NULL;
    **ll = &f->links[i];
    *ll = &f->links[i].next;
}

/* The data in [p, p + n) as the next piece in u->body_out: chunked framing carries each
 * piece as one chunk, and the last chunk follows the end of the body.  SL_OK, SL_ERROR (no
 * memory for the links, the first time). */
static sl_int_t frame(sl_http_request_t *r, sl_upstream_t *u, u_char *p, size_t n)
{
    static const u_char crlf[] = "\r\n", last[] = "0\r\n\r\n";
    sl_upstream_body_frames_t *f = u->body_frames;
    sl_chain_t **ll = &u->body_out;

    if (f == NULL) {
        f = u->body_frames = sl_palloc(r->pool, sizeof(*f));
        if (f == NULL) {
            return SL_ERROR;
        }
    }
    u->body_out = NULL;
    if (n && u->body_chunked) {
        int len = snprintf((char *) f->size_line, sizeof(f->size_line), "%zx\r\n", n);
        add_span(f, 0, &ll, f->size_line, (size_t) len);
    }
    if (n) {
        add_span(f, 1, &ll, p, n);
    }
    if (n && u->body_chunked) {
        add_span(f, 2, &ll, crlf, 2);
    }
    if (u->body_done && u->body_chunked) {
        add_span(f, 3, &ll, last, 5);
    }
    return SL_OK;
}

/* A chunked body past client_max_body_size (a Content-Length was checked before). */
static int too_large(sl_http_request_t *r)
{
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);
    off_t received = r->request_body->received;

    if (clcf->client_max_body_size && received > clcf->client_max_body_size) {
        sl_log_error(SL_LOG_ERR, r->connection->log, 0,
                     "client intended to send too large chunked body: %lld bytes",
                     (long long) received);
        return 1;
    }
    return 0;
}

/* Raw body bytes into the buffer, no more than the body has left (the body reader took
 * all of it that came with the header).  The bytes read, 0 for none yet, or SL_ERROR. */
static ssize_t read_raw(sl_http_request_t *r, sl_buf_t *b, sl_buf_t *raw)
{
    sl_connection_t *c = r->connection;
    size_t room = (size_t) (b->end - b->last);

    size_t size = (size_t) sl_min((off_t) room, sl_http_request_body_left(r));
    ssize_t n = c->io->recv(c, b->last, size);
    if (n == SL_AGAIN) {
        return 0;
    }
    if (n == 0 || n == SL_ERROR) {
        sl_log_error(SL_LOG_INFO, c->log, 0,
                     "client prematurely closed connection while sending request body to upstream");
        c->error = 1;
        return SL_ERROR;
    }
    *raw = (sl_buf_t){ .pos = b->last, .last = b->last + n };
    r->request_length += n;
    return n;
}

/*
 * Fills the (sent, so empty) buffer with body data decoded in place, reading until the body
 * ends, the client has nothing more, or the buffer is full: what one read event brought
 * goes on as one piece (one chunk).  SL_OK (data, or the end), SL_AGAIN (nothing yet), or
 * SL_ERROR with the status to answer in *status.
 */
static sl_int_t fill(sl_http_request_t *r, sl_upstream_t *u, sl_uint_t *status)
{
    sl_buf_t *b = u->body_buf;

    b->pos = b->start;
    b->last = b->start;
    while (!u->body_done && b->last < b->end) {
        sl_buf_t raw;
        ssize_t n = read_raw(r, b, &raw);
        if (n == SL_ERROR) {
            *status = SL_HTTP_BAD_REQUEST;
            return SL_ERROR;
        }
        if (n == 0) {
            break;
        }
        sl_int_t rc = sl_http_request_body_decode(r, &raw, &b->last);
        if (rc == SL_ERROR || too_large(r)) {
            *status = rc == SL_ERROR ? SL_HTTP_BAD_REQUEST : SL_HTTP_REQUEST_ENTITY_TOO_LARGE;
            r->keepalive = 0;
            r->lingering_close = 1;
            return SL_ERROR;
        }
        u->body_done = rc == SL_OK;
    }
    if (u->body_done) {
        r->reading_body = 0; /* the connection may be reused: the next request follows */
    }
    return b->last > b->pos || u->body_done ? SL_OK : SL_AGAIN;
}

sl_int_t sl_upstream_stream_first(sl_http_request_t *r, sl_upstream_t *u)
{
    sl_http_request_body_t *rb = r->request_body;

    /* the reader's buffer holds what came at once; once sent, it carries the rest */
    u->body_started = 1;
    u->body_buf = rb->buf;
    if (frame(r, u, rb->buf->pos, (size_t) (rb->buf->last - rb->buf->pos)) != SL_OK) {
        return SL_ERROR;
    }
    rb->buf->pos = rb->buf->last;
    return SL_OK;
}

sl_int_t sl_upstream_stream_body(sl_http_request_t *r, sl_upstream_t *u, sl_uint_t *status)
{
    sl_connection_t *pc = u->peer.connection;
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);

    *status = SL_HTTP_BAD_GATEWAY;
    if (!u->body_started && sl_upstream_stream_first(r, u) != SL_OK) {
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
        sl_int_t rc = fill(r, u, status);
        if (rc == SL_AGAIN) {
            sl_add_timer(r->connection->read, clcf->client_body_timeout);
            return SL_AGAIN; /* the client's read event brings us back */
        }
        if (rc == SL_ERROR) {
            return SL_ERROR;
        }
        sl_del_timer(r->connection->read);
        if (frame(r, u, u->body_buf->pos, (size_t) (u->body_buf->last - u->body_buf->pos))
            != SL_OK) {
            *status = SL_HTTP_INTERNAL_SERVER_ERROR;
            return SL_ERROR;
        }
    }
}
