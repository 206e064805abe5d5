/*
 * sl_http.c: the http{} block: create every http module's confs for the main, server and
 * location levels, parse, then merge each level into the one below as nginx does.
 */
#include "sl_http.h"
#include "sl_http_variables.h"
#include "sl_pool.h"

static char *http_block(sl_conf_t *cf, sl_command_t *cmd, void *conf);

static sl_command_t http_commands[] = {
    { sl_string("http"), SL_MAIN_CONF | SL_CONF_BLOCK | SL_CONF_NOARGS, http_block, 0, 0, NULL },
    sl_null_command,
};

static sl_core_module_t http_module_ctx = {
    sl_string("http"),
    NULL,
    NULL,
};

sl_module_t sl_http_module = {
    "http", 0, 0, SL_CORE_MODULE, &http_module_ctx, http_commands, NULL, NULL, NULL,
};

sl_http_conf_ctx_t *sl_http_cycle_ctx(sl_cycle_t *cycle)
{
    return (sl_http_conf_ctx_t *) cycle->conf_ctx[sl_http_module.index];
}

static sl_int_t create_confs(sl_conf_t *cf, sl_http_conf_ctx_t *ctx, sl_uint_t n)
{
    ctx->main_conf = sl_pcalloc(cf->pool, n * sizeof(void *));
    ctx->srv_conf = sl_pcalloc(cf->pool, n * sizeof(void *));
    ctx->loc_conf = sl_pcalloc(cf->pool, n * sizeof(void *));
    if (ctx->main_conf == NULL || ctx->srv_conf == NULL || ctx->loc_conf == NULL) {
        return SL_ERROR;
    }
    for (sl_uint_t i = 0; i < cf->cycle->modules_n; i++) {
        sl_module_t *m = cf->cycle->modules[i];
        sl_http_module_t *hm = m->ctx;
        sl_uint_t mi = m->ctx_index;

        if (m->type != SL_HTTP_MODULE) {
            continue;
        }
        if (hm->create_main_conf && !(ctx->main_conf[mi] = hm->create_main_conf(cf))) {
            return SL_ERROR;
        }
        if (hm->create_srv_conf && !(ctx->srv_conf[mi] = hm->create_srv_conf(cf))) {
            return SL_ERROR;
        }
        if (hm->create_loc_conf && !(ctx->loc_conf[mi] = hm->create_loc_conf(cf))) {
            return SL_ERROR;
        }
    }
    return SL_OK;
}

static sl_int_t run_hooks(sl_conf_t *cf, int post)
{
    for (sl_uint_t i = 0; i < cf->cycle->modules_n; i++) {
        sl_module_t *m = cf->cycle->modules[i];
        sl_http_module_t *hm = m->ctx;

        if (m->type != SL_HTTP_MODULE) {
            continue;
        }
        sl_int_t (*hook)(sl_conf_t *) = post ? hm->postconfiguration : hm->preconfiguration;
        if (hook && hook(cf) != SL_OK) {
            return SL_ERROR;
        }
    }
    return SL_OK;
}

/* Merges a location's limit_except block with the location. */
static char *merge_limit_except(sl_conf_t *cf, sl_http_core_loc_conf_t *pclcf, sl_http_module_t *hm,
                                sl_uint_t mi)
{
    void **loc_conf = pclcf->limit_except_loc_conf;

    if (loc_conf == NULL) {
        return SL_CONF_OK;
    }
    if (mi == sl_http_core_module.ctx_index) {
        sl_http_core_loc_conf_t *clcf = loc_conf[mi];
        /* as nginx: the block maps uris as its location does, alias included */
        if (clcf->root.data == NULL && clcf->alias.data == NULL) {
            clcf->alias = pclcf->alias;
        }
        /* it takes no proxy_pass: the location's content handler is its own */
        if (clcf->handler == NULL) {
            clcf->handler = pclcf->handler;
        }
    }
    return hm->merge_loc_conf(cf, pclcf->loc_conf[mi], loc_conf[mi]);
}

/* Merges the location confs of `locations` (and their nested ones) with their parent's. */
static char *merge_locations(sl_conf_t *cf, sl_array_t *locations, void **parent,
                             sl_http_module_t *hm, sl_uint_t mi)
{
    if (locations == NULL) {
        return SL_CONF_OK;
    }
    sl_http_core_loc_conf_t **clcfp = locations->elts;
    for (sl_uint_t i = 0; i < locations->nelts; i++) {
        void **loc_conf = clcfp[i]->loc_conf;
        char *rv = hm->merge_loc_conf(cf, parent[mi], loc_conf[mi]);
        if (rv == SL_CONF_OK) {
            rv = merge_limit_except(cf, clcfp[i], hm, mi);
        }
        if (rv != SL_CONF_OK) {
            return rv;
        }
        rv = merge_locations(cf, clcfp[i]->locations, loc_conf, hm, mi);
        if (rv != SL_CONF_OK) {
            return rv;
        }
    }
    return SL_CONF_OK;
}

