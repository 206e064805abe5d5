/*
 * sl_http_variables.c: the variable registry, the built-in variables and regex captures.
 *
 * At configuration time modules declare variables by name (sl_http_add_variable) and
 * directives ask for an index by name (sl_http_get_variable_index).  When the http block
 * ends every indexed name is bound to a getter: a declared variable by exact name, else
 * the longest prefix variable ("http_", "arg_", ...), whose getter then receives the full
 * name as its data.  Names are case-insensitive and kept lowercase, as nginx keeps them.
 *
 * A request caches each value in r->variables[index]; a getter points into request memory
 * where it can and allocates from r->pool otherwise.  An absent value is "not found" (the
 * access log prints "-" for it), which is not the same as an empty one.
 */
#include <stdio.h>
#include <sys/random.h>

#include "sl_http_variables.h"
#include "sl_pool.h"
#include "sl_time.h"

#define REQ(f) offsetof(sl_http_request_t, f)
#define HIN(f) offsetof(sl_http_request_t, headers_in.f)
#define NOCACHE SL_HTTP_VAR_NOCACHEABLE
#define CHANGE SL_HTTP_VAR_CHANGEABLE

static const sl_str_t text_http = sl_string("http");
static const sl_str_t text_empty = sl_string("");
static const sl_str_t text_version = sl_string(SL_NGINX_VERSION);

/* Evaluation depth, so a variable defined through itself (map, set) fails instead of
 * recursing without end. */
#define MAX_DEPTH 100
static sl_uint_t depth;

/* Capture pairs the largest regex compiled so far needs: r->captures are sized to it. */
static sl_uint_t max_capture_pairs = 10;

/* ---- values ---- */

static sl_int_t value_set(sl_http_variable_value_t *v, const u_char *data, size_t len)
{
    v->len = len;
    v->data = (u_char *) data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->escape = 0;
    return SL_OK;
}

static sl_int_t value_not_found(sl_http_variable_value_t *v)
{
    v->len = 0;
    v->data = NULL;
    v->valid = 0;
    v->not_found = 1;
    return SL_OK;
}

static u_char *put_uint(u_char *p, uint64_t n)
{
    u_char tmp[SL_INT64_LEN];
    size_t i = sizeof(tmp);

    do {
        tmp[--i] = (u_char) ('0' + n % 10);
        n /= 10;
    } while (n);
    memcpy(p, tmp + i, sizeof(tmp) - i);
    return p + sizeof(tmp) - i;
}

/* n in decimal, at least `width` digits (zero padded), in pool memory. */
static sl_int_t value_uint(sl_http_request_t *r, sl_http_variable_value_t *v, uint64_t n,
                           sl_uint_t width)
{
    u_char *p = sl_pnalloc(r->pool, SL_INT64_LEN + 1);

    if (p == NULL) {
        return SL_ERROR;
    }
    u_char *last = put_uint(p, n);
    size_t len = (size_t) (last - p);
    if (len < width) {
        memmove(p + width - len, p, len);
        memset(p, '0', width - len);
        len = width;
    }
    return value_set(v, p, len);
}

/* "SEC.MSC", the way nginx prints $request_time and $msec. */
static sl_int_t value_seconds(sl_http_request_t *r, sl_http_variable_value_t *v, uint64_t sec,
                              uint64_t msec)
{
    u_char *p = sl_pnalloc(r->pool, SL_INT64_LEN + 5);

    if (p == NULL) {
        return SL_ERROR;
    }
    u_char *last = put_uint(p, sec);
    *last++ = '.';
    *last++ = (u_char) ('0' + msec / 100 % 10);
    *last++ = (u_char) ('0' + msec / 10 % 10);
    *last++ = (u_char) ('0' + msec % 10);
    return value_set(v, p, (size_t) (last - p));
}

static sl_http_core_main_conf_t *conf_cmcf(sl_conf_t *cf)
{
    return sl_http_conf_get_module_main_conf(cf, sl_http_core_module);
}

/* ---- request headers ---- */

static sl_table_elt_t *request_field(sl_http_request_t *r, uintptr_t offset)
{
    return *(sl_table_elt_t **) ((u_char *) r + offset);
}

static sl_int_t var_header(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    sl_table_elt_t *h = request_field(r, data);

    return h ? value_set(v, h->value.data, h->value.len) : value_not_found(v);
}

/* Header lines of the same name, joined with "SEP " (nginx: "; " for Cookie, ", " else). */
static sl_int_t join_chain(sl_http_request_t *r, sl_http_variable_value_t *v, sl_table_elt_t *first,
                           u_char sep)
{
    if (first == NULL) {
        return value_not_found(v);
    }
    if (first->next == NULL) {
        return value_set(v, first->value.data, first->value.len);
    }
    size_t len = 0;
    for (sl_table_elt_t *h = first; h; h = h->next) {
        len += h->value.len + (h->next ? 2 : 0);
    }
    u_char *p = sl_pnalloc(r->pool, len);
    if (p == NULL) {
        return SL_ERROR;
    }
    value_set(v, p, len);
    for (sl_table_elt_t *h = first; h; h = h->next) {
        if (h->value.len) {
            memcpy(p, h->value.data, h->value.len);
            p += h->value.len;
        }
        if (h->next) {
            *p++ = sep;
            *p++ = ' ';
        }
    }
    return SL_OK;
}

static sl_int_t var_cookies(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    return join_chain(r, v, request_field(r, data), ';');
}

static sl_int_t var_headers(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    return join_chain(r, v, request_field(r, data), ',');
}

/* nginx's comparison of a header name with a variable name: the header lowercased, with
 * "-" read as "_" ($http_user_agent is User-Agent, and also User_Agent). */
static int header_name_is(const sl_str_t *key, const u_char *name, size_t len)
{
    if (key->len != len) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        u_char ch = key->data[i];

        ch = ch == '-' ? '_' : sl_tolower(ch);
        if (ch != name[i]) {
            return 0;
        }
    }
    return 1;
}

/*
 * The header lines of a list named `name` (hash 0 = deleted: skipped).  With sep 0 the
 * first one only (nginx 1.22's $http_NAME and $sent_http_NAME), else all of them joined
 * with "SEP ".
 */
