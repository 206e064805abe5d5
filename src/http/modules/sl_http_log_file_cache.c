/*
 * sl_http_log_file_cache.c: open_log_file_cache, as nginx's.  Each directive makes one cache
 * of max entries, kept in the configuration's memory (each worker fills its own copy):
 * an entry remembers a file name, how often it was used and, once it was used min_uses
 * times, its open descriptor.  An entry unused for "inactive" is dropped; a new name when
 * all entries are taken drops the least recently used one (closing its descriptor).  A
 * descriptor older than "valid" is checked against the name (stat of the path and of the
 * descriptor): a file moved or replaced is opened anew.  Without a cache every line opens
 * and closes its file.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "sl_file.h"
#include "sl_http_log_file_cache.h"
#include "sl_pool.h"

/* Longer names (rare for logs) are opened for each line, uncached. */
#define NAME_MAX_CACHED 256

typedef struct {
    /** -1 while the file was used fewer than min_uses times */
    int fd;
    sl_uint_t uses;
    /** sl_cached_time_sec of the last use, for inactive */
    time_t accessed;
    /** when fd was opened or last found valid */
    time_t checked;
    /** LRU order: the cache's clock at the last use */
    sl_uint_t stamp;
    size_t len;
    u_char name[NAME_MAX_CACHED];
} entry_t;

struct sl_http_log_file_cache_s {
    entry_t *entries;
    sl_uint_t max;
    sl_uint_t used;
    time_t inactive;
    sl_uint_t min_uses;
    time_t valid;
    sl_uint_t clock;
    /** every cache of the configuration, closed at exit */
    sl_http_log_file_cache_t *next;
};

/* ---- configuration ---- */

static char *bad_parameter(sl_conf_t *cf, const sl_str_t *v)
{
    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid \"open_log_file_cache\" parameter \"%.*s\"",
                      SL_STR_ARG(*v));
    return SL_CONF_ERROR;
}

/* One "name=value": SL_OK, or SL_DECLINED when the name is none of the four. */
static sl_int_t parse_parameter(const sl_str_t *v, sl_int_t *max, sl_int_t *inactive,
                                sl_int_t *min_uses, sl_int_t *valid)
{
    static const struct {
        const char *name;
        int time;
    } names[] = { { "max=", 0 }, { "inactive=", 1 }, { "min_uses=", 0 }, { "valid=", 1 } };
    sl_int_t *slots[] = { max, inactive, min_uses, valid };

    for (size_t i = 0; i < sl_nelems(names); i++) {
        sl_str_t rest;
        if (!sl_str_skip_prefix(v, names[i].name, &rest) || rest.len == 0) {
            continue;
        }
        *slots[i] = names[i].time ? sl_parse_time(&rest, 1) : sl_atoi(rest.data, rest.len);
        return *slots[i] == SL_ERROR ? SL_ERROR : SL_OK;
    }
    return SL_DECLINED;
}

char *sl_http_log_file_cache_conf(sl_conf_t *cf, sl_http_log_file_cache_t **cache,
                                  sl_http_log_file_cache_t **all)
{
    sl_str_t *value = cf->args->elts;
    sl_int_t max = 0, inactive = 10, min_uses = 1, valid = 60;

    *cache = NULL;
    for (sl_uint_t i = 1; i < cf->args->nelts; i++) {
        if (sl_str_eq_cstr(&value[i], "off") && cf->args->nelts == 2) {
            return SL_CONF_OK;
        }
        if (parse_parameter(&value[i], &max, &inactive, &min_uses, &valid) != SL_OK) {
            return bad_parameter(cf, &value[i]);
        }
    }
    if (max == 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "\"open_log_file_cache\" must have \"max\" parameter");
        return SL_CONF_ERROR;
    }
    sl_http_log_file_cache_t *c = sl_pcalloc(cf->pool, sizeof(sl_http_log_file_cache_t));
    if (c == NULL) {
        return SL_CONF_ERROR;
    }
    c->entries = sl_pcalloc(cf->pool, (size_t) max * sizeof(entry_t));
    if (c->entries == NULL) {
        return SL_CONF_ERROR;
    }
    for (sl_int_t i = 0; i < max; i++) {
        c->entries[i].fd = -1;
    }
    c->max = (sl_uint_t) max;
    c->inactive = (time_t) inactive;
    c->min_uses = (sl_uint_t) min_uses;
    c->valid = (time_t) valid;
    c->next = *all;
    *all = c;
    *cache = c;
    return SL_CONF_OK;
}

