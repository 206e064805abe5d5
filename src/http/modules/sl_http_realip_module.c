/*
 * sl_http_realip_module.c: set_real_ip_from, real_ip_header, real_ip_recursive.  A request
 * from a trusted address (a proxy in front of us) takes the client address its header names:
 * $remote_addr, $remote_port, $binary_remote_addr, the error log's "client:", the access log
 * and $proxy_add_x_forwarded_for all see that address until the request ends, when the
 * peer's own address comes back (the next request on the connection starts from it).
 * $realip_remote_addr and $realip_remote_port keep the peer's.
 *
 * The handler runs in the post-read phase, with the configuration of the server (before any
 * rewrite), and again in the preaccess phase with the location's; once the address was
 * changed it is not changed again, internal redirects included.  A location whose request
 * ends in the rewrite phase ("return") never gets to preaccess, so realip configured only
 * there does not apply to it, as in nginx.
 *
 * Must be registered before modules with preaccess handlers that read the client address
 * (limit_conn, limit_req, access), since sluice runs a phase's handlers in registration
 * order.
 */
#include <netdb.h>
#include <stdio.h>

#include "sl_http_realip.h"
#include "sl_http_variables.h"
#include "sl_pool.h"

#define REALIP_XREALIP 0
#define REALIP_XFWD 1
#define REALIP_PROXY 2
#define REALIP_HEADER 3

typedef struct {
    /** sl_cidr_t; NULL when the level has no set_real_ip_from (then inherited) */
    sl_array_t *from;
    /** REALIP_*, SL_CONF_UNSET_UINT until set */
    sl_uint_t type;
    /** REALIP_HEADER: the header's name */
    sl_str_t header;
    sl_int_t recursive;
} realip_loc_conf_t;

/* What the request changed, to put back when its pool goes (a pool cleanup's data). */
typedef struct {
    sl_connection_t *connection;
    sl_sockaddr_t sockaddr;
    socklen_t socklen;
    sl_str_t addr_text;
} realip_ctx_t;

