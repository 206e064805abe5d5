/*
 * Non-blocking connect (sl_connect_peer, sl_connect_check) through the real loop: a
 * listening socket, a closed port, a unix socket, a missing unix socket, a full connection
 * table, a local bind address (proxy_bind) and a failing one.  Every descriptor opened for a
 * failed attempt must be closed again: /proc/self/fd is counted around each.  Also the TCP
 * options a connection's sends use (TCP_NODELAY, TCP_CORK) and the flags that track them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "sl_conn.h"
#include "sl_event.h"
#include "sl_log.h"

#define NCONN 8
/* Loop iterations to wait for an event, each bounded by one second. */
#define MAX_TURNS 10

static sl_cycle_t cycle;
static sl_log_t log_;
static sl_open_file_t log_file;
static char log_path[64];
static char dir_path[64];
static int writes, reads;

/* The error log goes to a temp file, so the tests can look for nginx's wording. */
static void log_open(void)
{
    strcpy(log_path, "/tmp/sluice-test-connect-XXXXXX");
    int fd = mkstemp(log_path);
    assert_true(fd >= 0);
    log_file.fd = open(log_path, O_RDWR | O_APPEND | O_CLOEXEC);
    close(fd);
    assert_true(log_file.fd >= 0);
    log_file.name.data = (u_char *) log_path;
    log_file.name.len = strlen(log_path);
    memset(&log_, 0, sizeof(log_));
    log_.file = &log_file;
    log_.log_level = SL_LOG_INFO;
}

/* A TCP option's value on fd (getsockopt), -1 on failure. */
static int tcp_option(int fd, int name)
{
    int v = -1;
    socklen_t len = sizeof(v);

    return getsockopt(fd, IPPROTO_TCP, name, &v, &len) == 0 ? v : -1;
}

/* The whole log as a string (static buffer). */
static const char *log_text(void)
{
    static char buf[16384];
    ssize_t n = pread(log_file.fd, buf, sizeof(buf) - 1, 0);

    assert_true(n >= 0);
    buf[n] = '\0';
    return buf;
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    assert_non_null(d);
    for (struct dirent *e = readdir(d); e; e = readdir(d)) {
        if (e->d_name[0] != '.') {
            n++;
        }
    }
    closedir(d);
    return n;
}

static int setup(void **state)
{
    sl_use_stderr = 0;
    log_open();
    strcpy(dir_path, "/tmp/sluice-test-connect-dir-XXXXXX");
    assert_non_null(mkdtemp(dir_path));
    memset(&cycle, 0, sizeof(cycle));
    cycle.connection_n = NCONN;
    cycle.log = &log_;
    assert_int_equal(sl_loop_init(&log_, 64), SL_OK);
    assert_int_equal(sl_conn_table_init(&cycle), SL_OK);
    writes = reads = 0;
    return 0;
}

static int teardown(void **state)
{
    char path[128];

    for (sl_uint_t i = 0; i < cycle.connection_n; i++) {
        sl_connection_t *c = &cycle.connections[i];
        if (c->fd != -1 && !c->destroyed) {
            sl_close_connection(c);
        }
    }
    sl_free_closed_connections();
    sl_conn_table_free(&cycle);
    sl_loop_done();
    close(log_file.fd);
    unlink(log_path);
    snprintf(path, sizeof(path), "%s/s.sock", dir_path);
    unlink(path);
    rmdir(dir_path);
    return 0;
}

static void on_write(sl_event_t *ev)
{
    writes++;
}

static void on_read(sl_event_t *ev)
{
    reads++;
}

/* A listening TCP socket on ip:0; *sin gets the address with the kernel's port. */
static int tcp_listener(const char *ip, struct sockaddr_in *sin)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    socklen_t len = sizeof(*sin);

    assert_true(fd >= 0);
    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
    assert_int_equal(bind(fd, (struct sockaddr *) sin, sizeof(*sin)), 0);
    assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *) sin, &len), 0);
    return fd;
}

/* Accepts one connection, waiting at most 10 s for it. */
static int accept_bounded(int lfd, struct sockaddr_storage *peer)
{
    struct pollfd p = { .fd = lfd, .events = POLLIN };
    socklen_t len = sizeof(*peer);

    assert_int_equal(poll(&p, 1, 10000), 1);
    int fd = accept4(lfd, (struct sockaddr *) peer, &len, SOCK_CLOEXEC);
    assert_true(fd >= 0);
    return fd;
}

