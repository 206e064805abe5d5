/*
 * test_crc32.c: CRC-32 (IEEE 802.3) against known values, one-shot and incremental.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "sl_core.h"
#include "sl_crc32.h"

static uint32_t crc_of(const char *s)
{
    return sl_crc32((const u_char *) s, strlen(s));
}

static void test_known_values(void **state)
{
    (void) state;
    /* The check value of the CRC-32/ISO-HDLC catalogue entry. */
    assert_int_equal(crc_of("123456789"), 0xcbf43926);
    assert_int_equal(crc_of(""), 0x00000000);
    assert_int_equal(sl_crc32(NULL, 0), 0x00000000);
    assert_int_equal(crc_of("a"), 0xe8b7be43);
    assert_int_equal(crc_of("abc"), 0x352441c2);
    assert_int_equal(crc_of("The quick brown fox jumps over the lazy dog"), 0x414fa339);

    u_char zero = 0, ff = 0xff;
    assert_int_equal(sl_crc32(&zero, 1), 0xd202ef8d);
    assert_int_equal(sl_crc32(&ff, 1), 0xff000000);
}

static void test_incremental(void **state)
{
    const u_char *msg = (const u_char *) "The quick brown fox jumps over the lazy dog";
    size_t len = strlen((const char *) msg);

    (void) state;
    assert_int_equal(sl_crc32_init(), 0xffffffff);
    assert_int_equal(sl_crc32_final(sl_crc32_init()), 0);
    for (size_t split = 0; split <= len; split++) {
        uint32_t crc = sl_crc32_init();

        crc = sl_crc32_update(crc, msg, split);
        crc = sl_crc32_update(crc, msg + split, len - split);
        assert_int_equal(sl_crc32_final(crc), 0x414fa339);
    }
    /* Byte at a time. */
    uint32_t crc = sl_crc32_init();
    for (size_t i = 0; i < len; i++) {
        crc = sl_crc32_update(crc, msg + i, 1);
    }
    assert_int_equal(sl_crc32_final(crc), 0x414fa339);
}

/* Every table entry, checked against the bitwise definition. */
static void test_against_bitwise(void **state)
{
    u_char buf[512];

    (void) state;
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = (u_char) (i * 7 + 3);
    }
    for (size_t len = 0; len <= sizeof(buf); len += 37) {
        uint32_t c = 0xffffffff;

        for (size_t i = 0; i < len; i++) {
            c ^= buf[i];
            for (int k = 0; k < 8; k++) {
                c = (c & 1) ? (c >> 1) ^ 0xedb88320 : c >> 1;
            }
        }
        assert_int_equal(sl_crc32(buf, len), c ^ 0xffffffff);
    }
    for (unsigned b = 0; b < 256; b++) {
        u_char byte = (u_char) b;
        uint32_t c = 0xffffffff ^ b;

        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? (c >> 1) ^ 0xedb88320 : c >> 1;
        }
        assert_int_equal(sl_crc32(&byte, 1), c ^ 0xffffffff);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_values),
        cmocka_unit_test(test_incremental),
        cmocka_unit_test(test_against_bitwise),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
