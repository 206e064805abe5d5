/*
 * sl_http_map_module.c: "map SOURCE $var { ... }", a variable whose value is chosen by
 * matching the evaluated SOURCE against a table, as nginx 1.22's map module does.
 *
 * Order of the match, as nginx: exact keys (ASCII case ignored: nginx lowercases every
 * key), then with "hostnames" the longest "*.x" / ".x" suffix wildcard, then the longest
 * "x.*" prefix wildcard, then the regexes in configuration order (never for an empty
 * SOURCE), then the default ("" when none).  With "hostnames" one trailing dot of SOURCE is
 * ignored.  Values may hold variables and the captures of the regex that matched.
 *
 * The value is computed when the variable is first read in a request and kept for the rest
 * of that request (each request has its own variable slots, so nothing carries over on a
 * keepalive connection); "volatile" makes it computed on every read.
 *
 * Wildcards are matched by a scan over the sorted list: maps hold few of them, and the
 * exact keys, usually the many, are in an sl_hash_t.
 */
#include <stdlib.h>

#include "sl_http.h"
#include "sl_http_variables.h"
#include "sl_pool.h"

/* A wildcard key: "*.example.com" and ".example.com" keep the suffix ".example.com",
 * "www.example.*" keeps the prefix "www.example." (lowercase). */
typedef struct {
    sl_str_t text;
    sl_http_complex_value_t *value;
} map_wildcard_t;

typedef struct {
    sl_http_regex_t *regex;
    sl_http_complex_value_t *value;
} map_regex_t;

typedef struct {
    sl_http_complex_value_t source;
    sl_hash_t exact;
    map_wildcard_t *heads;
    sl_uint_t nheads;
    map_wildcard_t *tails;
    sl_uint_t ntails;
    map_regex_t *regexes;
    sl_uint_t nregexes;
    sl_http_complex_value_t *default_value;
    unsigned hostnames : 1;
} map_t;

/* Exact keys seen so far are chained per bucket, so a conflict is found on its own line
 * (nginx's order of errors) without a quadratic scan of big maps. */
#define MAP_BUCKETS 1024

/* The state of one map{} block while it is parsed. */
typedef struct {
    map_t *map;
    /** sl_hash_key_t, lowercase keys */
    sl_array_t exact;
    /** per exact key, the next key in its bucket (index + 1; 0 ends the chain) */
    sl_array_t next;
    sl_uint_t *buckets;
    /** map_wildcard_t */
    sl_array_t heads;
    sl_array_t tails;
    /** map_regex_t */
    sl_array_t regexes;
    unsigned volatile_ : 1;
} map_ctx_t;

typedef struct {
    sl_int_t hash_max_size;
    size_t hash_bucket_size;
} map_main_conf_t;

static void *create_main_conf(sl_conf_t *cf);
static char *init_main_conf(sl_conf_t *cf, void *conf);
static char *map_block(sl_conf_t *cf, sl_command_t *cmd, void *conf);

#define MAIN SL_HTTP_MAIN_CONF
#define MAINCONF SL_HTTP_MAIN_CONF_OFFSET

static sl_command_t map_commands[] = {
    { sl_string("map"), MAIN | SL_CONF_BLOCK | SL_CONF_TAKE2, map_block, MAINCONF, 0, NULL },
    { sl_string("map_hash_max_size"), MAIN | SL_CONF_TAKE1, sl_conf_set_num_slot, MAINCONF,
      offsetof(map_main_conf_t, hash_max_size), NULL },
    { sl_string("map_hash_bucket_size"), MAIN | SL_CONF_TAKE1, sl_conf_set_size_slot, MAINCONF,
      offsetof(map_main_conf_t, hash_bucket_size), NULL },
    sl_null_command,
};

static sl_http_module_t map_module_ctx = {
    NULL, NULL, create_main_conf, init_main_conf, NULL, NULL, NULL, NULL,
};

sl_module_t sl_http_map_module = {
    "http_map", 0, 0, SL_HTTP_MODULE, &map_module_ctx, map_commands, NULL, NULL, NULL,
};

static void *create_main_conf(sl_conf_t *cf)
{
    map_main_conf_t *mcf = sl_pcalloc(cf->pool, sizeof(map_main_conf_t));

    if (mcf == NULL) {
        return NULL;
    }
    mcf->hash_max_size = SL_CONF_UNSET;
    mcf->hash_bucket_size = SL_CONF_UNSET_SIZE;
    return mcf;
}

/* Accepted for nginx's configurations; sl_hash_t sizes itself from the keys. */
static char *init_main_conf(sl_conf_t *cf, void *conf)
{
    map_main_conf_t *mcf = conf;

    (void) cf;
    sl_conf_init_value(mcf->hash_max_size, 2048);
    sl_conf_init_size_value(mcf->hash_bucket_size, 64);
    return SL_CONF_OK;
}

