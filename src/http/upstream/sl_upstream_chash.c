/*
 * sl_upstream_chash.c: "hash KEY consistent", a ketama ring as nginx builds it (compatible
 * with Perl's Cache::Memcached::Fast), so keys land where nginx lands them and removing a
 * server moves only that server's keys.
 *
 * Each primary peer puts 160 points per unit of weight on the ring.  The server's address
 * as written in the config is split into host and port (the digits after the last ':', if
 * any; "unix:/path" is the path with no port); point j is
 * crc32(HOST "\0" PORT PREV), PREV being point j-1's value as four little-endian bytes
 * (zero for the first).  Points sorted by value, duplicates dropped.  A request's key goes
 * to the first point at or after crc32(KEY), wrapping round; the peers of that point's
 * server (a name may resolve to several) share it by smooth weighted round robin.  No
 * usable one: the next point, up to 20 times, then round robin.
 */
#include "sl_crc32.h"
#include "sl_pool.h"
#include "sl_time.h"
#include "sl_upstream_group.h"

/* Points per unit of weight. */
#define CHASH_POINTS 160

typedef struct {
    uint32_t hash;
    /** the server's name as written: the peers it stands for have this name */
    const sl_str_t *server;
    /** insertion order: equal values keep it, as nginx's (stable) sort does */
    sl_uint_t seq;
} chash_point_t;

typedef struct {
    chash_point_t *point;
    sl_uint_t number;
} chash_ring_t;

static sl_int_t chash_init_group(sl_conf_t *cf, sl_upstream_group_t *g);
static sl_int_t chash_init_pick(sl_upstream_pick_t *pk);
static sl_int_t chash_get(sl_upstream_pick_t *pk);

const sl_upstream_balancer_t sl_upstream_chash = {
    "hash consistent",
    SL_UPSTREAM_WEIGHT | SL_UPSTREAM_MAX_FAILS | SL_UPSTREAM_FAIL_TIMEOUT | SL_UPSTREAM_DOWN
        | SL_UPSTREAM_MAX_CONNS,
    chash_init_group,
    chash_init_pick,
    chash_get,
};

/* "host:port" -> host, port; "unix:/path" -> "/path", no port; no digits after a last ':'
 * (or no ':') -> the whole name, no port. */
static void split_server(const sl_str_t *s, sl_str_t *host, sl_str_t *port)
{
    port->data = NULL;
    port->len = 0;
    *host = *s;
    if (s->len >= 5 && sl_strncasecmp(s->data, (u_char *) "unix:", 5) == 0) {
        host->data += 5;
        host->len -= 5;
        return;
    }
    for (size_t j = 0; j < s->len; j++) {
        u_char c = s->data[s->len - j - 1];

        if (c == ':') {
            host->len = s->len - j - 1;
            port->data = s->data + s->len - j;
            port->len = j;
            return;
        }
        if (c < '0' || c > '9') {
            return;
        }
    }
}

static void add_points(chash_ring_t *ring, const sl_upstream_peer_t *p, const sl_str_t *server)
{
    sl_str_t host, port;
    uint32_t prev = 0;

    split_server(server, &host, &port);
    uint32_t base = sl_crc32_update(sl_crc32_init(), host.data, host.len);
    base = sl_crc32_update(base, (const u_char *) "", 1);
    base = sl_crc32_update(base, port.data, port.len);
    for (sl_int_t j = 0; j < p->weight * CHASH_POINTS; j++) {
        u_char le[4] = { (u_char) prev, (u_char) (prev >> 8), (u_char) (prev >> 16),
                         (u_char) (prev >> 24) };
        uint32_t hash = sl_crc32_final(sl_crc32_update(base, le, 4));
        chash_point_t *pt = &ring->point[ring->number];

        pt->hash = hash;
        pt->server = server;
        pt->seq = ring->number++;
        prev = hash;
    }
}

static int cmp_points(const void *a, const void *b)
{
    const chash_point_t *x = a, *y = b;

    if (x->hash != y->hash) {
        return x->hash < y->hash ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

static sl_int_t chash_init_group(sl_conf_t *cf, sl_upstream_group_t *g)
{
    sl_upstream_peers_t *peers = g->peers;
    chash_ring_t *ring = sl_pcalloc(cf->pool, sizeof(chash_ring_t));
    size_t n = (size_t) peers->total_weight;

    if (ring == NULL) {
        return SL_ERROR;
    }
    if (n > SIZE_MAX / CHASH_POINTS / sizeof(chash_point_t)
        || (ring->point = sl_palloc(cf->pool, n * CHASH_POINTS * sizeof(chash_point_t))) == NULL) {
        /* weights in the millions: 160 points each do not fit in memory */
        sl_log_error(SL_LOG_EMERG, cf->log, 0,
                     "no memory for the consistent hash ring of upstream \"%.*s\" in %s:%lu",
                     SL_STR_ARG(g->name), g->file_name, (unsigned long) g->line);
        return SL_ERROR;
    }
    for (sl_uint_t i = 0; i < peers->number; i++) {
        add_points(ring, &peers->peer[i], &peers->addr[i].server);
    }
    qsort(ring->point, ring->number, sizeof(chash_point_t), cmp_points);
    sl_uint_t kept = 0;
    for (sl_uint_t j = 1; j < ring->number; j++) {
        if (ring->point[kept].hash != ring->point[j].hash) {
            ring->point[++kept] = ring->point[j];
        }
    }
    ring->number = kept + 1;
    g->balancer_data = ring;
    return SL_OK;
}

/* The first point whose value is hash or more; ring->number when there is none (the get
 * wraps round with a modulo). */
static sl_uint_t find_point(const chash_ring_t *ring, uint32_t hash)
{
    sl_uint_t lo = 0, hi = ring->number;

    while (lo < hi) {
        sl_uint_t mid = lo + (hi - lo) / 2;

        if (ring->point[mid].hash < hash) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static sl_int_t chash_init_pick(sl_upstream_pick_t *pk)
{
    const chash_ring_t *ring = pk->group->balancer_data;

    pk->hash = (uint32_t) find_point(ring, sl_crc32(pk->key.data, pk->key.len));
    return SL_OK;
}

static int same_server(const sl_upstream_pick_t *pk, sl_uint_t i, const void *data)
{
    return sl_str_eq(&pk->peers->addr[i].server, data);
}

static sl_int_t chash_get(sl_upstream_pick_t *pk)
{
    const chash_ring_t *ring = pk->group->balancer_data;

    if (pk->hash_tries > SL_UPSTREAM_HASH_TRIES || pk->peers->single || pk->key.len == 0) {
        return sl__upstream_rr_get(pk);
    }
    time_t now = sl_cached_time_sec;
    sl_int_t best;
    for (;;) {
        const sl_str_t *server = ring->point[pk->hash % ring->number].server;

        best = sl__upstream_swrr(pk, 0, same_server, server, now);
        if (best >= 0) {
            break;
        }
        pk->hash++;
        if (++pk->hash_tries > SL_UPSTREAM_HASH_TRIES) {
            return sl__upstream_rr_get(pk);
        }
    }
    sl__upstream_pick_take(pk, (sl_uint_t) best, now);
    return SL_OK;
}
