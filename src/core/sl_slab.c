/*
 * sl_slab.c: the in-region allocator (see sl_slab.h for the layout and the policies).
 *
 * Page states, kept in each page's descriptor:
 *   FREE        part of a free run.  The run's first page holds its length and its links in
 *               the list of free runs; its last page holds the index of the first, so a run
 *               freed just after it can find where it starts and merge.
 *   SMALL       chunks of one size class; on its class's partial list while some are free.
 *   LARGE       the first page of an allocated run, holding the run's length.
 *   LARGE_BODY  the other pages of an allocated run.
 * Every page of a run carries the run's state, so a free() of any address can tell at once
 * whether it points at something allocated.
 */
#include <sched.h>

#include "sl_slab.h"
#include "sl_log.h"
#include "sl_pool.h"

/* The end of a list, and "no page found". */
#define SLAB_NONE UINT32_MAX
/* The smallest size class is 1 << SLAB_MIN_SHIFT bytes. */
#define SLAB_MIN_SHIFT 3
/* Room for classes up to half of a 512 KB page; larger pages keep their classes to this. */
#define SLAB_MAX_CLASSES 16
/* Lock attempts before giving the CPU away: the holder may be preempted on our core. */
#define SLAB_SPINS 128

enum { PAGE_FREE = 1, PAGE_SMALL, PAGE_LARGE, PAGE_LARGE_BODY };

typedef struct {
    /* links in the free-run list (FREE, first page) or a class's partial list (SMALL) */
    uint32_t next;
    uint32_t prev;
    /* FREE first page and LARGE: pages in the run */
    uint32_t run;
    /* FREE last page: index of the run's first page */
    uint32_t first;
    /* SMALL: chunks in use */
    uint32_t used;
    uint16_t state;
    /* SMALL: log2 of the chunk size */
    uint16_t shift;
    /* SMALL: one bit per chunk, set while it is in use (and for bits past the last chunk) */
    uint64_t map[];
} slab_page_t;

struct sl_slab_pool_s {
    /* 0 when free, else the holder's pid (1 before sl_pid is known); only touched with
     * __atomic builtins */
    uint32_t lock;
    uint32_t npages;
    uint32_t nfree;
    /* first page of the first free run */
    uint32_t free_runs;
    uint32_t page_shift;
    uint32_t nclasses;
    /* 64-bit words in each descriptor's map, and the descriptor's size in bytes */
    uint32_t map_words;
    uint32_t desc_size;
    /* where the descriptors and page 0 start, as offsets from the pool */
    size_t desc_off;
    size_t pages_off;
    /* per size class: first page with a free chunk */
    uint32_t partial[SLAB_MAX_CLASSES];
};

static slab_page_t *page_desc(sl_slab_pool_t *pool, uint32_t i)
{
    return (slab_page_t *) ((u_char *) pool + pool->desc_off + (size_t) i * pool->desc_size);
}

static u_char *page_addr(sl_slab_pool_t *pool, uint32_t i)
{
    return (u_char *) pool + pool->pages_off + ((size_t) i << pool->page_shift);
}

static void list_push(sl_slab_pool_t *pool, uint32_t *head, uint32_t i)
{
    slab_page_t *pg = page_desc(pool, i);

    pg->prev = SLAB_NONE;
    pg->next = *head;
    if (*head != SLAB_NONE) {
        page_desc(pool, *head)->prev = i;
    }
    *head = i;
}

static void list_remove(sl_slab_pool_t *pool, uint32_t *head, uint32_t i)
{
    slab_page_t *pg = page_desc(pool, i);

    if (pg->prev != SLAB_NONE) {
        page_desc(pool, pg->prev)->next = pg->next;
    } else {
        *head = pg->next;
    }
    if (pg->next != SLAB_NONE) {
        page_desc(pool, pg->next)->prev = pg->prev;
    }
    pg->next = SLAB_NONE;
    pg->prev = SLAB_NONE;
}

static void run_mark(sl_slab_pool_t *pool, uint32_t i, uint32_t n, uint16_t state)
{
    for (uint32_t k = 0; k < n; k++) {
        page_desc(pool, i + k)->state = state;
    }
}

