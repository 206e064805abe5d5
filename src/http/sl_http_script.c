/*
 * sl_http_script.c: complex values, "text$var text${var}text$1", compiled once at
 * configuration time into parts (literal text, variable index, capture number) and
 * evaluated per request in two passes (length, then copy) into one allocation.
 */
#include "sl_http_variables.h"
#include "sl_pool.h"

typedef enum {
    PART_TEXT = 0,
    PART_VARIABLE,
    PART_CAPTURE,
    /** the config prefix or prefix, used only when the rest is a relative path */
    PART_PREFIX,
} part_kind_t;

struct sl_http_script_part_s {
    part_kind_t kind;
    /** variable index or capture number */
    sl_uint_t n;
    sl_str_t text;
};

int sl_http_script_variables_count(const sl_str_t *value)
{
    int n = 0;

    for (size_t i = 0; i < value->len; i++) {
        n += value->data[i] == '$';
    }
    return n;
}

static int is_name_char(u_char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
           || ch == '_';
}

sl_int_t sl_http_script_var_name(sl_conf_t *cf, const sl_str_t *src, size_t *i, sl_str_t *name)
{
    const u_char *s = src->data;
    size_t len = src->len, p = *i;
    int bracket = p < len && s[p] == '{';

    p += bracket;
    name->data = (u_char *) s + p;
    while (p < len && is_name_char(s[p])) {
        p++;
    }
    name->len = (size_t) (s + p - name->data);
    if (bracket) {
        if (p >= len || s[p] != '}') {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                              "the closing bracket in \"%.*s\" variable is missing",
                              SL_STR_ARG(*name));
            return SL_ERROR;
        }
        p++;
    }
    *i = p;
    return SL_OK;
}

/*
 * Reads the variable reference after the "$" at src[*i] (i points past the "$") into part.
 * SL_OK, or SL_ERROR after logging the error nginx reports.
 */
static sl_int_t compile_reference(sl_conf_t *cf, const sl_str_t *src, size_t *i,
                                  sl_http_script_part_t *part)
{
    const u_char *s = src->data;
    size_t len = src->len, p = *i;

    if (p < len && s[p] >= '1' && s[p] <= '9') {
        part->kind = PART_CAPTURE;
        part->n = (sl_uint_t) (s[p] - '0');
        *i = p + 1;
        return SL_OK;
    }
    sl_str_t name;
    if (sl_http_script_var_name(cf, src, &p, &name) != SL_OK) {
        return SL_ERROR;
    }
    if (name.len == 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid variable name");
        return SL_ERROR;
    }
    sl_int_t index = sl_http_get_variable_index(cf, &name);
    if (index == SL_ERROR) {
        return SL_ERROR;
    }
    part->kind = PART_VARIABLE;
    part->n = (sl_uint_t) index;
    *i = p;
    return SL_OK;
}

/* Splits src (pool memory that outlives the parts) into parts[]; *n is their count. */
static sl_int_t compile_parts(sl_conf_t *cf, const sl_str_t *src, sl_http_script_part_t *parts,
                              sl_uint_t *n)
{
    size_t i = 0;

    while (i < src->len) {
        sl_http_script_part_t *part = &parts[(*n)++];

        memset(part, 0, sizeof(*part));
        if (src->data[i] == '$') {
            i++;
            if (compile_reference(cf, src, &i, part) != SL_OK) {
                return SL_ERROR;
            }
            continue;
        }
        part->kind = PART_TEXT;
        part->text.data = src->data + i;
        while (i < src->len && src->data[i] != '$') {
            i++;
        }
        part->text.len = (size_t) (src->data + i - part->text.data);
    }
    return SL_OK;
}

