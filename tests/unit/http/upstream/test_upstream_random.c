/*
 * test_upstream_random.c: "random" and "random two [least_conn]".  nginx draws with
 * random(3), so its sequences cannot be replayed; these tests give the group their own
 * source of numbers and check how draws become picks (a draw x picks the peer whose weight
 * range holds x % total_weight), what is skipped, and the proportions.
 */
#include "upstream_test.h"

/* The numbers the group draws, in order (then the last one again). */
static long script[64];
static size_t script_len, script_pos;

static long scripted(void)
{
    long v = script[script_pos < script_len ? script_pos : script_len - 1];
    script_pos++;
    return v;
}

static void draws(size_t n, ...)
{
    va_list ap;

    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        script[i] = va_arg(ap, long);
    }
    va_end(ap);
    script_len = n;
    script_pos = 0;
}

/* A small generator of our own for the proportions (no global random state touched). */
static uint64_t lcg_state;

static long lcg(void)
{
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (long) (lcg_state >> 33);
}

/* Weights 1,2,3: draws 0 | 1 2 | 3 4 5 (mod 6). */
static void test_ranges(void **state)
{
    char out[256] = "";

    (void) state;
    sl_upstream_group_t *g = load_group("upstream g { random; server 127.0.0.1:18400;"
                                        " server 127.0.0.1:18401 weight=2;"
                                        " server 127.0.0.1:18402 weight=3; }");
    g->random = scripted;
    draws(8, 0L, 1L, 2L, 3L, 4L, 5L, 6L, 13L);
    run_requests(g, 8, 0, out, sizeof(out));
    assert_string_equal(out, "0 1 1 2 2 2 0 1");
}

/* A draw on a down, failed or tried peer is counted and drawn again; after 20 it is round
 * robin's turn. */
static void test_skips(void **state)
{
    char out[256] = "";

    (void) state;
    sl_upstream_group_t *g = load_group("upstream g { random; server 127.0.0.1:18400 down;"
                                        " server 127.0.0.1:18401;"
                                        " server 127.0.0.1:18402 weight=2; }");
    g->random = scripted;
    /* 0 is the down peer, 1 is peer 1 (dead: failed, then tried), 2 is peer 2 */
    draws(4, 0L, 1L, 1L, 2L);
    run_requests(g, 1, 1u << 1, out, sizeof(out));
    assert_string_equal(out, "1+2");
    assert_int_equal(script_pos, 4);
    /* only the down peer drawn: 21 draws, then round robin (peer 2: peer 1 failed) */
    draws(1, 0L);
    out[0] = '\0';
    run_requests(g, 1, 0, out, sizeof(out));
    assert_string_equal(out, "2");
    assert_int_equal(script_pos, 21);
}

/* Proportional to weight over many picks, never a down peer. */
static void test_proportions(void **state)
{
    int count[4] = { 0 };
    sl_upstream_pick_t pk;

    (void) state;
    sl_upstream_group_t *g =
        load_group("upstream g { random; server 127.0.0.1:18400; server 127.0.0.1:18401 weight=3;"
                   " server 127.0.0.1:18402 down; server 127.0.0.1:18403 weight=6; }");
    g->random = lcg;
    lcg_state = 42;
    for (int i = 0; i < 10000; i++) {
        assert_int_equal(sl_upstream_pick_start(&pk, g, req_pool, NULL, NULL, NULL), SL_OK);
        assert_int_equal(sl_upstream_pick_get(&pk), SL_OK);
        count[peer_label(&pk)]++;
        sl_upstream_pick_free(&pk, SL_UPSTREAM_PEER_OK);
    }
    assert_int_equal(count[2], 0);
    /* weights 1:3:6 of 10 (the down peer's 1 of 11 draws again) */
    assert_in_range(count[0], 800, 1200);
    assert_in_range(count[1], 2700, 3300);
    assert_in_range(count[3], 5600, 6400);
}

/* two: two different peers drawn, the one with fewer connections for its weight wins, the
 * second on a tie. */
static void test_two(void **state)
{
    sl_upstream_pick_t held[3], pk;

    (void) state;
    sl_upstream_group_t *g =
        load_group("upstream g { random two least_conn; server 127.0.0.1:18400;"
                   " server 127.0.0.1:18401; server 127.0.0.1:18402 weight=2; }");
    g->random = scripted;
    /* ranges 1,2,4 of 4: draw 0 -> 0, 1 -> 1, 2 and 3 -> 2 */
    draws(2, 0L, 1L);
    assert_int_equal(sl_upstream_pick_start(&held[0], g, req_pool, NULL, NULL, NULL), SL_OK);
    assert_int_equal(sl_upstream_pick_get(&held[0]), SL_OK);
    assert_int_equal(peer_label(&held[0]), 1); /* a tie: the second */
    /* peer 1 has a connection now: 0 wins over it either way round */
    draws(2, 1L, 0L);
    assert_int_equal(sl_upstream_pick_start(&held[1], g, req_pool, NULL, NULL, NULL), SL_OK);
    assert_int_equal(sl_upstream_pick_get(&held[1]), SL_OK);
    assert_int_equal(peer_label(&held[1]), 0);
    /* the same peer twice is one draw: 1, 1, then 2 (weight 2, no connections) */
    draws(3, 1L, 1L, 2L);
    assert_int_equal(sl_upstream_pick_start(&held[2], g, req_pool, NULL, NULL, NULL), SL_OK);
    assert_int_equal(sl_upstream_pick_get(&held[2]), SL_OK);
    assert_int_equal(peer_label(&held[2]), 2);
    assert_int_equal(script_pos, 3);
    /* conns 1,1,1: peer 2's weight 2 makes it the less loaded */
    draws(2, 2L, 0L);
    assert_int_equal(sl_upstream_pick_start(&pk, g, req_pool, NULL, NULL, NULL), SL_OK);
    assert_int_equal(sl_upstream_pick_get(&pk), SL_OK);
    assert_int_equal(peer_label(&pk), 2);
    sl_upstream_pick_free(&pk, SL_UPSTREAM_PEER_OK);
    for (int i = 0; i < 3; i++) {
        sl_upstream_pick_free(&held[i], SL_UPSTREAM_PEER_OK);
    }
    for (sl_uint_t i = 0; i < g->peers->number; i++) {
        assert_int_equal(g->peers->peer[i].conns, 0);
    }
}

/* two with one usable peer: the draws run out, then round robin. */
static void test_two_fallback(void **state)
{
    char out[256] = "";

    (void) state;
    sl_upstream_group_t *g = load_group("upstream g { random two; server 127.0.0.1:18400;"
                                        " server 127.0.0.1:18401 down; }");
    g->random = lcg;
    lcg_state = 7;
    run_requests(g, 3, 0, out, sizeof(out));
    assert_string_equal(out, "0 0 0");
    g = load_group("upstream g { random two; server 127.0.0.1:18400; }");
    out[0] = '\0';
    run_requests(g, 2, 0, out, sizeof(out));
    assert_string_equal(out, "0 0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ranges, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_skips, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_proportions, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_two, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_two_fallback, group_setup, group_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
