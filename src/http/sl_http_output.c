/*
 * sl_http_output.c: the filter chain heads, the chunked filter, and response header
 * helpers.
 */
#include <stdio.h>

#include "sl_http_output.h"
#include "sl_pool.h"

sl_http_output_header_filter_pt sl_http_top_header_filter;
sl_http_output_body_filter_pt sl_http_top_body_filter;

static sl_http_output_header_filter_pt next_header_filter;
static sl_http_output_body_filter_pt next_body_filter;

void sl_http_output_init(void)
{
    sl_http_top_header_filter = sl_http_header_filter;
    sl_http_top_body_filter = sl_http_write_filter;
    next_header_filter = sl_http_top_header_filter;
    sl_http_top_header_filter = sl_http_chunked_header_filter;
    next_body_filter = sl_http_top_body_filter;
    sl_http_top_body_filter = sl_http_chunked_body_filter;
}

sl_int_t sl_http_send_header(sl_http_request_t *r)
{
    if (r->header_sent) {
        sl_log_error(SL_LOG_ALERT, r->connection->log, 0, "header already sent");
        return SL_ERROR;
    }
    if (r->err_status) {
        r->headers_out.status = r->err_status;
        r->headers_out.status_line.len = 0;
    }
    return sl_http_top_header_filter(r);
}

sl_int_t sl_http_output_filter(sl_http_request_t *r, sl_chain_t *in)
{
    sl_int_t rc = sl_http_top_body_filter(r, in);

    if (rc == SL_ERROR) {
        r->connection->error = 1;
    }
    return rc;
}

sl_int_t sl_http_chunked_header_filter(sl_http_request_t *r)
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
sl_int_t sl_http_chunked_body_filter(sl_http_request_t *r, sl_chain_t *in)
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

sl_table_elt_t *sl_http_add_response_header(sl_http_request_t *r, const char *name,
                                            const u_char *value, size_t len)
{
    sl_table_elt_t *h = sl_list_push(&r->headers_out.headers);
    u_char *v = sl_pnalloc(r->pool, len);

    if (h == NULL || (len && v == NULL)) {
        return NULL;
    }
    if (len) {
        memcpy(v, value, len);
    }
    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = strlen(name);
    h->value.data = v;
    h->value.len = len;
    h->lowcase_key = NULL;
    h->next = NULL;
    return h;
}

void sl_http_clear_content_length(sl_http_request_t *r)
{
    r->headers_out.content_length_n = -1;
    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }
}

void sl_http_clear_last_modified(sl_http_request_t *r)
{
    r->headers_out.last_modified_time = -1;
    if (r->headers_out.last_modified) {
        r->headers_out.last_modified->hash = 0;
        r->headers_out.last_modified = NULL;
    }
}

void sl_http_clear_accept_ranges(sl_http_request_t *r)
{
    r->allow_ranges = 0;
    if (r->headers_out.accept_ranges) {
        r->headers_out.accept_ranges->hash = 0;
        r->headers_out.accept_ranges = NULL;
    }
}

void sl_http_clear_etag(sl_http_request_t *r)
{
    if (r->headers_out.etag) {
        r->headers_out.etag->hash = 0;
        r->headers_out.etag = NULL;
    }
}

sl_int_t sl_http_send_last(sl_http_request_t *r)
{
    sl_buf_t *b = sl_calloc_buf(r->pool);

    if (b == NULL) {
        return SL_ERROR;
    }
    b->last_buf = 1;
    sl_chain_t out = { b, NULL };
    return sl_http_output_filter(r, &out);
}

sl_int_t sl_http_send_response(sl_http_request_t *r, sl_uint_t status, sl_str_t *content_type,
                               sl_str_t *body)
{
    r->headers_out.status = status;
    if (content_type) {
        r->headers_out.content_type = *content_type;
    }
    if (status >= SL_HTTP_MOVED_PERMANENTLY && status <= SL_HTTP_PERMANENT_REDIRECT
        && status != SL_HTTP_NOT_MODIFIED && body) {
        r->headers_out.location = sl_http_add_response_header(r, "Location", body->data, body->len);
        if (r->headers_out.location == NULL) {
            return SL_HTTP_INTERNAL_SERVER_ERROR;
        }
        return (sl_int_t) status;
    }
    r->headers_out.content_length_n = body ? (off_t) body->len : 0;
    sl_int_t rc = sl_http_send_header(r);
    if (rc == SL_ERROR || rc > SL_OK || r->header_only) {
        return rc;
    }
    if (body == NULL || body->len == 0) {
        return sl_http_send_last(r);
    }
    sl_buf_t *b = sl_calloc_buf(r->pool);
    if (b == NULL) {
        return SL_ERROR;
    }
    b->memory = 1;
    b->pos = body->data;
    b->last = body->data + body->len;
    b->last_buf = 1;
    sl_chain_t out = { b, NULL };
    return sl_http_output_filter(r, &out);
}
