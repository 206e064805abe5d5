/*
 * sl_http_gzip_filter_module.c: gzip content coding of response bodies, on zlib.
 *
 *   gzip on|off                  (default off; also in "if" in a location)
 *   gzip_types TYPE ...|*        what to compress beside text/html (always included)
 *   gzip_comp_level 1..9         (default 1)
 *   gzip_min_length SIZE         a known length below this is sent as it is (default 20)
 *   gzip_buffers NUM SIZE        the output buffers of one response (default 32 4k)
 *
 * The header filter decides (a 200, 403 or 404 of a listed type, not already encoded, not
 * known to be shorter than gzip_min_length, for a client sl_http_gzip_ok() accepts), then
 * adds "Content-Encoding: gzip", drops Content-Length (HTTP/1.1 gets chunks) and
 * Accept-Ranges (so no range is cut from it), and makes a strong ETag weak.
 *
 * The body filter feeds every buf it gets to deflate() and hands on gzip_buffers-sized
 * output buffers, reusing them once the filters below have sent them.  When every one of
 * them is in flight it stops taking input: the input bufs keep their unread bytes, so their
 * owner (the event pipe, the file reader, the unbuffered upstream) sees them busy and stops
 * producing, and memory stays at gzip_buffers plus zlib's state whatever the body's size and
 * however slow the client.  r->buffered says so; the next call, with new input or none,
 * carries on.  A flush buf becomes a zlib sync flush (an unbuffered proxy streams), the last
 * buf the gzip trailer.
 *
 * Two module entries, because nginx's filter order needs them apart: the header filter runs
 * after add_header and before the range filter decides (sl_http_gzip_header_filter_module),
 * the body filter after the file reader has turned file parts into memory
 * (sl_http_gzip_filter_module, which also holds the configuration).
 *
 * $gzip_ratio: the compression ratio of the response, once it is complete.
 */
#include <stdio.h>
#include <zlib.h>

#include "sl_http_gzip.h"
#include "sl_http_output.h"
#include "sl_http_filter_types.h"
#include "sl_http_variables.h"
#include "sl_pool.h"

typedef struct {
    sl_int_t enable;
    /** text/html always among them */
    sl_http_filter_types_t *types;
    sl_int_t level;
    size_t min_length;
    sl_bufs_t bufs;
} gzip_loc_conf_t;

typedef struct {
    /** links of the bufs received and not yet fed to zlib */
    sl_chain_t *in;
    /** the buf zlib reads from (its pos follows zlib's progress) */
    sl_buf_t *in_buf;
    /** the output buf being filled, not yet handed on */
    sl_buf_t *out_buf;
    /** our output bufs: sent and reusable, or in the filters below */
    sl_chain_t *free;
    sl_chain_t *busy;
    sl_uint_t allocated;
    /** Z_NO_FLUSH, or the flush the last input asked for (Z_SYNC_FLUSH, Z_FINISH) */
    int flush;
    z_stream zstream;
    /** the body's length when the header said it: smaller windows for small bodies */
    off_t length;
    sl_http_request_t *request;
    unsigned started : 1;
    unsigned done : 1;
} gzip_ctx_t;

static void *create_loc_conf(sl_conf_t *cf);
static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child);
static sl_int_t preconfiguration(sl_conf_t *cf);
static sl_int_t body_postconfiguration(sl_conf_t *cf);
static sl_int_t header_postconfiguration(sl_conf_t *cf);

static sl_conf_num_bounds_t comp_level_bounds = { sl_conf_check_num_bounds, 1, 9 };

#define CTX (SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF)
#define LOCF(f) offsetof(gzip_loc_conf_t, f)

