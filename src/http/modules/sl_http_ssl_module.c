/*
 * sl_http_ssl_module.c: the ssl_* directives of a server{} (or http{}, inherited), and the
 * TLS context each server that needs one gets when the configuration is merged: its
 * certificates (several: RSA and ECDSA side by side), protocols, ciphers, session cache
 * and tickets, client verification.  Contexts are made in the master before the workers
 * fork, so every worker shares the same ticket keys and shared session cache, and are freed
 * with the cycle's pool.
 */
#include "sl_http_ssl.h"
#include "sl_http_variables.h"
#include "sl_pool.h"

static void *create_main_conf(sl_conf_t *cf);
static void *create_srv_conf(sl_conf_t *cf);
static char *merge_srv_conf(sl_conf_t *cf, void *parent, void *child);
static sl_int_t preconfiguration(sl_conf_t *cf);
static sl_int_t postconfiguration(sl_conf_t *cf);
static char *set_enable(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *set_password_file(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *set_session_cache(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *set_buffer_size(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *set_ocsp_cache(sl_conf_t *cf, sl_command_t *cmd, void *conf);

/* The shared caches named so far: one mapping per name, whichever servers use it. */
typedef struct {
    sl_str_t name;
    size_t size;
    sl_ssl_session_cache_t *cache;
} shared_cache_t;

typedef struct {
    /** shared_cache_t */
    sl_array_t caches;
} ssl_main_conf_t;

// clang-format off
static sl_conf_bitmask_t protocols[] = {
    { sl_string("SSLv2"), SL_SSL_SSLv2 },
    { sl_string("SSLv3"), SL_SSL_SSLv3 },
    { sl_string("TLSv1"), SL_SSL_TLSv1 },
    { sl_string("TLSv1.1"), SL_SSL_TLSv1_1 },
    { sl_string("TLSv1.2"), SL_SSL_TLSv1_2 },
    { sl_string("TLSv1.3"), SL_SSL_TLSv1_3 },
    { sl_null_string, 0 },
};

static sl_conf_enum_t ocsp_modes[] = {
    { sl_string("off"), 0 },
    { sl_string("on"), SL_SSL_OCSP_CHAIN },
    { sl_string("leaf"), SL_SSL_OCSP_LEAF },
    { sl_null_string, 0 },
};

static sl_conf_enum_t verify[] = {
    { sl_string("off"), SL_HTTP_SSL_VERIFY_OFF },
    { sl_string("on"), SL_HTTP_SSL_VERIFY_ON },
    { sl_string("optional"), SL_HTTP_SSL_VERIFY_OPTIONAL },
    { sl_string("optional_no_ca"), SL_HTTP_SSL_VERIFY_OPTIONAL_NO_CA },
    { sl_null_string, 0 },
};

#define CTX (SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF)
#define SRV SL_HTTP_SRV_CONF_OFFSET
#define F(field) offsetof(sl_http_ssl_srv_conf_t, field)

static sl_command_t ssl_commands[] = {
    { sl_string("ssl"), CTX | SL_CONF_FLAG, set_enable, SRV, F(enable), NULL },
    { sl_string("ssl_certificate"), CTX | SL_CONF_TAKE1, sl_conf_set_str_array_slot, SRV, F(certificates), NULL },
    { sl_string("ssl_certificate_key"), CTX | SL_CONF_TAKE1, sl_conf_set_str_array_slot, SRV, F(certificate_keys), NULL },
    { sl_string("ssl_certificate_cache"), CTX | SL_CONF_TAKE123, sl__http_ssl_set_certificate_cache, SRV, 0, NULL },
    { sl_string("ssl_password_file"), CTX | SL_CONF_TAKE1, set_password_file, SRV, 0, NULL },
    { sl_string("ssl_dhparam"), CTX | SL_CONF_TAKE1, sl_conf_set_str_slot, SRV, F(dhparam), NULL },
    { sl_string("ssl_ecdh_curve"), CTX | SL_CONF_TAKE1, sl_conf_set_str_slot, SRV, F(ecdh_curve), NULL },
    { sl_string("ssl_protocols"), CTX | SL_CONF_1MORE, sl_conf_set_bitmask_slot, SRV, F(protocols), protocols },
    { sl_string("ssl_ciphers"), CTX | SL_CONF_TAKE1, sl_conf_set_str_slot, SRV, F(ciphers), NULL },
    { sl_string("ssl_buffer_size"), CTX | SL_CONF_TAKE1, set_buffer_size, SRV, F(buffer_size), NULL },
    { sl_string("ssl_verify_client"), CTX | SL_CONF_TAKE1, sl_conf_set_enum_slot, SRV, F(verify), verify },
    { sl_string("ssl_verify_depth"), CTX | SL_CONF_TAKE1, sl_conf_set_num_slot, SRV, F(verify_depth), NULL },
    { sl_string("ssl_client_certificate"), CTX | SL_CONF_TAKE1, sl_conf_set_str_slot, SRV, F(client_certificate), NULL },
    { sl_string("ssl_trusted_certificate"), CTX | SL_CONF_TAKE1, sl_conf_set_str_slot, SRV, F(trusted_certificate), NULL },
    { sl_string("ssl_prefer_server_ciphers"), CTX | SL_CONF_FLAG, sl_conf_set_flag_slot, SRV, F(prefer_server_ciphers), NULL },
    { sl_string("ssl_session_cache"), CTX | SL_CONF_TAKE12, set_session_cache, SRV, 0, NULL },
    { sl_string("ssl_session_tickets"), CTX | SL_CONF_FLAG, sl_conf_set_flag_slot, SRV, F(session_tickets), NULL },
    { sl_string("ssl_session_ticket_key"), CTX | SL_CONF_TAKE1, sl_conf_set_str_array_slot, SRV, F(session_ticket_keys), NULL },
    { sl_string("ssl_session_timeout"), CTX | SL_CONF_TAKE1, sl_conf_set_sec_slot, SRV, F(session_timeout), NULL },
    { sl_string("ssl_crl"), CTX | SL_CONF_TAKE1, sl_conf_set_str_slot, SRV, F(crl), NULL },
    { sl_string("ssl_conf_command"), CTX | SL_CONF_TAKE2, sl_conf_set_keyval_slot, SRV, F(conf_commands), NULL },
    { sl_string("ssl_stapling"), CTX | SL_CONF_FLAG, sl_conf_set_flag_slot, SRV, F(stapling), NULL },
    { sl_string("ssl_stapling_file"), CTX | SL_CONF_TAKE1, sl_conf_set_str_slot, SRV, F(stapling_file), NULL },
    { sl_string("ssl_stapling_responder"), CTX | SL_CONF_TAKE1, sl_conf_set_str_slot, SRV, F(stapling_responder), NULL },
    { sl_string("ssl_stapling_verify"), CTX | SL_CONF_FLAG, sl_conf_set_flag_slot, SRV, F(stapling_verify), NULL },
    { sl_string("ssl_ocsp"), CTX | SL_CONF_TAKE1, sl_conf_set_enum_slot, SRV, F(ocsp), ocsp_modes },
    { sl_string("ssl_ocsp_responder"), CTX | SL_CONF_TAKE1, sl_conf_set_str_slot, SRV, F(ocsp_responder), NULL },
    { sl_string("ssl_ocsp_cache"), CTX | SL_CONF_TAKE1, set_ocsp_cache, SRV, 0, NULL },
    { sl_string("ssl_reject_handshake"), CTX | SL_CONF_FLAG, sl_conf_set_flag_slot, SRV, F(reject_handshake), NULL },
    sl_null_command,
};
// clang-format on

static sl_http_module_t ssl_module_ctx = {
    preconfiguration,
    postconfiguration,
    create_main_conf,
    NULL,
    create_srv_conf,
    merge_srv_conf,
    NULL,
    NULL,
};

sl_module_t sl_http_ssl_module = {
    "http_ssl", 0, 0, SL_HTTP_MODULE, &ssl_module_ctx, ssl_commands, NULL, NULL, NULL,
};

static void *create_main_conf(sl_conf_t *cf)
{
    ssl_main_conf_t *smcf = sl_pcalloc(cf->pool, sizeof(ssl_main_conf_t));

    if (smcf == NULL
        || sl_array_init(&smcf->caches, cf->pool, 2, sizeof(shared_cache_t)) != SL_OK) {
        return NULL;
    }
    return smcf;
}

static void *create_srv_conf(sl_conf_t *cf)
{
    sl_http_ssl_srv_conf_t *sscf = sl_pcalloc(cf->pool, sizeof(sl_http_ssl_srv_conf_t));

    if (sscf == NULL) {
        return NULL;
    }
    sscf->enable = SL_CONF_UNSET;
    sscf->prefer_server_ciphers = SL_CONF_UNSET;
    sscf->reject_handshake = SL_CONF_UNSET;
    sscf->session_tickets = SL_CONF_UNSET;
    sscf->stapling = SL_CONF_UNSET;
    sscf->stapling_verify = SL_CONF_UNSET;
    sscf->buffer_size = SL_CONF_UNSET_SIZE;
    sscf->verify = SL_CONF_UNSET_UINT;
    sscf->verify_depth = SL_CONF_UNSET_UINT;
    sscf->builtin_session_cache = SL_CONF_UNSET;
    sscf->session_timeout = SL_CONF_UNSET;
    sscf->certificates = SL_CONF_UNSET_PTR;
    sscf->certificate_keys = SL_CONF_UNSET_PTR;
    sscf->passwords = SL_CONF_UNSET_PTR;
    sscf->conf_commands = SL_CONF_UNSET_PTR;
    sscf->session_ticket_keys = SL_CONF_UNSET_PTR;
    sscf->certificate_cache_max = SL_CONF_UNSET;
    sscf->ocsp = SL_CONF_UNSET_UINT;
    sscf->ocsp_cache_size = SL_CONF_UNSET_SIZE;
    sscf->shm_size = SL_CONF_UNSET_SIZE;
    sscf->file = cf->conf_file ? (const char *) cf->conf_file->file.name.data : NULL;
    sscf->line = cf->conf_file ? cf->conf_file->line : 0;
    return sscf;
}

static char *set_enable(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_http_ssl_srv_conf_t *sscf = conf;
    char *rv = sl_conf_set_flag_slot(cf, cmd, conf);

    if (rv != SL_CONF_OK) {
        return rv;
    }
    sscf->file = (const char *) cf->conf_file->file.name.data;
    sscf->line = cf->conf_file->line;
    sl_conf_log_error(SL_LOG_WARN, cf, 0,
                      "the \"ssl\" directive is deprecated, use the \"listen ... ssl\" directive "
                      "instead");
    return SL_CONF_OK;
}

static char *set_buffer_size(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    return sl_conf_set_size_slot(cf, cmd, conf);
}

static char *set_password_file(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_http_ssl_srv_conf_t *sscf = conf;
    sl_str_t *value = cf->args->elts;

    if (sscf->passwords != SL_CONF_UNSET_PTR) {
        return "is duplicate";
    }
    sl_str_t file = value[1];
    if (sl_conf_full_name(cf->cycle, &file, 1) != SL_OK) {
        return SL_CONF_ERROR;
    }
    sl_log_t log = *cf->log;
    sscf->passwords = sl_ssl_read_password_file(cf->pool, &log, &file);
    return sscf->passwords ? SL_CONF_OK : SL_CONF_ERROR;
}

static char *invalid_cache(sl_conf_t *cf, const sl_str_t *v)
{
    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid session cache \"%.*s\"", SL_STR_ARG(*v));
    return SL_CONF_ERROR;
}

/* "builtin" or "builtin:N"; SL_CONF_OK or the error. */
static char *parse_builtin(sl_conf_t *cf, sl_http_ssl_srv_conf_t *sscf, const sl_str_t *v)
{
    if (v->len == 7) {
        sscf->builtin_session_cache = SL_HTTP_SSL_DFLT_BUILTIN_SCACHE;
        return SL_CONF_OK;
    }
    if (v->data[7] != ':') {
        return invalid_cache(cf, v);
    }
    sl_int_t n = sl_atoi(v->data + 8, v->len - 8);
    if (n == SL_ERROR) {
        return invalid_cache(cf, v);
    }
    sscf->builtin_session_cache = n;
    return SL_CONF_OK;
}

/* "shared:NAME:SIZE"; SL_CONF_OK or the error. */
static char *parse_shared(sl_conf_t *cf, sl_http_ssl_srv_conf_t *sscf, const sl_str_t *v)
{
    u_char *name = v->data + 7, *end = v->data + v->len;
    u_char *colon = memchr(name, ':', (size_t) (end - name));

    if (colon == NULL || colon == name) {
        return invalid_cache(cf, v);
    }
    sl_str_t size_text = { (size_t) (end - colon - 1), colon + 1 };
    ssize_t size = sl_parse_size(&size_text);
    if (size == SL_ERROR) {
        return invalid_cache(cf, v);
    }
    if ((size_t) size < 8 * sl_pagesize()) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "session cache \"%.*s\" is too small",
                          SL_STR_ARG(*v));
        return SL_CONF_ERROR;
    }
    sscf->shm_name.data = name;
    sscf->shm_name.len = (size_t) (colon - name);
    sscf->shm_size = (size_t) size;
    return SL_CONF_OK;
}

static char *set_session_cache(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_http_ssl_srv_conf_t *sscf = conf;
    sl_str_t *value = cf->args->elts;

    for (sl_uint_t i = 1; i < cf->args->nelts; i++) {
        sl_str_t *v = &value[i];
        char *rv = SL_CONF_OK;

        if (sl_str_eq_cstr(v, "off")) {
            sscf->builtin_session_cache = SL_HTTP_SSL_NO_SCACHE;
        } else if (sl_str_eq_cstr(v, "none")) {
            sscf->builtin_session_cache = SL_HTTP_SSL_NONE_SCACHE;
        } else if (v->len >= 7 && memcmp(v->data, "builtin", 7) == 0) {
            rv = parse_builtin(cf, sscf, v);
        } else if (v->len > 7 && memcmp(v->data, "shared:", 7) == 0) {
            rv = parse_shared(cf, sscf, v);
        } else {
            rv = invalid_cache(cf, v);
        }
        if (rv != SL_CONF_OK) {
            return rv;
        }
    }
    if (sscf->shm_size != SL_CONF_UNSET_SIZE && sscf->builtin_session_cache == SL_CONF_UNSET) {
        sscf->builtin_session_cache = SL_HTTP_SSL_NO_BUILTIN_SCACHE;
    }
    (void) cmd;
    return SL_CONF_OK;
}

/* "ssl_ocsp_cache off | shared:NAME:SIZE" */
static char *set_ocsp_cache(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_http_ssl_srv_conf_t *sscf = conf;
    sl_str_t *v = (sl_str_t *) cf->args->elts + 1;

    if (sscf->ocsp_cache_size != SL_CONF_UNSET_SIZE) {
        return "is duplicate";
    }
    if (sl_str_eq_cstr(v, "off")) {
        sscf->ocsp_cache_size = 0;
        return SL_CONF_OK;
    }
    u_char *name = v->data + 7, *end = v->data + v->len;
    u_char *colon = v->len > 7 ? memchr(name, ':', (size_t) (end - name)) : NULL;
    if (v->len <= 7 || memcmp(v->data, "shared:", 7) != 0 || colon == NULL || colon == name) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid OCSP cache \"%.*s\"", SL_STR_ARG(*v));
        return SL_CONF_ERROR;
    }
    sl_str_t size_text = { (size_t) (end - colon - 1), colon + 1 };
    ssize_t size = sl_parse_size(&size_text);
    if (size == SL_ERROR) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid OCSP cache \"%.*s\"", SL_STR_ARG(*v));
        return SL_CONF_ERROR;
    }
    if ((size_t) size < 8 * sl_pagesize()) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "OCSP cache \"%.*s\" is too small", SL_STR_ARG(*v));
        return SL_CONF_ERROR;
    }
    sscf->ocsp_cache_name.data = name;
    sscf->ocsp_cache_name.len = (size_t) (colon - name);
    sscf->ocsp_cache_size = (size_t) size;
    (void) cmd;
    return SL_CONF_OK;
}

