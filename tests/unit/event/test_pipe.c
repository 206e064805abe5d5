/*
 * The event pipe driven by fake connections: the upstream's recv_chain serves a scripted
 * body (N bytes per call, then SL_AGAIN, then EOF or an error); the output filter records
 * what it is given and can take only K bytes per call, holding the rest as the real write
 * filter does.  Every case checks the bytes arrive exact and in order, that no more than
 * bufs.num raw buffers exist, and that no descriptor and no temp file is left behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "sl_pipe.h"
#include "sl_pool.h"

#define BODY_MAX (1024 * 1024)
#define TURNS_MAX 200000

typedef struct {
    const u_char *data;
    size_t total;
    size_t pos;
    /** bytes per recv_chain call at most */
    size_t per_call;
    /** calls served before SL_AGAIN, 0 = until the data runs out */
    int burst;
    int in_burst;
    /** at the end: EOF, else SL_AGAIN for ever */
    int eof;
    /** SL_ERROR once pos reaches this (0 = never) */
    size_t error_at;
    int calls;
    /** the log's action at the last call */
    const char *action;
} source_t;

typedef struct {
    u_char *got;
    size_t len;
    /** what the sink has been given and not yet "sent" */
    sl_chain_t *held;
    /** bytes taken per call, 0 = all */
    size_t per_call;
    /** bytes taken in all before the sink is full for good (a client that stops reading
     * once its socket buffers are full), 0 = no limit */
    size_t capacity;
    int fail;
    sl_pipe_t *p;
    /** the most raw-buffer bytes seen in flight at once while the upstream is going */
    off_t peak_busy;
    /** a chain ended inside a raw buffer's group while the upstream was still going */
    int split;
    int file_bufs;
    /** the log's action at the last call */
    const char *action;
} sink_t;

