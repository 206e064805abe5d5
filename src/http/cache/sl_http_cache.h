/*
 * sl_http_cache.h: the proxy cache's parts that know no upstream: a cache (proxy_cache_path:
 * a directory with hashed levels and a keys zone in shared memory), the zone's nodes (one per
 * key: validity, uses, the file's size, the lock of the request refreshing it), the cache
 * file's format (ours, versioned), and the validity a response's headers give.
 *
 * The keys zone is mapped by the master before it forks, so every worker (and the cache
 * manager and loader) sees the same nodes at the same address; every change to a node or to
 * the zone's lists is made under the zone's slab lock.
 */
#ifndef SL_HTTP_CACHE_H
#define SL_HTTP_CACHE_H

#include "sl_conf.h"
#include "sl_path.h"
#include "sl_queue.h"
#include "sl_shm.h"
#include "sl_slab.h"
#include "sl_str.h"

#define SL_HTTP_CACHE_KEY_LEN 16
/* the file name: the MD5 of the key in hex */
#define SL_HTTP_CACHE_NAME_LEN (2 * SL_HTTP_CACHE_KEY_LEN)

/* One key of a keys zone, in shared memory. */
typedef struct sl_http_cache_node_s {
    struct sl_http_cache_node_s *hnext;
    /** the zone's LRU: the head is the most recently used */
    sl_queue_t lru;
    u_char key[SL_HTTP_CACHE_KEY_LEN];
    /** requests that hold the node (it is not freed while any does) */
    uint32_t count;
    uint32_t uses;
    /** a published file holds this key's response */
    unsigned exists : 1;
    /** a request is fetching the response (proxy_cache_lock, "updating") */
    unsigned updating : 1;
    /** the file is being removed */
    unsigned deleting : 1;
    /** the intercepted error the key answers with (no file), 0 for none */
    uint16_t error;
    /** the response is fresh until then (seconds) */
    time_t valid_sec;
    /** inactive: the node goes once unused past this */
    time_t expire;
    /** when the updater took the lock (proxy_cache_lock_age), and its process */
    sl_msec_t lock_time;
    pid_t updater;
    /** the file's size on disk (blocks of 512 bytes, as st_blocks) */
    off_t fs_size;
    off_t body_start;
} sl_http_cache_node_t;

/* The zone's header, at the start of its slab pool's first allocation. */
typedef struct {
    sl_uint_t nbuckets;
    sl_http_cache_node_t **buckets;
    sl_queue_t lru;
    /** disk size of the published files (blocks of 512 bytes) */
    off_t size;
    sl_uint_t count;
    /** the zone filled up at this many nodes: the manager keeps it below */
    sl_uint_t watermark;
    /** the loader has not walked the directory yet: a file may exist without a node */
    unsigned cold : 1;
    unsigned loading : 1;
} sl_http_cache_sh_t;

/* One proxy_cache_path. */
typedef struct {
    /** the keys zone's name and size */
    sl_str_t name;
    size_t size;
    sl_path_t *path;
    /** use_temp_path=on: files are written in the location's proxy_temp_path */
    sl_int_t use_temp_path;
    time_t inactive;
    /** bytes; 0 for no limit */
    off_t max_size;
    off_t min_free;
    sl_uint_t manager_files;
    sl_msec_t manager_sleep;
    sl_msec_t manager_threshold;
    sl_uint_t loader_files;
    sl_msec_t loader_sleep;
    sl_msec_t loader_threshold;
    sl_shm_t shm;
    sl_slab_pool_t *pool;
    sl_http_cache_sh_t *sh;
} sl_http_cache_t;

/* The cache module's main conf: every proxy_cache_path (sl_http_cache_t *). */
typedef struct {
    sl_array_t caches;
} sl_http_cache_main_conf_t;

extern sl_module_t sl_http_cache_module;

/* proxy_cache_path (sl_http_cache_path.c). */
char *sl_http_cache_path_set(sl_conf_t *cf, sl_command_t *cmd, void *conf);
/* The cache whose keys zone is name among a configuration's, NULL when none. */
sl_http_cache_t *sl_http_cache_find(sl_http_cache_main_conf_t *cmcf, const sl_str_t *name);
/* A cycle's caches (for the manager and loader), NULL without an http block. */
sl_http_cache_main_conf_t *sl_http_cache_cycle_conf(sl_cycle_t *cycle);

/*
 * The keys zone (sl_http_cache_zone.c).  Every function but init takes the zone's lock.
 * sl_http_cache_acquire: the node of key, made if missing; its count and uses are raised
 * and its LRU place and inactive deadline renewed; NULL when the zone is full even after
 * dropping unused nodes (logged by the caller).  sl_http_cache_release: the count goes down.
 */
sl_int_t sl_http_cache_zone_init(sl_http_cache_t *cache);
sl_http_cache_node_t *sl_http_cache_acquire(sl_http_cache_t *cache, const u_char *key);
void sl_http_cache_release(sl_http_cache_t *cache, sl_http_cache_node_t *node);
/* Records a published file for key (the loader; a writer's publish): size on disk in bytes. */
void sl_http_cache_node_published(sl_http_cache_t *cache, sl_http_cache_node_t *node,
                                  time_t valid_sec, off_t fs_bytes, off_t body_start);
