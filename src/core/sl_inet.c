/*
 * sl_inet.c: address parsing and formatting.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>

#include "sl_inet.h"
#include "sl_pool.h"

/* nginx also writes an address whose only non-zero group is the last in the "::a.b.c.d"
 * form that glibc keeps for ::/96 with two groups, unless that group's high byte is 0 or its
 * low byte is 1 (::1, ::ff and ::101 stay hex; ::100 is ::0.0.1.0).  Same text as nginx. */
static int ipv6_dotted_last(const struct in6_addr *a)
{
    static const u_char zeros[14];

    return memcmp(a->s6_addr, zeros, 14) == 0 && a->s6_addr[14] != 0 && a->s6_addr[15] != 1;
}

static void ipv6_ntop(const struct in6_addr *a, char *text, size_t len)
{
    if (ipv6_dotted_last(a)) {
        snprintf(text, len, "::0.0.%u.%u", a->s6_addr[14], a->s6_addr[15]);
        return;
    }
    inet_ntop(AF_INET6, a, text, (socklen_t) len);
}

size_t sl_addr_ntop(const struct sockaddr *sa, socklen_t socklen, u_char *text, size_t len,
                    int port)
{
    char addr[INET6_ADDRSTRLEN];
    int n = -1;

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *) sa;
        inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr));
        n = port ? snprintf((char *) text, len, "%s:%d", addr, ntohs(sin->sin_port))
                 : snprintf((char *) text, len, "%s", addr);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) sa;
        ipv6_ntop(&sin6->sin6_addr, addr, sizeof(addr));
        n = port ? snprintf((char *) text, len, "[%s]:%d", addr, ntohs(sin6->sin6_port))
                 : snprintf((char *) text, len, "%s", addr);
    } else if (sa->sa_family == AF_UNIX) {
        const struct sockaddr_un *sun = (const struct sockaddr_un *) sa;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t plen = socklen > off ? strnlen(sun->sun_path, socklen - off) : 0;
        n = snprintf((char *) text, len, "unix:%.*s", (int) plen, sun->sun_path);
    }
    if (n < 0 || len == 0) {
        return 0;
    }
    return sl_min((size_t) n, len - 1);
}

int sl_addr_cmp(const struct sockaddr *a, socklen_t alen, const struct sockaddr *b, socklen_t blen,
                int cmp_port)
{
    if (a->sa_family != b->sa_family) {
        return 1;
    }
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const void *) a, *y = (const void *) b;
        return x->sin_addr.s_addr != y->sin_addr.s_addr || (cmp_port && x->sin_port != y->sin_port);
    }
    if (a->sa_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *) a, *y = (const void *) b;
        return memcmp(&x->sin6_addr, &y->sin6_addr, 16) != 0
               || (cmp_port && x->sin6_port != y->sin6_port);
    }
    if (a->sa_family == AF_UNIX) {
        /* the paths: getsockname() and the config may count the trailing NUL differently */
        const struct sockaddr_un *x = (const void *) a, *y = (const void *) b;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t xn = alen > off ? strnlen(x->sun_path, alen - off) : 0;
        size_t yn = blen > off ? strnlen(y->sun_path, blen - off) : 0;
        return xn != yn || memcmp(x->sun_path, y->sun_path, xn) != 0;
    }
    return 1;
}

unsigned sl_sockaddr_port(const struct sockaddr *sa)
{
    switch (sa->sa_family) {
    case AF_INET:
        return ntohs(((const struct sockaddr_in *) (const void *) sa)->sin_port);
    case AF_INET6:
        return ntohs(((const struct sockaddr_in6 *) (const void *) sa)->sin6_port);
    default:
        return 0;
    }
}

