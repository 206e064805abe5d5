/*
 * test_collector.c: the in-memory response collector (sl_http_collector_t) and the
 * subrequest_output_buffer_size directive that bounds it.
 *
 * Memory chains split over many calls, file parts read from a real temp file, a body
 * exactly at the limit and one byte over (logged as nginx 1.22 logs it: "too big subrequest
 * response"), a declared length, an empty body, last_buf and last_in_chain, a file that
 * shrank.  At a page the buffer is an allocation of its own: the sanitizer build sees any
 * write past it.  Error lines are read back from a temp log file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "sl_http.h"
#include "sl_http_collector.h"
#include "sl_pool.h"
#include "sl_test_log.h"

static sl_open_file_t log_file;
static sl_log_t test_log;
static sl_pool_t *pool;
/* a temp file holding file_text, for file-backed bufs */
static sl_file_t file;
static const char file_text[] = "0123456789abcdefghijklmnopqrstuvwxyz";

static int setup(void **state)
{
    char fpath[] = "/tmp/sl-test-collector-file-XXXXXX";

    sl_test_log_open(&test_log, &log_file, SL_LOG_INFO);
    pool = sl_pool_create(SL_POOL_DEFAULT_SIZE, &test_log);
    assert_non_null(pool);

    memset(&file, 0, sizeof(file));
    file.fd = mkstemp(fpath);
    assert_true(file.fd >= 0);
    unlink(fpath);
    file.name.data = (u_char *) "collector-file";
    file.name.len = strlen("collector-file");
    ssize_t n = write(file.fd, file_text, sizeof(file_text) - 1);
    assert_int_equal(n, (ssize_t) (sizeof(file_text) - 1));
    return 0;
}

static int teardown(void **state)
{
    sl_pool_destroy(pool);
    close(log_file.fd);
    close(file.fd);
    return 0;
}

static const char *log_text(void)
{
    return sl_test_log_text(&log_file);
}

/* A chain of one memory buf holding text (copied, so the collector must copy too). */
static sl_chain_t *mem(const char *text)
{
    size_t n = strlen(text);
    sl_buf_t *b = sl_create_temp_buf(pool, n);
    sl_chain_t *cl = sl_alloc_chain_link(pool);

    assert_non_null(b);
    assert_non_null(cl);
    memcpy(b->pos, text, n);
    b->last += n;
    cl->buf = b;
    cl->next = NULL;
    return cl;
}

/* A chain of one buf over [from, to) of the temp file. */
static sl_chain_t *part(off_t from, off_t to)
{
    sl_buf_t *b = sl_calloc_buf(pool);
    sl_chain_t *cl = sl_alloc_chain_link(pool);

    assert_non_null(b);
    assert_non_null(cl);
    b->in_file = 1;
    b->file = &file;
    b->file_pos = from;
    b->file_last = to;
    cl->buf = b;
    cl->next = NULL;
    return cl;
}

/* A chain of one buf carrying only the end flag. */
static sl_chain_t *end(int last_in_chain)
{
    sl_chain_t *cl = sl_alloc_chain_link(pool);

    assert_non_null(cl);
    cl->buf = sl_calloc_buf(pool);
    assert_non_null(cl->buf);
    cl->buf->last_buf = !last_in_chain;
    cl->buf->last_in_chain = (unsigned) last_in_chain;
    cl->next = NULL;
    return cl;
}

static sl_chain_t *join(sl_chain_t *a, sl_chain_t *b)
{
    sl_chain_t *cl = a;

    while (cl->next) {
        cl = cl->next;
    }
    cl->next = b;
    return a;
}

static void assert_body(const sl_http_collector_t *col, const char *expected)
{
    sl_str_t body;

    sl_http_collector_body(col, &body);
    assert_int_equal(body.len, strlen(expected));
    if (body.len) {
        assert_memory_equal(body.data, expected, body.len);
    }
}

