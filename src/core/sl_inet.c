/*
 * sl_inet.c: address parsing and formatting.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>

#include "sl_inet.h"
#include "sl_pool.h"

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
        inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof(addr));
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
        return alen != blen || memcmp(a, b, alen) != 0;
    }
    return 1;
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
