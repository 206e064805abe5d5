/*
 * sl_http_ssl_certificate.c: ssl_certificate and ssl_certificate_key with variables
 * ("$ssl_server_name.crt", "data:$cert"), as nginx 1.15.9+.  The server's context then holds
 * no certificate: OpenSSL's certificate callback, which runs once SNI has chosen the server,
 * evaluates the names for the connection (a request that exists only for the evaluation:
 * variables such as $ssl_server_name or a geo on the client's address need one) and loads
 * the pair, from the ssl_certificate_cache of the server when it has one.  A pair that does
 * not load fails the handshake.
 */
#include "sl_http_ssl.h"
#include "sl_http_variables.h"
#include "sl_pool.h"

int sl__http_ssl_certificates_have_variables(sl_http_ssl_srv_conf_t *sscf)
{
    sl_array_t *lists[2] = { sscf->certificates, sscf->certificate_keys };

    for (int l = 0; l < 2; l++) {
        sl_str_t *s = lists[l] ? lists[l]->elts : NULL;
        for (sl_uint_t i = 0; s && i < lists[l]->nelts; i++) {
            if (sl_http_script_variables_count(&s[i])) {
                return 1;
            }
        }
    }
    return 0;
}

/* The names compiled as complex values: a relative file name is taken in the config's
 * directory once evaluated, an inline "data:" PEM as it is. */
static sl_array_t *compile_list(sl_conf_t *cf, sl_array_t *names)
{
    sl_array_t *values = sl_array_create(cf->pool, names->nelts, sizeof(sl_http_complex_value_t));
    sl_str_t *name = names->elts;

    if (values == NULL) {
        return NULL;
    }
    for (sl_uint_t i = 0; i < names->nelts; i++) {
        sl_http_complex_value_t *cv = sl_array_push(values);
        if (cv == NULL) {
            return NULL;
        }
        sl_http_compile_complex_value_t ccv = {
            .cf = cf,
            .value = &name[i],
            .complex_value = cv,
            .zero = 1,
            .conf_prefix = !(name[i].len >= 5 && memcmp(name[i].data, "data:", 5) == 0),
        };
        if (sl_http_compile_complex_value(&ccv) != SL_OK) {
            return NULL;
        }
    }
    return values;
}

static int certificate_callback(SSL *ssl_conn, void *arg);

sl_int_t sl__http_ssl_compile_certificates(sl_conf_t *cf, sl_http_ssl_srv_conf_t *sscf)
{
    sscf->certificate_values = compile_list(cf, sscf->certificates);
    sscf->certificate_key_values = compile_list(cf, sscf->certificate_keys);
    if (sscf->certificate_values == NULL || sscf->certificate_key_values == NULL) {
        return SL_ERROR;
    }
    if (sscf->certificate_cache_max > 0) {
        /* max counts certificates and keys, as nginx's cache of objects: a pair takes two */
        sl_uint_t pairs = (sl_uint_t) sscf->certificate_cache_max / 2;
        sscf->certificate_cache = sl_ssl_cert_cache_create(
            cf->cycle->pool, cf->log, pairs ? pairs : 1, sscf->certificate_cache_inactive,
            sscf->certificate_cache_valid);
        if (sscf->certificate_cache == NULL) {
            return SL_ERROR;
        }
    }
    /* the callback travels with the context when SNI switches to it (SSL_set_SSL_CTX) */
    SSL_CTX_set_cert_cb(sscf->ssl.ctx, certificate_callback, sscf);
    return SL_OK;
}

/* A request that exists only to evaluate variables for connection c, in its own pool. */
static sl_http_request_t *evaluation_request(sl_connection_t *c)
{
    sl_http_connection_t *hc = c->data;
    sl_pool_t *pool = sl_pool_create(4096, c->log);

    if (pool == NULL) {
        return NULL;
    }
    sl_http_request_t *r = sl_pcalloc(pool, sizeof(sl_http_request_t));
    sl_http_core_main_conf_t *cmcf = hc->conf_ctx->main_conf[sl_http_core_module.ctx_index];
    if (r == NULL) {
        sl_pool_destroy(pool);
        return NULL;
    }
    r->pool = pool;
    r->connection = c;
    r->http_connection = hc;
    r->main_conf = hc->conf_ctx->main_conf;
    r->srv_conf = hc->conf_ctx->srv_conf;
    r->loc_conf = hc->conf_ctx->loc_conf;
    r->main = r;
    r->count = 1;
    r->ctx = sl_pcalloc(pool, sl_http_module_count() * sizeof(void *));
    r->variables = sl_pcalloc(pool, (cmcf->variables.nelts + 1) * sizeof(*r->variables));
    if (r->ctx == NULL || r->variables == NULL
        || sl_list_init(&r->headers_out.headers, pool, 2, sizeof(sl_table_elt_t)) != SL_OK) {
        sl_pool_destroy(pool);
        return NULL;
    }
    r->headers_in.content_length_n = -1;
    r->headers_out.content_length_n = -1;
    return r;
}