// clang-format off
static sl_command_t gzip_commands[] = {
    { sl_string("gzip"), CTX | SL_HTTP_LIF_CONF | SL_CONF_FLAG, sl_conf_set_flag_slot, SL_HTTP_LOC_CONF_OFFSET, LOCF(enable), NULL },
    { sl_string("gzip_types"), CTX | SL_CONF_1MORE, sl_http_filter_types_slot,
      SL_HTTP_LOC_CONF_OFFSET, offsetof(gzip_loc_conf_t, types), (void *) sl_http_filter_types_html },
    { sl_string("gzip_comp_level"), CTX | SL_CONF_TAKE1, sl_conf_set_num_slot, SL_HTTP_LOC_CONF_OFFSET, LOCF(level), &comp_level_bounds },
    { sl_string("gzip_min_length"), CTX | SL_CONF_TAKE1, sl_conf_set_size_slot, SL_HTTP_LOC_CONF_OFFSET, LOCF(min_length), NULL },
    { sl_string("gzip_buffers"), CTX | SL_CONF_TAKE2, sl_conf_set_bufs_slot, SL_HTTP_LOC_CONF_OFFSET, LOCF(bufs), NULL },
    sl_null_command,
};
// clang-format on

// clang-format off
static sl_http_module_t gzip_module_ctx = {
    preconfiguration, body_postconfiguration, NULL, NULL, NULL, NULL,
    create_loc_conf, merge_loc_conf,
};

sl_module_t sl_http_gzip_filter_module = {
    "http_gzip", 0, 0, SL_HTTP_MODULE, &gzip_module_ctx, gzip_commands, NULL, NULL, NULL,
};

static sl_http_module_t gzip_header_module_ctx = {
    NULL, header_postconfiguration, NULL, NULL, NULL, NULL, NULL, NULL,
};

sl_module_t sl_http_gzip_header_filter_module = {
    "http_gzip_header_filter", 0, 0, SL_HTTP_MODULE, &gzip_header_module_ctx, NULL, NULL, NULL,
    NULL,
};
// clang-format on

static sl_http_output_header_filter_pt next_header_filter;
static sl_http_output_body_filter_pt next_body_filter;

/* --- configuration ------------------------------------------------------------------------ */

static void *create_loc_conf(sl_conf_t *cf)
{
    gzip_loc_conf_t *conf = sl_pcalloc(cf->pool, sizeof(gzip_loc_conf_t));

    if (conf) {
        conf->enable = SL_CONF_UNSET;
        conf->types = SL_CONF_UNSET_PTR;
        conf->level = SL_CONF_UNSET;
        conf->min_length = SL_CONF_UNSET_SIZE;
    }
    return conf;
}

static const char *const default_types[] = { "text/html", NULL };

static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child)
{
    gzip_loc_conf_t *prev = parent;
    gzip_loc_conf_t *conf = child;

    sl_conf_merge_value(conf->enable, prev->enable, 0);
    sl_conf_merge_value(conf->level, prev->level, 1);
    sl_conf_merge_size_value(conf->min_length, prev->min_length, 20);
    /* a memory page each, as nginx's default */
    sl_conf_merge_bufs_value(conf->bufs, prev->bufs, 32, 4096);
    return sl_http_filter_types_merge(cf, &conf->types, &prev->types, default_types);
}

/* --- the header ----------------------------------------------------------------------------- */

/* The compressed body is not byte-for-byte the one a strong ETag names: "x" becomes W/"x";
 * a malformed ETag goes. */
static int compressible(sl_http_request_t *r, gzip_loc_conf_t *conf)
{
    sl_http_headers_out_t *h = &r->headers_out;

    return conf->enable
           && (h->status == SL_HTTP_OK || h->status == SL_HTTP_FORBIDDEN
               || h->status == SL_HTTP_NOT_FOUND)
           && (h->content_encoding == NULL || h->content_encoding->value.len == 0)
           && (h->content_length_n == -1 || h->content_length_n >= (off_t) conf->min_length)
           && sl_http_filter_types_test(r, conf->types) && !r->header_only;
}

