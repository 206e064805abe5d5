/*
 * sl_http_parse.c: the request line, header line and status line parsers.
 *
 * Each parser is a set of small state functions dispatched through a table indexed by
 * p->state.  A state function is called with at least one byte at *pp; it consumes what it
 * can and returns
 *   CONT       it moved to another state (*pp at the next byte to look at),
 *   SL_AGAIN   it used up the input in its state (*pp == last),
 *   anything else: the parser's result, *pp after the line or at the offending byte.
 * Bytes are classified through 256-entry tables; runs of ordinary bytes are skipped in tight
 * loops (header values 16 bytes at a time with SSE2).
 */
#include "sl_http_parse.h"
#include "sl_hash.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define CR '\r'
#define LF '\n'

/* A state function's "go on in the new state". */
#define CONT 100

/*
 * A state function that has set the next state calls that state's function at once when
 * input is left (the compiler inlines these chains into straight-line code for the common
 * case); the table dispatch is only for resuming.
 */
#define NEXT(fn, p, pp, last) (*(pp) < (last) ? fn(p, pp, last) : SL_AGAIN)

/* For the header-line chain, which must become one function to be fast. */
#define INLINE static inline __attribute__((always_inline))

typedef sl_int_t (*rl_state_fn)(sl_http_parse_t *p, u_char **pp, u_char *last);
typedef sl_int_t (*st_state_fn)(sl_http_parse_t *p, sl_http_status_t *st, u_char **pp,
                                u_char *last);

/* ---- byte classes ---------------------------------------------------------------------- */

#define LC(c) [c] = (c) | 0x20
#define SAME(c) [c] = (c)

/* RFC 9110 §5.6.2 tchar, lowercased; 0 for anything else. */
const u_char sl__http_token_lc[256] = {
    SAME('!'),   SAME('#'),   SAME('$'),   SAME('%'),   SAME('&'),   SAME('\''),  SAME('*'),
    SAME('+'),   SAME('-'),   SAME('.'),   SAME('^'),   SAME('_'),   SAME('`'),   SAME('|'),
    SAME('~'),   ['0'] = '0', ['1'] = '1', ['2'] = '2', ['3'] = '3', ['4'] = '4', ['5'] = '5',
    ['6'] = '6', ['7'] = '7', ['8'] = '8', ['9'] = '9', LC('A'),     LC('B'),     LC('C'),
    LC('D'),     LC('E'),     LC('F'),     LC('G'),     LC('H'),     LC('I'),     LC('J'),
    LC('K'),     LC('L'),     LC('M'),     LC('N'),     LC('O'),     LC('P'),     LC('Q'),
    LC('R'),     LC('S'),     LC('T'),     LC('U'),     LC('V'),     LC('W'),     LC('X'),
    LC('Y'),     LC('Z'),     SAME('a'),   SAME('b'),   SAME('c'),   SAME('d'),   SAME('e'),
    SAME('f'),   SAME('g'),   SAME('h'),   SAME('i'),   SAME('j'),   SAME('k'),   SAME('l'),
    SAME('m'),   SAME('n'),   SAME('o'),   SAME('p'),   SAME('q'),   SAME('r'),   SAME('s'),
    SAME('t'),   SAME('u'),   SAME('v'),   SAME('w'),   SAME('x'),   SAME('y'),   SAME('z'),
};

/* nginx's method characters. */
static const u_char method_char[256] = {
    ['A' ... 'Z'] = 1,
    ['_'] = 1,
    ['-'] = 1,
};

/* Header value and reason-phrase bytes that need no attention: SP, VCHAR, obs-text. */
static const u_char value_plain[256] = {
    [0x20 ... 0x7e] = 1,
    [0x80 ... 0xff] = 1,
};

/* sl__http_token_lc without '_': a name's bytes that need no attention. */
static const u_char name_fast[256] = {
    SAME('!'),   SAME('#'),   SAME('$'),   SAME('%'),   SAME('&'),   SAME('\''),  SAME('*'),
    SAME('+'),   SAME('-'),   SAME('.'),   SAME('^'),   SAME('`'),   SAME('|'),   SAME('~'),
    ['0'] = '0', ['1'] = '1', ['2'] = '2', ['3'] = '3', ['4'] = '4', ['5'] = '5', ['6'] = '6',
    ['7'] = '7', ['8'] = '8', ['9'] = '9', LC('A'),     LC('B'),     LC('C'),     LC('D'),
    LC('E'),     LC('F'),     LC('G'),     LC('H'),     LC('I'),     LC('J'),     LC('K'),
    LC('L'),     LC('M'),     LC('N'),     LC('O'),     LC('P'),     LC('Q'),     LC('R'),
    LC('S'),     LC('T'),     LC('U'),     LC('V'),     LC('W'),     LC('X'),     LC('Y'),
    LC('Z'),     SAME('a'),   SAME('b'),   SAME('c'),   SAME('d'),   SAME('e'),   SAME('f'),
    SAME('g'),   SAME('h'),   SAME('i'),   SAME('j'),   SAME('k'),   SAME('l'),   SAME('m'),
    SAME('n'),   SAME('o'),   SAME('p'),   SAME('q'),   SAME('r'),   SAME('s'),   SAME('t'),
    SAME('u'),   SAME('v'),   SAME('w'),   SAME('x'),   SAME('y'),   SAME('z'),
};

/* tchar (RFC 9110 §5.6.2): 1 for each byte a field name may have. */
static const u_char tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1,         ['&'] = 1,         ['\''] = 1,
    ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1,         ['^'] = 1,         ['_'] = 1,
    ['`'] = 1, ['|'] = 1, ['~'] = 1, ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
};

/*
 * Request-target bytes.  The order matters: in args everything up to U_QUEST is ordinary, in
 * a fragment everything up to U_HASH.
 */
enum { U_OK = 0, U_SLASH, U_DOT, U_PERCENT, U_PLUS, U_QUEST, U_HASH, U_SP, U_CR, U_LF, U_BAD };

