/*
 * sl_http_filter_types.c: MIME type lists for filters; see sl_http_filter_types.h.
 *
 * Lists are short (a handful of types), so a lowercase linear scan is what a hash would
 * cost here, without the hash's configuration.
 */
#include "sl_http_filter_types.h"
#include "sl_http_request.h"
#include "sl_pool.h"

static sl_http_filter_types_t *types_create(sl_pool_t *pool)
{
    sl_http_filter_types_t *t = sl_pcalloc(pool, sizeof(sl_http_filter_types_t));

    if (t == NULL || sl_array_init(&t->types, pool, 4, sizeof(sl_str_t)) != SL_OK) {
        return NULL;
    }
    return t;
}

static int types_has(const sl_http_filter_types_t *t, const u_char *type, size_t len)
{
    const sl_str_t *s = t->types.elts;

    for (sl_uint_t i = 0; i < t->types.nelts; i++) {
        if (s[i].len == len && sl_strncasecmp(s[i].data, type, len) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Adds one type; a repeated one is warned about and kept once, as nginx. */
static sl_int_t types_add(sl_conf_t *cf, sl_http_filter_types_t *t, const sl_str_t *value)
{
    if (value->len == 1 && value->data[0] == '*') {
        t->any = 1;
        return SL_OK;
    }
    if (types_has(t, value->data, value->len)) {
        sl_conf_log_error(SL_LOG_WARN, cf, 0, "duplicate MIME type \"%.*s\"", SL_STR_ARG(*value));
        return SL_OK;
    }
    sl_str_t *s = sl_array_push(&t->types);
    u_char *p = s ? sl_pnalloc(cf->pool, value->len) : NULL;
    if (p == NULL) {
        return SL_ERROR;
    }
    sl_strlow(p, value->data, value->len);
    s->data = p;
    s->len = value->len;
    return SL_OK;
}

char *sl_http_filter_types_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_http_filter_types_t **field = (sl_http_filter_types_t **) ((char *) conf + cmd->offset);
    sl_str_t *value = cf->args->elts;

    /* as nginx, the directive may be repeated: the lists add up */
    if (*field == SL_CONF_UNSET_PTR) {
        *field = types_create(cf->pool);
        /* text/html is in every such list (cmd->post says so) */
        sl_str_t html = sl_string("text/html");
        if (*field == NULL || (cmd->post && types_add(cf, *field, &html) != SL_OK)) {
            return SL_CONF_ERROR;
        }
    }
    for (sl_uint_t i = 1; i < cf->args->nelts; i++) {
        if (types_add(cf, *field, &value[i]) != SL_OK) {
            return SL_CONF_ERROR;
        }
    }
    return SL_CONF_OK;
}

const char sl_http_filter_types_html[] = "text/html";

char *sl_http_filter_types_merge(sl_conf_t *cf, sl_http_filter_types_t **conf,
                                 sl_http_filter_types_t **prev, const char *const *defaults)
{
    if (*conf != SL_CONF_UNSET_PTR) {
        return SL_CONF_OK;
    }
    if (*prev == SL_CONF_UNSET_PTR) {
        /* the parent level gets the defaults too, so its other children share them */
        *prev = types_create(cf->pool);
        if (*prev == NULL) {
            return SL_CONF_ERROR;
        }
        for (sl_uint_t i = 0; defaults[i]; i++) {
            sl_str_t s = { strlen(defaults[i]), (u_char *) defaults[i] };
            if (types_add(cf, *prev, &s) != SL_OK) {
                return SL_CONF_ERROR;
            }
        }
    }
    *conf = *prev;
    return SL_CONF_OK;
}

int sl_http_filter_types_test(sl_http_request_t *r, const sl_http_filter_types_t *types)
{
    const sl_str_t *ct = &r->headers_out.content_type;

    /* as nginx, "*" matches even a response without a type */
    if (types->any) {
        return 1;
    }
    if (ct->len == 0) {
        return 0;
    }
    size_t len = r->headers_out.content_type_len;
    return types_has(types, ct->data, len);
}
