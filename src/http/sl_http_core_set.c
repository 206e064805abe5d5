/*
 * sl_http_core_set.c: server_name, root/alias, types, keepalive_timeout, internal,
 * error_page and error_log at the http levels.
 */
#include <unistd.h>

#include "sl_http_core_set.h"
#include "sl_http_variables.h"
#include "sl_pool.h"

static char *compile_server_regex(sl_conf_t *cf, sl_http_server_name_t *sn,
                                  sl_http_core_srv_conf_t *cscf)
{
    sl_regex_compile_t rc;

    memset(&rc, 0, sizeof(rc));
    rc.pattern.data = sn->name.data + 1;
    rc.pattern.len = sn->name.len - 1;
    rc.caseless = 1;
    /* its named captures become variables, as nginx */
    if (sl_http_regex_compile(cf, &rc, &sn->http_regex) != SL_OK) {
        return SL_CONF_ERROR;
    }
    sn->regex = rc.regex;
    sn->captures = rc.captures;
    if (rc.captures) {
        cscf->captures = 1;
    }
    return SL_CONF_OK;
}

/* "$hostname" is this machine's name, as nginx. */
static int hostname_value(sl_conf_t *cf, sl_str_t *name)
{
    char host[256];

    if (gethostname(host, sizeof(host) - 1) == -1) {
        return 0;
    }
    host[sizeof(host) - 1] = '\0';
    name->len = strlen(host);
    name->data = sl_pnalloc(cf->pool, name->len + 1);
    if (name->data == NULL) {
        return 0;
    }
    sl_strlow(name->data, (u_char *) host, name->len + 1);
    return 1;
}

static char *add_server_name(sl_conf_t *cf, sl_http_core_srv_conf_t *cscf, sl_str_t *value)
{
    sl_http_server_name_t *sn = sl_array_push(&cscf->server_names);

    if (sn == NULL) {
        return SL_CONF_ERROR;
    }
    memset(sn, 0, sizeof(*sn));
    sn->server = cscf;
    sn->name = *value;
    if (sl_str_eq_cstr(value, "$hostname") && !hostname_value(cf, &sn->name)) {
        return SL_CONF_ERROR;
    }
    if (sn->name.len && sn->name.data[0] == '~') {
        if (sn->name.len == 1) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "empty regex in server name \"%.*s\"",
                              SL_STR_ARG(*value));
            return SL_CONF_ERROR;
        }
        return compile_server_regex(cf, sn, cscf);
    }
    sl_strlow(sn->name.data, sn->name.data, sn->name.len);
    if (memchr(sn->name.data, '/', sn->name.len)) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "server name \"%.*s\" has suspicious symbols",
                          SL_STR_ARG(*value));
        return SL_CONF_ERROR;
    }
    sn->dot_prefix = sn->name.len > 1 && sn->name.data[0] == '.';
    sn->wildcard_head = sn->name.len > 2 && sn->name.data[0] == '*' && sn->name.data[1] == '.';
    sn->wildcard_tail = sn->name.len > 2 && sn->name.data[sn->name.len - 1] == '*'
                        && sn->name.data[sn->name.len - 2] == '.';
    if (memchr(sn->name.data, '*', sn->name.len) && !sn->wildcard_head && !sn->wildcard_tail) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid server name or wildcard \"%.*s\"",
                          SL_STR_ARG(*value));
        return SL_CONF_ERROR;
    }
    return SL_CONF_OK;
}

char *sl_http_set_server_name(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_http_core_srv_conf_t *cscf = conf;
    sl_str_t *value = cf->args->elts;

    for (sl_uint_t i = 1; i < cf->args->nelts; i++) {
        if (add_server_name(cf, cscf, &value[i]) != SL_CONF_OK) {
            return SL_CONF_ERROR;
        }
    }
    sl_http_server_name_t *names = cscf->server_names.elts;
    cscf->server_name = names[0].name;
    return SL_CONF_OK;
}