typedef struct {
    sl_pool_t *pool;
    sl_log_t log;
    sl_open_file_t log_file;
    char log_path[64];
    char temp_dir[64];
    sl_connection_t up, down;
    sl_event_t up_read, up_write, down_read, down_write;
    source_t src;
    sink_t sink;
    sl_pipe_t p;
    u_char *body;
    int fds;
} env_t;

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    assert_non_null(d);
    for (struct dirent *e = readdir(d); e; e = readdir(d)) {
        n += e->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

static int dir_entries(const char *path)
{
    DIR *d = opendir(path);
    int n = 0;

    if (d == NULL) {
        return 0;
    }
    for (struct dirent *e = readdir(d); e; e = readdir(d)) {
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    }
    closedir(d);
    return n;
}

static const char *log_text(env_t *e)
{
    static char buf[16384];
    ssize_t n = pread(e->log_file.fd, buf, sizeof(buf) - 1, 0);

    assert_true(n >= 0);
    buf[n] = '\0';
    return buf;
}

static ssize_t fake_recv(sl_connection_t *c, u_char *buf, size_t size)
{
    return SL_ERROR;
}

static ssize_t fake_recv_chain(sl_connection_t *c, sl_chain_t *in, off_t limit)
{
    source_t *s = c->data;

    s->calls++;
    s->action = c->log->action;
    if (s->error_at && s->pos >= s->error_at) {
        c->read->ready = 0;
        c->read->error = 1;
        return SL_ERROR;
    }
    if (s->pos == s->total || (s->burst && s->in_burst == s->burst)) {
        s->in_burst = 0;
        c->read->ready = 0;
        if (s->pos == s->total && s->eof) {
            c->read->eof = 1;
            return 0;
        }
        return SL_AGAIN;
    }
    size_t want = sl_min(s->per_call, s->total - s->pos), n = 0;
    if (s->error_at) {
        want = sl_min(want, s->error_at - s->pos);
    }
    if (limit) {
        want = sl_min(want, (size_t) limit);
    }
    for (; in && n < want; in = in->next) {
        size_t room = sl_min((size_t) (in->buf->end - in->buf->last), want - n);
        memcpy(in->buf->last, s->data + s->pos + n, room);
        n += room;
    }
    s->pos += n;
    s->in_burst++;
    return (ssize_t) n;
}

static sl_chain_t *fake_send_chain(sl_connection_t *c, sl_chain_t *in, off_t limit)
{
    return SL_CHAIN_ERROR;
}

static const sl_conn_io_t fake_io = {
    .recv = fake_recv,
    .recv_chain = fake_recv_chain,
    .send_chain = fake_send_chain,
};

/* Raw-buffer bytes the sink holds unsent (each raw buffer once). */
static off_t held_raw(sink_t *k)
{
    off_t size = 0;

    for (sl_chain_t *a = k->held; a; a = a->next) {
        int seen = 0;
        if (!a->buf->recycled || sl_buf_size(a->buf) == 0) {
            continue;
        }
        for (sl_chain_t *b = k->held; b != a; b = b->next) {
            seen |= b->buf->recycled && sl_buf_size(b->buf) && b->buf->start == a->buf->start;
        }
        size += seen ? 0 : a->buf->end - a->buf->start;
    }
    return size;
}

/* Copies out one buf's bytes (memory or file) up to budget; returns the bytes taken. */
static size_t take_buf(sink_t *k, sl_buf_t *b, size_t budget)
{
    size_t n = sl_min((size_t) sl_buf_size(b), budget);

    assert_true(k->len + n <= BODY_MAX);
    if (sl_buf_in_memory(b)) {
        memcpy(k->got + k->len, b->pos, n);
        b->pos += n;
    } else if (b->in_file) {
        assert_int_equal(pread(b->file->fd, k->got + k->len, n, b->file_pos), (ssize_t) n);
        b->file_pos += (off_t) n;
        k->file_bufs++;
    }
    k->len += n;
    return n;
}

static sl_int_t sink_output(void *data, sl_chain_t *chain)
{
    sink_t *k = data;
    sl_pipe_t *p = k->p;
    int finished = p->upstream_done || p->upstream_eof || p->upstream_error;

    k->action = p->log->action;
    if (k->fail) {
        return SL_ERROR;
    }
    for (sl_chain_t *cl = chain; cl; cl = cl->next) {
        if (!cl->next && cl->buf->recycled && !cl->buf->last_shadow && !finished) {
            k->split = 1;
        }
    }
    assert_int_equal(sl_chain_add_copy(p->pool, &k->held, chain), SL_OK);
    if (!finished) {
        /* once the upstream is finished everything is pushed, whatever busy_size says */
        k->peak_busy = sl_max(k->peak_busy, held_raw(k));
    }
    size_t budget = k->per_call ? k->per_call : SIZE_MAX;
    if (k->capacity) {
        budget = sl_min(budget, k->capacity - sl_min(k->capacity, k->len));
    }
    while (k->held && budget > 0) {
        budget -= take_buf(k, k->held->buf, budget);
        if (sl_buf_size(k->held->buf) != 0) {
            break;
        }
        sl_chain_t *next = k->held->next;
        sl_free_chain_link(p->pool, k->held);
        k->held = next;
    }
    if (k->held) {
        p->downstream->write->ready = 0;
        return SL_AGAIN;
    }
    return SL_OK;
}

/* An input filter making three parsed bufs per raw buffer, to test the group rule. */
static sl_int_t split_filter(sl_pipe_t *p, sl_buf_t *raw)
{
    size_t size = (size_t) (raw->last - raw->pos), third = size / 3;
    u_char *cut[4] = { raw->pos, raw->pos + third, raw->pos + 2 * third, raw->last };
    sl_buf_t *b = NULL;

    for (int i = 0; i < 3; i++) {
        if (cut[i] != cut[i + 1]) {
            b = sl_pipe_shadow_buf(p, raw, cut[i], cut[i + 1]);
            assert_non_null(b);
        }
    }
    if (b) {
        b->last_shadow = 1;
    }
    return SL_OK;
}

static void event_init(sl_event_t *ev, sl_connection_t *c, sl_log_t *log, int write)
{
    memset(ev, 0, sizeof(*ev));
    ev->data = c;
    ev->log = log;
    ev->write = write;
    ev->active = 1;
}

static void conn_init(env_t *e, sl_connection_t *c, sl_event_t *r, sl_event_t *w, void *data)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->io = &fake_io;
    c->log = &e->log;
    c->data = data;
    c->read = r;
    c->write = w;
    event_init(r, c, &e->log, 0);
    event_init(w, c, &e->log, 1);
}

