/*
 * test_proxy_protocol.c: reading PROXY protocol headers (v1 and v2), their bounds, the
 * log lines of broken ones, and the v2 TLVs by variable name.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sl_core.h"
#include "sl_pool.h"
#include "sl_proxy_protocol.h"
#include "sl_test_log.h"

static sl_log_t test_log;
static sl_open_file_t test_file;
static sl_pool_t *pool;

static int setup(void **state)
{
    sl_test_log_open(&test_log, &test_file, SL_LOG_ERR);
    pool = sl_pool_create(SL_POOL_DEFAULT_SIZE, &test_log);
    return pool ? 0 : -1;
}

static int teardown(void **state)
{
    sl_pool_destroy(pool);
    close(test_file.fd);
    return 0;
}

static ssize_t rd(const char *s, size_t len, int eof, sl_proxy_protocol_t **pp)
{
    return sl_proxy_protocol_read(pool, &test_log, (const u_char *) s, len, eof, pp);
}

#define RD(s, eof, pp) rd(s, sizeof(s) - 1, eof, pp)

static void assert_str(const sl_str_t *s, const char *want)
{
    assert_int_equal(s->len, strlen(want));
    assert_memory_equal(s->data, want, s->len);
}

static void test_v1_tcp4(void **state)
{
    sl_proxy_protocol_t *pp;
    const char h[] = "PROXY TCP4 192.0.2.1 192.0.2.2 123 5678\r\nGET /";

    assert_int_equal(RD(h, 0, &pp), strlen("PROXY TCP4 192.0.2.1 192.0.2.2 123 5678\r\n"));
    assert_non_null(pp);
    assert_str(&pp->src_addr, "192.0.2.1");
    assert_str(&pp->dst_addr, "192.0.2.2");
    assert_int_equal(pp->src_port, 123);
    assert_int_equal(pp->dst_port, 5678);
}

static void test_v1_tcp6_and_unknown(void **state)
{
    sl_proxy_protocol_t *pp;

    assert_true(RD("PROXY TCP6 2001:Db8::1 2001:Db8::2 123 5678\r\n", 0, &pp) > 0);
    assert_str(&pp->src_addr, "2001:Db8::1");
    assert_int_equal(RD("PROXY UNKNOWN\r\n", 0, &pp), 15);
    assert_null(pp);
    assert_int_equal(RD("PROXY UNKNOWN 1 2 3 4 5 6\r\nX", 0, &pp), 27);
    assert_null(pp);
}

static void test_v1_incomplete_then_bounds(void **state)
{
    sl_proxy_protocol_t *pp;
    char big[200];

    assert_int_equal(RD("PRO", 0, &pp), SL_AGAIN);
    assert_int_equal(RD("PROXY TCP4 192.0.2.1 19", 0, &pp), SL_AGAIN);
    /* the peer closed mid-header */
    assert_int_equal(RD("PROXY TCP4 192.0.2.1 19", 1, &pp), SL_ERROR);
    assert_non_null(
        strstr(sl_test_log_text(&test_file), "broken header: \"PROXY TCP4 192.0.2.1 19\""));
    /* 107 bytes and still no LF: too long */
    memset(big, 'a', sizeof(big));
    memcpy(big, "PROXY UNKNOWN ", 14);
    assert_int_equal(rd(big, 106, 0, &pp), SL_AGAIN);
    assert_int_equal(rd(big, 107, 0, &pp), SL_ERROR);
    assert_int_equal(rd(big, sizeof(big), 0, &pp), SL_ERROR);
}

static void test_v1_broken(void **state)
{
    sl_proxy_protocol_t *pp;
    static const char *bad[] = {
        "GET / HTTP/1.0\r\n\r\n",
        "PROXY TCP4 192.0.2.1 192.0.2.2 123\r\n",
        "PROXY TCP4 192.0.2.1 192.0.2.2 123 65536\r\n",
        "PROXY TCP4 192.0.2.x 192.0.2.2 123 5678\r\n",
        "PROXY TCP5 192.0.2.1 192.0.2.2 123 5678\r\n",
        "PROXY TCP4 192.0.2.1 192.0.2.2 123 5678\n",
        "PROXY TCP4 192.0.2.1 192.0.2.2 123 5678 \r\n",
        "PROXY UNKNOWN\n",
        "PROXY\r\n",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(rd(bad[i], strlen(bad[i]), 0, &pp), SL_ERROR);
    }
    assert_non_null(strstr(sl_test_log_text(&test_file), "broken header: \"GET / HTTP/1.0\""));
}

/* a v2 header: PROXY over TCP/IPv4 (or cmd, fam given), with tlvs */
static size_t v2(u_char *out, unsigned vc, unsigned fam, const u_char *tlv, size_t tlen)
{
    static const u_char sig[12] = "\r\n\r\n\0\r\nQUIT\n";
    size_t alen = (fam >> 4) == 2 ? 36 : (fam >> 4) == 1 ? 12 : 0;
    size_t len = alen + tlen;

    memcpy(out, sig, 12);
    out[12] = (u_char) vc;
    out[13] = (u_char) fam;
    out[14] = (u_char) (len >> 8);
    out[15] = (u_char) len;
    memset(out + 16, 0, alen);
    if (alen == 12) {
        memcpy(out + 16, "\xc0\x00\x02\x01\xc0\x00\x02\x02\x00\x7b\x16\x2e", 12);
    } else if (alen == 36) {
        out[16] = 0x20, out[17] = 0x01, out[18] = 0x0d, out[19] = 0xb8, out[31] = 1;
        out[32] = 0x20, out[33] = 0x01, out[34] = 0x0d, out[35] = 0xb8, out[47] = 2;
        out[48] = 0, out[49] = 123, out[50] = 0x16, out[51] = 0x2e;
    }
    if (tlen) {
        memcpy(out + 16 + alen, tlv, tlen);
    }
    return 16 + len;
}

