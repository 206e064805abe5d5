/*
 * sl_http_special_response.c: status lines, the built-in pages nginx sends for errors and
 * redirects (same markup, with sluice's name), and error_page.
 */
#include "sl_http_output.h"
#include "sl_http_special_response.h"
#include "sl_http_variables.h"
#include "sl_pool.h"

typedef struct {
    sl_uint_t code;
    sl_str_t line;
} status_t;

#define S(code, text)                                                                              \
    {                                                                                              \
        code, sl_string(#code " " text)                                                            \
    }

// clang-format off
static const status_t statuses[] = {
    S(100, "Continue"), S(101, "Switching Protocols"),
    S(200, "OK"), S(201, "Created"), S(202, "Accepted"), S(204, "No Content"),
    S(206, "Partial Content"),
    S(301, "Moved Permanently"), S(302, "Moved Temporarily"), S(303, "See Other"),
    S(304, "Not Modified"), S(307, "Temporary Redirect"), S(308, "Permanent Redirect"),
    S(400, "Bad Request"), S(401, "Unauthorized"), S(402, "Payment Required"),
    S(403, "Forbidden"), S(404, "Not Found"), S(405, "Not Allowed"),
    S(406, "Not Acceptable"), S(408, "Request Time-out"), S(409, "Conflict"), S(410, "Gone"),
    S(411, "Length Required"), S(412, "Precondition Failed"),
    S(413, "Request Entity Too Large"), S(414, "Request-URI Too Large"),
    S(415, "Unsupported Media Type"), S(416, "Requested Range Not Satisfiable"),
    S(421, "Misdirected Request"), S(429, "Too Many Requests"),
    S(500, "Internal Server Error"), S(501, "Not Implemented"), S(502, "Bad Gateway"),
    S(503, "Service Temporarily Unavailable"), S(504, "Gateway Time-out"),
    S(505, "HTTP Version Not Supported"), S(507, "Insufficient Storage"),
};
// clang-format on

const sl_str_t *sl_http_status_line(sl_uint_t status)
{
    for (size_t i = 0; i < sl_nelems(statuses); i++) {
        if (statuses[i].code == status) {
            return &statuses[i].line;
        }
    }
    return NULL;
}

/* The title nginx uses for its own pages: 494-497 show as 400 with their own words. */
static sl_str_t page_title(sl_uint_t status)
{
    static sl_str_t t494 = sl_string("400 Request Header Or Cookie Too Large"),
                    t495 = sl_string("400 The SSL certificate error"),
                    t496 = sl_string("400 No required SSL certificate was sent"),
                    t497 = sl_string("400 The plain HTTP request was sent to HTTPS port");
    sl_str_t none = sl_null_string;

    static sl_str_t t302 = sl_string("302 Found"), t401 = sl_string("401 Authorization Required");

    switch (status) {
    case 302:
        /* the status line says "Moved Temporarily", nginx's page says "Found" */
        return t302;
    case 401:
        /* the status line says "Unauthorized", nginx's page "Authorization Required" */
        return t401;
    case 494:
        return t494;
    case 495:
        return t495;
    case 496:
        return t496;
    case 497:
        return t497;
    default: {
        const sl_str_t *line = sl_http_status_line(status);
        return line ? *line : none;
    }
    }
}

static sl_int_t send_page(sl_http_request_t *r, sl_uint_t status)
{
    static u_char tail[] =
        "<hr><center>sluice/" SLUICE_VERSION "</center>\r\n</body>\r\n</html>\r\n";
    static u_char tail_build[] = "<hr><center>sluice</center>\r\n</body>\r\n</html>\r\n";
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);
    sl_str_t title = page_title(status);

    r->headers_out.status = status >= 494 && status <= 497 ? SL_HTTP_BAD_REQUEST : status;
    if (title.len == 0 || status < SL_HTTP_SPECIAL_RESPONSE || status == SL_HTTP_NOT_MODIFIED) {
        /* 201, 204, 304 and codes without a page: the header alone, an empty body */
        r->headers_out.content_length_n = 0;
        sl_int_t rc = sl_http_send_header(r);
        return rc == SL_ERROR || r->header_only ? rc : sl_http_send_last(r);
    }
    u_char *tl = clcf->server_tokens == SL_HTTP_SERVER_TOKENS_OFF ? tail_build : tail;
    size_t tlen = clcf->server_tokens == SL_HTTP_SERVER_TOKENS_OFF ? sizeof(tail_build) - 1
                                                                   : sizeof(tail) - 1;
    size_t head_len = sizeof("<html>\r\n<head><title></title></head>\r\n<body>\r\n"
                             "<center><h1></h1></center>\r\n")
                      - 1 + 2 * title.len;
    sl_buf_t *b = sl_create_temp_buf(r->pool, head_len + tlen);
    if (b == NULL) {
        return SL_ERROR;
    }
    b->last = (u_char *) stpcpy((char *) b->last, "<html>\r\n<head><title>");
    b->last = (u_char *) mempcpy(b->last, title.data, title.len);
    b->last = (u_char *) stpcpy((char *) b->last, "</title></head>\r\n<body>\r\n<center><h1>");
    b->last = (u_char *) mempcpy(b->last, title.data, title.len);
    b->last = (u_char *) stpcpy((char *) b->last, "</h1></center>\r\n");
    b->last = (u_char *) mempcpy(b->last, tl, tlen);
    sl_http_mark_last(r, b);
    sl_str_t html = sl_string("text/html");
    sl_http_set_content_type(r, &html);
    r->headers_out.charset.len = 0;
    r->headers_out.content_length_n = (off_t) (b->last - b->pos);
    sl_http_clear_last_modified(r);
    sl_http_clear_accept_ranges(r);
    sl_http_clear_etag(r);
    sl_int_t rc = sl_http_send_header(r);
    if (rc == SL_ERROR || r->header_only) {
        return rc;
    }
    sl_chain_t out = { b, NULL };
    return sl_http_output_filter(r, &out);
}