char *sl_http_set_root(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_http_core_loc_conf_t *clcf = conf;
    sl_str_t *value = cf->args->elts;
    int alias = cmd->name.len == 5;

    if (clcf->root.data || clcf->alias.data) {
        if ((alias && clcf->alias.data) || (!alias && clcf->root.data && !clcf->alias.data)) {
            return "is duplicate";
        }
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "\"%s\" directive is duplicate, \"%s\" directive was specified earlier",
                          cf->name, clcf->alias.data ? "alias" : "root");
        return SL_CONF_ERROR;
    }
    if (clcf->named && alias) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "the \"alias\" directive cannot be used inside the named location");
        return SL_CONF_ERROR;
    }
    sl_str_t path = value[1];
    if (path.len && path.data[0] != '$' && sl_conf_full_name(cf->cycle, &path, 0) != SL_OK) {
        return SL_CONF_ERROR;
    }
    /* A root ending in '/' would give "//" before the uri; nginx drops it. */
    if (!alias && path.len > 1 && path.data[path.len - 1] == '/') {
        path.len--;
    }
    if (alias) {
        clcf->alias = path;
        clcf->alias_len = clcf->regex ? SIZE_MAX : clcf->name.len;
    } else {
        clcf->root = path;
    }
    return SL_CONF_OK;
}

/* One line of types{}: "type ext ext ...". */
static char *types_line(sl_conf_t *cf, sl_command_t *dummy, void *conf)
{
    sl_array_t *types = conf;
    sl_str_t *value = cf->args->elts;
    sl_str_t *type = sl_palloc(cf->pool, sizeof(sl_str_t));

    if (type == NULL) {
        return SL_CONF_ERROR;
    }
    *type = value[0];
    for (sl_uint_t i = 1; i < cf->args->nelts; i++) {
        sl_hash_key_t *k = types->elts;
        sl_strlow(value[i].data, value[i].data, value[i].len);
        for (sl_uint_t n = 0; n < types->nelts; n++) {
            if (sl_str_eq(&k[n].key, &value[i])) {
                sl_str_t *old = k[n].value;
                sl_conf_log_error(SL_LOG_WARN, cf, 0,
                                  "duplicate extension \"%.*s\", content type: \"%.*s\", "
                                  "previous content type: \"%.*s\"",
                                  SL_STR_ARG(value[i]), SL_STR_ARG(*type), SL_STR_ARG(*old));
                k[n].value = type;
                goto next;
            }
        }
        sl_hash_key_t *key = sl_array_push(types);
        if (key == NULL) {
            return SL_CONF_ERROR;
        }
        key->key = value[i];
        key->value = type;
    next:;
    }
    return SL_CONF_OK;
}

char *sl_http_types_block(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_http_core_loc_conf_t *clcf = conf;

    if (clcf->types == SL_CONF_UNSET_PTR || clcf->types == NULL) {
        clcf->types = sl_array_create(cf->pool, 64, sizeof(sl_hash_key_t));
        if (clcf->types == NULL) {
            return SL_CONF_ERROR;
        }
    }
    sl_conf_t saved = *cf;
    cf->handler = types_line;
    cf->handler_conf = clcf->types;
    char *rv = sl_conf_parse(cf, NULL);
    *cf = saved;
    return rv;
}

sl_int_t sl_http_merge_types(sl_conf_t *cf, sl_array_t **types, sl_hash_t *hash,
                             sl_array_t *prev_types, sl_hash_t *prev_hash)
{
    static sl_str_t html = sl_string("text/html"), gif = sl_string("image/gif"),
                    jpeg = sl_string("image/jpeg");

    if (*types == SL_CONF_UNSET_PTR && prev_types != SL_CONF_UNSET_PTR && prev_types != NULL) {
        /* inherited: the enclosing level's hash is built before its children merge */
        *types = prev_types;
        if (prev_hash->nelts == 0
            && sl_hash_build(prev_hash, cf->pool, prev_types->elts, prev_types->nelts,
                             SL_HASH_LOWCASE, NULL)
                   != SL_OK) {
            return SL_ERROR;
        }
        *hash = *prev_hash;
        return SL_OK;
    }
    if (*types == SL_CONF_UNSET_PTR) {
        *types = sl_array_create(cf->pool, 3, sizeof(sl_hash_key_t));
        if (*types == NULL) {
            return SL_ERROR;
        }
        sl_hash_key_t *k = sl_array_push_n(*types, 3);
        if (k == NULL) {
            return SL_ERROR;
        }
        k[0] = (sl_hash_key_t){ sl_string("html"), &html };
        k[1] = (sl_hash_key_t){ sl_string("gif"), &gif };
        k[2] = (sl_hash_key_t){ sl_string("jpg"), &jpeg };
    }
    if (hash->nelts) {
        return SL_OK;
    }
    return sl_hash_build(hash, cf->pool, (*types)->elts, (*types)->nelts, SL_HASH_LOWCASE, NULL)
                   == SL_OK
               ? SL_OK
               : SL_ERROR;
}

