/*
 * sl_http_headers_in.h: what the request line and header fields mean: the decoded uri, the
 * known headers (Host, Connection, Content-Length, Transfer-Encoding, ...), and the checks
 * that protect framing (RFC 9112 §6: one Content-Length, no Content-Length with
 * Transfer-Encoding, chunked last and alone).
 */
#ifndef SL_HTTP_HEADERS_IN_H
#define SL_HTTP_HEADERS_IN_H

#include "sl_http_request.h"

/* Builds the table of known request headers.  SL_OK or SL_ERROR. */
sl_int_t sl_http_headers_in_init(sl_conf_t *cf);

/* After the request line: method, uri (decoded), args, version.  SL_OK, or SL_ERROR after
 * finalizing the request with 400. */
sl_int_t sl_http_process_request_uri(sl_http_request_t *r);
/* After each header line.  SL_OK, or SL_ERROR after finalizing the request. */
sl_int_t sl_http_add_request_header(sl_http_request_t *r, sl_http_core_srv_conf_t *cscf);
/* After the empty line.  SL_OK, or SL_ERROR after finalizing the request. */
sl_int_t sl_http_process_request_header(sl_http_request_t *r);
/* Picks the virtual server for the host name and starts the phases. */
void sl_http_process_request(sl_http_request_t *r);

/* Lowercases and checks a host ("example.com:80" -> "example.com").  SL_OK, SL_DECLINED
 * when invalid. */
sl_int_t sl_http_validate_host(sl_str_t *host, sl_pool_t *pool, int alloc);

#endif /* SL_HTTP_HEADERS_IN_H */
