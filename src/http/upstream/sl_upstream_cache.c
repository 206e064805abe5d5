/*
 * sl_upstream_cache.c: the proxy cache seen from a request (the cache itself, its zone and
 * files are src/http/cache's).
 *
 * Before the request is built, the lookup: the key ($scheme$proxy_host$request_uri unless
 * proxy_cache_key says otherwise) is hashed, its node taken in the keys zone, and its file
 * opened when there is one: fresh, it answers (HIT); expired, stale or missing, the request
 * goes upstream and may store the answer.  proxy_cache_lock makes one request per key go
 * upstream while the others wait.  When the response header is in, its headers and the
 * configuration decide whether it is stored; the body is then the upstream tee's (the
 * event pipe writes it to an anonymous file after room for the cache header), and a complete
 * body is published under the key's name.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sl_file.h"
#include "sl_http_cache.h"
#include "sl_http_variables.h"
#include "sl_pool.h"
#include "sl_time.h"
#include "sl_upstream.h"

/* proxy_cache_lock waits are checked this often, as nginx's */
#define LOCK_POLL_MSEC 500
/* the first read of a file: its header, usually whole */
#define FIRST_READ 4096

typedef enum {
    STATUS_NONE = 0,
    STATUS_MISS,
    STATUS_BYPASS,
    STATUS_EXPIRED,
    STATUS_STALE,
    STATUS_UPDATING,
    STATUS_REVALIDATED,
    STATUS_HIT,
} cache_status_e;

static const sl_str_t status_names[] = {
    sl_null_string,     sl_string("MISS"),     sl_string("BYPASS"),      sl_string("EXPIRED"),
    sl_string("STALE"), sl_string("UPDATING"), sl_string("REVALIDATED"), sl_string("HIT"),
};

typedef struct sl_upstream_cache_req_s {
    sl_http_cache_t *cache;
    sl_http_cache_node_t *node;
    sl_str_t key;
    /** the key's MD5, or the variant's (secondary) */
    u_char md5[SL_HTTP_CACHE_KEY_LEN];
    u_char main_md5[SL_HTTP_CACHE_KEY_LEN];
    u_char *file_name;
    /** the file found (HIT or stale), open */
    sl_file_t *file;
    off_t file_size;
    /** the file's first bytes as read with its header: the whole file when it is small */
    u_char *head;
    size_t head_len;
    sl_http_cache_meta_t meta;
    /** the new file's header, built when the response is decided */
    u_char *header;
    sl_http_cache_meta_t out;
    /** proxy_cache_lock: when waiting began, and the poll timer */
    sl_msec_t wait_start;
    sl_event_t wait;
    cache_status_e status;
    /** this request holds the node's updating mark */
    unsigned updating : 1;
    /** the upstream is asked whether the stale file is still good (proxy_cache_revalidate) */
    unsigned revalidating : 1;
    /** the key's file varies and holds another variant: this request uses the variant's
     * own key (the main key's MD5 and the variant's, hashed) */
    unsigned secondary : 1;
    unsigned ended : 1;
} sl_upstream_cache_req_t;

sl_conf_bitmask_t sl_upstream_cache_methods_masks[] = {
    { sl_string("GET"), SL_HTTP_GET },
    { sl_string("HEAD"), SL_HTTP_HEAD },
    { sl_string("POST"), SL_HTTP_POST },
    { sl_null_string, 0 },
};

sl_conf_bitmask_t sl_upstream_cache_use_stale_masks[] = {
    { sl_string("error"), SL_UPSTREAM_FT_ERROR },
    { sl_string("timeout"), SL_UPSTREAM_FT_TIMEOUT },
    { sl_string("invalid_header"), SL_UPSTREAM_FT_INVALID_HEADER },
    { sl_string("updating"), SL_UPSTREAM_FT_UPDATING },
    { sl_string("http_500"), SL_UPSTREAM_FT_HTTP_500 },
    { sl_string("http_502"), SL_UPSTREAM_FT_HTTP_502 },
    { sl_string("http_503"), SL_UPSTREAM_FT_HTTP_503 },
    { sl_string("http_504"), SL_UPSTREAM_FT_HTTP_504 },
    { sl_string("http_403"), SL_UPSTREAM_FT_HTTP_403 },
    { sl_string("http_404"), SL_UPSTREAM_FT_HTTP_404 },
    { sl_string("http_429"), SL_UPSTREAM_FT_HTTP_429 },
    { sl_string("off"), SL_UPSTREAM_FT_OFF },
    { sl_null_string, 0 },
};

/* --- configuration --------------------------------------------------------------------- */

void sl_upstream_cache_init_conf(sl_upstream_cache_conf_t *conf)
{
    memset(conf, 0, sizeof(*conf));
    conf->on = SL_CONF_UNSET;
    conf->valid = SL_CONF_UNSET_PTR;
    conf->min_uses = SL_CONF_UNSET_UINT;
    conf->bypass = SL_CONF_UNSET_PTR;
    conf->no_cache = SL_CONF_UNSET_PTR;
    conf->convert_head = SL_CONF_UNSET;
    conf->lock = SL_CONF_UNSET;
    conf->lock_timeout = SL_CONF_UNSET_MSEC;
    conf->lock_age = SL_CONF_UNSET_MSEC;
    conf->revalidate = SL_CONF_UNSET;
    conf->background_update = SL_CONF_UNSET;
    conf->max_range_offset = SL_CONF_UNSET;
    conf->force_ranges = SL_CONF_UNSET;
}

/* proxy_cache NAME | $var | off: conf is the module's loc conf, the offset the cache conf's. */
char *sl_upstream_cache_set(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_upstream_cache_conf_t *cc = (sl_upstream_cache_conf_t *) ((u_char *) conf + cmd->offset);
    sl_upstream_conf_t *uc =
        (sl_upstream_conf_t *) ((u_char *) cc - offsetof(sl_upstream_conf_t, cache));
    sl_str_t *value = cf->args->elts;

    if (cc->on != SL_CONF_UNSET) {
        return "is duplicate";
    }
    if (sl_str_eq_cstr(&value[1], "off")) {
        cc->on = 0;
        return SL_CONF_OK;
    }
    if (uc->store.on > 0) {
        return "is incompatible with \"proxy_store\"";
    }
    cc->on = 1;
    if (sl_http_script_variables_count(&value[1]) == 0) {
        cc->name = value[1];
        return SL_CONF_OK;
    }
    cc->name_value = sl_pcalloc(cf->pool, sizeof(sl_http_complex_value_t));
    if (cc->name_value == NULL || sl_http_compile_value(cf, &value[1], cc->name_value) != SL_OK) {
        return SL_CONF_ERROR;
    }
    return SL_CONF_OK;
}