char *sl_http_set_keepalive(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_http_core_loc_conf_t *clcf = conf;
    sl_str_t *value = cf->args->elts;

    if (clcf->keepalive_timeout != SL_CONF_UNSET_MSEC) {
        return "is duplicate";
    }
    sl_int_t t = sl_parse_time(&value[1], 0);
    if (t == SL_ERROR) {
        return "invalid value";
    }
    clcf->keepalive_timeout = (sl_msec_t) t;
    if (cf->args->nelts == 3) {
        t = sl_parse_time(&value[2], 1);
        if (t == SL_ERROR) {
            return "invalid value";
        }
        clcf->keepalive_header = (time_t) t;
    }
    return SL_CONF_OK;
}

char *sl_http_set_internal(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_http_core_loc_conf_t *clcf = conf;

    if (clcf->internal) {
        return "is duplicate";
    }
    clcf->internal = 1;
    return SL_CONF_OK;
}

/* "=" or "=code" before the uri of error_page. */
static sl_int_t error_page_overwrite(sl_conf_t *cf, const sl_str_t *v)
{
    if (v->len == 1) {
        return 0;
    }
    sl_int_t code = sl_atoi(v->data + 1, v->len - 1);
    if (code == SL_ERROR || code > 999) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid value \"%.*s\"", SL_STR_ARG(*v));
        return SL_ERROR - 1;
    }
    return code;
}

char *sl_http_set_error_page(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_http_core_loc_conf_t *clcf = conf;
    sl_str_t *value = cf->args->elts;
    sl_uint_t n = cf->args->nelts - 1;
    sl_int_t overwrite = -1;

    if (clcf->error_pages == SL_CONF_UNSET_PTR || clcf->error_pages == NULL) {
        clcf->error_pages = sl_array_create(cf->pool, 4, sizeof(sl_http_err_page_t));
        if (clcf->error_pages == NULL) {
            return SL_CONF_ERROR;
        }
    }
    if (value[n - 1].len && value[n - 1].data[0] == '=') {
        overwrite = error_page_overwrite(cf, &value[n - 1]);
        if (overwrite < -1) {
            return SL_CONF_ERROR;
        }
        n--;
    }
    if (n < 2) {
        return "invalid number of arguments";
    }
    sl_http_complex_value_t *target = sl_pcalloc(cf->pool, sizeof(sl_http_complex_value_t));
    if (target == NULL || sl_http_compile_value(cf, &value[cf->args->nelts - 1], target) != SL_OK) {
        return SL_CONF_ERROR;
    }
    for (sl_uint_t i = 1; i < n; i++) {
        sl_int_t code = sl_atoi(value[i].data, value[i].len);
        if (code == SL_ERROR) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid value \"%.*s\"", SL_STR_ARG(value[i]));
            return SL_CONF_ERROR;
        }
        if (code < 300 || code > 599) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "value \"%.*s\" must be between 300 and 599",
                              SL_STR_ARG(value[i]));
            return SL_CONF_ERROR;
        }
        sl_http_err_page_t *err = sl_array_push(clcf->error_pages);
        if (err == NULL) {
            return SL_CONF_ERROR;
        }
        err->status = (sl_uint_t) code;
        err->overwrite = overwrite;
        err->value = value[cf->args->nelts - 1];
        err->target = target;
    }
    return SL_CONF_OK;
}

char *sl_http_set_error_log(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_http_core_loc_conf_t *clcf = conf;
    sl_log_t *log = sl_conf_error_log(cf);

    if (log == NULL) {
        return SL_CONF_ERROR;
    }
    if (clcf->error_log == NULL) {
        clcf->error_log = log;
        return SL_CONF_OK;
    }
    sl_log_t *last = clcf->error_log;
    while (last->next) {
        last = last->next;
    }
    last->next = log;
    return SL_CONF_OK;
}

/* nginx 1.22 ngx_http_core_set_aio (src/http/ngx_http_core_module.c): "off", or "on" and
 * "threads[=pool]" where the build has them.  Neither is in sluice: no file AIO, no thread
 * pool, files are read by the worker (sendfile or the output buffers). */
char *sl_http_set_aio(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_http_core_loc_conf_t *clcf = conf;
    sl_str_t *value = cf->args->elts;

    if (clcf->aio != SL_CONF_UNSET) {
        return "is duplicate";
    }
    if (sl_str_eq_cstr(&value[1], "off")) {
        clcf->aio = 0;
        return SL_CONF_OK;
    }
    if (sl_str_eq_cstr(&value[1], "on")) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "\"aio on\" is unsupported on this platform "
                          "(sluice has no file AIO: use \"aio off\")");
        return SL_CONF_ERROR;
    }
    if (value[1].len >= 7 && memcmp(value[1].data, "threads", 7) == 0
        && (value[1].len == 7 || value[1].data[7] == '=')) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "\"aio threads\" is unsupported on this platform "
                          "(sluice has no thread pool: use \"aio off\")");
        return SL_CONF_ERROR;
    }
    return "invalid value";
}