static void test_memory_many_calls(void **state)
{
    sl_http_collector_t *col = sl_http_collector_create(pool, &test_log, 4096);
    char expected[1024] = "";
    char piece[11];

    assert_non_null(col);
    assert_body(col, "");
    for (int i = 0; i < 100; i++) {
        snprintf(piece, sizeof(piece), "%010d", i);
        strcat(expected, piece);
        sl_chain_t *cl = mem(piece);
        assert_int_equal(sl_http_collector_add(col, cl), SL_OK);
        assert_int_equal(sl_buf_size(cl->buf), 0); /* consumed: its owner may reuse it */
    }
    /* two memory bufs in one chain, then the end in a call of its own */
    assert_int_equal(sl_http_collector_add(col, join(mem("ab"), mem("cd"))), SL_OK);
    strcat(expected, "abcd");
    assert_false(col->done);
    assert_int_equal(sl_http_collector_add(col, end(0)), SL_DONE);
    assert_true(col->done);
    assert_true(col->buf->last_buf);
    assert_body(col, expected);
    /* one buffer of the limit, never grown */
    assert_int_equal(col->buf->end - col->buf->start, 4096);
    assert_null(strstr(log_text(), "too big"));
}

static void test_file_parts(void **state)
{
    sl_http_collector_t *col = sl_http_collector_create(pool, &test_log, 64);
    sl_chain_t *a = part(0, 10);
    sl_chain_t *b = part(26, 36);

    assert_int_equal(sl_http_collector_add(col, join(mem("<"), a)), SL_OK);
    assert_int_equal(a->buf->file_pos, a->buf->file_last);
    /* a file part in memory as well: the memory copy is taken */
    sl_chain_t *both = mem("MEM");
    both->buf->in_file = 1;
    both->buf->file = &file;
    both->buf->file_pos = 10;
    both->buf->file_last = 13;
    assert_int_equal(sl_http_collector_add(col, join(both, join(b, join(mem(">"), end(0))))),
                     SL_DONE);
    assert_int_equal(both->buf->file_pos, both->buf->file_last);
    assert_int_equal(sl_buf_size(both->buf), 0);
    assert_body(col, "<0123456789MEMqrstuvwxyz>");
}

static void test_exactly_at_limit(void **state)
{
    sl_http_collector_t *col = sl_http_collector_create(pool, &test_log, 36);

    assert_int_equal(sl_http_collector_add(col, mem("0123456789")), SL_OK);
    assert_int_equal(sl_http_collector_add(col, join(part(10, 36), end(0))), SL_DONE);
    assert_body(col, file_text);
    assert_int_equal(col->buf->end - col->buf->start, 36);
    assert_null(strstr(log_text(), "too big"));
}

static void test_one_byte_over(void **state)
{
    sl_http_collector_t *col = sl_http_collector_create(pool, &test_log, 36);

    assert_int_equal(sl_http_collector_add(col, part(0, 36)), SL_OK);
    sl_chain_t *over = mem("!");
    assert_int_equal(sl_http_collector_add(col, join(over, end(0))), SL_ERROR);
    assert_non_null(strstr(log_text(), "[error] "));
    assert_non_null(strstr(log_text(), "too big subrequest response\n"));
    /* nothing of it was taken, the buffer is as before and stays failed */
    assert_int_equal(sl_buf_size(over->buf), 1);
    assert_body(col, file_text);
    assert_false(col->done);
    assert_int_equal(sl_http_collector_add(col, end(0)), SL_ERROR);

    /* one buf over the limit on its own, memory and file */
    col = sl_http_collector_create(pool, &test_log, 9);
    assert_int_equal(sl_http_collector_add(col, mem("0123456789")), SL_ERROR);
    assert_body(col, "");
    col = sl_http_collector_create(pool, &test_log, 9);
    assert_int_equal(sl_http_collector_add(col, part(0, 10)), SL_ERROR);
    assert_body(col, "");
}

/* At the default limit (a page) the buffer is an allocation of its own: the sanitizer build
 * would report a single byte written past it. */
