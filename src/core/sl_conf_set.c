/*
 * sl_conf_set.c: the typed directive setters (flag, string, number, size, time, ...) that
 * most directive tables point to, and the bounds check post handler.
 *
 * Each setter writes the field at cmd->offset in the conf struct, reports a second occurrence
 * as "is duplicate" and a bad value with nginx's words; sl_conf.h lists the field types.
 */
#include "sl_conf.h"
#include "sl_pool.h"

/* The field a setter writes. */
#define FIELD(type, conf, cmd) ((type *) ((char *) (conf) + (cmd)->offset))

/* The directive's first argument. */
static sl_str_t *arg1(sl_conf_t *cf)
{
    return &((sl_str_t *) cf->args->elts)[1];
}

static char *run_post(sl_conf_t *cf, sl_command_t *cmd, void *field)
{
    sl_conf_post_t *post = cmd->post;

    return post ? post->post_handler(cf, post, field) : SL_CONF_OK;
}

char *sl_conf_set_flag_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_int_t *fp = FIELD(sl_int_t, conf, cmd);
    sl_str_t *value = arg1(cf);

    if (*fp != SL_CONF_UNSET) {
        return "is duplicate";
    }
    if (value->len == 2 && sl_strncasecmp(value->data, (const u_char *) "on", 2) == 0) {
        *fp = 1;
    } else if (value->len == 3 && sl_strncasecmp(value->data, (const u_char *) "off", 3) == 0) {
        *fp = 0;
    } else {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "invalid value \"%s\" in \"%s\" directive, it must be \"on\" or \"off\"",
                          (const char *) value->data, (const char *) cmd->name.data);
        return SL_CONF_ERROR;
    }
    return run_post(cf, cmd, fp);
}

char *sl_conf_set_str_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_str_t *field = FIELD(sl_str_t, conf, cmd);

    if (field->data) {
        return "is duplicate";
    }
    *field = *arg1(cf);
    return run_post(cf, cmd, field);
}

/* The array behind an array field, created on first use (unset is either marker). */
static sl_array_t *field_array(sl_conf_t *cf, sl_array_t **a, size_t size)
{
    if (*a == SL_CONF_UNSET_PTR || *a == NULL) {
        *a = sl_array_create(cf->pool, 4, size);
    }
    return *a;
}

char *sl_conf_set_str_array_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_array_t *a = field_array(cf, FIELD(sl_array_t *, conf, cmd), sizeof(sl_str_t));
    sl_str_t *s = a ? sl_array_push(a) : NULL;

    if (s == NULL) {
        return SL_CONF_ERROR;
    }
    *s = *arg1(cf);
    return run_post(cf, cmd, s);
}

char *sl_conf_set_keyval_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_array_t *a = field_array(cf, FIELD(sl_array_t *, conf, cmd), sizeof(sl_keyval_t));
    sl_keyval_t *kv = a ? sl_array_push(a) : NULL;
    sl_str_t *value = cf->args->elts;

    if (kv == NULL) {
        return SL_CONF_ERROR;
    }
    kv->key = value[1];
    kv->value = value[2];
    return run_post(cf, cmd, kv);
}

char *sl_conf_set_num_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_int_t *np = FIELD(sl_int_t, conf, cmd);
    sl_str_t *value = arg1(cf);

    if (*np != SL_CONF_UNSET) {
        return "is duplicate";
    }
    *np = sl_atoi(value->data, value->len);
    if (*np == SL_ERROR) {
        return "invalid number";
    }
    return run_post(cf, cmd, np);
}

char *sl_conf_set_size_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    size_t *sp = FIELD(size_t, conf, cmd);

    if (*sp != SL_CONF_UNSET_SIZE) {
        return "is duplicate";
    }
    *sp = (size_t) sl_parse_size(arg1(cf));
    if (*sp == (size_t) SL_ERROR) {
        return "invalid value";
    }
    return run_post(cf, cmd, sp);
}