/* proxy_cache_valid [code ...|any] time: the codes default to 200 301 302. */
char *sl_upstream_cache_valid_set(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_array_t **a = (sl_array_t **) ((u_char *) conf + cmd->offset);
    sl_str_t *value = cf->args->elts;
    sl_uint_t n = cf->args->nelts - 1;
    static const sl_uint_t defaults[] = { 200, 301, 302 };

    if (*a == SL_CONF_UNSET_PTR || *a == NULL) {
        *a = sl_array_create(cf->pool, 4, sizeof(sl_http_cache_valid_t));
        if (*a == NULL) {
            return SL_CONF_ERROR;
        }
    }
    sl_int_t valid = sl_parse_time(&value[n], 1);
    if (valid == SL_ERROR) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid time value \"%.*s\"", SL_STR_ARG(value[n]));
        return SL_CONF_ERROR;
    }
    for (sl_uint_t i = 1; i < n || (n == 1 && i < 4); i++) {
        sl_http_cache_valid_t *v = sl_array_push(*a);
        if (v == NULL) {
            return SL_CONF_ERROR;
        }
        v->valid = (time_t) valid;
        if (n == 1) {
            v->status = defaults[i - 1];
            continue;
        }
        if (sl_str_eq_cstr(&value[i], "any")) {
            v->status = 0;
            continue;
        }
        sl_int_t status = sl_atoi(value[i].data, value[i].len);
        if (status < 100 || status > 599) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid status \"%.*s\"", SL_STR_ARG(value[i]));
            return SL_CONF_ERROR;
        }
        v->status = (sl_uint_t) status;
    }
    return SL_CONF_OK;
}

/* proxy_cache_bypass, proxy_no_cache: values with variables, any of them true ("" and "0"
 * are false) makes the predicate true. */
char *sl_upstream_cache_predicate_set(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_array_t **a = (sl_array_t **) ((u_char *) conf + cmd->offset);
    sl_str_t *value = cf->args->elts;

    if (*a == SL_CONF_UNSET_PTR || *a == NULL) {
        *a = sl_array_create(cf->pool, 2, sizeof(sl_http_complex_value_t));
        if (*a == NULL) {
            return SL_CONF_ERROR;
        }
    }
    for (sl_uint_t i = 1; i < cf->args->nelts; i++) {
        sl_http_complex_value_t *cv = sl_array_push(*a);
        if (cv == NULL || sl_http_compile_value(cf, &value[i], cv) != SL_OK) {
            return SL_CONF_ERROR;
        }
    }
    return SL_CONF_OK;
}

static char *merge_key(sl_conf_t *cf, sl_upstream_cache_conf_t *conf,
                       const sl_upstream_cache_conf_t *prev)
{
    static sl_str_t default_key = sl_string("$scheme$proxy_host$request_uri");

    if (conf->key == NULL) {
        conf->key = prev->key;
    }
    if (conf->key == NULL) {
        conf->key = sl_pcalloc(cf->pool, sizeof(sl_http_complex_value_t));
        if (conf->key == NULL || sl_http_compile_value(cf, &default_key, conf->key) != SL_OK) {
            return SL_CONF_ERROR;
        }
    }
    return SL_CONF_OK;
}

char *sl_upstream_cache_merge(sl_conf_t *cf, sl_upstream_cache_conf_t *conf,
                              const sl_upstream_cache_conf_t *prev, sl_upstream_conf_t *uc)
{
    /* proxy_store inherited beside proxy_cache: the store's tee wins, the cache is read */
    (void) uc;
    if (conf->on == SL_CONF_UNSET) {
        conf->on = prev->on == SL_CONF_UNSET ? 0 : prev->on;
        conf->name = prev->name;
        conf->name_value = prev->name_value;
    }
    if (conf->on && conf->name.len) {
        sl_http_cache_main_conf_t *cmcf =
            sl_http_conf_get_module_main_conf(cf, sl_http_cache_module);
        conf->cache = sl_http_cache_find(cmcf, &conf->name);
        if (conf->cache == NULL) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "\"proxy_cache\" zone \"%.*s\" is unknown",
                              SL_STR_ARG(conf->name));
            return SL_CONF_ERROR;
        }
    }
    sl_conf_merge_ptr_value(conf->valid, prev->valid, NULL);
    sl_conf_merge_uint_value(conf->min_uses, prev->min_uses, 1);
    sl_conf_merge_ptr_value(conf->bypass, prev->bypass, NULL);
    sl_conf_merge_ptr_value(conf->no_cache, prev->no_cache, NULL);
    sl_conf_merge_value(conf->convert_head, prev->convert_head, 1);
    sl_conf_merge_value(conf->lock, prev->lock, 0);
    sl_conf_merge_msec_value(conf->lock_timeout, prev->lock_timeout, 5000);
    sl_conf_merge_msec_value(conf->lock_age, prev->lock_age, 5000);
    sl_conf_merge_value(conf->revalidate, prev->revalidate, 0);
    sl_conf_merge_value(conf->background_update, prev->background_update, 0);
    sl_conf_merge_off_value(conf->max_range_offset, prev->max_range_offset, SL_MAX_OFF_T_VALUE);
    sl_conf_merge_value(conf->force_ranges, prev->force_ranges, 0);
    if (conf->methods == 0) {
        conf->methods = prev->methods;
    }
    /* GET and HEAD are always cached, as nginx */
    conf->methods |= SL_HTTP_GET | SL_HTTP_HEAD;
    if (conf->use_stale == 0) {
        conf->use_stale = prev->use_stale ? prev->use_stale : SL_UPSTREAM_FT_OFF;
    }
    if (conf->use_stale & SL_UPSTREAM_FT_OFF) {
        conf->use_stale = SL_UPSTREAM_FT_OFF;
    }
    return merge_key(cf, conf, prev);
}

/* --- the lookup ------------------------------------------------------------------------ */

/* The request's cache: the location's, or the one its variables name.  NULL for none (an
 * empty name), SL_ERROR's stand-in `missing` for a name no zone has (logged: a 500). */
static sl_http_cache_t missing_cache;

static sl_http_cache_t *request_cache(sl_http_request_t *r, sl_upstream_cache_conf_t *conf)
{
    sl_str_t name;

    if (conf->cache || conf->name_value == NULL) {
        return conf->cache;
    }
    if (sl_http_complex_value(r, conf->name_value, &name) != SL_OK) {
        return &missing_cache;
    }
    if (name.len == 0) {
        return NULL;
    }
    sl_http_cache_t *cache =
        sl_http_cache_find(sl_http_get_module_main_conf(r, sl_http_cache_module), &name);
    if (cache == NULL) {
        sl_log_error(SL_LOG_ERR, r->connection->log, 0, "cache \"%.*s\" not found",
                     SL_STR_ARG(name));
        return &missing_cache;
    }
    return cache;
}

/* Any value true: not empty and not "0".  1, 0, or SL_ERROR. */
static sl_int_t test_predicates(sl_http_request_t *r, sl_array_t *a)
{
    if (a == NULL) {
        return 0;
    }
    sl_http_complex_value_t *cv = a->elts;
    for (sl_uint_t i = 0; i < a->nelts; i++) {
        sl_str_t v;
        if (sl_http_complex_value(r, &cv[i], &v) != SL_OK) {
            return SL_ERROR;
        }
        if (v.len && !(v.len == 1 && v.data[0] == '0')) {
            return 1;
        }
    }
    return 0;
}

static void close_cache_file(void *data)
{
    sl_file_t *file = data;

    if (file->fd != -1) {
        sl_close_file(file->fd);
        file->fd = -1;
    }
}

