/*
 * sl_listening.c: listening sockets that outlive a cycle or a process: one socket per
 * worker for reuseport, sockets kept across a reload, sockets handed to a new binary
 * (USR2) through the environment.
 */
#include <fcntl.h>
#include <stdio.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "sl_array.h"
#include "sl_conn.h"
#include "sl_listening.h"
#include "sl_pool.h"

/* "SLUICE" is ours; "NGINX" lets sluice take over from a running nginx (and nginx from us). */
static const char *const env_names[] = { "SLUICE", "NGINX" };

sl_int_t sl_clone_reuseport_listening(sl_cycle_t *cycle, sl_uint_t workers)
{
    sl_uint_t n = cycle->listening.nelts;

    for (sl_uint_t i = 0; i < n; i++) {
        sl_listening_t *ls = ((sl_listening_t **) cycle->listening.elts)[i];

        if (!ls->reuseport) {
            continue;
        }
        for (sl_uint_t w = 1; w < workers; w++) {
            sl_listening_t *copy = sl_palloc(cycle->pool, sizeof(sl_listening_t));
            sl_listening_t **slot = sl_array_push(&cycle->listening);

            if (copy == NULL || slot == NULL) {
                return SL_ERROR;
            }
            *copy = *ls;
            copy->worker = w;
            *slot = copy;
        }
    }
    return SL_OK;
}

void sl_close_other_workers_sockets(sl_cycle_t *cycle, sl_uint_t worker)
{
    sl_listening_t **ls = cycle->listening.elts;

    for (sl_uint_t i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i]->reuseport && ls[i]->worker != worker && ls[i]->fd != -1) {
            close(ls[i]->fd);
            ls[i]->fd = -1;
        }
    }
}

static int same_address(const sl_listening_t *ls, const sl_sockaddr_t *sa, socklen_t socklen)
{
    return sl_addr_cmp(&ls->sockaddr.sa, ls->socklen, &sa->sa, socklen, 1) == 0;
}

/* A kept socket gets the new config's backlog (listen() again is how it changes). */
static void set_int(sl_listening_t *ls, int s, int level, int name, const char *what, int value,
                    sl_log_t *log)
{
    if (setsockopt(s, level, name, &value, sizeof(value)) == -1) {
        sl_log_error(SL_LOG_ALERT, log, errno, "setsockopt(%s, %d) %s failed, ignored", what, value,
                     (char *) ls->addr_text.data);
    }
}

void sl_listening_set_tcp_options(sl_listening_t *ls, int s, sl_log_t *log)
{
    if (ls->sockaddr.sa.sa_family == AF_UNIX) {
        return;
    }
    if (ls->keepalive) {
        set_int(ls, s, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", ls->keepalive == 1, log);
    }
    if (ls->keepidle) {
        set_int(ls, s, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", ls->keepidle, log);
    }
    if (ls->keepintvl) {
        set_int(ls, s, IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL", ls->keepintvl, log);
    }
    if (ls->keepcnt) {
        set_int(ls, s, IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT", ls->keepcnt, log);
    }
    if (ls->fastopen != -1) {
        set_int(ls, s, IPPROTO_TCP, TCP_FASTOPEN, "TCP_FASTOPEN", ls->fastopen, log);
    }
    /* a socket kept at a reload has the old config's: changed only when it differs */
    int had = ls->previous ? ls->previous->deferred_accept : 0;
    if (ls->deferred_accept != had) {
        set_int(ls, s, IPPROTO_TCP, TCP_DEFER_ACCEPT, "TCP_DEFER_ACCEPT", ls->deferred_accept, log);
    }
}

static void reconfigure(sl_listening_t *ls, sl_log_t *log)
{
    sl_listening_set_tcp_options(ls, ls->fd, log);
    if (listen(ls->fd, ls->backlog) == -1) {
        sl_log_error(SL_LOG_ALERT, log, errno, "listen() to %s, backlog %d failed, ignored",
                     (char *) ls->addr_text.data, ls->backlog);
    }
}

void sl_take_over_listening(sl_cycle_t *cycle, sl_cycle_t *old)
{
    sl_listening_t **nls = cycle->listening.elts;
    sl_listening_t **ols = old->listening.elts;

    for (sl_uint_t i = 0; i < cycle->listening.nelts; i++) {
        for (sl_uint_t j = 0; j < old->listening.nelts; j++) {
            if (ols[j]->fd == -1 || ols[j]->reuseport != nls[i]->reuseport
                || ols[j]->worker != nls[i]->worker
                || !same_address(nls[i], &ols[j]->sockaddr, ols[j]->socklen)) {
                continue;
            }
            nls[i]->fd = ols[j]->fd;
            nls[i]->previous = ols[j];
            nls[i]->inherited = 1;
            nls[i]->unix_file = ols[j]->unix_file;
            ols[j]->fd = -1;
            reconfigure(nls[i], cycle->log);
            break;
        }
    }
}

void sl_give_back_listening(sl_cycle_t *cycle)
{
    sl_listening_t **ls = cycle->listening.elts;

    for (sl_uint_t i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i]->previous) {
            ls[i]->previous->fd = ls[i]->fd;
            ls[i]->fd = -1;
        }
    }
    sl_close_listening_sockets(cycle, 1);
}

void sl_listening_done(sl_cycle_t *cycle)
{
    sl_listening_t **ls = cycle->listening.elts;

    for (sl_uint_t i = 0; i < cycle->listening.nelts; i++) {
        ls[i]->previous = NULL;
        ls[i]->log = cycle->log;
    }
}

/* An inherited descriptor for the first unassigned entry with its address. */
static sl_int_t adopt_fd(sl_cycle_t *cycle, int fd)
{
    sl_listening_t **ls = cycle->listening.elts;
    sl_sockaddr_t sa;
    socklen_t len = sizeof(sa);

    memset(&sa, 0, sizeof(sa));
    if (getsockname(fd, &sa.sa, &len) == -1) {
        sl_log_error(SL_LOG_CRIT, cycle->log, errno,
                     "getsockname() of the inherited socket #%d failed", fd);
        return SL_DECLINED;
    }
    for (sl_uint_t i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i]->fd != -1 || !same_address(ls[i], &sa, len)) {
            continue;
        }
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        ls[i]->fd = fd;
        ls[i]->inherited = 1;
        ls[i]->unix_file = sa.sa.sa_family == AF_UNIX;
        reconfigure(ls[i], cycle->log);
        return SL_OK;
    }
    /* the new configuration does not listen there any more */
    close(fd);
    return SL_DECLINED;
}