/* The shared cache of that name, mapped the first time a server asks for it. */
static sl_ssl_session_cache_t *shared_cache(sl_conf_t *cf, const sl_str_t *name, size_t size)
{
    ssl_main_conf_t *smcf = sl_http_conf_get_module_main_conf(cf, sl_http_ssl_module);
    shared_cache_t *c = smcf->caches.elts;

    for (sl_uint_t i = 0; i < smcf->caches.nelts; i++) {
        if (sl_str_eq(&c[i].name, name)) {
            if (c[i].size != size) {
                sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                                  "the size %zu of shared memory zone \"%.*s\" conflicts with "
                                  "already declared size %zu",
                                  size, SL_STR_ARG(*name), c[i].size);
                return NULL;
            }
            return c[i].cache;
        }
    }
    shared_cache_t *nc = sl_array_push(&smcf->caches);
    if (nc == NULL) {
        return NULL;
    }
    nc->name = *name;
    nc->size = size;
    nc->cache = sl_ssl_session_cache_create(cf->cycle->pool, cf->log, name, size);
    return nc->cache;
}

static sl_array_t *merge_array(sl_array_t *conf, sl_array_t *prev)
{
    if (conf != SL_CONF_UNSET_PTR) {
        return conf;
    }
    return prev == SL_CONF_UNSET_PTR ? NULL : prev;
}

