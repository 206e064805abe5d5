/*
 * sl_http_ssl_variables.c: the $ssl_* variables, read from the connection's TLS state
 * with nginx's formats (hex session ids, RFC 2253 names, "FAILED:reason", PEM with tabs
 * for the old $ssl_client_cert).  On a plain connection every one is not found.
 */
#include <openssl/pem.h>
#include <stdio.h>

#include "sl_http_ssl.h"
#include "sl_http_variables.h"
#include "sl_pool.h"

typedef sl_int_t (*getter_pt)(sl_http_request_t *r, SSL *s, sl_str_t *out);

static sl_int_t copy_str(sl_http_request_t *r, const char *text, size_t len, sl_str_t *out)
{
    out->data = sl_pnalloc(r->pool, len ? len : 1);
    if (out->data == NULL) {
        return SL_ERROR;
    }
    memcpy(out->data, text, len);
    out->len = len;
    return SL_OK;
}

static sl_int_t copy_cstr(sl_http_request_t *r, const char *text, sl_str_t *out)
{
    return copy_str(r, text ? text : "", text ? strlen(text) : 0, out);
}

static sl_int_t hex(sl_http_request_t *r, const u_char *p, size_t n, int upper, sl_str_t *out)
{
    static const char lo[] = "0123456789abcdef", up[] = "0123456789ABCDEF";
    const char *digits = upper ? up : lo;

    out->data = sl_pnalloc(r->pool, 2 * n + 1);
    if (out->data == NULL) {
        return SL_ERROR;
    }
    for (size_t i = 0; i < n; i++) {
        out->data[2 * i] = (u_char) digits[p[i] >> 4];
        out->data[2 * i + 1] = (u_char) digits[p[i] & 0xf];
    }
    out->len = 2 * n;
    return SL_OK;
}

/* What a memory BIO holds, copied into the pool (the BIO is freed). */
static sl_int_t from_bio(sl_http_request_t *r, BIO *bio, sl_str_t *out)
{
    char *data;
    long len = BIO_get_mem_data(bio, &data);
    sl_int_t rc = copy_str(r, data, len > 0 ? (size_t) len : 0, out);

    BIO_free(bio);
    return rc;
}

static sl_int_t get_protocol(sl_http_request_t *r, SSL *s, sl_str_t *out)
{
    return copy_cstr(r, SSL_get_version(s), out);
}

static sl_int_t get_cipher(sl_http_request_t *r, SSL *s, sl_str_t *out)
{
    return copy_cstr(r, SSL_get_cipher_name(s), out);
}

static sl_int_t get_ciphers(sl_http_request_t *r, SSL *s, sl_str_t *out)
{
    STACK_OF(SSL_CIPHER) *ciphers = SSL_get_client_ciphers(s);
    char buf[4096];
    size_t len = 0;

    for (int i = 0; ciphers && i < sk_SSL_CIPHER_num(ciphers); i++) {
        const SSL_CIPHER *cipher = sk_SSL_CIPHER_value(ciphers, i);
        const char *name = SSL_CIPHER_get_name(cipher);
        int n = name && strcmp(name, "(NONE)") != 0
                    ? snprintf(buf + len, sizeof(buf) - len, "%s%s", len ? ":" : "", name)
                    : snprintf(buf + len, sizeof(buf) - len, "%s0x%04x", len ? ":" : "",
                               (unsigned) (SSL_CIPHER_get_id(cipher) & 0xffff));
        if (n < 0 || (size_t) n >= sizeof(buf) - len) {
            break;
        }
        len += (size_t) n;
    }
    return copy_str(r, buf, len, out);
}

static const char *group_name(int nid, char *buf, size_t size)
{
    if (nid & TLSEXT_nid_unknown) {
        snprintf(buf, size, "0x%04x", (unsigned) (nid & 0xffff));
        return buf;
    }
    const char *name = OBJ_nid2sn(nid);
    return name ? name : "";
}

static sl_int_t get_curve(sl_http_request_t *r, SSL *s, sl_str_t *out)
{
    char buf[16];
    int nid = SSL_get_negotiated_group(s);

    if (nid == 0) {
        out->len = 0;
        out->data = (u_char *) "";
        return SL_OK;
    }
    return copy_cstr(r, group_name(nid, buf, sizeof(buf)), out);
}

