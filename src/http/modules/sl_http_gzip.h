/*
 * sl_http_gzip.h: what the gzip filter and gzip_static share.
 *
 * Whether a client may be sent a gzip-encoded response is one decision for both: the
 * request's Accept-Encoding (sl_http_gzip_accept_encoding), then the settings of
 * sl_http_gzip_ok_module (gzip_http_version, gzip_proxied against the Via header and the
 * response's caching headers, gzip_disable against the User-Agent), as nginx decides it.
 */
#ifndef SL_HTTP_GZIP_H
#define SL_HTTP_GZIP_H

#include "sl_http_request.h"

/* r->buffered bit: the gzip filter holds input it could not compress for want of a free
 * output buffer, or compressed bytes still to hand on. */
#define SL_HTTP_GZIP_BUFFERED 0x20

/*
 * Whether an Accept-Encoding value accepts gzip, as nginx reads it: the first "gzip" token
 * that starts the value or follows ',' or ' ' decides; after it only spaces, then ',' or
 * the end (accepted) or ';' and a "q=" weight; a weight of 0 (q=0, q=0.0, q=0.000), a
 * malformed one, or anything else after the token refuses.  1 accepted, 0 refused.
 */
int sl_http_gzip_accept_encoding(const u_char *value, size_t len);

/*
 * Whether r may get a gzip-encoded response: a main request whose Accept-Encoding accepts
 * gzip, not from an old MSIE with "gzip_disable msie6", of at least gzip_http_version, that
 * gzip_proxied allows when it came through a proxy (Via), and whose User-Agent matches no
 * gzip_disable regex.  The response's headers (Expires, Cache-Control, Last-Modified, ETag)
 * must be set before the call.  SL_OK or SL_DECLINED; the answer is kept in r->gzip_ok
 * (r->gzip_tested set).
 */
sl_int_t sl_http_gzip_ok(sl_http_request_t *r);

/* The response depends on Accept-Encoding: r->gzip_vary, where gzip_vary is on, so the
 * header writer adds "Vary: Accept-Encoding". */
void sl_http_gzip_set_vary(sl_http_request_t *r);
/* Whether gzip_vary is on where r is. */
int sl_http_gzip_vary_on(sl_http_request_t *r);

/*
 * data as one complete gzip member at compression level (1 to 9), in pool memory (zlib's
 * state too): *out.  SL_OK, or SL_ERROR (logged to log, or pool exhaustion).
 */
sl_int_t sl_http_gzip_member(sl_pool_t *pool, int level, const u_char *data, size_t len,
                             sl_str_t *out, sl_log_t *log);

#endif /* SL_HTTP_GZIP_H */
