/*
 * sl_http_gzip_ok_module.c: whether a request may get a gzip-encoded response, the one
 * decision the gzip filter and gzip_static share, and the directives that steer it:
 *
 *   gzip_vary on|off                      "Vary: Accept-Encoding" on what either could compress
 *   gzip_http_version 1.0|1.1             the lowest request version (default 1.1)
 *   gzip_proxied off|expired|no-cache|no-store|private|no_last_modified|no_etag|auth|any ...
 *                                         requests that came through a proxy (a Via header)
 *   gzip_disable regex|msie6 ...          User-Agents never sent gzip
 *
 * nginx keeps these in its core module for the same reason: they are not the filter's alone.
 */
#include "sl_http_gzip.h"
#include "sl_http_output.h"
#include "sl_pool.h"
#include "sl_regex.h"

#define PROXIED_OFF 0x0002
#define PROXIED_EXPIRED 0x0004
#define PROXIED_NO_CACHE 0x0008
#define PROXIED_NO_STORE 0x0010
#define PROXIED_PRIVATE 0x0020
#define PROXIED_NO_LM 0x0040
#define PROXIED_NO_ETAG 0x0080
#define PROXIED_AUTH 0x0100
#define PROXIED_ANY 0x0200

typedef struct {
    sl_int_t vary;
    sl_uint_t http_version;
    sl_uint_t proxied;
    /** sl_regex_t *, matched against the User-Agent; NULL for none, UNSET_PTR before merge */
    sl_array_t *disable;
    sl_int_t disable_msie6;
} gzip_ok_loc_conf_t;

static void *create_loc_conf(sl_conf_t *cf);
static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child);
static char *set_disable(sl_conf_t *cf, sl_command_t *cmd, void *conf);

static sl_conf_enum_t http_versions[] = {
    { sl_string("1.0"), SL_HTTP_VERSION_10 },
    { sl_string("1.1"), SL_HTTP_VERSION_11 },
    { sl_null_string, 0 },
};

// clang-format off
static sl_conf_bitmask_t proxied_values[] = {
    { sl_string("off"), PROXIED_OFF },
    { sl_string("expired"), PROXIED_EXPIRED },
    { sl_string("no-cache"), PROXIED_NO_CACHE },
    { sl_string("no-store"), PROXIED_NO_STORE },
    { sl_string("private"), PROXIED_PRIVATE },
    { sl_string("no_last_modified"), PROXIED_NO_LM },
    { sl_string("no_etag"), PROXIED_NO_ETAG },
    { sl_string("auth"), PROXIED_AUTH },
    { sl_string("any"), PROXIED_ANY },
    { sl_null_string, 0 },
};
// clang-format on

#define CTX (SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF)
#define LOCF(f) offsetof(gzip_ok_loc_conf_t, f)

// clang-format off
static sl_command_t gzip_ok_commands[] = {
    { sl_string("gzip_vary"), CTX | SL_CONF_FLAG, sl_conf_set_flag_slot, SL_HTTP_LOC_CONF_OFFSET, LOCF(vary), NULL },
    { sl_string("gzip_http_version"), CTX | SL_CONF_TAKE1, sl_conf_set_enum_slot, SL_HTTP_LOC_CONF_OFFSET, LOCF(http_version), http_versions },
    { sl_string("gzip_proxied"), CTX | SL_CONF_1MORE, sl_conf_set_bitmask_slot, SL_HTTP_LOC_CONF_OFFSET, LOCF(proxied), proxied_values },
    { sl_string("gzip_disable"), CTX | SL_CONF_1MORE, set_disable, SL_HTTP_LOC_CONF_OFFSET, 0, NULL },
    sl_null_command,
};
// clang-format on

static sl_http_module_t gzip_ok_module_ctx = {
    NULL, NULL, NULL, NULL, NULL, NULL, create_loc_conf, merge_loc_conf,
};

sl_module_t sl_http_gzip_ok_module = {
    "http_gzip_ok", 0, 0, SL_HTTP_MODULE, &gzip_ok_module_ctx, gzip_ok_commands, NULL, NULL, NULL,
};

static void *create_loc_conf(sl_conf_t *cf)
{
    gzip_ok_loc_conf_t *conf = sl_pcalloc(cf->pool, sizeof(gzip_ok_loc_conf_t));

    if (conf) {
        conf->vary = SL_CONF_UNSET;
        conf->http_version = SL_CONF_UNSET_UINT;
        conf->disable = SL_CONF_UNSET_PTR;
        conf->disable_msie6 = SL_CONF_UNSET;
    }
    return conf;
}

static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child)
{
    gzip_ok_loc_conf_t *prev = parent;
    gzip_ok_loc_conf_t *conf = child;

    sl_conf_merge_value(conf->vary, prev->vary, 0);
    sl_conf_merge_uint_value(conf->http_version, prev->http_version, SL_HTTP_VERSION_11);
    sl_conf_merge_bitmask_value(conf->proxied, prev->proxied, PROXIED_OFF);
    sl_conf_merge_ptr_value(conf->disable, prev->disable, NULL);
    sl_conf_merge_value(conf->disable_msie6, prev->disable_msie6, 0);
    return SL_CONF_OK;
}

/* "msie6" is the built-in test; every other value is a case-insensitive regex.  A location
 * with its own gzip_disable does not inherit the regexes of the levels above (as nginx). */
