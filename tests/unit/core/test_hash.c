/*
 * test_hash.c: the build-once exact table and SipHash-2-4.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "sl_core.h"
#include "sl_hash.h"
#include "sl_log.h"
#include "sl_pool.h"

static sl_log_t test_log = { .log_level = SL_LOG_ERR };

static int setup_pool(void **state)
{
    *state = sl_pool_create(SL_POOL_DEFAULT_SIZE, &test_log);
    return *state ? 0 : -1;
}

static int teardown_pool(void **state)
{
    sl_pool_destroy(*state);
    return 0;
}

#define KEY(s, v)                                                                                  \
    {                                                                                              \
        sl_string(s), (void *) (v)                                                                 \
    }

static void test_key_function(void **state)
{
    (void) state;
    /* nginx's hash: ((('a' * 31) + 'b') * 31) + 'c'. */
    assert_int_equal(sl_hash_key((const u_char *) "abc", 3), (97 * 31 + 98) * 31 + 99);
    assert_int_equal(sl_hash_key((const u_char *) "", 0), 0);
    assert_int_equal(sl_hash_key(NULL, 0), 0);
    assert_int_equal(sl_hash_key_lc((const u_char *) "HoSt", 4),
                     sl_hash_key((const u_char *) "host", 4));
    assert_int_not_equal(sl_hash_key((const u_char *) "HoSt", 4),
                         sl_hash_key((const u_char *) "host", 4));

    /* The incremental form a parser uses gives the same value. */
    sl_uint_t k = 0;
    for (const char *p = "content-length"; *p; p++) {
        k = sl_hash(k, (u_char) *p);
    }
    assert_int_equal(k, sl_hash_key((const u_char *) "content-length", 14));

    u_char low[16];
    assert_int_equal(sl_hash_strlow(low, (const u_char *) "X-Forwarded-For", 15),
                     sl_hash_key((const u_char *) "x-forwarded-for", 15));
    assert_memory_equal(low, "x-forwarded-for", 15);
}

static void test_exact(void **state)
{
    sl_pool_t *pool = *state;
    int one, two, three, empty;
    sl_hash_key_t keys[] = {
        KEY("Host", &one),
        KEY("host", &two),
        KEY("connection", &three),
        KEY("", &empty),
    };
    sl_hash_t h;

    assert_int_equal(sl_hash_build(&h, pool, keys, sl_nelems(keys), 0, NULL), SL_OK);
    assert_int_equal(h.nelts, 4);
    assert_false(h.lowcase);

    sl_str_t s = sl_string("Host");
    assert_ptr_equal(sl_hash_find_str(&h, &s), &one);
    sl_str_set(&s, "host");
    assert_ptr_equal(sl_hash_find_str(&h, &s), &two);
    sl_str_set(&s, "HOST");
    assert_null(sl_hash_find_str(&h, &s));
    sl_str_set(&s, "connection");
    assert_ptr_equal(sl_hash_find_str(&h, &s), &three);
    sl_str_set(&s, "connectio");
    assert_null(sl_hash_find_str(&h, &s));
    sl_str_set(&s, "connectionx");
    assert_null(sl_hash_find_str(&h, &s));
    sl_str_set(&s, "");
    assert_ptr_equal(sl_hash_find_str(&h, &s), &empty);

    /* A wrong key hash misses even when the bytes match. */
    assert_null(sl_hash_find(&h, sl_hash_key((const u_char *) "x", 1), (const u_char *) "host", 4));
    assert_ptr_equal(
        sl_hash_find(&h, sl_hash_key((const u_char *) "host", 4), (const u_char *) "host", 4),
        &two);
}

static void test_keys_are_copied(void **state)
{
    sl_pool_t *pool = *state;
    char name[] = "upstream_addr";
    sl_hash_key_t keys[] = { { { sizeof(name) - 1, (u_char *) name }, (void *) 1 } };
    sl_hash_t h;

    assert_int_equal(sl_hash_build(&h, pool, keys, 1, 0, NULL), SL_OK);
    name[0] = 'X';
    sl_str_t s = sl_string("upstream_addr");
    assert_ptr_equal(sl_hash_find_str(&h, &s), (void *) 1);
}

