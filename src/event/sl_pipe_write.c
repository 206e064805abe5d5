/*
 * sl_pipe_write.c: the event pipe's downstream side: choosing what to pass to the output
 * filter under the busy_size limit, and recycling what has been sent.
 */
#include "sl_pipe.h"

#define upstream_finished(p) ((p)->upstream_done || (p)->upstream_eof || (p)->upstream_error)

/* Raw-buffer bytes in flight: the size of each raw buffer a busy parsed buf points into. */
static off_t busy_raw_size(const sl_pipe_t *p)
{
    const u_char *prev = NULL;
    off_t size = 0;

    for (const sl_chain_t *cl = p->busy; cl; cl = cl->next) {
        const sl_buf_t *b = cl->buf;
        if (b->recycled && b->start != prev) {
            size += b->end - b->start;
            prev = b->start;
        }
    }
    return size;
}

/*
 * Takes what may be passed now: all of out (file bufs), then whole raw-buffer groups of in
 * while the raw bytes in flight stay within busy_size (the first group always goes when
 * nothing is in flight, so a busy_size below one buffer cannot stall the pipe).  *flush is
 * set when the limit stopped it.
 */
static sl_chain_t *collect(sl_pipe_t *p, off_t bsize, int *flush)
{
    sl_chain_t *out = p->out, **ll = &out;

    p->out = NULL;
    *flush = 0;
    while (*ll) {
        ll = &(*ll)->next;
    }
    while (p->in && !p->cacheable) {
        sl_chain_t *head = p->in, *g = head;
        off_t gsize = g->buf->recycled ? g->buf->end - g->buf->start : 0;
        while (g->buf->recycled && !g->buf->last_shadow && g->next) {
            g = g->next;
        }
        if (gsize && bsize > 0 && bsize + gsize > p->busy_size) {
            *flush = 1;
            break;
        }
        bsize += gsize;
        p->in = g->next;
        g->next = NULL;
        *ll = head;
        ll = &g->next;
    }
    if (p->in == NULL) {
        p->last_in = &p->in;
    }
    return out;
}

/*
 * After the output filter: sent bufs move from busy to free; a sent last shadow gives its
 * raw buffer back; with cyclic_temp_file the file restarts at 0 once its end is sent.
 */
static sl_int_t update(sl_pipe_t *p, sl_chain_t *out)
{
    sl_chain_update(p->pool, &p->free, &p->busy, &out, p->tag);
    for (sl_chain_t *cl = p->free; cl; cl = cl->next) {
        sl_buf_t *b = cl->buf;
        if (b->temp_file) {
            if (p->cyclic_temp_file && !p->cacheable && p->temp_file
                && b->file_last == p->temp_file->offset) {
                p->temp_file->offset = 0;
            }
            b->temp_file = 0;
            b->in_file = 0;
        }
        if (b->last_shadow) {
            if (sl__pipe_add_free_raw(p, b->shadow) != SL_OK) {
                return SL_ABORT;
            }
            b->last_shadow = 0;
        }
        b->shadow = NULL;
    }
    return SL_OK;
}

/* The downstream failed: everything held goes back for reuse.  SL_OK or SL_ABORT. */
static sl_int_t drain(sl_pipe_t *p)
{
    sl_chain_t **chains[] = { &p->busy, &p->out, &p->in };

    for (size_t i = 0; i < sl_nelems(chains); i++) {
        sl_chain_t *cl = *chains[i];
        *chains[i] = NULL;
        while (cl) {
            sl_chain_t *next = cl->next;
            sl_buf_t *b = cl->buf;
            if (b->last_shadow && b->shadow && sl__pipe_add_free_raw(p, b->shadow) != SL_OK) {
                return SL_ABORT;
            }
            b->last_shadow = 0;
            b->shadow = NULL;
            cl->next = p->free;
            p->free = cl;
            cl = next;
        }
    }
    p->last_in = &p->in;
    return SL_OK;
}

/* The upstream is finished: everything left is passed, whatever busy holds. */
static sl_int_t write_rest(sl_pipe_t *p)
{
    sl_chain_t *out = p->out;
    sl_chain_t **ll = &out;

    while (*ll) {
        ll = &(*ll)->next;
    }
    *ll = p->in;
    p->out = NULL;
    p->in = NULL;
    p->last_in = &p->in;
    if (out == NULL && (p->busy == NULL || !p->downstream->write->ready)) {
        p->downstream_done = p->busy == NULL;
        return SL_OK;
    }
    sl_int_t rc = p->output_filter(p->output_ctx, out);
    if (update(p, out) != SL_OK) {
        return SL_ABORT;
    }
    if (rc == SL_ERROR) {
        p->downstream_error = 1;
        return drain(p);
    }
    p->downstream_done = p->busy == NULL;
    return SL_OK;
}

sl_int_t sl__pipe_write(sl_pipe_t *p)
{
    int flushed = 0;

    for (;;) {
        if (p->downstream_error) {
            return drain(p);
        }
        if (upstream_finished(p)) {
            return write_rest(p);
        }
        sl_event_t *wev = p->downstream->write;
        if (!wev->ready || wev->delayed) {
            return SL_OK;
        }
        int flush;
        sl_chain_t *out = collect(p, busy_raw_size(p), &flush);
        if (out == NULL) {
            /* Over the limit with nothing to add: let the callee send what it holds. */
            if (!flush || p->busy == NULL || flushed) {
                return SL_OK;
            }
            flushed = 1;
        }
        sl_int_t rc = p->output_filter(p->output_ctx, out);
        if (update(p, out) != SL_OK) {
            return SL_ABORT;
        }
        if (rc == SL_ERROR) {
            p->downstream_error = 1;
        }
    }
}
