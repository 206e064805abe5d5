/*
 * sl_http_cache_file.c: where a key's file is and what its header holds.  The format is
 * sluice's own (sl_http_cache.h), not nginx's: a cache directory is not shared with nginx.
 *
 * A file is written whole before it has a name: the body through the event pipe's anonymous
 * temp file (O_TMPFILE) after room for the header, the header last, then the file is linked
 * beside its final name and renamed over it.  A reader opens either the old file or the new
 * one, complete; a crash at any point leaves at most an unnamed file the kernel reclaims, or
 * a name beside the final one that the loader removes.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "sl_file.h"
#include "sl_http_cache.h"
#include "sl_pool.h"

#define PATH_MAX_LEN 4096

/*
 * Every request hashes its key: the digest is fetched from the provider once and one
 * context is reused, so a request costs no fetch (a locked lookup in OpenSSL 3) and no
 * allocation, as EVP_Digest's implicit ones would.
 */
sl_int_t sl_http_cache_md5(const sl_str_t *text, u_char *key)
{
    static EVP_MD *md5;
    static EVP_MD_CTX *ctx;
    unsigned int len = 0;

    if (md5 == NULL) {
        md5 = EVP_MD_fetch(NULL, "MD5", NULL);
    }
    if (ctx == NULL) {
        ctx = EVP_MD_CTX_new();
    }
    if (md5 == NULL || ctx == NULL || !EVP_DigestInit_ex2(ctx, md5, NULL)
        || !EVP_DigestUpdate(ctx, text->data, text->len) || !EVP_DigestFinal_ex(ctx, key, &len)
        || len != SL_HTTP_CACHE_KEY_LEN) {
        return SL_ERROR;
    }
    return SL_OK;
}

static void hex_key(const u_char *key, u_char *out)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < SL_HTTP_CACHE_KEY_LEN; i++) {
        out[2 * i] = (u_char) hex[key[i] >> 4];
        out[2 * i + 1] = (u_char) hex[key[i] & 0xf];
    }
}

u_char *sl_http_cache_file_name(sl_pool_t *pool, sl_http_cache_t *cache, const u_char *key)
{
    const sl_path_t *path = cache->path;
    u_char hex[SL_HTTP_CACHE_NAME_LEN];
    u_char *name = sl_pnalloc(pool, path->name.len + SL_HTTP_CACHE_NAME_LEN + 2 * 4 + 2);

    if (name == NULL) {
        return NULL;
    }
    hex_key(key, hex);
    u_char *p = mempcpy(name, path->name.data, path->name.len);
    /* each level takes its characters from the name's end, as nginx's levels */
    size_t end = SL_HTTP_CACHE_NAME_LEN;
    for (size_t l = 0; l < SL_MAX_PATH_LEVEL && path->level[l]; l++) {
        *p++ = '/';
        end -= path->level[l];
        p = mempcpy(p, hex + end, path->level[l]);
    }
    *p++ = '/';
    p = mempcpy(p, hex, SL_HTTP_CACHE_NAME_LEN);
    *p = '\0';
    return name;
}

/* An empty field may have no data pointer at all. */
static u_char *put(u_char *p, const sl_str_t *s)
{
    return s->len ? mempcpy(p, s->data, s->len) : p;
}

u_char *sl_http_cache_header_build(sl_pool_t *pool, sl_http_cache_meta_t *meta)
{
    sl_http_cache_header_t *h = &meta->h;

    if (meta->key.len > 0xffff || meta->etag.len > 0xffff || meta->vary.len > 0xffff) {
        return NULL;
    }
    h->magic = SL_HTTP_CACHE_MAGIC;
    h->version = SL_HTTP_CACHE_VERSION;
    h->key_len = (uint16_t) meta->key.len;
    h->etag_len = (uint16_t) meta->etag.len;
    h->vary_len = (uint16_t) meta->vary.len;
    size_t start = sizeof(*h) + meta->key.len + meta->etag.len + meta->vary.len;
    h->header_start = (uint32_t) start;
    h->body_start = (uint32_t) (start + meta->response.len);
    u_char *buf = sl_pnalloc(pool, h->body_start);
    if (buf == NULL) {
        return NULL;
    }
    u_char *p = mempcpy(buf, h, sizeof(*h));
    p = put(p, &meta->key);
    p = put(p, &meta->etag);
    p = put(p, &meta->vary);
    put(p, &meta->response);
    return buf;
}

