/*
 * sl_proctitle.h: process titles as nginx's, so `ps` and `pgrep -f 'sluice: master'` tell
 * the processes apart: "sluice: master process CMDLINE", "sluice: worker process",
 * "sluice: worker process is shutting down".  The title is written over the memory of the
 * process's arguments and environment (what /proc/PID/cmdline shows); the environment is
 * moved to the heap first, and the arguments are kept in a copy for whoever reads them
 * later (a new binary is started with them).
 */
#ifndef SL_PROCTITLE_H
#define SL_PROCTITLE_H

#include "sl_core.h"

/*
 * Called first in main(): copies argv (strings and all) and the environment to the heap
 * and returns the copy of argv, which stays valid whatever titles are set.  NULL when
 * memory runs out (titles are then not set; the original argv is still good).
 */
char **sl_init_setproctitle(char **argv);

/* Sets the title to "sluice: " + title (cut to the space there is); the command line the
 * process was started with, for the master's title: sl_proctitle_cmdline(). */
void sl_setproctitle(const char *title);
const char *sl_proctitle_cmdline(void);

#endif /* SL_PROCTITLE_H */
