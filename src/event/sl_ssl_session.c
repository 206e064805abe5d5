/*
 * sl_ssl_session.c: resuming TLS sessions.  "builtin" is OpenSSL's cache, per process;
 * "shared" is a cache in shared memory that every worker sees, on the slab allocator the
 * upstream zones use: sessions are kept serialized (DER) with their expiry, in hash buckets
 * by session id and in one queue oldest first, so a full cache drops its oldest sessions
 * to make room, as nginx's does.  Ticket keys (ssl_session_ticket_key) are read from files:
 * the first key encrypts new tickets, every key decrypts, which is how keys rotate.
 */
#include <openssl/core_names.h>
#include <openssl/rand.h>
#include <stdio.h>

#include "sl_pool.h"
#include "sl_queue.h"
#include "sl_shm.h"
#include "sl_slab.h"
#include "sl_ssl.h"

#define BUCKETS 256
/* the largest session kept in the shared cache (a client certificate makes them big) */
#define MAX_SESSION_DER 4096

/* A ticket key: from a file, 48 bytes (AES-128) or 80 (AES-256), as nginx reads them; or
 * made by a worker (AES-256) and kept in a shared cache. */
typedef struct {
    u_char name[16];
    u_char hmac_key[32];
    u_char aes_key[32];
    size_t size;
} ticket_key_t;

/* The ticket keys made for the servers of a shared cache, newest first: the first seals
 * tickets until it expires, then gives way to a new one; each opens tickets until its
 * expiry plus the session timeout (the longest a ticket it sealed lives). */
#define TICKET_KEYS 3

typedef struct {
    /** oldest first */
    sl_queue_t expire;
    sl_queue_t buckets[BUCKETS];
    ticket_key_t ticket_keys[TICKET_KEYS];
    time_t ticket_expires[TICKET_KEYS];
    sl_uint_t nticket_keys;
} shared_t;

typedef struct {
    sl_queue_t bucket;
    sl_queue_t expire;
    time_t expires;
    unsigned id_len;
    u_char id[SSL_MAX_SSL_SESSION_ID_LENGTH];
    size_t der_len;
    u_char der[];
} entry_t;

/*
 * A cache lives as long as some configuration names it: a reload that keeps the name and
 * the size keeps the mapping (and its sessions), which the new workers inherit at the same
 * address.  The records are the process's (malloc), counted by the cycles using them.
 */
struct sl_ssl_session_cache_s {
    /** the name's bytes follow the record */
    sl_str_t name;
    sl_shm_t shm;
    sl_slab_pool_t *pool;
    shared_t *sh;
    sl_uint_t refs;
    sl_ssl_session_cache_t *next;
};

static sl_ssl_session_cache_t *caches;
static int cache_index = -1;

static void release_cache(void *data)
{
    sl_ssl_session_cache_t *cache = data;

    if (--cache->refs > 0) {
        return;
    }
    for (sl_ssl_session_cache_t **p = &caches; *p; p = &(*p)->next) {
        if (*p == cache) {
            *p = cache->next;
            break;
        }
    }
    sl_shm_free(&cache->shm);
    free(cache);
}

static sl_ssl_session_cache_t *kept_cache(const sl_str_t *name, size_t size)
{
    for (sl_ssl_session_cache_t *c = caches; c; c = c->next) {
        if (sl_str_eq(&c->name, name) && c->shm.size == size) {
            return c;
        }
    }
    return NULL;
}

/* A new cache of that name: mapped, its slab pool and its lists laid out.  NULL after
 * logging. */
