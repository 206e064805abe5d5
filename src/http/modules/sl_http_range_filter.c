/*
 * sl_http_range_filter.c: byte ranges ("Range: bytes=0-99,-500") on 200 responses that allow
 * them (r->allow_ranges: static files), as nginx 1.22 answers them:
 *   - one satisfiable range: 206 with Content-Range, the body cut to it;
 *   - several: 206 multipart/byteranges (the body must reach this filter as one buffer, which
 *     static files do);
 *   - none satisfiable, or a malformed set: 416 with "Content-Range: bytes *\/size";
 *   - more ranges than max_ranges, ranges adding up to more than the body, or an If-Range
 *     that does not match: the whole 200.
 * Every 200 it could have cut says "Accept-Ranges: bytes" (not with "max_ranges 0").
 * A subrequest is cut too when it asks (r->subrequest_ranges: the slice module's pieces,
 * each at its content_offset in the whole).
 */
#include <stdio.h>

#include "sl_http_output.h"
#include "sl_pool.h"

/* The not-modified filter's HTTP date parser. */

typedef struct {
    off_t start;
    /** one past the last byte */
    off_t end;
    /** the multipart header of this part */
    sl_str_t header;
} range_t;

typedef struct {
    /** body bytes that went through the filter */
    off_t offset;
    /** range_t, in the order asked */
    sl_array_t ranges;
    /** "\r\n--BOUNDARY--\r\n", multipart only */
    sl_str_t trailer;
    unsigned multipart : 1;
    /** the last byte wanted has been passed on */
    unsigned done : 1;
} range_ctx_t;

typedef struct {
    sl_int_t max_ranges;
} range_loc_conf_t;

static void *create_loc_conf(sl_conf_t *cf);
static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child);
static sl_int_t postconfiguration(sl_conf_t *cf);

static sl_conf_num_bounds_t max_ranges_bounds = { sl_conf_check_num_bounds, 0, 2147483647 };

static sl_command_t range_commands[] = {
    { sl_string("max_ranges"),
      SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF | SL_CONF_TAKE1, sl_conf_set_num_slot,
      SL_HTTP_LOC_CONF_OFFSET, offsetof(range_loc_conf_t, max_ranges), &max_ranges_bounds },
    sl_null_command,
};

static sl_http_module_t range_module_ctx = {
    NULL, postconfiguration, NULL, NULL, NULL, NULL, create_loc_conf, merge_loc_conf,
};

sl_module_t sl_http_range_filter_module = {
    "http_range_filter", 0, 0, SL_HTTP_MODULE, &range_module_ctx, range_commands, NULL, NULL, NULL,
};

static sl_http_output_header_filter_pt next_header_filter;
static sl_http_output_body_filter_pt next_body_filter;

/* The multipart boundary: a counter, 20 digits, as nginx's. */
static uint64_t boundary_counter;

static void *create_loc_conf(sl_conf_t *cf)
{
    range_loc_conf_t *conf = sl_pcalloc(cf->pool, sizeof(range_loc_conf_t));

    if (conf) {
        conf->max_ranges = SL_CONF_UNSET;
    }
    return conf;
}

static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child)
{
    range_loc_conf_t *prev = parent;
    range_loc_conf_t *conf = child;

    sl_conf_merge_value(conf->max_ranges, prev->max_ranges, 2147483647);
    return SL_CONF_OK;
}

/* --- parsing ------------------------------------------------------------------------------- */

/* One "a-b", "a-" or "-n" spec at *pp into [*start, *end) against size.  SL_OK (an empty
 * result means "not satisfiable, skip it") or SL_ERROR (malformed). */
