/*
 * test_shm.c: anonymous shared mappings: zero-filled, shared with a forked child, unmapped;
 * and nginx's wording when mmap or munmap fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "sl_pool.h"
#include "sl_shm.h"
#include "sl_test_log.h"

static void test_shared_with_child(void **state)
{
    (void) state;
    sl_log_t log;
    sl_open_file_t file;
    sl_shm_t shm = { .size = 3 * sl_pagesize() + 100 };

    sl_test_log_open(&log, &file, SL_LOG_DEBUG);
    shm.log = &log;
    sl_str_set(&shm.name, "test");
    assert_int_equal(sl_shm_alloc(&shm), SL_OK);
    assert_non_null(shm.addr);
    assert_int_equal((uintptr_t) shm.addr % sl_pagesize(), 0);
    for (size_t i = 0; i < shm.size; i++) {
        assert_int_equal(shm.addr[i], 0);
    }

    /* What the child writes after the fork, the parent sees. */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        memset(shm.addr, 'c', shm.size);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(shm.addr[0], 'c');
    assert_int_equal(shm.addr[shm.size - 1], 'c');

    sl_shm_free(&shm);
    assert_null(shm.addr);
    /* A second free is a no-op. */
    sl_shm_free(&shm);
    assert_string_equal(sl_test_log_text(&file), "");
    close(file.fd);
}

static void test_errors(void **state)
{
    (void) state;
    sl_log_t log;
    sl_open_file_t file;
    sl_shm_t shm = { .size = 0 };

    sl_test_log_open(&log, &file, SL_LOG_ERR);
    shm.log = &log;
    sl_str_set(&shm.name, "test");

    /* A zero-sized mapping is refused by the kernel (EINVAL). */
    assert_int_equal(sl_shm_alloc(&shm), SL_ERROR);
    assert_null(shm.addr);
    assert_non_null(strstr(sl_test_log_text(&file), "[alert]"));
    assert_non_null(strstr(sl_test_log_text(&file), "mmap(MAP_ANON|MAP_SHARED, 0) failed"));

    /* munmap of an address that is not page-aligned fails (EINVAL): logged, addr cleared. */
    shm.size = sl_pagesize();
    assert_int_equal(sl_shm_alloc(&shm), SL_OK);
    u_char *real = shm.addr;
    char want[64];
    shm.addr = real + 1;
    snprintf(want, sizeof(want), "munmap(%p, %zu) failed", (void *) (real + 1), shm.size);
    sl_shm_free(&shm);
    assert_null(shm.addr);
    assert_non_null(strstr(sl_test_log_text(&file), want));
    shm.addr = real;
    sl_shm_free(&shm);
    close(file.fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_with_child),
        cmocka_unit_test(test_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
