/*
 * sl_http_userid_filter_module.c: the userid cookie, as nginx 1.22's userid filter:
 * "userid on|v1|log|off" and userid_service, _name, _domain, _path, _expires, _flags,
 * _p3p, _mark; $uid_got, $uid_set, $uid_reset.
 *
 * An identifier is four 32-bit words: the service (the server's IPv4 address, or
 * userid_service), the time, a per-process start value and a sequence number.  The cookie
 * carries them in base64 (22 characters and "==", the last "=" but one replaced by the mark
 * when userid_mark is set); the variables print them as "name=" and four words in hex.  A
 * request whose cookie decodes is not given a new one, unless its mark differs (the same
 * identifier is sent again, marked) or $uid_reset is set to something other than "" and "0"
 * ("log" also logs the identifier replaced).  With "v1" the words are kept in host byte
 * order, as nginx's first format; "on" writes them in network order.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <time.h>

#include "sl_http.h"
#include "sl_http_output.h"
#include "sl_http_variables.h"
#include "sl_pool.h"

#define USERID_OFF 0
#define USERID_LOG 1
#define USERID_V1 2
#define USERID_ON 3

#define MAX_EXPIRES 2145916555

#define FLAG_SECURE 0x02
#define FLAG_HTTPONLY 0x04
#define FLAG_SAMESITE_STRICT 0x08
#define FLAG_SAMESITE_LAX 0x10
#define FLAG_SAMESITE_NONE 0x20
#define FLAGS_OFF 0x01

typedef struct {
    sl_uint_t enable;
    sl_uint_t flags;
    sl_int_t service;
    sl_str_t name;
    /** "; domain=x", empty for none */
    sl_str_t domain;
    /** "; path=x" */
    sl_str_t path;
    sl_str_t p3p;
    time_t expires;
    sl_int_t mark;
    /** "cookie_NAME" and its hash: the cookie is read through that variable */
    sl_str_t cookie_var;
    sl_uint_t cookie_key;
} userid_conf_t;

typedef struct {
    uint32_t uid_got[4];
    uint32_t uid_set[4];
    sl_str_t cookie;
    unsigned reset : 1;
} userid_ctx_t;

static sl_int_t reset_index = -1;
static uint32_t start_value;
static uint32_t sequencer_v1 = 1;
static uint32_t sequencer_v2 = 0x03030302;

