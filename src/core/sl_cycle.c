/*
 * sl_cycle.c: loading a configuration into a cycle, open files, the pid file.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>

#include "sl_cycle.h"
#include "sl_path.h"
#include "sl_pool.h"

volatile sl_cycle_t *sl_cycle;

sl_uint_t sl_count_modules(sl_cycle_t *cycle, sl_uint_t type)
{
    sl_uint_t n = 0;

    for (sl_uint_t i = 0; i < cycle->modules_n; i++) {
        if (cycle->modules[i]->type == type) {
            cycle->modules[i]->ctx_index = n++;
        }
    }
    return n;
}

static sl_int_t copy_str(sl_pool_t *pool, sl_str_t *dst, const sl_str_t *src)
{
    dst->len = src->len;
    dst->data = sl_pstrdup(pool, src);
    return dst->data ? SL_OK : SL_ERROR;
}

/* The directory of the config file, with its trailing slash: includes are relative to it. */
static void set_conf_prefix(sl_cycle_t *cycle)
{
    size_t len = cycle->conf_file.len;

    while (len && cycle->conf_file.data[len - 1] != '/') {
        len--;
    }
    cycle->conf_prefix.data = cycle->conf_file.data;
    cycle->conf_prefix.len = len;
}

static sl_int_t init_arrays(sl_cycle_t *cycle)
{
    if (sl_array_init(&cycle->helpers, cycle->pool, 2, sizeof(sl_helper_process_t)) != SL_OK
        || sl_array_init(&cycle->listening, cycle->pool, 8, sizeof(void *)) != SL_OK
        || sl_array_init(&cycle->open_files, cycle->pool, 8, sizeof(sl_open_file_t *)) != SL_OK
        || sl_array_init(&cycle->config_dump, cycle->pool, 4, sizeof(sl_conf_dump_t)) != SL_OK
        || sl_array_init(&cycle->paths, cycle->pool, 4, sizeof(void *)) != SL_OK) {
        return SL_ERROR;
    }
    return SL_OK;
}

static sl_cycle_t *cycle_alloc(const sl_cycle_args_t *args, sl_log_t *log)
{
    sl_pool_t *pool = sl_pool_create(SL_POOL_DEFAULT_SIZE, log);
    if (pool == NULL) {
        return NULL;
    }
    sl_cycle_t *cycle = sl_pcalloc(pool, sizeof(sl_cycle_t));
    if (cycle == NULL || init_arrays((cycle->pool = pool, cycle)) != SL_OK
        || copy_str(pool, &cycle->prefix, &args->prefix) != SL_OK
        || copy_str(pool, &cycle->conf_file, &args->conf_file) != SL_OK
        || copy_str(pool, &cycle->conf_param, &args->conf_param) != SL_OK
        || copy_str(pool, &cycle->error_log, &args->error_log) != SL_OK) {
        sl_pool_destroy(pool);
        return NULL;
    }
    cycle->log = log;
    set_conf_prefix(cycle);
    return cycle;
}

static sl_int_t create_core_confs(sl_cycle_t *cycle, sl_module_t **modules)
{
    cycle->modules = modules ? modules : sl_modules;
    for (cycle->modules_n = 0; cycle->modules[cycle->modules_n]; cycle->modules_n++) {
        cycle->modules[cycle->modules_n]->index = cycle->modules_n;
    }
    sl_count_modules(cycle, SL_CORE_MODULE);
    cycle->conf_ctx = sl_pcalloc(cycle->pool, cycle->modules_n * sizeof(void *));
    if (cycle->conf_ctx == NULL) {
        return SL_ERROR;
    }
    for (sl_uint_t i = 0; i < cycle->modules_n; i++) {
        sl_module_t *m = cycle->modules[i];
        sl_core_module_t *cm = m->ctx;

        if (m->type != SL_CORE_MODULE || cm->create_conf == NULL) {
            continue;
        }
        void *conf = cm->create_conf(cycle);
        if (conf == NULL) {
            return SL_ERROR;
        }
        cycle->conf_ctx[i] = conf;
    }
    return SL_OK;
}

