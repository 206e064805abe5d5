/*
 * sl_upstream.h: the generic upstream state machine (connect, send the request, read and
 * process the response header, forward the body, finalize), driven by a protocol module's
 * callbacks (the proxy's create_request, process_header, input filter).
 *
 * Every transition goes through one function that checks the edge, sets the log action
 * ("connecting to upstream", ...) and arms the timer of the new state, as the state table
 * says (sl_upstream_state.h, sl_upstream_state.c).
 */
#ifndef SL_UPSTREAM_H
#define SL_UPSTREAM_H

#include "sl_ssl.h"
#include "sl_http_request.h"
#include "sl_inet.h"
#include "sl_pipe.h"
#include "sl_upstream_peer.h"
#include "sl_upstream_state.h"

/* proxy_ignore_headers bits. */
#define SL_UPSTREAM_IGN_XA_REDIRECT 0x02
#define SL_UPSTREAM_IGN_XA_EXPIRES 0x04
#define SL_UPSTREAM_IGN_EXPIRES 0x08
#define SL_UPSTREAM_IGN_CACHE_CONTROL 0x10
#define SL_UPSTREAM_IGN_SET_COOKIE 0x20
#define SL_UPSTREAM_IGN_XA_LIMIT_RATE 0x40
#define SL_UPSTREAM_IGN_XA_BUFFERING 0x80
#define SL_UPSTREAM_IGN_XA_CHARSET 0x100
#define SL_UPSTREAM_IGN_VARY 0x200

/* Failure kinds: proxy_next_upstream's bits. */
#define SL_UPSTREAM_FT_ERROR 0x00000002
#define SL_UPSTREAM_FT_TIMEOUT 0x00000004
#define SL_UPSTREAM_FT_INVALID_HEADER 0x00000008
#define SL_UPSTREAM_FT_HTTP_500 0x00000010
#define SL_UPSTREAM_FT_HTTP_502 0x00000020
#define SL_UPSTREAM_FT_HTTP_503 0x00000040
#define SL_UPSTREAM_FT_HTTP_504 0x00000080
#define SL_UPSTREAM_FT_HTTP_403 0x00000100
#define SL_UPSTREAM_FT_HTTP_404 0x00000200
#define SL_UPSTREAM_FT_HTTP_429 0x00000400
/** proxy_cache_use_stale updating: not a failure, a stale answer while one request refreshes */
#define SL_UPSTREAM_FT_UPDATING 0x00000800
/** a POST/LOCK/PATCH that reached the upstream may be retried only with this */
#define SL_UPSTREAM_FT_NON_IDEMPOTENT 0x00004000
/** every peer is down or busy: never retried */
#define SL_UPSTREAM_FT_NOLIVE 0x40000000
#define SL_UPSTREAM_FT_OFF 0x80000000

/* proxy_store (sl_upstream_store.c). */
typedef struct {
    /** SL_CONF_UNSET, 0 (off), 1 (on, or a path) */
    sl_int_t on;
    /** the path with variables; NULL: root/alias + uri, as a static file's */
    sl_http_complex_value_t *path;
    /** proxy_store_access: the file's mode (directories add x where r is) */
    sl_uint_t access;
} sl_upstream_store_conf_t;

/* The proxy cache's per-location settings (sl_upstream_cache.c). */
typedef struct {
    /** proxy_cache: SL_CONF_UNSET, 0 (off), 1 (a zone, or a name with variables) */
    sl_int_t on;
    /** the zone's name as configured; the cache it names once merged (NULL: by variable) */
    sl_str_t name;
    void *cache;
    sl_http_complex_value_t *name_value;
    sl_http_complex_value_t *key;
    /** proxy_cache_valid: sl_http_cache_valid_t, NULL when unset */
    sl_array_t *valid;
    sl_uint_t methods;
    sl_uint_t min_uses;
    /** proxy_cache_bypass, proxy_no_cache: sl_http_complex_value_t, NULL when unset */
    sl_array_t *bypass;
    sl_array_t *no_cache;
    sl_int_t convert_head;
    sl_int_t lock;
    sl_msec_t lock_timeout;
    sl_msec_t lock_age;
    /** proxy_cache_use_stale: SL_UPSTREAM_FT_* */
    sl_uint_t use_stale;
    sl_int_t revalidate;
    sl_int_t background_update;
    off_t max_range_offset;
    sl_int_t force_ranges;
} sl_upstream_cache_conf_t;

