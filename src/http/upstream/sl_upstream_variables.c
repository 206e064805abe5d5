/*
 * sl_upstream_variables.c: $upstream_addr, $upstream_status, the $upstream_*_time values,
 * byte counts, $upstream_http_NAME, $upstream_cookie_NAME and $upstream_trailer_NAME.  Like
 * nginx, one value per try, joined with ", ".
 */
#include <stdio.h>

#include "sl_http_variables.h"
#include "sl_pool.h"
#include "sl_upstream.h"

typedef enum {
    V_ADDR,
    V_STATUS,
    V_CONNECT_TIME,
    V_HEADER_TIME,
    V_RESPONSE_TIME,
    V_RESPONSE_LENGTH,
    V_BYTES_RECEIVED,
    V_BYTES_SENT
} which_e;

/* One try's value as text into p (at most 32 bytes); returns the new end. */
static u_char *format_one(u_char *p, const sl_upstream_try_t *t, which_e which)
{
    sl_msec_t ms = 0;

    switch (which) {
    case V_ADDR:
        return (u_char *) mempcpy(p, t->addr->data, t->addr->len);
    case V_STATUS:
        return p
               + (t->status ? sprintf((char *) p, "%lu", (unsigned long) t->status)
                            : sprintf((char *) p, "-"));
    case V_CONNECT_TIME:
        ms = t->connect_time;
        break;
    case V_HEADER_TIME:
        ms = t->header_time;
        break;
    case V_RESPONSE_TIME:
        ms = t->response_time;
        break;
    case V_RESPONSE_LENGTH:
        return p + sprintf((char *) p, "%lld", (long long) sl_max(t->response_length, 0));
    case V_BYTES_RECEIVED:
        return p + sprintf((char *) p, "%lld", (long long) t->bytes_received);
    case V_BYTES_SENT:
        return p + sprintf((char *) p, "%lld", (long long) t->bytes_sent);
    }
    if (ms == (sl_msec_t) -1) {
        return p + sprintf((char *) p, "-");
    }
    return p
           + sprintf((char *) p, "%llu.%03llu", (unsigned long long) ms / 1000,
                     (unsigned long long) ms % 1000);
}

/* The tries of u and of the upstreams before it (internal redirects), oldest first:
 * ", " between tries, " : " between upstreams, as nginx.  p must hold tried_len(). */
static size_t tried_len(const sl_upstream_t *u, uintptr_t data)
{
    size_t len = 0;

    for (; u; u = u->prev) {
        for (sl_uint_t i = 0; i < u->ntried; i++) {
            len += (data == V_ADDR ? u->tried[i].addr->len : 32) + 3;
        }
    }
    return len;
}

static u_char *format_tried(u_char *start, u_char *p, const sl_upstream_t *u, uintptr_t data)
{
    if (u->prev) {
        p = format_tried(start, p, u->prev, data);
    }
    if (p != start && u->ntried) {
        p = (u_char *) mempcpy(p, " : ", 3);
    }
    for (sl_uint_t i = 0; i < u->ntried; i++) {
        if (i) {
            *p++ = ',';
            *p++ = ' ';
        }
        p = format_one(p, &u->tried[i], (which_e) data);
    }
    return p;
}

static sl_int_t var_tried(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    sl_upstream_t *u = r->upstream;
    size_t len = u ? tried_len(u, data) : 0;

    if (len == 0) {
        v->not_found = 1;
        return SL_OK;
    }
    u_char *p = sl_pnalloc(r->pool, len);
    if (p == NULL) {
        return SL_ERROR;
    }
    v->data = p;
    p = format_tried(p, p, u, data);
    v->len = (unsigned) (p - v->data);
    v->valid = 1;
    v->no_cacheable = 1;
    return SL_OK;
}

static sl_int_t var_upstream_header(sl_http_request_t *r, sl_http_variable_value_t *v,
                                    uintptr_t data)
{
    const sl_str_t *name = (const sl_str_t *) data;
    size_t skip = sizeof("upstream_http_") - 1;
    sl_upstream_t *u = r->upstream;

    if (u == NULL) {
        v->not_found = 1;
        return SL_OK;
    }
    return sl_http_variable_header(r, v, &u->headers_in.headers, name->data + skip,
                                   name->len - skip);
}

/*
 * The value of cookie name in one Set-Cookie line, as nginx 1.22 reads it: only the line's
 * first pair counts, the name is compared in any case, spaces around the name and after '='
 * are skipped (not tabs: "tc\t=x" sets no "tc"), and the value runs to the ';' (spaces
 * before it kept).  A pair without '=' is no value.
 */
