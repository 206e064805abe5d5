/*
 * sl_pipe.h: the event pipe, buffered forwarding of a response body from an upstream
 * connection to a downstream one.
 *
 * Raw buffers (at most bufs.num of bufs.size, plus any preread ones) are read into with one
 * readv each pass.  A filled raw buffer goes through the input filter, which makes parsed
 * "shadow" bufs pointing into it and appends them to `in`.  The writer passes `out` (file
 * bufs spilled to the temp file) and then `in` to the output filter, keeping at most
 * busy_size bytes of raw buffers in flight; a raw buffer returns to free_raw_bufs when the
 * parsed buf marked last_shadow has been sent.  When every buffer is full and the client is
 * slow, the head of `in` is written to the temp file (at most temp_file_write_size per write,
 * max_temp_file_size in all, 0 = never), which frees raw buffers; past that, reading stops.
 *
 *   free_raw_bufs -> recv_chain -> input_filter -> in -> (temp file) -> out
 *                 -> output_filter -> busy -> free (shadow bufs), raw buf -> free_raw_bufs
 */
#ifndef SL_PIPE_H
#define SL_PIPE_H

#include "sl_core.h"
#include "sl_buf.h"
#include "sl_conn.h"
#include "sl_event.h"
#include "sl_log.h"
#include "sl_str.h"

typedef struct sl_pipe_s sl_pipe_t;

/*
 * Turns the bytes [pos, last) of a filled raw buffer into parsed bufs appended to p->in,
 * made with sl_pipe_shadow_buf(); the last one made for this raw buffer gets last_shadow.
 * It may make none (framing only), and then the raw buffer is reused at once.  Sets
 * p->upstream_done when the body is complete.  SL_OK or SL_ERROR (the pipe aborts).
 */
typedef sl_int_t (*sl_pipe_input_filter_pt)(sl_pipe_t *p, sl_buf_t *raw);

/*
 * Sends a chain downstream (chain NULL: flush what the callee still holds).  It advances
 * the bufs' pos/file_pos as bytes go and keeps references to what it could not send.
 * SL_OK (all sent), SL_AGAIN (some left with the callee; it clears downstream->write->ready
 * when the connection is full), SL_ERROR.
 */
typedef sl_int_t (*sl_pipe_output_filter_pt)(void *data, sl_chain_t *chain);

struct sl_pipe_s {
    sl_connection_t *upstream;
    sl_connection_t *downstream;

    /** raw buffers to read into; a partly filled one is always first */
    sl_chain_t *free_raw_bufs;
    /** parsed bufs in memory, not yet passed downstream */
    sl_chain_t *in;
    sl_chain_t **last_in;
    /** parsed bufs spilled to the temp file, not yet passed downstream */
    sl_chain_t *out;
    /** spare parsed-buf links, recycled by sl_chain_update() */
    sl_chain_t *free;
    /** passed to the output filter and not fully sent yet */
    sl_chain_t *busy;

    sl_pipe_input_filter_pt input_filter;
    void *input_ctx;
    sl_pipe_output_filter_pt output_filter;
    void *output_ctx;

    /** something was read in this pass */
    unsigned read : 1;
    /** the body is complete (length reached, or the framing said so) */
    unsigned upstream_done : 1;
    /** the upstream sent bytes past the end of the body (they are dropped; the connection
     * cannot be reused); set by the input filter, which leaves the wording of any log line
     * to the protocol */
    unsigned input_overrun : 1;
    /** the upstream closed its side */
    unsigned upstream_eof : 1;
    /** reading failed, or the temp file could not be written */
    unsigned upstream_error : 1;
    /** reading stopped to let the downstream drain first */
    unsigned upstream_blocked : 1;
    /** everything was sent after the upstream finished */
    unsigned downstream_done : 1;
    unsigned downstream_error : 1;
    /** rewrite the temp file from offset 0 once all of it has been sent */
    unsigned cyclic_temp_file : 1;
    /** keep everything (cache, store): spill instead of dropping, never limited by size */
    unsigned cacheable : 1;
    /** the temp file could not be written while keeping everything: the copy was given up
     * (cacheable cleared) and the body goes on to the client as in an ordinary pipe */
    unsigned copy_dropped : 1;
    /** read into one raw buffer per call */
    unsigned single_buf : 1;

