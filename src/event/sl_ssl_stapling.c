/*
 * sl_ssl_stapling.c: OCSP stapling.  Each certificate of a context carries its staple (in
 * the certificate's ex_data, so a context with an RSA and an ECDSA certificate staples the
 * right one for the handshake): the DER response of ssl_stapling_file, read when the
 * configuration is loaded, or a response fetched by each worker from the responder.  The
 * first handshake that asks starts the fetch and goes without; the handshakes after the
 * answer get it.  A fetched answer is kept only when it checks out (signature, the
 * certificate's status "good", validity), is refreshed before it expires (at most an hour
 * after it came, five minutes before its nextUpdate), and a failed fetch is tried again
 * five minutes later, the last good answer staying while it is valid.
 */
#include <openssl/ocsp.h>
#include <stdio.h>

#include "sl_ssl.h"
#include "sl_time.h"

#define REFRESH_MAX 3600
#define RETRY_AFTER 300
/* the validity of a response without nextUpdate, or of a file's */
#define STAPLE_FOREVER ((time_t) INT64_MAX)

typedef struct {
    u_char *der;
    size_t len;
    /** the answer's nextUpdate (time_t max: none, or a file's) */
    time_t valid;
    /** when the next fetch may start */
    time_t refresh;

    /* fetching: set only when the responses are fetched */
    OCSP_CERTID *id;
    X509 *cert;
    X509 *issuer;
    STACK_OF(X509) * chain;
    X509_STORE *store;
    sl_ssl_ocsp_target_t target;
    sl_log_t *log;
    unsigned fetch : 1;
    unsigned verify : 1;
    unsigned loading : 1;
} staple_t;

static int staple_index = -1;

static void free_staple(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    staple_t *st = ptr;

    if (st) {
        free(st->der);
        OCSP_CERTID_free(st->id);
        X509_free(st->issuer);
        free(st);
    }
}

static void fetch(staple_t *st);

static int status_callback(SSL *ssl_conn, void *arg)
{
    X509 *cert = SSL_get_certificate(ssl_conn);
    staple_t *st = cert ? X509_get_ex_data(cert, staple_index) : NULL;

    if (st == NULL) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    if (st->fetch && !st->loading && sl_cached_time_sec >= st->refresh) {
        fetch(st);
    }
    if (st->len == 0 || sl_cached_time_sec >= st->valid) {
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

static sl_int_t keep_der(staple_t *st, const u_char *der, size_t len)
{
    u_char *copy = malloc(len);

    if (copy == NULL) {
        return SL_ERROR;
    }
    memcpy(copy, der, len);
    free(st->der);
    st->der = copy;
    st->len = len;
    return SL_OK;
}

static char *subject_of(X509 *cert)
{
    return cert ? X509_NAME_oneline(X509_get_subject_name(cert), NULL, 0) : NULL;
}

/* --- checking a fetched answer --- */

static time_t asn1_time(const ASN1_GENERALIZEDTIME *t)
{
    struct tm tm;

    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
        return (time_t) -1;
    }
    return timegm(&tm);
}

/* The answer's nextUpdate when it is a good answer for st's certificate; -1 (logged)
 * otherwise. */
static time_t check_answer(staple_t *st, const u_char *body, size_t len)
{
    const u_char *p = body;
    OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, (long) len);
    OCSP_BASICRESP *basic = NULL;
    time_t valid = -1;
    int status, reason;
    ASN1_GENERALIZEDTIME *this_update, *next_update;

    if (resp == NULL) {
        sl_ssl_error(SL_LOG_ERR, st->log, 0, "d2i_OCSP_RESPONSE() failed");
        goto done;
    }
    int rs = OCSP_response_status(resp);
    if (rs != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        sl_log_error(SL_LOG_ERR, st->log, 0, "OCSP response not successful (%d: %s)", rs,
                     OCSP_response_status_str(rs));
        goto done;
    }
    basic = OCSP_response_get1_basic(resp);
    if (basic == NULL) {
        sl_ssl_error(SL_LOG_ERR, st->log, 0, "OCSP_response_get1_basic() failed");
        goto done;
    }
    if (OCSP_basic_verify(basic, st->chain, st->store, st->verify ? OCSP_TRUSTOTHER : OCSP_NOVERIFY)
        != 1) {
        sl_ssl_error(SL_LOG_ERR, st->log, 0, "OCSP_basic_verify() failed");
        goto done;
    }
    if (OCSP_resp_find_status(basic, st->id, &status, &reason, NULL, &this_update, &next_update)
        != 1) {
        sl_log_error(SL_LOG_ERR, st->log, 0, "certificate status not found in the OCSP response");
        goto done;
    }
    if (status != V_OCSP_CERTSTATUS_GOOD) {
        sl_log_error(SL_LOG_ERR, st->log, 0, "certificate status \"%s\" in the OCSP response",
                     OCSP_cert_status_str(status));
        goto done;
    }
    if (OCSP_check_validity(this_update, next_update, 300, -1) != 1) {
        sl_ssl_error(SL_LOG_ERR, st->log, 0, "OCSP_check_validity() failed");
        goto done;
    }
    valid = next_update ? asn1_time(next_update) : STAPLE_FOREVER;
    if (valid == (time_t) -1) {
        sl_log_error(SL_LOG_ERR, st->log, 0, "invalid nextUpdate time in certificate status");
    }
done:
    ERR_clear_error();
    OCSP_BASICRESP_free(basic);
    OCSP_RESPONSE_free(resp);
    return valid;
}

