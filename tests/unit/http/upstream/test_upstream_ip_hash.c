/*
 * test_upstream_ip_hash.c: ip_hash against picks recorded from Debian's nginx 1.22.1 with
 * scripts/record-nginx-picks.py (see test_upstream_round_robin.c), each request sent from
 * one of the addresses below (any 127/8 address binds on loopback; "::1" for IPv6).
 */
#include "upstream_test.h"

/* Forty clients: 127.0.0.1 and 39 random 127/8 addresses (Python's random.seed(7)). */
static const char *const clients[] = {
    "127.0.0.1",      "127.165.77.102",  "127.24.37.211",   "127.48.187.150",  "127.29.109.10",
    "127.44.222.108", "127.35.123.24",   "127.217.30.212",  "127.63.114.162",  "127.31.203.13",
    "127.113.23.143", "127.68.148.108",  "127.73.60.147",   "127.157.92.27",   "127.96.190.25",
    "127.32.30.159",  "127.105.254.175", "127.218.160.120", "127.232.185.77",  "127.127.92.179",
    "127.124.41.148", "127.153.253.225", "127.175.229.74",  "127.37.60.132",   "127.214.84.194",
    "127.175.77.239", "127.250.215.11",  "127.39.160.88",   "127.179.254.149", "127.233.35.216",
    "127.47.138.122", "127.33.31.188",   "127.158.228.73",  "127.197.177.6",   "127.236.181.44",
    "127.59.252.16",  "127.111.147.34",  "127.126.203.101", "127.254.41.43",   "127.229.205.141",
};

/* One request from each client in turn. */
static const char *from_clients(const char *http, unsigned dead)
{
    static char out[4096];
    sl_upstream_group_t *g = load_group(http);

    out[0] = '\0';
    for (size_t i = 0; i < sl_nelems(clients); i++) {
        struct sockaddr_storage ss = client_addr(clients[i]);
        request(g, NULL, (struct sockaddr *) &ss, dead, out, sizeof(out));
    }
    return out;
}

/* --origins 4 --upstream 'ip_hash; server @18400; server @18401 weight=2;
 *     server @18402 weight=3; server @18403;' from=127.0.0.1 from=127.165.77.102 ... */
static void test_weighted(void **state)
{
    (void) state;
    assert_string_equal(
        from_clients("upstream g { ip_hash; server 127.0.0.1:18400;"
                     " server 127.0.0.1:18401 weight=2; server 127.0.0.1:18402 weight=3;"
                     " server 127.0.0.1:18403; }",
                     0),
        "1 1 0 3 0 1 3 0 2 2 3 1 1 1 1 1 2 2 1 2 0 2 1 1 1 2 1 2 2 0 2 2 2 1 1 2 1 2 0 2");
}

/* --origins 3 --upstream 'ip_hash; server @18400; server @18401; server @18402;' from=... */
static void test_equal_weights(void **state)
{
    (void) state;
    assert_string_equal(
        from_clients("upstream g { ip_hash; server 127.0.0.1:18400; server 127.0.0.1:18401;"
                     " server 127.0.0.1:18402; }",
                     0),
        "2 1 2 2 0 2 2 0 1 2 0 0 0 0 1 2 2 0 2 1 1 0 2 0 0 0 1 2 2 1 2 2 0 2 0 2 0 2 0 1");
}

/* A failed peer and a down one: their clients hash again.
 * --origins 4 --tried --dead 2 --upstream 'ip_hash; server @18400; server @18401 weight=2;
 *     server @18402 weight=3; server @18403 down;' from=... */
static void test_rehash(void **state)
{
    (void) state;
    assert_string_equal(
        from_clients("upstream g { ip_hash; server 127.0.0.1:18400;"
                     " server 127.0.0.1:18401 weight=2; server 127.0.0.1:18402 weight=3;"
                     " server 127.0.0.1:18403 down; }",
                     1u << 2),
        "1 1 0 2+0 0 1 0 0 1 1 1 1 1 1 1 1 1 0 1 1 0 1 1 1 1 0 1 1 0 0 1 0 1 1 1 1 1 0 0 1");
}

