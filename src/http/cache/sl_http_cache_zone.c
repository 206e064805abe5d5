/*
 * sl_http_cache_zone.c: a keys zone, the shared index of a cache: one node per key in a hash
 * table of buckets (the key is an MD5, already uniform: its first bytes pick the bucket), and
 * an LRU list of every node, most recently used first.  All of it lives in the zone's slab
 * pool and is changed under the pool's lock, so every process sees one index.
 *
 * A node is freed only when no request holds it (count 0) and it has no file; the files of
 * unused nodes go first when the zone runs out of room, and the manager removes them past
 * inactive or over max_size (sl_http_cache_expire_inactive, sl_http_cache_forced_expire).
 */
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "sl_http_cache.h"
#include "sl_pool.h"
#include "sl_time.h"

/* one bucket per this many bytes of zone: about one node per bucket when full */
#define BYTES_PER_BUCKET 256

/*
 * In the master, after a process died: the entries it was fetching are free to fetch again
 * at once (not after proxy_cache_lock_timeout or _age).  The requests it held (count) are
 * not known per process: those nodes stay until a restart, as nginx's.
 */
static void process_died(sl_shm_t *shm, pid_t pid)
{
    sl_http_cache_t *cache = shm->data;
    sl_queue_t *h = &cache->sh->lru;

    sl_slab_lock(cache->pool);
    for (sl_queue_t *q = sl_queue_head(h); q != sl_queue_sentinel(h); q = sl_queue_next(q)) {
        sl_http_cache_node_t *n = sl_queue_data(q, sl_http_cache_node_t, lru);
        if (n->updating && n->updater == pid) {
            n->updating = 0;
            n->updater = 0;
        }
    }
    sl_slab_unlock(cache->pool);
}

sl_int_t sl_http_cache_zone_init(sl_http_cache_t *cache)
{
    cache->pool = sl_slab_init(cache->shm.addr, cache->shm.size);
    if (cache->pool == NULL) {
        return SL_ERROR;
    }
    sl_http_cache_sh_t *sh = sl_slab_calloc(cache->pool, sizeof(sl_http_cache_sh_t));
    if (sh == NULL) {
        return SL_ERROR;
    }
    sh->nbuckets = sl_max(cache->size / BYTES_PER_BUCKET / 4, (size_t) 64);
    sh->buckets = sl_slab_calloc(cache->pool, sh->nbuckets * sizeof(sl_http_cache_node_t *));
    if (sh->buckets == NULL) {
        return SL_ERROR;
    }
    sl_queue_init(&sh->lru);
    sh->cold = 1;
    sh->watermark = (sl_uint_t) -1;
    cache->sh = sh;
    cache->shm.slab = 1;
    cache->shm.process_died = process_died;
    cache->shm.data = cache;
    return SL_OK;
}

static sl_http_cache_node_t **bucket(sl_http_cache_sh_t *sh, const u_char *key)
{
    uint32_t h;

    memcpy(&h, key, sizeof(h));
    return &sh->buckets[h % sh->nbuckets];
}

static sl_http_cache_node_t *find_locked(sl_http_cache_sh_t *sh, const u_char *key)
{
    for (sl_http_cache_node_t *n = *bucket(sh, key); n; n = n->hnext) {
        if (memcmp(n->key, key, SL_HTTP_CACHE_KEY_LEN) == 0) {
            return n;
        }
    }
    return NULL;
}

static void unlink_locked(sl_http_cache_t *cache, sl_http_cache_node_t *node)
{
    sl_http_cache_node_t **pp = bucket(cache->sh, node->key);

    while (*pp && *pp != node) {
        pp = &(*pp)->hnext;
    }
    if (*pp) {
        *pp = node->hnext;
    }
    sl_queue_remove(&node->lru);
    cache->sh->count--;
    sl_slab_free_locked(cache->pool, node);
}

#define NAME_MAX_LEN 4096

