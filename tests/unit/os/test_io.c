/*
 * Socket I/O: sl_os_send_chain with memory, file, special and empty bufs (whole, with a
 * limit, partial on a full socket), sl_os_readv_chain, sl_os_recv/sl_os_send and their
 * errors; then the plain-socket vtable sl_socket_io and the event flags it keeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>

#include "sl_conn.h"
#include "sl_log.h"
#include "sl_os.h"
#include "sl_test_net.h"

/* A chain under test: its links and bufs, and the bytes it stands for. */
#define MAX_LINKS 160
#define MAX_BYTES (1024 * 1024)

typedef struct {
    sl_chain_t cl[MAX_LINKS];
    sl_buf_t b[MAX_LINKS];
    int n;
    /* Where each buf's window started before anything was sent (memory: offset in mem). */
    off_t start[MAX_LINKS];
    u_char want[MAX_BYTES];
    size_t want_n;
} chain_t;

static chain_t ch;
/* Memory the memory bufs point into; the temp file holds file_data. */
static u_char mem[MAX_BYTES];
static u_char file_data[MAX_BYTES];
static sl_file_t file;
static char file_path[64];
static int sv[2];
static u_char got[MAX_BYTES];

static sl_log_t log_;
static sl_open_file_t log_file;
static char log_path[64];

static void fill(u_char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (u_char) ('a' + (i * 7 + seed) % 26);
    }
}

static int setup(void **state)
{
    sl_use_stderr = 0;
    fill(mem, sizeof(mem), 0);
    fill(file_data, sizeof(file_data), 13);

    strcpy(file_path, "/tmp/sluice-test-io-XXXXXX");
    file.fd = mkstemp(file_path);
    assert_true(file.fd >= 0);
    assert_int_equal(write(file.fd, file_data, sizeof(file_data)), sizeof(file_data));
    file.name.data = (u_char *) file_path;
    file.name.len = strlen(file_path);

    strcpy(log_path, "/tmp/sluice-test-io-log-XXXXXX");
    int fd = mkstemp(log_path);
    assert_true(fd >= 0);
    log_file.fd = open(log_path, O_RDWR | O_APPEND | O_CLOEXEC);
    close(fd);
    assert_true(log_file.fd >= 0);
    memset(&log_, 0, sizeof(log_));
    log_.file = &log_file;
    log_.log_level = SL_LOG_INFO;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    memset(&ch, 0, sizeof(ch));
    return 0;
}

static int teardown(void **state)
{
    close(file.fd);
    unlink(file_path);
    close(log_file.fd);
    unlink(log_path);
    if (sv[0] != -1) {
        close(sv[0]);
    }
    if (sv[1] != -1) {
        close(sv[1]);
    }
    return 0;
}

static const char *log_text(void)
{
    static char buf[8192];
    ssize_t n = pread(log_file.fd, buf, sizeof(buf) - 1, 0);

    assert_true(n >= 0);
    buf[n] = '\0';
    return buf;
}

/* Chain building. */

static sl_buf_t *add_link(void)
{
    assert_true(ch.n < MAX_LINKS);
    sl_buf_t *b = &ch.b[ch.n];
    memset(b, 0, sizeof(*b));
    ch.cl[ch.n].buf = b;
    ch.cl[ch.n].next = NULL;
    if (ch.n > 0) {
        ch.cl[ch.n - 1].next = &ch.cl[ch.n];
    }
    ch.n++;
    return b;
}

static void expect(const u_char *p, size_t n)
{
    assert_true(ch.want_n + n <= MAX_BYTES);
    memcpy(ch.want + ch.want_n, p, n);
    ch.want_n += n;
}

/* [pos, last) of mem; start/end a little wider, as a real buf would be. */
static sl_buf_t *add_mem(size_t pos, size_t len)
{
    sl_buf_t *b = add_link();

    b->start = mem + (pos > 3 ? pos - 3 : 0);
    b->pos = mem + pos;
    b->last = mem + pos + len;
    b->end = b->last;
    b->temporary = 1;
    ch.start[ch.n - 1] = (off_t) pos;
    expect(b->pos, len);
    return b;
}

