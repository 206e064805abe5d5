/*
 * sl_proxy_module.c: the HTTP/1.x protocol module on top of sl_upstream: proxy_pass and
 * its directives, building the request, parsing the response header strictly, and the
 * body decoders (Content-Length, chunked, close-delimited).
 */
#include <stdio.h>

#include "sl_http_output.h"
#include "sl_http_variables.h"
#include "sl_pool.h"
#include "sl_proxy_rewrite.h"
#include "sl_upstream.h"
#include "sl_upstream_group.h"

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
} proxy_target_t;

typedef struct {
    sl_upstream_conf_t upstream;
    /** proxy_pass without variables */
    proxy_target_t target;
    /** proxy_pass with variables: evaluated for each request, NULL otherwise */
    sl_http_complex_value_t *url;
    /** the location's name, the prefix a static uri part replaces */
    sl_str_t location;
    unsigned pass_set : 1;
    sl_uint_t http_version;
    /** proxy_set_header, NULL when unset at this level (inherited as a whole) */
    sl_array_t *set_headers;
    /** proxy_method, proxy_set_body: NULL when unset */
    sl_http_complex_value_t *method;
    sl_http_complex_value_t *body;
    /** proxy_bind: NULL for none ("off") */
    sl_addr_t *bind;
    unsigned bind_set : 1;
    sl_int_t socket_keepalive;
    sl_int_t request_buffering;
    /** proxy_hide_header, proxy_pass_header: sl_str_t */
    sl_array_t *hide;
    sl_array_t *pass;
    /** proxy_redirect, proxy_cookie_domain/_path/_flags */
    sl_proxy_rewrite_conf_t rewrite;
} proxy_loc_conf_t;

/* A literal proxy_pass waiting for its group: where it is, and its parsed url. */
typedef struct {
    proxy_target_t *target;
    sl_url_t url;
    const char *file;
    sl_uint_t line;
} proxy_group_ref_t;

typedef struct {
    /** proxy_group_ref_t, bound in postconfiguration */
    sl_array_t refs;
} proxy_main_conf_t;

typedef struct {
    /** the parsers' state, reset for each try */
    sl_http_parse_t parse;
    sl_http_status_t status;
    sl_http_chunked_t chunked;
    unsigned status_done : 1;
    /** this request's target: the location's, or the one its variables gave */
    proxy_target_t *target;
} proxy_ctx_t;

static int header_is_n(const sl_str_t *name, const char *s, size_t n)
{
    return name->len == n && sl_strncasecmp(name->data, (const u_char *) s, n) == 0;
}

/* name equals the string literal s, ignoring case */
#define header_is(name, s) header_is_n(name, s, sizeof(s) - 1)

