/*
 * Timers: ordering, equal expiries in insertion order, deletion from the middle, lazy
 * re-arm, cancelable timers; then the lanes and the heap together, checked against a model
 * that knows every armed timer's (expiry, insertion order).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sl_event.h"

static int fired[1024];
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

/*
 * The model: every timer of mev[] is armed through arm() and disarmed through disarm(), which
 * record its (expiry, insertion order) independently of sl_timer.c.  Each firing must be the
 * model's earliest armed timer, so any structure that fires out of global order fails there.
 */
#define MN 160
#define MODEL_BASE 10000000

static sl_event_t mev[MN];
static int armed[MN];
static sl_msec_t mkey[MN];
static uint64_t mseq[MN];
static uint64_t mnext;
static void (*on_fire)(int i);

static void model_fire(sl_event_t *ev);

static void model_init(void)
{
    memset(mev, 0, sizeof(mev));
    memset(armed, 0, sizeof(armed));
    for (int i = 0; i < MN; i++) {
        mev[i].data = (void *) (intptr_t) i;
        mev[i].handler = model_fire;
    }
    mnext = 0;
    nfired = 0;
    on_fire = NULL;
    sl_current_msec = MODEL_BASE;
}

static void arm(int i, sl_msec_t timer)
{
    sl_del_timer(&mev[i]); /* a fresh add every time: the lazy re-arm rule stays out */
    sl_add_timer(&mev[i], timer);
    assert_true(mev[i].timer_set);
    armed[i] = 1;
    mkey[i] = sl_current_msec + timer;
    mseq[i] = mnext++;
    assert_int_equal(mev[i].timer_key, mkey[i]);
}

static void disarm(int i)
{
    sl_del_timer(&mev[i]);
    assert_false(mev[i].timer_set);
    armed[i] = 0;
}

/* The model's earliest armed timer, or -1. */
static int model_min(void)
{
    int min = -1;

    for (int i = 0; i < MN; i++) {
        if (!armed[i]) {
            continue;
        }
        if (min < 0 || mkey[i] < mkey[min] || (mkey[i] == mkey[min] && mseq[i] < mseq[min])) {
            min = i;
        }
    }
    return min;
}

static void model_fire(sl_event_t *ev)
{
    int i = (int) (intptr_t) ev->data;

    assert_true(armed[i]);
    assert_int_equal(model_min(), i);
    assert_true((sl_msec_int_t) (mkey[i] - sl_current_msec) <= 0);
    assert_true(ev->timedout);
    assert_false(ev->timer_set);
    armed[i] = 0;
    ev->timedout = 0;
    if (nfired < (int) (sizeof(fired) / sizeof(fired[0]))) {
        fired[nfired] = i;
    }
    nfired++;
    if (on_fire) {
        on_fire(i);
    }
}

/* sl_timer_count and sl_timer_find agree with the model. */
static void model_check(void)
{
    sl_uint_t n = 0;

    for (int i = 0; i < MN; i++) {
        n += (sl_uint_t) armed[i];
        assert_int_equal(mev[i].timer_set, armed[i]);
    }
    assert_int_equal(sl_timer_count(), n);
    int min = model_min();
    if (min < 0) {
        assert_int_equal(sl_timer_find(), (sl_msec_t) -1);
        return;
    }
    sl_msec_int_t left = (sl_msec_int_t) (mkey[min] - sl_current_msec);
    assert_int_equal(sl_timer_find(), left > 0 ? (sl_msec_t) left : 0);
}

/* Expires at `now`; afterwards nothing due is left armed. */
static void model_expire(sl_msec_t now)
{
    expire_at(now);
    for (int i = 0; i < MN; i++) {
        assert_false(armed[i] && (sl_msec_int_t) (mkey[i] - now) <= 0);
    }
    model_check();
}

static void test_lanes_three_durations_interleaved(void **state)
{
    const sl_msec_t durations[3] = { 3000, 1000, 2000 };

    model_init();
    /* 250 ms apart: a 3000 ms timer and a 2000 ms one added 1 s later share an expiry, and
     * insertion order must break the tie across lanes. */
    for (int i = 0; i < 150; i++) {
        arm(i, durations[i % 3]);
        assert_int_not_equal(mev[i].timer_lane, 0);
        sl_current_msec += 250;
    }
    model_check();
    for (sl_msec_t t = MODEL_BASE; t <= MODEL_BASE + 42000; t += 1750) {
        model_expire(t);
    }
    assert_int_equal(nfired, 150);
}

