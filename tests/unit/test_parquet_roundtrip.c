/* test_parquet_roundtrip.c — write with pq_writer, read back with pq_reader.
 * Every value of every type is derived from (seed, column, row) by a fixed
 * hash, so the writer side and the checking side never share buffers and
 * every row is compared one by one. The table covers codecs, row group and
 * page sizes, dictionary fallback to PLAIN and to DELTA_BINARY_PACKED, NULLs
 * and the empty file; a second test runs delta edge patterns. */
#include "../test.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/parquet/parquet.h"

enum { C_I32, C_I64, C_BOOL, C_DBL, C_CAT, C_UNIQ, C_DATE, C_DEC9, C_DEC18, C_FLT, NCOL };

static const pq_column_spec specs[NCOL] = {
    {.name = "i32", .physical = PQ_INT32},
    {.name = "i64", .physical = PQ_INT64, .optional = true},
    {.name = "flag", .physical = PQ_BOOLEAN, .optional = true},
    {.name = "dbl", .physical = PQ_DOUBLE},
    {.name = "category", .physical = PQ_BYTE_ARRAY, .logical = PQ_LOGICAL_STRING, .optional = true},
    {.name = "unique", .physical = PQ_BYTE_ARRAY, .logical = PQ_LOGICAL_STRING},
    {.name = "day", .physical = PQ_INT32, .logical = PQ_LOGICAL_DATE},
    {.name = "amount9", .physical = PQ_INT32, .logical = PQ_LOGICAL_DECIMAL, .precision = 9,
     .scale = 2, .optional = true},
    {.name = "amount18", .physical = PQ_INT64, .logical = PQ_LOGICAL_DECIMAL, .precision = 18,
     .scale = 4},
    {.name = "flt", .physical = PQ_FLOAT, .optional = true},
};