/* The file name of a node's key into name (NUL-terminated; "" when it does not fit). */
static void node_file_name(sl_http_cache_t *cache, const sl_http_cache_node_t *node, char *name)
{
    static const char hex[] = "0123456789abcdef";
    u_char hexkey[SL_HTTP_CACHE_NAME_LEN];
    size_t len = cache->path->name.len;

    name[0] = '\0';
    if (len + SL_HTTP_CACHE_NAME_LEN + 2 * SL_MAX_PATH_LEVEL + 2 > NAME_MAX_LEN) {
        return;
    }
    for (size_t i = 0; i < SL_HTTP_CACHE_KEY_LEN; i++) {
        hexkey[2 * i] = (u_char) hex[node->key[i] >> 4];
        hexkey[2 * i + 1] = (u_char) hex[node->key[i] & 0xf];
    }
    char *p = mempcpy(name, cache->path->name.data, len);
    size_t end = SL_HTTP_CACHE_NAME_LEN;
    for (size_t l = 0; l < SL_MAX_PATH_LEVEL && cache->path->level[l]; l++) {
        *p++ = '/';
        end -= cache->path->level[l];
        p = mempcpy(p, hexkey + end, cache->path->level[l]);
    }
    *p++ = '/';
    p = mempcpy(p, hexkey, SL_HTTP_CACHE_NAME_LEN);
    *p = '\0';
}

/*
 * A node no request holds goes, and its file with it: the name is returned in name (""
 * when it had none) for the caller to unlink once the lock is released, so no file system
 * call runs under the zone's spin lock.  (A file published again for the key meanwhile may
 * go too: the next request finds no file and fetches it, nothing worse.)
 */
static void remove_node_locked(sl_http_cache_t *cache, sl_http_cache_node_t *node, char *name)
{
    name[0] = '\0';
    if (node->exists) {
        node_file_name(cache, node, name);
        cache->sh->size -= node->fs_size;
    }
    unlink_locked(cache, node);
}

static void unlink_file(const char *name)
{
    if (name[0]) {
        (void) unlink(name);
    }
}

/* Frees room: the least recently used unused node goes (its file's name in name).  0 when
 * every node is in use. */
static int evict_one_locked(sl_http_cache_t *cache, char *name)
{
    sl_queue_t *h = &cache->sh->lru;

    for (sl_queue_t *q = sl_queue_last(h); q != sl_queue_sentinel(h); q = sl_queue_prev(q)) {
        sl_http_cache_node_t *n = sl_queue_data(q, sl_http_cache_node_t, lru);
        if (n->count == 0) {
            remove_node_locked(cache, n, name);
            return 1;
        }
    }
    return 0;
}

static sl_http_cache_node_t *new_node_locked(sl_http_cache_t *cache, const u_char *key)
{
    sl_http_cache_node_t *n = sl_slab_alloc_locked(cache->pool, sizeof(sl_http_cache_node_t));

    if (n == NULL) {
        /* the manager keeps the zone below 7/8 of this count from now on, as nginx */
        cache->sh->watermark = cache->sh->count - cache->sh->count / 8;
    }
    /* a full zone forces the oldest unused entries out, as nginx (rare: the manager keeps
     * the zone under its watermark; the file goes under the lock here) */
    char name[NAME_MAX_LEN];
    for (int i = 0; n == NULL && i < 20 && evict_one_locked(cache, name); i++) {
        unlink_file(name);
        n = sl_slab_alloc_locked(cache->pool, sizeof(sl_http_cache_node_t));
    }
    if (n == NULL) {
        return NULL;
    }
    memset(n, 0, sizeof(*n));
    memcpy(n->key, key, SL_HTTP_CACHE_KEY_LEN);
    sl_http_cache_node_t **b = bucket(cache->sh, key);
    n->hnext = *b;
    *b = n;
    sl_queue_insert_head(&cache->sh->lru, &n->lru);
    cache->sh->count++;
    return n;
}

sl_http_cache_node_t *sl_http_cache_acquire(sl_http_cache_t *cache, const u_char *key)
{
    sl_slab_lock(cache->pool);
    sl_http_cache_node_t *n = find_locked(cache->sh, key);
    if (n == NULL) {
        n = new_node_locked(cache, key);
    }
    if (n) {
        n->count++;
        n->uses++;
        n->expire = sl_cached_time_sec + cache->inactive;
        sl_queue_remove(&n->lru);
        sl_queue_insert_head(&cache->sh->lru, &n->lru);
    }
    sl_slab_unlock(cache->pool);
    return n;
}

void sl_http_cache_release(sl_http_cache_t *cache, sl_http_cache_node_t *node)
{
    sl_slab_lock(cache->pool);
    if (node->count) {
        node->count--;
    }
    /* the node stays (its uses count for proxy_cache_min_uses) until inactive passes */
    node->expire = sl_cached_time_sec + cache->inactive;
    sl_slab_unlock(cache->pool);
}