static void *create_loc_conf(sl_conf_t *cf);
static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child);
static char *set_proxy_pass(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *set_proxy_header(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *set_proxy_bind(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static sl_int_t set_target(sl_pool_t *pool, const sl_url_t *u, proxy_target_t *t);
static char *set_ignored_size(sl_conf_t *cf, sl_command_t *cmd, void *conf);

static sl_conf_bitmask_t ignore_headers_masks[] = {
    { sl_string("X-Accel-Redirect"), SL_UPSTREAM_IGN_XA_REDIRECT },
    { sl_string("X-Accel-Expires"), SL_UPSTREAM_IGN_XA_EXPIRES },
    { sl_string("X-Accel-Limit-Rate"), SL_UPSTREAM_IGN_XA_LIMIT_RATE },
    { sl_string("X-Accel-Buffering"), SL_UPSTREAM_IGN_XA_BUFFERING },
    { sl_string("X-Accel-Charset"), SL_UPSTREAM_IGN_XA_CHARSET },
    { sl_string("Expires"), SL_UPSTREAM_IGN_EXPIRES },
    { sl_string("Cache-Control"), SL_UPSTREAM_IGN_CACHE_CONTROL },
    { sl_string("Set-Cookie"), SL_UPSTREAM_IGN_SET_COOKIE },
    { sl_string("Vary"), SL_UPSTREAM_IGN_VARY },
    { sl_null_string, 0 },
};

static sl_conf_bitmask_t next_upstream_masks[] = {
    { sl_string("error"), SL_UPSTREAM_FT_ERROR },
    { sl_string("timeout"), SL_UPSTREAM_FT_TIMEOUT },
    { sl_string("invalid_header"), SL_UPSTREAM_FT_INVALID_HEADER },
    { sl_string("non_idempotent"), SL_UPSTREAM_FT_NON_IDEMPOTENT },
    { sl_string("http_500"), SL_UPSTREAM_FT_HTTP_500 },
    { sl_string("http_502"), SL_UPSTREAM_FT_HTTP_502 },
    { sl_string("http_503"), SL_UPSTREAM_FT_HTTP_503 },
    { sl_string("http_504"), SL_UPSTREAM_FT_HTTP_504 },
    { sl_string("http_403"), SL_UPSTREAM_FT_HTTP_403 },
    { sl_string("http_404"), SL_UPSTREAM_FT_HTTP_404 },
    { sl_string("http_429"), SL_UPSTREAM_FT_HTTP_429 },
    { sl_string("off"), SL_UPSTREAM_FT_OFF },
    { sl_null_string, 0 },
};

static sl_conf_enum_t http_versions[] = {
    { sl_string("1.0"), SL_HTTP_VERSION_10 },
    { sl_string("1.1"), SL_HTTP_VERSION_11 },
    { sl_null_string, 0 },
};

#define PLOC SL_HTTP_LOC_CONF_OFFSET
#define PF(f) offsetof(proxy_loc_conf_t, f)
#define UF(f) offsetof(proxy_loc_conf_t, upstream.f)
#define MSL (SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF)

// clang-format off
static sl_command_t proxy_commands[] = {
    { sl_string("proxy_pass"), SL_HTTP_LOC_CONF | SL_HTTP_LIF_CONF | SL_CONF_TAKE1, set_proxy_pass, PLOC, 0, NULL },
    { sl_string("proxy_connect_timeout"), MSL | SL_CONF_TAKE1, sl_conf_set_msec_slot, PLOC, UF(connect_timeout), NULL },
    { sl_string("proxy_send_timeout"), MSL | SL_CONF_TAKE1, sl_conf_set_msec_slot, PLOC, UF(send_timeout), NULL },
    { sl_string("proxy_read_timeout"), MSL | SL_CONF_TAKE1, sl_conf_set_msec_slot, PLOC, UF(read_timeout), NULL },
    { sl_string("proxy_buffer_size"), MSL | SL_CONF_TAKE1, sl_conf_set_size_slot, PLOC, UF(buffer_size), NULL },
    { sl_string("proxy_pass_request_headers"), MSL | SL_CONF_FLAG, sl_conf_set_flag_slot, PLOC, UF(pass_request_headers), NULL },
    { sl_string("proxy_pass_request_body"), MSL | SL_CONF_FLAG, sl_conf_set_flag_slot, PLOC, UF(pass_request_body), NULL },
    { sl_string("proxy_http_version"), MSL | SL_CONF_TAKE1, sl_conf_set_enum_slot, PLOC, PF(http_version), http_versions },
    { sl_string("proxy_set_header"), MSL | SL_CONF_TAKE2, set_proxy_header, PLOC, 0, NULL },
    { sl_string("proxy_method"), MSL | SL_CONF_TAKE1, sl_http_set_complex_value_slot, PLOC, PF(method), NULL },
    { sl_string("proxy_set_body"), MSL | SL_CONF_TAKE1, sl_http_set_complex_value_slot, PLOC, PF(body), NULL },
    { sl_string("proxy_request_buffering"), MSL | SL_CONF_FLAG, sl_conf_set_flag_slot, PLOC, PF(request_buffering), NULL },
    { sl_string("proxy_bind"), MSL | SL_CONF_TAKE1, set_proxy_bind, PLOC, 0, NULL },
    { sl_string("proxy_socket_keepalive"), MSL | SL_CONF_FLAG, sl_conf_set_flag_slot, PLOC, PF(socket_keepalive), NULL },
    { sl_string("proxy_hide_header"), MSL | SL_CONF_TAKE1, sl_conf_set_str_array_slot, PLOC, PF(hide), NULL },
    { sl_string("proxy_pass_header"), MSL | SL_CONF_TAKE1, sl_conf_set_str_array_slot, PLOC, PF(pass), NULL },
    { sl_string("proxy_ignore_headers"), MSL | SL_CONF_1MORE, sl_conf_set_bitmask_slot, PLOC, UF(ignore_headers), ignore_headers_masks },
    { sl_string("proxy_intercept_errors"), MSL | SL_CONF_FLAG, sl_conf_set_flag_slot, PLOC, UF(intercept_errors), NULL },
    { sl_string("proxy_ignore_client_abort"), MSL | SL_CONF_FLAG, sl_conf_set_flag_slot, PLOC, UF(ignore_client_abort), NULL },
    { sl_string("proxy_buffering"), MSL | SL_CONF_FLAG, sl_conf_set_flag_slot, PLOC, UF(buffering), NULL },
    { sl_string("proxy_buffers"), MSL | SL_CONF_TAKE2, sl_conf_set_bufs_slot, PLOC, UF(bufs), NULL },
    { sl_string("proxy_busy_buffers_size"), MSL | SL_CONF_TAKE1, sl_conf_set_size_slot, PLOC, UF(busy_buffers_size_conf), NULL },
    { sl_string("proxy_max_temp_file_size"), MSL | SL_CONF_TAKE1, sl_conf_set_off_slot, PLOC, UF(max_temp_file_size_conf), NULL },
    { sl_string("proxy_temp_file_write_size"), MSL | SL_CONF_TAKE1, sl_conf_set_size_slot, PLOC, UF(temp_file_write_size_conf), NULL },
    { sl_string("proxy_temp_path"), MSL | SL_CONF_TAKE1234, sl_conf_set_path_slot, PLOC, UF(temp_path), NULL },
    { sl_string("proxy_headers_hash_max_size"), MSL | SL_CONF_TAKE1, set_ignored_size, PLOC, 0, NULL },
    { sl_string("proxy_headers_hash_bucket_size"), MSL | SL_CONF_TAKE1, set_ignored_size, PLOC, 0, NULL },
    { sl_string("proxy_send_lowat"), MSL | SL_CONF_TAKE1, set_ignored_size, PLOC, 0, NULL },
    { sl_string("proxy_limit_rate"), MSL | SL_CONF_TAKE1, sl_conf_set_size_slot, PLOC, UF(limit_rate), NULL },
    { sl_string("proxy_store"), MSL | SL_CONF_TAKE1, sl_upstream_store_set, PLOC, UF(store), NULL },
    { sl_string("proxy_store_access"), MSL | SL_CONF_TAKE123, sl_upstream_store_access_set, PLOC, UF(store), NULL },
    { sl_string("proxy_next_upstream"), MSL | SL_CONF_1MORE, sl_conf_set_bitmask_slot, PLOC, UF(next_upstream), next_upstream_masks },
    { sl_string("proxy_next_upstream_tries"), MSL | SL_CONF_TAKE1, sl_conf_set_num_slot, PLOC, UF(next_upstream_tries), NULL },
    { sl_string("proxy_next_upstream_timeout"), MSL | SL_CONF_TAKE1, sl_conf_set_msec_slot, PLOC, UF(next_upstream_timeout), NULL },
    { sl_string("proxy_redirect"), MSL | SL_CONF_TAKE12, sl_proxy_set_redirect, PLOC, PF(rewrite), NULL },
    { sl_string("proxy_cookie_domain"), MSL | SL_CONF_TAKE12, sl_proxy_set_cookie_rewrite, PLOC, PF(rewrite.cookie_domains), NULL },
    { sl_string("proxy_cookie_path"), MSL | SL_CONF_TAKE12, sl_proxy_set_cookie_rewrite, PLOC, PF(rewrite.cookie_paths), NULL },
    { sl_string("proxy_cookie_flags"), MSL | SL_CONF_1MORE, sl_proxy_set_cookie_flags, PLOC, PF(rewrite.cookie_flags), NULL },
    sl_null_command,
};
// clang-format on

static sl_int_t preconfiguration(sl_conf_t *cf);
static sl_int_t postconfiguration(sl_conf_t *cf);
static void *create_main_conf(sl_conf_t *cf);

static sl_http_module_t proxy_module_ctx = {
    preconfiguration, postconfiguration, create_main_conf, NULL, NULL, NULL,
    create_loc_conf,  merge_loc_conf,
};

sl_module_t sl_http_proxy_module = {
    "http_proxy", 0, 0, SL_HTTP_MODULE, &proxy_module_ctx, proxy_commands, NULL, NULL, NULL,
};

static void *create_loc_conf(sl_conf_t *cf)
{
    proxy_loc_conf_t *plcf = sl_pcalloc(cf->pool, sizeof(proxy_loc_conf_t));

    if (plcf == NULL) {
        return NULL;
    }
    plcf->upstream.connect_timeout = SL_CONF_UNSET_MSEC;
    plcf->upstream.send_timeout = SL_CONF_UNSET_MSEC;
    plcf->upstream.read_timeout = SL_CONF_UNSET_MSEC;
    plcf->upstream.buffer_size = SL_CONF_UNSET_SIZE;
    plcf->upstream.pass_request_headers = SL_CONF_UNSET;
    plcf->upstream.pass_request_body = SL_CONF_UNSET;
    plcf->upstream.buffering = SL_CONF_UNSET;
    plcf->upstream.ignore_client_abort = SL_CONF_UNSET;
    plcf->upstream.busy_buffers_size_conf = SL_CONF_UNSET_SIZE;
    plcf->upstream.max_temp_file_size_conf = SL_CONF_UNSET;
    plcf->upstream.temp_file_write_size_conf = SL_CONF_UNSET_SIZE;
    plcf->upstream.limit_rate = SL_CONF_UNSET_SIZE;
    plcf->http_version = SL_CONF_UNSET_UINT;
    plcf->set_headers = SL_CONF_UNSET_PTR;
    plcf->hide = SL_CONF_UNSET_PTR;
    plcf->socket_keepalive = SL_CONF_UNSET;
    plcf->request_buffering = SL_CONF_UNSET;
    plcf->pass = SL_CONF_UNSET_PTR;
    plcf->upstream.next_upstream_tries = SL_CONF_UNSET_UINT;
    plcf->upstream.next_upstream_timeout = SL_CONF_UNSET_MSEC;
    plcf->upstream.intercept_errors = SL_CONF_UNSET;
    sl_upstream_store_init_conf(&plcf->upstream.store);
    sl_proxy_rewrite_init(&plcf->rewrite);
    return plcf;
}

static void *create_main_conf(sl_conf_t *cf)
{
    proxy_main_conf_t *pmcf = sl_pcalloc(cf->pool, sizeof(proxy_main_conf_t));

    if (pmcf == NULL
        || sl_array_init(&pmcf->refs, cf->pool, 4, sizeof(proxy_group_ref_t)) != SL_OK) {
        return NULL;
    }
    return pmcf;
}

/* "NAME" must be equal to or greater than the maximum of proxy_buffer_size and one of
 * proxy_buffers: nginx's check, worded as nginx words it. */
static char *too_small(sl_conf_t *cf, const char *name, const char *zero_disables)
{
    sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                      "\"%s\" must be %sequal to or greater than the maximum of the value of "
                      "\"proxy_buffer_size\" and one of the \"proxy_buffers\"",
                      name, zero_disables);
    return SL_CONF_ERROR;
}

/*
 * The pipe's sizes, as nginx computes them: what is configured at this level or above is
 * taken as it is, and what is not defaults from this level's own buffers (twice the larger
 * of proxy_buffer_size and one proxy_buffers), so `location / { proxy_buffers 8 16k; }`
 * gets 32k, not the 16k an http-level default would hand down.
 */
static char *merge_pipe_sizes(sl_conf_t *cf, sl_upstream_conf_t *u, sl_upstream_conf_t *pu)
{
    size_t size = sl_max(u->buffer_size, u->bufs.size);

    sl_conf_merge_size_value(u->busy_buffers_size_conf, pu->busy_buffers_size_conf,
                             SL_CONF_UNSET_SIZE);
    u->busy_buffers_size =
        u->busy_buffers_size_conf == SL_CONF_UNSET_SIZE ? 2 * size : u->busy_buffers_size_conf;
    if (u->busy_buffers_size < size) {
        return too_small(cf, "proxy_busy_buffers_size", "");
    }
    if (u->busy_buffers_size > (size_t) (u->bufs.num - 1) * u->bufs.size) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "\"proxy_busy_buffers_size\" must be less than the size of all "
                          "\"proxy_buffers\" minus one buffer");
        return SL_CONF_ERROR;
    }
    sl_conf_merge_size_value(u->temp_file_write_size_conf, pu->temp_file_write_size_conf,
                             SL_CONF_UNSET_SIZE);
    u->temp_file_write_size = u->temp_file_write_size_conf == SL_CONF_UNSET_SIZE
                                  ? 2 * size
                                  : u->temp_file_write_size_conf;
    if (u->temp_file_write_size < size) {
        return too_small(cf, "proxy_temp_file_write_size", "");
    }
    sl_conf_merge_off_value(u->max_temp_file_size_conf, pu->max_temp_file_size_conf, SL_CONF_UNSET);
    u->max_temp_file_size = u->max_temp_file_size_conf == SL_CONF_UNSET
                                ? 1024LL * 1024 * 1024
                                : u->max_temp_file_size_conf;
    if (u->max_temp_file_size != 0 && u->max_temp_file_size < (off_t) size) {
        return too_small(cf, "proxy_max_temp_file_size",
                         "equal to zero to disable temporary files usage or must be ");
    }
    return SL_CONF_OK;
}