static const u_char uri_class[256] = {
    [0x00 ... 0x09] = U_BAD, [LF] = U_LF,   [0x0b ... 0x0c] = U_BAD, [CR] = U_CR,
    [0x0e ... 0x1f] = U_BAD, [' '] = U_SP,  ['#'] = U_HASH,          ['%'] = U_PERCENT,
    ['+'] = U_PLUS,          ['.'] = U_DOT, ['/'] = U_SLASH,         ['?'] = U_QUEST,
    [0x7f] = U_BAD,
};

/* Absolute-form host: reg-name or IPv4 bytes (nginx's set), and inside "[...]". */
static const u_char host_char[256] = {
    ['a' ... 'z'] = 1, ['A' ... 'Z'] = 1, ['0' ... '9'] = 1, ['.'] = 1, ['-'] = 1,
};
static const u_char ip_literal_char[256] = {
    ['a' ... 'f'] = 1, ['A' ... 'F'] = 1, ['0' ... '9'] = 1, ['.'] = 1, [':'] = 1,
};

static int is_alpha(u_char c)
{
    return (u_char) ((c | 0x20) - 'a') < 26;
}

static int is_digit(u_char c)
{
    return (u_char) (c - '0') < 10;
}

/*
 * The first byte at or after pos that is not value_plain (a control, HTAB, DEL), or last.
 */
static inline u_char *skip_value_bytes(u_char *pos, u_char *last)
{
#ifdef __SSE2__
    const __m128i ctl_max = _mm_set1_epi8(0x1f);
    const __m128i del = _mm_set1_epi8(0x7f);

    while (last - pos >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *) pos);
        /* unsigned x <= 0x1f  <=>  min(x, 0x1f) == x */
        __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(x, ctl_max), x);
        int m = _mm_movemask_epi8(_mm_or_si128(ctl, _mm_cmpeq_epi8(x, del)));

        if (m != 0) {
            return pos + __builtin_ctz((unsigned) m);
        }
        pos += 16;
    }
#endif
    while (pos < last && value_plain[*pos]) {
        pos++;
    }
    return pos;
}

/* ---- request line ---------------------------------------------------------------------- */

enum {
    RL_START = 0,
    RL_START_LF,
    RL_METHOD,
    RL_SP_BEFORE_URI,
    RL_SCHEME,
    RL_SCHEME_SLASH1,
    RL_SCHEME_SLASH2,
    RL_HOST_START,
    RL_HOST,
    RL_IP_LITERAL,
    RL_IP_LITERAL_END,
    RL_PORT,
    RL_PATH_SEG,
    RL_PATH_SLASH,
    RL_PATH_DOT,
    RL_PATH_DOTDOT,
    RL_PATH_COMPLEX,
    RL_ARGS,
    RL_FRAGMENT,
    RL_ASTERISK,
    RL_SP_BEFORE_VERSION,
    RL_V_LITERAL, /* "HTTP/": 5 states, one per byte */
    RL_V_MAJOR = RL_V_LITERAL + 5,
    RL_V_DOT,
    RL_V_MINOR,
    RL_V_END,
    RL_LF,
    RL_09_LF,
    RL_NSTATES
};

static void begin_request(sl_http_parse_t *p, u_char *pos)
{
    p->request_start = pos;
    p->request_end = NULL;
    p->method_start = pos;
    p->method_end = NULL;
    p->uri_start = p->uri_end = NULL;
    p->schema_start = p->schema_end = NULL;
    p->host_start = p->host_end = NULL;
    p->port_start = p->port_end = NULL;
    p->path_start = p->path_end = NULL;
    p->args_start = p->args_end = NULL;
    p->uri_ext = NULL;
    p->method = 0;
    p->http_major = p->http_minor = p->http_version = 0;
    p->complex_uri = 0;
    p->quoted_uri = 0;
    p->plus_in_uri = 0;
    p->space_in_uri = 0;
}

static sl_uint_t method_id(const u_char *m, size_t len)
{
#define IS(name) (memcmp(m, name, sizeof(name) - 1) == 0)
    switch (len) {
    case 3:
        return IS("GET") ? SL_HTTP_GET : IS("PUT") ? SL_HTTP_PUT : SL_HTTP_UNKNOWN;
    case 4:
        return IS("POST")   ? SL_HTTP_POST
               : IS("HEAD") ? SL_HTTP_HEAD
               : IS("COPY") ? SL_HTTP_COPY
               : IS("MOVE") ? SL_HTTP_MOVE
               : IS("LOCK") ? SL_HTTP_LOCK
                            : SL_HTTP_UNKNOWN;
    case 5:
        return IS("MKCOL")   ? SL_HTTP_MKCOL
               : IS("PATCH") ? SL_HTTP_PATCH
               : IS("TRACE") ? SL_HTTP_TRACE
                             : SL_HTTP_UNKNOWN;
    case 6:
        return IS("DELETE") ? SL_HTTP_DELETE : IS("UNLOCK") ? SL_HTTP_UNLOCK : SL_HTTP_UNKNOWN;
    case 7:
        return IS("OPTIONS") ? SL_HTTP_OPTIONS : IS("CONNECT") ? SL_HTTP_CONNECT : SL_HTTP_UNKNOWN;
    case 8:
        return IS("PROPFIND") ? SL_HTTP_PROPFIND : SL_HTTP_UNKNOWN;
    case 9:
        return IS("PROPPATCH") ? SL_HTTP_PROPPATCH : SL_HTTP_UNKNOWN;
    default:
        return SL_HTTP_UNKNOWN;
    }
#undef IS
}

