/*
 * sl_http_collector.c: a response body gathered into one bounded buffer (see the header).
 */
#include "sl_http_collector.h"
#include "sl_file.h"
#include "sl_pool.h"

sl_http_collector_t *sl_http_collector_create(sl_pool_t *pool, sl_log_t *log, size_t limit)
{
    sl_http_collector_t *col = sl_pcalloc(pool, sizeof(sl_http_collector_t));

    if (col == NULL) {
        return NULL;
    }
    col->pool = pool;
    col->log = log;
    col->limit = limit;
    return col;
}

/* The one buffer: the declared length when known, else the limit.  Never grown. */
static sl_int_t alloc_body(sl_http_collector_t *col, size_t size)
{
    col->buf = sl_create_temp_buf(col->pool, size);
    if (col->buf == NULL) {
        col->failed = 1;
        return SL_ERROR;
    }
    return SL_OK;
}

sl_int_t sl_http_collector_expect(sl_http_collector_t *col, off_t length)
{
    if (col->failed) {
        return SL_ERROR;
    }
    if (length < 0 || col->buf != NULL) {
        /* unknown, or data came first: the buffer is sized already */
        return SL_OK;
    }
    if ((uint64_t) length > (uint64_t) col->limit) {
        col->failed = 1;
        sl_log_error(SL_LOG_ERR, col->log, 0, "too big subrequest response: %ju",
                     (uintmax_t) length);
        return SL_ERROR;
    }
    return alloc_body(col, (size_t) length);
}

/* Copies the data of b after what the buffer holds and marks b consumed. */
static sl_int_t take(sl_http_collector_t *col, sl_buf_t *b, size_t size)
{
    if (SL_BUG_ON(col->done)) {
        /* data after the last buf: its producer is broken */
        col->failed = 1;
        return SL_ERROR;
    }
    if (col->buf == NULL && alloc_body(col, col->limit) != SL_OK) {
        return SL_ERROR;
    }
    sl_buf_t *body = col->buf;
    if (size > (size_t) (body->end - body->last)) {
        col->failed = 1;
        sl_log_error(SL_LOG_ERR, col->log, 0, "too big subrequest response");
        return SL_ERROR;
    }
    if (sl_buf_in_memory(b)) {
        memcpy(body->last, b->pos, size);
        b->pos = b->last;
    } else if (sl_read_file_part(b, body->last, size, col->log) != SL_OK) {
        col->failed = 1;
        return SL_ERROR;
    }
    if (b->in_file) {
        b->file_pos = b->file_last;
    }
    body->last += size;
    return SL_OK;
}

sl_int_t sl_http_collector_add(sl_http_collector_t *col, sl_chain_t *in)
{
    if (col->failed) {
        return SL_ERROR;
    }
    for (; in; in = in->next) {
        sl_buf_t *b = in->buf;
        off_t size = sl_buf_size(b);

        if (size > 0 && take(col, b, (size_t) size) != SL_OK) {
            return SL_ERROR;
        }
        /* a subrequest's output ends with last_in_chain, a response's with last_buf */
        if (b->last_buf || b->last_in_chain) {
            col->done = 1;
        }
    }
    if (!col->done) {
        return SL_OK;
    }
    if (col->buf == NULL && alloc_body(col, 0) != SL_OK) {
        return SL_ERROR; /* an empty body */
    }
    col->buf->last_buf = 1;
    return SL_DONE;
}

void sl_http_collector_body(const sl_http_collector_t *col, sl_str_t *body)
{
    if (col->buf == NULL) {
        body->data = NULL;
        body->len = 0;
        return;
    }
    body->data = col->buf->pos;
    body->len = (size_t) (col->buf->last - col->buf->pos);
}
