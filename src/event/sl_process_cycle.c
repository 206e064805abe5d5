/*
 * sl_process_cycle.c: the serving loop of a process (the single process of
 * "master_process off", or a worker) and its reaction to signals.
 */
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <unistd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/time.h>

#include "sl_conn.h"
#include "sl_listening.h"
#include "sl_event_module.h"
#include "sl_pool.h"
#include "sl_process.h"
#include "sl_process_cycle.h"
#include "sl_proctitle.h"
#include "sl_time.h"

sig_atomic_t sl_terminate;
sig_atomic_t sl_quit;
sig_atomic_t sl_reopen;
int sl_exiting;
sl_process_e sl_process;
sl_uint_t sl_worker;

static sl_event_t shutdown_timer;

static void on_signal(int signo, pid_t from, sl_log_t *log)
{
    switch (signo) {
    case SIGQUIT:
        sl_log_error(SL_LOG_NOTICE, log, 0, "signal %d (SIGQUIT) received from %d, shutting down",
                     signo, (int) from);
        sl_quit = 1;
        break;
    case SIGTERM:
    case SIGINT:
        sl_log_error(SL_LOG_NOTICE, log, 0, "signal %d (%s) received from %d, exiting", signo,
                     signo == SIGTERM ? "SIGTERM" : "SIGINT", (int) from);
        sl_terminate = 1;
        break;
    case SIGUSR1:
        sl_log_error(SL_LOG_NOTICE, log, 0, "signal %d (SIGUSR1) received from %d, reopening logs",
                     signo, (int) from);
        sl_reopen = 1;
        break;
    case SIGHUP:
        if (sl_process == SL_PROCESS_SINGLE) {
            /* Reload builds a new cycle beside this one; only a master can do that. */
            sl_log_error(SL_LOG_NOTICE, log, 0,
                         "signal %d (SIGHUP) received from %d, reload is not available with "
                         "\"master_process off\", ignoring",
                         signo, (int) from);
            break;
        }
        /* a worker takes orders from its master only */
        sl_log_error(SL_LOG_INFO, log, 0, "signal %d received from %d, ignoring", signo,
                     (int) from);
        break;
    default:
        sl_log_error(SL_LOG_INFO, log, 0, "signal %d received from %d, ignoring", signo,
                     (int) from);
        break;
    }
}

static void signal_handler(sl_event_t *ev)
{
    sl_connection_t *c = ev->data;

    for (;;) {
        pid_t from = 0;
        int signo = sl_signals_read(c->fd, &from);
        if (signo <= 0) {
            break;
        }
        on_signal(signo, from, c->log);
    }
}

static sl_int_t open_signal_channel(sl_cycle_t *cycle)
{
    int fd = sl_signals_open(cycle->log);

    if (fd == -1) {
        return SL_ERROR;
    }
    sl_connection_t *c = sl_get_connection(fd, cycle->log);
    if (c == NULL) {
        close(fd);
        return SL_ERROR;
    }
    c->listener = 1;
    c->read->handler = signal_handler;
    return sl_loop_add_connection(c);
}

static sl_int_t init_processes(sl_cycle_t *cycle)
{
    for (sl_uint_t i = 0; i < cycle->modules_n; i++) {
        sl_module_t *m = cycle->modules[i];
        if (m->init_process && m->init_process(cycle) != SL_OK) {
            return SL_ERROR;
        }
    }
    return SL_OK;
}

/*
 * random(3) (random_index, the random balancer) gets a seed of this process's own, as
 * nginx seeds each worker after the fork: without it every worker, and every start, would
 * draw the same sequence.
 */
static void seed_random(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    srandom(((unsigned) sl_pid << 16) ^ (unsigned) tv.tv_sec ^ (unsigned) (tv.tv_usec / 1000));
}

static sl_int_t init_worker(sl_cycle_t *cycle)
{
    sl_event_conf_t *ecf = sl_event_get_conf(cycle);

    seed_random();

    sl_accept_multi = (int) ecf->multi_accept;
    cycle->connection_n = (sl_uint_t) ecf->connections;
    if (sl_loop_init(cycle->log, cycle->connection_n) != SL_OK || sl_conn_table_init(cycle) != SL_OK
        || open_signal_channel(cycle) != SL_OK || init_processes(cycle) != SL_OK
        || sl_enable_accept(cycle) != SL_OK) {
        return SL_ERROR;
    }
    return SL_OK;
}

