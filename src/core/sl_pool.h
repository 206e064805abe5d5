/*
 * sl_pool.h: region allocator.  One pool per connection and per request; everything is freed
 * at once by sl_pool_destroy().  Cleanup handlers (descriptor close, temp file removal, ...)
 * run in reverse order of registration, before the memory goes.
 */
#ifndef SL_POOL_H
#define SL_POOL_H

#include "sl_core.h"

#define SL_POOL_DEFAULT_SIZE (16 * 1024)
/* Allocations larger than this go to the large-block list and can be freed early. */
#define SL_POOL_MAX_SMALL (4096 - 64)

typedef void (*sl_pool_cleanup_pt)(void *data);

typedef struct sl_pool_cleanup_s sl_pool_cleanup_t;
struct sl_pool_cleanup_s {
    sl_pool_cleanup_pt handler;
    void *data;
    sl_pool_cleanup_t *next;
};

typedef struct sl_pool_large_s sl_pool_large_t;
typedef struct sl_pool_block_s sl_pool_block_t;

struct sl_pool_s {
    /** block that allocation is attempted in first */
    sl_pool_block_t *current;
    /** first block, part of the same malloc as this header */
    sl_pool_block_t *first;
    sl_pool_large_t *large;
    sl_pool_cleanup_t *cleanup;
    /** freed chain links, reused by sl_alloc_chain_link() */
    sl_chain_t *chain;
    /** size of each block including its header */
    size_t block_size;
    size_t max_small;
    sl_log_t *log;
};

/* A pool whose blocks are size bytes; NULL (logged) when memory is exhausted. */
sl_pool_t *sl_pool_create(size_t size, sl_log_t *log);
/* Runs the cleanups, frees every block and large allocation. */
void sl_pool_destroy(sl_pool_t *pool);
/* Frees large allocations and extra blocks, keeps the first block empty; cleanups are run. */
void sl_pool_reset(sl_pool_t *pool);

/* Aligned allocation; NULL on exhaustion. */
void *sl_palloc(sl_pool_t *pool, size_t size);
/* Unaligned (for strings). */
void *sl_pnalloc(sl_pool_t *pool, size_t size);
void *sl_pcalloc(sl_pool_t *pool, size_t size);
/* Frees a large allocation early; SL_DECLINED if p was not one. */
sl_int_t sl_pfree(sl_pool_t *pool, void *p);

/* A cleanup record with size bytes of data (data NULL when size is 0). */
sl_pool_cleanup_t *sl_pool_cleanup_add(sl_pool_t *pool, size_t size);

/* Total bytes the pool holds from the system allocator (for tests and memory checks). */
size_t sl_pool_footprint(const sl_pool_t *pool);

/* Bytes of freed pool memory kept for reuse by this process (bounded at 1 MiB), and a way
 * to give them all back to the system allocator. */
size_t sl_pool_recycled_bytes(void);
void sl_pool_recycle_drain(void);

/* The system's memory page size: nginx's "4k|8k" defaults (one page). */
size_t sl_pagesize(void);

#endif /* SL_POOL_H */
