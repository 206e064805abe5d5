/*
 * sl_http_geo_module.c: "geo [$address] $var { ... }", a variable chosen by the client's
 * address (or the address the first argument evaluates to), as nginx 1.22's geo module.
 *
 * Networks (CIDR, IPv4 and IPv6): the most specific network holding the address wins;
 * "default" is 0.0.0.0/0 and ::/0; a network listed twice keeps the later value (with
 * nginx's warning), "delete" removes one.  The table is kept sorted by prefix length, then
 * address, so a lookup is one binary search per prefix length in use.
 *
 * "ranges" (IPv4 only): "a.b.c.d-e.f.g.h value".  As nginx, ranges are cut at /16
 * boundaries; a piece inside an existing one splits it (the new value wins), an equal one
 * replaces it (warning), a partial overlap is an error; "delete" removes equal pieces.
 *
 * "proxy" (networks whose X-Forwarded-For is believed) and "proxy_recursive" take the client
 * address from X-Forwarded-For as realip's walk does.  An address that is not IP (a unix
 * socket, a value that does not parse) is looked up as 255.255.255.255, as nginx.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

#include "sl_http.h"
#include "sl_http_realip.h"
#include "sl_http_variables.h"
#include "sl_pool.h"

typedef struct {
    int family;
    unsigned bits;
    /** the network address (IPv4 in the first 4 bytes), bits beyond the prefix zero */
    u_char addr[16];
    sl_str_t *value;
} geo_net_t;

typedef struct {
    uint32_t start;
    uint32_t end;
    sl_str_t *value;
} geo_range_t;

typedef struct {
    sl_http_complex_value_t *source;
    /** geo_net_t sorted (family, bits descending, addr), or geo_range_t sorted by start */
    sl_array_t nets;
    sl_array_t ranges;
    sl_str_t *default_value;
    /** sl_cidr_t */
    sl_array_t proxies;
    unsigned ranges_mode : 1;
    unsigned proxy_recursive : 1;
    /** a network or range line was read ("ranges" must come before) */
    unsigned entries : 1;
} geo_t;

static char *geo_block(sl_conf_t *cf, sl_command_t *cmd, void *conf);

static sl_command_t geo_commands[] = {
    { sl_string("geo"), SL_HTTP_MAIN_CONF | SL_CONF_BLOCK | SL_CONF_TAKE12, geo_block,
      SL_HTTP_MAIN_CONF_OFFSET, 0, NULL },
    sl_null_command,
};

static sl_http_module_t geo_module_ctx = {
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
};

sl_module_t sl_http_geo_module = {
    "http_geo", 0, 0, SL_HTTP_MODULE, &geo_module_ctx, geo_commands, NULL, NULL, NULL,
};

static sl_str_t empty_value = sl_string("");

/* ---- lookup ---- */

static void mask_addr(u_char *addr, unsigned bits)
{
    for (unsigned i = 0; i < 16; i++) {
        unsigned keep = bits >= 8 * (i + 1) ? 8 : bits > 8 * i ? bits - 8 * i : 0;
        addr[i] &= (u_char) (0xff00 >> keep);
    }
}

static int cmp_nets(const void *a, const void *b)
{
    const geo_net_t *x = a, *y = b;

    if (x->family != y->family) {
        return x->family - y->family;
    }
    if (x->bits != y->bits) {
        return x->bits > y->bits ? -1 : 1;
    }
    return memcmp(x->addr, y->addr, 16);
}

static sl_str_t *find_net(geo_t *geo, int family, const u_char *addr)
{
    geo_net_t *n = geo->nets.elts;
    sl_uint_t count = geo->nets.nelts;
    geo_net_t key = { family, 0, { 0 }, NULL };

    for (sl_uint_t i = 0; i < count;) {
        /* the group of one family and prefix length: [i, j) */
        sl_uint_t j = i;
        while (j < count && n[j].family == n[i].family && n[j].bits == n[i].bits) {
            j++;
        }
        if (n[i].family == family) {
            key.bits = n[i].bits;
            memcpy(key.addr, addr, 16);
            mask_addr(key.addr, key.bits);
            geo_net_t *hit = bsearch(&key, &n[i], j - i, sizeof(geo_net_t), cmp_nets);
            if (hit) {
                return hit->value;
            }
        }
        i = j;
    }
    return NULL;
}

