/*
 * sl_http_phases.c: the phase engine a request runs through once its header is read
 * (rewrite, find the location, access, content, log), and the connection's event handlers
 * while a request is active.
 */
#include "sl_http_request.h"
#include "sl_http_headers_in.h"
#include "sl_http_locations.h"
#include "sl_http_ssl.h"
#include "sl_pool.h"
#include "sl_http_stat.h"

static sl_int_t generic_checker(sl_http_request_t *r, sl_http_phase_handler_t *ph);
/* auth_delay: the write handler while an unauthorized answer waits. */
static void auth_delay_handler(sl_http_request_t *r)
{
    sl_event_t *wev = r->connection->write;

    if (!wev->timedout) {
        return;
    }
    wev->timedout = 0;
    wev->delayed = 0;
    r->write_event_handler = sl_http_core_run_phases;
    sl_http_finalize_request(r, SL_HTTP_UNAUTHORIZED);
}

/* A 401 from the access phase, after auth_delay when one is set (so a guess costs time
 * whatever the answer).  Returns SL_OK for the checker. */
static sl_int_t unauthorized(sl_http_request_t *r)
{
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);

    if (clcf->auth_delay == 0) {
        sl_http_finalize_request(r, SL_HTTP_UNAUTHORIZED);
        return SL_OK;
    }
    sl_log_error(SL_LOG_INFO, r->connection->log, 0, "delaying unauthorized request");
    r->read_event_handler = sl_http_test_reading;
    r->write_event_handler = auth_delay_handler;
    r->connection->write->delayed = 1;
    sl_add_timer(r->connection->write, clcf->auth_delay);
    return SL_OK;
}

/* The access phase's answers combine as "satisfy" says.  all: every handler must let the
 * request on (SL_OK or SL_DECLINED), the first other answer finalizes it.  any: the first
 * SL_OK lets it on (skipping the other access handlers, and dropping a challenge an earlier
 * one set); a 401 or 403 is kept (401 over 403) for the post-access step, in case a later
 * handler allows.  Subrequests are not checked again. */
static sl_int_t access_checker(sl_http_request_t *r, sl_http_phase_handler_t *ph)
{
    if (r != r->main) {
        r->phase_handler = (sl_int_t) ph->next;
        return SL_AGAIN;
    }
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);
    sl_int_t rc = ph->handler(r);
    if (rc == SL_DECLINED) {
        r->phase_handler++;
        return SL_AGAIN;
    }
    if (clcf->satisfy == SL_HTTP_SATISFY_ALL) {
        if (rc == SL_OK) {
            r->phase_handler++;
            return SL_AGAIN;
        }
    } else {
        if (rc == SL_OK) {
            r->access_code = 0;
            if (r->headers_out.www_authenticate) {
                r->headers_out.www_authenticate->hash = 0;
            }
            r->phase_handler = (sl_int_t) ph->next;
            return SL_AGAIN;
        }
        if (rc == SL_HTTP_FORBIDDEN || rc == SL_HTTP_UNAUTHORIZED) {
            if (r->access_code != SL_HTTP_UNAUTHORIZED) {
                r->access_code = (sl_uint_t) rc;
            }
            r->phase_handler++;
            return SL_AGAIN;
        }
    }
    if (rc == SL_AGAIN || rc == SL_DONE) {
        return SL_OK;
    }
    if (rc == SL_HTTP_UNAUTHORIZED) {
        return unauthorized(r);
    }
    sl_http_finalize_request(r, rc);
    return SL_OK;
}

/* After the access handlers under "satisfy any": none allowed, so the refusal kept stands. */
static sl_int_t post_access_checker(sl_http_request_t *r, sl_http_phase_handler_t *ph)
{
    sl_uint_t code = r->access_code;

    if (code == 0) {
        r->phase_handler++;
        return SL_AGAIN;
    }
    r->access_code = 0;
    if (code == SL_HTTP_FORBIDDEN) {
        sl_log_error(SL_LOG_ERR, r->connection->log, 0, "access forbidden by rule");
    }
    if (code == SL_HTTP_UNAUTHORIZED) {
        return unauthorized(r);
    }
    sl_http_finalize_request(r, (sl_int_t) code);
    return SL_OK;
}

