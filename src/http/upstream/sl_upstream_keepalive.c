/*
 * sl_upstream_keepalive.c: "keepalive N" in an upstream block: idle connections to the
 * group's peers are kept (per worker, at most N, the least recently used closed first) and
 * handed to the next request that picks the same peer, instead of connecting again.
 *
 * The upstream decides whether a try ended cleanly enough to keep its connection (complete,
 * framed response without "Connection: close", request fully sent); this file adds the
 * connection's own limits (keepalive_requests, keepalive_time), the process shutting
 * down, and no stray bytes or EOF reported, then watches the idle connection: a read event
 * that the connection's peek finds is not spurious (the peer closing, or sending something
 * unasked), or keepalive_timeout, closes it.
 */

#include "sl_pool.h"
#include "sl_process_cycle.h"
#include "sl_upstream_group.h"
#include "sl_upstream_keepalive.h"

typedef struct {
    sl_queue_t queue;
    sl_upstream_keepalive_t *pool;
    sl_connection_t *connection;
    sl_sockaddr_t sockaddr;
    socklen_t socklen;
} keepalive_item_t;

struct sl_upstream_keepalive_s {
    sl_uint_t max_cached;
    sl_uint_t requests;
    sl_msec_t time;
    sl_msec_t timeout;
    /** idle connections, most recently kept first; and unused items */
    sl_queue_t cache;
    sl_queue_t free;
};

static sl_upstream_keepalive_t *keepalive_conf(sl_conf_t *cf, sl_upstream_group_t *g)
{
    if (g->keepalive) {
        return g->keepalive;
    }
    sl_upstream_keepalive_t *k = sl_pcalloc(cf->pool, sizeof(sl_upstream_keepalive_t));
    if (k == NULL) {
        return NULL;
    }
    /* nginx's defaults */
    k->requests = 1000;
    k->time = 3600 * 1000;
    k->timeout = 60 * 1000;
    sl_queue_init(&k->cache);
    sl_queue_init(&k->free);
    g->keepalive = k;
    return k;
}

char *sl__upstream_keepalive_directive(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_upstream_keepalive_t *k = keepalive_conf(cf, conf);
    sl_str_t *value = cf->args->elts;

    if (k == NULL) {
        return SL_CONF_ERROR;
    }
    if (k->max_cached) {
        return "is duplicate";
    }
    sl_int_t n = sl_atoi(value[1].data, value[1].len);
    if (n == SL_ERROR || n == 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid value \"%s\" in \"%s\" directive",
                          (char *) value[1].data, (char *) cmd->name.data);
        return SL_CONF_ERROR;
    }
    keepalive_item_t *items = sl_pcalloc(cf->pool, (size_t) n * sizeof(keepalive_item_t));
    if (items == NULL) {
        return SL_CONF_ERROR;
    }
    for (sl_int_t i = 0; i < n; i++) {
        items[i].pool = k;
        sl_queue_insert_tail(&k->free, &items[i].queue);
    }
    k->max_cached = (sl_uint_t) n;
    return SL_CONF_OK;
}

char *sl__upstream_keepalive_requests_directive(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_upstream_keepalive_t *k = keepalive_conf(cf, conf);
    sl_str_t *value = cf->args->elts;

    if (k == NULL) {
        return SL_CONF_ERROR;
    }
    sl_int_t n = sl_atoi(value[1].data, value[1].len);
    if (n == SL_ERROR) {
        return "invalid number";
    }
    k->requests = (sl_uint_t) n;
    return SL_CONF_OK;
}

static char *set_msec(sl_conf_t *cf, sl_msec_t *field)
{
    sl_str_t *value = cf->args->elts;
    sl_int_t ms = sl_parse_time(&value[1], 0);

    if (ms == SL_ERROR) {
        return "invalid value";
    }
    *field = (sl_msec_t) ms;
    return SL_CONF_OK;
}

char *sl__upstream_keepalive_time_directive(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_upstream_keepalive_t *k = keepalive_conf(cf, conf);

    return k ? set_msec(cf, &k->time) : SL_CONF_ERROR;
}

