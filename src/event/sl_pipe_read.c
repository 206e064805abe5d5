/*
 * sl_pipe_read.c: the event pipe's upstream side: choosing raw buffers to read into,
 * reading, feeding filled buffers to the input filter, and spilling to the temp file.
 */
#include "sl_file.h"
#include "sl_pipe.h"
#include "sl_pool.h"

#define upstream_finished(p) ((p)->upstream_done || (p)->upstream_eof || (p)->upstream_error)

/*
 * Runs the input filter over a raw buffer taken off every list.  A raw buffer nothing
 * points into afterwards goes straight back to free_raw_bufs.  SL_OK or SL_ABORT.
 */
static sl_int_t filter_raw(sl_pipe_t *p, sl_buf_t *raw)
{
    raw->shadow = NULL;
    if (p->input_filter(p, raw) != SL_OK) {
        return SL_ABORT;
    }
    if (raw->shadow == NULL && sl__pipe_add_free_raw(p, raw) != SL_OK) {
        return SL_ABORT;
    }
    return SL_OK;
}

/* Puts a chain of raw buffers back at the head of free_raw_bufs. */
static void return_chain(sl_pipe_t *p, sl_chain_t *chain)
{
    sl_chain_t *cl = chain;

    if (chain == NULL) {
        return;
    }
    while (cl->next) {
        cl = cl->next;
    }
    cl->next = p->free_raw_bufs;
    p->free_raw_bufs = chain;
}

/*
 * n bytes arrived in [last, end) of the chain's bufs, in order: filled buffers go to the
 * input filter, the partly filled one and the rest back to free_raw_bufs.
 */
static sl_int_t distribute(sl_pipe_t *p, sl_chain_t *chain, size_t n)
{
    sl_chain_t *cl = chain;

    while (cl && n > 0) {
        sl_buf_t *raw = cl->buf;
        size_t room = (size_t) (raw->end - raw->last);
        if (n < room) {
            raw->last += n;
            break;
        }
        raw->last = raw->end;
        n -= room;
        sl_chain_t *next = cl->next;
        sl_free_chain_link(p->pool, cl);
        cl = next;
        if (filter_raw(p, raw) != SL_OK) {
            return_chain(p, cl);
            return SL_ABORT;
        }
    }
    return_chain(p, cl);
    return SL_OK;
}

/*
 * Makes sure free_raw_bufs has a buffer, in nginx's order: a free one, a new one while
 * fewer than bufs.num exist, none when the downstream can take data first, one freed by
 * spilling to the temp file.  SL_OK (free_raw_bufs non-empty), SL_DECLINED (stop reading),
 * SL_ABORT.
 */
static sl_int_t want_raw_buf(sl_pipe_t *p)
{
    if (p->free_raw_bufs) {
        return SL_OK;
    }
    if (p->allocated < p->bufs.num) {
        sl_buf_t *b = sl_create_temp_buf(p->pool, p->bufs.size);
        if (b == NULL) {
            return SL_ABORT;
        }
        b->tag = p->tag;
        p->allocated++;
        return sl__pipe_add_free_raw(p, b) == SL_OK ? SL_OK : SL_ABORT;
    }
    sl_event_t *wev = p->downstream->write;
    if (!p->cacheable && wev->ready && !wev->delayed && !p->downstream_error) {
        p->upstream_blocked = 1;
        return SL_DECLINED;
    }
    if (p->cacheable || (p->temp_file ? p->temp_file->offset : 0) < p->max_temp_file_size) {
        sl_int_t rc = sl__pipe_spill(p);
        if (rc == SL_ABORT) {
            return SL_ABORT;
        }
        if (rc == SL_OK && p->free_raw_bufs) {
            return SL_OK;
        }
    }
    return SL_DECLINED;
}