static sl_int_t list_header(sl_http_request_t *r, sl_http_variable_value_t *v, sl_list_t *list,
                            const u_char *name, size_t name_len, u_char sep)
{
    sl_table_elt_t *first = NULL;
    size_t len = 0;

    for (sl_list_part_t *part = &list->part; part && (sep || !first); part = part->next) {
        sl_table_elt_t *h = part->elts;
        for (sl_uint_t i = 0; i < part->nelts && (sep || !first); i++) {
            if (h[i].hash && header_name_is(&h[i].key, name, name_len)) {
                len += (first ? 2 : 0) + h[i].value.len;
                first = first ? first : &h[i];
            }
        }
    }
    if (first == NULL || len == first->value.len) {
        return first ? value_set(v, first->value.data, len) : value_not_found(v);
    }
    u_char *p = sl_pnalloc(r->pool, len);
    if (p == NULL) {
        return SL_ERROR;
    }
    value_set(v, p, len);
    int more = 0;
    for (sl_list_part_t *part = &list->part; part; part = part->next) {
        sl_table_elt_t *h = part->elts;
        for (sl_uint_t i = 0; i < part->nelts; i++) {
            if (h[i].hash && header_name_is(&h[i].key, name, name_len)) {
                if (more++) {
                    *p++ = sep;
                    *p++ = ' ';
                }
                if (h[i].value.len) {
                    memcpy(p, h[i].value.data, h[i].value.len);
                    p += h[i].value.len;
                }
            }
        }
    }
    return SL_OK;
}

sl_int_t sl_http_variable_header(sl_http_request_t *r, sl_http_variable_value_t *v,
                                 sl_list_t *headers, const u_char *name, size_t len)
{
    return list_header(r, v, headers, name, len, 0);
}

static sl_int_t var_unknown_header_in(sl_http_request_t *r, sl_http_variable_value_t *v,
                                      uintptr_t data)
{
    const sl_str_t *name = (const sl_str_t *) data;
    size_t skip = sizeof("http_") - 1;

    return list_header(r, v, &r->headers_in.headers, name->data + skip, name->len - skip, 0);
}

/* Finds NAME=value in one Cookie line; value runs to ";" (nginx 1.22's parsing). */
static int cookie_in_line(const sl_str_t *line, const u_char *name, size_t len, sl_str_t *value)
{
    if (line->len == 0) {
        return 0;
    }
    const u_char *p = line->data, *end = line->data + line->len;
    while (p < end) {
        if ((size_t) (end - p) >= len && sl_strncasecmp(p, name, len) == 0) {
            const u_char *q = p + len;
            while (q < end && *q == ' ') {
                q++;
            }
            if (q < end && *q == '=') {
                for (q++; q < end && *q == ' '; q++) {
                }
                value->data = (u_char *) q;
                while (q < end && *q != ';') {
                    q++;
                }
                value->len = (size_t) (q - value->data);
                return 1;
            }
        }
        /* skip to the next pair: past ";" or "," and the spaces after it */
        while (p < end && *p != ';' && *p != ',') {
            p++;
        }
        for (p = p < end ? p + 1 : p; p < end && *p == ' '; p++) {
        }
    }
    return 0;
}

static sl_int_t var_cookie(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    const sl_str_t *name = (const sl_str_t *) data;
    size_t skip = sizeof("cookie_") - 1;
    sl_str_t value;

    for (sl_table_elt_t *h = r->headers_in.cookie; h; h = h->next) {
        if (cookie_in_line(&h->value, name->data + skip, name->len - skip, &value)) {
            return value_set(v, value.data, value.len);
        }
    }
    return value_not_found(v);
}

/* The first NAME=value of the query string, NAME compared ignoring case; "NAME" alone
 * (no "=") does not count, as in nginx. */
static sl_int_t var_argument(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    const sl_str_t *var = (const sl_str_t *) data;
    const u_char *name = var->data + sizeof("arg_") - 1;
    size_t len = var->len - (sizeof("arg_") - 1);
    if (r->args.len == 0) {
        return value_not_found(v);
    }
    const u_char *p = r->args.data, *end = r->args.data + r->args.len;
    while (p < end) {
        const u_char *amp = memchr(p, '&', (size_t) (end - p));
        const u_char *seg_end = amp ? amp : end;

        if ((size_t) (seg_end - p) > len && p[len] == '=' && sl_strncasecmp(p, name, len) == 0) {
            return value_set(v, p + len + 1, (size_t) (seg_end - p - len - 1));
        }
        p = seg_end + 1;
    }
    return value_not_found(v);
}

static sl_int_t var_content_length(sl_http_request_t *r, sl_http_variable_value_t *v,
                                   uintptr_t data)
{
    sl_table_elt_t *h = r->headers_in.content_length;

    if (h) {
        return value_set(v, h->value.data, h->value.len);
    }
    /* a chunked body's length once it has been read */
    if (!r->reading_body && r->headers_in.content_length_n >= 0) {
        return value_uint(r, v, (uint64_t) r->headers_in.content_length_n, 0);
    }
    value_not_found(v);
    v->no_cacheable = 1;
    return SL_OK;
}

/* ---- the request ---- */

static sl_int_t var_request_str(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    sl_str_t *s = (sl_str_t *) ((u_char *) r + data);

    return s->len ? value_set(v, s->data, s->len) : value_not_found(v);
}

/*
 * The client's method, in a subrequest too: an auth_request or mirror subrequest is a GET
 * (or the mirrored method) of its own, yet "proxy_set_header X-Original-Method
 * $request_method" in the auth location must tell the auth service what the client asked.
 */
static sl_int_t var_request_method(sl_http_request_t *r, sl_http_variable_value_t *v,
                                   uintptr_t data)
{
    (void) data;
    return var_request_str(r->main, v, offsetof(sl_http_request_t, method_name));
}

/* Empty, not absent, before the request line is parsed (as nginx logs a timed-out one). */
static sl_int_t var_protocol(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    return value_set(v, r->http_protocol.len ? r->http_protocol.data : (u_char *) "",
                     r->http_protocol.len);
}

/* The request line; for a request cut short, what arrived of it (as nginx logs it). */
static sl_int_t var_request_line(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    if (r->request_line.len) {
        return value_set(v, r->request_line.data, r->request_line.len);
    }
    sl_buf_t *b = r->header_in;
    u_char *start = r->parse.request_start;
    if (b == NULL || start == NULL || start < b->start || start >= b->last) {
        return value_not_found(v);
    }
    u_char *p = start;
    while (p < b->last && *p != '\r' && *p != '\n') {
        p++;
    }
    return value_set(v, start, (size_t) (p - start));
}

static void set_args(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    r->args.len = v->len;
    r->args.data = v->data;
    r->valid_unparsed_uri = 0;
}

static sl_int_t var_is_args(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    return value_set(v, (u_char *) "?", r->args.len ? 1 : 0);
}

static sl_int_t var_const(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    const sl_str_t *s = (const sl_str_t *) data;

    return value_set(v, s->data, s->len);
}

/* "https" and "on" over TLS, "http" and "" otherwise. */
static sl_int_t var_scheme(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    return r->connection->ssl ? value_set(v, (u_char *) "https", 5)
                              : value_set(v, text_http.data, text_http.len);
}

static sl_int_t var_https(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    return r->connection->ssl ? value_set(v, (u_char *) "on", 2) : value_set(v, text_empty.data, 0);
}