/* [file_pos, file_last) of the temp file. */
static sl_buf_t *add_file(off_t pos, off_t len)
{
    sl_buf_t *b = add_link();

    b->in_file = 1;
    b->file = &file;
    b->file_pos = pos;
    b->file_last = pos + len;
    ch.start[ch.n - 1] = pos;
    expect(file_data + pos, (size_t) len);
    return b;
}

/* A buf carrying only a flag. */
static void add_special(int flush, int last)
{
    sl_buf_t *b = add_link();

    b->flush = flush;
    b->last_buf = last;
}

/* Memory and file bufs with nothing in them. */
static void add_empty_mem(void)
{
    sl_buf_t *b = add_link();

    b->start = b->pos = b->last = b->end = mem + 100;
    b->temporary = 1;
    ch.start[ch.n - 1] = 100;
}

static void add_empty_file(void)
{
    sl_buf_t *b = add_link();

    b->in_file = 1;
    b->file = &file;
    b->file_pos = b->file_last = 50;
    ch.start[ch.n - 1] = 50;
}

/* The mixed chain most tests use. */
static void build_mixed(void)
{
    add_special(1, 0);
    add_mem(0, 10);
    add_mem(10, 5); /* adjacent to the previous one: one iovec */
    add_empty_mem();
    add_file(3, 17);
    add_file(100, 1);
    add_special(1, 0);
    add_empty_file();
    add_mem(500, 33);
    add_empty_mem();
    add_file(0, 40);
    add_mem(7, 2);
    add_special(0, 1);
}

/* Reads everything there is on fd into got + *off (non-blocking: until EAGAIN). */
static size_t drain(int fd, size_t *off)
{
    size_t total = 0;

    for (;;) {
        assert_true(*off < sizeof(got));
        ssize_t n = read(fd, got + *off, sizeof(got) - *off);
        if (n <= 0) {
            assert_true(n == -1 && errno == EAGAIN);
            return total;
        }
        *off += (size_t) n;
        total += (size_t) n;
    }
}

/* Reads exactly n bytes (each wait bounded). */
static void read_n(int fd, size_t *off, size_t n)
{
    size_t end = *off + n;

    while (*off < end) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        assert_int_equal(poll(&p, 1, 10000), 1);
        ssize_t r = read(fd, got + *off, end - *off);
        assert_true(r > 0);
        *off += (size_t) r;
    }
}

/* After sl_chain_update_sent(chain, sent): in is the first link with data left, and its
 * window starts exactly where sent bytes from the chain's beginning fall. */
static void assert_advanced(const sl_chain_t *in, off_t sent)
{
    off_t before = 0;

    for (int i = 0; i < ch.n; i++) {
        sl_buf_t *b = &ch.b[i];

        if (sl_buf_special(b)) {
            continue;
        }
        off_t size = b->in_file && !sl_buf_in_memory(b) ? b->file_last - ch.start[i]
                                                        : (off_t) (b->last - mem) - ch.start[i];
        if (size == 0 || before + size <= sent) {
            before += size;
            continue;
        }
        assert_ptr_equal(in, &ch.cl[i]);
        off_t at = ch.start[i] + (sent - before);
        if (sl_buf_in_memory(b)) {
            assert_ptr_equal(b->pos, mem + at);
        } else {
            assert_int_equal(b->file_pos, at);
        }
        return;
    }
    assert_null(in);
}

/* sl_os_send_chain. */

static void test_send_chain_mixed(void **state)
{
    sl_err_t err = 0;
    size_t off = 0;

    build_mixed();
    assert_int_equal(sl_chain_size(ch.cl), ch.want_n);
    ssize_t n = sl_os_send_chain(sv[0], ch.cl, 0, &err);
    assert_int_equal(n, ch.want_n);
    assert_int_equal(err, 0);
    read_n(sv[1], &off, ch.want_n);
    assert_int_equal(drain(sv[1], &off), 0);
    assert_memory_equal(got, ch.want, ch.want_n);

    /* The bufs were not advanced; sl_chain_update_sent() consumes all of them. */
    assert_ptr_equal(ch.b[1].pos, mem);
    assert_int_equal(ch.b[4].file_pos, 3);
    assert_null(sl_chain_update_sent(ch.cl, n));
    for (int i = 0; i < ch.n; i++) {
        assert_int_equal(sl_buf_size(&ch.b[i]), 0);
    }
    assert_int_equal(sl_chain_size(ch.cl), 0);
}

