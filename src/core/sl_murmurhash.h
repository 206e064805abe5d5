/*
 * sl_murmurhash.h: MurmurHash2 (32 bits, seed 0), the hash nginx's split_clients spreads
 * clients with; the same input must land in the same bucket as under nginx.
 */
#ifndef SL_MURMURHASH_H
#define SL_MURMURHASH_H

#include "sl_core.h"

uint32_t sl_murmur_hash2(const u_char *data, size_t len);

#endif /* SL_MURMURHASH_H */