/* nginx's defaults and consistency checks for the event pipe. */
static char *merge_buffering(sl_conf_t *cf, sl_upstream_conf_t *u, sl_upstream_conf_t *pu)
{
    sl_conf_merge_value(u->buffering, pu->buffering, 1);
    sl_conf_merge_size_value(u->limit_rate, pu->limit_rate, 0);
    sl_conf_merge_bufs_value(u->bufs, pu->bufs, 8, 4096);
    if (u->bufs.num < 2) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "there must be at least 2 \"proxy_buffers\"");
        return SL_CONF_ERROR;
    }
    if (merge_pipe_sizes(cf, u, pu) != SL_CONF_OK) {
        return SL_CONF_ERROR;
    }
    return sl_conf_merge_path_value(cf, &u->temp_path, pu->temp_path, "proxy_temp");
}

static int in_list(const sl_array_t *a, const sl_str_t *name)
{
    const sl_str_t *s = a ? a->elts : NULL;

    for (sl_uint_t i = 0; a && i < a->nelts; i++) {
        if (sl_str_caseeq(&s[i], name)) {
            return 1;
        }
    }
    return 0;
}

/* nginx's default hidden headers, plus proxy_hide_header, minus proxy_pass_header: the ones
 * sluice knows by kind as bits, any other names in a list. */
static sl_int_t build_hide_headers(sl_conf_t *cf, proxy_loc_conf_t *conf)
{
    static sl_str_t defaults[] = {
        sl_string("Date"),
        sl_string("Server"),
        sl_string("X-Pad"),
        sl_string("X-Accel-Expires"),
        sl_string("X-Accel-Redirect"),
        sl_string("X-Accel-Limit-Rate"),
        sl_string("X-Accel-Buffering"),
        sl_string("X-Accel-Charset"),
    };
    sl_upstream_conf_t *u = &conf->upstream;

    u->hide_kinds = 0;
    u->hide_names = NULL;
    for (size_t i = 0; i < sl_nelems(defaults); i++) {
        if (!in_list(conf->pass, &defaults[i])) {
            u->hide_kinds |= SL_UPSTREAM_H_BIT(sl_upstream_header_kind(&defaults[i]));
        }
    }
    sl_str_t *h = conf->hide ? conf->hide->elts : NULL;
    for (sl_uint_t i = 0; conf->hide && i < conf->hide->nelts; i++) {
        sl_uint_t kind = sl_upstream_header_kind(&h[i]);
        if (kind != SL_UPSTREAM_H_OTHER) {
            u->hide_kinds |= SL_UPSTREAM_H_BIT(kind);
            continue;
        }
        if (u->hide_names == NULL) {
            u->hide_names = sl_array_create(cf->pool, 4, sizeof(sl_str_t));
        }
        sl_str_t *s = u->hide_names ? sl_array_push(u->hide_names) : NULL;
        if (s == NULL) {
            return SL_ERROR;
        }
        *s = h[i];
    }
    return SL_OK;
}

static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child)
{
    proxy_loc_conf_t *prev = parent, *conf = child;
    sl_upstream_conf_t *u = &conf->upstream, *pu = &prev->upstream;

    sl_conf_merge_msec_value(u->connect_timeout, pu->connect_timeout, 60000);
    sl_conf_merge_msec_value(u->send_timeout, pu->send_timeout, 60000);
    sl_conf_merge_msec_value(u->read_timeout, pu->read_timeout, 60000);
    sl_conf_merge_size_value(u->buffer_size, pu->buffer_size, 4096);
    sl_conf_merge_value(u->pass_request_headers, pu->pass_request_headers, 1);
    sl_conf_merge_value(u->pass_request_body, pu->pass_request_body, 1);
    sl_conf_merge_value(u->ignore_client_abort, pu->ignore_client_abort, 0);
    sl_conf_merge_value(u->intercept_errors, pu->intercept_errors, 0);
    sl_upstream_store_merge(&u->store, &pu->store);
    sl_conf_merge_uint_value(conf->http_version, prev->http_version, SL_HTTP_VERSION_10);
    sl_conf_merge_ptr_value(conf->set_headers, prev->set_headers, NULL);
    sl_conf_merge_ptr_value(conf->hide, prev->hide, NULL);
    if (conf->method == NULL) {
        conf->method = prev->method;
    }
    if (conf->body == NULL) {
        conf->body = prev->body;
    }
    if (!conf->bind_set) {
        conf->bind = prev->bind;
        conf->bind_set = prev->bind_set;
    }
    sl_conf_merge_value(conf->socket_keepalive, prev->socket_keepalive, 0);
    sl_conf_merge_value(conf->request_buffering, prev->request_buffering, 1);
    sl_conf_merge_ptr_value(conf->pass, prev->pass, NULL);
    sl_conf_merge_bitmask_value(u->ignore_headers, pu->ignore_headers, 0);
    sl_conf_merge_bitmask_value(u->next_upstream, pu->next_upstream,
                                SL_UPSTREAM_FT_ERROR | SL_UPSTREAM_FT_TIMEOUT);
    if (u->next_upstream & SL_UPSTREAM_FT_OFF) {
        u->next_upstream = SL_UPSTREAM_FT_OFF;
    }
    sl_conf_merge_uint_value(u->next_upstream_tries, pu->next_upstream_tries, 0);
    sl_conf_merge_msec_value(u->next_upstream_timeout, pu->next_upstream_timeout, 0);
    if (build_hide_headers(cf, conf) != SL_OK
        || sl_proxy_rewrite_merge(cf, &prev->rewrite, &conf->rewrite) != SL_CONF_OK) {
        return SL_CONF_ERROR;
    }
    return merge_buffering(cf, u, pu);
}

static char *set_proxy_header(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    proxy_loc_conf_t *plcf = conf;
    sl_str_t *value = cf->args->elts;

    if (plcf->set_headers == SL_CONF_UNSET_PTR || plcf->set_headers == NULL) {
        plcf->set_headers = sl_array_create(cf->pool, 4, sizeof(proxy_header_t));
        if (plcf->set_headers == NULL) {
            return SL_CONF_ERROR;
        }
    }
    proxy_header_t *h = sl_array_push(plcf->set_headers);
    if (h == NULL) {
        return SL_CONF_ERROR;
    }
    memset(h, 0, sizeof(*h));
    h->name = value[1];
    h->lc_name = sl_pnalloc(cf->pool, h->name.len);
    if (h->lc_name == NULL) {
        return SL_CONF_ERROR;
    }
    sl_strlow(h->lc_name, h->name.data, h->name.len);
    h->is_host = header_is(&h->name, "host");
    h->is_connection = header_is(&h->name, "connection");
    return sl_http_compile_value(cf, &value[2], &h->value) == SL_OK ? SL_CONF_OK : SL_CONF_ERROR;
}

