/*
 * sl_http_expires_filter_module.c: "expires [modified] time | epoch | max | off;", nginx's
 * Expires and Cache-Control on successful and redirect responses of the main request
 * (200, 201, 204, 206, 301, 302, 303, 304, 307, 308):
 *
 *   epoch      Expires: Thu, 01 Jan 1970 00:00:01 GMT     Cache-Control: no-cache
 *   max        Expires: Thu, 31 Dec 2037 23:55:55 GMT     Cache-Control: max-age=315360000
 *   0          Expires: now                               Cache-Control: max-age=0
 *   time       Expires: now + time                        Cache-Control: max-age=time
 *   modified t Expires: the file's mtime + t              Cache-Control: max-age=(that - now)
 *   @15h30m    Expires: the next 15:30 (local time)       Cache-Control: max-age=(that - now)
 *
 * A negative time (or a time already past) gives "Cache-Control: no-cache".  The first
 * Expires and Cache-Control lines already there (an upstream's) are rewritten in place and
 * further Cache-Control lines dropped, as nginx.  The value may hold variables: it is then
 * parsed per request, and a value that does not parse sets nothing.  Runs just before
 * add_header's filter, so the lines come before add_header's, as in nginx's one filter.
 */
#include <stdio.h>

#include "sl_http_output.h"
#include "sl_http_variables.h"
#include "sl_pool.h"
#include "sl_time.h"

typedef enum {
    EXPIRES_UNSET = 0,
    EXPIRES_OFF,
    EXPIRES_EPOCH,
    EXPIRES_MAX,
    EXPIRES_ACCESS,
    EXPIRES_MODIFIED,
    EXPIRES_DAILY,
} expires_e;

typedef struct {
    expires_e expires;
    /** seconds (negative allowed), or the time of day for EXPIRES_DAILY */
    time_t time;
    /** the value with variables, parsed per request; NULL for a plain one */
    sl_http_complex_value_t *value;
} expires_conf_t;

static void *create_loc_conf(sl_conf_t *cf);
static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child);
static sl_int_t postconfiguration(sl_conf_t *cf);
static char *set_expires(sl_conf_t *cf, sl_command_t *cmd, void *conf);

static sl_command_t expires_commands[] = {
    { sl_string("expires"),
      SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF | SL_HTTP_LIF_CONF | SL_CONF_TAKE12,
      set_expires, SL_HTTP_LOC_CONF_OFFSET, 0, NULL },
    sl_null_command,
};

static sl_http_module_t expires_module_ctx = {
    NULL, postconfiguration, NULL, NULL, NULL, NULL, create_loc_conf, merge_loc_conf,
};

sl_module_t sl_http_expires_filter_module = {
    "http_expires_filter", 0,    0,    SL_HTTP_MODULE, &expires_module_ctx,
    expires_commands,      NULL, NULL, NULL,
};

static sl_http_output_header_filter_pt next_header_filter;

static void *create_loc_conf(sl_conf_t *cf)
{
    /* EXPIRES_UNSET is 0 */
    return sl_pcalloc(cf->pool, sizeof(expires_conf_t));
}

static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child)
{
    expires_conf_t *prev = parent, *conf = child;

    if (conf->expires == EXPIRES_UNSET) {
        conf->expires = prev->expires;
        conf->time = prev->time;
        conf->value = prev->value;
        if (conf->expires == EXPIRES_UNSET) {
            conf->expires = EXPIRES_OFF;
        }
    }
    return SL_CONF_OK;
}

/*
 * nginx's ngx_http_parse_expires(): *expires is EXPIRES_ACCESS or EXPIRES_MODIFIED on entry
 * and may become EPOCH, MAX, OFF or DAILY.  SL_OK, or SL_ERROR with *err set.
 */
