/*
 * sl_http_limit_conf.c: the configuration, variable and phase parts limit_req and
 * limit_conn have in common (sl_http_limit_conf.h).
 */
#include "sl_http_limit_conf.h"
#include "sl_http_limit_zone.h"

sl_conf_enum_t sl_http_limit_log_levels[] = {
    { sl_string("info"), SL_LOG_INFO },
    { sl_string("notice"), SL_LOG_NOTICE },
    { sl_string("warn"), SL_LOG_WARN },
    { sl_string("error"), SL_LOG_ERR },
    { sl_null_string, 0 },
};

sl_conf_num_bounds_t sl_http_limit_status_bounds = { sl_conf_check_num_bounds, 400, 599 };

void *sl_http_limit_create_main_conf(sl_conf_t *cf)
{
    sl_http_limit_main_conf_t *mcf = sl_pcalloc(cf->pool, sizeof(sl_http_limit_main_conf_t));

    if (mcf == NULL || sl_array_init(&mcf->zones, cf->pool, 4, sizeof(void *)) != SL_OK) {
        return NULL;
    }
    return mcf;
}

void sl_http_limit_init_loc_conf(sl_http_limit_loc_conf_t *conf)
{
    conf->limits = NULL;
    conf->log_level = SL_CONF_UNSET_UINT;
    conf->status = SL_CONF_UNSET;
    conf->dry_run = SL_CONF_UNSET;
}

void sl_http_limit_merge_loc_conf(sl_http_limit_loc_conf_t *conf,
                                  const sl_http_limit_loc_conf_t *prev)
{
    if (conf->limits == NULL) {
        conf->limits = prev->limits;
    }
    sl_conf_merge_uint_value(conf->log_level, prev->log_level, SL_LOG_ERR);
    sl_conf_merge_value(conf->status, prev->status, SL_HTTP_SERVICE_UNAVAILABLE);
    sl_conf_merge_value(conf->dry_run, prev->dry_run, 0);
}

int sl_http_limit_is_duplicate(const sl_http_limit_loc_conf_t *lcf, const void *zone, size_t size)
{
    const u_char *l = lcf->limits ? lcf->limits->elts : NULL;

    for (sl_uint_t i = 0; l && i < lcf->limits->nelts; i++) {
        if (*(const void *const *) (l + i * size) == zone) {
            return 1;
        }
    }
    return 0;
}

char *sl_http_limit_add(sl_conf_t *cf, sl_http_limit_loc_conf_t *lcf, const void *limit,
                        size_t size)
{
    if (lcf->limits == NULL) {
        lcf->limits = sl_array_create(cf->pool, 2, size);
        if (lcf->limits == NULL) {
            return SL_CONF_ERROR;
        }
    }
    if (sl_http_limit_is_duplicate(lcf, *(const void *const *) limit, size)) {
        return "is duplicate";
    }
    void *slot = sl_array_push(lcf->limits);
    if (slot == NULL) {
        return SL_CONF_ERROR;
    }
    memcpy(slot, limit, size);
    return SL_CONF_OK;
}

sl_int_t sl_http_limit_add_status_variable(sl_conf_t *cf, const char *name,
                                           sl_http_get_variable_pt get)
{
    sl_str_t s = { strlen(name), (u_char *) name };
    sl_http_variable_t *var = sl_http_add_variable(cf, &s, SL_HTTP_VAR_NOCACHEABLE);

    if (var == NULL) {
        return SL_ERROR;
    }
    var->get_handler = get;
    return SL_OK;
}

sl_int_t sl_http_limit_status_value(sl_http_variable_value_t *v, const sl_str_t *names,
                                    sl_uint_t status)
{
    if (status == 0) {
        v->not_found = 1;
        return SL_OK;
    }
    v->len = (unsigned) names[status - 1].len;
    v->data = names[status - 1].data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return SL_OK;
}

sl_int_t sl_http_limit_postconfiguration(sl_conf_t *cf, sl_http_handler_pt handler,
                                         sl_http_limit_main_conf_t *mcf)
{
    if (sl_http_add_phase_handler(cf, SL_HTTP_PREACCESS_PHASE, handler) != SL_OK) {
        return SL_ERROR;
    }
    return sl_http_limit_zones_map(cf, &mcf->zones);
}
