/*
 * test_upstream_conf.c: the "upstream" block, its "server" lines and the balancing
 * directives, read by the real modules (as "sluice -t" does).  Every expected message was
 * checked against nginx 1.22.1 (/usr/sbin/nginx -t on the same http block); "@" stands for
 * the test's directory, and the http block's first line is line 3.
 */
#include "upstream_test.h"

typedef struct {
    const char *http;
    /** the error line expected, or NULL for a configuration nginx accepts */
    const char *error;
} conf_case_t;

static const conf_case_t cases[] = {
    /* the block */
    { "upstream a { server 127.0.0.1:1; }\nupstream a { server 127.0.0.1:2; }",
      "[emerg] duplicate upstream \"a\" in @/sluice.conf:4" },
    { "upstream a { server 127.0.0.1:1; } upstream A { server 127.0.0.1:1; }",
      "[emerg] duplicate upstream \"A\" in @/sluice.conf:3" },
    { "upstream a {\n}", "[emerg] no servers are inside upstream in @/sluice.conf:4" },
    { "upstream a { server 127.0.0.1:1 backup; }",
      "[emerg] no servers in upstream \"a\" in @/sluice.conf:3" },
    { "upstream a\n{\nserver 127.0.0.1:1 backup; }",
      "[emerg] no servers in upstream \"a\" in @/sluice.conf:4" },
    { "upstream { server 127.0.0.1:1; }",
      "[emerg] invalid number of arguments in \"upstream\" directive in @/sluice.conf:3" },
    { "upstream a b { server 127.0.0.1:1; }",
      "[emerg] invalid number of arguments in \"upstream\" directive in @/sluice.conf:3" },
    { "server { upstream a { server 127.0.0.1:1; } }",
      "[emerg] \"upstream\" directive is not allowed here in @/sluice.conf:3" },
    { "upstream a { server 127.0.0.1:1; upstream b {} }",
      "[emerg] \"upstream\" directive is not allowed here in @/sluice.conf:3" },
    { "upstream a { server 127.0.0.1:1; location / {} }",
      "[emerg] \"location\" directive is not allowed here in @/sluice.conf:3" },
    { "upstream a { server 127.0.0.1:1; proxy_pass http://x; }",
      "[emerg] \"proxy_pass\" directive is not allowed here in @/sluice.conf:3" },
    { "upstream a { server 127.0.0.1:1 }", "[emerg] unexpected \"}\" in @/sluice.conf:3" },
    { "server 127.0.0.1;", "[emerg] directive \"server\" has no opening \"{\" in @/sluice.conf:3" },
    { "upstream a:80 { server 127.0.0.1:1; }", NULL },
    { "upstream a { server 127.0.0.1:1; include inc.conf; }", NULL },

    /* server parameters */
    { "upstream a { server 127.0.0.1:1 weight=2 weight=3 max_fails=0 fail_timeout=0"
      " max_conns=0 down; server 127.0.0.1:2 fail_timeout=1h backup; }",
      NULL },
    { "upstream a { server 127.0.0.1:1 weight=0; }",
      "[emerg] invalid parameter \"weight=0\" in @/sluice.conf:3" },
    { "upstream a { server 127.0.0.1:1 weight=-1; }",
      "[emerg] invalid parameter \"weight=-1\" in @/sluice.conf:3" },
    { "upstream a { server 127.0.0.1:1 weight=1x; }",
      "[emerg] invalid parameter \"weight=1x\" in @/sluice.conf:3" },
    { "upstream a { server 127.0.0.1 weight=99999999999999999999; }",
      "[emerg] invalid parameter \"weight=99999999999999999999\" in @/sluice.conf:3" },
    { "upstream a { server 127.0.0.1:1 Weight=2; }",
      "[emerg] invalid parameter \"Weight=2\" in @/sluice.conf:3" },
    { "upstream a { server 127.0.0.1:1 max_fails=abc; }",
      "[emerg] invalid parameter \"max_fails=abc\" in @/sluice.conf:3" },
    { "upstream a { server 127.0.0.1:1 max_fails=; }",
      "[emerg] invalid parameter \"max_fails=\" in @/sluice.conf:3" },
    { "upstream a { server 127.0.0.1:1 max_conns=-1; }",
      "[emerg] invalid parameter \"max_conns=-1\" in @/sluice.conf:3" },
    { "upstream a { server 127.0.0.1:1 fail_timeout=abc; }",
      "[emerg] invalid parameter \"fail_timeout=abc\" in @/sluice.conf:3" },
    { "upstream a { server 127.0.0.1:1 fail_timeout=500ms; }",
      "[emerg] invalid parameter \"fail_timeout=500ms\" in @/sluice.conf:3" },
    { "upstream a { server 127.0.0.1:1 BACKUP; }",
      "[emerg] invalid parameter \"BACKUP\" in @/sluice.conf:3" },
    { "upstream a { server 127.0.0.1:1 down=1; }",
      "[emerg] invalid parameter \"down=1\" in @/sluice.conf:3" },
    { "upstream a { server 127.0.0.1:1 foo weight=0; }",
      "[emerg] invalid parameter \"foo\" in @/sluice.conf:3" },
    { "upstream a { server bad.invalid weight=0; }",
      "[emerg] invalid parameter \"weight=0\" in @/sluice.conf:3" },
    { "upstream a { server; }",
      "[emerg] invalid number of arguments in \"server\" directive in @/sluice.conf:3" },

    /* server addresses */
    { "upstream a { server localhost; server [::1]:80; server unix:/tmp/x:/y; }", NULL },
    { "upstream a { server nosuchhost.invalid:1; }",
      "[emerg] host not found in upstream \"nosuchhost.invalid:1\" in @/sluice.conf:3" },
    { "upstream a { server 127.0.0.1:0; }",
      "[emerg] invalid port in upstream \"127.0.0.1:0\" in @/sluice.conf:3" },
    { "upstream a { server 127.0.0.1:99999; }",
      "[emerg] invalid port in upstream \"127.0.0.1:99999\" in @/sluice.conf:3" },
    { "upstream a { server 127.0.0.1:80x; }",
      "[emerg] invalid port in upstream \"127.0.0.1:80x\" in @/sluice.conf:3" },
    { "upstream a { server 127.0.0.1:; }",
      "[emerg] invalid port in upstream \"127.0.0.1:\" in @/sluice.conf:3" },
    { "upstream a { server :80; }", "[emerg] no host in upstream \":80\" in @/sluice.conf:3" },
    { "upstream a { server [::1; }",
      "[emerg] invalid host in upstream \"[::1\" in @/sluice.conf:3" },
    { "upstream a { server http://127.0.0.1; }",
      "[emerg] invalid host in upstream \"http://127.0.0.1\" in @/sluice.conf:3" },
    { "upstream a { server 127.0.0.1/x; }",
      "[emerg] invalid host in upstream \"127.0.0.1/x\" in @/sluice.conf:3" },
    { "upstream a { server 127.0.0.1:99999/x; }",
      "[emerg] invalid host in upstream \"127.0.0.1:99999/x\" in @/sluice.conf:3" },
    { "upstream a { server 127.0.0.1:1?x; }",
      "[emerg] invalid host in upstream \"127.0.0.1:1?x\" in @/sluice.conf:3" },
    { "upstream a { server unix:; }",
      "[emerg] no path in the unix domain socket in upstream \"unix:\" in @/sluice.conf:3" },

    /* balancing methods and the parameters they take */
    { "upstream a { hash $arg_k; server 127.0.0.1:1 backup; }",
      "[emerg] balancing method does not support parameter \"backup\" in @/sluice.conf:3" },
    { "upstream a { ip_hash; server 127.0.0.1:1 backup; }",
      "[emerg] balancing method does not support parameter \"backup\" in @/sluice.conf:3" },
    { "upstream a { random; server 127.0.0.1:1 backup; }",
      "[emerg] balancing method does not support parameter \"backup\" in @/sluice.conf:3" },
    { "upstream a { server 127.0.0.1:1 backup; hash $arg_k; }",
      "[emerg] no servers in upstream \"a\" in @/sluice.conf:3" },
    { "upstream a { least_conn; server 127.0.0.1:1 backup; }",
      "[emerg] no servers in upstream \"a\" in @/sluice.conf:3" },
    { "upstream a { server 127.0.0.1:2; server 127.0.0.1:1 backup; hash $arg_k; }", NULL },
    { "upstream a { server 127.0.0.1:2; server 127.0.0.1:1 backup; ip_hash; }", NULL },
    { "upstream a { server 127.0.0.1:2; least_conn; server 127.0.0.1:1 backup; }", NULL },
    { "upstream a { ip_hash; server 127.0.0.1:1 weight=3 max_fails=0 fail_timeout=1m"
      " max_conns=3 down; }",
      NULL },
    { "upstream a { hash $arg_x; server 127.0.0.1:1 weight=3 max_conns=2 max_fails=0"
      " fail_timeout=1m down; }",
      NULL },
    { "upstream a { random two least_conn; server 127.0.0.1:1 weight=3 max_conns=2"
      " max_fails=0 fail_timeout=1m down; }",
      NULL },
    { "upstream a { random two foo; server 127.0.0.1:1; }",
      "[emerg] invalid parameter \"foo\" in @/sluice.conf:3" },
    { "upstream a { random three; server 127.0.0.1:1; }",
      "[emerg] invalid parameter \"three\" in @/sluice.conf:3" },
    { "upstream a { random least_conn; server 127.0.0.1:1; }",
      "[emerg] invalid parameter \"least_conn\" in @/sluice.conf:3" },
    { "upstream a { random two least_conn x; server 127.0.0.1:1; }",
      "[emerg] invalid number of arguments in \"random\" directive in @/sluice.conf:3" },
    { "upstream a { hash $x foo; server 127.0.0.1:1; }",
      "[emerg] invalid parameter \"foo\" in @/sluice.conf:3" },
    { "upstream a { hash; server 127.0.0.1:1; }",
      "[emerg] invalid number of arguments in \"hash\" directive in @/sluice.conf:3" },
    { "upstream a { ip_hash x; server 127.0.0.1:1; }",
      "[emerg] invalid number of arguments in \"ip_hash\" directive in @/sluice.conf:3" },
    { "upstream a { least_conn x; server 127.0.0.1:1; }",
      "[emerg] invalid number of arguments in \"least_conn\" directive in @/sluice.conf:3" },
    { "upstream a { hash ${x; server 127.0.0.1:1; }",
      "[emerg] the closing bracket in \"x\" variable is missing in @/sluice.conf:3" },
    { "upstream a { hash $nonexist; server 127.0.0.1:1; }",
      "[emerg] unknown \"nonexist\" variable" },
    { "least_conn;", "[emerg] \"least_conn\" directive is not allowed here in @/sluice.conf:3" },
};

