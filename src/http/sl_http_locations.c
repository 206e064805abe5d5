/*
 * sl_http_locations.c: building the per-level location lists and matching a uri.
 */
#include <stdlib.h>

#include "sl_http_locations.h"
#include "sl_http_output.h"
#include "sl_http_variables.h"
#include "sl_pool.h"

typedef struct {
    sl_http_core_loc_conf_t **exact, **prefix, **regex, **named;
    sl_uint_t nexact, nprefix, nregex, nnamed;
} lists_t;

static int cmp_prefix_len(const void *a, const void *b)
{
    const sl_http_core_loc_conf_t *x = *(sl_http_core_loc_conf_t *const *) a;
    const sl_http_core_loc_conf_t *y = *(sl_http_core_loc_conf_t *const *) b;

    return (int) y->name.len - (int) x->name.len;
}

static sl_int_t alloc_lists(sl_conf_t *cf, lists_t *l, sl_uint_t n)
{
    size_t size = (n + 1) * sizeof(sl_http_core_loc_conf_t *);

    l->exact = sl_pcalloc(cf->pool, size);
    l->prefix = sl_pcalloc(cf->pool, size);
    l->regex = sl_pcalloc(cf->pool, size);
    l->named = sl_pcalloc(cf->pool, size);
    return l->exact && l->prefix && l->regex && l->named ? SL_OK : SL_ERROR;
}

static sl_int_t check_duplicate(sl_conf_t *cf, sl_http_core_loc_conf_t **list, sl_uint_t n,
                                sl_http_core_loc_conf_t *clcf)
{
    for (sl_uint_t i = 0; i < n; i++) {
        if (sl_str_eq(&list[i]->name, &clcf->name)) {
            sl_log_error(SL_LOG_EMERG, cf->log, 0, "duplicate location \"%.*s\"",
                         SL_STR_ARG(clcf->name));
            return SL_ERROR;
        }
    }
    return SL_OK;
}

static sl_int_t classify(sl_conf_t *cf, lists_t *l, sl_http_core_loc_conf_t *clcf)
{
    if (clcf->named) {
        if (check_duplicate(cf, l->named, l->nnamed, clcf) != SL_OK) {
            return SL_ERROR;
        }
        l->named[l->nnamed++] = clcf;
    } else if (clcf->regex) {
        l->regex[l->nregex++] = clcf;
    } else if (clcf->exact_match) {
        if (check_duplicate(cf, l->exact, l->nexact, clcf) != SL_OK) {
            return SL_ERROR;
        }
        l->exact[l->nexact++] = clcf;
    } else {
        if (check_duplicate(cf, l->prefix, l->nprefix, clcf) != SL_OK) {
            return SL_ERROR;
        }
        l->prefix[l->nprefix++] = clcf;
    }
    return SL_OK;
}

sl_int_t sl_http_init_locations(sl_conf_t *cf, sl_http_core_loc_conf_t *clcf)
{
    lists_t l;
    sl_uint_t n = clcf->locations ? clcf->locations->nelts : 0;

    memset(&l, 0, sizeof(l));
    if (alloc_lists(cf, &l, n) != SL_OK) {
        return SL_ERROR;
    }
    sl_http_core_loc_conf_t **locs = clcf->locations ? clcf->locations->elts : NULL;
    for (sl_uint_t i = 0; i < n; i++) {
        if (classify(cf, &l, locs[i]) != SL_OK || sl_http_init_locations(cf, locs[i]) != SL_OK) {
            return SL_ERROR;
        }
    }
    /* longest prefix first; qsort's instability is harmless: equal names are rejected */
    qsort(l.prefix, l.nprefix, sizeof(*l.prefix), cmp_prefix_len);
    clcf->exact_locations = l.exact;
    clcf->prefix_locations = l.prefix;
    clcf->regex_locations = l.regex;
    clcf->named_locations = l.named;
    return SL_OK;
}

static int prefix_matches(const sl_http_core_loc_conf_t *clcf, const sl_str_t *uri)
{
    return uri->len >= clcf->name.len && memcmp(uri->data, clcf->name.data, clcf->name.len) == 0;
}

/* "location /dir/" with a handler and a request for "/dir": nginx answers 301 "/dir/". */
static int wants_auto_redirect(const sl_http_core_loc_conf_t *clcf, const sl_str_t *uri)
{
    return clcf->auto_redirect && uri->len + 1 == clcf->name.len
           && clcf->name.data[clcf->name.len - 1] == '/'
           && memcmp(uri->data, clcf->name.data, uri->len) == 0;
}

