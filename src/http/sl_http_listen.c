/*
 * sl_http_listen.c: the "listen" directive and the listening sockets built from all of
 * them: one socket per address:port, except that a wildcard address answers for the
 * specific addresses of its port that did not ask for a socket of their own ("bind").
 */
#include "sl_http.h"
#include "sl_http_server_name.h"
#include "sl_inet.h"
#include "sl_pool.h"

static char *listen_error(sl_conf_t *cf, sl_url_t *u)
{
    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "%s in \"%.*s\" of the \"listen\" directive", u->err,
                      SL_STR_ARG(u->url));
    return SL_CONF_ERROR;
}

static int parse_int_option(const sl_str_t *v, size_t skip, int *out)
{
    sl_int_t n = sl_atoi(v->data + skip, v->len - skip);

    if (n == SL_ERROR || n > INT_MAX) {
        return 0;
    }
    *out = (int) n;
    return 1;
}

static int parse_size_option(const sl_str_t *v, size_t skip, int *out)
{
    sl_str_t s = { v->len - skip, v->data + skip };
    ssize_t n = sl_parse_size(&s);

    if (n == SL_ERROR || n > INT_MAX) {
        return 0;
    }
    *out = (int) n;
    return 1;
}

/*
 * A parameter of a module sluice does not have yet: nginx 1.22's line for a build without
 * it (ngx_http_core_listen, src/http/ngx_http_core_module.c: "http2" without NGX_HTTP_V2);
 * anything else is nginx's "invalid parameter".
 */
static char *module_param(sl_conf_t *cf, const sl_str_t *v)
{
    if (sl_str_eq_cstr(v, "http2")) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "the \"http2\" parameter requires ngx_http_v2_module");
    } else {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid parameter \"%.*s\"", SL_STR_ARG(*v));
    }
    return SL_CONF_ERROR;
}

/*
 * "so_keepalive=on|off|[keepidle]:[keepintvl]:[keepcnt]" (times with units, "30m"): at
 * least one of the three; nginx's "invalid so_keepalive value" otherwise.
 */
static char *parse_so_keepalive(sl_conf_t *cf, sl_http_listen_opt_t *opt, const sl_str_t *v)
{
    sl_str_t rest = { v->len - 13, v->data + 13 };
    int *fields[3] = { &opt->keepidle, &opt->keepintvl, &opt->keepcnt };

    if (sl_str_eq_cstr(&rest, "on") || sl_str_eq_cstr(&rest, "off")) {
        opt->keepalive = rest.data[1] == 'n' ? 1 : 2;
        return SL_CONF_OK;
    }
    for (int i = 0; i < 3; i++) {
        u_char *colon = memchr(rest.data, ':', rest.len);
        sl_str_t part = { colon ? (size_t) (colon - rest.data) : rest.len, rest.data };
        if (part.len) {
            sl_int_t n = i < 2 ? sl_parse_time(&part, 1) : sl_atoi(part.data, part.len);
            if (n == SL_ERROR || n == 0 || n > INT_MAX) {
                goto invalid;
            }
            *fields[i] = (int) n;
        }
        if (colon == NULL) {
            break;
        }
        if (i == 2) {
            goto invalid;
        }
        rest.len -= part.len + 1;
        rest.data = colon + 1;
    }
    if (opt->keepidle || opt->keepintvl || opt->keepcnt) {
        opt->keepalive = 1;
        return SL_CONF_OK;
    }
invalid:
    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid so_keepalive value: \"%.*s\"",
                      (int) (v->len - 13), v->data + 13);
    return SL_CONF_ERROR;
}

#define OPTION(v, name)                                                                            \
    ((v)->len > sizeof(name) - 1 && memcmp((v)->data, name, sizeof(name) - 1) == 0)

