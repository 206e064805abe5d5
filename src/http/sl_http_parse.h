/*
 * sl_http_parse.h: the HTTP/1.x parsers: request line, header lines, status line, chunked
 * transfer coding, and request-target normalization.
 *
 * A pure library: no I/O, no allocation, one pass over the input, table-driven.  Every
 * parser is resumable: all of its state lives in the struct passed in, so the input may be
 * split at any byte and fed in pieces.  Results are pointers into the caller's buffer.
 *
 * Grammar: RFC 9112 and RFC 9110, with nginx 1.22's choices where the RFC leaves room, and
 * stricter than nginx where request smuggling or ambiguity is at stake.  What differs from
 * nginx 1.22 (observed on Debian's 1.22.1) is listed beside each parser below.
 *
 * Moving the buffer.  On SL_AGAIN (b->pos == b->last) the caller may move the unparsed bytes
 * to a bigger buffer and call again with more bytes appended.  When p->state == 0 nothing
 * before b->pos is needed.  Otherwise it must keep every byte from
 *   - p->request_start to b->last (request line, status line), and shift by the distance they
 *     moved every non-NULL request-line pointer: request_start ... uri_ext (and status->start);
 *   - p->header_name_start to b->last (header line), and shift header_name_start,
 *     header_name_end, header_start, header_end.
 * The parser reads no other pointer, so a caller that keeps the request line in the old
 * buffer while moving a header line (as nginx does) leaves the request-line pointers alone.
 * sl_http_parse_chunked() keeps no pointers at all.
 */
#ifndef SL_HTTP_PARSE_H
#define SL_HTTP_PARSE_H

#include "sl_core.h"
#include "sl_buf.h"
#include "sl_str.h"

/* methods: a bitmask, so "limit_except"-style sets are masks */
#define SL_HTTP_UNKNOWN 0x00000001
#define SL_HTTP_GET 0x00000002
#define SL_HTTP_HEAD 0x00000004
#define SL_HTTP_POST 0x00000008
#define SL_HTTP_PUT 0x00000010
#define SL_HTTP_DELETE 0x00000020
#define SL_HTTP_MKCOL 0x00000040
#define SL_HTTP_COPY 0x00000080
#define SL_HTTP_MOVE 0x00000100
#define SL_HTTP_OPTIONS 0x00000200
#define SL_HTTP_PROPFIND 0x00000400
#define SL_HTTP_PROPPATCH 0x00000800
#define SL_HTTP_LOCK 0x00001000
#define SL_HTTP_UNLOCK 0x00002000
#define SL_HTTP_PATCH 0x00004000
#define SL_HTTP_TRACE 0x00008000
#define SL_HTTP_CONNECT 0x00010000

/* parse results besides SL_OK / SL_AGAIN */
#define SL_HTTP_PARSE_HEADER_DONE 1        /* the empty line ending the header section */
#define SL_HTTP_PARSE_INVALID_METHOD 10    /* -> 400 */
#define SL_HTTP_PARSE_INVALID_REQUEST 11   /* -> 400 */
#define SL_HTTP_PARSE_INVALID_VERSION 12   /* -> 505 */
#define SL_HTTP_PARSE_INVALID_09_METHOD 13 /* request line without version -> 400 */
#define SL_HTTP_PARSE_INVALID_HEADER 14    /* -> 400 */
#define SL_HTTP_PARSE_INVALID_CHUNK 15     /* -> 400 and close */
#define SL_HTTP_PARSE_INVALID_STATUS 16    /* upstream status line -> "no valid HTTP/1.0 header" */

#define SL_HTTP_LC_HEADER_LEN 32

/* Bounds of the chunked framing (see sl_http_parse_chunked()). */
#define SL_HTTP_CHUNK_LINE_MAX 4096    /* bytes of a chunk-size line before its CRLF */
#define SL_HTTP_CHUNK_TRAILER_MAX 8192 /* bytes of the trailer section, final CRLF included */

