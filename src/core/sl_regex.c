/*
 * sl_regex.c: PCRE2 behind a small interface.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>

#include "sl_pool.h"
#include "sl_regex.h"

struct sl_regex_s {
    pcre2_code *code;
};

static pcre2_match_data *match_data;
static uint32_t match_data_size;

static void free_code(void *data)
{
    sl_regex_t *re = data;

    pcre2_code_free(re->code);
}

static sl_int_t compile_error(sl_pool_t *pool, sl_regex_compile_t *rc, int errcode,
                              PCRE2_SIZE offset)
{
    PCRE2_UCHAR msg[256];
    char text[512];

    pcre2_get_error_message(errcode, msg, sizeof(msg));
    /* nginx leaves out the "at" part when the error is at the end of the pattern */
    int n = offset >= rc->pattern.len
                ? snprintf(text, sizeof(text), "pcre2_compile() failed: %s in \"%.*s\"",
                           (char *) msg, SL_STR_ARG(rc->pattern))
                : snprintf(text, sizeof(text), "pcre2_compile() failed: %s in \"%.*s\" at \"%.*s\"",
                           (char *) msg, SL_STR_ARG(rc->pattern), (int) (rc->pattern.len - offset),
                           (char *) rc->pattern.data + offset);
    n = n < 0 ? 0 : sl_min(n, (int) sizeof(text) - 1);
    rc->err.data = sl_pnalloc(pool, (size_t) n + 1);
    if (rc->err.data) {
        memcpy(rc->err.data, text, (size_t) n + 1);
        rc->err.len = (size_t) n;
    }
    return SL_ERROR;
}

static sl_int_t read_names(sl_pool_t *pool, sl_regex_compile_t *rc, pcre2_code *code)
{
    uint32_t count = 0, entry = 0;
    PCRE2_SPTR table;

    pcre2_pattern_info(code, PCRE2_INFO_NAMECOUNT, &count);
    if (count == 0) {
        return SL_OK;
    }
    pcre2_pattern_info(code, PCRE2_INFO_NAMEENTRYSIZE, &entry);
    pcre2_pattern_info(code, PCRE2_INFO_NAMETABLE, &table);
    rc->names = sl_palloc(pool, count * sizeof(sl_regex_name_t));
    if (rc->names == NULL) {
        return SL_ERROR;
    }
    for (uint32_t i = 0; i < count; i++) {
        const u_char *e = table + i * entry;
        rc->names[i].index = ((sl_uint_t) e[0] << 8) | e[1];
        rc->names[i].name.data = (u_char *) e + 2;
        rc->names[i].name.len = strlen((const char *) e + 2);
    }
    rc->nnames = count;
    return SL_OK;
}

sl_int_t sl_regex_compile(sl_pool_t *pool, sl_regex_compile_t *rc)
{
    int errcode;
    PCRE2_SIZE offset;
    uint32_t options = rc->caseless ? PCRE2_CASELESS : 0;
    pcre2_code *code =
        pcre2_compile(rc->pattern.data, rc->pattern.len, options, &errcode, &offset, NULL);

    if (code == NULL) {
        return compile_error(pool, rc, errcode, offset);
    }
    /* JIT is an optimisation: without it (no executable memory) matching still works. */
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);

    sl_pool_cleanup_t *cln = sl_pool_cleanup_add(pool, 0);
    rc->regex = sl_palloc(pool, sizeof(sl_regex_t));
    if (cln == NULL || rc->regex == NULL) {
        pcre2_code_free(code);
        return SL_ERROR;
    }
    rc->regex->code = code;
    cln->handler = free_code;
    cln->data = rc->regex;

    uint32_t captures = 0;
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &captures);
    rc->captures = captures;
    return read_names(pool, rc, code);
}

/* One match-data block, grown to the largest capture count seen, reused by every match. */
static int ensure_match_data(uint32_t pairs)
{
    if (match_data && match_data_size >= pairs) {
        return 1;
    }
    uint32_t size = sl_max(pairs, 16);
    pcre2_match_data *md = pcre2_match_data_create(size, NULL);
    if (md == NULL) {
        return 0;
    }
    pcre2_match_data_free(match_data);
    match_data = md;
    match_data_size = size;
    return 1;
}

sl_int_t sl_regex_exec(sl_regex_t *re, const sl_str_t *s, int *captures, sl_uint_t size)
{
    uint32_t groups = 0;

    pcre2_pattern_info(re->code, PCRE2_INFO_CAPTURECOUNT, &groups);
    if (!ensure_match_data(groups + 1)) {
        return SL_ERROR;
    }
    int rc =
        pcre2_match(re->code, s->data ? s->data : (PCRE2_SPTR) "", s->len, 0, 0, match_data, NULL);
    if (rc == PCRE2_ERROR_NOMATCH) {
        return 0;
    }
    if (rc < 0) {
        return SL_ERROR;
    }
    if (rc == 0) {
        rc = (int) match_data_size;
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(match_data);
    sl_uint_t n = sl_min((sl_uint_t) rc, size / 2);
    for (sl_uint_t i = 0; i < n; i++) {
        /* Unset groups have PCRE2_UNSET in both: report them as empty at 0. */
        int unset = ov[2 * i] == PCRE2_UNSET;
        captures[2 * i] = unset ? 0 : (int) ov[2 * i];
        captures[2 * i + 1] = unset ? 0 : (int) ov[2 * i + 1];
    }
    return rc;
}

void sl_regex_cleanup(void)
{
    pcre2_match_data_free(match_data);
    match_data = NULL;
    match_data_size = 0;
}
