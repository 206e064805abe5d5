/*
 * sl_ssl_ocsp.c: OCSP checks of client certificates (nginx's ssl_ocsp).  The handshake
 * verifies the client's chain against the trusted CAs; this asks, after it, whether the
 * certificates have been revoked.  The chain is the one the handshake verified (built again
 * from the trusted store for a resumed session, whose chain OpenSSL does not keep), and
 * each certificate to check (the leaf, or all but the root) is asked about in turn: from
 * the shared cache when a worker already got the answer, else from the responder
 * (ssl_ocsp_responder, or the certificate's Authority Information Access URL) over the
 * worker's non-blocking fetch.  An answer counts when its signature verifies against the
 * trusted store with the chain as intermediates and its signer is entitled to answer for
 * the issuer (OpenSSL's OCSP_basic_verify without shortcuts), and it is current.
 * The first certificate that is not "good" gives the verdict: "certificate revoked", or
 * "certificate status request failed" for anything else (no answer, a bad one, unknown).
 */
#include <openssl/ocsp.h>

#include "sl_ssl.h"
#include "sl_time.h"

/* how long a verdict without nextUpdate is kept in the cache */
#define VERDICT_TTL 3600

#define FAILED "certificate status request failed"
#define REVOKED "certificate revoked"

typedef struct {
    int mode;
    /** ssl_ocsp_responder, when given */
    int has_responder;
    sl_ssl_ocsp_target_t responder;
    sl_ssl_session_cache_t *cache;
    sl_log_t *log;
} ocsp_conf_t;

/* One connection's checks; it outlives the connection while a fetch is in flight. */
typedef struct {
    /** NULL once the connection is gone */
    sl_connection_t *connection;
    sl_connection_handler_pt done;
    ocsp_conf_t *conf;
    STACK_OF(X509) * chain;
    X509_STORE *store;
    OCSP_CERTID *id;
    int next;
    int last;
} check_t;

static int conf_index = -1;

static void free_conf(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    free(ptr);
}

sl_int_t sl_ssl_ocsp(sl_ssl_t *ssl, int mode, const sl_str_t *url, sl_ssl_session_cache_t *cache)
{
    if (conf_index == -1) {
        conf_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_conf);
        if (conf_index == -1) {
            sl_ssl_error(SL_LOG_EMERG, ssl->log, 0, "SSL_CTX_get_ex_new_index() failed");
            return SL_ERROR;
        }
    }
    ocsp_conf_t *conf = calloc(1, sizeof(ocsp_conf_t));
    if (conf == NULL) {
        sl_log_error(SL_LOG_EMERG, ssl->log, errno, "calloc() failed");
        return SL_ERROR;
    }
    conf->mode = mode;
    conf->cache = cache;
    conf->log = ssl->log;
    const char *why = NULL;
    if (url->len
        && sl__ssl_ocsp_parse_responder((const char *) url->data, &conf->responder, &why)
               != SL_OK) {
        sl_log_error(SL_LOG_EMERG, ssl->log, 0, "\"ssl_ocsp_responder\" %s (\"%.*s\")", why,
                     SL_STR_ARG(*url));
        free(conf);
        return SL_ERROR;
    }
    conf->has_responder = url->len != 0;
    if (SSL_CTX_set_ex_data(ssl->ctx, conf_index, conf) == 0) {
        free(conf);
        sl_ssl_error(SL_LOG_EMERG, ssl->log, 0, "SSL_CTX_set_ex_data() failed");
        return SL_ERROR;
    }
    return SL_OK;
}

static void check_free(check_t *ck)
{
    sk_X509_pop_free(ck->chain, X509_free);
    X509_STORE_free(ck->store);
    OCSP_CERTID_free(ck->id);
    free(ck);
}

void sl__ssl_ocsp_detach(sl_ssl_connection_t *sc)
{
    check_t *ck = sc->ocsp;

    ck->connection = NULL;
    sc->ocsp = NULL;
}

/* The client's chain, leaf first: the verified one, or built again (a resumed session).
 * A new stack of new references, or NULL. */
static STACK_OF(X509) * client_chain(SSL *ssl_conn, X509_STORE *store)
{
    STACK_OF(X509) *verified = SSL_get0_verified_chain(ssl_conn);

    if (verified && sk_X509_num(verified) > 0) {
        return X509_chain_up_ref(verified);
    }
    X509 *cert = SSL_get0_peer_certificate(ssl_conn);
    X509_STORE_CTX *sctx = X509_STORE_CTX_new();
    STACK_OF(X509) *chain = NULL;
    if (cert && sctx
        && X509_STORE_CTX_init(sctx, store, cert, SSL_get_peer_cert_chain(ssl_conn)) == 1
        && X509_verify_cert(sctx) == 1) {
        chain = X509_STORE_CTX_get1_chain(sctx);
    }
    X509_STORE_CTX_free(sctx);
    ERR_clear_error();
    return chain;
}