typedef struct {
    /** the parser's state; 0 between lines (see "Moving the buffer" above) */
    sl_uint_t state;

    /* request line, valid after SL_OK (pointers into the buffer) */
    /** the line without its line ending (trailing SPs included, as nginx logs it) */
    u_char *request_start, *request_end;
    u_char *method_start, *method_end;
    /** the request-target as sent, fragment included */
    u_char *uri_start, *uri_end;
    /** absolute-form scheme ("http", any letters: the caller checks) */
    u_char *schema_start, *schema_end;
    /** absolute-form host, "[...]" included for an IPv6 literal; port separately */
    u_char *host_start, *host_end;
    u_char *port_start, *port_end;
    /**
     * The path: path_start..path_end, never empty, always starting with '/' (or the "*" of
     * "OPTIONS *").  For absolute-form without a path ("http://h" or "http://h?a") it is the
     * "/" byte inside "://", so the path reads as "/" (as nginx does); the caller tells that
     * case by path_start < host_start (e.g. to build an unparsed URI: "/" then "?" args).
     * path_end is at '?', '#' or uri_end.
     */
    u_char *path_start, *path_end;
    /** after '?', NULL if none; args end at args_end ('#' or uri_end) */
    u_char *args_start, *args_end;
    /**
     * After the last '.' of the last path segment, NULL if none; as nginx, the dots a segment
     * starts with do not count ("/.htaccess", "/..x" have none).  Valid only when complex_uri
     * is 0; otherwise call sl_http_uri_ext() on the normalized path.
     */
    u_char *uri_ext;
    sl_uint_t method;
    sl_uint_t http_major, http_minor;
    /** major * 1000 + minor */
    sl_uint_t http_version;
    /**
     * The path needs sl_http_parse_complex_uri(): it has "//", "/./", "/../", ends in "/." or
     * "/..", or has '%'.  When 0 the path is already normal and the caller may use it as is.
     */
    unsigned complex_uri : 1;
    /** the path has '%' (complex_uri is set too) */
    unsigned quoted_uri : 1;
    unsigned plus_in_uri : 1;
    /** never set: a space in the target is rejected; kept for the API */
    unsigned space_in_uri : 1;

    /* header line, valid after SL_OK from sl_http_parse_header_line */
    u_char *header_name_start, *header_name_end;
    /** the value, OWS trimmed at both ends */
    u_char *header_start, *header_end;
    /** sl_hash() of the whole lowercased name: sl_hash_find() on an SL_HASH_LOWCASE table */
    sl_uint_t header_hash;
    /** bytes of the name lowercased into lowcase_header (<= SL_HTTP_LC_HEADER_LEN) */
    sl_uint_t lowcase_index;
    u_char lowcase_header[SL_HTTP_LC_HEADER_LEN];
    /** the name had '_' and underscores are not allowed: the caller ignores the header */
    unsigned invalid_header : 1;
    /**
     * Set by a caller that looks names up by other means (the proxy, on an upstream's
     * response): names are only checked, header_hash, lowcase_header and lowcase_index
     * are left unset, and '_' is allowed (invalid_header stays 0).
     */
    unsigned plain_names : 1;
} sl_http_parse_t;

/*
 * Parses the request line at b->pos.  Returns
 *   SL_OK       the line is complete (b->pos after its line ending); the fields above are set
 *               and p->state is 0, ready for sl_http_parse_header_line();
 *   SL_AGAIN    all input consumed (b->pos == b->last), call again with more;
 *   SL_HTTP_PARSE_INVALID_METHOD, _INVALID_REQUEST, _INVALID_09_METHOD:
 *               b->pos at the offending byte (for _09_METHOD at the LF); the line parsed so far
 *               is request_start..b->pos (request_start is always set, request_end once the
 *               line's CR or LF was seen; no pointer is left over from an earlier request);
 *   SL_HTTP_PARSE_INVALID_VERSION: the whole line was parsed (all fields set, http_major and
 *               http_minor too), b->pos after its line ending.
 *
 * Rules (RFC 9112 §3; differences from nginx 1.22 marked "nginx:"):
 *   - empty lines (CRLF or LF) before the request line are skipped (§2.2);
 *   - method: 1+ of A-Z '_' '-'; anything else -> INVALID_METHOD (lowercase too); known names
 *     map to SL_HTTP_*, others to SL_HTTP_UNKNOWN; CONNECT parses like any other method (its
 *     authority-form target fails as INVALID_REQUEST; "CONNECT / ..." returns SL_OK and the
 *     caller answers 405, as nginx 1.22 does);
 *   - one or more SP between the parts and after the version (nginx accepts runs of SP too;
 *     RFC 9112 §3 allows it); HTAB or other whitespace -> INVALID_REQUEST;
 *   - target: origin-form "/..."; absolute-form scheme "://" host [":" port] [path] with a
 *     scheme of letters, a host of letters, digits, '.', '-' or an "[...]" of hex digits,
 *     ':' and '.', a port of digits; userinfo, an empty host -> INVALID_REQUEST (nginx: 400
 *     too); "*" only for OPTIONS (SL_OK; nginx 1.22 answers 400, the caller decides);
 *     every byte > 0x20 except DEL; anything else (controls, NUL, HTAB) -> INVALID_REQUEST;
 *     a '#' starts a fragment, excluded from path and args (as nginx);
 *   - version: "HTTP/" DIGIT "." DIGIT.  1.0 and 1.1 -> SL_OK; another single-digit version
 *     (0.9, 1.2, 2.0) -> INVALID_VERSION (nginx: 0.9 -> 400, 1.2..1.999 -> 200); any other
 *     shape (1.10, 01.1, "1", "http/", "1.1x") -> INVALID_REQUEST;
 *   - no version ("GET /" CRLF) -> INVALID_09_METHOD: HTTP/0.9 is refused (nginx serves it);
 *   - line ending CRLF or bare LF; a CR not followed by LF -> INVALID_REQUEST.
 */
