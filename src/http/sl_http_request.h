/*
 * sl_http_request.h: the request and its lifecycle.
 *
 * A connection waits for bytes; the first bytes create a request (with its own pool) that
 * reads and parses the header, picks the server and location, runs the phase handlers,
 * writes the response through the output filters, and is finalized: the connection then
 * goes to keepalive (request memory released), lingering close or close.  The proxy is a
 * content handler on this same lifecycle.
 */
#ifndef SL_HTTP_REQUEST_H
#define SL_HTTP_REQUEST_H

#include "sl_http.h"
#include "sl_http_parse.h"
#include "sl_list.h"

#define SL_HTTP_VERSION_10 1000
#define SL_HTTP_VERSION_11 1001

/* Statuses, and special values handlers return to finalize. */
#define SL_HTTP_CONTINUE 100
#define SL_HTTP_SWITCHING_PROTOCOLS 101
#define SL_HTTP_OK 200
#define SL_HTTP_CREATED 201
#define SL_HTTP_NO_CONTENT 204
#define SL_HTTP_PARTIAL_CONTENT 206
#define SL_HTTP_SPECIAL_RESPONSE 300
#define SL_HTTP_MOVED_PERMANENTLY 301
#define SL_HTTP_MOVED_TEMPORARILY 302
#define SL_HTTP_SEE_OTHER 303
#define SL_HTTP_NOT_MODIFIED 304
#define SL_HTTP_TEMPORARY_REDIRECT 307
#define SL_HTTP_PERMANENT_REDIRECT 308
#define SL_HTTP_BAD_REQUEST 400
#define SL_HTTP_UNAUTHORIZED 401
#define SL_HTTP_FORBIDDEN 403
#define SL_HTTP_NOT_FOUND 404
#define SL_HTTP_NOT_ALLOWED 405
#define SL_HTTP_REQUEST_TIME_OUT 408
#define SL_HTTP_CONFLICT 409
#define SL_HTTP_LENGTH_REQUIRED 411
#define SL_HTTP_PRECONDITION_FAILED 412
#define SL_HTTP_REQUEST_ENTITY_TOO_LARGE 413
#define SL_HTTP_REQUEST_URI_TOO_LARGE 414
#define SL_HTTP_UNSUPPORTED_MEDIA_TYPE 415
#define SL_HTTP_RANGE_NOT_SATISFIABLE 416
#define SL_HTTP_MISDIRECTED_REQUEST 421
#define SL_HTTP_TOO_MANY_REQUESTS 429
/* nginx's own: close without a response */
#define SL_HTTP_CLOSE 444
#define SL_HTTP_REQUEST_HEADER_TOO_LARGE 494
#define SL_HTTP_SSL_CERT_ERROR 495
#define SL_HTTP_SSL_NO_CERT 496
#define SL_HTTP_TO_HTTPS 497
#define SL_HTTP_CLIENT_CLOSED_REQUEST 499
#define SL_HTTP_INTERNAL_SERVER_ERROR 500
#define SL_HTTP_NOT_IMPLEMENTED 501
#define SL_HTTP_BAD_GATEWAY 502
#define SL_HTTP_SERVICE_UNAVAILABLE 503
#define SL_HTTP_GATEWAY_TIME_OUT 504
#define SL_HTTP_VERSION_NOT_SUPPORTED 505
#define SL_HTTP_INSUFFICIENT_STORAGE 507

#define SL_HTTP_MAX_URI_CHANGES 10

/* A header line: name, value, and the lowercased name with its hash for lookups. */
typedef struct sl_table_elt_s sl_table_elt_t;
struct sl_table_elt_s {
    sl_uint_t hash;
    sl_str_t key;
    sl_str_t value;
    u_char *lowcase_key;
    /** the next header of the same name (Cookie, X-Forwarded-For, ...) */
    sl_table_elt_t *next;
};

#define SL_HTTP_CONNECTION_CLOSE 1
#define SL_HTTP_CONNECTION_KEEP_ALIVE 2

