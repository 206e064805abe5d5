/*
 * sl_http_realip.h: the client address a request's forwarding headers name (X-Forwarded-For,
 * X-Real-IP, ...), and the realip module that makes it the request's client address.
 */
#ifndef SL_HTTP_REALIP_H
#define SL_HTTP_REALIP_H

#include "sl_http_request.h"
#include "sl_inet.h"

extern sl_module_t sl_http_realip_module;

/*
 * Walks header values for the address of the client behind trusted proxies, as nginx 1.22
 * does.  *addr is the peer on entry.  values are the header lines in arrival order; the walk
 * starts at the right end of the last one and goes leftwards, then on to the line before.
 * Elements are separated by runs of ' ' and ','; each is an address with an optional port
 * (sl_parse_addr_port).
 *
 * Before each element the current address must be in proxies, else the walk stops there.
 * An element that is not an address stops it too, as does an empty one at the front of a
 * line (a line that is empty, or that starts with a separator).  Without recursive only
 * the last element of the last line is read.
 *
 * SL_OK with *addr replaced by the last address read; SL_DECLINED when none was (the peer is
 * not trusted, or the first element read is not an address): *addr is then unchanged.
 */
sl_int_t sl_http_forwarded_addr(sl_addr_t *addr, const sl_str_t *values, sl_uint_t nvalues,
                                const sl_cidr_t *proxies, sl_uint_t nproxies, int recursive);

#endif /* SL_HTTP_REALIP_H */
