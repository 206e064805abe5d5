/*
 * sl_http_limit_conn_module.c: limit_conn_zone, limit_conn, limit_conn_status,
 * limit_conn_log_level, limit_conn_dry_run and $limit_conn_status, as nginx 1.22.
 *
 * Each key value has a node in the zone (shared by every worker) counting the requests being
 * processed now under that key; a request that finds the count at the limit is rejected
 * (503 by default).  A counted request gives its count back when its pool goes (the end of
 * the request), and a node whose count falls to 0 is freed, as nginx: a full zone rejects
 * new keys rather than forgetting counted ones.  Several limit_conn of a level are all
 * applied; a rejection gives back what the earlier ones counted.  Checked in the preaccess
 * phase, once per main request.
 */
#include "sl_crc32.h"
#include "sl_http_limit_conf.h"
#include "sl_http_limit_zone.h"
#include "sl_http_request.h"
#include "sl_http_variables.h"
#include "sl_pool.h"

enum {
    LIMIT_CONN_PASSED = 1,
    LIMIT_CONN_REJECTED,
    LIMIT_CONN_REJECTED_DRY_RUN,
};

typedef struct {
    sl_http_complex_value_t key;
} zone_conf_t;

typedef struct {
    sl_http_limit_zone_t *zone;
    sl_uint_t conn;
} limit_t;

typedef sl_http_limit_main_conf_t main_conf_t;
typedef sl_http_limit_loc_conf_t loc_conf_t;

/* What a request counted, given back when its pool goes. */
typedef struct {
    sl_uint_t n;
    struct {
        sl_http_limit_zone_t *zone;
        sl_http_limit_node_t *node;
    } counted[];
} counted_t;