static sl_int_t parse_spec(const u_char **pp, const u_char *end, off_t size, off_t *from, off_t *to)
{
    const u_char *p = sl_skip_spaces(*pp, end);
    off_t a = 0, b;
    int suffix = p < end && *p == '-';

    if (!suffix
        && ((p = sl_scan_off(p, end, &a)) == NULL || (p = sl_skip_spaces(p, end)) == end
            || *p != '-')) {
        return SL_ERROR;
    }
    p = sl_skip_spaces(p + 1, end);
    if (p == end || *p == ',') {
        if (suffix) {
            return SL_ERROR;
        }
        b = size;
    } else {
        if ((p = sl_scan_off(p, end, &b)) == NULL) {
            return SL_ERROR;
        }
        p = sl_skip_spaces(p, end);
        if (p != end && *p != ',') {
            return SL_ERROR;
        }
        if (suffix) {
            a = b > size ? 0 : size - b;
            b = size;
        } else if (a > b) {
            return SL_ERROR;
        } else {
            b = b >= size ? size : b + 1;
        }
    }
    *pp = p;
    *from = a;
    *to = a < size ? b : a;
    return SL_OK;
}

/*
 * The ranges of "bytes=..." (value after the '=') into ctx->ranges.  SL_OK, SL_DECLINED (serve
 * the whole body) or SL_HTTP_RANGE_NOT_SATISFIABLE.
 */
static sl_int_t parse_ranges(sl_http_request_t *r, range_ctx_t *ctx, const sl_str_t *spec,
                             sl_int_t max_ranges)
{
    const u_char *p = spec->data, *end = spec->data + spec->len;
    off_t size = r->headers_out.content_length_n, total = 0;

    for (;;) {
        off_t from, to;
        if (parse_spec(&p, end, size, &from, &to) != SL_OK) {
            return SL_HTTP_RANGE_NOT_SATISFIABLE;
        }
        if (from < to) {
            if ((sl_int_t) ctx->ranges.nelts == max_ranges) {
                return SL_DECLINED;
            }
            range_t *range = sl_array_push(&ctx->ranges);
            if (range == NULL) {
                return SL_ERROR;
            }
            memset(range, 0, sizeof(*range));
            range->start = from;
            range->end = to;
            total += to - from;
        }
        if (p == end) {
            break;
        }
        p++;
    }
    if (ctx->ranges.nelts == 0) {
        return SL_HTTP_RANGE_NOT_SATISFIABLE;
    }
    return total > size ? SL_DECLINED : SL_OK;
}

/* If-Range: an entity tag equal to the ETag, or a date equal to Last-Modified. */
static int if_range_holds(sl_http_request_t *r)
{
    sl_str_t *v = &r->headers_in.if_range->value;

    if (v->len >= 2 && v->data[0] == '"') {
        return r->headers_out.etag && sl_str_eq(&r->headers_out.etag->value, v);
    }
    return r->headers_out.last_modified_time != -1
           && sl_http_parse_time(v->data, v->len) == r->headers_out.last_modified_time;
}

/* --- the header ---------------------------------------------------------------------------- */

static sl_int_t not_satisfiable(sl_http_request_t *r)
{
    u_char buf[sizeof("bytes */") + SL_INT64_LEN];
    int n = snprintf((char *) buf, sizeof(buf), "bytes */%lld",
                     (long long) r->headers_out.content_length_n);

    r->headers_out.content_range = sl_http_add_response_header(r, "Content-Range", buf, (size_t) n);
    if (r->headers_out.content_range == NULL) {
        return SL_ERROR;
    }
    sl_http_clear_content_length(r);
    return SL_HTTP_RANGE_NOT_SATISFIABLE;
}

static sl_int_t single_part_header(sl_http_request_t *r, range_ctx_t *ctx)
{
    range_t *range = ctx->ranges.elts;
    off_t size = r->headers_out.content_length_n;
    u_char buf[sizeof("bytes -/") + 3 * SL_INT64_LEN];
    int n = snprintf((char *) buf, sizeof(buf), "bytes %lld-%lld/%lld", (long long) range->start,
                     (long long) range->end - 1, (long long) size);

    r->headers_out.content_range = sl_http_add_response_header(r, "Content-Range", buf, (size_t) n);
    if (r->headers_out.content_range == NULL) {
        return SL_ERROR;
    }
    sl_http_clear_content_length(r);
    r->headers_out.content_length_n = range->end - range->start;
    r->headers_out.content_offset = range->start;
    return next_header_filter(r);
}