static void test_page_limit(void **state)
{
    size_t page = sl_pagesize();
    sl_http_collector_t *col = sl_http_collector_create(pool, &test_log, page);
    char *text = malloc(page + 1);

    assert_non_null(text);
    memset(text, 'p', page);
    text[page] = '\0';
    assert_int_equal(sl_http_collector_add(col, mem(text + 1)), SL_OK);
    assert_int_equal(sl_http_collector_add(col, mem("q")), SL_OK);
    assert_int_equal(col->buf->last, col->buf->end);
    assert_int_equal(sl_http_collector_add(col, join(mem("r"), end(0))), SL_ERROR);
    assert_non_null(strstr(log_text(), "too big subrequest response\n"));
    text[page - 1] = 'q';
    assert_body(col, text);
    free(text);
}

static void test_declared_length(void **state)
{
    sl_http_collector_t *col = sl_http_collector_create(pool, &test_log, 36);

    /* a known length sizes the buffer to it */
    assert_int_equal(sl_http_collector_expect(col, 5), SL_OK);
    assert_int_equal(col->buf->end - col->buf->start, 5);
    assert_int_equal(sl_http_collector_add(col, join(mem("hello"), end(0))), SL_DONE);
    assert_body(col, "hello");

    /* more than declared does not fit */
    col = sl_http_collector_create(pool, &test_log, 36);
    assert_int_equal(sl_http_collector_expect(col, 4), SL_OK);
    assert_int_equal(sl_http_collector_add(col, mem("hello")), SL_ERROR);
    assert_non_null(strstr(log_text(), "too big subrequest response\n"));

    /* over the limit: refused before any data */
    col = sl_http_collector_create(pool, &test_log, 36);
    assert_int_equal(sl_http_collector_expect(col, 37), SL_ERROR);
    assert_non_null(strstr(log_text(), "too big subrequest response: 37\n"));
    assert_null(col->buf);
    assert_int_equal(sl_http_collector_add(col, mem("x")), SL_ERROR);

    /* unknown length: the limit */
    col = sl_http_collector_create(pool, &test_log, 36);
    assert_int_equal(sl_http_collector_expect(col, -1), SL_OK);
    assert_int_equal(sl_http_collector_add(col, mem("x")), SL_OK);
    assert_int_equal(col->buf->end - col->buf->start, 36);
}

static void test_empty_body(void **state)
{
    sl_http_collector_t *col = sl_http_collector_create(pool, &test_log, 36);

    /* an empty buf is no data: no buffer yet */
    assert_int_equal(sl_http_collector_add(col, mem("")), SL_OK);
    assert_null(col->buf);
    assert_int_equal(sl_http_collector_add(col, end(0)), SL_DONE);
    assert_non_null(col->buf);
    assert_true(col->buf->last_buf);
    assert_body(col, "");

    /* Content-Length: 0 */
    col = sl_http_collector_create(pool, &test_log, 36);
    assert_int_equal(sl_http_collector_expect(col, 0), SL_OK);
    assert_int_equal(sl_http_collector_add(col, end(0)), SL_DONE);
    assert_body(col, "");

    /* a limit of 0 holds an empty body, and nothing more */
    col = sl_http_collector_create(pool, &test_log, 0);
    assert_int_equal(sl_http_collector_add(col, end(0)), SL_DONE);
    col = sl_http_collector_create(pool, &test_log, 0);
    assert_int_equal(sl_http_collector_add(col, mem("x")), SL_ERROR);
}

static void test_end_flags(void **state)
{
    sl_http_collector_t *col = sl_http_collector_create(pool, &test_log, 36);

    /* the end flag on a data buf */
    sl_chain_t *cl = mem("tail");
    cl->buf->last_buf = 1;
    assert_int_equal(sl_http_collector_add(col, cl), SL_DONE);
    assert_body(col, "tail");
    /* after the end: only flags may come; data is a broken producer */
    assert_int_equal(sl_http_collector_add(col, end(0)), SL_DONE);
    assert_int_equal(sl_http_collector_add(col, mem("more")), SL_ERROR);
    assert_body(col, "tail");

    /* a subrequest's output ends with last_in_chain */
    col = sl_http_collector_create(pool, &test_log, 36);
    assert_int_equal(sl_http_collector_add(col, join(mem("sub"), end(1))), SL_DONE);
    assert_body(col, "sub");
}