static sl_int_t rewrite_checker(sl_http_request_t *r, sl_http_phase_handler_t *ph);
static sl_int_t find_config_checker(sl_http_request_t *r, sl_http_phase_handler_t *ph);
static sl_int_t post_rewrite_checker(sl_http_request_t *r, sl_http_phase_handler_t *ph);
static sl_int_t access_checker(sl_http_request_t *r, sl_http_phase_handler_t *ph);
static sl_int_t content_checker(sl_http_request_t *r, sl_http_phase_handler_t *ph);

static sl_uint_t http_modules_n;

sl_uint_t sl_http_module_count(void)
{
    return http_modules_n;
}

static sl_http_phase_checker_pt checker_for(sl_uint_t phase)
{
    switch (phase) {
    case SL_HTTP_SERVER_REWRITE_PHASE:
    case SL_HTTP_REWRITE_PHASE:
        return rewrite_checker;
    case SL_HTTP_ACCESS_PHASE:
        return access_checker;
    case SL_HTTP_CONTENT_PHASE:
        return content_checker;
    default:
        return generic_checker;
    }
}

/* Flattens the registered handlers into one array: each phase's handlers, with the
 * find-config and post-rewrite steps the core always runs. */
sl_int_t sl_http_init_phase_handlers(sl_conf_t *cf, sl_http_core_main_conf_t *cmcf)
{
    /* find config, post rewrite, post access, a content entry when no module has one, the
     * end marker */
    sl_uint_t n = 5;

    http_modules_n = sl_count_modules(cf->cycle, SL_HTTP_MODULE);
    for (sl_uint_t i = 0; i < SL_HTTP_NPHASES; i++) {
        if (i != SL_HTTP_LOG_PHASE) {
            n += cmcf->phases[i].nelts;
        }
    }
    sl_http_phase_handler_t *ph = sl_pcalloc(cf->pool, (n + 1) * sizeof(sl_http_phase_handler_t));
    if (ph == NULL) {
        return SL_ERROR;
    }
    cmcf->phase_engine = ph;
    sl_uint_t k = 0;
    for (sl_uint_t i = 0; i < SL_HTTP_LOG_PHASE; i++) {
        if (i == SL_HTTP_SERVER_REWRITE_PHASE) {
            cmcf->server_rewrite_index = k;
        }
        if (i == SL_HTTP_REWRITE_PHASE) {
            cmcf->location_rewrite_index = k;
        }
        if (i == SL_HTTP_FIND_CONFIG_PHASE) {
            cmcf->find_config_index = k;
            ph[k++].checker = find_config_checker;
            continue;
        }
        if (i == SL_HTTP_POST_REWRITE_PHASE) {
            ph[k++].checker = post_rewrite_checker;
            continue;
        }
        if (i == SL_HTTP_POST_ACCESS_PHASE && cmcf->phases[SL_HTTP_ACCESS_PHASE].nelts) {
            ph[k++].checker = post_access_checker;
            continue;
        }
        sl_uint_t first = k;
        sl_int_t (**h)(sl_http_request_t *) = cmcf->phases[i].elts;
        for (sl_uint_t j = 0; j < cmcf->phases[i].nelts; j++, k++) {
            ph[k].checker = checker_for(i);
            ph[k].handler = h[j];
        }
        if (i == SL_HTTP_CONTENT_PHASE && cmcf->phases[i].nelts == 0) {
            /* a location's own handler (return, proxy_pass) still needs the checker */
            ph[k++].checker = content_checker;
        }
        for (sl_uint_t j = first; j < k; j++) {
            ph[j].next = k;
        }
    }
    return SL_OK;
}

void sl_http_core_run_phases(sl_http_request_t *r)
{
    sl_http_core_main_conf_t *cmcf = sl_http_get_module_main_conf(r, sl_http_core_module);
    sl_http_phase_handler_t *ph = cmcf->phase_engine;

    while (ph[r->phase_handler].checker) {
        if (ph[r->phase_handler].checker(r, &ph[r->phase_handler]) == SL_OK) {
            return;
        }
    }
}

/* Checkers return SL_AGAIN to go on with the next entry (phase_handler already moved) and
 * SL_OK to stop running phases (the request continues elsewhere or is finalized). */