static sl_ssl_session_cache_t *new_cache(sl_log_t *log, const sl_str_t *name, size_t size)
{
    sl_ssl_session_cache_t *cache = calloc(1, sizeof(sl_ssl_session_cache_t) + name->len + 1);

    if (cache == NULL) {
        sl_log_error(SL_LOG_EMERG, log, errno, "calloc() failed");
        return NULL;
    }
    cache->name.data = (u_char *) (cache + 1);
    cache->name.len = name->len;
    memcpy(cache->name.data, name->data, name->len);
    cache->shm.size = size;
    cache->shm.name = cache->name;
    cache->shm.log = log;
    if (sl_shm_alloc(&cache->shm) != SL_OK) {
        free(cache);
        return NULL;
    }
    cache->pool = sl_slab_init(cache->shm.addr, cache->shm.size);
    cache->shm.slab = cache->pool != NULL;
    cache->sh = cache->pool ? sl_slab_calloc(cache->pool, sizeof(shared_t)) : NULL;
    if (cache->sh == NULL) {
        sl_log_error(SL_LOG_EMERG, log, 0,
                     "could not allocate memory from shared memory zone \"%.*s\"",
                     SL_STR_ARG(*name));
        sl_shm_free(&cache->shm);
        free(cache);
        return NULL;
    }
    sl_queue_init(&cache->sh->expire);
    for (sl_uint_t i = 0; i < BUCKETS; i++) {
        sl_queue_init(&cache->sh->buckets[i]);
    }
    cache->next = caches;
    caches = cache;
    return cache;
}

sl_ssl_session_cache_t *sl_ssl_session_cache_create(sl_pool_t *pool, sl_log_t *log,
                                                    const sl_str_t *name, size_t size)
{
    sl_pool_cleanup_t *cln = sl_pool_cleanup_add(pool, 0);

    if (cln == NULL) {
        return NULL;
    }
    sl_ssl_session_cache_t *cache = kept_cache(name, size);
    if (cache == NULL && (cache = new_cache(log, name, size)) == NULL) {
        return NULL;
    }
    cache->refs++;
    cln->handler = release_cache;
    cln->data = cache;
    return cache;
}

static sl_uint_t bucket_of(const u_char *id, unsigned len)
{
    uint32_t h = 2166136261u;

    for (unsigned i = 0; i < len; i++) {
        h = (h ^ id[i]) * 16777619u;
    }
    return h % BUCKETS;
}

static void drop_locked(sl_ssl_session_cache_t *cache, entry_t *e)
{
    sl_queue_remove(&e->bucket);
    sl_queue_remove(&e->expire);
    sl_slab_free_locked(cache->pool, e);
}

/* Drops expired sessions, at most n of them (bounded work under the lock); with force,
 * the oldest one even if alive.  Whether anything went. */
static int expire_locked(sl_ssl_session_cache_t *cache, int n, int force)
{
    int dropped = 0;

    while (n-- > 0 && !sl_queue_empty(&cache->sh->expire)) {
        entry_t *e = sl_queue_data(sl_queue_head(&cache->sh->expire), entry_t, expire);
        if (!force && e->expires > sl_cached_time_sec) {
            break;
        }
        drop_locked(cache, e);
        dropped = 1;
        force = 0;
    }
    return dropped;
}

static entry_t *find_locked(sl_ssl_session_cache_t *cache, const u_char *id, unsigned len)
{
    sl_queue_t *head = &cache->sh->buckets[bucket_of(id, len)];

    for (sl_queue_t *q = sl_queue_head(head); q != sl_queue_sentinel(head); q = sl_queue_next(q)) {
        entry_t *e = sl_queue_data(q, entry_t, bucket);
        if (e->id_len == len && memcmp(e->id, id, len) == 0) {
            return e;
        }
    }
    return NULL;
}

static sl_ssl_session_cache_t *cache_of(SSL_CTX *ctx)
{
    return SSL_CTX_get_ex_data(ctx, cache_index);
}

/* The context sessions and tickets belong to: the one the connection started with, which
 * SNI's choice of another server{} does not change (OpenSSL calls its callbacks). */
static SSL_CTX *session_ctx_of(SSL *s)
{
    sl_connection_t *c = SSL_get_ex_data(s, sl_ssl_connection_index);

    return c && c->ssl ? c->ssl->session_ctx : SSL_get_SSL_CTX(s);
}

