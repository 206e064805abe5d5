/*
 * sl_http_slice_filter_module.c: "slice SIZE" and $slice_range, as nginx 1.22's slice
 * module.  A response is fetched in pieces of SIZE bytes, each one its own byte-range
 * request upstream ("proxy_set_header Range $slice_range"), so a large object is fetched
 * and cached piece by piece ("proxy_cache_key ...$slice_range").
 *
 * Reading $slice_range in a main request turns slicing on: the value names the slice that
 * holds the first byte the client wants.  The main request fetches that slice; as its
 * body ends, the body filter starts a subrequest (a clone of the request, from the content
 * phase) for the next slice, and so on until the last byte the client wants.  Each
 * piece must come as a 206 whose Content-Range is exactly the slice asked for, with the
 * same ETag as the first; the header filter turns it into a 200 of the whole length at
 * its offset (r->headers_out.content_offset), which the range filter then cuts to the
 * client's own range.  A piece that breaks these rules ends the response with an error
 * (the connection closes: the client sees a truncated body), logged as nginx logs it.  A
 * first response that is not a 206 is passed on as it is, without slicing.
 */
#include <stdio.h>

#include "sl_http_output.h"
#include "sl_http_variables.h"
#include "sl_pool.h"

typedef struct {
    size_t size;
} slice_loc_conf_t;

typedef struct {
    /** the first byte of the next slice to fetch */
    off_t start;
    /** one past the last byte the response needs */
    off_t end;
    /** "bytes=START-END" of the slice being fetched */
    sl_str_t range;
    /** the first piece's ETag: every other piece must have the same */
    sl_str_t etag;
    /** the main request's own body has ended */
    unsigned last : 1;
    /** a piece's header arrived for the latest slice asked */
    unsigned active : 1;
    /** the subrequest fetching the latest slice */
    sl_http_request_t *sr;
} slice_ctx_t;

/* A Content-Range "bytes START-END/LENGTH": [start, end) and the whole length, -1 for
 * "*". */
typedef struct {
    off_t start;
    off_t end;
    off_t complete_length;
} content_range_t;

static void *create_loc_conf(sl_conf_t *cf);
static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child);
static sl_int_t preconfiguration(sl_conf_t *cf);
static sl_int_t postconfiguration(sl_conf_t *cf);

// clang-format off
static sl_command_t slice_commands[] = {
    { sl_string("slice"), SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF | SL_CONF_TAKE1,
      sl_conf_set_size_slot, SL_HTTP_LOC_CONF_OFFSET, offsetof(slice_loc_conf_t, size), NULL },
    sl_null_command,
};
// clang-format on

static sl_http_module_t slice_module_ctx = {
    preconfiguration, postconfiguration, NULL, NULL, NULL, NULL, create_loc_conf, merge_loc_conf,
};

sl_module_t sl_http_slice_filter_module = {
    "http_slice_filter", 0, 0, SL_HTTP_MODULE, &slice_module_ctx, slice_commands, NULL, NULL, NULL,
};

static sl_http_output_header_filter_pt next_header_filter;
static sl_http_output_body_filter_pt next_body_filter;

static void *create_loc_conf(sl_conf_t *cf)
{
    slice_loc_conf_t *conf = sl_pcalloc(cf->pool, sizeof(slice_loc_conf_t));

    if (conf) {
        conf->size = SL_CONF_UNSET_SIZE;
    }
    return conf;
}

static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child)
{
    slice_loc_conf_t *prev = parent, *conf = child;

    sl_conf_merge_size_value(conf->size, prev->size, 0);
    return SL_CONF_OK;
}

/* --- parsing ------------------------------------------------------------------------------- */

/* SL_OK, or SL_ERROR when the value is not "bytes START-END/LENGTH" (LENGTH may be "*"). */
static sl_int_t parse_content_range(const sl_str_t *value, content_range_t *cr)
{
    const u_char *p = value->data, *end = value->data + value->len;
    off_t start, last;

    if (value->len < 6 || memcmp(p, "bytes ", 6) != 0) {
        return SL_ERROR;
    }
    p = sl_skip_spaces(p + 6, end);
    if ((p = sl_scan_off(p, end, &start)) == NULL) {
        return SL_ERROR;
    }
    p = sl_skip_spaces(p, end);
    if (p == end || *p != '-') {
        return SL_ERROR;
    }
    p = sl_skip_spaces(p + 1, end);
    if ((p = sl_scan_off(p, end, &last)) == NULL || last < start || last == SL_MAX_OFF_T_VALUE) {
        return SL_ERROR;
    }
    p = sl_skip_spaces(p, end);
    if (p == end || *p != '/') {
        return SL_ERROR;
    }
    p = sl_skip_spaces(p + 1, end);
    if (p < end && *p == '*') {
        cr->complete_length = -1;
        p++;
    } else if ((p = sl_scan_off(p, end, &cr->complete_length)) == NULL) {
        return SL_ERROR;
    }
    if (sl_skip_spaces(p, end) != end) {
        return SL_ERROR;
    }
    cr->start = start;
    cr->end = last + 1;
    return SL_OK;
}

