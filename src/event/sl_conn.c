/*
 * sl_conn.c: the connection table, its free list, deferred frees and the reusable queue.
 */
#include "sl_conn.h"
#include "sl_os.h"
#include "sl_pool.h"

sl_uint_t sl_connection_counter;

/* The table of the process, and connections closed during this iteration. */
static sl_cycle_t *table_cycle;
static sl_queue_t closed_connections;

sl_int_t sl_conn_table_init(sl_cycle_t *cycle)
{
    sl_uint_t n = cycle->connection_n;

    cycle->connections = calloc(n, sizeof(sl_connection_t));
    cycle->read_events = calloc(n, sizeof(sl_event_t));
    cycle->write_events = calloc(n, sizeof(sl_event_t));
    if (cycle->connections == NULL || cycle->read_events == NULL || cycle->write_events == NULL) {
        sl_log_error(SL_LOG_EMERG, cycle->log, errno, "calloc() of %lu connections failed",
                     (unsigned long) n);
        sl_conn_table_free(cycle);
        return SL_ERROR;
    }
    sl_connection_t *next = NULL;
    for (sl_uint_t i = n; i-- > 0;) {
        sl_connection_t *c = &cycle->connections[i];

        c->read = &cycle->read_events[i];
        c->write = &cycle->write_events[i];
        c->read->closed = 1;
        c->write->closed = 1;
        c->write->write = 1;
        c->fd = -1;
        c->data = next;
        next = c;
    }
    cycle->free_connections = next;
    cycle->free_connection_n = n;
    sl_queue_init(&cycle->reusable_connections_queue);
    cycle->reusable_connections_n = 0;
    sl_queue_init(&closed_connections);
    table_cycle = cycle;
    return SL_OK;
}

void sl_conn_table_free(sl_cycle_t *cycle)
{
    free(cycle->connections);
    free(cycle->read_events);
    free(cycle->write_events);
    cycle->connections = NULL;
    cycle->read_events = NULL;
    cycle->write_events = NULL;
    cycle->free_connections = NULL;
    cycle->free_connection_n = 0;
    if (table_cycle == cycle) {
        table_cycle = NULL;
    }
}

/* Asks the oldest idle keepalive connections to close, so their objects come back. */
static void drain_connections(sl_cycle_t *cycle, sl_log_t *log)
{
    static time_t last_warned;
    sl_uint_t n = sl_max(sl_min(32, cycle->reusable_connections_n / 8), 1);

    /* nginx's warning, at most once a second */
    if (cycle->reusable_connections_n && last_warned != sl_cached_time_sec) {
        last_warned = sl_cached_time_sec;
        sl_log_error(SL_LOG_WARN, log, 0,
                     "%lu worker_connections are not enough, reusing connections",
                     (unsigned long) cycle->connection_n);
    }

    for (sl_uint_t i = 0; i < n; i++) {
        if (sl_queue_empty(&cycle->reusable_connections_queue)) {
            break;
        }
        sl_queue_t *q = sl_queue_last(&cycle->reusable_connections_queue);
        sl_connection_t *c = sl_queue_data(q, sl_connection_t, queue);

        c->close = 1;
        c->read->handler(c->read);
    }
}

static sl_connection_t *take_free(sl_cycle_t *cycle)
{
    sl_connection_t *c = cycle->free_connections;

    if (c) {
        cycle->free_connections = c->data;
        cycle->free_connection_n--;
    }
    return c;
}

