/*
 * sl_proxy_request.c: building the request sent upstream: method, uri, header lines and
 * body, rewound for a retry, and the request body streamed as it comes
 * (proxy_request_buffering off).
 */
#include "sl_pool.h"
#include "sl_proxy.h"

/* prefix, then r->uri from byte skip (escaped when it was decoded or rewritten, as nginx
 * does), then "?args". */
static sl_int_t uri_with_args(sl_http_request_t *r, const sl_str_t *prefix, size_t skip,
                              sl_str_t *uri)
{
    const u_char *rest = r->uri.data + skip;
    size_t n = r->uri.len - skip;
    int escape = r->quoted_uri || r->internal;
    size_t len = prefix->len + (escape ? sl_escape_uri_len(rest, n) : n)
                 + (r->args.len ? r->args.len + 1 : 0);

    uri->data = sl_pnalloc(r->pool, len);
    if (uri->data == NULL) {
        return SL_ERROR;
    }
    u_char *p = mempcpy(uri->data, prefix->data, prefix->len);
    p = escape ? sl_escape_uri(p, rest, n) : mempcpy(p, rest, n);
    if (r->args.len) {
        *p++ = '?';
        p = mempcpy(p, r->args.data, r->args.len);
    }
    uri->len = (size_t) (p - uri->data);
    return SL_OK;
}

/*
 * The uri sent upstream, as nginx 1.22: a uri part evaluated from variables goes as it is
 * (no args added); without a uri part the client's request-target goes as it came, or, once
 * a rewrite changed the uri, the new uri and args; a static uri part replaces the
 * location's prefix, except after "rewrite ... break" in this location, which sends the
 * whole new uri.
 */
static sl_int_t request_uri(sl_http_request_t *r, proxy_loc_conf_t *plcf, const proxy_target_t *t,
                            sl_str_t *uri)
{
    static const sl_str_t none = sl_string("");

    if (plcf->url && t->uri.len) {
        *uri = t->uri;
        return SL_OK;
    }
    if (t->uri.len == 0 && r->valid_unparsed_uri && r == r->main) {
        *uri = r->unparsed_uri;
        return SL_OK;
    }
    if (t->uri.len == 0 || !r->valid_location) {
        return uri_with_args(r, &none, 0, uri);
    }
    return uri_with_args(r, &t->uri, sl_min(plcf->location.len, r->uri.len), uri);
}

static int names_token(const sl_table_elt_t *c, const sl_str_t *name)
{
    for (size_t i = 0; i + name->len <= c->value.len; i++) {
        if (sl_strncasecmp(c->value.data + i, name->data, name->len) == 0
            && (i == 0 || c->value.data[i - 1] == ',' || c->value.data[i - 1] == ' ')
            && (i + name->len == c->value.len || c->value.data[i + name->len] == ','
                || c->value.data[i + name->len] == ' ')) {
            return 1;
        }
    }
    return 0;
}

/* A client header's name is s, a lowercase literal (its lowcase_key is always set). */
static int client_header_is_n(const sl_table_elt_t *h, const char *s, size_t n)
{
    return h->key.len == n && memcmp(h->lowcase_key, s, n) == 0;
}

#define client_header_is(h, s) client_header_is_n(h, s, sizeof(s) - 1)

/* Named in any of the client's Connection headers: hop-by-hop, never forwarded. */
static int in_connection_header(sl_http_request_t *r, const sl_str_t *name)
{
    if (r->headers_in.connection == NULL || name->len == 0) {
        return 0;
    }
    SL_LIST_FOREACH(&r->headers_in.headers, part, i, sl_table_elt_t, h)
    {
        if (client_header_is(h, "connection") && names_token(h, name)) {
            return 1;
        }
    }
    return 0;
}

/* The client's headers sluice never forwards: hop-by-hop ones, the framing it writes
 * itself, Host (its own), Expect (answered here).  The length picks the candidates. */
static int own_or_hop_by_hop(const sl_table_elt_t *h)
{
    switch (h->key.len) {
    case 2:
        return client_header_is(h, "te");
    case 4:
        return client_header_is(h, "host");
    case 6:
        return client_header_is(h, "expect");
    case 7:
        return client_header_is(h, "trailer") || client_header_is(h, "upgrade");
    case 10:
        return client_header_is(h, "connection") || client_header_is(h, "keep-alive");
    case 14:
        return client_header_is(h, "content-length");
    case 16:
        return client_header_is(h, "proxy-connection");
    case 17:
        return client_header_is(h, "transfer-encoding");
    }
    return 0;
}

/* The request headers a response to be cached must not depend on (nginx's cache header
 * set): conditionals and ranges, which would make the upstream answer for this client
 * only. */
static int cache_dependent(const sl_table_elt_t *h)
{
    switch (h->key.len) {
    case 5:
        return client_header_is(h, "range");
    case 8:
        return client_header_is(h, "if-match") || client_header_is(h, "if-range");
    case 13:
        return client_header_is(h, "if-none-match");
    case 17:
        return client_header_is(h, "if-modified-since");
    case 19:
        return client_header_is(h, "if-unmodified-since");
    }
    return 0;
}