static void test_lane_delete_head_middle_tail(void **state)
{
    model_init();
    for (int i = 0; i < 7; i++) {
        arm(i, 1000);
        sl_current_msec += 10;
    }
    disarm(0); /* head */
    model_check();
    disarm(3); /* middle */
    disarm(6); /* tail: the next append links after 5 */
    model_check();
    arm(7, 1000);
    assert_int_equal(mev[7].timer_lane, mev[5].timer_lane);
    model_expire(MODEL_BASE + 1050);
    assert_int_equal(nfired, 4);
    assert_int_equal(fired[0], 1);
    assert_int_equal(fired[1], 2);
    assert_int_equal(fired[2], 4);
    assert_int_equal(fired[3], 5);
    model_expire(MODEL_BASE + 2000);
    assert_int_equal(nfired, 5);
    assert_int_equal(fired[4], 7);

    /* Emptied by deletes alone, a lane leaves nothing behind. */
    arm(10, 500);
    arm(11, 500);
    disarm(11);
    disarm(10);
    model_check();
}

/* Three common durations among many one-off ones: more durations than lanes, so some
 * timers are on the heap and the order must hold across both. */
static void test_more_durations_than_lanes(void **state)
{
    int on_heap = 0, on_lane = 0;

    model_init();
    for (int i = 0; i < 120; i++) {
        sl_msec_t timer = i % 2 ? 1000 * (sl_msec_t) (i % 3 + 1) : 1500 + 37 * (sl_msec_t) i;
        arm(i, timer);
        if (mev[i].timer_lane) {
            on_lane++;
        } else {
            on_heap++;
        }
        sl_current_msec += 40;
    }
    assert_true(on_heap > 0);
    assert_true(on_lane > 0);
    for (int i = 0; i < 120; i += 7) {
        disarm(i);
    }
    model_check();
    for (sl_msec_t t = MODEL_BASE; t <= MODEL_BASE + 12000; t += 333) {
        model_expire(t);
    }
    assert_int_equal(sl_timer_count(), 0);
}

/* A timer that would expire before its lane's tail goes to the heap, ties included. */
static void test_clock_backwards(void **state)
{
    model_init();
    arm(0, 1000); /* key B+1000 */
    sl_current_msec = MODEL_BASE + 500;
    arm(1, 1000); /* key B+1500, lane tail */
    sl_current_msec = MODEL_BASE;
    arm(2, 1000); /* key B+1000, before the tail: heap; ties with 0, fires after it */
    assert_int_equal(mev[2].timer_lane, 0);
    assert_int_not_equal(mev[0].timer_lane, 0);
    sl_current_msec = MODEL_BASE - 2000;
    arm(3, 1000); /* key B-1000: heap */
    arm(4, 3000); /* another duration, its own lane: key B+1000, ties with 0 and 2 */
    assert_int_equal(mev[3].timer_lane, 0);
    assert_int_not_equal(mev[4].timer_lane, 0);
    sl_current_msec = MODEL_BASE + 600;
    arm(5, 1000); /* key B+1600, after the tail: lane again */
    assert_int_equal(mev[5].timer_lane, mev[1].timer_lane);
    model_check();
    model_expire(MODEL_BASE + 5000);
    const int expected[6] = { 3, 0, 2, 4, 1, 5 };
    assert_int_equal(nfired, 6);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(fired[i], expected[i]);
    }
}

static void test_lane_released_and_reused(void **state)
{
    int n = 0;

    model_init();
    /* Distinct durations take a lane each until none is left. */
    while (n < 64) {
        arm(n, 10000 + (sl_msec_t) n);
        if (mev[n].timer_lane == 0) {
            break;
        }
        n++;
    }
    assert_true(n > 2 && n < 64);
    unsigned lane0 = mev[0].timer_lane;

    /* Deleting the only timer of a lane frees it for another duration. */
    disarm(0);
    arm(100, 777);
    assert_int_equal(mev[100].timer_lane, lane0);
    arm(101, 10000); /* 0's duration, whose lane is gone and none is free: heap */
    assert_int_equal(mev[101].timer_lane, 0);

    /* Expiry frees lanes too. */
    model_expire(MODEL_BASE + 10001);
    arm(102, 5);
    assert_int_not_equal(mev[102].timer_lane, 0);
    arm(103, 10002); /* 2's lane still holds 2 and serves this duration */
    assert_int_equal(mev[103].timer_lane, mev[2].timer_lane);
    model_check();
    model_expire(MODEL_BASE + 30000);
    assert_int_equal(sl_timer_count(), 0);
}

static int cancel_round;
static void cancel_handler(sl_event_t *ev)
{
    int i = (int) (intptr_t) ev->data;

    fired[nfired++] = i;
    armed[i] = 0;
    if (cancel_round++ == 0) {
        /* Mid-scan: a new cancelable timer must be cancelled too, a new plain one kept, a
         * deleted one never fired. */
        mev[20].cancelable = 1;
        mev[20].handler = cancel_handler;
        arm(20, 45000);
        arm(21, 60000);
        if (armed[4]) {
            disarm(4);
        }
    }
}

