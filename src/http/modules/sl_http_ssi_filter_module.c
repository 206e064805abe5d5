/*
 * sl_http_ssi_filter_module.c: server-side includes, as nginx's ssi module.  The body of a
 * response whose type is in ssi_types is parsed as it passes (sl_http_ssi_parse.c); text
 * goes on, commands run: "include" starts a subrequest whose output takes the command's
 * place (the postpone filter keeps document order), "echo" writes a variable, "set" sets
 * one, "if"/"elif"/"else"/"endif" choose what is output, "config" sets the error message
 * and the time format of $date_local/$date_gmt, "block" keeps text for an include's stub.
 *
 * Two module entries, as gzip's: the body filter runs after charset's and before the
 * postpone filter; the header filter before gzip's and the range filter's, so those see
 * the response without its length.
 */
#include <stdio.h>
#include <time.h>

#include "sl_http_filter_types.h"
#include "sl_http_output.h"
#include "sl_http_ssi.h"
#include "sl_http_variables.h"
#include "sl_regex.h"

typedef struct {
    sl_int_t enable;
    sl_int_t silent_errors;
    sl_int_t last_modified;
    size_t min_file_chunk;
    size_t value_len;
    sl_http_filter_types_t *types;
} ssi_loc_conf_t;

/* "set" variables and "block"s live on the main request's state, shared by the
 * subrequests' documents. */
typedef struct ssi_var_s ssi_var_t;
struct ssi_var_s {
    sl_str_t name;
    sl_str_t value;
    ssi_var_t *next;
};

typedef struct ssi_block_s ssi_block_t;
struct ssi_block_s {
    sl_str_t name;
    sl_chain_t *text;
    ssi_block_t *next;
};

typedef struct {
    sl_http_ssi_parser_t parser;
    /** input not parsed yet, and the buffer being parsed */
    sl_chain_t *in;
    sl_buf_t *buf;
    /** what to pass on */
    sl_chain_t *out;
    sl_chain_t **last_out;
    /** an "include ... wait" not done yet: nothing more is parsed until it is */
    sl_http_request_t *wait;
    ssi_var_t *vars;
    ssi_block_t *blocks;
    /** the "block" being read: its text goes there instead of out */
    ssi_block_t *block;
    sl_str_t errmsg;
    sl_str_t timefmt;
    /** if/elif/else/endif: inside a conditional; output on; a branch was taken */
    /** echo's encoding: it stays for the echo commands after the one that set it */
    unsigned encoding : 2;
    unsigned conditional : 2;
    unsigned output : 1;
    unsigned output_chosen : 1;
} ssi_ctx_t;

#define ENC_ENTITY 0
#define ENC_NONE 1
#define ENC_URL 2

#define COND_NONE 0
#define COND_IF 1
#define COND_ELSE 2

/* A part of this module's state in r->buffered while input waits. */
#define SSI_BUFFERED 0x01

static const sl_str_t default_errmsg = sl_string("[an error occurred while processing the "
                                                 "directive]");
static const sl_str_t default_timefmt = sl_string("%A, %d-%b-%Y %H:%M:%S %Z");

static void *create_loc_conf(sl_conf_t *cf);
static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child);
static sl_int_t preconfiguration(sl_conf_t *cf);
static sl_int_t body_postconfiguration(sl_conf_t *cf);
static sl_int_t header_postconfiguration(sl_conf_t *cf);

#define CTX (SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF)
#define LOCF(f) offsetof(ssi_loc_conf_t, f)

// clang-format off
static sl_command_t ssi_commands[] = {
    { sl_string("ssi"), CTX | SL_HTTP_LIF_CONF | SL_CONF_FLAG, sl_conf_set_flag_slot, SL_HTTP_LOC_CONF_OFFSET, LOCF(enable), NULL },
    { sl_string("ssi_silent_errors"), CTX | SL_CONF_FLAG, sl_conf_set_flag_slot, SL_HTTP_LOC_CONF_OFFSET, LOCF(silent_errors), NULL },
    { sl_string("ssi_last_modified"), CTX | SL_CONF_FLAG, sl_conf_set_flag_slot, SL_HTTP_LOC_CONF_OFFSET, LOCF(last_modified), NULL },
    { sl_string("ssi_min_file_chunk"), CTX | SL_CONF_TAKE1, sl_conf_set_size_slot, SL_HTTP_LOC_CONF_OFFSET, LOCF(min_file_chunk), NULL },
    { sl_string("ssi_value_length"), CTX | SL_CONF_TAKE1, sl_conf_set_size_slot, SL_HTTP_LOC_CONF_OFFSET, LOCF(value_len), NULL },
    { sl_string("ssi_types"), CTX | SL_CONF_1MORE, sl_http_filter_types_slot,
      SL_HTTP_LOC_CONF_OFFSET, LOCF(types), (void *) sl_http_filter_types_html },
    sl_null_command,
};

static sl_http_module_t ssi_module_ctx = {
    preconfiguration, body_postconfiguration, NULL, NULL, NULL, NULL,
    create_loc_conf, merge_loc_conf,
};

sl_module_t sl_http_ssi_filter_module = {
    "http_ssi", 0, 0, SL_HTTP_MODULE, &ssi_module_ctx, ssi_commands, NULL, NULL, NULL,
};