static char *merge_servers(sl_conf_t *cf, sl_http_core_main_conf_t *cmcf, sl_http_module_t *hm,
                           sl_uint_t mi)
{
    sl_http_conf_ctx_t *ctx = cf->ctx;
    sl_http_core_srv_conf_t **cscfp = cmcf->servers.elts;

    for (sl_uint_t s = 0; s < cmcf->servers.nelts; s++) {
        sl_http_conf_ctx_t *sctx = cscfp[s]->ctx;
        char *rv = SL_CONF_OK;

        /* the merges of a server see its context, as nginx's (valid_referers server_names
         * reads the server's names, all of them, when merged) */
        cf->ctx = sctx;
        if (hm->merge_srv_conf) {
            rv = hm->merge_srv_conf(cf, ctx->srv_conf[mi], sctx->srv_conf[mi]);
        }
        if (rv == SL_CONF_OK && hm->merge_loc_conf) {
            rv = hm->merge_loc_conf(cf, ctx->loc_conf[mi], sctx->loc_conf[mi]);
            sl_http_core_loc_conf_t *clcf = sctx->loc_conf[sl_http_core_module.ctx_index];
            if (rv == SL_CONF_OK) {
                rv = merge_locations(cf, clcf->locations, sctx->loc_conf, hm, mi);
            }
        }
        cf->ctx = ctx;
        if (rv != SL_CONF_OK) {
            return rv;
        }
    }
    return SL_CONF_OK;
}

static char *init_and_merge(sl_conf_t *cf, sl_http_core_main_conf_t *cmcf)
{
    sl_http_conf_ctx_t *ctx = cf->ctx;

    for (sl_uint_t i = 0; i < cf->cycle->modules_n; i++) {
        sl_module_t *m = cf->cycle->modules[i];
        sl_http_module_t *hm = m->ctx;
        sl_uint_t mi = m->ctx_index;

        if (m->type != SL_HTTP_MODULE) {
            continue;
        }
        if (hm->init_main_conf) {
            char *rv = hm->init_main_conf(cf, ctx->main_conf[mi]);
            if (rv != SL_CONF_OK) {
                return rv;
            }
        }
        char *rv = merge_servers(cf, cmcf, hm, mi);
        if (rv != SL_CONF_OK) {
            return rv;
        }
    }
    return SL_CONF_OK;
}

static char *http_block(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    if (*(void **) conf) {
        return "is duplicate";
    }
    sl_http_conf_ctx_t *ctx = sl_pcalloc(cf->pool, sizeof(sl_http_conf_ctx_t));
    if (ctx == NULL) {
        return SL_CONF_ERROR;
    }
    *(void **) conf = ctx;
    sl_uint_t n = sl_count_modules(cf->cycle, SL_HTTP_MODULE);
    if (create_confs(cf, ctx, n) != SL_OK) {
        return SL_CONF_ERROR;
    }
    sl_conf_t saved = *cf;
    cf->ctx = ctx;
    if (run_hooks(cf, 0) != SL_OK) {
        *cf = saved;
        return SL_CONF_ERROR;
    }
    cf->module_type = SL_HTTP_MODULE;
    cf->cmd_type = SL_HTTP_MAIN_CONF;
    char *rv = sl_conf_parse(cf, NULL);
    if (rv != SL_CONF_OK) {
        *cf = saved;
        return rv;
    }
    sl_http_core_main_conf_t *cmcf = ctx->main_conf[sl_http_core_module.ctx_index];
    rv = init_and_merge(cf, cmcf);
    if (rv == SL_CONF_OK
        && (run_hooks(cf, 1) != SL_OK || sl_http_variables_init_vars(cf) != SL_OK
            || sl_http_init_phase_handlers(cf, cmcf) != SL_OK)) {
        rv = SL_CONF_ERROR;
    }
    *cf = saved;
    if (rv != SL_CONF_OK) {
        return rv;
    }
    return sl_http_optimize_servers(cf, cmcf) == SL_OK ? SL_CONF_OK : SL_CONF_ERROR;
}