typedef struct {
    /** sl_table_elt_t, in arrival order */
    sl_list_t headers;

    sl_table_elt_t *host;
    sl_table_elt_t *connection;
    sl_table_elt_t *if_modified_since;
    sl_table_elt_t *if_unmodified_since;
    sl_table_elt_t *if_match;
    sl_table_elt_t *if_none_match;
    sl_table_elt_t *user_agent;
    sl_table_elt_t *referer;
    sl_table_elt_t *content_length;
    sl_table_elt_t *content_range;
    sl_table_elt_t *content_type;
    sl_table_elt_t *range;
    sl_table_elt_t *if_range;
    sl_table_elt_t *transfer_encoding;
    sl_table_elt_t *te;
    sl_table_elt_t *expect;
    sl_table_elt_t *upgrade;
    sl_table_elt_t *authorization;
    sl_table_elt_t *keep_alive;
    sl_table_elt_t *x_forwarded_for;
    sl_table_elt_t *x_real_ip;
    sl_table_elt_t *cookie;
    sl_table_elt_t *accept_encoding;
    /** present when the request came through a proxy (gzip_proxied) */
    sl_table_elt_t *via;

    /** the host the request names (Host or absolute-form), lowercased, without port */
    sl_str_t server;
    off_t content_length_n;
    time_t keep_alive_n;

    unsigned connection_type : 2;
    unsigned chunked : 1;
    unsigned msie : 1;
    /** MSIE 4 to 6 without SP2 ("SV1"): gzip_disable msie6 */
    unsigned msie6 : 1;
} sl_http_headers_in_t;

typedef struct {
    /** sl_table_elt_t, in the order they are sent; hash 0 means "deleted" */
    sl_list_t headers;
    sl_list_t trailers;

    sl_uint_t status;
    sl_str_t status_line;

    sl_table_elt_t *server;
    sl_table_elt_t *date;
    sl_table_elt_t *content_length;
    sl_table_elt_t *content_encoding;
    sl_table_elt_t *location;
    sl_table_elt_t *refresh;
    sl_table_elt_t *last_modified;
    sl_table_elt_t *content_range;
    sl_table_elt_t *accept_ranges;
    sl_table_elt_t *www_authenticate;
    sl_table_elt_t *expires;
    sl_table_elt_t *etag;

    sl_str_t content_type;
    /** the length of content_type without its charset parameter (the type filters match) */
    size_t content_type_len;
    /** sent as "; charset=..." after a type that had none (content_type_len == its len) */
    sl_str_t charset;
    /** the charset an upstream's X-Accel-Charset asks the charset filter for */
    sl_str_t override_charset;
    sl_uint_t content_type_hash;

    /** -1 when unknown (then chunked on HTTP/1.1, close-delimited on 1.0) */
    off_t content_length_n;
    off_t content_offset;
    time_t date_time;
    time_t last_modified_time;
} sl_http_headers_out_t;

typedef void (*sl_http_event_handler_pt)(sl_http_request_t *r);

/*
 * Subrequests.  A subrequest shares its main request's connection, pool, variables and
 * request body; its output waits in its parent's `postponed` list (the postpone filter)
 * until every part before it in the document has gone out, so bodies appear in document
 * order however they finish.  Requests to run again are "posted" on the main request and
 * run after the event that woke them (sl_http_run_posted_requests).
 */
typedef struct sl_http_postponed_request_s sl_http_postponed_request_t;
struct sl_http_postponed_request_s {
    /** a subrequest in its place in the document, or NULL for data (out) */
    sl_http_request_t *request;
    sl_chain_t *out;
    sl_http_postponed_request_t *next;
};

typedef struct sl_http_posted_request_s sl_http_posted_request_t;
struct sl_http_posted_request_s {
    sl_http_request_t *request;
    sl_http_posted_request_t *next;
};