static void merge_values(sl_http_ssl_srv_conf_t *conf, sl_http_ssl_srv_conf_t *prev)
{
    sl_conf_merge_value(conf->enable, prev->enable, 0);
    sl_conf_merge_value(conf->prefer_server_ciphers, prev->prefer_server_ciphers, 0);
    sl_conf_merge_value(conf->reject_handshake, prev->reject_handshake, 0);
    sl_conf_merge_value(conf->session_tickets, prev->session_tickets, 1);
    sl_conf_merge_value(conf->stapling, prev->stapling, 0);
    sl_conf_merge_value(conf->stapling_verify, prev->stapling_verify, 0);
    sl_conf_merge_str_value(conf->stapling_file, prev->stapling_file, "");
    sl_conf_merge_str_value(conf->stapling_responder, prev->stapling_responder, "");
    sl_conf_merge_uint_value(conf->ocsp, prev->ocsp, 0);
    sl_conf_merge_str_value(conf->ocsp_responder, prev->ocsp_responder, "");
    if (conf->ocsp_cache_size == SL_CONF_UNSET_SIZE) {
        conf->ocsp_cache_size =
            prev->ocsp_cache_size == SL_CONF_UNSET_SIZE ? 0 : prev->ocsp_cache_size;
        conf->ocsp_cache_name = prev->ocsp_cache_name;
    }
    sl_conf_merge_bitmask_value(conf->protocols, prev->protocols, SL_SSL_DEFAULT_PROTOCOLS);
    sl_conf_merge_size_value(conf->buffer_size, prev->buffer_size, SL_SSL_BUFSIZE);
    sl_conf_merge_uint_value(conf->verify, prev->verify, SL_HTTP_SSL_VERIFY_OFF);
    sl_conf_merge_uint_value(conf->verify_depth, prev->verify_depth, 1);
    sl_conf_merge_value(conf->builtin_session_cache, prev->builtin_session_cache,
                        SL_HTTP_SSL_NONE_SCACHE);
    sl_conf_merge_sec_value(conf->session_timeout, prev->session_timeout, 300);
    conf->certificates = merge_array(conf->certificates, prev->certificates);
    conf->certificate_keys = merge_array(conf->certificate_keys, prev->certificate_keys);
    conf->passwords = merge_array(conf->passwords, prev->passwords);
    if (conf->certificate_cache_max == SL_CONF_UNSET) {
        conf->certificate_cache_max =
            prev->certificate_cache_max == SL_CONF_UNSET ? 0 : prev->certificate_cache_max;
        conf->certificate_cache_inactive = prev->certificate_cache_inactive;
        conf->certificate_cache_valid = prev->certificate_cache_valid;
    }
    conf->conf_commands = merge_array(conf->conf_commands, prev->conf_commands);
    conf->session_ticket_keys = merge_array(conf->session_ticket_keys, prev->session_ticket_keys);
    sl_conf_merge_str_value(conf->dhparam, prev->dhparam, "");
    sl_conf_merge_str_value(conf->ecdh_curve, prev->ecdh_curve, "auto");
    sl_conf_merge_str_value(conf->client_certificate, prev->client_certificate, "");
    sl_conf_merge_str_value(conf->trusted_certificate, prev->trusted_certificate, "");
    sl_conf_merge_str_value(conf->crl, prev->crl, "");
    sl_conf_merge_str_value(conf->ciphers, prev->ciphers, "HIGH:!aNULL:!MD5");
    if (conf->shm_size == SL_CONF_UNSET_SIZE) {
        conf->shm_size = prev->shm_size;
        conf->shm_name = prev->shm_name;
    }
}

