/* write.c — salespipe's streaming Parquet writer (flat schemas, data page v1,
 * PLAIN, RLE_DICTIONARY and DELTA_BINARY_PACKED, ZSTD/SNAPPY/GZIP/none, chunk
 * statistics).
 * Column batches come in from the star builder; a file goes out whole or not
 * at all: bytes go to `path.tmp-<pid>-<seq>` and only close renames them into
 * place. Memory is bounded by one row group; it must never keep all rows, and
 * never leave a temporary file behind after abort or a failed close. */
#include "parquet.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../util/buf.h"
#include "../util/cancel.h"
#include "../util/hash.h"
#include "../util/utf8.h"
#include "encode.h"
#include "thrift_enc.h"

/* Values are copied to pages as raw memory: PLAIN is little-endian. */
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "write.c assumes a little-endian host"
#endif

#include "../util/version.h"

/* "<app> version <x.y.z>" is the form readers parse (parquet-mr's
 * VersionParser, Arrow's ApplicationVersion); an app name other than
 * parquet-mr / parquet-cpp gets no legacy statistics workarounds. */
#define PQW_CREATED_BY "salespipe version " SP_VERSION

enum {
    PQW_SLICE_ROWS = 32768,          /* rows appended per column between checks */
    PQW_PAGE_MAX_ROWS = 1 << 20,     /* keeps page num_values and level buffers small */
    PQW_DICT_MAX_ENTRIES = 1 << 16,  /* index bit width stays <= 16 */
    PQW_DICT_INIT_SLOTS = 1024,
    PQW_STAT_MAX_BYTES = 1024,       /* longer byte-array min/max: statistics omitted */
    PQW_MAX_COLUMNS = 4096,
    PQW_NAME_MAX = 4096,
    PQW_IOV_PAGES = 256,             /* pages per writev (2 iovecs each, < IOV_MAX) */
};

/* A closed writer's buffers kept for the next writer of its thread (see
 * "buffers handed on" below) only while they total at most this much. */
#define PQW_SPARE_MAX_BYTES ((size_t)64 << 20)

/* One finished data page of the open chunk: its PageHeader lies in the
 * column's `heads` buffer and its compressed body in `chunk`, both back to
 * back in page order. Bodies are compressed straight into `chunk`, before
 * their compressed size (part of the header) is known, so headers wait in a
 * side buffer and writev interleaves the two at flush: no body is copied
 * after compression. */
typedef struct pqw_page {
    uint32_t head_len, body_len;
} pqw_page;

/* Dictionary give-up rule. Once a chunk has seen PQW_DICT_PROBE_ROWS rows in
 * dictionary mode, the column keeps its dictionary only if the dictionary
 * plus the bit-packed indices are estimated at most 3/4 of the PLAIN size of
 * the same values. High-cardinality columns (random amounts as DECIMAL
 * INT64) fail this early and are written PLAIN from then on, in this and
 * every later row group (sticky): hashing them costs more time than zstd
 * saves on them. Amounts drawn from a few thousand distinct values pass, and
 * then shrink the bytes zstd has to chew by 4x or more. A dictionary that
 * outgrows dict_max_bytes or PQW_DICT_MAX_ENTRIES falls back the same way. */
#define PQW_DICT_PROBE_ROWS 16384

#define PQW_PAGE_DATA 0
#define PQW_PAGE_DICTIONARY 2

/* One hash slot, 16 bytes, so a lookup touches one cache line: fixed-width
 * keys live in the slot; byte-array slots carry the hash, length and offset
 * of the entry's bytes in the dictionary page body. idx1 = entry + 1, 0 when
 * the slot is empty. */
typedef union pqw_slot {
    struct { uint64_t key; uint32_t idx1, unused; } f;
    struct { uint32_t hash, len, off, idx1; } b;
} pqw_slot;

typedef struct pqw_column {
    pq_column_spec spec; /* name points to `name` below */
    char *name;
    int width;           /* bytes per value in a PLAIN page buffer (0: BYTE_ARRAY) */

    /* current page */
    sp_buf defs;         /* one definition level (0/1) per row, OPTIONAL only */
    sp_buf vals;         /* PLAIN values (BOOLEAN: one 0/1 byte each) */
    uint32_t *idx;       /* dictionary indices of the page's non-null values */
    size_t idx_n, idx_cap;
    size_t page_rows;

    /* dictionary of the current chunk */
    bool dict_on;        /* this chunk is still adding dictionary pages */
    bool dict_disabled;  /* sticky: never try a dictionary again */
    bool probed;
    bool fallback_pending;
    sp_buf dplain;       /* the PLAIN-encoded dictionary page body */
    pqw_slot *slots;
    size_t nslots;
    uint32_t *doff;      /* BYTE_ARRAY: entry -> offset of its length prefix in dplain
                          * (read only when falling back to PLAIN) */
    size_t doff_cap;
    size_t dict_n;
    uint64_t last_key;   /* one-entry cache: sorted or repeated keys skip the hash */
    uint32_t last_idx;
    bool have_last;

    /* current chunk */
    sp_buf chunk;        /* compressed bodies of finished data pages */
    sp_buf heads;        /* their PageHeaders */
    pqw_page *pages;     /* one per finished data page, in order */
    size_t npages, pages_cap;
    int64_t chunk_rows, chunk_nulls;
    int64_t chunk_uncomp, chunk_comp; /* finished pages, headers included */
    int chunk_dict_pages, chunk_plain_pages, chunk_delta_pages;

    /* statistics of the current chunk */
    bool has_mm, stats_dropped;
    int64_t imin, imax;  /* INT32, INT64, BOOLEAN */
    double dmin, dmax;   /* FLOAT, DOUBLE (NaN excluded) */
    sp_buf smin, smax;   /* BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY */
    int64_t nan_count;
} pqw_column;

struct pq_writer {
    char *path, *tmp;
    int fd;
    int64_t pos;             /* bytes written to the temporary file */
    pq_writer_options opt;
    char *created_by;
    size_t ncols;
    pqw_column *cols;
    size_t rg_rows;          /* rows in the open row group */
    int64_t total_rows;
    size_t nrg;
    sp_buf rgmeta;           /* serialized RowGroup structs, concatenated */
    sp_buf page;             /* scratch: a data page body being encoded, the footer */
    sp_buf dicthead, dictbody; /* scratch: a dictionary page at chunk flush */
    pq_compressor cz;
    bool failed;             /* a write went wrong: only abort/close remain */
};

void pq_writer_options_default(pq_writer_options *opt)
{
    opt->codec = PQ_ZSTD;
    opt->level = 0;
    opt->row_group_rows = 1u << 20;
    opt->row_group_bytes = (size_t)128 << 20;
    opt->page_bytes = (size_t)1 << 20;
    opt->dict_max_bytes = (size_t)1 << 20;
    opt->dictionary = true;
    opt->no_dictionary = 0;
    opt->int_fallback = PQ_ENC_DELTA_BINARY_PACKED;
    opt->created_by = PQW_CREATED_BY;
    opt->scratch = false;
}

/* ---- errors ------------------------------------------------------------ */

/* A failure that leaves the writer unusable (partial rows, I/O). */
__attribute__((format(printf, 4, 5)))
static int wfail(pq_writer *w, sp_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sp_failv(err, code, fmt, ap);
    va_end(ap);
    w->failed = true;
    return sp_error_prefix(err, "%s", w->path);
}

/* A rejected call that changed nothing: the writer stays usable. */
__attribute__((format(printf, 4, 5)))
static int wreject(const pq_writer *w, sp_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sp_failv(err, code, fmt, ap);
    va_end(ap);
    return sp_error_prefix(err, "%s", w->path);
}

/* ---- file output --------------------------------------------------------- */

static int write_all(pq_writer *w, const void *p, size_t n, sp_error *err)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t r = write(w->fd, b, n > ((size_t)1 << 30) ? ((size_t)1 << 30) : n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return wfail(w, err, SP_ERR_IO, "write to %s: %s", w->tmp, strerror(errno));
        }
        b += r;
        n -= (size_t)r;
        w->pos += r;
    }
    return SP_OK;
}

/* Write iov[0..n) whole; iov is consumed. */
static int writev_all(pq_writer *w, struct iovec *iov, int n, sp_error *err)
{
    while (n > 0) {
        ssize_t r = writev(w->fd, iov, n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return wfail(w, err, SP_ERR_IO, "write to %s: %s", w->tmp, strerror(errno));
        }
        w->pos += r;
        size_t left = (size_t)r;
        while (n > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return SP_OK;
}

/* Write pages[0..npages) as header, body, header, body, ... from the two
 * buffers they were appended to. */
static int write_pages(pq_writer *w, const uint8_t *heads, const uint8_t *bodies,
                       const pqw_page *pages, size_t npages, sp_error *err)
{
    struct iovec iov[2 * PQW_IOV_PAGES];
    size_t hoff = 0, boff = 0;
    for (size_t p = 0; p < npages;) {
        int n = 0;
        for (; p < npages && n < 2 * PQW_IOV_PAGES; p++) {
            iov[n++] = (struct iovec){(void *)(uintptr_t)(heads + hoff), pages[p].head_len};
            iov[n++] = (struct iovec){(void *)(uintptr_t)(bodies + boff), pages[p].body_len};
            hoff += pages[p].head_len;
            boff += pages[p].body_len;
        }
        SP_TRY(writev_all(w, iov, n, err));
    }
    return SP_OK;
}

/* ---- UTF-8 -------------------------------------------------------------- */

#define PQW_HIGH_BITS 0x8080808080808080ull

/* True when p[0..n) holds no byte >= 0x80, 8 bytes at a time. */
static bool all_ascii(const uint8_t *p, size_t n)
{
    uint64_t acc = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, p + i, 8);
        acc |= x;
    }
    for (; i < n; i++)
        acc |= p[i];
    return (acc & PQW_HIGH_BITS) == 0;
}

/* Well-formed UTF-8 per RFC 3629 / Unicode table 3-7: no overlong forms, no
 * surrogates (ED A0..BF), nothing above U+10FFFF, no truncated sequence.
 * Returns n when valid, else the offset of the first bad sequence. */
static size_t utf8_check(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        /* ASCII runs, 8 bytes at a time: most values never leave this loop. */
        while (i + 8 <= n) {
            uint64_t x;
            memcpy(&x, p + i, 8);
            if (x & PQW_HIGH_BITS)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        int len = sp_utf8_seq(p + i, n - i);
        if (len <= 0)
            return i;
        i += (size_t)len;
    }
    return n;
}