typedef struct {
    sl_msec_t connect_timeout;
    sl_msec_t send_timeout;
    sl_msec_t read_timeout;
    size_t buffer_size;
    sl_int_t buffering;
    /* the event pipe (buffering on) */
    sl_bufs_t bufs;
    size_t busy_buffers_size;
    off_t max_temp_file_size;
    size_t temp_file_write_size;
    /** as configured (SL_CONF_UNSET*: not at this level or above): the three sizes above
     * are computed from them per level, from that level's buffers, as nginx does */
    size_t busy_buffers_size_conf;
    off_t max_temp_file_size_conf;
    size_t temp_file_write_size_conf;
    sl_path_t *temp_path;
    /** proxy_limit_rate: bytes per second read from the upstream (pipe only), 0 or NULL
     * none; may hold variables, evaluated once the response header is in */
    sl_http_complex_value_t *limit_rate;
    sl_int_t ignore_client_abort;
    /** response headers not passed to the client besides hop-by-hop ones: the known ones
     * as SL_UPSTREAM_H_BIT()s, any other proxy_hide_header names (sl_str_t) or NULL */
    sl_uint_t hide_kinds;
    sl_array_t *hide_names;
    /** proxy_ignore_headers: SL_UPSTREAM_IGN_* */
    sl_uint_t ignore_headers;
    sl_int_t pass_request_headers;
    sl_int_t pass_request_body;
    /** proxy_next_upstream: SL_UPSTREAM_FT_*; _tries (0: no limit); _timeout (0: none) */
    sl_uint_t next_upstream;
    sl_uint_t next_upstream_tries;
    sl_msec_t next_upstream_timeout;
    /** proxy_intercept_errors: a status >= 300 with an error_page gets the error_page */
    sl_int_t intercept_errors;
    sl_upstream_store_conf_t store;
    /** TLS to the upstream (proxy_pass https://, proxy_ssl_*; sl_upstream_ssl.c): the
     * context, NULL where no proxy_pass can be https */
    sl_ssl_t *ssl;
    sl_int_t ssl_server_name;
    sl_int_t ssl_verify;
    sl_int_t ssl_session_reuse;
    /** proxy_ssl_name: NULL for the proxy_pass host */
    sl_http_complex_value_t *ssl_name;
    /** proxy_ssl_certificate/_key with variables: loaded for each connection; NULL when
     * none, or when the context holds them already */
    sl_http_complex_value_t *ssl_certificate;
    sl_http_complex_value_t *ssl_certificate_key;
    sl_array_t *ssl_passwords;
    /** where relative names of those files are (the configuration's directory, with "/") */
    sl_str_t ssl_conf_prefix;
    sl_upstream_cache_conf_t cache;
} sl_upstream_conf_t;

/* The response header as the upstream sent it. */
typedef struct {
    sl_list_t headers;
    sl_uint_t status_n;
    sl_str_t status_line;
    off_t content_length_n;
    sl_table_elt_t *content_length;
    sl_table_elt_t *transfer_encoding;
    sl_table_elt_t *connection;
    /** the kinds of header present: SL_UPSTREAM_H_BIT()s */
    sl_uint_t seen;
    unsigned chunked : 1;
    unsigned connection_close : 1;
} sl_upstream_headers_in_t;