static sl_int_t rl_method(sl_http_parse_t *p, u_char **pp, u_char *last);
static sl_int_t rl_sp_before_uri(sl_http_parse_t *p, u_char **pp, u_char *last);
static sl_int_t rl_path(sl_http_parse_t *p, u_char **pp, u_char *last);
static sl_int_t rl_args(sl_http_parse_t *p, u_char **pp, u_char *last);
static sl_int_t rl_sp_before_version(sl_http_parse_t *p, u_char **pp, u_char *last);
static sl_int_t rl_v_literal(sl_http_parse_t *p, u_char **pp, u_char *last);
static sl_int_t request_line_done(sl_http_parse_t *p, u_char **pp);
static sl_int_t rl_v_digits(sl_http_parse_t *p, u_char **pp, u_char *last);
static sl_int_t rl_v_end(sl_http_parse_t *p, u_char **pp, u_char *last);
static sl_int_t rl_lf(sl_http_parse_t *p, u_char **pp, u_char *last);

/*
 * Empty lines before the request line, then its first byte.  (The loop over empty lines goes
 * through the dispatch loop, CONT, so that no input makes the direct calls recurse deeply.)
 */
static sl_int_t rl_start(sl_http_parse_t *p, u_char **pp, u_char *last)
{
    u_char *pos = *pp;

    while (pos < last && *pos == LF) {
        pos++;
    }
    *pp = pos;
    if (pos == last) {
        return SL_AGAIN;
    }
    /*
     * The fields of any earlier request go, and request_start is set even for a line that
     * turns out empty or invalid: the caller logs request_start..b->pos on an error, and keeps
     * from request_start when it moves the buffer in a state other than 0.
     */
    begin_request(p, pos);
    if (*pos == CR) {
        p->state = RL_START_LF;
        *pp = pos + 1;
        return CONT;
    }
    if (!method_char[*pos]) {
        return SL_HTTP_PARSE_INVALID_METHOD;
    }
    p->state = RL_METHOD;
    *pp = pos + 1;
    return NEXT(rl_method, p, pp, last);
}

static sl_int_t rl_start_lf(sl_http_parse_t *p, u_char **pp, u_char *last)
{
    (void) last;
    if (**pp != LF) {
        return SL_HTTP_PARSE_INVALID_REQUEST;
    }
    p->state = RL_START;
    (*pp)++;
    return CONT;
}

static sl_int_t rl_method(sl_http_parse_t *p, u_char **pp, u_char *last)
{
    u_char *pos = *pp;

    while (pos < last && method_char[*pos]) {
        pos++;
    }
    *pp = pos;
    if (pos == last) {
        return SL_AGAIN;
    }
    if (*pos != ' ') {
        return SL_HTTP_PARSE_INVALID_METHOD;
    }
    p->method_end = pos;
    p->method = method_id(p->method_start, (size_t) (pos - p->method_start));
    p->state = RL_SP_BEFORE_URI;
    *pp = pos + 1;
    return NEXT(rl_sp_before_uri, p, pp, last);
}

static sl_int_t rl_sp_before_uri(sl_http_parse_t *p, u_char **pp, u_char *last)
{
    u_char *pos = *pp;

    while (pos < last && *pos == ' ') {
        pos++;
    }
    *pp = pos;
    if (pos == last) {
        return SL_AGAIN;
    }
    if (*pos == '/') {
        p->uri_start = p->path_start = pos;
        p->state = RL_PATH_SLASH;
        *pp = pos + 1;
        return NEXT(rl_path, p, pp, last);
    }
    if (is_alpha(*pos)) {
        p->uri_start = p->schema_start = pos;
        p->state = RL_SCHEME;
    } else if (*pos == '*' && p->method == SL_HTTP_OPTIONS) {
        p->uri_start = p->path_start = pos;
        p->state = RL_ASTERISK;
    } else {
        return SL_HTTP_PARSE_INVALID_REQUEST;
    }
    *pp = pos + 1;
    return CONT;
}

static sl_int_t rl_scheme(sl_http_parse_t *p, u_char **pp, u_char *last)
{
    u_char *pos = *pp;

    while (pos < last && is_alpha(*pos)) {
        pos++;
    }
    *pp = pos;
    if (pos == last) {
        return SL_AGAIN;
    }
    if (*pos != ':') {
        return SL_HTTP_PARSE_INVALID_REQUEST;
    }
    p->schema_end = pos;
    p->state = RL_SCHEME_SLASH1;
    *pp = pos + 1;
    return CONT;
}

/* The two slashes of "://". */
static sl_int_t rl_scheme_slash(sl_http_parse_t *p, u_char **pp, u_char *last)
{
    (void) last;
    if (**pp != '/') {
        return SL_HTTP_PARSE_INVALID_REQUEST;
    }
    p->state = p->state == RL_SCHEME_SLASH1 ? RL_SCHEME_SLASH2 : RL_HOST_START;
    (*pp)++;
    return CONT;
}

static sl_int_t rl_host_start(sl_http_parse_t *p, u_char **pp, u_char *last)
{
    u_char c = **pp;

    (void) last;
    if (c == '[') {
        p->state = RL_IP_LITERAL;
    } else if (host_char[c]) {
        p->state = RL_HOST;
    } else {
        /* an empty host, userinfo, or a byte no host has */
        return SL_HTTP_PARSE_INVALID_REQUEST;
    }
    p->host_start = (*pp)++;
    return CONT;
}

/*
 * The byte after the authority (host and port): '/' starts the path; '?', SP or a line
 * ending mean an empty path, which reads as the '/' inside "://".
 */
static sl_int_t authority_end(sl_http_parse_t *p, u_char **pp)
{
    u_char *pos = *pp;
    u_char cls = uri_class[*pos];

    if (cls == U_SLASH) {
        p->path_start = pos;
        p->state = RL_PATH_SLASH;
        *pp = pos + 1;
        return CONT;
    }
    if (cls != U_QUEST && cls != U_SP && cls != U_CR && cls != U_LF) {
        return SL_HTTP_PARSE_INVALID_REQUEST;
    }
    p->path_start = p->schema_end + 2;
    p->path_end = p->path_start + 1;
    /* the target ends in a state that does not set path_end again */
    p->state = RL_ARGS;
    if (cls == U_QUEST) {
        p->args_start = pos + 1;
        *pp = pos + 1;
        return CONT;
    }
    p->args_start = NULL;
    return CONT;
}

