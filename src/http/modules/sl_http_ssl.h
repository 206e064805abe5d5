/*
 * sl_http_ssl.h: TLS toward clients (nginx's ngx_http_ssl_module): the per-server
 * configuration, and the hooks the http core calls on a connection of a "listen ... ssl"
 * address and on a request that arrived over it.
 */
#ifndef SL_HTTP_SSL_H
#define SL_HTTP_SSL_H

#include "sl_http_request.h"
#include "sl_ssl.h"

#define SL_HTTP_SSL_VERIFY_OFF 0
#define SL_HTTP_SSL_VERIFY_ON 1
#define SL_HTTP_SSL_VERIFY_OPTIONAL 2
#define SL_HTTP_SSL_VERIFY_OPTIONAL_NO_CA 3

/* ssl_session_cache's builtin part: off (no cache at all) and none (nothing kept, but
 * clients are not told so), as nginx's. */
#define SL_HTTP_SSL_NO_SCACHE -2
#define SL_HTTP_SSL_NONE_SCACHE -3
#define SL_HTTP_SSL_NO_BUILTIN_SCACHE -4
#define SL_HTTP_SSL_DFLT_BUILTIN_SCACHE -5

typedef struct {
    /** "ssl on" (deprecated): the server's addresses speak TLS */
    sl_int_t enable;
    sl_ssl_t ssl;

    sl_int_t prefer_server_ciphers;
    sl_int_t reject_handshake;
    sl_int_t session_tickets;
    sl_int_t stapling;
    sl_int_t stapling_verify;
    sl_str_t stapling_file;
    sl_str_t stapling_responder;
    /** ssl_ocsp: 0 (off), SL_SSL_OCSP_LEAF or SL_SSL_OCSP_CHAIN ("on") */
    sl_uint_t ocsp;
    sl_str_t ocsp_responder;
    /** ssl_ocsp_cache shared:NAME:SIZE (size 0: off) */
    sl_str_t ocsp_cache_name;
    size_t ocsp_cache_size;
    sl_uint_t protocols;
    size_t buffer_size;
    sl_uint_t verify;
    sl_uint_t verify_depth;
    ssize_t builtin_session_cache;
    time_t session_timeout;

    /** sl_str_t file names, in pairs by position */
    sl_array_t *certificates;
    sl_array_t *certificate_keys;
    sl_array_t *passwords;
    /** sl_http_complex_value_t, by position, when a certificate or key has variables: then
     * the pairs are loaded per handshake (certificate_callback) */
    sl_array_t *certificate_values;
    sl_array_t *certificate_key_values;
    /** ssl_certificate_cache: max entries (0: off), inactive and valid seconds */
    sl_int_t certificate_cache_max;
    time_t certificate_cache_inactive;
    time_t certificate_cache_valid;
    sl_ssl_cert_cache_t *certificate_cache;
    sl_array_t *conf_commands;
    sl_array_t *session_ticket_keys;

    sl_str_t dhparam;
    sl_str_t ecdh_curve;
    sl_str_t client_certificate;
    sl_str_t trusted_certificate;
    sl_str_t crl;
    sl_str_t ciphers;

    /** ssl_session_cache shared:NAME:SIZE, or NULL */
    sl_ssl_session_cache_t *shm_cache;
    sl_str_t shm_name;
    size_t shm_size;

    const char *file;
    sl_uint_t line;
} sl_http_ssl_srv_conf_t;

extern sl_module_t sl_http_ssl_module;

/*
 * A connection to a TLS address: waits for the first byte, then runs the handshake (a
 * plain HTTP request is read instead, and answered 497 by sl_http_ssl_check_request).
 * Either way it ends in the http core's wait for a request.  sl_http_ssl_handshake.c.
 */
void sl_http_ssl_init_connection(sl_connection_t *c);
/* Whether the connection's address asks for TLS (listen ... ssl, or ssl on). */
int sl_http_ssl_wanted(sl_http_connection_t *hc);
/*
 * Before the phases: a plain request on a TLS port (497), a client certificate that
 * failed or is missing where required (495, 496).  SL_OK, or SL_ERROR with the request
 * finalized.
 */
sl_int_t sl_http_ssl_check_request(sl_http_request_t *r);
/* The Host of a request whose server SNI chose: 421 where the chosen server verifies client
 * certificates and the host names another.  SL_OK, or SL_ERROR (finalized). */
sl_int_t sl_http_ssl_check_host(sl_http_request_t *r, sl_http_core_srv_conf_t *cscf,
                                const sl_str_t *host);

/* The context callbacks of a server's TLS: SNI, ALPN; client verification. */
void sl__http_ssl_set_callbacks(sl_ssl_t *ssl);
void sl__http_ssl_set_verify(sl_ssl_t *ssl);
/*
 * Certificates named with variables (sl_http_ssl_certificate.c): whether the server's
 * certificates or keys have any; compiling them and arming the context's certificate
 * callback, which evaluates them in each handshake (SNI already known) and loads the pair,
 * through the ssl_certificate_cache when there is one.  SL_OK or SL_ERROR (logged).
 */
int sl__http_ssl_certificates_have_variables(sl_http_ssl_srv_conf_t *sscf);
sl_int_t sl__http_ssl_compile_certificates(sl_conf_t *cf, sl_http_ssl_srv_conf_t *sscf);
/* "ssl_certificate_cache off | max=N [inactive=time] [valid=time]" */
char *sl__http_ssl_set_certificate_cache(sl_conf_t *cf, sl_command_t *cmd, void *conf);

/* Registers the $ssl_* variables (sl_http_ssl_variables.c).  SL_OK or SL_ERROR. */
sl_int_t sl__http_ssl_add_variables(sl_conf_t *cf);

#endif /* SL_HTTP_SSL_H */
