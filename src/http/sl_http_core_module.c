/*
 * sl_http_core_module.c: server{}, location{}, listen and the connection-level settings of
 * the http core.
 */
#include <unistd.h>

#include "sl_http.h"
#include "sl_http_core_set.h"
#include "sl_http_headers_in.h"
#include "sl_http_locations.h"
#include "sl_http_output.h"
#include "sl_http_variables.h"
#include "sl_pool.h"

static void *create_main_conf(sl_conf_t *cf);
static char *init_main_conf(sl_conf_t *cf, void *conf);
static void *create_srv_conf(sl_conf_t *cf);
static char *merge_srv_conf(sl_conf_t *cf, void *parent, void *child);
static void *create_loc_conf(sl_conf_t *cf);
static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child);
static char *server_block(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *location_block(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *set_listen(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *limit_except_block(sl_conf_t *cf, sl_command_t *cmd, void *conf);

#define SRV SL_HTTP_SRV_CONF_OFFSET
#define LOC SL_HTTP_LOC_CONF_OFFSET
#define MSL (SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF)
#define MS (SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF)
#define MAIN SL_HTTP_MAIN_CONF_OFFSET
#define MAINF(f) offsetof(sl_http_core_main_conf_t, f)
#define SRVF(f) offsetof(sl_http_core_srv_conf_t, f)
#define LOCF(f) offsetof(sl_http_core_loc_conf_t, f)

static sl_conf_enum_t satisfy_values[] = {
    { sl_string("all"), SL_HTTP_SATISFY_ALL },
    { sl_string("any"), SL_HTTP_SATISFY_ANY },
    { sl_null_string, 0 },
};

static sl_conf_enum_t body_in_file_only_values[] = {
    { sl_string("off"), SL_HTTP_BODY_FILE_OFF },
    { sl_string("on"), SL_HTTP_BODY_FILE_ON },
    { sl_string("clean"), SL_HTTP_BODY_FILE_CLEAN },
    { sl_null_string, 0 },
};

static sl_conf_enum_t lingering_close_values[] = {
    { sl_string("off"), SL_HTTP_LINGERING_OFF },
    { sl_string("on"), SL_HTTP_LINGERING_ON },
    { sl_string("always"), SL_HTTP_LINGERING_ALWAYS },
    { sl_null_string, 0 },
};

static sl_conf_enum_t server_tokens_values[] = {
    { sl_string("off"), SL_HTTP_SERVER_TOKENS_OFF },
    { sl_string("on"), SL_HTTP_SERVER_TOKENS_ON },
    { sl_string("build"), SL_HTTP_SERVER_TOKENS_BUILD },
    { sl_null_string, 0 },
};

// clang-format off
static sl_command_t http_core_commands[] = {
    { sl_string("server"), SL_HTTP_MAIN_CONF | SL_CONF_BLOCK | SL_CONF_NOARGS, server_block, 0, 0, NULL },
    { sl_string("location"), SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF | SL_CONF_BLOCK | SL_CONF_TAKE12, location_block, SRV, 0, NULL },
    { sl_string("limit_except"), SL_HTTP_LOC_CONF | SL_CONF_BLOCK | SL_CONF_1MORE, limit_except_block, LOC, 0, NULL },
    { sl_string("listen"), SL_HTTP_SRV_CONF | SL_CONF_1MORE, set_listen, SRV, 0, NULL },
    { sl_string("server_name"), SL_HTTP_SRV_CONF | SL_CONF_1MORE, sl_http_set_server_name, SRV, 0, NULL },
    { sl_string("client_header_timeout"), MS | SL_CONF_TAKE1, sl_conf_set_msec_slot, SRV, SRVF(client_header_timeout), NULL },
    { sl_string("client_header_buffer_size"), MS | SL_CONF_TAKE1, sl_conf_set_size_slot, SRV, SRVF(client_header_buffer_size), NULL },
    { sl_string("large_client_header_buffers"), MS | SL_CONF_TAKE2, sl_conf_set_bufs_slot, SRV, SRVF(large_client_header_buffers), NULL },
    { sl_string("ignore_invalid_headers"), MS | SL_CONF_FLAG, sl_conf_set_flag_slot, SRV, SRVF(ignore_invalid_headers), NULL },
    { sl_string("merge_slashes"), MS | SL_CONF_FLAG, sl_conf_set_flag_slot, SRV, SRVF(merge_slashes), NULL },
    { sl_string("underscores_in_headers"), MS | SL_CONF_FLAG, sl_conf_set_flag_slot, SRV, SRVF(underscores_in_headers), NULL },
    { sl_string("root"), MSL | SL_HTTP_LIF_CONF | SL_CONF_TAKE1, sl_http_set_root, LOC, 0, NULL },
    { sl_string("alias"), SL_HTTP_LOC_CONF | SL_CONF_TAKE1, sl_http_set_root, LOC, 0, NULL },
    { sl_string("default_type"), MSL | SL_CONF_TAKE1, sl_conf_set_str_slot, LOC, LOCF(default_type), NULL },
    { sl_string("types"), MSL | SL_CONF_BLOCK | SL_CONF_NOARGS, sl_http_types_block, LOC, 0, NULL },
    { sl_string("client_max_body_size"), MSL | SL_CONF_TAKE1, sl_conf_set_off_slot, LOC, LOCF(client_max_body_size), NULL },
    { sl_string("client_body_buffer_size"), MSL | SL_CONF_TAKE1, sl_conf_set_size_slot, LOC, LOCF(client_body_buffer_size), NULL },
    { sl_string("client_body_timeout"), MSL | SL_CONF_TAKE1, sl_conf_set_msec_slot, LOC, LOCF(client_body_timeout), NULL },
    { sl_string("client_body_temp_path"), MSL | SL_CONF_TAKE1234, sl_conf_set_path_slot, LOC, LOCF(client_body_temp_path), NULL },
    { sl_string("client_body_in_file_only"), MSL | SL_CONF_TAKE1, sl_conf_set_enum_slot, LOC, LOCF(client_body_in_file_only), body_in_file_only_values },
    { sl_string("client_body_in_single_buffer"), MSL | SL_CONF_FLAG, sl_conf_set_flag_slot, LOC, LOCF(client_body_in_single_buffer), NULL },
    { sl_string("send_timeout"), MSL | SL_CONF_TAKE1, sl_conf_set_msec_slot, LOC, LOCF(send_timeout), NULL },
    { sl_string("satisfy"), MSL | SL_CONF_TAKE1, sl_conf_set_enum_slot, LOC, LOCF(satisfy), satisfy_values },
    { sl_string("auth_delay"), MSL | SL_CONF_TAKE1, sl_conf_set_msec_slot, LOC, LOCF(auth_delay), NULL },
    { sl_string("keepalive_timeout"), MSL | SL_CONF_TAKE12, sl_http_set_keepalive, LOC, 0, NULL },
    { sl_string("keepalive_requests"), MSL | SL_CONF_TAKE1, sl_conf_set_num_slot, LOC, LOCF(keepalive_requests), NULL },
    { sl_string("keepalive_time"), MSL | SL_CONF_TAKE1, sl_conf_set_msec_slot, LOC, LOCF(keepalive_time), NULL },
    { sl_string("reset_timedout_connection"), MSL | SL_CONF_FLAG, sl_conf_set_flag_slot, LOC, LOCF(reset_timedout_connection), NULL },
    { sl_string("lingering_close"), MSL | SL_CONF_TAKE1, sl_conf_set_enum_slot, LOC, LOCF(lingering_close), lingering_close_values },
    { sl_string("lingering_time"), MSL | SL_CONF_TAKE1, sl_conf_set_msec_slot, LOC, LOCF(lingering_time), NULL },
    { sl_string("lingering_timeout"), MSL | SL_CONF_TAKE1, sl_conf_set_msec_slot, LOC, LOCF(lingering_timeout), NULL },
    { sl_string("server_tokens"), MSL | SL_CONF_TAKE1, sl_conf_set_enum_slot, LOC, LOCF(server_tokens), server_tokens_values },
    { sl_string("etag"), MSL | SL_CONF_FLAG, sl_conf_set_flag_slot, LOC, LOCF(etag), NULL },
    { sl_string("sendfile"), MSL | SL_HTTP_LIF_CONF | SL_CONF_FLAG, sl_conf_set_flag_slot, LOC, LOCF(sendfile), NULL },
    { sl_string("tcp_nopush"), MSL | SL_CONF_FLAG, sl_conf_set_flag_slot, LOC, LOCF(tcp_nopush), NULL },
    { sl_string("tcp_nodelay"), MSL | SL_CONF_FLAG, sl_conf_set_flag_slot, LOC, LOCF(tcp_nodelay), NULL },
    { sl_string("chunked_transfer_encoding"), MSL | SL_CONF_FLAG, sl_conf_set_flag_slot, LOC, LOCF(chunked_transfer_encoding), NULL },
    { sl_string("log_not_found"), MSL | SL_CONF_FLAG, sl_conf_set_flag_slot, LOC, LOCF(log_not_found), NULL },
    { sl_string("log_subrequest"), MSL | SL_CONF_FLAG, sl_conf_set_flag_slot, LOC, LOCF(log_subrequest), NULL },
    { sl_string("absolute_redirect"), MSL | SL_CONF_FLAG, sl_conf_set_flag_slot, LOC, LOCF(absolute_redirect), NULL },
    { sl_string("port_in_redirect"), MSL | SL_CONF_FLAG, sl_conf_set_flag_slot, LOC, LOCF(port_in_redirect), NULL },
    { sl_string("server_name_in_redirect"), MSL | SL_CONF_FLAG, sl_conf_set_flag_slot, LOC, LOCF(server_name_in_redirect), NULL },
    { sl_string("limit_rate"), MSL | SL_HTTP_LIF_CONF | SL_CONF_TAKE1, sl_http_set_complex_value_size_slot, LOC, LOCF(limit_rate), NULL },
    { sl_string("limit_rate_after"), MSL | SL_HTTP_LIF_CONF | SL_CONF_TAKE1, sl_http_set_complex_value_size_slot, LOC, LOCF(limit_rate_after), NULL },
    { sl_string("postpone_output"), MSL | SL_CONF_TAKE1, sl_conf_set_size_slot, LOC, LOCF(postpone_output), NULL },
    { sl_string("subrequest_output_buffer_size"), MSL | SL_CONF_TAKE1, sl_conf_set_size_slot, LOC, LOCF(subrequest_output_buffer_size), NULL },
    { sl_string("internal"), SL_HTTP_LOC_CONF | SL_CONF_NOARGS, sl_http_set_internal, LOC, 0, NULL },
    { sl_string("error_page"), MSL | SL_HTTP_LIF_CONF | SL_CONF_2MORE, sl_http_set_error_page, LOC, 0, NULL },
    { sl_string("error_log"), MSL | SL_CONF_1MORE, sl_http_set_error_log, LOC, 0, NULL },
    /* accepted as nginx takes them; what sluice does with each: docs/directives.md */
    { sl_string("sendfile_max_chunk"), MSL | SL_CONF_TAKE1, sl_conf_set_size_slot, LOC, LOCF(sendfile_max_chunk), NULL },
    { sl_string("output_buffers"), MSL | SL_CONF_TAKE2, sl_conf_set_bufs_slot, LOC, LOCF(output_buffers), NULL },
    { sl_string("aio"), MSL | SL_CONF_TAKE1, sl_http_set_aio, LOC, 0, NULL },
    { sl_string("types_hash_max_size"), MSL | SL_CONF_TAKE1, sl_conf_set_num_slot, LOC, LOCF(types_hash_max_size), NULL },
    { sl_string("types_hash_bucket_size"), MSL | SL_CONF_TAKE1, sl_conf_set_num_slot, LOC, LOCF(types_hash_bucket_size), NULL },
    { sl_string("server_names_hash_max_size"), SL_HTTP_MAIN_CONF | SL_CONF_TAKE1, sl_conf_set_num_slot, MAIN, MAINF(server_names_hash_max_size), NULL },
    { sl_string("server_names_hash_bucket_size"), SL_HTTP_MAIN_CONF | SL_CONF_TAKE1, sl_conf_set_num_slot, MAIN, MAINF(server_names_hash_bucket_size), NULL },
    { sl_string("variables_hash_max_size"), SL_HTTP_MAIN_CONF | SL_CONF_TAKE1, sl_conf_set_num_slot, MAIN, MAINF(variables_hash_max_size), NULL },
    { sl_string("variables_hash_bucket_size"), SL_HTTP_MAIN_CONF | SL_CONF_TAKE1, sl_conf_set_num_slot, MAIN, MAINF(variables_hash_bucket_size), NULL },
    sl_null_command,
};
// clang-format on

static sl_int_t core_preconfiguration(sl_conf_t *cf);
static sl_int_t core_postconfiguration(sl_conf_t *cf);

static sl_http_module_t http_core_module_ctx = {
    core_preconfiguration, core_postconfiguration, create_main_conf, init_main_conf,
    create_srv_conf,       merge_srv_conf,         create_loc_conf,  merge_loc_conf,
};

sl_module_t sl_http_core_module = {
    "http_core", 0, 0, SL_HTTP_MODULE, &http_core_module_ctx, http_core_commands, NULL, NULL, NULL,
};

static void *create_main_conf(sl_conf_t *cf)
{
    sl_http_core_main_conf_t *cmcf = sl_pcalloc(cf->pool, sizeof(sl_http_core_main_conf_t));

    if (cmcf == NULL
        || sl_array_init(&cmcf->servers, cf->pool, 4, sizeof(sl_http_core_srv_conf_t *)) != SL_OK) {
        return NULL;
    }
    cmcf->server_names_hash_max_size = SL_CONF_UNSET;
    cmcf->server_names_hash_bucket_size = SL_CONF_UNSET;
    cmcf->variables_hash_max_size = SL_CONF_UNSET;
    cmcf->variables_hash_bucket_size = SL_CONF_UNSET;
    return cmcf;
}

static char *init_main_conf(sl_conf_t *cf, void *conf)
{
    return SL_CONF_OK;
}

static sl_int_t core_preconfiguration(sl_conf_t *cf)
{
    sl_http_core_main_conf_t *cmcf = sl_http_conf_get_module_main_conf(cf, sl_http_core_module);

    for (sl_uint_t i = 0; i < SL_HTTP_NPHASES; i++) {
        if (sl_array_init(&cmcf->phases[i], cf->pool, 2, sizeof(sl_http_handler_pt)) != SL_OK) {
            return SL_ERROR;
        }
    }
    return sl_http_variables_add_core_vars(cf);
}

/* Runs before the other modules' postconfiguration (the core module is first in the
 * list), so filters installed later run before the core's. */
static sl_int_t core_postconfiguration(sl_conf_t *cf)
{
    sl_http_core_main_conf_t *cmcf = sl_http_conf_get_module_main_conf(cf, sl_http_core_module);
    sl_http_core_srv_conf_t **servers = cmcf->servers.elts;

    sl_http_output_init();
    /* nginx builds its variables hash at the end of every http block */
    if (sl_http_check_hash_sizes(cf, "variables_hash", cmcf->variables_hash_max_size, 1024,
                                 cmcf->variables_hash_bucket_size)
        != SL_OK) {
        return SL_ERROR;
    }
    if (sl_http_headers_in_init(cf) != SL_OK) {
        return SL_ERROR;
    }
    for (sl_uint_t i = 0; i < cmcf->servers.nelts; i++) {
        sl_http_core_loc_conf_t *clcf = servers[i]->ctx->loc_conf[sl_http_core_module.ctx_index];
        if (sl_http_init_locations(cf, clcf) != SL_OK) {
            return SL_ERROR;
        }
    }
    return SL_OK;
}

static void *create_srv_conf(sl_conf_t *cf)
{
    sl_http_core_srv_conf_t *cscf = sl_pcalloc(cf->pool, sizeof(sl_http_core_srv_conf_t));

    if (cscf == NULL
        || sl_array_init(&cscf->server_names, cf->pool, 2, sizeof(sl_http_server_name_t))
               != SL_OK) {
        return NULL;
    }
    cscf->client_header_timeout = SL_CONF_UNSET_MSEC;
    cscf->client_header_buffer_size = SL_CONF_UNSET_SIZE;
    cscf->ignore_invalid_headers = SL_CONF_UNSET;
    cscf->merge_slashes = SL_CONF_UNSET;
    cscf->underscores_in_headers = SL_CONF_UNSET;
    if (cf->conf_file) {
        cscf->file_name = (const char *) cf->conf_file->file.name.data;
        cscf->line = cf->conf_file->line;
    }
    return cscf;
}

/* A server{} without listen listens on *:80, or *:8000 when not started as root (nginx). */
static char *add_default_listen(sl_conf_t *cf, sl_http_core_srv_conf_t *cscf)
{
    sl_http_listen_opt_t opt;
    struct sockaddr_in *sin = &opt.sockaddr.sin;

    memset(&opt, 0, sizeof(opt));
    sin->sin_family = AF_INET;
    sin->sin_port = htons(getuid() == 0 ? 80 : 8000);
    sin->sin_addr.s_addr = INADDR_ANY;
    opt.socklen = sizeof(struct sockaddr_in);
    opt.wildcard = 1;
    opt.backlog = 511;
    opt.rcvbuf = -1;
    opt.sndbuf = -1;
    opt.ipv6only = 1;
    u_char text[64];
    opt.addr_text.len = sl_addr_ntop(&opt.sockaddr.sa, opt.socklen, text, sizeof(text), 1);
    opt.addr_text.data = sl_pnalloc(cf->pool, opt.addr_text.len);
    if (opt.addr_text.data == NULL) {
        return SL_CONF_ERROR;
    }
    memcpy(opt.addr_text.data, text, opt.addr_text.len);
    return sl_http_add_listen(cf, cscf, &opt) == SL_OK ? SL_CONF_OK : SL_CONF_ERROR;
}

static char *merge_srv_conf(sl_conf_t *cf, void *parent, void *child)
{
    sl_http_core_srv_conf_t *prev = parent;
    sl_http_core_srv_conf_t *conf = child;

    sl_conf_merge_msec_value(conf->client_header_timeout, prev->client_header_timeout, 60000);
    sl_conf_merge_size_value(conf->client_header_buffer_size, prev->client_header_buffer_size,
                             1024);
    sl_conf_merge_bufs_value(conf->large_client_header_buffers, prev->large_client_header_buffers,
                             4, 8192);
    if (conf->large_client_header_buffers.size < conf->client_header_buffer_size) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "the \"large_client_header_buffers\" size must be equal to or "
                          "greater than \"client_header_buffer_size\"");
        return SL_CONF_ERROR;
    }
    sl_conf_merge_value(conf->ignore_invalid_headers, prev->ignore_invalid_headers, 1);
    sl_conf_merge_value(conf->merge_slashes, prev->merge_slashes, 1);
    sl_conf_merge_value(conf->underscores_in_headers, prev->underscores_in_headers, 0);
    if (conf->server_names.nelts == 0) {
        sl_str_set(&conf->server_name, "");
    }
    if (!conf->listen && conf->ctx) {
        return add_default_listen(cf, conf);
    }
    return SL_CONF_OK;
}

static void *create_loc_conf(sl_conf_t *cf)
{
    sl_http_core_loc_conf_t *clcf = sl_pcalloc(cf->pool, sizeof(sl_http_core_loc_conf_t));

    if (clcf == NULL) {
        return NULL;
    }
    clcf->types = SL_CONF_UNSET_PTR;
    clcf->types_hash_max_size = SL_CONF_UNSET;
    clcf->types_hash_bucket_size = SL_CONF_UNSET;
    clcf->sendfile_max_chunk = SL_CONF_UNSET_SIZE;
    clcf->aio = SL_CONF_UNSET;
    clcf->error_pages = SL_CONF_UNSET_PTR;
    clcf->client_max_body_size = SL_CONF_UNSET;
    clcf->client_body_buffer_size = SL_CONF_UNSET_SIZE;
    clcf->client_body_timeout = SL_CONF_UNSET_MSEC;
    clcf->client_body_in_file_only = SL_CONF_UNSET_UINT;
    clcf->client_body_in_single_buffer = SL_CONF_UNSET;
    clcf->send_timeout = SL_CONF_UNSET_MSEC;
    clcf->satisfy = SL_CONF_UNSET_UINT;
    clcf->auth_delay = SL_CONF_UNSET_MSEC;
    clcf->keepalive_timeout = SL_CONF_UNSET_MSEC;
    clcf->keepalive_header = SL_CONF_UNSET;
    clcf->keepalive_requests = SL_CONF_UNSET;
    clcf->keepalive_time = SL_CONF_UNSET_MSEC;
    clcf->lingering_time = SL_CONF_UNSET_MSEC;
    clcf->lingering_timeout = SL_CONF_UNSET_MSEC;
    clcf->lingering_close = SL_CONF_UNSET_UINT;
    clcf->server_tokens = SL_CONF_UNSET_UINT;
    clcf->reset_timedout_connection = SL_CONF_UNSET;
    clcf->etag = SL_CONF_UNSET;
    clcf->sendfile = SL_CONF_UNSET;
    clcf->tcp_nopush = SL_CONF_UNSET;
    clcf->tcp_nodelay = SL_CONF_UNSET;
    clcf->chunked_transfer_encoding = SL_CONF_UNSET;
    clcf->log_not_found = SL_CONF_UNSET;
    clcf->log_subrequest = SL_CONF_UNSET;
    clcf->absolute_redirect = SL_CONF_UNSET;
    clcf->port_in_redirect = SL_CONF_UNSET;
    clcf->server_name_in_redirect = SL_CONF_UNSET;
    clcf->limit_rate = SL_CONF_UNSET_PTR;
    clcf->limit_rate_after = SL_CONF_UNSET_PTR;
    clcf->postpone_output = SL_CONF_UNSET_SIZE;
    clcf->subrequest_output_buffer_size = SL_CONF_UNSET_SIZE;
    return clcf;
}

static void merge_timeouts(sl_http_core_loc_conf_t *prev, sl_http_core_loc_conf_t *conf)
{
    sl_conf_merge_msec_value(conf->client_body_timeout, prev->client_body_timeout, 60000);
    sl_conf_merge_msec_value(conf->send_timeout, prev->send_timeout, 60000);
    sl_conf_merge_uint_value(conf->satisfy, prev->satisfy, SL_HTTP_SATISFY_ALL);
    sl_conf_merge_msec_value(conf->auth_delay, prev->auth_delay, 0);
    sl_conf_merge_msec_value(conf->keepalive_timeout, prev->keepalive_timeout, 75000);
    sl_conf_merge_value(conf->keepalive_header, prev->keepalive_header, 0);
    sl_conf_merge_value(conf->keepalive_requests, prev->keepalive_requests, 1000);
    sl_conf_merge_msec_value(conf->keepalive_time, prev->keepalive_time, 3600000);
    sl_conf_merge_msec_value(conf->lingering_time, prev->lingering_time, 30000);
    sl_conf_merge_msec_value(conf->lingering_timeout, prev->lingering_timeout, 5000);
}

static void merge_flags(sl_http_core_loc_conf_t *prev, sl_http_core_loc_conf_t *conf)
{
    sl_conf_merge_uint_value(conf->lingering_close, prev->lingering_close, SL_HTTP_LINGERING_ON);
    sl_conf_merge_uint_value(conf->server_tokens, prev->server_tokens, SL_HTTP_SERVER_TOKENS_ON);
    sl_conf_merge_value(conf->reset_timedout_connection, prev->reset_timedout_connection, 0);
    sl_conf_merge_value(conf->etag, prev->etag, 1);
    sl_conf_merge_value(conf->sendfile, prev->sendfile, 0);
    sl_conf_merge_value(conf->tcp_nopush, prev->tcp_nopush, 0);
    sl_conf_merge_value(conf->tcp_nodelay, prev->tcp_nodelay, 1);
    sl_conf_merge_value(conf->chunked_transfer_encoding, prev->chunked_transfer_encoding, 1);
    sl_conf_merge_value(conf->log_not_found, prev->log_not_found, 1);
    sl_conf_merge_value(conf->log_subrequest, prev->log_subrequest, 0);
    sl_conf_merge_value(conf->absolute_redirect, prev->absolute_redirect, 1);
    sl_conf_merge_value(conf->port_in_redirect, prev->port_in_redirect, 1);
    sl_conf_merge_value(conf->server_name_in_redirect, prev->server_name_in_redirect, 0);
}

/*
 * nginx builds a level's types hash when it has a types{} of its own, and at server level
 * (the http level's is never built), with that level's sizes; a location without types{}
 * shares the built hash of the level above.  A server's clcf is the one without loc_conf.
 */
static sl_int_t check_types_hash(sl_conf_t *cf, sl_http_core_loc_conf_t *prev,
                                 sl_http_core_loc_conf_t *conf)
{
    sl_conf_merge_value(conf->types_hash_max_size, prev->types_hash_max_size, 1024);
    sl_conf_merge_value(conf->types_hash_bucket_size, prev->types_hash_bucket_size, 64);
    if (conf->types == SL_CONF_UNSET_PTR && conf->loc_conf != NULL) {
        return SL_OK;
    }
    return sl_http_check_hash_sizes(cf, "types_hash", conf->types_hash_max_size, 1024,
                                    conf->types_hash_bucket_size);
}

static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child)
{
    sl_http_core_loc_conf_t *prev = parent;
    sl_http_core_loc_conf_t *conf = child;

    if (conf->root.data == NULL && conf->alias.data == NULL) {
        /* nginx inherits an alias as it inherits a root, with the prefix it replaces */
        conf->root = prev->root;
        conf->alias = prev->alias;
        conf->alias_len = prev->alias_len;
        if (conf->root.data == NULL && conf->alias.data == NULL) {
            sl_str_set(&conf->root, "html");
            if (sl_conf_full_name(cf->cycle, &conf->root, 0) != SL_OK) {
                return SL_CONF_ERROR;
            }
        }
    }
    sl_conf_merge_str_value(conf->default_type, prev->default_type, "text/plain");
    if (check_types_hash(cf, prev, conf) != SL_OK) {
        return SL_CONF_ERROR;
    }
    if (sl_http_merge_types(cf, &conf->types, &conf->types_hash, prev->types, &prev->types_hash)
        != SL_OK) {
        return SL_CONF_ERROR;
    }
    sl_conf_merge_off_value(conf->client_max_body_size, prev->client_max_body_size, 1024 * 1024);
    sl_conf_merge_size_value(conf->client_body_buffer_size, prev->client_body_buffer_size, 16384);
    sl_conf_merge_uint_value(conf->client_body_in_file_only, prev->client_body_in_file_only,
                             SL_HTTP_BODY_FILE_OFF);
    sl_conf_merge_value(conf->client_body_in_single_buffer, prev->client_body_in_single_buffer, 0);
    if (sl_conf_merge_path_value(cf, &conf->client_body_temp_path, prev->client_body_temp_path,
                                 "client_body_temp")
        != SL_CONF_OK) {
        return SL_CONF_ERROR;
    }
    merge_timeouts(prev, conf);
    merge_flags(prev, conf);
    sl_conf_merge_ptr_value(conf->limit_rate, prev->limit_rate, NULL);
    sl_conf_merge_ptr_value(conf->limit_rate_after, prev->limit_rate_after, NULL);
    sl_conf_merge_size_value(conf->postpone_output, prev->postpone_output, 1460);
    sl_conf_merge_size_value(conf->sendfile_max_chunk, prev->sendfile_max_chunk, 2 * 1024 * 1024);
    sl_conf_merge_bufs_value(conf->output_buffers, prev->output_buffers, 2, 32768);
    sl_conf_merge_value(conf->aio, prev->aio, 0);
    sl_conf_merge_size_value(conf->subrequest_output_buffer_size,
                             prev->subrequest_output_buffer_size, sl_pagesize());
    sl_conf_merge_ptr_value(conf->error_pages, prev->error_pages, NULL);
    if (conf->error_log == NULL) {
        conf->error_log = prev->error_log;
    }
    return SL_CONF_OK;
}

