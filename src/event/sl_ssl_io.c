/*
 * sl_ssl_io.c: the TLS I/O table (sl_ssl_io).  The contract is sl_conn.h's, so the code
 * above reads and writes as on a plain socket; what differs is underneath:
 *
 * - A read may need the socket to take a write first, and a write to give a read (TLS 1.3
 *   key updates, session tickets): the other event's handler is swapped for one that calls
 *   the waiting direction's, and put back at the next read or write that goes through.
 * - Writes are gathered into one buffer of ssl_buffer_size, so a response of many small
 *   bufs leaves as full records, not one record (and its 22+ bytes) per buf.  The bytes
 *   are copied from the chain and the chain advanced only once OpenSSL took them: a write
 *   that must be retried copies the same bytes again (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER)
 *   and nothing is counted sent before it left.
 * - No sendfile(): file parts are read into the buffer (sl_conn_io_t.sendfile is 0),
 *   unless the kernel encrypts (kernel TLS, "ssl_conf_command Options KTLS" and the kernel's
 *   tls module): then the connection has sl_ssl_ktls_io, whose sendfile is 1, and file parts
 *   go out with SSL_sendfile() while memory parts still go through SSL_write.
 */
#include "sl_file.h"
#include "sl_os.h"
#include "sl_ssl.h"

static void read_wants_write_handler(sl_event_t *wev)
{
    sl_connection_t *c = wev->data;

    c->read->handler(c->read);
}

static void write_wants_read_handler(sl_event_t *rev)
{
    sl_connection_t *c = rev->data;

    c->write->handler(c->write);
}

/* A read went through: a write event that was lent to it goes back to its handler. */
static void restore_write_handler(sl_connection_t *c)
{
    sl_ssl_connection_t *sc = c->ssl;

    if (sc->saved_write_handler) {
        c->write->handler = sc->saved_write_handler;
        sc->saved_write_handler = NULL;
    }
}

/* A write went through: the same for the read event. */
static void restore_read_handler(sl_connection_t *c)
{
    sl_ssl_connection_t *sc = c->ssl;

    if (sc->saved_read_handler) {
        c->read->handler = sc->saved_read_handler;
        sc->saved_read_handler = NULL;
    }
}

static void wait_write_for_read(sl_connection_t *c)
{
    sl_ssl_connection_t *sc = c->ssl;

    c->write->ready = 0;
    if (sc->saved_write_handler == NULL) {
        sc->saved_write_handler = c->write->handler;
        c->write->handler = read_wants_write_handler;
    }
}

static void wait_read_for_write(sl_connection_t *c)
{
    sl_ssl_connection_t *sc = c->ssl;

    c->read->ready = 0;
    if (sc->saved_read_handler == NULL) {
        sc->saved_read_handler = c->read->handler;
        c->read->handler = write_wants_read_handler;
    }
}

/* What SSL_read's failure means: SL_AGAIN, 0 (the peer closed) or SL_ERROR (logged). */
static ssize_t read_failed(sl_connection_t *c, int n)
{
    sl_ssl_connection_t *sc = c->ssl;
    int sslerr = SSL_get_error(sc->connection, n);
    sl_err_t err = sslerr == SSL_ERROR_SYSCALL ? errno : 0;

    sc->last = sslerr;
    switch (sslerr) {
    case SSL_ERROR_WANT_READ:
        c->read->ready = 0;
        return SL_AGAIN;
    case SSL_ERROR_WANT_WRITE:
        wait_write_for_read(c);
        c->read->ready = 0;
        return SL_AGAIN;
    case SSL_ERROR_ZERO_RETURN:
        ERR_clear_error();
        c->read->ready = 0;
        c->read->eof = 1;
        return 0;
    default:
        break;
    }
    /* a peer that went without a close_notify: an end of stream, as nginx takes it */
    if (sslerr == SSL_ERROR_SYSCALL && err == 0) {
        ERR_clear_error();
        c->read->ready = 0;
        c->read->eof = 1;
        return 0;
    }
    c->read->ready = 0;
    c->read->error = 1;
    sc->no_send_shutdown = 1;
    sl__ssl_connection_error(c, sslerr, err, "SSL_read() failed");
    return SL_ERROR;
}

