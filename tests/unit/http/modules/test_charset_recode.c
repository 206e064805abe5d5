/*
 * test_charset_recode.c: charset_map recoding (sl_http_charset_recode.c): UTF-8 decoding,
 * byte tables, to and from utf-8 with '?' and "&#N;" for what a map lacks, sequences cut
 * at any byte between buffers, and output bounded by the room given.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "sl_http_charset.h"

/* A map koi8-r-like: 0xC1 is U+0430 (D0 B0), 0xE1 is U+0410 (D0 90). */
static u_char to_utf8[256][5];
static u_char ascii_page[256], page4[256];
static u_char *pages[256];

static int setup(void **state)
{
    for (int i = 0; i < 256; i++) {
        to_utf8[i][0] = 1;
        to_utf8[i][1] = i < 128 ? (u_char) i : '?';
        ascii_page[i] = i < 128 ? (u_char) i : 0;
    }
    memcpy(to_utf8[0xc1], "\x02\xd0\xb0", 3);
    memcpy(to_utf8[0xe1], "\x02\xd0\x90", 3);
    page4[0x30] = 0xc1;
    page4[0x10] = 0xe1;
    pages[0] = ascii_page;
    pages[4] = page4;
    return 0;
}

static void test_decode(void **state)
{
    const u_char *p;
    struct {
        const char *in;
        size_t n;
        uint32_t cp;
        size_t moved;
    } cases[] = {
        { "\xd0\xb0", 2, 0x430, 2 },
        { "\xe2\x82\xac", 3, 0x20ac, 3 },
        { "\xf0\x9f\x98\x80", 4, 0x1f600, 4 },
        { "\xd0", 1, SL_UTF8_INCOMPLETE, 0 },
        { "\xe2\x82", 2, SL_UTF8_INCOMPLETE, 0 },
        { "\xe2\x41", 2, SL_UTF8_INVALID, 1 },
        { "\xc0\x80", 2, SL_UTF8_INVALID, 1 },         /* overlong */
        { "\xed\xa0\x80", 3, SL_UTF8_INVALID, 1 },     /* surrogate */
        { "\xf5\x80\x80\x80", 4, SL_UTF8_INVALID, 1 }, /* past U+10FFFF */
        { "\x80", 1, SL_UTF8_INVALID, 1 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        p = (const u_char *) cases[i].in;
        assert_int_equal(sl_utf8_decode(&p, cases[i].n), cases[i].cp);
        assert_int_equal(p - (const u_char *) cases[i].in, cases[i].moved);
    }
}

static void test_bytes(void **state)
{
    u_char table[256], text[] = "XaXb";

    for (int i = 0; i < 256; i++) {
        table[i] = (u_char) i;
    }
    table['X'] = 'Y';
    assert_true(sl_charset_recode_bytes(table, text, 4));
    assert_string_equal((char *) text, "YaYb");
    assert_false(sl_charset_recode_bytes(table, text, 4));
}

static void test_to_utf8(void **state)
{
    u_char out[64] = { 0 }, *d = out;
    const u_char in[] = "a\xc1\xe1\xffz";

    assert_int_equal(sl_charset_to_utf8(to_utf8, in, 5, &d, out + sizeof(out)), 5);
    assert_int_equal(d - out, 7);
    assert_memory_equal(out, "a\xd0\xb0\xd0\x90?z", 7);

    /* room for one 2-byte character only (the check keeps 4 bytes free) */
    d = out;
    assert_int_equal(sl_charset_to_utf8(to_utf8, in + 1, 4, &d, out + 5), 1);
    assert_int_equal(d - out, 2);
}

/* Recodes text from utf-8 cut into pieces of `piece` bytes. */
static size_t from_utf8_pieces(const char *text, size_t piece, u_char *out, size_t room)
{
    sl_charset_utf8_state_t st = { { 0 }, 0 };
    size_t len = strlen(text), at = 0;
    u_char *d = out;

    while (at < len) {
        size_t n = len - at < piece ? len - at : piece;
        int last = at + n == len;
        size_t used =
            sl_charset_from_utf8(pages, &st, (const u_char *) text + at, n, last, &d, out + room);
        assert_int_equal(used, n);
        at += n;
    }
    return (size_t) (d - out);
}

static void test_from_utf8(void **state)
{
    /* mapped, an entity (U+20AC not in the map), an invalid byte, a cut sequence at the end */
    const char *text = "a\xd0\xb0\xe2\x82\xac\xd0\x90\xffz\xd0";
    const char *want = "a\xc1&#8364;\xe1?z?";
    u_char out[128] = { 0 };

    for (size_t piece = 1; piece <= strlen(text); piece++) {
        size_t n = from_utf8_pieces(text, piece, out, sizeof(out));
        assert_int_equal(n, strlen(want));
        assert_memory_equal(out, want, n);
    }
}

static void test_from_utf8_bounded(void **state)
{
    sl_charset_utf8_state_t st = { { 0 }, 0 };
    const u_char in[] = "\xe2\x82\xac\xe2\x82\xac";
    u_char out[64] = { 0 }, *d = out;

    /* room for one entity: one character used, the rest left for the next buffer */
    size_t used = sl_charset_from_utf8(pages, &st, in, 6, 1, &d, out + SL_CHARSET_ENTITY_LEN);
    assert_int_equal(used, 3);
    assert_memory_equal(out, "&#8364;", 7);
}

static void test_changes(void **state)
{
    sl_charset_recode_t from = { SL_CHARSET_FROM_UTF8, NULL, NULL, pages };
    sl_charset_recode_t to = { SL_CHARSET_TO_UTF8, NULL, to_utf8, NULL };

    assert_false(sl_charset_changes(&from, (const u_char *) "plain", 5));
    assert_true(sl_charset_changes(&from, (const u_char *) "\xd0\xb0", 2));
    assert_false(sl_charset_changes(&to, (const u_char *) "plain", 5));
    assert_true(sl_charset_changes(&to, (const u_char *) "\xc1", 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_to_utf8),
        cmocka_unit_test(test_from_utf8),
        cmocka_unit_test(test_from_utf8_bounded),
        cmocka_unit_test(test_changes),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
