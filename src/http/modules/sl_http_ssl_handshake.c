/*
 * sl_http_ssl_handshake.c: a client on a TLS address.  The first byte tells a TLS hello
 * (0x16, or an SSLv2 hello with the top bit set) from plain HTTP, which is read as a request
 * and answered 497 ("The plain HTTP request was sent to HTTPS port"), as nginx.  The
 * handshake runs under client_header_timeout, the timer the connection was accepted with.
 * During it, SNI picks the server{} by server_name (its context, its certificates, its
 * verification) and ALPN settles on http/1.1.  Client certificates are verified in the
 * handshake but judged per request (495, 496), so the client gets nginx's page, not a
 * TLS alert.
 */
#include "sl_http_headers_in.h"
#include "sl_http_request.h"
#include "sl_http_server_name.h"
#include "sl_http_special_response.h"
#include "sl_http_ssl.h"
#include "sl_pool.h"

static sl_http_ssl_srv_conf_t *ssl_conf_of(sl_http_conf_ctx_t *ctx)
{
    return ctx->srv_conf[sl_http_ssl_module.ctx_index];
}

int sl_http_ssl_wanted(sl_http_connection_t *hc)
{
    return hc->addr->ssl || ssl_conf_of(hc->conf_ctx)->enable;
}

/* The connection is ready for its first request. */
static void wait_request(sl_connection_t *c)
{
    c->log->action = "waiting for request";
    c->read->handler = sl_http_wait_request_handler;
    c->write->handler = sl_event_empty_handler;
    sl_reusable_connection(c, 1);
    sl_http_wait_request_handler(c->read);
}

/* While the client's certificates are checked with OCSP responders, the request waits
 * (under the handshake's timer). */
static void ocsp_wait_handler(sl_event_t *ev)
{
    sl_connection_t *c = ev->data;

    if (ev->timedout || c->close) {
        if (ev->timedout) {
            sl_log_error(SL_LOG_INFO, c->log, ETIMEDOUT, "client timed out");
        }
        sl_http_close_connection(c);
    }
}

static void handshake_done(sl_connection_t *c)
{
    if (!c->ssl->handshaked) {
        if (c->timedout) {
            sl_log_error(SL_LOG_INFO, c->log, ETIMEDOUT, "client timed out");
        }
        sl_http_close_connection(c);
        return;
    }
    if (sl_ssl_ocsp_validate(c, wait_request) == SL_AGAIN) {
        c->read->handler = ocsp_wait_handler;
        c->write->handler = ocsp_wait_handler;
        return;
    }
    wait_request(c);
}

static void start_handshake(sl_connection_t *c)
{
    sl_http_connection_t *hc = c->data;
    sl_http_ssl_srv_conf_t *sscf = ssl_conf_of(hc->conf_ctx);

    if (sl_ssl_create_connection(&sscf->ssl, c, SL_SSL_SERVER) != SL_OK) {
        sl_http_close_connection(c);
        return;
    }
    c->log->action = "SSL handshaking";
    sl_int_t rc = sl_ssl_handshake(c);
    if (rc == SL_AGAIN) {
        if (!c->read->timer_set) {
            sl_add_timer(c->read, hc->default_server->client_header_timeout);
        }
        /* an idle handshake may be closed to free a connection object, as nginx */
        sl_reusable_connection(c, 1);
        c->ssl->handler = handshake_done;
        return;
    }
    handshake_done(c);
}

static void peek_handler(sl_event_t *rev)
{
    sl_connection_t *c = rev->data;
    u_char byte;
    sl_err_t err = 0;

    if (rev->timedout) {
        sl_log_error(SL_LOG_INFO, c->log, ETIMEDOUT, "client timed out");
        sl_http_close_connection(c);
        return;
    }
    if (c->close) {
        sl_http_close_connection(c);
        return;
    }
    sl_int_t rc = sl_conn_peek_byte(c, &byte, &err);
    if (rc == SL_AGAIN) {
        rev->ready = 0;
        return;
    }
    if (rc == SL_DONE || rc == SL_ERROR) {
        if (rc == SL_ERROR) {
            sl_connection_error(c, err, "recv()");
        }
        sl_http_close_connection(c);
        return;
    }
    if (byte == 0x16 || (byte & 0x80)) {
        start_handshake(c);
        return;
    }
    /* plain HTTP: read as a request, refused with 497 once its header is in */
    sl_http_connection_t *hc = c->data;
    hc->plain_on_ssl = 1;
    rev->handler = sl_http_wait_request_handler;
    sl_http_wait_request_handler(rev);
}

