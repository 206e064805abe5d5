/*
 * sl_http_limit_zone.c: the shared-memory table of keys behind limit_req and limit_conn:
 * zones declared by name, mapped at the end of the http block, and a hash table with a
 * most-recently-used queue inside each.  The mapping is made before the workers fork, so
 * every pointer in it is valid in every worker.  A reload builds new zones.
 */
#include "sl_http_limit_zone.h"
#include "sl_pool.h"

#include <stdio.h>

struct sl_http_limit_table_s {
    sl_queue_t lru;
    sl_uint_t mask;
    sl_http_limit_node_t *buckets[];
};

sl_http_limit_zone_t *sl_http_limit_zone_add(sl_conf_t *cf, sl_array_t *zones, const sl_str_t *name,
                                             size_t size, const char *module)
{
    sl_http_limit_zone_t **z = zones->elts;
    sl_http_limit_zone_t *zone = NULL;

    for (sl_uint_t i = 0; i < zones->nelts; i++) {
        if (sl_str_eq(&z[i]->name, name)) {
            zone = z[i];
            break;
        }
    }
    if (zone == NULL) {
        sl_http_limit_zone_t **slot = sl_array_push(zones);
        zone = sl_pcalloc(cf->pool, sizeof(sl_http_limit_zone_t));
        if (slot == NULL || zone == NULL) {
            return NULL;
        }
        zone->name = *name;
        zone->log_ctx.data = sl_pnalloc(cf->pool, name->len + 32);
        if (zone->log_ctx.data == NULL) {
            return NULL;
        }
        zone->log_ctx.len = (size_t) snprintf((char *) zone->log_ctx.data, name->len + 32,
                                              " in %s zone \"%.*s\"", module, SL_STR_ARG(*name));
        *slot = zone;
    }
    if (size && zone->size && zone->size != size) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "the size %zu of shared memory zone \"%.*s\" conflicts with already "
                          "declared size %zu",
                          size, SL_STR_ARG(*name), zone->size);
        return NULL;
    }
    if (size) {
        zone->size = size;
    }
    return zone;
}

sl_int_t sl_http_limit_zone_parse(sl_conf_t *cf, const sl_str_t *value, sl_str_t *name,
                                  size_t *size)
{
    u_char *start = value->data + 5, *end = value->data + value->len;
    u_char *colon = memchr(start, ':', (size_t) (end - start));

    if (colon == NULL) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid zone size \"%.*s\"", SL_STR_ARG(*value));
        return SL_ERROR;
    }
    name->data = start;
    name->len = (size_t) (colon - start);
    sl_str_t s = { (size_t) (end - colon - 1), colon + 1 };
    ssize_t n = sl_parse_size(&s);
    if (n == SL_ERROR) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid zone size \"%.*s\"", SL_STR_ARG(*value));
        return SL_ERROR;
    }
    if ((size_t) n < 8 * sl_pagesize()) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "zone \"%.*s\" is too small", SL_STR_ARG(*value));
        return SL_ERROR;
    }
    *size = (size_t) n;
    return SL_OK;
}

static void unmap_zone(void *data)
{
    sl_http_limit_zone_t *zone = data;

    sl_shm_free(&zone->shm);
}

/* One bucket per 256 bytes of the zone, a power of two: chains stay short while the pool
 * holds nodes of the usual small keys. */
static sl_uint_t table_buckets(size_t size)
{
    sl_uint_t n = 64;

    while (n * 256 < size) {
        n <<= 1;
    }
    return n;
}

static sl_int_t map_zone(sl_conf_t *cf, sl_http_limit_zone_t *zone)
{
    sl_pool_cleanup_t *cln = sl_pool_cleanup_add(cf->cycle->pool, 0);

    if (cln == NULL) {
        return SL_ERROR;
    }
    zone->shm.size = zone->size;
    zone->shm.name = zone->name;
    zone->shm.log = cf->log;
    if (sl_shm_alloc(&zone->shm) != SL_OK) {
        return SL_ERROR;
    }
    cln->handler = unmap_zone;
    cln->data = zone;
    zone->pool = sl_slab_init(zone->shm.addr, zone->shm.size);
    sl_uint_t n = table_buckets(zone->size);
    zone->table =
        zone->pool ? sl_slab_calloc(zone->pool, sizeof(*zone->table) + n * sizeof(void *)) : NULL;
    if (zone->table == NULL) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "could not allocate memory%.*s",
                          SL_STR_ARG(zone->log_ctx));
        return SL_ERROR;
    }
    sl_queue_init(&zone->table->lru);
    zone->table->mask = n - 1;
    return SL_OK;
}

sl_int_t sl_http_limit_zones_map(sl_conf_t *cf, sl_array_t *zones)
{
    sl_http_limit_zone_t **z = zones->elts;

    for (sl_uint_t i = 0; i < zones->nelts; i++) {
        if (z[i]->size == 0) {
            sl_log_error(SL_LOG_EMERG, cf->log, 0, "zero size shared memory zone \"%.*s\"",
                         SL_STR_ARG(z[i]->name));
            return SL_ERROR;
        }
        if (map_zone(cf, z[i]) != SL_OK) {
            return SL_ERROR;
        }
    }
    return SL_OK;
}

sl_http_limit_node_t *sl_http_limit_lookup(sl_http_limit_zone_t *zone, uint32_t hash,
                                           const sl_str_t *key)
{
    sl_http_limit_node_t *node = zone->table->buckets[hash & zone->table->mask];

    for (; node; node = node->next) {
        if (node->hash == hash && node->len == key->len
            && memcmp(node->key, key->data, key->len) == 0) {
            return node;
        }
    }
    return NULL;
}

sl_http_limit_node_t *sl_http_limit_insert(sl_http_limit_zone_t *zone, uint32_t hash,
                                           const sl_str_t *key)
{
    sl_http_limit_node_t *node =
        sl_slab_alloc_locked(zone->pool, sizeof(sl_http_limit_node_t) + key->len);

    if (node == NULL) {
        return NULL;
    }
    memset(node, 0, sizeof(*node));
    node->hash = hash;
    node->len = (uint16_t) key->len;
    memcpy(node->key, key->data, key->len);
    sl_http_limit_node_t **bucket = &zone->table->buckets[hash & zone->table->mask];
    node->next = *bucket;
    *bucket = node;
    sl_queue_insert_head(&zone->table->lru, &node->lru);
    return node;
}

void sl_http_limit_delete(sl_http_limit_zone_t *zone, sl_http_limit_node_t *node)
{
    sl_http_limit_node_t **p = &zone->table->buckets[node->hash & zone->table->mask];

    while (*p && *p != node) {
        p = &(*p)->next;
    }
    if (*p) {
        *p = node->next;
    }
    sl_queue_remove(&node->lru);
    sl_slab_free_locked(zone->pool, node);
}

void sl_http_limit_touch(sl_http_limit_zone_t *zone, sl_http_limit_node_t *node)
{
    sl_queue_remove(&node->lru);
    sl_queue_insert_head(&zone->table->lru, &node->lru);
}

sl_http_limit_node_t *sl_http_limit_oldest(sl_http_limit_zone_t *zone)
{
    if (sl_queue_empty(&zone->table->lru)) {
        return NULL;
    }
    return sl_queue_data(sl_queue_last(&zone->table->lru), sl_http_limit_node_t, lru);
}