/* The response headers sluice acts on, by name (sl_upstream_header_kind()). */
enum {
    SL_UPSTREAM_H_OTHER = 0,
    SL_UPSTREAM_H_CONNECTION,
    SL_UPSTREAM_H_KEEP_ALIVE,
    SL_UPSTREAM_H_TRANSFER_ENCODING,
    SL_UPSTREAM_H_CONTENT_LENGTH,
    SL_UPSTREAM_H_CONTENT_TYPE,
    SL_UPSTREAM_H_LOCATION,
    SL_UPSTREAM_H_REFRESH,
    SL_UPSTREAM_H_SET_COOKIE,
    SL_UPSTREAM_H_DATE,
    SL_UPSTREAM_H_SERVER,
    SL_UPSTREAM_H_X_PAD,
    SL_UPSTREAM_H_EXPIRES,
    SL_UPSTREAM_H_CACHE_CONTROL,
    SL_UPSTREAM_H_LAST_MODIFIED,
    SL_UPSTREAM_H_WWW_AUTHENTICATE,
    SL_UPSTREAM_H_XA_EXPIRES,
    SL_UPSTREAM_H_XA_REDIRECT,
    SL_UPSTREAM_H_XA_LIMIT_RATE,
    SL_UPSTREAM_H_XA_BUFFERING,
    SL_UPSTREAM_H_XA_CHARSET,
    SL_UPSTREAM_H_ETAG,
    SL_UPSTREAM_H_CONTENT_ENCODING,
    SL_UPSTREAM_H_VARY,
    SL_UPSTREAM_H_ACCEPT_RANGES,
    SL_UPSTREAM_H_CONTENT_RANGE,
};
#define SL_UPSTREAM_H_BIT(kind) ((sl_uint_t) 1 << (kind))

/* What one try of an upstream did (one peer asked once), for $upstream_addr,
 * $upstream_status, ...: the record of the try, not the state of the machine. */
typedef struct sl_upstream_try_s {
    const sl_str_t *addr;
    sl_uint_t status;
    /** milliseconds, (sl_msec_t) -1 when the step was not reached */
    sl_msec_t connect_time;
    sl_msec_t header_time;
    sl_msec_t response_time;
    off_t bytes_received;
    off_t bytes_sent;
    off_t response_length;
} sl_upstream_try_t;

/* A host name that proxy_pass gave per request (variables), to find among the upstream
 * groups or to resolve: used when the module set no addresses. */
typedef struct {
    sl_str_t host;
    int port;
    unsigned no_port : 1;
} sl_upstream_resolved_t;

typedef struct sl_upstream_s sl_upstream_t;
typedef struct sl_upstream_body_frames_s sl_upstream_body_frames_t;

/*
 * A second destination for a response body while it goes to the client: proxy_store now,
 * the cache next.  The tee's copy is the event pipe's temp file: a response that has a tee
 * goes through the pipe "keeping everything" (every byte is written to the file, in
 * open()'s directory, and sent to the client from there; the upstream is read to its end
 * whatever the client does).  Exactly one of complete() and truncated() is called, once:
 * complete() only for a body read to its end as its framing said (a truncated body never
 * reaches it).
 */
typedef struct {
    /** this response is to be copied: 1, with *dir the directory its file goes to and
     * *reserve the bytes its file keeps before the body (the cache's header); 0 not */
    int (*open)(sl_http_request_t *r, sl_upstream_t *u, sl_str_t *dir, off_t *reserve);
    /** the whole body is [reserve, reserve + size) of file (file NULL or without a
     * descriptor when nothing was written) */
    void (*complete)(sl_http_request_t *r, sl_upstream_t *u, sl_file_t *file, off_t size);
    /** the body did not end as framed, or the request ended first: drop the copy */
    void (*truncated)(sl_http_request_t *r, sl_upstream_t *u);
} sl_upstream_tee_t;

struct sl_upstream_s {
    sl_http_request_t *request;
    /** the upstream an earlier location of this request used (error_page, X-Accel-Redirect):
     * its tries come first in $upstream_*, set apart by " : " as nginx */
    sl_upstream_t *prev;
    /** X-Accel-Redirect: where the request goes once this upstream is done with (a uri,
     * decoded, or "@name"), and the args that replace the request's */
    sl_str_t redirect;
    sl_str_t redirect_args;
    sl_upstream_conf_t *conf;
    /** where the machine is: changed by sl__upstream_set_state() only */
    sl_upstream_state_e state;

    /** the group to pick peers from (proxy_pass to a name, or a literal address) */
    sl_upstream_group_t *group;
    sl_upstream_pick_t pick;
    /** without a group (an address a url with variables gave): the addresses, in order */
    sl_addr_t *addrs;
    sl_uint_t naddrs;
    sl_uint_t tries;
    /** this try's peer, for logs and $upstream_addr ("127.0.0.1:8081", or the group's
     * name when no peer was live) */
    const sl_str_t *peer_name;
    sl_peer_connection_t peer;
    /** the host TLS names by default (proxy_pass https://HOST), empty otherwise */
    sl_str_t ssl_host;
    /** naddrs 0: the host name the addresses must come from */
    sl_upstream_resolved_t resolved;

