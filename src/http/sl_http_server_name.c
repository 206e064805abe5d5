/*
 * sl_http_server_name.c: server_name matching.
 */
#include <stdlib.h>

#include "sl_http_core_set.h"
#include "sl_http_server_name.h"
#include "sl_http_ssl.h"
#include "sl_http_variables.h"
#include "sl_pool.h"

/* Exact names first, then "*.x" and ".x" (longest first), then "x.*" (longest first), then
 * regexes in configuration order (stable). */
static int name_rank(const sl_http_server_name_t *n)
{
    if (n->regex) {
        return 3;
    }
    if (n->wildcard_head || n->dot_prefix) {
        return 1;
    }
    if (n->wildcard_tail) {
        return 2;
    }
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    const sl_http_server_name_t *x = a, *y = b;
    int rx = name_rank(x), ry = name_rank(y);

    if (rx != ry) {
        return rx - ry;
    }
    if (rx == 1 || rx == 2) {
        return (int) y->name.len - (int) x->name.len;
    }
    return 0;
}

static sl_int_t check_duplicates(sl_conf_t *cf, sl_http_server_name_t *names, sl_uint_t n)
{
    for (sl_uint_t i = 0; i < n; i++) {
        for (sl_uint_t j = i + 1; j < n; j++) {
            if (names[i].regex || names[j].regex || !sl_str_eq(&names[i].name, &names[j].name)
                || names[i].server == names[j].server) {
                continue;
            }
            sl_log_error(SL_LOG_WARN, cf->log, 0, "conflicting server name \"%.*s\" on %s, ignored",
                         SL_STR_ARG(names[j].name), "address");
            names[j].name.len = 0;
            names[j].name.data = (u_char *) "";
            names[j].server = NULL;
        }
    }
    return SL_OK;
}

/* nginx builds an address's server_names_hash when more than one server shares it (or
 * its default server's regex name has captures) and one of its names is not a regex
 * (ngx_http_server_names, src/http/ngx_http.c). */
static sl_int_t check_hash_sizes(sl_conf_t *cf, sl_http_conf_addr_t *conf_addr)
{
    sl_http_core_srv_conf_t **servers = conf_addr->servers.elts;
    sl_http_core_main_conf_t *cmcf =
        conf_addr->default_server->ctx->main_conf[sl_http_core_module.ctx_index];
    int plain = 0, captures = 0;

    for (sl_uint_t i = 0; i < conf_addr->servers.nelts; i++) {
        sl_http_server_name_t *names = servers[i]->server_names.elts;
        /* no server_name is nginx's "" */
        plain |= servers[i]->server_names.nelts == 0;
        for (sl_uint_t j = 0; j < servers[i]->server_names.nelts; j++) {
            plain |= names[j].regex == NULL;
            captures |= servers[i] == conf_addr->default_server && names[j].captures;
        }
    }
    if (!plain || (conf_addr->servers.nelts < 2 && !captures)) {
        return SL_OK;
    }
    return sl_http_check_hash_sizes(cf, "server_names_hash", cmcf->server_names_hash_max_size, 512,
                                    cmcf->server_names_hash_bucket_size);
}

sl_int_t sl_http_init_server_names(sl_conf_t *cf, sl_http_addr_t *addr,
                                   sl_http_conf_addr_t *conf_addr)
{
    sl_http_core_srv_conf_t **servers = conf_addr->servers.elts;
    sl_uint_t n = 0;

    if (check_hash_sizes(cf, conf_addr) != SL_OK) {
        return SL_ERROR;
    }
    for (sl_uint_t i = 0; i < conf_addr->servers.nelts; i++) {
        n += servers[i]->server_names.nelts;
    }
    addr->names = sl_pcalloc(cf->pool, sl_max(n, 1) * sizeof(sl_http_server_name_t));
    if (addr->names == NULL) {
        return SL_ERROR;
    }
    for (sl_uint_t i = 0; i < conf_addr->servers.nelts; i++) {
        memcpy(addr->names + addr->nnames, servers[i]->server_names.elts,
               servers[i]->server_names.nelts * sizeof(sl_http_server_name_t));
        addr->nnames += servers[i]->server_names.nelts;
    }
    /* qsort is not stable; regexes must keep config order, so sort with the index. */
    for (sl_uint_t i = 1; i < addr->nnames; i++) {
        sl_http_server_name_t t = addr->names[i];
        sl_uint_t j = i;
        while (j > 0 && cmp_names(&addr->names[j - 1], &t) > 0) {
            addr->names[j] = addr->names[j - 1];
            j--;
        }
        addr->names[j] = t;
    }
    return check_duplicates(cf, addr->names, addr->nnames);
}

static int wildcard_match(const sl_http_server_name_t *sn, const sl_str_t *host)
{
    const sl_str_t *name = &sn->name;

    if (sn->wildcard_tail) {
        /* "www.example.*": the host starts with "www.example." */
        size_t n = name->len - 1;
        return host->len > n && memcmp(host->data, name->data, n) == 0;
    }
    /* "*.example.com" matches "a.example.com"; ".example.com" also "example.com" */
    size_t skip = sn->wildcard_head ? 1 : 0;
    const u_char *suffix = name->data + skip;
    size_t slen = name->len - skip;
    if (host->len > slen && memcmp(host->data + host->len - slen, suffix, slen) == 0) {
        return 1;
    }
    return sn->dot_prefix && host->len == slen - 1 && memcmp(host->data, suffix + 1, slen - 1) == 0;
}

static sl_int_t regex_match(sl_http_request_t *r, sl_http_server_name_t *sn, const sl_str_t *host)
{
    int ov[60];

    if (r == NULL) {
        return sl_regex_exec(sn->regex, host, ov, sl_nelems(ov));
    }
    /* keeps $1..$9 and sets the named captures' variables ($name) */
    return sl_http_regex_match(r, sn->http_regex, host);
}

sl_http_core_srv_conf_t *sl_http_find_server(sl_http_request_t *r, sl_http_addr_t *addr,
                                             const sl_str_t *host)
{
    for (sl_uint_t i = 0; i < addr->nnames; i++) {
        sl_http_server_name_t *sn = &addr->names[i];

        if (sn->server == NULL) {
            continue;
        }
        if (sn->regex) {
            if (regex_match(r, sn, host) > 0) {
                return sn->server;
            }
            continue;
        }
        if (sn->wildcard_head || sn->wildcard_tail || sn->dot_prefix) {
            if (wildcard_match(sn, host)) {
                return sn->server;
            }
            continue;
        }
        if (sl_str_eq(&sn->name, host)) {
            return sn->server;
        }
    }
    return NULL;
}

sl_int_t sl_http_set_virtual_server(sl_http_request_t *r, const sl_str_t *host)
{
    sl_http_connection_t *hc = r->http_connection;
    sl_http_core_srv_conf_t *cscf = sl_http_find_server(r, hc->addr, host);

    if (hc->ssl_servername && sl_http_ssl_check_host(r, cscf, host) != SL_OK) {
        return SL_ERROR;
    }
    if (cscf == NULL) {
        return SL_OK;
    }
    r->srv_conf = cscf->ctx->srv_conf;
    r->loc_conf = cscf->ctx->loc_conf;
    return SL_OK;
}
