/*
 * sl_http_addition_filter_module.c: add_before_body and add_after_body, as nginx's
 * addition module: the response of a main request whose type is in addition_types gets
 * the output of a subrequest before its body and/or after it.  The parts are subrequests,
 * so the postpone filter keeps them in their place.
 *
 * Two module entries, as gzip's: the header filter runs after add_header's, the body
 * filter before charset's and SSI's (what a part brings goes through them as its own
 * response does).
 */
#include "sl_http_filter_types.h"
#include "sl_http_output.h"
#include "sl_pool.h"

typedef struct {
    sl_str_t before_body;
    sl_str_t after_body;
    sl_http_filter_types_t *types;
} addition_loc_conf_t;

typedef struct {
    unsigned before_body_sent : 1;
} addition_ctx_t;

static void *create_loc_conf(sl_conf_t *cf);
static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child);
static sl_int_t body_postconfiguration(sl_conf_t *cf);
static sl_int_t header_postconfiguration(sl_conf_t *cf);

#define CTX (SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF)
#define LOCF(f) offsetof(addition_loc_conf_t, f)

// clang-format off
static sl_command_t addition_commands[] = {
    { sl_string("add_before_body"), CTX | SL_CONF_TAKE1, sl_conf_set_str_slot, SL_HTTP_LOC_CONF_OFFSET, LOCF(before_body), NULL },
    { sl_string("add_after_body"), CTX | SL_CONF_TAKE1, sl_conf_set_str_slot, SL_HTTP_LOC_CONF_OFFSET, LOCF(after_body), NULL },
    { sl_string("addition_types"), CTX | SL_CONF_1MORE, sl_http_filter_types_slot,
      SL_HTTP_LOC_CONF_OFFSET, LOCF(types), (void *) sl_http_filter_types_html },
    sl_null_command,
};

static sl_http_module_t addition_module_ctx = {
    NULL, body_postconfiguration, NULL, NULL, NULL, NULL, create_loc_conf, merge_loc_conf,
};

sl_module_t sl_http_addition_filter_module = {
    "http_addition", 0, 0, SL_HTTP_MODULE, &addition_module_ctx, addition_commands, NULL, NULL,
    NULL,
};

static sl_http_module_t addition_header_module_ctx = {
    NULL, header_postconfiguration, NULL, NULL, NULL, NULL, NULL, NULL,
};

sl_module_t sl_http_addition_header_filter_module = {
    "http_addition_header_filter", 0, 0, SL_HTTP_MODULE, &addition_header_module_ctx, NULL,
    NULL, NULL, NULL,
};
// clang-format on

static sl_http_output_header_filter_pt next_header_filter;
static sl_http_output_body_filter_pt next_body_filter;

static void *create_loc_conf(sl_conf_t *cf)
{
    addition_loc_conf_t *conf = sl_pcalloc(cf->pool, sizeof(addition_loc_conf_t));

    if (conf) {
        /* before_body, after_body: empty, set by the str slot */
        conf->types = SL_CONF_UNSET_PTR;
    }
    return conf;
}

static const char *const default_types[] = { "text/html", NULL };

static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child)
{
    addition_loc_conf_t *prev = parent, *conf = child;

    sl_conf_merge_str_value(conf->before_body, prev->before_body, "");
    sl_conf_merge_str_value(conf->after_body, prev->after_body, "");
    return sl_http_filter_types_merge(cf, &conf->types, &prev->types, default_types);
}

static sl_int_t addition_header_filter(sl_http_request_t *r)
{
    addition_loc_conf_t *conf = sl_http_get_module_loc_conf(r, sl_http_addition_filter_module);

    if (r != r->main || (conf->before_body.len == 0 && conf->after_body.len == 0)
        || r->headers_out.status != SL_HTTP_OK || !sl_http_filter_types_test(r, conf->types)) {
        return next_header_filter(r);
    }
    addition_ctx_t *ctx = sl_pcalloc(r->pool, sizeof(addition_ctx_t));
    if (ctx == NULL) {
        return SL_ERROR;
    }
    sl_http_set_ctx(r, ctx, sl_http_addition_filter_module);
    sl_http_clear_content_length(r);
    sl_http_clear_accept_ranges(r);
    sl_http_weak_etag(r);
    return next_header_filter(r);
}

/* The response's own end becomes the end of its part; returns whether it came. */
static int hold_last(sl_chain_t *in)
{
    int last = 0;

    for (sl_chain_t *cl = in; cl; cl = cl->next) {
        if (cl->buf->last_buf) {
            cl->buf->last_buf = 0;
            cl->buf->last_in_chain = 1;
            cl->buf->sync = 1;
            last = 1;
        }
    }
    return last;
}

static sl_int_t addition_body_filter(sl_http_request_t *r, sl_chain_t *in)
{
    addition_loc_conf_t *conf = sl_http_get_module_loc_conf(r, sl_http_addition_filter_module);
    addition_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_addition_filter_module);

    if (in == NULL || r->header_only || ctx == NULL) {
        return next_body_filter(r, in);
    }
    if (!ctx->before_body_sent) {
        ctx->before_body_sent = 1;
        if (conf->before_body.len
            && sl_http_subrequest(r, &conf->before_body, NULL, NULL, NULL, 0) != SL_OK) {
            return SL_ERROR;
        }
    }
    if (conf->after_body.len == 0) {
        sl_http_set_ctx(r, NULL, sl_http_addition_filter_module);
        return next_body_filter(r, in);
    }
    int last = hold_last(in);
    sl_int_t rc = next_body_filter(r, in);
    if (rc == SL_ERROR || !last) {
        return rc;
    }
    if (sl_http_subrequest(r, &conf->after_body, NULL, NULL, NULL, 0) != SL_OK) {
        return SL_ERROR;
    }
    sl_http_set_ctx(r, NULL, sl_http_addition_filter_module);
    return sl_http_send_last(r);
}

static sl_int_t body_postconfiguration(sl_conf_t *cf)
{
    next_body_filter = sl_http_top_body_filter;
    sl_http_top_body_filter = addition_body_filter;
    return SL_OK;
}

static sl_int_t header_postconfiguration(sl_conf_t *cf)
{
    next_header_filter = sl_http_top_header_filter;
    sl_http_top_header_filter = addition_header_filter;
    return SL_OK;
}