static void *create_loc_conf(sl_conf_t *cf);
static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child);
static sl_int_t preconfiguration(sl_conf_t *cf);
static sl_int_t postconfiguration(sl_conf_t *cf);
static char *set_real_ip_from(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *set_real_ip_header(sl_conf_t *cf, sl_command_t *cmd, void *conf);

#define CTX (SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF)

// clang-format off
static sl_command_t realip_commands[] = {
    { sl_string("set_real_ip_from"), CTX | SL_CONF_TAKE1, set_real_ip_from,
      SL_HTTP_LOC_CONF_OFFSET, 0, NULL },
    { sl_string("real_ip_header"), CTX | SL_CONF_TAKE1, set_real_ip_header,
      SL_HTTP_LOC_CONF_OFFSET, 0, NULL },
    { sl_string("real_ip_recursive"), CTX | SL_CONF_FLAG, sl_conf_set_flag_slot,
      SL_HTTP_LOC_CONF_OFFSET, offsetof(realip_loc_conf_t, recursive), NULL },
    sl_null_command,
};
// clang-format on

static sl_http_module_t realip_module_ctx = {
    preconfiguration, postconfiguration, NULL, NULL, NULL, NULL, create_loc_conf, merge_loc_conf,
};

sl_module_t sl_http_realip_module = {
    "http_realip", 0, 0, SL_HTTP_MODULE, &realip_module_ctx, realip_commands, NULL, NULL, NULL,
};

/* ---- the forwarded address ---- */

typedef struct {
    sl_addr_t *addr;
    const sl_cidr_t *proxies;
    sl_uint_t nproxies;
    int recursive;
    int found;
} walk_t;

static int is_separator(u_char c)
{
    return c == ' ' || c == ',';
}

/* Reads one line from its right end.  SL_AGAIN when it was read to its start with every
 * address trusted (the walk goes on with the line before), SL_DONE when the walk ends. */
static sl_int_t walk_line(walk_t *w, const sl_str_t *line)
{
    const u_char *start = line->data, *end = line->data + line->len;
    sl_addr_t next;

    for (;;) {
        if (sl_cidr_match((struct sockaddr *) &w->addr->sockaddr, w->proxies, w->nproxies)
            != SL_OK) {
            return SL_DONE;
        }
        while (end > start && is_separator(end[-1])) {
            end--;
        }
        /* the first byte is never taken for a separator (nginx): ",10.0.0.1" is one
         * element, and not an address */
        size_t i = (size_t) (end - start);
        while (i > 1 && !is_separator(start[i - 1])) {
            i--;
        }
        const u_char *p = i == 1 ? start : start + i;
        /* an empty element (nothing left but separators) is no address either */
        if (sl_parse_addr_port(p, (size_t) (end - p), &next) != SL_OK) {
            return SL_DONE;
        }
        *w->addr = next;
        w->found = 1;
        if (!w->recursive) {
            return SL_DONE;
        }
        if (p == start) {
            return SL_AGAIN;
        }
        end = p;
    }
}

sl_int_t sl_http_forwarded_addr(sl_addr_t *addr, const sl_str_t *values, sl_uint_t nvalues,
                                const sl_cidr_t *proxies, sl_uint_t nproxies, int recursive)
{
    walk_t w = { addr, proxies, nproxies, recursive, 0 };

    for (sl_uint_t i = nvalues; i > 0; i--) {
        if (walk_line(&w, &values[i - 1]) == SL_DONE) {
            break;
        }
    }
    return w.found ? SL_OK : SL_DECLINED;
}

/* ---- the request ---- */

static void realip_cleanup(void *data)
{
    realip_ctx_t *ctx = data;
    sl_connection_t *c = ctx->connection;

    c->sockaddr = ctx->sockaddr;
    c->socklen = ctx->socklen;
    c->addr_text = ctx->addr_text;
}

/* The request's ctx, also after an internal redirect cleared r->ctx: the cleanup that will
 * restore the address holds it.  NULL when the address was not changed. */
static realip_ctx_t *realip_ctx(sl_http_request_t *r)
{
    realip_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_realip_module);

    if (ctx) {
        return ctx;
    }
    for (sl_pool_cleanup_t *cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == realip_cleanup) {
            ctx = cln->data;
            sl_http_set_ctx(r, ctx, sl_http_realip_module);
            return ctx;
        }
    }
    return NULL;
}

/* The first line of a header named name (any case), or NULL. */
static sl_table_elt_t *find_header(sl_http_request_t *r, const sl_str_t *name)
{
    SL_LIST_FOREACH(&r->headers_in.headers, part, i, sl_table_elt_t, h)
    {
        if (h->key.len == name->len && sl_strncasecmp(h->key.data, name->data, name->len) == 0) {
            return h;
        }
    }
    return NULL;
}

/* The X-Forwarded-For lines in arrival order (without recursive the last one is enough).
 * SL_OK, SL_DECLINED when there are none, SL_ERROR. */
static sl_int_t xfwd_values(sl_http_request_t *r, int recursive, sl_str_t **values, sl_uint_t *n)
{
    sl_table_elt_t *first = r->headers_in.x_forwarded_for, *h;
    sl_uint_t lines = 1;

    if (first == NULL) {
        return SL_DECLINED;
    }
    for (h = first; h->next; h = h->next) {
        lines++;
    }
    if (!recursive || lines == 1) {
        *values = &h->value;
        *n = 1;
        return SL_OK;
    }
    *values = sl_palloc(r->pool, lines * sizeof(sl_str_t));
    if (*values == NULL) {
        return SL_ERROR;
    }
    *n = 0;
    for (h = first; h; h = h->next) {
        (*values)[(*n)++] = h->value;
    }
    return SL_OK;
}

