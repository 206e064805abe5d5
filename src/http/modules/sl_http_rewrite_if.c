/*
 * sl_http_rewrite_if.c: "if" blocks: the block's own configuration (a loc conf for every
 * http module, merged with its level's once the http block is merged) and its condition,
 * parsed from the directive's words as nginx splits them ("($a", "=", "b)") and tested per
 * request:
 *
 *   ($var)                 true unless empty or "0"
 *   ($var = v), (!= v)     exact comparison with a value (variables allowed)
 *   ($var ~ re), ~*, !~, !~*   a regex (~* caseless); captures and named captures are set
 *   (-f path), -d, -e, -x  a file, a directory, either (or a link), executable; "!-" negates
 */
#include <sys/stat.h>

#include "sl_http_rewrite.h"
#include "sl_pool.h"

typedef enum { COND_VALUE, COND_EQUAL, COND_REGEX, COND_FILE } cond_kind_e;

struct sl_http_rewrite_cond_s {
    cond_kind_e kind;
    /** the variable tested (all but file tests) */
    sl_uint_t index;
    /** the value of "=" and "!=", or the path of a file test */
    sl_http_complex_value_t value;
    sl_http_regex_t *regex;
    /** file tests: 'f', 'd', 'e' or 'x' */
    u_char file_op;
    /** "!=", "!~", "!~*", "!-" */
    unsigned negative : 1;
};

/* ---- parsing ----------------------------------------------------------------------------- */

static char *invalid(sl_conf_t *cf, const sl_str_t *word)
{
    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid condition \"%.*s\"", SL_STR_ARG(*word));
    return SL_CONF_ERROR;
}

static char *compile_operand(sl_conf_t *cf, sl_str_t *text, sl_http_rewrite_cond_t *cond)
{
    sl_http_compile_complex_value_t ccv;

    memset(&ccv, 0, sizeof(ccv));
    ccv.cf = cf;
    ccv.value = text;
    ccv.complex_value = &cond->value;
    /* a file test's path goes to stat() */
    ccv.zero = cond->kind == COND_FILE;
    return sl_http_compile_complex_value(&ccv) == SL_OK ? SL_CONF_OK : SL_CONF_ERROR;
}

static char *compile_regex(sl_conf_t *cf, sl_str_t *pattern, int caseless,
                           sl_http_rewrite_cond_t *cond)
{
    sl_regex_compile_t rc;

    memset(&rc, 0, sizeof(rc));
    rc.pattern = *pattern;
    rc.caseless = caseless;
    cond->kind = COND_REGEX;
    return sl_http_regex_compile(cf, &rc, &cond->regex) == SL_OK ? SL_CONF_OK : SL_CONF_ERROR;
}

/* "$var", "$var = v", "$var ~ re", ...: value[cur] is the variable, value[last] the operand. */
static char *parse_variable(sl_conf_t *cf, sl_str_t *value, sl_uint_t cur, sl_uint_t last,
                            sl_http_rewrite_cond_t *cond)
{
    if (cur != last && cur + 2 != last) {
        return invalid(cf, &value[cur]);
    }
    sl_str_t name = { value[cur].len - 1, value[cur].data + 1 };
    sl_int_t index = sl_http_get_variable_index(cf, &name);
    if (index == SL_ERROR) {
        return SL_CONF_ERROR;
    }
    cond->index = (sl_uint_t) index;
    cond->kind = COND_VALUE;
    if (cur == last) {
        return SL_CONF_OK;
    }
    sl_str_t *op = &value[cur + 1];
    if (sl_str_eq_cstr(op, "=") || sl_str_eq_cstr(op, "!=")) {
        cond->kind = COND_EQUAL;
        cond->negative = op->data[0] == '!';
        return compile_operand(cf, &value[last], cond);
    }
    if (sl_str_eq_cstr(op, "~") || sl_str_eq_cstr(op, "~*") || sl_str_eq_cstr(op, "!~")
        || sl_str_eq_cstr(op, "!~*")) {
        cond->negative = op->data[0] == '!';
        return compile_regex(cf, &value[last], op->data[op->len - 1] == '*', cond);
    }
    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "unexpected \"%.*s\" in condition", SL_STR_ARG(*op));
    return SL_CONF_ERROR;
}

