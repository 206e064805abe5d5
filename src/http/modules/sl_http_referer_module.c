/*
 * sl_http_referer_module.c: "valid_referers none | blocked | server_names | host[/uri] |
 * ~regex ...;" and $invalid_referer ("1" when the request's Referer is not among them, else
 * empty), as nginx 1.22's referer module.
 *
 * A Referer starting with "http://" or "https://" (and at least 11 bytes long) is matched by
 * its host (lowercased, up to '/' or ':', at most 256 bytes): exact names first, then "*.x"
 * and ".x" suffix wildcards (the longest), then "x.*" prefix wildcards; a name with a uri
 * part then also wants the referer's path to start with it (case matters).  Failing that,
 * the server's regex names are tried on the host, then the "~" regexes (caseless) on the
 * whole referer after the scheme.  Anything else is valid only under "blocked" (a Referer a
 * firewall mangled); no Referer at all only under "none".
 *
 * Names are scanned in lists: a valid_referers line holds a handful of them.
 */
#include "sl_http.h"
#include "sl_http_core_set.h"
#include "sl_http_variables.h"
#include "sl_pool.h"
#include "sl_regex.h"

#define HOST_MAX 256

typedef struct {
    /** lowercase: the name, the suffix ".x" of "*.x"/".x", or the prefix "x." of "x.*" */
    sl_str_t host;
    /** the uri part ("/path"), empty for none */
    sl_str_t uri;
    /** ".x": the bare "x" matches too */
    unsigned dot : 1;
} referer_name_t;

typedef struct {
    /** referer_name_t; NULL when this level has no valid_referers (then inherited) */
    sl_array_t *exact;
    sl_array_t *heads;
    sl_array_t *tails;
    /** sl_regex_t *: the "~" regexes, and the server's regex names */
    sl_array_t *regexes;
    sl_array_t *server_regexes;
    sl_int_t no_referer;
    sl_int_t blocked_referer;
    sl_int_t server_names;
    sl_int_t hash_max_size;
    sl_int_t hash_bucket_size;
} referer_loc_conf_t;

static void *create_loc_conf(sl_conf_t *cf);
static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child);
static sl_int_t preconfiguration(sl_conf_t *cf);
static char *valid_referers(sl_conf_t *cf, sl_command_t *cmd, void *conf);

#define CTX (SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF)
#define HASH_CTX (SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF | SL_CONF_TAKE1)

static sl_command_t referer_commands[] = {
    { sl_string("valid_referers"), CTX | SL_CONF_1MORE, valid_referers, SL_HTTP_LOC_CONF_OFFSET, 0,
      NULL },
    { sl_string("referer_hash_max_size"), HASH_CTX, sl_conf_set_num_slot, SL_HTTP_LOC_CONF_OFFSET,
      offsetof(referer_loc_conf_t, hash_max_size), NULL },
    { sl_string("referer_hash_bucket_size"), HASH_CTX, sl_conf_set_num_slot,
      SL_HTTP_LOC_CONF_OFFSET, offsetof(referer_loc_conf_t, hash_bucket_size), NULL },
    sl_null_command,
};

static sl_http_module_t referer_module_ctx = {
    preconfiguration, NULL, NULL, NULL, NULL, NULL, create_loc_conf, merge_loc_conf,
};

sl_module_t sl_http_referer_module = {
    "http_referer", 0, 0, SL_HTTP_MODULE, &referer_module_ctx, referer_commands, NULL, NULL, NULL,
};

/* ---- the request ---- */

