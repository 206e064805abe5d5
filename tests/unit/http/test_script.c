/*
 * test_script.c: complex values ("text$var${var}$1") and the variables they read.
 *
 * Each test builds the http main conf by hand (core variables registered, names indexed,
 * then resolved as at the end of the http block) and a request by hand (a pool, header
 * lists, a fake connection), then evaluates.  Error lines are read back from a temp log
 * file; their wording was checked against nginx 1.22 (nginx -t).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include <fcntl.h>

#include "sl_http_variables.h"
#include "sl_pool.h"
#include "sl_test_log.h"
#include "sl_time.h"

#define NCONF 8

static sl_open_file_t log_file;
static sl_log_t test_log;
static sl_cycle_t cycle;
static sl_conf_t cf;
static sl_http_conf_ctx_t ctx;
static void *main_conf[NCONF], *srv_conf[NCONF], *loc_conf[NCONF];
static sl_http_core_main_conf_t cmcf;
static sl_http_core_srv_conf_t cscf;
static sl_http_core_loc_conf_t clcf;
static sl_connection_t conn;
static sl_pool_t *req_pool;

static int setup(void **state)
{
    sl_test_log_open(&test_log, &log_file, SL_LOG_WARN);

    memset(&cycle, 0, sizeof(cycle));
    cycle.pool = sl_pool_create(SL_POOL_DEFAULT_SIZE, &test_log);
    cycle.log = &test_log;
    sl_str_set(&cycle.prefix, "/pfx/");
    sl_str_set(&cycle.conf_prefix, "/pfx/conf/");

    memset(&cmcf, 0, sizeof(cmcf));
    memset(&cscf, 0, sizeof(cscf));
    memset(&clcf, 0, sizeof(clcf));
    sl_str_set(&cscf.server_name, "first.example");
    main_conf[sl_http_core_module.ctx_index] = &cmcf;
    srv_conf[sl_http_core_module.ctx_index] = &cscf;
    loc_conf[sl_http_core_module.ctx_index] = &clcf;
    ctx.main_conf = main_conf;
    ctx.srv_conf = srv_conf;
    ctx.loc_conf = loc_conf;

    memset(&cf, 0, sizeof(cf));
    cf.cycle = &cycle;
    cf.pool = cycle.pool;
    cf.temp_pool = cycle.pool;
    cf.log = &test_log;
    cf.ctx = &ctx;
    assert_int_equal(sl_http_variables_add_core_vars(&cf), SL_OK);
    sl_time_update();
    /* errors are read back from the log file, not printed */
    sl_use_stderr = 0;
    req_pool = NULL;
    return 0;
}

static int teardown(void **state)
{
    if (req_pool) {
        sl_pool_destroy(req_pool);
    }
    sl_pool_destroy(cycle.pool);
    close(log_file.fd);
    return 0;
}

/* Everything the log file got so far. */
static const char *log_text(void)
{
    return sl_test_log_text(&log_file);
}

#define assert_logged(text) assert_non_null(strstr(log_text(), text))

static sl_str_t str(const char *s)
{
    sl_str_t v = { strlen(s), (u_char *) s };
    return v;
}

/* Compiles s; SL_OK or SL_ERROR. */
static sl_int_t compile(const char *s, sl_http_complex_value_t *cv, int conf_prefix,
                        int root_prefix)
{
    sl_str_t value = str(s);
    sl_http_compile_complex_value_t ccv;

    memset(&ccv, 0, sizeof(ccv));
    ccv.cf = &cf;
    ccv.value = &value;
    ccv.complex_value = cv;
    ccv.conf_prefix = conf_prefix;
    ccv.root_prefix = root_prefix;
    return sl_http_compile_complex_value(&ccv);
}

static sl_table_elt_t *add_header(sl_list_t *list, const char *name, const char *value)
{
    sl_table_elt_t *h = sl_list_push(list);

    assert_non_null(h);
    memset(h, 0, sizeof(*h));
    h->key = str(name);
    h->value = str(value);
    h->hash = sl_hash_key_lc(h->key.data, h->key.len);
    h->lowcase_key = (u_char *) name;
    return h;
}