static int set_cookie_value(const sl_str_t *line, const u_char *name, size_t len, sl_str_t *value)
{
    const u_char *p = line->data, *end = line->data + line->len;

    while (p < end && *p == ' ') {
        p++;
    }
    if ((size_t) (end - p) < len || sl_strncasecmp((u_char *) p, (u_char *) name, len) != 0) {
        return 0;
    }
    for (p += len; p < end && *p == ' '; p++) {
    }
    if (p == end || *p != '=') {
        return 0;
    }
    for (p++; p < end && *p == ' '; p++) {
    }
    const u_char *v = p;
    while (p < end && *p != ';') {
        p++;
    }
    value->data = (u_char *) v;
    value->len = (size_t) (p - v);
    return 1;
}

/* $upstream_cookie_NAME: the first Set-Cookie of the upstream's response that sets NAME. */
static sl_int_t var_upstream_cookie(sl_http_request_t *r, sl_http_variable_value_t *v,
                                    uintptr_t data)
{
    const sl_str_t *name = (const sl_str_t *) data;
    size_t skip = sizeof("upstream_cookie_") - 1;
    sl_upstream_t *u = r->upstream;

    v->not_found = 1;
    if (u == NULL) {
        return SL_OK;
    }
    SL_LIST_FOREACH(&u->headers_in.headers, part, i, sl_table_elt_t, h)
    {
        sl_str_t value;
        if (h->key.len != 10 || sl_strncasecmp(h->key.data, (u_char *) "set-cookie", 10) != 0
            || !set_cookie_value(&h->value, name->data + skip, name->len - skip, &value)) {
            continue;
        }
        v->data = value.data;
        v->len = (unsigned) value.len;
        v->valid = 1;
        v->not_found = 0;
        v->no_cacheable = 1;
        return SL_OK;
    }
    return SL_OK;
}

/*
 * $upstream_trailer_NAME: never found.  The chunked decoder drops the upstream's trailer
 * section, as nginx 1.22's proxy does (there only gRPC fills these); the variable exists so
 * that configurations naming it load and log "-" as nginx.
 */
static sl_int_t var_upstream_trailer(sl_http_request_t *r, sl_http_variable_value_t *v,
                                     uintptr_t data)
{
    (void) r;
    (void) data;
    v->not_found = 1;
    return SL_OK;
}

// clang-format off
static sl_http_variable_t upstream_vars[] = {
    { sl_string("upstream_addr"), NULL, var_tried, V_ADDR, SL_HTTP_VAR_NOCACHEABLE, 0 },
    { sl_string("upstream_status"), NULL, var_tried, V_STATUS, SL_HTTP_VAR_NOCACHEABLE, 0 },
    { sl_string("upstream_connect_time"), NULL, var_tried, V_CONNECT_TIME, SL_HTTP_VAR_NOCACHEABLE, 0 },
    { sl_string("upstream_header_time"), NULL, var_tried, V_HEADER_TIME, SL_HTTP_VAR_NOCACHEABLE, 0 },
    { sl_string("upstream_response_time"), NULL, var_tried, V_RESPONSE_TIME, SL_HTTP_VAR_NOCACHEABLE, 0 },
    { sl_string("upstream_response_length"), NULL, var_tried, V_RESPONSE_LENGTH, SL_HTTP_VAR_NOCACHEABLE, 0 },
    { sl_string("upstream_bytes_received"), NULL, var_tried, V_BYTES_RECEIVED, SL_HTTP_VAR_NOCACHEABLE, 0 },
    { sl_string("upstream_bytes_sent"), NULL, var_tried, V_BYTES_SENT, SL_HTTP_VAR_NOCACHEABLE, 0 },
    { sl_string("upstream_http_"), NULL, var_upstream_header, 0, SL_HTTP_VAR_PREFIX | SL_HTTP_VAR_NOCACHEABLE, 0 },
    { sl_string("upstream_cookie_"), NULL, var_upstream_cookie, 0, SL_HTTP_VAR_PREFIX | SL_HTTP_VAR_NOCACHEABLE, 0 },
    { sl_string("upstream_trailer_"), NULL, var_upstream_trailer, 0, SL_HTTP_VAR_PREFIX | SL_HTTP_VAR_NOCACHEABLE, 0 },
};
// clang-format on

sl_int_t sl_upstream_add_variables(sl_conf_t *cf)
{
    if (sl__upstream_cache_add_variables(cf) != SL_OK) {
        return SL_ERROR;
    }
    for (size_t i = 0; i < sl_nelems(upstream_vars); i++) {
        sl_http_variable_t *v =
            sl_http_add_variable(cf, &upstream_vars[i].name, upstream_vars[i].flags);
        if (v == NULL) {
            return SL_ERROR;
        }
        v->get_handler = upstream_vars[i].get_handler;
        v->data = upstream_vars[i].data;
    }
    return SL_OK;
}
