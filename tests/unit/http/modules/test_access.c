/*
 * test_access.c: the access module's verdict on a client address (sl_http_access_check):
 * first match wins, per family, "all" and "unix:", and IPv4-mapped IPv6 addresses matched as
 * IPv4 only when there are IPv4 rules (nginx 1.22's ngx_http_access_handler).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include <sys/un.h>

#include "sl_http_access.h"

#define MAX_RULES 8

/* Rules from "allow 10.0.0.0/8", "deny all", "deny unix:" ... (NULL ends them). */
static sl_uint_t rules(sl_http_access_rule_t *out, const char *const *text)
{
    sl_uint_t n = 0;

    for (; text[n]; n++) {
        const char *p = strchr(text[n], ' ') + 1;
        sl_str_t s = { strlen(p), (u_char *) p };

        assert_true(n < MAX_RULES);
        memset(&out[n], 0, sizeof(out[n]));
        out[n].deny = text[n][0] == 'd';
        if (strcmp(p, "unix:") == 0) {
            out[n].cidr.family = AF_UNIX;
        } else if (strcmp(p, "all") != 0) {
            assert_int_not_equal(sl_ptocidr(&s, &out[n].cidr), SL_ERROR);
        }
    }
    return n;
}

/* "allow", "deny" or "-" (no rule matched) for a client at addr ("unix:" for a unix peer). */
static const char *check(const char *addr, const char *const *text)
{
    sl_http_access_rule_t r[MAX_RULES];
    sl_uint_t n = rules(r, text);
    sl_addr_t a;
    struct sockaddr_un un;
    const struct sockaddr *sa = (const struct sockaddr *) &a.sockaddr;

    if (strcmp(addr, "unix:") == 0) {
        memset(&un, 0, sizeof(un));
        un.sun_family = AF_UNIX;
        sa = (const struct sockaddr *) &un;
    } else {
        assert_int_equal(sl_parse_addr((const u_char *) addr, strlen(addr), &a), SL_OK);
    }
    sl_int_t rc = sl_http_access_check(sa, r, n);
    return rc == SL_OK ? "allow" : rc == SL_HTTP_FORBIDDEN ? "deny" : "-";
}

#define RULES(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void test_first_match(void **state)
{
    const char *const *order = RULES("deny 127.0.0.3", "allow 127.0.0.0/24", "deny all");

    assert_string_equal(check("127.0.0.3", order), "deny");
    assert_string_equal(check("127.0.0.1", order), "allow");
    assert_string_equal(check("127.0.1.1", order), "deny");
    assert_string_equal(check("::1", order), "deny");
    assert_string_equal(check("unix:", order), "deny");
    assert_string_equal(check("10.0.0.1", RULES("allow 10.0.0.1", "deny 10.0.0.0/8")), "allow");
    assert_string_equal(check("10.0.0.2", RULES("allow 10.0.0.1", "deny 10.0.0.0/8")), "deny");
    assert_string_equal(check("11.0.0.2", RULES("allow 10.0.0.1", "deny 10.0.0.0/8")), "-");
}

static void test_families(void **state)
{
    assert_string_equal(check("127.0.0.1", RULES("deny ::/0")), "-");
    assert_string_equal(check("::1", RULES("deny 0.0.0.0/0")), "-");
    assert_string_equal(check("unix:", RULES("deny 0.0.0.0/0", "deny ::/0")), "-");
    assert_string_equal(check("unix:", RULES("allow 127.0.0.1", "deny unix:")), "deny");
    assert_string_equal(check("127.0.0.1", RULES("deny unix:")), "-");
    assert_string_equal(check("2001:db8::5", RULES("deny 2001:db8::/32", "allow all")), "deny");
    assert_string_equal(check("2001:db9::5", RULES("deny 2001:db8::/32", "allow all")), "allow");
    assert_string_equal(check("::1", RULES("allow ::1/128", "deny all")), "allow");
    assert_string_equal(check("::2", RULES("allow ::1/128", "deny all")), "deny");
    assert_string_equal(check("0.0.0.0", RULES("deny 0.0.0.0/0")), "deny");
    assert_string_equal(check("255.255.255.254", RULES("deny 0.0.0.0/0")), "deny");
}

static void test_mapped(void **state)
{
    /* IPv4 rules (or "all") exist: the mapped address is the IPv4 one, IPv6 rules skipped */
    assert_string_equal(check("::ffff:10.1.2.3", RULES("deny 10.0.0.0/8")), "deny");
    assert_string_equal(check("::ffff:10.1.2.3", RULES("deny ::/0", "allow 10.0.0.0/8")), "allow");
    assert_string_equal(check("::ffff:10.1.2.3", RULES("deny ::/0", "allow all")), "allow");
    assert_string_equal(check("::ffff:10.1.2.3", RULES("deny ::/0", "allow 11.0.0.0/8")), "-");
    /* no IPv4 rule: matched as the IPv6 address it is */
    assert_string_equal(check("::ffff:10.1.2.3", RULES("deny ::ffff:0:0/96")), "deny");
    assert_string_equal(check("::ffff:10.1.2.3", RULES("deny ::1", "allow unix:")), "-");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_match),
        cmocka_unit_test(test_families),
        cmocka_unit_test(test_mapped),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
