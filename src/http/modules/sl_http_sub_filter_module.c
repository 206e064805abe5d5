/*
 * sl_http_sub_filter_module.c: sub_filter, as nginx's: in a response whose type is in
 * sub_filter_types, each string (matched ignoring case; both it and its replacement may
 * hold variables) is replaced, once (sub_filter_once on) or everywhere.  Matches may
 * straddle buffer edges: a tail that could begin a match is held back until the next
 * buffer says whether it does.  At a position, the first string configured that matches
 * there wins; the earliest position wins over later ones.
 *
 * Two module entries, as gzip's: the header filter runs after add_header's, the body
 * filter after addition's (a part added goes through it) and before charset's.
 */
#include "sl_http_filter_types.h"
#include "sl_http_output.h"
#include "sl_http_variables.h"
#include "sl_pool.h"

typedef struct {
    sl_http_complex_value_t match;
    sl_http_complex_value_t value;
} sub_pair_t;

typedef struct {
    /** sub_pair_t; NULL when no sub_filter applies here */
    sl_array_t *pairs;
    sl_int_t once;
    sl_int_t last_modified;
    sl_http_filter_types_t *types;
} sub_loc_conf_t;

typedef struct {
    /** this response's strings, lowercased, and their replacements */
    sl_str_t *match;
    sl_str_t *value;
    /** a string already replaced (sub_filter_once) */
    u_char *done;
    sl_uint_t n;
    size_t max_len;
    /** the tail held back: it may begin a match */
    u_char *hold;
    size_t hold_len;
    sl_chain_t *out;
    sl_chain_t **last_out;
} sub_ctx_t;

static void *create_loc_conf(sl_conf_t *cf);
static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child);
static char *sub_filter_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static sl_int_t body_postconfiguration(sl_conf_t *cf);
static sl_int_t header_postconfiguration(sl_conf_t *cf);

#define CTX (SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF)
#define LOCF(f) offsetof(sub_loc_conf_t, f)

// clang-format off
static sl_command_t sub_commands[] = {
    { sl_string("sub_filter"), CTX | SL_CONF_TAKE2, sub_filter_slot, SL_HTTP_LOC_CONF_OFFSET, 0, NULL },
    { sl_string("sub_filter_once"), CTX | SL_CONF_FLAG, sl_conf_set_flag_slot, SL_HTTP_LOC_CONF_OFFSET, LOCF(once), NULL },
    { sl_string("sub_filter_last_modified"), CTX | SL_CONF_FLAG, sl_conf_set_flag_slot, SL_HTTP_LOC_CONF_OFFSET, LOCF(last_modified), NULL },
    { sl_string("sub_filter_types"), CTX | SL_CONF_1MORE, sl_http_filter_types_slot,
      SL_HTTP_LOC_CONF_OFFSET, LOCF(types), (void *) sl_http_filter_types_html },
    sl_null_command,
};

static sl_http_module_t sub_module_ctx = {
    NULL, body_postconfiguration, NULL, NULL, NULL, NULL, create_loc_conf, merge_loc_conf,
};

sl_module_t sl_http_sub_filter_module = {
    "http_sub", 0, 0, SL_HTTP_MODULE, &sub_module_ctx, sub_commands, NULL, NULL, NULL,
};

static sl_http_module_t sub_header_module_ctx = {
    NULL, header_postconfiguration, NULL, NULL, NULL, NULL, NULL, NULL,
};

sl_module_t sl_http_sub_header_filter_module = {
    "http_sub_header_filter", 0, 0, SL_HTTP_MODULE, &sub_header_module_ctx, NULL, NULL, NULL,
    NULL,
};
// clang-format on

static sl_http_output_header_filter_pt next_header_filter;
static sl_http_output_body_filter_pt next_body_filter;

/* --- configuration ------------------------------------------------------------------------ */

static void *create_loc_conf(sl_conf_t *cf)
{
    sub_loc_conf_t *conf = sl_pcalloc(cf->pool, sizeof(sub_loc_conf_t));

    if (conf) {
        conf->pairs = SL_CONF_UNSET_PTR;
        conf->once = SL_CONF_UNSET;
        conf->last_modified = SL_CONF_UNSET;
        conf->types = SL_CONF_UNSET_PTR;
    }
    return conf;
}

static char *sub_filter_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sub_loc_conf_t *slcf = conf;
    sl_str_t *value = cf->args->elts;

    if (slcf->pairs == SL_CONF_UNSET_PTR) {
        slcf->pairs = sl_array_create(cf->pool, 4, sizeof(sub_pair_t));
        if (slcf->pairs == NULL) {
            return SL_CONF_ERROR;
        }
    }
    sub_pair_t *pair = sl_array_push(slcf->pairs);
    if (pair == NULL) {
        return SL_CONF_ERROR;
    }
    memset(pair, 0, sizeof(*pair));
    if (value[1].len == 0) {
        return "empty search pattern";
    }
    if (sl_http_compile_value(cf, &value[1], &pair->match) != SL_OK
        || sl_http_compile_value(cf, &value[2], &pair->value) != SL_OK) {
        return SL_CONF_ERROR;
    }
    return SL_CONF_OK;
}

