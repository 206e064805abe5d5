/*
 * sl_upstream_intercept.c: upstream responses that are not sent as they came.
 *
 * proxy_intercept_errors hands a status >= 300 that has an error_page to that error_page;
 * X-Accel-Redirect sends the request to another uri or named location.  Either way the
 * upstream's body is not wanted: its connection is kept only when the response had none
 * (as nginx 1.22, which never reads a body it is about to drop).
 */
#include "sl_http_output.h"
#include "sl_http_parse.h"
#include "sl_upstream.h"

/* The response headers nginx carries over to the target of an X-Accel-Redirect. */
static sl_int_t keep_for_redirect(sl_http_request_t *r, sl_upstream_t *u)
{
    SL_LIST_FOREACH(&u->headers_in.headers, part, i, sl_table_elt_t, h)
    {
        sl_uint_t kind = sl_upstream_elt_kind(h);
        if (kind == SL_UPSTREAM_H_CONTENT_TYPE) {
            sl_http_set_content_type_with_charset(r, &h->value);
            continue;
        }
        if ((kind == SL_UPSTREAM_H_SET_COOKIE || kind == SL_UPSTREAM_H_CACHE_CONTROL
             || kind == SL_UPSTREAM_H_EXPIRES)
            && sl_upstream_pass_header(r, h) == NULL) {
            return SL_ERROR;
        }
    }
    return SL_OK;
}

/* A path that climbs out of its root ("/../x", "/a/..", "/./") or holds a NUL: refused, as
 * nginx refuses it in X-Accel-Redirect. */
static int unsafe_uri(const sl_str_t *uri)
{
    const u_char *p = uri->data, *end = uri->data + uri->len;

    if (memchr(p, '\0', uri->len)) {
        return 1;
    }
    while (p < end) {
        const u_char *seg = p;
        while (p < end && *p != '/') {
            p++;
        }
        size_t n = (size_t) (p - seg);
        if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.')) {
            return 1;
        }
        p++;
    }
    return 0;
}

/* X-Accel-Redirect: SL_DECLINED without one, SL_DONE with u->redirect set, 404 when the
 * uri is unsafe (logged as nginx). */
static sl_int_t x_accel_redirect(sl_http_request_t *r, sl_upstream_t *u)
{
    if (u->conf->ignore_headers & SL_UPSTREAM_IGN_XA_REDIRECT) {
        return SL_DECLINED;
    }
    const sl_table_elt_t *h = sl_upstream_find_header(u, SL_UPSTREAM_H_XA_REDIRECT);
    if (h == NULL || h->value.len == 0) {
        return SL_DECLINED;
    }
    if (h->value.data[0] != '@') {
        u_char *q = memchr(h->value.data, '?', h->value.len);
        sl_str_t path = { q ? (size_t) (q - h->value.data) : h->value.len, h->value.data };
        if (unsafe_uri(&path)) {
            sl_log_error(SL_LOG_ERR, r->connection->log, 0, "unsafe URI \"%.*s\" was detected",
                         SL_STR_ARG(path));
            return SL_HTTP_NOT_FOUND;
        }
    }
    if (keep_for_redirect(r, u) != SL_OK) {
        return SL_ERROR;
    }
    u->redirect = h->value;
    return SL_DONE;
}

/* proxy_intercept_errors: the status to end with when an error_page takes over, else
 * SL_DECLINED. */
static sl_int_t intercept(sl_http_request_t *r, sl_upstream_t *u)
{
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);
    sl_uint_t status = u->headers_in.status_n;

    if (!u->conf->intercept_errors || status < SL_HTTP_SPECIAL_RESPONSE
        || clcf->error_pages == NULL) {
        return SL_DECLINED;
    }
    sl_http_err_page_t *err = clcf->error_pages->elts;
    for (sl_uint_t i = 0; i < clcf->error_pages->nelts; i++) {
        if (err[i].status != status) {
            continue;
        }
        /* the challenge still belongs to the answer (nginx keeps it too) */
        const sl_table_elt_t *auth = sl_upstream_find_header(u, SL_UPSTREAM_H_WWW_AUTHENTICATE);
        if (status == 401 && auth
            && sl_http_add_response_header(r, "WWW-Authenticate", auth->value.data, auth->value.len)
                   == NULL) {
            return SL_ERROR;
        }
        return (sl_int_t) status;
    }
    return SL_DECLINED;
}

sl_int_t sl__upstream_divert(sl_http_request_t *r, sl_upstream_t *u)
{
    sl_int_t rc = intercept(r, u);

    return rc != SL_DECLINED ? rc : x_accel_redirect(r, u);
}

sl_int_t sl__upstream_redirect(sl_http_request_t *r, sl_upstream_t *u)
{
    sl_str_t uri = u->redirect;

    u->redirect.len = 0;
    if (uri.data[0] == '@') {
        return sl_http_named_location(r, &uri);
    }
    /* the header's args replace the request's, even when it has none (nginx) */
    return sl_http_internal_redirect_get(r, &uri, 1);
}

/* X-Accel-Charset names the charset the client gets; the charset filter applies it (and
 * logs a name no charset directive or map gave). */
void sl__upstream_x_accel_charset(sl_http_request_t *r, sl_upstream_t *u)
{
    if (u->conf->ignore_headers & SL_UPSTREAM_IGN_XA_CHARSET) {
        return;
    }
    const sl_table_elt_t *h = sl_upstream_find_header(u, SL_UPSTREAM_H_XA_CHARSET);
    if (h) {
        r->headers_out.override_charset = h->value;
    }
}
