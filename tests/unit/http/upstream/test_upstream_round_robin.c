/*
 * test_upstream_round_robin.c: the default balancer (smooth weighted round robin) with
 * failures, backups, down and max_conns, and the per-request state every balancer shares:
 * the tried bitmap, tries, and failure accounting over time.
 *
 * The sequences were recorded from Debian's nginx 1.22.1 with
 * scripts/record-nginx-picks.py, which runs /usr/sbin/nginx in one process on loopback with
 * "upstream g { ... }" ("@" is "127.0.0.1:"), origins on 127.0.0.1:18400+n answering "n"
 * (--dead: not listening, so connecting is refused) and proxy_pass http://g; each test says
 * the command.  Origins that hold requests open (--hold) give least_conn and max_conns
 * something to count.  Here the proxy's side is played by upstream_test.h's request():
 * a refused peer is freed as failed and the next one tried while tries remain.  The clock
 * (seconds) stands still within a burst and moves where the recording slept.
 */
#include "upstream_test.h"

/* --origins 3 --upstream 'server @18400 weight=5; server @18401; server @18402;' 30 */
static void test_weights(void **state)
{
    char out[4096] = "";

    (void) state;
    sl_upstream_group_t *g = load_group("upstream g { server 127.0.0.1:18400 weight=5;"
                                        " server 127.0.0.1:18401; server 127.0.0.1:18402; }");
    run_requests(g, 30, 0, out, sizeof(out));
    assert_string_equal(out, "0 0 1 0 2 0 0 0 0 1 0 2 0 0 0 0 1 0 2 0 0 0 0 1 0 2 0 0 0 0");
}

/* --origins 4 --upstream 'server @18400 weight=2; server @18401 weight=3;
 *                         server @18402 weight=1; server @18403 weight=4;' 30 */
static void test_weights_four(void **state)
{
    char out[4096] = "";

    (void) state;
    sl_upstream_group_t *g =
        load_group("upstream g { server 127.0.0.1:18400 weight=2; server 127.0.0.1:18401 weight=3;"
                   " server 127.0.0.1:18402 weight=1; server 127.0.0.1:18403 weight=4; }");
    run_requests(g, 30, 0, out, sizeof(out));
    assert_string_equal(out, "3 1 0 3 1 2 3 0 1 3 3 1 0 3 1 2 3 0 1 3 3 1 0 3 1 2 3 0 1 3");
}

/* A refused peer is disabled for fail_timeout (10s) after one failure; a down peer is
 * never picked.
 * --origins 4 --tried --dead 1 --upstream 'server @18400 weight=3; server @18401 weight=2;
 *     server @18402 weight=1 down; server @18403 weight=4;' 30 */
static void test_failure_and_down(void **state)
{
    char out[4096] = "";

    (void) state;
    sl_upstream_group_t *g =
        load_group("upstream g { server 127.0.0.1:18400 weight=3; server 127.0.0.1:18401 weight=2;"
                   " server 127.0.0.1:18402 weight=1 down; server 127.0.0.1:18403 weight=4; }");
    run_requests(g, 30, 1u << 1, out, sizeof(out));
    assert_string_equal(out, "3 0 1+3 0 3 0 3 3 0 3 0 3 0 3 3 0 3 0 3 0 3 3 0 3 0 3 0 3 3 0");
    assert_logged("[warn]");
    assert_logged("upstream server temporarily disabled");
}

/* max_fails=2: the first failure only lowers the effective weight (4 - 4/2), which picks
 * give back one by one.
 * --origins 3 --tried --dead 0 --upstream 'server @18400 weight=4 max_fails=2;
 *     server @18401 weight=2; server @18402 weight=1;' 30 */
static void test_effective_weight(void **state)
{
    char out[4096] = "";

    (void) state;
    sl_upstream_group_t *g =
        load_group("upstream g { server 127.0.0.1:18400 weight=4 max_fails=2;"
                   " server 127.0.0.1:18401 weight=2; server 127.0.0.1:18402 weight=1; }");
    run_requests(g, 30, 1u << 0, out, sizeof(out));
    assert_string_equal(out, "0+1 1 2 0+1 1 1 2 1 1 2 1 1 2 1 1 2 1 1 2 1 1 2 1 1 2 1 1 2 1 1");
}