/* ---- statistics ---------------------------------------------------------- */

static inline void stat_int(pqw_column *c, int64_t x)
{
    if (!c->has_mm) {
        c->imin = c->imax = x;
        c->has_mm = true;
    } else {
        c->imin = x < c->imin ? x : c->imin;
        c->imax = x > c->imax ? x : c->imax;
    }
}

static inline void stat_dbl(pqw_column *c, double x)
{
    if (isnan(x)) {
        c->nan_count++;
        return;
    }
    if (!c->has_mm) {
        c->dmin = c->dmax = x;
        c->has_mm = true;
    } else {
        c->dmin = x < c->dmin ? x : c->dmin;
        c->dmax = x > c->dmax ? x : c->dmax;
    }
}

/* Unsigned bytewise order, shorter prefix first: the UTF8 / BYTE_ARRAY order. */
static int cmp_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t m = alen < blen ? alen : blen;
    int r = m ? memcmp(a, b, m) : 0;
    if (r)
        return r;
    return alen < blen ? -1 : alen > blen;
}

static void stat_set(pqw_column *c, sp_buf *dst, const uint8_t *p, size_t len)
{
    if (len > PQW_STAT_MAX_BYTES) {
        c->stats_dropped = true;
        return;
    }
    sp_buf_reset(dst);
    sp_buf_append(dst, p, len);
}

static void stat_bytes(pqw_column *c, const uint8_t *p, size_t len)
{
    if (c->stats_dropped)
        return;
    if (!c->has_mm) {
        stat_set(c, &c->smin, p, len);
        stat_set(c, &c->smax, p, len);
        c->has_mm = true;
        return;
    }
    if (cmp_bytes(p, len, c->smin.data, c->smin.len) < 0)
        stat_set(c, &c->smin, p, len);
    else if (cmp_bytes(p, len, c->smax.data, c->smax.len) > 0)
        stat_set(c, &c->smax, p, len);
}

/* A new dictionary entry of a fixed-width column, as its bit pattern. */
static void stat_fixed_bits(pqw_column *c, uint64_t bits)
{
    switch (c->spec.physical) {
    case PQ_INT32: stat_int(c, (int32_t)(uint32_t)bits); break;
    case PQ_INT64: stat_int(c, (int64_t)bits); break;
    case PQ_FLOAT: {
        float f;
        uint32_t b32 = (uint32_t)bits;
        memcpy(&f, &b32, 4);
        stat_dbl(c, f);
        break;
    }
    case PQ_DOUBLE: {
        double d;
        memcpy(&d, &bits, 8);
        stat_dbl(c, d);
        break;
    }
    default: break;
    }
}

/* ---- dictionary ---------------------------------------------------------- */

static inline uint32_t hash_u64(uint64_t x)
{
    x ^= x >> 29;
    return (uint32_t)((x * 0x9E3779B97F4A7C15ull) >> 32);
}

static void dict_clear(pqw_column *c)
{
    c->dict_n = 0;
    sp_buf_reset(&c->dplain);
    if (c->slots)
        memset(c->slots, 0, c->nslots * sizeof *c->slots);
    c->have_last = false;
}

/* Double the table: fixed keys are rehashed, byte arrays keep their hash. */
static int dict_grow(pqw_column *c)
{
    size_t n = c->nslots * 2;
    pqw_slot *t = calloc(n, sizeof *t);
    if (!t)
        return -1;
    bool fixed = c->width != 0;
    for (size_t i = 0; i < c->nslots; i++) {
        const pqw_slot *o = &c->slots[i];
        if (!(fixed ? o->f.idx1 : o->b.idx1))
            continue;
        size_t pos = (fixed ? hash_u64(o->f.key) : o->b.hash) & (n - 1);
        while (fixed ? t[pos].f.idx1 : t[pos].b.idx1)
            pos = (pos + 1) & (n - 1);
        t[pos] = *o;
    }
    free(c->slots);
    c->slots = t;
    c->nslots = n;
    return 0;
}

static bool dict_room(const pq_writer *w, const pqw_column *c, size_t bytes)
{
    return c->dict_n < PQW_DICT_MAX_ENTRIES && c->dplain.len + bytes <= w->opt.dict_max_bytes;
}

/* ---- per-type append loops ---------------------------------------------
 * Each appends rows [start, end) of one column to the page and returns how
 * many rows it consumed: fewer only when the dictionary is full (the
 * caller falls back to PLAIN) or a BYTE_ARRAY page is full. Definition
 * levels are added by the caller for exactly the consumed rows. */

static size_t append_plain_fixed(pqw_column *c, const pq_values *v, size_t start, size_t end)
{
    size_t n = end - start, wd = (size_t)c->width;
    const uint8_t *valid = v->valid ? v->valid + start : NULL;
    const uint8_t *src = (const uint8_t *)v->values + start * wd;
    uint8_t *dst = sp_buf_extend(&c->vals, n * wd);
    if (!dst)
        return n; /* the caller sees vals.broken */
    if (!valid) {
        memcpy(dst, src, n * wd);
    } else {
        uint8_t *d = dst;
        for (size_t i = 0; i < n; i++) {
            if (valid[i]) {
                memcpy(d, src + i * wd, wd);
                d += wd;
            }
        }
        c->vals.len -= (size_t)(dst + n * wd - d);
    }

    /* Statistics in a typed loop per type, so the compiler vectorises it. */
#define PQW_INT_MINMAX(T, TMIN, TMAX)                                                    \
    do {                                                                                 \
        const T *x = (const T *)v->values + start;                                       \
        T mn = TMAX, mx = TMIN;                                                          \
        bool any = false;                                                                \
        for (size_t i = 0; i < n; i++) {                                                 \
            if (valid && !valid[i])                                                      \
                continue;                                                                \
            any = true;                                                                  \
            mn = x[i] < mn ? x[i] : mn;                                                  \
            mx = x[i] > mx ? x[i] : mx;                                                  \
        }                                                                                \
        if (any) {                                                                       \
            stat_int(c, mn);                                                             \
            stat_int(c, mx);                                                             \
        }                                                                                \
    } while (0)
#define PQW_FLOAT_STATS(T)                                                               \
    do {                                                                                 \
        const T *x = (const T *)v->values + start;                                       \
        for (size_t i = 0; i < n; i++)                                                   \
            if (!valid || valid[i])                                                      \
                stat_dbl(c, x[i]);                                                       \
    } while (0)
    switch (c->spec.physical) {
    case PQ_INT32: PQW_INT_MINMAX(int32_t, INT32_MIN, INT32_MAX); break;
    case PQ_INT64: PQW_INT_MINMAX(int64_t, INT64_MIN, INT64_MAX); break;
    case PQ_FLOAT: PQW_FLOAT_STATS(float); break;
    case PQ_DOUBLE: PQW_FLOAT_STATS(double); break;
    case PQ_BOOLEAN: {
        /* Normalise to 0/1 for the bit packer and the statistics. */
        uint8_t *b = dst, *bend = c->vals.data + c->vals.len;
        int mn = 1, mx = 0;
        bool any = false;
        for (; b < bend; b++) {
            *b = *b != 0;
            any = true;
            mn = *b < mn ? *b : mn;
            mx = *b > mx ? *b : mx;
        }
        if (any) {
            stat_int(c, mn);
            stat_int(c, mx);
        }
        break;
    }
    default:
        break;
    }
#undef PQW_INT_MINMAX
#undef PQW_FLOAT_STATS
    return n;
}

/* FIXED_LEN_BYTE_ARRAY: PLAIN is the bare type_length bytes (lengths were
 * checked by pq_writer_write). */
static size_t append_plain_flba(pqw_column *c, const pq_values *v, size_t start, size_t end)
{
    for (size_t i = start; i < end; i++) {
        if (v->valid && !v->valid[i])
            continue;
        const uint8_t *p = v->bytes + v->offsets[i];
        sp_buf_append(&c->vals, p, (size_t)c->width);
        stat_bytes(c, p, (size_t)c->width);
    }
    return end - start;
}

static size_t append_plain_bytes(pq_writer *w, pqw_column *c, const pq_values *v, size_t start,
                                 size_t end)
{
    size_t i;
    for (i = start; i < end; i++) {
        if (v->valid && !v->valid[i])
            continue;
        uint32_t o = v->offsets[i], len = v->offsets[i + 1] - o;
        const uint8_t *p = v->bytes + o;
        uint8_t *d = sp_buf_extend(&c->vals, 4 + (size_t)len);
        if (!d)
            return end - start;
        memcpy(d, &len, 4);
        if (len)
            memcpy(d + 4, p, len);
        stat_bytes(c, p, len);
        if (c->vals.len >= w->opt.page_bytes) {
            i++;
            break;
        }
    }
    return i - start;
}

/* Dictionary lookup/insert of 4- or 8-byte keys (ints and floats alike: the
 * bit pattern is the key). The one-entry cache makes sorted dates and
 * repeated values nearly free. */
#define PQW_DICT_FIXED(NAME, KT, W)                                                    \
    static size_t NAME(pq_writer *w, pqw_column *c, const pq_values *v, size_t start,  \
                       size_t end)                                                     \
    {                                                                                  \
        const uint8_t *src = v->values;                                                \
        const uint8_t *valid = v->valid;                                               \
        uint32_t *out = c->idx + c->idx_n;                                             \
        size_t i;                                                                      \
        for (i = start; i < end; i++) {                                                \
            if (valid && !valid[i])                                                    \
                continue;                                                              \
            KT x;                                                                      \
            memcpy(&x, src + i * W, W);                                                \
            uint32_t e;                                                                \
            if (c->have_last && x == (KT)c->last_key) {                                \
                e = c->last_idx;                                                       \
            } else {                                                                   \
                size_t mask = c->nslots - 1, pos = hash_u64(x) & mask;                 \
                for (;;) {                                                             \
                    pqw_slot *sl = &c->slots[pos];                                     \
                    if (sl->f.idx1 == 0) {                                             \
                        if (!dict_room(w, c, W)) {                                     \
                            c->fallback_pending = true;                                \
                            goto out;                                                  \
                        }                                                              \
                        e = (uint32_t)c->dict_n;                                       \
                        sp_buf_append(&c->dplain, &x, W);                              \
                        sl->f.key = x;                                                 \
                        sl->f.idx1 = e + 1u;                                           \
                        c->dict_n++;                                                   \
                        stat_fixed_bits(c, x);                                         \
                        if (c->dict_n * 2 > c->nslots && dict_grow(c) != 0)            \
                            c->dplain.broken = true;                                   \
                        break;                                                         \
                    }                                                                  \
                    if ((KT)sl->f.key == x) {                                          \
                        e = sl->f.idx1 - 1;                                            \
                        break;                                                         \
                    }                                                                  \
                    pos = (pos + 1) & mask;                                            \
                }                                                                      \
                c->last_key = x;                                                       \
                c->last_idx = e;                                                       \
                c->have_last = true;                                                   \
            }                                                                          \
            *out++ = e;                                                                \
        }                                                                              \
    out:                                                                               \
        c->idx_n = (size_t)(out - c->idx);                                             \
        return i - start;                                                              \
    }

