/* decode.c — Parquet value decoders and codecs (see decode.h).
 * The hot loops work on whole runs with direct loads, never through a
 * per-value function pointer. Every length comes from an untrusted page, so
 * each is checked against the bytes left before it is used; a decoder that
 * cannot produce exactly the requested count fails instead of guessing. */
#include "decode.h"

#include <snappy-c.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

/* ---- little helpers ---------------------------------------------------- */

static inline uint64_t load_le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Unsigned LEB128; returns 0 on success, -1 when truncated or too long. */
static int read_uvarint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
    const uint8_t *p = *pp;
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (p >= end)
            return -1;
        uint8_t b = *p++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *pp = p;
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* One value of bw bits at bit offset `bit` of p, reading only the bytes that
 * hold its bits (the slow path near the end of a run). */
static inline uint64_t bits_at_slow(const uint8_t *p, size_t bit, int bw)
{
    uint64_t v = 0;
    int got = 0, sh = (int)(bit & 7);
    size_t b = bit >> 3;
    while (got < bw) {
        v |= (uint64_t)(p[b] >> sh) << got;
        got += 8 - sh;
        sh = 0;
        b++;
    }
    return bw == 64 ? v : v & ((UINT64_C(1) << bw) - 1);
}

/* Unpack `count` LSB-first values of bw bits starting at p. The caller
 * guarantees count*bw bits fit in [p, end). Generated for three output types
 * so that levels, indices and deltas each get a tight loop. */
#define DEFINE_UNPACK(NAME, T)                                                   \
    static void NAME(const uint8_t *p, const uint8_t *end, int bw, T *out, size_t count) \
    {                                                                                  \
        if (bw == 0) {                                                                 \
            memset(out, 0, count * sizeof(T));                                         \
            return;                                                                    \
        }                                                                              \
        uint64_t mask = bw >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << bw) - 1;             \
        size_t i = 0, bit = 0;                                                         \
        size_t avail = (size_t)(end - p);                                              \
        if (bw <= 56) {                                                                \
            for (; i < count; i++, bit += (size_t)bw) {                                \
                size_t byte = bit >> 3;                                                \
                if (byte + 8 > avail)                                                  \
                    break;                                                             \
                out[i] = (T)((load_le64(p + byte) >> (bit & 7)) & mask);               \
            }                                                                          \
        }                                                                              \
        for (; i < count; i++, bit += (size_t)bw)                                      \
            out[i] = (T)bits_at_slow(p, bit, bw);                                      \
    }

DEFINE_UNPACK(unpack_u8, uint8_t)
DEFINE_UNPACK(unpack_u32, uint32_t)
DEFINE_UNPACK(unpack_u64, uint64_t)

/* ---- RLE / bit-packed hybrid -------------------------------------------- */

#define DEFINE_HYBRID(NAME, T, UNPACK, MAXW)                                            \
    int NAME(const uint8_t *p, size_t len, int bw, T *out, size_t n, sp_error *err)      \
    {                                                                                   \
        const uint8_t *end = p + len;                                                   \
        size_t i = 0;                                                                   \
        if (bw < 0 || bw > (MAXW))                                                      \
            return sp_fail(err, SP_ERR_CORRUPT, "bit width %d is above %d", bw, (MAXW)); \
        size_t vbytes = ((size_t)bw + 7) / 8;                                           \
        while (i < n) {                                                                 \
            uint64_t h;                                                                 \
            if (read_uvarint(&p, end, &h) != 0)                                         \
                return sp_fail(err, SP_ERR_CORRUPT,                                     \
                               "RLE/bit-packed data ends after %zu of %zu values", i, n); \
            if (h & 1) {                                                                \
                uint64_t groups = h >> 1;                                               \
                size_t avail = (size_t)(end - p);                                       \
                uint64_t bytes = groups * (uint64_t)bw, vals = groups * 8;              \
                if (groups > (UINT64_C(1) << 56) / 8)                                   \
                    return sp_fail(err, SP_ERR_CORRUPT, "bit-packed run count absurd");  \
                if (bytes > avail) {                                                    \
                    /* Tolerate a short final run: only the values present count. */   \
                    bytes = avail;                                                      \
                    vals = bytes * 8 / (uint64_t)bw;                                    \
                }                                                                       \
                size_t take = vals < n - i ? (size_t)vals : n - i;                      \
                if (take == 0 && groups > 0)                                            \
                    return sp_fail(err, SP_ERR_CORRUPT,                                 \
                                   "RLE/bit-packed data ends after %zu of %zu values", i, n); \
                UNPACK(p, p + bytes, bw, out + i, take);                                \
                i += take;                                                              \
                p += bytes;                                                             \
            } else {                                                                    \
                uint64_t cnt = h >> 1;                                                  \
                if ((size_t)(end - p) < vbytes)                                         \
                    return sp_fail(err, SP_ERR_CORRUPT, "RLE run value truncated");     \
                uint64_t v = 0;                                                         \
                for (size_t b = 0; b < vbytes; b++)                                     \
                    v |= (uint64_t)p[b] << (8 * b);                                     \
                p += vbytes;                                                            \
                if (bw < 64 && (v >> bw) != 0)                                          \
                    return sp_fail(err, SP_ERR_CORRUPT,                                 \
                                   "RLE run value %llu wider than %d bits",             \
                                   (unsigned long long)v, bw);                          \
                size_t take = cnt < n - i ? (size_t)cnt : n - i;                        \
                T tv = (T)v;                                                            \
                for (size_t k = 0; k < take; k++)                                       \
                    out[i + k] = tv;                                                    \
                i += take;                                                              \
            }                                                                           \
        }                                                                               \
        return SP_OK;                                                                   \
    }