/* A request after sl_http_variables_init_vars(): sized for every indexed variable. */
static sl_http_request_t *make_request(void)
{
    assert_int_equal(sl_http_variables_init_vars(&cf), SL_OK);
    req_pool = sl_pool_create(4096, &test_log);
    sl_http_request_t *r = sl_pcalloc(req_pool, sizeof(sl_http_request_t));
    assert_non_null(r);
    r->pool = req_pool;
    r->main = r;
    r->main_conf = main_conf;
    r->srv_conf = srv_conf;
    r->loc_conf = loc_conf;
    r->variables = sl_pcalloc(req_pool, (cmcf.variables.nelts + 1) * sizeof(*r->variables));
    assert_int_equal(sl_list_init(&r->headers_in.headers, req_pool, 4, sizeof(sl_table_elt_t)),
                     SL_OK);
    assert_int_equal(sl_list_init(&r->headers_out.headers, req_pool, 4, sizeof(sl_table_elt_t)),
                     SL_OK);
    r->headers_in.content_length_n = -1;
    r->headers_out.content_length_n = -1;
    r->headers_out.last_modified_time = -1;
    memset(&conn, 0, sizeof(conn));
    conn.log = &test_log;
    conn.addr_text = str("127.0.0.1");
    conn.sockaddr.sin.sin_family = AF_INET;
    conn.sockaddr.sin.sin_port = htons(4321);
    conn.socklen = sizeof(struct sockaddr_in);
    conn.number = 7;
    conn.requests = 2;
    r->connection = &conn;
    r->start_msec = sl_current_msec;
    return r;
}

/* Evaluates cv and compares with expected. */
static void assert_value(sl_http_request_t *r, sl_http_complex_value_t *cv, const char *expected)
{
    sl_str_t v;

    assert_int_equal(sl_http_complex_value(r, cv, &v), SL_OK);
    assert_int_equal(v.len, strlen(expected));
    assert_memory_equal(v.data, expected, v.len);
}

/* Compiles, makes a request with setup applied by the caller afterwards: see uses. */
#define COMPILE(cv, text) assert_int_equal(compile(text, &(cv), 0, 0), SL_OK)

static void test_count(void **state)
{
    sl_str_t a = str("no variables"), b = str("$a ${b} $1 $");

    assert_int_equal(sl_http_script_variables_count(&a), 0);
    assert_int_equal(sl_http_script_variables_count(&b), 4);
}

static void test_plain_value(void **state)
{
    sl_http_complex_value_t cv;

    COMPILE(cv, "just text");
    assert_null(cv.parts);
    sl_http_request_t *r = make_request();
    assert_value(r, &cv, "just text");
}

static void test_text_and_variables(void **state)
{
    sl_http_complex_value_t cv;

    COMPILE(cv, "text$request_method text${uri}text$is_args$args.");
    sl_http_request_t *r = make_request();
    r->method_name = str("GET");
    r->uri = str("/a b");
    r->args = str("x=1");
    assert_value(r, &cv, "textGET text/a btext?x=1.");
}

/* An auth_request subrequest is a GET of its own; $request_method is still the client's. */
static void test_request_method_is_the_main_requests(void **state)
{
    sl_http_complex_value_t cv;

    COMPILE(cv, "$request_method");
    sl_http_request_t *r = make_request();
    r->method_name = str("POST");
    sl_http_request_t *sr = sl_pcalloc(req_pool, sizeof(sl_http_request_t));
    assert_non_null(sr);
    *sr = *r;
    sr->main = r;
    sr->parent = r;
    sr->method_name = str("GET");
    sr->variables = sl_pcalloc(req_pool, (cmcf.variables.nelts + 1) * sizeof(*sr->variables));
    assert_value(sr, &cv, "POST");
}

