/*
 * sl_http_core_module.c: server{}, location{}, listen and the connection-level settings of
 * the http core.
 */
#include <unistd.h>

#include "sl_http.h"
#include "sl_pool.h"

static void *create_main_conf(sl_conf_t *cf);
static char *init_main_conf(sl_conf_t *cf, void *conf);
static void *create_srv_conf(sl_conf_t *cf);
static char *merge_srv_conf(sl_conf_t *cf, void *parent, void *child);
static void *create_loc_conf(sl_conf_t *cf);
static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child);
static char *server_block(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *location_block(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *set_listen(sl_conf_t *cf, sl_command_t *cmd, void *conf);

static sl_command_t http_core_commands[] = {
    { sl_string("server"), SL_HTTP_MAIN_CONF | SL_CONF_BLOCK | SL_CONF_NOARGS, server_block, 0, 0,
      NULL },
    { sl_string("location"), SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF | SL_CONF_BLOCK | SL_CONF_TAKE12,
      location_block, SL_HTTP_SRV_CONF_OFFSET, 0, NULL },
    { sl_string("listen"), SL_HTTP_SRV_CONF | SL_CONF_1MORE, set_listen, SL_HTTP_SRV_CONF_OFFSET, 0,
      NULL },
    { sl_string("client_header_timeout"), SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF | SL_CONF_TAKE1,
      sl_conf_set_msec_slot, SL_HTTP_SRV_CONF_OFFSET,
      offsetof(sl_http_core_srv_conf_t, client_header_timeout), NULL },
    { sl_string("client_header_buffer_size"), SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF | SL_CONF_TAKE1,
      sl_conf_set_size_slot, SL_HTTP_SRV_CONF_OFFSET,
      offsetof(sl_http_core_srv_conf_t, client_header_buffer_size), NULL },
    sl_null_command,
};

static sl_http_module_t http_core_module_ctx = {
    NULL,
    NULL,
    create_main_conf,
    init_main_conf,
    create_srv_conf,
    merge_srv_conf,
    create_loc_conf,
    merge_loc_conf,
};

sl_module_t sl_http_core_module = {
    "http_core", 0, 0, SL_HTTP_MODULE, &http_core_module_ctx, http_core_commands, NULL, NULL, NULL,
};

static void *create_main_conf(sl_conf_t *cf)
{
    sl_http_core_main_conf_t *cmcf = sl_pcalloc(cf->pool, sizeof(sl_http_core_main_conf_t));

    if (cmcf == NULL
        || sl_array_init(&cmcf->servers, cf->pool, 4, sizeof(sl_http_core_srv_conf_t *)) != SL_OK) {
        return NULL;
    }
    return cmcf;
}

static char *init_main_conf(sl_conf_t *cf, void *conf)
{
    return SL_CONF_OK;
}

static void *create_srv_conf(sl_conf_t *cf)
{
    sl_http_core_srv_conf_t *cscf = sl_pcalloc(cf->pool, sizeof(sl_http_core_srv_conf_t));

    if (cscf == NULL) {
        return NULL;
    }
    cscf->client_header_timeout = SL_CONF_UNSET_MSEC;
    cscf->client_header_buffer_size = SL_CONF_UNSET_SIZE;
    if (cf->conf_file) {
        cscf->file_name = (const char *) cf->conf_file->file.name.data;
        cscf->line = cf->conf_file->line;
    }
    return cscf;
}

/* A server{} without listen listens on *:80, or *:8000 when not started as root (nginx). */
static char *add_default_listen(sl_conf_t *cf, sl_http_core_srv_conf_t *cscf)
{
    sl_http_listen_opt_t opt;
    struct sockaddr_in *sin = &opt.sockaddr.sin;

    memset(&opt, 0, sizeof(opt));
    sin->sin_family = AF_INET;
    sin->sin_port = htons(getuid() == 0 ? 80 : 8000);
    sin->sin_addr.s_addr = INADDR_ANY;
    opt.socklen = sizeof(struct sockaddr_in);
    opt.wildcard = 1;
    opt.backlog = 511;
    opt.rcvbuf = -1;
    opt.sndbuf = -1;
    opt.ipv6only = 1;
    u_char text[64];
    opt.addr_text.len = sl_addr_ntop(&opt.sockaddr.sa, opt.socklen, text, sizeof(text), 1);
    opt.addr_text.data = sl_pnalloc(cf->pool, opt.addr_text.len);
    if (opt.addr_text.data == NULL) {
        return SL_CONF_ERROR;
    }
    memcpy(opt.addr_text.data, text, opt.addr_text.len);
    return sl_http_add_listen(cf, cscf, &opt) == SL_OK ? SL_CONF_OK : SL_CONF_ERROR;
}

static char *merge_srv_conf(sl_conf_t *cf, void *parent, void *child)
{
    sl_http_core_srv_conf_t *prev = parent;
    sl_http_core_srv_conf_t *conf = child;

    sl_conf_merge_msec_value(conf->client_header_timeout, prev->client_header_timeout, 60000);
    sl_conf_merge_size_value(conf->client_header_buffer_size, prev->client_header_buffer_size,
                             1024);
    if (conf->server_name.data == NULL) {
        sl_str_set(&conf->server_name, "");
    }
    if (!conf->listen && conf->ctx) {
        return add_default_listen(cf, conf);
    }
    return SL_CONF_OK;
}

static void *create_loc_conf(sl_conf_t *cf)
{
    return sl_pcalloc(cf->pool, sizeof(sl_http_core_loc_conf_t));
}

static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child)
{
    return SL_CONF_OK;
}

/* A new context sharing main_conf with the enclosing one, with its own srv/loc arrays. */
static sl_http_conf_ctx_t *new_ctx(sl_conf_t *cf, int new_srv)
{
    sl_http_conf_ctx_t *parent = cf->ctx;
    sl_http_conf_ctx_t *ctx = sl_pcalloc(cf->pool, sizeof(sl_http_conf_ctx_t));
    sl_uint_t n = sl_count_modules(cf->cycle, SL_HTTP_MODULE);

    if (ctx == NULL) {
        return NULL;
    }
    ctx->main_conf = parent->main_conf;
    ctx->srv_conf = new_srv ? sl_pcalloc(cf->pool, n * sizeof(void *)) : parent->srv_conf;
    ctx->loc_conf = sl_pcalloc(cf->pool, n * sizeof(void *));
    if (ctx->srv_conf == NULL || ctx->loc_conf == NULL) {
        return NULL;
    }
    for (sl_uint_t i = 0; i < cf->cycle->modules_n; i++) {
        sl_module_t *m = cf->cycle->modules[i];
        sl_http_module_t *hm = m->ctx;
        sl_uint_t mi = m->ctx_index;

        if (m->type != SL_HTTP_MODULE) {
            continue;
        }
        if (new_srv && hm->create_srv_conf && !(ctx->srv_conf[mi] = hm->create_srv_conf(cf))) {
            return NULL;
        }
        if (hm->create_loc_conf && !(ctx->loc_conf[mi] = hm->create_loc_conf(cf))) {
            return NULL;
        }
    }
    return ctx;
}

static char *parse_block(sl_conf_t *cf, sl_http_conf_ctx_t *ctx, sl_uint_t cmd_type)
{
    sl_conf_t saved = *cf;

    cf->ctx = ctx;
    cf->cmd_type = cmd_type;
    char *rv = sl_conf_parse(cf, NULL);
    *cf = saved;
    return rv;
}

static char *server_block(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_http_conf_ctx_t *ctx = new_ctx(cf, 1);

    if (ctx == NULL) {
        return SL_CONF_ERROR;
    }
    sl_http_core_srv_conf_t *cscf = ctx->srv_conf[sl_http_core_module.ctx_index];
    cscf->ctx = ctx;
    sl_http_core_main_conf_t *cmcf = ctx->main_conf[sl_http_core_module.ctx_index];
    sl_http_core_srv_conf_t **slot = sl_array_push(&cmcf->servers);
    if (slot == NULL) {
        return SL_CONF_ERROR;
    }
    *slot = cscf;
    return parse_block(cf, ctx, SL_HTTP_SRV_CONF);
}

/* Reads "location [=|~|~*|^~] uri" and "location @name" into clcf. */
static char *parse_location_name(sl_conf_t *cf, sl_http_core_loc_conf_t *clcf)
{
    sl_str_t *value = cf->args->elts;
    sl_str_t mod = sl_null_string, name = value[1];

    if (cf->args->nelts == 3) {
        mod = value[1];
        name = value[2];
    } else if (name.len > 1 && (name.data[0] == '=' || name.data[0] == '~')) {
        /* "=/path", "~regex", "~*regex" written without a space */
        size_t mlen = (name.data[0] == '~' && name.data[1] == '*') ? 2 : 1;
        mod.data = name.data;
        mod.len = mlen;
        name.data += mlen;
        name.len -= mlen;
    } else if (name.len > 2 && name.data[0] == '^' && name.data[1] == '~') {
        mod.data = name.data;
        mod.len = 2;
        name.data += 2;
        name.len -= 2;
    }
    if (mod.len == 1 && mod.data[0] == '=') {
        clcf->exact_match = 1;
    } else if (mod.len == 2 && mod.data[0] == '^' && mod.data[1] == '~') {
        clcf->noregex = 1;
    } else if (mod.len == 1 && mod.data[0] == '~') {
        clcf->regex = 1;
    } else if (mod.len == 2 && mod.data[0] == '~' && mod.data[1] == '*') {
        clcf->regex = 1;
        clcf->caseless = 1;
    } else if (mod.len) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid location modifier \"%.*s\"",
                          SL_STR_ARG(mod));
        return SL_CONF_ERROR;
    }
    clcf->modifier = mod;
    clcf->name = name;
    clcf->named = mod.len == 0 && name.len && name.data[0] == '@';
    return SL_CONF_OK;
}

