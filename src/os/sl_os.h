/*
 * sl_os.h: socket and descriptor I/O.  Everything here is non-blocking and reports
 * "would block" as SL_AGAIN.
 */
#ifndef SL_OS_H
#define SL_OS_H

#include <sys/socket.h>
#include <sys/uio.h>

#include "sl_core.h"
#include "sl_buf.h"
#include "sl_log.h"

/* iovecs gathered per writev/readv call. */
#define SL_IOVS_PREALLOCATE 64

/* Descriptor options. */
sl_int_t sl_nonblocking(int fd);
sl_int_t sl_tcp_nodelay(int fd);
sl_int_t sl_tcp_cork(int fd, int on);

/*
 * Reads into [buf, buf + size).  Returns the byte count (> 0), 0 at EOF, SL_AGAIN when
 * nothing is there, SL_ERROR with *err set.
 */
ssize_t sl_os_recv(int fd, u_char *buf, size_t size, sl_err_t *err);

/* Writes [buf, buf + size); byte count, SL_AGAIN, or SL_ERROR with *err set. */
ssize_t sl_os_send(int fd, const u_char *buf, size_t size, sl_err_t *err);

/*
 * Reads into the free space [last, end) of the memory bufs of a chain with one readv, at
 * most limit bytes (0 = no limit).  Returns bytes read, 0 at EOF, SL_AGAIN, or SL_ERROR.
 * The bufs' last pointers are not moved: the caller distributes the count.
 */
ssize_t sl_os_readv_chain(int fd, sl_chain_t *chain, off_t limit, sl_err_t *err);

/*
 * Sends the chain: memory bufs gathered with writev, file bufs with sendfile, up to limit
 * bytes (0 = no limit).  Returns bytes sent (>= 0; fewer than asked means the socket is
 * full), SL_AGAIN if nothing could be sent, or SL_ERROR with *err set.  The bufs are not
 * advanced: call sl_chain_update_sent() with the count.
 */
ssize_t sl_os_send_chain(int fd, sl_chain_t *in, off_t limit, sl_err_t *err);

#endif /* SL_OS_H */
