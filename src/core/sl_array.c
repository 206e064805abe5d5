/*
 * sl_array.c: growable arrays in pool memory.
 */
#include "sl_array.h"
#include "sl_pool.h"

sl_int_t sl_array_init(sl_array_t *a, sl_pool_t *pool, sl_uint_t n, size_t size)
{
    a->nelts = 0;
    a->size = size;
    a->nalloc = n ? n : 1;
    a->pool = pool;
    a->elts = sl_palloc(pool, a->nalloc * size);
    return a->elts ? SL_OK : SL_ERROR;
}

sl_array_t *sl_array_create(sl_pool_t *pool, sl_uint_t n, size_t size)
{
    sl_array_t *a = sl_palloc(pool, sizeof(sl_array_t));

    if (a == NULL || sl_array_init(a, pool, n, size) != SL_OK) {
        return NULL;
    }
    return a;
}

/* An array never initialised (zeroed: no pool, no element size) cannot grow: SL_ERROR, not
 * a loop doubling 0.  So is a size that would overflow. */
static sl_int_t grow(sl_array_t *a, sl_uint_t need)
{
    sl_uint_t nalloc = a->nalloc ? a->nalloc : 1;

    if (a->pool == NULL || a->size == 0 || need > SIZE_MAX / a->size) {
        return SL_ERROR;
    }
    while (nalloc < need) {
        nalloc = nalloc > SIZE_MAX / 2 ? need : nalloc * 2;
    }
    void *elts = sl_palloc(a->pool, nalloc * a->size);
    if (elts == NULL) {
        return SL_ERROR;
    }
    if (a->nelts) {
        memcpy(elts, a->elts, a->nelts * a->size);
    }
    sl_pfree(a->pool, a->elts);
    a->elts = elts;
    a->nalloc = nalloc;
    return SL_OK;
}

void *sl_array_push(sl_array_t *a)
{
    return sl_array_push_n(a, 1);
}

void *sl_array_push_n(sl_array_t *a, sl_uint_t n)
{
    if (n > (sl_uint_t) -1 - a->nelts) {
        return NULL;
    }
    if (a->nelts + n > a->nalloc && grow(a, a->nelts + n) != SL_OK) {
        return NULL;
    }
    void *elt = (u_char *) a->elts + a->size * a->nelts;
    a->nelts += n;
    return elt;
}