/* Reads exactly n bytes from a blocking fd, each wait bounded. */
static void read_exactly(int fd, char *buf, size_t n)
{
    size_t got = 0;

    while (got < n) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        assert_int_equal(poll(&p, 1, 10000), 1);
        ssize_t r = read(fd, buf + got, n - got);
        assert_true(r > 0);
        got += (size_t) r;
    }
}

/* Runs the loop until the write handler has run (bounded). */
static void wait_writable(void)
{
    for (int i = 0; i < MAX_TURNS && writes == 0; i++) {
        sl_process_events_and_timers(1000);
    }
    assert_true(writes > 0);
}

/* Starts a connect with the handlers of these tests; returns sl_connect_peer()'s code. */
static sl_int_t start_connect(sl_peer_connection_t *pc, const struct sockaddr *sa, socklen_t len,
                              sl_str_t *name)
{
    memset(pc, 0, sizeof(*pc));
    pc->sockaddr = sa;
    pc->socklen = len;
    pc->name = name;
    pc->log = &log_;
    sl_int_t rc = sl_connect_peer(pc);
    if (pc->connection) {
        pc->connection->write->handler = on_write;
        pc->connection->read->handler = on_read;
    }
    return rc;
}

/* Connects, waits for the write event when needed, checks the result. */
static sl_connection_t *connect_ok(sl_peer_connection_t *pc, const struct sockaddr *sa,
                                   socklen_t len, sl_str_t *name)
{
    sl_int_t rc = start_connect(pc, sa, len, name);

    assert_true(rc == SL_OK || rc == SL_AGAIN);
    sl_connection_t *c = pc->connection;
    assert_non_null(c);
    assert_true(c->fd >= 0);
    assert_true(c->read->active && c->write->active);
    if (rc == SL_AGAIN) {
        wait_writable();
    }
    assert_true(c->write->ready);
    assert_int_equal(sl_connect_check(c), SL_OK);
    return c;
}

/* Sends "hello, world" (two memory bufs around a flush buf) through c->io->send_chain and
 * checks the accepted side reads exactly that. */
static void send_hello(sl_connection_t *c, int peer)
{
    static u_char hello[] = "hello, ", world[] = "world";
    sl_buf_t b[3];
    sl_chain_t cl[3];
    char got[16];

    memset(b, 0, sizeof(b));
    b[0].pos = b[0].start = hello;
    b[0].last = b[0].end = hello + 7;
    b[0].memory = 1;
    b[1].flush = 1;
    b[2].pos = b[2].start = world;
    b[2].last = b[2].end = world + 5;
    b[2].memory = 1;
    b[2].last_buf = 1;
    for (int i = 0; i < 3; i++) {
        cl[i].buf = &b[i];
        cl[i].next = i < 2 ? &cl[i + 1] : NULL;
    }
    off_t sent = c->sent;
    assert_null(c->io->send_chain(c, cl, 0));
    assert_int_equal(c->sent - sent, 12);
    assert_ptr_equal(b[0].pos, b[0].last);
    assert_ptr_equal(b[2].pos, b[2].last);
    read_exactly(peer, got, 12);
    assert_memory_equal(got, "hello, world", 12);
}

