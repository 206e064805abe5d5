/*
 * sl_conn.h: connection objects and listening sockets.
 *
 * Connections come from a table preallocated per process (worker_connections), each with
 * its read and write event.  A closed connection goes back to the free list only at the end
 * of the loop iteration, so events already collected for it in the same batch find it
 * marked closed instead of reused.  Idle keepalive connections sit in the reusable queue and
 * are closed, oldest first, when the table runs out.
 */
#ifndef SL_CONN_H
#define SL_CONN_H

#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>

#include "sl_core.h"
#include "sl_buf.h"
#include "sl_cycle.h"
#include "sl_event.h"
#include "sl_inet.h"
#include "sl_proxy_protocol.h"
#include "sl_str.h"

typedef struct sl_listening_s sl_listening_t;
/** a connection's TLS state (sl_ssl.h), NULL on a plain one */
typedef struct sl_ssl_connection_s sl_ssl_connection_t;
typedef void (*sl_connection_handler_pt)(sl_connection_t *c);

/*
 * A connection's I/O table.  Every byte a connection carries, and its half close and close,
 * go through it, so TLS (and test doubles) slot in under the code that reads and writes:
 * nothing above src/event/ touches the descriptor (scripts/check-socket-calls.sh).  Each
 * function keeps the events' ready/eof/error flags true to what it saw, which is what
 * edge-triggered handlers rely on, and logs its failures with sl_connection_error() (peek
 * excepted: its callers word what they find).
 */
/* recv: bytes read (> 0), 0 at EOF (rev->eof), SL_AGAIN (rev->ready cleared), SL_ERROR. */
typedef ssize_t (*sl_recv_pt)(sl_connection_t *c, u_char *buf, size_t size);
/* recv_chain: into the free space [last, end) of a chain's bufs, at most limit bytes (0: no
 * limit); returns as recv.  The bufs' last pointers are not moved: the caller spreads the
 * count. */
typedef ssize_t (*sl_recv_chain_pt)(sl_connection_t *c, sl_chain_t *in, off_t limit);
/* send: bytes sent (>= 0; fewer than size clears wev->ready), SL_AGAIN, or SL_ERROR.  Not
 * counted in c->sent, which counts what send_chain sends (the response: $bytes_sent); a
 * send is for bytes outside it ("100 Continue"). */
typedef ssize_t (*sl_send_pt)(sl_connection_t *c, const u_char *buf, size_t size);
/* send_chain: at most limit bytes (0: no limit), counted in c->sent, the bufs advanced.
 * Returns the first link with data left (NULL: all sent) or SL_CHAIN_ERROR. */
typedef sl_chain_t *(*sl_send_chain_pt)(sl_connection_t *c, sl_chain_t *in, off_t limit);
/* shutdown: nothing more will be sent; the peer sees the end of the stream after what is
 * queued (a FIN; TLS sends its close_notify first).  SL_OK or SL_ERROR. */
typedef sl_int_t (*sl_shutdown_pt)(sl_connection_t *c);
/* close: releases what the transport holds and closes c->fd (sl_close_connection calls it,
 * nothing else should).  SL_OK, or SL_ERROR with errno set. */
typedef sl_int_t (*sl_close_pt)(sl_connection_t *c);
/* peek: whether the peer is still there, consuming nothing and changing no flag: SL_OK
 * (bytes wait to be read), SL_AGAIN (nothing yet), SL_DONE (the peer closed), SL_ERROR
 * (the connection failed, *err says why).  Nothing is logged. */
typedef sl_int_t (*sl_peek_pt)(sl_connection_t *c, sl_err_t *err);
#define SL_CHAIN_ERROR ((sl_chain_t *) -1)

typedef struct {
    sl_recv_pt recv;
    sl_recv_chain_pt recv_chain;
    sl_send_pt send;
    sl_send_chain_pt send_chain;
    sl_shutdown_pt shutdown;
    sl_close_pt close;
    sl_peek_pt peek;
    /** file bufs may be given to send_chain as they are, for sendfile(); 0 (TLS): the http
     * layer reads them into memory first (as with "sendfile off"), and whatever file part
     * still comes is read by sl_conn_generic_send_chain */
    unsigned sendfile : 1;
} sl_conn_io_t;

