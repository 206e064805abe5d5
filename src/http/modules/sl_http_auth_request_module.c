/*
 * sl_http_auth_request_module.c: auth_request, as nginx's: in the access phase a subrequest
 * asks uri whether the request may go on; its answer decides: 2xx lets it on, 401 and 403
 * are the answer (a 401 with the subrequest's first WWW-Authenticate), anything else is a
 * 500 ("auth request unexpected status").  The subrequest sends no body (header only) and
 * reads none (an empty request body of its own); auth_request_set copies values of the
 * subrequest ($upstream_http_*, ...) into variables of the request.
 */
#include "sl_http_output.h"
#include "sl_http_variables.h"
#include "sl_pool.h"

typedef struct {
    sl_int_t index;
    sl_http_complex_value_t value;
    sl_http_set_variable_pt set_handler;
} auth_request_var_t;

typedef struct {
    /** empty: off */
    sl_str_t uri;
    /** auth_request_var_t, or NULL */
    sl_array_t *vars;
} auth_request_conf_t;

typedef struct {
    sl_uint_t status;
    sl_http_request_t *subrequest;
    unsigned done : 1;
} auth_request_ctx_t;

static void *create_loc_conf(sl_conf_t *cf);
static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child);
static char *auth_request_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *auth_request_set_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static sl_int_t postconfiguration(sl_conf_t *cf);

#define CTX (SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF)

// clang-format off
static sl_command_t auth_request_commands[] = {
    { sl_string("auth_request"), CTX | SL_CONF_TAKE1, auth_request_slot, SL_HTTP_LOC_CONF_OFFSET, 0, NULL },
    { sl_string("auth_request_set"), CTX | SL_CONF_TAKE2, auth_request_set_slot, SL_HTTP_LOC_CONF_OFFSET, 0, NULL },
    sl_null_command,
};

static sl_http_module_t auth_request_module_ctx = {
    NULL, postconfiguration, NULL, NULL, NULL, NULL, create_loc_conf, merge_loc_conf,
};

sl_module_t sl_http_auth_request_module = {
    "http_auth_request", 0, 0, SL_HTTP_MODULE, &auth_request_module_ctx, auth_request_commands,
    NULL, NULL, NULL,
};
// clang-format on

static void *create_loc_conf(sl_conf_t *cf)
{
    auth_request_conf_t *conf = sl_pcalloc(cf->pool, sizeof(auth_request_conf_t));

    if (conf) {
        conf->uri.data = NULL;
        conf->uri.len = (size_t) -1;
        conf->vars = SL_CONF_UNSET_PTR;
    }
    return conf;
}

static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child)
{
    auth_request_conf_t *prev = parent, *conf = child;

    if (conf->uri.len == (size_t) -1) {
        conf->uri = prev->uri.len == (size_t) -1 ? (sl_str_t) sl_null_string : prev->uri;
    }
    sl_conf_merge_ptr_value(conf->vars, prev->vars, NULL);
    return SL_CONF_OK;
}

static char *auth_request_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    auth_request_conf_t *arcf = conf;
    sl_str_t *value = cf->args->elts;

    if (arcf->uri.len != (size_t) -1) {
        return "is duplicate";
    }
    if (value[1].len == 3 && memcmp(value[1].data, "off", 3) == 0) {
        arcf->uri.len = 0;
        arcf->uri.data = (u_char *) "";
        return SL_CONF_OK;
    }
    arcf->uri = value[1];
    return SL_CONF_OK;
}

/* A variable auth_request_set sets reads as not found until it does. */
static sl_int_t var_unset(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    v->not_found = 1;
    return SL_OK;
}

static char *auth_request_set_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    auth_request_conf_t *arcf = conf;
    sl_str_t *value = cf->args->elts;

    if (value[1].len < 2 || value[1].data[0] != '$') {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid variable name \"%.*s\"",
                          SL_STR_ARG(value[1]));
        return SL_CONF_ERROR;
    }
    sl_str_t name = { value[1].len - 1, value[1].data + 1 };
    if (arcf->vars == SL_CONF_UNSET_PTR) {
        arcf->vars = sl_array_create(cf->pool, 1, sizeof(auth_request_var_t));
        if (arcf->vars == NULL) {
            return SL_CONF_ERROR;
        }
    }
    auth_request_var_t *av = sl_array_push(arcf->vars);
    sl_http_variable_t *v = sl_http_add_variable(cf, &name, SL_HTTP_VAR_CHANGEABLE);
    if (av == NULL || v == NULL) {
        return SL_CONF_ERROR;
    }
    av->index = sl_http_get_variable_index(cf, &name);
    if (av->index == SL_ERROR) {
        return SL_CONF_ERROR;
    }
    if (v->get_handler == NULL) {
        v->get_handler = var_unset;
    }
    av->set_handler = v->set_handler;
    if (sl_http_compile_value(cf, &value[2], &av->value) != SL_OK) {
        return SL_CONF_ERROR;
    }
    return SL_CONF_OK;
}

