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

/* Descriptor options and queries: SL_OK, or SL_ERROR with errno set. */
sl_int_t sl_nonblocking(int fd);
sl_int_t sl_tcp_nodelay(int fd);
sl_int_t sl_tcp_cork(int fd, int on);
/* SO_LINGER with a zero timeout: close() then resets the connection (RST). */
sl_int_t sl_linger_zero(int fd);
/* shutdown(SHUT_WR): a FIN after what is queued; reading goes on. */
sl_int_t sl_shutdown_write(int fd);
/* getsockname() into sa (*len: its size in, the address's out). */
sl_int_t sl_local_sockaddr(int fd, struct sockaddr *sa, socklen_t *len);
/* The error pending on the socket (SO_ERROR, cleared by reading it), 0 when none; errno
 * when even asking fails. */
sl_err_t sl_socket_error(int fd);

/*
 * Reads into [buf, buf + size).  Returns the byte count (> 0), 0 at EOF, SL_AGAIN when
 * nothing is there, SL_ERROR with *err set.
 */
ssize_t sl_os_recv(int fd, u_char *buf, size_t size, sl_err_t *err);

/* Writes [buf, buf + size); byte count, SL_AGAIN, or SL_ERROR with *err set. */
ssize_t sl_os_send(int fd, const u_char *buf, size_t size, sl_err_t *err);

/*
 * Looks at the socket without reading (MSG_PEEK): SL_OK when bytes wait, SL_AGAIN when
 * nothing does, SL_DONE when the peer closed, SL_ERROR with *err set.
 */
sl_int_t sl_os_peek(int fd, sl_err_t *err);
/* The same, with the first waiting byte in *ch on SL_OK. */
sl_int_t sl_os_peek_byte(int fd, u_char *ch, sl_err_t *err);
/* Copies up to size waiting bytes into buf without reading them (MSG_PEEK): the count,
 * 0 when the peer closed with nothing waiting, SL_AGAIN, or SL_ERROR with *err set. */
ssize_t sl_os_peek_bytes(int fd, u_char *buf, size_t size, sl_err_t *err);

/*
 * Reads into the free space [last, end) of the memory bufs of a chain with one readv, at
 * most limit bytes (0 = no limit).  Returns bytes read, 0 at EOF, SL_AGAIN, or SL_ERROR.
 * The bufs' last pointers are not moved: the caller distributes the count.
 */
ssize_t sl_os_readv_chain(int fd, sl_chain_t *chain, off_t limit, sl_err_t *err);

/*
 * The plain-socket chain sender behind sl_socket_io's send_chain, and the one place
 * sendfile() is called: memory bufs gathered with writev, file bufs with sendfile, up to
 * limit bytes (0 = no limit).  Returns bytes sent (>= 0; fewer than asked means the socket
 * is full), SL_AGAIN if nothing could be sent, or SL_ERROR with *err set: SL_EFILE_TRUNCATED
 * when a file is shorter than its buf says (the send could never finish).  The bufs are not
 * advanced: call sl_chain_update_sent() with the count.
 */
#define SL_EFILE_TRUNCATED (-1)
ssize_t sl_os_send_chain(int fd, sl_chain_t *in, off_t limit, sl_err_t *err);

#endif /* SL_OS_H */