static sl_str_t *find_range(geo_t *geo, uint32_t addr)
{
    geo_range_t *r = geo->ranges.elts;
    sl_uint_t lo = 0, hi = geo->ranges.nelts;

    while (lo < hi) {
        sl_uint_t mid = lo + (hi - lo) / 2;
        if (addr < r[mid].start) {
            hi = mid;
        } else if (addr > r[mid].end) {
            lo = mid + 1;
        } else {
            return r[mid].value;
        }
    }
    return NULL;
}

/* The address to look up: the evaluated source, or the client's (through proxies). */
static sl_int_t geo_addr(sl_http_request_t *r, geo_t *geo, sl_addr_t *addr)
{
    memset(addr, 0, sizeof(*addr));
    if (geo->source) {
        sl_str_t s;
        if (sl_http_complex_value(r, geo->source, &s) != SL_OK) {
            return SL_ERROR;
        }
        if (sl_parse_addr(s.data, s.len, addr) != SL_OK) {
            addr->sockaddr.ss_family = AF_UNSPEC;
        }
        return SL_OK;
    }
    sl_connection_t *c = r->connection;
    memcpy(&addr->sockaddr, &c->sockaddr, sl_min(c->socklen, sizeof(addr->sockaddr)));
    addr->socklen = c->socklen;
    sl_table_elt_t *h = r->headers_in.x_forwarded_for;
    if (geo->proxies.nelts == 0 || h == NULL) {
        return SL_OK;
    }
    sl_uint_t n = 0;
    for (sl_table_elt_t *x = h; x; x = x->next) {
        n++;
    }
    sl_str_t *values = sl_palloc(r->pool, n * sizeof(sl_str_t));
    if (values == NULL) {
        return SL_ERROR;
    }
    n = 0;
    for (sl_table_elt_t *x = h; x; x = x->next) {
        values[n++] = x->value;
    }
    (void) sl_http_forwarded_addr(addr, values, n, geo->proxies.elts, geo->proxies.nelts,
                                  geo->proxy_recursive);
    return SL_OK;
}

/* The address as IPv4 for ranges and IPv4 networks (a mapped IPv6 address too);
 * 255.255.255.255 for anything not IP, as nginx.  0 when it is a plain IPv6 address. */
static int as_ipv4(const sl_addr_t *addr, uint32_t *v4)
{
    const struct sockaddr *sa = (const struct sockaddr *) &addr->sockaddr;

    if (sa->sa_family == AF_INET) {
        *v4 = ntohl(((const struct sockaddr_in *) sa)->sin_addr.s_addr);
        return 1;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *) sa)->sin6_addr;
        if (!IN6_IS_ADDR_V4MAPPED(a6)) {
            return 0;
        }
        memcpy(v4, &a6->s6_addr[12], 4);
        *v4 = ntohl(*v4);
        return 1;
    }
    *v4 = 0xffffffff;
    return 1;
}

static sl_int_t geo_variable(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    geo_t *geo = (geo_t *) data;
    sl_addr_t addr;
    sl_str_t *value;
    uint32_t v4;

    if (geo_addr(r, geo, &addr) != SL_OK) {
        return SL_ERROR;
    }
    int is_v4 = as_ipv4(&addr, &v4);
    if (geo->ranges_mode) {
        value = is_v4 ? find_range(geo, v4) : NULL;
    } else if (is_v4) {
        u_char key[16] = { 0 };
        uint32_t be = htonl(v4);
        memcpy(key, &be, 4);
        value = find_net(geo, AF_INET, key);
    } else {
        value =
            find_net(geo, AF_INET6, ((struct sockaddr_in6 *) &addr.sockaddr)->sin6_addr.s6_addr);
    }
    if (value == NULL) {
        value = geo->default_value ? geo->default_value : &empty_value;
    }
    v->data = value->data;
    v->len = (unsigned) value->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->escape = 0;
    return SL_OK;
}

/* ---- configuration: networks ---- */