/* The host the request named, else the server's first name (nginx's order). */
static sl_int_t var_host(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    if (r->headers_in.server.len) {
        return value_set(v, r->headers_in.server.data, r->headers_in.server.len);
    }
    sl_http_core_srv_conf_t *cscf = sl_http_get_module_srv_conf(r, sl_http_core_module);
    return value_set(v, cscf->server_name.data, cscf->server_name.len);
}

static sl_int_t var_server_name(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    sl_http_core_srv_conf_t *cscf = sl_http_get_module_srv_conf(r, sl_http_core_module);

    return value_set(v, cscf->server_name.data, cscf->server_name.len);
}

/* gethostname(), lowercased as nginx keeps it; read once per process. */
static sl_int_t var_hostname(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    static char name[256];
    static size_t len;

    if (len == 0) {
        if (gethostname(name, sizeof(name) - 1) == -1) {
            sl_log_error(SL_LOG_ALERT, r->connection->log, errno, "gethostname() failed");
            return SL_ERROR;
        }
        name[sizeof(name) - 1] = '\0';
        len = strlen(name);
        sl_strlow((u_char *) name, (u_char *) name, len);
    }
    return value_set(v, (u_char *) name, len);
}

static sl_int_t var_request_completion(sl_http_request_t *r, sl_http_variable_value_t *v,
                                       uintptr_t data)
{
    return value_set(v, (u_char *) "OK", r->request_complete ? 2 : 0);
}

/* 32 hex digits of fresh randomness, as nginx's $request_id. */
static sl_int_t var_request_id(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    static const char hex[] = "0123456789abcdef";
    u_char bytes[16];
    u_char *p = sl_pnalloc(r->pool, 32);

    if (p == NULL) {
        return SL_ERROR;
    }
    if (getrandom(bytes, sizeof(bytes), 0) != (ssize_t) sizeof(bytes)) {
        sl_log_error(SL_LOG_ERR, r->connection->log, errno, "getrandom() failed");
        return SL_ERROR;
    }
    for (size_t i = 0; i < sizeof(bytes); i++) {
        p[2 * i] = (u_char) hex[bytes[i] >> 4];
        p[2 * i + 1] = (u_char) hex[bytes[i] & 0xf];
    }
    return value_set(v, p, 32);
}

static sl_int_t var_limit_rate(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    return value_uint(r, v, r->limit_rate, 0);
}

static void set_limit_rate(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    sl_str_t s = { v->len, v->data };
    ssize_t n = sl_parse_size(&s);

    if (n == SL_ERROR) {
        sl_log_error(SL_LOG_ERR, r->connection->log, 0, "invalid $limit_rate \"%.*s\"",
                     SL_STR_ARG(s));
        return;
    }
    r->limit_rate = (size_t) n;
    r->limit_rate_set = 1;
}

/* ---- the connection ---- */

static sl_int_t var_remote_addr(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    sl_connection_t *c = r->connection;

    return value_set(v, c->addr_text.data, c->addr_text.len);
}

static sl_int_t var_binary_remote_addr(sl_http_request_t *r, sl_http_variable_value_t *v,
                                       uintptr_t data)
{
    sl_sockaddr_t *sa = &r->connection->sockaddr;

    switch (sa->sa.sa_family) {
    case AF_INET:
        return value_set(v, (u_char *) &sa->sin.sin_addr, 4);
    case AF_INET6:
        return value_set(v, (u_char *) &sa->sin6.sin6_addr, 16);
    default:
        return value_set(v, (u_char *) "", 0);
    }
}

/* The port as text; empty for a unix socket (nginx). */
static sl_int_t value_port(sl_http_request_t *r, sl_http_variable_value_t *v, unsigned port)
{
    return port ? value_uint(r, v, port, 0) : value_set(v, (u_char *) "", 0);
}

static sl_int_t var_remote_port(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    return value_port(r, v, sl_sockaddr_port(&r->connection->sockaddr.sa));
}

static sl_int_t var_server_addr(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    sl_connection_t *c = r->connection;
    u_char text[SL_SOCKADDR_STRLEN + 1];

    if (sl_conn_local_sockaddr(c) != SL_OK) {
        return SL_ERROR;
    }
    size_t len = sl_addr_ntop(&c->local_sockaddr.sa, c->local_socklen, text, sizeof(text), 0);
    u_char *p = sl_pnalloc(r->pool, len);
    if (p == NULL) {
        return SL_ERROR;
    }
    memcpy(p, text, len);
    return value_set(v, p, len);
}

static sl_int_t var_server_port(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    if (sl_conn_local_sockaddr(r->connection) != SL_OK) {
        return SL_ERROR;
    }
    return value_port(r, v, sl_sockaddr_port(&r->connection->local_sockaddr.sa));
}

static sl_int_t var_connection(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    return value_uint(r, v, r->connection->number, 0);
}

static sl_int_t var_connection_requests(sl_http_request_t *r, sl_http_variable_value_t *v,
                                        uintptr_t data)
{
    return value_uint(r, v, r->connection->requests, 0);
}

/* "p" for a request whose bytes were already read with the previous one's, else ".". */
static sl_int_t var_pipe(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    (void) data;
    return value_set(v, (u_char *) (r->main->pipeline ? "p" : "."), 1);
}

static sl_int_t var_pid(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    return value_uint(r, v, (uint64_t) sl_pid, 0);
}

/* ---- Authorization: Basic ---- */

static int base64_value(u_char ch)
{
    if (ch >= 'A' && ch <= 'Z') {
        return ch - 'A';
    }
    if (ch >= 'a' && ch <= 'z') {
        return ch - 'a' + 26;
    }
    if (ch >= '0' && ch <= '9') {
        return ch - '0' + 52;
    }
    return ch == '+' ? 62 : ch == '/' ? 63 : -1;
}

/* Decodes standard base64 up to the first "="; SL_ERROR on any other byte or a dangling
 * sextet.  dst has room for len * 3 / 4 bytes. */
ssize_t sl_http_decode_base64(u_char *dst, const u_char *src, size_t len)
{
    size_t n = 0, out = 0;
    uint32_t acc = 0;

    while (n < len && src[n] != '=') {
        int d = base64_value(src[n]);
        if (d < 0) {
            return SL_ERROR;
        }
        acc = acc << 6 | (uint32_t) d;
        if (++n % 4 == 0) {
            dst[out++] = (u_char) (acc >> 16);
            dst[out++] = (u_char) (acc >> 8);
            dst[out++] = (u_char) acc;
            acc = 0;
        }
    }
    if (n % 4 == 1) {
        return SL_ERROR;
    }
    if (n % 4 == 2) {
        dst[out++] = (u_char) (acc >> 4);
    } else if (n % 4 == 3) {
        dst[out++] = (u_char) (acc >> 10);
        dst[out++] = (u_char) (acc >> 2);
    }
    return (ssize_t) out;
}

/* The user of "Authorization: Basic base64(user:password)"; absent when the header is not
 * of that form or the user is empty (nginx). */