int sl_inherit_listening(sl_cycle_t *cycle)
{
    const char *name = NULL;
    const char *env = NULL;

    for (size_t i = 0; i < sl_nelems(env_names) && env == NULL; i++) {
        name = env_names[i];
        env = getenv(name);
    }
    if (env == NULL) {
        return 0;
    }
    sl_log_error(SL_LOG_NOTICE, cycle->log, 0, "using inherited sockets from \"%s\"", env);
    int inherited = 0;
    for (const char *p = env; *p;) {
        char *end;
        long fd = strtol(p, &end, 10);

        if (end == p || (*end != ';' && *end != ':' && *end != '\0') || fd < 0 || fd > INT_MAX) {
            sl_log_error(SL_LOG_EMERG, cycle->log, 0,
                         "invalid socket number \"%s\" in %s "
                         "environment variable, ignoring the rest of the variable",
                         p, name);
            break;
        }
        if (adopt_fd(cycle, (int) fd) == SL_OK) {
            inherited = 1;
        }
        p = *end ? end + 1 : end;
    }
    for (size_t i = 0; i < sl_nelems(env_names); i++) {
        unsetenv(env_names[i]);
    }
    return inherited;
}

char **sl_listening_environment(sl_cycle_t *cycle, char **environ_in)
{
    sl_listening_t **ls = cycle->listening.elts;
    size_t n = 0;

    while (environ_in[n]) {
        n++;
    }
    char **env = sl_palloc(cycle->pool, (n + sl_nelems(env_names) + 1) * sizeof(char *));
    size_t size = 16 + cycle->listening.nelts * (SL_INT64_LEN + 1);
    if (env == NULL) {
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(environ_in[i], "SLUICE=", 7) && strncmp(environ_in[i], "NGINX=", 6)) {
            env[k++] = environ_in[i];
        }
    }
    for (size_t e = 0; e < sl_nelems(env_names); e++) {
        char *var = sl_pnalloc(cycle->pool, size);
        if (var == NULL) {
            return NULL;
        }
        int len = snprintf(var, size, "%s=", env_names[e]);
        for (sl_uint_t i = 0; i < cycle->listening.nelts; i++) {
            if (ls[i]->fd != -1) {
                len += snprintf(var + len, size - (size_t) len, "%d;", ls[i]->fd);
            }
        }
        env[k++] = var;
    }
    env[k] = NULL;
    return env;
}

void sl_listening_keep_on_exec(sl_cycle_t *cycle)
{
    sl_listening_t **ls = cycle->listening.elts;

    for (sl_uint_t i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i]->fd != -1) {
            fcntl(ls[i]->fd, F_SETFD, 0);
        }
    }
}
