/*
 * sl_http_limit_req_module.c: limit_req_zone, limit_req, limit_req_status,
 * limit_req_log_level, limit_req_dry_run and $limit_req_status, as nginx 1.22.
 *
 * Each key value has a leaky bucket in the zone (shared by every worker): its level,
 * "excess", in thousandths of a request, drains at the zone's rate and rises by one request
 * per request.  A request that would take it above burst is rejected (503 by default); one
 * that takes it above the delay threshold (burst without nodelay, delay= otherwise, 0 with
 * neither) waits until the bucket would have drained down to it, on a timer.  Several
 * limit_req of a level are checked in order: the nodes of all but the last are held
 * ("count") until the last decides, so a rejection by a later zone costs the earlier ones
 * nothing; the longest delay any of them asks for is the one kept.  The arithmetic is
 * nginx's, integer for integer, so the same request times give the same verdicts.
 *
 * The check runs in the preaccess phase, once per main request: an internal redirect does
 * not count a request twice.
 */
#include "sl_crc32.h"
#include "sl_http_limit_conf.h"
#include "sl_http_limit_zone.h"
#include "sl_http_request.h"
#include "sl_http_variables.h"
#include "sl_pool.h"

enum {
    LIMIT_REQ_PASSED = 1,
    LIMIT_REQ_DELAYED,
    LIMIT_REQ_REJECTED,
    LIMIT_REQ_DELAYED_DRY_RUN,
    LIMIT_REQ_REJECTED_DRY_RUN,
};

/* A zone's settings (limit_req_zone), in process memory. */
typedef struct {
    sl_http_complex_value_t key;
    /** requests per second, times 1000 */
    sl_uint_t rate;
    /** the node held between lookup and accounting (this worker's, this request's) */
    sl_http_limit_node_t *node;
} zone_conf_t;

typedef struct {
    sl_http_limit_zone_t *zone;
    /** in thousandths of a request */
    sl_uint_t burst;
    sl_uint_t delay;
} limit_t;

typedef sl_http_limit_main_conf_t main_conf_t;

typedef struct {
    sl_http_limit_loc_conf_t common;
    /** a delay is logged one level below a rejection (info stays info) */
    sl_uint_t delay_log_level;
} loc_conf_t;