DEFINE_HYBRID(pq_dec_hybrid_u32, uint32_t, unpack_u32, 32)
DEFINE_HYBRID(pq_dec_hybrid_u8, uint8_t, unpack_u8, 8)

static size_t count_ones(const uint8_t *v, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += v[i];
    return c;
}

int pq_dec_def_levels_rle(const uint8_t *p, size_t len, uint8_t *valid, size_t n,
                          size_t *present, sp_error *err)
{
    SP_TRY(pq_dec_hybrid_u8(p, len, 1, valid, n, err));
    *present = count_ones(valid, n);
    return SP_OK;
}

int pq_dec_def_levels_bitpacked(const uint8_t *p, size_t len, uint8_t *valid, size_t n,
                                size_t *present, size_t *used, sp_error *err)
{
    size_t bytes = n / 8 + (n % 8 != 0);
    if (bytes > len)
        return sp_fail(err, SP_ERR_CORRUPT,
                       "BIT_PACKED definition levels need %zu bytes, page has %zu", bytes, len);
    for (size_t i = 0; i < n; i++)
        valid[i] = (p[i >> 3] >> (7 - (i & 7))) & 1;
    *present = count_ones(valid, n);
    *used = bytes;
    return SP_OK;
}

/* ---- fixed-width values -------------------------------------------------- */

int pq_dec_plain_fixed(const uint8_t *p, size_t len, size_t width, void *out, size_t n,
                       sp_error *err)
{
    if (n > len / width)
        return sp_fail(err, SP_ERR_CORRUPT, "PLAIN values need %zu bytes, page has %zu",
                       n * width, len);
    if (n)
        memcpy(out, p, n * width);
    return SP_OK;
}

int pq_dec_plain_bool(const uint8_t *p, size_t len, uint8_t *out, size_t n, sp_error *err)
{
    size_t bytes = n / 8 + (n % 8 != 0);
    if (bytes > len)
        return sp_fail(err, SP_ERR_CORRUPT, "PLAIN booleans need %zu bytes, page has %zu", bytes,
                       len);
    unpack_u8(p, p + bytes, 1, out, n);
    return SP_OK;
}

int pq_dec_rle_bool(const uint8_t *p, size_t len, uint8_t *out, size_t n, sp_error *err)
{
    if (len < 4)
        return sp_fail(err, SP_ERR_CORRUPT, "RLE booleans: length prefix truncated");
    uint32_t l = load_le32(p);
    if (l > len - 4)
        return sp_fail(err, SP_ERR_CORRUPT, "RLE booleans claim %u bytes, page has %zu", l,
                       len - 4);
    return pq_dec_hybrid_u8(p + 4, l, 1, out, n, err);
}

int pq_dec_dict_indices(const uint8_t *p, size_t len, uint32_t *idx, size_t n, sp_error *err)
{
    if (n == 0)
        return SP_OK;
    if (len < 1)
        return sp_fail(err, SP_ERR_CORRUPT, "dictionary indices: bit width byte missing");
    if (p[0] > 32)
        return sp_fail(err, SP_ERR_CORRUPT, "dictionary index bit width %u is above 32", p[0]);
    return pq_dec_hybrid_u32(p + 1, len - 1, p[0], idx, n, err);
}

