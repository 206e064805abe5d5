/*
 * sl_socket.c: descriptor options.
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
