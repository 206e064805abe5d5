/*
 * sl_event_module.h: event module types and the events{} settings.
 */
#ifndef SL_EVENT_MODULE_H
#define SL_EVENT_MODULE_H

#include "sl_core.h"
#include "sl_conf.h"
#include "sl_cycle.h"

#define SL_DEFAULT_CONNECTIONS 512

typedef struct {
    sl_str_t name;
    void *(*create_conf)(sl_cycle_t *cycle);
    char *(*init_conf)(sl_cycle_t *cycle, void *conf);
} sl_event_module_t;

typedef struct {
    sl_int_t connections;
    sl_int_t multi_accept;
    /** accept_mutex, accept_mutex_delay: accepted with no effect, EPOLLEXCLUSIVE wakes one
     * worker per connection without a lock */
    sl_int_t accept_mutex;
    sl_msec_t accept_mutex_delay;
    unsigned use_set : 1;
} sl_event_conf_t;

extern sl_module_t sl_events_module;
extern sl_module_t sl_event_core_module;

/* The events{} settings, or NULL when the config has no events block. */
sl_event_conf_t *sl_event_get_conf(sl_cycle_t *cycle);

#endif /* SL_EVENT_MODULE_H */