static int bad_index(sp_error *err, uint32_t ix, size_t dict_n)
{
    return sp_fail(err, SP_ERR_CORRUPT, "dictionary index %u out of range (dictionary has %zu)",
                   ix, dict_n);
}

#define GATHER_LOOP(T)                                          \
    do {                                                        \
        const T *d = dict;                                      \
        T *o = out;                                             \
        for (size_t i = 0; i < n; i++) {                        \
            uint32_t ix = idx[i];                               \
            if (ix >= dict_n)                                   \
                return bad_index(err, ix, dict_n);              \
            o[i] = d[ix];                                       \
        }                                                       \
    } while (0)

int pq_dec_gather_fixed(const void *dict, size_t dict_n, size_t width, const uint32_t *idx,
                        void *out, size_t n, sp_error *err)
{
    switch (width) {
    case 1: GATHER_LOOP(uint8_t); break;
    case 4: GATHER_LOOP(uint32_t); break;
    case 8: GATHER_LOOP(uint64_t); break;
    default:
        for (size_t i = 0; i < n; i++) {
            if (idx[i] >= dict_n)
                return bad_index(err, idx[i], dict_n);
            memcpy((uint8_t *)out + i * width, (const uint8_t *)dict + idx[i] * width, width);
        }
    }
    return SP_OK;
}

/* Block sizes beyond this are not written by anyone and would only make a
 * hostile header's miniblock arithmetic larger. */
#define DELTA_MAX_BLOCK (1u << 20)

int pq_dec_delta(const uint8_t *p, size_t len, int64_t *out, size_t n, size_t *used,
                 sp_error *err)
{
    const uint8_t *start = p, *end = p + len;
    uint64_t block, nmini, total, first_z;
    if (read_uvarint(&p, end, &block) || read_uvarint(&p, end, &nmini) ||
        read_uvarint(&p, end, &total) || read_uvarint(&p, end, &first_z))
        return sp_fail(err, SP_ERR_CORRUPT, "DELTA_BINARY_PACKED header truncated");
    if (block == 0 || block > DELTA_MAX_BLOCK || nmini == 0 || nmini > block ||
        block % nmini != 0 || (block / nmini) % 8 != 0)
        return sp_fail(err, SP_ERR_CORRUPT,
                       "DELTA_BINARY_PACKED header invalid (block %llu, miniblocks %llu)",
                       (unsigned long long)block, (unsigned long long)nmini);
    if (total != n)
        return sp_fail(err, SP_ERR_CORRUPT,
                       "DELTA_BINARY_PACKED header says %llu values, the page holds %zu",
                       (unsigned long long)total, n);
    size_t per_mini = (size_t)(block / nmini);
    if (n == 0) {
        *used = (size_t)(p - start);
        return SP_OK;
    }
    /* Unsigned arithmetic: the spec lets deltas wrap around. */
    uint64_t last = (first_z >> 1) ^ -(first_z & 1);
    out[0] = (int64_t)last;
    size_t i = 1;
    while (i < n) {
        uint64_t mz;
        if (read_uvarint(&p, end, &mz))
            return sp_fail(err, SP_ERR_CORRUPT, "DELTA_BINARY_PACKED block truncated");
        uint64_t min_delta = (mz >> 1) ^ -(mz & 1);
        if ((size_t)(end - p) < nmini)
            return sp_fail(err, SP_ERR_CORRUPT, "DELTA_BINARY_PACKED bit widths truncated");
        const uint8_t *widths = p;
        p += nmini;
        for (size_t m = 0; m < nmini && i < n; m++) {
            int bw = widths[m];
            if (bw > 64)
                return sp_fail(err, SP_ERR_CORRUPT, "DELTA_BINARY_PACKED bit width %d above 64",
                               bw);
            size_t take = n - i < per_mini ? n - i : per_mini;
            size_t need = (take * (size_t)bw + 7) / 8, full = per_mini * (size_t)bw / 8;
            size_t avail = (size_t)(end - p);
            if (need > avail)
                return sp_fail(err, SP_ERR_CORRUPT,
                               "DELTA_BINARY_PACKED miniblock truncated after %zu of %zu values",
                               i, n);
            uint64_t *d = (uint64_t *)(out + i);
            unpack_u64(p, p + need, bw, d, take);
            for (size_t k = 0; k < take; k++) {
                last += min_delta + d[k];
                d[k] = last;
            }
            i += take;
            p += full < avail ? full : avail;
        }
    }
    *used = (size_t)(p - start);
    return SP_OK;
}

