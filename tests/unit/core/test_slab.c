/*
 * test_slab.c: the in-region allocator: every size class, alignment, exhaustion and recovery,
 * page runs and their merging, bad frees, a randomized soak against a shadow map, and two
 * processes sharing one pool in shared memory.
 *
 * The .c is included (as h2o's tests do) so pool_check() can walk the descriptors and
 * verify the pool's invariants after each scenario.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <sys/wait.h>

#include "sl_slab.c"
#include "sl_shm.h"

static size_t page;

static int setup(void **state)
{
    (void) state;
    page = sl_pagesize();
    return 0;
}

/* A private region for tests that do not need sharing. */
static void *region(size_t size)
{
    void *p = aligned_alloc(page, sl_align(size, page));

    assert_non_null(p);
    /* Garbage, so nothing depends on the region starting zeroed. */
    memset(p, 0xa5, size);
    return p;
}

/* ---- pool invariants ---- */

static uint32_t popcount_map(const sl_slab_pool_t *pool, const slab_page_t *pg)
{
    uint32_t n = 0;

    for (uint32_t w = 0; w < pool->map_words; w++) {
        n += (uint32_t) __builtin_popcountll(pg->map[w]);
    }
    return n;
}

static int on_list(sl_slab_pool_t *pool, uint32_t head, uint32_t i)
{
    uint32_t prev = SLAB_NONE;

    for (uint32_t steps = 0; head != SLAB_NONE && steps <= pool->npages; steps++) {
        slab_page_t *pg = page_desc(pool, head);

        assert_int_equal(pg->prev, prev);
        if (head == i) {
            return 1;
        }
        prev = head;
        head = pg->next;
    }
    assert_int_equal(head, SLAB_NONE);
    return 0;
}

/* Free runs: marked FREE throughout, tail pointing at head, never adjacent to another. */
static uint32_t check_free_runs(sl_slab_pool_t *pool)
{
    uint32_t total = 0;
    uint32_t runs = 0;

    for (uint32_t i = pool->free_runs; i != SLAB_NONE; i = page_desc(pool, i)->next) {
        slab_page_t *pg = page_desc(pool, i);

        assert_true(++runs <= pool->npages);
        assert_true(pg->run >= 1 && i + pg->run <= pool->npages);
        for (uint32_t k = 0; k < pg->run; k++) {
            assert_int_equal(page_desc(pool, i + k)->state, PAGE_FREE);
        }
        assert_int_equal(page_desc(pool, i + pg->run - 1)->first, i);
        assert_true(i == 0 || page_desc(pool, i - 1)->state != PAGE_FREE);
        assert_true(i + pg->run == pool->npages
                    || page_desc(pool, i + pg->run)->state != PAGE_FREE);
        total += pg->run;
    }
    return total;
}

static void check_small_page(sl_slab_pool_t *pool, uint32_t i)
{
    slab_page_t *pg = page_desc(pool, i);
    uint32_t count = chunks_per_page(pool, pg->shift);
    uint32_t padding = pool->map_words * 64 - count;

    assert_true(pg->shift >= SLAB_MIN_SHIFT && pg->shift < pool->page_shift);
    assert_true(pg->used >= 1 && pg->used <= count);
    assert_int_equal(popcount_map(pool, pg), pg->used + padding);
    int listed = on_list(pool, pool->partial[pg->shift - SLAB_MIN_SHIFT], i);
    assert_int_equal(listed, pg->used < count);
}

/* Walks every page and list; returns the pages in use. */
static uint32_t pool_check(sl_slab_pool_t *pool)
{
    uint32_t free_pages = 0;

    assert_int_equal(pool->lock, 0);
    for (uint32_t i = 0; i < pool->npages;) {
        slab_page_t *pg = page_desc(pool, i);

        switch (pg->state) {
        case PAGE_FREE:
            free_pages++;
            i++;
            break;
        case PAGE_SMALL:
            check_small_page(pool, i);
            i++;
            break;
        case PAGE_LARGE:
            assert_true(pg->run >= 1 && i + pg->run <= pool->npages);
            for (uint32_t k = 1; k < pg->run; k++) {
                assert_int_equal(page_desc(pool, i + k)->state, PAGE_LARGE_BODY);
            }
            i += pg->run;
            break;
        default:
            fail_msg("page %u in state %u", i, pg->state);
        }
    }
    assert_int_equal(free_pages, pool->nfree);
    assert_int_equal(check_free_runs(pool), pool->nfree);
    for (uint32_t c = 0; c < pool->nclasses; c++) {
        for (uint32_t i = pool->partial[c]; i != SLAB_NONE; i = page_desc(pool, i)->next) {
            assert_int_equal(page_desc(pool, i)->state, PAGE_SMALL);
            assert_int_equal(page_desc(pool, i)->shift, c + SLAB_MIN_SHIFT);
        }
    }
    return pool->npages - pool->nfree;
}