/* ---- lookup ---- */

static sl_http_complex_value_t *find_wildcard(const map_wildcard_t *w, sl_uint_t n,
                                              const sl_str_t *s, int head)
{
    for (sl_uint_t i = 0; i < n; i++) {
        size_t len = w[i].text.len;
        if (s->len <= len) {
            continue;
        }
        const u_char *p = head ? s->data + s->len - len : s->data;
        if (sl_strncasecmp(p, w[i].text.data, len) == 0) {
            return w[i].value;
        }
    }
    return NULL;
}

/*
 * The value s selects in map, NULL when nothing matches (the default applies).  A matching
 * regex leaves its captures in r.  *err is set on a regex failure.
 */
static sl_http_complex_value_t *map_find(sl_http_request_t *r, map_t *map, const sl_str_t *s,
                                         int *err)
{
    sl_http_complex_value_t *v =
        sl_hash_find(&map->exact, sl_hash_key_lc(s->data, s->len), s->data, s->len);

    if (v != NULL) {
        return v;
    }
    if (map->hostnames) {
        v = find_wildcard(map->heads, map->nheads, s, 1);
        if (v == NULL) {
            v = find_wildcard(map->tails, map->ntails, s, 0);
        }
        if (v != NULL) {
            return v;
        }
    }
    if (s->len == 0) {
        return NULL;
    }
    for (sl_uint_t i = 0; i < map->nregexes; i++) {
        sl_int_t rc = sl_http_regex_match(r, map->regexes[i].regex, s);
        if (rc > 0) {
            return map->regexes[i].value;
        }
        if (rc < 0) {
            *err = 1;
            return NULL;
        }
    }
    return NULL;
}

static sl_int_t map_variable(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    map_t *map = (map_t *) data;
    sl_str_t s, value;
    int err = 0;

    if (sl_http_complex_value(r, &map->source, &s) != SL_OK) {
        return SL_ERROR;
    }
    if (map->hostnames && s.len > 0 && s.data[s.len - 1] == '.') {
        s.len--;
    }
    sl_http_complex_value_t *cv = map_find(r, map, &s, &err);
    if (err) {
        return SL_ERROR;
    }
    if (cv == NULL) {
        cv = map->default_value;
    }
    if (cv == NULL) {
        value.len = 0;
        value.data = (u_char *) "";
    } else if (sl_http_complex_value(r, cv, &value) != SL_OK) {
        return SL_ERROR;
    }
    v->data = value.data;
    v->len = value.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return SL_OK;
}

/* ---- configuration ---- */

static sl_http_complex_value_t *compile_value(sl_conf_t *cf, sl_str_t *text)
{
    sl_http_complex_value_t *cv = sl_palloc(cf->pool, sizeof(sl_http_complex_value_t));

    if (cv == NULL || sl_http_compile_value(cf, text, cv) != SL_OK) {
        return NULL;
    }
    return cv;
}

static char *conflict(sl_conf_t *cf, const sl_str_t *key)
{
    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "conflicting parameter \"%.*s\"", SL_STR_ARG(*key));
    return SL_CONF_ERROR;
}

/* Adds the exact key (already lowercase); shown is the key as nginx names it in a
 * conflict. */
static char *add_exact(sl_conf_t *cf, map_ctx_t *ctx, sl_str_t *key, const sl_str_t *shown,
                       sl_http_complex_value_t *value)
{
    sl_uint_t b = sl_hash_key(key->data, key->len) % MAP_BUCKETS;
    sl_hash_key_t *keys = ctx->exact.elts;
    sl_uint_t *next = ctx->next.elts;

    for (sl_uint_t i = ctx->buckets[b]; i != 0; i = next[i - 1]) {
        if (sl_str_eq(&keys[i - 1].key, key)) {
            return conflict(cf, shown);
        }
    }
    sl_hash_key_t *k = sl_array_push(&ctx->exact);
    sl_uint_t *n = sl_array_push(&ctx->next);
    if (k == NULL || n == NULL) {
        return SL_CONF_ERROR;
    }
    k->key = *key;
    k->value = value;
    *n = ctx->buckets[b];
    ctx->buckets[b] = ctx->exact.nelts;
    return SL_CONF_OK;
}

static char *add_wildcard(sl_conf_t *cf, sl_array_t *list, sl_str_t *text, const sl_str_t *shown,
                          sl_http_complex_value_t *value)
{
    map_wildcard_t *w = list->elts;

    for (sl_uint_t i = 0; i < list->nelts; i++) {
        if (sl_str_eq(&w[i].text, text)) {
            return conflict(cf, shown);
        }
    }
    w = sl_array_push(list);
    if (w == NULL) {
        return SL_CONF_ERROR;
    }
    w->text = *text;
    w->value = value;
    return SL_CONF_OK;
}