/*
 * The static part of the search at one level: SL_OK for an exact match (search over),
 * SL_AGAIN for a prefix match (go on: nested, then regexes), SL_DONE for an auto-redirect
 * candidate, SL_DECLINED for nothing.
 */
static sl_int_t find_static(sl_http_request_t *r, sl_http_core_loc_conf_t *pclcf)
{
    for (sl_http_core_loc_conf_t **e = pclcf->exact_locations; e && *e; e++) {
        if (sl_str_eq(&(*e)->name, &r->uri)) {
            r->loc_conf = (*e)->loc_conf;
            return SL_OK;
        }
    }
    for (sl_http_core_loc_conf_t **p = pclcf->prefix_locations; p && *p; p++) {
        if (prefix_matches(*p, &r->uri)) {
            r->loc_conf = (*p)->loc_conf;
            return SL_AGAIN;
        }
        if (wants_auto_redirect(*p, &r->uri)) {
            r->loc_conf = (*p)->loc_conf;
            return SL_DONE;
        }
    }
    return SL_DECLINED;
}

static sl_int_t find_location_level(sl_http_request_t *r)
{
    sl_http_core_loc_conf_t *pclcf = sl_http_get_module_loc_conf(r, sl_http_core_module);
    int noregex = 0;
    sl_int_t rc = find_static(r, pclcf);

    if (rc == SL_AGAIN) {
        sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);
        noregex = clcf->noregex;
        rc = find_location_level(r);
    }
    if (rc == SL_OK || rc == SL_DONE || rc == SL_ERROR) {
        return rc;
    }
    if (noregex) {
        return rc;
    }
    for (sl_http_core_loc_conf_t **x = pclcf->regex_locations; x && *x; x++) {
        sl_int_t n = sl_http_regex_match(r, (*x)->http_regex, &r->uri);
        if (n == SL_ERROR) {
            return SL_ERROR;
        }
        if (n > 0) {
            r->loc_conf = (*x)->loc_conf;
            rc = find_location_level(r);
            return rc == SL_ERROR ? rc : SL_OK;
        }
    }
    return rc;
}

sl_int_t sl_http_find_location(sl_http_request_t *r)
{
    /* start from the server's level */
    sl_http_core_srv_conf_t *cscf = sl_http_get_module_srv_conf(r, sl_http_core_module);

    r->loc_conf = cscf->ctx->loc_conf;
    sl_int_t rc = find_location_level(r);
    return rc == SL_ERROR ? SL_ERROR : rc == SL_DONE ? SL_DONE : SL_OK;
}

void sl_http_update_location_config(sl_http_request_t *r)
{
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);
    sl_connection_t *c = r->connection;

    if (r->method & clcf->limit_except) {
        r->loc_conf = clcf->limit_except_loc_conf;
        clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);
    }
    r->location = clcf;
    if (clcf->error_log) {
        c->log->file = clcf->error_log->file;
        c->log->log_level = clcf->error_log->log_level;
        c->log->next = clcf->error_log->next;
    }
    if (!clcf->tcp_nopush && c->tcp_nopush == SL_TCP_NOPUSH_UNSET) {
        /* nginx: for the rest of the connection (a cork already set is still lifted) */
        c->tcp_nopush = SL_TCP_NOPUSH_DISABLED;
    }
    if (r->keepalive) {
        if (clcf->keepalive_timeout == 0 || c->requests >= (sl_uint_t) clcf->keepalive_requests
            || (sl_msec_t) (sl_current_msec - c->start_msec) > clcf->keepalive_time) {
            r->keepalive = 0;
        }
    }
    if (clcf->handler) {
        r->content_handler = clcf->handler;
    }
}

sl_int_t sl_http_auto_redirect(sl_http_request_t *r)
{
    size_t len = r->uri.len + 1 + (r->args.len ? r->args.len + 1 : 0);
    u_char *p = sl_pnalloc(r->pool, len);

    if (p == NULL) {
        sl_http_close_request(r, SL_HTTP_INTERNAL_SERVER_ERROR);
        return SL_OK;
    }
    memcpy(p, r->uri.data, r->uri.len);
    p[r->uri.len] = '/';
    if (r->args.len) {
        p[r->uri.len + 1] = '?';
        memcpy(p + r->uri.len + 2, r->args.data, r->args.len);
    }
    if (sl_http_set_location(r, p, len) == NULL) {
        sl_http_close_request(r, SL_HTTP_INTERNAL_SERVER_ERROR);
        return SL_OK;
    }
    sl_http_finalize_request(r, SL_HTTP_MOVED_PERMANENTLY);
    return SL_OK;
}