void sl_http_ssl_init_connection(sl_connection_t *c)
{
    c->read->handler = peek_handler;
    if (c->read->ready || c->read->pending_eof) {
        peek_handler(c->read);
    }
}

/* ---- SNI and ALPN ---- */

/* The server named by the client, made the connection's: its context, its verification. */
static int servername_callback(SSL *ssl_conn, int *ad, void *arg)
{
    sl_connection_t *c = SSL_get_ex_data(ssl_conn, sl_ssl_connection_index);
    sl_http_connection_t *hc = c->data;
    const char *name = SSL_get_servername(ssl_conn, TLSEXT_NAMETYPE_host_name);
    sl_http_core_srv_conf_t *cscf = NULL;

    if (name && *name) {
        sl_str_t host = { strlen(name), (u_char *) name };
        if (sl_http_validate_host(&host, c->pool, 1) != SL_OK) {
            *ad = SSL_AD_UNRECOGNIZED_NAME;
            c->ssl->handshake_rejected = 1;
            return SSL_TLSEXT_ERR_ALERT_FATAL;
        }
        hc->ssl_servername = sl_pcalloc(c->pool, sizeof(sl_str_t));
        if (hc->ssl_servername == NULL) {
            return SSL_TLSEXT_ERR_ALERT_FATAL;
        }
        *hc->ssl_servername = host;
        cscf = sl_http_find_server(NULL, hc->addr, &host);
    }
    if (cscf == NULL) {
        cscf = hc->addr->default_server;
    }
    hc->conf_ctx = cscf->ctx;
    sl_http_ssl_srv_conf_t *sscf = ssl_conf_of(cscf->ctx);
    if (sscf->reject_handshake) {
        c->ssl->handshake_rejected = 1;
        *ad = SSL_AD_UNRECOGNIZED_NAME;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    if (sscf->ssl.ctx == NULL) {
        return SSL_TLSEXT_ERR_OK;
    }
    /* the chosen server's certificates; its verification settings come along */
    SSL_set_SSL_CTX(ssl_conn, sscf->ssl.ctx);
    SSL_set_verify(ssl_conn, SSL_CTX_get_verify_mode(sscf->ssl.ctx),
                   SSL_CTX_get_verify_callback(sscf->ssl.ctx));
    SSL_set_verify_depth(ssl_conn, SSL_CTX_get_verify_depth(sscf->ssl.ctx));
    SSL_clear_options(ssl_conn, SSL_get_options(ssl_conn) & ~SSL_CTX_get_options(sscf->ssl.ctx));
    SSL_set_options(ssl_conn, SSL_CTX_get_options(sscf->ssl.ctx));
    return SSL_TLSEXT_ERR_OK;
}

static int alpn_callback(SSL *ssl_conn, const unsigned char **out, unsigned char *outlen,
                         const unsigned char *in, unsigned int inlen, void *arg)
{
    static const unsigned char supported[] = "\x08http/1.1\x08http/1.0\x08http/0.9";

    if (SSL_select_next_proto((unsigned char **) out, outlen, supported, sizeof(supported) - 1, in,
                              inlen)
        != OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    return SSL_TLSEXT_ERR_OK;
}

/* Verification failures are judged per request (495), so the handshake goes on. */
static int verify_callback(int ok, X509_STORE_CTX *x509_store)
{
    return 1;
}

void sl__http_ssl_set_callbacks(sl_ssl_t *ssl)
{
    SSL_CTX_set_tlsext_servername_callback(ssl->ctx, servername_callback);
    SSL_CTX_set_alpn_select_cb(ssl->ctx, alpn_callback, NULL);
}

void sl__http_ssl_set_verify(sl_ssl_t *ssl)
{
    SSL_CTX_set_verify(ssl->ctx, SSL_VERIFY_PEER, verify_callback);
}

/* ---- per request ---- */

/* The verification errors that optional_no_ca lets through: an unknown CA. */
static int error_optional(long rc)
{
    return rc == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
           || rc == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
           || rc == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
           || rc == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY || rc == X509_V_ERR_CERT_UNTRUSTED
           || rc == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE;
}

static sl_int_t refuse(sl_http_request_t *r, sl_uint_t status)
{
    r->lingering_close = 1;
    sl_http_finalize_request(r, (sl_int_t) status);
    return SL_ERROR;
}

static sl_int_t check_client_certificate(sl_http_request_t *r, sl_http_ssl_srv_conf_t *sscf)
{
    sl_connection_t *c = r->connection;
    SSL *ssl_conn = c->ssl->connection;
    long rc = SSL_get_verify_result(ssl_conn);

    if (rc != X509_V_OK
        && (sscf->verify != SL_HTTP_SSL_VERIFY_OPTIONAL_NO_CA || !error_optional(rc))) {
        sl_log_error(SL_LOG_INFO, c->log, 0, "client SSL certificate verify error: (%ld:%s)", rc,
                     X509_verify_cert_error_string(rc));
        SSL_SESSION_free(SSL_get1_session(ssl_conn));
        SSL_CTX_remove_session(c->ssl->session_ctx, SSL_get0_session(ssl_conn));
        return refuse(r, SL_HTTP_SSL_CERT_ERROR);
    }
    if (c->ssl->ocsp_failure) {
        sl_log_error(SL_LOG_INFO, c->log, 0, "client SSL certificate verify error: %s",
                     c->ssl->ocsp_failure);
        SSL_CTX_remove_session(c->ssl->session_ctx, SSL_get0_session(ssl_conn));
        return refuse(r, SL_HTTP_SSL_CERT_ERROR);
    }
    if (sscf->verify == SL_HTTP_SSL_VERIFY_ON) {
        X509 *cert = SSL_get0_peer_certificate(ssl_conn);
        if (cert == NULL) {
            sl_log_error(SL_LOG_INFO, c->log, 0, "client sent no required SSL certificate");
            SSL_CTX_remove_session(c->ssl->session_ctx, SSL_get0_session(ssl_conn));
            return refuse(r, SL_HTTP_SSL_NO_CERT);
        }
    }
    return SL_OK;
}

sl_int_t sl_http_ssl_check_request(sl_http_request_t *r)
{
    sl_connection_t *c = r->connection;
    sl_http_connection_t *hc = r->http_connection;

    if (hc->plain_on_ssl) {
        sl_log_error(SL_LOG_INFO, c->log, 0, "client sent plain HTTP request to HTTPS port");
        return refuse(r, SL_HTTP_TO_HTTPS);
    }
    if (c->ssl == NULL) {
        return SL_OK;
    }
    sl_http_ssl_srv_conf_t *sscf = sl_http_get_module_srv_conf(r, sl_http_ssl_module);
    if (sscf->verify == SL_HTTP_SSL_VERIFY_OFF) {
        return SL_OK;
    }
    return check_client_certificate(r, sscf);
}

sl_int_t sl_http_ssl_check_host(sl_http_request_t *r, sl_http_core_srv_conf_t *cscf,
                                const sl_str_t *host)
{
    sl_http_connection_t *hc = r->http_connection;
    sl_str_t *sni = hc->ssl_servername;

    if (sni == NULL) {
        return SL_OK;
    }
    if (cscf == NULL) {
        cscf = hc->addr->default_server;
    }
    sl_http_ssl_srv_conf_t *sscf = ssl_conf_of(cscf->ctx);
    if (sscf->verify == SL_HTTP_SSL_VERIFY_OFF) {
        return SL_OK;
    }
    if (sni->len != host->len || strncasecmp((char *) sni->data, (char *) host->data, host->len)) {
        sl_log_error(SL_LOG_INFO, r->connection->log, 0,
                     "client attempted to request the server name different from the one that "
                     "was negotiated");
        refuse(r, SL_HTTP_MISDIRECTED_REQUEST);
        return SL_ERROR;
    }
    return SL_OK;
}
