/*
 * sl_upstream_state.h: the upstream machine's states and its table, types only (the
 * functions that move an upstream through it are in sl_upstream.h, beside sl_upstream_t).
 *
 * One row per state says everything the state means outside its handler: the states it
 * may follow, the log's "while ..." actions while in it, and the timers it runs with which
 * timeout.  sl__upstream_set_state() is the only way in or out of a state; the pipe, the
 * tunnel and the client's handlers take their words and timeouts from the current row.
 */
#ifndef SL_UPSTREAM_STATE_H
#define SL_UPSTREAM_STATE_H

#include "sl_core.h"

/*
 * In the order of a try.  A state to come is one value here and one row in
 * sl_upstream_state.c (with its name in the `from` of the rows it leads to): a cache
 * LOOKUP and SERVE before CONNECT.
 */
typedef enum {
    SL_UPSTREAM_INIT = 0,
    /** a cache file answers (a HIT, a stale answer, a 304 that revalidated it) */
    SL_UPSTREAM_CACHE_SEND,
    SL_UPSTREAM_CONNECT,
    /** TLS to the upstream: the handshake on a new connection (sl_upstream_ssl.c) */
    SL_UPSTREAM_HANDSHAKE,
    SL_UPSTREAM_SEND_REQUEST,
    SL_UPSTREAM_READ_HEADER,
    SL_UPSTREAM_SEND_RESPONSE_HEADER,
    SL_UPSTREAM_BODY_UNBUFFERED,
    SL_UPSTREAM_BODY_BUFFERED,
    /** a 101 answered an Upgrade: both connections are a tunnel (sl_upstream_upgrade.c) */
    SL_UPSTREAM_TUNNEL,
    SL_UPSTREAM_DONE,
    SL_UPSTREAM_NSTATES
} sl_upstream_state_e;

#define SL_UPSTREAM_STATE_BIT(st) ((sl_uint_t) 1 << (st))

/* Which timeout a timer runs with. */
typedef enum {
    SL_UPSTREAM_NO_TIMER = 0,
    /** proxy_connect_timeout */
    SL_UPSTREAM_CONNECT_TIMEOUT,
    /** proxy_send_timeout */
    SL_UPSTREAM_SEND_TIMEOUT,
    /** proxy_read_timeout */
    SL_UPSTREAM_READ_TIMEOUT,
    /** send_timeout: the client's (the http core's location conf) */
    SL_UPSTREAM_CLIENT_SEND_TIMEOUT
} sl_upstream_timeout_e;

typedef struct {
    /** "READ_HEADER": the enum's name, for the log */
    const char *name;
    /** the states this one may be entered from: SL_UPSTREAM_STATE_BIT()s */
    sl_uint_t from;
    /** the log's action while the upstream side works: set on entry and on each upstream
     * event (NULL: no " while ...") */
    const char *action;
    /** the action while the client side is written: the pipe's writes, a client timeout */
    const char *client_action;
    /** the action a client's close is reported with (nginx 1.22's) */
    const char *abort_action;
    /** the timers of the upstream connection's read and write events, and of the client's
     * write event */
    sl_upstream_timeout_e read_timer;
    sl_upstream_timeout_e write_timer;
    sl_upstream_timeout_e client_timer;
    /** entering the state arms read_timer and write_timer; otherwise they run only while
     * the state waits (sl__upstream_arm_timer), and entering removes the previous state's */
    uint8_t arm_on_entry;
} sl_upstream_state_row_t;

/* The row of st; NULL for a value that is no state. */
const sl_upstream_state_row_t *sl_upstream_state_row(sl_upstream_state_e st);
/* Whether the table lets an upstream go from one state to the other (0 for a value that
 * is no state). */
int sl_upstream_state_edge_ok(sl_upstream_state_e from, sl_upstream_state_e to);

#endif /* SL_UPSTREAM_STATE_H */