static sl_http_module_t ssi_header_module_ctx = {
    NULL, header_postconfiguration, NULL, NULL, NULL, NULL, NULL, NULL,
};

sl_module_t sl_http_ssi_header_filter_module = {
    "http_ssi_header_filter", 0, 0, SL_HTTP_MODULE, &ssi_header_module_ctx, NULL, NULL, NULL,
    NULL,
};
// clang-format on

static sl_http_output_header_filter_pt next_header_filter;
static sl_http_output_body_filter_pt next_body_filter;

/* --- configuration ------------------------------------------------------------------------ */

static void *create_loc_conf(sl_conf_t *cf)
{
    ssi_loc_conf_t *conf = sl_pcalloc(cf->pool, sizeof(ssi_loc_conf_t));

    if (conf) {
        conf->enable = SL_CONF_UNSET;
        conf->silent_errors = SL_CONF_UNSET;
        conf->last_modified = SL_CONF_UNSET;
        conf->min_file_chunk = SL_CONF_UNSET_SIZE;
        conf->value_len = SL_CONF_UNSET_SIZE;
        conf->types = SL_CONF_UNSET_PTR;
    }
    return conf;
}

static const char *const default_types[] = { "text/html", NULL };

static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child)
{
    ssi_loc_conf_t *prev = parent, *conf = child;

    sl_conf_merge_value(conf->enable, prev->enable, 0);
    sl_conf_merge_value(conf->silent_errors, prev->silent_errors, 0);
    sl_conf_merge_value(conf->last_modified, prev->last_modified, 0);
    sl_conf_merge_size_value(conf->min_file_chunk, prev->min_file_chunk, 1024);
    sl_conf_merge_size_value(conf->value_len, prev->value_len, 256);
    return sl_http_filter_types_merge(cf, &conf->types, &prev->types, default_types);
}

/* --- the header ----------------------------------------------------------------------------- */

static sl_int_t ssi_header_filter(sl_http_request_t *r)
{
    ssi_loc_conf_t *conf = sl_http_get_module_loc_conf(r, sl_http_ssi_filter_module);

    if (!conf->enable || r->headers_out.content_length_n == 0 || r->header_only
        || !sl_http_filter_types_test(r, conf->types)) {
        return next_header_filter(r);
    }
    ssi_ctx_t *ctx = sl_pcalloc(r->pool, sizeof(ssi_ctx_t));
    if (ctx == NULL || sl_http_ssi_parser_init(&ctx->parser, r->pool, conf->value_len) != SL_OK) {
        return SL_ERROR;
    }
    ctx->last_out = &ctx->out;
    ctx->output = 1;
    ctx->errmsg = default_errmsg;
    ctx->timefmt = default_timefmt;
    sl_http_set_ctx(r, ctx, sl_http_ssi_filter_module);
    /* the parser reads bytes: file parts come as memory, saying where in the file they
     * are (long unchanged runs then go out from the file: ssi_min_file_chunk) */
    r->filter_need_in_memory = 1;
    r->keep_file_origin = 1;
    if (r == r->main) {
        sl_http_clear_content_length(r);
        sl_http_clear_accept_ranges(r);
        if (!conf->last_modified) {
            sl_http_clear_last_modified(r);
            sl_http_clear_etag(r);
        } else {
            sl_http_weak_etag(r);
        }
    }
    return next_header_filter(r);
}

/* --- variables -------------------------------------------------------------------------------- */

/* The state holding "set" variables and blocks: the main document's when it has SSI. */
static ssi_ctx_t *shared_ctx(sl_http_request_t *r, ssi_ctx_t *ctx)
{
    ssi_ctx_t *mctx = sl_http_get_module_ctx(r->main, sl_http_ssi_filter_module);
    return mctx ? mctx : ctx;
}

static ssi_var_t *find_var(ssi_ctx_t *sctx, const sl_str_t *name)
{
    for (ssi_var_t *v = sctx->vars; v; v = v->next) {
        if (sl_str_eq(&v->name, name)) {
            return v;
        }
    }
    return NULL;
}

static sl_int_t set_var(sl_http_request_t *r, ssi_ctx_t *ctx, const sl_str_t *name,
                        const sl_str_t *value)
{
    ssi_ctx_t *sctx = shared_ctx(r, ctx);
    ssi_var_t *v = find_var(sctx, name);

    if (v == NULL) {
        v = sl_pcalloc(r->pool, sizeof(ssi_var_t));
        if (v == NULL) {
            return SL_ERROR;
        }
        v->name = *name;
        v->next = sctx->vars;
        sctx->vars = v;
    }
    v->value = *value;
    return SL_OK;
}

/*
 * The value of $name for SSI: a "set" variable, a capture ($1..$9) of the last "if"
 * regex, or the request's variable.  SL_OK, SL_DECLINED (no such value), SL_ERROR.
 */