    /** the uri sent, for the log's ", upstream: \"http://addr/uri\"" */
    sl_str_t uri;
    /** the request to send, built once; request_out is what remains of it */
    sl_chain_t *request_bufs;
    sl_chain_t *request_out;

    /** the header buffer (proxy_buffer_size); also the body buffer when unbuffered */
    sl_buf_t buffer;
    sl_upstream_headers_in_t headers_in;
    /** body bytes still expected: -1 until the end is the close */
    off_t length;

    /* protocol callbacks */
    sl_int_t (*create_request)(sl_http_request_t *r);
    sl_int_t (*reinit_request)(sl_http_request_t *r);
    /** SL_OK (header done), SL_AGAIN (more), SL_HTTP_PARSE_INVALID_HEADER / SL_ERROR */
    sl_int_t (*process_header)(sl_http_request_t *r);
    /** decodes body bytes in place: *out gets the decoded span; SL_OK, SL_AGAIN (the buffer
     * used up), SL_DONE at the end, SL_ERROR on bad framing (unbuffered, and the whole body
     * read with the header) */
    sl_int_t (*input_filter)(sl_http_request_t *r, sl_buf_t *b, sl_str_t *out);
    void *input_filter_ctx;
    /** the event pipe's input filter for this protocol (buffering on) */
    sl_int_t (*pipe_input_filter)(sl_pipe_t *p, sl_buf_t *raw);
    sl_pipe_t *pipe;
    /** the body's second destination (proxy_store), NULL for none or once it is done */
    const sl_upstream_tee_t *tee;
    /** the proxy cache's state for this request (sl_upstream_cache.c), NULL without one */
    struct sl_upstream_cache_req_s *cache;
    /** the bytes before the body in the tee's file */
    off_t tee_reserve;
    void (*finalize_request)(sl_http_request_t *r, sl_int_t rc);
    /** rewrites a response header copied for the client (proxy_redirect, proxy_cookie_*):
     * SL_OK when a Location was rewritten (it becomes headers_out.location), SL_DECLINED,
     * SL_ERROR; NULL for none */
    sl_int_t (*rewrite_header)(sl_http_request_t *r, sl_table_elt_t *h);

    /** what each try did, for $upstream_*: ntried records, the last the current try's */
    sl_upstream_try_t *tried;
    sl_uint_t ntried;
    sl_uint_t tried_cap;
    /** when the current try started */
    sl_msec_t try_msec;
    /** bytes of the response header (the rest of bytes_received is body) */
    size_t header_bytes;
    sl_msec_t start_msec;
    sl_msec_t connect_time;
    sl_msec_t header_time;
    sl_msec_t response_time;
    off_t bytes_received;
    off_t bytes_sent;

    /** the streamed request body: the client's bytes and the framing around them */
    sl_buf_t *body_buf;
    sl_chain_t *body_out;
    /** the links each piece of it goes out on (sl_upstream_body.c) */
    sl_upstream_body_frames_t *body_frames;

    /** unbuffered output waiting for the client */
    sl_chain_t *out_bufs;
    sl_chain_t *busy_bufs;
    sl_chain_t *free_bufs;
    /** the tunnel's client-to-upstream buffer (the other way is `buffer`) */
    sl_buf_t from_client;

