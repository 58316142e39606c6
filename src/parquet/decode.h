/* decode.h — Parquet value decoders and decompression for the reader.
 * Sits between read.c (which finds pages and owns every buffer) and the raw
 * page bytes: levels, PLAIN, dictionary indices, DELTA_*, BYTE_STREAM_SPLIT,
 * and the codecs. Each function decodes exactly the count it is asked for,
 * never reads outside [p, p+len), and reports short or inconsistent input as
 * SP_ERR_CORRUPT with a message that read.c prefixes with file/column/page.
 * Nothing here allocates except through the caller's capped sp_buf. */
#ifndef SP_PARQUET_DECODE_H
#define SP_PARQUET_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "../util/buf.h"
#include "../util/error.h"
#include "parquet.h"

/* ---- RLE / bit-packed hybrid ----------------------------------------- */

/* Decode n values of bit_width (0..32) from hybrid runs (no length prefix). */
int pq_dec_hybrid_u32(const uint8_t *p, size_t len, int bit_width, uint32_t *out, size_t n,
                      sp_error *err);
/* Same into bytes; bit_width 0..8. Used for levels and RLE booleans. */
int pq_dec_hybrid_u8(const uint8_t *p, size_t len, int bit_width, uint8_t *out, size_t n,
                     sp_error *err);

/* Definition levels of a flat OPTIONAL column (max level 1) into valid[n]
 * (1 present, 0 NULL); *present receives the number of 1s.
 * _rle: hybrid bytes without length prefix (v1 callers strip the prefix).
 * _bitpacked: the deprecated BIT_PACKED encoding (MSB first). */
int pq_dec_def_levels_rle(const uint8_t *p, size_t len, uint8_t *valid, size_t n,
                          size_t *present, sp_error *err);
int pq_dec_def_levels_bitpacked(const uint8_t *p, size_t len, uint8_t *valid, size_t n,
                                size_t *present, size_t *used, sp_error *err);

/* ---- fixed-width values (dense, no NULL slots) ------------------------- */

/* PLAIN for INT32/INT64/FLOAT/DOUBLE (width 4 or 8): n*width bytes. */
int pq_dec_plain_fixed(const uint8_t *p, size_t len, size_t width, void *out, size_t n,
                       sp_error *err);
/* PLAIN BOOLEAN: one bit per value, LSB first. */
int pq_dec_plain_bool(const uint8_t *p, size_t len, uint8_t *out, size_t n, sp_error *err);
/* RLE BOOLEAN (data pages): 4-byte length prefix then hybrid, width 1. */
int pq_dec_rle_bool(const uint8_t *p, size_t len, uint8_t *out, size_t n, sp_error *err);
/* Dictionary indices: one bit-width byte then hybrid runs. */
int pq_dec_dict_indices(const uint8_t *p, size_t len, uint32_t *idx, size_t n, sp_error *err);
/* out[i] = dict[idx[i]] for width 1, 4, 8; an index >= dict_n is corrupt. */
int pq_dec_gather_fixed(const void *dict, size_t dict_n, size_t width, const uint32_t *idx,
                        void *out, size_t n, sp_error *err);
/* DELTA_BINARY_PACKED: exactly n values (the header must say n) into out;
 * *used receives the bytes consumed (for the DELTA_*_BYTE_ARRAY layouts). */
int pq_dec_delta(const uint8_t *p, size_t len, int64_t *out, size_t n, size_t *used,
                 sp_error *err);
/* BYTE_STREAM_SPLIT of n values of width bytes (width streams of n bytes). */
int pq_dec_byte_stream_split(const uint8_t *p, size_t len, size_t width, uint8_t *out, size_t n,
                             sp_error *err);

/* ---- variable-width values --------------------------------------------
 * Byte decoders append value bytes to `out` (its limit is the memory cap)
 * and write ends[i] = out->len after value i (the dense end offsets).
 * A total beyond UINT32_MAX or the buffer's limit is SP_ERR_LIMIT. */
int pq_dec_plain_bytes(const uint8_t *p, size_t len, size_t n, sp_buf *out, uint32_t *ends,
                       sp_error *err);
/* PLAIN FIXED_LEN_BYTE_ARRAY (and INT96 as 12-byte values). */
int pq_dec_plain_flba(const uint8_t *p, size_t len, size_t elem_len, size_t n, sp_buf *out,
                      uint32_t *ends, sp_error *err);
/* Dictionary values held as offsets[dict_n+1] into bytes. */
int pq_dec_gather_bytes(const uint32_t *dict_off, const uint8_t *dict_bytes, size_t dict_n,
                        const uint32_t *idx, size_t n, sp_buf *out, uint32_t *ends,
                        sp_error *err);
/* scratch holds n (DELTA_LENGTH) or 2n (DELTA_BYTE_ARRAY) int64 values.
 * elem_len > 0 requires every value to have that length (FLBA). */
int pq_dec_delta_length_bytes(const uint8_t *p, size_t len, size_t n, int64_t *scratch,
                              sp_buf *out, uint32_t *ends, sp_error *err);
int pq_dec_delta_bytes(const uint8_t *p, size_t len, size_t n, size_t elem_len,
                       int64_t *scratch, sp_buf *out, uint32_t *ends, sp_error *err);

/* ---- decompression ----------------------------------------------------- */

/* Reusable codec state (a zstd context); zero-initialise, free when done. */
typedef struct pq_dec_codec {
    void *zstd;
} pq_dec_codec;

void pq_dec_codec_free(pq_dec_codec *c);

/* Decompress src into exactly dst_len bytes. Producing more or fewer bytes
 * than dst_len is corrupt; a codec we do not build is SP_ERR_UNSUPPORTED. */
int pq_decompress(pq_dec_codec *c, int codec, const uint8_t *src, size_t src_len, uint8_t *dst,
                  size_t dst_len, sp_error *err);

#endif