PQW_DICT_FIXED(append_dict_4, uint32_t, 4)
PQW_DICT_FIXED(append_dict_8, uint64_t, 8)

static size_t append_dict_bytes(pq_writer *w, pqw_column *c, const pq_values *v, size_t start,
                                size_t end)
{
    uint32_t *out = c->idx + c->idx_n;
    size_t i;
    /* A value equal to the previous one (lineage columns, sorted runs) is
     * found without hashing. */
    const uint8_t *prev = NULL;
    uint32_t prev_len = 0, prev_e = 0;
    for (i = start; i < end; i++) {
        if (v->valid && !v->valid[i])
            continue;
        uint32_t o = v->offsets[i], len = v->offsets[i + 1] - o;
        const uint8_t *p = v->bytes + o;
        if (prev && len == prev_len && memcmp(p, prev, len) == 0) {
            *out++ = prev_e;
            continue;
        }
        uint32_t h = (uint32_t)sp_hash_bytes(p, len), e;
        size_t mask = c->nslots - 1, pos = h & mask;
        for (;;) {
            pqw_slot *sl = &c->slots[pos];
            if (sl->b.idx1 == 0) {
                if (!dict_room(w, c, 4 + (size_t)len)) {
                    c->fallback_pending = true;
                    goto out;
                }
                if (c->dict_n == c->doff_cap) {
                    size_t ncap = c->doff_cap ? c->doff_cap * 2 : 1024;
                    uint32_t *d = realloc(c->doff, ncap * sizeof *d);
                    if (!d) {
                        c->dplain.broken = true;
                        goto out;
                    }
                    c->doff = d;
                    c->doff_cap = ncap;
                }
                e = (uint32_t)c->dict_n;
                c->doff[e] = (uint32_t)c->dplain.len; /* dplain <= dict_max_bytes < 4 GiB */
                sp_buf_append(&c->dplain, &len, 4);
                sp_buf_append(&c->dplain, p, len);
                if (c->dplain.broken)
                    goto out; /* no slot may point past the data; the caller reports it */
                sl->b.hash = h;
                sl->b.len = len;
                sl->b.off = c->doff[e] + 4;
                sl->b.idx1 = e + 1u;
                c->dict_n++;
                stat_bytes(c, p, len);
                if (c->dict_n * 2 > c->nslots && dict_grow(c) != 0)
                    c->dplain.broken = true;
                break;
            }
            if (sl->b.hash == h && sl->b.len == len &&
                memcmp(c->dplain.data + sl->b.off, p, len) == 0) {
                e = sl->b.idx1 - 1;
                break;
            }
            pos = (pos + 1) & mask;
        }
        *out++ = e;
        prev = p;
        prev_len = len;
        prev_e = e;
    }
out:
    c->idx_n = (size_t)(out - c->idx);
    return i - start;
}

/* ---- pages --------------------------------------------------------------- */

/* Compress src[0..n) onto the end of `bodies` and append its PageHeader to
 * `heads`; *pg receives both lengths, and *uncomp and *comp grow by the
 * page's sizes including its header. */
static int write_page(pq_writer *w, const pqw_column *c, sp_buf *heads, sp_buf *bodies,
                      int type, int encoding, size_t nvals, const uint8_t *src, size_t n,
                      pqw_page *pg, int64_t *uncomp, int64_t *comp, sp_error *err)
{
    if (n > INT32_MAX || nvals > INT32_MAX)
        return wfail(w, err, SP_ERR_LIMIT, "column %s: page of %zu bytes exceeds 2 GiB",
                     c->name, n);
    size_t b0 = bodies->len;
    if (pq_compress(&w->cz, src, n, bodies, err) != SP_OK) {
        w->failed = true;
        return sp_error_prefix(err, "%s: column %s", w->path, c->name);
    }
    size_t clen = bodies->len - b0;
    if (clen > INT32_MAX)
        return wfail(w, err, SP_ERR_LIMIT, "column %s: compressed page exceeds 2 GiB", c->name);

    size_t h0 = heads->len;
    pq_tenc t;
    pq_tenc_init(&t, heads);
    pq_tenc_struct_begin(&t);
    pq_tenc_field_i32(&t, 1, type);
    pq_tenc_field_i32(&t, 2, (int32_t)n);
    pq_tenc_field_i32(&t, 3, (int32_t)clen);
    if (type == PQW_PAGE_DATA) {
        pq_tenc_field_struct_begin(&t, 5); /* DataPageHeader */
        pq_tenc_field_i32(&t, 1, (int32_t)nvals);
        pq_tenc_field_i32(&t, 2, encoding);
        pq_tenc_field_i32(&t, 3, PQ_ENC_RLE); /* definition levels */
        pq_tenc_field_i32(&t, 4, PQ_ENC_RLE); /* repetition levels (none) */
        pq_tenc_struct_end(&t);
    } else {
        pq_tenc_field_struct_begin(&t, 7); /* DictionaryPageHeader */
        pq_tenc_field_i32(&t, 1, (int32_t)nvals);
        pq_tenc_field_i32(&t, 2, PQ_ENC_PLAIN);
        pq_tenc_struct_end(&t);
    }
    pq_tenc_struct_end(&t);
    if (heads->broken)
        return wfail(w, err, SP_ERR_LIMIT, "column %s: page headers exceed their buffer cap",
                     c->name);
    size_t hlen = heads->len - h0;
    pg->head_len = (uint32_t)hlen;
    pg->body_len = (uint32_t)clen;
    *uncomp += (int64_t)(hlen + n);
    *comp += (int64_t)(hlen + clen);
    return SP_OK;
}

static int flush_page(pq_writer *w, pqw_column *c, sp_error *err)
{
    if (c->page_rows == 0)
        return SP_OK;
    if (c->npages == c->pages_cap) {
        size_t ncap = c->pages_cap ? c->pages_cap * 2 : 64;
        pqw_page *p = realloc(c->pages, ncap * sizeof *p);
        if (!p)
            return wfail(w, err, SP_ERR_NOMEM, "column %s: out of memory", c->name);
        c->pages = p;
        c->pages_cap = ncap;
    }
    sp_buf *body = &w->page;
    sp_buf_reset(body);
    if (c->spec.optional) {
        /* v1 pages: definition levels carry a 4-byte little-endian length. */
        size_t at = body->len;
        sp_buf_extend(body, 4);
        pq_enc_rle_u8(body, c->defs.data, c->page_rows, 1);
        if (!body->broken) {
            uint32_t n = (uint32_t)(body->len - at - 4);
            memcpy(body->data + at, &n, 4);
        }
    }
    int enc;
    int *count;
    /* Where the body comes from: a REQUIRED column's PLAIN values are the
     * page body as they stand, so they are compressed in place. */
    const sp_buf *src = body;
    if (c->dict_on && c->dict_n > 0) {
        int bw = pq_enc_bit_width(c->dict_n - 1);
        if (bw < 1)
            bw = 1;
        sp_buf_putc(body, (uint8_t)bw);
        pq_enc_rle_u32(body, c->idx, c->idx_n, bw);
        enc = PQ_ENC_RLE_DICTIONARY;
        count = &c->chunk_dict_pages;
    } else if (c->vals.len > 0 && w->opt.int_fallback == PQ_ENC_DELTA_BINARY_PACKED &&
               (c->spec.physical == PQ_INT32 || c->spec.physical == PQ_INT64)) {
        pq_enc_delta(body, c->vals.data, c->vals.len / (size_t)c->width, c->width);
        enc = PQ_ENC_DELTA_BINARY_PACKED;
        count = &c->chunk_delta_pages;
    } else {
        /* Also a page of NULLs only: PLAIN with no values. */
        if (c->spec.physical == PQ_BOOLEAN)
            pq_enc_plain_bools(body, c->vals.data, c->vals.len);
        else if (c->spec.optional)
            sp_buf_append(body, c->vals.data, c->vals.len);
        else
            src = &c->vals;
        enc = PQ_ENC_PLAIN;
        count = &c->chunk_plain_pages;
    }
    if (body->broken)
        return wfail(w, err, SP_ERR_LIMIT, "column %s: page exceeds the %zu-byte buffer cap",
                     c->name, body->limit);
    SP_TRY(write_page(w, c, &c->heads, &c->chunk, PQW_PAGE_DATA, enc, c->page_rows, src->data,
                      src->len, &c->pages[c->npages], &c->chunk_uncomp, &c->chunk_comp, err));
    c->npages++;
    (*count)++;
    sp_buf_reset(&c->defs);
    sp_buf_reset(&c->vals);
    c->idx_n = 0;
    c->page_rows = 0;
    return SP_OK;
}

/* Leave dictionary mode for the rest of the chunk. Without a dictionary page
 * written yet, the pending indices become PLAIN values and the dictionary is
 * dropped, so the chunk is PLAIN only; otherwise the pending page is flushed
 * as a dictionary page and the dictionary is frozen for the dictionary page. */
static int dict_fallback(pq_writer *w, pqw_column *c, sp_error *err)
{
    c->fallback_pending = false;
    c->dict_disabled = true;
    if (c->chunk_dict_pages == 0) {
        for (size_t i = 0; i < c->idx_n; i++) {
            uint32_t e = c->idx[i];
            if (c->width) {
                sp_buf_append(&c->vals, c->dplain.data + (size_t)e * (size_t)c->width,
                              (size_t)c->width);
            } else {
                uint32_t len;
                memcpy(&len, c->dplain.data + c->doff[e], 4);
                sp_buf_append(&c->vals, c->dplain.data + c->doff[e], 4 + (size_t)len);
            }
        }
        c->idx_n = 0;
        if (c->vals.broken)
            return wfail(w, err, SP_ERR_LIMIT, "column %s: page exceeds the buffer cap", c->name);
        dict_clear(c);
        c->dict_on = false;
        return SP_OK;
    }
    SP_TRY(flush_page(w, c, err));
    c->dict_on = false;
    return SP_OK;
}

