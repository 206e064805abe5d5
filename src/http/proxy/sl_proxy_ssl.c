/*
 * sl_proxy_ssl.c: the proxy_ssl_* directives and the TLS context of a location whose
 * proxy_pass can be https:// (the literal scheme, or variables that may give it), made
 * when the location is merged, with nginx's defaults: no SNI, no verification (operators
 * should turn proxy_ssl_verify on), sessions reused.  Certificates whose names have
 * variables are loaded per connection (sl_upstream_ssl.c); the others go in the context.
 */
#include "sl_http_variables.h"
#include "sl_pool.h"
#include "sl_proxy.h"

// clang-format off
sl_conf_bitmask_t sl__proxy_ssl_protocols[] = {
    { sl_string("SSLv2"), SL_SSL_SSLv2 },
    { sl_string("SSLv3"), SL_SSL_SSLv3 },
    { sl_string("TLSv1"), SL_SSL_TLSv1 },
    { sl_string("TLSv1.1"), SL_SSL_TLSv1_1 },
    { sl_string("TLSv1.2"), SL_SSL_TLSv1_2 },
    { sl_string("TLSv1.3"), SL_SSL_TLSv1_3 },
    { sl_null_string, 0 },
};
// clang-format on

void sl__proxy_ssl_create_conf(proxy_loc_conf_t *plcf)
{
    plcf->upstream.ssl_server_name = SL_CONF_UNSET;
    plcf->upstream.ssl_verify = SL_CONF_UNSET;
    plcf->upstream.ssl_session_reuse = SL_CONF_UNSET;
    plcf->ssl.verify_depth = SL_CONF_UNSET;
    plcf->ssl.passwords = SL_CONF_UNSET_PTR;
    plcf->ssl.conf_commands = SL_CONF_UNSET_PTR;
}

char *sl__proxy_ssl_set_name(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    proxy_loc_conf_t *plcf = conf;
    sl_str_t *value = cf->args->elts;

    if (plcf->upstream.ssl_name) {
        return "is duplicate";
    }
    plcf->upstream.ssl_name = sl_pcalloc(cf->pool, sizeof(sl_http_complex_value_t));
    if (plcf->upstream.ssl_name == NULL
        || sl_http_compile_value(cf, &value[1], plcf->upstream.ssl_name) != SL_OK) {
        return SL_CONF_ERROR;
    }
    return SL_CONF_OK;
}

char *sl__proxy_ssl_set_password_file(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    proxy_loc_conf_t *plcf = conf;
    sl_str_t *value = cf->args->elts;

    if (plcf->ssl.passwords != SL_CONF_UNSET_PTR) {
        return "is duplicate";
    }
    sl_str_t file = value[1];
    if (sl_conf_full_name(cf->cycle, &file, 1) != SL_OK) {
        return SL_CONF_ERROR;
    }
    plcf->ssl.passwords = sl_ssl_read_password_file(cf->pool, cf->log, &file);
    return plcf->ssl.passwords ? SL_CONF_OK : SL_CONF_ERROR;
}

static void merge_values(proxy_loc_conf_t *prev, proxy_loc_conf_t *conf)
{
    sl_upstream_conf_t *u = &conf->upstream, *pu = &prev->upstream;
    proxy_ssl_conf_t *s = &conf->ssl, *ps = &prev->ssl;

    sl_conf_merge_value(u->ssl_server_name, pu->ssl_server_name, 0);
    sl_conf_merge_value(u->ssl_verify, pu->ssl_verify, 0);
    sl_conf_merge_value(u->ssl_session_reuse, pu->ssl_session_reuse, 1);
    if (u->ssl_name == NULL) {
        u->ssl_name = pu->ssl_name;
    }
    sl_conf_merge_bitmask_value(s->protocols, ps->protocols, SL_SSL_DEFAULT_PROTOCOLS);
    sl_conf_merge_str_value(s->ciphers, ps->ciphers, "DEFAULT");
    sl_conf_merge_str_value(s->trusted_certificate, ps->trusted_certificate, "");
    sl_conf_merge_str_value(s->crl, ps->crl, "");
    sl_conf_merge_str_value(s->certificate, ps->certificate, "");
    sl_conf_merge_str_value(s->certificate_key, ps->certificate_key, "");
    sl_conf_merge_value(s->verify_depth, ps->verify_depth, 1);
    sl_conf_merge_ptr_value(s->passwords, ps->passwords, NULL);
    sl_conf_merge_ptr_value(s->conf_commands, ps->conf_commands, NULL);
}