/* Makes [i, i + n) one entry of the free-run list; its pages are marked FREE already. */
static void run_insert(sl_slab_pool_t *pool, uint32_t i, uint32_t n)
{
    page_desc(pool, i)->run = n;
    page_desc(pool, i + n - 1)->first = i;
    list_push(pool, &pool->free_runs, i);
}

/* Frees the pages [i, i + n), merging them with the free runs just before and after. */
static void pages_free(sl_slab_pool_t *pool, uint32_t i, uint32_t n)
{
    run_mark(pool, i, n, PAGE_FREE);
    pool->nfree += n;

    /* The page after an allocated run can only be the first page of a free run. */
    if (i + n < pool->npages && page_desc(pool, i + n)->state == PAGE_FREE) {
        uint32_t next = i + n;

        list_remove(pool, &pool->free_runs, next);
        n += page_desc(pool, next)->run;
    }
    /* ... and the page before it, only the last page of one. */
    if (i > 0 && page_desc(pool, i - 1)->state == PAGE_FREE) {
        uint32_t prev = page_desc(pool, i - 1)->first;

        list_remove(pool, &pool->free_runs, prev);
        n += page_desc(pool, prev)->run;
        i = prev;
    }
    run_insert(pool, i, n);
}

/*
 * Takes n contiguous pages from the shortest free run that holds them (best fit keeps long
 * runs for long requests).  The index of the first page, or SLAB_NONE.  The pages' state is
 * for the caller to set.
 */
static uint32_t pages_alloc(sl_slab_pool_t *pool, uint32_t n)
{
    uint32_t best = SLAB_NONE;
    uint32_t best_run = UINT32_MAX;
    uint32_t i = pool->free_runs;

    /* There are fewer runs than pages: the bound only matters if the list were corrupt. */
    for (uint32_t steps = 0; i != SLAB_NONE && steps < pool->npages; steps++) {
        slab_page_t *pg = page_desc(pool, i);

        if (pg->run >= n && pg->run < best_run) {
            best = i;
            best_run = pg->run;
            if (best_run == n) {
                break;
            }
        }
        i = pg->next;
    }
    if (best == SLAB_NONE) {
        return SLAB_NONE;
    }
    pool->nfree -= n;
    if (best_run == n) {
        list_remove(pool, &pool->free_runs, best);
        return best;
    }
    /* Cut from the end: the run keeps its first page and its place in the list. */
    page_desc(pool, best)->run = best_run - n;
    page_desc(pool, best + best_run - n - 1)->first = best;
    return best + best_run - n;
}

static uint32_t chunks_per_page(const sl_slab_pool_t *pool, unsigned shift)
{
    return (uint32_t) 1 << (pool->page_shift - shift);
}

/* Chunks past the end of the page are marked in use, so the search never finds them. */
static void small_page_init(sl_slab_pool_t *pool, slab_page_t *pg, unsigned shift)
{
    uint32_t count = chunks_per_page(pool, shift);

    pg->state = PAGE_SMALL;
    pg->shift = (uint16_t) shift;
    pg->used = 0;
    for (uint32_t w = 0; w < pool->map_words; w++) {
        if (w * 64 >= count) {
            pg->map[w] = ~(uint64_t) 0;
        } else if (count - w * 64 < 64) {
            pg->map[w] = ~(uint64_t) 0 << (count - w * 64);
        } else {
            pg->map[w] = 0;
        }
    }
}

/* The index of a free chunk, now marked in use; the page is known to have one. */
static uint32_t map_take(sl_slab_pool_t *pool, slab_page_t *pg)
{
    for (uint32_t w = 0; w < pool->map_words; w++) {
        if (pg->map[w] != ~(uint64_t) 0) {
            unsigned bit = (unsigned) __builtin_ctzll(~pg->map[w]);

            pg->map[w] |= (uint64_t) 1 << bit;
            return w * 64 + bit;
        }
    }
    return SLAB_NONE;
}

static void *small_alloc(sl_slab_pool_t *pool, unsigned shift)
{
    uint32_t *partial = &pool->partial[shift - SLAB_MIN_SHIFT];
    uint32_t i = *partial;

    if (i == SLAB_NONE) {
        i = pages_alloc(pool, 1);
        if (i == SLAB_NONE) {
            return NULL;
        }
        small_page_init(pool, page_desc(pool, i), shift);
        list_push(pool, partial, i);
    }
    slab_page_t *pg = page_desc(pool, i);
    uint32_t chunk = map_take(pool, pg);

    if (SL_BUG_ON(chunk == SLAB_NONE)) {
        return NULL;
    }
    if (++pg->used == chunks_per_page(pool, shift)) {
        list_remove(pool, partial, i);
    }
    return page_addr(pool, i) + ((size_t) chunk << shift);
}