/* A new context sharing main_conf with the enclosing one, with its own srv/loc arrays. */
static sl_http_conf_ctx_t *new_ctx(sl_conf_t *cf, int new_srv)
{
    sl_http_conf_ctx_t *parent = cf->ctx;
    sl_http_conf_ctx_t *ctx = sl_pcalloc(cf->pool, sizeof(sl_http_conf_ctx_t));
    sl_uint_t n = sl_count_modules(cf->cycle, SL_HTTP_MODULE);

    if (ctx == NULL) {
        return NULL;
    }
    ctx->main_conf = parent->main_conf;
    ctx->srv_conf = new_srv ? sl_pcalloc(cf->pool, n * sizeof(void *)) : parent->srv_conf;
    ctx->loc_conf = sl_pcalloc(cf->pool, n * sizeof(void *));
    if (ctx->srv_conf == NULL || ctx->loc_conf == NULL) {
        return NULL;
    }
    for (sl_uint_t i = 0; i < cf->cycle->modules_n; i++) {
        sl_module_t *m = cf->cycle->modules[i];
        sl_http_module_t *hm = m->ctx;
        sl_uint_t mi = m->ctx_index;

        if (m->type != SL_HTTP_MODULE) {
            continue;
        }
        if (new_srv && hm->create_srv_conf && !(ctx->srv_conf[mi] = hm->create_srv_conf(cf))) {
            return NULL;
        }
        if (hm->create_loc_conf && !(ctx->loc_conf[mi] = hm->create_loc_conf(cf))) {
            return NULL;
        }
    }
    return ctx;
}