/* Called as a subrequest is finalized with its rc; returns the rc to finalize with. */
typedef sl_int_t (*sl_http_post_subrequest_pt)(sl_http_request_t *r, void *data, sl_int_t rc);
typedef struct {
    sl_http_post_subrequest_pt handler;
    void *data;
} sl_http_post_subrequest_t;

/** sl_http_subrequest() flags, as nginx's */
/* the body is collected in memory (r->out->buf), at most subrequest_output_buffer_size */
#define SL_HTTP_SUBREQUEST_IN_MEMORY 2
/* the parent waits for it even when it is done before its turn (SSI "wait") */
#define SL_HTTP_SUBREQUEST_WAITED 4
/* the parent's method, location, captures and content handler: it starts in the content
 * phase (a cache background update runs the request again) */
#define SL_HTTP_SUBREQUEST_CLONE 8
/* detached: no place in the output; it runs to its end whatever the parent does */
#define SL_HTTP_SUBREQUEST_BACKGROUND 16

/* nginx's nesting limit: the 51st level fails ("subrequests cycle") */
#define SL_HTTP_MAX_SUBREQUESTS 50
typedef void (*sl_http_client_body_handler_pt)(sl_http_request_t *r);

typedef struct {
    /** the temp file holding what did not fit in memory, or NULL */
    sl_file_t *temp_file;
    /** the body: memory bufs and/or one file buf */
    sl_chain_t *bufs;
    sl_buf_t *buf;
    /** bytes still to read; -1 until known (chunked) */
    off_t rest;
    off_t received;
    sl_chain_t *free;
    sl_chain_t *busy;
    sl_http_chunked_t *chunked;
    sl_http_client_body_handler_pt post_handler;
    unsigned filter_need_buffering : 1;
    unsigned last_sent : 1;
    unsigned last_saved : 1;
    /** a body is expected (Content-Length above 0, or chunked) */
    unsigned has_body : 1;
} sl_http_request_body_t;

/* What the error log's context line needs: ", client: ..., server: ..., request: ...". */
typedef struct {
    sl_connection_t *connection;
    sl_http_request_t *request;
    /** ", upstream: ..." added by the proxy while it has an upstream */
    u_char *(*log_upstream)(sl_http_request_t *r, u_char *buf, size_t len);
} sl_http_log_ctx_t;

/* The per-connection state that outlives requests (keepalive, pipelining). */
typedef struct {
    sl_http_log_ctx_t log_ctx;
    /** the address the client connected to, with its server names */
    sl_http_addr_t *addr;
    /** the server chosen by address; the request may switch by name */
    sl_http_core_srv_conf_t *default_server;
    sl_http_conf_ctx_t *conf_ctx;
    /** large header buffers taken by this connection (reused by the next request) */
    sl_buf_t **busy;
    sl_uint_t nbusy;
    sl_chain_t *free;
    /** the name the client gave in its TLS hello (SNI), or NULL */
    sl_str_t *ssl_servername;
    unsigned keepalive : 1;
    /** a PROXY protocol header is still to be read before the first request */
    unsigned proxy_protocol : 1;
    /** a plain HTTP request came to a TLS address: answered 497 */
    unsigned plain_on_ssl : 1;
} sl_http_connection_t;

/* A variable's value for this request; see sl_http_variables.h. */
typedef struct {
    unsigned len : 28;
    unsigned valid : 1;
    unsigned no_cacheable : 1;
    unsigned not_found : 1;
    unsigned escape : 1;
    u_char *data;
} sl_http_variable_value_t;

struct sl_http_request_s {
    sl_connection_t *connection;
    sl_http_connection_t *http_connection;
    sl_pool_t *pool;

    /** per module request state, by ctx_index */
    void **ctx;
    void **main_conf;
    void **srv_conf;
    void **loc_conf;

    sl_http_event_handler_pt read_event_handler;
    sl_http_event_handler_pt write_event_handler;

    /** the proxy's upstream state (sl_upstream_t), when proxied */
    void *upstream;