/* prefix, then r->uri from byte skip (escaped when it was decoded or rewritten, as nginx
 * does), then "?args". */
static sl_int_t uri_with_args(sl_http_request_t *r, const sl_str_t *prefix, size_t skip,
                              sl_str_t *uri)
{
    const u_char *rest = r->uri.data + skip;
    size_t n = r->uri.len - skip;
    int escape = r->quoted_uri || r->internal;
    size_t len = prefix->len + (escape ? sl_escape_uri_len(rest, n) : n)
                 + (r->args.len ? r->args.len + 1 : 0);

    uri->data = sl_pnalloc(r->pool, len);
    if (uri->data == NULL) {
        return SL_ERROR;
    }
    u_char *p = mempcpy(uri->data, prefix->data, prefix->len);
    p = escape ? sl_escape_uri(p, rest, n) : mempcpy(p, rest, n);
    if (r->args.len) {
        *p++ = '?';
        p = mempcpy(p, r->args.data, r->args.len);
    }
    uri->len = (size_t) (p - uri->data);
    return SL_OK;
}

/*
 * The uri sent upstream, as nginx 1.22: a uri part evaluated from variables goes as it is
 * (no args added); without a uri part the client's request-target goes as it came, or, once
 * a rewrite changed the uri, the new uri and args; a static uri part replaces the
 * location's prefix, except after "rewrite ... break" in this location, which sends the
 * whole new uri.
 */
static sl_int_t request_uri(sl_http_request_t *r, proxy_loc_conf_t *plcf, const proxy_target_t *t,
                            sl_str_t *uri)
{
    static const sl_str_t none = sl_string("");

    if (plcf->url && t->uri.len) {
        *uri = t->uri;
        return SL_OK;
    }
    if (t->uri.len == 0 && r->valid_unparsed_uri && r == r->main) {
        *uri = r->unparsed_uri;
        return SL_OK;
    }
    if (t->uri.len == 0 || !r->valid_location) {
        return uri_with_args(r, &none, 0, uri);
    }
    return uri_with_args(r, &t->uri, sl_min(plcf->location.len, r->uri.len), uri);
}

static int names_token(const sl_table_elt_t *c, const sl_str_t *name)
{
    for (size_t i = 0; i + name->len <= c->value.len; i++) {
        if (sl_strncasecmp(c->value.data + i, name->data, name->len) == 0
            && (i == 0 || c->value.data[i - 1] == ',' || c->value.data[i - 1] == ' ')
            && (i + name->len == c->value.len || c->value.data[i + name->len] == ','
                || c->value.data[i + name->len] == ' ')) {
            return 1;
        }
    }
    return 0;
}

/* A client header's name is s, a lowercase literal (its lowcase_key is always set). */
static int client_header_is_n(const sl_table_elt_t *h, const char *s, size_t n)
{
    return h->key.len == n && memcmp(h->lowcase_key, s, n) == 0;
}

#define client_header_is(h, s) client_header_is_n(h, s, sizeof(s) - 1)

/* Named in any of the client's Connection headers: hop-by-hop, never forwarded. */
static int in_connection_header(sl_http_request_t *r, const sl_str_t *name)
{
    if (r->headers_in.connection == NULL || name->len == 0) {
        return 0;
    }
    SL_LIST_FOREACH(&r->headers_in.headers, part, i, sl_table_elt_t, h)
    {
        if (client_header_is(h, "connection") && names_token(h, name)) {
            return 1;
        }
    }
    return 0;
}

/* The client's headers sluice never forwards: hop-by-hop ones, the framing it writes
 * itself, Host (its own), Expect (answered here).  The length picks the candidates. */
static int own_or_hop_by_hop(const sl_table_elt_t *h)
{
    switch (h->key.len) {
    case 2:
        return client_header_is(h, "te");
    case 4:
        return client_header_is(h, "host");
    case 6:
        return client_header_is(h, "expect");
    case 7:
        return client_header_is(h, "trailer") || client_header_is(h, "upgrade");
    case 10:
        return client_header_is(h, "connection") || client_header_is(h, "keep-alive");
    case 14:
        return client_header_is(h, "content-length");
    case 16:
        return client_header_is(h, "proxy-connection");
    case 17:
        return client_header_is(h, "transfer-encoding");
    }
    return 0;
}

static int client_header_passes(sl_http_request_t *r, proxy_loc_conf_t *plcf,
                                const sl_table_elt_t *h)
{
    if (own_or_hop_by_hop(h)) {
        return 0;
    }
    if (in_connection_header(r, &h->key)) {
        return 0;
    }
    if (plcf->set_headers) {
        proxy_header_t *s = plcf->set_headers->elts;
        for (sl_uint_t i = 0; i < plcf->set_headers->nelts; i++) {
            if (s[i].name.len == h->key.len
                && memcmp(s[i].lc_name, h->lowcase_key, h->key.len) == 0) {
                return 0;
            }
        }
    }
    return 1;
}

typedef struct {
    sl_str_t name;
    sl_str_t value;
} line_t;

/* The header lines sluice itself sends: Host and Connection unless proxy_set_header names
 * them, then proxy_set_header's (an empty value sends nothing). */
static sl_int_t own_lines(sl_http_request_t *r, proxy_loc_conf_t *plcf, sl_array_t *lines)
{
    proxy_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_proxy_module);
    int host_set = 0, conn_set = 0;
    proxy_header_t *s = plcf->set_headers ? plcf->set_headers->elts : NULL;
    sl_uint_t n = plcf->set_headers ? plcf->set_headers->nelts : 0;

    for (sl_uint_t i = 0; i < n; i++) {
        line_t *l = sl_array_push(lines);
        if (l == NULL || sl_http_complex_value(r, &s[i].value, &l->value) != SL_OK) {
            return SL_ERROR;
        }
        l->name = s[i].name;
        host_set |= s[i].is_host;
        conn_set |= s[i].is_connection;
    }
    line_t *l;
    if (!host_set && (l = sl_array_push(lines)) != NULL) {
        sl_str_set(&l->name, "Host");
        l->value = ctx->target->host_header;
    }
    if (!conn_set && (l = sl_array_push(lines)) != NULL) {
        sl_str_set(&l->name, "Connection");
        sl_str_set(&l->value, "close");
    }
    return SL_OK;
}

static size_t lines_size(sl_http_request_t *r, proxy_loc_conf_t *plcf, sl_array_t *lines)
{
    size_t len = 0;
    line_t *l = lines->elts;

    for (sl_uint_t i = 0; i < lines->nelts; i++) {
        len += l[i].value.len ? l[i].name.len + 2 + l[i].value.len + 2 : 0;
    }
    if (plcf->upstream.pass_request_headers) {
        SL_LIST_FOREACH(&r->headers_in.headers, part, i, sl_table_elt_t, h)
        {
            if (client_header_passes(r, plcf, h)) {
                len += h->key.len + 2 + h->value.len + 2;
            }
        }
    }
    return len;
}

