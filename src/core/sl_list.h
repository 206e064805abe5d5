/*
 * sl_list.h: a list of fixed-size elements in chunks, for data whose count is not known in
 * advance (header lines).  Elements never move, so pointers to them stay valid.
 */
#ifndef SL_LIST_H
#define SL_LIST_H

#include "sl_core.h"

typedef struct sl_list_part_s sl_list_part_t;
struct sl_list_part_s {
    void *elts;
    sl_uint_t nelts;
    sl_list_part_t *next;
};

typedef struct {
    sl_list_part_t *last;
    sl_list_part_t part;
    size_t size;
    sl_uint_t nalloc;
    sl_pool_t *pool;
} sl_list_t;

sl_int_t sl_list_init(sl_list_t *list, sl_pool_t *pool, sl_uint_t n, size_t size);
void *sl_list_push(sl_list_t *list);
sl_uint_t sl_list_count(const sl_list_t *list);

/* for (part, i) over every element: SL_LIST_FOREACH(list, part, i, type, elt) { ... } */
#define SL_LIST_FOREACH(list, part_var, i, type, elt)                                              \
    for (sl_list_part_t *part_var = &(list)->part; part_var; part_var = part_var->next)            \
        for (sl_uint_t i = 0; i < part_var->nelts; i++)                                            \
            for (type *elt = (type *) part_var->elts + i; elt; elt = NULL)

#endif /* SL_LIST_H */
