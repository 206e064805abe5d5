/*
 * sl_upstream_group.c: the "upstream" block and its "server" lines, the group registry
 * (find by name, implicit groups of proxy_pass), and building every group's peers at the end
 * of the http block.
 *
 * Parsing and error wording follow nginx 1.22 (checked with nginx -t): the server's
 * parameters are read before its address, so "invalid parameter" wins over a bad address;
 * a parameter the balancing method in force at that line does not accept is "balancing
 * method does not support parameter"; a block without servers fails at its "}".
 */
#include <stdio.h>

#include "sl_pool.h"
#include "sl_upstream_group.h"
#include "sl_upstream_keepalive.h"
#include "sl_upstream_zone.h"

/* The server parameters the default (round robin) accepts: all of them. */
#define ALL_PARAMS                                                                                 \
    (SL_UPSTREAM_WEIGHT | SL_UPSTREAM_MAX_FAILS | SL_UPSTREAM_FAIL_TIMEOUT | SL_UPSTREAM_DOWN      \
     | SL_UPSTREAM_BACKUP | SL_UPSTREAM_MAX_CONNS)

static void *create_main_conf(sl_conf_t *cf);
static char *init_main_conf(sl_conf_t *cf, void *conf);
static char *upstream_block(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *server_directive(sl_conf_t *cf, sl_command_t *cmd, void *conf);

#define UPS SL_HTTP_UPS_CONF
#define SRV SL_HTTP_SRV_CONF_OFFSET

// clang-format off
static sl_command_t upstream_commands[] = {
    { sl_string("upstream"), SL_HTTP_MAIN_CONF | SL_CONF_BLOCK | SL_CONF_TAKE1, upstream_block, SL_HTTP_MAIN_CONF_OFFSET, 0, NULL },
    { sl_string("server"), UPS | SL_CONF_1MORE, server_directive, SRV, 0, NULL },
    { sl_string("least_conn"), UPS | SL_CONF_NOARGS, sl__upstream_least_conn_directive, SRV, 0, NULL },
    { sl_string("ip_hash"), UPS | SL_CONF_NOARGS, sl__upstream_ip_hash_directive, SRV, 0, NULL },
    { sl_string("hash"), UPS | SL_CONF_TAKE12, sl__upstream_hash_directive, SRV, 0, NULL },
    { sl_string("random"), UPS | SL_CONF_NOARGS | SL_CONF_TAKE12, sl__upstream_random_directive, SRV, 0, NULL },
    { sl_string("keepalive"), UPS | SL_CONF_TAKE1, sl__upstream_keepalive_directive, SRV, 0, NULL },
    { sl_string("zone"), UPS | SL_CONF_TAKE12, sl__upstream_zone_directive, SRV, 0, NULL },
    { sl_string("keepalive_requests"), UPS | SL_CONF_TAKE1, sl__upstream_keepalive_requests_directive, SRV, 0, NULL },
    { sl_string("keepalive_time"), UPS | SL_CONF_TAKE1, sl__upstream_keepalive_time_directive, SRV, 0, NULL },
    { sl_string("keepalive_timeout"), UPS | SL_CONF_TAKE1, sl__upstream_keepalive_timeout_directive, SRV, 0, NULL },
    sl_null_command,
};
// clang-format on

static sl_http_module_t upstream_module_ctx = {
    NULL, NULL, create_main_conf, init_main_conf, NULL, NULL, NULL, NULL,
};

sl_module_t sl_http_upstream_module = {
    "http_upstream",   0,    0,    SL_HTTP_MODULE, &upstream_module_ctx,
    upstream_commands, NULL, NULL, NULL,
};

static void *create_main_conf(sl_conf_t *cf)
{
    sl_upstream_main_conf_t *umcf = sl_pcalloc(cf->pool, sizeof(sl_upstream_main_conf_t));

    if (umcf == NULL
        || sl_array_init(&umcf->groups, cf->pool, 4, sizeof(sl_upstream_group_t *)) != SL_OK
        || sl_array_init(&umcf->zones, cf->pool, 2, sizeof(sl_upstream_zone_t *)) != SL_OK) {
        return NULL;
    }
    return umcf;
}

/* Every upstream{} block has been read: build the peers, as nginx does at this point. */
static char *init_main_conf(sl_conf_t *cf, void *conf)
{
    sl_upstream_main_conf_t *umcf = conf;
    sl_upstream_group_t **g = umcf->groups.elts;

    for (sl_uint_t i = 0; i < umcf->groups.nelts; i++) {
        if (!g[i]->implicit && sl_upstream_group_init(cf, g[i]) != SL_OK) {
            return SL_CONF_ERROR;
        }
    }
    return sl__upstream_zones_init(cf, umcf) == SL_OK ? SL_CONF_OK : SL_CONF_ERROR;
}

static sl_upstream_group_t *find_group(sl_upstream_main_conf_t *umcf, const sl_str_t *name,
                                       int implicit, int port)
{
    sl_upstream_group_t **g = umcf->groups.elts;

    for (sl_uint_t i = 0; i < umcf->groups.nelts; i++) {
        if (g[i]->implicit == (unsigned) implicit && sl_str_caseeq(&g[i]->name, name)
            && (!implicit || g[i]->port == port)) {
            return g[i];
        }
    }
    return NULL;
}

sl_upstream_group_t *sl_upstream_group_find(sl_conf_t *cf, const sl_str_t *name)
{
    return find_group(sl_http_conf_get_module_main_conf(cf, sl_http_upstream_module), name, 0, 0);
}

sl_upstream_group_t *sl_upstream_group_for_host(sl_http_request_t *r, const sl_str_t *host,
                                                int port, int no_port)
{
    sl_upstream_main_conf_t *umcf = sl_http_get_module_main_conf(r, sl_http_upstream_module);
    sl_upstream_group_t **g = umcf->groups.elts;

    for (sl_uint_t i = 0; i < umcf->groups.nelts; i++) {
        int port_ok = g[i]->implicit ? g[i]->port == port : no_port;
        if (port_ok && sl_str_caseeq(&g[i]->name, host)) {
            return g[i];
        }
    }
    return NULL;
}

sl_upstream_group_t *sl_upstream_cycle_group(sl_cycle_t *cycle, const sl_str_t *name)
{
    sl_http_conf_ctx_t *ctx = sl_http_cycle_ctx(cycle);

    if (ctx == NULL) {
        return NULL;
    }
    return find_group(ctx->main_conf[sl_http_upstream_module.ctx_index], name, 0, 0);
}

static sl_upstream_group_t *add_group(sl_conf_t *cf, const sl_str_t *name)
{
    sl_upstream_main_conf_t *umcf = sl_http_conf_get_module_main_conf(cf, sl_http_upstream_module);
    sl_upstream_group_t *g = sl_pcalloc(cf->pool, sizeof(sl_upstream_group_t));
    sl_upstream_group_t **slot = sl_array_push(&umcf->groups);

    if (g == NULL || slot == NULL) {
        return NULL;
    }
    g->servers = sl_array_create(cf->pool, 4, sizeof(sl_upstream_server_t));
    if (g->servers == NULL) {
        return NULL;
    }
    g->name = *name;
    /* an implicit group may be made after parsing, when no file is open */
    g->file_name = cf->conf_file ? (const char *) cf->conf_file->file.name.data : "";
    g->line = cf->conf_file ? cf->conf_file->line : 0;
    g->flags = ALL_PARAMS;
    *slot = g;
    return g;
}

sl_upstream_group_t *sl_upstream_group_implicit(sl_conf_t *cf, const sl_url_t *u)
{
    sl_upstream_main_conf_t *umcf = sl_http_conf_get_module_main_conf(cf, sl_http_upstream_module);
    int port = u->family == AF_UNIX ? 0 : u->port;
    sl_upstream_group_t *g = find_group(umcf, &u->host, 1, port);

    if (g != NULL) {
        return g;
    }
    g = add_group(cf, &u->host);
    sl_upstream_server_t *us = g ? sl_array_push(g->servers) : NULL;
    if (us == NULL) {
        return NULL;
    }
    g->implicit = 1;
    g->port = port;
    memset(us, 0, sizeof(*us));
    us->name = u->url;
    us->addrs = u->addrs;
    us->naddrs = u->naddrs;
    us->weight = 1;
    us->max_fails = 1;
    us->fail_timeout = 10;
    return sl_upstream_group_init(cf, g) == SL_OK ? g : NULL;
}

void sl__upstream_group_set_balancer(sl_conf_t *cf, sl_upstream_group_t *g,
                                     const sl_upstream_balancer_t *b)
{
    if (g->balancer) {
        sl_conf_log_error(SL_LOG_WARN, cf, 0, "load balancing method redefined");
    }
    g->balancer = b;
    g->flags = b->flags;
}

/* The block's own context: the http main confs, fresh server and location confs, as nginx
 * gives one to every upstream{} (modules with directives in it find their conf there). */
static sl_http_conf_ctx_t *block_ctx(sl_conf_t *cf, sl_upstream_group_t *g)
{
    sl_http_conf_ctx_t *parent = cf->ctx;
    sl_http_conf_ctx_t *ctx = sl_pcalloc(cf->pool, sizeof(sl_http_conf_ctx_t));
    sl_uint_t n = sl_count_modules(cf->cycle, SL_HTTP_MODULE);

    if (ctx == NULL || (ctx->srv_conf = sl_pcalloc(cf->pool, n * sizeof(void *))) == NULL
        || (ctx->loc_conf = sl_pcalloc(cf->pool, n * sizeof(void *))) == NULL) {
        return NULL;
    }
    ctx->main_conf = parent->main_conf;
    for (sl_uint_t i = 0; i < cf->cycle->modules_n; i++) {
        sl_module_t *m = cf->cycle->modules[i];
        sl_http_module_t *hm = m->ctx;

        if (m->type != SL_HTTP_MODULE) {
            continue;
        }
        if (hm->create_srv_conf && !(ctx->srv_conf[m->ctx_index] = hm->create_srv_conf(cf))) {
            return NULL;
        }
        if (hm->create_loc_conf && !(ctx->loc_conf[m->ctx_index] = hm->create_loc_conf(cf))) {
            return NULL;
        }
    }
    ctx->srv_conf[sl_http_upstream_module.ctx_index] = g;
    return ctx;
}

static char *upstream_block(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_upstream_main_conf_t *umcf = conf;
    sl_str_t *value = cf->args->elts;

    (void) cmd;
    if (find_group(umcf, &value[1], 0, 0) != NULL) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "duplicate upstream \"%.*s\"", SL_STR_ARG(value[1]));
        return SL_CONF_ERROR;
    }
    sl_upstream_group_t *g = add_group(cf, &value[1]);
    sl_http_conf_ctx_t *ctx = g ? block_ctx(cf, g) : NULL;
    if (ctx == NULL) {
        return SL_CONF_ERROR;
    }
    sl_conf_t saved = *cf;
    cf->ctx = ctx;
    cf->cmd_type = SL_HTTP_UPS_CONF;
    char *rv = sl_conf_parse(cf, NULL);
    *cf = saved;
    if (rv != SL_CONF_OK) {
        return rv;
    }
    if (g->servers->nelts == 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "no servers are inside upstream");
        return SL_CONF_ERROR;
    }
    return SL_CONF_OK;
}