sl_int_t sl_http_parse_request_line(sl_http_parse_t *p, sl_buf_t *b);

/*
 * Parses one header line (or the empty line ending the section) at b->pos.  Returns
 *   SL_OK       a field line: header_name_start..header_name_end, header_start..header_end
 *               (OWS trimmed), header_hash, lowcase_header/lowcase_index, invalid_header;
 *               b->pos after the line ending; p->state is 0;
 *   SL_HTTP_PARSE_HEADER_DONE  the empty line (b->pos after it);
 *   SL_AGAIN    all input consumed;
 *   SL_HTTP_PARSE_INVALID_HEADER  b->pos at the offending byte.
 *
 * Rules (RFC 9110 §5, RFC 9112 §5):
 *   - name: 1+ tchar; an empty name, SP/HTAB before ':', no ':' at all, or any non-tchar
 *     ('@', '(', '{', NUL, controls, bytes >= 0x80) -> INVALID_HEADER (nginx: ignores a name
 *     with such bytes and takes "Name" CRLF as an empty field);
 *   - '_' is a tchar, but with allow_underscores == 0 the line returns SL_OK with
 *     invalid_header set: the caller ignores it (nginx's underscores_in_headers off);
 *   - value: HTAB, SP, VCHAR, bytes >= 0x80; NUL, DEL and other controls -> INVALID_HEADER
 *     (nginx: rejects NUL only); leading and trailing SP/HTAB are trimmed (nginx trims SP
 *     only at the end);
 *   - a line starting with SP or HTAB (obs-fold, or whitespace after the start line) ->
 *     INVALID_HEADER;
 *   - line ending CRLF or bare LF (as nginx); a CR not followed by LF -> INVALID_HEADER.
 */
sl_int_t sl_http_parse_header_line(sl_http_parse_t *p, sl_buf_t *b, int allow_underscores);

/*
 * Normalizes the path path_start..path_end into dst, which has room for uri_end - path_start
 * bytes: decodes %XX (either case; a decoded "%2F" is a '/'), resolves "." and ".." segments
 * (decoded ones too: "/a/%2e%2e/b" -> "/b", as nginx), and merges runs of '/' when
 * merge_slashes (before resolving: "/a//../b" -> "/b"; without merging -> "/a/b").  A trailing
 * "/." leaves the '/', a trailing "/.." removes the last segment: "/a/." -> "/a/", "/a/.." ->
 * "/".  out gets the result (out->data == dst).  Args are not touched.
 *
 * Returns SL_OK, or SL_HTTP_PARSE_INVALID_REQUEST for '%' not followed by two hex digits, a
 * decoded %00, or ".." above the root ("/..", "/a/../..").  Does not change p.
 */
sl_int_t sl_http_parse_complex_uri(sl_http_parse_t *p, u_char *dst, sl_str_t *out,
                                   int merge_slashes);

/*
 * A uri an upstream asks for (X-Accel-Redirect), as nginx 1.22 takes it: the first '?'
 * ends the path (*args gets the rest, undecoded; left alone without one); a path with
 * '%' is decoded once into dst (room for uri->len bytes; a decoded "%3F" stays in the
 * path, a '%' without two hex digits is dropped as nginx drops it).  Empty, starting with
 * '?', or holding, once decoded, a NUL or a "." or ".." segment, it is unsafe.  *uri gets
 * the path (in dst when decoded) either way.  SL_OK, or SL_DECLINED when unsafe.
 */
sl_int_t sl_http_parse_unsafe_uri(u_char *dst, sl_str_t *uri, sl_str_t *args);

