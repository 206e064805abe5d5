/*
 * test_array.c: growable arrays in pool memory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "sl_core.h"
#include "sl_array.h"
#include "sl_log.h"
#include "sl_pool.h"

static sl_log_t test_log = { .log_level = SL_LOG_ERR };

static int setup_pool(void **state)
{
    *state = sl_pool_create(SL_POOL_DEFAULT_SIZE, &test_log);
    return *state ? 0 : -1;
}

static int teardown_pool(void **state)
{
    sl_pool_destroy(*state);
    return 0;
}

static void test_create_and_push(void **state)
{
    sl_pool_t *pool = *state;
    sl_array_t *a = sl_array_create(pool, 4, sizeof(int));

    assert_non_null(a);
    assert_int_equal(a->nelts, 0);
    assert_int_equal(a->nalloc, 4);
    assert_int_equal(a->size, sizeof(int));
    assert_ptr_equal(a->pool, pool);
    assert_non_null(a->elts);
    assert_int_equal((uintptr_t) a->elts % SL_ALIGNMENT, 0);

    void *first = a->elts;
    for (int i = 0; i < 4; i++) {
        int *p = sl_array_push(a);
        assert_non_null(p);
        assert_ptr_equal(p, (int *) a->elts + i);
        *p = i * 10;
    }
    /* Filling to capacity does not move the elements. */
    assert_ptr_equal(a->elts, first);
    assert_int_equal(a->nelts, 4);
    assert_int_equal(a->nalloc, 4);

    /* The fifth doubles the capacity and keeps the contents. */
    int *p = sl_array_push(a);
    assert_non_null(p);
    *p = 40;
    assert_int_equal(a->nelts, 5);
    assert_int_equal(a->nalloc, 8);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(((int *) a->elts)[i], i * 10);
    }
    for (int i = 5; i < 1000; i++) {
        *(int *) sl_array_push(a) = i * 10;
    }
    assert_int_equal(a->nelts, 1000);
    assert_int_equal(a->nalloc, 1024);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(((int *) a->elts)[i], i * 10);
    }
}

static void test_push_n(void **state)
{
    sl_pool_t *pool = *state;
    sl_array_t *a = sl_array_create(pool, 2, 3);

    u_char *p = sl_array_push_n(a, 2);
    assert_ptr_equal(p, a->elts);
    memcpy(p, "abcdef", 6);
    assert_int_equal(a->nelts, 2);

    /* 2 + 5 = 7 elements: capacity doubles until it fits (2 -> 4 -> 8). */
    p = sl_array_push_n(a, 5);
    assert_non_null(p);
    assert_ptr_equal(p, (u_char *) a->elts + 6);
    memcpy(p, "ghijklmnopqrstu", 15);
    assert_int_equal(a->nelts, 7);
    assert_int_equal(a->nalloc, 8);
    assert_memory_equal(a->elts, "abcdefghijklmnopqrstu", 21);

    /* Zero elements: a pointer to the end, nothing added. */
    p = sl_array_push_n(a, 0);
    assert_ptr_equal(p, (u_char *) a->elts + 21);
    assert_int_equal(a->nelts, 7);
}

static void test_init_embedded(void **state)
{
    sl_pool_t *pool = *state;
    struct {
        int before;
        sl_array_t arr;
        int after;
    } holder = { 1, { 0 }, 2 };

    assert_int_equal(sl_array_init(&holder.arr, pool, 0, sizeof(uint64_t)), SL_OK);
    assert_int_equal(holder.arr.nelts, 0);
    /* n = 0 still gives room for one. */
    assert_int_equal(holder.arr.nalloc, 1);
    uint64_t *p = sl_array_push(&holder.arr);
    *p = 0x1122334455667788ULL;
    p = sl_array_push(&holder.arr);
    *p = 42;
    assert_int_equal(holder.arr.nalloc, 2);
    assert_int_equal(((uint64_t *) holder.arr.elts)[0], 0x1122334455667788ULL);
    assert_int_equal(((uint64_t *) holder.arr.elts)[1], 42);
    assert_int_equal(holder.before, 1);
    assert_int_equal(holder.after, 2);
}

/* Growing a large array frees the old block: the footprint holds one copy. */
static void test_large_growth_frees_old(void **state)
{
    sl_pool_t *pool = *state;
    size_t fp0 = sl_pool_footprint(pool);
    sl_array_t *a = sl_array_create(pool, 8, 1000);

    assert_int_equal(sl_pool_footprint(pool), fp0 + 8000);
    for (int i = 0; i < 9; i++) {
        u_char *p = sl_array_push(a);
        memset(p, i, 1000);
    }
    assert_int_equal(a->nalloc, 16);
    assert_int_equal(sl_pool_footprint(pool), fp0 + 16000);
    for (int i = 0; i < 9; i++) {
        assert_int_equal(((u_char *) a->elts)[i * 1000 + 999], i);
    }
}

/* A zeroed array (never initialised) refuses to grow instead of doubling 0 for ever; an
 * initialised one with nalloc 0 grows. */
static void test_zeroed_array_refuses(void **state)
{
    sl_pool_t *pool = *state;
    sl_array_t zero = { 0 };

    assert_null(sl_array_push(&zero));
    assert_null(sl_array_push_n(&zero, 3));
    assert_int_equal(zero.nelts, 0);

    sl_array_t empty = { NULL, 0, sizeof(int), 0, pool };
    int *p = sl_array_push(&empty);
    assert_non_null(p);
    *p = 7;
    assert_int_equal(empty.nelts, 1);
    assert_null(sl_array_push_n(&empty, (sl_uint_t) -1));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup_pool, teardown_pool)
    const struct CMUnitTest tests[] = {
        T(test_create_and_push),      T(test_push_n),
        T(test_init_embedded),        T(test_large_growth_frees_old),
        T(test_zeroed_array_refuses),
    };
#undef T

    return cmocka_run_group_tests(tests, NULL, NULL);
}
