/*
 * sl_http_ssi.h: the SSI command parser, fed a document in pieces of any size.  Text is
 * copied to the caller's output buffer as it is met; "<!--# name key="value" ... -->"
 * becomes a command (name and parameters).  A prefix of "<!--#" cut by a buffer's end is
 * held and written out with the next piece when it turns out to be text.
 */
#ifndef SL_HTTP_SSI_H
#define SL_HTTP_SSI_H

#include "sl_core.h"
#include "sl_str.h"
#include "sl_pool.h"

#define SL_HTTP_SSI_COMMAND_LEN 32
#define SL_HTTP_SSI_PARAM_LEN 32
#define SL_HTTP_SSI_MAX_PARAMS 16

typedef struct {
    sl_str_t key;
    sl_str_t value;
} sl_http_ssi_param_t;

typedef struct {
    sl_pool_t *pool;
    /** ssi_value_length: the longest parameter value */
    size_t value_len;
    sl_uint_t state;
    /** bytes of "<!--#" (text state) or of "-->" (skipping state) matched so far */
    sl_uint_t matched;
    u_char quote;
    u_char command_data[SL_HTTP_SSI_COMMAND_LEN];
    u_char key_data[SL_HTTP_SSI_PARAM_LEN];
    /** value_len bytes, allocated at init */
    u_char *value_data;
    size_t key_n;
    size_t value_n;
    /** the command just parsed (SL_OK) */
    sl_str_t command;
    sl_http_ssi_param_t params[SL_HTTP_SSI_MAX_PARAMS];
    sl_uint_t nparams;
    /** why the last SL_ERROR: nginx's wording, with the command's name */
    const char *error;
} sl_http_ssi_parser_t;

/* SL_OK or SL_ERROR (memory). */
sl_int_t sl_http_ssi_parser_init(sl_http_ssi_parser_t *ps, sl_pool_t *pool, size_t value_len);

/*
 * Parses [*pos, end), copying text to *out (room for end - *pos + 5 bytes is enough) and
 * moving *out and *pos.  SL_AGAIN: all of it was taken; SL_OK: a command ends at *pos
 * (ps->command, ps->params); SL_ERROR: a malformed command (ps->error says why; the rest
 * of it up to "-->" will be skipped).  Text stops being copied when `copy` is 0 (a false
 * "if" branch), but commands are still parsed.
 */
sl_int_t sl_http_ssi_parse(sl_http_ssi_parser_t *ps, u_char **pos, u_char *end, u_char **out,
                           int copy);

#endif /* SL_HTTP_SSI_H */
