/*
 * test_upstream_hash.c: "hash $arg_k" and "hash $arg_k consistent" against picks recorded
 * from Debian's nginx 1.22.1 with scripts/record-nginx-picks.py (see
 * test_upstream_round_robin.c), one request per key (k=KEY asks for /?k=KEY).  The
 * consistent ring hashes each server's address as written in the config, so the configs
 * here are the recorded ones to the byte.
 */
#include "upstream_test.h"

/* The keys of the plain-hash recordings: k=k0 ... k=k39 k=apple k=banana k=/index.html
 * k=user:1234 k=Z k=0 k=%20 ($arg_k is not decoded: "%20" is three bytes). */
static const char *const extra_keys[] = { "apple", "banana", "/index.html", "user:1234",
                                          "Z",     "0",      "%20" };

/* One request per key: k0 .. k<n-1>, then the first `extra` extra_keys. */
static const char *by_keys(sl_upstream_group_t *g, int n, size_t extra, unsigned dead)
{
    static char out[4096];
    char key[16];

    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        sl_str_t k = str(key);
        request(g, &k, NULL, dead, out, sizeof(out));
    }
    for (size_t i = 0; i < extra; i++) {
        sl_str_t k = str(extra_keys[i]);
        request(g, &k, NULL, dead, out, sizeof(out));
    }
    return out;
}

/* --origins 4 --upstream 'hash $arg_k; server @18400; server @18401 weight=2;
 *     server @18402; server @18403 weight=3;' k=k0 ... k=%20 */
static void test_hash(void **state)
{
    (void) state;
    sl_upstream_group_t *g = load_group(
        "upstream g { hash $arg_k; server 127.0.0.1:18400; server 127.0.0.1:18401 weight=2;"
        " server 127.0.0.1:18402; server 127.0.0.1:18403 weight=3; }");
    assert_string_equal(by_keys(g, 40, 7, 0),
                        "3 3 3 3 3 3 3 1 2 1 1 1 3 3 3 0 3 2 3 3 1 3 2 1 0 0 3 3 1 1 1 0 1 1 3 1 "
                        "3 0 1 3 0 3 2 3 3 3 2");
}

/* A failed and a down peer: draws go on from the running sum.
 * --origins 4 --tried --dead 1 --upstream 'hash $arg_k; server @18400;
 *     server @18401 weight=2; server @18402 down; server @18403 weight=3;' k=k0 ... */
static void test_rehash(void **state)
{
    (void) state;
    sl_upstream_group_t *g = load_group(
        "upstream g { hash $arg_k; server 127.0.0.1:18400; server 127.0.0.1:18401 weight=2;"
        " server 127.0.0.1:18402 down; server 127.0.0.1:18403 weight=3; }");
    assert_string_equal(by_keys(g, 40, 7, 1u << 1),
                        "3 3 3 3 3 3 3 1+3 3 3 3 0 3 3 3 0 3 3 3 3 3 3 3 0 0 0 3 3 3 0 3 0 3 3 3 "
                        "3 3 0 3 3 0 3 0 3 3 3 3");
}

/* A heavy failed peer: after 20 draws round robin decides.
 * --origins 3 --tried --dead 0 --upstream 'hash $arg_k; server @18400 weight=50;
 *     server @18401; server @18402;' k=k0 ... */
static void test_twenty_draws(void **state)
{
    (void) state;
    sl_upstream_group_t *g = load_group("upstream g { hash $arg_k;"
                                        " server 127.0.0.1:18400 weight=50;"
                                        " server 127.0.0.1:18401; server 127.0.0.1:18402; }");
    assert_string_equal(by_keys(g, 40, 7, 1u << 0),
                        "0+1 1 2 2 2 2 1 2 1 2 1 1 1 1 2 1 1 2 1 2 2 1 1 2 2 1 1 1 1 2 1 1 1 1 2 "
                        "2 1 1 1 1 1 2 2 1 1 1 1");
}