/* The accepted side writes; the read handler runs and c->io->recv gets the bytes. */
static void receive_pong(sl_connection_t *c, int peer)
{
    u_char buf[16];

    assert_int_equal(write(peer, "pong", 4), 4);
    for (int i = 0; i < MAX_TURNS && reads == 0; i++) {
        sl_process_events_and_timers(1000);
    }
    assert_true(reads > 0);
    assert_true(c->read->ready);
    assert_int_equal(c->io->recv(c, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "pong", 4);
    assert_false(c->read->ready);
}

static void test_connect_listening(void **state)
{
    struct sockaddr_in sin;
    struct sockaddr_storage peer;
    sl_peer_connection_t pc;
    sl_str_t name = sl_string("127.0.0.1");
    int lfd = tcp_listener("127.0.0.1", &sin);

    sl_connection_t *c = connect_ok(&pc, (struct sockaddr *) &sin, sizeof(sin), &name);
    /* as nginx: no TCP_NODELAY unless the http layer asks (a streamed request body) */
    assert_false(c->tcp_nodelay);
    assert_int_equal(tcp_option(c->fd, TCP_NODELAY), 0);
    assert_int_equal(c->socklen, sizeof(sin));
    assert_memory_equal(&c->sockaddr.sin, &sin, sizeof(sin));
    assert_true(c->number > 0);
    int afd = accept_bounded(lfd, &peer);
    send_hello(c, afd);
    receive_pong(c, afd);

    /* The peer closes: the read handler sees EOF. */
    close(afd);
    reads = 0;
    for (int i = 0; i < MAX_TURNS && reads == 0; i++) {
        sl_process_events_and_timers(1000);
    }
    assert_true(reads > 0);
    u_char buf[4];
    assert_int_equal(c->io->recv(c, buf, sizeof(buf)), 0);
    assert_true(c->read->eof);
    sl_close_connection(c);
    close(lfd);
}

/* TCP_NODELAY once; TCP_CORK set and lifted, the flags following the socket. */
static void test_tcp_options(void **state)
{
    struct sockaddr_in sin;
    struct sockaddr_storage peer;
    sl_peer_connection_t pc;
    sl_str_t name = sl_string("127.0.0.1");
    int lfd = tcp_listener("127.0.0.1", &sin);
    sl_connection_t *c = connect_ok(&pc, (struct sockaddr *) &sin, sizeof(sin), &name);
    int afd = accept_bounded(lfd, &peer);

    assert_int_equal(c->tcp_nopush, SL_TCP_NOPUSH_UNSET);
    assert_int_equal(sl_conn_tcp_push(c), SL_OK); /* nothing to lift */
    assert_int_equal(sl_conn_tcp_nopush(c), SL_OK);
    assert_int_equal(c->tcp_nopush, SL_TCP_NOPUSH_SET);
    assert_int_equal(tcp_option(c->fd, TCP_CORK), 1);
    assert_int_equal(sl_conn_tcp_push(c), SL_OK);
    assert_int_equal(c->tcp_nopush, SL_TCP_NOPUSH_UNSET);
    assert_int_equal(tcp_option(c->fd, TCP_CORK), 0);

    c->tcp_nopush = SL_TCP_NOPUSH_DISABLED;
    assert_int_equal(sl_conn_tcp_nopush(c), SL_OK);
    assert_int_equal(tcp_option(c->fd, TCP_CORK), 0);
    assert_int_equal(c->tcp_nopush, SL_TCP_NOPUSH_DISABLED);

    assert_int_equal(sl_conn_tcp_nodelay(c), SL_OK);
    assert_true(c->tcp_nodelay);
    assert_int_equal(tcp_option(c->fd, TCP_NODELAY), 1);

    /* a descriptor that is no socket: logged at alert as nginx, the flags unchanged */
    int saved = c->fd;
    c->fd = log_file.fd;
    c->tcp_nodelay = 0;
    c->tcp_nopush = SL_TCP_NOPUSH_UNSET;
    assert_int_equal(sl_conn_tcp_nodelay(c), SL_ERROR);
    assert_false(c->tcp_nodelay);
    assert_int_equal(sl_conn_tcp_nopush(c), SL_ERROR);
    assert_int_equal(c->tcp_nopush, SL_TCP_NOPUSH_UNSET);
    c->fd = saved;
    assert_non_null(strstr(log_text(), "[alert]"));
    assert_non_null(strstr(log_text(), "setsockopt(TCP_NODELAY) failed (88: "));
    assert_non_null(strstr(log_text(), "setsockopt(TCP_CORK) failed (88: "));
    close(afd);
    sl_close_connection(c);
    close(lfd);
}

static void test_connect_refused(void **state)
{
    struct sockaddr_in sin;
    sl_peer_connection_t pc;
    sl_str_t name = sl_string("127.0.0.1:closed");

    /* A port nobody listens on: bound, its number noted, closed. */
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    socklen_t len = sizeof(sin);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s, (struct sockaddr *) &sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *) &sin, &len), 0);
    close(s);

    int fds = count_fds();
    sl_int_t rc = start_connect(&pc, (struct sockaddr *) &sin, sizeof(sin), &name);
    if (rc == SL_DECLINED) {
        assert_null(pc.connection);
        assert_int_equal(count_fds(), fds);
        assert_non_null(strstr(log_text(), "[error]"));
        assert_non_null(
            strstr(log_text(), "connect() to 127.0.0.1:closed failed (111: Connection refused)"));
        return;
    }
    assert_int_equal(rc, SL_AGAIN);
    sl_connection_t *c = pc.connection;
    assert_non_null(c);
    wait_writable();
    assert_int_equal(sl_connect_check(c), SL_ERROR);
    assert_non_null(strstr(log_text(), "[error]"));
    assert_non_null(strstr(log_text(), "connect() failed (111: Connection refused)"));
    sl_close_connection(c);
    sl_free_closed_connections();
    assert_int_equal(count_fds(), fds);
}

