/*
 * sl_upstream_ssl.c: TLS to the upstream.  A new connection to a peer of "proxy_pass
 * https://" becomes a TLS connection of the location's context before the request is sent:
 * SNI when proxy_ssl_server_name asks (the proxy_ssl_name, by default the proxy_pass host,
 * never an IP literal), the peer's last session offered when proxy_ssl_session_reuse is on,
 * a client certificate whose names have variables loaded for this connection.  Once the
 * handshake is done the certificate is judged as nginx does (proxy_ssl_verify): the chain's
 * verdict first, then the name, checked as OpenSSL's X509_check_host (SAN, wildcards, CN).
 * A kept connection is already past all this, and is reused as it is.
 */
#include <arpa/inet.h>
#include <openssl/pem.h>

#include "sl_http_variables.h"
#include "sl_pool.h"
#include "sl_upstream.h"
#include "sl_upstream_zone.h"

/* The name the upstream is asked for and checked against: proxy_ssl_name, else the host. */
static sl_int_t ssl_name(sl_http_request_t *r, sl_upstream_t *u, sl_str_t *name)
{
    if (u->conf->ssl_name) {
        if (sl_http_complex_value(r, u->conf->ssl_name, name) != SL_OK) {
            return SL_ERROR;
        }
    } else {
        *name = u->ssl_host;
    }
    /* "host:port" in proxy_ssl_name: the port is not part of the name */
    u_char *colon = name->len && name->data[0] != '[' ? memchr(name->data, ':', name->len) : NULL;
    if (colon) {
        name->len = (size_t) (colon - name->data);
    }
    return SL_OK;
}

/* A file name of proxy_ssl_certificate with variables, made absolute as the config's. */
static char *file_name(sl_http_request_t *r, sl_upstream_t *u, const sl_str_t *s)
{
    const sl_str_t *prefix = &u->conf->ssl_conf_prefix;
    size_t plen = s->len && s->data[0] == '/' ? 0 : prefix->len;
    char *p = sl_pnalloc(r->pool, plen + s->len + 1);

    if (p) {
        memcpy(p, prefix->data, plen);
        memcpy(p + plen, s->data, s->len);
        p[plen + s->len] = '\0';
    }
    return p;
}

/* A NUL-terminated copy in the request's pool. */
static char *cstr(sl_http_request_t *r, const sl_str_t *s)
{
    char *p = sl_pnalloc(r->pool, s->len + 1);

    if (p) {
        memcpy(p, s->data, s->len);
        p[s->len] = '\0';
    }
    return p;
}

static int is_ip_literal(const char *name)
{
    struct in6_addr a6;
    struct in_addr a4;

    return inet_pton(AF_INET, name, &a4) == 1 || inet_pton(AF_INET6, name, &a6) == 1
           || name[0] == '[';
}

static sl_int_t set_server_name(sl_http_request_t *r, sl_upstream_t *u, SSL *ssl_conn)
{
    sl_str_t name;

    if (!u->conf->ssl_server_name || ssl_name(r, u, &name) != SL_OK || name.len == 0) {
        return SL_OK;
    }
    char *host = cstr(r, &name);
    if (host == NULL) {
        return SL_ERROR;
    }
    if (is_ip_literal(host)) {
        return SL_OK;
    }
    if (SSL_set_tlsext_host_name(ssl_conn, host) == 0) {
        sl_ssl_error(SL_LOG_ERR, r->connection->log, 0, "SSL_set_tlsext_host_name() failed");
        return SL_ERROR;
    }
    return SL_OK;
}

/* The password callback of a key loaded per connection: the first password. */
static int first_password(char *buf, int size, int rwflag, void *userdata)
{
    sl_array_t *passwords = userdata;

    if (passwords == NULL || passwords->nelts == 0) {
        return 0;
    }
    sl_str_t *pwd = passwords->elts;
    int n = (int) sl_min(pwd->len, (size_t) size);
    memcpy(buf, pwd->data, (size_t) n);
    return n;
}

