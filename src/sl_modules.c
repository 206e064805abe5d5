/*
 * sl_modules.c: the modules compiled into sluice, in the order their directives are searched
 * and their configurations created.
 */
#include "sl_core.h"
#include "sl_cycle.h"
#include "sl_event_module.h"
#include "sl_http.h"

extern sl_module_t sl_http_v1_header_filter_module;
extern sl_module_t sl_http_v1_chunked_filter_module;
extern sl_module_t sl_http_upstream_module;
extern sl_module_t sl_http_realip_module;
extern sl_module_t sl_http_ssl_module;
extern sl_module_t sl_http_limit_req_module;
extern sl_module_t sl_http_limit_conn_module;
extern sl_module_t sl_http_access_module;
extern sl_module_t sl_http_auth_basic_module;
extern sl_module_t sl_http_stub_status_module;
extern sl_module_t sl_http_auth_request_module;
extern sl_module_t sl_http_rewrite_module;
extern sl_module_t sl_http_map_module;
extern sl_module_t sl_http_geo_module;
extern sl_module_t sl_http_secure_link_module;
extern sl_module_t sl_http_referer_module;
extern sl_module_t sl_http_empty_gif_module;
extern sl_module_t sl_http_split_clients_module;
extern sl_module_t sl_http_try_files_module;
extern sl_module_t sl_http_mirror_module;
extern sl_module_t sl_http_random_index_module;
extern sl_module_t sl_http_index_module;
extern sl_module_t sl_http_gzip_ok_module;
extern sl_module_t sl_http_gzip_static_module;
extern sl_module_t sl_http_gzip_filter_module;
extern sl_module_t sl_http_postpone_filter_module;
extern sl_module_t sl_http_ssi_filter_module;
extern sl_module_t sl_http_ssi_header_filter_module;
extern sl_module_t sl_http_sub_filter_module;
extern sl_module_t sl_http_sub_header_filter_module;
extern sl_module_t sl_http_addition_filter_module;
extern sl_module_t sl_http_addition_header_filter_module;
extern sl_module_t sl_http_gzip_header_filter_module;
extern sl_module_t sl_http_charset_filter_module;
extern sl_module_t sl_http_charset_header_filter_module;
extern sl_module_t sl_http_static_module;
extern sl_module_t sl_http_range_filter_module;
extern sl_module_t sl_http_not_modified_filter_module;
extern sl_module_t sl_http_slice_filter_module;
extern sl_module_t sl_http_headers_filter_module;
extern sl_module_t sl_http_expires_filter_module;
extern sl_module_t sl_http_userid_filter_module;
extern sl_module_t sl_http_trailers_filter_module;
extern sl_module_t sl_http_cache_module;
extern sl_module_t sl_http_proxy_module;
extern sl_module_t sl_http_log_module;

// clang-format off
sl_module_t *sl_modules[] = {
    &sl_core_module,
    &sl_errlog_module,
    &sl_conf_module,
    &sl_events_module,
    &sl_event_core_module,
    &sl_http_module,
    &sl_http_core_module,
    /* HTTP/1 framing: the first filters installed after the core's, so they run last */
    &sl_http_v1_header_filter_module,
    &sl_http_v1_chunked_filter_module,
    &sl_http_log_module,
    &sl_http_upstream_module,
    &sl_http_ssl_module,
    /* before any module whose preaccess handler reads the client address */
    &sl_http_realip_module,
    /* preaccess, in nginx's order: limit_req before limit_conn */
    &sl_http_limit_req_module,
    &sl_http_limit_conn_module,
    /* access, in nginx's order: allow/deny before auth_basic */
    &sl_http_access_module,
    &sl_http_auth_basic_module,
    &sl_http_stub_status_module,
    /* its access handler after allow/deny's, as nginx */
    &sl_http_auth_request_module,
    &sl_http_rewrite_module,
    &sl_http_map_module,
    &sl_http_split_clients_module,
    &sl_http_geo_module,
    &sl_http_secure_link_module,
    &sl_http_referer_module,
    &sl_http_empty_gif_module,
    &sl_http_try_files_module,
    /* its precontent handler after try_files', as nginx */
    &sl_http_mirror_module,
    /* before index: a directory it answers is not searched for index files */
    &sl_http_random_index_module,
    &sl_http_index_module,
    &sl_http_gzip_ok_module,
    /* its content handler before static's: the .gz file first */
    &sl_http_gzip_static_module,
    /* gzip's body filter before static's file reader: it runs after it, on memory; and
     * before charset's, which recodes first, as nginx */
    &sl_http_gzip_filter_module,
    /* subrequests' output in document order; what runs after it (gzip, the framing, the
     * write filter) sees the main request only */
    &sl_http_postpone_filter_module,
    /* SSI parses after charset recoded, and its includes go to the postpone filter */
    &sl_http_ssi_filter_module,
    /* before static: its reader puts file data in memory before the charset filter sees it */
    &sl_http_charset_filter_module,
    /* sub_filter replaces before charset recodes; what addition adds goes through it */
    &sl_http_sub_filter_module,
    /* its parts go through charset's and SSI's filters, as the response does (nginx) */
    &sl_http_addition_filter_module,
    &sl_http_static_module,
    &sl_http_range_filter_module,
    /* gzip's header filter runs after add_header's and expires' and before the range
     * filter's, which a response gzip takes gets no range of (its length is gone) */
    &sl_http_gzip_header_filter_module,
    /* after charset's header filter, before gzip's and the range filter's: they see the
     * response without its length */
    &sl_http_ssi_header_filter_module,
    /* runs before gzip's and the range filter's header filters, after add_header's */
    &sl_http_charset_header_filter_module,
    &sl_http_sub_header_filter_module,
    /* after add_header's, before sub_filter's and charset's */
    &sl_http_addition_header_filter_module,
    &sl_http_headers_filter_module,
    /* after add_header's: its filter runs first, so its lines come first, as nginx */
    &sl_http_expires_filter_module,
    &sl_http_trailers_filter_module,
    &sl_http_userid_filter_module,
    /* the caches proxy_cache names (proxy_cache_path is the proxy's directive) */
    &sl_http_cache_module,
    &sl_http_proxy_module,
    &sl_http_not_modified_filter_module,
    /* the last: its filters run first, so the pieces it joins look like one response
     * (a 200 at its offset) to the conditional, range and every other filter, as nginx */
    &sl_http_slice_filter_module,
    NULL,
};
// clang-format on
