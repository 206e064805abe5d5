/*
 * test_validate_host.c: sl_http_validate_host, the check and normal form of a Host header
 * (and of an absolute-form request's host): lowercased, port and one trailing dot dropped;
 * "..", '/', '\', controls, DEL, a '[' not first or left open are refused.
 *
 * A table of cases, then every string of up to four bytes over the bytes the rules single
 * out, against the rules written out one at a time (the reference below).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "sl_http_headers_in.h"
#include "sl_pool.h"

static sl_pool_t *pool;

static int setup(void **state)
{
    (void) state;
    pool = sl_pool_create(4096, NULL);
    return pool ? 0 : -1;
}

static int teardown(void **state)
{
    (void) state;
    sl_pool_destroy(pool);
    return 0;
}

/* "!" when refused, else the host it leaves. */
static void validate(const u_char *in, size_t len, int alloc, char *out, size_t out_size)
{
    sl_str_t h = { len, (u_char *) in };
    sl_int_t rc = sl_http_validate_host(&h, pool, alloc);

    if (rc == SL_DECLINED) {
        snprintf(out, out_size, "!");
        return;
    }
    assert_int_equal(rc, SL_OK);
    assert_true(h.len < out_size);
    memcpy(out, h.data, h.len);
    out[h.len] = '\0';
    if (alloc) {
        assert_ptr_not_equal(h.data, in); /* a copy was asked for */
    }
}

/* The rules, one byte at a time. */
static void reference(const u_char *h, size_t len, char *out)
{
    size_t dot = len, end = len;
    int open = 0;

    for (size_t i = 0; i < len; i++) {
        u_char c = h[i];
        if (c == '.' && dot == i - 1) {
            strcpy(out, "!");
            return;
        }
        if (c == '.') {
            dot = i;
        } else if (c == ':' && !open) {
            end = i;
            break;
        } else if (c == '[' && i != 0) {
            strcpy(out, "!");
            return;
        } else if (c == '[') {
            open = 1;
        } else if (c == ']') {
            open = 0;
        } else if (c == '/' || c == '\\' || c <= 0x20 || c == 0x7f) {
            strcpy(out, "!");
            return;
        }
    }
    if (end && dot == end - 1) {
        end--;
    }
    if (end == 0 || open) {
        strcpy(out, "!");
        return;
    }
    for (size_t i = 0; i < end; i++) {
        out[i] = (char) (h[i] >= 'A' && h[i] <= 'Z' ? h[i] | 0x20 : h[i]);
    }
    out[end] = '\0';
}

static void test_cases(void **state)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        { "a", "a" },
        { "Example.COM", "example.com" },
        { "example.com.", "example.com" },
        { "example.com.:8080", "example.com" },
        { "127.0.0.1:8080", "127.0.0.1" },
        { "a:b:c", "a" },
        { "a.b:x/y", "a.b" }, /* the port is not looked at */
        { "[::1]:80", "[::1]" },
        { "[A:B]", "[a:b]" },
        { "[a:b]:c", "[a:b]" },
        { ".a", ".a" },
        { "a..b", "!" },
        { "..", "!" },
        { ".", "!" },
        { "", "!" },
        { ":80", "!" },
        { "[::1", "!" },
        { "a[b]", "!" },
        { "a/b", "!" },
        { "a\\b", "!" },
        { "a\x01", "!" },
        { "a\x7f", "!" },
        /* a space is no part of a name (nginx 1.22 answers 400) */
        { "a b", "!" },
        { "\xc3\xa9.example", "\xc3\xa9.example" },
    };
    char out[64];

    (void) state;
    for (size_t i = 0; i < sl_nelems(cases); i++) {
        validate((const u_char *) cases[i].in, strlen(cases[i].in), 0, out, sizeof(out));
        if (strcmp(out, cases[i].want) != 0) {
            fail_msg("\"%s\": got \"%s\", want \"%s\"", cases[i].in, out, cases[i].want);
        }
    }
    validate((const u_char *) "ABC:1", 5, 1, out, sizeof(out));
    assert_string_equal(out, "abc");
    validate((const u_char *) "abc", 3, 1, out, sizeof(out));
    assert_string_equal(out, "abc");
}

static void test_all_short_strings(void **state)
{
    static const u_char alphabet[] = { 'a', 'Z',  '0',  '-',  '.',  ':',  '[',  ']',
                                       '/', '\\', 0x00, 0x1f, 0x20, 0x7f, 0x80, 0xff };
    const size_t k = sizeof(alphabet);
    u_char in[4];
    char got[8], want[8];

    (void) state;
    for (size_t len = 0; len <= 4; len++) {
        size_t total = 1;
        for (size_t i = 0; i < len; i++) {
            total *= k;
        }
        for (size_t n = 0; n < total; n++) {
            for (size_t i = 0, v = n; i < len; i++, v /= k) {
                in[i] = alphabet[v % k];
            }
            validate(in, len, 0, got, sizeof(got));
            reference(in, len, want);
            if (strcmp(got, want) != 0) {
                fail_msg("%zu bytes #%zu: got \"%s\", want \"%s\"", len, n, got, want);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_short_strings, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