static void remove_bad_file(sl_http_request_t *r, sl_upstream_cache_req_t *c, const char *why)
{
    sl_log_error(SL_LOG_CRIT, r->connection->log, 0, "cache file \"%s\" %s", c->file_name, why);
    (void) unlink((char *) c->file_name);
    sl_http_cache_node_gone(c->cache, c->node);
}

/*
 * The file's size: a first read that stopped short of FIRST_READ met the end of the file, so
 * a small file needs no fstat().  *blocks is -1 when the zone knows the file already; else
 * the file is measured and its blocks on disk set there (before the loader came).  SL_OK or
 * SL_DECLINED.
 */
static sl_int_t file_size(sl_upstream_cache_req_t *c, int fd, ssize_t first, off_t *blocks)
{
    struct stat st;

    if (first < FIRST_READ && *blocks == -1) {
        c->file_size = first;
        return SL_OK;
    }
    if (fstat(fd, &st) == -1) {
        return SL_DECLINED;
    }
    c->file_size = st.st_size;
    *blocks = (off_t) st.st_blocks;
    return SL_OK;
}

/* Reads the file's header.  SL_OK, SL_DECLINED (no usable file). */
static sl_int_t read_header(sl_http_request_t *r, sl_upstream_cache_req_t *c, int fd, off_t *blocks)
{
    u_char *buf = sl_pnalloc(r->pool, FIRST_READ);
    ssize_t n = buf ? pread(fd, buf, FIRST_READ, 0) : -1;

    if (n < 0) {
        sl_log_error(SL_LOG_CRIT, r->connection->log, errno, "pread() \"%s\" failed", c->file_name);
        return SL_DECLINED;
    }
    if (file_size(c, fd, n, blocks) != SL_OK) {
        return SL_DECLINED;
    }
    sl_int_t rc = sl_http_cache_header_parse(buf, (size_t) n, &c->meta);
    if (rc == SL_AGAIN && c->meta.h.body_start <= c->file_size) {
        size_t need = c->meta.h.body_start;
        buf = sl_pnalloc(r->pool, need);
        n = buf ? pread(fd, buf, need, 0) : -1;
        rc = n == (ssize_t) need ? sl_http_cache_header_parse(buf, need, &c->meta) : SL_DECLINED;
    }
    if (rc != SL_OK || c->meta.h.body_start > c->file_size) {
        remove_bad_file(r, c, "has a bad header");
        return SL_DECLINED;
    }
    c->head = buf;
    c->head_len = (size_t) n;
    if (!sl_str_eq(&c->meta.key, &c->key)) {
        sl_log_error(SL_LOG_CRIT, r->connection->log, 0, "cache file \"%s\" has md5 collision",
                     c->file_name);
        return SL_DECLINED;
    }
    return SL_OK;
}