static void test_absent_variables_are_empty(void **state)
{
    sl_http_complex_value_t cv;

    COMPILE(cv, "[$http_referer][$args][$is_args][$cookie_a]");
    sl_http_request_t *r = make_request();
    assert_value(r, &cv, "[][][][]");
}

static void test_captures(void **state)
{
    sl_http_complex_value_t cv;
    int caps[] = { 0, 7, 0, 3, 4, 7 };

    COMPILE(cv, "<$2|$1|$3|$9>$1x");
    sl_http_request_t *r = make_request();
    assert_value(r, &cv, "<|||>x");
    r->captures = caps;
    r->ncaptures = 6;
    r->captures_data = (u_char *) "abc-def";
    assert_value(r, &cv, "<def|abc||>abcx");
}

static void test_compile_errors(void **state)
{
    sl_http_complex_value_t cv;

    assert_int_equal(compile("a$ b", &cv, 0, 0), SL_ERROR);
    assert_logged("[emerg] ");
    assert_logged(": invalid variable name\n");
    assert_int_equal(compile("a$", &cv, 0, 0), SL_ERROR);
    assert_int_equal(compile("${}", &cv, 0, 0), SL_ERROR);
    assert_int_equal(compile("x${ab", &cv, 0, 0), SL_ERROR);
    assert_logged("the closing bracket in \"ab\" variable is missing\n");
    assert_int_equal(compile("${ab-}", &cv, 0, 0), SL_ERROR);
}

static void test_unknown_variable(void **state)
{
    sl_http_complex_value_t cv;

    COMPILE(cv, "$nope");
    assert_int_equal(sl_http_variables_init_vars(&cf), SL_ERROR);
    assert_logged("[emerg] ");
    assert_logged(": unknown \"nope\" variable\n");
}

/* "$0" and "${1}" are variable names, not captures (nginx). */
static void test_zero_and_bracketed_digit_are_names(void **state)
{
    sl_http_complex_value_t cv;

    COMPILE(cv, "$0");
    assert_int_equal(sl_http_variables_init_vars(&cf), SL_ERROR);
    assert_logged("unknown \"0\" variable");
}

static void test_prefix_variables(void **state)
{
    sl_http_complex_value_t cv;

    COMPILE(cv, "$http_x_test|$HTTP_USER_AGENT|$arg_a|$arg_B|$cookie_c|$sent_http_x_out|$http_");
    sl_http_request_t *r = make_request();
    add_header(&r->headers_in.headers, "X-Test", "one");
    add_header(&r->headers_in.headers, "x-test", "two");
    r->headers_in.user_agent = add_header(&r->headers_in.headers, "User-Agent", "UA/1");
    sl_table_elt_t *c1 = add_header(&r->headers_in.headers, "Cookie", "a=1, c=2");
    r->headers_in.cookie = c1;
    add_header(&r->headers_out.headers, "X-Out", "o")->hash = 0;
    add_header(&r->headers_out.headers, "X-Out", "p");
    r->args = str("xa=0&a=1&b&B=2&a=3");
    assert_value(r, &cv, "one|UA/1|1|2|2|p|");
}

static void test_joined_headers(void **state)
{
    sl_http_complex_value_t cv;

    COMPILE(cv, "$http_cookie|$http_x_forwarded_for|$cookie_d|$sent_http_cache_control");
    sl_http_request_t *r = make_request();
    sl_table_elt_t *c1 = add_header(&r->headers_in.headers, "Cookie", "a=1");
    sl_table_elt_t *c2 = add_header(&r->headers_in.headers, "Cookie", "c = 5 ;d=3");
    sl_table_elt_t *x1 = add_header(&r->headers_in.headers, "X-Forwarded-For", "1.1.1.1");
    sl_table_elt_t *x2 = add_header(&r->headers_in.headers, "X-Forwarded-For", "");
    c1->next = c2;
    x1->next = x2;
    r->headers_in.cookie = c1;
    r->headers_in.x_forwarded_for = x1;
    add_header(&r->headers_out.headers, "Cache-Control", "");
    add_header(&r->headers_out.headers, "Cache-Control", "b");
    assert_value(r, &cv, "a=1; c = 5 ;d=3|1.1.1.1, |3|, b");
}