static sl_int_t add_addr(sl_pool_t *pool, sl_url_t *u, const struct sockaddr *sa, socklen_t len)
{
    sl_addr_t *addrs = sl_palloc(pool, (u->naddrs + 1) * sizeof(sl_addr_t));
    u_char text[sizeof(struct sockaddr_un) + 16];

    if (addrs == NULL) {
        return SL_ERROR;
    }
    if (u->naddrs) {
        memcpy(addrs, u->addrs, u->naddrs * sizeof(sl_addr_t));
    }
    sl_addr_t *a = &addrs[u->naddrs];
    memset(&a->sockaddr, 0, sizeof(a->sockaddr));
    memcpy(&a->sockaddr, sa, len);
    a->socklen = len;
    a->name.len = sl_addr_ntop(sa, len, text, sizeof(text), 1);
    a->name.data = sl_pnalloc(pool, a->name.len + 1);
    if (a->name.data == NULL) {
        return SL_ERROR;
    }
    memcpy(a->name.data, text, a->name.len);
    a->name.data[a->name.len] = '\0';
    u->addrs = addrs;
    u->naddrs++;
    return SL_OK;
}

static sl_int_t parse_unix(sl_pool_t *pool, sl_url_t *u)
{
    const u_char *p = u->url.data + 5;
    size_t len = u->url.len - 5;
    struct sockaddr_un sun;

    /* "unix:/path:/uri" for proxy_pass: the path ends at the first ':' */
    const u_char *colon = memchr(p, ':', len);
    if (!u->listen && colon) {
        u->uri.data = (u_char *) colon + 1;
        u->uri.len = (size_t) (p + len - colon - 1);
        len = (size_t) (colon - p);
    }
    if (len == 0) {
        u->err = "no path in the unix domain socket";
        return SL_ERROR;
    }
    if (len >= sizeof(sun.sun_path)) {
        u->err = "too long path in the unix domain socket";
        return SL_ERROR;
    }
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, p, len);
    u->host.data = (u_char *) p - 5;
    u->host.len = len + 5;
    u->family = AF_UNIX;
    return add_addr(pool, u, (struct sockaddr *) &sun,
                    (socklen_t) (offsetof(struct sockaddr_un, sun_path) + len + 1));
}

/* Splits "host:port/uri" or "[v6]:port/uri" into host, port text and uri; the uri starts
 * at the first '/' or '?' ("host?args" has a uri too). */
static sl_int_t split_host_port(sl_url_t *u, sl_str_t *port)
{
    u_char *p = u->url.data, *end = u->url.data + u->url.len;
    u_char *slash = memchr(p, '/', u->url.len);
    u_char *query = memchr(p, '?', u->url.len);

    if (query && (slash == NULL || query < slash)) {
        slash = query;
    }
    if (slash && !u->listen) {
        u->uri.data = slash;
        u->uri.len = (size_t) (end - slash);
        end = slash;
    }
    port->len = 0;
    port->data = NULL;
    if (p < end && *p == '[') {
        u_char *rb = memchr(p, ']', (size_t) (end - p));
        if (rb == NULL) {
            u->err = "invalid host";
            return SL_ERROR;
        }
        u->host.data = p + 1;
        u->host.len = (size_t) (rb - p - 1);
        p = rb + 1;
        if (p < end && *p != ':') {
            u->err = "invalid host";
            return SL_ERROR;
        }
    } else {
        u_char *colon = memchr(p, ':', (size_t) (end - p));
        u->host.data = p;
        u->host.len = (size_t) ((colon ? colon : end) - p);
        p = colon ? colon : end;
    }
    if (p < end && *p == ':') {
        port->data = p + 1;
        port->len = (size_t) (end - p - 1);
    }
    return SL_OK;
}

static sl_int_t parse_port(sl_url_t *u, const sl_str_t *port)
{
    if (port->data) {
        sl_int_t n = sl_atoi(port->data, port->len);
        if (n < 1 || n > 65535) {
            u->err = "invalid port";
            return SL_ERROR;
        }
        u->port = (int) n;
        return SL_OK;
    }
    /* listen 8080; is a port alone */
    if (u->listen) {
        sl_int_t n = sl_atoi(u->host.data, u->host.len);
        if (n != SL_ERROR) {
            if (n < 1 || n > 65535) {
                u->err = "invalid port";
                return SL_ERROR;
            }
            u->port = (int) n;
            u->wildcard = 1;
            u->host.len = 0;
            return SL_OK;
        }
    }
    u->no_port = 1;
    u->port = u->default_port;
    return SL_OK;
}

