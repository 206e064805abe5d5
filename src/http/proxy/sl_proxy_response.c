/*
 * sl_proxy_response.c: the upstream's response header: the status line and header lines
 * parsed strictly, the framing they announce, interim and 101 responses, and the proxy's
 * rewriting of the headers passed on (proxy_redirect, proxy_cookie_*).
 */
#include "sl_proxy.h"

/* The response header read so far is not the one that counts (a retry, or an interim 1xx
 * response): what it said of framing goes with it. */
sl_int_t sl__proxy_forget_headers(sl_http_request_t *r, sl_upstream_t *u)
{
    sl_upstream_headers_in_t *in = &u->headers_in;

    in->content_length_n = -1;
    in->content_length = NULL;
    in->transfer_encoding = NULL;
    in->connection = NULL;
    in->seen = 0;
    in->chunked = 0;
    in->connection_close = 0;
    return sl_list_init(&in->headers, r->pool, 8, sizeof(sl_table_elt_t));
}

static sl_int_t invalid_header(sl_http_request_t *r, const char *why)
{
    sl_log_error(SL_LOG_ERR, r->connection->log, 0, "%s", why);
    return SL_HTTP_PARSE_INVALID_HEADER;
}

#define HOP_FRAMING                                                                                \
    (SL_UPSTREAM_H_BIT(SL_UPSTREAM_H_CONTENT_LENGTH)                                               \
     | SL_UPSTREAM_H_BIT(SL_UPSTREAM_H_TRANSFER_ENCODING))

/* The headers a response has one of (nginx 1.23 and later): a second is dropped, with a
 * warning, and the first counts. */
#define UNIQUE_KINDS                                                                               \
    (SL_UPSTREAM_H_BIT(SL_UPSTREAM_H_CONTENT_TYPE) | SL_UPSTREAM_H_BIT(SL_UPSTREAM_H_DATE)         \
     | SL_UPSTREAM_H_BIT(SL_UPSTREAM_H_ETAG) | SL_UPSTREAM_H_BIT(SL_UPSTREAM_H_SERVER)             \
     | SL_UPSTREAM_H_BIT(SL_UPSTREAM_H_LOCATION) | SL_UPSTREAM_H_BIT(SL_UPSTREAM_H_REFRESH)        \
     | SL_UPSTREAM_H_BIT(SL_UPSTREAM_H_LAST_MODIFIED) | SL_UPSTREAM_H_BIT(SL_UPSTREAM_H_EXPIRES)   \
     | SL_UPSTREAM_H_BIT(SL_UPSTREAM_H_XA_EXPIRES) | SL_UPSTREAM_H_BIT(SL_UPSTREAM_H_XA_REDIRECT)  \
     | SL_UPSTREAM_H_BIT(SL_UPSTREAM_H_XA_LIMIT_RATE))

/* A second header of a kind that comes once: the one before, for the log line. */
static const sl_table_elt_t *duplicate(sl_upstream_t *u, sl_uint_t kind)
{
    if (!(u->headers_in.seen & SL_UPSTREAM_H_BIT(kind) & (UNIQUE_KINDS | HOP_FRAMING))) {
        return NULL;
    }
    return sl_upstream_find_header(u, kind);
}

static sl_int_t duplicate_framing(sl_http_request_t *r, const sl_str_t *key, const sl_str_t *value,
                                  const sl_table_elt_t *prev)
{
    sl_log_error(SL_LOG_ERR, r->connection->log, 0,
                 "upstream sent duplicate header line: \"%.*s: %.*s\", previous value: "
                 "\"%.*s: %.*s\"",
                 SL_STR_ARG(*key), SL_STR_ARG(*value), SL_STR_ARG(prev->key),
                 SL_STR_ARG(prev->value));
    return SL_HTTP_PARSE_INVALID_HEADER;
}

