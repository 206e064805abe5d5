/*
 * sl_upstream_headers.c: the upstream's response headers: which of them sluice acts on a
 * name is, finding one, passing one on to the client.
 *
 * Every header an upstream sends is looked at several times (framing, hiding, X-Accel-*,
 * Location, the intercepts); comparing each name with a dozen strings each time was the
 * largest single cost of a small proxied response.  The length picks at most three
 * candidates, so one classification is a switch and a compare of a few words.
 */
#include "sl_upstream.h"

/*
 * Words of the name with ASCII capitals made small, eight (or four) bytes at a time: a
 * byte from 'A' to 'Z' gets its 0x20 bit.  The high bit is masked before the additions so
 * no byte carries into the next, and a byte with it set stays unequal to any literal.
 */
#define LETTERS_64(t, x, ones)                                                                     \
    (((t) + 0x3f * (ones)) & ~((t) + 0x25 * (ones)) & ~(x) &0x80 * (ones))

static inline uint64_t lower64(const u_char *p)
{
    uint64_t x;

    memcpy(&x, p, 8);
    uint64_t t = x & 0x7f7f7f7f7f7f7f7fULL;
    return x | LETTERS_64(t, x, 0x0101010101010101ULL) >> 2;
}

static inline uint32_t lower32(const u_char *p)
{
    uint32_t x;

    memcpy(&x, p, 4);
    uint32_t t = x & 0x7f7f7f7fU;
    return x | LETTERS_64(t, x, 0x01010101U) >> 2;
}

static inline uint64_t lit64(const char *s)
{
    uint64_t v;

    memcpy(&v, s, 8);
    return v;
}

static inline uint32_t lit32(const char *s)
{
    uint32_t v;

    memcpy(&v, s, 4);
    return v;
}

/* name (n bytes, n >= 4) equals lit, a lowercase literal of n bytes, ignoring ASCII case;
 * the last word overlaps the one before when n is not a multiple of the word. */
static inline __attribute__((always_inline)) int name_eq(const u_char *name, const char *lit,
                                                         size_t n)
{
    if (n < 8) {
        return lower32(name) == lit32(lit) && lower32(name + n - 4) == lit32(lit + n - 4);
    }
    for (size_t i = 0; i + 8 <= n; i += 8) {
        if (lower64(name + i) != lit64(lit + i)) {
            return 0;
        }
    }
    return lower64(name + n - 8) == lit64(lit + n - 8);
}

#define KIND(lit, kind)                                                                            \
    if (name_eq(p, lit, sizeof(lit) - 1)) {                                                        \
        return kind;                                                                               \
    }

sl_uint_t sl_upstream_header_kind(const sl_str_t *name)
{
    const u_char *p = name->data;

    switch (name->len) {
    case 4:
        KIND("date", SL_UPSTREAM_H_DATE);
        KIND("etag", SL_UPSTREAM_H_ETAG);
        KIND("vary", SL_UPSTREAM_H_VARY);
        break;
    case 5:
        KIND("x-pad", SL_UPSTREAM_H_X_PAD);
        break;
    case 6:
        KIND("server", SL_UPSTREAM_H_SERVER);
        break;
    case 7:
        KIND("expires", SL_UPSTREAM_H_EXPIRES);
        KIND("refresh", SL_UPSTREAM_H_REFRESH);
        break;
    case 8:
        KIND("location", SL_UPSTREAM_H_LOCATION);
        break;
    case 10:
        KIND("connection", SL_UPSTREAM_H_CONNECTION);
        KIND("keep-alive", SL_UPSTREAM_H_KEEP_ALIVE);
        KIND("set-cookie", SL_UPSTREAM_H_SET_COOKIE);
        break;
    case 12:
        KIND("content-type", SL_UPSTREAM_H_CONTENT_TYPE);
        break;
    case 13:
        KIND("last-modified", SL_UPSTREAM_H_LAST_MODIFIED);
        KIND("cache-control", SL_UPSTREAM_H_CACHE_CONTROL);
        KIND("accept-ranges", SL_UPSTREAM_H_ACCEPT_RANGES);
        KIND("content-range", SL_UPSTREAM_H_CONTENT_RANGE);
        break;
    case 14:
        KIND("content-length", SL_UPSTREAM_H_CONTENT_LENGTH);
        break;
    case 15:
        KIND("x-accel-charset", SL_UPSTREAM_H_XA_CHARSET);
        KIND("x-accel-expires", SL_UPSTREAM_H_XA_EXPIRES);
        break;
    case 16:
        KIND("x-accel-redirect", SL_UPSTREAM_H_XA_REDIRECT);
        KIND("www-authenticate", SL_UPSTREAM_H_WWW_AUTHENTICATE);
        KIND("content-encoding", SL_UPSTREAM_H_CONTENT_ENCODING);
        break;
    case 17:
        KIND("transfer-encoding", SL_UPSTREAM_H_TRANSFER_ENCODING);
        KIND("x-accel-buffering", SL_UPSTREAM_H_XA_BUFFERING);
        break;
    case 18:
        KIND("x-accel-limit-rate", SL_UPSTREAM_H_XA_LIMIT_RATE);
        break;
    }
    return SL_UPSTREAM_H_OTHER;
}

const sl_table_elt_t *sl_upstream_find_header(sl_upstream_t *u, sl_uint_t kind)
{
    if (!(u->headers_in.seen & SL_UPSTREAM_H_BIT(kind))) {
        return NULL;
    }
    SL_LIST_FOREACH(&u->headers_in.headers, part, i, sl_table_elt_t, h)
    {
        if (sl_upstream_elt_kind(h) == kind) {
            return h;
        }
    }
    return NULL;
}

sl_table_elt_t *sl_upstream_pass_header(sl_http_request_t *r, const sl_table_elt_t *h)
{
    sl_table_elt_t *o = sl_list_push(&r->headers_out.headers);

    if (o != NULL) {
        *o = *h;
        o->hash = 1;
        o->next = NULL;
    }
    return o;
}
