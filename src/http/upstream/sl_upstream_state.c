/*
 * sl_upstream_state.c: the upstream machine's table and the one function that moves an
 * upstream from state to state (sl_upstream_state.h says what a row holds).
 *
 * The handlers still decide what to do next by u->state (where nginx swaps handler
 * pointers); what a state means to the rest of the request (the log's wording, which
 * timers run with which timeout) is read from here, so a change of wording or of timer is
 * a change of one cell, and a new state (TLS HANDSHAKE, cache LOOKUP and SERVE) one row.
 */
#include "sl_upstream.h"

/* nginx 1.22's words for what the upstream is doing (the log's "while ..."), which the
 * logs keep word for word */
#define CONNECTING "connecting to upstream"
#define HANDSHAKING "SSL handshaking to upstream"
#define SENDING_REQUEST "sending request to upstream"
#define READING_HEADER "reading response header from upstream"
#define READING_BODY "reading upstream"
#define SENDING_TO_CLIENT "sending to client"
#define UPGRADED "proxying upgraded connection"

#define FROM(st) SL_UPSTREAM_STATE_BIT(SL_UPSTREAM_##st)
/* the states of a try: a failure in any of them may go on to the next peer (CONNECT) */
#define TRYING (FROM(CONNECT) | FROM(HANDSHAKE) | FROM(SEND_REQUEST) | FROM(READ_HEADER))
#define ANY_BUT_DONE (SL_UPSTREAM_STATE_BIT(SL_UPSTREAM_DONE) - 1)
_Static_assert(SL_UPSTREAM_DONE == SL_UPSTREAM_NSTATES - 1, "ANY_BUT_DONE: DONE is the last");

#define NONE SL_UPSTREAM_NO_TIMER
#define CONN SL_UPSTREAM_CONNECT_TIMEOUT
#define SEND SL_UPSTREAM_SEND_TIMEOUT
#define READ SL_UPSTREAM_READ_TIMEOUT
#define CLIENT_SEND SL_UPSTREAM_CLIENT_SEND_TIMEOUT
/* read and write timers armed on entry, or only while the state waits */
#define ENTRY 1
#define WAITS 0