/* The verdict is in: the connection (if still there) goes on. */
static void finish(check_t *ck, const char *failure)
{
    sl_connection_t *c = ck->connection;

    if (c) {
        c->ssl->ocsp = NULL;
        c->ssl->ocsp_failure = failure;
        sl_connection_handler_pt done = ck->done;
        check_free(ck);
        done(c);
        return;
    }
    check_free(ck);
}

/* The cache's key of an id: its DER's SHA-1. */
static int id_key(OCSP_CERTID *id, u_char key[SHA_DIGEST_LENGTH])
{
    u_char *der = NULL;
    int len = i2d_OCSP_CERTID(id, &der);

    if (len <= 0) {
        return 0;
    }
    SHA1(der, (size_t) len, key);
    OPENSSL_free(der);
    return 1;
}

static void cache_verdict(check_t *ck, int status, time_t valid)
{
    u_char key[SHA_DIGEST_LENGTH], value = (u_char) status;

    if (ck->conf->cache && id_key(ck->id, key)) {
        (void) sl__ssl_shared_put(ck->conf->cache, key, sizeof(key), &value, 1, valid);
    }
}

/* The status the cache has for ck->id, or -1. */
static int cached_verdict(check_t *ck)
{
    u_char key[SHA_DIGEST_LENGTH], value;

    if (ck->conf->cache == NULL || !id_key(ck->id, key)
        || sl__ssl_shared_get(ck->conf->cache, key, sizeof(key), &value, 1) != 1) {
        return -1;
    }
    return value;
}

static time_t asn1_time(const ASN1_GENERALIZEDTIME *t)
{
    struct tm tm;

    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
        return (time_t) -1;
    }
    return timegm(&tm);
}

/* The status a responder's answer gives ck->id (V_OCSP_CERTSTATUS_*), or -1 (logged) when
 * it does not count.  *valid: until when it may be kept. */
static int answer_status(check_t *ck, const u_char *body, size_t len, time_t *valid)
{
    sl_log_t *log = ck->connection ? ck->connection->log : ck->conf->log;
    const u_char *p = body;
    OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, (long) len);
    OCSP_BASICRESP *basic = NULL;
    int status = -1, reason, rs;
    ASN1_GENERALIZEDTIME *this_update, *next_update;

    if (resp == NULL) {
        sl_ssl_error(SL_LOG_ERR, log, 0, "d2i_OCSP_RESPONSE() failed");
    } else if ((rs = OCSP_response_status(resp)) != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        sl_log_error(SL_LOG_ERR, log, 0, "OCSP response not successful (%d: %s)", rs,
                     OCSP_response_status_str(rs));
    } else if ((basic = OCSP_response_get1_basic(resp)) == NULL) {
        sl_ssl_error(SL_LOG_ERR, log, 0, "OCSP_response_get1_basic() failed");
    } else if (OCSP_basic_verify(basic, ck->chain, ck->store, 0) != 1) {
        sl_ssl_error(SL_LOG_ERR, log, 0, "OCSP_basic_verify() failed");
    } else if (OCSP_resp_find_status(basic, ck->id, &status, &reason, NULL, &this_update,
                                     &next_update)
               != 1) {
        sl_log_error(SL_LOG_ERR, log, 0, "certificate status not found in the OCSP response");
        status = -1;
    } else if (OCSP_check_validity(this_update, next_update, 300, -1) != 1) {
        sl_ssl_error(SL_LOG_ERR, log, 0, "OCSP_check_validity() failed");
        status = -1;
    } else {
        *valid = next_update ? asn1_time(next_update) : (time_t) -1;
        if (*valid == (time_t) -1) {
            *valid = sl_cached_time_sec + VERDICT_TTL;
        }
    }
    ERR_clear_error();
    OCSP_BASICRESP_free(basic);
    OCSP_RESPONSE_free(resp);
    return status;
}

static void step(check_t *ck);

/* What the verdict calls while sl_ssl_ocsp_validate() is still on the stack. */
static void not_yet(sl_connection_t *c)
{
}

/* A verdict on the current certificate: the next one, or the end. */
static void verdict(check_t *ck, int status)
{
    if (status == V_OCSP_CERTSTATUS_GOOD) {
        ck->next++;
        step(ck);
        return;
    }
    finish(ck, status == V_OCSP_CERTSTATUS_REVOKED ? REVOKED : FAILED);
}

static void answered(void *data, const u_char *body, size_t len)
{
    check_t *ck = data;
    time_t valid = 0;
    int status = body ? answer_status(ck, body, len, &valid) : -1;

    if (status == V_OCSP_CERTSTATUS_GOOD || status == V_OCSP_CERTSTATUS_REVOKED) {
        cache_verdict(ck, status, valid);
    }
    if (ck->connection == NULL) {
        check_free(ck);
        return;
    }
    verdict(ck, status);
}

/* Where the question about cert goes: ssl_ocsp_responder, else its own URL.  SL_OK or
 * SL_ERROR (logged). */
