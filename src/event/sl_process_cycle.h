/*
 * sl_process_cycle.h: running a loaded cycle in this process until a signal stops it.
 */
#ifndef SL_PROCESS_CYCLE_H
#define SL_PROCESS_CYCLE_H

#include "sl_core.h"
#include <signal.h>

#include "sl_cycle.h"

/* Set by signals, acted upon between loop iterations. */
extern sig_atomic_t sl_terminate;
extern sig_atomic_t sl_quit;
extern sig_atomic_t sl_reopen;
/* Graceful stop in progress: no new connections, idle ones closed. */
extern int sl_exiting;

typedef enum {
    SL_PROCESS_SINGLE = 0,
    SL_PROCESS_MASTER,
    SL_PROCESS_WORKER,
    SL_PROCESS_HELPER
} sl_process_e;
/* What this process is; and, in a worker, its number (0 .. worker_processes - 1). */
extern sl_process_e sl_process;
extern sl_uint_t sl_worker;

/*
 * master_process off: this process serves requests itself.  Returns the exit status when
 * a signal stops it (0 for QUIT/TERM/INT).  The pid file and listeners are the caller's.
 */
int sl_single_process_cycle(sl_cycle_t *cycle);

/*
 * Worker number `worker`, just forked by the master: priority, CPU affinity, rlimit and
 * user applied, then the same loop as the single process.  Returns the exit status (2
 * when the worker cannot start: the master does not respawn it).
 */
int sl_worker_process_cycle(sl_cycle_t *cycle, sl_uint_t worker);

/*
 * A helper process (the cache manager, the loader), just forked by the master: the user
 * applied, then h's steps with the waits they ask for, until QUIT/TERM/INT or, for a `once`
 * helper, the end of its work.  Returns the exit status (0; 2 when it cannot start).
 */
int sl_helper_process_cycle(sl_cycle_t *cycle, const sl_helper_process_t *h);

/* worker_rlimit_nofile, in the process that serves. */
void sl_set_rlimit_nofile(sl_cycle_t *cycle);

#endif /* SL_PROCESS_CYCLE_H */
