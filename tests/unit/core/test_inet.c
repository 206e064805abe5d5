/*
 * test_inet.c: address literals, CIDR blocks and matching.
 *
 * The accepted and refused literals are the ones Debian's nginx 1.22 accepted and refused
 * as an X-Forwarded-For value (real_ip_header X-Forwarded-For, the address it then showed
 * as $remote_addr), and the CIDR results are what its "nginx -t" said about
 * "set_real_ip_from" (a refused block ends up as "host not found", a block with host bits
 * as the "low address bits" warning).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include <arpa/inet.h>

#include "sl_core.h"
#include "sl_inet.h"

#define SL_INET6_TEXT 64

static sl_str_t S(const char *s)
{
    sl_str_t str = { strlen(s), (u_char *) s };

    return str;
}

/* The literal parsed and printed back ("addr" or "addr port"), or "-" when refused. */
static const char *addr_port(const char *text)
{
    static char out[INET6_ADDRSTRLEN + 8];
    char a[INET6_ADDRSTRLEN];
    sl_addr_t addr;
    unsigned port;

    if (sl_parse_addr_port((const u_char *) text, strlen(text), &addr) != SL_OK) {
        return "-";
    }
    if (addr.sockaddr.ss_family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *) &addr.sockaddr;
        assert_int_equal(addr.socklen, sizeof(*sin));
        inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
        port = ntohs(sin->sin_port);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &addr.sockaddr;
        assert_int_equal(addr.sockaddr.ss_family, AF_INET6);
        assert_int_equal(addr.socklen, sizeof(*sin6));
        inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
        port = ntohs(sin6->sin6_port);
    }
    if (port) {
        snprintf(out, sizeof(out), "%s %u", a, port);
    } else {
        snprintf(out, sizeof(out), "%s", a);
    }
    return out;
}

static void test_ipv4(void **state)
{
    assert_string_equal(addr_port("1.2.3.4"), "1.2.3.4");
    assert_string_equal(addr_port("0.0.0.0"), "0.0.0.0");
    /* nginx's octets: leading zeros and empty octets are accepted */
    assert_string_equal(addr_port("01.1.1.1"), "1.1.1.1");
    assert_string_equal(addr_port("1.2.3.04"), "1.2.3.4");
    assert_string_equal(addr_port("1..1.1"), "1.0.1.1");
    assert_string_equal(addr_port(".1.1.1"), "0.1.1.1");
    assert_string_equal(addr_port("1.1.1."), "1.1.1.0");
    /* its value is the error value */
    assert_string_equal(addr_port("255.255.255.255"), "-");
    assert_string_equal(addr_port("1.2.3.4.5"), "-");
    assert_string_equal(addr_port("1.1.1"), "-");
    assert_string_equal(addr_port("1.2.3.256"), "-");
    assert_string_equal(addr_port("1.1.1.1/24"), "-");
    assert_string_equal(addr_port("1.2.3.4 "), "-");
    assert_string_equal(addr_port(""), "-");
    assert_int_equal(sl_inet_addr((const u_char *) "10.0.0.1", 8), htonl(0x0a000001));
}