static sl_int_t get_curves(sl_http_request_t *r, SSL *s, sl_str_t *out)
{
    int n = SSL_get1_curves(s, NULL);
    char buf[2048], name[16];
    size_t len = 0;

    if (n <= 0) {
        return copy_str(r, "", 0, out);
    }
    int *curves = OPENSSL_malloc((size_t) n * sizeof(int));
    if (curves == NULL) {
        return SL_ERROR;
    }
    SSL_get1_curves(s, curves);
    for (int i = 0; i < n; i++) {
        int k = snprintf(buf + len, sizeof(buf) - len, "%s%s", len ? ":" : "",
                         group_name(curves[i], name, sizeof(name)));
        if (k < 0 || (size_t) k >= sizeof(buf) - len) {
            break;
        }
        len += (size_t) k;
    }
    OPENSSL_free(curves);
    return copy_str(r, buf, len, out);
}

static sl_int_t get_session_id(sl_http_request_t *r, SSL *s, sl_str_t *out)
{
    SSL_SESSION *sess = SSL_get0_session(s);
    unsigned len = 0;
    const u_char *id = sess ? SSL_SESSION_get_id(sess, &len) : NULL;

    return hex(r, id, len, 0, out);
}

static sl_int_t get_session_reused(sl_http_request_t *r, SSL *s, sl_str_t *out)
{
    out->data = (u_char *) (SSL_session_reused(s) ? "r" : ".");
    out->len = 1;
    return SL_OK;
}

static sl_int_t get_server_name(sl_http_request_t *r, SSL *s, sl_str_t *out)
{
    const char *name = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);

    if (name == NULL) {
        return SL_DECLINED;
    }
    return copy_cstr(r, name, out);
}

static sl_int_t get_alpn(sl_http_request_t *r, SSL *s, sl_str_t *out)
{
    const unsigned char *data;
    unsigned len;

    SSL_get0_alpn_selected(s, &data, &len);
    return copy_str(r, (const char *) data, data ? len : 0, out);
}

static sl_int_t get_early_data(sl_http_request_t *r, SSL *s, sl_str_t *out)
{
    /* ssl_early_data is not supported: no request arrives as early data */
    out->data = (u_char *) "";
    out->len = 0;
    return SL_OK;
}

static sl_int_t get_client_verify(sl_http_request_t *r, SSL *s, sl_str_t *out)
{
    char buf[256];
    long rc = SSL_get_verify_result(s);

    if (SSL_get0_peer_certificate(s) == NULL) {
        return copy_cstr(r, "NONE", out);
    }
    if (rc == X509_V_OK) {
        const char *ocsp = r->connection->ssl->ocsp_failure;
        if (ocsp) {
            snprintf(buf, sizeof(buf), "FAILED:%s", ocsp);
            return copy_cstr(r, buf, out);
        }
        return copy_cstr(r, "SUCCESS", out);
    }
    snprintf(buf, sizeof(buf), "FAILED:%s", X509_verify_cert_error_string(rc));
    return copy_cstr(r, buf, out);
}

/* ---- the client's certificate ---- */

static sl_int_t name_rfc2253(sl_http_request_t *r, X509_NAME *name, sl_str_t *out)
{
    BIO *bio = BIO_new(BIO_s_mem());

    if (bio == NULL) {
        return SL_ERROR;
    }
    if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) < 0) {
        BIO_free(bio);
        return SL_ERROR;
    }
    return from_bio(r, bio, out);
}

static sl_int_t get_s_dn(sl_http_request_t *r, SSL *s, sl_str_t *out)
{
    X509 *cert = SSL_get0_peer_certificate(s);

    return cert ? name_rfc2253(r, X509_get_subject_name(cert), out) : SL_DECLINED;
}

static sl_int_t get_i_dn(sl_http_request_t *r, SSL *s, sl_str_t *out)
{
    X509 *cert = SSL_get0_peer_certificate(s);

    return cert ? name_rfc2253(r, X509_get_issuer_name(cert), out) : SL_DECLINED;
}