/* A network line: "net value" or "delete net".  SL_CONF_OK or an error (logged). */
static char *add_net(sl_conf_t *cf, geo_t *geo, sl_str_t *net, sl_str_t *value)
{
    sl_cidr_t cidr;
    geo_net_t n;
    sl_int_t rc = SL_OK;

    if (sl_str_eq_cstr(net, "255.255.255.255")) {
        /* the address a unix socket's client is looked up as (no address parser takes
         * it: it is INADDR_NONE), as nginx special-cases it */
        cidr.family = AF_INET;
        cidr.u.in.addr = 0xffffffff;
        cidr.u.in.mask = 0xffffffff;
    } else {
        rc = sl_ptocidr(net, &cidr);
    }
    if (rc == SL_ERROR || (cidr.family != AF_INET && cidr.family != AF_INET6)) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid network \"%.*s\"", SL_STR_ARG(*net));
        return SL_CONF_ERROR;
    }
    if (rc == SL_DONE) {
        sl_conf_log_error(SL_LOG_WARN, cf, 0, "low address bits of %.*s are meaningless",
                          SL_STR_ARG(*net));
    }
    memset(&n, 0, sizeof(n));
    n.family = cidr.family;
    const u_char *mask;
    size_t len = cidr.family == AF_INET ? 4 : 16;
    if (cidr.family == AF_INET) {
        memcpy(n.addr, &cidr.u.in.addr, 4);
        mask = (const u_char *) &cidr.u.in.mask;
    } else {
        memcpy(n.addr, &cidr.u.in6.addr, 16);
        mask = cidr.u.in6.mask.s6_addr;
    }
    for (size_t i = 0; i < len; i++) {
        for (u_char b = mask[i]; b; b = (u_char) (b << 1)) {
            n.bits++;
        }
    }
    geo_net_t *nets = geo->nets.elts;
    for (sl_uint_t i = 0; i < geo->nets.nelts; i++) {
        if (cmp_nets(&nets[i], &n) != 0) {
            continue;
        }
        if (value == NULL) {
            memmove(&nets[i], &nets[i + 1], (geo->nets.nelts - i - 1) * sizeof(geo_net_t));
            geo->nets.nelts--;
            return SL_CONF_OK;
        }
        sl_conf_log_error(SL_LOG_WARN, cf, 0,
                          "duplicate network \"%.*s\", value: \"%.*s\", old value: \"%.*s\"",
                          SL_STR_ARG(*net), SL_STR_ARG(*value), SL_STR_ARG(*nets[i].value));
        nets[i].value = value;
        return SL_CONF_OK;
    }
    if (value == NULL) {
        sl_conf_log_error(SL_LOG_WARN, cf, 0, "no network \"%.*s\" to delete", SL_STR_ARG(*net));
        return SL_CONF_OK;
    }
    geo_net_t *slot = sl_array_push(&geo->nets);
    if (slot == NULL) {
        return SL_CONF_ERROR;
    }
    n.value = value;
    *slot = n;
    return SL_CONF_OK;
}

/* ---- configuration: ranges ---- */

static sl_int_t insert_range(geo_t *geo, sl_uint_t at, uint32_t s, uint32_t e, sl_str_t *value)
{
    if (sl_array_push(&geo->ranges) == NULL) {
        return SL_ERROR;
    }
    geo_range_t *r = geo->ranges.elts;
    memmove(&r[at + 1], &r[at], (geo->ranges.nelts - 1 - at) * sizeof(geo_range_t));
    r[at].start = s;
    r[at].end = e;
    r[at].value = value;
    return SL_OK;
}

static void range_text(u_char *buf, size_t size, uint32_t s, uint32_t e)
{
    snprintf((char *) buf, size, "%u.%u.%u.%u-%u.%u.%u.%u", s >> 24, (s >> 16) & 0xff,
             (s >> 8) & 0xff, s & 0xff, e >> 24, (e >> 16) & 0xff, (e >> 8) & 0xff, e & 0xff);
}

