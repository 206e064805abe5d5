/*
 * sl_core_module.c: main-context directives (daemon, master_process, worker_processes,
 * pid, worker_rlimit_nofile, worker_shutdown_timeout; the worker-shaping ones are in
 * sl_core_worker.c) and error_log.
 */
#include <unistd.h>

#include "sl_core_worker.h"
#include "sl_cycle.h"
#include "sl_pool.h"

#define SL_DEFAULT_PID_PATH "logs/sluice.pid"

static void *core_create_conf(sl_cycle_t *cycle);
static char *core_init_conf(sl_cycle_t *cycle, void *conf);
static char *set_worker_processes(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *set_error_log(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *errlog_init_conf(sl_cycle_t *cycle, void *conf);

static sl_command_t core_commands[] = {
    { sl_string("daemon"), SL_MAIN_CONF | SL_DIRECT_CONF | SL_CONF_FLAG, sl_conf_set_flag_slot, 0,
      offsetof(sl_core_conf_t, daemon), NULL },
    { sl_string("master_process"), SL_MAIN_CONF | SL_DIRECT_CONF | SL_CONF_FLAG,
      sl_conf_set_flag_slot, 0, offsetof(sl_core_conf_t, master), NULL },
    { sl_string("worker_processes"), SL_MAIN_CONF | SL_DIRECT_CONF | SL_CONF_TAKE1,
      set_worker_processes, 0, 0, NULL },
    { sl_string("pid"), SL_MAIN_CONF | SL_DIRECT_CONF | SL_CONF_TAKE1, sl_conf_set_str_slot, 0,
      offsetof(sl_core_conf_t, pid), NULL },
    { sl_string("worker_rlimit_nofile"), SL_MAIN_CONF | SL_DIRECT_CONF | SL_CONF_TAKE1,
      sl_conf_set_num_slot, 0, offsetof(sl_core_conf_t, rlimit_nofile), NULL },
    { sl_string("worker_shutdown_timeout"), SL_MAIN_CONF | SL_DIRECT_CONF | SL_CONF_TAKE1,
      sl_conf_set_msec_slot, 0, offsetof(sl_core_conf_t, shutdown_timeout), NULL },
    { sl_string("worker_priority"), SL_MAIN_CONF | SL_DIRECT_CONF | SL_CONF_TAKE1,
      sl__set_worker_priority, 0, 0, NULL },
    { sl_string("worker_cpu_affinity"), SL_MAIN_CONF | SL_DIRECT_CONF | SL_CONF_1MORE,
      sl__set_cpu_affinity, 0, 0, NULL },
    { sl_string("user"), SL_MAIN_CONF | SL_DIRECT_CONF | SL_CONF_TAKE12, sl__set_user, 0, 0, NULL },
    sl_null_command,
};

static sl_core_module_t core_module_ctx = {
    sl_string("core"),
    core_create_conf,
    core_init_conf,
};

sl_module_t sl_core_module = {
    "core", 0, 0, SL_CORE_MODULE, &core_module_ctx, core_commands, NULL, NULL, NULL,
};

static sl_command_t errlog_commands[] = {
    { sl_string("error_log"), SL_MAIN_CONF | SL_CONF_1MORE, set_error_log, 0, 0, NULL },
    sl_null_command,
};

static sl_core_module_t errlog_module_ctx = {
    sl_string("errlog"),
    NULL,
    errlog_init_conf,
};

sl_module_t sl_errlog_module = {
    "errlog", 0, 0, SL_CORE_MODULE, &errlog_module_ctx, errlog_commands, NULL, NULL, NULL,
};

static void *core_create_conf(sl_cycle_t *cycle)
{
    sl_core_conf_t *ccf = sl_pcalloc(cycle->pool, sizeof(sl_core_conf_t));

    if (ccf == NULL) {
        return NULL;
    }
    ccf->daemon = SL_CONF_UNSET;
    ccf->master = SL_CONF_UNSET;
    ccf->worker_processes = SL_CONF_UNSET;
    ccf->rlimit_nofile = SL_CONF_UNSET;
    ccf->shutdown_timeout = SL_CONF_UNSET_MSEC;
    ccf->priority = SL_CONF_UNSET;
    ccf->user = (uid_t) SL_CONF_UNSET_UINT;
    ccf->group = (gid_t) SL_CONF_UNSET_UINT;
    return ccf;
}

static char *core_init_conf(sl_cycle_t *cycle, void *conf)
{
    sl_core_conf_t *ccf = conf;

    sl_conf_init_value(ccf->daemon, 1);
    sl_conf_init_value(ccf->master, 1);
    sl_conf_init_value(ccf->worker_processes, 1);
    sl_conf_init_msec_value(ccf->shutdown_timeout, 0);
    sl_conf_init_value(ccf->priority, 0);
    if (ccf->pid.data == NULL) {
        sl_str_set(&ccf->pid, SL_DEFAULT_PID_PATH);
    }
    if (sl_conf_full_name(cycle, &ccf->pid, 0) != SL_OK) {
        return SL_CONF_ERROR;
    }
    ccf->oldpid.len = ccf->pid.len + sizeof(".oldbin") - 1;
    ccf->oldpid.data = sl_pnalloc(cycle->pool, ccf->oldpid.len + 1);
    if (ccf->oldpid.data == NULL) {
        return SL_CONF_ERROR;
    }
    memcpy(ccf->oldpid.data, ccf->pid.data, ccf->pid.len);
    memcpy(ccf->oldpid.data + ccf->pid.len, ".oldbin", sizeof(".oldbin"));
    if (ccf->cpu_affinity_n && ccf->cpu_affinity_n != 1
        && ccf->cpu_affinity_n != (sl_uint_t) ccf->worker_processes) {
        sl_log_error(SL_LOG_WARN, cycle->log, 0,
                     "the number of \"worker_processes\" is not equal to the number of "
                     "\"worker_cpu_affinity\" masks, using last mask for remaining worker "
                     "processes");
    }
    if (sl__init_user(cycle, ccf) != SL_OK) {
        return SL_CONF_ERROR;
    }
    return SL_CONF_OK;
}

static char *set_worker_processes(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_core_conf_t *ccf = conf;
    sl_str_t *value = cf->args->elts;

    if (ccf->worker_processes != SL_CONF_UNSET) {
        return "is duplicate";
    }
    if (sl_str_eq_cstr(&value[1], "auto")) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        ccf->worker_processes = n > 0 ? n : 1;
        return SL_CONF_OK;
    }
    ccf->worker_processes = sl_atoi(value[1].data, value[1].len);
    if (ccf->worker_processes == SL_ERROR) {
        return "invalid value";
    }
    return SL_CONF_OK;
}

sl_log_t *sl_conf_error_log(sl_conf_t *cf)
{
    sl_str_t *value = cf->args->elts;
    sl_uint_t level = SL_LOG_ERR;

    if (cf->args->nelts > 3) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid number of arguments in \"%s\" directive",
                          cf->name);
        return NULL;
    }
    if (cf->args->nelts == 3) {
        sl_int_t l = sl_log_level_by_name(&value[2]);
        if (l == SL_ERROR) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid log level \"%s\"",
                              (char *) value[2].data);
            return NULL;
        }
        level = (sl_uint_t) l;
    }
    if (value[1].len == 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "\"%s\" directive has an empty file name", cf->name);
        return NULL;
    }
    sl_log_t *log = sl_pcalloc(cf->pool, sizeof(sl_log_t));
    if (log == NULL) {
        return NULL;
    }
    log->file = sl_conf_open_file(cf->cycle, &value[1]);
    if (log->file == NULL) {
        return NULL;
    }
    log->log_level = level;
    return log;
}

/* The first error_log fills cycle->new_log itself; later ones chain after it. */
static char *set_error_log(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_log_t *head = &cf->cycle->new_log;
    sl_log_t *log = sl_conf_error_log(cf);

    if (log == NULL) {
        return SL_CONF_ERROR;
    }
    if (head->file == NULL) {
        *head = *log;
        return SL_CONF_OK;
    }
    while (head->next) {
        head = head->next;
    }
    head->next = log;
    return SL_CONF_OK;
}

/* Without an error_log directive the log goes where -e said, or to logs/error.log. */
static char *errlog_init_conf(sl_cycle_t *cycle, void *conf)
{
    if (cycle->new_log.file) {
        return SL_CONF_OK;
    }
    cycle->new_log.file = sl_conf_open_file(cycle, &cycle->error_log);
    if (cycle->new_log.file == NULL) {
        return SL_CONF_ERROR;
    }
    cycle->new_log.log_level = SL_LOG_ERR;
    return SL_CONF_OK;
}