static void test_request_variables(void **state)
{
    sl_http_complex_value_t cv;

    COMPILE(cv, "$host $server_name $remote_addr:$remote_port $status $body_bytes_sent "
                "$bytes_sent $connection $connection_requests $request_completion. $scheme "
                "$nginx_version $limit_rate $server_protocol.");
    sl_http_request_t *r = make_request();
    conn.sent = 100;
    r->header_size = 150;
    r->headers_out.status = 204;
    r->limit_rate = 1024;
    assert_value(r, &cv,
                 "first.example first.example 127.0.0.1:4321 204 0 100 7 2 . http 1.22.1 1024 .");
}

static void test_host_prefers_request(void **state)
{
    sl_http_complex_value_t cv;

    COMPILE(cv, "$host $status");
    sl_http_request_t *r = make_request();
    r->headers_in.server = str("example.com");
    r->headers_out.status = 200;
    r->err_status = 404;
    assert_value(r, &cv, "example.com 404");
}

static void test_status_none(void **state)
{
    sl_http_complex_value_t cv;

    COMPILE(cv, "$status");
    sl_http_request_t *r = make_request();
    assert_value(r, &cv, "000");
}

static void test_remote_user(void **state)
{
    static const struct {
        const char *header, *user;
    } cases[] = {
        { "Basic dXNlcjpwYXNz", "user" },
        { "basic  dXNlcjpwYXNz", "user" },
        { "Basic Zm9v", "" },
        { "Basic OnBhc3M=", "" },
        { "Basic dXNlcjpwYXNz!", "" },
        { "Bearer dXNlcjpwYXNz", "" },
        { "Basic dSJzZXI6cA==", "u\"ser" },
        { "Basic ", "" },
    };

    for (size_t i = 0; i < sl_nelems(cases); i++) {
        sl_http_complex_value_t cv;
        sl_table_elt_t h;

        COMPILE(cv, "$remote_user");
        sl_http_request_t *r = make_request();
        memset(&h, 0, sizeof(h));
        h.value = str(cases[i].header);
        r->headers_in.authorization = &h;
        assert_value(r, &cv, cases[i].user);
        sl_pool_destroy(req_pool);
        req_pool = NULL;
    }
}

static void test_request_time(void **state)
{
    sl_http_complex_value_t cv;

    COMPILE(cv, "$request_time");
    sl_http_request_t *r = make_request();
    r->start_msec = sl_current_msec - 1234;
    assert_value(r, &cv, "1.234");
    r->start_msec = sl_current_msec - 5;
    assert_value(r, &cv, "0.005");
}

static void test_time_formats(void **state)
{
    sl_http_complex_value_t cv;
    sl_str_t v;

    COMPILE(cv, "$msec|$time_iso8601|$time_local");
    sl_http_request_t *r = make_request();
    assert_int_equal(sl_http_complex_value(r, &cv, &v), SL_OK);
    /* 1700000000.123|2023-11-14T22:13:20+00:00|14/Nov/2023:22:13:20 +0000 */
    char *s = strndup((char *) v.data, v.len);
    char *msec = strtok(s, "|"), *iso = strtok(NULL, "|"), *local = strtok(NULL, "|");
    assert_non_null(local);
    assert_int_equal(strlen(msec), strlen("1700000000.123"));
    assert_int_equal(msec[10], '.');
    assert_int_equal(strlen(iso), strlen("2023-11-14T22:13:20+00:00"));
    assert_int_equal(iso[10], 'T');
    assert_int_equal(iso[22], ':');
    assert_string_equal(local, (const char *) sl_cached_http_log_time());
    free(s);
}

static sl_uint_t counter;

