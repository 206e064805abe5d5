/*
 * test_ssi_parse.c: the SSI command parser: text copied as it comes, commands with their
 * parameters (both quotes, escapes), a "<!--#" cut anywhere by buffer edges, text that only
 * looks like a command's start, errors (a value over ssi_value_length, a bad symbol) and
 * the skipping up to "-->" after them, and no text copied in a false "if" branch.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sl_http_ssi.h"
#include "sl_log.h"
#include "sl_test_log.h"

static sl_log_t test_log;
static sl_open_file_t test_log_file;

/* Parses doc in pieces of step bytes (0: whole); the transcript: text, and "{name k=v ...}"
 * per command, "{!}" per error. */
static char *transcript(const char *doc, size_t step, size_t value_len, int copy)
{
    sl_pool_t *pool = sl_pool_create(4096, &test_log);
    sl_http_ssi_parser_t ps;
    size_t len = strlen(doc);
    static char out[4096];
    char *o = out;

    assert_non_null(pool);
    assert_int_equal(sl_http_ssi_parser_init(&ps, pool, value_len), SL_OK);
    for (size_t fed = 0; fed < len;) {
        size_t n = step ? (step < len - fed ? step : len - fed) : len - fed;
        u_char piece[512], text[520];
        memcpy(piece, doc + fed, n);
        u_char *pos = piece, *end = piece + n;
        while (pos < end) {
            u_char *t = text;
            sl_int_t rc = sl_http_ssi_parse(&ps, &pos, end, &t, copy);
            memcpy(o, text, (size_t) (t - text));
            o += t - text;
            if (rc == SL_ERROR) {
                o = stpcpy(o, "{!}");
            } else if (rc == SL_OK) {
                o += sprintf(o, "{%.*s", (int) ps.command.len, ps.command.data);
                for (sl_uint_t i = 0; i < ps.nparams; i++) {
                    o += sprintf(o, " %.*s=%.*s", (int) ps.params[i].key.len, ps.params[i].key.data,
                                 (int) ps.params[i].value.len, ps.params[i].value.data);
                }
                o = stpcpy(o, "}");
            }
        }
        fed += n;
    }
    *o = '\0';
    sl_pool_destroy(pool);
    return out;
}

static void check_all_steps(const char *doc, const char *want)
{
    for (size_t step = 0; step <= 7; step++) {
        assert_string_equal(transcript(doc, step, 256, 1), want);
    }
}

static void test_commands(void **state)
{
    check_all_steps("a<!--# include virtual=\"/x?y\" wait='yes' -->b",
                    "a{include virtual=/x?y wait=yes}b");
    check_all_steps("<!--#echo var=\"v\"-->", "{echo var=v}");
    check_all_steps("<!--#endif -->", "{endif}");
    check_all_steps("<!--#set var=\"q\" value=\"a\\\"b\\$c\" -->", "{set var=q value=a\"b\\$c}");
    check_all_steps("<!--#set  var = \"x\"\n value='1' -->.", "{set var=x value=1}.");
}

static void test_text_that_is_not_a_command(void **state)
{
    check_all_steps("<<!-- c --><!-x<!--<!--#if expr=\"1\" -->", "<<!-- c --><!-x<!--{if expr=1}");
    /* a "<!--" the document ends in stays held, never output: as nginx */
    check_all_steps("ends with <!--", "ends with ");
}

static void test_errors(void **state)
{
    assert_string_equal(transcript("a<!--#set var=\"0123456789\" -->b", 0, 4, 1), "a{!}b");
    check_all_steps("a<!--#set var=x -->b<!--#echo var=\"v\" -->", "a{!}b{echo var=v}");
    check_all_steps("a<!--#echo var=\"v\" -x -- -->b", "a{!}b");
}

static void test_no_copy(void **state)
{
    assert_string_equal(transcript("ab<!--#else -->cd", 0, 256, 0), "{else}");
    assert_string_equal(transcript("a<!--b", 1, 256, 0), "");
}

int main(void)
{
    sl_test_log_open(&test_log, &test_log_file, SL_LOG_INFO);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_text_that_is_not_a_command),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_no_copy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
