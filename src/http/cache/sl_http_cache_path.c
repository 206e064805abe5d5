/*
 * sl_http_cache_path.c: proxy_cache_path, and the cache module that holds every cache of a
 * configuration.  Its parameters are parsed and checked as nginx 1.22 does, with its words;
 * the directory is registered with the cycle's paths (made by the master, as the temp
 * paths), the keys zone is mapped once the http block is read, before any worker forks.
 */
#include "sl_http.h"
#include "sl_http_cache.h"
#include "sl_pool.h"

static void *create_main_conf(sl_conf_t *cf);
static char *init_main_conf(sl_conf_t *cf, void *conf);

static sl_http_module_t cache_module_ctx = {
    NULL, NULL, create_main_conf, init_main_conf, NULL, NULL, NULL, NULL,
};

sl_module_t sl_http_cache_module = {
    "http_cache", 0, 0, SL_HTTP_MODULE, &cache_module_ctx, NULL, NULL, NULL, NULL,
};

static void *create_main_conf(sl_conf_t *cf)
{
    sl_http_cache_main_conf_t *cmcf = sl_pcalloc(cf->pool, sizeof(sl_http_cache_main_conf_t));

    if (cmcf == NULL
        || sl_array_init(&cmcf->caches, cf->pool, 2, sizeof(sl_http_cache_t *)) != SL_OK) {
        return NULL;
    }
    return cmcf;
}

sl_http_cache_t *sl_http_cache_find(sl_http_cache_main_conf_t *cmcf, const sl_str_t *name)
{
    sl_http_cache_t **c = cmcf->caches.elts;

    for (sl_uint_t i = 0; i < cmcf->caches.nelts; i++) {
        if (sl_str_eq(&c[i]->name, name)) {
            return c[i];
        }
    }
    return NULL;
}

sl_http_cache_main_conf_t *sl_http_cache_cycle_conf(sl_cycle_t *cycle)
{
    sl_http_conf_ctx_t *ctx = sl_http_cycle_ctx(cycle);

    return ctx ? ctx->main_conf[sl_http_cache_module.ctx_index] : NULL;
}

static void unmap_zone(void *data)
{
    sl_http_cache_t *cache = data;

    sl_shm_free(&cache->shm);
}

/* Every keys zone is mapped now, in the master: the workers inherit the mappings. */
static char *init_main_conf(sl_conf_t *cf, void *conf)
{
    sl_http_cache_main_conf_t *cmcf = conf;
    sl_http_cache_t **c = cmcf->caches.elts;

    for (sl_uint_t i = 0; i < cmcf->caches.nelts; i++) {
        sl_pool_cleanup_t *cln = sl_pool_cleanup_add(cf->cycle->pool, 0);
        if (cln == NULL) {
            return SL_CONF_ERROR;
        }
        c[i]->shm.size = c[i]->size;
        c[i]->shm.name = c[i]->name;
        c[i]->shm.log = cf->log;
        if (sl_shm_alloc(&c[i]->shm) != SL_OK) {
            return SL_CONF_ERROR;
        }
        cln->handler = unmap_zone;
        cln->data = c[i];
        if (sl_http_cache_zone_init(c[i]) != SL_OK) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "could not initialize keys zone \"%.*s\"",
                              SL_STR_ARG(c[i]->name));
            return SL_CONF_ERROR;
        }
    }
    return sl_http_cache_add_processes(cf, cmcf) == SL_OK ? SL_CONF_OK : SL_CONF_ERROR;
}

/* "levels=1:2": one to three levels of one or two characters each, as nginx. */
static sl_int_t parse_levels(const sl_str_t *v, sl_path_t *path)
{
    const u_char *p = v->data + 7, *last = v->data + v->len;

    for (sl_uint_t n = 0; n < SL_MAX_PATH_LEVEL && p < last; n++) {
        if (*p != '1' && *p != '2') {
            return SL_ERROR;
        }
        path->level[n] = (size_t) (*p++ - '0');
        if (p == last) {
            return SL_OK;
        }
        if (*p++ != ':' || n == SL_MAX_PATH_LEVEL - 1 || p == last) {
            return SL_ERROR;
        }
    }
    return SL_ERROR;
}