/*
 * The send_chain of a table that can only send buffers (TLS, test doubles): each memory
 * part goes through c->io->send, each file part is read into memory first (at most
 * SL_CONN_FILE_PIECE bytes a call), never with sendfile().  The contract of send_chain
 * above; a file part that cannot be read is SL_CHAIN_ERROR (logged at crit).
 */
#define SL_CONN_FILE_PIECE 16384
sl_chain_t *sl_conn_generic_send_chain(sl_connection_t *c, sl_chain_t *in, off_t limit);

/* Plain sockets. */
extern const sl_conn_io_t sl_socket_io;

#define SL_SOCKADDR_STRLEN (sizeof("unix:") - 1 + sizeof(((struct sockaddr_un *) 0)->sun_path))

typedef union {
    struct sockaddr sa;
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    struct sockaddr_un sun;
} sl_sockaddr_t;

struct sl_listening_s {
    int fd;
    sl_sockaddr_t sockaddr;
    socklen_t socklen;
    /** "127.0.0.1:8080", "[::1]:80", "unix:/path" */
    sl_str_t addr_text;

    int backlog;
    int rcvbuf;
    int sndbuf;
    /** so_keepalive: 0 as the system has it, 1 on, 2 off; the three TCP times, 0 unset */
    int keepalive;
    int keepidle;
    int keepintvl;
    int keepcnt;
    /** fastopen=N: the queue of TCP_FASTOPEN, -1 without */
    int fastopen;
    /** deferred: TCP_DEFER_ACCEPT seconds (the server's client_header_timeout), 0 without */
    int deferred_accept;

    /** called for every accepted connection */
    sl_connection_handler_pt handler;
    /** the protocol's per-address data (the http servers on this address) */
    void *servers;
    sl_log_t *log;
    /** connection pool size */
    size_t pool_size;

    sl_connection_t *connection;
    /** reuseport: the worker whose socket this is (one socket per worker) */
    sl_uint_t worker;
    /** while a reload takes a socket over: the old cycle's entry it came from */
    sl_listening_t *previous;

    /** an open socket taken over from a previous cycle or process */
    unsigned inherited : 1;
    unsigned open : 1;
    unsigned bound : 1;
    unsigned listen : 1;
    unsigned reuseport : 1;
    /** IPV6_V6ONLY: 0 off, 1 on */
    unsigned ipv6only : 1;
    /** a unix socket file we created and remove on exit */
    unsigned unix_file : 1;
};

struct sl_connection_s {
    /** the protocol's per-connection state (the http connection, then the request) */
    void *data;
    sl_event_t *read;
    sl_event_t *write;
    int fd;

    const sl_conn_io_t *io;
    sl_ssl_connection_t *ssl;

    sl_listening_t *listening;
    /** bytes sent so far */
    off_t sent;
    sl_log_t *log;
    sl_pool_t *pool;

    sl_sockaddr_t sockaddr;
    socklen_t socklen;
    sl_str_t addr_text;
    sl_sockaddr_t local_sockaddr;
    socklen_t local_socklen;

    /** what a PROXY protocol header said (listen ... proxy_protocol), or NULL: none was
     * read, or it named no addresses */
    sl_proxy_protocol_t *proxy_protocol;

    /** the header buffer of an http connection */
    sl_buf_t *buffer;

    /** reusable queue link, or closing list link */
    sl_queue_t queue;

    /** serial number, "*N" in the log */
    sl_uint_t number;
    sl_uint_t requests;
    /** when it was accepted or connected (keepalive_time) */
    sl_msec_t start_msec;

