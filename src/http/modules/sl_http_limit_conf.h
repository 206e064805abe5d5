/*
 * sl_http_limit_conf.h: what limit_req and limit_conn share around their zones: the
 * location settings every level inherits (the limits, *_log_level, *_status, *_dry_run),
 * the zones of the http block, the $limit_*_status variable and the phase handler.
 */
#ifndef SL_HTTP_LIMIT_CONF_H
#define SL_HTTP_LIMIT_CONF_H

#include "sl_http.h"
#include "sl_http_variables.h"

typedef struct {
    /** the module's limits, whose first member is their sl_http_limit_zone_t *; NULL when
     * the level has none (then inherited whole, as nginx) */
    sl_array_t *limits;
    sl_uint_t log_level;
    sl_int_t status;
    sl_int_t dry_run;
} sl_http_limit_loc_conf_t;

typedef struct {
    sl_array_t zones; /* sl_http_limit_zone_t * */
} sl_http_limit_main_conf_t;

/* *_log_level's values and *_status's bounds (400-599) */
extern sl_conf_enum_t sl_http_limit_log_levels[];
extern sl_conf_num_bounds_t sl_http_limit_status_bounds;

void *sl_http_limit_create_main_conf(sl_conf_t *cf);
void sl_http_limit_init_loc_conf(sl_http_limit_loc_conf_t *conf);
/* nginx's defaults: log level error, status 503, no dry run */
void sl_http_limit_merge_loc_conf(sl_http_limit_loc_conf_t *conf,
                                  const sl_http_limit_loc_conf_t *prev);

/* Whether zone is already limited at the level (limits of size bytes). */
int sl_http_limit_is_duplicate(const sl_http_limit_loc_conf_t *lcf, const void *zone, size_t size);
/* Appends *limit (size bytes) to the level's limits: "is duplicate" when its zone is
 * already limited there, SL_CONF_ERROR on allocation failure, SL_CONF_OK. */
char *sl_http_limit_add(sl_conf_t *cf, sl_http_limit_loc_conf_t *lcf, const void *limit,
                        size_t size);

/* Registers $NAME with get as its handler (not cacheable: the verdict comes late). */
sl_int_t sl_http_limit_add_status_variable(sl_conf_t *cf, const char *name,
                                           sl_http_get_variable_pt get);
/* The variable's value: names[status - 1], not found while status is 0 (no verdict yet). */
sl_int_t sl_http_limit_status_value(sl_http_variable_value_t *v, const sl_str_t *names,
                                    sl_uint_t status);

/* handler in the preaccess phase, then the zones mapped (sl_http_limit_zones_map). */
sl_int_t sl_http_limit_postconfiguration(sl_conf_t *cf, sl_http_handler_pt handler,
                                         sl_http_limit_main_conf_t *mcf);

#endif /* SL_HTTP_LIMIT_CONF_H */
