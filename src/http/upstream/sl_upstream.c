/*
 * sl_upstream.c: one request's trip to an upstream: connect without blocking, send the
 * request, read and process the response header, then forward the body; on failure before
 * the header went out, try the next address or answer 502/504.
 */
#include <stdio.h>

#include "sl_http_output.h"
#include "sl_pipe.h"
#include "sl_pool.h"
#include "sl_upstream.h"
#include "sl_upstream_group.h"
#include "sl_upstream_keepalive.h"
#include "sl_upstream_upgrade.h"

static void upstream_handler(sl_event_t *ev);
static void process_event(sl_http_request_t *r, sl_event_t *ev);
static void send_request(sl_http_request_t *r, sl_upstream_t *u);
static void read_header(sl_http_request_t *r, sl_upstream_t *u);
static void process_body(sl_http_request_t *r, sl_upstream_t *u, int from_client);
static void finalize(sl_http_request_t *r, sl_upstream_t *u, sl_int_t rc);
static int end_upstream(sl_http_request_t *r, sl_upstream_t *u, sl_int_t rc);
static void connect_upstream(sl_http_request_t *r, sl_upstream_t *u);
static void run_pipe(sl_http_request_t *r, sl_upstream_t *u, int do_write);
static sl_int_t start_pipe(sl_http_request_t *r, sl_upstream_t *u);
static void end_try(sl_upstream_t *u, sl_uint_t status);
static sl_int_t stream_body(sl_http_request_t *r, sl_upstream_t *u);

/* Moves u to st (sl__upstream_set_state), or ends the request when the table refuses the
 * edge, a bug logged at alert: 500, or a cut response once the header is out.  SL_OK, or
 * SL_ERROR once the request is ended. */
static sl_int_t enter(sl_http_request_t *r, sl_upstream_t *u, sl_upstream_state_e st)
{
    if (sl__upstream_set_state(u, st) == SL_OK) {
        return SL_OK;
    }
    finalize(r, u, u->header_sent ? SL_ERROR : SL_HTTP_INTERNAL_SERVER_ERROR);
    return SL_ERROR;
}

static void close_peer(sl_upstream_t *u)
{
    if (u->peer.connection) {
        sl_close_connection(u->peer.connection);
        u->peer.connection = NULL;
    }
}

/*
 * The try is over and its connection goes: into the group's keepalive cache when the
 * response was complete and clean and the whole request went out, closed otherwise.
 */
static void keep_or_close_peer(sl_upstream_t *u, int complete)
{
    sl_connection_t *c = u->peer.connection;

    if (c && complete && u->keepalive && u->request_sent && !(u->body_streaming && !u->body_done)
        && u->group && u->group->keepalive && sl_upstream_keepalive_save(u->group, c)) {
        u->peer.connection = NULL;
        return;
    }
    close_peer(u);
}

/* The request pool's cleanup: whatever path the request took, the socket goes. */
static void cleanup(void *data)
{
    sl_upstream_t *u = data;

    close_peer(u);
    sl__upstream_release_peer(u, SL_UPSTREAM_PEER_OK);
}

sl_int_t sl_upstream_create(sl_http_request_t *r)
{
    sl_upstream_t *u = sl_pcalloc(r->pool, sizeof(sl_upstream_t));
    sl_pool_cleanup_t *cln = sl_pool_cleanup_add(r->pool, 0);

    if (u == NULL || cln == NULL
        || sl_list_init(&u->headers_in.headers, r->pool, 8, sizeof(sl_table_elt_t)) != SL_OK) {
        return SL_ERROR;
    }
    u->request = r;
    u->prev = r->upstream;
    u->headers_in.content_length_n = -1;
    u->length = -1;
    cln->handler = cleanup;
    cln->data = u;
    r->upstream = u;
    return SL_OK;
}

static u_char *log_upstream(sl_http_request_t *r, u_char *buf, size_t len)
{
    sl_upstream_t *u = r->upstream;

    if (u == NULL || u->peer_name == NULL || len < 16) {
        return buf;
    }
    /* "http://unix:/path:/uri" as nginx writes it for a unix socket */
    int unix_socket = u->peer.sockaddr && u->peer.sockaddr->sa_family == AF_UNIX;
    int n =
        snprintf((char *) buf, len, ", upstream: \"%s://%.*s%s%.*s\"", u->ssl ? "https" : "http",
                 SL_STR_ARG(*u->peer_name), unix_socket ? ":" : "", SL_STR_ARG(u->uri));
    return n < 0 ? buf : buf + sl_min((size_t) n, len - 1);
}

/*
 * The log action nginx 1.22 reports a client's close with: the abort action of the state
 * (of DONE's once the response is read and the upstream let go, whatever is left to send).
 * nginx names the header only once some of it has arrived: before, it is still sending.
 */
static const char *abort_action(sl_upstream_t *u)
{
    sl_upstream_state_e st = u->peer.connection ? u->state : SL_UPSTREAM_DONE;

    if (st == SL_UPSTREAM_READ_HEADER
        && (u->buffer.start == NULL || u->buffer.last == u->buffer.start)) {
        st = SL_UPSTREAM_SEND_REQUEST;
    }
    return sl_upstream_state_row(st)->abort_action;
}

/*
 * The client's read event while the upstream works (proxy_ignore_client_abort off), and
 * after it, while the rest of the response is sent.  As nginx 1.22 on Linux: a client that
 * closed its side (EPOLLRDHUP), even only for writing, ends the request at once: 499
 * before the response header, the connection cut after it (the access log keeps the
 * status sent).  Data it sends meanwhile (a pipelined request) is left for later.
 */
static void check_client(sl_http_request_t *r)
{
    sl_connection_t *c = r->connection;
    sl_upstream_t *u = r->upstream;

    if (!sl_http_client_closed(r)) {
        return;
    }
    c->read->eof = 1;
    c->error = 1;
    sl_err_t err = sl_http_client_error(r);
    c->log->action = abort_action(u);
    if (u->peer.connection == NULL) {
        /* the response is read: only sending is left, nginx's http writer words it */
        sl_log_error(SL_LOG_INFO, c->log, err, "client prematurely closed connection");
    } else {
        sl_log_error(SL_LOG_INFO, c->log, err,
                     "epoll_wait() reported that client prematurely closed connection, so "
                     "upstream connection is closed too");
    }
    if (u->state == SL_UPSTREAM_DONE) {
        sl_http_finalize_request(r, SL_HTTP_CLIENT_CLOSED_REQUEST);
        return;
    }
    finalize(r, u, SL_HTTP_CLIENT_CLOSED_REQUEST);
}

/* Whether a client that goes away stops the upstream: proxy_ignore_client_abort.  A close
 * seen before the upstream started is acted on in this loop iteration's posted events. */
static void watch_client(sl_http_request_t *r, sl_upstream_t *u)
{
    /* a response with a copy to make is read to its end whatever the client does (nginx) */
    if (u->conf->ignore_client_abort || u->tee) {
        r->read_event_handler = sl_http_block_reading;
        return;
    }
    r->read_event_handler = check_client;
    if (sl_http_client_closed(r)) {
        sl_post_event(r->connection->read);
    }
}