/* The byte budget of proxy_limit_rate for this read: 0 no limit, -1 wait (timer armed). */
static off_t rate_limit(sl_pipe_t *p)
{
    if (p->limit_rate == 0) {
        return 0;
    }
    off_t limit = (off_t) p->limit_rate * (sl_cached_time_sec - p->start_sec + 1) - p->read_length;
    if (limit > 0) {
        return limit;
    }
    p->upstream->read->delayed = 1;
    sl_add_timer(p->upstream->read, (sl_msec_t) (-limit * 1000 / (off_t) p->limit_rate + 1));
    return -1;
}

/* The body is all read: a pause proxy_limit_rate began must not outlive it (the connection
 * may be kept for another request). */
static void end_rate_pause(sl_pipe_t *p)
{
    sl_event_t *rev = p->upstream->read;

    if (rev->delayed) {
        rev->delayed = 0;
        sl_del_timer(rev);
    }
}

/* Takes the read chain off free_raw_bufs: all of it, or one buffer with single_buf. */
static sl_chain_t *take_read_chain(sl_pipe_t *p)
{
    sl_chain_t *chain = p->free_raw_bufs;

    if (p->single_buf) {
        p->free_raw_bufs = chain->next;
        chain->next = NULL;
    } else {
        p->free_raw_bufs = NULL;
    }
    return chain;
}

/* One readv.  SL_OK (read, go on), SL_DECLINED (stop: again, eof, error), SL_ABORT. */
static sl_int_t read_once(sl_pipe_t *p)
{
    sl_connection_t *c = p->upstream;

    if (p->preread_bufs) {
        sl_chain_t *chain = p->preread_bufs;
        size_t n = p->preread_size;
        p->preread_bufs = NULL;
        p->preread_size = 0;
        for (sl_chain_t *cl = chain; cl; cl = cl->next) {
            cl->buf->last = cl->buf->pos;
        }
        p->read = n > 0;
        p->read_length += (off_t) n;
        return distribute(p, chain, n);
    }
    if (!c->read->ready || c->read->delayed) {
        return SL_DECLINED;
    }
    off_t limit = rate_limit(p);
    if (limit < 0) {
        return SL_DECLINED;
    }
    sl_int_t rc = want_raw_buf(p);
    if (rc != SL_OK) {
        return rc;
    }
    sl_chain_t *chain = take_read_chain(p);
    ssize_t n = c->io->recv_chain(c, chain, limit);
    if (n <= 0) {
        return_chain(p, chain);
        if (n == 0) {
            p->upstream_eof = 1;
            p->read = 1;
        } else if (n == SL_ERROR) {
            p->upstream_error = 1;
        }
        return SL_DECLINED;
    }
    p->read = 1;
    p->read_length += n;
    return distribute(p, chain, (size_t) n);
}

/*
 * After reading: a partly filled head buffer is passed on when it completes the body
 * (length known) or when the upstream is gone (eof, error), so no byte waits for a buffer
 * to fill that never will.
 */
static sl_int_t flush_partial(sl_pipe_t *p)
{
    sl_chain_t *cl = p->free_raw_bufs;

    if (cl == NULL || cl->buf->last == cl->buf->pos) {
        return SL_OK;
    }
    int complete = p->length != -1 && cl->buf->last - cl->buf->pos >= p->length;
    if (!complete && !p->upstream_eof && !p->upstream_error) {
        return SL_OK;
    }
    p->free_raw_bufs = cl->next;
    sl_buf_t *raw = cl->buf;
    sl_free_chain_link(p->pool, cl);
    return filter_raw(p, raw);
}

sl_int_t sl__pipe_read(sl_pipe_t *p)
{
    if (upstream_finished(p)) {
        return SL_OK;
    }
    while (!upstream_finished(p)) {
        sl_int_t rc = read_once(p);
        if (rc == SL_ABORT) {
            return SL_ABORT;
        }
        if (rc != SL_OK) {
            break;
        }
    }
    if (flush_partial(p) != SL_OK) {
        return SL_ABORT;
    }
    if (p->length == 0) {
        p->upstream_done = 1;
        p->read = 1;
    }
    if (upstream_finished(p)) {
        end_rate_pause(p);
    }
    /* cacheable: what was read goes to the temp file now, and to the client from there */
    if (p->cacheable && p->in) {
        while (p->in && p->cacheable) {
            sl_int_t rc = sl__pipe_spill(p);
            if (rc == SL_ABORT || (rc != SL_OK && p->cacheable)) {
                return SL_ABORT;
            }
        }
    }
    return SL_OK;
}