/* error_page URL: a redirect, 302 unless "=301" etc. said otherwise. */
static sl_int_t error_page_redirect(sl_http_request_t *r, sl_http_err_page_t *err,
                                    const sl_str_t *url)
{
    sl_uint_t status = SL_HTTP_MOVED_TEMPORARILY;

    if (err->overwrite == 301 || err->overwrite == 302 || err->overwrite == 303
        || err->overwrite == 307 || err->overwrite == 308) {
        status = (sl_uint_t) err->overwrite;
    }
    if (sl_http_set_location(r, url->data, url->len) == NULL) {
        return SL_ERROR;
    }
    r->err_status = status;
    return send_page(r, status);
}

static sl_int_t send_error_page(sl_http_request_t *r, sl_http_err_page_t *err)
{
    sl_str_t target;

    if (sl_http_complex_value(r, err->target, &target) != SL_OK) {
        return SL_ERROR;
    }
    r->err_status = err->overwrite > 0 ? (sl_uint_t) err->overwrite : r->err_status;
    if (err->overwrite == 0) {
        r->err_status = 0;
    }
    if (target.len && target.data[0] == '@') {
        return sl_http_named_location(r, &target);
    }
    if (target.len && target.data[0] != '/') {
        return error_page_redirect(r, err, &target);
    }
    return sl_http_internal_redirect_get(r, &target, 0);
}

/* Errors after which the connection's framing or state cannot be trusted: no keepalive. */
static int breaks_keepalive(sl_uint_t status)
{
    return status == SL_HTTP_BAD_REQUEST || status == SL_HTTP_REQUEST_ENTITY_TOO_LARGE
           || status == SL_HTTP_REQUEST_URI_TOO_LARGE || status == SL_HTTP_TO_HTTPS
           || status == SL_HTTP_REQUEST_HEADER_TOO_LARGE || status == SL_HTTP_INTERNAL_SERVER_ERROR
           || status == SL_HTTP_NOT_IMPLEMENTED || status == SL_HTTP_VERSION_NOT_SUPPORTED;
}

sl_int_t sl_http_special_response_handler(sl_http_request_t *r, sl_int_t status)
{
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);

    /* nginx's own 494-497 are 400s on the wire and in $status */
    r->err_status = status >= SL_HTTP_REQUEST_HEADER_TOO_LARGE && status <= SL_HTTP_TO_HTTPS
                        ? SL_HTTP_BAD_REQUEST
                        : (sl_uint_t) status;
    if (breaks_keepalive((sl_uint_t) status)) {
        r->keepalive = 0;
    }
    if (r->header_sent) {
        /* too late for a page: the client sees a truncated response */
        r->connection->error = 1;
        return SL_ERROR;
    }
    /* a body is worth reading past only to keep the connection; a connection that will
     * close lingers instead (and framing in doubt is never read as a body).  An error
     * answer never invites the body: no "100 Continue" from here, as nginx */
    r->expect_tested = 1;
    if (r->keepalive && !r->discard_body && !r->reading_body
        && sl_http_discard_request_body(r) != SL_OK) {
        r->keepalive = 0;
    }
    if (!r->error_page && clcf->error_pages && r->uri_changes != 0) {
        sl_http_err_page_t *err = clcf->error_pages->elts;
        for (sl_uint_t i = 0; i < clcf->error_pages->nelts; i++) {
            if (err[i].status == (sl_uint_t) status) {
                r->error_page = 1;
                return send_error_page(r, &err[i]);
            }
        }
    }
    r->headers_out.content_type.len = 0;
    return send_page(r, (sl_uint_t) status);
}