static sl_int_t rl_host(sl_http_parse_t *p, u_char **pp, u_char *last)
{
    u_char *pos = *pp;

    while (pos < last && host_char[*pos]) {
        pos++;
    }
    *pp = pos;
    if (pos == last) {
        return SL_AGAIN;
    }
    p->host_end = pos;
    if (*pos == ':') {
        p->port_start = pos + 1;
        p->state = RL_PORT;
        *pp = pos + 1;
        return CONT;
    }
    return authority_end(p, pp);
}

static sl_int_t rl_ip_literal(sl_http_parse_t *p, u_char **pp, u_char *last)
{
    u_char *pos = *pp;

    while (pos < last && ip_literal_char[*pos]) {
        pos++;
    }
    *pp = pos;
    if (pos == last) {
        return SL_AGAIN;
    }
    if (*pos != ']' || pos - p->host_start < 2) {
        return SL_HTTP_PARSE_INVALID_REQUEST;
    }
    p->state = RL_IP_LITERAL_END;
    *pp = pos + 1;
    return CONT;
}

/* After "[...]": the host ends here. */
static sl_int_t rl_ip_literal_end(sl_http_parse_t *p, u_char **pp, u_char *last)
{
    (void) last;
    p->host_end = *pp;
    if (**pp == ':') {
        p->port_start = *pp + 1;
        p->state = RL_PORT;
        (*pp)++;
        return CONT;
    }
    return authority_end(p, pp);
}

static sl_int_t rl_port(sl_http_parse_t *p, u_char **pp, u_char *last)
{
    u_char *pos = *pp;

    while (pos < last && is_digit(*pos)) {
        pos++;
    }
    *pp = pos;
    if (pos == last) {
        return SL_AGAIN;
    }
    p->port_end = pos;
    return authority_end(p, pp);
}

/*
 * The byte ending the path, args or fragment (cls >= U_QUEST): records where the target
 * part ends and moves on.
 */
static sl_int_t target_part_end(sl_http_parse_t *p, u_char **pp, u_char *last, u_char cls)
{
    u_char *pos = *pp;

    switch (cls) {
    case U_QUEST:
        p->args_start = pos + 1;
        p->state = RL_ARGS;
        *pp = pos + 1;
        return NEXT(rl_args, p, pp, last);
    case U_HASH:
        p->state = RL_FRAGMENT;
        break;
    case U_SP:
        p->uri_end = pos;
        p->state = RL_SP_BEFORE_VERSION;
        *pp = pos + 1;
        return NEXT(rl_sp_before_version, p, pp, last);
    case U_CR:
        p->uri_end = p->request_end = pos;
        p->state = RL_09_LF;
        break;
    case U_LF:
        p->uri_end = p->request_end = pos;
        return SL_HTTP_PARSE_INVALID_09_METHOD;
    default:
        return SL_HTTP_PARSE_INVALID_REQUEST;
    }
    *pp = pos + 1;
    return CONT;
}

/* The byte ending the path. */
static sl_int_t path_end(sl_http_parse_t *p, u_char **pp, u_char *last, u_char cls)
{
    p->path_end = *pp;
    return target_part_end(p, pp, last, cls);
}

/*
 * The path until it turns out complex.  The sub-state tells what the bytes since the last
 * '/' were: RL_PATH_SLASH (none), RL_PATH_DOT ("."), RL_PATH_DOTDOT (".."), RL_PATH_SEG.
 */
static sl_int_t rl_path(sl_http_parse_t *p, u_char **pp, u_char *last)
{
    u_char *pos = *pp;
    sl_uint_t st = p->state;
    u_char cls;

    while (pos < last) {
        cls = uri_class[*pos];
        if (cls == U_OK) {
            do {
                pos++;
            } while (pos < last && uri_class[*pos] == U_OK);
            st = RL_PATH_SEG;
            continue;
        }
        if (cls == U_SLASH) {
            if (st != RL_PATH_SEG) {
                goto complex; /* "//", "/./", "/../" */
            }
            st = RL_PATH_SLASH;
            p->uri_ext = NULL;
        } else if (cls == U_DOT) {
            if (st == RL_PATH_SEG) {
                /* as nginx: no extension from the dots a segment starts with (".htaccess") */
                p->uri_ext = pos + 1;
            }
            st = st == RL_PATH_SLASH ? RL_PATH_DOT
                 : st == RL_PATH_DOT ? RL_PATH_DOTDOT
                                     : RL_PATH_SEG;
        } else if (cls == U_PLUS) {
            p->plus_in_uri = 1;
            st = RL_PATH_SEG;
        } else if (cls == U_PERCENT) {
            p->quoted_uri = 1;
            goto complex;
        } else {
            if (st == RL_PATH_DOT || st == RL_PATH_DOTDOT) {
                p->complex_uri = 1; /* ends in "/." or "/.." */
            }
            *pp = pos;
            return path_end(p, pp, last, cls);
        }
        pos++;
    }
    p->state = st;
    *pp = pos;
    return SL_AGAIN;

complex:
    p->complex_uri = 1;
    p->state = RL_PATH_COMPLEX;
    *pp = pos + 1;
    return CONT;
}

/* The rest of a path known to be complex: only '%', '+' and its end matter. */
static sl_int_t rl_path_complex(sl_http_parse_t *p, u_char **pp, u_char *last)
{
    u_char *pos = *pp;
    u_char cls = U_OK;

    while (pos < last) {
        cls = uri_class[*pos];
        if (cls <= U_DOT) {
            pos++;
            continue;
        }
        if (cls == U_PERCENT) {
            p->quoted_uri = 1;
        } else if (cls == U_PLUS) {
            p->plus_in_uri = 1;
        } else {
            *pp = pos;
            return path_end(p, pp, last, cls);
        }
        pos++;
    }
    *pp = pos;
    return SL_AGAIN;
}