#define ROW(st, from, action, client_action, abort_action, rd, wr, cl, armed)                      \
    [SL_UPSTREAM_##st] = { #st, from, action, client_action, abort_action, rd, wr, cl, armed }

/*
 * One row per state.  A state to come is one more line here (with its enum value, and its
 * name in the `from` of the states it leads to); set_state, the timers, the actions need
 * nothing else.  A cache LOOKUP is entered from INIT (FROM(LOOKUP) in CONNECT's row, for
 * a miss) and SERVE from LOOKUP.
 *
 * Why the cells are what they are:
 * - CONNECT is first entered with no connection, so that a failed connect() is logged with
 *   its action; sl__upstream_state_timers() arms the timer once connect() gave one.
 * - HANDSHAKE (TLS on a new connection) runs under proxy_connect_timeout, as nginx: the
 *   write timer, armed on entry, bounds the whole handshake whichever way it waits.
 * - SEND_REQUEST arms proxy_send_timeout only while the request cannot go out: a request
 *   sent in one write (the common case, on a kept connection) costs no timer.
 * - READ_HEADER: one timer for the whole header, as nginx; not re-armed as pieces arrive.
 * - BODY_UNBUFFERED re-arms at each wait for the upstream.  The client's writes have no
 *   timer of their own (nginx arms send_timeout there): a client that stops reading keeps
 *   the upstream until proxy_read_timeout.
 * - BODY_BUFFERED and TUNNEL: the pipe and the tunnel run the timers as they wait (none on
 *   the client's reads).  The pipe logs its reads with the action and its writes with the
 *   client action.
 * - The abort action (a client's close, reported as nginx 1.22 does) lags where nginx sets
 *   its action late: during an unbuffered body nginx is writing to the client first;
 *   during READ_HEADER before any byte of the header it is still sending the request
 *   (sl_upstream.c's abort_action() takes SEND_REQUEST's row then).  Once the upstream is
 *   let go, DONE's row.  INIT, SEND_RESPONSE_HEADER and TUNNEL never see a client's close
 *   (the first two end within the call that entered them, the tunnel reads the client
 *   itself): they keep the wording the old default had.
 * - SEND_RESPONSE_HEADER keeps READ_HEADER's action, as nginx: what the header filters log
 *   (the charset filter's "unknown charset") reads "while reading response header from
 *   upstream".  DONE has none: nothing of the upstream's is going on.
 */
// clang-format off
static const sl_upstream_state_row_t rows[SL_UPSTREAM_NSTATES] = {
    /*  state                 from                        action           client action      abort action       read  write client       armed */
    ROW(INIT,                 0,                          NULL,            NULL,              SENDING_REQUEST,   NONE, NONE, NONE,        WAITS),
    ROW(CACHE_SEND,           FROM(INIT) | TRYING, NULL,      SENDING_TO_CLIENT, SENDING_TO_CLIENT, NONE, NONE, NONE,        WAITS),
    ROW(CONNECT,              FROM(INIT) | TRYING,        CONNECTING,      NULL,              CONNECTING,        NONE, CONN, NONE,        ENTRY),
    ROW(HANDSHAKE,            FROM(CONNECT),              HANDSHAKING,     NULL,              HANDSHAKING,       NONE, CONN, NONE,        ENTRY),
    ROW(SEND_REQUEST,         FROM(CONNECT) | FROM(HANDSHAKE), SENDING_REQUEST, NULL,         SENDING_REQUEST,   NONE, SEND, NONE,        WAITS),
    ROW(READ_HEADER,          FROM(SEND_REQUEST),         READING_HEADER,  NULL,              READING_HEADER,    READ, NONE, NONE,        ENTRY),
    ROW(SEND_RESPONSE_HEADER, FROM(READ_HEADER),          READING_HEADER,  NULL,              SENDING_REQUEST,   NONE, NONE, NONE,        WAITS),
    ROW(BODY_UNBUFFERED,      FROM(SEND_RESPONSE_HEADER), READING_BODY,    SENDING_TO_CLIENT, SENDING_TO_CLIENT, READ, NONE, NONE,        ENTRY),
    ROW(BODY_BUFFERED,        FROM(SEND_RESPONSE_HEADER), READING_BODY,    SENDING_TO_CLIENT, READING_BODY,      READ, NONE, CLIENT_SEND, WAITS),
    ROW(TUNNEL,               FROM(SEND_RESPONSE_HEADER), UPGRADED,        UPGRADED,          SENDING_REQUEST,   READ, SEND, CLIENT_SEND, WAITS),
    ROW(DONE,                 ANY_BUT_DONE,               NULL,            SENDING_TO_CLIENT, SENDING_TO_CLIENT, NONE, NONE, NONE,        WAITS),
};
// clang-format on

const sl_upstream_state_row_t *sl_upstream_state_row(sl_upstream_state_e st)
{
    return (unsigned) st < SL_UPSTREAM_NSTATES ? &rows[st] : NULL;
}

int sl_upstream_state_edge_ok(sl_upstream_state_e from, sl_upstream_state_e to)
{
    const sl_upstream_state_row_t *row = sl_upstream_state_row(to);

    return row && sl_upstream_state_row(from) && (row->from & SL_UPSTREAM_STATE_BIT(from));
}

static const char *state_name(sl_upstream_state_e st)
{
    const sl_upstream_state_row_t *row = sl_upstream_state_row(st);

    return row ? row->name : "(none)";
}

/* Inline in the functions below: every request changes state five times or more. */
static inline sl_msec_t timeout_of(sl_upstream_t *u, sl_upstream_timeout_e t)
{
    sl_http_core_loc_conf_t *clcf;

    switch (t) {
    case SL_UPSTREAM_CONNECT_TIMEOUT:
        return u->conf->connect_timeout;
    case SL_UPSTREAM_SEND_TIMEOUT:
        return u->conf->send_timeout;
    case SL_UPSTREAM_READ_TIMEOUT:
        return u->conf->read_timeout;
    case SL_UPSTREAM_CLIENT_SEND_TIMEOUT:
        clcf = sl_http_get_module_loc_conf(u->request, sl_http_core_module);
        return clcf->send_timeout;
    default:
        return 0;
    }
}

sl_msec_t sl__upstream_timeout(sl_upstream_t *u, sl_upstream_timeout_e t)
{
    return timeout_of(u, t);
}

/* Entering row's state: the previous state's timers go, row's arm on entry.  The checks of
 * timer_set keep the usual case (nothing to remove) free of calls. */
static inline void enter_timers(sl_upstream_t *u, const sl_upstream_state_row_t *row)
{
    sl_connection_t *c = u->peer.connection;

    if (c == NULL) {
        return;
    }
    if (c->read->timer_set) {
        sl_del_timer(c->read);
    }
    if (c->write->timer_set) {
        sl_del_timer(c->write);
    }
    if (!row->arm_on_entry) {
        return;
    }
    if (row->read_timer != SL_UPSTREAM_NO_TIMER) {
        sl_add_timer(c->read, timeout_of(u, row->read_timer));
    }
    if (row->write_timer != SL_UPSTREAM_NO_TIMER) {
        sl_add_timer(c->write, timeout_of(u, row->write_timer));
    }
}

void sl__upstream_state_timers(sl_upstream_t *u)
{
    const sl_upstream_state_row_t *row = sl_upstream_state_row(u->state);

    if (row) {
        enter_timers(u, row);
    }
}

/* A refused edge: a bug, logged with the states' names.  Out of the way of the usual path. */
static __attribute__((noinline, cold)) sl_int_t refuse(sl_upstream_t *u, sl_upstream_state_e st)
{
    sl_log_error(SL_LOG_ALERT, u->request->connection->log, 0,
                 "upstream state change from %s to %s refused", state_name(u->state),
                 state_name(st));
    return SL_ERROR;
}

sl_int_t sl__upstream_set_state(sl_upstream_t *u, sl_upstream_state_e st)
{
    if ((unsigned) st >= SL_UPSTREAM_NSTATES || (unsigned) u->state >= SL_UPSTREAM_NSTATES
        || !(rows[st].from & SL_UPSTREAM_STATE_BIT(u->state))) {
        return refuse(u, st);
    }
    u->state = st;
    u->request->connection->log->action = rows[st].action;
    enter_timers(u, &rows[st]);
    return SL_OK;
}

/* Which of the current state's timers ev runs: the upstream connection's read or write
 * event, or the client's write event. */
static sl_upstream_timeout_e timer_of(sl_upstream_t *u, const sl_event_t *ev)
{
    const sl_upstream_state_row_t *row = sl_upstream_state_row(u->state);
    sl_connection_t *pc = u->peer.connection;

    if (row == NULL) {
        return SL_UPSTREAM_NO_TIMER;
    }
    if (pc && ev == pc->read) {
        return row->read_timer;
    }
    if (pc && ev == pc->write) {
        return row->write_timer;
    }
    return ev == u->request->connection->write ? row->client_timer : SL_UPSTREAM_NO_TIMER;
}

void sl__upstream_arm_timer(sl_upstream_t *u, sl_event_t *ev, int waiting)
{
    sl_upstream_timeout_e t = timer_of(u, ev);

    if (waiting && t != SL_UPSTREAM_NO_TIMER) {
        sl_add_timer(ev, sl__upstream_timeout(u, t));
        return;
    }
    sl_del_timer(ev);
}
