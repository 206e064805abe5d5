/*
 * sl_http_auth_basic_module.c: auth_basic and auth_basic_user_file, as nginx 1.22.
 *
 * In the access phase a request must bring "Authorization: Basic base64(user:password)"
 * whose user has a line in the password file and whose password hashes to that line's
 * (sl_http_auth_basic_crypt()); anything else is answered 401 with "WWW-Authenticate: Basic
 * realm=...".  The file is read on every request, as nginx does (its name may hold
 * variables), so a changed file applies at once.  Lines are "user:hash[:comment]"; a line
 * starting with '#' is a comment.
 */
#include <fcntl.h>
#include <unistd.h>

#include "sl_file.h"
#include "sl_http_auth_basic.h"
#include "sl_http_output.h"
#include "sl_http_request.h"
#include "sl_http_variables.h"

typedef struct {
    /** the realm, or "off"; NULL when unset */
    sl_http_complex_value_t *realm;
    /** the password file (NUL-terminated, relative to the config prefix) */
    sl_http_complex_value_t *user_file;
} loc_conf_t;

static void *create_loc_conf(sl_conf_t *cf);
static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child);
static sl_int_t postconfiguration(sl_conf_t *cf);
static char *set_user_file(sl_conf_t *cf, sl_command_t *cmd, void *conf);

#define CTX (SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF | SL_HTTP_LMT_CONF)

// clang-format off
static sl_command_t auth_basic_commands[] = {
    { sl_string("auth_basic"), CTX | SL_CONF_TAKE1, sl_http_set_complex_value_slot,
      SL_HTTP_LOC_CONF_OFFSET, offsetof(loc_conf_t, realm), NULL },
    { sl_string("auth_basic_user_file"), CTX | SL_CONF_TAKE1, set_user_file,
      SL_HTTP_LOC_CONF_OFFSET, offsetof(loc_conf_t, user_file), NULL },
    sl_null_command,
};
// clang-format on

static sl_http_module_t auth_basic_module_ctx = {
    NULL, postconfiguration, NULL, NULL, NULL, NULL, create_loc_conf, merge_loc_conf,
};

sl_module_t sl_http_auth_basic_module = {
    "http_auth_basic",   0,    0,    SL_HTTP_MODULE, &auth_basic_module_ctx,
    auth_basic_commands, NULL, NULL, NULL,
};

/* The credentials of the request. */
typedef struct {
    sl_str_t user;
    /** NUL-terminated */
    u_char *password;
} credentials_t;

/* "Basic base64(user:password)": SL_OK, SL_DECLINED when absent or malformed (an empty user
 * too), SL_ERROR. */
static sl_int_t get_credentials(sl_http_request_t *r, credentials_t *cr)
{
    sl_table_elt_t *h = r->headers_in.authorization;

    if (h == NULL || h->value.len < 6 || sl_strncasecmp(h->value.data, (u_char *) "Basic ", 6)) {
        return SL_DECLINED;
    }
    const u_char *p = h->value.data + 6, *end = h->value.data + h->value.len;
    while (p < end && *p == ' ') {
        p++;
    }
    if (p == end) {
        return SL_DECLINED;
    }
    u_char *raw = sl_pnalloc(r->pool, (size_t) (end - p) * 3 / 4 + 4);
    if (raw == NULL) {
        return SL_ERROR;
    }
    ssize_t n = sl_http_decode_base64(raw, p, (size_t) (end - p));
    u_char *colon = n > 0 ? memchr(raw, ':', (size_t) n) : NULL;
    if (colon == NULL || colon == raw) {
        return SL_DECLINED;
    }
    raw[n] = '\0';
    cr->user.data = raw;
    cr->user.len = (size_t) (colon - raw);
    cr->password = colon + 1;
    return SL_OK;
}