static sl_int_t gzip_header_filter(sl_http_request_t *r)
{
    gzip_loc_conf_t *conf = sl_http_get_module_loc_conf(r, sl_http_gzip_filter_module);

    if (!compressible(r, conf)) {
        return next_header_filter(r);
    }
    /* the answer depends on Accept-Encoding from here on, whatever it is */
    sl_http_gzip_set_vary(r);
    if (r->gzip_tested ? !r->gzip_ok : sl_http_gzip_ok(r) != SL_OK) {
        return next_header_filter(r);
    }
    gzip_ctx_t *ctx = sl_pcalloc(r->pool, sizeof(gzip_ctx_t));
    if (ctx == NULL) {
        return SL_ERROR;
    }
    ctx->request = r;
    ctx->length = r->headers_out.content_length_n;
    r->headers_out.content_encoding =
        sl_http_add_response_header(r, "Content-Encoding", (const u_char *) "gzip", 4);
    if (r->headers_out.content_encoding == NULL) {
        return SL_ERROR;
    }
    /* the compressed body is not byte for byte the one a strong ETag names */
    sl_http_weak_etag(r);
    sl_http_set_ctx(r, ctx, sl_http_gzip_filter_module);
    /* file parts of the body reach this filter read into memory */
    r->main_filter_need_in_memory = 1;
    sl_http_clear_content_length(r);
    sl_http_clear_accept_ranges(r);
    return next_header_filter(r);
}

/* --- zlib ----------------------------------------------------------------------------------- */

/* zlib's state lives in the request pool, freed with it: no allocation outside pools. */
static voidpf pool_alloc(voidpf opaque, uInt items, uInt size)
{
    gzip_ctx_t *ctx = opaque;

    return sl_palloc(ctx->request->pool, (size_t) items * size);
}

static void pool_free(voidpf opaque, voidpf address)
{
    /* the pool frees it */
}

/*
 * deflate with the gzip wrapper (header and CRC trailer by zlib).  A body known to be small
 * gets a smaller window and hash (each halving as long as the body fits in half the window),
 * as nginx sizes them: the same output for it, a fraction of the memory.
 */
static sl_int_t start_deflate(sl_http_request_t *r, gzip_ctx_t *ctx, gzip_loc_conf_t *conf)
{
    int wbits = MAX_WBITS, memlevel = MAX_MEM_LEVEL - 1;

    if (ctx->length > 0) {
        while (ctx->length < ((off_t) 1 << (wbits - 1)) && wbits > 9) {
            wbits--;
            memlevel = memlevel > 1 ? memlevel - 1 : 1;
        }
    }
    ctx->zstream.zalloc = pool_alloc;
    ctx->zstream.zfree = pool_free;
    ctx->zstream.opaque = ctx;
    int rc = deflateInit2(&ctx->zstream, (int) conf->level, Z_DEFLATED, wbits + 16, memlevel,
                          Z_DEFAULT_STRATEGY);
    if (rc != Z_OK) {
        sl_log_error(SL_LOG_ALERT, r->connection->log, 0, "deflateInit2() failed: %d", rc);
        return SL_ERROR;
    }
    ctx->flush = Z_NO_FLUSH;
    ctx->started = 1;
    return SL_OK;
}

/* The next input buf for zlib, its flags turned into the flush to ask for.  0 when there is
 * nothing to feed (or SL_ERROR for a file part, which must have been read before). */
static sl_int_t next_input(sl_http_request_t *r, gzip_ctx_t *ctx)
{
    while (ctx->in) {
        sl_chain_t *cl = ctx->in;
        sl_buf_t *b = cl->buf;
        ctx->in = cl->next;
        sl_free_chain_link(r->pool, cl);
        if (b->in_file && !sl_buf_in_memory(b)) {
            sl_log_error(SL_LOG_ALERT, r->connection->log, 0, "gzip filter got a file buffer");
            return SL_ERROR;
        }
        ctx->in_buf = b;
        ctx->zstream.next_in = sl_buf_in_memory(b) ? b->pos : NULL;
        ctx->zstream.avail_in = sl_buf_in_memory(b) ? (uInt) (b->last - b->pos) : 0;
        if (b->last_buf) {
            ctx->flush = Z_FINISH;
        } else if (b->flush) {
            ctx->flush = Z_SYNC_FLUSH;
        }
        if (ctx->zstream.avail_in || ctx->flush != Z_NO_FLUSH) {
            return 1;
        }
    }
    ctx->in_buf = NULL;
    return 0;
}