/* "keys_zone=NAME:SIZE".  SL_CONF_OK or an error (logged). */
static char *parse_keys_zone(sl_conf_t *cf, const sl_str_t *v, sl_http_cache_t *cache)
{
    sl_str_t name = { v->len - 10, v->data + 10 };
    u_char *colon = memchr(name.data, ':', name.len);

    if (colon == NULL) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid keys zone size \"%.*s\"", SL_STR_ARG(*v));
        return SL_CONF_ERROR;
    }
    sl_str_t s = { (size_t) (name.data + name.len - colon - 1), colon + 1 };
    name.len = (size_t) (colon - name.data);
    ssize_t size = sl_parse_size(&s);
    if (size == SL_ERROR) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid keys zone size \"%.*s\"", SL_STR_ARG(*v));
        return SL_CONF_ERROR;
    }
    if ((size_t) size < 2 * sl_pagesize()) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "keys zone \"%.*s\" is too small", SL_STR_ARG(*v));
        return SL_CONF_ERROR;
    }
    cache->name = name;
    cache->size = (size_t) size;
    return SL_CONF_OK;
}

/* "NAME=VALUE" where value is a time (ms unless is_sec), an offset or a count. */
static int param_is(const sl_str_t *v, const char *name, sl_str_t *value)
{
    size_t n = strlen(name);

    if (v->len < n || memcmp(v->data, name, n) != 0) {
        return 0;
    }
    value->data = v->data + n;
    value->len = v->len - n;
    return 1;
}

static char *invalid(sl_conf_t *cf, const char *what, const sl_str_t *v)
{
    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid %s value \"%.*s\"", what, SL_STR_ARG(*v));
    return SL_CONF_ERROR;
}

/* The parameters that take a number, an offset or a time: SL_DECLINED for another one. */
static char *parse_number_param(sl_conf_t *cf, const sl_str_t *v, sl_http_cache_t *cache,
                                int *matched)
{
    sl_str_t s;
    sl_int_t n;
    off_t off;

    *matched = 1;
    if (param_is(v, "inactive=", &s)) {
        n = sl_parse_time(&s, 1);
        return n == SL_ERROR ? invalid(cf, "inactive", v) : (cache->inactive = n, SL_CONF_OK);
    }
    if (param_is(v, "max_size=", &s) || param_is(v, "min_free=", &s)) {
        off = sl_parse_offset(&s);
        int max = v->data[1] == 'a';
        if (off == SL_ERROR) {
            return invalid(cf, max ? "max_size" : "min_free", v);
        }
        *(max ? &cache->max_size : &cache->min_free) = off;
        return SL_CONF_OK;
    }
    static const char *const counts[] = { "loader_files=", "manager_files=" };
    static const char *const times[] = { "loader_sleep=", "loader_threshold=", "manager_sleep=",
                                         "manager_threshold=" };
    for (size_t i = 0; i < sl_nelems(counts); i++) {
        if (param_is(v, counts[i], &s)) {
            n = sl_atoi(s.data, s.len);
            sl_str_t what = { strlen(counts[i]) - 1, (u_char *) counts[i] };
            if (n == SL_ERROR) {
                sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid %.*s value \"%.*s\"",
                                  SL_STR_ARG(what), SL_STR_ARG(*v));
                return SL_CONF_ERROR;
            }
            *(i == 0 ? &cache->loader_files : &cache->manager_files) = (sl_uint_t) n;
            return SL_CONF_OK;
        }
    }
    sl_msec_t *fields[] = { &cache->loader_sleep, &cache->loader_threshold, &cache->manager_sleep,
                            &cache->manager_threshold };
    for (size_t i = 0; i < sl_nelems(times); i++) {
        if (param_is(v, times[i], &s)) {
            n = sl_parse_time(&s, 0);
            sl_str_t what = { strlen(times[i]) - 1, (u_char *) times[i] };
            if (n == SL_ERROR) {
                sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid %.*s value \"%.*s\"",
                                  SL_STR_ARG(what), SL_STR_ARG(*v));
                return SL_CONF_ERROR;
            }
            *fields[i] = (sl_msec_t) n;
            return SL_CONF_OK;
        }
    }
    *matched = 0;
    return SL_CONF_OK;
}

