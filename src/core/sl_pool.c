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

/*
 * Memory of the sizes pools keep asking for again (a request's pool, a client header
 * buffer, an upstream buffer) goes to a small per-process store when freed and comes back
 * from it, not from malloc: on a keepalive connection every request would otherwise make
 * and free the same few blocks.  At most RECYCLE_CLASSES sizes, each holding at most
 * RECYCLE_BYTES, so what is kept is bounded (1 MiB) whatever the traffic.  A process is
 * single-threaded; a forked child keeps its own copy.  Sanitizer builds keep nothing, so
 * that AddressSanitizer still sees every use after free.
 */
#if defined(__SANITIZE_ADDRESS__)
#define RECYCLE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RECYCLE 0
#endif
#endif
#ifndef RECYCLE
#define RECYCLE 1
#endif

#define RECYCLE_CLASSES 8
#define RECYCLE_MIN 512
#define RECYCLE_MAX (64 * 1024)
#define RECYCLE_BYTES (128 * 1024)

typedef struct recycled_s recycled_t;
struct recycled_s {
    recycled_t *next;
};

static struct {
    size_t size;
    unsigned count;
    recycled_t *head;
} recycle_bins[RECYCLE_CLASSES];

static void *recycled(size_t size)
{
    for (unsigned i = 0; RECYCLE && i < RECYCLE_CLASSES && recycle_bins[i].size; i++) {
        if (recycle_bins[i].size == size) {
            recycled_t *r = recycle_bins[i].head;
            if (r) {
                recycle_bins[i].head = r->next;
                recycle_bins[i].count--;
            }
            return r;
        }
    }
    return NULL;
}

/* Frees p of size bytes, or keeps it for the next allocation of that size. */
static void release(void *p, size_t size)
{
    if (RECYCLE && p && size >= RECYCLE_MIN && size <= RECYCLE_MAX) {
        for (unsigned i = 0; i < RECYCLE_CLASSES; i++) {
            if (recycle_bins[i].size == 0) {
                recycle_bins[i].size = size; /* the first sizes freed claim the classes */
            }
            if (recycle_bins[i].size != size) {
                continue;
            }
            if ((recycle_bins[i].count + 1) * size > RECYCLE_BYTES) {
                break;
            }
            recycled_t *r = p;
            r->next = recycle_bins[i].head;
            recycle_bins[i].head = r;
            recycle_bins[i].count++;
            return;
        }
    }
    free(p);
}

size_t sl_pool_recycled_bytes(void)
{
    size_t total = 0;

    for (unsigned i = 0; i < RECYCLE_CLASSES; i++) {
        total += recycle_bins[i].count * recycle_bins[i].size;
    }
    return total;
}

void sl_pool_recycle_drain(void)
{
    for (unsigned i = 0; i < RECYCLE_CLASSES; i++) {
        while (recycle_bins[i].head) {
            recycled_t *r = recycle_bins[i].head;
            recycle_bins[i].head = r->next;
            free(r);
        }
        recycle_bins[i].count = 0;
        recycle_bins[i].size = 0;
    }
}

static void *alloc_logged(size_t size, sl_log_t *log)
{
    void *p = recycled(size);

    if (p) {
        return p;
    }
    p = malloc(size);

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
        release(l->alloc, l->size);
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
        release(b, pool->block_size);
        b = next;
    }
    release(pool, pool->block_size + sizeof(sl_pool_t));
}

void sl_pool_reset(sl_pool_t *pool)
{
    run_cleanups(pool);
    free_large(pool);
    sl_pool_block_t *b = pool->first->next;
    while (b) {
        sl_pool_block_t *next = b->next;
        release(b, pool->block_size);
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

static __attribute__((noinline)) void *alloc_small_slow(sl_pool_t *pool, size_t size, size_t align)
{
    for (sl_pool_block_t *b = pool->current->next; b; b = b->next) {
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

/* Most allocations fit the current block: that case stays small enough to inline. */
static inline void *alloc_small(sl_pool_t *pool, size_t size, size_t align)
{
    sl_pool_block_t *b = pool->current;
    u_char *m = align ? sl_align_ptr(b->last, align) : b->last;

    /* Padding counts against the room: aligning near an unaligned end may overshoot it. */
    if (m <= b->end && (size_t) (b->end - m) >= size) {
        b->last = m + size;
        return m;
    }
    return alloc_small_slow(pool, size, align);
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
            release(l->alloc, l->size);
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