/* Backups only once no primary is left; after fail_timeout each primary gets one probe.
 * --origins 4 --tried --dead 0,1 --upstream 'server @18400 max_fails=2 fail_timeout=1;
 *     server @18401 max_fails=2 fail_timeout=1; server @18402 backup;
 *     server @18403 backup weight=2;' 6 sleep=2.5 4 */
static void test_backup_and_probe(void **state)
{
    char out[4096] = "";

    (void) state;
    sl_upstream_group_t *g = load_group(
        "upstream g { server 127.0.0.1:18400 max_fails=2 fail_timeout=1;"
        " server 127.0.0.1:18401 max_fails=2 fail_timeout=1; server 127.0.0.1:18402 backup;"
        " server 127.0.0.1:18403 backup weight=2; }");
    run_requests(g, 6, 3, out, sizeof(out));
    sl_cached_time_sec += 3;
    run_requests(g, 4, 3, out, sizeof(out));
    assert_string_equal(out, "0+1+3 1+0+2 3 3 2 3 0+1+3 2 3 3");
}

/* Every peer failed: nginx 1.22 does not revive them early, the next requests get "no
 * live upstreams" (the group's name in $upstream_addr) until fail_timeout passes.
 * --origins 2 --tried --dead 0,1 --upstream 'server @18400; server @18401;' 4
 * --origins 2 --tried --upstream 'server @18400 down; server @18401 down;' 2 */
static void test_no_live_upstreams(void **state)
{
    char out[4096] = "";

    (void) state;
    sl_upstream_group_t *g =
        load_group("upstream g { server 127.0.0.1:18400; server 127.0.0.1:18401; }");
    run_requests(g, 4, 3, out, sizeof(out));
    assert_string_equal(out, "0+1=502 g=502 g=502 g=502");
    sl_cached_time_sec += 10;
    out[0] = '\0';
    run_requests(g, 1, 3, out, sizeof(out));
    assert_string_equal(out, "g=502");
    /* back after fail_timeout, and their effective weights (0 after the failures) recover */
    sl_cached_time_sec += 1;
    out[0] = '\0';
    run_requests(g, 1, 0, out, sizeof(out));
    assert_string_equal(out, "1");
    assert_int_equal(g->peers->peer[0].effective_weight, 1);

    g = load_group("upstream g { server 127.0.0.1:18400 down; server 127.0.0.1:18401 down; }");
    out[0] = '\0';
    run_requests(g, 2, 0, out, sizeof(out));
    assert_string_equal(out, "g=502 g=502");
}

/* A lone peer is never disabled and one failure ends the request.
 * --origins 1 --tried --dead 0 --upstream 'server @18400;' 3 */
static void test_single(void **state)
{
    char out[4096] = "";
    sl_upstream_pick_t pk;

    (void) state;
    sl_upstream_group_t *g = load_group("upstream g { server 127.0.0.1:18400; }");
    run_requests(g, 3, 1, out, sizeof(out));
    assert_string_equal(out, "0=502 0=502 0=502");
    assert_int_equal(g->peers->peer[0].fails, 0);
    assert_int_equal(g->peers->peer[0].conns, 0);

    g = load_group("upstream g { server 127.0.0.1:18400 down; }");
    assert_int_equal(sl_upstream_pick_start(&pk, g, req_pool, NULL, NULL, NULL), SL_OK);
    assert_int_equal(pk.tries, 0);
    assert_int_equal(sl_upstream_pick_get(&pk), SL_BUSY);
}

/* --hold --origins 3 --upstream 'server @18400 max_conns=1;
 *     server @18401 max_conns=2 weight=2; server @18402 backup max_conns=1;'
 *     o o o o o c0 o c1 c3 o o o
 * --hold --origins 1 --upstream 'server @18400 max_conns=1;' o o c0 o */
