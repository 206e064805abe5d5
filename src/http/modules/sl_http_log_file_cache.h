/*
 * sl_http_log_file_cache.h: open_log_file_cache, the descriptors of access logs named by
 * variables kept open between lines (nginx's open_log_file_cache).
 */
#ifndef SL_HTTP_LOG_FILE_CACHE_H
#define SL_HTTP_LOG_FILE_CACHE_H

#include "sl_http.h"

typedef struct sl_http_log_file_cache_s sl_http_log_file_cache_t;

/* "open_log_file_cache max=N [inactive=TIME] [min_uses=N] [valid=TIME] | off": *cache is
 * the new cache, or NULL for off; a new cache is linked into *all (the configuration's
 * list).  SL_CONF_OK or an error (logged with nginx's words). */
char *sl_http_log_file_cache_conf(sl_conf_t *cf, sl_http_log_file_cache_t **cache,
                                  sl_http_log_file_cache_t **all);

/* The descriptor for appending to name (NUL-terminated, len bytes), opened and created
 * 0644 when the cache does not hold it; *cached says the cache keeps it (the caller must
 * not close it).  -1 with errno when open() failed. */
int sl_http_log_file_cache_open(sl_http_log_file_cache_t *cache, const u_char *name, size_t len,
                                int *cached);

/* Closes every descriptor of the caches listed from all (the process ends). */
void sl_http_log_file_cache_close_all(sl_http_log_file_cache_t *all);

#endif /* SL_HTTP_LOG_FILE_CACHE_H */