/* More non-adjacent memory bufs than one writev takes, with file bufs between them. */
static void test_send_chain_many_iovecs(void **state)
{
    sl_err_t err = 0;
    size_t off = 0;

    /* 100 memory bufs (more than SL_IOVS_PREALLOCATE), a file buf, 49 more. */
    for (int i = 0; i < 150; i++) {
        if (i == 100) {
            add_file(i * 3, 5);
        } else {
            add_mem((size_t) i * 20, 3 + i % 4);
        }
    }
    ssize_t n = sl_os_send_chain(sv[0], ch.cl, 0, &err);
    assert_int_equal(n, ch.want_n);
    read_n(sv[1], &off, ch.want_n);
    assert_memory_equal(got, ch.want, ch.want_n);
    assert_null(sl_chain_update_sent(ch.cl, n));
}

/* Every limit from 1 byte to the whole chain: each call sends exactly min(limit, left), and
 * the pieces put together are the chain. */
static void test_send_chain_limit(void **state)
{
    build_mixed();
    size_t total = ch.want_n;

    for (off_t limit = 1; limit <= (off_t) total + 1; limit++) {
        size_t off = 0;

        memset(&ch, 0, sizeof(ch));
        build_mixed();
        for (sl_chain_t *in = ch.cl; in;) {
            sl_err_t err = 0;
            off_t left = sl_chain_size(in);
            ssize_t n = sl_os_send_chain(sv[0], in, limit, &err);

            assert_int_equal(n, sl_min(limit, left));
            read_n(sv[1], &off, (size_t) n);
            in = sl_chain_update_sent(in, n);
            assert_int_equal(sl_chain_size(in), left - n);
            assert_advanced(in, (off_t) off);
        }
        assert_int_equal(off, total);
        assert_memory_equal(got, ch.want, total);
    }
}

/* A limit that ends inside a memory buf and inside a file buf: the next link with data and
 * its position are exactly where the count says. */
static void test_send_chain_limit_positions(void **state)
{
    sl_err_t err = 0;
    size_t off = 0;

    add_mem(0, 10);
    add_file(20, 30);
    add_mem(200, 10);

    ssize_t n = sl_os_send_chain(sv[0], ch.cl, 4, &err);
    assert_int_equal(n, 4);
    sl_chain_t *in = sl_chain_update_sent(ch.cl, n);
    assert_ptr_equal(in, &ch.cl[0]);
    assert_ptr_equal(ch.b[0].pos, mem + 4);

    n = sl_os_send_chain(sv[0], in, 16, &err);
    assert_int_equal(n, 16);
    in = sl_chain_update_sent(in, n);
    assert_ptr_equal(in, &ch.cl[1]);
    assert_ptr_equal(ch.b[0].pos, ch.b[0].last);
    assert_int_equal(ch.b[1].file_pos, 30);

    n = sl_os_send_chain(sv[0], in, 0, &err);
    assert_int_equal(n, 30);
    assert_null(sl_chain_update_sent(in, n));
    read_n(sv[1], &off, 50);
    assert_memory_equal(got, ch.want, 50);
}

/* A full socket: fewer bytes than asked, then SL_AGAIN; sl_chain_update_sent() advances
 * exactly the count, and sending until done delivers every byte once. */
