/*
 * sl_http_index_module.c: "index file ...;".  A uri ending in '/' is answered by the first
 * index file present in its directory, through an internal redirect to uri + name (the
 * static module then serves it).  A name starting with '/' is redirected to as it is,
 * untested.  No index present: declined, and the core answers 403 "directory index of ...
 * is forbidden"; a missing directory: 404.
 *
 * Runs in the content phase before the static module (it must be registered first).
 */
#include <sys/stat.h>

#include "sl_http_output.h"
#include "sl_http_variables.h"
#include "sl_pool.h"

/* The static module's uri to path mapping (root or alias). */

typedef struct {
    /** sl_str_t, in order; NULL when this level has no "index" */
    sl_array_t *names;
    /** per name, its compiled value when it holds variables (else NULL); NULL when no
     * name does */
    sl_http_complex_value_t **values;
    sl_uint_t nvalues;
    /** the longest name, the room a path needs after the directory */
    size_t max_len;
} index_loc_conf_t;

static void *create_loc_conf(sl_conf_t *cf);
static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child);
static sl_int_t postconfiguration(sl_conf_t *cf);
static char *set_index(sl_conf_t *cf, sl_command_t *cmd, void *conf);

static sl_command_t index_commands[] = {
    { sl_string("index"), SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF | SL_CONF_1MORE,
      set_index, SL_HTTP_LOC_CONF_OFFSET, 0, NULL },
    sl_null_command,
};

static sl_http_module_t index_module_ctx = {
    NULL, postconfiguration, NULL, NULL, NULL, NULL, create_loc_conf, merge_loc_conf,
};

sl_module_t sl_http_index_module = {
    "http_index", 0, 0, SL_HTTP_MODULE, &index_module_ctx, index_commands, NULL, NULL, NULL,
};

static void *create_loc_conf(sl_conf_t *cf)
{
    return sl_pcalloc(cf->pool, sizeof(index_loc_conf_t));
}

static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child)
{
    index_loc_conf_t *prev = parent;
    index_loc_conf_t *conf = child;

    if (conf->names) {
        return SL_CONF_OK;
    }
    if (prev->names) {
        *conf = *prev;
        return SL_CONF_OK;
    }
    conf->names = sl_array_create(cf->pool, 1, sizeof(sl_str_t));
    sl_str_t *name = conf->names ? sl_array_push(conf->names) : NULL;
    if (name == NULL) {
        return SL_CONF_ERROR;
    }
    sl_str_set(name, "index.html");
    conf->max_len = name->len;
    return SL_CONF_OK;
}

/* A name with variables ("index index$suffix.html") is compiled and evaluated per request.
 * SL_OK or SL_ERROR. */
static sl_int_t add_value(sl_conf_t *cf, index_loc_conf_t *ilcf, sl_uint_t n, sl_str_t *name)
{
    if (sl_http_script_variables_count(name) == 0) {
        return SL_OK;
    }
    if (n >= ilcf->nvalues) {
        /* room for the names of this line (several "index" lines may add up) */
        sl_uint_t room = n + cf->args->nelts;
        sl_http_complex_value_t **values = sl_pcalloc(cf->pool, room * sizeof(void *));
        if (values == NULL) {
            return SL_ERROR;
        }
        if (ilcf->values) {
            memcpy(values, ilcf->values, ilcf->nvalues * sizeof(void *));
        }
        ilcf->values = values;
        ilcf->nvalues = room;
    }
    sl_http_complex_value_t *cv = sl_pcalloc(cf->pool, sizeof(sl_http_complex_value_t));
    if (cv == NULL || sl_http_compile_value(cf, name, cv) != SL_OK) {
        return SL_ERROR;
    }
    ilcf->values[n] = cv;
    return SL_OK;
}

static char *set_index(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    index_loc_conf_t *ilcf = conf;
    sl_str_t *value = cf->args->elts;

    if (ilcf->names == NULL) {
        ilcf->names = sl_array_create(cf->pool, 2, sizeof(sl_str_t));
        if (ilcf->names == NULL) {
            return SL_CONF_ERROR;
        }
    }
    for (sl_uint_t i = 1; i < cf->args->nelts; i++) {
        if (value[i].len == 0) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                              "index \"%.*s\" in \"index\" directive is invalid",
                              SL_STR_ARG(value[i]));
            return SL_CONF_ERROR;
        }
        if (add_value(cf, ilcf, ilcf->names->nelts, &value[i]) != SL_OK) {
            return SL_CONF_ERROR;
        }
        if (value[i].data[0] == '/' && i != cf->args->nelts - 1) {
            sl_conf_log_error(SL_LOG_WARN, cf, 0,
                              "only the last index in \"index\" directive should be absolute");
        }
        sl_str_t *name = sl_array_push(ilcf->names);
        if (name == NULL) {
            return SL_CONF_ERROR;
        }
        *name = value[i];
        ilcf->max_len = sl_max(ilcf->max_len, value[i].len);
    }
    return SL_CONF_OK;
}

