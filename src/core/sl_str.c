/*
 * sl_str.c: length-carrying strings and nginx's number, size and time syntax.
 */
#include "sl_str.h"
#include "sl_pool.h"

int sl_str_eq(const sl_str_t *a, const sl_str_t *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

int sl_str_caseeq(const sl_str_t *a, const sl_str_t *b)
{
    return a->len == b->len && sl_strncasecmp(a->data, b->data, a->len) == 0;
}

int sl_str_eq_cstr(const sl_str_t *a, const char *s)
{
    size_t n = strlen(s);

    return a->len == n && (n == 0 || memcmp(a->data, s, n) == 0);
}

/* ASCII lowercase of every byte: one load per byte instead of two compares. */
// clang-format off
#define L4(c) (c) + 0, (c) + 1, (c) + 2, (c) + 3
#define L16(c) L4(c), L4((c) + 4), L4((c) + 8), L4((c) + 12)
static const u_char lowcase[256] = {
    L16(0x00), L16(0x10), L16(0x20), L16(0x30),
    0x40, L4(0x61), L4(0x65), L4(0x69), L4(0x6d), L4(0x71), L4(0x75), 0x79, 0x7a,
    0x5b, 0x5c, 0x5d, 0x5e, 0x5f,
    L16(0x60), L16(0x70), L16(0x80), L16(0x90), L16(0xa0), L16(0xb0), L16(0xc0), L16(0xd0),
    L16(0xe0), L16(0xf0),
};
// clang-format on

int sl_strncasecmp(const u_char *a, const u_char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        u_char ca = lowcase[a[i]];
        u_char cb = lowcase[b[i]];

        if (ca != cb) {
            return ca - cb;
        }
    }
    return 0;
}

u_char *sl_sprint_uint(u_char *p, uint64_t v)
{
    u_char tmp[SL_INT64_LEN];
    u_char *t = tmp + sizeof(tmp);

    do {
        *--t = (u_char) ('0' + v % 10);
        v /= 10;
    } while (v);
    size_t n = (size_t) (tmp + sizeof(tmp) - t);
    memcpy(p, t, n);
    return p + n;
}

u_char *sl_sprint_int(u_char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return sl_sprint_uint(p, (uint64_t) 0 - (uint64_t) v);
    }
    return sl_sprint_uint(p, (uint64_t) v);
}

u_char *sl_sprint_hex(u_char *p, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    u_char tmp[16];
    u_char *t = tmp + sizeof(tmp);

    do {
        *--t = (u_char) digits[v & 0xf];
        v >>= 4;
    } while (v);
    size_t n = (size_t) (tmp + sizeof(tmp) - t);
    memcpy(p, t, n);
    return p + n;
}

void sl_strlow(u_char *dst, const u_char *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        dst[i] = sl_tolower(src[i]);
    }
}

u_char *sl_pstrdup(sl_pool_t *pool, const sl_str_t *src)
{
    u_char *dst = sl_pnalloc(pool, src->len + 1);

    if (dst == NULL) {
        return NULL;
    }
    if (src->len) {
        memcpy(dst, src->data, src->len);
    }
    dst[src->len] = '\0';
    return dst;
}

sl_int_t sl_atoi(const u_char *p, size_t n)
{
    sl_int_t value = 0;

    if (n == 0) {
        return SL_ERROR;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return SL_ERROR;
        }
        sl_int_t d = p[i] - '0';
        if (value > (INTPTR_MAX - d) / 10) {
            return SL_ERROR;
        }
        value = value * 10 + d;
    }
    return value;
}

const u_char *sl_scan_off(const u_char *p, const u_char *end, off_t *v)
{
    const off_t cutoff = SL_MAX_OFF_T_VALUE / 10, cutlim = SL_MAX_OFF_T_VALUE % 10;

    if (p == end || *p < '0' || *p > '9') {
        return NULL;
    }
    for (*v = 0; p < end && *p >= '0' && *p <= '9'; p++) {
        off_t d = *p - '0';
        if (*v > cutoff || (*v == cutoff && d > cutlim)) {
            return NULL;
        }
        *v = *v * 10 + d;
    }
    return p;
}