    /** may be closed at once on graceful stop (waiting for a request) */
    unsigned idle : 1;
    /** in the reusable queue */
    unsigned reusable : 1;
    /** its owner must close it when the read handler runs (drain or shutdown) */
    unsigned close : 1;
    unsigned timedout : 1;
    unsigned error : 1;
    /** the descriptor is closed; the object is freed at the end of the iteration */
    unsigned destroyed : 1;
    /** inside an event handler of its owner that runs posted work before it returns (a
     * request ended there is freed then, not under the callers still using it) */
    unsigned dispatching : 1;
    unsigned listener : 1;
    /** TCP_NODELAY is set (sl_conn_tcp_nodelay) */
    unsigned tcp_nodelay : 1;
    /** SL_TCP_NOPUSH_*: whether TCP_CORK is set, or may no longer be */
    unsigned tcp_nopush : 2;
    /** shared with another process: removed from epoll explicitly before close */
    unsigned shared : 1;
    /** flips on every reuse of the object; epoll data carries it to spot stale events */
    unsigned instance : 1;
    /** a peer resetting or vanishing is logged at error, not info: a connection we made
     * to an upstream, whose failures an operator must see (nginx's log_error) */
    unsigned peer_errors_logged_err : 1;
};

/* c->tcp_nopush: not corked; corked until sl_conn_tcp_push(); never to be corked (a unix
 * socket, or an http request on it ran where tcp_nopush is off, as nginx). */
#define SL_TCP_NOPUSH_UNSET 0
#define SL_TCP_NOPUSH_SET 1
#define SL_TCP_NOPUSH_DISABLED 2

/* multi_accept: accept every queued connection per event, not one. */
extern int sl_accept_multi;

/* Connection numbers, for "*N" in the log. */
extern sl_uint_t sl_connection_counter;

/* Builds the connection table for cycle->connection_n connections.  SL_OK or SL_ERROR. */
sl_int_t sl_conn_table_init(sl_cycle_t *cycle);
void sl_conn_table_free(sl_cycle_t *cycle);

/*
 * Takes a connection object for fd from the free list, closing idle keepalive connections
 * if the list is empty.  NULL (logged "worker_connections are not enough") when none can be
 * freed: the caller closes fd.
 */
sl_connection_t *sl_get_connection(int fd, sl_log_t *log);

/*
 * Closes the connection through its table (c->io->close), cancels the timers and posted
 * events of both directions and schedules the object for the free list at the end of the
 * iteration.  The pool is the caller's to destroy (before or after).
 */
void sl_close_connection(sl_connection_t *c);
/* Logs "WHAT failed" for a socket call ("recv()", "setsockopt(TCP_NODELAY)"): when the peer
 * reset or went away, info (error on a connection sl_connect made), alert otherwise; the
 * levels nginx gives them. */
void sl_connection_error(sl_connection_t *c, sl_err_t err, const char *what);

/* Puts c in / takes it out of the reusable (idle keepalive) queue. */
void sl_reusable_connection(sl_connection_t *c, int reusable);
/* Graceful stop: tells every idle connection to close (c->close, read handler called),
 * except those accepted less than a second ago that have not sent anything yet: their
 * number is returned (call again later). */
sl_uint_t sl_close_idle_connections(sl_cycle_t *cycle);
/* Connections in use, not counting listeners and the process's own channels. */
sl_uint_t sl_active_connections(sl_cycle_t *cycle);
/* Returns closed connections to the free list (the loop's last phase). */
void sl_free_closed_connections(void);

/*
 * TCP options under a connection's sends (nginx's tcp_nodelay and tcp_nopush).  Each
 * returns SL_OK (also when there is nothing to do: already so, or a unix socket), or
 * SL_ERROR after logging "setsockopt(...) failed".
 */
/* Sets TCP_NODELAY, once per connection. */
sl_int_t sl_conn_tcp_nodelay(sl_connection_t *c);
/* Sets TCP_CORK: partial frames wait until sl_conn_tcp_push() (or the kernel's 200 ms). */
sl_int_t sl_conn_tcp_nopush(sl_connection_t *c);
/* Clears TCP_CORK if set: what it held goes out now. */
sl_int_t sl_conn_tcp_push(sl_connection_t *c);

