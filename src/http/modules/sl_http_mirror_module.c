/*
 * sl_http_mirror_module.c: mirror, as nginx's.
 *
 *     mirror URI | off;                  (several: one copy per URI)
 *     mirror_request_body on | off;      (default on)
 *
 * In the precontent phase a main request starts one background subrequest per mirror URI,
 * with its own method and arguments.  A mirror's response goes nowhere (header only,
 * dropped by the postpone filter) and its end or failure does not touch the client's
 * response; the connection's next request waits for the mirrors, as in nginx.  With
 * mirror_request_body on the client's body is read first, so the mirrors and the request
 * itself share it; off, the mirrors start at once and get no body.
 */
#include "sl_http_request.h"
#include "sl_pool.h"

typedef struct {
    /** sl_str_t URIs; NULL: mirror off (or never set) */
    sl_array_t *mirror;
    sl_int_t request_body;
} mirror_conf_t;

typedef struct {
    /** what the handler answers when the phases run it again after the body is read */
    sl_int_t status;
} mirror_ctx_t;

static void *create_loc_conf(sl_conf_t *cf);
static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child);
static char *mirror_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static sl_int_t postconfiguration(sl_conf_t *cf);

#define CTX (SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF)

// clang-format off
static sl_command_t mirror_commands[] = {
    { sl_string("mirror"), CTX | SL_CONF_TAKE1, mirror_slot, SL_HTTP_LOC_CONF_OFFSET, 0, NULL },
    { sl_string("mirror_request_body"), CTX | SL_CONF_FLAG, sl_conf_set_flag_slot, SL_HTTP_LOC_CONF_OFFSET, offsetof(mirror_conf_t, request_body), NULL },
    sl_null_command,
};

static sl_http_module_t mirror_module_ctx = {
    NULL, postconfiguration, NULL, NULL, NULL, NULL, create_loc_conf, merge_loc_conf,
};

sl_module_t sl_http_mirror_module = {
    "http_mirror", 0, 0, SL_HTTP_MODULE, &mirror_module_ctx, mirror_commands, NULL, NULL, NULL,
};
// clang-format on

static void *create_loc_conf(sl_conf_t *cf)
{
    mirror_conf_t *conf = sl_pcalloc(cf->pool, sizeof(mirror_conf_t));

    if (conf) {
        conf->mirror = SL_CONF_UNSET_PTR;
        conf->request_body = SL_CONF_UNSET;
    }
    return conf;
}

static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child)
{
    mirror_conf_t *prev = parent, *conf = child;

    (void) cf;
    sl_conf_merge_ptr_value(conf->mirror, prev->mirror, NULL);
    sl_conf_merge_value(conf->request_body, prev->request_body, 1);
    return SL_CONF_OK;
}

/* mirror URI adds one; "off" alone at its level turns the inherited ones off. */
static char *mirror_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    mirror_conf_t *mlcf = conf;
    sl_str_t *value = cf->args->elts;

    (void) cmd;
    if (sl_str_eq_cstr(&value[1], "off")) {
        if (mlcf->mirror != SL_CONF_UNSET_PTR) {
            return "is duplicate";
        }
        mlcf->mirror = NULL;
        return SL_CONF_OK;
    }
    if (mlcf->mirror == NULL) {
        return "is duplicate";
    }
    if (mlcf->mirror == SL_CONF_UNSET_PTR) {
        mlcf->mirror = sl_array_create(cf->pool, 4, sizeof(sl_str_t));
        if (mlcf->mirror == NULL) {
            return SL_CONF_ERROR;
        }
    }
    sl_str_t *uri = sl_array_push(mlcf->mirror);
    if (uri == NULL) {
        return SL_CONF_ERROR;
    }
    *uri = value[1];
    return SL_CONF_OK;
}

/* One background subrequest per URI, with the request's method and arguments.
 * SL_DECLINED (the phases go on) or 500. */
static sl_int_t start_mirrors(sl_http_request_t *r, mirror_conf_t *mlcf)
{
    sl_str_t *uri = mlcf->mirror->elts;

    for (sl_uint_t i = 0; i < mlcf->mirror->nelts; i++) {
        sl_http_request_t *sr;
        if (sl_http_subrequest(r, &uri[i], &r->args, &sr, NULL, SL_HTTP_SUBREQUEST_BACKGROUND)
            != SL_OK) {
            return SL_HTTP_INTERNAL_SERVER_ERROR;
        }
        sr->header_only = 1;
        sr->method = r->method;
        sr->method_name = r->method_name;
    }
    return SL_DECLINED;
}

/* The body is in: the mirrors start, and the request runs its phases on from here. */
static void body_read(sl_http_request_t *r)
{
    mirror_conf_t *mlcf = sl_http_get_module_loc_conf(r, sl_http_mirror_module);
    mirror_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_mirror_module);

    ctx->status = start_mirrors(r, mlcf);
    /* the body serves the request's own content handler too */
    r->preserve_body = 1;
    r->write_event_handler = sl_http_core_run_phases;
    sl_http_core_run_phases(r);
}

static sl_int_t mirror_handler(sl_http_request_t *r)
{
    mirror_conf_t *mlcf = sl_http_get_module_loc_conf(r, sl_http_mirror_module);

    if (r != r->main || mlcf->mirror == NULL) {
        return SL_DECLINED;
    }
    mirror_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_mirror_module);
    if (ctx) {
        return ctx->status;
    }
    ctx = sl_pcalloc(r->pool, sizeof(mirror_ctx_t));
    if (ctx == NULL) {
        return SL_ERROR;
    }
    ctx->status = SL_DONE;
    sl_http_set_ctx(r, ctx, sl_http_mirror_module);
    if (!mlcf->request_body) {
        return start_mirrors(r, mlcf);
    }
    sl_int_t rc = sl_http_read_client_request_body(r, body_read);
    if (rc >= SL_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }
    sl_http_finalize_request(r, SL_DONE);
    return SL_DONE;
}

static sl_int_t postconfiguration(sl_conf_t *cf)
{
    return sl_http_add_phase_handler(cf, SL_HTTP_PRECONTENT_PHASE, mirror_handler);
}
