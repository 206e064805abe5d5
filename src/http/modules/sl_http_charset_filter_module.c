/*
 * sl_http_charset_filter_module.c: "charset", "source_charset", "override_charset",
 * "charset_types" and "charset_map", as nginx's charset filter.
 *
 * The header filter names the response's charset in Content-Type ("; charset=..."): the
 * destination is X-Accel-Charset when an upstream sent one, else "charset" for responses
 * whose type is in charset_types (or, with override_charset on, that already have a
 * charset).  The source is the charset the response already has, else "source_charset".
 * When both are known, differ and a charset_map joins them, the body filter recodes the
 * body: byte for byte in place between single-byte charsets, into buffers of its own to or
 * from utf-8 (Content-Length then goes).  Redirects (301, 302) get no charset.
 */
#include "sl_http_charset.h"
#include "sl_http_filter_types.h"
#include "sl_http_output.h"
#include "sl_http_variables.h"
#include "sl_pool.h"

/* loc conf values besides a charset's index */
#define CHARSET_OFF (-2)
#define CHARSET_UNKNOWN (-3)
/* "charset $var": the variable's index plus CHARSET_VAR */
#define CHARSET_VAR 0x10000
/* the size of the buffers the body is recoded into (to and from utf-8) */
#define RECODE_BUF_SIZE 8192

typedef struct {
    sl_str_t name;
    unsigned utf8 : 1;
    /** by destination charset index: the recoding to it, or NULL (set at postconfiguration) */
    const sl_charset_recode_t **to;
} charset_t;

/* One charset_map: its two directions. */
typedef struct {
    sl_uint_t src;
    sl_uint_t dst;
    sl_charset_recode_t forth;
    sl_charset_recode_t back;
} charset_map_t;

/* A recoding a location asks for with fixed names: checked against the maps at start. */
typedef struct {
    sl_int_t src;
    sl_int_t dst;
} recode_pair_t;

typedef struct {
    sl_array_t charsets; /* charset_t */
    sl_array_t maps;     /* charset_map_t */
    sl_array_t recodes;  /* recode_pair_t */
} charset_main_conf_t;

typedef struct {
    sl_int_t charset;
    sl_int_t source_charset;
    sl_int_t override_charset;
    sl_http_filter_types_t *types;
} charset_loc_conf_t;

typedef struct {
    const sl_charset_recode_t *recode;
    sl_charset_utf8_state_t utf8;
    /** our buffers on their way to the client, and those sent (reused) */
    sl_chain_t *busy;
    sl_chain_t *free;
} charset_ctx_t;

static void *create_main_conf(sl_conf_t *cf);
static void *create_loc_conf(sl_conf_t *cf);
static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child);
static sl_int_t postconfiguration(sl_conf_t *cf);
static sl_int_t header_postconfiguration(sl_conf_t *cf);
static char *set_charset_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *charset_map_block(sl_conf_t *cf, sl_command_t *cmd, void *conf);

#define CHARSET_LOC_CONF                                                                           \
    (SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF | SL_HTTP_LIF_CONF | SL_CONF_TAKE1)

static sl_command_t charset_commands[] = {
    { sl_string("charset"), CHARSET_LOC_CONF, set_charset_slot, SL_HTTP_LOC_CONF_OFFSET,
      offsetof(charset_loc_conf_t, charset), NULL },
    { sl_string("source_charset"), CHARSET_LOC_CONF, set_charset_slot, SL_HTTP_LOC_CONF_OFFSET,
      offsetof(charset_loc_conf_t, source_charset), NULL },
    { sl_string("override_charset"),
      SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF | SL_HTTP_LIF_CONF | SL_CONF_FLAG,
      sl_conf_set_flag_slot, SL_HTTP_LOC_CONF_OFFSET,
      offsetof(charset_loc_conf_t, override_charset), NULL },
    { sl_string("charset_types"),
      SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF | SL_CONF_1MORE,
      sl_http_filter_types_slot, SL_HTTP_LOC_CONF_OFFSET, offsetof(charset_loc_conf_t, types),
      (void *) sl_http_filter_types_html },
    { sl_string("charset_map"), SL_HTTP_MAIN_CONF | SL_CONF_BLOCK | SL_CONF_TAKE2,
      charset_map_block, SL_HTTP_MAIN_CONF_OFFSET, 0, NULL },
    sl_null_command,
};