static char *parse_block(sl_conf_t *cf, sl_http_conf_ctx_t *ctx, sl_uint_t cmd_type)
{
    sl_conf_t saved = *cf;

    cf->ctx = ctx;
    cf->cmd_type = cmd_type;
    char *rv = sl_conf_parse(cf, NULL);
    *cf = saved;
    return rv;
}

static char *server_block(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_http_conf_ctx_t *ctx = new_ctx(cf, 1);

    if (ctx == NULL) {
        return SL_CONF_ERROR;
    }
    sl_http_core_srv_conf_t *cscf = ctx->srv_conf[sl_http_core_module.ctx_index];
    cscf->ctx = ctx;
    sl_http_core_main_conf_t *cmcf = ctx->main_conf[sl_http_core_module.ctx_index];
    sl_http_core_srv_conf_t **slot = sl_array_push(&cmcf->servers);
    if (slot == NULL) {
        return SL_CONF_ERROR;
    }
    *slot = cscf;
    return parse_block(cf, ctx, SL_HTTP_SRV_CONF);
}

static char *compile_location_regex(sl_conf_t *cf, sl_http_core_loc_conf_t *clcf)
{
    sl_regex_compile_t rc;

    memset(&rc, 0, sizeof(rc));
    rc.pattern = clcf->name;
    rc.caseless = clcf->caseless;
    /* its named captures become variables, as nginx */
    if (sl_http_regex_compile(cf, &rc, &clcf->http_regex) != SL_OK) {
        return SL_CONF_ERROR;
    }
    clcf->regex = rc.regex;
    return SL_CONF_OK;
}