static void *create_main_conf(sl_conf_t *cf);
static void *create_loc_conf(sl_conf_t *cf);
static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child);
static sl_int_t add_variables(sl_conf_t *cf);
static sl_int_t postconfiguration(sl_conf_t *cf);
static char *set_zone(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *set_limit(sl_conf_t *cf, sl_command_t *cmd, void *conf);

#define CTX (SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF)

// clang-format off
static sl_command_t limit_req_commands[] = {
    { sl_string("limit_req_zone"), SL_HTTP_MAIN_CONF | SL_CONF_TAKE3, set_zone, 0, 0, NULL },
    { sl_string("limit_req"), CTX | SL_CONF_TAKE123, set_limit, SL_HTTP_LOC_CONF_OFFSET, 0,
      NULL },
    { sl_string("limit_req_log_level"), CTX | SL_CONF_TAKE1, sl_conf_set_enum_slot,
      SL_HTTP_LOC_CONF_OFFSET, offsetof(loc_conf_t, common.log_level),
      sl_http_limit_log_levels },
    { sl_string("limit_req_status"), CTX | SL_CONF_TAKE1, sl_conf_set_num_slot,
      SL_HTTP_LOC_CONF_OFFSET, offsetof(loc_conf_t, common.status),
      &sl_http_limit_status_bounds },
    { sl_string("limit_req_dry_run"), CTX | SL_CONF_FLAG, sl_conf_set_flag_slot,
      SL_HTTP_LOC_CONF_OFFSET, offsetof(loc_conf_t, common.dry_run), NULL },
    sl_null_command,
};
// clang-format on

static sl_http_module_t limit_req_module_ctx = {
    add_variables, postconfiguration, create_main_conf, NULL, NULL,
    NULL,          create_loc_conf,   merge_loc_conf,
};

sl_module_t sl_http_limit_req_module = {
    "http_limit_req",   0,    0,    SL_HTTP_MODULE, &limit_req_module_ctx,
    limit_req_commands, NULL, NULL, NULL,
};

/* ---- the bucket ---- */

/* Milliseconds since the node was last brought up to date: a clock that went back a
 * little counts as no time, one that went back a lot as 1 ms (nginx's rule). */
static int64_t elapsed(const sl_http_limit_node_t *node, sl_msec_t now)
{
    int64_t ms = (int64_t) (now - node->last);

    if (ms < -60000) {
        return 1;
    }
    return ms < 0 ? 0 : ms;
}

static int64_t level_after(const sl_http_limit_node_t *node, const zone_conf_t *zc, int64_t ms)
{
    int64_t excess = node->excess - (int64_t) zc->rate * ms / 1000 + 1000;

    return excess < 0 ? 0 : excess;
}

/* Drops unused nodes from the old end of the queue: with force, the oldest whatever its
 * state, then up to two (one without force) whose buckets have been empty for a minute.
 * A node held by a request stops the walk: nodes are moved to the front when used. */
static void expire(sl_http_limit_zone_t *zone, const zone_conf_t *zc, int force)
{
    sl_msec_t now = sl_current_msec;

    for (int n = force ? 0 : 1; n < 3; n++) {
        sl_http_limit_node_t *node = sl_http_limit_oldest(zone);
        if (node == NULL || node->count) {
            return;
        }
        if (n != 0) {
            int64_t ms = (int64_t) (now - node->last);
            ms = ms < 0 ? -ms : ms;
            if (ms < 60000 || node->excess - (int64_t) zc->rate * ms / 1000 > 0) {
                return;
            }
        }
        sl_http_limit_delete(zone, node);
    }
}

static sl_http_limit_node_t *new_node(sl_http_limit_zone_t *zone, const zone_conf_t *zc,
                                      uint32_t hash, const sl_str_t *key)
{
    expire(zone, zc, 0);
    sl_http_limit_node_t *node = sl_http_limit_insert(zone, hash, key);
    if (node == NULL) {
        expire(zone, zc, 1);
        node = sl_http_limit_insert(zone, hash, key);
    }
    if (node == NULL) {
        sl_log_error(SL_LOG_ALERT, sl_cycle->log, 0, "could not allocate node%.*s",
                     SL_STR_ARG(zone->log_ctx));
    }
    return node;
}

/*
 * Under the zone's lock.  SL_BUSY: the request goes over burst (*excess says by how much);
 * SL_OK: it is counted (the last limit); SL_AGAIN: the node is held for the accounting;
 * SL_ERROR: no memory for a new node.
 */
static sl_int_t lookup(limit_t *limit, uint32_t hash, const sl_str_t *key, int64_t *excess,
                       int account)
{
    zone_conf_t *zc = limit->zone->data;
    sl_msec_t now = sl_current_msec;
    sl_http_limit_node_t *node = sl_http_limit_lookup(limit->zone, hash, key);

    if (node) {
        sl_http_limit_touch(limit->zone, node);
        int64_t ms = elapsed(node, now);
        *excess = level_after(node, zc, ms);
        if ((sl_uint_t) *excess > limit->burst) {
            return SL_BUSY;
        }
        if (account) {
            node->excess = *excess;
            if (ms) {
                node->last = now;
            }
            return SL_OK;
        }
    } else {
        *excess = 0;
        node = new_node(limit->zone, zc, hash, key);
        if (node == NULL) {
            return SL_ERROR;
        }
        node->last = now;
        if (account) {
            return SL_OK;
        }
    }
    node->count++;
    zc->node = node;
    return SL_AGAIN;
}

/* Lets go of the nodes held by the first n limits (the request was rejected). */
static void release(limit_t *limits, sl_uint_t n)
{
    while (n--) {
        zone_conf_t *zc = limits[n].zone->data;
        if (zc->node == NULL) {
            continue;
        }
        sl_slab_lock(limits[n].zone->pool);
        zc->node->count--;
        sl_slab_unlock(limits[n].zone->pool);
        zc->node = NULL;
    }
}

/*
 * Counts the request in the nodes held by the first n limits and returns the longest delay
 * (ms) any of them asks for, with *excess and *limit of that one; *excess and *limit come
 * in as the last limit's.
 */
static sl_msec_t account(limit_t *limits, sl_uint_t n, int64_t *excess, limit_t **limit)
{
    sl_msec_t max_delay = 0;

    if ((sl_uint_t) *excess > (*limit)->delay) {
        zone_conf_t *zc = (*limit)->zone->data;
        max_delay = (sl_msec_t) ((*excess - (int64_t) (*limit)->delay) * 1000 / zc->rate);
    }
    while (n--) {
        zone_conf_t *zc = limits[n].zone->data;
        sl_http_limit_node_t *node = zc->node;
        if (node == NULL) {
            continue;
        }
        sl_slab_lock(limits[n].zone->pool);
        sl_msec_t now = sl_current_msec;
        int64_t ms = elapsed(node, now);
        int64_t level = level_after(node, zc, ms);
        if (ms) {
            node->last = now;
        }
        node->excess = level;
        node->count--;
        sl_slab_unlock(limits[n].zone->pool);
        zc->node = NULL;
        if ((sl_uint_t) level <= limits[n].delay) {
            continue;
        }
        sl_msec_t delay = (sl_msec_t) ((level - (int64_t) limits[n].delay) * 1000 / zc->rate);
        if (delay > max_delay) {
            max_delay = delay;
            *excess = level;
            *limit = &limits[n];
        }
    }
    return max_delay;
}

/* ---- the request ---- */

/* The write handler while a request waits out its delay. */
static void delay_handler(sl_http_request_t *r)
{
    sl_event_t *wev = r->connection->write;

    if (wev->delayed && !wev->timedout) {
        return;
    }
    wev->delayed = 0;
    wev->timedout = 0;
    r->read_event_handler = sl_http_block_reading;
    r->write_event_handler = sl_http_core_run_phases;
    sl_http_core_run_phases(r);
}

/* A background subrequest (a mirror) is never the connection's active request, so the
 * connection's write event would wake another: it waits on a timer of its own, removed
 * with the pool if the request ends first. */
static void on_background_delay(sl_event_t *ev)
{
    sl_http_request_t *r = ev->data;
    sl_connection_t *c = r->connection;
    unsigned was = sl_http_dispatch_enter(c);

    r->read_event_handler = sl_http_block_reading;
    r->write_event_handler = sl_http_core_run_phases;
    r->http_connection->log_ctx.request = r;
    sl_http_core_run_phases(r);
    sl_http_dispatch_leave(c, was);
}

static void cancel_background_delay(void *data)
{
    sl_event_t *ev = data;

    if (ev->timer_set) {
        sl_del_timer(ev);
    }
}

static sl_int_t wait_background(sl_http_request_t *r, sl_msec_t delay)
{
    sl_pool_cleanup_t *cln = sl_pool_cleanup_add(r->pool, sizeof(sl_event_t));

    if (cln == NULL) {
        return SL_ERROR;
    }
    sl_event_t *ev = cln->data;
    memset(ev, 0, sizeof(*ev));
    ev->data = r;
    ev->handler = on_background_delay;
    ev->log = r->connection->log;
    cln->handler = cancel_background_delay;
    r->read_event_handler = sl_http_request_empty_handler;
    r->write_event_handler = sl_http_request_empty_handler;
    sl_add_timer(ev, delay);
    return SL_AGAIN;
}

static sl_int_t reject(sl_http_request_t *r, loc_conf_t *lcf, limit_t *limit, sl_int_t rc,
                       int64_t excess)
{
    if (rc == SL_BUSY) {
        sl_log_error(lcf->common.log_level, r->connection->log, 0,
                     "limiting requests%s, excess: %u.%03u by zone \"%.*s\"",
                     lcf->common.dry_run ? ", dry run" : "", (unsigned) (excess / 1000),
                     (unsigned) (excess % 1000), SL_STR_ARG(limit->zone->name));
    }
    if (lcf->common.dry_run) {
        r->main->limit_req_status = LIMIT_REQ_REJECTED_DRY_RUN;
        return SL_DECLINED;
    }
    r->main->limit_req_status = LIMIT_REQ_REJECTED;
    return lcf->common.status;
}

static sl_int_t wait_delay(sl_http_request_t *r, loc_conf_t *lcf, limit_t *limit, int64_t excess,
                           sl_msec_t delay)
{
    sl_log_error(lcf->delay_log_level, r->connection->log, 0,
                 "delaying request%s, excess: %u.%03u, by zone \"%.*s\"",
                 lcf->common.dry_run ? ", dry run" : "", (unsigned) (excess / 1000),
                 (unsigned) (excess % 1000), SL_STR_ARG(limit->zone->name));
    if (lcf->common.dry_run) {
        r->main->limit_req_status = LIMIT_REQ_DELAYED_DRY_RUN;
        return SL_DECLINED;
    }
    r->main->limit_req_status = LIMIT_REQ_DELAYED;
    if (r->background) {
        return wait_background(r, delay);
    }
    r->read_event_handler = sl_http_test_reading;
    r->write_event_handler = delay_handler;
    r->connection->write->delayed = 1;
    sl_add_timer(r->connection->write, delay);
    return SL_AGAIN;
}

/* The key of a limit for r into *key; SL_DECLINED when the limit does not apply. */
static sl_int_t eval_key(sl_http_request_t *r, limit_t *limit, sl_str_t *key)
{
    zone_conf_t *zc = limit->zone->data;

    if (sl_http_complex_value(r, &zc->key, key) != SL_OK) {
        return SL_ERROR;
    }
    if (key->len == 0) {
        return SL_DECLINED;
    }
    if (key->len > 65535) {
        sl_log_error(SL_LOG_ERR, r->connection->log, 0,
                     "the value of the \"%.*s\" key is more than 65535 bytes: \"%.*s\"",
                     SL_STR_ARG(zc->key.value), SL_STR_ARG(*key));
        return SL_DECLINED;
    }
    return SL_OK;
}

static sl_int_t limit_req_handler(sl_http_request_t *r)
{
    loc_conf_t *lcf = sl_http_get_module_loc_conf(r, sl_http_limit_req_module);

    if (r->main->limit_req_status || lcf->common.limits == NULL) {
        return SL_DECLINED;
    }
    limit_t *limits = lcf->common.limits->elts, *limit = NULL;
    sl_int_t rc = SL_DECLINED;
    int64_t excess = 0;
    sl_uint_t n;

    for (n = 0; n < lcf->common.limits->nelts; n++) {
        sl_str_t key;
        limit = &limits[n];
        sl_int_t krc = eval_key(r, limit, &key);
        if (krc == SL_ERROR) {
            release(limits, n);
            return SL_HTTP_INTERNAL_SERVER_ERROR;
        }
        if (krc == SL_DECLINED) {
            continue;
        }
        uint32_t hash = sl_crc32(key.data, key.len);
        sl_slab_lock(limit->zone->pool);
        rc = lookup(limit, hash, &key, &excess, n == lcf->common.limits->nelts - 1);
        sl_slab_unlock(limit->zone->pool);
        if (rc != SL_AGAIN) {
            break;
        }
    }
    if (rc == SL_DECLINED) {
        return SL_DECLINED;
    }
    if (rc == SL_BUSY || rc == SL_ERROR) {
        release(limits, n);
        return reject(r, lcf, limit, rc, excess);
    }
    if (rc == SL_AGAIN) {
        excess = 0;
    }
    sl_msec_t delay = account(limits, n, &excess, &limit);
    if (delay == 0) {
        r->main->limit_req_status = LIMIT_REQ_PASSED;
        return SL_DECLINED;
    }
    return wait_delay(r, lcf, limit, excess, delay);
}

/* ---- $limit_req_status ---- */

static sl_str_t status_names[] = {
    sl_string("PASSED"),          sl_string("DELAYED"),          sl_string("REJECTED"),
    sl_string("DELAYED_DRY_RUN"), sl_string("REJECTED_DRY_RUN"),
};

static sl_int_t var_status(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    return sl_http_limit_status_value(v, status_names, r->main->limit_req_status);
}

static sl_int_t add_variables(sl_conf_t *cf)
{
    return sl_http_limit_add_status_variable(cf, "limit_req_status", var_status);
}

static sl_int_t postconfiguration(sl_conf_t *cf)
{
    return sl_http_limit_postconfiguration(
        cf, limit_req_handler, sl_http_conf_get_module_main_conf(cf, sl_http_limit_req_module));
}

/* ---- configuration ---- */

static void *create_main_conf(sl_conf_t *cf)
{
    return sl_http_limit_create_main_conf(cf);
}

static void *create_loc_conf(sl_conf_t *cf)
{
    loc_conf_t *conf = sl_pcalloc(cf->pool, sizeof(loc_conf_t));

    if (conf) {
        sl_http_limit_init_loc_conf(&conf->common);
    }
    return conf;
}

static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child)
{
    loc_conf_t *prev = parent;
    loc_conf_t *conf = child;

    sl_http_limit_merge_loc_conf(&conf->common, &prev->common);
    sl_uint_t level = conf->common.log_level;
    conf->delay_log_level = level == SL_LOG_INFO ? SL_LOG_INFO : level + 1;
    return SL_CONF_OK;
}

