/*
 * sl_upstream_peer.h: choosing the peer of an upstream group for one request.
 *
 * A group's servers become peers once the config is read (sl_upstream_group_init): one
 * peer per resolved address, the primaries in one set and the backups in another.  Each
 * request then picks through an sl_upstream_pick_t:
 *
 *     sl_upstream_pick_init(&pick, group, r);       // or sl_upstream_pick_start()
 *     while (sl_upstream_pick_get(&pick) == SL_OK) {  // SL_BUSY: "no live upstreams"
 *         ... connect to pick.sockaddr; on failure:
 *         sl_upstream_pick_free(&pick, SL_UPSTREAM_PEER_FAILED);
 *         if (pick.tries == 0) break;                 // nginx gives up (502/504)
 *     }
 *     ... at the end of a try that worked: sl_upstream_pick_free(&pick, SL_UPSTREAM_PEER_OK);
 *
 * Each balancer (round robin, least_conn, ip_hash, hash, hash consistent, random) picks
 * exactly what nginx 1.22 picks for the same config, state and input; the unit tests replay
 * sequences recorded from nginx.
 *
 * A peer's numbers (sl_upstream_peer_t) are plain data (the one pointer, to a TLS session,
 * points into the same shared zone when there is one, else is unused), kept apart from its
 * address and names (sl_upstream_peer_addr_t), so a later shared-memory zone can hold the
 * numbers of every worker's peers while each process keeps its own addresses.
 */
#ifndef SL_UPSTREAM_PEER_H
#define SL_UPSTREAM_PEER_H

#include "sl_http.h"
#include "sl_inet.h"

/* Server parameters a balancing method accepts (sl_upstream_group_t.flags). */
#define SL_UPSTREAM_WEIGHT 0x0002
#define SL_UPSTREAM_MAX_FAILS 0x0004
#define SL_UPSTREAM_FAIL_TIMEOUT 0x0008
#define SL_UPSTREAM_DOWN 0x0010
#define SL_UPSTREAM_BACKUP 0x0020
#define SL_UPSTREAM_MAX_CONNS 0x0100

/* How a try ended, for sl_upstream_pick_free(). */
#define SL_UPSTREAM_PEER_OK 0
/** a 403/404 the next-upstream logic moved on from: not held against the peer */
#define SL_UPSTREAM_PEER_NEXT 0x02
#define SL_UPSTREAM_PEER_FAILED 0x04

/* nginx hashes at most this many times before it falls back to round robin. */
#define SL_UPSTREAM_HASH_TRIES 20

/* One peer's numbers: configuration and run-time state (see above). */
typedef struct {
    sl_int_t weight;
    /** the weight round robin uses now: lowered on failures, back up one per pick */
    sl_int_t effective_weight;
    /** smooth weighted round robin's running score */
    sl_int_t current_weight;
    /** connections open to the peer now */
    sl_uint_t conns;
    /** 0: no limit */
    sl_uint_t max_conns;
    sl_uint_t fails;
    /** 0: failures never make the peer unavailable */
    sl_uint_t max_fails;
    /** seconds */
    time_t fail_timeout;
    /** when the last failure happened (seconds) */
    time_t accessed;
    /** when the current fail_timeout window started (last failure, or a probe) */
    time_t checked;
    sl_uint_t down;
    /** the peer's last TLS session (DER) when the group has a shared zone: in the zone's
     * slab, mapped at the same address in every worker (proxy_ssl_session_reuse) */
    u_char *ssl_session;
    size_t ssl_session_len;
} sl_upstream_peer_t;

/* One peer's identity: where to connect, and its names.  Per process. */
typedef struct {
    /** the resolved address; name is "127.0.0.1:8080", "unix:/path" (logs, $upstream_addr) */
    sl_addr_t *addr;
    /** the server directive's address as written ("app.local:8080"): hash consistent's input */
    sl_str_t server;
} sl_upstream_peer_addr_t;

typedef struct sl_upstream_peers_s sl_upstream_peers_t;

/* The primaries or the backups of a group. */
struct sl_upstream_peers_s {
    /** number entries each, same index */
    sl_upstream_peer_t *peer;
    sl_upstream_peer_addr_t *addr;
    sl_uint_t number;
    /** the sum of the weights, down peers included (hash and ip_hash map into it) */
    sl_int_t total_weight;
    /** peers not marked down: what one request may try */
    sl_uint_t tries;
    /** one primary and no backup: round robin skips its bookkeeping */
    unsigned single : 1;
    /** the group's name, for "no live upstreams" */
    sl_str_t *name;
    /** the backups, or NULL */
    sl_upstream_peers_t *next;
};

typedef struct sl_upstream_group_s sl_upstream_group_t;

/* One request's picking.  The fields above "private" are for callers to read. */
typedef struct {
    /** the peer to connect to after SL_OK; name is the group's name after SL_BUSY */
    const struct sockaddr *sockaddr;
    socklen_t socklen;
    const sl_str_t *name;
    /** tries left: the group's peers not down (primaries plus backups), one less per free */
    sl_uint_t tries;

    /* private */
    sl_upstream_group_t *group;
    /** the set picking happens in: the primaries, then (once none is left) the backups */
    sl_upstream_peers_t *peers;
    /** the peer handed out and not freed yet, or -1 */
    sl_int_t current;
    /** one bit per peer of the current set: tried by this request */
    uintptr_t *tried;
    uintptr_t tried_bits;
    /** "upstream server temporarily disabled" goes here; may be NULL */
    sl_log_t *log;

    /** hash: the key; ip_hash: the client address bytes used */
    sl_str_t key;
    u_char addr[16];
    size_t addrlen;
    /** hash / ip_hash / consistent: the running hash value, the rehash count */
    uint32_t hash;
    sl_uint_t rehash;
    /** hash, ip_hash, consistent, random: failed draws so far (SL_UPSTREAM_HASH_TRIES) */
    sl_uint_t hash_tries;
} sl_upstream_pick_t;

