/*
 * sl_connect.c: non-blocking outbound connections (the upstream side).
 */

#include "sl_conn.h"

static sl_int_t prepare_socket(sl_peer_connection_t *pc, int s)
{
    if (pc->so_keepalive) {
        int on = 1;
        if (setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) == -1) {
            sl_log_error(SL_LOG_ALERT, pc->log, errno, "setsockopt(SO_KEEPALIVE) failed, ignored");
        }
    }
    if (pc->local) {
        if (pc->local->sa_family != AF_UNIX && sl_sockaddr_port(pc->local) == 0) {
            int on = 1;
            /* Many upstream connections from one local address need ephemeral ports
             * assigned at connect() time, not bind() time (a port given is bound as is). */
            setsockopt(s, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof(on));
        }
        if (bind(s, pc->local, pc->local_socklen) == -1) {
            u_char text[SL_SOCKADDR_STRLEN + 16];
            size_t n = sl_addr_ntop(pc->local, pc->local_socklen, text, sizeof(text), 1);
            sl_log_error(SL_LOG_CRIT, pc->log, errno, "bind(%.*s) failed", (int) n, (char *) text);
            return SL_ERROR;
        }
    }
    return SL_OK;
}

/* errno values after which trying another peer makes sense. */
static int peer_failure(sl_err_t err)
{
    return err == ECONNREFUSED || err == EAGAIN || err == ECONNRESET || err == ENETDOWN
           || err == ENETUNREACH || err == EHOSTDOWN || err == EHOSTUNREACH;
}

/* Takes ownership of s: on failure it is closed. */
static sl_int_t register_connection(sl_peer_connection_t *pc, int s, sl_connection_t **out)
{
    sl_connection_t *c = sl_get_connection(s, pc->log);

    if (c == NULL) {
        close(s);
        return SL_BUSY;
    }
    c->number = ++sl_connection_counter;
    c->peer_errors_logged_err = 1;
    /* keepalive_time counts from here */
    c->start_msec = sl_current_msec;
    memcpy(&c->sockaddr, pc->sockaddr, pc->socklen);
    c->socklen = pc->socklen;
    if (sl_loop_add_connection(c) != SL_OK) {
        sl_close_connection(c);
        return SL_ERROR;
    }
    *out = c;
    return SL_OK;
}

sl_int_t sl_connect_peer(sl_peer_connection_t *pc)
{
    int type = SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC;
    int s = socket(pc->sockaddr->sa_family, type, 0);
    sl_connection_t *c = NULL;

    pc->connection = NULL;
    if (s == -1) {
        sl_log_error(SL_LOG_ALERT, pc->log, errno, "socket() failed");
        return SL_ERROR;
    }
    if (prepare_socket(pc, s) != SL_OK) {
        close(s);
        return SL_ERROR;
    }
    sl_int_t rc = register_connection(pc, s, &c);
    if (rc != SL_OK) {
        return rc;
    }
    pc->connection = c;
    if (connect(s, pc->sockaddr, pc->socklen) == 0) {
        c->write->ready = 1;
        return SL_OK;
    }
    sl_err_t err = errno;
    if (err == EINPROGRESS) {
        return SL_AGAIN;
    }
    /* Any failed connect() is the peer's problem as far as the caller goes: try the next
     * one (nginx's rule); only the log level tells the usual cases from the odd ones. */
    sl_log_error(peer_failure(err) ? SL_LOG_ERR : SL_LOG_CRIT, pc->log, err,
                 "connect() to %.*s failed", pc->name ? (int) pc->name->len : 0,
                 pc->name ? (char *) pc->name->data : "");
    sl_close_connection(c);
    pc->connection = NULL;
    return SL_DECLINED;
}

sl_int_t sl_connect_check(sl_connection_t *c)
{
    sl_err_t err = sl_conn_pending_error(c);

    if (err) {
        sl_log_error(SL_LOG_ERR, c->log, err, "connect() failed");
        return SL_ERROR;
    }
    return SL_OK;
}