static sl_int_t full_name(sl_conf_t *cf, sl_str_t *name)
{
    return name->len == 0 ? SL_OK : sl_conf_full_name(cf->cycle, name, 1);
}

/* proxy_ssl_certificate: into the context, or compiled for each connection when either
 * name has variables. */
static sl_int_t set_certificate(sl_conf_t *cf, proxy_loc_conf_t *conf, sl_ssl_t *ssl)
{
    proxy_ssl_conf_t *s = &conf->ssl;
    sl_str_t cert = s->certificate, key = s->certificate_key;

    if (cert.len == 0) {
        return SL_OK;
    }
    if (key.len == 0) {
        sl_log_error(SL_LOG_EMERG, cf->log, 0,
                     "no \"proxy_ssl_certificate_key\" is defined for certificate \"%.*s\"",
                     SL_STR_ARG(cert));
        return SL_ERROR;
    }
    if (sl_http_script_variables_count(&cert) || sl_http_script_variables_count(&key)) {
        sl_upstream_conf_t *u = &conf->upstream;
        u->ssl_certificate = sl_pcalloc(cf->pool, sizeof(sl_http_complex_value_t));
        u->ssl_certificate_key = sl_pcalloc(cf->pool, sizeof(sl_http_complex_value_t));
        u->ssl_passwords = s->passwords;
        u->ssl_conf_prefix = (sl_str_t){ 0, (u_char *) "" };
        if (sl_conf_full_name(cf->cycle, &u->ssl_conf_prefix, 1) != SL_OK) {
            return SL_ERROR;
        }
        if (u->ssl_certificate == NULL || u->ssl_certificate_key == NULL
            || sl_http_compile_value(cf, &cert, u->ssl_certificate) != SL_OK
            || sl_http_compile_value(cf, &key, u->ssl_certificate_key) != SL_OK) {
            return SL_ERROR;
        }
        return SL_OK;
    }
    if (full_name(cf, &cert) != SL_OK || full_name(cf, &key) != SL_OK) {
        return SL_ERROR;
    }
    return sl_ssl_certificate(ssl, &cert, &key, s->passwords);
}

static sl_int_t conf_commands(sl_conf_t *cf, sl_ssl_t *ssl, sl_array_t *commands)
{
    sl_str_t prefix = { 0, (u_char *) "" };

    if (sl_conf_full_name(cf->cycle, &prefix, 1) != SL_OK) {
        return SL_ERROR;
    }
    return sl_ssl_conf_commands(ssl, commands, &prefix);
}

static sl_int_t create_context(sl_conf_t *cf, proxy_loc_conf_t *conf)
{
    proxy_ssl_conf_t *s = &conf->ssl;
    sl_ssl_t *ssl = sl_pcalloc(cf->pool, sizeof(sl_ssl_t));
    sl_str_t trusted = s->trusted_certificate, crl = s->crl;

    if (ssl == NULL) {
        return SL_ERROR;
    }
    ssl->log = cf->log;
    if (sl_ssl_init(cf->log) != SL_OK || sl_ssl_create(ssl, s->protocols, NULL) != SL_OK
        || sl_ssl_cleanup_add(cf->cycle->pool, ssl) != SL_OK) {
        return SL_ERROR;
    }
    conf->upstream.ssl = ssl;
    if (conf->upstream.ssl_verify && trusted.len == 0) {
        sl_log_error(SL_LOG_EMERG, cf->log, 0,
                     "no proxy_ssl_trusted_certificate for proxy_ssl_verify");
        return SL_ERROR;
    }
    if (set_certificate(cf, conf, ssl) != SL_OK || sl_ssl_ciphers(ssl, &s->ciphers, 0) != SL_OK
        || full_name(cf, &trusted) != SL_OK || full_name(cf, &crl) != SL_OK
        || sl_ssl_trusted_certificate(ssl, &trusted, s->verify_depth) != SL_OK
        || sl_ssl_crl(ssl, &crl) != SL_OK
        || (conf->upstream.ssl_session_reuse && sl_ssl_client_session_cache(ssl) != SL_OK)
        || conf_commands(cf, ssl, s->conf_commands) != SL_OK) {
        return SL_ERROR;
    }
    return SL_OK;
}

char *sl__proxy_ssl_merge(sl_conf_t *cf, proxy_loc_conf_t *prev, proxy_loc_conf_t *conf)
{
    merge_values(prev, conf);
    if (!conf->ssl.wanted) {
        return SL_CONF_OK;
    }
    return create_context(cf, conf) == SL_OK ? SL_CONF_OK : SL_CONF_ERROR;
}