int pq_dec_byte_stream_split(const uint8_t *p, size_t len, size_t width, uint8_t *out, size_t n,
                             sp_error *err)
{
    if (width == 0 || n > len / width)
        return sp_fail(err, SP_ERR_CORRUPT, "BYTE_STREAM_SPLIT needs %zu bytes, page has %zu",
                       n * width, len);
    for (size_t s = 0; s < width; s++) {
        const uint8_t *src = p + s * n;
        uint8_t *dst = out + s;
        for (size_t i = 0; i < n; i++)
            dst[i * width] = src[i];
    }
    return SP_OK;
}

/* ---- variable-width values ------------------------------------------------ */

static int reserve_out(sp_buf *out, uint64_t extra, sp_error *err)
{
    if (extra > UINT32_MAX || out->len + extra > UINT32_MAX)
        return sp_fail(err, SP_ERR_LIMIT, "decoded byte values exceed 4 GiB in one row group");
    /* At least one byte, so `data` is never NULL when a caller memcpy()s. */
    if (out->broken || sp_buf_reserve(out, extra ? (size_t)extra : 1) != 0) {
        if (out->len + extra > out->limit)
            return sp_fail(err, SP_ERR_LIMIT,
                           "decoded byte values need %llu more bytes, above the memory limit",
                           (unsigned long long)extra);
        return sp_fail(err, SP_ERR_NOMEM, "out of memory for %llu bytes of values",
                       (unsigned long long)extra);
    }
    return SP_OK;
}

int pq_dec_plain_bytes(const uint8_t *p, size_t len, size_t n, sp_buf *out, uint32_t *ends,
                       sp_error *err)
{
    /* First pass validates every length and sizes the output once. */
    size_t pos = 0;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (len - pos < 4)
            return sp_fail(err, SP_ERR_CORRUPT,
                           "PLAIN byte array %zu of %zu: length truncated", i, n);
        uint32_t l = load_le32(p + pos);
        pos += 4;
        if (l > len - pos)
            return sp_fail(err, SP_ERR_CORRUPT,
                           "PLAIN byte array %zu of %zu claims %u bytes, %zu left in the page",
                           i, n, l, len - pos);
        pos += l;
        total += l;
    }
    SP_TRY(reserve_out(out, total, err));
    pos = 0;
    uint8_t *dst = out->data + out->len;
    uint32_t o = (uint32_t)out->len;
    for (size_t i = 0; i < n; i++) {
        uint32_t l = load_le32(p + pos);
        memcpy(dst, p + pos + 4, l);
        dst += l;
        pos += 4 + (size_t)l;
        o += l;
        ends[i] = o;
    }
    out->len = o;
    return SP_OK;
}

int pq_dec_plain_flba(const uint8_t *p, size_t len, size_t elem_len, size_t n, sp_buf *out,
                      uint32_t *ends, sp_error *err)
{
    if (elem_len == 0 || n > len / elem_len)
        return sp_fail(err, SP_ERR_CORRUPT, "PLAIN fixed-length values need %zu bytes, page has %zu",
                       n * elem_len, len);
    SP_TRY(reserve_out(out, (uint64_t)n * elem_len, err));
    if (n)
        memcpy(out->data + out->len, p, n * elem_len);
    uint32_t o = (uint32_t)out->len;
    for (size_t i = 0; i < n; i++) {
        o += (uint32_t)elem_len;
        ends[i] = o;
    }
    out->len = o;
    return SP_OK;
}

int pq_dec_gather_bytes(const uint32_t *dict_off, const uint8_t *dict_bytes, size_t dict_n,
                        const uint32_t *idx, size_t n, sp_buf *out, uint32_t *ends,
                        sp_error *err)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t ix = idx[i];
        if (ix >= dict_n)
            return bad_index(err, ix, dict_n);
        total += dict_off[ix + 1] - dict_off[ix];
    }
    SP_TRY(reserve_out(out, total, err));
    uint8_t *base = out->data;
    uint32_t o = (uint32_t)out->len;
    for (size_t i = 0; i < n; i++) {
        uint32_t a = dict_off[idx[i]], l = dict_off[idx[i] + 1] - a;
        memcpy(base + o, dict_bytes + a, l);
        o += l;
        ends[i] = o;
    }
    out->len = o;
    return SP_OK;
}