static sl_int_t get_var(sl_http_request_t *r, ssi_ctx_t *ctx, const sl_str_t *name, sl_str_t *value)
{
    ssi_var_t *sv = find_var(shared_ctx(r, ctx), name);

    if (sv) {
        *value = sv->value;
        return SL_OK;
    }
    if (name->len == 1 && name->data[0] >= '0' && name->data[0] <= '9') {
        sl_uint_t n = (sl_uint_t) (name->data[0] - '0');
        if (r->captures == NULL || 2 * n + 1 >= r->ncaptures || r->captures[2 * n] < 0) {
            return SL_DECLINED;
        }
        value->data = r->captures_data + r->captures[2 * n];
        value->len = (size_t) (r->captures[2 * n + 1] - r->captures[2 * n]);
        return SL_OK;
    }
    u_char low[256];
    if (name->len > sizeof(low)) {
        return SL_DECLINED;
    }
    sl_str_t lname = { name->len, low };
    sl_uint_t key = sl_hash_strlow(low, name->data, name->len);
    sl_http_variable_value_t *vv = sl_http_get_variable(r, &lname, key);
    if (vv == NULL) {
        return SL_ERROR;
    }
    if (vv->not_found) {
        return SL_DECLINED;
    }
    value->data = vv->data;
    value->len = vv->len;
    return SL_OK;
}

/* A variable name at text[*i] ("name" or "{name}"); *i moves past it. */
static int var_name(const sl_str_t *text, size_t *i, sl_str_t *name)
{
    size_t j = *i;
    int brace = j < text->len && text->data[j] == '{';

    j += brace;
    name->data = text->data + j;
    while (j < text->len) {
        u_char ch = text->data[j];
        if (!(ch == '_' || (ch >= '0' && ch <= '9')
              || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z'))) {
            break;
        }
        j++;
    }
    name->len = (size_t) (text->data + j - name->data);
    if (brace) {
        if (j >= text->len || text->data[j] != '}') {
            return 0;
        }
        j++;
    }
    *i = j;
    return name->len > 0;
}

/* text with its $variables replaced, in pool memory.  SL_OK, SL_ERROR (logged). */
static sl_int_t evaluate(sl_http_request_t *r, ssi_ctx_t *ctx, const sl_str_t *text, sl_str_t *out)
{
    size_t cap = text->len + 1, n = 0;
    u_char *buf = sl_pnalloc(r->pool, cap);

    if (buf == NULL) {
        return SL_ERROR;
    }
    for (size_t i = 0; i < text->len;) {
        sl_str_t piece = { 1, text->data + i };
        if (text->data[i] == '\\' && i + 1 < text->len && text->data[i + 1] == '$') {
            piece.data++;
            i += 2;
        } else if (text->data[i] == '$') {
            sl_str_t name;
            i++;
            if (!var_name(text, &i, &name)) {
                sl_log_error(SL_LOG_ERR, r->connection->log, 0, "invalid variable name in \"%.*s\"",
                             SL_STR_ARG(*text));
                return SL_ERROR;
            }
            sl_int_t rc = get_var(r, ctx, &name, &piece);
            if (rc == SL_ERROR) {
                return SL_ERROR;
            }
            if (rc == SL_DECLINED) {
                piece.len = 0;
            }
        } else {
            i++;
        }
        if (n + piece.len > cap) {
            cap = (n + piece.len) * 2;
            u_char *nb = sl_pnalloc(r->pool, cap);
            if (nb == NULL) {
                return SL_ERROR;
            }
            memcpy(nb, buf, n);
            buf = nb;
        }
        memcpy(buf + n, piece.data, piece.len);
        n += piece.len;
    }
    out->data = buf;
    out->len = n;
    return SL_OK;
}

static const sl_str_t *param(const sl_http_ssi_parser_t *ps, const char *key)
{
    size_t len = strlen(key);

    for (sl_uint_t i = 0; i < ps->nparams; i++) {
        if (ps->params[i].key.len == len && memcmp(ps->params[i].key.data, key, len) == 0) {
            return &ps->params[i].value;
        }
    }
    return NULL;
}

/* --- output ------------------------------------------------------------------------------------ */

/* Appends a memory buf of [data, data + len) (pool memory, not copied) to the output. */
static sl_int_t emit(sl_http_request_t *r, ssi_ctx_t *ctx, u_char *data, size_t len)
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
    b->pos = b->start = data;
    b->last = b->end = data + len;
    cl->buf = b;
    cl->next = NULL;
    if (ctx->block) {
        sl_chain_t **ll = &ctx->block->text;
        while (*ll) {
            ll = &(*ll)->next;
        }
        *ll = cl;
        return SL_OK;
    }
    *ctx->last_out = cl;
    ctx->last_out = &cl->next;
    return SL_OK;
}

static sl_int_t emit_copy(sl_http_request_t *r, ssi_ctx_t *ctx, const sl_str_t *s)
{
    u_char *p = sl_pnalloc(r->pool, s->len ? s->len : 1);

    if (p == NULL) {
        return SL_ERROR;
    }
    memcpy(p, s->data, s->len);
    return emit(r, ctx, p, s->len);
}

/* Passes what is gathered so far, so a subrequest's place comes after it. */
static sl_int_t flush_out(sl_http_request_t *r, ssi_ctx_t *ctx)
{
    sl_chain_t *out = ctx->out;

    ctx->out = NULL;
    ctx->last_out = &ctx->out;
    if (out == NULL) {
        return SL_OK;
    }
    return next_body_filter(r, out) == SL_ERROR ? SL_ERROR : SL_OK;
}

/* --- commands --------------------------------------------------------------------------------- */