/* The header lines the configured header type reads.  SL_OK, SL_DECLINED, SL_ERROR. */
static sl_int_t header_values(sl_http_request_t *r, realip_loc_conf_t *rlcf, sl_str_t **values,
                              sl_uint_t *n)
{
    sl_table_elt_t *h;

    switch (rlcf->type) {
    case REALIP_XFWD:
        return xfwd_values(r, (int) rlcf->recursive, values, n);
    case REALIP_XREALIP:
        h = r->headers_in.x_real_ip;
        break;
    case REALIP_HEADER:
        h = find_header(r, &rlcf->header);
        break;
    default:
        return SL_DECLINED;
    }
    if (h == NULL) {
        return SL_DECLINED;
    }
    *values = &h->value;
    *n = 1;
    return SL_OK;
}

/* Makes addr the client address until the request's pool goes.  SL_DECLINED (the phase
 * goes on), or 500 when memory runs out. */
static sl_int_t set_addr(sl_http_request_t *r, const sl_addr_t *addr)
{
    sl_connection_t *c = r->connection;
    u_char text[SL_SOCKADDR_STRLEN];
    size_t len = sl_addr_ntop((const struct sockaddr *) &addr->sockaddr, addr->socklen, text,
                              sizeof(text), 0);
    u_char *p = sl_pnalloc(r->pool, len + 1);
    sl_pool_cleanup_t *cln = p ? sl_pool_cleanup_add(r->pool, sizeof(realip_ctx_t)) : NULL;

    if (cln == NULL) {
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    memcpy(p, text, len);
    p[len] = '\0';
    realip_ctx_t *ctx = cln->data;
    ctx->connection = c;
    ctx->sockaddr = c->sockaddr;
    ctx->socklen = c->socklen;
    ctx->addr_text = c->addr_text;
    cln->handler = realip_cleanup;
    sl_http_set_ctx(r, ctx, sl_http_realip_module);

    memset(&c->sockaddr, 0, sizeof(c->sockaddr));
    memcpy(&c->sockaddr, &addr->sockaddr, addr->socklen);
    c->socklen = addr->socklen;
    c->addr_text.data = p;
    c->addr_text.len = len;
    return SL_DECLINED;
}

/* real_ip_header proxy_protocol: the source address and port of the connection's PROXY
 * protocol header, when the peer is trusted.  SL_OK with *addr set, or SL_DECLINED (no
 * header, or one without addresses: the address stays the peer's, as nginx). */
static sl_int_t proxy_protocol_addr(sl_connection_t *c, realip_loc_conf_t *rlcf, sl_addr_t *addr)
{
    sl_proxy_protocol_t *pp = c->proxy_protocol;

    if (pp == NULL || sl_cidr_match(&c->sockaddr.sa, rlcf->from->elts, rlcf->from->nelts) != SL_OK
        || sl_parse_addr(pp->src_addr.data, pp->src_addr.len, addr) != SL_OK) {
        return SL_DECLINED;
    }
    if (addr->sockaddr.ss_family == AF_INET) {
        ((struct sockaddr_in *) &addr->sockaddr)->sin_port = htons((in_port_t) pp->src_port);
    } else {
        ((struct sockaddr_in6 *) &addr->sockaddr)->sin6_port = htons((in_port_t) pp->src_port);
    }
    return SL_OK;
}

/* The post-read and preaccess handler: always SL_DECLINED (500 when memory runs out). */
static sl_int_t realip_handler(sl_http_request_t *r)
{
    realip_loc_conf_t *rlcf = sl_http_get_module_loc_conf(r, sl_http_realip_module);
    sl_connection_t *c = r->connection;
    sl_str_t *values;
    sl_uint_t n;
    sl_addr_t addr;

    if (rlcf->from == NULL || realip_ctx(r)) {
        return SL_DECLINED;
    }
    if (rlcf->type == REALIP_PROXY) {
        memset(&addr, 0, sizeof(addr));
        return proxy_protocol_addr(c, rlcf, &addr) == SL_OK ? set_addr(r, &addr) : SL_DECLINED;
    }
    sl_int_t rc = header_values(r, rlcf, &values, &n);
    if (rc != SL_OK) {
        return rc == SL_ERROR ? SL_HTTP_INTERNAL_SERVER_ERROR : SL_DECLINED;
    }
    memset(&addr, 0, sizeof(addr));
    memcpy(&addr.sockaddr, &c->sockaddr, sl_min(c->socklen, sizeof(addr.sockaddr)));
    addr.socklen = c->socklen;
    if (sl_http_forwarded_addr(&addr, values, n, rlcf->from->elts, rlcf->from->nelts,
                               (int) rlcf->recursive)
        != SL_OK) {
        return SL_DECLINED;
    }
    return set_addr(r, &addr);
}

/* ---- variables ---- */

static sl_int_t var_realip_remote_addr(sl_http_request_t *r, sl_http_variable_value_t *v,
                                       uintptr_t data)
{
    realip_ctx_t *ctx = realip_ctx(r);
    sl_str_t *text = ctx ? &ctx->addr_text : &r->connection->addr_text;

    v->data = text->data;
    v->len = (unsigned) text->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return SL_OK;
}

/* The peer's port; empty for a unix socket, as $remote_port. */
static sl_int_t var_realip_remote_port(sl_http_request_t *r, sl_http_variable_value_t *v,
                                       uintptr_t data)
{
    realip_ctx_t *ctx = realip_ctx(r);
    sl_sockaddr_t *sa = ctx ? &ctx->sockaddr : &r->connection->sockaddr;
    unsigned port = sl_sockaddr_port(&sa->sa);
    v->data = sl_pnalloc(r->pool, sizeof("65535"));
    if (v->data == NULL) {
        return SL_ERROR;
    }
    v->len = port ? (unsigned) snprintf((char *) v->data, sizeof("65535"), "%u", port) : 0;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return SL_OK;
}

static sl_int_t preconfiguration(sl_conf_t *cf)
{
    static sl_http_variable_t vars[] = {
        { sl_string("realip_remote_addr"), NULL, var_realip_remote_addr, 0, 0, 0 },
        { sl_string("realip_remote_port"), NULL, var_realip_remote_port, 0, 0, 0 },
    };

    for (size_t i = 0; i < sl_nelems(vars); i++) {
        sl_http_variable_t *v = sl_http_add_variable(cf, &vars[i].name, vars[i].flags);
        if (v == NULL) {
            return SL_ERROR;
        }
        v->get_handler = vars[i].get_handler;
    }
    return SL_OK;
}

static sl_int_t postconfiguration(sl_conf_t *cf)
{
    if (sl_http_add_phase_handler(cf, SL_HTTP_POST_READ_PHASE, realip_handler) != SL_OK) {
        return SL_ERROR;
    }
    return sl_http_add_phase_handler(cf, SL_HTTP_PREACCESS_PHASE, realip_handler);
}

/* ---- configuration ---- */

static void *create_loc_conf(sl_conf_t *cf)
{
    realip_loc_conf_t *conf = sl_pcalloc(cf->pool, sizeof(realip_loc_conf_t));

    if (conf == NULL) {
        return NULL;
    }
    conf->type = SL_CONF_UNSET_UINT;
    conf->recursive = SL_CONF_UNSET;
    return conf;
}

static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child)
{
    realip_loc_conf_t *prev = parent;
    realip_loc_conf_t *conf = child;

    if (conf->from == NULL) {
        conf->from = prev->from;
    }
    sl_conf_merge_uint_value(conf->type, prev->type, REALIP_XREALIP);
    /* the name merges on its own, as nginx's: `real_ip_header "";` keeps the outer one */
    if (conf->header.len == 0) {
        conf->header = prev->header;
    }
    sl_conf_merge_value(conf->recursive, prev->recursive, 0);
    return SL_CONF_OK;
}

