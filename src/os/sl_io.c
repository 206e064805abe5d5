/*
 * sl_io.c: recv, peek, readv into a chain, and send a chain with writev and sendfile.
 */
#include <sys/sendfile.h>

#include "sl_os.h"

/*
 * A socket call's result as this layer returns it: the count as it is, SL_AGAIN for a
 * socket that would block, SL_ERROR with errno in *err; SL_DECLINED for a call a signal
 * interrupted, which the caller repeats.
 */
static ssize_t call_result(ssize_t n, sl_err_t *err)
{
    if (n >= 0) {
        return n;
    }
    if (errno == EINTR) {
        return SL_DECLINED;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return SL_AGAIN;
    }
    *err = errno;
    return SL_ERROR;
}

ssize_t sl_os_recv(int fd, u_char *buf, size_t size, sl_err_t *err)
{
    ssize_t n;

    do {
        n = call_result(recv(fd, buf, size, 0), err);
    } while (n == SL_DECLINED);
    return n;
}

ssize_t sl_os_send(int fd, const u_char *buf, size_t size, sl_err_t *err)
{
    ssize_t n;

    do {
        n = call_result(send(fd, buf, size, MSG_NOSIGNAL), err);
    } while (n == SL_DECLINED);
    return n;
}

sl_int_t sl_os_peek(int fd, sl_err_t *err)
{
    u_char ch;

    return sl_os_peek_byte(fd, &ch, err);
}

sl_int_t sl_os_peek_byte(int fd, u_char *ch, sl_err_t *err)
{
    ssize_t n;

    do {
        n = call_result(recv(fd, ch, 1, MSG_PEEK), err);
    } while (n == SL_DECLINED);
    return n > 0 ? SL_OK : n == 0 ? SL_DONE : n;
}

ssize_t sl_os_peek_bytes(int fd, u_char *buf, size_t size, sl_err_t *err)
{
    ssize_t n;

    do {
        n = call_result(recv(fd, buf, size, MSG_PEEK), err);
    } while (n == SL_DECLINED);
    return n;
}

ssize_t sl_os_readv_chain(int fd, sl_chain_t *chain, off_t limit, sl_err_t *err)
{
    struct iovec iov[SL_IOVS_PREALLOCATE];
    int n = 0;
    off_t total = 0;

    for (; chain && n < SL_IOVS_PREALLOCATE; chain = chain->next) {
        sl_buf_t *b = chain->buf;
        size_t room = b->end - b->last;

        if (room == 0) {
            continue;
        }
        if (limit && total + (off_t) room > limit) {
            room = (size_t) (limit - total);
        }
        iov[n].iov_base = b->last;
        iov[n].iov_len = room;
        n++;
        total += room;
        if (limit && total >= limit) {
            break;
        }
    }
    if (n == 0) {
        return SL_AGAIN;
    }
    ssize_t r;

    do {
        r = call_result(readv(fd, iov, n), err);
    } while (r == SL_DECLINED);
    return r;
}

/* Collects consecutive memory bufs into iov; returns the link after the last one taken. */
static sl_chain_t *gather_memory(sl_chain_t *in, struct iovec *iov, int *niov, off_t *size,
                                 off_t limit)
{
    for (; in && *niov < SL_IOVS_PREALLOCATE; in = in->next) {
        sl_buf_t *b = in->buf;

        if (sl_buf_special(b)) {
            continue;
        }
        if (b->in_file && !sl_buf_in_memory(b)) {
            break;
        }
        size_t len = b->last - b->pos;
        if (len == 0) {
            continue;
        }
        if (limit && *size + (off_t) len > limit) {
            len = (size_t) (limit - *size);
        }
        /* Adjacent pieces of one buffer go in one iovec. */
        if (*niov && (u_char *) iov[*niov - 1].iov_base + iov[*niov - 1].iov_len == b->pos) {
            iov[*niov - 1].iov_len += len;
        } else {
            iov[*niov].iov_base = b->pos;
            iov[*niov].iov_len = len;
            (*niov)++;
        }
        *size += len;
        if (limit && *size >= limit) {
            return NULL;
        }
    }
    return in;
}

/*
 * A short count is either a full socket or the end of a file shorter than the buf says:
 * the call after it tells them apart (EAGAIN, or 0 bytes: truncated).  Without it a
 * truncated file would read as a full socket, and an edge-triggered writer would wait for
 * an event that never comes.
 */
static ssize_t send_file_buf(int fd, sl_buf_t *b, off_t limit, sl_err_t *err)
{
    off_t offset = b->file_pos;
    off_t len = b->file_last - b->file_pos;
    ssize_t sent = 0;

    if (limit && len > limit) {
        len = limit;
    }
    while (sent < len) {
        ssize_t n = sendfile(fd, b->file->fd, &offset, (size_t) (len - sent));

        if (n > 0) {
            sent += n;
            continue;
        }
        if (n == 0) {
            *err = SL_EFILE_TRUNCATED;
            return SL_ERROR;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN) {
            return sent ? sent : SL_AGAIN;
        }
        *err = errno;
        return SL_ERROR;
    }
    return sent;
}

static ssize_t writev_all(int fd, struct iovec *iov, int niov, sl_err_t *err)
{
    ssize_t n;

    do {
        n = call_result(writev(fd, iov, niov), err);
    } while (n == SL_DECLINED);
    return n;
}

ssize_t sl_os_send_chain(int fd, sl_chain_t *in, off_t limit, sl_err_t *err)
{
    off_t sent = 0;

    while (in && (limit == 0 || sent < limit)) {
        struct iovec iov[SL_IOVS_PREALLOCATE];
        int niov = 0;
        off_t size = 0;
        off_t left = limit ? limit - sent : 0;
        sl_chain_t *next = gather_memory(in, iov, &niov, &size, left);
        ssize_t n;

        if (niov) {
            n = writev_all(fd, iov, niov, err);
        } else if (next && next->buf->in_file) {
            size = next->buf->file_last - next->buf->file_pos;
            size = left && size > left ? left : size;
            n = send_file_buf(fd, next->buf, left, err);
            next = next->next;
        } else {
            break;
        }
        if (n == SL_ERROR) {
            return SL_ERROR;
        }
        if (n == SL_AGAIN) {
            return sent ? sent : SL_AGAIN;
        }
        sent += n;
        if (n < size) {
            break;
        }
        in = next;
    }
    return sent;
}
