/*
 * sl_http_try_files_module.c: "try_files file ... uri;" and "try_files file ... =code;".
 *
 * In the precontent phase each file (variables allowed) is looked for under the root or
 * alias, as nginx: a name ending in '/' must be a directory, any other must not be one.
 * The first found becomes the request's uri and processing goes on in the same location
 * (the static module serves it).  When none is found the last parameter decides: "=code"
 * finishes with that code, "@name" goes to a named location, anything else is an internal
 * redirect (its "?" starts new arguments; without one the arguments are dropped, as nginx).
 * A server-level try_files applies only to requests that match no location: it is not
 * inherited, as nginx.
 */
#include <sys/stat.h>

#include "sl_http_output.h"
#include "sl_http_variables.h"
#include "sl_pool.h"

typedef struct {
    sl_http_complex_value_t value;
    /** the name ended in '/' (not the last parameter): a directory is looked for */
    unsigned test_dir : 1;
} try_file_t;

typedef struct {
    /** try_file_t, the last one the fallback; NULL when this level has no try_files */
    sl_array_t *files;
    /** "=code" as the last parameter, else 0 */
    sl_uint_t code;
} try_files_conf_t;

static void *create_loc_conf(sl_conf_t *cf);
static sl_int_t postconfiguration(sl_conf_t *cf);
static char *set_try_files(sl_conf_t *cf, sl_command_t *cmd, void *conf);

static sl_command_t try_files_commands[] = {
    { sl_string("try_files"), SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF | SL_CONF_2MORE, set_try_files,
      SL_HTTP_LOC_CONF_OFFSET, 0, NULL },
    sl_null_command,
};

static sl_http_module_t try_files_module_ctx = {
    NULL, postconfiguration, NULL, NULL, NULL, NULL, create_loc_conf, NULL,
};

sl_module_t sl_http_try_files_module = {
    "http_try_files",   0,    0,    SL_HTTP_MODULE, &try_files_module_ctx,
    try_files_commands, NULL, NULL, NULL,
};

static void *create_loc_conf(sl_conf_t *cf)
{
    return sl_pcalloc(cf->pool, sizeof(try_files_conf_t));
}

/* The bytes of the uri an alias replaces: 0 without alias, SIZE_MAX in a regex location. */
static size_t alias_length(sl_http_core_loc_conf_t *clcf)
{
    if (clcf->alias.data == NULL) {
        return 0;
    }
    return clcf->alias_len;
}

/*
 * Whether name, under the root or alias, is there as a file (a directory with test_dir).
 * path gets the full path; *root_len the root's length.  1 found, 0 not, SL_ERROR.
 */
static sl_int_t look_for(sl_http_request_t *r, sl_str_t *name, int test_dir, size_t alias,
                         sl_str_t *path, size_t *root_len)
{
    struct stat st;

    if (sl_http_map_uri_to_path(r, path, root_len, name->len + 1) != SL_OK) {
        return SL_ERROR;
    }
    sl_str_t tail = *name;
    /* under an alias a name starting with the location's prefix loses it, as the uri does */
    if (alias && alias != SIZE_MAX && tail.len >= alias && r->uri.len >= alias
        && memcmp(tail.data, r->uri.data, alias) == 0) {
        tail.data += alias;
        tail.len -= alias;
    }
    memcpy(path->data + *root_len, tail.data, tail.len);
    path->len = *root_len + tail.len;
    path->data[path->len] = '\0';
    if (stat((const char *) path->data, &st) == -1) {
        if (errno != ENOENT && errno != ENOTDIR && errno != ENAMETOOLONG) {
            sl_log_error(SL_LOG_CRIT, r->connection->log, errno, "stat() \"%s\" failed",
                         (const char *) path->data);
        }
        return 0;
    }
    return (S_ISDIR(st.st_mode) != 0) == test_dir;
}

