/*
 * sl_ssl_certificate_cache.c: certificates chosen per handshake (ssl_certificate with
 * variables, e.g. "$ssl_server_name.crt").  Reading and parsing a PEM file on every
 * handshake costs more than the handshake's own signature, so a worker may keep the pairs
 * it loaded (ssl_certificate_cache max=N): a pair is reread once it is older than valid
 * (the files may have been renewed), an entry unused for inactive is dropped, and when all
 * N are taken the least recently used one gives way.  Without a cache each handshake reads
 * its files, as nginx does by default.
 */
#include <limits.h>
#include <stdio.h>

#include "sl_pool.h"
#include "sl_ssl.h"
#include "sl_time.h"

typedef struct {
    /** "CERT\0KEY", malloc'ed; NULL: a free slot */
    char *name;
    size_t name_len;
    X509 *cert;
    STACK_OF(X509) * chain;
    EVP_PKEY *key;
    time_t loaded;
    time_t used;
    /** the cache's use count when last used: the least recently used has the lowest */
    uint64_t tick;
} entry_t;

struct sl_ssl_cert_cache_s {
    entry_t *entries;
    sl_uint_t max;
    time_t inactive;
    time_t valid;
    uint64_t ticks;
};

/* A loaded pair, the certificate and key owned by whoever holds it. */
typedef struct {
    X509 *cert;
    STACK_OF(X509) * chain;
    EVP_PKEY *key;
} pair_t;

static void pair_free(pair_t *p)
{
    X509_free(p->cert);
    sk_X509_pop_free(p->chain, X509_free);
    EVP_PKEY_free(p->key);
}

static void entry_clear(entry_t *e)
{
    pair_t p = { e->cert, e->chain, e->key };

    pair_free(&p);
    free(e->name);
    memset(e, 0, sizeof(*e));
}

static void cache_cleanup(void *data)
{
    sl_ssl_cert_cache_t *cache = data;

    for (sl_uint_t i = 0; i < cache->max; i++) {
        entry_clear(&cache->entries[i]);
    }
}

sl_ssl_cert_cache_t *sl_ssl_cert_cache_create(sl_pool_t *pool, sl_log_t *log, sl_uint_t max,
                                              time_t inactive, time_t valid)
{
    sl_ssl_cert_cache_t *cache = sl_pcalloc(pool, sizeof(sl_ssl_cert_cache_t));
    sl_pool_cleanup_t *cln = sl_pool_cleanup_add(pool, 0);

    if (cache == NULL || cln == NULL) {
        return NULL;
    }
    cache->entries = sl_pcalloc(pool, max * sizeof(entry_t));
    if (cache->entries == NULL) {
        return NULL;
    }
    cache->max = max;
    cache->inactive = inactive;
    cache->valid = valid;
    cln->handler = cache_cleanup;
    cln->data = cache;
    (void) log;
    return cache;
}

static sl_int_t load_pair(const sl_str_t *cert, const sl_str_t *key, sl_array_t *passwords,
                          sl_log_t *log, pair_t *p)
{
    p->cert = sl__ssl_read_certificate(SL_LOG_ERR, log, cert, &p->chain);
    if (p->cert == NULL) {
        return SL_ERROR;
    }
    p->key = sl__ssl_read_key(SL_LOG_ERR, log, key, passwords);
    if (p->key == NULL) {
        pair_free(p);
        return SL_ERROR;
    }
    return SL_OK;
}

/* The entry named name, or NULL.  Entries unused for too long are dropped on the way, and
 * *slot gets where a new one goes (a free slot, else the least recently used). */
static entry_t *lookup(sl_ssl_cert_cache_t *cache, const char *name, size_t len, entry_t **slot)
{
    time_t now = sl_cached_time_sec;
    entry_t *found = NULL, *free_slot = NULL, *oldest = NULL;

    for (sl_uint_t i = 0; i < cache->max; i++) {
        entry_t *e = &cache->entries[i];
        if (e->name && now - e->used > cache->inactive) {
            entry_clear(e);
        }
        if (e->name == NULL) {
            free_slot = free_slot ? free_slot : e;
            continue;
        }
        if (e->name_len == len && memcmp(e->name, name, len) == 0) {
            found = e;
        } else if (oldest == NULL || e->tick < oldest->tick) {
            oldest = e;
        }
    }
    *slot = found ? found : free_slot ? free_slot : oldest;
    return found;
}

/* The pair of cert and key from cache, loading it when missing or stale.  The pair's
 * references belong to the cache; SL_OK or SL_ERROR (logged). */
static sl_int_t cached_pair(sl_ssl_cert_cache_t *cache, const sl_str_t *cert, const sl_str_t *key,
                            sl_array_t *passwords, sl_log_t *log, pair_t *out)
{
    size_t len = cert->len + 1 + key->len;
    char *name = malloc(len);

    if (name == NULL) {
        sl_log_error(SL_LOG_ALERT, log, errno, "malloc() failed");
        return SL_ERROR;
    }
    memcpy(name, cert->data, cert->len);
    name[cert->len] = '\0';
    memcpy(name + cert->len + 1, key->data, key->len);

    entry_t *slot;
    entry_t *e = lookup(cache, name, len, &slot);
    if (e && sl_cached_time_sec - e->loaded <= cache->valid) {
        free(name);
        e->used = sl_cached_time_sec;
        e->tick = ++cache->ticks;
        *out = (pair_t){ e->cert, e->chain, e->key };
        return SL_OK;
    }
    pair_t p = { NULL, NULL, NULL };
    if (load_pair(cert, key, passwords, log, &p) != SL_OK) {
        free(name);
        if (e) {
            entry_clear(e);
        }
        return SL_ERROR;
    }
    entry_clear(slot);
    *slot = (entry_t){ .name = name,
                       .name_len = len,
                       .cert = p.cert,
                       .chain = p.chain,
                       .key = p.key,
                       .loaded = sl_cached_time_sec,
                       .used = sl_cached_time_sec,
                       .tick = ++cache->ticks };
    *out = p;
    return SL_OK;
}

sl_int_t sl_ssl_use_certificate(SSL *ssl_conn, sl_ssl_cert_cache_t *cache, const sl_str_t *cert,
                                const sl_str_t *key, sl_array_t *passwords, sl_log_t *log)
{
    pair_t p = { NULL, NULL, NULL };
    int owned = cache == NULL || cache->max == 0;

    if (owned ? load_pair(cert, key, passwords, log, &p)
              : cached_pair(cache, cert, key, passwords, log, &p)) {
        return SL_ERROR;
    }
    /* the SSL takes its own references (override: RSA and ECDSA pairs fill their slots) */
    int ok = SSL_use_cert_and_key(ssl_conn, p.cert, p.key, p.chain, 1);
    if (owned) {
        pair_free(&p);
    }
    if (ok != 1) {
        char msg[PATH_MAX + 80];
        int n = cert->len > PATH_MAX ? PATH_MAX : (int) cert->len;
        snprintf(msg, sizeof(msg), "SSL_use_cert_and_key(\"%.*s\") failed", n, (char *) cert->data);
        sl_ssl_error(SL_LOG_ERR, log, 0, msg);
        return SL_ERROR;
    }
    return SL_OK;
}