/* HTML-escapes (entity) or percent-escapes (url) s, as echo's encoding says. */
static sl_int_t encode(sl_http_request_t *r, sl_uint_t how, sl_str_t *s)
{
    int url = how == ENC_URL;

    if (how == ENC_NONE) {
        return SL_OK;
    }
    u_char *p = sl_pnalloc(r->pool, s->len * 6 + 1), *q = p;
    if (p == NULL) {
        return SL_ERROR;
    }
    for (size_t i = 0; i < s->len; i++) {
        u_char ch = s->data[i];
        if (url) {
            if (ch <= ' ' || ch >= 0x7f || strchr("\"%'<>\\^`{|}#?&+", ch)) {
                q += sprintf((char *) q, "%%%02X", ch);
            } else {
                *q++ = ch;
            }
            continue;
        }
        switch (ch) {
        case '<':
            q = (u_char *) stpcpy((char *) q, "&lt;");
            break;
        case '>':
            q = (u_char *) stpcpy((char *) q, "&gt;");
            break;
        case '&':
            q = (u_char *) stpcpy((char *) q, "&amp;");
            break;
        case '"':
            q = (u_char *) stpcpy((char *) q, "&quot;");
            break;
        default:
            *q++ = ch;
            break;
        }
    }
    s->data = p;
    s->len = (size_t) (q - p);
    return SL_OK;
}

static sl_int_t cmd_echo(sl_http_request_t *r, ssi_ctx_t *ctx, sl_http_ssi_parser_t *ps)
{
    const sl_str_t *var = param(ps, "var"), *dflt = param(ps, "default");
    const sl_str_t *enc = param(ps, "encoding");
    sl_str_t value;

    if (var == NULL) {
        return SL_DECLINED;
    }
    if (enc) {
        if (sl_str_eq(enc, &(sl_str_t) sl_string("none"))) {
            ctx->encoding = ENC_NONE;
        } else if (sl_str_eq(enc, &(sl_str_t) sl_string("url"))) {
            ctx->encoding = ENC_URL;
        } else if (sl_str_eq(enc, &(sl_str_t) sl_string("entity"))) {
            ctx->encoding = ENC_ENTITY;
        } else {
            sl_log_error(SL_LOG_ERR, r->connection->log, 0,
                         "unknown encoding \"%.*s\" in the \"echo\" command", SL_STR_ARG(*enc));
            return SL_ERROR;
        }
    }
    sl_int_t rc = get_var(r, ctx, var, &value);
    if (rc == SL_ERROR) {
        return SL_ERROR;
    }
    if (rc == SL_DECLINED) {
        if (dflt && evaluate(r, ctx, dflt, &value) != SL_OK) {
            return SL_ERROR;
        }
        if (dflt == NULL) {
            sl_str_set(&value, "(none)");
        }
    } else if (encode(r, ctx->encoding, &value) != SL_OK) {
        return SL_ERROR;
    }
    return emit_copy(r, ctx, &value);
}

static sl_int_t cmd_set(sl_http_request_t *r, ssi_ctx_t *ctx, sl_http_ssi_parser_t *ps)
{
    const sl_str_t *var = param(ps, "var"), *value = param(ps, "value");
    sl_str_t v;

    if (var == NULL || value == NULL) {
        return SL_DECLINED;
    }
    if (evaluate(r, ctx, value, &v) != SL_OK) {
        return SL_ERROR;
    }
    return set_var(r, ctx, var, &v);
}

static sl_int_t cmd_config(sl_http_request_t *r, ssi_ctx_t *ctx, sl_http_ssi_parser_t *ps)
{
    const sl_str_t *errmsg = param(ps, "errmsg"), *timefmt = param(ps, "timefmt");

    if (errmsg) {
        ctx->errmsg = *errmsg;
    }
    if (timefmt) {
        ctx->timefmt = *timefmt;
    }
    return SL_OK;
}

/* include's "set": the in-memory body goes into the variable. */
static sl_int_t include_set_done(sl_http_request_t *sr, void *data, sl_int_t rc)
{
    ssi_var_t *v = data;
    sl_str_t body;

    sl_http_subrequest_body(sr, &body);
    v->value = body;
    return rc;
}

/* An include's stub: the block's text when the subrequest sent nothing or failed. */
static sl_int_t include_stub_done(sl_http_request_t *sr, void *data, sl_int_t rc)
{
    ssi_block_t *block = data;

    if (rc == SL_ERROR || sr->connection->error || sr->request_output) {
        return rc;
    }
    sl_chain_t *out = NULL, **ll = &out;
    for (sl_chain_t *cl = block->text; cl; cl = cl->next) {
        sl_buf_t *b = sl_calloc_buf(sr->pool);
        sl_chain_t *nl = sl_alloc_chain_link(sr->pool);
        if (b == NULL || nl == NULL) {
            return SL_ERROR;
        }
        *b = *cl->buf;
        nl->buf = b;
        nl->next = NULL;
        *ll = nl;
        ll = &nl->next;
    }
    if (out == NULL) {
        return SL_OK;
    }
    return sl_http_output_filter(sr, out) == SL_ERROR ? SL_ERROR : SL_OK;
}

static ssi_block_t *find_block(ssi_ctx_t *sctx, const sl_str_t *name)
{
    for (ssi_block_t *b = sctx->blocks; b; b = b->next) {
        if (sl_str_eq(&b->name, name)) {
            return b;
        }
    }
    return NULL;
}