static sl_int_t rl_args(sl_http_parse_t *p, u_char **pp, u_char *last)
{
    u_char *pos = *pp;

    while (pos < last && uri_class[*pos] <= U_QUEST) {
        pos++;
    }
    *pp = pos;
    if (pos == last) {
        return SL_AGAIN;
    }
    if (p->args_start != NULL) {
        p->args_end = pos;
    }
    return target_part_end(p, pp, last, uri_class[*pos]);
}

static sl_int_t rl_fragment(sl_http_parse_t *p, u_char **pp, u_char *last)
{
    u_char *pos = *pp;

    while (pos < last && uri_class[*pos] <= U_HASH) {
        pos++;
    }
    *pp = pos;
    if (pos == last) {
        return SL_AGAIN;
    }
    return target_part_end(p, pp, last, uri_class[*pos]);
}

/* "OPTIONS *": the '*' must end the target. */
static sl_int_t rl_asterisk(sl_http_parse_t *p, u_char **pp, u_char *last)
{
    u_char cls = uri_class[**pp];

    if (cls != U_SP && cls != U_CR && cls != U_LF) {
        return SL_HTTP_PARSE_INVALID_REQUEST;
    }
    return path_end(p, pp, last, cls);
}

static sl_int_t rl_sp_before_version(sl_http_parse_t *p, u_char **pp, u_char *last)
{
    u_char *pos = *pp;

    while (pos < last && *pos == ' ') {
        pos++;
    }
    *pp = pos;
    if (pos == last) {
        return SL_AGAIN;
    }
    if (*pos == CR || *pos == LF) {
        /* "GET / " CRLF: still HTTP/0.9 */
        p->request_end = pos;
        if (*pos == LF) {
            return SL_HTTP_PARSE_INVALID_09_METHOD;
        }
        p->state = RL_09_LF;
        *pp = pos + 1;
        return CONT;
    }
    if (last - pos >= 10 && memcmp(pos, "HTTP/1.", 7) == 0 && is_digit(pos[7]) && pos[8] == CR
        && pos[9] == LF) {
        /* the usual ending, whole in the buffer: the version states in one step */
        p->http_major = 1;
        p->http_minor = pos[7] - '0';
        p->request_end = pos + 8;
        *pp = pos + 9;
        return request_line_done(p, pp);
    }
    p->state = RL_V_LITERAL;
    return rl_v_literal(p, pp, last);
}

static sl_int_t rl_v_literal(sl_http_parse_t *p, u_char **pp, u_char *last)
{
    static const u_char http[] = "HTTP/";
    u_char *pos = *pp;

    while (pos < last) {
        if (*pos != http[p->state - RL_V_LITERAL]) {
            *pp = pos;
            return SL_HTTP_PARSE_INVALID_REQUEST;
        }
        pos++;
        if (++p->state == RL_V_MAJOR) {
            break;
        }
    }
    *pp = pos;
    return p->state == RL_V_MAJOR ? NEXT(rl_v_digits, p, pp, last) : SL_AGAIN;
}

/* One byte each: major DIGIT, '.', minor DIGIT. */
static sl_int_t rl_v_digits(sl_http_parse_t *p, u_char **pp, u_char *last)
{
    u_char c = **pp;

    if (p->state == RL_V_DOT) {
        if (c != '.') {
            return SL_HTTP_PARSE_INVALID_REQUEST;
        }
    } else if (!is_digit(c)) {
        return SL_HTTP_PARSE_INVALID_REQUEST;
    } else if (p->state == RL_V_MAJOR) {
        p->http_major = c - '0';
    } else {
        p->http_minor = c - '0';
    }
    (*pp)++;
    if (++p->state == RL_V_END) {
        return NEXT(rl_v_end, p, pp, last);
    }
    return NEXT(rl_v_digits, p, pp, last);
}

static sl_int_t request_line_done(sl_http_parse_t *p, u_char **pp)
{
    (*pp)++;
    p->http_version = p->http_major * 1000 + p->http_minor;
    p->state = RL_START;
    if (p->complex_uri) {
        p->uri_ext = NULL;
    }
    if (p->http_version != 1000 && p->http_version != 1001) {
        return SL_HTTP_PARSE_INVALID_VERSION;
    }
    return SL_OK;
}

/* After the version: SPs, then the line ending. */
static sl_int_t rl_v_end(sl_http_parse_t *p, u_char **pp, u_char *last)
{
    u_char *pos = *pp;

    while (pos < last && *pos == ' ') {
        pos++;
    }
    *pp = pos;
    if (pos == last) {
        return SL_AGAIN;
    }
    if (*pos == CR) {
        p->request_end = pos;
        p->state = RL_LF;
        *pp = pos + 1;
        return NEXT(rl_lf, p, pp, last);
    }
    if (*pos == LF) {
        p->request_end = pos;
        return request_line_done(p, pp);
    }
    return SL_HTTP_PARSE_INVALID_REQUEST;
}

static sl_int_t rl_lf(sl_http_parse_t *p, u_char **pp, u_char *last)
{
    (void) last;
    if (**pp != LF) {
        return SL_HTTP_PARSE_INVALID_REQUEST;
    }
    return request_line_done(p, pp);
}

/* CR right after the target: HTTP/0.9 if LF follows. */
static sl_int_t rl_09_lf(sl_http_parse_t *p, u_char **pp, u_char *last)
{
    (void) p;
    (void) last;
    return **pp == LF ? SL_HTTP_PARSE_INVALID_09_METHOD : SL_HTTP_PARSE_INVALID_REQUEST;
}

