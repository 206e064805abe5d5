/*
 * sl_proxy_module.c: the HTTP proxy module itself: its directives, the location's
 * configuration (create and merge), proxy_pass (the target, fixed or evaluated per request,
 * and the content handler that starts the upstream) and the $proxy_* variables.
 */
#include <stdio.h>

#include "sl_http_core_set.h"
#include "sl_pool.h"
#include "sl_http_cache.h"
#include "sl_proxy.h"
#include "sl_upstream_group.h"

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
    { sl_string("proxy_pass"), SL_HTTP_LOC_CONF | SL_HTTP_LIF_CONF | SL_HTTP_LMT_CONF | SL_CONF_TAKE1, set_proxy_pass, PLOC, 0, NULL },
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
    { sl_string("proxy_bind"), MSL | SL_CONF_TAKE12, set_proxy_bind, PLOC, 0, NULL },
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
    { sl_string("proxy_headers_hash_max_size"), MSL | SL_CONF_TAKE1, sl_conf_set_num_slot, PLOC, PF(headers_hash_max_size), NULL },
    { sl_string("proxy_headers_hash_bucket_size"), MSL | SL_CONF_TAKE1, sl_conf_set_num_slot, PLOC, PF(headers_hash_bucket_size), NULL },
    { sl_string("proxy_send_lowat"), MSL | SL_CONF_TAKE1, set_ignored_size, PLOC, 0, NULL },
    { sl_string("proxy_limit_rate"), MSL | SL_CONF_TAKE1, sl_http_set_complex_value_size_slot, PLOC, UF(limit_rate), NULL },
    { sl_string("proxy_store"), MSL | SL_CONF_TAKE1, sl_upstream_store_set, PLOC, UF(store), NULL },
    { sl_string("proxy_store_access"), MSL | SL_CONF_TAKE123, sl_upstream_store_access_set, PLOC, UF(store), NULL },
    { sl_string("proxy_cache_path"), SL_HTTP_MAIN_CONF | SL_CONF_2MORE, sl_http_cache_path_set, SL_HTTP_MAIN_CONF_OFFSET, 0, NULL },
    { sl_string("proxy_cache"), MSL | SL_CONF_TAKE1, sl_upstream_cache_set, PLOC, UF(cache), NULL },
    { sl_string("proxy_cache_key"), MSL | SL_CONF_TAKE1, sl_http_set_complex_value_slot, PLOC, UF(cache.key), NULL },
    { sl_string("proxy_cache_valid"), MSL | SL_CONF_1MORE, sl_upstream_cache_valid_set, PLOC, UF(cache.valid), NULL },
    { sl_string("proxy_cache_methods"), MSL | SL_CONF_1MORE, sl_conf_set_bitmask_slot, PLOC, UF(cache.methods), sl_upstream_cache_methods_masks },
    { sl_string("proxy_cache_min_uses"), MSL | SL_CONF_TAKE1, sl_conf_set_num_slot, PLOC, UF(cache.min_uses), NULL },
    { sl_string("proxy_cache_bypass"), MSL | SL_CONF_1MORE, sl_upstream_cache_predicate_set, PLOC, UF(cache.bypass), NULL },
    { sl_string("proxy_no_cache"), MSL | SL_CONF_1MORE, sl_upstream_cache_predicate_set, PLOC, UF(cache.no_cache), NULL },
    { sl_string("proxy_cache_convert_head"), MSL | SL_CONF_FLAG, sl_conf_set_flag_slot, PLOC, UF(cache.convert_head), NULL },
    { sl_string("proxy_cache_lock"), MSL | SL_CONF_FLAG, sl_conf_set_flag_slot, PLOC, UF(cache.lock), NULL },
    { sl_string("proxy_cache_lock_timeout"), MSL | SL_CONF_TAKE1, sl_conf_set_msec_slot, PLOC, UF(cache.lock_timeout), NULL },
    { sl_string("proxy_cache_lock_age"), MSL | SL_CONF_TAKE1, sl_conf_set_msec_slot, PLOC, UF(cache.lock_age), NULL },
    { sl_string("proxy_cache_use_stale"), MSL | SL_CONF_1MORE, sl_conf_set_bitmask_slot, PLOC, UF(cache.use_stale), sl_upstream_cache_use_stale_masks },
    { sl_string("proxy_cache_revalidate"), MSL | SL_CONF_FLAG, sl_conf_set_flag_slot, PLOC, UF(cache.revalidate), NULL },
    { sl_string("proxy_cache_background_update"), MSL | SL_CONF_FLAG, sl_conf_set_flag_slot, PLOC, UF(cache.background_update), NULL },
    { sl_string("proxy_cache_max_range_offset"), MSL | SL_CONF_TAKE1, sl_conf_set_off_slot, PLOC, UF(cache.max_range_offset), NULL },
    { sl_string("proxy_force_ranges"), MSL | SL_CONF_FLAG, sl_conf_set_flag_slot, PLOC, UF(cache.force_ranges), NULL },
    { sl_string("proxy_next_upstream"), MSL | SL_CONF_1MORE, sl_conf_set_bitmask_slot, PLOC, UF(next_upstream), next_upstream_masks },
    { sl_string("proxy_next_upstream_tries"), MSL | SL_CONF_TAKE1, sl_conf_set_num_slot, PLOC, UF(next_upstream_tries), NULL },
    { sl_string("proxy_next_upstream_timeout"), MSL | SL_CONF_TAKE1, sl_conf_set_msec_slot, PLOC, UF(next_upstream_timeout), NULL },
    { sl_string("proxy_redirect"), MSL | SL_CONF_TAKE12, sl_proxy_set_redirect, PLOC, PF(rewrite), NULL },
    { sl_string("proxy_cookie_domain"), MSL | SL_CONF_TAKE12, sl_proxy_set_cookie_rewrite, PLOC, PF(rewrite.cookie_domains), NULL },
    { sl_string("proxy_cookie_path"), MSL | SL_CONF_TAKE12, sl_proxy_set_cookie_rewrite, PLOC, PF(rewrite.cookie_paths), NULL },
    { sl_string("proxy_cookie_flags"), MSL | SL_CONF_1MORE, sl_proxy_set_cookie_flags, PLOC, PF(rewrite.cookie_flags), NULL },
    { sl_string("proxy_ssl_server_name"), MSL | SL_CONF_FLAG, sl_conf_set_flag_slot, PLOC, UF(ssl_server_name), NULL },
    { sl_string("proxy_ssl_name"), MSL | SL_CONF_TAKE1, sl__proxy_ssl_set_name, PLOC, 0, NULL },
    { sl_string("proxy_ssl_verify"), MSL | SL_CONF_FLAG, sl_conf_set_flag_slot, PLOC, UF(ssl_verify), NULL },
    { sl_string("proxy_ssl_verify_depth"), MSL | SL_CONF_TAKE1, sl_conf_set_num_slot, PLOC, PF(ssl.verify_depth), NULL },
    { sl_string("proxy_ssl_session_reuse"), MSL | SL_CONF_FLAG, sl_conf_set_flag_slot, PLOC, UF(ssl_session_reuse), NULL },
    { sl_string("proxy_ssl_protocols"), MSL | SL_CONF_1MORE, sl_conf_set_bitmask_slot, PLOC, PF(ssl.protocols), sl__proxy_ssl_protocols },
    { sl_string("proxy_ssl_ciphers"), MSL | SL_CONF_TAKE1, sl_conf_set_str_slot, PLOC, PF(ssl.ciphers), NULL },
    { sl_string("proxy_ssl_trusted_certificate"), MSL | SL_CONF_TAKE1, sl_conf_set_str_slot, PLOC, PF(ssl.trusted_certificate), NULL },
    { sl_string("proxy_ssl_crl"), MSL | SL_CONF_TAKE1, sl_conf_set_str_slot, PLOC, PF(ssl.crl), NULL },
    { sl_string("proxy_ssl_certificate"), MSL | SL_CONF_TAKE1, sl_conf_set_str_slot, PLOC, PF(ssl.certificate), NULL },
    { sl_string("proxy_ssl_certificate_key"), MSL | SL_CONF_TAKE1, sl_conf_set_str_slot, PLOC, PF(ssl.certificate_key), NULL },
    { sl_string("proxy_ssl_password_file"), MSL | SL_CONF_TAKE1, sl__proxy_ssl_set_password_file, PLOC, 0, NULL },
    { sl_string("proxy_ssl_conf_command"), MSL | SL_CONF_TAKE2, sl_conf_set_keyval_slot, PLOC, PF(ssl.conf_commands), NULL },
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
    sl__proxy_ssl_create_conf(plcf);
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
    plcf->upstream.limit_rate = SL_CONF_UNSET_PTR;
    plcf->http_version = SL_CONF_UNSET_UINT;
    plcf->set_headers = SL_CONF_UNSET_PTR;
    plcf->headers_hash_max_size = SL_CONF_UNSET;
    plcf->headers_hash_bucket_size = SL_CONF_UNSET;
    plcf->server_level = cf->cmd_type == SL_HTTP_MAIN_CONF;
    plcf->hide = SL_CONF_UNSET_PTR;
    plcf->socket_keepalive = SL_CONF_UNSET;
    plcf->request_buffering = SL_CONF_UNSET;
    plcf->pass = SL_CONF_UNSET_PTR;
    plcf->upstream.next_upstream_tries = SL_CONF_UNSET_UINT;
    plcf->upstream.next_upstream_timeout = SL_CONF_UNSET_MSEC;
    plcf->upstream.intercept_errors = SL_CONF_UNSET;
    sl_upstream_store_init_conf(&plcf->upstream.store);
    sl_upstream_cache_init_conf(&plcf->upstream.cache);
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
    sl_conf_merge_ptr_value(u->limit_rate, pu->limit_rate, NULL);
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

