/*
 * sl_http_secure_link_module.c: links that only work when signed, as nginx 1.22's
 * secure_link module, in its two modes.
 *
 * "secure_link EXPR; secure_link_md5 EXPR;": EXPR of secure_link evaluates to "hash" or
 * "hash,expires" (hash: the MD5 in base64url, expires: a Unix time); $secure_link is "1"
 * when the hash is the MD5 of secure_link_md5's value and the link has not expired, "0"
 * when it has expired, empty otherwise; $secure_link_expires is the expires text.
 *
 * "secure_link_secret WORD;": the uri is "/prefix/HEX32/rest", HEX32 being the MD5 of
 * "rest" followed by WORD, in hex; $secure_link is then "rest", else empty.
 *
 * MD5 comes from OpenSSL's libcrypto.
 */
#include <openssl/evp.h>

#include "sl_http.h"
#include "sl_http_variables.h"
#include "sl_pool.h"

#define MD5_LEN 16

typedef struct {
    sl_http_complex_value_t *variable;
    sl_http_complex_value_t *md5;
    sl_str_t secret;
} secure_link_conf_t;

/* The request's expires text ($secure_link_expires), kept once $secure_link read it. */
typedef struct {
    sl_str_t expires;
} secure_link_ctx_t;

static void *create_loc_conf(sl_conf_t *cf);
static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child);
static sl_int_t preconfiguration(sl_conf_t *cf);

#define CTX (SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF | SL_CONF_TAKE1)

static sl_command_t secure_link_commands[] = {
    { sl_string("secure_link"), CTX, sl_http_set_complex_value_slot, SL_HTTP_LOC_CONF_OFFSET,
      offsetof(secure_link_conf_t, variable), NULL },
    { sl_string("secure_link_md5"), CTX, sl_http_set_complex_value_slot, SL_HTTP_LOC_CONF_OFFSET,
      offsetof(secure_link_conf_t, md5), NULL },
    { sl_string("secure_link_secret"), SL_HTTP_LOC_CONF | SL_CONF_TAKE1, sl_conf_set_str_slot,
      SL_HTTP_LOC_CONF_OFFSET, offsetof(secure_link_conf_t, secret), NULL },
    sl_null_command,
};

static sl_http_module_t secure_link_module_ctx = {
    preconfiguration, NULL, NULL, NULL, NULL, NULL, create_loc_conf, merge_loc_conf,
};

sl_module_t sl_http_secure_link_module = {
    "http_secure_link",   0,    0,    SL_HTTP_MODULE, &secure_link_module_ctx,
    secure_link_commands, NULL, NULL, NULL,
};

/* MD5 of a then b.  SL_OK or SL_ERROR. */
static sl_int_t md5_of(const sl_str_t *a, const sl_str_t *b, u_char md[MD5_LEN])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_md5(), NULL)
             && EVP_DigestUpdate(ctx, a->data, a->len)
             && (b == NULL || EVP_DigestUpdate(ctx, b->data, b->len))
             && EVP_DigestFinal_ex(ctx, md, NULL);

    EVP_MD_CTX_free(ctx);
    return ok ? SL_OK : SL_ERROR;
}

static int base64url_value(u_char c)
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
    return c == '-' ? 62 : c == '_' ? 63 : -1;
}

/* base64url without (or with) "=" padding into out (room for 18 bytes: 24 characters at
 * most).  The decoded length, or SL_ERROR for another byte or a dangling character. */
static ssize_t base64url_decode(const sl_str_t *in, u_char *out)
{
    size_t len = in->len, n = 0;
    uint32_t acc = 0;
    int bits = 0;

    while (len > 0 && in->data[len - 1] == '=') {
        len--;
    }
    if (len % 4 == 1) {
        return SL_ERROR;
    }
    for (size_t i = 0; i < len; i++) {
        int d = base64url_value(in->data[i]);
        if (d < 0) {
            return SL_ERROR;
        }
        acc = acc << 6 | (uint32_t) d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (u_char) (acc >> bits);
        }
    }
    return (ssize_t) n;
}

static sl_int_t value_of(sl_http_variable_value_t *v, const char *text, size_t len)
{
    v->data = (u_char *) text;
    v->len = (unsigned) len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->escape = 0;
    return SL_OK;
}

static sl_int_t not_found(sl_http_variable_value_t *v)
{
    v->not_found = 1;
    return SL_OK;
}

/* A Unix time in decimal; -1 when it is not one. */
static time_t parse_time(const u_char *p, size_t len)
{
    time_t t = 0;

    if (len == 0) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9' || t > (time_t) (INT64_MAX / 10 - 10)) {
            return -1;
        }
        t = t * 10 + (p[i] - '0');
    }
    return t;
}

