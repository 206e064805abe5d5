/*
 * sl_ssl.c: OpenSSL glue: the process's init, a context (sl_ssl_t) and what configures it
 * (certificates and keys, password files, protocols, ciphers, curves, DH parameters,
 * OpenSSL's own commands, CA lists and CRLs), and the error log's wording for OpenSSL's
 * errors.  Configuration failures are logged at emerg with nginx's words, so "sluice -t"
 * says what nginx would.
 */
#include <openssl/conf.h>
#include <openssl/decoder.h>
#include <openssl/pem.h>

#include <limits.h>
#include <stdio.h>

#include "sl_pool.h"
#include "sl_ssl.h"

int sl_ssl_connection_index = -1;
int sl_ssl_ctx_index = -1;
int sl_ssl_server_conf_index = -1;

sl_int_t sl_ssl_init(sl_log_t *log)
{
    if (sl_ssl_connection_index != -1) {
        return SL_OK;
    }
    if (OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, NULL) == 0) {
        sl_ssl_error(SL_LOG_ALERT, log, 0, "OPENSSL_init_ssl() failed");
        return SL_ERROR;
    }
    /* the config OpenSSL loaded may have left errors nobody asked about */
    ERR_clear_error();
    sl_ssl_connection_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    sl_ssl_ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    sl_ssl_server_conf_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    if (sl_ssl_connection_index == -1 || sl_ssl_ctx_index == -1 || sl_ssl_server_conf_index == -1) {
        sl_ssl_error(SL_LOG_ALERT, log, 0, "SSL_get_ex_new_index() failed");
        return SL_ERROR;
    }
    return SL_OK;
}

/* What ssl_protocols leaves out, as SSL_OP_NO_* options. */
static uint64_t protocol_options(sl_uint_t protocols)
{
    uint64_t op = SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3;

    op |= protocols & SL_SSL_TLSv1 ? 0 : SSL_OP_NO_TLSv1;
    op |= protocols & SL_SSL_TLSv1_1 ? 0 : SSL_OP_NO_TLSv1_1;
    op |= protocols & SL_SSL_TLSv1_2 ? 0 : SSL_OP_NO_TLSv1_2;
    op |= protocols & SL_SSL_TLSv1_3 ? 0 : SSL_OP_NO_TLSv1_3;
    return op;
}

sl_int_t sl_ssl_create(sl_ssl_t *ssl, sl_uint_t protocols, void *data)
{
    ssl->ctx = SSL_CTX_new(TLS_method());
    if (ssl->ctx == NULL) {
        sl_ssl_error(SL_LOG_EMERG, ssl->log, 0, "SSL_CTX_new() failed");
        return SL_ERROR;
    }
    if (SSL_CTX_set_ex_data(ssl->ctx, sl_ssl_ctx_index, ssl) == 0
        || SSL_CTX_set_ex_data(ssl->ctx, sl_ssl_server_conf_index, data) == 0) {
        sl_ssl_error(SL_LOG_EMERG, ssl->log, 0, "SSL_CTX_set_ex_data() failed");
        return SL_ERROR;
    }
    if (ssl->buffer_size == 0) {
        ssl->buffer_size = SL_SSL_BUFSIZE;
    }
    /* Old protocols stay possible when asked for: OpenSSL's default security level 1
     * refuses TLSv1 and TLSv1.1 in 3.0, as nginx leaves it. */
    SSL_CTX_set_min_proto_version(ssl->ctx, 0);
    SSL_CTX_set_max_proto_version(ssl->ctx, 0);
    SSL_CTX_set_options(ssl->ctx, protocol_options(protocols) | SSL_OP_NO_COMPRESSION
                                      | SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF
                                      | SSL_OP_SINGLE_DH_USE | SSL_OP_SINGLE_ECDH_USE);
    /* A write that must be retried is retried from the same bytes, but maybe from another
     * address (sl_ssl_io.c copies them again); records are released when idle. */
    SSL_CTX_set_mode(ssl->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
                                   | SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN);
    SSL_CTX_set_read_ahead(ssl->ctx, 1);
    return SL_OK;
}

void sl_ssl_free(sl_ssl_t *ssl)
{
    if (ssl->ctx) {
        SSL_CTX_free(ssl->ctx);
        ssl->ctx = NULL;
    }
}

