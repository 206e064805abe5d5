/*
 * sl_http_headers_in.c: the meaning of the request line and of the known request headers,
 * and the framing checks.
 */
#include "sl_http_headers_in.h"
#include "sl_http_server_name.h"
#include "sl_pool.h"

typedef sl_int_t (*header_handler_pt)(sl_http_request_t *r, sl_table_elt_t *h, sl_uint_t off);

typedef struct {
    sl_str_t name;
    sl_uint_t offset;
    header_handler_pt handler;
} header_t;

static sl_int_t process_header_line(sl_http_request_t *r, sl_table_elt_t *h, sl_uint_t off);
static sl_int_t process_unique_header_line(sl_http_request_t *r, sl_table_elt_t *h, sl_uint_t off);
static sl_int_t process_multi_header_lines(sl_http_request_t *r, sl_table_elt_t *h, sl_uint_t off);
static sl_int_t process_host(sl_http_request_t *r, sl_table_elt_t *h, sl_uint_t off);
/* The browser families nginx tells apart that sluice acts on: MSIE, and the old MSIE (4 to 6
 * without "SV1", Service Pack 2) that mishandles compressed responses; Opera, which says
 * "MSIE" too, is neither. */
static sl_int_t process_user_agent(sl_http_request_t *r, sl_table_elt_t *h, sl_uint_t off)
{
    const u_char *ua = h->value.data, *end = h->value.data + h->value.len;

    if (r->headers_in.user_agent) {
        return SL_OK;
    }
    r->headers_in.user_agent = h;
    const u_char *msie = memmem(ua, h->value.len, "MSIE ", 5);
    if (msie && msie + 7 < end) {
        r->headers_in.msie = 1;
        if (msie[6] == '.' && (msie[5] == '4' || msie[5] == '5')) {
            r->headers_in.msie6 = 1;
        } else if (msie[6] == '.' && msie[5] == '6') {
            r->headers_in.msie6 = memmem(msie + 8, (size_t) (end - msie - 8), "SV1", 3) == NULL;
        }
    }
    if (memmem(ua, h->value.len, "Opera", 5)) {
        r->headers_in.msie = 0;
        r->headers_in.msie6 = 0;
    }
    return SL_OK;
}

static sl_int_t process_connection(sl_http_request_t *r, sl_table_elt_t *h, sl_uint_t off);
static sl_int_t process_content_length(sl_http_request_t *r, sl_table_elt_t *h, sl_uint_t off);
static sl_int_t process_user_agent(sl_http_request_t *r, sl_table_elt_t *h, sl_uint_t off);

#define HIN(f) offsetof(sl_http_headers_in_t, f)

// clang-format off
static header_t headers_in[] = {
    { sl_string("Host"), HIN(host), process_host },
    { sl_string("Connection"), HIN(connection), process_connection },
    { sl_string("If-Modified-Since"), HIN(if_modified_since), process_unique_header_line },
    { sl_string("If-Unmodified-Since"), HIN(if_unmodified_since), process_unique_header_line },
    { sl_string("If-Match"), HIN(if_match), process_unique_header_line },
    { sl_string("If-None-Match"), HIN(if_none_match), process_unique_header_line },
    { sl_string("User-Agent"), HIN(user_agent), process_user_agent },
    { sl_string("Referer"), HIN(referer), process_header_line },
    { sl_string("Content-Length"), HIN(content_length), process_content_length },
    { sl_string("Content-Range"), HIN(content_range), process_unique_header_line },
    { sl_string("Content-Type"), HIN(content_type), process_header_line },
    { sl_string("Range"), HIN(range), process_header_line },
    { sl_string("If-Range"), HIN(if_range), process_unique_header_line },
    { sl_string("Transfer-Encoding"), HIN(transfer_encoding), process_unique_header_line },
    { sl_string("TE"), HIN(te), process_header_line },
    { sl_string("Expect"), HIN(expect), process_unique_header_line },
    { sl_string("Upgrade"), HIN(upgrade), process_header_line },
    { sl_string("Authorization"), HIN(authorization), process_unique_header_line },
    { sl_string("Keep-Alive"), HIN(keep_alive), process_header_line },
    { sl_string("X-Forwarded-For"), HIN(x_forwarded_for), process_multi_header_lines },
    { sl_string("X-Real-IP"), HIN(x_real_ip), process_header_line },
    { sl_string("Cookie"), HIN(cookie), process_multi_header_lines },
    { sl_string("Accept-Encoding"), HIN(accept_encoding), process_header_line },
    { sl_string("Via"), HIN(via), process_header_line },
};
// clang-format on

