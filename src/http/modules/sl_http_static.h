/*
 * sl_http_static.h: what the static module lends to other content handlers that serve files
 * (gzip_static).
 */
#ifndef SL_HTTP_STATIC_H
#define SL_HTTP_STATIC_H

#include <sys/stat.h>

#include "sl_http_request.h"

/* The headers of a file's 200: status, Content-Length, Last-Modified, ETag ("mtime-size" in
 * hex, as nginx, where etag is on), Content-Type by the uri's extension; ranges allowed.
 * SL_OK or SL_ERROR. */
sl_int_t sl_http_static_set_headers(sl_http_request_t *r, const struct stat *st);

#endif /* SL_HTTP_STATIC_H */
