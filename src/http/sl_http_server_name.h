/*
 * sl_http_server_name.h: choosing the virtual server by host name among the servers that
 * listen on the connection's address, in nginx's order: exact name, longest wildcard
 * starting with "*", longest wildcard ending with "*", first matching regex, else the
 * default server of the address.
 */
#ifndef SL_HTTP_SERVER_NAME_H
#define SL_HTTP_SERVER_NAME_H

#include "sl_http_request.h"

/* Sorts the names of every address (called once the servers are known).  SL_OK or
 * SL_ERROR (logged: a duplicate or conflicting name). */
sl_int_t sl_http_init_server_names(sl_conf_t *cf, sl_http_addr_t *addr,
                                   sl_http_conf_addr_t *conf_addr);

/* The server for host on this address, or NULL (then the default server answers).
 * Regex captures are stored in r when r is not NULL. */
sl_http_core_srv_conf_t *sl_http_find_server(sl_http_request_t *r, sl_http_addr_t *addr,
                                             const sl_str_t *host);

/* Switches r to the server named by host.  SL_OK, or SL_ERROR (request closed). */
sl_int_t sl_http_set_virtual_server(sl_http_request_t *r, const sl_str_t *host);

#endif /* SL_HTTP_SERVER_NAME_H */