static void fetched(void *data, const u_char *body, size_t len)
{
    staple_t *st = data;
    time_t now = sl_cached_time_sec;
    time_t valid = body ? check_answer(st, body, len) : (time_t) -1;

    st->loading = 0;
    if (valid == (time_t) -1 || keep_der(st, body, len) != SL_OK) {
        st->refresh = now + RETRY_AFTER;
        return;
    }
    st->valid = valid;
    /* before it expires, at most an hour from now, and not sooner than five minutes */
    time_t refresh = valid - 300 < now + REFRESH_MAX ? valid - 300 : now + REFRESH_MAX;
    st->refresh = refresh > now + RETRY_AFTER ? refresh : now + RETRY_AFTER;
}

static void fetch(staple_t *st)
{
    OCSP_REQUEST *req = OCSP_REQUEST_new();
    OCSP_CERTID *id = OCSP_CERTID_dup(st->id);
    u_char *der = NULL;
    int len = -1;

    if (req && id && OCSP_request_add0_id(req, id) != NULL) {
        id = NULL;
        len = i2d_OCSP_REQUEST(req, &der);
    }
    OCSP_CERTID_free(id);
    OCSP_REQUEST_free(req);
    st->refresh = sl_cached_time_sec + RETRY_AFTER;
    if (len <= 0) {
        sl_ssl_error(SL_LOG_ERR, st->log, 0, "i2d_OCSP_REQUEST() failed");
        return;
    }
    st->loading = 1;
    if (sl_ssl_ocsp_fetch(&st->target, der, (size_t) len, st->log, fetched, st) != SL_OK) {
        st->loading = 0;
    }
    OPENSSL_free(der);
}

/* --- configuration --- */

sl_int_t sl__ssl_ocsp_parse_responder(const char *url, sl_ssl_ocsp_target_t *to, const char **why)
{
    size_t n = strlen(url);

    if (n < 7 || strncasecmp(url, "http://", 7) != 0) {
        *why = "only \"http://\" OCSP responders are supported";
        return SL_DECLINED;
    }
    const char *host = url + 7;
    const char *slash = strchr(host, '/');
    size_t host_len = slash ? (size_t) (slash - host) : strlen(host);
    const char *path = slash ? slash : "/";
    size_t path_len = strlen(path);

    if (host_len == 0 || host_len >= sizeof(to->host) || path_len + 1 >= sizeof(to->path)) {
        *why = "invalid URL";
        return SL_DECLINED;
    }
    sl_addr_t addr;
    if (sl_parse_addr_port((const u_char *) host, host_len, &addr) != SL_OK) {
        *why = "the responder's host is not an IP address (there is no resolver)";
        return SL_DECLINED;
    }
    struct sockaddr *sa = (struct sockaddr *) &addr.sockaddr;
    if (sl_sockaddr_port(sa) == 0) {
        if (sa->sa_family == AF_INET6) {
            ((struct sockaddr_in6 *) sa)->sin6_port = htons(80);
        } else {
            ((struct sockaddr_in *) sa)->sin_port = htons(80);
        }
    }
    memcpy(&to->sockaddr, &addr.sockaddr, sizeof(addr.sockaddr));
    to->socklen = addr.socklen;
    memcpy(to->host, host, host_len);
    to->host_len = host_len;
    memcpy(to->path, path, path_len);
    if (path[path_len - 1] != '/') {
        to->path[path_len++] = '/';
    }
    to->path_len = path_len;
    return SL_OK;
}

/* The issuer of the context's current certificate: in its chain, else in the trusted
 * store.  A new reference, or NULL. */