/* All pages free and in one run: nothing leaked, everything merged back. */
static void check_empty(sl_slab_pool_t *pool)
{
    assert_int_equal(pool_check(pool), 0);
    assert_int_equal(sl_slab_free_pages(pool), sl_slab_pages(pool));
    assert_int_equal(pool->free_runs, 0);
    assert_int_equal(page_desc(pool, 0)->run, pool->npages);
}

/* ---- init ---- */

static void test_init(void **state)
{
    (void) state;
    size_t size = 64 * page;
    u_char *mem = region(size);
    size_t header = sizeof(sl_slab_pool_t) + sizeof(slab_page_t);

    /* Too small, or not page-aligned. */
    assert_null(sl_slab_init(mem, 0));
    assert_null(sl_slab_init(mem, page));
    assert_null(sl_slab_init(mem, page + header));
    assert_null(sl_slab_init(mem + 8, size - page));
    assert_null(sl_slab_init(NULL, size));

    /* The header and its descriptor in the first page, one page after it. */
    sl_slab_pool_t *pool = sl_slab_init(mem, 2 * page);
    assert_ptr_equal(pool, mem);
    assert_int_equal(sl_slab_pages(pool), 1);
    assert_int_equal(sl_slab_free_pages(pool), 1);
    check_empty(pool);

    /* As many pages as fit after the header and their descriptors, page-aligned. */
    pool = sl_slab_init(mem, size);
    sl_uint_t n = sl_slab_pages(pool);
    assert_true(n >= 60 && n < 64);
    check_empty(pool);
    assert_int_equal(pool->pages_off % page, 0);
    assert_true(pool->pages_off + n * page <= size);
    assert_true(sl_align(pool->desc_off + (n + 1) * pool->desc_size, page) + (n + 1) * page > size);
    free(mem);
}

/* ---- size classes and alignment ---- */

/* Allocates enough chunks of size to fill a few pages, then frees them all. */
static void fill_class(sl_slab_pool_t *pool, size_t size, size_t chunk)
{
    size_t per_page = page / chunk;
    size_t n = 3 * per_page + 1;
    u_char **p = calloc(n, sizeof(*p));
    sl_uint_t free0 = sl_slab_free_pages(pool);

    assert_non_null(p);
    for (size_t k = 0; k < n; k++) {
        p[k] = sl_slab_alloc(pool, size);
        assert_non_null(p[k]);
        assert_int_equal((uintptr_t) p[k] % chunk, 0);
        assert_int_equal((uintptr_t) p[k] % (size >= 16 ? 16 : 8), 0);
        memset(p[k], (int) (k & 0xff), size);
    }
    /* Chunks of one class share pages: four pages for three pages and one more chunk. */
    assert_int_equal(free0 - sl_slab_free_pages(pool), 4);
    pool_check(pool);
    for (size_t k = 0; k < n; k++) {
        for (size_t b = 0; b < size; b++) {
            assert_int_equal(p[k][b], k & 0xff);
        }
    }
    /* Every other chunk first, so pages go from full to partial before they empty. */
    for (size_t k = 0; k < n; k += 2) {
        sl_slab_free(pool, p[k]);
    }
    pool_check(pool);
    for (size_t k = 1; k < n; k += 2) {
        sl_slab_free(pool, p[k]);
    }
    assert_int_equal(sl_slab_free_pages(pool), free0);
    free(p);
}