static int setup(void **state)
{
    env_t *e = calloc(1, sizeof(*e));

    assert_non_null(e);
    sl_use_stderr = 0;
    e->fds = count_fds();
    strcpy(e->log_path, "/tmp/sluice-test-pipe-log-XXXXXX");
    e->log_file.fd = mkstemp(e->log_path);
    assert_true(e->log_file.fd >= 0);
    e->log_file.name.data = (u_char *) e->log_path;
    e->log_file.name.len = strlen(e->log_path);
    e->log.file = &e->log_file;
    e->log.log_level = SL_LOG_INFO;
    strcpy(e->temp_dir, "/tmp/sluice-test-pipe-XXXXXX");
    assert_non_null(mkdtemp(e->temp_dir));
    e->pool = sl_pool_create(SL_POOL_DEFAULT_SIZE, &e->log);
    assert_non_null(e->pool);
    e->body = malloc(BODY_MAX);
    e->sink.got = malloc(BODY_MAX);
    assert_true(e->body && e->sink.got);
    for (size_t i = 0; i < BODY_MAX; i++) {
        e->body[i] = (u_char) ((i * 7 + i / 251) & 0xff);
    }
    conn_init(e, &e->up, &e->up_read, &e->up_write, &e->src);
    conn_init(e, &e->down, &e->down_read, &e->down_write, &e->sink);

    sl_pipe_t *p = &e->p;
    p->upstream = &e->up;
    p->downstream = &e->down;
    p->last_in = &p->in;
    p->input_filter = sl_pipe_copy_input_filter;
    p->input_ctx = p;
    p->output_filter = sink_output;
    p->output_ctx = &e->sink;
    p->bufs.num = 4;
    p->bufs.size = 4096;
    p->busy_size = 8192;
    p->length = -1;
    p->max_temp_file_size = 0;
    p->temp_file_write_size = 8192;
    p->read_timeout = 60000;
    p->send_timeout = 60000;
    p->tag = (sl_buf_tag_t) &fake_io;
    p->temp_path.data = (u_char *) e->temp_dir;
    p->temp_path.len = strlen(e->temp_dir);
    p->pool = e->pool;
    p->log = &e->log;
    e->sink.p = p;
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env_t *e = *state;

    if (e->up_read.timer_set) {
        sl_del_timer(&e->up_read);
    }
    if (e->down_write.timer_set) {
        sl_del_timer(&e->down_write);
    }
    sl__timers_free();
    sl_pool_destroy(e->pool);
    assert_int_equal(dir_entries(e->temp_dir), 0);
    rmdir(e->temp_dir);
    close(e->log_file.fd);
    unlink(e->log_path);
    assert_int_equal(count_fds(), e->fds);
    free(e->body);
    free(e->sink.got);
    free(e);
    return 0;
}

static void source(env_t *e, size_t total, size_t per_call, int burst, int eof)
{
    e->src.data = e->body;
    e->src.total = total;
    e->src.per_call = per_call;
    e->src.burst = burst;
    e->src.eof = eof;
}

/*
 * Alternates an upstream read event and a downstream write event until the pipe is done
 * or aborts.  The allocated raw buffers never exceed bufs.num.
 */
