/*
 * sl_upstream_keepalive.h: the idle connection cache of an upstream group ("keepalive N").
 */
#ifndef SL_UPSTREAM_KEEPALIVE_H
#define SL_UPSTREAM_KEEPALIVE_H

#include "sl_upstream_peer.h"

typedef struct sl_upstream_keepalive_s sl_upstream_keepalive_t;

/* keepalive N; keepalive_requests N; keepalive_time T; keepalive_timeout T (upstream{}). */
char *sl__upstream_keepalive_directive(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl__upstream_keepalive_requests_directive(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl__upstream_keepalive_time_directive(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl__upstream_keepalive_timeout_directive(sl_conf_t *cf, sl_command_t *cmd, void *conf);

/*
 * An idle connection to the peer at sa kept by the group, taken out of the cache (its
 * timer stopped, logging to log), or NULL.  The caller installs its handlers.
 */
sl_connection_t *sl_upstream_keepalive_get(sl_upstream_group_t *g, const struct sockaddr *sa,
                                           socklen_t socklen, sl_log_t *log);
/*
 * A try that ended cleanly offers its connection: kept (1: the caller must forget it) unless
 * the group keeps none, the connection reached keepalive_requests or keepalive_time, the
 * process is stopping, or bytes or an EOF are waiting on it (0: the caller closes it).
 */
int sl_upstream_keepalive_save(sl_upstream_group_t *g, sl_connection_t *c);

#endif /* SL_UPSTREAM_KEEPALIVE_H */
