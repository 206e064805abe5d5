/*
 * sl_http_finalize.c: the end of a request: special responses, waiting for output to
 * drain, the access log, and what the connection does next (keepalive with the next
 * pipelined request, lingering close, or close).
 */
#include "sl_http_request.h"
#include "sl_http_special_response.h"
#include "sl_pool.h"
#include "sl_http_stat.h"
#include "sl_process_cycle.h"

static void keepalive_handler(sl_event_t *rev);
static void lingering_close_handler(sl_event_t *rev);
static void writer(sl_http_request_t *r);

void sl_http_log_request(sl_http_request_t *r)
{
    sl_http_core_main_conf_t *cmcf = sl_http_get_module_main_conf(r, sl_http_core_module);
    sl_int_t (**h)(sl_http_request_t *) = cmcf->phases[SL_HTTP_LOG_PHASE].elts;

    if (r->logged) {
        return;
    }
    r->logged = 1;
    for (sl_uint_t i = 0; i < cmcf->phases[SL_HTTP_LOG_PHASE].nelts; i++) {
        h[i](r);
    }
}

static void free_request(sl_http_request_t *r, sl_int_t rc)
{
    sl_connection_t *c = r->connection;

    if (rc > 0 && (r->headers_out.status == 0 || c->sent == 0)) {
        r->headers_out.status = (sl_uint_t) rc;
    }
    c->log->action = "logging request";
    sl_http_log_request(r);
    c->log->action = "closing request";
    r->http_connection->log_ctx.request = NULL;
    if (r->stat_reading) {
        sl_http_stat_add(reading, -1);
    }
    if (r->stat_writing) {
        sl_http_stat_add(writing, -1);
    }
    sl_pool_destroy(r->pool);
}

void sl_http_close_request(sl_http_request_t *r, sl_int_t rc)
{
    sl_connection_t *c = r->connection;
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);
    int reset = c->timedout && clcf->reset_timedout_connection;

    r = r->main;
    if (r->count == 0) {
        sl_log_error(SL_LOG_ALERT, c->log, 0, "http request count is zero");
    }
    if (r->count > 0) {
        r->count--;
    }
    if (r->count) {
        return;
    }
    free_request(r, rc);
    if (reset) {
        /* reset_timedout_connection: a RST, not a FIN, for a client that timed out */
        sl_conn_reset_on_close(c);
    }
    sl_http_close_connection(c);
}

/* The posted end of a terminated request. */
static void terminal_handler(sl_http_request_t *r)
{
    r->main->count = 1;
    sl_http_close_request(r->main, 0);
}

void sl_http_terminate_request(sl_http_request_t *r, sl_int_t rc)
{
    sl_http_request_t *mr = r->main;

    if (rc > 0 && (mr->headers_out.status == 0 || mr->connection->sent == 0)) {
        mr->headers_out.status = (sl_uint_t) rc;
    }
    if (mr->terminating) {
        return;
    }
    if (mr->connection->dispatching) {
        /* the handlers up the stack still use the request (a cache HIT sent from the
         * content phase, a client gone meanwhile): it is freed as the event ends, as nginx
         * posts its terminal request; nothing else posted runs before */
        mr->terminating = 1;
        /* whatever the callers do next ends on the error path (no output, no keepalive) */
        mr->connection->error = 1;
        mr->posted_requests = NULL;
        mr->write_event_handler = terminal_handler;
        (void) sl_http_post_request(mr, &mr->terminal_posted);
        return;
    }
    /* cleanups (upstream) run with the pool; the references others hold are void now */
    mr->count = 1;
    sl_http_close_request(mr, rc);
}

/* The request is over; move what remains of the header buffer for the next request. */
static int keep_pipelined(sl_http_request_t *r, sl_connection_t *c)
{
    sl_buf_t *hb = r->header_in;
    size_t n = (size_t) (hb->last - hb->pos);
    sl_http_connection_t *hc = r->http_connection;
    size_t size = hc->default_server->client_header_buffer_size;

    if (n == 0) {
        if (c->buffer && c->buffer->start) {
            c->buffer->pos = c->buffer->start;
            c->buffer->last = c->buffer->start;
        }
        return 0;
    }
    /* The bytes live in c->buffer or in a large buffer of the request pool, which is
     * about to go: copy them to the start of a connection buffer big enough. */
    if (c->buffer->start && hb != c->buffer && (size_t) (c->buffer->end - c->buffer->start) < n) {
        sl_pfree(c->pool, c->buffer->start);
        c->buffer->start = NULL;
    }
    if (c->buffer->start == NULL) {
        size = sl_max(size, n);
        c->buffer->start = sl_palloc(c->pool, size);
        if (c->buffer->start == NULL) {
            return -1;
        }
        c->buffer->end = c->buffer->start + size;
    }
    memmove(c->buffer->start, hb->pos, n);
    c->buffer->pos = c->buffer->start;
    c->buffer->last = c->buffer->start + n;
    return 1;
}