static ssize_t ssl_recv(sl_connection_t *c, u_char *buf, size_t size)
{
    sl_ssl_connection_t *sc = c->ssl;
    size_t got = 0;

    if (c->read->eof) {
        c->read->ready = 0;
        return 0;
    }
    if (c->read->error) {
        c->read->ready = 0;
        return SL_ERROR;
    }
    /* OpenSSL returns a record at a time: read until the buffer is full or the socket
     * says EAGAIN, which is when the edge-triggered event may go unready */
    while (got < size) {
        ERR_clear_error();
        int n = SSL_read(sc->connection, buf + got, (int) sl_min(size - got, (size_t) INT_MAX));
        if (n > 0) {
            got += (size_t) n;
            continue;
        }
        ssize_t rc = read_failed(c, n);
        if (got == 0) {
            if (rc != SL_AGAIN) {
                restore_write_handler(c);
            }
            return rc;
        }
        /* what came before the end is returned first, and the event stays ready so that
         * the caller reads again and sees the end (as a FIN still queued behind data) */
        if (rc != SL_AGAIN) {
            c->read->ready = 1;
        }
        break;
    }
    restore_write_handler(c);
    return (ssize_t) got;
}

static ssize_t ssl_recv_chain(sl_connection_t *c, sl_chain_t *in, off_t limit)
{
    ssize_t total = 0;

    for (sl_chain_t *cl = in; cl; cl = cl->next) {
        sl_buf_t *b = cl->buf;
        size_t room = (size_t) (b->end - b->last);
        if (limit && (off_t) room > limit - total) {
            room = (size_t) (limit - total);
        }
        if (room == 0) {
            if (limit && total >= limit) {
                break;
            }
            continue;
        }
        ssize_t n = ssl_recv(c, b->last, room);
        if (n <= 0) {
            return total ? total : n;
        }
        total += n;
        if ((size_t) n < room) {
            break;
        }
    }
    return total;
}

/* What SSL_write's failure means: SL_AGAIN or SL_ERROR (logged). */
static ssize_t write_failed(sl_connection_t *c, int n)
{
    sl_ssl_connection_t *sc = c->ssl;
    int sslerr = SSL_get_error(sc->connection, n);

    if (sslerr == SSL_ERROR_ZERO_RETURN) {
        /* OpenSSL reports a socket error met after the peer's close_notify as a clean
         * close: it is the write's errno that tells (EPIPE, ECONNRESET: routine, at info) */
        sslerr = SSL_ERROR_SYSCALL;
    }
    sl_err_t err = sslerr == SSL_ERROR_SYSCALL ? errno : 0;

    sc->last = sslerr;
    if (sslerr == SSL_ERROR_WANT_WRITE) {
        c->write->ready = 0;
        return SL_AGAIN;
    }
    if (sslerr == SSL_ERROR_WANT_READ) {
        wait_read_for_write(c);
        c->write->ready = 0;
        return SL_AGAIN;
    }
    c->write->ready = 0;
    c->write->error = 1;
    sc->no_send_shutdown = 1;
    sl__ssl_connection_error(c, sslerr, err, "SSL_write() failed");
    return SL_ERROR;
}

/* One SSL_write of [buf, buf + size): the bytes taken, SL_AGAIN or SL_ERROR.  An SL_AGAIN
 * leaves sc->pending set: the next write must offer the same bytes. */