char *sl__upstream_keepalive_timeout_directive(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_upstream_keepalive_t *k = keepalive_conf(cf, conf);

    return k ? set_msec(cf, &k->timeout) : SL_CONF_ERROR;
}

static void close_item(keepalive_item_t *item)
{
    sl_connection_t *c = item->connection;

    sl_queue_remove(&item->queue);
    sl_queue_insert_head(&item->pool->free, &item->queue);
    item->connection = NULL;
    sl_close_connection(c);
}

/* An idle kept connection: the peer closing it, or sending unasked, ends it; so does time.
 * A read event with nothing behind it (peek: SL_AGAIN) keeps it. */
static void idle_handler(sl_event_t *ev)
{
    sl_connection_t *c = ev->data;
    keepalive_item_t *item = c->data;
    sl_err_t err = 0;

    if (!ev->timedout && !c->close && c->io->peek(c, &err) == SL_AGAIN) {
        ev->ready = 0;
        return;
    }
    close_item(item);
}

static void idle_write_handler(sl_event_t *ev)
{
    (void) ev;
}

sl_connection_t *sl_upstream_keepalive_get(sl_upstream_group_t *g, const struct sockaddr *sa,
                                           socklen_t socklen, sl_log_t *log)
{
    sl_upstream_keepalive_t *k = g->keepalive;

    if (k == NULL || k->max_cached == 0) {
        return NULL;
    }
    for (sl_queue_t *q = sl_queue_head(&k->cache); q != sl_queue_sentinel(&k->cache);
         q = sl_queue_next(q)) {
        keepalive_item_t *item = sl_queue_data(q, keepalive_item_t, queue);

        if (item->socklen != socklen || memcmp(&item->sockaddr, sa, socklen) != 0) {
            continue;
        }
        sl_connection_t *c = item->connection;
        sl_queue_remove(&item->queue);
        sl_queue_insert_head(&k->free, &item->queue);
        item->connection = NULL;
        if (c->read->timer_set) {
            sl_del_timer(c->read);
        }
        c->idle = 0;
        c->log = log;
        c->read->log = log;
        c->write->log = log;
        return c;
    }
    return NULL;
}

/* Nothing waits to be read, and the peer has not closed, as far as epoll has told (no
 * system call: bytes or a FIN arriving later wake idle_handler, which closes it). */
static int quiet(sl_connection_t *c)
{
    return !c->read->ready && !c->read->pending_eof;
}

int sl_upstream_keepalive_save(sl_upstream_group_t *g, sl_connection_t *c)
{
    sl_upstream_keepalive_t *k = g->keepalive;

    if (k == NULL || k->max_cached == 0 || sl_terminate || sl_exiting) {
        return 0;
    }
    c->requests++;
    if (c->requests >= k->requests || sl_current_msec - c->start_msec > k->time || c->read->eof
        || c->read->error || c->read->timedout || c->write->error || c->write->timedout
        || !quiet(c)) {
        return 0;
    }
    if (sl_queue_empty(&k->free)) {
        /* full: the least recently kept one goes */
        close_item(sl_queue_data(sl_queue_last(&k->cache), keepalive_item_t, queue));
    }
    keepalive_item_t *item = sl_queue_data(sl_queue_head(&k->free), keepalive_item_t, queue);
    sl_queue_remove(&item->queue);
    sl_queue_insert_head(&k->cache, &item->queue);
    item->connection = c;
    memcpy(&item->sockaddr, &c->sockaddr, sizeof(item->sockaddr));
    item->socklen = c->socklen;
    if (c->write->timer_set) {
        sl_del_timer(c->write);
    }
    if (c->read->timer_set) {
        sl_del_timer(c->read);
    }
    c->data = item;
    c->idle = 1;
    c->log = ((sl_cycle_t *) sl_cycle)->log;
    c->read->log = c->log;
    c->write->log = c->log;
    c->read->handler = idle_handler;
    c->write->handler = idle_write_handler;
    c->read->ready = 0;
    sl_add_timer(c->read, k->timeout);
    return 1;
}
