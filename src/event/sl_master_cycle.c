/*
 * sl_master_cycle.c: the master process.  It owns the listening sockets, the pid file and
 * the configuration; it forks the workers, restarts one that dies, and turns signals into
 * actions: HUP reload, QUIT graceful stop, TERM/INT fast stop, USR1 log reopen, USR2
 * binary upgrade, WINCH stop the workers (daemon only).  It never serves a request.
 *
 * Workers get their orders as signals (QUIT, TERM, USR1), which their signalfd turns into
 * loop events like any other.
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include "sl_conn.h"
#include "sl_listening.h"
#include "sl_master_cycle.h"
#include "sl_process.h"
#include "sl_process_cycle.h"
#include "sl_proctitle.h"
#include "sl_shm.h"
#include "sl_time.h"

#define SL_MAX_PROCESSES 1024
/* exit status of a worker that cannot start (bad user, ...): not respawned */
#define SL_EXIT_FATAL 2

typedef struct {
    pid_t pid;
    sl_uint_t worker;
    unsigned used : 1;
    /** told to stop (QUIT/TERM, or replaced by a reload): not respawned */
    unsigned exiting : 1;
    /** a worker of the configuration a reload is replacing, to be stopped */
    unsigned outdated : 1;
    /** the new binary of a USR2 upgrade (not a worker; not waited for) */
    unsigned binary : 1;
    /** a helper process (cache manager, loader): `worker` is its index in the cycle's */
    unsigned helper : 1;
} child_t;

static child_t children[SL_MAX_PROCESSES];
static int signal_fd = -1;
static pid_t new_binary;
static int noaccepting;
static char *const *master_argv;

static sig_atomic_t reap, reconfigure, reopen, change_binary, noaccept;

static void on_master_signal(int signo, pid_t from, sl_log_t *log)
{
    const char *action = "";

    switch (signo) {
    case SIGQUIT:
        sl_quit = 1;
        action = ", shutting down";
        break;
    case SIGTERM:
    case SIGINT:
        sl_terminate = 1;
        action = ", exiting";
        break;
    case SIGHUP:
        reconfigure = 1;
        action = ", reconfiguring";
        break;
    case SIGUSR1:
        reopen = 1;
        action = ", reopening logs";
        break;
    case SIGUSR2:
        change_binary = 1;
        action = ", changing binary";
        break;
    case SIGWINCH:
        /* without a daemon, WINCH is only the terminal being resized */
        if (getppid() == 1 || sl_daemonized) {
            noaccept = 1;
            action = ", stop accepting connections";
        }
        break;
    case SIGCHLD:
        reap = 1;
        break;
    }
    sl_log_error(SL_LOG_NOTICE, log, 0, "signal %d (%s) received from %d%s", signo,
                 sl_signal_name(signo), (int) from, action);
}

static void wait_for_signals(int timeout_ms, sl_log_t *log)
{
    struct pollfd p = { signal_fd, POLLIN, 0 };

    if (poll(&p, 1, timeout_ms) == -1 && errno != EINTR) {
        sl_log_error(SL_LOG_ALERT, log, errno, "poll() failed");
    }
    sl_time_update();
    for (;;) {
        pid_t from = 0;
        int signo = sl_signals_read(signal_fd, &from);
        if (signo <= 0) {
            break;
        }
        on_master_signal(signo, from, log);
    }
}

static child_t *free_slot(void)
{
    for (size_t i = 0; i < sl_nelems(children); i++) {
        if (!children[i].used) {
            return &children[i];
        }
    }
    return NULL;
}

static child_t *find_child(pid_t pid)
{
    for (size_t i = 0; i < sl_nelems(children); i++) {
        if (children[i].used && children[i].pid == pid) {
            return &children[i];
        }
    }
    return NULL;
}

static const char *child_name(const sl_cycle_t *cycle, const child_t *ch)
{
    if (!ch->helper) {
        return "worker process";
    }
    const sl_helper_process_t *h = cycle->helpers.elts;
    return ch->worker < cycle->helpers.nelts ? h[ch->worker].title : "helper process";
}