/* ---- use ---- */

static void drop(sl_http_log_file_cache_t *c, entry_t *e)
{
    if (e->fd != -1) {
        sl_close_file(e->fd);
        e->fd = -1;
    }
    e->len = 0;
    c->used--;
}

/* Entries unused for "inactive" go, their descriptors closed. */
static void expire(sl_http_log_file_cache_t *c)
{
    for (sl_uint_t i = 0; i < c->max && c->used; i++) {
        entry_t *e = &c->entries[i];
        if (e->len && sl_cached_time_sec - e->accessed > c->inactive) {
            drop(c, e);
        }
    }
}

static entry_t *find(sl_http_log_file_cache_t *c, const u_char *name, size_t len)
{
    for (sl_uint_t i = 0; i < c->max; i++) {
        entry_t *e = &c->entries[i];
        if (e->len == len && memcmp(e->name, name, len) == 0) {
            return e;
        }
    }
    return NULL;
}

/* A free entry, or the least recently used one emptied. */
static entry_t *take(sl_http_log_file_cache_t *c)
{
    entry_t *lru = NULL;

    for (sl_uint_t i = 0; i < c->max; i++) {
        entry_t *e = &c->entries[i];
        if (e->len == 0) {
            return e;
        }
        if (lru == NULL || e->stamp < lru->stamp) {
            lru = e;
        }
    }
    drop(c, lru);
    return lru;
}

/* Whether the open descriptor is still the file the name names (checked every "valid"). */
static int still_valid(sl_http_log_file_cache_t *c, entry_t *e)
{
    struct stat by_name, by_fd;

    if (sl_cached_time_sec - e->checked < c->valid) {
        return 1;
    }
    if (stat((char *) e->name, &by_name) == -1 || fstat(e->fd, &by_fd) == -1
        || by_name.st_ino != by_fd.st_ino || by_name.st_dev != by_fd.st_dev) {
        return 0;
    }
    e->checked = sl_cached_time_sec;
    return 1;
}

static int open_append(const u_char *name)
{
    return open((const char *) name, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

int sl_http_log_file_cache_open(sl_http_log_file_cache_t *c, const u_char *name, size_t len,
                                int *cached)
{
    *cached = 0;
    if (c == NULL || len >= NAME_MAX_CACHED) {
        return open_append(name);
    }
    expire(c);
    entry_t *e = find(c, name, len);
    if (e && e->fd != -1) {
        if (still_valid(c, e)) {
            e->uses++;
            e->accessed = sl_cached_time_sec;
            e->stamp = ++c->clock;
            *cached = 1;
            return e->fd;
        }
        sl_close_file(e->fd);
        e->fd = -1;
    }
    int fd = open_append(name);
    if (fd == -1) {
        return -1;
    }
    if (e == NULL) {
        e = take(c);
        memcpy(e->name, name, len);
        e->name[len] = '\0';
        e->len = len;
        e->uses = 0;
        c->used++;
    }
    e->uses++;
    e->accessed = sl_cached_time_sec;
    e->stamp = ++c->clock;
    if (e->uses >= c->min_uses) {
        e->fd = fd;
        e->checked = sl_cached_time_sec;
        *cached = 1;
    }
    return fd;
}

void sl_http_log_file_cache_close_all(sl_http_log_file_cache_t *all)
{
    for (sl_http_log_file_cache_t *c = all; c; c = c->next) {
        for (sl_uint_t i = 0; i < c->max; i++) {
            if (c->entries[i].fd != -1) {
                sl_close_file(c->entries[i].fd);
                c->entries[i].fd = -1;
            }
        }
    }
}
