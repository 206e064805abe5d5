/*
 * sl_http.h: http module types, the http{} context (main/server/location confs) and the
 * core module's conf structs.
 */
#ifndef SL_HTTP_H
#define SL_HTTP_H

#include "sl_core.h"
#include "sl_conf.h"
#include "sl_conn.h"
#include "sl_cycle.h"
#include "sl_hash.h"
#include "sl_path.h"
#include "sl_regex.h"

typedef struct {
    void **main_conf;
    void **srv_conf;
    void **loc_conf;
} sl_http_conf_ctx_t;

typedef struct {
    sl_int_t (*preconfiguration)(sl_conf_t *cf);
    sl_int_t (*postconfiguration)(sl_conf_t *cf);
    void *(*create_main_conf)(sl_conf_t *cf);
    char *(*init_main_conf)(sl_conf_t *cf, void *conf);
    void *(*create_srv_conf)(sl_conf_t *cf);
    char *(*merge_srv_conf)(sl_conf_t *cf, void *prev, void *conf);
    void *(*create_loc_conf)(sl_conf_t *cf);
    char *(*merge_loc_conf)(sl_conf_t *cf, void *prev, void *conf);
} sl_http_module_t;

/* The http contexts a directive may appear in, one bit each (beside the core's
 * SL_MAIN_CONF and SL_EVENT_CONF, within SL_ANY_CONF). */
#define SL_HTTP_MAIN_CONF 0x04000000
#define SL_HTTP_SRV_CONF 0x08000000
#define SL_HTTP_LOC_CONF 0x10000000
#define SL_HTTP_UPS_CONF 0x20000000
#define SL_HTTP_SIF_CONF 0x40000000
#define SL_HTTP_LIF_CONF 0x80000000
#define SL_HTTP_LMT_CONF 0x00800000

#define SL_HTTP_MAIN_CONF_OFFSET offsetof(sl_http_conf_ctx_t, main_conf)
#define SL_HTTP_SRV_CONF_OFFSET offsetof(sl_http_conf_ctx_t, srv_conf)
#define SL_HTTP_LOC_CONF_OFFSET offsetof(sl_http_conf_ctx_t, loc_conf)

#define sl_http_conf_get_module_main_conf(cf, module)                                              \
    ((sl_http_conf_ctx_t *) (cf)->ctx)->main_conf[(module).ctx_index]
#define sl_http_conf_get_module_srv_conf(cf, module)                                               \
    ((sl_http_conf_ctx_t *) (cf)->ctx)->srv_conf[(module).ctx_index]
#define sl_http_conf_get_module_loc_conf(cf, module)                                               \
    ((sl_http_conf_ctx_t *) (cf)->ctx)->loc_conf[(module).ctx_index]

extern sl_module_t sl_http_module;
extern sl_module_t sl_http_core_module;

/* The http{} context of a cycle, or NULL when the config has none. */
sl_http_conf_ctx_t *sl_http_cycle_ctx(sl_cycle_t *cycle);

/* Options of one "listen" directive. */
typedef struct {
    sl_sockaddr_t sockaddr;
    socklen_t socklen;
    sl_str_t addr_text;
    int backlog;
    int rcvbuf;
    int sndbuf;
    /** so_keepalive: 0 not given, 1 on, 2 off; the TCP times (seconds) and count, 0 unset */
    int keepalive;
    int keepidle;
    int keepintvl;
    int keepcnt;
    /** fastopen=N, -1 without */
    int fastopen;
    unsigned deferred_accept : 1;
    unsigned set : 1;
    unsigned default_server : 1;
    unsigned bind : 1;
    unsigned wildcard : 1;
    unsigned reuseport : 1;
    unsigned ipv6only : 1;
    /** a PROXY protocol header comes before each connection's first request */
    unsigned proxy_protocol : 1;
    /** "ssl": the address speaks TLS (any listen of it saying so) */
    unsigned ssl : 1;
} sl_http_listen_opt_t;

typedef struct sl_http_request_s sl_http_request_t;
typedef struct sl_http_core_srv_conf_s sl_http_core_srv_conf_t;
typedef struct sl_http_core_loc_conf_s sl_http_core_loc_conf_t;

