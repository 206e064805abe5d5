/*
 * sl_http_cache_manager.c: the two processes the master runs beside the workers when the
 * configuration has caches, as nginx's:
 * - the cache manager removes the files of keys unused past `inactive`, then, while a
 *   cache is at max_size, its keys zone at its watermark or its disk under min_free, the
 *   least recently used ones: at most manager_files per pass and manager_threshold of work,
 *   then it sleeps manager_sleep;
 * - the cache loader walks each cache directory once after start (and reload) and enters
 *   every valid file in the keys zone, loader_files per pass within loader_threshold, with
 *   loader_sleep between passes; it removes files of another format and the names a crash
 *   left beside a file being published; then the zone is no longer "cold" and exits.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sl_cycle.h"
#include "sl_file.h"
#include "sl_http_cache.h"
#include "sl_pool.h"
#include "sl_time.h"

/* The manager's pass over one cache: the milliseconds until the next. */
static sl_msec_t manage(sl_http_cache_t *cache)
{
    sl_msec_t start = sl_current_msec;
    time_t wait = sl_http_cache_expire_inactive(cache);
    sl_msec_t next = (sl_msec_t) wait * 1000;
    sl_uint_t files = 0;

    while (sl_http_cache_over_limits(cache)) {
        time_t w = sl_http_cache_forced_expire(cache);
        if (w > 0) {
            return (sl_msec_t) w * 1000;
        }
        if (++files >= cache->manager_files) {
            return cache->manager_sleep;
        }
        sl_time_update();
        if (sl_current_msec - start >= cache->manager_threshold) {
            return cache->manager_sleep;
        }
    }
    return next ? next : cache->manager_sleep;
}

static sl_msec_t manager_step(sl_cycle_t *cycle, void *data)
{
    sl_http_cache_main_conf_t *cmcf = data;
    sl_http_cache_t **c = cmcf->caches.elts;
    sl_msec_t next = 60000;

    (void) cycle;
    for (sl_uint_t i = 0; i < cmcf->caches.nelts; i++) {
        sl_msec_t n = manage(c[i]);
        next = n < next ? n : next;
    }
    return next ? next : 1;
}

/* --- the loader ------------------------------------------------------------------------ */

#define LOADER_DEPTH (SL_MAX_PATH_LEVEL + 1)

typedef struct {
    sl_http_cache_main_conf_t *cmcf;
    sl_uint_t cache;
    /** the directories being read, from the cache's own down */
    DIR *dirs[LOADER_DEPTH];
    int depth;
    char path[4096];
    size_t len[LOADER_DEPTH];
    sl_log_t *log;
} loader_t;

static loader_t loader;