static u_char *put_line(u_char *p, const sl_str_t *name, const sl_str_t *value)
{
    p = mempcpy(p, name->data, name->len);
    *p++ = ':';
    *p++ = ' ';
    p = mempcpy(p, value->data, value->len);
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

/* A one-buf chain over text (proxy_set_body). */
static sl_chain_t *body_chain(sl_http_request_t *r, sl_str_t *text)
{
    sl_chain_t *cl = sl_alloc_chain_link(r->pool);
    sl_buf_t *b = sl_calloc_buf(r->pool);

    if (cl == NULL || b == NULL) {
        return NULL;
    }
    b->memory = 1;
    b->start = text->data;
    b->pos = text->data;
    b->last = text->data + text->len;
    b->last_buf = 1;
    cl->buf = b;
    cl->next = NULL;
    return cl;
}

/* The whole read body, even when an earlier upstream was sent it (an X-Accel-Redirect to a
 * proxied location sends it again, as nginx 1.22 does, with the method made GET). */
static off_t rewound_size(sl_chain_t *body)
{
    for (sl_chain_t *cl = body; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->start ? cl->buf->start : cl->buf->pos;
        cl->buf->file_pos = 0;
    }
    return sl_chain_size(body);
}

static sl_int_t create_request(sl_http_request_t *r)
{
    proxy_loc_conf_t *plcf = sl_http_get_module_loc_conf(r, sl_http_proxy_module);
    sl_upstream_t *u = r->upstream;
    sl_str_t uri;
    sl_array_t *lines = sl_array_create(r->pool, 8, sizeof(line_t));
    sl_chain_t *body = u->conf->pass_request_body && r->request_body ? r->request_body->bufs : NULL;
    off_t body_len = body ? rewound_size(body) : 0;
    char cl[SL_INT64_LEN + 1];
    sl_str_t cl_name = sl_string("Content-Length"), cl_value = { 0, (u_char *) cl };

    sl_str_t method = r->method_name, set_body = sl_null_string;
    proxy_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_proxy_module);
    if (lines == NULL || request_uri(r, plcf, ctx->target, &uri) != SL_OK
        || own_lines(r, plcf, lines) != SL_OK
        || (plcf->method && sl_http_complex_value(r, plcf->method, &method) != SL_OK)
        || (plcf->body && sl_http_complex_value(r, plcf->body, &set_body) != SL_OK)) {
        return SL_ERROR;
    }
    if (plcf->body) {
        /* proxy_set_body replaces whatever the client sent */
        body = body_chain(r, &set_body);
        body_len = (off_t) set_body.len;
        if (body == NULL) {
            return SL_ERROR;
        }
    }
    u->uri = uri;
    sl_str_t te_name = sl_string("Transfer-Encoding"), te_value = sl_string("chunked");
    if (u->body_streaming) {
        body = NULL;
        if (!r->headers_in.chunked) {
            cl_value.len = (size_t) (sl_sprint_int(cl_value.data, r->headers_in.content_length_n)
                                     - cl_value.data);
        }
    }
    if (body) {
        cl_value.len = (size_t) (sl_sprint_int(cl_value.data, body_len) - cl_value.data);
    }
    size_t len = method.len + 1 + uri.len + sizeof(" HTTP/1.x\r\n") - 1 + lines_size(r, plcf, lines)
                 + (body || u->body_streaming ? cl_name.len + 4 + cl_value.len : 0)
                 + (u->body_chunked ? te_name.len + 4 + te_value.len : 0) + 2;
    sl_buf_t *b = sl_create_temp_buf(r->pool, len);
    sl_chain_t *cl0 = sl_alloc_chain_link(r->pool);
    if (b == NULL || cl0 == NULL) {
        return SL_ERROR;
    }
    u_char *p = mempcpy(b->last, method.data, method.len);
    *p++ = ' ';
    p = mempcpy(p, uri.data, uri.len);
    p = mempcpy(p, plcf->http_version == SL_HTTP_VERSION_11 ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n",
                11);
    line_t *l = lines->elts;
    for (sl_uint_t i = 0; i < lines->nelts; i++) {
        p = l[i].value.len ? put_line(p, &l[i].name, &l[i].value) : p;
    }
    if (body || (u->body_streaming && !u->body_chunked)) {
        p = put_line(p, &cl_name, &cl_value);
    }
    if (u->body_chunked) {
        p = put_line(p, &te_name, &te_value);
    }
    if (plcf->upstream.pass_request_headers) {
        SL_LIST_FOREACH(&r->headers_in.headers, part, i, sl_table_elt_t, h)
        {
            p = client_header_passes(r, plcf, h) ? put_line(p, &h->key, &h->value) : p;
        }
    }
    *p++ = '\r';
    *p++ = '\n';
    b->last = p;
    cl0->buf = b;
    cl0->next = NULL;
    if (body && sl_chain_add_copy(r->pool, &cl0->next, body) != SL_OK) {
        return SL_ERROR;
    }
    u->request_bufs = cl0;
    return SL_OK;
}

/* The response header read so far is not the one that counts (a retry, or an interim 1xx
 * response): what it said of framing goes with it. */
static sl_int_t forget_headers(sl_http_request_t *r, sl_upstream_t *u)
{
    sl_upstream_headers_in_t *in = &u->headers_in;

    in->content_length_n = -1;
    in->content_length = NULL;
    in->transfer_encoding = NULL;
    in->connection = NULL;
    in->seen = 0;
    in->chunked = 0;
    in->connection_close = 0;
    return sl_list_init(&in->headers, r->pool, 8, sizeof(sl_table_elt_t));
}

/* A retry sends the same bytes again: rewind every buf of the request. */
static sl_int_t reinit_request(sl_http_request_t *r)
{
    sl_upstream_t *u = r->upstream;
    proxy_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_proxy_module);

    for (sl_chain_t *cl = u->request_bufs; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->start ? cl->buf->start : cl->buf->pos;
        cl->buf->file_pos = 0;
    }
    /* the parsers start again; the target stays */
    proxy_target_t *target = ctx->target;
    memset(ctx, 0, sizeof(*ctx));
    ctx->target = target;
    ctx->parse.plain_names = 1;
    return forget_headers(r, u);
}

static sl_int_t invalid_header(sl_http_request_t *r, const char *why)
{
    sl_log_error(SL_LOG_ERR, r->connection->log, 0, "%s", why);
    return SL_HTTP_PARSE_INVALID_HEADER;
}

/* One response header line: strict framing headers (RFC 9112 §6.3), stricter than nginx
 * 1.22 on purpose: a hostile upstream must not desynchronise the client connection. */
static sl_int_t add_upstream_header(sl_http_request_t *r, sl_upstream_t *u, sl_http_parse_t *p)
{
    sl_table_elt_t *h = sl_list_push(&u->headers_in.headers);

    if (h == NULL) {
        return SL_ERROR;
    }
    h->key.data = p->header_name_start;
    h->key.len = (size_t) (p->header_name_end - p->header_name_start);
    h->value.data = p->header_start;
    h->value.len = (size_t) (p->header_end - p->header_start);
    sl_uint_t kind = sl_upstream_header_kind(&h->key);
    h->hash = SL_UPSTREAM_KIND_HASH(kind);
    h->lowcase_key = NULL;
    h->next = NULL;
    u->headers_in.seen |= SL_UPSTREAM_H_BIT(kind);
    if (kind == SL_UPSTREAM_H_CONTENT_LENGTH) {
        off_t n = sl_atoof(h->value.data, h->value.len);
        if (n == SL_ERROR
            || (u->headers_in.content_length && n != u->headers_in.content_length_n)) {
            return invalid_header(r, "upstream sent invalid \"Content-Length\" header");
        }
        u->headers_in.content_length = h;
        u->headers_in.content_length_n = n;
    } else if (kind == SL_UPSTREAM_H_TRANSFER_ENCODING) {
        if (u->headers_in.transfer_encoding || !header_is(&h->value, "chunked")) {
            return invalid_header(r, "upstream sent unknown \"Transfer-Encoding\"");
        }
        u->headers_in.transfer_encoding = h;
        u->headers_in.chunked = 1;
    } else if (kind == SL_UPSTREAM_H_CONNECTION && sl_str_has_casestr(&h->value, "close")) {
        /* "close" anywhere in the list ("keep-alive, close"), as nginx looks for it: a
         * connection the upstream will close must not go back to the pool */
        u->headers_in.connection_close = 1;
    }
    return SL_OK;
}

/* The header is complete: settle how the body is framed. */
static sl_int_t header_done(sl_http_request_t *r, sl_upstream_t *u)
{
    sl_upstream_headers_in_t *in = &u->headers_in;

    if (in->chunked && in->content_length) {
        return invalid_header(r, "upstream sent \"Content-Length\" and \"Transfer-Encoding\" "
                                 "headers at the same time");
    }
    proxy_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_proxy_module);
    u->keepalive = ctx->status.http_version >= SL_HTTP_VERSION_11 && !in->connection_close;
    if (r->method == SL_HTTP_HEAD || in->status_n == SL_HTTP_NO_CONTENT
        || in->status_n == SL_HTTP_NOT_MODIFIED) {
        u->length = 0;
        u->upstream_done = 1;
    } else if (in->chunked) {
        u->length = -1;
    } else {
        u->length = in->content_length_n;
        u->upstream_done = u->length == 0;
    }
    if (u->upstream_done && u->buffer.pos < u->buffer.last) {
        u->keepalive = 0; /* bytes after a response without a body */
    }
    return SL_OK;
}