static void test_v2_proxy(void **state)
{
    u_char h[256];
    sl_proxy_protocol_t *pp;
    size_t n = v2(h, 0x21, 0x11, NULL, 0);

    assert_int_equal(sl_proxy_protocol_read(pool, &test_log, h, n, 0, &pp), n);
    assert_str(&pp->src_addr, "192.0.2.1");
    assert_str(&pp->dst_addr, "192.0.2.2");
    assert_int_equal(pp->src_port, 123);
    assert_int_equal(pp->dst_port, 5678);
    n = v2(h, 0x21, 0x21, NULL, 0);
    assert_int_equal(sl_proxy_protocol_read(pool, &test_log, h, n, 0, &pp), n);
    assert_str(&pp->src_addr, "2001:db8::1");
    assert_str(&pp->dst_addr, "2001:db8::2");
    /* every prefix waits for the rest, and is broken at EOF */
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(sl_proxy_protocol_read(pool, &test_log, h, i, 0, &pp), SL_AGAIN);
        assert_int_equal(sl_proxy_protocol_read(pool, &test_log, h, i, 1, &pp), SL_ERROR);
    }
}

static void test_v2_local_and_others(void **state)
{
    u_char h[256];
    sl_proxy_protocol_t *pp;
    size_t n = v2(h, 0x20, 0x00, NULL, 0);

    assert_int_equal(sl_proxy_protocol_read(pool, &test_log, h, n, 0, &pp), n);
    assert_null(pp);
    n = v2(h, 0x21, 0x12, NULL, 0); /* UDP */
    assert_int_equal(sl_proxy_protocol_read(pool, &test_log, h, n, 0, &pp), n);
    assert_null(pp);
    n = v2(h, 0x31, 0x11, NULL, 0);
    assert_int_equal(sl_proxy_protocol_read(pool, &test_log, h, n, 0, &pp), SL_ERROR);
    assert_non_null(strstr(sl_test_log_text(&test_file), "unknown PROXY protocol version: 3"));
    /* a length beyond the bound */
    n = v2(h, 0x21, 0x11, NULL, 0);
    h[14] = 0x10;
    h[15] = 0x00;
    assert_int_equal(sl_proxy_protocol_read(pool, &test_log, h, n, 0, &pp), SL_ERROR);
    assert_non_null(strstr(sl_test_log_text(&test_file), "header is too large"));
    /* an IPv4 block shorter than its addresses */
    n = v2(h, 0x21, 0x11, NULL, 0);
    h[15] = 4;
    assert_int_equal(sl_proxy_protocol_read(pool, &test_log, h, 20, 0, &pp), SL_ERROR);
}

static void test_v2_tlvs(void **state)
{
    static const u_char tlv[] = "\x01\x00\x05"
                                "ALPN1"
                                "\x03\x00\x04"
                                "4321"
                                /* ssl: client, verify 255, then a version TLV */
                                "\x20\x00\x0f"
                                "\x01\x00\x00\x00\xff"
                                "\x21\x00\x07"
                                "TLSv1.2"
                                "\xae\x00\x05"
                                "12345";
    u_char h[256];
    sl_proxy_protocol_t *pp;
    size_t n = v2(h, 0x21, 0x11, tlv, sizeof(tlv) - 1);
    sl_str_t v;

    assert_int_equal(sl_proxy_protocol_read(pool, &test_log, h, n, 0, &pp), n);
#define TLV(name) sl_proxy_protocol_tlv(pool, &test_log, pp, &(sl_str_t) sl_string(name), &v)
    assert_int_equal(TLV("alpn"), SL_OK);
    assert_str(&v, "ALPN1");
    assert_int_equal(TLV("0x01"), SL_OK);
    assert_int_equal(TLV("0x3"), SL_OK);
    assert_str(&v, "4321");
    assert_int_equal(TLV("0x000ae"), SL_OK);
    assert_str(&v, "12345");
    assert_int_equal(TLV("ssl_verify"), SL_OK);
    assert_str(&v, "255");
    assert_int_equal(TLV("ssl_version"), SL_OK);
    assert_str(&v, "TLSv1.2");
    assert_int_equal(TLV("ssl_0x21"), SL_OK);
    assert_int_equal(TLV("ssl_cn"), SL_DECLINED);
    assert_int_equal(TLV("authority"), SL_DECLINED);
    assert_int_equal(TLV("0x0f"), SL_DECLINED);
    assert_int_equal(TLV("bogus"), SL_ERROR);
    assert_non_null(strstr(sl_test_log_text(&test_file), "unknown PROXY protocol TLV \"bogus\""));
    /* a TLV whose length runs past the end */
    pp->tlvs.len = 6;
    assert_int_equal(TLV("authority"), SL_ERROR);
#undef TLV
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_v1_tcp4, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v1_tcp6_and_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v1_incomplete_then_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v1_broken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v2_proxy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v2_local_and_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v2_tlvs, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
