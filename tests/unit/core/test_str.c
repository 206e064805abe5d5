/*
 * test_str.c: strings, comparisons, and nginx's number, size and time syntax.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "sl_core.h"
#include "sl_log.h"
#include "sl_pool.h"
#include "sl_str.h"

static sl_log_t test_log = { .log_level = SL_LOG_ERR };

static sl_str_t S(const char *s)
{
    sl_str_t str = { strlen(s), (u_char *) s };

    return str;
}

static sl_int_t atoi_c(const char *s)
{
    return sl_atoi((const u_char *) s, strlen(s));
}

static sl_int_t hextoi_c(const char *s)
{
    return sl_hextoi((const u_char *) s, strlen(s));
}

static ssize_t size_c(const char *s)
{
    sl_str_t str = S(s);

    return sl_parse_size(&str);
}

static off_t offset_c(const char *s)
{
    sl_str_t str = S(s);

    return sl_parse_offset(&str);
}

static sl_int_t ms(const char *s)
{
    sl_str_t str = S(s);

    return sl_parse_time(&str, 0);
}

static sl_int_t sec(const char *s)
{
    sl_str_t str = S(s);

    return sl_parse_time(&str, 1);
}

static void test_compare(void **state)
{
    (void) state;
    sl_str_t a = sl_string("Content-Type"), b = sl_string("content-type");
    sl_str_t c = sl_string("Content-Typ"), e1 = sl_null_string, e2 = sl_string("");

    assert_false(sl_str_eq(&a, &b));
    assert_true(sl_str_eq(&a, &a));
    assert_true(sl_str_caseeq(&a, &b));
    assert_false(sl_str_caseeq(&a, &c));
    assert_false(sl_str_eq(&a, &c));
    assert_true(sl_str_eq(&e1, &e2));
    assert_true(sl_str_caseeq(&e1, &e2));

    assert_true(sl_str_eq_cstr(&a, "Content-Type"));
    assert_false(sl_str_eq_cstr(&a, "content-type"));
    assert_false(sl_str_eq_cstr(&a, "Content-Type2"));
    assert_false(sl_str_eq_cstr(&a, "Content-Typ"));
    assert_true(sl_str_eq_cstr(&e1, ""));

    assert_int_equal(sl_strncasecmp((const u_char *) "ABC", (const u_char *) "abc", 3), 0);
    assert_true(sl_strncasecmp((const u_char *) "abc", (const u_char *) "abd", 3) < 0);
    assert_true(sl_strncasecmp((const u_char *) "ABD", (const u_char *) "abc", 3) > 0);
    /* Only n bytes count. */
    assert_int_equal(sl_strncasecmp((const u_char *) "abX", (const u_char *) "ABy", 2), 0);
    /* Only ASCII letters fold: '[' (0x5b) is not '{' (0x7b), 0xC0 is not 0xE0. */
    assert_int_not_equal(sl_strncasecmp((const u_char *) "[", (const u_char *) "{", 1), 0);
    assert_int_not_equal(sl_strncasecmp((const u_char *) "\xc0", (const u_char *) "\xe0", 1), 0);
    assert_int_equal(sl_tolower('@'), '@');
    assert_int_equal(sl_tolower('Z'), 'z');
    assert_int_equal(sl_toupper('z'), 'Z');
    assert_int_equal(sl_toupper('{'), '{');

    u_char low[16];
    sl_strlow(low, (const u_char *) "X-Real-IP 09[]", 14);
    assert_memory_equal(low, "x-real-ip 09[]", 14);
}

static void test_str_macros(void **state)
{
    (void) state;
    sl_str_t s = sl_string("abc");
    sl_str_t n = sl_null_string;

    assert_int_equal(s.len, 3);
    assert_memory_equal(s.data, "abc", 3);
    assert_int_equal(n.len, 0);
    assert_null(n.data);
    sl_str_set(&n, "hello");
    assert_int_equal(n.len, 5);
    assert_memory_equal(n.data, "hello", 5);
}