#define SL_HTTP_SATISFY_ALL 0
#define SL_HTTP_SATISFY_ANY 1
/** a value with variables (sl_http_variables.h) */
typedef struct sl_http_complex_value_s sl_http_complex_value_t;
typedef struct sl_http_regex_s sl_http_regex_t;

/* A server_name: exact ("example.com"), wildcard ("*.example.com", ".example.com",
 * "www.example.*") or regex ("~^(?<sub>.+)\\.example\\.com$"). */
typedef struct {
    sl_str_t name;
    sl_http_core_srv_conf_t *server;
    sl_regex_t *regex;
    /** the same with its named captures as variables ($name) */
    sl_http_regex_t *http_regex;
    sl_uint_t captures;
    /** ".example.com": also matches example.com itself */
    unsigned dot_prefix : 1;
    unsigned wildcard_head : 1;
    unsigned wildcard_tail : 1;
} sl_http_server_name_t;

struct sl_http_core_srv_conf_s {
    /** the server{} block's own context */
    sl_http_conf_ctx_t *ctx;
    /** sl_http_server_name_t */
    sl_array_t server_names;
    /** first server_name, "" when none */
    sl_str_t server_name;
    const char *file_name;
    sl_uint_t line;

    sl_msec_t client_header_timeout;
    size_t client_header_buffer_size;
    sl_bufs_t large_client_header_buffers;
    sl_int_t ignore_invalid_headers;
    sl_int_t merge_slashes;
    sl_int_t underscores_in_headers;

    unsigned listen : 1;
    unsigned captures : 1;
};

/* error_page: codes -> uri (with an optional =code override). */
typedef struct {
    sl_uint_t status;
    /** -1: keep the code, 0: "=" (the target's own), else the code to answer with */
    sl_int_t overwrite;
    /** the uri, named location or URL as written */
    sl_str_t value;
    /** value compiled: the target is evaluated per request (an SSO login URL built from
     * $scheme$host$request_uri, as nginx) */
    sl_http_complex_value_t *target;
} sl_http_err_page_t;

#define SL_HTTP_LINGERING_OFF 0
#define SL_HTTP_LINGERING_ON 1
#define SL_HTTP_LINGERING_ALWAYS 2

/* client_body_in_file_only: the body always goes to a named temp file; ON keeps it after
 * the request (for whoever $request_body_file was given to), CLEAN removes it */
#define SL_HTTP_BODY_FILE_OFF 0
#define SL_HTTP_BODY_FILE_ON 1
#define SL_HTTP_BODY_FILE_CLEAN 2

#define SL_HTTP_SERVER_TOKENS_OFF 0
#define SL_HTTP_SERVER_TOKENS_ON 1
#define SL_HTTP_SERVER_TOKENS_BUILD 2

struct sl_http_core_loc_conf_s {
    sl_str_t name;
    /** "=", "^~", "~", "~*" or "" */
    sl_str_t modifier;
    sl_regex_t *regex;
    /** the same with its named captures as variables ($name): what the search runs */
    sl_http_regex_t *http_regex;
    /** the location{} block's own loc_conf array */
    void **loc_conf;
    /** nested locations as written: sl_http_core_loc_conf_t * */
    sl_array_t *locations;
    /** limit_except: the methods (SL_HTTP_GET, ...) its block applies to, 0 without one */
    uint32_t limit_except;
    /** limit_except: the block's loc_conf array (merged with this location's) */
    void **limit_except_loc_conf;

    /* built after parsing, per level: NULL-terminated arrays */
    sl_http_core_loc_conf_t **exact_locations;
    /** prefix locations, longest name first */
    sl_http_core_loc_conf_t **prefix_locations;
    /** regex locations in configuration order */
    sl_http_core_loc_conf_t **regex_locations;
    /** named locations (server level) */
    sl_http_core_loc_conf_t **named_locations;

    /** the content handler of this location (return, static, proxy_pass) */
    sl_int_t (*handler)(sl_http_request_t *r);