static uint64_t mix(uint64_t seed, int col, size_t row)
{
    uint64_t x = seed ^ ((uint64_t)col << 56) ^ (row * 0x9e3779b97f4a7c15u);
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9u;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

static bool is_null(uint64_t seed, int col, size_t row)
{
    return specs[col].optional && mix(seed, col + 100, row) % 7 == 0;
}

static int32_t v_i32(uint64_t s, size_t r) { return (int32_t)mix(s, C_I32, r); }
static int64_t v_i64(uint64_t s, size_t r) { return (int64_t)mix(s, C_I64, r); }
static uint8_t v_bool(uint64_t s, size_t r) { return mix(s, C_BOOL, r) & 1; }
static double v_dbl(uint64_t s, size_t r) { return (double)(int64_t)mix(s, C_DBL, r) / 1e6; }
static int32_t v_date(uint64_t s, size_t r) { return (int32_t)(mix(s, C_DATE, r) % 40000) - 5000; }
static int32_t v_dec9(uint64_t s, size_t r) { return (int32_t)(mix(s, C_DEC9, r) % 1999999999) - 999999999; }
static int64_t v_dec18(uint64_t s, size_t r)
{
    return (int64_t)(mix(s, C_DEC18, r) % 1999999999999999999u) - 999999999999999999;
}
static float v_flt(uint64_t s, size_t r) { return (float)(int32_t)mix(s, C_FLT, r) / 1024.0f; }

/* Strings: a small category set (dictionary-friendly) and one unique,
 * variable-length string per row (forces the dictionary to fall back). */
static size_t v_str(uint64_t s, int col, size_t r, char *buf)
{
    uint64_t h = mix(s, col, r);
    if (col == C_CAT)
        return (size_t)snprintf(buf, 64, "category-%d", (int)(h % 23));
    if (h % 50 == 0)
        return 0; /* the empty string is a value, not a NULL */
    size_t len = (size_t)snprintf(buf, 200, "u%zu-%016llx", r, (unsigned long long)h);
    size_t extra = h % 97 == 0 ? 120 : 0;
    for (size_t i = 0; i < extra; i++)
        buf[len + i] = (char)('a' + (i + h) % 26);
    return len + extra;
}

/* Fill one batch of rows [first, first+n) and write it. */
static int write_batch(pq_writer *w, uint64_t seed, size_t first, size_t n, sp_error *err)
{
    pq_values cols[NCOL];
    memset(cols, 0, sizeof cols);
    uint8_t *valid[NCOL] = {0};
    int32_t *i32 = calloc(n + 1, 4), *date = calloc(n + 1, 4), *dec9 = calloc(n + 1, 4);
    int64_t *i64 = calloc(n + 1, 8), *dec18 = calloc(n + 1, 8);
    uint8_t *flag = calloc(n + 1, 1);
    double *dbl = calloc(n + 1, 8);
    float *flt = calloc(n + 1, 4);
    uint32_t *off[2] = {calloc(n + 1, 4), calloc(n + 1, 4)};
    char *bytes[2] = {malloc(n * 200 + 1), malloc(n * 200 + 1)};
    for (int c = 0; c < NCOL; c++)
        if (specs[c].optional)
            valid[c] = calloc(n + 1, 1);
    for (size_t i = 0; i < n; i++) {
        size_t r = first + i;
        for (int c = 0; c < NCOL; c++)
            if (valid[c])
                valid[c][i] = !is_null(seed, c, r);
        i32[i] = v_i32(seed, r);
        i64[i] = v_i64(seed, r);
        flag[i] = v_bool(seed, r);
        dbl[i] = v_dbl(seed, r);
        date[i] = v_date(seed, r);
        dec9[i] = v_dec9(seed, r);
        dec18[i] = v_dec18(seed, r);
        flt[i] = v_flt(seed, r);
        for (int k = 0; k < 2; k++) {
            int c = k ? C_UNIQ : C_CAT;
            size_t len = is_null(seed, c, r) ? 0 : v_str(seed, c, r, bytes[k] + off[k][i]);
            off[k][i + 1] = off[k][i] + (uint32_t)len;
        }
    }
    const void *vals[NCOL] = {i32, i64, flag, dbl, NULL, NULL, date, dec9, dec18, flt};
    for (int c = 0; c < NCOL; c++) {
        cols[c].n = n;
        cols[c].valid = valid[c];
        cols[c].values = vals[c];
    }
    cols[C_CAT].offsets = off[0];
    cols[C_CAT].bytes = (const uint8_t *)bytes[0];
    cols[C_UNIQ].offsets = off[1];
    cols[C_UNIQ].bytes = (const uint8_t *)bytes[1];
    int rc = pq_writer_write(w, cols, err);
    free(i32), free(date), free(dec9), free(i64), free(dec18), free(flag), free(dbl), free(flt);
    for (int k = 0; k < 2; k++)
        free(off[k]), free(bytes[k]);
    for (int c = 0; c < NCOL; c++)
        free(valid[c]);
    return rc;
}

/* Compare row group values with the generator; returns mismatches. */
static int check_rows(uint64_t seed, size_t first, const pq_values *v)
{
    int bad = 0;
    char want[256];
    for (int c = 0; c < NCOL; c++) {
        if (v[c].n != v[0].n)
            bad++;
        if (!specs[c].optional && v[c].valid)
            bad++;
    }
    for (size_t i = 0; i < v[0].n && bad < 10; i++) {
        size_t r = first + i;
        for (int c = 0; c < NCOL; c++) {
            bool null = is_null(seed, c, r);
            bool present = !v[c].valid || v[c].valid[i];
            if (null == present) {
                test_fail_at(__FILE__, __LINE__, "row %zu column %s: NULL mismatch", r,
                             specs[c].name);
                bad++;
                continue;
            }
            bool ok = true;
            switch (c) {
            case C_I32: ok = ((const int32_t *)v[c].values)[i] == v_i32(seed, r); break;
            case C_I64: ok = ((const int64_t *)v[c].values)[i] == (null ? 0 : v_i64(seed, r)); break;
            case C_BOOL: ok = ((const uint8_t *)v[c].values)[i] == (null ? 0 : v_bool(seed, r)); break;
            case C_DBL: ok = ((const double *)v[c].values)[i] == v_dbl(seed, r); break;
            case C_DATE: ok = ((const int32_t *)v[c].values)[i] == v_date(seed, r); break;
            case C_DEC9: ok = ((const int32_t *)v[c].values)[i] == (null ? 0 : v_dec9(seed, r)); break;
            case C_DEC18: ok = ((const int64_t *)v[c].values)[i] == v_dec18(seed, r); break;
            case C_FLT: ok = ((const float *)v[c].values)[i] == (null ? 0.0f : v_flt(seed, r)); break;
            default: {
                size_t len = null ? 0 : v_str(seed, c, r, want);
                uint32_t a = v[c].offsets[i], b = v[c].offsets[i + 1];
                ok = b >= a && b - a == len && memcmp(v[c].bytes + a, want, len) == 0;
            }
            }
            if (!ok) {
                test_fail_at(__FILE__, __LINE__, "row %zu column %s: value differs", r,
                             specs[c].name);
                bad++;
            }
        }
    }
    return bad;
}

typedef struct rt_case {
    const char *name;
    pq_codec codec;
    size_t rows;
    size_t rg_rows, page_bytes, dict_max_bytes;
    bool no_dictionary;
    int int_fallback; /* PQ_ENC_PLAIN or PQ_ENC_DELTA_BINARY_PACKED */
} rt_case;

TEST(parquet_roundtrip_table)
{
    static const rt_case cases[] = {
        {"uncompressed, many row groups and pages", PQ_UNCOMPRESSED, 5000, 700, 4096, 0, false,
         PQ_ENC_DELTA_BINARY_PACKED},
        {"snappy", PQ_SNAPPY, 3000, 1000, 0, 0, false, PQ_ENC_DELTA_BINARY_PACKED},
        {"zstd, one row group", PQ_ZSTD, 3000, 100000, 0, 0, false, PQ_ENC_DELTA_BINARY_PACKED},
        {"gzip", PQ_GZIP, 1500, 600, 8192, 0, false, PQ_ENC_DELTA_BINARY_PACKED},
        {"zstd, tiny dictionary limit (fallback to PLAIN)", PQ_ZSTD, 4000, 4000, 2048, 512,
         false, PQ_ENC_PLAIN},
        {"zstd, tiny dictionary limit (fallback to DELTA)", PQ_ZSTD, 4000, 4000, 2048, 512,
         false, PQ_ENC_DELTA_BINARY_PACKED},
        {"no dictionary, PLAIN", PQ_SNAPPY, 2000, 999, 0, 0, true, PQ_ENC_PLAIN},
        {"no dictionary, DELTA", PQ_SNAPPY, 2000, 999, 0, 0, true, PQ_ENC_DELTA_BINARY_PACKED},
        {"no dictionary, DELTA, odd small pages", PQ_UNCOMPRESSED, 3000, 3000, 1000, 0, true,
         PQ_ENC_DELTA_BINARY_PACKED},
        {"dictionary probe gives up, DELTA", PQ_ZSTD, 40000, 40000, 0, 0, false,
         PQ_ENC_DELTA_BINARY_PACKED},
        {"single row", PQ_ZSTD, 1, 10, 0, 0, false, PQ_ENC_DELTA_BINARY_PACKED},
        {"single row, no dictionary", PQ_ZSTD, 1, 10, 0, 0, true, PQ_ENC_DELTA_BINARY_PACKED},
        {"empty file", PQ_ZSTD, 0, 100, 0, 0, false, PQ_ENC_DELTA_BINARY_PACKED},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const rt_case *tc = &cases[k];
        uint64_t seed = 20240229 + k;
        char path[600];
        snprintf(path, sizeof path, "%s/rt.parquet", test_tmpdir());
        pq_writer_options opt;
        pq_writer_options_default(&opt);
        opt.codec = tc->codec;
        opt.row_group_rows = tc->rg_rows;
        if (tc->page_bytes)
            opt.page_bytes = tc->page_bytes;
        if (tc->dict_max_bytes)
            opt.dict_max_bytes = tc->dict_max_bytes;
        opt.dictionary = !tc->no_dictionary;
        opt.int_fallback = tc->int_fallback;
        sp_error err;
        pq_writer *w;
        if (pq_writer_open(&w, path, specs, NCOL, &opt, &err) != SP_OK) {
            test_fail_at(__FILE__, __LINE__, "case '%s': writer open: %s", tc->name, err.msg);
            continue;
        }
        /* Uneven batches, so row groups and batches do not line up. */
        size_t done = 0, step = 333;
        int rc = SP_OK;
        while (done < tc->rows && rc == SP_OK) {
            size_t n = tc->rows - done < step ? tc->rows - done : step;
            rc = write_batch(w, seed, done, n, &err);
            done += n;
            step = step * 2 + 1;
        }
        if (rc != SP_OK) {
            test_fail_at(__FILE__, __LINE__, "case '%s': write: %s", tc->name, err.msg);
            pq_writer_abort(w);
            continue;
        }
        if (pq_writer_close(w, &err) != SP_OK) {
            test_fail_at(__FILE__, __LINE__, "case '%s': close: %s", tc->name, err.msg);
            continue;
        }

        pq_reader *r;
        if (pq_reader_open(&r, path, &err) != SP_OK) {
            test_fail_at(__FILE__, __LINE__, "case '%s': reader open: %s", tc->name, err.msg);
            continue;
        }
        CHECK_INT(pq_reader_num_rows(r), tc->rows);
        REQUIRE(pq_reader_num_columns(r) == NCOL);
        for (int c = 0; c < NCOL; c++) {
            const pq_column_spec *s = pq_reader_column(r, c);
            CHECK_STR(s->name, specs[c].name);
            CHECK_INT(s->physical, specs[c].physical);
            CHECK_INT(s->logical, specs[c].logical);
            CHECK_INT(s->optional, specs[c].optional);
            if (specs[c].logical == PQ_LOGICAL_DECIMAL) {
                CHECK_INT(s->precision, specs[c].precision);
                CHECK_INT(s->scale, specs[c].scale);
            }
        }
        size_t nrg = pq_reader_num_row_groups(r);
        if (tc->rows)
            CHECK(nrg >= (tc->rows + tc->rg_rows - 1) / tc->rg_rows);
        size_t row = 0;
        pq_values v[NCOL];
        for (size_t g = 0; g < nrg; g++) {
            CHECK_INT(pq_reader_chunk(r, g, 0)->codec, tc->codec);
            /* Without a dictionary the integer chunks carry the fallback. */
            uint32_t delta = 1u << PQ_ENC_DELTA_BINARY_PACKED;
            if (tc->no_dictionary && tc->rows > 1)
                for (int c = 0; c < NCOL; c++)
                    if (specs[c].physical == PQ_INT32 || specs[c].physical == PQ_INT64)
                        CHECK_INT((pq_reader_chunk(r, g, (size_t)c)->encodings & delta) != 0,
                                  tc->int_fallback == PQ_ENC_DELTA_BINARY_PACKED);
            CHECK(pq_reader_row_group_rows(r, g) <= (int64_t)tc->rg_rows);
            if (pq_reader_read_row_group(r, g, v, &err) != SP_OK) {
                test_fail_at(__FILE__, __LINE__, "case '%s': read row group %zu: %s", tc->name,
                             g, err.msg);
                break;
            }
            if (check_rows(seed, row, v))
                test_fail_at(__FILE__, __LINE__, "case '%s': row group %zu differs", tc->name, g);
            row += v[0].n;
        }
        CHECK_INT(row, tc->rows);
        pq_reader_close(r);
    }
}

/* DELTA_BINARY_PACKED edge patterns, read back value by value: lengths
 * around block (128 deltas) and miniblock (32) boundaries, constant runs
 * (width 0), ascending and descending runs, the extremes of both types
 * alternating (every delta wraps), and widths 1..64 in one sequence. */
TEST(parquet_roundtrip_delta_patterns)
{
    static const pq_column_spec cols[] = {
        {.name = "a32", .physical = PQ_INT32},
        {.name = "a64", .physical = PQ_INT64},
        {.name = "o64", .physical = PQ_INT64, .optional = true},
    };
    static const size_t lengths[] = {1, 2, 31, 32, 33, 127, 128, 129, 130, 160, 161, 255, 256, 257, 1000};
    enum { PATTERNS = 6, MAXN = 1000 };
    int32_t *a32 = malloc(MAXN * sizeof *a32);
    int64_t *a64 = malloc(MAXN * sizeof *a64);
    uint8_t *valid = malloc(MAXN);
    REQUIRE(a32 && a64 && valid);
    char path[600];
    snprintf(path, sizeof path, "%s/delta.parquet", test_tmpdir());
    for (int pat = 0; pat < PATTERNS; pat++) {
        for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; li++) {
            size_t n = lengths[li];
            for (size_t i = 0; i < n; i++) {
                uint64_t h = mix(pat, 0, i);
                switch (pat) {
                case 0: a32[i] = 7; a64[i] = -7; break;                     /* constant */
                case 1: a32[i] = (int32_t)i * 3 - 100; a64[i] = (int64_t)i * 1000; break;
                case 2: a32[i] = 1000 - (int32_t)i; a64[i] = -(int64_t)i * 77; break;
                case 3: /* extremes alternating: every delta wraps */
                    a32[i] = i % 2 ? INT32_MAX : INT32_MIN;
                    a64[i] = i % 3 == 0 ? INT64_MIN : i % 3 == 1 ? INT64_MAX : 0;
                    break;
                case 4: /* widths 0..64 by turns */
                    a32[i] = (int32_t)(uint32_t)(h >> (i % 33));
                    a64[i] = (int64_t)(h >> (i % 65 == 64 ? 63 : i % 65));
                    if (i % 65 == 64)
                        a64[i] = i % 2 ? INT64_MIN : INT64_MAX;
                    break;
                default: /* random full range */
                    a32[i] = (int32_t)h;
                    a64[i] = (int64_t)mix(pat, 1, i);
                }
                valid[i] = h % 5 != 0;
            }
            pq_writer_options opt;
            pq_writer_options_default(&opt);
            opt.dictionary = false;
            opt.int_fallback = PQ_ENC_DELTA_BINARY_PACKED;
            opt.page_bytes = 8 * 129; /* pages of 129 INT64 values: a block and one */
            sp_error err;
            pq_writer *w;
            REQUIRE(pq_writer_open(&w, path, cols, 3, &opt, &err) == SP_OK);
            pq_values v[3] = {{n, NULL, a32, NULL, NULL}, {n, NULL, a64, NULL, NULL},
                              {n, valid, a64, NULL, NULL}};
            if (pq_writer_write(w, v, &err) != SP_OK || pq_writer_close(w, &err) != SP_OK) {
                test_fail_at(__FILE__, __LINE__, "pattern %d, %zu values: %s", pat, n, err.msg);
                continue;
            }
            pq_reader *r;
            REQUIRE(pq_reader_open(&r, path, &err) == SP_OK);
            pq_values out[3];
            if (pq_reader_read_row_group(r, 0, out, &err) != SP_OK) {
                test_fail_at(__FILE__, __LINE__, "pattern %d, %zu values: %s", pat, n, err.msg);
                pq_reader_close(r);
                continue;
            }
            CHECK_INT(out[0].n, n);
            CHECK((pq_reader_chunk(r, 0, 1)->encodings & (1u << PQ_ENC_DELTA_BINARY_PACKED)) != 0);
            const int32_t *g32 = out[0].values;
            const int64_t *g64 = out[1].values, *o64 = out[2].values;
            for (size_t i = 0; i < n && i < out[0].n; i++) {
                bool present = !out[2].valid || out[2].valid[i];
                if (g32[i] != a32[i] || g64[i] != a64[i] || present != (valid[i] != 0) ||
                    (present && o64[i] != a64[i])) {
                    test_fail_at(__FILE__, __LINE__, "pattern %d, %zu values: row %zu differs",
                                 pat, n, i);
                    break;
                }
            }
            pq_reader_close(r);
        }
    }
    free(a32), free(a64), free(valid);
}