/* 404 (logged unless log_not_found is off) or 403 for an index that cannot be tested. */
static sl_int_t index_error(sl_http_request_t *r, const u_char *path, int err)
{
    sl_http_core_loc_conf_t *clcf = sl_http_get_module_loc_conf(r, sl_http_core_module);

    if (err == EACCES) {
        sl_log_error(SL_LOG_ERR, r->connection->log, err, "\"%s\" is forbidden", path);
        return SL_HTTP_FORBIDDEN;
    }
    if (clcf->log_not_found) {
        sl_log_error(SL_LOG_ERR, r->connection->log, err, "\"%s\" is not found", path);
    }
    return SL_HTTP_NOT_FOUND;
}

/* After the first index is missing: is the directory itself there?  SL_OK if it is, else
 * the answer.  The log names the index path, as nginx's does. */
static sl_int_t test_dir(sl_http_request_t *r, u_char *path, size_t dir_len)
{
    struct stat st;
    u_char saved = path[dir_len];

    path[dir_len] = '\0';
    int rc = stat((const char *) path, &st);
    int err = errno;
    path[dir_len] = saved;
    if (rc == 0) {
        if (S_ISDIR(st.st_mode)) {
            return SL_OK;
        }
        sl_log_error(SL_LOG_ALERT, r->connection->log, 0, "\"%s\" is not a directory", path);
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (err == ENOENT || err == EACCES) {
        return index_error(r, path, err);
    }
    sl_log_error(SL_LOG_CRIT, r->connection->log, err, "stat() \"%s\" failed", path);
    return SL_HTTP_INTERNAL_SERVER_ERROR;
}

/* Internal redirect to name (absolute) or uri + name, keeping the args.  SL_DONE, or 500. */
static sl_int_t redirect(sl_http_request_t *r, const sl_str_t *name)
{
    sl_str_t uri;
    int absolute = name->data[0] == '/';

    uri.len = absolute ? name->len : r->uri.len + name->len;
    uri.data = sl_pnalloc(r->pool, uri.len);
    if (uri.data == NULL) {
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (!absolute) {
        memcpy(uri.data, r->uri.data, r->uri.len);
    }
    memcpy(uri.data + uri.len - name->len, name->data, name->len);
    sl_str_t args = r->args;
    return sl_http_internal_redirect(r, &uri, &args);
}

/* The names with their variables evaluated (in r->pool), and the longest.  An empty one is
 * skipped over as nginx's would find no file.  SL_OK or SL_ERROR. */
static sl_int_t evaluate_names(sl_http_request_t *r, index_loc_conf_t *ilcf, sl_str_t **names,
                               size_t *max_len)
{
    sl_uint_t n = ilcf->names->nelts;
    sl_str_t *out = sl_palloc(r->pool, n * sizeof(sl_str_t));

    if (out == NULL) {
        return SL_ERROR;
    }
    memcpy(out, *names, n * sizeof(sl_str_t));
    for (sl_uint_t i = 0; i < n; i++) {
        if (i >= ilcf->nvalues || ilcf->values[i] == NULL) {
            continue;
        }
        if (sl_http_complex_value(r, ilcf->values[i], &out[i]) != SL_OK) {
            return SL_ERROR;
        }
        if (out[i].len == 0) {
            sl_str_set(&out[i], ".");
        }
        *max_len = sl_max(*max_len, out[i].len);
    }
    *names = out;
    return SL_OK;
}

/*
 * The content handler: SL_DECLINED unless the uri ends in '/' and the method is GET, HEAD or
 * POST, or when no index file exists; SL_DONE after an internal redirect; an HTTP status when
 * the directory is missing or unreadable.
 */
static sl_int_t index_handler(sl_http_request_t *r)
{
    index_loc_conf_t *ilcf = sl_http_get_module_loc_conf(r, sl_http_index_module);
    sl_str_t path;
    size_t root;
    int dir_tested = 0;

    if (r->uri.len == 0 || r->uri.data[r->uri.len - 1] != '/') {
        return SL_DECLINED;
    }
    if (!(r->method & (SL_HTTP_GET | SL_HTTP_HEAD | SL_HTTP_POST))) {
        return SL_DECLINED;
    }
    sl_str_t *names = ilcf->names->elts;
    size_t max_len = ilcf->max_len;
    if (ilcf->values && evaluate_names(r, ilcf, &names, &max_len) != SL_OK) {
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (sl_http_map_uri_to_path(r, &path, &root, max_len) != SL_OK) {
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    for (sl_uint_t i = 0; i < ilcf->names->nelts; i++) {
        struct stat st;
        if (names[i].data[0] == '/') {
            return redirect(r, &names[i]);
        }
        memcpy(path.data + path.len, names[i].data, names[i].len);
        path.data[path.len + names[i].len] = '\0';
        if (stat((const char *) path.data, &st) == 0) {
            return redirect(r, &names[i]);
        }
        int err = errno;
        if (err == ENOTDIR || err == ENAMETOOLONG || err == EACCES) {
            return index_error(r, path.data, err);
        }
        if (!dir_tested) {
            sl_int_t rc = test_dir(r, path.data, path.len);
            if (rc != SL_OK) {
                return rc;
            }
            dir_tested = 1;
        }
        if (err != ENOENT) {
            sl_log_error(SL_LOG_CRIT, r->connection->log, err, "stat() \"%s\" failed", path.data);
            return SL_HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return SL_DECLINED;
}

static sl_int_t postconfiguration(sl_conf_t *cf)
{
    return sl_http_add_phase_handler(cf, SL_HTTP_CONTENT_PHASE, index_handler);
}