/*
 * A 101: the connections become a tunnel when the client asked for an Upgrade (the bytes
 * after the header are the new protocol's).  Without that request nginx 1.22 relays the
 * 101 as a bodiless answer and keeps the client's connection; sluice refuses it (502): a
 * switch nobody asked for (RFC 9110 §15.2.2) would leave the two ends disagreeing.
 */
static sl_int_t switching_protocols(sl_http_request_t *r, sl_upstream_t *u)
{
    if (r->headers_in.upgrade == NULL) {
        return invalid_header(r, "upstream sent 101 without an Upgrade request");
    }
    u->upgrade = 1;
    u->keepalive = 0;
    return SL_OK;
}

static sl_int_t parse_status(sl_http_request_t *r, sl_upstream_t *u, proxy_ctx_t *ctx)
{
    sl_int_t rc = sl_http_parse_status_line(&ctx->parse, &u->buffer, &ctx->status);

    if (rc == SL_AGAIN) {
        return SL_AGAIN;
    }
    if (rc != SL_OK) {
        /* nginx relays such a response as HTTP/0.9; sluice refuses it (502) */
        return invalid_header(r, "upstream sent no valid HTTP/1.0 header");
    }
    u->headers_in.status_n = ctx->status.code;
    u->headers_in.status_line.data = ctx->status.start;
    u->headers_in.status_line.len = (size_t) (ctx->status.end - ctx->status.start);
    ctx->status_done = 1;
    return SL_OK;
}

/* A header line the parser refused: logged up to the byte refused, and that byte, as
 * nginx logs it ("X-Bad\x01..."). */
static sl_int_t invalid_header_line(sl_http_request_t *r, sl_upstream_t *u, proxy_ctx_t *ctx)
{
    const u_char *bad = u->buffer.pos, *start = ctx->parse.header_name_start;

    if (start == NULL || start > bad) {
        start = bad;
    }
    sl_log_error(SL_LOG_ERR, r->connection->log, 0,
                 "upstream sent invalid header: \"%.*s\\x%02x...\"", (int) (bad - start),
                 (const char *) start, (unsigned) *bad);
    return SL_HTTP_PARSE_INVALID_HEADER;
}

static sl_int_t process_header(sl_http_request_t *r)
{
    sl_upstream_t *u = r->upstream;
    proxy_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_proxy_module);

    for (;;) {
        if (!ctx->status_done) {
            sl_int_t rc = parse_status(r, u, ctx);
            if (rc != SL_OK) {
                return rc;
            }
        }
        sl_int_t rc = sl_http_parse_header_line(&ctx->parse, &u->buffer, 1);
        if (rc == SL_OK) {
            rc = add_upstream_header(r, u, &ctx->parse);
            if (rc != SL_OK) {
                return rc;
            }
            continue;
        }
        if (rc == SL_AGAIN) {
            return SL_AGAIN;
        }
        if (rc != SL_HTTP_PARSE_HEADER_DONE) {
            return invalid_header_line(r, u, ctx);
        }
        /* 1xx interim responses are skipped (RFC 9110 §15.2), except 101 */
        if (u->headers_in.status_n >= 100 && u->headers_in.status_n < 200
            && u->headers_in.status_n != 101) {
            ctx->status_done = 0;
            if (forget_headers(r, u) != SL_OK) {
                return SL_ERROR;
            }
            continue;
        }
        if (u->headers_in.status_n == 101) {
            return switching_protocols(r, u);
        }
        return header_done(r, u);
    }
}

static sl_int_t length_filter(sl_http_request_t *r, sl_buf_t *b, sl_str_t *out)
{
    sl_upstream_t *u = r->upstream;

    if (u->length == -1) {
        out->data = b->pos;
        out->len = (size_t) (b->last - b->pos);
        b->pos = b->last;
        return SL_OK;
    }
    if (b->last - b->pos > u->length) {
        sl_log_error(SL_LOG_WARN, r->connection->log, 0,
                     "upstream sent more data than specified in \"Content-Length\" header");
    }
    size_t n = (size_t) sl_min((off_t) (b->last - b->pos), u->length);
    out->data = b->pos;
    out->len = n;
    b->pos += n;
    u->length -= (off_t) n;
    if (u->length == 0) {
        /* bytes beyond the declared length are never forwarded (nor is the connection
         * reused) */
        u->keepalive = u->keepalive && b->pos == b->last;
        b->pos = b->last;
        return SL_DONE;
    }
    return SL_OK;
}

static sl_int_t chunked_filter(sl_http_request_t *r, sl_buf_t *b, sl_str_t *out)
{
    proxy_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_proxy_module);

    /* always the parser first: while a size line is cut between reads, size holds its
     * digits so far, not data to pass on; in data it returns SL_OK at once */
    sl_int_t rc = sl_http_parse_chunked(&ctx->chunked, b);
    if (rc == SL_DONE) {
        sl_upstream_t *u = r->upstream;
        if (b->pos != b->last) {
            sl_log_error(SL_LOG_WARN, r->connection->log, 0,
                         "upstream sent data after final chunk");
            u->keepalive = 0;
        }
        b->pos = b->last;
        return SL_DONE;
    }
    if (rc == SL_AGAIN) {
        return SL_AGAIN;
    }
    if (rc != SL_OK) {
        return SL_ERROR;
    }
    size_t n = (size_t) sl_min((off_t) (b->last - b->pos), ctx->chunked.size);
    out->data = b->pos;
    out->len = n;
    b->pos += n;
    ctx->chunked.size -= (off_t) n;
    return SL_OK;
}

static sl_int_t input_filter(sl_http_request_t *r, sl_buf_t *b, sl_str_t *out)
{
    sl_upstream_t *u = r->upstream;

    return u->headers_in.chunked ? chunked_filter(r, b, out) : length_filter(r, b, out);
}

/* The pipe's chunked decoder: one shadow buf per data span of the raw buffer. */
static sl_int_t chunked_pipe_filter(sl_pipe_t *p, sl_buf_t *raw)
{
    sl_http_request_t *r = p->input_ctx;
    proxy_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_proxy_module);
    sl_buf_t *last = NULL;

    while (raw->pos < raw->last && !p->upstream_done) {
        /* the parser first, always (see chunked_filter) */
        sl_int_t rc = sl_http_parse_chunked(&ctx->chunked, raw);
        if (rc == SL_DONE) {
            p->upstream_done = 1;
            p->input_overrun = raw->pos < raw->last;
            if (p->input_overrun) {
                sl_log_error(SL_LOG_WARN, r->connection->log, 0,
                             "upstream sent data after final chunk");
            }
            break;
        }
        if (rc == SL_AGAIN) {
            break;
        }
        if (rc != SL_OK) {
            sl_log_error(SL_LOG_ERR, r->connection->log, 0,
                         "upstream sent invalid chunked response");
            return SL_ERROR;
        }
        size_t n = (size_t) sl_min((off_t) (raw->last - raw->pos), ctx->chunked.size);
        if (n) {
            last = sl_pipe_shadow_buf(p, raw, raw->pos, raw->pos + n);
            if (last == NULL) {
                return SL_ERROR;
            }
        }
        raw->pos += n;
        ctx->chunked.size -= (off_t) n;
    }
    if (last) {
        last->last_shadow = 1;
    }
    /* the fewest bytes still to come: a partly filled buffer holding that many is passed
     * here at once, not when it fills (a size line cut between reads would wait for bytes
     * that never come, the upstream keeping its connection) */
    p->length = sl_http_chunked_left(&ctx->chunked);
    return SL_OK;
}

static sl_int_t pipe_filter(sl_pipe_t *p, sl_buf_t *raw)
{
    sl_http_request_t *r = p->input_ctx;
    sl_upstream_t *u = r->upstream;

    return u->headers_in.chunked ? chunked_pipe_filter(p, raw) : sl_pipe_copy_input_filter(p, raw);
}

/*
 * Whether the whole body came with the header.  nginx then reads it as if buffering were
 * on (Content-Length framing, and the request can go to another server); so does sluice.
 * A chunked body is decoded on a copy: the real reading starts from the same bytes.
 */