/* 401 with the challenge. */
static sl_int_t challenge(sl_http_request_t *r, const sl_str_t *realm)
{
    size_t len = sizeof("Basic realm=\"\"") - 1 + realm->len;
    u_char *v = sl_pnalloc(r->pool, len);

    if (v == NULL) {
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    memcpy(v, "Basic realm=\"", 13);
    memcpy(v + 13, realm->data, realm->len);
    v[len - 1] = '"';
    r->headers_out.www_authenticate = sl_http_add_response_header(r, "WWW-Authenticate", v, len);
    if (r->headers_out.www_authenticate == NULL) {
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    return SL_HTTP_UNAUTHORIZED;
}

static sl_int_t check_password(sl_http_request_t *r, const credentials_t *cr, const u_char *hash,
                               const sl_str_t *realm)
{
    u_char *encrypted;

    if (sl_http_auth_basic_crypt(r->pool, r->connection->log, cr->password, hash, &encrypted)
        != SL_OK) {
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (strcmp((const char *) encrypted, (const char *) hash) == 0) {
        return SL_OK;
    }
    sl_log_error(SL_LOG_ERR, r->connection->log, 0, "user \"%.*s\": password mismatch",
                 SL_STR_ARG(cr->user));
    return challenge(r, realm);
}

/* The scan of the password file, fed a block at a time. */
typedef struct {
    enum { AT_LOGIN, AT_PASSWORD, SKIPPING } state;
    size_t login;
    /** the password field of the user's line, growing in pool memory */
    u_char *hash;
    size_t hash_len;
    size_t hash_cap;
} scan_t;

static sl_int_t append_hash(sl_pool_t *pool, scan_t *s, u_char ch)
{
    if (s->hash_len + 1 >= s->hash_cap) {
        size_t cap = s->hash_cap ? s->hash_cap * 2 : 128;
        u_char *p = sl_pnalloc(pool, cap);
        if (p == NULL) {
            return SL_ERROR;
        }
        if (s->hash_len) {
            memcpy(p, s->hash, s->hash_len);
        }
        s->hash = p;
        s->hash_cap = cap;
    }
    s->hash[s->hash_len++] = ch;
    return SL_OK;
}

/* SL_AGAIN for more, SL_OK when the user's password field ended (NUL-terminated in s->hash),
 * SL_ERROR.  The user's name must be followed by ':' (a line that is a prefix of it, cut by
 * its newline, skips the line after it too, as nginx). */
static sl_int_t scan(sl_http_request_t *r, scan_t *s, const credentials_t *cr, const u_char *p,
                     size_t n)
{
    for (size_t i = 0; i < n; i++) {
        u_char ch = p[i];
        switch (s->state) {
        case AT_LOGIN:
            if (s->login == 0 && (ch == '#' || ch == '\r')) {
                s->state = SKIPPING;
                break;
            }
            if (s->login == 0 && ch == '\n') {
                break;
            }
            if (ch != (s->login < cr->user.len ? cr->user.data[s->login] : ':')) {
                s->state = SKIPPING;
                break;
            }
            if (s->login++ == cr->user.len) {
                s->state = AT_PASSWORD;
            }
            break;
        case AT_PASSWORD:
            if (ch == '\n' || ch == '\r' || ch == ':') {
                return append_hash(r->pool, s, '\0') == SL_OK ? SL_OK : SL_ERROR;
            }
            if (append_hash(r->pool, s, ch) != SL_OK) {
                return SL_ERROR;
            }
            break;
        case SKIPPING:
            if (ch == '\n') {
                s->state = AT_LOGIN;
                s->login = 0;
            }
            break;
        }
    }
    return SL_AGAIN;
}

/* Reads the file for the user's password field: SL_OK (in s), SL_DECLINED (no such user),
 * or an HTTP status after logging. */
static sl_int_t find_user(sl_http_request_t *r, const char *file, const credentials_t *cr,
                          scan_t *s)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);

    if (fd == -1) {
        int err = errno;
        sl_log_error(err == ENOENT ? SL_LOG_ERR : SL_LOG_CRIT, r->connection->log, err,
                     "open() \"%s\" failed", file);
        return err == ENOENT ? SL_HTTP_FORBIDDEN : SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    u_char buf[2048];
    sl_int_t rc = SL_AGAIN;
    while (rc == SL_AGAIN) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n == -1) {
            sl_log_error(SL_LOG_CRIT, r->connection->log, errno, "read() \"%s\" failed", file);
            rc = SL_HTTP_INTERNAL_SERVER_ERROR;
            break;
        }
        if (n == 0) {
            rc = s->state == AT_PASSWORD ? append_hash(r->pool, s, '\0') : SL_DECLINED;
            break;
        }
        rc = scan(r, s, cr, buf, (size_t) n);
    }
    if (sl_close_file(fd) != SL_OK) {
        sl_log_error(SL_LOG_ALERT, r->connection->log, errno, "close() \"%s\" failed", file);
    }
    return rc == SL_ERROR ? SL_HTTP_INTERNAL_SERVER_ERROR : rc;
}

