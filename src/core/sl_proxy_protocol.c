/*
 * sl_proxy_protocol.c: reading a PROXY protocol header (v1 text, v2 binary) and the TLVs of
 * version 2.  Bytes come from the caller; a header is awaited only while what arrived can
 * still become one, and never beyond its bound (107 bytes for v1, 4096 for v2), so a peer
 * cannot make a connection hold more than that before its request.
 */
#include <arpa/inet.h>
#include <stdio.h>

#include "sl_inet.h"
#include "sl_proxy_protocol.h"

static const u_char v2_signature[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                         0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

#define V2_HEADER_LEN 16
#define V2_INET_LEN 12
#define V2_INET6_LEN 36
#define V2_CMD_PROXY 1
#define V2_TRANSPORT_STREAM 1
#define V2_AF_INET 1
#define V2_AF_INET6 2
#define TLV_SSL 0x20
/* the SSL TLV's value: client (1 byte) and verify (4 bytes), then its own TLVs */
#define TLV_SSL_FIXED 5

/* ---- version 1 ---- */

/* nginx's log line: the bytes received up to the first CR or LF. */
static void broken_header(sl_log_t *log, const u_char *buf, size_t len)
{
    size_t n = 0;

    while (n < len && buf[n] != '\r' && buf[n] != '\n') {
        n++;
    }
    sl_log_error(SL_LOG_ERR, log, 0, "broken header: \"%.*s\"", (int) n, buf);
}

/* Whether buf could still begin with prefix (every byte so far agrees). */
static int may_start_with(const u_char *buf, size_t len, const char *prefix, size_t plen)
{
    return memcmp(buf, prefix, sl_min(len, plen)) == 0;
}

/* One field ending in sep at *p (before end): [start, sep).  0 when sep never comes. */
static int take_field(const u_char **p, const u_char *end, u_char sep, sl_str_t *field)
{
    const u_char *start = *p;
    const u_char *q = memchr(start, sep, (size_t) (end - start));

    if (q == NULL) {
        return 0;
    }
    field->data = (u_char *) start;
    field->len = (size_t) (q - start);
    *p = q + 1;
    return 1;
}

static int take_addr(const u_char **p, const u_char *end, sl_str_t *addr)
{
    sl_addr_t a;

    return take_field(p, end, ' ', addr) && addr->len > 0 && addr->len <= INET6_ADDRSTRLEN
           && sl_parse_addr(addr->data, addr->len, &a) == SL_OK;
}

static int take_port(const u_char **p, const u_char *end, u_char sep, unsigned *port)
{
    sl_str_t field;

    if (!take_field(p, end, sep, &field)) {
        return 0;
    }
    sl_int_t n = sl_atoi(field.data, field.len);
    if (n == SL_ERROR || n > 65535) {
        return 0;
    }
    *port = (unsigned) n;
    return 1;
}

/* The addresses of "TCP4 "/"TCP6 " onwards, [p, end) being the line up to its LF. */
static int parse_v1_tcp(const u_char *p, const u_char *end, sl_proxy_protocol_t *pp)
{
    return take_addr(&p, end, &pp->src_addr) && take_addr(&p, end, &pp->dst_addr)
           && take_port(&p, end, ' ', &pp->src_port) && take_port(&p, end, '\r', &pp->dst_port)
           && p == end - 1;
}

static sl_int_t copy_str(sl_pool_t *pool, sl_str_t *s)
{
    u_char *d = sl_pnalloc(pool, s->len ? s->len : 1);

    if (d == NULL) {
        return SL_ERROR;
    }
    memcpy(d, s->data, s->len);
    s->data = d;
    return SL_OK;
}

/* The line [buf, buf + n) ends in LF.  Its length, or SL_ERROR (logged). */
static ssize_t parse_v1_line(sl_pool_t *pool, sl_log_t *log, const u_char *buf, size_t n,
                             sl_proxy_protocol_t **pp)
{
    const u_char *end = buf + n;
    const u_char *p = buf + 6;

    /* "PROXY UNKNOWN": whatever follows up to CRLF is not read */
    if (n >= 13 && memcmp(p, "UNKNOWN", 7) == 0 && end[-2] == '\r') {
        return (ssize_t) n;
    }
    if (n >= 11 && memcmp(p, "TCP", 3) == 0 && (p[3] == '4' || p[3] == '6') && p[4] == ' ') {
        sl_proxy_protocol_t *h = sl_pcalloc(pool, sizeof(*h));
        if (h == NULL) {
            return SL_ERROR;
        }
        if (parse_v1_tcp(p + 5, end, h)) {
            if (copy_str(pool, &h->src_addr) != SL_OK || copy_str(pool, &h->dst_addr) != SL_OK) {
                return SL_ERROR;
            }
            *pp = h;
            return (ssize_t) n;
        }
    }
    broken_header(log, buf, n);
    return SL_ERROR;
}

static ssize_t read_v1(sl_pool_t *pool, sl_log_t *log, const u_char *buf, size_t len, int eof,
                       sl_proxy_protocol_t **pp)
{
    size_t window = sl_min(len, (size_t) SL_PROXY_PROTOCOL_V1_MAX_HEADER);
    const u_char *lf = memchr(buf, '\n', window);

    if (!may_start_with(buf, len, "PROXY ", 6) || (lf && lf - buf < 8)) {
        broken_header(log, buf, window);
        return SL_ERROR;
    }
    if (lf == NULL) {
        if (eof || len >= SL_PROXY_PROTOCOL_V1_MAX_HEADER) {
            broken_header(log, buf, window);
            return SL_ERROR;
        }
        return SL_AGAIN;
    }
    return parse_v1_line(pool, log, buf, (size_t) (lf - buf) + 1, pp);
}

/* ---- version 2 ---- */

static sl_uint_t uint16_at(const u_char *p)
{
    return ((sl_uint_t) p[0] << 8) | p[1];
}

/* An address and port of the address block as text and number.  SL_OK or SL_ERROR. */
static sl_int_t v2_addr(sl_pool_t *pool, int family, const u_char *addr, const u_char *port,
                        sl_str_t *text, unsigned *num)
{
    char buf[INET6_ADDRSTRLEN];

    if (inet_ntop(family, addr, buf, sizeof(buf)) == NULL) {
        return SL_ERROR;
    }
    text->len = strlen(buf);
    text->data = sl_pnalloc(pool, text->len);
    if (text->data == NULL) {
        return SL_ERROR;
    }
    memcpy(text->data, buf, text->len);
    *num = (unsigned) uint16_at(port);
    return SL_OK;
}

/* The addresses and TLVs of a PROXY command over a stream; [p, end) is the block after the
 * 16 bytes.  SL_OK (*pp NULL for a family it does not read), SL_ERROR. */
static sl_int_t parse_v2_block(sl_pool_t *pool, sl_log_t *log, unsigned family, const u_char *p,
                               const u_char *end, sl_proxy_protocol_t **pp)
{
    size_t alen = family == V2_AF_INET ? 4 : 16;
    size_t block = family == V2_AF_INET ? V2_INET_LEN : V2_INET6_LEN;
    int af = family == V2_AF_INET ? AF_INET : AF_INET6;

    if ((size_t) (end - p) < block) {
        /* nginx closes such a connection without a word; the operator gets one here */
        sl_log_error(SL_LOG_ERR, log, 0, "broken header: PROXY protocol v2 address block");
        return SL_ERROR;
    }
    sl_proxy_protocol_t *h = sl_pcalloc(pool, sizeof(*h));
    if (h == NULL || v2_addr(pool, af, p, p + 2 * alen, &h->src_addr, &h->src_port) != SL_OK
        || v2_addr(pool, af, p + alen, p + 2 * alen + 2, &h->dst_addr, &h->dst_port) != SL_OK) {
        return SL_ERROR;
    }
    p += block;
    if (p < end) {
        h->tlvs.len = (size_t) (end - p);
        h->tlvs.data = sl_pnalloc(pool, h->tlvs.len);
        if (h->tlvs.data == NULL) {
            return SL_ERROR;
        }
        memcpy(h->tlvs.data, p, h->tlvs.len);
    }
    *pp = h;
    return SL_OK;
}

static ssize_t read_v2(sl_pool_t *pool, sl_log_t *log, const u_char *buf, size_t len, int eof,
                       sl_proxy_protocol_t **pp)
{
    if (len < V2_HEADER_LEN) {
        if (eof) {
            broken_header(log, buf, len);
            return SL_ERROR;
        }
        return SL_AGAIN;
    }
    unsigned version = buf[12] >> 4;
    if (version != 2) {
        sl_log_error(SL_LOG_ERR, log, 0, "unknown PROXY protocol version: %u", version);
        return SL_ERROR;
    }
    size_t total = V2_HEADER_LEN + uint16_at(buf + 14);
    if (total > SL_PROXY_PROTOCOL_MAX_HEADER || (len < total && eof)) {
        sl_log_error(SL_LOG_ERR, log, 0, "header is too large");
        return SL_ERROR;
    }
    if (len < total) {
        return SL_AGAIN;
    }
    unsigned command = buf[12] & 0x0f;
    unsigned transport = buf[13] & 0x0f;
    unsigned family = buf[13] >> 4;
    /* LOCAL (a health check), datagrams, unix or unspecified addresses: the connection is
     * taken as it is */
    if (command != V2_CMD_PROXY || transport != V2_TRANSPORT_STREAM
        || (family != V2_AF_INET && family != V2_AF_INET6)) {
        return (ssize_t) total;
    }
    if (parse_v2_block(pool, log, family, buf + V2_HEADER_LEN, buf + total, pp) != SL_OK) {
        return SL_ERROR;
    }
    return (ssize_t) total;
}

ssize_t sl_proxy_protocol_read(sl_pool_t *pool, sl_log_t *log, const u_char *buf, size_t len,
                               int eof, sl_proxy_protocol_t **pp)
{
    *pp = NULL;
    if (len == 0) {
        if (eof) {
            broken_header(log, buf, 0);
            return SL_ERROR;
        }
        return SL_AGAIN;
    }
    if (may_start_with(buf, len, (const char *) v2_signature, sizeof(v2_signature))) {
        return read_v2(pool, log, buf, len, eof, pp);
    }
    return read_v1(pool, log, buf, len, eof, pp);
}

/* ---- TLVs ---- */

typedef struct {
    const char *name;
    sl_uint_t type;
} tlv_name_t;

static const tlv_name_t tlv_names[] = {
    { "alpn", 0x01 }, { "authority", 0x02 }, { "unique_id", 0x05 },
    { "ssl", 0x20 },  { "netns", 0x30 },
};

static const tlv_name_t ssl_tlv_names[] = {
    { "version", 0x21 }, { "cn", 0x22 },      { "cipher", 0x23 },
    { "sig_alg", 0x24 }, { "key_alg", 0x25 },
};

/* A type by name, or "0x" and hex digits.  SL_ERROR when it is neither. */
static sl_int_t tlv_type(const sl_str_t *name, const tlv_name_t *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (sl_str_eq_cstr(name, names[i].name)) {
            return (sl_int_t) names[i].type;
        }
    }
    if (name->len < 3 || name->data[0] != '0' || (name->data[1] | 0x20) != 'x') {
        return SL_ERROR;
    }
    sl_int_t type = 0;
    for (size_t i = 2; i < name->len; i++) {
        u_char c = name->data[i], lc = c | 0x20;
        if (c >= '0' && c <= '9') {
            type = type * 16 + (c - '0');
        } else if (lc >= 'a' && lc <= 'f') {
            type = type * 16 + (lc - 'a' + 10);
        } else {
            return SL_ERROR;
        }
        if (type > 0xff) {
            return SL_ERROR;
        }
    }
    return type;
}

