/*
 * sl_proxy.h: what the proxy module's files share, private to src/http/proxy: the
 * location's configuration, the per-request context, and the functions one file gives the
 * others (the upstream callbacks and the helpers of proxy_handler).
 */
#ifndef SL_PROXY_H
#define SL_PROXY_H

#include "sl_http_variables.h"
#include "sl_proxy_rewrite.h"
#include "sl_upstream.h"

typedef struct {
    sl_str_t name;
    /** the name lowercased, to compare with a client header's lowcase_key */
    u_char *lc_name;
    sl_http_complex_value_t value;
    /** the name is Host or Connection (any case): it replaces the line sluice writes */
    unsigned is_host : 1;
    unsigned is_connection : 1;
} proxy_header_t;

/* Where proxy_pass sends a request: fixed at start-up, or evaluated per request when the
 * url has variables. */
typedef struct {
    /** a literal url's group: an upstream{} block of that name, or the implicit group of
     * its address(es); bound once the whole http block is read */
    sl_upstream_group_t *group;
    /** the addresses; NULL for a host name (a group to find, or a name to resolve) */
    sl_addr_t *addrs;
    sl_uint_t naddrs;
    /** the host as written (without the brackets of "[v6]") and the port */
    sl_str_t host;
    int port;
    unsigned no_port : 1;
    /** $proxy_host, the default Host: "host[:port]", "[v6]:port", "localhost" for unix */
    sl_str_t host_header;
    /** $proxy_port: empty for a unix socket */
    sl_str_t port_text;
    /** the uri part, possibly empty */
    sl_str_t uri;
    /** https:// */
    unsigned ssl : 1;
} proxy_target_t;

/* proxy_ssl_* beside what the upstream reads (sl_upstream_conf_t's ssl_*): what the
 * location's TLS context is made of (sl_proxy_ssl.c). */
typedef struct {
    sl_uint_t protocols;
    sl_str_t ciphers;
    sl_str_t trusted_certificate;
    sl_str_t crl;
    sl_int_t verify_depth;
    /** proxy_ssl_certificate/_key as written (with variables: compiled into the upstream
     * conf and loaded per connection) */
    sl_str_t certificate;
    sl_str_t certificate_key;
    sl_array_t *passwords;
    sl_array_t *conf_commands;
    /** some proxy_pass of this location can be https (https://, or variables) */
    unsigned wanted : 1;
} proxy_ssl_conf_t;

typedef struct proxy_loc_conf_s {
    sl_upstream_conf_t upstream;
    /** proxy_pass without variables */
    proxy_target_t target;
    /** proxy_pass with variables: evaluated for each request, NULL otherwise */
    sl_http_complex_value_t *url;
    /** the location's name, the prefix a static uri part replaces */
    sl_str_t location;
    /** the conf this one was merged with (an if or limit_except block's location's) */
    struct proxy_loc_conf_s *prev;
    unsigned pass_set : 1;
    sl_uint_t http_version;
    /** proxy_set_header, NULL when unset at this level (inherited as a whole) */
    sl_array_t *set_headers;
    /** proxy_headers_hash_max_size, proxy_headers_hash_bucket_size: checked as nginx where it
     * would build its headers hash (no other effect) */
    sl_int_t headers_hash_max_size;
    sl_int_t headers_hash_bucket_size;
    /** the server{} level's conf (made while the http block is parsed) */
    unsigned server_level : 1;
    /** proxy_method, proxy_set_body: NULL when unset */
    sl_http_complex_value_t *method;
    sl_http_complex_value_t *body;
    /** proxy_bind: a literal address, NULL for none ("off") */
    sl_addr_t *bind;
    /** proxy_bind with variables: evaluated per request ("" binds nothing) */
    sl_http_complex_value_t *bind_value;
    unsigned bind_set : 1;
    sl_int_t socket_keepalive;
    sl_int_t request_buffering;
    /** proxy_hide_header, proxy_pass_header: sl_str_t */
    sl_array_t *hide;
    sl_array_t *pass;
    /** proxy_redirect, proxy_cookie_domain/_path/_flags */
    sl_proxy_rewrite_conf_t rewrite;
    proxy_ssl_conf_t ssl;
} proxy_loc_conf_t;

/* How a body is framed: each framing has its decoder (sl_proxy_body.c). */
typedef enum {
    /** Content-Length: the body ends after that many bytes */
    PROXY_BODY_LENGTH = 0,
    /** Transfer-Encoding: chunked: the body ends with the last chunk and the trailer */
    PROXY_BODY_CHUNKED,
    /** neither: the body ends when the upstream closes the connection */
    PROXY_BODY_CLOSE,
} proxy_framing_t;

