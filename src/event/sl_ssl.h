/*
 * sl_ssl.h: TLS on OpenSSL 3, as one more implementation of a connection's I/O table.
 *
 * sl_ssl_t is a configured context (an SSL_CTX with what sluice keeps beside it): a
 * server{} with "listen ... ssl" has one, a proxy location with "proxy_pass https://" has
 * one.  A connection becomes a TLS connection with sl_ssl_create_connection(), which puts
 * sl_ssl_io in c->io; from then on the http and upstream code reads and writes through the
 * table as on a plain socket, and never sees a record.  The handshake is driven by the
 * connection's events (sl_ssl_handshake.c) and ends by calling c->ssl->handler.
 */
#ifndef SL_SSL_H
#define SL_SSL_H

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "sl_conn.h"

/* "ssl_protocols" bits (nginx's). */
#define SL_SSL_SSLv2 0x0002
#define SL_SSL_SSLv3 0x0004
#define SL_SSL_TLSv1 0x0008
#define SL_SSL_TLSv1_1 0x0010
#define SL_SSL_TLSv1_2 0x0020
#define SL_SSL_TLSv1_3 0x0040
#define SL_SSL_DEFAULT_PROTOCOLS (SL_SSL_TLSv1_2 | SL_SSL_TLSv1_3)

/* nginx's default ssl_buffer_size: one full TLS record. */
#define SL_SSL_BUFSIZE 16384

typedef struct sl_ssl_session_cache_s sl_ssl_session_cache_t;

typedef struct {
    SSL_CTX *ctx;
    sl_log_t *log;
    /** ssl_buffer_size: what a write gathers into one record */
    size_t buffer_size;
} sl_ssl_t;

struct sl_ssl_connection_s {
    SSL *connection;
    /** the context sessions are cached in (the default server's, whatever SNI picks) */
    SSL_CTX *session_ctx;
    /** called once the handshake ends, either way (c->ssl->handshaked tells which) */
    sl_connection_handler_pt handler;
    /** while a read waits for the socket to take a write (or the reverse), the handler
     * the other event had */
    sl_event_handler_pt saved_read_handler;
    sl_event_handler_pt saved_write_handler;
    /** the buffer writes are gathered in, buffer_size bytes, allocated at the first write */
    u_char *buf;
    size_t buffer_size;
    /** bytes of an SSL_write that wants retrying with the same bytes (0: none) */
    size_t pending;
    /** the last error SSL_get_error gave */
    int last;
    /** where a client connection's new sessions go instead of the context's per-process
     * cache (an upstream group's shared zone): save(store, slot, session) */
    void (*save_session)(void *store, void *slot, SSL_SESSION *sess);
    void *session_store;
    void *session_slot;
    /** a client certificate's OCSP check in flight (sl_ssl_ocsp.c), and its verdict: NULL
     * when the certificates are good or were not checked, else why not */
    void *ocsp;
    const char *ocsp_failure;

    unsigned handshaked : 1;
    /** a client (upstream) connection */
    unsigned client : 1;
    /** close without waiting for or sending a close_notify: the peer is gone or timed out */
    unsigned no_send_shutdown : 1;
    /** the handshake was refused on purpose (ssl_reject_handshake): not worth a log line */
    unsigned handshake_rejected : 1;
};

/* The TLS I/O table (sl_ssl_io.c): sendfile is off, writes gather into buffer_size. */
extern const sl_conn_io_t sl_ssl_io;
/* The same once the kernel encrypts (kernel TLS): sendfile is 1, file parts go out with
 * SSL_sendfile(). */
extern const sl_conn_io_t sl_ssl_ktls_io;

/* The ex_data slots: the connection of an SSL, the sl_ssl_t of an SSL_CTX, and the
 * module's own per-context data (the http server a context belongs to). */
extern int sl_ssl_connection_index;
extern int sl_ssl_ctx_index;
extern int sl_ssl_server_conf_index;