/* A file name of the configuration, absolute (relative ones to the config's prefix); an
 * inline "data:" PEM stays as it is. */
static sl_int_t full_name(sl_conf_t *cf, sl_str_t *name)
{
    if (name->len == 0 || (name->len >= 5 && memcmp(name->data, "data:", 5) == 0)) {
        return SL_OK;
    }
    return sl_conf_full_name(cf->cycle, name, 1);
}

static char *no_certificate(sl_conf_t *cf, sl_http_ssl_srv_conf_t *conf)
{
    sl_log_error(SL_LOG_EMERG, cf->log, 0,
                 "no \"ssl_certificate\" is defined for the \"ssl\" directive in %s:%lu",
                 conf->file, (unsigned long) conf->line);
    return SL_CONF_ERROR;
}

static sl_int_t load_certificates(sl_conf_t *cf, sl_http_ssl_srv_conf_t *conf)
{
    sl_str_t *cert = conf->certificates->elts;
    sl_str_t *key = conf->certificate_keys ? conf->certificate_keys->elts : NULL;
    sl_uint_t nkeys = conf->certificate_keys ? conf->certificate_keys->nelts : 0;

    if (nkeys < conf->certificates->nelts) {
        sl_log_error(SL_LOG_EMERG, cf->log, 0,
                     "no \"ssl_certificate_key\" is defined for certificate \"%.*s\"",
                     SL_STR_ARG(cert[nkeys]));
        return SL_ERROR;
    }
    if (sl__http_ssl_certificates_have_variables(conf)) {
        return sl__http_ssl_compile_certificates(cf, conf);
    }
    for (sl_uint_t i = 0; i < conf->certificates->nelts; i++) {
        sl_str_t c = cert[i], k = key[i];
        if (full_name(cf, &c) != SL_OK || full_name(cf, &k) != SL_OK
            || sl_ssl_certificate(&conf->ssl, &c, &k, conf->passwords) != SL_OK) {
            return SL_ERROR;
        }
    }
    return SL_OK;
}