/*
 * One response header line.  Framing is strict (RFC 9112 §6.3), stricter than nginx 1.22 on
 * purpose, as newer nginx: a second Content-Length, even an equal one, or a second
 * Transfer-Encoding is an invalid header (502), since a hostile upstream must not
 * desynchronise the client connection.  A second header of a kind that comes once
 * (Expires, Location, ...) is dropped with nginx's warning: the first is passed on and
 * acted upon, and $upstream_http_NAME does not see the second.
 */
static sl_int_t add_upstream_header(sl_http_request_t *r, sl_upstream_t *u, sl_http_parse_t *p)
{
    sl_str_t key = { (size_t) (p->header_name_end - p->header_name_start), p->header_name_start };
    sl_str_t value = { (size_t) (p->header_end - p->header_start), p->header_start };
    sl_uint_t kind = sl_upstream_header_kind(&key);
    const sl_table_elt_t *prev = duplicate(u, kind);

    if (prev && (SL_UPSTREAM_H_BIT(kind) & HOP_FRAMING)) {
        return duplicate_framing(r, &key, &value, prev);
    }
    if (prev) {
        sl_log_error(SL_LOG_WARN, r->connection->log, 0,
                     "upstream sent duplicate header line: \"%.*s: %.*s\", previous value: "
                     "\"%.*s: %.*s\", ignored",
                     SL_STR_ARG(key), SL_STR_ARG(value), SL_STR_ARG(prev->key),
                     SL_STR_ARG(prev->value));
        return SL_OK;
    }
    sl_table_elt_t *h = sl_list_push(&u->headers_in.headers);
    if (h == NULL) {
        return SL_ERROR;
    }
    h->key = key;
    h->value = value;
    h->hash = SL_UPSTREAM_KIND_HASH(kind);
    h->lowcase_key = NULL;
    h->next = NULL;
    u->headers_in.seen |= SL_UPSTREAM_H_BIT(kind);
    if (kind == SL_UPSTREAM_H_CONTENT_LENGTH) {
        off_t n = sl_atoof(h->value.data, h->value.len);
        if (n == SL_ERROR) {
            sl_log_error(SL_LOG_ERR, r->connection->log, 0,
                         "upstream sent invalid \"Content-Length\" header: \"%.*s: %.*s\"",
                         SL_STR_ARG(key), SL_STR_ARG(value));
            return SL_HTTP_PARSE_INVALID_HEADER;
        }
        u->headers_in.content_length = h;
        u->headers_in.content_length_n = n;
    } else if (kind == SL_UPSTREAM_H_TRANSFER_ENCODING) {
        if (!sl__proxy_header_is(&h->value, "chunked")) {
            return invalid_header(r, "upstream sent unknown \"Transfer-Encoding\"");
        }
        u->headers_in.transfer_encoding = h;
        u->headers_in.chunked = 1;
    } else if (kind == SL_UPSTREAM_H_CONNECTION && sl_str_has_casestr(&h->value, "close")) {
        /* "close" anywhere in the list ("keep-alive, close"), as nginx looks for it: a
         * connection the upstream will close must not go back to the pool */
        u->headers_in.connection_close = 1;
    }
    return SL_OK;
}

/* The header is complete: settle how the body is framed. */
static sl_int_t header_done(sl_http_request_t *r, sl_upstream_t *u)
{
    sl_upstream_headers_in_t *in = &u->headers_in;

    if (in->chunked && in->content_length) {
        return invalid_header(r, "upstream sent \"Content-Length\" and \"Transfer-Encoding\" "
                                 "headers at the same time");
    }
    proxy_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_proxy_module);
    u->keepalive = ctx->status.http_version >= SL_HTTP_VERSION_11 && !in->connection_close;
    if ((r->method == SL_HTTP_HEAD && !u->head_as_get) || in->status_n == SL_HTTP_NO_CONTENT
        || in->status_n == SL_HTTP_NOT_MODIFIED) {
        u->length = 0;
        u->upstream_done = 1;
    } else if (in->chunked) {
        u->length = -1;
    } else {
        u->length = in->content_length_n;
        u->upstream_done = u->length == 0;
    }
    if (u->upstream_done && u->buffer.pos < u->buffer.last) {
        u->keepalive = 0; /* bytes after a response without a body */
    }
    sl__proxy_body_init(&ctx->body, in->chunked, u->length);
    return SL_OK;
}