static sl_int_t var_remote_user(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    sl_table_elt_t *h = r->headers_in.authorization;
    static const u_char basic[] = "Basic ";
    size_t blen = sizeof(basic) - 1;

    if (h == NULL || h->value.len < blen || sl_strncasecmp(h->value.data, basic, blen) != 0) {
        return value_not_found(v);
    }
    const u_char *p = h->value.data + blen, *end = h->value.data + h->value.len;
    while (p < end && *p == ' ') {
        p++;
    }
    u_char *user = p < end ? sl_pnalloc(r->pool, (size_t) (end - p) * 3 / 4 + 3) : NULL;
    if (p < end && user == NULL) {
        return SL_ERROR;
    }
    ssize_t n = user ? sl_http_decode_base64(user, p, (size_t) (end - p)) : SL_ERROR;
    u_char *colon = n > 0 ? memchr(user, ':', (size_t) n) : NULL;
    if (colon == NULL || colon == user) {
        return value_not_found(v);
    }
    return value_set(v, user, (size_t) (colon - user));
}

/* ---- the response ---- */

static sl_int_t var_status(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    sl_uint_t status = r->err_status ? r->err_status : r->headers_out.status;

    return value_uint(r, v, status, 3);
}

static sl_int_t var_body_bytes_sent(sl_http_request_t *r, sl_http_variable_value_t *v,
                                    uintptr_t data)
{
    off_t sent = r->connection->sent - (off_t) r->header_size;

    return value_uint(r, v, sent > 0 ? (uint64_t) sent : 0, 0);
}

static sl_int_t var_bytes_sent(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    off_t sent = r->connection->sent;

    return value_uint(r, v, sent > 0 ? (uint64_t) sent : 0, 0);
}

static sl_int_t var_request_length(sl_http_request_t *r, sl_http_variable_value_t *v,
                                   uintptr_t data)
{
    return value_uint(r, v, r->request_length > 0 ? (uint64_t) r->request_length : 0, 0);
}

/*
 * $request_body: the body as read into memory, as nginx gives it: only when all of it is in
 * memory buffers (a proxied request whose body fit client_body_buffer_size); not found
 * while it is being read, when it went to a temp file, or when nobody read it.
 */
static sl_int_t var_request_body(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    sl_http_request_body_t *rb = r->request_body;
    size_t len = 0;

    if (rb == NULL || rb->bufs == NULL || rb->temp_file) {
        return value_not_found(v);
    }
    for (sl_chain_t *cl = rb->bufs; cl; cl = cl->next) {
        if (!sl_buf_in_memory(cl->buf) && sl_buf_size(cl->buf)) {
            return value_not_found(v);
        }
        len += sl_buf_in_memory(cl->buf) ? (size_t) (cl->buf->last - cl->buf->pos) : 0;
    }
    if (rb->bufs->next == NULL) {
        return value_set(v, rb->bufs->buf->pos, len);
    }
    u_char *p = sl_pnalloc(r->pool, len ? len : 1), *q = p;
    if (p == NULL) {
        return SL_ERROR;
    }
    for (sl_chain_t *cl = rb->bufs; cl; cl = cl->next) {
        if (sl_buf_in_memory(cl->buf)) {
            size_t n = (size_t) (cl->buf->last - cl->buf->pos);
            memcpy(q, cl->buf->pos, n);
            q += n;
        }
    }
    return value_set(v, p, len);
}

/* $request_body_file: the temp file holding the body (named now if it had no name yet, and
 * removed at the request's end unless client_body_in_file_only is on). */
static sl_int_t var_request_body_file(sl_http_request_t *r, sl_http_variable_value_t *v,
                                      uintptr_t data)
{
    sl_str_t name;
    sl_int_t rc = sl_http_request_body_file_name(r, &name);

    if (rc == SL_DECLINED) {
        return value_not_found(v);
    }
    return rc == SL_OK ? value_set(v, name.data, name.len) : SL_ERROR;
}

/* Seconds with milliseconds since the first byte of the request ("0.001"). */
static sl_int_t var_request_time(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    sl_msec_t now = sl_current_msec;
    sl_msec_t ms = now > r->start_msec ? now - r->start_msec : 0;

    return value_seconds(r, v, ms / 1000, ms % 1000);
}

/*
 * The wall clock with milliseconds.  sl_time caches only whole seconds, so this reads the
 * clock once per loop iteration (while sl_current_msec stays the same) and reuses it.
 */
static void wall_clock(time_t *sec, unsigned *msec)
{
    static sl_msec_t at = (sl_msec_t) -1;
    static time_t cached_sec;
    static unsigned cached_msec;

    if (at != sl_current_msec || at == (sl_msec_t) -1) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        cached_sec = ts.tv_sec;
        cached_msec = (unsigned) (ts.tv_nsec / 1000000);
        at = sl_current_msec;
    }
    *sec = cached_sec;
    *msec = cached_msec;
}

static sl_int_t var_msec(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    time_t sec;
    unsigned msec;

    wall_clock(&sec, &msec);
    return value_seconds(r, v, (uint64_t) sec, msec);
}

static sl_int_t var_time_local(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    const u_char *t = sl_cached_http_log_time();

    return value_set(v, t, strlen((const char *) t));
}

/* "2026-01-01T12:00:00+00:00" in local time, formatted once per second. */
static sl_int_t var_time_iso8601(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    static u_char text[64];
    static size_t len;
    static time_t formatted = -1;
    time_t now = sl_cached_time_sec;

    if (now != formatted) {
        struct tm tm;
        localtime_r(&now, &tm);
        long off = tm.tm_gmtoff / 60;
        int n = snprintf((char *) text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d%c%02ld:%02ld",
                         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                         tm.tm_sec, off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60);
        len = n > 0 ? sl_min((size_t) n, sizeof(text) - 1) : 0;
        formatted = now;
    }
    return value_set(v, text, len);
}

/* Content-Type as sent: with "; charset=" when a charset was set apart from the type. */
static sl_int_t var_sent_content_type(sl_http_request_t *r, sl_http_variable_value_t *v,
                                      uintptr_t data)
{
    sl_str_t *type = &r->headers_out.content_type, *charset = &r->headers_out.charset;
    static const u_char label[] = "; charset=";
    size_t llen = sizeof(label) - 1;

    if (type->len == 0) {
        return value_not_found(v);
    }
    if (charset->len == 0 || r->headers_out.content_type_len != type->len) {
        return value_set(v, type->data, type->len);
    }
    u_char *p = sl_pnalloc(r->pool, type->len + llen + charset->len);
    if (p == NULL) {
        return SL_ERROR;
    }
    memcpy(p, type->data, type->len);
    memcpy(p + type->len, label, llen);
    memcpy(p + type->len + llen, charset->data, charset->len);
    return value_set(v, p, type->len + llen + charset->len);
}