static sl_int_t configure_verify(sl_conf_t *cf, sl_http_ssl_srv_conf_t *conf)
{
    sl_str_t client = conf->client_certificate, trusted = conf->trusted_certificate;
    sl_str_t crl = conf->crl;

    if (conf->verify != SL_HTTP_SSL_VERIFY_OFF) {
        if (client.len == 0 && trusted.len == 0
            && conf->verify != SL_HTTP_SSL_VERIFY_OPTIONAL_NO_CA) {
            sl_log_error(SL_LOG_EMERG, cf->log, 0,
                         "no ssl_client_certificate or ssl_trusted_certificate for "
                         "ssl_verify_client");
            return SL_ERROR;
        }
        sl__http_ssl_set_verify(&conf->ssl);
    }
    if (full_name(cf, &client) != SL_OK || full_name(cf, &trusted) != SL_OK
        || full_name(cf, &crl) != SL_OK) {
        return SL_ERROR;
    }
    if (sl_ssl_client_certificate(&conf->ssl, &client, (sl_int_t) conf->verify_depth) != SL_OK
        || sl_ssl_trusted_certificate(&conf->ssl, &trusted, (sl_int_t) conf->verify_depth) != SL_OK
        || sl_ssl_crl(&conf->ssl, &crl) != SL_OK) {
        return SL_ERROR;
    }
    return SL_OK;
}