/* The kinds of a key under "hostnames". */
typedef enum { KEY_EXACT, KEY_DOT, KEY_HEAD, KEY_TAIL, KEY_INVALID } key_kind_e;

/* nginx's rules: one "*" at most, no "..", and a "*" only as "*.x" or "x.*" (or after a
 * leading dot). */
static key_kind_e hostname_kind(const sl_str_t *key)
{
    sl_uint_t stars = 0;

    for (size_t i = 0; i < key->len; i++) {
        if (key->data[i] == '*') {
            stars++;
        }
        if (key->data[i] == '\0'
            || (key->data[i] == '.' && i + 1 < key->len && key->data[i + 1] == '.')) {
            return KEY_INVALID;
        }
    }
    if (stars > 1) {
        return KEY_INVALID;
    }
    if (key->len > 1 && key->data[0] == '.') {
        /* nginx takes ".a*b" as a plain suffix: the "*" is then an ordinary byte */
        return KEY_DOT;
    }
    if (key->len > 2 && key->data[0] == '*' && key->data[1] == '.') {
        return KEY_HEAD;
    }
    if (key->len > 2 && key->data[key->len - 2] == '.' && key->data[key->len - 1] == '*') {
        return KEY_TAIL;
    }
    return stars ? KEY_INVALID : KEY_EXACT;
}

/* A key under "hostnames"; key is lowercase. */
static char *add_hostname(sl_conf_t *cf, map_ctx_t *ctx, sl_str_t *key,
                          sl_http_complex_value_t *value)
{
    sl_str_t text = *key;

    switch (hostname_kind(key)) {
    case KEY_EXACT:
        return add_exact(cf, ctx, key, key, value);
    case KEY_DOT:
        /* ".example.com" is "example.com" and "*.example.com" in one */
        text.data++;
        text.len--;
        if (add_exact(cf, ctx, &text, key, value) != SL_CONF_OK) {
            return SL_CONF_ERROR;
        }
        return add_wildcard(cf, &ctx->heads, key, key, value);
    case KEY_HEAD:
        text.data++;
        text.len--;
        return add_wildcard(cf, &ctx->heads, &text, key, value);
    case KEY_TAIL:
        text.len--;
        return add_wildcard(cf, &ctx->tails, &text, key, value);
    case KEY_INVALID:
        break;
    }
    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid hostname or wildcard \"%.*s\"",
                      SL_STR_ARG(*key));
    return SL_CONF_ERROR;
}

/* "~regex value" or "~*regex value". */
static char *add_regex(sl_conf_t *cf, map_ctx_t *ctx, sl_str_t *key, sl_str_t *value)
{
    sl_regex_compile_t rc;

    memset(&rc, 0, sizeof(rc));
    rc.pattern.data = key->data + 1;
    rc.pattern.len = key->len - 1;
    if (rc.pattern.len > 0 && rc.pattern.data[0] == '*') {
        rc.pattern.data++;
        rc.pattern.len--;
        rc.caseless = 1;
    }
    map_regex_t *re = sl_array_push(&ctx->regexes);
    if (re == NULL || sl_http_regex_compile(cf, &rc, &re->regex) != SL_OK) {
        return SL_CONF_ERROR;
    }
    /* compiled after the regex, so that its named captures are declared variables */
    re->value = compile_value(cf, value);
    return re->value ? SL_CONF_OK : SL_CONF_ERROR;
}

static char *add_default(sl_conf_t *cf, map_ctx_t *ctx, sl_str_t *value)
{
    if (ctx->map->default_value != NULL) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "duplicate default map parameter");
        return SL_CONF_ERROR;
    }
    ctx->map->default_value = compile_value(cf, value);
    return ctx->map->default_value ? SL_CONF_OK : SL_CONF_ERROR;
}