static sl_int_t var_sent_content_length(sl_http_request_t *r, sl_http_variable_value_t *v,
                                        uintptr_t data)
{
    sl_table_elt_t *h = r->headers_out.content_length;

    if (h && h->hash) {
        return value_set(v, h->value.data, h->value.len);
    }
    if (r->headers_out.content_length_n >= 0) {
        return value_uint(r, v, (uint64_t) r->headers_out.content_length_n, 0);
    }
    return value_not_found(v);
}

static sl_int_t var_sent_location(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    sl_table_elt_t *h = r->headers_out.location;

    if (h && h->value.len) {
        return value_set(v, h->value.data, h->value.len);
    }
    return list_header(r, v, &r->headers_out.headers, (const u_char *) "location", 8, 0);
}

static sl_int_t var_sent_last_modified(sl_http_request_t *r, sl_http_variable_value_t *v,
                                       uintptr_t data)
{
    sl_table_elt_t *h = r->headers_out.last_modified;
    time_t t = r->headers_out.last_modified_time;

    if (h && h->hash) {
        return value_set(v, h->value.data, h->value.len);
    }
    if (t < 0) {
        return value_not_found(v);
    }
    u_char *p = sl_pnalloc(r->pool, 64);
    if (p == NULL) {
        return SL_ERROR;
    }
    return value_set(v, p, sl_http_time(t, p, 64));
}

/* What the header writer sends in Connection: always present. */
static sl_int_t var_sent_connection(sl_http_request_t *r, sl_http_variable_value_t *v,
                                    uintptr_t data)
{
    if (r->headers_out.status == SL_HTTP_SWITCHING_PROTOCOLS) {
        return value_set(v, (u_char *) "upgrade", 7);
    }
    if (r->keepalive) {
        return value_set(v, (u_char *) "keep-alive", 10);
    }
    return value_set(v, (u_char *) "close", 5);
}

static sl_int_t var_sent_keep_alive(sl_http_request_t *r, sl_http_variable_value_t *v,
                                    uintptr_t data)
{
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);

    if (!r->keepalive || clcf == NULL || clcf->keepalive_header <= 0) {
        return value_not_found(v);
    }
    u_char *p = sl_pnalloc(r->pool, sizeof("timeout=") - 1 + SL_INT64_LEN);
    if (p == NULL) {
        return SL_ERROR;
    }
    memcpy(p, "timeout=", sizeof("timeout=") - 1);
    u_char *last = put_uint(p + sizeof("timeout=") - 1, (uint64_t) clcf->keepalive_header);
    return value_set(v, p, (size_t) (last - p));
}

static sl_int_t var_sent_transfer_encoding(sl_http_request_t *r, sl_http_variable_value_t *v,
                                           uintptr_t data)
{
    return r->chunked ? value_set(v, (u_char *) "chunked", 7) : value_not_found(v);
}

/* $sent_http_cache_control and $sent_http_link join every line with ", " in nginx 1.22;
 * data is the header name in variable form ("cache_control"). */
static sl_int_t var_sent_joined(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    const char *name = (const char *) data;

    return list_header(r, v, &r->headers_out.headers, (const u_char *) name, strlen(name), ',');
}

static sl_int_t var_unknown_header_out(sl_http_request_t *r, sl_http_variable_value_t *v,
                                       uintptr_t data)
{
    const sl_str_t *name = (const sl_str_t *) data;
    size_t skip = sizeof("sent_http_") - 1;

    return list_header(r, v, &r->headers_out.headers, name->data + skip, name->len - skip, 0);
}

static sl_int_t var_not_found(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    return value_not_found(v);
}

/* ---- the built-in variables ---- */

/* The getters' data: an offset in the request, a constant string, or (prefix variables) the
 * variable's own name. */
// clang-format off
static sl_http_variable_t core_variables[] = {
    { sl_string("http_host"), NULL, var_header, HIN(host), 0, 0 },
    { sl_string("http_user_agent"), NULL, var_header, HIN(user_agent), 0, 0 },
    { sl_string("http_referer"), NULL, var_header, HIN(referer), 0, 0 },
    { sl_string("http_x_forwarded_for"), NULL, var_headers, HIN(x_forwarded_for), 0, 0 },
    { sl_string("http_cookie"), NULL, var_cookies, HIN(cookie), 0, 0 },
    { sl_string("content_length"), NULL, var_content_length, 0, 0, 0 },
    { sl_string("content_type"), NULL, var_header, HIN(content_type), 0, 0 },
    { sl_string("host"), NULL, var_host, 0, 0, 0 },
    { sl_string("binary_remote_addr"), NULL, var_binary_remote_addr, 0, 0, 0 },
    { sl_string("remote_addr"), NULL, var_remote_addr, 0, 0, 0 },
    { sl_string("remote_port"), NULL, var_remote_port, 0, 0, 0 },
    { sl_string("server_addr"), NULL, var_server_addr, 0, 0, 0 },
    { sl_string("server_port"), NULL, var_server_port, 0, 0, 0 },
    { sl_string("server_protocol"), NULL, var_protocol, 0, 0, 0 },
    { sl_string("scheme"), NULL, var_scheme, 0, 0, 0 },
    { sl_string("https"), NULL, var_https, 0, 0, 0 },
    { sl_string("request_uri"), NULL, var_request_str, REQ(unparsed_uri), 0, 0 },
    { sl_string("uri"), NULL, var_request_str, REQ(uri), NOCACHE, 0 },
    { sl_string("document_uri"), NULL, var_request_str, REQ(uri), NOCACHE, 0 },
    { sl_string("request"), NULL, var_request_line, 0, 0, 0 },
    { sl_string("request_method"), NULL, var_request_method, 0, NOCACHE, 0 },
    { sl_string("remote_user"), NULL, var_remote_user, 0, 0, 0 },
    { sl_string("args"), set_args, var_request_str, REQ(args), CHANGE | NOCACHE, 0 },
    { sl_string("query_string"), NULL, var_request_str, REQ(args), NOCACHE, 0 },
    { sl_string("is_args"), NULL, var_is_args, 0, NOCACHE, 0 },
    { sl_string("request_length"), NULL, var_request_length, 0, NOCACHE, 0 },
    { sl_string("request_body"), NULL, var_request_body, 0, NOCACHE, 0 },
    { sl_string("request_body_file"), NULL, var_request_body_file, 0, NOCACHE, 0 },
    { sl_string("request_time"), NULL, var_request_time, 0, NOCACHE, 0 },
    { sl_string("request_id"), NULL, var_request_id, 0, 0, 0 },
    { sl_string("request_completion"), NULL, var_request_completion, 0, 0, 0 },
    { sl_string("status"), NULL, var_status, 0, NOCACHE, 0 },
    { sl_string("body_bytes_sent"), NULL, var_body_bytes_sent, 0, NOCACHE, 0 },
    { sl_string("bytes_sent"), NULL, var_bytes_sent, 0, NOCACHE, 0 },
    { sl_string("sent_http_content_type"), NULL, var_sent_content_type, 0, 0, 0 },
    { sl_string("sent_http_content_length"), NULL, var_sent_content_length, 0, 0, 0 },
    { sl_string("sent_http_location"), NULL, var_sent_location, 0, 0, 0 },
    { sl_string("sent_http_last_modified"), NULL, var_sent_last_modified, 0, 0, 0 },
    { sl_string("sent_http_connection"), NULL, var_sent_connection, 0, 0, 0 },
    { sl_string("sent_http_keep_alive"), NULL, var_sent_keep_alive, 0, 0, 0 },
    { sl_string("sent_http_transfer_encoding"), NULL, var_sent_transfer_encoding, 0, 0, 0 },
    { sl_string("sent_http_cache_control"), NULL, var_sent_joined, (uintptr_t) "cache_control",
      0, 0 },
    { sl_string("sent_http_link"), NULL, var_sent_joined, (uintptr_t) "link", 0, 0 },
    { sl_string("limit_rate"), set_limit_rate, var_limit_rate, 0, CHANGE | NOCACHE, 0 },
    { sl_string("connection"), NULL, var_connection, 0, 0, 0 },
    { sl_string("connection_requests"), NULL, var_connection_requests, 0, 0, 0 },
    { sl_string("pipe"), NULL, var_pipe, 0, 0, 0 },
    { sl_string("nginx_version"), NULL, var_const, (uintptr_t) &text_version, 0, 0 },
    { sl_string("hostname"), NULL, var_hostname, 0, 0, 0 },
    { sl_string("pid"), NULL, var_pid, 0, 0, 0 },
    { sl_string("msec"), NULL, var_msec, 0, NOCACHE, 0 },
    { sl_string("time_iso8601"), NULL, var_time_iso8601, 0, NOCACHE, 0 },
    { sl_string("time_local"), NULL, var_time_local, 0, NOCACHE, 0 },
    { sl_string("server_name"), NULL, var_server_name, 0, 0, 0 },
};