static sl_int_t configure_sessions(sl_conf_t *cf, sl_http_ssl_srv_conf_t *conf)
{
    sl_ssl_session_cache_t *shared = NULL;
    ssize_t builtin = conf->builtin_session_cache;

    if (conf->shm_size != SL_CONF_UNSET_SIZE && builtin != SL_HTTP_SSL_NO_SCACHE) {
        shared = shared_cache(cf, &conf->shm_name, conf->shm_size);
        if (shared == NULL) {
            return SL_ERROR;
        }
    }
    /* builtin sizes: nginx's default is OpenSSL's 20480 sessions */
    ssize_t n = builtin == SL_HTTP_SSL_DFLT_BUILTIN_SCACHE ? 20480
                : builtin >= 0                             ? builtin
                : builtin == SL_HTTP_SSL_NO_SCACHE         ? 0
                                                           : -1;
    if (n == -1 && shared == NULL && builtin != SL_HTTP_SSL_NONE_SCACHE) {
        n = 0;
    }
    sl_str_t sess_ctx = { 0, (u_char *) "" };
    if (conf->certificates && conf->certificates->nelts) {
        sess_ctx = ((sl_str_t *) conf->certificates->elts)[0];
    }
    if (sl_ssl_session_cache(&conf->ssl, &sess_ctx, builtin == SL_HTTP_SSL_NONE_SCACHE ? -1 : n,
                             shared, conf->session_timeout)
        != SL_OK) {
        return SL_ERROR;
    }
    sl_array_t *keys = conf->session_ticket_keys;
    if (keys) {
        sl_str_t *k = keys->elts;
        for (sl_uint_t i = 0; i < keys->nelts; i++) {
            if (full_name(cf, &k[i]) != SL_OK) {
                return SL_ERROR;
            }
        }
    }
    if (sl_ssl_session_tickets(&conf->ssl, (int) conf->session_tickets, keys) != SL_OK) {
        return SL_ERROR;
    }
    if (conf->session_tickets && (keys == NULL || keys->nelts == 0) && shared) {
        return sl_ssl_session_ticket_rotation(&conf->ssl, shared, conf->session_timeout);
    }
    return SL_OK;
}