/* A host name: every address it resolves to, each one exact.  SL_CONF_OK or an error. */
static char *resolve_from(sl_conf_t *cf, sl_array_t *from, const sl_str_t *host)
{
    struct addrinfo hints, *res = NULL;
    char name[NI_MAXHOST];
    int found = 0;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (host->len < sizeof(name)) {
        memcpy(name, host->data, host->len);
        name[host->len] = '\0';
        found = getaddrinfo(name, NULL, &hints, &res) == 0;
    }
    for (struct addrinfo *ai = found ? res : NULL; ai; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) {
            continue;
        }
        sl_cidr_t *cidr = sl_array_push(from);
        if (cidr == NULL) {
            freeaddrinfo(res);
            return SL_CONF_ERROR;
        }
        memset(cidr, 0, sizeof(*cidr));
        cidr->family = ai->ai_family;
        if (ai->ai_family == AF_INET) {
            cidr->u.in.addr = ((struct sockaddr_in *) ai->ai_addr)->sin_addr.s_addr;
            cidr->u.in.mask = 0xffffffff;
        } else {
            cidr->u.in6.addr = ((struct sockaddr_in6 *) ai->ai_addr)->sin6_addr;
            memset(&cidr->u.in6.mask, 0xff, sizeof(cidr->u.in6.mask));
        }
    }
    if (res) {
        freeaddrinfo(res);
    }
    if (!found) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "host not found in set_real_ip_from \"%.*s\"",
                          SL_STR_ARG(*host));
        return SL_CONF_ERROR;
    }
    return SL_CONF_OK;
}