/* One parameter after the address; SL_CONF_OK or an error (logged). */
static char *parse_listen_param(sl_conf_t *cf, sl_http_listen_opt_t *opt, const sl_str_t *v)
{
    if (sl_str_eq_cstr(v, "default_server") || sl_str_eq_cstr(v, "default")) {
        opt->default_server = 1;
        return SL_CONF_OK;
    }
    if (sl_str_eq_cstr(v, "ssl")) {
        opt->ssl = 1;
        return SL_CONF_OK;
    }
    if (sl_str_eq_cstr(v, "bind")) {
        opt->set = 1;
        opt->bind = 1;
        return SL_CONF_OK;
    }
    if (sl_str_eq_cstr(v, "reuseport")) {
        opt->set = 1;
        opt->bind = 1;
        opt->reuseport = 1;
        return SL_CONF_OK;
    }
    if (sl_str_eq_cstr(v, "proxy_protocol")) {
        opt->proxy_protocol = 1;
        return SL_CONF_OK;
    }
    if (OPTION(v, "backlog=")) {
        opt->set = 1;
        opt->bind = 1;
        if (!parse_int_option(v, 8, &opt->backlog) || opt->backlog == 0) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid backlog \"%.*s\"", SL_STR_ARG(*v));
            return SL_CONF_ERROR;
        }
        return SL_CONF_OK;
    }
    if (OPTION(v, "rcvbuf=") || OPTION(v, "sndbuf=")) {
        int rcv = v->data[0] == 'r';
        opt->set = 1;
        opt->bind = 1;
        if (!parse_size_option(v, 7, rcv ? &opt->rcvbuf : &opt->sndbuf)) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid %s \"%.*s\"", rcv ? "rcvbuf" : "sndbuf",
                              SL_STR_ARG(*v));
            return SL_CONF_ERROR;
        }
        return SL_CONF_OK;
    }
    if (sl_str_eq_cstr(v, "deferred")) {
        opt->set = 1;
        opt->bind = 1;
        opt->deferred_accept = 1;
        return SL_CONF_OK;
    }
    if (OPTION(v, "fastopen=")) {
        opt->set = 1;
        opt->bind = 1;
        if (!parse_int_option(v, 9, &opt->fastopen)) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid fastopen \"%.*s\"", SL_STR_ARG(*v));
            return SL_CONF_ERROR;
        }
        return SL_CONF_OK;
    }
    if (OPTION(v, "so_keepalive=")) {
        opt->set = 1;
        opt->bind = 1;
        return parse_so_keepalive(cf, opt, v);
    }
    if (sl_str_eq_cstr(v, "ipv6only=on") || sl_str_eq_cstr(v, "ipv6only=off")) {
        if (opt->sockaddr.sa.sa_family != AF_INET6) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                              "ipv6only is not supported on addr \"%.*s\", ignored",
                              SL_STR_ARG(opt->addr_text));
            return SL_CONF_ERROR;
        }
        opt->set = 1;
        opt->bind = 1;
        opt->ipv6only = v->data[10] == 'n';
        return SL_CONF_OK;
    }
    return module_param(cf, v);
}

char *sl_http_parse_listen(sl_conf_t *cf, sl_http_listen_opt_t *opt)
{
    sl_str_t *value = cf->args->elts;
    sl_url_t u;

    memset(&u, 0, sizeof(u));
    u.url = value[1];
    u.listen = 1;
    u.default_port = 80;
    if (sl_parse_url(cf->pool, &u) != SL_OK) {
        return listen_error(cf, &u);
    }
    memset(opt, 0, sizeof(*opt));
    memcpy(&opt->sockaddr, &u.addrs[0].sockaddr, u.addrs[0].socklen);
    opt->socklen = u.addrs[0].socklen;
    opt->addr_text = u.addrs[0].name;
    opt->wildcard = u.wildcard;
    opt->backlog = 511;
    opt->rcvbuf = -1;
    opt->sndbuf = -1;
    opt->fastopen = -1;
    opt->ipv6only = 1;
    if (opt->sockaddr.sa.sa_family == AF_INET6) {
        static const struct in6_addr any = IN6ADDR_ANY_INIT;
        opt->wildcard = memcmp(&opt->sockaddr.sin6.sin6_addr, &any, sizeof(any)) == 0;
    } else if (opt->sockaddr.sa.sa_family == AF_INET) {
        opt->wildcard = opt->sockaddr.sin.sin_addr.s_addr == INADDR_ANY;
    }
    for (sl_uint_t i = 2; i < cf->args->nelts; i++) {
        if (parse_listen_param(cf, opt, &value[i]) != SL_CONF_OK) {
            return SL_CONF_ERROR;
        }
    }
    return SL_CONF_OK;
}