/*
 * The socket under a connection, asked for what the layers above need to know or set
 * (sl_conn_socket.c); the bytes themselves go through c->io.
 */
/* The address the peer connected to, in c->local_sockaddr/local_socklen, found once per
 * connection: the listener's own when it is bound to one address, else getsockname().
 * SL_OK, or SL_ERROR after logging "getsockname() failed" at crit (nothing is set). */
sl_int_t sl_conn_local_sockaddr(sl_connection_t *c);
/* Copies up to size bytes waiting on the plain socket into buf without reading them: what
 * comes before a TLS handshake (a PROXY protocol header) is looked at, then only its own
 * bytes are read, leaving the hello to OpenSSL.  The count, 0 when the peer closed,
 * SL_AGAIN (c->read->ready cleared), or SL_ERROR (logged as a recv failure). */
ssize_t sl_conn_peek_bytes(sl_connection_t *c, u_char *buf, size_t size);
/* The error pending on the socket (SO_ERROR; reading it clears it), 0 when none: why a
 * peer that vanished went, for the log. */
sl_err_t sl_conn_pending_error(sl_connection_t *c);
/* Makes closing c reset the connection (RST, SO_LINGER 0) instead of ending it, so no
 * unsent data and no TIME_WAIT stay behind (reset_timedout_connection).  SL_OK, or SL_ERROR
 * after logging "setsockopt(SO_LINGER) failed" at crit (it will close normally). */
sl_int_t sl_conn_reset_on_close(sl_connection_t *c);

/* Listening sockets. */
sl_listening_t *sl_create_listening(sl_cycle_t *cycle, const struct sockaddr *sa,
                                    socklen_t socklen);
/*
 * Binds and listens every socket of the cycle (SO_REUSEADDR, retrying EADDRINUSE as nginx
 * does, 5 tries 500 ms apart).  SL_ERROR after logging bind() failures.
 */
sl_int_t sl_open_listening_sockets(sl_cycle_t *cycle);
/* Starts accepting on every listening socket of the cycle. */
sl_int_t sl_enable_accept(sl_cycle_t *cycle);
/* Closes every listening socket (graceful stop, exit).  Unix socket files are removed
 * when remove_files is set. */
void sl_close_listening_sockets(sl_cycle_t *cycle, int remove_files);
/*
 * Graceful stop: leaves epoll first, then accepts what is already queued (those clients
 * are served), then closes.  Accepting before leaving could lose a wake-up that
 * EPOLLEXCLUSIVE gave this process alone.
 */
void sl_stop_accepting(sl_cycle_t *cycle, int remove_files);
/* Set in a worker when its listening sockets are shared with other workers: wake-ups are
 * rotated among them (see sl_accept.c). */
extern int sl_accept_rotate;

/* Non-blocking connect. */
typedef struct {
    const struct sockaddr *sockaddr;
    socklen_t socklen;
    sl_str_t *name;
    sl_connection_t *connection;
    /** local address to bind before connecting (proxy_bind), or NULL */
    const struct sockaddr *local;
    socklen_t local_socklen;
    int so_keepalive;
    sl_log_t *log;
} sl_peer_connection_t;

/*
 * Starts connecting.  SL_OK: connected at once; SL_AGAIN: in progress (wait for the write
 * event, then sl_connect_check()); SL_DECLINED: the peer refused or is unreachable (try
 * another); SL_BUSY: no connection object free; SL_ERROR: local failure.  On SL_OK and
 * SL_AGAIN pc->connection is registered with the loop; on failures nothing is left open.
 */
sl_int_t sl_connect_peer(sl_peer_connection_t *pc);
/* After the write event: SL_OK when connected, SL_ERROR (logged with errno) otherwise. */
sl_int_t sl_connect_check(sl_connection_t *c);

#endif /* SL_CONN_H */
