/*
 * test_pool.c: the region allocator: blocks, large allocations, cleanups, reset.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "sl_core.h"
#include "sl_buf.h"
#include "sl_log.h"
#include "sl_pool.h"

static sl_log_t test_log = { .log_level = SL_LOG_ERR };

static void test_create(void **state)
{
    (void) state;
    sl_pool_t *pool = sl_pool_create(4096, &test_log);

    assert_non_null(pool);
    assert_ptr_equal(pool->log, &test_log);
    assert_null(pool->large);
    assert_null(pool->cleanup);
    assert_null(pool->chain);
    assert_ptr_equal(pool->current, pool->first);
    /* One malloc: the header and the first block. */
    assert_int_equal(sl_pool_footprint(pool), 4096);
    assert_int_equal(pool->block_size + sizeof(sl_pool_t), 4096);
    assert_true(pool->max_small <= SL_POOL_MAX_SMALL);
    assert_true(pool->max_small < pool->block_size);
    sl_pool_destroy(pool);

    /* The default size caps small allocations at SL_POOL_MAX_SMALL. */
    pool = sl_pool_create(SL_POOL_DEFAULT_SIZE, &test_log);
    assert_int_equal(pool->max_small, SL_POOL_MAX_SMALL);
    sl_pool_destroy(pool);

    /* A tiny size is raised to something usable. */
    pool = sl_pool_create(1, &test_log);
    assert_non_null(pool);
    assert_true(pool->max_small > 0);
    assert_non_null(sl_palloc(pool, 8));
    sl_pool_destroy(pool);

    sl_pool_destroy(NULL);
}

static void test_alignment(void **state)
{
    (void) state;
    sl_pool_t *pool = sl_pool_create(1024, &test_log);

    for (size_t i = 1; i < 300; i++) {
        u_char *odd = sl_pnalloc(pool, i % 7 + 1);
        void *p = sl_palloc(pool, i % 13 + 1);

        assert_non_null(odd);
        assert_non_null(p);
        assert_int_equal((uintptr_t) p % SL_ALIGNMENT, 0);
        memset(p, 0xab, i % 13 + 1);
    }
    void *c = sl_pcalloc(pool, 24);
    assert_int_equal((uintptr_t) c % SL_ALIGNMENT, 0);
    sl_pool_destroy(pool);
}

/*
 * A block whose end is not aligned: aligning the next pointer must not step past the end.
 * Here the first block ends 2 bytes past an 8-byte boundary and one byte is left in it, so
 * an aligned allocation has no room there and must come from a new block.
 */
static void test_alignment_at_unaligned_block_end(void **state)
{
    (void) state;
    size_t size = 1024 + 2;
    sl_pool_t *pool = sl_pool_create(size, &test_log);
    u_char *end = (u_char *) pool + size;
    u_char *p = sl_pnalloc(pool, 1);

    assert_true(p < end);
    assert_non_null(sl_pnalloc(pool, (size_t) (end - p) - 2));
    for (int i = 0; i < 4; i++) {
        u_char *a = sl_palloc(pool, 8);

        assert_non_null(a);
        assert_int_equal((uintptr_t) a % SL_ALIGNMENT, 0);
        /* Nothing past the end of the first block. */
        assert_false(a >= (u_char *) pool && a < end + 8 && a + 8 > end);
        memset(a, 0, 8);
    }
    /* The byte left in the first block still serves an unaligned allocation. */
    assert_ptr_equal(sl_pnalloc(pool, 1), end - 1);
    sl_pool_destroy(pool);
}

