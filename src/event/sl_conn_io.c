/*
 * sl_conn_io.c: what I/O tables share.  sl_conn_generic_send_chain is the send_chain of a
 * table that can only send buffers (TLS): it needs nothing but the table's send, so the
 * chain bookkeeping (limits, c->sent, advancing the bufs) is written once.
 */
#include "sl_conn.h"
#include "sl_file.h"

/*
 * The bytes of the next part of b to send, at most size: the memory itself, or a piece of
 * the file read into piece (sendfile is not ours to use).  NULL after logging when the
 * file cannot give them.
 */
static const u_char *part_bytes(sl_connection_t *c, sl_buf_t *b, u_char *piece, off_t *size)
{
    if (sl_buf_in_memory(b)) {
        return b->pos;
    }
    *size = sl_min(*size, (off_t) SL_CONN_FILE_PIECE);
    /* A file part that went out short is read again from where it stopped: the same
     * bytes, as a TLS write that must be retried wants them. */
    if (sl_read_file_part(b, piece, (size_t) *size, c->log) != SL_OK) {
        return NULL;
    }
    return piece;
}

sl_chain_t *sl_conn_generic_send_chain(sl_connection_t *c, sl_chain_t *in, off_t limit)
{
    u_char piece[SL_CONN_FILE_PIECE];
    off_t sent = 0;

    /* skips what carries no data (flush, last_buf, empty bufs) */
    in = sl_chain_update_sent(in, 0);
    while (in && (limit == 0 || sent < limit)) {
        sl_buf_t *b = in->buf;
        off_t size = sl_buf_size(b);

        if (limit && size > limit - sent) {
            size = limit - sent;
        }
        const u_char *p = part_bytes(c, b, piece, &size);
        if (p == NULL) {
            c->write->error = 1;
            return SL_CHAIN_ERROR;
        }
        ssize_t n = c->io->send(c, p, (size_t) size);
        if (n == SL_ERROR) {
            return SL_CHAIN_ERROR;
        }
        if (n == SL_AGAIN) {
            break;
        }
        c->sent += n;
        sent += n;
        in = sl_chain_update_sent(in, n);
        if (n < size) {
            /* the connection is full (send cleared wev->ready) */
            break;
        }
    }
    return in;
}