static sl_int_t resolve(sl_pool_t *pool, sl_url_t *u)
{
    struct addrinfo hints, *res = NULL;
    char host[256];

    if (u->host.len == 0 || (u->host.len == 1 && u->host.data[0] == '*')) {
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(u->port) };
        u->wildcard = 1;
        return add_addr(pool, u, (struct sockaddr *) &sin, sizeof(sin));
    }
    if (u->host.len >= sizeof(host)) {
        u->err = "host not found";
        return SL_ERROR;
    }
    memcpy(host, u->host.data, u->host.len);
    host[u->host.len] = '\0';
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL) {
        u->err = "host not found";
        return SL_ERROR;
    }
    sl_int_t rc = SL_OK;
    for (struct addrinfo *ai = res; ai && rc == SL_OK; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            ((struct sockaddr_in *) ai->ai_addr)->sin_port = htons(u->port);
        } else if (ai->ai_family == AF_INET6) {
            ((struct sockaddr_in6 *) ai->ai_addr)->sin6_port = htons(u->port);
        } else {
            continue;
        }
        if (u->listen && u->naddrs) {
            break; /* listen takes the first address only, as nginx */
        }
        rc = add_addr(pool, u, ai->ai_addr, ai->ai_addrlen);
    }
    freeaddrinfo(res);
    return rc;
}

/* no_resolve: an IPv4 or IPv6 literal becomes the address; a name is left to the caller. */
static sl_int_t literal_addr(sl_pool_t *pool, sl_url_t *u)
{
    char host[INET6_ADDRSTRLEN];
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(u->port) };
    struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(u->port) };

    if (u->host.len >= sizeof(host)) {
        return SL_OK;
    }
    memcpy(host, u->host.data, u->host.len);
    host[u->host.len] = '\0';
    if (inet_pton(AF_INET, host, &sin.sin_addr) == 1) {
        return add_addr(pool, u, (struct sockaddr *) &sin, sizeof(sin));
    }
    if (inet_pton(AF_INET6, host, &sin6.sin6_addr) == 1) {
        return add_addr(pool, u, (struct sockaddr *) &sin6, sizeof(sin6));
    }
    return SL_OK;
}

sl_int_t sl_parse_url(sl_pool_t *pool, sl_url_t *u)
{
    sl_str_t port;

    u->naddrs = 0;
    u->addrs = NULL;
    if (u->url.len >= 5 && sl_strncasecmp(u->url.data, (u_char *) "unix:", 5) == 0) {
        return parse_unix(pool, u);
    }
    if (u->url.len == 0) {
        u->err = "invalid host";
        return SL_ERROR;
    }
    if (split_host_port(u, &port) != SL_OK || parse_port(u, &port) != SL_OK) {
        return SL_ERROR;
    }
    if (u->host.len == 0 && !u->listen) {
        u->err = "no host";
        return SL_ERROR;
    }
    if (u->no_port && u->listen && u->default_port == 0) {
        u->port = 80;
    }
    if (u->no_resolve) {
        return literal_addr(pool, u);
    }
    return resolve(pool, u);
}

/* ---- address literals and networks ---- */

in_addr_t sl_inet_addr(const u_char *text, size_t len)
{
    uint32_t addr = 0, octet = 0;
    sl_uint_t dots = 0;

    for (size_t i = 0; i < len; i++) {
        if (text[i] == '.') {
            if (++dots > 3) {
                return INADDR_NONE;
            }
            addr = addr << 8 | octet;
            octet = 0;
        } else if (text[i] >= '0' && text[i] <= '9') {
            octet = octet * 10 + (uint32_t) (text[i] - '0');
            if (octet > 255) {
                return INADDR_NONE;
            }
        } else {
            return INADDR_NONE;
        }
    }
    return dots == 3 ? htonl(addr << 8 | octet) : INADDR_NONE;
}