/* ---- server ADDRESS [weight=N] [max_conns=N] [max_fails=N] [fail_timeout=T] [backup] [down] */

typedef enum { PARAM_OK, PARAM_INVALID, PARAM_NOT_SUPPORTED } param_rc_e;

/* A "name=number" parameter: weight must not be 0, and none may be negative. */
static param_rc_e number_param(const sl_upstream_group_t *g, sl_uint_t flag, const sl_str_t *v,
                               int zero_ok, sl_int_t *out)
{
    if (!(g->flags & flag)) {
        return PARAM_NOT_SUPPORTED;
    }
    sl_int_t n = sl_atoi(v->data, v->len);
    if (n == SL_ERROR || (n == 0 && !zero_ok)) {
        return PARAM_INVALID;
    }
    *out = n;
    return PARAM_OK;
}

static param_rc_e server_param(const sl_upstream_group_t *g, const sl_str_t *v,
                               sl_upstream_server_t *us)
{
    sl_str_t rest;
    sl_int_t n = 0;
    param_rc_e rc;

    if (sl_str_skip_prefix(v, "weight=", &rest)) {
        rc = number_param(g, SL_UPSTREAM_WEIGHT, &rest, 0, &n);
        us->weight = rc == PARAM_OK ? n : us->weight;
    } else if (sl_str_skip_prefix(v, "max_conns=", &rest)) {
        rc = number_param(g, SL_UPSTREAM_MAX_CONNS, &rest, 1, &n);
        us->max_conns = rc == PARAM_OK ? (sl_uint_t) n : us->max_conns;
    } else if (sl_str_skip_prefix(v, "max_fails=", &rest)) {
        rc = number_param(g, SL_UPSTREAM_MAX_FAILS, &rest, 1, &n);
        us->max_fails = rc == PARAM_OK ? (sl_uint_t) n : us->max_fails;
    } else if (sl_str_skip_prefix(v, "fail_timeout=", &rest)) {
        if (!(g->flags & SL_UPSTREAM_FAIL_TIMEOUT)) {
            return PARAM_NOT_SUPPORTED;
        }
        n = sl_parse_time(&rest, 1);
        rc = n == SL_ERROR ? PARAM_INVALID : PARAM_OK;
        us->fail_timeout = rc == PARAM_OK ? (time_t) n : us->fail_timeout;
    } else if (sl_str_eq_cstr(v, "backup") || sl_str_eq_cstr(v, "down")) {
        int backup = v->data[0] == 'b';
        if (!(g->flags & (backup ? SL_UPSTREAM_BACKUP : SL_UPSTREAM_DOWN))) {
            return PARAM_NOT_SUPPORTED;
        }
        us->backup |= backup;
        us->down |= !backup;
        rc = PARAM_OK;
    } else {
        rc = PARAM_INVALID;
    }
    return rc;
}

