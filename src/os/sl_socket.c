/*
 * sl_socket.c: descriptor options and queries.
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "sl_os.h"

sl_int_t sl_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags == -1 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1) {
        return SL_ERROR;
    }
    return SL_OK;
}

sl_int_t sl_tcp_nodelay(int fd)
{
    int on = 1;

    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) == -1 ? SL_ERROR : SL_OK;
}

sl_int_t sl_tcp_cork(int fd, int on)
{
    return setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on)) == -1 ? SL_ERROR : SL_OK;
}

sl_int_t sl_linger_zero(int fd)
{
    struct linger l = { 1, 0 };

    return setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) == -1 ? SL_ERROR : SL_OK;
}

sl_int_t sl_shutdown_write(int fd)
{
    return shutdown(fd, SHUT_WR) == -1 ? SL_ERROR : SL_OK;
}

sl_int_t sl_local_sockaddr(int fd, struct sockaddr *sa, socklen_t *len)
{
    return getsockname(fd, sa, len) == -1 ? SL_ERROR : SL_OK;
}

sl_err_t sl_socket_error(int fd)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1) {
        return errno;
    }
    return err;
}