static int hex_value(u_char ch)
{
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }
    ch |= 0x20;
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* The path part of include's target, %XX decoded ("%3f" stays in the path, as nginx); a
 * target that climbs out of the root ("..") or holds a NUL is refused as unsafe. */
static sl_int_t unescape_uri(sl_http_request_t *r, sl_str_t *uri)
{
    u_char *p = sl_pnalloc(r->pool, uri->len + 1), *q = p;

    if (p == NULL) {
        return SL_ERROR;
    }
    for (size_t i = 0; i < uri->len; i++) {
        u_char ch = uri->data[i];
        if (ch == '%' && i + 2 < uri->len && hex_value(uri->data[i + 1]) >= 0
            && hex_value(uri->data[i + 2]) >= 0) {
            ch = (u_char) (hex_value(uri->data[i + 1]) * 16 + hex_value(uri->data[i + 2]));
            i += 2;
        }
        if (ch == '\0') {
            goto unsafe;
        }
        *q++ = ch;
    }
    *q = '\0';
    for (u_char *d = p; (d = (u_char *) strstr((char *) d, "..")) != NULL; d += 2) {
        if ((d == p || d[-1] == '/') && (d[2] == '/' || d[2] == '\0')) {
            goto unsafe;
        }
    }
    uri->data = p;
    uri->len = (size_t) (q - p);
    return SL_OK;
unsafe:
    sl_log_error(SL_LOG_ERR, r->connection->log, 0, "unsafe URI \"%.*s\" was detected",
                 SL_STR_ARG(*uri));
    return SL_ERROR;
}

/* The uri of include: relative ones from the current document's directory; args apart. */
static sl_int_t include_uri(sl_http_request_t *r, const sl_str_t *target, sl_str_t *uri,
                            sl_str_t *args)
{
    u_char *q = memchr(target->data, '?', target->len);

    *uri = *target;
    args->len = 0;
    args->data = NULL;
    if (q) {
        args->data = q + 1;
        args->len = (size_t) (target->data + target->len - q - 1);
        uri->len = (size_t) (q - target->data);
    }
    if (unescape_uri(r, uri) != SL_OK) {
        return SL_ERROR;
    }
    if (uri->len && uri->data[0] == '/') {
        return SL_OK;
    }
    size_t dir = r->uri.len;
    while (dir && r->uri.data[dir - 1] != '/') {
        dir--;
    }
    u_char *p = sl_pnalloc(r->pool, dir + uri->len);
    if (p == NULL) {
        return SL_ERROR;
    }
    memcpy(p, r->uri.data, dir);
    memcpy(p + dir, uri->data, uri->len);
    uri->data = p;
    uri->len += dir;
    return SL_OK;
}

static sl_int_t cmd_include(sl_http_request_t *r, ssi_ctx_t *ctx, sl_http_ssi_parser_t *ps)
{
    const sl_str_t *virt = param(ps, "virtual"), *file = param(ps, "file");
    const sl_str_t *wait = param(ps, "wait"), *set = param(ps, "set"), *stub = param(ps, "stub");
    sl_str_t target, uri, args;
    sl_uint_t flags = 0;
    sl_http_post_subrequest_t *psr = NULL;

    if (virt && file) {
        sl_log_error(SL_LOG_ERR, r->connection->log, 0,
                     "inclusion may be either virtual=\"%.*s\" or file=\"%.*s\"", SL_STR_ARG(*virt),
                     SL_STR_ARG(*file));
        return SL_ERROR;
    }
    if (virt == NULL && file == NULL) {
        return SL_DECLINED;
    }
    if (wait && !(wait->len == 3 && memcmp(wait->data, "yes", 3) == 0)
        && !(wait->len == 2 && memcmp(wait->data, "no", 2) == 0)) {
        sl_log_error(SL_LOG_ERR, r->connection->log, 0,
                     "invalid value \"%.*s\" for the \"wait\" parameter", SL_STR_ARG(*wait));
        return SL_ERROR;
    }
    if (evaluate(r, ctx, virt ? virt : file, &target) != SL_OK
        || include_uri(r, &target, &uri, &args) != SL_OK) {
        return SL_ERROR;
    }
    if (wait && wait->len == 3) {
        flags |= SL_HTTP_SUBREQUEST_WAITED;
    }
    if (set || stub) {
        psr = sl_palloc(r->pool, sizeof(*psr));
        if (psr == NULL) {
            return SL_ERROR;
        }
    }
    if (set) {
        sl_str_t empty = sl_null_string;
        if (set_var(r, ctx, set, &empty) != SL_OK) {
            return SL_ERROR;
        }
        psr->handler = include_set_done;
        psr->data = find_var(shared_ctx(r, ctx), set);
        flags |= SL_HTTP_SUBREQUEST_IN_MEMORY | SL_HTTP_SUBREQUEST_WAITED;
    } else if (stub) {
        ssi_block_t *block = find_block(shared_ctx(r, ctx), stub);
        if (block == NULL) {
            sl_log_error(SL_LOG_ERR, r->connection->log, 0,
                         "\"stub\"=\"%.*s\" for \"include\" not found", SL_STR_ARG(*stub));
            return SL_ERROR;
        }
        psr->handler = include_stub_done;
        psr->data = block;
    }
    sl_http_request_t *sr;
    if (flush_out(r, ctx) != SL_OK
        || sl_http_subrequest(r, &uri, args.len ? &args : NULL, &sr, psr, flags) != SL_OK) {
        return SL_ERROR;
    }
    if (flags & SL_HTTP_SUBREQUEST_WAITED) {
        ctx->wait = sr;
    }
    return SL_OK;
}

