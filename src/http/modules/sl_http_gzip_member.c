/*
 * sl_http_gzip_member.c: a block of bytes as one complete gzip member, in pool memory: what
 * "access_log ... gzip" writes at each flush (a file of such members is one valid gzip
 * stream for zcat and gunzip).
 */
#include <zlib.h>

#include "sl_http_gzip.h"
#include "sl_pool.h"

static voidpf pool_alloc(voidpf opaque, uInt items, uInt size)
{
    return sl_palloc(opaque, (size_t) items * size);
}

static void pool_free(voidpf opaque, voidpf address)
{
    /* the pool frees it */
}

sl_int_t sl_http_gzip_member(sl_pool_t *pool, int level, const u_char *data, size_t len,
                             sl_str_t *out, sl_log_t *log)
{
    z_stream zs;
    int wbits = MAX_WBITS, memlevel = MAX_MEM_LEVEL - 1;

    /* a window no larger than the data needs (as the gzip filter sizes it) */
    while (len < ((size_t) 1 << (wbits - 1)) && wbits > 9) {
        wbits--;
        memlevel = memlevel > 1 ? memlevel - 1 : 1;
    }
    memset(&zs, 0, sizeof(zs));
    zs.zalloc = pool_alloc;
    zs.zfree = pool_free;
    zs.opaque = pool;
    int rc = deflateInit2(&zs, level, Z_DEFLATED, wbits + 16, memlevel, Z_DEFAULT_STRATEGY);
    if (rc != Z_OK) {
        sl_log_error(SL_LOG_ALERT, log, 0, "deflateInit2() failed: %d", rc);
        return SL_ERROR;
    }
    /* the gzip header and trailer beside deflate's worst case */
    size_t size = deflateBound(&zs, (uLong) len) + 18;
    out->data = sl_pnalloc(pool, size);
    if (out->data == NULL) {
        deflateEnd(&zs);
        return SL_ERROR;
    }
    zs.next_in = (Bytef *) data;
    zs.avail_in = (uInt) len;
    zs.next_out = out->data;
    zs.avail_out = (uInt) size;
    rc = deflate(&zs, Z_FINISH);
    out->len = size - zs.avail_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        sl_log_error(SL_LOG_ALERT, log, 0, "deflate(Z_FINISH) failed: %d", rc);
        return SL_ERROR;
    }
    return SL_OK;
}
