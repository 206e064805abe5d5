/*
 * sl_http_split_clients_module.c: "split_clients STRING $var { PERCENT value; ... * value; }",
 * nginx's A/B split: the evaluated STRING is hashed with MurmurHash2 and the 32-bit hash
 * space is cut in the listed proportions, in order; "*" takes whatever is left.  The same
 * STRING always gets the same value, and the same value nginx gives it.
 */
#include "sl_http.h"
#include "sl_http_variables.h"
#include "sl_murmurhash.h"
#include "sl_pool.h"

/* Percentages are kept in hundredths ("51.2%" is 5120), as nginx reads them. */
#define PERCENT_WHOLE 10000

typedef struct {
    /** hundredths of a percent while parsing; then the upper bound of the part's slice of
     * the hash space; 0 for "*" */
    uint32_t percent;
    sl_str_t value;
} split_part_t;

typedef struct {
    sl_http_complex_value_t source;
    /** split_part_t */
    sl_array_t parts;
} split_t;

static char *split_clients_block(sl_conf_t *cf, sl_command_t *cmd, void *conf);

static sl_command_t split_clients_commands[] = {
    { sl_string("split_clients"), SL_HTTP_MAIN_CONF | SL_CONF_BLOCK | SL_CONF_TAKE2,
      split_clients_block, SL_HTTP_MAIN_CONF_OFFSET, 0, NULL },
    sl_null_command,
};

static sl_http_module_t split_clients_module_ctx = {
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
};

sl_module_t sl_http_split_clients_module = {
    "http_split_clients",   0,    0,    SL_HTTP_MODULE, &split_clients_module_ctx,
    split_clients_commands, NULL, NULL, NULL,
};

static sl_int_t split_variable(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    split_t *split = (split_t *) data;
    split_part_t *part = split->parts.elts;
    sl_str_t s;

    if (sl_http_complex_value(r, &split->source, &s) != SL_OK) {
        return SL_ERROR;
    }
    uint32_t hash = sl_murmur_hash2(s.data, s.len);
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->escape = 0;
    for (sl_uint_t i = 0; i < split->parts.nelts; i++) {
        if (hash < part[i].percent || part[i].percent == 0) {
            v->data = part[i].value.data;
            v->len = (unsigned) part[i].value.len;
            return SL_OK;
        }
    }
    /* past every slice and no "*": empty */
    v->data = (u_char *) "";
    v->len = 0;
    return SL_OK;
}

/* "51.2%": hundredths of a percent, at most two decimals.  SL_ERROR otherwise. */
static sl_int_t parse_percent(const sl_str_t *text)
{
    sl_int_t n = 0;
    int decimals = -1;

    if (text->len < 2 || text->data[text->len - 1] != '%') {
        return SL_ERROR;
    }
    for (size_t i = 0; i + 1 < text->len; i++) {
        u_char c = text->data[i];
        if (c == '.' && decimals < 0) {
            decimals = 0;
            continue;
        }
        if (c < '0' || c > '9' || decimals == 2) {
            return SL_ERROR;
        }
        n = n * 10 + (c - '0');
        if (decimals >= 0) {
            decimals++;
        }
        if (n > 100 * PERCENT_WHOLE) {
            return SL_ERROR;
        }
    }
    for (int d = decimals < 0 ? 0 : decimals; d < 2; d++) {
        n *= 10;
    }
    return n;
}

/* One line of the block: "PERCENT value;" or "* value;". */
static char *split_line(sl_conf_t *cf, sl_command_t *dummy, void *conf)
{
    split_t *split = conf;
    sl_str_t *arg = cf->args->elts;

    (void) dummy;
    if (cf->args->nelts != 2) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid number of the split_clients parameters");
        return SL_CONF_ERROR;
    }
    split_part_t *part = sl_array_push(&split->parts);
    if (part == NULL) {
        return SL_CONF_ERROR;
    }
    part->value = arg[1];
    if (arg[0].len == 1 && arg[0].data[0] == '*') {
        part->percent = 0;
        return SL_CONF_OK;
    }
    sl_int_t percent = parse_percent(&arg[0]);
    if (percent == SL_ERROR || percent == 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid percent value \"%.*s\"",
                          SL_STR_ARG(arg[0]));
        return SL_CONF_ERROR;
    }
    part->percent = (uint32_t) percent;
    return SL_CONF_OK;
}

/* Turns the percentages into bounds in the hash space.  SL_CONF_OK, or the error of a total
 * over 100% (where "*" counts as the rest). */
static char *split_bounds(sl_conf_t *cf, split_t *split)
{
    split_part_t *part = split->parts.elts;
    uint64_t sum = 0, last = 0;

    for (sl_uint_t i = 0; i < split->parts.nelts; i++) {
        sum = part[i].percent ? sum + part[i].percent : PERCENT_WHOLE;
        if (sum > PERCENT_WHOLE) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "percent total is greater than 100%%");
            return SL_CONF_ERROR;
        }
        if (part[i].percent) {
            last += part[i].percent * (uint64_t) 0xffffffff / PERCENT_WHOLE;
            part[i].percent = (uint32_t) last;
        }
    }
    return SL_CONF_OK;
}

static char *split_clients_block(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_str_t *arg = cf->args->elts;
    split_t *split = sl_pcalloc(cf->pool, sizeof(split_t));

    (void) cmd;
    (void) conf;
    if (split == NULL || sl_http_compile_value(cf, &arg[1], &split->source) != SL_OK
        || sl_array_init(&split->parts, cf->pool, 4, sizeof(split_part_t)) != SL_OK) {
        return SL_CONF_ERROR;
    }
    sl_str_t name = arg[2];
    if (name.len < 2 || name.data[0] != '$') {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid variable name \"%.*s\"", SL_STR_ARG(name));
        return SL_CONF_ERROR;
    }
    name.data++;
    name.len--;
    sl_http_variable_t *var = sl_http_add_variable(cf, &name, SL_HTTP_VAR_CHANGEABLE);
    if (var == NULL) {
        return SL_CONF_ERROR;
    }
    var->get_handler = split_variable;
    var->data = (uintptr_t) split;

    sl_conf_t saved = *cf;
    cf->handler = split_line;
    cf->handler_conf = split;
    char *rv = sl_conf_parse(cf, NULL);
    *cf = saved;
    if (rv != SL_CONF_OK) {
        return rv;
    }
    return split_bounds(cf, split);
}
