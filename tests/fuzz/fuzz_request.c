/*
 * libFuzzer target: the request line and header line parsers, and path normalization.
 *
 * The input is parsed as requests (line, then headers until the empty line; pipelined
 * requests follow) three ways: whole; split at a position derived from the first byte; and
 * (inputs up to 2 KiB) byte by byte.  In the split ways every SL_AGAIN moves the unparsed
 * bytes to a new allocation of exactly their size and frees the old one, as a caller growing
 * its buffer does, so state kept outside the parser struct shows up as an ASan report.  Each
 * way records every result and field as input offsets; any difference abort()s.
 *
 * A parsed path is normalized into a buffer of exactly the promised size; a path not flagged
 * complex must come out unchanged, and a normalized path without '%' must be a fixed point.
 *
 * The same input is also parsed as a response (status line, then header lines with
 * underscores allowed), the same three ways.
 */
#include <stdio.h>

#include "sl_core.h"
#include "sl_hash.h"
#include "sl_http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    int64_t *v;
    size_t n, cap;
} rec_t;

static void rec(rec_t *r, int64_t x)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 256;
        r->v = realloc(r->v, r->cap * sizeof(int64_t));
        if (r->v == NULL) {
            abort();
        }
    }
    r->v[r->n++] = x;
}

typedef struct {
    const u_char *in;
    size_t len, fed, base, step;
    u_char *buf;
    sl_buf_t b;
} feed_t;

static int64_t off(const feed_t *f, const u_char *p)
{
    return p == NULL ? -1 : (int64_t) (f->base + (size_t) (p - f->buf));
}

/* Shifts what a caller shifts: the pointers of the line being parsed. */
static void shift_all(sl_http_parse_t *p, int in_line, intptr_t d)
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
    u_char ***all = in_line ? line : header;
    size_t n = in_line ? sizeof(line) / sizeof(line[0]) : sizeof(header) / sizeof(header[0]);

    for (size_t i = 0; i < n; i++) {
        if (*all[i] != NULL) {
            *all[i] = (u_char *) ((uintptr_t) *all[i] + (uintptr_t) d);
        }
    }
}

/*
 * Keeps [keep, last) in a new exact-size buffer and appends the next piece; 0 at the end.
 * extra, when not NULL, is one more pointer to shift (the status line's start).
 */
static int more(feed_t *f, sl_http_parse_t *p, int in_line, u_char *keep, u_char **extra)
{
    if (f->fed == f->len) {
        return 0;
    }
    size_t next = f->step ? sl_min(f->fed + f->step, f->len) : f->len;
    size_t kept = (size_t) (f->b.last - keep), add = next - f->fed;
    u_char *nb = malloc(kept + add + 1);

    if (nb == NULL) {
        abort();
    }
    memcpy(nb, keep, kept);
    memcpy(nb + kept, f->in + f->fed, add);
    shift_all(p, in_line, (intptr_t) ((uintptr_t) nb - (uintptr_t) keep));
    if (extra != NULL && *extra != NULL) {
        *extra = nb + (*extra - keep);
    }
    f->base += (size_t) (keep - f->buf);
    free(f->buf);
    f->buf = nb;
    f->b.start = nb;
    f->b.pos = nb + kept;
    f->b.last = f->b.end = nb + kept + add;
    f->fed = next;
    return 1;
}

static void normalize(const sl_http_parse_t *p)
{
    sl_http_parse_t q;
    sl_str_t out, again;
    size_t room = (size_t) (p->uri_end - p->path_start);
    u_char *dst, *dst2;
    sl_int_t rc;

    if (*p->path_start == '*') {
        return;
    }
    for (int merge = 0; merge <= 1; merge++) {
        dst = malloc(room ? room : 1);
        if (dst == NULL) {
            abort();
        }
        rc = sl_http_parse_complex_uri((sl_http_parse_t *) p, dst, &out, merge);
        if (rc == SL_OK && out.len > room) {
            abort();
        }
        if (!p->complex_uri
            && (rc != SL_OK || out.len != (size_t) (p->path_end - p->path_start)
                || memcmp(out.data, p->path_start, out.len) != 0)) {
            abort(); /* a path not flagged complex must already be normal */
        }
        if (!p->complex_uri) {
            /* and its extension is the one the normalized path has */
            u_char *ext = sl_http_uri_ext(out.data, out.data + out.len);
            if ((ext == NULL) != (p->uri_ext == NULL)
                || (ext != NULL && out.data + out.len - ext != p->path_end - p->uri_ext)) {
                abort();
            }
        }
        if (rc == SL_OK && memchr(out.data, '%', out.len) == NULL) {
            q = *p;
            q.path_start = out.data;
            q.path_end = q.uri_end = out.data + out.len;
            dst2 = malloc(out.len ? out.len : 1);
            if (dst2 == NULL) {
                abort();
            }
            if (sl_http_parse_complex_uri(&q, dst2, &again, merge) != SL_OK || again.len != out.len
                || memcmp(again.data, out.data, out.len) != 0) {
                abort(); /* normal form is a fixed point */
            }
            free(dst2);
        }
        free(dst);
    }
}