/* Once per process before any context: OpenSSL's init and the ex_data slots.  SL_OK or
 * SL_ERROR (logged). */
sl_int_t sl_ssl_init(sl_log_t *log);

/*
 * Creates ssl->ctx with protocols (SL_SSL_* bits) and sluice's defaults (no compression,
 * no renegotiation, partial and moving writes, the server's cipher order off).  data goes
 * in the context's ex_data (sl_ssl_server_conf_index).  SL_OK or SL_ERROR (logged at emerg).
 * sl_ssl_free() releases it (the pool cleanup that sl_ssl_cleanup_add() registers does).
 */
sl_int_t sl_ssl_create(sl_ssl_t *ssl, sl_uint_t protocols, void *data);
void sl_ssl_free(sl_ssl_t *ssl);
/* Frees ssl->ctx when pool is destroyed.  SL_OK or SL_ERROR. */
sl_int_t sl_ssl_cleanup_add(sl_pool_t *pool, sl_ssl_t *ssl);

/*
 * Configuration of a context, each SL_OK or SL_ERROR after logging at emerg with nginx's
 * wording.  Files are names already made absolute.
 */
/* One certificate (with its chain) and its key; called once per pair (RSA and ECDSA may
 * live together).  passwords: sl_str_t array (ssl_password_file) or NULL. */
sl_int_t sl_ssl_certificate(sl_ssl_t *ssl, const sl_str_t *cert, const sl_str_t *key,
                            sl_array_t *passwords);
/* A certificate and the chain after it (*chain, maybe empty), or a private key tried with
 * each password, from a file or from "data:PEM" (sl_ssl.c); NULL after logging at level
 * with nginx's "cannot load certificate ..." wording.  The caller owns what it gets. */
X509 *sl__ssl_read_certificate(sl_uint_t level, sl_log_t *log, const sl_str_t *cert,
                               STACK_OF(X509) * *chain);
EVP_PKEY *sl__ssl_read_key(sl_uint_t level, sl_log_t *log, const sl_str_t *key,
                           sl_array_t *passwords);

/*
 * Certificates named per handshake (sl_ssl_certificate_cache.c): ssl_certificate with
 * variables.  A cache keeps up to max pairs loaded in a worker (0: none, every handshake
 * reads its files), each reread after valid seconds and dropped after inactive seconds
 * unused, as nginx's ssl_certificate_cache.
 */
typedef struct sl_ssl_cert_cache_s sl_ssl_cert_cache_t;
/* NULL after logging; it lives as long as pool. */
sl_ssl_cert_cache_t *sl_ssl_cert_cache_create(sl_pool_t *pool, sl_log_t *log, sl_uint_t max,
                                              time_t inactive, time_t valid);
/* Gives ssl_conn the certificate (with its chain) and key of these names, from cache when it
 * has them (cache may be NULL).  SL_OK, or SL_ERROR after logging at error on log. */
sl_int_t sl_ssl_use_certificate(SSL *ssl_conn, sl_ssl_cert_cache_t *cache, const sl_str_t *cert,
                                const sl_str_t *key, sl_array_t *passwords, sl_log_t *log);

/* The lines of a password file, as an array of sl_str_t; NULL after logging. */
sl_array_t *sl_ssl_read_password_file(sl_pool_t *pool, sl_log_t *log, const sl_str_t *file);
sl_int_t sl_ssl_ciphers(sl_ssl_t *ssl, const sl_str_t *ciphers, int prefer_server_ciphers);
sl_int_t sl_ssl_ecdh_curve(sl_ssl_t *ssl, const sl_str_t *name);
sl_int_t sl_ssl_dhparam(sl_ssl_t *ssl, const sl_str_t *file);
/* ssl_conf_command: sl_keyval_t pairs.  A relative file a command names (Certificate,
 * PrivateKey, ...) is taken in prefix (the configuration's directory, ending in "/"), as
 * nginx does. */