static void test_send_chain_partial(void **state)
{
    int small = 4096;
    sl_err_t err = 0;
    size_t off = 0;

    assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
    assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
    add_mem(0, 100000);
    add_special(1, 0);
    add_file(1000, 300000);
    add_mem(200000, 200000);
    add_file(0, 100000);
    off_t total = (off_t) ch.want_n;

    ssize_t n = sl_os_send_chain(sv[0], ch.cl, 0, &err);
    assert_true(n > 0 && n < total);
    sl_chain_t *in = sl_chain_update_sent(ch.cl, n);
    assert_non_null(in);
    assert_int_equal(sl_chain_size(in), total - n);
    assert_advanced(in, n);
    /* Nothing read on the other side: no room for a single byte more. */
    assert_int_equal(sl_os_send_chain(sv[0], in, 0, &err), SL_AGAIN);
    assert_int_equal(drain(sv[1], &off), (size_t) n);
    assert_memory_equal(got, ch.want, (size_t) n);

    /* Send and drain in turns until it is all through. */
    int turns = 0;
    while (in) {
        struct pollfd p = { .fd = sv[0], .events = POLLOUT };
        assert_true(++turns < 100000);
        n = sl_os_send_chain(sv[0], in, 0, &err);
        assert_true(n > 0 || n == SL_AGAIN);
        if (n > 0) {
            off_t left = sl_chain_size(in);
            in = sl_chain_update_sent(in, n);
            assert_int_equal(sl_chain_size(in), left - n);
            assert_advanced(in, total - (left - n));
        }
        drain(sv[1], &off);
        if (in && n == SL_AGAIN) {
            assert_int_equal(poll(&p, 1, 10000), 1);
        }
    }
    drain(sv[1], &off);
    assert_int_equal(off, total);
    assert_memory_equal(got, ch.want, (size_t) total);
}

/* The same with only a file buf, so sendfile() is the call that comes up short. */
static void test_send_chain_partial_file(void **state)
{
    int small = 4096;
    sl_err_t err = 0;
    size_t off = 0;

    assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
    assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
    add_file(10, 500000);
    ssize_t n = sl_os_send_chain(sv[0], ch.cl, 0, &err);
    assert_true(n > 0 && n < 500000);
    assert_ptr_equal(sl_chain_update_sent(ch.cl, n), &ch.cl[0]);
    assert_int_equal(ch.b[0].file_pos, 10 + n);
    assert_int_equal(drain(sv[1], &off), (size_t) n);
    assert_memory_equal(got, ch.want, (size_t) n);
}

/* A file buf whose window runs past the end of the file.  nginx (ngx_linux_sendfile_chain)
 * logs "sendfile() reported that "..." was truncated at N" and fails; a short count here
 * would read as "the socket is full", and an edge-triggered writer would wait for a write
 * event that never comes. */
static void test_send_chain_truncated_file(void **state)
{
    sl_err_t err = 0;
    size_t off = 0;

    add_file(MAX_BYTES - 10, 0);
    ch.b[0].file_last = MAX_BYTES + 90; /* 100 bytes asked, 10 in the file */
    ssize_t n = sl_os_send_chain(sv[0], ch.cl, 0, &err);
    drain(sv[1], &off);
    assert_int_equal(n, SL_ERROR);
    assert_int_equal(err, SL_EFILE_TRUNCATED);
    assert_int_equal(off, 10);
}

/* A chain with no data (special and empty bufs only) sends nothing and succeeds. */
static void test_send_chain_nothing(void **state)
{
    sl_err_t err = 0;

    add_special(1, 0);
    add_empty_mem();
    add_empty_file();
    add_special(0, 1);
    assert_int_equal(sl_os_send_chain(sv[0], ch.cl, 0, &err), 0);
    assert_int_equal(sl_os_send_chain(sv[0], NULL, 0, &err), 0);
    assert_null(sl_chain_update_sent(ch.cl, 0));
}

static void test_send_chain_epipe(void **state)
{
    sl_err_t err = 0;

    build_mixed();
    close(sv[1]);
    sv[1] = -1;
    assert_int_equal(sl_os_send_chain(sv[0], ch.cl, 0, &err), SL_ERROR);
    assert_int_equal(err, EPIPE);
    /* The same through sendfile (a file buf first). */
    memset(&ch, 0, sizeof(ch));
    add_file(0, 10);
    err = 0;
    assert_int_equal(sl_os_send_chain(sv[0], ch.cl, 0, &err), SL_ERROR);
    assert_int_equal(err, EPIPE);
    err = 0;
    assert_int_equal(sl_os_send(sv[0], (u_char *) "x", 1, &err), SL_ERROR);
    assert_int_equal(err, EPIPE);
}

/* sl_os_readv_chain. */