/* One piece [s, e] (inside one /16) into the sorted, disjoint list, as nginx places it. */
static char *add_piece(sl_conf_t *cf, geo_t *geo, const sl_str_t *net, uint32_t s, uint32_t e,
                       sl_str_t *value)
{
    geo_range_t *r = geo->ranges.elts;
    sl_uint_t n = geo->ranges.nelts, i = 0, hi = n;

    /* the first range not wholly before s (bases of 100k lines come mostly in order: the
     * search ends at once at the tail) */
    if (n > 0 && r[n - 1].end < s) {
        i = n;
    }
    while (i < hi) {
        sl_uint_t mid = i + (hi - i) / 2;
        if (r[mid].end < s) {
            i = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (i == n || e < r[i].start) {
        return insert_range(geo, i, s, e, value) == SL_OK ? SL_CONF_OK : SL_CONF_ERROR;
    }
    geo_range_t old = r[i];
    if (s == old.start && e == old.end) {
        sl_conf_log_error(SL_LOG_WARN, cf, 0,
                          "duplicate range \"%.*s\", value: \"%.*s\", old value: \"%.*s\"",
                          SL_STR_ARG(*net), SL_STR_ARG(*value), SL_STR_ARG(*old.value));
        r[i].value = value;
        return SL_CONF_OK;
    }
    if (s >= old.start && e <= old.end) {
        /* inside: the old range keeps what is left on either side */
        if (e < old.end && insert_range(geo, i + 1, e + 1, old.end, old.value) != SL_OK) {
            return SL_CONF_ERROR;
        }
        if (insert_range(geo, i + 1, s, e, value) != SL_OK) {
            return SL_CONF_ERROR;
        }
        r = geo->ranges.elts;
        if (s > old.start) {
            r[i].end = s - 1;
        } else {
            memmove(&r[i], &r[i + 1], (geo->ranges.nelts - i - 1) * sizeof(geo_range_t));
            geo->ranges.nelts--;
        }
        return SL_CONF_OK;
    }
    u_char text[32];
    range_text(text, sizeof(text), old.start, old.end);
    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "range \"%.*s\" overlaps \"%s\"", SL_STR_ARG(*net),
                      text);
    return SL_CONF_ERROR;
}

/* Removes the piece [s, e] when one equal to it is there.  1 removed, 0 not found. */
static int delete_piece(geo_t *geo, uint32_t s, uint32_t e)
{
    geo_range_t *r = geo->ranges.elts;

    for (sl_uint_t i = 0; i < geo->ranges.nelts; i++) {
        if (r[i].start == s && r[i].end == e) {
            memmove(&r[i], &r[i + 1], (geo->ranges.nelts - i - 1) * sizeof(geo_range_t));
            geo->ranges.nelts--;
            return 1;
        }
    }
    return 0;
}

static int parse_v4(const u_char *p, size_t len, uint32_t *out)
{
    in_addr_t a = sl_inet_addr(p, len);

    if (a == INADDR_NONE && !(len == 15 && memcmp(p, "255.255.255.255", 15) == 0)) {
        return 0;
    }
    *out = ntohl(a);
    return 1;
}

/* "a.b.c.d-e.f.g.h value" or "delete a.b.c.d-e.f.g.h" (value NULL). */
static char *add_range(sl_conf_t *cf, geo_t *geo, sl_str_t *net, sl_str_t *value)
{
    const u_char *dash = memchr(net->data, '-', net->len);
    uint32_t start, end;
    int missing = 0;

    if (dash == NULL || !parse_v4(net->data, (size_t) (dash - net->data), &start)
        || !parse_v4(dash + 1, (size_t) (net->data + net->len - dash - 1), &end) || start > end) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid range \"%.*s\"", SL_STR_ARG(*net));
        return SL_CONF_ERROR;
    }
    for (uint64_t n = start; n <= end; n = (n + 0x10000) & ~(uint64_t) 0xffff) {
        uint32_t s = (uint32_t) n, e = (uint32_t) sl_min((uint64_t) end, n | 0xffff);
        if (value == NULL) {
            missing |= !delete_piece(geo, s, e);
            continue;
        }
        char *rv = add_piece(cf, geo, net, s, e, value);
        if (rv != SL_CONF_OK) {
            return rv;
        }
    }
    if (missing) {
        sl_conf_log_error(SL_LOG_WARN, cf, 0, "no address range \"%.*s\" to delete",
                          SL_STR_ARG(*net));
    }
    return SL_CONF_OK;
}

/* ---- configuration: the block ---- */

static sl_str_t *copy_value(sl_conf_t *cf, const sl_str_t *v)
{
    sl_str_t *value = sl_palloc(cf->pool, sizeof(sl_str_t));

    if (value) {
        *value = *v;
    }
    return value;
}