static void *large_alloc(sl_slab_pool_t *pool, size_t size)
{
    if (size > (size_t) pool->npages << pool->page_shift) {
        return NULL;
    }
    uint32_t n = (uint32_t) ((size + ((size_t) 1 << pool->page_shift) - 1) >> pool->page_shift);
    uint32_t i = pages_alloc(pool, n);

    if (i == SLAB_NONE) {
        return NULL;
    }
    slab_page_t *pg = page_desc(pool, i);

    pg->state = PAGE_LARGE;
    pg->run = n;
    run_mark(pool, i + 1, n - 1, PAGE_LARGE_BODY);
    return page_addr(pool, i);
}

void *sl_slab_alloc_locked(sl_slab_pool_t *pool, size_t size)
{
    unsigned shift = SLAB_MIN_SHIFT;

    if (size > (size_t) 1 << (SLAB_MIN_SHIFT + pool->nclasses - 1)) {
        return large_alloc(pool, size);
    }
    if (size > ((size_t) 1 << SLAB_MIN_SHIFT)) {
        shift = (unsigned) (64 - __builtin_clzll((unsigned long long) size - 1));
    }
    return small_alloc(pool, shift);
}

void *sl_slab_alloc(sl_slab_pool_t *pool, size_t size)
{
    sl_slab_lock(pool);
    void *p = sl_slab_alloc_locked(pool, size);
    sl_slab_unlock(pool);
    return p;
}

void *sl_slab_calloc(sl_slab_pool_t *pool, size_t size)
{
    void *p = sl_slab_alloc(pool, size);

    /* The memory is ours alone once handed out: no need to clear it under the lock. */
    if (p) {
        memset(p, 0, size);
    }
    return p;
}

static void small_free(sl_slab_pool_t *pool, uint32_t i, size_t offset)
{
    slab_page_t *pg = page_desc(pool, i);
    uint32_t *partial = &pool->partial[pg->shift - SLAB_MIN_SHIFT];
    size_t chunk = offset >> pg->shift;
    uint64_t bit = (uint64_t) 1 << (chunk % 64);

    if (SL_BUG_ON((offset & (((size_t) 1 << pg->shift) - 1)) != 0)
        || SL_BUG_ON((pg->map[chunk / 64] & bit) == 0)) {
        return;
    }
    pg->map[chunk / 64] &= ~bit;
    /* A full page is on no list: now it has room again. */
    if (pg->used-- == chunks_per_page(pool, pg->shift)) {
        list_push(pool, partial, i);
    }
    if (pg->used == 0) {
        list_remove(pool, partial, i);
        pages_free(pool, i, 1);
    }
}

void sl_slab_free_locked(sl_slab_pool_t *pool, void *p)
{
    if (p == NULL) {
        return;
    }
    u_char *base = page_addr(pool, 0);
    u_char *end = page_addr(pool, pool->npages);

    if (SL_BUG_ON((u_char *) p < base || (u_char *) p >= end)) {
        return;
    }
    size_t offset = (size_t) ((u_char *) p - base);
    uint32_t i = (uint32_t) (offset >> pool->page_shift);
    size_t in_page = offset & (((size_t) 1 << pool->page_shift) - 1);
    slab_page_t *pg = page_desc(pool, i);

    if (pg->state == PAGE_SMALL) {
        small_free(pool, i, in_page);
        return;
    }
    if (SL_BUG_ON(pg->state != PAGE_LARGE || in_page != 0)) {
        return;
    }
    pages_free(pool, i, pg->run);
}

void sl_slab_free(sl_slab_pool_t *pool, void *p)
{
    sl_slab_lock(pool);
    sl_slab_free_locked(pool, p);
    sl_slab_unlock(pool);
}

/*
 * How many pages fit in size bytes after a header of desc_off bytes, each with its
 * descriptor, the pages starting on a page boundary.  0 if none.
 */