/* Three bufs with 4, 0, 5 and 100 bytes of room; the read spreads over them in order. */
static void readv_setup(sl_buf_t *b, sl_chain_t *cl, u_char *space)
{
    static const size_t used[4] = { 6, 10, 0, 0 };
    static const size_t size[4] = { 10, 10, 5, 100 };
    u_char *p = space;

    memset(space, '.', 125);
    for (int i = 0; i < 4; i++) {
        memset(&b[i], 0, sizeof(b[i]));
        b[i].start = b[i].pos = p;
        b[i].last = p + used[i];
        b[i].end = p + size[i];
        b[i].temporary = 1;
        p += size[i];
        cl[i].buf = &b[i];
        cl[i].next = i < 3 ? &cl[i + 1] : NULL;
    }
}

static void test_readv_chain(void **state)
{
    sl_buf_t b[4];
    sl_chain_t cl[4];
    u_char space[125];
    sl_err_t err = 0;

    readv_setup(b, cl, space);
    assert_int_equal(sl_os_readv_chain(sv[0], cl, 0, &err), SL_AGAIN);
    assert_int_equal(write(sv[1], "0123456789abcdefghij", 20), 20);
    assert_int_equal(sl_os_readv_chain(sv[0], cl, 0, &err), 20);
    /* Nothing moved: the caller distributes the count. */
    assert_ptr_equal(b[0].last, space + 6);
    assert_memory_equal(space + 6, "0123", 4);
    assert_memory_equal(space + 10, "..........", 10); /* the full buf is skipped */
    assert_memory_equal(space + 20, "45678", 5);
    assert_memory_equal(space + 25, "9abcdefghij", 11);
    assert_int_equal(space[36], '.');
}

static void test_readv_chain_limit(void **state)
{
    sl_buf_t b[4];
    sl_chain_t cl[4];
    u_char space[125];
    sl_err_t err = 0;
    u_char rest[32];

    readv_setup(b, cl, space);
    assert_int_equal(write(sv[1], "0123456789abcdefghij", 20), 20);
    /* 7 bytes: the first buf's 4 and 3 of the third. */
    assert_int_equal(sl_os_readv_chain(sv[0], cl, 7, &err), 7);
    assert_memory_equal(space + 6, "0123", 4);
    assert_memory_equal(space + 20, "456..", 5);
    /* A limit inside the first buf's room. */
    readv_setup(b, cl, space);
    assert_int_equal(sl_os_readv_chain(sv[0], cl, 2, &err), 2);
    assert_memory_equal(space + 6, "78..", 4);
    /* A limit larger than all the room there is. */
    readv_setup(b, cl, space);
    assert_int_equal(sl_os_readv_chain(sv[0], cl, 1000, &err), 11);
    assert_memory_equal(space + 6, "9abc", 4);
    assert_memory_equal(space + 20, "defgh", 5);
    assert_memory_equal(space + 25, "ij.", 3);
    assert_int_equal(sl_os_recv(sv[0], rest, sizeof(rest), &err), SL_AGAIN);
}

static void test_readv_chain_eof(void **state)
{
    sl_buf_t b[4];
    sl_chain_t cl[4];
    u_char space[125];
    sl_err_t err = 0;

    readv_setup(b, cl, space);
    assert_int_equal(write(sv[1], "xy", 2), 2);
    close(sv[1]);
    sv[1] = -1;
    assert_int_equal(sl_os_readv_chain(sv[0], cl, 0, &err), 2);
    assert_int_equal(sl_os_readv_chain(sv[0], cl, 0, &err), 0);
    assert_int_equal(err, 0);
}

/* sl_os_recv, sl_os_send. */

static void test_recv_send(void **state)
{
    u_char buf[16];
    sl_err_t err = 0;

    assert_int_equal(sl_os_recv(sv[0], buf, sizeof(buf), &err), SL_AGAIN);
    assert_int_equal(err, 0);
    assert_int_equal(sl_os_send(sv[1], (u_char *) "hello", 5, &err), 5);
    assert_int_equal(sl_os_recv(sv[0], buf, 3, &err), 3);
    assert_memory_equal(buf, "hel", 3);
    assert_int_equal(sl_os_recv(sv[0], buf, sizeof(buf), &err), 2);
    assert_memory_equal(buf, "lo", 2);
    assert_int_equal(sl_os_recv(sv[0], buf, sizeof(buf), &err), SL_AGAIN);
    close(sv[1]);
    sv[1] = -1;
    assert_int_equal(sl_os_recv(sv[0], buf, sizeof(buf), &err), 0);
    assert_int_equal(err, 0);
}

