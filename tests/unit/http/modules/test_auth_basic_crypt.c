/*
 * test_auth_basic_crypt.c: the htpasswd hashes auth_basic checks (sl_http_auth_basic_crypt):
 * each format hashes the right password to exactly the stored value and a wrong one to
 * something else.  The stored values were made by `openssl passwd` (-apr1, -1, -5, -6) and
 * by base64(SHA-1) for {SHA} / {SSHA}, not by the code under test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "sl_http_auth_basic.h"
#include "sl_test_log.h"

static sl_open_file_t log_file;
static sl_log_t test_log;
static sl_pool_t *pool;

static int setup(void **state)
{
    sl_test_log_open(&test_log, &log_file, SL_LOG_INFO);
    pool = sl_pool_create(SL_POOL_DEFAULT_SIZE, &test_log);
    return pool ? 0 : -1;
}

static int teardown(void **state)
{
    sl_pool_destroy(pool);
    return 0;
}

/* Whether password hashes to stored. */
static int matches(const char *password, const char *stored)
{
    u_char *encrypted = NULL;

    assert_int_equal(sl_http_auth_basic_crypt(pool, &test_log, (const u_char *) password,
                                              (const u_char *) stored, &encrypted),
                     SL_OK);
    assert_non_null(encrypted);
    return strcmp((const char *) encrypted, stored) == 0;
}

static const struct {
    const char *password;
    const char *stored;
} vectors[] = {
    { "secret", "{PLAIN}secret" },
    { "secret", "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=" },
    { "secret", "{SSHA}gVK8WC9YyFT1gMsQHTGCgT3sSv5zYWx0" },
    { "secret", "$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/" },
    { "secret", "$apr1$x$12YdXEY0/hH4rDNkmZupO0" },
    { "", "$apr1$abcdefgh$L.PT565ESX4Tp2bqNs7Ie." },
    { "pw", "$1$saltsalt$6SNdNaZLKst2LlSm7oPPL1" },
    { "pw", "$5$saltsalt$0rl.MZtoLLPP3X0Rdl8riRnphIcAXJY27/aOAyK2hB5" },
    { "secret",
      "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN."
      "Pq.H91p5hVO1" },
};

static void test_right_passwords(void **state)
{
    for (size_t i = 0; i < sl_nelems(vectors); i++) {
        if (!matches(vectors[i].password, vectors[i].stored)) {
            fail_msg("\"%s\" does not hash to %s", vectors[i].password, vectors[i].stored);
        }
    }
}

static void test_wrong_passwords(void **state)
{
    for (size_t i = 0; i < sl_nelems(vectors); i++) {
        if (matches("wrong", vectors[i].stored)) {
            fail_msg("\"wrong\" hashes to %s", vectors[i].stored);
        }
    }
}

/* {SSHA} with a value too short for a salt, and a crypt(3) salt libcrypt rejects: an answer
 * that matches nothing, not an error (nginx: a 401, not a 500). */
static void test_odd_values(void **state)
{
    assert_false(matches("secret", "{SSHA}xx"));
    assert_false(matches("secret", "$9$nonsense"));
    assert_false(matches("secret", "plain-text-password"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_right_passwords),
        cmocka_unit_test(test_wrong_passwords),
        cmocka_unit_test(test_odd_values),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