static sl_http_module_t charset_module_ctx = {
    NULL, postconfiguration, create_main_conf, NULL, NULL, NULL, create_loc_conf, merge_loc_conf,
};

sl_module_t sl_http_charset_filter_module = {
    "http_charset_filter", 0,    0,    SL_HTTP_MODULE, &charset_module_ctx,
    charset_commands,      NULL, NULL, NULL,
};

/* The header filter sits elsewhere in the chain than the body filter: after add_header's
 * and before gzip's and the range filter's (which puts the charset in its parts), as
 * nginx; the body filter after the static module's reader. */
static sl_http_module_t charset_header_module_ctx = {
    NULL, header_postconfiguration, NULL, NULL, NULL, NULL, NULL, NULL,
};

sl_module_t sl_http_charset_header_filter_module = {
    "http_charset_header_filter",
    0,
    0,
    SL_HTTP_MODULE,
    &charset_header_module_ctx,
    NULL,
    NULL,
    NULL,
    NULL,
};

static const char *const default_types[] = {
    "text/html",           "text/xml", "text/plain", "text/vnd.wap.wml", "application/javascript",
    "application/rss+xml", NULL,
};

static sl_http_output_header_filter_pt next_header_filter;
static sl_http_output_body_filter_pt next_body_filter;

/* --- names -------------------------------------------------------------------------------- */

/* The index of a charset named in the configuration, or CHARSET_UNKNOWN. */
static sl_int_t find_charset(const charset_main_conf_t *mcf, const sl_str_t *name)
{
    const charset_t *c = mcf->charsets.elts;

    for (sl_uint_t i = 0; i < mcf->charsets.nelts; i++) {
        if (c[i].name.len == name->len
            && sl_strncasecmp(c[i].name.data, name->data, name->len) == 0) {
            return (sl_int_t) i;
        }
    }
    return CHARSET_UNKNOWN;
}

/* The index of a charset, added when new; SL_ERROR on exhaustion. */
static sl_int_t add_charset(charset_main_conf_t *mcf, const sl_str_t *name)
{
    sl_int_t i = find_charset(mcf, name);

    if (i != CHARSET_UNKNOWN) {
        return i;
    }
    charset_t *c = sl_array_push(&mcf->charsets);
    if (c == NULL) {
        return SL_ERROR;
    }
    memset(c, 0, sizeof(*c));
    c->name = *name;
    c->utf8 = name->len == 5 && sl_strncasecmp(name->data, (u_char *) "utf-8", 5) == 0;
    return (sl_int_t) mcf->charsets.nelts - 1;
}

/* --- the header filter -------------------------------------------------------------------- */

/* A charset given by a variable: its index, CHARSET_UNKNOWN, or SL_ERROR (no value). */
static sl_int_t charset_of_variable(sl_http_request_t *r, sl_int_t value, sl_str_t *name)
{
    charset_main_conf_t *mcf = sl_http_get_module_main_conf(r, sl_http_charset_filter_module);

    if (value < CHARSET_VAR) {
        *name = ((charset_t *) mcf->charsets.elts)[value].name;
        return value;
    }
    sl_http_variable_value_t *vv =
        sl_http_get_indexed_variable(r, (sl_uint_t) (value - CHARSET_VAR));
    if (vv == NULL || vv->not_found) {
        return SL_ERROR;
    }
    name->data = vv->data;
    name->len = vv->len;
    return find_charset(mcf, name);
}

