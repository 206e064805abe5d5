/*
 * sl_http_trailers_filter_module.c: add_trailer.  Like add_header, the deepest level that
 * has any wins and "always" extends them past the successful and redirect statuses; the
 * values are computed at the end of the body (so $status and the like are final), and the
 * chunked filter sends them after the last chunk.  A response that will carry trailers is
 * chunked even when its length is known, as nginx does for an HTTP/1.1 client; HEAD, 204,
 * 304 and HTTP/1.0 clients get none.
 */
#include "sl_http_output.h"
#include "sl_http_variables.h"
#include "sl_pool.h"

typedef struct {
    sl_str_t name;
    sl_http_complex_value_t value;
    unsigned always : 1;
} trailer_val_t;

typedef struct {
    /** trailer_val_t, NULL when unset at this level */
    sl_array_t *trailers;
} trailers_conf_t;

static void *create_loc_conf(sl_conf_t *cf);
static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child);
static sl_int_t postconfiguration(sl_conf_t *cf);
static char *set_add_trailer(sl_conf_t *cf, sl_command_t *cmd, void *conf);

static sl_command_t trailers_commands[] = {
    { sl_string("add_trailer"),
      SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF | SL_HTTP_LIF_CONF | SL_CONF_TAKE23,
      set_add_trailer, SL_HTTP_LOC_CONF_OFFSET, 0, NULL },
    sl_null_command,
};

static sl_http_module_t trailers_module_ctx = {
    NULL, postconfiguration, NULL, NULL, NULL, NULL, create_loc_conf, merge_loc_conf,
};

sl_module_t sl_http_trailers_filter_module = {
    "http_trailers_filter", 0,    0,    SL_HTTP_MODULE, &trailers_module_ctx,
    trailers_commands,      NULL, NULL, NULL,
};

static sl_http_output_header_filter_pt next_header_filter;
static sl_http_output_body_filter_pt next_body_filter;

static void *create_loc_conf(sl_conf_t *cf)
{
    trailers_conf_t *conf = sl_pcalloc(cf->pool, sizeof(trailers_conf_t));

    if (conf) {
        conf->trailers = SL_CONF_UNSET_PTR;
    }
    return conf;
}

static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child)
{
    trailers_conf_t *prev = parent, *conf = child;

    sl_conf_merge_ptr_value(conf->trailers, prev->trailers, NULL);
    return SL_CONF_OK;
}

/* The statuses trailers go with without "always" (add_header's). */
static int status_allows(sl_uint_t status)
{
    return status == 200 || status == 201 || status == 204 || status == 206 || status == 301
           || status == 302 || status == 303 || status == 304 || status == 307 || status == 308;
}

/* Whether any trailer applies to this status. */
static int wants_trailers(sl_http_request_t *r, trailers_conf_t *conf)
{
    int ok = status_allows(r->headers_out.status);
    trailer_val_t *t = conf->trailers->elts;

    for (sl_uint_t i = 0; i < conf->trailers->nelts; i++) {
        if (ok || t[i].always) {
            return 1;
        }
    }
    return 0;
}

static sl_int_t trailers_header_filter(sl_http_request_t *r)
{
    trailers_conf_t *conf = sl_http_get_module_loc_conf(r, sl_http_trailers_filter_module);

    if (conf->trailers && r == r->main && wants_trailers(r, conf)) {
        /* the header filter turns this into chunked framing where that is possible */
        r->expect_trailers = 1;
    }
    return next_header_filter(r);
}

/* Computes the trailers into r->headers_out.trailers (empty values add nothing). */
static sl_int_t make_trailers(sl_http_request_t *r, trailers_conf_t *conf)
{
    int ok = status_allows(r->headers_out.status);
    trailer_val_t *t = conf->trailers->elts;

    for (sl_uint_t i = 0; i < conf->trailers->nelts; i++) {
        sl_str_t value;

        if (!ok && !t[i].always) {
            continue;
        }
        if (sl_http_complex_value(r, &t[i].value, &value) != SL_OK) {
            return SL_ERROR;
        }
        if (value.len == 0) {
            continue;
        }
        sl_table_elt_t *h = sl_list_push(&r->headers_out.trailers);
        if (h == NULL) {
            return SL_ERROR;
        }
        memset(h, 0, sizeof(*h));
        h->hash = 1;
        h->key = t[i].name;
        h->value = value;
    }
    return SL_OK;
}

static sl_int_t trailers_body_filter(sl_http_request_t *r, sl_chain_t *in)
{
    trailers_conf_t *conf = sl_http_get_module_loc_conf(r, sl_http_trailers_filter_module);

    if (in == NULL || !r->expect_trailers || !r->chunked || conf->trailers == NULL) {
        return next_body_filter(r, in);
    }
    for (sl_chain_t *cl = in; cl; cl = cl->next) {
        if (cl->buf->last_buf) {
            if (make_trailers(r, conf) != SL_OK) {
                return SL_ERROR;
            }
            break;
        }
    }
    return next_body_filter(r, in);
}

static sl_int_t postconfiguration(sl_conf_t *cf)
{
    next_header_filter = sl_http_top_header_filter;
    sl_http_top_header_filter = trailers_header_filter;
    next_body_filter = sl_http_top_body_filter;
    sl_http_top_body_filter = trailers_body_filter;
    return SL_OK;
}

static char *set_add_trailer(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    trailers_conf_t *tcf = conf;
    sl_str_t *value = cf->args->elts;

    if (tcf->trailers == SL_CONF_UNSET_PTR || tcf->trailers == NULL) {
        tcf->trailers = sl_array_create(cf->pool, 4, sizeof(trailer_val_t));
        if (tcf->trailers == NULL) {
            return SL_CONF_ERROR;
        }
    }
    trailer_val_t *t = sl_array_push(tcf->trailers);
    if (t == NULL) {
        return SL_CONF_ERROR;
    }
    memset(t, 0, sizeof(*t));
    t->name = value[1];
    if (cf->args->nelts == 4) {
        if (!sl_str_eq_cstr(&value[3], "always")) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid parameter \"%.*s\"",
                              SL_STR_ARG(value[3]));
            return SL_CONF_ERROR;
        }
        t->always = 1;
    }
    return sl_http_compile_value(cf, &value[2], &t->value) == SL_OK ? SL_CONF_OK : SL_CONF_ERROR;
}
