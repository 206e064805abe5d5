/*
 * sl_hash.c: the build-once exact-match table, and SipHash-2-4.
 */
#include <endian.h>

#include "sl_hash.h"
#include "sl_pool.h"

struct sl_hash_slot_s {
    /** the key's sl_hash_key(); compared before the bytes */
    sl_uint_t hash;
    size_t len;
    /** NULL marks an empty slot; keys are copied, so even "" has a pointer */
    u_char *name;
    void *value;
};

sl_uint_t sl_hash_key(const u_char *data, size_t len)
{
    sl_uint_t key = 0;

    for (size_t i = 0; i < len; i++) {
        key = sl_hash(key, data[i]);
    }
    return key;
}

sl_uint_t sl_hash_key_lc(const u_char *data, size_t len)
{
    sl_uint_t key = 0;

    for (size_t i = 0; i < len; i++) {
        key = sl_hash(key, sl_tolower(data[i]));
    }
    return key;
}

sl_uint_t sl_hash_strlow(u_char *dst, const u_char *src, size_t n)
{
    sl_uint_t key = 0;

    for (size_t i = 0; i < n; i++) {
        dst[i] = sl_tolower(src[i]);
        key = sl_hash(key, dst[i]);
    }
    return key;
}

/*
 * "hash * 31 + c" keeps short keys' differences in the low bits; a multiplicative mix
 * spreads them over the index bits before the mask.
 */
static sl_uint_t slot_index(sl_uint_t key_hash, sl_uint_t mask)
{
    uint64_t x = (uint64_t) key_hash * 0x9e3779b97f4a7c15ULL;

    return (sl_uint_t) (x >> 32) & mask;
}

static int slot_matches(const sl_hash_slot_t *s, int lowcase, sl_uint_t key_hash,
                        const u_char *name, size_t len)
{
    if (s->hash != key_hash || s->len != len) {
        return 0;
    }
    if (len == 0) {
        return 1;
    }
    if (lowcase) {
        return sl_strncasecmp(s->name, name, len) == 0;
    }
    return memcmp(s->name, name, len) == 0;
}

sl_int_t sl_hash_build(sl_hash_t *h, sl_pool_t *pool, const sl_hash_key_t *keys, sl_uint_t n,
                       sl_uint_t flags, sl_uint_t *dup)
{
    sl_uint_t size = 1;
    int lowcase = (flags & SL_HASH_LOWCASE) != 0;

    /* Half empty at most, so probe runs stay short and every lookup meets an empty slot. */
    while (size < 2 * n) {
        size <<= 1;
    }
    memset(h, 0, sizeof(*h));
    sl_hash_slot_t *slots = sl_pcalloc(pool, size * sizeof(sl_hash_slot_t));
    if (slots == NULL) {
        return SL_ERROR;
    }
    for (sl_uint_t i = 0; i < n; i++) {
        const sl_str_t *k = &keys[i].key;
        sl_uint_t key_hash =
            lowcase ? sl_hash_key_lc(k->data, k->len) : sl_hash_key(k->data, k->len);
        sl_uint_t j = slot_index(key_hash, size - 1);

        for (; slots[j].name; j = (j + 1) & (size - 1)) {
            if (slot_matches(&slots[j], lowcase, key_hash, k->data, k->len)) {
                if (dup) {
                    *dup = i;
                }
                return SL_BUSY;
            }
        }
        u_char *name = sl_pnalloc(pool, k->len + 1);
        if (name == NULL) {
            return SL_ERROR;
        }
        if (lowcase) {
            sl_strlow(name, k->data, k->len);
        } else if (k->len) {
            memcpy(name, k->data, k->len);
        }
        name[k->len] = '\0';
        slots[j].hash = key_hash;
        slots[j].len = k->len;
        slots[j].name = name;
        slots[j].value = keys[i].value;
    }
    h->_slots = slots;
    h->_mask = size - 1;
    h->nelts = n;
    h->lowcase = lowcase;
    return SL_OK;
}

void *sl_hash_find(const sl_hash_t *h, sl_uint_t key_hash, const u_char *name, size_t len)
{
    if (h->_slots == NULL) {
        return NULL;
    }
    for (sl_uint_t j = slot_index(key_hash, h->_mask);; j = (j + 1) & h->_mask) {
        const sl_hash_slot_t *s = &h->_slots[j];

        if (s->name == NULL) {
            return NULL;
        }
        if (slot_matches(s, h->lowcase, key_hash, name, len)) {
            return s->value;
        }
    }
}

void *sl_hash_find_str(const sl_hash_t *h, const sl_str_t *name)
{
    sl_uint_t key_hash =
        h->lowcase ? sl_hash_key_lc(name->data, name->len) : sl_hash_key(name->data, name->len);

    return sl_hash_find(h, key_hash, name->data, name->len);
}

/* SipHash-2-4, written from the specification (Aumasson, Bernstein, 2012). */

#define ROTL64(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

typedef struct {
    uint64_t v0, v1, v2, v3;
} sip_state_t;

static inline void sip_round(sip_state_t *s)
{
    s->v0 += s->v1;
    s->v1 = ROTL64(s->v1, 13);
    s->v1 ^= s->v0;
    s->v0 = ROTL64(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = ROTL64(s->v3, 16);
    s->v3 ^= s->v2;
    s->v0 += s->v3;
    s->v3 = ROTL64(s->v3, 21);
    s->v3 ^= s->v0;
    s->v2 += s->v1;
    s->v1 = ROTL64(s->v1, 17);
    s->v1 ^= s->v2;
    s->v2 = ROTL64(s->v2, 32);
}

static inline uint64_t load_le64(const u_char *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return le64toh(v);
}

/* Two compression rounds per 8-byte word. */
static inline void sip_compress(sip_state_t *s, uint64_t m)
{
    s->v3 ^= m;
    sip_round(s);
    sip_round(s);
    s->v0 ^= m;
}

uint64_t sl_siphash24(const u_char key[16], const u_char *data, size_t len)
{
    uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
    sip_state_t s = {
        k0 ^ 0x736f6d6570736575ULL,
        k1 ^ 0x646f72616e646f6dULL,
        k0 ^ 0x6c7967656e657261ULL,
        k1 ^ 0x7465646279746573ULL,
    };
    size_t whole = len & ~(size_t) 7, i;

    for (i = 0; i < whole; i += 8) {
        sip_compress(&s, load_le64(data + i));
    }
    /* The last word: the remaining bytes, and the length's low byte on top. */
    uint64_t last = (uint64_t) (len & 0xff) << 56;
    for (size_t k = 0; i + k < len; k++) {
        last |= (uint64_t) data[i + k] << (8 * k);
    }
    sip_compress(&s, last);

    s.v2 ^= 0xff;
    for (int r = 0; r < 4; r++) {
        sip_round(&s);
    }
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}
