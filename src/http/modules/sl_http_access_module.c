/*
 * sl_http_access_module.c: allow and deny (http, server, location, limit_except), as nginx
 * 1.22's access module.  The rules of a level are checked in order in the access phase and
 * the first that matches the client's address decides: "deny" answers 403 with the error
 * log line "access forbidden by rule", "allow" lets the request on; no match lets it on too.
 * A level without rules takes its parent's, all of them (rules never add up across levels).
 *
 * The client address is the connection's, which the realip module (registered before this
 * one) may have replaced in the phases before.
 */
#include "sl_http_access.h"
#include "sl_pool.h"

typedef struct {
    /** sl_http_access_rule_t; NULL when the level has none (then inherited) */
    sl_array_t *rules;
} access_loc_conf_t;

static void *create_loc_conf(sl_conf_t *cf);
static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child);
static sl_int_t postconfiguration(sl_conf_t *cf);
static char *set_rule(sl_conf_t *cf, sl_command_t *cmd, void *conf);

#define CTX (SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF | SL_HTTP_LMT_CONF)

// clang-format off
static sl_command_t access_commands[] = {
    { sl_string("allow"), CTX | SL_CONF_TAKE1, set_rule, SL_HTTP_LOC_CONF_OFFSET, 0, NULL },
    { sl_string("deny"), CTX | SL_CONF_TAKE1, set_rule, SL_HTTP_LOC_CONF_OFFSET, 0, NULL },
    sl_null_command,
};
// clang-format on

static sl_http_module_t access_module_ctx = {
    NULL, postconfiguration, NULL, NULL, NULL, NULL, create_loc_conf, merge_loc_conf,
};

sl_module_t sl_http_access_module = {
    "http_access", 0, 0, SL_HTTP_MODULE, &access_module_ctx, access_commands, NULL, NULL, NULL,
};

/* ---- matching ---- */

static int in6_matches(const sl_cidr_t *cidr, const u_char *addr)
{
    for (size_t i = 0; i < 16; i++) {
        if ((addr[i] & cidr->u.in6.mask.s6_addr[i]) != cidr->u.in6.addr.s6_addr[i]) {
            return 0;
        }
    }
    return 1;
}

static int has_family(const sl_http_access_rule_t *rules, sl_uint_t n, int family)
{
    for (sl_uint_t i = 0; i < n; i++) {
        if (rules[i].cidr.family == family || rules[i].cidr.family == AF_UNSPEC) {
            return 1;
        }
    }
    return 0;
}

sl_int_t sl_http_access_check(const struct sockaddr *sa, const sl_http_access_rule_t *rules,
                              sl_uint_t n)
{
    int family = sa->sa_family;
    in_addr_t in = 0;
    const u_char *in6 = NULL;

    if (family == AF_INET) {
        in = ((const struct sockaddr_in *) sa)->sin_addr.s_addr;
    } else if (family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *) sa)->sin6_addr;
        in6 = a6->s6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6) && has_family(rules, n, AF_INET)) {
            family = AF_INET;
            memcpy(&in, in6 + 12, 4);
        }
    } else if (family != AF_UNIX) {
        return SL_DECLINED;
    }
    for (sl_uint_t i = 0; i < n; i++) {
        const sl_cidr_t *cidr = &rules[i].cidr;
        int match = cidr->family == AF_UNSPEC;

        if (cidr->family == family) {
            match = family == AF_UNIX
                    || (family == AF_INET && (in & cidr->u.in.mask) == cidr->u.in.addr)
                    || (family == AF_INET6 && in6_matches(cidr, in6));
        }
        if (match) {
            return rules[i].deny ? SL_HTTP_FORBIDDEN : SL_OK;
        }
    }
    return SL_DECLINED;
}

/* The access phase handler: SL_DECLINED or SL_OK (let the request on), or 403. */
static sl_int_t access_handler(sl_http_request_t *r)
{
    access_loc_conf_t *alcf = sl_http_get_module_loc_conf(r, sl_http_access_module);

    if (alcf->rules == NULL) {
        return SL_DECLINED;
    }
    sl_int_t rc =
        sl_http_access_check(&r->connection->sockaddr.sa, alcf->rules->elts, alcf->rules->nelts);
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);
    /* under "satisfy any" the refusal is logged only if no other check allows */
    if (rc == SL_HTTP_FORBIDDEN && clcf->satisfy == SL_HTTP_SATISFY_ALL) {
        sl_log_error(SL_LOG_ERR, r->connection->log, 0, "access forbidden by rule");
    }
    return rc;
}

static sl_int_t postconfiguration(sl_conf_t *cf)
{
    return sl_http_add_phase_handler(cf, SL_HTTP_ACCESS_PHASE, access_handler);
}

/* ---- configuration ---- */

static void *create_loc_conf(sl_conf_t *cf)
{
    return sl_pcalloc(cf->pool, sizeof(access_loc_conf_t));
}

static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child)
{
    access_loc_conf_t *prev = parent;
    access_loc_conf_t *conf = child;

    if (conf->rules == NULL) {
        conf->rules = prev->rules;
    }
    return SL_CONF_OK;
}

/* allow | deny  address | CIDR | unix: | all */
static char *set_rule(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    access_loc_conf_t *alcf = conf;
    sl_str_t *value = cf->args->elts;
    sl_http_access_rule_t rule;

    memset(&rule, 0, sizeof(rule));
    rule.deny = sl_str_eq_cstr(&value[0], "deny");
    if (sl_str_eq_cstr(&value[1], "unix:")) {
        rule.cidr.family = AF_UNIX;
    } else if (!sl_str_eq_cstr(&value[1], "all")) {
        sl_int_t rc = sl_ptocidr(&value[1], &rule.cidr);
        if (rc == SL_ERROR) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid parameter \"%.*s\"",
                              SL_STR_ARG(value[1]));
            return SL_CONF_ERROR;
        }
        if (rc == SL_DONE) {
            sl_conf_log_error(SL_LOG_WARN, cf, 0, "low address bits of %.*s are meaningless",
                              SL_STR_ARG(value[1]));
        }
    }
    if (alcf->rules == NULL) {
        alcf->rules = sl_array_create(cf->pool, 4, sizeof(sl_http_access_rule_t));
        if (alcf->rules == NULL) {
            return SL_CONF_ERROR;
        }
    }
    sl_http_access_rule_t *slot = sl_array_push(alcf->rules);
    if (slot == NULL) {
        return SL_CONF_ERROR;
    }
    *slot = rule;
    return SL_CONF_OK;
}
