/*
 * sl_event_module.c: the "events" block and its directives (worker_connections, use,
 * multi_accept; accept_mutex and accept_mutex_delay accepted for nginx's configurations).
 */
#include "sl_conn.h"
#include "sl_event_module.h"
#include "sl_pool.h"

static char *events_block(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *set_use(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *set_connections(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static void *event_core_create_conf(sl_cycle_t *cycle);
static char *event_core_init_conf(sl_cycle_t *cycle, void *conf);

static sl_command_t events_commands[] = {
    { sl_string("events"), SL_MAIN_CONF | SL_CONF_BLOCK | SL_CONF_NOARGS, events_block, 0, 0,
      NULL },
    sl_null_command,
};

static char *events_init_conf(sl_cycle_t *cycle, void *conf);

static sl_core_module_t events_module_ctx = {
    sl_string("events"),
    NULL,
    events_init_conf,
};

static char *events_init_conf(sl_cycle_t *cycle, void *conf)
{
    if (conf == NULL) {
        sl_log_error(SL_LOG_EMERG, cycle->log, 0, "no \"events\" section in configuration");
        return SL_CONF_ERROR;
    }
    return SL_CONF_OK;
}

sl_module_t sl_events_module = {
    "events", 0, 0, SL_CORE_MODULE, &events_module_ctx, events_commands, NULL, NULL, NULL,
};

static sl_command_t event_core_commands[] = {
    { sl_string("worker_connections"), SL_EVENT_CONF | SL_CONF_TAKE1, set_connections, 0, 0, NULL },
    { sl_string("use"), SL_EVENT_CONF | SL_CONF_TAKE1, set_use, 0, 0, NULL },
    { sl_string("multi_accept"), SL_EVENT_CONF | SL_CONF_FLAG, sl_conf_set_flag_slot, 0,
      offsetof(sl_event_conf_t, multi_accept), NULL },
    { sl_string("accept_mutex"), SL_EVENT_CONF | SL_CONF_FLAG, sl_conf_set_flag_slot, 0,
      offsetof(sl_event_conf_t, accept_mutex), NULL },
    { sl_string("accept_mutex_delay"), SL_EVENT_CONF | SL_CONF_TAKE1, sl_conf_set_msec_slot, 0,
      offsetof(sl_event_conf_t, accept_mutex_delay), NULL },
    sl_null_command,
};

static sl_event_module_t event_core_module_ctx = {
    sl_string("event_core"),
    event_core_create_conf,
    event_core_init_conf,
};

sl_module_t sl_event_core_module = {
    "event_core", 0,    0,    SL_EVENT_MODULE, &event_core_module_ctx, event_core_commands,
    NULL,         NULL, NULL,
};

/* Creates every event module's conf, parses the block, then fills in defaults. */
static char *events_block(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    void ***ctx = conf;

    if (*ctx) {
        return "is duplicate";
    }
    sl_uint_t n = sl_count_modules(cf->cycle, SL_EVENT_MODULE);
    void **confs = sl_pcalloc(cf->pool, n * sizeof(void *));
    *ctx = sl_pcalloc(cf->pool, sizeof(void *));
    if (confs == NULL || *ctx == NULL) {
        return SL_CONF_ERROR;
    }
    **ctx = confs;
    for (sl_uint_t i = 0; i < cf->cycle->modules_n; i++) {
        sl_module_t *m = cf->cycle->modules[i];
        sl_event_module_t *em = m->ctx;
        if (m->type == SL_EVENT_MODULE && em->create_conf) {
            confs[m->ctx_index] = em->create_conf(cf->cycle);
            if (confs[m->ctx_index] == NULL) {
                return SL_CONF_ERROR;
            }
        }
    }
    sl_conf_t saved = *cf;
    cf->ctx = *ctx;
    cf->module_type = SL_EVENT_MODULE;
    cf->cmd_type = SL_EVENT_CONF;
    char *rv = sl_conf_parse(cf, NULL);
    *cf = saved;
    if (rv != SL_CONF_OK) {
        return rv;
    }
    for (sl_uint_t i = 0; i < cf->cycle->modules_n; i++) {
        sl_module_t *m = cf->cycle->modules[i];
        sl_event_module_t *em = m->ctx;
        if (m->type == SL_EVENT_MODULE && em->init_conf
            && em->init_conf(cf->cycle, confs[m->ctx_index]) != SL_CONF_OK) {
            return SL_CONF_ERROR;
        }
    }
    return SL_CONF_OK;
}

static char *set_connections(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_event_conf_t *ecf = conf;
    sl_str_t *value = cf->args->elts;

    if (ecf->connections != SL_CONF_UNSET) {
        return "is duplicate";
    }
    ecf->connections = sl_atoi(value[1].data, value[1].len);
    /* Below 2 nothing could be served: the signal channel and a listener take one each. */
    if (ecf->connections == SL_ERROR || ecf->connections < 2) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid number \"%s\"", (char *) value[1].data);
        return SL_CONF_ERROR;
    }
    return SL_CONF_OK;
}

static char *set_use(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_event_conf_t *ecf = conf;
    sl_str_t *value = cf->args->elts;

    if (ecf->use_set) {
        return "is duplicate";
    }
    /* epoll is the only method: it is what Linux offers at this scale. */
    if (!sl_str_eq_cstr(&value[1], "epoll")) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid event type \"%s\"", (char *) value[1].data);
        return SL_CONF_ERROR;
    }
    ecf->use_set = 1;
    return SL_CONF_OK;
}

static void *event_core_create_conf(sl_cycle_t *cycle)
{
    sl_event_conf_t *ecf = sl_pcalloc(cycle->pool, sizeof(sl_event_conf_t));

    if (ecf == NULL) {
        return NULL;
    }
    ecf->connections = SL_CONF_UNSET;
    ecf->multi_accept = SL_CONF_UNSET;
    ecf->accept_mutex = SL_CONF_UNSET;
    ecf->accept_mutex_delay = SL_CONF_UNSET_MSEC;
    return ecf;
}

static char *event_core_init_conf(sl_cycle_t *cycle, void *conf)
{
    sl_event_conf_t *ecf = conf;

    sl_conf_init_value(ecf->connections, SL_DEFAULT_CONNECTIONS);
    sl_conf_init_value(ecf->multi_accept, 0);
    sl_conf_init_value(ecf->accept_mutex, 0);
    sl_conf_init_msec_value(ecf->accept_mutex_delay, 500);
    return SL_CONF_OK;
}

sl_event_conf_t *sl_event_get_conf(sl_cycle_t *cycle)
{
    void ***ctx = cycle->conf_ctx[sl_events_module.index];

    if (ctx == NULL) {
        return NULL;
    }
    return ((void **) *ctx)[sl_event_core_module.ctx_index];
}
