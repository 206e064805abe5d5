/*
 * sl_upstream_round_robin.c: a group's peers, the per-request picking state, and smooth
 * weighted round robin, the default balancer and every other one's fallback.
 *
 * Smooth weighted round robin, as nginx: on each pick every candidate's current_weight grows
 * by its effective_weight; the largest wins (the first on a tie) and loses the sum of what
 * was added.  Weights 5,1,1 give a a b a c a a.  A failure lowers the peer's
 * effective_weight by weight/max_fails; each pass that considers it gives one back.
 *
 * Failure accounting, as nginx: a failure stamps accessed and checked with the time; max_fails
 * failures make the peer unavailable until fail_timeout seconds after checked; then one pick
 * goes through and moves checked (the probe), and a try that succeeds after it (accessed <
 * checked) forgets the failures.  A lone peer is never disabled by failures.  Backups are
 * picked only when no primary can be; when no peer is left, get answers SL_BUSY: nginx 1.22
 * does not revive failed peers early ("no live upstreams" until fail_timeout passes).
 */
#include "sl_pool.h"
#include "sl_time.h"
#include "sl_upstream_group.h"

#define WORD_BITS (8 * sizeof(uintptr_t))

const sl_upstream_balancer_t sl_upstream_round_robin = {
    "round_robin",
    SL_UPSTREAM_WEIGHT | SL_UPSTREAM_MAX_FAILS | SL_UPSTREAM_FAIL_TIMEOUT | SL_UPSTREAM_DOWN
        | SL_UPSTREAM_BACKUP | SL_UPSTREAM_MAX_CONNS,
    NULL,
    NULL,
    sl__upstream_rr_get,
};

/* ---- building the peers ---- */

static void fill_set(sl_upstream_group_t *g, unsigned backup, sl_upstream_peers_t *peers)
{
    sl_upstream_server_t *s = g->servers->elts;
    sl_uint_t n = 0;

    for (sl_uint_t i = 0; i < g->servers->nelts; i++) {
        if (s[i].backup != backup) {
            continue;
        }
        for (sl_uint_t j = 0; j < s[i].naddrs; j++, n++) {
            sl_upstream_peer_t *p = &peers->peer[n];

            p->weight = s[i].weight;
            p->effective_weight = s[i].weight;
            p->max_conns = s[i].max_conns;
            p->max_fails = s[i].max_fails;
            p->fail_timeout = s[i].fail_timeout;
            p->down = s[i].down;
            peers->addr[n].addr = &s[i].addrs[j];
            peers->addr[n].server = s[i].name;
        }
    }
}

/* The primaries (backup 0) or the backups (1) of g; *out NULL when there are none. */
static sl_int_t build_set(sl_conf_t *cf, sl_upstream_group_t *g, unsigned backup,
                          sl_upstream_peers_t **out)
{
    sl_upstream_server_t *s = g->servers->elts;
    sl_uint_t n = 0, tries = 0;
    /* unsigned: absurd weights wrap as in nginx instead of overflowing */
    sl_uint_t weight = 0;

    for (sl_uint_t i = 0; i < g->servers->nelts; i++) {
        if (s[i].backup == backup) {
            n += s[i].naddrs;
            weight += s[i].naddrs * (sl_uint_t) s[i].weight;
            tries += s[i].down ? 0 : s[i].naddrs;
        }
    }
    *out = NULL;
    if (n == 0) {
        return SL_OK;
    }
    sl_upstream_peers_t *peers = sl_pcalloc(cf->pool, sizeof(sl_upstream_peers_t));
    if (peers == NULL
        || (peers->peer = sl_pcalloc(cf->pool, n * sizeof(sl_upstream_peer_t))) == NULL
        || (peers->addr = sl_pcalloc(cf->pool, n * sizeof(sl_upstream_peer_addr_t))) == NULL) {
        return SL_ERROR;
    }
    peers->number = n;
    peers->total_weight = (sl_int_t) weight;
    peers->tries = tries;
    peers->single = n == 1;
    peers->name = &g->name;
    fill_set(g, backup, peers);
    *out = peers;
    return SL_OK;
}

