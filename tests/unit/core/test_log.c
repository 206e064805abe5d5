/*
 * test_log.c: error log lines in nginx's format, levels, chained destinations.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <regex.h>
#include <cmocka.h>

#include "sl_core.h"
#include "sl_log.h"
#include "sl_time.h"

/* A temp file as an error_log destination. */
typedef struct {
    char path[64];
    sl_open_file_t file;
} tmp_log_t;

static void tmp_open(tmp_log_t *t)
{
    strcpy(t->path, "/tmp/sluice-test-log-XXXXXX");
    int fd = mkstemp(t->path);
    assert_true(fd >= 0);
    /* Appending, as error logs are opened, so a truncated file is written from its start. */
    t->file.fd = open(t->path, O_RDWR | O_APPEND);
    close(fd);
    assert_true(t->file.fd >= 0);
    t->file.name.data = (u_char *) t->path;
    t->file.name.len = strlen(t->path);
}

static void tmp_close(tmp_log_t *t)
{
    if (t->file.fd >= 0) {
        close(t->file.fd);
    }
    unlink(t->path);
}

/* The whole file as a NUL-terminated string in buf. */
static const char *tmp_read(tmp_log_t *t, char *buf, size_t size)
{
    ssize_t n = pread(t->file.fd, buf, size - 1, 0);

    assert_true(n >= 0);
    buf[n] = '\0';
    return buf;
}

static int setup(void **state)
{
    (void) state;
    sl_pid = 4242;
    sl_tid = 0;
    /* Lines at warn and worse would also go to the test's stderr. */
    sl_use_stderr = 0;
    return 0;
}