/* Worker n, or (helper) the cycle's helper process n. */
static sl_int_t spawn_child(sl_cycle_t *cycle, sl_uint_t n, int helper)
{
    child_t *ch = free_slot();
    child_t tmp = { .worker = n, .helper = (unsigned) helper };
    const char *name = child_name(cycle, &tmp);

    if (ch == NULL) {
        sl_log_error(SL_LOG_ALERT, cycle->log, 0, "no more than %d processes can be spawned",
                     SL_MAX_PROCESSES);
        return SL_ERROR;
    }
    pid_t pid = fork();
    if (pid == -1) {
        sl_log_error(SL_LOG_ALERT, cycle->log, errno, "fork() failed while spawning \"%s\"", name);
        return SL_ERROR;
    }
    if (pid == 0) {
        close(signal_fd);
        sl_pid = getpid();
        sl_tid = sl_pid;
        if (helper) {
            const sl_helper_process_t *h = cycle->helpers.elts;
            exit(sl_helper_process_cycle(cycle, &h[n]));
        }
        exit(sl_worker_process_cycle(cycle, n));
    }
    sl_log_error(SL_LOG_NOTICE, cycle->log, 0, "start %s %d", name, (int) pid);
    memset(ch, 0, sizeof(*ch));
    ch->pid = pid;
    ch->worker = n;
    ch->helper = (unsigned) helper;
    ch->used = 1;
    return SL_OK;
}

static sl_int_t spawn_worker(sl_cycle_t *cycle, sl_uint_t n)
{
    return spawn_child(cycle, n, 0);
}

/* The workers, then the processes beside them the configuration asks for. */
static void start_workers(sl_cycle_t *cycle)
{
    sl_core_conf_t *ccf = (sl_core_conf_t *) sl_get_conf(cycle->conf_ctx, sl_core_module);

    sl_log_error(SL_LOG_NOTICE, cycle->log, 0, "start worker processes");
    for (sl_int_t i = 0; i < ccf->worker_processes; i++) {
        spawn_worker(cycle, (sl_uint_t) i);
    }
    for (sl_uint_t i = 0; i < cycle->helpers.nelts; i++) {
        spawn_child(cycle, i, 1);
    }
}

/* Sends signo to the workers (only the outdated ones when `outdated`). */
static void signal_workers(sl_cycle_t *cycle, int signo, int outdated)
{
    for (size_t i = 0; i < sl_nelems(children); i++) {
        child_t *ch = &children[i];

        if (!ch->used || ch->binary || (outdated && !ch->outdated)) {
            continue;
        }
        if (signo == SIGQUIT || signo == SIGTERM || signo == SIGKILL) {
            ch->exiting = 1;
            ch->outdated = 0;
        }
        if (kill(ch->pid, signo) == -1 && errno != ESRCH) {
            sl_log_error(SL_LOG_ALERT, cycle->log, errno, "kill(%d, %d) failed", (int) ch->pid,
                         signo);
        }
    }
}

static sl_uint_t live_workers(void)
{
    sl_uint_t n = 0;

    for (size_t i = 0; i < sl_nelems(children); i++) {
        n += children[i].used && !children[i].binary;
    }
    return n;
}

static void log_exit_status(sl_cycle_t *cycle, const char *name, pid_t pid, int status)
{
    if (WIFSIGNALED(status)) {
        sl_log_error(SL_LOG_ALERT, cycle->log, 0, "%s %d exited on signal %d%s", name, (int) pid,
                     WTERMSIG(status), WCOREDUMP(status) ? " (core dumped)" : "");
        return;
    }
    int code = WEXITSTATUS(status);
    if (code == SL_EXIT_FATAL && strcmp(name, "worker process") == 0) {
        sl_log_error(SL_LOG_ALERT, cycle->log, 0,
                     "%s %d exited with fatal code %d and cannot be respawned", name, (int) pid,
                     code);
        return;
    }
    sl_log_error(code ? SL_LOG_ALERT : SL_LOG_NOTICE, cycle->log, 0, "%s %d exited with code %d",
                 name, (int) pid, code);
}

/* The new binary is gone: this master is the one in charge again. */
static void new_binary_exited(sl_cycle_t *cycle)
{
    sl_core_conf_t *ccf = (sl_core_conf_t *) sl_get_conf(cycle->conf_ctx, sl_core_module);

    if (rename((char *) ccf->oldpid.data, (char *) ccf->pid.data) == -1) {
        sl_log_error(SL_LOG_ALERT, cycle->log, errno, "rename() %s back to %s failed",
                     (char *) ccf->oldpid.data, (char *) ccf->pid.data);
    }
    new_binary = 0;
    if (noaccepting) {
        noaccepting = 0;
        start_workers(cycle);
    }
}