/* nginx builds the headers hashes of a server{} level, and of a location that sets
 * proxy_set_header, proxy_hide_header or proxy_pass_header itself (the others share the
 * level above's), with that level's sizes (ngx_http_proxy_merge_loc_conf). */
static sl_int_t check_headers_hash(sl_conf_t *cf, proxy_loc_conf_t *prev, proxy_loc_conf_t *conf)
{
    int own = conf->set_headers != SL_CONF_UNSET_PTR || conf->hide != SL_CONF_UNSET_PTR
              || conf->pass != SL_CONF_UNSET_PTR;

    sl_conf_merge_value(conf->headers_hash_max_size, prev->headers_hash_max_size, 512);
    sl_conf_merge_value(conf->headers_hash_bucket_size, prev->headers_hash_bucket_size, 64);
    if (!own && !conf->server_level) {
        return SL_OK;
    }
    return sl_http_check_hash_sizes(cf, "proxy_headers_hash", conf->headers_hash_max_size, 512,
                                    conf->headers_hash_bucket_size);
}

static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child)
{
    proxy_loc_conf_t *prev = parent, *conf = child;
    sl_upstream_conf_t *u = &conf->upstream, *pu = &prev->upstream;

    conf->prev = prev;
    sl_conf_merge_msec_value(u->connect_timeout, pu->connect_timeout, 60000);
    sl_conf_merge_msec_value(u->send_timeout, pu->send_timeout, 60000);
    sl_conf_merge_msec_value(u->read_timeout, pu->read_timeout, 60000);
    sl_conf_merge_size_value(u->buffer_size, pu->buffer_size, 4096);
    sl_conf_merge_value(u->pass_request_headers, pu->pass_request_headers, 1);
    sl_conf_merge_value(u->pass_request_body, pu->pass_request_body, 1);
    sl_conf_merge_value(u->ignore_client_abort, pu->ignore_client_abort, 0);
    sl_conf_merge_value(u->intercept_errors, pu->intercept_errors, 0);
    sl_upstream_store_merge(&u->store, &pu->store);
    if (sl_upstream_cache_merge(cf, &u->cache, &pu->cache, u) != SL_CONF_OK) {
        return SL_CONF_ERROR;
    }
    if (check_headers_hash(cf, prev, conf) != SL_OK) {
        return SL_CONF_ERROR;
    }
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
        conf->bind_value = prev->bind_value;
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
        || sl_proxy_rewrite_merge(cf, &prev->rewrite, &conf->rewrite) != SL_CONF_OK
        || sl__proxy_ssl_merge(cf, prev, conf) != SL_CONF_OK) {
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
    h->is_host = sl__proxy_header_is(&h->name, "host");
    h->is_connection = sl__proxy_header_is(&h->name, "connection");
    return sl_http_compile_value(cf, &value[2], &h->value) == SL_OK ? SL_CONF_OK : SL_CONF_ERROR;
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
    size_t skip = url.len > 7 && sl_strncasecmp(url.data, (u_char *) "http://", 7) == 0    ? 7
                  : url.len > 8 && sl_strncasecmp(url.data, (u_char *) "https://", 8) == 0 ? 8
                                                                                           : 0;
    if (skip == 0) {
        sl_log_error(SL_LOG_ERR, r->connection->log, 0, "invalid URL prefix in \"%.*s\"",
                     SL_STR_ARG(url));
        return SL_ERROR;
    }
    sl_url_t u;
    memset(&u, 0, sizeof(u));
    u.url.data = url.data + skip;
    u.url.len = url.len - skip;
    u.default_port = skip == 8 ? 443 : 80;
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
    if (t == NULL) {
        return SL_ERROR;
    }
    t->ssl = skip == 8;
    if (set_target(r->pool, &u, t) != SL_OK) {
        return SL_ERROR;
    }
    ctx->target = t;
    return SL_OK;
}