/* The name host matches, NULL when none does. */
static referer_name_t *find_name(referer_loc_conf_t *conf, const sl_str_t *host)
{
    referer_name_t *n = conf->exact->elts, *best = NULL;

    for (sl_uint_t i = 0; i < conf->exact->nelts; i++) {
        if (sl_str_eq(&n[i].host, host)) {
            return &n[i];
        }
    }
    n = conf->heads->elts;
    for (sl_uint_t i = 0; i < conf->heads->nelts; i++) {
        size_t len = n[i].host.len;
        int tail_match =
            host->len > len && memcmp(host->data + host->len - len, n[i].host.data, len) == 0;
        int bare_match = n[i].dot && host->len == len - 1
                         && memcmp(host->data, n[i].host.data + 1, len - 1) == 0;
        if ((tail_match || bare_match) && (best == NULL || len > best->host.len)) {
            best = &n[i];
        }
    }
    if (best) {
        return best;
    }
    n = conf->tails->elts;
    for (sl_uint_t i = 0; i < conf->tails->nelts; i++) {
        size_t len = n[i].host.len;
        if (host->len > len && memcmp(host->data, n[i].host.data, len) == 0
            && (best == NULL || len > best->host.len)) {
            best = &n[i];
        }
    }
    return best;
}

/* 1 when one of the regexes matches s, 0 when none does, SL_ERROR on a matching failure. */
static sl_int_t match_any(sl_array_t *regexes, const sl_str_t *s)
{
    sl_regex_t **re = regexes ? regexes->elts : NULL;

    for (sl_uint_t i = 0; regexes && i < regexes->nelts; i++) {
        sl_int_t rc = sl_regex_exec(re[i], s, NULL, 0);
        if (rc != 0) {
            return rc > 0 ? 1 : SL_ERROR;
        }
    }
    return 0;
}

/* The referer after its scheme.  1 valid, 0 invalid, SL_ERROR. */
static sl_int_t valid_with_scheme(referer_loc_conf_t *conf, const u_char *ref, size_t len)
{
    u_char buf[HOST_MAX];
    const u_char *p = ref, *last = ref + len;
    size_t i = 0;

    for (; p < last && *p != '/' && *p != ':'; p++) {
        if (i == HOST_MAX) {
            return 0;
        }
        buf[i++] = sl_tolower(*p);
    }
    sl_str_t host = { i, buf };
    referer_name_t *name = find_name(conf, &host);
    if (name) {
        if (name->uri.len == 0) {
            return 1;
        }
        while (p < last && *p != '/') {
            p++;
        }
        return (size_t) (last - p) >= name->uri.len
               && memcmp(p, name->uri.data, name->uri.len) == 0;
    }
    sl_int_t rc = match_any(conf->server_regexes, &host);
    if (rc != 0) {
        return rc;
    }
    sl_str_t rest = { len, (u_char *) ref };
    return match_any(conf->regexes, &rest);
}

static sl_int_t referer_valid(sl_http_request_t *r, referer_loc_conf_t *conf)
{
    sl_table_elt_t *h = r->headers_in.referer;

    if (conf->exact == NULL
        || (conf->exact->nelts == 0 && conf->heads->nelts == 0 && conf->tails->nelts == 0
            && conf->regexes == NULL && conf->server_regexes == NULL)) {
        return 1;
    }
    if (h == NULL) {
        return conf->no_referer == 1;
    }
    const u_char *ref = h->value.data;
    size_t len = h->value.len;
    if (len >= sizeof("http://i.ru") - 1) {
        if (sl_strncasecmp(ref, (const u_char *) "http://", 7) == 0) {
            return valid_with_scheme(conf, ref + 7, len - 7);
        }
        if (sl_strncasecmp(ref, (const u_char *) "https://", 8) == 0) {
            return valid_with_scheme(conf, ref + 8, len - 8);
        }
    }
    return conf->blocked_referer == 1;
}

static sl_int_t invalid_referer_variable(sl_http_request_t *r, sl_http_variable_value_t *v,
                                         uintptr_t data)
{
    referer_loc_conf_t *conf = sl_http_get_module_loc_conf(r, sl_http_referer_module);
    sl_int_t rc = referer_valid(r, conf);

    if (rc == SL_ERROR) {
        return SL_ERROR;
    }
    v->data = (u_char *) (rc ? "" : "1");
    v->len = rc ? 0 : 1;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->escape = 0;
    return SL_OK;
}