static void test_pstrdup(void **state)
{
    (void) state;
    sl_pool_t *pool = sl_pool_create(1024, &test_log);
    char src[] = "upstream";
    sl_str_t s = { 5, (u_char *) src };

    u_char *d = sl_pstrdup(pool, &s);
    assert_non_null(d);
    assert_ptr_not_equal(d, s.data);
    assert_string_equal((char *) d, "upstr");
    src[0] = 'X';
    assert_int_equal(d[0], 'u');

    sl_str_t e = sl_null_string;
    d = sl_pstrdup(pool, &e);
    assert_non_null(d);
    assert_int_equal(d[0], '\0');
    sl_pool_destroy(pool);
}

/* digits inside a header value: "bytes 0-99/1000" is read number by number */
static void test_scan_off(void **state)
{
    const u_char *v = (const u_char *) "123-99999999999999999999 x";
    const u_char *end = v + strlen((const char *) v);
    off_t n = -1;
    (void) state;

    const u_char *p = sl_scan_off(v, end, &n);
    assert_non_null(p);
    assert_int_equal(n, 123);
    assert_int_equal(*p, '-');
    /* no digit, and a value past off_t */
    assert_null(sl_scan_off(p, end, &n));
    assert_null(sl_scan_off(p + 1, end, &n));
    /* the end bounds it */
    assert_non_null(sl_scan_off(v, v + 2, &n));
    assert_int_equal(n, 12);
    assert_null(sl_scan_off(v, v, &n));
    const u_char *sp = (const u_char *) "   7";
    assert_ptr_equal(sl_skip_spaces(sp, sp + 4), sp + 3);
    assert_ptr_equal(sl_skip_spaces(sp, sp + 2), sp + 2);
}

static void test_atoi(void **state)
{
    (void) state;
    assert_int_equal(atoi_c("0"), 0);
    assert_int_equal(atoi_c("8080"), 8080);
    assert_int_equal(atoi_c("007"), 7);
    assert_int_equal(atoi_c(""), SL_ERROR);
    assert_int_equal(atoi_c("-1"), SL_ERROR);
    assert_int_equal(atoi_c("+1"), SL_ERROR);
    assert_int_equal(atoi_c(" 1"), SL_ERROR);
    assert_int_equal(atoi_c("1 "), SL_ERROR);
    assert_int_equal(atoi_c("12a"), SL_ERROR);
    assert_int_equal(sl_atoi((const u_char *) "123456", 3), 123);

    /* The largest value, and one past it. */
    assert_int_equal(atoi_c("9223372036854775807"), INTPTR_MAX);
    assert_int_equal(atoi_c("9223372036854775808"), SL_ERROR);
    assert_int_equal(atoi_c("9223372036854775810"), SL_ERROR);
    assert_int_equal(atoi_c("18446744073709551616"), SL_ERROR);
    assert_int_equal(atoi_c("99999999999999999999999999"), SL_ERROR);

    assert_int_equal(sl_atoof((const u_char *) "9223372036854775807", 19), INT64_MAX);
    assert_int_equal(sl_atoof((const u_char *) "9223372036854775808", 19), SL_ERROR);
    assert_int_equal(sl_atoof((const u_char *) "", 0), SL_ERROR);
    assert_int_equal(sl_atoof((const u_char *) "1x", 2), SL_ERROR);
}

static void test_hextoi(void **state)
{
    (void) state;
    assert_int_equal(hextoi_c("0"), 0);
    assert_int_equal(hextoi_c("ff"), 255);
    assert_int_equal(hextoi_c("FF"), 255);
    assert_int_equal(hextoi_c("1aB"), 0x1ab);
    assert_int_equal(hextoi_c("000000000000000000010"), 16);
    assert_int_equal(hextoi_c("7fffffffffffffff"), INTPTR_MAX);
    assert_int_equal(hextoi_c("8000000000000000"), SL_ERROR);
    assert_int_equal(hextoi_c("fffffffffffffffff"), SL_ERROR);
    assert_int_equal(hextoi_c(""), SL_ERROR);
    assert_int_equal(hextoi_c("g"), SL_ERROR);
    assert_int_equal(hextoi_c("0x10"), SL_ERROR);
    assert_int_equal(hextoi_c("1 "), SL_ERROR);
    assert_int_equal(hextoi_c("-1"), SL_ERROR);
    /* Bytes that fold onto hex letters with | 0x20 are not hex. */
    assert_int_equal(hextoi_c("A@"), SL_ERROR);
    assert_int_equal(hextoi_c("\x01"), SL_ERROR);
}