static void test_connect_unix(void **state)
{
    struct sockaddr_un sun;
    struct sockaddr_storage peer;
    sl_peer_connection_t pc;
    char path[128];

    snprintf(path, sizeof(path), "%s/s.sock", dir_path);
    sl_str_t name = { strlen(path), (u_char *) path };
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    strcpy(sun.sun_path, path);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(lfd >= 0);
    assert_int_equal(bind(lfd, (struct sockaddr *) &sun, sizeof(sun)), 0);
    assert_int_equal(listen(lfd, 16), 0);

    sl_connection_t *c = connect_ok(&pc, (struct sockaddr *) &sun, sizeof(sun), &name);
    /* TCP options mean nothing on a unix socket: asked for, nothing is done */
    assert_false(c->tcp_nodelay);
    assert_int_equal(sl_conn_tcp_nodelay(c), SL_OK);
    assert_int_equal(sl_conn_tcp_nopush(c), SL_OK);
    assert_false(c->tcp_nodelay);
    assert_int_equal(c->tcp_nopush, SL_TCP_NOPUSH_UNSET);
    int afd = accept_bounded(lfd, &peer);
    send_hello(c, afd);
    receive_pong(c, afd);
    close(afd);
    sl_close_connection(c);
    close(lfd);
}

/* A unix socket whose listen queue is full: Linux says EAGAIN where TCP would refuse, and
 * (as nginx) that is a peer failure: SL_DECLINED, logged at error, nothing left open. */
static void test_connect_unix_queue_full(void **state)
{
    struct sockaddr_un sun;
    sl_peer_connection_t pc;
    char path[128];
    int queued[4], nqueued = 0;

    snprintf(path, sizeof(path), "%s/s.sock", dir_path);
    sl_str_t name = { strlen(path), (u_char *) path };
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    strcpy(sun.sun_path, path);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(lfd >= 0);
    assert_int_equal(bind(lfd, (struct sockaddr *) &sun, sizeof(sun)), 0);
    assert_int_equal(listen(lfd, 0), 0);
    /* Fill the queue (never accepted) until a non-blocking connect() says EAGAIN. */
    for (;;) {
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        assert_true(nqueued < 4);
        if (connect(s, (struct sockaddr *) &sun, sizeof(sun)) == -1) {
            assert_int_equal(errno, EAGAIN);
            close(s);
            break;
        }
        queued[nqueued++] = s;
    }

    int fds = count_fds();
    assert_int_equal(start_connect(&pc, (struct sockaddr *) &sun, sizeof(sun), &name), SL_DECLINED);
    sl_free_closed_connections();
    assert_null(pc.connection);
    assert_int_equal(count_fds(), fds);
    assert_int_equal(cycle.free_connection_n, NCONN);
    assert_non_null(strstr(log_text(), "[error]"));
    assert_non_null(strstr(log_text(), "failed (11: Resource temporarily unavailable)"));
    for (int i = 0; i < nqueued; i++) {
        close(queued[i]);
    }
    close(lfd);
}

/*
 * A unix socket path that does not exist.  nginx (ngx_event_connect_peer) answers
 * NGX_DECLINED for every connect() failure but EINPROGRESS, logging the ones it does not
 * expect at crit, so the upstream code tries the next peer and ends with 502.
 */
static void test_connect_unix_missing(void **state)
{
    struct sockaddr_un sun;
    sl_peer_connection_t pc;
    char path[128];

    snprintf(path, sizeof(path), "%s/missing.sock", dir_path);
    sl_str_t name = { strlen(path), (u_char *) path };
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    strcpy(sun.sun_path, path);

    int fds = count_fds();
    sl_int_t rc = start_connect(&pc, (struct sockaddr *) &sun, sizeof(sun), &name);
    sl_free_closed_connections();
    assert_null(pc.connection);
    assert_int_equal(count_fds(), fds);
    assert_int_equal(cycle.free_connection_n, NCONN);
    assert_non_null(strstr(log_text(), "[crit]"));
    assert_non_null(strstr(log_text(), "failed (2: No such file or directory)"));
    assert_non_null(strstr(log_text(), path));
    assert_int_equal(rc, SL_DECLINED);
}