static void ssl_cleanup(void *data)
{
    sl_ssl_free(data);
}

sl_int_t sl_ssl_cleanup_add(sl_pool_t *pool, sl_ssl_t *ssl)
{
    sl_pool_cleanup_t *cln = sl_pool_cleanup_add(pool, 0);

    if (cln == NULL) {
        return SL_ERROR;
    }
    cln->handler = ssl_cleanup;
    cln->data = ssl;
    return SL_OK;
}

/* The passwords of ssl_password_file, tried in turn by pem_password(). */
typedef struct {
    sl_array_t *passwords;
    sl_uint_t next;
} password_iter_t;

static int pem_password(char *buf, int size, int rwflag, void *userdata)
{
    password_iter_t *it = userdata;

    if (it == NULL || it->passwords == NULL || it->next >= it->passwords->nelts) {
        return 0;
    }
    sl_str_t *pwd = (sl_str_t *) it->passwords->elts + it->next;
    size_t n = sl_min(pwd->len, (size_t) size);
    memcpy(buf, pwd->data, n);
    return (int) n;
}

/* "data:PEM" is the PEM itself (nginx's inline certificates), anything else a file name. */
static BIO *open_pem(const sl_str_t *name)
{
    if (name->len >= 5 && memcmp(name->data, "data:", 5) == 0) {
        return BIO_new_mem_buf(name->data + 5, (int) (name->len - 5));
    }
    return BIO_new_file((char *) name->data, "r");
}

/* Logs "WHAT \"NAME\": CALL failed" with OpenSSL's errors, the name cut short when it is a
 * whole PEM (data:). */
static void load_error(sl_uint_t level, sl_log_t *log, const char *what, const sl_str_t *name,
                       const char *call)
{
    char msg[PATH_MAX + 120];
    int n = name->len > PATH_MAX ? PATH_MAX : (int) name->len;

    snprintf(msg, sizeof(msg), "%s \"%.*s\": %s failed", what, n, (char *) name->data, call);
    sl_ssl_error(level, log, 0, msg);
}

EVP_PKEY *sl__ssl_read_key(sl_uint_t level, sl_log_t *log, const sl_str_t *key,
                           sl_array_t *passwords)
{
    sl_uint_t tries = passwords ? sl_max(passwords->nelts, 1) : 1;

    for (sl_uint_t i = 0; i < tries; i++) {
        BIO *bio = open_pem(key);
        if (bio == NULL) {
            load_error(level, log, "cannot load certificate key", key, "BIO_new_file()");
            return NULL;
        }
        password_iter_t it = { passwords, i };
        EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, pem_password, &it);
        BIO_free(bio);
        if (pkey) {
            ERR_clear_error();
            return pkey;
        }
        if (i + 1 < tries) {
            ERR_clear_error();
        }
    }
    load_error(level, log, "cannot load certificate key", key, "PEM_read_bio_PrivateKey()");
    return NULL;
}

X509 *sl__ssl_read_certificate(sl_uint_t level, sl_log_t *log, const sl_str_t *cert,
                               STACK_OF(X509) * *chain)
{
    BIO *bio = open_pem(cert);

    if (bio == NULL) {
        load_error(level, log, "cannot load certificate", cert, "BIO_new_file()");
        return NULL;
    }
    X509 *x509 = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL);
    if (x509 == NULL) {
        BIO_free(bio);
        load_error(level, log, "cannot load certificate", cert, "PEM_read_bio_X509_AUX()");
        return NULL;
    }
    *chain = sk_X509_new_null();
    if (*chain == NULL) {
        X509_free(x509);
        BIO_free(bio);
        load_error(level, log, "cannot load certificate", cert, "sk_X509_new_null()");
        return NULL;
    }
    X509 *ca;
    while ((ca = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (sk_X509_push(*chain, ca) == 0) {
            X509_free(ca);
            sk_X509_pop_free(*chain, X509_free);
            X509_free(x509);
            BIO_free(bio);
            load_error(level, log, "cannot load certificate", cert, "sk_X509_push()");
            return NULL;
        }
    }
    BIO_free(bio);
    /* the end of the PEM reads as "no start line": not an error */
    ERR_clear_error();
    return x509;
}

