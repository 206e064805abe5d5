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
    unsigned set : 1;
    unsigned default_server : 1;
    unsigned bind : 1;
    unsigned wildcard : 1;
    unsigned reuseport : 1;
    unsigned ipv6only : 1;
} sl_http_listen_opt_t;

typedef struct sl_http_core_srv_conf_s sl_http_core_srv_conf_t;
typedef struct sl_http_core_loc_conf_s sl_http_core_loc_conf_t;

struct sl_http_core_srv_conf_s {
    /** the server{} block's own context */
    sl_http_conf_ctx_t *ctx;
    /** first server_name, "" when none */
    sl_str_t server_name;
    const char *file_name;
    sl_uint_t line;

    sl_msec_t client_header_timeout;
    size_t client_header_buffer_size;

    unsigned listen : 1;
};

struct sl_http_core_loc_conf_s {
    sl_str_t name;
    /** "=", "^~", "~", "~*" or "" */
    sl_str_t modifier;
    /** the location{} block's own loc_conf array */
    void **loc_conf;
    /** nested locations: sl_http_core_loc_conf_t * */
    sl_array_t *locations;

    unsigned exact_match : 1;
    unsigned noregex : 1;
    unsigned regex : 1;
    unsigned caseless : 1;
    unsigned named : 1;
};

/* An address and the server that answers on it by default. */
typedef struct {
    sl_sockaddr_t sockaddr;
    socklen_t socklen;
    sl_http_core_srv_conf_t *default_server;
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

typedef struct {
    /** sl_http_core_srv_conf_t * */
    sl_array_t servers;
    /** sl_http_conf_port_t, built from the listen directives */
    sl_array_t *ports;
} sl_http_core_main_conf_t;

/* "listen": parse the arguments into opt.  SL_CONF_OK or an error (logged). */
char *sl_http_parse_listen(sl_conf_t *cf, sl_http_listen_opt_t *opt);
/* Records a listen of a server under its port/address.  SL_OK or SL_ERROR (logged). */
sl_int_t sl_http_add_listen(sl_conf_t *cf, sl_http_core_srv_conf_t *cscf,
                            sl_http_listen_opt_t *opt);
/* Creates the cycle's listening sockets from the recorded ports.  SL_OK or SL_ERROR. */
sl_int_t sl_http_optimize_servers(sl_conf_t *cf, sl_http_core_main_conf_t *cmcf);

/* The handler of every accepted http connection. */
void sl_http_init_connection(sl_connection_t *c);

#endif /* SL_HTTP_H */
