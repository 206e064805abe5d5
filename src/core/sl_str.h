/*
 * sl_str.h: strings with a length, and the parsing of numbers, sizes and times as nginx's
 * configuration reads them.
 */
#ifndef SL_STR_H
#define SL_STR_H

#include "sl_core.h"

typedef struct {
    size_t len;
    u_char *data;
} sl_str_t;

#define sl_string(s)                                                                               \
    {                                                                                              \
        sizeof(s) - 1, (u_char *) (s)                                                              \
    }
#define sl_null_string                                                                             \
    {                                                                                              \
        0, NULL                                                                                    \
    }
#define sl_str_set(str, text) ((str)->len = sizeof(text) - 1, (str)->data = (u_char *) (text))

/* printf helpers: printf("%.*s", SL_STR_ARG(s)) prints an sl_str_t. */
#define SL_STR_FMT "%.*s"
#define SL_STR_ARG(s) (int) (s).len, (const char *) (s).data

#define sl_tolower(c) (u_char)(((c) >= 'A' && (c) <= 'Z') ? ((c) | 0x20) : (c))
#define sl_toupper(c) (u_char)(((c) >= 'a' && (c) <= 'z') ? ((c) & ~0x20) : (c))

/* Equal length and bytes. */
int sl_str_eq(const sl_str_t *a, const sl_str_t *b);
/* Equal length and bytes ignoring ASCII case. */
int sl_str_caseeq(const sl_str_t *a, const sl_str_t *b);
/* Compare with a C string literal, exactly. */
int sl_str_eq_cstr(const sl_str_t *a, const char *s);
/* Whether s starts with prefix; if so, *rest is what follows ("weight=5", "weight=" -> "5"). */
int sl_str_skip_prefix(const sl_str_t *s, const char *prefix, sl_str_t *rest);
int sl_strncasecmp(const u_char *a, const u_char *b, size_t n);
/* Whether needle occurs in s, ignoring ASCII case ("keep-alive, Close" has "close"). */
int sl_str_has_casestr(const sl_str_t *s, const char *needle);
void sl_strlow(u_char *dst, const u_char *src, size_t n);

/* Decimal (or lowercase hex) digits of v written at p, no NUL; returns the end.  Room for
 * SL_INT64_LEN (16 for hex) bytes is always enough.  For the hot paths printf is too slow
 * for. */
u_char *sl_sprint_uint(u_char *p, uint64_t v);
u_char *sl_sprint_int(u_char *p, int64_t v);
u_char *sl_sprint_hex(u_char *p, uint64_t v);

/*
 * Percent-escaping of a decoded uri path for a request line, with the byte set nginx 1.22
 * escapes when it re-sends a rewritten or decoded uri upstream: controls, space, 0x7f and
 * above, and " # % < > ? \ ^ ` { | }.  sl_escape_uri_len() is the escaped size;
 * sl_escape_uri() writes it (upper-case hex) and returns the end.
 */
size_t sl_escape_uri_len(const u_char *src, size_t n);
u_char *sl_escape_uri(u_char *dst, const u_char *src, size_t n);

/* Copies into pool memory with a trailing NUL (not counted in len).  NULL on failure. */
u_char *sl_pstrdup(sl_pool_t *pool, const sl_str_t *src);

/*
 * Number parsers.  Each returns the value, or SL_ERROR (-1) for an empty string, a byte
 * that does not belong, or overflow.
 */
sl_int_t sl_atoi(const u_char *p, size_t n);
off_t sl_atoof(const u_char *p, size_t n);
sl_int_t sl_hextoi(const u_char *p, size_t n);
/* The digits at p (before end) into *v: the byte after them, or NULL when there is no
 * digit or the value overflows off_t.  For numbers inside a header value (ranges). */
const u_char *sl_scan_off(const u_char *p, const u_char *end, off_t *v);
/* p past any spaces (not tabs), at most to end. */
const u_char *sl_skip_spaces(const u_char *p, const u_char *end);

/* "10", "8k", "1m" (case-insensitive units; no "g", as nginx); SL_ERROR on a bad value. */
ssize_t sl_parse_size(const sl_str_t *s);
/* As sl_parse_size(), and "1g" too. */
off_t sl_parse_offset(const sl_str_t *s);

/*
 * nginx time values: a sequence of number+unit parts, "1h 30m", "500ms", "90" (a bare
 * number is seconds).  Units ms s m h d w M y, largest first; "y" and "M" only with is_sec,
 * "ms" only without.  Returns milliseconds (or seconds when is_sec), SL_ERROR on a bad value
 * or above 2147483647 of the unit returned (nginx's limit).
 */
sl_int_t sl_parse_time(const sl_str_t *s, int is_sec);

#endif /* SL_STR_H */