/* A value without variables: kept as is, made absolute when asked to. */
static sl_int_t compile_plain(sl_http_compile_complex_value_t *ccv)
{
    sl_http_complex_value_t *cv = ccv->complex_value;
    sl_conf_t *cf = ccv->cf;

    if ((ccv->conf_prefix || ccv->root_prefix)
        && (cv->value.len == 0 || cv->value.data[0] != '/')) {
        /* sl_conf_full_name copies with a NUL */
        return sl_conf_full_name(cf->cycle, &cv->value, ccv->conf_prefix);
    }
    if (ccv->zero) {
        cv->value.data = sl_pstrdup(cf->pool, &cv->value);
        return cv->value.data ? SL_OK : SL_ERROR;
    }
    return SL_OK;
}

sl_int_t sl_http_compile_complex_value(sl_http_compile_complex_value_t *ccv)
{
    sl_http_complex_value_t *cv = ccv->complex_value;
    sl_conf_t *cf = ccv->cf;
    int nv = sl_http_script_variables_count(ccv->value);

    memset(cv, 0, sizeof(*cv));
    cv->value = *ccv->value;
    if (nv == 0) {
        return compile_plain(ccv);
    }
    /* The parts point into the text: keep a copy that lives as long as the config. */
    cv->value.data = sl_pstrdup(cf->pool, ccv->value);
    /* a leading text run, then per "$" one reference and one text run; plus the prefix */
    sl_http_script_part_t *parts =
        sl_palloc(cf->pool, ((sl_uint_t) nv * 2 + 2) * sizeof(sl_http_script_part_t));
    if (cv->value.data == NULL || parts == NULL) {
        return SL_ERROR;
    }
    sl_uint_t n = 0;
    if (ccv->conf_prefix || ccv->root_prefix) {
        sl_str_t *prefix = ccv->conf_prefix ? &cf->cycle->conf_prefix : &cf->cycle->prefix;
        memset(&parts[0], 0, sizeof(parts[0]));
        parts[0].kind = PART_PREFIX;
        parts[0].text = *prefix;
        n = 1;
    }
    if (compile_parts(cf, &cv->value, parts, &n) != SL_OK) {
        return SL_ERROR;
    }
    cv->parts = parts;
    cv->nparts = n;
    return SL_OK;
}

/* The bytes a part stands for in r; empty for an absent variable or capture. */
static sl_int_t part_value(sl_http_request_t *r, const sl_http_script_part_t *part, sl_str_t *out)
{
    out->len = 0;
    out->data = NULL;
    switch (part->kind) {
    case PART_TEXT:
    case PART_PREFIX:
        *out = part->text;
        return SL_OK;
    case PART_CAPTURE:
        if (r->captures && 2 * part->n + 1 < r->ncaptures) {
            int start = r->captures[2 * part->n], end = r->captures[2 * part->n + 1];
            out->data = r->captures_data + start;
            out->len = end > start ? (size_t) (end - start) : 0;
        }
        return SL_OK;
    case PART_VARIABLE: {
        sl_http_variable_value_t *vv = sl_http_get_indexed_variable(r, part->n);
        if (vv == NULL) {
            return SL_ERROR;
        }
        if (!vv->not_found) {
            out->data = vv->data;
            out->len = vv->len;
        }
        return SL_OK;
    }
    }
    return SL_ERROR;
}

/* Values that are not cacheable are computed afresh for each evaluation, once: the copy
 * pass then sees exactly what the length pass measured. */
static void flush_variables(sl_http_request_t *r, const sl_http_complex_value_t *val)
{
    for (sl_uint_t i = 0; i < val->nparts; i++) {
        if (val->parts[i].kind == PART_VARIABLE) {
            sl_http_variable_value_t *vv = &r->variables[val->parts[i].n];
            if (vv->no_cacheable) {
                vv->valid = 0;
                vv->not_found = 0;
            }
        }
    }
}

/* value is a runtime path with at least prefix->len + 1 free bytes in front of it: when it
 * is relative, the prefix goes there (with a "/" if the prefix does not end with one). */
static void apply_prefix(sl_str_t *value, const sl_str_t *prefix)
{
    if (value->len && value->data[0] == '/') {
        return;
    }
    size_t slash = prefix->len && prefix->data[prefix->len - 1] != '/';
    u_char *start = value->data - prefix->len - slash;

    memcpy(start, prefix->data, prefix->len);
    if (slash) {
        start[prefix->len] = '/';
    }
    value->data = start;
    value->len += prefix->len + slash;
}