/* Reads "location [=|~|~*|^~] uri" and "location @name" into clcf. */
static char *parse_location_name(sl_conf_t *cf, sl_http_core_loc_conf_t *clcf)
{
    sl_str_t *value = cf->args->elts;
    sl_str_t mod = sl_null_string, name = value[1];

    if (cf->args->nelts == 3) {
        mod = value[1];
        name = value[2];
    } else if (name.len > 1 && (name.data[0] == '=' || name.data[0] == '~')) {
        /* "=/path", "~regex", "~*regex" written without a space */
        size_t mlen = (name.data[0] == '~' && name.data[1] == '*') ? 2 : 1;
        mod.data = name.data;
        mod.len = mlen;
        name.data += mlen;
        name.len -= mlen;
    } else if (name.len > 2 && name.data[0] == '^' && name.data[1] == '~') {
        mod.data = name.data;
        mod.len = 2;
        name.data += 2;
        name.len -= 2;
    }
    int regex = 0;
    if (mod.len == 1 && mod.data[0] == '=') {
        clcf->exact_match = 1;
    } else if (mod.len == 2 && mod.data[0] == '^' && mod.data[1] == '~') {
        clcf->noregex = 1;
    } else if (mod.len == 1 && mod.data[0] == '~') {
        regex = 1;
    } else if (mod.len == 2 && mod.data[0] == '~' && mod.data[1] == '*') {
        regex = 1;
        clcf->caseless = 1;
    } else if (mod.len) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid location modifier \"%.*s\"",
                          SL_STR_ARG(mod));
        return SL_CONF_ERROR;
    }
    clcf->modifier = mod;
    clcf->name = name;
    clcf->named = mod.len == 0 && name.len && name.data[0] == '@';
    return regex ? compile_location_regex(cf, clcf) : SL_CONF_OK;
}

