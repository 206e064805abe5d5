/*
 * sl_path.c: the configured directories for files, registered per name and created at
 * start and on reload.
 */
#include <sys/stat.h>

#include "sl_cycle.h"
#include "sl_path.h"
#include "sl_pool.h"

/* The levels after the name: each at least 1, and together at most 10 characters of the
 * hashed part of a file name (nginx's bound).  NULL, or the reason for the error. */
static char *parse_levels(sl_conf_t *cf, sl_path_t *path)
{
    sl_str_t *value = cf->args->elts;
    size_t chars = 0, i = 0;

    for (sl_uint_t n = 2; n < cf->args->nelts; n++, i++) {
        sl_int_t level = sl_atoi(value[n].data, value[n].len);
        if (level == SL_ERROR || level == 0) {
            return "invalid value";
        }
        path->level[i] = (size_t) level;
        chars += (size_t) level;
    }
    return chars > 10 ? "invalid value" : NULL;
}

char *sl_conf_set_path_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_path_t **field = (sl_path_t **) ((char *) conf + cmd->offset);
    sl_str_t *value = cf->args->elts;

    if (*field) {
        return "is duplicate";
    }
    sl_path_t *path = sl_pcalloc(cf->pool, sizeof(sl_path_t));
    if (path == NULL) {
        return SL_CONF_ERROR;
    }
    path->name = value[1];
    if (path->name.len > 1 && path->name.data[path->name.len - 1] == '/') {
        path->name.len--;
    }
    if (sl_conf_full_name(cf->cycle, &path->name, 0) != SL_OK) {
        return SL_CONF_ERROR;
    }
    path->conf_file = (const char *) cf->conf_file->file.name.data;
    path->line = cf->conf_file->line;
    char *why = parse_levels(cf, path);
    if (why) {
        return why;
    }
    *field = path;
    return sl_add_path(cf, field) == SL_OK ? SL_CONF_OK : SL_CONF_ERROR;
}

char *sl_conf_merge_path_value(sl_conf_t *cf, sl_path_t **path, sl_path_t *prev,
                               const char *default_name)
{
    if (*path) {
        return SL_CONF_OK;
    }
    if (prev) {
        *path = prev;
        return SL_CONF_OK;
    }
    sl_path_t *p = sl_pcalloc(cf->pool, sizeof(sl_path_t));
    if (p == NULL) {
        return SL_CONF_ERROR;
    }
    p->name.data = (u_char *) default_name;
    p->name.len = strlen(default_name);
    if (sl_conf_full_name(cf->cycle, &p->name, 0) != SL_OK) {
        return SL_CONF_ERROR;
    }
    *path = p;
    return sl_add_path(cf, path) == SL_OK ? SL_CONF_OK : SL_CONF_ERROR;
}

static int same_levels(const sl_path_t *a, const sl_path_t *b)
{
    return memcmp(a->level, b->level, sizeof(a->level)) == 0;
}

/* Two registrations of one name with different levels: nginx's words for each case. */
static void log_level_conflict(sl_conf_t *cf, const sl_path_t *old, const sl_path_t *path)
{
    if (path->conf_file) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "the same path name \"" SL_STR_FMT "\" in %s:%lu "
                          "has the different levels than",
                          SL_STR_ARG(old->name), old->conf_file ? old->conf_file : "default",
                          (unsigned long) old->line);
        return;
    }
    sl_log_error(SL_LOG_EMERG, cf->log, 0,
                 "the path name \"" SL_STR_FMT "\" in %s:%lu has the same name as default "
                 "path, but the different levels, you need to define default path in http "
                 "section",
                 SL_STR_ARG(old->name), old->conf_file, (unsigned long) old->line);
}

sl_int_t sl_add_path(sl_conf_t *cf, sl_path_t **slot)
{
    sl_path_t *path = *slot, **p = cf->cycle->paths.elts;

    for (sl_uint_t i = 0; i < cf->cycle->paths.nelts; i++) {
        if (!sl_str_eq(&p[i]->name, &path->name)) {
            continue;
        }
        if (!same_levels(p[i], path)) {
            log_level_conflict(cf, p[i], path);
            return SL_ERROR;
        }
        *slot = p[i];
        return SL_OK;
    }
    sl_path_t **new = sl_array_push(&cf->cycle->paths);
    if (new == NULL) {
        return SL_ERROR;
    }
    *new = path;
    return SL_OK;
}

/* The directory belongs to the workers' user, who must be able to create files in it. */
static sl_int_t give_to_user(const char *name, uid_t user, sl_log_t *log)
{
    struct stat st;
    mode_t rwx = S_IRUSR | S_IWUSR | S_IXUSR;

    if (stat(name, &st) == -1) {
        sl_log_error(SL_LOG_EMERG, log, errno, "stat() \"%s\" failed", name);
        return SL_ERROR;
    }
    if (st.st_uid != user && chown(name, user, (gid_t) -1) == -1) {
        sl_log_error(SL_LOG_EMERG, log, errno, "chown(\"%s\", %d) failed", name, (int) user);
        return SL_ERROR;
    }
    if ((st.st_mode & rwx) != rwx && chmod(name, (st.st_mode | rwx) & 07777) == -1) {
        sl_log_error(SL_LOG_EMERG, log, errno, "chmod() \"%s\" failed", name);
        return SL_ERROR;
    }
    return SL_OK;
}

sl_int_t sl_create_paths(sl_cycle_t *cycle, uid_t user)
{
    sl_path_t **p = cycle->paths.elts;

    for (sl_uint_t i = 0; i < cycle->paths.nelts; i++) {
        const char *name = (const char *) p[i]->name.data;
        if (mkdir(name, 0700) == -1 && errno != EEXIST) {
            sl_log_error(SL_LOG_EMERG, cycle->log, errno, "mkdir() \"%s\" failed", name);
            return SL_ERROR;
        }
        if (user != (uid_t) -1 && give_to_user(name, user, cycle->log) != SL_OK) {
            return SL_ERROR;
        }
    }
    return SL_OK;
}
