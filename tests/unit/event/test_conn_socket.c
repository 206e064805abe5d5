/*
 * What the layers above ask of a connection's socket (sl_conn_socket.c): the local address
 * (a listener's own, getsockname() on a wildcard, found once, a failure logged), the error
 * pending on it, and a close that resets.  The TCP options are tested with connect
 * (tests/unit/event/test_connect.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>

#include "sl_conn.h"
#include "sl_test_log.h"

static sl_log_t log_;
static sl_open_file_t log_file;
static sl_connection_t conn;
static sl_listening_t ls;
static int fds[3];

static int setup(void **state)
{
    sl_test_log_open(&log_, &log_file, SL_LOG_INFO);
    memset(&conn, 0, sizeof(conn));
    memset(&ls, 0, sizeof(ls));
    conn.fd = -1;
    conn.log = &log_;
    conn.io = &sl_socket_io;
    fds[0] = fds[1] = fds[2] = -1;
    return 0;
}

static int teardown(void **state)
{
    for (int i = 0; i < 3; i++) {
        if (fds[i] != -1) {
            close(fds[i]);
        }
    }
    close(log_file.fd);
    return 0;
}

static void set_in(sl_sockaddr_t *sa, socklen_t *len, const char *ip, int port)
{
    memset(sa, 0, sizeof(*sa));
    sa->sin.sin_family = AF_INET;
    sa->sin.sin_port = htons((uint16_t) port);
    assert_int_equal(inet_pton(AF_INET, ip, &sa->sin.sin_addr), 1);
    *len = sizeof(struct sockaddr_in);
}

/* A loopback TCP pair through a listener on ip:0: fds[0] the listener, fds[1] the accepted
 * end (non-blocking), fds[2] the client end; *sin gets the listener's address. */
static void tcp_pair(const char *ip, struct sockaddr_in *sin)
{
    socklen_t len = sizeof(*sin);

    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
    fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(bind(fds[0], (struct sockaddr *) sin, sizeof(*sin)), 0);
    assert_int_equal(listen(fds[0], 1), 0);
    assert_int_equal(getsockname(fds[0], (struct sockaddr *) sin, &len), 0);
    struct sockaddr_in to = *sin;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fds[2] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(fds[2], (struct sockaddr *) &to, sizeof(to)), 0);
    fds[1] = accept4(fds[0], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    assert_true(fds[1] >= 0);
}

/* A listener bound to one address: its own, no system call (the descriptor is not even
 * valid), and kept for the connection's life. */
static void test_local_sockaddr_bound_listener(void **state)
{
    set_in(&ls.sockaddr, &ls.socklen, "10.1.2.3", 8080);
    conn.listening = &ls;
    assert_int_equal(sl_conn_local_sockaddr(&conn), SL_OK);
    assert_int_equal(conn.local_socklen, sizeof(struct sockaddr_in));
    assert_int_equal(sl_sockaddr_port(&conn.local_sockaddr.sa), 8080);
    assert_int_equal(conn.local_sockaddr.sin.sin_addr.s_addr, inet_addr("10.1.2.3"));

    /* found once: a later call changes nothing */
    set_in(&ls.sockaddr, &ls.socklen, "10.9.9.9", 80);
    assert_int_equal(sl_conn_local_sockaddr(&conn), SL_OK);
    assert_int_equal(conn.local_sockaddr.sin.sin_addr.s_addr, inet_addr("10.1.2.3"));
    assert_string_equal(sl_test_log_text(&log_file), "");
}

/* A wildcard listener (and a connection with none, an upstream's): getsockname(). */
static void test_local_sockaddr_wildcard(void **state)
{
    struct sockaddr_in sin;

    tcp_pair("0.0.0.0", &sin);
    set_in(&ls.sockaddr, &ls.socklen, "0.0.0.0", ntohs(sin.sin_port));
    conn.listening = &ls;
    conn.fd = fds[1];
    assert_int_equal(sl_conn_local_sockaddr(&conn), SL_OK);
    assert_int_equal(conn.local_socklen, sizeof(struct sockaddr_in));
    assert_int_equal(conn.local_sockaddr.sin.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    assert_int_equal(conn.local_sockaddr.sin.sin_port, sin.sin_port);

    conn.local_socklen = 0;
    memset(&conn.local_sockaddr, 0, sizeof(conn.local_sockaddr));
    conn.listening = NULL;
    assert_int_equal(sl_conn_local_sockaddr(&conn), SL_OK);
    assert_int_equal(conn.local_sockaddr.sin.sin_port, sin.sin_port);
}

/* getsockname() failing: SL_ERROR, nothing set, nginx's words at crit. */
static void test_local_sockaddr_error(void **state)
{
    set_in(&ls.sockaddr, &ls.socklen, "0.0.0.0", 80);
    conn.listening = &ls;
    assert_int_equal(sl_conn_local_sockaddr(&conn), SL_ERROR);
    assert_int_equal(conn.local_socklen, 0);
    const char *text = sl_test_log_text(&log_file);
    assert_non_null(strstr(text, "[crit]"));
    assert_non_null(strstr(text, "getsockname() failed (9: Bad file descriptor)"));
}

/* The pending error: none on a healthy connection, the reset once it came (then cleared). */
static void test_pending_error(void **state)
{
    struct sockaddr_in sin;
    struct linger l = { 1, 0 };
    struct pollfd p = { .events = POLLIN };

    tcp_pair("127.0.0.1", &sin);
    conn.fd = fds[1];
    assert_int_equal(sl_conn_pending_error(&conn), 0);
    assert_int_equal(setsockopt(fds[2], SOL_SOCKET, SO_LINGER, &l, sizeof(l)), 0);
    close(fds[2]);
    fds[2] = -1;
    p.fd = fds[1];
    assert_int_equal(poll(&p, 1, 10000), 1);
    assert_int_equal(sl_conn_pending_error(&conn), ECONNRESET);
    assert_int_equal(sl_conn_pending_error(&conn), 0);

    /* asking fails: why it failed */
    conn.fd = -1;
    assert_int_equal(sl_conn_pending_error(&conn), EBADF);
}

/* reset_on_close: the peer sees a reset, not an end of stream. */
static void test_reset_on_close(void **state)
{
    struct sockaddr_in sin;
    struct pollfd p = { .events = POLLIN };
    u_char buf[8];

    tcp_pair("127.0.0.1", &sin);
    conn.fd = fds[1];
    assert_int_equal(sl_conn_reset_on_close(&conn), SL_OK);
    close(fds[1]);
    fds[1] = -1;
    p.fd = fds[2];
    assert_int_equal(poll(&p, 1, 10000), 1);
    assert_int_equal(recv(fds[2], buf, sizeof(buf), 0), -1);
    assert_int_equal(errno, ECONNRESET);
    assert_string_equal(sl_test_log_text(&log_file), "");
}

static void test_reset_on_close_error(void **state)
{
    assert_int_equal(sl_conn_reset_on_close(&conn), SL_ERROR);
    const char *text = sl_test_log_text(&log_file);
    assert_non_null(strstr(text, "[crit]"));
    assert_non_null(strstr(text, "setsockopt(SO_LINGER) failed (9: Bad file descriptor)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_local_sockaddr_bound_listener, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_sockaddr_wildcard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_sockaddr_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_on_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_on_close_error, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