/* nginx's nesting rules: named locations only at server level, nothing inside an exact or
 * named location, and a nested prefix location must extend its parent's prefix. */
static char *check_nesting(sl_conf_t *cf, sl_http_core_loc_conf_t *pclcf,
                           sl_http_core_loc_conf_t *clcf)
{
    if (pclcf->name.len == 0) {
        return SL_CONF_OK;
    }
    if (pclcf->exact_match) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "location \"%.*s\" cannot be inside the exact location \"%.*s\"",
                          SL_STR_ARG(clcf->name), SL_STR_ARG(pclcf->name));
        return SL_CONF_ERROR;
    }
    if (pclcf->named) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "location \"%.*s\" cannot be inside the named location \"%.*s\"",
                          SL_STR_ARG(clcf->name), SL_STR_ARG(pclcf->name));
        return SL_CONF_ERROR;
    }
    if (clcf->named) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "named location \"%.*s\" can be on the server level only",
                          SL_STR_ARG(clcf->name));
        return SL_CONF_ERROR;
    }
    if (pclcf->regex == NULL && clcf->regex == NULL
        && (clcf->name.len < pclcf->name.len
            || memcmp(clcf->name.data, pclcf->name.data, pclcf->name.len) != 0)) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "location \"%.*s\" is outside location \"%.*s\"",
                          SL_STR_ARG(clcf->name), SL_STR_ARG(pclcf->name));
        return SL_CONF_ERROR;
    }
    return SL_CONF_OK;
}