static void test_ipv6(void **state)
{
    assert_string_equal(addr_port("::"), "::");
    assert_string_equal(addr_port("::1"), "::1");
    assert_string_equal(addr_port("1::"), "1::");
    assert_string_equal(addr_port("2001:db8::5"), "2001:db8::5");
    assert_string_equal(addr_port("ABCD::EF"), "abcd::ef");
    assert_string_equal(addr_port("0001::"), "1::");
    assert_string_equal(addr_port("1:2:3:4:5:6:7:8"), "1:2:3:4:5:6:7:8");
    assert_string_equal(addr_port("::ffff:1.2.3.4"), "::ffff:1.2.3.4");
    assert_string_equal(addr_port("::1.2.3.4"), "::1.2.3.4");
    assert_string_equal(addr_port("::ffff:01.2.3.4"), "::ffff:1.2.3.4");
    assert_string_equal(addr_port("::ffff:1..3.4"), "::ffff:1.0.3.4");
    assert_string_equal(addr_port("1:2:3:4:5:6:1.2.3.4"), "1:2:3:4:5:6:102:304");
    /* nginx's quirks: one leading ':' is skipped; a trailing ':' after "::" is a 0 group */
    assert_string_equal(addr_port(":1::"), "1::");
    assert_string_equal(addr_port("::1:"), "::0.1.0.0");
    /* "::" standing for no group */
    assert_string_equal(addr_port("1::2:3:4:5:6:7:8"), "-");
    assert_string_equal(addr_port("1:2:3:4:5:6:7::"), "-");
    assert_string_equal(addr_port("1:2:3:4:5:6:7:8:9"), "-");
    assert_string_equal(addr_port("1:2:3:4:5:6:7:1.2.3.4"), "-");
    assert_string_equal(addr_port("00001::"), "-");
    assert_string_equal(addr_port("::fffff"), "-");
    assert_string_equal(addr_port("1:::2"), "-");
    assert_string_equal(addr_port("1::2::3"), "-");
    assert_string_equal(addr_port("1:"), "-");
    assert_string_equal(addr_port(":"), "-");
    assert_string_equal(addr_port("::1.2.3"), "-");
    assert_string_equal(addr_port("::1.2.3.4.5"), "-");
    assert_string_equal(addr_port("::.1.2.3"), "-");
    assert_string_equal(addr_port(":1.2.3.4"), "-");
    assert_string_equal(addr_port("fe80::1%lo"), "-");
    assert_string_equal(addr_port("unix:/x"), "-");
}

static void test_ports(void **state)
{
    assert_string_equal(addr_port("1.2.3.4:5678"), "1.2.3.4 5678");
    assert_string_equal(addr_port("1.1.1.1:0080"), "1.1.1.1 80");
    assert_string_equal(addr_port("[2001:db8::5]:99"), "2001:db8::5 99");
    assert_string_equal(addr_port("[2001:db8::1]:65535"), "2001:db8::1 65535");
    assert_string_equal(addr_port("[::1]:80"), "::1 80");
    /* after the first ':', text that is no number belongs to the address */
    assert_string_equal(addr_port("2001:db8::1:80"), "2001:db8::1:80");
    assert_string_equal(addr_port("1:2"), "-");
    assert_string_equal(addr_port("[::1]"), "-");
    assert_string_equal(addr_port("[1.1.1.1]"), "-");
    assert_string_equal(addr_port("[::1]:"), "-");
    assert_string_equal(addr_port("[::1]:80x"), "-");
    assert_string_equal(addr_port("1.1.1.1:abc"), "-");
    assert_string_equal(addr_port("1.1.1.1:+80"), "-");
    assert_string_equal(addr_port("::1.2.3.4:5"), "-");
    assert_string_equal(addr_port("2001:db8::1:65536"), "-");
    /* a number out of range is an error rather than part of the address */
    sl_addr_t a;
    assert_int_equal(sl_parse_addr_port((const u_char *) "1.1.1.1:0", 9, &a), SL_ERROR);
    assert_int_equal(sl_parse_addr_port((const u_char *) "[::1]:0", 7, &a), SL_ERROR);
    assert_int_equal(sl_parse_addr_port((const u_char *) "1.1.1.1:65536", 13, &a), SL_ERROR);
}

static sl_int_t cidr(const char *text, sl_cidr_t *c)
{
    sl_str_t s = S(text);

    return sl_ptocidr(&s, c);
}