int pq_dec_delta_length_bytes(const uint8_t *p, size_t len, size_t n, int64_t *scratch,
                              sp_buf *out, uint32_t *ends, sp_error *err)
{
    size_t used;
    SP_TRY(pq_dec_delta(p, len, scratch, n, &used, err));
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (scratch[i] < 0 || scratch[i] > UINT32_MAX)
            return sp_fail(err, SP_ERR_CORRUPT, "DELTA_LENGTH_BYTE_ARRAY length %lld invalid",
                           (long long)scratch[i]);
        total += (uint64_t)scratch[i];
    }
    if (total > len - used)
        return sp_fail(err, SP_ERR_CORRUPT,
                       "DELTA_LENGTH_BYTE_ARRAY lengths sum to %llu bytes, page has %zu",
                       (unsigned long long)total, len - used);
    SP_TRY(reserve_out(out, total, err));
    memcpy(out->data + out->len, p + used, (size_t)total);
    uint32_t o = (uint32_t)out->len;
    for (size_t i = 0; i < n; i++) {
        o += (uint32_t)scratch[i];
        ends[i] = o;
    }
    out->len = o;
    return SP_OK;
}

int pq_dec_delta_bytes(const uint8_t *p, size_t len, size_t n, size_t elem_len,
                       int64_t *scratch, sp_buf *out, uint32_t *ends, sp_error *err)
{
    int64_t *prefix = scratch, *suffix = scratch + n;
    size_t used1, used2;
    SP_TRY(pq_dec_delta(p, len, prefix, n, &used1, err));
    SP_TRY(pq_dec_delta(p + used1, len - used1, suffix, n, &used2, err));
    const uint8_t *data = p + used1 + used2;
    size_t avail = len - used1 - used2;
    /* Validate every prefix against the previous value's length and every
     * suffix against the page, and total the output, before copying. */
    uint64_t total = 0, sfx_total = 0, prev_len = 0;
    for (size_t i = 0; i < n; i++) {
        if (prefix[i] < 0 || (uint64_t)prefix[i] > prev_len)
            return sp_fail(err, SP_ERR_CORRUPT,
                           "DELTA_BYTE_ARRAY value %zu: prefix %lld longer than the previous "
                           "value (%llu)",
                           i, (long long)prefix[i], (unsigned long long)prev_len);
        if (suffix[i] < 0 || suffix[i] > UINT32_MAX)
            return sp_fail(err, SP_ERR_CORRUPT, "DELTA_BYTE_ARRAY suffix length %lld invalid",
                           (long long)suffix[i]);
        prev_len = (uint64_t)prefix[i] + (uint64_t)suffix[i];
        if (elem_len && prev_len != elem_len)
            return sp_fail(err, SP_ERR_CORRUPT,
                           "DELTA_BYTE_ARRAY value %zu is %llu bytes, the column's are %zu", i,
                           (unsigned long long)prev_len, elem_len);
        total += prev_len;
        sfx_total += (uint64_t)suffix[i];
        if (total > UINT32_MAX)
            return sp_fail(err, SP_ERR_LIMIT, "decoded byte values exceed 4 GiB in one row group");
    }
    if (sfx_total > avail)
        return sp_fail(err, SP_ERR_CORRUPT,
                       "DELTA_BYTE_ARRAY suffixes sum to %llu bytes, page has %zu",
                       (unsigned long long)sfx_total, avail);
    SP_TRY(reserve_out(out, total, err));
    uint8_t *base = out->data;
    uint32_t o = (uint32_t)out->len, prev = o;
    for (size_t i = 0; i < n; i++) {
        uint32_t pl = (uint32_t)prefix[i], sl = (uint32_t)suffix[i];
        /* Regions never overlap: the new value starts where the previous ended. */
        memcpy(base + o, base + prev, pl);
        memcpy(base + o + pl, data, sl);
        data += sl;
        prev = o;
        o += pl + sl;
        ends[i] = o;
    }
    out->len = o;
    return SP_OK;
}

/* ---- decompression --------------------------------------------------------- */

void pq_dec_codec_free(pq_dec_codec *c)
{
    if (c->zstd)
        ZSTD_freeDCtx(c->zstd);
    c->zstd = NULL;
}