static char *location_block(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_http_conf_ctx_t *pctx = cf->ctx;
    sl_http_core_loc_conf_t *pclcf = pctx->loc_conf[sl_http_core_module.ctx_index];
    sl_http_conf_ctx_t *ctx = new_ctx(cf, 0);

    if (ctx == NULL) {
        return SL_CONF_ERROR;
    }
    sl_http_core_loc_conf_t *clcf = ctx->loc_conf[sl_http_core_module.ctx_index];
    clcf->loc_conf = ctx->loc_conf;
    if (parse_location_name(cf, clcf) != SL_CONF_OK
        || check_nesting(cf, pclcf, clcf) != SL_CONF_OK) {
        return SL_CONF_ERROR;
    }
    if (pclcf->locations == NULL) {
        pclcf->locations = sl_array_create(cf->pool, 4, sizeof(sl_http_core_loc_conf_t *));
        if (pclcf->locations == NULL) {
            return SL_CONF_ERROR;
        }
    }
    sl_http_core_loc_conf_t **slot = sl_array_push(pclcf->locations);
    if (slot == NULL) {
        return SL_CONF_ERROR;
    }
    *slot = clcf;
    return parse_block(cf, ctx, SL_HTTP_LOC_CONF);
}

/* The methods limit_except names, as nginx 1.22 knows them (any case). */
static const struct {
    const char *name;
    uint32_t method;
} limit_methods[] = {
    { "GET", SL_HTTP_GET },
    { "HEAD", SL_HTTP_HEAD },
    { "POST", SL_HTTP_POST },
    { "PUT", SL_HTTP_PUT },
    { "DELETE", SL_HTTP_DELETE },
    { "MKCOL", SL_HTTP_MKCOL },
    { "COPY", SL_HTTP_COPY },
    { "MOVE", SL_HTTP_MOVE },
    { "OPTIONS", SL_HTTP_OPTIONS },
    { "PROPFIND", SL_HTTP_PROPFIND },
    { "PROPPATCH", SL_HTTP_PROPPATCH },
    { "LOCK", SL_HTTP_LOCK },
    { "UNLOCK", SL_HTTP_UNLOCK },
    { "PATCH", SL_HTTP_PATCH },
};

