/*
 * sl_upstream_random.c: "random [two [least_conn]]": a peer drawn at random with chances in
 * proportion to its weight; with "two", two different peers are drawn and the one with
 * fewer connections for its weight wins (the second on a tie), as nginx.  A draw that lands
 * on a peer that cannot be picked counts; after 20 of them it is round robin's turn.
 *
 * The draws come from g->random (random(3) by default, as nginx), so sequences are not
 * reproducible; the tests check properties with their own source of numbers.
 */
#include "sl_pool.h"
#include "sl_time.h"
#include "sl_upstream_group.h"

static sl_int_t random_init_group(sl_conf_t *cf, sl_upstream_group_t *g);
static sl_int_t random_get(sl_upstream_pick_t *pk);
static sl_int_t random_two_get(sl_upstream_pick_t *pk);

#define RANDOM_PARAMS                                                                              \
    (SL_UPSTREAM_WEIGHT | SL_UPSTREAM_MAX_FAILS | SL_UPSTREAM_FAIL_TIMEOUT | SL_UPSTREAM_DOWN      \
     | SL_UPSTREAM_MAX_CONNS)

const sl_upstream_balancer_t sl_upstream_random = {
    "random", RANDOM_PARAMS, random_init_group, NULL, random_get,
};

const sl_upstream_balancer_t sl_upstream_random_two = {
    "random two", RANDOM_PARAMS, random_init_group, NULL, random_two_get,
};

/* ranges[i]: the weights of peers 0..i added up. */
static sl_int_t random_init_group(sl_conf_t *cf, sl_upstream_group_t *g)
{
    sl_upstream_peers_t *peers = g->peers;
    sl_int_t *ranges = sl_palloc(cf->pool, peers->number * sizeof(sl_int_t));
    sl_int_t total = 0;

    if (ranges == NULL) {
        return SL_ERROR;
    }
    for (sl_uint_t i = 0; i < peers->number; i++) {
        total += peers->peer[i].weight;
        ranges[i] = total;
    }
    g->balancer_data = ranges;
    return SL_OK;
}

/* A peer drawn by weight: the first whose range ends above the number drawn. */
static sl_uint_t draw(const sl_upstream_pick_t *pk)
{
    const sl_int_t *ranges = pk->group->balancer_data;
    sl_upstream_peers_t *peers = pk->peers;
    sl_uint_t x = (sl_uint_t) pk->group->random() % (sl_uint_t) peers->total_weight;
    sl_uint_t lo = 0, hi = peers->number - 1;

    while (lo < hi) {
        sl_uint_t mid = lo + (hi - lo) / 2;

        if (x < (sl_uint_t) ranges[mid]) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return lo;
}

static int can_take(const sl_upstream_pick_t *pk, sl_uint_t i, time_t now)
{
    return !sl_upstream_pick_tried(pk, i) && sl__upstream_peer_usable(&pk->peers->peer[i], now);
}

/* The weight ranges are the primaries': once round robin moved on to backups (only when
 * backups were declared before "random"), round robin it stays. */
static int drawing_off(const sl_upstream_pick_t *pk)
{
    return pk->hash_tries > SL_UPSTREAM_HASH_TRIES || pk->peers != pk->group->peers;
}

static sl_int_t random_get(sl_upstream_pick_t *pk)
{
    if (drawing_off(pk) || pk->peers->single) {
        return sl__upstream_rr_get(pk);
    }
    time_t now = sl_cached_time_sec;
    sl_uint_t i;
    for (;;) {
        i = draw(pk);
        if (can_take(pk, i, now)) {
            break;
        }
        if (++pk->hash_tries > SL_UPSTREAM_HASH_TRIES) {
            return sl__upstream_rr_get(pk);
        }
    }
    sl__upstream_pick_take(pk, i, now);
    return SL_OK;
}

static sl_int_t random_two_get(sl_upstream_pick_t *pk)
{
    if (drawing_off(pk) || pk->peers->number < 2) {
        return sl__upstream_rr_get(pk);
    }
    time_t now = sl_cached_time_sec;
    sl_upstream_peer_t *peer = pk->peers->peer;
    sl_int_t prev = -1;
    sl_uint_t i;
    for (;;) {
        i = draw(pk);
        if ((sl_int_t) i != prev && can_take(pk, i, now)) {
            if (prev >= 0) {
                /* the more loaded of the two (conns/weight) loses; a tie keeps the second */
                sl_upstream_peer_t *a = &peer[i], *b = &peer[prev];
                if (a->conns * (sl_uint_t) b->weight > b->conns * (sl_uint_t) a->weight) {
                    i = (sl_uint_t) prev;
                }
                break;
            }
            prev = (sl_int_t) i;
        }
        if (++pk->hash_tries > SL_UPSTREAM_HASH_TRIES) {
            return sl__upstream_rr_get(pk);
        }
    }
    sl__upstream_pick_take(pk, i, now);
    return SL_OK;
}

/* random [two [least_conn]] */
char *sl__upstream_random_directive(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_str_t *value = cf->args->elts;
    sl_uint_t n = cf->args->nelts;

    (void) cmd;
    sl__upstream_group_set_balancer(cf, conf,
                                    n > 1 ? &sl_upstream_random_two : &sl_upstream_random);
    for (sl_uint_t i = 1; i < n; i++) {
        if (!sl_str_eq_cstr(&value[i], i == 1 ? "two" : "least_conn")) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid parameter \"%.*s\"",
                              SL_STR_ARG(value[i]));
            return SL_CONF_ERROR;
        }
    }
    return SL_CONF_OK;
}