static void *create_main_conf(sl_conf_t *cf);
static void *create_loc_conf(sl_conf_t *cf);
static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child);
static sl_int_t add_variables(sl_conf_t *cf);
static sl_int_t postconfiguration(sl_conf_t *cf);
static char *set_zone(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *set_limit(sl_conf_t *cf, sl_command_t *cmd, void *conf);

#define CTX (SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF)

// clang-format off
static sl_command_t limit_conn_commands[] = {
    { sl_string("limit_conn_zone"), SL_HTTP_MAIN_CONF | SL_CONF_TAKE2, set_zone, 0, 0, NULL },
    { sl_string("limit_conn"), CTX | SL_CONF_TAKE2, set_limit, SL_HTTP_LOC_CONF_OFFSET, 0, NULL },
    { sl_string("limit_conn_log_level"), CTX | SL_CONF_TAKE1, sl_conf_set_enum_slot,
      SL_HTTP_LOC_CONF_OFFSET, offsetof(loc_conf_t, log_level),
      sl_http_limit_log_levels },
    { sl_string("limit_conn_status"), CTX | SL_CONF_TAKE1, sl_conf_set_num_slot,
      SL_HTTP_LOC_CONF_OFFSET, offsetof(loc_conf_t, status),
      &sl_http_limit_status_bounds },
    { sl_string("limit_conn_dry_run"), CTX | SL_CONF_FLAG, sl_conf_set_flag_slot,
      SL_HTTP_LOC_CONF_OFFSET, offsetof(loc_conf_t, dry_run), NULL },
    sl_null_command,
};
// clang-format on

static sl_http_module_t limit_conn_module_ctx = {
    add_variables, postconfiguration, create_main_conf, NULL, NULL,
    NULL,          create_loc_conf,   merge_loc_conf,
};

sl_module_t sl_http_limit_conn_module = {
    "http_limit_conn",   0,    0,    SL_HTTP_MODULE, &limit_conn_module_ctx,
    limit_conn_commands, NULL, NULL, NULL,
};

/* ---- counting ---- */

static void uncount(sl_http_limit_zone_t *zone, sl_http_limit_node_t *node)
{
    sl_slab_lock(zone->pool);
    if (--node->count == 0) {
        sl_http_limit_delete(zone, node);
    }
    sl_slab_unlock(zone->pool);
}

static void give_back(void *data)
{
    counted_t *c = data;

    while (c->n) {
        c->n--;
        uncount(c->counted[c->n].zone, c->counted[c->n].node);
    }
}

/* Counts the request under key in the limit's zone.  SL_OK (counted in *node), SL_BUSY
 * (at the limit), SL_ERROR (no room for a new key). */
static sl_int_t count(limit_t *limit, const sl_str_t *key, sl_http_limit_node_t **out)
{
    sl_http_limit_zone_t *zone = limit->zone;
    uint32_t hash = sl_crc32(key->data, key->len);
    sl_int_t rc = SL_OK;

    sl_slab_lock(zone->pool);
    sl_http_limit_node_t *node = sl_http_limit_lookup(zone, hash, key);
    if (node == NULL) {
        node = sl_http_limit_insert(zone, hash, key);
        rc = node ? SL_OK : SL_ERROR;
    } else if (node->count >= limit->conn) {
        rc = SL_BUSY;
    }
    if (rc == SL_OK) {
        node->count++;
        *out = node;
    }
    sl_slab_unlock(zone->pool);
    return rc;
}

static sl_int_t reject(sl_http_request_t *r, loc_conf_t *lcf, limit_t *limit, sl_int_t rc,
                       counted_t *c)
{
    if (rc == SL_BUSY) {
        sl_log_error(lcf->log_level, r->connection->log, 0,
                     "limiting connections%s by zone \"%.*s\"", lcf->dry_run ? ", dry run," : "",
                     SL_STR_ARG(limit->zone->name));
    }
    give_back(c);
    if (lcf->dry_run) {
        r->main->limit_conn_status = LIMIT_CONN_REJECTED_DRY_RUN;
        return SL_DECLINED;
    }
    r->main->limit_conn_status = LIMIT_CONN_REJECTED;
    return lcf->status;
}

static sl_int_t eval_key(sl_http_request_t *r, limit_t *limit, sl_str_t *key)
{
    zone_conf_t *zc = limit->zone->data;

    if (sl_http_complex_value(r, &zc->key, key) != SL_OK) {
        return SL_ERROR;
    }
    if (key->len == 0) {
        return SL_DECLINED;
    }
    if (key->len > 255) {
        sl_log_error(SL_LOG_ERR, r->connection->log, 0,
                     "the value of the \"%.*s\" key is more than 255 bytes: \"%.*s\"",
                     SL_STR_ARG(zc->key.value), SL_STR_ARG(*key));
        return SL_DECLINED;
    }
    return SL_OK;
}

static sl_int_t limit_conn_handler(sl_http_request_t *r)
{
    loc_conf_t *lcf = sl_http_get_module_loc_conf(r, sl_http_limit_conn_module);

    if (r->main->limit_conn_status || lcf->limits == NULL) {
        return SL_DECLINED;
    }
    limit_t *limits = lcf->limits->elts;
    sl_uint_t n = lcf->limits->nelts;
    sl_pool_cleanup_t *cln =
        sl_pool_cleanup_add(r->pool, sizeof(counted_t) + n * 2 * sizeof(void *));
    if (cln == NULL) {
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    }
    counted_t *c = cln->data;
    c->n = 0;
    cln->handler = give_back;
    for (sl_uint_t i = 0; i < n; i++) {
        sl_str_t key;
        sl_int_t rc = eval_key(r, &limits[i], &key);
        if (rc == SL_ERROR) {
            give_back(c);
            return SL_HTTP_INTERNAL_SERVER_ERROR;
        }
        if (rc == SL_DECLINED) {
            continue;
        }
        r->main->limit_conn_status = LIMIT_CONN_PASSED;
        rc = count(&limits[i], &key, &c->counted[c->n].node);
        if (rc != SL_OK) {
            return reject(r, lcf, &limits[i], rc, c);
        }
        c->counted[c->n++].zone = limits[i].zone;
    }
    return SL_DECLINED;
}

/* ---- $limit_conn_status ---- */

static sl_str_t status_names[] = {
    sl_string("PASSED"),
    sl_string("REJECTED"),
    sl_string("REJECTED_DRY_RUN"),
};

static sl_int_t var_status(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    return sl_http_limit_status_value(v, status_names, r->main->limit_conn_status);
}

static sl_int_t add_variables(sl_conf_t *cf)
{
    return sl_http_limit_add_status_variable(cf, "limit_conn_status", var_status);
}

static sl_int_t postconfiguration(sl_conf_t *cf)
{
    return sl_http_limit_postconfiguration(
        cf, limit_conn_handler, sl_http_conf_get_module_main_conf(cf, sl_http_limit_conn_module));
}

/* ---- configuration ---- */

static void *create_main_conf(sl_conf_t *cf)
{
    return sl_http_limit_create_main_conf(cf);
}

static void *create_loc_conf(sl_conf_t *cf)
{
    loc_conf_t *conf = sl_palloc(cf->pool, sizeof(loc_conf_t));

    if (conf) {
        sl_http_limit_init_loc_conf(conf);
    }
    return conf;
}

static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child)
{
    sl_http_limit_merge_loc_conf(child, parent);
    return SL_CONF_OK;
}