/*
 * The charset the client gets: an index, CHARSET_UNKNOWN (a name no directive gave),
 * SL_DECLINED (the filter has nothing to do) or SL_ERROR.
 */
static sl_int_t destination_charset(sl_http_request_t *r, sl_str_t *name)
{
    charset_loc_conf_t *lcf = sl_http_get_module_loc_conf(r, sl_http_charset_filter_module);
    sl_http_headers_out_t *h = &r->headers_out;

    if (h->content_type.len == 0) {
        return SL_DECLINED;
    }
    if (h->override_charset.len) {
        charset_main_conf_t *mcf = sl_http_get_module_main_conf(r, sl_http_charset_filter_module);
        *name = h->override_charset;
        sl_int_t charset = find_charset(mcf, name);
        if (charset == CHARSET_UNKNOWN) {
            sl_log_error(SL_LOG_ERR, r->connection->log, 0, "unknown charset \"%.*s\" to override",
                         SL_STR_ARG(*name));
            return SL_DECLINED;
        }
        return charset;
    }
    if (lcf->charset == CHARSET_OFF) {
        return SL_DECLINED;
    }
    if (h->charset.len ? !lcf->override_charset : !sl_http_filter_types_test(r, lcf->types)) {
        return SL_DECLINED;
    }
    return charset_of_variable(r, lcf->charset, name);
}

/* The charset the body is in: an index, CHARSET_UNKNOWN, CHARSET_OFF or SL_ERROR. */
static sl_int_t source_charset(sl_http_request_t *r, sl_str_t *name)
{
    charset_loc_conf_t *lcf = sl_http_get_module_loc_conf(r, sl_http_charset_filter_module);

    if (r->headers_out.charset.len) {
        *name = r->headers_out.charset;
        return find_charset(sl_http_get_module_main_conf(r, sl_http_charset_filter_module), name);
    }
    if (lcf->source_charset == CHARSET_OFF) {
        name->len = 0;
        return CHARSET_OFF;
    }
    return charset_of_variable(r, lcf->source_charset, name);
}

/* As nginx (for old browsers that kept a redirect's charset): none on 301 and 302. */
static void set_charset(sl_http_request_t *r, const sl_str_t *charset)
{
    sl_uint_t status = r->headers_out.status;

    if (status == SL_HTTP_MOVED_PERMANENTLY || status == SL_HTTP_MOVED_TEMPORARILY) {
        r->headers_out.charset.len = 0;
        return;
    }
    r->headers_out.charset = *charset;
}

/* Names the new charset and sets up the body's recoding. */
static sl_int_t start_recoding(sl_http_request_t *r, const sl_charset_recode_t *recode,
                               const sl_str_t *dst)
{
    charset_ctx_t *ctx = sl_pcalloc(r->pool, sizeof(charset_ctx_t));

    if (ctx == NULL) {
        return SL_ERROR;
    }
    ctx->recode = recode;
    sl_http_set_ctx(r, ctx, sl_http_charset_filter_module);
    r->headers_out.content_type.len = r->headers_out.content_type_len;
    set_charset(r, dst);
    /* file bufs are read into memory for us, by the static module's reader */
    r->main_filter_need_in_memory = 1;
    if (recode->kind != SL_CHARSET_BYTES) {
        sl_http_clear_content_length(r);
    }
    return next_header_filter(r);
}

