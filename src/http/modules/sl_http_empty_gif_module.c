/*
 * sl_http_empty_gif_module.c: "empty_gif;", a location that answers with the smallest
 * transparent GIF (1x1, 43 bytes), as nginx's empty_gif: GET and HEAD only (405 otherwise),
 * image/gif, the same fixed Last-Modified (so If-Modified-Since gets its 304).
 */
#include "sl_http.h"
#include "sl_http_request.h"

/* A 1x1 GIF89a whose only colour is transparent. */
static u_char empty_gif[] = {
    'G',  'I',  'F',  '8',  '9',  'a',  0x01, 0x00, 0x01, 0x00, 0x80, 0x01, 0x00, 0x00, 0x00,
    0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x01, 0x00, 0x2c, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x4c, 0x01, 0x00, 0x3b,
};

/* nginx's fixed modification time for it (1970-09-28 06:00:00 GMT) */
#define EMPTY_GIF_MTIME 23349600

static char *set_empty_gif(sl_conf_t *cf, sl_command_t *cmd, void *conf);

static sl_command_t empty_gif_commands[] = {
    { sl_string("empty_gif"), SL_HTTP_LOC_CONF | SL_CONF_NOARGS, set_empty_gif,
      SL_HTTP_LOC_CONF_OFFSET, 0, NULL },
    sl_null_command,
};

static sl_http_module_t empty_gif_module_ctx = {
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
};

sl_module_t sl_http_empty_gif_module = {
    "http_empty_gif",   0,    0,    SL_HTTP_MODULE, &empty_gif_module_ctx,
    empty_gif_commands, NULL, NULL, NULL,
};

static sl_int_t empty_gif_handler(sl_http_request_t *r)
{
    static sl_str_t type = sl_string("image/gif");
    sl_str_t body = { sizeof(empty_gif), empty_gif };

    if (!(r->method & (SL_HTTP_GET | SL_HTTP_HEAD))) {
        return SL_HTTP_NOT_ALLOWED;
    }
    sl_int_t rc = sl_http_discard_request_body(r);
    if (rc != SL_OK) {
        return rc;
    }
    r->headers_out.last_modified_time = EMPTY_GIF_MTIME;
    return sl_http_send_response(r, SL_HTTP_OK, &type, &body);
}

static char *set_empty_gif(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_http_core_loc_conf_t *clcf = sl_http_conf_get_module_loc_conf(cf, sl_http_core_module);

    (void) cmd;
    (void) conf;
    clcf->handler = empty_gif_handler;
    return SL_CONF_OK;
}