char *sl_conf_set_off_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    off_t *op = FIELD(off_t, conf, cmd);

    if (*op != SL_CONF_UNSET) {
        return "is duplicate";
    }
    *op = sl_parse_offset(arg1(cf));
    if (*op == (off_t) SL_ERROR) {
        return "invalid value";
    }
    return run_post(cf, cmd, op);
}

char *sl_conf_set_msec_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_msec_t *msp = FIELD(sl_msec_t, conf, cmd);

    if (*msp != SL_CONF_UNSET_MSEC) {
        return "is duplicate";
    }
    *msp = (sl_msec_t) sl_parse_time(arg1(cf), 0);
    if (*msp == (sl_msec_t) SL_ERROR) {
        return "invalid value";
    }
    return run_post(cf, cmd, msp);
}

char *sl_conf_set_sec_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    time_t *sp = FIELD(time_t, conf, cmd);

    if (*sp != SL_CONF_UNSET) {
        return "is duplicate";
    }
    *sp = (time_t) sl_parse_time(arg1(cf), 1);
    if (*sp == (time_t) SL_ERROR) {
        return "invalid value";
    }
    return run_post(cf, cmd, sp);
}

char *sl_conf_set_bufs_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_bufs_t *bufs = FIELD(sl_bufs_t, conf, cmd);
    sl_str_t *value = cf->args->elts;

    if (bufs->num) {
        return "is duplicate";
    }
    bufs->num = sl_atoi(value[1].data, value[1].len);
    if (bufs->num == SL_ERROR || bufs->num == 0) {
        return "invalid value";
    }
    ssize_t size = sl_parse_size(&value[2]);
    if (size == SL_ERROR || size == 0) {
        return "invalid value";
    }
    bufs->size = (size_t) size;
    return SL_CONF_OK;
}

char *sl_conf_set_enum_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_uint_t *np = FIELD(sl_uint_t, conf, cmd);
    sl_str_t *value = arg1(cf);

    if (*np != SL_CONF_UNSET_UINT) {
        return "is duplicate";
    }
    for (sl_conf_enum_t *e = cmd->post; e->name.len; e++) {
        if (sl_str_caseeq(&e->name, value)) {
            *np = e->value;
            return SL_CONF_OK;
        }
    }
    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid value \"%s\"", (const char *) value->data);
    return SL_CONF_ERROR;
}

/* Every argument names a bit; a repeated one is only a warning, as in nginx. */
char *sl_conf_set_bitmask_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_uint_t *np = FIELD(sl_uint_t, conf, cmd);
    sl_str_t *value = cf->args->elts;

    for (sl_uint_t i = 1; i < cf->args->nelts; i++) {
        sl_conf_bitmask_t *m = cmd->post;

        while (m->name.len && !sl_str_caseeq(&m->name, &value[i])) {
            m++;
        }
        if (m->name.len == 0) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid value \"%s\"",
                              (const char *) value[i].data);
            return SL_CONF_ERROR;
        }
        if (*np & m->mask) {
            sl_conf_log_error(SL_LOG_WARN, cf, 0, "duplicate value \"%s\"",
                              (const char *) value[i].data);
        } else {
            *np |= m->mask;
        }
    }
    return SL_CONF_OK;
}

char *sl_conf_check_num_bounds(sl_conf_t *cf, void *post, void *data)
{
    sl_conf_num_bounds_t *bounds = post;
    sl_int_t *np = data;

    /* high -1 means no upper bound. */
    if (bounds->high == -1) {
        if (*np >= bounds->low) {
            return SL_CONF_OK;
        }
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "value must be equal to or greater than %ld",
                          (long) bounds->low);
        return SL_CONF_ERROR;
    }
    if (*np >= bounds->low && *np <= bounds->high) {
        return SL_CONF_OK;
    }
    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "value must be between %ld and %ld", (long) bounds->low,
                      (long) bounds->high);
    return SL_CONF_ERROR;
}