static sl_hash_t headers_in_hash;

sl_int_t sl_http_headers_in_init(sl_conf_t *cf)
{
    sl_hash_key_t keys[sl_nelems(headers_in)];

    if (headers_in_hash.nelts) {
        return SL_OK;
    }
    for (size_t i = 0; i < sl_nelems(headers_in); i++) {
        keys[i].key = headers_in[i].name;
        keys[i].value = &headers_in[i];
    }
    /* The table outlives any one cycle's pool: it is built once per process. */
    static sl_pool_t *pool;
    if (pool == NULL && (pool = sl_pool_create(4096, cf->log)) == NULL) {
        return SL_ERROR;
    }
    return sl_hash_build(&headers_in_hash, pool, keys, sl_nelems(headers_in), SL_HASH_LOWCASE,
                         NULL);
}

static sl_table_elt_t **header_slot(sl_http_request_t *r, sl_uint_t off)
{
    return (sl_table_elt_t **) ((u_char *) &r->headers_in + off);
}

static sl_int_t process_header_line(sl_http_request_t *r, sl_table_elt_t *h, sl_uint_t off)
{
    sl_table_elt_t **ph = header_slot(r, off);

    if (*ph == NULL) {
        *ph = h;
    }
    return SL_OK;
}

static void bad_header(sl_http_request_t *r, const char *fmt, sl_table_elt_t *h,
                       sl_table_elt_t *prev, sl_uint_t status)
{
    if (prev) {
        sl_log_error(SL_LOG_INFO, r->connection->log, 0,
                     "client sent duplicate header line: \"%.*s: %.*s\", previous value: "
                     "\"%.*s: %.*s\"",
                     SL_STR_ARG(h->key), SL_STR_ARG(h->value), SL_STR_ARG(prev->key),
                     SL_STR_ARG(prev->value));
    } else if (fmt) {
        sl_log_error(SL_LOG_INFO, r->connection->log, 0, fmt, SL_STR_ARG(h->key),
                     SL_STR_ARG(h->value));
    }
    /* Framing may be in doubt: close after the response. */
    r->keepalive = 0;
    r->lingering_close = 1;
    sl_http_finalize_request(r, status);
}

static sl_int_t process_unique_header_line(sl_http_request_t *r, sl_table_elt_t *h, sl_uint_t off)
{
    sl_table_elt_t **ph = header_slot(r, off);

    if (*ph == NULL) {
        *ph = h;
        return SL_OK;
    }
    bad_header(r, NULL, h, *ph, SL_HTTP_BAD_REQUEST);
    return SL_ERROR;
}

static sl_int_t process_multi_header_lines(sl_http_request_t *r, sl_table_elt_t *h, sl_uint_t off)
{
    sl_table_elt_t **ph = header_slot(r, off);

    while (*ph) {
        ph = &(*ph)->next;
    }
    *ph = h;
    return SL_OK;
}

static sl_int_t process_host(sl_http_request_t *r, sl_table_elt_t *h, sl_uint_t off)
{
    if (r->headers_in.host) {
        sl_log_error(SL_LOG_INFO, r->connection->log, 0,
                     "client sent duplicate host header: \"%.*s: %.*s\", previous value: "
                     "\"%.*s: %.*s\"",
                     SL_STR_ARG(h->key), SL_STR_ARG(h->value), SL_STR_ARG(r->headers_in.host->key),
                     SL_STR_ARG(r->headers_in.host->value));
        r->lingering_close = 1;
        sl_http_finalize_request(r, SL_HTTP_BAD_REQUEST);
        return SL_ERROR;
    }
    r->headers_in.host = h;
    sl_str_t host = h->value;
    if (sl_http_validate_host(&host, r->pool, 0) != SL_OK) {
        sl_log_error(SL_LOG_INFO, r->connection->log, 0, "client sent invalid host header");
        r->lingering_close = 1;
        sl_http_finalize_request(r, SL_HTTP_BAD_REQUEST);
        return SL_ERROR;
    }
    /* An absolute-form request line names the host; the header does not override it. */
    if (r->headers_in.server.len) {
        return SL_OK;
    }
    r->headers_in.server = host;
    return sl_http_set_virtual_server(r, &host);
}