/* The first TLV of type in [p, p + len).  SL_OK, SL_DECLINED, SL_ERROR (logged). */
static sl_int_t find_tlv(sl_log_t *log, const u_char *p, size_t len, sl_uint_t type,
                         sl_str_t *value)
{
    while (len > 0) {
        if (len < 3 || uint16_at(p + 1) > len - 3) {
            sl_log_error(SL_LOG_ERR, log, 0, "broken PROXY protocol TLV");
            return SL_ERROR;
        }
        size_t vlen = uint16_at(p + 1);
        if (p[0] == type) {
            value->data = (u_char *) p + 3;
            value->len = vlen;
            return SL_OK;
        }
        p += 3 + vlen;
        len -= 3 + vlen;
    }
    return SL_DECLINED;
}

static sl_int_t ssl_tlv(sl_pool_t *pool, sl_log_t *log, const sl_proxy_protocol_t *pp,
                        const sl_str_t *sub, const sl_str_t *name, sl_str_t *value)
{
    sl_int_t type =
        sl_str_eq_cstr(sub, "verify") ? 0 : tlv_type(sub, ssl_tlv_names, sl_nelems(ssl_tlv_names));
    sl_str_t ssl;

    if (type == SL_ERROR) {
        sl_log_error(SL_LOG_ERR, log, 0, "unknown PROXY protocol TLV \"%.*s\"", SL_STR_ARG(*name));
        return SL_ERROR;
    }
    sl_int_t rc = find_tlv(log, pp->tlvs.data, pp->tlvs.len, TLV_SSL, &ssl);
    if (rc != SL_OK) {
        return rc;
    }
    if (ssl.len < TLV_SSL_FIXED) {
        sl_log_error(SL_LOG_ERR, log, 0, "broken PROXY protocol TLV");
        return SL_ERROR;
    }
    if (type == 0) {
        uint32_t verify = ((uint32_t) ssl.data[1] << 24) | ((uint32_t) ssl.data[2] << 16)
                          | ((uint32_t) ssl.data[3] << 8) | ssl.data[4];
        value->data = sl_pnalloc(pool, sizeof("4294967295"));
        if (value->data == NULL) {
            return SL_ERROR;
        }
        value->len = (size_t) snprintf((char *) value->data, sizeof("4294967295"), "%u", verify);
        return SL_OK;
    }
    return find_tlv(log, ssl.data + TLV_SSL_FIXED, ssl.len - TLV_SSL_FIXED, (sl_uint_t) type,
                    value);
}

sl_int_t sl_proxy_protocol_tlv(sl_pool_t *pool, sl_log_t *log, const sl_proxy_protocol_t *pp,
                               const sl_str_t *name, sl_str_t *value)
{
    if (name->len > 4 && memcmp(name->data, "ssl_", 4) == 0) {
        sl_str_t sub = { name->len - 4, name->data + 4 };
        return ssl_tlv(pool, log, pp, &sub, name, value);
    }
    sl_int_t type = tlv_type(name, tlv_names, sl_nelems(tlv_names));
    if (type == SL_ERROR) {
        sl_log_error(SL_LOG_ERR, log, 0, "unknown PROXY protocol TLV \"%.*s\"", SL_STR_ARG(*name));
        return SL_ERROR;
    }
    return find_tlv(log, pp->tlvs.data, pp->tlvs.len, (sl_uint_t) type, value);
}