/*
 * The extension of a normalized path: a pointer after the last '.' of its last segment, or
 * NULL if that segment has none other than the one or two dots it may start with (nginx's
 * rule: "/a.b.c" -> "c"; "/.htaccess", "/..x", "/...x" -> NULL; "/.a.b" -> "b").  The extension is
 * the return value..end.
 */
u_char *sl_http_uri_ext(const u_char *start, const u_char *end);

/* response status line (for the proxy's upstream side) */
typedef struct {
    sl_uint_t code;
    /** "200 OK": from the code to the line ending (a reason may be empty or absent) */
    u_char *start, *end;
    sl_uint_t http_version;
} sl_http_status_t;

/*
 * Parses "HTTP/" major "." minor SP+ 3DIGIT [SP reason] line-ending at b->pos into status
 * (which must be zeroed, with p, before the first call).  Returns SL_OK (b->pos after the
 * line), SL_AGAIN, or SL_HTTP_PARSE_INVALID_STATUS with b->pos at the offending byte.
 *
 * As nginx: major 1-2 digits, minor 1-3 digits (any version: the caller decides), runs of SP
 * before the code, no reason at all ("HTTP/1.1 200" CRLF), bare LF.  Codes 100-999 (nginx
 * also takes 000-099).  Reason: HTAB, SP, VCHAR, obs-text; other controls ->
 * INVALID_STATUS (nginx passes them on).  p->request_start is the start of the line.
 */
sl_int_t sl_http_parse_status_line(sl_http_parse_t *p, sl_buf_t *b, sl_http_status_t *status);

/* chunked transfer coding */
typedef struct {
    sl_uint_t state;
    /** after SL_OK: bytes of chunk data that follow at b->pos (may extend past b->last) */
    off_t size;
    /** a hint: at least this many bytes of chunked body are still to come (as of the
     * call; sl_http_chunked_left() once data was consumed) */
    off_t length;
    /** bytes of the current chunk-size line and of the trailer section, for their bounds */
    sl_uint_t ext_len, trailer_len;
} sl_http_chunked_t;

/*
 * Decodes chunked framing at b->pos; ctx starts zeroed.  Returns
 *   SL_OK     chunk data starts at b->pos, ctx->size bytes of it: the caller consumes
 *             min(size, last - pos), advances b->pos, subtracts from ctx->size, and calls
 *             again (with more input when the buffer is used up; while ctx->size > 0 the call
 *             returns SL_OK again at once, or SL_AGAIN on an empty buffer);
 *   SL_DONE   the last chunk and the trailer section are complete; b->pos is after the final
 *             CRLF (the next pipelined request starts there);
 *   SL_AGAIN  all input consumed (b->pos == b->last);
 *   SL_HTTP_PARSE_INVALID_CHUNK  b->pos at the offending byte.
 *
 * RFC 9112 §7.1, strictly (stricter than nginx 1.22, against request smuggling):
 *   - chunk-size: 1+ hex digits, no leading whitespace, no "0x", no sign; a value beyond
 *     off_t -> INVALID (leading zeros are fine);
 *   - chunk-ext: *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ), skipped;
 *     BWS before the CRLF is tolerated (nginx does too); an empty name -> INVALID (nginx
 *     accepts "5;"); the whole size line is bounded by SL_HTTP_CHUNK_LINE_MAX;
 *   - CRLF is required everywhere: a bare LF after the size line, after the data, in the
 *     trailer section or as the final line ending -> INVALID (nginx accepts bare LF);
 *   - chunk data must be followed by exactly CRLF;
 *   - trailer fields are checked as header lines (tchar name, ':' right after it, value bytes
 *     as for headers, no obs-fold) and dropped (nginx skips them unchecked); the section is
 *     bounded by SL_HTTP_CHUNK_TRAILER_MAX.
 * The caller bounds the decoded body (client_max_body_size) itself.
 */
sl_int_t sl_http_parse_chunked(sl_http_chunked_t *ctx, sl_buf_t *b);

/* The fewest bytes of chunked body that can still follow, now: what ctx->length says after
 * a call, less the chunk data the caller consumed since.  0 once the body is done. */
off_t sl_http_chunked_left(const sl_http_chunked_t *ctx);

/*
 * Internal, shared by the parser files: RFC 9110 tchar lowercased ('A' -> 'a'), 0 for a byte
 * that is not a tchar.
 */
extern const u_char sl__http_token_lc[256];

#endif /* SL_HTTP_PARSE_H */