static sl_int_t drive(env_t *e, int turns)
{
    sl_pipe_t *p = &e->p;

    for (int i = 0; i < turns; i++) {
        if (e->src.pos < e->src.total || e->src.eof) {
            e->up_read.ready = 1;
        }
        sl_int_t rc = sl_pipe_run(p, 0);
        assert_true(p->allocated <= p->bufs.num);
        if (rc != SL_OK || p->downstream_done) {
            return rc;
        }
        e->down_write.ready = 1;
        rc = sl_pipe_run(p, 1);
        assert_true(p->allocated <= p->bufs.num);
        if (rc != SL_OK || p->downstream_done) {
            return rc;
        }
    }
    return SL_AGAIN;
}

static void assert_body(env_t *e, size_t len)
{
    assert_int_equal(e->sink.len, len);
    assert_memory_equal(e->sink.got, e->body, len);
}

static void test_fast_reader_and_writer(void **state)
{
    env_t *e = *state;

    source(e, 300000, 10000, 0, 1);
    e->up_read.ready = 1;
    e->down_write.ready = 1;
    assert_int_equal(drive(e, TURNS_MAX), SL_OK);
    assert_true(e->p.upstream_eof);
    assert_true(e->p.downstream_done);
    assert_body(e, 300000);
    assert_int_equal(e->sink.file_bufs, 0);
    assert_null(e->p.temp_file);
    assert_int_equal(e->p.read_length, 300000);
}

static void test_content_length(void **state)
{
    env_t *e = *state;

    /* The upstream sends more than announced and never closes: length ends it. */
    source(e, 50000, 3000, 2, 0);
    e->p.length = 40000;
    assert_int_equal(drive(e, TURNS_MAX), SL_OK);
    assert_true(e->p.upstream_done);
    assert_false(e->p.upstream_eof);
    assert_int_equal(e->p.length, 0);
    assert_body(e, 40000);
    assert_false(e->up_read.timer_set);
    assert_false(e->down_write.timer_set);
    /* the bytes past the length are reported, worded by the protocol above, not here */
    assert_true(e->p.input_overrun);
    assert_null(strstr(log_text(e), "Content-Length"));
}

static void test_slow_writer_temp_file(void **state)
{
    env_t *e = *state;
    size_t total = 500000;

    source(e, total, 8192, 0, 1);
    e->p.max_temp_file_size = 1024 * 1024;
    e->sink.per_call = 1000;
    assert_int_equal(drive(e, TURNS_MAX), SL_OK);
    assert_body(e, total);
    assert_true(e->sink.file_bufs > 0);
    assert_non_null(e->p.temp_file);
    assert_true(e->p.temp_file->offset <= e->p.max_temp_file_size);
    assert_true(e->sink.peak_busy <= e->p.busy_size);
    /* memory stays bounded: links and shadow bufs are recycled, not reallocated */
    assert_true(sl_pool_footprint(e->pool)
                < (size_t) (e->p.bufs.num * (sl_int_t) e->p.bufs.size) + 64 * 1024);
    /* an O_TMPFILE (or unlinked) file: nothing in the directory even while open */
    assert_int_equal(dir_entries(e->temp_dir), 0);
}

static void test_temp_file_limit(void **state)
{
    env_t *e = *state;

    /* A small cap: the file fills to it, then reading stops until the client catches up. */
    source(e, 200000, 8192, 0, 1);
    e->p.max_temp_file_size = 20000;
    e->sink.per_call = 500;
    assert_int_equal(drive(e, TURNS_MAX), SL_OK);
    assert_body(e, 200000);
    assert_non_null(e->p.temp_file);
    assert_true(e->sink.file_bufs > 0);
}