/*
 * A 101: the connections become a tunnel when the client asked for an Upgrade (the bytes
 * after the header are the new protocol's).  Without that request the 101 is relayed as
 * nginx 1.22 relays it: a final answer, header only for the client (a 1xx has no body), on
 * a client connection kept for the next request; the upstream's is not kept.
 */
static sl_int_t switching_protocols(sl_http_request_t *r, sl_upstream_t *u)
{
    if (r->headers_in.upgrade == NULL) {
        sl_int_t rc = header_done(r, u);
        u->keepalive = 0;
        return rc;
    }
    u->upgrade = 1;
    u->keepalive = 0;
    return SL_OK;
}

static sl_int_t parse_status(sl_http_request_t *r, sl_upstream_t *u, proxy_ctx_t *ctx)
{
    sl_int_t rc = sl_http_parse_status_line(&ctx->parse, &u->buffer, &ctx->status);

    if (rc == SL_AGAIN) {
        return SL_AGAIN;
    }
    if (rc != SL_OK) {
        /* nginx relays such a response as HTTP/0.9; sluice refuses it (502) */
        return invalid_header(r, "upstream sent no valid HTTP/1.0 header");
    }
    u->headers_in.status_n = ctx->status.code;
    u->headers_in.status_line.data = ctx->status.start;
    u->headers_in.status_line.len = (size_t) (ctx->status.end - ctx->status.start);
    ctx->status_done = 1;
    return SL_OK;
}

/* A header line the parser refused: logged up to the byte refused, and that byte, as
 * nginx logs it ("X-Bad\x01..."). */
static sl_int_t invalid_header_line(sl_http_request_t *r, sl_upstream_t *u, proxy_ctx_t *ctx)
{
    const u_char *bad = u->buffer.pos, *start = ctx->parse.header_name_start;

    if (start == NULL || start > bad) {
        start = bad;
    }
    sl_log_error(SL_LOG_ERR, r->connection->log, 0,
                 "upstream sent invalid header: \"%.*s\\x%02x...\"", (int) (bad - start),
                 (const char *) start, (unsigned) *bad);
    return SL_HTTP_PARSE_INVALID_HEADER;
}

sl_int_t sl__proxy_process_header(sl_http_request_t *r)
{
    sl_upstream_t *u = r->upstream;
    proxy_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_proxy_module);

    for (;;) {
        if (!ctx->status_done) {
            sl_int_t rc = parse_status(r, u, ctx);
            if (rc != SL_OK) {
                return rc;
            }
        }
        sl_int_t rc = sl_http_parse_header_line(&ctx->parse, &u->buffer, 1);
        if (rc == SL_OK) {
            rc = add_upstream_header(r, u, &ctx->parse);
            if (rc != SL_OK) {
                return rc;
            }
            continue;
        }
        if (rc == SL_AGAIN) {
            return SL_AGAIN;
        }
        if (rc != SL_HTTP_PARSE_HEADER_DONE) {
            return invalid_header_line(r, u, ctx);
        }
        /* 1xx interim responses are skipped (RFC 9110 §15.2), except 101 */
        if (u->headers_in.status_n >= 100 && u->headers_in.status_n < 200
            && u->headers_in.status_n != 101) {
            ctx->status_done = 0;
            if (sl__proxy_forget_headers(r, u) != SL_OK) {
                return SL_ERROR;
            }
            continue;
        }
        if (u->headers_in.status_n == 101) {
            return switching_protocols(r, u);
        }
        return header_done(r, u);
    }
}

sl_int_t sl__proxy_rewrite_header(sl_http_request_t *r, sl_table_elt_t *h)
{
    proxy_loc_conf_t *plcf = sl__proxy_loc_conf(r);

    return sl_proxy_rewrite_header(r, &plcf->rewrite, h);
}