static uint32_t count_pages(size_t size, size_t desc_off, size_t desc_size, size_t page)
{
    if (size <= desc_off) {
        return 0;
    }
    size_t n = (size - desc_off) / (page + desc_size);

    if (n > SLAB_NONE - 1) {
        n = SLAB_NONE - 1;
    }
    /* Aligning the first page wastes less than a page, so dropping one page is enough. */
    if (n > 0 && sl_align(desc_off + n * desc_size, page) + n * page > size) {
        n--;
    }
    return (uint32_t) n;
}

sl_slab_pool_t *sl_slab_init(void *addr, size_t size)
{
    size_t page = sl_pagesize();
    unsigned page_shift = (unsigned) __builtin_ctzll(page);
    /* One bit per chunk of the smallest class; a word at least. */
    size_t map_words = sl_max((page >> SLAB_MIN_SHIFT) / 64, 1);
    size_t desc_size = sizeof(slab_page_t) + map_words * sizeof(uint64_t);
    size_t desc_off = sl_align(sizeof(sl_slab_pool_t), sizeof(uint64_t));

    if (addr == NULL || ((uintptr_t) addr & (page - 1)) != 0) {
        return NULL;
    }
    uint32_t n = count_pages(size, desc_off, desc_size, page);
    if (n == 0) {
        return NULL;
    }
    sl_slab_pool_t *pool = addr;

    pool->lock = 0;
    pool->npages = n;
    pool->nfree = 0;
    pool->free_runs = SLAB_NONE;
    pool->page_shift = page_shift;
    pool->nclasses = sl_min(page_shift - SLAB_MIN_SHIFT, SLAB_MAX_CLASSES);
    pool->map_words = (uint32_t) map_words;
    pool->desc_size = (uint32_t) desc_size;
    pool->desc_off = desc_off;
    pool->pages_off = sl_align(desc_off + (size_t) n * desc_size, page);
    for (unsigned c = 0; c < SLAB_MAX_CLASSES; c++) {
        pool->partial[c] = SLAB_NONE;
    }
    /* The region may hold anything: every page is marked, then all go in as one run. */
    pages_free(pool, 0, n);
    return pool;
}

/* Tells a spinning CPU (and its hyperthread sibling) that it is waiting. */
#if defined(__x86_64__) || defined(__i386__)
static inline void cpu_relax(void)
{
    __builtin_ia32_pause();
}
#elif defined(__aarch64__)
static inline void cpu_relax(void)
{
    __asm__ __volatile__("yield");
}
#else
static inline void cpu_relax(void)
{
}
#endif

void sl_slab_lock(sl_slab_pool_t *pool)
{
    /* the holder's pid: the master frees the lock of a process that died holding it */
    uint32_t me = sl_pid > 0 ? (uint32_t) sl_pid : 1;

    /* Not bounded: the holder's critical section is, and yielding lets it run. */
    for (;;) {
        for (unsigned spin = 0; spin < SLAB_SPINS; spin++) {
            uint32_t unlocked = 0;

            /* Read first: a failing exchange would steal the cache line from the holder. */
            if (__atomic_load_n(&pool->lock, __ATOMIC_RELAXED) == 0
                && __atomic_compare_exchange_n(&pool->lock, &unlocked, me, 0, __ATOMIC_ACQUIRE,
                                               __ATOMIC_RELAXED)) {
                return;
            }
            cpu_relax();
        }
        sched_yield();
    }
}

void sl_slab_unlock(sl_slab_pool_t *pool)
{
    SL_BUG_ON(__atomic_load_n(&pool->lock, __ATOMIC_RELAXED) == 0);
    __atomic_store_n(&pool->lock, 0, __ATOMIC_RELEASE);
}

int sl_slab_force_unlock(sl_slab_pool_t *pool, pid_t pid)
{
    uint32_t held = (uint32_t) pid;

    return pid > 0
           && __atomic_compare_exchange_n(&pool->lock, &held, 0, 0, __ATOMIC_RELEASE,
                                          __ATOMIC_RELAXED);
}

sl_uint_t sl_slab_pages(const sl_slab_pool_t *pool)
{
    return pool->npages;
}

sl_uint_t sl_slab_free_pages(const sl_slab_pool_t *pool)
{
    /* Read without the lock by callers that only want a figure for a log line. */
    return __atomic_load_n(&pool->nfree, __ATOMIC_RELAXED);
}
