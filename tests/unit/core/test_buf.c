/*
 * test_buf.c: bufs, chains, the link freelist and free/busy recycling.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "sl_core.h"
#include "sl_buf.h"
#include "sl_log.h"
#include "sl_pool.h"

static sl_log_t test_log = { .log_level = SL_LOG_ERR };

static int tag_a, tag_b;

static int setup_pool(void **state)
{
    *state = sl_pool_create(SL_POOL_DEFAULT_SIZE, &test_log);
    return *state ? 0 : -1;
}

static int teardown_pool(void **state)
{
    sl_pool_destroy(*state);
    return 0;
}

/* A temp buf holding text, tagged. */
static sl_buf_t *mem_buf(sl_pool_t *pool, const char *text, sl_buf_tag_t tag)
{
    size_t n = strlen(text);
    sl_buf_t *b = sl_create_temp_buf(pool, n + 8);

    assert_non_null(b);
    memcpy(b->pos, text, n);
    b->last += n;
    b->tag = tag;
    return b;
}

static sl_buf_t *file_buf(sl_pool_t *pool, off_t from, off_t to)
{
    sl_buf_t *b = sl_calloc_buf(pool);

    assert_non_null(b);
    b->in_file = 1;
    b->file_pos = from;
    b->file_last = to;
    return b;
}

static sl_chain_t *link_of(sl_pool_t *pool, sl_buf_t *b, sl_chain_t *next)
{
    sl_chain_t *cl = sl_alloc_chain_link(pool);

    assert_non_null(cl);
    cl->buf = b;
    cl->next = next;
    return cl;
}

static sl_uint_t chain_len(const sl_chain_t *cl)
{
    sl_uint_t n = 0;

    for (; cl; cl = cl->next) {
        n++;
    }
    return n;
}

static void test_temp_buf(void **state)
{
    sl_pool_t *pool = *state;
    sl_buf_t *b = sl_create_temp_buf(pool, 100);

    assert_non_null(b);
    assert_non_null(b->start);
    assert_ptr_equal(b->pos, b->start);
    assert_ptr_equal(b->last, b->start);
    assert_ptr_equal(b->end, b->start + 100);
    assert_true(b->temporary);
    assert_false(b->memory);
    assert_false(b->in_file);
    assert_false(b->recycled);
    assert_false(b->last_buf);
    assert_null(b->shadow);
    assert_null(b->tag);
    assert_null(b->file);
    assert_int_equal(sl_buf_size(b), 0);
    assert_true(sl_buf_in_memory(b));
    assert_true(sl_buf_in_memory_only(b));
    assert_false(sl_buf_special(b));

    /* Bigger than a pool block: the memory is a large allocation, still usable. */
    sl_buf_t *big = sl_create_temp_buf(pool, 64 * 1024);
    assert_non_null(big);
    memset(big->start, 'x', 64 * 1024);
    big->last = big->end;
    assert_int_equal(sl_buf_size(big), 64 * 1024);
}

static void test_buf_macros(void **state)
{
    sl_pool_t *pool = *state;
    sl_buf_t *m = mem_buf(pool, "hello", NULL);
    sl_buf_t *f = file_buf(pool, 100, 350);
    sl_buf_t *flush = sl_calloc_buf(pool);
    sl_buf_t *last = sl_calloc_buf(pool);

    assert_int_equal(sl_buf_size(m), 5);
    assert_int_equal(sl_buf_size(f), 250);
    assert_false(sl_buf_in_memory(f));
    assert_false(sl_buf_special(f));

    flush->flush = 1;
    last->last_buf = 1;
    assert_true(sl_buf_special(flush));
    assert_true(sl_buf_special(last));
    assert_int_equal(sl_buf_size(flush), 0);

    /* last_buf on a buf with data is not special. */
    m->last_buf = 1;
    assert_false(sl_buf_special(m));

    /* A file buf also mapped in memory counts its memory window. */
    sl_buf_t *both = mem_buf(pool, "abc", NULL);
    both->in_file = 1;
    both->file_pos = 0;
    both->file_last = 3;
    assert_int_equal(sl_buf_size(both), 3);
    assert_false(sl_buf_in_memory_only(both));

    sl_buf_t *ro = sl_calloc_buf(pool);
    ro->memory = 1;
    ro->pos = ro->start = (u_char *) "const";
    ro->last = ro->end = ro->pos + 5;
    assert_true(sl_buf_in_memory(ro));
    assert_int_equal(sl_buf_size(ro), 5);
}

