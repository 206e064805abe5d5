/*
 * test_proxy_body.c: the proxy's body decoders, one per framing (Content-Length, chunked,
 * close-delimited), and their two adapters.
 *
 * The core (sl__proxy_body_next) runs over every table entry fed whole, byte by byte, and
 * split at every position, each piece in a buffer of its own freed after use (so a decoder
 * that kept a pointer fails under ASan); every way must give the same transcript: the body
 * decoded, the result, and the bytes that came past the end.  On the way,
 * sl__proxy_body_left() must never promise more bytes than the body still has (a reader
 * waiting for them would wait forever).  The adapters are checked with a fake request: the
 * unbuffered one (u->input_filter) and the event pipe's (shadow bufs, upstream_done,
 * input_overrun, p->length), with the warnings they log.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "sl_pool.h"
#include "sl_proxy.h"
#include "sl_test_log.h"

#define LENGTH_WARNING "upstream sent more data than specified in \"Content-Length\" header"
#define CHUNK_WARNING "upstream sent data after final chunk"

/* ---- the core, fed in pieces ------------------------------------------------------------ */

typedef struct {
    /** a chunked body, else one of length bytes (-1: close-delimited) */
    int chunked;
    off_t length;
    const char *in;
    /** "[decoded] result" and "+N" for N bytes past the end */
    const char *expect;
} body_case_t;

#define CHUNKED(in, expect)                                                                        \
    {                                                                                              \
        1, -1, in, expect                                                                          \
    }
#define LENGTH(n, in, expect)                                                                      \
    {                                                                                              \
        0, n, in, expect                                                                           \
    }
#define CLOSE(in, expect)                                                                          \
    {                                                                                              \
        0, -1, in, expect                                                                          \
    }

static const body_case_t cases[] = {
    LENGTH(5, "hello", "[hello] done"),
    LENGTH(5, "helloXY", "[hello] done+2"),
    LENGTH(10, "hello", "[hello] again"),
    LENGTH(0, "", "[] done"),
    LENGTH(0, "abc", "[] done+3"),
    LENGTH(1, "ab", "[a] done+1"),
    CLOSE("hello", "[hello] again"),
    CLOSE("", "[] again"),
    CHUNKED("5\r\nhello\r\n0\r\n\r\n", "[hello] done"),
    CHUNKED("5\r\nhello\r\n0\r\n\r\nXYZ", "[hello] done+3"),
    CHUNKED("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", "[abcde] done"),
    CHUNKED("10\r\n0123456789abcdef\r\n0\r\n\r\n", "[0123456789abcdef] done"),
    CHUNKED("3;a=b\r\nabc\r\n0;x=\"y\"\r\nX-T: 1\r\n\r\nZ", "[abc] done+1"),
    CHUNKED("0\r\n\r\n", "[] done"),
    CHUNKED("5\r\nhel", "[hel] again"),
    CHUNKED("5\r\nhello\r\n", "[hello] again"),
    CHUNKED("5\r\nhello\r\n0\r\n", "[hello] again"),
    CHUNKED("5\nhello\r\n0\r\n\r\n", "[] error"),
    CHUNKED("3\r\nabcX\r\n0\r\n\r\n", "[abc] error"),
    CHUNKED("x\r\n", "[] error"),
};

typedef struct {
    char text[256];
    size_t len;
} transcript_t;

static void put(transcript_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(transcript_t *t, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(t->text + t->len, sizeof(t->text) - t->len, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t) n < sizeof(t->text) - t->len);
    t->len += (size_t) n;
}

static const char *rc_name(sl_int_t rc)
{
    return rc == SL_DONE ? "done" : rc == SL_AGAIN ? "again" : rc == SL_ERROR ? "error" : "ok";
}

/*
 * Decodes c->in fed as the pieces that end at cuts[] (then at the end).  end: where a
 * complete body ends in the input (from the whole feed), or 0 when unknown; the decoder's
 * "left" must never reach past it.
 */
