/*
 * sl_http_connection.c: an accepted http connection until its first request arrives:
 * which server answers on this address, the client_header_timeout wait, and the close.
 *
 * The request parser and handlers plug in at on_request_bytes() (issue #3); until then a
 * connection that sends bytes is closed after they are read.
 */
#include <stdio.h>

#include "sl_http.h"
#include "sl_os.h"
#include "sl_pool.h"

typedef struct {
    sl_http_core_srv_conf_t *default_server;
} sl_http_connection_t;

static void wait_request_handler(sl_event_t *rev);

/* The address the client connected to picks the default server when one socket answers
 * for several addresses (a wildcard). */
static sl_http_core_srv_conf_t *find_default_server(sl_connection_t *c)
{
    sl_http_port_t *port = c->listening->servers;

    if (port->naddrs == 1) {
        return port->addrs[0].default_server;
    }
    c->local_socklen = sizeof(c->local_sockaddr);
    if (getsockname(c->fd, &c->local_sockaddr.sa, &c->local_socklen) == -1) {
        sl_log_error(SL_LOG_CRIT, c->log, errno, "getsockname() failed");
        return NULL;
    }
    for (sl_uint_t i = 0; i + 1 < port->naddrs; i++) {
        if (sl_addr_cmp(&port->addrs[i].sockaddr.sa, port->addrs[i].socklen, &c->local_sockaddr.sa,
                        c->local_socklen, 0)
            == 0) {
            return port->addrs[i].default_server;
        }
    }
    return port->addrs[port->naddrs - 1].default_server;
}

/* ", client: ADDR, server: LISTEN" after every line about this connection, as nginx. */
static u_char *log_context(sl_log_t *log, u_char *buf, size_t len)
{
    sl_connection_t *c = log->data;
    int n = snprintf((char *) buf, len, ", client: %.*s, server: %.*s", SL_STR_ARG(c->addr_text),
                     SL_STR_ARG(c->listening->addr_text));

    if (n < 0) {
        return buf;
    }
    return buf + sl_min((size_t) n, len ? len - 1 : 0);
}

static void close_connection(sl_connection_t *c)
{
    sl_pool_t *pool = c->pool;

    sl_close_connection(c);
    sl_pool_destroy(pool);
}

void sl_http_init_connection(sl_connection_t *c)
{
    sl_http_connection_t *hc = sl_pcalloc(c->pool, sizeof(sl_http_connection_t));

    if (hc == NULL || (hc->default_server = find_default_server(c)) == NULL) {
        close_connection(c);
        return;
    }
    c->data = hc;
    c->log->data = c;
    c->log->handler = log_context;
    c->log->action = "waiting for request";
    c->read->handler = wait_request_handler;
    c->write->handler = sl_event_empty_handler;
    c->idle = 1;
    sl_reusable_connection(c, 1);
    sl_add_timer(c->read, hc->default_server->client_header_timeout);
    /* With deferred accept or a fast client the bytes may be here already. */
    if (c->read->ready || c->read->pending_eof) {
        wait_request_handler(c->read);
    }
}

/* Reads what is there into the header buffer; SL_AGAIN, SL_OK (bytes), SL_DONE (EOF),
 * SL_ERROR. */
static sl_int_t read_some(sl_connection_t *c, sl_http_core_srv_conf_t *cscf)
{
    if (c->buffer == NULL) {
        c->buffer = sl_create_temp_buf(c->pool, cscf->client_header_buffer_size);
        if (c->buffer == NULL) {
            return SL_ERROR;
        }
    }
    sl_buf_t *b = c->buffer;
    ssize_t n = c->io->recv(c, b->last, (size_t) (b->end - b->last));

    if (n == SL_AGAIN) {
        return SL_AGAIN;
    }
    if (n == SL_ERROR) {
        return SL_ERROR;
    }
    if (n == 0) {
        return SL_DONE;
    }
    b->last += n;
    return SL_OK;
}

static void on_request_bytes(sl_connection_t *c)
{
    /* No request handling yet: take what the client sent, then close. */
    c->buffer->pos = c->buffer->last;
    sl_log_error(SL_LOG_INFO, c->log, 0, "closing connection: no http handler");
    close_connection(c);
}

static void wait_request_handler(sl_event_t *rev)
{
    sl_connection_t *c = rev->data;
    sl_http_connection_t *hc = c->data;

    if (rev->timedout) {
        sl_log_error(SL_LOG_INFO, c->log, ETIMEDOUT, "client timed out");
        close_connection(c);
        return;
    }
    if (c->close) {
        close_connection(c);
        return;
    }
    sl_int_t rc = read_some(c, hc->default_server);
    if (rc == SL_AGAIN) {
        if (!rev->timer_set) {
            sl_add_timer(rev, hc->default_server->client_header_timeout);
        }
        return;
    }
    if (rc == SL_DONE) {
        sl_log_error(SL_LOG_INFO, c->log, 0, "client closed connection");
    }
    if (rc != SL_OK) {
        close_connection(c);
        return;
    }
    c->idle = 0;
    sl_reusable_connection(c, 0);
    on_request_bytes(c);
}