/* "-f path", "!-d path", ...: value[cur] is the operator, value[last] the path. */
static char *parse_file(sl_conf_t *cf, sl_str_t *value, sl_uint_t cur, sl_uint_t last,
                        sl_http_rewrite_cond_t *cond)
{
    sl_str_t *op = &value[cur];

    if (cur + 1 != last) {
        return invalid(cf, op);
    }
    cond->kind = COND_FILE;
    cond->negative = op->data[0] == '!';
    if (compile_operand(cf, &value[last], cond) != SL_CONF_OK) {
        return SL_CONF_ERROR;
    }
    u_char letter = op->data[op->len - 1];
    if ((cond->negative && op->data[1] != '-') || memchr("fdex", letter, 4) == NULL) {
        return invalid(cf, op);
    }
    cond->file_op = letter;
    return SL_CONF_OK;
}

char *sl__http_rewrite_parse_condition(sl_conf_t *cf, sl_http_rewrite_cond_t **out)
{
    sl_str_t *value = cf->args->elts;
    sl_uint_t last = cf->args->nelts - 1, cur = 1;
    sl_http_rewrite_cond_t *cond = sl_pcalloc(cf->pool, sizeof(sl_http_rewrite_cond_t));

    if (cond == NULL) {
        return SL_CONF_ERROR;
    }
    *out = cond;
    /* the parentheses: words of their own or stuck to the first and last words */
    if (value[1].len == 0 || value[1].data[0] != '(') {
        return invalid(cf, &value[1]);
    }
    if (value[1].len == 1) {
        cur = 2;
    } else {
        value[1].data++;
        value[1].len--;
    }
    if (value[last].len == 0 || value[last].data[value[last].len - 1] != ')') {
        return invalid(cf, &value[last]);
    }
    if (value[last].len == 1) {
        last--;
    } else {
        value[last].len--;
    }
    sl_str_t *word = &value[cur];
    if (cur <= last && word->len > 1 && word->data[0] == '$') {
        return parse_variable(cf, value, cur, last, cond);
    }
    if ((word->len == 2 && word->data[0] == '-')
        || (word->len == 3 && word->data[0] == '!' && word->data[1] == '-')) {
        return parse_file(cf, value, cur, last, cond);
    }
    return invalid(cf, word);
}

/* ---- the block's configuration --------------------------------------------------------- */

sl_http_conf_ctx_t *sl__http_rewrite_if_context(sl_conf_t *cf)
{
    sl_http_conf_ctx_t *pctx = cf->ctx;
    sl_http_conf_ctx_t *ctx = sl_pcalloc(cf->pool, sizeof(sl_http_conf_ctx_t));
    sl_uint_t n = sl_count_modules(cf->cycle, SL_HTTP_MODULE);

    if (ctx == NULL || (ctx->loc_conf = sl_pcalloc(cf->pool, n * sizeof(void *))) == NULL) {
        return NULL;
    }
    ctx->main_conf = pctx->main_conf;
    ctx->srv_conf = pctx->srv_conf;
    for (sl_uint_t i = 0; i < cf->cycle->modules_n; i++) {
        sl_module_t *m = cf->cycle->modules[i];
        sl_http_module_t *hm = m->ctx;

        if (m->type != SL_HTTP_MODULE || hm->create_loc_conf == NULL) {
            continue;
        }
        if ((ctx->loc_conf[m->ctx_index] = hm->create_loc_conf(cf)) == NULL) {
            return NULL;
        }
    }
    sl_http_core_loc_conf_t *pclcf = pctx->loc_conf[sl_http_core_module.ctx_index];
    sl_http_core_loc_conf_t *clcf = ctx->loc_conf[sl_http_core_module.ctx_index];
    clcf->loc_conf = ctx->loc_conf;
    clcf->noname = 1;
    /* the level's name (and regex): alias maps uris through them */
    clcf->name = pclcf->name;
    clcf->regex = pclcf->regex;
    return ctx;
}

