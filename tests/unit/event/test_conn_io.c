/*
 * sl_conn_generic_send_chain over a fake table that can only send buffers (as TLS's): a
 * mixed chain of memory, file, special and empty bufs; every limit; a send that takes a few
 * bytes at a time; a full connection; a failing send; file parts larger than one piece; a
 * file shorter than its buf says.  What arrives must be the chain's bytes once each, in
 * order, with c->sent, the bufs' positions and the write event's flags as send_chain's
 * contract says.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>

#include "sl_conn.h"
#include "sl_test_log.h"

#define MAX_LINKS 32
#define MAX_BYTES (256 * 1024)

static sl_log_t log_;
static sl_open_file_t log_file;

/* The chain under test and the bytes it stands for. */
static sl_chain_t cl[MAX_LINKS];
static sl_buf_t b[MAX_LINKS];
static int nlinks;
static u_char mem[MAX_BYTES];
static u_char file_data[MAX_BYTES];
static sl_file_t file;
static u_char want[MAX_BYTES];
static size_t want_n;

/* The fake connection: what its send was given. */
static sl_connection_t conn;
static sl_event_t rev, wev;
static u_char out[MAX_BYTES];
static size_t out_n;
/* bytes a send takes at most (0: none, SL_AGAIN); calls made; a send fails from fail_at */
static size_t cap;
static int calls;
static int fail_at;

static ssize_t fake_send(sl_connection_t *c, const u_char *buf, size_t size)
{
    calls++;
    if (fail_at && calls >= fail_at) {
        c->write->error = 1;
        c->write->ready = 0;
        return SL_ERROR;
    }
    if (cap == 0) {
        c->write->ready = 0;
        return SL_AGAIN;
    }
    size_t n = sl_min(size, cap);
    assert_true(out_n + n <= sizeof(out));
    memcpy(out + out_n, buf, n);
    out_n += n;
    if (n < size) {
        c->write->ready = 0;
    }
    return (ssize_t) n;
}

static const sl_conn_io_t fake_io = {
    .send = fake_send,
    .send_chain = sl_conn_generic_send_chain,
    .sendfile = 0,
};

static void fill(u_char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (u_char) ('a' + (i * 7 + seed) % 26);
    }
}

static int setup(void **state)
{
    char path[] = "/tmp/sl-test-conn-io-XXXXXX";

    sl_test_log_open(&log_, &log_file, SL_LOG_INFO);
    fill(mem, sizeof(mem), 0);
    fill(file_data, sizeof(file_data), 11);
    memset(&file, 0, sizeof(file));
    file.fd = mkstemp(path);
    assert_true(file.fd >= 0);
    unlink(path);
    assert_int_equal(write(file.fd, file_data, sizeof(file_data)), sizeof(file_data));
    sl_str_set(&file.name, "test-file");

    memset(&conn, 0, sizeof(conn));
    memset(&rev, 0, sizeof(rev));
    memset(&wev, 0, sizeof(wev));
    conn.fd = -1;
    conn.read = &rev;
    conn.write = &wev;
    conn.log = &log_;
    conn.io = &fake_io;
    rev.data = wev.data = &conn;
    wev.write = 1;
    wev.ready = 1;

    nlinks = 0;
    want_n = out_n = 0;
    cap = MAX_BYTES;
    calls = fail_at = 0;
    return 0;
}

static int teardown(void **state)
{
    close(file.fd);
    close(log_file.fd);
    return 0;
}

/* A fresh start within a test. */
static void restart(void **state)
{
    teardown(state);
    setup(state);
}

static sl_buf_t *add_link(void)
{
    assert_true(nlinks < MAX_LINKS);
    sl_buf_t *nb = &b[nlinks];
    memset(nb, 0, sizeof(*nb));
    cl[nlinks].buf = nb;
    cl[nlinks].next = NULL;
    if (nlinks > 0) {
        cl[nlinks - 1].next = &cl[nlinks];
    }
    nlinks++;
    return nb;
}

static void add_mem(size_t pos, size_t len)
{
    sl_buf_t *nb = add_link();

    nb->start = nb->pos = mem + pos;
    nb->last = nb->end = mem + pos + len;
    nb->temporary = 1;
    memcpy(want + want_n, mem + pos, len);
    want_n += len;
}

static void add_file(off_t pos, off_t len)
{
    sl_buf_t *nb = add_link();

    nb->in_file = 1;
    nb->file = &file;
    nb->file_pos = pos;
    nb->file_last = pos + len;
    memcpy(want + want_n, file_data + pos, (size_t) len);
    want_n += (size_t) len;
}

static void add_special(int flush, int last)
{
    sl_buf_t *nb = add_link();

    nb->flush = flush;
    nb->last_buf = last;
}

static void build_mixed(void)
{
    add_special(1, 0);
    add_mem(0, 10);
    add_mem(10, 5);
    add_mem(100, 0);
    add_file(3, 17);
    add_special(1, 0);
    add_file(50, 0);
    add_mem(500, 33);
    add_file(0, 40);
    add_special(0, 1);
}