    sl_buf_t *header_in;
    sl_http_headers_in_t headers_in;
    sl_http_headers_out_t headers_out;
    sl_http_request_body_t *request_body;

    time_t start_sec;
    sl_msec_t start_msec;

    sl_uint_t method;
    sl_uint_t http_version;

    sl_str_t request_line;
    /** decoded, normalized path used for location matching */
    sl_str_t uri;
    sl_str_t args;
    sl_str_t exten;
    /** the request-target exactly as sent */
    sl_str_t unparsed_uri;
    sl_str_t method_name;
    sl_str_t http_protocol;
    sl_str_t schema;

    /** buffered output not yet sent (write filter) */
    sl_chain_t *out;
    sl_http_request_t *main;
    sl_http_request_t *parent;
    /** what waits to be sent in document order: subrequests and data (postpone filter) */
    sl_http_postponed_request_t *postponed;
    sl_http_post_subrequest_t *post_subrequest;
    /** on the main request only: the requests to run after the current event */
    sl_http_posted_request_t *posted_requests;
    /** on the main request: its end, posted when it is terminated inside a handler */
    sl_http_posted_request_t terminal_posted;

    /** regex captures of the last match: ovector pairs */
    int *captures;
    u_char *captures_data;
    sl_uint_t ncaptures;

    sl_http_variable_value_t *variables;

    sl_int_t phase_handler;
    sl_http_handler_pt content_handler;

    /** the location matched (its core conf) */
    sl_http_core_loc_conf_t *location;

    size_t limit_rate;
    size_t limit_rate_after;
    /** when lingering close gives up, in wall-clock seconds */
    time_t lingering_time;

    /** bytes of the request (line, headers, body) for $request_length */
    off_t request_length;
    /** bytes of the response header, so $body_bytes_sent = c->sent - header_size */
    size_t header_size;

    sl_uint_t err_status;
    /** satisfy any: the refusal (401 over 403) kept while another access check may allow */
    sl_uint_t access_code;

    /** parser state; pointers into header_in */
    sl_http_parse_t parse;
    /** the start of the header line being parsed, moved to a large buffer if cut */
    u_char *header_name_start;
    /** large_client_header_buffers taken by this request */
    sl_uint_t large_buffers;

    /** internal redirects and rewrites left before 500 */
    unsigned uri_changes : 4;
    /** references: the request is freed when the last one goes */
    unsigned count : 16;

    unsigned http_state : 4;
    unsigned keepalive : 1;
    unsigned lingering_close : 1;
    unsigned discard_body : 1;
    unsigned reading_body : 1;
    unsigned internal : 1;
    unsigned error_page : 1;
    unsigned filter_finalize : 1;
    unsigned header_only : 1;
    unsigned header_sent : 1;
    unsigned expect_tested : 1;
    unsigned done : 1;
    unsigned logged : 1;
    /** the main request's end is posted: it is freed once the current handler returns */
    unsigned terminating : 1;
    unsigned chunked : 1;
    /** add_trailer has something for this response: chunked framing where possible */
    unsigned expect_trailers : 1;
    unsigned buffered : 8;
    unsigned main_filter_need_in_memory : 1;
    unsigned allow_ranges : 1;
    unsigned single_range : 1;
    /** the range filter cuts this subrequest's body too (slice: content_offset says where
     * the body lies in the whole) */
    unsigned subrequest_ranges : 1;
    unsigned request_complete : 1;
    unsigned request_output : 1;
    unsigned uri_changed : 1;
    unsigned valid_location : 1;
    unsigned valid_unparsed_uri : 1;
    unsigned plus_in_uri : 1;
    unsigned quoted_uri : 1;
    unsigned complex_uri : 1;
    unsigned add_uri_to_alias : 1;
    unsigned limit_rate_set : 1;
    unsigned limit_rate_after_set : 1;
    unsigned disable_not_modified : 1;
    unsigned preserve_body : 1;
    /** its bytes came with the previous request's on the connection ($pipe) */
    unsigned pipeline : 1;
    unsigned request_body_in_file_only : 1;
    /** proxy_request_buffering off: the body reader hands over what it has at the first
     * wait (the body then streams); cleared when the whole body came at once */
    unsigned request_body_no_buffering : 1;
    unsigned blocked : 8;
    /** gzip or gzip_static could have compressed this response: "Vary: Accept-Encoding"
     * (set only where gzip_vary is on) */
    unsigned gzip_vary : 1;
    /** sl_http_gzip_ok() ran, and its answer */
    unsigned gzip_tested : 1;
    unsigned gzip_ok : 1;
    /** limit_req's and limit_conn's verdicts on the main request, for $limit_req_status and
     * $limit_conn_status; limit_req decides once per main request (redirects included) */
    unsigned limit_req_status : 3;
    unsigned limit_conn_status : 2;
    /** counted among the requests being read, or written, by stub_status */
    unsigned stat_reading : 1;
    unsigned stat_writing : 1;
    /** subrequests this one may still nest (depth left) */
    unsigned subrequests : 8;
    unsigned subrequest_in_memory : 1;
    unsigned waited : 1;
    unsigned background : 1;
    unsigned filter_need_in_memory : 1;
    /** a filter that reads the bytes (SSI) may send long unchanged runs from the file
     * (sendfile): the file reader's memory bufs then also say where they came from */
    unsigned keep_file_origin : 1;
};

