/*
 * sl_http_rewrite.h: what the rewrite module's two files share.  sl_http_rewrite_module.c
 * holds the directives, the ops and the phase handlers; sl_http_rewrite_if.c parses and
 * tests the condition of "if".
 */
#ifndef SL_HTTP_REWRITE_H
#define SL_HTTP_REWRITE_H

#include "sl_http_variables.h"

/* The condition of one "if" block. */
typedef struct sl_http_rewrite_cond_s sl_http_rewrite_cond_t;

/*
 * Parses the condition in cf->args ("if", "($a", "=", "b)", ...): a variable alone, "="
 * and "!=" a value, "~", "~*", "!~", "!~*" a regex, or "-f", "-d", "-e", "-x" (and "!-")
 * a path.  SL_CONF_OK with *out set, or SL_CONF_ERROR after logging nginx's message
 * ("invalid condition \"...\"", "unexpected \"...\" in condition", a pcre2 error).
 */
char *sl__http_rewrite_parse_condition(sl_conf_t *cf, sl_http_rewrite_cond_t **out);

/*
 * Tests cond for r: 1 when it holds, 0 when not, SL_ERROR on a failure (the request then
 * ends with 500).  A regex test sets $1..$9 and its named captures; log: rewrite_log.
 */
sl_int_t sl__http_rewrite_test(sl_http_request_t *r, sl_http_rewrite_cond_t *cond, int log);

/*
 * A context for an "if" block (the enclosing one in cf->ctx): the same main and srv confs,
 * a new loc conf for every http module; its core conf takes its level's name (and regex),
 * which alias maps uris through.  NULL on exhaustion.
 */
sl_http_conf_ctx_t *sl__http_rewrite_if_context(sl_conf_t *cf);

/*
 * Merges a block's loc confs (loc_conf) with its level's (parent) for every http module,
 * once the level is merged, and lists the block under the level's locations.  SL_OK, or
 * SL_ERROR after logging.
 */
sl_int_t sl__http_rewrite_merge_if(sl_conf_t *cf, void **parent, void **loc_conf);

/*
 * Matches s against re the way rewrite and if do: > 0 on a match (captures set; a regex
 * without groups leaves $1..$9 empty, as nginx 1.22), 0 when it does not match ($1..$9
 * emptied), SL_ERROR.  log: write nginx's "\"re\" matches \"s\"" notice lines.
 */
sl_int_t sl__http_rewrite_regex(sl_http_request_t *r, sl_http_regex_t *re, const sl_str_t *s,
                                int log);

#endif /* SL_HTTP_REWRITE_H */