/* A variable that is longer each time it is computed: "x", "xx", ... */
static sl_int_t get_counter(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    static u_char xs[16] = "xxxxxxxxxxxxxxx";

    counter++;
    v->data = xs;
    v->len = counter;
    v->valid = 1;
    v->not_found = 0;
    return SL_OK;
}

/* A value that is not cacheable is computed once per evaluation: the copy pass sees what
 * the length pass measured, and the next evaluation computes it again. */
static void test_not_cacheable_once_per_evaluation(void **state)
{
    sl_http_complex_value_t cv;
    sl_str_t name = str("counter");
    sl_http_variable_t *v = sl_http_add_variable(&cf, &name, SL_HTTP_VAR_NOCACHEABLE);

    assert_non_null(v);
    v->get_handler = get_counter;
    counter = 0;
    COMPILE(cv, "[$counter|$counter]");
    sl_http_request_t *r = make_request();
    assert_value(r, &cv, "[x|x]");
    assert_value(r, &cv, "[xx|xx]");
}

static void test_duplicate_and_changeable(void **state)
{
    sl_str_t uri = str("uri"), args = str("args"), mine = str("Mine");

    assert_null(sl_http_add_variable(&cf, &uri, SL_HTTP_VAR_CHANGEABLE));
    assert_logged("the duplicate \"uri\" variable");
    assert_non_null(sl_http_add_variable(&cf, &args, SL_HTTP_VAR_CHANGEABLE));
    sl_http_variable_t *a = sl_http_add_variable(&cf, &mine, SL_HTTP_VAR_CHANGEABLE);
    sl_http_variable_t *b = sl_http_add_variable(&cf, &mine, SL_HTTP_VAR_CHANGEABLE);
    assert_ptr_equal(a, b);
    assert_string_equal((char *) a->name.data, "mine");
    assert_int_equal(sl_http_get_variable_index(&cf, &mine),
                     sl_http_get_variable_index(&cf, &(sl_str_t){ 4, (u_char *) "MINE" }));
}

static void test_conf_prefix(void **state)
{
    sl_http_complex_value_t plain, rel, abs_, root;

    assert_int_equal(compile("logs/x", &plain, 1, 0), SL_OK);
    assert_int_equal(compile("$args/x", &rel, 1, 0), SL_OK);
    assert_int_equal(compile("$args/x", &abs_, 0, 1), SL_OK);
    assert_int_equal(compile("/abs/$args", &root, 0, 1), SL_OK);
    sl_http_request_t *r = make_request();
    assert_value(r, &plain, "/pfx/conf/logs/x");
    r->args = str("rel");
    assert_value(r, &rel, "/pfx/conf/rel/x");
    assert_value(r, &abs_, "/pfx/rel/x");
    assert_value(r, &root, "/abs/rel");
    r->args = str("/a");
    assert_value(r, &rel, "/a/x");
}

static void test_set_slot(void **state)
{
    struct {
        sl_http_complex_value_t *cv;
    } conf = { NULL };
    sl_command_t cmd = { sl_string("x"), 0, sl_http_set_complex_value_slot, 0, 0, NULL };
    sl_array_t *args = sl_array_create(cycle.pool, 2, sizeof(sl_str_t));
    sl_str_t *a = sl_array_push_n(args, 2);

    a[0] = str("x");
    a[1] = str("v=$uri");
    cf.args = args;
    assert_ptr_equal(sl_http_set_complex_value_slot(&cf, &cmd, &conf), SL_CONF_OK);
    assert_non_null(conf.cv);
    assert_string_equal(sl_http_set_complex_value_slot(&cf, &cmd, &conf), "is duplicate");
    sl_http_request_t *r = make_request();
    r->uri = str("/u");
    assert_value(r, conf.cv, "v=/u");
}