/* The first byte the client asks for, when its Range is one plain "bytes=N-..." (and
 * without If-Range, whose answer may be the whole body); else 0. */
static off_t client_start(sl_http_request_t *r)
{
    sl_table_elt_t *h = r->headers_in.range;

    if (r->headers_in.if_range || h == NULL || h->value.len < 7
        || sl_strncasecmp(h->value.data, (u_char *) "bytes=", 6) != 0
        || memchr(h->value.data, ',', h->value.len) != NULL) {
        return 0;
    }
    const u_char *p = sl_skip_spaces(h->value.data + 6, h->value.data + h->value.len);
    off_t start = 0;
    if (p == h->value.data + h->value.len || *p == '-'
        || sl_scan_off(p, h->value.data + h->value.len, &start) == NULL) {
        return 0;
    }
    return start;
}

/* Writes "bytes=START-END" for the slice at start into ctx->range (room made at ctx
 * creation). */
static void set_range(slice_ctx_t *ctx, off_t start, size_t size)
{
    u_char *p = ctx->range.data;

    memcpy(p, "bytes=", 6);
    p = sl_sprint_int(p + 6, start);
    *p++ = '-';
    p = sl_sprint_int(p, start + (off_t) size - 1);
    ctx->range.len = (size_t) (p - ctx->range.data);
}

/* --- $slice_range -------------------------------------------------------------------------- */

static slice_ctx_t *create_ctx(sl_http_request_t *r, size_t size)
{
    slice_ctx_t *ctx = sl_pcalloc(r->pool, sizeof(slice_ctx_t));

    if (ctx == NULL) {
        return NULL;
    }
    ctx->range.data = sl_pnalloc(r->pool, sizeof("bytes=-") - 1 + 2 * SL_INT64_LEN);
    if (ctx->range.data == NULL) {
        return NULL;
    }
    ctx->start = (off_t) size * (client_start(r) / (off_t) size);
    set_range(ctx, ctx->start, size);
    sl_http_set_ctx(r, ctx, sl_http_slice_filter_module);
    return ctx;
}

static sl_int_t slice_range_variable(sl_http_request_t *r, sl_http_variable_value_t *v,
                                     uintptr_t data)
{
    slice_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_slice_filter_module);

    if (ctx == NULL) {
        slice_loc_conf_t *conf = sl_http_get_module_loc_conf(r, sl_http_slice_filter_module);
        /* slicing starts with a main request that has not answered yet */
        if (r != r->main || r->headers_out.status || conf->size == 0) {
            v->not_found = 1;
            return SL_OK;
        }
        ctx = create_ctx(r, conf->size);
        if (ctx == NULL) {
            return SL_ERROR;
        }
    }
    v->data = ctx->range.data;
    v->len = (unsigned) ctx->range.len;
    v->valid = 1;
    v->not_found = 0;
    v->no_cacheable = 1;
    return SL_OK;
}

/* --- the header filter --------------------------------------------------------------------- */

/* Whether the piece's ETag is the first piece's (remembering the first); logs why not. */
static int same_etag(sl_http_request_t *r, slice_ctx_t *ctx)
{
    sl_table_elt_t *h = r->headers_out.etag;

    if (ctx->etag.len && (h == NULL || !sl_str_eq(&h->value, &ctx->etag))) {
        sl_log_error(SL_LOG_ERR, r->connection->log, 0, "etag mismatch in slice response");
        return 0;
    }
    if (h) {
        ctx->etag = h->value;
    }
    return 1;
}

/* Reads the piece's Content-Range into cr and checks it is the slice asked for. */
static int expected_range(sl_http_request_t *r, slice_ctx_t *ctx, size_t size, content_range_t *cr)
{
    sl_log_t *log = r->connection->log;
    sl_table_elt_t *h = r->headers_out.content_range;

    if (h == NULL || parse_content_range(&h->value, cr) != SL_OK) {
        sl_log_error(SL_LOG_ERR, log, 0, "invalid range in slice response");
        return 0;
    }
    if (cr->complete_length == -1) {
        sl_log_error(SL_LOG_ERR, log, 0, "no complete length in slice response");
        return 0;
    }
    off_t end = sl_min(cr->start + (off_t) size, cr->complete_length);
    if (cr->start != ctx->start || cr->end != end) {
        sl_log_error(SL_LOG_ERR, log, 0, "unexpected range in slice response: %lld-%lld",
                     (long long) cr->start, (long long) cr->end);
        return 0;
    }
    return 1;
}

/* The piece becomes a 200 of the whole length, its body at cr->start of it. */
static void as_part_of_whole(sl_http_request_t *r, const content_range_t *cr)
{
    r->headers_out.status = SL_HTTP_OK;
    r->headers_out.status_line.len = 0;
    sl_http_clear_content_length(r);
    r->headers_out.content_length_n = cr->complete_length;
    r->headers_out.content_offset = cr->start;
    r->headers_out.content_range->hash = 0;
    r->headers_out.content_range = NULL;
    sl_http_clear_accept_ranges(r);
    r->allow_ranges = 1;
    r->subrequest_ranges = 1;
    r->single_range = 1;
}

