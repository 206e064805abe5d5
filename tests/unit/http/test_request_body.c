/*
 * test_request_body.c: the request body decoder (sl_http_request_body_decode) and the
 * bound on reads (sl_http_request_body_left) that the body reader, the discarder and the
 * streamer share.
 *
 * Each body is followed by the next pipelined request.  It is fed as a reader feeds it:
 * never more than left() asks for at a time, in pieces of every size, the data decoded in
 * place over the bytes it came in.  Whatever the pieces, the data must come out whole, the
 * end must be found exactly where the body ends, and not one byte of the next request may
 * be taken.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "sl_http_request.h"
#include "sl_test_log.h"

static sl_log_t test_log;
static sl_open_file_t log_file;

typedef struct {
    sl_http_request_t r;
    sl_connection_t c;
    sl_http_request_body_t rb;
    sl_http_chunked_t chunked;
} fake_t;

static void fake_init(fake_t *f, int chunked, off_t length)
{
    memset(f, 0, sizeof(*f));
    f->c.log = &test_log;
    f->r.connection = &f->c;
    f->r.request_body = &f->rb;
    f->r.headers_in.chunked = (unsigned) chunked;
    f->r.headers_in.content_length_n = length;
    f->rb.rest = chunked ? -1 : length;
    f->rb.chunked = chunked ? &f->chunked : NULL;
}

static const char NEXT[] = "GET /next HTTP/1.1\r\n\r\n";

/*
 * Feeds wire (a body, then NEXT) in reads of at most `step` bytes, each also bounded by
 * left(), decoding in place.  Returns the decoder's last result; the data decoded goes to
 * out (NUL-terminated), *taken says how many wire bytes were consumed.
 */
static sl_int_t feed(fake_t *f, const char *wire, size_t step, char *out, size_t *taken)
{
    size_t len = strlen(wire), off = 0, olen = 0;
    u_char buf[4096];
    sl_int_t rc = SL_AGAIN;

    while (rc == SL_AGAIN && off < len) {
        off_t left = sl_http_request_body_left(&f->r);
        assert_true(left > 0);
        size_t n = sl_min(sl_min(step, len - off), (size_t) left);
        memcpy(buf, wire + off, n);
        sl_buf_t b = { .pos = buf, .last = buf + n };
        u_char *dst = buf;
        rc = sl_http_request_body_decode(&f->r, &b, &dst);
        /* a read no larger than left() is all body: the decoder takes every byte */
        if (rc != SL_ERROR) {
            assert_ptr_equal(b.pos, b.last);
        }
        memcpy(out + olen, buf, (size_t) (dst - buf));
        olen += (size_t) (dst - buf);
        off += n;
    }
    out[olen] = '\0';
    *taken = off;
    return rc;
}

static void check_body(int chunked, const char *body_wire, const char *data)
{
    char wire[1024], out[1024];

    snprintf(wire, sizeof(wire), "%s%s", body_wire, NEXT);
    for (size_t step = 1; step <= strlen(wire); step++) {
        fake_t f;
        size_t taken;
        fake_init(&f, chunked, chunked ? -1 : (off_t) strlen(data));
        sl_int_t rc = feed(&f, wire, step, out, &taken);
        assert_int_equal(rc, SL_OK);
        assert_string_equal(out, data);
        /* the next request is left where it is */
        assert_int_equal(taken, strlen(body_wire));
        assert_int_equal(f.rb.received, (off_t) strlen(data));
        assert_int_equal(sl_http_request_body_left(&f.r), 0);
    }
}

static void test_content_length(void **state)
{
    (void) state;
    check_body(0, "0123456789", "0123456789");
    check_body(0, "x", "x");
}

static void test_chunked(void **state)
{
    (void) state;
    check_body(1, "5\r\n01234\r\n0\r\n\r\n", "01234");
    check_body(1, "5\r\n01234\r\n4\r\nmany\r\n0\r\n\r\n", "01234many");
    check_body(1, "a;ext=1\r\n0123456789\r\n1\r\nx\r\n0\r\nTrailer: v\r\n\r\n", "0123456789x");
    check_body(1, "0\r\n\r\n", "");
    check_body(1, "00000003\r\nabc\r\n0\r\n\r\n", "abc");
}

/* Data decoded over its own framing into another buffer: the decoder never writes more
 * than it takes, so a buffer as large as the input is enough. */
static void test_decode_elsewhere(void **state)
{
    (void) state;
    fake_t f;
    u_char in[] = "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", out[sizeof(in)];

    fake_init(&f, 1, -1);
    sl_buf_t b = { .pos = in, .last = in + sizeof(in) - 1 };
    u_char *dst = out;
    assert_int_equal(sl_http_request_body_decode(&f.r, &b, &dst), SL_OK);
    assert_int_equal(dst - out, 5);
    assert_memory_equal(out, "abcde", 5);
}

/* A chunk longer than its size says: the runaway chunk nginx answers with 400. */
static void test_bad_chunk(void **state)
{
    (void) state;
    static const char *bad[] = { "4\r\nSEE-THIS\r\n0\r\n\r\n", "z\r\n", "5\r\nabcde\n\n",
                                 "-1\r\n" };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        for (size_t step = 1; step <= strlen(bad[i]); step++) {
            fake_t f;
            char out[64];
            size_t taken;
            fake_init(&f, 1, -1);
            assert_int_equal(feed(&f, bad[i], step, out, &taken), SL_ERROR);
        }
    }
    assert_non_null(strstr(sl_test_log_text(&log_file), "client sent invalid chunked body"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_length),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_decode_elsewhere),
        cmocka_unit_test(test_bad_chunk),
    };

    sl_test_log_open(&test_log, &log_file, SL_LOG_INFO);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