/* proxy_ssl_certificate with variables: this connection's certificate and key. */
static sl_int_t set_certificate(sl_http_request_t *r, sl_upstream_t *u, SSL *ssl_conn)
{
    sl_str_t cert, key;
    sl_log_t *log = r->connection->log;

    if (u->conf->ssl_certificate == NULL) {
        return SL_OK;
    }
    if (sl_http_complex_value(r, u->conf->ssl_certificate, &cert) != SL_OK
        || sl_http_complex_value(r, u->conf->ssl_certificate_key, &key) != SL_OK) {
        return SL_ERROR;
    }
    if (cert.len == 0) {
        return SL_OK;
    }
    char *cert_file = file_name(r, u, &cert), *key_file = file_name(r, u, &key);
    if (cert_file == NULL || key_file == NULL) {
        return SL_ERROR;
    }
    if (SSL_use_certificate_chain_file(ssl_conn, cert_file) != 1) {
        sl_log_error(SL_LOG_ERR, log, 0, "cannot load certificate \"%s\"", cert_file);
        ERR_clear_error();
        return SL_ERROR;
    }
    BIO *bio = BIO_new_file(key_file, "r");
    EVP_PKEY *pkey =
        bio ? PEM_read_bio_PrivateKey(bio, NULL, first_password, u->conf->ssl_passwords) : NULL;
    BIO_free(bio);
    if (pkey == NULL || SSL_use_PrivateKey(ssl_conn, pkey) != 1) {
        EVP_PKEY_free(pkey);
        sl_log_error(SL_LOG_ERR, log, 0, "cannot load certificate key \"%s\"", key_file);
        ERR_clear_error();
        return SL_ERROR;
    }
    EVP_PKEY_free(pkey);
    return SL_OK;
}

sl_int_t sl__upstream_ssl_start(sl_http_request_t *r, sl_upstream_t *u,
                                sl_connection_handler_pt done)
{
    sl_connection_t *c = u->peer.connection;

    if (sl_ssl_create_connection(u->conf->ssl, c, SL_SSL_CLIENT) != SL_OK) {
        return SL_ERROR;
    }
    SSL *ssl_conn = c->ssl->connection;
    if (set_server_name(r, u, ssl_conn) != SL_OK || set_certificate(r, u, ssl_conn) != SL_OK) {
        return SL_ERROR;
    }
    if (u->conf->ssl_session_reuse) {
        /* the group's shared zone when it has one, else this worker's sessions */
        sl_int_t rc = sl_upstream_zone_ssl_session(&u->pick, c);
        if (rc == SL_DECLINED) {
            rc = sl_ssl_reuse_client_session(c);
        }
        if (rc != SL_OK) {
            return SL_ERROR;
        }
    }
    c->ssl->handler = done;
    return sl_ssl_handshake(c);
}

sl_int_t sl__upstream_ssl_check(sl_http_request_t *r, sl_upstream_t *u)
{
    sl_connection_t *c = u->peer.connection;
    SSL *ssl_conn = c->ssl->connection;
    sl_log_t *log = r->connection->log;
    sl_str_t name;

    if (!u->conf->ssl_verify) {
        return SL_OK;
    }
    long rc = SSL_get_verify_result(ssl_conn);
    if (rc != X509_V_OK) {
        sl_log_error(SL_LOG_ERR, log, 0, "upstream SSL certificate verify error: (%ld:%s)", rc,
                     X509_verify_cert_error_string(rc));
        return SL_ERROR;
    }
    X509 *cert = SSL_get0_peer_certificate(ssl_conn);
    if (ssl_name(r, u, &name) != SL_OK) {
        return SL_ERROR;
    }
    char *host = cstr(r, &name);
    if (host == NULL) {
        return SL_ERROR;
    }
    int match = cert
                && (is_ip_literal(host) ? X509_check_ip_asc(cert, host, 0) == 1
                                        : X509_check_host(cert, host, 0, 0, NULL) == 1);
    if (!match) {
        sl_log_error(SL_LOG_ERR, log, 0, "upstream SSL certificate does not match \"%s\"", host);
        return SL_ERROR;
    }
    return SL_OK;
}
