/*
 * test_realip.c: the walk over forwarding header lines (sl_http_forwarded_addr) that
 * real_ip_header and real_ip_recursive drive.
 *
 * Each expected address is what Debian's nginx 1.22 made $remote_addr (and $remote_port)
 * for a peer at 127.0.0.1 with the same header lines and "set_real_ip_from 127.0.0.0/24;
 * set_real_ip_from 10.0.0.0/8; set_real_ip_from 2001:db8::/32;".
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include <arpa/inet.h>

#include "sl_http_realip.h"

static sl_cidr_t proxies[3];

static int setup(void **state)
{
    const char *nets[] = { "127.0.0.0/24", "10.0.0.0/8", "2001:db8::/32" };

    for (size_t i = 0; i < 3; i++) {
        sl_str_t s = { strlen(nets[i]), (u_char *) nets[i] };
        assert_int_equal(sl_ptocidr(&s, &proxies[i]), SL_OK);
    }
    return 0;
}

/* The peer's address. */
static void peer(sl_addr_t *a, const char *text)
{
    assert_int_equal(sl_parse_addr((const u_char *) text, strlen(text), a), SL_OK);
}

/*
 * Walks up to three lines (NULL ends them) for a peer; "addr" or "addr port" for the address
 * found, "-" when it stays the peer's (which must then be untouched).
 */
static const char *walk(const char *from, int recursive, const char *l1, const char *l2,
                        const char *l3)
{
    static char out[80];
    const char *lines[] = { l1, l2, l3 };
    sl_str_t values[3];
    sl_uint_t n = 0;
    sl_addr_t a, before;
    char text[INET6_ADDRSTRLEN];

    for (; n < 3 && lines[n]; n++) {
        values[n].data = (u_char *) lines[n];
        values[n].len = strlen(lines[n]);
    }
    peer(&a, from);
    before = a;
    if (sl_http_forwarded_addr(&a, values, n, proxies, 3, recursive) != SL_OK) {
        assert_memory_equal(&a, &before, sizeof(a));
        return "-";
    }
    unsigned port;
    if (a.sockaddr.ss_family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *) &a.sockaddr;
        inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
        port = ntohs(sin->sin_port);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &a.sockaddr;
        inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
        port = ntohs(sin6->sin6_port);
    }
    if (port) {
        snprintf(out, sizeof(out), "%s %u", text, port);
    } else {
        snprintf(out, sizeof(out), "%s", text);
    }
    return out;
}

#define ONE(v) walk("127.0.0.1", 0, v, NULL, NULL)
#define REC(v) walk("127.0.0.1", 1, v, NULL, NULL)

static void test_last_address(void **state)
{
    assert_string_equal(ONE("1.1.1.1, 2.2.2.2, 127.0.0.9"), "127.0.0.9");
    assert_string_equal(ONE("1.1.1.1,2.2.2.2"), "2.2.2.2");
    assert_string_equal(ONE("1.1.1.1 2.2.2.2"), "2.2.2.2");
    assert_string_equal(ONE("1.1.1.1, junk"), "-");
    assert_string_equal(ONE("junk, 1.1.1.1"), "1.1.1.1");
    assert_string_equal(ONE("1.1.1.1, "), "1.1.1.1");
    assert_string_equal(ONE("1.1.1.1,"), "1.1.1.1");
    assert_string_equal(ONE(","), "-");
    assert_string_equal(ONE(""), "-");
    assert_string_equal(ONE("1.1.1.1\t2.2.2.2"), "-");
    assert_string_equal(ONE("1.1.1.1:99"), "1.1.1.1 99");
    assert_string_equal(ONE("[2001:db8::5]:99"), "2001:db8::5 99");
    /* the peer must be trusted */
    assert_string_equal(walk("127.0.1.1", 0, "1.1.1.1", NULL, NULL), "-");
    assert_string_equal(walk("::1", 0, "1.1.1.1", NULL, NULL), "-");
    assert_string_equal(walk("2001:db8::1", 0, "1.1.1.1", NULL, NULL), "1.1.1.1");
    /* only the last line counts */
    assert_string_equal(walk("127.0.0.1", 0, "1.1.1.1", "2.2.2.2", NULL), "2.2.2.2");
    assert_string_equal(walk("127.0.0.1", 0, "1.1.1.1", "junk", NULL), "-");
    assert_string_equal(walk("127.0.0.1", 0, "junk", "1.1.1.1", NULL), "1.1.1.1");
    assert_string_equal(walk("127.0.0.1", 0, NULL, NULL, NULL), "-");
}

static void test_recursive(void **state)
{
    assert_string_equal(REC("1.1.1.1, 2.2.2.2, 127.0.0.9"), "2.2.2.2");
    assert_string_equal(REC("1.1.1.1, 10.2.2.2, 127.0.0.9"), "1.1.1.1");
    assert_string_equal(REC("10.1.1.1, 10.2.2.2, 127.0.0.9"), "10.1.1.1");
    assert_string_equal(REC("1.1.1.1, junk, 10.0.0.1"), "10.0.0.1");
    assert_string_equal(REC("junk, 10.0.0.1"), "10.0.0.1");
    assert_string_equal(REC("1.1.1.1, 10.0.0.1:55"), "1.1.1.1");
    assert_string_equal(REC("1.1.1.1:66, 10.0.0.1:55"), "1.1.1.1 66");
    assert_string_equal(REC("1.1.1.1, , 10.0.0.1"), "1.1.1.1");
    assert_string_equal(REC("1.1.1.1, 2001:db8::7, 10.0.0.1"), "1.1.1.1");
    assert_string_equal(REC("1.1.1.1, ::ffff:10.0.0.1"), "1.1.1.1");
    /* a separator at the front is an empty element, which stops the walk ... */
    assert_string_equal(REC(", 10.0.0.1"), "10.0.0.1");
    assert_string_equal(REC(",, 10.0.0.1"), "10.0.0.1");
    /* ... but the first byte is never a separator: ",10.0.0.1" is one element */
    assert_string_equal(REC(",10.0.0.1"), "-");
    assert_string_equal(REC("10.0.0.1"), "10.0.0.1");
    assert_string_equal(walk("127.0.1.1", 1, "1.1.1.1", NULL, NULL), "-");
}

static void test_recursive_lines(void **state)
{
    assert_string_equal(walk("127.0.0.1", 1, "1.1.1.1", "10.0.0.2", NULL), "1.1.1.1");
    assert_string_equal(walk("127.0.0.1", 1, "1.1.1.1", "2.2.2.2", NULL), "2.2.2.2");
    assert_string_equal(walk("127.0.0.1", 1, "1.1.1.1", "junk", NULL), "-");
    assert_string_equal(walk("127.0.0.1", 1, "junk", "10.0.0.2", NULL), "10.0.0.2");
    assert_string_equal(walk("127.0.0.1", 1, "10.0.0.3, junk", "10.0.0.2", NULL), "10.0.0.2");
    assert_string_equal(walk("127.0.0.1", 1, "10.0.0.3", "10.0.0.2", NULL), "10.0.0.3");
    /* an empty line is an element that is no address */
    assert_string_equal(walk("127.0.0.1", 1, "1.1.1.1", "", "10.0.0.2"), "10.0.0.2");
    assert_string_equal(walk("127.0.0.1", 1, "1.1.1.1", "10.0.0.3", ""), "-");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_last_address),
        cmocka_unit_test(test_recursive),
        cmocka_unit_test(test_recursive_lines),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
