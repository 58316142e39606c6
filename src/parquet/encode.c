/* encode.c — RLE/bit-packed hybrid, PLAIN booleans, DELTA_BINARY_PACKED and
 * page compression for the Parquet writer (see encode.h and parquet-format
 * Encodings.md).
 * Sits between write.c's page assembly and the codec libraries. It never
 * trusts sizes blindly: every output goes through a capped sp_buf. */
#include "encode.h"

#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "thrift_enc.h"

/* The delta packer stores 8-byte words as they lie in memory. */
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "encode.c assumes a little-endian host"
#endif

/* A value of bit_width bits as the ceil(bit_width / 8) little-endian bytes of
 * an RLE run. */
static void put_rle_run(sp_buf *out, uint64_t count, uint32_t value, int bit_width)
{
    pq_tenc_uvarint(out, count << 1);
    uint8_t b[4];
    int nb = (bit_width + 7) / 8;
    for (int i = 0; i < nb; i++)
        b[i] = (uint8_t)(value >> (8 * i));
    sp_buf_append(out, b, (size_t)nb);
}

/* The two hybrid encoders differ only in their input type, so one body serves
 * both; the hot loops stay free of per-value calls. */
#define PQ_ENC_RLE_BODY(T)                                                       \
    size_t i = 0;                                                                \
    while (i < n) {                                                              \
        size_t r = 1;                                                            \
        while (i + r < n && v[i + r] == v[i])                                    \
            r++;                                                                 \
        if (r >= 8) {                                                            \
            put_rle_run(out, r, (uint32_t)v[i], bit_width);                      \
            i += r;                                                              \
            continue;                                                            \
        }                                                                        \
        /* Bit-packed groups until a run of 8 starts at a group boundary. */     \
        size_t end = i;                                                          \
        for (;;) {                                                               \
            end += 8;                                                            \
            if (end >= n) {                                                      \
                end = n;                                                         \
                break;                                                           \
            }                                                                    \
            size_t k = 1;                                                        \
            while (k < 8 && end + k < n && v[end + k] == v[end])                 \
                k++;                                                             \
            if (k == 8)                                                          \
                break;                                                           \
        }                                                                        \
        size_t groups = (end - i + 7) / 8;                                       \
        pq_tenc_uvarint(out, (uint64_t)groups << 1 | 1);                         \
        uint8_t *dst = sp_buf_extend(out, groups * (size_t)bit_width);          \
        if (!dst)                                                                \
            return;                                                              \
        uint64_t acc = 0;                                                        \
        int nbits = 0;                                                           \
        for (size_t j = i; j < i + groups * 8; j++) {                            \
            uint64_t x = j < end ? (uint64_t)(T)v[j] : 0;                        \
            acc |= x << nbits;                                                   \
            nbits += bit_width;                                                  \
            while (nbits >= 8) {                                                 \
                *dst++ = (uint8_t)acc;                                           \
                acc >>= 8;                                                       \
                nbits -= 8;                                                      \
            }                                                                    \
        }                                                                        \
        i = end;                                                                 \
    }

void pq_enc_rle_u32(sp_buf *out, const uint32_t *v, size_t n, int bit_width)
{
    if (bit_width < 1 || bit_width > 32) {
        out->broken = true;
        return;
    }
    PQ_ENC_RLE_BODY(uint32_t)
}

void pq_enc_rle_u8(sp_buf *out, const uint8_t *v, size_t n, int bit_width)
{
    if (bit_width < 1 || bit_width > 8) {
        out->broken = true;
        return;
    }
    PQ_ENC_RLE_BODY(uint8_t)
}

void pq_enc_plain_bools(sp_buf *out, const uint8_t *v, size_t n)
{
    uint8_t *dst = sp_buf_extend(out, (n + 7) / 8);
    if (!dst)
        return;
    for (size_t i = 0; i < n; i += 8) {
        uint8_t b = 0;
        for (size_t k = 0; k < 8 && i + k < n; k++)
            b |= (uint8_t)((v[i + k] != 0) << k);
        *dst++ = b;
    }
}

/* ---- DELTA_BINARY_PACKED -------------------------------------------------- */

enum {
    PQ_DELTA_BLOCK = 128,    /* deltas per block (a multiple of 128) */
    PQ_DELTA_MINIBLOCKS = 4, /* miniblocks per block */
    PQ_DELTA_MINI = 32,      /* deltas per miniblock (a multiple of 32) */
};