static const rl_state_fn rl_states[RL_NSTATES] = {
    [RL_START] = rl_start,
    [RL_START_LF] = rl_start_lf,
    [RL_METHOD] = rl_method,
    [RL_SP_BEFORE_URI] = rl_sp_before_uri,
    [RL_SCHEME] = rl_scheme,
    [RL_SCHEME_SLASH1] = rl_scheme_slash,
    [RL_SCHEME_SLASH2] = rl_scheme_slash,
    [RL_HOST_START] = rl_host_start,
    [RL_HOST] = rl_host,
    [RL_IP_LITERAL] = rl_ip_literal,
    [RL_IP_LITERAL_END] = rl_ip_literal_end,
    [RL_PORT] = rl_port,
    [RL_PATH_SEG] = rl_path,
    [RL_PATH_SLASH] = rl_path,
    [RL_PATH_DOT] = rl_path,
    [RL_PATH_DOTDOT] = rl_path,
    [RL_PATH_COMPLEX] = rl_path_complex,
    [RL_ARGS] = rl_args,
    [RL_FRAGMENT] = rl_fragment,
    [RL_ASTERISK] = rl_asterisk,
    [RL_SP_BEFORE_VERSION] = rl_sp_before_version,
    [RL_V_LITERAL... RL_V_LITERAL + 4] = rl_v_literal,
    [RL_V_MAJOR] = rl_v_digits,
    [RL_V_DOT] = rl_v_digits,
    [RL_V_MINOR] = rl_v_digits,
    [RL_V_END] = rl_v_end,
    [RL_LF] = rl_lf,
    [RL_09_LF] = rl_09_lf,
};

sl_int_t sl_http_parse_request_line(sl_http_parse_t *p, sl_buf_t *b)
{
    u_char *pos = b->pos, *last = b->last;
    sl_int_t rc;

    do {
        if (pos == last) {
            rc = SL_AGAIN;
            break;
        }
        SL_ASSERT(p->state < RL_NSTATES);
        rc = rl_states[p->state](p, &pos, last);
    } while (rc == CONT);

    b->pos = pos;
    return rc;
}

/* ---- header lines ---------------------------------------------------------------------- */

enum { HL_START = 0, HL_NAME, HL_VALUE_START, HL_VALUE, HL_LF, HL_EMPTY_LF, HL_NSTATES };

INLINE sl_int_t hl_name(sl_http_parse_t *p, u_char **pp, u_char *last);
INLINE sl_int_t hl_value_start(sl_http_parse_t *p, u_char **pp, u_char *last);
INLINE sl_int_t hl_value(sl_http_parse_t *p, u_char **pp, u_char *last);
INLINE sl_int_t hl_lf(sl_http_parse_t *p, u_char **pp, u_char *last);

static sl_int_t hl_start(sl_http_parse_t *p, u_char **pp, u_char *last)
{
    u_char c = **pp;

    p->header_name_start = *pp;
    p->header_name_end = NULL;
    p->header_start = p->header_end = NULL;
    p->header_hash = 0;
    p->lowcase_index = 0;
    p->invalid_header = 0;

    if (c == CR) {
        p->state = HL_EMPTY_LF;
        (*pp)++;
        return NEXT(hl_lf, p, pp, last);
    }
    if (c == LF) {
        (*pp)++;
        return SL_HTTP_PARSE_HEADER_DONE;
    }
    if (sl__http_token_lc[c] == 0) {
        /* obs-fold (SP, HTAB), an empty name (':'), or a byte no name has */
        return SL_HTTP_PARSE_INVALID_HEADER;
    }
    p->state = HL_NAME;
    return hl_name(p, pp, last);
}

/* Stores four lowercase bytes (v, first byte lowest) at lc[*i], up to the copy's size. */
INLINE void lowcase4(u_char *lc, sl_uint_t *i, uint32_t v)
{
    if (*i <= SL_HTTP_LC_HEADER_LEN - 4) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(lc + *i, &v, 4);
#else
        lc[*i] = (u_char) v;
        lc[*i + 1] = (u_char) (v >> 8);
        lc[*i + 2] = (u_char) (v >> 16);
        lc[*i + 3] = (u_char) (v >> 24);
#endif
        *i += 4;
        return;
    }
    for (; *i < SL_HTTP_LC_HEADER_LEN; (*i)++, v >>= 8) {
        lc[*i] = (u_char) v;
    }
}

/*
 * The name's bytes go into the hash and the lowercase copy as they are scanned: four at a
 * time while none of them is '_' or ends the name (h * 31^4 + c0 * 31^3 + ... + c3 is four
 * sl_hash() steps, with the multiplications off the dependency chain), then one at a time.
 * Hash and index live in locals: stores into lowcase_header could alias the struct's fields.
 */
/* The end of a name: ':' must follow it. */
INLINE sl_int_t hl_name_end(sl_http_parse_t *p, u_char **pp, u_char *pos, u_char *last)
{
    *pp = pos;
    if (pos == last) {
        return SL_AGAIN;
    }
    if (*pos != ':') {
        /* SP or HTAB before ':', no ':' at all, or a byte no name has */
        return SL_HTTP_PARSE_INVALID_HEADER;
    }
    p->header_name_end = pos;
    p->state = HL_VALUE_START;
    *pp = pos + 1;
    return NEXT(hl_value_start, p, pp, last);
}

#ifdef __SSE2__
/* The first byte of the 16 at pos that is not a letter, a digit or '-' (the bytes of
 * nearly every name); 16 when there is none. */
static inline unsigned name_run16(const u_char *pos)
{
    const __m128i x = _mm_loadu_si128((const __m128i *) pos);
    /* unsigned ranges as signed compares: c - lo - 128 < n - 128 <=> c - lo < n */
    const __m128i alpha = _mm_cmplt_epi8(
        _mm_add_epi8(_mm_or_si128(x, _mm_set1_epi8(0x20)), _mm_set1_epi8((char) (0x80 - 'a'))),
        _mm_set1_epi8((char) (-128 + 26)));
    const __m128i digit = _mm_cmplt_epi8(_mm_add_epi8(x, _mm_set1_epi8((char) (0x80 - '0'))),
                                         _mm_set1_epi8((char) (-128 + 10)));
    const __m128i dash = _mm_cmpeq_epi8(x, _mm_set1_epi8('-'));
    unsigned m = (unsigned) _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(alpha, digit), dash));

    return (unsigned) __builtin_ctz(~m);
}
#endif

