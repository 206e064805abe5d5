/*
 * sl_http_rewrite_module.c: the rewrite module's directives, run in the server-rewrite and
 * rewrite phases in the order they appear.  return: end the request with a code, a text
 * or a redirect.
 */
#include "sl_http_output.h"
#include "sl_http_variables.h"
#include "sl_pool.h"

typedef enum { OP_RETURN } op_type_e;

typedef struct {
    op_type_e type;
    sl_uint_t status;
    /** the text or URL of return, or NULL */
    sl_http_complex_value_t *text;
} rewrite_op_t;

typedef struct {
    /** rewrite_op_t, NULL when this level has none (never inherited: each level runs its own) */
    sl_array_t *ops;
} rewrite_loc_conf_t;

static void *create_loc_conf(sl_conf_t *cf);
static sl_int_t postconfiguration(sl_conf_t *cf);
static char *set_return(sl_conf_t *cf, sl_command_t *cmd, void *conf);

static sl_command_t rewrite_commands[] = {
    { sl_string("return"),
      SL_HTTP_SRV_CONF | SL_HTTP_SIF_CONF | SL_HTTP_LOC_CONF | SL_HTTP_LIF_CONF | SL_CONF_TAKE12,
      set_return, SL_HTTP_LOC_CONF_OFFSET, 0, NULL },
    sl_null_command,
};

static sl_http_module_t rewrite_module_ctx = {
    NULL, postconfiguration, NULL, NULL, NULL, NULL, create_loc_conf, NULL,
};

sl_module_t sl_http_rewrite_module = {
    "http_rewrite", 0, 0, SL_HTTP_MODULE, &rewrite_module_ctx, rewrite_commands, NULL, NULL, NULL,
};

static void *create_loc_conf(sl_conf_t *cf)
{
    return sl_pcalloc(cf->pool, sizeof(rewrite_loc_conf_t));
}

static sl_int_t run_return(sl_http_request_t *r, rewrite_op_t *op)
{
    sl_str_t text;

    if (op->text == NULL) {
        return (sl_int_t) op->status;
    }
    if (sl_http_complex_value(r, op->text, &text) != SL_OK) {
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (op->status == SL_HTTP_MOVED_PERMANENTLY || op->status == SL_HTTP_MOVED_TEMPORARILY
        || op->status == SL_HTTP_SEE_OTHER || op->status == SL_HTTP_TEMPORARY_REDIRECT
        || op->status == SL_HTTP_PERMANENT_REDIRECT) {
        sl_http_clear_content_length(r);
        r->headers_out.location = sl_http_add_response_header(r, "Location", text.data, text.len);
        return r->headers_out.location ? (sl_int_t) op->status : SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);
    /* a body: status and text as given, the location's default_type */
    r->discard_body = 0;
    if (sl_http_discard_request_body(r) != SL_OK) {
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    return sl_http_send_response(r, op->status, &clcf->default_type, &text);
}

static sl_int_t rewrite_handler(sl_http_request_t *r)
{
    rewrite_loc_conf_t *rlcf = sl_http_get_module_loc_conf(r, sl_http_rewrite_module);

    if (rlcf->ops == NULL) {
        return SL_DECLINED;
    }
    rewrite_op_t *ops = rlcf->ops->elts;
    for (sl_uint_t i = 0; i < rlcf->ops->nelts; i++) {
        if (ops[i].type == OP_RETURN) {
            return run_return(r, &ops[i]);
        }
    }
    return SL_DECLINED;
}

static sl_int_t postconfiguration(sl_conf_t *cf)
{
    sl_http_core_main_conf_t *cmcf = sl_http_conf_get_module_main_conf(cf, sl_http_core_module);
    sl_int_t (**h)(sl_http_request_t *);

    h = sl_array_push(&cmcf->phases[SL_HTTP_SERVER_REWRITE_PHASE]);
    if (h == NULL) {
        return SL_ERROR;
    }
    *h = rewrite_handler;
    h = sl_array_push(&cmcf->phases[SL_HTTP_REWRITE_PHASE]);
    if (h == NULL) {
        return SL_ERROR;
    }
    *h = rewrite_handler;
    return SL_OK;
}

static int is_redirect_url(const sl_str_t *v)
{
    return (v->len > 7 && sl_strncasecmp(v->data, (u_char *) "http://", 7) == 0)
           || (v->len > 8 && sl_strncasecmp(v->data, (u_char *) "https://", 8) == 0)
           || (v->len > 7 && memcmp(v->data, "$scheme", 7) == 0);
}

static char *set_return(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    rewrite_loc_conf_t *rlcf = conf;
    sl_str_t *value = cf->args->elts;

    if (rlcf->ops == NULL
        && (rlcf->ops = sl_array_create(cf->pool, 2, sizeof(rewrite_op_t))) == NULL) {
        return SL_CONF_ERROR;
    }
    rewrite_op_t *op = sl_array_push(rlcf->ops);
    if (op == NULL) {
        return SL_CONF_ERROR;
    }
    memset(op, 0, sizeof(*op));
    op->type = OP_RETURN;
    sl_str_t *text = NULL;
    sl_int_t code = sl_atoi(value[1].data, value[1].len);
    if (code == SL_ERROR) {
        if (cf->args->nelts != 2 || !is_redirect_url(&value[1])) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid return code \"%.*s\"",
                              SL_STR_ARG(value[1]));
            return SL_CONF_ERROR;
        }
        code = SL_HTTP_MOVED_TEMPORARILY;
        text = &value[1];
    } else if (code > 999) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid return code \"%.*s\"",
                          SL_STR_ARG(value[1]));
        return SL_CONF_ERROR;
    } else if (cf->args->nelts == 3) {
        text = &value[2];
    }
    op->status = (sl_uint_t) code;
    if (text == NULL) {
        return SL_CONF_OK;
    }
    op->text = sl_pcalloc(cf->pool, sizeof(sl_http_complex_value_t));
    if (op->text == NULL) {
        return SL_CONF_ERROR;
    }
    sl_http_compile_complex_value_t ccv;
    memset(&ccv, 0, sizeof(ccv));
    ccv.cf = cf;
    ccv.value = text;
    ccv.complex_value = op->text;
    return sl_http_compile_complex_value(&ccv) == SL_OK ? SL_CONF_OK : SL_CONF_ERROR;
}