/* Buffered output states (r->buffered bits). */
#define SL_HTTP_WRITE_BUFFERED 0x10

/* The request states shown in logs (r->http_state). */
#define SL_HTTP_READING_REQUEST_STATE 1
#define SL_HTTP_PROCESS_REQUEST_STATE 2
#define SL_HTTP_WRITING_REQUEST_STATE 3
#define SL_HTTP_KEEPALIVE_STATE 4

#define sl_http_get_module_ctx(r, module) (r)->ctx[(module).ctx_index]
#define sl_http_set_ctx(r, c, module) (r)->ctx[(module).ctx_index] = (c)
#define sl_http_get_module_main_conf(r, module) (r)->main_conf[(module).ctx_index]
#define sl_http_get_module_srv_conf(r, module) (r)->srv_conf[(module).ctx_index]
#define sl_http_get_module_loc_conf(r, module) (r)->loc_conf[(module).ctx_index]

/* Entry from the listener (sl_http.h declares it). */
void sl_http_init_connection(sl_connection_t *c);

/*
 * Ends the request with rc: SL_DONE (the handler took care of everything), SL_OK (the
 * response is complete), SL_AGAIN (output still buffered: finish when it drains), SL_ERROR
 * (close), SL_DECLINED (nothing to do), or an HTTP status >= 300 (send its special
 * response, via error_page when configured).  After the call r may be freed.
 */
void sl_http_finalize_request(sl_http_request_t *r, sl_int_t rc);
/* Closes the connection of r, freeing the request (an error path). */
void sl_http_close_request(sl_http_request_t *r, sl_int_t rc);
/* Terminates r and whatever it started (upstream), then closes. */
void sl_http_terminate_request(sl_http_request_t *r, sl_int_t rc);

/* Runs the phase handlers from r->phase_handler on. */
void sl_http_core_run_phases(sl_http_request_t *r);
/* Chooses the location for r->uri (sets r->loc_conf).  SL_OK, or SL_DONE when the uri
 * changed and phases must restart, or an HTTP error. */
sl_int_t sl_http_find_location(sl_http_request_t *r);
/* Applies a location's settings to r (error_log, keepalive, tcp_nopush, the handler). */
void sl_http_update_location_config(sl_http_request_t *r);
/* Restarts processing with a new uri (and args), as an internal redirect.  Returns SL_DONE;
 * the request continues in the phases. */
