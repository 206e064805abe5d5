/*
 * sl_http_subrequest.c: subrequests, as nginx's.  A subrequest is a request of its own
 * (uri, location, module state, headers out) on its main request's connection, pool,
 * variables and request body.  It takes its place in its parent's postponed list (unless
 * it runs in the background) and starts from the posted-request queue, after the handler
 * that made it returns.  Only the connection's active request (c->data) writes to the
 * client; the postpone filter holds everything else back in document order.
 */
#include "sl_http_request.h"
#include "sl_http_output.h"
#include "sl_pool.h"

static void subrequest_start(sl_http_request_t *sr);

/* Whether r may start one more subrequest; logs why not (nginx's wording). */
static int may_start(sl_http_request_t *r, const sl_str_t *uri)
{
    sl_connection_t *c = r->connection;

    if (r->subrequests == 0) {
        sl_log_error(SL_LOG_ERR, c->log, 0, "subrequests cycle while processing \"%.*s\"",
                     SL_STR_ARG(*uri));
        return 0;
    }
    /* the 16-bit reference count must not wrap (each subrequest holds one) */
    if (r->main->count >= 65535 - 1000) {
        sl_log_error(SL_LOG_CRIT, c->log, 0,
                     "request reference counter overflow while processing \"%.*s\"",
                     SL_STR_ARG(*uri));
        return 0;
    }
    if (r->subrequest_in_memory) {
        sl_log_error(SL_LOG_ERR, c->log, 0, "nested in-memory subrequest \"%.*s\"",
                     SL_STR_ARG(*uri));
        return 0;
    }
    return 1;
}

/* A new request on r's connection and pool, with r's client-side view. */
static sl_http_request_t *alloc_subrequest(sl_http_request_t *r)
{
    sl_http_request_t *sr = sl_pcalloc(r->pool, sizeof(sl_http_request_t));

    if (sr == NULL) {
        return NULL;
    }
    sr->ctx = sl_pcalloc(r->pool, sl_http_module_count() * sizeof(void *));
    if (sr->ctx == NULL
        || sl_list_init(&sr->headers_out.headers, r->pool, 20, sizeof(sl_table_elt_t)) != SL_OK
        || sl_list_init(&sr->headers_out.trailers, r->pool, 4, sizeof(sl_table_elt_t)) != SL_OK) {
        return NULL;
    }
    sl_http_core_srv_conf_t *cscf = sl_http_get_module_srv_conf(r, sl_http_core_module);
    sr->connection = r->connection;
    sr->http_connection = r->http_connection;
    sr->pool = r->pool;
    sr->main_conf = cscf->ctx->main_conf;
    sr->srv_conf = cscf->ctx->srv_conf;
    sr->loc_conf = cscf->ctx->loc_conf;
    sr->header_in = r->header_in;
    sr->headers_in = r->headers_in;
    sr->request_body = r->request_body;
    sr->headers_out.content_length_n = -1;
    sr->headers_out.last_modified_time = -1;
    sr->method = SL_HTTP_GET;
    sl_str_set(&sr->method_name, "GET");
    sr->http_version = r->http_version;
    sr->request_line = r->request_line;
    sr->unparsed_uri = r->unparsed_uri;
    sr->http_protocol = r->http_protocol;
    sr->schema = r->schema;
    sr->variables = r->variables;
    sr->start_sec = sl_cached_time_sec;
    sr->start_msec = sl_current_msec;
    return sr;
}

/* Puts sr at the end of r's postponed list; sr is active when r was and had none. */
static sl_int_t take_place(sl_http_request_t *r, sl_http_request_t *sr)
{
    sl_http_postponed_request_t *pr = sl_palloc(r->pool, sizeof(*pr));

    if (pr == NULL) {
        return SL_ERROR;
    }
    if (r->connection->data == r && r->postponed == NULL) {
        r->connection->data = sr;
    }
    pr->request = sr;
    pr->out = NULL;
    pr->next = NULL;
    sl_http_postponed_request_t **pp = &r->postponed;
    while (*pp) {
        pp = &(*pp)->next;
    }
    *pp = pr;
    return SL_OK;
}

/* A clone starts where r is: its location, method, captures (a copy: a regex the clone
 * runs must not overwrite r's) and content handler, from r's phase (content).  SL_OK or
 * SL_ERROR. */
static sl_int_t clone_from(sl_http_request_t *r, sl_http_request_t *sr)
{
    sr->method = r->method;
    sr->method_name = r->method_name;
    sr->loc_conf = r->loc_conf;
    sr->valid_location = r->valid_location;
    sr->valid_unparsed_uri = r->valid_unparsed_uri;
    sr->content_handler = r->content_handler;
    sr->phase_handler = r->phase_handler;
    sr->write_event_handler = sl_http_core_run_phases;
    if (r->captures && r->ncaptures) {
        sr->captures = sl_palloc(r->pool, r->ncaptures * sizeof(int));
        if (sr->captures == NULL) {
            return SL_ERROR;
        }
        memcpy(sr->captures, r->captures, r->ncaptures * sizeof(int));
        sr->ncaptures = r->ncaptures;
        sr->captures_data = r->captures_data;
    }
    sl_http_update_location_config(sr);
    return SL_OK;
}