/* The probe's estimate (see PQW_DICT_PROBE_ROWS): PLAIN bytes of the values
 * seen, from the average dictionary entry, against dictionary bytes plus
 * indices at the current bit width. */
static bool dict_pays_off(const pqw_column *c)
{
    uint64_t nonnull = (uint64_t)(c->chunk_rows - c->chunk_nulls);
    if (c->dict_n == 0 || nonnull == 0)
        return true;
    uint64_t plain = nonnull * c->dplain.len / c->dict_n;
    int bw = pq_enc_bit_width(c->dict_n - 1);
    uint64_t dict = c->dplain.len + nonnull * (uint64_t)(bw ? bw : 1) / 8;
    return dict * 4 <= plain * 3;
}

/* Rows the current page can still take before it is full (at least 1). */
static size_t page_room(const pq_writer *w, const pqw_column *c)
{
    size_t room = PQW_PAGE_MAX_ROWS - c->page_rows;
    size_t lim;
    if (c->dict_on) {
        /* Indices are estimated at 2 bytes each before bit packing. */
        lim = w->opt.page_bytes / 2;
        lim = lim > c->page_rows ? lim - c->page_rows : 1;
    } else if (c->width) {
        lim = c->vals.len < w->opt.page_bytes
                  ? (w->opt.page_bytes - c->vals.len) / (size_t)c->width : 0;
        if (lim == 0)
            lim = 1;
    } else {
        lim = room; /* BYTE_ARRAY stops by itself at page_bytes */
    }
    return lim < room ? lim : room;
}

static bool page_full(const pq_writer *w, const pqw_column *c)
{
    if (c->page_rows >= PQW_PAGE_MAX_ROWS)
        return true;
    if (c->dict_on)
        return c->page_rows >= w->opt.page_bytes / 2;
    return c->vals.len >= w->opt.page_bytes;
}

static int column_append(pq_writer *w, pqw_column *c, const pq_values *v, size_t start,
                         size_t end, sp_error *err)
{
    while (start < end) {
        size_t n = end - start, room = page_room(w, c);
        if (n > room)
            n = room;
        if (c->dict_on && !c->probed && (size_t)c->chunk_rows + n > PQW_DICT_PROBE_ROWS)
            n = PQW_DICT_PROBE_ROWS - (size_t)c->chunk_rows;
        size_t done;
        if (c->dict_on) {
            if (c->idx_cap - c->idx_n < n) {
                size_t ncap = c->idx_n + n;
                if (ncap < 2 * c->idx_cap)
                    ncap = 2 * c->idx_cap;
                uint32_t *p = realloc(c->idx, ncap * sizeof *p);
                if (!p)
                    return wfail(w, err, SP_ERR_NOMEM, "column %s: out of memory", c->name);
                c->idx = p;
                c->idx_cap = ncap;
            }
            if (c->width == 4)
                done = append_dict_4(w, c, v, start, start + n);
            else if (c->width == 8)
                done = append_dict_8(w, c, v, start, start + n);
            else
                done = append_dict_bytes(w, c, v, start, start + n);
        } else if (c->spec.physical == PQ_FIXED_LEN_BYTE_ARRAY) {
            done = append_plain_flba(c, v, start, start + n);
        } else if (c->width) {
            done = append_plain_fixed(c, v, start, start + n);
        } else {
            done = append_plain_bytes(w, c, v, start, start + n);
        }

        if (c->spec.optional) {
            uint8_t *d = sp_buf_extend(&c->defs, done);
            if (d) {
                if (v->valid) {
                    memcpy(d, v->valid + start, done);
                    size_t nulls = 0;
                    for (size_t i = 0; i < done; i++)
                        nulls += d[i] == 0;
                    c->chunk_nulls += (int64_t)nulls;
                } else {
                    memset(d, 1, done);
                }
            }
        }
        c->page_rows += done;
        c->chunk_rows += (int64_t)done;
        start += done;
        if (c->vals.broken || c->defs.broken || c->dplain.broken || c->smin.broken ||
            c->smax.broken)
            return wfail(w, err, SP_ERR_LIMIT,
                         "column %s: page or dictionary exceeds its buffer cap or memory",
                         c->name);

        if (c->dict_on && !c->probed && c->chunk_rows >= PQW_DICT_PROBE_ROWS) {
            c->probed = true;
            if (!dict_pays_off(c))
                c->fallback_pending = true;
        }
        if (c->fallback_pending)
            SP_TRY(dict_fallback(w, c, err));
        if (page_full(w, c))
            SP_TRY(flush_page(w, c, err));
    }
    return SP_OK;
}

/* ---- row groups and footer ----------------------------------------------- */

/* PLAIN bytes of the chunk's min and max (no length prefix for byte arrays). */
static void stats_bytes(const pqw_column *c, uint8_t *mn, uint8_t *mx, size_t *len,
                        const uint8_t **pmn, const uint8_t **pmx, size_t *mnlen, size_t *mxlen)
{
    *pmn = mn;
    *pmx = mx;
    switch (c->spec.physical) {
    case PQ_BOOLEAN:
        mn[0] = (uint8_t)c->imin;
        mx[0] = (uint8_t)c->imax;
        *len = 1;
        break;
    case PQ_INT32: {
        int32_t a = (int32_t)c->imin, b = (int32_t)c->imax;
        memcpy(mn, &a, 4);
        memcpy(mx, &b, 4);
        *len = 4;
        break;
    }
    case PQ_INT64:
        memcpy(mn, &c->imin, 8);
        memcpy(mx, &c->imax, 8);
        *len = 8;
        break;
    case PQ_FLOAT: {
        /* Zero bounds are written as -0 / +0 so either sign is covered. */
        float a = c->dmin == 0 ? -0.0f : (float)c->dmin;
        float b = c->dmax == 0 ? 0.0f : (float)c->dmax;
        memcpy(mn, &a, 4);
        memcpy(mx, &b, 4);
        *len = 4;
        break;
    }
    case PQ_DOUBLE: {
        double a = c->dmin == 0 ? -0.0 : c->dmin;
        double b = c->dmax == 0 ? 0.0 : c->dmax;
        memcpy(mn, &a, 8);
        memcpy(mx, &b, 8);
        *len = 8;
        break;
    }
    default:
        *pmn = c->smin.data;
        *pmx = c->smax.data;
        *mnlen = c->smin.len;
        *mxlen = c->smax.len;
        return;
    }
    *mnlen = *mxlen = *len;
}

/* Statistics (ColumnMetaData field 12) as this writer writes them, for its
 * own chunks and for chunks carried over by pq_writer_append_file: min/max
 * PLAIN-encoded when mm, null_count and nan_count when >= 0. */
static void write_stats(pq_tenc *t, pq_physical physical, bool mm, const uint8_t *mn,
                        size_t mnlen, const uint8_t *mx, size_t mxlen, int64_t nulls,
                        int64_t nans)
{
    /* The deprecated fields are signed-order only: numbers, not strings. */
    bool legacy = physical == PQ_INT32 || physical == PQ_INT64 || physical == PQ_FLOAT ||
                  physical == PQ_DOUBLE;
    pq_tenc_field_struct_begin(t, 12);
    if (mm && legacy) {
        pq_tenc_field_binary(t, 1, mx, mxlen);
        pq_tenc_field_binary(t, 2, mn, mnlen);
    }
    if (nulls >= 0)
        pq_tenc_field_i64(t, 3, nulls);
    if (mm) {
        pq_tenc_field_binary(t, 5, mx, mxlen);
        pq_tenc_field_binary(t, 6, mn, mnlen);
        pq_tenc_field_bool(t, 7, true);
        pq_tenc_field_bool(t, 8, true);
    }
    if (nans >= 0)
        pq_tenc_field_i64(t, 9, nans);
    pq_tenc_struct_end(t);
}

static void write_statistics(pq_tenc *t, const pqw_column *c)
{
    bool mm = c->has_mm && !c->stats_dropped;
    uint8_t mnb[8], mxb[8];
    const uint8_t *pmn = NULL, *pmx = NULL;
    size_t len = 0, mnlen = 0, mxlen = 0;
    if (mm)
        stats_bytes(c, mnb, mxb, &len, &pmn, &pmx, &mnlen, &mxlen);
    bool fp = c->spec.physical == PQ_FLOAT || c->spec.physical == PQ_DOUBLE;
    write_stats(t, c->spec.physical, mm, pmn, mnlen, pmx, mxlen, c->chunk_nulls,
                fp ? c->nan_count : -1);
}

/* One PageEncodingStats list element: `count` pages of `page_type` in `encoding`. */
static void write_page_encoding_stats(pq_tenc *t, int page_type, int encoding, int count)
{
    pq_tenc_struct_begin(t);
    pq_tenc_field_i32(t, 1, page_type);
    pq_tenc_field_i32(t, 2, encoding);
    pq_tenc_field_i32(t, 3, count);
    pq_tenc_struct_end(t);
}

static void column_reset_chunk(const pq_writer *w, pqw_column *c)
{
    sp_buf_reset(&c->chunk);
    sp_buf_reset(&c->heads);
    c->npages = 0;
    c->chunk_rows = c->chunk_nulls = 0;
    c->chunk_uncomp = c->chunk_comp = 0;
    c->chunk_dict_pages = c->chunk_plain_pages = c->chunk_delta_pages = 0;
    c->has_mm = c->stats_dropped = false;
    c->nan_count = 0;
    sp_buf_reset(&c->smin);
    sp_buf_reset(&c->smax);
    c->probed = false;
    c->fallback_pending = false;
    dict_clear(c);
    c->dict_on = w->opt.dictionary && !c->dict_disabled && c->spec.physical != PQ_BOOLEAN &&
                 c->spec.physical != PQ_FIXED_LEN_BYTE_ARRAY;
}

/* A chunk's ColumnMetaData encodings: exactly those of its pages and levels. */
static void write_chunk_encodings(pq_tenc *t, const pqw_column *c)
{
    int encs[4], nenc = 0;
    if (c->chunk_dict_pages > 0 || c->chunk_plain_pages > 0)
        encs[nenc++] = PQ_ENC_PLAIN; /* dictionary page or PLAIN pages */
    if (c->spec.optional)
        encs[nenc++] = PQ_ENC_RLE;
    if (c->chunk_dict_pages > 0)
        encs[nenc++] = PQ_ENC_RLE_DICTIONARY;
    if (c->chunk_delta_pages > 0)
        encs[nenc++] = PQ_ENC_DELTA_BINARY_PACKED;
    pq_tenc_field_list_begin(t, 2, PQ_TC_I32, (size_t)nenc);
    for (int k = 0; k < nenc; k++)
        pq_tenc_elem_i32(t, encs[k]);
}

