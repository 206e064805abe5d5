/*
 * sl_http_request.c: from an accepted connection to a parsed request header: waiting for
 * bytes, the request object, reading into the header buffer and the large header buffers,
 * the request line and the header lines.  What the headers mean is sl_http_headers_in.c.
 */
#include <stdio.h>

#include "sl_http_request.h"
#include "sl_http_headers_in.h"
#include "sl_http_ssl.h"
#include "sl_http_variables.h"
#include "sl_pool.h"
#include "sl_http_stat.h"

#define SL_HTTP_REQUEST_POOL_SIZE 8192

static void process_request_headers(sl_event_t *rev);

/* The address the client connected to picks the default server when one socket answers
 * for several addresses (a wildcard). */
static sl_http_addr_t *find_addr(sl_connection_t *c)
{
    sl_http_port_t *port = c->listening->servers;

    if (port->naddrs == 1) {
        return &port->addrs[0];
    }
    if (sl_conn_local_sockaddr(c) != SL_OK) {
        return NULL;
    }
    for (sl_uint_t i = 0; i + 1 < port->naddrs; i++) {
        if (sl_addr_cmp(&port->addrs[i].sockaddr.sa, port->addrs[i].socklen, &c->local_sockaddr.sa,
                        c->local_socklen, 0)
            == 0) {
            return &port->addrs[i];
        }
    }
    return &port->addrs[port->naddrs - 1];
}

void sl_http_close_connection(sl_connection_t *c)
{
    sl_pool_t *pool = c->pool;

    sl_http_stat_add(active, -1);
    sl_close_connection(c);
    sl_pool_destroy(pool);
}

void sl_http_init_connection(sl_connection_t *c)
{
    sl_http_connection_t *hc = sl_pcalloc(c->pool, sizeof(sl_http_connection_t));
    sl_http_addr_t *addr = hc ? find_addr(c) : NULL;

    sl_http_stat_add(accepted, 1);
    sl_http_stat_add(handled, 1);
    sl_http_stat_add(active, 1);
    if (addr == NULL) {
        sl_http_close_connection(c);
        return;
    }
    hc->addr = addr;
    hc->default_server = addr->default_server;
    hc->conf_ctx = addr->default_server->ctx;
    hc->log_ctx.connection = c;
    c->data = hc;
    c->log->data = &hc->log_ctx;
    c->log->handler = sl_http_log_error;
    c->log->action = "waiting for request";
    c->read->handler = sl_http_wait_request_handler;
    c->write->handler = sl_event_empty_handler;
    c->idle = 1;
    sl_reusable_connection(c, 1);
    sl_add_timer(c->read, hc->default_server->client_header_timeout);
    if (sl_http_ssl_wanted(hc)) {
        sl_http_ssl_init_connection(c);
        return;
    }
    if (c->read->ready || c->read->pending_eof) {
        sl_http_wait_request_handler(c->read);
    }
}

/* The connection's small header buffer, allocated only when bytes arrive. */
static sl_int_t ensure_header_buffer(sl_connection_t *c, size_t size)
{
    sl_buf_t *b = c->buffer;

    if (b == NULL) {
        b = sl_calloc_buf(c->pool);
        if (b == NULL) {
            return SL_ERROR;
        }
        c->buffer = b;
    }
    if (b->start == NULL) {
        b->start = sl_palloc(c->pool, size);
        if (b->start == NULL) {
            return SL_ERROR;
        }
        b->pos = b->start;
        b->last = b->start;
        b->end = b->start + size;
        b->temporary = 1;
    }
    return SL_OK;
}

/* Gives the idle buffer's memory back, so an idle connection holds almost nothing. */
void sl_http_release_header_buffer(sl_connection_t *c)
{
    sl_buf_t *b = c->buffer;

    if (b && b->start && b->pos == b->last) {
        sl_pfree(c->pool, b->start);
        b->start = NULL;
        b->pos = NULL;
        b->last = NULL;
        b->end = NULL;
    }
}