/* An empty key: round robin.
 * --origins 3 --upstream 'hash $arg_k; server @18400; server @18401 weight=2;
 *     server @18402;' 12 */
static void test_empty_key(void **state)
{
    char out[256] = "";

    (void) state;
    sl_upstream_group_t *g = load_group("upstream g { hash $arg_k; server 127.0.0.1:18400;"
                                        " server 127.0.0.1:18401 weight=2;"
                                        " server 127.0.0.1:18402; }");
    run_requests(g, 12, 0, out, sizeof(out));
    assert_string_equal(out, "1 0 2 1 1 0 2 1 1 0 2 1");
}

/* --origins 4 --upstream 'hash $arg_k consistent; server @18400; server @18401;
 *     server @18402; server @18403;' k=k0 ... k=k59 k=apple k=banana k=/index.html
 *     k=user:1234 k=Z k=0
 * and the same without server @18402: only its keys move. */
static void test_consistent(void **state)
{
    (void) state;
    sl_upstream_group_t *g = load_group(
        "upstream g { hash $arg_k consistent; server 127.0.0.1:18400; server 127.0.0.1:18401;"
        " server 127.0.0.1:18402; server 127.0.0.1:18403; }");
    const char *four = "2 0 2 1 3 1 2 3 1 2 1 0 3 0 2 0 2 1 1 2 3 1 1 2 1 2 2 1 1 0 2 0 1 0 1 2 "
                       "3 2 0 1 0 0 1 0 1 1 3 3 0 3 2 1 0 3 3 1 3 3 3 0 2 3 1 2 2 0";
    assert_string_equal(by_keys(g, 60, 6, 0), four);

    g = load_group("upstream g { hash $arg_k consistent; server 127.0.0.1:18400;"
                   " server 127.0.0.1:18401; server 127.0.0.1:18403; }");
    const char *three = by_keys(g, 60, 6, 0);
    assert_string_equal(three,
                        "0 0 0 1 3 1 3 3 1 3 1 0 3 0 3 0 0 1 1 0 3 1 1 0 1 3 3 1 1 0 1 0 "
                        "1 0 1 3 3 1 0 1 0 0 1 0 1 1 3 3 0 3 0 1 0 3 3 1 3 3 3 0 1 3 1 0 3 0");
    for (size_t i = 0; i < strlen(four); i += 2) {
        if (four[i] != '2') {
            assert_int_equal(three[i], four[i]);
        }
    }
}

/* --origins 4 --upstream 'hash $arg_k consistent; server @18400 weight=3; server @18401;
 *     server @18402 weight=2; server @18403;' k=k0 ... */
static void test_consistent_weights(void **state)
{
    (void) state;
    sl_upstream_group_t *g = load_group(
        "upstream g { hash $arg_k consistent; server 127.0.0.1:18400 weight=3;"
        " server 127.0.0.1:18401; server 127.0.0.1:18402 weight=2; server 127.0.0.1:18403; }");
    assert_string_equal(by_keys(g, 60, 6, 0),
                        "0 0 2 1 3 1 0 3 1 0 1 0 2 0 2 2 2 1 1 2 3 0 1 2 1 2 2 1 1 0 2 0 0 0 1 2 "
                        "3 2 0 2 0 0 1 0 1 1 3 3 2 3 2 1 2 3 3 1 3 3 0 0 2 0 0 2 2 0");
}

/* The ring hashes the names as written: a host name, no port (80, hashed as no port), a
 * unix socket (its path), and a down server that keeps its points.
 * --origins 4 --extra 127.0.0.2:80=8 --extra unix:/tmp/record-picks.sock=9
 *     --upstream 'hash $arg_k consistent; server @18400; server localhost:18401;
 *     server 127.0.0.2; server unix:/tmp/record-picks.sock; server @18403 down;' k=k0 ... */