/* One line of map{}: "key value", "default value", "hostnames", "volatile", "include f". */
static char *map_line(sl_conf_t *cf, sl_command_t *dummy, void *conf)
{
    map_ctx_t *ctx = conf;
    sl_str_t *arg = cf->args->elts;

    if (cf->args->nelts == 1 && sl_str_eq_cstr(&arg[0], "hostnames")) {
        ctx->map->hostnames = 1;
        return SL_CONF_OK;
    }
    if (cf->args->nelts == 1 && sl_str_eq_cstr(&arg[0], "volatile")) {
        ctx->volatile_ = 1;
        return SL_CONF_OK;
    }
    if (cf->args->nelts != 2) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid number of the map parameters");
        return SL_CONF_ERROR;
    }
    if (sl_str_eq_cstr(&arg[0], "include")) {
        return sl_conf_include(cf, dummy, conf);
    }
    if (sl_str_eq_cstr(&arg[0], "default")) {
        return add_default(cf, ctx, &arg[1]);
    }
    if (arg[0].len > 0 && arg[0].data[0] == '~') {
        return add_regex(cf, ctx, &arg[0], &arg[1]);
    }
    sl_str_t key = arg[0];
    if (key.len > 0 && key.data[0] == '\\') {
        /* "\default", "\~x": the key itself */
        key.data++;
        key.len--;
    }
    sl_strlow(key.data, key.data, key.len);
    sl_http_complex_value_t *value = compile_value(cf, &arg[1]);
    if (value == NULL) {
        return SL_CONF_ERROR;
    }
    if (ctx->map->hostnames) {
        return add_hostname(cf, ctx, &key, value);
    }
    return add_exact(cf, ctx, &key, &key, value);
}

static int cmp_wildcards(const void *a, const void *b)
{
    const map_wildcard_t *x = a, *y = b;

    /* longest first: the most specific wildcard wins */
    return (x->text.len < y->text.len) - (x->text.len > y->text.len);
}

static sl_int_t ctx_init(sl_conf_t *cf, map_ctx_t *ctx, map_t *map)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->map = map;
    ctx->buckets = sl_pcalloc(cf->temp_pool, MAP_BUCKETS * sizeof(sl_uint_t));
    if (ctx->buckets == NULL
        || sl_array_init(&ctx->exact, cf->temp_pool, 16, sizeof(sl_hash_key_t)) != SL_OK
        || sl_array_init(&ctx->next, cf->temp_pool, 16, sizeof(sl_uint_t)) != SL_OK
        || sl_array_init(&ctx->heads, cf->pool, 4, sizeof(map_wildcard_t)) != SL_OK
        || sl_array_init(&ctx->tails, cf->pool, 4, sizeof(map_wildcard_t)) != SL_OK
        || sl_array_init(&ctx->regexes, cf->pool, 4, sizeof(map_regex_t)) != SL_OK) {
        return SL_ERROR;
    }
    return SL_OK;
}

/* The tables of the parsed block, for lookups. */
static sl_int_t map_finish(sl_conf_t *cf, map_ctx_t *ctx)
{
    map_t *map = ctx->map;

    if (sl_hash_build(&map->exact, cf->pool, ctx->exact.elts, ctx->exact.nelts, SL_HASH_LOWCASE,
                      NULL)
        != SL_OK) {
        return SL_ERROR;
    }
    qsort(ctx->heads.elts, ctx->heads.nelts, sizeof(map_wildcard_t), cmp_wildcards);
    qsort(ctx->tails.elts, ctx->tails.nelts, sizeof(map_wildcard_t), cmp_wildcards);
    map->heads = ctx->heads.elts;
    map->nheads = ctx->heads.nelts;
    map->tails = ctx->tails.elts;
    map->ntails = ctx->tails.nelts;
    map->regexes = ctx->regexes.elts;
    map->nregexes = ctx->regexes.nelts;
    return SL_OK;
}

/* "map SOURCE $name { ... }": SOURCE may hold variables; $name is declared here. */
static char *map_block(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_str_t *arg = cf->args->elts;
    map_t *map = sl_pcalloc(cf->pool, sizeof(map_t));
    map_ctx_t ctx;

    (void) cmd;
    (void) conf;
    if (map == NULL || sl_http_compile_value(cf, &arg[1], &map->source) != SL_OK) {
        return SL_CONF_ERROR;
    }
    sl_str_t name = arg[2];
    if (name.len == 0 || name.data[0] != '$') {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid variable name \"%.*s\"", SL_STR_ARG(name));
        return SL_CONF_ERROR;
    }
    name.data++;
    name.len--;
    sl_http_variable_t *var = sl_http_add_variable(cf, &name, SL_HTTP_VAR_CHANGEABLE);
    if (var == NULL || ctx_init(cf, &ctx, map) != SL_OK) {
        return SL_CONF_ERROR;
    }
    var->get_handler = map_variable;
    var->data = (uintptr_t) map;

    sl_conf_t saved = *cf;
    cf->handler = map_line;
    cf->handler_conf = &ctx;
    char *rv = sl_conf_parse(cf, NULL);
    *cf = saved;
    if (rv != SL_CONF_OK) {
        return rv;
    }
    if (ctx.volatile_) {
        var->flags |= SL_HTTP_VAR_NOCACHEABLE;
    }
    return map_finish(cf, &ctx) == SL_OK ? SL_CONF_OK : SL_CONF_ERROR;
}