static void run(const body_case_t *c, const size_t *cuts, size_t ncuts, size_t end, transcript_t *t)
{
    size_t len = strlen(c->in), from = 0;
    proxy_body_t d;
    sl_int_t rc = SL_AGAIN;

    sl__proxy_body_init(&d, c->chunked, c->length);
    memset(t, 0, sizeof(*t));
    put(t, "[");
    for (size_t i = 0; i <= ncuts && from <= len; i++) {
        size_t to = i < ncuts ? cuts[i] : len;
        u_char *piece = malloc(to - from + 1);
        assert_non_null(piece);
        memcpy(piece, c->in + from, to - from);
        sl_buf_t b = { .pos = piece, .last = piece + (to - from), .start = piece };
        do {
            sl_str_t span = { 99, NULL };
            rc = sl__proxy_body_next(&d, &b, &span);
            assert_true(span.len == 0 || (span.data >= piece && span.data + span.len <= b.pos));
            put(t, "%.*s", (int) span.len, (const char *) span.data);
            off_t left = sl__proxy_body_left(&d);
            size_t at = from + (size_t) (b.pos - piece);
            if (c->length == -1 && !c->chunked) {
                assert_int_equal(left, -1);
            } else if (end) {
                assert_true(left >= 0 && (size_t) left <= end - at);
            }
            if (rc == SL_DONE) {
                assert_int_equal(left, 0);
            }
        } while (rc == SL_OK);
        if (rc == SL_AGAIN) {
            assert_ptr_equal(b.pos, b.last);
        }
        if (rc == SL_DONE) {
            /* the body stays complete: later input is all past it */
            sl_buf_t again = b;
            sl_str_t span;
            assert_int_equal(sl__proxy_body_next(&d, &again, &span), SL_DONE);
            assert_int_equal(span.len, 0);
            assert_ptr_equal(again.pos, b.pos);
            size_t past = (size_t) (b.last - b.pos) + (len - to);
            put(t, "] done");
            if (past) {
                put(t, "+%zu", past);
            }
        }
        free(piece);
        if (rc == SL_DONE || rc == SL_ERROR) {
            break;
        }
        from = to;
        if (to == len) {
            break;
        }
    }
    if (rc != SL_DONE) {
        put(t, "] %s", rc_name(rc));
    }
}

static void test_core_cases(void **state)
{
    (void) state;
    for (size_t i = 0; i < sl_nelems(cases); i++) {
        const body_case_t *c = &cases[i];
        size_t len = strlen(c->in);
        transcript_t whole, t;

        run(c, NULL, 0, 0, &whole);
        if (strcmp(whole.text, c->expect) != 0) {
            fail_msg("case %zu \"%s\": got \"%s\", want \"%s\"", i, c->in, whole.text, c->expect);
        }
        /* where a complete body ends: the input less what came past it */
        const char *plus = strchr(whole.text, '+');
        size_t end =
            strstr(whole.text, "] done") ? len - (plus ? strtoul(plus + 1, NULL, 10) : 0) : 0;
        /* byte by byte */
        size_t cuts[64];
        assert_true(len < sl_nelems(cuts));
        for (size_t k = 1; k < len; k++) {
            cuts[k - 1] = k;
        }
        run(c, cuts, len ? len - 1 : 0, end, &t);
        if (strcmp(t.text, whole.text) != 0) {
            fail_msg("case %zu byte by byte: got \"%s\", want \"%s\"", i, t.text, whole.text);
        }
        /* split once, everywhere */
        for (size_t k = 0; k <= len; k++) {
            run(c, &k, 1, end, &t);
            if (strcmp(t.text, whole.text) != 0) {
                fail_msg("case %zu cut at %zu: got \"%s\", want \"%s\"", i, k, t.text, whole.text);
            }
        }
    }
}

/* A chunk-size line cut between reads is framing, not data: its digits are never passed
 * on, and "left" waits for no more than the shortest body that can follow. */