static void test_link_freelist(void **state)
{
    sl_pool_t *pool = *state;
    sl_chain_t *a = sl_alloc_chain_link(pool);
    sl_chain_t *b = sl_alloc_chain_link(pool);

    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    assert_null(pool->chain);

    sl_free_chain_link(pool, a);
    sl_free_chain_link(pool, b);
    assert_ptr_equal(pool->chain, b);
    assert_ptr_equal(b->next, a);

    /* Last freed, first reused. */
    assert_ptr_equal(sl_alloc_chain_link(pool), b);
    assert_ptr_equal(sl_alloc_chain_link(pool), a);
    assert_null(pool->chain);
    sl_chain_t *c = sl_alloc_chain_link(pool);
    assert_ptr_not_equal(c, a);
    assert_ptr_not_equal(c, b);
}

static void test_chain_of_bufs(void **state)
{
    sl_pool_t *pool = *state;
    sl_bufs_t bufs = { 4, 1000 };
    sl_chain_t *ch = sl_create_chain_of_bufs(pool, &bufs);

    assert_non_null(ch);
    assert_int_equal(chain_len(ch), 4);
    for (sl_chain_t *cl = ch; cl; cl = cl->next) {
        sl_buf_t *b = cl->buf;

        assert_true(b->temporary);
        assert_int_equal(b->end - b->start, 1000);
        assert_ptr_equal(b->pos, b->start);
        assert_ptr_equal(b->last, b->start);
        for (sl_chain_t *o = cl->next; o; o = o->next) {
            /* Distinct, non-overlapping memory. */
            assert_true(o->buf->start >= b->end || o->buf->end <= b->start);
        }
        memset(b->start, 0x5a, 1000);
    }
    assert_int_equal(sl_chain_size(ch), 0);

    /* Links come from the freelist first. */
    sl_chain_t *spare = sl_alloc_chain_link(pool);
    sl_free_chain_link(pool, spare);
    sl_bufs_t one = { 1, 16 };
    sl_chain_t *ch1 = sl_create_chain_of_bufs(pool, &one);
    assert_ptr_equal(ch1, spare);
    assert_null(ch1->next);

    sl_bufs_t none = { 0, 16 };
    assert_null(sl_create_chain_of_bufs(pool, &none));
}

static void test_chain_add_copy(void **state)
{
    sl_pool_t *pool = *state;
    sl_buf_t *b1 = mem_buf(pool, "one", NULL), *b2 = mem_buf(pool, "two", NULL);
    sl_buf_t *b3 = mem_buf(pool, "three", NULL);
    sl_chain_t *in = link_of(pool, b1, link_of(pool, b2, NULL));
    sl_chain_t *out = NULL;

    assert_int_equal(sl_chain_add_copy(pool, &out, in), SL_OK);
    assert_int_equal(chain_len(out), 2);
    assert_ptr_not_equal(out, in);
    assert_ptr_not_equal(out->next, in->next);
    assert_ptr_equal(out->buf, b1);
    assert_ptr_equal(out->next->buf, b2);
    assert_null(out->next->next);

    /* Appends after what is there; in is unchanged. */
    sl_chain_t *more = link_of(pool, b3, NULL);
    assert_int_equal(sl_chain_add_copy(pool, &out, more), SL_OK);
    assert_int_equal(chain_len(out), 3);
    assert_ptr_equal(out->next->next->buf, b3);
    assert_ptr_not_equal(out->next->next, more);
    assert_int_equal(chain_len(in), 2);
    assert_int_equal(sl_chain_size(out), 11);

    /* Copying nothing leaves the chain alone. */
    assert_int_equal(sl_chain_add_copy(pool, &out, NULL), SL_OK);
    assert_int_equal(chain_len(out), 3);
}