static void test_consistent_names(void **state)
{
    (void) state;
    sl_upstream_group_t *g = load_group(
        "upstream g { hash $arg_k consistent; server 127.0.0.1:18400; server localhost:18401;"
        " server 127.0.0.2; server unix:/tmp/record-picks.sock; server 127.0.0.1:18403 down; }");
    assert_string_equal(by_keys(g, 60, 6, 0),
                        "1 9 0 8 9 8 8 8 1 9 9 0 8 0 9 8 0 9 9 0 1 1 1 0 9 9 8 0 1 1 0 8 9 1 1 9 "
                        "9 8 0 8 0 0 0 1 8 1 0 1 0 0 9 0 1 0 1 9 9 9 8 1 1 1 8 8 0 9");
}

/* A failed peer: its keys go to the next points' servers.
 * --origins 4 --tried --dead 1 --upstream 'hash $arg_k consistent; server @18400;
 *     server @18401; server @18402; server @18403;' k=k0 ...
 * A heavy failed peer: after 20 points, round robin.
 * --origins 3 --tried --dead 0 --upstream 'hash $arg_k consistent; server @18400 weight=50;
 *     server @18401; server @18402;' k=k0 ... */
static void test_consistent_failures(void **state)
{
    (void) state;
    sl_upstream_group_t *g = load_group(
        "upstream g { hash $arg_k consistent; server 127.0.0.1:18400; server 127.0.0.1:18401;"
        " server 127.0.0.1:18402; server 127.0.0.1:18403; }");
    assert_string_equal(by_keys(g, 60, 6, 1u << 1),
                        "2 0 2 1+3 3 2 2 3 0 2 3 0 3 0 2 0 2 3 0 2 3 2 3 2 3 2 2 3 3 0 2 0 3 0 2 "
                        "2 3 2 0 2 0 0 2 0 2 2 3 3 0 3 2 3 0 3 3 3 3 3 3 0 2 3 2 2 2 0");

    g = load_group("upstream g { hash $arg_k consistent; server 127.0.0.1:18400 weight=50;"
                   " server 127.0.0.1:18401; server 127.0.0.1:18402; }");
    assert_string_equal(by_keys(g, 60, 6, 1u << 0),
                        "0+2 1 2 1 2 1 2 1 1 2 1 1 2 1 2 1 2 1 1 2 1 1 1 2 1 2 2 1 1 1 2 2 1 2 1 "
                        "2 2 2 1 1 1 2 1 2 1 1 2 2 1 2 2 1 1 1 2 1 2 1 2 2 2 1 2 2 2 1");
}

/* An empty key: round robin.
 * --origins 3 --upstream 'hash $arg_k consistent; server @18400; server @18401 weight=2;
 *     server @18402;' 8 */
static void test_consistent_empty_key(void **state)
{
    char out[256] = "";

    (void) state;
    sl_upstream_group_t *g = load_group("upstream g { hash $arg_k consistent;"
                                        " server 127.0.0.1:18400;"
                                        " server 127.0.0.1:18401 weight=2;"
                                        " server 127.0.0.1:18402; }");
    run_requests(g, 8, 0, out, sizeof(out));
    assert_string_equal(out, "1 0 2 1 1 0 2 1");
}

/* Several peers of one server name share its points by weighted round robin. */
static void test_consistent_same_name(void **state)
{
    (void) state;
    sl_upstream_group_t *g = load_group("upstream g { hash $arg_k consistent;"
                                        " server 127.0.0.1:18400; server 127.0.0.1:18401; }");
    /* the two peers of one "server" line, as a name with two addresses gives */
    g->peers->addr[1].server = g->peers->addr[0].server;
    sl_str_t k = str("k3");
    char out[256] = "";
    for (int i = 0; i < 4; i++) {
        request(g, &k, NULL, 0, out, sizeof(out));
    }
    assert_true(strcmp(out, "0 1 0 1") == 0 || strcmp(out, "1 0 1 0") == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hash, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_rehash, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_twenty_draws, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_empty_key, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_consistent, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_consistent_weights, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_consistent_names, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_consistent_failures, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_consistent_empty_key, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_consistent_same_name, group_setup, group_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