/*
 * proxy_pass named a host, not an address (variables).  An upstream{} group of that name
 * serves it, or the implicit group another location's literal "proxy_pass http://name"
 * made (same port), as nginx matches them.  Otherwise the name needs a resolver, and sluice
 * has none: 502, as nginx 1.22 without a "resolver" directive.  SL_OK with u->group set, or
 * SL_ERROR after ending the request.
 */
static sl_int_t find_peers(sl_http_request_t *r, sl_upstream_t *u)
{
    u->group =
        sl_upstream_group_for_host(r, &u->resolved.host, u->resolved.port, u->resolved.no_port);
    if (u->group) {
        return SL_OK;
    }
    sl_log_error(SL_LOG_ERR, r->connection->log, 0, "no resolver defined to resolve %.*s",
                 SL_STR_ARG(u->resolved.host));
    finalize(r, u, SL_HTTP_BAD_GATEWAY);
    return SL_ERROR;
}

void sl_upstream_init(sl_http_request_t *r)
{
    sl_upstream_t *u = r->upstream;

    r->http_connection->log_ctx.log_upstream = log_upstream;
    u->start_msec = sl_current_msec;
    sl_int_t rc = sl__upstream_cache_lookup(r, u);
    if (rc == SL_AGAIN) {
        return; /* waiting for another request's fetch (proxy_cache_lock) */
    }
    sl__upstream_init_after_lookup(r, u, rc);
}

static void send_cached(sl_http_request_t *r, sl_upstream_t *u);