/* A balancing method. */
typedef struct {
    const char *name;
    /** the server parameters it accepts: SL_UPSTREAM_* */
    sl_uint_t flags;
    /** after the peers are built: its own tables (the consistent ring, random's ranges) */
    sl_int_t (*init_group)(sl_conf_t *cf, sl_upstream_group_t *g);
    /** per request, after the round robin part is set up */
    sl_int_t (*init_pick)(sl_upstream_pick_t *pk);
    /** SL_OK with pk->sockaddr set, or SL_BUSY */
    sl_int_t (*get)(sl_upstream_pick_t *pk);
} sl_upstream_balancer_t;

extern const sl_upstream_balancer_t sl_upstream_round_robin;
extern const sl_upstream_balancer_t sl_upstream_least_conn;
extern const sl_upstream_balancer_t sl_upstream_ip_hash;
extern const sl_upstream_balancer_t sl_upstream_hash;
extern const sl_upstream_balancer_t sl_upstream_chash;
extern const sl_upstream_balancer_t sl_upstream_random;
extern const sl_upstream_balancer_t sl_upstream_random_two;

/*
 * Builds the group's peers from its servers, then the balancer's tables.  SL_OK, or
 * SL_ERROR after logging ("no servers in upstream \"NAME\" in FILE:LINE" when every server is
 * a backup).  Done for every group at the end of the http block.
 */
sl_int_t sl_upstream_group_init(sl_conf_t *cf, sl_upstream_group_t *g);

/*
 * Starts picking for request r: the hash key is evaluated, ip_hash reads the client's
 * address.  Memory comes from r->pool.  SL_OK or SL_ERROR.
 */
sl_int_t sl_upstream_pick_init(sl_upstream_pick_t *pk, sl_upstream_group_t *g,
                               sl_http_request_t *r);
/*
 * The same with the inputs given directly: key (hash; NULL or empty: round robin, as nginx
 * does for an empty key) and client (ip_hash; NULL hashes as nginx hashes a unix-socket
 * client).  The tried bitmap of a group over 64 peers comes from pool.
 */
sl_int_t sl_upstream_pick_start(sl_upstream_pick_t *pk, sl_upstream_group_t *g, sl_pool_t *pool,
                                const sl_str_t *key, const struct sockaddr *client, sl_log_t *log);
/*
 * Picks the next peer (free the previous one first).  SL_OK: pk->sockaddr, socklen and name
 * are set and the peer counts one more connection until sl_upstream_pick_free().  SL_BUSY:
 * every peer is down, failed, full or already tried ("no live upstreams"); pk->name is the
 * group's name.
 */
sl_int_t sl_upstream_pick_get(sl_upstream_pick_t *pk);
/*
 * Ends the try of the peer the last get returned: state is SL_UPSTREAM_PEER_OK, _NEXT
 * (not held against it) or _FAILED (counts towards max_fails; the peer is skipped for
 * fail_timeout once it reaches them).  One try less (none left after a lone peer).  Does
 * nothing when no peer is out.
 */
void sl_upstream_pick_free(sl_upstream_pick_t *pk, sl_uint_t state);

/* Whether this request already tried peer i of the current set. */
int sl_upstream_pick_tried(const sl_upstream_pick_t *pk, sl_uint_t i);

/* ---- for the balancers (sl_upstream_*.c) ---- */

/* Round robin's get: the default, and every other balancer's fallback. */
sl_int_t sl__upstream_rr_get(sl_upstream_pick_t *pk);
/* Whether peer p may be picked now: not down, not failed within fail_timeout, not full. */
int sl__upstream_peer_usable(const sl_upstream_peer_t *p, time_t now);
/* Hands peer i of the current set out: address, one more connection, tried, and the start
 * of a fail_timeout window when the last one is over (the probe after a failure). */
void sl__upstream_pick_take(sl_upstream_pick_t *pk, sl_uint_t i, time_t now);
/*
 * One step of smooth weighted round robin over the untried usable peers of the current set
 * from index `from` on that `filter` accepts (NULL: all).  Returns the chosen index, or -1.
 */
typedef int (*sl__upstream_peer_filter_pt)(const sl_upstream_pick_t *pk, sl_uint_t i,
                                           const void *data);
sl_int_t sl__upstream_swrr(sl_upstream_pick_t *pk, sl_uint_t from,
                           sl__upstream_peer_filter_pt filter, const void *data, time_t now);
/* No peer left in the primaries: move on to the backups (tried bits cleared).  1 if there
 * are backups to try, 0 if not (pk->name is then set for SL_BUSY). */
int sl__upstream_pick_backups(sl_upstream_pick_t *pk);
/* The peer whose weight range holds w (0 <= w < total_weight), as hash and ip_hash map. */
sl_uint_t sl__upstream_peer_by_weight(const sl_upstream_peers_t *peers, sl_uint_t w);

#endif /* SL_UPSTREAM_PEER_H */