static void test_cyclic_temp_file(void **state)
{
    env_t *e = *state;

    source(e, 300000, 8192, 0, 1);
    e->p.max_temp_file_size = 16384;
    e->p.cyclic_temp_file = 1;
    e->sink.per_call = 700;
    assert_int_equal(drive(e, TURNS_MAX), SL_OK);
    assert_body(e, 300000);
    assert_true(e->sink.file_bufs > 0);
    assert_true(e->p.temp_file->offset <= 16384);
}

static void test_back_pressure(void **state)
{
    env_t *e = *state;
    sl_pipe_t *p = &e->p;

    source(e, 100000, 4096, 0, 1);
    e->sink.per_call = 100;
    /* The client takes a little, then blocks; the upstream keeps being readable. */
    e->down_write.ready = 1;
    e->up_read.ready = 1;
    assert_int_equal(sl_pipe_run(p, 1), SL_OK);
    assert_false(e->down_write.ready);
    for (int i = 0; i < 10; i++) {
        e->up_read.ready = 1;
        assert_int_equal(sl_pipe_run(p, 0), SL_OK);
    }
    int calls = e->src.calls;
    size_t pos = e->src.pos;
    e->up_read.ready = 1;
    assert_int_equal(sl_pipe_run(p, 0), SL_OK);
    assert_int_equal(e->src.calls, calls);
    assert_int_equal(e->src.pos, pos);
    assert_true(pos <= (size_t) (p->bufs.num * (sl_int_t) p->bufs.size));
    assert_int_equal(p->allocated, p->bufs.num);
    assert_null(p->temp_file);
    /* waiting on the client: the send timer runs, the read one does not */
    assert_true(e->down_write.timer_set);
    assert_false(e->up_read.timer_set);
    /* The client drains: reading resumes and everything arrives. */
    e->sink.per_call = 0;
    assert_int_equal(drive(e, TURNS_MAX), SL_OK);
    assert_body(e, 100000);
    assert_null(p->temp_file);
}

static void test_read_timer(void **state)
{
    env_t *e = *state;

    source(e, 1000, 1000, 1, 0);
    e->p.length = 5000;
    e->up_read.ready = 1;
    e->down_write.ready = 1;
    assert_int_equal(sl_pipe_run(&e->p, 1), SL_OK);
    /* waiting on the upstream: the read timer runs */
    assert_true(e->up_read.timer_set);
    assert_false(e->down_write.timer_set);
    /* the partly filled buffer waits for more (nginx's buffered semantics) */
    assert_int_equal(e->sink.len, 0);
}

/* The words of the log's action are the caller's: the pipe only says when it reads and
 * when it writes, and without words leaves the action alone. */
static void test_actions(void **state)
{
    env_t *e = *state;

    source(e, 3000, 1000, 1, 0);
    e->p.length = 3000;
    e->log.action = "the caller's";
    e->up_read.ready = 1;
    e->down_write.ready = 1;
    assert_int_equal(sl_pipe_run(&e->p, 1), SL_OK);
    assert_string_equal(e->src.action, "the caller's");
    assert_string_equal(e->log.action, "the caller's");

    e->p.read_action = "reading the origin";
    e->p.write_action = "writing to the client";
    assert_int_equal(drive(e, TURNS_MAX), SL_OK);
    assert_body(e, 3000);
    assert_string_equal(e->src.action, "reading the origin");
    assert_string_equal(e->sink.action, "writing to the client");
}

static void test_early_eof(void **state)
{
    env_t *e = *state;

    source(e, 10000, 3000, 0, 1);
    e->p.length = 25000;
    assert_int_equal(drive(e, TURNS_MAX), SL_OK);
    assert_true(e->p.upstream_eof);
    assert_false(e->p.upstream_done);
    /* the caller can tell: bytes were still expected */
    assert_int_equal(e->p.length, 15000);
    assert_true(e->p.downstream_done);
    assert_body(e, 10000);
}