/* encoding_stats lets readers see whether every data page is
 * dictionary-encoded without reading the pages. */
static void write_chunk_encoding_stats(pq_tenc *t, const pqw_column *c)
{
    int nst = (c->chunk_dict_pages > 0) * 2 + (c->chunk_plain_pages > 0) +
              (c->chunk_delta_pages > 0);
    pq_tenc_field_list_begin(t, 13, PQ_TC_STRUCT, (size_t)nst);
    if (c->chunk_dict_pages > 0) {
        write_page_encoding_stats(t, PQW_PAGE_DICTIONARY, PQ_ENC_PLAIN, 1);
        write_page_encoding_stats(t, PQW_PAGE_DATA, PQ_ENC_RLE_DICTIONARY, c->chunk_dict_pages);
    }
    if (c->chunk_plain_pages > 0)
        write_page_encoding_stats(t, PQW_PAGE_DATA, PQ_ENC_PLAIN, c->chunk_plain_pages);
    if (c->chunk_delta_pages > 0)
        write_page_encoding_stats(t, PQW_PAGE_DATA, PQ_ENC_DELTA_BINARY_PACKED,
                                  c->chunk_delta_pages);
}

/* Write column c's chunk (its dictionary page, then its data pages) to the
 * file and its ColumnChunk to the row group's metadata; *uncomp and *comp
 * receive the chunk's sizes, the dictionary page included. */
static int write_chunk(pq_writer *w, pqw_column *c, pq_tenc *t, int64_t *uncomp, int64_t *comp,
                       sp_error *err)
{
    int64_t dict_off = -1;
    *uncomp = c->chunk_uncomp;
    *comp = c->chunk_comp;
    if (c->chunk_dict_pages > 0) {
        pqw_page dp;
        sp_buf_reset(&w->dicthead);
        sp_buf_reset(&w->dictbody);
        SP_TRY(write_page(w, c, &w->dicthead, &w->dictbody, PQW_PAGE_DICTIONARY, PQ_ENC_PLAIN,
                          c->dict_n, c->dplain.data, c->dplain.len, &dp, uncomp, comp, err));
        dict_off = w->pos;
        SP_TRY(write_pages(w, w->dicthead.data, w->dictbody.data, &dp, 1, err));
    }
    int64_t data_off = w->pos;
    SP_TRY(write_pages(w, c->heads.data, c->chunk.data, c->pages, c->npages, err));

    pq_tenc_struct_begin(t); /* ColumnChunk */
    pq_tenc_field_i64(t, 2, 0); /* file_offset: deprecated, 0 per the spec */
    pq_tenc_field_struct_begin(t, 3); /* ColumnMetaData */
    pq_tenc_field_i32(t, 1, (int32_t)c->spec.physical);
    write_chunk_encodings(t, c);
    pq_tenc_field_list_begin(t, 3, PQ_TC_BINARY, 1);
    pq_tenc_elem_binary(t, c->name, strlen(c->name));
    pq_tenc_field_i32(t, 4, (int32_t)w->opt.codec);
    pq_tenc_field_i64(t, 5, c->chunk_rows);
    pq_tenc_field_i64(t, 6, *uncomp);
    pq_tenc_field_i64(t, 7, *comp);
    pq_tenc_field_i64(t, 9, data_off);
    if (dict_off >= 0)
        pq_tenc_field_i64(t, 11, dict_off);
    write_statistics(t, c);
    write_chunk_encoding_stats(t, c);
    pq_tenc_struct_end(t); /* ColumnMetaData */
    pq_tenc_struct_end(t); /* ColumnChunk */
    return SP_OK;
}

/* Finish the open row group: each column's last page, its chunk written,
 * the RowGroup appended to the footer's list; the columns start new chunks. */
static int flush_row_group(pq_writer *w, sp_error *err)
{
    if (w->rg_rows == 0)
        return SP_OK;
    for (size_t i = 0; i < w->ncols; i++)
        SP_TRY(flush_page(w, &w->cols[i], err));

    pq_tenc t;
    pq_tenc_init(&t, &w->rgmeta);
    pq_tenc_struct_begin(&t); /* RowGroup */
    pq_tenc_field_list_begin(&t, 1, PQ_TC_STRUCT, w->ncols);
    int64_t rg_start = w->pos, rg_uncomp = 0, rg_comp = 0;
    for (size_t i = 0; i < w->ncols; i++) {
        int64_t uncomp, comp;
        SP_TRY(write_chunk(w, &w->cols[i], &t, &uncomp, &comp, err));
        rg_uncomp += uncomp;
        rg_comp += comp;
        column_reset_chunk(w, &w->cols[i]);
    }
    pq_tenc_field_i64(&t, 2, rg_uncomp); /* total_byte_size */
    pq_tenc_field_i64(&t, 3, (int64_t)w->rg_rows);
    pq_tenc_field_i64(&t, 5, rg_start);
    pq_tenc_field_i64(&t, 6, rg_comp);
    pq_tenc_struct_end(&t);
    if (pq_tenc_broken(&t))
        return wfail(w, err, SP_ERR_LIMIT, "footer metadata exceeds its buffer cap or memory");
    w->total_rows += (int64_t)w->rg_rows;
    w->rg_rows = 0;
    w->nrg++;
    return SP_OK;
}

/* The open row group's encoded (uncompressed) size, as parquet.h defines it
 * for row_group_bytes: finished pages with their headers, the dictionary
 * page body, and the open page's levels and values before compression. */
static size_t row_group_bytes(const pq_writer *w)
{
    size_t s = 0;
    for (size_t i = 0; i < w->ncols; i++) {
        const pqw_column *c = &w->cols[i];
        int bw = c->dict_n > 1 ? pq_enc_bit_width(c->dict_n - 1) : 1;
        s += (size_t)c->chunk_uncomp + c->dplain.len + c->defs.len / 8 + c->vals.len +
             c->idx_n * (size_t)bw / 8;
    }
    return s;
}

static void write_schema_element(pq_tenc *t, const pqw_column *c)
{
    const pq_column_spec *s = &c->spec;
    pq_tenc_struct_begin(t);
    pq_tenc_field_i32(t, 1, (int32_t)s->physical);
    if (s->physical == PQ_FIXED_LEN_BYTE_ARRAY)
        pq_tenc_field_i32(t, 2, s->type_length);
    pq_tenc_field_i32(t, 3, s->optional ? 1 : 0);
    pq_tenc_field_string(t, 4, c->name);
    switch (s->logical) {
    case PQ_LOGICAL_STRING:
        pq_tenc_field_i32(t, 6, 0); /* UTF8 */
        pq_tenc_field_struct_begin(t, 10);
        pq_tenc_field_struct_begin(t, 1); /* StringType */
        pq_tenc_struct_end(t);
        pq_tenc_struct_end(t);
        break;
    case PQ_LOGICAL_DATE:
        pq_tenc_field_i32(t, 6, 6); /* DATE */
        pq_tenc_field_struct_begin(t, 10);
        pq_tenc_field_struct_begin(t, 6); /* DateType */
        pq_tenc_struct_end(t);
        pq_tenc_struct_end(t);
        break;
    case PQ_LOGICAL_DECIMAL:
        pq_tenc_field_i32(t, 6, 5); /* DECIMAL */
        pq_tenc_field_i32(t, 7, s->scale);
        pq_tenc_field_i32(t, 8, s->precision);
        pq_tenc_field_struct_begin(t, 10);
        pq_tenc_field_struct_begin(t, 5); /* DecimalType */
        pq_tenc_field_i32(t, 1, s->scale);
        pq_tenc_field_i32(t, 2, s->precision);
        pq_tenc_struct_end(t);
        pq_tenc_struct_end(t);
        break;
    default:
        break;
    }
    pq_tenc_struct_end(t);
}

static int write_footer(pq_writer *w, sp_error *err)
{
    sp_buf *f = &w->page;
    sp_buf_reset(f);
    pq_tenc t;
    pq_tenc_init(&t, f);
    pq_tenc_struct_begin(&t); /* FileMetaData */
    pq_tenc_field_i32(&t, 1, 2); /* version: we use 2.x encodings */
    pq_tenc_field_list_begin(&t, 2, PQ_TC_STRUCT, w->ncols + 1);
    pq_tenc_struct_begin(&t); /* root */
    pq_tenc_field_i32(&t, 3, 0);
    pq_tenc_field_string(&t, 4, "schema");
    pq_tenc_field_i32(&t, 5, (int32_t)w->ncols);
    pq_tenc_struct_end(&t);
    for (size_t i = 0; i < w->ncols; i++)
        write_schema_element(&t, &w->cols[i]);
    pq_tenc_field_i64(&t, 3, w->total_rows);
    /* RowGroup structs were serialized as each group was flushed; a struct's
     * encoding does not depend on what precedes it, so they are spliced in. */
    pq_tenc_field_list_begin(&t, 4, PQ_TC_STRUCT, w->nrg);
    sp_buf_append(f, w->rgmeta.data, w->rgmeta.len);
    pq_tenc_field_string(&t, 6, w->created_by);
    pq_tenc_field_list_begin(&t, 7, PQ_TC_STRUCT, w->ncols);
    for (size_t i = 0; i < w->ncols; i++) {
        pq_tenc_struct_begin(&t);          /* ColumnOrder */
        pq_tenc_field_struct_begin(&t, 1); /* TypeDefinedOrder */
        pq_tenc_struct_end(&t);
        pq_tenc_struct_end(&t);
    }
    pq_tenc_struct_end(&t);
    if (pq_tenc_broken(&t) || f->len > INT32_MAX)
        return wfail(w, err, SP_ERR_LIMIT, "footer exceeds its buffer cap or memory");
    uint32_t flen = (uint32_t)f->len;
    sp_buf_append(f, &flen, 4);
    sp_buf_append(f, "PAR1", 4);
    if (f->broken)
        return wfail(w, err, SP_ERR_NOMEM, "out of memory building the footer");
    return write_all(w, f->data, f->len, err);
}

/* ---- lifecycle ----------------------------------------------------------- */

/* ---- buffers handed on ----------------------------------------------------
 * transform opens one writer per chunk of CSV (32 MB: about 143,000 rows),
 * and a new writer grows its page, index and chunk buffers from nothing:
 * each growth copies, and every fresh page of memory faults in (about a
 * fifth of transform's CPU time on 2 M rows, most of it in the kernel). So
 * a freed writer hands its buffers and its compression context to the next
 * writer opened on the same thread, column i's to column i. At most one
 * writer's set is kept per thread, under PQW_SPARE_MAX_BYTES, and freed when
 * the thread exits: memory stays bounded by one row group per thread. The
 * buffers carry capacity only, never content, so the bytes written are the
 * same as with fresh buffers. */