/* An if or limit_except block proxies as its location does (target, https and all), unless
 * it has a proxy_pass of its own, as nginx; a nested location does not. */
proxy_loc_conf_t *sl__proxy_loc_conf(sl_http_request_t *r)
{
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);
    proxy_loc_conf_t *own = r->loc_conf[sl_http_proxy_module.ctx_index];

    if (clcf->noname && !own->pass_set && own->prev) {
        return own->prev;
    }
    return own;
}

/*
 * proxy_bind: the local address of this request's upstream connections.  With variables,
 * the value is evaluated now: empty binds nothing, and one that is no address is logged
 * as nginx logs it and binds nothing.  SL_OK, or SL_ERROR (memory, a variable that failed).
 */
static sl_int_t set_local(sl_http_request_t *r, proxy_loc_conf_t *plcf, sl_upstream_t *u)
{
    sl_addr_t *addr = plcf->bind;
    sl_str_t text;

    if (plcf->bind_value) {
        if (sl_http_complex_value(r, plcf->bind_value, &text) != SL_OK) {
            return SL_ERROR;
        }
        if (text.len == 0) {
            return SL_OK;
        }
        addr = sl_pcalloc(r->pool, sizeof(sl_addr_t));
        if (addr == NULL) {
            return SL_ERROR;
        }
        if (sl_parse_addr_port(text.data, text.len, addr) != SL_OK) {
            sl_log_error(SL_LOG_ERR, r->connection->log, 0, "invalid local address \"%.*s\"",
                         SL_STR_ARG(text));
            return SL_OK;
        }
        addr->name = text;
    }
    if (addr) {
        u->peer.local = (struct sockaddr *) &addr->sockaddr;
        u->peer.local_socklen = addr->socklen;
    }
    return SL_OK;
}

