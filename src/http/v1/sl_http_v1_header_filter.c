/*
 * sl_http_v1_header_filter.c: HTTP/1's framing of a response header: the status line and
 * header lines, built in one buffer of the exact size and handed to the body filters, and
 * whether the body goes chunked.  A module at the bottom of the header filter chain, as
 * nginx's header filter: another protocol (HTTP/2) puts its own above it.
 */
#include <stdio.h>

#include "sl_http_output.h"
#include "sl_http_special_response.h"
#include "sl_pool.h"
#include "sl_process_cycle.h"

#define SL_SERVER_TOKEN "sluice/" SLUICE_VERSION

/* Appends "Name: value\r\n". */
static u_char *put_header(u_char *p, const char *name, size_t nlen, const u_char *v, size_t vlen)
{
    memcpy(p, name, nlen);
    p += nlen;
    *p++ = ':';
    *p++ = ' ';
    memcpy(p, v, vlen);
    p += vlen;
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

#define HDR_LEN(name, vlen) (sizeof(name) - 1 + 2 + (vlen) + 2)
#define PUT(p, name, v, vlen) put_header(p, name, sizeof(name) - 1, (const u_char *) (v), vlen)

/* What nginx decides before writing: header-only statuses, chunked, keepalive. */
static void settle_framing(sl_http_request_t *r, sl_http_core_loc_conf_t *clcf)
{
    sl_uint_t status = r->headers_out.status;

    if (r->method == SL_HTTP_HEAD) {
        r->header_only = 1;
    }
    if (status == SL_HTTP_NO_CONTENT || status == SL_HTTP_NOT_MODIFIED || status < 200) {
        r->header_only = 1;
        r->headers_out.content_length_n = -1;
        if (status == SL_HTTP_NOT_MODIFIED) {
            r->headers_out.content_type.len = 0;
        }
    }
    if (status == SL_HTTP_NO_CONTENT) {
        r->headers_out.content_type.len = 0;
    }
    /* a date of modification describes a representation: only for 200, 206 and 304 */
    if (status != SL_HTTP_OK && status != SL_HTTP_PARTIAL_CONTENT
        && status != SL_HTTP_NOT_MODIFIED) {
        r->headers_out.last_modified_time = -1;
        if (r->headers_out.last_modified) {
            r->headers_out.last_modified->hash = 0;
            r->headers_out.last_modified = NULL;
        }
    }
    if (r->keepalive && (sl_terminate || sl_exiting)) {
        r->keepalive = 0;
    }
    int trailers = r->expect_trailers && r == r->main;
    if ((r->headers_out.content_length_n == -1 || trailers) && !r->header_only
        && status != SL_HTTP_NOT_MODIFIED) {
        if (r->http_version >= SL_HTTP_VERSION_11 && clcf->chunked_transfer_encoding) {
            /* trailers need chunks: a known length gives way (as nginx) */
            r->headers_out.content_length_n = -1;
            if (r->headers_out.content_length) {
                r->headers_out.content_length->hash = 0;
                r->headers_out.content_length = NULL;
            }
            r->chunked = 1;
        } else if (r->headers_out.content_length_n == -1) {
            /* HTTP/1.0 without a length: the end of the body is the close */
            r->keepalive = 0;
        }
    }
}

static const sl_str_t *server_value(sl_http_core_loc_conf_t *clcf)
{
    static const sl_str_t full = sl_string(SL_SERVER_TOKEN), bare = sl_string("sluice");

    return clcf->server_tokens == SL_HTTP_SERVER_TOKENS_OFF ? &bare : &full;
}

/* "Location: /x" made absolute when absolute_redirect is on: scheme://host[:port]/x. */
static sl_int_t absolute_location(sl_http_request_t *r, sl_http_core_loc_conf_t *clcf,
                                  sl_str_t *out)
{
    sl_table_elt_t *loc = r->headers_out.location;
    sl_connection_t *c = r->connection;

    /* as nginx: a Location left as it is keeps its place among the other headers */
    if (!clcf->absolute_redirect || loc->value.len == 0 || loc->value.data[0] != '/') {
        return SL_OK;
    }
    sl_http_core_srv_conf_t *cscf = sl_http_get_module_srv_conf(r, sl_http_core_module);
    sl_str_t host = clcf->server_name_in_redirect ? cscf->server_name : r->headers_in.server;
    u_char addr[SL_SOCKADDR_STRLEN + 16];
    /* the address the client connected to names us when nothing else does */
    int local = (host.len == 0 || clcf->port_in_redirect) && sl_conn_local_sockaddr(c) == SL_OK;
    if (host.len == 0 && local) {
        host.len = sl_addr_ntop(&c->local_sockaddr.sa, c->local_socklen, addr, sizeof(addr), 0);
        host.data = addr;
    }
    int port = local && clcf->port_in_redirect ? (int) sl_sockaddr_port(&c->local_sockaddr.sa) : 0;
    size_t len = sizeof("https://:65535") + host.len + loc->value.len;
    u_char *p = sl_pnalloc(r->pool, len);
    if (p == NULL) {
        return SL_ERROR;
    }
    int tls = c->ssl != NULL;
    const char *scheme = tls ? "https" : "http";
    int n = port && port != (tls ? 443 : 80)
                ? snprintf((char *) p, len, "%s://%.*s:%d%.*s", scheme, SL_STR_ARG(host), port,
                           SL_STR_ARG(loc->value))
                : snprintf((char *) p, len, "%s://%.*s%.*s", scheme, SL_STR_ARG(host),
                           SL_STR_ARG(loc->value));
    out->data = p;
    out->len = (size_t) sl_min(n, (int) len - 1);
    /* $sent_http_location shows what was sent */
    loc->value = *out;
    return SL_OK;
}

typedef struct {
    u_char date[64];
    size_t date_len;
    u_char last_modified[64];
    size_t last_modified_len;
    u_char length[SL_INT64_LEN + 1];
    size_t length_len;
    u_char keepalive[64];
    size_t keepalive_len;
    sl_str_t location;
} header_values_t;

static void prepare_values(sl_http_request_t *r, sl_http_core_loc_conf_t *clcf, header_values_t *v)
{
    if (r->headers_out.date == NULL) {
        v->date_len = strlen((const char *) sl_cached_http_time());
        memcpy(v->date, sl_cached_http_time(), v->date_len);
    }
    if (r->headers_out.last_modified_time != -1 && r->headers_out.last_modified == NULL) {
        sl_http_time(r->headers_out.last_modified_time, v->last_modified, sizeof(v->last_modified));
        v->last_modified_len = strlen((char *) v->last_modified);
    }
    if (r->headers_out.content_length_n >= 0 && r->headers_out.content_length == NULL) {
        v->length_len =
            (size_t) (sl_sprint_int(v->length, r->headers_out.content_length_n) - v->length);
    }
    if (r->keepalive && clcf->keepalive_header) {
        v->keepalive_len = (size_t) snprintf((char *) v->keepalive, sizeof(v->keepalive),
                                             "timeout=%ld", (long) clcf->keepalive_header);
    }
}

/* A charset set apart from a type that carries none (an upstream's stays in its type). */
static int charset_apart(const sl_http_headers_out_t *h)
{
    return h->charset.len && h->content_type_len == h->content_type.len;
}

static size_t header_length(sl_http_request_t *r, const sl_str_t *status, header_values_t *v,
                            const sl_str_t *server)
{
    size_t len = sizeof("HTTP/1.1 ") - 1 + status->len + 2 + 2;
    sl_http_headers_out_t *h = &r->headers_out;

    len += h->server ? 0 : HDR_LEN("Server", server->len);
    len += v->date_len ? HDR_LEN("Date", v->date_len) : 0;
    if (h->content_type.len) {
        len += HDR_LEN("Content-Type", h->content_type.len);
        len += charset_apart(h) ? sizeof("; charset=") - 1 + h->charset.len : 0;
    }
    len += v->length_len ? HDR_LEN("Content-Length", v->length_len) : 0;
    len += v->last_modified_len ? HDR_LEN("Last-Modified", v->last_modified_len) : 0;
    len += v->location.data ? HDR_LEN("Location", v->location.len) : 0;
    len += r->chunked ? HDR_LEN("Transfer-Encoding", 7) : 0;
    len += HDR_LEN("Connection", 10); /* keep-alive, close or upgrade */
    len += v->keepalive_len ? HDR_LEN("Keep-Alive", v->keepalive_len) : 0;
    len += r->gzip_vary ? HDR_LEN("Vary", 15) : 0;
    SL_LIST_FOREACH(&h->headers, part, i, sl_table_elt_t, e)
    {
        if (e->hash && (e != h->location || v->location.data == NULL)) {
            len += e->key.len + 2 + e->value.len + 2;
        }
    }
    return len;
}

static u_char *write_headers(sl_http_request_t *r, u_char *p, const sl_str_t *status,
                             header_values_t *v, const sl_str_t *server)
{
    sl_http_headers_out_t *h = &r->headers_out;

    memcpy(p, "HTTP/1.1 ", 9);
    p += 9;
    memcpy(p, status->data, status->len);
    p += status->len;
    *p++ = '\r';
    *p++ = '\n';
    p = h->server ? p : PUT(p, "Server", server->data, server->len);
    p = v->date_len ? PUT(p, "Date", v->date, v->date_len) : p;
    if (h->content_type.len) {
        p = PUT(p, "Content-Type", h->content_type.data, h->content_type.len);
        if (charset_apart(h)) {
            p -= 2;
            memcpy(p, "; charset=", 10);
            memcpy(p + 10, h->charset.data, h->charset.len);
            p += 10 + h->charset.len;
            *p++ = '\r';
            *p++ = '\n';
        }
    }
    p = v->length_len ? PUT(p, "Content-Length", v->length, v->length_len) : p;
    p = v->last_modified_len ? PUT(p, "Last-Modified", v->last_modified, v->last_modified_len) : p;
    p = v->location.data ? PUT(p, "Location", v->location.data, v->location.len) : p;
    p = r->chunked ? PUT(p, "Transfer-Encoding", "chunked", 7) : p;
    if (h->status == SL_HTTP_SWITCHING_PROTOCOLS) {
        p = PUT(p, "Connection", "upgrade", 7); /* as nginx, for any 101 */
    } else {
        p = r->keepalive ? PUT(p, "Connection", "keep-alive", 10)
                         : PUT(p, "Connection", "close", 5);
    }
    p = v->keepalive_len ? PUT(p, "Keep-Alive", v->keepalive, v->keepalive_len) : p;
    /* gzip or gzip_static could have encoded it, where gzip_vary is on */
    p = r->gzip_vary ? PUT(p, "Vary", "Accept-Encoding", 15) : p;
    SL_LIST_FOREACH(&h->headers, part, i, sl_table_elt_t, e)
    {
        if (e->hash && (e != h->location || v->location.data == NULL)) {
            p = put_header(p, (const char *) e->key.data, e->key.len, e->value.data, e->value.len);
        }
    }
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

static sl_int_t header_filter(sl_http_request_t *r)
{
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);
    header_values_t v;

    if (r->header_sent) {
        return SL_OK;
    }
    r->header_sent = 1;
    settle_framing(r, clcf);
    memset(&v, 0, sizeof(v));
    prepare_values(r, clcf, &v);
    if (r->headers_out.location && absolute_location(r, clcf, &v.location) != SL_OK) {
        return SL_ERROR;
    }
    const sl_str_t *status = r->headers_out.status_line.len
                                 ? &r->headers_out.status_line
                                 : sl_http_status_line(r->headers_out.status);
    u_char code[8];
    sl_str_t unknown;
    if (status == NULL) {
        /* a code without a reason phrase of ours: "299 " as nginx writes it */
        unknown.len = (size_t) snprintf((char *) code, sizeof(code), "%03u ",
                                        (unsigned) (r->headers_out.status % 1000));
        unknown.data = code;
        status = &unknown;
    }
    const sl_str_t *server = server_value(clcf);
    size_t len = header_length(r, status, &v, server);
    sl_buf_t *b = sl_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return SL_ERROR;
    }
    b->last = write_headers(r, b->last, status, &v, server);
    r->header_size = (size_t) (b->last - b->pos);
    if (r->header_only) {
        b->last_buf = 1;
    }
    sl_chain_t out = { b, NULL };
    return sl_http_write_filter(r, &out);
}

/* First of the header filters to be installed (sl_modules.c), so it runs last. */
static sl_int_t postconfiguration(sl_conf_t *cf)
{
    sl_http_top_header_filter = header_filter;
    return SL_OK;
}

static sl_http_module_t v1_header_filter_ctx = {
    NULL, postconfiguration, NULL, NULL, NULL, NULL, NULL, NULL,
};

sl_module_t sl_http_v1_header_filter_module = {
    "http_header_filter", 0, 0, SL_HTTP_MODULE, &v1_header_filter_ctx, NULL, NULL, NULL, NULL,
};
