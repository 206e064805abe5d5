/*
 * sl_pool.c: region allocator with a large-block list and cleanups.
 */
#include <unistd.h>

#include "sl_pool.h"
#include "sl_log.h"

struct sl_pool_block_s {
    u_char *last;
    u_char *end;
    sl_pool_block_t *next;
    /* Allocation attempts that failed in this block; after a few the block is skipped. */
    unsigned failed;
};

struct sl_pool_large_s {
    sl_pool_large_t *next;
    void *alloc;
    size_t size;
};

static void *alloc_logged(size_t size, sl_log_t *log)
{
    void *p = malloc(size);

    if (p == NULL) {
        sl_log_error(SL_LOG_EMERG, log, errno, "malloc(%zu) failed", size);
    }
    return p;
}

static void block_init(sl_pool_block_t *b, size_t size)
{
    b->last = (u_char *) b + sizeof(sl_pool_block_t);
    b->end = (u_char *) b + size;
    b->next = NULL;
    b->failed = 0;
}

sl_pool_t *sl_pool_create(size_t size, sl_log_t *log)
{
    size_t min = sizeof(sl_pool_t) + sizeof(sl_pool_block_t) + 64;

    if (size < min) {
        size = min;
    }
    sl_pool_t *pool = alloc_logged(size, log);
    if (pool == NULL) {
        return NULL;
    }
    pool->block_size = size - sizeof(sl_pool_t);
    pool->first = (sl_pool_block_t *) (pool + 1);
    block_init(pool->first, pool->block_size);
    pool->current = pool->first;
    pool->large = NULL;
    pool->cleanup = NULL;
    pool->chain = NULL;
    pool->log = log;
    size_t room = pool->block_size - sizeof(sl_pool_block_t);
    pool->max_small = room < SL_POOL_MAX_SMALL ? room : SL_POOL_MAX_SMALL;
    return pool;
}

static void run_cleanups(sl_pool_t *pool)
{
    /* A cleanup may add another one (closing a file may log); take the list first. */
    while (pool->cleanup) {
        sl_pool_cleanup_t *c = pool->cleanup;

        pool->cleanup = c->next;
        if (c->handler) {
            c->handler(c->data);
        }
    }
}

static void free_large(sl_pool_t *pool)
{
    for (sl_pool_large_t *l = pool->large; l; l = l->next) {
        free(l->alloc);
        l->alloc = NULL;
    }
    pool->large = NULL;
}

void sl_pool_destroy(sl_pool_t *pool)
{
    if (pool == NULL) {
        return;
    }
    run_cleanups(pool);
    free_large(pool);
    sl_pool_block_t *b = pool->first->next;
    while (b) {
        sl_pool_block_t *next = b->next;
        free(b);
        b = next;
    }
    free(pool);
}

void sl_pool_reset(sl_pool_t *pool)
{
    run_cleanups(pool);
    free_large(pool);
    sl_pool_block_t *b = pool->first->next;
    while (b) {
        sl_pool_block_t *next = b->next;
        free(b);
        b = next;
    }
    block_init(pool->first, pool->block_size);
    pool->current = pool->first;
    pool->chain = NULL;
}

static void *alloc_block(sl_pool_t *pool, size_t size, size_t align)
{
    sl_pool_block_t *nb = alloc_logged(pool->block_size, pool->log);
    if (nb == NULL) {
        return NULL;
    }
    block_init(nb, pool->block_size);

    sl_pool_block_t *b = pool->current;
    while (b->next) {
        /* Blocks that keep failing stop being searched first. */
        if (b->failed++ > 4) {
            pool->current = b->next;
        }
        b = b->next;
    }
    b->next = nb;

    u_char *m = align ? sl_align_ptr(nb->last, align) : nb->last;
    nb->last = m + size;
    return m;
}

static void *alloc_small(sl_pool_t *pool, size_t size, size_t align)
{
    for (sl_pool_block_t *b = pool->current; b; b = b->next) {
        size_t pad = align ? (size_t) (sl_align_ptr(b->last, align) - b->last) : 0;

        /* Padding counts against the room: aligning near an unaligned end may overshoot it. */
        if ((size_t) (b->end - b->last) >= pad + size) {
            u_char *m = b->last + pad;
            b->last = m + size;
            return m;
        }
    }
    return alloc_block(pool, size, align);
}

static void *alloc_large(sl_pool_t *pool, size_t size)
{
    void *p = alloc_logged(size, pool->log);
    if (p == NULL) {
        return NULL;
    }
    /* Reuse an emptied record from an early sl_pfree() before allocating a new one. */
    unsigned n = 0;
    for (sl_pool_large_t *l = pool->large; l && n < 4; l = l->next, n++) {
        if (l->alloc == NULL) {
            l->alloc = p;
            l->size = size;
            return p;
        }
    }
    sl_pool_large_t *l = alloc_small(pool, sizeof(sl_pool_large_t), SL_ALIGNMENT);
    if (l == NULL) {
        free(p);
        return NULL;
    }
    l->alloc = p;
    l->size = size;
    l->next = pool->large;
    pool->large = l;
    return p;
}

void *sl_palloc(sl_pool_t *pool, size_t size)
{
    if (size <= pool->max_small) {
        return alloc_small(pool, size, SL_ALIGNMENT);
    }
    return alloc_large(pool, size);
}

void *sl_pnalloc(sl_pool_t *pool, size_t size)
{
    if (size <= pool->max_small) {
        return alloc_small(pool, size, 0);
    }
    return alloc_large(pool, size);
}

void *sl_pcalloc(sl_pool_t *pool, size_t size)
{
    void *p = sl_palloc(pool, size);

    if (p) {
        memset(p, 0, size);
    }
    return p;
}

sl_int_t sl_pfree(sl_pool_t *pool, void *p)
{
    /* Freed records hold NULL: without this, NULL would "free" one of them. */
    if (p == NULL) {
        return SL_DECLINED;
    }
    for (sl_pool_large_t *l = pool->large; l; l = l->next) {
        if (l->alloc == p) {
            free(l->alloc);
            l->alloc = NULL;
            return SL_OK;
        }
    }
    return SL_DECLINED;
}

sl_pool_cleanup_t *sl_pool_cleanup_add(sl_pool_t *pool, size_t size)
{
    sl_pool_cleanup_t *c = sl_palloc(pool, sizeof(sl_pool_cleanup_t));
    if (c == NULL) {
        return NULL;
    }
    if (size) {
        c->data = sl_palloc(pool, size);
        if (c->data == NULL) {
            return NULL;
        }
    } else {
        c->data = NULL;
    }
    c->handler = NULL;
    c->next = pool->cleanup;
    pool->cleanup = c;
    return c;
}

size_t sl_pool_footprint(const sl_pool_t *pool)
{
    size_t total = pool->block_size + sizeof(sl_pool_t);

    for (sl_pool_block_t *b = pool->first->next; b; b = b->next) {
        total += pool->block_size;
    }
    for (sl_pool_large_t *l = pool->large; l; l = l->next) {
        if (l->alloc) {
            total += l->size;
        }
    }
    return total;
}

size_t sl_pagesize(void)
{
    static size_t size;

    if (size == 0) {
        long n = sysconf(_SC_PAGESIZE);
        size = n > 0 ? (size_t) n : 4096;
    }
    return size;
}
