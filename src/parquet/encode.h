/* encode.h — value encoders and compression for the Parquet writer:
 * RLE/bit-packed hybrid (definition levels, dictionary indices), bit-packed
 * booleans (PLAIN), DELTA_BINARY_PACKED integers, bit widths, and the page
 * compressor (ZSTD, SNAPPY, GZIP, UNCOMPRESSED). Writer side only (symbols pq_enc_ / pq_compress*); everything
 * appends to a capped sp_buf and never reads input it was not given. */
#ifndef SP_PARQUET_ENCODE_H
#define SP_PARQUET_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "../util/buf.h"
#include "../util/error.h"
#include "parquet.h"

/* Bits needed to store max_value (0 for 0). */
static inline int pq_enc_bit_width(uint64_t max_value)
{
    return max_value ? 64 - __builtin_clzll(max_value) : 0;
}

/* RLE/bit-packed hybrid encoding of n values of bit_width 1..32, without a
 * length prefix (the caller adds the 4-byte prefix for v1 definition levels,
 * or the 1-byte bit width for dictionary indices). Runs of 8 or more equal
 * values become RLE runs; the rest is bit-packed in groups of 8, the last
 * group padded with zeros (readers stop at the page's value count). */
void pq_enc_rle_u32(sp_buf *out, const uint32_t *v, size_t n, int bit_width);
void pq_enc_rle_u8(sp_buf *out, const uint8_t *v, size_t n, int bit_width);

/* PLAIN booleans: one bit per value (0/1 bytes in), LSB first. */
void pq_enc_plain_bools(sp_buf *out, const uint8_t *v, size_t n);

/* DELTA_BINARY_PACKED (Encodings.md) of n INT32 (width 4) or INT64 (width 8)
 * values read from v as PLAIN little-endian bytes (n * width bytes, any
 * alignment): blocks of 128 deltas in 4 miniblocks of 32, each miniblock
 * bit-packed at its own width, the last miniblock zero-padded to 32 values and
 * unused miniblocks given width 0. Deltas wrap around in two's complement
 * within the physical type, so INT32 never needs more than 32 bits nor INT64
 * more than 64. n 0 gives the header alone. */
void pq_enc_delta(sp_buf *out, const uint8_t *v, size_t n, int width);

/* A page compressor. The codec context is created once and reused for every
 * page, so no allocation happens per page beyond the output buffer. */
typedef struct pq_compressor {
    pq_codec codec;
    int level;
    void *ctx; /* ZSTD_CCtx* or z_stream*; NULL for the others */
} pq_compressor;

/* level 0 = the codec's default (zstd 1, gzip 6; ignored by snappy).
 * Returns SP_ERR_UNSUPPORTED for codecs we do not write. */
int pq_compressor_init(pq_compressor *c, pq_codec codec, int level, sp_error *err);
void pq_compressor_free(pq_compressor *c);
/* True when c holds a context (ZSTD, GZIP) that pq_compressor_init(codec,
 * level) would configure the same way, so it may be used instead. */
bool pq_compressor_same(const pq_compressor *c, pq_codec codec, int level);

/* Append the compressed form of src[0..n) to dst (a plain copy for
 * UNCOMPRESSED). On failure dst's content beyond its old length is undefined
 * and err says why. */
int pq_compress(pq_compressor *c, const uint8_t *src, size_t n, sp_buf *dst,
                sp_error *err);

#endif