/* The old "/C=../CN=.." form. */
static sl_int_t name_oneline(sl_http_request_t *r, X509_NAME *name, sl_str_t *out)
{
    char *text = X509_NAME_oneline(name, NULL, 0);

    if (text == NULL) {
        return SL_ERROR;
    }
    sl_int_t rc = copy_cstr(r, text, out);
    OPENSSL_free(text);
    return rc;
}

static sl_int_t get_s_dn_legacy(sl_http_request_t *r, SSL *s, sl_str_t *out)
{
    X509 *cert = SSL_get0_peer_certificate(s);

    return cert ? name_oneline(r, X509_get_subject_name(cert), out) : SL_DECLINED;
}

static sl_int_t get_i_dn_legacy(sl_http_request_t *r, SSL *s, sl_str_t *out)
{
    X509 *cert = SSL_get0_peer_certificate(s);

    return cert ? name_oneline(r, X509_get_issuer_name(cert), out) : SL_DECLINED;
}

static sl_int_t get_raw_cert(sl_http_request_t *r, SSL *s, sl_str_t *out)
{
    X509 *cert = SSL_get0_peer_certificate(s);
    BIO *bio;

    if (cert == NULL) {
        return SL_DECLINED;
    }
    if ((bio = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_X509(bio, cert) == 0) {
        BIO_free(bio);
        return SL_ERROR;
    }
    return from_bio(r, bio, out);
}

/* The PEM with a tab after each inner newline: a header value that folds (deprecated). */
static sl_int_t get_cert(sl_http_request_t *r, SSL *s, sl_str_t *out)
{
    sl_str_t raw;
    sl_int_t rc = get_raw_cert(r, s, &raw);

    if (rc != SL_OK) {
        return rc;
    }
    while (raw.len && raw.data[raw.len - 1] == '\n') {
        raw.len--;
    }
    size_t lines = 0;
    for (size_t i = 0; i < raw.len; i++) {
        lines += raw.data[i] == '\n';
    }
    u_char *p = sl_pnalloc(r->pool, raw.len + lines + 1);
    if (p == NULL) {
        return SL_ERROR;
    }
    out->data = p;
    for (size_t i = 0; i < raw.len; i++) {
        *p++ = raw.data[i];
        if (raw.data[i] == '\n') {
            *p++ = '\t';
        }
    }
    out->len = (size_t) (p - out->data);
    return SL_OK;
}

static sl_int_t get_escaped_cert(sl_http_request_t *r, SSL *s, sl_str_t *out)
{
    static const char digits[] = "0123456789ABCDEF";
    sl_str_t raw;
    sl_int_t rc = get_raw_cert(r, s, &raw);

    if (rc != SL_OK) {
        return rc;
    }
    u_char *p = sl_pnalloc(r->pool, raw.len * 3 + 1);
    if (p == NULL) {
        return SL_ERROR;
    }
    out->data = p;
    for (size_t i = 0; i < raw.len; i++) {
        u_char ch = raw.data[i];
        /* what nginx's escaping of a uri component leaves alone */
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
            || strchr("-._~", ch)) {
            *p++ = ch;
        } else {
            *p++ = '%';
            *p++ = (u_char) digits[ch >> 4];
            *p++ = (u_char) digits[ch & 0xf];
        }
    }
    out->len = (size_t) (p - out->data);
    return SL_OK;
}

static sl_int_t get_fingerprint(sl_http_request_t *r, SSL *s, sl_str_t *out)
{
    X509 *cert = SSL_get0_peer_certificate(s);
    u_char md[EVP_MAX_MD_SIZE];
    unsigned len;

    if (cert == NULL) {
        return SL_DECLINED;
    }
    if (!X509_digest(cert, EVP_sha1(), md, &len)) {
        return SL_ERROR;
    }
    return hex(r, md, len, 0, out);
}

static sl_int_t get_serial(sl_http_request_t *r, SSL *s, sl_str_t *out)
{
    X509 *cert = SSL_get0_peer_certificate(s);
    BIO *bio;

    if (cert == NULL) {
        return SL_DECLINED;
    }
    if ((bio = BIO_new(BIO_s_mem())) == NULL) {
        return SL_ERROR;
    }
    i2a_ASN1_INTEGER(bio, X509_get_serialNumber(cert));
    return from_bio(r, bio, out);
}

