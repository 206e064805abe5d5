/*
 * sl_http_proxy_protocol_vars.c: what a connection's PROXY protocol header said, as
 * variables: $proxy_protocol_addr, $proxy_protocol_port, $proxy_protocol_server_addr,
 * $proxy_protocol_server_port, and $proxy_protocol_tlv_NAME (version 2's TLVs, nginx
 * 1.23's names).  All are empty when the connection had no header or one without addresses
 * ("UNKNOWN", "LOCAL").
 */
#include <stdio.h>

#include "sl_http_variables.h"

#define PP_SRC 0
#define PP_DST 1

static sl_int_t not_found(sl_http_variable_value_t *v)
{
    v->len = 0;
    v->data = NULL;
    v->valid = 0;
    v->not_found = 1;
    return SL_OK;
}

static sl_int_t found(sl_http_variable_value_t *v, u_char *data, size_t len)
{
    v->len = (unsigned) len;
    v->data = data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->escape = 0;
    return SL_OK;
}

static sl_int_t var_pp_addr(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    sl_proxy_protocol_t *pp = r->connection->proxy_protocol;

    if (pp == NULL) {
        return not_found(v);
    }
    sl_str_t *addr = data == PP_SRC ? &pp->src_addr : &pp->dst_addr;
    return found(v, addr->data, addr->len);
}

/* As nginx, port 0 reads as empty. */
static sl_int_t var_pp_port(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    sl_proxy_protocol_t *pp = r->connection->proxy_protocol;

    if (pp == NULL) {
        return not_found(v);
    }
    unsigned port = data == PP_SRC ? pp->src_port : pp->dst_port;
    u_char *p = sl_pnalloc(r->pool, sizeof("65535"));
    if (p == NULL) {
        return SL_ERROR;
    }
    size_t len = port > 0 ? (size_t) snprintf((char *) p, sizeof("65535"), "%u", port) : 0;
    return found(v, p, len);
}

/* $proxy_protocol_tlv_NAME: data is the variable's name. */
static sl_int_t var_pp_tlv(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    const sl_str_t *var = (const sl_str_t *) data;
    size_t skip = sizeof("proxy_protocol_tlv_") - 1;
    sl_str_t name = { var->len - skip, var->data + skip };
    sl_proxy_protocol_t *pp = r->connection->proxy_protocol;
    sl_str_t value;

    if (pp == NULL) {
        return not_found(v);
    }
    sl_int_t rc = sl_proxy_protocol_tlv(r->pool, r->connection->log, pp, &name, &value);
    if (rc == SL_ERROR) {
        return SL_ERROR;
    }
    return rc == SL_DECLINED ? not_found(v) : found(v, value.data, value.len);
}

// clang-format off
static sl_http_variable_t pp_variables[] = {
    { sl_string("proxy_protocol_addr"), NULL, var_pp_addr, PP_SRC, 0, 0 },
    { sl_string("proxy_protocol_port"), NULL, var_pp_port, PP_SRC, 0, 0 },
    { sl_string("proxy_protocol_server_addr"), NULL, var_pp_addr, PP_DST, 0, 0 },
    { sl_string("proxy_protocol_server_port"), NULL, var_pp_port, PP_DST, 0, 0 },
    { sl_string("proxy_protocol_tlv_"), NULL, var_pp_tlv, 0, SL_HTTP_VAR_PREFIX, 0 },
};
// clang-format on

sl_int_t sl_http_proxy_protocol_add_variables(sl_conf_t *cf)
{
    for (size_t i = 0; i < sl_nelems(pp_variables); i++) {
        sl_http_variable_t *pv = &pp_variables[i];
        sl_http_variable_t *v = sl_http_add_variable(cf, &pv->name, pv->flags);

        if (v == NULL) {
            return SL_ERROR;
        }
        v->get_handler = pv->get_handler;
        v->data = pv->data;
    }
    return SL_OK;
}