static sl_int_t process_connection(sl_http_request_t *r, sl_table_elt_t *h, sl_uint_t off)
{
    if (sl_str_has_casestr(&h->value, "close")) {
        r->headers_in.connection_type = SL_HTTP_CONNECTION_CLOSE;
    } else if (sl_str_has_casestr(&h->value, "keep-alive")) {
        r->headers_in.connection_type = SL_HTTP_CONNECTION_KEEP_ALIVE;
    }
    return process_header_line(r, h, off);
}

/* One valid number; a repeated header with the same value is the same length (RFC 9112
 * §6.3 lets a recipient merge them); a different value is an attack or a bug: 400. */
static sl_int_t process_content_length(sl_http_request_t *r, sl_table_elt_t *h, sl_uint_t off)
{
    off_t n = sl_atoof(h->value.data, h->value.len);

    if (n == SL_ERROR) {
        bad_header(r, "client sent invalid \"%.*s\" header: \"%.*s\"", h, NULL,
                   SL_HTTP_BAD_REQUEST);
        return SL_ERROR;
    }
    if (r->headers_in.content_length) {
        if (n != r->headers_in.content_length_n) {
            bad_header(r, NULL, h, r->headers_in.content_length, SL_HTTP_BAD_REQUEST);
            return SL_ERROR;
        }
        return SL_OK;
    }
    r->headers_in.content_length = h;
    r->headers_in.content_length_n = n;
    return SL_OK;
}

sl_int_t sl_http_add_request_header(sl_http_request_t *r, sl_http_core_srv_conf_t *cscf)
{
    sl_http_parse_t *p = &r->parse;

    if (p->invalid_header && cscf->ignore_invalid_headers) {
        sl_log_error(SL_LOG_INFO, r->connection->log, 0,
                     "client sent invalid header line: \"%.*s\"",
                     (int) (p->header_end - p->header_name_start), (char *) p->header_name_start);
        return SL_OK;
    }
    sl_table_elt_t *h = sl_list_push(&r->headers_in.headers);
    if (h == NULL) {
        sl_http_close_request(r, SL_HTTP_INTERNAL_SERVER_ERROR);
        return SL_ERROR;
    }
    h->hash = p->header_hash;
    h->next = NULL;
    h->key.data = p->header_name_start;
    h->key.len = (size_t) (p->header_name_end - p->header_name_start);
    h->value.data = p->header_start;
    h->value.len = (size_t) (p->header_end - p->header_start);
    h->lowcase_key = sl_pnalloc(r->pool, h->key.len);
    if (h->lowcase_key == NULL) {
        sl_http_close_request(r, SL_HTTP_INTERNAL_SERVER_ERROR);
        return SL_ERROR;
    }
    if (h->key.len <= SL_HTTP_LC_HEADER_LEN) {
        /* the parser lowercased names this short as it scanned them */
        memcpy(h->lowcase_key, p->lowcase_header, h->key.len);
    } else {
        sl_strlow(h->lowcase_key, h->key.data, h->key.len);
    }
    header_t *hh = sl_hash_find(&headers_in_hash, h->hash, h->lowcase_key, h->key.len);
    return hh ? hh->handler(r, h, hh->offset) : SL_OK;
}

static sl_int_t check_transfer_encoding(sl_http_request_t *r)
{
    sl_table_elt_t *te = r->headers_in.transfer_encoding;

    if (r->headers_in.content_length) {
        sl_log_error(SL_LOG_INFO, r->connection->log, 0,
                     "client sent \"Content-Length\" and \"Transfer-Encoding\" headers at the "
                     "same time");
        bad_header(r, NULL, te, NULL, SL_HTTP_BAD_REQUEST);
        return SL_ERROR;
    }
    if (r->http_version < SL_HTTP_VERSION_11) {
        bad_header(r, "client sent HTTP/1.0 request with \"%.*s: %.*s\"", te, NULL,
                   SL_HTTP_BAD_REQUEST);
        return SL_ERROR;
    }
    if (te->value.len == 7 && sl_strncasecmp(te->value.data, (u_char *) "chunked", 7) == 0) {
        r->headers_in.chunked = 1;
        return SL_OK;
    }
    bad_header(r, "client sent unknown \"%.*s\": \"%.*s\"", te, NULL, SL_HTTP_NOT_IMPLEMENTED);
    return SL_ERROR;
}