/* All of it in one call: NULL, every byte once in order, counted, the bufs consumed. */
static void test_generic_send_chain_all(void **state)
{
    build_mixed();
    assert_null(conn.io->send_chain(&conn, cl, 0));
    assert_int_equal(out_n, want_n);
    assert_memory_equal(out, want, want_n);
    assert_int_equal(conn.sent, (off_t) want_n);
    assert_int_equal(sl_chain_size(cl), 0);
    assert_true(wev.ready);
    /* one send per part with data: special and empty bufs cost nothing */
    assert_int_equal(calls, 5);
    /* nothing left: nothing sent, NULL again */
    assert_null(conn.io->send_chain(&conn, cl, 0));
    assert_null(conn.io->send_chain(&conn, NULL, 0));
    assert_int_equal(calls, 5);
}

/* Every limit from 1 byte to past the whole chain: each call sends min(limit, left), a limit
 * reached leaves the connection writable, and the pieces put together are the chain. */
static void test_generic_send_chain_limit(void **state)
{
    build_mixed();
    size_t total = want_n;

    for (off_t limit = 1; limit <= (off_t) total + 1; limit++) {
        restart(state);
        build_mixed();
        for (sl_chain_t *in = cl; in;) {
            off_t left = sl_chain_size(in);
            size_t before = out_n;

            in = conn.io->send_chain(&conn, in, limit);
            assert_true(in != SL_CHAIN_ERROR);
            assert_int_equal(out_n - before, sl_min(limit, left));
            assert_int_equal(sl_chain_size(in), left - (off_t) (out_n - before));
            assert_true(wev.ready);
        }
        assert_int_equal(out_n, total);
        assert_memory_equal(out, want, total);
        assert_int_equal(conn.sent, (off_t) total);
    }
}

/* A connection that takes 7 bytes at a time: the link where it stopped, positioned exactly,
 * the write event no longer ready; called again until done, every byte arrives once. */
static void test_generic_send_chain_partial(void **state)
{
    build_mixed();
    cap = 7;
    sl_chain_t *in = conn.io->send_chain(&conn, cl, 0);
    assert_ptr_equal(in, &cl[1]);
    assert_ptr_equal(b[1].pos, mem + 7);
    assert_false(wev.ready);
    assert_int_equal(conn.sent, 7);
    assert_int_equal(calls, 1);

    int turns = 0;
    while (in) {
        assert_true(++turns < 100);
        wev.ready = 1;
        in = conn.io->send_chain(&conn, in, 0);
        assert_true(in != SL_CHAIN_ERROR);
    }
    assert_int_equal(out_n, want_n);
    assert_memory_equal(out, want, want_n);
    assert_int_equal(conn.sent, (off_t) want_n);
}

/* Nothing fits: the same link back, nothing counted, not an error. */
static void test_generic_send_chain_again(void **state)
{
    build_mixed();
    cap = 0;
    assert_ptr_equal(conn.io->send_chain(&conn, cl, 0), &cl[1]);
    assert_ptr_equal(b[1].pos, mem);
    assert_int_equal(conn.sent, 0);
    assert_false(wev.ready);
    assert_false(wev.error);
}

/* A send that fails, after one that worked: SL_CHAIN_ERROR; what went out stays counted. */
static void test_generic_send_chain_error(void **state)
{
    build_mixed();
    fail_at = 2;
    assert_ptr_equal(conn.io->send_chain(&conn, cl, 0), SL_CHAIN_ERROR);
    assert_true(wev.error);
    assert_int_equal(conn.sent, 10);
}

/* A file part larger than a piece goes out piece by piece, each read at its own offset. */
static void test_generic_send_chain_file_pieces(void **state)
{
    off_t len = 2 * SL_CONN_FILE_PIECE + 1000;

    add_file(5, len);
    add_mem(0, 3);
    assert_null(conn.io->send_chain(&conn, cl, 0));
    assert_int_equal(calls, 4);
    assert_int_equal(out_n, want_n);
    assert_memory_equal(out, want, want_n);
    assert_int_equal(b[0].file_pos, 5 + len);

    /* a limit inside the second piece: the file buf stops exactly there */
    restart(state);
    add_file(5, len);
    assert_ptr_equal(conn.io->send_chain(&conn, cl, SL_CONN_FILE_PIECE + 10), &cl[0]);
    assert_int_equal(b[0].file_pos, 5 + SL_CONN_FILE_PIECE + 10);
    assert_int_equal(calls, 2);
    assert_memory_equal(out, want, SL_CONN_FILE_PIECE + 10);
}

/* A file shorter than its buf says (it shrank under us): an error, at crit, before any send
 * of bytes the file does not have. */
static void test_generic_send_chain_truncated_file(void **state)
{
    add_file(MAX_BYTES - 10, 10);
    b[0].file_last = MAX_BYTES + 90;
    assert_ptr_equal(conn.io->send_chain(&conn, cl, 0), SL_CHAIN_ERROR);
    assert_true(wev.error);
    assert_int_equal(calls, 0);
    assert_int_equal(conn.sent, 0);
    const char *text = sl_test_log_text(&log_file);
    assert_non_null(strstr(text, "[crit]"));
    assert_non_null(strstr(text, "read only 10 of 100 from \"test-file\""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_generic_send_chain_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generic_send_chain_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generic_send_chain_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generic_send_chain_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generic_send_chain_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generic_send_chain_file_pieces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generic_send_chain_truncated_file, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
