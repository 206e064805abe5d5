/*
 * sl_ssl_stapling.c: OCSP stapling from a file (ssl_stapling_file): the DER response is
 * read when the configuration is loaded and sent to every client that asks for the status
 * of the certificate (the status_request extension).  Fetching responses from the
 * certificate's responder needs an OCSP client in the event loop, which comes with the
 * resolver: until then a certificate that names a responder gets no staple without a file,
 * and the configuration says so with a warning (nginx warns likewise when it cannot staple).
 */
#include <openssl/ocsp.h>
#include <stdio.h>

#include "sl_ssl.h"

typedef struct {
    u_char *der;
    size_t len;
} staple_t;

static int staple_index = -1;

static void free_staple(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    staple_t *st = ptr;

    if (st) {
        free(st->der);
        free(st);
    }
}

static int status_callback(SSL *ssl_conn, void *arg)
{
    staple_t *st = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl_conn), staple_index);

    if (st == NULL || st->len == 0) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    /* OpenSSL frees what it is given */
    u_char *copy = OPENSSL_memdup(st->der, st->len);
    if (copy == NULL) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    SSL_set_tlsext_status_ocsp_resp(ssl_conn, copy, (long) st->len);
    return SSL_TLSEXT_ERR_OK;
}

/* Warns for each certificate of the context that would need a responder. */
static void warn_unfetched(sl_ssl_t *ssl)
{
    int rc = SSL_CTX_set_current_cert(ssl->ctx, SSL_CERT_SET_FIRST);

    while (rc == 1) {
        X509 *cert = SSL_CTX_get0_certificate(ssl->ctx);
        char *name = cert ? X509_NAME_oneline(X509_get_subject_name(cert), NULL, 0) : NULL;
        STACK_OF(OPENSSL_STRING) *urls = cert ? X509_get1_ocsp(cert) : NULL;
        if (urls == NULL) {
            sl_log_error(SL_LOG_WARN, ssl->log, 0,
                         "\"ssl_stapling\" ignored, no OCSP responder URL in the certificate "
                         "\"%s\"",
                         name ? name : "");
        } else {
            sl_log_error(SL_LOG_WARN, ssl->log, 0,
                         "\"ssl_stapling\" ignored for the certificate \"%s\": OCSP responses "
                         "are stapled from \"ssl_stapling_file\" only",
                         name ? name : "");
        }
        X509_email_free(urls);
        OPENSSL_free(name);
        rc = SSL_CTX_set_current_cert(ssl->ctx, SSL_CERT_SET_NEXT);
    }
}

static sl_int_t read_response(sl_ssl_t *ssl, const sl_str_t *file, staple_t *st)
{
    BIO *bio = BIO_new_file((char *) file->data, "rb");
    OCSP_RESPONSE *resp = bio ? d2i_OCSP_RESPONSE_bio(bio, NULL) : NULL;

    BIO_free(bio);
    if (resp == NULL) {
        char msg[PATH_MAX + 80];
        snprintf(msg, sizeof(msg), "d2i_OCSP_RESPONSE_bio(\"%s\") failed", (char *) file->data);
        sl_ssl_error(SL_LOG_EMERG, ssl->log, 0, msg);
        return SL_ERROR;
    }
    u_char *der = NULL;
    int len = i2d_OCSP_RESPONSE(resp, &der);
    OCSP_RESPONSE_free(resp);
    if (len <= 0) {
        sl_ssl_error(SL_LOG_EMERG, ssl->log, 0, "i2d_OCSP_RESPONSE() failed");
        return SL_ERROR;
    }
    st->der = malloc((size_t) len);
    if (st->der) {
        memcpy(st->der, der, (size_t) len);
        st->len = (size_t) len;
    }
    OPENSSL_free(der);
    return st->der ? SL_OK : SL_ERROR;
}

sl_int_t sl_ssl_stapling(sl_ssl_t *ssl, const sl_str_t *file)
{
    if (file->len == 0) {
        warn_unfetched(ssl);
        return SL_OK;
    }
    if (staple_index == -1) {
        staple_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_staple);
        if (staple_index == -1) {
            sl_ssl_error(SL_LOG_EMERG, ssl->log, 0, "SSL_CTX_get_ex_new_index() failed");
            return SL_ERROR;
        }
    }
    staple_t *st = calloc(1, sizeof(staple_t));
    if (st == NULL || SSL_CTX_set_ex_data(ssl->ctx, staple_index, st) == 0) {
        free(st);
        return SL_ERROR;
    }
    /* the context frees it (free_staple) from here on */
    if (read_response(ssl, file, st) != SL_OK) {
        return SL_ERROR;
    }
    SSL_CTX_set_tlsext_status_cb(ssl->ctx, status_callback);
    return SL_OK;
}
