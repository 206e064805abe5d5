/*
 * The shared session cache (sl_ssl_session.c) through real TLSv1.2 handshakes over
 * socketpairs: a session is resumed from it; a cache of eight pages filled with far more
 * sessions than it holds drops the oldest and keeps the newest; a second context naming the
 * same cache finds what the first put there; a reload that keeps the name and size keeps
 * the mapping, another size gets a new one.  And the client side: the peer's last session
 * is offered by the next connection to the same address.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>

#include "sl_pool.h"
#include "sl_ssl.h"
#include "sl_test_log.h"

static sl_log_t log_;
static sl_open_file_t log_file;
static sl_pool_t *pool;
static sl_ssl_t server, client;
static EVP_PKEY *key;
static X509 *cert;

typedef struct {
    sl_connection_t c;
    sl_event_t rev, wev;
} end_t;

static void make_identity(void)
{
    key = EVP_EC_gen("P-256");
    cert = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 7);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME *name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (u_char *) "cache", -1, -1, 0);
    X509_set_issuer_name(cert, name);
    assert_true(X509_sign(cert, key, EVP_sha256()) > 0);
}

static void new_server(sl_ssl_t *ssl, sl_ssl_session_cache_t *cache)
{
    sl_str_t ctx_name = sl_string("cache-test");

    memset(ssl, 0, sizeof(*ssl));
    ssl->log = &log_;
    assert_int_equal(sl_ssl_create(ssl, SL_SSL_TLSv1_2, NULL), SL_OK);
    assert_int_equal(SSL_CTX_use_certificate(ssl->ctx, cert), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(ssl->ctx, key), 1);
    assert_int_equal(sl_ssl_session_cache(ssl, &ctx_name, -1, cache, 300), SL_OK);
    assert_int_equal(sl_ssl_session_tickets(ssl, 0, NULL), SL_OK);
}

static int setup(void **state)
{
    sl_test_log_open(&log_, &log_file, SL_LOG_INFO);
    assert_int_equal(sl_ssl_init(&log_), SL_OK);
    pool = sl_pool_create(4096, &log_);
    make_identity();
    memset(&client, 0, sizeof(client));
    client.log = &log_;
    assert_int_equal(sl_ssl_create(&client, SL_SSL_TLSv1_2, NULL), SL_OK);
    return 0;
}

static int teardown(void **state)
{
    sl_ssl_free(&client);
    sl_pool_destroy(pool);
    X509_free(cert);
    EVP_PKEY_free(key);
    close(log_file.fd);
    return 0;
}

static void init_end(end_t *e, int fd)
{
    memset(e, 0, sizeof(*e));
    e->c.fd = fd;
    e->c.read = &e->rev;
    e->c.write = &e->wev;
    e->c.log = &log_;
    e->c.io = &sl_socket_io;
    e->rev.data = e->wev.data = &e->c;
    e->wev.write = 1;
    e->rev.handler = e->wev.handler = sl_event_empty_handler;
}

/* One connection: a full or resumed handshake (session offered when not NULL); returns
 * whether it was resumed, and the client's session in *out (a reference, or untouched). */
static int connect_once(sl_ssl_t *srv, SSL_SESSION *offer, SSL_SESSION **out)
{
    int sv[2];
    end_t s, c;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    init_end(&s, sv[0]);
    init_end(&c, sv[1]);
    assert_int_equal(sl_ssl_create_connection(srv, &s.c, SL_SSL_SERVER), SL_OK);
    assert_int_equal(sl_ssl_create_connection(&client, &c.c, SL_SSL_CLIENT), SL_OK);
    if (offer) {
        assert_int_equal(SSL_set_session(c.c.ssl->connection, offer), 1);
    }
    for (int i = 0; i < 10 && !(s.c.ssl->handshaked && c.c.ssl->handshaked); i++) {
        if (!c.c.ssl->handshaked) {
            assert_int_not_equal(sl_ssl_handshake(&c.c), SL_ERROR);
        }
        if (!s.c.ssl->handshaked) {
            assert_int_not_equal(sl_ssl_handshake(&s.c), SL_ERROR);
        }
    }
    assert_true(s.c.ssl->handshaked && c.c.ssl->handshaked);
    int reused = SSL_session_reused(s.c.ssl->connection);
    if (out) {
        *out = SSL_get1_session(c.c.ssl->connection);
    }
    s.c.io->close(&s.c);
    c.c.io->close(&c.c);
    return reused;
}

static void test_resumed_from_cache(void **state)
{
    sl_str_t name = sl_string("T1");
    sl_ssl_session_cache_t *cache = sl_ssl_session_cache_create(pool, &log_, &name, 65536);
    SSL_SESSION *sess = NULL;

    assert_non_null(cache);
    new_server(&server, cache);
    assert_false(connect_once(&server, NULL, &sess));
    assert_true(connect_once(&server, sess, NULL));
    assert_true(connect_once(&server, sess, NULL));
    SSL_SESSION_free(sess);
    sl_ssl_free(&server);
}

/* 8 pages hold a few dozen sessions: after 300, the first is gone, the last is there. */
static void test_full_cache_drops_oldest(void **state)
{
    sl_str_t name = sl_string("T2");
    sl_ssl_session_cache_t *cache =
        sl_ssl_session_cache_create(pool, &log_, &name, 8 * (size_t) sl_pagesize());
    SSL_SESSION *first = NULL, *last = NULL;

    assert_non_null(cache);
    new_server(&server, cache);
    connect_once(&server, NULL, &first);
    for (int i = 0; i < 300; i++) {
        if (last) {
            SSL_SESSION_free(last);
        }
        connect_once(&server, NULL, &last);
    }
    assert_false(connect_once(&server, first, NULL));
    assert_true(connect_once(&server, last, NULL));
    SSL_SESSION_free(first);
    SSL_SESSION_free(last);
    sl_ssl_free(&server);
}

/* Another context (another cycle's, after a reload) naming the same cache of the same
 * size shares it; another size is another cache. */
static void test_same_name_shares(void **state)
{
    sl_str_t name = sl_string("T3");
    sl_pool_t *old_cycle = sl_pool_create(4096, &log_), *new_cycle = sl_pool_create(4096, &log_);
    sl_ssl_session_cache_t *a = sl_ssl_session_cache_create(old_cycle, &log_, &name, 65536);
    sl_ssl_session_cache_t *b = sl_ssl_session_cache_create(new_cycle, &log_, &name, 65536);
    sl_ssl_session_cache_t *c = sl_ssl_session_cache_create(pool, &log_, &name, 131072);
    sl_ssl_t other;
    SSL_SESSION *sess = NULL;

    assert_ptr_equal(a, b);
    assert_ptr_not_equal(a, c);
    new_server(&server, a);
    connect_once(&server, NULL, &sess);
    sl_ssl_free(&server);
    /* the old cycle goes: the cache stays for the new one */
    sl_pool_destroy(old_cycle);
    new_server(&other, b);
    assert_true(connect_once(&other, sess, NULL));
    sl_ssl_free(&other);
    SSL_SESSION_free(sess);
    sl_pool_destroy(new_cycle);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resumed_from_cache),
        cmocka_unit_test(test_full_cache_drops_oldest),
        cmocka_unit_test(test_same_name_shares),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, setup, teardown);
}
