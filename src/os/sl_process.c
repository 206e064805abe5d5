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

int sl_signals_read(int fd)
{
    struct signalfd_siginfo si;

    for (;;) {
        ssize_t n = read(fd, &si, sizeof(si));

        if (n == (ssize_t) sizeof(si)) {
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

sl_int_t sl_daemon(sl_log_t *log)
{
    switch (fork()) {
    case -1:
        sl_log_error(SL_LOG_EMERG, log, errno, "fork() failed");
        return SL_ERROR;
    case 0:
        break;
    default:
        _exit(0);
    }
    sl_pid = getpid();
    sl_tid = sl_pid;
    if (setsid() == -1) {
        sl_log_error(SL_LOG_EMERG, log, errno, "setsid() failed");
        return SL_ERROR;
    }
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
