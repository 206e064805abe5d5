/*
 * Timers: ordering, equal expiries in insertion order, deletion from the middle, lazy
 * re-arm, cancelable timers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sl_event.h"

static int fired[64];
static int nfired;

static void record(sl_event_t *ev)
{
    fired[nfired++] = (int) (intptr_t) ev->data;
}

static void init_events(sl_event_t *evs, int n)
{
    memset(evs, 0, n * sizeof(sl_event_t));
    for (int i = 0; i < n; i++) {
        evs[i].data = (void *) (intptr_t) i;
        evs[i].handler = record;
    }
    nfired = 0;
}

static int setup(void **state)
{
    sl_time_update();
    return 0;
}

static int teardown(void **state)
{
    sl__timers_free();
    return 0;
}

static void expire_at(sl_msec_t now)
{
    sl_current_msec = now;
    sl_expire_timers();
}

static void test_fires_in_expiry_order(void **state)
{
    sl_event_t evs[6];
    const sl_msec_t delays[6] = { 5000, 1000, 3000, 2000, 6000, 4000 };
    const int expected[6] = { 1, 3, 2, 5, 0, 4 };
    sl_msec_t base = sl_current_msec;

    init_events(evs, 6);
    for (int i = 0; i < 6; i++) {
        sl_add_timer(&evs[i], delays[i]);
        assert_true(evs[i].timer_set);
    }
    assert_int_equal(sl_timer_count(), 6);
    assert_int_equal(sl_timer_find(), 1000);
    expire_at(base + 999);
    assert_int_equal(nfired, 0);
    expire_at(base + 6000);
    assert_int_equal(nfired, 6);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(fired[i], expected[i]);
        assert_true(evs[i].timedout);
        assert_false(evs[i].timer_set);
    }
    assert_int_equal(sl_timer_find(), (sl_msec_t) -1);
}

static void test_equal_expiries_fire_fifo(void **state)
{
    sl_event_t evs[10];
    sl_msec_t base = sl_current_msec;

    init_events(evs, 10);
    for (int i = 0; i < 10; i++) {
        sl_add_timer(&evs[i], 1000);
    }
    expire_at(base + 1000);
    assert_int_equal(nfired, 10);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(fired[i], i);
    }
}

static void test_delete_from_middle(void **state)
{
    sl_event_t evs[32];
    sl_msec_t base = sl_current_msec;

    init_events(evs, 32);
    for (int i = 0; i < 32; i++) {
        sl_add_timer(&evs[i], 1000 + (sl_msec_t) ((i * 7919) % 32) * 1000);
    }
    for (int i = 0; i < 32; i += 3) {
        sl_del_timer(&evs[i]);
        assert_false(evs[i].timer_set);
    }
    sl_del_timer(&evs[0]); /* deleting twice is harmless */
    expire_at(base + 100000);
    assert_int_equal(nfired, 32 - 11);
    for (int k = 1; k < nfired; k++) {
        int a = fired[k - 1], b = fired[k];
        assert_true(evs[a].timer_key <= evs[b].timer_key);
        assert_true(a % 3 != 0 && b % 3 != 0);
    }
}

static void test_lazy_rearm_keeps_near_expiry(void **state)
{
    sl_event_t ev;
    sl_msec_t base = sl_current_msec;

    init_events(&ev, 1);
    sl_add_timer(&ev, 10000);
    sl_msec_t key = ev.timer_key;
    sl_current_msec = base + 100;
    sl_add_timer(&ev, 10000); /* moves by 100 ms: kept */
    assert_int_equal(ev.timer_key, key);
    sl_current_msec = base + 1000;
    sl_add_timer(&ev, 10000); /* moves by 1 s: re-inserted */
    assert_int_equal(ev.timer_key, base + 11000);
    assert_int_equal(sl_timer_count(), 1);
    sl_del_timer(&ev);
    assert_int_equal(sl_timer_count(), 0);
}

static void test_cancelable(void **state)
{
    sl_event_t evs[3];

    init_events(evs, 3);
    evs[0].cancelable = 1;
    evs[2].cancelable = 1;
    for (int i = 0; i < 3; i++) {
        sl_add_timer(&evs[i], 60000);
    }
    assert_false(sl_timers_only_cancelable());
    sl_cancel_timers();
    assert_int_equal(nfired, 2);
    assert_false(evs[0].timedout);
    assert_true(evs[1].timer_set);
    assert_true(sl_timer_count() == 1);
    sl_del_timer(&evs[1]);
    assert_true(sl_timers_only_cancelable());
}

/* A handler that re-arms other timers while expiring must see a consistent heap. */
static sl_event_t chain_evs[4];
static void rearm_next(sl_event_t *ev)
{
    int i = (int) (intptr_t) ev->data;

    fired[nfired++] = i;
    if (i + 1 < 4) {
        sl_del_timer(&chain_evs[i + 1]);
        sl_add_timer(&chain_evs[i + 1], 0);
    }
}

static void test_handler_rearms(void **state)
{
    sl_msec_t base = sl_current_msec;

    init_events(chain_evs, 4);
    for (int i = 0; i < 4; i++) {
        chain_evs[i].handler = rearm_next;
        sl_add_timer(&chain_evs[i], 100000);
    }
    sl_del_timer(&chain_evs[0]);
    sl_add_timer(&chain_evs[0], 0);
    expire_at(base);
    assert_int_equal(nfired, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(fired[i], i);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fires_in_expiry_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_equal_expiries_fire_fifo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_from_middle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lazy_rearm_keeps_near_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancelable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handler_rearms, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