static void test_upstream_error(void **state)
{
    env_t *e = *state;

    source(e, 20000, 1500, 0, 1);
    e->src.error_at = 9000;
    assert_int_equal(drive(e, TURNS_MAX), SL_OK);
    assert_true(e->p.upstream_error);
    /* what was read before the error is still passed on */
    assert_body(e, 9000);
}

static void test_busy_size(void **state)
{
    env_t *e = *state;

    source(e, 200000, 1000, 1, 1);
    e->down_write.ready = 1;
    e->p.bufs.num = 8;
    e->p.bufs.size = 1024;
    e->p.busy_size = 2048;
    e->p.max_temp_file_size = 1024 * 1024;
    e->p.temp_file_write_size = 2048;
    e->p.input_filter = split_filter;
    e->sink.per_call = 300;
    assert_int_equal(drive(e, TURNS_MAX), SL_OK);
    assert_body(e, 200000);
    assert_true(e->sink.peak_busy <= 2048);
    assert_true(e->sink.peak_busy > 0);
    assert_true(e->sink.file_bufs > 0);
    /* the parsed bufs of one raw buffer always went out together */
    assert_false(e->sink.split);
}

static void test_one_byte_reads(void **state)
{
    env_t *e = *state;

    source(e, 5000, 1, 3, 1);
    e->p.bufs.num = 3;
    e->p.bufs.size = 64;
    e->p.busy_size = 128;
    e->sink.per_call = 7;
    assert_int_equal(drive(e, TURNS_MAX), SL_OK);
    assert_body(e, 5000);
}

static void test_single_buf_split_filter(void **state)
{
    env_t *e = *state;

    source(e, 70000, 5000, 4, 1);
    e->p.single_buf = 1;
    e->p.input_filter = split_filter;
    e->p.max_temp_file_size = 32768;
    e->sink.per_call = 2500;
    assert_int_equal(drive(e, TURNS_MAX), SL_OK);
    assert_body(e, 70000);
    assert_false(e->sink.split);
}

static void test_preread(void **state)
{
    env_t *e = *state;
    sl_buf_t *hb = sl_create_temp_buf(e->pool, 1024);
    sl_chain_t *cl = sl_alloc_chain_link(e->pool);

    /* 600 body bytes came with the header; the rest follows from the connection. */
    memcpy(hb->start, "HEADER", 6);
    hb->pos = hb->start + 6;
    memcpy(hb->pos, e->body, 600);
    hb->last = hb->pos + 600;
    cl->buf = hb;
    cl->next = NULL;
    e->p.preread_bufs = cl;
    e->p.preread_size = 600;
    e->p.length = 20000;
    e->src.data = e->body + 600;
    e->src.total = 19400;
    e->src.per_call = 4000;
    assert_int_equal(drive(e, TURNS_MAX), SL_OK);
    assert_true(e->p.upstream_done);
    assert_body(e, 20000);
}

static void test_temp_dir_fails(void **state)
{
    env_t *e = *state;
    char path[128];

    /* The temp path runs through a regular file: open() fails whoever we are. */
    snprintf(path, sizeof(path), "%s/file", e->temp_dir);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    snprintf(path, sizeof(path), "%s/file/sub", e->temp_dir);
    e->p.temp_path.data = (u_char *) path;
    e->p.temp_path.len = strlen(path);
    source(e, 100000, 8192, 0, 1);
    e->p.max_temp_file_size = 1024 * 1024;
    e->sink.per_call = 100;
    assert_int_equal(drive(e, TURNS_MAX), SL_ABORT);
    assert_true(e->p.upstream_error);
    assert_non_null(strstr(log_text(e), "open() temp file"));
    /* what was delivered is a prefix of the body */
    assert_memory_equal(e->sink.got, e->body, e->sink.len);
    snprintf(path, sizeof(path), "%s/file", e->temp_dir);
    unlink(path);
}