static const char *const default_types[] = { "text/html", NULL };

static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child)
{
    sub_loc_conf_t *prev = parent, *conf = child;

    /* a level without sub_filter takes its parent's, all of them */
    sl_conf_merge_ptr_value(conf->pairs, prev->pairs, NULL);
    sl_conf_merge_value(conf->once, prev->once, 1);
    sl_conf_merge_value(conf->last_modified, prev->last_modified, 0);
    return sl_http_filter_types_merge(cf, &conf->types, &prev->types, default_types);
}

/* --- the header ----------------------------------------------------------------------------- */

/* This response's strings: the configured ones evaluated; an empty one is left out. */
static sl_int_t evaluate_pairs(sl_http_request_t *r, sub_loc_conf_t *conf, sub_ctx_t *ctx)
{
    sub_pair_t *pairs = conf->pairs->elts;
    sl_uint_t n = conf->pairs->nelts;

    ctx->match = sl_palloc(r->pool, n * sizeof(sl_str_t));
    ctx->value = sl_palloc(r->pool, n * sizeof(sl_str_t));
    ctx->done = sl_pcalloc(r->pool, n);
    if (ctx->match == NULL || ctx->value == NULL || ctx->done == NULL) {
        return SL_ERROR;
    }
    for (sl_uint_t i = 0; i < n; i++) {
        sl_str_t m, v;
        if (sl_http_complex_value(r, &pairs[i].match, &m) != SL_OK
            || sl_http_complex_value(r, &pairs[i].value, &v) != SL_OK) {
            return SL_ERROR;
        }
        if (m.len == 0) {
            continue;
        }
        u_char *low = sl_pnalloc(r->pool, m.len);
        if (low == NULL) {
            return SL_ERROR;
        }
        sl_strlow(low, m.data, m.len);
        ctx->match[ctx->n].data = low;
        ctx->match[ctx->n].len = m.len;
        ctx->value[ctx->n] = v;
        ctx->max_len = sl_max(ctx->max_len, m.len);
        ctx->n++;
    }
    return SL_OK;
}

static sl_int_t sub_header_filter(sl_http_request_t *r)
{
    sub_loc_conf_t *conf = sl_http_get_module_loc_conf(r, sl_http_sub_filter_module);

    if (conf->pairs == NULL || r->headers_out.content_length_n == 0 || r->header_only
        || !sl_http_filter_types_test(r, conf->types)) {
        return next_header_filter(r);
    }
    sub_ctx_t *ctx = sl_pcalloc(r->pool, sizeof(sub_ctx_t));
    if (ctx == NULL || evaluate_pairs(r, conf, ctx) != SL_OK) {
        return SL_ERROR;
    }
    if (ctx->n == 0) {
        return next_header_filter(r);
    }
    ctx->last_out = &ctx->out;
    ctx->hold = sl_pnalloc(r->pool, ctx->max_len);
    if (ctx->hold == NULL) {
        return SL_ERROR;
    }
    sl_http_set_ctx(r, ctx, sl_http_sub_filter_module);
    r->filter_need_in_memory = 1;
    if (r == r->main) {
        sl_http_clear_content_length(r);
        if (!conf->last_modified) {
            sl_http_clear_last_modified(r);
            sl_http_clear_etag(r);
        } else {
            sl_http_weak_etag(r);
        }
    }
    return next_header_filter(r);
}

/* --- the body ----------------------------------------------------------------------------------- */

static sl_int_t emit(sl_http_request_t *r, sub_ctx_t *ctx, u_char *data, size_t len)
{
    if (len == 0) {
        return SL_OK;
    }
    sl_buf_t *b = sl_calloc_buf(r->pool);
    sl_chain_t *cl = sl_alloc_chain_link(r->pool);
    if (b == NULL || cl == NULL) {
        return SL_ERROR;
    }
    b->memory = 1;
    b->start = b->pos = data;
    b->end = b->last = data + len;
    cl->buf = b;
    cl->next = NULL;
    *ctx->last_out = cl;
    ctx->last_out = &cl->next;
    return SL_OK;
}

static int ci_eq(const u_char *text, const u_char *low, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        u_char ch = text[i];
        if (ch >= 'A' && ch <= 'Z') {
            ch |= 0x20;
        }
        if (ch != low[i]) {
            return 0;
        }
    }
    return 1;
}

