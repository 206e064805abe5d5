/*
 * sl_upstream_zone.h: "zone NAME [SIZE]": an upstream group's peer state in shared memory.
 */
#ifndef SL_UPSTREAM_ZONE_H
#define SL_UPSTREAM_ZONE_H

#include "sl_upstream_group.h"

/* The zone directive (upstream{} context). */
char *sl__upstream_zone_directive(sl_conf_t *cf, sl_command_t *cmd, void *conf);
/*
 * Once every group is built: maps each zone that has a size, lays a slab pool in it, and
 * moves the peer numbers of its groups there (a group whose zone has no size keeps them per
 * worker).  SL_OK, or SL_ERROR after logging.  The mappings go with the cycle's pool.
 */
sl_int_t sl__upstream_zones_init(sl_conf_t *cf, sl_upstream_main_conf_t *umcf);
/* Around picks and releases: the zone's lock (nothing without a zone). */
void sl_upstream_zone_lock(sl_upstream_group_t *g);
void sl_upstream_zone_unlock(sl_upstream_group_t *g);

/*
 * proxy_ssl_session_reuse with a shared zone: the new TLS connection c to the peer pick
 * handed out offers the peer's session kept in the zone (the last one any worker got), and
 * the sessions it gets replace it.  SL_OK, SL_DECLINED (the group has no shared zone: the
 * caller keeps sessions per worker) or SL_ERROR (logged).
 */
sl_int_t sl_upstream_zone_ssl_session(sl_upstream_pick_t *pick, sl_connection_t *c);

#endif /* SL_UPSTREAM_ZONE_H */
