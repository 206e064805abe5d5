/*
 * libFuzzer target: the SSI command parser.
 *
 * The input (its first byte sets ssi_value_length, up to 255) is parsed whole and byte by
 * byte, each piece in an allocation of exactly its size, freed once parsed, so a parser
 * that kept a pointer into an old piece shows up as an ASan report.  Both ways must give
 * the same transcript: the text copied, and each command (name, parameters) or error in
 * order; a difference abort()s.  Also checked: text never outgrows the room the parser's
 * contract promises (what it was fed plus the five bytes of a held "<!--#").
 */
#include "sl_core.h"
#include "sl_log.h"
#include "sl_pool.h"
#include "sl_http_ssi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sl_log_t fuzz_log;

typedef struct {
    u_char *p;
    size_t len, cap;
} transcript_t;

static void put(transcript_t *t, const void *src, size_t n)
{
    if (t->len + n > t->cap) {
        t->cap = (t->len + n) * 2 + 64;
        t->p = realloc(t->p, t->cap);
        if (t->p == NULL) {
            abort();
        }
    }
    memcpy(t->p + t->len, src, n);
    t->len += n;
}

static void put_command(transcript_t *t, const sl_http_ssi_parser_t *ps, sl_int_t rc)
{
    if (rc == SL_ERROR) {
        put(t, "\0E", 2);
        put(t, ps->error, strlen(ps->error));
        return;
    }
    put(t, "\0C", 2);
    put(t, ps->command.data, ps->command.len);
    for (sl_uint_t i = 0; i < ps->nparams; i++) {
        put(t, "\0K", 2);
        put(t, ps->params[i].key.data, ps->params[i].key.len);
        put(t, "\0V", 2);
        put(t, ps->params[i].value.data, ps->params[i].value.len);
        if (ps->params[i].value.len > ps->value_len) {
            abort();
        }
    }
}

/* Parses the input in pieces of `step` bytes (0: all at once) into t. */
static void run(const u_char *in, size_t len, size_t value_len, size_t step, transcript_t *t)
{
    sl_pool_t *pool = sl_pool_create(4096, &fuzz_log);
    sl_http_ssi_parser_t ps;

    if (pool == NULL || sl_http_ssi_parser_init(&ps, pool, value_len) != SL_OK) {
        abort();
    }
    for (size_t fed = 0; fed < len;) {
        size_t n = step ? sl_min(step, len - fed) : len - fed;
        u_char *piece = malloc(n), *out = malloc(n + 5);
        if (piece == NULL || out == NULL) {
            abort();
        }
        memcpy(piece, in + fed, n);
        u_char *pos = piece, *end = piece + n;
        while (pos < end) {
            u_char *o = out;
            sl_int_t rc = sl_http_ssi_parse(&ps, &pos, end, &o, 1);
            if ((size_t) (o - out) > n + 5) {
                abort();
            }
            put(t, out, (size_t) (o - out));
            if (rc != SL_AGAIN) {
                put_command(t, &ps, rc);
            } else if (pos != end) {
                abort();
            }
        }
        free(piece);
        free(out);
        fed += n;
    }
    sl_pool_destroy(pool);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    transcript_t whole = { 0 }, bytes = { 0 };

    if (size == 0) {
        return 0;
    }
    size_t value_len = data[0];
    run(data + 1, size - 1, value_len, 0, &whole);
    run(data + 1, size - 1, value_len, 1, &bytes);
    if (whole.len != bytes.len || (whole.len && memcmp(whole.p, bytes.p, whole.len) != 0)) {
        abort();
    }
    free(whole.p);
    free(bytes.p);
    return 0;
}
