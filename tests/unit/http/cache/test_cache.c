/*
 * test_cache.c: the proxy cache's parts that need no request: the file's name by levels,
 * the header written and read back (and refused when it is not ours), the validity the
 * response headers give, the keys zone (nodes found again, LRU eviction when full, the
 * manager's inactive and max_size passes, never freeing an entry in use).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sl_http_cache.h"
#include "sl_pool.h"
#include "sl_time.h"

static sl_pool_t *pool;

static int setup(void **state)
{
    (void) state;
    pool = sl_pool_create(16384, NULL);
    return pool ? 0 : -1;
}

static int teardown(void **state)
{
    (void) state;
    sl_pool_destroy(pool);
    return 0;
}

static void test_md5_and_name(void **state)
{
    sl_str_t key = sl_string("http127.0.0.1:8081/a");
    u_char md5[SL_HTTP_CACHE_KEY_LEN];
    sl_path_t path = { sl_string("/c"), { 1, 2, 0 }, NULL, 0 };
    sl_http_cache_t cache = { .path = &path };

    (void) state;
    assert_int_equal(sl_http_cache_md5(&key, md5), SL_OK);
    u_char *name = sl_http_cache_file_name(pool, &cache, md5);
    /* echo -n http127.0.0.1:8081/a | md5sum: 2a18e4dce74268f77a568b53df3d16f1; the levels
     * take the name's last character, then the two before it (as nginx: .../c/29/...029c) */
    assert_string_equal((char *) name, "/c/1/6f/2a18e4dce74268f77a568b53df3d16f1");
}

static void test_header_round_trip(void **state)
{
    sl_http_cache_meta_t out = { 0 }, in = { 0 };

    (void) state;
    sl_str_set(&out.key, "the key");
    sl_str_set(&out.etag, "\"v1\"");
    sl_str_set(&out.vary, "Accept-Language");
    sl_str_set(&out.response, "HTTP/1.1 200 OK\r\nX: y\r\n\r\n");
    out.h.valid_sec = 1234;
    out.h.last_modified = 99;
    u_char *buf = sl_http_cache_header_build(pool, &out);
    assert_non_null(buf);
    size_t n = out.h.body_start;
    assert_int_equal(sl_http_cache_header_parse(buf, 10, &in), SL_DECLINED);
    assert_int_equal(sl_http_cache_header_parse(buf, n - 1, &in), SL_AGAIN);
    assert_int_equal(sl_http_cache_header_parse(buf, n, &in), SL_OK);
    assert_int_equal(in.h.valid_sec, 1234);
    assert_int_equal(in.h.last_modified, 99);
    assert_true(sl_str_eq(&in.key, &out.key));
    assert_true(sl_str_eq(&in.etag, &out.etag));
    assert_true(sl_str_eq(&in.vary, &out.vary));
    assert_true(sl_str_eq(&in.response, &out.response));
    /* another version is not ours */
    buf[4]++;
    assert_int_equal(sl_http_cache_header_parse(buf, n, &in), SL_DECLINED);
    buf[4]--;
    /* a response header without its empty line is broken */
    buf[n - 1] = 'x';
    assert_int_equal(sl_http_cache_header_parse(buf, n, &in), SL_DECLINED);
}

static void test_cache_control(void **state)
{
    sl_http_cache_control_t cc = { 0, 0, -1, -1, -1 };
    sl_str_t v1 = sl_string("public, max-age=60, stale-if-error=5");
    sl_str_t v2 = sl_string("s-maxage=10");
    sl_str_t v3 = sl_string("max-age=99");
    sl_str_t nc = sl_string("max-age=60, No-Cache");
    sl_str_t priv = sl_string("private=\"x\"");

    (void) state;
    sl_http_cache_control_parse(&v1, &cc);
    assert_int_equal(cc.max_age, 60);
    assert_int_equal(cc.stale_if_error, 5);
    assert_false(cc.no_store);
    sl_http_cache_control_parse(&v2, &cc);
    sl_http_cache_control_parse(&v3, &cc);
    assert_int_equal(cc.max_age, 10); /* s-maxage wins, in any header */
    sl_http_cache_control_t c2 = { 0, 0, -1, -1, -1 };
    sl_http_cache_control_parse(&nc, &c2);
    assert_true(c2.no_store);
    sl_http_cache_control_t c3 = { 0, 0, -1, -1, -1 };
    sl_http_cache_control_parse(&priv, &c3);
    assert_false(c3.no_store); /* "private=" with a field list is not "private" alone */
}

