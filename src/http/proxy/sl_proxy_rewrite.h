/*
 * sl_proxy_rewrite.h: rewriting the upstream's response headers on their way to the client,
 * as nginx 1.22's proxy module does: proxy_redirect (Location, Refresh), proxy_cookie_domain,
 * proxy_cookie_path and proxy_cookie_flags (Set-Cookie).
 */
#ifndef SL_PROXY_REWRITE_H
#define SL_PROXY_REWRITE_H

#include "sl_http_request.h"

/* One level's rewriting rules, inside the proxy's loc conf.  Each array is SL_CONF_UNSET_PTR
 * when its directive is absent at the level (inherited then), NULL for "off". */
typedef struct {
    /** proxy_redirect rules, in order (the first match wins) */
    sl_array_t *redirects;
    sl_array_t *cookie_domains;
    sl_array_t *cookie_paths;
    /** proxy_cookie_flags entries, in order (the first whose name matches wins) */
    sl_array_t *cookie_flags;
    /** this level's proxy_pass, for "proxy_redirect default" (see sl_proxy_rewrite_pass) */
    sl_str_t pass_url;
    sl_str_t location;
    unsigned pass_set : 1;
    unsigned pass_vars : 1;
    unsigned pass_has_uri : 1;
} sl_proxy_rewrite_conf_t;

/* Sets the fields to "unset" (the proxy's create_loc_conf). */
void sl_proxy_rewrite_init(sl_proxy_rewrite_conf_t *rc);

/* proxy_pass seen at this level: url as written, whether it has a uri part or variables,
 * and the location's name (the replacement of "proxy_redirect default"). */
void sl_proxy_rewrite_pass(sl_proxy_rewrite_conf_t *rc, const sl_str_t *url, int has_uri, int vars,
                           const sl_str_t *location);

/* Inheritance as nginx: a directive present at a level replaces the parent's whole list;
 * without any proxy_redirect, a proxy_pass without variables gets "default".  SL_CONF_OK or
 * SL_CONF_ERROR. */
char *sl_proxy_rewrite_merge(sl_conf_t *cf, sl_proxy_rewrite_conf_t *prev,
                             sl_proxy_rewrite_conf_t *conf);

/* Whether any rule applies at this level (the proxy installs its header hook then). */
int sl_proxy_rewrite_active(const sl_proxy_rewrite_conf_t *rc);

/* The directive setters; cmd->offset is where the sl_proxy_rewrite_conf_t sits in conf. */
char *sl_proxy_set_redirect(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl_proxy_set_cookie_rewrite(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl_proxy_set_cookie_flags(sl_conf_t *cf, sl_command_t *cmd, void *conf);

/*
 * Rewrites one response header (already copied for the client) in place: Location and
 * Refresh by proxy_redirect, Set-Cookie by the cookie directives.  SL_OK when a Location was
 * rewritten (the caller makes it r->headers_out.location, so that a relative result is made
 * absolute), SL_DECLINED when the header is left as it is or is not a Location, SL_ERROR
 * (memory, a variable that failed).
 */
sl_int_t sl_proxy_rewrite_header(sl_http_request_t *r, sl_proxy_rewrite_conf_t *rc,
                                 sl_table_elt_t *h);

#endif /* SL_PROXY_REWRITE_H */