static char *add_proxy(sl_conf_t *cf, geo_t *geo, sl_str_t *net)
{
    sl_cidr_t *cidr = sl_array_push(&geo->proxies);

    if (cidr == NULL) {
        return SL_CONF_ERROR;
    }
    sl_int_t rc = sl_ptocidr(net, cidr);
    if (rc == SL_ERROR) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid network \"%.*s\"", SL_STR_ARG(*net));
        return SL_CONF_ERROR;
    }
    if (rc == SL_DONE) {
        sl_conf_log_error(SL_LOG_WARN, cf, 0, "low address bits of %.*s are meaningless",
                          SL_STR_ARG(*net));
    }
    return SL_CONF_OK;
}

static char *geo_line(sl_conf_t *cf, sl_command_t *dummy, void *conf)
{
    geo_t *geo = conf;
    sl_str_t *arg = cf->args->elts;

    if (cf->args->nelts == 1 && sl_str_eq_cstr(&arg[0], "ranges")) {
        if (geo->entries) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                              "the \"ranges\" directive must be the first directive inside "
                              "\"geo\" block");
            return SL_CONF_ERROR;
        }
        geo->ranges_mode = 1;
        return SL_CONF_OK;
    }
    if (cf->args->nelts == 1 && sl_str_eq_cstr(&arg[0], "proxy_recursive")) {
        geo->proxy_recursive = 1;
        return SL_CONF_OK;
    }
    if (cf->args->nelts != 2) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid number of the geo parameters");
        return SL_CONF_ERROR;
    }
    if (sl_str_eq_cstr(&arg[0], "include")) {
        return sl_conf_include(cf, dummy, conf);
    }
    if (sl_str_eq_cstr(&arg[0], "proxy")) {
        return add_proxy(cf, geo, &arg[1]);
    }
    if (sl_str_eq_cstr(&arg[0], "default")) {
        geo->default_value = copy_value(cf, &arg[1]);
        return geo->default_value ? SL_CONF_OK : SL_CONF_ERROR;
    }
    int del = sl_str_eq_cstr(&arg[0], "delete");
    sl_str_t *net = del ? &arg[1] : &arg[0];
    sl_str_t *value = del ? NULL : copy_value(cf, &arg[1]);
    if (!del && value == NULL) {
        return SL_CONF_ERROR;
    }
    geo->entries = 1;
    return geo->ranges_mode ? add_range(cf, geo, net, value) : add_net(cf, geo, net, value);
}

/* The variable name of the block's last argument, declared.  NULL after logging. */
static sl_http_variable_t *declare(sl_conf_t *cf, sl_str_t *arg)
{
    sl_str_t name = *arg;

    if (name.len < 2 || name.data[0] != '$') {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid variable name \"%.*s\"", SL_STR_ARG(name));
        return NULL;
    }
    name.data++;
    name.len--;
    return sl_http_add_variable(cf, &name, SL_HTTP_VAR_CHANGEABLE);
}

static char *geo_block(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_str_t *arg = cf->args->elts;
    geo_t *geo = sl_pcalloc(cf->pool, sizeof(geo_t));

    (void) cmd;
    (void) conf;
    if (geo == NULL || sl_array_init(&geo->nets, cf->pool, 16, sizeof(geo_net_t)) != SL_OK
        || sl_array_init(&geo->ranges, cf->pool, 16, sizeof(geo_range_t)) != SL_OK
        || sl_array_init(&geo->proxies, cf->pool, 2, sizeof(sl_cidr_t)) != SL_OK) {
        return SL_CONF_ERROR;
    }
    if (cf->args->nelts == 3) {
        geo->source = sl_pcalloc(cf->pool, sizeof(sl_http_complex_value_t));
        if (geo->source == NULL || sl_http_compile_value(cf, &arg[1], geo->source) != SL_OK) {
            return SL_CONF_ERROR;
        }
    }
    sl_http_variable_t *var = declare(cf, &arg[cf->args->nelts - 1]);
    if (var == NULL) {
        return SL_CONF_ERROR;
    }
    var->get_handler = geo_variable;
    var->data = (uintptr_t) geo;

    sl_conf_t saved = *cf;
    cf->handler = geo_line;
    cf->handler_conf = geo;
    char *rv = sl_conf_parse(cf, NULL);
    *cf = saved;
    if (rv != SL_CONF_OK) {
        return rv;
    }
    qsort(geo->nets.elts, geo->nets.nelts, sizeof(geo_net_t), cmp_nets);
    return SL_CONF_OK;
}
