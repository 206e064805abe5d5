/*
 * sl_upstream_least_conn.c: "least_conn": the peer with the fewest connections for its
 * weight (conns/weight, compared by cross-multiplying as nginx); peers that tie share the
 * picks by smooth weighted round robin.  Backups as round robin: only when no primary can
 * be picked.
 */
#include "sl_time.h"
#include "sl_upstream_group.h"

static sl_int_t least_conn_get(sl_upstream_pick_t *pk);

const sl_upstream_balancer_t sl_upstream_least_conn = {
    "least_conn",
    SL_UPSTREAM_WEIGHT | SL_UPSTREAM_MAX_FAILS | SL_UPSTREAM_FAIL_TIMEOUT | SL_UPSTREAM_DOWN
        | SL_UPSTREAM_BACKUP | SL_UPSTREAM_MAX_CONNS,
    NULL,
    NULL,
    least_conn_get,
};

/* a is less loaded than b: a.conns / a.weight < b.conns / b.weight */
static int less_loaded(const sl_upstream_peer_t *a, const sl_upstream_peer_t *b)
{
    return a->conns * (sl_uint_t) b->weight < b->conns * (sl_uint_t) a->weight;
}

static int same_load(const sl_upstream_peer_t *a, const sl_upstream_peer_t *b)
{
    return a->conns * (sl_uint_t) b->weight == b->conns * (sl_uint_t) a->weight;
}

static int loaded_like(const sl_upstream_pick_t *pk, sl_uint_t i, const void *data)
{
    return same_load(&pk->peers->peer[i], data);
}

static sl_int_t least_conn_get(sl_upstream_pick_t *pk)
{
    sl_upstream_peers_t *peers = pk->peers;
    time_t now = sl_cached_time_sec;
    sl_int_t best = -1;
    int many = 0;

    for (sl_uint_t i = 0; i < peers->number; i++) {
        sl_upstream_peer_t *p = &peers->peer[i];

        if (sl_upstream_pick_tried(pk, i) || !sl__upstream_peer_usable(p, now)) {
            continue;
        }
        if (best < 0 || less_loaded(p, &peers->peer[best])) {
            best = (sl_int_t) i;
            many = 0;
        } else if (same_load(p, &peers->peer[best])) {
            many = 1;
        }
    }
    if (best < 0) {
        return sl__upstream_pick_backups(pk) ? least_conn_get(pk) : SL_BUSY;
    }
    if (many) {
        /* the ties come after the first one: round robin among them from there */
        sl_upstream_peer_t *first = &peers->peer[best];
        best = sl__upstream_swrr(pk, (sl_uint_t) best, loaded_like, first, now);
    }
    sl__upstream_pick_take(pk, (sl_uint_t) best, now);
    return SL_OK;
}

char *sl__upstream_least_conn_directive(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    (void) cmd;
    sl__upstream_group_set_balancer(cf, conf, &sl_upstream_least_conn);
    return SL_CONF_OK;
}