/*
 * The connection waits for the next request: what tcp_nopush corked goes out now; else
 * tcp_nodelay sets TCP_NODELAY, so that a small response to the next request is not held
 * by Nagle's algorithm (nginx 1.22 on Linux: not right after lifting a cork).
 */
static sl_int_t flush_for_idle(sl_connection_t *c, int tcp_nodelay)
{
    if (c->tcp_nopush == SL_TCP_NOPUSH_SET) {
        return sl_conn_tcp_push(c);
    }
    return tcp_nodelay ? sl_conn_tcp_nodelay(c) : SL_OK;
}

static void set_keepalive(sl_http_request_t *r)
{
    sl_connection_t *c = r->connection;
    sl_http_connection_t *hc = r->http_connection;
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);
    sl_msec_t timeout = clcf->keepalive_timeout;
    int tcp_nodelay = (int) clcf->tcp_nodelay;

    /* the log line reads the request line, which the next request's bytes may overwrite */
    sl_http_log_request(r);
    int pipelined = keep_pipelined(r, c);

    if (pipelined < 0) {
        sl_http_close_request(r, 0);
        return;
    }
    r->keepalive = 0;
    free_request(r, 0);
    c->data = hc;
    c->sent = 0;
    c->log->action = "keepalive";
    /* a location's error_log applied to the request, not to the idle connection */
    c->log->file = c->listening->log->file;
    c->log->log_level = c->listening->log->log_level;
    c->log->next = c->listening->log->next;
    c->read->handler = keepalive_handler;
    c->write->handler = sl_event_empty_handler;
    c->idle = 1;
    sl_reusable_connection(c, 1);
    if (pipelined) {
        /* the next request is already here: run it after this iteration's events */
        c->read->ready = 1;
        sl_post_event(c->read);
        return;
    }
    if (flush_for_idle(c, tcp_nodelay) != SL_OK) {
        sl_http_close_connection(c);
        return;
    }
    sl_http_release_header_buffer(c);
    sl_add_timer(c->read, timeout);
    if (c->read->ready || c->read->pending_eof) {
        keepalive_handler(c->read);
    }
}

static void keepalive_handler(sl_event_t *rev)
{
    sl_connection_t *c = rev->data;
    sl_http_connection_t *hc = c->data;

    if (rev->timedout || c->close) {
        sl_http_close_connection(c);
        return;
    }
    if (c->buffer->start == NULL) {
        size_t size = hc->default_server->client_header_buffer_size;
        c->buffer->start = sl_palloc(c->pool, size);
        if (c->buffer->start == NULL) {
            sl_http_close_connection(c);
            return;
        }
        c->buffer->pos = c->buffer->start;
        c->buffer->last = c->buffer->start;
        c->buffer->end = c->buffer->start + size;
    }
    /* bytes left by the previous request: this one was pipelined behind it ($pipe) */
    int pipelined = c->buffer->last != c->buffer->pos;
    if (!pipelined) {
        ssize_t n = c->io->recv(c, c->buffer->last, (size_t) (c->buffer->end - c->buffer->last));
        if (n == SL_AGAIN) {
            sl_http_release_header_buffer(c);
            return;
        }
        if (n == SL_ERROR || n == 0) {
            if (n == 0) {
                sl_log_error(SL_LOG_INFO, c->log, 0, "client %.*s closed keepalive connection",
                             SL_STR_ARG(c->addr_text));
            }
            sl_http_close_connection(c);
            return;
        }
        c->buffer->last += n;
    }
    sl_del_timer(rev);
    c->idle = 0;
    sl_reusable_connection(c, 0);
    c->log->action = "reading client request line";
    c->data = sl_http_create_request(c);
    if (c->data == NULL) {
        sl_http_close_connection(c);
        return;
    }
    sl_http_request_t *r = c->data;
    r->header_in = c->buffer;
    r->pipeline = pipelined;
    rev->handler = sl_http_process_request_line;
    sl_http_process_request_line(rev);
}

