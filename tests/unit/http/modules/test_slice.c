/*
 * test_slice.c: the slice module's parsing: the Content-Range of a piece ("bytes a-b/n",
 * an unknown length, spaces, what is malformed or overflows), the first byte a client's
 * Range asks for (only a single "bytes=N-..." without If-Range counts), and $slice_range's
 * text.
 *
 * The .c is included (as h2o's tests do) to reach its static functions.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "sl_http_slice_filter_module.c"

static sl_int_t parse(const char *s, content_range_t *cr)
{
    sl_str_t v = { strlen(s), (u_char *) s };

    return parse_content_range(&v, cr);
}

static void test_content_range(void **state)
{
    content_range_t cr;

    (void) state;
    assert_int_equal(parse("bytes 0-1/16", &cr), SL_OK);
    assert_int_equal(cr.start, 0);
    assert_int_equal(cr.end, 2);
    assert_int_equal(cr.complete_length, 16);
    assert_int_equal(parse("bytes  4 - 7 / 26 ", &cr), SL_OK);
    assert_int_equal(cr.start, 4);
    assert_int_equal(cr.end, 8);
    assert_int_equal(cr.complete_length, 26);
    assert_int_equal(parse("bytes 0-1/*", &cr), SL_OK);
    assert_int_equal(cr.complete_length, -1);
    assert_int_equal(
        parse("bytes 9223372036854775806-9223372036854775806/9223372036854775807", &cr), SL_OK);
    assert_int_equal(cr.end, INT64_MAX);

    const char *bad[] = {
        "bytes",
        "bytes ",
        "Bytes 0-1/2",
        "bytes=0-1/2",
        "bytes 0-1",
        "bytes 0/2",
        "bytes -1/2",
        "bytes 2-1/9",
        "bytes 0-1/",
        "bytes 0-1/2x",
        "bytes 0-1/2 3",
        "bytes a-b/c",
        "bytes 0-1/**",
        "",
        "bytes 0-99999999999999999999/5",
        "bytes 0-9223372036854775807/9",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(bad[i], &cr), SL_ERROR);
    }
}

static off_t start_of(const char *range, int if_range)
{
    sl_http_request_t r;
    sl_table_elt_t h, ir;

    memset(&r, 0, sizeof(r));
    if (range) {
        h.value.data = (u_char *) range;
        h.value.len = strlen(range);
        r.headers_in.range = &h;
    }
    if (if_range) {
        ir.value.data = (u_char *) "\"e\"";
        ir.value.len = 3;
        r.headers_in.if_range = &ir;
    }
    return client_start(&r);
}

static void test_client_start(void **state)
{
    (void) state;
    assert_int_equal(start_of("bytes=5-6", 0), 5);
    assert_int_equal(start_of("bytes=1000-", 0), 1000);
    assert_int_equal(start_of("BYTES=  7-9", 0), 7);
    /* the whole may be the answer, or the first byte is not known from the start */
    assert_int_equal(start_of("bytes=5-6", 1), 0);
    assert_int_equal(start_of("bytes=-3", 0), 0);
    assert_int_equal(start_of("bytes=3-3,4-4", 0), 0);
    assert_int_equal(start_of("items=5-6", 0), 0);
    assert_int_equal(start_of("bytes=", 0), 0);
    assert_int_equal(start_of("bytes=x", 0), 0);
    assert_int_equal(start_of("bytes=99999999999999999999-", 0), 0);
    assert_int_equal(start_of(NULL, 0), 0);
}

static void test_range_text(void **state)
{
    u_char buf[sizeof("bytes=-") + 2 * SL_INT64_LEN];
    slice_ctx_t ctx;

    (void) state;
    memset(&ctx, 0, sizeof(ctx));
    ctx.range.data = buf;
    set_range(&ctx, 0, 2);
    assert_int_equal(ctx.range.len, 9);
    assert_memory_equal(ctx.range.data, "bytes=0-1", 9);
    set_range(&ctx, 1048576, 1048576);
    assert_int_equal(ctx.range.len, strlen("bytes=1048576-2097151"));
    assert_memory_equal(ctx.range.data, "bytes=1048576-2097151", ctx.range.len);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_range),
        cmocka_unit_test(test_client_start),
        cmocka_unit_test(test_range_text),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
