/*
 * sl_http_discard_body.c: a request body nobody wants is still read and thrown away, so
 * the next request on the connection starts where this body ends.  Chunked framing is
 * checked as strictly as when a body is kept: a bad chunk ends the connection.
 */
#include "sl_http_request.h"
#include "sl_pool.h"

#define DISCARD_BUFFER_SIZE 4096

/* Drops body bytes from [b->pos, b->last).  SL_OK when the body is complete, SL_AGAIN for
 * more, SL_ERROR on bad framing. */
static sl_int_t consume(sl_http_request_t *r, sl_buf_t *b)
{
    u_char *out = b->pos;

    /* the data is decoded over itself and forgotten */
    return sl_http_request_body_decode(r, b, &out);
}

/* Reads and drops until the body ends or the socket is empty. */
static sl_int_t read_discarded(sl_http_request_t *r)
{
    sl_connection_t *c = r->connection;
    u_char buf[DISCARD_BUFFER_SIZE];

    for (;;) {
        if (!c->read->ready && !c->read->pending_eof) {
            return SL_AGAIN;
        }
        size_t size = (size_t) sl_min((off_t) sizeof(buf), sl_http_request_body_left(r));
        ssize_t n = c->io->recv(c, buf, size);
        if (n == SL_AGAIN) {
            return SL_AGAIN;
        }
        if (n == SL_ERROR || n == 0) {
            c->error = 1;
            return SL_ERROR;
        }
        sl_buf_t b;
        memset(&b, 0, sizeof(b));
        b.pos = buf;
        b.last = buf + n;
        sl_int_t rc = consume(r, &b);
        if (rc != SL_AGAIN) {
            return rc;
        }
    }
}

static sl_int_t init_discard(sl_http_request_t *r)
{
    sl_http_request_body_t *rb = sl_pcalloc(r->pool, sizeof(sl_http_request_body_t));

    if (rb == NULL) {
        return SL_ERROR;
    }
    r->request_body = rb;
    rb->rest = r->headers_in.content_length_n;
    if (r->headers_in.chunked) {
        rb->chunked = sl_pcalloc(r->pool, sizeof(sl_http_chunked_t));
        if (rb->chunked == NULL) {
            return SL_ERROR;
        }
        rb->rest = -1;
    }
    return SL_OK;
}

/* The connection itself failed (read error or close), not the body's framing. */
static int c_failed(sl_http_request_t *r)
{
    return r->connection->error;
}

sl_int_t sl_http_discard_request_body(sl_http_request_t *r)
{
    if (r != r->main || r->discard_body || r->request_body) {
        return SL_OK;
    }
    /* as nginx: a client waiting for "100 Continue" gets it, and its body is read and
     * dropped like any other, so the connection stays usable */
    if (sl_http_send_continue(r) != SL_OK) {
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (r->headers_in.content_length_n <= 0 && !r->headers_in.chunked) {
        return SL_OK;
    }
    if (init_discard(r) != SL_OK) {
        return SL_ERROR;
    }
    sl_int_t rc = consume(r, r->header_in);
    if (rc == SL_AGAIN) {
        rc = read_discarded(r);
    }
    if (rc == SL_OK) {
        return SL_OK;
    }
    if (rc == SL_ERROR) {
        r->keepalive = 0;
        r->lingering_close = 1;
        /* a body that is not a body yet, before the response: the answer is 400, as
         * nginx's (a connection that failed is ended by the caller's error anyway) */
        return c_failed(r) ? SL_OK : SL_HTTP_BAD_REQUEST;
    }
    /* the rest arrives while the response is sent; the request stays until it has */
    r->discard_body = 1;
    r->read_event_handler = sl_http_discarded_body_handler;
    return SL_OK;
}

void sl_http_discarded_body_handler(sl_http_request_t *r)
{
    sl_connection_t *c = r->connection;

    if (c->read->timedout) {
        c->timedout = 1;
        c->error = 1;
        sl_http_finalize_request(r, SL_ERROR);
        return;
    }
    sl_int_t rc = read_discarded(r);
    if (rc == SL_AGAIN) {
        return;
    }
    r->discard_body = 0;
    r->read_event_handler = sl_http_block_reading;
    if (rc == SL_ERROR) {
        r->keepalive = 0;
    }
    if (r->done) {
        sl_http_finalize_request(r, SL_DONE);
    }
}