/* nginx's nesting rules: named locations only at server level, nothing inside an exact or
 * named location, and a nested prefix location must extend its parent's prefix. */
static char *check_nesting(sl_conf_t *cf, sl_http_core_loc_conf_t *pclcf,
                           sl_http_core_loc_conf_t *clcf)
{
    if (pclcf->name.len == 0) {
        return SL_CONF_OK;
    }
    if (pclcf->exact_match) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "location \"%.*s\" cannot be inside the exact location \"%.*s\"",
                          SL_STR_ARG(clcf->name), SL_STR_ARG(pclcf->name));
        return SL_CONF_ERROR;
    }
    if (pclcf->named) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "location \"%.*s\" cannot be inside the named location \"%.*s\"",
                          SL_STR_ARG(clcf->name), SL_STR_ARG(pclcf->name));
        return SL_CONF_ERROR;
    }
    if (clcf->named) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "named location \"%.*s\" can be on the server level only",
                          SL_STR_ARG(clcf->name));
        return SL_CONF_ERROR;
    }
    if (!pclcf->regex && !clcf->regex
        && (clcf->name.len < pclcf->name.len
            || memcmp(clcf->name.data, pclcf->name.data, pclcf->name.len) != 0)) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "location \"%.*s\" is outside location \"%.*s\"",
                          SL_STR_ARG(clcf->name), SL_STR_ARG(pclcf->name));
        return SL_CONF_ERROR;
    }
    return SL_CONF_OK;
}

