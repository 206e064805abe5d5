/*
 * Certificates loaded per connection (sl_ssl_certificate_cache.c): a pair read from files
 * or from "data:" PEM lands on the SSL; without a cache a renewed file is read again, with
 * one the pair stays until it is older than valid; a full cache gives the least recently
 * used slot to a new pair; a missing file fails with nginx's "cannot load certificate"
 * wording at error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <openssl/pem.h>
#include <stdio.h>

#include "sl_pool.h"
#include "sl_ssl.h"
#include "sl_test_log.h"
#include "sl_time.h"

static sl_log_t log_;
static sl_open_file_t log_file;
static sl_pool_t *pool;
static SSL_CTX *ctx;
static char dir[] = "/tmp/sl-test-certs-XXXXXX";

/* A self-signed P-256 certificate of that CN, and its key, as PEM files NAME.crt/.key. */
static void write_pair(const char *file, const char *cn)
{
    char path[256];
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert = X509_new();

    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME *name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const u_char *) cn, -1, -1, 0);
    X509_set_issuer_name(cert, name);
    assert_true(X509_sign(cert, key, EVP_sha256()) > 0);
    snprintf(path, sizeof(path), "%s/%s.crt", dir, file);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    PEM_write_X509(f, cert);
    fclose(f);
    snprintf(path, sizeof(path), "%s/%s.key", dir, file);
    f = fopen(path, "w");
    assert_non_null(f);
    PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    X509_free(cert);
    EVP_PKEY_free(key);
}

/* The CN of the certificate the cache gives a new SSL for file NAME, or "" on failure. */
static const char *loaded(sl_ssl_cert_cache_t *cache, const char *file)
{
    static char cn[64];
    char crt[256], key[256];
    SSL *ssl = SSL_new(ctx);

    snprintf(crt, sizeof(crt), "%s/%s.crt", dir, file);
    snprintf(key, sizeof(key), "%s/%s.key", dir, file);
    sl_str_t c = { strlen(crt), (u_char *) crt }, k = { strlen(key), (u_char *) key };
    cn[0] = '\0';
    if (sl_ssl_use_certificate(ssl, cache, &c, &k, NULL, &log_) == SL_OK) {
        X509_NAME_get_text_by_NID(X509_get_subject_name(SSL_get_certificate(ssl)), NID_commonName,
                                  cn, sizeof(cn));
    }
    SSL_free(ssl);
    return cn;
}

static int setup(void **state)
{
    sl_test_log_open(&log_, &log_file, SL_LOG_INFO);
    assert_int_equal(sl_ssl_init(&log_), SL_OK);
    pool = sl_pool_create(4096, &log_);
    ctx = SSL_CTX_new(TLS_server_method());
    assert_non_null(mkdtemp(dir));
    sl_time_update();
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];

    SSL_CTX_free(ctx);
    sl_pool_destroy(pool);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void test_uncached_reads_again(void **state)
{
    write_pair("a", "first");
    assert_string_equal(loaded(NULL, "a"), "first");
    write_pair("a", "renewed");
    assert_string_equal(loaded(NULL, "a"), "renewed");
}

static void test_cached_until_valid(void **state)
{
    sl_ssl_cert_cache_t *cache = sl_ssl_cert_cache_create(pool, &log_, 4, 60, 60);

    write_pair("b", "first");
    assert_string_equal(loaded(cache, "b"), "first");
    write_pair("b", "renewed");
    assert_string_equal(loaded(cache, "b"), "first");
    /* older than valid (60 s; the clock moved on): read again */
    sl_cached_time_sec += 61;
    assert_string_equal(loaded(cache, "b"), "renewed");
    write_pair("b", "third");
    assert_string_equal(loaded(cache, "b"), "renewed");
}

static void test_full_cache_drops_least_recent(void **state)
{
    sl_ssl_cert_cache_t *cache = sl_ssl_cert_cache_create(pool, &log_, 2, 60, 60);

    write_pair("c1", "one");
    write_pair("c2", "two");
    write_pair("c3", "three");
    assert_string_equal(loaded(cache, "c1"), "one");
    assert_string_equal(loaded(cache, "c2"), "two");
    assert_string_equal(loaded(cache, "c3"), "three");
    /* c1 gave its slot to c3: a renewed c1 is read (taking c2's, now the least recent),
     * c3 stays cached */
    write_pair("c1", "one-renewed");
    write_pair("c2", "two-renewed");
    write_pair("c3", "three-renewed");
    assert_string_equal(loaded(cache, "c3"), "three");
    assert_string_equal(loaded(cache, "c1"), "one-renewed");
    assert_string_equal(loaded(cache, "c3"), "three");
    assert_string_equal(loaded(cache, "c2"), "two-renewed");
}

static void test_data_and_missing(void **state)
{
    char path[256], pem[8192];

    write_pair("d", "inline");
    snprintf(path, sizeof(path), "%s/d.crt", dir);
    FILE *f = fopen(path, "r");
    size_t n = fread(pem + 5, 1, sizeof(pem) - 6, f);
    fclose(f);
    memcpy(pem, "data:", 5);
    sl_str_t c = { n + 5, (u_char *) pem };
    snprintf(path, sizeof(path), "%s/d.key", dir);
    sl_str_t k = { strlen(path), (u_char *) path };
    SSL *ssl = SSL_new(ctx);
    assert_int_equal(sl_ssl_use_certificate(ssl, NULL, &c, &k, NULL, &log_), SL_OK);
    SSL_free(ssl);

    assert_string_equal(loaded(NULL, "nx"), "");
    assert_non_null(strstr(sl_test_log_text(&log_file), "[error]"));
    assert_non_null(strstr(sl_test_log_text(&log_file), "cannot load certificate \""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uncached_reads_again),
        cmocka_unit_test(test_cached_until_valid),
        cmocka_unit_test(test_full_cache_drops_least_recent),
        cmocka_unit_test(test_data_and_missing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
