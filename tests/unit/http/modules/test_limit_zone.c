/*
 * test_limit_zone.c: the shared-memory table of limit_req and limit_conn
 * (sl_http_limit_zone.c): zones declared by name and sized once, a mapping per zone, keys
 * found, inserted and deleted under the lock, the least recently used node at the tail, a
 * full zone refusing a new node until one is deleted, and a zone of a new configuration
 * taking over the mapping of the old one (a reload) unless its key changed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "sl_http_limit_zone.h"
#include "sl_pool.h"
#include "sl_test_log.h"

static sl_open_file_t log_file;
static sl_log_t test_log;
static sl_cycle_t cycle;
static sl_conf_t cf;
static sl_array_t zones;

static int setup(void **state)
{
    sl_test_log_open(&test_log, &log_file, SL_LOG_INFO);
    memset(&cycle, 0, sizeof(cycle));
    cycle.pool = sl_pool_create(SL_POOL_DEFAULT_SIZE, &test_log);
    cycle.log = &test_log;
    memset(&cf, 0, sizeof(cf));
    cf.cycle = &cycle;
    cf.pool = cycle.pool;
    cf.temp_pool = cycle.pool;
    cf.log = &test_log;
    return sl_array_init(&zones, cycle.pool, 4, sizeof(void *)) == SL_OK ? 0 : -1;
}

static int teardown(void **state)
{
    sl_pool_destroy(cycle.pool); /* unmaps the zones */
    return 0;
}

static sl_str_t str(const char *s)
{
    sl_str_t v = { strlen(s), (u_char *) s };
    return v;
}

static sl_http_limit_zone_t *zone_of(const char *name, size_t size, const char *key)
{
    sl_str_t n = str(name);
    sl_http_limit_zone_t *z = sl_http_limit_zone_add(&cf, &zones, &n, size, "limit_req");

    assert_non_null(z);
    if (key) {
        z->key = str(key);
    }
    return z;
}

static sl_http_limit_node_t *insert(sl_http_limit_zone_t *z, const char *key)
{
    sl_str_t k = str(key);
    return sl_http_limit_insert(z, (uint32_t) k.len, &k);
}

static sl_http_limit_node_t *lookup(sl_http_limit_zone_t *z, const char *key)
{
    sl_str_t k = str(key);
    return sl_http_limit_lookup(z, (uint32_t) k.len, &k);
}

static void test_declare_and_size(void **state)
{
    sl_http_limit_zone_t *a = zone_of("a", 0, NULL);

    assert_int_equal(a->size, 0);
    assert_ptr_equal(zone_of("a", 65536, "$k"), a); /* sized later: the same zone */
    assert_int_equal(a->size, 65536);
    sl_str_t n = str("a");
    assert_null(sl_http_limit_zone_add(&cf, &zones, &n, 131072, "limit_req")); /* conflict */
    assert_int_equal(a->log_ctx.len, strlen(" in limit_req zone \"a\""));
    assert_memory_equal(a->log_ctx.data, " in limit_req zone \"a\"", a->log_ctx.len);
}

static void test_unsized_zone_is_an_error(void **state)
{
    zone_of("never", 0, NULL);
    assert_int_equal(sl_http_limit_zones_map(&cf, &zones), SL_ERROR);
}

static void test_nodes_and_lru(void **state)
{
    sl_http_limit_zone_t *z = zone_of("t", 65536, "$k");

    assert_int_equal(sl_http_limit_zones_map(&cf, &zones), SL_OK);
    sl_slab_lock(z->pool);
    assert_null(sl_http_limit_oldest(z));
    sl_http_limit_node_t *x = insert(z, "x"), *y = insert(z, "yy"), *w = insert(z, "w");
    assert_non_null(x);
    assert_ptr_equal(lookup(z, "x"), x);
    assert_ptr_equal(lookup(z, "yy"), y);
    assert_ptr_equal(lookup(z, "w"), w); /* same hash as "x": a chain of two */
    assert_null(lookup(z, "zz"));
    assert_ptr_equal(sl_http_limit_oldest(z), x);
    sl_http_limit_touch(z, x);
    assert_ptr_equal(sl_http_limit_oldest(z), y);
    sl_http_limit_delete(z, y);
    assert_null(lookup(z, "yy"));
    assert_ptr_equal(sl_http_limit_oldest(z), w);
    sl_http_limit_delete(z, w);
    assert_ptr_equal(lookup(z, "x"), x);
    sl_http_limit_delete(z, x);
    assert_null(sl_http_limit_oldest(z));
    sl_slab_unlock(z->pool);
}

static void test_full_zone(void **state)
{
    sl_http_limit_zone_t *z = zone_of("full", 8 * sl_pagesize(), "$k");
    char key[32];
    int n = 0;

    assert_int_equal(sl_http_limit_zones_map(&cf, &zones), SL_OK);
    sl_slab_lock(z->pool);
    for (;; n++) {
        snprintf(key, sizeof(key), "key-%d", n);
        if (insert(z, key) == NULL) {
            break;
        }
    }
    assert_true(n > 10);
    sl_http_limit_delete(z, sl_http_limit_oldest(z));
    assert_non_null(insert(z, key)); /* room again */
    sl_slab_unlock(z->pool);
}

/* A second configuration's zone of the same name and size shares the first one's nodes. */
static void test_reload_takes_over(void **state)
{
    sl_http_limit_zone_t *old = zone_of("r", 65536, "$k");

    assert_int_equal(sl_http_limit_zones_map(&cf, &zones), SL_OK);
    sl_slab_lock(old->pool);
    insert(old, "kept");
    sl_slab_unlock(old->pool);

    sl_array_t next;
    assert_int_equal(sl_array_init(&next, cycle.pool, 4, sizeof(void *)), SL_OK);
    sl_str_t n = str("r");
    sl_http_limit_zone_t *z = sl_http_limit_zone_add(&cf, &next, &n, 65536, "limit_req");
    z->key = str("$k");
    assert_int_equal(sl_http_limit_zones_map(&cf, &next), SL_OK);
    assert_ptr_equal(z->pool, old->pool);
    assert_non_null(lookup(z, "kept"));

    sl_array_t changed;
    assert_int_equal(sl_array_init(&changed, cycle.pool, 4, sizeof(void *)), SL_OK);
    z = sl_http_limit_zone_add(&cf, &changed, &n, 65536, "limit_req");
    z->key = str("$other");
    assert_int_equal(sl_http_limit_zones_map(&cf, &changed), SL_ERROR);

    sl_array_t resized;
    assert_int_equal(sl_array_init(&resized, cycle.pool, 4, sizeof(void *)), SL_OK);
    z = sl_http_limit_zone_add(&cf, &resized, &n, 131072, "limit_req");
    z->key = str("$other");
    assert_int_equal(sl_http_limit_zones_map(&cf, &resized), SL_OK);
    assert_ptr_not_equal(z->pool, old->pool);
    assert_null(lookup(z, "kept"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_declare_and_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsized_zone_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nodes_and_lru, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_zone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_takes_over, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
