/*
 * sl_http_core_set.h: the http core directives that need more than a typed setter.
 */
#ifndef SL_HTTP_CORE_SET_H
#define SL_HTTP_CORE_SET_H

#include "sl_http.h"

char *sl_http_set_server_name(sl_conf_t *cf, sl_command_t *cmd, void *conf);
/* root and alias */
char *sl_http_set_root(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl_http_types_block(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl_http_set_keepalive(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl_http_set_internal(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl_http_set_error_page(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl_http_set_error_log(sl_conf_t *cf, sl_command_t *cmd, void *conf);
/* "aio": off only (sluice has neither file AIO nor a thread pool) */
char *sl_http_set_aio(sl_conf_t *cf, sl_command_t *cmd, void *conf);

/*
 * The checks nginx's ngx_hash_init() makes of a hash's NAME_max_size and NAME_bucket_size
 * (unset counts as the default) where nginx would build that hash: SL_OK, or SL_ERROR after
 * logging nginx's line.  sluice sizes its hashes itself; the values have no other effect.
 */
sl_int_t sl_http_check_hash_sizes(sl_conf_t *cf, const char *name, sl_int_t max_size,
                                  sl_int_t default_max, sl_int_t bucket_size);
/*
 * The same checks, and the ones nginx makes of the keys themselves: a key too long for a
 * bucket of NAME_bucket_size (rounded up to 64) stops the start ("could not build NAME, you
 * should increase NAME_bucket_size: N"); keys that no table of at most NAME_max_size
 * buckets holds give nginx's [warn] "could not build optimal NAME, ...".  keys are the n
 * names nginx would hash.  SL_OK or SL_ERROR (logged).
 */
sl_int_t sl_http_hash_fit(sl_conf_t *cf, const char *name, const sl_str_t *keys, sl_uint_t n,
                          sl_int_t max_size, sl_int_t bucket_size);

/* Inherits types from the enclosing level, or nginx's three defaults, and builds the hash.
 * SL_OK or SL_ERROR (logged). */
sl_int_t sl_http_merge_types(sl_conf_t *cf, sl_array_t **types, sl_hash_t *hash,
                             sl_array_t *prev_types, sl_hash_t *prev_hash);

#endif /* SL_HTTP_CORE_SET_H */
