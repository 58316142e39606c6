/* hash.h — the one byte-string hash of salespipe's hash tables (Parquet
 * dictionaries, the star's product map, the warehouse's key maps): 8 bytes
 * per step, well mixed in every bit, not cryptographic. */
#ifndef SP_HASH_H
#define SP_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t sp_hash_bytes(const void *data, size_t n)
{
    const uint8_t *p = data;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * 0xff51afd7ed558ccdull);
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        h = (h ^ v) * 0xc4ceb9fe1a85ec53ull;
        h ^= h >> 31;
        p += 8;
        n -= 8;
    }
    uint64_t v = 0;
    if (n)
        memcpy(&v, p, n);
    h = (h ^ v) * 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    return h;
}

#endif
