/*
 * sl_http_parse_uri.c: normalization of the request path (percent-decoding, dot segments,
 * slash merging), as nginx applies it before location matching.
 *
 * Decoding comes first and every decoded byte counts: "%2e%2e" is a ".." segment and "%2F"
 * a '/', which is what nginx 1.22 does ("/a/%2e%2e/b" and "/a%2F..%2Fb" both give "/b").
 */
#include "sl_http_parse.h"

/* What the output ends with, since the last '/' written. */
enum { N_SEG = 0, N_SLASH, N_DOT, N_DOTDOT };

static int hex_value(u_char c)
{
    if ((u_char) (c - '0') < 10) {
        return c - '0';
    }
    c |= 0x20;
    if ((u_char) (c - 'a') < 6) {
        return c - 'a' + 10;
    }
    return -1;
}

/*
 * The decoded byte at *s (advanced past it), or -1 for a '%' without two hex digits before
 * end, or a decoded NUL.
 */
static int next_byte(u_char **s, const u_char *end)
{
    u_char *p = *s;
    int hi, lo;

    if (*p != '%') {
        *s = p + 1;
        return *p;
    }
    if (end - p < 3 || (hi = hex_value(p[1])) < 0 || (lo = hex_value(p[2])) < 0) {
        return -1;
    }
    *s = p + 3;
    return hi * 16 + lo ? hi * 16 + lo : -1;
}

/*
 * A ".." segment: *d is right after the '/' before it; drops the segment before that '/'.
 * -1 when that '/' is the root.
 */
static int up_segment(u_char *dst, u_char **d)
{
    u_char *q = *d - 1;

    if (q == dst) {
        return -1;
    }
    do {
        q--;
    } while (*q != '/');
    *d = q + 1;
    return 0;
}

/* Writes decoded byte c after the output so far, in state *st. */
static int put_byte(u_char *dst, u_char **d, int *st, u_char c, int merge_slashes)
{
    u_char *o = *d;

    if (c == '/') {
        switch (*st) {
        case N_SLASH:
            if (!merge_slashes) {
                *o++ = '/';
            }
            break;
        case N_DOT:
            break; /* "/./" -> "/" */
        case N_DOTDOT:
            if (up_segment(dst, &o) != 0) {
                return -1;
            }
            break;
        default:
            *o++ = '/';
        }
        *st = N_SLASH;
    } else if (c == '.' && (*st == N_SLASH || *st == N_DOT)) {
        (*st)++; /* N_SLASH -> N_DOT -> N_DOTDOT, nothing written yet */
    } else {
        if (*st == N_DOT || *st == N_DOTDOT) {
            /* ".x", "..x", "...": an ordinary segment after all */
            *o++ = '.';
            if (*st == N_DOTDOT) {
                *o++ = '.';
            }
        }
        *o++ = c;
        *st = N_SEG;
    }
    *d = o;
    return 0;
}

sl_int_t sl_http_parse_complex_uri(sl_http_parse_t *p, u_char *dst, sl_str_t *out,
                                   int merge_slashes)
{
    u_char *s = p->path_start, *end = p->path_end, *d = dst;
    int st = N_SLASH, c;

    if (s == NULL || s >= end || *s != '/') {
        return SL_HTTP_PARSE_INVALID_REQUEST;
    }
    *d++ = '/';
    s++;
    while (s < end) {
        c = next_byte(&s, end);
        if (c < 0 || put_byte(dst, &d, &st, (u_char) c, merge_slashes) != 0) {
            return SL_HTTP_PARSE_INVALID_REQUEST;
        }
    }
    /* a trailing "/." leaves the '/'; a trailing "/.." goes up */
    if (st == N_DOTDOT && up_segment(dst, &d) != 0) {
        return SL_HTTP_PARSE_INVALID_REQUEST;
    }
    out->data = dst;
    out->len = (size_t) (d - dst);
    return SL_OK;
}

u_char *sl_http_uri_ext(const u_char *start, const u_char *end)
{
    const u_char *seg = end, *dot = NULL;

    while (seg > start && seg[-1] != '/') {
        seg--;
        if (*seg == '.' && dot == NULL) {
            dot = seg;
        }
    }
    if (dot == NULL) {
        return NULL;
    }
    /* as nginx: no extension when only "", "." or ".." precede the last dot */
    size_t n = (size_t) (dot - seg);
    if (n == 0 || (n <= 2 && seg[0] == '.' && seg[n - 1] == '.')) {
        return NULL;
    }
    return (u_char *) dot + 1;
}

/* A "." or ".." segment anywhere in path, or a NUL: a path that could climb out of where
 * it is meant to stay. */
static int climbs(const u_char *p, const u_char *end)
{
    if (memchr(p, '\0', (size_t) (end - p))) {
        return 1;
    }
    while (p < end) {
        const u_char *seg = p;
        while (p < end && *p != '/') {
            p++;
        }
        size_t n = (size_t) (p - seg);
        if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.')) {
            return 1;
        }
        p++;
    }
    return 0;
}

/*
 * Decodes the %XX of s into d (room for end - s bytes) as nginx 1.22 decodes an
 * X-Accel-Redirect uri: a '%' before a byte that is no hex digit is dropped and the byte
 * kept ("%zz" -> "zz"), "%" and a hex digit before one that is not are dropped with it
 * ("%2zq" -> "q"), and a '%' cut short at the end is dropped.  Returns the end of the
 * result.
 */
static u_char *unescape(u_char *d, const u_char *s, const u_char *end)
{
    while (s < end) {
        if (*s != '%') {
            *d++ = *s++;
            continue;
        }
        if (++s == end) {
            break;
        }
        int hi = hex_value(*s);
        if (hi < 0) {
            *d++ = *s++;
            continue;
        }
        if (++s == end) {
            break;
        }
        int lo = hex_value(*s++);
        if (lo >= 0) {
            *d++ = (u_char) (hi * 16 + lo);
        }
    }
    return d;
}

sl_int_t sl_http_parse_unsafe_uri(u_char *dst, sl_str_t *uri, sl_str_t *args)
{
    sl_str_t u = *uri;

    if (u.len == 0 || u.data[0] == '?') {
        return SL_DECLINED;
    }
    u_char *q = memchr(u.data, '?', u.len);
    if (q != NULL) {
        args->data = q + 1;
        args->len = (size_t) (u.data + u.len - args->data);
        u.len = (size_t) (q - u.data);
    }
    if (memchr(u.data, '%', u.len) != NULL) {
        /* decoded once; a decoded '?' is part of the path, a decoded ".." is refused */
        u_char *end = unescape(dst, u.data, u.data + u.len);
        u.data = dst;
        u.len = (size_t) (end - dst);
    }
    *uri = u;
    return climbs(u.data, u.data + u.len) ? SL_DECLINED : SL_OK;
}