static sl_int_t target_of(check_t *ck, X509 *cert, sl_ssl_ocsp_target_t *to)
{
    sl_log_t *log = ck->connection->log;

    if (ck->conf->has_responder) {
        *to = ck->conf->responder;
        return SL_OK;
    }
    STACK_OF(OPENSSL_STRING) *urls = X509_get1_ocsp(cert);
    const char *url = urls ? sk_OPENSSL_STRING_value(urls, 0) : NULL, *why = NULL;
    sl_int_t rc = SL_ERROR;
    if (url == NULL) {
        sl_log_error(SL_LOG_ERR, log, 0, "no OCSP responder URL in certificate");
    } else if (sl__ssl_ocsp_parse_responder(url, to, &why) != SL_OK) {
        sl_log_error(SL_LOG_ERR, log, 0, "OCSP responder \"%s\" not usable: %s", url, why);
    } else {
        rc = SL_OK;
    }
    X509_email_free(urls);
    return rc;
}

/* Asks the responder about ck->id.  SL_OK (answered() follows) or SL_ERROR (logged). */
static sl_int_t ask(check_t *ck, X509 *cert)
{
    sl_ssl_ocsp_target_t to;
    OCSP_REQUEST *req = OCSP_REQUEST_new();
    OCSP_CERTID *id = OCSP_CERTID_dup(ck->id);
    u_char *der = NULL;
    int len = -1;

    if (target_of(ck, cert, &to) != SL_OK) {
        OCSP_CERTID_free(id);
        OCSP_REQUEST_free(req);
        return SL_ERROR;
    }
    if (req && id && OCSP_request_add0_id(req, id) != NULL) {
        id = NULL;
        len = i2d_OCSP_REQUEST(req, &der);
    }
    OCSP_CERTID_free(id);
    OCSP_REQUEST_free(req);
    if (len <= 0) {
        sl_ssl_error(SL_LOG_ERR, ck->connection->log, 0, "i2d_OCSP_REQUEST() failed");
        return SL_ERROR;
    }
    sl_int_t rc = sl_ssl_ocsp_fetch(&to, der, (size_t) len, ck->conf->log, answered, ck);
    OPENSSL_free(der);
    return rc;
}

/* Checks the certificates from ck->next on, until one needs an answer from afar. */
static void step(check_t *ck)
{
    while (ck->next < ck->last) {
        X509 *cert = sk_X509_value(ck->chain, ck->next);
        X509 *issuer = sk_X509_value(ck->chain, ck->next + 1);
        OCSP_CERTID_free(ck->id);
        ck->id = OCSP_cert_to_id(NULL, cert, issuer);
        if (ck->id == NULL) {
            sl_ssl_error(SL_LOG_ERR, ck->connection->log, 0, "OCSP_cert_to_id() failed");
            finish(ck, FAILED);
            return;
        }
        int status = cached_verdict(ck);
        if (status == -1) {
            if (ask(ck, cert) != SL_OK) {
                finish(ck, FAILED);
            }
            return;
        }
        if (status != V_OCSP_CERTSTATUS_GOOD) {
            finish(ck, status == V_OCSP_CERTSTATUS_REVOKED ? REVOKED : FAILED);
            return;
        }
        ck->next++;
    }
    finish(ck, NULL);
}

sl_int_t sl_ssl_ocsp_validate(sl_connection_t *c, sl_connection_handler_pt done)
{
    SSL *ssl_conn = c->ssl->connection;
    SSL_CTX *ctx = SSL_get_SSL_CTX(ssl_conn);
    ocsp_conf_t *conf = conf_index == -1 ? NULL : SSL_CTX_get_ex_data(ctx, conf_index);

    c->ssl->ocsp_failure = NULL;
    if (conf == NULL || SSL_get0_peer_certificate(ssl_conn) == NULL
        || SSL_get_verify_result(ssl_conn) != X509_V_OK) {
        return SL_OK;
    }
    check_t *ck = calloc(1, sizeof(check_t));
    if (ck == NULL) {
        sl_log_error(SL_LOG_ALERT, c->log, errno, "calloc() failed");
        c->ssl->ocsp_failure = FAILED;
        return SL_OK;
    }
    ck->connection = c;
    ck->conf = conf;
    ck->store = SSL_CTX_get_cert_store(ctx);
    X509_STORE_up_ref(ck->store);
    ck->chain = client_chain(ssl_conn, ck->store);
    int n = ck->chain ? sk_X509_num(ck->chain) : 0;
    /* a self-signed certificate alone has no issuer to ask */
    ck->last = n < 2 ? 0 : conf->mode == SL_SSL_OCSP_LEAF ? 1 : n - 1;
    if (ck->chain == NULL) {
        c->ssl->ocsp_failure = FAILED;
        check_free(ck);
        return SL_OK;
    }
    /* step() ends in done() when the answers are at hand: tell that apart */
    ck->done = not_yet;
    c->ssl->ocsp = ck;
    step(ck);
    if (c->ssl->ocsp == NULL) {
        return SL_OK;
    }
    ck->done = done;
    return SL_AGAIN;
}
