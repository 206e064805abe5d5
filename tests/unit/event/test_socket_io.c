/*
 * The plain-socket I/O table's send, shutdown, peek and close, over socketpairs and loopback
 * TCP: what each returns, the event flags it keeps (or, for peek, leaves alone) and what it
 * logs.  recv, recv_chain and send_chain are tested with the os layer (tests/unit/os/test_io.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include "sl_conn.h"
#include "sl_event.h"
#include "sl_test_log.h"
#include "sl_test_net.h"

#define NCONN 4

static sl_cycle_t cycle;
static sl_log_t log_;
static sl_open_file_t log_file;
static int sv[2];

static int setup(void **state)
{
    sl_test_log_open(&log_, &log_file, SL_LOG_INFO);
    memset(&cycle, 0, sizeof(cycle));
    cycle.connection_n = NCONN;
    cycle.log = &log_;
    assert_int_equal(sl_loop_init(&log_, 16), SL_OK);
    assert_int_equal(sl_conn_table_init(&cycle), SL_OK);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    return 0;
}

static int teardown(void **state)
{
    sl_test_close_connections(&cycle);
    sl_loop_done();
    for (int i = 0; i < 2; i++) {
        if (sv[i] != -1) {
            close(sv[i]);
        }
    }
    close(log_file.fd);
    return 0;
}

/* A connection of the table over fd (owned by it from now on), both directions ready. */
static sl_connection_t *wrap(int fd)
{
    sl_connection_t *c = sl_get_connection(fd, &log_);

    assert_non_null(c);
    assert_ptr_equal(c->io, &sl_socket_io);
    c->read->ready = 1;
    c->write->ready = 1;
    return c;
}

/* Closes fd with a RST (SO_LINGER 0) and waits, bounded, until peer sees it. */
static void reset_and_wait(int fd, int peer)
{
    struct linger l = { 1, 0 };
    struct pollfd p = { .fd = peer, .events = POLLIN };

    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)), 0);
    close(fd);
    assert_int_equal(poll(&p, 1, 10000), 1);
}

static int is_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1;
}

/* The table can sendfile: file bufs may reach its send_chain as they are. */
static void test_socket_io_sendfile(void **state)
{
    assert_true(sl_socket_io.sendfile);
}