void sl_http_wait_request_handler(sl_event_t *rev)
{
    sl_connection_t *c = rev->data;
    sl_http_connection_t *hc = c->data;

    if (rev->timedout) {
        sl_log_error(SL_LOG_INFO, c->log, ETIMEDOUT, "client timed out");
        sl_http_close_connection(c);
        return;
    }
    /* Asked to close (graceful stop, reload, a full connection table): a client that has
     * already sent its request is still answered, so a reload refuses nothing that reached
     * this process.  nginx closes such a connection unread. */
    int closing = c->close;
    if (ensure_header_buffer(c, hc->default_server->client_header_buffer_size) != SL_OK) {
        sl_http_close_connection(c);
        return;
    }
    sl_buf_t *b = c->buffer;
    ssize_t n = c->io->recv(c, b->last, (size_t) (b->end - b->last));
    if (n == SL_AGAIN && closing) {
        sl_http_close_connection(c);
        return;
    }
    if (n == SL_AGAIN) {
        if (!rev->timer_set) {
            sl_add_timer(rev, hc->default_server->client_header_timeout);
        }
        sl_http_release_header_buffer(c);
        return;
    }
    if (n == SL_ERROR || n == 0) {
        if (n == 0) {
            sl_log_error(SL_LOG_INFO, c->log, 0, "client closed connection");
        }
        sl_http_close_connection(c);
        return;
    }
    b->last += n;
    c->close = 0;
    c->log->action = "reading client request line";
    c->idle = 0;
    sl_reusable_connection(c, 0);
    c->data = sl_http_create_request(c);
    if (c->data == NULL) {
        sl_http_close_connection(c);
        return;
    }
    rev->handler = sl_http_process_request_line;
    sl_http_process_request_line(rev);
}

static sl_int_t init_request_lists(sl_http_request_t *r)
{
    if (sl_list_init(&r->headers_out.headers, r->pool, 20, sizeof(sl_table_elt_t)) != SL_OK
        || sl_list_init(&r->headers_out.trailers, r->pool, 4, sizeof(sl_table_elt_t)) != SL_OK) {
        return SL_ERROR;
    }
    sl_http_core_main_conf_t *cmcf = sl_http_get_module_main_conf(r, sl_http_core_module);
    r->variables = sl_pcalloc(r->pool, cmcf->variables.nelts * sizeof(sl_http_variable_value_t));
    return r->variables || cmcf->variables.nelts == 0 ? SL_OK : SL_ERROR;
}

sl_http_request_t *sl_http_create_request(sl_connection_t *c)
{
    sl_http_connection_t *hc = c->data;
    sl_pool_t *pool = sl_pool_create(SL_HTTP_REQUEST_POOL_SIZE, c->log);

    if (pool == NULL) {
        return NULL;
    }
    sl_http_request_t *r = sl_pcalloc(pool, sizeof(sl_http_request_t));
    if (r == NULL) {
        sl_pool_destroy(pool);
        return NULL;
    }
    r->pool = pool;
    r->connection = c;
    r->http_connection = hc;
    r->main_conf = hc->conf_ctx->main_conf;
    r->srv_conf = hc->conf_ctx->srv_conf;
    r->loc_conf = hc->conf_ctx->loc_conf;
    r->header_in = c->buffer;
    r->ctx = sl_pcalloc(pool, sl_http_module_count() * sizeof(void *));
    if (r->ctx == NULL || init_request_lists(r) != SL_OK) {
        sl_pool_destroy(pool);
        return NULL;
    }
    r->main = r;
    r->count = 1;
    r->start_sec = sl_cached_time_sec;
    r->start_msec = sl_current_msec;
    r->method = SL_HTTP_UNKNOWN;
    r->http_version = SL_HTTP_VERSION_10;
    r->headers_in.content_length_n = -1;
    r->headers_in.keep_alive_n = -1;
    r->headers_out.content_length_n = -1;
    r->headers_out.last_modified_time = -1;
    r->uri_changes = SL_HTTP_MAX_URI_CHANGES + 1;
    r->http_state = SL_HTTP_READING_REQUEST_STATE;
    r->read_event_handler = sl_http_block_reading;
    hc->log_ctx.request = r;
    c->requests++;
    r->stat_reading = 1;
    sl_http_stat_add(reading, 1);
    sl_http_stat_add(requests, 1);
    return r;
}

/*
 * Reads more of the header into r->header_in.  Returns the bytes available to parse (> 0),
 * SL_AGAIN (armed the timeout), or SL_ERROR (the request is finalized).
 */
static ssize_t read_request_header(sl_http_request_t *r)
{
    sl_connection_t *c = r->connection;
    sl_event_t *rev = c->read;
    ssize_t n = r->header_in->last - r->header_in->pos;

    if (n > 0) {
        return n;
    }
    n = rev->ready || rev->pending_eof
            ? c->io->recv(c, r->header_in->last, (size_t) (r->header_in->end - r->header_in->last))
            : SL_AGAIN;
    if (n == SL_AGAIN) {
        if (!rev->timer_set) {
            sl_http_core_srv_conf_t *cscf = sl_http_get_module_srv_conf(r, sl_http_core_module);
            sl_add_timer(rev, cscf->client_header_timeout);
        }
        return SL_AGAIN;
    }
    if (n == 0) {
        sl_log_error(SL_LOG_INFO, c->log, 0, "client prematurely closed connection");
    }
    if (n == 0 || n == SL_ERROR) {
        c->error = 1;
        c->log->action = "reading client request headers";
        sl_http_finalize_request(r, SL_HTTP_BAD_REQUEST);
        return SL_ERROR;
    }
    r->header_in->last += n;
    return n;
}