static sl_int_t print_time(sl_http_request_t *r, const ASN1_TIME *t, sl_str_t *out)
{
    BIO *bio = BIO_new(BIO_s_mem());

    if (bio == NULL) {
        return SL_ERROR;
    }
    ASN1_TIME_print(bio, t);
    return from_bio(r, bio, out);
}

static sl_int_t get_v_start(sl_http_request_t *r, SSL *s, sl_str_t *out)
{
    X509 *cert = SSL_get0_peer_certificate(s);

    return cert ? print_time(r, X509_get0_notBefore(cert), out) : SL_DECLINED;
}

static sl_int_t get_v_end(sl_http_request_t *r, SSL *s, sl_str_t *out)
{
    X509 *cert = SSL_get0_peer_certificate(s);

    return cert ? print_time(r, X509_get0_notAfter(cert), out) : SL_DECLINED;
}

static sl_int_t get_v_remain(sl_http_request_t *r, SSL *s, sl_str_t *out)
{
    X509 *cert = SSL_get0_peer_certificate(s);
    int days, secs;
    char buf[32];

    if (cert == NULL) {
        return SL_DECLINED;
    }
    if (!ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(cert))) {
        return SL_ERROR;
    }
    /* whole days left, none once expired */
    if (days < 0 || (days == 0 && secs < 0)) {
        days = 0;
    }
    snprintf(buf, sizeof(buf), "%d", days);
    return copy_cstr(r, buf, out);
}

static sl_int_t var_ssl(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    getter_pt get = (getter_pt) data;
    sl_connection_t *c = r->connection;
    sl_str_t value;

    v->not_found = 1;
    v->valid = 0;
    v->len = 0;
    v->data = NULL;
    if (c->ssl == NULL || c->ssl->connection == NULL) {
        return SL_OK;
    }
    sl_int_t rc = get(r, c->ssl->connection, &value);
    if (rc == SL_ERROR) {
        return SL_ERROR;
    }
    if (rc == SL_DECLINED) {
        return SL_OK;
    }
    v->data = value.data;
    v->len = (unsigned) value.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->escape = 0;
    return SL_OK;
}

// clang-format off
static const struct {
    sl_str_t name;
    getter_pt get;
} variables[] = {
    { sl_string("ssl_protocol"), get_protocol },
    { sl_string("ssl_cipher"), get_cipher },
    { sl_string("ssl_ciphers"), get_ciphers },
    { sl_string("ssl_curve"), get_curve },
    { sl_string("ssl_curves"), get_curves },
    { sl_string("ssl_session_id"), get_session_id },
    { sl_string("ssl_session_reused"), get_session_reused },
    { sl_string("ssl_early_data"), get_early_data },
    { sl_string("ssl_server_name"), get_server_name },
    { sl_string("ssl_alpn_protocol"), get_alpn },
    { sl_string("ssl_client_cert"), get_cert },
    { sl_string("ssl_client_raw_cert"), get_raw_cert },
    { sl_string("ssl_client_escaped_cert"), get_escaped_cert },
    { sl_string("ssl_client_s_dn"), get_s_dn },
    { sl_string("ssl_client_i_dn"), get_i_dn },
    { sl_string("ssl_client_s_dn_legacy"), get_s_dn_legacy },
    { sl_string("ssl_client_i_dn_legacy"), get_i_dn_legacy },
    { sl_string("ssl_client_serial"), get_serial },
    { sl_string("ssl_client_fingerprint"), get_fingerprint },
    { sl_string("ssl_client_verify"), get_client_verify },
    { sl_string("ssl_client_v_start"), get_v_start },
    { sl_string("ssl_client_v_end"), get_v_end },
    { sl_string("ssl_client_v_remain"), get_v_remain },
};
// clang-format on

sl_int_t sl__http_ssl_add_variables(sl_conf_t *cf)
{
    for (size_t i = 0; i < sl_nelems(variables); i++) {
        sl_str_t name = variables[i].name;
        sl_http_variable_t *v = sl_http_add_variable(cf, &name, 0);
        if (v == NULL) {
            return SL_ERROR;
        }
        v->get_handler = var_ssl;
        v->data = (uintptr_t) variables[i].get;
    }
    return SL_OK;
}