/* The address: host[:port] (port 80 when absent), [v6]:port or unix:/path.  A uri or
 * arguments after it are nginx's "invalid host", found before any port error. */
static char *server_address(sl_conf_t *cf, sl_upstream_server_t *us)
{
    sl_str_t *value = cf->args->elts;
    sl_url_t u;

    memset(&u, 0, sizeof(u));
    u.url = value[1];
    u.default_port = 80;
    int unix_path = u.url.len >= 5 && sl_strncasecmp(u.url.data, (u_char *) "unix:", 5) == 0;
    if (!unix_path
        && (memchr(u.url.data, '/', u.url.len) != NULL
            || memchr(u.url.data, '?', u.url.len) != NULL)) {
        u.err = "invalid host";
    } else if (sl_parse_url(cf->pool, &u) == SL_OK) {
        us->name = u.url;
        us->addrs = u.addrs;
        us->naddrs = u.naddrs;
        return SL_CONF_OK;
    }
    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "%s in upstream \"%.*s\"", u.err, SL_STR_ARG(u.url));
    return SL_CONF_ERROR;
}

static char *server_directive(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_upstream_group_t *g = conf;
    sl_str_t *value = cf->args->elts;
    sl_upstream_server_t *us = sl_array_push(g->servers);

    (void) cmd;
    if (us == NULL) {
        return SL_CONF_ERROR;
    }
    memset(us, 0, sizeof(*us));
    us->weight = 1;
    us->max_fails = 1;
    us->fail_timeout = 10;
    for (sl_uint_t i = 2; i < cf->args->nelts; i++) {
        param_rc_e rc = server_param(g, &value[i], us);
        if (rc == PARAM_INVALID) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid parameter \"%.*s\"",
                              SL_STR_ARG(value[i]));
            return SL_CONF_ERROR;
        }
        if (rc == PARAM_NOT_SUPPORTED) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                              "balancing method does not support parameter \"%.*s\"",
                              SL_STR_ARG(value[i]));
            return SL_CONF_ERROR;
        }
    }
    return server_address(cf, us);
}