static sl_http_conf_port_t *find_or_add_port(sl_conf_t *cf, sl_http_core_main_conf_t *cmcf,
                                             const sl_http_listen_opt_t *opt)
{
    int family = opt->sockaddr.sa.sa_family;
    in_port_t port = (in_port_t) sl_sockaddr_port(&opt->sockaddr.sa);

    if (cmcf->ports == NULL) {
        cmcf->ports = sl_array_create(cf->pool, 2, sizeof(sl_http_conf_port_t));
        if (cmcf->ports == NULL) {
            return NULL;
        }
    }
    sl_http_conf_port_t *ports = cmcf->ports->elts;
    for (sl_uint_t i = 0; i < cmcf->ports->nelts; i++) {
        if (ports[i].family == family && ports[i].port == port) {
            return &ports[i];
        }
    }
    sl_http_conf_port_t *p = sl_array_push(cmcf->ports);
    if (p == NULL || sl_array_init(&p->addrs, cf->pool, 2, sizeof(sl_http_conf_addr_t)) != SL_OK) {
        return NULL;
    }
    p->family = family;
    p->port = port;
    return p;
}

static sl_int_t add_server(sl_conf_t *cf, sl_http_conf_addr_t *addr, sl_http_core_srv_conf_t *cscf)
{
    sl_http_core_srv_conf_t **s = addr->servers.elts;

    for (sl_uint_t i = 0; i < addr->servers.nelts; i++) {
        if (s[i] == cscf) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "a duplicate listen %.*s",
                              SL_STR_ARG(addr->opt.addr_text));
            return SL_ERROR;
        }
    }
    sl_http_core_srv_conf_t **slot = sl_array_push(&addr->servers);
    if (slot == NULL) {
        return SL_ERROR;
    }
    *slot = cscf;
    return SL_OK;
}

/* The same address listed again, by this or another server. */
static sl_int_t merge_addr(sl_conf_t *cf, sl_http_conf_addr_t *addr, sl_http_core_srv_conf_t *cscf,
                           const sl_http_listen_opt_t *opt)
{
    if (add_server(cf, addr, cscf) != SL_OK) {
        return SL_ERROR;
    }
    if (opt->set && addr->opt.set) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "duplicate listen options for %.*s",
                          SL_STR_ARG(addr->opt.addr_text));
        return SL_ERROR;
    }
    int ssl = addr->opt.ssl || opt->ssl;
    /* any listen of the address asking for it turns it on for the address, as nginx */
    int proxy_protocol = addr->opt.proxy_protocol || opt->proxy_protocol;
    if (opt->set) {
        int default_server = addr->opt.default_server;
        addr->opt = *opt;
        addr->opt.default_server = default_server;
    }
    addr->opt.proxy_protocol = proxy_protocol;
    addr->opt.ssl = ssl;
    if (opt->default_server) {
        if (addr->opt.default_server) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "a duplicate default server for %.*s",
                              SL_STR_ARG(addr->opt.addr_text));
            return SL_ERROR;
        }
        addr->opt.default_server = 1;
        addr->default_server = cscf;
    }
    return SL_OK;
}

sl_int_t sl_http_add_listen(sl_conf_t *cf, sl_http_core_srv_conf_t *cscf, sl_http_listen_opt_t *opt)
{
    sl_http_core_main_conf_t *cmcf = sl_http_conf_get_module_main_conf(cf, sl_http_core_module);
    sl_http_conf_port_t *port = find_or_add_port(cf, cmcf, opt);

    if (port == NULL) {
        return SL_ERROR;
    }
    sl_http_conf_addr_t *addrs = port->addrs.elts;
    for (sl_uint_t i = 0; i < port->addrs.nelts; i++) {
        if (sl_addr_cmp(&addrs[i].opt.sockaddr.sa, addrs[i].opt.socklen, &opt->sockaddr.sa,
                        opt->socklen, 1)
            == 0) {
            return merge_addr(cf, &addrs[i], cscf, opt);
        }
    }
    sl_http_conf_addr_t *addr = sl_array_push(&port->addrs);
    if (addr == NULL
        || sl_array_init(&addr->servers, cf->pool, 2, sizeof(sl_http_core_srv_conf_t *)) != SL_OK) {
        return SL_ERROR;
    }
    addr->opt = *opt;
    addr->default_server = cscf;
    return add_server(cf, addr, cscf);
}