/* Evaluates the names of pair i and gives the connection that pair.  SL_OK or SL_ERROR. */
static sl_int_t use_pair(sl_http_request_t *r, sl_http_ssl_srv_conf_t *sscf, SSL *ssl_conn,
                         sl_uint_t i)
{
    sl_http_complex_value_t *certs = sscf->certificate_values->elts;
    sl_http_complex_value_t *keys = sscf->certificate_key_values->elts;
    sl_str_t cert, key;

    if (sl_http_complex_value(r, &certs[i], &cert) != SL_OK
        || sl_http_complex_value(r, &keys[i], &key) != SL_OK) {
        return SL_ERROR;
    }
    return sl_ssl_use_certificate(ssl_conn, sscf->certificate_cache, &cert, &key, sscf->passwords,
                                  r->connection->log);
}

static int certificate_callback(SSL *ssl_conn, void *arg)
{
    sl_connection_t *c = SSL_get_ex_data(ssl_conn, sl_ssl_connection_index);
    sl_http_ssl_srv_conf_t *sscf = arg;

    if (c == NULL || c->ssl->handshaked) {
        return 1;
    }
    sl_http_request_t *r = evaluation_request(c);
    if (r == NULL) {
        return 0;
    }
    int ok = 1;
    for (sl_uint_t i = 0; ok && i < sscf->certificate_values->nelts; i++) {
        ok = use_pair(r, sscf, ssl_conn, i) == SL_OK;
    }
    sl_pool_destroy(r->pool);
    return ok;
}

/* ---- ssl_certificate_cache ---- */

static char *invalid(sl_conf_t *cf, const sl_str_t *v)
{
    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid parameter \"%.*s\"", SL_STR_ARG(*v));
    return SL_CONF_ERROR;
}

/* "name=time" into *out (seconds).  1: it was that parameter, 0: another, -1: invalid. */
static int time_param(const sl_str_t *v, const char *name, time_t *out)
{
    size_t n = strlen(name);

    if (v->len <= n || memcmp(v->data, name, n) != 0) {
        return 0;
    }
    sl_str_t t = { v->len - n, v->data + n };
    sl_int_t sec = sl_parse_time(&t, 1);
    if (sec == SL_ERROR) {
        return -1;
    }
    *out = (time_t) sec;
    return 1;
}

char *sl__http_ssl_set_certificate_cache(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_http_ssl_srv_conf_t *sscf = conf;
    sl_str_t *value = cf->args->elts;

    if (sscf->certificate_cache_max != SL_CONF_UNSET) {
        return "is duplicate";
    }
    if (cf->args->nelts == 2 && sl_str_eq_cstr(&value[1], "off")) {
        sscf->certificate_cache_max = 0;
        return SL_CONF_OK;
    }
    sl_int_t max = 0;
    /* nginx's defaults */
    sscf->certificate_cache_inactive = 10;
    sscf->certificate_cache_valid = 60;
    for (sl_uint_t i = 1; i < cf->args->nelts; i++) {
        sl_str_t *v = &value[i];
        int rc;
        if (v->len > 4 && memcmp(v->data, "max=", 4) == 0) {
            max = sl_atoi(v->data + 4, v->len - 4);
            if (max == SL_ERROR || max == 0) {
                return invalid(cf, v);
            }
        } else if ((rc = time_param(v, "inactive=", &sscf->certificate_cache_inactive)) != 0
                   || (rc = time_param(v, "valid=", &sscf->certificate_cache_valid)) != 0) {
            if (rc < 0) {
                return invalid(cf, v);
            }
        } else {
            return invalid(cf, v);
        }
    }
    if (max == 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "\"ssl_certificate_cache\" must have \"max\" "
                          "parameter");
        return SL_CONF_ERROR;
    }
    sscf->certificate_cache_max = max;
    (void) cmd;
    return SL_CONF_OK;
}