/* Opens the key's file: SL_OK (c->file and c->meta set), SL_DECLINED (none). */
static sl_int_t open_file(sl_http_request_t *r, sl_upstream_cache_req_t *c)
{
    int known = c->node->exists;
    off_t blocks = known ? -1 : 0;

    if (!c->node->exists && !c->cache->sh->cold) {
        return SL_DECLINED;
    }
    sl_pool_cleanup_t *cln = sl_pool_cleanup_add(r->pool, sizeof(sl_file_t));
    if (cln == NULL) {
        return SL_DECLINED;
    }
    sl_file_t *file = cln->data;
    memset(file, 0, sizeof(*file));
    file->fd = open((char *) c->file_name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    cln->handler = close_cache_file;
    if (file->fd == -1) {
        if (errno != ENOENT) {
            sl_log_error(SL_LOG_CRIT, r->connection->log, errno, "open() \"%s\" failed",
                         c->file_name);
        }
        sl_http_cache_node_gone(c->cache, c->node);
        return SL_DECLINED;
    }
    file->name.data = c->file_name;
    file->name.len = strlen((char *) c->file_name);
    file->log = r->connection->log;
    if (read_header(r, c, file->fd, &blocks) != SL_OK) {
        close_cache_file(file);
        return SL_DECLINED;
    }
    if (!known) {
        /* found before the loader got to it */
        sl_http_cache_node_published(c->cache, c->node, (time_t) c->meta.h.valid_sec, blocks * 512,
                                     c->meta.h.body_start);
    }
    c->file = file;
    return SL_OK;
}

/* The response header of the file into u->headers_in, as the protocol parses an upstream's.
 * SL_OK, or SL_DECLINED (broken: removed). */
static sl_int_t parse_stored_header(sl_http_request_t *r, sl_upstream_t *u,
                                    sl_upstream_cache_req_t *c)
{
    sl_str_t *text = &c->meta.response;
    u_char *copy = sl_pnalloc(r->pool, text->len);

    if (copy == NULL) {
        return SL_ERROR;
    }
    memcpy(copy, text->data, text->len);
    u->buffer.start = u->buffer.pos = copy;
    u->buffer.last = u->buffer.end = copy + text->len;
    u->buffer.temporary = 1;
    if (u->process_header(r) != SL_OK) {
        remove_bad_file(r, c, "has a bad response header");
        u->buffer.start = NULL;
        return SL_DECLINED;
    }
    /* the body is the file's rest, as it was stored (decoded) */
    u->headers_in.chunked = 0;
    u->headers_in.transfer_encoding = NULL;
    u->headers_in.content_length_n = c->file_size - (off_t) c->meta.h.body_start;
    u->buffer.start = NULL; /* the next try's header gets a buffer of its own */
    return SL_OK;
}

sl_int_t sl__upstream_cache_body(sl_http_request_t *r, sl_upstream_t *u, sl_buf_t *b)
{
    sl_upstream_cache_req_t *c = u->cache;

    if (c == NULL || c->file == NULL) {
        return SL_ERROR;
    }
    /* a subrequest's (SSI include) ends its part, not the response */
    sl_http_mark_last(r, b);
    if (c->file_size > (off_t) c->meta.h.body_start && (off_t) c->head_len >= c->file_size) {
        /* a small file came whole with its header: its body goes out from memory, with
         * the response header in one write, no sendfile */
        b->temporary = 1;
        b->pos = c->head + c->meta.h.body_start;
        b->last = c->head + c->file_size;
    } else if (c->file_size > (off_t) c->meta.h.body_start) {
        b->in_file = 1;
        b->file = c->file;
        b->file_pos = c->meta.h.body_start;
        b->file_last = c->file_size;
    }
    return SL_OK;
}

static void release_node(void *data)
{
    sl_upstream_cache_req_t *c = data;

    if (c->ended || c->node == NULL) {
        return;
    }
    c->ended = 1;
    if (c->wait.timer_set) {
        sl_del_timer(&c->wait);
    }
    if (c->updating) {
        sl_slab_lock(c->cache->pool);
        c->node->updating = 0;
        sl_slab_unlock(c->cache->pool);
        c->updating = 0;
    }
    sl_http_cache_release(c->cache, c->node);
}

void sl__upstream_cache_end(sl_http_request_t *r, sl_upstream_t *u)
{
    (void) r;
    if (u->cache) {
        release_node(u->cache);
    }
}

/* The new request's part: its key, hashed, its node. SL_OK, SL_DECLINED, SL_ERROR. */
static sl_int_t start(sl_http_request_t *r, sl_upstream_t *u, sl_http_cache_t *cache)
{
    sl_upstream_cache_req_t *c = sl_pcalloc(r->pool, sizeof(sl_upstream_cache_req_t));
    sl_pool_cleanup_t *cln = sl_pool_cleanup_add(r->pool, 0);

    if (c == NULL || cln == NULL || sl_http_complex_value(r, u->conf->cache.key, &c->key) != SL_OK
        || sl_http_cache_md5(&c->key, c->md5) != SL_OK) {
        return SL_ERROR;
    }
    memcpy(c->main_md5, c->md5, SL_HTTP_CACHE_KEY_LEN);
    c->cache = cache;
    c->file_name = sl_http_cache_file_name(r->pool, cache, c->md5);
    if (c->file_name == NULL) {
        return SL_ERROR;
    }
    cln->handler = release_node;
    cln->data = c;
    u->cache = c;
    return SL_OK;
}

/* Takes the node's updating mark if free (or held past proxy_cache_lock_age).  1 if taken. */
static int take_update(sl_upstream_t *u, sl_upstream_cache_req_t *c)
{
    int taken = 0;

    sl_slab_lock(c->cache->pool);
    if (!c->node->updating
        || (u->conf->cache.lock
            && sl_current_msec - c->node->lock_time >= u->conf->cache.lock_age)) {
        c->node->updating = 1;
        c->node->lock_time = sl_current_msec;
        c->node->updater = sl_pid;
        taken = 1;
    }
    sl_slab_unlock(c->cache->pool);
    c->updating = (unsigned) taken;
    return taken;
}

static void on_lock_wait(sl_event_t *ev)
{
    sl_http_request_t *r = ev->data;
    sl_upstream_t *u = r->upstream;
    sl_connection_t *c = r->connection;
    unsigned was = sl_http_dispatch_enter(c);

    /* the file may have been replaced meanwhile: looked for again */
    if (u->cache->file) {
        close_cache_file(u->cache->file);
        u->cache->file = NULL;
    }
    sl_int_t rc = sl__upstream_cache_lookup(r, u);
    if (rc != SL_AGAIN) {
        sl__upstream_init_after_lookup(r, u, rc);
    }
    /* a background update the lookup started runs now, not at the connection's next event */
    sl_http_dispatch_leave(c, was);
}

/* Another request is fetching the key: wait for it (polling), or, past
 * proxy_cache_lock_timeout, go upstream without storing.  SL_AGAIN or SL_OK. */
static sl_int_t wait_lock(sl_http_request_t *r, sl_upstream_t *u, sl_upstream_cache_req_t *c)
{
    if (c->wait_start == 0) {
        c->wait_start = sl_current_msec ? sl_current_msec : 1;
    }
    sl_msec_t waited = sl_current_msec - c->wait_start;
    if (waited >= u->conf->cache.lock_timeout) {
        u->cacheable = 0;
        return SL_OK;
    }
    sl_msec_t left = u->conf->cache.lock_timeout - waited;
    c->wait.handler = on_lock_wait;
    c->wait.data = r;
    c->wait.log = r->connection->log;
    r->read_event_handler = sl_http_block_reading;
    sl_add_timer(&c->wait, left < LOCK_POLL_MSEC ? left : LOCK_POLL_MSEC);
    return SL_AGAIN;
}

/* Whether the stale file may answer while the entry is refreshed: proxy_cache_use_stale
 * updating, or the stored response's stale-while-revalidate still running. */
static int stale_while_updating(sl_upstream_t *u, sl_upstream_cache_req_t *c)
{
    return (u->conf->cache.use_stale & SL_UPSTREAM_FT_UPDATING)
           || c->meta.h.valid_sec + c->meta.h.updating_sec >= sl_cached_time_sec;
}

/*
 * proxy_cache_background_update: the request itself answers with the stale file, and a
 * background clone of it (same location, method, key) refreshes the entry.  The updating
 * mark goes to the clone: it is given up here and taken again by the clone's own lookup,
 * which runs before any other request of this worker.  SL_OK or SL_ERROR.
 */
static sl_int_t update_in_background(sl_http_request_t *r, sl_upstream_cache_req_t *c)
{
    sl_http_request_t *sr;

    if (r == r->main) {
        /* the request's body serves the update too */
        r->preserve_body = 1;
    }
    if (sl_http_subrequest(r, &r->uri, &r->args, &sr, NULL,
                           SL_HTTP_SUBREQUEST_CLONE | SL_HTTP_SUBREQUEST_BACKGROUND)
        != SL_OK) {
        return SL_ERROR;
    }
    sr->header_only = 1;
    sl_slab_lock(c->cache->pool);
    c->node->updating = 0;
    sl_slab_unlock(c->cache->pool);
    c->updating = 0;
    return SL_OK;
}

/* The file is found but not fresh: who refreshes it, who gets it stale.  SL_OK (go
 * upstream), SL_DONE (serve the stale file), SL_AGAIN (wait for the lock), SL_ERROR. */
static sl_int_t expired(sl_http_request_t *r, sl_upstream_t *u, sl_upstream_cache_req_t *c)
{
    if (take_update(u, c)) {
        if (!r->background && u->conf->cache.background_update && stale_while_updating(u, c)) {
            if (update_in_background(r, c) != SL_OK) {
                return SL_ERROR;
            }
            c->status = STATUS_STALE;
            return SL_DONE;
        }
        c->status = STATUS_EXPIRED;
        c->revalidating =
            u->conf->cache.revalidate && (c->meta.etag.len || c->meta.h.last_modified != -1);
        return SL_OK;
    }
    /* another request refreshes it; a background update goes upstream all the same */
    if (r->background) {
        c->status = STATUS_EXPIRED;
        c->revalidating =
            u->conf->cache.revalidate && (c->meta.etag.len || c->meta.h.last_modified != -1);
        return SL_OK;
    }
    if (stale_while_updating(u, c)) {
        c->status = STATUS_UPDATING;
        return SL_DONE;
    }
    if (u->conf->cache.lock) {
        return wait_lock(r, u, c);
    }
    c->status = STATUS_EXPIRED;
    return SL_OK;
}

/* A Range starting past proxy_cache_max_range_offset is sent upstream as it is. */
static int range_too_far(sl_http_request_t *r, off_t max)
{
    const sl_table_elt_t *range = r->headers_in.range;

    if (range == NULL || max == SL_MAX_OFF_T_VALUE) {
        return 0;
    }
    if (max == 0) {
        return 1;
    }
    sl_str_t v = range->value;
    if (v.len < 6 || sl_strncasecmp(v.data, (u_char *) "bytes=", 6) != 0) {
        return 0;
    }
    const u_char *p = v.data + 6, *last = v.data + v.len;
    while (p < last && *p == ' ') {
        p++;
    }
    if (p < last && *p == '-') {
        return 1; /* the last bytes: where they start is not known before the response */
    }
    const u_char *start = p;
    while (p < last && *p >= '0' && *p <= '9') {
        p++;
    }
    off_t offset = p > start ? sl_atoof(start, (size_t) (p - start)) : 0;
    return offset != SL_ERROR && offset > max;
}

/* No usable file: this request fetches it (or waits for the one that does). */
static sl_int_t missing(sl_http_request_t *r, sl_upstream_t *u, sl_upstream_cache_req_t *c)
{
    c->status = STATUS_MISS;
    if (u->conf->cache.lock && !take_update(u, c)) {
        return wait_lock(r, u, c);
    }
    if (range_too_far(r, u->conf->cache.max_range_offset)) {
        u->cacheable = 0;
    }
    return SL_OK;
}

static sl_int_t variant_of(sl_http_request_t *r, const sl_str_t *vary, u_char *md5);
static sl_int_t variant_key(const sl_upstream_cache_req_t *c, const u_char *variant, u_char *key);

static int same_variant(sl_http_request_t *r, sl_upstream_cache_req_t *c)
{
    u_char md5[SL_HTTP_CACHE_KEY_LEN];

    return variant_of(r, &c->meta.vary, md5) == SL_OK
           && memcmp(md5, c->meta.h.variant, SL_HTTP_CACHE_KEY_LEN) == 0;
}

/* The lookup proper (again after each lock wait). */
/* The key's node, taken once per request.  0 when the zone is full (nothing is stored). */
static int take_node(sl_http_request_t *r, sl_upstream_t *u, sl_upstream_cache_req_t *c)
{
    if (c->node) {
        return 1;
    }
    c->node = sl_http_cache_acquire(c->cache, c->md5);
    if (c->node == NULL) {
        sl_log_error(SL_LOG_ALERT, r->connection->log, 0,
                     "could not allocate node in cache keys zone \"%.*s\"",
                     SL_STR_ARG(c->cache->name));
        u->cacheable = 0;
        return 0;
    }
    return 1;
}

/* An intercepted error stored for the key (no file): its status while it is valid. */
static sl_uint_t stored_error(sl_upstream_cache_req_t *c)
{
    sl_uint_t error = 0;

    sl_slab_lock(c->cache->pool);
    if (c->node->error && c->node->valid_sec >= sl_cached_time_sec) {
        error = c->node->error;
    }
    sl_slab_unlock(c->cache->pool);
    return error;
}

/* The request's variant is not the one the key's file holds: from now on the request uses
 * the variant's own key, as nginx's secondary keys.  SL_OK or SL_ERROR. */
static sl_int_t to_variant_key(sl_http_request_t *r, sl_upstream_t *u, sl_upstream_cache_req_t *c)
{
    u_char variant[SL_HTTP_CACHE_KEY_LEN];

    if (variant_of(r, &c->meta.vary, variant) != SL_OK
        || variant_key(c, variant, c->md5) != SL_OK) {
        return SL_ERROR;
    }
    c->file_name = sl_http_cache_file_name(r->pool, c->cache, c->md5);
    if (c->file_name == NULL) {
        return SL_ERROR;
    }
    close_cache_file(c->file);
    c->file = NULL;
    c->secondary = 1;
    if (c->updating) {
        sl_slab_lock(c->cache->pool);
        c->node->updating = 0;
        sl_slab_unlock(c->cache->pool);
        c->updating = 0;
    }
    sl_http_cache_release(c->cache, c->node);
    c->node = NULL;
    (void) u;
    return SL_OK;
}

/* The lookup proper (again after each lock wait). */
static sl_int_t lookup(sl_http_request_t *r, sl_upstream_t *u)
{
    sl_upstream_cache_req_t *c = u->cache;

    if (!take_node(r, u, c)) {
        c->status = STATUS_MISS;
        return SL_OK;
    }
    if (c->node->uses < u->conf->cache.min_uses) {
        /* not asked for often enough yet: passed through, not stored */
        c->status = STATUS_MISS;
        u->cacheable = 0;
        return SL_OK;
    }
    sl_uint_t error = stored_error(c);
    if (error) {
        c->status = STATUS_HIT;
        return (sl_int_t) error;
    }
    if (c->file == NULL && open_file(r, c) != SL_OK) {
        return missing(r, u, c);
    }
    if (c->meta.vary.len && !same_variant(r, c)) {
        if (c->secondary || to_variant_key(r, u, c) != SL_OK) {
            /* the variant's own file varies otherwise (Vary changed): replaced */
            c->file = NULL;
            return missing(r, u, c);
        }
        return lookup(r, u);
    }
    if (c->meta.h.valid_sec < sl_cached_time_sec) {
        return expired(r, u, c);
    }
    c->status = STATUS_HIT;
    return SL_DONE;
}

sl_int_t sl__upstream_cache_lookup(sl_http_request_t *r, sl_upstream_t *u)
{
    sl_upstream_cache_conf_t *conf = &u->conf->cache;
    sl_upstream_cache_req_t *c = u->cache;

    if (c == NULL) {
        if (!conf->on) {
            return SL_DECLINED;
        }
        sl_http_cache_t *cache = request_cache(r, conf);
        if (cache == &missing_cache) {
            return SL_ERROR;
        }
        if (cache == NULL || !(r->method & conf->methods)) {
            return SL_DECLINED;
        }
        if (r->method == SL_HTTP_HEAD && conf->convert_head) {
            u->head_as_get = 1;
        }
        if (start(r, u, cache) != SL_OK) {
            return SL_ERROR;
        }
        c = u->cache;
        u->cacheable = 1;
        sl_int_t bypass = test_predicates(r, conf->bypass);
        if (bypass == SL_ERROR) {
            return SL_ERROR;
        }
        if (bypass) {
            /* not read, but the response may replace what is stored */
            c->status = STATUS_BYPASS;
            take_node(r, u, c);
            return SL_OK;
        }
    }
    sl_int_t rc = lookup(r, u);
    if (rc != SL_DONE) {
        return rc;
    }
    if (parse_stored_header(r, u, c) != SL_OK) {
        c->file = NULL;
        return missing(r, u, c);
    }
    return SL_DONE;
}

/* The stored header back in u->headers_in, the upstream's answer forgotten.  SL_OK or
 * SL_DECLINED (the file is broken: removed). */
static sl_int_t back_to_file(sl_http_request_t *r, sl_upstream_t *u, sl_upstream_cache_req_t *c)
{
    if (u->reinit_request && u->reinit_request(r) != SL_OK) {
        return SL_DECLINED;
    }
    return parse_stored_header(r, u, c);
}

int sl__upstream_cache_conditionals(sl_http_request_t *r, sl_upstream_t *u, sl_str_t *ims,
                                    sl_str_t *inm)
{
    sl_upstream_cache_req_t *c = u->cache;

    ims->len = inm->len = 0;
    if (c == NULL || !c->revalidating || !u->cacheable) {
        return 0;
    }
    if (c->meta.h.last_modified != -1) {
        ims->data = sl_pnalloc(r->pool, 32);
        if (ims->data) {
            ims->len = sl_http_time((time_t) c->meta.h.last_modified, ims->data, 32);
        }
    }
    *inm = c->meta.etag;
    return 1;
}

sl_int_t sl__upstream_cache_stale(sl_http_request_t *r, sl_upstream_t *u, sl_uint_t ft)
{
    sl_upstream_cache_req_t *c = u->cache;

    if (c == NULL || c->file == NULL || c->status != STATUS_EXPIRED) {
        return SL_DECLINED;
    }
    sl_uint_t use = u->conf->cache.use_stale;
    if (use & SL_UPSTREAM_FT_ERROR) {
        use |= SL_UPSTREAM_FT_NOLIVE;
    }
    /* stale-if-error covers failures to get an answer, not an answer's status: a 5xx is
     * served stale only when proxy_cache_use_stale lists it (nginx >= 1.19.3) */
    const sl_uint_t statuses = SL_UPSTREAM_FT_HTTP_500 | SL_UPSTREAM_FT_HTTP_502
                               | SL_UPSTREAM_FT_HTTP_503 | SL_UPSTREAM_FT_HTTP_504
                               | SL_UPSTREAM_FT_HTTP_403 | SL_UPSTREAM_FT_HTTP_404
                               | SL_UPSTREAM_FT_HTTP_429;
    int if_error = !(ft & statuses) && c->meta.h.error_sec
                   && c->meta.h.valid_sec + c->meta.h.error_sec >= sl_cached_time_sec;
    if (!(use & ft) && !if_error) {
        return SL_DECLINED;
    }
    if (back_to_file(r, u, c) != SL_OK) {
        return SL_DECLINED;
    }
    c->status = STATUS_STALE;
    u->cacheable = 0;
    return SL_OK;
}

/* The new validity written into the file's header in place (the fields are aligned
 * 8-byte words: a reader sees the old value or the new). */
static void update_validity(sl_http_request_t *r, sl_upstream_cache_req_t *c, time_t valid)
{
    int64_t v = valid;
    int fd = open((char *) c->file_name, O_WRONLY | O_CLOEXEC);

    if (fd == -1
        || pwrite(fd, &v, sizeof(v), offsetof(sl_http_cache_header_t, valid_sec)) != sizeof(v)) {
        sl_log_error(SL_LOG_CRIT, r->connection->log, errno,
                     "updating the cache file \"%s\" failed", c->file_name);
    }
    if (fd != -1) {
        sl_close_file(fd);
    }
    sl_slab_lock(c->cache->pool);
    c->node->valid_sec = valid;
    sl_slab_unlock(c->cache->pool);
}

static time_t response_validity(sl_http_request_t *r, sl_upstream_t *u, sl_upstream_cache_req_t *c);
static time_t headers_validity(sl_upstream_t *u, sl_upstream_cache_req_t *c);

sl_int_t sl__upstream_cache_revalidated(sl_http_request_t *r, sl_upstream_t *u)
{
    sl_upstream_cache_req_t *c = u->cache;

    if (c == NULL || !c->revalidating || c->file == NULL
        || u->headers_in.status_n != SL_HTTP_NOT_MODIFIED) {
        return SL_DECLINED;
    }
    /* the 304's own validity, else the stored response's (its headers, then
     * proxy_cache_valid for its status), counted from now */
    time_t valid = headers_validity(u, c);
    if (back_to_file(r, u, c) != SL_OK) {
        return SL_DECLINED;
    }
    if (valid == -1) {
        valid = response_validity(r, u, c);
    }
    if (valid > 0) {
        update_validity(r, c, valid);
    }
    c->status = STATUS_REVALIDATED;
    u->cacheable = 0;
    return SL_OK;
}

/* --- the response: stored or not -------------------------------------------------------- */

/* The time the response's headers make it valid until: 0 not cacheable, -1 they say
 * nothing (proxy_cache_valid decides). */
static time_t headers_validity(sl_upstream_t *u, sl_upstream_cache_req_t *c)
{
    sl_uint_t ignore = u->conf->ignore_headers;
    sl_http_cache_control_t cc = { 0, 0, -1, -1, -1 };
    time_t now = sl_cached_time_sec, xae = -1, expires = -1;
    int has_cc = 0, has_expires = 0, has_xae = 0;

    SL_LIST_FOREACH(&u->headers_in.headers, part, i, sl_table_elt_t, h)
    {
        sl_uint_t kind = sl_upstream_elt_kind(h);
        if (kind == SL_UPSTREAM_H_XA_EXPIRES && !(ignore & SL_UPSTREAM_IGN_XA_EXPIRES)
            && !has_xae) {
            /* the first one counts, as nginx (a second is a duplicate) */
            has_xae = 1;
            xae = sl_http_cache_x_accel_expires(&h->value, now);
        } else if (kind == SL_UPSTREAM_H_CACHE_CONTROL
                   && !(ignore & SL_UPSTREAM_IGN_CACHE_CONTROL)) {
            sl_http_cache_control_parse(&h->value, &cc);
            has_cc = 1;
        } else if (kind == SL_UPSTREAM_H_EXPIRES && !(ignore & SL_UPSTREAM_IGN_EXPIRES)
                   && !has_expires) {
            expires = sl_http_parse_time(h->value.data, h->value.len);
            has_expires = 1;
        }
    }
    if (has_cc) {
        c->out.h.updating_sec = cc.stale_while_revalidate > 0 ? cc.stale_while_revalidate : 0;
        c->out.h.error_sec = cc.stale_if_error > 0           ? cc.stale_if_error
                             : cc.stale_while_revalidate > 0 ? cc.stale_while_revalidate
                                                             : 0;
    }
    if (xae != -1) {
        return xae;
    }
    if (has_cc && cc.no_store) {
        return 0;
    }
    if (has_cc && cc.max_age != -1) {
        return cc.max_age == 0 ? 0 : now + cc.max_age;
    }
    if (has_expires) {
        return expires == -1 || expires <= now ? 0 : expires;
    }
    return -1;
}

/* Headers whose value lists are compared with their whitespace and empty elements dropped
 * ("gzip, br" and "gzip,br" are one variant), as nginx. */
static int normalized_header(const sl_str_t *name)
{
    static const sl_str_t names[] = {
        sl_string("Accept-Charset"),
        sl_string("Accept-Encoding"),
        sl_string("Accept-Language"),
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (sl_str_caseeq(name, &names[i])) {
            return 1;
        }
    }
    return 0;
}

/* The elements of a list value, without blanks and empty elements, each after a comma
 * when one came before (*first cleared). */
static u_char *put_elements(u_char *p, const sl_str_t *value, int *first)
{
    const u_char *s = value->data, *last = value->data + value->len;

    while (s < last) {
        while (s < last && (*s == ' ' || *s == ',' || *s == '\t')) {
            s++;
        }
        const u_char *e = s;
        while (e < last && *e != ' ' && *e != ',' && *e != '\t') {
            e++;
        }
        if (e == s) {
            break;
        }
        if (!*first) {
            *p++ = ',';
        }
        *first = 0;
        p = mempcpy(p, s, (size_t) (e - s));
        s = e;
    }
    return p;
}

/* The request's values of one header Vary names, comma-separated, after the name. */
static u_char *put_named_values(u_char *p, sl_http_request_t *r, const sl_str_t *name)
{
    int normalize = normalized_header(name), first = 1;

    p = mempcpy(p, name->data, name->len);
    *p++ = ':';
    SL_LIST_FOREACH(&r->headers_in.headers, part, i, sl_table_elt_t, h)
    {
        if (!sl_str_caseeq(&h->key, name)) {
            continue;
        }
        if (normalize) {
            p = put_elements(p, &h->value, &first);
            continue;
        }
        if (!first) {
            *p++ = ',';
        }
        first = 0;
        p = mempcpy(p, h->value.data, h->value.len);
    }
    *p++ = '\n';
    return p;
}

/* The request's values of the headers Vary names (in the order it names them, each with
 * its name), as the variant's key. */
static sl_int_t variant_of(sl_http_request_t *r, const sl_str_t *vary, u_char *md5)
{
    /* each name once with ':' and '\n', and at most every header's value per name */
    size_t values = 0, names = vary->len / 2 + 1;

    SL_LIST_FOREACH(&r->headers_in.headers, part, i, sl_table_elt_t, h)
    {
        values += h->value.len + 1;
    }
    u_char *buf = sl_pnalloc(r->pool, vary->len + names * (values + 2)), *p = buf;
    if (buf == NULL) {
        return SL_ERROR;
    }
    const u_char *s = vary->data, *last = vary->data + vary->len;
    while (s < last) {
        while (s < last && (*s == ' ' || *s == ',' || *s == '\t')) {
            s++;
        }
        const u_char *e = s;
        while (e < last && *e != ',' && *e != ' ' && *e != '\t') {
            e++;
        }
        sl_str_t name = { (size_t) (e - s), (u_char *) s };
        if (name.len) {
            p = put_named_values(p, r, &name);
        }
        s = e;
    }
    sl_str_t text = { (size_t) (p - buf), buf };
    return sl_http_cache_md5(&text, md5);
}

/* The response header as stored: the status line and the header lines sluice keeps (not the
 * framing, which a cached body does not have). */
static sl_int_t stored_response(sl_http_request_t *r, sl_upstream_t *u, sl_str_t *out)
{
    size_t len = sizeof("HTTP/1.1 \r\n") - 1 + 3 + 1 + u->headers_in.status_line.len + 2;
    const sl_uint_t skip = SL_UPSTREAM_H_BIT(SL_UPSTREAM_H_CONNECTION)
                           | SL_UPSTREAM_H_BIT(SL_UPSTREAM_H_KEEP_ALIVE)
                           | SL_UPSTREAM_H_BIT(SL_UPSTREAM_H_TRANSFER_ENCODING)
                           | SL_UPSTREAM_H_BIT(SL_UPSTREAM_H_CONTENT_LENGTH);

    SL_LIST_FOREACH(&u->headers_in.headers, part, i, sl_table_elt_t, h)
    {
        len += h->key.len + 2 + h->value.len + 2;
    }
    u_char *buf = sl_pnalloc(r->pool, len), *p = buf;
    if (buf == NULL) {
        return SL_ERROR;
    }
    if (u->headers_in.status_line.len) {
        p = (u_char *) memcpy(p, "HTTP/1.1 ", 9) + 9;
        p = mempcpy(p, u->headers_in.status_line.data, u->headers_in.status_line.len);
    } else {
        p += snprintf((char *) p, len, "HTTP/1.1 %03u", (unsigned) u->headers_in.status_n);
    }
    *p++ = '\r';
    *p++ = '\n';
    SL_LIST_FOREACH(&u->headers_in.headers, part2, j, sl_table_elt_t, h)
    {
        if (h->hash == 0 || (skip & SL_UPSTREAM_H_BIT(sl_upstream_elt_kind(h)))) {
            continue;
        }
        p = mempcpy(p, h->key.data, h->key.len);
        *p++ = ':';
        *p++ = ' ';
        p = mempcpy(p, h->value.data, h->value.len);
        *p++ = '\r';
        *p++ = '\n';
    }
    *p++ = '\r';
    *p++ = '\n';
    out->data = buf;
    out->len = (size_t) (p - buf);
    return SL_OK;
}

/* Another Vary line's names after those of the lines before it, as one list.  SL_OK or
 * SL_ERROR. */
static sl_int_t join_vary(sl_http_request_t *r, sl_str_t *vary, const sl_str_t *more)
{
    if (vary->len == 0) {
        *vary = *more;
        return SL_OK;
    }
    u_char *p = sl_pnalloc(r->pool, vary->len + 1 + more->len);
    if (p == NULL) {
        return SL_ERROR;
    }
    u_char *e = mempcpy(p, vary->data, vary->len);
    *e++ = ',';
    e = mempcpy(e, more->data, more->len);
    vary->data = p;
    vary->len = (size_t) (e - p);
    return SL_OK;
}

/* Whether headers forbid storing: Set-Cookie, Vary: *.  Vary's names are kept in c->out. */
static int headers_forbid(sl_http_request_t *r, sl_upstream_t *u, sl_upstream_cache_req_t *c)
{
    sl_uint_t ignore = u->conf->ignore_headers;

    c->out.vary.len = 0;
    SL_LIST_FOREACH(&u->headers_in.headers, part, i, sl_table_elt_t, h)
    {
        sl_uint_t kind = sl_upstream_elt_kind(h);
        if (kind == SL_UPSTREAM_H_SET_COOKIE && !(ignore & SL_UPSTREAM_IGN_SET_COOKIE)) {
            return 1;
        }
        if (kind == SL_UPSTREAM_H_VARY && !(ignore & SL_UPSTREAM_IGN_VARY)) {
            if (h->value.len == 1 && h->value.data[0] == '*') {
                return 1;
            }
            if (join_vary(r, &c->out.vary, &h->value) != SL_OK) {
                return 1;
            }
        }
    }
    return 0;
}

static const sl_str_t *header_value(sl_upstream_t *u, sl_uint_t kind)
{
    const sl_table_elt_t *h = sl_upstream_find_header(u, kind);

    return h ? &h->value : NULL;
}

/* The new file's header in pool memory.  SL_OK or SL_ERROR. */
static sl_int_t build_header(sl_http_request_t *r, sl_upstream_t *u, sl_upstream_cache_req_t *c,
                             time_t valid)
{
    sl_http_cache_meta_t *m = &c->out;
    sl_uint_t status = u->headers_in.status_n;

    m->key = c->key;
    m->h.valid_sec = valid;
    m->h.date = sl_cached_time_sec;
    m->h.status = (uint16_t) status;
    m->h.last_modified = -1;
    const sl_str_t *lm = header_value(u, SL_UPSTREAM_H_LAST_MODIFIED);
    const sl_str_t *etag = header_value(u, SL_UPSTREAM_H_ETAG);
    if (status == SL_HTTP_OK && lm) {
        m->h.last_modified = sl_http_parse_time(lm->data, lm->len);
    }
    if (status == SL_HTTP_OK && etag) {
        m->etag = *etag;
    }
    if (m->vary.len && variant_of(r, &m->vary, m->h.variant) != SL_OK) {
        return SL_ERROR;
    }
    if (stored_response(r, u, &m->response) != SL_OK) {
        return SL_ERROR;
    }
    c->header = sl_http_cache_header_build(r->pool, m);
    return c->header ? SL_OK : SL_ERROR;
}

/* How long the response may be stored (seconds since the epoch), 0 when it may not. */
static time_t response_validity(sl_http_request_t *r, sl_upstream_t *u, sl_upstream_cache_req_t *c)
{
    if (headers_forbid(r, u, c) || test_predicates(r, u->conf->cache.no_cache) != 0) {
        return 0;
    }
    time_t valid = headers_validity(u, c);
    if (valid == -1) {
        time_t t = sl_http_cache_valid_for(u->conf->cache.valid, u->headers_in.status_n);
        valid = t ? sl_cached_time_sec + t : 0;
    }
    return valid;
}

void sl__upstream_cache_error(sl_http_request_t *r, sl_upstream_t *u, sl_uint_t status)
{
    sl_upstream_cache_req_t *c = u->cache;

    if (!u->cacheable || c == NULL || c->node == NULL) {
        return;
    }
    u->cacheable = 0;
    time_t valid = response_validity(r, u, c);
    if (valid == 0) {
        return;
    }
    /* the error_page answers; the key answers with the status while it is valid */
    sl_slab_lock(c->cache->pool);
    c->node->error = (uint16_t) status;
    c->node->valid_sec = valid;
    sl_slab_unlock(c->cache->pool);
}

/* The variant's own key (the main key's MD5 and the variant's, hashed) into key. */
static sl_int_t variant_key(const sl_upstream_cache_req_t *c, const u_char *variant, u_char *key)
{
    u_char both[2 * SL_HTTP_CACHE_KEY_LEN];
    sl_str_t text = { sizeof(both), both };

    memcpy(both, c->main_md5, SL_HTTP_CACHE_KEY_LEN);
    memcpy(both + SL_HTTP_CACHE_KEY_LEN, variant, SL_HTTP_CACHE_KEY_LEN);
    return sl_http_cache_md5(&text, key);
}

/* A request on a variant's key whose response does not vary as that key says (no Vary
 * now, other names, other values): the response is stored under the main key, where every
 * later request finds it first, as nginx.  0 when it cannot be stored. */
static int store_under_right_key(sl_http_request_t *r, sl_upstream_t *u, sl_upstream_cache_req_t *c)
{
    u_char key[SL_HTTP_CACHE_KEY_LEN];

    if (!c->secondary) {
        return 1;
    }
    if (c->out.vary.len && variant_key(c, c->out.h.variant, key) == SL_OK
        && memcmp(key, c->md5, SL_HTTP_CACHE_KEY_LEN) == 0) {
        return 1;
    }
    u_char *name = sl_http_cache_file_name(r->pool, c->cache, c->main_md5);
    if (name == NULL) {
        return 0;
    }
    release_node(c);
    c->ended = 0;
    c->node = NULL;
    c->secondary = 0;
    c->file_name = name;
    memcpy(c->md5, c->main_md5, SL_HTTP_CACHE_KEY_LEN);
    return take_node(r, u, c);
}

void sl__upstream_cache_decide(sl_http_request_t *r, sl_upstream_t *u)
{
    sl_upstream_cache_req_t *c = u->cache;

    if (!u->cacheable || c == NULL) {
        u->cacheable = 0;
        return;
    }
    u->cacheable = 0;
    sl_uint_t status = u->headers_in.status_n;
    /* a 206 is stored like any status when proxy_cache_valid (or its headers) allow it, as
     * nginx: the slice module keys each piece by its $slice_range */
    if (status == SL_HTTP_NOT_MODIFIED || c->node == NULL) {
        return;
    }
    time_t valid = response_validity(r, u, c);
    if (valid == 0 || build_header(r, u, c, valid) != SL_OK) {
        return;
    }
    u->cacheable = 1;
    if (!store_under_right_key(r, u, c)) {
        u->cacheable = 0;
    }
}

/* --- the tee: the body into the cache file ---------------------------------------------- */

static int cache_open(sl_http_request_t *r, sl_upstream_t *u, sl_str_t *dir, off_t *reserve)
{
    sl_upstream_cache_req_t *c = u->cache;

    (void) r;
    if (!u->cacheable || c == NULL || c->header == NULL) {
        return 0;
    }
    *dir = c->cache->use_temp_path ? u->conf->temp_path->name : c->cache->path->name;
    *reserve = c->out.h.body_start;
    return 1;
}

static void cache_complete(sl_http_request_t *r, sl_upstream_t *u, sl_file_t *file, off_t size)
{
    sl_upstream_cache_req_t *c = u->cache;
    int fd = file ? file->fd : -1, own = 0;
    off_t total = (off_t) c->out.h.body_start + size;
    struct stat st;

    if (fd == -1) {
        /* an empty body wrote nothing: the file is the header alone */
        sl_str_t dir = c->cache->use_temp_path ? u->conf->temp_path->name : c->cache->path->name;
        fd = sl_open_tempfile(&dir, r->connection->log);
        own = 1;
    }
    if (fd == -1) {
        return;
    }
    ssize_t n = pwrite(fd, c->header, c->out.h.body_start, 0);
    if (n != (ssize_t) c->out.h.body_start) {
        sl_log_error(SL_LOG_CRIT, r->connection->log, n == -1 ? errno : 0,
                     "pwrite() of the cache header of \"%s\" failed", c->file_name);
    } else {
        int err = sl_http_cache_publish(fd, total, (char *) c->file_name, r->pool);
        if (err) {
            sl_log_error(SL_LOG_CRIT, r->connection->log, err, "storing \"%s\" failed",
                         c->file_name);
        } else {
            off_t bytes = fstat(fd, &st) == 0 ? (off_t) st.st_blocks * 512 : total;
            sl_http_cache_node_published(c->cache, c->node, (time_t) c->out.h.valid_sec, bytes,
                                         c->out.h.body_start);
        }
    }
    if (own) {
        sl_close_file(fd);
    }
    release_node(c);
}

/* The copy is the pipe's anonymous file: nothing was named, nothing to remove. */
static void cache_truncated(sl_http_request_t *r, sl_upstream_t *u)
{
    (void) r;
    if (u->cache) {
        release_node(u->cache);
    }
}

const sl_upstream_tee_t sl_upstream_cache_tee = { cache_open, cache_complete, cache_truncated };

/* --- $upstream_cache_status ------------------------------------------------------------- */

static sl_int_t var_cache_status(sl_http_request_t *r, sl_http_variable_value_t *v, uintptr_t data)
{
    sl_upstream_t *u = r->upstream;

    (void) data;
    if (u == NULL || u->cache == NULL || u->cache->status == STATUS_NONE) {
        v->not_found = 1;
        return SL_OK;
    }
    const sl_str_t *s = &status_names[u->cache->status];
    v->len = s->len;
    v->data = s->data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return SL_OK;
}

sl_int_t sl__upstream_cache_add_variables(sl_conf_t *cf)
{
    sl_str_t name = sl_string("upstream_cache_status");
    sl_http_variable_t *v = sl_http_add_variable(cf, &name, SL_HTTP_VAR_NOCACHEABLE);

    if (v == NULL) {
        return SL_ERROR;
    }
    v->get_handler = var_cache_status;
    return SL_OK;
}
