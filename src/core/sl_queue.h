/*
 * sl_queue.h: intrusive circular doubly linked queue.  Embed an sl_queue_t in a struct and
 * get back to the struct with sl_queue_data().
 */
#ifndef SL_QUEUE_H
#define SL_QUEUE_H

#include "sl_core.h"

typedef struct sl_queue_s sl_queue_t;
struct sl_queue_s {
    sl_queue_t *prev;
    sl_queue_t *next;
};

#define sl_queue_init(q) ((q)->prev = (q), (q)->next = (q))
#define sl_queue_empty(h) ((h) == (h)->prev)
#define sl_queue_head(h) ((h)->next)
#define sl_queue_last(h) ((h)->prev)
#define sl_queue_sentinel(h) (h)
#define sl_queue_next(q) ((q)->next)
#define sl_queue_prev(q) ((q)->prev)
#define sl_queue_data(q, type, link) ((type *) ((u_char *) (q) -offsetof(type, link)))

static inline void sl_queue_insert_head(sl_queue_t *h, sl_queue_t *x)
{
    x->next = h->next;
    x->next->prev = x;
    x->prev = h;
    h->next = x;
}

static inline void sl_queue_insert_tail(sl_queue_t *h, sl_queue_t *x)
{
    x->prev = h->prev;
    x->prev->next = x;
    x->next = h;
    h->prev = x;
}

/* Unlinks x and leaves it pointing at itself, so a second remove is harmless. */
static inline void sl_queue_remove(sl_queue_t *x)
{
    x->next->prev = x->prev;
    x->prev->next = x->next;
    x->prev = x;
    x->next = x;
}

#endif /* SL_QUEUE_H */