/* Many small allocations spill into new blocks; none overlaps another. */
static void test_many_small(void **state)
{
    (void) state;
    enum { N = 2000, SZ = 24 };
    sl_pool_t *pool = sl_pool_create(1024, &test_log);
    u_char *ptrs[N];

    for (int i = 0; i < N; i++) {
        ptrs[i] = sl_palloc(pool, SZ);
        assert_non_null(ptrs[i]);
        memset(ptrs[i], i & 0xff, SZ);
    }
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < SZ; k++) {
            assert_int_equal(ptrs[i][k], i & 0xff);
        }
    }
    size_t fp = sl_pool_footprint(pool);
    size_t extra = fp - 1024;
    /* 48000 bytes in blocks of under 1 KB: dozens of extra blocks, each block_size. */
    assert_int_equal(extra % pool->block_size, 0);
    size_t blocks = 1 + extra / pool->block_size;
    assert_true(blocks * pool->block_size >= (size_t) N * SZ);
    assert_true(blocks <= (size_t) N * SZ / (pool->block_size / 2) + 1);
    assert_null(pool->large);
    sl_pool_destroy(pool);
}

static void test_max_small_boundary(void **state)
{
    (void) state;
    sl_pool_t *pool = sl_pool_create(1024, &test_log);
    size_t fp = sl_pool_footprint(pool);

    /* Exactly max_small is still small: it fits the first block or a new one. */
    assert_non_null(sl_palloc(pool, pool->max_small));
    assert_null(pool->large);
    assert_non_null(sl_palloc(pool, pool->max_small));
    assert_null(pool->large);
    assert_int_equal(sl_pool_footprint(pool) - fp, pool->block_size);

    /* One more byte is large. */
    fp = sl_pool_footprint(pool);
    void *l = sl_palloc(pool, pool->max_small + 1);
    assert_non_null(l);
    assert_non_null(pool->large);
    assert_true(sl_pool_footprint(pool) - fp >= pool->max_small + 1);
    sl_pool_destroy(pool);
}

static void test_large_and_pfree(void **state)
{
    (void) state;
    sl_pool_t *pool = sl_pool_create(SL_POOL_DEFAULT_SIZE, &test_log);
    size_t fp0 = sl_pool_footprint(pool);

    u_char *a = sl_palloc(pool, 100000);
    assert_non_null(a);
    assert_int_equal((uintptr_t) a % SL_ALIGNMENT, 0);
    memset(a, 1, 100000);
    assert_int_equal(sl_pool_footprint(pool), fp0 + 100000);

    u_char *b = sl_pnalloc(pool, 50000);
    assert_non_null(b);
    memset(b, 2, 50000);
    assert_int_equal(sl_pool_footprint(pool), fp0 + 150000);

    u_char *c = sl_pcalloc(pool, 8000);
    assert_non_null(c);
    for (int i = 0; i < 8000; i++) {
        assert_int_equal(c[i], 0);
    }
    assert_int_equal(sl_pool_footprint(pool), fp0 + 158000);

    /* Early free of a large allocation gives the memory back. */
    assert_int_equal(sl_pfree(pool, a), SL_OK);
    assert_int_equal(sl_pool_footprint(pool), fp0 + 58000);
    assert_int_equal(sl_pfree(pool, a), SL_DECLINED);
    assert_int_equal(sl_pfree(pool, b), SL_OK);
    assert_int_equal(sl_pool_footprint(pool), fp0 + 8000);

    /* A small allocation is not freed early. */
    void *s = sl_palloc(pool, 16);
    assert_int_equal(sl_pfree(pool, s), SL_DECLINED);
    assert_int_equal(sl_pfree(pool, NULL), SL_DECLINED);

    /* A new large allocation reuses a freed record: no small memory spent on it. */
    size_t small_fp = sl_pool_footprint(pool);
    u_char *d = sl_palloc(pool, 70000);
    assert_non_null(d);
    assert_int_equal(sl_pool_footprint(pool), small_fp + 70000);
    assert_int_equal(sl_pfree(pool, d), SL_OK);
    assert_int_equal(sl_pfree(pool, c), SL_OK);
    assert_int_equal(sl_pool_footprint(pool), fp0);
    sl_pool_destroy(pool);
}