static void test_size_classes(void **state)
{
    (void) state;
    size_t size = 256 * page;
    void *mem = region(size);
    sl_slab_pool_t *pool = sl_slab_init(mem, size);

    for (size_t chunk = 8; chunk <= page / 2; chunk *= 2) {
        /* The class's own size, and the smallest size that rounds up to it. */
        fill_class(pool, chunk, chunk);
        fill_class(pool, chunk / 2 + 1, chunk);
        check_empty(pool);
    }
    fill_class(pool, 1, 8);
    fill_class(pool, 0, 8);
    check_empty(pool);
    free(mem);
}

static void test_alignment(void **state)
{
    (void) state;
    size_t size = 1024 * page;
    void *mem = region(size);
    sl_slab_pool_t *pool = sl_slab_init(mem, size);
    void *p[512];
    size_t n = 0;

    for (size_t sz = 1; sz <= 3 * page && n < sl_nelems(p); sz += sz < 64 ? 1 : 61) {
        p[n] = sl_slab_alloc(pool, sz);
        assert_non_null(p[n]);
        uintptr_t a = (uintptr_t) p[n];
        assert_int_equal(a % 8, 0);
        if (sz >= 16) {
            assert_int_equal(a % 16, 0);
        }
        if (sz > page / 2) {
            assert_int_equal(a % page, 0);
        }
        memset(p[n], 0x5a, sz);
        n++;
    }
    pool_check(pool);
    for (size_t k = 0; k < n; k++) {
        sl_slab_free(pool, p[k]);
    }
    check_empty(pool);
    free(mem);
}

static void test_zeroed(void **state)
{
    (void) state;
    size_t size = 16 * page;
    void *mem = region(size);
    sl_slab_pool_t *pool = sl_slab_init(mem, size);
    size_t sizes[] = { 1, 24, 100, 2048, page, 3 * page + 5 };

    for (size_t k = 0; k < sl_nelems(sizes); k++) {
        u_char *dirty = sl_slab_alloc(pool, sizes[k]);
        memset(dirty, 0xff, sizes[k]);
        sl_slab_free(pool, dirty);

        u_char *c = sl_slab_calloc(pool, sizes[k]);
        assert_ptr_equal(c, dirty);
        for (size_t b = 0; b < sizes[k]; b++) {
            assert_int_equal(c[b], 0);
        }
        sl_slab_free(pool, c);
    }
    assert_null(sl_slab_calloc(pool, 100 * page));
    check_empty(pool);
    free(mem);
}

/* ---- exhaustion and page runs ---- */

static void test_exhaustion(void **state)
{
    (void) state;
    size_t size = 32 * page;
    void *mem = region(size);
    sl_slab_pool_t *pool = sl_slab_init(mem, size);
    sl_uint_t pages = sl_slab_pages(pool);
    size_t max = pages * (page / 64);
    void **p = calloc(max + 1, sizeof(*p));

    for (int round = 0; round < 3; round++) {
        size_t n = 0;

        while (n <= max && (p[n] = sl_slab_alloc(pool, 64)) != NULL) {
            n++;
        }
        /* Every byte of every page served, then NULL, with nothing broken by the failure. */
        assert_int_equal(n, max);
        assert_int_equal(sl_slab_free_pages(pool), 0);
        assert_null(sl_slab_alloc(pool, 8));
        assert_null(sl_slab_alloc(pool, page));
        pool_check(pool);

        /* Free half: that room (and only that) is usable again. */
        for (size_t k = 0; k < n; k += 2) {
            sl_slab_free(pool, p[k]);
        }
        for (size_t k = 0; k < n; k += 2) {
            p[k] = sl_slab_alloc(pool, 64);
            assert_non_null(p[k]);
        }
        assert_null(sl_slab_alloc(pool, 64));

        for (size_t k = 0; k < n; k++) {
            sl_slab_free(pool, p[k]);
        }
        check_empty(pool);
        assert_int_equal(sl_slab_free_pages(pool), pages);
    }
    /* Everything merged back: the whole pool in one allocation. */
    void *all = sl_slab_alloc(pool, pages * page);
    assert_non_null(all);
    assert_null(sl_slab_alloc(pool, 1));
    assert_null(sl_slab_alloc(pool, (pages + 1) * page));
    assert_null(sl_slab_alloc(pool, SIZE_MAX));
    sl_slab_free(pool, all);
    check_empty(pool);
    free(p);
    free(mem);
}

