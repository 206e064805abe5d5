/*
 * sl_process_cycle.c: the serving loop of a process and its reaction to signals.
 */
#include <signal.h>

#include "sl_conn.h"
#include "sl_event_module.h"
#include "sl_pool.h"
#include "sl_process.h"
#include "sl_process_cycle.h"

sig_atomic_t sl_terminate;
sig_atomic_t sl_quit;
sig_atomic_t sl_reopen;
int sl_exiting;

static void on_signal(int signo, sl_log_t *log)
{
    switch (signo) {
    case SIGQUIT:
        sl_log_error(SL_LOG_NOTICE, log, 0, "signal %d (SIGQUIT) received, shutting down", signo);
        sl_quit = 1;
        break;
    case SIGTERM:
    case SIGINT:
        sl_log_error(SL_LOG_NOTICE, log, 0, "signal %d (%s) received, exiting", signo,
                     signo == SIGTERM ? "SIGTERM" : "SIGINT");
        sl_terminate = 1;
        break;
    case SIGUSR1:
        sl_log_error(SL_LOG_NOTICE, log, 0, "signal %d (SIGUSR1) received, reopening logs", signo);
        sl_reopen = 1;
        break;
    case SIGHUP:
        /* Reload builds a new cycle beside this one; it arrives with master/worker. */
        sl_log_error(SL_LOG_NOTICE, log, 0,
                     "signal %d (SIGHUP) received, reload is not available with "
                     "\"master_process off\", ignoring",
                     signo);
        break;
    default:
        sl_log_error(SL_LOG_INFO, log, 0, "signal %d received, ignoring", signo);
        break;
    }
}

static void signal_handler(sl_event_t *ev)
{
    sl_connection_t *c = ev->data;

    for (;;) {
        int signo = sl_signals_read(c->fd);
        if (signo <= 0) {
            break;
        }
        on_signal(signo, c->log);
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

static sl_int_t init_worker(sl_cycle_t *cycle)
{
    sl_event_conf_t *ecf = sl_event_get_conf(cycle);

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

static void exit_worker(sl_cycle_t *cycle)
{
    for (sl_uint_t i = 0; i < cycle->modules_n; i++) {
        sl_module_t *m = cycle->modules[i];
        if (m->exit_process) {
            m->exit_process(cycle);
        }
    }
    close_remaining(cycle);
    sl_close_listening_sockets(cycle, 1);
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

static void start_graceful_stop(sl_cycle_t *cycle)
{
    sl_exiting = 1;
    sl_log_error(SL_LOG_NOTICE, cycle->log, 0, "gracefully shutting down");
    sl_close_listening_sockets(cycle, 1);
    sl_close_idle_connections(cycle);
}

int sl_single_process_cycle(sl_cycle_t *cycle)
{
    if (init_worker(cycle) != SL_OK) {
        exit_worker(cycle);
        return 1;
    }
    for (;;) {
        sl_process_events_and_timers((sl_msec_t) -1);
        if (sl_terminate) {
            break;
        }
        if (sl_quit && !sl_exiting) {
            start_graceful_stop(cycle);
        }
        if (sl_exiting) {
            sl_close_idle_connections(cycle);
            if (sl_active_connections(cycle) == 0) {
                break;
            }
        }
        if (sl_reopen) {
            sl_reopen = 0;
            sl_cycle_reopen_files(cycle);
            /* fd 2 follows the error log to its new file, as the start-up did. */
            sl_log_redirect_stderr(cycle->log);
        }
    }
    sl_log_error(SL_LOG_NOTICE, cycle->log, 0, "exit");
    exit_worker(cycle);
    return 0;
}