sl_int_t sl_http_internal_redirect(sl_http_request_t *r, sl_str_t *uri, sl_str_t *args);
/* An internal redirect to "uri[?args]" as error_page and X-Accel-Redirect make it: the
 * method becomes GET (HEAD stays HEAD), as nginx; the request's args are kept when the
 * target has none, unless replace_args. */
sl_int_t sl_http_internal_redirect_get(sl_http_request_t *r, const sl_str_t *target,
                                       int replace_args);
sl_int_t sl_http_named_location(sl_http_request_t *r, sl_str_t *name);

/*
 * Starts a subrequest of r for uri (and args) with the SL_HTTP_SUBREQUEST_* flags; *psr
 * (when psr is not NULL) gets it and ps (may be NULL) is called as it is finalized.  The
 * subrequest runs after the current handler returns (it is posted), its output in its
 * place after what r has sent so far.  SL_OK, or SL_ERROR: too deep (logged
 * "subrequests cycle"), within an in-memory subrequest, or memory exhausted.
 */
sl_int_t sl_http_subrequest(sl_http_request_t *r, sl_str_t *uri, sl_str_t *args,
                            sl_http_request_t **psr, sl_http_post_subrequest_t *ps,
                            sl_uint_t flags);
/* Queues r to run (its write_event_handler) after the current event: SL_OK or SL_ERROR.
 * pr may be NULL (allocated from r's pool). */
sl_int_t sl_http_post_request(sl_http_request_t *r, sl_http_posted_request_t *pr);
/* Runs what was posted on c's active request; call after any handler of c's events. */
void sl_http_run_posted_requests(sl_connection_t *c);
/*
 * Around a handler of c's events that runs what was posted when it returns: inside, a
 * request that ends is freed then, not under the callers still using it (its end is
 * posted).  enter returns what leave restores (they nest); the outermost leave runs the
 * posted requests.
 */
unsigned sl_http_dispatch_enter(sl_connection_t *c);
void sl_http_dispatch_leave(sl_connection_t *c, unsigned was);
/* The write handler of a subrequest finished before its turn. */
void sl_http_request_finalizer(sl_http_request_t *r);
/* The body an in-memory subrequest collected (empty when none). */
void sl_http_subrequest_body(sl_http_request_t *sr, sl_str_t *body);
/* Marks b as the end of r's body: the response's last buffer for a main request, the end
 * of its part (last_in_chain) for a subrequest. */
#define sl_http_mark_last(r, b) ((b)->last_buf = (r) == (r)->main, (b)->last_in_chain = 1)

/* Output. */
sl_int_t sl_http_send_header(sl_http_request_t *r);
sl_int_t sl_http_output_filter(sl_http_request_t *r, sl_chain_t *in);
/* A response with only the status (and the built-in page for errors). */
sl_int_t sl_http_send_special_response(sl_http_request_t *r, sl_uint_t status);
/* Builds a response with body text (return 200 "text"). */
sl_int_t sl_http_send_response(sl_http_request_t *r, sl_uint_t status, sl_str_t *content_type,
                               sl_str_t *body);

/*
 * Request body.  Reads the body (sending "100 Continue" first to a client that waits for
 * one), then calls post_handler with r->request_body->bufs holding it: NULL for no body,
 * one memory buf, or one file buf.  With r->request_body_no_buffering the handler is
 * called at the first wait with r->reading_body still set and what came so far in
 * r->request_body->buf (the caller streams the rest).  Counts one more reference to the
 * request (r->main->count) in every case it calls the handler.  SL_OK (the handler ran),
 * SL_AGAIN (it will run once the body is read), or an HTTP error status to finalize with.
 */
sl_int_t sl_http_read_client_request_body(sl_http_request_t *r,
                                          sl_http_client_body_handler_pt post_handler);