/* Asks every connection still open to finish now; reports those that would not. */
static void close_remaining(sl_cycle_t *cycle)
{
    for (sl_uint_t i = 0; i < cycle->connection_n; i++) {
        sl_connection_t *c = &cycle->connections[i];

        if (c->fd == -1 || c->destroyed || c->listener) {
            continue;
        }
        c->close = 1;
        c->read->handler(c->read);
    }
    sl_run_posted_events();
    for (sl_uint_t i = 0; i < cycle->connection_n; i++) {
        sl_connection_t *c = &cycle->connections[i];

        if (c->fd != -1 && !c->destroyed && !c->listener) {
            sl_log_error(SL_LOG_ALERT, cycle->log, 0, "open socket #%d left in connection %lu",
                         c->fd, (unsigned long) i);
        }
    }
}

/* Only the process that owns the sockets for good (the single process, or the master)
 * removes unix socket files: a worker leaving must not take them from its successors. */
static int owns_socket_files(void)
{
    return sl_process == SL_PROCESS_SINGLE;
}

static void exit_worker(sl_cycle_t *cycle)
{
    for (sl_uint_t i = 0; i < cycle->modules_n; i++) {
        sl_module_t *m = cycle->modules[i];
        if (m->exit_process) {
            m->exit_process(cycle);
        }
    }
    if (shutdown_timer.timer_set) {
        sl_del_timer(&shutdown_timer);
    }
    close_remaining(cycle);
    sl_close_listening_sockets(cycle, owns_socket_files());
    for (sl_uint_t i = 0; i < cycle->connection_n; i++) {
        sl_connection_t *c = &cycle->connections[i];
        if (c->fd != -1 && !c->destroyed) {
            sl_close_connection(c);
        }
    }
    sl_free_closed_connections();
    sl_conn_table_free(cycle);
    sl_loop_done();
}

/* worker_shutdown_timeout: what is still open when it fires is closed. */
static void shutdown_timer_handler(sl_event_t *ev)
{
    sl_cycle_t *cycle = ev->data;

    sl_log_error(SL_LOG_NOTICE, cycle->log, 0, "shutdown timeout, closing open connections");
    close_remaining(cycle);
}

static void start_graceful_stop(sl_cycle_t *cycle)
{
    sl_core_conf_t *ccf = (sl_core_conf_t *) sl_get_conf(cycle->conf_ctx, sl_core_module);

    sl_exiting = 1;
    sl_log_error(SL_LOG_NOTICE, cycle->log, 0, "gracefully shutting down");
    if (sl_process == SL_PROCESS_WORKER) {
        sl_setproctitle("worker process is shutting down");
    }
    sl_stop_accepting(cycle, owns_socket_files());
    if (ccf->shutdown_timeout) {
        shutdown_timer.data = cycle;
        shutdown_timer.log = cycle->log;
        shutdown_timer.handler = shutdown_timer_handler;
        sl_add_timer(&shutdown_timer, ccf->shutdown_timeout);
    }
}

static void reopen_files(sl_cycle_t *cycle)
{
    sl_reopen = 0;
    sl_cycle_reopen_files(cycle, (uid_t) -1);
    /* fd 2 follows the error log to its new file, as the start-up did. */
    sl_log_redirect_stderr(cycle->log);
}

static int serve(sl_cycle_t *cycle)
{
    if (init_worker(cycle) != SL_OK) {
        exit_worker(cycle);
        return 1;
    }
    sl_uint_t spared = 0;
    for (;;) {
        /* while new clients are spared, wake up to close them when their time is up */
        sl_process_events_and_timers(spared ? 100 : (sl_msec_t) -1);
        if (sl_terminate) {
            break;
        }
        if (sl_quit && !sl_exiting) {
            start_graceful_stop(cycle);
        }
        if (sl_exiting) {
            spared = sl_close_idle_connections(cycle);
            if (sl_active_connections(cycle) == 0) {
                break;
            }
        }
        if (sl_reopen) {
            reopen_files(cycle);
        }
    }
    sl_log_error(SL_LOG_NOTICE, cycle->log, 0, "exit");
    exit_worker(cycle);
    return 0;
}

int sl_single_process_cycle(sl_cycle_t *cycle)
{
    sl_process = SL_PROCESS_SINGLE;
    sl_set_rlimit_nofile(cycle);
    return serve(cycle);
}