static uint8_t *put_uleb(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* 32 values of bw (1..64) bits, LSB first, as exactly 4 * bw bytes. The
 * accumulator holds fewer than 64 pending bits; a value that straddles a
 * word leaves its high bits as the start of the next word. */
static uint8_t *pack32(uint8_t *dst, const uint64_t *x, int bw)
{
    uint64_t acc = 0;
    int nb = 0;
    for (int k = 0; k < PQ_DELTA_MINI; k++) {
        acc |= x[k] << nb;
        nb += bw;
        if (nb >= 64) {
            memcpy(dst, &acc, 8);
            dst += 8;
            nb -= 64;
            acc = nb ? x[k] >> (bw - nb) : 0;
        }
    }
    /* 32 * bw bits leave 0 or 32 bits over. */
    if (nb) {
        memcpy(dst, &acc, 4);
        dst += 4;
    }
    return dst;
}

/* The m deltas that follow value `at` - 1 (v holds values of `width`
 * bytes), in the unsigned domain of the physical type (wrapping, as the
 * spec asks), then read as signed: an INT32 delta is sign-extended from 32
 * bits so that delta - min fits in 32 bits. */
static void delta_values(int64_t *d, const uint8_t *v, size_t at, size_t m, int width)
{
    if (width == 4) {
        const uint8_t *q = v + (at - 1) * 4;
        for (size_t k = 0; k < m; k++) {
            uint32_t a, c;
            memcpy(&a, q + k * 4, 4);
            memcpy(&c, q + k * 4 + 4, 4);
            d[k] = (int32_t)(c - a);
        }
    } else {
        const uint8_t *q = v + (at - 1) * 8;
        for (size_t k = 0; k < m; k++) {
            uint64_t a, c;
            memcpy(&a, q + k * 8, 8);
            memcpy(&c, q + k * 8 + 8, 8);
            d[k] = (int64_t)(c - a);
        }
    }
}

/* One block of m (1..PQ_DELTA_BLOCK) deltas at p: the min delta, the
 * miniblocks' bit widths, then each needed miniblock packed at its width.
 * Returns the end of what was written. */
static uint8_t *delta_block(uint8_t *p, const int64_t *d, size_t m)
{
    uint64_t packed[PQ_DELTA_BLOCK];
    int64_t mn = d[0];
    for (size_t k = 1; k < m; k++)
        mn = d[k] < mn ? d[k] : mn;
    /* Unsigned subtraction: d - min may exceed INT64_MAX for INT64. */
    for (size_t k = 0; k < m; k++)
        packed[k] = (uint64_t)d[k] - (uint64_t)mn;
    for (size_t k = m; k < PQ_DELTA_BLOCK; k++)
        packed[k] = 0; /* padding of the last miniblock */
    p = put_uleb(p, pq_tenc_zigzag64(mn));
    uint8_t *widths = p;
    p += PQ_DELTA_MINIBLOCKS;
    for (size_t mb = 0; mb < PQ_DELTA_MINIBLOCKS; mb++) {
        const uint64_t *x = packed + mb * PQ_DELTA_MINI;
        if (mb * PQ_DELTA_MINI >= m) {
            widths[mb] = 0; /* unneeded miniblock: no body */
            continue;
        }
        uint64_t any = 0;
        for (size_t k = 0; k < PQ_DELTA_MINI; k++)
            any |= x[k];
        int bw = pq_enc_bit_width(any);
        widths[mb] = (uint8_t)bw;
        if (bw)
            p = pack32(p, x, bw);
    }
    return p;
}

void pq_enc_delta(sp_buf *out, const uint8_t *v, size_t n, int width)
{
    if (width != 4 && width != 8) {
        out->broken = true;
        return;
    }
    size_t nd = n ? n - 1 : 0, nblocks = (nd + PQ_DELTA_BLOCK - 1) / PQ_DELTA_BLOCK;
    /* Worst case: 4 header varints, then per block a min-delta varint, the
     * widths, and every miniblock at the full width. */
    size_t bound = 4 * 10 + nblocks * (10 + PQ_DELTA_MINIBLOCKS + PQ_DELTA_BLOCK * (size_t)width);
    size_t old = out->len;
    if (out->broken || sp_buf_reserve(out, bound) != 0)
        return;
    uint8_t *p = out->data + old;

    int64_t first = 0;
    if (n) {
        if (width == 4) {
            int32_t f32;
            memcpy(&f32, v, 4);
            first = f32;
        } else {
            memcpy(&first, v, 8);
        }
    }
    p = put_uleb(p, PQ_DELTA_BLOCK);
    p = put_uleb(p, PQ_DELTA_MINIBLOCKS);
    p = put_uleb(p, n);
    p = put_uleb(p, pq_tenc_zigzag64(first));

    int64_t d[PQ_DELTA_BLOCK];
    for (size_t b = 0; b < nblocks; b++) {
        size_t at = 1 + b * PQ_DELTA_BLOCK, m = nd - b * PQ_DELTA_BLOCK;
        if (m > PQ_DELTA_BLOCK)
            m = PQ_DELTA_BLOCK;
        delta_values(d, v, at, m, width);
        p = delta_block(p, d, m);
    }
    out->len = (size_t)(p - out->data);
}

/* What level 0 means for each codec. */
static int default_level(pq_codec codec)
{
    return codec == PQ_ZSTD ? 1 : codec == PQ_GZIP ? 6 : 0;
}

bool pq_compressor_same(const pq_compressor *c, pq_codec codec, int level)
{
    return c->ctx && c->codec == codec && c->level == (level ? level : default_level(codec));
}

int pq_compressor_init(pq_compressor *c, pq_codec codec, int level, sp_error *err)
{
    c->codec = codec;
    c->level = level ? level : default_level(codec);
    c->ctx = NULL;
    switch (codec) {
    case PQ_UNCOMPRESSED:
    case PQ_SNAPPY:
        return SP_OK;
    case PQ_ZSTD: {
        if (c->level < ZSTD_minCLevel() || c->level > ZSTD_maxCLevel())
            return sp_fail(err, SP_ERR_USAGE, "zstd level %d out of range %d..%d", level,
                           ZSTD_minCLevel(), ZSTD_maxCLevel());
        ZSTD_CCtx *z = ZSTD_createCCtx();
        if (!z)
            return sp_fail(err, SP_ERR_NOMEM, "out of memory creating a zstd context");
        if (ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, c->level))) {
            ZSTD_freeCCtx(z);
            return sp_fail(err, SP_ERR_USAGE, "zstd rejects level %d", c->level);
        }
        c->ctx = z;
        return SP_OK;
    }
    case PQ_GZIP: {
        if (c->level < 1 || c->level > 9)
            return sp_fail(err, SP_ERR_USAGE, "gzip level %d out of range 1..9", level);
        z_stream *zs = calloc(1, sizeof *zs);
        if (!zs)
            return sp_fail(err, SP_ERR_NOMEM, "out of memory creating a gzip stream");
        /* windowBits 15 + 16 asks zlib for a gzip wrapper, as Parquet wants. */
        if (deflateInit2(zs, c->level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            free(zs);
            return sp_fail(err, SP_ERR_NOMEM, "cannot initialise gzip");
        }
        c->ctx = zs;
        return SP_OK;
    }
    }
    return sp_fail(err, SP_ERR_UNSUPPORTED, "compression codec %d is not supported for writing",
                   (int)codec);
}