static sl_int_t proxy_handler(sl_http_request_t *r)
{
    proxy_loc_conf_t *plcf = sl__proxy_loc_conf(r);

    if (!plcf->pass_set) {
        /* an if with proxy_pass matched, then another without under a location without */
        sl_log_error(SL_LOG_ALERT, r->connection->log, 0, "no upstream configuration");
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
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
    u->ssl = ctx->target->ssl;
    u->ssl_host = ctx->target->host;
    if (u->group == NULL && u->naddrs == 0) {
        /* a host name: the upstream finds its group, or gives up without a resolver */
        u->resolved.host = ctx->target->host;
        u->resolved.port = ctx->target->port;
        u->resolved.no_port = ctx->target->no_port;
    }
    u->create_request = sl__proxy_create_request;
    u->reinit_request = sl__proxy_reinit_request;
    u->process_header = sl__proxy_process_header;
    u->input_filter = sl__proxy_input_filter;
    u->pipe_input_filter = sl__proxy_pipe_filter;
    u->rewrite_header = sl_proxy_rewrite_active(&plcf->rewrite) ? sl__proxy_rewrite_header : NULL;
    if (set_local(r, plcf, u) != SL_OK) {
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    u->peer.so_keepalive = (int) plcf->socket_keepalive;
    int has_body = r->headers_in.content_length_n > 0 || r->headers_in.chunked;
    /* unknown length to an HTTP/1.0 upstream: nothing to frame it with, read it first */
    if (!plcf->request_buffering && has_body && plcf->upstream.pass_request_body && !plcf->body
        && (!r->headers_in.chunked || plcf->http_version == SL_HTTP_VERSION_11)) {
        r->request_body_no_buffering = 1;
    }
    sl_int_t rc = sl_http_read_client_request_body(r, sl__proxy_body_ready);
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

/*
 * proxy_bind address | $variables | off, as nginx: an IPv4 or IPv6 literal with an optional
 * port (no host name; a port is bound as given, else the kernel picks one at connect
 * time).  "transparent" would bind a foreign address, which needs privileges sluice's
 * workers do not keep: refused.
 */
static char *set_proxy_bind(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    proxy_loc_conf_t *plcf = conf;
    sl_str_t *value = cf->args->elts;

    (void) cmd;
    if (plcf->bind_set) {
        return "is duplicate";
    }
    plcf->bind_set = 1;
    if (cf->args->nelts == 2 && sl_str_eq_cstr(&value[1], "off")) {
        return SL_CONF_OK;
    }
    if (cf->args->nelts == 3) {
        if (!sl_str_eq_cstr(&value[2], "transparent")) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid parameter \"%.*s\"",
                              SL_STR_ARG(value[2]));
            return SL_CONF_ERROR;
        }
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "\"proxy_bind ... transparent\" is not supported by sluice (it needs "
                          "root privileges in the workers)");
        return SL_CONF_ERROR;
    }
    if (sl_http_script_variables_count(&value[1])) {
        plcf->bind_value = sl_palloc(cf->pool, sizeof(sl_http_complex_value_t));
        if (plcf->bind_value == NULL
            || sl_http_compile_value(cf, &value[1], plcf->bind_value) != SL_OK) {
            return SL_CONF_ERROR;
        }
        return SL_CONF_OK;
    }
    plcf->bind = sl_pcalloc(cf->pool, sizeof(sl_addr_t));
    if (plcf->bind == NULL) {
        return SL_CONF_ERROR;
    }
    if (sl_parse_addr_port(value[1].data, value[1].len, plcf->bind) != SL_OK) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid address \"%.*s\"", SL_STR_ARG(value[1]));
        return SL_CONF_ERROR;
    }
    plcf->bind->name = value[1];
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
    int default_port = t->ssl ? 443 : 80;
    int n = u->no_port || u->port == default_port
                ? snprintf((char *) t->host_header.data, len, "%s%.*s%s", open, SL_STR_ARG(u->host),
                           close)
                : snprintf((char *) t->host_header.data, len, "%s%.*s%s:%d", open,
                           SL_STR_ARG(u->host), close, u->port);
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
        /* the variables may give https:// */
        plcf->ssl.wanted = 1;
        return SL_CONF_OK;
    }
    size_t skip =
        value[1].len >= 8 && sl_strncasecmp(value[1].data, (u_char *) "https://", 8) == 0  ? 8
        : value[1].len >= 7 && sl_strncasecmp(value[1].data, (u_char *) "http://", 7) == 0 ? 7
                                                                                           : 0;
    if (skip == 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid URL prefix");
        return SL_CONF_ERROR;
    }
    plcf->target.ssl = skip == 8;
    plcf->ssl.wanted = skip == 8;
    proxy_main_conf_t *pmcf = sl_http_conf_get_module_main_conf(cf, sl_http_proxy_module);
    proxy_group_ref_t *ref = sl_array_push(&pmcf->refs);
    if (ref == NULL) {
        return SL_CONF_ERROR;
    }
    sl_url_t *u = &ref->url;
    memset(u, 0, sizeof(*u));
    u->url.data = value[1].data + skip;
    u->url.len = value[1].len - skip;
    u->default_port = skip == 8 ? 443 : 80;
    /* a name may be an upstream{} block defined further down: resolved once all is read */
    u->no_resolve = 1;
    if (sl_parse_url(cf->pool, u) != SL_OK) {
        if (u->url.len == 0) {
            /* "http://" alone: nginx's words */
            u->err = "no host";
        }
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
    if (u->uri.len && (clcf->regex || clcf->named || clcf->noname)) {
        /* no prefix to replace: nginx's refusal, word for word */
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "\"proxy_pass\" cannot have URI part in location given by regular "
                          "expression, or inside named location, or inside \"if\" statement, or "
                          "inside \"limit_except\" block");
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
