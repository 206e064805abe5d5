/*
 * test_proxy_conf.c: the event pipe's sizes and the temp paths as the proxy module reads
 * them (the real modules, as "sluice -t" does).  Every expected message and every accepted
 * configuration was checked against nginx 1.22.1 (/usr/sbin/nginx -t on the same http
 * block); "@" stands for the test's directory, the http block's first line is line 3.
 */
#include <pwd.h>

#include "http/upstream/upstream_test.h"
#include "sl_http.h"
#include "sl_path.h"
#include "sl_upstream.h"

typedef struct {
    const char *http;
    /** the error line expected, or NULL for a configuration nginx accepts */
    const char *error;
} conf_case_t;

#define LOC(body) "server { listen 127.0.0.1:1; location / { " body " } }"
#define MUST_BE(name)                                                                              \
    "[emerg] \"" name "\" must be equal to or greater than the maximum of the value of "           \
    "\"proxy_buffer_size\" and one of the \"proxy_buffers\" in @/sluice.conf:"

static const conf_case_t cases[] = {
    /* the defaults are computed per level, from that level's buffers */
    { LOC("proxy_buffers 4 32k;"), NULL },
    { LOC("proxy_buffer_size 16k; proxy_buffers 8 16k;"), NULL },
    { LOC("proxy_buffers 8 16k; proxy_busy_buffers_size 32k;"), NULL },
    { LOC("proxy_buffers 8 16k; proxy_max_temp_file_size 0;"), NULL },
    { "proxy_buffers 8 16k; " LOC("proxy_buffers 4 4k;"), NULL },
    /* what is configured is checked against the buffers where it applies */
    { "server { listen 127.0.0.1:1; location / { proxy_buffers 8 16k;\n"
      "proxy_temp_file_write_size 8k; } }",
      MUST_BE("proxy_temp_file_write_size") "5" },
    { "proxy_temp_file_write_size 8k;\n" LOC("proxy_buffers 8 16k;"),
      MUST_BE("proxy_temp_file_write_size") "5" },
    { "proxy_busy_buffers_size 8k; " LOC("proxy_buffers 8 16k;"),
      MUST_BE("proxy_busy_buffers_size") "4" },
    { "server { listen 127.0.0.1:1; location / { proxy_buffers 8 16k;\n"
      "proxy_max_temp_file_size 8k; } }",
      "[emerg] \"proxy_max_temp_file_size\" must be equal to zero to disable temporary files "
      "usage or must be equal to or greater than the maximum of the value of "
      "\"proxy_buffer_size\" and one of the \"proxy_buffers\" in @/sluice.conf:5" },
    { LOC("proxy_buffer_size 64k; proxy_buffers 8 16k;"),
      "[emerg] \"proxy_busy_buffers_size\" must be less than the size of all "
      "\"proxy_buffers\" minus one buffer in @/sluice.conf:4" },
    { LOC("proxy_buffers 4 16k; proxy_busy_buffers_size 64k;"),
      "[emerg] \"proxy_busy_buffers_size\" must be less than the size of all "
      "\"proxy_buffers\" minus one buffer in @/sluice.conf:4" },

    /* temp paths: levels of 1 to 10 characters in all, one name one set of levels */
    { "proxy_temp_path t 1 2; client_body_temp_path b 2 2 2;", NULL },
    { "proxy_temp_path t/ 1; client_body_temp_path t 1; " LOC(""), NULL },
    { "proxy_temp_path t 4 4 2;", NULL },
    { "proxy_temp_path t 0;", "[emerg] \"proxy_temp_path\" directive invalid value in "
                              "@/sluice.conf:3" },
    { "proxy_temp_path t 5 5 1;", "[emerg] \"proxy_temp_path\" directive invalid value in "
                                  "@/sluice.conf:3" },
    { "client_body_temp_path t x;", "[emerg] \"client_body_temp_path\" directive invalid "
                                    "value in @/sluice.conf:3" },
    { "proxy_temp_path t 1 2 3 4;",
      "[emerg] invalid number of arguments in \"proxy_temp_path\" directive in @/sluice.conf:3" },
    { "proxy_temp_path x; proxy_temp_path y;",
      "[emerg] \"proxy_temp_path\" directive is duplicate in @/sluice.conf:3" },
    { "proxy_temp_path t 1;\nserver { listen 127.0.0.1:1; location / { proxy_temp_path t 2; } }",
      "[emerg] the same path name \"@/t\" in @/sluice.conf:3 has the different levels than in "
      "@/sluice.conf:4" },
    { "client_body_temp_path proxy_temp 1; server { listen 127.0.0.1:1; }",
      "[emerg] the path name \"@/proxy_temp\" in @/sluice.conf:3 has the same name as default "
      "path, but the different levels, you need to define default path in http section" },
};

