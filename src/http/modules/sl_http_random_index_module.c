/*
 * sl_http_random_index_module.c: "random_index on;", a uri ending in '/' answered by a file
 * of its directory picked at random, through an internal redirect to uri + name, as nginx's
 * random_index: names starting with '.' are never picked, nor anything that is not a file
 * (a symbolic link counts as what it points to).  An empty directory declines (the next
 * content handler answers).  Runs in the content phase before index and static.
 */
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "sl_http_request.h"
#include "sl_pool.h"

typedef struct {
    sl_int_t enable;
} random_index_loc_conf_t;

static void *create_loc_conf(sl_conf_t *cf);
static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child);
static sl_int_t postconfiguration(sl_conf_t *cf);

static sl_command_t random_index_commands[] = {
    { sl_string("random_index"), SL_HTTP_LOC_CONF | SL_CONF_FLAG, sl_conf_set_flag_slot,
      SL_HTTP_LOC_CONF_OFFSET, offsetof(random_index_loc_conf_t, enable), NULL },
    sl_null_command,
};

static sl_http_module_t random_index_module_ctx = {
    NULL, postconfiguration, NULL, NULL, NULL, NULL, create_loc_conf, merge_loc_conf,
};

sl_module_t sl_http_random_index_module = {
    "http_random_index",   0,    0,    SL_HTTP_MODULE, &random_index_module_ctx,
    random_index_commands, NULL, NULL, NULL,
};

/* Whether the entry is a file, following a symbolic link. */
static int is_file(DIR *dir, const struct dirent *de)
{
    struct stat st;

    if (de->d_type == DT_REG) {
        return 1;
    }
    if (de->d_type != DT_LNK && de->d_type != DT_UNKNOWN) {
        return 0;
    }
    return fstatat(dirfd(dir), de->d_name, &st, 0) == 0 && S_ISREG(st.st_mode);
}

/* nginx's answer to a directory that cannot be opened. */
static sl_int_t opendir_error(sl_http_request_t *r, const u_char *path, int err)
{
    int not_found = err == ENOENT || err == ENOTDIR || err == ENAMETOOLONG;
    sl_uint_t level = not_found || err == EACCES ? SL_LOG_ERR : SL_LOG_CRIT;

    sl_log_error(level, r->connection->log, err, "opendir() \"%s\" failed", path);
    return not_found       ? SL_HTTP_NOT_FOUND
           : err == EACCES ? SL_HTTP_FORBIDDEN
                           : SL_HTTP_INTERNAL_SERVER_ERROR;
}

/* Reservoir sampling over the files: one pass, each file kept with probability 1/k, so the
 * pick is uniform without listing the directory in memory.  The name (in r->pool), or an
 * empty one when there is no file. */
static sl_int_t pick(sl_http_request_t *r, DIR *dir, sl_str_t *name)
{
    sl_uint_t k = 0;
    struct dirent *de;

    name->len = 0;
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.' || !is_file(dir, de)) {
            continue;
        }
        if ((sl_uint_t) random() % ++k != 0) {
            continue;
        }
        size_t len = strlen(de->d_name);
        name->data = sl_pnalloc(r->pool, len);
        if (name->data == NULL) {
            return SL_ERROR;
        }
        memcpy(name->data, de->d_name, len);
        name->len = len;
    }
    return SL_OK;
}

static sl_int_t random_index_handler(sl_http_request_t *r)
{
    random_index_loc_conf_t *conf = sl_http_get_module_loc_conf(r, sl_http_random_index_module);
    sl_str_t path, name, uri;
    size_t root;

    if (!conf->enable || r->uri.len == 0 || r->uri.data[r->uri.len - 1] != '/'
        || !(r->method & (SL_HTTP_GET | SL_HTTP_HEAD | SL_HTTP_POST))) {
        return SL_DECLINED;
    }
    if (sl_http_map_uri_to_path(r, &path, &root, 0) != SL_OK) {
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    path.data[path.len] = '\0';
    DIR *dir = opendir((const char *) path.data);
    if (dir == NULL) {
        return opendir_error(r, path.data, errno);
    }
    sl_int_t rc = pick(r, dir, &name);
    closedir(dir);
    if (rc != SL_OK) {
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (name.len == 0) {
        return SL_DECLINED;
    }
    uri.len = r->uri.len + name.len;
    uri.data = sl_pnalloc(r->pool, uri.len);
    if (uri.data == NULL) {
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    memcpy(uri.data, r->uri.data, r->uri.len);
    memcpy(uri.data + r->uri.len, name.data, name.len);
    sl_str_t args = r->args;
    return sl_http_internal_redirect(r, &uri, &args);
}

static void *create_loc_conf(sl_conf_t *cf)
{
    random_index_loc_conf_t *conf = sl_pcalloc(cf->pool, sizeof(random_index_loc_conf_t));

    if (conf) {
        conf->enable = SL_CONF_UNSET;
    }
    return conf;
}

static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child)
{
    random_index_loc_conf_t *prev = parent, *conf = child;

    sl_conf_merge_value(conf->enable, prev->enable, 0);
    return SL_CONF_OK;
}

static sl_int_t postconfiguration(sl_conf_t *cf)
{
    return sl_http_add_phase_handler(cf, SL_HTTP_CONTENT_PHASE, random_index_handler);
}
