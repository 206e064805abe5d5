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
#include "sl_pool.h"
#include "sl_upstream.h"

static int other_named(const sl_table_elt_t *h, const char *name)
{
    size_t n = strlen(name);

    return h->key.len == n && sl_strncasecmp(h->key.data, (const u_char *) name, n) == 0;
}

/* The response headers nginx carries over to the target of an X-Accel-Redirect:
 * Content-Type, Set-Cookie, Content-Disposition, Cache-Control, Expires and Accept-Ranges
 * (proxy_hide_header does not apply to them, as in nginx). */
static sl_int_t keep_for_redirect(sl_http_request_t *r, sl_upstream_t *u)
{
    SL_LIST_FOREACH(&u->headers_in.headers, part, i, sl_table_elt_t, h)
    {
        sl_uint_t kind = sl_upstream_elt_kind(h);
        if (kind == SL_UPSTREAM_H_CONTENT_TYPE) {
            sl_http_set_content_type_with_charset(r, &h->value);
            continue;
        }
        int keep = kind == SL_UPSTREAM_H_SET_COOKIE || kind == SL_UPSTREAM_H_CACHE_CONTROL
                   || kind == SL_UPSTREAM_H_EXPIRES || kind == SL_UPSTREAM_H_ACCEPT_RANGES
                   || (kind == SL_UPSTREAM_H_OTHER && other_named(h, "content-disposition"));
        sl_table_elt_t *o = keep ? sl_upstream_pass_header(r, h) : NULL;
        if (keep && o == NULL) {
            return SL_ERROR;
        }
        if (kind == SL_UPSTREAM_H_ACCEPT_RANGES) {
            r->headers_out.accept_ranges = o;
        }
    }
    return SL_OK;
}

/* X-Accel-Redirect: SL_DECLINED without one, SL_DONE with u->redirect (and its args)
 * set, 404 when the uri is unsafe (sl_http_parse_unsafe_uri; logged as nginx, with the
 * path decoded). */
static sl_int_t x_accel_redirect(sl_http_request_t *r, sl_upstream_t *u)
{
    if (u->conf->ignore_headers & SL_UPSTREAM_IGN_XA_REDIRECT) {
        return SL_DECLINED;
    }
    const sl_table_elt_t *h = sl_upstream_find_header(u, SL_UPSTREAM_H_XA_REDIRECT);
    if (h == NULL || h->value.len == 0) {
        return SL_DECLINED;
    }
    sl_str_t target = h->value, args = sl_null_string;
    if (h->value.data[0] != '@') {
        u_char *dst = sl_pnalloc(r->pool, h->value.len);
        if (dst == NULL) {
            return SL_ERROR;
        }
        if (sl_http_parse_unsafe_uri(dst, &target, &args) != SL_OK) {
            /* a decoded NUL would cut the log line short: the header as it came then */
            const sl_str_t *shown = memchr(target.data, '\0', target.len) ? &h->value : &target;
            sl_log_error(SL_LOG_ERR, r->connection->log, 0, "unsafe URI \"%.*s\" was detected",
                         SL_STR_ARG(*shown));
            return SL_HTTP_NOT_FOUND;
        }
    }
    if (keep_for_redirect(r, u) != SL_OK) {
        return SL_ERROR;
    }
    u->redirect = target;
    u->redirect_args = args;
    return SL_DONE;
}

/* The challenges of an intercepted 401 still belong to the answer: every WWW-Authenticate
 * the upstream sent, in order, as nginx 1.23 and later keep them (1.22 keeps the first). */
static sl_int_t keep_challenges(sl_http_request_t *r, sl_upstream_t *u)
{
    if (!(u->headers_in.seen & SL_UPSTREAM_H_BIT(SL_UPSTREAM_H_WWW_AUTHENTICATE))) {
        return SL_OK;
    }
    SL_LIST_FOREACH(&u->headers_in.headers, part, i, sl_table_elt_t, h)
    {
        if (sl_upstream_elt_kind(h) == SL_UPSTREAM_H_WWW_AUTHENTICATE
            && sl_upstream_pass_header(r, h) == NULL) {
            return SL_ERROR;
        }
    }
    return SL_OK;
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
        if (status == 401 && keep_challenges(r, u) != SL_OK) {
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
    sl_str_t uri = u->redirect, args = u->redirect_args;

    u->redirect.len = 0;
    if (uri.data[0] == '@') {
        return sl_http_named_location(r, &uri);
    }
    /* as error_page's redirects: GET, a HEAD staying HEAD; the header's args replace the
     * request's, even when it has none (nginx).  The decoded path may hold a '?': it is
     * the path's, so the args go apart. */
    if (r->method != SL_HTTP_HEAD) {
        r->method = SL_HTTP_GET;
        sl_str_set(&r->method_name, "GET");
    }
    return sl_http_internal_redirect(r, &uri, &args);
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