static void test_ptocidr(void **state)
{
    sl_cidr_t c;

    assert_int_equal(cidr("10.0.0.0/8", &c), SL_OK);
    assert_int_equal(c.family, AF_INET);
    assert_int_equal(c.u.in.addr, htonl(0x0a000000));
    assert_int_equal(c.u.in.mask, htonl(0xff000000));
    assert_int_equal(cidr("10.0.0.1", &c), SL_OK);
    assert_int_equal(c.u.in.mask, 0xffffffff);
    assert_int_equal(cidr("10.0.0.1/32", &c), SL_OK);
    assert_int_equal(cidr("0.0.0.0/0", &c), SL_OK);
    assert_int_equal(c.u.in.mask, 0);
    /* host bits: cleared, and reported */
    assert_int_equal(cidr("10.0.0.1/8", &c), SL_DONE);
    assert_int_equal(c.u.in.addr, htonl(0x0a000000));
    assert_int_equal(cidr("10.0.0.1/0", &c), SL_DONE);
    assert_int_equal(c.u.in.addr, 0);
    assert_int_equal(cidr("10.0.0.1/08", &c), SL_DONE);
    assert_int_equal(cidr("::1/128", &c), SL_OK);
    assert_int_equal(c.family, AF_INET6);
    assert_int_equal(cidr("::/0", &c), SL_OK);
    assert_int_equal(cidr("::1/64", &c), SL_DONE);
    assert_int_equal(cidr("2001:db8::1/32", &c), SL_DONE);
    assert_int_equal(cidr("::ffff:10.0.0.1/104", &c), SL_DONE);
    assert_int_equal(cidr("2001:db8::/33", &c), SL_OK);
    assert_int_equal(c.u.in6.mask.s6_addr[4], 0x80);
    assert_int_equal(c.u.in6.mask.s6_addr[5], 0);

    assert_int_equal(cidr("10.0.0.1/33", &c), SL_ERROR);
    assert_int_equal(cidr("::1/129", &c), SL_ERROR);
    assert_int_equal(cidr("10.0.0.1/", &c), SL_ERROR);
    assert_int_equal(cidr("10.0.0.1/-1", &c), SL_ERROR);
    assert_int_equal(cidr("10.0.0.1/+8", &c), SL_ERROR);
    assert_int_equal(cidr("10.0.0.1/8x", &c), SL_ERROR);
    assert_int_equal(cidr("255.255.255.255/32", &c), SL_ERROR);
    assert_int_equal(cidr("[::1]", &c), SL_ERROR);
    assert_int_equal(cidr("1::2::3/64", &c), SL_ERROR);
    assert_int_equal(cidr("10.0.0.1:80", &c), SL_ERROR);
    assert_int_equal(cidr("all", &c), SL_ERROR);
    assert_int_equal(cidr("unix:", &c), SL_ERROR);
    assert_int_equal(cidr("", &c), SL_ERROR);
}

static struct sockaddr_storage ss;

static const struct sockaddr *sa(const char *text)
{
    memset(&ss, 0, sizeof(ss));
    if (strcmp(text, "unix") == 0) {
        ss.ss_family = AF_UNIX;
    } else if (strchr(text, ':')) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;
        sin6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *) &ss;
        sin->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, text, &sin->sin_addr), 1);
    }
    return (const struct sockaddr *) &ss;
}

/* Does text match the one network written as net ("unix:" for the unix entry)? */
static int in_net(const char *text, const char *net)
{
    sl_cidr_t c;

    if (strcmp(net, "unix:") == 0) {
        memset(&c, 0, sizeof(c));
        c.family = AF_UNIX;
    } else {
        assert_int_not_equal(cidr(net, &c), SL_ERROR);
    }
    return sl_cidr_match(sa(text), &c, 1) == SL_OK;
}