/* Builds each part's header ("\r\n--B\r\nContent-Type: t\r\nContent-Range: bytes a-b/n\r\n\r\n")
 * and the trailer, and sets the multipart type and total length. */
static sl_int_t multipart_header(sl_http_request_t *r, range_ctx_t *ctx)
{
    sl_http_headers_out_t *h = &r->headers_out;
    u_char boundary[21];
    off_t length = 0;

    snprintf((char *) boundary, sizeof(boundary), "%020llu",
             (unsigned long long) ++boundary_counter);
    size_t max = sizeof("\r\n--\r\nContent-Type: ; charset=\r\nContent-Range: bytes -/\r\n\r\n")
                 + 20 + h->content_type.len + h->charset.len + 3 * SL_INT64_LEN;
    range_t *range = ctx->ranges.elts;
    for (sl_uint_t i = 0; i < ctx->ranges.nelts; i++) {
        u_char *p = sl_pnalloc(r->pool, max);
        if (p == NULL) {
            return SL_ERROR;
        }
        int n = snprintf((char *) p, max, "\r\n--%s\r\n", boundary);
        if (h->content_type.len) {
            /* the type's own charset parameter gives way to the charset set apart */
            int type_len = (int) (h->charset.len ? h->content_type_len : h->content_type.len);
            n += snprintf((char *) p + n, max - (size_t) n, "Content-Type: %.*s%s%.*s\r\n",
                          type_len, h->content_type.data, h->charset.len ? "; charset=" : "",
                          SL_STR_ARG(h->charset));
        }
        n += snprintf((char *) p + n, max - (size_t) n,
                      "Content-Range: bytes %lld-%lld/%lld\r\n\r\n", (long long) range[i].start,
                      (long long) range[i].end - 1, (long long) h->content_length_n);
        range[i].header.data = p;
        range[i].header.len = (size_t) n;
        length += n + range[i].end - range[i].start;
    }
    ctx->trailer.len = sizeof("\r\n----\r\n") - 1 + 20;
    ctx->trailer.data = sl_pnalloc(r->pool, ctx->trailer.len + 1);
    u_char *type = sl_pnalloc(r->pool, sizeof("multipart/byteranges; boundary=") + 20);
    if (ctx->trailer.data == NULL || type == NULL) {
        return SL_ERROR;
    }
    snprintf((char *) ctx->trailer.data, ctx->trailer.len + 1, "\r\n--%s--\r\n", boundary);
    h->content_type.len =
        (size_t) snprintf((char *) type, sizeof("multipart/byteranges; boundary=") + 20,
                          "multipart/byteranges; boundary=%s", boundary);
    h->content_type.data = type;
    h->content_type_len = h->content_type.len;
    h->charset.len = 0;
    sl_http_clear_content_length(r);
    h->content_length_n = length + (off_t) ctx->trailer.len;
    ctx->multipart = 1;
    return next_header_filter(r);
}

static sl_int_t accept_ranges(sl_http_request_t *r)
{
    r->headers_out.accept_ranges =
        sl_http_add_response_header(r, "Accept-Ranges", (const u_char *) "bytes", 5);
    return r->headers_out.accept_ranges ? next_header_filter(r) : SL_ERROR;
}

/*
 * Returns what the next filter returns, SL_HTTP_RANGE_NOT_SATISFIABLE for the caller of
 * sl_http_send_header() to finalize with (the Content-Range header is already set), or
 * SL_ERROR.
 */
