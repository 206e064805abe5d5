/*
 * sl_pipe.c: the event pipe's pass (write, read, repeat while progress, arm timers), the
 * copy input filter and the raw-buffer bookkeeping shared by the read and write sides.
 */
#include "sl_pipe.h"
#include "sl_pool.h"

static void arm_timers(sl_pipe_t *p)
{
    sl_event_t *rev = p->upstream ? p->upstream->read : NULL;
    sl_event_t *wev = p->downstream ? p->downstream->write : NULL;

    if (rev && !rev->delayed) {
        int waiting = !(p->upstream_done || p->upstream_eof || p->upstream_error);
        if (waiting && rev->active && !rev->ready) {
            sl_add_timer(rev, p->read_timeout);
        } else if (rev->timer_set) {
            sl_del_timer(rev);
        }
    }
    if (wev && !wev->delayed) {
        int waiting = p->busy || p->out || p->in;
        if (waiting && wev->active && !wev->ready && !p->downstream_error) {
            sl_add_timer(wev, p->send_timeout);
        } else if (wev->timer_set) {
            sl_del_timer(wev);
        }
    }
}

static void set_action(sl_pipe_t *p, const char *action)
{
    if (p->log && action) {
        p->log->action = action;
    }
}

sl_int_t sl_pipe_run(sl_pipe_t *p, int do_write)
{
    int blocked_before = 0;

    if (p->last_in == NULL) {
        p->last_in = &p->in;
    }
    for (;;) {
        if (do_write) {
            set_action(p, p->write_action);
            if (sl__pipe_write(p) == SL_ABORT) {
                return SL_ABORT;
            }
        }
        /* the client is gone: stop reading at once, unless everything must be kept */
        if (p->downstream_error && !p->cacheable) {
            return SL_ABORT;
        }
        p->read = 0;
        p->upstream_blocked = 0;
        set_action(p, p->read_action);
        if (sl__pipe_read(p) == SL_ABORT) {
            return SL_ABORT;
        }
        if (!p->read && !p->upstream_blocked) {
            break;
        }
        /* Blocked twice with nothing read between: the write freed nothing, stop here. */
        if (!p->read && blocked_before) {
            break;
        }
        blocked_before = !p->read && p->upstream_blocked;
        do_write = 1;
    }
    arm_timers(p);
    if (p->downstream_error && !p->cacheable) {
        return SL_ABORT;
    }
    return SL_OK;
}

sl_int_t sl__pipe_add_free_raw(sl_pipe_t *p, sl_buf_t *raw)
{
    sl_chain_t *cl = sl_alloc_chain_link(p->pool);

    if (cl == NULL) {
        return SL_ERROR;
    }
    raw->pos = raw->start;
    raw->last = raw->start;
    raw->shadow = NULL;
    cl->buf = raw;
    /* A partly filled head is being read into: it stays first. */
    sl_chain_t *head = p->free_raw_bufs;
    if (head && head->buf->last != head->buf->pos) {
        cl->next = head->next;
        head->next = cl;
    } else {
        cl->next = head;
        p->free_raw_bufs = cl;
    }
    return SL_OK;
}

sl_buf_t *sl_pipe_shadow_buf(sl_pipe_t *p, sl_buf_t *raw, u_char *pos, u_char *last)
{
    sl_chain_t *cl = sl_chain_get_free_buf(p->pool, &p->free);

    if (cl == NULL) {
        return NULL;
    }
    sl_buf_t *b = cl->buf;
    memset(b, 0, sizeof(*b));
    b->pos = pos;
    b->last = last;
    b->start = raw->start;
    b->end = raw->end;
    b->temporary = 1;
    b->recycled = 1;
    b->tag = p->tag;
    b->shadow = raw;
    raw->shadow = b;
    cl->next = NULL;
    *p->last_in = cl;
    p->last_in = &cl->next;
    return b;
}

sl_int_t sl_pipe_copy_input_filter(sl_pipe_t *p, sl_buf_t *raw)
{
    if (raw->pos == raw->last) {
        return SL_OK;
    }
    if (p->upstream_done || p->length == 0) {
        p->upstream_done = 1;
        p->input_overrun = 1;
        return SL_OK;
    }
    sl_buf_t *b = sl_pipe_shadow_buf(p, raw, raw->pos, raw->last);
    if (b == NULL) {
        return SL_ERROR;
    }
    b->last_shadow = 1;
    if (p->length == -1) {
        return SL_OK;
    }
    off_t size = b->last - b->pos;
    if (size > p->length) {
        b->last = b->pos + p->length;
        size = p->length;
        p->input_overrun = 1;
    }
    p->length -= size;
    if (p->length == 0) {
        p->upstream_done = 1;
    }
    return SL_OK;
}

void sl_pipe_close_temp_file(sl_pipe_t *p)
{
    if (p->temp_file && p->temp_file->fd != -1) {
        close(p->temp_file->fd);
        p->temp_file->fd = -1;
    }
}
