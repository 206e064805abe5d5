/*
 * test_output.c: the header helpers filters share (sl_http_output.h): sl_http_weak_etag,
 * which gzip, SSI, sub_filter and addition call when they change a body, checked against
 * what nginx 1.22 sends for the same ETag values.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "sl_http_output.h"
#include "sl_http_request.h"
#include "sl_pool.h"
#include "sl_test_log.h"

static sl_open_file_t log_file;
static sl_log_t test_log;

/* The ETag after sl_http_weak_etag, or "(none)" when it was removed. */
static const char *weakened(const char *value)
{
    static char out[64];
    sl_pool_t *pool = sl_pool_create(SL_POOL_DEFAULT_SIZE, &test_log);
    sl_http_request_t r;
    sl_table_elt_t etag;

    assert_non_null(pool);
    memset(&r, 0, sizeof(r));
    memset(&etag, 0, sizeof(etag));
    r.pool = pool;
    etag.hash = 1;
    etag.value.data = (u_char *) value;
    etag.value.len = strlen(value);
    r.headers_out.etag = &etag;
    sl_http_weak_etag(&r);
    if (r.headers_out.etag == NULL) {
        assert_int_equal(etag.hash, 0);
        snprintf(out, sizeof(out), "(none)");
    } else {
        snprintf(out, sizeof(out), "%.*s", (int) etag.value.len, etag.value.data);
    }
    sl_pool_destroy(pool);
    return out;
}

static void test_strong_becomes_weak(void **state)
{
    (void) state;
    assert_string_equal(weakened("\"abc\""), "W/\"abc\"");
    assert_string_equal(weakened("\"\""), "W/\"\"");
}

static void test_weak_stays(void **state)
{
    (void) state;
    assert_string_equal(weakened("W/\"abc\""), "W/\"abc\"");
}

static void test_malformed_goes(void **state)
{
    (void) state;
    assert_string_equal(weakened("abc"), "(none)");
    assert_string_equal(weakened(""), "(none)");
    /* "W" without the slash is not a weak tag */
    assert_string_equal(weakened("Wabc"), "(none)");
}

static void test_no_etag(void **state)
{
    sl_http_request_t r;

    (void) state;
    memset(&r, 0, sizeof(r));
    sl_http_weak_etag(&r);
    assert_null(r.headers_out.etag);
}

int main(void)
{
    sl_test_log_open(&test_log, &log_file, SL_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strong_becomes_weak),
        cmocka_unit_test(test_weak_stays),
        cmocka_unit_test(test_malformed_goes),
        cmocka_unit_test(test_no_etag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