static ssize_t ssl_write(sl_connection_t *c, const u_char *buf, size_t size)
{
    sl_ssl_connection_t *sc = c->ssl;

    if (size == 0) {
        return 0;
    }
    ERR_clear_error();
    int n = SSL_write(sc->connection, buf, (int) sl_min(size, (size_t) INT_MAX));
    if (n > 0) {
        sc->pending = 0;
        restore_read_handler(c);
        if ((size_t) n < size) {
            c->write->ready = 0;
        }
        return n;
    }
    ssize_t rc = write_failed(c, n);
    if (rc == SL_AGAIN) {
        sc->pending = size;
    } else {
        restore_read_handler(c);
    }
    return rc;
}

static ssize_t ssl_send(sl_connection_t *c, const u_char *buf, size_t size)
{
    if (c->write->error) {
        return SL_ERROR;
    }
    return ssl_write(c, buf, size);
}

/*
 * The next bytes of the chain for one record, at most want: the head buf itself when it
 * holds them all in memory, else a copy gathered from the chain into sc->buf (file parts
 * read).  *size says how many; NULL after logging when a file cannot be read.
 */
static const u_char *gather(sl_connection_t *c, sl_chain_t *in, size_t want, size_t *size)
{
    sl_ssl_connection_t *sc = c->ssl;
    sl_buf_t *b = in->buf;

    if (sl_buf_in_memory(b) && (size_t) sl_buf_size(b) >= want) {
        *size = want;
        return b->pos;
    }
    if (sc->buf == NULL) {
        sc->buf = malloc(sc->buffer_size);
        if (sc->buf == NULL) {
            sl_log_error(SL_LOG_ALERT, c->log, errno, "malloc(%zu) failed", sc->buffer_size);
            return NULL;
        }
    }
    size_t n = 0;
    for (; in && n < want; in = in->next) {
        b = in->buf;
        size_t part = sl_min((size_t) sl_buf_size(b), want - n);
        if (part == 0) {
            continue;
        }
        if (sl_buf_in_memory(b)) {
            memcpy(sc->buf + n, b->pos, part);
        } else if (sl_read_file_part(b, sc->buf + n, part, c->log) != SL_OK) {
            return NULL;
        }
        n += part;
    }
    *size = n;
    return sc->buf;
}

/* One SSL_sendfile of the file part at the head of b, at most size bytes (kernel TLS): the
 * bytes sent, SL_AGAIN or SL_ERROR (logged). */
static ssize_t ssl_sendfile(sl_connection_t *c, sl_buf_t *b, size_t size)
{
    ERR_clear_error();
    errno = 0;
    ossl_ssize_t n = SSL_sendfile(c->ssl->connection, b->file->fd, b->file_pos, size, 0);
    if (n > 0) {
        return (ssize_t) n;
    }
    sl_err_t err = errno;
    int sslerr = SSL_get_error(c->ssl->connection, (int) n);
    if (sslerr == SSL_ERROR_WANT_WRITE) {
        c->write->ready = 0;
        return SL_AGAIN;
    }
    c->write->ready = 0;
    c->write->error = 1;
    c->ssl->no_send_shutdown = 1;
    if (sslerr == SSL_ERROR_SSL && err != 0) {
        /* the socket's error comes as OpenSSL's "ktls_sendfile failure": say it as it is */
        ERR_clear_error();
        sslerr = SSL_ERROR_SYSCALL;
    }
    sl__ssl_connection_error(c, sslerr, err, "SSL_sendfile() failed");
    return SL_ERROR;
}

/* The head of the chain is a file part the kernel can encrypt straight from the file. */
static int kernel_sends(sl_connection_t *c, sl_chain_t *in)
{
    return c->io->sendfile && !c->ssl->pending && in->buf->in_file && !sl_buf_in_memory(in->buf);
}

/* Bytes of the memory parts at the head of the chain, up to the first file part. */
static off_t memory_size(sl_chain_t *in)
{
    off_t n = 0;

    for (; in && (sl_buf_in_memory(in->buf) || !in->buf->in_file); in = in->next) {
        n += sl_buf_size(in->buf);
    }
    return n;
}

