/*
 * sl_upstream_tee.c: the one place a response body is also written somewhere other than the
 * client (proxy_store, the cache): choosing the tee, and ending it complete or
 * truncated.  The copy itself is the event pipe's temp file, kept whole ("cacheable").
 */
#include "sl_pool.h"
#include "sl_upstream.h"

void sl__upstream_tee_select(sl_http_request_t *r, sl_upstream_t *u)
{
    (void) r;
    if (u->conf->store.on) {
        u->tee = &sl_upstream_store_tee;
    } else {
        u->tee = u->cacheable ? &sl_upstream_cache_tee : NULL;
    }
}

int sl__upstream_tee_open(sl_http_request_t *r, sl_upstream_t *u, sl_str_t *dir)
{
    u->tee_reserve = 0;
    if (u->tee && !u->tee->open(r, u, dir, &u->tee_reserve)) {
        u->tee = NULL;
    }
    return u->tee != NULL;
}

sl_file_t *sl__upstream_tee_file(sl_http_request_t *r, sl_upstream_t *u)
{
    if (u->tee == NULL || u->tee_reserve == 0) {
        return NULL;
    }
    sl_file_t *file = sl_pcalloc(r->pool, sizeof(sl_file_t));
    if (file == NULL) {
        u->tee->truncated(r, u);
        u->tee = NULL;
        return NULL;
    }
    /* the pipe opens it on its first write and writes the body from here on */
    file->fd = -1;
    file->offset = u->tee_reserve;
    return file;
}

/*
 * The body was read to its end as its framing said: not cut by an error, ended by its
 * length, its last chunk, or (close-delimited) the close, and as long as Content-Length
 * announced (bytes an upstream sends past that are not the body's, and were dropped).
 */
static int body_complete(const sl_upstream_t *u, const sl_pipe_t *p, off_t size)
{
    if (p->upstream_error) {
        return 0;
    }
    int ended = p->upstream_done || (p->upstream_eof && p->length == -1 && !u->headers_in.chunked);
    /* a response without a body (HEAD, 204, 304) has none whatever its Content-Length */
    return ended
           && (u->headers_in.content_length_n == -1 || u->headers_in.content_length_n == size
               || (u->length == 0 && size == 0));
}

void sl__upstream_tee_end(sl_http_request_t *r, sl_upstream_t *u)
{
    const sl_upstream_tee_t *tee = u->tee;
    sl_pipe_t *p = u->pipe;

    if (tee == NULL) {
        return;
    }
    u->tee = NULL;
    off_t size = p && p->temp_file ? p->temp_file->offset - u->tee_reserve : 0;
    if (p && p->cacheable && body_complete(u, p, size)) {
        tee->complete(r, u, size ? p->temp_file : NULL, size);
    } else {
        tee->truncated(r, u);
    }
}