sl_int_t sl__ssl_shared_put(sl_ssl_session_cache_t *cache, const u_char *id, unsigned id_len,
                            const u_char *data, size_t len, time_t expires)
{
    if (id_len > SSL_MAX_SSL_SESSION_ID_LENGTH) {
        return SL_ERROR;
    }
    sl_slab_lock(cache->pool);
    expire_locked(cache, 2, 0);
    entry_t *old = find_locked(cache, id, id_len);
    if (old) {
        drop_locked(cache, old);
    }
    entry_t *e = sl_slab_alloc_locked(cache->pool, sizeof(entry_t) + len);
    /* full: the oldest entries make room, a few at most */
    for (int i = 0; e == NULL && i < 8 && expire_locked(cache, 1, 1); i++) {
        e = sl_slab_alloc_locked(cache->pool, sizeof(entry_t) + len);
    }
    if (e) {
        e->id_len = id_len;
        memcpy(e->id, id, id_len);
        e->der_len = len;
        memcpy(e->der, data, len);
        e->expires = expires;
        sl_queue_insert_tail(&cache->sh->buckets[bucket_of(id, id_len)], &e->bucket);
        sl_queue_insert_tail(&cache->sh->expire, &e->expire);
    }
    sl_slab_unlock(cache->pool);
    return e ? SL_OK : SL_ERROR;
}

size_t sl__ssl_shared_get(sl_ssl_session_cache_t *cache, const u_char *id, unsigned id_len,
                          u_char *buf, size_t size)
{
    size_t len = 0;

    if (id_len > SSL_MAX_SSL_SESSION_ID_LENGTH) {
        return 0;
    }
    sl_slab_lock(cache->pool);
    entry_t *e = find_locked(cache, id, id_len);
    if (e && e->expires <= sl_cached_time_sec) {
        drop_locked(cache, e);
        e = NULL;
    }
    if (e && e->der_len <= size) {
        len = e->der_len;
        memcpy(buf, e->der, len);
    }
    sl_slab_unlock(cache->pool);
    return len;
}

static int new_session(SSL *ssl, SSL_SESSION *sess)
{
    sl_ssl_session_cache_t *cache = cache_of(session_ctx_of(ssl));
    u_char der[MAX_SESSION_DER];
    unsigned id_len;

    int len = i2d_SSL_SESSION(sess, NULL);
    if (cache == NULL || len <= 0 || len > MAX_SESSION_DER) {
        return 0;
    }
    u_char *p = der;
    i2d_SSL_SESSION(sess, &p);
    const u_char *id = SSL_SESSION_get_id(sess, &id_len);
    (void) sl__ssl_shared_put(cache, id, id_len, der, (size_t) len,
                              sl_cached_time_sec + (time_t) SSL_SESSION_get_timeout(sess));
    /* the cache keeps a copy, not the session */
    return 0;
}

static SSL_SESSION *get_session(SSL *ssl, const unsigned char *id, int len, int *copy)
{
    sl_ssl_session_cache_t *cache = cache_of(session_ctx_of(ssl));
    u_char der[MAX_SESSION_DER];

    *copy = 0;
    if (cache == NULL || len <= 0) {
        return NULL;
    }
    size_t der_len = sl__ssl_shared_get(cache, id, (unsigned) len, der, sizeof(der));
    if (der_len == 0) {
        return NULL;
    }
    const u_char *p = der;
    return d2i_SSL_SESSION(NULL, &p, (long) der_len);
}

static void remove_session(SSL_CTX *ctx, SSL_SESSION *sess)
{
    sl_ssl_session_cache_t *cache = cache_of(ctx);
    unsigned id_len;

    if (cache == NULL) {
        return;
    }
    const u_char *id = SSL_SESSION_get_id(sess, &id_len);
    sl_slab_lock(cache->pool);
    entry_t *e = find_locked(cache, id, id_len);
    if (e) {
        drop_locked(cache, e);
    }
    sl_slab_unlock(cache->pool);
}