static void test_core_size_line_cut(void **state)
{
    proxy_body_t d;
    u_char one[] = "1", rest[] = "0\r\n0123456789abcdef\r\n0\r\n\r\n";
    sl_buf_t b = { .pos = one, .last = one + 1 };
    sl_str_t span;

    (void) state;
    sl__proxy_body_init(&d, 1, -1);
    assert_int_equal(sl__proxy_body_left(&d), 4);
    assert_int_equal(sl__proxy_body_next(&d, &b, &span), SL_AGAIN);
    assert_int_equal(span.len, 0);
    /* "1" so far: CRLF, then at least one data byte, CRLF, "0" CRLF CRLF */
    assert_int_equal(sl__proxy_body_left(&d), 1 + 2 + 2 + 5);
    b.pos = rest;
    b.last = rest + sizeof(rest) - 1;
    assert_int_equal(sl__proxy_body_next(&d, &b, &span), SL_OK);
    assert_int_equal(span.len, 16);
    assert_memory_equal(span.data, "0123456789abcdef", 16);
    assert_int_equal(sl__proxy_body_left(&d), 7);
    assert_int_equal(sl__proxy_body_next(&d, &b, &span), SL_DONE);
    assert_ptr_equal(b.pos, b.last);
}

/* ---- the adapters, with a fake request ------------------------------------------------ */

typedef struct {
    sl_open_file_t log_file;
    sl_log_t log;
    sl_pool_t *pool;
    sl_connection_t c;
    sl_http_request_t r;
    void *ctxs[128];
    proxy_ctx_t ctx;
    sl_upstream_t u;
    sl_pipe_t p;
} env_t;

static int setup(void **state)
{
    env_t *e = calloc(1, sizeof(env_t));

    assert_non_null(e);
    sl_test_log_open(&e->log, &e->log_file, SL_LOG_INFO);
    e->pool = sl_pool_create(SL_POOL_DEFAULT_SIZE, &e->log);
    assert_non_null(e->pool);
    e->c.log = &e->log;
    e->r.connection = &e->c;
    e->r.pool = e->pool;
    e->r.ctx = e->ctxs;
    e->r.upstream = &e->u;
    assert_true(sl_http_proxy_module.ctx_index < sl_nelems(e->ctxs));
    sl_http_set_ctx(&e->r, &e->ctx, sl_http_proxy_module);
    e->p.input_ctx = &e->r;
    e->p.last_in = &e->p.in;
    e->p.pool = e->pool;
    e->p.log = &e->log;
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env_t *e = *state;

    sl_pool_destroy(e->pool);
    close(e->log_file.fd);
    free(e);
    return 0;
}

/* How many times the log has s. */
static int logged(env_t *e, const char *s)
{
    int n = 0;

    for (const char *t = sl_test_log_text(&e->log_file); (t = strstr(t, s)) != NULL; t++) {
        n++;
    }
    return n;
}

/* A response framed as chunked/length, set up as the proxy's header_done does. */
static void response(env_t *e, int chunked, off_t length)
{
    e->u.headers_in.chunked = chunked;
    e->u.length = chunked ? -1 : length;
    e->u.keepalive = 1;
    sl__proxy_body_init(&e->ctx.body, chunked, e->u.length);
    /* as start_pipe: a chunked body's first byte is always worth decoding */
    e->p.length = chunked ? 1 : length;
}

/* A raw buffer of the pipe holding s. */
static sl_buf_t *raw(env_t *e, const char *s)
{
    size_t n = strlen(s);
    sl_buf_t *b = sl_create_temp_buf(e->pool, n ? n : 1);

    assert_non_null(b);
    memcpy(b->pos, s, n);
    b->last = b->pos + n;
    return b;
}

/* The pipe's parsed bufs so far, as "abc|de*" (* marks last_shadow). */
static const char *parsed(env_t *e)
{
    static char out[256];
    size_t len = 0;

    out[0] = '\0';
    for (sl_chain_t *cl = e->p.in; cl; cl = cl->next) {
        sl_buf_t *b = cl->buf;
        len += (size_t) snprintf(out + len, sizeof(out) - len, "%s%.*s%s", len ? "|" : "",
                                 (int) (b->last - b->pos), (const char *) b->pos,
                                 b->last_shadow ? "*" : "");
        assert_true(len < sizeof(out));
    }
    return out;
}