static void test_parse_size(void **state)
{
    (void) state;
    assert_int_equal(size_c("0"), 0);
    assert_int_equal(size_c("4096"), 4096);
    assert_int_equal(size_c("8k"), 8192);
    assert_int_equal(size_c("8K"), 8192);
    assert_int_equal(size_c("1m"), 1048576);
    assert_int_equal(size_c("16M"), 16777216);
    /* nginx's size parser has no "g". */
    assert_int_equal(size_c("1g"), SL_ERROR);
    assert_int_equal(size_c("1G"), SL_ERROR);
    assert_int_equal(size_c(""), SL_ERROR);
    assert_int_equal(size_c("k"), SL_ERROR);
    assert_int_equal(size_c("1kb"), SL_ERROR);
    assert_int_equal(size_c("1 k"), SL_ERROR);
    assert_int_equal(size_c("1.5k"), SL_ERROR);
    assert_int_equal(size_c("-1"), SL_ERROR);
    assert_int_equal(size_c("1t"), SL_ERROR);
    assert_int_equal(size_c("k8"), SL_ERROR);
    /* Overflow: the value times the unit must fit ssize_t. */
    assert_int_equal(size_c("9007199254740991k"), 9007199254740991LL * 1024);
    assert_int_equal(size_c("9007199254740992k"), SL_ERROR);
    assert_int_equal(size_c("8796093022207m"), 8796093022207LL * 1048576);
    assert_int_equal(size_c("8796093022208m"), SL_ERROR);
    assert_int_equal(size_c("9223372036854775807"), INT64_MAX);
    assert_int_equal(size_c("9223372036854775808"), SL_ERROR);
}

static void test_parse_offset(void **state)
{
    (void) state;
    assert_int_equal(offset_c("0"), 0);
    assert_int_equal(offset_c("1024"), 1024);
    assert_int_equal(offset_c("10k"), 10240);
    assert_int_equal(offset_c("1m"), 1048576);
    assert_int_equal(offset_c("1g"), 1073741824LL);
    assert_int_equal(offset_c("1024G"), 1099511627776LL);
    assert_int_equal(offset_c("8589934591g"), 8589934591LL * 1073741824LL);
    assert_int_equal(offset_c("8589934592g"), SL_ERROR);
    assert_int_equal(offset_c(""), SL_ERROR);
    assert_int_equal(offset_c("g"), SL_ERROR);
    assert_int_equal(offset_c("1x"), SL_ERROR);
    assert_int_equal(offset_c("1gb"), SL_ERROR);
}

static void test_parse_time_values(void **state)
{
    (void) state;
    assert_int_equal(ms("30s"), 30000);
    assert_int_equal(sec("30s"), 30);
    assert_int_equal(ms("500ms"), 500);
    assert_int_equal(ms("0"), 0);
    assert_int_equal(ms("0s"), 0);
    /* A bare number is seconds, for millisecond directives too. */
    assert_int_equal(ms("90"), 90000);
    assert_int_equal(sec("90"), 90);
    assert_int_equal(ms("1m"), 60000);
    assert_int_equal(ms("1h"), 3600000);
    assert_int_equal(ms("1h 30m"), 5400000);
    assert_int_equal(sec("1h 30m"), 5400);
    assert_int_equal(ms("1h30m"), 5400000);
    assert_int_equal(ms("1h  30m 15s 250ms"), 5415250);
    assert_int_equal(ms("1m 30"), 90000);
    assert_int_equal(ms("1d"), 86400000);
    assert_int_equal(sec("1d"), 86400);
    assert_int_equal(ms("1w"), 604800000);
    assert_int_equal(sec("1w"), 604800);
    assert_int_equal(sec("1M"), 30 * 86400);
    assert_int_equal(sec("1y"), 365 * 86400);
    assert_int_equal(sec("1y 1M 1w 1d 1h 1m 1s"),
                     365 * 86400 + 30 * 86400 + 7 * 86400 + 86400 + 3600 + 60 + 1);
    assert_int_equal(ms("1w 1d 1h 1m 1s 1ms"), 7 * 86400000 + 86400000 + 3600000 + 60000 + 1001);
}