sl_connection_t *sl_get_connection(int fd, sl_log_t *log)
{
    sl_cycle_t *cycle = table_cycle;
    sl_connection_t *c = take_free(cycle);

    if (c == NULL) {
        drain_connections(cycle, log);
        /* Reusing them within this batch is safe: the instance bit flips, so events
         * already collected for the old owner are recognised as stale. */
        sl_free_closed_connections();
        c = take_free(cycle);
    }
    if (c == NULL) {
        sl_log_error(SL_LOG_ALERT, log, 0, "%lu worker_connections are not enough",
                     (unsigned long) cycle->connection_n);
        return NULL;
    }
    sl_event_t *rev = c->read, *wev = c->write;
    unsigned instance = !c->instance;

    memset(c, 0, sizeof(sl_connection_t));
    c->instance = instance;
    memset(rev, 0, sizeof(sl_event_t));
    memset(wev, 0, sizeof(sl_event_t));
    c->read = rev;
    c->write = wev;
    c->fd = fd;
    c->log = log;
    c->io = &sl_socket_io;
    rev->data = c;
    wev->data = c;
    rev->handler = sl_event_empty_handler;
    wev->handler = sl_event_empty_handler;
    wev->write = 1;
    rev->log = log;
    wev->log = log;
    sl_queue_init(&c->queue);
    return c;
}

void sl_close_connection(sl_connection_t *c)
{
    if (c->fd == -1 || c->destroyed) {
        sl_log_error(SL_LOG_ALERT, c->log, 0, "connection already closed");
        return;
    }
    sl_del_timer(c->read);
    sl_del_timer(c->write);
    sl_delete_posted_event(c->read);
    sl_delete_posted_event(c->write);
    if (c->shared) {
        sl_loop_del_connection(c);
    }
    sl_reusable_connection(c, 0);
    c->read->closed = 1;
    c->write->closed = 1;
    c->read->active = 0;
    c->write->active = 0;
    c->read->ready = 0;
    c->write->ready = 0;
    c->destroyed = 1;

    if (c->io->close(c) != SL_OK) {
        sl_log_error(SL_LOG_ALERT, c->log, errno, "close() socket %d failed", c->fd);
    }
    c->fd = -1;
    sl_queue_insert_tail(&closed_connections, &c->queue);
}

void sl_free_closed_connections(void)
{
    sl_cycle_t *cycle = table_cycle;

    while (!sl_queue_empty(&closed_connections)) {
        sl_queue_t *q = sl_queue_head(&closed_connections);
        sl_connection_t *c = sl_queue_data(q, sl_connection_t, queue);

        sl_queue_remove(q);
        c->data = cycle->free_connections;
        cycle->free_connections = c;
        cycle->free_connection_n++;
    }
}

void sl_reusable_connection(sl_connection_t *c, int reusable)
{
    sl_cycle_t *cycle = table_cycle;

    if (c->reusable) {
        sl_queue_remove(&c->queue);
        cycle->reusable_connections_n--;
    }
    c->reusable = reusable ? 1 : 0;
    if (reusable) {
        sl_queue_insert_head(&cycle->reusable_connections_queue, &c->queue);
        cycle->reusable_connections_n++;
    }
}

/*
 * A client that connected a moment ago has likely sent its request already, or is about to:
 * closing it now would fail a request that reached us (a reload under load would refuse
 * some).  Such a connection gets this long to speak; nginx closes it at once.
 */
#define SL_FRESH_CONNECTION_GRACE 1000

sl_uint_t sl_close_idle_connections(sl_cycle_t *cycle)
{
    sl_uint_t spared = 0;

    for (sl_uint_t i = 0; i < cycle->connection_n; i++) {
        sl_connection_t *c = &cycle->connections[i];

        if (c->fd == -1 || c->destroyed || !c->idle) {
            continue;
        }
        if (c->requests == 0 && sl_current_msec - c->start_msec < SL_FRESH_CONNECTION_GRACE) {
            spared++;
            continue;
        }
        c->close = 1;
        c->read->handler(c->read);
    }
    return spared;
}

sl_uint_t sl_active_connections(sl_cycle_t *cycle)
{
    sl_uint_t n = 0;

    for (sl_uint_t i = 0; i < cycle->connection_n; i++) {
        sl_connection_t *c = &cycle->connections[i];

        if (c->fd != -1 && !c->destroyed && !c->listener) {
            n++;
        }
    }
    return n;
}