/* plain_names: the name is only checked, sixteen or four bytes at a time. */
INLINE sl_int_t hl_name_plain(sl_http_parse_t *p, u_char **pp, u_char *last)
{
    u_char *pos = *pp;

#ifdef __SSE2__
    while (last - pos >= 16) {
        unsigned n = name_run16(pos);
        pos += n;
        if (n < 16) {
            if (*pos == ':') {
                return hl_name_end(p, pp, pos, last); /* the usual end */
            }
            break;
        }
    }
#endif
    while (last - pos >= 4 && (tchar[pos[0]] & tchar[pos[1]] & tchar[pos[2]] & tchar[pos[3]])) {
        pos += 4;
    }
    while (pos < last && tchar[*pos]) {
        pos++;
    }
    return hl_name_end(p, pp, pos, last);
}

INLINE sl_int_t hl_name(sl_http_parse_t *p, u_char **pp, u_char *last)
{
    u_char *pos = *pp, *lc = p->lowcase_header, c;
    sl_uint_t hash = p->header_hash, i = p->lowcase_index;
    uint32_t c0, c1, c2, c3, v;

    if (p->plain_names) {
        return hl_name_plain(p, pp, last);
    }
    while (last - pos >= 4) {
        c0 = name_fast[pos[0]];
        c1 = name_fast[pos[1]];
        c2 = name_fast[pos[2]];
        c3 = name_fast[pos[3]];
        v = c0 | c1 << 8 | c2 << 16 | c3 << 24;
        if (((v - 0x01010101) & ~v & 0x80808080) != 0) {
            break; /* a zero byte: all table values are below 0x80 */
        }
        hash = hash * (31 * 31 * 31 * 31) + c0 * (31 * 31 * 31) + c1 * (31 * 31) + c2 * 31 + c3;
        lowcase4(lc, &i, v);
        pos += 4;
    }
    for (; pos < last && (c = sl__http_token_lc[*pos]) != 0; pos++) {
        hash = sl_hash(hash, c);
        if (i < SL_HTTP_LC_HEADER_LEN) {
            lc[i++] = c;
        }
        if (c == '_') {
            p->invalid_header = 1; /* cleared by the caller when underscores are allowed */
        }
    }
    p->header_hash = hash;
    p->lowcase_index = i;
    return hl_name_end(p, pp, pos, last);
}

INLINE sl_int_t hl_value_start(sl_http_parse_t *p, u_char **pp, u_char *last)
{
    u_char *pos = *pp;

    while (pos < last && (*pos == ' ' || *pos == '\t')) {
        pos++;
    }
    *pp = pos;
    if (pos == last) {
        return SL_AGAIN;
    }
    p->header_start = pos;
    p->state = HL_VALUE;
    return hl_value(p, pp, last);
}

INLINE sl_int_t hl_value(sl_http_parse_t *p, u_char **pp, u_char *last)
{
    u_char *pos = *pp, *end;

    for (;;) {
        pos = skip_value_bytes(pos, last);
        if (pos == last) {
            *pp = pos;
            return SL_AGAIN;
        }
        if (*pos != '\t') {
            break;
        }
        pos++;
    }
    *pp = pos;
    if (*pos != CR && *pos != LF) {
        return SL_HTTP_PARSE_INVALID_HEADER;
    }
    /* trailing OWS: only the bytes just scanned, which the caller keeps */
    for (end = pos; end > p->header_start && (end[-1] == ' ' || end[-1] == '\t'); end--) {
        /* void */
    }
    p->header_end = end;
    *pp = pos + 1;
    if (*pos == LF) {
        p->state = HL_START;
        return SL_OK;
    }
    p->state = HL_LF;
    return NEXT(hl_lf, p, pp, last);
}

/* The LF after the CR of a field line (HL_LF) or of the empty line (HL_EMPTY_LF). */
INLINE sl_int_t hl_lf(sl_http_parse_t *p, u_char **pp, u_char *last)
{
    (void) last;
    if (**pp != LF) {
        return SL_HTTP_PARSE_INVALID_HEADER;
    }
    (*pp)++;
    if (p->state == HL_EMPTY_LF) {
        p->state = HL_START;
        return SL_HTTP_PARSE_HEADER_DONE;
    }
    p->state = HL_START;
    return SL_OK;
}

static const rl_state_fn hl_states[HL_NSTATES] = {
    [HL_START] = hl_start, [HL_NAME] = hl_name, [HL_VALUE_START] = hl_value_start,
    [HL_VALUE] = hl_value, [HL_LF] = hl_lf,     [HL_EMPTY_LF] = hl_lf,
};

sl_int_t sl_http_parse_header_line(sl_http_parse_t *p, sl_buf_t *b, int allow_underscores)
{
    u_char *pos = b->pos;
    sl_int_t rc;

    if (pos == b->last) {
        return SL_AGAIN;
    }
    SL_ASSERT(p->state < HL_NSTATES);
    rc = hl_states[p->state](p, &pos, b->last);
    b->pos = pos;
    if (rc == SL_OK && allow_underscores) {
        p->invalid_header = 0;
    }
    return rc;
}

/* ---- status line ----------------------------------------------------------------------- */

enum {
    ST_LITERAL = 0, /* "HTTP/": 5 states */
    ST_MAJOR_FIRST = ST_LITERAL + 5,
    ST_MAJOR,
    ST_MINOR_FIRST,
    ST_MINOR,
    ST_SP,
    ST_CODE, /* 3 states, one per digit */
    ST_AFTER_CODE = ST_CODE + 3,
    ST_REASON,
    ST_LF,
    ST_NSTATES
};

