/*
 * sl_inet.h: parsing "host:port", "port", "*:port", "[::1]:port" and "unix:/path" into
 * socket addresses, as listen, proxy_pass and upstream servers write them.
 */
#ifndef SL_INET_H
#define SL_INET_H

#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>

#include "sl_core.h"
#include "sl_str.h"

typedef struct {
    struct sockaddr_storage sockaddr;
    socklen_t socklen;
    /** "127.0.0.1:80", "unix:/path" */
    sl_str_t name;
} sl_addr_t;

typedef struct {
    sl_str_t url;
    sl_str_t host;
    sl_str_t uri;
    int port;
    int default_port;
    int family;

    /** "listen" form: a bare number is a port, "*" is the wildcard */
    unsigned listen : 1;
    unsigned no_resolve : 1;
    unsigned no_port : 1;
    unsigned wildcard : 1;

    /** resolved addresses */
    sl_addr_t *addrs;
    sl_uint_t naddrs;

    /** why parsing failed, for "... in \"URL\" of the \"listen\" directive" */
    const char *err;
} sl_url_t;

/*
 * Parses u->url.  SL_OK with u->addrs filled; SL_ERROR with u->err set ("invalid port",
 * "host not found", "invalid host", "no port", "unix domain socket path is too long", ...).
 * With no_resolve nothing is looked up: an IP literal (or a unix path) gives its address,
 * a name gives SL_OK with naddrs 0.  u->host never has the brackets of "[v6]".
 */
sl_int_t sl_parse_url(sl_pool_t *pool, sl_url_t *u);

/* Formats an address as text ("127.0.0.1:80", "[::1]:80", "unix:/p").  Length written. */
size_t sl_addr_ntop(const struct sockaddr *sa, socklen_t socklen, u_char *text, size_t len,
                    int port);

/* Compares two addresses (family, address and port).  0 when equal. */
int sl_addr_cmp(const struct sockaddr *a, socklen_t alen, const struct sockaddr *b, socklen_t blen,
                int cmp_port);

#endif /* SL_INET_H */
