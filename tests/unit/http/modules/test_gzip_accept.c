/*
 * test_gzip_accept.c: whether an Accept-Encoding value accepts gzip
 * (sl_http_gzip_accept_encoding), read as nginx 1.22 reads it: the first "gzip" token that
 * starts the value or follows ',' or ' ' decides; a weight of 0 (to three decimals), a
 * malformed weight, another parameter or anything glued to the token refuses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sl_http_gzip.h"

/* The value in an allocation of exactly its size, so a read past the end is ASan's. */
static int accepts(const char *value)
{
    size_t len = strlen(value);
    u_char *copy = malloc(len ? len : 1);

    assert_non_null(copy);
    memcpy(copy, value, len);
    int rc = sl_http_gzip_accept_encoding(copy, len);
    free(copy);
    return rc;
}

static void test_plain_tokens(void **state)
{
    assert_true(accepts("gzip"));
    assert_true(accepts("GZIP"));
    assert_true(accepts("GzIp"));
    assert_true(accepts("gzip, deflate"));
    assert_true(accepts("gzip,deflate,sdch"));
    assert_true(accepts("deflate, gzip"));
    assert_true(accepts("deflate,gzip"));
    assert_true(accepts("br, gzip  "));
    assert_true(accepts("gzip ,br"));
    assert_false(accepts(""));
    assert_false(accepts("gzi"));
    assert_false(accepts("identity"));
    assert_false(accepts("deflate, br"));
    assert_false(accepts("*"));
}

static void test_token_boundaries(void **state)
{
    /* "x-gzip" is not gzip: '-' before the token */
    assert_false(accepts("x-gzip"));
    assert_false(accepts("xgzip"));
    /* something glued after the token refuses, even with a real gzip later (nginx) */
    assert_false(accepts("gzipx"));
    assert_false(accepts("gzipx, gzip"));
    assert_false(accepts("gzip-x"));
    assert_false(accepts("gzip\t"));
    /* the first token that starts right decides */
    assert_true(accepts("x-gzip, gzip"));
    assert_true(accepts("xgzip,gzip"));
    assert_false(accepts("x-gzip, gzip;q=0"));
    /* only ',' and ' ' count as separators before it */
    assert_false(accepts("deflate;gzip"));
    assert_false(accepts("\tgzip"));
}

static void test_weights(void **state)
{
    assert_true(accepts("gzip;q=1"));
    assert_true(accepts("gzip;q=1.0"));
    assert_true(accepts("gzip;q=1.000"));
    assert_true(accepts("gzip;q=0.5"));
    assert_true(accepts("gzip;q=0.001"));
    assert_true(accepts("gzip; q=0.8, deflate"));
    assert_true(accepts("gzip;Q=0.5"));
    assert_true(accepts("gzip ;  q=1"));
    assert_true(accepts("deflate;q=0, gzip"));
    assert_true(accepts("gzip;q=0.5 , br"));
    assert_false(accepts("gzip;q=0"));
    assert_false(accepts("gzip;q=0.0"));
    assert_false(accepts("gzip;q=0.000"));
    assert_false(accepts("gzip; q=0, deflate"));
    assert_false(accepts("gzip;q=0.0001"));
    assert_false(accepts("gzip;q=1.001"));
    assert_false(accepts("gzip;q=1.5"));
    assert_false(accepts("gzip;q=2"));
    assert_false(accepts("gzip;q=.5"));
    assert_false(accepts("gzip;q=0.a"));
    assert_false(accepts("gzip;q=01"));
    assert_false(accepts("gzip;q = 1"));
    assert_false(accepts("gzip;q="));
    assert_false(accepts("gzip;q"));
}

static void test_parameters(void **state)
{
    /* a ';' with nothing, or only spaces, after it still accepts */
    assert_true(accepts("gzip;"));
    assert_true(accepts("gzip;  "));
    assert_false(accepts("gzip;level=1"));
    assert_false(accepts("gzip;x;q=1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_tokens),
        cmocka_unit_test(test_token_boundaries),
        cmocka_unit_test(test_weights),
        cmocka_unit_test(test_parameters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