static sl_http_variable_t prefix_variables[] = {
    { sl_string("http_"), NULL, var_unknown_header_in, 0, SL_HTTP_VAR_PREFIX, 0 },
    { sl_string("sent_http_"), NULL, var_unknown_header_out, 0, SL_HTTP_VAR_PREFIX, 0 },
    { sl_string("cookie_"), NULL, var_cookie, 0, SL_HTTP_VAR_PREFIX, 0 },
    { sl_string("arg_"), NULL, var_argument, 0, SL_HTTP_VAR_PREFIX, 0 },
};
// clang-format on

/* ---- registration ---- */

/* The arrays are created on first use: the log module compiles "combined" in its
 * create_main_conf, which may run before the core's preconfiguration. */
static sl_int_t ensure_arrays(sl_conf_t *cf, sl_http_core_main_conf_t *cmcf)
{
    if (cmcf->variables_keys == NULL) {
        cmcf->variables_keys = sl_array_create(cf->pool, 64, sizeof(sl_hash_key_t));
        if (cmcf->variables_keys == NULL) {
            return SL_ERROR;
        }
    }
    if (cmcf->variables.elts == NULL
        && sl_array_init(&cmcf->variables, cf->pool, 16, sizeof(sl_http_variable_t)) != SL_OK) {
        return SL_ERROR;
    }
    if (cmcf->prefix_variables.elts == NULL
        && sl_array_init(&cmcf->prefix_variables, cf->pool, 8, sizeof(sl_http_variable_t))
               != SL_OK) {
        return SL_ERROR;
    }
    return SL_OK;
}

static sl_int_t copy_name_lowercase(sl_conf_t *cf, sl_str_t *dst, const sl_str_t *src)
{
    dst->data = sl_pnalloc(cf->pool, src->len + 1);
    if (dst->data == NULL) {
        return SL_ERROR;
    }
    sl_strlow(dst->data, src->data, src->len);
    dst->data[src->len] = '\0';
    dst->len = src->len;
    return SL_OK;
}

static sl_http_variable_t *add_prefix_variable(sl_conf_t *cf, sl_str_t *name, sl_uint_t flags)
{
    sl_http_core_main_conf_t *cmcf = conf_cmcf(cf);
    sl_http_variable_t *v = cmcf->prefix_variables.elts;

    for (sl_uint_t i = 0; i < cmcf->prefix_variables.nelts; i++) {
        if (!sl_str_caseeq(name, &v[i].name)) {
            continue;
        }
        if (!(v[i].flags & SL_HTTP_VAR_CHANGEABLE)) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "the duplicate \"%.*s\" variable",
                              SL_STR_ARG(*name));
            return NULL;
        }
        if (!(flags & SL_HTTP_VAR_WEAK)) {
            v[i].flags &= ~SL_HTTP_VAR_WEAK;
        }
        return &v[i];
    }
    v = sl_array_push(&cmcf->prefix_variables);
    if (v == NULL) {
        return NULL;
    }
    memset(v, 0, sizeof(*v));
    if (copy_name_lowercase(cf, &v->name, name) != SL_OK) {
        return NULL;
    }
    v->flags = flags;
    return v;
}

sl_http_variable_t *sl_http_add_variable(sl_conf_t *cf, sl_str_t *name, sl_uint_t flags)
{
    sl_http_core_main_conf_t *cmcf = conf_cmcf(cf);

    if (name->len == 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid variable name \"$\"");
        return NULL;
    }
    if (ensure_arrays(cf, cmcf) != SL_OK) {
        return NULL;
    }
    if (flags & SL_HTTP_VAR_PREFIX) {
        return add_prefix_variable(cf, name, flags);
    }
    sl_hash_key_t *key = cmcf->variables_keys->elts;
    for (sl_uint_t i = 0; i < cmcf->variables_keys->nelts; i++) {
        sl_http_variable_t *v = key[i].value;

        if (!sl_str_caseeq(name, &key[i].key)) {
            continue;
        }
        if (!(v->flags & SL_HTTP_VAR_CHANGEABLE)) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "the duplicate \"%.*s\" variable",
                              SL_STR_ARG(*name));
            return NULL;
        }
        if (!(flags & SL_HTTP_VAR_WEAK)) {
            v->flags &= ~SL_HTTP_VAR_WEAK;
        }
        return v;
    }
    sl_http_variable_t *v = sl_pcalloc(cf->pool, sizeof(sl_http_variable_t));
    sl_hash_key_t *k = sl_array_push(cmcf->variables_keys);
    if (v == NULL || k == NULL || copy_name_lowercase(cf, &v->name, name) != SL_OK) {
        return NULL;
    }
    v->flags = flags;
    k->key = v->name;
    k->value = v;
    return v;
}

