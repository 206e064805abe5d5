/*
 * sl_http_cache_valid.c: how long a response may be served from the cache, from what its
 * headers say (pure functions of the header values; the upstream side applies them in
 * nginx's order: X-Accel-Expires, Cache-Control, Expires, proxy_cache_valid).
 */
#include "sl_http_cache.h"

time_t sl_http_cache_valid_for(const sl_array_t *valid, sl_uint_t status)
{
    if (valid == NULL) {
        return 0;
    }
    const sl_http_cache_valid_t *v = valid->elts;
    for (sl_uint_t i = 0; i < valid->nelts; i++) {
        if (v[i].status == 0 || v[i].status == status) {
            return v[i].valid;
        }
    }
    return 0;
}

/* The digits after name= at p (a directive of the list), -1 when there are none. */
static sl_int_t directive_number(const u_char *p, const u_char *last)
{
    const u_char *start = p;

    while (p < last && *p >= '0' && *p <= '9') {
        p++;
    }
    if (p == start || (p < last && *p != ',' && *p != ' ' && *p != ';' && *p != '\t')) {
        return -1;
    }
    return sl_atoi(start, (size_t) (p - start));
}

/* Where the directive name (case-insensitive, followed by '=' when it takes a value) starts
 * a list element in v, or NULL. */
static const u_char *find_directive(const sl_str_t *v, const char *name)
{
    size_t n = strlen(name);
    const u_char *p = v->data, *last = v->data + v->len;

    while (p + n <= last) {
        int at_start = p == v->data || p[-1] == ',' || p[-1] == ' ' || p[-1] == '\t';
        if (at_start && sl_strncasecmp(p, (const u_char *) name, n) == 0) {
            const u_char *after = p + n;
            if (name[n - 1] == '=' || after == last || *after == ',' || *after == ' '
                || *after == ';' || *after == '\t') {
                return after;
            }
        }
        p++;
    }
    return NULL;
}

void sl_http_cache_control_parse(const sl_str_t *v, sl_http_cache_control_t *cc)
{
    const u_char *last = v->data + v->len, *p;

    if (find_directive(v, "no-cache") || find_directive(v, "no-store")
        || find_directive(v, "private")) {
        cc->no_store = 1;
    }
    if ((p = find_directive(v, "s-maxage=")) != NULL) {
        /* the shared cache's own: it wins over max-age, in any header */
        cc->max_age = directive_number(p, last);
        cc->s_maxage = 1;
    } else if (!cc->s_maxage && (p = find_directive(v, "max-age=")) != NULL) {
        cc->max_age = directive_number(p, last);
    }
    if ((p = find_directive(v, "stale-while-revalidate=")) != NULL) {
        cc->stale_while_revalidate = directive_number(p, last);
    }
    if ((p = find_directive(v, "stale-if-error=")) != NULL) {
        cc->stale_if_error = directive_number(p, last);
    }
}

time_t sl_http_cache_x_accel_expires(const sl_str_t *v, time_t now)
{
    if (v->len == 0) {
        return -1;
    }
    int absolute = v->data[0] == '@';
    sl_int_t n = sl_atoi(v->data + absolute, v->len - absolute);
    if (n == SL_ERROR) {
        return -1;
    }
    if (absolute) {
        return (time_t) n;
    }
    return n == 0 ? 0 : now + (time_t) n;
}