/* The result is always followed by a NUL (not counted), which covers ccv->zero. */
sl_int_t sl_http_complex_value(sl_http_request_t *r, sl_http_complex_value_t *val, sl_str_t *value)
{
    if (val->parts == NULL) {
        *value = val->value;
        return SL_OK;
    }
    flush_variables(r, val);
    size_t len = 0, room = 0;
    sl_str_t s;
    for (sl_uint_t i = 0; i < val->nparts; i++) {
        if (part_value(r, &val->parts[i], &s) != SL_OK) {
            return SL_ERROR;
        }
        if (val->parts[i].kind == PART_PREFIX) {
            room = s.len + 1;
        } else {
            len += s.len;
        }
    }
    u_char *buf = sl_pnalloc(r->pool, room + len + 1);
    if (buf == NULL) {
        return SL_ERROR;
    }
    u_char *p = buf + room, *end = p + len;
    for (sl_uint_t i = 0; i < val->nparts; i++) {
        if (val->parts[i].kind == PART_PREFIX || part_value(r, &val->parts[i], &s) != SL_OK) {
            continue;
        }
        /* the values were cached by the length pass; the bound is only a safety net */
        size_t n = sl_min(s.len, (size_t) (end - p));
        if (n) {
            memcpy(p, s.data, n);
            p += n;
        }
    }
    *p = '\0';
    value->data = buf + room;
    value->len = (size_t) (p - value->data);
    if (room) {
        apply_prefix(value, &val->parts[0].text);
    }
    return SL_OK;
}

char *sl_http_set_complex_value_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_http_complex_value_t **cv = (sl_http_complex_value_t **) ((u_char *) conf + cmd->offset);
    sl_str_t *value = cf->args->elts;

    if (*cv != NULL && *cv != SL_CONF_UNSET_PTR) {
        return "is duplicate";
    }
    *cv = sl_palloc(cf->pool, sizeof(sl_http_complex_value_t));
    if (*cv == NULL) {
        return SL_CONF_ERROR;
    }
    return sl_http_compile_value(cf, &value[1], *cv) == SL_OK ? SL_CONF_OK : SL_CONF_ERROR;
}

sl_int_t sl_http_compile_value(sl_conf_t *cf, sl_str_t *value, sl_http_complex_value_t *cv)
{
    sl_http_compile_complex_value_t ccv;

    memset(&ccv, 0, sizeof(ccv));
    ccv.cf = cf;
    ccv.value = value;
    ccv.complex_value = cv;
    return sl_http_compile_complex_value(&ccv);
}

char *sl_http_set_complex_value_size_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    char *rv = sl_http_set_complex_value_slot(cf, cmd, conf);

    if (rv != SL_CONF_OK) {
        return rv;
    }
    sl_http_complex_value_t *cv = *(sl_http_complex_value_t **) ((u_char *) conf + cmd->offset);
    if (cv->parts == NULL) {
        /* a literal is checked now, as nginx does: a typo fails the configuration */
        ssize_t n = sl_parse_size(&cv->value);
        if (n == SL_ERROR) {
            return "invalid value";
        }
        cv->size = (size_t) n;
    }
    return SL_CONF_OK;
}

size_t sl_http_complex_value_size(sl_http_request_t *r, sl_http_complex_value_t *cv,
                                  size_t default_size)
{
    sl_str_t text;

    if (cv == NULL) {
        return default_size;
    }
    if (cv->parts == NULL) {
        return cv->size;
    }
    if (sl_http_complex_value(r, cv, &text) != SL_OK) {
        return default_size;
    }
    ssize_t n = sl_parse_size(&text);
    if (n == SL_ERROR) {
        sl_log_error(SL_LOG_ERR, r->connection->log, 0, "invalid size \"%.*s\"", SL_STR_ARG(text));
        return default_size;
    }
    return (size_t) n;
}