/* The secure_link / secure_link_md5 mode. */
static sl_int_t check_md5_link(sl_http_request_t *r, secure_link_conf_t *conf,
                               sl_http_variable_value_t *v)
{
    sl_str_t val, text;
    u_char hash[18], md[MD5_LEN];
    time_t expires = 0;

    if (sl_http_complex_value(r, conf->variable, &val) != SL_OK) {
        return SL_ERROR;
    }
    u_char *comma = memchr(val.data, ',', val.len);
    if (comma) {
        u_char *p = comma + 1;
        size_t len = (size_t) (val.data + val.len - p);
        expires = parse_time(p, len);
        if (expires <= 0) {
            return not_found(v);
        }
        secure_link_ctx_t *ctx = sl_pcalloc(r->pool, sizeof(secure_link_ctx_t));
        if (ctx == NULL) {
            return SL_ERROR;
        }
        ctx->expires.data = p;
        ctx->expires.len = len;
        sl_http_set_ctx(r, ctx, sl_http_secure_link_module);
        val.len = (size_t) (comma - val.data);
    }
    if (val.len > 24 || base64url_decode(&val, hash) != MD5_LEN) {
        return not_found(v);
    }
    if (sl_http_complex_value(r, conf->md5, &text) != SL_OK || md5_of(&text, NULL, md) != SL_OK) {
        return SL_ERROR;
    }
    if (memcmp(hash, md, MD5_LEN) != 0) {
        return not_found(v);
    }
    return value_of(v, expires && expires < sl_cached_time_sec ? "0" : "1", 1);
}

static int hex_value(u_char c)
{
    u_char lc = c | 0x20;

    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    return lc >= 'a' && lc <= 'f' ? lc - 'a' + 10 : -1;
}

/* The secure_link_secret mode: "/prefix/HEX32/rest" of the uri as the client sent it. */
static sl_int_t check_secret_link(sl_http_request_t *r, secure_link_conf_t *conf,
                                  sl_http_variable_value_t *v)
{
    const u_char *p = r->unparsed_uri.data + 1, *last = r->unparsed_uri.data + r->unparsed_uri.len;
    const u_char *start = p < last ? memchr(p, '/', (size_t) (last - p)) : NULL;
    const u_char *end = start ? memchr(start + 1, '/', (size_t) (last - start - 1)) : NULL;
    u_char md[MD5_LEN];

    if (r->unparsed_uri.len == 0 || end == NULL || end - start - 1 != 2 * MD5_LEN
        || end + 1 == last) {
        return not_found(v);
    }
    sl_str_t rest = { (size_t) (last - end - 1), (u_char *) end + 1 };
    if (md5_of(&rest, &conf->secret, md) != SL_OK) {
        return SL_ERROR;
    }
    for (size_t i = 0; i < MD5_LEN; i++) {
        int hi = hex_value(start[1 + 2 * i]), lo = hex_value(start[2 + 2 * i]);
        if (hi < 0 || lo < 0 || md[i] != (u_char) (hi << 4 | lo)) {
            return not_found(v);
        }
    }
    return value_of(v, (const char *) rest.data, rest.len);
}

static sl_int_t secure_link_variable(sl_http_request_t *r, sl_http_variable_value_t *v,
                                     uintptr_t data)
{
    secure_link_conf_t *conf = sl_http_get_module_loc_conf(r, sl_http_secure_link_module);

    if (conf->secret.data) {
        return check_secret_link(r, conf, v);
    }
    if (conf->variable == NULL || conf->md5 == NULL) {
        return not_found(v);
    }
    return check_md5_link(r, conf, v);
}

static sl_int_t secure_link_expires_variable(sl_http_request_t *r, sl_http_variable_value_t *v,
                                             uintptr_t data)
{
    secure_link_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_secure_link_module);

    if (ctx == NULL) {
        return not_found(v);
    }
    return value_of(v, (const char *) ctx->expires.data, ctx->expires.len);
}

static sl_int_t preconfiguration(sl_conf_t *cf)
{
    static sl_http_variable_t vars[] = {
        { sl_string("secure_link"), NULL, secure_link_variable, 0, 0, 0 },
        { sl_string("secure_link_expires"), NULL, secure_link_expires_variable, 0, 0, 0 },
    };

    for (size_t i = 0; i < sl_nelems(vars); i++) {
        sl_http_variable_t *v = sl_http_add_variable(cf, &vars[i].name, 0);
        if (v == NULL) {
            return SL_ERROR;
        }
        v->get_handler = vars[i].get_handler;
    }
    return SL_OK;
}

static void *create_loc_conf(sl_conf_t *cf)
{
    /* NULL pointers and an empty secret: unset */
    return sl_pcalloc(cf->pool, sizeof(secure_link_conf_t));
}

static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child)
{
    secure_link_conf_t *prev = parent, *conf = child;

    if (conf->secret.data) {
        if (conf->variable || conf->md5) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                              "\"secure_link_secret\" cannot be mixed with \"secure_link\" and "
                              "\"secure_link_md5\"");
            return SL_CONF_ERROR;
        }
        return SL_CONF_OK;
    }
    if (conf->variable == NULL) {
        conf->variable = prev->variable;
    }
    if (conf->md5 == NULL) {
        conf->md5 = prev->md5;
    }
    if (conf->variable == NULL && conf->md5 == NULL) {
        conf->secret = prev->secret;
    }
    return SL_CONF_OK;
}