/* The file found becomes the uri; under a regex location's alias it is added to the alias. */
static sl_int_t use_file(sl_http_request_t *r, sl_str_t *path, size_t root, size_t alias,
                         int test_dir)
{
    sl_str_t name = { path->len - root, path->data + root };

    if (alias == 0) {
        r->uri = name;
    } else if (alias == SIZE_MAX) {
        if (!test_dir) {
            r->uri = name;
            r->add_uri_to_alias = 1;
        }
    } else {
        u_char *p = sl_pnalloc(r->pool, alias + name.len);
        if (p == NULL) {
            return SL_HTTP_INTERNAL_SERVER_ERROR;
        }
        memcpy(p, r->uri.data, alias);
        memcpy(p + alias, name.data, name.len);
        r->uri.data = p;
        r->uri.len = alias + name.len;
    }
    sl_http_set_exten(r);
    return SL_DECLINED;
}

/* The last parameter: an internal redirect (or a named location).  The phases stop here. */
static sl_int_t fall_back(sl_http_request_t *r, try_file_t *tf)
{
    sl_str_t uri, args = sl_null_string;

    if (sl_http_complex_value(r, &tf->value, &uri) != SL_OK) {
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (uri.len && uri.data[0] == '@') {
        (void) sl_http_named_location(r, &uri);
    } else {
        u_char *q = memchr(uri.data, '?', uri.len);
        if (q) {
            args.data = q + 1;
            args.len = (size_t) (uri.data + uri.len - q - 1);
            uri.len = (size_t) (q - uri.data);
        }
        (void) sl_http_internal_redirect(r, &uri, &args);
    }
    sl_http_finalize_request(r, SL_DONE);
    return SL_AGAIN;
}

static sl_int_t try_files_handler(sl_http_request_t *r)
{
    try_files_conf_t *conf = sl_http_get_module_loc_conf(r, sl_http_try_files_module);

    if (conf->files == NULL) {
        return SL_DECLINED;
    }
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);
    size_t alias = alias_length(clcf);
    try_file_t *tf = conf->files->elts;
    sl_uint_t last = conf->files->nelts - 1;
    for (sl_uint_t i = 0; i < last; i++) {
        sl_str_t name, path;
        size_t root;

        if (sl_http_complex_value(r, &tf[i].value, &name) != SL_OK) {
            return SL_HTTP_INTERNAL_SERVER_ERROR;
        }
        sl_int_t rc = look_for(r, &name, tf[i].test_dir, alias, &path, &root);
        if (rc == SL_ERROR) {
            return SL_HTTP_INTERNAL_SERVER_ERROR;
        }
        if (rc == 1) {
            return use_file(r, &path, root, alias, tf[i].test_dir);
        }
    }
    if (conf->code) {
        return (sl_int_t) conf->code;
    }
    return fall_back(r, &tf[last]);
}

static sl_int_t postconfiguration(sl_conf_t *cf)
{
    return sl_http_add_phase_handler(cf, SL_HTTP_PRECONTENT_PHASE, try_files_handler);
}

static char *set_try_files(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    try_files_conf_t *tcf = conf;
    sl_str_t *value = cf->args->elts;
    sl_uint_t n = cf->args->nelts - 1;

    if (tcf->files) {
        return "is duplicate";
    }
    tcf->files = sl_array_create(cf->pool, n, sizeof(try_file_t));
    if (tcf->files == NULL) {
        return SL_CONF_ERROR;
    }
    for (sl_uint_t i = 0; i < n; i++) {
        try_file_t *tf = sl_array_push(tcf->files);
        sl_str_t name = value[i + 1];

        if (tf == NULL) {
            return SL_CONF_ERROR;
        }
        memset(tf, 0, sizeof(*tf));
        if (i + 1 < n && name.len > 0 && name.data[name.len - 1] == '/') {
            tf->test_dir = 1;
            name.len--;
        }
        if (sl_http_compile_value(cf, &name, &tf->value) != SL_OK) {
            return SL_CONF_ERROR;
        }
    }
    sl_str_t *fallback = &value[n];
    if (fallback->len && fallback->data[0] == '=') {
        sl_int_t code = sl_atoi(fallback->data + 1, fallback->len - 1);
        if (code == SL_ERROR || code > 999) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid code \"%.*s\"", SL_STR_ARG(*fallback));
            return SL_CONF_ERROR;
        }
        tcf->code = (sl_uint_t) code;
    }
    return SL_CONF_OK;
}
