/*
 * sl_http_access.h: the access module's rules (allow, deny) and their matching, as nginx
 * 1.22's ngx_http_access_module.
 */
#ifndef SL_HTTP_ACCESS_H
#define SL_HTTP_ACCESS_H

#include "sl_http_request.h"
#include "sl_inet.h"

extern sl_module_t sl_http_access_module;

/* One "allow" or "deny". */
typedef struct {
    /** AF_INET, AF_INET6, AF_UNIX ("unix:"); AF_UNSPEC for "all" (every family) */
    sl_cidr_t cidr;
    unsigned deny : 1;
} sl_http_access_rule_t;

/*
 * The verdict of rules (in configuration order) on a client at sa: the first rule of the
 * client's family that matches decides; "all" matches every family.  An IPv4-mapped IPv6
 * address (::ffff:a.b.c.d) is the IPv4 address when any IPv4 rule (or "all") exists, else
 * it is matched against the IPv6 rules as it is (nginx does the same).
 *
 * SL_OK: an "allow" matched; SL_HTTP_FORBIDDEN: a "deny" matched; SL_DECLINED: none did.
 */
sl_int_t sl_http_access_check(const struct sockaddr *sa, const sl_http_access_rule_t *rules,
                              sl_uint_t n);

#endif /* SL_HTTP_ACCESS_H */
