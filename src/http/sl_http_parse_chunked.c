/*
 * sl_http_parse_chunked.c: the chunked transfer coding (RFC 9112 §7.1), strictly.
 *
 * The chunk-size line after its digits (BWS, extensions, the CR) runs through one
 * transition table indexed by state and byte class; the other states are small functions.
 * No pointers are kept: the buffer may be replaced between any two calls.
 */
#include "sl_http_parse.h"

#define CR '\r'
#define LF '\n'
#define CONT 100

enum {
    CH_SIZE_START = 0,
    CH_SIZE,
    /* the extension states, in the order of ext_next[]'s rows */
    CH_EXT_BWS, /* after the size, a value or a quoted string: BWS, ';' or CR */
    CH_EXT_NAME_START,
    CH_EXT_NAME,
    CH_EXT_NAME_BWS,
    CH_EXT_VALUE_START,
    CH_EXT_TOKEN,
    CH_EXT_QUOTED,
    CH_EXT_QUOTED_PAIR,
    CH_SIZE_LF, /* the CR of the size line seen */
    CH_DATA,
    CH_DATA_CR,
    CH_DATA_LF,
    CH_TRAILER_START,
    CH_TRAILER_NAME,
    CH_TRAILER_VALUE,
    CH_TRAILER_LF,
    CH_FINAL_LF,
    CH_DONE,
    CH_NSTATES
};

/* Byte classes of the size line after the digits. */
enum { K_TCHAR = 0, K_WS, K_SEMI, K_EQ, K_DQUOTE, K_BSLASH, K_CR, K_OTHER, K_BAD, K_NCLASSES };

/*
 * K_OTHER: VCHAR or obs-text that is no tchar and no delimiter of the grammar (allowed only
 * inside a quoted string).  Controls (LF included), NUL and DEL are K_BAD.
 */
static const u_char ext_class[256] = {
    [0x00 ... 0x08] = K_BAD,
    ['\t'] = K_WS,
    [LF] = K_BAD,
    [0x0b ... 0x0c] = K_BAD,
    [CR] = K_CR,
    [0x0e ... 0x1f] = K_BAD,
    [' '] = K_WS,
    ['!'] = K_TCHAR,
    ['"'] = K_DQUOTE,
    ['#' ... '\''] = K_TCHAR,
    ['(' ... ')'] = K_OTHER,
    ['*' ... '+'] = K_TCHAR,
    [','] = K_OTHER,
    ['-' ... '.'] = K_TCHAR,
    ['/'] = K_OTHER,
    ['0' ... '9'] = K_TCHAR,
    [':'] = K_OTHER,
    [';'] = K_SEMI,
    ['<'] = K_OTHER,
    ['='] = K_EQ,
    ['>' ... '@'] = K_OTHER,
    ['A' ... 'Z'] = K_TCHAR,
    ['['] = K_OTHER,
    ['\\'] = K_BSLASH,
    [']'] = K_OTHER,
    ['^' ... 'z'] = K_TCHAR,
    ['{'] = K_OTHER,
    ['|'] = K_TCHAR,
    ['}'] = K_OTHER,
    ['~'] = K_TCHAR,
    [0x7f] = K_BAD,
    [0x80 ... 0xff] = K_OTHER,
};

#define E 0 /* invalid: no row leads back to CH_SIZE_START */
#define BWS CH_EXT_BWS
#define NS CH_EXT_NAME_START
#define NM CH_EXT_NAME
#define NB CH_EXT_NAME_BWS
#define VS CH_EXT_VALUE_START
#define TK CH_EXT_TOKEN
#define QS CH_EXT_QUOTED
#define QP CH_EXT_QUOTED_PAIR
#define LFS CH_SIZE_LF

/*
 * chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ), then CR.
 * Columns: tchar, SP/HTAB, ';', '=', '"', '\', CR, other VCHAR/obs-text, bad.
 */
static const u_char ext_next[CH_SIZE_LF - CH_EXT_BWS][K_NCLASSES] = {
    /* BWS */ { E, BWS, NS, E, E, E, LFS, E, E },
    /* NS  */ { NM, NS, E, E, E, E, E, E, E },
    /* NM  */ { NM, NB, NS, VS, E, E, LFS, E, E },
    /* NB  */ { E, NB, NS, VS, E, E, LFS, E, E },
    /* VS  */ { TK, VS, E, E, QS, E, E, E, E },
    /* TK  */ { TK, BWS, NS, E, E, E, LFS, E, E },
    /* QS  */ { QS, QS, QS, QS, BWS, QP, E, QS, E },
    /* QP  */ { QS, QS, QS, QS, QS, QS, E, QS, E },
};

