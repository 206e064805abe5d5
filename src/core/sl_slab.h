/*
 * sl_slab.h: an allocator that lives entirely inside one memory region, for the shared
 * memory of upstream zones (state every worker process sees).
 *
 * The region holds the pool header (a process-shared spinlock, counters, list heads), one
 * descriptor per page, then the pages.  Nothing in it points to process-private memory and
 * nothing is taken from malloc; the pool's own links are page indices, so even the pool does
 * not care where the region is mapped (the callers' structures in it usually do).
 *
 * Small requests (up to half a page) are rounded up to a power of two from 8 bytes and
 * served from pages of that size class; a bitmap in the page's descriptor says which chunks
 * are in use, so chunks carry no allocator metadata that a stray write could corrupt.
 * Larger requests take a run of contiguous pages.  A page whose chunks are all free goes
 * straight back to the free pages, and a freed run is merged with the free runs on both
 * sides: no two free runs are ever adjacent, so an empty pool is one run again.
 *
 * Cost: a descriptor of 24 bytes plus a bitmap of page/64 bytes per page (88 bytes, about
 * 2%, for 4 KB pages), and the header.  A page of a size class is not handed to another
 * class until all of its chunks are free.
 *
 * sl_slab_alloc(), sl_slab_calloc() and sl_slab_free() take the pool's lock themselves.
 */
#ifndef SL_SLAB_H
#define SL_SLAB_H

#include "sl_core.h"

typedef struct sl_slab_pool_s sl_slab_pool_t;

/*
 * Lays out a pool in [addr, addr + size); addr must be page-aligned.  Returns the pool (at
 * addr), or NULL if addr is not page-aligned or size is too small for the header and one
 * page.  The region belongs to the pool afterwards: use it only through these functions.
 * Processes forked afterwards share the pool if the region is shared memory.
 */
sl_slab_pool_t *sl_slab_init(void *addr, size_t size);

/*
 * size bytes from the pool (0 is taken as 1), aligned to 8 bytes, to 16 for sizes of 16 or
 * more, to the page for sizes over half a page; NULL when the pool has no room (nothing is
 * logged: the caller knows what the memory was for).  Contents are undefined; the caller
 * owns the memory until sl_slab_free().  The _locked variant expects the caller to hold the
 * pool's lock.
 */
void *sl_slab_alloc(sl_slab_pool_t *pool, size_t size);
void *sl_slab_alloc_locked(sl_slab_pool_t *pool, size_t size);
/* sl_slab_alloc() with the memory zero-filled. */
void *sl_slab_calloc(sl_slab_pool_t *pool, size_t size);

/*
 * Gives back memory from sl_slab_alloc*(); NULL is ignored.  A pointer the pool did not hand
 * out, or one freed already, is not freed: it is reported with SL_BUG_ON (an alert in the
 * error log) and the pool is left as it was.  The _locked variant expects the caller to hold
 * the lock.
 */
void sl_slab_free(sl_slab_pool_t *pool, void *p);
void sl_slab_free_locked(sl_slab_pool_t *pool, void *p);

/*
 * The pool's lock, shared by every process that maps the pool, for callers that update data
 * they allocated from it in several steps.  Not recursive.  It spins briefly, then yields
 * the CPU between attempts.  It holds the holder's pid: a process that dies holding it
 * leaves it held until the master, which reaps it, calls sl_slab_force_unlock (as nginx
 * does on a worker's abnormal exit).  Keep critical sections short and free of anything
 * that can fail halfway: what a dead holder left half-done stays so.
 */
void sl_slab_lock(sl_slab_pool_t *pool);
void sl_slab_unlock(sl_slab_pool_t *pool);
/* Frees the lock if pid holds it: 1 if it did, 0 otherwise. */
int sl_slab_force_unlock(sl_slab_pool_t *pool, pid_t pid);

/* Pages in the pool, and pages free now (a snapshot unless the caller holds the lock). */
sl_uint_t sl_slab_pages(const sl_slab_pool_t *pool);
sl_uint_t sl_slab_free_pages(const sl_slab_pool_t *pool);

#endif /* SL_SLAB_H */
