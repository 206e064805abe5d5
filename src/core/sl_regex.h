/*
 * sl_regex.h: PCRE2 regular expressions (location ~, server_name ~, rewrite, if, map), with
 * JIT when available.  Compiled at configuration time; matched with one match-data block
 * per process, so a match allocates nothing.
 */
#ifndef SL_REGEX_H
#define SL_REGEX_H

#include "sl_core.h"
#include "sl_str.h"

typedef struct sl_regex_s sl_regex_t;

typedef struct {
    sl_str_t name;
    /** capture group number */
    sl_uint_t index;
} sl_regex_name_t;

typedef struct {
    sl_str_t pattern;
    unsigned caseless : 1;
    /* results */
    sl_regex_t *regex;
    /** number of capture groups */
    sl_uint_t captures;
    sl_regex_name_t *names;
    sl_uint_t nnames;
    /** "pcre2_compile() failed: ... in \"...\" at \"...\"", for the config error */
    sl_str_t err;
} sl_regex_compile_t;

/* Compiles rc->pattern in pool memory (freed with the pool).  SL_OK, or SL_ERROR with
 * rc->err set. */
sl_int_t sl_regex_compile(sl_pool_t *pool, sl_regex_compile_t *rc);

/*
 * Matches s.  Returns the number of captures filled (>= 1: the whole match counts) with
 * their offsets in captures[0..2n) (start, end pairs), 0 when there is no match, SL_ERROR on
 * a matching failure (resource limits).  size is the number of ints in captures (may be 0
 * when offsets are not needed).
 */
sl_int_t sl_regex_exec(sl_regex_t *re, const sl_str_t *s, int *captures, sl_uint_t size);

/* Frees the process's match data (at exit). */
void sl_regex_cleanup(void);

#endif /* SL_REGEX_H */