static sl_int_t charset_header_filter(sl_http_request_t *r)
{
    sl_str_t dst, src;
    sl_int_t charset = destination_charset(r, &dst);

    if (charset == SL_ERROR || charset == SL_DECLINED) {
        return charset == SL_ERROR ? SL_ERROR : next_header_filter(r);
    }
    sl_int_t source = source_charset(r, &src);
    if (source == SL_ERROR) {
        return SL_ERROR;
    }
    if (source == CHARSET_OFF) {
        set_charset(r, &dst);
        return next_header_filter(r);
    }
    if (charset == CHARSET_UNKNOWN || source == CHARSET_UNKNOWN) {
        if (source != charset || dst.len != src.len
            || sl_strncasecmp(dst.data, src.data, dst.len) != 0) {
            goto no_charset_map;
        }
        set_charset(r, &dst);
        return next_header_filter(r);
    }
    if (source == charset) {
        r->headers_out.content_type.len = r->headers_out.content_type_len;
        set_charset(r, &dst);
        return next_header_filter(r);
    }
    if (r->headers_out.content_encoding && r->headers_out.content_encoding->value.len) {
        return next_header_filter(r);
    }
    charset_main_conf_t *mcf = sl_http_get_module_main_conf(r, sl_http_charset_filter_module);
    const charset_t *c = mcf->charsets.elts;
    if (c[source].to && c[source].to[charset]) {
        return start_recoding(r, c[source].to[charset], &dst);
    }
no_charset_map:
    sl_log_error(SL_LOG_ERR, r->connection->log, 0,
                 "no \"charset_map\" between the charsets \"%.*s\" and \"%.*s\"", SL_STR_ARG(src),
                 SL_STR_ARG(dst));
    return next_header_filter(r);
}

/* --- the body filter ---------------------------------------------------------------------- */

static sl_chain_t *get_buffer(sl_http_request_t *r, charset_ctx_t *ctx)
{
    sl_chain_t *cl = ctx->free;

    if (cl) {
        ctx->free = cl->next;
        cl->next = NULL;
        sl_buf_t *b = cl->buf;
        b->pos = b->last = b->start;
        b->shadow = NULL;
        b->last_buf = b->flush = b->last_in_chain = b->sync = 0;
        return cl;
    }
    cl = sl_alloc_chain_link(r->pool);
    if (cl == NULL || (cl->buf = sl_create_temp_buf(r->pool, RECODE_BUF_SIZE)) == NULL) {
        return NULL;
    }
    cl->buf->tag = (sl_buf_tag_t) &sl_http_charset_filter_module;
    cl->next = NULL;
    return cl;
}

/* Recodes one input buf into buffers of ours appended at *ll; the last one shadows it, so
 * the input is released when that one has been sent.  Returns the new tail, NULL on
 * exhaustion. */
static sl_chain_t **recode_into_buffers(sl_http_request_t *r, charset_ctx_t *ctx, sl_buf_t *in,
                                        sl_chain_t **ll)
{
    const sl_charset_recode_t *rc = ctx->recode;
    const u_char *src = in->pos;
    size_t left = (size_t) (in->last - in->pos);
    sl_buf_t *b = NULL;

    do {
        sl_chain_t *cl = get_buffer(r, ctx);
        if (cl == NULL) {
            return NULL;
        }
        b = cl->buf;
        size_t used;
        if (rc->kind == SL_CHARSET_TO_UTF8) {
            used = sl_charset_to_utf8(rc->to_utf8, src, left, &b->last, b->end);
        } else if (rc->kind == SL_CHARSET_FROM_UTF8) {
            used = sl_charset_from_utf8(rc->pages, &ctx->utf8, src, left, in->last_buf, &b->last,
                                        b->end);
        } else {
            used = sl_min(left, (size_t) (b->end - b->last));
            memcpy(b->last, src, used);
            sl_charset_recode_bytes(rc->bytes, b->last, used);
            b->last += used;
        }
        src += used;
        left -= used;
        *ll = cl;
        ll = &cl->next;
    } while (left);
    b->shadow = in;
    b->last_buf = in->last_buf;
    b->last_in_chain = in->last_in_chain;
    b->flush = in->flush;
    /* a cut sequence kept for the next buf may leave this one empty: sync keeps it alive */
    b->sync = b->last == b->pos && !b->last_buf;
    return ll;
}

/* Whether a buf can be recoded where it is: our memory (never a constant), and the same size. */
static int recodes_in_place(const charset_ctx_t *ctx, const sl_buf_t *b)
{
    return ctx->recode->kind == SL_CHARSET_BYTES && b->temporary;
}