static sl_http_cache_t *new_cache(sl_conf_t *cf)
{
    sl_http_cache_t *cache = sl_pcalloc(cf->pool, sizeof(sl_http_cache_t));

    if (cache == NULL || (cache->path = sl_pcalloc(cf->pool, sizeof(sl_path_t))) == NULL) {
        return NULL;
    }
    cache->use_temp_path = 1;
    cache->inactive = 600;
    cache->max_size = SL_MAX_OFF_T_VALUE;
    cache->loader_files = 100;
    cache->loader_sleep = 50;
    cache->loader_threshold = 200;
    cache->manager_files = 100;
    cache->manager_sleep = 50;
    cache->manager_threshold = 200;
    return cache;
}

/* One parameter after the path.  SL_CONF_OK or SL_CONF_ERROR (logged). */
static char *parse_param(sl_conf_t *cf, const sl_str_t *v, sl_http_cache_t *cache)
{
    int matched;
    sl_str_t s;

    if (param_is(v, "levels=", &s)) {
        if (parse_levels(v, cache->path) != SL_OK) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid \"levels\" \"%.*s\"", SL_STR_ARG(*v));
            return SL_CONF_ERROR;
        }
        return SL_CONF_OK;
    }
    if (param_is(v, "use_temp_path=", &s)) {
        if (!sl_str_eq_cstr(&s, "on") && !sl_str_eq_cstr(&s, "off")) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                              "invalid use_temp_path value \"%.*s\", it must be \"on\" or \"off\"",
                              SL_STR_ARG(*v));
            return SL_CONF_ERROR;
        }
        cache->use_temp_path = sl_str_eq_cstr(&s, "on");
        return SL_CONF_OK;
    }
    if (param_is(v, "keys_zone=", &s)) {
        return parse_keys_zone(cf, v, cache);
    }
    char *rv = parse_number_param(cf, v, cache, &matched);
    if (matched) {
        return rv;
    }
    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid parameter \"%.*s\"", SL_STR_ARG(*v));
    return SL_CONF_ERROR;
}

/* The zone's name is the cache's: two caches cannot share one. */
static char *add_cache(sl_conf_t *cf, sl_http_cache_t *cache)
{
    sl_http_cache_main_conf_t *cmcf = sl_http_conf_get_module_main_conf(cf, sl_http_cache_module);

    if (sl_http_cache_find(cmcf, &cache->name)) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "duplicate zone \"%.*s\"", SL_STR_ARG(cache->name));
        return SL_CONF_ERROR;
    }
    sl_http_cache_t **slot = sl_array_push(&cmcf->caches);
    if (slot == NULL) {
        return SL_CONF_ERROR;
    }
    *slot = cache;
    return SL_CONF_OK;
}

char *sl_http_cache_path_set(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_str_t *value = cf->args->elts;
    sl_http_cache_t *cache = new_cache(cf);

    (void) conf;
    if (cache == NULL) {
        return SL_CONF_ERROR;
    }
    sl_path_t *path = cache->path;
    path->name = value[1];
    if (path->name.len > 1 && path->name.data[path->name.len - 1] == '/') {
        path->name.len--;
    }
    if (sl_conf_full_name(cf->cycle, &path->name, 0) != SL_OK) {
        return SL_CONF_ERROR;
    }
    path->conf_file = (const char *) cf->conf_file->file.name.data;
    path->line = cf->conf_file->line;
    for (sl_uint_t i = 2; i < cf->args->nelts; i++) {
        if (parse_param(cf, &value[i], cache) != SL_CONF_OK) {
            return SL_CONF_ERROR;
        }
    }
    if (cache->name.len == 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "\"%.*s\" must have \"keys_zone\" parameter",
                          SL_STR_ARG(cmd->name));
        return SL_CONF_ERROR;
    }
    if (sl_add_path(cf, &cache->path) != SL_OK) {
        return SL_CONF_ERROR;
    }
    return add_cache(cf, cache);
}
