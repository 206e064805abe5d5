/*
 * test_upstream_tee.c: the tee ends once, complete only for a body read to its end as its
 * framing said; anything else, and a request that ends first, is truncated.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "sl_upstream.h"

typedef struct {
    int opened, complete, truncated;
    off_t size;
    sl_file_t *file;
    int want;
} calls_t;

static calls_t calls;

static int fake_open(sl_http_request_t *r, sl_upstream_t *u, sl_str_t *dir, off_t *reserve)
{
    *reserve = 0;
    calls.opened++;
    sl_str_set(dir, "/tee/dir");
    return calls.want;
}

static void fake_complete(sl_http_request_t *r, sl_upstream_t *u, sl_file_t *file, off_t size)
{
    calls.complete++;
    calls.file = file;
    calls.size = size;
}

static void fake_truncated(sl_http_request_t *r, sl_upstream_t *u)
{
    calls.truncated++;
}

static const sl_upstream_tee_t fake_tee = { fake_open, fake_complete, fake_truncated };

typedef struct {
    sl_upstream_t u;
    sl_pipe_t p;
    sl_file_t file;
} env_t;

/* A response with Content-Length cl (-1 none), chunked or not, whose pipe kept `size`
 * bytes in its temp file. */
static void response(env_t *e, off_t cl, int chunked, off_t size)
{
    memset(e, 0, sizeof(*e));
    memset(&calls, 0, sizeof(calls));
    calls.want = 1;
    e->u.tee = &fake_tee;
    e->u.pipe = &e->p;
    e->u.headers_in.content_length_n = cl;
    e->u.headers_in.chunked = chunked;
    e->p.cacheable = 1;
    e->p.length = chunked ? 1 : cl == -1 ? -1 : cl - size;
    e->file.fd = 3;
    e->file.offset = size;
    e->p.temp_file = size ? &e->file : NULL;
}

static void test_open(void **state)
{
    env_t e;
    sl_str_t dir = sl_null_string;

    (void) state;
    response(&e, 10, 0, 0);
    assert_true(sl__upstream_tee_open(NULL, &e.u, &dir));
    assert_ptr_equal(e.u.tee, &fake_tee);
    assert_true(sl_str_eq_cstr(&dir, "/tee/dir"));
    /* a tee may decline a response: no copy, and nothing to end */
    calls.want = 0;
    assert_false(sl__upstream_tee_open(NULL, &e.u, &dir));
    assert_null(e.u.tee);
    sl__upstream_tee_end(NULL, &e.u);
    assert_int_equal(calls.complete + calls.truncated, 0);
}

static void test_complete(void **state)
{
    env_t e;

    (void) state;
    /* as long as Content-Length said */
    response(&e, 100, 0, 100);
    e.p.upstream_done = 1;
    sl__upstream_tee_end(NULL, &e.u);
    assert_int_equal(calls.complete, 1);
    assert_int_equal(calls.truncated, 0);
    assert_int_equal(calls.size, 100);
    assert_ptr_equal(calls.file, &e.file);
    assert_null(e.u.tee);
    /* once only */
    sl__upstream_tee_end(NULL, &e.u);
    assert_int_equal(calls.complete, 1);

    /* bytes past the length were dropped: the body itself is whole */
    response(&e, 100, 0, 100);
    e.p.upstream_done = 1;
    e.p.input_overrun = 1;
    sl__upstream_tee_end(NULL, &e.u);
    assert_int_equal(calls.complete, 1);

    /* close-delimited: the close is the end */
    response(&e, -1, 0, 5000);
    e.p.upstream_eof = 1;
    sl__upstream_tee_end(NULL, &e.u);
    assert_int_equal(calls.complete, 1);

    /* chunked: the last chunk is the end */
    response(&e, -1, 1, 5000);
    e.p.upstream_done = 1;
    sl__upstream_tee_end(NULL, &e.u);
    assert_int_equal(calls.complete, 1);

    /* an empty body: no file */
    response(&e, 0, 0, 0);
    e.p.upstream_done = 1;
    sl__upstream_tee_end(NULL, &e.u);
    assert_int_equal(calls.complete, 1);
    assert_null(calls.file);
    assert_int_equal(calls.size, 0);
}

static void test_truncated(void **state)
{
    env_t e;

    (void) state;
    /* closed before Content-Length */
    response(&e, 100, 0, 60);
    e.p.upstream_eof = 1;
    sl__upstream_tee_end(NULL, &e.u);
    assert_int_equal(calls.truncated, 1);
    assert_int_equal(calls.complete, 0);

    /* closed before the last chunk */
    response(&e, -1, 1, 5000);
    e.p.upstream_eof = 1;
    sl__upstream_tee_end(NULL, &e.u);
    assert_int_equal(calls.truncated, 1);

    /* a read error, even at the announced length */
    response(&e, 100, 0, 100);
    e.p.upstream_done = 1;
    e.p.upstream_error = 1;
    sl__upstream_tee_end(NULL, &e.u);
    assert_int_equal(calls.truncated, 1);

    /* the request ended while the body was still coming */
    response(&e, 100, 0, 40);
    sl__upstream_tee_end(NULL, &e.u);
    assert_int_equal(calls.truncated, 1);

    /* no pipe kept the body (proxy_buffering off) */
    response(&e, 100, 0, 100);
    e.u.pipe = NULL;
    sl__upstream_tee_end(NULL, &e.u);
    assert_int_equal(calls.truncated, 1);
    assert_int_equal(calls.complete, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open),
        cmocka_unit_test(test_complete),
        cmocka_unit_test(test_truncated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