/* Builds the chain to send: bufs that need no change as they are, the others recoded.
 * SL_OK or SL_ERROR. */
static sl_int_t recode_chain(sl_http_request_t *r, charset_ctx_t *ctx, sl_chain_t *in,
                             sl_chain_t **out)
{
    sl_chain_t **ll = out;

    for (sl_chain_t *cl = in; cl; cl = cl->next) {
        sl_buf_t *b = cl->buf;
        size_t size = sl_buf_in_memory(b) ? (size_t) (b->last - b->pos) : 0;
        int cut = ctx->utf8.saved_len != 0;
        if (size == 0 && !(cut && b->last_buf)) {
            /* flags, or a file buf nobody read for us: passed as they are */
        } else if (recodes_in_place(ctx, b) && !cut) {
            if (sl_charset_recode_bytes(ctx->recode->bytes, b->pos, size)) {
                b->in_file = 0; /* the file holds the old bytes */
            }
        } else if (cut || sl_charset_changes(ctx->recode, b->pos, size)) {
            ll = recode_into_buffers(r, ctx, b, ll);
            if (ll == NULL) {
                return SL_ERROR;
            }
            continue;
        }
        sl_chain_t *nl = sl_alloc_chain_link(r->pool);
        if (nl == NULL) {
            return SL_ERROR;
        }
        nl->buf = b;
        nl->next = NULL;
        *ll = nl;
        ll = &nl->next;
    }
    return SL_OK;
}

/* Our buffers that have been sent go back to the free list, releasing what they shadow. */
static void release_sent(sl_http_request_t *r, charset_ctx_t *ctx, sl_chain_t *out)
{
    sl_chain_t **tail = &ctx->busy;

    while (*tail) {
        tail = &(*tail)->next;
    }
    *tail = out;
    while (ctx->busy && sl_buf_size(ctx->busy->buf) == 0) {
        sl_chain_t *cl = ctx->busy;
        ctx->busy = cl->next;
        if (cl->buf->tag != (sl_buf_tag_t) &sl_http_charset_filter_module) {
            sl_free_chain_link(r->pool, cl);
            continue;
        }
        if (cl->buf->shadow) {
            cl->buf->shadow->pos = cl->buf->shadow->last;
        }
        cl->next = ctx->free;
        ctx->free = cl;
    }
}

static sl_int_t charset_body_filter(sl_http_request_t *r, sl_chain_t *in)
{
    charset_ctx_t *ctx = sl_http_get_module_ctx(r, sl_http_charset_filter_module);

    if (ctx == NULL || in == NULL) {
        return next_body_filter(r, in);
    }
    sl_chain_t *out = NULL;
    if (recode_chain(r, ctx, in, &out) != SL_OK) {
        return SL_ERROR;
    }
    sl_int_t rc = next_body_filter(r, out);
    release_sent(r, ctx, out);
    return rc;
}

/* --- configuration ------------------------------------------------------------------------ */

static void *create_main_conf(sl_conf_t *cf)
{
    charset_main_conf_t *mcf = sl_pcalloc(cf->pool, sizeof(charset_main_conf_t));

    if (mcf == NULL || sl_array_init(&mcf->charsets, cf->pool, 4, sizeof(charset_t)) != SL_OK
        || sl_array_init(&mcf->maps, cf->pool, 2, sizeof(charset_map_t)) != SL_OK
        || sl_array_init(&mcf->recodes, cf->pool, 2, sizeof(recode_pair_t)) != SL_OK) {
        return NULL;
    }
    return mcf;
}

static void *create_loc_conf(sl_conf_t *cf)
{
    charset_loc_conf_t *lcf = sl_pcalloc(cf->pool, sizeof(charset_loc_conf_t));

    if (lcf == NULL) {
        return NULL;
    }
    lcf->charset = SL_CONF_UNSET;
    lcf->source_charset = SL_CONF_UNSET;
    lcf->override_charset = SL_CONF_UNSET;
    lcf->types = SL_CONF_UNSET_PTR;
    return lcf;
}

