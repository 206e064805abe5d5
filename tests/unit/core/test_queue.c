/*
 * test_queue.c: the intrusive circular queue.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "sl_core.h"
#include "sl_queue.h"

typedef struct {
    int id;
    sl_queue_t link;
    int tail_guard;
} node_t;

/* The ids from head to tail, and checks the links agree backwards. */
static int collect(sl_queue_t *h, int *ids, int max)
{
    int n = 0;

    for (sl_queue_t *q = sl_queue_head(h); q != sl_queue_sentinel(h); q = sl_queue_next(q)) {
        assert_true(n < max);
        ids[n++] = sl_queue_data(q, node_t, link)->id;
        assert_ptr_equal(sl_queue_prev(sl_queue_next(q)), q);
        assert_ptr_equal(sl_queue_next(sl_queue_prev(q)), q);
    }
    /* Walking backwards gives the reverse. */
    int k = n;
    for (sl_queue_t *q = sl_queue_last(h); q != sl_queue_sentinel(h); q = sl_queue_prev(q)) {
        assert_int_equal(sl_queue_data(q, node_t, link)->id, ids[--k]);
    }
    assert_int_equal(k, 0);
    return n;
}

static void test_empty(void **state)
{
    (void) state;
    sl_queue_t h;
    int ids[1];

    sl_queue_init(&h);
    assert_true(sl_queue_empty(&h));
    assert_ptr_equal(sl_queue_head(&h), &h);
    assert_ptr_equal(sl_queue_last(&h), &h);
    assert_int_equal(collect(&h, ids, 1), 0);
}

static void test_insert_and_remove(void **state)
{
    (void) state;
    sl_queue_t h;
    node_t n[5];
    int ids[5];

    sl_queue_init(&h);
    for (int i = 0; i < 5; i++) {
        n[i].id = i;
        n[i].tail_guard = 0x5a5a;
    }
    sl_queue_insert_tail(&h, &n[1].link);
    sl_queue_insert_tail(&h, &n[2].link);
    sl_queue_insert_head(&h, &n[0].link);
    sl_queue_insert_tail(&h, &n[3].link);
    assert_false(sl_queue_empty(&h));
    assert_int_equal(collect(&h, ids, 5), 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ids[i], i);
    }
    assert_ptr_equal(sl_queue_head(&h), &n[0].link);
    assert_ptr_equal(sl_queue_last(&h), &n[3].link);

    /* Remove from the middle, the head and the tail. */
    sl_queue_remove(&n[2].link);
    assert_int_equal(collect(&h, ids, 5), 3);
    assert_int_equal(ids[0], 0);
    assert_int_equal(ids[1], 1);
    assert_int_equal(ids[2], 3);
    sl_queue_remove(&n[0].link);
    sl_queue_remove(&n[3].link);
    assert_int_equal(collect(&h, ids, 5), 1);
    assert_int_equal(ids[0], 1);

    /* A removed node points at itself; removing it again changes nothing. */
    assert_ptr_equal(n[2].link.next, &n[2].link);
    assert_ptr_equal(n[2].link.prev, &n[2].link);
    sl_queue_remove(&n[2].link);
    assert_int_equal(collect(&h, ids, 5), 1);

    sl_queue_remove(&n[1].link);
    assert_true(sl_queue_empty(&h));

    /* Re-inserting removed nodes works. */
    sl_queue_insert_head(&h, &n[4].link);
    sl_queue_insert_head(&h, &n[2].link);
    assert_int_equal(collect(&h, ids, 5), 2);
    assert_int_equal(ids[0], 2);
    assert_int_equal(ids[1], 4);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(n[i].tail_guard, 0x5a5a);
    }
}

static void test_data(void **state)
{
    (void) state;
    node_t n = { .id = 77 };

    assert_ptr_equal(sl_queue_data(&n.link, node_t, link), &n);
    assert_int_equal(sl_queue_data(&n.link, node_t, link)->id, 77);
}

/* A queue used as an LRU: move to the head on use, evict from the tail. */
static void test_lru_pattern(void **state)
{
    (void) state;
    sl_queue_t h;
    node_t n[4];
    int ids[4];

    sl_queue_init(&h);
    for (int i = 0; i < 4; i++) {
        n[i].id = i;
        sl_queue_insert_head(&h, &n[i].link);
    }
    /* 3 2 1 0; use 1 -> 1 3 2 0 */
    sl_queue_remove(&n[1].link);
    sl_queue_insert_head(&h, &n[1].link);
    assert_int_equal(collect(&h, ids, 4), 4);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 3);
    assert_int_equal(ids[2], 2);
    assert_int_equal(ids[3], 0);
    sl_queue_t *victim = sl_queue_last(&h);
    assert_int_equal(sl_queue_data(victim, node_t, link)->id, 0);
    sl_queue_remove(victim);
    assert_int_equal(collect(&h, ids, 4), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_insert_and_remove),
        cmocka_unit_test(test_data),
        cmocka_unit_test(test_lru_pattern),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