/* A body's decoder: its framing and how far into the body it is. */
typedef struct {
    proxy_framing_t framing;
    /** Content-Length: body bytes still to come */
    off_t rest;
    /** chunked: the parser's state */
    sl_http_chunked_t chunked;
} proxy_body_t;

typedef struct {
    /** the parsers' state, reset for each try */
    sl_http_parse_t parse;
    sl_http_status_t status;
    /** the response body's decoder, set up when the header is done */
    proxy_body_t body;
    unsigned status_done : 1;
    /** this request's target: the location's, or the one its variables gave */
    proxy_target_t *target;
} proxy_ctx_t;

extern sl_module_t sl_http_proxy_module;

static inline int sl__proxy_header_is_n(const sl_str_t *name, const char *s, size_t n)
{
    return name->len == n && sl_strncasecmp(name->data, (const u_char *) s, n) == 0;
}

/* name equals the string literal s, ignoring case */
#define sl__proxy_header_is(name, s) sl__proxy_header_is_n(name, s, sizeof(s) - 1)

/* sl_proxy_ssl.c: proxy_ssl_* (the setters of the module's table, unset values, merging
 * into the location's TLS context) */
void sl__proxy_ssl_create_conf(proxy_loc_conf_t *plcf);
char *sl__proxy_ssl_merge(sl_conf_t *cf, proxy_loc_conf_t *prev, proxy_loc_conf_t *conf);
char *sl__proxy_ssl_set_name(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl__proxy_ssl_set_password_file(sl_conf_t *cf, sl_command_t *cmd, void *conf);
extern sl_conf_bitmask_t sl__proxy_ssl_protocols[];

/* sl_proxy_request.c: the upstream request */
/* The request's proxy conf: its location's, also when a limit_except block (which takes no
 * proxy directive, its location's proxy_pass included) is the request's conf. */
proxy_loc_conf_t *sl__proxy_loc_conf(sl_http_request_t *r);
sl_int_t sl__proxy_create_request(sl_http_request_t *r);
sl_int_t sl__proxy_reinit_request(sl_http_request_t *r);
/* The request body reader's post handler: the upstream starts, with the body read whole or
 * (proxy_request_buffering off, when it did not all come at once) streamed from here on. */
void sl__proxy_body_ready(sl_http_request_t *r);

/* sl_proxy_response.c: the response header */
sl_int_t sl__proxy_process_header(sl_http_request_t *r);
sl_int_t sl__proxy_forget_headers(sl_http_request_t *r, sl_upstream_t *u);
sl_int_t sl__proxy_rewrite_header(sl_http_request_t *r, sl_table_elt_t *h);

/* sl_proxy_body.c: the body decoders, one per framing */

/* Sets d up for a body framed by "Transfer-Encoding: chunked" (chunked), else by length
 * (-1: by the close of the connection). */
void sl__proxy_body_init(proxy_body_t *d, int chunked, off_t length);

/*
 * The decoders' core, the same for every path a body takes: the next span of body at
 * b->pos.  The framing before it is skipped and b->pos moves past it; *span points into b
 * (no copy).
 *   SL_OK     *span holds body bytes (possibly none), more may follow in b;
 *   SL_AGAIN  b is used up (b->pos == b->last) and the body goes on; *span is empty;
 *   SL_DONE   the body is complete: *span holds its last bytes (possibly none) and b->pos is
 *             where the body ends, so [b->pos, b->last) came past it (too much data); every
 *             later call returns SL_DONE again and takes nothing;
 *   SL_ERROR  invalid chunked framing (b->pos at the offending byte).
 */
sl_int_t sl__proxy_body_next(proxy_body_t *d, sl_buf_t *b, sl_str_t *span);

/* The fewest bytes still to come before the body is complete (framing included), 0 once it
 * is; -1 when only the close of the connection ends it. */
off_t sl__proxy_body_left(const proxy_body_t *d);

/* The adapters: the unbuffered path's u->input_filter (also the whole body read with the
 * header), and the event pipe's input filter. */
sl_int_t sl__proxy_input_filter(sl_http_request_t *r, sl_buf_t *b, sl_str_t *out);
sl_int_t sl__proxy_pipe_filter(sl_pipe_t *p, sl_buf_t *raw);

#endif /* SL_PROXY_H */
