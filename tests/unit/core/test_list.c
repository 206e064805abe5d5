/*
 * test_list.c: chunked lists whose elements never move.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "sl_core.h"
#include "sl_list.h"
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

typedef struct {
    int key;
    char name[12];
} item_t;

static void test_push_across_parts(void **state)
{
    sl_pool_t *pool = *state;
    sl_list_t list;
    item_t *ptrs[10];

    assert_int_equal(sl_list_init(&list, pool, 3, sizeof(item_t)), SL_OK);
    assert_int_equal(sl_list_count(&list), 0);
    assert_ptr_equal(list.last, &list.part);
    assert_null(list.part.next);

    for (int i = 0; i < 10; i++) {
        item_t *it = sl_list_push(&list);
        assert_non_null(it);
        it->key = i;
        ptrs[i] = it;
    }
    assert_int_equal(sl_list_count(&list), 10);

    /* Parts of 3, 3, 3, 1. */
    sl_list_part_t *p = &list.part;
    sl_uint_t sizes[] = { 3, 3, 3, 1 };
    for (int k = 0; k < 4; k++) {
        assert_non_null(p);
        assert_int_equal(p->nelts, sizes[k]);
        p = p->next;
    }
    assert_null(p);
    assert_int_equal(list.last->nelts, 1);
    assert_ptr_equal(list.last->elts, ptrs[9]);

    /* Elements did not move. */
    for (int i = 0; i < 10; i++) {
        assert_int_equal(ptrs[i]->key, i);
    }
    /* Within a part, elements are contiguous. */
    assert_ptr_equal(ptrs[1], ptrs[0] + 1);
    assert_ptr_equal(ptrs[2], ptrs[0] + 2);
}

static void test_foreach(void **state)
{
    sl_pool_t *pool = *state;
    sl_list_t list;
    int expect = 0;

    assert_int_equal(sl_list_init(&list, pool, 4, sizeof(int)), SL_OK);
    /* An empty list visits nothing. */
    SL_LIST_FOREACH(&list, part, i, int, v)
    {
        (void) v;
        fail();
    }
    for (int i = 0; i < 11; i++) {
        *(int *) sl_list_push(&list) = i * i;
    }
    SL_LIST_FOREACH(&list, part, i, int, v)
    {
        assert_int_equal(*v, expect * expect);
        expect++;
    }
    assert_int_equal(expect, 11);
}

/* n = 0 must not hand out elements outside any allocation. */
static void test_init_zero(void **state)
{
    sl_pool_t *pool = *state;
    sl_list_t list;

    assert_int_equal(sl_list_init(&list, pool, 0, sizeof(int)), SL_OK);
    int *other[5];
    for (int i = 0; i < 5; i++) {
        int *p = sl_list_push(&list);
        assert_non_null(p);
        *p = i;
        /* Other pool users must not share the elements' memory. */
        other[i] = sl_palloc(pool, sizeof(int));
        *other[i] = -1;
    }
    for (int i = 0; i < 5; i++) {
        assert_int_equal(*other[i], -1);
    }
    assert_int_equal(sl_list_count(&list), 5);
    int expect = 0;
    SL_LIST_FOREACH(&list, part, i, int, v)
    {
        assert_int_equal(*v, expect++);
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup_pool, teardown_pool)
    const struct CMUnitTest tests[] = {
        T(test_push_across_parts),
        T(test_foreach),
        T(test_init_zero),
    };
#undef T

    return cmocka_run_group_tests(tests, NULL, NULL);
}