static void test_file_shrank(void **state)
{
    sl_http_collector_t *col = sl_http_collector_create(pool, &test_log, 64);

    assert_int_equal(sl_http_collector_add(col, part(30, 40)), SL_ERROR);
    assert_non_null(strstr(log_text(), "[crit] "));
    assert_non_null(strstr(log_text(), "read only 6 of 10 from \"collector-file\""));
    assert_int_equal(sl_http_collector_add(col, end(0)), SL_ERROR);
}

/* The directive: http core's loc conf, set and merged as the configuration does. */
static char *set_directive(sl_conf_t *cf, void *conf, const char *value)
{
    sl_command_t *cmd = sl_http_core_module.commands;
    sl_str_t args[2] = { sl_string("subrequest_output_buffer_size"), { strlen(value), NULL } };
    sl_array_t arr = { args, 2, sizeof(sl_str_t), 2, pool };

    args[1].data = (u_char *) value;
    while (cmd->name.len && !sl_str_eq_cstr(&cmd->name, "subrequest_output_buffer_size")) {
        cmd++;
    }
    assert_true(cmd->name.len > 0);
    assert_true(cmd->type & SL_HTTP_MAIN_CONF);
    assert_true(cmd->type & SL_HTTP_SRV_CONF);
    assert_true(cmd->type & SL_HTTP_LOC_CONF);
    cf->args = &arr;
    return cmd->set(cf, cmd, conf);
}

static void test_directive(void **state)
{
    sl_http_module_t *m = sl_http_core_module.ctx;
    sl_cycle_t cycle;
    sl_conf_t cf;

    memset(&cycle, 0, sizeof(cycle));
    cycle.pool = pool;
    cycle.log = &test_log;
    assert_int_equal(sl_array_init(&cycle.paths, pool, 2, sizeof(void *)), SL_OK);
    sl_str_set(&cycle.prefix, "/pfx/");
    sl_str_set(&cycle.conf_prefix, "/pfx/conf/");
    memset(&cf, 0, sizeof(cf));
    cf.cycle = &cycle;
    cf.pool = pool;
    cf.temp_pool = pool;
    cf.log = &test_log;

    sl_http_core_loc_conf_t *http = m->create_loc_conf(&cf);
    sl_http_core_loc_conf_t *srv = m->create_loc_conf(&cf);
    sl_http_core_loc_conf_t *loc = m->create_loc_conf(&cf);
    sl_http_core_loc_conf_t *other = m->create_loc_conf(&cf);
    assert_true(http && srv && loc && other);
    assert_ptr_equal(set_directive(&cf, srv, "16k"), SL_CONF_OK);
    assert_string_equal(set_directive(&cf, srv, "32k"), "is duplicate");
    assert_string_equal(set_directive(&cf, loc, "abc"), "invalid value");
    loc->subrequest_output_buffer_size = SL_CONF_UNSET_SIZE;
    /* the default is one memory page, as nginx's "4k|8k" */
    assert_ptr_equal(m->merge_loc_conf(&cf, http, other), SL_CONF_OK);
    assert_int_equal(other->subrequest_output_buffer_size, sl_pagesize());
    assert_int_equal(sl_pagesize(), (size_t) sysconf(_SC_PAGESIZE));
    /* a server's value reaches its locations */
    assert_ptr_equal(m->merge_loc_conf(&cf, srv, loc), SL_CONF_OK);
    assert_int_equal(loc->subrequest_output_buffer_size, 16384);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_memory_many_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_parts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exactly_at_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_byte_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_page_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_declared_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_end_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_shrank, setup, teardown),
        cmocka_unit_test_setup_teardown(test_directive, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