/* ssl_stapling: from ssl_stapling_file, or fetched from the responder (a server with no
 * certificate has nothing to staple). */
static sl_int_t stapling(sl_conf_t *cf, sl_http_ssl_srv_conf_t *conf)
{
    sl_str_t file = conf->stapling_file;

    if (!conf->stapling || conf->certificates == NULL) {
        return SL_OK;
    }
    if (full_name(cf, &file) != SL_OK) {
        return SL_ERROR;
    }
    return sl_ssl_stapling(&conf->ssl, &file, &conf->stapling_responder,
                           (int) conf->stapling_verify);
}

/* ssl_ocsp: client certificates checked with their responders after the handshake. */
static sl_int_t ocsp(sl_conf_t *cf, sl_http_ssl_srv_conf_t *conf)
{
    sl_ssl_session_cache_t *cache = NULL;

    if (conf->ocsp == 0) {
        return SL_OK;
    }
    if (conf->verify == SL_HTTP_SSL_VERIFY_OPTIONAL_NO_CA) {
        sl_log_error(SL_LOG_EMERG, cf->log, 0,
                     "\"ssl_ocsp\" is incompatible with \"ssl_verify_client optional_no_ca\"");
        return SL_ERROR;
    }
    if (conf->ocsp_cache_size) {
        cache = shared_cache(cf, &conf->ocsp_cache_name, conf->ocsp_cache_size);
        if (cache == NULL) {
            return SL_ERROR;
        }
    }
    return sl_ssl_ocsp(&conf->ssl, (int) conf->ocsp, &conf->ocsp_responder, cache);
}