static sl_int_t cmd_block(sl_http_request_t *r, ssi_ctx_t *ctx, sl_http_ssi_parser_t *ps)
{
    const sl_str_t *name = param(ps, "name");

    if (name == NULL) {
        return SL_DECLINED;
    }
    ssi_block_t *b = sl_pcalloc(r->pool, sizeof(ssi_block_t));
    if (b == NULL) {
        return SL_ERROR;
    }
    b->name = *name;
    ssi_ctx_t *sctx = shared_ctx(r, ctx);
    b->next = sctx->blocks;
    sctx->blocks = b;
    ctx->block = b;
    return SL_OK;
}

/* The named captures of a match ("(?<name>...)") become SSI variables, as nginx's. */
static sl_int_t set_named_captures(sl_http_request_t *r, ssi_ctx_t *ctx,
                                   const sl_regex_compile_t *rc)
{
    for (sl_uint_t i = 0; i < rc->nnames; i++) {
        sl_uint_t n = rc->names[i].index;
        sl_str_t value = sl_null_string;
        if (r->captures && 2 * n + 1 < r->ncaptures && r->captures[2 * n] >= 0) {
            value.data = r->captures_data + r->captures[2 * n];
            value.len = (size_t) (r->captures[2 * n + 1] - r->captures[2 * n]);
        }
        if (set_var(r, ctx, &rc->names[i].name, &value) != SL_OK) {
            return SL_ERROR;
        }
    }
    return SL_OK;
}

/* "if"'s expression: "$a", "$a = text", "$a != text", "$a = /regex/", "$a != /regex/". */
static sl_int_t test_expr(sl_http_request_t *r, ssi_ctx_t *ctx, const sl_str_t *expr)
{
    u_char *eq = memchr(expr->data, '=', expr->len);
    sl_str_t left = *expr, right, value;
    int negate = 0;

    if (eq == NULL) {
        if (evaluate(r, ctx, &left, &value) != SL_OK) {
            return SL_ERROR;
        }
        return value.len > 0;
    }
    left.len = (size_t) (eq - expr->data);
    if (left.len && left.data[left.len - 1] == '!') {
        negate = 1;
        left.len--;
    }
    while (left.len && left.data[left.len - 1] == ' ') {
        left.len--;
    }
    right.data = eq + 1;
    right.len = (size_t) (expr->data + expr->len - right.data);
    while (right.len && right.data[0] == ' ') {
        right.data++;
        right.len--;
    }
    if (evaluate(r, ctx, &left, &value) != SL_OK) {
        return SL_ERROR;
    }
    sl_int_t match;
    if (right.len >= 2 && right.data[0] == '/' && right.data[right.len - 1] == '/') {
        sl_regex_compile_t rc;
        memset(&rc, 0, sizeof(rc));
        rc.pattern.data = right.data + 1;
        rc.pattern.len = right.len - 2;
        if (sl_regex_compile(r->pool, &rc) != SL_OK) {
            sl_log_error(SL_LOG_ERR, r->connection->log, 0, "%.*s", SL_STR_ARG(rc.err));
            return SL_ERROR;
        }
        match = sl_http_regex_exec(r, rc.regex, &value);
        if (match == SL_ERROR) {
            return SL_ERROR;
        }
        match = match > 0;
        if (match && set_named_captures(r, ctx, &rc) != SL_OK) {
            return SL_ERROR;
        }
    } else {
        sl_str_t rv;
        if (evaluate(r, ctx, &right, &rv) != SL_OK) {
            return SL_ERROR;
        }
        match = sl_str_eq(&value, &rv);
    }
    return negate ? !match : match;
}

static sl_int_t cmd_if(sl_http_request_t *r, ssi_ctx_t *ctx, sl_http_ssi_parser_t *ps, int elif)
{
    const sl_str_t *expr = param(ps, "expr");

    if (expr == NULL) {
        return SL_DECLINED;
    }
    if (!elif && ctx->conditional) {
        sl_log_error(SL_LOG_ERR, r->connection->log, 0,
                     "the \"if\" command inside the \"if\" command");
        return SL_ERROR;
    }
    if (elif && ctx->conditional != COND_IF) {
        sl_log_error(SL_LOG_ERR, r->connection->log, 0, "the \"elif\" command without \"if\"");
        return SL_ERROR;
    }
    if (elif && ctx->output_chosen) {
        ctx->output = 0;
        return SL_OK;
    }
    sl_int_t t = test_expr(r, ctx, expr);
    if (t == SL_ERROR) {
        return SL_ERROR;
    }
    ctx->conditional = COND_IF;
    ctx->output = t != 0;
    ctx->output_chosen = t != 0;
    return SL_OK;
}

