/*
 * The TLS I/O table over a socketpair: a server and a client context made here (an ECDSA
 * certificate written to PEM files, its key encrypted and loaded with a password list), the
 * handshake driven from both ends as the event loop would, then the table's contract:
 * recv's flags, send_chain gathering many small bufs into few records and a file part read
 * into them, a full socket (SL_AGAIN, the same bytes retried, nothing counted twice), the
 * close_notify of shutdown seen as the end of the stream, and close freeing what the
 * connection held (the sanitizer build checks).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <openssl/pem.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>

#include "sl_pool.h"
#include "sl_ssl.h"
#include "sl_test_log.h"

static sl_log_t log_;
static sl_open_file_t log_file;
static char dir[] = "/tmp/sl-test-ssl-XXXXXX";
static sl_ssl_t server_ssl, client_ssl;

typedef struct {
    sl_connection_t c;
    sl_event_t rev, wev;
} end_t;

static end_t srv, cli;

static X509 *make_cert(EVP_PKEY *key)
{
    X509 *x = X509_new();

    assert_non_null(x);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (u_char *) "localhost", -1, -1, 0);
    X509_set_issuer_name(x, name);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    return x;
}

static void write_files(sl_str_t *cert, sl_str_t *key, sl_str_t *pwfile)
{
    static char cpath[64], kpath[64], ppath[64];
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    X509 *x = make_cert(pkey);

    snprintf(cpath, sizeof(cpath), "%s/cert.pem", dir);
    snprintf(kpath, sizeof(kpath), "%s/key.pem", dir);
    snprintf(ppath, sizeof(ppath), "%s/passwords", dir);
    FILE *f = fopen(cpath, "w");
    assert_non_null(f);
    PEM_write_X509(f, x);
    fclose(f);
    f = fopen(kpath, "w");
    assert_non_null(f);
    PEM_write_PrivateKey(f, pkey, EVP_aes_128_cbc(), (u_char *) "secret", 6, NULL, NULL);
    fclose(f);
    f = fopen(ppath, "w");
    assert_non_null(f);
    fputs("wrong\nsecret\n", f);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(pkey);
    cert->data = (u_char *) cpath;
    cert->len = strlen(cpath);
    key->data = (u_char *) kpath;
    key->len = strlen(kpath);
    pwfile->data = (u_char *) ppath;
    pwfile->len = strlen(ppath);
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
    e->rev.ready = e->wev.ready = 1;
    e->rev.handler = e->wev.handler = sl_event_empty_handler;
}

static int handshake_done_calls;

static void on_handshake(sl_connection_t *c)
{
    handshake_done_calls++;
}

static int setup(void **state)
{
    int sv[2];
    sl_str_t cert, key, pwfile;

    sl_test_log_open(&log_, &log_file, SL_LOG_INFO);
    assert_non_null(mkdtemp(dir));
    assert_int_equal(sl_ssl_init(&log_), SL_OK);
    write_files(&cert, &key, &pwfile);

    sl_pool_t *pool = sl_pool_create(4096, &log_);
    sl_array_t *passwords = sl_ssl_read_password_file(pool, &log_, &pwfile);
    assert_non_null(passwords);
    assert_int_equal(passwords->nelts, 2);
    memset(&server_ssl, 0, sizeof(server_ssl));
    memset(&client_ssl, 0, sizeof(client_ssl));
    server_ssl.log = client_ssl.log = &log_;
    server_ssl.buffer_size = 4096;
    assert_int_equal(sl_ssl_create(&server_ssl, SL_SSL_DEFAULT_PROTOCOLS, NULL), SL_OK);
    assert_int_equal(sl_ssl_certificate(&server_ssl, &cert, &key, passwords), SL_OK);
    assert_int_equal(sl_ssl_create(&client_ssl, SL_SSL_DEFAULT_PROTOCOLS, NULL), SL_OK);
    sl_pool_destroy(pool);

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    init_end(&srv, sv[0]);
    init_end(&cli, sv[1]);
    assert_int_equal(sl_ssl_create_connection(&server_ssl, &srv.c, SL_SSL_SERVER), SL_OK);
    assert_int_equal(sl_ssl_create_connection(&client_ssl, &cli.c, SL_SSL_CLIENT), SL_OK);
    assert_ptr_equal(srv.c.io, &sl_ssl_io);
    assert_false(srv.c.io->sendfile);
    srv.c.ssl->handler = cli.c.ssl->handler = on_handshake;
    handshake_done_calls = 0;
    return 0;
}

static int teardown(void **state)
{
    if (srv.c.fd != -1) {
        srv.c.io->close(&srv.c);
    }
    if (cli.c.fd != -1) {
        cli.c.io->close(&cli.c);
    }
    sl_ssl_free(&server_ssl);
    sl_ssl_free(&client_ssl);
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    strcpy(dir, "/tmp/sl-test-ssl-XXXXXX");
    close(log_file.fd);
    return 0;
}

/* What the loop would do: whichever end waits has its event delivered, until both are
 * done.  Each step of a handshake is SL_AGAIN until the peer answered. */
