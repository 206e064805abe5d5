/*
 * sl_upstream_upgrade.c: the upgraded connection, as nginx 1.22 runs it.  One buffer per
 * direction (proxy_buffer_size each; the upstream's is the header buffer, which may hold
 * the first bytes of the new protocol), read from one socket and written to the other,
 * both edge-triggered: each side is read until EAGAIN or until its buffer is full, and a
 * full buffer waits for the other side's write event.
 *
 * Timers, as nginx: proxy_read_timeout while the upstream has nothing to read (re-armed on
 * every pass, so any traffic either way keeps the tunnel; an idle one is closed),
 * proxy_send_timeout while a write to the upstream waits, the client's send_timeout while
 * a write to the client waits; none on the client's reads.
 *
 * The end: when a side has closed and what it sent has been written to the other side, or
 * when both have closed, both connections are closed (no half-close is passed on, as
 * nginx).  A read error counts as a close; a write error ends the tunnel at once.
 */
#include "sl_http_output.h"
#include "sl_pool.h"
#include "sl_upstream_upgrade.h"

/* Moves bytes from src to dst through b until neither side can go on: writes what b
 * holds, then reads while there is room.  The counter gets the bytes read (may be NULL);
 * can_write 0 holds the writes back.  SL_OK, or SL_ERROR when a write failed (logged). */
static sl_int_t relay(sl_connection_t *src, sl_connection_t *dst, sl_buf_t *b, off_t *counter,
                      int can_write)
{
    for (;;) {
        if (can_write && b->pos < b->last && dst->write->ready) {
            sl_chain_t cl = { b, NULL };
            if (dst->io->send_chain(dst, &cl, 0) == SL_CHAIN_ERROR) {
                return SL_ERROR;
            }
            if (b->pos == b->last) {
                b->pos = b->start;
                b->last = b->start;
            }
        }
        if (b->last == b->end || !src->read->ready || src->read->eof) {
            return SL_OK;
        }
        ssize_t n = src->io->recv(src, b->last, (size_t) (b->end - b->last));
        if (n == SL_ERROR) {
            src->read->eof = 1; /* logged by recv: the end of this direction */
        }
        if (n <= 0) {
            return SL_OK;
        }
        b->last += n;
        if (counter) {
            *counter += n;
        }
    }
}

/* A timer fired: ends the tunnel as nginx words it.  Whether it did. */
static int timed_out(sl_http_request_t *r, sl_upstream_t *u)
{
    sl_connection_t *c = r->connection;
    sl_connection_t *pc = u->peer.connection;

    if (c->write->timedout) {
        c->timedout = 1;
        sl_log_error(SL_LOG_INFO, c->log, ETIMEDOUT, "client timed out");
        sl__upstream_finalize(r, u, SL_HTTP_REQUEST_TIME_OUT);
        return 1;
    }
    if (pc->read->timedout || pc->write->timedout) {
        sl_log_error(SL_LOG_INFO, c->log, ETIMEDOUT, "upstream timed out");
        sl__upstream_finalize(r, u, SL_ERROR);
        return 1;
    }
    return 0;
}

/* The tunnel state's timers (sl_upstream_state.c), each while its side waits. */
static void arm_timers(sl_http_request_t *r, sl_upstream_t *u)
{
    sl_connection_t *c = r->connection;
    sl_connection_t *pc = u->peer.connection;

    sl__upstream_arm_timer(u, pc->write, !pc->write->ready);
    sl__upstream_arm_timer(u, pc->read, !pc->read->ready && !pc->read->eof);
    sl__upstream_arm_timer(u, c->write, !c->write->ready || r->out);
}

/* One pass over both directions, then the end or the timers. */
static void tunnel_run(sl_http_request_t *r, sl_upstream_t *u)
{
    sl_connection_t *c = r->connection;
    sl_connection_t *pc = u->peer.connection;

    c->log->action = sl_upstream_state_row(u->state)->action;
    if (timed_out(r, u)) {
        return;
    }
    /* the 101 itself may still wait in the write filter: it goes before any byte */
    if (r->out && c->write->ready && sl_http_output_filter(r, NULL) == SL_ERROR) {
        sl__upstream_finalize(r, u, SL_ERROR);
        return;
    }
    if (relay(pc, c, &u->buffer, &u->bytes_received, r->out == NULL) != SL_OK
        || relay(c, pc, &u->from_client, NULL, 1) != SL_OK) {
        sl__upstream_finalize(r, u, SL_ERROR);
        return;
    }
    int up_flushed = u->buffer.pos == u->buffer.last && r->out == NULL;
    int down_flushed = u->from_client.pos == u->from_client.last;
    if ((pc->read->eof && up_flushed) || (c->read->eof && down_flushed)
        || (pc->read->eof && c->read->eof)) {
        sl__upstream_finalize(r, u, SL_OK);
        return;
    }
    arm_timers(r, u);
}

static void upstream_event(sl_event_t *ev)
{
    sl_connection_t *pc = ev->data;
    sl_http_request_t *r = pc->data;
    sl_connection_t *client = r->connection;

    tunnel_run(r, r->upstream);
    /* an end of the request is posted: it runs on the client's connection now */
    sl_http_run_posted_requests(client);
}

static void client_event(sl_http_request_t *r)
{
    tunnel_run(r, r->upstream);
}

/* The client-to-upstream buffer, starting with what the client sent behind its request. */
static sl_int_t from_client_buffer(sl_http_request_t *r, sl_upstream_t *u)
{
    sl_buf_t *hb = r->header_in;
    size_t early = hb && hb->last > hb->pos ? (size_t) (hb->last - hb->pos) : 0;
    size_t size = sl_max(u->conf->buffer_size, early);
    sl_buf_t *b = &u->from_client;

    b->start = sl_palloc(r->pool, size);
    if (b->start == NULL) {
        return SL_ERROR;
    }
    b->pos = b->start;
    b->last = early ? mempcpy(b->start, hb->pos, early) : b->start;
    b->end = b->start + size;
    b->temporary = 1;
    if (early) {
        /* these bytes are the tunnel's, not a next request's */
        hb->pos = hb->last;
    }
    return SL_OK;
}

void sl_upstream_tunnel_start(sl_http_request_t *r, sl_upstream_t *u)
{
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);
    sl_connection_t *c = r->connection;
    sl_connection_t *pc = u->peer.connection;

    /* the connection ends with the tunnel; small pieces go out at once, unthrottled */
    r->keepalive = 0;
    r->limit_rate = 0;
    r->limit_rate_set = 1;
    if (from_client_buffer(r, u) != SL_OK
        || (clcf->tcp_nodelay
            && (sl_conn_tcp_nodelay(c) != SL_OK || sl_conn_tcp_nodelay(pc) != SL_OK))) {
        sl__upstream_finalize(r, u, SL_ERROR);
        return;
    }
    pc->read->handler = upstream_event;
    pc->write->handler = upstream_event;
    r->read_event_handler = client_event;
    r->write_event_handler = client_event;
    sl_del_timer(c->read);
    tunnel_run(r, u);
}