/* limit_conn_zone KEY zone=NAME:SIZE */
static char *set_zone(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    main_conf_t *mcf = sl_http_conf_get_module_main_conf(cf, sl_http_limit_conn_module);
    sl_str_t *value = cf->args->elts, name;
    zone_conf_t *zc = sl_pcalloc(cf->pool, sizeof(zone_conf_t));
    size_t size;

    if (zc == NULL || sl_http_compile_value(cf, &value[1], &zc->key) != SL_OK) {
        return SL_CONF_ERROR;
    }
    if (value[2].len <= 5 || memcmp(value[2].data, "zone=", 5) != 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid parameter \"%.*s\"", SL_STR_ARG(value[2]));
        return SL_CONF_ERROR;
    }
    if (sl_http_limit_zone_parse(cf, &value[2], &name, &size) != SL_OK) {
        return SL_CONF_ERROR;
    }
    if (name.len == 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "\"%.*s\" must have \"zone\" parameter",
                          SL_STR_ARG(cmd->name));
        return SL_CONF_ERROR;
    }
    sl_http_limit_zone_t *zone =
        sl_http_limit_zone_add(cf, &mcf->zones, &name, size, "limit_conn_zone");
    if (zone == NULL) {
        return SL_CONF_ERROR;
    }
    if (zone->data) {
        zone_conf_t *old = zone->data;
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "%.*s \"%.*s\" is already bound to key \"%.*s\"",
                          SL_STR_ARG(cmd->name), SL_STR_ARG(name), SL_STR_ARG(old->key.value));
        return SL_CONF_ERROR;
    }
    zone->data = zc;
    zone->key = value[1];
    return SL_CONF_OK;
}

/* limit_conn ZONE NUMBER */
static char *set_limit(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    main_conf_t *mcf = sl_http_conf_get_module_main_conf(cf, sl_http_limit_conn_module);
    loc_conf_t *lcf = conf;
    sl_str_t *value = cf->args->elts;
    sl_http_limit_zone_t *zone =
        sl_http_limit_zone_add(cf, &mcf->zones, &value[1], 0, "limit_conn_zone");

    if (zone == NULL) {
        return SL_CONF_ERROR;
    }
    if (sl_http_limit_is_duplicate(lcf, zone, sizeof(limit_t))) {
        return "is duplicate";
    }
    sl_int_t n = sl_atoi(value[2].data, value[2].len);
    if (n <= 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid number of connections \"%.*s\"",
                          SL_STR_ARG(value[2]));
        return SL_CONF_ERROR;
    }
    if (n > 65535) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "connection limit must be less 65536");
        return SL_CONF_ERROR;
    }
    limit_t limit = { zone, (sl_uint_t) n };
    (void) cmd;
    return sl_http_limit_add(cf, lcf, &limit, sizeof(limit));
}