static void set_lingering_close(sl_http_request_t *r)
{
    sl_connection_t *c = r->connection;
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);

    r->lingering_time = sl_cached_time_sec + (time_t) (clcf->lingering_time / 1000);
    c->read->handler = lingering_close_handler;
    c->write->handler = sl_event_empty_handler;
    sl_add_timer(c->read, clcf->lingering_timeout);
    if (c->io->shutdown(c) != SL_OK) {
        sl_http_close_request(r, 0);
        return;
    }
    c->close = 0;
    if (c->read->ready || c->read->pending_eof) {
        lingering_close_handler(c->read);
    }
}

/* Reads and drops what the client still sends, so closing does not reset the connection
 * before the client has read our response. */
static void lingering_close_handler(sl_event_t *rev)
{
    sl_connection_t *c = rev->data;
    sl_http_request_t *r = c->data;
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);
    u_char buf[4096];

    if (rev->timedout || c->close || sl_cached_time_sec >= r->lingering_time) {
        sl_http_close_request(r, 0);
        return;
    }
    for (;;) {
        ssize_t n = c->io->recv(c, buf, sizeof(buf));
        if (n == SL_AGAIN) {
            break;
        }
        if (n == SL_ERROR || n == 0) {
            sl_http_close_request(r, 0);
            return;
        }
    }
    sl_msec_t left = (sl_msec_t) (r->lingering_time - sl_cached_time_sec) * 1000;
    sl_add_timer(rev, sl_min(left, clcf->lingering_timeout));
}

static void finalize_connection(sl_http_request_t *r)
{
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);
    sl_connection_t *c = r->connection;

    if (r->main->count != 1) {
        sl_http_close_request(r, 0);
        return;
    }
    r = r->main;
    if (c->read->eof || c->error) {
        sl_http_close_request(r, 0);
        return;
    }
    if (r->discard_body) {
        /* the response is out but the unwanted body is still arriving: wait for its end
         * (then keepalive) at most lingering_timeout between reads */
        r->read_event_handler = sl_http_discarded_body_handler;
        sl_add_timer(c->read, clcf->lingering_timeout);
        return;
    }
    if (r->reading_body) {
        r->keepalive = 0;
        r->lingering_close = 1;
    }
    if (!sl_terminate && !sl_exiting && r->keepalive && clcf->keepalive_timeout > 0) {
        set_keepalive(r);
        return;
    }
    if (clcf->lingering_close == SL_HTTP_LINGERING_ALWAYS
        || (clcf->lingering_close == SL_HTTP_LINGERING_ON
            && (r->lingering_close || r->header_in->pos < r->header_in->last || c->read->ready))) {
        set_lingering_close(r);
        return;
    }
    sl_http_close_request(r, 0);
}

/* Output of r still waits: its own (a filter's, a subrequest's postponed parts), or the
 * client's share of the main request's. */
static int still_sending(sl_http_request_t *r)
{
    return r->buffered || r->postponed || (r == r->main && r->out);
}

static void set_writer(sl_http_request_t *r)
{
    sl_connection_t *c = r->connection;

    c->log->action = "sending response to client";
    r->write_event_handler = writer;
    /* a client that goes away while the response drains is noticed at once (stub_status
     * counts it no more), as nginx */
    r->read_event_handler = r->discard_body ? sl_http_discarded_body_handler : sl_http_test_reading;
    if (!c->write->ready && !c->write->timer_set) {
        sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);
        sl_add_timer(c->write, clcf->send_timeout);
    }
}

/* A subrequest's access log line (log_subrequest on), written once.  0 when it was
 * already logged: a second end of the same subrequest. */
static int log_subrequest(sl_http_request_t *r)
{
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);

    if (r->logged) {
        sl_log_error(SL_LOG_ALERT, r->connection->log, 0, "subrequest: \"%.*s?%.*s\" logged again",
                     SL_STR_ARG(r->uri), SL_STR_ARG(r->args));
        return 0;
    }
    if (clcf->log_subrequest) {
        sl_http_log_request(r);
    }
    r->logged = 1;
    return 1;
}

/*
 * A background subrequest (mirror, cache update) is over: it holds no place in any output,
 * so it only gives back its reference on the main request.  The last one out (the main
 * request already done) ends the connection's request as the main request would have.
 */
static void finalize_background(sl_http_request_t *r, sl_int_t rc)
{
    if (rc > 0 && r->headers_out.status == 0) {
        r->headers_out.status = (sl_uint_t) rc;
    }
    r->read_event_handler = sl_http_request_empty_handler;
    r->write_event_handler = sl_http_request_empty_handler;
    r->postponed = NULL;
    if (!log_subrequest(r)) {
        return;
    }
    r->done = 1;
    finalize_connection(r);
}