sl_int_t sl_http_process_request_header(sl_http_request_t *r)
{
    /* an absolute-form target names the host too, but RFC 9112 (3.2) and nginx still want
     * the header from an HTTP/1.1 client */
    if (r->headers_in.host == NULL && r->http_version >= SL_HTTP_VERSION_11) {
        sl_log_error(SL_LOG_INFO, r->connection->log, 0,
                     "client sent HTTP/1.1 request without \"Host\" header");
        r->lingering_close = 1;
        sl_http_finalize_request(r, SL_HTTP_BAD_REQUEST);
        return SL_ERROR;
    }
    if (r->headers_in.transfer_encoding && check_transfer_encoding(r) != SL_OK) {
        return SL_ERROR;
    }
    if (r->method == SL_HTTP_TRACE) {
        sl_log_error(SL_LOG_INFO, r->connection->log, 0, "client sent TRACE method");
        sl_http_finalize_request(r, SL_HTTP_NOT_ALLOWED);
        return SL_ERROR;
    }
    if (r->headers_in.connection_type == SL_HTTP_CONNECTION_KEEP_ALIVE
        && r->headers_in.keep_alive) {
        r->headers_in.keep_alive_n =
            sl_atoof(r->headers_in.keep_alive->value.data, r->headers_in.keep_alive->value.len);
    }
    return SL_OK;
}

void sl_http_set_exten(sl_http_request_t *r)
{
    /* nginx's rule: no extension for ".htaccess", "..x" */
    u_char *ext = sl_http_uri_ext(r->uri.data, r->uri.data + r->uri.len);

    r->exten.data = ext;
    r->exten.len = ext ? (size_t) (r->uri.data + r->uri.len - ext) : 0;
}

/* Host bytes by what validation does with them; H_PLAIN needs nothing. */
enum { H_PLAIN = 0, H_DOT, H_COLON, H_OPEN, H_CLOSE, H_BAD, H_UPPER };

static const u_char host_class[256] = {
    [0x00 ... 0x20] = H_BAD, ['/'] = H_BAD,   ['\\'] = H_BAD,
    [0x7f] = H_BAD,          ['.'] = H_DOT,   [':'] = H_COLON,
    ['['] = H_OPEN,          [']'] = H_CLOSE, ['A' ... 'Z'] = H_UPPER,
};

sl_int_t sl_http_validate_host(sl_str_t *host, sl_pool_t *pool, int alloc)
{
    u_char *h = host->data;
    size_t dot_pos = host->len, host_len = host->len;
    int in_brackets = 0, upper = 0;

    /* a ':' outside brackets ends the name, and the loop: the port is not looked at */
    for (size_t i = 0; i < host_len; i++) {
        switch (host_class[h[i]]) {
        case H_PLAIN:
            continue;
        case H_DOT:
            if (dot_pos == i - 1) {
                return SL_DECLINED;
            }
            dot_pos = i;
            continue;
        case H_COLON:
            host_len = in_brackets ? host_len : i;
            continue;
        case H_OPEN:
            if (i != 0) {
                return SL_DECLINED;
            }
            in_brackets = 1;
            continue;
        case H_CLOSE:
            in_brackets = 0;
            continue;
        case H_UPPER:
            upper = 1;
            continue;
        default:
            return SL_DECLINED;
        }
    }
    /* "example.com." names the same host */
    if (host_len && dot_pos == host_len - 1) {
        host_len--;
    }
    if (host_len == 0 || in_brackets) {
        return SL_DECLINED;
    }
    host->len = host_len;
    if (upper || alloc) {
        u_char *low = sl_pnalloc(pool, host_len);
        if (low == NULL) {
            return SL_ERROR;
        }
        sl_strlow(low, h, host_len);
        host->data = low;
    }
    return SL_OK;
}

