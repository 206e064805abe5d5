/*
 * sl_http_write_filter.c: the last body filter: gathers what to send, holds back small
 * pieces (postpone_output) until a flush or the end, applies limit_rate, and sends with
 * the connection's send_chain (on plain TCP: writev, sendfile).
 */
#include "sl_http_output.h"
#include "sl_http_variables.h"
#include "sl_pool.h"

/* Appends copies of the links of in to r->out; returns what r->out now holds. */
static sl_int_t append(sl_http_request_t *r, sl_chain_t *in, off_t *size, int *flush, int *last)
{
    sl_chain_t **ll = &r->out;

    *size = 0;
    *flush = 0;
    *last = 0;
    for (sl_chain_t *cl = r->out; cl; cl = cl->next) {
        ll = &cl->next;
    }
    for (; in; in = in->next) {
        sl_chain_t *cl = sl_alloc_chain_link(r->pool);
        if (cl == NULL) {
            return SL_ERROR;
        }
        cl->buf = in->buf;
        cl->next = NULL;
        *ll = cl;
        ll = &cl->next;
    }
    for (sl_chain_t *cl = r->out; cl; cl = cl->next) {
        *size += sl_buf_special(cl->buf) ? 0 : sl_buf_size(cl->buf);
        *flush |= cl->buf->flush || cl->buf->sync;
        *last |= cl->buf->last_buf;
    }
    return SL_OK;
}

/*
 * The location's limit_rate and limit_rate_after take effect at the first write, unless
 * $limit_rate or X-Accel-Limit-Rate set the rate before: so, as in nginx 1.22, $limit_rate
 * reads 0 until the response starts going out (in "return" text or add_header) and the
 * location's rate afterwards (in the access log).
 */
static void apply_location_rate(sl_http_request_t *r, sl_http_core_loc_conf_t *clcf)
{
    if (!r->limit_rate_set) {
        r->limit_rate = sl_http_complex_value_size(r, clcf->limit_rate, 0);
        r->limit_rate_set = 1;
    }
    if (r->limit_rate && !r->limit_rate_after_set) {
        r->limit_rate_after = sl_http_complex_value_size(r, clcf->limit_rate_after, 0);
        r->limit_rate_after_set = 1;
    }
}

/* Bytes limit_rate allows now; 0 means wait (the write event is delayed). */
static off_t rate_allowance(sl_http_request_t *r, sl_connection_t *c, off_t size)
{
    if (r->limit_rate == 0) {
        return size;
    }
    /* nginx's budget: rate per started second, after the first limit_rate_after bytes */
    off_t budget = (off_t) r->limit_rate * (sl_cached_time_sec - r->start_sec + 1)
                   - (c->sent - (off_t) r->limit_rate_after);
    if (budget <= 0) {
        sl_msec_t delay = (sl_msec_t) (-budget * 1000 / (off_t) r->limit_rate) + 1;
        c->write->delayed = 1;
        sl_add_timer(c->write, delay);
        return 0;
    }
    return budget < size ? budget : size;
}

static void free_sent_links(sl_http_request_t *r, sl_chain_t *rest)
{
    while (r->out && r->out != rest) {
        sl_chain_t *cl = r->out;
        r->out = cl->next;
        sl_free_chain_link(r->pool, cl);
    }
}

/* Whether memory data (a header, a chunk size line) goes out ahead of a file part. */
static int memory_before_file(sl_chain_t *cl)
{
    int memory = 0;

    for (; cl; cl = cl->next) {
        if (cl->buf->in_file) {
            if (memory) {
                return 1;
            }
        } else if (sl_buf_size(cl->buf) > 0) {
            memory = 1;
        }
    }
    return 0;
}

/*
 * tcp_nopush (file parts are sent with sendfile): the header and the file's start leave in
 * full packets.  The cork stays on until the connection goes keepalive, where it is lifted,
 * or closes.  As nginx 1.22 on Linux, not on a connection that has TCP_NODELAY already (an
 * earlier keepalive set it), nor once a request on it ran where tcp_nopush is off.
 */
static sl_int_t cork(sl_connection_t *c, sl_http_core_loc_conf_t *clcf, sl_chain_t *out)
{
    if (!clcf->tcp_nopush || c->tcp_nopush != SL_TCP_NOPUSH_UNSET || c->tcp_nodelay
        || !memory_before_file(out)) {
        return SL_OK;
    }
    return sl_conn_tcp_nopush(c);
}

/*
 * sendfile_max_chunk: one call sends at most that much when file parts go out with
 * sendfile(), so a fast client of a large file does not keep the worker from the others.
 * Returns the bound, or `limit` when there is none.
 */
static off_t sendfile_chunk(sl_connection_t *c, sl_http_core_loc_conf_t *clcf, sl_chain_t *out,
                            off_t limit)
{
    if (!clcf->sendfile || !c->io->sendfile || clcf->sendfile_max_chunk == 0) {
        return limit;
    }
    for (sl_chain_t *cl = out; cl; cl = cl->next) {
        if (cl->buf->in_file && !sl_buf_in_memory(cl->buf)) {
            return sl_min(limit, (off_t) clcf->sendfile_max_chunk);
        }
    }
    return limit;
}

sl_int_t sl_http_write_filter(sl_http_request_t *r, sl_chain_t *in)
{
    sl_connection_t *c = r->connection;
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);
    off_t size;
    int flush, last;

    if (c->error) {
        return SL_ERROR;
    }
    if (append(r, in, &size, &flush, &last) != SL_OK) {
        return SL_ERROR;
    }
    if (!last && !flush && in && size < (off_t) clcf->postpone_output) {
        return SL_OK;
    }
    if (c->write->delayed) {
        r->buffered |= SL_HTTP_WRITE_BUFFERED;
        return SL_AGAIN;
    }
    if (size == 0) {
        free_sent_links(r, NULL);
        r->buffered &= ~SL_HTTP_WRITE_BUFFERED;
        return SL_OK;
    }
    apply_location_rate(r, clcf);
    off_t limit = rate_allowance(r, c, size);
    if (limit == 0) {
        r->buffered |= SL_HTTP_WRITE_BUFFERED;
        return SL_AGAIN;
    }
    if (cork(c, clcf, r->out) != SL_OK) {
        c->error = 1;
        return SL_ERROR;
    }
    off_t chunk = sendfile_chunk(c, clcf, r->out, limit);
    int by_chunk = chunk < limit && chunk < size;
    limit = chunk;
    off_t sent = c->sent;
    sl_chain_t *rest = c->io->send_chain(c, r->out, limit < size ? limit : 0);
    if (rest == SL_CHAIN_ERROR) {
        c->error = 1;
        return SL_ERROR;
    }
    free_sent_links(r, rest);
    if (r->out) {
        r->buffered |= SL_HTTP_WRITE_BUFFERED;
        if (by_chunk) {
            if (c->write->ready && c->sent - sent == limit) {
                /* stopped by sendfile_max_chunk, not by the socket: no edge will come */
                sl_post_event_next(c->write);
            }
        } else if (limit < size && !c->write->delayed && r->limit_rate) {
            /* more than the rate allows this second: wait for the rest */
            c->write->delayed = 1;
            sl_add_timer(c->write, 1000 / 8 + 1);
        }
        return SL_AGAIN;
    }
    r->buffered &= ~SL_HTTP_WRITE_BUFFERED;
    return SL_OK;
}