/* A free output buf for zlib to write into, or 0 when all gzip_buffers are in flight. */
static sl_int_t next_output(sl_http_request_t *r, gzip_ctx_t *ctx, gzip_loc_conf_t *conf)
{
    sl_buf_t *b;

    if (ctx->free) {
        sl_chain_t *cl = ctx->free;
        ctx->free = cl->next;
        b = cl->buf;
        sl_free_chain_link(r->pool, cl);
    } else if (ctx->allocated < (sl_uint_t) conf->bufs.num) {
        b = sl_create_temp_buf(r->pool, conf->bufs.size);
        if (b == NULL) {
            return SL_ERROR;
        }
        b->tag = (sl_buf_tag_t) &sl_http_gzip_filter_module;
        b->recycled = 1;
        ctx->allocated++;
    } else {
        return 0;
    }
    b->pos = b->last = b->start;
    b->flush = 0;
    b->last_buf = 0;
    ctx->out_buf = b;
    ctx->zstream.next_out = b->pos;
    ctx->zstream.avail_out = (uInt) (b->end - b->start);
    return 1;
}

static sl_int_t append(sl_http_request_t *r, sl_chain_t ***ll, sl_buf_t *b)
{
    sl_chain_t *cl = sl_alloc_chain_link(r->pool);

    if (cl == NULL) {
        return SL_ERROR;
    }
    cl->buf = b;
    cl->next = NULL;
    **ll = cl;
    *ll = &cl->next;
    return SL_OK;
}

/* The stream is complete: what is left of the output, then an empty last buf. */
static sl_int_t finish(sl_http_request_t *r, gzip_ctx_t *ctx, sl_chain_t ***ll)
{
    sl_buf_t *last = sl_calloc_buf(r->pool);

    ctx->done = 1;
    deflateEnd(&ctx->zstream);
    if (last == NULL || (ctx->out_buf->last > ctx->out_buf->pos && append(r, ll, ctx->out_buf))) {
        return SL_ERROR;
    }
    ctx->out_buf = NULL;
    last->last_buf = 1;
    return append(r, ll, last);
}

/*
 * Runs deflate() while there is input to feed and a buffer to write into, appending filled
 * (or flushed) output bufs to *out.  SL_OK when it stops for want of either, SL_ERROR.
 */
static sl_int_t run_deflate(sl_http_request_t *r, gzip_ctx_t *ctx, gzip_loc_conf_t *conf,
                            sl_chain_t **out)
{
    sl_chain_t **ll = out;

    while (!ctx->done) {
        if (ctx->zstream.avail_in == 0 && ctx->flush == Z_NO_FLUSH) {
            sl_int_t rc = next_input(r, ctx);
            if (rc != 1) {
                return rc == 0 ? SL_OK : SL_ERROR;
            }
        }
        if (ctx->out_buf == NULL) {
            sl_int_t rc = next_output(r, ctx, conf);
            if (rc != 1) {
                return rc == 0 ? SL_OK : SL_ERROR;
            }
        }
        int rc = deflate(&ctx->zstream, ctx->flush);
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
            sl_log_error(SL_LOG_ALERT, r->connection->log, 0, "deflate() failed: %d, %d",
                         ctx->flush, rc);
            return SL_ERROR;
        }
        /* what zlib took is consumed: the buf's owner may reuse it once it is all taken */
        if (ctx->in_buf && sl_buf_in_memory(ctx->in_buf)) {
            ctx->in_buf->pos = (u_char *) ctx->zstream.next_in;
        }
        ctx->out_buf->last = ctx->zstream.next_out;
        if (rc == Z_STREAM_END) {
            return finish(r, ctx, &ll);
        }
        if (ctx->zstream.avail_out == 0 || ctx->flush == Z_SYNC_FLUSH) {
            /* full, or flushed: everything zlib had is in it */
            ctx->out_buf->flush = ctx->zstream.avail_out != 0;
            if (append(r, &ll, ctx->out_buf) != SL_OK) {
                return SL_ERROR;
            }
            ctx->out_buf = NULL;
            if (ctx->zstream.avail_out != 0) {
                ctx->flush = Z_NO_FLUSH;
            }
        }
    }
    return SL_OK;
}