static void test_regex_named_captures(void **state)
{
    sl_regex_compile_t rc;
    sl_http_regex_t *re;
    sl_http_complex_value_t cv;

    memset(&rc, 0, sizeof(rc));
    rc.pattern = str("^/(?<year>\\d+)/(\\w+)");
    assert_int_equal(sl_http_regex_compile(&cf, &rc, &re), SL_OK);
    COMPILE(cv, "$year:$2:$1");
    sl_http_request_t *r = make_request();
    assert_value(r, &cv, "::");
    sl_str_t s = str("/2024/news/x");
    assert_true(sl_http_regex_match(r, re, &s) > 0);
    assert_value(r, &cv, "2024:news:2024");
    sl_str_t miss = str("nope");
    assert_int_equal(sl_http_regex_match(r, re, &miss), 0);
    assert_value(r, &cv, "2024:news:2024");
    sl_regex_cleanup();
}

static void test_regex_name_taken(void **state)
{
    sl_regex_compile_t rc;
    sl_http_regex_t *re;

    memset(&rc, 0, sizeof(rc));
    rc.pattern = str("(?<host>x)");
    assert_int_equal(sl_http_regex_compile(&cf, &rc, &re), SL_ERROR);
    assert_logged("the duplicate \"host\" variable");
}

/* A bare sl_regex_t: $1..$9 only, kept from the previous match when no group matched. */
static void test_regex_exec_bare(void **state)
{
    sl_regex_compile_t rc;
    sl_http_complex_value_t cv;

    memset(&rc, 0, sizeof(rc));
    rc.pattern = str("(\\d+)");
    assert_int_equal(sl_regex_compile(cycle.pool, &rc), SL_OK);
    sl_regex_t *digits = rc.regex;
    memset(&rc, 0, sizeof(rc));
    rc.pattern = str("x");
    assert_int_equal(sl_regex_compile(cycle.pool, &rc), SL_OK);
    COMPILE(cv, "$1");
    sl_http_request_t *r = make_request();
    sl_str_t s = str("ab42"), t = str("x");
    assert_int_equal(sl_http_regex_exec(r, digits, &s), 2);
    assert_value(r, &cv, "42");
    /* a later match of a regex without groups empties $1, as nginx 1.22 does */
    assert_int_equal(sl_http_regex_exec(r, rc.regex, &t), 1);
    assert_value(r, &cv, "");
    sl_regex_cleanup();
}

static void test_get_variable_by_name(void **state)
{
    sl_http_request_t *r = make_request();
    sl_str_t uri = str("URI"), hdr = str("http_x_a"), none = str("nothing");

    r->uri = str("/p");
    add_header(&r->headers_in.headers, "X-A", "b");
    sl_http_variable_value_t *v = sl_http_get_variable(r, &uri, sl_hash_key_lc(uri.data, 3));
    assert_non_null(v);
    assert_int_equal(v->len, 2);
    assert_memory_equal(v->data, "/p", 2);
    v = sl_http_get_variable(r, &hdr, sl_hash_key_lc(hdr.data, hdr.len));
    assert_non_null(v);
    assert_memory_equal(v->data, "b", 1);
    v = sl_http_get_variable(r, &none, sl_hash_key_lc(none.data, none.len));
    assert_non_null(v);
    assert_true(v->not_found);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_count),
        T(test_plain_value),
        T(test_text_and_variables),
        T(test_request_method_is_the_main_requests),
        T(test_absent_variables_are_empty),
        T(test_captures),
        T(test_compile_errors),
        T(test_unknown_variable),
        T(test_zero_and_bracketed_digit_are_names),
        T(test_prefix_variables),
        T(test_joined_headers),
        T(test_request_variables),
        T(test_host_prefers_request),
        T(test_status_none),
        T(test_remote_user),
        T(test_request_time),
        T(test_time_formats),
        T(test_not_cacheable_once_per_evaluation),
        T(test_duplicate_and_changeable),
        T(test_conf_prefix),
        T(test_set_slot),
        T(test_regex_named_captures),
        T(test_regex_name_taken),
        T(test_regex_exec_bare),
        T(test_get_variable_by_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
