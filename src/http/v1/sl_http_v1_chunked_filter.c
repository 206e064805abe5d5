/*
 * sl_http_v1_chunked_filter.c: HTTP/1's chunked transfer coding of a response body whose
 * length is not known up front (the header filter decides, r->chunked), with the trailers
 * of add_trailer in the last chunk.  A module just above the write filter.
 */
#include "sl_http_output.h"
#include "sl_pool.h"

static sl_http_output_header_filter_pt next_header_filter;
static sl_http_output_body_filter_pt next_body_filter;

static sl_int_t chunked_header_filter(sl_http_request_t *r)
{
    /* the decision is the header filter's (it knows the version and the length) */
    return next_header_filter(r);
}

/* The body's end with add_trailer's trailers: ["\r\n"] "0\r\n" "Name: value\r\n"... "\r\n",
 * into t (pool memory).  SL_OK or SL_ERROR. */
static sl_int_t last_chunk(sl_http_request_t *r, int after_data, sl_buf_t *t)
{
    size_t len = sizeof("\r\n0\r\n\r\n") - 1;

    SL_LIST_FOREACH(&r->headers_out.trailers, part, i, sl_table_elt_t, h)
    {
        len += h->hash ? h->key.len + sizeof(": \r\n") - 1 + h->value.len : 0;
    }
    u_char *p = sl_pnalloc(r->pool, len);
    if (p == NULL) {
        return SL_ERROR;
    }
    t->pos = p;
    p = (u_char *) stpcpy((char *) p, after_data ? "\r\n0\r\n" : "0\r\n");
    SL_LIST_FOREACH(&r->headers_out.trailers, part, i, sl_table_elt_t, h)
    {
        if (h->hash) {
            p = (u_char *) mempcpy(p, h->key.data, h->key.len);
            p = (u_char *) stpcpy((char *) p, ": ");
            p = (u_char *) mempcpy(p, h->value.data, h->value.len);
            p = (u_char *) stpcpy((char *) p, "\r\n");
        }
    }
    p = (u_char *) stpcpy((char *) p, "\r\n");
    t->last = p;
    return SL_OK;
}

/* Frames each piece as a chunk: "size\r\n" data "\r\n", and "0\r\n\r\n" at the end. */
static sl_int_t chunked_body_filter(sl_http_request_t *r, sl_chain_t *in)
{
    if (!r->chunked || in == NULL || r->header_only) {
        return next_body_filter(r, in);
    }
    sl_chain_t *out = NULL, **ll = &out;
    off_t size = 0;
    int last = 0;
    for (sl_chain_t *cl = in; cl; cl = cl->next) {
        size += sl_buf_special(cl->buf) ? 0 : sl_buf_size(cl->buf);
        last |= cl->buf->last_buf;
    }
    if (size) {
        sl_buf_t *h = sl_create_temp_buf(r->pool, sizeof("ffffffffffffffff\r\n"));
        sl_chain_t *hl = sl_alloc_chain_link(r->pool);
        if (h == NULL || hl == NULL) {
            return SL_ERROR;
        }
        h->last = sl_sprint_hex(h->last, (uint64_t) size);
        *h->last++ = '\r';
        *h->last++ = '\n';
        hl->buf = h;
        hl->next = NULL;
        *ll = hl;
        ll = &hl->next;
    }
    for (sl_chain_t *cl = in; cl; cl = cl->next) {
        sl_chain_t *c2 = sl_alloc_chain_link(r->pool);
        if (c2 == NULL) {
            return SL_ERROR;
        }
        c2->buf = cl->buf;
        c2->next = NULL;
        *ll = c2;
        ll = &c2->next;
        if (cl->buf->last_buf) {
            /* the last marker goes after the terminating chunk */
            c2->buf = sl_calloc_buf(r->pool);
            if (c2->buf == NULL) {
                return SL_ERROR;
            }
            *c2->buf = *cl->buf;
            c2->buf->last_buf = 0;
        }
    }
    static u_char crlf[] = "\r\n", tail_last[] = "\r\n0\r\n\r\n", tail_only[] = "0\r\n\r\n";
    if (size || last) {
        sl_buf_t *t = sl_calloc_buf(r->pool);
        sl_chain_t *tl = sl_alloc_chain_link(r->pool);
        if (t == NULL || tl == NULL) {
            return SL_ERROR;
        }
        t->memory = 1;
        t->pos = size ? (last ? tail_last : crlf) : tail_only;
        t->last = t->pos + (size ? (last ? 7 : 2) : 5);
        if (last && r->headers_out.trailers.part.nelts && last_chunk(r, size != 0, t) != SL_OK) {
            return SL_ERROR;
        }
        t->last_buf = last;
        tl->buf = t;
        tl->next = NULL;
        *ll = tl;
    }
    return next_body_filter(r, out);
}

/* Installed right after the header filter (sl_modules.c): it runs just before it. */
static sl_int_t postconfiguration(sl_conf_t *cf)
{
    next_header_filter = sl_http_top_header_filter;
    sl_http_top_header_filter = chunked_header_filter;
    next_body_filter = sl_http_top_body_filter;
    sl_http_top_body_filter = chunked_body_filter;
    return SL_OK;
}

static sl_http_module_t v1_chunked_filter_ctx = {
    NULL, postconfiguration, NULL, NULL, NULL, NULL, NULL, NULL,
};

sl_module_t sl_http_v1_chunked_filter_module = {
    "http_chunked_filter", 0, 0, SL_HTTP_MODULE, &v1_chunked_filter_ctx, NULL, NULL, NULL, NULL,
};