static void temp_file_cleanup(void *data)
{
    sl_file_t *file = data;

    if (file->fd != -1) {
        close(file->fd);
        file->fd = -1;
    }
}

/* Opens the temp file on first use; its pool cleanup closes it.  SL_OK or SL_ABORT. */
static sl_int_t open_temp_file(sl_pipe_t *p)
{
    if (p->temp_file && p->temp_file->fd != -1) {
        return SL_OK;
    }
    if (p->temp_file == NULL) {
        p->temp_file = sl_pcalloc(p->pool, sizeof(sl_file_t));
        if (p->temp_file == NULL) {
            return SL_ABORT;
        }
        p->temp_file->fd = -1;
    }
    /* The cleanup first, so a descriptor never exists without one. */
    sl_pool_cleanup_t *cln = sl_pool_cleanup_add(p->pool, 0);
    if (cln == NULL) {
        return SL_ABORT;
    }
    int fd = sl_open_tempfile(&p->temp_path, p->log);
    if (fd == -1) {
        return SL_ABORT;
    }
    if (!p->cacheable) {
        /* nginx's warning, the sign that the proxy buffers are too small for the traffic;
         * the file has no name (O_TMPFILE), so its directory is given */
        sl_log_error(SL_LOG_WARN, p->log, 0,
                     "an upstream response is buffered to a temporary file in %.*s",
                     SL_STR_ARG(p->temp_path));
    }
    p->temp_file->fd = fd;
    p->temp_file->name = p->temp_path;
    p->temp_file->log = p->log;
    cln->handler = temp_file_cleanup;
    cln->data = p->temp_file;
    return SL_OK;
}

/*
 * Cuts the head of p->in that may go to the temp file now: whole raw-buffer groups (a
 * parsed buf up to the one marked last_shadow), at most temp_file_write_size bytes, and no
 * byte past max_temp_file_size; everything when cacheable.  NULL when nothing fits.  The
 * first group goes whatever temp_file_write_size says: a write size below one buffer
 * (which the configuration refuses, as nginx's does) must not stop the pipe from spilling,
 * or a stalled client would hold the upstream again.
 */
static sl_chain_t *cut_spill(sl_pipe_t *p)
{
    off_t offset = p->temp_file ? p->temp_file->offset : 0, size = 0;
    sl_chain_t *cl = p->in, **cut = NULL;

    while (cl && !p->cacheable) {
        sl_chain_t *g = cl;
        off_t gsize = 0;
        for (;;) {
            gsize += sl_buf_in_memory(g->buf) ? g->buf->last - g->buf->pos : 0;
            if (g->buf->last_shadow || !g->buf->recycled || g->next == NULL) {
                break;
            }
            g = g->next;
        }
        if ((size > 0 && size + gsize > (off_t) p->temp_file_write_size)
            || offset + size + gsize > p->max_temp_file_size) {
            break;
        }
        size += gsize;
        cut = &g->next;
        cl = g->next;
    }
    if (p->cacheable && p->in) {
        cut = p->last_in;
    }
    if (cut == NULL) {
        return NULL;
    }
    sl_chain_t *slice = p->in;
    p->in = *cut;
    *cut = NULL;
    if (p->in == NULL) {
        p->last_in = &p->in;
    }
    return slice;
}

/* A spilled memory buf becomes a file buf over [offset, offset + its size) of the temp file;
 * its raw buffer is free again once it was the last to point into it.  SL_OK, SL_ABORT. */
