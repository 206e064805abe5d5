/*
 * sl_hash.h: hashing.
 *
 * 1. sl_hash_t, a read-only table for exact lookups, built once at configuration time from
 *    an array of key/value pairs (header names, variable names, server names, mime types).
 *    Keys may be case-insensitive: they are lowercased at build, and lookups then ignore
 *    ASCII case.  The key hash is nginx's "hash * 31 + c", so a parser can compute it byte
 *    by byte with sl_hash() while it scans a name, and hand it to sl_hash_find().
 *
 *    The table never changes after the build, so a client choosing names cannot make it
 *    slower: a lookup touches at most the longest probe run fixed at build time.
 *
 *    Wildcard server names ("*.example.com", ".example.com", "www.example.*") are meant to
 *    come later as a separate sl_hash_wildcard_t built from the same sl_hash_key_t arrays,
 *    with an sl_hash_combined_t {exact, wildcard head, wildcard tail} and one find function
 *    trying exact first, as nginx splits them; nothing in sl_hash_t needs to change for it.
 *
 * 2. sl_siphash24(), a keyed hash for tables whose keys come from clients (anything that
 *    grows at run time), so nobody outside can predict the collisions.
 */
#ifndef SL_HASH_H
#define SL_HASH_H

#include "sl_core.h"
#include "sl_str.h"

/* One step of the key hash: folds byte c into key.  Start from 0. */
#define sl_hash(key, c) ((sl_uint_t) (key) *31 + (c))

/* A key/value pair to build a table from.  value must not be NULL (NULL means "absent"). */
typedef struct {
    sl_str_t key;
    void *value;
} sl_hash_key_t;

typedef struct sl_hash_slot_s sl_hash_slot_t;

typedef struct {
    /** open-addressed slots, a power of two, at most half used; private */
    sl_hash_slot_t *_slots;
    sl_uint_t _mask;
    /** number of keys */
    sl_uint_t nelts;
    /** keys were lowercased at build; lookups ignore ASCII case */
    unsigned lowcase : 1;
} sl_hash_t;

/* sl_hash_build() flags. */
#define SL_HASH_LOWCASE 0x01

/*
 * Builds h from n pairs; keys are copied (lowercased with SL_HASH_LOWCASE) into pool
 * memory, values are kept as given.  Returns:
 *   SL_OK    h is ready;
 *   SL_BUSY  two keys are equal (ignoring case with SL_HASH_LOWCASE); *dup, when dup is not
 *            NULL, is the index in keys of the second one; h is unusable;
 *   SL_ERROR pool exhaustion; h is unusable.
 * A zero-filled sl_hash_t, built or not, finds nothing.
 */
sl_int_t sl_hash_build(sl_hash_t *h, sl_pool_t *pool, const sl_hash_key_t *keys, sl_uint_t n,
                       sl_uint_t flags, sl_uint_t *dup);

/*
 * The value for name, or NULL.  key_hash must be sl_hash_key(name, len), or
 * sl_hash_key_lc(name, len) for a lowcase table (name itself may then be in any case).
 */
void *sl_hash_find(const sl_hash_t *h, sl_uint_t key_hash, const u_char *name, size_t len);
/* sl_hash_find() computing the right key hash itself. */
void *sl_hash_find_str(const sl_hash_t *h, const sl_str_t *name);

sl_uint_t sl_hash_key(const u_char *data, size_t len);
/* The key hash of the lowercased bytes. */
sl_uint_t sl_hash_key_lc(const u_char *data, size_t len);
/* Lowercases n bytes of src into dst and returns their key hash. */
sl_uint_t sl_hash_strlow(u_char *dst, const u_char *src, size_t n);

/*
 * SipHash-2-4 (Aumasson and Bernstein) of len bytes under a 16-byte secret key.  Use a key
 * drawn from a random source at start-up, and reduce the result to a bucket with a mask or
 * modulo as usual.
 */
uint64_t sl_siphash24(const u_char key[16], const u_char *data, size_t len);

#endif /* SL_HASH_H */