static void test_lowcase(void **state)
{
    sl_pool_t *pool = *state;
    int a, b;
    sl_hash_key_t keys[] = { KEY("Content-Length", &a), KEY("TRANSFER-encoding", &b) };
    sl_hash_t h;

    assert_int_equal(sl_hash_build(&h, pool, keys, 2, SL_HASH_LOWCASE, NULL), SL_OK);
    assert_true(h.lowcase);

    sl_str_t s = sl_string("content-length");
    assert_ptr_equal(sl_hash_find_str(&h, &s), &a);
    sl_str_set(&s, "CONTENT-LENGTH");
    assert_ptr_equal(sl_hash_find_str(&h, &s), &a);
    sl_str_set(&s, "Transfer-Encoding");
    assert_ptr_equal(sl_hash_find_str(&h, &s), &b);
    sl_str_set(&s, "Transfer-Encodin");
    assert_null(sl_hash_find_str(&h, &s));

    /* A parser hands over the lowercase hash and the name as it came. */
    assert_ptr_equal(sl_hash_find(&h, sl_hash_key_lc((const u_char *) "cOnTeNt-LeNgTh", 14),
                                  (const u_char *) "cOnTeNt-LeNgTh", 14),
                     &a);
    /* ... and the exact hash of a mixed-case name is not the lowercase one. */
    assert_null(sl_hash_find(&h, sl_hash_key((const u_char *) "Content-Length", 14),
                             (const u_char *) "Content-Length", 14));
}

static void test_duplicates(void **state)
{
    sl_pool_t *pool = *state;
    sl_hash_key_t keys[] = { KEY("a", 1), KEY("b", 2), KEY("c", 3), KEY("b", 4) };
    sl_hash_key_t ckeys[] = { KEY("Server", 1), KEY("Date", 2), KEY("server", 3) };
    sl_hash_t h;
    sl_uint_t dup = 99;

    assert_int_equal(sl_hash_build(&h, pool, keys, 4, 0, &dup), SL_BUSY);
    assert_int_equal(dup, 3);
    assert_int_equal(sl_hash_build(&h, pool, keys, 4, SL_HASH_LOWCASE, NULL), SL_BUSY);

    /* Different case is a different key, unless the table ignores case. */
    dup = 99;
    assert_int_equal(sl_hash_build(&h, pool, ckeys, 3, 0, &dup), SL_OK);
    assert_int_equal(dup, 99);
    assert_int_equal(sl_hash_build(&h, pool, ckeys, 3, SL_HASH_LOWCASE, &dup), SL_BUSY);
    assert_int_equal(dup, 2);
}

static void test_empty(void **state)
{
    sl_pool_t *pool = *state;
    sl_hash_t h;
    sl_str_t s = sl_string("anything");
    sl_str_t e = sl_null_string;

    assert_int_equal(sl_hash_build(&h, pool, NULL, 0, 0, NULL), SL_OK);
    assert_int_equal(h.nelts, 0);
    assert_null(sl_hash_find_str(&h, &s));
    assert_null(sl_hash_find_str(&h, &e));

    sl_hash_t zero = { 0 };
    assert_null(sl_hash_find_str(&zero, &s));
}

static void test_many_keys(void **state)
{
    sl_pool_t *pool = *state;
    enum { N = 5000 };
    sl_hash_key_t *keys = sl_palloc(pool, N * sizeof(sl_hash_key_t));
    char *names = sl_palloc(pool, N * 16);
    sl_hash_t h;

    assert_non_null(keys);
    assert_non_null(names);
    for (int i = 0; i < N; i++) {
        int len = snprintf(names + i * 16, 16, "Name-%d", i);
        keys[i].key.len = (size_t) len;
        keys[i].key.data = (u_char *) names + i * 16;
        keys[i].value = (void *) (uintptr_t) (i + 1);
    }
    assert_int_equal(sl_hash_build(&h, pool, keys, N, SL_HASH_LOWCASE, NULL), SL_OK);
    assert_int_equal(h.nelts, N);
    for (int i = 0; i < N; i++) {
        char buf[16];
        int len = snprintf(buf, sizeof(buf), "NAME-%d", i);
        sl_str_t s = { (size_t) len, (u_char *) buf };

        assert_int_equal((uintptr_t) sl_hash_find_str(&h, &s), i + 1);
        len = snprintf(buf, sizeof(buf), "name-%d", i + N);
        s.len = (size_t) len;
        assert_null(sl_hash_find_str(&h, &s));
    }
}

/*
 * The reference vectors: key 00 01 .. 0f, message i = the i bytes 00 01 .. (i-1), i = 0..63
 * (the first is the empty message).
 */