/* The certificate of file and the chain after it, sent with it. */
static sl_int_t load_certificate(sl_ssl_t *ssl, const sl_str_t *cert)
{
    char msg[PATH_MAX + 80];
    STACK_OF(X509) *chain = NULL;
    X509 *x509 = sl__ssl_read_certificate(SL_LOG_EMERG, ssl->log, cert, &chain);

    if (x509 == NULL) {
        return SL_ERROR;
    }
    int n = cert->len > PATH_MAX ? PATH_MAX : (int) cert->len;
    if (SSL_CTX_use_certificate(ssl->ctx, x509) == 0) {
        X509_free(x509);
        sk_X509_pop_free(chain, X509_free);
        snprintf(msg, sizeof(msg), "SSL_CTX_use_certificate(\"%.*s\") failed", n,
                 (char *) cert->data);
        sl_ssl_error(SL_LOG_EMERG, ssl->log, 0, msg);
        return SL_ERROR;
    }
    X509_free(x509);
    /* the chain belongs to the certificate just set (RSA and ECDSA have their own); set0:
     * the context owns it from here on */
    if (SSL_CTX_set0_chain(ssl->ctx, chain) == 0) {
        sk_X509_pop_free(chain, X509_free);
        snprintf(msg, sizeof(msg), "SSL_CTX_set0_chain(\"%.*s\") failed", n, (char *) cert->data);
        sl_ssl_error(SL_LOG_EMERG, ssl->log, 0, msg);
        return SL_ERROR;
    }
    return SL_OK;
}

sl_int_t sl_ssl_certificate(sl_ssl_t *ssl, const sl_str_t *cert, const sl_str_t *key,
                            sl_array_t *passwords)
{
    if (load_certificate(ssl, cert) != SL_OK) {
        return SL_ERROR;
    }
    EVP_PKEY *pkey = sl__ssl_read_key(SL_LOG_EMERG, ssl->log, key, passwords);
    if (pkey == NULL) {
        return SL_ERROR;
    }
    int ok = SSL_CTX_use_PrivateKey(ssl->ctx, pkey);
    EVP_PKEY_free(pkey);
    if (!ok) {
        char msg[PATH_MAX + 80];
        int n = key->len > PATH_MAX ? PATH_MAX : (int) key->len;
        snprintf(msg, sizeof(msg), "SSL_CTX_use_PrivateKey(\"%.*s\") failed", n,
                 (char *) key->data);
        sl_ssl_error(SL_LOG_EMERG, ssl->log, 0, msg);
        return SL_ERROR;
    }
    return SL_OK;
}

sl_array_t *sl_ssl_read_password_file(sl_pool_t *pool, sl_log_t *log, const sl_str_t *file)
{
    FILE *f = fopen((char *) file->data, "r");

    if (f == NULL) {
        sl_log_error(SL_LOG_EMERG, log, errno, "open() \"%s\" failed", (char *) file->data);
        return NULL;
    }
    sl_array_t *passwords = sl_array_create(pool, 4, sizeof(sl_str_t));
    char line[1024];
    while (passwords && fgets(line, sizeof(line), f)) {
        size_t len = strcspn(line, "\r\n");
        while (len && (line[len - 1] == ' ' || line[len - 1] == '\t')) {
            len--;
        }
        sl_str_t *pwd = sl_array_push(passwords);
        u_char *copy = sl_pnalloc(pool, len + 1);
        if (pwd == NULL || copy == NULL) {
            passwords = NULL;
            break;
        }
        memcpy(copy, line, len);
        copy[len] = '\0';
        pwd->data = copy;
        pwd->len = len;
    }
    fclose(f);
    if (passwords && passwords->nelts == 0) {
        sl_log_error(SL_LOG_EMERG, log, 0, "no passwords defined in \"%s\"", (char *) file->data);
        return NULL;
    }
    return passwords;
}