/* Remembers a fixed recoding a location needs, checked against the maps at the end. */
static sl_int_t note_recode(sl_conf_t *cf, const charset_loc_conf_t *conf)
{
    charset_main_conf_t *mcf = sl_http_conf_get_module_main_conf(cf, sl_http_charset_filter_module);
    recode_pair_t *pair = mcf->recodes.elts;

    if (conf->charset < 0 || conf->source_charset < 0 || conf->charset == conf->source_charset
        || conf->charset >= CHARSET_VAR || conf->source_charset >= CHARSET_VAR) {
        return SL_OK;
    }
    for (sl_uint_t i = 0; i < mcf->recodes.nelts; i++) {
        if (pair[i].src == conf->source_charset && pair[i].dst == conf->charset) {
            return SL_OK;
        }
    }
    pair = sl_array_push(&mcf->recodes);
    if (pair == NULL) {
        return SL_ERROR;
    }
    pair->src = conf->source_charset;
    pair->dst = conf->charset;
    return SL_OK;
}

static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child)
{
    charset_loc_conf_t *prev = parent, *conf = child;

    if (sl_http_filter_types_merge(cf, &conf->types, &prev->types, default_types) != SL_CONF_OK) {
        return SL_CONF_ERROR;
    }
    sl_conf_merge_value(conf->override_charset, prev->override_charset, 0);
    sl_conf_merge_value(conf->charset, prev->charset, CHARSET_OFF);
    sl_conf_merge_value(conf->source_charset, prev->source_charset, CHARSET_OFF);
    return note_recode(cf, conf) == SL_OK ? SL_CONF_OK : SL_CONF_ERROR;
}

/* "charset name|$var|off" and "source_charset name|$var". */
static char *set_charset_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_int_t *field = (sl_int_t *) ((char *) conf + cmd->offset);
    sl_str_t *value = cf->args->elts;

    if (*field != SL_CONF_UNSET) {
        return "is duplicate";
    }
    if (cmd->offset == offsetof(charset_loc_conf_t, charset) && sl_str_eq_cstr(&value[1], "off")) {
        *field = CHARSET_OFF;
        return SL_CONF_OK;
    }
    if (value[1].data[0] == '$') {
        sl_str_t var = { value[1].len - 1, value[1].data + 1 };
        sl_int_t index = sl_http_get_variable_index(cf, &var);
        if (index == SL_ERROR) {
            return SL_CONF_ERROR;
        }
        *field = index + CHARSET_VAR;
        return SL_CONF_OK;
    }
    charset_main_conf_t *mcf = sl_http_conf_get_module_main_conf(cf, sl_http_charset_filter_module);
    *field = add_charset(mcf, &value[1]);
    return *field == SL_ERROR ? SL_CONF_ERROR : SL_CONF_OK;
}

/* The tables of a new map: ASCII to itself, the other bytes to '?' until the map says. */
static sl_int_t init_map(sl_pool_t *pool, charset_map_t *map, int to_utf8)
{
    if (!to_utf8) {
        map->forth.kind = map->back.kind = SL_CHARSET_BYTES;
        map->forth.bytes = sl_palloc(pool, 256);
        map->back.bytes = sl_palloc(pool, 256);
        if (map->forth.bytes == NULL || map->back.bytes == NULL) {
            return SL_ERROR;
        }
        for (int i = 0; i < 256; i++) {
            map->forth.bytes[i] = map->back.bytes[i] = i < 128 ? (u_char) i : '?';
        }
        return SL_OK;
    }
    map->forth.kind = SL_CHARSET_TO_UTF8;
    map->back.kind = SL_CHARSET_FROM_UTF8;
    map->forth.to_utf8 = sl_palloc(pool, 256 * sizeof(*map->forth.to_utf8));
    map->back.pages = sl_pcalloc(pool, 256 * sizeof(u_char *));
    u_char *ascii = sl_pcalloc(pool, 256);
    if (map->forth.to_utf8 == NULL || map->back.pages == NULL || ascii == NULL) {
        return SL_ERROR;
    }
    for (int i = 0; i < 256; i++) {
        map->forth.to_utf8[i][0] = 1;
        map->forth.to_utf8[i][1] = i < 128 ? (u_char) i : '?';
        ascii[i] = i < 128 ? (u_char) i : 0;
    }
    map->back.pages[0] = ascii;
    return SL_OK;
}