static void test_x_accel_expires_and_valid(void **state)
{
    sl_str_t n = sl_string("60"), at = sl_string("@100"), zero = sl_string("0"),
             bad = sl_string("x");
    sl_array_t *a = sl_array_create(pool, 2, sizeof(sl_http_cache_valid_t));
    sl_http_cache_valid_t *v;

    (void) state;
    assert_int_equal(sl_http_cache_x_accel_expires(&n, 1000), 1060);
    assert_int_equal(sl_http_cache_x_accel_expires(&at, 1000), 100);
    assert_int_equal(sl_http_cache_x_accel_expires(&zero, 1000), 0);
    assert_int_equal(sl_http_cache_x_accel_expires(&bad, 1000), -1);
    v = sl_array_push(a);
    v->status = 404;
    v->valid = 5;
    v = sl_array_push(a);
    v->status = 0;
    v->valid = 7;
    v = sl_array_push(a);
    v->status = 200;
    v->valid = 9;
    assert_int_equal(sl_http_cache_valid_for(a, 404), 5);
    assert_int_equal(sl_http_cache_valid_for(a, 200), 7); /* the first that names it: any */
    assert_int_equal(sl_http_cache_valid_for(NULL, 200), 0);
}

/* A keys zone in private memory (the tests have one process). */
static sl_http_cache_t *zone(size_t size, sl_path_t *path)
{
    sl_http_cache_t *c = sl_pcalloc(pool, sizeof(sl_http_cache_t));

    c->size = size;
    c->path = path;
    c->inactive = 10;
    c->max_size = SL_MAX_OFF_T_VALUE;
    c->shm.size = size;
    c->shm.addr = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(c->shm.addr != MAP_FAILED);
    assert_int_equal(sl_http_cache_zone_init(c), SL_OK);
    return c;
}

static void key_of(int i, u_char *key)
{
    memset(key, 0, SL_HTTP_CACHE_KEY_LEN);
    memcpy(key, &i, sizeof(i));
    key[15] = (u_char) i;
}

static void test_zone_nodes_and_eviction(void **state)
{
    sl_path_t path = { sl_string("/nonexistent-sl-cache"), { 0 }, NULL, 0 };
    sl_http_cache_t *c = zone(64 * 1024, &path);
    u_char key[SL_HTTP_CACHE_KEY_LEN];

    (void) state;
    key_of(1, key);
    sl_http_cache_node_t *n1 = sl_http_cache_acquire(c, key);
    assert_non_null(n1);
    assert_int_equal(n1->uses, 1);
    assert_ptr_equal(sl_http_cache_acquire(c, key), n1);
    assert_int_equal(n1->uses, 2);
    assert_int_equal(n1->count, 2);
    sl_http_cache_release(c, n1);
    sl_http_cache_release(c, n1);
    sl_http_cache_node_published(c, n1, 100, 4096, 200);
    assert_int_equal(c->sh->size, 8);
    /* fill the zone: the unused nodes go, least recently used first, never one in use */
    key_of(2, key);
    sl_http_cache_node_t *held = sl_http_cache_acquire(c, key);
    for (int i = 3; i < 3000; i++) {
        key_of(i, key);
        sl_http_cache_node_t *n = sl_http_cache_acquire(c, key);
        assert_non_null(n);
        sl_http_cache_release(c, n);
    }
    assert_true(c->sh->watermark != (sl_uint_t) -1);
    key_of(2, key);
    assert_ptr_equal(sl_http_cache_acquire(c, key), held);
    assert_int_equal(held->count, 2);
    munmap(c->shm.addr, c->size);
}