void sl_set_rlimit_nofile(sl_cycle_t *cycle)
{
    sl_core_conf_t *ccf = (sl_core_conf_t *) sl_get_conf(cycle->conf_ctx, sl_core_module);

    if (ccf->rlimit_nofile == SL_CONF_UNSET) {
        return;
    }
    struct rlimit rl = { (rlim_t) ccf->rlimit_nofile, (rlim_t) ccf->rlimit_nofile };
    if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
        sl_log_error(SL_LOG_ALERT, cycle->log, errno, "setrlimit(RLIMIT_NOFILE, %ld) failed",
                     (long) ccf->rlimit_nofile);
    }
}

/* Root only: the worker gives up its privileges for the configured user and group. */
static sl_int_t drop_privileges(sl_cycle_t *cycle, sl_core_conf_t *ccf)
{
    if (geteuid() != 0 || ccf->username == NULL) {
        return SL_OK;
    }
    if (setgid(ccf->group) == -1) {
        sl_log_error(SL_LOG_EMERG, cycle->log, errno, "setgid(%d) failed", (int) ccf->group);
        return SL_ERROR;
    }
    if (initgroups(ccf->username, ccf->group) == -1) {
        sl_log_error(SL_LOG_EMERG, cycle->log, errno, "initgroups(%s, %d) failed", ccf->username,
                     (int) ccf->group);
        return SL_ERROR;
    }
    if (setuid(ccf->user) == -1) {
        sl_log_error(SL_LOG_EMERG, cycle->log, errno, "setuid(%d) failed", (int) ccf->user);
        return SL_ERROR;
    }
    return SL_OK;
}

static sl_int_t apply_worker_settings(sl_cycle_t *cycle, sl_uint_t worker)
{
    sl_core_conf_t *ccf = (sl_core_conf_t *) sl_get_conf(cycle->conf_ctx, sl_core_module);

    if (ccf->priority != 0 && setpriority(PRIO_PROCESS, 0, (int) ccf->priority) == -1) {
        sl_log_error(SL_LOG_ALERT, cycle->log, errno, "setpriority(%ld) failed",
                     (long) ccf->priority);
    }
    sl_set_rlimit_nofile(cycle);
    const cpu_set_t *cpus = sl_core_cpu_affinity(ccf, worker);
    if (cpus && sched_setaffinity(0, sizeof(cpu_set_t), cpus) == -1) {
        sl_log_error(SL_LOG_ALERT, cycle->log, errno, "sched_setaffinity() failed");
    }
    return drop_privileges(cycle, ccf);
}

int sl_worker_process_cycle(sl_cycle_t *cycle, sl_uint_t worker)
{
    sl_process = SL_PROCESS_WORKER;
    sl_worker = worker;
    sl_setproctitle("worker process");
    if (apply_worker_settings(cycle, worker) != SL_OK) {
        /* nginx's "fatal" code: the master does not respawn a worker that cannot start */
        return 2;
    }
    sl_close_other_workers_sockets(cycle, worker);
    sl_core_conf_t *ccf = (sl_core_conf_t *) sl_get_conf(cycle->conf_ctx, sl_core_module);
    sl_accept_rotate = ccf->worker_processes > 1;
    return serve(cycle);
}

/* Waits up to ms for a stopping signal on the signalfd fd.  1 when one came. */
static int wait_stop(int fd, sl_msec_t ms)
{
    struct pollfd pfd = { fd, POLLIN, 0 };

    if (poll(&pfd, 1, ms > INT_MAX ? INT_MAX : (int) ms) <= 0) {
        return 0;
    }
    for (int signo; (signo = sl_signals_read(fd, NULL)) > 0;) {
        if (signo == SIGQUIT || signo == SIGTERM || signo == SIGINT) {
            return 1;
        }
    }
    return 0;
}

int sl_helper_process_cycle(sl_cycle_t *cycle, const sl_helper_process_t *h)
{
    sl_core_conf_t *ccf = (sl_core_conf_t *) sl_get_conf(cycle->conf_ctx, sl_core_module);

    sl_process = SL_PROCESS_HELPER;
    sl_setproctitle(h->title);
    if (drop_privileges(cycle, ccf) != SL_OK) {
        return 2;
    }
    int fd = sl_signals_open(cycle->log);
    if (fd == -1) {
        return 2;
    }
    sl_msec_t wait = h->delay;
    while (!wait_stop(fd, wait)) {
        sl_time_update();
        wait = h->step(cycle, h->data);
        if (wait == 0) {
            break;
        }
    }
    close(fd);
    return 0;
}