typedef struct pqw_col_bufs {
    sp_buf defs, vals, dplain, chunk, heads, smin, smax;
    uint32_t *idx, *doff;
    size_t idx_cap, doff_cap;
    pqw_page *pages;
    size_t pages_cap;
} pqw_col_bufs;

typedef struct pqw_spare {
    size_t ncols;
    pqw_col_bufs *cols;
    sp_buf rgmeta, page, dicthead, dictbody;
    pq_compressor cz; /* ctx NULL: none kept */
} pqw_spare;

static pthread_key_t spare_key;
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;
static bool spare_usable;

static void col_bufs_free(pqw_col_bufs *b)
{
    sp_buf_free(&b->defs);
    sp_buf_free(&b->vals);
    sp_buf_free(&b->dplain);
    sp_buf_free(&b->chunk);
    sp_buf_free(&b->heads);
    sp_buf_free(&b->smin);
    sp_buf_free(&b->smax);
    free(b->idx);
    free(b->doff);
    free(b->pages);
}

static void spare_free(void *p)
{
    pqw_spare *s = p;
    if (!s)
        return;
    for (size_t i = 0; i < s->ncols; i++)
        col_bufs_free(&s->cols[i]);
    free(s->cols);
    sp_buf_free(&s->rgmeta);
    sp_buf_free(&s->page);
    sp_buf_free(&s->dicthead);
    sp_buf_free(&s->dictbody);
    pq_compressor_free(&s->cz);
    free(s);
}

static void spare_key_create(void)
{
    spare_usable = pthread_key_create(&spare_key, spare_free) == 0;
}

/* Move b's allocation (not its contents) into *to, an initialised buffer
 * that owns none; b is left empty, its limit kept. */
static void buf_move(sp_buf *to, sp_buf *b)
{
    to->data = b->data;
    to->cap = b->cap;
    to->len = 0;
    b->data = NULL;
    b->cap = b->len = 0;
}

#define PQW_MOVE_ARRAY(to, to_cap, from, from_cap) \
    do {                                           \
        (to) = (from), (to_cap) = (from_cap);      \
        (from) = NULL, (from_cap) = 0;             \
    } while (0)

/* Every buffer of a column, in a fixed order, for the moves both ways. */
#define PQW_COL_BUFS(X, a, b)                                                             \
    X(&(a)->defs, &(b)->defs); X(&(a)->vals, &(b)->vals); X(&(a)->dplain, &(b)->dplain); \
    X(&(a)->chunk, &(b)->chunk); X(&(a)->heads, &(b)->heads); X(&(a)->smin, &(b)->smin); \
    X(&(a)->smax, &(b)->smax)

static void col_bufs_init(pqw_col_bufs *b)
{
    sp_buf_init(&b->defs, 0);
    sp_buf_init(&b->vals, 0);
    sp_buf_init(&b->dplain, 0);
    sp_buf_init(&b->chunk, 0);
    sp_buf_init(&b->heads, 0);
    sp_buf_init(&b->smin, 0);
    sp_buf_init(&b->smax, 0);
}

static size_t col_capacity(const pqw_column *c)
{
    return c->defs.cap + c->vals.cap + c->dplain.cap + c->chunk.cap + c->heads.cap +
           c->smin.cap + c->smax.cap + c->idx_cap * sizeof *c->idx +
           c->doff_cap * sizeof *c->doff + c->pages_cap * sizeof *c->pages;
}

/* Take w's buffers and compression context into this thread's spare
 * (replacing an older one), unless they are too large to keep. Called as
 * w is freed; what is not taken is freed with w. */
static void spare_keep(pq_writer *w)
{
    pthread_once(&spare_once, spare_key_create);
    if (!spare_usable || !w->cols)
        return;
    size_t total = w->rgmeta.cap + w->page.cap + w->dicthead.cap + w->dictbody.cap;
    for (size_t i = 0; i < w->ncols; i++)
        total += col_capacity(&w->cols[i]);
    if (total > PQW_SPARE_MAX_BYTES)
        return;
    pqw_spare *s = calloc(1, sizeof *s);
    pqw_col_bufs *cols = calloc(w->ncols, sizeof *cols);
    if (!s || !cols) {
        free(s);
        free(cols);
        return;
    }
    for (size_t i = 0; i < w->ncols; i++) {
        pqw_column *c = &w->cols[i];
        pqw_col_bufs *b = &cols[i];
        col_bufs_init(b);
        PQW_COL_BUFS(buf_move, b, c);
        PQW_MOVE_ARRAY(b->idx, b->idx_cap, c->idx, c->idx_cap);
        PQW_MOVE_ARRAY(b->doff, b->doff_cap, c->doff, c->doff_cap);
        PQW_MOVE_ARRAY(b->pages, b->pages_cap, c->pages, c->pages_cap);
    }
    s->ncols = w->ncols;
    s->cols = cols;
    sp_buf_init(&s->rgmeta, 0);
    sp_buf_init(&s->page, 0);
    sp_buf_init(&s->dicthead, 0);
    sp_buf_init(&s->dictbody, 0);
    buf_move(&s->rgmeta, &w->rgmeta);
    buf_move(&s->page, &w->page);
    buf_move(&s->dicthead, &w->dicthead);
    buf_move(&s->dictbody, &w->dictbody);
    s->cz = w->cz;
    w->cz.ctx = NULL;
    spare_free(pthread_getspecific(spare_key));
    if (pthread_setspecific(spare_key, s) != 0)
        spare_free(s);
}

/* Give a freshly opened writer (columns initialised, no buffer allocated)
 * this thread's spare buffers, and its compression context when it is for
 * the same codec and level: true when the context was taken (w->cz set). */
static bool spare_adopt(pq_writer *w)
{
    pthread_once(&spare_once, spare_key_create);
    if (!spare_usable)
        return false;
    pqw_spare *s = pthread_getspecific(spare_key);
    if (!s || pthread_setspecific(spare_key, NULL) != 0)
        return false;
    for (size_t i = 0; i < w->ncols && i < s->ncols; i++) {
        pqw_column *c = &w->cols[i];
        pqw_col_bufs *b = &s->cols[i];
        PQW_COL_BUFS(buf_move, c, b);
        PQW_MOVE_ARRAY(c->idx, c->idx_cap, b->idx, b->idx_cap);
        PQW_MOVE_ARRAY(c->doff, c->doff_cap, b->doff, b->doff_cap);
        PQW_MOVE_ARRAY(c->pages, c->pages_cap, b->pages, b->pages_cap);
    }
    buf_move(&w->rgmeta, &s->rgmeta);
    buf_move(&w->page, &s->page);
    buf_move(&w->dicthead, &s->dicthead);
    buf_move(&w->dictbody, &s->dictbody);
    bool took = s->cz.ctx && pq_compressor_same(&s->cz, w->opt.codec, w->opt.level);
    if (took) {
        w->cz = s->cz;
        s->cz.ctx = NULL;
    }
    spare_free(s);
    return took;
}

static void column_free(pqw_column *c)
{
    free(c->name);
    sp_buf_free(&c->defs);
    sp_buf_free(&c->vals);
    free(c->idx);
    sp_buf_free(&c->dplain);
    free(c->slots);
    free(c->doff);
    sp_buf_free(&c->chunk);
    sp_buf_free(&c->heads);
    free(c->pages);
    sp_buf_free(&c->smin);
    sp_buf_free(&c->smax);
}

static void writer_free(pq_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    spare_keep(w);
    if (w->cols)
        for (size_t i = 0; i < w->ncols; i++)
            column_free(&w->cols[i]);
    free(w->cols);
    sp_buf_free(&w->rgmeta);
    sp_buf_free(&w->page);
    sp_buf_free(&w->dicthead);
    sp_buf_free(&w->dictbody);
    pq_compressor_free(&w->cz);
    free(w->created_by);
    free(w->tmp);
    free(w->path);
    free(w);
}

static void writer_discard(pq_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
    }
    if (w->tmp)
        unlink(w->tmp);
    writer_free(w);
}

static int check_column(const pq_column_spec *s, size_t i, sp_error *err, const char *path)
{
    if (!s->name || !s->name[0] || strlen(s->name) > PQW_NAME_MAX)
        return sp_fail(err, SP_ERR_USAGE, "%s: column %zu has no usable name", path, i);
    const char *n = s->name;
    switch (s->physical) {
    case PQ_BOOLEAN:
    case PQ_INT32:
    case PQ_INT64:
    case PQ_FLOAT:
    case PQ_DOUBLE:
    case PQ_BYTE_ARRAY:
        break;
    case PQ_FIXED_LEN_BYTE_ARRAY:
        if (s->type_length <= 0)
            return sp_fail(err, SP_ERR_USAGE, "%s: column %s: type_length %d must be positive",
                           path, n, s->type_length);
        break;
    default:
        return sp_fail(err, SP_ERR_UNSUPPORTED, "%s: column %s: physical type %d not writable",
                       path, n, (int)s->physical);
    }
    switch (s->logical) {
    case PQ_LOGICAL_NONE:
        break;
    case PQ_LOGICAL_STRING:
        if (s->physical != PQ_BYTE_ARRAY)
            return sp_fail(err, SP_ERR_USAGE, "%s: column %s: STRING needs BYTE_ARRAY", path, n);
        break;
    case PQ_LOGICAL_DATE:
        if (s->physical != PQ_INT32)
            return sp_fail(err, SP_ERR_USAGE, "%s: column %s: DATE needs INT32", path, n);
        break;
    case PQ_LOGICAL_DECIMAL: {
        int maxp = s->physical == PQ_INT32 ? 9 : s->physical == PQ_INT64 ? 18 : 0;
        if (maxp == 0)
            return sp_fail(err, SP_ERR_UNSUPPORTED,
                           "%s: column %s: DECIMAL is written as INT32 or INT64 only", path, n);
        if (s->precision < 1 || s->precision > maxp || s->scale < 0 || s->scale > s->precision)
            return sp_fail(err, SP_ERR_USAGE,
                           "%s: column %s: DECIMAL(%d,%d) invalid for %s (precision 1..%d, "
                           "scale 0..precision)",
                           path, n, s->precision, s->scale,
                           s->physical == PQ_INT32 ? "INT32" : "INT64", maxp);
        break;
    }
    default:
        return sp_fail(err, SP_ERR_UNSUPPORTED, "%s: column %s: logical type %d not writable",
                       path, n, (int)s->logical);
    }
    return SP_OK;
}