sl_int_t sl_ssl_session_cache(sl_ssl_t *ssl, const sl_str_t *sess_ctx, ssize_t builtin,
                              sl_ssl_session_cache_t *shared, time_t timeout)
{
    u_char md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;

    /* the context a session belongs to: the server's certificate names it, as nginx, so
     * a session is only resumed by the server{} that made it */
    if (!EVP_Digest(sess_ctx->data, sess_ctx->len, md, &md_len, EVP_sha1(), NULL)
        || !SSL_CTX_set_session_id_context(ssl->ctx, md, sl_min(md_len, 32u))) {
        sl_ssl_error(SL_LOG_EMERG, ssl->log, 0, "SSL_CTX_set_session_id_context() failed");
        return SL_ERROR;
    }
    SSL_CTX_set_timeout(ssl->ctx, (long) timeout);
    if (builtin == 0 && shared == NULL) {
        SSL_CTX_set_session_cache_mode(ssl->ctx, SSL_SESS_CACHE_OFF);
        return SL_OK;
    }
    long mode = SSL_SESS_CACHE_SERVER;
    if (builtin < 0) {
        /* "none" or only shared: nothing kept per process */
        mode |= SSL_SESS_CACHE_NO_INTERNAL;
    } else {
        SSL_CTX_sess_set_cache_size(ssl->ctx, (long) builtin);
    }
    SSL_CTX_set_session_cache_mode(ssl->ctx, mode);
    if (shared) {
        if (cache_index == -1) {
            cache_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
        }
        if (cache_index == -1 || SSL_CTX_set_ex_data(ssl->ctx, cache_index, shared) == 0) {
            sl_ssl_error(SL_LOG_EMERG, ssl->log, 0, "SSL_CTX_set_ex_data() failed");
            return SL_ERROR;
        }
        SSL_CTX_sess_set_new_cb(ssl->ctx, new_session);
        SSL_CTX_sess_set_get_cb(ssl->ctx, get_session);
        SSL_CTX_sess_set_remove_cb(ssl->ctx, remove_session);
    }
    return SL_OK;
}

typedef struct {
    ticket_key_t *keys;
    sl_uint_t n;
} ticket_keys_t;

static int ticket_keys_index = -1;

static void free_ticket_keys(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                             void *argp)
{
    ticket_keys_t *tk = ptr;

    if (tk) {
        OPENSSL_cleanse(tk->keys, tk->n * sizeof(ticket_key_t));
        free(tk->keys);
        free(tk);
    }
}

/* Sets up the ticket's cipher and MAC with key.  1, or -1 on failure. */
static int ticket_crypto(const ticket_key_t *key, unsigned char *iv, EVP_CIPHER_CTX *ectx,
                         EVP_MAC_CTX *hctx, int enc)
{
    OSSL_PARAM params[2];
    int aes256 = key->size == 80;
    const EVP_CIPHER *cipher = aes256 ? EVP_aes_256_cbc() : EVP_aes_128_cbc();
    size_t hmac_len = aes256 ? 32 : 16;

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (!EVP_MAC_CTX_set_params(hctx, params)) {
        return -1;
    }
    if (enc) {
        if (!EVP_EncryptInit_ex(ectx, cipher, NULL, key->aes_key, iv)
            || !EVP_MAC_init(hctx, key->hmac_key, hmac_len, NULL)) {
            return -1;
        }
        return 1;
    }
    if (!EVP_MAC_init(hctx, key->hmac_key, hmac_len, NULL)
        || !EVP_DecryptInit_ex(ectx, cipher, NULL, key->aes_key, iv)) {
        return -1;
    }
    return 1;
}

static int ticket_callback(SSL *s, unsigned char *name, unsigned char *iv, EVP_CIPHER_CTX *ectx,
                           EVP_MAC_CTX *hctx, int enc)
{
    ticket_keys_t *tk = SSL_CTX_get_ex_data(session_ctx_of(s), ticket_keys_index);
    sl_uint_t i = 0;

    if (tk == NULL || tk->n == 0) {
        return -1;
    }
    if (enc) {
        if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1) {
            return -1;
        }
        memcpy(name, tk->keys[0].name, 16);
    } else {
        while (i < tk->n && memcmp(name, tk->keys[i].name, 16) != 0) {
            i++;
        }
        if (i == tk->n) {
            /* an unknown key: a full handshake, and a new ticket */
            return 0;
        }
    }
    if (ticket_crypto(&tk->keys[i], iv, ectx, hctx, enc) != 1) {
        return -1;
    }
    /* an older key still decrypts, but the client gets a ticket under the new one */
    return enc || i == 0 ? 1 : 2;
}