static char *location_block(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_http_conf_ctx_t *pctx = cf->ctx;
    sl_http_core_loc_conf_t *pclcf = pctx->loc_conf[sl_http_core_module.ctx_index];
    sl_http_conf_ctx_t *ctx = new_ctx(cf, 0);

    if (ctx == NULL) {
        return SL_CONF_ERROR;
    }
    sl_http_core_loc_conf_t *clcf = ctx->loc_conf[sl_http_core_module.ctx_index];
    clcf->loc_conf = ctx->loc_conf;
    if (parse_location_name(cf, clcf) != SL_CONF_OK
        || check_nesting(cf, pclcf, clcf) != SL_CONF_OK) {
        return SL_CONF_ERROR;
    }
    if (pclcf->locations == NULL) {
        pclcf->locations = sl_array_create(cf->pool, 4, sizeof(sl_http_core_loc_conf_t *));
        if (pclcf->locations == NULL) {
            return SL_CONF_ERROR;
        }
    }
    sl_http_core_loc_conf_t **slot = sl_array_push(pclcf->locations);
    if (slot == NULL) {
        return SL_CONF_ERROR;
    }
    *slot = clcf;
    return parse_block(cf, ctx, SL_HTTP_LOC_CONF);
}

static char *set_listen(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_http_core_srv_conf_t *cscf = conf;
    sl_http_listen_opt_t opt;

    cscf->listen = 1;
    if (sl_http_parse_listen(cf, &opt) != SL_CONF_OK) {
        return SL_CONF_ERROR;
    }
    return sl_http_add_listen(cf, cscf, &opt) == SL_OK ? SL_CONF_OK : SL_CONF_ERROR;
}
