/*
 * test_core_conf.c: directives of nginx's configurations that sluice accepts with nginx's
 * checks and wording (issue 17): sendfile_max_chunk, output_buffers, aio, accept_mutex,
 * accept_mutex_delay, the hash sizes, client_body_in_file_only and
 * client_body_in_single_buffer; mirror, log_subrequest and access_log paths with variables.
 * Every expected line and every accepted configuration was checked against nginx 1.22.1
 * (/usr/sbin/nginx -t on the same text),
 * except where a comment says the line is nginx's for a build without the feature (Debian's
 * nginx has it); "@" stands for the test's directory, the http block's first line is line 3.
 */
#include "http/upstream/upstream_test.h"
#include "sl_event_module.h"
#include "sl_http.h"

typedef struct {
    /** the events block's body */
    const char *events;
    const char *http;
    /** the error line expected, or NULL for a configuration nginx accepts */
    const char *error;
} conf_case_t;

#define SRV(body) "server { listen 127.0.0.1:1; " body " }"
#define LOC(body) SRV("location / { " body " }")
#define AT3 " in @/sluice.conf:3"

static const conf_case_t cases[] = {
    /* sendfile_max_chunk, output_buffers, aio: http, server, location */
    { "", "sendfile_max_chunk 0; output_buffers 1 1k; aio off;", NULL },
    { "", LOC("sendfile_max_chunk 512k; output_buffers 4 64k; aio off;"), NULL },
    { "", "sendfile_max_chunk 1x;", "[emerg] \"sendfile_max_chunk\" directive invalid value" AT3 },
    { "", "output_buffers 0 1k;", "[emerg] \"output_buffers\" directive invalid value" AT3 },
    { "", "output_buffers 2;",
      "[emerg] invalid number of arguments in \"output_buffers\" directive" AT3 },
    { "", "aio maybe;", "[emerg] \"aio\" directive invalid value" AT3 },
    { "", "aio off; aio off;", "[emerg] \"aio\" directive is duplicate" AT3 },
    { "", LOC("if ($uri) { aio off; }"), "[emerg] \"aio\" directive is not allowed here" AT3 },
    /* Debian's nginx has no file AIO: its very line, and sluice's reason after it */
    { "", "aio on;", "[emerg] \"aio on\" is unsupported on this platform (sluice has no file AIO" },
    /* nginx without threads (ngx_http_core_set_aio): "\"aio threads\" is unsupported on this
     * platform"; sluice says why */
    { "", "aio threads;",
      "[emerg] \"aio threads\" is unsupported on this platform (sluice has no thread pool" },
    { "", "aio threads=pool;",
      "[emerg] \"aio threads\" is unsupported on this platform (sluice has no thread pool" },

    /* client_body_in_file_only, client_body_in_single_buffer: http, server, location */
    { "",
      "client_body_in_file_only clean; client_body_in_single_buffer on; " LOC(
          "client_body_in_file_only on; client_body_in_single_buffer off;"),
      NULL },
    { "", "client_body_in_file_only x;", "[emerg] invalid value \"x\"" AT3 },
    { "", "client_body_in_file_only;",
      "[emerg] invalid number of arguments in \"client_body_in_file_only\" directive" AT3 },
    { "", "client_body_in_single_buffer x;",
      "[emerg] invalid value \"x\" in \"client_body_in_single_buffer\" directive, it must be "
      "\"on\" or \"off\"" AT3 },

    /* accept_mutex, accept_mutex_delay: events only */
    { "accept_mutex on; accept_mutex_delay 0;", "", NULL },
    { "accept_mutex off; accept_mutex_delay 100ms;", "", NULL },
    { "accept_mutex maybe;", "",
      "[emerg] invalid value \"maybe\" in \"accept_mutex\" directive, it must be \"on\" or "
      "\"off\" in @/sluice.conf:1" },
    { "accept_mutex_delay 1x;", "",
      "[emerg] \"accept_mutex_delay\" directive invalid value in @/sluice.conf:1" },
    { "", "accept_mutex on;", "[emerg] \"accept_mutex\" directive is not allowed here" AT3 },

    /* the hash sizes: numbers (no k or m), checked where nginx builds the hash */
    { "", "types_hash_max_size 1; types_hash_bucket_size 1; " SRV(""), NULL },
    { "", "types_hash_bucket_size 1k;",
      "[emerg] \"types_hash_bucket_size\" directive invalid number" AT3 },
    { "", "types_hash_max_size -1;",
      "[emerg] \"types_hash_max_size\" directive invalid number" AT3 },
    { "", "types_hash_max_size 0; types_hash_bucket_size 65473;", NULL },
    { "", "types_hash_max_size 0; " SRV(""),
      "[emerg] could not build types_hash, you should increase types_hash_max_size: 0\n" },
    { "", "types_hash_bucket_size 65472; " SRV(""), NULL },
    { "", "types_hash_bucket_size 65473; " SRV(""),
      "[emerg] could not build types_hash, too large types_hash_bucket_size: 65536\n" },
    { "", SRV("types_hash_max_size 0;"),
      "[emerg] could not build types_hash, you should increase types_hash_max_size: 0\n" },
    { "", LOC("types_hash_max_size 0;"), NULL },
    { "", LOC("types_hash_max_size 0; types { a/b c; }"),
      "[emerg] could not build types_hash, you should increase types_hash_max_size: 0\n" },

    { "", "server_names_hash_max_size 0; server_names_hash_bucket_size 65473;", NULL },
    { "", "server_names_hash_bucket_size 1k;",
      "[emerg] \"server_names_hash_bucket_size\" directive invalid number" AT3 },
    { "", SRV("server_names_hash_max_size 1;"),
      "[emerg] \"server_names_hash_max_size\" directive is not allowed here" AT3 },
    { "", "server_names_hash_max_size 0; " SRV("server_name a;") SRV("server_name b;"),
      "[emerg] could not build server_names_hash, you should increase "
      "server_names_hash_max_size: 0\n" },
    { "", "server_names_hash_bucket_size 65473; " SRV("server_name a;") SRV(""),
      "[emerg] could not build server_names_hash, too large server_names_hash_bucket_size: "
      "65536\n" },
    /* one server per address, or regex names only: no hash */
    { "", "server_names_hash_max_size 0; " SRV("server_name ~^a;") SRV("server_name ~^b;"), NULL },
    { "",
      "server_names_hash_max_size 0; " SRV(
          "server_name a;") "server { listen 127.0.0.1:2; server_name b; }",
      NULL },
    { "", "server_names_hash_max_size 0; " SRV("server_name ~^(a)$;"), NULL },
    { "", "server_names_hash_max_size 0; " SRV("server_name ~^(a)$ b;"),
      "[emerg] could not build server_names_hash, you should increase "
      "server_names_hash_max_size: 0\n" },

    { "", "variables_hash_max_size 2048; variables_hash_bucket_size 128; " SRV(""), NULL },
    { "", "variables_hash_max_size 0;",
      "[emerg] could not build variables_hash, you should increase variables_hash_max_size: "
      "0\n" },
    { "", "variables_hash_bucket_size 65473;",
      "[emerg] could not build variables_hash, too large variables_hash_bucket_size: 65536\n" },
    { "", SRV("variables_hash_bucket_size 64;"),
      "[emerg] \"variables_hash_bucket_size\" directive is not allowed here" AT3 },

    { "", "proxy_headers_hash_max_size 0;", NULL },
    { "", "proxy_headers_hash_bucket_size 1k;",
      "[emerg] \"proxy_headers_hash_bucket_size\" directive invalid number" AT3 },
    { "", "proxy_headers_hash_max_size 0; " SRV(""),
      "[emerg] could not build proxy_headers_hash, you should increase "
      "proxy_headers_hash_max_size: 0\n" },
    { "", LOC("proxy_headers_hash_max_size 0;"), NULL },
    { "", LOC("proxy_headers_hash_max_size 0; proxy_set_header A b;"),
      "[emerg] could not build proxy_headers_hash, you should increase "
      "proxy_headers_hash_max_size: 0\n" },
    { "", LOC("proxy_headers_hash_max_size 0; proxy_hide_header A;"),
      "[emerg] could not build proxy_headers_hash, you should increase "
      "proxy_headers_hash_max_size: 0\n" },
    { "", "proxy_headers_hash_bucket_size 65473; " LOC("proxy_pass http://127.0.0.1:1;"),
      "[emerg] could not build proxy_headers_hash, too large proxy_headers_hash_bucket_size: "
      "65536\n" },
    { "",
      LOC("proxy_headers_hash_max_size 1024; proxy_headers_hash_bucket_size 128; "
          "proxy_pass http://127.0.0.1:1;"),
      NULL },

    /* a TLS address needs a certificate (nginx's line names the server's block) */
    { "", "server { listen 127.0.0.1:1 ssl; }",
      "[emerg] no \"ssl_certificate\" is defined for the \"listen ... ssl\" directive in "
      "@/sluice.conf:3" },
    /* a module sluice does not have yet: nginx 1.22's line for a build without it (Debian's
     * nginx has it, and accepts this): ngx_http_core_listen */
    { "", "server { listen 127.0.0.1:1 default_server http2; }",
      "[emerg] the \"http2\" parameter requires ngx_http_v2_module" AT3 },
    /* TLS to upstreams: accepted, any case */
    { "", LOC("proxy_pass https://127.0.0.1:1;"), NULL },
    { "", LOC("proxy_pass HTTPS://127.0.0.1:2/;"), NULL },
    { "", "http2_max_field_size 4k;", "[emerg] unknown directive \"http2_max_field_size\"" AT3 },
    /* proxy_ssl_verify needs the CAs, as nginx says where the location uses https:// */
    { "", LOC("proxy_ssl_verify on; proxy_pass https://127.0.0.1:1;"),
      "[emerg] no proxy_ssl_trusted_certificate for proxy_ssl_verify" },
    /* and as nginx with it */
    { "", "server { listen 127.0.0.1:1 spdy; }", "[emerg] invalid parameter \"spdy\"" AT3 },
    { "", "server { listen 127.0.0.1:1 quic; }", "[emerg] invalid parameter \"quic\"" AT3 },
    { "", LOC("proxy_pass ftp://127.0.0.1:1;"), "[emerg] invalid URL prefix" AT3 },
    { "", LOC("proxy_pass http:/;"), "[emerg] invalid URL prefix" AT3 },
    { "", LOC("proxy_pass http://;"), "[emerg] no host in upstream \"\"" AT3 },
    { "", LOC("proxy_pass HTTP://127.0.0.1:1;"), NULL },

    /* mirror, mirror_request_body, log_subrequest; access_log paths with variables */
    { "", "mirror /x; mirror /y; mirror_request_body off; log_subrequest on; " LOC("mirror off;"),
      NULL },
    { "", "mirror off; mirror /x;", "[emerg] \"mirror\" directive is duplicate" AT3 },
    { "", "mirror /x; mirror off;", "[emerg] \"mirror\" directive is duplicate" AT3 },
    { "", "mirror;", "[emerg] invalid number of arguments in \"mirror\" directive" AT3 },
    { "", "log_subrequest maybe;",
      "[emerg] invalid value \"maybe\" in \"log_subrequest\" directive, it must be \"on\" or "
      "\"off\"" AT3 },
    { "", "access_log logs/$host.log combined if=$uri;", NULL },
    { "", "access_log logs/$host.log combined buffer=4k;",
      "[emerg] buffered logs cannot have variables in name" AT3 },
    { "", "access_log logs/$host.log combined gzip;",
      "[emerg] buffered logs cannot have variables in name" AT3 },
};