static int client_header_passes(sl_http_request_t *r, proxy_loc_conf_t *plcf,
                                const sl_table_elt_t *h)
{
    if (own_or_hop_by_hop(h)) {
        return 0;
    }
    if (((sl_upstream_t *) r->upstream)->cacheable && cache_dependent(h)) {
        return 0;
    }
    if (in_connection_header(r, &h->key)) {
        return 0;
    }
    if (plcf->set_headers) {
        proxy_header_t *s = plcf->set_headers->elts;
        for (sl_uint_t i = 0; i < plcf->set_headers->nelts; i++) {
            if (s[i].name.len == h->key.len
                && memcmp(s[i].lc_name, h->lowcase_key, h->key.len) == 0) {
                return 0;
            }
        }
    }
    return 1;
}

typedef struct {
    sl_str_t name;
    sl_str_t value;
} line_t;

/* The header lines sluice itself sends: Host and Connection unless proxy_set_header names
 * them, then proxy_set_header's (an empty value sends nothing). */
static sl_int_t own_lines(sl_http_request_t *r, proxy_loc_conf_t *plcf, sl_array_t *lines)
{
    proxy_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_proxy_module);
    int host_set = 0, conn_set = 0;
    proxy_header_t *s = plcf->set_headers ? plcf->set_headers->elts : NULL;
    sl_uint_t n = plcf->set_headers ? plcf->set_headers->nelts : 0;

    for (sl_uint_t i = 0; i < n; i++) {
        line_t *l = sl_array_push(lines);
        if (l == NULL || sl_http_complex_value(r, &s[i].value, &l->value) != SL_OK) {
            return SL_ERROR;
        }
        l->name = s[i].name;
        host_set |= s[i].is_host;
        conn_set |= s[i].is_connection;
    }
    line_t *l;
    sl_str_t ims, inm;
    if (sl__upstream_cache_conditionals(r, r->upstream, &ims, &inm)) {
        /* proxy_cache_revalidate: the stored response's validators */
        if (ims.len && (l = sl_array_push(lines)) != NULL) {
            sl_str_set(&l->name, "If-Modified-Since");
            l->value = ims;
        }
        if (inm.len && (l = sl_array_push(lines)) != NULL) {
            sl_str_set(&l->name, "If-None-Match");
            l->value = inm;
        }
    }
    if (!host_set && (l = sl_array_push(lines)) != NULL) {
        sl_str_set(&l->name, "Host");
        l->value = ctx->target->host_header;
    }
    if (!conn_set && (l = sl_array_push(lines)) != NULL) {
        sl_str_set(&l->name, "Connection");
        sl_str_set(&l->value, "close");
    }
    return SL_OK;
}

static size_t lines_size(sl_http_request_t *r, proxy_loc_conf_t *plcf, sl_array_t *lines)
{
    size_t len = 0;
    line_t *l = lines->elts;

    for (sl_uint_t i = 0; i < lines->nelts; i++) {
        len += l[i].value.len ? l[i].name.len + 2 + l[i].value.len + 2 : 0;
    }
    if (plcf->upstream.pass_request_headers) {
        SL_LIST_FOREACH(&r->headers_in.headers, part, i, sl_table_elt_t, h)
        {
            if (client_header_passes(r, plcf, h)) {
                len += h->key.len + 2 + h->value.len + 2;
            }
        }
    }
    return len;
}