static void test_parse_time_rejects(void **state)
{
    (void) state;
    const char *bad_both[] = {
        "",      "s",     "ms",    "1x",    "1S",       "1H",      "x1",   "-1s", "1.5s", "30m 1h",
        "1s 1s", "1m 1m", "1h 1d", "1s 1m", "500ms 1s", "1ms 1ms", " 30s", "1 s", "1\ts", "30s,",
    };

    for (size_t i = 0; i < sl_nelems(bad_both); i++) {
        if (ms(bad_both[i]) != SL_ERROR || sec(bad_both[i]) != SL_ERROR) {
            fail_msg("\"%s\" accepted: ms %ld, sec %ld", bad_both[i], (long) ms(bad_both[i]),
                     (long) sec(bad_both[i]));
        }
    }
    /* No milliseconds in second directives. */
    assert_int_equal(sec("500ms"), SL_ERROR);
    assert_int_equal(sec("1s 500ms"), SL_ERROR);
    /* No months or years in millisecond directives (nginx). */
    assert_int_equal(ms("1M"), SL_ERROR);
    assert_int_equal(ms("1y"), SL_ERROR);
}

static void test_parse_time_overflow(void **state)
{
    (void) state;
    assert_int_equal(ms("99999999999999999999"), SL_ERROR);
    assert_int_equal(sec("99999999999999999999"), SL_ERROR);
    assert_int_equal(ms("9999999999999999999s"), SL_ERROR);
    assert_int_equal(sec("9999999999999999999y"), SL_ERROR);
    assert_int_equal(ms("99999999999999999999ms"), SL_ERROR);
}

static void test_parse_time_nginx_range(void **state)
{
    (void) state;
    /* nginx 1.22 accepts every value that fits a signed 64-bit integer. */
    assert_int_equal(ms("2147483648ms"), 2147483648LL);
    assert_int_equal(ms("25d"), 25LL * 86400000);
    assert_int_equal(ms("4w"), 4LL * 604800000);
    assert_int_equal(ms("9223372036854775807ms"), INT64_MAX);
    assert_int_equal(ms("9223372036854775808ms"), SL_ERROR);
    assert_int_equal(ms("9223372036854775s"), 9223372036854775000LL);
    assert_int_equal(ms("9223372036854776s"), SL_ERROR);
    assert_int_equal(sec("69y"), 69LL * 365 * 86400);
    assert_int_equal(sec("9223372036854775807"), INT64_MAX);
    assert_int_equal(sec("9223372036854775808"), SL_ERROR);
}

static void test_escape_uri(void **state)
{
    (void) state;
    /* the bytes nginx 1.22 escapes in a rewritten uri, and some it leaves alone */
    const char *src = "/a b\"#%<>?\\^`{|}\x01\x7f\xe9/~!$&'()*+,;=:@[]_-.";
    const char *want = "/a%20b%22%23%25%3C%3E%3F%5C%5E%60%7B%7C%7D%01%7F%E9/~!$&'()*+,;=:@[]_-.";
    u_char out[256];
    size_t n = strlen(src);

    assert_int_equal(sl_escape_uri_len((const u_char *) src, n), strlen(want));
    u_char *end = sl_escape_uri(out, (const u_char *) src, n);
    assert_int_equal((size_t) (end - out), strlen(want));
    assert_memory_equal(out, want, strlen(want));
    assert_int_equal(sl_escape_uri_len((const u_char *) "", 0), 0);
}

/* Every pair of bytes: equal ignoring case exactly when their ASCII lowercase is equal. */
static void test_strncasecmp_all_bytes(void **state)
{
    (void) state;
    for (unsigned a = 0; a < 256; a++) {
        for (unsigned b = 0; b < 256; b++) {
            u_char ca = (u_char) a, cb = (u_char) b;
            int want = sl_tolower(ca) == sl_tolower(cb);
            assert_int_equal(sl_strncasecmp(&ca, &cb, 1) == 0, want);
        }
    }
    assert_int_equal(sl_strncasecmp((u_char *) "Content-Type", (u_char *) "content-typE", 12), 0);
    assert_true(sl_strncasecmp((u_char *) "abc", (u_char *) "abd", 3) < 0);
    assert_true(sl_strncasecmp((u_char *) "B", (u_char *) "a", 1) > 0);
}