static void test_messages(void **state)
{
    (void) state;
    for (size_t i = 0; i < sl_nelems(cases); i++) {
        clear_log();
        sl_cycle_t *c = load_conf(cases[i].events, cases[i].http);
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

/* The values land where nginx keeps them, with nginx 1.22's defaults. */
static void test_values(void **state)
{
    (void) state;
    assert_non_null(load_conf("", LOC("")));
    sl_event_conf_t *ecf = sl_event_get_conf(cycle);
    assert_int_equal(ecf->accept_mutex, 0);
    assert_int_equal(ecf->accept_mutex_delay, 500);
    sl_http_conf_ctx_t *ctx = sl_http_cycle_ctx(cycle);
    sl_http_core_main_conf_t *cmcf = ctx->main_conf[sl_http_core_module.ctx_index];
    sl_http_core_srv_conf_t **servers = cmcf->servers.elts;
    sl_http_core_loc_conf_t *clcf = servers[0]->ctx->loc_conf[sl_http_core_module.ctx_index];
    assert_int_equal(clcf->sendfile_max_chunk, 2 * 1024 * 1024);
    assert_int_equal(clcf->output_buffers.num, 2);
    assert_int_equal(clcf->output_buffers.size, 32768);
    assert_int_equal(clcf->aio, 0);
    assert_int_equal(clcf->types_hash_max_size, 1024);
    assert_int_equal(clcf->types_hash_bucket_size, 64);
    assert_int_equal(clcf->client_body_in_file_only, SL_HTTP_BODY_FILE_OFF);
    assert_int_equal(clcf->client_body_in_single_buffer, 0);

    assert_non_null(load_conf("accept_mutex on; accept_mutex_delay 100ms;",
                              "sendfile_max_chunk 512k; output_buffers 4 64k; " LOC("")));
    ecf = sl_event_get_conf(cycle);
    assert_int_equal(ecf->accept_mutex, 1);
    assert_int_equal(ecf->accept_mutex_delay, 100);
    ctx = sl_http_cycle_ctx(cycle);
    cmcf = ctx->main_conf[sl_http_core_module.ctx_index];
    servers = cmcf->servers.elts;
    clcf = servers[0]->ctx->loc_conf[sl_http_core_module.ctx_index];
    assert_int_equal(clcf->sendfile_max_chunk, 512 * 1024);
    assert_int_equal(clcf->output_buffers.num, 4);
    assert_int_equal(clcf->output_buffers.size, 65536);

    assert_non_null(load_conf("", "client_body_in_file_only clean; " LOC("")));
    ctx = sl_http_cycle_ctx(cycle);
    cmcf = ctx->main_conf[sl_http_core_module.ctx_index];
    servers = cmcf->servers.elts;
    clcf = servers[0]->ctx->loc_conf[sl_http_core_module.ctx_index];
    assert_int_equal(clcf->client_body_in_file_only, SL_HTTP_BODY_FILE_CLEAN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_messages, group_setup, group_teardown),
        cmocka_unit_test_setup_teardown(test_values, group_setup, group_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