    sl_str_t root;
    sl_str_t alias;
    /** the uri bytes the alias replaces: the prefix of the location that set it (nested
     * locations inherit it with the alias, as nginx), SIZE_MAX in a regex location */
    size_t alias_len;
    sl_str_t default_type;
    /** extension -> content type (sl_str_t *) */
    sl_hash_t types_hash;
    /** sl_hash_key_t as parsed from types{} */
    sl_array_t *types;
    /** types_hash_max_size, types_hash_bucket_size: checked as nginx where it would build
     * the hash; sl_hash_build sizes the hash itself */
    sl_int_t types_hash_max_size;
    sl_int_t types_hash_bucket_size;

    off_t client_max_body_size;
    size_t client_body_buffer_size;
    sl_msec_t client_body_timeout;
    sl_path_t *client_body_temp_path;
    /** client_body_in_file_only: SL_HTTP_BODY_FILE_OFF, _ON (kept) or _CLEAN (removed) */
    sl_uint_t client_body_in_file_only;
    sl_int_t client_body_in_single_buffer;

    sl_msec_t send_timeout;
    /** satisfy: SL_HTTP_SATISFY_ALL or _ANY (how the access phase's answers combine) */
    sl_uint_t satisfy;
    /** auth_delay: how long an unauthorized (401) answer waits */
    sl_msec_t auth_delay;
    sl_msec_t keepalive_timeout;
    time_t keepalive_header;
    sl_int_t keepalive_requests;
    sl_msec_t keepalive_time;
    sl_msec_t lingering_time;
    sl_msec_t lingering_timeout;
    sl_uint_t lingering_close;
    sl_uint_t server_tokens;
    sl_int_t reset_timedout_connection;
    sl_int_t etag;
    sl_int_t sendfile;
    sl_int_t tcp_nopush;
    sl_int_t tcp_nodelay;
    sl_int_t chunked_transfer_encoding;
    sl_int_t log_not_found;
    /** log_subrequest: subrequests get access log lines of their own */
    sl_int_t log_subrequest;
    sl_int_t absolute_redirect;
    sl_int_t port_in_redirect;
    sl_int_t server_name_in_redirect;
    sl_int_t internal_set;
    /** sizes, possibly with variables; NULL: no limit.  Applied at the first write. */
    sl_http_complex_value_t *limit_rate;
    sl_http_complex_value_t *limit_rate_after;
    size_t postpone_output;
    /** sendfile_max_chunk, output_buffers, aio: accepted and validated as nginx; see
     * docs/directives.md for what sluice does with them */
    size_t sendfile_max_chunk;
    sl_bufs_t output_buffers;
    sl_int_t aio;
    /** the most an in-memory response body may hold (sl_http_collector_t) */
    size_t subrequest_output_buffer_size;

    /** sl_http_err_page_t, or NULL */
    sl_array_t *error_pages;
    /** error_log at this level, or NULL (inherit) */
    sl_log_t *error_log;

    unsigned exact_match : 1;
    unsigned noregex : 1;
    unsigned caseless : 1;
    unsigned named : 1;
    unsigned internal : 1;
    /** "location /dir/" with a handler: "/dir" redirects to "/dir/" */
    unsigned auto_redirect : 1;
    /** an if or limit_except block: not a location, it inherits what its location does */
    unsigned noname : 1;
};

/* An address and the server that answers on it by default. */
typedef struct {
    sl_sockaddr_t sockaddr;
    socklen_t socklen;
    sl_http_core_srv_conf_t *default_server;
    /** names of the servers on this address: exact, then wildcards, then regexes */
    sl_http_server_name_t *names;
    sl_uint_t nnames;
    /** listen ... proxy_protocol */
    unsigned proxy_protocol : 1;
    /** listen ... ssl */
    unsigned ssl : 1;
} sl_http_addr_t;

/* What a listening socket serves: one or several addresses (a wildcard socket answers for
 * the specific addresses of the same port that have no socket of their own). */
typedef struct {
    sl_http_addr_t *addrs;
    sl_uint_t naddrs;
} sl_http_port_t;

typedef struct {
    sl_http_listen_opt_t opt;
    sl_http_core_srv_conf_t *default_server;
    /** sl_http_core_srv_conf_t * */
    sl_array_t servers;
} sl_http_conf_addr_t;

typedef struct {
    int family;
    in_port_t port;
    /** sl_http_conf_addr_t */
    sl_array_t addrs;
} sl_http_conf_port_t;

