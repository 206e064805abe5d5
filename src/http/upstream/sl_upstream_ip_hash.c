/*
 * sl_upstream_ip_hash.c: "ip_hash": the client's address picks the peer, the same one for
 * every request from it, as nginx computes it: starting from 89, hash = (hash * 113 + byte)
 * % 6271 over the first three bytes of an IPv4 address (so a /24 goes to one peer) or all
 * sixteen of an IPv6 one; hash % total_weight then falls in one peer's weight range.  A peer
 * that cannot be picked makes it hash again from there (the same bytes on the last value);
 * after 20 such draws it is round robin's turn.
 */
#include "sl_time.h"
#include "sl_upstream_group.h"

static sl_int_t ip_hash_init_pick(sl_upstream_pick_t *pk);
static sl_int_t ip_hash_get(sl_upstream_pick_t *pk);

const sl_upstream_balancer_t sl_upstream_ip_hash = {
    "ip_hash",
    SL_UPSTREAM_WEIGHT | SL_UPSTREAM_MAX_FAILS | SL_UPSTREAM_FAIL_TIMEOUT | SL_UPSTREAM_DOWN
        | SL_UPSTREAM_MAX_CONNS,
    NULL,
    ip_hash_init_pick,
    ip_hash_get,
};

static sl_int_t ip_hash_init_pick(sl_upstream_pick_t *pk)
{
    pk->hash = 89;
    return SL_OK;
}

static sl_int_t ip_hash_get(sl_upstream_pick_t *pk)
{
    sl_upstream_peers_t *peers = pk->peers;

    if (pk->hash_tries > SL_UPSTREAM_HASH_TRIES || peers->single) {
        return sl__upstream_rr_get(pk);
    }
    time_t now = sl_cached_time_sec;
    uint32_t hash = pk->hash;
    sl_uint_t p;
    for (;;) {
        for (size_t i = 0; i < pk->addrlen; i++) {
            hash = (hash * 113 + pk->addr[i]) % 6271;
        }
        p = sl__upstream_peer_by_weight(peers, hash % (sl_uint_t) peers->total_weight);
        if (!sl_upstream_pick_tried(pk, p) && sl__upstream_peer_usable(&peers->peer[p], now)) {
            break;
        }
        if (++pk->hash_tries > SL_UPSTREAM_HASH_TRIES) {
            return sl__upstream_rr_get(pk);
        }
    }
    sl__upstream_pick_take(pk, p, now);
    pk->hash = hash;
    return SL_OK;
}

char *sl__upstream_ip_hash_directive(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    (void) cmd;
    sl__upstream_group_set_balancer(cf, conf, &sl_upstream_ip_hash);
    return SL_CONF_OK;
}
