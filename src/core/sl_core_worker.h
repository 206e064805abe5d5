/*
 * sl_core_worker.h: setters for the main-context directives that shape worker processes
 * (user, worker_priority, worker_cpu_affinity); used by the core module's table.
 */
#ifndef SL_CORE_WORKER_H
#define SL_CORE_WORKER_H

#include "sl_cycle.h"

char *sl__set_worker_priority(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl__set_cpu_affinity(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl__set_user(sl_conf_t *cf, sl_command_t *cmd, void *conf);
/* The default user when running as root without a "user" directive. */
sl_int_t sl__init_user(sl_cycle_t *cycle, sl_core_conf_t *ccf);

#endif /* SL_CORE_WORKER_H */
