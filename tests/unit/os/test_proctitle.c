/*
 * test_proctitle.c: the title goes over the arguments' and the environment's memory, whose
 * contents live on in copies: argv's for whoever reads the arguments later, environ's for
 * getenv().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>

#include "sl_proctitle.h"

extern char **environ;

static void test_title_over_args_and_env(void **state)
{
    /* argv and environ laid out as the kernel does: one run of strings */
    static char mem[] = "/usr/sbin/sluice\0-c\0conf/a.conf\0HOME=/root\0LANG=C";
    char *argv[] = { mem, mem + 17, mem + 20, NULL };
    char *env[] = { mem + 32, mem + 43, NULL };

    (void) state;
    environ = env;
    char **copy = sl_init_setproctitle(argv);
    assert_non_null(copy);
    assert_string_equal(copy[0], "/usr/sbin/sluice");
    assert_string_equal(copy[2], "conf/a.conf");
    assert_null(copy[3]);
    assert_string_equal(sl_proctitle_cmdline(), "/usr/sbin/sluice -c conf/a.conf");
    /* the environment moved: getenv still answers */
    assert_true(environ != env);
    assert_string_equal(getenv("HOME"), "/root");

    sl_setproctitle("worker process");
    assert_string_equal(mem, "sluice: worker process");
    for (size_t i = strlen(mem); i < sizeof(mem) - 1; i++) {
        assert_int_equal(mem[i], 0);
    }
    /* longer than the room: cut, still ended */
    sl_setproctitle("master process with a command line much longer than the memory there is");
    assert_int_equal(strlen(mem), sizeof(mem) - 1);
    assert_memory_equal(mem, "sluice: master process", 22);
    assert_string_equal(copy[1], "-c");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_title_over_args_and_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