static sl_int_t range_header_filter(sl_http_request_t *r)
{
    range_loc_conf_t *conf = sl_http_get_module_loc_conf(r, sl_http_range_filter_module);
    sl_table_elt_t *range = r->headers_in.range;

    if (r->headers_out.status != SL_HTTP_OK || (r != r->main && !r->subrequest_ranges)
        || !r->allow_ranges || r->headers_out.content_length_n == -1 || conf->max_ranges == 0) {
        return next_header_filter(r);
    }
    if (range == NULL || range->value.len < 7 || r->headers_out.content_length_n == 0
        || sl_strncasecmp(range->value.data, (u_char *) "bytes=", 6) != 0
        || (r->headers_in.if_range && !if_range_holds(r))) {
        return accept_ranges(r);
    }
    range_ctx_t *ctx = sl_pcalloc(r->pool, sizeof(range_ctx_t));
    if (ctx == NULL || sl_array_init(&ctx->ranges, r->pool, 1, sizeof(range_t)) != SL_OK) {
        return SL_ERROR;
    }
    /* a slice's body is a piece of the whole, starting at content_offset */
    ctx->offset = r->headers_out.content_offset;
    sl_str_t spec = { range->value.len - 6, range->value.data + 6 };
    sl_int_t rc = parse_ranges(r, ctx, &spec, r->single_range ? 1 : conf->max_ranges);
    if (rc == SL_HTTP_RANGE_NOT_SATISFIABLE) {
        return not_satisfiable(r);
    }
    if (rc == SL_DECLINED) {
        return accept_ranges(r);
    }
    if (rc != SL_OK) {
        return rc;
    }
    sl_http_set_ctx(r, ctx, sl_http_range_filter_module);
    r->headers_out.status = SL_HTTP_PARTIAL_CONTENT;
    r->headers_out.status_line.len = 0;
    sl_http_clear_accept_ranges(r);
    return ctx->ranges.nelts == 1 ? single_part_header(r, ctx) : multipart_header(r, ctx);
}

/* --- the body ------------------------------------------------------------------------------ */

/* Marks b as sent (the bytes are not wanted). */
static void consume(sl_buf_t *b)
{
    if (sl_buf_in_memory(b)) {
        b->pos = b->last;
    }
    if (b->in_file) {
        b->file_pos = b->file_last;
    }
}

/* Cuts n bytes from the front (front != 0) or the back of b. */
static void trim(sl_buf_t *b, off_t n, int front)
{
    if (sl_buf_in_memory(b)) {
        if (front) {
            b->pos += n;
        } else {
            b->last -= n;
        }
    }
    if (b->in_file) {
        if (front) {
            b->file_pos += n;
        } else {
            b->file_last -= n;
        }
    }
}

/* One range over any split of the body: each buf is cut to the part of it in range. */
static sl_int_t single_part_body(sl_http_request_t *r, range_ctx_t *ctx, sl_chain_t *in)
{
    range_t *range = ctx->ranges.elts;
    sl_chain_t *out = NULL, **ll = &out;

    for (sl_chain_t *cl = in; cl; cl = cl->next) {
        sl_buf_t *b = cl->buf;
        off_t size = sl_buf_special(b) ? 0 : sl_buf_size(b);
        off_t start = ctx->offset, last = ctx->offset + size;

        ctx->offset = last;
        if (ctx->done || (size && (last <= range->start || start >= range->end))) {
            consume(b);
            continue;
        }
        if (size && range->start > start) {
            trim(b, range->start - start, 1);
        }
        if (size && range->end < last) {
            trim(b, last - range->end, 0);
        }
        if (last >= range->end || b->last_buf) {
            b->last_buf = r == r->main;
            b->last_in_chain = 1;
            ctx->done = 1;
        }
        sl_chain_t *link = sl_alloc_chain_link(r->pool);
        if (link == NULL) {
            return SL_ERROR;
        }
        link->buf = b;
        link->next = NULL;
        *ll = link;
        ll = &link->next;
    }
    return next_body_filter(r, out);
}