static sl_int_t run_command(sl_http_request_t *r, ssi_ctx_t *ctx)
{
    sl_http_ssi_parser_t *ps = &ctx->parser;
    const sl_str_t *c = &ps->command;

#define IS(name) (c->len == sizeof(name) - 1 && memcmp(c->data, name, c->len) == 0)
    /* the conditional commands run whatever the output state; the rest only when on */
    if (IS("if") || IS("elif")) {
        return cmd_if(r, ctx, ps, IS("elif"));
    }
    if (IS("else") || IS("endif")) {
        if (ctx->conditional == COND_NONE || (IS("else") && ctx->conditional == COND_ELSE)) {
            sl_log_error(SL_LOG_ERR, r->connection->log, 0, "the \"%.*s\" command without \"if\"",
                         SL_STR_ARG(*c));
            return SL_ERROR;
        }
        ctx->conditional = IS("else") ? COND_ELSE : COND_NONE;
        ctx->output = IS("else") ? !ctx->output_chosen : 1;
        ctx->output_chosen = ctx->output_chosen || ctx->output;
        return SL_OK;
    }
    if (!ctx->output) {
        return SL_OK;
    }
    if (IS("endblock")) {
        ctx->block = NULL;
        return SL_OK;
    }
    if (IS("echo")) {
        return cmd_echo(r, ctx, ps);
    }
    if (IS("set")) {
        return cmd_set(r, ctx, ps);
    }
    if (IS("include")) {
        return cmd_include(r, ctx, ps);
    }
    if (IS("config")) {
        return cmd_config(r, ctx, ps);
    }
    if (IS("block")) {
        return cmd_block(r, ctx, ps);
    }
#undef IS
    sl_log_error(SL_LOG_ERR, r->connection->log, 0, "unknown SSI command \"%.*s\"", SL_STR_ARG(*c));
    return SL_ERROR;
}

static sl_int_t command_failed(sl_http_request_t *r, ssi_ctx_t *ctx, sl_int_t rc)
{
    ssi_loc_conf_t *conf = sl_http_get_module_loc_conf(r, sl_http_ssi_filter_module);

    if (rc == SL_DECLINED) {
        sl_log_error(SL_LOG_ERR, r->connection->log, 0, "no parameter in \"%.*s\" SSI command",
                     SL_STR_ARG(ctx->parser.command));
    }
    if (conf->silent_errors) {
        return SL_OK;
    }
    return emit_copy(r, ctx, &ctx->errmsg);
}

/* --- the body ----------------------------------------------------------------------------------- */

/*
 * ssi_min_file_chunk: text the parser passed on unchanged, longer than the bound, from a
 * buf that also says where in the file its bytes are (the file reader keeps that when
 * sendfile can be used) goes out as that part of the file, sent with sendfile, instead of
 * from memory.  Not while a filter below needs the bytes (gzip), nor into a "block".
 * `from` is where the parse of this text started in b.
 */
static int as_file_chunk(sl_http_request_t *r, ssi_ctx_t *ctx, const sl_buf_t *b,
                         const u_char *from, const u_char *text, size_t len)
{
    ssi_loc_conf_t *conf = sl_http_get_module_loc_conf(r, sl_http_ssi_filter_module);

    /* the text may begin with bytes held from the buffer before: then it differs from
     * the input it is compared with, and goes from memory */
    /* (the file range must cover the buffer from its start, as the reader makes it) */
    return b->in_file && b->file && b->file_last - b->file_pos == b->last - b->start
           && len > conf->min_file_chunk && ctx->block == NULL && !r->main_filter_need_in_memory
           && len <= (size_t) (b->pos - from) && memcmp(text, from, len) == 0;
}

/* Appends the file part of b holding [from, from + len) to the output. */
static sl_int_t emit_file(sl_http_request_t *r, ssi_ctx_t *ctx, const sl_buf_t *b,
                          const u_char *from, size_t len)
{
    sl_buf_t *fb = sl_calloc_buf(r->pool);
    sl_chain_t *cl = sl_alloc_chain_link(r->pool);

    if (fb == NULL || cl == NULL) {
        return SL_ERROR;
    }
    fb->in_file = 1;
    fb->file = b->file;
    fb->file_pos = b->file_pos + (from - b->start);
    fb->file_last = fb->file_pos + (off_t) len;
    cl->buf = fb;
    cl->next = NULL;
    *ctx->last_out = cl;
    ctx->last_out = &cl->next;
    return SL_OK;
}

/*
 * Parses ctx->buf from its pos on.  SL_OK: the buffer is done; SL_AGAIN: an include with
 * "wait" stops the parsing until it is over; SL_ERROR.
 */
static sl_int_t parse_buf(sl_http_request_t *r, ssi_ctx_t *ctx)
{
    sl_buf_t *b = ctx->buf;

    while (b->pos < b->last) {
        u_char *text = sl_pnalloc(r->pool, (size_t) (b->last - b->pos) + 8), *t = text;
        if (text == NULL) {
            return SL_ERROR;
        }
        u_char *from = b->pos;
        sl_int_t rc = sl_http_ssi_parse(&ctx->parser, &b->pos, b->last, &t, ctx->output);
        size_t len = (size_t) (t - text);
        if ((as_file_chunk(r, ctx, b, from, text, len) ? emit_file(r, ctx, b, from, len)
                                                       : emit(r, ctx, text, len))
            != SL_OK) {
            return SL_ERROR;
        }
        if (rc == SL_ERROR) {
            sl_log_error(SL_LOG_ERR, r->connection->log, 0, "%s", ctx->parser.error);
            rc = command_failed(r, ctx, SL_ERROR);
        } else if (rc == SL_OK) {
            rc = run_command(r, ctx);
            if (rc != SL_OK) {
                rc = command_failed(r, ctx, rc);
            }
        } else {
            rc = SL_OK;
        }
        if (rc != SL_OK) {
            return SL_ERROR;
        }
        if (ctx->wait) {
            return SL_AGAIN;
        }
    }
    return SL_OK;
}