static int inflate_exact(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len,
                         sp_error *err)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (src_len > UINT32_MAX || dst_len > UINT32_MAX)
        return sp_fail(err, SP_ERR_LIMIT, "GZIP page larger than 4 GiB");
    /* 15+32: accept both gzip and zlib headers. */
    if (inflateInit2(&zs, 15 + 32) != Z_OK)
        return sp_fail(err, SP_ERR_NOMEM, "cannot initialise zlib");
    zs.next_in = (Bytef *)(uintptr_t)src;
    zs.avail_in = (uInt)src_len;
    zs.next_out = dst;
    zs.avail_out = (uInt)dst_len;
    int rc;
    for (;;) {
        rc = inflate(&zs, Z_FINISH);
        /* Concatenated gzip members are legal; continue with the next one. */
        if (rc == Z_STREAM_END && zs.avail_in > 0 && zs.avail_out > 0) {
            if (inflateReset(&zs) != Z_OK)
                break;
            continue;
        }
        break;
    }
    size_t produced = dst_len - zs.avail_out;
    bool more_out = rc != Z_STREAM_END;
    inflateEnd(&zs);
    if (rc == Z_STREAM_END && produced == dst_len)
        return SP_OK;
    if (more_out && zs.avail_out == 0)
        return sp_fail(err, SP_ERR_CORRUPT,
                       "GZIP data inflates to more than the %zu bytes the page header says",
                       dst_len);
    if (rc == Z_STREAM_END)
        return sp_fail(err, SP_ERR_CORRUPT,
                       "GZIP data inflates to %zu bytes, the page header says %zu", produced,
                       dst_len);
    return sp_fail(err, SP_ERR_CORRUPT, "GZIP decompression failed (%s)",
                   zs.msg ? zs.msg : "truncated or invalid data");
}

int pq_decompress(pq_dec_codec *c, int codec, const uint8_t *src, size_t src_len, uint8_t *dst,
                  size_t dst_len, sp_error *err)
{
    switch (codec) {
    case PQ_UNCOMPRESSED:
        if (src_len != dst_len)
            return sp_fail(err, SP_ERR_CORRUPT,
                           "uncompressed page is %zu bytes, the page header says %zu", src_len,
                           dst_len);
        if (dst_len)
            memcpy(dst, src, dst_len);
        return SP_OK;
    case PQ_SNAPPY: {
        size_t ulen;
        if (snappy_uncompressed_length((const char *)src, src_len, &ulen) != SNAPPY_OK)
            return sp_fail(err, SP_ERR_CORRUPT, "SNAPPY decompression failed (bad length header)");
        if (ulen != dst_len)
            return sp_fail(err, SP_ERR_CORRUPT,
                           "SNAPPY data decompresses to %zu bytes, the page header says %zu",
                           ulen, dst_len);
        size_t out_len = dst_len;
        if (snappy_uncompress((const char *)src, src_len, (char *)dst, &out_len) != SNAPPY_OK ||
            out_len != dst_len)
            return sp_fail(err, SP_ERR_CORRUPT, "SNAPPY decompression failed (invalid data)");
        return SP_OK;
    }
    case PQ_GZIP:
        return inflate_exact(src, src_len, dst, dst_len, err);
    case PQ_ZSTD: {
        if (!c->zstd && !(c->zstd = ZSTD_createDCtx()))
            return sp_fail(err, SP_ERR_NOMEM, "cannot create a zstd context");
        unsigned long long fsize = ZSTD_getFrameContentSize(src, src_len);
        if (fsize != ZSTD_CONTENTSIZE_UNKNOWN && fsize != ZSTD_CONTENTSIZE_ERROR &&
            fsize > dst_len)
            return sp_fail(err, SP_ERR_CORRUPT,
                           "ZSTD frame holds %llu bytes, the page header says %zu", fsize,
                           dst_len);
        size_t got = ZSTD_decompressDCtx(c->zstd, dst, dst_len, src, src_len);
        if (ZSTD_isError(got))
            return sp_fail(err, SP_ERR_CORRUPT, "ZSTD decompression failed (%s)",
                           ZSTD_getErrorName(got));
        if (got != dst_len)
            return sp_fail(err, SP_ERR_CORRUPT,
                           "ZSTD data decompresses to %zu bytes, the page header says %zu", got,
                           dst_len);
        return SP_OK;
    }
    default:
        return sp_fail(err, SP_ERR_UNSUPPORTED, "compression codec %s is not supported",
                       pq_codec_name((pq_codec)codec));
    }
}