static sl_int_t preconfiguration(sl_conf_t *cf)
{
    sl_str_t name = sl_string("invalid_referer");
    sl_http_variable_t *v = sl_http_add_variable(cf, &name, SL_HTTP_VAR_CHANGEABLE);

    if (v == NULL) {
        return SL_ERROR;
    }
    v->get_handler = invalid_referer_variable;
    return SL_OK;
}

/* ---- configuration ---- */

static void *create_loc_conf(sl_conf_t *cf)
{
    referer_loc_conf_t *conf = sl_pcalloc(cf->pool, sizeof(referer_loc_conf_t));

    if (conf == NULL) {
        return NULL;
    }
    conf->no_referer = SL_CONF_UNSET;
    conf->blocked_referer = SL_CONF_UNSET;
    conf->server_names = SL_CONF_UNSET;
    conf->hash_max_size = SL_CONF_UNSET;
    conf->hash_bucket_size = SL_CONF_UNSET;
    return conf;
}

static sl_int_t init_lists(sl_pool_t *pool, referer_loc_conf_t *conf)
{
    conf->exact = sl_array_create(pool, 4, sizeof(referer_name_t));
    conf->heads = sl_array_create(pool, 2, sizeof(referer_name_t));
    conf->tails = sl_array_create(pool, 2, sizeof(referer_name_t));
    return conf->exact && conf->heads && conf->tails ? SL_OK : SL_ERROR;
}

/* What kind of name: 0 exact, 1 "*.x" or ".x", 2 "x.*"; SL_ERROR for a "*" elsewhere (or
 * twice), an empty label or a name that is only a wildcard. */
static sl_int_t name_kind(const sl_str_t *n)
{
    const u_char *star = memchr(n->data, '*', n->len);

    for (size_t i = 0; i + 1 < n->len; i++) {
        if (n->data[i] == '.' && n->data[i + 1] == '.') {
            return SL_ERROR;
        }
    }
    if (star && memchr(star + 1, '*', (size_t) (n->data + n->len - star - 1))) {
        return SL_ERROR;
    }
    if (n->len > 2 && n->data[0] == '*' && n->data[1] == '.') {
        return 1;
    }
    if (n->len > 2 && n->data[n->len - 1] == '*' && n->data[n->len - 2] == '.') {
        return 2;
    }
    if (star) {
        return SL_ERROR;
    }
    return n->len > 1 && n->data[0] == '.' ? 1 : 0;
}

/* Adds host[/uri]; host is lowercased.  SL_CONF_OK, or an error (a name listed twice is
 * one, as nginx). */
static char *add_name(sl_conf_t *cf, referer_loc_conf_t *conf, const sl_str_t *value,
                      const sl_str_t *host_in, const sl_str_t *uri)
{
    referer_name_t name = { { host_in->len, sl_pnalloc(cf->pool, host_in->len + 1) }, *uri, 0 };
    sl_int_t kind = name_kind(host_in);

    if (name.host.data == NULL) {
        return SL_CONF_ERROR;
    }
    if (kind == SL_ERROR) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid hostname or wildcard \"%.*s\"",
                          SL_STR_ARG(*value));
        return SL_CONF_ERROR;
    }
    sl_strlow(name.host.data, host_in->data, host_in->len);
    sl_array_t *list = kind == 0 ? conf->exact : kind == 1 ? conf->heads : conf->tails;
    if (kind == 1 && name.host.data[0] == '*') {
        name.host.data++;
        name.host.len--;
    } else if (kind == 1) {
        name.dot = 1;
    } else if (kind == 2) {
        name.host.len--;
    }
    referer_name_t *n = list->elts;
    for (sl_uint_t i = 0; i < list->nelts; i++) {
        if (sl_str_eq(&n[i].host, &name.host) && n[i].dot == name.dot) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "conflicting parameter \"%.*s\"",
                              SL_STR_ARG(*value));
            return SL_CONF_ERROR;
        }
    }
    n = sl_array_push(list);
    if (n == NULL) {
        return SL_CONF_ERROR;
    }
    *n = name;
    return SL_CONF_OK;
}