static sl_int_t generic_checker(sl_http_request_t *r, sl_http_phase_handler_t *ph)
{
    sl_int_t rc = ph->handler(r);

    if (rc == SL_OK) {
        r->phase_handler = (sl_int_t) ph->next;
        return SL_AGAIN;
    }
    if (rc == SL_DECLINED) {
        r->phase_handler++;
        return SL_AGAIN;
    }
    if (rc == SL_AGAIN || rc == SL_DONE) {
        return SL_OK;
    }
    sl_http_finalize_request(r, rc);
    return SL_OK;
}

static sl_int_t rewrite_checker(sl_http_request_t *r, sl_http_phase_handler_t *ph)
{
    sl_int_t rc = ph->handler(r);

    if (rc == SL_DECLINED) {
        r->phase_handler++;
        return SL_AGAIN;
    }
    if (rc == SL_DONE) {
        return SL_OK;
    }
    /* SL_OK, SL_AGAIN, errors and HTTP statuses end the phases */
    sl_http_finalize_request(r, rc);
    return SL_OK;
}

static sl_int_t body_too_large(sl_http_request_t *r, sl_http_core_loc_conf_t *clcf)
{
    if (r->headers_in.content_length_n == -1 || clcf->client_max_body_size == 0
        || r->headers_in.content_length_n <= clcf->client_max_body_size) {
        return 0;
    }
    sl_log_error(SL_LOG_ERR, r->connection->log, 0,
                 "client intended to send too large body: %lld bytes",
                 (long long) r->headers_in.content_length_n);
    r->expect_tested = 1;
    sl_http_discard_request_body(r);
    sl_http_finalize_request(r, SL_HTTP_REQUEST_ENTITY_TOO_LARGE);
    return 1;
}

static sl_int_t find_config_checker(sl_http_request_t *r, sl_http_phase_handler_t *ph)
{
    r->content_handler = NULL;
    r->uri_changed = 0;
    sl_int_t rc = sl_http_find_location(r);
    if (rc == SL_ERROR) {
        sl_http_finalize_request(r, SL_HTTP_INTERNAL_SERVER_ERROR);
        return SL_OK;
    }
    /* the uri matches this location (until a "rewrite ... break" changes it) */
    r->valid_location = 1;
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);
    if (!r->internal && clcf->internal) {
        sl_http_finalize_request(r, SL_HTTP_NOT_FOUND);
        return SL_OK;
    }
    sl_http_update_location_config(r);
    if (body_too_large(r, clcf)) {
        return SL_OK;
    }
    if (rc == SL_DONE) {
        return sl_http_auto_redirect(r);
    }
    r->phase_handler++;
    return SL_AGAIN;
}

static sl_int_t post_rewrite_checker(sl_http_request_t *r, sl_http_phase_handler_t *ph)
{
    sl_http_core_main_conf_t *cmcf = sl_http_get_module_main_conf(r, sl_http_core_module);

    if (!r->uri_changed) {
        r->phase_handler++;
        return SL_AGAIN;
    }
    /* Each rewrite costs one of the ten changes nginx allows, to stop loops. */
    r->uri_changes--;
    if (r->uri_changes == 0) {
        sl_log_error(SL_LOG_ERR, r->connection->log, 0,
                     "rewrite or internal redirection cycle while processing \"%.*s\"",
                     SL_STR_ARG(r->uri));
        sl_http_finalize_request(r, SL_HTTP_INTERNAL_SERVER_ERROR);
        return SL_OK;
    }
    r->phase_handler = (sl_int_t) cmcf->find_config_index;
    return SL_AGAIN;
}

