/*
 * sl_test_net.h: what the unit tests that use real sockets share: a loopback TCP pair, and
 * closing every connection a test left in its cycle's table.  Include after cmocka.h.
 */
#ifndef SL_TEST_NET_H
#define SL_TEST_NET_H

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sl_conn.h"
#include "sl_cycle.h"

/* A TCP pair over loopback: *server accepted (non-blocking), *client connected (blocking). */
static inline void sl_test_tcp_pair(int *server, int *client)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(lfd, (struct sockaddr *) &sin, sizeof(sin)), 0);
    assert_int_equal(listen(lfd, 1), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *) &sin, &len), 0);
    *client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(*client, (struct sockaddr *) &sin, sizeof(sin)), 0);
    *server = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    assert_true(*server >= 0);
    close(lfd);
}

/* Closes the connections a test left open and frees the table (teardown). */
static inline void sl_test_close_connections(sl_cycle_t *cycle)
{
    for (sl_uint_t i = 0; i < cycle->connection_n; i++) {
        sl_connection_t *c = &cycle->connections[i];
        if (c->fd != -1 && !c->destroyed) {
            sl_close_connection(c);
        }
    }
    sl_free_closed_connections();
    sl_conn_table_free(cycle);
}

#endif /* SL_TEST_NET_H */
