/*
 * test_file.c: temp files.  An anonymous temp file given a name under a path's hashed
 * levels (client_body_in_file_only, $request_body_file): where the name goes, that the
 * level directories are made, that the name holds what was written, and that two files
 * never get one name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sl_file.h"
#include "sl_test_log.h"

static sl_log_t test_log;
static sl_open_file_t log_file;
static char dir[] = "/tmp/sl-test-file-XXXXXX";

static sl_path_t make_path(size_t l1, size_t l2)
{
    sl_path_t path;

    memset(&path, 0, sizeof(path));
    path.name.data = (u_char *) dir;
    path.name.len = strlen(dir);
    path.level[0] = l1;
    path.level[1] = l2;
    return path;
}

/* dir/D/DD/NNNNNNNNNN with D and DD the last digits of the name, from its end. */
static void check_levels(const sl_str_t *name, size_t l1, size_t l2)
{
    const char *rest = (const char *) name->data + strlen(dir);
    const char *base = strrchr(rest, '/') + 1;

    assert_int_equal(strlen(base), 10);
    char want[64];
    if (l1 && l2) {
        snprintf(want, sizeof(want), "/%.*s/%.*s/%s", (int) l1, base + 10 - l1, (int) l2,
                 base + 10 - l1 - l2, base);
    } else if (l1) {
        snprintf(want, sizeof(want), "/%.*s/%s", (int) l1, base + 10 - l1, base);
    } else {
        snprintf(want, sizeof(want), "/%s", base);
    }
    assert_string_equal(rest, want);
}

static void name_one(size_t l1, size_t l2, sl_pool_t *pool, sl_str_t *name)
{
    sl_path_t path = make_path(l1, l2);
    sl_str_t d = path.name;
    int fd = sl_open_tempfile(&d, &test_log);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, "body", 4), 4);
    assert_int_equal(sl_name_tempfile(fd, &path, pool, name, &test_log), SL_OK);
    check_levels(name, l1, l2);

    char got[8] = { 0 };
    FILE *f = fopen((char *) name->data, "r");
    assert_non_null(f);
    assert_int_equal(fread(got, 1, sizeof(got), f), 4);
    fclose(f);
    assert_string_equal(got, "body");
    sl_close_file(fd);
}

static void test_named_under_levels(void **state)
{
    (void) state;
    sl_pool_t *pool = sl_pool_create(SL_POOL_DEFAULT_SIZE, &test_log);
    sl_str_t a, b, c;

    name_one(1, 2, pool, &a);
    name_one(1, 2, pool, &b);
    name_one(0, 0, pool, &c);
    assert_string_not_equal(a.data, b.data);
    assert_int_equal(unlink((char *) a.data), 0);
    assert_int_equal(unlink((char *) b.data), 0);
    assert_int_equal(unlink((char *) c.data), 0);
    sl_pool_destroy(pool);
}

/* A file that has a name already was not opened anonymously: it cannot get another. */
static void test_refused_for_a_named_file(void **state)
{
    (void) state;
    sl_pool_t *pool = sl_pool_create(SL_POOL_DEFAULT_SIZE, &test_log);
    sl_path_t path = make_path(1, 0);
    char plain[64];
    sl_str_t name;

    snprintf(plain, sizeof(plain), "%s/plain", dir);
    int fd = open(plain, O_CREAT | O_RDWR, 0600);
    assert_true(fd >= 0);
    unlink(plain);
    assert_int_equal(sl_name_tempfile(fd, &path, pool, &name, &test_log), SL_ERROR);
    assert_non_null(strstr(sl_test_log_text(&log_file), "linkat()"));
    sl_close_file(fd);
    sl_pool_destroy(pool);
}

static int remove_tree(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_named_under_levels),
        cmocka_unit_test(test_refused_for_a_named_file),
    };

    sl_test_log_open(&test_log, &log_file, SL_LOG_INFO);
    if (mkdtemp(dir) == NULL) {
        return 1;
    }
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    remove_tree();
    return rc;
}