static void handshake(void)
{
    assert_int_equal(sl_ssl_handshake(&cli.c), SL_AGAIN);
    assert_ptr_not_equal(cli.rev.handler, sl_event_empty_handler);
    assert_int_equal(sl_ssl_handshake(&srv.c), SL_AGAIN);
    for (int i = 0; i < 10 && handshake_done_calls < 2; i++) {
        if (!srv.c.ssl->handshaked) {
            srv.rev.ready = 1;
            srv.rev.handler(&srv.rev);
        }
        if (!cli.c.ssl->handshaked) {
            cli.rev.ready = 1;
            cli.rev.handler(&cli.rev);
        }
    }
    assert_int_equal(handshake_done_calls, 2);
    assert_true(srv.c.ssl->handshaked);
    assert_true(cli.c.ssl->handshaked);
    assert_string_equal(SSL_get_version(srv.c.ssl->connection), "TLSv1.3");
}

static void test_handshake_and_bytes(void **state)
{
    u_char buf[64];

    handshake();
    assert_int_equal(cli.c.io->send(&cli.c, (u_char *) "hello", 5), 5);
    assert_int_equal(srv.c.io->recv(&srv.c, buf, sizeof(buf)), 5);
    assert_memory_equal(buf, "hello", 5);
    /* a short read drained the socket: not ready, no eof */
    assert_false(srv.rev.ready);
    assert_false(srv.rev.eof);
    assert_int_equal(srv.c.io->recv(&srv.c, buf, sizeof(buf)), SL_AGAIN);
    sl_err_t err = 0;
    assert_int_equal(srv.c.io->peek(&srv.c, &err), SL_AGAIN);
}

/* 200 bufs of 10 bytes leave as one record each time the 4 KB buffer fills: a handful of
 * SSL_writes, not 200. */
static void test_send_chain_gathers(void **state)
{
    static u_char mem[2000], got[4000];
    sl_buf_t b[200];
    sl_chain_t cl[200];

    handshake();
    for (int i = 0; i < 2000; i++) {
        mem[i] = (u_char) ('a' + i % 26);
    }
    for (int i = 0; i < 200; i++) {
        memset(&b[i], 0, sizeof(b[i]));
        b[i].start = b[i].pos = mem + i * 10;
        b[i].last = b[i].end = mem + i * 10 + 10;
        b[i].temporary = 1;
        cl[i].buf = &b[i];
        cl[i].next = i < 199 ? &cl[i + 1] : NULL;
    }
    uint64_t before = BIO_number_written(SSL_get_wbio(srv.c.ssl->connection));
    assert_null(srv.c.io->send_chain(&srv.c, cl, 0));
    assert_int_equal(srv.c.sent, 2000);
    uint64_t wire = BIO_number_written(SSL_get_wbio(srv.c.ssl->connection)) - before;
    /* one record: the client reads it in one go (a record per buf would not fit 2000
     * bytes into a single read of records of 10) */
    size_t n = 0;
    while (n < 2000) {
        ssize_t r = cli.c.io->recv(&cli.c, got + n, sizeof(got) - n);
        assert_true(r > 0);
        n += (size_t) r;
    }
    assert_int_equal(n, 2000);
    assert_memory_equal(got, mem, 2000);
    assert_true(wire < 2000 + 100);
}

/* Filling the socket: SL_AGAIN with the chain unmoved beyond what left; draining it lets
 * the rest through, every byte once, in order. */