sl_int_t sl_http_cache_header_parse(const u_char *p, size_t n, sl_http_cache_meta_t *meta)
{
    sl_http_cache_header_t *h = &meta->h;

    if (n < sizeof(*h)) {
        return SL_DECLINED;
    }
    memcpy(h, p, sizeof(*h));
    if (h->magic != SL_HTTP_CACHE_MAGIC || h->version != SL_HTTP_CACHE_VERSION) {
        return SL_DECLINED;
    }
    size_t start = sizeof(*h) + h->key_len + h->etag_len + h->vary_len;
    if (h->header_start != start || h->body_start < start + 4 || h->body_start > (1u << 24)) {
        return SL_DECLINED;
    }
    if (n < h->body_start) {
        return SL_AGAIN;
    }
    const u_char *q = p + sizeof(*h);
    meta->key.data = (u_char *) q;
    meta->key.len = h->key_len;
    meta->etag.data = (u_char *) (q += h->key_len);
    meta->etag.len = h->etag_len;
    meta->vary.data = (u_char *) (q += h->etag_len);
    meta->vary.len = h->vary_len;
    meta->response.data = (u_char *) p + h->header_start;
    meta->response.len = h->body_start - h->header_start;
    /* the response header ends with its empty line */
    if (memcmp(p + h->body_start - 4, "\r\n\r\n", 4) != 0) {
        return SL_DECLINED;
    }
    return SL_OK;
}

/* Every missing directory above path (the levels), as the cache's own: 0700. */
static void create_dirs(char *path)
{
    for (char *s = strrchr(path, '/'); s; s = NULL) {
        /* from the deepest level up: the cache directory itself exists (the master made it) */
        *s = '\0';
        if (mkdir(path, 0700) == -1 && errno == ENOENT) {
            create_dirs(path);
            (void) mkdir(path, 0700);
        }
        *s = '/';
    }
}

/* A unique name beside path: path + ".pid.counter" (the loader removes such leftovers). */
static void sibling_name(const char *path, char *out)
{
    static unsigned long counter;

    snprintf(out, PATH_MAX_LEN, "%s.%ld.%lu", path, (long) getpid(), ++counter);
}

static int link_beside(int fd, const char *tmp)
{
    char proc[64];

    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    return linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) == 0 ? 0 : errno;
}

/* Copies size bytes of fd into a new file named tmp (another filesystem).  0 or errno. */
static int copy_beside(int fd, off_t size, const char *tmp, sl_pool_t *pool)
{
    size_t bsize = 65536;
    u_char *buf = sl_pnalloc(pool, bsize);
    int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int err = 0;

    if (buf == NULL || out == -1) {
        err = out == -1 ? errno : ENOMEM;
        if (out != -1) {
            sl_close_file(out);
        }
        return err;
    }
    for (off_t off = 0; off < size && err == 0;) {
        ssize_t n = pread(fd, buf, (size_t) sl_min((off_t) bsize, size - off), off);
        if (n <= 0 || write(out, buf, (size_t) n) != n) {
            err = n == 0 ? EIO : errno ? errno : EIO;
            break;
        }
        off += n;
    }
    sl_close_file(out);
    if (err) {
        unlink(tmp);
    }
    return err;
}

int sl_http_cache_publish(int fd, off_t size, const char *path, sl_pool_t *pool)
{
    char tmp[PATH_MAX_LEN];

    if (strlen(path) + 48 > sizeof(tmp)) {
        return ENAMETOOLONG;
    }
    sibling_name(path, tmp);
    int err = link_beside(fd, tmp);
    if (err == ENOENT) {
        create_dirs(tmp);
        err = link_beside(fd, tmp);
    }
    if (err == EXDEV || err == ENOENT) {
        create_dirs(tmp);
        /* not linkable here (another filesystem, no O_TMPFILE): a copy, renamed in place */
        err = copy_beside(fd, size, tmp, pool);
    }
    if (err) {
        return err;
    }
    if (rename(tmp, path) == -1) {
        err = errno;
        unlink(tmp);
    }
    return err;
}
