/*
 * sl_http_charset.h: the tables of charset_map and the recoding they drive.
 *
 * A charset_map between two single-byte charsets is a byte table each way.  A map to
 * utf-8 is, one way, a byte to a UTF-8 sequence of at most 4 bytes and, the other way,
 * pages of 256 code points (below U+10000) to a byte, 0 meaning "not in the map".  As
 * nginx: bytes above 0x7f that the map does not name become '?', and a code point the map
 * does not name becomes the HTML entity "&#N;".
 */
#ifndef SL_HTTP_CHARSET_H
#define SL_HTTP_CHARSET_H

#include "sl_core.h"

/* The longest output of one input byte (from-utf8 entity "&#1114111;"). */
#define SL_CHARSET_ENTITY_LEN (sizeof("&#1114111;") - 1)

typedef enum {
    SL_CHARSET_BYTES = 1,
    SL_CHARSET_TO_UTF8,
    SL_CHARSET_FROM_UTF8,
} sl_charset_recode_e;

/* One direction of a charset_map. */
typedef struct {
    sl_charset_recode_e kind;
    /** BYTES: 256 bytes */
    u_char *bytes;
    /** TO_UTF8: 256 entries of [length, up to 4 bytes] */
    u_char (*to_utf8)[5];
    /** FROM_UTF8: 256 pages of 256 bytes, NULL for a page with no mapping */
    u_char **pages;
} sl_charset_recode_t;

/* The state of a from-utf8 recoding across buffers: a sequence cut by a buffer's end. */
typedef struct {
    u_char saved[4];
    size_t saved_len;
} sl_charset_utf8_state_t;

/* Decodes the UTF-8 character at *p (first byte >= 0x80) of n bytes and moves *p past it.
 * Returns the code point, SL_UTF8_INCOMPLETE (n too short; *p unchanged) or SL_UTF8_INVALID
 * (*p moved one byte on). */
#define SL_UTF8_INCOMPLETE 0xfffffffeU
#define SL_UTF8_INVALID 0xffffffffU
uint32_t sl_utf8_decode(const u_char **p, size_t n);

/* Recodes [src, src + n) in place with a byte table; 1 when a byte changed. */
int sl_charset_recode_bytes(const u_char *table, u_char *src, size_t n);

/* Recodes to UTF-8 from src into *dst, up to dst_end; returns the bytes of src used and moves
 * *dst to the end written. */
size_t sl_charset_to_utf8(const u_char (*table)[5], const u_char *src, size_t n, u_char **dst,
                          const u_char *dst_end);

/* Recodes from UTF-8, as sl_charset_to_utf8(); it stops when fewer than
 * SL_CHARSET_ENTITY_LEN bytes are left at *dst.  A sequence cut at the end of src is kept
 * in st (and counted as used) for the next call; with last set it becomes '?'. */
size_t sl_charset_from_utf8(u_char *const *pages, sl_charset_utf8_state_t *st, const u_char *src,
                            size_t n, int last, u_char **dst, const u_char *dst_end);

/* Whether a buffer needs recoding at all (bytes that the table changes, or non-ASCII). */
int sl_charset_changes(const sl_charset_recode_t *rc, const u_char *src, size_t n);

#endif