static void test_messages(void **state)
{
    (void) state;
    for (size_t i = 0; i < sl_nelems(cases); i++) {
        clear_log();
        sl_cycle_t *c = load_http(cases[i].http);
        if (cases[i].error == NULL) {
            if (c == NULL) {
                fail_msg("case %zu refused: %s\n%s", i, cases[i].http, log_text());
            }
            continue;
        }
        if (c != NULL || strstr(log_text(), cases[i].error) == NULL) {
            fail_msg("case %zu: %s\nwanted: %s\ngot: %s", i, cases[i].http, cases[i].error,
                     log_text());
        }
    }
}

/* The proxy module's conf of the first location of the first server (its conf struct
 * starts with the sl_upstream_conf_t). */
static sl_upstream_conf_t *first_location(void)
{
    extern sl_module_t sl_http_proxy_module;
    sl_http_conf_ctx_t *ctx = sl_http_cycle_ctx(cycle);
    sl_http_core_main_conf_t *cmcf = ctx->main_conf[sl_http_core_module.ctx_index];
    sl_http_core_srv_conf_t **servers = cmcf->servers.elts;
    sl_http_core_loc_conf_t *srv = servers[0]->ctx->loc_conf[sl_http_core_module.ctx_index];
    sl_http_core_loc_conf_t **locs = srv->locations->elts;

    return locs[0]->loc_conf[sl_http_proxy_module.ctx_index];
}

/* The sizes a location gets: twice the larger of proxy_buffer_size and one buffer, unless
 * set here or above; max_temp_file_size 1024m. */
static void test_computed_sizes(void **state)
{
    (void) state;
    assert_non_null(load_http("proxy_buffers 4 4k;\n" LOC("proxy_buffers 8 16k;")));
    sl_upstream_conf_t *u = first_location();
    assert_int_equal(u->busy_buffers_size, 32768);
    assert_int_equal(u->temp_file_write_size, 32768);
    assert_int_equal(u->max_temp_file_size, 1024LL * 1024 * 1024);

    assert_non_null(load_http(LOC("proxy_buffer_size 32k; proxy_buffers 8 16k;")));
    u = first_location();
    assert_int_equal(u->busy_buffers_size, 65536);
    assert_int_equal(u->temp_file_write_size, 65536);

    assert_non_null(load_http("proxy_temp_file_write_size 48k; proxy_max_temp_file_size 1m;\n" LOC(
        "proxy_buffers 8 16k; proxy_busy_buffers_size 40k;")));
    u = first_location();
    assert_int_equal(u->busy_buffers_size, 40960);
    assert_int_equal(u->temp_file_write_size, 49152);
    assert_int_equal(u->max_temp_file_size, 1048576);
}

static int dir_mode(const char *path, uid_t *uid)
{
    struct stat st;

    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return -1;
    }
    *uid = st.st_uid;
    return (int) (st.st_mode & 07777);
}

/* Every temp path is registered once and made at start: 0700, given to the workers' user. */
static void test_create_paths(void **state)
{
    char body[160], proxy[160];
    uid_t uid;

    (void) state;
    snprintf(body, sizeof(body), "%s/body", test_dir);
    snprintf(proxy, sizeof(proxy), "%s/proxy_temp", test_dir);
    assert_non_null(load_http("client_body_temp_path body 1 2;\n" LOC("")));
    assert_int_equal(cycle->paths.nelts, 2);
    assert_int_equal(sl_create_paths(cycle, (uid_t) -1), SL_OK);
    assert_int_equal(dir_mode(body, &uid), 0700);
    assert_int_equal(dir_mode(proxy, &uid), 0700);
    /* an existing directory is kept, and made usable by its user */
    assert_int_equal(chmod(proxy, 0500), 0);
    struct passwd *pw = getpwnam("nobody");
    uid_t user = geteuid() == 0 && pw ? pw->pw_uid : geteuid();
    assert_int_equal(sl_create_paths(cycle, user), SL_OK);
    assert_int_equal(dir_mode(proxy, &uid), 0700);
    assert_int_equal(uid, user);
    assert_int_equal(dir_mode(body, &uid), 0700);
    assert_int_equal(uid, user);
    rmdir(body);
    rmdir(proxy);

    /* only the last component is made, as nginx: a missing parent fails the start */
    clear_log();
    assert_non_null(load_http("proxy_temp_path no/such;\n" LOC("")));
    assert_int_equal(sl_create_paths(cycle, (uid_t) -1), SL_ERROR);
    assert_logged("[emerg] mkdir() \"@/no/such\" failed (2: No such file or directory)");
    snprintf(body, sizeof(body), "%s/client_body_temp", test_dir);
    rmdir(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_messages, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_computed_sizes, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_create_paths, group_setup, group_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