static sl_int_t content_checker(sl_http_request_t *r, sl_http_phase_handler_t *ph)
{
    if (r->content_handler) {
        r->write_event_handler = sl_http_request_empty_handler;
        sl_http_finalize_request(r, r->content_handler(r));
        return SL_OK;
    }
    if (ph->handler) {
        sl_int_t rc = ph->handler(r);
        if (rc != SL_DECLINED) {
            sl_http_finalize_request(r, rc);
            return SL_OK;
        }
    }
    r->phase_handler++;
    if (ph[1].checker == content_checker) {
        return SL_AGAIN;
    }
    /* no handler took it: a directory without index is forbidden, anything else missing */
    if (r->uri.len && r->uri.data[r->uri.len - 1] == '/') {
        sl_str_t path;
        size_t root;
        /* nginx names the directory on disk */
        if (sl_http_map_uri_to_path(r, &path, &root, 0) != SL_OK) {
            path = r->uri;
        }
        sl_log_error(SL_LOG_ERR, r->connection->log, 0, "directory index of \"%.*s\" is forbidden",
                     SL_STR_ARG(path));
        sl_http_finalize_request(r, SL_HTTP_FORBIDDEN);
        return SL_OK;
    }
    sl_log_error(SL_LOG_ERR, r->connection->log, 0, "no handler found");
    sl_http_finalize_request(r, SL_HTTP_NOT_FOUND);
    return SL_OK;
}

static void request_handler(sl_event_t *ev)
{
    sl_connection_t *c = ev->data;
    sl_http_request_t *r = c->data;

    if (c->close) {
        r->main->count++;
        sl_http_terminate_request(r, 0);
        sl_http_run_posted_requests(c);
        return;
    }
    /* the connection's events go to its active request (a subrequest while its output
     * is the one being sent) */
    r->http_connection->log_ctx.request = r;
    if (ev->write) {
        r->write_event_handler(r);
    } else {
        r->read_event_handler(r);
    }
    sl_http_run_posted_requests(c);
}

void sl_http_process_request(sl_http_request_t *r)
{
    sl_connection_t *c = r->connection;

    /* TLS verdicts first, logged while the header is still being read, as nginx */
    if ((c->ssl || r->http_connection->plain_on_ssl) && sl_http_ssl_check_request(r) != SL_OK) {
        return;
    }
    if (c->read->timer_set) {
        sl_del_timer(c->read);
    }
    if (r->stat_reading) {
        r->stat_reading = 0;
        sl_http_stat_add(reading, -1);
    }
    r->stat_writing = 1;
    sl_http_stat_add(writing, 1);
    c->read->handler = request_handler;
    c->write->handler = request_handler;
    r->read_event_handler = sl_http_block_reading;
    r->write_event_handler = sl_http_core_run_phases;
    c->log->action = NULL;
    switch (r->headers_in.connection_type) {
    case SL_HTTP_CONNECTION_CLOSE:
        r->keepalive = 0;
        break;
    case SL_HTTP_CONNECTION_KEEP_ALIVE:
        r->keepalive = 1;
        break;
    default:
        r->keepalive = r->http_version > SL_HTTP_VERSION_10;
        break;
    }
    /* with a body in flight, closing early would reset the response: linger */
    r->lingering_close = r->headers_in.content_length_n > 0 || r->headers_in.chunked;
    r->phase_handler = 0;
    r->subrequests = SL_HTTP_MAX_SUBREQUESTS + 1;
    sl_http_core_run_phases(r);
    sl_http_run_posted_requests(c);
}

void sl_http_request_empty_handler(sl_http_request_t *r)
{
}

/* Level-triggered semantics are not needed with edge-triggered epoll: nothing to remove;
 * a client closing while we are busy is noticed by the next read or write. */
void sl_http_block_reading(sl_http_request_t *r)
{
}

int sl_http_client_closed(sl_http_request_t *r)
{
    return r->connection->read->pending_eof;
}

sl_err_t sl_http_client_error(sl_http_request_t *r)
{
    return sl_conn_pending_error(r->connection);
}

/* While the response is being produced: a client that closes is detected so the work can
 * stop (the proxy's ignore_client_abort decides what that means). */
void sl_http_test_reading(sl_http_request_t *r)
{
    sl_connection_t *c = r->connection;
    sl_err_t err = 0;

    if (!sl_http_client_closed(r) && !c->read->ready) {
        return;
    }
    sl_int_t rc = c->io->peek(c, &err);
    if (rc == SL_DONE || rc == SL_ERROR) {
        c->read->eof = 1;
        c->error = 1;
        sl_log_error(SL_LOG_INFO, c->log, err, "client prematurely closed connection");
        sl_http_finalize_request(r, SL_HTTP_CLIENT_CLOSED_REQUEST);
        return;
    }
    c->read->ready = 0;
}