sl_int_t sl__http_rewrite_merge_if(sl_conf_t *cf, void **parent, void **loc_conf)
{
    sl_http_core_loc_conf_t *pclcf = parent[sl_http_core_module.ctx_index];
    sl_http_core_loc_conf_t *clcf = loc_conf[sl_http_core_module.ctx_index];

    /* nginx inherits alias as root is inherited: the block maps uris as its level does */
    if (clcf->root.data == NULL && clcf->alias.data == NULL) {
        clcf->alias = pclcf->alias;
        clcf->alias_len = pclcf->alias_len;
    }
    for (sl_uint_t i = 0; i < cf->cycle->modules_n; i++) {
        sl_module_t *m = cf->cycle->modules[i];
        sl_http_module_t *hm = m->ctx;

        if (m->type != SL_HTTP_MODULE || hm->merge_loc_conf == NULL) {
            continue;
        }
        char *rv = hm->merge_loc_conf(cf, parent[m->ctx_index], loc_conf[m->ctx_index]);
        if (rv != SL_CONF_OK) {
            if (rv != SL_CONF_ERROR) {
                sl_conf_log_error(SL_LOG_EMERG, cf, 0, "%s", rv);
            }
            return SL_ERROR;
        }
    }
    /*
     * Listed under its level's locations after the core built the location lists (its
     * postconfiguration runs first), so it is never matched, but the modules walking the
     * locations later (the static module compiling a root with variables) see it.
     */
    if (pclcf->locations == NULL) {
        pclcf->locations = sl_array_create(cf->pool, 2, sizeof(sl_http_core_loc_conf_t *));
    }
    sl_http_core_loc_conf_t **slot = pclcf->locations ? sl_array_push(pclcf->locations) : NULL;
    if (slot == NULL) {
        return SL_ERROR;
    }
    *slot = clcf;
    return SL_OK;
}

/* ---- testing ----------------------------------------------------------------------------- */

/* The variable's value, empty when absent. */
static void variable_value(sl_http_request_t *r, sl_uint_t index, sl_str_t *out)
{
    sl_http_variable_value_t *vv = sl_http_get_flushed_variable(r, index);

    out->len = 0;
    out->data = (u_char *) "";
    if (vv && !vv->not_found && vv->data) {
        out->len = vv->len;
        out->data = vv->data;
    }
}

static sl_int_t test_file(sl_http_request_t *r, sl_http_rewrite_cond_t *cond)
{
    sl_str_t path;
    struct stat st;

    if (sl_http_complex_value(r, &cond->value, &path) != SL_OK) {
        return SL_ERROR;
    }
    int found = stat((const char *) path.data, &st) == 0;
    if (!found && errno != ENOENT && errno != ENOTDIR && errno != ENAMETOOLONG) {
        sl_log_error(SL_LOG_CRIT, r->connection->log, errno, "stat() \"%s\" failed",
                     (const char *) path.data);
    }
    int yes = 0;
    if (found) {
        switch (cond->file_op) {
        case 'f':
            yes = S_ISREG(st.st_mode);
            break;
        case 'd':
            yes = S_ISDIR(st.st_mode);
            break;
        case 'e':
            /* nginx counts files, directories and links, not devices, fifos or sockets */
            yes = S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode);
            break;
        default:
            yes = (st.st_mode & S_IXUSR) != 0;
            break;
        }
    }
    return yes != cond->negative;
}

sl_int_t sl__http_rewrite_test(sl_http_request_t *r, sl_http_rewrite_cond_t *cond, int log)
{
    sl_str_t v, operand;

    if (cond->kind == COND_FILE) {
        return test_file(r, cond);
    }
    variable_value(r, cond->index, &v);
    switch (cond->kind) {
    case COND_VALUE:
        return v.len && !(v.len == 1 && v.data[0] == '0');
    case COND_EQUAL:
        if (sl_http_complex_value(r, &cond->value, &operand) != SL_OK) {
            return SL_ERROR;
        }
        return sl_str_eq(&v, &operand) != cond->negative;
    case COND_REGEX: {
        sl_int_t rc = sl__http_rewrite_regex(r, cond->regex, &v, log);
        return rc == SL_ERROR ? SL_ERROR : (rc > 0) != cond->negative;
    }
    default:
        return SL_ERROR;
    }
}
