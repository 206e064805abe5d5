/*
 * test_gzip_member.c: sl_http_gzip_member() makes one complete gzip member (what
 * "access_log ... gzip" writes): zlib's gzip reader gets the same bytes back, for empty,
 * small and large inputs at every level, and two members in a row read as one stream.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zlib.h>

#include "sl_http_gzip.h"
#include "sl_pool.h"
#include "sl_test_log.h"

static sl_log_t test_log;
static sl_open_file_t test_log_file;

static sl_log_t *sl_test_log(void)
{
    if (test_log.file == NULL) {
        sl_test_log_open(&test_log, &test_log_file, SL_LOG_INFO);
    }
    return &test_log;
}

/* Inflates every gzip member of in; the bytes in out (malloc), their count returned. */
static size_t gunzip_all(const sl_str_t *in, u_char **out, size_t cap)
{
    z_stream zs;
    size_t used = 0, done = 0;

    *out = malloc(cap ? cap : 1);
    assert_non_null(*out);
    while (used < in->len) {
        memset(&zs, 0, sizeof(zs));
        assert_int_equal(inflateInit2(&zs, 16 + MAX_WBITS), Z_OK);
        zs.next_in = in->data + used;
        zs.avail_in = (uInt) (in->len - used);
        zs.next_out = *out + done;
        zs.avail_out = (uInt) (cap - done);
        assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
        used = in->len - zs.avail_in;
        done = cap - zs.avail_out;
        inflateEnd(&zs);
    }
    return done;
}

static void round_trip(sl_pool_t *pool, int level, const u_char *data, size_t len)
{
    sl_str_t gz;
    u_char *back;

    assert_int_equal(sl_http_gzip_member(pool, level, data, len, &gz, sl_test_log()), SL_OK);
    assert_true(gz.len >= 18);
    assert_int_equal(gz.data[0], 0x1f);
    assert_int_equal(gz.data[1], 0x8b);
    assert_int_equal(gunzip_all(&gz, &back, len), len);
    assert_memory_equal(back, data, len);
    free(back);
}

static void test_round_trips(void **state)
{
    sl_pool_t *pool = sl_pool_create(4096, sl_test_log());
    size_t big = 1 << 20;
    u_char *noise = malloc(big);
    uint32_t x = 1;

    assert_non_null(pool);
    assert_non_null(noise);
    for (size_t i = 0; i < big; i++) {
        x = x * 1103515245 + 12345;
        noise[i] = (u_char) (x >> 16);
    }
    for (int level = 1; level <= 9; level++) {
        round_trip(pool, level, (const u_char *) "", 0);
        round_trip(pool, level, (const u_char *) "/uri:200\n", 9);
        round_trip(pool, level, noise, big);
    }
    free(noise);
    sl_pool_destroy(pool);
}

static void test_members_concatenate(void **state)
{
    sl_pool_t *pool = sl_pool_create(4096, sl_test_log());
    sl_str_t a, b, both;
    u_char *back;

    assert_int_equal(sl_http_gzip_member(pool, 1, (u_char *) "one\n", 4, &a, sl_test_log()), SL_OK);
    assert_int_equal(sl_http_gzip_member(pool, 9, (u_char *) "two\n", 4, &b, sl_test_log()), SL_OK);
    both.len = a.len + b.len;
    both.data = sl_pnalloc(pool, both.len);
    memcpy(both.data, a.data, a.len);
    memcpy(both.data + a.len, b.data, b.len);
    assert_int_equal(gunzip_all(&both, &back, 8), 8);
    assert_memory_equal(back, "one\ntwo\n", 8);
    free(back);
    sl_pool_destroy(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_members_concatenate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