/* Work left that needs an output buffer: input not yet fed, or a flush or the end. */
static int has_work(gzip_ctx_t *ctx)
{
    return !ctx->done && (ctx->in || ctx->zstream.avail_in || ctx->flush != Z_NO_FLUSH);
}

static int has_buffer(gzip_ctx_t *ctx, gzip_loc_conf_t *conf)
{
    return ctx->out_buf || ctx->free || ctx->allocated < (sl_uint_t) conf->bufs.num;
}

static sl_int_t gzip_body_filter(sl_http_request_t *r, sl_chain_t *in)
{
    gzip_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_gzip_filter_module);
    gzip_loc_conf_t *conf = sl_http_get_module_loc_conf(r, sl_http_gzip_filter_module);

    if (ctx == NULL || ctx->done || r->header_only) {
        return next_body_filter(r, in);
    }
    if (!ctx->started && start_deflate(r, ctx, conf) != SL_OK) {
        ctx->done = 1;
        return SL_ERROR;
    }
    if (in && sl_chain_add_copy(r->pool, &ctx->in, in) != SL_OK) {
        ctx->done = 1;
        return SL_ERROR;
    }
    int pushed = 0;
    for (;;) {
        sl_chain_t *out = NULL;
        if (run_deflate(r, ctx, conf, &out) != SL_OK) {
            ctx->done = 1;
            return SL_ERROR;
        }
        /* with every buffer below, an empty call still makes the write filter send them */
        pushed = out == NULL;
        sl_int_t rc = next_body_filter(r, out);
        sl_chain_update(r->pool, &ctx->free, &ctx->busy, &out,
                        (sl_buf_tag_t) &sl_http_gzip_filter_module);
        if (rc == SL_ERROR) {
            ctx->done = 1;
            return SL_ERROR;
        }
        if (!has_work(ctx)) {
            r->buffered &= ~SL_HTTP_GZIP_BUFFERED;
            return rc;
        }
        if (!has_buffer(ctx, conf) && pushed) {
            r->buffered |= SL_HTTP_GZIP_BUFFERED;
            return rc == SL_OK ? SL_AGAIN : rc;
        }
    }
}

/* --- $gzip_ratio ----------------------------------------------------------------------------- */

static sl_int_t var_gzip_ratio(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    gzip_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_gzip_filter_module);

    v->not_found = 1;
    if (ctx == NULL || !ctx->done || ctx->zstream.total_out == 0) {
        return SL_OK;
    }
    /* out counts gzip's header and trailer, as nginx's ratio does */
    uLong zin = ctx->zstream.total_in, zout = ctx->zstream.total_out;
    u_char *p = sl_pnalloc(r->pool, SL_INT64_LEN + 4);
    if (p == NULL) {
        return SL_ERROR;
    }
    uLong ratio = zin / zout, rest = (zin * 1000 / zout) % 1000;
    /* two decimals, the third rounding the second */
    rest = (rest + 5) / 10;
    if (rest >= 100) {
        ratio++;
        rest -= 100;
    }
    v->len = (unsigned) snprintf((char *) p, SL_INT64_LEN + 4, "%lu.%02lu", ratio, rest);
    v->data = p;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return SL_OK;
}

static sl_int_t preconfiguration(sl_conf_t *cf)
{
    sl_str_t name = sl_string("gzip_ratio");
    sl_http_variable_t *v = sl_http_add_variable(cf, &name, SL_HTTP_VAR_NOCACHEABLE);

    if (v == NULL) {
        return SL_ERROR;
    }
    v->get_handler = var_gzip_ratio;
    return SL_OK;
}

static sl_int_t body_postconfiguration(sl_conf_t *cf)
{
    next_body_filter = sl_http_top_body_filter;
    sl_http_top_body_filter = gzip_body_filter;
    return SL_OK;
}

static sl_int_t header_postconfiguration(sl_conf_t *cf)
{
    next_header_filter = sl_http_top_header_filter;
    sl_http_top_header_filter = gzip_header_filter;
    return SL_OK;
}
