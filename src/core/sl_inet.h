/*
 * sl_inet.h: parsing "host:port", "port", "*:port", "[::1]:port" and "unix:/path" into
 * socket addresses, as listen, proxy_pass and upstream servers write them; address literals
 * ("10.0.0.1", "2001:db8::1", "[::1]:80") as clients send them in headers; CIDR blocks
 * ("10.0.0.0/8") and matching an address against a list of them.
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
/* The port of an IPv4 or IPv6 address (host order); 0 for anything else. */
unsigned sl_sockaddr_port(const struct sockaddr *sa);

/*
 * Address literals, read the way nginx 1.22 reads them (its quirks included, since a header
 * value that one accepts and the other refuses would make the two disagree on the client):
 * an IPv4 octet may have leading zeros or be empty ("1..2.3" is 1.0.2.3), and
 * "255.255.255.255" is refused because its value is the error value; an IPv6 address may
 * start with a single ':' (":1::" is "1::"), "::" must stand for at least one group, and
 * the last two groups may be written as IPv4 (with the same octet rules).
 */

/* The IPv4 address (network order), or INADDR_NONE. */
in_addr_t sl_inet_addr(const u_char *text, size_t len);
/* Fills addr (16 bytes).  SL_OK, or SL_ERROR when text is not an IPv6 address. */
sl_int_t sl_inet6_addr(const u_char *text, size_t len, u_char *addr);
/* An IPv4 or IPv6 literal, port 0.  SL_OK, or SL_DECLINED.  addr->name is left empty. */
sl_int_t sl_parse_addr(const u_char *text, size_t len, sl_addr_t *addr);
/*
 * An address with an optional port: "1.2.3.4", "1.2.3.4:80", "2001:db8::1",
 * "[2001:db8::1]:80" (a bare "[2001:db8::1]" is refused).  Text after the first ':' that
 * is not a number belongs to the address ("::1").  SL_OK; SL_DECLINED when it is not an
 * address; SL_ERROR for a port outside 1..65535.  addr->name is left empty.
 */
sl_int_t sl_parse_addr_port(const u_char *text, size_t len, sl_addr_t *addr);

/* A network: its family, address and mask (address bits outside the mask are zero). */
typedef struct {
    /** AF_INET, AF_INET6, or AF_UNIX (matches every unix-socket peer) */
    int family;
    union {
        struct {
            /** network order */
            in_addr_t addr;
            in_addr_t mask;
        } in;
        struct {
            struct in6_addr addr;
            struct in6_addr mask;
        } in6;
    } u;
} sl_cidr_t;

/*
 * "addr/bits" or "addr" (all bits) into cidr.  SL_OK; SL_DONE when the address had bits set
 * outside the mask (cleared: callers warn "low address bits of ... are meaningless");
 * SL_ERROR when text is no address, or bits is not a number up to 32 (128 for IPv6).
 */
sl_int_t sl_ptocidr(const sl_str_t *text, sl_cidr_t *cidr);
/*
 * SL_OK when sa is in one of the n networks, else SL_DECLINED.  An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) is matched as the IPv4 address, against IPv4 networks only.
 */
sl_int_t sl_cidr_match(const struct sockaddr *sa, const sl_cidr_t *cidr, sl_uint_t n);

#endif /* SL_INET_H */