/* set_real_ip_from address | CIDR | unix: | host */
static char *set_real_ip_from(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    realip_loc_conf_t *rlcf = conf;
    sl_str_t *value = (sl_str_t *) cf->args->elts + 1;

    if (rlcf->from == NULL) {
        rlcf->from = sl_array_create(cf->pool, 2, sizeof(sl_cidr_t));
        if (rlcf->from == NULL) {
            return SL_CONF_ERROR;
        }
    }
    sl_cidr_t *cidr = sl_array_push(rlcf->from);
    if (cidr == NULL) {
        return SL_CONF_ERROR;
    }
    if (value->len == 5 && memcmp(value->data, "unix:", 5) == 0) {
        memset(cidr, 0, sizeof(*cidr));
        cidr->family = AF_UNIX;
        return SL_CONF_OK;
    }
    sl_int_t rc = sl_ptocidr(value, cidr);
    if (rc == SL_DONE) {
        sl_conf_log_error(SL_LOG_WARN, cf, 0, "low address bits of %.*s are meaningless",
                          SL_STR_ARG(*value));
    }
    if (rc != SL_ERROR) {
        return SL_CONF_OK;
    }
    rlcf->from->nelts--;
    return resolve_from(cf, rlcf->from, value);
}

/* real_ip_header X-Real-IP | X-Forwarded-For | proxy_protocol | name (the keywords are
 * matched exactly: "x-forwarded-for" is a header name, read as any other) */
static char *set_real_ip_header(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    realip_loc_conf_t *rlcf = conf;
    sl_str_t *value = (sl_str_t *) cf->args->elts + 1;
    static const struct {
        const char *name;
        sl_uint_t type;
    } keywords[] = {
        { "X-Real-IP", REALIP_XREALIP },
        { "X-Forwarded-For", REALIP_XFWD },
        { "proxy_protocol", REALIP_PROXY },
    };

    if (rlcf->type != SL_CONF_UNSET_UINT) {
        return "is duplicate";
    }
    for (size_t i = 0; i < sl_nelems(keywords); i++) {
        if (value->len == strlen(keywords[i].name)
            && memcmp(value->data, keywords[i].name, value->len) == 0) {
            rlcf->type = keywords[i].type;
            return SL_CONF_OK;
        }
    }
    rlcf->type = REALIP_HEADER;
    rlcf->header = *value;
    return SL_CONF_OK;
}