static sl_int_t append_buf(sl_http_request_t *r, sl_chain_t ***ll, sl_buf_t *b)
{
    sl_chain_t *link = sl_alloc_chain_link(r->pool);

    if (link == NULL) {
        return SL_ERROR;
    }
    link->buf = b;
    link->next = NULL;
    **ll = link;
    *ll = &link->next;
    return SL_OK;
}

static sl_buf_t *memory_buf(sl_http_request_t *r, const sl_str_t *s)
{
    sl_buf_t *b = sl_calloc_buf(r->pool);

    if (b) {
        b->memory = 1;
        b->pos = s->data;
        b->last = s->data + s->len;
    }
    return b;
}

/* The whole body in the one buf src: parts made of views into it, in the order asked. */
static sl_int_t multipart_body(sl_http_request_t *r, range_ctx_t *ctx, sl_buf_t *src)
{
    range_t *range = ctx->ranges.elts;
    sl_chain_t *out = NULL, **ll = &out;

    for (sl_uint_t i = 0; i < ctx->ranges.nelts; i++) {
        sl_buf_t *h = memory_buf(r, &range[i].header);
        sl_buf_t *part = sl_calloc_buf(r->pool);
        if (h == NULL || part == NULL) {
            return SL_ERROR;
        }
        *part = *src;
        part->last_buf = 0;
        part->last_in_chain = 0;
        part->flush = 0;
        part->shadow = NULL;
        trim(part, range[i].start, 1);
        trim(part, sl_buf_size(src) - range[i].end, 0);
        if (append_buf(r, &ll, h) != SL_OK || append_buf(r, &ll, part) != SL_OK) {
            return SL_ERROR;
        }
    }
    sl_buf_t *t = memory_buf(r, &ctx->trailer);
    if (t == NULL) {
        return SL_ERROR;
    }
    t->last_buf = r == r->main;
    t->last_in_chain = 1;
    if (append_buf(r, &ll, t) != SL_OK) {
        return SL_ERROR;
    }
    consume(src);
    ctx->done = 1;
    return next_body_filter(r, out);
}

/* Several ranges: nginx's rule, the first data must be the whole body in one buffer. */
static sl_int_t multipart_filter(sl_http_request_t *r, range_ctx_t *ctx, sl_chain_t *in)
{
    sl_buf_t *src = NULL;
    off_t total = 0;

    for (sl_chain_t *cl = in; cl; cl = cl->next) {
        if (!sl_buf_special(cl->buf) && sl_buf_size(cl->buf)) {
            src = src ? src : cl->buf;
            total += sl_buf_size(cl->buf);
        }
    }
    if (ctx->done) {
        for (sl_chain_t *cl = in; cl; cl = cl->next) {
            consume(cl->buf);
        }
        return next_body_filter(r, NULL);
    }
    if (src == NULL) {
        return next_body_filter(r, NULL);
    }
    range_t *range = ctx->ranges.elts;
    off_t end = 0;
    for (sl_uint_t i = 0; i < ctx->ranges.nelts; i++) {
        end = sl_max(end, range[i].end);
    }
    if (ctx->offset != 0 || total != sl_buf_size(src) || total < end) {
        sl_log_error(SL_LOG_ALERT, r->connection->log, 0, "range in overlapped buffers");
        return SL_ERROR;
    }
    ctx->offset = total;
    return multipart_body(r, ctx, src);
}

static sl_int_t range_body_filter(sl_http_request_t *r, sl_chain_t *in)
{
    range_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_range_filter_module);

    if (ctx == NULL || in == NULL) {
        return next_body_filter(r, in);
    }
    return ctx->multipart ? multipart_filter(r, ctx, in) : single_part_body(r, ctx, in);
}

static sl_int_t postconfiguration(sl_conf_t *cf)
{
    next_header_filter = sl_http_top_header_filter;
    sl_http_top_header_filter = range_header_filter;
    next_body_filter = sl_http_top_body_filter;
    sl_http_top_body_filter = range_body_filter;
    return SL_OK;
}