sl_int_t sl_http_get_variable_index(sl_conf_t *cf, sl_str_t *name)
{
    sl_http_core_main_conf_t *cmcf = conf_cmcf(cf);

    if (name->len == 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid variable name \"$\"");
        return SL_ERROR;
    }
    if (ensure_arrays(cf, cmcf) != SL_OK) {
        return SL_ERROR;
    }
    sl_http_variable_t *v = cmcf->variables.elts;
    for (sl_uint_t i = 0; i < cmcf->variables.nelts; i++) {
        if (sl_str_caseeq(name, &v[i].name)) {
            return (sl_int_t) i;
        }
    }
    v = sl_array_push(&cmcf->variables);
    if (v == NULL) {
        return SL_ERROR;
    }
    memset(v, 0, sizeof(*v));
    if (copy_name_lowercase(cf, &v->name, name) != SL_OK) {
        return SL_ERROR;
    }
    v->index = cmcf->variables.nelts - 1;
    return (sl_int_t) v->index;
}

sl_int_t sl_http_variables_add_core_vars(sl_conf_t *cf)
{
    if (ensure_arrays(cf, conf_cmcf(cf)) != SL_OK) {
        return SL_ERROR;
    }
    for (size_t i = 0; i < sl_nelems(core_variables); i++) {
        sl_http_variable_t *cv = &core_variables[i];
        sl_http_variable_t *v = sl_http_add_variable(cf, &cv->name, cv->flags);

        if (v == NULL) {
            return SL_ERROR;
        }
        *v = *cv;
    }
    for (size_t i = 0; i < sl_nelems(prefix_variables); i++) {
        sl_http_variable_t *pv = &prefix_variables[i];
        sl_http_variable_t *v = sl_http_add_variable(cf, &pv->name, pv->flags);

        if (v == NULL) {
            return SL_ERROR;
        }
        *v = *pv;
    }
    return sl_http_proxy_protocol_add_variables(cf);
}

/* The hash of declared variables, for run-time lookups by name. */
static sl_int_t build_hash(sl_conf_t *cf, sl_http_core_main_conf_t *cmcf)
{
    sl_hash_key_t *key = cmcf->variables_keys->elts;
    sl_uint_t n = 0;
    sl_hash_key_t *keys = sl_palloc(cf->temp_pool ? cf->temp_pool : cf->pool,
                                    (cmcf->variables_keys->nelts + 1) * sizeof(sl_hash_key_t));

    if (keys == NULL) {
        return SL_ERROR;
    }
    for (sl_uint_t i = 0; i < cmcf->variables_keys->nelts; i++) {
        sl_http_variable_t *v = key[i].value;
        if (!(v->flags & SL_HTTP_VAR_NOHASH)) {
            keys[n++] = key[i];
        }
    }
    return sl_hash_build(&cmcf->variables_hash, cf->pool, keys, n, SL_HASH_LOWCASE, NULL) == SL_OK
               ? SL_OK
               : SL_ERROR;
}

/* Binds v to the longest prefix variable its name starts with.  0 when none does. */
static int bind_prefix(sl_http_core_main_conf_t *cmcf, sl_http_variable_t *v)
{
    sl_http_variable_t *pv = cmcf->prefix_variables.elts, *best = NULL;

    for (sl_uint_t n = 0; n < cmcf->prefix_variables.nelts; n++) {
        if (v->name.len >= pv[n].name.len && (best == NULL || pv[n].name.len > best->name.len)
            && memcmp(v->name.data, pv[n].name.data, pv[n].name.len) == 0) {
            best = &pv[n];
        }
    }
    if (best == NULL) {
        return 0;
    }
    v->get_handler = best->get_handler;
    v->set_handler = best->set_handler;
    v->data = (uintptr_t) &v->name;
    v->flags = best->flags;
    return 1;
}

sl_int_t sl_http_variables_init_vars(sl_conf_t *cf)
{
    sl_http_core_main_conf_t *cmcf = conf_cmcf(cf);

    if (ensure_arrays(cf, cmcf) != SL_OK || build_hash(cf, cmcf) != SL_OK) {
        return SL_ERROR;
    }
    sl_http_variable_t *v = cmcf->variables.elts;
    for (sl_uint_t i = 0; i < cmcf->variables.nelts; i++) {
        sl_http_variable_t *av = sl_hash_find_str(&cmcf->variables_hash, &v[i].name);

        if (av) {
            v[i].get_handler = av->get_handler;
            v[i].set_handler = av->set_handler;
            v[i].data = av->data;
            av->flags |= SL_HTTP_VAR_INDEXED;
            v[i].flags = av->flags;
            av->index = i;
            /* "set $http_x" declares a weak variable: reading it still goes by prefix */
            if (av->get_handler && !(av->flags & SL_HTTP_VAR_WEAK)) {
                continue;
            }
        }
        if (bind_prefix(cmcf, &v[i]) || v[i].get_handler) {
            continue;
        }
        /* No location is known any more: nginx logs this one without FILE:LINE. */
        sl_log_error(SL_LOG_EMERG, cf->log, 0, "unknown \"%.*s\" variable", SL_STR_ARG(v[i].name));
        return SL_ERROR;
    }
    return SL_OK;
}

/* ---- evaluation ---- */

static sl_http_variable_value_t *evaluate(sl_http_request_t *r, sl_http_variable_t *v,
                                          sl_http_variable_value_t *vv)
{
    if (depth >= MAX_DEPTH) {
        sl_log_error(SL_LOG_ERR, r->connection->log, 0, "cycle while evaluating variable \"%.*s\"",
                     SL_STR_ARG(v->name));
        return NULL;
    }
    if (v->get_handler == NULL) {
        value_not_found(vv);
        return vv;
    }
    depth++;
    sl_int_t rc = v->get_handler(r, vv, v->data);
    depth--;
    if (rc != SL_OK) {
        vv->valid = 0;
        vv->not_found = 1;
        return NULL;
    }
    if (v->flags & SL_HTTP_VAR_NOCACHEABLE) {
        vv->no_cacheable = 1;
    }
    return vv;
}

sl_http_variable_value_t *sl_http_get_indexed_variable(sl_http_request_t *r, sl_uint_t index)
{
    sl_http_core_main_conf_t *cmcf = sl_http_get_module_main_conf(r, sl_http_core_module);

    if (index >= cmcf->variables.nelts) {
        sl_log_error(SL_LOG_ALERT, r->connection->log, 0, "unknown variable index: %lu",
                     (unsigned long) index);
        return NULL;
    }
    sl_http_variable_value_t *vv = &r->variables[index];
    if (vv->valid || vv->not_found) {
        return vv;
    }
    sl_http_variable_t *v = cmcf->variables.elts;
    return evaluate(r, &v[index], vv);
}

sl_http_variable_value_t *sl_http_get_flushed_variable(sl_http_request_t *r, sl_uint_t index)
{
    sl_http_core_main_conf_t *cmcf = sl_http_get_module_main_conf(r, sl_http_core_module);

    if (index < cmcf->variables.nelts) {
        sl_http_variable_value_t *vv = &r->variables[index];

        if ((vv->valid || vv->not_found) && !vv->no_cacheable) {
            return vv;
        }
        vv->valid = 0;
        vv->not_found = 0;
    }
    return sl_http_get_indexed_variable(r, index);
}

