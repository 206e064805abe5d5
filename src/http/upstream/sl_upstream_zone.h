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

#endif /* SL_UPSTREAM_ZONE_H */