static void test_get_free_buf(void **state)
{
    sl_pool_t *pool = *state;
    sl_chain_t *free = NULL;

    /* Nothing free: a new link with a zeroed buf. */
    sl_chain_t *cl = sl_chain_get_free_buf(pool, &free);
    assert_non_null(cl);
    assert_non_null(cl->buf);
    assert_null(cl->next);
    assert_null(cl->buf->start);
    assert_false(cl->buf->temporary);

    sl_buf_t *b1 = mem_buf(pool, "x", &tag_a), *b2 = mem_buf(pool, "y", &tag_a);
    free = link_of(pool, b1, link_of(pool, b2, NULL));
    sl_chain_t *head = free;
    cl = sl_chain_get_free_buf(pool, &free);
    assert_ptr_equal(cl, head);
    assert_ptr_equal(cl->buf, b1);
    assert_null(cl->next);
    assert_ptr_equal(free->buf, b2);
}

/*
 * busy: [A1 sent] [A2 sent] [B sent] [A3 sent] [A4 data] [A5 sent]
 * after: free gets A1 A2 A3 (latest first), B's link goes back to the pool, busy = A4 A5.
 */
static void test_chain_update(void **state)
{
    sl_pool_t *pool = *state;
    sl_buf_t *a1 = mem_buf(pool, "a1", &tag_a), *a2 = mem_buf(pool, "a2", &tag_a);
    sl_buf_t *b = mem_buf(pool, "b", &tag_b), *a3 = mem_buf(pool, "a3", &tag_a);
    sl_buf_t *a4 = mem_buf(pool, "a4", &tag_a), *a5 = mem_buf(pool, "a5", &tag_a);
    sl_chain_t *free = NULL, *busy = NULL;

    sl_chain_t *out = link_of(pool, a1, link_of(pool, a2, NULL));
    sl_chain_update(pool, &free, &busy, &out, &tag_a);
    /* Nothing sent yet: everything is busy, in order. */
    assert_null(out);
    assert_null(free);
    assert_int_equal(chain_len(busy), 2);
    assert_ptr_equal(busy->buf, a1);

    out = link_of(pool, b, link_of(pool, a3, link_of(pool, a4, link_of(pool, a5, NULL))));
    sl_chain_t *b_link = out;
    /* Everything but a4 was written. */
    a1->pos = a1->last;
    a2->pos = a2->last;
    b->pos = b->last;
    a3->pos = a3->last;
    a4->pos++;
    a5->pos = a5->last;

    sl_chain_update(pool, &free, &busy, &out, &tag_a);
    assert_null(out);
    assert_int_equal(chain_len(free), 3);
    assert_ptr_equal(free->buf, a3);
    assert_ptr_equal(free->next->buf, a2);
    assert_ptr_equal(free->next->next->buf, a1);
    /* Recycled bufs are emptied back to their start. */
    for (sl_chain_t *cl = free; cl; cl = cl->next) {
        assert_ptr_equal(cl->buf->pos, cl->buf->start);
        assert_ptr_equal(cl->buf->last, cl->buf->start);
    }
    /* Another owner's buf leaves busy, its link goes back to the pool's freelist, the buf
     * itself is untouched. */
    assert_ptr_equal(pool->chain, b_link);
    assert_ptr_equal(b->pos, b->last);
    assert_ptr_not_equal(b->pos, b->start);
    /* The first buf with data stops the scan: a5, though sent, stays busy behind it. */
    assert_int_equal(chain_len(busy), 2);
    assert_ptr_equal(busy->buf, a4);
    assert_ptr_equal(busy->next->buf, a5);

    /* Once a4 is written, both go free. */
    a4->pos = a4->last;
    sl_chain_update(pool, &free, &busy, &out, &tag_a);
    assert_null(busy);
    assert_int_equal(chain_len(free), 5);
    assert_ptr_equal(free->buf, a5);
    assert_ptr_equal(free->next->buf, a4);

    /* A NULL out with an empty busy is a no-op. */
    sl_chain_update(pool, &free, &busy, &out, &tag_a);
    assert_null(busy);
    assert_int_equal(chain_len(free), 5);
}

