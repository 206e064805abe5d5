/*
 * sl_conn_socket.c: what is asked of a connection's socket beyond its bytes, whatever
 * carries them (plain TCP or TLS): the TCP options under its sends (TCP_NODELAY, TCP_CORK,
 * kept in the connection's flags), the local address, the error pending on it, a reset on
 * close.  Failures are logged here, in nginx's words, so callers only say what they want.
 */
#include "sl_conn.h"
#include "sl_os.h"

sl_int_t sl_conn_tcp_nodelay(sl_connection_t *c)
{
    if (c->tcp_nodelay || c->sockaddr.sa.sa_family == AF_UNIX) {
        return SL_OK;
    }
    if (sl_tcp_nodelay(c->fd) != SL_OK) {
        sl_connection_error(c, errno, "setsockopt(TCP_NODELAY)");
        return SL_ERROR;
    }
    c->tcp_nodelay = 1;
    return SL_OK;
}

static sl_int_t set_cork(sl_connection_t *c, int on)
{
    if (sl_tcp_cork(c->fd, on) != SL_OK) {
        sl_connection_error(c, errno, on ? "setsockopt(TCP_CORK)" : "setsockopt(!TCP_CORK)");
        return SL_ERROR;
    }
    c->tcp_nopush = on ? SL_TCP_NOPUSH_SET : SL_TCP_NOPUSH_UNSET;
    return SL_OK;
}

sl_int_t sl_conn_tcp_nopush(sl_connection_t *c)
{
    if (c->tcp_nopush != SL_TCP_NOPUSH_UNSET || c->sockaddr.sa.sa_family == AF_UNIX) {
        return SL_OK;
    }
    return set_cork(c, 1);
}

sl_int_t sl_conn_tcp_push(sl_connection_t *c)
{
    return c->tcp_nopush == SL_TCP_NOPUSH_SET ? set_cork(c, 0) : SL_OK;
}

static int is_wildcard(const sl_sockaddr_t *sa)
{
    static const struct in6_addr any6 = IN6ADDR_ANY_INIT;

    return (sa->sa.sa_family == AF_INET && sa->sin.sin_addr.s_addr == htonl(INADDR_ANY))
           || (sa->sa.sa_family == AF_INET6
               && memcmp(&sa->sin6.sin6_addr, &any6, sizeof(any6)) == 0);
}

sl_int_t sl_conn_local_sockaddr(sl_connection_t *c)
{
    if (c->local_socklen) {
        return SL_OK;
    }
    /* a listener bound to one address tells it without a system call */
    sl_listening_t *ls = c->listening;
    if (ls && ls->socklen && !is_wildcard(&ls->sockaddr)) {
        c->local_sockaddr = ls->sockaddr;
        c->local_socklen = ls->socklen;
        return SL_OK;
    }
    socklen_t len = sizeof(c->local_sockaddr);
    if (sl_local_sockaddr(c->fd, &c->local_sockaddr.sa, &len) != SL_OK) {
        sl_log_error(SL_LOG_CRIT, c->log, errno, "getsockname() failed");
        return SL_ERROR;
    }
    c->local_socklen = len;
    return SL_OK;
}

ssize_t sl_conn_peek_bytes(sl_connection_t *c, u_char *buf, size_t size)
{
    sl_err_t err = 0;
    ssize_t n = sl_os_peek_bytes(c->fd, buf, size, &err);

    if (n == SL_AGAIN) {
        c->read->ready = 0;
    } else if (n == SL_ERROR) {
        c->read->error = 1;
        sl_connection_error(c, err, "recv()");
    }
    return n;
}

sl_err_t sl_conn_pending_error(sl_connection_t *c)
{
    return sl_socket_error(c->fd);
}

sl_int_t sl_conn_reset_on_close(sl_connection_t *c)
{
    if (sl_linger_zero(c->fd) != SL_OK) {
        sl_log_error(SL_LOG_CRIT, c->log, errno, "setsockopt(SO_LINGER) failed");
        return SL_ERROR;
    }
    return SL_OK;
}