/* A full socket: sl_os_send() takes what fits, then SL_AGAIN. */
static void test_send_full(void **state)
{
    int small = 4096;
    sl_err_t err = 0;

    assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
    ssize_t n = sl_os_send(sv[0], mem, sizeof(mem), &err);
    assert_true(n > 0 && n < (ssize_t) sizeof(mem));
    assert_int_equal(sl_os_send(sv[0], mem, sizeof(mem), &err), SL_AGAIN);
    assert_int_equal(err, 0);
}

static void reset(int fd)
{
    struct linger l = { 1, 0 };

    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)), 0);
    close(fd);
}

/* Waits (bounded) until fd reports an error or hangup. */
static void wait_hup(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };

    assert_int_equal(poll(&p, 1, 10000), 1);
}

static void test_recv_reset(void **state)
{
    int s, c;
    u_char buf[8];
    sl_err_t err = 0;

    sl_test_tcp_pair(&s, &c);
    reset(c);
    wait_hup(s);
    assert_int_equal(sl_os_recv(s, buf, sizeof(buf), &err), SL_ERROR);
    assert_int_equal(err, ECONNRESET);
    close(s);
}

/* sl_socket_io: the vtable and the event flags. */

static sl_connection_t conn;
static sl_event_t rev, wev;

static sl_connection_t *wrap(int fd)
{
    memset(&conn, 0, sizeof(conn));
    memset(&rev, 0, sizeof(rev));
    memset(&wev, 0, sizeof(wev));
    conn.fd = fd;
    conn.read = &rev;
    conn.write = &wev;
    conn.log = &log_;
    conn.io = &sl_socket_io;
    rev.data = wev.data = &conn;
    rev.log = wev.log = &log_;
    wev.write = 1;
    /* As the loop leaves them after a readiness report. */
    rev.ready = 1;
    wev.ready = 1;
    return &conn;
}

static void test_socket_recv_flags(void **state)
{
    sl_connection_t *c = wrap(sv[0]);
    u_char buf[8];

    /* Exactly the size asked for: there may be more, ready stays. */
    assert_int_equal(write(sv[1], "12345678abc", 11), 11);
    assert_int_equal(c->io->recv(c, buf, 8), 8);
    assert_true(rev.ready);
    /* A short read drained the socket. */
    assert_int_equal(c->io->recv(c, buf, 8), 3);
    assert_memory_equal(buf, "abc", 3);
    assert_false(rev.ready);
    assert_false(rev.eof);
    /* Nothing there. */
    rev.ready = 1;
    assert_int_equal(c->io->recv(c, buf, 8), SL_AGAIN);
    assert_false(rev.ready);
    assert_false(rev.error);
    /* A short read with the peer's FIN seen (EPOLLRDHUP) keeps ready: EOF is to be read. */
    assert_int_equal(write(sv[1], "xy", 2), 2);
    close(sv[1]);
    sv[1] = -1;
    rev.ready = 1;
    rev.pending_eof = 1;
    assert_int_equal(c->io->recv(c, buf, 8), 2);
    assert_true(rev.ready);
    assert_false(rev.eof);
    assert_int_equal(c->io->recv(c, buf, 8), 0);
    assert_true(rev.eof);
    assert_false(rev.ready);
    assert_false(rev.error);
}

static void test_socket_recv_error(void **state)
{
    int s, cl;
    u_char buf[8];

    sl_test_tcp_pair(&s, &cl);
    sl_connection_t *c = wrap(s);
    reset(cl);
    wait_hup(s);
    assert_int_equal(c->io->recv(c, buf, sizeof(buf)), SL_ERROR);
    assert_true(rev.error);
    assert_false(rev.ready);
    /* A peer resetting is routine for a proxy: info, nginx's wording. */
    assert_non_null(strstr(log_text(), "[info]"));
    assert_non_null(strstr(log_text(), "recv() failed (104: Connection reset by peer)"));
    close(s);
}