/* A parsed window [off, off + len) into raw, as a chunked input filter makes. */
static sl_buf_t *parsed_buf(sl_pool_t *pool, sl_buf_t *raw, size_t off, size_t len)
{
    sl_buf_t *p = sl_calloc_buf(pool);

    assert_non_null(p);
    p->pos = p->start = raw->pos + off;
    p->last = p->end = p->pos + len;
    p->memory = 1;
    p->tag = &tag_a;
    p->shadow = raw;
    return p;
}

/* Parsed bufs pointing into a raw buf (shadow): recycling keeps the links intact. */
static void test_chain_update_shadows(void **state)
{
    sl_pool_t *pool = *state;
    sl_buf_t *raw = mem_buf(pool, "5\r\nhello\r\n3\r\nabc\r\n", &tag_a);
    sl_buf_t *p1 = parsed_buf(pool, raw, 3, 5), *p2 = parsed_buf(pool, raw, 13, 3);
    sl_chain_t *free = NULL, *busy = NULL;

    p2->last_shadow = 1;

    sl_chain_t *out = link_of(pool, p1, link_of(pool, p2, NULL));
    assert_int_equal(sl_chain_size(out), 8);
    p1->pos = p1->last;
    sl_chain_update(pool, &free, &busy, &out, &tag_a);
    assert_int_equal(chain_len(free), 1);
    assert_ptr_equal(free->buf, p1);
    assert_ptr_equal(p1->shadow, raw);
    assert_int_equal(chain_len(busy), 1);
    /* The raw buf is not touched while a parsed buf still points into it. */
    assert_memory_equal(raw->pos, "5\r\nhello", 8);
    assert_ptr_equal(p2->shadow, raw);

    p2->pos = p2->last;
    sl_chain_update(pool, &free, &busy, &out, &tag_a);
    assert_null(busy);
    assert_ptr_equal(free->buf, p2);
    assert_true(free->buf->last_shadow);
    assert_ptr_equal(free->buf->shadow, raw);
    /* The owner finds the raw buf through the last shadow and recycles it. */
    assert_int_equal(sl_buf_size(free->buf->shadow), 18);
}

/* A flush or last_buf link carries no data: it is "sent" at once and recycled. */
static void test_chain_update_special(void **state)
{
    sl_pool_t *pool = *state;
    sl_buf_t *flush = sl_calloc_buf(pool);
    sl_chain_t *free = NULL, *busy = NULL;

    flush->flush = 1;
    flush->tag = &tag_a;
    sl_chain_t *out = link_of(pool, flush, NULL);
    sl_chain_update(pool, &free, &busy, &out, &tag_a);
    assert_null(busy);
    assert_int_equal(chain_len(free), 1);
    assert_ptr_equal(free->buf, flush);

    /* An in-file buf with file bytes left stays busy. */
    sl_buf_t *f = file_buf(pool, 0, 10);
    f->tag = &tag_a;
    out = link_of(pool, f, NULL);
    sl_chain_update(pool, &free, &busy, &out, &tag_a);
    assert_int_equal(chain_len(busy), 1);
    f->file_pos = 10;
    sl_chain_update(pool, &free, &busy, &out, &tag_a);
    assert_null(busy);
    assert_ptr_equal(free->buf, f);
}

static void test_update_sent_memory(void **state)
{
    sl_pool_t *pool = *state;
    sl_buf_t *b1 = mem_buf(pool, "hello", NULL), *b2 = mem_buf(pool, "world!", NULL);
    sl_chain_t *ch = link_of(pool, b1, link_of(pool, b2, NULL));

    assert_int_equal(sl_chain_size(ch), 11);
    /* Nothing sent: the chain comes back as it was. */
    assert_ptr_equal(sl_chain_update_sent(ch, 0), ch);
    assert_ptr_equal(b1->pos, b1->start);

    assert_ptr_equal(sl_chain_update_sent(ch, 3), ch);
    assert_int_equal(sl_buf_size(b1), 2);
    assert_memory_equal(b1->pos, "lo", 2);

    /* Across the boundary: the rest of b1 and 1 byte of b2. */
    assert_ptr_equal(sl_chain_update_sent(ch, 3), ch->next);
    assert_ptr_equal(b1->pos, b1->last);
    assert_int_equal(sl_buf_size(b2), 5);
    assert_memory_equal(b2->pos, "orld!", 5);

    /* Exactly the rest: nothing left. */
    assert_null(sl_chain_update_sent(ch->next, 5));
    assert_int_equal(sl_chain_size(ch), 0);
}