sl_int_t sl_upstream_group_init(sl_conf_t *cf, sl_upstream_group_t *g)
{
    sl_upstream_peers_t *primary, *backup;

    if (build_set(cf, g, 0, &primary) != SL_OK || build_set(cf, g, 1, &backup) != SL_OK) {
        return SL_ERROR;
    }
    if (primary == NULL) {
        sl_log_error(SL_LOG_EMERG, cf->log, 0, "no servers in upstream \"%.*s\" in %s:%lu",
                     SL_STR_ARG(g->name), g->file_name, (unsigned long) g->line);
        return SL_ERROR;
    }
    if (backup) {
        /* "single" spares a lone server the failure marks, since there is nothing else to
         * try; a lone backup is still the last of several and is marked as nginx does. */
        primary->single = 0;
        backup->single = 0;
        primary->next = backup;
    }
    g->peers = primary;
    if (g->random == NULL) {
        g->random = random;
    }
    const sl_upstream_balancer_t *b = g->balancer ? g->balancer : &sl_upstream_round_robin;
    return b->init_group ? b->init_group(cf, g) : SL_OK;
}

/* ---- one request ---- */

static uintptr_t *tried_words(const sl_upstream_pick_t *pk)
{
    return pk->tried ? pk->tried : (uintptr_t *) &pk->tried_bits;
}

int sl_upstream_pick_tried(const sl_upstream_pick_t *pk, sl_uint_t i)
{
    return (tried_words(pk)[i / WORD_BITS] >> (i % WORD_BITS)) & 1;
}

/* The bytes ip_hash reads: three of an IPv4 address, all of an IPv6 one, and for anything
 * else (a unix-socket client) three zero bytes, as nginx. */
static void client_bytes(sl_upstream_pick_t *pk, const struct sockaddr *client)
{
    pk->addrlen = 3;
    if (client && client->sa_family == AF_INET) {
        memcpy(pk->addr, &((const struct sockaddr_in *) client)->sin_addr, 4);
    } else if (client && client->sa_family == AF_INET6) {
        memcpy(pk->addr, &((const struct sockaddr_in6 *) client)->sin6_addr, 16);
        pk->addrlen = 16;
    }
}

sl_int_t sl_upstream_pick_start(sl_upstream_pick_t *pk, sl_upstream_group_t *g, sl_pool_t *pool,
                                const sl_str_t *key, const struct sockaddr *client, sl_log_t *log)
{
    sl_upstream_peers_t *peers = g->peers;
    sl_uint_t n = peers->number;

    memset(pk, 0, sizeof(*pk));
    pk->group = g;
    pk->peers = peers;
    pk->current = -1;
    pk->log = log;
    pk->tries = peers->tries;
    if (peers->next) {
        n = sl_max(n, peers->next->number);
        pk->tries += peers->next->tries;
    }
    if (n > WORD_BITS) {
        pk->tried = sl_pcalloc(pool, (n + WORD_BITS - 1) / WORD_BITS * sizeof(uintptr_t));
        if (pk->tried == NULL) {
            return SL_ERROR;
        }
    }
    if (key) {
        pk->key = *key;
    }
    client_bytes(pk, client);
    const sl_upstream_balancer_t *b = g->balancer ? g->balancer : &sl_upstream_round_robin;
    return b->init_pick ? b->init_pick(pk) : SL_OK;
}

sl_int_t sl_upstream_pick_init(sl_upstream_pick_t *pk, sl_upstream_group_t *g, sl_http_request_t *r)
{
    sl_str_t key = sl_null_string;

    if (g->key && sl_http_complex_value(r, g->key, &key) != SL_OK) {
        return SL_ERROR;
    }
    return sl_upstream_pick_start(pk, g, r->pool, &key, &r->connection->sockaddr.sa,
                                  r->connection->log);
}

sl_int_t sl_upstream_pick_get(sl_upstream_pick_t *pk)
{
    const sl_upstream_balancer_t *b = pk->group->balancer;

    pk->sockaddr = NULL;
    pk->socklen = 0;
    return (b ? b->get : sl__upstream_rr_get)(pk);
}

static void free_failed(sl_upstream_pick_t *pk, sl_upstream_peer_t *p)
{
    time_t now = sl_cached_time_sec;

    p->fails++;
    p->accessed = now;
    p->checked = now;
    if (p->max_fails) {
        p->effective_weight -= p->weight / (sl_int_t) p->max_fails;
        if (p->fails >= p->max_fails && pk->log) {
            sl_log_error(SL_LOG_WARN, pk->log, 0, "upstream server temporarily disabled");
        }
    }
    if (p->effective_weight < 0) {
        p->effective_weight = 0;
    }
}

