/*
 * sl_proxy_body.c: the body decoders, one per framing (Content-Length, chunked,
 * close-delimited).  Each framing's core says which bytes of an input are body and which
 * are framing, when the body is complete, and whether bytes came past its end; every path
 * a response body takes goes through it: the unbuffered path and the whole body read with
 * the header (sl__proxy_input_filter), the event pipe (sl__proxy_pipe_filter).  Those thin
 * adapters publish the decoder's state to the upstream or the pipe and word the log lines.
 */
#include "sl_proxy.h"

void sl__proxy_body_init(proxy_body_t *d, int chunked, off_t length)
{
    memset(d, 0, sizeof(*d));
    d->framing = chunked ? PROXY_BODY_CHUNKED : length == -1 ? PROXY_BODY_CLOSE : PROXY_BODY_LENGTH;
    d->rest = length;
}

/* Content-Length: at most rest bytes of the input are body; the body ends at rest 0. */
static sl_int_t length_next(proxy_body_t *d, sl_buf_t *b, sl_str_t *span)
{
    size_t n = (size_t) sl_min((off_t) (b->last - b->pos), d->rest);

    span->data = b->pos;
    span->len = n;
    b->pos += n;
    d->rest -= (off_t) n;
    if (d->rest == 0) {
        return SL_DONE;
    }
    return n ? SL_OK : SL_AGAIN;
}

/* Chunked: the parser skips the framing and says how much data follows it. */
static sl_int_t chunked_next(proxy_body_t *d, sl_buf_t *b, sl_str_t *span)
{
    /* always the parser first: while a size line is cut between reads, size holds its
     * digits so far, not data to pass on; in data it returns SL_OK at once */
    sl_int_t rc = sl_http_parse_chunked(&d->chunked, b);

    span->data = b->pos;
    span->len = 0;
    if (rc == SL_DONE || rc == SL_AGAIN) {
        return rc;
    }
    if (rc != SL_OK) {
        return SL_ERROR;
    }
    span->len = (size_t) sl_min((off_t) (b->last - b->pos), d->chunked.size);
    b->pos += span->len;
    d->chunked.size -= (off_t) span->len;
    return SL_OK;
}

/* Close-delimited: every byte is body; only the close ends it (the caller sees that). */
static sl_int_t close_next(proxy_body_t *d, sl_buf_t *b, sl_str_t *span)
{
    span->data = b->pos;
    span->len = (size_t) (b->last - b->pos);
    b->pos = b->last;
    return span->len ? SL_OK : SL_AGAIN;
}

sl_int_t sl__proxy_body_next(proxy_body_t *d, sl_buf_t *b, sl_str_t *span)
{
    switch (d->framing) {
    case PROXY_BODY_CHUNKED:
        return chunked_next(d, b, span);
    case PROXY_BODY_CLOSE:
        return close_next(d, b, span);
    default:
        return length_next(d, b, span);
    }
}

off_t sl__proxy_body_left(const proxy_body_t *d)
{
    switch (d->framing) {
    case PROXY_BODY_CHUNKED:
        return sl_http_chunked_left(&d->chunked);
    case PROXY_BODY_CLOSE:
        return -1;
    default:
        return d->rest;
    }
}

/* Bytes came past the end of the body: they are dropped, and warned of in nginx's words. */
static void warn_overrun(sl_http_request_t *r, const proxy_body_t *d)
{
    sl_log_error(SL_LOG_WARN, r->connection->log, 0, "%s",
                 d->framing == PROXY_BODY_CHUNKED
                     ? "upstream sent data after final chunk"
                     : "upstream sent more data than specified in \"Content-Length\" header");
}

/*
 * The unbuffered path's adapter (u->input_filter): the next span of body in the upstream's
 * buffer, as sl__proxy_body_next() returns it.  At the end, bytes past the body are dropped
 * (b->pos moves to b->last), warned of, and keep the connection out of the pool.  u->length
 * follows the body bytes still to come (it stays -1 for a chunked body).
 */
sl_int_t sl__proxy_input_filter(sl_http_request_t *r, sl_buf_t *b, sl_str_t *out)
{
    proxy_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_proxy_module);
    sl_upstream_t *u = r->upstream;
    sl_int_t rc = sl__proxy_body_next(&ctx->body, b, out);

    if (ctx->body.framing != PROXY_BODY_CHUNKED) {
        u->length = sl__proxy_body_left(&ctx->body);
    }
    if (rc == SL_DONE && b->pos != b->last) {
        warn_overrun(r, &ctx->body);
        u->keepalive = 0;
    }
    if (rc == SL_DONE) {
        b->pos = b->last;
    }
    return rc;
}

/*
 * The event pipe's adapter (sl_pipe_input_filter_pt): one shadow buf per span of body in the
 * raw buffer, the last one marked last_shadow.  At the end of the body p->upstream_done is
 * set, and bytes past it set p->input_overrun and are warned of.  p->length is kept at the
 * fewest bytes still to come: a partly filled buffer holding that many is passed here at
 * once, not when it fills (for a chunked body a size line cut between reads would wait for
 * bytes that never come, the upstream keeping its connection).  SL_OK, or SL_ERROR on bad
 * framing (logged) or when memory runs out.
 */
sl_int_t sl__proxy_pipe_filter(sl_pipe_t *p, sl_buf_t *raw)
{
    sl_http_request_t *r = p->input_ctx;
    proxy_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_proxy_module);
    proxy_body_t *d = &ctx->body;
    sl_buf_t *last = NULL;

    if (p->upstream_done && raw->pos != raw->last) {
        /* a later raw buffer of the read that completed the body: its bytes are dropped and
         * the connection is not reused, whatever the framing (an upstream that sends past
         * its last chunk must not have its leftovers read as the next response) */
        p->input_overrun = 1;
    }
    while (raw->pos < raw->last && !p->upstream_done) {
        sl_str_t span;
        sl_int_t rc = sl__proxy_body_next(d, raw, &span);
        if (rc == SL_ERROR) {
            sl_log_error(SL_LOG_ERR, r->connection->log, 0,
                         "upstream sent invalid chunked response");
            return SL_ERROR;
        }
        if (span.len) {
            last = sl_pipe_shadow_buf(p, raw, span.data, span.data + span.len);
            if (last == NULL) {
                return SL_ERROR;
            }
        }
        if (rc == SL_DONE) {
            p->upstream_done = 1;
            if (raw->pos != raw->last) {
                p->input_overrun = 1;
                warn_overrun(r, d);
            }
        }
        if (rc != SL_OK) {
            break;
        }
    }
    if (last) {
        last->last_shadow = 1;
    }
    p->length = sl__proxy_body_left(d);
    return SL_OK;
}
