/*
 * sl_process.c: daemon and signal plumbing.
 */
#include <fcntl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

#include "sl_process.h"

static const int handled_signals[] = {
    SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH, SIGQUIT, SIGTERM, SIGINT, SIGCHLD, SIGALRM, SIGIO,
};

int sl_daemonized;

const char *sl_signal_name(int signo)
{
    switch (signo) {
    case SIGHUP:
        return "SIGHUP";
    case SIGINT:
        return "SIGINT";
    case SIGQUIT:
        return "SIGQUIT";
    case SIGTERM:
        return "SIGTERM";
    case SIGUSR1:
        return "SIGUSR1";
    case SIGUSR2:
        return "SIGUSR2";
    case SIGWINCH:
        return "SIGWINCH";
    case SIGCHLD:
        return "SIGCHLD";
    case SIGALRM:
        return "SIGALRM";
    case SIGIO:
        return "SIGIO";
    default:
        return "?";
    }
}

int sl_signal_by_name(const char *name)
{
    static const struct {
        const char *name;
        int signo;
    } names[] = {
        { "stop", SL_TERMINATE_SIGNAL },
        { "quit", SL_SHUTDOWN_SIGNAL },
        { "reopen", SL_REOPEN_SIGNAL },
        { "reload", SL_RECONFIGURE_SIGNAL },
    };

    for (size_t i = 0; i < sl_nelems(names); i++) {
        if (strcmp(name, names[i].name) == 0) {
            return names[i].signo;
        }
    }
    return 0;
}

static void handled_set(sigset_t *set)
{
    sigemptyset(set);
    for (size_t i = 0; i < sl_nelems(handled_signals); i++) {
        sigaddset(set, handled_signals[i]);
    }
}

int sl_signals_open(sl_log_t *log)
{
    sigset_t set;

    signal(SIGPIPE, SIG_IGN);
    handled_set(&set);
    if (sigprocmask(SIG_BLOCK, &set, NULL) == -1) {
        sl_log_error(SL_LOG_ALERT, log, errno, "sigprocmask() failed");
        return -1;
    }
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd == -1) {
        sl_log_error(SL_LOG_ALERT, log, errno, "signalfd() failed");
    }
    return fd;
}

int sl_signals_read(int fd, pid_t *from)
{
    struct signalfd_siginfo si;

    for (;;) {
        ssize_t n = read(fd, &si, sizeof(si));

        if (n == (ssize_t) sizeof(si)) {
            if (from) {
                *from = (pid_t) si.ssi_pid;
            }
            return (int) si.ssi_signo;
        }
        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n == -1 && errno == EAGAIN) {
            return 0;
        }
        return -1;
    }
}

void sl_signals_reset(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigprocmask(SIG_SETMASK, &set, NULL);
    signal(SIGPIPE, SIG_DFL);
}

/* fork(); the parent leaves at once (exit status 0), the child returns SL_OK. */
static sl_int_t fork_and_leave(sl_log_t *log)
{
    switch (fork()) {
    case -1:
        sl_log_error(SL_LOG_EMERG, log, errno, "fork() failed");
        return SL_ERROR;
    case 0:
        return SL_OK;
    default:
        _exit(0);
    }
}

/* Double fork: after setsid() the second child is no session leader, so it can never get a
 * controlling terminal back by opening one. */
sl_int_t sl_daemon(sl_log_t *log)
{
    if (fork_and_leave(log) != SL_OK) {
        return SL_ERROR;
    }
    if (setsid() == -1) {
        sl_log_error(SL_LOG_EMERG, log, errno, "setsid() failed");
        return SL_ERROR;
    }
    if (fork_and_leave(log) != SL_OK) {
        return SL_ERROR;
    }
    sl_pid = getpid();
    sl_tid = sl_pid;
    sl_daemonized = 1;
    umask(0);
    int fd = open("/dev/null", O_RDWR);
    if (fd == -1) {
        sl_log_error(SL_LOG_EMERG, log, errno, "open(\"/dev/null\") failed");
        return SL_ERROR;
    }
    if (dup2(fd, STDIN_FILENO) == -1 || dup2(fd, STDOUT_FILENO) == -1) {
        sl_log_error(SL_LOG_EMERG, log, errno, "dup2() failed");
        close(fd);
        return SL_ERROR;
    }
    if (fd > STDERR_FILENO) {
        close(fd);
    }
    return SL_OK;
}