void pq_compressor_free(pq_compressor *c)
{
    if (!c->ctx)
        return;
    if (c->codec == PQ_ZSTD) {
        ZSTD_freeCCtx(c->ctx);
    } else if (c->codec == PQ_GZIP) {
        deflateEnd(c->ctx);
        free(c->ctx);
    }
    c->ctx = NULL;
}

int pq_compress(pq_compressor *c, const uint8_t *src, size_t n, sp_buf *dst, sp_error *err)
{
    size_t old = dst->len;
    switch (c->codec) {
    case PQ_UNCOMPRESSED:
        sp_buf_append(dst, src, n);
        break;
    case PQ_ZSTD: {
        size_t bound = ZSTD_compressBound(n);
        if (ZSTD_isError(bound) || sp_buf_reserve(dst, bound) != 0)
            break;
        size_t r = ZSTD_compress2(c->ctx, dst->data + old, bound, src, n);
        if (ZSTD_isError(r))
            return sp_fail(err, SP_ERR_INTERNAL, "zstd: %s", ZSTD_getErrorName(r));
        dst->len = old + r;
        break;
    }
    case PQ_SNAPPY: {
        size_t cap = snappy_max_compressed_length(n);
        if (sp_buf_reserve(dst, cap) != 0)
            break;
        size_t outlen = cap;
        if (snappy_compress((const char *)src, n, (char *)dst->data + old, &outlen) != SNAPPY_OK)
            return sp_fail(err, SP_ERR_INTERNAL, "snappy compression failed");
        dst->len = old + outlen;
        break;
    }
    case PQ_GZIP: {
        z_stream *zs = c->ctx;
        if (deflateReset(zs) != Z_OK)
            return sp_fail(err, SP_ERR_INTERNAL, "gzip: deflateReset failed");
        /* zlib counts in uInt; pages are capped far below that by the writer. */
        if (n > UINT32_MAX / 2)
            return sp_fail(err, SP_ERR_LIMIT, "gzip: page of %zu bytes too large", n);
        size_t cap = deflateBound(zs, (uLong)n);
        if (sp_buf_reserve(dst, cap) != 0)
            break;
        zs->next_in = (Bytef *)src;
        zs->avail_in = (uInt)n;
        zs->next_out = dst->data + old;
        zs->avail_out = (uInt)cap;
        if (deflate(zs, Z_FINISH) != Z_STREAM_END)
            return sp_fail(err, SP_ERR_INTERNAL, "gzip compression failed");
        dst->len = old + (cap - zs->avail_out);
        break;
    }
    default:
        return sp_fail(err, SP_ERR_UNSUPPORTED, "compression codec %d is not supported",
                       (int)c->codec);
    }
    if (dst->broken)
        return sp_fail(err, SP_ERR_LIMIT, "compressed page of %zu bytes exceeds the buffer cap",
                       n);
    return SP_OK;
}