static void test_large(void **state)
{
    (void) state;
    size_t size = 64 * page;
    void *mem = region(size);
    sl_slab_pool_t *pool = sl_slab_init(mem, size);
    sl_uint_t pages = sl_slab_pages(pool);
    struct {
        size_t size;
        sl_uint_t pages;
    } cases[] = { { page / 2 + 1, 1 }, { page, 1 }, { page + 1, 2 }, { 10 * page - 1, 10 } };

    for (size_t k = 0; k < sl_nelems(cases); k++) {
        u_char *p = sl_slab_alloc(pool, cases[k].size);

        assert_non_null(p);
        assert_int_equal((uintptr_t) p % page, 0);
        assert_int_equal(pages - sl_slab_free_pages(pool), cases[k].pages);
        memset(p, 0x11, cases[k].size);
        pool_check(pool);
        sl_slab_free(pool, p);
        check_empty(pool);
    }

    /* Three runs side by side, freed outer ones first: the middle one merges all three. */
    u_char *a = sl_slab_alloc(pool, 3 * page);
    u_char *b = sl_slab_alloc(pool, 3 * page);
    u_char *c = sl_slab_alloc(pool, 3 * page);
    assert_true(a && b && c);
    assert_true(labs(b - a) == (long) (3 * page) && labs(c - b) == (long) (3 * page));
    sl_slab_free(pool, a);
    sl_slab_free(pool, c);
    pool_check(pool);
    sl_slab_free(pool, b);
    check_empty(pool);

    /* Holes of 4 and 6 pages, the 6 freed last: a 4-page request takes the 4 (best fit). */
    u_char *x = sl_slab_alloc(pool, 2 * page);
    u_char *hole4 = sl_slab_alloc(pool, 4 * page);
    u_char *y = sl_slab_alloc(pool, 2 * page);
    u_char *hole6 = sl_slab_alloc(pool, 6 * page);
    u_char *z = sl_slab_alloc(pool, 2 * page);
    sl_slab_free(pool, hole4);
    sl_slab_free(pool, hole6);
    assert_ptr_equal(sl_slab_alloc(pool, 4 * page), hole4);
    /* A 5-page request cuts the 6-page hole from its end. */
    assert_ptr_equal(sl_slab_alloc(pool, 5 * page), hole6 + page);
    pool_check(pool);
    sl_slab_free(pool, hole6 + page);
    sl_slab_free(pool, hole4);
    sl_slab_free(pool, x);
    sl_slab_free(pool, z);
    sl_slab_free(pool, y);
    check_empty(pool);
    free(mem);
}

/* Bad frees are reported and ignored: the pool stays as it was. */
static void test_bad_free(void **state)
{
    (void) state;
    size_t size = 16 * page;
    u_char *mem = region(size);
    sl_slab_pool_t *pool = sl_slab_init(mem, size);
    u_char *s = sl_slab_alloc(pool, 32);
    u_char *l = sl_slab_alloc(pool, 2 * page);
    sl_uint_t free0 = sl_slab_free_pages(pool);

    sl_slab_free(pool, NULL);
    sl_slab_free(pool, s + 8);
    sl_slab_free(pool, s + 32);
    sl_slab_free(pool, l + 8);
    sl_slab_free(pool, l + page);
    sl_slab_free(pool, mem);
    sl_slab_free(pool, mem + size + 100);
    /* Page 0 is free (pages are taken from the end of the free run). */
    sl_slab_free(pool, page_addr(pool, 0));
    assert_int_equal(sl_slab_free_pages(pool), free0);
    pool_check(pool);

    sl_slab_free(pool, s);
    sl_slab_free(pool, s);
    sl_slab_free(pool, l);
    sl_slab_free(pool, l);
    check_empty(pool);
    free(mem);
}

static void test_locked_variants(void **state)
{
    (void) state;
    size_t size = 8 * page;
    void *mem = region(size);
    sl_slab_pool_t *pool = sl_slab_init(mem, size);

    sl_slab_lock(pool);
    assert_int_equal(pool->lock, 1);
    void *p = sl_slab_alloc_locked(pool, 200);
    void *q = sl_slab_alloc_locked(pool, 3 * page);
    assert_non_null(p);
    assert_non_null(q);
    sl_slab_free_locked(pool, p);
    sl_slab_free_locked(pool, q);
    sl_slab_unlock(pool);
    check_empty(pool);
    free(mem);
}