static void test_socket_recv_chain(void **state)
{
    sl_buf_t b[4];
    sl_chain_t cl[4];
    u_char space[125];
    sl_connection_t *c = wrap(sv[0]);

    readv_setup(b, cl, space);
    assert_int_equal(c->io->recv_chain(c, cl, 0), SL_AGAIN);
    assert_false(rev.ready);
    assert_int_equal(write(sv[1], "0123456789", 10), 10);
    rev.ready = 1;
    assert_int_equal(c->io->recv_chain(c, cl, 0), 10);
    assert_memory_equal(space + 6, "0123", 4);
    assert_memory_equal(space + 20, "45678", 5);
    assert_false(rev.eof);
    close(sv[1]);
    sv[1] = -1;
    rev.ready = 1;
    assert_int_equal(c->io->recv_chain(c, cl, 0), 0);
    assert_true(rev.eof);
    assert_false(rev.ready);
}

static void test_socket_send_chain(void **state)
{
    sl_connection_t *c = wrap(sv[0]);
    size_t off = 0;

    build_mixed();
    /* All of it: NULL, the count in c->sent, still writable. */
    assert_null(c->io->send_chain(c, ch.cl, 0));
    assert_int_equal(c->sent, ch.want_n);
    assert_true(wev.ready);
    read_n(sv[1], &off, ch.want_n);
    assert_memory_equal(got, ch.want, ch.want_n);

    /* With a limit: the link where it stopped; a limit reached is not a full socket. */
    memset(&ch, 0, sizeof(ch));
    add_mem(0, 10);
    add_mem(300, 10);
    off = 0;
    off_t before = c->sent;
    sl_chain_t *in = c->io->send_chain(c, ch.cl, 15);
    assert_ptr_equal(in, &ch.cl[1]);
    assert_ptr_equal(ch.b[1].pos, mem + 305);
    assert_true(wev.ready);
    assert_int_equal(c->sent - before, 15);
    read_n(sv[1], &off, 15);
    assert_memory_equal(got, ch.want, 15);
}

static void test_socket_send_chain_full(void **state)
{
    int small = 4096;
    sl_connection_t *c = wrap(sv[0]);

    assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
    add_mem(0, 300000);
    add_file(0, 300000);
    /* Partly sent: the link with data left, not writable any more. */
    sl_chain_t *in = c->io->send_chain(c, ch.cl, 0);
    assert_non_null(in);
    assert_true(in != SL_CHAIN_ERROR);
    assert_false(wev.ready);
    assert_true(c->sent > 0);
    assert_int_equal(sl_chain_size(in), (off_t) ch.want_n - c->sent);
    /* Nothing fits: the same link back, sent unchanged. */
    off_t sent = c->sent;
    wev.ready = 1;
    assert_ptr_equal(c->io->send_chain(c, in, 0), in);
    assert_false(wev.ready);
    assert_false(wev.error);
    assert_int_equal(c->sent, sent);
}

static void test_socket_send_chain_error(void **state)
{
    sl_connection_t *c = wrap(sv[0]);

    build_mixed();
    close(sv[1]);
    sv[1] = -1;
    assert_ptr_equal(c->io->send_chain(c, ch.cl, 0), SL_CHAIN_ERROR);
    assert_true(wev.error);
    assert_false(wev.ready);
    assert_int_equal(c->sent, 0);
    assert_non_null(strstr(log_text(), "[info]"));
    assert_non_null(strstr(log_text(), "(32: Broken pipe)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_send_chain_mixed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_chain_many_iovecs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_chain_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_chain_limit_positions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_chain_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_chain_partial_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_chain_truncated_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_chain_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_chain_epipe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readv_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readv_chain_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readv_chain_eof, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recv_send, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recv_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_recv_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_recv_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_recv_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_send_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_send_chain_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_send_chain_error, setup, teardown),
    };

    /* writev() and sendfile() to a closed peer raise SIGPIPE; sluice ignores it (as nginx),
     * and these tests want the EPIPE. */
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
