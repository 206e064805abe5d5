/*
 * sl_http_output.c: the filter chain heads, the write filter at the bottom of the body
 * chain, and response header helpers.  The protocol's framing (HTTP/1: src/http/v1) is
 * a module's, installed above the write filter.
 */
#include <stdio.h>

#include "sl_http_output.h"
#include "sl_pool.h"

sl_http_output_header_filter_pt sl_http_top_header_filter;
sl_http_output_body_filter_pt sl_http_top_body_filter;

void sl_http_output_init(void)
{
    sl_http_top_header_filter = NULL;
    sl_http_top_body_filter = sl_http_write_filter;
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

sl_table_elt_t *sl_http_set_location(sl_http_request_t *r, const u_char *value, size_t len)
{
    if (r->headers_out.location) {
        /* hash 0: the header is deleted */
        r->headers_out.location->hash = 0;
    }
    r->headers_out.location = sl_http_add_response_header(r, "Location", value, len);
    return r->headers_out.location;
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

void sl_http_weak_etag(sl_http_request_t *r)
{
    sl_table_elt_t *etag = r->headers_out.etag;

    if (etag == NULL
        || (etag->value.len > 2 && etag->value.data[0] == 'W' && etag->value.data[1] == '/')) {
        return;
    }
    u_char *p = etag->value.len && etag->value.data[0] == '"'
                    ? sl_pnalloc(r->pool, etag->value.len + 2)
                    : NULL;
    if (p == NULL) {
        /* malformed, or no memory: no validator is better than a wrong strong one */
        sl_http_clear_etag(r);
        return;
    }
    p[0] = 'W';
    p[1] = '/';
    memcpy(p + 2, etag->value.data, etag->value.len);
    etag->value.data = p;
    etag->value.len += 2;
}

sl_int_t sl_http_send_last(sl_http_request_t *r)
{
    sl_buf_t *b = sl_calloc_buf(r->pool);

    if (b == NULL) {
        return SL_ERROR;
    }
    sl_http_mark_last(r, b);
    sl_chain_t out = { b, NULL };
    return sl_http_output_filter(r, &out);
}

void sl_http_set_content_type(sl_http_request_t *r, const sl_str_t *type)
{
    r->headers_out.content_type = *type;
    r->headers_out.content_type_len = type->len;
}

void sl_http_set_content_type_with_charset(sl_http_request_t *r, const sl_str_t *value)
{
    sl_http_headers_out_t *h = &r->headers_out;
    u_char *p = value->data, *end = value->data + value->len;

    sl_http_set_content_type(r, value);
    while ((p = memchr(p, ';', (size_t) (end - p))) != NULL) {
        u_char *semicolon = p++;
        while (p < end && *p == ' ') {
            p++;
        }
        if (end - p < 8 || sl_strncasecmp(p, (u_char *) "charset=", 8) != 0) {
            continue;
        }
        p += 8;
        h->content_type_len = (size_t) (semicolon - value->data);
        p += p < end && *p == '"';
        end -= end > p && end[-1] == '"';
        h->charset.data = p;
        h->charset.len = (size_t) (end - p);
        return;
    }
}

sl_int_t sl_http_send_response(sl_http_request_t *r, sl_uint_t status, sl_str_t *content_type,
                               sl_str_t *body)
{
    r->headers_out.status = status;
    if (content_type && content_type != &r->headers_out.content_type) {
        sl_http_set_content_type(r, content_type);
    }
    if (status >= SL_HTTP_MOVED_PERMANENTLY && status <= SL_HTTP_PERMANENT_REDIRECT
        && status != SL_HTTP_NOT_MODIFIED && body) {
        if (sl_http_set_location(r, body->data, body->len) == NULL) {
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
    sl_http_mark_last(r, b);
    sl_chain_t out = { b, NULL };
    return sl_http_output_filter(r, &out);
}