/* A heavy failed peer: most rehashes land on it again, so after 20 draws round robin
 * decides (peers 1 and 2 in turn), except where a draw found 1 or 2 first.
 * --origins 3 --tried --dead 0 --upstream 'ip_hash; server @18400 weight=50;
 *     server @18401; server @18402;' from=... */
static void test_twenty_draws(void **state)
{
    (void) state;
    assert_string_equal(
        from_clients("upstream g { ip_hash; server 127.0.0.1:18400 weight=50;"
                     " server 127.0.0.1:18401; server 127.0.0.1:18402; }",
                     1u << 0),
        "0+1 1 1 1 2 2 1 2 1 1 2 1 1 2 1 1 1 1 2 2 2 1 1 1 1 2 1 2 2 1 2 1 1 2 2 2 1 2 1 1");
}

/* IPv6: all sixteen bytes.
 * --origins 4 --upstream 'ip_hash; server @18400; server @18401 weight=2;
 *     server @18402 weight=3; server @18403;' from=::1                      -> 1
 * --origins 3 --upstream 'ip_hash; server @18400; server @18401; server @18402;' from=::1
 *                                                                          -> 2
 * --origins 5 --upstream 'ip_hash; server @18400; ... server @18404;' from=::1 -> 0 */
static void test_ipv6(void **state)
{
    static const struct {
        const char *http;
        const char *want;
    } cases[] = {
        { "upstream g { ip_hash; server 127.0.0.1:18400; server 127.0.0.1:18401 weight=2;"
          " server 127.0.0.1:18402 weight=3; server 127.0.0.1:18403; }",
          "1" },
        { "upstream g { ip_hash; server 127.0.0.1:18400; server 127.0.0.1:18401;"
          " server 127.0.0.1:18402; }",
          "2" },
        { "upstream g { ip_hash; server 127.0.0.1:18400; server 127.0.0.1:18401;"
          " server 127.0.0.1:18402; server 127.0.0.1:18403; server 127.0.0.1:18404; }",
          "0" },
    };
    struct sockaddr_storage ss = client_addr("::1");

    (void) state;
    for (size_t i = 0; i < sl_nelems(cases); i++) {
        char out[64] = "";
        request(load_group(cases[i].http), NULL, (struct sockaddr *) &ss, 0, out, sizeof(out));
        assert_string_equal(out, cases[i].want);
    }
}

/* The same /24 goes to the same peer; a client of no address family nginx hashes (a unix
 * socket) hashes as 0.0.0; a lone peer is round robin's. */
static void test_same_network(void **state)
{
    struct sockaddr_storage a = client_addr("10.1.2.3"), b = client_addr("10.1.2.250");
    struct sockaddr_storage z = client_addr("0.0.0.77");
    char out[256] = "";

    (void) state;
    sl_upstream_group_t *g =
        load_group("upstream g { ip_hash; server 127.0.0.1:18400; server 127.0.0.1:18401;"
                   " server 127.0.0.1:18402; server 127.0.0.1:18403; server 127.0.0.1:18404; }");
    for (int i = 0; i < 3; i++) {
        request(g, NULL, (struct sockaddr *) &a, 0, out, sizeof(out));
        request(g, NULL, (struct sockaddr *) &b, 0, out, sizeof(out));
    }
    assert_int_equal(strspn(out, (char[]){ out[0], ' ', 0 }), strlen(out));
    out[0] = '\0';
    request(g, NULL, NULL, 0, out, sizeof(out));
    request(g, NULL, (struct sockaddr *) &z, 0, out, sizeof(out));
    assert_int_equal(out[0], out[2]);

    g = load_group("upstream g { ip_hash; server 127.0.0.1:18400; }");
    out[0] = '\0';
    request(g, NULL, (struct sockaddr *) &a, 1, out, sizeof(out));
    assert_string_equal(out, "0=502");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_weighted, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_equal_weights, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_rehash, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_twenty_draws, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_ipv6, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_same_network, group_setup, group_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