static void test_unbuffered_length(void **state)
{
    env_t *e = *state;
    u_char in[] = "abcdef";
    sl_str_t span;

    /* 3 of 4 first, then the rest of the body and two bytes too many */
    sl_buf_t first = { .pos = in, .last = in + 3 };
    response(e, 0, 4);
    assert_int_equal(sl__proxy_input_filter(&e->r, &first, &span), SL_OK);
    assert_int_equal(span.len, 3);
    assert_int_equal(e->u.length, 1);
    assert_int_equal(logged(e, LENGTH_WARNING), 0);
    sl_buf_t second = { .pos = in + 3, .last = in + 6 };
    assert_int_equal(sl__proxy_input_filter(&e->r, &second, &span), SL_DONE);
    assert_int_equal(span.len, 1);
    assert_memory_equal(span.data, "d", 1);
    assert_ptr_equal(second.pos, second.last);
    assert_int_equal(e->u.length, 0);
    assert_false(e->u.keepalive);
    assert_int_equal(logged(e, LENGTH_WARNING), 1);
    assert_true(strstr(sl_test_log_text(&e->log_file), "[warn]") != NULL);
}

static void test_unbuffered_exact_and_close(void **state)
{
    env_t *e = *state;
    u_char in[] = "hello";
    sl_buf_t b = { .pos = in, .last = in + 5 };
    sl_str_t span;

    /* exactly the body (the whole body read with the header): complete, connection kept */
    response(e, 0, 5);
    assert_int_equal(sl__proxy_input_filter(&e->r, &b, &span), SL_DONE);
    assert_int_equal(span.len, 5);
    assert_true(e->u.keepalive);
    /* Content-Length: 0 and nothing after it */
    b.pos = b.last;
    response(e, 0, 0);
    assert_int_equal(sl__proxy_input_filter(&e->r, &b, &span), SL_DONE);
    assert_int_equal(span.len, 0);
    assert_true(e->u.keepalive);
    /* close-delimited: everything is body, u->length stays unknown */
    b.pos = in;
    response(e, 0, -1);
    assert_int_equal(sl__proxy_input_filter(&e->r, &b, &span), SL_OK);
    assert_int_equal(span.len, 5);
    assert_int_equal(e->u.length, -1);
    assert_int_equal(logged(e, "upstream sent"), 0);
}

static void test_unbuffered_chunked(void **state)
{
    env_t *e = *state;
    u_char in[] = "3\r\nabc\r\n0\r\n\r\nXY";
    sl_buf_t b = { .pos = in, .last = in + sizeof(in) - 1 };
    sl_str_t span;

    response(e, 1, -1);
    assert_int_equal(sl__proxy_input_filter(&e->r, &b, &span), SL_OK);
    assert_int_equal(span.len, 3);
    assert_memory_equal(span.data, "abc", 3);
    assert_true(e->u.keepalive);
    assert_int_equal(sl__proxy_input_filter(&e->r, &b, &span), SL_DONE);
    assert_int_equal(span.len, 0);
    assert_ptr_equal(b.pos, b.last);
    assert_false(e->u.keepalive);
    assert_int_equal(e->u.length, -1);
    assert_int_equal(logged(e, CHUNK_WARNING), 1);
    assert_int_equal(logged(e, LENGTH_WARNING), 0);
}

static void test_pipe_length(void **state)
{
    env_t *e = *state;

    response(e, 0, 8);
    assert_int_equal(sl__proxy_pipe_filter(&e->p, raw(e, "abcde")), SL_OK);
    assert_string_equal(parsed(e), "abcde*");
    assert_int_equal(e->p.length, 3);
    assert_false(e->p.upstream_done);
    assert_int_equal(sl__proxy_pipe_filter(&e->p, raw(e, "fghXY")), SL_OK);
    assert_string_equal(parsed(e), "abcde*|fgh*");
    assert_int_equal(e->p.length, 0);
    assert_true(e->p.upstream_done);
    assert_true(e->p.input_overrun);
    assert_int_equal(logged(e, LENGTH_WARNING), 1);
    /* a later buffer of the same read: dropped and marked, not warned of again */
    e->p.input_overrun = 0;
    assert_int_equal(sl__proxy_pipe_filter(&e->p, raw(e, "more")), SL_OK);
    assert_string_equal(parsed(e), "abcde*|fgh*");
    assert_true(e->p.input_overrun);
    assert_int_equal(logged(e, LENGTH_WARNING), 1);
}