/* ---- ticket keys made and rotated in a shared cache (nginx 1.23.2+) ---- */

typedef struct {
    sl_ssl_session_cache_t *cache;
    time_t timeout;
} rotation_t;

static int rotation_index = -1;

static void free_rotation(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                          void *argp)
{
    free(ptr);
}

/* The sealing key, a new one when there is none or it has expired (the older ones move
 * down).  SL_OK, or SL_ERROR (no randomness). */
static sl_int_t current_key_locked(shared_t *sh, time_t timeout)
{
    time_t now = sl_cached_time_sec;

    if (sh->nticket_keys > 0 && now < sh->ticket_expires[0]) {
        return SL_OK;
    }
    ticket_key_t key;
    key.size = 80;
    if (RAND_bytes(key.name, sizeof(key.name)) != 1
        || RAND_bytes(key.hmac_key, sizeof(key.hmac_key)) != 1
        || RAND_bytes(key.aes_key, sizeof(key.aes_key)) != 1) {
        OPENSSL_cleanse(&key, sizeof(key));
        return SL_ERROR;
    }
    memmove(&sh->ticket_keys[1], &sh->ticket_keys[0], (TICKET_KEYS - 1) * sizeof(ticket_key_t));
    memmove(&sh->ticket_expires[1], &sh->ticket_expires[0], (TICKET_KEYS - 1) * sizeof(time_t));
    sh->ticket_keys[0] = key;
    sh->ticket_expires[0] = now + (timeout > 0 ? timeout : 1);
    sh->nticket_keys = sl_min(sh->nticket_keys + 1, (sl_uint_t) TICKET_KEYS);
    OPENSSL_cleanse(&key, sizeof(key));
    return SL_OK;
}

/* Copies the key that seals (enc) or the one named name into *key.  Its position (0: the
 * sealing one), or -1 for none. */
static int shared_ticket_key(rotation_t *rot, const u_char *name, int enc, ticket_key_t *key)
{
    sl_ssl_session_cache_t *cache = rot->cache;
    shared_t *sh = cache->sh;
    int found = -1;

    sl_slab_lock(cache->pool);
    if (enc) {
        if (current_key_locked(sh, rot->timeout) == SL_OK) {
            found = 0;
        }
    } else {
        for (sl_uint_t i = 0; i < sh->nticket_keys; i++) {
            if (memcmp(name, sh->ticket_keys[i].name, 16) == 0
                && sl_cached_time_sec < sh->ticket_expires[i] + rot->timeout) {
                found = (int) i;
                break;
            }
        }
    }
    if (found >= 0) {
        *key = sh->ticket_keys[found];
        /* the sealing key may have expired since (no ticket sealed yet): renew with it */
        if (!enc && found == 0 && sl_cached_time_sec >= sh->ticket_expires[0]) {
            found = 1;
        }
    }
    sl_slab_unlock(cache->pool);
    return found;
}

static int rotating_ticket_callback(SSL *s, unsigned char *name, unsigned char *iv,
                                    EVP_CIPHER_CTX *ectx, EVP_MAC_CTX *hctx, int enc)
{
    rotation_t *rot = SSL_CTX_get_ex_data(session_ctx_of(s), rotation_index);
    ticket_key_t key;

    if (rot == NULL) {
        return -1;
    }
    int i = shared_ticket_key(rot, name, enc, &key);
    if (i < 0) {
        /* enc: no key could be made; else an unknown or retired key: a full handshake */
        return enc ? -1 : 0;
    }
    if (enc) {
        memcpy(name, key.name, 16);
        if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1) {
            OPENSSL_cleanse(&key, sizeof(key));
            return -1;
        }
    }
    int rc = ticket_crypto(&key, iv, ectx, hctx, enc);
    OPENSSL_cleanse(&key, sizeof(key));
    if (rc != 1) {
        return -1;
    }
    return enc || i == 0 ? 1 : 2;
}