static void test_max_conns(void **state)
{
    char out[4096] = "";

    (void) state;
    sl_upstream_group_t *g = load_group("upstream g { server 127.0.0.1:18400 max_conns=1;"
                                        " server 127.0.0.1:18401 max_conns=2 weight=2;"
                                        " server 127.0.0.1:18402 backup max_conns=1; }");
    run_holding(g, "o o o o o c0 o c1 c3 o o o", out, sizeof(out));
    assert_string_equal(out, "1 0 1 2 502 1 0 2 502");

    g = load_group("upstream g { server 127.0.0.1:18400 max_conns=1; }");
    out[0] = '\0';
    run_holding(g, "o o c0 o", out, sizeof(out));
    assert_string_equal(out, "0 502 0");
}

/* Failure accounting step by step (nginx's rules, the clock by hand). */
static void test_fail_timeout(void **state)
{
    sl_upstream_pick_t pk;

    (void) state;
    sl_upstream_group_t *g =
        load_group("upstream g { server 127.0.0.1:18400 max_fails=2 fail_timeout=10;"
                   " server 127.0.0.1:18401; }");
    sl_upstream_peer_t *p = &g->peers->peer[0];
    time_t t0 = sl_cached_time_sec;

    /* two failures of peer 0 in one request each */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(sl_upstream_pick_start(&pk, g, req_pool, NULL, NULL, NULL), SL_OK);
        do {
            assert_int_equal(sl_upstream_pick_get(&pk), SL_OK);
            sl_upstream_pick_free(&pk, peer_label(&pk) == 0 ? SL_UPSTREAM_PEER_FAILED
                                                            : SL_UPSTREAM_PEER_OK);
        } while (p->fails == (sl_uint_t) i);
    }
    assert_int_equal(p->fails, 2);
    assert_int_equal(p->accessed, t0);
    assert_int_equal(p->checked, t0);
    assert_false(sl__upstream_peer_usable(p, t0 + 10));
    assert_true(sl__upstream_peer_usable(p, t0 + 11));

    /* within fail_timeout only peer 1 */
    char out[256] = "";
    sl_cached_time_sec = t0 + 10;
    run_requests(g, 3, 0, out, sizeof(out));
    assert_string_equal(out, "1 1 1");

    /* after it: one probe, which moves checked; while it is out nobody else gets peer 0 */
    sl_cached_time_sec = t0 + 11;
    sl_upstream_pick_t probe;
    assert_int_equal(sl_upstream_pick_start(&probe, g, req_pool, NULL, NULL, NULL), SL_OK);
    do {
        assert_int_equal(sl_upstream_pick_get(&probe), SL_OK);
        if (peer_label(&probe) != 0) {
            sl_upstream_pick_free(&probe, SL_UPSTREAM_PEER_OK);
        }
    } while (peer_label(&probe) != 0 && probe.tries);
    assert_int_equal(peer_label(&probe), 0);
    assert_int_equal(p->checked, t0 + 11);
    out[0] = '\0';
    run_requests(g, 2, 0, out, sizeof(out));
    assert_string_equal(out, "1 1");

    /* the probe works: failures forgotten, peer 0 back in turn */
    sl_upstream_pick_free(&probe, SL_UPSTREAM_PEER_OK);
    assert_int_equal(p->fails, 0);
    out[0] = '\0';
    run_requests(g, 4, 0, out, sizeof(out));
    assert_non_null(strchr(out, '0'));
}

/* A success in the same second as a failure does not forget it (accessed == checked); a
 * 403/404 moved on from ("next") is not held against the peer; max_fails=0 never
 * disables. */