static void reap_children(sl_cycle_t *cycle)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);

        if (pid == 0 || (pid == -1 && errno != EINTR)) {
            return;
        }
        if (pid == -1) {
            continue;
        }
        /* before anything is respawned: the locks it may have died holding (nginx's
         * ngx_unlock_mutexes) */
        sl_shm_process_died(pid, cycle->log);
        child_t *ch = find_child(pid);
        int binary = ch && ch->binary;
        log_exit_status(cycle,
                        binary ? "new binary process"
                        : ch   ? child_name(cycle, ch)
                               : "worker process",
                        pid, status);
        if (ch == NULL) {
            continue;
        }
        ch->used = 0;
        if (binary) {
            new_binary_exited(cycle);
            continue;
        }
        int fatal = WIFEXITED(status) && WEXITSTATUS(status) == SL_EXIT_FATAL;
        const sl_helper_process_t *h = cycle->helpers.elts;
        /* a helper that did its work (the loader) and left is not started again; only its
         * death by a signal means the work may not be done */
        int finished = ch->helper && ch->worker < cycle->helpers.nelts && h[ch->worker].once
                       && WIFEXITED(status);
        if (!ch->exiting && !ch->outdated && !fatal && !finished && !sl_terminate && !sl_quit
            && !noaccepting) {
            spawn_child(cycle, ch->worker, ch->helper);
        }
    }
}

static sl_cycle_args_t args_of(const sl_cycle_t *cycle)
{
    sl_cycle_args_t a;

    memset(&a, 0, sizeof(a));
    a.prefix = cycle->prefix;
    a.conf_file = cycle->conf_file;
    a.conf_param = cycle->conf_param;
    a.error_log = cycle->error_log;
    a.modules = cycle->modules;
    return a;
}

static sl_core_conf_t *core_conf(sl_cycle_t *cycle)
{
    return (sl_core_conf_t *) sl_get_conf(cycle->conf_ctx, sl_core_module);
}

/* A new pid path in the new configuration: the file moves. */
static void move_pidfile(sl_cycle_t *cycle, sl_cycle_t *old)
{
    sl_str_t *pid = &core_conf(cycle)->pid;

    if (sl_str_eq(pid, &core_conf(old)->pid)) {
        return;
    }
    if (sl_create_pidfile(pid, cycle->log) == SL_OK) {
        sl_delete_pidfile(old);
    }
}

/* Everything the new cycle needs before its workers start; on failure the old one is
 * untouched (its sockets given back). */
static sl_cycle_t *load_new_cycle(sl_cycle_t *old)
{
    sl_cycle_args_t args = args_of(old);
    sl_cycle_t *cycle = sl_cycle_init(&args, old->log);

    if (cycle == NULL) {
        return NULL;
    }
    if (sl_cycle_create_paths(cycle) != SL_OK) {
        sl_cycle_destroy(cycle);
        return NULL;
    }
    if (sl_clone_reuseport_listening(cycle, (sl_uint_t) core_conf(cycle)->worker_processes)
        != SL_OK) {
        sl_cycle_destroy(cycle);
        return NULL;
    }
    sl_take_over_listening(cycle, old);
    if (sl_open_listening_sockets(cycle) != SL_OK || sl_cycle_open_files(cycle) != SL_OK) {
        sl_give_back_listening(cycle);
        sl_cycle_destroy(cycle);
        return NULL;
    }
    sl_cycle_adopt_log(cycle);
    sl_listening_done(cycle);
    return cycle;
}

static void mark_outdated(void)
{
    for (size_t i = 0; i < sl_nelems(children); i++) {
        if (children[i].used && !children[i].binary && !children[i].exiting) {
            children[i].outdated = 1;
        }
    }
}

/* HUP: new workers with the new configuration, then the old ones finish and leave.  A
 * configuration that does not load leaves everything as it was (the error is logged). */
static sl_cycle_t *reload(sl_cycle_t *old)
{
    sl_log_error(SL_LOG_NOTICE, old->log, 0, "reconfiguring");
    sl_cycle_t *cycle = load_new_cycle(old);
    if (cycle == NULL) {
        sl_log_error(SL_LOG_NOTICE, old->log, 0,
                     "the new configuration could not be loaded, keeping the old one");
        return old;
    }
    sl_log_redirect_stderr(cycle->log);
    sl_log_startup_follow(cycle->log);
    move_pidfile(cycle, old);
    sl_close_listening_sockets(old, 1);
    sl_cycle_destroy(old);
    sl_cycle = cycle;
    mark_outdated();
    start_workers(cycle);
    signal_workers(cycle, SIGQUIT, 1);
    return cycle;
}

static void reopen_files(sl_cycle_t *cycle)
{
    sl_core_conf_t *ccf = core_conf(cycle);

    sl_cycle_reopen_files(cycle, ccf->username ? ccf->user : (uid_t) -1);
    sl_log_redirect_stderr(cycle->log);
    signal_workers(cycle, SIGUSR1, 0);
}