void sl_upstream_pick_free(sl_upstream_pick_t *pk, sl_uint_t state)
{
    if (pk->current < 0) {
        return;
    }
    sl_upstream_peer_t *p = &pk->peers->peer[pk->current];

    pk->current = -1;
    if (pk->peers->single) {
        p->conns--;
        pk->tries = 0;
        return;
    }
    if (state & SL_UPSTREAM_PEER_FAILED) {
        free_failed(pk, p);
    } else if (p->accessed < p->checked) {
        /* the probe after fail_timeout worked */
        p->fails = 0;
    }
    p->conns--;
    if (pk->tries) {
        pk->tries--;
    }
}

/* ---- helpers for every balancer ---- */

int sl__upstream_peer_usable(const sl_upstream_peer_t *p, time_t now)
{
    if (p->down) {
        return 0;
    }
    if (p->max_fails && p->fails >= p->max_fails && now - p->checked <= p->fail_timeout) {
        return 0;
    }
    return !(p->max_conns && p->conns >= p->max_conns);
}

static void hand_out(sl_upstream_pick_t *pk, sl_uint_t i)
{
    sl_addr_t *a = pk->peers->addr[i].addr;

    pk->current = (sl_int_t) i;
    pk->sockaddr = (const struct sockaddr *) &a->sockaddr;
    pk->socklen = a->socklen;
    pk->name = &a->name;
    pk->peers->peer[i].conns++;
}

void sl__upstream_pick_take(sl_upstream_pick_t *pk, sl_uint_t i, time_t now)
{
    sl_upstream_peer_t *p = &pk->peers->peer[i];

    if (now - p->checked > p->fail_timeout) {
        p->checked = now;
    }
    tried_words(pk)[i / WORD_BITS] |= (uintptr_t) 1 << (i % WORD_BITS);
    hand_out(pk, i);
}

sl_int_t sl__upstream_swrr(sl_upstream_pick_t *pk, sl_uint_t from,
                           sl__upstream_peer_filter_pt filter, const void *data, time_t now)
{
    sl_upstream_peers_t *peers = pk->peers;
    sl_int_t best = -1, total = 0;

    for (sl_uint_t i = from; i < peers->number; i++) {
        sl_upstream_peer_t *p = &peers->peer[i];

        if (sl_upstream_pick_tried(pk, i) || !sl__upstream_peer_usable(p, now)
            || (filter && !filter(pk, i, data))) {
            continue;
        }
        p->current_weight += p->effective_weight;
        total += p->effective_weight;
        if (p->effective_weight < p->weight) {
            p->effective_weight++;
        }
        if (best < 0 || p->current_weight > peers->peer[best].current_weight) {
            best = (sl_int_t) i;
        }
    }
    if (best >= 0) {
        peers->peer[best].current_weight -= total;
    }
    return best;
}

int sl__upstream_pick_backups(sl_upstream_pick_t *pk)
{
    sl_upstream_peers_t *backups = pk->peers->next;

    if (backups == NULL) {
        pk->sockaddr = NULL;
        pk->name = pk->peers->name;
        return 0;
    }
    pk->peers = backups;
    memset(tried_words(pk), 0, (backups->number + WORD_BITS - 1) / WORD_BITS * sizeof(uintptr_t));
    return 1;
}

sl_uint_t sl__upstream_peer_by_weight(const sl_upstream_peers_t *peers, sl_uint_t w)
{
    sl_uint_t i = 0;

    while (i + 1 < peers->number && w >= (sl_uint_t) peers->peer[i].weight) {
        w -= (sl_uint_t) peers->peer[i].weight;
        i++;
    }
    return i;
}

sl_int_t sl__upstream_rr_get(sl_upstream_pick_t *pk)
{
    sl_upstream_peers_t *peers = pk->peers;
    time_t now = sl_cached_time_sec;

    if (peers->single) {
        /* nginx's shortcut: no weights, no failure window, no tried bit */
        sl_upstream_peer_t *p = &peers->peer[0];
        if (!p->down && !(p->max_conns && p->conns >= p->max_conns)) {
            hand_out(pk, 0);
            return SL_OK;
        }
    } else {
        sl_int_t i = sl__upstream_swrr(pk, 0, NULL, NULL, now);
        if (i >= 0) {
            sl__upstream_pick_take(pk, (sl_uint_t) i, now);
            return SL_OK;
        }
    }
    return sl__upstream_pick_backups(pk) ? sl__upstream_rr_get(pk) : SL_BUSY;
}