static void test_connect_table_full(void **state)
{
    struct sockaddr_in sin;
    sl_peer_connection_t pc;
    sl_str_t name = sl_string("127.0.0.1");
    int pairs[NCONN][2];
    int lfd = tcp_listener("127.0.0.1", &sin);

    for (int i = 0; i < NCONN; i++) {
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pairs[i]), 0);
        assert_non_null(sl_get_connection(pairs[i][0], &log_));
    }
    assert_int_equal(cycle.free_connection_n, 0);

    int fds = count_fds();
    assert_int_equal(start_connect(&pc, (struct sockaddr *) &sin, sizeof(sin), &name), SL_BUSY);
    assert_null(pc.connection);
    assert_int_equal(count_fds(), fds);
    assert_non_null(strstr(log_text(), "[alert]"));
    assert_non_null(strstr(log_text(), "8 worker_connections are not enough"));

    /* One object back on the free list: connecting works again. */
    sl_close_connection(&cycle.connections[0]);
    sl_free_closed_connections();
    struct sockaddr_storage peer;
    sl_connection_t *c = connect_ok(&pc, (struct sockaddr *) &sin, sizeof(sin), &name);
    int afd = accept_bounded(lfd, &peer);
    send_hello(c, afd);
    close(afd);
    for (int i = 0; i < NCONN; i++) {
        close(pairs[i][1]);
    }
    close(lfd);
}

/* proxy_bind 127.0.0.2: the accepted side sees that address as the peer. */
static void test_connect_local_address(void **state)
{
    struct sockaddr_in sin, local, seen;
    struct sockaddr_storage peer;
    sl_peer_connection_t pc;
    sl_str_t name = sl_string("127.0.0.1");
    socklen_t len = sizeof(seen);
    int lfd = tcp_listener("127.0.0.1", &sin);

    memset(&local, 0, sizeof(local));
    local.sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, "127.0.0.2", &local.sin_addr), 1);
    memset(&pc, 0, sizeof(pc));
    pc.sockaddr = (struct sockaddr *) &sin;
    pc.socklen = sizeof(sin);
    pc.name = &name;
    pc.log = &log_;
    pc.local = (struct sockaddr *) &local;
    pc.local_socklen = sizeof(local);
    pc.so_keepalive = 1;
    sl_int_t rc = sl_connect_peer(&pc);
    assert_true(rc == SL_OK || rc == SL_AGAIN);
    sl_connection_t *c = pc.connection;
    assert_non_null(c);
    c->write->handler = on_write;
    if (rc == SL_AGAIN) {
        wait_writable();
    }
    assert_int_equal(sl_connect_check(c), SL_OK);

    int on = 0;
    socklen_t olen = sizeof(on);
    assert_int_equal(getsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &on, &olen), 0);
    assert_true(on);
    assert_int_equal(getsockname(c->fd, (struct sockaddr *) &seen, &len), 0);
    assert_int_equal(seen.sin_addr.s_addr, local.sin_addr.s_addr);
    assert_true(ntohs(seen.sin_port) != 0);

    int afd = accept_bounded(lfd, &peer);
    struct sockaddr_in *from = (struct sockaddr_in *) &peer;
    assert_int_equal(from->sin_family, AF_INET);
    assert_int_equal(from->sin_addr.s_addr, local.sin_addr.s_addr);
    len = sizeof(seen);
    assert_int_equal(getpeername(afd, (struct sockaddr *) &seen, &len), 0);
    assert_int_equal(seen.sin_addr.s_addr, local.sin_addr.s_addr);
    send_hello(c, afd);
    close(afd);
    sl_close_connection(c);
    close(lfd);
}

/* A local address that cannot be bound (a port in use): SL_ERROR, nothing left open. */
static void test_connect_local_bind_fails(void **state)
{
    struct sockaddr_in sin;
    sl_peer_connection_t pc;
    sl_str_t name = sl_string("127.0.0.1");
    int lfd = tcp_listener("127.0.0.1", &sin);

    memset(&pc, 0, sizeof(pc));
    pc.sockaddr = (struct sockaddr *) &sin;
    pc.socklen = sizeof(sin);
    pc.name = &name;
    pc.log = &log_;
    /* The listener's own address and port: bind() says EADDRINUSE. */
    pc.local = (struct sockaddr *) &sin;
    pc.local_socklen = sizeof(sin);

    int fds = count_fds();
    assert_int_equal(sl_connect_peer(&pc), SL_ERROR);
    sl_free_closed_connections();
    assert_null(pc.connection);
    assert_int_equal(count_fds(), fds);
    assert_int_equal(cycle.free_connection_n, NCONN);
    assert_non_null(strstr(log_text(), "[crit]"));
    assert_non_null(strstr(log_text(), "failed (98: Address already in use)"));
    close(lfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_connect_listening, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_unix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_unix_queue_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_unix_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_table_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_local_address, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_local_bind_fails, setup, teardown),
    };

    /* A write to a peer that went away must be an error, not the end of the test. */
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