static void test_full_socket(void **state)
{
    enum { TOTAL = 4 * 1024 * 1024 };
    u_char *data = malloc(TOTAL), *got = malloc(TOTAL);
    sl_buf_t b;
    sl_chain_t cl = { &b, NULL };

    handshake();
    for (size_t i = 0; i < TOTAL; i++) {
        data[i] = (u_char) (i * 31 + 7);
    }
    memset(&b, 0, sizeof(b));
    b.start = b.pos = data;
    b.last = b.end = data + TOTAL;
    b.temporary = 1;
    size_t n = 0;
    int waits = 0;
    while (b.pos < b.last) {
        srv.wev.ready = 1;
        sl_chain_t *rest = srv.c.io->send_chain(&srv.c, &cl, 0);
        assert_ptr_not_equal(rest, SL_CHAIN_ERROR);
        assert_int_equal(srv.c.sent, b.pos - data);
        if (rest) {
            assert_false(srv.wev.ready);
            waits++;
        }
        while (n < TOTAL) {
            ssize_t r = cli.c.io->recv(&cli.c, got + n, TOTAL - n);
            if (r == SL_AGAIN) {
                break;
            }
            assert_true(r > 0);
            n += (size_t) r;
        }
    }
    while (n < TOTAL) {
        ssize_t r = cli.c.io->recv(&cli.c, got + n, TOTAL - n);
        assert_true(r > 0);
        n += (size_t) r;
    }
    assert_true(waits > 0);
    assert_memory_equal(got, data, TOTAL);
    free(data);
    free(got);
}

/* shutdown sends the close_notify: the peer reads the end of the stream. */
static void test_shutdown_is_eof(void **state)
{
    u_char buf[16];

    handshake();
    assert_int_equal(srv.c.io->send(&srv.c, (u_char *) "bye", 3), 3);
    assert_int_equal(srv.c.io->shutdown(&srv.c), SL_OK);
    assert_int_equal(cli.c.io->recv(&cli.c, buf, sizeof(buf)), 3);
    assert_true(cli.rev.eof);
    assert_int_equal(cli.c.io->recv(&cli.c, buf, sizeof(buf)), 0);
}

/* A write after the peer's close_notify and close: OpenSSL says SSL_ERROR_ZERO_RETURN,
 * the socket says EPIPE; the failure is routine (info, with the errno), never [crit]. */
static void test_write_after_close_notify(void **state)
{
    u_char buf[16];

    handshake();
    assert_int_equal(cli.c.io->shutdown(&cli.c), SL_OK);
    shutdown(cli.c.fd, SHUT_RDWR);
    assert_int_equal(srv.c.io->recv(&srv.c, buf, sizeof(buf)), 0);
    assert_int_equal(srv.c.io->send(&srv.c, (u_char *) "late", 4), SL_ERROR);
    const char *text = sl_test_log_text(&log_file);
    assert_null(strstr(text, "[crit]"));
    assert_non_null(strstr(text, "[info]"));
    assert_non_null(strstr(text, "SSL_write() failed (32: "));
}

/* A peer that is not TLS: the handshake fails, logged at info ("wrong version number"). */
static void test_plain_peer_fails(void **state)
{
    u_char buf[8];

    /* the client end speaks plain text over the raw socket */
    sl__ssl_connection_free(&cli.c);
    assert_ptr_equal(cli.c.io, &sl_socket_io);
    assert_int_equal(cli.c.io->send(&cli.c, (u_char *) "GET / HTTP/1.0\r\n\r\n", 18), 18);
    u_char byte;
    sl_err_t err = 0;
    assert_int_equal(sl_conn_peek_byte(&srv.c, &byte, &err), SL_OK);
    assert_int_equal(byte, 'G');
    assert_int_equal(sl_ssl_handshake(&srv.c), SL_ERROR);
    assert_false(srv.c.ssl->handshaked);
    assert_true(strstr(sl_test_log_text(&log_file), "[info]") != NULL);
    assert_true(strstr(sl_test_log_text(&log_file), "SSL_do_handshake() failed (SSL: error:")
                != NULL);
    (void) buf;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_handshake_and_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_chain_gathers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_is_eof, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_after_close_notify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain_peer_fails, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
