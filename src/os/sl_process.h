/*
 * sl_process.h: daemonizing and signals.  Signals are blocked and read from a signalfd in
 * the event loop, so no handler ever runs in the middle of request code.
 */
#ifndef SL_PROCESS_H
#define SL_PROCESS_H

#include <signal.h>

#include "sl_core.h"
#include "sl_log.h"

/* nginx's signal names for -s and their numbers. */
#define SL_RECONFIGURE_SIGNAL SIGHUP
#define SL_REOPEN_SIGNAL SIGUSR1
#define SL_SHUTDOWN_SIGNAL SIGQUIT
#define SL_TERMINATE_SIGNAL SIGTERM
#define SL_CHANGEBIN_SIGNAL SIGUSR2
#define SL_NOACCEPT_SIGNAL SIGWINCH

/* Set once sl_daemon() has detached this process. */
extern int sl_daemonized;

/* "SIGHUP" for SIGHUP, ... for the signals sluice handles; "?" otherwise. */
const char *sl_signal_name(int signo);

/* "stop" -> SIGTERM, "quit" -> SIGQUIT, "reopen" -> SIGUSR1, "reload" -> SIGHUP; 0 if
 * unknown. */
int sl_signal_by_name(const char *name);

/*
 * Blocks the signals sluice acts on and returns a non-blocking signalfd that reports them,
 * or -1 (logged).  SIGPIPE is ignored: writes report EPIPE instead.
 */
int sl_signals_open(sl_log_t *log);

/* Reads one pending signal from the signalfd: its number (and the sender's pid in *from
 * when not NULL), 0 when none, -1 on error. */
int sl_signals_read(int fd, pid_t *from);

/* Restores the default mask and handlers (in a child about to exec). */
void sl_signals_reset(void);

/*
 * Detaches from the terminal: fork (the parent exits 0), setsid, fork again, stdin/stdout
 * to /dev/null.  stderr stays until the error log takes it over.  SL_OK in the child.
 */
sl_int_t sl_daemon(sl_log_t *log);

#endif /* SL_PROCESS_H */