/*
 * A subrequest is over.  When it is the active one, its parent takes the connection back
 * and runs again; one that finished before its turn waits for it (the postpone filter
 * activates it, sl_http_request_finalizer then ends it).  It is logged only under
 * log_subrequest on (nginx's default is off).
 */
static void finalize_subrequest(sl_http_request_t *r)
{
    sl_connection_t *c = r->connection;
    sl_http_request_t *pr = r->parent;

    if (r->buffered || r->postponed) {
        set_writer(r);
        return;
    }
    if (r == c->data) {
        if (!log_subrequest(r)) {
            return;
        }
        r->done = 1;
        r->main->count--;
        if (pr->postponed && pr->postponed->request == r) {
            pr->postponed = pr->postponed->next;
        }
        c->data = pr;
    } else {
        r->write_event_handler = sl_http_request_finalizer;
        if (r->waited) {
            r->done = 1;
        }
    }
    if (sl_http_post_request(pr, NULL) != SL_OK) {
        r->main->count++;
        sl_http_terminate_request(r, 0);
    }
}

static int is_error_rc(sl_http_request_t *r, sl_int_t rc)
{
    return rc == SL_ERROR || rc == SL_HTTP_REQUEST_TIME_OUT || rc == SL_HTTP_CLIENT_CLOSED_REQUEST
           || r->connection->error;
}

void sl_http_finalize_request(sl_http_request_t *r, sl_int_t rc)
{
    sl_connection_t *c = r->connection;

    if (rc == SL_DONE) {
        finalize_connection(r);
        return;
    }
    if (rc == SL_OK && r->filter_finalize) {
        c->error = 1;
    }
    if (rc == SL_DECLINED) {
        r->content_handler = NULL;
        r->write_event_handler = sl_http_core_run_phases;
        sl_http_core_run_phases(r);
        return;
    }
    if (r != r->main && r->post_subrequest) {
        rc = r->post_subrequest->handler(r, r->post_subrequest->data, rc);
    }
    if (r->background && (is_error_rc(r, rc) || rc == SL_HTTP_CLOSE)) {
        /* a mirror or a cache update that failed ends alone: the client's response is
         * not its to break */
        finalize_background(r, rc == SL_ERROR ? SL_HTTP_INTERNAL_SERVER_ERROR : rc);
        return;
    }
    if (is_error_rc(r, rc)) {
        sl_http_terminate_request(r, rc);
        return;
    }
    if (rc >= SL_HTTP_SPECIAL_RESPONSE || rc == SL_HTTP_CREATED || rc == SL_HTTP_NO_CONTENT) {
        if (rc == SL_HTTP_CLOSE) {
            c->timedout = 1;
            sl_http_terminate_request(r, rc);
            return;
        }
        sl_http_finalize_request(r, sl_http_special_response_handler(r, rc));
        return;
    }
    if (r->background) {
        finalize_background(r, rc);
        return;
    }
    if (r != r->main) {
        finalize_subrequest(r);
        return;
    }
    if (still_sending(r)) {
        set_writer(r);
        return;
    }
    if (r != c->data) {
        sl_log_error(SL_LOG_ALERT, c->log, 0, "http finalize non-active request: \"%.*s?%.*s\"",
                     SL_STR_ARG(r->uri), SL_STR_ARG(r->args));
        return;
    }
    r->done = 1;
    r->read_event_handler = sl_http_block_reading;
    r->write_event_handler = sl_http_request_empty_handler;
    r->request_complete = 1;
    sl_del_timer(c->read);
    sl_del_timer(c->write);
    c->write->delayed = 0;
    finalize_connection(r);
}

/* The response is written but not all sent: keep writing as the socket drains. */
static void writer(sl_http_request_t *r)
{
    sl_connection_t *c = r->connection;
    sl_event_t *wev = c->write;
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);

    if (wev->timedout) {
        if (wev->delayed) {
            /* limit_rate's pause is over */
            wev->timedout = 0;
            wev->delayed = 0;
            wev->ready = 1;
        } else {
            sl_log_error(SL_LOG_INFO, c->log, ETIMEDOUT, "client timed out");
            c->timedout = 1;
            sl_http_finalize_request(r, SL_HTTP_REQUEST_TIME_OUT);
            return;
        }
    }
    if (wev->delayed) {
        return;
    }
    sl_int_t rc = sl_http_output_filter(r, NULL);
    if (rc == SL_ERROR) {
        sl_http_finalize_request(r, rc);
        return;
    }
    if (still_sending(r)) {
        if (!wev->delayed) {
            sl_add_timer(wev, clcf->send_timeout);
        }
        return;
    }
    r->write_event_handler = sl_http_request_empty_handler;
    sl_http_finalize_request(r, rc);
}
