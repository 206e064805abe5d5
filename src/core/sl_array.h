/*
 * sl_array.h: a growable array in pool memory.  Growing copies into a block twice the size;
 * the old block stays in the pool until it is destroyed, so keep arrays for config-time and
 * bounded data.
 */
#ifndef SL_ARRAY_H
#define SL_ARRAY_H

#include "sl_core.h"

typedef struct {
    void *elts;
    sl_uint_t nelts;
    size_t size;
    sl_uint_t nalloc;
    sl_pool_t *pool;
} sl_array_t;

sl_array_t *sl_array_create(sl_pool_t *pool, sl_uint_t n, size_t size);
/* For an sl_array_t embedded in another struct; SL_OK or SL_ERROR. */
sl_int_t sl_array_init(sl_array_t *a, sl_pool_t *pool, sl_uint_t n, size_t size);
/* Room for one more element (uninitialised); NULL on exhaustion. */
void *sl_array_push(sl_array_t *a);
void *sl_array_push_n(sl_array_t *a, sl_uint_t n);

#endif /* SL_ARRAY_H */