static char *push_regex(sl_conf_t *cf, sl_array_t **list, sl_regex_t *re)
{
    if (*list == NULL) {
        *list = sl_array_create(cf->pool, 2, sizeof(sl_regex_t *));
        if (*list == NULL) {
            return SL_CONF_ERROR;
        }
    }
    sl_regex_t **slot = sl_array_push(*list);
    if (slot == NULL) {
        return SL_CONF_ERROR;
    }
    *slot = re;
    return SL_CONF_OK;
}

static char *add_regex(sl_conf_t *cf, sl_array_t **list, const sl_str_t *pattern)
{
    sl_regex_compile_t rc;

    memset(&rc, 0, sizeof(rc));
    rc.pattern = *pattern;
    rc.caseless = 1;
    if (sl_regex_compile(cf->pool, &rc) != SL_OK) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "%.*s", SL_STR_ARG(rc.err));
        return SL_CONF_ERROR;
    }
    return push_regex(cf, list, rc.regex);
}

static char *add_value(sl_conf_t *cf, referer_loc_conf_t *conf, sl_str_t *v)
{
    if (v->len == 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid referer \"%.*s\"", SL_STR_ARG(*v));
        return SL_CONF_ERROR;
    }
    if (sl_str_eq_cstr(v, "none")) {
        conf->no_referer = 1;
        return SL_CONF_OK;
    }
    if (sl_str_eq_cstr(v, "blocked")) {
        conf->blocked_referer = 1;
        return SL_CONF_OK;
    }
    if (sl_str_eq_cstr(v, "server_names")) {
        conf->server_names = 1;
        return SL_CONF_OK;
    }
    if (v->data[0] == '~') {
        sl_str_t pattern = { v->len - 1, v->data + 1 };
        if (pattern.len == 0) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "empty regex in \"%.*s\"", SL_STR_ARG(*v));
            return SL_CONF_ERROR;
        }
        return add_regex(cf, &conf->regexes, &pattern);
    }
    const u_char *slash = memchr(v->data, '/', v->len);
    sl_str_t host = { slash ? (size_t) (slash - v->data) : v->len, v->data };
    sl_str_t uri = { slash ? v->len - host.len : 0, (u_char *) slash };
    return add_name(cf, conf, v, &host, &uri);
}

static char *valid_referers(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    referer_loc_conf_t *rlcf = conf;
    sl_str_t *value = cf->args->elts;

    if (rlcf->exact == NULL && init_lists(cf->pool, rlcf) != SL_OK) {
        return SL_CONF_ERROR;
    }
    for (sl_uint_t i = 1; i < cf->args->nelts; i++) {
        char *rv = add_value(cf, rlcf, &value[i]);
        if (rv != SL_CONF_OK) {
            return rv;
        }
    }
    return SL_CONF_OK;
}

static char *add_empty_name(sl_conf_t *cf, referer_loc_conf_t *conf)
{
    referer_name_t *n = conf->exact->elts;

    for (sl_uint_t i = 0; i < conf->exact->nelts; i++) {
        if (n[i].host.len == 0) {
            return SL_CONF_OK;
        }
    }
    n = sl_array_push(conf->exact);
    if (n == NULL) {
        return SL_CONF_ERROR;
    }
    memset(n, 0, sizeof(*n));
    n->host.data = (u_char *) "";
    return SL_CONF_OK;
}

/* "server_names": every name of the server, read when merged so that names written after
 * valid_referers count too, as nginx. */
static char *add_server_names(sl_conf_t *cf, referer_loc_conf_t *conf)
{
    sl_http_core_srv_conf_t *cscf = sl_http_conf_get_module_srv_conf(cf, sl_http_core_module);
    sl_http_server_name_t *sn = cscf->server_names.elts;
    sl_str_t none = { 0, NULL };

    if (cscf->server_names.nelts == 0) {
        /* a server without server_name is named "" (nginx) */
        return add_empty_name(cf, conf);
    }

    for (sl_uint_t i = 0; i < cscf->server_names.nelts; i++) {
        char *rv = SL_CONF_OK;
        if (sn[i].regex) {
            rv = push_regex(cf, &conf->server_regexes, sn[i].regex);
        } else if (sn[i].name.len == 0) {
            /* "": nginx keys it as an exact name too */
            rv = add_empty_name(cf, conf);
        } else {
            rv = add_name(cf, conf, &sn[i].name, &sn[i].name, &none);
        }
        if (rv != SL_CONF_OK) {
            return rv;
        }
    }
    return SL_CONF_OK;
}