const u_char *sl_skip_spaces(const u_char *p, const u_char *end)
{
    while (p < end && *p == ' ') {
        p++;
    }
    return p;
}

off_t sl_atoof(const u_char *p, size_t n)
{
    off_t value = 0;

    if (n == 0) {
        return SL_ERROR;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return SL_ERROR;
        }
        off_t d = p[i] - '0';
        if (value > (SL_MAX_OFF_T_VALUE - d) / 10) {
            return SL_ERROR;
        }
        value = value * 10 + d;
    }
    return value;
}

/* The set was found by sending every byte through a rewrite to nginx 1.22 and reading the
 * request line it sent upstream. */
static int uri_byte_escaped(u_char c)
{
    return c <= 0x20 || c >= 0x7f || strchr("\"#%<>?\\^`{|}", c) != NULL;
}

size_t sl_escape_uri_len(const u_char *src, size_t n)
{
    size_t len = n;

    for (size_t i = 0; i < n; i++) {
        len += uri_byte_escaped(src[i]) ? 2 : 0;
    }
    return len;
}

u_char *sl_escape_uri(u_char *dst, const u_char *src, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";

    for (size_t i = 0; i < n; i++) {
        if (uri_byte_escaped(src[i])) {
            *dst++ = '%';
            *dst++ = (u_char) hex[src[i] >> 4];
            *dst++ = (u_char) hex[src[i] & 0xf];
        } else {
            *dst++ = src[i];
        }
    }
    return dst;
}

sl_int_t sl_hextoi(const u_char *p, size_t n)
{
    sl_int_t value = 0;

    if (n == 0) {
        return SL_ERROR;
    }
    for (size_t i = 0; i < n; i++) {
        u_char c = p[i];
        sl_int_t d;

        if (c >= '0' && c <= '9') {
            d = c - '0';
        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            d = (c | 0x20) - 'a' + 10;
        } else {
            return SL_ERROR;
        }
        if (value > (INTPTR_MAX - d) / 16) {
            return SL_ERROR;
        }
        value = value * 16 + d;
    }
    return value;
}

/* The multiplier for a trailing k/m/g unit, 1 if there is none; len loses the unit. */
static int64_t size_unit(const sl_str_t *s, size_t *len)
{
    *len = s->len;
    if (s->len == 0) {
        return 1;
    }
    switch (s->data[s->len - 1]) {
    case 'K':
    case 'k':
        (*len)--;
        return 1024;
    case 'M':
    case 'm':
        (*len)--;
        return 1024 * 1024;
    case 'G':
    case 'g':
        (*len)--;
        return 1024 * 1024 * 1024;
    default:
        return 1;
    }
}

ssize_t sl_parse_size(const sl_str_t *s)
{
    size_t len;
    int64_t scale = size_unit(s, &len);

    /* nginx's size_t parser does not take the "g" unit. */
    if (scale == 1024 * 1024 * 1024) {
        return SL_ERROR;
    }
    sl_int_t v = sl_atoi(s->data, len);
    if (v == SL_ERROR || v > (sl_int_t) (SSIZE_MAX / scale)) {
        return SL_ERROR;
    }
    return (ssize_t) (v * scale);
}

off_t sl_parse_offset(const sl_str_t *s)
{
    size_t len;
    int64_t scale = size_unit(s, &len);
    off_t v = sl_atoof(s->data, len);

    if (v == SL_ERROR || v > SL_MAX_OFF_T_VALUE / scale) {
        return SL_ERROR;
    }
    return v * scale;
}

/*
 * nginx's time units, largest first.  A unit may only follow a smaller-ranked one ("1h 30m",
 * never "30m 1h"); a space right after digits closes them as seconds (so "5 3" is 8s, as in
 * nginx).  Millisecond values start at rank MONTH: "y" and "M" are for seconds only.
 */
enum { T_START, T_YEAR, T_MONTH, T_WEEK, T_DAY, T_HOUR, T_MIN, T_SEC, T_MSEC, T_LAST };

typedef struct {
    int rank;
    /** seconds per unit; 0 for "ms" */
    int64_t sec;
} time_unit_t;

