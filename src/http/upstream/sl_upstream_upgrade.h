/*
 * sl_upstream_upgrade.h: the tunnel a 101 Switching Protocols opens (WebSocket and other
 * Upgrade protocols): bytes go both ways unchanged until either side closes.
 */
#ifndef SL_UPSTREAM_UPGRADE_H
#define SL_UPSTREAM_UPGRADE_H

#include "sl_upstream.h"

/*
 * Called once the 101 went into the output filters (u->state SL_UPSTREAM_TUNNEL): takes
 * over both connections' events and relays until the end, then ends the request through
 * u's finalize (the access log is written then, with the 101).  Bytes the upstream sent
 * behind its header, and the client behind its request, are relayed first.
 */
void sl_upstream_tunnel_start(sl_http_request_t *r, sl_upstream_t *u);

#endif /* SL_UPSTREAM_UPGRADE_H */
