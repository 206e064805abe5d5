/*
 * sl_buf.c: bufs, chains and the free/busy recycling every output path shares.
 */
#include "sl_buf.h"
#include "sl_pool.h"

sl_buf_t *sl_calloc_buf(sl_pool_t *pool)
{
    return sl_pcalloc(pool, sizeof(sl_buf_t));
}

sl_buf_t *sl_create_temp_buf(sl_pool_t *pool, size_t size)
{
    sl_buf_t *b = sl_calloc_buf(pool);
    if (b == NULL) {
        return NULL;
    }
    b->start = sl_palloc(pool, size);
    if (b->start == NULL) {
        return NULL;
    }
    b->pos = b->start;
    b->last = b->start;
    b->end = b->start + size;
    b->temporary = 1;
    return b;
}

sl_chain_t *sl_alloc_chain_link(sl_pool_t *pool)
{
    sl_chain_t *cl = pool->chain;

    if (cl) {
        pool->chain = cl->next;
        return cl;
    }
    return sl_palloc(pool, sizeof(sl_chain_t));
}

void sl_free_chain_link(sl_pool_t *pool, sl_chain_t *cl)
{
    cl->next = pool->chain;
    pool->chain = cl;
}

sl_chain_t *sl_create_chain_of_bufs(sl_pool_t *pool, const sl_bufs_t *bufs)
{
    sl_chain_t *chain = NULL, **ll = &chain;

    for (sl_int_t i = 0; i < bufs->num; i++) {
        sl_buf_t *b = sl_create_temp_buf(pool, bufs->size);
        sl_chain_t *cl = sl_alloc_chain_link(pool);
        if (b == NULL || cl == NULL) {
            return NULL;
        }
        cl->buf = b;
        cl->next = NULL;
        *ll = cl;
        ll = &cl->next;
    }
    return chain;
}

sl_int_t sl_chain_add_copy(sl_pool_t *pool, sl_chain_t **chain, sl_chain_t *in)
{
    sl_chain_t **ll = chain;

    while (*ll) {
        ll = &(*ll)->next;
    }
    for (; in; in = in->next) {
        sl_chain_t *cl = sl_alloc_chain_link(pool);
        if (cl == NULL) {
            *ll = NULL;
            return SL_ERROR;
        }
        cl->buf = in->buf;
        *ll = cl;
        ll = &cl->next;
    }
    *ll = NULL;
    return SL_OK;
}

sl_chain_t *sl_chain_get_free_buf(sl_pool_t *pool, sl_chain_t **free)
{
    if (*free) {
        sl_chain_t *cl = *free;
        *free = cl->next;
        cl->next = NULL;
        return cl;
    }
    sl_chain_t *cl = sl_alloc_chain_link(pool);
    if (cl == NULL) {
        return NULL;
    }
    cl->buf = sl_calloc_buf(pool);
    if (cl->buf == NULL) {
        return NULL;
    }
    cl->next = NULL;
    return cl;
}

void sl_chain_update(sl_pool_t *pool, sl_chain_t **free, sl_chain_t **busy, sl_chain_t **out,
                     sl_buf_tag_t tag)
{
    if (*out) {
        if (*busy == NULL) {
            *busy = *out;
        } else {
            sl_chain_t *cl = *busy;
            while (cl->next) {
                cl = cl->next;
            }
            cl->next = *out;
        }
        *out = NULL;
    }
    while (*busy) {
        sl_chain_t *cl = *busy;
        sl_buf_t *b = cl->buf;

        if (sl_buf_size(b) != 0) {
            break;
        }
        *busy = cl->next;
        if (b->tag != tag) {
            sl_free_chain_link(pool, cl);
            continue;
        }
        b->pos = b->start;
        b->last = b->start;
        cl->next = *free;
        *free = cl;
    }
}

sl_chain_t *sl_chain_update_sent(sl_chain_t *in, off_t sent)
{
    for (; in; in = in->next) {
        sl_buf_t *b = in->buf;

        if (sl_buf_special(b)) {
            continue;
        }
        off_t size = sl_buf_size(b);
        if (sent == 0 && size != 0) {
            break;
        }
        if (sent >= size) {
            sent -= size;
            if (sl_buf_in_memory(b)) {
                b->pos = b->last;
            }
            if (b->in_file) {
                b->file_pos = b->file_last;
            }
            continue;
        }
        if (sl_buf_in_memory(b)) {
            b->pos += (size_t) sent;
        }
        if (b->in_file) {
            b->file_pos += sent;
        }
        break;
    }
    return in;
}

off_t sl_chain_size(const sl_chain_t *in)
{
    off_t total = 0;

    for (; in; in = in->next) {
        if (!sl_buf_special(in->buf)) {
            total += sl_buf_size(in->buf);
        }
    }
    return total;
}
