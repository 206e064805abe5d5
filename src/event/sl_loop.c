/*
 * sl_loop.c: the epoll loop and posted events.
 *
 * The order of one iteration is spelled out in sl_process_events_and_timers(): wait, update
 * the clock, run I/O handlers, expire timers, run posted events, free what was closed.
 */
#include <sys/epoll.h>

#include "sl_conn.h"
#include "sl_event.h"

static int ep = -1;
static struct epoll_event *event_list;
static int nevents;
static sl_queue_t posted_events;
static sl_queue_t posted_next_events;
static sl_log_t *loop_log;

sl_int_t sl_loop_init(sl_log_t *log, sl_uint_t max_events)
{
    loop_log = log;
    sl_queue_init(&posted_events);
    sl_queue_init(&posted_next_events);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep == -1) {
        sl_log_error(SL_LOG_EMERG, log, errno, "epoll_create() failed");
        return SL_ERROR;
    }
    nevents = (int) sl_max(sl_min(max_events, 512), 1);
    event_list = calloc((size_t) nevents, sizeof(struct epoll_event));
    if (event_list == NULL) {
        sl_log_error(SL_LOG_EMERG, log, errno, "calloc() failed");
        return SL_ERROR;
    }
    sl_time_update();
    return SL_OK;
}

void sl_loop_done(void)
{
    if (ep != -1) {
        close(ep);
        ep = -1;
    }
    free(event_list);
    event_list = NULL;
    sl__timers_free();
}

static sl_int_t epoll_add(sl_connection_t *c, uint32_t events)
{
    struct epoll_event ee = { .events = events,
                              .data.ptr = (void *) ((uintptr_t) c | c->instance) };

    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ee) == -1) {
        sl_log_error(SL_LOG_ALERT, c->log, errno, "epoll_ctl(%d, %d) failed", EPOLL_CTL_ADD, c->fd);
        return SL_ERROR;
    }
    c->read->active = 1;
    c->write->active = 1;
    return SL_OK;
}

sl_int_t sl_loop_add_connection(sl_connection_t *c)
{
    return epoll_add(c, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
}

sl_int_t sl_loop_add_listen(sl_connection_t *c, int exclusive)
{
    if (epoll_add(c, EPOLLIN | (exclusive ? EPOLLEXCLUSIVE : 0)) != SL_OK) {
        return SL_ERROR;
    }
    c->write->active = 0;
    return SL_OK;
}

sl_int_t sl_loop_del_connection(sl_connection_t *c)
{
    if (!c->read->active && !c->write->active) {
        return SL_OK;
    }
    c->read->active = 0;
    c->write->active = 0;
    if (epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL) == -1) {
        sl_log_error(SL_LOG_ALERT, c->log, errno, "epoll_ctl(%d, %d) failed", EPOLL_CTL_DEL, c->fd);
        return SL_ERROR;
    }
    return SL_OK;
}

static void dispatch_read(sl_connection_t *c, uint32_t revents)
{
    sl_event_t *rev = c->read;

    if (!(revents & (EPOLLIN | EPOLLRDHUP)) || !rev->active || c->destroyed) {
        return;
    }
    if (revents & EPOLLRDHUP) {
        rev->pending_eof = 1;
    }
    rev->ready = 1;
    rev->handler(rev);
}

static void dispatch_write(sl_connection_t *c, uint32_t revents)
{
    sl_event_t *wev = c->write;

    if (!(revents & EPOLLOUT) || !wev->active || c->destroyed) {
        return;
    }
    wev->ready = 1;
    wev->handler(wev);
}

static void process_io(int n)
{
    for (int i = 0; i < n; i++) {
        uintptr_t tagged = (uintptr_t) event_list[i].data.ptr;
        sl_connection_t *c = (sl_connection_t *) (tagged & ~(uintptr_t) 1);
        uint32_t revents = event_list[i].events;

        /* Closed in this batch, or closed and handed to a new owner since the wait. */
        if (c->destroyed || c->fd == -1 || c->instance != (tagged & 1)) {
            continue;
        }
        /* An error or hangup is delivered to both handlers, which find it on read/write. */
        if (revents & (EPOLLERR | EPOLLHUP)) {
            revents |= EPOLLIN | EPOLLOUT;
        }
        dispatch_read(c, revents);
        dispatch_write(c, revents);
    }
}

void sl_process_events_and_timers(sl_msec_t timeout_ms)
{
    sl_msec_t timer = sl_timer_find();

    if (!sl_queue_empty(&posted_next_events)) {
        /* this pass runs them, after I/O that is ready now */
        while (!sl_queue_empty(&posted_next_events)) {
            sl_queue_t *q = sl_queue_head(&posted_next_events);
            sl_queue_remove(q);
            sl_queue_insert_tail(&posted_events, q);
        }
    }
    if (!sl_queue_empty(&posted_events)) {
        timer = 0;
    }
    if (timeout_ms != (sl_msec_t) -1 && (timer == (sl_msec_t) -1 || timeout_ms < timer)) {
        timer = timeout_ms;
    }
    int wait = timer == (sl_msec_t) -1 ? -1 : (int) sl_min(timer, (sl_msec_t) INT_MAX);
    int n = epoll_wait(ep, event_list, nevents, wait);
    sl_err_t err = errno;

    sl_time_update();
    if (n == -1) {
        if (err != EINTR) {
            sl_log_error(SL_LOG_ALERT, loop_log, err, "epoll_wait() failed");
        }
        n = 0;
    }
    process_io(n);
    sl_expire_timers();
    sl_run_posted_events();
    sl_free_closed_connections();
}

void sl_event_empty_handler(sl_event_t *ev)
{
}

void sl_post_event(sl_event_t *ev)
{
    if (ev->posted) {
        return;
    }
    ev->posted = 1;
    sl_queue_insert_tail(&posted_events, &ev->queue);
}

void sl_post_event_next(sl_event_t *ev)
{
    if (ev->posted) {
        return;
    }
    ev->posted = 1;
    sl_queue_insert_tail(&posted_next_events, &ev->queue);
}

void sl_delete_posted_event(sl_event_t *ev)
{
    if (!ev->posted) {
        return;
    }
    ev->posted = 0;
    sl_queue_remove(&ev->queue);
}

void sl_run_posted_events(void)
{
    /* Handlers may post more events; those run in this pass too, in order. */
    while (!sl_queue_empty(&posted_events)) {
        sl_queue_t *q = sl_queue_head(&posted_events);
        sl_event_t *ev = sl_queue_data(q, sl_event_t, queue);

        sl_delete_posted_event(ev);
        ev->handler(ev);
    }
}