static sl_int_t parse_config(sl_cycle_t *cycle)
{
    sl_conf_t conf;

    memset(&conf, 0, sizeof(conf));
    conf.args = sl_array_create(cycle->pool, 10, sizeof(sl_str_t));
    conf.temp_pool = sl_pool_create(SL_POOL_DEFAULT_SIZE, cycle->log);
    if (conf.args == NULL || conf.temp_pool == NULL) {
        sl_pool_destroy(conf.temp_pool);
        return SL_ERROR;
    }
    conf.ctx = cycle->conf_ctx;
    conf.cycle = cycle;
    conf.pool = cycle->pool;
    conf.log = cycle->log;
    conf.module_type = SL_CORE_MODULE;
    conf.cmd_type = SL_MAIN_CONF;

    sl_int_t rc = SL_OK;
    if (sl_conf_param(&conf) != SL_CONF_OK
        || sl_conf_parse(&conf, &cycle->conf_file) != SL_CONF_OK) {
        rc = SL_ERROR;
    }
    sl_pool_destroy(conf.temp_pool);
    return rc;
}

static sl_int_t init_core_confs(sl_cycle_t *cycle)
{
    for (sl_uint_t i = 0; i < cycle->modules_n; i++) {
        sl_module_t *m = cycle->modules[i];
        sl_core_module_t *cm = m->ctx;

        if (m->type != SL_CORE_MODULE || cm->init_conf == NULL) {
            continue;
        }
        if (cm->init_conf(cycle, cycle->conf_ctx[i]) == SL_CONF_ERROR) {
            return SL_ERROR;
        }
    }
    return SL_OK;
}

sl_cycle_t *sl_cycle_init(const sl_cycle_args_t *args, sl_log_t *log)
{
    sl_cycle_t *cycle = cycle_alloc(args, log);

    if (cycle == NULL) {
        return NULL;
    }
    if (create_core_confs(cycle, args->modules) != SL_OK || parse_config(cycle) != SL_OK
        || init_core_confs(cycle) != SL_OK) {
        sl_cycle_destroy(cycle);
        return NULL;
    }
    return cycle;
}

void sl_cycle_adopt_log(sl_cycle_t *cycle)
{
    cycle->log = &cycle->new_log;
    cycle->pool->log = cycle->log;
}

void sl_cycle_destroy(sl_cycle_t *cycle)
{
    sl_open_file_t **files = cycle->open_files.elts;

    for (sl_uint_t i = 0; i < cycle->open_files.nelts; i++) {
        if (files[i]->fd > STDERR_FILENO) {
            close(files[i]->fd);
        }
        files[i]->fd = -1;
    }
    sl_pool_destroy(cycle->pool);
}

sl_open_file_t *sl_conf_open_file(sl_cycle_t *cycle, const sl_str_t *name)
{
    sl_open_file_t **files = cycle->open_files.elts;
    sl_str_t full = *name;

    if (sl_str_eq_cstr(name, "stderr")) {
        static sl_open_file_t stderr_file = { STDERR_FILENO, sl_string("stderr"), NULL, NULL };
        return &stderr_file;
    }
    if (sl_conf_full_name(cycle, &full, 0) != SL_OK) {
        return NULL;
    }
    for (sl_uint_t i = 0; i < cycle->open_files.nelts; i++) {
        if (sl_str_eq(&files[i]->name, &full)) {
            return files[i];
        }
    }
    sl_open_file_t *file = sl_pcalloc(cycle->pool, sizeof(sl_open_file_t));
    sl_open_file_t **slot = sl_array_push(&cycle->open_files);
    if (file == NULL || slot == NULL) {
        return NULL;
    }
    file->fd = -1;
    file->name = full;
    *slot = file;
    return file;
}

