/*
 * sl_http_rewrite_module.c: return, rewrite, if, set, break, rewrite_log and
 * uninitialized_variable_warn.
 *
 * Each level (server, location) compiles its directives, in the order written, into one
 * array of ops; the body of an "if" is compiled into its level's array right after the
 * if op, which skips it when the condition fails.  Server-level ops run in the
 * server-rewrite phase, location-level ones in the rewrite phase; ops are not inherited
 * between levels.  A rewrite without a flag goes on with the next op; when the location's
 * ops end with the uri changed, the core searches the location again (post-rewrite phase,
 * at most ten times).
 *
 * An "if" block has its own loc conf for every http module (root, limit_rate, error_page,
 * ... inside it): at location level a true condition makes it the request's loc conf, as
 * nginx does.  These confs are merged with their level's once the http block is merged.
 */
#include "sl_http_output.h"
#include "sl_http_rewrite.h"
#include "sl_pool.h"

typedef enum { OP_RETURN, OP_REWRITE, OP_IF, OP_SET, OP_BREAK } op_type_e;

/* One part of a rewrite replacement: text (with variables) or a capture $1..$9. */
typedef struct {
    sl_http_complex_value_t text;
    /** the capture number, 0 for text */
    sl_uint_t capture;
} rewrite_part_t;

typedef struct {
    sl_http_regex_t *regex;
    rewrite_part_t *parts;
    sl_uint_t nparts;
    /** the parts of the new uri: those before the "?" that starts new arguments */
    sl_uint_t nuri;
    /** 301 or 302 for a redirect, 0 for an internal rewrite */
    sl_uint_t status;
    /** an internal rewrite whose replacement has "?": the parts after it are the args */
    unsigned args : 1;
    /** a literal "?" in the replacement: a redirect appends the old args after "&" */
    unsigned question : 1;
    /** the replacement does not end with "?": the request's args are kept */
    unsigned add_args : 1;
    /** last, break or a redirect: no op runs after a match */
    unsigned stop : 1;
    unsigned break_cycle : 1;
} rewrite_rule_t;

typedef struct {
    op_type_e type;
    /** return: the code */
    sl_uint_t status;
    /** return: the text or URL, or NULL; set: the value */
    sl_http_complex_value_t *text;
    rewrite_rule_t *rule;
    sl_http_rewrite_cond_t *cond;
    /** if at location level: the block's loc conf, made the request's when true */
    void **loc_conf;
    /** if: the index of the first op after the block */
    sl_uint_t next;
    /** set: the variable's index, or its set handler and data */
    sl_uint_t index;
    sl_http_set_variable_pt set_handler;
    uintptr_t data;
} rewrite_op_t;

typedef struct {
    /** rewrite_op_t, NULL when this level has none (never inherited: each level runs its own) */
    sl_array_t *ops;
    sl_int_t log;
    sl_int_t uninitialized_variable_warn;
} rewrite_loc_conf_t;

/* An "if" block and the level it is in, merged after the http block. */
typedef struct {
    void **parent;
    void **loc_conf;
} rewrite_if_t;

typedef struct {
    /** rewrite_if_t, in configuration order */
    sl_array_t ifs;
} rewrite_main_conf_t;

/* What running one level's ops carries from op to op. */
typedef struct {
    sl_http_request_t *r;
    /** SL_DECLINED, or what the phase handler returns (a status, SL_OK, ...) */
    sl_int_t status;
    int log;
} rewrite_engine_t;

/* The "next op" of an op that ends the level's processing. */
#define OPS_END ((sl_uint_t) -1)

