/*
 * sl_http_auth_basic_crypt.c: the password hashes auth_basic_user_file may hold.  The
 * digests are OpenSSL's, crypt(3) is libcrypt's (crypt_r on this worker's own state: a worker
 * has one thread); Apache's "$apr1$" variant of the MD5 crypt is not in libcrypt and is
 * built here on OpenSSL's MD5.  The digests are OpenSSL's low-level calls: see below.
 */
/* OpenSSL 3 keeps MD5_Init(), SHA1_Init() and friends but deprecates them; the MD5 crypt
 * calls MD5 1,002 times per check, and the EVP interface costs three times the digest
 * itself there (bench/limits.sh: 490 against 150 us per $apr1$ check). */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <crypt.h>
#include <openssl/evp.h>
#include <openssl/md5.h>
#include <openssl/sha.h>

#include "sl_http_auth_basic.h"
#include "sl_http_variables.h"
#include "sl_str.h"

#define APR1 "$apr1$"
#define APR1_LEN (sizeof(APR1) - 1)
#define SHA1_LEN 20

static u_char *prefixed(sl_pool_t *pool, const char *prefix, const u_char *s, size_t len)
{
    size_t plen = strlen(prefix);
    u_char *out = sl_pnalloc(pool, plen + len + 1);

    if (out) {
        memcpy(out, prefix, plen);
        memcpy(out + plen, s, len);
        out[plen + len] = '\0';
    }
    return out;
}

/* "{SHA}" base64(SHA-1(key)) or "{SSHA}" base64(SHA-1(key salt) salt), the salt taken from
 * the bytes after the first 20 of the stored value (none when it is shorter, as nginx). */
static sl_int_t sha_hash(sl_pool_t *pool, const u_char *key, const u_char *salt, int salted,
                         u_char **encrypted)
{
    const u_char *enc = salt + (salted ? 6 : 5);
    size_t enc_len = strlen((const char *) enc);
    size_t cap = enc_len * 3 / 4 + SHA1_LEN + 3;
    u_char *raw = sl_pnalloc(pool, cap), *b64 = sl_pnalloc(pool, cap * 4 / 3 + 8);
    size_t raw_len = SHA1_LEN;

    if (raw == NULL || b64 == NULL) {
        return SL_ERROR;
    }
    if (salted) {
        ssize_t n = sl_http_decode_base64(raw, enc, enc_len);
        raw_len = n < SHA1_LEN ? SHA1_LEN : (size_t) n;
    }
    SHA_CTX ctx;
    SHA1_Init(&ctx);
    SHA1_Update(&ctx, key, strlen((const char *) key));
    SHA1_Update(&ctx, raw + SHA1_LEN, raw_len - SHA1_LEN);
    SHA1_Final(raw, &ctx);
    int n = EVP_EncodeBlock(b64, raw, (int) raw_len);
    *encrypted = prefixed(pool, salted ? "{SSHA}" : "{SHA}", b64, (size_t) n);
    return *encrypted ? SL_OK : SL_ERROR;
}

/* One MD5 of up to three parts. */
static void md5_of(u_char *out, const void *a, size_t alen, const void *b, size_t blen,
                   const void *c, size_t clen)
{
    MD5_CTX ctx;

    MD5_Init(&ctx);
    MD5_Update(&ctx, a, alen);
    MD5_Update(&ctx, b, blen);
    MD5_Update(&ctx, c, clen);
    MD5_Final(out, &ctx);
}

/* The first digest of the MD5 crypt: key, magic, salt, then the alternate digest and the
 * bits of the key's length as the algorithm prescribes. */
static void apr1_start(u_char *final, const u_char *key, size_t klen, const u_char *salt,
                       size_t slen)
{
    static const u_char zero = 0;
    u_char alt[16];
    MD5_CTX ctx;

    md5_of(alt, key, klen, salt, slen, key, klen);
    MD5_Init(&ctx);
    MD5_Update(&ctx, key, klen);
    MD5_Update(&ctx, APR1, APR1_LEN);
    MD5_Update(&ctx, salt, slen);
    for (ssize_t left = (ssize_t) klen; left > 0; left -= 16) {
        MD5_Update(&ctx, alt, left > 16 ? 16 : (size_t) left);
    }
    for (size_t i = klen; i; i >>= 1) {
        MD5_Update(&ctx, (i & 1) ? &zero : key, 1);
    }
    MD5_Final(final, &ctx);
}