/* The decoded path, its extension, the args: what location matching and variables use. */
static sl_int_t decode_uri(sl_http_request_t *r, sl_http_core_srv_conf_t *cscf)
{
    sl_http_parse_t *p = &r->parse;
    u_char *path_end = p->path_end;

    if (p->complex_uri || p->quoted_uri) {
        u_char *dst = sl_pnalloc(r->pool, (size_t) (p->uri_end - p->path_start) + 1);
        if (dst == NULL) {
            return SL_ERROR;
        }
        if (sl_http_parse_complex_uri(p, dst, &r->uri, (int) cscf->merge_slashes) != SL_OK) {
            return SL_DECLINED;
        }
    } else {
        r->uri.data = p->path_start;
        r->uri.len = (size_t) (path_end - p->path_start);
    }
    sl_http_set_exten(r);
    if (p->args_start) {
        r->args.data = p->args_start;
        r->args.len = (size_t) (p->args_end - p->args_start);
    }
    r->plus_in_uri = p->plus_in_uri;
    r->quoted_uri = p->quoted_uri;
    r->complex_uri = p->complex_uri;
    r->valid_unparsed_uri = 1;
    return SL_OK;
}

static sl_int_t absolute_form_host(sl_http_request_t *r)
{
    sl_http_parse_t *p = &r->parse;

    r->schema.data = p->schema_start;
    r->schema.len = (size_t) (p->schema_end - p->schema_start);
    sl_str_t host = { (size_t) (p->host_end - p->host_start), p->host_start };
    if (sl_http_validate_host(&host, r->pool, 0) != SL_OK) {
        sl_log_error(SL_LOG_INFO, r->connection->log, 0,
                     "client sent invalid host in request line");
        return SL_DECLINED;
    }
    r->headers_in.server = host;
    return sl_http_set_virtual_server(r, &host);
}

sl_int_t sl_http_process_request_uri(sl_http_request_t *r)
{
    sl_http_parse_t *p = &r->parse;
    sl_http_core_srv_conf_t *cscf = sl_http_get_module_srv_conf(r, sl_http_core_module);

    r->request_line.data = p->request_start;
    r->request_line.len = (size_t) (p->request_end - p->request_start);
    r->method = p->method;
    r->method_name.data = p->method_start;
    r->method_name.len = (size_t) (p->method_end - p->method_start);
    /* the absolute form's "http://host" is not part of $request_uri (nginx) */
    if (p->host_start && p->path_start < p->host_start) {
        size_t args = p->args_start ? (size_t) (p->args_end - p->args_start) + 1 : 0;
        r->unparsed_uri.data = sl_pnalloc(r->pool, 1 + args);
        if (r->unparsed_uri.data == NULL) {
            sl_http_close_request(r, SL_HTTP_INTERNAL_SERVER_ERROR);
            return SL_ERROR;
        }
        r->unparsed_uri.data[0] = '/';
        if (args) {
            memcpy(r->unparsed_uri.data + 1, p->args_start - 1, args);
        }
        r->unparsed_uri.len = 1 + args;
    } else {
        r->unparsed_uri.data = p->path_start;
        r->unparsed_uri.len = (size_t) (p->uri_end - p->path_start);
    }
    r->http_version = p->http_version;
    if (r->http_version == SL_HTTP_VERSION_11) {
        sl_str_set(&r->http_protocol, "HTTP/1.1");
    } else {
        sl_str_set(&r->http_protocol, "HTTP/1.0");
    }
    r->request_length = r->header_in->pos - p->request_start;
    if (sl_list_init(&r->headers_in.headers, r->pool, 20, sizeof(sl_table_elt_t)) != SL_OK) {
        sl_http_close_request(r, SL_HTTP_INTERNAL_SERVER_ERROR);
        return SL_ERROR;
    }
    sl_int_t rc = decode_uri(r, cscf);
    if (rc == SL_DECLINED) {
        sl_log_error(SL_LOG_INFO, r->connection->log, 0, "client sent invalid request");
        r->lingering_close = 1;
        sl_http_finalize_request(r, SL_HTTP_BAD_REQUEST);
        return SL_ERROR;
    }
    if (rc == SL_OK && p->host_start && p->host_end) {
        rc = absolute_form_host(r);
        if (rc == SL_DECLINED) {
            sl_http_finalize_request(r, SL_HTTP_BAD_REQUEST);
            return SL_ERROR;
        }
    }
    if (rc != SL_OK) {
        sl_http_close_request(r, SL_HTTP_INTERNAL_SERVER_ERROR);
        return SL_ERROR;
    }
    return SL_OK;
}
