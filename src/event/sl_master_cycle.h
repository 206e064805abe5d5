/*
 * sl_master_cycle.h: the master process of "master_process on".
 */
#ifndef SL_MASTER_CYCLE_H
#define SL_MASTER_CYCLE_H

#include "sl_cycle.h"

/*
 * Forks the workers and manages them until a stop signal: reload, log reopen, binary
 * upgrade, restart of workers that die.  The cycle's sockets and pid file must be ready;
 * on return (exit status) the pid file is removed and the sockets closed.  The cycle may be
 * replaced by a reload: sl_cycle is the current one.  argv is re-executed on USR2.
 */
int sl_master_process_cycle(sl_cycle_t *cycle, char *const *argv);

#endif /* SL_MASTER_CYCLE_H */