static const uint64_t sip_vectors[64] = {
    0x726fdb47dd0e0e31ULL, 0x74f839c593dc67fdULL, 0x0d6c8009d9a94f5aULL, 0x85676696d7fb7e2dULL,
    0xcf2794e0277187b7ULL, 0x18765564cd99a68dULL, 0xcbc9466e58fee3ceULL, 0xab0200f58b01d137ULL,
    0x93f5f5799a932462ULL, 0x9e0082df0ba9e4b0ULL, 0x7a5dbbc594ddb9f3ULL, 0xf4b32f46226bada7ULL,
    0x751e8fbc860ee5fbULL, 0x14ea5627c0843d90ULL, 0xf723ca908e7af2eeULL, 0xa129ca6149be45e5ULL,
    0x3f2acc7f57c29bdbULL, 0x699ae9f52cbe4794ULL, 0x4bc1b3f0968dd39cULL, 0xbb6dc91da77961bdULL,
    0xbed65cf21aa2ee98ULL, 0xd0f2cbb02e3b67c7ULL, 0x93536795e3a33e88ULL, 0xa80c038ccd5ccec8ULL,
    0xb8ad50c6f649af94ULL, 0xbce192de8a85b8eaULL, 0x17d835b85bbb15f3ULL, 0x2f2e6163076bcfadULL,
    0xde4daaaca71dc9a5ULL, 0xa6a2506687956571ULL, 0xad87a3535c49ef28ULL, 0x32d892fad841c342ULL,
    0x7127512f72f27cceULL, 0xa7f32346f95978e3ULL, 0x12e0b01abb051238ULL, 0x15e034d40fa197aeULL,
    0x314dffbe0815a3b4ULL, 0x027990f029623981ULL, 0xcadcd4e59ef40c4dULL, 0x9abfd8766a33735cULL,
    0x0e3ea96b5304a7d0ULL, 0xad0c42d6fc585992ULL, 0x187306c89bc215a9ULL, 0xd4a60abcf3792b95ULL,
    0xf935451de4f21df2ULL, 0xa9538f0419755787ULL, 0xdb9acddff56ca510ULL, 0xd06c98cd5c0975ebULL,
    0xe612a3cb9ecba951ULL, 0xc766e62cfcadaf96ULL, 0xee64435a9752fe72ULL, 0xa192d576b245165aULL,
    0x0a8787bf8ecb74b2ULL, 0x81b3e73d20b49b6fULL, 0x7fa8220ba3b2eceaULL, 0x245731c13ca42499ULL,
    0xb78dbfaf3a8d83bdULL, 0xea1ad565322a1a0bULL, 0x60e61c23a3795013ULL, 0x6606d7e446282b93ULL,
    0x6ca4ecb15c5f91e1ULL, 0x9f626da15c9625f3ULL, 0xe51b38608ef25f57ULL, 0x958a324ceb064572ULL,
};

static void test_siphash_vectors(void **state)
{
    u_char key[16], msg[64];

    (void) state;
    for (int i = 0; i < 16; i++) {
        key[i] = (u_char) i;
    }
    for (int i = 0; i < 64; i++) {
        msg[i] = (u_char) i;
    }
    for (size_t len = 0; len < 64; len++) {
        uint64_t got = sl_siphash24(key, msg, len);

        if (got != sip_vectors[len]) {
            fail_msg("siphash24 of %zu bytes: got %016llx, want %016llx", len,
                     (unsigned long long) got, (unsigned long long) sip_vectors[len]);
        }
    }
    assert_int_equal(sl_siphash24(key, NULL, 0), sip_vectors[0]);
}

static void test_siphash_unaligned_and_keyed(void **state)
{
    u_char key[16], other[16], buf[80];

    (void) state;
    for (int i = 0; i < 16; i++) {
        key[i] = (u_char) i;
        other[i] = (u_char) i;
    }
    other[15] ^= 1;
    /* Input at an odd address gives the same result. */
    for (int i = 0; i < 63; i++) {
        buf[i + 1] = (u_char) i;
    }
    assert_int_equal(sl_siphash24(key, buf + 1, 63), sip_vectors[63]);
    /* One key bit changes the result. */
    assert_int_not_equal(sl_siphash24(other, buf + 1, 63), sip_vectors[63]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_function),
        cmocka_unit_test_setup_teardown(test_exact, setup_pool, teardown_pool),
        cmocka_unit_test_setup_teardown(test_keys_are_copied, setup_pool, teardown_pool),
        cmocka_unit_test_setup_teardown(test_lowcase, setup_pool, teardown_pool),
        cmocka_unit_test_setup_teardown(test_duplicates, setup_pool, teardown_pool),
        cmocka_unit_test_setup_teardown(test_empty, setup_pool, teardown_pool),
        cmocka_unit_test_setup_teardown(test_many_keys, setup_pool, teardown_pool),
        cmocka_unit_test(test_siphash_vectors),
        cmocka_unit_test(test_siphash_unaligned_and_keyed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
