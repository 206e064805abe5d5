/*
 * sl_http_collector.h: a response body collected in memory, the way nginx keeps the output
 * of an in-memory subrequest: in ONE buffer no larger than subrequest_output_buffer_size.
 * It is fed the chains a response's body filters pass down (memory bufs are copied, file
 * parts read with pread) until the last buf.  For what must see a whole body at once:
 * a health check matching it, SSI "include set=".
 *
 * A body over the limit is an error, logged as nginx ("too big subrequest response"); the
 * buffer never grows and nothing is written past it.
 */
#ifndef SL_HTTP_COLLECTOR_H
#define SL_HTTP_COLLECTOR_H

#include "sl_core.h"
#include "sl_buf.h"
#include "sl_log.h"

typedef struct {
    sl_pool_t *pool;
    sl_log_t *log;
    /** the most the body may hold (subrequest_output_buffer_size) */
    size_t limit;
    /** the body in [pos, last); NULL until the first data, the declared length or the end */
    sl_buf_t *buf;
    /** the last buf (or the last of a subrequest's part) came: the body is complete */
    unsigned done : 1;
    /** too big, or a file part could not be read: every later call fails */
    unsigned failed : 1;
} sl_http_collector_t;

/* A collector allocating from pool, logging to log; NULL on exhaustion. */
sl_http_collector_t *sl_http_collector_create(sl_pool_t *pool, sl_log_t *log, size_t limit);

/*
 * The response declares its length (Content-Length; -1: unknown).  Call before the body.
 * A known length sizes the buffer to it; over the limit it fails at once, logged as nginx
 * ("too big subrequest response: N").  SL_OK or SL_ERROR.
 */
sl_int_t sl_http_collector_expect(sl_http_collector_t *col, off_t length);

/*
 * Takes the data of a chain into the buffer, marking each buf consumed (its pos or
 * file_pos moved to the end) so its owner may reuse it.  Returns SL_OK (more to come),
 * SL_DONE (the chain held the last buf: col->buf has the whole body, last_buf set), or
 * SL_ERROR: the body does not fit (logged "too big subrequest response"; nothing of the
 * offending buf is copied), a file part could not be read (logged), data came after the
 * end ([alert]), or memory ran out.
 */
sl_int_t sl_http_collector_add(sl_http_collector_t *col, sl_chain_t *in);

/* The body collected so far (empty before any data); points into col->buf. */
void sl_http_collector_body(const sl_http_collector_t *col, sl_str_t *body);

#endif /* SL_HTTP_COLLECTOR_H */