static void test_messages(void **state)
{
    (void) state;
    write_file("inc.conf", "server 127.0.0.1:5 weight=2;\n");
    for (size_t i = 0; i < sl_nelems(cases); i++) {
        clear_log();
        sl_cycle_t *c = load_http(cases[i].http);
        if (cases[i].error == NULL) {
            if (c == NULL) {
                fail_msg("refused: %s\n%s", cases[i].http, log_text());
            }
            continue;
        }
        if (c != NULL || strstr(log_text(), cases[i].error) == NULL) {
            fail_msg("case %zu: %s\nwanted: %s\ngot: %s", i, cases[i].http, cases[i].error,
                     log_text());
        }
    }
}

/* A second balancing method wins, with nginx's warning; its server parameters apply from
 * then on. */
static void test_redefined(void **state)
{
    sl_str_t name = sl_string("a");

    (void) state;
    assert_non_null(load_http("upstream a { ip_hash; least_conn; server 127.0.0.1:1 backup;"
                              " server 127.0.0.1:2; }"));
    assert_logged("[warn] load balancing method redefined in @/sluice.conf:3");
    sl_upstream_group_t *g = sl_upstream_cycle_group(cycle, &name);
    assert_ptr_equal(g->balancer, &sl_upstream_least_conn);

    clear_log();
    assert_non_null(
        load_http("upstream a { hash $arg_x consistent; hash $arg_y; server 127.0.0.1:1; }"
                  " upstream b { random two; random; server 127.0.0.1:1; }"));
    assert_logged("[warn] load balancing method redefined in @/sluice.conf:3");
    g = sl_upstream_cycle_group(cycle, &name);
    assert_ptr_equal(g->balancer, &sl_upstream_hash);
    name = str("B");
    g = sl_upstream_cycle_group(cycle, &name);
    assert_ptr_equal(g->balancer, &sl_upstream_random);
}