static void test_manager_passes(void **state)
{
    sl_path_t path = { sl_string("/nonexistent-sl-cache"), { 0 }, NULL, 0 };
    sl_http_cache_t *c = zone(64 * 1024, &path);
    u_char key[SL_HTTP_CACHE_KEY_LEN];

    (void) state;
    sl_time_update();
    for (int i = 0; i < 4; i++) {
        key_of(i, key);
        assert_int_equal(sl_http_cache_load_file(c, key, 0, 4096, 100), SL_OK);
    }
    assert_int_equal(c->sh->count, 4);
    assert_int_equal(c->sh->size, 32);
    c->max_size = 3 * 4096;
    assert_true(sl_http_cache_over_limits(c));
    assert_int_equal(sl_http_cache_forced_expire(c), 0);
    assert_int_equal(sl_http_cache_forced_expire(c), 0);
    assert_false(sl_http_cache_over_limits(c));
    assert_int_equal(c->sh->count, 2);
    /* nothing is past inactive yet: the wait until the first is */
    time_t wait = sl_http_cache_expire_inactive(c);
    assert_true(wait > 0 && wait <= 10);
    assert_int_equal(c->sh->count, 2);
    munmap(c->shm.addr, c->size);
}

/*
 * The manager never frees a node a request holds (a reader with the file open, a writer
 * about to publish) nor removes its file, however old or over the limits; once released it
 * goes, file and all.  A dead updater's mark is cleared by the master's hook.
 */
static void test_held_entry_survives_manager(void **state)
{
    char dir[] = "/tmp/sl-test-cache-XXXXXX";
    u_char key[SL_HTTP_CACHE_KEY_LEN];

    (void) state;
    assert_non_null(mkdtemp(dir));
    sl_path_t path = { { strlen(dir), (u_char *) dir }, { 0 }, NULL, 0 };
    sl_http_cache_t *c = zone(64 * 1024, &path);
    sl_time_update();
    key_of(7, key);
    char *name = (char *) sl_http_cache_file_name(pool, c, key);
    assert_non_null(name);
    FILE *f = fopen(name, "w");
    assert_non_null(f);
    fclose(f);
    sl_http_cache_node_t *n = sl_http_cache_acquire(c, key);
    assert_non_null(n);
    sl_http_cache_node_published(c, n, 0, 4096, 100);
    n->expire = 0;
    n->updating = 1;
    n->updater = 424242;
    c->max_size = 1;
    assert_true(sl_http_cache_over_limits(c));
    assert_int_equal(sl_http_cache_forced_expire(c), 1);
    (void) sl_http_cache_expire_inactive(c);
    assert_int_equal(c->sh->count, 1);
    assert_int_equal(access(name, F_OK), 0);
    /* another process's death leaves the mark; the updater's clears it */
    c->shm.process_died(&c->shm, 424243);
    assert_int_equal(n->updating, 1);
    c->shm.process_died(&c->shm, 424242);
    assert_int_equal(n->updating, 0);
    sl_http_cache_release(c, n);
    n->expire = 0;
    (void) sl_http_cache_expire_inactive(c);
    assert_int_equal(c->sh->count, 0);
    assert_int_equal(access(name, F_OK), -1);
    assert_int_equal(rmdir(dir), 0);
    munmap(c->shm.addr, c->size);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_md5_and_name),
        cmocka_unit_test(test_header_round_trip),
        cmocka_unit_test(test_cache_control),
        cmocka_unit_test(test_x_accel_expires_and_valid),
        cmocka_unit_test(test_zone_nodes_and_eviction),
        cmocka_unit_test(test_manager_passes),
        cmocka_unit_test(test_held_entry_survives_manager),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
