/*
 * sl_socket_io.c: the plain-socket I/O table (sl_socket_io), over the os layer's calls.
 * Keeps the events' ready/eof/error flags true to what the kernel said, which is what
 * edge-triggered handlers rely on.  Its send_chain is the only way to sendfile().
 */
#include <sys/stat.h>

#include "sl_conn.h"
#include "sl_os.h"

void sl_connection_error(sl_connection_t *c, sl_err_t err, const char *what)
{
    /* A peer resetting or vanishing is routine for a proxy's clients (info) but worth an
     * error on the connections it makes; anything else is the system's fault (alert).
     * The levels nginx gives them. */
    int routine = err == 0 || err == ECONNRESET || err == EPIPE || err == ENOTCONN
                  || err == ETIMEDOUT || err == ECONNREFUSED || err == ENETDOWN
                  || err == ENETUNREACH || err == EHOSTDOWN || err == EHOSTUNREACH;
    sl_uint_t level = !routine                    ? SL_LOG_ALERT
                      : c->peer_errors_logged_err ? SL_LOG_ERR
                                                  : SL_LOG_INFO;

    sl_log_error(level, c->log, err, "%s failed", what);
}

static ssize_t socket_recv(sl_connection_t *c, u_char *buf, size_t size)
{
    sl_event_t *rev = c->read;
    sl_err_t err = 0;
    ssize_t n = sl_os_recv(c->fd, buf, size, &err);

    if (n == 0) {
        rev->ready = 0;
        rev->eof = 1;
        return 0;
    }
    if (n > 0) {
        /* A short read drained the socket, unless the peer's FIN is still queued. */
        if ((size_t) n < size && !rev->pending_eof) {
            rev->ready = 0;
        }
        return n;
    }
    rev->ready = 0;
    if (n == SL_ERROR) {
        rev->error = 1;
        sl_connection_error(c, err, "recv()");
    }
    return n;
}

static ssize_t socket_recv_chain(sl_connection_t *c, sl_chain_t *in, off_t limit)
{
    sl_event_t *rev = c->read;
    sl_err_t err = 0;
    ssize_t n = sl_os_readv_chain(c->fd, in, limit, &err);

    if (n == 0) {
        rev->ready = 0;
        rev->eof = 1;
        return 0;
    }
    if (n > 0) {
        return n;
    }
    rev->ready = 0;
    if (n == SL_ERROR) {
        rev->error = 1;
        sl_connection_error(c, err, "readv()");
    }
    return n;
}

static ssize_t socket_send(sl_connection_t *c, const u_char *buf, size_t size)
{
    sl_event_t *wev = c->write;
    sl_err_t err = 0;
    ssize_t n = sl_os_send(c->fd, buf, size, &err);

    if (n >= 0) {
        if ((size_t) n < size) {
            wev->ready = 0;
        }
        return n;
    }
    wev->ready = 0;
    if (n == SL_ERROR) {
        wev->error = 1;
        sl_connection_error(c, err, "send()");
    }
    return n;
}

/* nginx's words for a file that shrank under a response being sent from it. */
static void log_truncated(sl_connection_t *c, sl_chain_t *in)
{
    for (; in; in = in->next) {
        sl_buf_t *b = in->buf;
        if (b->in_file && !sl_buf_in_memory(b) && b->file_pos < b->file_last) {
            struct stat st;
            off_t size = fstat(b->file->fd, &st) == 0 ? st.st_size : b->file_pos;
            sl_log_error(SL_LOG_ALERT, c->log, 0,
                         "sendfile() reported that \"%.*s\" was truncated at %jd",
                         SL_STR_ARG(b->file->name), (intmax_t) size);
            return;
        }
    }
    sl_log_error(SL_LOG_ALERT, c->log, 0, "sendfile() reported that a file was truncated");
}

static sl_chain_t *socket_send_chain(sl_connection_t *c, sl_chain_t *in, off_t limit)
{
    sl_event_t *wev = c->write;
    sl_err_t err = 0;
    off_t want = sl_chain_size(in);

    if (limit && want > limit) {
        want = limit;
    }
    ssize_t n = sl_os_send_chain(c->fd, in, limit, &err);
    if (n == SL_ERROR) {
        wev->error = 1;
        wev->ready = 0;
        if (err == SL_EFILE_TRUNCATED) {
            log_truncated(c, in);
        } else {
            sl_connection_error(c, err, "writev()");
        }
        return SL_CHAIN_ERROR;
    }
    if (n == SL_AGAIN) {
        wev->ready = 0;
        return in;
    }
    c->sent += n;
    if (n < want) {
        wev->ready = 0;
    }
    return sl_chain_update_sent(in, n);
}

static sl_int_t socket_shutdown(sl_connection_t *c)
{
    if (sl_shutdown_write(c->fd) != SL_OK) {
        sl_connection_error(c, errno, "shutdown()");
        return SL_ERROR;
    }
    return SL_OK;
}

static sl_int_t socket_close(sl_connection_t *c)
{
    return close(c->fd) == -1 ? SL_ERROR : SL_OK;
}

static sl_int_t socket_peek(sl_connection_t *c, sl_err_t *err)
{
    return sl_os_peek(c->fd, err);
}

const sl_conn_io_t sl_socket_io = {
    .recv = socket_recv,
    .recv_chain = socket_recv_chain,
    .send = socket_send,
    .send_chain = socket_send_chain,
    .shutdown = socket_shutdown,
    .close = socket_close,
    .peek = socket_peek,
    .sendfile = 1,
};
