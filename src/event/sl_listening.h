/*
 * sl_listening.h: listening sockets that outlive a cycle or a process (reuseport per
 * worker, reload, binary upgrade).
 */
#ifndef SL_LISTENING_H
#define SL_LISTENING_H

#include "sl_conn.h"

/* The per-socket TCP options of "listen" (so_keepalive, fastopen, deferred), for a socket
 * opened now or taken over at a reload (an option dropped from the config is undone where
 * it can be: TCP_DEFER_ACCEPT).  Failures are logged, as nginx, and ignored. */
void sl_listening_set_tcp_options(sl_listening_t *ls, int s, sl_log_t *log);

/* listen ... reuseport: one entry (socket) per worker; the http module made worker 0's. */
sl_int_t sl_clone_reuseport_listening(sl_cycle_t *cycle, sl_uint_t workers);
/* In worker n: closes the reuseport sockets of the other workers (the master keeps them). */
void sl_close_other_workers_sockets(sl_cycle_t *cycle, sl_uint_t worker);

/*
 * Reload: each entry of the new cycle takes the open socket of an equal entry (address,
 * reuseport, worker) of the old one, so no queued connection is lost; `previous` records
 * where it came from until sl_listening_done() or sl_give_back_listening().
 */
void sl_take_over_listening(sl_cycle_t *cycle, sl_cycle_t *old);
/* The reload failed: sockets go back to the old cycle; the ones opened for it are closed. */
void sl_give_back_listening(sl_cycle_t *cycle);
/* The reload succeeded: forgets the old entries, logs through the new cycle's log. */
void sl_listening_done(sl_cycle_t *cycle);

/*
 * Start-up after a binary upgrade (or from a running nginx): adopts the descriptors listed
 * in $SLUICE or $NGINX ("fd;fd;") for the entries with their addresses, closes the others.
 * Returns 1 when at least one socket was inherited.
 */
int sl_inherit_listening(sl_cycle_t *cycle);
/* The environment for a new binary: environ_in plus SLUICE= and NGINX= listing our sockets
 * (pool memory; NULL on allocation failure). */
char **sl_listening_environment(sl_cycle_t *cycle, char **environ_in);
/* In the child about to exec the new binary: the sockets survive execve(). */
void sl_listening_keep_on_exec(sl_cycle_t *cycle);

#endif /* SL_LISTENING_H */