sl_int_t sl_ssl_ciphers(sl_ssl_t *ssl, const sl_str_t *ciphers, int prefer_server_ciphers)
{
    if (SSL_CTX_set_cipher_list(ssl->ctx, (char *) ciphers->data) == 0) {
        char msg[512];
        snprintf(msg, sizeof(msg), "SSL_CTX_set_cipher_list(\"%s\") failed",
                 (char *) ciphers->data);
        sl_ssl_error(SL_LOG_EMERG, ssl->log, 0, msg);
        return SL_ERROR;
    }
    if (prefer_server_ciphers) {
        SSL_CTX_set_options(ssl->ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    }
    return SL_OK;
}

sl_int_t sl_ssl_ecdh_curve(sl_ssl_t *ssl, const sl_str_t *name)
{
    /* "auto": OpenSSL's default list, which is what nginx leaves */
    if (sl_str_eq_cstr(name, "auto")) {
        return SL_OK;
    }
    if (SSL_CTX_set1_curves_list(ssl->ctx, (char *) name->data) == 0) {
        char msg[512];
        snprintf(msg, sizeof(msg), "SSL_CTX_set1_curves_list(\"%s\") failed", (char *) name->data);
        sl_ssl_error(SL_LOG_EMERG, ssl->log, 0, msg);
        return SL_ERROR;
    }
    return SL_OK;
}

sl_int_t sl_ssl_dhparam(sl_ssl_t *ssl, const sl_str_t *file)
{
    char msg[PATH_MAX + 80];
    BIO *bio = BIO_new_file((char *) file->data, "r");

    if (bio == NULL) {
        snprintf(msg, sizeof(msg), "BIO_new_file(\"%s\") failed", (char *) file->data);
        sl_ssl_error(SL_LOG_EMERG, ssl->log, 0, msg);
        return SL_ERROR;
    }
    EVP_PKEY *dh = NULL;
    OSSL_DECODER_CTX *dctx = OSSL_DECODER_CTX_new_for_pkey(
        &dh, "PEM", NULL, "DH", OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS, NULL, NULL);
    int ok = dctx && OSSL_DECODER_from_bio(dctx, bio) && dh;
    OSSL_DECODER_CTX_free(dctx);
    BIO_free(bio);
    if (!ok) {
        EVP_PKEY_free(dh);
        snprintf(msg, sizeof(msg), "PEM_read_bio_Parameters(\"%s\") failed", (char *) file->data);
        sl_ssl_error(SL_LOG_EMERG, ssl->log, 0, msg);
        return SL_ERROR;
    }
    /* set0: the context owns dh from here on */
    if (SSL_CTX_set0_tmp_dh_pkey(ssl->ctx, dh) == 0) {
        EVP_PKEY_free(dh);
        snprintf(msg, sizeof(msg), "SSL_CTX_set0_tmp_dh_pkey(\"%s\") failed", (char *) file->data);
        sl_ssl_error(SL_LOG_EMERG, ssl->log, 0, msg);
        return SL_ERROR;
    }
    return SL_OK;
}

/* One command, its file value made absolute: the result of SSL_CONF_cmd. */
static int conf_command(SSL_CONF_CTX *cctx, const sl_keyval_t *kv, const sl_str_t *prefix)
{
    char path[PATH_MAX];
    const char *value = (const char *) kv->value.data;

    if (SSL_CONF_cmd_value_type(cctx, (char *) kv->key.data) == SSL_CONF_TYPE_FILE
        && value[0] != '/' && prefix && prefix->len) {
        snprintf(path, sizeof(path), "%.*s%s", (int) prefix->len, (char *) prefix->data, value);
        value = path;
    }
    return SSL_CONF_cmd(cctx, (char *) kv->key.data, value);
}

sl_int_t sl_ssl_conf_commands(sl_ssl_t *ssl, sl_array_t *commands, const sl_str_t *prefix)
{
    if (commands == NULL || commands->nelts == 0) {
        return SL_OK;
    }
    SSL_CONF_CTX *cctx = SSL_CONF_CTX_new();
    if (cctx == NULL) {
        sl_ssl_error(SL_LOG_EMERG, ssl->log, 0, "SSL_CONF_CTX_new() failed");
        return SL_ERROR;
    }
    SSL_CONF_CTX_set_flags(cctx, SSL_CONF_FLAG_FILE | SSL_CONF_FLAG_CERTIFICATE
                                     | SSL_CONF_FLAG_CLIENT | SSL_CONF_FLAG_SERVER
                                     | SSL_CONF_FLAG_SHOW_ERRORS);
    SSL_CONF_CTX_set_ssl_ctx(cctx, ssl->ctx);
    sl_keyval_t *kv = commands->elts;
    for (sl_uint_t i = 0; i < commands->nelts; i++) {
        if (conf_command(cctx, &kv[i], prefix) <= 0) {
            char msg[512];
            snprintf(msg, sizeof(msg), "SSL_CONF_cmd(\"%s\", \"%s\") failed",
                     (char *) kv[i].key.data, (char *) kv[i].value.data);
            sl_ssl_error(SL_LOG_EMERG, ssl->log, 0, msg);
            SSL_CONF_CTX_free(cctx);
            return SL_ERROR;
        }
    }
    int ok = SSL_CONF_CTX_finish(cctx);
    SSL_CONF_CTX_free(cctx);
    if (!ok) {
        sl_ssl_error(SL_LOG_EMERG, ssl->log, 0, "SSL_CONF_finish() failed");
        return SL_ERROR;
    }
    return SL_OK;
}

static sl_int_t load_locations(sl_ssl_t *ssl, const sl_str_t *cert)
{
    if (SSL_CTX_load_verify_locations(ssl->ctx, (char *) cert->data, NULL) == 0) {
        char msg[PATH_MAX + 80];
        snprintf(msg, sizeof(msg), "SSL_CTX_load_verify_locations(\"%s\") failed",
                 (char *) cert->data);
        sl_ssl_error(SL_LOG_EMERG, ssl->log, 0, msg);
        return SL_ERROR;
    }
    /* a file of several certificates ends in "no start line" */
    ERR_clear_error();
    return SL_OK;
}

sl_int_t sl_ssl_client_certificate(sl_ssl_t *ssl, const sl_str_t *cert, sl_int_t depth)
{
    SSL_CTX_set_verify_depth(ssl->ctx, (int) depth);
    if (cert->len == 0) {
        return SL_OK;
    }
    if (load_locations(ssl, cert) != SL_OK) {
        return SL_ERROR;
    }
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file((char *) cert->data);
    if (names == NULL) {
        char msg[PATH_MAX + 80];
        snprintf(msg, sizeof(msg), "SSL_load_client_CA_file(\"%s\") failed", (char *) cert->data);
        sl_ssl_error(SL_LOG_EMERG, ssl->log, 0, msg);
        return SL_ERROR;
    }
    /* the context owns the list from here on */
    SSL_CTX_set_client_CA_list(ssl->ctx, names);
    return SL_OK;
}

sl_int_t sl_ssl_trusted_certificate(sl_ssl_t *ssl, const sl_str_t *cert, sl_int_t depth)
{
    SSL_CTX_set_verify_depth(ssl->ctx, (int) depth);
    return cert->len == 0 ? SL_OK : load_locations(ssl, cert);
}

sl_int_t sl_ssl_crl(sl_ssl_t *ssl, const sl_str_t *crl)
{
    if (crl->len == 0) {
        return SL_OK;
    }
    X509_STORE *store = SSL_CTX_get_cert_store(ssl->ctx);
    X509_LOOKUP *lookup = store ? X509_STORE_add_lookup(store, X509_LOOKUP_file()) : NULL;
    if (lookup == NULL
        || X509_LOOKUP_load_file(lookup, (char *) crl->data, X509_FILETYPE_PEM) == 0) {
        char msg[PATH_MAX + 80];
        snprintf(msg, sizeof(msg), "X509_LOOKUP_load_file(\"%s\") failed", (char *) crl->data);
        sl_ssl_error(SL_LOG_EMERG, ssl->log, 0, msg);
        return SL_ERROR;
    }
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
    return SL_OK;
}

void sl_ssl_error(sl_uint_t level, sl_log_t *log, sl_err_t err, const char *msg)
{
    char text[SL_MAX_ERROR_STR];
    size_t len = 0;
    unsigned long e;
    const char *data;
    int flags;

    if (msg[0] == '\0') {
        ERR_clear_error();
        return;
    }
    text[0] = '\0';
    while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
        if (len + 1 >= sizeof(text) - 64) {
            continue;
        }
        len += (size_t) snprintf(text + len, sizeof(text) - len, "%s", len ? " " : " (SSL: ");
        ERR_error_string_n(e, text + len, sizeof(text) - len);
        len += strlen(text + len);
        if ((flags & ERR_TXT_STRING) && data && *data) {
            len += (size_t) snprintf(text + len, sizeof(text) - len, ":%s", data);
            len = sl_min(len, sizeof(text) - 1);
        }
    }
    if (len) {
        sl_log_error(level, log, err, "%s%s)", msg, text);
    } else {
        sl_log_error(level, log, err, "%s", msg);
    }
}
