/*
 * libFuzzer target: the chunked decoder.
 *
 * The input is decoded as a chunked body whole, split at a position derived from the first
 * byte, and byte by byte.  Pieces live in allocations of exactly their size, freed once
 * consumed, so a decoder that kept a pointer into an old piece shows up as an ASan report.
 * The three ways must agree on the result, where decoding stopped, and every decoded byte;
 * a difference abort()s.  Also checked: SL_AGAIN only with the piece used up, SL_OK only with
 * a positive size, and the length hint never below what the state implies.
 */
#include "sl_core.h"
#include "sl_http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    sl_int_t rc;
    size_t stop; /* input offset of b->pos at the end */
    u_char *out; /* decoded bytes */
    size_t out_len;
} result_t;

/* first: bytes of the first piece; step: bytes of each later piece (0: the rest at once). */
static void decode(const u_char *in, size_t len, size_t first, size_t step, result_t *r)
{
    sl_http_chunked_t ctx;
    sl_buf_t b;
    size_t fed = 0, piece = first, base = 0;
    u_char *buf = NULL;
    sl_int_t rc;

    memset(&ctx, 0, sizeof(ctx));
    memset(&b, 0, sizeof(b));
    r->out = malloc(len + 1);
    r->out_len = 0;
    if (r->out == NULL) {
        abort();
    }
    for (;;) {
        /* a new piece in its own allocation; nothing of the old one is kept */
        free(buf);
        buf = malloc(piece + 1);
        if (buf == NULL) {
            abort();
        }
        memcpy(buf, in + fed, piece);
        base = fed;
        fed += piece;
        b.start = b.pos = buf;
        b.last = b.end = buf + piece;
        for (;;) {
            rc = sl_http_parse_chunked(&ctx, &b);
            if (rc != SL_OK) {
                break;
            }
            if (ctx.size <= 0 || ctx.length < ctx.size) {
                abort();
            }
            size_t n = (size_t) sl_min(ctx.size, b.last - b.pos);
            memcpy(r->out + r->out_len, b.pos, n);
            r->out_len += n;
            b.pos += n;
            ctx.size -= (off_t) n;
        }
        if (rc != SL_AGAIN || fed == len) {
            break;
        }
        if (b.pos != b.last || ctx.length <= 0) {
            abort();
        }
        piece = step ? sl_min(step, len - fed) : len - fed;
    }
    if (rc == SL_DONE && ctx.length != 0) {
        abort();
    }
    r->rc = rc;
    r->stop = base + (size_t) (b.pos - buf);
    free(buf);
}

static void same(const result_t *a, const result_t *b)
{
    if (a->rc != b->rc || a->stop != b->stop || a->out_len != b->out_len
        || memcmp(a->out, b->out, a->out_len) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    result_t whole, split, bytes;
    size_t at;

    if (size == 0) {
        return 0;
    }
    at = (size_t) data[0] * size / 256;
    decode(data, size, size, 0, &whole);
    decode(data, size, at, 0, &split);
    same(&whole, &split);
    decode(data, size, sl_min(size, 1), 1, &bytes);
    same(&whole, &bytes);
    free(whole.out);
    free(split.out);
    free(bytes.out);
    return 0;
}