static int hex_value(u_char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The groups of an IPv6 address as written, before "::" is expanded. */
typedef struct {
    uint16_t words[8];
    /** groups stored */
    sl_uint_t n;
    /** the index "::" stands at, -1 when there is none */
    int gap;
} ipv6_groups_t;

/* The last two groups written as IPv4 ("::ffff:1.2.3.4"), from start to the end.  It needs
 * a ':' before it and room for two groups. */
static sl_int_t ipv6_tail(ipv6_groups_t *g, const u_char *start, const u_char *end)
{
    if ((g->n == 0 && g->gap < 0) || g->n > 6) {
        return SL_ERROR;
    }
    in_addr_t in = sl_inet_addr(start, (size_t) (end - start));
    if (in == INADDR_NONE) {
        return SL_ERROR;
    }
    uint32_t v = ntohl(in);
    g->words[g->n++] = (uint16_t) (v >> 16);
    g->words[g->n++] = (uint16_t) v;
    return SL_OK;
}

/* Reads groups until the end of the text.  SL_OK or SL_ERROR. */
static sl_int_t ipv6_scan(ipv6_groups_t *g, const u_char *p, const u_char *end)
{
    for (;;) {
        const u_char *start = p;
        uint32_t value = 0;
        int h;
        while (p < end && (h = hex_value(*p)) >= 0) {
            value = value << 4 | (uint32_t) h;
            p++;
        }
        size_t digits = (size_t) (p - start);
        if (digits > 4) {
            return SL_ERROR;
        }
        if (p < end && *p == '.' && digits) {
            return ipv6_tail(g, start, end);
        }
        if (p == end) {
            /* a trailing empty group is allowed after "::" ("1::", and "::1:" as ::1:0) */
            if (digits == 0 && g->gap < 0) {
                return SL_ERROR;
            }
            g->words[g->n++] = (uint16_t) value;
            return SL_OK;
        }
        if (*p++ != ':') {
            return SL_ERROR;
        }
        if (digits) {
            g->words[g->n++] = (uint16_t) value;
            if (g->n == 8) {
                return SL_ERROR; /* a ':' after the eighth group */
            }
        } else if (g->gap >= 0) {
            return SL_ERROR; /* a second "::" */
        } else {
            g->gap = (int) g->n;
        }
    }
}

sl_int_t sl_inet6_addr(const u_char *text, size_t len, u_char *addr)
{
    ipv6_groups_t g = { .n = 0, .gap = -1 };
    const u_char *p = text, *end = text + len;

    if (len == 0) {
        return SL_ERROR;
    }
    /* one leading ':' is skipped: the second of "::" then opens the gap */
    if (*p == ':') {
        p++;
    }
    if (ipv6_scan(&g, p, end) != SL_OK) {
        return SL_ERROR;
    }
    /* "::" stands for one group or more */
    if (g.gap < 0 ? g.n != 8 : g.n >= 8) {
        return SL_ERROR;
    }
    /* the scan always stores a group after "::", so the gap is before the last group */
    sl_uint_t zeros = 8 - g.n, k = 0;
    for (sl_uint_t i = 0; i < g.n; i++) {
        if ((int) i == g.gap) {
            memset(addr + 2 * k, 0, 2 * zeros);
            k += zeros;
        }
        addr[2 * k] = (u_char) (g.words[i] >> 8);
        addr[2 * k + 1] = (u_char) g.words[i];
        k++;
    }
    return SL_OK;
}

sl_int_t sl_parse_addr(const u_char *text, size_t len, sl_addr_t *addr)
{
    memset(addr, 0, sizeof(*addr));
    in_addr_t in = sl_inet_addr(text, len);
    if (in != INADDR_NONE) {
        struct sockaddr_in *sin = (struct sockaddr_in *) &addr->sockaddr;
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = in;
        addr->socklen = sizeof(struct sockaddr_in);
        return SL_OK;
    }
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &addr->sockaddr;
    if (sl_inet6_addr(text, len, sin6->sin6_addr.s6_addr) == SL_OK) {
        sin6->sin6_family = AF_INET6;
        addr->socklen = sizeof(struct sockaddr_in6);
        return SL_OK;
    }
    return SL_DECLINED;
}

sl_int_t sl_parse_addr_port(const u_char *text, size_t len, sl_addr_t *addr)
{
    if (len == 0) {
        return SL_DECLINED;
    }
    const u_char *end = text + len;
    const u_char *bracket = memchr(text, ']', len);
    const u_char *from = bracket ? bracket : text;
    const u_char *colon = memchr(from, ':', (size_t) (end - from));

    if (colon == NULL) {
        return sl_parse_addr(text, len, addr);
    }
    sl_int_t port = sl_atoi(colon + 1, (size_t) (end - colon - 1));
    if (port == SL_ERROR) {
        return sl_parse_addr(text, len, addr);
    }
    if (port < 1 || port > 65535) {
        return SL_ERROR;
    }
    len = (size_t) (colon - text);
    if (len >= 2 && text[0] == '[' && text[len - 1] == ']') {
        text++;
        len -= 2;
    }
    if (sl_parse_addr(text, len, addr) != SL_OK) {
        return SL_DECLINED;
    }
    if (addr->sockaddr.ss_family == AF_INET) {
        ((struct sockaddr_in *) &addr->sockaddr)->sin_port = htons((uint16_t) port);
    } else {
        ((struct sockaddr_in6 *) &addr->sockaddr)->sin6_port = htons((uint16_t) port);
    }
    return SL_OK;
}

/* Applies a prefix length to an IPv6 network.  SL_OK, or SL_DONE when bits were cleared. */
static sl_int_t cidr6_mask(sl_cidr_t *cidr, sl_uint_t bits)
{
    u_char *addr = cidr->u.in6.addr.s6_addr, *mask = cidr->u.in6.mask.s6_addr;
    sl_int_t rc = SL_OK;

    for (sl_uint_t i = 0; i < 16; i++) {
        sl_uint_t take = bits >= 8 ? 8 : bits;
        bits -= take;
        mask[i] = (u_char) (0xff00 >> take);
        if (addr[i] & ~mask[i]) {
            addr[i] &= mask[i];
            rc = SL_DONE;
        }
    }
    return rc;
}

sl_int_t sl_ptocidr(const sl_str_t *text, sl_cidr_t *cidr)
{
    const u_char *slash = memchr(text->data, '/', text->len);
    size_t alen = slash ? (size_t) (slash - text->data) : text->len;

    memset(cidr, 0, sizeof(*cidr));
    cidr->u.in.addr = sl_inet_addr(text->data, alen);
    if (cidr->u.in.addr != INADDR_NONE) {
        cidr->family = AF_INET;
    } else if (sl_inet6_addr(text->data, alen, cidr->u.in6.addr.s6_addr) == SL_OK) {
        cidr->family = AF_INET6;
    } else {
        return SL_ERROR;
    }
    sl_int_t bits = cidr->family == AF_INET ? 32 : 128;
    if (slash) {
        sl_int_t max = bits;
        bits = sl_atoi(slash + 1, (size_t) (text->data + text->len - slash - 1));
        if (bits == SL_ERROR || bits > max) {
            return SL_ERROR;
        }
    }
    if (cidr->family == AF_INET6) {
        return cidr6_mask(cidr, (sl_uint_t) bits);
    }
    /* a shift by 32 is undefined: /0 is written out */
    cidr->u.in.mask = bits ? htonl((uint32_t) 0xffffffff << (32 - bits)) : 0;
    if (cidr->u.in.addr & ~cidr->u.in.mask) {
        cidr->u.in.addr &= cidr->u.in.mask;
        return SL_DONE;
    }
    return SL_OK;
}

static int cidr6_contains(const sl_cidr_t *cidr, const u_char *addr)
{
    for (sl_uint_t i = 0; i < 16; i++) {
        if ((addr[i] & cidr->u.in6.mask.s6_addr[i]) != cidr->u.in6.addr.s6_addr[i]) {
            return 0;
        }
    }
    return 1;
}

sl_int_t sl_cidr_match(const struct sockaddr *sa, const sl_cidr_t *cidr, sl_uint_t n)
{
    int family = sa->sa_family;
    in_addr_t in = 0;
    const u_char *in6 = NULL;

    if (family == AF_INET) {
        in = ((const struct sockaddr_in *) sa)->sin_addr.s_addr;
    } else if (family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *) sa)->sin6_addr;
        in6 = a6->s6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            family = AF_INET;
            memcpy(&in, in6 + 12, 4);
        }
    }
    for (sl_uint_t i = 0; i < n; i++) {
        if (cidr[i].family != family) {
            continue;
        }
        if (family == AF_UNIX
            || (family == AF_INET && (in & cidr[i].u.in.mask) == cidr[i].u.in.addr)
            || (family == AF_INET6 && cidr6_contains(&cidr[i], in6))) {
            return SL_OK;
        }
    }
    return SL_DECLINED;
}
