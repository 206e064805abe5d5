/*
 * test_url.c: parsing proxy_pass-style urls, with and without name resolution.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "sl_core.h"
#include "sl_inet.h"
#include "sl_log.h"
#include "sl_pool.h"

static sl_log_t test_log = { .log_level = SL_LOG_ERR };

/* Parses text as proxy_pass's part after "http://" would be, without resolving. */
static sl_int_t parse(sl_pool_t *pool, const char *text, sl_url_t *u)
{
    memset(u, 0, sizeof(*u));
    u->url.data = (u_char *) text;
    u->url.len = strlen(text);
    u->default_port = 80;
    u->no_resolve = 1;
    return sl_parse_url(pool, u);
}

static void assert_str(sl_str_t s, const char *want)
{
    assert_int_equal(s.len, strlen(want));
    assert_memory_equal(s.data, want, s.len);
}

static void test_literals(void **state)
{
    (void) state;
    sl_pool_t *pool = sl_pool_create(4096, &test_log);
    sl_url_t u;

    assert_int_equal(parse(pool, "127.0.0.1:8081/a/b?c", &u), SL_OK);
    assert_int_equal(u.naddrs, 1);
    assert_str(u.addrs[0].name, "127.0.0.1:8081");
    assert_str(u.host, "127.0.0.1");
    assert_str(u.uri, "/a/b?c");
    assert_int_equal(u.no_port, 0);

    assert_int_equal(parse(pool, "[::1]", &u), SL_OK);
    assert_int_equal(u.naddrs, 1);
    assert_str(u.addrs[0].name, "[::1]:80");
    assert_str(u.host, "::1");
    assert_int_equal(u.no_port, 1);

    assert_int_equal(parse(pool, "unix:/tmp/s.sock:/u", &u), SL_OK);
    assert_int_equal(u.naddrs, 1);
    assert_str(u.addrs[0].name, "unix:/tmp/s.sock");
    assert_str(u.uri, "/u");
    sl_pool_destroy(pool);
}

static void test_names_and_queries(void **state)
{
    (void) state;
    sl_pool_t *pool = sl_pool_create(4096, &test_log);
    sl_url_t u;

    /* a name is not looked up: no address, the caller decides */
    assert_int_equal(parse(pool, "localhost:8081/x", &u), SL_OK);
    assert_int_equal(u.naddrs, 0);
    assert_str(u.host, "localhost");
    assert_int_equal(u.port, 8081);
    /* "127.1" is a name to nginx too (not four parts) */
    assert_int_equal(parse(pool, "127.1", &u), SL_OK);
    assert_int_equal(u.naddrs, 0);
    /* the uri starts at '?' as well as at '/' */
    assert_int_equal(parse(pool, "127.0.0.1:81?a=b/c", &u), SL_OK);
    assert_int_equal(u.port, 81);
    assert_str(u.uri, "?a=b/c");
    assert_int_equal(parse(pool, "127.0.0.1:99999", &u), SL_ERROR);
    assert_string_equal(u.err, "invalid port");
    assert_int_equal(parse(pool, "[::1", &u), SL_ERROR);
    assert_string_equal(u.err, "invalid host");
    sl_pool_destroy(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_names_and_queries),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
