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

/*
 * master_process off: this process serves requests itself.  Returns the exit status when
 * a signal stops it (0 for QUIT/TERM/INT).  The pid file and listeners are the caller's.
 */
int sl_single_process_cycle(sl_cycle_t *cycle);

#endif /* SL_PROCESS_CYCLE_H */