/* rate=Nr/s or Nr/m, kept as requests per second times 1000 */
static sl_int_t parse_rate(const sl_str_t *v, sl_uint_t *rate)
{
    size_t len = v->len - 5;
    const u_char *p = v->data + 5;
    sl_uint_t scale = 1;

    if (len >= 3 && memcmp(p + len - 3, "r/s", 3) == 0) {
        len -= 3;
    } else if (len >= 3 && memcmp(p + len - 3, "r/m", 3) == 0) {
        len -= 3;
        scale = 60;
    }
    sl_int_t n = sl_atoi(p, len);
    if (n <= 0) {
        return SL_ERROR;
    }
    *rate = (sl_uint_t) n * 1000 / scale;
    return SL_OK;
}

/* limit_req_zone KEY zone=NAME:SIZE rate=RATE */
static char *set_zone(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    main_conf_t *mcf = sl_http_conf_get_module_main_conf(cf, sl_http_limit_req_module);
    sl_str_t *value = cf->args->elts, name = sl_null_string;
    zone_conf_t *zc = sl_pcalloc(cf->pool, sizeof(zone_conf_t));
    size_t size = 0;

    if (zc == NULL || sl_http_compile_value(cf, &value[1], &zc->key) != SL_OK) {
        return SL_CONF_ERROR;
    }
    zc->rate = 1;
    for (sl_uint_t i = 2; i < cf->args->nelts; i++) {
        if (value[i].len > 5 && memcmp(value[i].data, "zone=", 5) == 0) {
            if (sl_http_limit_zone_parse(cf, &value[i], &name, &size) != SL_OK) {
                return SL_CONF_ERROR;
            }
            continue;
        }
        if (value[i].len > 5 && memcmp(value[i].data, "rate=", 5) == 0) {
            if (parse_rate(&value[i], &zc->rate) != SL_OK) {
                sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid rate \"%.*s\"",
                                  SL_STR_ARG(value[i]));
                return SL_CONF_ERROR;
            }
            continue;
        }
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid parameter \"%.*s\"", SL_STR_ARG(value[i]));
        return SL_CONF_ERROR;
    }
    if (name.len == 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "\"%.*s\" must have \"zone\" parameter",
                          SL_STR_ARG(cmd->name));
        return SL_CONF_ERROR;
    }
    sl_http_limit_zone_t *zone = sl_http_limit_zone_add(cf, &mcf->zones, &name, size, "limit_req");
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