sl_int_t sl_ssl_session_ticket_rotation(sl_ssl_t *ssl, sl_ssl_session_cache_t *cache,
                                        time_t timeout)
{
    if (rotation_index == -1) {
        rotation_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_rotation);
        if (rotation_index == -1) {
            sl_ssl_error(SL_LOG_EMERG, ssl->log, 0, "SSL_CTX_get_ex_new_index() failed");
            return SL_ERROR;
        }
    }
    rotation_t *rot = calloc(1, sizeof(rotation_t));
    if (rot == NULL || SSL_CTX_set_ex_data(ssl->ctx, rotation_index, rot) == 0) {
        free(rot);
        sl_ssl_error(SL_LOG_EMERG, ssl->log, 0, "SSL_CTX_set_ex_data() failed");
        return SL_ERROR;
    }
    rot->cache = cache;
    rot->timeout = timeout;
    if (SSL_CTX_set_tlsext_ticket_key_evp_cb(ssl->ctx, rotating_ticket_callback) == 0) {
        sl_ssl_error(SL_LOG_EMERG, ssl->log, 0, "SSL_CTX_set_tlsext_ticket_key_evp_cb() failed");
        return SL_ERROR;
    }
    return SL_OK;
}

static sl_int_t read_ticket_key(sl_ssl_t *ssl, const sl_str_t *file, ticket_key_t *key)
{
    u_char buf[81];
    FILE *f = fopen((char *) file->data, "r");

    if (f == NULL) {
        sl_log_error(SL_LOG_EMERG, ssl->log, errno, "open() \"%s\" failed", (char *) file->data);
        return SL_ERROR;
    }
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    if (n != 48 && n != 80) {
        sl_log_error(SL_LOG_EMERG, ssl->log, 0, "\"%s\" must be 80 or 48 bytes",
                     (char *) file->data);
        return SL_ERROR;
    }
    key->size = n;
    memcpy(key->name, buf, 16);
    if (n == 80) {
        memcpy(key->hmac_key, buf + 16, 32);
        memcpy(key->aes_key, buf + 48, 32);
    } else {
        memcpy(key->hmac_key, buf + 16, 16);
        memcpy(key->aes_key, buf + 32, 16);
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    return SL_OK;
}

sl_int_t sl_ssl_session_tickets(sl_ssl_t *ssl, int enable, sl_array_t *keys)
{
    if (!enable) {
        SSL_CTX_set_options(ssl->ctx, SSL_OP_NO_TICKET);
        return SL_OK;
    }
    if (keys == NULL || keys->nelts == 0) {
        return SL_OK;
    }
    if (ticket_keys_index == -1) {
        ticket_keys_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_ticket_keys);
        if (ticket_keys_index == -1) {
            sl_ssl_error(SL_LOG_EMERG, ssl->log, 0, "SSL_CTX_get_ex_new_index() failed");
            return SL_ERROR;
        }
    }
    ticket_keys_t *tk = calloc(1, sizeof(ticket_keys_t));
    if (tk == NULL || (tk->keys = calloc(keys->nelts, sizeof(ticket_key_t))) == NULL) {
        free(tk);
        return SL_ERROR;
    }
    /* the context frees them (free_ticket_keys) from here on */
    if (SSL_CTX_set_ex_data(ssl->ctx, ticket_keys_index, tk) == 0) {
        free(tk->keys);
        free(tk);
        return SL_ERROR;
    }
    sl_str_t *file = keys->elts;
    for (sl_uint_t i = 0; i < keys->nelts; i++) {
        if (read_ticket_key(ssl, &file[i], &tk->keys[i]) != SL_OK) {
            return SL_ERROR;
        }
        tk->n++;
    }
    if (SSL_CTX_set_tlsext_ticket_key_evp_cb(ssl->ctx, ticket_callback) == 0) {
        sl_ssl_error(SL_LOG_EMERG, ssl->log, 0, "SSL_CTX_set_tlsext_ticket_key_evp_cb() failed");
        return SL_ERROR;
    }
    return SL_OK;
}