static void test_pipe_length_zero_and_close(void **state)
{
    env_t *e = *state;

    /* nothing more was expected: all of it is too much */
    response(e, 0, 0);
    assert_int_equal(sl__proxy_pipe_filter(&e->p, raw(e, "junk")), SL_OK);
    assert_string_equal(parsed(e), "");
    assert_true(e->p.upstream_done);
    assert_true(e->p.input_overrun);
    assert_int_equal(logged(e, LENGTH_WARNING), 1);
    /* close-delimited: one shadow buf over all, the length stays unknown */
    e->p.upstream_done = 0;
    e->p.input_overrun = 0;
    response(e, 0, -1);
    assert_int_equal(sl__proxy_pipe_filter(&e->p, raw(e, "all of it")), SL_OK);
    assert_string_equal(parsed(e), "all of it*");
    assert_int_equal(e->p.length, -1);
    assert_false(e->p.upstream_done);
    assert_false(e->p.input_overrun);
    /* an empty buffer changes nothing */
    assert_int_equal(sl__proxy_pipe_filter(&e->p, raw(e, "")), SL_OK);
    assert_string_equal(parsed(e), "all of it*");
}

static void test_pipe_chunked(void **state)
{
    env_t *e = *state;

    response(e, 1, -1);
    /* a size line cut after its first digit: framing only, no parsed buf */
    sl_buf_t *first = raw(e, "3\r\nabc\r\n1");
    assert_int_equal(sl__proxy_pipe_filter(&e->p, first), SL_OK);
    assert_string_equal(parsed(e), "abc*");
    assert_int_equal(e->p.length, 1 + 2 + 2 + 5);
    sl_buf_t *second = raw(e, "0\r\n0123456789abcdef\r\n2\r\nde\r\n0\r\n\r\n");
    assert_int_equal(sl__proxy_pipe_filter(&e->p, second), SL_OK);
    assert_string_equal(parsed(e), "abc*|0123456789abcdef|de*");
    assert_true(e->p.in->next->buf->shadow == second);
    assert_true(e->p.upstream_done);
    assert_false(e->p.input_overrun);
    assert_int_equal(e->p.length, 0);
    assert_int_equal(logged(e, "upstream sent"), 0);
}

static void test_pipe_chunked_overrun(void **state)
{
    env_t *e = *state;

    response(e, 1, -1);
    assert_int_equal(sl__proxy_pipe_filter(&e->p, raw(e, "2\r\nab\r\n0\r\n\r\nHTTP/1.1")), SL_OK);
    assert_string_equal(parsed(e), "ab*");
    assert_true(e->p.upstream_done);
    assert_true(e->p.input_overrun);
    assert_int_equal(e->p.length, 0);
    assert_int_equal(logged(e, CHUNK_WARNING), 1);
    assert_int_equal(logged(e, LENGTH_WARNING), 0);
}

/* The last chunk ends a raw buffer and the next one of the same read holds more: the
 * connection must not be reused (the bytes would be read as the next response). */
static void test_pipe_chunked_overrun_next_buffer(void **state)
{
    env_t *e = *state;

    response(e, 1, -1);
    assert_int_equal(sl__proxy_pipe_filter(&e->p, raw(e, "2\r\nab\r\n0\r\n\r\n")), SL_OK);
    assert_true(e->p.upstream_done);
    assert_false(e->p.input_overrun);
    assert_int_equal(sl__proxy_pipe_filter(&e->p, raw(e, "HTTP/1.1 200 OK")), SL_OK);
    assert_string_equal(parsed(e), "ab*");
    assert_true(e->p.input_overrun);
}

static void test_pipe_chunked_invalid(void **state)
{
    env_t *e = *state;

    response(e, 1, -1);
    assert_int_equal(sl__proxy_pipe_filter(&e->p, raw(e, "2\r\nabX\r\n")), SL_ERROR);
    assert_int_equal(logged(e, "upstream sent invalid chunked response"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_core_cases),
        cmocka_unit_test(test_core_size_line_cut),
        cmocka_unit_test_setup_teardown(test_unbuffered_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unbuffered_exact_and_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unbuffered_chunked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipe_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipe_length_zero_and_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipe_chunked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipe_chunked_overrun, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipe_chunked_overrun_next_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipe_chunked_invalid, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