static sl_int_t parse_expires(sl_str_t value, expires_e *expires, time_t *time, const char **err)
{
    int minus = 0;

    if (*expires != EXPIRES_MODIFIED) {
        if (sl_str_eq_cstr(&value, "epoch")) {
            *expires = EXPIRES_EPOCH;
            return SL_OK;
        }
        if (sl_str_eq_cstr(&value, "max")) {
            *expires = EXPIRES_MAX;
            return SL_OK;
        }
        if (sl_str_eq_cstr(&value, "off")) {
            *expires = EXPIRES_OFF;
            return SL_OK;
        }
    }
    if (value.len && value.data[0] == '@') {
        if (*expires == EXPIRES_MODIFIED) {
            *err = "daily time cannot be used with \"modified\" parameter";
            return SL_ERROR;
        }
        *expires = EXPIRES_DAILY;
    } else if (value.len && value.data[0] == '-') {
        minus = 1;
    }
    if (value.len && (value.data[0] == '@' || value.data[0] == '+' || value.data[0] == '-')) {
        value.data++;
        value.len--;
    }
    sl_int_t t = sl_parse_time(&value, 1);
    if (t == SL_ERROR) {
        *err = "invalid value";
        return SL_ERROR;
    }
    if (*expires == EXPIRES_DAILY && t > 24 * 60 * 60) {
        *err = "daily time value must be less than 24 hours";
        return SL_ERROR;
    }
    *time = minus ? -(time_t) t : (time_t) t;
    return SL_OK;
}

/* The next moment the local clock shows that time of day (nginx's ngx_next_time()). */
static time_t next_time(time_t when)
{
    time_t now = sl_cached_time_sec;
    struct tm tm;

    localtime_r(&now, &tm);
    tm.tm_hour = (int) (when / 3600);
    when %= 3600;
    tm.tm_min = (int) (when / 60);
    tm.tm_sec = (int) (when % 60);
    time_t next = mktime(&tm);
    if (next == -1 || next - now > 0) {
        return next;
    }
    tm.tm_mday++;
    return mktime(&tm);
}

static int same_name(const sl_table_elt_t *h, const char *name)
{
    size_t len = strlen(name);

    return h->hash && h->key.len == len
           && sl_strncasecmp(h->key.data, (const u_char *) name, len) == 0;
}

/* The response's first line called name (the others dropped when drop_others), or a new one. */
static sl_table_elt_t *header_line(sl_http_request_t *r, const char *name, int drop_others)
{
    sl_table_elt_t *found = NULL;

    SL_LIST_FOREACH(&r->headers_out.headers, part, i, sl_table_elt_t, h)
    {
        if (!same_name(h, name)) {
            continue;
        }
        if (found == NULL) {
            found = h;
            if (!drop_others) {
                return found;
            }
        } else {
            h->hash = 0;
        }
    }
    return found ? found : sl_http_add_response_header(r, name, NULL, 0);
}

/* Expires and max-age for a time (not epoch or max).  SL_OK or SL_ERROR. */
static sl_int_t set_times(sl_http_request_t *r, expires_conf_t *conf, expires_e expires, time_t t,
                          sl_table_elt_t *e, sl_table_elt_t *cc)
{
    /* room for any year snprintf may write; nginx's dates fit in 30 bytes */
    static const size_t len = 64;
    time_t now = sl_cached_time_sec, max_age;

    e->value.data = sl_pnalloc(r->pool, len);
    cc->value.data = sl_pnalloc(r->pool, sizeof("max-age=-9223372036854775808"));
    if (e->value.data == NULL || cc->value.data == NULL) {
        return SL_ERROR;
    }
    if (t == 0 && expires != EXPIRES_DAILY) {
        e->value.len = strlen((const char *) sl_cached_http_time());
        memcpy(e->value.data, sl_cached_http_time(), e->value.len);
        sl_str_set(&cc->value, "max-age=0");
        return SL_OK;
    }
    if (expires == EXPIRES_DAILY) {
        t = next_time(t);
        max_age = t - now;
    } else if (expires == EXPIRES_ACCESS || r->headers_out.last_modified_time == -1) {
        max_age = t;
        t += now;
    } else {
        t += r->headers_out.last_modified_time;
        max_age = t - now;
    }
    sl_http_time(t, e->value.data, len);
    e->value.len = strlen((const char *) e->value.data);
    /* nginx looks at the configured time here, not the one a variable gave */
    if (conf->time < 0 || max_age < 0) {
        sl_str_set(&cc->value, "no-cache");
        return SL_OK;
    }
    cc->value.len =
        (size_t) snprintf((char *) cc->value.data, sizeof("max-age=-9223372036854775808"),
                          "max-age=%lld", (long long) max_age);
    return SL_OK;
}