/* Every column valid, no name twice. */
static int check_columns(const pq_column_spec *cols, size_t ncols, const char *path,
                         sp_error *err)
{
    if (ncols == 0 || ncols > PQW_MAX_COLUMNS || !cols)
        return sp_fail(err, SP_ERR_USAGE, "%s: %zu columns (1..%d allowed)", path, ncols,
                       PQW_MAX_COLUMNS);
    for (size_t i = 0; i < ncols; i++) {
        SP_TRY(check_column(&cols[i], i, err, path));
        for (size_t j = 0; j < i; j++)
            if (strcmp(cols[i].name, cols[j].name) == 0)
                return sp_fail(err, SP_ERR_USAGE, "%s: duplicate column name %s", path,
                               cols[i].name);
    }
    return SP_OK;
}

/* w->opt: the defaults, overridden by the caller's options, checked and capped. */
static int open_options(pq_writer *w, const pq_writer_options *opt, const char *path,
                        sp_error *err)
{
    pq_writer_options_default(&w->opt);
    if (opt) {
        /* Zero sizes mean "the default", so callers may set only what they need. */
        w->opt.codec = opt->codec;
        w->opt.level = opt->level;
        w->opt.dictionary = opt->dictionary;
        w->opt.int_fallback = opt->int_fallback;
        w->opt.no_dictionary = opt->no_dictionary;
        if (opt->row_group_rows)
            w->opt.row_group_rows = opt->row_group_rows;
        if (opt->row_group_bytes)
            w->opt.row_group_bytes = opt->row_group_bytes;
        if (opt->page_bytes)
            w->opt.page_bytes = opt->page_bytes;
        if (opt->dict_max_bytes)
            w->opt.dict_max_bytes = opt->dict_max_bytes;
        if (opt->created_by)
            w->opt.created_by = opt->created_by;
        w->opt.scratch = opt->scratch;
    }
    if (w->opt.int_fallback != PQ_ENC_PLAIN &&
        w->opt.int_fallback != PQ_ENC_DELTA_BINARY_PACKED)
        return sp_fail(err, SP_ERR_USAGE,
                       "%s: int_fallback %d: only PLAIN (%d) or DELTA_BINARY_PACKED (%d)", path,
                       w->opt.int_fallback, PQ_ENC_PLAIN, PQ_ENC_DELTA_BINARY_PACKED);
    /* Pages and dictionaries must stay far below Thrift's i32 sizes. */
    if (w->opt.page_bytes > ((size_t)256 << 20))
        w->opt.page_bytes = (size_t)256 << 20;
    if (w->opt.dict_max_bytes > ((size_t)256 << 20))
        w->opt.dict_max_bytes = (size_t)256 << 20;
    return SP_OK;
}

/* The columns: names, PLAIN widths, empty buffers, the first chunk's state. */
static int open_columns(pq_writer *w, const pq_column_spec *cols, size_t ncols, sp_error *err)
{
    w->cols = calloc(ncols, sizeof *w->cols);
    if (!w->cols)
        return sp_fail(err, SP_ERR_NOMEM, "%s: out of memory", w->path);
    w->ncols = ncols;
    for (size_t i = 0; i < ncols; i++) {
        pqw_column *c = &w->cols[i];
        c->spec = cols[i];
        c->name = strdup(cols[i].name);
        c->spec.name = c->name;
        c->dict_disabled = i < 64 && (w->opt.no_dictionary >> i & 1);
        switch (c->spec.physical) {
        case PQ_BOOLEAN: c->width = 1; break;
        case PQ_INT32:
        case PQ_FLOAT: c->width = 4; break;
        case PQ_INT64:
        case PQ_DOUBLE: c->width = 8; break;
        case PQ_FIXED_LEN_BYTE_ARRAY: c->width = c->spec.type_length; break;
        default: c->width = 0; break;
        }
        sp_buf_init(&c->defs, 0);
        sp_buf_init(&c->vals, 0);
        sp_buf_init(&c->dplain, 0);
        sp_buf_init(&c->chunk, 0);
        sp_buf_init(&c->heads, 0);
        sp_buf_init(&c->smin, 0);
        sp_buf_init(&c->smax, 0);
        c->nslots = PQW_DICT_INIT_SLOTS;
        c->slots = calloc(c->nslots, sizeof *c->slots);
        if (!c->name || !c->slots)
            return sp_fail(err, SP_ERR_NOMEM, "%s: out of memory", w->path);
        column_reset_chunk(w, c);
    }
    return SP_OK;
}

/* The temporary file beside path, its magic written. On failure w->fd is
 * -1 and w->tmp NULL unless the file exists (the caller discards it). */
static int open_file(pq_writer *w, sp_error *err)
{
    static unsigned seq;
    unsigned n = __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED);
    size_t tlen = strlen(w->path) + 64;
    w->tmp = malloc(tlen);
    if (!w->tmp)
        return sp_fail(err, SP_ERR_NOMEM, "%s: out of memory", w->path);
    snprintf(w->tmp, tlen, "%s.tmp-%ld-%u", w->path, (long)getpid(), n);
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        int e = errno;
        sp_fail(err, SP_ERR_IO, "%s: cannot create %s: %s", w->path, w->tmp, strerror(e));
        free(w->tmp); /* not ours to unlink: open failed */
        w->tmp = NULL;
        return err->code;
    }
    return write_all(w, "PAR1", 4, err);
}

int pq_writer_open(pq_writer **out, const char *path, const pq_column_spec *cols, size_t ncols,
                   const pq_writer_options *opt, sp_error *err)
{
    sp_error dummy;
    if (!err)
        err = &dummy;
    *out = NULL;
    if (!path || !path[0])
        return sp_fail(err, SP_ERR_USAGE, "parquet writer: empty output path");
    SP_TRY(check_columns(cols, ncols, path, err));

    pq_writer *w = calloc(1, sizeof *w);
    if (!w)
        return sp_fail(err, SP_ERR_NOMEM, "%s: out of memory", path);
    w->fd = -1;
    sp_buf_init(&w->rgmeta, 0);
    sp_buf_init(&w->page, 0);
    sp_buf_init(&w->dicthead, 0);
    sp_buf_init(&w->dictbody, 0);
    if (open_options(w, opt, path, err) != SP_OK) {
        writer_free(w);
        return err->code;
    }
    w->path = strdup(path);
    w->created_by = strdup(w->opt.created_by);
    if (!w->path || !w->created_by) {
        writer_free(w);
        return sp_fail(err, SP_ERR_NOMEM, "%s: out of memory", path);
    }
    w->opt.created_by = w->created_by;
    if (open_columns(w, cols, ncols, err) != SP_OK) {
        writer_free(w);
        return err->code;
    }
    if (!spare_adopt(w) && pq_compressor_init(&w->cz, w->opt.codec, w->opt.level, err) != SP_OK) {
        writer_free(w);
        return sp_error_prefix(err, "%s", path);
    }
    if (open_file(w, err) != SP_OK) {
        writer_discard(w);
        return err->code;
    }
    *out = w;
    return SP_OK;
}

/* A byte-array column's offsets and lengths (and, for FIXED_LEN_BYTE_ARRAY,
 * its type_length) in rows [0, n) of the batch. */
static int check_offsets(pq_writer *w, const pqw_column *c, const pq_values *v, size_t n,
                         sp_error *err)
{
    for (size_t r = 0; r < n; r++) {
        if (v->valid && !v->valid[r])
            continue;
        uint32_t a = v->offsets[r], b = v->offsets[r + 1];
        if (b < a)
            return wreject(w, err, SP_ERR_USAGE,
                           "column %s: offsets decrease at row %zu of the batch", c->name, r);
        if (b - a > INT32_MAX)
            return wreject(w, err, SP_ERR_LIMIT,
                           "column %s: value of %u bytes at row %zu exceeds 2 GiB", c->name,
                           b - a, r);
        if (b > a && !v->bytes)
            return wreject(w, err, SP_ERR_USAGE, "column %s: no bytes", c->name);
        if (c->spec.physical == PQ_FIXED_LEN_BYTE_ARRAY &&
            b - a != (uint32_t)c->spec.type_length)
            return wreject(w, err, SP_ERR_DATA,
                           "column %s: value of %u bytes at row %zu, type_length is %d", c->name,
                           b - a, r, c->spec.type_length);
    }
    return SP_OK;
}

/* STRING values must be UTF-8 (readers such as DuckDB refuse the whole file
 * otherwise). Without NULLs the values tile [offsets[0], offsets[n]) once
 * the offsets are known to rise, so one ASCII scan of that range usually
 * settles the batch; otherwise each value is checked on its own (a
 * sequence must not span two values). */
static int check_utf8(pq_writer *w, const pqw_column *c, const pq_values *v, size_t n,
                      sp_error *err)
{
    if (c->spec.logical != PQ_LOGICAL_STRING)
        return SP_OK;
    if (v->valid == NULL && (v->offsets[n] == v->offsets[0] ||
                             all_ascii(v->bytes + v->offsets[0], v->offsets[n] - v->offsets[0])))
        return SP_OK;
    for (size_t r = 0; r < n; r++) {
        if (v->valid && !v->valid[r])
            continue;
        uint32_t a = v->offsets[r], len = v->offsets[r + 1] - a;
        if (len == 0)
            continue;
        size_t bad = utf8_check(v->bytes + a, len);
        if (bad < len)
            return wreject(w, err, SP_ERR_DATA,
                           "column %s: invalid UTF-8 at row %zu of the batch "
                           "(byte %zu of the value: 0x%02X)",
                           c->name, r, bad, v->bytes[a + bad]);
    }
    return SP_OK;
}

/* The whole batch is checked before any row is taken, so a rejected batch
 * changes nothing. */