static char *set_disable(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    gzip_ok_loc_conf_t *gcf = conf;
    sl_str_t *value = cf->args->elts;

    if (gcf->disable == SL_CONF_UNSET_PTR) {
        gcf->disable = sl_array_create(cf->pool, 2, sizeof(sl_regex_t *));
        if (gcf->disable == NULL) {
            return SL_CONF_ERROR;
        }
    }
    for (sl_uint_t i = 1; i < cf->args->nelts; i++) {
        if (value[i].len == 5 && memcmp(value[i].data, "msie6", 5) == 0) {
            gcf->disable_msie6 = 1;
            continue;
        }
        sl_regex_compile_t rc;
        memset(&rc, 0, sizeof(rc));
        rc.pattern = value[i];
        rc.caseless = 1;
        if (sl_regex_compile(cf->pool, &rc) != SL_OK) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "%.*s", SL_STR_ARG(rc.err));
            return SL_CONF_ERROR;
        }
        sl_regex_t **re = sl_array_push(gcf->disable);
        if (re == NULL) {
            return SL_CONF_ERROR;
        }
        *re = rc.regex;
    }
    return SL_CONF_OK;
}

/* Whether a Cache-Control line of the response has the directive name (a token of its own:
 * "no-cache" is in "no-cache, max-age=0" but not in "x-no-cache"). */
static int cache_control_has(sl_http_request_t *r, const char *name)
{
    size_t len = strlen(name);

    SL_LIST_FOREACH(&r->headers_out.headers, part, i, sl_table_elt_t, h)
    {
        if (h->hash == 0 || h->key.len != 13
            || sl_strncasecmp(h->key.data, (u_char *) "Cache-Control", 13) != 0) {
            continue;
        }
        for (const u_char *p = h->value.data, *end = p + h->value.len; end - p >= (ssize_t) len;
             p++) {
            if (sl_strncasecmp((u_char *) p, (u_char *) name, len) == 0
                && (p == h->value.data || p[-1] == ',' || p[-1] == ' ')
                && (p + len == end || p[len] == ',' || p[len] == ' ' || p[len] == ';'
                    || p[len] == '=')) {
                return 1;
            }
        }
    }
    return 0;
}

static int has_cache_control(sl_http_request_t *r)
{
    SL_LIST_FOREACH(&r->headers_out.headers, part, i, sl_table_elt_t, h)
    {
        if (h->hash && h->key.len == 13
            && sl_strncasecmp(h->key.data, (u_char *) "Cache-Control", 13) == 0) {
            return 1;
        }
    }
    return 0;
}

/* An Expires already past (by the response's Date, else now): nothing will cache it. */
static int expired(sl_http_request_t *r)
{
    sl_table_elt_t *e = r->headers_out.expires, *d = r->headers_out.date;
    time_t expires = sl_http_parse_time(e->value.data, e->value.len);
    time_t date = d ? sl_http_parse_time(d->value.data, d->value.len) : sl_cached_time_sec;

    return expires != -1 && date != -1 && expires < date;
}

/*
 * gzip_proxied for a request that came through a proxy, in nginx's order: off refuses; any
 * and (with auth) an Authorization header allow; an Expires header decides alone (expired
 * and past); so does a Cache-Control header (no-cache, no-store or private, as listed);
 * otherwise no_last_modified and no_etag refuse a response with that header, and anything
 * left is allowed.
 */
static int proxied_allows(sl_http_request_t *r, sl_uint_t p)
{
    if (p & PROXIED_OFF) {
        return 0;
    }
    if ((p & PROXIED_ANY) || (r->headers_in.authorization && (p & PROXIED_AUTH))) {
        return 1;
    }
    if (r->headers_out.expires) {
        return (p & PROXIED_EXPIRED) && expired(r);
    }
    if (has_cache_control(r)) {
        return ((p & PROXIED_NO_CACHE) && cache_control_has(r, "no-cache"))
               || ((p & PROXIED_NO_STORE) && cache_control_has(r, "no-store"))
               || ((p & PROXIED_PRIVATE) && cache_control_has(r, "private"));
    }
    if ((p & PROXIED_NO_LM) && r->headers_out.last_modified) {
        return 0;
    }
    return !((p & PROXIED_NO_ETAG) && r->headers_out.etag);
}

static int user_agent_disabled(sl_http_request_t *r, gzip_ok_loc_conf_t *conf)
{
    sl_table_elt_t *ua = r->headers_in.user_agent;

    if (conf->disable == NULL || ua == NULL) {
        return 0;
    }
    sl_regex_t **re = conf->disable->elts;
    for (sl_uint_t i = 0; i < conf->disable->nelts; i++) {
        sl_int_t rc = sl_regex_exec(re[i], &ua->value, NULL, 0);
        if (rc != 0) {
            /* a failed match counts as a match: the safe answer is no gzip */
            return 1;
        }
    }
    return 0;
}

sl_int_t sl_http_gzip_ok(sl_http_request_t *r)
{
    gzip_ok_loc_conf_t *conf = sl_http_get_module_loc_conf(r, sl_http_gzip_ok_module);
    sl_table_elt_t *ae = r->headers_in.accept_encoding;

    r->gzip_tested = 1;
    r->gzip_ok = 0;
    if (r != r->main || ae == NULL || !sl_http_gzip_accept_encoding(ae->value.data, ae->value.len)
        || (r->headers_in.msie6 && conf->disable_msie6) || r->http_version < conf->http_version
        || (r->headers_in.via && !proxied_allows(r, conf->proxied))
        || user_agent_disabled(r, conf)) {
        return SL_DECLINED;
    }
    r->gzip_ok = 1;
    return SL_OK;
}

void sl_http_gzip_set_vary(sl_http_request_t *r)
{
    if (sl_http_gzip_vary_on(r)) {
        r->gzip_vary = 1;
    }
}

int sl_http_gzip_vary_on(sl_http_request_t *r)
{
    gzip_ok_loc_conf_t *conf = sl_http_get_module_loc_conf(r, sl_http_gzip_ok_module);

    return conf->vary != 0;
}