/* A request line or header that timed out: nginx closes without a response. */
static int header_timed_out(sl_event_t *rev)
{
    sl_connection_t *c = rev->data;

    if (!rev->timedout) {
        return 0;
    }
    sl_log_error(SL_LOG_INFO, c->log, ETIMEDOUT, "client timed out");
    c->timedout = 1;
    sl_http_close_request(c->data, SL_HTTP_REQUEST_TIME_OUT);
    return 1;
}

static void reject(sl_http_request_t *r, const char *msg, sl_uint_t status)
{
    sl_log_error(SL_LOG_INFO, r->connection->log, 0, "%s", msg);
    if (status == SL_HTTP_VERSION_NOT_SUPPORTED || status == SL_HTTP_BAD_REQUEST) {
        r->lingering_close = 1;
    }
    sl_http_finalize_request(r, status);
}

static void parse_error(sl_http_request_t *r, sl_int_t rc)
{
    switch (rc) {
    case SL_HTTP_PARSE_INVALID_VERSION:
        reject(r, "client sent invalid version", SL_HTTP_VERSION_NOT_SUPPORTED);
        break;
    case SL_HTTP_PARSE_INVALID_METHOD:
        reject(r, "client sent invalid method", SL_HTTP_BAD_REQUEST);
        break;
    case SL_HTTP_PARSE_INVALID_09_METHOD:
        reject(r, "client sent invalid method in HTTP/0.9 request", SL_HTTP_BAD_REQUEST);
        break;
    default:
        reject(r, "client sent invalid request", SL_HTTP_BAD_REQUEST);
        break;
    }
}