    /** proxy_request_buffering off: the body is sent while it is read; chunked framing */
    unsigned body_streaming : 1;
    /** this request talks TLS to its upstream (proxy_pass https://) */
    unsigned ssl : 1;
    unsigned body_chunked : 1;
    unsigned body_done : 1;
    unsigned body_started : 1;
    /** this response goes through the pipe (proxy_buffering, X-Accel-Buffering) */
    unsigned buffering : 1;
    unsigned request_sent : 1;
    /** the response allows reusing the connection (HTTP/1.1, no "Connection: close", no
     * bytes past its end) */
    unsigned keepalive : 1;
    /** this try's connection came from the group's keepalive cache */
    unsigned peer_cached : 1;
    /** some of the request went to this try's peer (nginx's request_sent) */
    unsigned request_begun : 1;
    /** a peer was handed out for this try and not given back yet */
    unsigned picked : 1;
    unsigned header_sent : 1;
    /** the response is replaced (intercepted error, X-Accel-Redirect), its body unwanted */
    unsigned diverted : 1;
    /** a 101 to a request that asked for an Upgrade: the connections become a tunnel */
    unsigned upgrade : 1;
    unsigned upstream_done : 1;
    unsigned cleaned_up : 1;
    /** the response may be stored in the cache (decided at lookup, then by its headers) */
    unsigned cacheable : 1;
    /** proxy_cache_convert_head: a HEAD goes upstream as a GET */
    unsigned head_as_get : 1;
    /** the response comes from a cache file, not from a peer */
    unsigned cached : 1;
    /** a HEAD (or a 304 of ours) whose body is read only for the cache */
    unsigned body_for_cache_only : 1;
};

/* Creates r->upstream (pool memory).  SL_OK or SL_ERROR. */
sl_int_t sl_upstream_create(sl_http_request_t *r);
/* Starts the machine once the request body (if any) is read: r->upstream must be ready. */
void sl_upstream_init(sl_http_request_t *r);

/* The SL_UPSTREAM_H_* kind of a response header's name (any case). */
sl_uint_t sl_upstream_header_kind(const sl_str_t *name);
/* An element of u->headers_in.headers keeps its kind in `hash` (which must not be 0, the
 * mark of a deleted header): the protocol module classifies each header once, as it
 * parses, and sets hash to SL_UPSTREAM_KIND_HASH(kind). */
#define SL_UPSTREAM_KIND_HASH(kind) ((sl_uint_t) (kind) + 1)
static inline sl_uint_t sl_upstream_elt_kind(const sl_table_elt_t *h)
{
    return h->hash - 1;
}
/* The first response header of that kind, or NULL.  The protocol module records each
 * header's kind in u->headers_in.seen as it parses. */
const sl_table_elt_t *sl_upstream_find_header(sl_upstream_t *u, sl_uint_t kind);
/* A copy of the upstream's header h among the client's response headers; NULL when memory
 * is exhausted. */
sl_table_elt_t *sl_upstream_pass_header(sl_http_request_t *r, const sl_table_elt_t *h);

/* proxy_request_buffering off: the body's first piece (what the body reader had) framed
 * into u->body_out, to go with the request header.  SL_OK or SL_ERROR (no memory). */
sl_int_t sl_upstream_stream_first(sl_http_request_t *r, sl_upstream_t *u);
/* proxy_request_buffering off: sends what the client has sent of the body.  SL_OK when the
 * body is complete, SL_AGAIN while waiting for the client or the upstream, SL_ERROR
 * (logged; the status to answer in *status). */
sl_int_t sl_upstream_stream_body(sl_http_request_t *r, sl_upstream_t *u, sl_uint_t *status);

/* The client's write handler while the body is forwarded. */
void sl_upstream_downstream_handler(sl_http_request_t *r);

/*
 * The state machine (sl_upstream_state.c).  sl__upstream_set_state moves u to st when the
 * table allows the edge: the log's action becomes st's, and u's connection loses the
 * timers of the state it leaves and gets st's, when st arms them on entry.  SL_OK, or
 * SL_ERROR when the edge is refused (a bug: logged at alert with both states' names, u
 * left as it was): the caller ends the request.
 */
sl_int_t sl__upstream_set_state(sl_upstream_t *u, sl_upstream_state_e st);
/* The current state's timers on a connection u got after entering it (CONNECT is entered
 * before connect(), so that a failure there is logged with its action). */
void sl__upstream_state_timers(sl_upstream_t *u);
/* While the current state waits on ev (u's connection's read or write event, or the
 * client's write event): its timer armed with the state's timeout for ev when waiting,
 * removed when not waiting or when the state has none for ev. */
void sl__upstream_arm_timer(sl_upstream_t *u, sl_event_t *ev, int waiting);
/* The value of a timeout for u (its conf, or the client's send_timeout); 0 for none. */
sl_msec_t sl__upstream_timeout(sl_upstream_t *u, sl_upstream_timeout_e t);