sl_int_t sl_http_subrequest(sl_http_request_t *r, sl_str_t *uri, sl_str_t *args,
                            sl_http_request_t **psr, sl_http_post_subrequest_t *ps, sl_uint_t flags)
{
    if (!may_start(r, uri)) {
        return SL_ERROR;
    }
    sl_http_request_t *sr = alloc_subrequest(r);
    if (sr == NULL) {
        return SL_ERROR;
    }
    sr->uri = *uri;
    if (args) {
        sr->args = *args;
    }
    sl_http_set_exten(sr);
    sr->subrequest_in_memory = (flags & SL_HTTP_SUBREQUEST_IN_MEMORY) != 0;
    sr->waited = (flags & SL_HTTP_SUBREQUEST_WAITED) != 0;
    sr->background = (flags & SL_HTTP_SUBREQUEST_BACKGROUND) != 0;
    sr->filter_need_in_memory = sr->subrequest_in_memory;
    sr->main = r->main;
    sr->parent = r;
    sr->post_subrequest = ps;
    sr->read_event_handler = sl_http_request_empty_handler;
    sr->write_event_handler = subrequest_start;
    if ((flags & SL_HTTP_SUBREQUEST_CLONE) && clone_from(r, sr) != SL_OK) {
        return SL_ERROR;
    }
    if (!sr->background && take_place(r, sr) != SL_OK) {
        return SL_ERROR;
    }
    sr->internal = 1;
    sr->discard_body = r->discard_body;
    sr->expect_tested = 1;
    sr->main_filter_need_in_memory = r->main_filter_need_in_memory;
    sr->uri_changes = SL_HTTP_MAX_URI_CHANGES + 1;
    sr->subrequests = r->subrequests - 1;
    sr->http_state = SL_HTTP_PROCESS_REQUEST_STATE;
    r->main->count++;
    if (psr) {
        *psr = sr;
    }
    return sl_http_post_request(sr, NULL);
}

/* The posted subrequest's first run: its phases from the server's rewrites on. */
static void subrequest_start(sl_http_request_t *sr)
{
    sl_http_core_main_conf_t *cmcf = sl_http_get_module_main_conf(sr, sl_http_core_module);

    sr->phase_handler = (sl_int_t) cmcf->server_rewrite_index;
    sr->valid_location = 1;
    sr->write_event_handler = sl_http_core_run_phases;
    sl_http_core_run_phases(sr);
}

sl_int_t sl_http_post_request(sl_http_request_t *r, sl_http_posted_request_t *pr)
{
    if (pr == NULL) {
        pr = sl_palloc(r->pool, sizeof(*pr));
        if (pr == NULL) {
            return SL_ERROR;
        }
    }
    pr->request = r;
    pr->next = NULL;
    sl_http_posted_request_t **pp = &r->main->posted_requests;
    while (*pp) {
        pp = &(*pp)->next;
    }
    *pp = pr;
    return SL_OK;
}

void sl_http_run_posted_requests(sl_connection_t *c)
{
    for (;;) {
        if (c->destroyed) {
            return;
        }
        sl_http_request_t *r = c->data;
        /* between requests (keepalive) c->data is the connection's state, not a request */
        if (r == NULL || c->idle) {
            return;
        }
        sl_http_posted_request_t *pr = r->main->posted_requests;
        if (pr == NULL) {
            return;
        }
        r->main->posted_requests = pr->next;
        r = pr->request;
        r->http_connection->log_ctx.request = r;
        r->write_event_handler(r);
    }
}

unsigned sl_http_dispatch_enter(sl_connection_t *c)
{
    unsigned was = c->dispatching;

    c->dispatching = 1;
    return was;
}

void sl_http_dispatch_leave(sl_connection_t *c, unsigned was)
{
    /* inside another dispatch (a handler called from a handler), the outer one runs
     * them: its callers may still use the request a posted end would free */
    if (!was) {
        sl_http_run_posted_requests(c);
    }
    /* a connection closed meanwhile is freed only at the end of the iteration */
    c->dispatching = was;
}

/* A subrequest done before its turn comes back here when it becomes active. */
void sl_http_request_finalizer(sl_http_request_t *r)
{
    sl_http_finalize_request(r, 0);
}

/* The in-memory body of a finished SL_HTTP_SUBREQUEST_IN_MEMORY subrequest. */
void sl_http_subrequest_body(sl_http_request_t *sr, sl_str_t *body)
{
    if (sr->out && sr->out->buf) {
        body->data = sr->out->buf->pos;
        body->len = (size_t) (sr->out->buf->last - sr->out->buf->pos);
        return;
    }
    body->data = NULL;
    body->len = 0;
}