void sl_http_cache_node_published(sl_http_cache_t *cache, sl_http_cache_node_t *node,
                                  time_t valid_sec, off_t fs_bytes, off_t body_start)
{
    off_t blocks = (fs_bytes + 511) / 512;

    sl_slab_lock(cache->pool);
    if (node->exists) {
        cache->sh->size -= node->fs_size;
    }
    node->exists = 1;
    node->error = 0;
    node->valid_sec = valid_sec;
    node->fs_size = blocks;
    node->body_start = body_start;
    cache->sh->size += blocks;
    sl_slab_unlock(cache->pool);
}

void sl_http_cache_node_gone(sl_http_cache_t *cache, sl_http_cache_node_t *node)
{
    sl_slab_lock(cache->pool);
    if (node->exists) {
        cache->sh->size -= node->fs_size;
    }
    node->exists = 0;
    node->fs_size = 0;
    node->valid_sec = 0;
    sl_slab_unlock(cache->pool);
}

sl_int_t sl_http_cache_load_file(sl_http_cache_t *cache, const u_char *key, time_t valid_sec,
                                 off_t fs_bytes, off_t body_start)
{
    sl_int_t rc = SL_OK;

    sl_slab_lock(cache->pool);
    sl_http_cache_node_t *n = find_locked(cache->sh, key);
    if (n == NULL) {
        n = new_node_locked(cache, key);
        if (n == NULL) {
            rc = SL_ERROR;
        } else {
            n->exists = 1;
            n->uses = 1;
            n->valid_sec = valid_sec;
            n->fs_size = (fs_bytes + 511) / 512;
            n->body_start = body_start;
            n->expire = sl_cached_time_sec + cache->inactive;
            cache->sh->size += n->fs_size;
            /* a loaded file has not been used: it goes to the LRU's end */
            sl_queue_remove(&n->lru);
            sl_queue_insert_tail(&cache->sh->lru, &n->lru);
        }
    }
    sl_slab_unlock(cache->pool);
    return rc;
}

/* Free space on the cache's disk (bytes), -1 when unknown. */
static off_t disk_free(sl_http_cache_t *cache)
{
    struct statvfs fs;

    if (statvfs((char *) cache->path->name.data, &fs) == -1) {
        return -1;
    }
    return (off_t) fs.f_bavail * (off_t) fs.f_frsize;
}

int sl_http_cache_over_limits(sl_http_cache_t *cache)
{
    if (cache->sh->size * 512 >= cache->max_size || cache->sh->count >= cache->sh->watermark) {
        return 1;
    }
    if (cache->min_free) {
        off_t free_bytes = disk_free(cache);
        return free_bytes != -1 && free_bytes < cache->min_free;
    }
    return 0;
}

time_t sl_http_cache_expire_inactive(sl_http_cache_t *cache)
{
    sl_queue_t *h = &cache->sh->lru;
    char name[NAME_MAX_LEN];

    /* one node at a time, from the LRU's end, the file removed outside the lock */
    for (;;) {
        time_t wait = 10;
        int removed = 0;
        sl_slab_lock(cache->pool);
        for (sl_queue_t *q = sl_queue_last(h); q != sl_queue_sentinel(h); q = sl_queue_prev(q)) {
            sl_http_cache_node_t *n = sl_queue_data(q, sl_http_cache_node_t, lru);
            if (n->expire > sl_cached_time_sec) {
                wait = n->expire - sl_cached_time_sec;
                break;
            }
            if (n->count == 0) {
                remove_node_locked(cache, n, name);
                removed = 1;
                break;
            }
        }
        sl_slab_unlock(cache->pool);
        if (!removed) {
            return wait;
        }
        unlink_file(name);
    }
}

time_t sl_http_cache_forced_expire(sl_http_cache_t *cache)
{
    char name[NAME_MAX_LEN];

    sl_slab_lock(cache->pool);
    int removed = evict_one_locked(cache, name);
    int empty = sl_queue_empty(&cache->sh->lru);
    sl_slab_unlock(cache->pool);
    if (removed) {
        unlink_file(name);
    }
    /* nothing removable: every node is in use (1 s), or there are none (10 s), as nginx */
    return removed ? 0 : empty ? 10 : 1;
}
