/*
 * test_upstream_least_conn.c: least_conn against picks recorded from Debian's nginx 1.22.1
 * with requests held open (scripts/record-nginx-picks.py --hold: the origins keep each
 * request until "cK" answers the K-th), so connection counts differ; see
 * test_upstream_round_robin.c for how the recording works.
 */
#include "upstream_test.h"

/* --hold --origins 3 --upstream 'least_conn; server @18400; server @18401 weight=2;
 *     server @18402;' o o o o o o c0 c2 o o o c1 c3 c4 o o o o */
static void test_weighted(void **state)
{
    char out[4096] = "";

    (void) state;
    sl_upstream_group_t *g = load_group("upstream g { least_conn; server 127.0.0.1:18400;"
                                        " server 127.0.0.1:18401 weight=2;"
                                        " server 127.0.0.1:18402; }");
    run_holding(g, "o o o o o o c0 c2 o o o c1 c3 c4 o o o o", out, sizeof(out));
    assert_string_equal(out, "1 0 2 1 2 0 1 1 2 1 2 0 1");
}

/* --hold --origins 4 --upstream 'least_conn; server @18400 weight=3; server @18401;
 *     server @18402 weight=2; server @18403;'
 *     o o o o o o o o o o c1 c5 o o o c0 c2 c3 o o o o */
static void test_ties(void **state)
{
    char out[4096] = "";

    (void) state;
    sl_upstream_group_t *g = load_group(
        "upstream g { least_conn; server 127.0.0.1:18400 weight=3; server 127.0.0.1:18401;"
        " server 127.0.0.1:18402 weight=2; server 127.0.0.1:18403; }");
    run_holding(g, "o o o o o o o o o o c1 c5 o o o c0 c2 c3 o o o o", out, sizeof(out));
    assert_string_equal(out, "0 2 1 3 0 2 0 3 2 0 2 1 2 0 1 3 0");
}

/* --hold --origins 3 --upstream 'least_conn; server @18400 max_conns=2;
 *     server @18401 weight=3 max_conns=3; server @18402 backup;' o o o o o o o c2 o c0 c1 o o */
static void test_max_conns_backup(void **state)
{
    char out[4096] = "";

    (void) state;
    sl_upstream_group_t *g = load_group(
        "upstream g { least_conn; server 127.0.0.1:18400 max_conns=2;"
        " server 127.0.0.1:18401 weight=3 max_conns=3; server 127.0.0.1:18402 backup; }");
    run_holding(g, "o o o o o o o c2 o c0 c1 o o", out, sizeof(out));
    assert_string_equal(out, "1 0 1 1 0 2 2 1 1 0");
}

/* Without held connections every peer ties: plain smooth weighted round robin; failures
 * as round robin.
 * --origins 3 --upstream 'least_conn; server @18400 weight=5; server @18401;
 *     server @18402;' 14
 * --origins 3 --tried --dead 0 --upstream 'least_conn; server @18400 weight=5 max_fails=2;
 *     server @18401; server @18402;' 18 */
static void test_sequential_and_failures(void **state)
{
    char out[4096] = "";

    (void) state;
    sl_upstream_group_t *g = load_group("upstream g { least_conn;"
                                        " server 127.0.0.1:18400 weight=5;"
                                        " server 127.0.0.1:18401; server 127.0.0.1:18402; }");
    run_requests(g, 14, 0, out, sizeof(out));
    assert_string_equal(out, "0 0 1 0 2 0 0 0 0 1 0 2 0 0");

    g = load_group("upstream g { least_conn; server 127.0.0.1:18400 weight=5 max_fails=2;"
                   " server 127.0.0.1:18401; server 127.0.0.1:18402; }");
    out[0] = '\0';
    run_requests(g, 18, 1u << 0, out, sizeof(out));
    assert_string_equal(out, "0+1 2 0+1 1 2 1 2 1 2 1 2 1 2 1 2 1 2 1");
}

/* Every peer busy or failed: the backups, then no live upstreams. */
static void test_busy(void **state)
{
    sl_upstream_pick_t a, b, c;

    (void) state;
    sl_upstream_group_t *g =
        load_group("upstream g { least_conn; server 127.0.0.1:18400 max_conns=1;"
                   " server 127.0.0.1:18401 backup max_conns=1; }");
    assert_int_equal(sl_upstream_pick_start(&a, g, req_pool, NULL, NULL, NULL), SL_OK);
    assert_int_equal(sl_upstream_pick_get(&a), SL_OK);
    assert_int_equal(peer_label(&a), 0);
    assert_int_equal(sl_upstream_pick_start(&b, g, req_pool, NULL, NULL, NULL), SL_OK);
    assert_int_equal(sl_upstream_pick_get(&b), SL_OK);
    assert_int_equal(peer_label(&b), 1);
    assert_int_equal(sl_upstream_pick_start(&c, g, req_pool, NULL, NULL, NULL), SL_OK);
    assert_int_equal(sl_upstream_pick_get(&c), SL_BUSY);
    assert_string_equal((const char *) c.name->data, "g");
    sl_upstream_pick_free(&a, SL_UPSTREAM_PEER_OK);
    sl_upstream_pick_free(&b, SL_UPSTREAM_PEER_OK);
    assert_int_equal(g->peers->peer[0].conns, 0);
    assert_int_equal(g->peers->next->peer[0].conns, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_weighted, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_ties, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_max_conns_backup, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_sequential_and_failures, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_busy, group_setup, group_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