void sl__upstream_init_after_lookup(sl_http_request_t *r, sl_upstream_t *u, sl_int_t rc)
{
    if (rc == SL_DONE) {
        send_cached(r, u);
        return;
    }
    if (rc == SL_ERROR || rc >= SL_HTTP_SPECIAL_RESPONSE) {
        finalize(r, u, rc == SL_ERROR ? SL_HTTP_INTERNAL_SERVER_ERROR : rc);
        return;
    }
    if (u->create_request(r) != SL_OK) {
        finalize(r, u, SL_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }
    if (u->group == NULL && u->naddrs == 0 && find_peers(r, u) != SL_OK) {
        return;
    }
    if (sl__upstream_init_peers(r, u) != SL_OK) {
        finalize(r, u, SL_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }
    u->request_out = u->request_bufs;
    sl__upstream_tee_select(r, u);
    watch_client(r, u);
    r->write_event_handler = sl_http_request_empty_handler;
    connect_upstream(r, u);
}

/*
 * A try failed before the response header went to the client.  The peer is given back
 * (counted against it unless a 403/404 moved us on), then the next peer is tried if
 * proxy_next_upstream allows it for this kind of failure, tries and time are left and the
 * request can be sent again; else the request ends with the failure's status (502, 504...).
 */
static void next_upstream(sl_http_request_t *r, sl_upstream_t *u, sl_uint_t ft)
{
    sl_uint_t status = sl__upstream_ft_status(ft);
    int counts = ft != SL_UPSTREAM_FT_HTTP_403 && ft != SL_UPSTREAM_FT_HTTP_404;
    /* a kept connection the peer had closed meanwhile: not the peer's fault, and the try
     * is given back (the keepalive race must not become a 502) */
    int stale = u->peer_cached && ft == SL_UPSTREAM_FT_ERROR;

    end_try(u, status);
    close_peer(u);
    sl__upstream_release_peer(u,
                              counts && !stale ? SL_UPSTREAM_PEER_FAILED : SL_UPSTREAM_PEER_NEXT);
    /* after the release, whose "temporarily disabled" comes first in nginx's log too */
    if (ft == SL_UPSTREAM_FT_TIMEOUT) {
        sl_log_error(SL_LOG_ERR, r->connection->log, ETIMEDOUT, "upstream timed out");
    }
    if (stale) {
        sl__upstream_give_back_try(u);
    }
    if (!sl__upstream_may_retry(r, u, ft, 1)) {
        if (sl__upstream_cache_stale(r, u, ft) == SL_OK) {
            send_cached(r, u);
            return;
        }
        finalize(r, u, (sl_int_t) status);
        return;
    }
    if (u->reinit_request && u->reinit_request(r) != SL_OK) {
        finalize(r, u, SL_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }
    u->request_out = u->request_bufs;
    u->request_sent = 0;
    u->request_begun = 0;
    u->buffer.pos = u->buffer.start;
    u->buffer.last = u->buffer.start;
    connect_upstream(r, u);
}

static sl_upstream_try_t *cur_try(sl_upstream_t *u)
{
    return u->ntried ? &u->tried[u->ntried - 1] : NULL;
}

/* Closes the record of the current try: its times and byte counts. */
static void end_try(sl_upstream_t *u, sl_uint_t status)
{
    sl_upstream_try_t *t = cur_try(u);

    if (t == NULL || t->response_time != (sl_msec_t) -1) {
        return;
    }
    if (status && t->status == 0) {
        t->status = status;
    }
    t->response_time = sl_current_msec - u->try_msec;
    t->bytes_received = u->bytes_received + (u->pipe ? u->pipe->read_length : 0);
    t->bytes_sent = u->peer.connection ? u->peer.connection->sent : u->bytes_sent;
    /* $upstream_response_length is the body relayed: a try that failed, an answer an
     * error_page or X-Accel-Redirect replaced, or one with no body to send (HEAD, 304)
     * relayed none, whatever it carried (nginx logs 0) */
    t->response_length = u->header_sent && !u->request->header_only
                             ? t->bytes_received - (off_t) u->header_bytes
                             : 0;
}

/* One record per try, plus one for a "no live upstreams" at the end. */
static sl_int_t new_try(sl_http_request_t *r, sl_upstream_t *u)
{
    if (u->tried == NULL) {
        u->tried_cap = sl__upstream_tries_left(u) + 1;
        u->tried = sl_pcalloc(r->pool, u->tried_cap * sizeof(sl_upstream_try_t));
        if (u->tried == NULL) {
            return SL_ERROR;
        }
    }
    if (u->ntried == u->tried_cap) {
        return SL_ERROR;
    }
    sl_upstream_try_t *t = &u->tried[u->ntried++];
    t->addr = u->peer_name;
    t->connect_time = (sl_msec_t) -1;
    t->header_time = (sl_msec_t) -1;
    t->response_time = (sl_msec_t) -1;
    u->try_msec = sl_current_msec;
    u->bytes_received = 0;
    u->bytes_sent = 0;
    u->header_bytes = 0;
    return SL_OK;
}

/* Every peer down, failed, full or tried: 502, and $upstream_addr names the group. */
static void no_live_upstreams(sl_http_request_t *r, sl_upstream_t *u)
{
    if (enter(r, u, SL_UPSTREAM_CONNECT) != SL_OK) {
        return;
    }
    sl_log_error(SL_LOG_ERR, r->connection->log, 0, "no live upstreams");
    if (new_try(r, u) == SL_OK) {
        end_try(u, SL_HTTP_BAD_GATEWAY);
    }
    if (sl__upstream_cache_stale(r, u, SL_UPSTREAM_FT_NOLIVE) == SL_OK) {
        send_cached(r, u);
        return;
    }
    finalize(r, u, SL_HTTP_BAD_GATEWAY);
}

/* The peer's connection (new or kept) now works for this request. */
static void attach_peer(sl_http_request_t *r, sl_upstream_t *u)
{
    sl_connection_t *c = u->peer.connection;

    c->data = r;
    c->log = r->connection->log;
    c->read->log = c->log;
    c->write->log = c->log;
    c->read->handler = upstream_handler;
    c->write->handler = upstream_handler;
    /* bytes sent count per try ($upstream_bytes_sent) */
    c->sent = 0;
}

/* The TLS handshake ended (sl_upstream_ssl.c), either way: the request goes out, or the
 * try failed (a timeout is proxy_connect_timeout's, any other failure an error). */
static void handshake_done(sl_connection_t *c)
{
    sl_http_request_t *r = c->data;
    sl_upstream_t *u = r->upstream;

    c->read->handler = upstream_handler;
    c->write->handler = upstream_handler;
    r->connection->log->action = sl_upstream_state_row(u->state)->action;
    if (!c->ssl->handshaked) {
        next_upstream(r, u, c->timedout ? SL_UPSTREAM_FT_TIMEOUT : SL_UPSTREAM_FT_ERROR);
        return;
    }
    if (sl__upstream_ssl_check(r, u) != SL_OK) {
        next_upstream(r, u, SL_UPSTREAM_FT_ERROR);
        return;
    }
    if (enter(r, u, SL_UPSTREAM_SEND_REQUEST) == SL_OK) {
        send_request(r, u);
    }
}

/* The same when the handshake ended in an event of the upstream connection: what the
 * request posted (its end) runs on the client's connection after, as upstream_handler's. */
static void handshake_event_done(sl_connection_t *c)
{
    sl_http_request_t *r = c->data;
    sl_connection_t *client = r->connection;
    unsigned was = sl_http_dispatch_enter(client);

    handshake_done(c);
    sl_http_dispatch_leave(client, was);
}

/* A new connection is up: TLS first when the upstream speaks it, then the request. */
static void connected(sl_http_request_t *r, sl_upstream_t *u)
{
    u->connect_time = sl_current_msec - u->start_msec;
    cur_try(u)->connect_time = sl_current_msec - u->try_msec;
    if (!u->ssl) {
        if (enter(r, u, SL_UPSTREAM_SEND_REQUEST) == SL_OK) {
            send_request(r, u);
        }
        return;
    }
    if (enter(r, u, SL_UPSTREAM_HANDSHAKE) != SL_OK) {
        return;
    }
    sl_int_t rc = sl__upstream_ssl_start(r, u, handshake_event_done);
    if (rc == SL_AGAIN) {
        return;
    }
    if (rc == SL_ERROR) {
        next_upstream(r, u, SL_UPSTREAM_FT_ERROR);
        return;
    }
    handshake_done(u->peer.connection);
}

/* A kept connection of the other kind (TLS for a plain request, or the reverse) cannot
 * serve this request: it is closed, and a new one made. */
static int kept_fits(sl_upstream_t *u)
{
    if ((u->peer.connection->ssl != NULL) == u->ssl) {
        return 1;
    }
    sl_close_connection(u->peer.connection);
    u->peer.connection = NULL;
    return 0;
}

static void connect_upstream(sl_http_request_t *r, sl_upstream_t *u)
{
    /* what the module set (proxy_bind, proxy_socket_keepalive) survives each try */
    const struct sockaddr *local = u->peer.local;
    socklen_t local_socklen = u->peer.local_socklen;
    int keepalive = u->peer.so_keepalive;
    memset(&u->peer, 0, sizeof(u->peer));
    u->peer.local = local;
    u->peer.local_socklen = local_socklen;
    u->peer.so_keepalive = keepalive;
    u->peer.log = r->connection->log;
    if (sl__upstream_choose_peer(r, u) != SL_OK) {
        no_live_upstreams(r, u);
        return;
    }
    if (new_try(r, u) != SL_OK) {
        finalize(r, u, SL_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }
    /* no connection yet: this sets the log action a failed connect() is reported with */
    if (enter(r, u, SL_UPSTREAM_CONNECT) != SL_OK) {
        return;
    }
    u->peer_cached = 0;
    if (u->group && u->group->keepalive) {
        u->peer.connection = sl_upstream_keepalive_get(u->group, u->peer.sockaddr, u->peer.socklen,
                                                       r->connection->log);
        if (u->peer.connection && kept_fits(u)) {
            u->peer_cached = 1;
            attach_peer(r, u);
            cur_try(u)->connect_time = 0;
            if (enter(r, u, SL_UPSTREAM_SEND_REQUEST) == SL_OK) {
                send_request(r, u);
            }
            return;
        }
    }
    sl_int_t rc = sl_connect_peer(&u->peer);
    if (rc == SL_DECLINED) {
        next_upstream(r, u, SL_UPSTREAM_FT_ERROR);
        return;
    }
    if (rc == SL_BUSY || rc == SL_ERROR) {
        finalize(r, u, SL_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }
    attach_peer(r, u);
    sl__upstream_state_timers(u); /* proxy_connect_timeout, now that there is a connection */
    if (rc == SL_OK) {
        connected(r, u);
    }
}

/* A streamed request body (proxy_request_buffering off) goes to the upstream in pieces
 * after the header: tcp_nodelay lets each out at once, as nginx does. */
static sl_int_t nodelay_for_body(sl_http_request_t *r, sl_connection_t *c)
{
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);

    return clcf->tcp_nodelay ? sl_conn_tcp_nodelay(c) : SL_OK;
}

/* A streamed body's first piece goes out in the same write as the request header. */
static sl_int_t prepend_header(sl_http_request_t *r, sl_upstream_t *u)
{
    if (sl_upstream_stream_first(r, u) != SL_OK) {
        return SL_ERROR;
    }
    sl_chain_t **ll = &u->request_out;
    while (*ll) {
        ll = &(*ll)->next;
    }
    *ll = u->body_out;
    u->body_out = NULL;
    return SL_OK;
}

static void send_request(sl_http_request_t *r, sl_upstream_t *u)
{
    sl_connection_t *c = u->peer.connection;

    if (!c->write->ready) {
        sl__upstream_arm_timer(u, c->write, 1);
        return;
    }
    if (u->body_streaming && nodelay_for_body(r, c) != SL_OK) {
        next_upstream(r, u, SL_UPSTREAM_FT_ERROR);
        return;
    }
    if (u->body_streaming && !u->body_started && prepend_header(r, u) != SL_OK) {
        finalize(r, u, SL_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }
    u->request_begun = 1;
    sl_chain_t *rest = c->io->send_chain(c, u->request_out, 0);
    if (rest == SL_CHAIN_ERROR) {
        next_upstream(r, u, SL_UPSTREAM_FT_ERROR);
        return;
    }
    u->request_out = rest;
    if (rest) {
        sl__upstream_arm_timer(u, c->write, 1);
        return;
    }
    if (u->body_streaming && !u->body_done && stream_body(r, u) != SL_OK) {
        return;
    }
    u->request_sent = 1;
    u->bytes_sent = c->sent;
    if (enter(r, u, SL_UPSTREAM_READ_HEADER) != SL_OK) {
        return;
    }
    if (c->read->ready || c->read->pending_eof) {
        read_header(r, u);
    }
}

static void stream_client_handler(sl_http_request_t *r)
{
    sl_upstream_t *u = r->upstream;

    if (r->connection->read->timedout) {
        sl_log_error(SL_LOG_INFO, r->connection->log, ETIMEDOUT, "client timed out");
        r->connection->timedout = 1;
        finalize(r, u, SL_HTTP_REQUEST_TIME_OUT);
        return;
    }
    if (u->state == SL_UPSTREAM_SEND_REQUEST) {
        send_request(r, u);
    }
}

/* Streams the body (proxy_request_buffering off).  SL_OK when it is all sent; SL_AGAIN
 * waiting (the right timer armed); SL_ERROR after ending the request. */
static sl_int_t stream_body(sl_http_request_t *r, sl_upstream_t *u)
{
    sl_connection_t *pc = u->peer.connection;
    sl_uint_t status;
    sl_int_t rc = sl_upstream_stream_body(r, u, &status);

    if (rc == SL_AGAIN) {
        /* waiting for the upstream: its send timer; for the client: client_body_timeout */
        sl__upstream_arm_timer(u, pc->write, u->body_out != NULL);
        r->read_event_handler = stream_client_handler;
        return SL_AGAIN;
    }
    watch_client(r, u);
    if (rc == SL_ERROR) {
        if (status == SL_HTTP_BAD_GATEWAY) {
            next_upstream(r, u, SL_UPSTREAM_FT_ERROR);
        } else {
            finalize(r, u, (sl_int_t) status);
        }
        return SL_ERROR;
    }
    return SL_OK;
}

static void on_write(sl_http_request_t *r, sl_upstream_t *u, sl_event_t *ev)
{
    if (u->state == SL_UPSTREAM_CONNECT) {
        if (ev->timedout) {
            next_upstream(r, u, SL_UPSTREAM_FT_TIMEOUT);
            return;
        }
        if (sl_connect_check(u->peer.connection) != SL_OK) {
            next_upstream(r, u, SL_UPSTREAM_FT_ERROR);
            return;
        }
        connected(r, u);
        return;
    }
    if (u->state == SL_UPSTREAM_SEND_REQUEST) {
        if (ev->timedout) {
            next_upstream(r, u, SL_UPSTREAM_FT_TIMEOUT);
            return;
        }
        send_request(r, u);
    }
}

static void upstream_handler(sl_event_t *ev)
{
    sl_connection_t *c = ev->data;
    sl_http_request_t *r = c->data;
    sl_connection_t *client = r->connection;

    /* the handlers may end r: what they posted runs on the client's connection after */
    unsigned was = sl_http_dispatch_enter(client);
    process_event(r, ev);
    sl_http_dispatch_leave(client, was);
}

static void process_event(sl_http_request_t *r, sl_event_t *ev)
{
    sl_upstream_t *u = r->upstream;

    r->http_connection->log_ctx.request = r;
    r->connection->log->action = sl_upstream_state_row(u->state)->action;
    if (ev->write) {
        on_write(r, u, ev);
        return;
    }
    if (u->state == SL_UPSTREAM_READ_HEADER) {
        if (ev->timedout) {
            next_upstream(r, u, SL_UPSTREAM_FT_TIMEOUT);
            return;
        }
        read_header(r, u);
        return;
    }
    /* each of these may end the request and free u: nothing may follow them */
    if (u->state == SL_UPSTREAM_BODY_UNBUFFERED) {
        process_body(r, u, 0);
    } else if (u->state == SL_UPSTREAM_BODY_BUFFERED) {
        if (ev->timedout && ev->delayed) {
            /* proxy_limit_rate's pause is over, not a read timeout */
            ev->timedout = 0;
            ev->delayed = 0;
        }
        run_pipe(r, u, 0);
    }
}

static sl_int_t alloc_header_buffer(sl_http_request_t *r, sl_upstream_t *u)
{
    if (u->buffer.start) {
        return SL_OK;
    }
    u->buffer.start = sl_palloc(r->pool, u->conf->buffer_size);
    if (u->buffer.start == NULL) {
        return SL_ERROR;
    }
    u->buffer.pos = u->buffer.start;
    u->buffer.last = u->buffer.start;
    u->buffer.end = u->buffer.start + u->conf->buffer_size;
    u->buffer.temporary = 1;
    return SL_OK;
}

static void send_header(sl_http_request_t *r, sl_upstream_t *u);

static void read_header(sl_http_request_t *r, sl_upstream_t *u)
{
    sl_connection_t *c = u->peer.connection;

    if (alloc_header_buffer(r, u) != SL_OK) {
        finalize(r, u, SL_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }
    for (;;) {
        ssize_t n = c->io->recv(c, u->buffer.last, (size_t) (u->buffer.end - u->buffer.last));
        if (n == SL_AGAIN) {
            return;
        }
        if (n == 0) {
            sl_log_error(SL_LOG_ERR, r->connection->log, 0,
                         "upstream prematurely closed connection");
        }
        if (n == 0 || n == SL_ERROR) {
            next_upstream(r, u, SL_UPSTREAM_FT_ERROR);
            return;
        }
        u->buffer.last += n;
        u->bytes_received += n;
        sl_int_t rc = u->process_header(r);
        if (rc == SL_AGAIN) {
            if (u->buffer.last == u->buffer.end) {
                sl_log_error(SL_LOG_ERR, r->connection->log, 0, "upstream sent too big header");
                next_upstream(r, u, SL_UPSTREAM_FT_INVALID_HEADER);
                return;
            }
            continue;
        }
        if (rc != SL_OK) {
            next_upstream(r, u, SL_UPSTREAM_FT_INVALID_HEADER);
            return;
        }
        u->header_time = sl_current_msec - u->start_msec;
        cur_try(u)->header_time = sl_current_msec - u->try_msec;
        cur_try(u)->status = u->headers_in.status_n;
        u->header_bytes = (size_t) (u->buffer.pos - u->buffer.start);
        /* proxy_next_upstream http_NNN: this answer goes to the next peer, if one is left */
        sl_uint_t ft = sl__upstream_status_ft(u->headers_in.status_n);
        if (ft && sl__upstream_may_retry(r, u, ft, 2)) {
            next_upstream(r, u, ft);
            return;
        }
        /* the cache: a 304 that revalidates the stored file, or a status the stale file
         * answers instead of */
        if (sl__upstream_cache_revalidated(r, u) == SL_OK
            || (ft && sl__upstream_cache_stale(r, u, ft) == SL_OK)) {
            send_cached(r, u);
            return;
        }
        send_header(r, u);
        return;
    }
}

/* The hop-by-hop and framing headers sluice writes itself (Connection, Keep-Alive,
 * Transfer-Encoding, Content-Length): never passed on.  TE, Trailer, Upgrade and
 * Proxy-Connection are passed, as nginx 1.22 passes them: they frame nothing of the
 * response sluice sends (its Connection header is its own, without "upgrade"). */
#define HOP_BY_HOP                                                                                 \
    (SL_UPSTREAM_H_BIT(SL_UPSTREAM_H_CONNECTION) | SL_UPSTREAM_H_BIT(SL_UPSTREAM_H_KEEP_ALIVE)     \
     | SL_UPSTREAM_H_BIT(SL_UPSTREAM_H_TRANSFER_ENCODING)                                          \
     | SL_UPSTREAM_H_BIT(SL_UPSTREAM_H_CONTENT_LENGTH))

static int hidden_header(sl_upstream_t *u, const sl_table_elt_t *h, sl_uint_t kind)
{
    if (kind != SL_UPSTREAM_H_OTHER) {
        return ((HOP_BY_HOP | u->conf->hide_kinds) & SL_UPSTREAM_H_BIT(kind)) != 0;
    }
    if (u->conf->hide_names == NULL) {
        return 0;
    }
    sl_str_t *names = u->conf->hide_names->elts;
    for (sl_uint_t i = 0; i < u->conf->hide_names->nelts; i++) {
        if (sl_str_caseeq(&names[i], &h->key)) {
            return 1;
        }
    }
    return 0;
}

/* X-Accel-Buffering: the upstream steering how this response is read. */
static void x_accel_buffering(sl_upstream_t *u, const sl_table_elt_t *h)
{
    if (u->conf->ignore_headers & SL_UPSTREAM_IGN_XA_BUFFERING) {
        return;
    }
    if (h->value.len == 2 && sl_strncasecmp(h->value.data, (u_char *) "no", 2) == 0) {
        u->buffering = 0;
    } else if (h->value.len == 3 && sl_strncasecmp(h->value.data, (u_char *) "yes", 3) == 0) {
        u->buffering = 1;
    }
}

/* X-Accel-Limit-Rate: taken before an X-Accel-Redirect or an error_page diverts the
 * response, so the rate holds for whatever answers instead (as in nginx 1.22, where the
 * location's limit_rate does not replace it). */
static void x_accel_limit_rate(sl_http_request_t *r, sl_upstream_t *u)
{
    if ((u->conf->ignore_headers & SL_UPSTREAM_IGN_XA_LIMIT_RATE)
        || !(u->headers_in.seen & SL_UPSTREAM_H_BIT(SL_UPSTREAM_H_XA_LIMIT_RATE))) {
        return;
    }
    SL_LIST_FOREACH(&u->headers_in.headers, part, i, sl_table_elt_t, h)
    {
        if (sl_upstream_elt_kind(h) != SL_UPSTREAM_H_XA_LIMIT_RATE) {
            continue;
        }
        sl_int_t n = sl_atoi(h->value.data, h->value.len);
        if (n != SL_ERROR) {
            r->limit_rate = (size_t) n;
            r->limit_rate_set = 1;
        } else if (h->value.len == 3 && memcmp(h->value.data, "off", 3) == 0) {
            r->limit_rate = 0;
            r->limit_rate_set = 1;
        }
    }
}

static sl_int_t copy_headers(sl_http_request_t *r, sl_upstream_t *u)
{
    sl_upstream_headers_in_t *in = &u->headers_in;

    r->headers_out.status = in->status_n;
    r->headers_out.status_line = in->status_line;
    r->headers_out.content_length_n = in->chunked ? -1 : in->content_length_n;
    u->buffering = (unsigned) u->conf->buffering;
    /* the upstream answers conditional requests itself: no 304 or 412 of ours for what it
     * sent; as nginx, only a response from or into the cache answers them (sl_upstream's
     * cache paths turn this off) */
    r->disable_not_modified = 1;
    if (u->conf->cache.force_ranges) {
        /* proxy_force_ranges: whatever the upstream says of ranges */
        r->allow_ranges = 1;
        r->single_range = !u->cached;
    }
    SL_LIST_FOREACH(&in->headers, part, i, sl_table_elt_t, h)
    {
        sl_uint_t kind = sl_upstream_elt_kind(h);
        if (kind == SL_UPSTREAM_H_XA_BUFFERING) {
            x_accel_buffering(u, h);
        }
        if (hidden_header(u, h, kind)) {
            continue;
        }
        if (kind == SL_UPSTREAM_H_CONTENT_TYPE) {
            sl_http_set_content_type_with_charset(r, &h->value);
            continue;
        }
        if (kind == SL_UPSTREAM_H_ACCEPT_RANGES && (u->cacheable || u->cached)
            && !u->conf->cache.force_ranges) {
            /* as nginx: a cached response's ranges are ours (the range filter says so);
             * one being cached gets a single range */
            r->allow_ranges = 1;
            r->single_range = !u->cached;
            continue;
        }
        sl_table_elt_t *o = sl_upstream_pass_header(r, h);
        if (o == NULL) {
            return SL_ERROR;
        }
        sl_int_t rc = u->rewrite_header ? u->rewrite_header(r, o) : SL_DECLINED;
        if (rc == SL_ERROR) {
            return SL_ERROR;
        }
        if (kind == SL_UPSTREAM_H_LOCATION) {
            /* as nginx: only a rewritten Location is the response's (made absolute) */
            r->headers_out.location = rc == SL_OK ? o : r->headers_out.location;
        } else if (kind == SL_UPSTREAM_H_DATE) {
            r->headers_out.date = o; /* proxy_pass_header Date: the upstream's is used */
        } else if (kind == SL_UPSTREAM_H_SERVER) {
            r->headers_out.server = o;
        } else if (kind == SL_UPSTREAM_H_ETAG) {
            r->headers_out.etag = o; /* for If-Range; conditionals only when cached */
        } else if (kind == SL_UPSTREAM_H_LAST_MODIFIED) {
            /* as nginx: "expires modified" counts from it */
            r->headers_out.last_modified = o;
            r->headers_out.last_modified_time = sl_http_parse_time(o->value.data, o->value.len);
        } else if (kind == SL_UPSTREAM_H_EXPIRES) {
            /* what the filters read: gzip_proxied, expires, gzip's "already encoded" */
            r->headers_out.expires = o;
        } else if (kind == SL_UPSTREAM_H_CONTENT_ENCODING) {
            r->headers_out.content_encoding = o;
        } else if (kind == SL_UPSTREAM_H_ACCEPT_RANGES) {
            /* a filter that changes the body (gzip) takes it away */
            r->headers_out.accept_ranges = o;
        } else if (kind == SL_UPSTREAM_H_CONTENT_RANGE) {
            /* the slice module reads which piece a 206 holds */
            r->headers_out.content_range = o;
        }
    }
    /* proxy_pass_header Date / Server: the upstream's or none, never sluice's own (nginx) */
    static sl_table_elt_t none;
    if (!(u->conf->hide_kinds & SL_UPSTREAM_H_BIT(SL_UPSTREAM_H_DATE))
        && r->headers_out.date == NULL) {
        r->headers_out.date = &none;
    }
    if (!(u->conf->hide_kinds & SL_UPSTREAM_H_BIT(SL_UPSTREAM_H_SERVER))
        && r->headers_out.server == NULL) {
        r->headers_out.server = &none;
    }
    return SL_OK;
}

/*
 * The response's end goes out: out, which carries the last buffer, or sl_http_send_last's.
 * While the rest is sent, a client closing ends it whatever ignore_client_abort says.
 */
static void send_end(sl_http_request_t *r, sl_chain_t *out)
{
    r->write_event_handler = sl_http_request_empty_handler;
    r->read_event_handler = check_client;
    sl_http_finalize_request(r, out ? sl_http_output_filter(r, out) : sl_http_send_last(r));
}

/*
 * The header buffer holds the whole body, exactly as long as Content-Length said (a small
 * response): there is nothing left to read, so no pipe.  A chunked body, one with bytes
 * past its end, or one with a copy to make (the tee's, through the pipe's temp file) takes
 * the pipe.
 */
static int whole_body_read(const sl_upstream_t *u)
{
    return !u->headers_in.chunked && u->length >= 0 && u->tee == NULL
           && u->buffer.last - u->buffer.pos == u->length;
}

/*
 * The body goes to the filters with the last-buffer mark in one pass, after the upstream
 * connection is released (kept when keepalive allows).  A client that takes it slowly is
 * the writer's, as after sl_http_send_last.
 */
static void send_whole_body(sl_http_request_t *r, sl_upstream_t *u)
{
    sl_buf_t *b = sl_calloc_buf(r->pool);
    sl_str_t body = sl_null_string;

    /* the protocol's decoder takes the body out of the buffer: all of it, complete */
    if (b == NULL || SL_BUG_ON(u->input_filter(r, &u->buffer, &body) != SL_DONE)) {
        finalize(r, u, SL_ERROR);
        return;
    }
    if (body.len) {
        b->temporary = 1;
        b->start = b->pos = body.data;
        b->end = b->last = body.data + body.len;
    }
    sl_http_mark_last(r, b);
    u->upstream_done = 1;
    if (end_upstream(r, u, SL_OK)) {
        sl_chain_t out = { b, NULL };
        send_end(r, &out);
    }
}

static void send_header(sl_http_request_t *r, sl_upstream_t *u)
{
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);

    x_accel_limit_rate(r, u);
    sl_int_t diverted = sl__upstream_divert(r, u);

    if (diverted != SL_DECLINED) {
        if (diverted >= SL_HTTP_SPECIAL_RESPONSE) {
            sl__upstream_cache_error(r, u, (sl_uint_t) diverted);
        }
        u->diverted = 1;
        finalize(r, u, diverted);
        return;
    }
    sl__upstream_x_accel_charset(r, u);
    /* whether the response is stored decides how it is sent: before the headers are */
    sl__upstream_cache_decide(r, u);
    if (copy_headers(r, u) != SL_OK) {
        finalize(r, u, SL_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }
    if (u->cacheable && !u->buffering) {
        /* as nginx: an unbuffered response is not cached */
        u->cacheable = 0;
    }
    if (u->cacheable) {
        /* a response being cached answers conditionals and ranges as a cached one */
        r->disable_not_modified = 0;
    }
    if (enter(r, u, SL_UPSTREAM_SEND_RESPONSE_HEADER) != SL_OK) {
        return;
    }
    /* the upstream's status line reaches the client as it came ("200 Okay", "200"), as in
     * nginx 1.22; a filter that changes the status drops it */
    sl_int_t rc = sl_http_send_header(r);
    /* a filter's own answer (412 of a conditional): nothing went out, it answers instead */
    u->header_sent = rc < SL_HTTP_SPECIAL_RESPONSE;
    if (rc >= SL_HTTP_SPECIAL_RESPONSE) {
        finalize(r, u, rc);
        return;
    }
    if (u->upgrade && (rc == SL_OK || rc == SL_AGAIN)) {
        /* the 101 is header-only for the filters, but the connections go on as a tunnel */
        if (enter(r, u, SL_UPSTREAM_TUNNEL) == SL_OK) {
            sl_upstream_tunnel_start(r, u);
        }
        return;
    }
    if (rc != SL_ERROR && rc <= SL_OK && r->header_only && u->cacheable && u->tee
        && u->pipe_input_filter) {
        /* a HEAD (made GET or not), or a 304 of ours: the body, if any, is read for the
         * cache alone */
        u->body_for_cache_only = 1;
    } else if (rc == SL_ERROR || rc > SL_OK || r->header_only) {
        finalize(r, u, rc == SL_ERROR ? SL_ERROR : SL_OK);
        return;
    }
    if (u->buffering && u->pipe_input_filter && whole_body_read(u)) {
        send_whole_body(r, u);
        return;
    }
    if (u->buffering && u->pipe_input_filter) {
        if (enter(r, u, SL_UPSTREAM_BODY_BUFFERED) != SL_OK) {
            return;
        }
        if (start_pipe(r, u) != SL_OK) {
            finalize(r, u, SL_ERROR);
            return;
        }
        /* nothing of the body goes to the client: the pipe reads it to its end */
        u->pipe->downstream_error = u->body_for_cache_only;
        r->write_event_handler = sl_upstream_downstream_handler;
        run_pipe(r, u, 1);
        return;
    }
    if (enter(r, u, SL_UPSTREAM_BODY_UNBUFFERED) != SL_OK) {
        return;
    }
    /* an unbuffered body is passed on as it comes: no limit_rate (nginx: $limit_rate 0),
     * and tcp_nodelay lets its small pieces out at once */
    r->limit_rate = 0;
    r->limit_rate_set = 1;
    if (clcf->tcp_nodelay && sl_conn_tcp_nodelay(r->connection) != SL_OK) {
        finalize(r, u, SL_ERROR);
        return;
    }
    r->write_event_handler = sl_upstream_downstream_handler;
    process_body(r, u, 0);
}

/* Decodes what the buffer holds into a chain of bufs over the decoded spans (no copy).
 * SL_OK (more to come), SL_DONE (the body is complete), SL_ERROR (bad framing). */
static sl_int_t decode(sl_http_request_t *r, sl_upstream_t *u, sl_chain_t **out)
{
    sl_chain_t **ll = out;
    sl_int_t rc = SL_OK;

    *out = NULL;
    while (u->buffer.pos < u->buffer.last && rc == SL_OK) {
        sl_str_t span = sl_null_string;
        rc = u->input_filter(r, &u->buffer, &span);
        if (rc == SL_ERROR) {
            return SL_ERROR;
        }
        if (rc == SL_AGAIN) {
            rc = SL_OK;
            break;
        }
        if (span.len == 0) {
            continue;
        }
        sl_chain_t *cl = sl_chain_get_free_buf(r->pool, &u->free_bufs);
        if (cl == NULL) {
            return SL_ERROR;
        }
        memset(cl->buf, 0, sizeof(sl_buf_t));
        cl->buf->memory = 1;
        cl->buf->pos = span.data;
        cl->buf->last = span.data + span.len;
        cl->buf->start = span.data;
        cl->buf->tag = u;
        cl->buf->flush = 1;
        *ll = cl;
        ll = &cl->next;
    }
    return rc;
}

/* Sends the decoded data; SL_OK when everything went out, SL_AGAIN when the client is
 * slow (the buffer must not be reused yet), SL_ERROR. */
static sl_int_t send_out(sl_http_request_t *r, sl_upstream_t *u, sl_chain_t *out)
{
    sl_int_t rc = sl_http_output_filter(r, out);

    sl_chain_update(r->pool, &u->free_bufs, &u->busy_bufs, &out, u);
    if (rc == SL_ERROR) {
        return SL_ERROR;
    }
    /* a filter may hold bytes of its own for the client (gzip: r->buffered) */
    return r->out || r->buffered || u->busy_bufs ? SL_AGAIN : SL_OK;
}

/* Reads from the upstream into the (empty) buffer.  SL_OK, SL_AGAIN, SL_DONE (EOF), or
 * SL_ERROR. */
static sl_int_t fill(sl_http_request_t *r, sl_upstream_t *u)
{
    sl_connection_t *c = u->peer.connection;

    u->buffer.pos = u->buffer.start;
    u->buffer.last = u->buffer.start;
    ssize_t n = c->io->recv(c, u->buffer.last, (size_t) (u->buffer.end - u->buffer.last));
    if (n == SL_AGAIN) {
        sl__upstream_arm_timer(u, c->read, 1);
        return SL_AGAIN;
    }
    if (n == SL_ERROR) {
        return SL_ERROR;
    }
    if (n == 0) {
        return SL_DONE;
    }
    u->buffer.last += n;
    u->bytes_received += n;
    return SL_OK;
}

/*
 * The unbuffered body: one buffer, read when it is empty and everything decoded from it
 * has reached the client, written as soon as something arrives.  Memory never grows.
 */
static void process_body(sl_http_request_t *r, sl_upstream_t *u, int from_client)
{
    sl_connection_t *c = u->peer.connection;

    if (c && c->read->timedout) {
        sl_log_error(SL_LOG_ERR, r->connection->log, ETIMEDOUT, "upstream timed out");
        finalize(r, u, SL_ERROR);
        return;
    }
    for (;;) {
        sl_chain_t *out = NULL;
        sl_int_t rc = decode(r, u, &out);
        if (rc == SL_ERROR) {
            sl_log_error(SL_LOG_ERR, r->connection->log, 0,
                         "upstream sent invalid chunked response");
            finalize(r, u, SL_ERROR);
            return;
        }
        if (rc == SL_DONE) {
            u->upstream_done = 1;
        }
        sl_int_t sent = send_out(r, u, out);
        if (sent == SL_ERROR) {
            finalize(r, u, SL_ERROR);
            return;
        }
        if (sent == SL_AGAIN) {
            return; /* the client's write event brings us back */
        }
        if (u->upstream_done) {
            finalize(r, u, SL_OK);
            return;
        }
        rc = fill(r, u);
        if (rc == SL_AGAIN) {
            return;
        }
        if (rc == SL_DONE && u->length == -1 && !u->headers_in.chunked) {
            finalize(r, u, SL_OK); /* close-delimited: the close is the end */
            return;
        }
        if (rc == SL_DONE || rc == SL_ERROR) {
            if (rc == SL_DONE) {
                sl_log_error(SL_LOG_ERR, r->connection->log, 0,
                             "upstream prematurely closed connection");
            }
            finalize(r, u, SL_ERROR);
            return;
        }
    }
}

void sl_upstream_downstream_handler(sl_http_request_t *r)
{
    sl_upstream_t *u = r->upstream;
    sl_connection_t *c = r->connection;

    if (c->write->timedout && c->write->delayed) {
        /* limit_rate's pause is over, not a send timeout */
        c->write->timedout = 0;
        c->write->delayed = 0;
        c->write->ready = 1;
    }
    if (c->write->timedout) {
        c->timedout = 1;
        c->log->action = sl_upstream_state_row(u->state)->client_action;
        sl_log_error(SL_LOG_INFO, c->log, ETIMEDOUT, "client timed out");
        if (u->state == SL_UPSTREAM_BODY_BUFFERED && u->pipe->cacheable) {
            /* storing: the upstream is read on without the client, as nginx */
            c->write->timedout = 0;
            u->pipe->downstream_error = 1;
            run_pipe(r, u, 0);
            return;
        }
        finalize(r, u, SL_HTTP_REQUEST_TIME_OUT);
        return;
    }
    if (u->state == SL_UPSTREAM_BODY_BUFFERED) {
        run_pipe(r, u, 1);
        return;
    }
    process_body(r, u, 1);
}

/* The pipe's downstream: the request's output filters.  SL_AGAIN while bytes wait. */
static sl_int_t pipe_output(void *data, sl_chain_t *chain)
{
    sl_http_request_t *r = data;
    sl_int_t rc = sl_http_output_filter(r, chain);

    if (rc == SL_ERROR) {
        return SL_ERROR;
    }
    return r->out ? SL_AGAIN : SL_OK;
}

static sl_int_t start_pipe(sl_http_request_t *r, sl_upstream_t *u)
{
    const sl_upstream_state_row_t *row = sl_upstream_state_row(u->state);
    sl_pipe_t *p = sl_pcalloc(r->pool, sizeof(sl_pipe_t));

    if (p == NULL) {
        return SL_ERROR;
    }
    u->pipe = p;
    p->upstream = u->peer.connection;
    p->downstream = r->connection;
    p->input_filter = u->pipe_input_filter;
    p->input_ctx = r;
    p->output_filter = pipe_output;
    p->output_ctx = r;
    p->tag = u;
    p->bufs = u->conf->bufs;
    p->busy_size = (ssize_t) u->conf->busy_buffers_size;
    p->max_temp_file_size = u->conf->max_temp_file_size;
    p->temp_file_write_size = (ssize_t) u->conf->temp_file_write_size;
    p->temp_path = u->conf->temp_path->name;
    /* a copy to make: every byte goes through the temp file, in the tee's directory */
    p->cacheable = sl__upstream_tee_open(r, u, &p->temp_path);
    /* the cache's file keeps room for its header before the body */
    p->temp_file = sl__upstream_tee_file(r, u);
    p->cacheable = u->tee != NULL;
    /* the pipe runs the state's timers, on the upstream's reads and the client's writes */
    p->read_timeout = sl__upstream_timeout(u, row->read_timer);
    p->send_timeout = sl__upstream_timeout(u, row->client_timer);
    /* evaluated now, as nginx 1.27: $upstream_http_NAME can set it per response */
    p->limit_rate = sl_http_complex_value_size(r, u->conf->limit_rate, 0);
    p->start_sec = sl_cached_time_sec;
    /* chunked: the decoder keeps the length at the fewest bytes still to come; any first
     * byte is worth decoding */
    p->length = u->headers_in.chunked ? 1 : u->length;
    p->pool = r->pool;
    p->log = r->connection->log;
    p->read_action = row->action;
    p->write_action = row->client_action;
    p->upstream_done = u->upstream_done;
    size_t n = (size_t) (u->buffer.last - u->buffer.pos);
    if (n && p->upstream_done) {
        /* "Content-Length: 0" and bytes after it: dropped, warned of as nginx */
        sl_log_error(SL_LOG_WARN, r->connection->log, 0,
                     "upstream sent more data than specified in \"Content-Length\" header");
        p->input_overrun = 1;
    }
    if (n && !p->upstream_done) {
        /* body bytes that came with the header: the header buffer is the first raw one */
        sl_chain_t *cl = sl_alloc_chain_link(r->pool);
        sl_buf_t *b = sl_calloc_buf(r->pool);
        if (cl == NULL || b == NULL) {
            return SL_ERROR;
        }
        *b = u->buffer;
        b->start = b->pos;
        b->end = b->last;
        cl->buf = b;
        cl->next = NULL;
        p->preread_bufs = cl;
        p->preread_size = n;
        /* the pipe counts these in its read_length */
        u->bytes_received -= (off_t) n;
    }
    return SL_OK;
}

/* Sends what the output filters hold, as far as the client takes it now: before a
 * truncated response's connection is cut. */
static sl_int_t flush_output(sl_http_request_t *r)
{
    static sl_buf_t flush_buf = { .flush = 1 };
    sl_chain_t flush = { &flush_buf, NULL };

    return sl_http_output_filter(r, &flush);
}

/*
 * The response cannot complete: what the filters hold is flushed and the request ends
 * without its last buffer, so no last chunk goes out and the connection closes once the
 * client has taken what was sent (nginx finalizes with its flush's result).  A client that
 * reads slowly still gets every byte that arrived; send_timeout bounds the wait.
 */
static void cut_response(sl_http_request_t *r, sl_upstream_t *u, sl_int_t rc)
{
    if (!end_upstream(r, u, rc)) {
        return;
    }
    r->keepalive = 0;
    r->write_event_handler = sl_http_request_empty_handler;
    r->read_event_handler = check_client;
    sl_http_finalize_request(r, flush_output(r) == SL_ERROR ? SL_ERROR : SL_OK);
}

/*
 * The upstream failed or closed before the body's end: the response cannot complete.  What
 * was read goes to the filters now, all of it (the pipe's busy limit no longer applies),
 * and the request ends as a cut response.  Leaving it in the pipe to go out as the client
 * drained left a client whose socket never filled without any event to end the request.
 */
static void end_truncated(sl_http_request_t *r, sl_upstream_t *u)
{
    sl_pipe_t *p = u->pipe;

    if (!p->upstream_error) {
        sl_log_error(SL_LOG_ERR, r->connection->log, 0, "upstream prematurely closed connection");
    }
    if ((p->in || p->out) && sl_pipe_run(p, 1) == SL_ABORT) {
        finalize(r, u, SL_ERROR);
        return;
    }
    cut_response(r, u, SL_HTTP_BAD_GATEWAY);
}

/* One pass of the pipe, then what it means for the request. */
static void run_pipe(sl_http_request_t *r, sl_upstream_t *u, int do_write)
{
    sl_pipe_t *p = u->pipe;

    if (p->upstream && p->upstream->read->timedout) {
        sl_log_error(SL_LOG_ERR, r->connection->log, ETIMEDOUT, "upstream timed out");
        /* what the filters hold (the header, at least) still goes out, as nginx flushes
         * before it ends the request; the pipe's unsent bytes do not */
        cut_response(r, u, SL_HTTP_GATEWAY_TIME_OUT);
        return;
    }
    if (sl_pipe_run(p, do_write) == SL_ABORT) {
        /* a failed write ends the upstream too, proxy_ignore_client_abort or not (nginx) */
        finalize(r, u, SL_ERROR);
        return;
    }
    int finished = p->upstream_done || p->upstream_eof || p->upstream_error;
    if (finished && p->upstream) {
        /* the response is read: the upstream goes now, however slow the client */
        sl__upstream_tee_end(r, u);
        end_try(u, 0);
        keep_or_close_peer(u, p->upstream_done && !p->upstream_eof && !p->upstream_error
                                  && !p->input_overrun);
        p->upstream = NULL;
    }
    int truncated =
        finished
        && (p->upstream_error || (!p->upstream_done && (p->length > 0 || u->headers_in.chunked)));
    if (truncated && !p->downstream_error) {
        end_truncated(r, u);
        return;
    }
    /* once everything read is in the output filters, the request can end: the writer
     * sends what is still buffered (as nginx finalizes when the upstream is done) */
    if (!p->downstream_done && !(finished && p->in == NULL && p->out == NULL)) {
        return;
    }
    finalize(r, u, p->downstream_error && !u->body_for_cache_only ? SL_ERROR : SL_OK);
}

/*
 * A cache file answers: its header was parsed into u->headers_in as an upstream's would be,
 * and goes out through the same copy (hidden headers, proxy_redirect...), its body as a file
 * buf through the output filters (ranges, conditionals, sendfile).
 */
static void send_cached(sl_http_request_t *r, sl_upstream_t *u)
{
    sl_buf_t *b = sl_calloc_buf(r->pool);

    if (b == NULL || enter(r, u, SL_UPSTREAM_CACHE_SEND) != SL_OK) {
        if (b == NULL) {
            finalize(r, u, SL_HTTP_INTERNAL_SERVER_ERROR);
        }
        return;
    }
    u->cached = 1;
    x_accel_limit_rate(r, u);
    sl__upstream_x_accel_charset(r, u);
    if (copy_headers(r, u) != SL_OK || sl__upstream_cache_body(r, u, b) != SL_OK) {
        finalize(r, u, SL_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }
    r->disable_not_modified = 0;
    sl_int_t rc = sl_http_send_header(r);
    u->header_sent = rc < SL_HTTP_SPECIAL_RESPONSE;
    if (rc == SL_ERROR || rc > SL_OK || r->header_only) {
        finalize(r, u, rc == SL_ERROR || rc >= SL_HTTP_SPECIAL_RESPONSE ? rc : SL_OK);
        return;
    }
    u->upstream_done = 1;
    if (end_upstream(r, u, SL_OK)) {
        sl_chain_t out = { b, NULL };
        send_end(r, &out);
    }
}

void sl__upstream_finalize(sl_http_request_t *r, sl_upstream_t *u, sl_int_t rc)
{
    finalize(r, u, rc);
}

/* The upstream's part of the end: the try's record, the peer kept or closed and released,
 * the module's hook.  0 when the upstream had already ended. */
static int end_upstream(sl_http_request_t *r, sl_upstream_t *u, sl_int_t rc)
{
    if (u->state == SL_UPSTREAM_DONE) {
        return 0;
    }
    /* DONE follows every other state; a refusal (logged) means u->state is corrupt, and
     * the request still ends here, as an error */
    if (sl__upstream_set_state(u, SL_UPSTREAM_DONE) != SL_OK) {
        rc = u->header_sent ? SL_ERROR : SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    u->response_time = sl_current_msec - u->start_msec;
    /* ended before the body did: a copy still being made is dropped */
    sl__upstream_tee_end(r, u);
    sl__upstream_cache_end(r, u);
    if (u->body_streaming && !u->body_done) {
        /* the rest of the body is still on its way: the connection cannot be reused */
        r->keepalive = 0;
        r->lingering_close = 1;
    }
    /* a client gone is not the upstream's answer: $upstream_status stays "-", as nginx */
    int status =
        rc >= SL_HTTP_SPECIAL_RESPONSE && !u->header_sent && rc != SL_HTTP_CLIENT_CLOSED_REQUEST;
    end_try(u, status ? (sl_uint_t) rc : 0);
    keep_or_close_peer(u, (rc == SL_OK || u->diverted) && u->upstream_done && u->pipe == NULL);
    sl__upstream_release_peer(u, SL_UPSTREAM_PEER_OK);
    if (u->finalize_request) {
        u->finalize_request(r, rc);
    }
    return 1;
}

static void finalize(sl_http_request_t *r, sl_upstream_t *u, sl_int_t rc)
{
    if (!end_upstream(r, u, rc)) {
        return;
    }
    if (!u->header_sent) {
        sl_http_finalize_request(r, u->redirect.len ? sl__upstream_redirect(r, u) : rc);
        return;
    }
    if (rc != SL_OK) {
        /* the client must see the truncation: no last chunk, the connection closes */
        r->connection->error = 1;
        sl_http_finalize_request(r, SL_ERROR);
        return;
    }
    send_end(r, NULL);
}
