/*
 * sl_path.h: the directories a configuration writes files into (client_body_temp_path,
 * proxy_temp_path, later the cache's), registered once per name in the cycle and created by
 * the master before any worker starts, as nginx does: a worker that runs as an unprivileged
 * user could not create them under a root-owned prefix.
 */
#ifndef SL_PATH_H
#define SL_PATH_H

#include "sl_core.h"
#include "sl_conf.h"
#include "sl_str.h"

#define SL_MAX_PATH_LEVEL 3

typedef struct {
    /** absolute, NUL-terminated, no trailing slash */
    sl_str_t name;
    /** the hashed subdirectory levels ("1 2"), 0 where none */
    size_t level[SL_MAX_PATH_LEVEL];
    /** where it was configured; NULL for a default */
    const char *conf_file;
    sl_uint_t line;
} sl_path_t;

/* "NAME path [level1 [level2 [level3]]]": an sl_path_t * field, NULL while unset. */
char *sl_conf_set_path_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf);

/*
 * Merges a path field: this level's, else prev, else the default name (relative to the
 * prefix) registered in the cycle.  SL_CONF_OK or SL_CONF_ERROR (logged).
 */
char *sl_conf_merge_path_value(sl_conf_t *cf, sl_path_t **path, sl_path_t *prev,
                               const char *default_name);

/*
 * Registers *slot in the cycle, or points it at the path already registered under the same
 * name; a name configured twice with different levels is refused with nginx's words.
 * SL_OK or SL_ERROR (logged).
 */
sl_int_t sl_add_path(sl_conf_t *cf, sl_path_t **slot);

/*
 * Creates every registered path that does not exist yet (mode 0700, the last component
 * only, as nginx) and, unless user is (uid_t) -1, gives it to that user with rwx for it.
 * SL_OK, or SL_ERROR after logging [emerg] with the path.
 */
sl_int_t sl_create_paths(sl_cycle_t *cycle, uid_t user);

#endif /* SL_PATH_H */
