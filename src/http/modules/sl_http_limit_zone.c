/*
 * sl_http_limit_zone.c: the shared-memory table of keys behind limit_req and limit_conn:
 * zones declared by name, mapped at the end of the http block, and a hash table with a
 * most-recently-used queue inside each.  The mapping is made before the workers fork, so
 * every pointer in it is valid in every worker.  A reload keeps the mapping of a zone whose
 * module, name and size did not change (nginx's rule), so limits and counts carry on.
 */
#include "sl_http_limit_zone.h"
#include "sl_pool.h"

#include <stdio.h>
#include <stdlib.h>

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
        zone->module = module;
        zone->log_ctx.data = sl_pnalloc(cf->pool, name->len + 32);
        if (zone->log_ctx.data == NULL) {
            return NULL;
        }
        /* nginx's wording: " in limit_req zone \"x\"", " in limit_conn_zone \"x\"" */
        zone->log_ctx.len = (size_t) snprintf(
            (char *) zone->log_ctx.data, name->len + 32,
            strcmp(module, "limit_req") == 0 ? " in %s zone \"%.*s\"" : " in %s \"%.*s\"", module,
            SL_STR_ARG(*name));
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

/* A mapping this process made, kept while a configuration uses it: a reload's new zone of
 * the same module, name and size takes it over before the old configuration lets go. */
typedef struct sl_http_limit_mapping_s mapping_t;
struct sl_http_limit_mapping_s {
    sl_shm_t shm;
    const char *module;
    /** name and key, in malloc'ed memory: they outlive the configuration that set them */
    sl_str_t name;
    sl_str_t key;
    sl_slab_pool_t *pool;
    struct sl_http_limit_table_s *table;
    sl_uint_t refs;
    mapping_t *next;
};

static mapping_t *mappings;

static void release_mapping(void *data)
{
    mapping_t *m = data;

    if (--m->refs) {
        return;
    }
    for (mapping_t **p = &mappings; *p; p = &(*p)->next) {
        if (*p == m) {
            *p = m->next;
            break;
        }
    }
    sl_shm_free(&m->shm);
    free(m->name.data);
    free(m->key.data);
    free(m);
}

static mapping_t *find_mapping(const sl_http_limit_zone_t *zone)
{
    for (mapping_t *m = mappings; m; m = m->next) {
        if (strcmp(m->module, zone->module) == 0 && sl_str_eq(&m->name, &zone->name)
            && m->shm.size == zone->size) {
            return m;
        }
    }
    return NULL;
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

static int copy_str(sl_str_t *dst, const sl_str_t *src)
{
    dst->data = malloc(src->len + 1);
    if (dst->data == NULL) {
        return 0;
    }
    memcpy(dst->data, src->data, src->len);
    dst->len = src->len;
    return 1;
}

/* A new mapping with an empty table.  NULL after logging. */
static mapping_t *new_mapping(sl_conf_t *cf, sl_http_limit_zone_t *zone)
{
    mapping_t *m = calloc(1, sizeof(mapping_t));

    if (m == NULL || !copy_str(&m->name, &zone->name) || !copy_str(&m->key, &zone->key)) {
        goto failed;
    }
    m->module = zone->module;
    m->shm.size = zone->size;
    m->shm.name = m->name;
    m->shm.log = cf->cycle->log;
    if (sl_shm_alloc(&m->shm) != SL_OK) {
        goto failed;
    }
    m->pool = sl_slab_init(m->shm.addr, m->shm.size);
    m->shm.slab = m->pool != NULL;
    sl_uint_t n = table_buckets(zone->size);
    m->table = m->pool ? sl_slab_calloc(m->pool, sizeof(*m->table) + n * sizeof(void *)) : NULL;
    if (m->table == NULL) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "could not allocate memory%.*s",
                          SL_STR_ARG(zone->log_ctx));
        sl_shm_free(&m->shm);
        goto failed;
    }
    sl_queue_init(&m->table->lru);
    m->table->mask = n - 1;
    m->next = mappings;
    mappings = m;
    return m;

failed:
    if (m) {
        free(m->name.data);
        free(m->key.data);
        free(m);
    }
    return NULL;
}

static sl_int_t map_zone(sl_conf_t *cf, sl_http_limit_zone_t *zone)
{
    sl_pool_cleanup_t *cln = sl_pool_cleanup_add(cf->cycle->pool, 0);
    mapping_t *m = find_mapping(zone);

    if (cln == NULL) {
        return SL_ERROR;
    }
    if (m && !sl_str_eq(&m->key, &zone->key)) {
        sl_log_error(SL_LOG_EMERG, cf->log, 0,
                     "%s \"%.*s\" uses the \"%.*s\" key while previously it used the \"%.*s\" key",
                     zone->module, SL_STR_ARG(zone->name), SL_STR_ARG(zone->key),
                     SL_STR_ARG(m->key));
        return SL_ERROR;
    }
    if (m == NULL && (m = new_mapping(cf, zone)) == NULL) {
        return SL_ERROR;
    }
    m->refs++;
    cln->handler = release_mapping;
    cln->data = m;
    zone->mapping = m;
    zone->pool = m->pool;
    zone->table = m->table;
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
