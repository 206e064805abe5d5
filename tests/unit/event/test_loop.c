/*
 * The event loop with socketpairs: edge-triggered readiness, EOF, writes, timers through
 * the loop, posted events, connections closed within a batch, the free list and the
 * reusable queue.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sys/socket.h>

#include "sl_conn.h"
#include "sl_event.h"
#include "sl_log.h"
#include "sl_pool.h"
#include "sl_test_net.h"

#define NCONN 8

static sl_cycle_t cycle;
static sl_log_t *log_;
static int reads, writes, timeouts, posted_runs;
static char got[256];
static ssize_t got_n;

static int setup(void **state)
{
    log_ = sl_log_init();
    log_->log_level = SL_LOG_ERR;
    memset(&cycle, 0, sizeof(cycle));
    cycle.connection_n = NCONN;
    cycle.log = log_;
    assert_int_equal(sl_loop_init(log_, 64), SL_OK);
    assert_int_equal(sl_conn_table_init(&cycle), SL_OK);
    reads = writes = timeouts = posted_runs = 0;
    got_n = 0;
    return 0;
}

static int teardown(void **state)
{
    sl_test_close_connections(&cycle);
    sl_loop_done();
    return 0;
}

static void on_read(sl_event_t *ev)
{
    sl_connection_t *c = ev->data;

    if (ev->timedout) {
        timeouts++;
        return;
    }
    reads++;
    for (;;) {
        ssize_t n = c->io->recv(c, (u_char *) got + got_n, sizeof(got) - got_n);
        if (n <= 0) {
            break;
        }
        got_n += n;
    }
}

static void on_write(sl_event_t *ev)
{
    writes++;
}

static sl_connection_t *wrap(int fd)
{
    sl_connection_t *c = sl_get_connection(fd, log_);

    assert_non_null(c);
    c->read->handler = on_read;
    c->write->handler = on_write;
    assert_int_equal(sl_loop_add_connection(c), SL_OK);
    return c;
}

static void test_read_ready_and_eof(void **state)
{
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    sl_connection_t *c = wrap(sv[0]);
    sl_process_events_and_timers(100); /* the initial writable report */
    assert_int_equal(reads, 0);
    assert_true(writes >= 1);
    assert_int_equal(write(sv[1], "hello", 5), 5);
    sl_process_events_and_timers(1000);
    assert_int_equal(reads, 1);
    assert_int_equal(got_n, 5);
    assert_memory_equal(got, "hello", 5);
    assert_false(c->read->ready);
    assert_false(c->read->eof);
    close(sv[1]);
    sl_process_events_and_timers(1000);
    assert_int_equal(reads, 2);
    assert_true(c->read->eof);
}

static void test_timer_through_loop(void **state)
{
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    sl_connection_t *c = wrap(sv[0]);
    sl_add_timer(c->read, 50);
    for (int i = 0; i < 50 && timeouts == 0; i++) {
        sl_process_events_and_timers((sl_msec_t) -1);
    }
    assert_int_equal(timeouts, 1);
    assert_true(c->read->timedout);
    assert_int_equal(reads, 0);
    close(sv[1]);
}

static sl_connection_t *pair[2];

/* Reads, then closes the other connection of the pair. */
static void close_partner(sl_event_t *ev)
{
    sl_connection_t *c = ev->data;
    sl_connection_t *other = pair[0] == c ? pair[1] : pair[0];

    on_read(ev);
    if (!other->destroyed) {
        sl_close_connection(other);
    }
}

/* Two connections readable in one batch; whichever runs first closes the other: the
 * other's handler must not run, and its object returns to the free list only when the
 * batch is over. */
static void test_close_within_batch(void **state)
{
    int a[2], b[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b), 0);
    pair[0] = wrap(a[0]);
    pair[1] = wrap(b[0]);
    sl_process_events_and_timers(100);
    pair[0]->read->handler = close_partner;
    pair[1]->read->handler = close_partner;
    assert_int_equal(write(a[1], "x", 1), 1);
    assert_int_equal(write(b[1], "y", 1), 1);
    sl_uint_t free_before = cycle.free_connection_n;
    sl_process_events_and_timers(1000);
    assert_int_equal(reads, 1);
    assert_true(pair[0]->destroyed != pair[1]->destroyed);
    assert_int_equal(cycle.free_connection_n, free_before + 1);
    close(a[1]);
    close(b[1]);
}

static void on_posted(sl_event_t *ev)
{
    /* Posted events run after I/O handlers of the same iteration. */
    assert_int_equal(reads, 1);
    posted_runs++;
}

static void post_from_read(sl_event_t *ev)
{
    static sl_event_t posted;

    on_read(ev);
    memset(&posted, 0, sizeof(posted));
    posted.handler = on_posted;
    sl_post_event(&posted);
    sl_post_event(&posted); /* twice is once */
}

static void test_posted_events(void **state)
{
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    sl_connection_t *c = wrap(sv[0]);
    c->read->handler = post_from_read;
    assert_int_equal(write(sv[1], "p", 1), 1);
    sl_process_events_and_timers(1000);
    assert_int_equal(posted_runs, 1);
    close(sv[1]);
}

static int drained;
static void drain_handler(sl_event_t *ev)
{
    sl_connection_t *c = ev->data;

    if (c->close) {
        drained++;
        sl_close_connection(c);
    }
}

static void test_exhaustion_frees_reusable(void **state)
{
    int fds[NCONN + 1][2];
    sl_connection_t *cs[NCONN];

    for (int i = 0; i < NCONN; i++) {
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds[i]), 0);
        cs[i] = sl_get_connection(fds[i][0], log_);
        assert_non_null(cs[i]);
        cs[i]->read->handler = drain_handler;
    }
    assert_int_equal(cycle.free_connection_n, 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds[NCONN]), 0);
    /* Nothing reusable: refused (alert logged). */
    log_->log_level = 0;
    assert_null(sl_get_connection(fds[NCONN][0], log_));
    log_->log_level = SL_LOG_ERR;
    /* Two idle keepalive connections: the oldest is closed to make room. */
    sl_reusable_connection(cs[3], 1);
    sl_reusable_connection(cs[5], 1);
    assert_int_equal(cycle.reusable_connections_n, 2);
    sl_connection_t *c = sl_get_connection(fds[NCONN][0], log_);
    assert_non_null(c);
    assert_int_equal(drained, 1);
    assert_ptr_equal(c, cs[3]);
    assert_int_equal(cycle.reusable_connections_n, 1);
    for (int i = 0; i <= NCONN; i++) {
        close(fds[i][1]);
    }
    drained = 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_read_ready_and_eof, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timer_through_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_within_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_posted_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exhaustion_frees_reusable, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