/* Request processing phases, in order. */
typedef enum {
    SL_HTTP_POST_READ_PHASE = 0,
    SL_HTTP_SERVER_REWRITE_PHASE,
    SL_HTTP_FIND_CONFIG_PHASE,
    SL_HTTP_REWRITE_PHASE,
    SL_HTTP_POST_REWRITE_PHASE,
    SL_HTTP_PREACCESS_PHASE,
    SL_HTTP_ACCESS_PHASE,
    SL_HTTP_POST_ACCESS_PHASE,
    SL_HTTP_PRECONTENT_PHASE,
    SL_HTTP_CONTENT_PHASE,
    SL_HTTP_LOG_PHASE,
    SL_HTTP_NPHASES
} sl_http_phases_e;

typedef struct sl_http_phase_handler_s sl_http_phase_handler_t;
typedef sl_int_t (*sl_http_phase_checker_pt)(sl_http_request_t *r, sl_http_phase_handler_t *ph);

struct sl_http_phase_handler_s {
    sl_http_phase_checker_pt checker;
    sl_int_t (*handler)(sl_http_request_t *r);
    /** index of the first handler of the next phase */
    sl_uint_t next;
};

typedef struct {
    /** sl_http_core_srv_conf_t * */
    sl_array_t servers;
    /** sl_http_conf_port_t, built from the listen directives */
    sl_array_t *ports;
    /** per phase: the handlers modules registered (sl_int_t (*)(sl_http_request_t *)) */
    sl_array_t phases[SL_HTTP_NPHASES];
    /** the flattened engine the requests run, ending with a NULL checker */
    sl_http_phase_handler_t *phase_engine;
    sl_uint_t server_rewrite_index;
    sl_uint_t find_config_index;
    sl_uint_t location_rewrite_index;
    /** sl_http_variable_t, indexed; see sl_http_variables.h */
    sl_array_t variables;
    /** name -> sl_http_variable_t * for the built-in and module variables */
    sl_hash_t variables_hash;
    /** sl_http_variable_t with prefix names ("http_", "arg_", ...) */
    sl_array_t prefix_variables;
    /** variables declared while parsing, resolved at the end: sl_hash_key_t */
    sl_array_t *variables_keys;
    /** the *_hash_max_size and *_hash_bucket_size of the http block: checked as nginx
     * checks them, the hashes sized by sl_hash_build */
    sl_int_t server_names_hash_max_size;
    sl_int_t server_names_hash_bucket_size;
    sl_int_t variables_hash_max_size;
    sl_int_t variables_hash_bucket_size;
} sl_http_core_main_conf_t;

/* "listen": parse the arguments into opt.  SL_CONF_OK or an error (logged). */
char *sl_http_parse_listen(sl_conf_t *cf, sl_http_listen_opt_t *opt);
/* Records a listen of a server under its port/address.  SL_OK or SL_ERROR (logged). */
sl_int_t sl_http_add_listen(sl_conf_t *cf, sl_http_core_srv_conf_t *cscf,
                            sl_http_listen_opt_t *opt);
/* Creates the cycle's listening sockets from the recorded ports.  SL_OK or SL_ERROR. */
sl_int_t sl_http_optimize_servers(sl_conf_t *cf, sl_http_core_main_conf_t *cmcf);

/* Builds the phase engine from the handlers modules registered.  SL_OK or SL_ERROR. */
sl_int_t sl_http_init_phase_handlers(sl_conf_t *cf, sl_http_core_main_conf_t *cmcf);

typedef sl_int_t (*sl_http_handler_pt)(sl_http_request_t *r);

/* A module's handler for phase (at postconfiguration): after those registered before it.
 * SL_OK or SL_ERROR. */
sl_int_t sl_http_add_phase_handler(sl_conf_t *cf, sl_http_phases_e phase,
                                   sl_http_handler_pt handler);

/* The handler of every accepted http connection. */
void sl_http_init_connection(sl_connection_t *c);
/* A connection's wait for the first bytes of a request (after a TLS handshake, too). */
void sl_http_wait_request_handler(sl_event_t *rev);

#endif /* SL_HTTP_H */