sl_int_t sl_ssl_conf_commands(sl_ssl_t *ssl, sl_array_t *commands, const sl_str_t *prefix);
/* ssl_client_certificate (CAs sent to clients and trusted) and depth. */
sl_int_t sl_ssl_client_certificate(sl_ssl_t *ssl, const sl_str_t *cert, sl_int_t depth);
/* ssl_trusted_certificate / proxy_ssl_trusted_certificate: trusted, not sent. */
sl_int_t sl_ssl_trusted_certificate(sl_ssl_t *ssl, const sl_str_t *cert, sl_int_t depth);
sl_int_t sl_ssl_crl(sl_ssl_t *ssl, const sl_str_t *crl);
/*
 * ssl_stapling (sl_ssl_stapling.c): each certificate of the context staples the DER OCSP
 * response of file when there is one; otherwise the response is fetched in the worker from
 * responder (an "http://" URL; empty: the certificate's own OCSP URL), whose host must be
 * an IP address (there is no resolver), and checked (signature, status "good", validity;
 * the signer verified against the context's trusted store when verify is set).
 */
sl_int_t sl_ssl_stapling(sl_ssl_t *ssl, const sl_str_t *file, const sl_str_t *responder,
                         int verify);

/* Where an OCSP request goes (sl_ssl_ocsp_fetch.c). */
typedef struct {
    struct sockaddr_storage sockaddr;
    socklen_t socklen;
    /** the Host header: the URL's host and port as written */
    char host[128];
    size_t host_len;
    /** the URL's path, ending in "/": the request follows it */
    char path[512];
    size_t path_len;
} sl_ssl_ocsp_target_t;

/* An "http://host[:port][/path]" responder URL whose host is an IP address (there is no
 * resolver).  SL_OK, or SL_DECLINED with why in *why. */
sl_int_t sl__ssl_ocsp_parse_responder(const char *url, sl_ssl_ocsp_target_t *to, const char **why);

/*
 * OCSP checks of client certificates (sl_ssl_ocsp.c), as nginx's ssl_ocsp: after a
 * handshake whose client certificate verified, the status of the certificate (leaf) or of
 * every certificate of its chain below the root (chain) is asked from the responder (url,
 * else each certificate's own) and checked against the context's trusted certificates;
 * verdicts are kept in cache (a shared cache, or NULL) until the answer's nextUpdate.
 */
#define SL_SSL_OCSP_LEAF 1
#define SL_SSL_OCSP_CHAIN 2
sl_int_t sl_ssl_ocsp(sl_ssl_t *ssl, int mode, const sl_str_t *url, sl_ssl_session_cache_t *cache);
/* Starts the checks for c (once its handshake is done) with the context SNI chose.  SL_OK:
 * verdict known (c->ssl->ocsp_failure); SL_AGAIN: done(c) is called once it is, unless c
 * is closed first. */
sl_int_t sl_ssl_ocsp_validate(sl_connection_t *c, sl_connection_handler_pt done);
/* The connection goes: a check in flight forgets it. */
void sl__ssl_ocsp_detach(sl_ssl_connection_t *sc);

/* body is NULL when the exchange failed (logged). */
typedef void (*sl_ssl_ocsp_done_pt)(void *data, const u_char *body, size_t len);
/* Sends the DER request der to the responder; done runs once, later or before this returns
 * SL_OK.  SL_ERROR (logged): nothing started, done will not run. */
sl_int_t sl_ssl_ocsp_fetch(const sl_ssl_ocsp_target_t *to, const u_char *der, size_t der_len,
                           sl_log_t *log, sl_ssl_ocsp_done_pt done, void *data);

/*
 * Session caching (sl_ssl_session.c).  builtin: OpenSSL's per-process cache of that many
 * sessions (0: off).  shared: a cache in shared memory, NULL for none; timeout in seconds.
 */
sl_int_t sl_ssl_session_cache(sl_ssl_t *ssl, const sl_str_t *sess_ctx, ssize_t builtin,
                              sl_ssl_session_cache_t *shared, time_t timeout);
