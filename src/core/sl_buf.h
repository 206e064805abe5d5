/*
 * sl_buf.h: buffers and chains.
 *
 * A buf is a window [pos, last) on memory [start, end), or [file_pos, file_last) of a file.
 * A parsed buf may point into a raw buf (shadow); the raw one is reused only when every buf
 * pointing into it has been sent.  A chain is a singly linked list of bufs; the output path
 * consumes chains, and sl_chain_update() recycles what has been sent.
 */
#ifndef SL_BUF_H
#define SL_BUF_H

#include "sl_core.h"
#include "sl_str.h"

typedef void *sl_buf_tag_t;

typedef struct sl_file_s sl_file_t;
struct sl_file_s {
    int fd;
    sl_str_t name;
    /** current write offset for sequential writes (temp files) */
    off_t offset;
    sl_log_t *log;
};

struct sl_buf_s {
    u_char *pos;
    u_char *last;
    off_t file_pos;
    off_t file_last;

    u_char *start;
    u_char *end;
    /** owner: sl_chain_update() only recycles bufs carrying its tag */
    sl_buf_tag_t tag;
    sl_file_t *file;
    /** the raw buf this parsed buf points into (or the reverse link while parsing) */
    sl_buf_t *shadow;

    /** the memory may be written (ours, not a constant) */
    unsigned temporary : 1;
    /** read-only memory (a constant or a mapped file) */
    unsigned memory : 1;
    unsigned in_file : 1;
    /** the file is a temp file whose bytes may be overwritten once sent */
    unsigned temp_file : 1;
    /** may be reused once everything in it has been sent */
    unsigned recycled : 1;
    unsigned flush : 1;
    unsigned sync : 1;
    /** the last buf of the response / body */
    unsigned last_buf : 1;
    /** the last buf of this chain (of a subrequest's part) */
    unsigned last_in_chain : 1;
    /** this is the last parsed buf pointing into its shadow raw buf */
    unsigned last_shadow : 1;
};

struct sl_chain_s {
    sl_buf_t *buf;
    sl_chain_t *next;
};

/* Number and size of buffers, as in "proxy_buffers 8 4k". */
typedef struct {
    sl_int_t num;
    size_t size;
} sl_bufs_t;

#define sl_buf_in_memory(b) ((b)->temporary || (b)->memory)
#define sl_buf_in_memory_only(b) (sl_buf_in_memory(b) && !(b)->in_file)
/* A buf that carries only a flag (flush, last) and no data. */
#define sl_buf_special(b)                                                                          \
    (((b)->flush || (b)->last_buf || (b)->sync) && !sl_buf_in_memory(b) && !(b)->in_file)
#define sl_buf_size(b)                                                                             \
    (sl_buf_in_memory(b) ? (off_t) ((b)->last - (b)->pos) : ((b)->file_last - (b)->file_pos))

/* A writable memory buf of size bytes; NULL on exhaustion. */
sl_buf_t *sl_create_temp_buf(sl_pool_t *pool, size_t size);
sl_buf_t *sl_calloc_buf(sl_pool_t *pool);

/* A chain link, from the pool's free list when it has one. */
sl_chain_t *sl_alloc_chain_link(sl_pool_t *pool);
void sl_free_chain_link(sl_pool_t *pool, sl_chain_t *cl);
/* N links each with a temp buf of bufs->size; NULL on exhaustion. */
sl_chain_t *sl_create_chain_of_bufs(sl_pool_t *pool, const sl_bufs_t *bufs);

/* Appends copies of the links of in (the bufs are shared) to *chain. */
sl_int_t sl_chain_add_copy(sl_pool_t *pool, sl_chain_t **chain, sl_chain_t *in);

/* A link from *free if it has one, else a new link with a zeroed buf. */
sl_chain_t *sl_chain_get_free_buf(sl_pool_t *pool, sl_chain_t **free);

/*
 * Appends *out to *busy, then moves every leading buf of busy that is fully sent (size 0)
 * to *free if it carries tag (its pointers reset for reuse); a buf of another tag is
 * dropped from busy (its owner recycles it).  Stops at the first buf with data left.
 * *out is left NULL.
 */
void sl_chain_update(sl_pool_t *pool, sl_chain_t **free, sl_chain_t **busy, sl_chain_t **out,
                     sl_buf_tag_t tag);

/* Consumes sent bytes from the front of a chain; returns the first link with data left. */
sl_chain_t *sl_chain_update_sent(sl_chain_t *in, off_t sent);

/* Total bytes the chain holds. */
off_t sl_chain_size(const sl_chain_t *in);

#endif /* SL_BUF_H */