static char *invalid_value(sl_conf_t *cf, const sl_str_t *value)
{
    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid value \"%.*s\"", SL_STR_ARG(*value));
    return SL_CONF_ERROR;
}

/* "XX YYYY;" of a map to utf-8: the byte XX is the bytes YYYY (at most 4), whose first
 * character, below U+10000, maps back to XX (nginx takes trailing bytes after it). */
static char *map_utf8_line(sl_conf_t *cf, charset_map_t *map, sl_int_t src, const sl_str_t *v)
{
    u_char seq[4];
    size_t n = v->len / 2;

    if (v->len % 2 || n == 0 || n > sizeof(seq)) {
        return invalid_value(cf, v);
    }
    for (size_t i = 0; i < n; i++) {
        sl_int_t byte = sl_hextoi(v->data + 2 * i, 2);
        if (byte == SL_ERROR) {
            return invalid_value(cf, v);
        }
        seq[i] = (u_char) byte;
    }
    const u_char *p = seq;
    uint32_t cp = seq[0] < 0x80 ? seq[0] : sl_utf8_decode(&p, n);
    if (cp > 0xffff) {
        return invalid_value(cf, v);
    }
    map->forth.to_utf8[src][0] = (u_char) n;
    memcpy(&map->forth.to_utf8[src][1], seq, n);
    u_char **page = &map->back.pages[cp >> 8];
    if (*page == NULL && (*page = sl_pcalloc(cf->pool, 256)) == NULL) {
        return SL_CONF_ERROR;
    }
    (*page)[cp & 0xff] = (u_char) src;
    return SL_CONF_OK;
}

/* One line of a charset_map block: "source-byte destination;" in hex. */
static char *map_line(sl_conf_t *cf, sl_command_t *dummy, void *conf)
{
    charset_map_t *map = conf;
    sl_str_t *value = cf->args->elts;

    if (cf->args->nelts != 2) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid parameters number");
        return SL_CONF_ERROR;
    }
    sl_int_t src = sl_hextoi(value[0].data, value[0].len);
    if (src == SL_ERROR || src > 255) {
        return invalid_value(cf, &value[0]);
    }
    if (map->forth.kind == SL_CHARSET_TO_UTF8) {
        return map_utf8_line(cf, map, src, &value[1]);
    }
    sl_int_t dst = sl_hextoi(value[1].data, value[1].len);
    if (dst == SL_ERROR || dst > 255) {
        return invalid_value(cf, &value[1]);
    }
    map->forth.bytes[src] = (u_char) dst;
    map->back.bytes[dst] = (u_char) src;
    return SL_CONF_OK;
}