/* A shared cache of size bytes in a fresh shared mapping that lives as long as pool.
 * NULL after logging. */
sl_ssl_session_cache_t *sl_ssl_session_cache_create(sl_pool_t *pool, sl_log_t *log,
                                                    const sl_str_t *name, size_t size);
/* The shared cache as a store of small records by id (at most 32 bytes), for what else
 * workers share (OCSP verdicts): put replaces, SL_OK or SL_ERROR (full); get copies at most
 * size bytes into buf and returns the length, 0 for none (or expired). */
sl_int_t sl__ssl_shared_put(sl_ssl_session_cache_t *cache, const u_char *id, unsigned id_len,
                            const u_char *data, size_t len, time_t expires);
size_t sl__ssl_shared_get(sl_ssl_session_cache_t *cache, const u_char *id, unsigned id_len,
                          u_char *buf, size_t size);
/* ssl_session_tickets off, or the keys of ssl_session_ticket_key files (the first one
 * encrypts, all decrypt): keys is an array of sl_str_t file names, NULL for OpenSSL's own. */
sl_int_t sl_ssl_session_tickets(sl_ssl_t *ssl, int enable, sl_array_t *keys);

/* ssl_session_tickets on without keys, with a shared cache: keys made in the cache by the
 * first worker that seals a ticket, shared by all, a new one every timeout seconds (the
 * older ones open tickets as long as those live), as nginx 1.23.2+. */
sl_int_t sl_ssl_session_ticket_rotation(sl_ssl_t *ssl, sl_ssl_session_cache_t *cache,
                                        time_t timeout);

/* Client side (connections we make): the last session of each peer address is kept
 * (proxy_ssl_session_reuse) and offered by the next connection to it. */
sl_int_t sl_ssl_client_session_cache(sl_ssl_t *ssl);
/* Before the handshake of c (its c->sockaddr set): offers the peer's session, if any.
 * SL_OK or SL_ERROR (logged). */
sl_int_t sl_ssl_reuse_client_session(sl_connection_t *c);

/*
 * Makes c a TLS connection of ssl: an SSL on c->fd, c->ssl set, c->io = &sl_ssl_io.  client
 * for a connection we made (an upstream).  SL_OK or SL_ERROR (logged; c unchanged).
 */
#define SL_SSL_SERVER 0
#define SL_SSL_CLIENT 1
sl_int_t sl_ssl_create_connection(sl_ssl_t *ssl, sl_connection_t *c, int flags);
/* Frees what c's TLS holds (the descriptor stays) and makes it plain again.  After a clean
 * exchange the close_notify goes out first; one that failed or timed out just ends. */
void sl__ssl_connection_free(sl_connection_t *c);

/*
 * Runs the handshake as far as the socket allows.  SL_OK: done (c->ssl->handshaked);
 * SL_AGAIN: both events now call the handshake, which calls c->ssl->handler when it ends
 * (the caller arms the timer); SL_ERROR: failed (logged), c->ssl->handshaked 0.
 */
sl_int_t sl_ssl_handshake(sl_connection_t *c);

/* The first byte waiting on a connection, not consumed: SL_OK (*byte set), SL_AGAIN,
 * SL_DONE (the peer closed) or SL_ERROR (*err set).  How a TLS port tells plain HTTP. */
sl_int_t sl_conn_peek_byte(sl_connection_t *c, u_char *byte, sl_err_t *err);

/*
 * Logs "MSG (SSL: error:...)" at level, with OpenSSL's queued errors (which it drains), or
 * with err when there is none: the wording nginx gives.
 */
void sl_ssl_error(sl_uint_t level, sl_log_t *log, sl_err_t err, const char *msg);
/* Logs a failed SSL call on connection c at the level nginx gives its kind: the routine
 * failures of a client (a reset, a plain request, a version it does not speak) at info,
 * others at crit; drains the error queue. */
void sl__ssl_connection_error(sl_connection_t *c, int sslerr, sl_err_t err, const char *what);

#endif /* SL_SSL_H */