static void test_has_casestr(void **state)
{
    (void) state;
    sl_str_t v = sl_string("keep-alive, Close");
    sl_str_t empty = sl_null_string;

    assert_true(sl_str_has_casestr(&v, "close"));
    assert_true(sl_str_has_casestr(&v, "KEEP-ALIVE"));
    assert_true(sl_str_has_casestr(&v, ""));
    assert_false(sl_str_has_casestr(&v, "upgrade"));
    assert_false(sl_str_has_casestr(&v, "closed")); /* no reading past the end */
    assert_false(sl_str_has_casestr(&empty, "close"));
    v.len = 16; /* "keep-alive, Clos": the match must lie within len */
    assert_false(sl_str_has_casestr(&v, "close"));
}

static int sign(int v)
{
    return (v > 0) - (v < 0);
}

/* Strings of 0-40 bytes that differ (or not) in one place by every byte value, against a
 * byte-by-byte reference: the words compared eight at a time give the same answers. */
static void test_strncasecmp_words(void **state)
{
    (void) state;
    u_char a[48], b[48];
    unsigned seed = 1;

    for (size_t n = 0; n <= 40; n++) {
        for (size_t at = 0; at < n; at++) {
            for (unsigned v = 0; v < 256; v++) {
                for (size_t i = 0; i < n; i++) {
                    seed = seed * 1103515245 + 12345;
                    a[i] = (u_char) "aZ-09_:xQ"[(seed >> 16) % 9];
                    b[i] = (seed >> 8) & 1 ? sl_toupper(a[i]) : sl_tolower(a[i]);
                }
                b[at] = (u_char) v;
                int want = 0;
                for (size_t i = 0; i < n && want == 0; i++) {
                    want = sl_tolower(a[i]) - sl_tolower(b[i]);
                }
                assert_int_equal(sign(sl_strncasecmp(a, b, n)), sign(want));
            }
        }
    }
}

static void test_sprint_numbers(void **state)
{
    (void) state;
    static const struct {
        int64_t v;
        const char *dec;
        const char *hex;
    } cases[] = {
        { 0, "0", "0" },
        { 9, "9", "9" },
        { 10, "10", "a" },
        { 64, "64", "40" },
        { 4096, "4096", "1000" },
        { 1234567890123LL, "1234567890123", "11f71fb04cb" },
        { INT64_MAX, "9223372036854775807", "7fffffffffffffff" },
    };
    u_char buf[SL_INT64_LEN + 1];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        u_char *end = sl_sprint_int(buf, cases[i].v);
        assert_int_equal(end - buf, strlen(cases[i].dec));
        assert_memory_equal(buf, cases[i].dec, strlen(cases[i].dec));
        end = sl_sprint_hex(buf, (uint64_t) cases[i].v);
        assert_int_equal(end - buf, strlen(cases[i].hex));
        assert_memory_equal(buf, cases[i].hex, strlen(cases[i].hex));
    }
    u_char *end = sl_sprint_int(buf, INT64_MIN);
    assert_int_equal(end - buf, SL_INT64_LEN);
    assert_memory_equal(buf, "-9223372036854775808", SL_INT64_LEN);
    end = sl_sprint_int(buf, -1);
    assert_memory_equal(buf, "-1", 2);
    assert_int_equal(end - buf, 2);
    end = sl_sprint_uint(buf, UINT64_MAX);
    assert_memory_equal(buf, "18446744073709551615", 20);
    assert_int_equal(end - buf, 20);
    end = sl_sprint_hex(buf, UINT64_MAX);
    assert_memory_equal(buf, "ffffffffffffffff", 16);
    assert_int_equal(end - buf, 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compare),
        cmocka_unit_test(test_has_casestr),
        cmocka_unit_test(test_str_macros),
        cmocka_unit_test(test_pstrdup),
        cmocka_unit_test(test_atoi),
        cmocka_unit_test(test_scan_off),
        cmocka_unit_test(test_hextoi),
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_parse_offset),
        cmocka_unit_test(test_parse_time_values),
        cmocka_unit_test(test_parse_time_rejects),
        cmocka_unit_test(test_parse_time_overflow),
        cmocka_unit_test(test_parse_time_nginx_range),
        cmocka_unit_test(test_escape_uri),
        cmocka_unit_test(test_strncasecmp_all_bytes),
        cmocka_unit_test(test_strncasecmp_words),
        cmocka_unit_test(test_sprint_numbers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