static sl_int_t st_literal(sl_http_parse_t *p, sl_http_status_t *st, u_char **pp, u_char *last)
{
    static const u_char http[] = "HTTP/";
    u_char *pos = *pp;

    if (p->state == ST_LITERAL) {
        p->request_start = pos;
        p->http_major = p->http_minor = 0;
        st->code = 0;
        st->start = st->end = NULL;
    }
    while (pos < last) {
        if (*pos != http[p->state - ST_LITERAL]) {
            *pp = pos;
            return SL_HTTP_PARSE_INVALID_STATUS;
        }
        pos++;
        if (++p->state == ST_MAJOR_FIRST) {
            break;
        }
    }
    *pp = pos;
    return p->state == ST_MAJOR_FIRST ? CONT : SL_AGAIN;
}

/* major (1-2 digits) "." minor (1-3 digits); the first digit of each is required. */
static sl_int_t st_version(sl_http_parse_t *p, sl_http_status_t *st, u_char **pp, u_char *last)
{
    u_char c = **pp;
    int minor = p->state >= ST_MINOR_FIRST;
    sl_uint_t *v = minor ? &p->http_minor : &p->http_major;

    (void) st;
    (void) last;
    if (is_digit(c)) {
        *v = *v * 10 + (c - '0');
        if (*v > (minor ? 999u : 99u)) {
            return SL_HTTP_PARSE_INVALID_STATUS;
        }
        p->state = minor ? ST_MINOR : ST_MAJOR;
    } else if (p->state == ST_MAJOR && c == '.') {
        p->state = ST_MINOR_FIRST;
    } else if (p->state == ST_MINOR && c == ' ') {
        p->state = ST_SP;
    } else {
        return SL_HTTP_PARSE_INVALID_STATUS;
    }
    (*pp)++;
    return CONT;
}

static sl_int_t st_sp(sl_http_parse_t *p, sl_http_status_t *st, u_char **pp, u_char *last)
{
    u_char *pos = *pp;

    while (pos < last && *pos == ' ') {
        pos++;
    }
    *pp = pos;
    if (pos == last) {
        return SL_AGAIN;
    }
    st->start = pos;
    p->state = ST_CODE;
    return CONT;
}

static sl_int_t st_code(sl_http_parse_t *p, sl_http_status_t *st, u_char **pp, u_char *last)
{
    u_char c = **pp;

    (void) last;
    if (!is_digit(c)) {
        return SL_HTTP_PARSE_INVALID_STATUS;
    }
    st->code = st->code * 10 + (c - '0');
    p->state++;
    (*pp)++;
    if (p->state == ST_AFTER_CODE && st->code < 100) {
        return SL_HTTP_PARSE_INVALID_STATUS;
    }
    return CONT;
}

static sl_int_t status_line_done(sl_http_parse_t *p, sl_http_status_t *st, u_char **pp)
{
    (*pp)++;
    p->http_version = p->http_major * 1000 + p->http_minor;
    st->http_version = p->http_version;
    p->state = ST_LITERAL;
    return SL_OK;
}

/* After the code: SP and a reason, or the line ending; then the reason's bytes. */
static sl_int_t st_reason(sl_http_parse_t *p, sl_http_status_t *st, u_char **pp, u_char *last)
{
    u_char *pos = *pp;

    if (p->state == ST_AFTER_CODE) {
        if (*pos == ' ') {
            p->state = ST_REASON;
            *pp = pos + 1;
            return CONT;
        }
    } else {
        for (;;) {
            pos = skip_value_bytes(pos, last);
            if (pos == last || *pos != '\t') {
                break;
            }
            pos++;
        }
        *pp = pos;
        if (pos == last) {
            return SL_AGAIN;
        }
    }
    if (*pos != CR && *pos != LF) {
        return SL_HTTP_PARSE_INVALID_STATUS;
    }
    if (*pos == LF) {
        st->end = pos;
        return status_line_done(p, st, pp);
    }
    p->state = ST_LF;
    *pp = pos + 1;
    return CONT;
}

static sl_int_t st_lf(sl_http_parse_t *p, sl_http_status_t *st, u_char **pp, u_char *last)
{
    (void) last;
    if (**pp != LF) {
        return SL_HTTP_PARSE_INVALID_STATUS;
    }
    st->end = *pp - 1; /* the CR: set only now, so the caller need not shift it */
    return status_line_done(p, st, pp);
}

static const st_state_fn st_states[ST_NSTATES] = {
    [ST_LITERAL... ST_LITERAL + 4] = st_literal,
    [ST_MAJOR_FIRST... ST_MINOR] = st_version,
    [ST_SP] = st_sp,
    [ST_CODE... ST_CODE + 2] = st_code,
    [ST_AFTER_CODE] = st_reason,
    [ST_REASON] = st_reason,
    [ST_LF] = st_lf,
};

/*
 * The usual start, "HTTP/1.x DDD" with a code from 100, whole in the buffer: the version and
 * code states in one step, on to what follows the code.  Anything else, or a line cut
 * short, takes the states byte by byte.
 */
static void st_quick(sl_http_parse_t *p, sl_http_status_t *st, u_char **pp, u_char *last)
{
    u_char *s = *pp;

    if (last - s < 12 || memcmp(s, "HTTP/1.", 7) != 0 || !is_digit(s[7]) || s[8] != ' '
        || !is_digit(s[9]) || s[9] == '0' || !is_digit(s[10]) || !is_digit(s[11])) {
        return;
    }
    p->request_start = s;
    p->http_major = 1;
    p->http_minor = s[7] - '0';
    st->code = (sl_uint_t) ((s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0'));
    st->start = s + 9;
    st->end = NULL;
    p->state = ST_AFTER_CODE;
    *pp = s + 12;
}

sl_int_t sl_http_parse_status_line(sl_http_parse_t *p, sl_buf_t *b, sl_http_status_t *status)
{
    u_char *pos = b->pos, *last = b->last;
    sl_int_t rc;

    if (p->state == ST_LITERAL) {
        st_quick(p, status, &pos, last);
    }
    do {
        if (pos == last) {
            rc = SL_AGAIN;
            break;
        }
        SL_ASSERT(p->state < ST_NSTATES);
        rc = st_states[p->state](p, status, &pos, last);
    } while (rc == CONT);

    b->pos = pos;
    return rc;
}