static int hex_value(u_char c)
{
    if ((u_char) (c - '0') < 10) {
        return c - '0';
    }
    c |= 0x20;
    if ((u_char) (c - 'a') < 6) {
        return c - 'a' + 10;
    }
    return -1;
}

static sl_int_t ch_size(sl_http_chunked_t *ctx, u_char **pp, u_char *last)
{
    u_char *pos = *pp;
    int v;

    if (ctx->state == CH_SIZE_START) {
        if (hex_value(*pos) < 0) {
            return SL_HTTP_PARSE_INVALID_CHUNK; /* SP, '-', ';' or nothing before the size */
        }
        ctx->size = 0;
        ctx->ext_len = 0;
        ctx->state = CH_SIZE;
    }
    for (; pos < last && (v = hex_value(*pos)) >= 0; pos++) {
        if (ctx->size > (SL_MAX_OFF_T_VALUE >> 4) || ++ctx->ext_len > SL_HTTP_CHUNK_LINE_MAX) {
            *pp = pos;
            return SL_HTTP_PARSE_INVALID_CHUNK;
        }
        ctx->size = ctx->size * 16 + v;
    }
    *pp = pos;
    if (pos == last) {
        return SL_AGAIN;
    }
    /* "0x", "5 ;", "5;", "5" CR: what follows the digits is the extension table's */
    ctx->state = CH_EXT_BWS;
    return CONT;
}

static sl_int_t ch_ext(sl_http_chunked_t *ctx, u_char **pp, u_char *last)
{
    u_char *pos = *pp;
    sl_uint_t st = ctx->state;

    while (pos < last) {
        st = ext_next[st - CH_EXT_BWS][ext_class[*pos]];
        if (st == CH_SIZE_LF) {
            ctx->state = st;
            *pp = pos + 1;
            return CONT;
        }
        if (st == E || ++ctx->ext_len > SL_HTTP_CHUNK_LINE_MAX) {
            break;
        }
        pos++;
    }
    *pp = pos;
    if (pos < last) {
        return SL_HTTP_PARSE_INVALID_CHUNK;
    }
    ctx->state = st;
    return SL_AGAIN;
}

static sl_int_t ch_size_lf(sl_http_chunked_t *ctx, u_char **pp, u_char *last)
{
    (void) last;
    if (**pp != LF) {
        return SL_HTTP_PARSE_INVALID_CHUNK;
    }
    (*pp)++;
    if (ctx->size == 0) {
        ctx->trailer_len = 0;
        ctx->state = CH_TRAILER_START;
        return CONT;
    }
    ctx->state = CH_DATA;
    return SL_OK;
}

static sl_int_t ch_data(sl_http_chunked_t *ctx, u_char **pp, u_char *last)
{
    (void) pp;
    (void) last;
    if (ctx->size > 0) {
        return SL_OK; /* the caller has not consumed it all yet */
    }
    ctx->state = CH_DATA_CR;
    return CONT;
}

/* The CRLF after chunk data, or the LF of a trailer line or of the final line. */
static sl_int_t ch_crlf(sl_http_chunked_t *ctx, u_char **pp, u_char *last)
{
    static const u_char want[CH_NSTATES] = {
        [CH_DATA_CR] = CR,
        [CH_DATA_LF] = LF,
        [CH_TRAILER_LF] = LF,
        [CH_FINAL_LF] = LF,
    };
    static const u_char next[CH_NSTATES] = {
        [CH_DATA_CR] = CH_DATA_LF,
        [CH_DATA_LF] = CH_SIZE_START,
        [CH_TRAILER_LF] = CH_TRAILER_START,
        [CH_FINAL_LF] = CH_DONE,
    };

    (void) last;
    if (**pp != want[ctx->state]) {
        return SL_HTTP_PARSE_INVALID_CHUNK;
    }
    (*pp)++;
    ctx->state = next[ctx->state];
    return ctx->state == CH_DONE ? SL_DONE : CONT;
}

/*
 * Trailer field lines: tchar+ ":" value CRLF, each dropped; an empty line ends the section.
 * The section's bytes are counted against SL_HTTP_CHUNK_TRAILER_MAX.
 */