static int order[16];
static int norder;

static void record(void *data)
{
    order[norder++] = *(int *) data;
}

static sl_pool_t *adding_pool;

/* A cleanup that registers another one while the list is being run. */
static void add_another(void *data)
{
    record(data);
    sl_pool_cleanup_t *c = sl_pool_cleanup_add(adding_pool, sizeof(int));
    assert_non_null(c);
    *(int *) c->data = 100;
    c->handler = record;
}

static sl_pool_t *with_cleanups(int n)
{
    sl_pool_t *pool = sl_pool_create(1024, &test_log);

    for (int i = 1; i <= n; i++) {
        sl_pool_cleanup_t *c = sl_pool_cleanup_add(pool, sizeof(int));

        assert_non_null(c);
        assert_non_null(c->data);
        assert_int_equal((uintptr_t) c->data % SL_ALIGNMENT, 0);
        assert_null(c->handler);
        *(int *) c->data = i;
        c->handler = record;
    }
    return pool;
}

static void test_cleanup_on_destroy(void **state)
{
    (void) state;
    sl_pool_t *pool = with_cleanups(3);

    /* A record without a handler is skipped; size 0 means no data. */
    sl_pool_cleanup_t *none = sl_pool_cleanup_add(pool, 0);
    assert_non_null(none);
    assert_null(none->data);
    assert_null(none->handler);

    norder = 0;
    sl_pool_destroy(pool);
    assert_int_equal(norder, 3);
    assert_int_equal(order[0], 3);
    assert_int_equal(order[1], 2);
    assert_int_equal(order[2], 1);
}

static void test_cleanup_on_reset(void **state)
{
    (void) state;
    sl_pool_t *pool = with_cleanups(4);

    norder = 0;
    sl_pool_reset(pool);
    assert_int_equal(norder, 4);
    assert_int_equal(order[0], 4);
    assert_int_equal(order[3], 1);
    assert_null(pool->cleanup);

    /* They ran once: destroy has nothing left to run ... */
    sl_pool_destroy(pool);
    assert_int_equal(norder, 4);

    /* ... but a cleanup added after a reset runs on destroy. */
    pool = with_cleanups(0);
    sl_pool_reset(pool);
    sl_pool_cleanup_t *c = sl_pool_cleanup_add(pool, sizeof(int));
    *(int *) c->data = 7;
    c->handler = record;
    norder = 0;
    sl_pool_destroy(pool);
    assert_int_equal(norder, 1);
    assert_int_equal(order[0], 7);
}

static void test_cleanup_added_by_cleanup(void **state)
{
    (void) state;
    sl_pool_t *pool = with_cleanups(2);
    sl_pool_cleanup_t *c = sl_pool_cleanup_add(pool, sizeof(int));

    *(int *) c->data = 3;
    c->handler = add_another;
    adding_pool = pool;
    norder = 0;
    sl_pool_destroy(pool);
    assert_int_equal(norder, 4);
    assert_int_equal(order[0], 3);
    assert_int_equal(order[1], 100);
    assert_int_equal(order[2], 2);
    assert_int_equal(order[3], 1);
}