/* What the block builds: servers with their parameters, peers, the names as written. */
static void test_built(void **state)
{
    sl_str_t name = sl_string("backend");

    (void) state;
    assert_non_null(load_http("upstream backend {\n"
                              "    server 127.0.0.1:8081 weight=3 max_fails=2 fail_timeout=30s;\n"
                              "    server unix:/run/app.sock max_conns=10 down;\n"
                              "    server 127.0.0.2 backup;\n"
                              "}"));
    sl_upstream_group_t *g = sl_upstream_cycle_group(cycle, &name);
    assert_non_null(g);
    assert_null(sl_upstream_cycle_group(cycle, &(sl_str_t) sl_string("other")));
    assert_null(g->balancer);
    assert_int_equal(g->line, 3);
    assert_int_equal(g->servers->nelts, 3);
    sl_upstream_peers_t *p = g->peers;
    assert_int_equal(p->number, 2);
    assert_int_equal(p->tries, 1);
    assert_int_equal(p->total_weight, 4);
    assert_false(p->single);
    assert_int_equal(p->peer[0].weight, 3);
    assert_int_equal(p->peer[0].max_fails, 2);
    assert_int_equal(p->peer[0].fail_timeout, 30);
    assert_int_equal(p->peer[1].max_conns, 10);
    assert_true(p->peer[1].down);
    assert_int_equal(p->peer[1].max_fails, 1);
    assert_int_equal(p->peer[1].fail_timeout, 10);
    assert_string_equal((const char *) p->addr[0].addr->name.data, "127.0.0.1:8081");
    assert_string_equal((const char *) p->addr[1].addr->name.data, "unix:/run/app.sock");
    assert_int_equal(p->addr[1].server.len, strlen("unix:/run/app.sock"));
    assert_non_null(p->next);
    assert_int_equal(p->next->number, 1);
    assert_string_equal((const char *) p->next->addr[0].addr->name.data, "127.0.0.2:80");
    assert_int_equal(p->next->addr[0].server.len, strlen("127.0.0.2"));
}

/* "proxy_pass http://NAME" is the group NAME wherever its block is; with a port it must not
 * name a group; a name that is neither a group nor a host fails at the proxy_pass line. */
static void test_proxy_pass_groups(void **state)
{
    (void) state;
    assert_non_null(load_http("upstream backend { server 127.0.0.1:1; }\n"
                              "server { location / { proxy_pass http://backend; } }"));
    assert_non_null(load_http("server { location / { proxy_pass http://backend/x; } }\n"
                              "upstream backend { server 127.0.0.1:1; }"));
    assert_null(load_http("upstream backend { server 127.0.0.1:1; }\n"
                          "server { location / { proxy_pass http://backend:8080; } }"));
    assert_logged("[emerg] upstream \"backend\" may not have port 8080 in @/sluice.conf:4");
    assert_null(load_http("server { location / {\n proxy_pass http://no-such-host.invalid; } }"));
    assert_logged("[emerg] host not found in upstream \"no-such-host.invalid\" in "
                  "@/sluice.conf:4");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_messages, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_redefined, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_built, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_proxy_pass_groups, group_setup, group_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