/* "charset_map src dst { ... }": a map from a single-byte charset to another or to utf-8. */
static char *charset_map_block(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    charset_main_conf_t *mcf = conf;
    sl_str_t *value = cf->args->elts;
    sl_int_t src = add_charset(mcf, &value[1]), dst = add_charset(mcf, &value[2]);

    if (src == SL_ERROR || dst == SL_ERROR) {
        return SL_CONF_ERROR;
    }
    if (src == dst) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "\"charset_map\" between the same charsets \"%.*s\" and \"%.*s\"",
                          SL_STR_ARG(value[1]), SL_STR_ARG(value[2]));
        return SL_CONF_ERROR;
    }
    charset_map_t *map = mcf->maps.elts;
    for (sl_uint_t i = 0; i < mcf->maps.nelts; i++) {
        if ((map[i].src == (sl_uint_t) src && map[i].dst == (sl_uint_t) dst)
            || (map[i].src == (sl_uint_t) dst && map[i].dst == (sl_uint_t) src)) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                              "duplicate \"charset_map\" between \"%.*s\" and \"%.*s\"",
                              SL_STR_ARG(value[1]), SL_STR_ARG(value[2]));
            return SL_CONF_ERROR;
        }
    }
    map = sl_array_push(&mcf->maps);
    if (map == NULL) {
        return SL_CONF_ERROR;
    }
    memset(map, 0, sizeof(*map));
    map->src = (sl_uint_t) src;
    map->dst = (sl_uint_t) dst;
    charset_t *c = mcf->charsets.elts;
    if (init_map(cf->pool, map, c[dst].utf8) != SL_OK) {
        return SL_CONF_ERROR;
    }
    sl_conf_t saved = *cf;
    cf->handler = map_line;
    cf->handler_conf = map;
    char *rv = sl_conf_parse(cf, NULL);
    *cf = saved;
    return rv;
}

/* Every fixed recoding a location asks for has its map (nginx refuses to start without). */
static sl_int_t check_recodes(sl_conf_t *cf, charset_main_conf_t *mcf)
{
    const recode_pair_t *pair = mcf->recodes.elts;
    const charset_map_t *map = mcf->maps.elts;
    const charset_t *c = mcf->charsets.elts;

    for (sl_uint_t i = 0; i < mcf->recodes.nelts; i++) {
        sl_uint_t src = (sl_uint_t) pair[i].src, dst = (sl_uint_t) pair[i].dst, m;
        for (m = 0; m < mcf->maps.nelts; m++) {
            if ((map[m].src == src && map[m].dst == dst)
                || (map[m].src == dst && map[m].dst == src)) {
                break;
            }
        }
        if (m == mcf->maps.nelts) {
            sl_log_error(SL_LOG_EMERG, cf->log, 0,
                         "no \"charset_map\" between the charsets \"%.*s\" and \"%.*s\"",
                         SL_STR_ARG(c[src].name), SL_STR_ARG(c[dst].name));
            return SL_ERROR;
        }
    }
    return SL_OK;
}

/* Each charset's recodings by destination, from the maps' two directions. */
static sl_int_t link_maps(sl_conf_t *cf, charset_main_conf_t *mcf)
{
    charset_map_t *map = mcf->maps.elts;
    charset_t *c = mcf->charsets.elts;
    size_t n = mcf->charsets.nelts;

    for (sl_uint_t m = 0; m < mcf->maps.nelts; m++) {
        charset_t *src = &c[map[m].src], *dst = &c[map[m].dst];
        if ((src->to == NULL && (src->to = sl_pcalloc(cf->pool, n * sizeof(void *))) == NULL)
            || (dst->to == NULL && (dst->to = sl_pcalloc(cf->pool, n * sizeof(void *))) == NULL)) {
            return SL_ERROR;
        }
        src->to[map[m].dst] = &map[m].forth;
        dst->to[map[m].src] = &map[m].back;
    }
    return SL_OK;
}

static sl_int_t postconfiguration(sl_conf_t *cf)
{
    charset_main_conf_t *mcf = sl_http_conf_get_module_main_conf(cf, sl_http_charset_filter_module);

    if (check_recodes(cf, mcf) != SL_OK || link_maps(cf, mcf) != SL_OK) {
        return SL_ERROR;
    }
    next_body_filter = sl_http_top_body_filter;
    sl_http_top_body_filter = charset_body_filter;
    return SL_OK;
}

static sl_int_t header_postconfiguration(sl_conf_t *cf)
{
    next_header_filter = sl_http_top_header_filter;
    sl_http_top_header_filter = charset_header_filter;
    return SL_OK;
}