/* send: what fits, ready kept until a short count; not counted in c->sent. */
static void test_socket_send(void **state)
{
    sl_connection_t *c = wrap(sv[0]);
    u_char buf[8];
    static u_char big[1024 * 1024];
    int small = 4096;

    sv[0] = -1;
    assert_int_equal(c->io->send(c, (u_char *) "hello", 5), 5);
    assert_true(c->write->ready);
    assert_int_equal(c->sent, 0);
    assert_int_equal(read(sv[1], buf, sizeof(buf)), 5);
    assert_memory_equal(buf, "hello", 5);

    assert_int_equal(setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
    ssize_t n = c->io->send(c, big, sizeof(big));
    assert_true(n > 0 && n < (ssize_t) sizeof(big));
    assert_false(c->write->ready);
    c->write->ready = 1;
    assert_int_equal(c->io->send(c, big, sizeof(big)), SL_AGAIN);
    assert_false(c->write->ready);
    assert_false(c->write->error);
}

/* send to a peer that is gone: SL_ERROR, the error flag, nginx's wording at info. */
static void test_socket_send_error(void **state)
{
    sl_connection_t *c = wrap(sv[0]);

    sv[0] = -1;
    close(sv[1]);
    sv[1] = -1;
    assert_int_equal(c->io->send(c, (u_char *) "x", 1), SL_ERROR);
    assert_true(c->write->error);
    assert_false(c->write->ready);
    const char *text = sl_test_log_text(&log_file);
    assert_non_null(strstr(text, "[info]"));
    assert_non_null(strstr(text, "send() failed (32: Broken pipe)"));
}

/* shutdown: the peer reads the end after what was sent; we can still read what it sends. */
static void test_socket_shutdown(void **state)
{
    sl_connection_t *c = wrap(sv[0]);
    u_char buf[8];

    sv[0] = -1;
    assert_int_equal(c->io->send(c, (u_char *) "bye", 3), 3);
    assert_int_equal(c->io->shutdown(c), SL_OK);
    assert_int_equal(read(sv[1], buf, sizeof(buf)), 3);
    assert_int_equal(read(sv[1], buf, sizeof(buf)), 0);
    assert_int_equal(write(sv[1], "more", 4), 4);
    assert_int_equal(c->io->recv(c, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "more", 4);
}

/* shutdown of a socket that never connected: SL_ERROR, logged as nginx words it. */
static void test_socket_shutdown_error(void **state)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sl_connection_t *c = wrap(s);

    assert_int_equal(c->io->shutdown(c), SL_ERROR);
    const char *text = sl_test_log_text(&log_file);
    assert_non_null(strstr(text, "[info]"));
    assert_non_null(strstr(text, "shutdown() failed (107: Transport endpoint is not connected)"));
}

/* peek: nothing there, bytes there (left for recv), the peer gone; no flag is touched. */
static void test_socket_peek(void **state)
{
    sl_connection_t *c = wrap(sv[0]);
    sl_err_t err = 0;
    u_char buf[8];

    sv[0] = -1;
    assert_int_equal(c->io->peek(c, &err), SL_AGAIN);
    assert_int_equal(write(sv[1], "ab", 2), 2);
    assert_int_equal(c->io->peek(c, &err), SL_OK);
    assert_int_equal(c->io->peek(c, &err), SL_OK);
    assert_true(c->read->ready);
    assert_int_equal(c->io->recv(c, buf, sizeof(buf)), 2);
    assert_memory_equal(buf, "ab", 2);
    close(sv[1]);
    sv[1] = -1;
    c->read->ready = 1;
    assert_int_equal(c->io->peek(c, &err), SL_DONE);
    assert_int_equal(err, 0);
    assert_true(c->read->ready);
    assert_false(c->read->eof);
    assert_false(c->read->error);
    /* peek logs nothing: its callers word what it found */
    assert_string_equal(sl_test_log_text(&log_file), "");
}

/* peek on a connection the peer reset: SL_ERROR with the reason. */
static void test_socket_peek_reset(void **state)
{
    int s, cl;
    sl_err_t err = 0;

    sl_test_tcp_pair(&s, &cl);
    sl_connection_t *c = wrap(s);
    reset_and_wait(cl, s);
    assert_int_equal(c->io->peek(c, &err), SL_ERROR);
    assert_int_equal(err, ECONNRESET);
    assert_false(c->read->error);
    assert_string_equal(sl_test_log_text(&log_file), "");
}

/* sl_close_connection closes the descriptor through the table. */
static void test_socket_close(void **state)
{
    sl_connection_t *c = wrap(sv[0]);
    int fd = sv[0];
    u_char buf[8];

    sv[0] = -1;
    sl_close_connection(c);
    assert_int_equal(c->fd, -1);
    assert_true(c->destroyed);
    assert_false(is_open(fd));
    assert_int_equal(read(sv[1], buf, sizeof(buf)), 0);
    assert_string_equal(sl_test_log_text(&log_file), "");
}

/* A table whose close fails: the failure is the alert nginx logs, the object still freed. */
static int closes;

static sl_int_t failing_close(sl_connection_t *c)
{
    closes++;
    close(c->fd);
    errno = EIO;
    return SL_ERROR;
}

static void test_close_through_table(void **state)
{
    static sl_conn_io_t io;
    sl_connection_t *c = wrap(sv[0]);

    io = sl_socket_io;
    io.close = failing_close;
    c->io = &io;
    sv[0] = -1;
    closes = 0;
    sl_close_connection(c);
    assert_int_equal(closes, 1);
    assert_int_equal(c->fd, -1);
    const char *text = sl_test_log_text(&log_file);
    assert_non_null(strstr(text, "[alert]"));
    assert_non_null(strstr(text, "close() socket"));
    assert_non_null(strstr(text, "failed (5: Input/output error)"));
    sl_free_closed_connections();
    assert_int_equal(cycle.free_connection_n, NCONN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_socket_io_sendfile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_send, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_send_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_shutdown_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_peek, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_peek_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_through_table, setup, teardown),
    };

    /* a send to a closed peer raises SIGPIPE without MSG_NOSIGNAL; sluice ignores it */
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
