/*
 * sl_http_charset_recode.c: recoding bytes through charset_map tables; see sl_http_charset.h.
 */
#include <stdio.h>

#include "sl_http_charset.h"

static size_t utf8_length(u_char lead)
{
    if (lead >= 0xc2 && lead <= 0xdf) {
        return 2;
    }
    if (lead >= 0xe0 && lead <= 0xef) {
        return 3;
    }
    if (lead >= 0xf0 && lead <= 0xf4) {
        return 4;
    }
    return 0;
}

uint32_t sl_utf8_decode(const u_char **p, size_t n)
{
    static const uint32_t least[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    const u_char *s = *p;
    size_t len = utf8_length(s[0]);

    if (len == 0) {
        (*p)++;
        return SL_UTF8_INVALID;
    }
    uint32_t cp = s[0] & (0xff >> (len + 1));
    for (size_t i = 1; i < len; i++) {
        if (i >= n) {
            return SL_UTF8_INCOMPLETE;
        }
        if ((s[i] & 0xc0) != 0x80) {
            (*p)++;
            return SL_UTF8_INVALID;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < least[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        (*p)++;
        return SL_UTF8_INVALID;
    }
    *p = s + len;
    return cp;
}

int sl_charset_recode_bytes(const u_char *table, u_char *src, size_t n)
{
    int changed = 0;

    for (size_t i = 0; i < n; i++) {
        if (table[src[i]] != src[i]) {
            src[i] = table[src[i]];
            changed = 1;
        }
    }
    return changed;
}

size_t sl_charset_to_utf8(const u_char (*table)[5], const u_char *src, size_t n, u_char **dst,
                          const u_char *dst_end)
{
    u_char *d = *dst;
    size_t i;

    for (i = 0; i < n && dst_end - d >= 4; i++) {
        const u_char *e = table[src[i]];
        memcpy(d, e + 1, e[0]);
        d += e[0];
    }
    *dst = d;
    return i;
}

/* One decoded character out: its byte in the map, its entity, or '?' when invalid. */
static u_char *put_char(u_char *const *pages, uint32_t cp, u_char *dst)
{
    if (cp == SL_UTF8_INVALID || cp == SL_UTF8_INCOMPLETE) {
        *dst++ = '?';
        return dst;
    }
    if (cp < 0x10000 && pages[cp >> 8] && pages[cp >> 8][cp & 0xff]) {
        *dst++ = pages[cp >> 8][cp & 0xff];
        return dst;
    }
    return dst + snprintf((char *) dst, SL_CHARSET_ENTITY_LEN + 1, "&#%u;", (unsigned) cp);
}

/* Completes the sequence a previous buffer ended in with the first bytes of this one and
 * writes that character; returns how many bytes of src it took.  Still short (a buffer of a
 * byte or two), the bytes join the saved ones, unless this is the last buffer. */
static size_t finish_saved(u_char *const *pages, sl_charset_utf8_state_t *st, const u_char *src,
                           size_t n, int last, u_char **dst)
{
    size_t saved = st->saved_len, take = sl_min(sizeof(st->saved) - saved, n);
    u_char seq[sizeof(st->saved)];

    memcpy(seq, st->saved, saved);
    memcpy(seq + saved, src, take);
    const u_char *p = seq;
    uint32_t cp = sl_utf8_decode(&p, saved + take);
    if (cp == SL_UTF8_INCOMPLETE && !last) {
        memcpy(st->saved + saved, src, take);
        st->saved_len += take;
        return take;
    }
    st->saved_len = 0;
    *dst = put_char(pages, cp, *dst);
    if (cp == SL_UTF8_INCOMPLETE) {
        return take;
    }
    /* invalid: the saved bytes were a valid start, so the byte of src that broke the
     * sequence is decoded again on its own */
    return cp == SL_UTF8_INVALID ? 0 : (size_t) (p - seq) - saved;
}

size_t sl_charset_from_utf8(u_char *const *pages, sl_charset_utf8_state_t *st, const u_char *src,
                            size_t n, int last, u_char **dst, const u_char *dst_end)
{
    const u_char *start = src, *end = src + n;
    u_char *d = *dst;

    if (st->saved_len && dst_end - d >= (ptrdiff_t) SL_CHARSET_ENTITY_LEN) {
        src += finish_saved(pages, st, src, n, last, &d);
    }
    while (st->saved_len == 0 && src < end && dst_end - d >= (ptrdiff_t) SL_CHARSET_ENTITY_LEN) {
        if (*src < 0x80) {
            *d++ = *src++;
            continue;
        }
        const u_char *p = src;
        uint32_t cp = sl_utf8_decode(&p, (size_t) (end - src));
        if (cp == SL_UTF8_INCOMPLETE && !last) {
            memcpy(st->saved, src, (size_t) (end - src));
            st->saved_len = (size_t) (end - src);
            src = end;
            break;
        }
        d = put_char(pages, cp, d);
        src = cp == SL_UTF8_INCOMPLETE ? end : p;
    }
    *dst = d;
    return (size_t) (src - start);
}

int sl_charset_changes(const sl_charset_recode_t *rc, const u_char *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (rc->kind) {
        case SL_CHARSET_BYTES:
            if (rc->bytes[src[i]] != src[i]) {
                return 1;
            }
            break;
        case SL_CHARSET_TO_UTF8:
            if (rc->to_utf8[src[i]][0] != 1 || rc->to_utf8[src[i]][1] != src[i]) {
                return 1;
            }
            break;
        case SL_CHARSET_FROM_UTF8:
            if (src[i] >= 0x80) {
                return 1;
            }
            break;
        }
    }
    return 0;
}