/* Forgets a node's file (it was found invalid, or removed). */
void sl_http_cache_node_gone(sl_http_cache_t *cache, sl_http_cache_node_t *node);
/*
 * The manager's work (nginx's).  sl_http_cache_expire_inactive: removes the files of the
 * unused nodes past inactive; the seconds until the next one is due (10 when none is).
 * sl_http_cache_over_limits: the cache is at max_size, its zone at its watermark, or its
 * disk under min_free.  sl_http_cache_forced_expire: removes the least recently used unused
 * node; 0, or the seconds to wait when none could be removed.
 */
time_t sl_http_cache_expire_inactive(sl_http_cache_t *cache);
int sl_http_cache_over_limits(sl_http_cache_t *cache);
time_t sl_http_cache_forced_expire(sl_http_cache_t *cache);
/* The cache manager and loader processes, asked of the master (sl_http_cache_manager.c). */
sl_int_t sl_http_cache_add_processes(sl_conf_t *cf, sl_http_cache_main_conf_t *cmcf);
/* The loader's per-file step: a node for the file named name (32 hex digits) with its
 * header's validity, unless the zone has it already.  SL_OK or SL_ERROR (zone full). */
sl_int_t sl_http_cache_load_file(sl_http_cache_t *cache, const u_char *key, time_t valid_sec,
                                 off_t fs_bytes, off_t body_start);

/*
 * The file (sl_http_cache_file.c).  Its layout, all integers little-endian as the host
 * writes them:
 *     sl_http_cache_header_t
 *     key (key_len bytes), etag (etag_len), vary (vary_len), variant (vary_len ? 16 : 0)
 *     the response header as HTTP/1.x text, ending with an empty line
 *     the body, from body_start
 * A file with another magic or version, or a header that does not hold together, is
 * refused (and removed by whoever found it).
 */
#define SL_HTTP_CACHE_MAGIC 0x31435453u /* "STC1" */
#define SL_HTTP_CACHE_VERSION 2 /* 2: the variant hash holds the names and normalized values */

typedef struct {
    uint32_t magic;
    uint32_t version;
    int64_t valid_sec;
    int64_t updating_sec;
    int64_t error_sec;
    int64_t last_modified;
    int64_t date;
    uint16_t key_len;
    uint16_t etag_len;
    uint16_t vary_len;
    uint16_t status;
    uint32_t header_start;
    uint32_t body_start;
    u_char variant[SL_HTTP_CACHE_KEY_LEN];
} sl_http_cache_header_t;

/* What a file's header says, pointing into the bytes it was read from. */
typedef struct {
    sl_http_cache_header_t h;
    sl_str_t key;
    sl_str_t etag;
    sl_str_t vary;
    /** the response header text */
    sl_str_t response;
} sl_http_cache_meta_t;

/* MD5 of text into key (OpenSSL's EVP).  SL_OK or SL_ERROR. */
sl_int_t sl_http_cache_md5(const sl_str_t *text, u_char *key);
/* The file of key under cache's path: "path/c/29/b7f5...029c" (levels as configured),
 * NUL-terminated, in pool memory.  NULL when memory runs out. */
u_char *sl_http_cache_file_name(sl_pool_t *pool, sl_http_cache_t *cache, const u_char *key);
/* The header of a new file: meta's fields and text, laid out in pool memory as the file
 * starts; its length is meta->h.body_start.  NULL when memory runs out or a field is too
 * long. */
u_char *sl_http_cache_header_build(sl_pool_t *pool, sl_http_cache_meta_t *meta);
/* Reads the header from the bytes [p, p + n) of a file's start: SL_OK, SL_AGAIN (more bytes
 * needed: meta->h.body_start says how many), SL_DECLINED (not a file of ours, or broken). */
sl_int_t sl_http_cache_header_parse(const u_char *p, size_t n, sl_http_cache_meta_t *meta);
/*
 * Gives the anonymous file fd (its header written) the name path atomically: linked at a
 * unique name beside it and renamed over it; missing level directories are made.  Falls back
 * to a copy when fd cannot be linked there (another filesystem).  0 or an errno.
 */
int sl_http_cache_publish(int fd, off_t size, const char *path, sl_pool_t *pool);

/*
 * Validity (sl_http_cache_valid.c): how long a response stays fresh, as nginx decides:
 * X-Accel-Expires, then Cache-Control, then Expires (each unless ignored), then the
 * proxy_cache_valid time for its status.
 */
typedef struct {
    sl_uint_t status; /* 0: any */
    time_t valid;
} sl_http_cache_valid_t;

/* The proxy_cache_valid time for status (0 for none). */
time_t sl_http_cache_valid_for(const sl_array_t *valid, sl_uint_t status);

/* What a Cache-Control header says to a shared cache; -1 where a field is absent. */
typedef struct {
    /** no-cache, no-store or private */
    unsigned no_store : 1;
    unsigned s_maxage : 1;
    /** s-maxage, else max-age */
    sl_int_t max_age;
    sl_int_t stale_while_revalidate;
    sl_int_t stale_if_error;
} sl_http_cache_control_t;

/* Adds one Cache-Control header's value to cc (several headers add up). */
void sl_http_cache_control_parse(const sl_str_t *v, sl_http_cache_control_t *cc);
/* X-Accel-Expires: "N" seconds from now, or "@T" an absolute time: the time it makes valid
 * until (now + N, or T), 0 for "0" (not cached), -1 when it is neither. */
time_t sl_http_cache_x_accel_expires(const sl_str_t *v, time_t now);

#endif /* SL_HTTP_CACHE_H */