/* memory, file, memory+file, flush, file: one writev+sendfile result spread over them. */
static void test_update_sent_memory_and_file(void **state)
{
    sl_pool_t *pool = *state;
    sl_buf_t *m = mem_buf(pool, "HTTP/1.1 200 OK\r\n\r\n", NULL); /* 19 bytes */
    sl_buf_t *f = file_buf(pool, 4096, 4096 + 1000);
    sl_buf_t *both = mem_buf(pool, "0123456789", NULL);
    sl_buf_t *flush = sl_calloc_buf(pool);
    sl_buf_t *f2 = file_buf(pool, 0, 500);

    both->in_file = 1;
    both->file_pos = 20000;
    both->file_last = 20010;
    flush->flush = 1;
    sl_chain_t *ch = link_of(
        pool, m,
        link_of(pool, f, link_of(pool, both, link_of(pool, flush, link_of(pool, f2, NULL)))));

    assert_int_equal(sl_chain_size(ch), 19 + 1000 + 10 + 500);

    /* Header and 100 file bytes. */
    sl_chain_t *left = sl_chain_update_sent(ch, 119);
    assert_ptr_equal(left, ch->next);
    assert_ptr_equal(m->pos, m->last);
    assert_int_equal(f->file_pos, 4096 + 100);
    assert_int_equal(f->file_last, 4096 + 1000);

    /* The rest of f and 4 bytes of the mapped buf: memory and file windows move together. */
    left = sl_chain_update_sent(left, 904);
    assert_ptr_equal(left->buf, both);
    assert_int_equal(f->file_pos, f->file_last);
    assert_int_equal(both->pos - both->start, 4);
    assert_int_equal(both->file_pos, 20004);

    /* The rest of both: the flush is passed over, f2 is next. */
    left = sl_chain_update_sent(left, 6);
    assert_ptr_equal(left->buf, f2);
    assert_int_equal(both->file_pos, both->file_last);
    assert_ptr_equal(both->pos, both->last);

    left = sl_chain_update_sent(left, 499);
    assert_ptr_equal(left->buf, f2);
    assert_int_equal(f2->file_pos, 499);
    left = sl_chain_update_sent(left, 1);
    assert_null(left);
    assert_int_equal(sl_chain_size(ch), 0);
}

/* Empty bufs before the unsent data are stepped over when nothing was sent. */
static void test_update_sent_skips_empty(void **state)
{
    sl_pool_t *pool = *state;
    sl_buf_t *empty = mem_buf(pool, "", NULL), *b = mem_buf(pool, "data", NULL);
    sl_chain_t *ch = link_of(pool, empty, link_of(pool, b, NULL));

    assert_ptr_equal(sl_chain_update_sent(ch, 0), ch->next);
    assert_ptr_equal(sl_chain_update_sent(ch, 2), ch->next);
    assert_int_equal(sl_buf_size(b), 2);
    assert_null(sl_chain_update_sent(NULL, 0));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup_pool, teardown_pool)
    const struct CMUnitTest tests[] = {
        T(test_temp_buf),
        T(test_buf_macros),
        T(test_link_freelist),
        T(test_chain_of_bufs),
        T(test_chain_add_copy),
        T(test_get_free_buf),
        T(test_chain_update),
        T(test_chain_update_shadows),
        T(test_chain_update_special),
        T(test_update_sent_memory),
        T(test_update_sent_memory_and_file),
        T(test_update_sent_skips_empty),
    };
#undef T

    return cmocka_run_group_tests(tests, NULL, NULL);
}