static u_char *put_line(u_char *p, const sl_str_t *name, const sl_str_t *value)
{
    p = mempcpy(p, name->data, name->len);
    *p++ = ':';
    *p++ = ' ';
    p = mempcpy(p, value->data, value->len);
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

/* A one-buf chain over text (proxy_set_body). */
static sl_chain_t *body_chain(sl_http_request_t *r, sl_str_t *text)
{
    sl_chain_t *cl = sl_alloc_chain_link(r->pool);
    sl_buf_t *b = sl_calloc_buf(r->pool);

    if (cl == NULL || b == NULL) {
        return NULL;
    }
    b->memory = 1;
    b->start = text->data;
    b->pos = text->data;
    b->last = text->data + text->len;
    b->last_buf = 1;
    cl->buf = b;
    cl->next = NULL;
    return cl;
}

/* The whole read body, even when an earlier upstream was sent it (an X-Accel-Redirect to a
 * proxied location sends it again, as nginx 1.22 does, with the method made GET). */
static off_t rewound_size(sl_chain_t *body)
{
    for (sl_chain_t *cl = body; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->start ? cl->buf->start : cl->buf->pos;
        cl->buf->file_pos = 0;
    }
    return sl_chain_size(body);
}

/* Links copies of the body's bufs after *ll: sending moves the copies' windows, so the
 * request body itself stays whole for $request_body, a retry and a later proxy_pass. */
static sl_int_t append_body_copy(sl_pool_t *pool, sl_chain_t **ll, sl_chain_t *body)
{
    for (sl_chain_t *in = body; in; in = in->next) {
        sl_chain_t *cl = sl_alloc_chain_link(pool);
        sl_buf_t *b = sl_calloc_buf(pool);
        if (cl == NULL || b == NULL) {
            return SL_ERROR;
        }
        *b = *in->buf;
        cl->buf = b;
        cl->next = NULL;
        *ll = cl;
        ll = &cl->next;
    }
    return SL_OK;
}

sl_int_t sl__proxy_create_request(sl_http_request_t *r)
{
    proxy_loc_conf_t *plcf = sl__proxy_loc_conf(r);
    sl_upstream_t *u = r->upstream;
    sl_str_t uri;
    sl_array_t *lines = sl_array_create(r->pool, 8, sizeof(line_t));
    sl_chain_t *body = u->conf->pass_request_body && r->request_body ? r->request_body->bufs : NULL;
    off_t body_len = body ? rewound_size(body) : 0;
    char cl[SL_INT64_LEN + 1];
    sl_str_t cl_name = sl_string("Content-Length"), cl_value = { 0, (u_char *) cl };

    sl_str_t method = r->method_name, set_body = sl_null_string;
    if (u->head_as_get) {
        sl_str_set(&method, "GET"); /* proxy_cache_convert_head */
    }
    proxy_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_proxy_module);
    if (lines == NULL || request_uri(r, plcf, ctx->target, &uri) != SL_OK
        || own_lines(r, plcf, lines) != SL_OK
        || (plcf->method && sl_http_complex_value(r, plcf->method, &method) != SL_OK)
        || (plcf->body && sl_http_complex_value(r, plcf->body, &set_body) != SL_OK)) {
        return SL_ERROR;
    }
    if (plcf->body) {
        /* proxy_set_body replaces whatever the client sent */
        body = body_chain(r, &set_body);
        body_len = (off_t) set_body.len;
        if (body == NULL) {
            return SL_ERROR;
        }
    }
    u->uri = uri;
    sl_str_t te_name = sl_string("Transfer-Encoding"), te_value = sl_string("chunked");
    if (u->body_streaming) {
        body = NULL;
        if (!r->headers_in.chunked) {
            cl_value.len = (size_t) (sl_sprint_int(cl_value.data, r->headers_in.content_length_n)
                                     - cl_value.data);
        }
    }
    if (body) {
        cl_value.len = (size_t) (sl_sprint_int(cl_value.data, body_len) - cl_value.data);
    }
    size_t len = method.len + 1 + uri.len + sizeof(" HTTP/1.x\r\n") - 1 + lines_size(r, plcf, lines)
                 + (body || u->body_streaming ? cl_name.len + 4 + cl_value.len : 0)
                 + (u->body_chunked ? te_name.len + 4 + te_value.len : 0) + 2;
    sl_buf_t *b = sl_create_temp_buf(r->pool, len);
    sl_chain_t *cl0 = sl_alloc_chain_link(r->pool);
    if (b == NULL || cl0 == NULL) {
        return SL_ERROR;
    }
    u_char *p = mempcpy(b->last, method.data, method.len);
    *p++ = ' ';
    p = mempcpy(p, uri.data, uri.len);
    p = mempcpy(p, plcf->http_version == SL_HTTP_VERSION_11 ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n",
                11);
    line_t *l = lines->elts;
    for (sl_uint_t i = 0; i < lines->nelts; i++) {
        p = l[i].value.len ? put_line(p, &l[i].name, &l[i].value) : p;
    }
    if (body || (u->body_streaming && !u->body_chunked)) {
        p = put_line(p, &cl_name, &cl_value);
    }
    if (u->body_chunked) {
        p = put_line(p, &te_name, &te_value);
    }
    if (plcf->upstream.pass_request_headers) {
        SL_LIST_FOREACH(&r->headers_in.headers, part, i, sl_table_elt_t, h)
        {
            p = client_header_passes(r, plcf, h) ? put_line(p, &h->key, &h->value) : p;
        }
    }
    *p++ = '\r';
    *p++ = '\n';
    b->last = p;
    cl0->buf = b;
    cl0->next = NULL;
    if (body && append_body_copy(r->pool, &cl0->next, body) != SL_OK) {
        return SL_ERROR;
    }
    u->request_bufs = cl0;
    return SL_OK;
}

/* A retry sends the same bytes again: rewind every buf of the request. */
sl_int_t sl__proxy_reinit_request(sl_http_request_t *r)
{
    sl_upstream_t *u = r->upstream;
    proxy_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_proxy_module);

    for (sl_chain_t *cl = u->request_bufs; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->start ? cl->buf->start : cl->buf->pos;
        cl->buf->file_pos = 0;
    }
    /* the parsers start again; the target stays */
    proxy_target_t *target = ctx->target;
    memset(ctx, 0, sizeof(*ctx));
    ctx->target = target;
    ctx->parse.plain_names = 1;
    return sl__proxy_forget_headers(r, u);
}

void sl__proxy_body_ready(sl_http_request_t *r)
{
    sl_upstream_t *u = r->upstream;

    /* nginx's rule: a body that was all there at once goes as if buffered (Content-Length
     * framing, and another server may be tried); otherwise it streams as it comes */
    if (r->request_body_no_buffering) {
        u->body_streaming = 1;
        u->body_chunked = r->headers_in.chunked;
    }
    sl_upstream_init(r);
}
