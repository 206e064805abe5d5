/*
 * sl_http_limit_zone.h: the shared-memory table of keys behind limit_req and limit_conn.
 *
 * A zone is "NAME:SIZE" of a *_zone directive: an anonymous shared mapping made by the
 * master before it forks, holding a slab pool, a hash table of nodes (one per key value)
 * and a queue of the nodes from the most to the least recently used, so the oldest can be
 * dropped when the pool is full, as nginx does.  Every worker sees the same nodes; a
 * caller reads or changes them only under the zone's lock.  A reload keeps a zone whose
 * module, name and size are unchanged, nodes and all, as nginx does: the new workers go on
 * with the buckets and counts the old ones left.
 */
#ifndef SL_HTTP_LIMIT_ZONE_H
#define SL_HTTP_LIMIT_ZONE_H

#include "sl_http.h"
#include "sl_queue.h"
#include "sl_shm.h"
#include "sl_slab.h"

/* One key's state, in the zone. */
typedef struct sl_http_limit_node_s sl_http_limit_node_t;
struct sl_http_limit_node_s {
    /** link in the zone's queue, most recently used first */
    sl_queue_t lru;
    /** the next node of the same hash bucket */
    sl_http_limit_node_t *next;
    uint32_t hash;
    uint16_t len;
    /** limit_req: requests holding the node between lookup and accounting;
     *  limit_conn: connections counted now */
    uint32_t count;
    /** limit_req: the bucket's level, in thousandths of a request */
    int64_t excess;
    /** limit_req: when the level was last brought up to date (sl_current_msec) */
    sl_msec_t last;
    u_char key[];
};

typedef struct sl_http_limit_zone_s sl_http_limit_zone_t;
struct sl_http_limit_zone_s {
    sl_str_t name;
    /** 0 while only referred to (limit_req zone=NAME before limit_req_zone) */
    size_t size;
    /** the module's settings for the zone (set by its *_zone directive), NULL until then */
    void *data;
    /** the key as written in the *_zone directive */
    sl_str_t key;
    /** "limit_req" or "limit_conn_zone", as nginx's messages name them */
    const char *module;
    /** the mapping, shared with the zone of the same module, name and size of the
     * configuration before a reload */
    struct sl_http_limit_mapping_s *mapping;
    sl_slab_pool_t *pool;
    /** the table in the zone */
    struct sl_http_limit_table_s *table;
    /** " in limit_req zone \"NAME\"" or " in limit_conn_zone \"NAME\"": the tail of
     * nginx's allocation failure lines */
    sl_str_t log_ctx;
};

/*
 * The zone named name in zones (an array of sl_http_limit_zone_t *), created when absent.
 * size 0 refers to a zone without sizing it.  NULL on allocation failure, or after logging
 * "the size N of shared memory zone \"NAME\" conflicts with already declared size M".
 */
sl_http_limit_zone_t *sl_http_limit_zone_add(sl_conf_t *cf, sl_array_t *zones, const sl_str_t *name,
                                             size_t size, const char *module);

/* "zone=NAME:SIZE" into name (possibly empty: the caller then reports the missing zone)
 * and size, logging nginx's errors ("invalid zone size", "zone \"x\" is too small").
 * SL_OK or SL_ERROR. */
sl_int_t sl_http_limit_zone_parse(sl_conf_t *cf, const sl_str_t *value, sl_str_t *name,
                                  size_t *size);

/* Maps every zone of zones (the end of the http block), taking over the mapping of the
 * running configuration's zone of the same module, name and size.  SL_ERROR after logging
 * "zero size shared memory zone \"NAME\"" for a zone never sized, nginx's "limit_req
 * \"NAME\" uses the \"$a\" key while previously it used the \"$b\" key" for a kept zone
 * whose key changed, or a mapping failure. */
sl_int_t sl_http_limit_zones_map(sl_conf_t *cf, sl_array_t *zones);

/* Under the zone's lock (sl_slab_lock(zone->pool)): */
/* The node of key, or NULL. */
sl_http_limit_node_t *sl_http_limit_lookup(sl_http_limit_zone_t *zone, uint32_t hash,
                                           const sl_str_t *key);
/* A new node for key (fields zeroed), inserted at the head of the queue; NULL when the
 * pool is full (the caller expires nodes and retries, or logs). */
sl_http_limit_node_t *sl_http_limit_insert(sl_http_limit_zone_t *zone, uint32_t hash,
                                           const sl_str_t *key);
/* Unlinks and frees a node. */
void sl_http_limit_delete(sl_http_limit_zone_t *zone, sl_http_limit_node_t *node);
/* Moves a node to the head of the queue (it was just used). */
void sl_http_limit_touch(sl_http_limit_zone_t *zone, sl_http_limit_node_t *node);
/* The least recently used node, or NULL when the zone is empty. */
sl_http_limit_node_t *sl_http_limit_oldest(sl_http_limit_zone_t *zone);

#endif /* SL_HTTP_LIMIT_ZONE_H */