/* burst=N or delay=N, kept in thousandths */
static sl_int_t parse_count(const sl_str_t *v, size_t skip, sl_uint_t *out)
{
    sl_int_t n = sl_atoi(v->data + skip, v->len - skip);

    if (n <= 0) {
        return SL_ERROR;
    }
    *out = (sl_uint_t) n * 1000;
    return SL_OK;
}

/* limit_req zone=NAME [burst=N] [nodelay | delay=N] */
static char *set_limit(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    main_conf_t *mcf = sl_http_conf_get_module_main_conf(cf, sl_http_limit_req_module);
    sl_str_t *value = cf->args->elts;
    limit_t limit = { NULL, 0, 0 };
    int nodelay = 0;

    for (sl_uint_t i = 1; i < cf->args->nelts; i++) {
        sl_str_t *v = &value[i];
        if (v->len > 5 && memcmp(v->data, "zone=", 5) == 0) {
            sl_str_t name = { v->len - 5, v->data + 5 };
            limit.zone = sl_http_limit_zone_add(cf, &mcf->zones, &name, 0, "limit_req");
            if (limit.zone == NULL) {
                return SL_CONF_ERROR;
            }
        } else if (v->len > 6 && memcmp(v->data, "burst=", 6) == 0) {
            if (parse_count(v, 6, &limit.burst) != SL_OK) {
                sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid burst value \"%.*s\"",
                                  SL_STR_ARG(*v));
                return SL_CONF_ERROR;
            }
        } else if (v->len > 6 && memcmp(v->data, "delay=", 6) == 0) {
            if (parse_count(v, 6, &limit.delay) != SL_OK) {
                sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid delay value \"%.*s\"",
                                  SL_STR_ARG(*v));
                return SL_CONF_ERROR;
            }
        } else if (sl_str_eq_cstr(v, "nodelay")) {
            nodelay = 1;
        } else {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid parameter \"%.*s\"", SL_STR_ARG(*v));
            return SL_CONF_ERROR;
        }
    }
    if (limit.zone == NULL) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "\"%.*s\" must have \"zone\" parameter",
                          SL_STR_ARG(cmd->name));
        return SL_CONF_ERROR;
    }
    if (nodelay) {
        limit.delay = (sl_uint_t) -1 / 2;
    }
    return sl_http_limit_add(cf, &((loc_conf_t *) conf)->common, &limit, sizeof(limit));
}