static sl_int_t auth_basic_handler(sl_http_request_t *r)
{
    loc_conf_t *lcf = sl_http_get_module_loc_conf(r, sl_http_auth_basic_module);
    sl_str_t realm, file;
    credentials_t cr;

    if (lcf->realm == NULL || lcf->user_file == NULL) {
        return SL_DECLINED;
    }
    if (sl_http_complex_value(r, lcf->realm, &realm) != SL_OK) {
        return SL_ERROR;
    }
    if (realm.len == 3 && memcmp(realm.data, "off", 3) == 0) {
        return SL_DECLINED;
    }
    sl_int_t rc = get_credentials(r, &cr);
    if (rc == SL_DECLINED) {
        sl_log_error(SL_LOG_INFO, r->connection->log, 0,
                     "no user/password was provided for basic authentication");
        return challenge(r, &realm);
    }
    if (rc == SL_ERROR || sl_http_complex_value(r, lcf->user_file, &file) != SL_OK) {
        return SL_ERROR;
    }
    scan_t s = { AT_LOGIN, 0, NULL, 0, 0 };
    rc = find_user(r, (const char *) file.data, &cr, &s);
    if (rc == SL_OK) {
        return check_password(r, &cr, s.hash, &realm);
    }
    if (rc == SL_DECLINED) {
        sl_log_error(SL_LOG_ERR, r->connection->log, 0, "user \"%.*s\" was not found in \"%s\"",
                     SL_STR_ARG(cr.user), file.data);
        return challenge(r, &realm);
    }
    return rc;
}

static sl_int_t postconfiguration(sl_conf_t *cf)
{
    return sl_http_add_phase_handler(cf, SL_HTTP_ACCESS_PHASE, auth_basic_handler);
}

/* ---- configuration ---- */

static void *create_loc_conf(sl_conf_t *cf)
{
    loc_conf_t *conf = sl_pcalloc(cf->pool, sizeof(loc_conf_t));

    if (conf == NULL) {
        return NULL;
    }
    return conf;
}

static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child)
{
    loc_conf_t *prev = parent;
    loc_conf_t *conf = child;

    if (conf->realm == NULL) {
        conf->realm = prev->realm;
    }
    if (conf->user_file == NULL) {
        conf->user_file = prev->user_file;
    }
    return SL_CONF_OK;
}

/* auth_basic_user_file FILE: variables allowed; relative to the config prefix. */
static char *set_user_file(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    loc_conf_t *lcf = conf;
    sl_str_t *value = cf->args->elts;

    if (lcf->user_file != NULL) {
        return "is duplicate";
    }
    lcf->user_file = sl_pcalloc(cf->pool, sizeof(sl_http_complex_value_t));
    if (lcf->user_file == NULL) {
        return SL_CONF_ERROR;
    }
    sl_http_compile_complex_value_t ccv;
    memset(&ccv, 0, sizeof(ccv));
    ccv.cf = cf;
    ccv.value = &value[1];
    ccv.complex_value = lcf->user_file;
    ccv.zero = 1;
    ccv.conf_prefix = 1;
    if (sl_http_compile_complex_value(&ccv) != SL_OK) {
        return SL_CONF_ERROR;
    }
    (void) cmd;
    return SL_CONF_OK;
}