/*
 * Peers and retries (sl_upstream_try.c).  A try takes a peer (sl__upstream_choose_peer:
 * SL_OK, or SL_BUSY when none is live) and gives it back with how it went
 * (sl__upstream_release_peer, SL_UPSTREAM_PEER_*); sl__upstream_may_retry says whether a
 * failure of kind ft may go to another peer, as nginx's proxy_next_upstream rules.
 */
sl_int_t sl__upstream_init_peers(sl_http_request_t *r, sl_upstream_t *u);
sl_int_t sl__upstream_choose_peer(sl_http_request_t *r, sl_upstream_t *u);
void sl__upstream_release_peer(sl_upstream_t *u, sl_uint_t state);
/* A try that does not count (a kept connection found closed): one more is allowed. */
void sl__upstream_give_back_try(sl_upstream_t *u);
sl_uint_t sl__upstream_tries_left(const sl_upstream_t *u);
int sl__upstream_may_retry(sl_http_request_t *r, sl_upstream_t *u, sl_uint_t ft,
                           sl_uint_t min_tries);
/* The status a failure kind answers (502, 504, 500...); the kind a response status is (0
 * when it is none of proxy_next_upstream's http_NNN). */
sl_uint_t sl__upstream_ft_status(sl_uint_t ft);
sl_uint_t sl__upstream_status_ft(sl_uint_t status);

/*
 * Responses that are not sent as they are (sl_upstream_intercept.c).  sl__upstream_divert,
 * called when the header is about to go out: SL_DECLINED to send it; the status to end the
 * upstream with when proxy_intercept_errors hands it to an error_page; SL_DONE when
 * X-Accel-Redirect asks for u->redirect, which sl__upstream_redirect follows once the
 * upstream is finalized (SL_DONE, or the status to answer).
 */
sl_int_t sl__upstream_divert(sl_http_request_t *r, sl_upstream_t *u);
sl_int_t sl__upstream_redirect(sl_http_request_t *r, sl_upstream_t *u);
/* X-Accel-Charset on a response that is sent: logged as nginx without a charset map. */
void sl__upstream_x_accel_charset(sl_http_request_t *r, sl_upstream_t *u);
/* Ends the request (u's finalize): for the parts of the machine in other files. */
void sl__upstream_finalize(sl_http_request_t *r, sl_upstream_t *u, sl_int_t rc);

/*
 * TLS to the upstream (sl_upstream_ssl.c).  sl__upstream_ssl_start makes the new
 * connection a TLS one (SNI, a session to resume, a client certificate) and starts the
 * handshake: SL_OK when it is done already, SL_AGAIN when done() will be called, SL_ERROR
 * when it failed (logged).  sl__upstream_ssl_check then judges the peer's certificate
 * (proxy_ssl_verify): SL_OK or SL_ERROR (logged, nginx's words).
 */
sl_int_t sl__upstream_ssl_start(sl_http_request_t *r, sl_upstream_t *u,
                                sl_connection_handler_pt done);
sl_int_t sl__upstream_ssl_check(sl_http_request_t *r, sl_upstream_t *u);

/*
 * The tee (sl_upstream_tee.c).  sl__upstream_tee_select: at the start, the tee this
 * request's body may be copied to (u->tee), so the client's going away does not stop the
 * upstream.  sl__upstream_tee_open: once the header is in, whether the copy is made (u->tee
 * stays) and where its file goes.  sl__upstream_tee_end: the pipe is finished, or the
 * request ends first: complete() or truncated(), and u->tee is NULL afterwards.
 */
void sl__upstream_tee_select(sl_http_request_t *r, sl_upstream_t *u);
int sl__upstream_tee_open(sl_http_request_t *r, sl_upstream_t *u, sl_str_t *dir);
/* The tee's file, ready before the pipe's first write when the tee keeps room before the
 * body: NULL when there is none to make, or memory ran out (u->tee is dropped then). */
sl_file_t *sl__upstream_tee_file(sl_http_request_t *r, sl_upstream_t *u);
void sl__upstream_tee_end(sl_http_request_t *r, sl_upstream_t *u);

/*
 * proxy_store (sl_upstream_store.c): the directives' setters and merge, and the tee: a
 * complete 200 is published at its path atomically (the pipe's anonymous temp file linked
 * in place), anything else leaves nothing.
 */