static sl_listening_t *add_listening(sl_conf_t *cf, sl_http_conf_addr_t *addr)
{
    sl_listening_t *ls = sl_create_listening(cf->cycle, &addr->opt.sockaddr.sa, addr->opt.socklen);
    if (ls == NULL) {
        return NULL;
    }
    ls->handler = sl_http_init_connection;
    ls->backlog = addr->opt.backlog;
    ls->rcvbuf = addr->opt.rcvbuf;
    ls->sndbuf = addr->opt.sndbuf;
    ls->keepalive = addr->opt.keepalive;
    ls->keepidle = addr->opt.keepidle;
    ls->keepintvl = addr->opt.keepintvl;
    ls->keepcnt = addr->opt.keepcnt;
    ls->fastopen = addr->opt.fastopen;
    if (addr->opt.deferred_accept) {
        /* as nginx: the kernel holds a connection that sent nothing this long */
        sl_msec_t t = addr->default_server->client_header_timeout;
        ls->deferred_accept = t == SL_CONF_UNSET_MSEC ? 60 : (int) (t / 1000);
    }
    ls->reuseport = addr->opt.reuseport;
    ls->ipv6only = addr->opt.ipv6only;
    ls->log = &cf->cycle->new_log;
    return ls;
}

static sl_int_t init_addr(sl_conf_t *cf, sl_http_addr_t *a, sl_http_conf_addr_t *ca)
{
    memcpy(&a->sockaddr, &ca->opt.sockaddr, ca->opt.socklen);
    a->socklen = ca->opt.socklen;
    a->default_server = ca->default_server;
    a->proxy_protocol = ca->opt.proxy_protocol;
    a->ssl = ca->opt.ssl;
    return sl_http_init_server_names(cf, a, ca);
}

/* The addresses a socket answers for: its own, or, for a wildcard, every address of the
 * port without a socket of its own (wildcard last, so specific ones match first). */
static sl_int_t fill_port(sl_conf_t *cf, sl_listening_t *ls, sl_http_conf_addr_t *addrs,
                          sl_uint_t n, sl_uint_t self, int wildcard)
{
    sl_http_port_t *hport = sl_pcalloc(cf->pool, sizeof(sl_http_port_t));
    if (hport == NULL) {
        return SL_ERROR;
    }
    hport->addrs = sl_pcalloc(cf->pool, n * sizeof(sl_http_addr_t));
    if (hport->addrs == NULL) {
        return SL_ERROR;
    }
    for (sl_uint_t i = 0; i < n; i++) {
        if (i == self || !wildcard || addrs[i].opt.bind) {
            continue;
        }
        if (init_addr(cf, &hport->addrs[hport->naddrs++], &addrs[i]) != SL_OK) {
            return SL_ERROR;
        }
    }
    if (init_addr(cf, &hport->addrs[hport->naddrs++], &addrs[self]) != SL_OK) {
        return SL_ERROR;
    }
    ls->servers = hport;
    return SL_OK;
}

static sl_int_t init_port_listening(sl_conf_t *cf, sl_http_conf_port_t *port)
{
    sl_http_conf_addr_t *addrs = port->addrs.elts;
    sl_uint_t n = port->addrs.nelts;
    sl_int_t wildcard = -1;

    for (sl_uint_t i = 0; i < n; i++) {
        if (addrs[i].opt.wildcard) {
            wildcard = (sl_int_t) i;
        }
    }
    for (sl_uint_t i = 0; i < n; i++) {
        int own_socket = wildcard == -1 || (sl_int_t) i == wildcard || addrs[i].opt.bind;
        if (!own_socket) {
            continue;
        }
        sl_listening_t *ls = add_listening(cf, &addrs[i]);
        if (ls == NULL || fill_port(cf, ls, addrs, n, i, (sl_int_t) i == wildcard) != SL_OK) {
            return SL_ERROR;
        }
    }
    return SL_OK;
}

sl_int_t sl_http_optimize_servers(sl_conf_t *cf, sl_http_core_main_conf_t *cmcf)
{
    if (cmcf->ports == NULL) {
        return SL_OK;
    }
    sl_http_conf_port_t *ports = cmcf->ports->elts;
    for (sl_uint_t p = 0; p < cmcf->ports->nelts; p++) {
        if (init_port_listening(cf, &ports[p]) != SL_OK) {
            return SL_ERROR;
        }
    }
    return SL_OK;
}