/* The unit at p (consuming one or two bytes), or rank -1 for an unknown one. */
static time_unit_t time_unit(const u_char **p, const u_char *end)
{
    u_char c = *(*p)++;

    switch (c) {
    case 'y':
        return (time_unit_t){ T_YEAR, 365LL * 24 * 3600 };
    case 'M':
        return (time_unit_t){ T_MONTH, 30LL * 24 * 3600 };
    case 'w':
        return (time_unit_t){ T_WEEK, 7LL * 24 * 3600 };
    case 'd':
        return (time_unit_t){ T_DAY, 24LL * 3600 };
    case 'h':
        return (time_unit_t){ T_HOUR, 3600 };
    case 'm':
        if (*p < end && **p == 's') {
            (*p)++;
            return (time_unit_t){ T_MSEC, 0 };
        }
        return (time_unit_t){ T_MIN, 60 };
    case 's':
        return (time_unit_t){ T_SEC, 1 };
    case ' ':
        return (time_unit_t){ T_LAST, 1 };
    default:
        return (time_unit_t){ -1, 0 };
    }
}

/* Whether unit u may follow a part of rank step (nginx's order rules, quirks included). */
static int time_unit_allowed(time_unit_t u, int step, int is_sec)
{
    switch (u.rank) {
    case T_YEAR:
        return step == T_START;
    case T_MSEC:
        return !is_sec && step < T_MSEC;
    case T_LAST:
        return step < T_SEC;
    default:
        return u.rank > 0 && step < u.rank;
    }
}

/* nginx 1.22 takes any time that fits its signed integer (checked with nginx -t: "25d" and
 * "9223372036854775807ms" pass); timers are 64-bit here too. */
#define SL_MAX_TIME_VALUE INT64_MAX

/* Adds value units to *total; SL_ERROR past SL_MAX_TIME_VALUE. */
static sl_int_t time_add(int64_t *total, int64_t value, int64_t scale)
{
    if (value > SL_MAX_TIME_VALUE / scale || *total > SL_MAX_TIME_VALUE - value * scale) {
        return SL_ERROR;
    }
    *total += value * scale;
    return SL_OK;
}

sl_int_t sl_parse_time(const sl_str_t *s, int is_sec)
{
    const u_char *p = s->data, *end = s->data + s->len;
    int64_t total = 0, value = 0;
    int step = is_sec ? T_START : T_MONTH, valid = 0;

    while (p < end) {
        if (*p >= '0' && *p <= '9') {
            if (value > (INT64_MAX - (*p - '0')) / 10) {
                return SL_ERROR;
            }
            value = value * 10 + (*p++ - '0');
            valid = 1;
            continue;
        }
        time_unit_t u = time_unit(&p, end);
        if (!time_unit_allowed(u, step, is_sec)) {
            return SL_ERROR;
        }
        step = u.rank;
        int64_t scale = u.rank == T_MSEC ? 1 : (is_sec ? u.sec : u.sec * 1000);
        if (time_add(&total, value, scale) != SL_OK) {
            return SL_ERROR;
        }
        value = 0;
        while (p < end && *p == ' ') {
            p++;
        }
    }
    /* Trailing digits without a unit are seconds, whatever came before ("1m 30"). */
    if (!valid || time_add(&total, value, is_sec ? 1 : 1000) != SL_OK || total > INTPTR_MAX) {
        return SL_ERROR;
    }
    return (sl_int_t) total;
}

int sl_str_skip_prefix(const sl_str_t *s, const char *prefix, sl_str_t *rest)
{
    size_t n = strlen(prefix);

    if (s->len < n || memcmp(s->data, prefix, n) != 0) {
        return 0;
    }
    rest->data = s->data + n;
    rest->len = s->len - n;
    return 1;
}

int sl_str_has_casestr(const sl_str_t *s, const char *needle)
{
    size_t n = strlen(needle);

    for (size_t i = 0; i + n <= s->len; i++) {
        if (sl_strncasecmp(s->data + i, (const u_char *) needle, n) == 0) {
            return 1;
        }
    }
    return 0;
}