char *sl_upstream_store_set(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl_upstream_store_access_set(sl_conf_t *cf, sl_command_t *cmd, void *conf);
void sl_upstream_store_init_conf(sl_upstream_store_conf_t *conf);
void sl_upstream_store_merge(sl_upstream_store_conf_t *conf, const sl_upstream_store_conf_t *prev);
extern const sl_upstream_tee_t sl_upstream_store_tee;

/*
 * The proxy cache (sl_upstream_cache.c).  sl__upstream_cache_lookup, before the request is
 * built: SL_DECLINED (no cache for this request), SL_OK (go upstream; u->cacheable says
 * whether the response may be stored), SL_DONE (a cache file answers: u->headers_in holds
 * its header, sl__upstream_send_cached sends it), SL_AGAIN (another request is fetching the
 * key: u waits for the lock and sl_upstream_init's rest runs when it ends), or an HTTP status
 * to end with.  sl__upstream_cache_decide, when the response header is in: whether this
 * response is stored (its validity, proxy_no_cache, Set-Cookie, Vary).  sl__upstream_cache_end:
 * the request lets go of its node, whatever happened.
 */
sl_int_t sl__upstream_cache_lookup(sl_http_request_t *r, sl_upstream_t *u);
void sl__upstream_cache_decide(sl_http_request_t *r, sl_upstream_t *u);
/* An intercepted error (proxy_intercept_errors) that may be cached: the key answers with
 * status while the response's validity lasts. */
void sl__upstream_cache_error(sl_http_request_t *r, sl_upstream_t *u, sl_uint_t status);
void sl__upstream_cache_end(sl_http_request_t *r, sl_upstream_t *u);
/* proxy_cache_revalidate: the conditionals the request to the upstream carries (its
 * If-Modified-Since, If-None-Match values, empty when none): 1 when it revalidates. */
int sl__upstream_cache_conditionals(sl_http_request_t *r, sl_upstream_t *u, sl_str_t *ims,
                                    sl_str_t *inm);
/* A failure of kind ft (or an upstream status of that kind) that a stale file answers
 * instead (proxy_cache_use_stale, stale-if-error): SL_OK with the stored header in
 * u->headers_in (send it with the cached path), SL_DECLINED. */
sl_int_t sl__upstream_cache_stale(sl_http_request_t *r, sl_upstream_t *u, sl_uint_t ft);
/* A 304 that answered a revalidation: the file's validity renewed, its header in
 * u->headers_in (SL_OK, REVALIDATED), or SL_DECLINED. */
sl_int_t sl__upstream_cache_revalidated(sl_http_request_t *r, sl_upstream_t *u);
/* The body of a cache file being served: [start, end) of its file. */
sl_int_t sl__upstream_cache_body(sl_http_request_t *r, sl_upstream_t *u, sl_buf_t *b);
/* Goes on with a request that waited for a cache lock (sl_upstream.c). */
void sl__upstream_init_after_lookup(sl_http_request_t *r, sl_upstream_t *u, sl_int_t rc);
extern const sl_upstream_tee_t sl_upstream_cache_tee;
/* $upstream_cache_status (sl_upstream_add_variables calls it). */
sl_int_t sl__upstream_cache_add_variables(sl_conf_t *cf);
char *sl_upstream_cache_set(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl_upstream_cache_valid_set(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl_upstream_cache_predicate_set(sl_conf_t *cf, sl_command_t *cmd, void *conf);
void sl_upstream_cache_init_conf(sl_upstream_cache_conf_t *conf);
char *sl_upstream_cache_merge(sl_conf_t *cf, sl_upstream_cache_conf_t *conf,
                              const sl_upstream_cache_conf_t *prev, sl_upstream_conf_t *uc);
/* proxy_cache_methods, proxy_cache_use_stale: their words */
extern sl_conf_bitmask_t sl_upstream_cache_methods_masks[];
extern sl_conf_bitmask_t sl_upstream_cache_use_stale_masks[];

/* The variables ($upstream_addr, $upstream_status, ...); from the core's preconfiguration. */
sl_int_t sl_upstream_add_variables(sl_conf_t *cf);

#endif /* SL_UPSTREAM_H */