static int hexval(u_char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The key a file name stands for; 0 when it is no key's name (32 lowercase hex digits). */
static int name_key(const char *name, size_t len, u_char *key)
{
    if (len != SL_HTTP_CACHE_NAME_LEN) {
        return 0;
    }
    for (size_t i = 0; i < SL_HTTP_CACHE_KEY_LEN; i++) {
        int hi = hexval((u_char) name[2 * i]), lo = hexval((u_char) name[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return 0;
        }
        key[i] = (u_char) (hi << 4 | lo);
    }
    return 1;
}

/* One file of the cache directory: entered in the zone, or removed when it is not ours. */
static void load_file(sl_http_cache_t *cache, const char *path, const char *name)
{
    u_char key[SL_HTTP_CACHE_KEY_LEN];
    sl_http_cache_header_t h;
    struct stat st;
    size_t len = strlen(name);

    if (!name_key(name, len, key)) {
        /* "<key>.<pid>.<n>": a name a crash left before its rename */
        if (len > SL_HTTP_CACHE_NAME_LEN && name[SL_HTTP_CACHE_NAME_LEN] == '.'
            && name_key(name, SL_HTTP_CACHE_NAME_LEN, key)) {
            (void) unlink(path);
        }
        return;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd == -1) {
        return;
    }
    ssize_t n = pread(fd, &h, sizeof(h), 0);
    int ok = fstat(fd, &st) == 0 && n == (ssize_t) sizeof(h) && h.magic == SL_HTTP_CACHE_MAGIC
             && h.version == SL_HTTP_CACHE_VERSION && (off_t) h.body_start <= st.st_size;
    sl_close_file(fd);
    if (!ok) {
        sl_log_error(SL_LOG_NOTICE, loader.log, 0,
                     "cache file \"%s\" is not of this version, removed", path);
        (void) unlink(path);
        return;
    }
    (void) sl_http_cache_load_file(cache, key, (time_t) h.valid_sec, (off_t) st.st_blocks * 512,
                                   (off_t) h.body_start);
}

/* Opens the directory path[0..len) at depth d.  0 when it cannot be read. */
static int push_dir(size_t len)
{
    loader.path[len] = '\0';
    DIR *d = opendir(loader.path);
    if (d == NULL) {
        return 0;
    }
    loader.depth++;
    loader.dirs[loader.depth] = d;
    loader.len[loader.depth] = len;
    return 1;
}

static void pop_dir(void)
{
    closedir(loader.dirs[loader.depth]);
    loader.depth--;
}

/* The next entry of the walk: 1 when a file was looked at, 0 when the cache is done. */
static int walk_one(sl_http_cache_t *cache)
{
    while (loader.depth >= 0) {
        struct dirent *e = readdir(loader.dirs[loader.depth]);
        if (e == NULL) {
            pop_dir();
            continue;
        }
        if (e->d_name[0] == '.') {
            continue;
        }
        size_t base = loader.len[loader.depth], nlen = strlen(e->d_name);
        if (base + 1 + nlen + 1 > sizeof(loader.path)) {
            continue;
        }
        loader.path[base] = '/';
        memcpy(loader.path + base + 1, e->d_name, nlen + 1);
        if (e->d_type == DT_DIR && loader.depth < LOADER_DEPTH - 1) {
            push_dir(base + 1 + nlen);
            continue;
        }
        if (e->d_type == DT_REG || e->d_type == DT_UNKNOWN) {
            load_file(cache, loader.path, e->d_name);
            return 1;
        }
    }
    return 0;
}

/* Starts the walk of cache number i: 0 when there is none left. */
static int next_cache(void)
{
    sl_http_cache_t **c = loader.cmcf->caches.elts;

    while (loader.cache < loader.cmcf->caches.nelts) {
        sl_http_cache_t *cache = c[loader.cache];
        if (cache->path->name.len < sizeof(loader.path)) {
            memcpy(loader.path, cache->path->name.data, cache->path->name.len);
            loader.depth = -1;
            if (push_dir(cache->path->name.len)) {
                return 1;
            }
        }
        cache->sh->cold = 0;
        loader.cache++;
    }
    return 0;
}

static sl_msec_t loader_step(sl_cycle_t *cycle, void *data)
{
    sl_msec_t start = sl_current_msec;

    if (loader.cmcf == NULL) {
        loader.cmcf = data;
        loader.log = cycle->log;
        loader.depth = -1;
        if (!next_cache()) {
            return 0;
        }
    }
    sl_http_cache_t **c = loader.cmcf->caches.elts;
    sl_uint_t files = 0;
    for (;;) {
        sl_http_cache_t *cache = c[loader.cache];
        if (!walk_one(cache)) {
            cache->sh->cold = 0;
            loader.cache++;
            if (!next_cache()) {
                return 0;
            }
            continue;
        }
        sl_time_update();
        if (++files >= cache->loader_files || sl_current_msec - start >= cache->loader_threshold) {
            return cache->loader_sleep ? cache->loader_sleep : 1;
        }
    }
}

sl_int_t sl_http_cache_add_processes(sl_conf_t *cf, sl_http_cache_main_conf_t *cmcf)
{
    if (cmcf->caches.nelts == 0) {
        return SL_OK;
    }
    sl_helper_process_t manager = { "cache manager process", manager_step, cmcf, 0, 0 };
    sl_helper_process_t load = { "cache loader process", loader_step, cmcf, 0, 1 };
    if (sl_cycle_add_helper(cf->cycle, &manager) != SL_OK
        || sl_cycle_add_helper(cf->cycle, &load) != SL_OK) {
        return SL_ERROR;
    }
    return SL_OK;
}
