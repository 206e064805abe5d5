/*
 * sl_http_postpone_filter.c: subrequest output in document order.  Only the connection's
 * active request (c->data) sends; another one's output is kept, in its place, in its own
 * postponed list.  When the active request has passed what it can, the first subrequest
 * waiting in its list becomes active and is run.  Everything below this filter (gzip,
 * the HTTP/1 framing, the write filter) sees the main request, so the client gets one
 * response however many requests made it.
 *
 * An in-memory subrequest's body never goes to the client: it is collected into one
 * buffer of at most subrequest_output_buffer_size (sl_http_collector), sr->out->buf.  A
 * background subrequest's output (mirror, cache update) goes nowhere.
 */
#include "sl_http_collector.h"
#include "sl_http_output.h"
#include "sl_pool.h"

static sl_http_output_body_filter_pt next_body_filter;

sl_module_t sl_http_postpone_filter_module;

/* Appends in to r's postponed list: to its last data entry, or as a new one. */
static sl_int_t postpone(sl_http_request_t *r, sl_chain_t *in)
{
    sl_http_postponed_request_t *pr = r->postponed, **pp = &r->postponed;

    for (; pr && pr->next; pr = pr->next) {
    }
    if (pr && pr->request == NULL) {
        return sl_chain_add_copy(r->pool, &pr->out, in);
    }
    if (pr) {
        pp = &pr->next;
    }
    pr = sl_palloc(r->pool, sizeof(*pr));
    if (pr == NULL) {
        return SL_ERROR;
    }
    pr->request = NULL;
    pr->out = NULL;
    pr->next = NULL;
    *pp = pr;
    return sl_chain_add_copy(r->pool, &pr->out, in);
}

static sl_int_t collect_in_memory(sl_http_request_t *r, sl_chain_t *in)
{
    sl_http_collector_t *col = sl_http_get_module_ctx(r, sl_http_postpone_filter_module);

    if (col == NULL) {
        sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);
        col = sl_http_collector_create(r->pool, r->connection->log,
                                       clcf->subrequest_output_buffer_size);
        r->out = sl_alloc_chain_link(r->pool);
        if (col == NULL || r->out == NULL) {
            return SL_ERROR;
        }
        r->out->buf = NULL;
        r->out->next = NULL;
        sl_http_set_ctx(r, col, sl_http_postpone_filter_module);
        if (sl_http_collector_expect(col, r->headers_out.content_length_n) != SL_OK) {
            return SL_ERROR;
        }
    }
    if (in == NULL || col->done) {
        return SL_OK;
    }
    sl_int_t rc = sl_http_collector_add(col, in);
    r->out->buf = col->buf;
    return rc == SL_ERROR ? SL_ERROR : SL_OK;
}

/* The active request r passes its postponed entries: data goes out, and the first
 * subrequest met becomes active (posted to run). */
static sl_int_t pass_postponed(sl_http_request_t *r)
{
    sl_connection_t *c = r->connection;

    while (r->postponed) {
        sl_http_postponed_request_t *pr = r->postponed;
        if (pr->request) {
            r->postponed = pr->next;
            c->data = pr->request;
            return sl_http_post_request(pr->request, NULL);
        }
        if (pr->out == NULL) {
            sl_log_error(SL_LOG_ALERT, c->log, 0, "http postpone filter NULL output");
        } else if (next_body_filter(r->main, pr->out) == SL_ERROR) {
            return SL_ERROR;
        }
        r->postponed = pr->next;
    }
    return SL_OK;
}

static sl_int_t postpone_body_filter(sl_http_request_t *r, sl_chain_t *in)
{
    for (sl_chain_t *cl = in; cl && !r->request_output; cl = cl->next) {
        /* something of this request's own reached the output (an include's stub is
         * only for a subrequest that sent nothing) */
        r->request_output = !sl_buf_special(cl->buf) && sl_buf_size(cl->buf) > 0;
    }
    if (r->subrequest_in_memory) {
        return collect_in_memory(r, in);
    }
    if (r->background) {
        /* a mirror's or a cache update's response is nobody's: dropped */
        return SL_OK;
    }
    if (r != r->connection->data) {
        return in && postpone(r, in) != SL_OK ? SL_ERROR : SL_OK;
    }
    if (r->postponed == NULL) {
        return next_body_filter(r->main, in);
    }
    if (in && postpone(r, in) != SL_OK) {
        return SL_ERROR;
    }
    return pass_postponed(r);
}

static sl_int_t postconfiguration(sl_conf_t *cf)
{
    next_body_filter = sl_http_top_body_filter;
    sl_http_top_body_filter = postpone_body_filter;
    return SL_OK;
}

static sl_http_module_t postpone_filter_ctx = {
    NULL, postconfiguration, NULL, NULL, NULL, NULL, NULL, NULL,
};

sl_module_t sl_http_postpone_filter_module = {
    "http_postpone_filter", 0, 0, SL_HTTP_MODULE, &postpone_filter_ctx, NULL, NULL, NULL, NULL,
};
