/*
 * test_upstream_header_kind.c: the classification of upstream response header names
 * (sl_upstream_header_kind), which decides what is hidden, what frames the body and which
 * X-Accel-* header steers the response.  A wrong answer would pass a hop-by-hop header on
 * or hide one that should go through, so every name is tried in several cases, and so are
 * near misses: one byte changed at each position, '_' for '-', the bytes next to 'A'..'Z'
 * and 'a'..'z' in ASCII, bytes with the high bit set, and names one byte short or long.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <string.h>

#include "sl_http.h"
#include "sl_upstream.h"

static const struct {
    const char *name;
    sl_uint_t kind;
} known[] = {
    { "connection", SL_UPSTREAM_H_CONNECTION },
    { "keep-alive", SL_UPSTREAM_H_KEEP_ALIVE },
    { "transfer-encoding", SL_UPSTREAM_H_TRANSFER_ENCODING },
    { "content-length", SL_UPSTREAM_H_CONTENT_LENGTH },
    { "content-type", SL_UPSTREAM_H_CONTENT_TYPE },
    { "location", SL_UPSTREAM_H_LOCATION },
    { "refresh", SL_UPSTREAM_H_REFRESH },
    { "set-cookie", SL_UPSTREAM_H_SET_COOKIE },
    { "date", SL_UPSTREAM_H_DATE },
    { "server", SL_UPSTREAM_H_SERVER },
    { "x-pad", SL_UPSTREAM_H_X_PAD },
    { "expires", SL_UPSTREAM_H_EXPIRES },
    { "cache-control", SL_UPSTREAM_H_CACHE_CONTROL },
    { "last-modified", SL_UPSTREAM_H_LAST_MODIFIED },
    { "www-authenticate", SL_UPSTREAM_H_WWW_AUTHENTICATE },
    { "x-accel-expires", SL_UPSTREAM_H_XA_EXPIRES },
    { "x-accel-redirect", SL_UPSTREAM_H_XA_REDIRECT },
    { "x-accel-limit-rate", SL_UPSTREAM_H_XA_LIMIT_RATE },
    { "x-accel-buffering", SL_UPSTREAM_H_XA_BUFFERING },
    { "x-accel-charset", SL_UPSTREAM_H_XA_CHARSET },
    { "etag", SL_UPSTREAM_H_ETAG },
};

static sl_uint_t kind_of(const u_char *bytes, size_t len)
{
    /* a copy of exactly len bytes: a read past the name shows under the sanitizers */
    u_char *copy = malloc(len ? len : 1);
    memcpy(copy, bytes, len);
    sl_str_t name = { len, copy };
    sl_uint_t kind = sl_upstream_header_kind(&name);
    free(copy);
    return kind;
}

static void test_known_names_in_any_case(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        size_t n = strlen(known[i].name);
        u_char buf[32];

        memcpy(buf, known[i].name, n);
        assert_int_equal(kind_of(buf, n), known[i].kind);
        for (size_t k = 0; k < n; k++) {
            buf[k] = (u_char) toupper(buf[k]);
        }
        assert_int_equal(kind_of(buf, n), known[i].kind);
        for (size_t k = 0; k < n; k += 2) {
            buf[k] = (u_char) tolower(buf[k]); /* mixed: "XoNnEcTiOn" */
        }
        assert_int_equal(kind_of(buf, n), known[i].kind);
    }
}

/* Every byte value at every position except the two cases of the right letter (or the
 * right byte itself): never the same kind. */
static void test_one_byte_off_is_other(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        size_t n = strlen(known[i].name);
        u_char buf[32];

        for (size_t pos = 0; pos < n; pos++) {
            for (unsigned c = 0; c < 256; c++) {
                u_char want = (u_char) known[i].name[pos];
                if (c == want || (isalpha(want) && c == (unsigned) toupper(want))) {
                    continue;
                }
                memcpy(buf, known[i].name, n);
                buf[pos] = (u_char) c;
                assert_int_not_equal(kind_of(buf, n), known[i].kind);
            }
        }
    }
}

static void test_lengths_and_near_misses(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        size_t n = strlen(known[i].name);
        u_char buf[40];

        memcpy(buf, known[i].name, n);
        buf[n] = 's';
        assert_int_equal(kind_of(buf, n + 1), SL_UPSTREAM_H_OTHER);
        assert_int_not_equal(kind_of(buf, n - 1), known[i].kind);
    }
    assert_int_equal(kind_of((const u_char *) "x_accel_redirect", 16), SL_UPSTREAM_H_OTHER);
    assert_int_equal(kind_of((const u_char *) "content_length", 14), SL_UPSTREAM_H_OTHER);
    assert_int_equal(kind_of((const u_char *) "x-powered-by", 12), SL_UPSTREAM_H_OTHER);
    assert_int_equal(kind_of((const u_char *) "", 0), SL_UPSTREAM_H_OTHER);
    assert_int_equal(kind_of((const u_char *) "d", 1), SL_UPSTREAM_H_OTHER);
    /* '@' and '[' sit next to 'A' and 'Z'; '`' and '{' next to 'a' and 'z' */
    assert_int_equal(kind_of((const u_char *) "@ate", 4), SL_UPSTREAM_H_OTHER);
    assert_int_equal(kind_of((const u_char *) "dat[", 4), SL_UPSTREAM_H_OTHER);
    assert_int_equal(kind_of((const u_char *) "`ate", 4), SL_UPSTREAM_H_OTHER);
    assert_int_equal(kind_of((const u_char *) "x-accel-expire{", 15), SL_UPSTREAM_H_OTHER);
    /* a byte with the high bit whose low bits spell the letter */
    assert_int_equal(kind_of((const u_char *) "\xc4"
                                              "ate",
                             4),
                     SL_UPSTREAM_H_OTHER);
    assert_int_equal(kind_of((const u_char *) "content-typ\xe5", 12), SL_UPSTREAM_H_OTHER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_names_in_any_case),
        cmocka_unit_test(test_one_byte_off_is_other),
        cmocka_unit_test(test_lengths_and_near_misses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