static sl_int_t set_expires_headers(sl_http_request_t *r, expires_conf_t *conf)
{
    expires_e expires = conf->expires;
    time_t t = conf->time;

    if (conf->value) {
        sl_str_t value;
        const char *err;

        if (sl_http_complex_value(r, conf->value, &value) != SL_OK) {
            return SL_ERROR;
        }
        if (parse_expires(value, &expires, &t, &err) != SL_OK || expires == EXPIRES_OFF) {
            return SL_OK;
        }
    }
    sl_table_elt_t *e = header_line(r, "Expires", 0);
    sl_table_elt_t *cc = header_line(r, "Cache-Control", 1);
    if (e == NULL || cc == NULL) {
        return SL_ERROR;
    }
    r->headers_out.expires = e;
    if (expires == EXPIRES_EPOCH) {
        sl_str_set(&e->value, "Thu, 01 Jan 1970 00:00:01 GMT");
        sl_str_set(&cc->value, "no-cache");
        return SL_OK;
    }
    if (expires == EXPIRES_MAX) {
        sl_str_set(&e->value, "Thu, 31 Dec 2037 23:55:55 GMT");
        /* 10 years */
        sl_str_set(&cc->value, "max-age=315360000");
        return SL_OK;
    }
    return set_times(r, conf, expires, t, e, cc);
}

/* The statuses nginx sets Expires on (add_header's without "always"). */
static int status_allows(sl_uint_t status)
{
    switch (status) {
    case 200:
    case 201:
    case 204:
    case 206:
    case 301:
    case 302:
    case 303:
    case 304:
    case 307:
    case 308:
        return 1;
    default:
        return 0;
    }
}

static sl_int_t expires_filter(sl_http_request_t *r)
{
    expires_conf_t *conf = sl_http_get_module_loc_conf(r, sl_http_expires_filter_module);

    if (r == r->main && conf->expires != EXPIRES_OFF && status_allows(r->headers_out.status)
        && set_expires_headers(r, conf) != SL_OK) {
        return SL_ERROR;
    }
    return next_header_filter(r);
}

static sl_int_t postconfiguration(sl_conf_t *cf)
{
    next_header_filter = sl_http_top_header_filter;
    sl_http_top_header_filter = expires_filter;
    return SL_OK;
}

static char *set_expires(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    expires_conf_t *ecf = conf;
    sl_str_t *value = cf->args->elts;
    sl_uint_t n = 1;
    const char *err = NULL;

    if (ecf->expires != EXPIRES_UNSET) {
        return "is duplicate";
    }
    ecf->expires = EXPIRES_ACCESS;
    if (cf->args->nelts == 3) {
        if (!sl_str_eq_cstr(&value[1], "modified")) {
            return "invalid value";
        }
        ecf->expires = EXPIRES_MODIFIED;
        n = 2;
    }
    if (memchr(value[n].data, '$', value[n].len)) {
        ecf->value = sl_pcalloc(cf->pool, sizeof(sl_http_complex_value_t));
        if (ecf->value == NULL || sl_http_compile_value(cf, &value[n], ecf->value) != SL_OK) {
            return SL_CONF_ERROR;
        }
        return SL_CONF_OK;
    }
    if (parse_expires(value[n], &ecf->expires, &ecf->time, &err) != SL_OK) {
        return (char *) err;
    }
    return SL_CONF_OK;
}
