/*
 * sl_upstream_zone.c: "zone NAME [SIZE]" in an upstream block.  The group's peer state
 * (failures, connection counts, current weights, down marks: sl_upstream_peer_t, whose only
 * pointer is to the peer's TLS session in the zone's own slab) moves into shared memory
 * mapped by the master before it forks, at the same address in every worker, so every
 * worker balances on the same numbers.  Picks and releases run under the zone's lock, and
 * so do the TLS sessions kept for proxy_ssl_session_reuse (sl_upstream_zone_ssl_session).
 *
 * Several groups may name the same zone; its size is given once (or repeated equal).  A
 * zone named without a size anywhere keeps the state per worker, as nginx accepts it.
 * A reload builds new zones: the state starts afresh, as nginx 1.22's copy of the peers.
 */
#include "sl_pool.h"
#include "sl_shm.h"
#include "sl_slab.h"
#include "sl_ssl.h"
#include "sl_upstream_group.h"
#include "sl_upstream_zone.h"

struct sl_upstream_zone_s {
    sl_str_t name;
    size_t size;
    sl_shm_t shm;
    sl_slab_pool_t *pool;
};

static sl_upstream_zone_t *find_zone(sl_upstream_main_conf_t *umcf, const sl_str_t *name)
{
    sl_upstream_zone_t **z = umcf->zones.elts;

    for (sl_uint_t i = 0; i < umcf->zones.nelts; i++) {
        if (sl_str_eq(&z[i]->name, name)) {
            return z[i];
        }
    }
    return NULL;
}

static sl_upstream_zone_t *add_zone(sl_conf_t *cf, sl_upstream_main_conf_t *umcf,
                                    const sl_str_t *name)
{
    sl_upstream_zone_t *z = sl_pcalloc(cf->pool, sizeof(sl_upstream_zone_t));
    sl_upstream_zone_t **slot = sl_array_push(&umcf->zones);

    if (z == NULL || slot == NULL) {
        return NULL;
    }
    z->name = *name;
    *slot = z;
    return z;
}

char *sl__upstream_zone_directive(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_upstream_group_t *g = conf;
    sl_upstream_main_conf_t *umcf = sl_http_conf_get_module_main_conf(cf, sl_http_upstream_module);
    sl_str_t *value = cf->args->elts;
    ssize_t size = 0;

    if (cf->args->nelts == 3) {
        size = sl_parse_size(&value[2]);
        if (size == SL_ERROR) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid zone size \"%s\"",
                              (char *) value[2].data);
            return SL_CONF_ERROR;
        }
        if ((size_t) size < 8 * sl_pagesize()) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "zone \"%s\" is too small",
                              (char *) value[1].data);
            return SL_CONF_ERROR;
        }
    }
    sl_upstream_zone_t *z = find_zone(umcf, &value[1]);
    if (z == NULL && (z = add_zone(cf, umcf, &value[1])) == NULL) {
        return SL_CONF_ERROR;
    }
    if (size && z->size && z->size != (size_t) size) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "the size %zd of shared memory zone \"%s\" conflicts with already "
                          "declared size %zu",
                          size, (char *) value[1].data, z->size);
        return SL_CONF_ERROR;
    }
    if (size) {
        z->size = (size_t) size;
    }
    g->zone = z;
    (void) cmd;
    return SL_CONF_OK;
}

static void unmap_zone(void *data)
{
    sl_upstream_zone_t *z = data;

    sl_shm_free(&z->shm);
}

static sl_int_t map_zone(sl_conf_t *cf, sl_upstream_zone_t *z)
{
    sl_pool_cleanup_t *cln = sl_pool_cleanup_add(cf->cycle->pool, 0);

    if (cln == NULL) {
        return SL_ERROR;
    }
    z->shm.size = z->size;
    z->shm.name = z->name;
    z->shm.log = cf->log;
    if (sl_shm_alloc(&z->shm) != SL_OK) {
        return SL_ERROR;
    }
    cln->handler = unmap_zone;
    cln->data = z;
    z->pool = sl_slab_init(z->shm.addr, z->shm.size);
    z->shm.slab = z->pool != NULL;
    return z->pool ? SL_OK : SL_ERROR;
}

