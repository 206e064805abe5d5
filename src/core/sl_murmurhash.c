/*
 * sl_murmurhash.c: MurmurHash2 by Austin Appleby (public domain), 32-bit, seed 0, the
 * trailing bytes read as little-endian, as every implementation of it (nginx's included).
 */
#include "sl_murmurhash.h"

#define M 0x5bd1e995u

uint32_t sl_murmur_hash2(const u_char *data, size_t len)
{
    uint32_t h = (uint32_t) len;

    for (; len >= 4; data += 4, len -= 4) {
        uint32_t k = (uint32_t) data[0] | (uint32_t) data[1] << 8 | (uint32_t) data[2] << 16
                     | (uint32_t) data[3] << 24;
        k *= M;
        k ^= k >> 24;
        k *= M;
        h *= M;
        h ^= k;
    }
    switch (len) {
    case 3:
        h ^= (uint32_t) data[2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t) data[1] << 8;
        /* fall through */
    case 1:
        h ^= data[0];
        h *= M;
    }
    h ^= h >> 13;
    h *= M;
    h ^= h >> 15;
    return h;
}