/* The methods the block applies to: all but those named (GET names HEAD too).  0 after
 * logging "invalid method". */
static uint32_t limit_except_methods(sl_conf_t *cf)
{
    sl_str_t *value = cf->args->elts;
    uint32_t mask = 0xffffffff;

    for (sl_uint_t i = 1; i < cf->args->nelts; i++) {
        size_t k = 0;
        while (k < sl_nelems(limit_methods)
               && !(value[i].len == strlen(limit_methods[k].name)
                    && sl_strncasecmp(value[i].data, (u_char *) limit_methods[k].name, value[i].len)
                           == 0)) {
            k++;
        }
        if (k == sl_nelems(limit_methods)) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid method \"%.*s\"", SL_STR_ARG(value[i]));
            return 0;
        }
        mask &= ~limit_methods[k].method;
    }
    if (mask & SL_HTTP_GET) {
        return mask;
    }
    return mask & ~(uint32_t) SL_HTTP_HEAD;
}

/*
 * limit_except METHOD ... { ... }: a loc conf for every module, made the request's (by
 * sl_http_update_location_config) when its method is not among those named.  It is merged
 * with its location's (sl_http.c) and is never matched as a location itself.
 */
static char *limit_except_block(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_http_core_loc_conf_t *pclcf = conf;

    if (pclcf->limit_except) {
        return "is duplicate";
    }
    uint32_t mask = limit_except_methods(cf);
    if (mask == 0) {
        return SL_CONF_ERROR;
    }
    sl_http_conf_ctx_t *ctx = new_ctx(cf, 0);
    if (ctx == NULL) {
        return SL_CONF_ERROR;
    }
    pclcf->limit_except = mask;
    pclcf->limit_except_loc_conf = ctx->loc_conf;
    sl_http_core_loc_conf_t *clcf = ctx->loc_conf[sl_http_core_module.ctx_index];
    clcf->loc_conf = ctx->loc_conf;
    clcf->noname = 1;
    /* the location's name (and regex): alias maps uris through them */
    clcf->name = pclcf->name;
    clcf->regex = pclcf->regex;
    clcf->exact_match = pclcf->exact_match;
    clcf->named = pclcf->named;
    return parse_block(cf, ctx, SL_HTTP_LMT_CONF);
}

static char *set_listen(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_http_core_srv_conf_t *cscf = conf;
    sl_http_listen_opt_t opt;

    cscf->listen = 1;
    if (sl_http_parse_listen(cf, &opt) != SL_CONF_OK) {
        return SL_CONF_ERROR;
    }
    return sl_http_add_listen(cf, cscf, &opt) == SL_OK ? SL_CONF_OK : SL_CONF_ERROR;
}