/* nginx's ngx_cacheline_size on x86_64: bucket sizes are rounded up to it. */
#define HASH_CACHELINE 64
#define HASH_BUCKET_DEFAULT 64

sl_int_t sl_http_check_hash_sizes(sl_conf_t *cf, const char *name, sl_int_t max_size,
                                  sl_int_t default_max, sl_int_t bucket_size)
{
    if (max_size == SL_CONF_UNSET) {
        max_size = default_max;
    }
    if (bucket_size == SL_CONF_UNSET) {
        bucket_size = HASH_BUCKET_DEFAULT;
    }
    bucket_size = (bucket_size + HASH_CACHELINE - 1) & ~(sl_int_t) (HASH_CACHELINE - 1);
    /* ngx_hash_init (src/core/ngx_hash.c): logged without FILE:LINE */
    if (max_size == 0) {
        sl_log_error(SL_LOG_EMERG, cf->log, 0,
                     "could not build %s, you should increase %s_max_size: %ld", name, name,
                     (long) max_size);
        return SL_ERROR;
    }
    if (bucket_size > 65536 - HASH_CACHELINE) {
        sl_log_error(SL_LOG_EMERG, cf->log, 0, "could not build %s, too large %s_bucket_size: %ld",
                     name, name, (long) bucket_size);
        return SL_ERROR;
    }
    return SL_OK;
}

/* nginx's room for one name in a bucket: the value pointer, a 2-byte length and the name,
 * rounded up to a pointer's size; a bucket also ends with a NULL pointer. */
#define HASH_ELT_SIZE(len)                                                                         \
    ((sizeof(void *) + (len) + 2 + sizeof(void *) - 1) & ~(sizeof(void *) - 1))

/* Whether nginx's table of `size` buckets holds the keys without a bucket overflowing. */
static int hash_size_fits(const sl_str_t *keys, sl_uint_t n, sl_uint_t size, size_t room,
                          u_short *test)
{
    memset(test, 0, size * sizeof(u_short));
    for (sl_uint_t i = 0; i < n; i++) {
        sl_uint_t k = sl_hash_key_lc(keys[i].data, keys[i].len) % size;
        size_t len = test[k] + HASH_ELT_SIZE(keys[i].len);
        if (len > room) {
            return 0;
        }
        test[k] = (u_short) len;
    }
    return 1;
}

sl_int_t sl_http_hash_fit(sl_conf_t *cf, const char *name, const sl_str_t *keys, sl_uint_t n,
                          sl_int_t max_size, sl_int_t bucket_size)
{
    if (sl_http_check_hash_sizes(cf, name, max_size, max_size, bucket_size) != SL_OK) {
        return SL_ERROR;
    }
    size_t bucket = ((size_t) bucket_size + HASH_CACHELINE - 1) & ~(size_t) (HASH_CACHELINE - 1);
    for (sl_uint_t i = 0; i < n; i++) {
        if (bucket < HASH_ELT_SIZE(keys[i].len) + sizeof(void *)) {
            sl_log_error(SL_LOG_EMERG, cf->log, 0,
                         "could not build %s, you should increase %s_bucket_size: %ld", name, name,
                         (long) bucket);
            return SL_ERROR;
        }
    }
    /* nginx's search: the smallest number of buckets from an estimate up to max_size */
    size_t room = bucket - sizeof(void *);
    sl_uint_t max = (sl_uint_t) max_size, start = n / (room / (2 * sizeof(void *)));
    start = start ? start : 1;
    if (max > 10000 && n && max / n < 100) {
        start = max - 1000;
    }
    u_short *test = sl_palloc(cf->temp_pool, max * sizeof(u_short));
    if (test == NULL) {
        return SL_ERROR;
    }
    for (sl_uint_t size = start; size <= max; size++) {
        if (hash_size_fits(keys, n, size, room, test)) {
            return SL_OK;
        }
    }
    sl_log_error(SL_LOG_WARN, cf->log, 0,
                 "could not build optimal %s, you should increase either %s_max_size: %ld or "
                 "%s_bucket_size: %ld; ignoring %s_bucket_size",
                 name, name, (long) max_size, name, (long) bucket, name);
    return SL_OK;
}