void sl_http_process_request_line(sl_event_t *rev)
{
    sl_connection_t *c = rev->data;
    sl_http_request_t *r = c->data;

    if (header_timed_out(rev)) {
        return;
    }
    for (;;) {
        ssize_t n = read_request_header(r);
        if (n == SL_AGAIN || n == SL_ERROR) {
            return;
        }
        sl_int_t rc = sl_http_parse_request_line(&r->parse, r->header_in);
        if (rc == SL_OK) {
            if (sl_http_process_request_uri(r) != SL_OK) {
                return;
            }
            c->log->action = "reading client request headers";
            rev->handler = process_request_headers;
            process_request_headers(rev);
            return;
        }
        if (rc != SL_AGAIN) {
            parse_error(r, rc);
            return;
        }
        if (r->header_in->pos == r->header_in->end && r->parse.request_start == NULL) {
            /* only empty lines so far: nothing to keep, start the buffer over */
            r->header_in->pos = r->header_in->start;
            r->header_in->last = r->header_in->start;
            continue;
        }
        if (r->header_in->pos == r->header_in->end) {
            sl_int_t rv = sl_http_alloc_large_header_buffer(r, 1);
            if (rv == SL_ERROR) {
                sl_http_close_request(r, SL_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }
            if (rv == SL_DECLINED) {
                r->request_line.len = (size_t) (r->header_in->end - r->parse.request_start);
                r->request_line.data = r->parse.request_start;
                reject(r, "client sent too long URI", SL_HTTP_REQUEST_URI_TOO_LARGE);
                return;
            }
        }
    }
}

static void header_too_large(sl_http_request_t *r)
{
    u_char *p = r->header_name_start ? r->header_name_start : r->header_in->pos;
    size_t len = (size_t) (r->header_in->end - p);
    u_char *colon = memchr(p, ':', len);

    if (colon) {
        len = (size_t) (colon - p);
    }
    sl_log_error(SL_LOG_INFO, r->connection->log, 0,
                 "client sent too long header line: \"%.*s...\"", (int) sl_min(len, 32),
                 (char *) p);
    r->lingering_close = 1;
    sl_http_finalize_request(r, SL_HTTP_REQUEST_HEADER_TOO_LARGE);
}

static void process_request_headers(sl_event_t *rev)
{
    sl_connection_t *c = rev->data;
    sl_http_request_t *r = c->data;
    sl_http_core_srv_conf_t *cscf = sl_http_get_module_srv_conf(r, sl_http_core_module);

    if (header_timed_out(rev)) {
        return;
    }
    for (;;) {
        if (r->header_in->pos == r->header_in->end) {
            sl_int_t rv = sl_http_alloc_large_header_buffer(r, 0);
            if (rv == SL_ERROR) {
                sl_http_close_request(r, SL_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }
            if (rv == SL_DECLINED) {
                header_too_large(r);
                return;
            }
        }
        ssize_t n = read_request_header(r);
        if (n == SL_AGAIN || n == SL_ERROR) {
            return;
        }
        if (r->parse.state == 0) {
            /* the start of a line: what moves to a large buffer if the line is cut */
            r->header_name_start = r->header_in->pos;
        }
        sl_int_t rc =
            sl_http_parse_header_line(&r->parse, r->header_in, (int) cscf->underscores_in_headers);
        if (rc == SL_OK) {
            r->request_length += r->header_in->pos - r->header_name_start;
            if (sl_http_add_request_header(r, cscf) != SL_OK) {
                return;
            }
            continue;
        }
        if (rc == SL_HTTP_PARSE_HEADER_DONE) {
            r->request_length += r->header_in->pos - r->header_name_start;
            r->http_state = SL_HTTP_PROCESS_REQUEST_STATE;
            if (sl_http_process_request_header(r) == SL_OK) {
                sl_http_process_request(r);
            }
            return;
        }
        if (rc == SL_AGAIN) {
            continue;
        }
        reject(r, "client sent invalid header line", SL_HTTP_BAD_REQUEST);
        return;
    }
}

/* Moves p by delta when it points into the moved region. */
#define MOVE(p)                                                                                    \
    if ((p) != NULL && (p) >= old && (p) <= end) {                                                 \
        (p) = (p) -old + new;                                                                      \
    }

static void move_parse_pointers(sl_http_request_t *r, u_char *old, u_char *end, u_char *new)
{
    sl_http_parse_t *p = &r->parse;

    MOVE(p->request_start);
    MOVE(p->request_end);
    MOVE(p->method_start);
    MOVE(p->method_end);
    MOVE(p->uri_start);
    MOVE(p->uri_end);
    MOVE(p->schema_start);
    MOVE(p->schema_end);
    MOVE(p->host_start);
    MOVE(p->host_end);
    MOVE(p->port_start);
    MOVE(p->port_end);
    MOVE(p->path_start);
    MOVE(p->path_end);
    MOVE(p->args_start);
    MOVE(p->args_end);
    MOVE(p->uri_ext);
    MOVE(p->header_name_start);
    MOVE(p->header_name_end);
    MOVE(p->header_start);
    MOVE(p->header_end);
    MOVE(r->header_name_start);
}

sl_int_t sl_http_alloc_large_header_buffer(sl_http_request_t *r, int request_line)
{
    sl_http_core_srv_conf_t *cscf = sl_http_get_module_srv_conf(r, sl_http_core_module);
    sl_buf_t *b = r->header_in;
    u_char *old = request_line ? r->parse.request_start : r->header_name_start;

    if (old == NULL) {
        old = b->pos;
    }
    size_t keep = (size_t) (b->pos - old);
    if (keep >= cscf->large_client_header_buffers.size
        || r->large_buffers >= (sl_uint_t) cscf->large_client_header_buffers.num) {
        return SL_DECLINED;
    }
    sl_buf_t *nb = sl_create_temp_buf(r->pool, cscf->large_client_header_buffers.size);
    if (nb == NULL) {
        return SL_ERROR;
    }
    r->large_buffers++;
    memcpy(nb->start, old, keep);
    move_parse_pointers(r, old, b->pos, nb->start);
    nb->pos = nb->start + keep;
    nb->last = nb->pos;
    r->header_in = nb;
    return SL_OK;
}

static u_char *log_append(u_char *p, u_char *last, const char *fmt, const sl_str_t *v)
{
    if (p >= last) {
        return p;
    }
    int n = snprintf((char *) p, (size_t) (last - p), fmt, SL_STR_ARG(*v));
    return n < 0 ? p : p + sl_min((size_t) n, (size_t) (last - p) - 1);
}

u_char *sl_http_log_error(sl_log_t *log, u_char *buf, size_t len)
{
    sl_http_log_ctx_t *ctx = log->data;
    sl_connection_t *c = ctx->connection;
    sl_http_request_t *r = ctx->request;
    u_char *p = buf, *last = buf + len;

    p = log_append(p, last, ", client: %.*s", &c->addr_text);
    if (r == NULL) {
        return log_append(p, last, ", server: %.*s", &c->listening->addr_text);
    }
    sl_http_core_srv_conf_t *cscf = sl_http_get_module_srv_conf(r, sl_http_core_module);
    p = log_append(p, last, ", server: %.*s", &cscf->server_name);
    if (r->request_line.data) {
        p = log_append(p, last, ", request: \"%.*s\"", &r->request_line);
    }
    if (ctx->log_upstream) {
        p = ctx->log_upstream(r, p, (size_t) (last - p));
    }
    if (r->headers_in.host) {
        p = log_append(p, last, ", host: \"%.*s\"", &r->headers_in.host->value);
    }
    if (r->headers_in.referer) {
        p = log_append(p, last, ", referrer: \"%.*s\"", &r->headers_in.referer->value);
    }
    return p;
}