static void test_temp_file_full(void **state)
{
    env_t *e = *state;
    sl_file_t *full = sl_pcalloc(e->pool, sizeof(sl_file_t));

    /* ENOSPC on every write, as a full disk gives. */
    full->fd = open("/dev/full", O_RDWR | O_CLOEXEC);
    if (full->fd == -1) {
        skip();
    }
    full->name = e->p.temp_path;
    e->p.temp_file = full;
    source(e, 100000, 8192, 0, 1);
    e->p.max_temp_file_size = 1024 * 1024;
    e->sink.per_call = 100;
    assert_int_equal(drive(e, TURNS_MAX), SL_ABORT);
    assert_true(e->p.upstream_error);
    assert_non_null(strstr(log_text(e), "pwritev()"));
    assert_memory_equal(e->sink.got, e->body, e->sink.len);
    sl_pipe_close_temp_file(&e->p);
    assert_int_equal(full->fd, -1);
}

/* Keeping everything (a cache copy) on a full disk: the copy is given up, the client still
 * gets the whole body. */
static void test_copy_dropped_on_full_disk(void **state)
{
    env_t *e = *state;
    sl_file_t *full = sl_pcalloc(e->pool, sizeof(sl_file_t));

    full->fd = open("/dev/full", O_RDWR | O_CLOEXEC);
    if (full->fd == -1) {
        skip();
    }
    full->name = e->p.temp_path;
    e->p.temp_file = full;
    e->p.cacheable = 1;
    source(e, 100000, 8192, 0, 1);
    e->sink.per_call = 100;
    assert_int_equal(drive(e, TURNS_MAX), SL_OK);
    assert_false(e->p.cacheable);
    assert_true(e->p.copy_dropped);
    assert_false(e->p.upstream_error);
    assert_non_null(strstr(log_text(e), "pwritev()"));
    assert_int_equal(e->sink.len, 100000);
    assert_memory_equal(e->sink.got, e->body, 100000);
    sl_pipe_close_temp_file(&e->p);
}

/*
 * A client that stops reading: the sink takes `capacity` bytes (its socket buffers), then
 * nothing.  Only upstream read events come after that.  Returns how many passes it took.
 */
static int drive_stalled(env_t *e, size_t capacity, int turns)
{
    sl_pipe_t *p = &e->p;
    int i;

    e->sink.capacity = capacity;
    e->up_read.ready = 1;
    e->down_write.ready = 1;
    assert_int_equal(sl_pipe_run(p, 1), SL_OK);
    for (i = 0; i < turns && !(p->upstream_done || p->upstream_eof); i++) {
        /* the client's buffers are full: its write event never comes */
        assert_false(e->down_write.ready);
        e->up_read.ready = e->src.pos < e->src.total;
        size_t pos = e->src.pos;
        assert_int_equal(sl_pipe_run(p, 0), SL_OK);
        assert_true(p->allocated <= p->bufs.num);
        if (e->src.pos == pos) {
            break; /* the pipe stopped reading */
        }
    }
    return i;
}

/* Then the client reads everything. */
static void drain_stalled(env_t *e, size_t total)
{
    e->sink.capacity = 0;
    assert_int_equal(drive(e, TURNS_MAX), SL_OK);
    assert_body(e, total);
}

