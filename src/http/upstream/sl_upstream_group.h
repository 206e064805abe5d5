/*
 * sl_upstream_group.h: upstream groups, "upstream NAME { server ...; }" in the http block,
 * and the implicit one-server groups proxy_pass makes of "http://host:port".
 *
 * Wiring for proxy_pass (issue #5, after the proxy's next-upstream work lands), as nginx does:
 *   - "proxy_pass http://NAME" without a port: sl_upstream_group_find(cf, NAME) first; a group
 *     found is used whatever the order of the blocks (call it at merge or postconfiguration
 *     time, when every upstream{} block has been read);
 *   - with a port, or no group of that name: sl_upstream_group_implicit() on the parsed URL;
 *     a group named like that host with a port is nginx's
 *     "upstream \"NAME\" may not have port N" error.
 * Then per request sl_upstream_pick_init() and the loop in sl_upstream_peer.h.
 */
#ifndef SL_UPSTREAM_GROUP_H
#define SL_UPSTREAM_GROUP_H

#include "sl_http_variables.h"
#include "sl_upstream_peer.h"

/* One "server" line. */
typedef struct {
    /** the address as written: "app.local:8080", "unix:/run/app.sock" */
    sl_str_t name;
    sl_addr_t *addrs;
    sl_uint_t naddrs;
    sl_int_t weight;
    sl_uint_t max_conns;
    sl_uint_t max_fails;
    time_t fail_timeout;
    unsigned backup : 1;
    unsigned down : 1;
} sl_upstream_server_t;

struct sl_upstream_group_s {
    sl_str_t name;
    /** where the upstream{} block (or the proxy_pass of an implicit group) is */
    const char *file_name;
    sl_uint_t line;
    /** sl_upstream_server_t */
    sl_array_t *servers;
    /** the server parameters the balancing method accepts: SL_UPSTREAM_* */
    sl_uint_t flags;
    /** NULL until a balancing directive: round robin */
    const sl_upstream_balancer_t *balancer;
    /** hash and hash consistent: the key, evaluated per request */
    sl_http_complex_value_t *key;
    /** the balancer's own tables: the consistent ring, random's weight ranges */
    void *balancer_data;
    /** random's source of numbers: random(3), as nginx; tests set their own */
    long (*random)(void);
    sl_upstream_peers_t *peers;
    /** keepalive N: the idle connection cache (per worker); NULL without */
    struct sl_upstream_keepalive_s *keepalive;
    /** zone NAME SIZE: the peer numbers live in this shared zone; NULL: per worker */
    struct sl_upstream_zone_s *zone;
    /** made by proxy_pass for "http://host:port", not by an upstream{} block */
    unsigned implicit : 1;
    /** the port of an implicit group (0 for unix sockets) */
    int port;
};

/* The upstream{} module's main conf: every group of the http block. */
typedef struct sl_upstream_zone_s sl_upstream_zone_t;

typedef struct {
    /** sl_upstream_group_t * */
    sl_array_t groups;
    /** sl_upstream_zone_t *: the zones the groups name */
    sl_array_t zones;
} sl_upstream_main_conf_t;

extern sl_module_t sl_http_upstream_module;

/* The upstream{} group called name (case-insensitive, as nginx), or NULL. */
sl_upstream_group_t *sl_upstream_group_find(sl_conf_t *cf, const sl_str_t *name);
/* At run time, for a url with variables: the group named host, as nginx matches it (an
 * upstream{} block when the url has no port; an implicit group of the same host and port). */
sl_upstream_group_t *sl_upstream_group_for_host(sl_http_request_t *r, const sl_str_t *host,
                                                int port, int no_port);
/* The same on a loaded cycle (tests, run time).  NULL when absent or no http block. */
sl_upstream_group_t *sl_upstream_cycle_group(sl_cycle_t *cycle, const sl_str_t *name);

/*
 * The implicit group of a proxy_pass URL already parsed and resolved (u->host, u->port,
 * u->addrs): one peer per address, round robin, weight 1, max_fails 1, fail_timeout 10s, as
 * nginx.  Two proxy_pass with the same host and port share one group, and so its failure
 * counts.  Its peers are built at once.  NULL on error (logged).
 */
sl_upstream_group_t *sl_upstream_group_implicit(sl_conf_t *cf, const sl_url_t *u);

/* Sets the group's balancing method (warning "load balancing method redefined" as nginx
 * when one was set already) and the server parameters it accepts. */
void sl__upstream_group_set_balancer(sl_conf_t *cf, sl_upstream_group_t *g,
                                     const sl_upstream_balancer_t *b);

/* The balancing directives (their balancer files). */
char *sl__upstream_least_conn_directive(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl__upstream_ip_hash_directive(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl__upstream_hash_directive(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl__upstream_random_directive(sl_conf_t *cf, sl_command_t *cmd, void *conf);

#endif /* SL_UPSTREAM_GROUP_H */
