/*
 * sl_list.c: chunked lists in pool memory.
 */
#include "sl_list.h"
#include "sl_pool.h"

sl_int_t sl_list_init(sl_list_t *list, sl_pool_t *pool, sl_uint_t n, size_t size)
{
    /* Parts of zero elements would hand out memory past their allocation. */
    if (n == 0) {
        n = 1;
    }
    list->part.elts = sl_palloc(pool, n * size);
    if (list->part.elts == NULL) {
        return SL_ERROR;
    }
    list->part.nelts = 0;
    list->part.next = NULL;
    list->last = &list->part;
    list->size = size;
    list->nalloc = n;
    list->pool = pool;
    return SL_OK;
}

void *sl_list_push(sl_list_t *list)
{
    sl_list_part_t *last = list->last;

    if (last->nelts == list->nalloc) {
        last = sl_palloc(list->pool, sizeof(sl_list_part_t));
        if (last == NULL) {
            return NULL;
        }
        last->elts = sl_palloc(list->pool, list->nalloc * list->size);
        if (last->elts == NULL) {
            return NULL;
        }
        last->nelts = 0;
        last->next = NULL;
        list->last->next = last;
        list->last = last;
    }
    return (u_char *) last->elts + list->size * last->nelts++;
}

sl_uint_t sl_list_count(const sl_list_t *list)
{
    sl_uint_t n = 0;

    for (const sl_list_part_t *p = &list->part; p; p = p->next) {
        n += p->nelts;
    }
    return n;
}
