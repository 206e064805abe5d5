/*
 * sl_upstream_hash.c: "hash KEY [consistent]"; this file is the plain form (the consistent
 * ring is sl_upstream_chash.c).
 *
 * As nginx (compatible with Perl's Cache::Memcached): each draw adds
 * (crc32([REHASH] KEY) >> 16) & 0x7fff to a running sum, REHASH being the number of draws so
 * far in decimal, left out of the first; sum % total_weight falls in one peer's weight range.
 * A peer that cannot be picked means another draw; after 20 of them, or with an empty key,
 * it is round robin's turn.
 */
#include <stdio.h>

#include "sl_crc32.h"
#include "sl_pool.h"
#include "sl_time.h"
#include "sl_upstream_group.h"

static sl_int_t hash_get(sl_upstream_pick_t *pk);

#define HASH_PARAMS                                                                                \
    (SL_UPSTREAM_WEIGHT | SL_UPSTREAM_MAX_FAILS | SL_UPSTREAM_FAIL_TIMEOUT | SL_UPSTREAM_DOWN      \
     | SL_UPSTREAM_MAX_CONNS)

const sl_upstream_balancer_t sl_upstream_hash = {
    "hash", HASH_PARAMS, NULL, NULL, hash_get,
};

/* The next draw's 15 bits. */
static uint32_t draw(const sl_upstream_pick_t *pk)
{
    uint32_t crc = sl_crc32_init();

    if (pk->rehash > 0) {
        char num[SL_INT64_LEN + 1];
        int n = snprintf(num, sizeof(num), "%lu", (unsigned long) pk->rehash);
        crc = sl_crc32_update(crc, (const u_char *) num, (size_t) n);
    }
    crc = sl_crc32_final(sl_crc32_update(crc, pk->key.data, pk->key.len));
    return (crc >> 16) & 0x7fff;
}

static sl_int_t hash_get(sl_upstream_pick_t *pk)
{
    sl_upstream_peers_t *peers = pk->peers;

    if (pk->hash_tries > SL_UPSTREAM_HASH_TRIES || peers->single || pk->key.len == 0) {
        return sl__upstream_rr_get(pk);
    }
    time_t now = sl_cached_time_sec;
    sl_uint_t p;
    for (;;) {
        pk->hash += draw(pk);
        pk->rehash++;
        p = sl__upstream_peer_by_weight(peers, pk->hash % (sl_uint_t) peers->total_weight);
        if (!sl_upstream_pick_tried(pk, p) && sl__upstream_peer_usable(&peers->peer[p], now)) {
            break;
        }
        if (++pk->hash_tries > SL_UPSTREAM_HASH_TRIES) {
            return sl__upstream_rr_get(pk);
        }
    }
    sl__upstream_pick_take(pk, p, now);
    return SL_OK;
}

/* hash KEY [consistent]: the key is compiled first, so its errors come before the
 * parameter's, as in nginx. */
char *sl__upstream_hash_directive(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_upstream_group_t *g = conf;
    sl_str_t *value = cf->args->elts;

    (void) cmd;
    g->key = sl_pcalloc(cf->pool, sizeof(sl_http_complex_value_t));
    if (g->key == NULL || sl_http_compile_value(cf, &value[1], g->key) != SL_OK) {
        return SL_CONF_ERROR;
    }
    int consistent = cf->args->nelts == 3 && sl_str_eq_cstr(&value[2], "consistent");
    sl__upstream_group_set_balancer(cf, g, consistent ? &sl_upstream_chash : &sl_upstream_hash);
    if (cf->args->nelts == 3 && !consistent) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid parameter \"%.*s\"", SL_STR_ARG(value[2]));
        return SL_CONF_ERROR;
    }
    return SL_CONF_OK;
}