static void test_fail_bookkeeping(void **state)
{
    sl_upstream_pick_t pk;

    (void) state;
    sl_upstream_group_t *g = load_group("upstream g { server 127.0.0.1:18400 max_fails=3 weight=6;"
                                        " server 127.0.0.1:18401 max_fails=0; }");
    sl_upstream_peer_t *p0 = &g->peers->peer[0], *p1 = &g->peers->peer[1];

    assert_int_equal(sl_upstream_pick_start(&pk, g, req_pool, NULL, NULL, NULL), SL_OK);
    assert_int_equal(pk.tries, 2);
    assert_int_equal(sl_upstream_pick_get(&pk), SL_OK);
    assert_int_equal(peer_label(&pk), 0);
    assert_int_equal(p0->conns, 1);
    sl_upstream_pick_free(&pk, SL_UPSTREAM_PEER_FAILED);
    assert_int_equal(p0->conns, 0);
    assert_int_equal(pk.tries, 1);
    assert_int_equal(p0->fails, 1);
    assert_int_equal(p0->effective_weight, 4);
    /* freeing again does nothing */
    sl_upstream_pick_free(&pk, SL_UPSTREAM_PEER_FAILED);
    assert_int_equal(p0->fails, 1);
    assert_int_equal(pk.tries, 1);

    assert_int_equal(sl_upstream_pick_start(&pk, g, req_pool, NULL, NULL, NULL), SL_OK);
    assert_int_equal(sl_upstream_pick_get(&pk), SL_OK);
    assert_int_equal(peer_label(&pk), 0);
    sl_upstream_pick_free(&pk, SL_UPSTREAM_PEER_NEXT);
    assert_int_equal(p0->fails, 1);
    assert_int_equal(sl_upstream_pick_get(&pk), SL_OK);
    assert_int_equal(peer_label(&pk), 1);
    sl_upstream_pick_free(&pk, SL_UPSTREAM_PEER_OK);
    assert_int_equal(pk.tries, 0);

    /* the window moves on: a success after a pick in a later second resets */
    sl_cached_time_sec += 11;
    for (int i = 0; i < 5 && p0->fails; i++) {
        assert_int_equal(sl_upstream_pick_start(&pk, g, req_pool, NULL, NULL, NULL), SL_OK);
        assert_int_equal(sl_upstream_pick_get(&pk), SL_OK);
        sl_upstream_pick_free(&pk, SL_UPSTREAM_PEER_OK);
    }
    assert_int_equal(p0->fails, 0);

    /* max_fails=0: failures count but never disable */
    for (int i = 0; i < 5; i++) {
        p1->fails++;
    }
    assert_true(sl__upstream_peer_usable(p1, sl_cached_time_sec));
}

/* tries: peers not down, primaries and backups; the tried bitmap per request, cleared for
 * the backups; a group of more than 64 peers. */
static void test_tries_and_tried(void **state)
{
    sl_upstream_pick_t pk;
    char http[8192];

    (void) state;
    sl_upstream_group_t *g =
        load_group("upstream g { server 127.0.0.1:18400; server 127.0.0.1:18401 down;"
                   " server 127.0.0.1:18402; server 127.0.0.1:18403 backup;"
                   " server 127.0.0.1:18404 backup down; }");
    assert_int_equal(g->peers->number, 3);
    assert_int_equal(g->peers->tries, 2);
    assert_int_equal(g->peers->total_weight, 3);
    assert_int_equal(g->peers->next->number, 2);
    assert_int_equal(g->peers->next->tries, 1);
    assert_int_equal(sl_upstream_pick_start(&pk, g, req_pool, NULL, NULL, NULL), SL_OK);
    assert_int_equal(pk.tries, 3);
    assert_int_equal(sl_upstream_pick_get(&pk), SL_OK);
    assert_int_equal(peer_label(&pk), 0);
    assert_true(sl_upstream_pick_tried(&pk, 0));
    assert_false(sl_upstream_pick_tried(&pk, 2));
    sl_upstream_pick_free(&pk, SL_UPSTREAM_PEER_OK);
    assert_int_equal(sl_upstream_pick_get(&pk), SL_OK);
    assert_int_equal(peer_label(&pk), 2);
    sl_upstream_pick_free(&pk, SL_UPSTREAM_PEER_OK);
    /* the backups: bits cleared, index 0 is now the first backup */
    assert_int_equal(sl_upstream_pick_get(&pk), SL_OK);
    assert_int_equal(peer_label(&pk), 3);
    assert_true(sl_upstream_pick_tried(&pk, 0));
    assert_false(sl_upstream_pick_tried(&pk, 1));
    sl_upstream_pick_free(&pk, SL_UPSTREAM_PEER_OK);
    assert_int_equal(pk.tries, 0);
    assert_int_equal(sl_upstream_pick_get(&pk), SL_BUSY);
    assert_string_equal((const char *) pk.name->data, "g");

    /* 70 peers: each tried once in one request, then no live upstreams */
    strcpy(http, "upstream g {");
    for (int i = 0; i < 70; i++) {
        snprintf(http + strlen(http), sizeof(http) - strlen(http),
                 " server 127.0.0.1:%d max_fails=0;", BASE_PORT + i);
    }
    strcat(http, " }");
    g = load_group(http);
    assert_int_equal(sl_upstream_pick_start(&pk, g, req_pool, NULL, NULL, NULL), SL_OK);
    assert_non_null(pk.tried);
    unsigned char seen[70] = { 0 };
    for (int i = 0; i < 70; i++) {
        assert_int_equal(sl_upstream_pick_get(&pk), SL_OK);
        int label = peer_label(&pk);
        assert_false(seen[label]);
        seen[label] = 1;
        assert_true(sl_upstream_pick_tried(&pk, (sl_uint_t) label));
        sl_upstream_pick_free(&pk, SL_UPSTREAM_PEER_FAILED);
    }
    assert_int_equal(pk.tries, 0);
    assert_int_equal(sl_upstream_pick_get(&pk), SL_BUSY);
}