/* USR2: the binary at argv[0] starts with our sockets; our pid file becomes PID.oldbin. */
static void exec_new_binary(sl_cycle_t *cycle)
{
    sl_core_conf_t *ccf = core_conf(cycle);
    child_t *ch = free_slot();
    char **env = sl_listening_environment(cycle, environ);

    if (ch == NULL || env == NULL) {
        return;
    }
    if (rename((char *) ccf->pid.data, (char *) ccf->oldpid.data) == -1) {
        sl_log_error(SL_LOG_ALERT, cycle->log, errno,
                     "rename() %s to %s failed before executing new binary process \"%s\"",
                     (char *) ccf->pid.data, (char *) ccf->oldpid.data, master_argv[0]);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(signal_fd);
        sl_signals_reset();
        sl_listening_keep_on_exec(cycle);
        execve(master_argv[0], master_argv, env);
        sl_log_error(SL_LOG_ALERT, cycle->log, errno,
                     "execve() failed while executing new binary process \"%s\"", master_argv[0]);
        _exit(1);
    }
    if (pid == -1) {
        sl_log_error(SL_LOG_ALERT, cycle->log, errno,
                     "fork() failed while spawning \"new binary process\"");
        rename((char *) ccf->oldpid.data, (char *) ccf->pid.data);
        return;
    }
    sl_log_error(SL_LOG_NOTICE, cycle->log, 0, "start new binary process %d", (int) pid);
    memset(ch, 0, sizeof(*ch));
    ch->pid = pid;
    ch->used = 1;
    ch->binary = 1;
    new_binary = pid;
}

static void exit_master(sl_cycle_t *cycle)
{
    sl_core_conf_t *ccf = core_conf(cycle);
    const char *pidfile = (char *) (new_binary ? ccf->oldpid.data : ccf->pid.data);

    /* the new binary uses the same unix socket files: they stay */
    sl_close_listening_sockets(cycle, new_binary == 0);
    if (unlink(pidfile) == -1) {
        sl_log_error(SL_LOG_ALERT, cycle->log, errno, "unlink() \"%s\" failed", pidfile);
    }
    sl_log_error(SL_LOG_NOTICE, cycle->log, 0, "exit");
    close(signal_fd);
    signal_fd = -1;
}

/* TERM: workers get TERM, and SIGKILL if they are still there after about a second. */
static int terminate_step(sl_cycle_t *cycle, int delay)
{
    if (delay == 0) {
        signal_workers(cycle, SIGTERM, 0);
        return 50;
    }
    if (delay > 1000) {
        signal_workers(cycle, SIGKILL, 0);
    }
    return delay * 2;
}

/* The actions of the signals read since the last pass (not the stop requests). */
static sl_cycle_t *run_actions(sl_cycle_t *cycle)
{
    if (reconfigure) {
        reconfigure = 0;
        if (new_binary || noaccepting) {
            /* back to the old binary: restart workers with the configuration we have */
            noaccepting = 0;
            start_workers(cycle);
        } else {
            cycle = reload(cycle);
        }
    }
    if (reopen) {
        reopen = 0;
        reopen_files(cycle);
    }
    if (change_binary) {
        change_binary = 0;
        if (new_binary) {
            sl_log_error(SL_LOG_NOTICE, cycle->log, 0,
                         "the changing binary signal is ignored: a new binary is running");
        } else {
            exec_new_binary(cycle);
        }
    }
    if (noaccept) {
        noaccept = 0;
        noaccepting = 1;
        signal_workers(cycle, SIGQUIT, 0);
    }
    return cycle;
}

/* "sluice: master process /usr/sbin/sluice -c ...", as nginx's. */
static void set_master_title(void)
{
    const char *cmd = sl_proctitle_cmdline();
    size_t len = sizeof("master process ") + strlen(cmd);
    char *title = malloc(len);

    if (title) {
        snprintf(title, len, "master process %s", cmd);
        sl_setproctitle(title);
        free(title);
    }
}

int sl_master_process_cycle(sl_cycle_t *cycle, char *const *argv)
{
    int delay = 0;
    int quitting = 0;

    master_argv = argv;
    set_master_title();
    signal_fd = sl_signals_open(cycle->log);
    if (signal_fd == -1) {
        return 1;
    }
    start_workers(cycle);
    for (;;) {
        wait_for_signals(delay ? delay : -1, cycle->log);
        if (reap) {
            reap = 0;
            reap_children(cycle);
        }
        if ((sl_terminate || sl_quit) && live_workers() == 0) {
            break;
        }
        if (sl_terminate) {
            delay = terminate_step(cycle, delay);
            continue;
        }
        if (sl_quit) {
            if (!quitting) {
                quitting = 1;
                signal_workers(cycle, SIGQUIT, 0);
                sl_close_listening_sockets(cycle, new_binary == 0);
            }
            continue;
        }
        cycle = run_actions(cycle);
    }
    exit_master(cycle);
    return 0;
}