static int open_append(const sl_open_file_t *file)
{
    return open((const char *) file->name.data, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

sl_int_t sl_cycle_open_files(sl_cycle_t *cycle)
{
    sl_open_file_t **files = cycle->open_files.elts;

    for (sl_uint_t i = 0; i < cycle->open_files.nelts; i++) {
        if (files[i]->fd != -1) {
            continue;
        }
        files[i]->fd = open_append(files[i]);
        if (files[i]->fd == -1) {
            sl_log_error(SL_LOG_EMERG, cycle->log, errno, "open() \"%s\" failed",
                         (char *) files[i]->name.data);
            return SL_ERROR;
        }
    }
    return SL_OK;
}

/* The master reopens as root: the workers' user must be able to write (and reopen) it. */
static void give_to_user(sl_open_file_t *file, int fd, uid_t user, sl_log_t *log)
{
    struct stat st;

    if (user == (uid_t) -1 || fstat(fd, &st) == -1 || st.st_uid == user) {
        return;
    }
    if (fchown(fd, user, (gid_t) -1) == -1) {
        sl_log_error(SL_LOG_EMERG, log, errno, "chown(\"%s\", %d) failed", (char *) file->name.data,
                     (int) user);
    }
    if (fchmod(fd, st.st_mode | S_IRUSR | S_IWUSR) == -1) {
        sl_log_error(SL_LOG_EMERG, log, errno, "chmod() \"%s\" failed", (char *) file->name.data);
    }
}

void sl_cycle_reopen_files(sl_cycle_t *cycle, uid_t user)
{
    sl_open_file_t **files = cycle->open_files.elts;

    for (sl_uint_t i = 0; i < cycle->open_files.nelts; i++) {
        /* lines buffered for the old file go to the old file (logrotate renamed it) */
        if (files[i]->flush) {
            files[i]->flush(files[i], cycle->log);
        }
        int fd = open_append(files[i]);

        if (fd == -1) {
            sl_log_error(SL_LOG_EMERG, cycle->log, errno, "open() \"%s\" failed",
                         (char *) files[i]->name.data);
            continue;
        }
        give_to_user(files[i], fd, user, cycle->log);
        /* dup2 keeps the descriptor number, so fd 2 (a copy of the error log) and any
         * cached copies stay valid. */
        if (files[i]->fd != -1) {
            if (dup2(fd, files[i]->fd) == -1) {
                sl_log_error(SL_LOG_EMERG, cycle->log, errno, "dup2() \"%s\" failed",
                             (char *) files[i]->name.data);
            }
            close(fd);
        } else {
            files[i]->fd = fd;
        }
    }
}

sl_int_t sl_cycle_create_paths(sl_cycle_t *cycle)
{
    sl_core_conf_t *ccf = (sl_core_conf_t *) sl_get_conf(cycle->conf_ctx, sl_core_module);

    return sl_create_paths(cycle, ccf->username ? ccf->user : (uid_t) -1);
}

sl_int_t sl_create_pidfile(const sl_str_t *name, sl_log_t *log)
{
    char buf[SL_INT64_LEN + 2];
    int n = snprintf(buf, sizeof(buf), "%d\n", (int) getpid());
    int fd = open((const char *) name->data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    if (fd == -1) {
        sl_log_error(SL_LOG_EMERG, log, errno, "open() \"%s\" failed", (char *) name->data);
        return SL_ERROR;
    }
    if (write(fd, buf, (size_t) n) != n) {
        sl_log_error(SL_LOG_EMERG, log, errno, "write() \"%s\" failed", (char *) name->data);
        close(fd);
        return SL_ERROR;
    }
    if (close(fd) == -1) {
        sl_log_error(SL_LOG_ALERT, log, errno, "close() \"%s\" failed", (char *) name->data);
    }
    return SL_OK;
}

void sl_delete_pidfile(sl_cycle_t *cycle)
{
    sl_core_conf_t *ccf = (sl_core_conf_t *) sl_get_conf(cycle->conf_ctx, sl_core_module);

    if (unlink((const char *) ccf->pid.data) == -1) {
        sl_log_error(SL_LOG_ALERT, cycle->log, errno, "unlink() \"%s\" failed",
                     (char *) ccf->pid.data);
    }
}

pid_t sl_read_pidfile(const sl_str_t *name, sl_log_t *log)
{
    char buf[SL_INT64_LEN + 2];
    int fd = open((const char *) name->data, O_RDONLY | O_CLOEXEC);

    if (fd == -1) {
        sl_log_error(SL_LOG_ERR, log, errno, "open() \"%s\" failed", (char *) name->data);
        return SL_ERROR;
    }
    ssize_t n = read(fd, buf, sizeof(buf));
    sl_err_t err = errno;
    close(fd);
    if (n == -1) {
        sl_log_error(SL_LOG_ERR, log, err, "read() \"%s\" failed", (char *) name->data);
        return SL_ERROR;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
        n--;
    }
    sl_int_t pid = sl_atoi((u_char *) buf, (size_t) n);
    if (pid <= 0) {
        sl_log_error(SL_LOG_ERR, log, 0, "invalid PID number \"%.*s\" in \"%s\"", (int) n, buf,
                     (char *) name->data);
        return SL_ERROR;
    }
    return (pid_t) pid;
}

sl_int_t sl_cycle_add_helper(sl_cycle_t *cycle, const sl_helper_process_t *h)
{
    sl_helper_process_t *slot = sl_array_push(&cycle->helpers);

    if (slot == NULL) {
        return SL_ERROR;
    }
    *slot = *h;
    return SL_OK;
}