/* auth_request_set: the values, evaluated in the subrequest, go into r's variables. */
static sl_int_t set_variables(sl_http_request_t *r, auth_request_conf_t *arcf,
                              auth_request_ctx_t *ctx)
{
    if (arcf->vars == NULL) {
        return SL_OK;
    }
    auth_request_var_t *av = arcf->vars->elts;
    for (sl_uint_t i = 0; i < arcf->vars->nelts; i++) {
        sl_str_t val;
        if (sl_http_complex_value(ctx->subrequest, &av[i].value, &val) != SL_OK) {
            return SL_ERROR;
        }
        sl_http_variable_value_t *vv = &r->variables[av[i].index];
        vv->len = val.len;
        vv->data = val.data;
        vv->valid = 1;
        vv->no_cacheable = 0;
        vv->not_found = 0;
        if (av[i].set_handler) {
            av[i].set_handler(r, vv, 0);
        }
    }
    return SL_OK;
}

/* A 401 carries the subrequest's WWW-Authenticate line. */
static sl_int_t copy_authenticate(sl_http_request_t *r, sl_http_request_t *sr)
{
    sl_list_part_t *part = &sr->headers_out.headers.part;
    sl_table_elt_t *h = part->elts;

    for (sl_uint_t i = 0;; i++) {
        if (i >= part->nelts) {
            if (part->next == NULL) {
                return SL_OK;
            }
            part = part->next;
            h = part->elts;
            i = 0;
            if (part->nelts == 0) {
                continue;
            }
        }
        if (h[i].hash == 0 || h[i].key.len != sizeof("WWW-Authenticate") - 1
            || sl_strncasecmp(h[i].key.data, (u_char *) "WWW-Authenticate", h[i].key.len) != 0) {
            continue;
        }
        sl_table_elt_t *ho = sl_list_push(&r->headers_out.headers);
        if (ho == NULL) {
            return SL_ERROR;
        }
        *ho = h[i];
        ho->next = NULL;
        r->headers_out.www_authenticate = ho;
        /* the first only, as nginx 1.22 (1.23 passes them all) */
        return SL_OK;
    }
}

static sl_int_t answer(sl_http_request_t *r, auth_request_conf_t *arcf, auth_request_ctx_t *ctx)
{
    if (set_variables(r, arcf, ctx) != SL_OK) {
        return SL_ERROR;
    }
    if (ctx->status == SL_HTTP_FORBIDDEN) {
        return SL_HTTP_FORBIDDEN;
    }
    if (ctx->status == 401) {
        return copy_authenticate(r, ctx->subrequest) == SL_OK ? 401 : SL_ERROR;
    }
    if (ctx->status >= SL_HTTP_OK && ctx->status < SL_HTTP_SPECIAL_RESPONSE) {
        return SL_OK;
    }
    sl_log_error(SL_LOG_ERR, r->connection->log, 0, "auth request unexpected status: %lu",
                 (unsigned long) ctx->status);
    return SL_HTTP_INTERNAL_SERVER_ERROR;
}

static sl_int_t auth_request_done(sl_http_request_t *sr, void *data, sl_int_t rc)
{
    auth_request_ctx_t *ctx = data;

    ctx->done = 1;
    ctx->status = sr->headers_out.status;
    return rc;
}

static sl_int_t auth_request_handler(sl_http_request_t *r)
{
    auth_request_conf_t *arcf = sl_http_get_module_loc_conf(r, sl_http_auth_request_module);
    auth_request_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_auth_request_module);

    if (arcf->uri.len == 0) {
        return SL_DECLINED;
    }
    if (ctx) {
        return ctx->done ? answer(r, arcf, ctx) : SL_AGAIN;
    }
    ctx = sl_pcalloc(r->pool, sizeof(auth_request_ctx_t));
    sl_http_post_subrequest_t *ps = sl_palloc(r->pool, sizeof(*ps));
    if (ctx == NULL || ps == NULL) {
        return SL_ERROR;
    }
    ps->handler = auth_request_done;
    ps->data = ctx;
    sl_http_request_t *sr;
    if (sl_http_subrequest(r, &arcf->uri, NULL, &sr, ps, SL_HTTP_SUBREQUEST_WAITED) != SL_OK) {
        return SL_ERROR;
    }
    /* an empty body of its own: the subrequest never reads the client's, nor closes a file
     * holding it */
    sr->request_body = sl_pcalloc(r->pool, sizeof(sl_http_request_body_t));
    if (sr->request_body == NULL) {
        return SL_ERROR;
    }
    sr->header_only = 1;
    ctx->subrequest = sr;
    sl_http_set_ctx(r, ctx, sl_http_auth_request_module);
    return SL_AGAIN;
}

static sl_int_t postconfiguration(sl_conf_t *cf)
{
    return sl_http_add_phase_handler(cf, SL_HTTP_ACCESS_PHASE, auth_request_handler);
}
