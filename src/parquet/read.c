/* read.c — the Parquet reader: footer, schema, pages, row groups (parquet.h).
 * Sits between files on disk (ours, DuckDB's, pyarrow's, Spark's) and the
 * consumers of column batches. Flat schemas only. It must never trust the
 * file: every offset, size and count is checked against the file, the column
 * chunk, the row group and a cap before it is used or allocated, and every
 * failure names the file, the column and the row group. */
#include "parquet.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/buf.h"
#include "decode.h"
#include "thrift_dec.h"

/* Caps (STYLE habit 6). Real footers are kilobytes; real pages megabytes. */
#define PQR_MAX_FOOTER ((uint32_t)64 << 20)
#define PQR_MAX_COLUMNS 100000
#define PQR_MAX_ROW_GROUPS 1000000
#define PQR_MAX_RG_ROWS INT32_MAX /* offsets are uint32, and pages count in i32 */
#define PQR_MAX_PAGE ((size_t)1 << 30)
#define PQR_MAX_FLBA_LEN (1 << 20)
#define PQR_DEFAULT_MEM_LIMIT ((size_t)1 << 30)

/* PageType numbers from parquet.thrift. */
enum { PAGE_DATA = 0, PAGE_INDEX = 1, PAGE_DICTIONARY = 2, PAGE_DATA_V2 = 3 };

typedef struct pqr_col {
    pq_column_spec spec;
    size_t width;    /* bytes per slot of `values`; 0 for offset-delivered types */
    size_t elem_len; /* fixed value length for FIXED_LEN_BYTE_ARRAY / INT96 */
} pqr_col;

typedef struct pqr_chunk {
    pq_chunk_info info;
    int type; /* ColumnMetaData.type; -1 when absent */
    bool has_meta, external, encrypted;
    unsigned seen; /* bits of the required ColumnMetaData fields seen */
    const uint8_t *path0;
    uint32_t path0_len, path_n;
    int64_t start, end; /* bytes of the chunk: first page .. end of last page */
    /* Raw statistics views into the footer, resolved after parsing. */
    const uint8_t *st_min, *st_max, *st_minv, *st_maxv;
    uint32_t st_min_len, st_max_len, st_minv_len, st_maxv_len;
    bool st_has_min, st_has_max, st_has_minv, st_has_maxv;
} pqr_chunk;

typedef struct pqr_rg {
    int64_t num_rows, total_byte_size;
    uint32_t ncolumns; /* as listed in the footer, checked against the schema */
    bool has_rows;
} pqr_rg;

typedef struct pqr_out {
    uint8_t *valid;
    size_t valid_cap;
    uint8_t *values;
    size_t values_cap;
    uint32_t *offsets;
    size_t offsets_cap;
    sp_buf bytes;
    size_t bytes_acc; /* bytes.cap already counted in mem_used */
} pqr_out;

struct pq_reader {
    char *path;
    int fd;
    int64_t file_size, data_end; /* data_end: first byte of the footer */
    uint8_t *footer;
    uint32_t footer_len;
    size_t ncols;
    pqr_col *cols;
    size_t nrg;
    pqr_rg *rgs;
    pqr_chunk *chunks; /* nrg * ncols, row-group major */
    int64_t num_rows;
    char *created_by;

    size_t mem_limit, mem_used;
    pqr_out *out;
    /* Scratch reused across pages and chunks; counted in mem_used. */
    uint8_t *chunk_buf;
    size_t chunk_cap;
    uint8_t *page_buf;
    size_t page_cap;
    uint32_t *idx;
    size_t idx_cap;
    uint32_t *ends;
    size_t ends_cap;
    int64_t *i64;
    size_t i64_cap;
    uint8_t *dict_fixed;
    size_t dict_fixed_cap;
    uint32_t *dict_off;
    size_t dict_off_cap;
    sp_buf dict_bytes;
    size_t dict_bytes_acc;
    size_t dict_n;
    bool have_dict;
    pq_dec_codec codec;
};

/* ---- small helpers --------------------------------------------------------- */

static int read_at(pq_reader *r, int64_t off, void *buf, size_t n, sp_error *err)
{
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t got = pread(r->fd, p, n, (off_t)off);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return sp_fail(err, SP_ERR_IO, "%s: read at offset %lld: %s", r->path, (long long)off,
                         strerror(errno));
        }
        if (got == 0)
            return sp_fail(err, SP_ERR_IO, "%s: file shrank while reading (offset %lld)", r->path,
                         (long long)off);
        p += got;
        n -= (size_t)got;
        off += got;
    }
    return SP_OK;
}

/* Grow a reader-owned buffer to at least `need` bytes, counting every byte
 * the reader holds against the memory limit before allocating. */
static int mem_grow(pq_reader *r, void *bufp, size_t *cap, size_t need, const char *ctx,
                    sp_error *err)
{
    void **buf = bufp;
    if (need <= *cap && *buf)
        return SP_OK;
    if (need == 0)
        need = 1;
    size_t others = r->mem_used - *cap;
    size_t want = need;
    if (*cap && need < *cap + *cap / 2)
        want = *cap + *cap / 2; /* amortise growth of reused scratch */
    if (want > r->mem_limit || others > r->mem_limit - want)
        want = need;
    if (need > r->mem_limit || others > r->mem_limit - need)
        return sp_fail(err, SP_ERR_LIMIT,
                     "%s: %s needs %zu more bytes, above the memory limit of %zu bytes "
                     "(%zu already in use)",
                     r->path, ctx, need, r->mem_limit, others);
    void *p = realloc(*buf, want);
    if (!p)
        return sp_fail(err, SP_ERR_NOMEM, "%s: %s: out of memory for %zu bytes", r->path, ctx, want);
    *buf = p;
    r->mem_used = others + want;
    *cap = want;
    return SP_OK;
}

static void mem_release(pq_reader *r, void *bufp, size_t *cap)
{
    void **buf = bufp;
    free(*buf);
    *buf = NULL;
    r->mem_used -= *cap;
    *cap = 0;
}

/* sp_buf-backed buffers: cap the next appends by what the limit leaves, and
 * count what they took afterwards. */
static void buf_limit(pq_reader *r, sp_buf *b, size_t acc)
{
    size_t others = r->mem_used - acc;
    size_t left = others < r->mem_limit ? r->mem_limit - others : 0;
    b->limit = left;
}

static void buf_account(pq_reader *r, sp_buf *b, size_t *acc)
{
    r->mem_used = r->mem_used - *acc + b->cap;
    *acc = b->cap;
}

static void buf_release(pq_reader *r, sp_buf *b, size_t *acc)
{
    sp_buf_free(b);
    r->mem_used -= *acc;
    *acc = 0;
}

/* ---- footer parsing ---------------------------------------------------------- */

typedef struct pqr_selem {
    int type;
    int32_t type_length;
    int repetition;
    const uint8_t *name;
    uint32_t name_len;
    int32_t num_children;
    int converted;
    int32_t scale, precision;
    int logical; /* LogicalType union field id, 0 when absent */
    int32_t lt_scale, lt_precision;
    int32_t int_bits; /* IntType.bitWidth, 0 when absent */
    bool int_signed;
} pqr_selem;

static void parse_logical(pqr_thrift *t, pqr_selem *e)
{
    int16_t last = 0, id;
    int ft;
    pqr_thrift_struct_begin(t);
    while (pqr_thrift_next_field(t, &last, &ft, &id)) {
        if (ft != PQR_T_STRUCT) {
            pqr_thrift_skip(t, ft);
            continue;
        }
        e->logical = id;
        if (id == 5) { /* DecimalType { 1: scale, 2: precision } */
            int16_t l2 = 0, id2;
            int ft2;
            pqr_thrift_struct_begin(t);
            while (pqr_thrift_next_field(t, &l2, &ft2, &id2)) {
                if (id2 == 1)
                    e->lt_scale = pqr_thrift_i32(t, ft2);
                else if (id2 == 2)
                    e->lt_precision = pqr_thrift_i32(t, ft2);
                else
                    pqr_thrift_skip(t, ft2);
            }
            pqr_thrift_struct_end(t);
        } else if (id == 10) { /* IntType { 1: bitWidth, 2: isSigned } */
            int16_t l2 = 0, id2;
            int ft2;
            pqr_thrift_struct_begin(t);
            while (pqr_thrift_next_field(t, &l2, &ft2, &id2)) {
                if (id2 == 1)
                    e->int_bits = pqr_thrift_i32(t, ft2);
                else if (id2 == 2)
                    e->int_signed = pqr_thrift_bool(t, ft2);
                else
                    pqr_thrift_skip(t, ft2);
            }
            pqr_thrift_struct_end(t);
        } else {
            pqr_thrift_skip(t, ft);
        }
    }
    pqr_thrift_struct_end(t);
}