static int body_preread_whole(sl_http_request_t *r)
{
    sl_buf_t b = *r->header_in;

    if (!r->headers_in.chunked) {
        return b.last - b.pos >= r->headers_in.content_length_n;
    }
    sl_http_chunked_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    for (;;) {
        sl_int_t rc = sl_http_parse_chunked(&ctx, &b);
        if (rc != SL_OK) {
            return rc == SL_DONE;
        }
        off_t n = sl_min(ctx.size, (off_t) (b.last - b.pos));
        b.pos += n;
        ctx.size -= n;
        if (b.pos == b.last && ctx.size > 0) {
            return 0;
        }
    }
}

/* proxy_request_buffering off: connect now, send the body as it comes. */
static sl_int_t start_streaming(sl_http_request_t *r, sl_upstream_t *u)
{
    sl_http_request_body_t *rb = sl_pcalloc(r->pool, sizeof(sl_http_request_body_t));

    if (rb == NULL) {
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    rb->rest = r->headers_in.content_length_n;
    if (r->headers_in.chunked) {
        rb->chunked = sl_pcalloc(r->pool, sizeof(sl_http_chunked_t));
        if (rb->chunked == NULL) {
            return SL_HTTP_INTERNAL_SERVER_ERROR;
        }
        u->body_chunked = 1;
    }
    r->request_body = rb;
    u->body_streaming = 1;
    r->main->count++;
    sl_upstream_init(r);
    return SL_DONE;
}

/*
 * proxy_pass with variables: this request's url, parsed as nginx does it per request
 * (nothing is resolved; an IP literal or a unix socket is the address).  SL_OK with
 * ctx->target set, or SL_ERROR after logging nginx's line (the request gets a 500).
 */
static sl_int_t eval_target(sl_http_request_t *r, proxy_loc_conf_t *plcf, proxy_ctx_t *ctx)
{
    sl_str_t url;

    if (sl_http_complex_value(r, plcf->url, &url) != SL_OK) {
        return SL_ERROR;
    }
    if (url.len <= 7 || sl_strncasecmp(url.data, (u_char *) "http://", 7) != 0) {
        /* https:// too: no TLS to upstreams yet */
        sl_log_error(SL_LOG_ERR, r->connection->log, 0, "invalid URL prefix in \"%.*s\"",
                     SL_STR_ARG(url));
        return SL_ERROR;
    }
    sl_url_t u;
    memset(&u, 0, sizeof(u));
    u.url.data = url.data + 7;
    u.url.len = url.len - 7;
    u.default_port = 80;
    u.no_resolve = 1;
    if (sl_parse_url(r->pool, &u) != SL_OK) {
        sl_log_error(SL_LOG_ERR, r->connection->log, 0, "%s in upstream \"%.*s\"", u.err,
                     SL_STR_ARG(u.url));
        return SL_ERROR;
    }
    if (u.uri.len && u.uri.data[0] == '?') {
        /* "http://host?args": the path is "/" */
        u_char *p = sl_pnalloc(r->pool, u.uri.len + 1);
        if (p == NULL) {
            return SL_ERROR;
        }
        p[0] = '/';
        memcpy(p + 1, u.uri.data, u.uri.len);
        u.uri.data = p;
        u.uri.len++;
    }
    proxy_target_t *t = sl_pcalloc(r->pool, sizeof(proxy_target_t));
    if (t == NULL || set_target(r->pool, &u, t) != SL_OK) {
        return SL_ERROR;
    }
    ctx->target = t;
    return SL_OK;
}

static sl_int_t rewrite_header(sl_http_request_t *r, sl_table_elt_t *h)
{
    proxy_loc_conf_t *plcf = sl_http_get_module_loc_conf(r, sl_http_proxy_module);

    return sl_proxy_rewrite_header(r, &plcf->rewrite, h);
}

static sl_int_t proxy_handler(sl_http_request_t *r)
{
    proxy_loc_conf_t *plcf = sl_http_get_module_loc_conf(r, sl_http_proxy_module);
    proxy_ctx_t *ctx = sl_pcalloc(r->pool, sizeof(proxy_ctx_t));
    static proxy_target_t unset;

    if (ctx == NULL || sl_upstream_create(r) != SL_OK) {
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    sl_http_set_ctx(r, ctx, sl_http_proxy_module);
    ctx->parse.plain_names = 1; /* response headers are classified by sl_upstream_header_kind */
    /* until the url is evaluated, $proxy_host and $proxy_port are empty */
    ctx->target = plcf->url ? &unset : &plcf->target;
    if (plcf->url && eval_target(r, plcf, ctx) != SL_OK) {
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    sl_upstream_t *u = r->upstream;
    u->conf = &plcf->upstream;
    u->group = ctx->target->group;
    u->addrs = ctx->target->addrs;
    u->naddrs = ctx->target->naddrs;
    if (u->group == NULL && u->naddrs == 0) {
        /* a host name: the upstream finds its group, or gives up without a resolver */
        u->resolved.host = ctx->target->host;
        u->resolved.port = ctx->target->port;
        u->resolved.no_port = ctx->target->no_port;
    }
    u->create_request = create_request;
    u->reinit_request = reinit_request;
    u->process_header = process_header;
    u->input_filter = input_filter;
    u->pipe_input_filter = pipe_filter;
    u->rewrite_header = sl_proxy_rewrite_active(&plcf->rewrite) ? rewrite_header : NULL;
    if (plcf->bind) {
        u->peer.local = (struct sockaddr *) &plcf->bind->sockaddr;
        u->peer.local_socklen = plcf->bind->socklen;
    }
    u->peer.so_keepalive = (int) plcf->socket_keepalive;
    int has_body = r->headers_in.content_length_n > 0 || r->headers_in.chunked;
    /* unknown length to an HTTP/1.0 upstream: nothing to frame it with, read it first */
    if (!plcf->request_buffering && has_body && plcf->upstream.pass_request_body && !plcf->body
        && (!r->headers_in.chunked || plcf->http_version == SL_HTTP_VERSION_11)
        && !body_preread_whole(r)) {
        return start_streaming(r, u);
    }
    sl_int_t rc = sl_http_read_client_request_body(r, sl_upstream_init);
    if (rc >= SL_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }
    return SL_DONE;
}

/* Directives nginx has that change nothing here (see docs/directives.md): the value is
 * still checked, and proxy_send_lowat warns as nginx does on Linux. */
static char *set_ignored_size(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_str_t *value = cf->args->elts;

    (void) conf;
    if (sl_parse_size(&value[1]) == SL_ERROR) {
        return "invalid value";
    }
    if (sl_str_eq_cstr(&cmd->name, "proxy_send_lowat")) {
        sl_conf_log_error(SL_LOG_WARN, cf, 0, "\"proxy_send_lowat\" is not supported, ignored");
    }
    return SL_CONF_OK;
}

static char *set_proxy_bind(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    proxy_loc_conf_t *plcf = conf;
    sl_str_t *value = cf->args->elts;

    if (plcf->bind_set) {
        return "is duplicate";
    }
    plcf->bind_set = 1;
    if (sl_str_eq_cstr(&value[1], "off")) {
        return SL_CONF_OK;
    }
    sl_url_t u;
    memset(&u, 0, sizeof(u));
    u.url = value[1];
    u.no_port = 1;
    /* a local address: any port (0), resolved now */
    u.default_port = 0;
    if (sl_parse_url(cf->pool, &u) != SL_OK || u.naddrs == 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid address \"%.*s\"", SL_STR_ARG(value[1]));
        return SL_CONF_ERROR;
    }
    plcf->bind = &u.addrs[0];
    return SL_CONF_OK;
}

/* Fills t from a parsed proxy_pass url: addresses, host and port, $proxy_host and
 * $proxy_port as nginx spells them.  SL_OK or SL_ERROR (memory). */
static sl_int_t set_target(sl_pool_t *pool, const sl_url_t *u, proxy_target_t *t)
{
    t->addrs = u->addrs;
    t->naddrs = u->naddrs;
    t->host = u->host;
    t->port = u->port;
    t->no_port = u->no_port;
    t->uri = u->uri;
    if (u->family == AF_UNIX) {
        sl_str_set(&t->host_header, "localhost");
        sl_str_set(&t->port_text, "");
        return SL_OK;
    }
    /* an IPv6 literal keeps its brackets; the port is left out when it is 80 */
    const char *open = memchr(u->host.data, ':', u->host.len) ? "[" : "";
    const char *close = *open ? "]" : "";
    size_t len = u->host.len + sizeof("[]:65535");
    t->host_header.data = sl_pnalloc(pool, len);
    t->port_text.data = sl_pnalloc(pool, sizeof("65535"));
    if (t->host_header.data == NULL || t->port_text.data == NULL) {
        return SL_ERROR;
    }
    int n = u->no_port || u->port == 80 ? snprintf((char *) t->host_header.data, len, "%s%.*s%s",
                                                   open, SL_STR_ARG(u->host), close)
                                        : snprintf((char *) t->host_header.data, len, "%s%.*s%s:%d",
                                                   open, SL_STR_ARG(u->host), close, u->port);
    t->host_header.len = (size_t) n;
    t->port_text.len =
        (size_t) snprintf((char *) t->port_text.data, sizeof("65535"), "%d", u->port);
    return SL_OK;
}

static char *set_proxy_pass(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    proxy_loc_conf_t *plcf = conf;
    sl_str_t *value = cf->args->elts;
    sl_http_core_loc_conf_t *clcf = sl_http_conf_get_module_loc_conf(cf, sl_http_core_module);

    if (plcf->pass_set) {
        return "is duplicate";
    }
    plcf->pass_set = 1;
    plcf->location = clcf->name;
    clcf->handler = proxy_handler;
    if (clcf->name.len && clcf->name.data[clcf->name.len - 1] == '/') {
        clcf->auto_redirect = 1;
    }
    if (sl_http_script_variables_count(&value[1])) {
        /* evaluated per request: the prefix and the address are checked then */
        plcf->url = sl_pcalloc(cf->pool, sizeof(sl_http_complex_value_t));
        if (plcf->url == NULL || sl_http_compile_value(cf, &value[1], plcf->url) != SL_OK) {
            return SL_CONF_ERROR;
        }
        sl_proxy_rewrite_pass(&plcf->rewrite, &value[1], 0, 1, &clcf->name);
        return SL_CONF_OK;
    }
    if (value[1].len < 8 || sl_strncasecmp(value[1].data, (u_char *) "http://", 7) != 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid URL prefix in \"%.*s\"",
                          SL_STR_ARG(value[1]));
        return SL_CONF_ERROR;
    }
    proxy_main_conf_t *pmcf = sl_http_conf_get_module_main_conf(cf, sl_http_proxy_module);
    proxy_group_ref_t *ref = sl_array_push(&pmcf->refs);
    if (ref == NULL) {
        return SL_CONF_ERROR;
    }
    sl_url_t *u = &ref->url;
    memset(u, 0, sizeof(*u));
    u->url.data = value[1].data + 7;
    u->url.len = value[1].len - 7;
    u->default_port = 80;
    /* a name may be an upstream{} block defined further down: resolved once all is read */
    u->no_resolve = 1;
    if (sl_parse_url(cf->pool, u) != SL_OK) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "%s in upstream \"%.*s\"", u->err,
                          SL_STR_ARG(u->url));
        return SL_CONF_ERROR;
    }
    if (u->uri.len && u->uri.data[0] == '?') {
        /* nginx 1.22 sends "GET ?args..." for this: refused instead */
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid URI \"%.*s\" in upstream \"%.*s\"",
                          SL_STR_ARG(u->uri), SL_STR_ARG(u->url));
        return SL_CONF_ERROR;
    }
    ref->target = &plcf->target;
    ref->file = (const char *) cf->conf_file->file.name.data;
    ref->line = cf->conf_file->line;
    sl_proxy_rewrite_pass(&plcf->rewrite, &value[1], u->uri.len > 0, 0, &clcf->name);
    return set_target(cf->pool, u, &plcf->target) == SL_OK ? SL_CONF_OK : SL_CONF_ERROR;
}