static void *create_loc_conf(sl_conf_t *cf);
static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child);
static sl_int_t preconfiguration(sl_conf_t *cf);
static sl_int_t postconfiguration(sl_conf_t *cf);
static char *set_enable(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *set_prefixed(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *set_expires(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *set_p3p(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *set_mark(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *set_flags(sl_conf_t *cf, sl_command_t *cmd, void *conf);

#define CTX (SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF)
#define LOC SL_HTTP_LOC_CONF_OFFSET
#define OFF(f) offsetof(userid_conf_t, f)

// clang-format off
static sl_command_t userid_commands[] = {
    { sl_string("userid"), CTX | SL_CONF_TAKE1, set_enable, LOC, OFF(enable), NULL },
    { sl_string("userid_service"), CTX | SL_CONF_TAKE1, sl_conf_set_num_slot, LOC, OFF(service), NULL },
    { sl_string("userid_name"), CTX | SL_CONF_TAKE1, sl_conf_set_str_slot, LOC, OFF(name), NULL },
    { sl_string("userid_domain"), CTX | SL_CONF_TAKE1, set_prefixed, LOC, OFF(domain), "; domain=" },
    { sl_string("userid_path"), CTX | SL_CONF_TAKE1, set_prefixed, LOC, OFF(path), "; path=" },
    { sl_string("userid_expires"), CTX | SL_CONF_TAKE1, set_expires, LOC, OFF(expires), NULL },
    { sl_string("userid_flags"), CTX | SL_CONF_1MORE, set_flags, LOC, OFF(flags), NULL },
    { sl_string("userid_p3p"), CTX | SL_CONF_TAKE1, set_p3p, LOC, OFF(p3p), NULL },
    { sl_string("userid_mark"), CTX | SL_CONF_TAKE1, set_mark, LOC, OFF(mark), NULL },
    sl_null_command,
};
// clang-format on

static sl_http_module_t userid_module_ctx = {
    preconfiguration, postconfiguration, NULL, NULL, NULL, NULL, create_loc_conf, merge_loc_conf,
};

static sl_int_t init_process(sl_cycle_t *cycle);

sl_module_t sl_http_userid_filter_module = {
    "http_userid_filter", 0,    0, SL_HTTP_MODULE, &userid_module_ctx, userid_commands, NULL,
    init_process,         NULL,
};

static sl_http_output_header_filter_pt next_header_filter;

/* ---- the identifier ---- */

static int base64_value(u_char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* 22 base64 characters into 16 bytes.  0 when one is not base64. */
static int decode_uid(const u_char *src, uint32_t uid[4])
{
    u_char out[18];
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;

    for (size_t i = 0; i < 22; i++) {
        int d = base64_value(src[i]);
        if (d < 0) {
            return 0;
        }
        acc = acc << 6 | (uint32_t) d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (u_char) (acc >> bits);
        }
    }
    memcpy(uid, out, 16);
    return 1;
}

/* The request's state, reading the cookie the first time. */
static userid_ctx_t *get_uid(sl_http_request_t *r, userid_conf_t *conf)
{
    userid_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_userid_filter_module);

    if (ctx) {
        return ctx;
    }
    ctx = sl_pcalloc(r->pool, sizeof(userid_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }
    sl_http_set_ctx(r, ctx, sl_http_userid_filter_module);
    sl_http_variable_value_t *v = sl_http_get_variable(r, &conf->cookie_var, conf->cookie_key);
    if (v == NULL || v->not_found) {
        return ctx;
    }
    ctx->cookie.data = v->data;
    ctx->cookie.len = v->len;
    if (ctx->cookie.len < 22) {
        sl_log_error(SL_LOG_INFO, r->connection->log, 0,
                     "client sent too short userid cookie \"%.*s=%.*s\"", SL_STR_ARG(conf->name),
                     SL_STR_ARG(ctx->cookie));
        return ctx;
    }
    if (!decode_uid(ctx->cookie.data, ctx->uid_got)) {
        sl_log_error(SL_LOG_INFO, r->connection->log, 0,
                     "client sent invalid userid cookie \"%.*s=%.*s\"", SL_STR_ARG(conf->name),
                     SL_STR_ARG(ctx->cookie));
        memset(ctx->uid_got, 0, sizeof(ctx->uid_got));
    }
    return ctx;
}

/* The first word of a new identifier under "on": the address the client reached. */
static sl_int_t service_word(sl_http_request_t *r, userid_conf_t *conf, uint32_t *word)
{
    sl_connection_t *c = r->connection;

    if (conf->service != SL_CONF_UNSET) {
        *word = htonl((uint32_t) conf->service);
        return SL_OK;
    }
    if (sl_conn_local_sockaddr(c) != SL_OK) {
        return SL_ERROR;
    }
    switch (c->local_sockaddr.sa.sa_family) {
    case AF_INET6:
        memcpy(word, &c->local_sockaddr.sin6.sin6_addr.s6_addr[12], 4);
        break;
    case AF_INET:
        *word = c->local_sockaddr.sin.sin_addr.s_addr;
        break;
    default:
        *word = 0;
    }
    return SL_OK;
}

/* Whether the cookie already carries the configured mark. */
static int marked(userid_ctx_t *ctx, userid_conf_t *conf)
{
    return conf->mark == 0
           || (ctx->cookie.len > 23 && ctx->cookie.data[22] == conf->mark
               && ctx->cookie.data[23] == '=');
}

/* Fills ctx->uid_set when the response is to set a cookie.  SL_OK or SL_ERROR. */
static sl_int_t create_uid(sl_http_request_t *r, userid_ctx_t *ctx, userid_conf_t *conf)
{
    if (ctx->uid_set[3] != 0) {
        return SL_OK;
    }
    if (ctx->uid_got[3] != 0) {
        sl_http_variable_value_t *vv = sl_http_get_indexed_variable(r, (sl_uint_t) reset_index);
        if (vv == NULL) {
            return SL_ERROR;
        }
        if (vv->not_found || vv->len == 0 || (vv->len == 1 && vv->data[0] == '0')) {
            if (!marked(ctx, conf)) {
                memcpy(ctx->uid_set, ctx->uid_got, sizeof(ctx->uid_set));
            }
            return SL_OK;
        }
        ctx->reset = 1;
        if (vv->len == 3 && memcmp(vv->data, "log", 3) == 0) {
            sl_log_error(SL_LOG_NOTICE, r->connection->log, 0,
                         "userid cookie \"%.*s=%08X%08X%08X%08X\" was reset",
                         SL_STR_ARG(conf->name), ctx->uid_got[0], ctx->uid_got[1], ctx->uid_got[2],
                         ctx->uid_got[3]);
        }
    }
    uint32_t now = (uint32_t) sl_cached_time_sec;
    if (conf->enable == USERID_V1) {
        ctx->uid_set[0] = conf->service == SL_CONF_UNSET ? 0 : (uint32_t) conf->service;
        ctx->uid_set[1] = now;
        ctx->uid_set[2] = start_value;
        ctx->uid_set[3] = sequencer_v1;
        sequencer_v1 += 0x100;
        return SL_OK;
    }
    if (service_word(r, conf, &ctx->uid_set[0]) != SL_OK) {
        return SL_ERROR;
    }
    ctx->uid_set[1] = htonl(now);
    ctx->uid_set[2] = htonl(start_value);
    ctx->uid_set[3] = htonl(sequencer_v2);
    sequencer_v2 += 0x100;
    if (sequencer_v2 < 0x03030302) {
        sequencer_v2 = 0x03030302;
    }
    return SL_OK;
}

/* ---- the cookie ---- */

/* nginx's cookie date: "Thu, 31-Dec-37 23:55:55 GMT" (two-digit years up to 2037). */
static size_t cookie_time(u_char *buf, size_t size, time_t t)
{
    static const char *week[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char *months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    struct tm tm;

    gmtime_r(&t, &tm);
    int year = tm.tm_year + 1900;
    return (size_t) snprintf((char *) buf, size, "%s, %02d-%s-%02d %02d:%02d:%02d GMT",
                             week[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
                             year > 2037 ? year : year % 100, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static u_char *put(u_char *p, const char *s)
{
    size_t len = strlen(s);

    memcpy(p, s, len);
    return p + len;
}

static u_char *put_flags(u_char *p, sl_uint_t flags)
{
    if (flags & FLAG_SECURE) {
        p = put(p, "; secure");
    }
    if (flags & FLAG_HTTPONLY) {
        p = put(p, "; httponly");
    }
    if (flags & FLAG_SAMESITE_STRICT) {
        p = put(p, "; samesite=strict");
    } else if (flags & FLAG_SAMESITE_LAX) {
        p = put(p, "; samesite=lax");
    } else if (flags & FLAG_SAMESITE_NONE) {
        p = put(p, "; samesite=none");
    }
    return p;
}

static sl_int_t set_cookie(sl_http_request_t *r, userid_ctx_t *ctx, userid_conf_t *conf)
{
    size_t len = conf->name.len + 1 + 24 + sizeof("; expires=Thu, 31-Dec-2137 23:55:55 GMT")
                 + conf->domain.len + conf->path.len
                 + sizeof("; secure; httponly; samesite=strict");
    u_char *cookie = sl_pnalloc(r->pool, len);

    if (cookie == NULL) {
        return SL_ERROR;
    }
    u_char *p = cookie;
    memcpy(p, conf->name.data, conf->name.len);
    p += conf->name.len;
    *p++ = '=';
    if (ctx->uid_got[3] == 0 || ctx->reset) {
        p += EVP_EncodeBlock(p, (const u_char *) ctx->uid_set, 16);
        if (conf->mark) {
            p[-2] = (u_char) conf->mark;
        }
    } else {
        memcpy(p, ctx->cookie.data, 22);
        p += 22;
        *p++ = (u_char) conf->mark;
        *p++ = '=';
    }
    if (conf->expires == MAX_EXPIRES) {
        p = put(p, "; expires=Thu, 31-Dec-37 23:55:55 GMT");
    } else if (conf->expires) {
        p = put(p, "; expires=");
        p += cookie_time(p, 40, sl_cached_time_sec + conf->expires);
    }
    memcpy(p, conf->domain.data, conf->domain.len);
    p += conf->domain.len;
    memcpy(p, conf->path.data, conf->path.len);
    p += conf->path.len;
    p = put_flags(p, conf->flags);
    if (sl_http_add_response_header(r, "Set-Cookie", cookie, (size_t) (p - cookie)) == NULL) {
        return SL_ERROR;
    }
    if (conf->p3p.len
        && sl_http_add_response_header(r, "P3P", conf->p3p.data, conf->p3p.len) == NULL) {
        return SL_ERROR;
    }
    return SL_OK;
}

static sl_int_t userid_filter(sl_http_request_t *r)
{
    userid_conf_t *conf = sl_http_get_module_loc_conf(r, sl_http_userid_filter_module);

    if (r != r->main || conf->enable < USERID_V1) {
        return next_header_filter(r);
    }
    userid_ctx_t *ctx = get_uid(r, conf);
    if (ctx == NULL || create_uid(r, ctx, conf) != SL_OK) {
        return SL_ERROR;
    }
    if (ctx->uid_set[3] != 0 && set_cookie(r, ctx, conf) != SL_OK) {
        return SL_ERROR;
    }
    return next_header_filter(r);
}

/* ---- variables ---- */

static sl_int_t uid_value(sl_http_request_t *r, sl_http_variable_value_t *v, sl_str_t *name,
                          const uint32_t uid[4])
{
    size_t size = name->len + sizeof("=00001111222233334444555566667777");

    v->data = sl_pnalloc(r->pool, size);
    if (v->data == NULL) {
        return SL_ERROR;
    }
    v->len = (unsigned) snprintf((char *) v->data, size, "%.*s=%08X%08X%08X%08X", SL_STR_ARG(*name),
                                 uid[0], uid[1], uid[2], uid[3]);
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->escape = 0;
    return SL_OK;
}

static sl_int_t uid_got_variable(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t d)
{
    userid_conf_t *conf = sl_http_get_module_loc_conf(r, sl_http_userid_filter_module);

    if (conf->enable == USERID_OFF) {
        v->not_found = 1;
        return SL_OK;
    }
    userid_ctx_t *ctx = get_uid(r, conf);
    if (ctx == NULL) {
        return SL_ERROR;
    }
    if (ctx->uid_got[3] == 0) {
        v->not_found = 1;
        return SL_OK;
    }
    return uid_value(r, v, &conf->name, ctx->uid_got);
}

static sl_int_t uid_set_variable(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t d)
{
    userid_conf_t *conf = sl_http_get_module_loc_conf(r, sl_http_userid_filter_module);

    if (conf->enable < USERID_V1) {
        v->not_found = 1;
        return SL_OK;
    }
    userid_ctx_t *ctx = get_uid(r, conf);
    if (ctx == NULL || create_uid(r, ctx, conf) != SL_OK) {
        return SL_ERROR;
    }
    if (ctx->uid_set[3] == 0) {
        v->not_found = 1;
        return SL_OK;
    }
    return uid_value(r, v, &conf->name, ctx->uid_set);
}

/* $uid_reset unless a map or set gives it a value: "0". */
static sl_int_t uid_reset_variable(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t d)
{
    v->data = (u_char *) "0";
    v->len = 1;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->escape = 0;
    return SL_OK;
}

static sl_int_t preconfiguration(sl_conf_t *cf)
{
    static sl_http_variable_t vars[] = {
        { sl_string("uid_got"), NULL, uid_got_variable, 0, SL_HTTP_VAR_NOCACHEABLE, 0 },
        { sl_string("uid_set"), NULL, uid_set_variable, 0, SL_HTTP_VAR_NOCACHEABLE, 0 },
        { sl_string("uid_reset"), NULL, uid_reset_variable, 0, SL_HTTP_VAR_CHANGEABLE, 0 },
    };

    for (size_t i = 0; i < sl_nelems(vars); i++) {
        sl_http_variable_t *v = sl_http_add_variable(cf, &vars[i].name, vars[i].flags);
        if (v == NULL) {
            return SL_ERROR;
        }
        v->get_handler = vars[i].get_handler;
    }
    sl_str_t reset = sl_string("uid_reset");
    reset_index = sl_http_get_variable_index(cf, &reset);
    return reset_index == SL_ERROR ? SL_ERROR : SL_OK;
}

static sl_int_t postconfiguration(sl_conf_t *cf)
{
    next_header_filter = sl_http_top_header_filter;
    sl_http_top_header_filter = userid_filter;
    return SL_OK;
}

/* Each process its own start value, as nginx: identifiers made in the same second by two
 * workers differ. */
static sl_int_t init_process(sl_cycle_t *cycle)
{
    start_value = (((uint32_t) time(NULL) & 0xff) << 24) ^ (uint32_t) getpid();
    return SL_OK;
}

/* ---- configuration ---- */

static void *create_loc_conf(sl_conf_t *cf)
{
    userid_conf_t *conf = sl_pcalloc(cf->pool, sizeof(userid_conf_t));

    if (conf == NULL) {
        return NULL;
    }
    conf->enable = SL_CONF_UNSET_UINT;
    conf->flags = 0;
    conf->service = SL_CONF_UNSET;
    conf->expires = SL_CONF_UNSET;
    conf->mark = SL_CONF_UNSET;
    return conf;
}

static void merge_str(sl_str_t *conf, const sl_str_t *prev, const char *dflt)
{
    if (conf->data == NULL) {
        if (prev->data) {
            *conf = *prev;
        } else {
            conf->data = (u_char *) dflt;
            conf->len = strlen(dflt);
        }
    }
}

static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child)
{
    userid_conf_t *prev = parent, *conf = child;

    sl_conf_merge_uint_value(conf->enable, prev->enable, USERID_OFF);
    if (conf->flags == 0) {
        conf->flags = prev->flags ? prev->flags : FLAGS_OFF;
    }
    merge_str(&conf->name, &prev->name, "uid");
    merge_str(&conf->domain, &prev->domain, "");
    merge_str(&conf->path, &prev->path, "; path=/");
    merge_str(&conf->p3p, &prev->p3p, "");
    sl_conf_merge_value(conf->service, prev->service, SL_CONF_UNSET);
    sl_conf_merge_value(conf->expires, prev->expires, 0);
    sl_conf_merge_value(conf->mark, prev->mark, 0);
    conf->cookie_var.len = sizeof("cookie_") - 1 + conf->name.len;
    conf->cookie_var.data = sl_pnalloc(cf->pool, conf->cookie_var.len);
    if (conf->cookie_var.data == NULL) {
        return SL_CONF_ERROR;
    }
    memcpy(conf->cookie_var.data, "cookie_", sizeof("cookie_") - 1);
    memcpy(conf->cookie_var.data + sizeof("cookie_") - 1, conf->name.data, conf->name.len);
    conf->cookie_key = sl_hash_key_lc(conf->cookie_var.data, conf->cookie_var.len);
    return SL_CONF_OK;
}

static char *set_enable(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    userid_conf_t *ucf = conf;
    sl_str_t *value = (sl_str_t *) cf->args->elts + 1;
    static const char *names[] = { "off", "log", "v1", "on" };

    if (ucf->enable != SL_CONF_UNSET_UINT) {
        return "is duplicate";
    }
    for (sl_uint_t i = 0; i < sl_nelems(names); i++) {
        if (sl_str_eq_cstr(value, names[i])) {
            ucf->enable = i;
            return SL_CONF_OK;
        }
    }
    /* nginx's enum slot says no more than this */
    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid value \"%.*s\"", SL_STR_ARG(*value));
    return SL_CONF_ERROR;
}

/* userid_domain (none: no domain) and userid_path: kept with their "; name=" prefix. */
static char *set_prefixed(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_str_t *field = (sl_str_t *) ((char *) conf + cmd->offset);
    sl_str_t *value = (sl_str_t *) cf->args->elts + 1;
    const char *prefix = cmd->post;

    if (field->data) {
        return "is duplicate";
    }
    if (cmd->offset == OFF(domain) && sl_str_eq_cstr(value, "none")) {
        sl_str_set(field, "");
        return SL_CONF_OK;
    }
    field->len = strlen(prefix) + value->len;
    field->data = sl_pnalloc(cf->pool, field->len);
    if (field->data == NULL) {
        return SL_CONF_ERROR;
    }
    memcpy(field->data, prefix, strlen(prefix));
    memcpy(field->data + strlen(prefix), value->data, value->len);
    return SL_CONF_OK;
}

static char *set_expires(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    userid_conf_t *ucf = conf;
    sl_str_t *value = (sl_str_t *) cf->args->elts + 1;

    if (ucf->expires != SL_CONF_UNSET) {
        return "is duplicate";
    }
    if (sl_str_eq_cstr(value, "max")) {
        ucf->expires = MAX_EXPIRES;
        return SL_CONF_OK;
    }
    if (sl_str_eq_cstr(value, "off")) {
        ucf->expires = 0;
        return SL_CONF_OK;
    }
    sl_int_t t = sl_parse_time(value, 1);
    if (t == SL_ERROR) {
        return "invalid value";
    }
    ucf->expires = (time_t) t;
    return SL_CONF_OK;
}

static char *set_p3p(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    userid_conf_t *ucf = conf;
    sl_str_t *value = (sl_str_t *) cf->args->elts + 1;

    if (ucf->p3p.data) {
        return "is duplicate";
    }
    if (sl_str_eq_cstr(value, "none")) {
        sl_str_set(&ucf->p3p, "");
    } else {
        ucf->p3p = *value;
    }
    return SL_CONF_OK;
}

static char *set_mark(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    userid_conf_t *ucf = conf;
    sl_str_t *value = (sl_str_t *) cf->args->elts + 1;

    if (ucf->mark != SL_CONF_UNSET) {
        return "is duplicate";
    }
    if (sl_str_eq_cstr(value, "off")) {
        ucf->mark = 0;
        return SL_CONF_OK;
    }
    u_char c = value->len == 1 ? value->data[0] : 0;
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '=')) {
        return "value must be \"off\" or a single letter, digit or \"=\"";
    }
    ucf->mark = c;
    return SL_CONF_OK;
}

static char *set_flags(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    userid_conf_t *ucf = conf;
    sl_str_t *value = cf->args->elts;
    static const struct {
        const char *name;
        sl_uint_t flag;
    } names[] = {
        { "off", FLAGS_OFF },
        { "secure", FLAG_SECURE },
        { "httponly", FLAG_HTTPONLY },
        { "samesite=strict", FLAG_SAMESITE_STRICT },
        { "samesite=lax", FLAG_SAMESITE_LAX },
        { "samesite=none", FLAG_SAMESITE_NONE },
    };

    if (ucf->flags) {
        return "is duplicate";
    }
    for (sl_uint_t i = 1; i < cf->args->nelts; i++) {
        sl_uint_t flag = 0;
        for (size_t k = 0; k < sl_nelems(names); k++) {
            if (sl_str_eq_cstr(&value[i], names[k].name)) {
                flag = names[k].flag;
            }
        }
        if (flag == 0) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid value \"%.*s\"", SL_STR_ARG(value[i]));
            return SL_CONF_ERROR;
        }
        ucf->flags |= flag;
    }
    return SL_CONF_OK;
}