    /** raw buffers allocated so far, at most bufs.num */
    sl_int_t allocated;
    sl_bufs_t bufs;
    /** the tag of the pipe's parsed bufs (the upstream module's address) */
    sl_buf_tag_t tag;

    /** raw-buffer bytes that may be in flight downstream */
    ssize_t busy_size;

    /** bytes read from the upstream */
    off_t read_length;
    /** body bytes still expected, -1 unknown; for a chunked body the fewest still to come,
     * kept by the input filter: a partly filled buffer of that many is filtered at once */
    off_t length;

    off_t max_temp_file_size;
    ssize_t temp_file_write_size;

    sl_msec_t read_timeout;
    sl_msec_t send_timeout;

    /** bytes per second read from the upstream, 0 = no limit; counted from start_sec */
    size_t limit_rate;
    time_t start_sec;

    /** body bytes read together with the header: [pos, last) of each buf */
    sl_chain_t *preread_bufs;
    size_t preread_size;

    /** opened on the first spill, closed by a pool cleanup */
    sl_file_t *temp_file;
    sl_str_t temp_path;

    sl_pool_t *pool;
    sl_log_t *log;
    /** the log's action (" while ...") while the pipe reads the upstream, and while it
     * writes downstream: the caller's words for what the pipe does (NULL: the action is
     * left as it is) */
    const char *read_action;
    const char *write_action;
};

/*
 * One pass: write downstream when do_write, then read the upstream (writing in between)
 * while it makes progress; then the read timer (read_timeout) is armed while the upstream
 * is awaited and the write timer (send_timeout) while the downstream is full.
 *
 * SL_OK: carry on, or finish when upstream_done/upstream_eof/upstream_error (a read error
 * is SL_OK: what was read before it is still pushed downstream) and downstream_done.
 * SL_ABORT: the pipe cannot go on: the input filter failed, the temp file failed
 * (upstream_error set; when keeping everything for a client still there, the copy is given
 * up instead: copy_dropped), memory ran out, or the output filter failed (downstream_error set;
 * not an abort when cacheable, which keeps reading to the end).
 */
sl_int_t sl_pipe_run(sl_pipe_t *p, int do_write);

/*
 * Input filter for bodies passed as they are (Content-Length or close-delimited): one
 * shadow buf over the raw bytes, cut at p->length when that is known.  Bytes past the
 * length are dropped and reported in p->input_overrun; the pipe logs nothing of them (the
 * protocol above words its own warning).
 */
sl_int_t sl_pipe_copy_input_filter(sl_pipe_t *p, sl_buf_t *raw);

/*
 * A parsed buf over [pos, last) of raw (tagged, recycled, shadow = raw), appended to p->in;
 * raw->shadow is set to it.  NULL when memory runs out.  For input filters.
 */
sl_buf_t *sl_pipe_shadow_buf(sl_pipe_t *p, sl_buf_t *raw, u_char *pos, u_char *last);

/* Closes the temp file now, if one is open (its pool cleanup then does nothing). */
void sl_pipe_close_temp_file(sl_pipe_t *p);

/* Internal, shared by sl_pipe*.c. */
sl_int_t sl__pipe_read(sl_pipe_t *p);
sl_int_t sl__pipe_write(sl_pipe_t *p);
/* Gives a raw buffer back to free_raw_bufs (behind a partly filled head).  SL_OK/SL_ERROR. */
sl_int_t sl__pipe_add_free_raw(sl_pipe_t *p, sl_buf_t *raw);
/* Writes the head of p->in to the temp file and frees its raw buffers.  SL_OK, SL_BUSY
 * (nothing may be written: limits reached or nothing in memory), SL_ABORT (logged). */
sl_int_t sl__pipe_spill(sl_pipe_t *p);

#endif /* SL_PIPE_H */