/* Reset frees extra blocks and large allocations and starts over in the first block. */
static void test_reset_reuses_first_block(void **state)
{
    (void) state;
    sl_pool_t *pool = sl_pool_create(1024, &test_log);
    size_t fp0 = sl_pool_footprint(pool);
    void *first = sl_palloc(pool, 32);

    for (int i = 0; i < 200; i++) {
        assert_non_null(sl_palloc(pool, 40));
    }
    assert_non_null(sl_palloc(pool, 20000));
    assert_non_null(sl_palloc(pool, 30000));
    sl_chain_t *cl = sl_alloc_chain_link(pool);
    sl_free_chain_link(pool, cl);
    assert_ptr_equal(pool->chain, cl);
    assert_true(sl_pool_footprint(pool) > fp0 + 50000 + pool->block_size);

    sl_pool_reset(pool);
    assert_int_equal(sl_pool_footprint(pool), fp0);
    assert_null(pool->large);
    assert_null(pool->chain);
    assert_ptr_equal(pool->current, pool->first);

    /* The same first address comes back, zeroed by pcalloc. */
    memset(first, 0xee, 32);
    u_char *again = sl_pcalloc(pool, 32);
    assert_ptr_equal(again, first);
    for (int i = 0; i < 32; i++) {
        assert_int_equal(again[i], 0);
    }

    /* And it works as new: fill it again, reset again. */
    for (int i = 0; i < 200; i++) {
        assert_non_null(sl_palloc(pool, 40));
    }
    sl_pool_reset(pool);
    assert_int_equal(sl_pool_footprint(pool), fp0);
    assert_ptr_equal(sl_palloc(pool, 8), first);
    sl_pool_destroy(pool);
}

/* Blocks that keep failing stop being searched first; allocation still succeeds. */
static void test_current_moves_forward(void **state)
{
    (void) state;
    sl_pool_t *pool = sl_pool_create(1024, &test_log);

    for (int i = 0; i < 100; i++) {
        assert_non_null(sl_palloc(pool, pool->max_small - 8));
    }
    assert_ptr_not_equal(pool->current, pool->first);
    /* Small leftovers are still usable. */
    for (int i = 0; i < 100; i++) {
        assert_non_null(sl_palloc(pool, 4));
    }
    sl_pool_destroy(pool);
}

/* Freed pool memory of a size asked for again comes back for the next pool or large
 * allocation of that size instead of going to malloc, and what is kept stays bounded
 * however much is freed.  Sanitizer builds keep nothing (every free is a real free). */
static void test_recycled_memory_is_bounded(void **state)
{
    (void) state;
    sl_pool_recycle_drain();
    sl_pool_t *pools[400];

    for (int i = 0; i < 400; i++) {
        pools[i] = sl_pool_create(8192, &test_log);
        assert_non_null(pools[i]);
        assert_non_null(sl_palloc(pools[i], 16384)); /* a large one */
    }
    for (int i = 0; i < 400; i++) {
        sl_pool_destroy(pools[i]);
    }
    size_t kept = sl_pool_recycled_bytes();
    assert_true(kept <= 1024 * 1024);
    if (kept == 0) {
        return; /* a sanitizer build */
    }
    /* a pool kept from those is the next one of that size */
    sl_pool_t *again = sl_pool_create(8192, &test_log);
    int reused = 0;
    for (int i = 0; i < 400; i++) {
        reused |= again == pools[i];
    }
    assert_true(reused);
    assert_true(sl_pool_recycled_bytes() < kept);
    /* and it works as new */
    for (int i = 0; i < 100; i++) {
        assert_non_null(sl_pcalloc(again, 64));
    }
    sl_pool_destroy(again);
    /* many sizes: only a few classes are kept, each bounded */
    for (size_t size = 1024; size <= 64 * 1024; size += 1024) {
        sl_pool_destroy(sl_pool_create(size, &test_log));
    }
    assert_true(sl_pool_recycled_bytes() <= 1024 * 1024);
    sl_pool_recycle_drain();
    assert_int_equal(sl_pool_recycled_bytes(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create),
        cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_alignment_at_unaligned_block_end),
        cmocka_unit_test(test_many_small),
        cmocka_unit_test(test_max_small_boundary),
        cmocka_unit_test(test_large_and_pfree),
        cmocka_unit_test(test_cleanup_on_destroy),
        cmocka_unit_test(test_cleanup_on_reset),
        cmocka_unit_test(test_cleanup_added_by_cleanup),
        cmocka_unit_test(test_reset_reuses_first_block),
        cmocka_unit_test(test_current_moves_forward),
        cmocka_unit_test(test_recycled_memory_is_bounded),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
