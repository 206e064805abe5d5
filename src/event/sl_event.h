/*
 * sl_event.h: events, the loop, timers and posted events.
 *
 * Each connection is registered once with epoll, edge-triggered, for both directions.  An
 * event's `ready` says the kernel reported readiness that has not been used up (we read or
 * write until EAGAIN, which clears it).  Every wait has a timer; a timer that fires calls
 * the event's handler with `timedout` set.
 */
#ifndef SL_EVENT_H
#define SL_EVENT_H

#include "sl_core.h"
#include "sl_log.h"
#include "sl_queue.h"
#include "sl_time.h"

typedef void (*sl_event_handler_pt)(sl_event_t *ev);

struct sl_event_s {
    /** the connection (or other owner) */
    void *data;
    sl_event_handler_pt handler;
    sl_log_t *log;

    /** expiry in sl_current_msec terms, valid while timer_set */
    sl_msec_t timer_key;
    /** insertion order, so equal expiries fire first-in first-out */
    uint64_t timer_seq;
    /** where the timer sits while timer_set; timer_lane says which member is live */
    union {
        /** slot in the timer heap (timer_lane == 0) */
        sl_uint_t timer_index;
        /** link in the lane's list of timers (timer_lane > 0) */
        sl_queue_t timer_link;
    };

    /** link in the posted queue */
    sl_queue_t queue;

    unsigned write : 1;
    /** a listening socket's read event */
    unsigned accept : 1;
    /** registered with epoll */
    unsigned active : 1;
    /** readiness reported and not yet used up */
    unsigned ready : 1;
    /** the peer closed its side (read) */
    unsigned eof : 1;
    /** EPOLLRDHUP seen: eof will follow once the buffered bytes are read */
    unsigned pending_eof : 1;
    unsigned error : 1;
    unsigned timedout : 1;
    unsigned timer_set : 1;
    /** 0: the timer is on the heap; n: on lane n - 1 (sl_timer.c has at most 31 lanes) */
    unsigned timer_lane : 5;
    /** a timer that must not keep a gracefully stopping process alive */
    unsigned cancelable : 1;
    unsigned posted : 1;
    /** rate limiting holds this event back */
    unsigned delayed : 1;
    unsigned closed : 1;
};

/* The event loop of this process. */
sl_int_t sl_loop_init(sl_log_t *log, sl_uint_t max_events);
void sl_loop_done(void);

/* Registers a connection's fd for both directions, edge-triggered.  SL_OK or SL_ERROR. */
sl_int_t sl_loop_add_connection(sl_connection_t *c);
/* Registers a listening fd for accept readiness (level-triggered; exclusive when asked). */
sl_int_t sl_loop_add_listen(sl_connection_t *c, int exclusive);
/* Removes an fd before it is closed when something else still holds it (fork, dup). */
sl_int_t sl_loop_del_connection(sl_connection_t *c);

/*
 * One iteration, in this order: wait for I/O (at most until the next timer or timeout_ms,
 * -1 for no bound), update the clock, run I/O handlers, expire timers, run posted events,
 * free connections closed during the iteration.
 */
void sl_process_events_and_timers(sl_msec_t timeout_ms);

/* Timers. */
void sl_add_timer(sl_event_t *ev, sl_msec_t timer);
void sl_del_timer(sl_event_t *ev);
/* Milliseconds until the next timer, or (sl_msec_t) -1 when there is none. */
sl_msec_t sl_timer_find(void);
void sl_expire_timers(void);
sl_uint_t sl_timer_count(void);
/* True when every timer left is cancelable (graceful stop can finish). */
int sl_timers_only_cancelable(void);
/* Fires every cancelable timer now (graceful stop). */
void sl_cancel_timers(void);
/* Releases the heap and empties the lanes (process exit, tests). */
void sl__timers_free(void);

/* For a direction nobody waits on: readiness is recorded in `ready` and nothing runs. */
void sl_event_empty_handler(sl_event_t *ev);

/* Posted events run after the current batch of I/O events. */
void sl_post_event(sl_event_t *ev);
/* Posted to run in the next pass of the loop, after a poll that does not wait: a handler
 * that stopped by choice (sendfile_max_chunk) resumes without holding the others back. */
void sl_post_event_next(sl_event_t *ev);
void sl_delete_posted_event(sl_event_t *ev);
void sl_run_posted_events(void);

#endif /* SL_EVENT_H */
