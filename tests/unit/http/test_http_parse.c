/*
 * test_http_parse.c: the HTTP/1.x parsers (request line, header lines, status line, chunked,
 * path normalization).
 *
 * Every table entry is fed whole, byte by byte, split at every position, and (short ones)
 * split at every pair of positions.  On each SL_AGAIN the harness moves the unparsed bytes
 * to a freshly allocated buffer, shifts the parser's pointers as a caller does, and frees
 * the old buffer, so a parser that kept state outside its struct fails under ASan.  All the
 * ways must give the same transcript (results, fields, offsets).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "sl_core.h"
#include "sl_hash.h"
#include "sl_http_parse.h"

/* ---- a string builder for transcripts -------------------------------------------------- */

typedef struct {
    char *data;
    size_t len, cap;
} sb_t;

static void sb_grow(sb_t *sb, size_t n)
{
    if (sb->len + n + 1 > sb->cap) {
        sb->cap = (sb->len + n + 1) * 2;
        sb->data = realloc(sb->data, sb->cap);
        assert_non_null(sb->data);
    }
}

static void sb_printf(sb_t *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(sb_t *sb, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    sb_grow(sb, (size_t) n);
    va_start(ap, fmt);
    vsnprintf(sb->data + sb->len, (size_t) n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t) n;
}

/* Appends bytes, escaping anything unprintable (and '\') as \xNN. */
static void sb_mem(sb_t *sb, const u_char *s, const u_char *e)
{
    for (; s < e; s++) {
        if (*s < 0x20 || *s >= 0x7f || *s == '\\') {
            sb_printf(sb, "\\x%02x", *s);
        } else {
            sb_printf(sb, "%c", *s);
        }
    }
}

static char *sb_take(sb_t *sb)
{
    sb_grow(sb, 0);
    sb->data[sb->len] = '\0';
    return sb->data;
}

static const char *rc_name(sl_int_t rc)
{
    switch (rc) {
    case SL_OK:
        return "ok";
    case SL_AGAIN:
        return "again";
    case SL_DONE:
        return "done";
    case SL_HTTP_PARSE_HEADER_DONE:
        return "done";
    case SL_HTTP_PARSE_INVALID_METHOD:
        return "invalid-method";
    case SL_HTTP_PARSE_INVALID_REQUEST:
        return "invalid-request";
    case SL_HTTP_PARSE_INVALID_VERSION:
        return "invalid-version";
    case SL_HTTP_PARSE_INVALID_09_METHOD:
        return "invalid-09";
    case SL_HTTP_PARSE_INVALID_HEADER:
        return "invalid-header";
    case SL_HTTP_PARSE_INVALID_CHUNK:
        return "invalid-chunk";
    case SL_HTTP_PARSE_INVALID_STATUS:
        return "invalid-status";
    default:
        return "???";
    }
}

/* ---- feeding in pieces, moving the buffer on every SL_AGAIN ---------------------------- */

typedef struct {
    const u_char *in;
    size_t len;
    /* piece ends: cuts[0] < cuts[1] < ... < len; the last piece ends at len */
    const size_t *cuts;
    size_t ncuts, next_cut;
    size_t fed;
    /* input offset of buf[0] */
    size_t base;
    u_char *buf;
    sl_buf_t b;
} feeder_t;

static void feeder_init(feeder_t *f, const u_char *in, size_t len, const size_t *cuts, size_t ncuts)
{
    memset(f, 0, sizeof(*f));
    f->in = in;
    f->len = len;
    f->cuts = cuts;
    f->ncuts = ncuts;
    f->fed = ncuts > 0 ? cuts[0] : len;
    f->next_cut = 1;
    f->buf = malloc(f->fed + 1);
    assert_non_null(f->buf);
    memcpy(f->buf, in, f->fed);
    f->b.start = f->b.pos = f->buf;
    f->b.last = f->buf + f->fed;
    f->b.end = f->b.last;
}

static size_t feeder_offset(const feeder_t *f, const u_char *p)
{
    return f->base + (size_t) (p - f->buf);
}

static void shift(u_char **ptr, intptr_t delta)
{
    if (*ptr != NULL) {
        *ptr = (u_char *) ((uintptr_t) *ptr + (uintptr_t) delta);
    }
}

/* Shifts what a caller shifts: the pointers of the line being parsed. */
static void shift_parser(sl_http_parse_t *p, int in_line, intptr_t delta)
{
    u_char **line[] = {
        &p->request_start, &p->request_end,  &p->method_start, &p->method_end, &p->uri_start,
        &p->uri_end,       &p->schema_start, &p->schema_end,   &p->host_start, &p->host_end,
        &p->port_start,    &p->port_end,     &p->path_start,   &p->path_end,   &p->args_start,
        &p->args_end,      &p->uri_ext,
    };
    u_char **header[] = {
        &p->header_name_start,
        &p->header_name_end,
        &p->header_start,
        &p->header_end,
    };

    if (in_line) {
        for (size_t i = 0; i < sl_nelems(line); i++) {
            shift(line[i], delta);
        }
    } else {
        for (size_t i = 0; i < sl_nelems(header); i++) {
            shift(header[i], delta);
        }
    }
}

/*
 * Appends the next piece after keeping [keep, last) in a new buffer; returns the pointer
 * delta (0 when nothing was left to feed: the caller stops).  The old buffer is freed.
 */
static int feeder_more(feeder_t *f, u_char *keep, intptr_t *delta)
{
    if (f->fed == f->len) {
        return 0;
    }
    size_t next = f->next_cut < f->ncuts ? f->cuts[f->next_cut++] : f->len;
    size_t kept = (size_t) (f->b.last - keep);
    size_t pos_off = (size_t) (f->b.pos - keep);
    u_char *nb = malloc(kept + (next - f->fed) + 1);

    assert_non_null(nb);
    memcpy(nb, keep, kept);
    memcpy(nb + kept, f->in + f->fed, next - f->fed);
    *delta = (intptr_t) ((uintptr_t) nb - (uintptr_t) keep);
    f->base += (size_t) (keep - f->buf);
    free(f->buf);
    f->buf = nb;
    f->b.start = nb;
    f->b.pos = nb + pos_off;
    f->b.last = nb + kept + (next - f->fed);
    f->b.end = f->b.last;
    f->fed = next;
    return 1;
}

/* ---- request transcripts --------------------------------------------------------------- */

static void put_field(sb_t *sb, const char *name, const u_char *s, const u_char *e)
{
    if (s != NULL) {
        sb_printf(sb, " %s=", name);
        sb_mem(sb, s, e);
    }
}

static void check_path_invariant(sl_http_parse_t *p)
{
    if (*p->path_start == '*') {
        return;
    }
    u_char *dst = malloc((size_t) (p->uri_end - p->path_start) + 1);
    sl_str_t out;
    sl_int_t rc = sl_http_parse_complex_uri(p, dst, &out, 1);

    assert_non_null(dst);
    if (!p->complex_uri) {
        /* a path not flagged complex is already normal */
        assert_int_equal(rc, SL_OK);
        assert_int_equal(out.len, (size_t) (p->path_end - p->path_start));
        assert_memory_equal(out.data, p->path_start, out.len);
        u_char *ext = sl_http_uri_ext(out.data, out.data + out.len);
        if (ext == NULL) {
            assert_null(p->uri_ext);
        } else {
            assert_non_null(p->uri_ext);
            assert_int_equal(out.data + out.len - ext, p->path_end - p->uri_ext);
        }
    } else {
        assert_null(p->uri_ext);
    }
    free(dst);
}

static void put_request_line(sb_t *sb, sl_http_parse_t *p)
{
    assert_ptr_equal(p->request_start, p->method_start);
    assert_true(*p->request_end == '\r' || *p->request_end == '\n');
    sb_printf(sb, "m=");
    sb_mem(sb, p->method_start, p->method_end);
    sb_printf(sb, "#%lx", (unsigned long) p->method);
    put_field(sb, "uri", p->uri_start, p->uri_end);
    put_field(sb, "scheme", p->schema_start, p->schema_end);
    put_field(sb, "host", p->host_start, p->host_end);
    put_field(sb, "port", p->port_start, p->port_end);
    put_field(sb, "path", p->path_start, p->path_end);
    put_field(sb, "args", p->args_start, p->args_end);
    put_field(sb, "ext", p->uri_ext, p->path_end);
    sb_printf(sb, " v=%lu%s%s%s\n", (unsigned long) p->http_version,
              p->complex_uri ? " complex" : "", p->quoted_uri ? " quoted" : "",
              p->plus_in_uri ? " plus" : "");
    assert_false(p->space_in_uri);
    if (p->host_start != NULL && p->path_start < p->host_start) {
        /* absolute-form without a path: the '/' of "://" */
        assert_ptr_equal(p->path_start, p->schema_end + 2);
        assert_ptr_equal(p->path_end, p->path_start + 1);
    } else if (p->host_start != NULL) {
        assert_true(p->path_start >= p->host_end);
    }
    check_path_invariant(p);
}

static void put_header(sb_t *sb, sl_http_parse_t *p)
{
    size_t n = (size_t) (p->header_name_end - p->header_name_start);
    u_char low[SL_HTTP_LC_HEADER_LEN];

    if (p->plain_names) {
        assert_false(p->invalid_header); /* plain names allow '_' */
    } else {
        /* the hash and lowercase copy agree with the name */
        assert_int_equal(p->header_hash, sl_hash_key_lc(p->header_name_start, n));
        assert_int_equal(p->lowcase_index, sl_min(n, SL_HTTP_LC_HEADER_LEN));
        sl_strlow(low, p->header_name_start, p->lowcase_index);
        assert_memory_equal(low, p->lowcase_header, p->lowcase_index);
    }

    sb_printf(sb, "h:");
    sb_mem(sb, p->header_name_start, p->header_name_end);
    sb_printf(sb, "=");
    sb_mem(sb, p->header_start, p->header_end);
    sb_printf(sb, "%s\n", p->invalid_header ? " !" : "");
}

/*
 * Parses requests (line and headers, several when pipelined) fed in the pieces given; the
 * transcript ends with the last result and its input offset.  flag: 0 underscores not
 * allowed, 1 allowed, PLAIN_NAMES allowed and plain_names set.
 */
#define PLAIN_NAMES 2

static char *run_request(const u_char *in, size_t len, const size_t *cuts, size_t ncuts, int flag)
{
    int allow_underscores = flag != 0;
    feeder_t f;
    sl_http_parse_t p;
    sb_t sb = { 0 };
    int in_line = 1;
    sl_int_t rc;
    intptr_t delta;

    memset(&p, 0, sizeof(p));
    p.plain_names = flag == PLAIN_NAMES;
    feeder_init(&f, in, len, cuts, ncuts);
    for (;;) {
        rc = in_line ? sl_http_parse_request_line(&p, &f.b)
                     : sl_http_parse_header_line(&p, &f.b, allow_underscores);
        if (rc == SL_AGAIN) {
            assert_ptr_equal(f.b.pos, f.b.last);
            u_char *keep = p.state == 0 ? f.b.pos : in_line ? p.request_start : p.header_name_start;
            if (!feeder_more(&f, keep, &delta)) {
                break;
            }
            shift_parser(&p, in_line, delta);
            continue;
        }
        if (in_line && rc == SL_OK) {
            put_request_line(&sb, &p);
            in_line = 0;
        } else if (!in_line && rc == SL_OK) {
            put_header(&sb, &p);
        } else if (in_line) {
            /* an error: the line so far is request_start..pos, nothing stale is left */
            assert_non_null(p.request_start);
            assert_true(p.request_start <= f.b.pos);
            if (rc == SL_HTTP_PARSE_INVALID_09_METHOD || rc == SL_HTTP_PARSE_INVALID_VERSION) {
                assert_non_null(p.request_end);
            }
            if (p.request_end != NULL) {
                /* set only once the line's CR or LF was seen */
                assert_true(p.request_start <= p.request_end && p.request_end <= f.b.pos);
                assert_true(*p.request_end == '\r' || *p.request_end == '\n');
            }
            sb_printf(&sb, "line@%zu\n", feeder_offset(&f, p.request_start));
            break;
        } else if (rc == SL_HTTP_PARSE_HEADER_DONE && (f.b.pos < f.b.last || f.fed < f.len)) {
            sb_printf(&sb, "done@%zu\n", feeder_offset(&f, f.b.pos));
            in_line = 1; /* pipelined */
        } else {
            break;
        }
    }
    sb_printf(&sb, "%s@%zu", rc_name(rc), feeder_offset(&f, f.b.pos));
    free(f.buf);
    return sb_take(&sb);
}

/*
 * Runs an input every way and checks that all transcripts match the whole-input one, which
 * is returned.
 */
typedef char *(*runner_fn)(const u_char *in, size_t len, const size_t *cuts, size_t ncuts,
                           int flag);

static char *run_all_ways(runner_fn run, const u_char *in, size_t len, int flag)
{
    char *whole = run(in, len, NULL, 0, flag);
    size_t *cuts = malloc((len + 1) * sizeof(size_t));
    char *t;

    assert_non_null(cuts);
    for (size_t i = 0; i < len; i++) {
        cuts[i] = i + 1;
    }
    t = run(in, len, cuts, len, flag);
    if (strcmp(t, whole) != 0) {
        fail_msg("byte by byte:\n%s\nwhole:\n%s", t, whole);
    }
    free(t);
    for (size_t i = 0; i <= len; i++) {
        cuts[0] = i;
        t = run(in, len, cuts, 1, flag);
        if (strcmp(t, whole) != 0) {
            fail_msg("split at %zu:\n%s\nwhole:\n%s", i, t, whole);
        }
        free(t);
    }
    for (size_t i = 0; len <= 64 && i <= len; i++) {
        for (size_t j = i + 1; j <= len; j++) {
            cuts[0] = i;
            cuts[1] = j;
            t = run(in, len, cuts, 2, flag);
            if (strcmp(t, whole) != 0) {
                fail_msg("split at %zu and %zu:\n%s\nwhole:\n%s", i, j, t, whole);
            }
            free(t);
        }
    }
    free(cuts);
    return whole;
}

/*
 * Compares, ignoring "@N" offsets and "line@N" records in got when want has none at that
 * place.
 */
static int transcript_matches(const char *got, const char *want)
{
    while (*want) {
        if (strncmp(got, "line@", 5) == 0 && strncmp(want, "line@", 5) != 0) {
            got = strchr(got, '\n') + 1;
            continue;
        }
        if (*got == '@' && *want != '@') {
            got++;
            while (*got >= '0' && *got <= '9') {
                got++;
            }
            continue;
        }
        if (*got++ != *want++) {
            return 0;
        }
    }
    if (*got == '@') {
        got++;
        while (*got >= '0' && *got <= '9') {
            got++;
        }
    }
    return *got == '\0';
}

typedef struct {
    const char *in;
    size_t len;
    const char *want;
} case_t;

#define T(in, want)                                                                                \
    {                                                                                              \
        in, sizeof(in) - 1, want                                                                   \
    }

static void run_table(runner_fn run, const case_t *cases, size_t n, int flag)
{
    for (size_t i = 0; i < n; i++) {
        char *got = run_all_ways(run, (const u_char *) cases[i].in, cases[i].len, flag);

        if (!transcript_matches(got, cases[i].want)) {
            fail_msg("case %zu: input \"%.*s\"\ngot:\n%s\nwant:\n%s", i, (int) cases[i].len,
                     cases[i].in, got, cases[i].want);
        }
        free(got);
    }
}

/* ---- request line ---------------------------------------------------------------------- */

#define H1 "\r\nHost: a\r\n\r\n"
#define HOSTA "h:Host=a\ndone"

static const case_t request_line_cases[] = {
    /* origin-form, versions, methods */
    T("GET / HTTP/1.1" H1, "m=GET#2 uri=/ path=/ v=1001\n" HOSTA),
    T("GET / HTTP/1.0\r\n\r\n", "m=GET#2 uri=/ path=/ v=1000\ndone@18"),
    T("HEAD /a/b.html?x=1&y=%41 HTTP/1.1" H1,
      "m=HEAD#4 uri=/a/b.html?x=1&y=%41 path=/a/b.html args=x=1&y=%41 ext=html v=1001\n" HOSTA),
    T("POST /a+b HTTP/1.1" H1, "m=POST#8 uri=/a+b path=/a+b v=1001 plus\n" HOSTA),
    T("PUT /x HTTP/1.1" H1, "m=PUT#10 uri=/x path=/x v=1001\n" HOSTA),
    T("DELETE /x HTTP/1.1" H1, "m=DELETE#20 uri=/x path=/x v=1001\n" HOSTA),
    T("MKCOL /x HTTP/1.1" H1, "m=MKCOL#40 uri=/x path=/x v=1001\n" HOSTA),
    T("COPY /x HTTP/1.1" H1, "m=COPY#80 uri=/x path=/x v=1001\n" HOSTA),
    T("MOVE /x HTTP/1.1" H1, "m=MOVE#100 uri=/x path=/x v=1001\n" HOSTA),
    T("OPTIONS /x HTTP/1.1" H1, "m=OPTIONS#200 uri=/x path=/x v=1001\n" HOSTA),
    T("PROPFIND /x HTTP/1.1" H1, "m=PROPFIND#400 uri=/x path=/x v=1001\n" HOSTA),
    T("PROPPATCH /x HTTP/1.1" H1, "m=PROPPATCH#800 uri=/x path=/x v=1001\n" HOSTA),
    T("LOCK /x HTTP/1.1" H1, "m=LOCK#1000 uri=/x path=/x v=1001\n" HOSTA),
    T("UNLOCK /x HTTP/1.1" H1, "m=UNLOCK#2000 uri=/x path=/x v=1001\n" HOSTA),
    T("PATCH /x HTTP/1.1" H1, "m=PATCH#4000 uri=/x path=/x v=1001\n" HOSTA),
    T("TRACE /x HTTP/1.1" H1, "m=TRACE#8000 uri=/x path=/x v=1001\n" HOSTA),
    T("CONNECT / HTTP/1.1" H1, "m=CONNECT#10000 uri=/ path=/ v=1001\n" HOSTA),
    T("CONNECT a:80 HTTP/1.1" H1, "invalid-request@10"),
    T("FOO / HTTP/1.1" H1, "m=FOO#1 uri=/ path=/ v=1001\n" HOSTA),
    T("F_O-O / HTTP/1.1" H1, "m=F_O-O#1 uri=/ path=/ v=1001\n" HOSTA),
    T("GETS / HTTP/1.1" H1, "m=GETS#1 uri=/ path=/ v=1001\n" HOSTA),
    T("get / HTTP/1.1" H1, "invalid-method@0"),
    T("GEt / HTTP/1.1" H1, "invalid-method@2"),
    T("F1 / HTTP/1.1" H1, "invalid-method@1"),
    T(" GET / HTTP/1.1" H1, "invalid-method@0"),
    T("GET\t/ HTTP/1.1" H1, "invalid-method@3"),
    T("GET\r\n", "invalid-method@3"),
    T("\x00GET / HTTP/1.1" H1, "invalid-method@0"),
    /* leading empty lines */
    T("\r\n\r\nGET / HTTP/1.1" H1, "m=GET#2 uri=/ path=/ v=1001\n" HOSTA),
    T("\n\nGET / HTTP/1.0\n\n", "m=GET#2 uri=/ path=/ v=1000\ndone@18"),
    T("\r\rGET / HTTP/1.1" H1, "invalid-request@1"),
    T("\r\n\r\n", "again@4"),
    /* separators: runs of SP as nginx, nothing else */
    T("GET  /  HTTP/1.1  \r\n\r\n", "m=GET#2 uri=/ path=/ v=1001\ndone@22"),
    T("GET /\tHTTP/1.1" H1, "invalid-request@5"),
    T("GET / HTTP/1.1\t" H1, "invalid-request@14"),
    T("GET \r\n", "invalid-request@4"),
    /* versions */
    T("GET / HTTP/1.10" H1, "invalid-request@14"),
    T("GET / HTTP/01.1" H1, "invalid-request@12"),
    T("GET / HTTP/1" H1, "invalid-request@12"),
    T("GET / HTTP/1." H1, "invalid-request@13"),
    T("GET / http/1.1" H1, "invalid-request@6"),
    T("GET / HTTP/1.1x" H1, "invalid-request@14"),
    T("GET / HTTP/1.1 x" H1, "invalid-request@15"),
    T("GET / HTTPS/1.1" H1, "invalid-request@10"),
    T("GET / HTTP/2.0" H1, "invalid-version@16"),
    T("GET / HTTP/1.2" H1, "invalid-version@16"),
    T("GET / HTTP/0.9" H1, "invalid-version@16"),
    T("GET / HTTP/9.9\n", "invalid-version@15"),
    T("GET / HTTP/2.0\rX", "invalid-request@15"),
    /* at the edges of the one-step ending (the usual "HTTP/1.x" CRLF) */
    T("GET / HTTP/1.1\rX", "invalid-request@15"),
    T("GET / HTTP/1.1\r\r\n", "invalid-request@15"),
    T("GET / HTTP/1.x\r\n", "invalid-request@13"),
    T("GET / HTTP/1:1\r\n", "invalid-request@12"),
    T("GET / HTTP/1.0 \r\n\r\n", "m=GET#2 uri=/ path=/ v=1000\ndone@19"),
    T("GET / HTTP/1.9\r\n", "invalid-version@16"),
    T("GET /a?b HTTP/1.1\r\n", "m=GET#2 uri=/a?b path=/a args=b v=1001\nagain@19"),
    /* HTTP/0.9 */
    T("GET /\r\n", "invalid-09@6"),
    T("GET /\n", "invalid-09@5"),
    T("GET / \r\n", "invalid-09@7"),
    T("GET /?a#b\r\n", "invalid-09@10"),
    T("GET http://h\r\n", "invalid-09@13"),
    T("GET /\rX", "invalid-request@6"),
    /* line endings */
    T("GET / HTTP/1.1\nHost: a\n\n", "m=GET#2 uri=/ path=/ v=1001\nh:Host=a\ndone"),
    T("GET / HTTP/1.1\r\r\n", "invalid-request@15"),
    T("GET / HTTP/1.1\rX", "invalid-request@15"),
    /* bytes in the target */
    T("GET /a\x7f"
      "b HTTP/1.1" H1,
      "invalid-request@6"),
    T("GET /a\x01"
      "b HTTP/1.1" H1,
      "invalid-request@6"),
    T("GET /a\x00"
      "b HTTP/1.1" H1,
      "invalid-request@6"),
    T("GET /a\tb HTTP/1.1" H1, "invalid-request@6"),
    T("GET /?a\x7f HTTP/1.1" H1, "invalid-request@7"),
    T("GET /#a\x7f HTTP/1.1" H1, "invalid-request@7"),
    T("GET /a\x80\xff HTTP/1.1" H1, "m=GET#2 uri=/a\\x80\\xff path=/a\\x80\\xff v=1001\n" HOSTA),
    T("GET /a\\b\"<>{} HTTP/1.1" H1,
      "m=GET#2 uri=/a\\x5cb\"<>{} path=/a\\x5cb\"<>{} v=1001\n" HOSTA),
    T("GET /a b HTTP/1.1" H1, "invalid-request@7"),
    T("GET a HTTP/1.1" H1, "invalid-request@5"),
    T("GET ?a HTTP/1.1" H1, "invalid-request@4"),
    T("GET %2F HTTP/1.1" H1, "invalid-request@4"),
    /* fragments, args */
    T("GET /a#b?c HTTP/1.1" H1, "m=GET#2 uri=/a#b?c path=/a v=1001\n" HOSTA),
    T("GET /a?x#y HTTP/1.1" H1, "m=GET#2 uri=/a?x#y path=/a args=x v=1001\n" HOSTA),
    T("GET /?a?b/../%zz HTTP/1.1" H1,
      "m=GET#2 uri=/?a?b/../%zz path=/ args=a?b/../%zz v=1001\n" HOSTA),
    T("GET /a? HTTP/1.1" H1, "m=GET#2 uri=/a? path=/a args= v=1001\n" HOSTA),
    T("GET /a.b.c?x.y HTTP/1.1" H1,
      "m=GET#2 uri=/a.b.c?x.y path=/a.b.c args=x.y ext=c v=1001\n" HOSTA),
    T("GET /a.b/c HTTP/1.1" H1, "m=GET#2 uri=/a.b/c path=/a.b/c v=1001\n" HOSTA),
    T("GET /a/b. HTTP/1.1" H1, "m=GET#2 uri=/a/b. path=/a/b. ext= v=1001\n" HOSTA),
    T("GET /.htaccess HTTP/1.1" H1, "m=GET#2 uri=/.htaccess path=/.htaccess v=1001\n" HOSTA),
    /* complex paths */
    T("GET //a HTTP/1.1" H1, "m=GET#2 uri=//a path=//a v=1001 complex\n" HOSTA),
    T("GET /a/./b HTTP/1.1" H1, "m=GET#2 uri=/a/./b path=/a/./b v=1001 complex\n" HOSTA),
    T("GET /a/../b HTTP/1.1" H1, "m=GET#2 uri=/a/../b path=/a/../b v=1001 complex\n" HOSTA),
    T("GET /a/. HTTP/1.1" H1, "m=GET#2 uri=/a/. path=/a/. v=1001 complex\n" HOSTA),
    T("GET /a/.. HTTP/1.1" H1, "m=GET#2 uri=/a/.. path=/a/.. v=1001 complex\n" HOSTA),
    T("GET /a/..?x HTTP/1.1" H1, "m=GET#2 uri=/a/..?x path=/a/.. args=x v=1001 complex\n" HOSTA),
    T("GET /a/.#x HTTP/1.1" H1, "m=GET#2 uri=/a/.#x path=/a/. v=1001 complex\n" HOSTA),
    T("GET /a/.../b HTTP/1.1" H1, "m=GET#2 uri=/a/.../b path=/a/.../b v=1001\n" HOSTA),
    T("GET /a/...x HTTP/1.1" H1, "m=GET#2 uri=/a/...x path=/a/...x v=1001\n" HOSTA),
    T("GET /a/....x HTTP/1.1" H1, "m=GET#2 uri=/a/....x path=/a/....x ext=x v=1001\n" HOSTA),
    T("GET /a/.x.y HTTP/1.1" H1, "m=GET#2 uri=/a/.x.y path=/a/.x.y ext=y v=1001\n" HOSTA),
    T("GET /a.b/.c HTTP/1.1" H1, "m=GET#2 uri=/a.b/.c path=/a.b/.c v=1001\n" HOSTA),
    T("GET /a/.b/..c HTTP/1.1" H1, "m=GET#2 uri=/a/.b/..c path=/a/.b/..c v=1001\n" HOSTA),
    T("GET /%41+b HTTP/1.1" H1,
      "m=GET#2 uri=/%41+b path=/%41+b v=1001 complex quoted plus\n" HOSTA),
    T("GET //a%41 HTTP/1.1" H1, "m=GET#2 uri=//a%41 path=//a%41 v=1001 complex quoted\n" HOSTA),
    T("GET /a?%41 HTTP/1.1" H1, "m=GET#2 uri=/a?%41 path=/a args=%41 v=1001\n" HOSTA),
    /* absolute-form */
    T("GET http://foo:81/x?y HTTP/1.1" H1,
      "m=GET#2 uri=http://foo:81/x?y scheme=http host=foo port=81 path=/x args=y v=1001\n" HOSTA),
    T("GET http://foo HTTP/1.1" H1,
      "m=GET#2 uri=http://foo scheme=http host=foo path=/ v=1001\n" HOSTA),
    T("GET http://foo?a HTTP/1.1" H1,
      "m=GET#2 uri=http://foo?a scheme=http host=foo path=/ args=a v=1001\n" HOSTA),
    T("GET http://foo:80?a HTTP/1.1" H1,
      "m=GET#2 uri=http://foo:80?a scheme=http host=foo port=80 path=/ args=a v=1001\n" HOSTA),
    T("GET http://foo: HTTP/1.1" H1,
      "m=GET#2 uri=http://foo: scheme=http host=foo port= path=/ v=1001\n" HOSTA),
    T("GET HTTPS://Foo.Example.com./a/../b HTTP/1.1" H1,
      "m=GET#2 uri=HTTPS://Foo.Example.com./a/../b scheme=HTTPS host=Foo.Example.com. "
      "path=/a/../b v=1001 complex\n" HOSTA),
    T("GET http://1.2.3.4/ HTTP/1.1" H1,
      "m=GET#2 uri=http://1.2.3.4/ scheme=http host=1.2.3.4 path=/ v=1001\n" HOSTA),
    T("GET http://[::1]:8080/p HTTP/1.1" H1,
      "m=GET#2 uri=http://[::1]:8080/p scheme=http host=[::1] port=8080 path=/p v=1001\n" HOSTA),
    T("GET http://[::ffff:1.2.3.4] HTTP/1.1" H1, "m=GET#2 uri=http://[::ffff:1.2.3.4] scheme=http "
                                                 "host=[::ffff:1.2.3.4] path=/ v=1001\n" HOSTA),
    T("GET http://[] HTTP/1.1" H1, "invalid-request@12"),
    T("GET http://[::1 HTTP/1.1" H1, "invalid-request@15"),
    T("GET http://[zz]/ HTTP/1.1" H1, "invalid-request@12"),
    T("GET http://[::1]x HTTP/1.1" H1, "invalid-request@16"),
    T("GET http://u@foo/ HTTP/1.1" H1, "invalid-request@12"),
    T("GET http:///x HTTP/1.1" H1, "invalid-request@11"),
    T("GET http:/x HTTP/1.1" H1, "invalid-request@10"),
    T("GET http:x HTTP/1.1" H1, "invalid-request@9"),
    T("GET h1tp://x/ HTTP/1.1" H1, "invalid-request@5"),
    T("GET http://a_b/ HTTP/1.1" H1, "invalid-request@12"),
    T("GET http://a!b/ HTTP/1.1" H1, "invalid-request@12"),
    T("GET http://x#f HTTP/1.1" H1, "invalid-request@12"),
    T("GET http://x:8a/ HTTP/1.1" H1, "invalid-request@14"),
    T("GET http://x/a b HTTP/1.1" H1, "invalid-request@15"),
    /* asterisk-form, only for OPTIONS */
    T("OPTIONS * HTTP/1.1" H1, "m=OPTIONS#200 uri=* path=* v=1001\n" HOSTA),
    T("GET * HTTP/1.1" H1, "invalid-request@4"),
    T("OPTIONS *a HTTP/1.1" H1, "invalid-request@9"),
    T("OPTIONS *\r\n", "invalid-09@10"),
    /* the line so far when input ends */
    T("GET /index.html HTTP/1.", "again@23"),
};

static void test_request_line(void **state)
{
    (void) state;
    run_table(run_request, request_line_cases, sl_nelems(request_line_cases), 0);
}

/* ---- header lines ---------------------------------------------------------------------- */

#define RL "GET / HTTP/1.1\r\n"
#define RLW "m=GET#2 uri=/ path=/ v=1001\n"

static const case_t header_cases[] = {
    T(RL "Host: a\r\nFoo:x\r\nBar:   y  \t \r\nEmpty:\r\nE2:  \r\n\r\n",
      RLW "h:Host=a\nh:Foo=x\nh:Bar=y\nh:Empty=\nh:E2=\ndone"),
    T(RL "Foo: a  b\tc\r\n\r\n", RLW "h:Foo=a  b\\x09c\ndone"),
    T(RL "Foo: \x80\xff\xfe\r\n\r\n", RLW "h:Foo=\\x80\\xff\\xfe\ndone"),
    T(RL "Foo: a\n\n", RLW "h:Foo=a\ndone"),
    T(RL "Foo: a\r\n\n", RLW "h:Foo=a\ndone"),
    T(RL "Foo: a\n\r\n", RLW "h:Foo=a\ndone"),
    T(RL "!#$%&'*+-.^_`|~09azAZ: x\r\n\r\n", RLW "h:!#$%&'*+-.^_`|~09azAZ=x !\ndone"),
    T(RL "X_Y: 1\r\nX-Y: 2\r\n\r\n", RLW "h:X_Y=1 !\nh:X-Y=2\ndone"),
    /* names */
    T(RL "Foo : x\r\n\r\n", RLW "invalid-header@19"),
    T(RL "Foo\t: x\r\n\r\n", RLW "invalid-header@19"),
    T(RL ": x\r\n\r\n", RLW "invalid-header@16"),
    T(RL "Foo\r\n\r\n", RLW "invalid-header@19"),
    T(RL "Foo\n\n", RLW "invalid-header@19"),
    T(RL "Fo@o: x\r\n\r\n", RLW "invalid-header@18"),
    T(RL "Fo(o: x\r\n\r\n", RLW "invalid-header@18"),
    T(RL "Fo{o}: x\r\n\r\n", RLW "invalid-header@18"),
    T(RL "Fo\x80o: x\r\n\r\n", RLW "invalid-header@18"),
    T(RL "Fo\x00o: x\r\n\r\n", RLW "invalid-header@18"),
    T(RL "Fo\x01o: x\r\n\r\n", RLW "invalid-header@18"),
    /* obs-fold and whitespace after the start line */
    T(RL "Foo: a\r\n b\r\n\r\n", RLW "h:Foo=a\ninvalid-header@24"),
    T(RL "Foo: a\r\n\tb\r\n\r\n", RLW "h:Foo=a\ninvalid-header@24"),
    T(RL " Foo: a\r\n\r\n", RLW "invalid-header@16"),
    /* values */
    T(RL "Foo: a\x00"
         "b\r\n\r\n",
      RLW "invalid-header@22"),
    T(RL "Foo: a\x01"
         "b\r\n\r\n",
      RLW "invalid-header@22"),
    T(RL "Foo: a\x1f"
         "b\r\n\r\n",
      RLW "invalid-header@22"),
    T(RL "Foo: a\x7f"
         "b\r\n\r\n",
      RLW "invalid-header@22"),
    T(RL "Foo: a\rb\r\n\r\n", RLW "invalid-header@23"),
    T(RL "Foo: a\r\r\n\r\n", RLW "invalid-header@23"),
    T(RL "Foo: a\r\n\rX", RLW "h:Foo=a\ninvalid-header@25"),
    T(RL "Foo: a\r\n\r\r\n", RLW "h:Foo=a\ninvalid-header@25"),
    /* CL + TE is the caller's business: both come through */
    T(RL "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
      RLW "h:Content-Length=5\nh:Transfer-Encoding=chunked\ndone"),
    /* pipelined: the second request starts right after the first one's empty line */
    T("GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: b\r\n\r\n",
      "m=GET#2 uri=/a path=/a v=1001\nh:Host=a\ndone@28\n"
      "m=GET#2 uri=/b path=/b v=1001\nh:Host=b\ndone@56"),
    T("GET /a HTTP/1.1\r\n\r\n\r\nPOST /b HTTP/1.0\n\n",
      "m=GET#2 uri=/a path=/a v=1001\ndone@19\nm=POST#8 uri=/b path=/b v=1000\ndone@39"),
    T("GET /a HTTP/1.1\r\n\r\nget /b HTTP/1.1\r\n\r\n",
      "m=GET#2 uri=/a path=/a v=1001\ndone@19\nline@19\ninvalid-method@19"),
    T("GET /a HTTP/1.1\r\n\r\n\r\n\n\r\nGET /b\r\n",
      "m=GET#2 uri=/a path=/a v=1001\ndone@19\nline@24\ninvalid-09@31"),
    T("GET /a HTTP/1.1\r\n\r\n\r\n\rX",
      "m=GET#2 uri=/a path=/a v=1001\ndone@19\nline@21\ninvalid-request@22"),
    T(RL "Host: a\r\n", RLW "h:Host=a\nagain"),
    T(RL "Host: a\r", RLW "again"),
};

static void test_header_lines(void **state)
{
    (void) state;
    run_table(run_request, header_cases, sl_nelems(header_cases), 0);
}

static void test_underscores_allowed(void **state)
{
    static const case_t cases[] = {
        T(RL "X_Y: 1\r\n\r\n", RLW "h:X_Y=1\ndone"),
    };

    (void) state;
    run_table(run_request, cases, sl_nelems(cases), 1);
}

/* Runs in every way with underscores allowed, with and without plain_names: the same. */
static void expect_plain_names_same(const u_char *in, size_t len)
{
    char *full = run_all_ways(run_request, in, len, 1);
    char *plain = run_all_ways(run_request, in, len, PLAIN_NAMES);

    if (strcmp(full, plain) != 0) {
        fail_msg("input \"%.*s\"\nplain_names:\n%s\nhashed names:\n%s", (int) len, in, plain, full);
    }
    free(full);
    free(plain);
}

/* The same, whole and byte by byte only: for sweeps too large for every split. */
static void expect_plain_names_same_quick(const u_char *in, size_t len)
{
    size_t cuts[128];

    for (size_t i = 0; i < len && i < sl_nelems(cuts); i++) {
        cuts[i] = i + 1;
    }
    for (size_t ncuts = 0; ncuts <= len; ncuts += len) {
        char *full = run_request(in, len, ncuts ? cuts : NULL, ncuts, 1);
        char *plain = run_request(in, len, ncuts ? cuts : NULL, ncuts, PLAIN_NAMES);

        if (strcmp(full, plain) != 0) {
            fail_msg("input \"%.*s\"\nplain_names:\n%s\nhashed names:\n%s", (int) len, in, plain,
                     full);
        }
        free(full);
        free(plain);
    }
}

/* plain_names (the proxy's response headers) skips the hash and lowercase copy only: every
 * table case, every byte in a name at each offset of the sixteen- and four-byte steps, names of every
 * length around them, parse the same. */
static void test_plain_names(void **state)
{
    u_char in[128];
    size_t n;

    (void) state;
    for (size_t i = 0; i < sl_nelems(header_cases); i++) {
        expect_plain_names_same((const u_char *) header_cases[i].in, header_cases[i].len);
    }
    for (int c = 0; c < 256; c++) {
        /* every offset of the 16-byte and the 4-byte steps, the ':' and the value's start */
        for (size_t at = 0; at < 24; at++) {
            n = (size_t) snprintf((char *) in, sizeof(in), RL "Abcdefghij-Klmnop09zZ: x\r\n\r\n");
            in[sizeof(RL) - 1 + at] = (u_char) c;
            expect_plain_names_same_quick(in, n);
        }
    }
    for (size_t name = 1; name <= 40; name++) {
        n = (size_t) snprintf((char *) in, sizeof(in), RL "%.*s: v\r\n\r\n", (int) name,
                              "Abcdefghij-Klmnopqrst_Uvwxyz0123~!#$%&'*+.^`|");
        expect_plain_names_same(in, n);
    }
}

/* Many headers, long names and values: built at run time. */
static void test_many_and_long_headers(void **state)
{
    sb_t in = { 0 }, want = { 0 };
    char *got;

    (void) state;
    sb_printf(&in, "GET / HTTP/1.1\r\n");
    sb_printf(&want, RLW);
    for (int i = 0; i < 120; i++) {
        sb_printf(&in, "X-Header-%d: value %d\r\n", i, i);
        sb_printf(&want, "h:X-Header-%d=value %d\n", i, i);
    }
    /* a 100-byte name (hash over all of it, lowercase copy of 32) and a 20000-byte value */
    sb_printf(&in, "%s: ",
              "X-Very-Long-Name-0123456789-abcdefghijklmnopqrstuvwxyz-"
              "ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789-ABCDEFGHIJ");
    sb_printf(&want, "h:%s=",
              "X-Very-Long-Name-0123456789-abcdefghijklmnopqrstuvwxyz-"
              "ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789-ABCDEFGHIJ");
    for (int i = 0; i < 2000; i++) {
        sb_printf(&in, "%s", i % 7 == 0 ? "abc\tdefgh " : "0123456789");
        sb_printf(&want, "%s", i % 7 == 0 ? "abc\\x09defgh " : "0123456789");
    }
    sb_printf(&in, "  \r\n\r\n");
    sb_printf(&want, "\ndone");
    sb_take(&in);
    sb_take(&want);

    got = run_request((u_char *) in.data, in.len, NULL, 0, 0);
    assert_true(transcript_matches(got, want.data));
    free(got);

    /* byte by byte and a few splits (every split would take long) */
    size_t *cuts = malloc(in.len * sizeof(size_t));
    assert_non_null(cuts);
    for (size_t i = 0; i < in.len; i++) {
        cuts[i] = i + 1;
    }
    got = run_request((u_char *) in.data, in.len, cuts, in.len, 0);
    assert_true(transcript_matches(got, want.data));
    free(got);
    for (size_t i = 0; i < in.len; i += 97) {
        cuts[0] = i;
        got = run_request((u_char *) in.data, in.len, cuts, 1, 0);
        assert_true(transcript_matches(got, want.data));
        free(got);
    }
    free(cuts);
    free(in.data);
    free(want.data);
}

/* The hash is the one an SL_HASH_LOWCASE table is looked up with. */
static void test_header_hash(void **state)
{
    static const u_char line[] = "Content-LENGTH: 5\r\n";
    sl_http_parse_t p;
    sl_buf_t b;

    (void) state;
    memset(&p, 0, sizeof(p));
    memset(&b, 0, sizeof(b));
    b.pos = (u_char *) line;
    b.last = b.pos + sizeof(line) - 1;
    assert_int_equal(sl_http_parse_header_line(&p, &b, 0), SL_OK);
    assert_int_equal(p.header_hash, sl_hash_key((const u_char *) "content-length", 14));
    assert_int_equal(p.lowcase_index, 14);
    assert_memory_equal(p.lowcase_header, "content-length", 14);
    assert_ptr_equal(b.pos, b.last);
    assert_int_equal(p.state, 0);
}

/* ---- path normalization ---------------------------------------------------------------- */

typedef struct {
    const char *path; /* the request-target */
    int merge;
    const char *want; /* NULL: invalid */
    const char *ext;  /* NULL: none */
} uri_case_t;

static const uri_case_t uri_cases[] = {
    { "/", 1, "/", NULL },
    { "/a/b", 1, "/a/b", NULL },
    { "/a%41b", 1, "/aAb", NULL },
    { "/%e2%82%AC", 1, "/\xe2\x82\xac", NULL },
    { "/a%2fb", 1, "/a/b", NULL },
    { "/a/b%2F", 1, "/a/b/", NULL },
    { "/a%20b.txt", 1, "/a b.txt", "txt" },
    { "/a%2Ehtml", 1, "/a.html", "html" },
    { "/a%", 1, NULL, NULL },
    { "/a%4", 1, NULL, NULL },
    { "/a%4?x", 1, NULL, NULL },
    { "/a%zz", 1, NULL, NULL },
    { "/a%g1", 1, NULL, NULL },
    { "/a%1g", 1, NULL, NULL },
    { "/a%00b", 1, NULL, NULL },
    { "/a%01b", 1,
      "/a\x01"
      "b",
      NULL },
    { "/a%41?x%zz", 1, "/aA", NULL },
    /* slashes */
    { "//a///b//", 1, "/a/b/", NULL },
    { "//a///b//", 0, "//a///b//", NULL },
    /* dot segments */
    { "/a/./b", 1, "/a/b", NULL },
    { "/a/../b", 1, "/b", NULL },
    { "/a/b/../../c", 1, "/c", NULL },
    { "/a/.", 1, "/a/", NULL },
    { "/a/..", 1, "/", NULL },
    { "/a/b/..?x", 1, "/a/", NULL },
    { "/.", 1, "/", NULL },
    { "/./", 1, "/", NULL },
    { "/.//b", 1, "/b", NULL },
    { "/..", 1, NULL, NULL },
    { "/../a", 1, NULL, NULL },
    { "/a/../..", 1, NULL, NULL },
    { "/a/../../b", 1, NULL, NULL },
    { "//..", 1, NULL, NULL },
    { "//..", 0, "/", NULL },
    { "/a//../b", 1, "/b", NULL },
    { "/a//../b", 0, "/a/b", NULL },
    { "/a/.../b", 1, "/a/.../b", NULL },
    { "/a/..b/../c.d", 1, "/a/c.d", "d" },
    { "/a/.b", 1, "/a/.b", NULL },
    { "/a/.b.c", 1, "/a/.b.c", "c" },
    { "/a/...", 1, "/a/...", NULL },
    { "/a/....x", 1, "/a/....x", "x" },
    { "/a/b.c/..", 1, "/a/", NULL },
    /* decoded dots and slashes count (nginx decodes first) */
    { "/a/%2e%2e/b", 1, "/b", NULL },
    { "/a/%2E%2E/b", 1, "/b", NULL },
    { "/a/.%2e", 1, "/", NULL },
    { "/a/%2e", 1, "/a/", NULL },
    { "/%2e%2e", 1, NULL, NULL },
    { "/a/%2e%2e", 1, "/", NULL },
    { "/a%2F..%2Fb", 1, "/b", NULL },
    { "/a/%2F../b", 1, "/b", NULL },
    { "/a/..%2f..%2f", 1, NULL, NULL },
    { "/a/b/%2e%2e%2f%2e%2e", 1, "/", NULL },
    /* absolute-form: the path alone; no path reads as "/" */
    { "http://h/a/./b?q", 1, "/a/b", NULL },
    { "http://h:80/%41", 1, "/A", NULL },
    { "http://h?q", 1, "/", NULL },
    { "http://h", 1, "/", NULL },
    { "/a#/../..", 1, "/a", NULL },
};

static void test_complex_uri(void **state)
{
    (void) state;
    for (size_t i = 0; i < sl_nelems(uri_cases); i++) {
        const uri_case_t *c = &uri_cases[i];
        char line[256];
        sl_http_parse_t p;
        sl_buf_t b;
        sl_str_t out;
        u_char dst[256];
        sl_int_t rc;

        snprintf(line, sizeof(line), "GET %s HTTP/1.1\r\n", c->path);
        memset(&p, 0, sizeof(p));
        memset(&b, 0, sizeof(b));
        b.pos = (u_char *) line;
        b.last = b.pos + strlen(line);
        assert_int_equal(sl_http_parse_request_line(&p, &b), SL_OK);
        memset(dst, 0xee, sizeof(dst));
        rc = sl_http_parse_complex_uri(&p, dst, &out, c->merge);
        if (c->want == NULL) {
            if (rc != SL_HTTP_PARSE_INVALID_REQUEST) {
                fail_msg("%s: want invalid, got %d \"%.*s\"", c->path, (int) rc, (int) out.len,
                         out.data);
            }
            continue;
        }
        if (rc != SL_OK || out.len != strlen(c->want) || memcmp(out.data, c->want, out.len)) {
            fail_msg("%s (merge %d): want \"%s\", got %d \"%.*s\"", c->path, c->merge, c->want,
                     (int) rc, rc == SL_OK ? (int) out.len : 0, out.data);
        }
        /* it fits the room the contract promises */
        assert_true(out.len <= (size_t) (p.uri_end - p.path_start));
        assert_int_equal(dst[p.uri_end - p.path_start], 0xee);
        u_char *ext = sl_http_uri_ext(out.data, out.data + out.len);
        if (c->ext == NULL) {
            assert_null(ext);
        } else {
            assert_non_null(ext);
            assert_int_equal((size_t) (out.data + out.len - ext), strlen(c->ext));
            assert_memory_equal(ext, c->ext, strlen(c->ext));
        }
    }
}

/* X-Accel-Redirect's check: want NULL for unsafe; args NULL when none was split off. */
static void test_unsafe_uri(void **state)
{
    static const struct {
        const char *in, *want, *args;
    } cases[] = {
        { "/index.html", "/index.html", NULL },
        { "/foo?bar", "/foo", "bar" },
        { "/foo?", "/foo", "" },
        { "/foo%20bar", "/foo bar", NULL },
        /* decoded once: a "%3F" stays in the path, "%25" gives a '%' that stays */
        { "/a%3Fb=c", "/a?b=c", NULL },
        { "/a%3F%2e%2e/x", "/a?../x", NULL },
        { "/a%2541", "/a%41", NULL },
        { "/t/%252e%252e/etc", "/t/%2e%2e/etc", NULL },
        { "/a%2Fb", "/a/b", NULL },
        /* a '%' without two hex digits: dropped as nginx drops it */
        { "/a%zz", "/azz", NULL },
        { "/a%2zq", "/aq", NULL },
        { "/a%%41", "/a%41", NULL },
        { "/a%2%41", "/a41", NULL },
        { "/a%2", "/a", NULL },
        { "/a%", "/a", NULL },
        /* the args are neither decoded nor checked */
        { "/a?x=%2e%2e", "/a", "x=%2e%2e" },
        { "/a?../..", "/a", "../.." },
        { "..x", "..x", NULL },
        { "/..x/y..", "/..x/y..", NULL },
        { "", NULL, NULL },
        { "?a", NULL, NULL },
        { "..", NULL, NULL },
        { "../foo", NULL, NULL },
        { "/foo/..", NULL, NULL },
        { "/foo/../bar", NULL, NULL },
        { "/foo/.", NULL, NULL },
        { "/foo/.%2e", NULL, NULL },
        { "/foo/%2E%2E/bar", NULL, NULL },
        { "/foo%2F..", NULL, NULL },
        { "/foo/..%2f", NULL, NULL },
        { "/a%00b", NULL, NULL },
        { "%3Fa", "?a", NULL },
    };

    (void) state;
    for (size_t i = 0; i < sl_nelems(cases); i++) {
        char in[64];
        u_char dst[64];
        sl_str_t uri = { strlen(cases[i].in), (u_char *) in }, args = { 0, NULL };

        memcpy(in, cases[i].in, uri.len);
        sl_int_t rc = sl_http_parse_unsafe_uri(dst, &uri, &args);
        if (cases[i].want == NULL) {
            if (rc != SL_DECLINED) {
                fail_msg("\"%s\": want unsafe, got \"%.*s\"", cases[i].in, (int) uri.len, uri.data);
            }
            continue;
        }
        if (rc != SL_OK || uri.len != strlen(cases[i].want)
            || memcmp(uri.data, cases[i].want, uri.len) != 0) {
            fail_msg("\"%s\": want \"%s\", got %d \"%.*s\"", cases[i].in, cases[i].want, (int) rc,
                     (int) uri.len, uri.data);
        }
        if (cases[i].args == NULL) {
            assert_null(args.data);
        } else {
            assert_non_null(args.data);
            assert_int_equal(args.len, strlen(cases[i].args));
            assert_memory_equal(args.data, cases[i].args, args.len);
        }
    }
}

static void test_uri_ext(void **state)
{
    static const struct {
        const char *path, *ext;
    } cases[] = {
        { "/a.html", "html" }, { "/a.b.c", "c" }, { "/a.b/c", NULL }, { "/a.", "" },
        { "/", NULL },         { "", NULL },      { "a.b", "b" },     { "/.x", NULL },
        { "/..x", NULL },      { "/...x", NULL }, { "/....x", "x" },  { "/.x.y", "y" },
        { "/..x.y", "y" },     { "/x/.", NULL },  { "/a..", "" },     { ".", NULL },
    };

    (void) state;
    for (size_t i = 0; i < sl_nelems(cases); i++) {
        const u_char *s = (const u_char *) cases[i].path;
        const u_char *e = s + strlen(cases[i].path);
        u_char *ext = sl_http_uri_ext(s, e);

        if (cases[i].ext == NULL) {
            assert_null(ext);
        } else {
            assert_non_null(ext);
            assert_int_equal((size_t) (e - ext), strlen(cases[i].ext));
            assert_memory_equal(ext, cases[i].ext, strlen(cases[i].ext));
        }
    }
}

/* ---- status line ----------------------------------------------------------------------- */

static char *run_status(const u_char *in, size_t len, const size_t *cuts, size_t ncuts, int unused)
{
    (void) unused;
    feeder_t f;
    sl_http_parse_t p;
    sl_http_status_t st;
    sb_t sb = { 0 };
    sl_int_t rc;
    intptr_t delta;

    memset(&p, 0, sizeof(p));
    memset(&st, 0, sizeof(st));
    feeder_init(&f, in, len, cuts, ncuts);
    for (;;) {
        rc = sl_http_parse_status_line(&p, &f.b, &st);
        if (rc != SL_AGAIN) {
            break;
        }
        assert_ptr_equal(f.b.pos, f.b.last);
        if (!feeder_more(&f, p.state == 0 ? f.b.pos : p.request_start, &delta)) {
            break;
        }
        shift_parser(&p, 1, delta);
        shift(&st.start, delta);
    }
    if (rc == SL_OK) {
        sb_printf(&sb, "%lu v=%lu [", (unsigned long) st.code, (unsigned long) st.http_version);
        sb_mem(&sb, st.start, st.end);
        sb_printf(&sb, "]\n");
    }
    sb_printf(&sb, "%s@%zu", rc_name(rc), feeder_offset(&f, f.b.pos));
    free(f.buf);
    return sb_take(&sb);
}

static const case_t status_cases[] = {
    T("HTTP/1.1 200 OK\r\nServer: x\r\n", "200 v=1001 [200 OK]\nok@17"),
    T("HTTP/1.0 404 Not Found\n", "404 v=1000 [404 Not Found]\nok@23"),
    T("HTTP/1.1 200\r\n", "200 v=1001 [200]\nok@14"),
    T("HTTP/1.1 200 \r\n", "200 v=1001 [200 ]\nok@15"),
    T("HTTP/1.1  204  No\tContent \r\n", "204 v=1001 [204  No\\x09Content ]\nok@28"),
    T("HTTP/1.1 999 Z\r\n", "999 v=1001 [999 Z]\nok"),
    T("HTTP/1.1 100 Continue\r\n\r\n", "100 v=1001 [100 Continue]\nok@23"),
    T("HTTP/2.0 200 OK\r\n", "200 v=2000 [200 OK]\nok"),
    T("HTTP/1.10 200 OK\r\n", "200 v=1010 [200 OK]\nok"),
    T("HTTP/99.999 200 OK\r\n", "200 v=99999 [200 OK]\nok"),
    T("HTTP/1.1 200 \x80\xff\r\n", "200 v=1001 [200 \\x80\\xff]\nok"),
    T("HTTP/100.1 200 OK\r\n", "invalid-status@7"),
    T("HTTP/1.1000 200 OK\r\n", "invalid-status@10"),
    T("HTTP/1 200 OK\r\n", "invalid-status@6"),
    T("HTTP/.1 200 OK\r\n", "invalid-status@5"),
    T("HTTP/1. 200 OK\r\n", "invalid-status@7"),
    T("http/1.1 200 OK\r\n", "invalid-status@0"),
    T("HTTP/1.1 099 X\r\n", "invalid-status@12"),
    T("HTTP/1.1 20 X\r\n", "invalid-status@11"),
    T("HTTP/1.1 2000 X\r\n", "invalid-status@12"),
    T("HTTP/1.1 20x X\r\n", "invalid-status@11"),
    T("HTTP/1.1 200OK\r\n", "invalid-status@12"),
    T("HTTP/1.1\t200 OK\r\n", "invalid-status@8"),
    T("HTTP/1.1 200 O\x01K\r\n", "invalid-status@14"),
    T("HTTP/1.1 200 O\x00K\r\n", "invalid-status@14"),
    T("HTTP/1.1 200 OK\rContent-Length: 2\r\n", "invalid-status@16"),
    T("HTTP/1.1 200 OK", "again@15"),
    T("ICY 200 OK\r\n", "invalid-status@0"),
    /* at the edges of the one-step start (the usual "HTTP/1.x DDD") */
    T("HTTP/1.1 200\n", "200 v=1001 [200]\nok@13"),
    T("HTTP/1.0 100", "again@12"),
    T("HTTP/1.1 200 O", "again@14"),
    T("HTTP/1.12 200 OK\r\n", "200 v=1012 [200 OK]\nok"),
    T("HTTP/1.1 200X\r\n", "invalid-status@12"),
    T("HTTP/1.1 2a0 OK\r\n", "invalid-status@10"),
    T("HTTP/1.1 20a OK\r\n", "invalid-status@11"),
    T("HTTP/1.x 200 OK\r\n", "invalid-status@7"),
    T("HTTP/1:1 200 OK\r\n", "invalid-status@6"),
    T("HTTP/1.1 000 OK\r\n", "invalid-status@12"),
    T("HTTP/1.9 599 \r\n", "599 v=1009 [599 ]\nok"),
    T("HTTP/1.1 200 OK\r\r\n", "invalid-status@16"),
};

static void test_status_line(void **state)
{
    (void) state;
    run_table(run_status, status_cases, sl_nelems(status_cases), 0);
}

/* ---- chunked --------------------------------------------------------------------------- */

/*
 * Decodes a chunked body fed in pieces; the transcript is the decoded data, then the result
 * and the offset of b->pos.
 */
static char *run_chunked(const u_char *in, size_t len, const size_t *cuts, size_t ncuts, int unused)
{
    (void) unused;
    feeder_t f;
    sl_http_chunked_t ctx;
    sb_t sb = { 0 };
    sl_int_t rc;
    intptr_t delta;

    /* sl_http_chunked_left() must never promise more bytes than a complete body still
     * has: a reader waiting for them would wait forever */
    int left_too_big = 0;

    memset(&ctx, 0, sizeof(ctx));
    feeder_init(&f, in, len, cuts, ncuts);
    sb_printf(&sb, "[");
    for (;;) {
        rc = sl_http_parse_chunked(&ctx, &f.b);
        if (rc == SL_OK) {
            assert_true(ctx.size > 0);
            assert_true(ctx.length == SL_MAX_OFF_T_VALUE || ctx.length - 7 >= ctx.size);
            size_t n = (size_t) sl_min(ctx.size, f.b.last - f.b.pos);
            sb_mem(&sb, f.b.pos, f.b.pos + n);
            f.b.pos += n;
            ctx.size -= (off_t) n;
            left_too_big |= sl_http_chunked_left(&ctx) > (off_t) (len - feeder_offset(&f, f.b.pos));
            continue;
        }
        if (rc != SL_AGAIN) {
            break;
        }
        assert_ptr_equal(f.b.pos, f.b.last);
        assert_true(ctx.length > 0);
        assert_int_equal(sl_http_chunked_left(&ctx), ctx.length);
        left_too_big |= sl_http_chunked_left(&ctx) > (off_t) (len - feeder_offset(&f, f.b.pos));
        if (!feeder_more(&f, f.b.pos, &delta)) {
            break;
        }
    }
    if (rc == SL_DONE) {
        assert_int_equal(ctx.length, 0);
        assert_int_equal(sl_http_chunked_left(&ctx), 0);
        assert_false(left_too_big);
    }
    sb_printf(&sb, "] %s@%zu", rc_name(rc), feeder_offset(&f, f.b.pos));
    free(f.buf);
    return sb_take(&sb);
}

static const case_t chunked_cases[] = {
    T("5\r\nhello\r\n0\r\n\r\n", "[hello] done@15"),
    T("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "[hello world] done@26"),
    T("A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n", "[0123456789abcdefghij] done"),
    T("00000000000000000005\r\nhello\r\n0000\r\n\r\n", "[hello] done"),
    T("1\r\n\x00\r\n0\r\n\r\n", "[\\x00] done"),
    T("0\r\n\r\n", "[] done@5"),
    /* pipelined: what follows the final CRLF is left */
    T("5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n", "[hello] done@15"),
    /* extensions */
    T("5;a=b\r\nhello\r\n0\r\n\r\n", "[hello] done"),
    T("5 ;a=b\r\nhello\r\n0\r\n\r\n", "[hello] done"),
    T("5\t; a = b ; c ;d=\"x y\\\";z\" \r\nhello\r\n0;last\r\n\r\n", "[hello] done"),
    T("5;a=\"\\\x80\"\r\nhello\r\n0\r\n\r\n", "[hello] done"),
    T("5 \r\nhello\r\n0\r\n\r\n", "[hello] done"),
    T("5;\r\nhello\r\n0\r\n\r\n", "[] invalid-chunk@2"),
    T("5;=b\r\nhello\r\n0\r\n\r\n", "[] invalid-chunk@2"),
    T("5;a=\r\nhello\r\n0\r\n\r\n", "[] invalid-chunk@4"),
    T("5;a b\r\nhello\r\n0\r\n\r\n", "[] invalid-chunk@4"),
    T("5;a=b c\r\nhello\r\n0\r\n\r\n", "[] invalid-chunk@6"),
    T("5;a=\"b\r\nhello\r\n0\r\n\r\n", "[] invalid-chunk@6"),
    T("5;a=\"b\x01\"\r\nhello\r\n0\r\n\r\n", "[] invalid-chunk@6"),
    T("5;a=b\"\r\nhello\r\n0\r\n\r\n", "[] invalid-chunk@5"),
    T("5;a=(b)\r\nhello\r\n0\r\n\r\n", "[] invalid-chunk@4"),
    T("5;a\x7f\r\nhello\r\n0\r\n\r\n", "[] invalid-chunk@3"),
    /* sizes */
    T(" 5\r\nhello\r\n0\r\n\r\n", "[] invalid-chunk@0"),
    T("0x5\r\nhello\r\n0\r\n\r\n", "[] invalid-chunk@1"),
    T("-5\r\nhello\r\n0\r\n\r\n", "[] invalid-chunk@0"),
    T("+5\r\nhello\r\n0\r\n\r\n", "[] invalid-chunk@0"),
    T("5g\r\nhello\r\n0\r\n\r\n", "[] invalid-chunk@1"),
    T("\r\n5\r\nhello\r\n0\r\n\r\n", "[] invalid-chunk@0"),
    T(";a\r\n", "[] invalid-chunk@0"),
    T("7fffffffffffffff\r\nab", "[ab] again@20"),
    T("8000000000000000\r\n", "[] invalid-chunk@15"),
    T("fffffffffffffffff\r\n", "[] invalid-chunk@15"),
    T("00000000000000000000000000007fffffffffffffff\r\n", "[] again"),
    /* bare LF anywhere in the framing */
    T("5\nhello\r\n0\r\n\r\n", "[] invalid-chunk@1"),
    T("5;a=b\nhello\r\n0\r\n\r\n", "[] invalid-chunk@5"),
    T("5\r\nhello\n0\r\n\r\n", "[hello] invalid-chunk@8"),
    T("5\r\nhello\r\n0\n\r\n", "[hello] invalid-chunk@11"),
    T("5\r\nhello\r\n0\r\n\n", "[hello] invalid-chunk@13"),
    T("5\r\nhello\r\n0\r\nFoo: bar\n\r\n", "[hello] invalid-chunk@21"),
    T("5\r\nhello\r\n0\r\nFoo: bar\r\n\n", "[hello] invalid-chunk@23"),
    T("5\r\r\nhello\r\n0\r\n\r\n", "[] invalid-chunk@2"),
    /* chunk data must be followed by exactly CRLF */
    T("5\r\nhelloXX0\r\n\r\n", "[hello] invalid-chunk@8"),
    T("5\r\nhello\rX", "[hello] invalid-chunk@9"),
    T("5\r\nhello world\r\n0\r\n\r\n", "[hello] invalid-chunk@8"),
    T("5\r\nhell\r\n0\r\n\r\n", "[hell\\x0d] invalid-chunk@8"),
    /* trailers: checked, dropped */
    T("0\r\nFoo: bar\r\nX-Y:\r\n\r\n", "[] done@21"),
    T("5\r\nhello\r\n0\r\nFoo: b\x80r\t\r\n\r\nnext", "[hello] done@26"),
    T("0\r\nFoo bar\r\n\r\n", "[] invalid-chunk@6"),
    T("0\r\nFoo : bar\r\n\r\n", "[] invalid-chunk@6"),
    T("0\r\n: bar\r\n\r\n", "[] invalid-chunk@3"),
    T("0\r\nFoo: a\r\n b\r\n\r\n", "[] invalid-chunk@11"),
    T("0\r\nFoo: a\x00"
      "b\r\n\r\n",
      "[] invalid-chunk@9"),
    T("0\r\nFoo: a\x7f"
      "b\r\n\r\n",
      "[] invalid-chunk@9"),
    T("0\r\nF@o: a\r\n\r\n", "[] invalid-chunk@4"),
    T("0\r\nFoo: a\rb\r\n\r\n", "[] invalid-chunk@10"),
    /* incomplete */
    T("5\r\nhel", "[hel] again@6"),
    T("5\r\nhello\r\n0\r\n", "[hello] again@13"),
    T("5\r\nhello\r\n0\r\nFoo: x", "[hello] again@19"),
    T("", "[] again@0"),
};

static void test_chunked(void **state)
{
    (void) state;
    run_table(run_chunked, chunked_cases, sl_nelems(chunked_cases), 0);
}

static void test_chunked_bounds(void **state)
{
    sb_t in = { 0 };
    char *got;

    (void) state;
    /* a size line of exactly SL_HTTP_CHUNK_LINE_MAX bytes before its CRLF passes ... */
    sb_printf(&in, "1;");
    for (int i = 2; i < SL_HTTP_CHUNK_LINE_MAX; i++) {
        sb_printf(&in, "a");
    }
    sb_printf(&in, "\r\nx\r\n0\r\n\r\n");
    sb_take(&in);
    got = run_chunked((u_char *) in.data, in.len, NULL, 0, 0);
    assert_string_equal(got, "[x] done@4106");
    free(got);
    /* ... one more byte does not (the CR is counted) */
    in.len = 0;
    sb_printf(&in, "1;");
    for (int i = 2; i < SL_HTTP_CHUNK_LINE_MAX + 1; i++) {
        sb_printf(&in, "a");
    }
    sb_printf(&in, "\r\nx\r\n0\r\n\r\n");
    sb_take(&in);
    got = run_chunked((u_char *) in.data, in.len, NULL, 0, 0);
    assert_string_equal(got, "[] invalid-chunk@4096");
    free(got);
    /* leading zeros count too */
    in.len = 0;
    for (int i = 0; i < SL_HTTP_CHUNK_LINE_MAX + 10; i++) {
        sb_printf(&in, "0");
    }
    sb_take(&in);
    got = run_chunked((u_char *) in.data, in.len, NULL, 0, 0);
    assert_string_equal(got, "[] invalid-chunk@4096");
    free(got);
    /* the trailer section */
    in.len = 0;
    sb_printf(&in, "0\r\n");
    for (int i = 0; i < 1000; i++) {
        sb_printf(&in, "X-Trailer-%03d: v\r\n", i);
    }
    sb_printf(&in, "\r\n");
    sb_take(&in);
    got = run_chunked((u_char *) in.data, in.len, NULL, 0, 0);
    assert_true(strstr(got, "invalid-chunk@") != NULL);
    free(got);
    free(in.data);
}

/* Many chunks byte by byte, data reassembled exactly. */
static void test_chunked_many(void **state)
{
    sb_t in = { 0 }, want = { 0 };
    char *got;

    (void) state;
    sb_printf(&want, "[");
    for (int i = 1; i < 300; i += 7) {
        sb_printf(&in, "%x%s\r\n", i, i % 3 ? "" : ";ext=1");
        for (int j = 0; j < i; j++) {
            u_char c = (u_char) ('a' + (i + j) % 26);
            sb_printf(&in, "%c", c);
            sb_printf(&want, "%c", c);
        }
        sb_printf(&in, "\r\n");
    }
    sb_printf(&in, "0\r\nT: x\r\n\r\n");
    sb_take(&in);
    sb_printf(&want, "] done@%zu", in.len);
    sb_take(&want);
    got = run_chunked((u_char *) in.data, in.len, NULL, 0, 0);
    assert_string_equal(got, want.data);
    free(got);
    size_t *cuts = malloc(in.len * sizeof(size_t));
    assert_non_null(cuts);
    for (size_t i = 0; i < in.len; i++) {
        cuts[i] = i + 1;
    }
    got = run_chunked((u_char *) in.data, in.len, cuts, in.len, 0);
    assert_string_equal(got, want.data);
    free(got);
    free(cuts);
    free(in.data);
    free(want.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_line),
        cmocka_unit_test(test_header_lines),
        cmocka_unit_test(test_underscores_allowed),
        cmocka_unit_test(test_plain_names),
        cmocka_unit_test(test_many_and_long_headers),
        cmocka_unit_test(test_header_hash),
        cmocka_unit_test(test_complex_uri),
        cmocka_unit_test(test_uri_ext),
        cmocka_unit_test(test_unsafe_uri),
        cmocka_unit_test(test_status_line),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_chunked_bounds),
        cmocka_unit_test(test_chunked_many),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