/*
 * A literal proxy_pass gets its group, as nginx binds them: "http://NAME" without a port
 * is the upstream{} block NAME if there is one (wherever it is in the http block); with a
 * port it must not name a block; otherwise the host is resolved now and its addresses make
 * an implicit group (shared by every proxy_pass to the same host and port).
 */
static sl_int_t bind_group(sl_conf_t *cf, proxy_group_ref_t *ref)
{
    sl_url_t *u = &ref->url;
    sl_upstream_group_t *g = sl_upstream_group_find(cf, &u->host);

    if (g && u->no_port) {
        ref->target->group = g;
        return SL_OK;
    }
    if (g) {
        sl_log_error(SL_LOG_EMERG, cf->log, 0, "upstream \"%.*s\" may not have port %d in %s:%lu",
                     SL_STR_ARG(u->host), u->port, ref->file, (unsigned long) ref->line);
        return SL_ERROR;
    }
    if (u->naddrs == 0) {
        u->no_resolve = 0;
        if (sl_parse_url(cf->pool, u) != SL_OK) {
            sl_log_error(SL_LOG_EMERG, cf->log, 0, "%s in upstream \"%.*s\" in %s:%lu", u->err,
                         SL_STR_ARG(u->url), ref->file, (unsigned long) ref->line);
            return SL_ERROR;
        }
        ref->target->addrs = u->addrs;
        ref->target->naddrs = u->naddrs;
    }
    ref->target->group = sl_upstream_group_implicit(cf, u);
    return ref->target->group ? SL_OK : SL_ERROR;
}

static sl_int_t postconfiguration(sl_conf_t *cf)
{
    proxy_main_conf_t *pmcf = sl_http_conf_get_module_main_conf(cf, sl_http_proxy_module);
    proxy_group_ref_t *refs = pmcf->refs.elts;

    for (sl_uint_t i = 0; i < pmcf->refs.nelts; i++) {
        if (bind_group(cf, &refs[i]) != SL_OK) {
            return SL_ERROR;
        }
    }
    return SL_OK;
}

static sl_int_t var_proxy_host(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    proxy_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_proxy_module);

    /* as nginx: set once the request is proxied (empty when its url did not evaluate) */
    if (ctx == NULL || ctx->target == NULL) {
        v->not_found = 1;
        return SL_OK;
    }
    sl_str_t *s = data ? &ctx->target->port_text : &ctx->target->host_header;
    v->data = s->data;
    v->len = (unsigned) s->len;
    v->valid = 1;
    return SL_OK;
}

/* The client's X-Forwarded-For with $remote_addr appended, or $remote_addr alone. */
static sl_int_t var_add_x_forwarded_for(sl_http_request_t *r, sl_http_variable_value_t *v,
                                        uintptr_t data)
{
    sl_str_t *addr = &r->connection->addr_text;
    size_t len = addr->len;

    for (sl_table_elt_t *h = r->headers_in.x_forwarded_for; h; h = h->next) {
        len += h->value.len + 2;
    }
    u_char *p = sl_pnalloc(r->pool, len);
    if (p == NULL) {
        return SL_ERROR;
    }
    v->data = p;
    for (sl_table_elt_t *h = r->headers_in.x_forwarded_for; h; h = h->next) {
        p = mempcpy(p, h->value.data, h->value.len);
        *p++ = ',';
        *p++ = ' ';
    }
    p = mempcpy(p, addr->data, addr->len);
    v->len = (unsigned) (p - v->data);
    v->valid = 1;
    return SL_OK;
}

static sl_int_t preconfiguration(sl_conf_t *cf)
{
    static sl_http_variable_t vars[] = {
        { sl_string("proxy_host"), NULL, var_proxy_host, 0, SL_HTTP_VAR_NOCACHEABLE, 0 },
        { sl_string("proxy_port"), NULL, var_proxy_host, 1, SL_HTTP_VAR_NOCACHEABLE, 0 },
        { sl_string("proxy_add_x_forwarded_for"), NULL, var_add_x_forwarded_for, 0,
          SL_HTTP_VAR_NOCACHEABLE, 0 },
    };

    for (size_t i = 0; i < sl_nelems(vars); i++) {
        sl_http_variable_t *v = sl_http_add_variable(cf, &vars[i].name, vars[i].flags);
        if (v == NULL) {
            return SL_ERROR;
        }
        v->get_handler = vars[i].get_handler;
        v->data = vars[i].data;
    }
    return sl_upstream_add_variables(cf);
}