static X509 *find_issuer(SSL_CTX *ctx, X509 *cert, STACK_OF(X509) * chain)
{
    for (int i = 0; chain && i < sk_X509_num(chain); i++) {
        X509 *c = sk_X509_value(chain, i);
        if (X509_check_issued(c, cert) == X509_V_OK) {
            X509_up_ref(c);
            return c;
        }
    }
    X509_STORE_CTX *sctx = X509_STORE_CTX_new();
    X509 *issuer = NULL;
    if (sctx && X509_STORE_CTX_init(sctx, SSL_CTX_get_cert_store(ctx), NULL, NULL) == 1) {
        if (X509_STORE_CTX_get1_issuer(&issuer, sctx, cert) != 1) {
            issuer = NULL;
        }
    }
    X509_STORE_CTX_free(sctx);
    ERR_clear_error();
    return issuer;
}

/* Prepares st to fetch for the context's current certificate.  SL_OK, or SL_DECLINED
 * (warned: this certificate is not stapled), or SL_ERROR. */
static sl_int_t prepare_fetch(sl_ssl_t *ssl, staple_t *st, X509 *cert, const sl_str_t *responder,
                              int verify)
{
    char *name = subject_of(cert);
    STACK_OF(OPENSSL_STRING) *urls = NULL;
    const char *url = (const char *) responder->data, *why = NULL;
    sl_int_t rc = SL_DECLINED;

    if (responder->len == 0) {
        urls = X509_get1_ocsp(cert);
        url = urls ? sk_OPENSSL_STRING_value(urls, 0) : NULL;
        if (url == NULL) {
            sl_log_error(SL_LOG_WARN, ssl->log, 0,
                         "\"ssl_stapling\" ignored, no OCSP responder URL in the certificate "
                         "\"%s\"",
                         name ? name : "");
            goto done;
        }
    }
    if (sl__ssl_ocsp_parse_responder(url, &st->target, &why) != SL_OK) {
        sl_log_error(SL_LOG_WARN, ssl->log, 0,
                     "\"ssl_stapling\" ignored for the certificate \"%s\": %s (\"%s\")",
                     name ? name : "", why, url);
        goto done;
    }
    SSL_CTX_get0_chain_certs(ssl->ctx, &st->chain);
    st->issuer = find_issuer(ssl->ctx, cert, st->chain);
    if (st->issuer == NULL) {
        sl_log_error(SL_LOG_WARN, ssl->log, 0,
                     "\"ssl_stapling\" ignored, issuer certificate not found for certificate "
                     "\"%s\"",
                     name ? name : "");
        goto done;
    }
    st->id = OCSP_cert_to_id(NULL, cert, st->issuer);
    if (st->id == NULL) {
        sl_ssl_error(SL_LOG_EMERG, ssl->log, 0, "OCSP_cert_to_id() failed");
        rc = SL_ERROR;
        goto done;
    }
    st->cert = cert;
    st->store = SSL_CTX_get_cert_store(ssl->ctx);
    st->log = ssl->log;
    st->verify = verify != 0;
    st->fetch = 1;
    rc = SL_OK;
done:
    X509_email_free(urls);
    OPENSSL_free(name);
    return rc;
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
    sl_int_t rc = keep_der(st, der, (size_t) len);
    OPENSSL_free(der);
    st->valid = STAPLE_FOREVER;
    return rc;
}

/* The staple of the context's current certificate. */
static sl_int_t staple_certificate(sl_ssl_t *ssl, const sl_str_t *file, const sl_str_t *responder,
                                   int verify)
{
    X509 *cert = SSL_CTX_get0_certificate(ssl->ctx);

    if (cert == NULL) {
        return SL_OK;
    }
    staple_t *st = calloc(1, sizeof(staple_t));
    if (st == NULL || X509_set_ex_data(cert, staple_index, st) == 0) {
        free(st);
        return SL_ERROR;
    }
    /* the certificate frees it (free_staple) from here on */
    if (file->len) {
        return read_response(ssl, file, st);
    }
    sl_int_t rc = prepare_fetch(ssl, st, cert, responder, verify);
    return rc == SL_DECLINED ? SL_OK : rc;
}

sl_int_t sl_ssl_stapling(sl_ssl_t *ssl, const sl_str_t *file, const sl_str_t *responder, int verify)
{
    if (staple_index == -1) {
        staple_index = X509_get_ex_new_index(0, NULL, NULL, NULL, free_staple);
        if (staple_index == -1) {
            sl_ssl_error(SL_LOG_EMERG, ssl->log, 0, "X509_get_ex_new_index() failed");
            return SL_ERROR;
        }
    }
    int more = SSL_CTX_set_current_cert(ssl->ctx, SSL_CERT_SET_FIRST);
    while (more == 1) {
        if (staple_certificate(ssl, file, responder, verify) != SL_OK) {
            return SL_ERROR;
        }
        more = SSL_CTX_set_current_cert(ssl->ctx, SSL_CERT_SET_NEXT);
    }
    SSL_CTX_set_tlsext_status_cb(ssl->ctx, status_callback);
    return SL_OK;
}