static void record_line(rec_t *r, const feed_t *f, const sl_http_parse_t *p)
{
    const u_char *ptrs[] = {
        p->request_start, p->request_end,  p->method_start, p->method_end, p->uri_start,
        p->uri_end,       p->schema_start, p->schema_end,   p->host_start, p->host_end,
        p->port_start,    p->port_end,     p->path_start,   p->path_end,   p->args_start,
        p->args_end,      p->uri_ext,
    };

    for (size_t i = 0; i < sizeof(ptrs) / sizeof(ptrs[0]); i++) {
        rec(r, off(f, ptrs[i]));
    }
    rec(r, (int64_t) p->method);
    rec(r, (int64_t) p->http_version);
    rec(r, p->complex_uri | p->quoted_uri << 1 | p->plus_in_uri << 2 | p->space_in_uri << 3);
    normalize(p);
}

static void record_header(rec_t *r, const feed_t *f, const sl_http_parse_t *p)
{
    size_t n = (size_t) (p->header_name_end - p->header_name_start);
    u_char low[SL_HTTP_LC_HEADER_LEN];

    rec(r, off(f, p->header_name_start));
    rec(r, off(f, p->header_name_end));
    rec(r, off(f, p->header_start));
    rec(r, off(f, p->header_end));
    rec(r, (int64_t) p->header_hash);
    rec(r, p->invalid_header);
    if (p->header_hash != sl_hash_key_lc(p->header_name_start, n)
        || p->lowcase_index != sl_min(n, SL_HTTP_LC_HEADER_LEN)) {
        abort();
    }
    sl_strlow(low, p->header_name_start, p->lowcase_index);
    if (memcmp(low, p->lowcase_header, p->lowcase_index) != 0) {
        abort();
    }
}

static void record_status(rec_t *r, const feed_t *f, const sl_http_status_t *st)
{
    rec(r, (int64_t) st->code);
    rec(r, (int64_t) st->http_version);
    rec(r, off(f, st->start));
    rec(r, off(f, st->end));
    if (st->code < 100 || st->code > 999 || st->end < st->start + 3) {
        abort();
    }
}

/*
 * step 0: whole; otherwise the first piece is first bytes, then pieces of step bytes.
 * mode: bit 0 allows underscores, bit 1 parses a response.
 */
static void run(const u_char *in, size_t len, size_t first, size_t step, int mode, rec_t *r)
{
    feed_t f = { .in = in, .len = len, .fed = first, .step = step };
    sl_http_parse_t p;
    sl_http_status_t st;
    int in_line = 1, underscores = mode & 1, response = mode & 2;
    sl_int_t rc;

    memset(&p, 0, sizeof(p));
    memset(&st, 0, sizeof(st));
    f.buf = malloc(first + 1);
    if (f.buf == NULL) {
        abort();
    }
    memcpy(f.buf, in, first);
    f.b.start = f.b.pos = f.buf;
    f.b.last = f.b.end = f.buf + first;
    for (;;) {
        if (in_line) {
            rc = response ? sl_http_parse_status_line(&p, &f.b, &st)
                          : sl_http_parse_request_line(&p, &f.b);
        } else {
            rc = sl_http_parse_header_line(&p, &f.b, underscores);
        }
        if (rc == SL_AGAIN) {
            if (f.b.pos != f.b.last) {
                abort();
            }
            u_char *keep = p.state == 0 ? f.b.pos : in_line ? p.request_start : p.header_name_start;
            if (!more(&f, &p, in_line, keep, response ? &st.start : NULL)) {
                break;
            }
            continue;
        }
        rec(r, rc);
        rec(r, off(&f, f.b.pos));
        if (rc == SL_OK) {
            if (in_line && response) {
                record_status(r, &f, &st);
                in_line = 0;
            } else if (in_line) {
                record_line(r, &f, &p);
                in_line = 0;
            } else {
                record_header(r, &f, &p);
            }
        } else if (rc == SL_HTTP_PARSE_HEADER_DONE && !response) {
            in_line = 1;
        } else {
            break;
        }
    }
    rec(r, rc);
    rec(r, off(&f, f.b.pos));
    free(f.buf);
}

static void same(const rec_t *a, const rec_t *b)
{
    if (a->n != b->n || memcmp(a->v, b->v, a->n * sizeof(int64_t)) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t at;

    if (size == 0) {
        return 0;
    }
    at = (size_t) data[0] * size / 256;
    /* as a request (underscores allowed or not, from the first byte), then as a response */
    const int modes[2] = { data[0] & 1, 3 };

    for (int i = 0; i < 2; i++) {
        rec_t whole = { 0 }, split = { 0 }, bytes = { 0 };

        run(data, size, size, 0, modes[i], &whole);
        run(data, size, at, 0, modes[i], &split);
        same(&whole, &split);
        if (size <= 2048) {
            run(data, size, 0, 1, modes[i], &bytes);
            same(&whole, &bytes);
        }
        free(whole.v);
        free(split.v);
        free(bytes.v);
    }
    return 0;
}