/* Each label of a wildcard name ("*.example.com": "example", "com"), as nginx's wildcard
 * hash keys them, checked against the bucket size. */
static sl_int_t check_labels(sl_conf_t *cf, referer_loc_conf_t *conf, const sl_array_t *list)
{
    const referer_name_t *n = list->elts;

    for (sl_uint_t i = 0; i < list->nelts; i++) {
        const u_char *p = n[i].host.data, *end = p + n[i].host.len;
        while (p < end) {
            const u_char *dot = memchr(p, '.', (size_t) (end - p));
            sl_str_t label = { (size_t) ((dot ? dot : end) - p), (u_char *) p };
            if (label.len
                && sl_http_hash_fit(cf, "referer_hash", &label, 1, conf->hash_max_size,
                                    conf->hash_bucket_size)
                       != SL_OK) {
                return SL_ERROR;
            }
            p += label.len + 1;
        }
    }
    return SL_OK;
}

/*
 * referer_hash_max_size and referer_hash_bucket_size: sluice matches names in its own
 * lists, but a level's names must pass the checks nginx's referer hash makes of them, with
 * nginx's lines: a name too long for a bucket stops the start; names no table of at most
 * max_size buckets holds are a [warn].
 */
static sl_int_t check_hash_sizes(sl_conf_t *cf, referer_loc_conf_t *conf)
{
    sl_uint_t n = conf->exact->nelts;

    if (n) {
        sl_str_t *keys = sl_palloc(cf->temp_pool, n * sizeof(sl_str_t));
        if (keys == NULL) {
            return SL_ERROR;
        }
        const referer_name_t *names = conf->exact->elts;
        for (sl_uint_t i = 0; i < n; i++) {
            keys[i] = names[i].host;
        }
        if (sl_http_hash_fit(cf, "referer_hash", keys, n, conf->hash_max_size,
                             conf->hash_bucket_size)
            != SL_OK) {
            return SL_ERROR;
        }
    }
    return check_labels(cf, conf, conf->heads) == SL_OK ? check_labels(cf, conf, conf->tails)
                                                        : SL_ERROR;
}

static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child)
{
    referer_loc_conf_t *prev = parent, *conf = child;

    sl_conf_merge_value(conf->hash_max_size, prev->hash_max_size, 2048);
    sl_conf_merge_value(conf->hash_bucket_size, prev->hash_bucket_size, 64);
    if (conf->exact == NULL) {
        conf->exact = prev->exact;
        conf->heads = prev->heads;
        conf->tails = prev->tails;
        conf->regexes = prev->regexes;
        conf->server_regexes = prev->server_regexes;
        sl_conf_merge_value(conf->no_referer, prev->no_referer, 0);
        sl_conf_merge_value(conf->blocked_referer, prev->blocked_referer, 0);
        return SL_CONF_OK;
    }
    if (conf->server_names == 1) {
        conf->server_names = 2;
        if (add_server_names(cf, conf) != SL_CONF_OK) {
            return SL_CONF_ERROR;
        }
    }
    /* as nginx 1.22: regexes do not count as valid referers here */
    if ((conf->no_referer == 1 || conf->blocked_referer == 1) && conf->exact->nelts == 0
        && conf->heads->nelts == 0 && conf->tails->nelts == 0) {
        sl_log_error(SL_LOG_EMERG, cf->log, 0,
                     "the \"none\" or \"blocked\" referers are specified in the "
                     "\"valid_referers\" directive without any valid referer");
        return SL_CONF_ERROR;
    }
    conf->no_referer = conf->no_referer == 1;
    conf->blocked_referer = conf->blocked_referer == 1;
    return check_hash_sizes(cf, conf) == SL_OK ? SL_CONF_OK : SL_CONF_ERROR;
}
