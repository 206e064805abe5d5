/*
 * sl_accept.c: listening sockets and accepting connections.
 */
#include <sys/stat.h>
#include <netinet/tcp.h>
#include <time.h>

#include "sl_array.h"
#include "sl_conn.h"
#include "sl_listening.h"
#include "sl_pool.h"

#define SL_LISTEN_BIND_TRIES 5

sl_listening_t *sl_create_listening(sl_cycle_t *cycle, const struct sockaddr *sa, socklen_t socklen)
{
    sl_listening_t *ls = sl_pcalloc(cycle->pool, sizeof(sl_listening_t));
    sl_listening_t **slot = sl_array_push(&cycle->listening);
    u_char text[SL_SOCKADDR_STRLEN + 16];

    if (ls == NULL || slot == NULL) {
        return NULL;
    }
    *slot = ls;
    memcpy(&ls->sockaddr, sa, socklen);
    ls->socklen = socklen;
    ls->addr_text.len = sl_addr_ntop(sa, socklen, text, sizeof(text), 1);
    ls->addr_text.data = sl_pnalloc(cycle->pool, ls->addr_text.len + 1);
    if (ls->addr_text.data == NULL) {
        return NULL;
    }
    memcpy(ls->addr_text.data, text, ls->addr_text.len);
    ls->addr_text.data[ls->addr_text.len] = '\0';
    ls->fd = -1;
    ls->backlog = 511;
    ls->rcvbuf = -1;
    ls->sndbuf = -1;
    ls->fastopen = -1;
    ls->ipv6only = 1;
    ls->log = cycle->log;
    ls->pool_size = 256;
    return ls;
}

static sl_int_t set_listen_options(sl_listening_t *ls, int s, sl_log_t *log)
{
    int on = 1;

    if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1) {
        sl_log_error(SL_LOG_EMERG, log, errno, "setsockopt(SO_REUSEADDR) %s failed",
                     (char *) ls->addr_text.data);
        return SL_ERROR;
    }
    if (ls->reuseport && setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1) {
        sl_log_error(SL_LOG_EMERG, log, errno, "setsockopt(SO_REUSEPORT) %s failed",
                     (char *) ls->addr_text.data);
        return SL_ERROR;
    }
    if (ls->sockaddr.sa.sa_family == AF_INET6) {
        int v6only = ls->ipv6only;
        if (setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) == -1) {
            sl_log_error(SL_LOG_EMERG, log, errno, "setsockopt(IPV6_V6ONLY) %s failed, ignored",
                         (char *) ls->addr_text.data);
        }
    }
    if (ls->rcvbuf != -1 && setsockopt(s, SOL_SOCKET, SO_RCVBUF, &ls->rcvbuf, sizeof(int)) == -1) {
        sl_log_error(SL_LOG_ALERT, log, errno, "setsockopt(SO_RCVBUF, %d) %s failed, ignored",
                     ls->rcvbuf, (char *) ls->addr_text.data);
    }
    if (ls->sndbuf != -1 && setsockopt(s, SOL_SOCKET, SO_SNDBUF, &ls->sndbuf, sizeof(int)) == -1) {
        sl_log_error(SL_LOG_ALERT, log, errno, "setsockopt(SO_SNDBUF, %d) %s failed, ignored",
                     ls->sndbuf, (char *) ls->addr_text.data);
    }
    sl_listening_set_tcp_options(ls, s, log);
    return SL_OK;
}

/* A stale unix socket file from a previous run would make bind() fail; nginx removes it
 * only on a clean exit, so do the same and report EADDRINUSE otherwise. */
static sl_int_t bind_one(sl_listening_t *ls, int s, sl_log_t *log, sl_err_t *err)
{
    if (bind(s, &ls->sockaddr.sa, ls->socklen) == -1) {
        *err = errno;
        return SL_ERROR;
    }
    if (ls->sockaddr.sa.sa_family == AF_UNIX) {
        const char *path = ls->sockaddr.sun.sun_path;
        if (chmod(path, 0666) == -1) {
            sl_log_error(SL_LOG_EMERG, log, errno, "chmod() \"%s\" failed", path);
        }
        ls->unix_file = 1;
    }
    return SL_OK;
}

