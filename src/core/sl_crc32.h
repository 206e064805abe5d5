/*
 * sl_crc32.h: CRC-32 as IEEE 802.3, zlib and nginx compute it (reflected polynomial
 * 0xEDB88320, initial value and final xor 0xFFFFFFFF), so "hash $key" picks the same peer
 * as nginx does.  crc32("123456789") == 0xCBF43926.
 *
 * Incremental use:
 *
 *     uint32_t crc = sl_crc32_init();
 *     crc = sl_crc32_update(crc, part1, len1);
 *     crc = sl_crc32_update(crc, part2, len2);
 *     crc = sl_crc32_final(crc);
 */
#ifndef SL_CRC32_H
#define SL_CRC32_H

#include "sl_core.h"

static inline uint32_t sl_crc32_init(void)
{
    return 0xffffffff;
}

/* Folds len bytes into a running (not yet finalised) crc. */
uint32_t sl_crc32_update(uint32_t crc, const u_char *p, size_t len);

static inline uint32_t sl_crc32_final(uint32_t crc)
{
    return crc ^ 0xffffffff;
}

/* The CRC-32 of len bytes in one call. */
uint32_t sl_crc32(const u_char *p, size_t len);

#endif /* SL_CRC32_H */