static sl_int_t conf_commands(sl_conf_t *cf, sl_ssl_t *ssl, sl_array_t *commands)
{
    sl_str_t prefix = { 0, (u_char *) "" };

    if (sl_conf_full_name(cf->cycle, &prefix, 1) != SL_OK) {
        return SL_ERROR;
    }
    return sl_ssl_conf_commands(ssl, commands, &prefix);
}

/* The context of a server that speaks TLS, with everything its directives ask. */
static sl_int_t create_context(sl_conf_t *cf, sl_http_ssl_srv_conf_t *conf)
{
    sl_str_t dh = conf->dhparam;

    conf->ssl.log = cf->log;
    conf->ssl.buffer_size = conf->buffer_size;
    if (sl_ssl_init(cf->log) != SL_OK || sl_ssl_create(&conf->ssl, conf->protocols, conf) != SL_OK
        || sl_ssl_cleanup_add(cf->cycle->pool, &conf->ssl) != SL_OK) {
        return SL_ERROR;
    }
    sl__http_ssl_set_callbacks(&conf->ssl);
    if (conf->certificates && load_certificates(cf, conf) != SL_OK) {
        return SL_ERROR;
    }
    if (sl_ssl_ciphers(&conf->ssl, &conf->ciphers, (int) conf->prefer_server_ciphers) != SL_OK
        || configure_verify(cf, conf) != SL_OK
        || sl_ssl_ecdh_curve(&conf->ssl, &conf->ecdh_curve) != SL_OK
        || (dh.len && (full_name(cf, &dh) != SL_OK || sl_ssl_dhparam(&conf->ssl, &dh) != SL_OK))
        || configure_sessions(cf, conf) != SL_OK || stapling(cf, conf) != SL_OK
        || ocsp(cf, conf) != SL_OK || conf_commands(cf, &conf->ssl, conf->conf_commands) != SL_OK) {
        return SL_ERROR;
    }
    return SL_OK;
}

static char *merge_srv_conf(sl_conf_t *cf, void *parent, void *child)
{
    sl_http_ssl_srv_conf_t *prev = parent, *conf = child;

    merge_values(conf, prev);
    if (conf->file == NULL) {
        conf->file = prev->file;
        conf->line = prev->line;
    }
    /* a context for every server with a certificate or refusing handshakes (any of them
     * may be chosen by SNI), and for "ssl on" (which needs a certificate) */
    if (conf->certificates == NULL && !conf->reject_handshake) {
        return conf->enable ? no_certificate(cf, conf) : SL_CONF_OK;
    }
    return create_context(cf, conf) == SL_OK ? SL_CONF_OK : SL_CONF_ERROR;
}

static sl_int_t preconfiguration(sl_conf_t *cf)
{
    return sl__http_ssl_add_variables(cf);
}

/* Every TLS address's default server must be able to answer a handshake. */
static sl_int_t check_port(sl_conf_t *cf, sl_http_conf_port_t *port)
{
    sl_http_conf_addr_t *addr = port->addrs.elts;

    for (sl_uint_t a = 0; a < port->addrs.nelts; a++) {
        if (!addr[a].opt.ssl) {
            continue;
        }
        sl_http_core_srv_conf_t *cscf = addr[a].default_server;
        sl_http_ssl_srv_conf_t *sscf = cscf->ctx->srv_conf[sl_http_ssl_module.ctx_index];
        if (sscf->ssl.ctx == NULL) {
            sl_log_error(SL_LOG_EMERG, cf->log, 0,
                         "no \"ssl_certificate\" is defined for the \"listen ... ssl\" directive "
                         "in %s:%lu",
                         cscf->file_name, (unsigned long) cscf->line);
            return SL_ERROR;
        }
    }
    return SL_OK;
}

static sl_int_t postconfiguration(sl_conf_t *cf)
{
    sl_http_core_main_conf_t *cmcf = sl_http_conf_get_module_main_conf(cf, sl_http_core_module);

    if (cmcf->ports == NULL) {
        return SL_OK;
    }
    sl_http_conf_port_t *ports = cmcf->ports->elts;
    for (sl_uint_t p = 0; p < cmcf->ports->nelts; p++) {
        if (check_port(cf, &ports[p]) != SL_OK) {
            return SL_ERROR;
        }
    }
    return SL_OK;
}