static void test_stalled_client_spills(void **state)
{
    env_t *e = *state;
    sl_pipe_t *p = &e->p;
    size_t total = BODY_MAX, taken = 20000;

    /* nginx's rule: every buffer full, the client not taking data: write to the temp file
     * and keep reading the upstream to the end, so it is released at once */
    source(e, total, 16384, 0, 0);
    p->length = (off_t) total;
    p->max_temp_file_size = 1024 * 1024 * 1024;
    drive_stalled(e, taken, TURNS_MAX);
    assert_true(p->upstream_done);
    assert_int_equal(e->src.pos, total);
    assert_int_equal(e->sink.len, taken);
    assert_non_null(p->temp_file);
    /* all but what the client took and what fits the buffers went to the file */
    assert_true(p->temp_file->offset
                >= (off_t) (total - taken) - p->bufs.num * (off_t) p->bufs.size);
    assert_non_null(strstr(log_text(e), "an upstream response is buffered to a temporary file"));
    /* the upstream is not waited on any more; the client is */
    assert_false(e->up_read.timer_set);
    assert_true(e->down_write.timer_set);
    /* what waits in the file is one buf, not one per raw buffer spilled (the upstream is
     * done, so everything is with the client's side now): memory stays bounded by the
     * buffers however much spills */
    int bufs = 0;
    for (sl_chain_t *cl = e->sink.held; cl; cl = cl->next) {
        bufs++;
    }
    assert_true(bufs <= p->bufs.num + 2);
    assert_true(sl_pool_footprint(e->pool)
                < (size_t) (p->bufs.num * (sl_int_t) p->bufs.size) + 64 * 1024);
    drain_stalled(e, total);
}

static void test_stalled_client_write_size_below_buffer(void **state)
{
    env_t *e = *state;
    sl_pipe_t *p = &e->p;
    size_t total = 300000;

    /* a write size under one buffer still spills (one buffer per write) */
    source(e, total, 16384, 0, 1);
    p->max_temp_file_size = 1024 * 1024;
    p->temp_file_write_size = 1024;
    drive_stalled(e, 5000, TURNS_MAX);
    assert_true(p->upstream_eof);
    assert_int_equal(e->src.pos, total);
    assert_non_null(p->temp_file);
    drain_stalled(e, total);
}

static void test_stalled_client_no_temp_file(void **state)
{
    env_t *e = *state;
    sl_pipe_t *p = &e->p;
    size_t total = 300000, taken = 5000;

    /* proxy_max_temp_file_size 0: the buffers fill, then the upstream waits */
    source(e, total, 16384, 0, 1);
    drive_stalled(e, taken, TURNS_MAX);
    assert_false(p->upstream_eof);
    assert_true(e->src.pos <= taken + p->bufs.num * p->bufs.size);
    assert_int_equal(p->allocated, p->bufs.num);
    assert_null(p->temp_file);
    assert_false(e->up_read.timer_set);
    assert_true(e->down_write.timer_set);
    drain_stalled(e, total);
    assert_null(p->temp_file);
}

static void test_stalled_client_temp_file_limit(void **state)
{
    env_t *e = *state;
    sl_pipe_t *p = &e->p;
    size_t total = 300000, taken = 5000;

    /* a small proxy_max_temp_file_size: spills up to it, then the upstream waits */
    source(e, total, 16384, 0, 1);
    p->max_temp_file_size = 65536;
    drive_stalled(e, taken, TURNS_MAX);
    assert_false(p->upstream_eof);
    assert_non_null(p->temp_file);
    assert_true(p->temp_file->offset <= 65536);
    assert_true(p->temp_file->offset > 65536 - (off_t) p->temp_file_write_size);
    assert_true(e->src.pos <= taken + 65536 + p->bufs.num * p->bufs.size);
    drain_stalled(e, total);
}

static void test_downstream_error(void **state)
{
    env_t *e = *state;

    source(e, 100000, 8192, 0, 1);
    e->sink.fail = 1;
    assert_int_equal(drive(e, TURNS_MAX), SL_ABORT);
    assert_true(e->p.downstream_error);
    assert_null(e->p.busy);
    assert_null(e->p.in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fast_reader_and_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_content_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_writer_temp_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_temp_file_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cyclic_temp_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_back_pressure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_timer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_actions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_early_eof, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upstream_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_byte_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_single_buf_split_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_preread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_temp_dir_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_temp_file_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_dropped_on_full_disk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_downstream_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stalled_client_spills, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stalled_client_write_size_below_buffer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stalled_client_no_temp_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stalled_client_temp_file_limit, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