static void test_match(void **state)
{
    assert_true(in_net("10.1.2.3", "10.0.0.0/8"));
    assert_false(in_net("11.0.0.0", "10.0.0.0/8"));
    assert_true(in_net("10.0.0.1", "10.0.0.1/32"));
    assert_false(in_net("10.0.0.2", "10.0.0.1/32"));
    assert_true(in_net("10.0.0.2", "10.0.0.1/8")); /* the host bits were cleared */
    assert_true(in_net("203.0.113.9", "0.0.0.0/0"));
    assert_true(in_net("127.0.0.1", "127.0.0.0/24"));
    assert_false(in_net("127.0.1.1", "127.0.0.0/24"));

    assert_true(in_net("::1", "::1/128"));
    assert_false(in_net("::2", "::1/128"));
    assert_true(in_net("2001:db8:ffff::1", "2001:db8::/32"));
    assert_false(in_net("2001:db9::1", "2001:db8::/32"));
    assert_true(in_net("2001:db8:7fff::", "2001:db8::/33"));
    assert_false(in_net("2001:db8:8000::", "2001:db8::/33"));
    assert_true(in_net("2001:db8::1", "::/0"));

    /* families never match each other ... */
    assert_false(in_net("10.0.0.1", "::/0"));
    assert_false(in_net("::1", "0.0.0.0/0"));
    assert_false(in_net("unix", "0.0.0.0/0"));
    assert_false(in_net("10.0.0.1", "unix:"));
    assert_true(in_net("unix", "unix:"));
    /* ... except that a mapped address is its IPv4 address (and no longer an IPv6 one) */
    assert_true(in_net("::ffff:10.0.0.1", "10.0.0.0/8"));
    assert_false(in_net("::ffff:10.0.0.1", "::ffff:10.0.0.0/104"));
    assert_false(in_net("::ffff:10.0.0.1", "::/0"));

    sl_cidr_t list[3];
    assert_int_equal(cidr("10.0.0.0/8", &list[0]), SL_OK);
    assert_int_equal(cidr("::1", &list[1]), SL_OK);
    assert_int_equal(cidr("192.168.0.0/16", &list[2]), SL_OK);
    assert_int_equal(sl_cidr_match(sa("192.168.4.4"), list, 3), SL_OK);
    assert_int_equal(sl_cidr_match(sa("::1"), list, 3), SL_OK);
    assert_int_equal(sl_cidr_match(sa("172.16.0.1"), list, 3), SL_DECLINED);
    assert_int_equal(sl_cidr_match(sa("172.16.0.1"), list, 0), SL_DECLINED);
}

/* $remote_addr as nginx wrote it for the address sent in X-Forwarded-For. */
static const char *ntop(const char *text)
{
    static u_char out[SL_INET6_TEXT];
    sl_addr_t a;

    assert_int_equal(sl_parse_addr((const u_char *) text, strlen(text), &a), SL_OK);
    size_t n = sl_addr_ntop((struct sockaddr *) &a.sockaddr, a.socklen, out, sizeof(out), 0);
    out[n] = '\0';
    return (const char *) out;
}

static void test_ntop(void **state)
{
    assert_string_equal(ntop("1.2.3.4"), "1.2.3.4");
    assert_string_equal(ntop("::"), "::");
    assert_string_equal(ntop("::1"), "::1");
    assert_string_equal(ntop("::2"), "::2");
    assert_string_equal(ntop("::ff"), "::ff");
    assert_string_equal(ntop("::101"), "::101");
    assert_string_equal(ntop("::201"), "::201");
    assert_string_equal(ntop("::100"), "::0.0.1.0");
    assert_string_equal(ntop("::102"), "::0.0.1.2");
    assert_string_equal(ntop("::1234"), "::0.0.18.52");
    assert_string_equal(ntop("::ffff"), "::0.0.255.255");
    assert_string_equal(ntop("::1:1"), "::0.1.0.1");
    assert_string_equal(ntop("::ffff:0:0"), "::ffff:0.0.0.0");
    assert_string_equal(ntop("::ffff:0:102:304"), "::ffff:0:102:304");
    assert_string_equal(ntop("1:0:0:2:0:0:3:4"), "1::2:0:0:3:4");
    assert_string_equal(ntop("1:0:0:2:0:0:0:3"), "1:0:0:2::3");
    assert_string_equal(ntop("1:0:2:3:4:5:6:7"), "1:0:2:3:4:5:6:7");
    assert_string_equal(ntop("1:2:3:4:5:6:7:0"), "1:2:3:4:5:6:7:0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4),    cmocka_unit_test(test_ipv6),  cmocka_unit_test(test_ports),
        cmocka_unit_test(test_ptocidr), cmocka_unit_test(test_match), cmocka_unit_test(test_ntop),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