static void parse_selem(pqr_thrift *t, pqr_selem *e)
{
    int16_t last = 0, id;
    int ft;
    memset(e, 0, sizeof *e);
    e->type = e->repetition = e->converted = -1;
    e->num_children = -1;
    e->scale = e->precision = e->lt_scale = e->lt_precision = -1;
    e->type_length = -1;
    pqr_thrift_struct_begin(t);
    while (pqr_thrift_next_field(t, &last, &ft, &id)) {
        switch (id) {
        case 1: e->type = pqr_thrift_i32(t, ft); break;
        case 2: e->type_length = pqr_thrift_i32(t, ft); break;
        case 3: e->repetition = pqr_thrift_i32(t, ft); break;
        case 4: pqr_thrift_binary(t, ft, &e->name, &e->name_len); break;
        case 5: e->num_children = pqr_thrift_i32(t, ft); break;
        case 6: e->converted = pqr_thrift_i32(t, ft); break;
        case 7: e->scale = pqr_thrift_i32(t, ft); break;
        case 8: e->precision = pqr_thrift_i32(t, ft); break;
        case 10:
            if (ft == PQR_T_STRUCT)
                parse_logical(t, e);
            else
                pqr_thrift_skip(t, ft);
            break;
        default: pqr_thrift_skip(t, ft);
        }
    }
    pqr_thrift_struct_end(t);
}

static void parse_stats(pqr_thrift *t, pqr_chunk *c)
{
    int16_t last = 0, id;
    int ft;
    pqr_thrift_struct_begin(t);
    while (pqr_thrift_next_field(t, &last, &ft, &id)) {
        switch (id) {
        case 1:
            pqr_thrift_binary(t, ft, &c->st_max, &c->st_max_len);
            c->st_has_max = true;
            break;
        case 2:
            pqr_thrift_binary(t, ft, &c->st_min, &c->st_min_len);
            c->st_has_min = true;
            break;
        case 3: c->info.stats.null_count = pqr_thrift_i64(t, ft); break;
        case 5:
            pqr_thrift_binary(t, ft, &c->st_maxv, &c->st_maxv_len);
            c->st_has_maxv = true;
            break;
        case 6:
            pqr_thrift_binary(t, ft, &c->st_minv, &c->st_minv_len);
            c->st_has_minv = true;
            break;
        default: pqr_thrift_skip(t, ft);
        }
    }
    pqr_thrift_struct_end(t);
}

enum { SEEN_TYPE = 1, SEEN_CODEC = 2, SEEN_NUMV = 4, SEEN_TCS = 8, SEEN_DPO = 16 };

static void parse_colmeta(pqr_thrift *t, pqr_chunk *c)
{
    int16_t last = 0, id;
    int ft, et;
    c->has_meta = true;
    pqr_thrift_struct_begin(t);
    while (pqr_thrift_next_field(t, &last, &ft, &id)) {
        switch (id) {
        case 1:
            c->type = pqr_thrift_i32(t, ft);
            c->seen |= SEEN_TYPE;
            break;
        case 2: {
            uint32_t n = pqr_thrift_list_begin(t, ft, &et);
            for (uint32_t i = 0; i < n && !t->why; i++) {
                int32_t e = pqr_thrift_i32(t, et);
                if (e >= 0 && e < 32)
                    c->info.encodings |= 1u << e;
            }
            break;
        }
        case 3: {
            uint32_t n = pqr_thrift_list_begin(t, ft, &et);
            c->path_n = n;
            for (uint32_t i = 0; i < n && !t->why; i++) {
                const uint8_t *p;
                uint32_t l;
                pqr_thrift_binary(t, et, &p, &l);
                if (i == 0) {
                    c->path0 = p;
                    c->path0_len = l;
                }
            }
            break;
        }
        case 4:
            c->info.codec = (pq_codec)pqr_thrift_i32(t, ft);
            c->seen |= SEEN_CODEC;
            break;
        case 5:
            c->info.num_values = pqr_thrift_i64(t, ft);
            c->seen |= SEEN_NUMV;
            break;
        case 6: c->info.uncompressed_size = pqr_thrift_i64(t, ft); break;
        case 7:
            c->info.compressed_size = pqr_thrift_i64(t, ft);
            c->seen |= SEEN_TCS;
            break;
        case 9:
            c->info.data_page_offset = pqr_thrift_i64(t, ft);
            c->seen |= SEEN_DPO;
            break;
        case 11: c->info.dictionary_page_offset = pqr_thrift_i64(t, ft); break;
        case 12:
            if (ft == PQR_T_STRUCT)
                parse_stats(t, c);
            else
                pqr_thrift_skip(t, ft);
            break;
        default: pqr_thrift_skip(t, ft);
        }
    }
    pqr_thrift_struct_end(t);
}

static void parse_chunk(pqr_thrift *t, pqr_chunk *c)
{
    int16_t last = 0, id;
    int ft;
    pqr_thrift_struct_begin(t);
    while (pqr_thrift_next_field(t, &last, &ft, &id)) {
        switch (id) {
        case 1:
            c->external = true;
            pqr_thrift_skip(t, ft);
            break;
        case 3:
            if (ft == PQR_T_STRUCT)
                parse_colmeta(t, c);
            else
                pqr_thrift_skip(t, ft);
            break;
        case 8:
        case 9:
            c->encrypted = true;
            pqr_thrift_skip(t, ft);
            break;
        default: pqr_thrift_skip(t, ft);
        }
    }
    pqr_thrift_struct_end(t);
}

static void init_chunk(pqr_chunk *c)
{
    memset(c, 0, sizeof *c);
    c->type = -1;
    c->info.dictionary_page_offset = -1;
    c->info.data_page_offset = -1;
    c->info.stats.null_count = -1;
}

/* A RowGroup; its chunks go to `chunks` (ncols slots); extra ones are
 * counted but skipped, and the count is checked by the caller. */
static void parse_rg(pqr_thrift *t, pqr_rg *g, pqr_chunk *chunks, size_t ncols)
{
    int16_t last = 0, id;
    int ft, et;
    pqr_thrift_struct_begin(t);
    while (pqr_thrift_next_field(t, &last, &ft, &id)) {
        switch (id) {
        case 1: {
            uint32_t n = pqr_thrift_list_begin(t, ft, &et);
            g->ncolumns = n;
            for (uint32_t i = 0; i < n && !t->why; i++) {
                if (et != PQR_T_STRUCT)
                    pqr_thrift_fail(t, "RowGroup.columns is not a list of structs");
                else if (i < ncols)
                    parse_chunk(t, &chunks[i]);
                else
                    pqr_thrift_skip(t, et);
            }
            break;
        }
        case 2: g->total_byte_size = pqr_thrift_i64(t, ft); break;
        case 3:
            g->num_rows = pqr_thrift_i64(t, ft);
            g->has_rows = true;
            break;
        default: pqr_thrift_skip(t, ft);
        }
    }
    pqr_thrift_struct_end(t);
}

static int thrift_error(pq_reader *r, const pqr_thrift *t, sp_error *err)
{
    return sp_fail(err, SP_ERR_CORRUPT, "%s: footer is not valid Thrift at byte %zu of %u: %s",
                 r->path, pqr_thrift_pos(t), r->footer_len, t->why);
}