static sl_int_t ch_trailer(sl_http_chunked_t *ctx, u_char **pp, u_char *last)
{
    u_char *pos = *pp, c;
    sl_int_t rc = SL_AGAIN;

    for (; pos < last; pos++) {
        c = *pos;
        if (ctx->state == CH_TRAILER_VALUE) {
            if (c == '\t' || (c >= 0x20 && c != 0x7f)) {
                continue;
            }
            rc = c == CR ? CONT : SL_HTTP_PARSE_INVALID_CHUNK;
            ctx->state = CH_TRAILER_LF;
        } else if (sl__http_token_lc[c]) {
            ctx->state = CH_TRAILER_NAME;
            continue;
        } else if (ctx->state == CH_TRAILER_NAME) {
            rc = c == ':' ? CONT : SL_HTTP_PARSE_INVALID_CHUNK;
            ctx->state = CH_TRAILER_VALUE;
        } else {
            /* line start: CR of the final CRLF; LF, SP/HTAB (obs-fold), ':' are invalid */
            rc = c == CR ? CONT : SL_HTTP_PARSE_INVALID_CHUNK;
            ctx->state = CH_FINAL_LF;
        }
        break;
    }
    ctx->trailer_len += (sl_uint_t) (pos - *pp) + (rc == CONT);
    if (ctx->trailer_len > SL_HTTP_CHUNK_TRAILER_MAX) {
        rc = SL_HTTP_PARSE_INVALID_CHUNK;
    }
    *pp = rc == CONT ? pos + 1 : pos;
    return rc;
}

static sl_int_t ch_done(sl_http_chunked_t *ctx, u_char **pp, u_char *last)
{
    (void) ctx;
    (void) pp;
    (void) last;
    return SL_DONE;
}

typedef sl_int_t (*ch_state_fn)(sl_http_chunked_t *ctx, u_char **pp, u_char *last);

static const ch_state_fn ch_states[CH_NSTATES] = {
    [CH_SIZE_START] = ch_size,
    [CH_SIZE] = ch_size,
    [CH_EXT_BWS... CH_EXT_QUOTED_PAIR] = ch_ext,
    [CH_SIZE_LF] = ch_size_lf,
    [CH_DATA] = ch_data,
    [CH_DATA_CR] = ch_crlf,
    [CH_DATA_LF] = ch_crlf,
    [CH_TRAILER_START... CH_TRAILER_VALUE] = ch_trailer,
    [CH_TRAILER_LF] = ch_crlf,
    [CH_FINAL_LF] = ch_crlf,
    [CH_DONE] = ch_done,
};

/* size + n, saturated at the largest off_t */
static off_t plus(off_t size, off_t n)
{
    return size > SL_MAX_OFF_T_VALUE - n ? SL_MAX_OFF_T_VALUE : size + n;
}

off_t sl_http_chunked_left(const sl_http_chunked_t *ctx)
{
    switch (ctx->state) {
    case CH_DATA:
        return plus(ctx->size, 2 + 5); /* data CRLF "0" CRLF CRLF */
    case CH_DATA_CR:
    case CH_DATA_LF:
        return 7 - (ctx->state - CH_DATA_CR);
    case CH_TRAILER_START:
    case CH_TRAILER_NAME:
    case CH_TRAILER_VALUE:
        return 2;
    case CH_TRAILER_LF:
        return 3;
    case CH_FINAL_LF:
        return 1;
    case CH_DONE:
        return 0;
    case CH_SIZE_LF: /* the CR is in: its LF, then as below */
        return ctx->size > 0 ? plus(ctx->size, 1 + 2 + 5) : 3;
    default: /* the size line: its CRLF, then data CRLF and the last chunk, or the trailer */
        return ctx->size > 0 ? plus(ctx->size, 2 + 2 + 5) : 4;
    }
}

static void set_length(sl_http_chunked_t *ctx)
{
    ctx->length = sl_http_chunked_left(ctx);
}

sl_int_t sl_http_parse_chunked(sl_http_chunked_t *ctx, sl_buf_t *b)
{
    u_char *pos = b->pos, *last = b->last;
    sl_int_t rc;

    do {
        SL_ASSERT(ctx->state < CH_NSTATES);
        if (pos == last && ctx->state != CH_DONE) {
            rc = SL_AGAIN;
            break;
        }
        rc = ch_states[ctx->state](ctx, &pos, last);
    } while (rc == CONT);

    b->pos = pos;
    set_length(ctx);
    return rc;
}