/*
 * What is at p: the index of the first string matching there whole (>= 0), -1 for none,
 * -2 when a string could still match with more data (it runs past end).
 */
static sl_int_t match_at(sub_ctx_t *ctx, const u_char *p, const u_char *end, int last)
{
    int partial = 0;

    for (sl_uint_t i = 0; i < ctx->n; i++) {
        size_t len = ctx->match[i].len, left = (size_t) (end - p);
        if (ctx->done[i]) {
            continue;
        }
        if (len <= left) {
            if (ci_eq(p, ctx->match[i].data, len)) {
                return (sl_int_t) i;
            }
        } else if (!last && ci_eq(p, ctx->match[i].data, left)) {
            partial = 1;
        }
    }
    return partial ? -2 : -1;
}

/* Replaces in [data, data + len) (pool memory of this request); holds a possible start of
 * a match at the end unless last. */
static sl_int_t substitute(sl_http_request_t *r, sub_ctx_t *ctx, u_char *data, size_t len, int last)
{
    sub_loc_conf_t *conf = sl_http_get_module_loc_conf(r, sl_http_sub_filter_module);
    u_char *p = data, *end = data + len, *text = data;

    while (p < end) {
        sl_int_t m = match_at(ctx, p, end, last);
        if (m == -1) {
            p++;
            continue;
        }
        if (emit(r, ctx, text, (size_t) (p - text)) != SL_OK) {
            return SL_ERROR;
        }
        if (m == -2) {
            ctx->hold_len = (size_t) (end - p);
            memcpy(ctx->hold, p, ctx->hold_len);
            return SL_OK;
        }
        if (emit(r, ctx, ctx->value[m].data, ctx->value[m].len) != SL_OK) {
            return SL_ERROR;
        }
        ctx->done[m] = (u_char) conf->once;
        p += ctx->match[m].len;
        text = p;
    }
    return emit(r, ctx, text, (size_t) (end - text));
}

/* The buffer's special flags go on in an empty buf of their own. */
static sl_int_t pass_marks(sl_http_request_t *r, sub_ctx_t *ctx, const sl_buf_t *in)
{
    if (!in->last_buf && !in->last_in_chain && !in->flush) {
        return SL_OK;
    }
    sl_buf_t *b = sl_calloc_buf(r->pool);
    sl_chain_t *cl = sl_alloc_chain_link(r->pool);
    if (b == NULL || cl == NULL) {
        return SL_ERROR;
    }
    b->last_buf = in->last_buf;
    b->last_in_chain = in->last_in_chain;
    b->flush = in->flush;
    cl->buf = b;
    cl->next = NULL;
    *ctx->last_out = cl;
    ctx->last_out = &cl->next;
    return SL_OK;
}

static sl_int_t sub_buf(sl_http_request_t *r, sub_ctx_t *ctx, sl_buf_t *b)
{
    int last = b->last_buf || b->last_in_chain;
    size_t size = sl_buf_in_memory(b) ? (size_t) (b->last - b->pos) : 0;

    if (size || (last && ctx->hold_len)) {
        /* the held tail and the new bytes, together: a match may span them */
        u_char *data = sl_pnalloc(r->pool, ctx->hold_len + size + 1);
        if (data == NULL) {
            return SL_ERROR;
        }
        memcpy(data, ctx->hold, ctx->hold_len);
        if (size) {
            memcpy(data + ctx->hold_len, b->pos, size);
        }
        size_t len = ctx->hold_len + size;
        ctx->hold_len = 0;
        if (substitute(r, ctx, data, len, last) != SL_OK) {
            return SL_ERROR;
        }
    }
    b->pos = b->last;
    b->file_pos = b->file_last;
    return pass_marks(r, ctx, b);
}

static sl_int_t sub_body_filter(sl_http_request_t *r, sl_chain_t *in)
{
    sub_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_sub_filter_module);

    if (ctx == NULL || in == NULL) {
        return next_body_filter(r, in);
    }
    for (sl_chain_t *cl = in; cl; cl = cl->next) {
        if (sub_buf(r, ctx, cl->buf) != SL_OK) {
            return SL_ERROR;
        }
    }
    sl_chain_t *out = ctx->out;
    ctx->out = NULL;
    ctx->last_out = &ctx->out;
    return next_body_filter(r, out);
}

static sl_int_t body_postconfiguration(sl_conf_t *cf)
{
    next_body_filter = sl_http_top_body_filter;
    sl_http_top_body_filter = sub_body_filter;
    return SL_OK;
}

static sl_int_t header_postconfiguration(sl_conf_t *cf)
{
    next_header_filter = sl_http_top_header_filter;
    sl_http_top_header_filter = sub_header_filter;
    return SL_OK;
}
