/*
 * sl_proxy_body.c: the response body decoders (Content-Length, chunked, close-delimited),
 * for the unbuffered path and for the event pipe.
 */
#include "sl_proxy.h"

static sl_int_t length_filter(sl_http_request_t *r, sl_buf_t *b, sl_str_t *out)
{
    sl_upstream_t *u = r->upstream;

    if (u->length == -1) {
        out->data = b->pos;
        out->len = (size_t) (b->last - b->pos);
        b->pos = b->last;
        return SL_OK;
    }
    if (b->last - b->pos > u->length) {
        sl_log_error(SL_LOG_WARN, r->connection->log, 0,
                     "upstream sent more data than specified in \"Content-Length\" header");
    }
    size_t n = (size_t) sl_min((off_t) (b->last - b->pos), u->length);
    out->data = b->pos;
    out->len = n;
    b->pos += n;
    u->length -= (off_t) n;
    if (u->length == 0) {
        /* bytes beyond the declared length are never forwarded (nor is the connection
         * reused) */
        u->keepalive = u->keepalive && b->pos == b->last;
        b->pos = b->last;
        return SL_DONE;
    }
    return SL_OK;
}

static sl_int_t chunked_filter(sl_http_request_t *r, sl_buf_t *b, sl_str_t *out)
{
    proxy_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_proxy_module);

    /* always the parser first: while a size line is cut between reads, size holds its
     * digits so far, not data to pass on; in data it returns SL_OK at once */
    sl_int_t rc = sl_http_parse_chunked(&ctx->chunked, b);
    if (rc == SL_DONE) {
        sl_upstream_t *u = r->upstream;
        if (b->pos != b->last) {
            sl_log_error(SL_LOG_WARN, r->connection->log, 0,
                         "upstream sent data after final chunk");
            u->keepalive = 0;
        }
        b->pos = b->last;
        return SL_DONE;
    }
    if (rc == SL_AGAIN) {
        return SL_AGAIN;
    }
    if (rc != SL_OK) {
        return SL_ERROR;
    }
    size_t n = (size_t) sl_min((off_t) (b->last - b->pos), ctx->chunked.size);
    out->data = b->pos;
    out->len = n;
    b->pos += n;
    ctx->chunked.size -= (off_t) n;
    return SL_OK;
}

sl_int_t sl__proxy_input_filter(sl_http_request_t *r, sl_buf_t *b, sl_str_t *out)
{
    sl_upstream_t *u = r->upstream;

    return u->headers_in.chunked ? chunked_filter(r, b, out) : length_filter(r, b, out);
}

/* The pipe's chunked decoder: one shadow buf per data span of the raw buffer. */
static sl_int_t chunked_pipe_filter(sl_pipe_t *p, sl_buf_t *raw)
{
    sl_http_request_t *r = p->input_ctx;
    proxy_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_proxy_module);
    sl_buf_t *last = NULL;

    while (raw->pos < raw->last && !p->upstream_done) {
        /* the parser first, always (see chunked_filter) */
        sl_int_t rc = sl_http_parse_chunked(&ctx->chunked, raw);
        if (rc == SL_DONE) {
            p->upstream_done = 1;
            p->input_overrun = raw->pos < raw->last;
            if (p->input_overrun) {
                sl_log_error(SL_LOG_WARN, r->connection->log, 0,
                             "upstream sent data after final chunk");
            }
            break;
        }
        if (rc == SL_AGAIN) {
            break;
        }
        if (rc != SL_OK) {
            sl_log_error(SL_LOG_ERR, r->connection->log, 0,
                         "upstream sent invalid chunked response");
            return SL_ERROR;
        }
        size_t n = (size_t) sl_min((off_t) (raw->last - raw->pos), ctx->chunked.size);
        if (n) {
            last = sl_pipe_shadow_buf(p, raw, raw->pos, raw->pos + n);
            if (last == NULL) {
                return SL_ERROR;
            }
        }
        raw->pos += n;
        ctx->chunked.size -= (off_t) n;
    }
    if (last) {
        last->last_shadow = 1;
    }
    /* the fewest bytes still to come: a partly filled buffer holding that many is passed
     * here at once, not when it fills (a size line cut between reads would wait for bytes
     * that never come, the upstream keeping its connection) */
    p->length = sl_http_chunked_left(&ctx->chunked);
    return SL_OK;
}

sl_int_t sl__proxy_pipe_filter(sl_pipe_t *p, sl_buf_t *raw)
{
    sl_http_request_t *r = p->input_ctx;
    sl_upstream_t *u = r->upstream;

    return u->headers_in.chunked ? chunked_pipe_filter(p, raw) : sl_pipe_copy_input_filter(p, raw);
}