/* ---- randomized soak ---- */

#define SOAK_SLOTS 512
#define SOAK_STEPS 200000

typedef struct {
    u_char *p;
    size_t size;
    u_char fill;
} live_t;

static uint64_t rng_state;

static uint64_t rng(void)
{
    /* xorshift64: deterministic, so a failure replays. */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Mostly small sizes of every class, some runs of up to 6 pages. */
static size_t soak_size(void)
{
    uint64_t r = rng();

    if (r % 16 == 0) {
        return 1 + (size_t) (r >> 8) % (6 * page);
    }
    return 1 + (size_t) (r >> 8) % ((size_t) 8 << (r >> 4) % 9);
}

static void soak_free(sl_slab_pool_t *pool, live_t *l, uint16_t *shadow, u_char *base)
{
    for (size_t b = 0; b < l->size; b++) {
        assert_int_equal(l->p[b], (u_char) (l->fill + b));
        shadow[l->p - base + b] = 0;
    }
    sl_slab_free(pool, l->p);
    l->p = NULL;
}

static void soak_alloc(sl_slab_pool_t *pool, live_t *l, uint16_t id, uint16_t *shadow, u_char *base,
                       size_t region_size)
{
    size_t size = soak_size();
    u_char *p = sl_slab_alloc(pool, size);

    if (p == NULL) {
        return;
    }
    assert_true(p >= base + pool->pages_off && p + size <= base + region_size);
    for (size_t b = 0; b < size; b++) {
        /* Owned by nobody else. */
        assert_int_equal(shadow[p - base + b], 0);
        shadow[p - base + b] = id;
        p[b] = (u_char) (id + b);
    }
    l->p = p;
    l->size = size;
    l->fill = (u_char) id;
}

static void test_soak(void **state)
{
    (void) state;
    size_t size = 512 * page;
    u_char *mem = region(size);
    sl_slab_pool_t *pool = sl_slab_init(mem, size);
    uint16_t *shadow = calloc(size, sizeof(uint16_t));
    live_t *live = calloc(SOAK_SLOTS, sizeof(live_t));
    unsigned fails = 0;

    rng_state = 0x9e3779b97f4a7c15ULL;
    for (unsigned step = 0; step < SOAK_STEPS; step++) {
        unsigned slot = (unsigned) (rng() % SOAK_SLOTS);

        if (live[slot].p) {
            soak_free(pool, &live[slot], shadow, mem);
        } else {
            soak_alloc(pool, &live[slot], (uint16_t) (slot + 1), shadow, mem, size);
            fails += live[slot].p == NULL;
        }
        if (step % 5000 == 0) {
            pool_check(pool);
        }
    }
    /* The pool is large enough for the slots: a failure would be fragmentation or a leak. */
    assert_int_equal(fails, 0);
    pool_check(pool);
    for (unsigned slot = 0; slot < SOAK_SLOTS; slot++) {
        if (live[slot].p) {
            soak_free(pool, &live[slot], shadow, mem);
        }
    }
    check_empty(pool);
    free(live);
    free(shadow);
    free(mem);
}

/* ---- two processes, one pool ---- */

#define XPROC_CYCLES 20000
#define XPROC_LIVE 16

/* A child's work: lock/increment/unlock cycles with alloc/free churn; 0 when all went well. */
static int xproc_child(sl_slab_pool_t *pool, volatile uint64_t *counter, unsigned seed)
{
    u_char *held[XPROC_LIVE] = { NULL };
    size_t sizes[XPROC_LIVE] = { 0 };

    rng_state = 0x2545f4914f6cdd1dULL * seed;
    for (unsigned n = 0; n < XPROC_CYCLES; n++) {
        sl_slab_lock(pool);
        /* Not atomic on purpose: only the lock keeps two processes from losing updates. */
        *counter = *counter + 1;
        sl_slab_unlock(pool);

        unsigned k = n % XPROC_LIVE;
        if (held[k]) {
            for (size_t b = 0; b < sizes[k]; b++) {
                if (held[k][b] != (u_char) (seed + k + b)) {
                    return 1;
                }
            }
            sl_slab_free(pool, held[k]);
        }
        sizes[k] = soak_size();
        held[k] = sl_slab_alloc(pool, sizes[k]);
        if (held[k] == NULL) {
            return 2;
        }
        for (size_t b = 0; b < sizes[k]; b++) {
            held[k][b] = (u_char) (seed + k + b);
        }
    }
    for (unsigned k = 0; k < XPROC_LIVE; k++) {
        sl_slab_free(pool, held[k]);
    }
    return 0;
}

static void test_cross_process(void **state)
{
    (void) state;
    sl_log_t log = { .log_level = SL_LOG_ERR };
    sl_shm_t shm = { .size = 512 * page, .log = &log };
    pid_t pids[2];

    sl_str_set(&shm.name, "test_slab");
    assert_int_equal(sl_shm_alloc(&shm), SL_OK);
    sl_slab_pool_t *pool = sl_slab_init(shm.addr, shm.size);
    assert_non_null(pool);
    sl_uint_t pages = sl_slab_pages(pool);
    volatile uint64_t *counter = sl_slab_calloc(pool, sizeof(uint64_t));
    assert_non_null((void *) counter);

    for (unsigned c = 0; c < 2; c++) {
        pids[c] = fork();
        assert_true(pids[c] >= 0);
        if (pids[c] == 0) {
            _exit(xproc_child(pool, counter, c + 1));
        }
    }
    for (unsigned c = 0; c < 2; c++) {
        int status;

        assert_int_equal(waitpid(pids[c], &status, 0), pids[c]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_int_equal(*counter, 2 * XPROC_CYCLES);
    /* The children freed everything they took: only the counter's page is in use. */
    assert_int_equal(pool_check(pool), 1);
    sl_slab_free(pool, (void *) counter);
    check_empty(pool);
    assert_int_equal(sl_slab_free_pages(pool), pages);
    sl_shm_free(&shm);
    assert_null(shm.addr);
}

/* A child killed while it holds the lock: the master's sl_shm_process_died frees it (and
 * only for that pid), so the survivors go on. */
static void test_dead_holder(void **state)
{
    (void) state;
    sl_log_t log = { .log_level = SL_LOG_EMERG };
    sl_shm_t shm = { .size = 16 * page, .log = &log };
    int pipefd[2];
    char c;

    sl_str_set(&shm.name, "test_dead");
    assert_int_equal(sl_shm_alloc(&shm), SL_OK);
    sl_slab_pool_t *pool = sl_slab_init(shm.addr, shm.size);
    assert_non_null(pool);
    shm.slab = 1;
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sl_pid = getpid();
        sl_slab_lock(pool);
        if (write(pipefd[1], "l", 1) != 1) {
            _exit(1);
        }
        pause();
        _exit(0);
    }
    assert_int_equal(read(pipefd[0], &c, 1), 1);
    assert_int_equal(__atomic_load_n(&pool->lock, __ATOMIC_RELAXED), (uint32_t) pid);
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    /* another pid's death leaves the lock alone */
    sl_shm_process_died(pid + 1, &log);
    assert_int_equal(__atomic_load_n(&pool->lock, __ATOMIC_RELAXED), (uint32_t) pid);
    sl_shm_process_died(pid, &log);
    assert_int_equal(__atomic_load_n(&pool->lock, __ATOMIC_RELAXED), 0);
    assert_int_equal(sl_slab_force_unlock(pool, pid), 0);
    sl_slab_lock(pool);
    sl_slab_unlock(pool);
    close(pipefd[0]);
    close(pipefd[1]);
    sl_shm_free(&shm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init),        cmocka_unit_test(test_size_classes),
        cmocka_unit_test(test_alignment),   cmocka_unit_test(test_zeroed),
        cmocka_unit_test(test_exhaustion),  cmocka_unit_test(test_large),
        cmocka_unit_test(test_bad_free),    cmocka_unit_test(test_locked_variants),
        cmocka_unit_test(test_soak),        cmocka_unit_test(test_cross_process),
        cmocka_unit_test(test_dead_holder),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