static int check_batch(pq_writer *w, const pq_values *cols, size_t n, sp_error *err)
{
    for (size_t i = 0; i < w->ncols; i++) {
        const pqw_column *c = &w->cols[i];
        const pq_values *v = &cols[i];
        if (v->n != n)
            return wreject(w, err, SP_ERR_USAGE, "column %s has %zu rows, column %s has %zu",
                           c->name, v->n, w->cols[0].name, n);
        if (n == 0)
            continue;
        if (!c->spec.optional && v->valid) {
            const uint8_t *z = memchr(v->valid, 0, n);
            if (z)
                return wreject(w, err, SP_ERR_DATA,
                               "NULL in REQUIRED column %s (row %zu of the batch)", c->name,
                               (size_t)(z - v->valid));
        }
        if (c->width) {
            if (c->spec.physical == PQ_FIXED_LEN_BYTE_ARRAY) {
                if (!v->offsets)
                    return wreject(w, err, SP_ERR_USAGE, "column %s: no offsets", c->name);
            } else if (!v->values) {
                return wreject(w, err, SP_ERR_USAGE, "column %s: no values", c->name);
            }
        } else if (!v->offsets) {
            return wreject(w, err, SP_ERR_USAGE, "column %s: no offsets", c->name);
        }
        if (c->spec.physical == PQ_BYTE_ARRAY || c->spec.physical == PQ_FIXED_LEN_BYTE_ARRAY) {
            SP_TRY(check_offsets(w, c, v, n, err));
            SP_TRY(check_utf8(w, c, v, n, err));
        }
    }
    return SP_OK;
}

int pq_writer_write(pq_writer *w, const pq_values *cols, sp_error *err)
{
    sp_error dummy;
    if (!err)
        err = &dummy;
    if (!w)
        return sp_fail(err, SP_ERR_USAGE, "parquet writer: NULL writer");
    if (w->failed)
        return wreject(w, err, SP_ERR_USAGE, "writer already failed; only close or abort remain");
    if (!cols)
        return wreject(w, err, SP_ERR_USAGE, "NULL column batch");
    size_t n = cols[0].n;
    SP_TRY(check_batch(w, cols, n, err));

    /* Slices of every column in turn, so a row group ends on a row. */
    size_t off = 0;
    while (off < n) {
        size_t k = n - off;
        if (k > PQW_SLICE_ROWS)
            k = PQW_SLICE_ROWS;
        if (k > w->opt.row_group_rows - w->rg_rows)
            k = w->opt.row_group_rows - w->rg_rows;
        for (size_t i = 0; i < w->ncols; i++)
            SP_TRY(column_append(w, &w->cols[i], &cols[i], off, off + k, err));
        w->rg_rows += k;
        off += k;
        if (w->rg_rows >= w->opt.row_group_rows || row_group_bytes(w) >= w->opt.row_group_bytes)
            SP_TRY(flush_row_group(w, err));
    }
    return SP_OK;
}

int pq_writer_close(pq_writer *w, sp_error *err)
{
    sp_error dummy;
    if (!err)
        err = &dummy;
    if (!w)
        return sp_fail(err, SP_ERR_USAGE, "parquet writer: NULL writer");
    if (w->failed) {
        sp_fail(err, SP_ERR_USAGE, "%s: not published: an earlier write failed", w->path);
        writer_discard(w);
        return SP_ERR_USAGE;
    }
    if (flush_row_group(w, err) != SP_OK || write_footer(w, err) != SP_OK) {
        writer_discard(w);
        return err->code;
    }
    if (!w->opt.scratch && fsync(w->fd) != 0) {
        sp_fail(err, SP_ERR_IO, "%s: fsync %s: %s", w->path, w->tmp, strerror(errno));
        writer_discard(w);
        return SP_ERR_IO;
    }
    int fd = w->fd;
    w->fd = -1;
    if (close(fd) != 0) {
        sp_fail(err, SP_ERR_IO, "%s: close %s: %s", w->path, w->tmp, strerror(errno));
        writer_discard(w);
        return SP_ERR_IO;
    }
    if (rename(w->tmp, w->path) != 0) {
        sp_fail(err, SP_ERR_IO, "%s: rename from %s: %s", w->path, w->tmp, strerror(errno));
        writer_discard(w);
        return SP_ERR_IO;
    }
    /* Make the rename itself durable; the file is complete either way, so a
     * directory that cannot be synced is not an error. */
    const char *slash = strrchr(w->path, '/');
    char *dir = w->opt.scratch ? NULL
                : slash      ? strndup(w->path, (size_t)(slash - w->path) + 1)
                             : strdup(".");
    if (dir) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
        free(dir);
    }
    writer_free(w);
    return SP_OK;
}

void pq_writer_abort(pq_writer *w)
{
    writer_discard(w);
}

/* ---- appending another file's row groups ------------------------------- */

static bool same_column(const pq_column_spec *a, const pq_column_spec *b)
{
    return strcmp(a->name, b->name) == 0 && a->physical == b->physical &&
           a->logical == b->logical && a->optional == b->optional &&
           (a->logical != PQ_LOGICAL_DECIMAL ||
            (a->precision == b->precision && a->scale == b->scale)) &&
           (a->physical != PQ_FIXED_LEN_BYTE_ARRAY || a->type_length == b->type_length);
}

/* Copy bytes [off, off+len) of fd (named path) to the end of w's file. */
static int copy_range(pq_writer *w, int fd, const char *path, int64_t off, int64_t len,
                      sp_error *err)
{
    sp_buf *b = &w->page;
    sp_buf_reset(b);
    if (sp_buf_reserve(b, (size_t)1 << 20) != 0)
        return wfail(w, err, SP_ERR_NOMEM, "out of memory appending %s", path);
    while (len > 0) {
        if (sp_cancelled()) /* a large merge stops within the 2 s */
            return wfail(w, err, SP_ERR_CANCELLED, "appending %s: cancelled by %s", path,
                         sp_cancel_signal_name(sp_cancel_signal()));
        size_t want = len < (int64_t)b->cap ? (size_t)len : b->cap;
        ssize_t r = pread(fd, b->data, want, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return wfail(w, err, r < 0 ? SP_ERR_IO : SP_ERR_CORRUPT, "%s: reading a column chunk: %s",
                         path, r < 0 ? strerror(errno) : "unexpected end of file");
        SP_TRY(write_all(w, b->data, (size_t)r, err));
        off += r;
        len -= r;
    }
    return SP_OK;
}

static void write_chunk_meta(pq_tenc *t, const pqw_column *c, const pq_chunk_info *ci,
                             int64_t data_off, int64_t dict_off, pq_codec codec)
{
    pq_tenc_struct_begin(t); /* ColumnChunk */
    pq_tenc_field_i64(t, 2, 0);
    pq_tenc_field_struct_begin(t, 3); /* ColumnMetaData */
    pq_tenc_field_i32(t, 1, (int32_t)c->spec.physical);
    size_t nenc = 0;
    for (int e = 0; e < 32; e++)
        nenc += (ci->encodings >> e) & 1u;
    pq_tenc_field_list_begin(t, 2, PQ_TC_I32, nenc);
    for (int e = 0; e < 32; e++)
        if ((ci->encodings >> e) & 1u)
            pq_tenc_elem_i32(t, e);
    pq_tenc_field_list_begin(t, 3, PQ_TC_BINARY, 1);
    pq_tenc_elem_binary(t, c->name, strlen(c->name));
    pq_tenc_field_i32(t, 4, (int32_t)codec);
    pq_tenc_field_i64(t, 5, ci->num_values);
    pq_tenc_field_i64(t, 6, ci->uncompressed_size);
    pq_tenc_field_i64(t, 7, ci->compressed_size);
    pq_tenc_field_i64(t, 9, data_off);
    if (dict_off >= 0)
        pq_tenc_field_i64(t, 11, dict_off);
    /* The reader does not deliver nan_count, so it is not carried over. */
    const pq_stats *st = &ci->stats;
    write_stats(t, c->spec.physical, st->has_min_max, st->min, st->min_len, st->max, st->max_len,
                st->null_count, -1);
    pq_tenc_struct_end(t); /* ColumnMetaData */
    pq_tenc_struct_end(t); /* ColumnChunk */
}

int pq_writer_append_file(pq_writer *w, const char *path, sp_error *err)
{
    if (w->failed)
        return sp_fail(err, SP_ERR_USAGE, "%s: an earlier write failed", w->path);
    SP_TRY(flush_row_group(w, err));
    pq_reader *r = NULL;
    if (pq_reader_open(&r, path, err) != SP_OK)
        return err->code;
    int rc = SP_OK;
    int fd = -1;
    if (pq_reader_num_columns(r) != w->ncols) {
        rc = sp_fail(err, SP_ERR_USAGE, "%s: %zu columns, %s has %zu", path,
                     pq_reader_num_columns(r), w->path, w->ncols);
        goto out;
    }
    for (size_t i = 0; i < w->ncols; i++)
        if (!same_column(pq_reader_column(r, i), &w->cols[i].spec)) {
            rc = sp_fail(err, SP_ERR_USAGE, "%s: column %zu (%s) differs from %s's", path, i,
                         pq_reader_column(r, i)->name, w->path);
            goto out;
        }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = sp_fail(err, SP_ERR_IO, "%s: %s", path, strerror(errno));
        goto out;
    }
    for (size_t g = 0; g < pq_reader_num_row_groups(r); g++) {
        pq_tenc t;
        pq_tenc_init(&t, &w->rgmeta);
        pq_tenc_struct_begin(&t); /* RowGroup */
        pq_tenc_field_list_begin(&t, 1, PQ_TC_STRUCT, w->ncols);
        int64_t rg_start = w->pos, rg_comp = 0;
        for (size_t i = 0; i < w->ncols; i++) {
            const pq_chunk_info *ci = pq_reader_chunk(r, g, i);
            int64_t start = ci->data_page_offset;
            if (ci->dictionary_page_offset >= 0 && ci->dictionary_page_offset < start)
                start = ci->dictionary_page_offset;
            int64_t base = w->pos;
            if ((rc = copy_range(w, fd, path, start, ci->compressed_size, err)) != SP_OK)
                goto out;
            rg_comp += ci->compressed_size;
            write_chunk_meta(&t, &w->cols[i], ci, base + (ci->data_page_offset - start),
                             ci->dictionary_page_offset >= 0
                                 ? base + (ci->dictionary_page_offset - start)
                                 : -1,
                             ci->codec);
        }
        pq_tenc_field_i64(&t, 2, pq_reader_row_group_bytes(r, g));
        pq_tenc_field_i64(&t, 3, pq_reader_row_group_rows(r, g));
        pq_tenc_field_i64(&t, 5, rg_start);
        pq_tenc_field_i64(&t, 6, rg_comp);
        pq_tenc_struct_end(&t);
        if (pq_tenc_broken(&t)) {
            rc = wfail(w, err, SP_ERR_LIMIT, "footer metadata exceeds its buffer cap or memory");
            goto out;
        }
        w->total_rows += pq_reader_row_group_rows(r, g);
        w->nrg++;
    }
out:
    if (fd >= 0)
        close(fd);
    pq_reader_close(r);
    return rc;
}