static char *dup_bytes(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        if (n)
            memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

/* Map one leaf SchemaElement to a column spec (flat schemas only). */
static int build_column(pq_reader *r, const pqr_selem *e, pqr_col *c, sp_error *err)
{
    char *name = dup_bytes(e->name ? e->name : (const uint8_t *)"", e->name_len);
    if (!name)
        return sp_fail(err, SP_ERR_NOMEM, "%s: out of memory", r->path);
    c->spec.name = name;
    if (e->num_children > 0 || e->type < 0)
        return sp_fail(err, SP_ERR_UNSUPPORTED,
                     "%s: column '%s' is a group (nested schema); only flat schemas are supported",
                     r->path, name);
    if (e->repetition == 2 || e->repetition == 3)
        return sp_fail(err, SP_ERR_UNSUPPORTED,
                     "%s: column '%s' is repeated (a list); only flat schemas are supported",
                     r->path, name);
    if (e->repetition < 0 || e->repetition > 1)
        return sp_fail(err, SP_ERR_CORRUPT, "%s: column '%s' has no valid repetition type",
                     r->path, name);
    if (e->type > PQ_FIXED_LEN_BYTE_ARRAY)
        return sp_fail(err, SP_ERR_CORRUPT, "%s: column '%s' has unknown physical type %d", r->path,
                     name, e->type);
    c->spec.physical = (pq_physical)e->type;
    c->spec.optional = e->repetition == 1;
    switch (c->spec.physical) {
    case PQ_BOOLEAN: c->width = 1; break;
    case PQ_INT32:
    case PQ_FLOAT: c->width = 4; break;
    case PQ_INT64:
    case PQ_DOUBLE: c->width = 8; break;
    case PQ_INT96:
        c->elem_len = 12;
        c->spec.type_length = 12;
        break;
    case PQ_BYTE_ARRAY: break;
    case PQ_FIXED_LEN_BYTE_ARRAY:
        if (e->type_length <= 0 || e->type_length > PQR_MAX_FLBA_LEN)
            return sp_fail(err, SP_ERR_CORRUPT,
                         "%s: column '%s' is FIXED_LEN_BYTE_ARRAY with invalid length %d",
                         r->path, name, e->type_length);
        c->elem_len = (size_t)e->type_length;
        c->spec.type_length = e->type_length;
        break;
    }

    /* LogicalType wins over the deprecated ConvertedType when both exist. */
    pq_logical lg = PQ_LOGICAL_NONE;
    int precision = e->precision, scale = e->scale;
    if (e->logical) {
        switch (e->logical) {
        case 1: lg = PQ_LOGICAL_STRING; break;
        case 5:
            lg = PQ_LOGICAL_DECIMAL;
            precision = e->lt_precision;
            scale = e->lt_scale;
            break;
        case 6: lg = PQ_LOGICAL_DATE; break;
        case 10:
            /* A signed integer as wide as its physical type adds nothing. */
            lg = e->int_signed && ((e->int_bits == 32 && e->type == PQ_INT32) ||
                                   (e->int_bits == 64 && e->type == PQ_INT64))
                     ? PQ_LOGICAL_NONE
                     : PQ_LOGICAL_OTHER;
            break;
        default: lg = PQ_LOGICAL_OTHER;
        }
    } else if (e->converted >= 0) {
        switch (e->converted) {
        case 0: lg = PQ_LOGICAL_STRING; break;
        case 5: lg = PQ_LOGICAL_DECIMAL; break;
        case 6: lg = PQ_LOGICAL_DATE; break;
        case 17: lg = e->type == PQ_INT32 ? PQ_LOGICAL_NONE : PQ_LOGICAL_OTHER; break; /* INT_32 */
        case 18: lg = e->type == PQ_INT64 ? PQ_LOGICAL_NONE : PQ_LOGICAL_OTHER; break; /* INT_64 */
        default: lg = PQ_LOGICAL_OTHER;
        }
    }
    /* An annotation on the wrong physical type is passed through as OTHER:
     * the values are still delivered by their physical type. */
    if (lg == PQ_LOGICAL_STRING && c->spec.physical != PQ_BYTE_ARRAY)
        lg = PQ_LOGICAL_OTHER;
    if (lg == PQ_LOGICAL_DATE && c->spec.physical != PQ_INT32)
        lg = PQ_LOGICAL_OTHER;
    if (lg == PQ_LOGICAL_DECIMAL) {
        int maxp = c->spec.physical == PQ_INT32   ? 9
                   : c->spec.physical == PQ_INT64 ? 18
                   : c->spec.physical == PQ_FIXED_LEN_BYTE_ARRAY || c->spec.physical == PQ_BYTE_ARRAY
                       ? 1000000
                       : 0;
        if (maxp == 0)
            lg = PQ_LOGICAL_OTHER;
        else if (precision < 1 || precision > maxp || scale < 0 || scale > precision)
            return sp_fail(err, SP_ERR_CORRUPT,
                         "%s: column '%s' is DECIMAL with invalid precision %d / scale %d for %s",
                         r->path, name, precision, scale, pq_physical_name(c->spec.physical));
        else {
            c->spec.precision = precision;
            c->spec.scale = scale;
        }
    }
    c->spec.logical = lg;
    return SP_OK;
}

static bool stat_len_ok(const pqr_col *col, uint32_t len)
{
    switch (col->spec.physical) {
    case PQ_BOOLEAN: return len == 1;
    case PQ_INT32:
    case PQ_FLOAT: return len == 4;
    case PQ_INT64:
    case PQ_DOUBLE: return len == 8;
    case PQ_INT96:
    case PQ_FIXED_LEN_BYTE_ARRAY: return len == col->elem_len;
    case PQ_BYTE_ARRAY: return true;
    }
    return false;
}

static void resolve_stats(const pqr_col *col, pqr_chunk *c)
{
    pq_stats *s = &c->info.stats;
    if (c->st_has_minv && c->st_has_maxv) {
        s->min = c->st_minv;
        s->min_len = c->st_minv_len;
        s->max = c->st_maxv;
        s->max_len = c->st_maxv_len;
        s->has_min_max = true;
    } else if (c->st_has_min && c->st_has_max) {
        /* The deprecated fields were ordered by signed comparison, which is
         * only the right order for the signed numeric types. */
        pq_physical t = col->spec.physical;
        bool signed_ok = (t == PQ_BOOLEAN || t == PQ_INT32 || t == PQ_INT64 || t == PQ_FLOAT ||
                          t == PQ_DOUBLE) &&
                         col->spec.logical != PQ_LOGICAL_OTHER;
        if (signed_ok) {
            s->min = c->st_min;
            s->min_len = c->st_min_len;
            s->max = c->st_max;
            s->max_len = c->st_max_len;
            s->has_min_max = true;
        }
    }
    if (s->has_min_max && (!stat_len_ok(col, s->min_len) || !stat_len_ok(col, s->max_len))) {
        s->has_min_max = false;
        s->min = s->max = NULL;
        s->min_len = s->max_len = 0;
    }
}

/* Check one chunk's metadata against the schema, the row group and the file,
 * and work out the byte range its pages occupy. */
static int check_chunk(pq_reader *r, size_t g, size_t i, sp_error *err)
{
    pqr_chunk *c = &r->chunks[g * r->ncols + i];
    const pqr_col *col = &r->cols[i];
    const char *nm = col->spec.name;
    int64_t rows = r->rgs[g].num_rows;
#define CFAIL(code, ...)                                                                    \
    do {                                                                                    \
        char m_[600];                                                                       \
        snprintf(m_, sizeof m_, __VA_ARGS__);                                               \
        return sp_fail(err, code, "%s: column '%s' row group %zu: %s", r->path, nm, g, m_);  \
    } while (0)
    if (c->encrypted)
        CFAIL(SP_ERR_UNSUPPORTED, "column is encrypted; encryption is not supported");
    if (c->external)
        CFAIL(SP_ERR_UNSUPPORTED, "column data lives in another file (file_path)");
    if (!c->has_meta)
        CFAIL(SP_ERR_CORRUPT, "column chunk has no metadata");
    if ((c->seen & (SEEN_TYPE | SEEN_CODEC | SEEN_NUMV | SEEN_TCS | SEEN_DPO)) !=
        (SEEN_TYPE | SEEN_CODEC | SEEN_NUMV | SEEN_TCS | SEEN_DPO))
        CFAIL(SP_ERR_CORRUPT, "column metadata lacks a required field");
    if (c->type != (int)col->spec.physical)
        CFAIL(SP_ERR_CORRUPT, "chunk type %d does not match the schema's %s", c->type,
              pq_physical_name(col->spec.physical));
    if (c->path_n != 1 || c->path0_len != strlen(nm) || memcmp(c->path0, nm, c->path0_len) != 0)
        CFAIL(SP_ERR_CORRUPT, "path_in_schema does not name this column");
    if (c->info.num_values < 0 || c->info.num_values != rows)
        CFAIL(SP_ERR_CORRUPT, "column chunk claims %lld values but the row group has %lld rows",
              (long long)c->info.num_values, (long long)rows);
    if (rows == 0) {
        /* Nothing will be read from an empty chunk, and some writers leave
         * its offsets at 0 (parquet-testing column_chunk_key_value_metadata). */
        c->start = c->end = 0;
        if (c->info.dictionary_page_offset <= 0)
            c->info.dictionary_page_offset = -1;
        resolve_stats(col, c);
        return SP_OK;
    }
    if (c->info.compressed_size <= 0 || c->info.uncompressed_size < 0)
        CFAIL(SP_ERR_CORRUPT, "negative or zero chunk size (compressed %lld, uncompressed %lld)",
              (long long)c->info.compressed_size, (long long)c->info.uncompressed_size);
    int64_t start = c->info.data_page_offset;
    int64_t dict = c->info.dictionary_page_offset;
    /* Some writers leave dictionary_page_offset 0 or point it past the data:
     * then the dictionary, if any, is simply the first page at the data
     * offset. Only an offset before the data pages moves the start. */
    if (dict > 0 && dict < start && dict >= 4)
        start = dict;
    if (dict <= 0)
        c->info.dictionary_page_offset = -1;
    if (start < 4 || start >= r->data_end || c->info.compressed_size > r->data_end - start)
        CFAIL(SP_ERR_CORRUPT,
              "column chunk at offset %lld with %lld bytes lies outside the data area of the "
              "file (bytes 4 to %lld)",
              (long long)start, (long long)c->info.compressed_size, (long long)r->data_end);
    if (c->info.data_page_offset < start ||
        c->info.data_page_offset - start >= c->info.compressed_size)
        CFAIL(SP_ERR_CORRUPT,
              "data page offset %lld lies outside the column chunk (bytes %lld to %lld)",
              (long long)c->info.data_page_offset, (long long)start,
              (long long)(start + c->info.compressed_size));
    c->start = start;
    c->end = start + c->info.compressed_size;
    resolve_stats(col, c);
    return SP_OK;
#undef CFAIL
}

static int parse_footer(pq_reader *r, sp_error *err)
{
    pqr_thrift t;
    int16_t last = 0, id;
    int ft, et;
    pqr_selem *elems = NULL;
    uint32_t nelems = 0;
    bool have_rows = false, have_schema = false;
    int rc = SP_OK;

    /* Pass 1: everything but the row groups, which need the column count. */
    pqr_thrift_init(&t, r->footer, r->footer_len);
    pqr_thrift_struct_begin(&t);
    while (pqr_thrift_next_field(&t, &last, &ft, &id)) {
        switch (id) {
        case 2: {
            uint32_t n = pqr_thrift_list_begin(&t, ft, &et);
            if (t.why)
                break;
            if (et != PQR_T_STRUCT && n > 0) {
                pqr_thrift_fail(&t, "schema is not a list of structs");
                break;
            }
            if (n > PQR_MAX_COLUMNS + 1) {
                rc = sp_fail(err, SP_ERR_LIMIT, "%s: schema has %u elements, above the cap of %d",
                           r->path, n, PQR_MAX_COLUMNS + 1);
                goto out;
            }
            free(elems);
            elems = calloc(n ? n : 1, sizeof *elems);
            if (!elems) {
                rc = sp_fail(err, SP_ERR_NOMEM, "%s: out of memory", r->path);
                goto out;
            }
            nelems = n;
            have_schema = true;
            for (uint32_t i = 0; i < n && !t.why; i++)
                parse_selem(&t, &elems[i]);
            break;
        }
        case 3:
            r->num_rows = pqr_thrift_i64(&t, ft);
            have_rows = true;
            break;
        case 6: {
            const uint8_t *p;
            uint32_t l;
            pqr_thrift_binary(&t, ft, &p, &l);
            if (!t.why) {
                free(r->created_by);
                r->created_by = dup_bytes(p, l);
                if (!r->created_by) {
                    rc = sp_fail(err, SP_ERR_NOMEM, "%s: out of memory", r->path);
                    goto out;
                }
            }
            break;
        }
        case 8:
            rc = sp_fail(err, SP_ERR_UNSUPPORTED, "%s: file is encrypted; encryption is not supported",
                       r->path);
            goto out;
        default: pqr_thrift_skip(&t, ft);
        }
    }
    pqr_thrift_struct_end(&t);
    if (t.why) {
        rc = thrift_error(r, &t, err);
        goto out;
    }
    if (!have_schema || !have_rows) {
        rc = sp_fail(err, SP_ERR_CORRUPT, "%s: footer lacks the %s", r->path,
                   !have_schema ? "schema" : "row count");
        goto out;
    }
    if (nelems < 2 || elems[0].num_children <= 0) {
        rc = sp_fail(err, SP_ERR_CORRUPT, "%s: schema has no columns", r->path);
        goto out;
    }
    /* A flat schema is a root whose children are all leaves. */
    r->ncols = (size_t)nelems - 1;
    r->cols = calloc(r->ncols, sizeof *r->cols);
    if (!r->cols) {
        rc = sp_fail(err, SP_ERR_NOMEM, "%s: out of memory", r->path);
        goto out;
    }
    for (size_t i = 0; i < r->ncols; i++) {
        rc = build_column(r, &elems[i + 1], &r->cols[i], err);
        if (rc != SP_OK)
            goto out;
    }
    if ((size_t)elems[0].num_children != r->ncols) {
        rc = sp_fail(err, SP_ERR_CORRUPT, "%s: schema root claims %d columns but lists %zu",
                   r->path, elems[0].num_children, r->ncols);
        goto out;
    }
    if (r->num_rows < 0) {
        rc = sp_fail(err, SP_ERR_CORRUPT, "%s: footer claims a negative row count (%lld)", r->path,
                   (long long)r->num_rows);
        goto out;
    }

    /* Pass 2: the row groups. */
    bool have_rgs = false;
    last = 0;
    pqr_thrift_init(&t, r->footer, r->footer_len);
    pqr_thrift_struct_begin(&t);
    while (pqr_thrift_next_field(&t, &last, &ft, &id)) {
        if (id != 4 || have_rgs) {
            pqr_thrift_skip(&t, ft);
            continue;
        }
        have_rgs = true;
        uint32_t n = pqr_thrift_list_begin(&t, ft, &et);
        if (t.why)
            break;
        if (et != PQR_T_STRUCT && n > 0) {
            pqr_thrift_fail(&t, "row_groups is not a list of structs");
            break;
        }
        if (n > PQR_MAX_ROW_GROUPS) {
            rc = sp_fail(err, SP_ERR_LIMIT, "%s: footer lists %u row groups, above the cap of %d",
                       r->path, n, PQR_MAX_ROW_GROUPS);
            goto out;
        }
        /* Each column chunk takes well over one footer byte, so a count
         * product above the footer size is a lie; refuse before allocating. */
        if ((uint64_t)n * r->ncols > r->footer_len) {
            rc = sp_fail(err, SP_ERR_CORRUPT,
                       "%s: footer lists %u row groups of %zu columns, more than its %u bytes "
                       "can hold",
                       r->path, n, r->ncols, r->footer_len);
            goto out;
        }
        r->nrg = n;
        r->rgs = calloc(n ? n : 1, sizeof *r->rgs);
        r->chunks = calloc(n ? (size_t)n * r->ncols : 1, sizeof *r->chunks);
        if (!r->rgs || !r->chunks) {
            rc = sp_fail(err, SP_ERR_NOMEM, "%s: out of memory", r->path);
            goto out;
        }
        for (size_t g = 0; g < n && !t.why; g++) {
            for (size_t i = 0; i < r->ncols; i++)
                init_chunk(&r->chunks[g * r->ncols + i]);
            parse_rg(&t, &r->rgs[g], &r->chunks[g * r->ncols], r->ncols);
        }
    }
    pqr_thrift_struct_end(&t);
    if (t.why) {
        rc = thrift_error(r, &t, err);
        goto out;
    }
    if (!have_rgs) {
        rc = sp_fail(err, SP_ERR_CORRUPT, "%s: footer lacks the row group list", r->path);
        goto out;
    }

    int64_t total = 0;
    for (size_t g = 0; g < r->nrg; g++) {
        pqr_rg *rg = &r->rgs[g];
        if (!rg->has_rows || rg->num_rows < 0 || rg->num_rows > PQR_MAX_RG_ROWS) {
            rc = sp_fail(err, rg->num_rows > PQR_MAX_RG_ROWS ? SP_ERR_LIMIT : SP_ERR_CORRUPT,
                       "%s: row group %zu claims %lld rows (allowed 0 to %d)", r->path, g,
                       (long long)rg->num_rows, PQR_MAX_RG_ROWS);
            goto out;
        }
        if (rg->ncolumns != r->ncols) {
            rc = sp_fail(err, SP_ERR_CORRUPT, "%s: row group %zu has %u column chunks, schema has %zu",
                       r->path, g, rg->ncolumns, r->ncols);
            goto out;
        }
        total += rg->num_rows;
        for (size_t i = 0; i < r->ncols; i++) {
            rc = check_chunk(r, g, i, err);
            if (rc != SP_OK)
                goto out;
        }
    }
    if (total != r->num_rows) {
        rc = sp_fail(err, SP_ERR_CORRUPT, "%s: footer claims %lld rows but its row groups hold %lld",
                   r->path, (long long)r->num_rows, (long long)total);
        goto out;
    }
out:
    free(elems);
    return rc;
}

/* ---- open / close / accessors ------------------------------------------------- */

int pq_reader_open(pq_reader **out, const char *path, sp_error *err)
{
    *out = NULL;
    pq_reader *r = calloc(1, sizeof *r);
    if (!r)
        return sp_fail(err, SP_ERR_NOMEM, "%s: out of memory", path);
    r->fd = -1;
    r->mem_limit = PQR_DEFAULT_MEM_LIMIT;
    sp_buf_init(&r->dict_bytes, 0);
    r->path = dup_bytes((const uint8_t *)path, strlen(path));
    if (!r->path) {
        free(r);
        return sp_fail(err, SP_ERR_NOMEM, "%s: out of memory", path);
    }
    int rc;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; it has no
     * effect on the regular files accepted below. */
    r->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (r->fd < 0) {
        rc = sp_fail(err, SP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    struct stat st;
    if (fstat(r->fd, &st) != 0) {
        rc = sp_fail(err, SP_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = sp_fail(err, SP_ERR_IO, "%s: is a directory, not a Parquet file", path);
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = sp_fail(err, SP_ERR_IO, "%s: not a regular file (a device, FIFO or socket)", path);
        goto fail;
    }
    r->file_size = st.st_size;
    if (r->file_size < 12) {
        rc = sp_fail(err, SP_ERR_CORRUPT,
                   "%s: file is %lld bytes, too small to be Parquet (truncated?)", path,
                   (long long)r->file_size);
        goto fail;
    }
    uint8_t head[4], tail[8];
    if ((rc = read_at(r, 0, head, 4, err)) != SP_OK ||
        (rc = read_at(r, r->file_size - 8, tail, 8, err)) != SP_OK)
        goto fail;
    if (memcmp(head, "PAR1", 4) != 0) {
        rc = sp_fail(err, SP_ERR_CORRUPT, "%s: bad head magic (not a Parquet file)", path);
        goto fail;
    }
    if (memcmp(tail + 4, "PARE", 4) == 0) {
        rc = sp_fail(err, SP_ERR_UNSUPPORTED,
                   "%s: file has an encrypted footer; encryption is not supported", path);
        goto fail;
    }
    if (memcmp(tail + 4, "PAR1", 4) != 0) {
        rc = sp_fail(err, SP_ERR_CORRUPT, "%s: bad tail magic (truncated or not a Parquet file)",
                   path);
        goto fail;
    }
    uint32_t flen = (uint32_t)tail[0] | (uint32_t)tail[1] << 8 | (uint32_t)tail[2] << 16 |
                    (uint32_t)tail[3] << 24;
    if (flen == 0) {
        rc = sp_fail(err, SP_ERR_CORRUPT, "%s: footer length is 0", path);
        goto fail;
    }
    if ((int64_t)flen > r->file_size - 12) {
        rc = sp_fail(err, SP_ERR_CORRUPT,
                   "%s: footer length %u is past the start of the file (file is %lld bytes)", path,
                   flen, (long long)r->file_size);
        goto fail;
    }
    if (flen > PQR_MAX_FOOTER) {
        rc = sp_fail(err, SP_ERR_LIMIT, "%s: footer length %u is above the cap of %u bytes", path,
                   flen, PQR_MAX_FOOTER);
        goto fail;
    }
    r->footer_len = flen;
    r->data_end = r->file_size - 8 - flen;
    r->footer = malloc(flen);
    if (!r->footer) {
        rc = sp_fail(err, SP_ERR_NOMEM, "%s: out of memory for a %u-byte footer", path, flen);
        goto fail;
    }
    if ((rc = read_at(r, r->data_end, r->footer, flen, err)) != SP_OK)
        goto fail;
    if ((rc = parse_footer(r, err)) != SP_OK)
        goto fail;
    r->out = calloc(r->ncols, sizeof *r->out);
    if (!r->out) {
        rc = sp_fail(err, SP_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    for (size_t i = 0; i < r->ncols; i++)
        sp_buf_init(&r->out[i].bytes, 0);
    *out = r;
    return SP_OK;
fail:
    pq_reader_close(r);
    return rc;
}

static void release_outputs(pq_reader *r)
{
    if (!r->out)
        return;
    for (size_t i = 0; i < r->ncols; i++) {
        pqr_out *o = &r->out[i];
        mem_release(r, &o->valid, &o->valid_cap);
        mem_release(r, &o->values, &o->values_cap);
        mem_release(r, &o->offsets, &o->offsets_cap);
        buf_release(r, &o->bytes, &o->bytes_acc);
    }
}

void pq_reader_close(pq_reader *r)
{
    if (!r)
        return;
    release_outputs(r);
    free(r->out);
    if (r->cols)
        for (size_t i = 0; i < r->ncols; i++)
            free((char *)r->cols[i].spec.name);
    free(r->cols);
    free(r->rgs);
    free(r->chunks);
    free(r->footer);
    free(r->created_by);
    free(r->chunk_buf);
    free(r->page_buf);
    free(r->idx);
    free(r->ends);
    free(r->i64);
    free(r->dict_fixed);
    free(r->dict_off);
    sp_buf_free(&r->dict_bytes);
    pq_dec_codec_free(&r->codec);
    if (r->fd >= 0)
        close(r->fd);
    free(r->path);
    free(r);
}

size_t pq_reader_num_columns(const pq_reader *r) { return r->ncols; }

const pq_column_spec *pq_reader_column(const pq_reader *r, size_t i)
{
    return i < r->ncols ? &r->cols[i].spec : NULL;
}

int64_t pq_reader_num_rows(const pq_reader *r) { return r->num_rows; }
size_t pq_reader_num_row_groups(const pq_reader *r) { return r->nrg; }

int64_t pq_reader_row_group_rows(const pq_reader *r, size_t rg)
{
    return rg < r->nrg ? r->rgs[rg].num_rows : -1;
}

int64_t pq_reader_row_group_bytes(const pq_reader *r, size_t rg)
{
    return rg < r->nrg ? r->rgs[rg].total_byte_size : -1;
}

const pq_chunk_info *pq_reader_chunk(const pq_reader *r, size_t rg, size_t col)
{
    if (rg >= r->nrg || col >= r->ncols)
        return NULL;
    return &r->chunks[rg * r->ncols + col].info;
}

const char *pq_reader_created_by(const pq_reader *r) { return r->created_by ? r->created_by : ""; }

void pq_reader_set_memory_limit(pq_reader *r, size_t bytes)
{
    r->mem_limit = bytes ? bytes : PQR_DEFAULT_MEM_LIMIT;
}

/* ---- pages ------------------------------------------------------------------------ */

typedef struct pqr_page {
    int type;
    int32_t usize, csize;
    bool has_type, has_usize, has_csize;
    bool has_v1, has_v2, has_dict;
    int32_t nv, enc, def_enc;                 /* v1 (nv, enc shared with v2) */
    int32_t nulls, def_len, rep_len;          /* v2 */
    bool compressed;                          /* v2 */
    int32_t dict_n, dict_enc;                 /* dictionary */
} pqr_page;

static void parse_page_header(pqr_thrift *t, pqr_page *ph)
{
    int16_t last = 0, id;
    int ft;
    memset(ph, 0, sizeof *ph);
    ph->compressed = true;
    ph->nv = ph->dict_n = -1;
    pqr_thrift_struct_begin(t);
    while (pqr_thrift_next_field(t, &last, &ft, &id)) {
        switch (id) {
        case 1:
            ph->type = pqr_thrift_i32(t, ft);
            ph->has_type = true;
            break;
        case 2:
            ph->usize = pqr_thrift_i32(t, ft);
            ph->has_usize = true;
            break;
        case 3:
            ph->csize = pqr_thrift_i32(t, ft);
            ph->has_csize = true;
            break;
        case 5:
        case 7:
        case 8: {
            if (ft != PQR_T_STRUCT) {
                pqr_thrift_skip(t, ft);
                break;
            }
            int16_t l2 = 0, id2;
            int ft2;
            if (id == 5)
                ph->has_v1 = true;
            else if (id == 7)
                ph->has_dict = true;
            else
                ph->has_v2 = true;
            pqr_thrift_struct_begin(t);
            while (pqr_thrift_next_field(t, &l2, &ft2, &id2)) {
                if (id == 5) { /* DataPageHeader */
                    if (id2 == 1) ph->nv = pqr_thrift_i32(t, ft2);
                    else if (id2 == 2) ph->enc = pqr_thrift_i32(t, ft2);
                    else if (id2 == 3) ph->def_enc = pqr_thrift_i32(t, ft2);
                    else pqr_thrift_skip(t, ft2);
                } else if (id == 7) { /* DictionaryPageHeader */
                    if (id2 == 1) ph->dict_n = pqr_thrift_i32(t, ft2);
                    else if (id2 == 2) ph->dict_enc = pqr_thrift_i32(t, ft2);
                    else pqr_thrift_skip(t, ft2);
                } else { /* DataPageHeaderV2 */
                    switch (id2) {
                    case 1: ph->nv = pqr_thrift_i32(t, ft2); break;
                    case 2: ph->nulls = pqr_thrift_i32(t, ft2); break;
                    case 4: ph->enc = pqr_thrift_i32(t, ft2); break;
                    case 5: ph->def_len = pqr_thrift_i32(t, ft2); break;
                    case 6: ph->rep_len = pqr_thrift_i32(t, ft2); break;
                    case 7: ph->compressed = pqr_thrift_bool(t, ft2); break;
                    default: pqr_thrift_skip(t, ft2);
                    }
                }
            }
            pqr_thrift_struct_end(t);
            break;
        }
        default: pqr_thrift_skip(t, ft);
        }
    }
    pqr_thrift_struct_end(t);
}

/* Everything a page decode needs to know about where it is. */
typedef struct pqr_ctx {
    pq_reader *r;
    size_t rg, ci;
    const pqr_col *col;
    pqr_out *o;
    int codec;
    int page_no;
    int64_t chunk_off; /* file offset of the current page header */
} pqr_ctx;

/* Prefix a decoder's message with file, column, row group and page. */
static int page_fail(const pqr_ctx *x, sp_error *err)
{
    return sp_error_prefix(err, "%s: column '%s' row group %zu: page %d (at offset %lld)",
                           x->r->path, x->col->spec.name, x->rg, x->page_no,
                           (long long)x->chunk_off);
}

static int page_failf(const pqr_ctx *x, sp_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int page_failf(const pqr_ctx *x, sp_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sp_failv(err, code, fmt, ap);
    va_end(ap);
    return page_fail(x, err);
}

/* Bring a page body to its uncompressed form; *out may point into `src`. */
static int page_bytes(pqr_ctx *x, const uint8_t *src, size_t src_len, size_t dst_len,
                      bool compressed, const uint8_t **out, sp_error *err)
{
    pq_reader *r = x->r;
    /* A page whose values section is empty may store nothing at all, even
     * when compressed (parquet-mr v2 pages of NULLs only). */
    if (!compressed || x->codec == PQ_UNCOMPRESSED || (src_len == 0 && dst_len == 0)) {
        if (src_len != dst_len)
            return page_failf(x, err, SP_ERR_CORRUPT,
                              "stored size %zu differs from the uncompressed size %zu", src_len,
                              dst_len);
        *out = src;
        return SP_OK;
    }
    SP_TRY(mem_grow(r, &r->page_buf, &r->page_cap, dst_len, "a decompressed page", err));
    if (pq_decompress(&r->codec, x->codec, src, src_len, r->page_buf, dst_len, err) != SP_OK)
        return page_fail(x, err);
    *out = r->page_buf;
    return SP_OK;
}

static int decode_dictionary(pqr_ctx *x, const pqr_page *ph, const uint8_t *p, size_t len,
                             sp_error *err)
{
    pq_reader *r = x->r;
    const pqr_col *col = x->col;
    if (ph->dict_enc != PQ_ENC_PLAIN && ph->dict_enc != PQ_ENC_PLAIN_DICTIONARY)
        return page_failf(x, err, SP_ERR_UNSUPPORTED, "dictionary page encoding %s is not supported",
                          pq_encoding_name(ph->dict_enc));
    if (ph->dict_n < 0)
        return page_failf(x, err, SP_ERR_CORRUPT, "dictionary page claims %d values", ph->dict_n);
    size_t n = (size_t)ph->dict_n;
    /* Each dictionary entry takes at least this many bytes of page: refuse a
     * count the page cannot hold before allocating for it. */
    size_t min_bytes = col->spec.physical == PQ_BOOLEAN ? 0
                       : col->width                    ? col->width
                       : col->elem_len                 ? col->elem_len
                                                       : 4;
    if (min_bytes ? n > len / min_bytes : n > len * 8)
        return page_failf(x, err, SP_ERR_CORRUPT,
                          "dictionary page claims %zu values but holds only %zu bytes", n, len);
    int rc;
    if (col->width) {
        SP_TRY(mem_grow(r, &r->dict_fixed, &r->dict_fixed_cap, n * col->width, "the dictionary",
                        err));
        if (col->spec.physical == PQ_BOOLEAN)
            rc = pq_dec_plain_bool(p, len, r->dict_fixed, n, err);
        else
            rc = pq_dec_plain_fixed(p, len, col->width, r->dict_fixed, n, err);
    } else {
        SP_TRY(mem_grow(r, &r->dict_off, &r->dict_off_cap, (n + 1) * sizeof(uint32_t),
                        "the dictionary", err));
        sp_buf_reset(&r->dict_bytes);
        buf_limit(r, &r->dict_bytes, r->dict_bytes_acc);
        r->dict_off[0] = 0;
        if (col->elem_len)
            rc = pq_dec_plain_flba(p, len, col->elem_len, n, &r->dict_bytes, r->dict_off + 1, err);
        else
            rc = pq_dec_plain_bytes(p, len, n, &r->dict_bytes, r->dict_off + 1, err);
        buf_account(r, &r->dict_bytes, &r->dict_bytes_acc);
    }
    if (rc != SP_OK)
        return page_fail(x, err);
    r->dict_n = n;
    r->have_dict = true;
    return SP_OK;
}

/* Decode nn non-NULL values of encoding `enc` densely: fixed-width types to
 * `dst`, offset types appended to the column's bytes with `ends`. */
static int decode_values(pqr_ctx *x, int enc, const uint8_t *p, size_t len, size_t nn,
                         uint8_t *dst, uint32_t *ends, sp_error *err)
{
    pq_reader *r = x->r;
    const pqr_col *col = x->col;
    pq_physical ty = col->spec.physical;
    sp_buf *bytes = &x->o->bytes;
    int rc = SP_OK;
    switch (enc) {
    case PQ_ENC_PLAIN:
        if (ty == PQ_BOOLEAN)
            rc = pq_dec_plain_bool(p, len, dst, nn, err);
        else if (col->width)
            rc = pq_dec_plain_fixed(p, len, col->width, dst, nn, err);
        else if (ty == PQ_BYTE_ARRAY)
            rc = pq_dec_plain_bytes(p, len, nn, bytes, ends, err);
        else
            rc = pq_dec_plain_flba(p, len, col->elem_len, nn, bytes, ends, err);
        break;
    case PQ_ENC_PLAIN_DICTIONARY:
    case PQ_ENC_RLE_DICTIONARY:
        if (!r->have_dict)
            return page_failf(x, err, SP_ERR_CORRUPT,
                              "dictionary-encoded page but the column chunk has no dictionary page");
        SP_TRY(mem_grow(r, &r->idx, &r->idx_cap, nn * sizeof(uint32_t), "dictionary indices", err));
        rc = pq_dec_dict_indices(p, len, r->idx, nn, err);
        if (rc == SP_OK && col->width)
            rc = pq_dec_gather_fixed(r->dict_fixed, r->dict_n, col->width, r->idx, dst, nn, err);
        else if (rc == SP_OK)
            rc = pq_dec_gather_bytes(r->dict_off, r->dict_bytes.data, r->dict_n, r->idx, nn, bytes,
                                     ends, err);
        break;
    case PQ_ENC_RLE:
        if (ty != PQ_BOOLEAN)
            goto unsupported;
        rc = pq_dec_rle_bool(p, len, dst, nn, err);
        break;
    case PQ_ENC_DELTA_BINARY_PACKED: {
        if (ty != PQ_INT32 && ty != PQ_INT64)
            goto unsupported;
        size_t used;
        if (ty == PQ_INT64) {
            rc = pq_dec_delta(p, len, (int64_t *)(void *)dst, nn, &used, err);
            break;
        }
        SP_TRY(mem_grow(r, &r->i64, &r->i64_cap, nn * sizeof(int64_t), "delta scratch", err));
        rc = pq_dec_delta(p, len, r->i64, nn, &used, err);
        if (rc == SP_OK) {
            int32_t *d = (int32_t *)(void *)dst;
            for (size_t i = 0; i < nn; i++)
                d[i] = (int32_t)(uint32_t)(uint64_t)r->i64[i];
        }
        break;
    }
    case PQ_ENC_DELTA_LENGTH_BYTE_ARRAY:
        if (ty != PQ_BYTE_ARRAY)
            goto unsupported;
        SP_TRY(mem_grow(r, &r->i64, &r->i64_cap, nn * sizeof(int64_t), "delta scratch", err));
        rc = pq_dec_delta_length_bytes(p, len, nn, r->i64, bytes, ends, err);
        break;
    case PQ_ENC_DELTA_BYTE_ARRAY:
        if (ty != PQ_BYTE_ARRAY && ty != PQ_FIXED_LEN_BYTE_ARRAY)
            goto unsupported;
        SP_TRY(mem_grow(r, &r->i64, &r->i64_cap, 2 * nn * sizeof(int64_t), "delta scratch", err));
        rc = pq_dec_delta_bytes(p, len, nn, col->elem_len, r->i64, bytes, ends, err);
        break;
    case PQ_ENC_BYTE_STREAM_SPLIT:
        if (ty == PQ_BOOLEAN || ty == PQ_BYTE_ARRAY)
            goto unsupported;
        if (col->width) {
            rc = pq_dec_byte_stream_split(p, len, col->width, dst, nn, err);
        } else {
            if (nn > len / col->elem_len)
                return page_failf(x, err, SP_ERR_CORRUPT,
                                  "BYTE_STREAM_SPLIT needs %zu bytes, page has %zu",
                                  nn * col->elem_len, len);
            size_t total = nn * col->elem_len;
            if (bytes->len + total > UINT32_MAX || sp_buf_reserve(bytes, total ? total : 1) != 0)
                return page_failf(x, err, SP_ERR_LIMIT,
                                  "decoded values exceed the memory limit");
            rc = pq_dec_byte_stream_split(p, len, col->elem_len, bytes->data + bytes->len, nn,
                                          err);
            uint32_t o = (uint32_t)bytes->len;
            for (size_t i = 0; i < nn; i++)
                ends[i] = o += (uint32_t)col->elem_len;
            bytes->len += total;
        }
        break;
    default:
        goto unsupported;
    }
    if (rc != SP_OK)
        return page_fail(x, err);
    return SP_OK;
unsupported:
    return page_failf(x, err, SP_ERR_UNSUPPORTED, "encoding %s is not supported for %s",
                      pq_encoding_name(enc), pq_physical_name(ty));
}

/* Move nn dense values of a page to their row slots, zeroing the NULL ones.
 * Walks backwards so the move can happen in place. */
#define SPREAD(T)                                                     \
    do {                                                              \
        T *v = (T *)(void *)base;                                     \
        size_t j = nn;                                                \
        for (size_t i = nv; i-- > 0;)                                 \
            v[i] = valid[i] ? v[--j] : (T)0;                          \
    } while (0)

static void spread_fixed(uint8_t *base, size_t w, const uint8_t *valid, size_t nv, size_t nn)
{
    switch (w) {
    case 1: SPREAD(uint8_t); break;
    case 4: SPREAD(uint32_t); break;
    default: SPREAD(uint64_t); break;
    }
}

/* Decode one data page (v1 or v2) into rows [row, row+nv) of the output. */
static int decode_data_page(pqr_ctx *x, const pqr_page *ph, const uint8_t *body, size_t row,
                            size_t rows_left, size_t *nulls, sp_error *err)
{
    pq_reader *r = x->r;
    const pqr_col *col = x->col;
    pqr_out *o = x->o;
    bool v2 = ph->type == PAGE_DATA_V2;
    if (v2 ? !ph->has_v2 : !ph->has_v1)
        return page_failf(x, err, SP_ERR_CORRUPT, "data page header is missing");
    if (ph->nv < 0 || (size_t)ph->nv > rows_left)
        return page_failf(x, err, SP_ERR_CORRUPT,
                          "page claims %d values but only %zu rows of the row group are left",
                          ph->nv, rows_left);
    size_t nv = (size_t)ph->nv;
    size_t csize = (size_t)ph->csize, usize = (size_t)ph->usize;
    uint8_t *valid = col->spec.optional ? o->valid + row : NULL;
    size_t present = nv;
    const uint8_t *p;
    size_t len;

    if (!v2) {
        SP_TRY(page_bytes(x, body, csize, usize, true, &p, err));
        len = usize;
        if (valid) {
            if (ph->def_enc == PQ_ENC_RLE) {
                if (len < 4)
                    return page_failf(x, err, SP_ERR_CORRUPT, "definition levels truncated");
                uint32_t l = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24;
                if (l > len - 4)
                    return page_failf(x, err, SP_ERR_CORRUPT,
                                      "definition levels claim %u bytes, page has %zu", l, len - 4);
                if (pq_dec_def_levels_rle(p + 4, l, valid, nv, &present, err) != SP_OK)
                    return page_fail(x, err);
                p += 4 + (size_t)l;
                len -= 4 + (size_t)l;
            } else if (ph->def_enc == PQ_ENC_BIT_PACKED) {
                size_t used;
                if (pq_dec_def_levels_bitpacked(p, len, valid, nv, &present, &used, err) != SP_OK)
                    return page_fail(x, err);
                p += used;
                len -= used;
            } else {
                return page_failf(x, err, SP_ERR_UNSUPPORTED,
                                  "definition level encoding %s is not supported",
                                  pq_encoding_name(ph->def_enc));
            }
        }
    } else {
        if (ph->def_len < 0 || ph->rep_len < 0 ||
            (size_t)ph->def_len + (size_t)ph->rep_len > csize ||
            (size_t)ph->def_len + (size_t)ph->rep_len > usize)
            return page_failf(x, err, SP_ERR_CORRUPT,
                              "level lengths (%d + %d) do not fit the page (%zu / %zu bytes)",
                              ph->rep_len, ph->def_len, csize, usize);
        size_t lv = (size_t)ph->def_len + (size_t)ph->rep_len;
        if (ph->nulls < 0 || ph->nulls > ph->nv)
            return page_failf(x, err, SP_ERR_CORRUPT, "page claims %d NULLs of %d values",
                              ph->nulls, ph->nv);
        if (valid) {
            if (pq_dec_def_levels_rle(body + ph->rep_len, (size_t)ph->def_len, valid, nv,
                                      &present, err) != SP_OK)
                return page_fail(x, err);
            if (present != nv - (size_t)ph->nulls)
                return page_failf(x, err, SP_ERR_CORRUPT,
                                  "page claims %d NULLs but its levels hold %zu", ph->nulls,
                                  nv - present);
        } else if (ph->nulls != 0) {
            return page_failf(x, err, SP_ERR_CORRUPT, "REQUIRED column page claims %d NULLs",
                              ph->nulls);
        }
        SP_TRY(page_bytes(x, body + lv, csize - lv, usize - lv, ph->compressed, &p, err));
        len = usize - lv;
    }

    bool dense = present == nv;
    if (col->width) {
        uint8_t *dst = o->values + row * col->width;
        SP_TRY(decode_values(x, ph->enc, p, len, present, dst, NULL, err));
        if (!dense)
            spread_fixed(dst, col->width, valid, nv, present);
    } else {
        uint32_t *ends = o->offsets + row + 1;
        if (!dense) {
            SP_TRY(mem_grow(r, &r->ends, &r->ends_cap, present * sizeof(uint32_t), "value offsets",
                            err));
            ends = r->ends;
        }
        buf_limit(r, &o->bytes, o->bytes_acc);
        int rc = decode_values(x, ph->enc, p, len, present, NULL, ends, err);
        buf_account(r, &o->bytes, &o->bytes_acc);
        if (rc != SP_OK)
            return rc;
        if (!dense) {
            uint32_t *off = o->offsets + row;
            size_t k = 0;
            for (size_t i = 0; i < nv; i++)
                off[i + 1] = valid[i] ? ends[k++] : off[i];
        }
    }
    *nulls += nv - present;
    return SP_OK;
}

/* Decode column ci of row group rg into r->out[ci]. */
static int read_column(pq_reader *r, size_t rg, size_t ci, pq_values *res, sp_error *err)
{
    const pqr_col *col = &r->cols[ci];
    const pqr_chunk *c = &r->chunks[rg * r->ncols + ci];
    pqr_out *o = &r->out[ci];
    size_t n = (size_t)r->rgs[rg].num_rows;
    char ctx[300];
    snprintf(ctx, sizeof ctx, "row group %zu column '%s'", rg, col->spec.name);
    pqr_ctx x = {.r = r, .rg = rg, .ci = ci, .col = col, .o = o, .codec = c->info.codec};

    if (c->info.codec != PQ_UNCOMPRESSED && c->info.codec != PQ_SNAPPY &&
        c->info.codec != PQ_GZIP && c->info.codec != PQ_ZSTD)
        return sp_fail(err, SP_ERR_UNSUPPORTED,
                     "%s: column '%s' row group %zu: compression codec %s is not supported",
                     r->path, col->spec.name, rg, pq_codec_name(c->info.codec));

    /* Outputs for the whole row group, checked against the limit first. */
    if (col->width) {
        if (n > SIZE_MAX / 8)
            return sp_fail(err, SP_ERR_LIMIT, "%s: %s: too many rows", r->path, ctx);
        SP_TRY(mem_grow(r, &o->values, &o->values_cap, n * col->width, ctx, err));
    } else {
        SP_TRY(mem_grow(r, &o->offsets, &o->offsets_cap, (n + 1) * sizeof(uint32_t), ctx, err));
        o->offsets[0] = 0;
        sp_buf_reset(&o->bytes);
    }
    if (col->spec.optional)
        SP_TRY(mem_grow(r, &o->valid, &o->valid_cap, n, ctx, err));

    size_t clen = (size_t)(c->end - c->start);
    SP_TRY(mem_grow(r, &r->chunk_buf, &r->chunk_cap, clen, ctx, err));
    SP_TRY(read_at(r, c->start, r->chunk_buf, clen, err));

    r->have_dict = false;
    r->dict_n = 0;
    size_t pos = 0, row = 0, nulls = 0;
    while (row < n) {
        x.page_no++;
        x.chunk_off = c->start + (int64_t)pos;
        if (pos >= clen)
            return sp_fail(err, SP_ERR_CORRUPT,
                         "%s: column '%s' row group %zu: column chunk ends after %zu of %zu values",
                         r->path, col->spec.name, rg, row, n);
        pqr_thrift t;
        pqr_page ph;
        pqr_thrift_init(&t, r->chunk_buf + pos, clen - pos);
        parse_page_header(&t, &ph);
        if (t.why)
            return page_failf(&x, err, SP_ERR_CORRUPT, "page header is not valid Thrift: %s",
                              t.why);
        if (!ph.has_type || !ph.has_csize || !ph.has_usize)
            return page_failf(&x, err, SP_ERR_CORRUPT, "page header lacks a required field");
        pos += pqr_thrift_pos(&t);
        if (ph.csize < 0 || ph.usize < 0)
            return page_failf(&x, err, SP_ERR_CORRUPT,
                              "page header claims a negative size (compressed %d, uncompressed %d)",
                              ph.csize, ph.usize);
        if ((size_t)ph.csize > clen - pos)
            return page_failf(&x, err, SP_ERR_CORRUPT,
                              "page header claims %d bytes, past the end of the column chunk "
                              "(%zu bytes left)",
                              ph.csize, clen - pos);
        size_t cap = r->mem_limit < PQR_MAX_PAGE ? r->mem_limit : PQR_MAX_PAGE;
        if ((size_t)ph.usize > cap)
            return page_failf(&x, err, SP_ERR_LIMIT,
                              "page header claims an uncompressed size of %d bytes, above the "
                              "cap of %zu",
                              ph.usize, cap);
        const uint8_t *body = r->chunk_buf + pos;
        pos += (size_t)ph.csize;
        switch (ph.type) {
        case PAGE_DICTIONARY: {
            if (!ph.has_dict)
                return page_failf(&x, err, SP_ERR_CORRUPT, "dictionary page header is missing");
            if (r->have_dict || row > 0)
                return page_failf(&x, err, SP_ERR_CORRUPT,
                                  "dictionary page is not the first page of the column chunk");
            const uint8_t *p;
            SP_TRY(page_bytes(&x, body, (size_t)ph.csize, (size_t)ph.usize, true, &p, err));
            SP_TRY(decode_dictionary(&x, &ph, p, (size_t)ph.usize, err));
            break;
        }
        case PAGE_DATA:
        case PAGE_DATA_V2:
            SP_TRY(decode_data_page(&x, &ph, body, row, n - row, &nulls, err));
            row += (size_t)ph.nv;
            break;
        default:
            break; /* index pages and future page types carry no values */
        }
    }

    if (!col->width && !o->bytes.data) {
        /* Keep `bytes` non-NULL even when every value is empty. */
        buf_limit(r, &o->bytes, o->bytes_acc);
        if (sp_buf_reserve(&o->bytes, 1) != 0)
            return sp_fail(err, SP_ERR_LIMIT, "%s: %s: memory limit reached", r->path, ctx);
        buf_account(r, &o->bytes, &o->bytes_acc);
    }
    res->n = n;
    res->valid = col->spec.optional && nulls > 0 ? o->valid : NULL;
    res->values = col->width ? o->values : NULL;
    res->offsets = col->width ? NULL : o->offsets;
    res->bytes = col->width ? NULL : o->bytes.data;
    return SP_OK;
}

int pq_reader_read_row_group(pq_reader *r, size_t rg, pq_values *out, sp_error *err)
{
    if (rg >= r->nrg)
        return sp_fail(err, SP_ERR_USAGE, "%s: row group %zu does not exist (the file has %zu)",
                     r->path, rg, r->nrg);
    /* Free the previous row group first: memory is bounded by one row group. */
    release_outputs(r);
    memset(out, 0, r->ncols * sizeof *out);
    for (size_t i = 0; i < r->ncols; i++) {
        int rc = read_column(r, rg, i, &out[i], err);
        if (rc != SP_OK) {
            release_outputs(r);
            memset(out, 0, r->ncols * sizeof *out);
            return rc;
        }
    }
    return SP_OK;
}