static void test_cancel_across_lanes_and_heap(void **state)
{
    model_init();
    cancel_round = 0;
    for (int i = 0; i < 6; i++) {
        mev[i].cancelable = i % 2 == 0;
        mev[i].handler = cancel_handler;
    }
    sl_current_msec = MODEL_BASE + 1000;
    arm(0, 60000); /* lane, cancelable */
    arm(1, 60000); /* lane, plain */
    arm(4, 30000); /* another lane, cancelable */
    sl_current_msec = MODEL_BASE;
    arm(2, 60000); /* heap, cancelable */
    arm(3, 60000); /* heap, plain */
    assert_int_equal(mev[2].timer_lane, 0);
    assert_int_equal(mev[3].timer_lane, 0);
    assert_false(sl_timers_only_cancelable());

    sl_cancel_timers();
    for (int i = 0; i < nfired; i++) {
        assert_int_equal(mev[fired[i]].cancelable, 1);
        assert_false(mev[fired[i]].timedout);
    }
    int got0 = 0, got2 = 0, got4 = 0, got20 = 0;
    for (int i = 0; i < nfired; i++) {
        got0 += fired[i] == 0;
        got2 += fired[i] == 2;
        got4 += fired[i] == 4;
        got20 += fired[i] == 20;
    }
    assert_int_equal(got0, 1);
    assert_int_equal(got2, 1);
    assert_true(got4 <= 1); /* fired, or deleted by the first handler before its turn */
    assert_int_equal(got20, 1);
    assert_int_equal(nfired, 3 + got4);
    model_check(); /* 1, 3 and 21 are left */
    assert_int_equal(sl_timer_count(), 3);
    assert_false(sl_timers_only_cancelable());
    disarm(1);
    disarm(3);
    assert_false(sl_timers_only_cancelable());
    mev[22].cancelable = 1;
    arm(22, 60000);
    disarm(21);
    assert_true(sl_timers_only_cancelable());
    disarm(22);
    assert_true(sl_timers_only_cancelable());
}

/* While expiring, handlers re-arm on their own lane, arm other lanes, fall back to the
 * heap and delete due timers; model_fire checks each firing is the global minimum. */
static void rearm_hook(int i)
{
    if (i == 0) {
        arm(0, 1000);  /* own lane, behind the due ones */
        disarm(1);     /* due in this pass: must not fire */
        arm(10, 0);    /* due now, after everything earlier */
        arm(11, 2000); /* a lane of its own */
    } else if (i == 2) {
        sl_current_msec -= 5000;
        arm(12, 2000); /* behind 11's tail: heap, and already due */
        sl_current_msec += 5000;
        assert_int_equal(mev[12].timer_lane, 0);
    } else if (i == 10) {
        arm(13, 0); /* same key as 10, later: fires in this pass */
    }
}

static void test_handler_rearms_across_lanes(void **state)
{
    model_init();
    arm(0, 500);
    arm(1, 700);
    arm(2, 700);
    arm(3, 1500);
    on_fire = rearm_hook;
    model_expire(MODEL_BASE + 1000);
    const int expected[5] = { 0, 2, 12, 10, 13 };
    assert_int_equal(nfired, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(fired[i], expected[i]);
    }
    assert_false(mev[1].timedout);
    on_fire = NULL;
    model_expire(MODEL_BASE + 10000);
    assert_int_equal(nfired, 8);
}

/* Random adds (common, one-off and backwards-clock), deletes and expiries; model_fire checks
 * every firing. */
static void test_random_against_model(void **state)
{
    const sl_msec_t common[5] = { 60000, 75000, 5000, 30000, 1000 };
    uint32_t rnd = 12345;

    model_init();
    for (int op = 0; op < 20000; op++) {
        rnd = rnd * 1103515245 + 12345;
        uint32_t r = rnd >> 8;
        int i = (int) (r % MN);
        switch ((r >> 8) % 20) {
        case 0 ... 10:
            arm(i, common[(r >> 16) % 5]);
            break;
        case 11 ... 12:
            arm(i, (r >> 12) % 90000);
            break;
        case 13 ... 15:
            disarm(i);
            break;
        case 16 ... 18:
            model_expire(sl_current_msec + (r >> 14) % 3000);
            break;
        default:
            sl_current_msec -= (r >> 14) % 2000;
            break;
        }
    }
    model_check();
    model_expire(sl_current_msec + 200000);
    assert_int_equal(sl_timer_count(), 0);
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
        cmocka_unit_test_setup_teardown(test_lanes_three_durations_interleaved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lane_delete_head_middle_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_more_durations_than_lanes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clock_backwards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lane_released_and_reused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_across_lanes_and_heap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handler_rearms_across_lanes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_against_model, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
