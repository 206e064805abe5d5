/*
 * sl_ssl_handshake.c: a TLS connection's start: the SSL object on the socket, and the
 * handshake driven by the connection's events.  While it waits both events run the
 * handshake (a server's read may need a write, a client's write a read); when it ends, or
 * a timer fires, c->ssl->handler decides what follows.  Also the log level nginx gives a
 * failed TLS call, so a client speaking plain HTTP or a protocol we refuse is not an error.
 */
#include "sl_os.h"
#include "sl_ssl.h"

sl_int_t sl_ssl_create_connection(sl_ssl_t *ssl, sl_connection_t *c, int flags)
{
    sl_ssl_connection_t *sc = calloc(1, sizeof(sl_ssl_connection_t));

    if (sc == NULL) {
        sl_log_error(SL_LOG_ALERT, c->log, errno, "calloc() failed");
        return SL_ERROR;
    }
    sc->connection = SSL_new(ssl->ctx);
    if (sc->connection == NULL) {
        sl_ssl_error(SL_LOG_ALERT, c->log, 0, "SSL_new() failed");
        free(sc);
        return SL_ERROR;
    }
    if (SSL_set_fd(sc->connection, c->fd) == 0
        || SSL_set_ex_data(sc->connection, sl_ssl_connection_index, c) == 0) {
        sl_ssl_error(SL_LOG_ALERT, c->log, 0, "SSL_set_fd() failed");
        SSL_free(sc->connection);
        free(sc);
        return SL_ERROR;
    }
    if (flags & SL_SSL_CLIENT) {
        SSL_set_connect_state(sc->connection);
        sc->client = 1;
    } else {
        SSL_set_accept_state(sc->connection);
    }
    sc->session_ctx = ssl->ctx;
    sc->buffer_size = ssl->buffer_size ? ssl->buffer_size : SL_SSL_BUFSIZE;
    c->ssl = sc;
    c->io = &sl_ssl_io;
    return SL_OK;
}