static void *create_main_conf(sl_conf_t *cf);
static void *create_loc_conf(sl_conf_t *cf);
static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child);
static sl_int_t postconfiguration(sl_conf_t *cf);
static char *set_return(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *set_rewrite(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *set_if(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *set_set(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *set_break(sl_conf_t *cf, sl_command_t *cmd, void *conf);

#define SIF_LIF (SL_HTTP_SRV_CONF | SL_HTTP_SIF_CONF | SL_HTTP_LOC_CONF | SL_HTTP_LIF_CONF)
#define LOC SL_HTTP_LOC_CONF_OFFSET

// clang-format off
static sl_command_t rewrite_commands[] = {
    { sl_string("rewrite"), SIF_LIF | SL_CONF_TAKE23, set_rewrite, LOC, 0, NULL },
    { sl_string("return"), SIF_LIF | SL_CONF_TAKE12, set_return, LOC, 0, NULL },
    { sl_string("break"), SIF_LIF | SL_CONF_NOARGS, set_break, LOC, 0, NULL },
    { sl_string("if"), SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF | SL_CONF_BLOCK | SL_CONF_1MORE, set_if, LOC, 0, NULL },
    { sl_string("set"), SIF_LIF | SL_CONF_TAKE2, set_set, LOC, 0, NULL },
    { sl_string("rewrite_log"), SL_HTTP_MAIN_CONF | SIF_LIF | SL_CONF_FLAG, sl_conf_set_flag_slot, LOC, offsetof(rewrite_loc_conf_t, log), NULL },
    { sl_string("uninitialized_variable_warn"), SL_HTTP_MAIN_CONF | SIF_LIF | SL_CONF_FLAG, sl_conf_set_flag_slot, LOC, offsetof(rewrite_loc_conf_t, uninitialized_variable_warn), NULL },
    sl_null_command,
};
// clang-format on

static sl_http_module_t rewrite_module_ctx = {
    NULL, postconfiguration, create_main_conf, NULL, NULL, NULL, create_loc_conf, merge_loc_conf,
};

sl_module_t sl_http_rewrite_module = {
    "http_rewrite", 0, 0, SL_HTTP_MODULE, &rewrite_module_ctx, rewrite_commands, NULL, NULL, NULL,
};

static void *create_main_conf(sl_conf_t *cf)
{
    rewrite_main_conf_t *rmcf = sl_pcalloc(cf->pool, sizeof(rewrite_main_conf_t));

    if (rmcf == NULL || sl_array_init(&rmcf->ifs, cf->pool, 4, sizeof(rewrite_if_t)) != SL_OK) {
        return NULL;
    }
    return rmcf;
}

static void *create_loc_conf(sl_conf_t *cf)
{
    rewrite_loc_conf_t *rlcf = sl_pcalloc(cf->pool, sizeof(rewrite_loc_conf_t));

    if (rlcf == NULL) {
        return NULL;
    }
    rlcf->log = SL_CONF_UNSET;
    rlcf->uninitialized_variable_warn = SL_CONF_UNSET;
    return rlcf;
}

static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child)
{
    rewrite_loc_conf_t *prev = parent;
    rewrite_loc_conf_t *conf = child;

    sl_conf_merge_value(conf->log, prev->log, 0);
    sl_conf_merge_value(conf->uninitialized_variable_warn, prev->uninitialized_variable_warn, 1);
    return SL_CONF_OK;
}

/* ---- matching ---------------------------------------------------------------------------- */

sl_int_t sl__http_rewrite_regex(sl_http_request_t *r, sl_http_regex_t *re, const sl_str_t *s,
                                int log)
{
    sl_int_t rc = sl_http_regex_match(r, re, s);

    if (rc == SL_ERROR) {
        return SL_ERROR;
    }
    if (rc == 0) {
        if (log) {
            sl_log_error(SL_LOG_NOTICE, r->connection->log, 0, "\"%.*s\" does not match \"%.*s\"",
                         SL_STR_ARG(re->name), SL_STR_ARG(*s));
        }
        r->ncaptures = 0;
        return 0;
    }
    if (re->ncaptures == 0) {
        /* nginx 1.22 keeps only this match's groups: none */
        r->ncaptures = 0;
    }
    if (log) {
        sl_log_error(SL_LOG_NOTICE, r->connection->log, 0, "\"%.*s\" matches \"%.*s\"",
                     SL_STR_ARG(re->name), SL_STR_ARG(*s));
    }
    return rc;
}

/* ---- building a replacement -------------------------------------------------------------- */

/* Bytes nginx escapes in a capture copied into arguments or a redirect. */
static int escape_in_args(u_char c)
{
    static const char special[] = "\"#%&+;<>?\\^`{|}";

    return c <= 0x20 || c >= 0x7f || memchr(special, c, sizeof(special) - 1) != NULL;
}

static size_t escapes_in(const sl_str_t *s)
{
    size_t n = 0;

    for (size_t i = 0; i < s->len; i++) {
        n += escape_in_args(s->data[i]);
    }
    return n;
}

static u_char *copy_escaped(u_char *p, const sl_str_t *s)
{
    static const u_char hex[] = "0123456789ABCDEF";

    for (size_t i = 0; i < s->len; i++) {
        u_char c = s->data[i];
        if (escape_in_args(c)) {
            *p++ = '%';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 0xf];
        } else {
            *p++ = c;
        }
    }
    return p;
}

static sl_int_t part_value(sl_http_request_t *r, rewrite_part_t *part, sl_str_t *out)
{
    if (part->capture == 0) {
        return sl_http_complex_value(r, &part->text, out);
    }
    sl_uint_t n = 2 * part->capture;
    out->len = 0;
    out->data = (u_char *) "";
    if (r->captures && n + 1 < r->ncaptures && r->captures[n + 1] > r->captures[n]) {
        out->data = r->captures_data + r->captures[n];
        out->len = (size_t) (r->captures[n + 1] - r->captures[n]);
    }
    return SL_OK;
}

/*
 * Evaluates parts [from, to) of rule into out (pool memory, `room` spare bytes after it).
 * With `escape`, captures are escaped when the request's uri had "%XX" or "+": they come
 * from the decoded uri and go into arguments or a Location.  SL_OK or SL_ERROR.
 */
static sl_int_t build(sl_http_request_t *r, rewrite_rule_t *rule, sl_uint_t from, sl_uint_t to,
                      int escape, size_t room, sl_str_t *out)
{
    sl_str_t *v = sl_palloc(r->pool, (to - from + 1) * sizeof(sl_str_t));
    size_t len = 0;

    if (v == NULL) {
        return SL_ERROR;
    }
    escape = escape && (r->quoted_uri || r->plus_in_uri);
    for (sl_uint_t i = from; i < to; i++) {
        if (part_value(r, &rule->parts[i], &v[i - from]) != SL_OK) {
            return SL_ERROR;
        }
        len += v[i - from].len;
        if (escape && rule->parts[i].capture) {
            len += 2 * escapes_in(&v[i - from]);
        }
    }
    u_char *p = sl_pnalloc(r->pool, len + room + 1);
    if (p == NULL) {
        return SL_ERROR;
    }
    out->data = p;
    for (sl_uint_t i = from; i < to; i++) {
        if (escape && rule->parts[i].capture) {
            p = copy_escaped(p, &v[i - from]);
        } else {
            memcpy(p, v[i - from].data, v[i - from].len);
            p += v[i - from].len;
        }
    }
    out->len = (size_t) (p - out->data);
    return SL_OK;
}

static int hex_value(u_char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * nginx's decoding of a redirect, in place: up to the first "?" (or "%3F"), "%XX" becomes
 * its byte when that is printable and above "%", and stays as written otherwise; a broken
 * escape loses its "%" (and a valid first digit with it).  Returns the new length.
 */
static size_t unescape_redirect(u_char *buf, size_t len)
{
    u_char *s = buf, *d = buf, *end = buf + len;

    while (s < end && *s != '?') {
        if (*s != '%') {
            *d++ = *s++;
            continue;
        }
        if (++s == end) {
            break;
        }
        int hi = hex_value(*s);
        if (hi < 0) {
            *d++ = *s++;
            continue;
        }
        if (++s == end) {
            break;
        }
        int lo = hex_value(*s++);
        if (lo < 0) {
            continue;
        }
        u_char c = (u_char) (hi * 16 + lo);
        if (c == '?') {
            *d++ = c;
            break;
        }
        if (c > '%' && c < 0x7f) {
            *d++ = c;
        } else {
            /* d may still be s - 3 */
            memmove(d, s - 3, 3);
            d += 3;
        }
    }
    memmove(d, s, (size_t) (end - s));
    return (size_t) (d - buf) + (size_t) (end - s);
}

/* nginx's extension of a rewritten uri: after the last "." of the last segment, unless the
 * segment starts with it. */
static void set_exten(sl_http_request_t *r)
{
    r->exten.len = 0;
    r->exten.data = NULL;
    for (size_t i = r->uri.len - 1; i > 1; i--) {
        if (r->uri.data[i] == '/') {
            return;
        }
        if (r->uri.data[i] == '.' && r->uri.data[i - 1] != '/') {
            r->exten.data = r->uri.data + i + 1;
            r->exten.len = r->uri.len - i - 1;
            return;
        }
    }
}

/* ---- running ops ------------------------------------------------------------------------- */

/* Replaces the response's Location.  SL_OK or SL_ERROR. */
static sl_int_t set_location(sl_http_request_t *r, const sl_str_t *value)
{
    return sl_http_set_location(r, value->data, value->len) ? SL_OK : SL_ERROR;
}

static sl_int_t rewrite_redirect(rewrite_engine_t *e, rewrite_rule_t *rule)
{
    sl_http_request_t *r = e->r;
    size_t room = rule->add_args && r->args.len ? r->args.len + 1 : 0;
    sl_str_t v;

    if (build(r, rule, 0, rule->nparts, 1, room, &v) != SL_OK) {
        return SL_ERROR;
    }
    v.len = unescape_redirect(v.data, v.len);
    if (room) {
        v.data[v.len++] = rule->question ? '&' : '?';
        memcpy(v.data + v.len, r->args.data, r->args.len);
        v.len += r->args.len;
    }
    if (e->log) {
        sl_log_error(SL_LOG_NOTICE, r->connection->log, 0, "rewritten redirect: \"%.*s\"",
                     SL_STR_ARG(v));
    }
    if (set_location(r, &v) != SL_OK) {
        return SL_ERROR;
    }
    e->status = (sl_int_t) rule->status;
    return SL_OK;
}

static sl_int_t rewrite_internal(rewrite_engine_t *e, rewrite_rule_t *rule)
{
    sl_http_request_t *r = e->r;
    sl_str_t uri, args = r->args;

    if (build(r, rule, 0, rule->nuri, 0, 0, &uri) != SL_OK) {
        return SL_ERROR;
    }
    if (rule->args) {
        size_t room = rule->add_args && r->args.len ? r->args.len + 1 : 0;
        if (build(r, rule, rule->nuri, rule->nparts, 1, room, &args) != SL_OK) {
            return SL_ERROR;
        }
        if (room) {
            args.data[args.len++] = '&';
            memcpy(args.data + args.len, r->args.data, r->args.len);
            args.len += r->args.len;
        }
    } else if (!rule->add_args) {
        args.len = 0;
    }
    r->args = args;
    if (e->log) {
        sl_log_error(SL_LOG_NOTICE, r->connection->log, 0,
                     "rewritten data: \"%.*s\", args: \"%.*s\"", SL_STR_ARG(uri),
                     SL_STR_ARG(r->args));
    }
    if (uri.len == 0) {
        sl_log_error(SL_LOG_ERR, r->connection->log, 0, "the rewritten URI has a zero length");
        return SL_ERROR;
    }
    r->uri = uri;
    set_exten(r);
    return SL_OK;
}

static sl_uint_t run_rewrite(rewrite_engine_t *e, rewrite_op_t *op, sl_uint_t next)
{
    rewrite_rule_t *rule = op->rule;
    sl_http_request_t *r = e->r;
    /* the captures point into this uri, which the rewrite replaces */
    sl_str_t uri = r->uri;
    sl_int_t rc = sl__http_rewrite_regex(r, rule->regex, &uri, e->log);

    if (rc == 0) {
        return next;
    }
    if (rc > 0) {
        r->internal = 1;
        r->valid_unparsed_uri = 0;
        if (rule->break_cycle) {
            r->valid_location = 0;
            r->uri_changed = 0;
        } else {
            r->uri_changed = 1;
        }
        rc = rule->status ? rewrite_redirect(e, rule) : rewrite_internal(e, rule);
    }
    if (rc == SL_ERROR) {
        e->status = SL_HTTP_INTERNAL_SERVER_ERROR;
        return OPS_END;
    }
    return rule->stop ? OPS_END : next;
}

/* The type of a return body: the uri's extension in types, else default_type (nginx's
 * choice for a response a module builds without a type); one already set is kept. */
static sl_str_t *content_type(sl_http_request_t *r)
{
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);

    if (r->headers_out.content_type.len) {
        return &r->headers_out.content_type;
    }
    if (r->exten.len) {
        sl_str_t *type =
            sl_hash_find(&clcf->types_hash, sl_hash_key_lc(r->exten.data, r->exten.len),
                         r->exten.data, r->exten.len);
        if (type) {
            return type;
        }
    }
    return &clcf->default_type;
}

static sl_int_t run_return(sl_http_request_t *r, rewrite_op_t *op)
{
    sl_str_t text;

    /* an error code with an empty plain text is answered with its error page (nginx) */
    /* "return 200;": a header and an empty body (nginx sends every code below 400) */
    int plain_success = op->status >= SL_HTTP_OK && op->status < SL_HTTP_SPECIAL_RESPONSE
                        && op->status != SL_HTTP_CREATED && op->status != SL_HTTP_NO_CONTENT;
    if ((op->text == NULL && !plain_success)
        || (op->status >= SL_HTTP_BAD_REQUEST && op->text->parts == NULL
            && op->text->value.len == 0)) {
        return (sl_int_t) op->status;
    }
    if (op->text == NULL) {
        text.len = 0;
        text.data = NULL;
    } else if (sl_http_complex_value(r, op->text, &text) != SL_OK) {
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (op->status == SL_HTTP_MOVED_PERMANENTLY || op->status == SL_HTTP_MOVED_TEMPORARILY
        || op->status == SL_HTTP_SEE_OTHER || op->status == SL_HTTP_TEMPORARY_REDIRECT
        || op->status == SL_HTTP_PERMANENT_REDIRECT) {
        sl_http_clear_content_length(r);
        return set_location(r, &text) == SL_OK ? (sl_int_t) op->status
                                               : SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    /* a body: status and text as given, typed by the uri's extension as nginx does */
    r->discard_body = 0;
    sl_int_t rc = sl_http_discard_request_body(r);
    if (rc != SL_OK) {
        /* a malformed body is answered 400 instead, as nginx */
        return rc >= SL_HTTP_SPECIAL_RESPONSE ? rc : SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    return sl_http_send_response(r, op->status, content_type(r), &text);
}

static sl_uint_t run_if(rewrite_engine_t *e, rewrite_op_t *op, sl_uint_t next)
{
    sl_int_t rc = sl__http_rewrite_test(e->r, op->cond, e->log);

    if (rc == SL_ERROR) {
        e->status = SL_HTTP_INTERNAL_SERVER_ERROR;
        return OPS_END;
    }
    if (rc == 0) {
        return op->next;
    }
    if (op->loc_conf) {
        e->r->loc_conf = op->loc_conf;
        sl_http_update_location_config(e->r);
    }
    return next;
}

static sl_uint_t run_set(rewrite_engine_t *e, rewrite_op_t *op, sl_uint_t next)
{
    sl_http_request_t *r = e->r;
    sl_str_t value;

    if (sl_http_complex_value(r, op->text, &value) != SL_OK) {
        e->status = SL_HTTP_INTERNAL_SERVER_ERROR;
        return OPS_END;
    }
    sl_http_variable_value_t vv;
    memset(&vv, 0, sizeof(vv));
    vv.len = value.len;
    vv.data = value.data;
    vv.valid = 1;
    if (op->set_handler) {
        op->set_handler(r, &vv, op->data);
    } else {
        r->variables[op->index] = vv;
    }
    return next;
}

/* Runs one op; returns the index of the next, or OPS_END. */
static sl_uint_t run_op(rewrite_engine_t *e, rewrite_op_t *op, sl_uint_t ip)
{
    switch (op->type) {
    case OP_REWRITE:
        return run_rewrite(e, op, ip + 1);
    case OP_IF:
        return run_if(e, op, ip + 1);
    case OP_SET:
        return run_set(e, op, ip + 1);
    case OP_RETURN:
        e->status = run_return(e->r, op);
        return OPS_END;
    case OP_BREAK:
        if (e->r->uri_changed) {
            e->r->valid_location = 0;
            e->r->uri_changed = 0;
        }
        return OPS_END;
    }
    return OPS_END;
}

/* Runs the ops of r's current loc conf: SL_DECLINED when they end without a response. */
static sl_int_t run_ops(sl_http_request_t *r)
{
    rewrite_loc_conf_t *rlcf = sl_http_get_module_loc_conf(r, sl_http_rewrite_module);
    rewrite_engine_t e;

    if (rlcf->ops == NULL) {
        return SL_DECLINED;
    }
    e.r = r;
    e.status = SL_DECLINED;
    /* read once: an "if" switching the loc conf does not change it (nginx) */
    e.log = rlcf->log || sl_log_wants(r->connection->log, SL_LOG_DEBUG);
    /* the array stays this level's even when an "if" switches r->loc_conf */
    rewrite_op_t *ops = rlcf->ops->elts;
    sl_uint_t n = rlcf->ops->nelts;
    for (sl_uint_t ip = 0; ip < n;) {
        ip = run_op(&e, &ops[ip], ip);
    }
    return e.status;
}

static sl_int_t server_rewrite_handler(sl_http_request_t *r)
{
    return run_ops(r);
}

static sl_int_t location_rewrite_handler(sl_http_request_t *r)
{
    sl_http_core_srv_conf_t *cscf = sl_http_get_module_srv_conf(r, sl_http_core_module);

    /* no location matched: the server's ops already ran in the server-rewrite phase */
    if (r->loc_conf == cscf->ctx->loc_conf) {
        return SL_DECLINED;
    }
    return run_ops(r);
}

static sl_int_t postconfiguration(sl_conf_t *cf)
{
    rewrite_main_conf_t *rmcf = sl_http_conf_get_module_main_conf(cf, sl_http_rewrite_module);

    if (sl_http_add_phase_handler(cf, SL_HTTP_SERVER_REWRITE_PHASE, server_rewrite_handler) != SL_OK
        || sl_http_add_phase_handler(cf, SL_HTTP_REWRITE_PHASE, location_rewrite_handler)
               != SL_OK) {
        return SL_ERROR;
    }
    /* in configuration order: a level is merged before the blocks inside it */
    rewrite_if_t *ifs = rmcf->ifs.elts;
    for (sl_uint_t i = 0; i < rmcf->ifs.nelts; i++) {
        if (sl__http_rewrite_merge_if(cf, ifs[i].parent, ifs[i].loc_conf) != SL_OK) {
            return SL_ERROR;
        }
    }
    return SL_OK;
}

/* ---- directives -------------------------------------------------------------------------- */

static rewrite_op_t *push_op(sl_conf_t *cf, rewrite_loc_conf_t *rlcf, op_type_e type)
{
    if (rlcf->ops == NULL
        && (rlcf->ops = sl_array_create(cf->pool, 4, sizeof(rewrite_op_t))) == NULL) {
        return NULL;
    }
    rewrite_op_t *op = sl_array_push(rlcf->ops);
    if (op == NULL) {
        return NULL;
    }
    memset(op, 0, sizeof(*op));
    op->type = type;
    return op;
}

static sl_http_complex_value_t *new_value(sl_conf_t *cf, sl_str_t *text)
{
    sl_http_complex_value_t *cv = sl_pcalloc(cf->pool, sizeof(sl_http_complex_value_t));

    if (cv == NULL || sl_http_compile_value(cf, text, cv) != SL_OK) {
        return NULL;
    }
    return cv;
}

/* return URL: nginx compares case-sensitively, as in rewrite. */
static int is_redirect_url(const sl_str_t *v)
{
    return (v->len >= 7 && memcmp(v->data, "http://", 7) == 0)
           || (v->len >= 8 && memcmp(v->data, "https://", 8) == 0)
           || (v->len >= 7 && memcmp(v->data, "$scheme", 7) == 0);
}

static char *set_return(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_str_t *value = cf->args->elts;
    rewrite_op_t *op = push_op(cf, conf, OP_RETURN);

    if (op == NULL) {
        return SL_CONF_ERROR;
    }
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
    if (text && (op->text = new_value(cf, text)) == NULL) {
        return SL_CONF_ERROR;
    }
    return SL_CONF_OK;
}

static char *set_break(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    return push_op(cf, conf, OP_BREAK) ? SL_CONF_OK : SL_CONF_ERROR;
}

/* Adds the text src[from, to) as a part (none when empty). */
static sl_int_t add_text_part(sl_conf_t *cf, rewrite_rule_t *rule, sl_str_t *src, size_t from,
                              size_t to)
{
    if (to == from) {
        return SL_OK;
    }
    sl_str_t text = { to - from, src->data + from };
    rewrite_part_t *part = &rule->parts[rule->nparts++];
    part->capture = 0;
    return sl_http_compile_value(cf, &text, &part->text);
}

/*
 * Splits the replacement into text parts (variables compiled) and captures ($1..$9).  In
 * an internal rewrite the first "?" of the text ends the uri: what follows is the args.
 */
static sl_int_t compile_replacement(sl_conf_t *cf, rewrite_rule_t *rule, sl_str_t *src)
{
    sl_uint_t max = 2 * (sl_uint_t) sl_http_script_variables_count(src) + 3;
    size_t start = 0, i = 0;

    rule->parts = sl_pcalloc(cf->pool, max * sizeof(rewrite_part_t));
    if (rule->parts == NULL) {
        return SL_ERROR;
    }
    while (i < src->len) {
        u_char c = src->data[i];
        if (c == '$' && i + 1 < src->len && src->data[i + 1] >= '1' && src->data[i + 1] <= '9') {
            if (add_text_part(cf, rule, src, start, i) != SL_OK) {
                return SL_ERROR;
            }
            rule->parts[rule->nparts++].capture = (sl_uint_t) (src->data[i + 1] - '0');
            i += 2;
            start = i;
            continue;
        }
        i++;
        if (c != '?') {
            continue;
        }
        rule->question = 1;
        if (rule->status == 0 && !rule->args) {
            if (add_text_part(cf, rule, src, start, i - 1) != SL_OK) {
                return SL_ERROR;
            }
            rule->args = 1;
            rule->nuri = rule->nparts;
            start = i;
        }
    }
    if (add_text_part(cf, rule, src, start, src->len) != SL_OK) {
        return SL_ERROR;
    }
    if (!rule->args) {
        rule->nuri = rule->nparts;
    }
    return SL_OK;
}

static int starts_with(const sl_str_t *s, const char *prefix)
{
    size_t n = strlen(prefix);

    return s->len >= n && memcmp(s->data, prefix, n) == 0;
}

/* The flag of rewrite (value[3]), and the redirect a URL replacement makes. */
static char *parse_flag(sl_conf_t *cf, rewrite_rule_t *rule)
{
    sl_str_t *value = cf->args->elts;

    if (starts_with(&value[2], "http://") || starts_with(&value[2], "https://")
        || starts_with(&value[2], "$scheme")) {
        rule->status = SL_HTTP_MOVED_TEMPORARILY;
        rule->stop = 1;
    }
    if (cf->args->nelts == 3) {
        return SL_CONF_OK;
    }
    rule->stop = 1;
    if (sl_str_eq_cstr(&value[3], "last")) {
        return SL_CONF_OK;
    }
    if (sl_str_eq_cstr(&value[3], "break")) {
        rule->break_cycle = 1;
    } else if (sl_str_eq_cstr(&value[3], "redirect")) {
        rule->status = SL_HTTP_MOVED_TEMPORARILY;
    } else if (sl_str_eq_cstr(&value[3], "permanent")) {
        rule->status = SL_HTTP_MOVED_PERMANENTLY;
    } else {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid parameter \"%.*s\"", SL_STR_ARG(value[3]));
        return SL_CONF_ERROR;
    }
    return SL_CONF_OK;
}

static char *set_rewrite(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_str_t *value = cf->args->elts;
    rewrite_rule_t *rule = sl_pcalloc(cf->pool, sizeof(rewrite_rule_t));
    rewrite_op_t *op = push_op(cf, conf, OP_REWRITE);
    sl_regex_compile_t rc;

    if (rule == NULL || op == NULL) {
        return SL_CONF_ERROR;
    }
    op->rule = rule;
    if (value[2].len == 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "empty replacement");
        return SL_CONF_ERROR;
    }
    memset(&rc, 0, sizeof(rc));
    rc.pattern = value[1];
    if (sl_http_regex_compile(cf, &rc, &rule->regex) != SL_OK) {
        return SL_CONF_ERROR;
    }
    sl_str_t replacement = value[2];
    if (replacement.data[replacement.len - 1] == '?') {
        /* the last "?" drops the request's arguments */
        replacement.len--;
    } else {
        rule->add_args = 1;
    }
    if (parse_flag(cf, rule) != SL_CONF_OK) {
        return SL_CONF_ERROR;
    }
    return compile_replacement(cf, rule, &replacement) == SL_OK ? SL_CONF_OK : SL_CONF_ERROR;
}

/* Records the block for merging once its level is merged. */
static sl_int_t remember_if(sl_conf_t *cf, sl_http_conf_ctx_t *ctx)
{
    rewrite_main_conf_t *rmcf = sl_http_conf_get_module_main_conf(cf, sl_http_rewrite_module);
    rewrite_if_t *rif = sl_array_push(&rmcf->ifs);

    if (rif == NULL) {
        return SL_ERROR;
    }
    rif->parent = ((sl_http_conf_ctx_t *) cf->ctx)->loc_conf;
    rif->loc_conf = ctx->loc_conf;
    return SL_OK;
}

/* Parses the block's directives into ctx; its ops go to the level's array (rlcf). */
static char *parse_if_block(sl_conf_t *cf, sl_http_conf_ctx_t *ctx, rewrite_loc_conf_t *rlcf)
{
    rewrite_loc_conf_t *nlcf = ctx->loc_conf[sl_http_rewrite_module.ctx_index];
    sl_conf_t saved = *cf;

    nlcf->ops = rlcf->ops;
    cf->ctx = ctx;
    cf->cmd_type = saved.cmd_type == SL_HTTP_SRV_CONF ? SL_HTTP_SIF_CONF : SL_HTTP_LIF_CONF;
    char *rv = sl_conf_parse(cf, NULL);
    *cf = saved;
    /* the ops belong to the level */
    nlcf->ops = NULL;
    return rv;
}

static char *set_if(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    rewrite_loc_conf_t *rlcf = conf;
    sl_http_conf_ctx_t *ctx = sl__http_rewrite_if_context(cf);
    sl_http_rewrite_cond_t *cond;

    if (ctx == NULL || remember_if(cf, ctx) != SL_OK) {
        return SL_CONF_ERROR;
    }
    if (sl__http_rewrite_parse_condition(cf, &cond) != SL_CONF_OK) {
        return SL_CONF_ERROR;
    }
    rewrite_op_t *op = push_op(cf, rlcf, OP_IF);
    if (op == NULL) {
        return SL_CONF_ERROR;
    }
    op->cond = cond;
    /* at server level the block never becomes the request's conf (nginx) */
    op->loc_conf = cf->cmd_type == SL_HTTP_SRV_CONF ? NULL : ctx->loc_conf;
    sl_uint_t at = rlcf->ops->nelts - 1;
    if (parse_if_block(cf, ctx, rlcf) != SL_CONF_OK) {
        return SL_CONF_ERROR;
    }
    /* the array may have moved while the block grew it */
    ((rewrite_op_t *) rlcf->ops->elts)[at].next = rlcf->ops->nelts;
    return SL_CONF_OK;
}

/* The getter of a "set" variable read before any "set" ran: empty, with nginx's warning. */
static sl_int_t var_uninitialized(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    rewrite_loc_conf_t *rlcf =
        r->loc_conf ? sl_http_get_module_loc_conf(r, sl_http_rewrite_module) : NULL;

    if (rlcf && rlcf->uninitialized_variable_warn) {
        sl_http_core_main_conf_t *cmcf = sl_http_get_module_main_conf(r, sl_http_core_module);
        sl_http_variable_t *var = cmcf->variables.elts;
        sl_log_error(SL_LOG_WARN, r->connection->log, 0, "using uninitialized \"%.*s\" variable",
                     SL_STR_ARG(var[data].name));
    }
    memset(v, 0, sizeof(*v));
    v->data = (u_char *) "";
    v->valid = 1;
    return SL_OK;
}

static char *set_set(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_str_t *value = cf->args->elts;

    if (value[1].len == 0 || value[1].data[0] != '$') {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid variable name \"%.*s\"",
                          SL_STR_ARG(value[1]));
        return SL_CONF_ERROR;
    }
    sl_str_t name = { value[1].len - 1, value[1].data + 1 };
    sl_http_variable_t *v =
        sl_http_add_variable(cf, &name, SL_HTTP_VAR_CHANGEABLE | SL_HTTP_VAR_WEAK);
    sl_int_t index = v ? sl_http_get_variable_index(cf, &name) : SL_ERROR;
    if (index == SL_ERROR) {
        return SL_CONF_ERROR;
    }
    if (v->get_handler == NULL) {
        v->get_handler = var_uninitialized;
        v->data = (uintptr_t) index;
    }
    rewrite_op_t *op = push_op(cf, conf, OP_SET);
    if (op == NULL || (op->text = new_value(cf, &value[2])) == NULL) {
        return SL_CONF_ERROR;
    }
    op->index = (sl_uint_t) index;
    /* a built-in changeable variable ($args, $limit_rate) applies the value itself */
    op->set_handler = v->set_handler;
    op->data = v->data;
    return SL_CONF_OK;
}