/* One set of peers (primaries or backups): its numbers are copied into the zone. */
static sl_int_t move_peers(sl_conf_t *cf, sl_upstream_zone_t *z, sl_upstream_peers_t *peers)
{
    size_t size = peers->number * sizeof(sl_upstream_peer_t);
    sl_upstream_peer_t *shared = sl_slab_alloc(z->pool, size);

    if (shared == NULL) {
        sl_log_error(SL_LOG_EMERG, cf->log, 0,
                     "could not allocate memory from shared memory zone \"%.*s\"",
                     SL_STR_ARG(z->name));
        return SL_ERROR;
    }
    memcpy(shared, peers->peer, size);
    peers->peer = shared;
    return SL_OK;
}

sl_int_t sl__upstream_zones_init(sl_conf_t *cf, sl_upstream_main_conf_t *umcf)
{
    sl_upstream_zone_t **z = umcf->zones.elts;
    sl_upstream_group_t **g = umcf->groups.elts;

    for (sl_uint_t i = 0; i < umcf->zones.nelts; i++) {
        if (z[i]->size && map_zone(cf, z[i]) != SL_OK) {
            return SL_ERROR;
        }
    }
    for (sl_uint_t i = 0; i < umcf->groups.nelts; i++) {
        sl_upstream_zone_t *zone = g[i]->zone;

        if (zone == NULL || zone->pool == NULL) {
            g[i]->zone = NULL; /* no size anywhere: per worker */
            continue;
        }
        for (sl_upstream_peers_t *p = g[i]->peers; p; p = p->next) {
            if (move_peers(cf, zone, p) != SL_OK) {
                return SL_ERROR;
            }
        }
    }
    return SL_OK;
}

void sl_upstream_zone_lock(sl_upstream_group_t *g)
{
    if (g->zone) {
        sl_slab_lock(g->zone->pool);
    }
}

void sl_upstream_zone_unlock(sl_upstream_group_t *g)
{
    if (g->zone) {
        sl_slab_unlock(g->zone->pool);
    }
}

/* the largest session kept (a client certificate makes them big) */
#define MAX_SESSION_DER 4096

static void save_session(void *store, void *slot, SSL_SESSION *sess)
{
    sl_upstream_zone_t *z = store;
    sl_upstream_peer_t *peer = slot;
    u_char der[MAX_SESSION_DER], *p = der;
    int len = i2d_SSL_SESSION(sess, NULL);

    if (len <= 0 || len > MAX_SESSION_DER || i2d_SSL_SESSION(sess, &p) != len) {
        return;
    }
    sl_slab_lock(z->pool);
    if (peer->ssl_session && peer->ssl_session_len != (size_t) len) {
        sl_slab_free_locked(z->pool, peer->ssl_session);
        peer->ssl_session = NULL;
        peer->ssl_session_len = 0;
    }
    if (peer->ssl_session == NULL) {
        peer->ssl_session = sl_slab_alloc_locked(z->pool, (size_t) len);
    }
    if (peer->ssl_session) {
        memcpy(peer->ssl_session, der, (size_t) len);
        peer->ssl_session_len = (size_t) len;
    }
    sl_slab_unlock(z->pool);
}

sl_int_t sl_upstream_zone_ssl_session(sl_upstream_pick_t *pick, sl_connection_t *c)
{
    sl_upstream_group_t *g = pick->group;
    u_char der[MAX_SESSION_DER];
    size_t len = 0;

    if (g == NULL || g->zone == NULL || pick->peers == NULL || pick->current < 0) {
        return SL_DECLINED;
    }
    sl_upstream_peer_t *peer = &pick->peers->peer[pick->current];
    sl_slab_lock(g->zone->pool);
    if (peer->ssl_session && peer->ssl_session_len <= sizeof(der)) {
        len = peer->ssl_session_len;
        memcpy(der, peer->ssl_session, len);
    }
    sl_slab_unlock(g->zone->pool);
    c->ssl->save_session = save_session;
    c->ssl->session_store = g->zone;
    c->ssl->session_slot = peer;
    if (len == 0) {
        return SL_OK;
    }
    const u_char *p = der;
    SSL_SESSION *sess = d2i_SSL_SESSION(NULL, &p, (long) len);
    if (sess == NULL) {
        ERR_clear_error();
        return SL_OK;
    }
    int ok = SSL_set_session(c->ssl->connection, sess);
    SSL_SESSION_free(sess);
    if (!ok) {
        sl_ssl_error(SL_LOG_ALERT, c->log, 0, "SSL_set_session() failed");
        return SL_ERROR;
    }
    return SL_OK;
}
