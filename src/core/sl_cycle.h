/*
 * sl_cycle.h: one loaded configuration and everything it owns (listening sockets, open
 * files, the connection table).  A reload builds a new cycle beside the old one.
 */
#ifndef SL_CYCLE_H
#define SL_CYCLE_H

#include "sl_core.h"
#include <sched.h>
#include "sl_array.h"
#include "sl_conf.h"
#include "sl_list.h"
#include "sl_log.h"
#include "sl_queue.h"
#include "sl_str.h"

/*
 * A process beside the workers that a module asks for (the cache manager and loader): the
 * master starts one per entry with each set of workers (at start, on reload), titles it
 * "sluice: TITLE", and restarts it when it dies, unless it was `once` and finished.
 */
typedef struct {
    const char *title;
    /** one step of its work: the milliseconds to wait before the next, 0 when it is done */
    sl_msec_t (*step)(sl_cycle_t *cycle, void *data);
    void *data;
    /** before the first step */
    sl_msec_t delay;
    /** done for good once step returns 0 (the loader): not restarted then */
    unsigned once : 1;
} sl_helper_process_t;

struct sl_cycle_s {
    /** per module (by index): core modules' conf structs, block modules' ctx arrays */
    void ****conf_ctx;
    sl_pool_t *pool;
    sl_log_t *log;
    /** the error_log chain from the config, installed once loading succeeds */
    sl_log_t new_log;

    sl_module_t **modules;
    sl_uint_t modules_n;

    /** sl_listening_t (src/event), filled by the http module */
    sl_array_t listening;
    /** sl_helper_process_t: the processes beside the workers */
    sl_array_t helpers;
    /** sl_open_file_t *, reopened on USR1 */
    sl_array_t open_files;
    /** sl_conf_dump_t, for -T */
    sl_array_t config_dump;
    /** sl_path_t *: the directories files are written to, created before workers start */
    sl_array_t paths;

    /** the connection table (src/event); connection_n comes from worker_connections */
    sl_uint_t connection_n;
    sl_connection_t *connections;
    sl_connection_t *free_connections;
    sl_uint_t free_connection_n;
    sl_event_t *read_events;
    sl_event_t *write_events;
    /** idle keepalive connections, oldest first, closed when the table runs out */
    sl_queue_t reusable_connections_queue;
    sl_uint_t reusable_connections_n;

    /** config file, -g string, directory of the config file, -p prefix, -e file */
    sl_str_t conf_file;
    sl_str_t conf_param;
    sl_str_t conf_prefix;
    sl_str_t prefix;
    sl_str_t error_log;
    sl_str_t hostname;
};

/* Main-context settings (the core module's conf struct). */
typedef struct {
    sl_int_t daemon;
    sl_int_t master;
    sl_int_t worker_processes;
    sl_int_t rlimit_nofile;
    sl_str_t pid;
    /** the pid file while a new binary runs beside this one ("PID.oldbin") */
    sl_str_t oldpid;
    /** worker_shutdown_timeout: 0 waits for every request */
    sl_msec_t shutdown_timeout;
    /** worker_priority (nice value); 0 leaves it */
    sl_int_t priority;
    /** worker_cpu_affinity: one mask per worker (the last repeats), or auto */
    sl_uint_t cpu_affinity_auto;
    sl_uint_t cpu_affinity_n;
    cpu_set_t *cpu_affinity;
    /** user: workers drop to this uid/gid when the master runs as root */
    const char *username;
    uid_t user;
    gid_t group;
} sl_core_conf_t;

/* The module list (src/sl_modules.c) and the cycle serving requests now. */
extern sl_module_t *sl_modules[];
extern volatile sl_cycle_t *sl_cycle;
extern sl_module_t sl_core_module;
extern sl_module_t sl_conf_module;
extern sl_module_t sl_errlog_module;

/* Command-line state that shapes a cycle. */
typedef struct {
    sl_str_t prefix;
    sl_str_t conf_file;
    sl_str_t conf_param;
    sl_str_t error_log;
    /* the module list; NULL means sl_modules (tests and fuzzers pass their own) */
    sl_module_t **modules;
    /* -t / -T: test only, do not bind sockets */
    unsigned test_config : 1;
    unsigned dump_config : 1;
} sl_cycle_args_t;

/*
 * Loads the configuration into a new cycle: module create/init, parsing, error logs.  It
 * does not open sockets (see the event layer's sl_open_listening_sockets).  Returns NULL
 * when the configuration is invalid (already logged, with FILE:LINE).
 */
sl_cycle_t *sl_cycle_init(const sl_cycle_args_t *args, sl_log_t *log);
/* Asks for a process beside the workers (copied).  SL_OK or SL_ERROR. */
sl_int_t sl_cycle_add_helper(sl_cycle_t *cycle, const sl_helper_process_t *h);
/* Frees a cycle's memory and closes its open files (not its sockets). */
void sl_cycle_destroy(sl_cycle_t *cycle);

/* Registers a file for USR1 reopen; the name is made absolute.  NULL on error (logged). */
sl_open_file_t *sl_conf_open_file(sl_cycle_t *cycle, const sl_str_t *name);
/* Opens every registered file (append mode); SL_ERROR after logging which failed. */
sl_int_t sl_cycle_open_files(sl_cycle_t *cycle);
/* USR1: reopens each file, keeping the old descriptor when the new open fails; a file is
 * given to `user` unless that is (uid_t) -1 (the master reopens for its workers). */
void sl_cycle_reopen_files(sl_cycle_t *cycle, uid_t user);
/* Once its files are open, the cycle logs through its own error_log (not the one it was
 * loaded with, which may belong to the cycle it replaces). */
void sl_cycle_adopt_log(sl_cycle_t *cycle);

/* error_log FILE [LEVEL]: a new log for the directive being parsed; NULL after logging why. */
sl_log_t *sl_conf_error_log(sl_conf_t *cf);

/* worker_cpu_affinity for worker n; NULL when none applies. */
const cpu_set_t *sl_core_cpu_affinity(sl_core_conf_t *ccf, sl_uint_t n);

/* Number of modules of a type, setting their ctx_index. */
sl_uint_t sl_count_modules(sl_cycle_t *cycle, sl_uint_t type);

/* Creates the configured paths (sl_path.h), given to the workers' user when there is one.
 * SL_OK or SL_ERROR (logged). */
sl_int_t sl_cycle_create_paths(sl_cycle_t *cycle);

/* Writes the pid file / deletes it. */
sl_int_t sl_create_pidfile(const sl_str_t *name, sl_log_t *log);
void sl_delete_pidfile(sl_cycle_t *cycle);
/* Reads the pid from the file; SL_ERROR (logged) when absent or malformed. */
pid_t sl_read_pidfile(const sl_str_t *name, sl_log_t *log);

#endif /* SL_CYCLE_H */