static sl_int_t to_file_buf(sl_pipe_t *p, sl_buf_t *b, off_t offset)
{
    b->file = p->temp_file;
    b->file_pos = offset;
    b->file_last = offset + (b->last - b->pos);
    b->in_file = 1;
    b->temp_file = 1;
    b->temporary = 0;
    b->memory = 0;
    b->recycled = 0;
    b->pos = b->last = b->start = b->end = NULL;
    if (b->last_shadow && b->shadow && sl__pipe_add_free_raw(p, b->shadow) != SL_OK) {
        return SL_ABORT;
    }
    b->last_shadow = 0;
    b->shadow = NULL;
    return SL_OK;
}

/* b continues the file buf `tail` in the temp file, and neither carries a flag of its own. */
static int continues(const sl_buf_t *tail, const sl_buf_t *b)
{
    return tail->temp_file && tail->file == b->file && tail->file_last == b->file_pos
           && !(tail->flush || tail->last_buf || tail->sync || b->flush || b->last_buf || b->sync);
}

/*
 * The spilled slice joins p->out as file bufs.  A buf that continues the last one not yet
 * passed on is merged into it and its link goes back to p->free: for a client that reads
 * nothing while gigabytes spill, p->out stays one buf, not one per raw buffer, so memory is
 * bounded by the buffers, not by the response.
 */
static sl_int_t to_file_bufs(sl_pipe_t *p, sl_chain_t *slice, off_t offset)
{
    sl_chain_t **ll = &p->out, *tail = NULL;

    while (*ll) {
        tail = *ll;
        ll = &tail->next;
    }
    for (sl_chain_t *cl = slice, *next; cl; cl = next) {
        next = cl->next;
        cl->next = NULL;
        sl_buf_t *b = cl->buf;
        if (sl_buf_in_memory(b)) {
            if (to_file_buf(p, b, offset) != SL_OK) {
                cl->next = next;
                *ll = cl;
                return SL_ABORT;
            }
            offset = b->file_last;
            if (tail && continues(tail->buf, b)) {
                tail->buf->file_last = b->file_last;
                /* a spare buf: nothing in it may look like a part of the file */
                memset(b, 0, sizeof(*b));
                cl->next = p->free;
                p->free = cl;
                continue;
            }
        }
        *ll = cl;
        ll = &cl->next;
        tail = cl;
    }
    return SL_OK;
}

/* Puts a slice that could not be written back at the head of p->in. */
static void unspill(sl_pipe_t *p, sl_chain_t *slice)
{
    sl_chain_t *cl = slice;

    while (cl->next) {
        cl = cl->next;
    }
    cl->next = p->in;
    if (p->in == NULL) {
        p->last_in = &cl->next;
    }
    p->in = slice;
}

/*
 * The temp file could not be written (a full disk, logged).  A copy for the cache or the
 * store is given up while a client still takes the body: the pipe goes on as an ordinary
 * one (reading as the client drains, no more spilling), so the client gets the whole
 * response and only the copy is lost.  Otherwise the pipe cannot go on.  SL_BUSY or
 * SL_ABORT.
 */
static sl_int_t spill_failed(sl_pipe_t *p)
{
    if (p->cacheable && !p->downstream_error) {
        p->cacheable = 0;
        p->copy_dropped = 1;
        p->max_temp_file_size = p->temp_file && p->temp_file->fd != -1 ? p->temp_file->offset : 0;
        return SL_BUSY;
    }
    p->upstream_error = 1;
    return SL_ABORT;
}

sl_int_t sl__pipe_spill(sl_pipe_t *p)
{
    sl_chain_t *slice = p->in ? cut_spill(p) : NULL;

    if (slice == NULL) {
        return SL_BUSY;
    }
    if (open_temp_file(p) != SL_OK) {
        unspill(p, slice);
        return spill_failed(p);
    }
    off_t offset = p->temp_file->offset;
    if (sl_write_chain_to_file(p->temp_file, slice, p->log) == SL_ERROR) {
        unspill(p, slice);
        return spill_failed(p);
    }
    return to_file_bufs(p, slice, offset);
}
