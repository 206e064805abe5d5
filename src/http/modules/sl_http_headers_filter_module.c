/*
 * sl_http_headers_filter_module.c: add_header.  Headers from the deepest level that has any
 * (a level with add_header replaces the inherited set, as nginx), added to successful and
 * redirect responses, or to every response with "always".
 */
#include "sl_http_output.h"
#include "sl_http_request.h"
#include "sl_http_variables.h"
#include "sl_pool.h"

typedef enum {
    HEADER_PLAIN,
    /* replace the response's own validators (what the range filter's If-Range compares
     * with, after the not-modified filter has answered), as nginx */
    HEADER_LAST_MODIFIED,
    HEADER_ETAG,
} header_kind_e;

typedef struct {
    sl_str_t name;
    sl_http_complex_value_t value;
    header_kind_e kind;
    unsigned always : 1;
} header_val_t;

typedef struct {
    /** header_val_t, NULL when unset at this level */
    sl_array_t *headers;
} headers_conf_t;

static void *create_loc_conf(sl_conf_t *cf);
static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child);
static sl_int_t postconfiguration(sl_conf_t *cf);
static char *set_add_header(sl_conf_t *cf, sl_command_t *cmd, void *conf);

static sl_command_t headers_commands[] = {
    { sl_string("add_header"),
      SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF | SL_HTTP_LIF_CONF | SL_CONF_TAKE23,
      set_add_header, SL_HTTP_LOC_CONF_OFFSET, 0, NULL },
    sl_null_command,
};

static sl_http_module_t headers_module_ctx = {
    NULL, postconfiguration, NULL, NULL, NULL, NULL, create_loc_conf, merge_loc_conf,
};

sl_module_t sl_http_headers_filter_module = {
    "http_headers_filter", 0,    0,    SL_HTTP_MODULE, &headers_module_ctx,
    headers_commands,      NULL, NULL, NULL,
};

static sl_http_output_header_filter_pt next_header_filter;

static void *create_loc_conf(sl_conf_t *cf)
{
    headers_conf_t *conf = sl_pcalloc(cf->pool, sizeof(headers_conf_t));

    if (conf) {
        conf->headers = SL_CONF_UNSET_PTR;
    }
    return conf;
}

static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child)
{
    headers_conf_t *prev = parent, *conf = child;

    sl_conf_merge_ptr_value(conf->headers, prev->headers, NULL);
    return SL_CONF_OK;
}

/* The statuses nginx adds headers to without "always". */
static int status_allows(sl_uint_t status)
{
    switch (status) {
    case 200:
    case 201:
    case 204:
    case 206:
    case 301:
    case 302:
    case 303:
    case 304:
    case 307:
    case 308:
        return 1;
    default:
        return 0;
    }
}

/* One header added; Last-Modified and ETag take the place of the response's own (an empty
 * value removes it).  SL_OK or SL_ERROR. */
static sl_int_t add_one(sl_http_request_t *r, const header_val_t *hv, const sl_str_t *value)
{
    const char *name = (const char *) hv->name.data;
    sl_table_elt_t *h = NULL;

    if (hv->kind == HEADER_LAST_MODIFIED) {
        sl_http_clear_last_modified(r);
    } else if (hv->kind == HEADER_ETAG) {
        sl_http_clear_etag(r);
    }
    /* an empty value adds nothing, as nginx */
    if (value->len == 0) {
        return SL_OK;
    }
    h = sl_http_add_response_header(r, name, value->data, value->len);
    if (h == NULL) {
        return SL_ERROR;
    }
    if (hv->kind == HEADER_LAST_MODIFIED) {
        r->headers_out.last_modified = h;
        r->headers_out.last_modified_time = sl_http_parse_time(value->data, value->len);
    } else if (hv->kind == HEADER_ETAG) {
        r->headers_out.etag = h;
    }
    return SL_OK;
}

static sl_int_t headers_filter(sl_http_request_t *r)
{
    headers_conf_t *conf = sl_http_get_module_loc_conf(r, sl_http_headers_filter_module);

    if (conf->headers == NULL || r != r->main) {
        return next_header_filter(r);
    }
    int ok = status_allows(r->headers_out.status);
    header_val_t *h = conf->headers->elts;
    for (sl_uint_t i = 0; i < conf->headers->nelts; i++) {
        sl_str_t value;

        if (!ok && !h[i].always) {
            continue;
        }
        if (sl_http_complex_value(r, &h[i].value, &value) != SL_OK) {
            return SL_ERROR;
        }
        if (add_one(r, &h[i], &value) != SL_OK) {
            return SL_ERROR;
        }
    }
    return next_header_filter(r);
}

static sl_int_t postconfiguration(sl_conf_t *cf)
{
    next_header_filter = sl_http_top_header_filter;
    sl_http_top_header_filter = headers_filter;
    return SL_OK;
}

static char *set_add_header(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    headers_conf_t *hcf = conf;
    sl_str_t *value = cf->args->elts;

    if (hcf->headers == SL_CONF_UNSET_PTR || hcf->headers == NULL) {
        hcf->headers = sl_array_create(cf->pool, 4, sizeof(header_val_t));
        if (hcf->headers == NULL) {
            return SL_CONF_ERROR;
        }
    }
    header_val_t *h = sl_array_push(hcf->headers);
    if (h == NULL) {
        return SL_CONF_ERROR;
    }
    memset(h, 0, sizeof(*h));
    /* the name is NUL-terminated by the parser and lives as long as the config */
    h->name = value[1];
    static const sl_str_t last_modified = sl_string("Last-Modified"), etag = sl_string("ETag");
    if (sl_str_caseeq(&h->name, &last_modified)) {
        h->kind = HEADER_LAST_MODIFIED;
    } else if (sl_str_caseeq(&h->name, &etag)) {
        h->kind = HEADER_ETAG;
    }
    if (cf->args->nelts == 4) {
        if (!sl_str_eq_cstr(&value[3], "always")) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid parameter \"%.*s\"",
                              SL_STR_ARG(value[3]));
            return SL_CONF_ERROR;
        }
        h->always = 1;
    }
    return sl_http_compile_value(cf, &value[2], &h->value) == SL_OK ? SL_CONF_OK : SL_CONF_ERROR;
}