/*
 * Takes body bytes from [b->pos, b->last) as the request's framing says (Content-Length or
 * chunked), moving the body's data to *out onward (framing dropped; *out may be b->pos or
 * another buffer with room for as many bytes as are taken) and advancing *out and b->pos.
 * Counts rb->received (request_length is the caller's: a discarded body is not counted).  SL_OK at the end of the body, SL_AGAIN for
 * more, SL_ERROR on a bad chunk (logged at "info").
 */
sl_int_t sl_http_request_body_decode(sl_http_request_t *r, sl_buf_t *b, u_char **out);
/* The fewest bytes of the body still to come: reading no more than this never takes bytes
 * of the next request. */
off_t sl_http_request_body_left(sl_http_request_t *r);
/* $request_body_file: the temp file's name, giving the file one now if it has none.
 * SL_OK, SL_DECLINED (no body in a file), SL_ERROR. */
sl_int_t sl_http_request_body_file_name(sl_http_request_t *r, sl_str_t *name);
/* Reads and drops a body nobody wants (the rest while the response goes out), after a
 * "100 Continue" to a client that waits for one.  SL_OK, or SL_HTTP_BAD_REQUEST when what
 * arrived with the request is not a valid body (the connection will close; the caller
 * answers 400), SL_HTTP_INTERNAL_SERVER_ERROR when the 100 Continue could not be sent, or
 * SL_ERROR. */
sl_int_t sl_http_discard_request_body(sl_http_request_t *r);
/* "100 Continue" to a client that asked for it, once.  SL_OK or SL_ERROR. */
sl_int_t sl_http_send_continue(sl_http_request_t *r);
/* Reads and drops the rest of a discarded body (the read handler while it arrives). */
void sl_http_discarded_body_handler(sl_http_request_t *r);

/*
 * Whether a request's client went away: the request-level questions the transport answers
 * (HTTP/1: its connection; an HTTP/2 stream will answer from its own state), so the code
 * producing a response never reads the socket's flags.
 *   sl_http_client_closed: the client has said it closed, as far as is known without a
 *     system call (HTTP/1: the connection's read side reported its end);
 *   sl_http_client_error: the error that goes with that, for the log line (0 for none).
 */
int sl_http_client_closed(sl_http_request_t *r);
sl_err_t sl_http_client_error(sl_http_request_t *r);

/* The handler set on an event nobody waits on. */
void sl_http_request_empty_handler(sl_http_request_t *r);
void sl_http_block_reading(sl_http_request_t *r);
void sl_http_test_reading(sl_http_request_t *r);

/* Log context: ", client: ..., server: ..., request: \"...\", host: \"...\"". */
u_char *sl_http_log_error(sl_log_t *log, u_char *buf, size_t len);

/*
 * The file path for r->uri: root + uri, or the location's alias in place of its prefix.
 * path gets pool memory with `reserved` spare bytes and a NUL; *root_len is the length of
 * the root part.  SL_OK, or SL_ERROR (logged).
 */
sl_int_t sl_http_map_uri_to_path(sl_http_request_t *r, sl_str_t *path, size_t *root_len,
                                 size_t reserved);
/* An HTTP date (IMF-fixdate, RFC 850, asctime) to a time, or -1 when it is not one. */
time_t sl_http_parse_time(const u_char *p, size_t len);
/* Sets r->exten from r->uri (no extension for a name starting with '.'). */
void sl_http_set_exten(sl_http_request_t *r);

/* Internals shared by the request files. */
sl_http_request_t *sl_http_create_request(sl_connection_t *c);
/* The read handler while the request line is read (also for keepalive's next request). */
void sl_http_process_request_line(sl_event_t *rev);
void sl_http_close_connection(sl_connection_t *c);
void sl_http_release_header_buffer(sl_connection_t *c);
sl_int_t sl_http_alloc_large_header_buffer(sl_http_request_t *r, int request_line);
/* Number of http modules (for per-request ctx arrays). */
sl_uint_t sl_http_module_count(void);
/* Runs the log phase handlers (access log) once per request. */
void sl_http_log_request(sl_http_request_t *r);

#endif /* SL_HTTP_REQUEST_H */