/* The buffer's special flags (last, flush) go on in an empty buf of their own. */
static sl_int_t pass_marks(sl_http_request_t *r, ssi_ctx_t *ctx, const sl_buf_t *in)
{
    if (!in->last_buf && !in->last_in_chain && !in->flush && !in->sync) {
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
    b->sync = !b->last_buf && !b->last_in_chain && !b->flush;
    cl->buf = b;
    cl->next = NULL;
    *ctx->last_out = cl;
    ctx->last_out = &cl->next;
    return SL_OK;
}

/* Whether an "include ... wait" still holds the parsing. */
static int waiting(ssi_ctx_t *ctx)
{
    if (ctx->wait == NULL) {
        return 0;
    }
    if (!ctx->wait->done) {
        return 1;
    }
    ctx->wait = NULL;
    return 0;
}

static sl_int_t ssi_body_filter(sl_http_request_t *r, sl_chain_t *in)
{
    ssi_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_ssi_filter_module);

    if (ctx == NULL || (in == NULL && ctx->in == NULL && ctx->buf == NULL && ctx->out == NULL)) {
        return next_body_filter(r, in);
    }
    if (in && sl_chain_add_copy(r->pool, &ctx->in, in) != SL_OK) {
        return SL_ERROR;
    }
    if (ctx->wait && r != r->connection->data) {
        return SL_AGAIN;
    }
    if (waiting(ctx)) {
        /* what this document has postponed goes on: the awaited part is among it, and
         * it finishes only once it is the active one */
        r->buffered |= SSI_BUFFERED;
        return next_body_filter(r, NULL);
    }
    while (!waiting(ctx)) {
        if (ctx->buf == NULL) {
            if (ctx->in == NULL) {
                break;
            }
            ctx->buf = ctx->in->buf;
            ctx->in = ctx->in->next;
        }
        sl_int_t rc = sl_buf_in_memory(ctx->buf) ? parse_buf(r, ctx) : SL_OK;
        if (rc == SL_ERROR) {
            return SL_ERROR;
        }
        if (rc == SL_AGAIN) {
            continue;
        }
        /* file data SSI cannot read (it asked for memory): skipped, as its position */
        ctx->buf->pos = ctx->buf->last;
        ctx->buf->file_pos = ctx->buf->file_last;
        if (pass_marks(r, ctx, ctx->buf) != SL_OK) {
            return SL_ERROR;
        }
        ctx->buf = NULL;
    }
    if (ctx->in || ctx->buf) {
        r->buffered |= SSI_BUFFERED;
    } else {
        r->buffered &= (unsigned) ~SSI_BUFFERED;
    }
    if (flush_out(r, ctx) != SL_OK) {
        return SL_ERROR;
    }
    return ctx->in || ctx->buf ? SL_AGAIN : SL_OK;
}

/* --- $date_local, $date_gmt ------------------------------------------------------------------- */

static sl_int_t var_date(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t gmt)
{
    ssi_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_ssi_filter_module);
    time_t now = sl_cached_time_sec;
    struct tm tm;

    const sl_str_t *timefmt = ctx ? &ctx->timefmt : &default_timefmt;

    if (timefmt->len == 2 && memcmp(timefmt->data, "%s", 2) == 0) {
        v->data = sl_pnalloc(r->pool, 24);
        if (v->data == NULL) {
            return SL_ERROR;
        }
        v->len = (unsigned) sprintf((char *) v->data, "%lld", (long long) now);
    } else {
        char fmt[256];
        u_char buf[256];
        size_t n = sl_min(timefmt->len, sizeof(fmt) - 1);
        memcpy(fmt, timefmt->data, n);
        fmt[n] = '\0';
        if (gmt) {
            gmtime_r(&now, &tm);
        } else {
            localtime_r(&now, &tm);
        }
        size_t len = strftime((char *) buf, sizeof(buf), fmt, &tm);
        v->data = sl_pnalloc(r->pool, len ? len : 1);
        if (v->data == NULL) {
            return SL_ERROR;
        }
        memcpy(v->data, buf, len);
        v->len = (unsigned) len;
    }
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return SL_OK;
}

static sl_int_t preconfiguration(sl_conf_t *cf)
{
    static const char *const names[] = { "date_local", "date_gmt" };

    for (uintptr_t i = 0; i < 2; i++) {
        sl_str_t name = { strlen(names[i]), (u_char *) names[i] };
        sl_http_variable_t *v = sl_http_add_variable(cf, &name, SL_HTTP_VAR_NOCACHEABLE);
        if (v == NULL) {
            return SL_ERROR;
        }
        v->get_handler = var_date;
        v->data = i;
    }
    return SL_OK;
}

static sl_int_t body_postconfiguration(sl_conf_t *cf)
{
    next_body_filter = sl_http_top_body_filter;
    sl_http_top_body_filter = ssi_body_filter;
    return SL_OK;
}

static sl_int_t header_postconfiguration(sl_conf_t *cf)
{
    next_header_filter = sl_http_top_header_filter;
    sl_http_top_header_filter = ssi_header_filter;
    return SL_OK;
}