static sl_chain_t *ssl_send_chain(sl_connection_t *c, sl_chain_t *in, off_t limit)
{
    sl_ssl_connection_t *sc = c->ssl;
    off_t sent = 0;

    if (c->write->error) {
        return SL_CHAIN_ERROR;
    }
    in = sl_chain_update_sent(in, 0);
    while (in && (limit == 0 || sent < limit || sc->pending)) {
        if (kernel_sends(c, in)) {
            off_t part = sl_buf_size(in->buf);
            if (limit && part > limit - sent) {
                part = limit - sent;
            }
            ssize_t n = ssl_sendfile(c, in->buf, (size_t) part);
            if (n == SL_ERROR) {
                return SL_CHAIN_ERROR;
            }
            if (n == SL_AGAIN) {
                break;
            }
            c->sent += n;
            sent += n;
            in = sl_chain_update_sent(in, n);
            if (n < part) {
                break;
            }
            continue;
        }
        off_t left = c->io->sendfile ? memory_size(in) : sl_chain_size(in);
        size_t want = (size_t) sl_min(left, (off_t) sc->buffer_size);
        if (limit && (off_t) want > limit - sent) {
            want = (size_t) sl_max(limit - sent, (off_t) 0);
        }
        /* a retried write offers at least what it offered before */
        want = sl_max(want, sl_min(sc->pending, (size_t) left));
        if (want == 0) {
            break;
        }
        size_t size;
        const u_char *p = gather(c, in, want, &size);
        if (p == NULL) {
            c->write->error = 1;
            return SL_CHAIN_ERROR;
        }
        ssize_t n = ssl_write(c, p, size);
        if (n == SL_ERROR) {
            return SL_CHAIN_ERROR;
        }
        if (n == SL_AGAIN) {
            break;
        }
        c->sent += n;
        sent += n;
        in = sl_chain_update_sent(in, n);
        if ((size_t) n < size) {
            break;
        }
    }
    return in;
}

static sl_int_t ssl_shutdown(sl_connection_t *c)
{
    sl_ssl_connection_t *sc = c->ssl;

    if (sc->handshaked && !sc->no_send_shutdown) {
        /* the close_notify goes out now; the peer's is not waited for */
        ERR_clear_error();
        SSL_set_quiet_shutdown(sc->connection, 0);
        if (SSL_shutdown(sc->connection) < 0) {
            ERR_clear_error();
        }
        sc->no_send_shutdown = 1;
    }
    if (sl_shutdown_write(c->fd) != SL_OK) {
        sl_connection_error(c, errno, "shutdown()");
        return SL_ERROR;
    }
    return SL_OK;
}

static sl_int_t ssl_close(sl_connection_t *c)
{
    sl__ssl_connection_free(c);
    return close(c->fd) == -1 ? SL_ERROR : SL_OK;
}

static sl_int_t ssl_peek(sl_connection_t *c, sl_err_t *err)
{
    /* bytes OpenSSL already holds wait to be read, whatever the socket says */
    if (SSL_has_pending(c->ssl->connection)) {
        return SL_OK;
    }
    return sl_os_peek(c->fd, err);
}

const sl_conn_io_t sl_ssl_io = {
    .recv = ssl_recv,
    .recv_chain = ssl_recv_chain,
    .send = ssl_send,
    .send_chain = ssl_send_chain,
    .shutdown = ssl_shutdown,
    .close = ssl_close,
    .peek = ssl_peek,
    .sendfile = 0,
};

const sl_conn_io_t sl_ssl_ktls_io = {
    .recv = ssl_recv,
    .recv_chain = ssl_recv_chain,
    .send = ssl_send,
    .send_chain = ssl_send_chain,
    .shutdown = ssl_shutdown,
    .close = ssl_close,
    .peek = ssl_peek,
    .sendfile = 1,
};
