/*
 * sl_http_stub_status_module.c: stub_status and $connections_active, $connections_reading,
 * $connections_writing, $connections_waiting, as nginx 1.22.  The page is nginx's text,
 * byte for byte, from the counters every worker keeps in shared memory (sl_http_stat.h):
 *
 *   Active connections: 2
 *   server accepts handled requests
 *    10 10 25
 *   Reading: 0 Writing: 1 Waiting: 1
 *
 * (each line but the second ends with a space before its newline).  Waiting is the active
 * connections neither reading a request header nor processing a request: idle keepalive.
 */
#include "sl_http_output.h"
#include "sl_http_parse.h"
#include "sl_http_request.h"
#include "sl_http_stat.h"
#include "sl_http_variables.h"
#include "sl_pool.h"

static sl_int_t add_variables(sl_conf_t *cf);
static char *set_stub_status(sl_conf_t *cf, sl_command_t *cmd, void *conf);

// clang-format off
static sl_command_t stub_status_commands[] = {
    { sl_string("stub_status"), SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF | SL_CONF_NOARGS | SL_CONF_TAKE1,
      set_stub_status, 0, 0, NULL },
    sl_null_command,
};
// clang-format on

static sl_http_module_t stub_status_module_ctx = {
    add_variables, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
};

sl_module_t sl_http_stub_status_module = {
    "http_stub_status",   0,    0,    SL_HTTP_MODULE, &stub_status_module_ctx,
    stub_status_commands, NULL, NULL, NULL,
};

enum { STAT_ACTIVE, STAT_READING, STAT_WRITING, STAT_WAITING };

static int64_t stat_value(uintptr_t which)
{
    int64_t active = sl_http_stat_get(&sl_http_stat->active);
    int64_t reading = sl_http_stat_get(&sl_http_stat->reading);
    int64_t writing = sl_http_stat_get(&sl_http_stat->writing);

    switch (which) {
    case STAT_ACTIVE:
        return active;
    case STAT_READING:
        return reading;
    case STAT_WRITING:
        return writing;
    default:
        return active - (reading + writing);
    }
}

static sl_int_t stub_status_handler(sl_http_request_t *r)
{
    static sl_str_t text_plain = sl_string("text/plain");

    if (!(r->method & (SL_HTTP_GET | SL_HTTP_HEAD))) {
        return SL_HTTP_NOT_ALLOWED;
    }
    sl_int_t rc = sl_http_discard_request_body(r);
    if (rc != SL_OK) {
        return rc;
    }
    sl_http_set_content_type(r, &text_plain);
    if (r->method == SL_HTTP_HEAD) {
        r->headers_out.status = SL_HTTP_OK;
        return sl_http_send_header(r);
    }
    size_t cap = sizeof("Active connections:  \n") + sizeof("server accepts handled requests\n")
                 + sizeof("    \n") + sizeof("Reading:  Writing:  Waiting:  \n") + 7 * SL_INT64_LEN;
    u_char *text = sl_pnalloc(r->pool, cap), *p = text;
    if (text == NULL) {
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
#define PUT(s) (p = (u_char *) memcpy(p, s, sizeof(s) - 1) + sizeof(s) - 1)
    PUT("Active connections: ");
    p = sl_sprint_int(p, stat_value(STAT_ACTIVE));
    PUT(" \nserver accepts handled requests\n ");
    p = sl_sprint_int(p, sl_http_stat_get(&sl_http_stat->accepted));
    PUT(" ");
    p = sl_sprint_int(p, sl_http_stat_get(&sl_http_stat->handled));
    PUT(" ");
    p = sl_sprint_int(p, sl_http_stat_get(&sl_http_stat->requests));
    PUT(" \nReading: ");
    p = sl_sprint_int(p, stat_value(STAT_READING));
    PUT(" Writing: ");
    p = sl_sprint_int(p, stat_value(STAT_WRITING));
    PUT(" Waiting: ");
    p = sl_sprint_int(p, stat_value(STAT_WAITING));
    PUT(" \n");
#undef PUT
    sl_str_t body = { (size_t) (p - text), text };
    return sl_http_send_response(r, SL_HTTP_OK, NULL, &body);
}

static sl_int_t var_stat(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    u_char *p = sl_pnalloc(r->pool, SL_INT64_LEN);

    if (p == NULL) {
        return SL_ERROR;
    }
    v->data = p;
    v->len = (unsigned) (sl_sprint_int(p, stat_value(data)) - p);
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return SL_OK;
}

static sl_int_t add_variables(sl_conf_t *cf)
{
    static const char *names[] = { "connections_active", "connections_reading",
                                   "connections_writing", "connections_waiting" };

    /* the counters exist whenever the module is built, as nginx's */
    if (sl_http_stat_init(cf->log) != SL_OK) {
        return SL_ERROR;
    }
    for (uintptr_t i = 0; i < sl_nelems(names); i++) {
        sl_str_t name = { strlen(names[i]), (u_char *) names[i] };
        sl_http_variable_t *var = sl_http_add_variable(cf, &name, SL_HTTP_VAR_NOCACHEABLE);
        if (var == NULL) {
            return SL_ERROR;
        }
        var->get_handler = var_stat;
        var->data = i;
    }
    return SL_OK;
}

/* stub_status [any word, as nginx's old "stub_status on"] */
static char *set_stub_status(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_http_core_loc_conf_t *clcf = sl_http_conf_get_module_loc_conf(cf, sl_http_core_module);

    clcf->handler = stub_status_handler;
    (void) cmd;
    (void) conf;
    return SL_CONF_OK;
}