sl_int_t sl_http_internal_redirect(sl_http_request_t *r, sl_str_t *uri, sl_str_t *args)
{
    r->uri_changes--;
    if (r->uri_changes == 0) {
        sl_log_error(SL_LOG_ERR, r->connection->log, 0,
                     "rewrite or internal redirection cycle while internally redirecting to "
                     "\"%.*s\"",
                     SL_STR_ARG(*uri));
        r->main->count++;
        sl_http_finalize_request(r, SL_HTTP_INTERNAL_SERVER_ERROR);
        return SL_DONE;
    }
    r->uri = *uri;
    sl_http_set_exten(r);
    if (args) {
        r->args = *args;
    } else {
        r->args.len = 0;
        r->args.data = NULL;
    }
    sl_http_core_main_conf_t *cmcf = sl_http_get_module_main_conf(r, sl_http_core_module);
    sl_http_core_srv_conf_t *cscf = sl_http_get_module_srv_conf(r, sl_http_core_module);
    r->loc_conf = cscf->ctx->loc_conf;
    /* module state starts afresh; variables set so far ("set $x") survive, as nginx */
    memset(r->ctx, 0, sl_http_module_count() * sizeof(void *));
    r->internal = 1;
    r->valid_unparsed_uri = 0;
    r->add_uri_to_alias = 0;
    r->main->count++;
    r->phase_handler = (sl_int_t) cmcf->server_rewrite_index;
    r->write_event_handler = sl_http_core_run_phases;
    sl_http_core_run_phases(r);
    return SL_DONE;
}

sl_int_t sl_http_named_location(sl_http_request_t *r, sl_str_t *name)
{
    sl_http_core_srv_conf_t *cscf = sl_http_get_module_srv_conf(r, sl_http_core_module);
    sl_http_core_loc_conf_t *sclcf = cscf->ctx->loc_conf[sl_http_core_module.ctx_index];

    r->main->count++;
    r->uri_changes--;
    if (r->uri_changes == 0) {
        sl_log_error(SL_LOG_ERR, r->connection->log, 0,
                     "rewrite or internal redirection cycle while redirect to named location "
                     "\"%.*s\"",
                     SL_STR_ARG(*name));
        sl_http_finalize_request(r, SL_HTTP_INTERNAL_SERVER_ERROR);
        return SL_DONE;
    }
    for (sl_http_core_loc_conf_t **n = sclcf->named_locations; n && *n; n++) {
        if (!sl_str_eq(&(*n)->name, name)) {
            continue;
        }
        sl_http_core_main_conf_t *cmcf = sl_http_get_module_main_conf(r, sl_http_core_module);
        r->loc_conf = (*n)->loc_conf;
        r->content_handler = NULL;
        sl_http_update_location_config(r);
        memset(r->ctx, 0, sl_http_module_count() * sizeof(void *));
        r->internal = 1;
        r->phase_handler = (sl_int_t) cmcf->location_rewrite_index;
        r->write_event_handler = sl_http_core_run_phases;
        sl_http_core_run_phases(r);
        return SL_DONE;
    }
    sl_log_error(SL_LOG_ERR, r->connection->log, 0, "could not find named location \"%.*s\"",
                 SL_STR_ARG(*name));
    sl_http_finalize_request(r, SL_HTTP_INTERNAL_SERVER_ERROR);
    return SL_DONE;
}

sl_int_t sl_http_internal_redirect_get(sl_http_request_t *r, const sl_str_t *target,
                                       int replace_args)
{
    sl_str_t uri = *target, args = sl_null_string;
    u_char *q = memchr(uri.data, '?', uri.len);

    if (q) {
        args.data = q + 1;
        args.len = (size_t) (uri.data + uri.len - q - 1);
        uri.len = (size_t) (q - uri.data);
    }
    if (r->method != SL_HTTP_HEAD) {
        r->method = SL_HTTP_GET;
        sl_str_set(&r->method_name, "GET");
    }
    return sl_http_internal_redirect(r, &uri, q || replace_args ? &args : NULL);
}