sl_http_variable_value_t *sl_http_get_variable(sl_http_request_t *r, sl_str_t *name, sl_uint_t key)
{
    sl_http_core_main_conf_t *cmcf = sl_http_get_module_main_conf(r, sl_http_core_module);
    sl_http_variable_t *v = sl_hash_find(&cmcf->variables_hash, key, name->data, name->len);

    if (v && (v->flags & SL_HTTP_VAR_INDEXED)) {
        return sl_http_get_flushed_variable(r, v->index);
    }
    sl_http_variable_value_t *vv = sl_pcalloc(r->pool, sizeof(sl_http_variable_value_t));
    if (vv == NULL) {
        return NULL;
    }
    if (v && v->get_handler) {
        return evaluate(r, v, vv);
    }
    /* A prefix variable's getter takes the full lowercase name. */
    sl_http_variable_t *pv = cmcf->prefix_variables.elts;
    for (sl_uint_t i = 0; i < cmcf->prefix_variables.nelts; i++) {
        if (name->len >= pv[i].name.len
            && sl_strncasecmp(name->data, pv[i].name.data, pv[i].name.len) == 0) {
            sl_str_t *lname = sl_palloc(r->pool, sizeof(sl_str_t));
            u_char *low = sl_pnalloc(r->pool, name->len + 1);
            if (lname == NULL || low == NULL) {
                return NULL;
            }
            sl_strlow(low, name->data, name->len);
            lname->data = low;
            lname->len = name->len;
            return pv[i].get_handler(r, vv, (uintptr_t) lname) == SL_OK ? vv : NULL;
        }
    }
    value_not_found(vv);
    return vv;
}

/* ---- regex captures ---- */

sl_int_t sl_http_regex_compile(sl_conf_t *cf, sl_regex_compile_t *rc, sl_http_regex_t **out)
{
    sl_http_regex_t *re = sl_pcalloc(cf->pool, sizeof(sl_http_regex_t));

    if (re == NULL) {
        return SL_ERROR;
    }
    if (sl_regex_compile(cf->pool, rc) != SL_OK) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "%.*s", SL_STR_ARG(rc->err));
        return SL_ERROR;
    }
    re->regex = rc->regex;
    re->ncaptures = rc->captures;
    re->name = rc->pattern;
    max_capture_pairs = sl_max(max_capture_pairs, rc->captures + 1);
    if (rc->nnames) {
        re->variables = sl_palloc(cf->pool, rc->nnames * sizeof(sl_http_regex_variable_t));
        if (re->variables == NULL) {
            return SL_ERROR;
        }
    }
    for (sl_uint_t i = 0; i < rc->nnames; i++) {
        sl_http_variable_t *v = sl_http_add_variable(cf, &rc->names[i].name, CHANGE);
        sl_int_t index = v ? sl_http_get_variable_index(cf, &rc->names[i].name) : SL_ERROR;

        if (index == SL_ERROR) {
            return SL_ERROR;
        }
        /* not found until a match sets it */
        v->get_handler = var_not_found;
        re->variables[i].capture = rc->names[i].index;
        re->variables[i].index = (sl_uint_t) index;
    }
    re->nvariables = rc->nnames;
    *out = re;
    return SL_OK;
}

/* Runs re into a process-wide ovector, grown (and the match rerun) when a regex has more
 * groups than any seen so far. */
static sl_int_t exec_ovector(sl_regex_t *re, const sl_str_t *s, int **ov)
{
    static int *vec;
    static sl_uint_t pairs;

    for (;;) {
        if (pairs < max_capture_pairs) {
            int *nv = realloc(vec, max_capture_pairs * 2 * sizeof(int));
            if (nv == NULL) {
                return SL_ERROR;
            }
            vec = nv;
            pairs = max_capture_pairs;
        }
        sl_int_t rc = sl_regex_exec(re, s, vec, pairs * 2);
        if (rc <= 0 || (sl_uint_t) rc <= pairs) {
            *ov = vec;
            return rc;
        }
        max_capture_pairs = (sl_uint_t) rc;
    }
}

/* Keeps rc capture pairs in r (pool memory, reused when big enough) for $1..$9. */
static sl_int_t keep_captures(sl_http_request_t *r, const int *ov, sl_int_t rc, const sl_str_t *s)
{
    sl_uint_t n = (sl_uint_t) rc * 2;

    if (r->captures == NULL || r->ncaptures < n) {
        r->captures = sl_palloc(r->pool, sl_max(n, max_capture_pairs * 2) * sizeof(int));
        if (r->captures == NULL) {
            r->ncaptures = 0;
            return SL_ERROR;
        }
    }
    memcpy(r->captures, ov, n * sizeof(int));
    r->ncaptures = n;
    r->captures_data = s->data;
    return SL_OK;
}

static sl_int_t regex_run(sl_http_request_t *r, sl_regex_t *re, sl_int_t groups, const sl_str_t *s,
                          const sl_str_t *name)
{
    int *ov;
    sl_int_t rc = exec_ovector(re, s, &ov);

    if (rc == SL_ERROR) {
        sl_log_error(SL_LOG_ALERT, r->connection->log, 0,
                     "pcre2_match() failed on \"%.*s\" using \"%.*s\"", SL_STR_ARG(*s),
                     SL_STR_ARG(*name));
        return SL_ERROR;
    }
    if (rc == 0) {
        return 0;
    }
    /* groups < 0: unknown (a bare sl_regex_t): keep captures when a group matched */
    if ((groups > 0 || (groups < 0 && rc > 1)) && keep_captures(r, ov, rc, s) != SL_OK) {
        return SL_ERROR;
    }
    /* a match without groups empties $1..$9, as nginx 1.22 does */
    if (groups == 0 || (groups < 0 && rc == 1)) {
        r->ncaptures = 0;
    }
    return rc;
}

sl_int_t sl_http_regex_exec(sl_http_request_t *r, sl_regex_t *re, const sl_str_t *s)
{
    static const sl_str_t unnamed = sl_string("");

    return regex_run(r, re, -1, s, &unnamed);
}

sl_int_t sl_http_regex_match(sl_http_request_t *r, sl_http_regex_t *re, const sl_str_t *s)
{
    sl_int_t rc = regex_run(r, re->regex, (sl_int_t) re->ncaptures, s, &re->name);

    if (rc <= 0) {
        return rc;
    }
    for (sl_uint_t i = 0; i < re->nvariables; i++) {
        sl_http_variable_value_t *vv = &r->variables[re->variables[i].index];
        sl_uint_t n = re->variables[i].capture;

        if ((sl_int_t) n < rc) {
            value_set(vv, s->data + r->captures[2 * n],
                      (size_t) (r->captures[2 * n + 1] - r->captures[2 * n]));
        } else {
            value_set(vv, s->data, 0);
        }
    }
    return rc;
}