void sl__ssl_connection_free(sl_connection_t *c)
{
    sl_ssl_connection_t *sc = c->ssl;

    if (sc == NULL) {
        return;
    }
    if (sc->ocsp) {
        sl__ssl_ocsp_detach(sc);
    }
    if (sc->connection) {
        if (sc->handshaked && !sc->no_send_shutdown && !c->timedout && !c->error && !c->read->error
            && !c->write->error) {
            ERR_clear_error();
            if (SSL_shutdown(sc->connection) < 0) {
                ERR_clear_error();
            }
        }
        /* Marked shut down either way: OpenSSL drops from the cache the session of a
         * connection freed without it, and a client that just closed its socket is no
         * reason to refuse it a resumption (a session to forget is removed explicitly). */
        SSL_set_quiet_shutdown(sc->connection, 1);
        SSL_set_shutdown(sc->connection, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        SSL_free(sc->connection);
    }
    free(sc->buf);
    free(sc);
    c->ssl = NULL;
    c->io = &sl_socket_io;
}

static void handshake_handler(sl_event_t *ev)
{
    sl_connection_t *c = ev->data;

    if (ev->timedout) {
        c->timedout = 1;
        c->ssl->no_send_shutdown = 1;
        c->ssl->handler(c);
        return;
    }
    if (sl_ssl_handshake(c) == SL_AGAIN) {
        return;
    }
    c->ssl->handler(c);
}

static void wait_handshake(sl_connection_t *c)
{
    c->read->handler = handshake_handler;
    c->write->handler = handshake_handler;
}

sl_int_t sl_ssl_handshake(sl_connection_t *c)
{
    sl_ssl_connection_t *sc = c->ssl;

    ERR_clear_error();
    int n = SSL_do_handshake(sc->connection);
    if (n == 1) {
        sc->handshaked = 1;
        /* the kernel encrypts what is sent (ssl_conf_command Options KTLS and the kernel's
         * tls module): file parts may go out with SSL_sendfile() */
        if (!sc->client && BIO_get_ktls_send(SSL_get_wbio(sc->connection))) {
            c->io = &sl_ssl_ktls_io;
        }
        c->read->handler = sl_event_empty_handler;
        c->write->handler = sl_event_empty_handler;
        /* records may already wait in OpenSSL's buffer (read-ahead): the next read must
         * be tried, not waited for */
        c->read->ready = 1;
        c->write->ready = 1;
        return SL_OK;
    }
    int sslerr = SSL_get_error(sc->connection, n);
    sl_err_t err = sslerr == SSL_ERROR_SYSCALL ? errno : 0;
    sc->last = sslerr;
    if (sslerr == SSL_ERROR_WANT_READ) {
        c->read->ready = 0;
        wait_handshake(c);
        return SL_AGAIN;
    }
    if (sslerr == SSL_ERROR_WANT_WRITE) {
        c->write->ready = 0;
        wait_handshake(c);
        return SL_AGAIN;
    }
    c->read->error = 1;
    c->write->error = 1;
    sc->no_send_shutdown = 1;
    if (sslerr == SSL_ERROR_ZERO_RETURN || (sslerr == SSL_ERROR_SYSCALL && err == 0)
        || ERR_peek_error() == 0) {
        sl_log_error(SL_LOG_INFO, c->log, err, "peer closed connection in SSL handshake");
        ERR_clear_error();
        return SL_ERROR;
    }
    sl__ssl_connection_error(c, sslerr, err, "SSL_do_handshake() failed");
    return SL_ERROR;
}

/* OpenSSL's reasons that a client (or a scanner) causes: logged at info, as nginx. */
static int routine_reason(int reason)
{
    switch (reason) {
    case SSL_R_BAD_CHANGE_CIPHER_SPEC:
    case SSL_R_DIGEST_CHECK_FAILED:
    case SSL_R_ERROR_IN_RECEIVED_CIPHER_LIST:
    case SSL_R_EXCESSIVE_MESSAGE_SIZE:
    case SSL_R_HTTPS_PROXY_REQUEST:
    case SSL_R_HTTP_REQUEST:
    case SSL_R_LENGTH_MISMATCH:
    case SSL_R_NO_CIPHERS_SPECIFIED:
    case SSL_R_NO_COMPRESSION_SPECIFIED:
    case SSL_R_NO_SHARED_CIPHER:
    case SSL_R_RECORD_LENGTH_MISMATCH:
    case SSL_R_UNEXPECTED_MESSAGE:
    case SSL_R_UNEXPECTED_RECORD:
    case SSL_R_UNKNOWN_ALERT_TYPE:
    case SSL_R_UNKNOWN_PROTOCOL:
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_BAD_KEY_SHARE:
    case SSL_R_BAD_EXTENSION:
    case SSL_R_NO_SHARED_GROUPS:
    case SSL_R_NO_SUITABLE_KEY_SHARE:
    case SSL_R_VERSION_TOO_LOW:
    case SSL_R_UNSAFE_LEGACY_RENEGOTIATION_DISABLED:
    case SSL_R_CALLBACK_FAILED:
    case SSL_R_CERT_CB_ERROR:
    case SSL_R_INAPPROPRIATE_FALLBACK:
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
    case SSL_R_UNEXPECTED_EOF_WHILE_READING:
        return 1;
    default:
        /* the alerts a peer sends: 1000 + the alert's number */
        return reason >= SSL_AD_REASON_OFFSET;
    }
}

void sl__ssl_connection_error(sl_connection_t *c, int sslerr, sl_err_t err, const char *what)
{
    sl_uint_t level = SL_LOG_CRIT;

    if (sslerr == SSL_ERROR_SYSCALL) {
        int routine = err == ECONNRESET || err == EPIPE || err == ENOTCONN || err == ETIMEDOUT
                      || err == ECONNREFUSED || err == ENETDOWN || err == ENETUNREACH
                      || err == EHOSTDOWN || err == EHOSTUNREACH;
        level = !routine ? SL_LOG_ALERT : c->peer_errors_logged_err ? SL_LOG_ERR : SL_LOG_INFO;
    } else if (sslerr == SSL_ERROR_SSL) {
        unsigned long e = ERR_peek_last_error();
        if (ERR_GET_LIB(e) == ERR_LIB_SSL && routine_reason(ERR_GET_REASON(e))) {
            level = c->peer_errors_logged_err ? SL_LOG_ERR : SL_LOG_INFO;
        }
    }
    if (c->ssl && c->ssl->handshake_rejected) {
        level = SL_LOG_INFO;
    }
    sl_ssl_error(level, c->log, err, what);
}

sl_int_t sl_conn_peek_byte(sl_connection_t *c, u_char *byte, sl_err_t *err)
{
    return sl_os_peek_byte(c->fd, byte, err);
}