static sl_int_t slice_header_filter(sl_http_request_t *r)
{
    slice_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_slice_filter_module);

    if (ctx == NULL) {
        return next_header_filter(r);
    }
    if (r->headers_out.status != SL_HTTP_PARTIAL_CONTENT) {
        if (r == r->main) {
            /* the upstream sent the whole: no slicing */
            sl_http_set_ctx(r, NULL, sl_http_slice_filter_module);
            return next_header_filter(r);
        }
        sl_log_error(SL_LOG_ERR, r->connection->log, 0,
                     "unexpected status code %lu in slice response",
                     (unsigned long) r->headers_out.status);
        return SL_ERROR;
    }
    slice_loc_conf_t *conf = sl_http_get_module_loc_conf(r, sl_http_slice_filter_module);
    content_range_t cr;
    if (!same_etag(r, ctx) || !expected_range(r, ctx, conf->size, &cr)) {
        return SL_ERROR;
    }
    ctx->start = cr.end;
    ctx->active = 1;
    as_part_of_whole(r, &cr);
    sl_int_t rc = next_header_filter(r);
    if (r != r->main) {
        return rc;
    }
    if (r->header_only) {
        /* a HEAD, or a 304 of the not-modified filter: no body goes out, so no further
         * slice is fetched (their bodies would follow the header) */
        sl_http_set_ctx(r, NULL, sl_http_slice_filter_module);
        return rc;
    }
    /* the range filter may have cut the response to the client's range: the pieces
     * needed end with it (and start with the slice holding its first byte) */
    if (r->headers_out.status == SL_HTTP_PARTIAL_CONTENT) {
        off_t offset = r->headers_out.content_offset;
        if (ctx->start + (off_t) conf->size <= offset) {
            ctx->start = (off_t) conf->size * (offset / (off_t) conf->size);
        }
        ctx->end = offset + r->headers_out.content_length_n;
    } else {
        ctx->end = cr.complete_length;
    }
    return rc;
}

/* --- the body filter ----------------------------------------------------------------------- */

/* The main request's own end becomes the end of its part: the pieces follow it.  No
 * flush: what is held back (postpone_output) stays so until the response goes on. */
static void hold_last(slice_ctx_t *ctx, sl_chain_t *in)
{
    for (sl_chain_t *cl = in; cl; cl = cl->next) {
        if (cl->buf->last_buf) {
            cl->buf->last_buf = 0;
            cl->buf->last_in_chain = 1;
            ctx->last = 1;
        }
    }
}

/* The subrequest fetching the next slice, which shares ctx. */
static sl_int_t fetch_next(sl_http_request_t *r, slice_ctx_t *ctx)
{
    slice_loc_conf_t *conf = sl_http_get_module_loc_conf(r, sl_http_slice_filter_module);

    if (sl_http_subrequest(r, &r->uri, &r->args, &ctx->sr, NULL, SL_HTTP_SUBREQUEST_CLONE)
        != SL_OK) {
        return SL_ERROR;
    }
    sl_http_set_ctx(ctx->sr, ctx, sl_http_slice_filter_module);
    set_range(ctx, ctx->start, conf->size);
    ctx->active = 0;
    return SL_OK;
}

static sl_int_t slice_body_filter(sl_http_request_t *r, sl_chain_t *in)
{
    slice_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_slice_filter_module);

    if (ctx == NULL || r != r->main) {
        return next_body_filter(r, in);
    }
    hold_last(ctx, in);
    sl_int_t rc = next_body_filter(r, in);
    if (rc == SL_ERROR || !ctx->last || (ctx->sr && !ctx->sr->done)) {
        return rc;
    }
    if (!ctx->active) {
        sl_log_error(SL_LOG_ERR, r->connection->log, 0, "missing slice response");
        return SL_ERROR;
    }
    if (ctx->start >= ctx->end) {
        sl_http_set_ctx(r, NULL, sl_http_slice_filter_module);
        sl_http_send_last(r);
        return rc;
    }
    if (r->buffered) {
        /* the next piece when what is written has drained */
        return rc;
    }
    return fetch_next(r, ctx) == SL_OK ? rc : SL_ERROR;
}

static sl_int_t preconfiguration(sl_conf_t *cf)
{
    sl_str_t name = sl_string("slice_range");
    sl_http_variable_t *v = sl_http_add_variable(cf, &name, SL_HTTP_VAR_NOCACHEABLE);

    if (v == NULL) {
        return SL_ERROR;
    }
    v->get_handler = slice_range_variable;
    return SL_OK;
}

static sl_int_t postconfiguration(sl_conf_t *cf)
{
    next_header_filter = sl_http_top_header_filter;
    sl_http_top_header_filter = slice_header_filter;
    next_body_filter = sl_http_top_body_filter;
    sl_http_top_body_filter = slice_body_filter;
    return SL_OK;
}