/* A name resolving to several addresses makes one peer each; the implicit group of
 * proxy_pass http://host:port is round robin with nginx's defaults and shared by every
 * proxy_pass of the same host and port. */
static void test_addresses_and_implicit(void **state)
{
    (void) state;
    sl_upstream_group_t *g = load_group("upstream g { server localhost:18401 weight=2; }");
    assert_true(g->peers->number >= 1);
    for (sl_uint_t i = 0; i < g->peers->number; i++) {
        assert_string_equal((const char *) g->peers->addr[i].server.data, "localhost:18401");
        assert_int_equal(g->peers->peer[i].weight, 2);
    }

    sl_conf_t cf;
    memset(&cf, 0, sizeof(cf));
    cf.cycle = cycle;
    cf.pool = cycle->pool;
    cf.log = &test_log;
    cf.ctx = sl_http_cycle_ctx(cycle);
    sl_url_t u;
    memset(&u, 0, sizeof(u));
    u.url = str("127.0.0.1:18402");
    u.default_port = 80;
    assert_int_equal(sl_parse_url(cycle->pool, &u), SL_OK);
    /* two addresses, as a host name with an A and an AAAA record gives */
    sl_addr_t two[2] = { u.addrs[0], u.addrs[0] };
    ((struct sockaddr_in *) &two[1].sockaddr)->sin_port = htons(BASE_PORT + 3);
    u.addrs = two;
    u.naddrs = 2;
    sl_upstream_group_t *ig = sl_upstream_group_implicit(&cf, &u);
    assert_non_null(ig);
    assert_true(ig->implicit);
    assert_ptr_equal(sl_upstream_group_implicit(&cf, &u), ig);
    assert_int_equal(ig->peers->number, 2);
    assert_int_equal(ig->peers->peer[1].max_fails, 1);
    assert_int_equal(ig->peers->peer[1].fail_timeout, 10);
    char out[256] = "";
    run_requests(ig, 4, 1u << 2, out, sizeof(out));
    assert_string_equal(out, "2+3 3 3 3");
    /* implicit groups are not found by name */
    sl_str_t name = str("127.0.0.1");
    assert_null(sl_upstream_group_find(&cf, &name));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_weights, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_weights_four, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_failure_and_down, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_effective_weight, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_backup_and_probe, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_no_live_upstreams, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_single, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_max_conns, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_fail_timeout, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_fail_bookkeeping, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_tries_and_tried, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_addresses_and_implicit, group_setup, group_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