static sl_int_t open_one(sl_listening_t *ls, sl_log_t *log, sl_err_t *err)
{
    int s = socket(ls->sockaddr.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (s == -1) {
        sl_log_error(SL_LOG_EMERG, log, errno, "socket() %s failed", (char *) ls->addr_text.data);
        return SL_ABORT;
    }
    if (set_listen_options(ls, s, log) != SL_OK) {
        close(s);
        return SL_ABORT;
    }
    if (bind_one(ls, s, log, err) != SL_OK) {
        close(s);
        return SL_ERROR;
    }
    if (listen(s, ls->backlog) == -1) {
        sl_log_error(SL_LOG_EMERG, log, errno, "listen() to %s, backlog %d failed",
                     (char *) ls->addr_text.data, ls->backlog);
        close(s);
        return SL_ABORT;
    }
    ls->fd = s;
    ls->open = 1;
    ls->listen = 1;
    return SL_OK;
}

sl_int_t sl_open_listening_sockets(sl_cycle_t *cycle)
{
    sl_listening_t **ls = cycle->listening.elts;

    for (sl_uint_t tries = 0; tries < SL_LISTEN_BIND_TRIES; tries++) {
        sl_uint_t failed = 0;

        for (sl_uint_t i = 0; i < cycle->listening.nelts; i++) {
            sl_err_t err = 0;

            if (ls[i]->fd != -1) {
                continue;
            }
            sl_int_t rc = open_one(ls[i], cycle->log, &err);
            if (rc == SL_ABORT) {
                return SL_ERROR;
            }
            if (rc == SL_ERROR) {
                sl_log_error(SL_LOG_EMERG, cycle->log, err, "bind() to %s failed",
                             (char *) ls[i]->addr_text.data);
                if (err != EADDRINUSE) {
                    return SL_ERROR;
                }
                failed = 1;
            }
        }
        if (!failed) {
            return SL_OK;
        }
        sl_log_error(SL_LOG_NOTICE, cycle->log, 0, "try again to bind() after 500ms");
        struct timespec ts = { 0, 500 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    sl_log_error(SL_LOG_EMERG, cycle->log, 0, "still could not bind()");
    return SL_ERROR;
}

static void accept_handler(sl_event_t *ev);

sl_int_t sl_enable_accept(sl_cycle_t *cycle)
{
    sl_listening_t **ls = cycle->listening.elts;

    for (sl_uint_t i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i]->fd == -1) {
            continue;
        }
        sl_connection_t *c = sl_get_connection(ls[i]->fd, cycle->log);
        if (c == NULL) {
            return SL_ERROR;
        }
        c->listening = ls[i];
        c->listener = 1;
        c->shared = 1;
        ls[i]->connection = c;
        c->read->accept = 1;
        c->read->handler = accept_handler;
        if (sl_loop_add_listen(c, 1) != SL_OK) {
            return SL_ERROR;
        }
    }
    return SL_OK;
}

int sl_accept_multi;

/* Out of descriptors: stop polling the listener for a while instead of spinning on it. */
static void pause_accept(sl_connection_t *lc)
{
    sl_loop_del_connection(lc);
    sl_add_timer(lc->read, 500);
}

static sl_int_t init_accepted(sl_connection_t *c, sl_listening_t *ls)
{
    c->pool = sl_pool_create(ls->pool_size, ls->log);
    if (c->pool == NULL) {
        return SL_ERROR;
    }
    sl_log_t *log = sl_palloc(c->pool, sizeof(sl_log_t));
    u_char text[SL_SOCKADDR_STRLEN + 16];

    if (log == NULL) {
        return SL_ERROR;
    }
    *log = *ls->log;
    c->number = ++sl_connection_counter;
    c->start_msec = sl_current_msec;
    log->connection = c->number;
    log->handler = NULL;
    log->data = NULL;
    log->action = NULL;
    c->log = log;
    c->read->log = log;
    c->write->log = log;
    c->listening = ls;
    c->addr_text.len = sl_addr_ntop(&c->sockaddr.sa, c->socklen, text, sizeof(text), 0);
    c->addr_text.data = sl_pnalloc(c->pool, c->addr_text.len + 1);
    if (c->addr_text.data == NULL) {
        return SL_ERROR;
    }
    memcpy(c->addr_text.data, text, c->addr_text.len);
    c->addr_text.data[c->addr_text.len] = '\0';
    /* No TCP_NODELAY: http sets it where tcp_nodelay says (keepalive, unbuffered proxying);
     * until then tcp_nopush may cork the socket. */
    /* Writable from the start: the first response need not wait for an epoll report. */
    c->write->ready = 1;
    return sl_loop_add_connection(c);
}

/* Accepts one connection; SL_AGAIN when the queue is empty, SL_ERROR to stop for now. */
static sl_int_t accept_one(sl_connection_t *lc)
{
    sl_listening_t *ls = lc->listening;
    sl_sockaddr_t sa;
    socklen_t socklen = sizeof(sa);
    int s = accept4(lc->fd, &sa.sa, &socklen, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (s == -1) {
        sl_err_t err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK) {
            return SL_AGAIN;
        }
        if (err == ECONNABORTED || err == EINTR) {
            return SL_OK;
        }
        sl_log_error(err == EMFILE || err == ENFILE ? SL_LOG_CRIT : SL_LOG_ALERT, lc->log, err,
                     "accept4() failed");
        if (err == EMFILE || err == ENFILE) {
            pause_accept(lc);
        }
        return SL_ERROR;
    }
    sl_connection_t *c = sl_get_connection(s, ls->log);
    if (c == NULL) {
        close(s);
        return SL_ERROR;
    }
    memcpy(&c->sockaddr, &sa, sizeof(sa));
    c->socklen = socklen;
    if (init_accepted(c, ls) != SL_OK) {
        sl_pool_t *pool = c->pool;
        sl_close_connection(c);
        sl_pool_destroy(pool);
        return SL_ERROR;
    }
    ls->handler(c);
    return SL_OK;
}

int sl_accept_rotate;

/*
 * EPOLLEXCLUSIVE wakes the first waiting process in the socket's wait queue, so a worker
 * near its head takes most connections while the others idle (measured: 66% / 33% with
 * two workers).  Registering the listener again now and then puts this worker at the back
 * of the queue, and the connections spread (nginx does the same since 1.19).
 */
#define SL_ACCEPT_ROTATE_EVERY 16

static void rotate_wakeups(sl_connection_t *lc)
{
    if (!sl_accept_rotate || lc->listening->reuseport
        || ++lc->requests % SL_ACCEPT_ROTATE_EVERY != 0) {
        return;
    }
    /* a connection queued meanwhile is reported again by the level-triggered add */
    if (sl_loop_del_connection(lc) == SL_OK) {
        sl_loop_add_listen(lc, 1);
    }
}

static void accept_handler(sl_event_t *ev)
{
    sl_connection_t *lc = ev->data;

    if (ev->timedout) {
        /* The pause after EMFILE is over. */
        ev->timedout = 0;
        sl_loop_add_listen(lc, 1);
        return;
    }
    do {
        if (accept_one(lc) != SL_OK) {
            break;
        }
    } while (sl_accept_multi);
    rotate_wakeups(lc);
}

void sl_stop_accepting(sl_cycle_t *cycle, int remove_files)
{
    sl_listening_t **ls = cycle->listening.elts;

    for (sl_uint_t i = 0; i < cycle->listening.nelts; i++) {
        sl_connection_t *c = ls[i]->connection;

        if (c == NULL) {
            continue;
        }
        sl_loop_del_connection(c);
        if (c->read->timer_set) {
            sl_del_timer(c->read);
        }
        while (accept_one(c) == SL_OK) {
            /* every client already queued gets its connection */
        }
    }
    sl_close_listening_sockets(cycle, remove_files);
}

void sl_close_listening_sockets(sl_cycle_t *cycle, int remove_files)
{
    sl_listening_t **ls = cycle->listening.elts;

    for (sl_uint_t i = 0; i < cycle->listening.nelts; i++) {
        sl_connection_t *c = ls[i]->connection;

        if (c == NULL && ls[i]->fd == -1) {
            /* taken over by another cycle, or never opened: not ours to remove */
            continue;
        }
        if (c) {
            sl_close_connection(c);
            ls[i]->connection = NULL;
        } else if (ls[i]->fd != -1 && close(ls[i]->fd) == -1) {
            sl_log_error(SL_LOG_EMERG, cycle->log, errno, "close() socket %s failed",
                         (char *) ls[i]->addr_text.data);
        }
        ls[i]->fd = -1;
        if (remove_files && ls[i]->unix_file) {
            const char *path = ls[i]->sockaddr.sun.sun_path;
            if (unlink(path) == -1 && errno != ENOENT) {
                sl_log_error(SL_LOG_EMERG, cycle->log, errno, "unlink() \"%s\" failed", path);
            }
        }
    }
}