/* The thousand rounds that make the MD5 crypt slow. */
static void apr1_rounds(u_char *final, const u_char *key, size_t klen, const u_char *salt,
                        size_t slen)
{
    for (int i = 0; i < 1000; i++) {
        MD5_CTX ctx;
        MD5_Init(&ctx);
        if (i & 1) {
            MD5_Update(&ctx, key, klen);
        } else {
            MD5_Update(&ctx, final, 16);
        }
        if (i % 3) {
            MD5_Update(&ctx, salt, slen);
        }
        if (i % 7) {
            MD5_Update(&ctx, key, klen);
        }
        if (i & 1) {
            MD5_Update(&ctx, final, 16);
        } else {
            MD5_Update(&ctx, key, klen);
        }
        MD5_Final(final, &ctx);
    }
}

static u_char *to64(u_char *p, uint32_t v, int n)
{
    static const char itoa64[] = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    while (n--) {
        *p++ = (u_char) itoa64[v & 0x3f];
        v >>= 6;
    }
    return p;
}

/* "$apr1$SALT$HASH": the salt is up to 8 bytes, up to the next '$'. */
static sl_int_t apr1_hash(sl_pool_t *pool, const u_char *key, const u_char *salt,
                          u_char **encrypted)
{
    const u_char *s = salt + APR1_LEN;
    size_t slen = 0, klen = strlen((const char *) key);
    u_char final[16];

    while (slen < 8 && s[slen] && s[slen] != '$') {
        slen++;
    }
    u_char *out = sl_pnalloc(pool, APR1_LEN + slen + 1 + 22 + 1);

    if (out == NULL) {
        return SL_ERROR;
    }
    apr1_start(final, key, klen, s, slen);
    apr1_rounds(final, key, klen, s, slen);
    u_char *p = out;
    p = (u_char *) memcpy(p, APR1, APR1_LEN) + APR1_LEN;
    p = (u_char *) memcpy(p, s, slen) + slen;
    *p++ = '$';
    static const int order[5][3] = {
        { 0, 6, 12 }, { 1, 7, 13 }, { 2, 8, 14 }, { 3, 9, 15 }, { 4, 10, 5 }
    };
    for (int i = 0; i < 5; i++) {
        uint32_t v = (uint32_t) final[order[i][0]] << 16 | (uint32_t) final[order[i][1]] << 8
                     | final[order[i][2]];
        p = to64(p, v, 4);
    }
    p = to64(p, final[11], 2);
    *p = '\0';
    *encrypted = out;
    return SL_OK;
}

static sl_int_t libc_crypt(sl_pool_t *pool, sl_log_t *log, const u_char *key, const u_char *salt,
                           u_char **encrypted)
{
    static struct crypt_data data;
    const char *value = crypt_r((const char *) key, (const char *) salt, &data);

    if (value == NULL) {
        sl_log_error(SL_LOG_CRIT, log, errno, "crypt() failed");
        return SL_ERROR;
    }
    *encrypted = prefixed(pool, "", (const u_char *) value, strlen(value));
    return *encrypted ? SL_OK : SL_ERROR;
}

sl_int_t sl_http_auth_basic_crypt(sl_pool_t *pool, sl_log_t *log, const u_char *key,
                                  const u_char *salt, u_char **encrypted)
{
    if (strncmp((const char *) salt, APR1, APR1_LEN) == 0) {
        return apr1_hash(pool, key, salt, encrypted);
    }
    if (strncmp((const char *) salt, "{PLAIN}", 7) == 0) {
        *encrypted = prefixed(pool, "{PLAIN}", key, strlen((const char *) key));
        return *encrypted ? SL_OK : SL_ERROR;
    }
    if (strncmp((const char *) salt, "{SHA}", 5) == 0) {
        return sha_hash(pool, key, salt, 0, encrypted);
    }
    if (strncmp((const char *) salt, "{SSHA}", 6) == 0) {
        return sha_hash(pool, key, salt, 1, encrypted);
    }
    return libc_crypt(pool, log, key, salt, encrypted);
}