/* ---- client sessions: one per peer address, for connections we make ---- */

#define CLIENT_SESSIONS 64

typedef struct {
    sl_sockaddr_t addr;
    socklen_t socklen;
    SSL_SESSION *session;
} client_session_t;

typedef struct {
    client_session_t slot[CLIENT_SESSIONS];
    sl_uint_t next;
} client_sessions_t;

static int client_sessions_index = -1;

static void free_client_sessions(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                                 void *argp)
{
    client_sessions_t *cs = ptr;

    if (cs == NULL) {
        return;
    }
    for (sl_uint_t i = 0; i < CLIENT_SESSIONS; i++) {
        SSL_SESSION_free(cs->slot[i].session);
    }
    free(cs);
}

static client_session_t *client_slot(client_sessions_t *cs, sl_connection_t *c, int create)
{
    for (sl_uint_t i = 0; i < CLIENT_SESSIONS; i++) {
        client_session_t *s = &cs->slot[i];
        if (s->socklen == c->socklen && memcmp(&s->addr, &c->sockaddr, c->socklen) == 0) {
            return s;
        }
    }
    if (!create) {
        return NULL;
    }
    /* a new peer takes the oldest slot */
    client_session_t *s = &cs->slot[cs->next++ % CLIENT_SESSIONS];
    SSL_SESSION_free(s->session);
    s->session = NULL;
    memcpy(&s->addr, &c->sockaddr, c->socklen);
    s->socklen = c->socklen;
    return s;
}

/* A session (a TLSv1.3 ticket comes after the handshake) for the peer: kept for the next
 * connection to it. */
static int new_client_session(SSL *ssl_conn, SSL_SESSION *sess)
{
    sl_connection_t *c = SSL_get_ex_data(ssl_conn, sl_ssl_connection_index);
    client_sessions_t *cs = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl_conn), client_sessions_index);

    if (c && c->ssl && c->ssl->save_session) {
        c->ssl->save_session(c->ssl->session_store, c->ssl->session_slot, sess);
        return 0;
    }
    if (c == NULL || cs == NULL || c->socklen == 0) {
        return 0;
    }
    client_session_t *s = client_slot(cs, c, 1);
    SSL_SESSION_free(s->session);
    /* returning 1: the reference OpenSSL gave is ours now */
    s->session = sess;
    return 1;
}

sl_int_t sl_ssl_client_session_cache(sl_ssl_t *ssl)
{
    if (client_sessions_index == -1) {
        client_sessions_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_client_sessions);
        if (client_sessions_index == -1) {
            sl_ssl_error(SL_LOG_EMERG, ssl->log, 0, "SSL_CTX_get_ex_new_index() failed");
            return SL_ERROR;
        }
    }
    client_sessions_t *cs = calloc(1, sizeof(client_sessions_t));
    if (cs == NULL || SSL_CTX_set_ex_data(ssl->ctx, client_sessions_index, cs) == 0) {
        free(cs);
        return SL_ERROR;
    }
    SSL_CTX_set_session_cache_mode(ssl->ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(ssl->ctx, new_client_session);
    return SL_OK;
}

sl_int_t sl_ssl_reuse_client_session(sl_connection_t *c)
{
    SSL *ssl_conn = c->ssl->connection;
    client_sessions_t *cs = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl_conn), client_sessions_index);
    client_session_t *s = cs ? client_slot(cs, c, 0) : NULL;

    if (s == NULL || s->session == NULL) {
        return SL_OK;
    }
    if (SSL_set_session(ssl_conn, s->session) == 0) {
        sl_ssl_error(SL_LOG_ALERT, c->log, 0, "SSL_set_session() failed");
        return SL_ERROR;
    }
    return SL_OK;
}