static void test_line_format(void **state)
{
    (void) state;
    tmp_log_t t;
    tmp_open(&t);
    sl_log_t log = { .log_level = SL_LOG_ERR, .file = &t.file, .connection = 17 };
    char got[4096], want[512];

    log.action = "reading response header from upstream";
    sl_log_error(SL_LOG_ERR, &log, ENOENT, "open() \"%s\" failed", "/srv/x");
    snprintf(want, sizeof(want),
             "%s [error] 4242#0: *17 open() \"/srv/x\" failed (2: No such file or directory)"
             " while reading response header from upstream\n",
             (const char *) sl_cached_err_log_time());
    assert_string_equal(tmp_read(&t, got, sizeof(got)), want);

    /* The date is "YYYY/MM/DD HH:MM:SS". */
    regex_t re;
    assert_int_equal(regcomp(&re,
                             "^[0-9]{4}/[0-1][0-9]/[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9] "
                             "\\[error\\] 4242#0: \\*17 open",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    assert_int_equal(regexec(&re, got, 0, NULL, 0), 0);
    regfree(&re);

    /* No connection, no errno, no action: none of their parts. */
    assert_int_equal(ftruncate(t.file.fd, 0), 0);
    log.connection = 0;
    log.action = NULL;
    sl_log_error(SL_LOG_EMERG, &log, 0, "unknown directive \"%s\"", "foo");
    snprintf(want, sizeof(want), "%s [emerg] 4242#0: unknown directive \"foo\"\n",
             (const char *) sl_cached_err_log_time());
    assert_string_equal(tmp_read(&t, got, sizeof(got)), want);
    tmp_close(&t);
}

static void test_level_filter(void **state)
{
    (void) state;
    tmp_log_t t;
    tmp_open(&t);
    sl_log_t log = { .log_level = SL_LOG_WARN, .file = &t.file };
    char got[4096];

    sl_log_error(SL_LOG_INFO, &log, 0, "info line");
    sl_log_error(SL_LOG_NOTICE, &log, 0, "notice line");
    sl_log_error_core(SL_LOG_NOTICE, &log, 0, "notice via core");
    sl_log_error(SL_LOG_WARN, &log, 0, "warn line");
    sl_log_error(SL_LOG_CRIT, &log, 0, "crit line");
    tmp_read(&t, got, sizeof(got));
    assert_null(strstr(got, "info line"));
    assert_null(strstr(got, "notice"));
    assert_non_null(strstr(got, "[warn] 4242#0: warn line\n"));
    assert_non_null(strstr(got, "[crit] 4242#0: crit line\n"));
    /* Two lines, in order. */
    assert_true(strstr(got, "warn line") < strstr(got, "crit line"));
    int lines = 0;
    for (const char *c = got; *c; c++) {
        lines += *c == '\n';
    }
    assert_int_equal(lines, 2);
    tmp_close(&t);
}

/* error_log a error; error_log b info;  (and the reverse order) */
static void test_chained_levels(void **state)
{
    (void) state;
    tmp_log_t a, b;
    tmp_open(&a);
    tmp_open(&b);
    sl_log_t second = { .log_level = SL_LOG_INFO, .file = &b.file };
    sl_log_t first = { .log_level = SL_LOG_ERR, .file = &a.file, .next = &second };
    char got_a[4096], got_b[4096];

    sl_log_error(SL_LOG_ERR, &first, 0, "both get this");
    sl_log_error(SL_LOG_INFO, &first, 0, "only b gets this");
    sl_log_error(SL_LOG_DEBUG, &first, 0, "nobody gets this");
    tmp_read(&a, got_a, sizeof(got_a));
    tmp_read(&b, got_b, sizeof(got_b));
    assert_non_null(strstr(got_a, "[error] 4242#0: both get this\n"));
    assert_non_null(strstr(got_b, "[error] 4242#0: both get this\n"));
    assert_null(strstr(got_a, "only b"));
    assert_non_null(strstr(got_b, "[info] 4242#0: only b gets this\n"));
    assert_null(strstr(got_a, "nobody"));
    assert_null(strstr(got_b, "nobody"));

    /* The verbose one first. */
    assert_int_equal(ftruncate(a.file.fd, 0), 0);
    assert_int_equal(ftruncate(b.file.fd, 0), 0);
    sl_log_t warn = { .log_level = SL_LOG_WARN, .file = &b.file };
    sl_log_t debug = { .log_level = SL_LOG_DEBUG, .file = &a.file, .next = &warn };
    sl_log_error(SL_LOG_NOTICE, &debug, 0, "notice");
    sl_log_error(SL_LOG_ALERT, &debug, 0, "alert");
    tmp_read(&a, got_a, sizeof(got_a));
    tmp_read(&b, got_b, sizeof(got_b));
    assert_non_null(strstr(got_a, "[notice] 4242#0: notice\n"));
    assert_non_null(strstr(got_a, "[alert] 4242#0: alert\n"));
    assert_null(strstr(got_b, "notice"));
    assert_non_null(strstr(got_b, "[alert] 4242#0: alert\n"));
    tmp_close(&a);
    tmp_close(&b);
}

/* A context handler appends ", client: ..., server: ..." after the action. */
static u_char *context_handler(sl_log_t *log, u_char *buf, size_t len)
{
    int n = snprintf((char *) buf, len, ", client: %s, server: %s", (const char *) log->data,
                     "example.com");

    return buf + sl_min((size_t) n, len);
}

static void test_handler_context(void **state)
{
    (void) state;
    tmp_log_t t;
    tmp_open(&t);
    sl_log_t log = {
        .log_level = SL_LOG_ERR,
        .file = &t.file,
        .connection = 3,
        .action = "connecting to upstream",
        .handler = context_handler,
        .data = "127.0.0.1",
    };
    char got[4096];

    sl_log_error(SL_LOG_ERR, &log, ECONNREFUSED, "connect() failed");
    tmp_read(&t, got, sizeof(got));
    assert_non_null(strstr(got, "[error] 4242#0: *3 connect() failed (111: Connection refused)"
                                " while connecting to upstream, client: 127.0.0.1, server: "
                                "example.com\n"));
    tmp_close(&t);
}

/* A message longer than a line is cut, and the line still ends with its newline. */
static void test_long_message(void **state)
{
    (void) state;
    tmp_log_t t;
    tmp_open(&t);
    sl_log_t log = { .log_level = SL_LOG_ERR, .file = &t.file, .action = "testing" };
    static char big[5000];
    static char got[8192];

    memset(big, 'x', sizeof(big) - 1);
    sl_log_error(SL_LOG_ERR, &log, EACCES, "%s", big);
    tmp_read(&t, got, sizeof(got));
    size_t len = strlen(got);
    assert_true(len <= SL_MAX_ERROR_STR);
    assert_true(len > SL_MAX_ERROR_STR - 64);
    assert_int_equal(got[len - 1], '\n');
    assert_ptr_equal(strchr(got, '\n'), got + len - 1);
    tmp_close(&t);
}

static void test_level_names(void **state)
{
    (void) state;
    const char *names[] = { "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug" };
    sl_int_t levels[] = { SL_LOG_EMERG, SL_LOG_ALERT,  SL_LOG_CRIT, SL_LOG_ERR,
                          SL_LOG_WARN,  SL_LOG_NOTICE, SL_LOG_INFO, SL_LOG_DEBUG };

    for (size_t i = 0; i < sl_nelems(names); i++) {
        sl_str_t s = { strlen(names[i]), (u_char *) names[i] };

        assert_int_equal(sl_log_level_by_name(&s), levels[i]);
        assert_string_equal(sl_log_level_name((sl_uint_t) levels[i]), names[i]);
    }
    /* nginx compares level names exactly. */
    const char *bad[] = { "ERROR", "Error", "err", "errors", "stderr", "", "warning", "crit " };
    for (size_t i = 0; i < sl_nelems(bad); i++) {
        sl_str_t s = { strlen(bad[i]), (u_char *) bad[i] };

        assert_int_equal(sl_log_level_by_name(&s), SL_ERROR);
    }
    assert_string_equal(sl_log_level_name(99), "unknown");
}

static void test_errno_suffix(void **state)
{
    (void) state;
    u_char buf[64];
    u_char *end = sl_log_errno(buf, buf + sizeof(buf), EAGAIN);

    *end = '\0';
    assert_string_equal((char *) buf, " (11: Resource temporarily unavailable)");
    /* No room: nothing written past the end. */
    u_char small[8];
    memset(small, '#', sizeof(small));
    end = sl_log_errno(small, small + 6, ENOENT);
    assert_true(end <= small + 6);
    assert_int_equal(small[6], '#');
    assert_int_equal(small[7], '#');
    assert_ptr_equal(sl_log_errno(small, small, ENOENT), small);
}

/* With sl_use_stderr (start-up), warn and worse are repeated on stderr, shorter. */
static void test_startup_stderr(void **state)
{
    (void) state;
    tmp_log_t file, err;
    tmp_open(&file);
    tmp_open(&err);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(err.file.fd, STDERR_FILENO) >= 0);
    sl_log_t log = { .log_level = SL_LOG_INFO, .file = &file.file };
    char got[4096];

    sl_use_stderr = 1;
    sl_log_error(SL_LOG_WARN, &log, 0, "low address space");
    sl_log_error(SL_LOG_NOTICE, &log, 0, "just a notice");
    sl_use_stderr = 0;
    sl_log_error(SL_LOG_EMERG, &log, 0, "after start-up");
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);

    assert_string_equal(tmp_read(&err, got, sizeof(got)), "sluice: [warn] low address space\n");
    tmp_read(&file, got, sizeof(got));
    assert_non_null(strstr(got, "[warn] 4242#0: low address space\n"));
    assert_non_null(strstr(got, "[notice] 4242#0: just a notice\n"));
    assert_non_null(strstr(got, "[emerg] 4242#0: after start-up\n"));
    tmp_close(&file);
    tmp_close(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_line_format, setup),
        cmocka_unit_test_setup(test_level_filter, setup),
        cmocka_unit_test_setup(test_chained_levels, setup),
        cmocka_unit_test_setup(test_handler_context, setup),
        cmocka_unit_test_setup(test_long_message, setup),
        cmocka_unit_test_setup(test_level_names, setup),
        cmocka_unit_test_setup(test_errno_suffix, setup),
        cmocka_unit_test_setup(test_startup_stderr, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
