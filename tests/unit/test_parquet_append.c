/* test_parquet_append.c — pq_writer_append_file: row groups of part files
 * copied byte for byte after rows already written, read back in order with
 * their values and statistics; a schema mismatch is refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/parquet/parquet.h"
#include "../test.h"

static const pq_column_spec COLS[] = {
    {"id", PQ_INT64, PQ_LOGICAL_NONE, 0, 0, 0, false},
    {"name", PQ_BYTE_ARRAY, PQ_LOGICAL_STRING, 0, 0, 0, false},
    {"amount", PQ_INT64, PQ_LOGICAL_DECIMAL, 18, 4, 0, true},
};

/* Write rows [from, to) with the given row group size into w. */
static int put_rows(pq_writer *w, int64_t from, int64_t to, sp_error *err)
{
    size_t n = (size_t)(to - from);
    int64_t *ids = calloc(n, sizeof *ids), *amt = calloc(n, sizeof *amt);
    uint8_t *valid = calloc(n, 1);
    uint32_t *offs = calloc(n + 1, sizeof *offs);
    char *bytes = calloc(n, 16);
    for (size_t i = 0; i < n; i++) {
        int64_t v = from + (int64_t)i;
        ids[i] = v;
        amt[i] = v * 12345 - 7;
        valid[i] = v % 7 != 3;
        offs[i + 1] = offs[i] + (uint32_t)sprintf(bytes + offs[i], "p%03lld", (long long)(v % 40));
    }
    pq_values cols[3] = {{n, NULL, ids, NULL, NULL},
                         {n, NULL, NULL, offs, (const uint8_t *)bytes},
                         {n, valid, amt, NULL, NULL}};
    int rc = pq_writer_write(w, cols, err);
    free(ids);
    free(amt);
    free(valid);
    free(offs);
    free(bytes);
    return rc;
}

static void write_part(const char *path, int64_t from, int64_t to, size_t rg_rows, pq_codec codec)
{
    pq_writer_options o;
    pq_writer_options_default(&o);
    o.row_group_rows = rg_rows;
    o.codec = codec;
    pq_writer *w = NULL;
    sp_error err;
    REQUIRE(pq_writer_open(&w, path, COLS, 3, &o, &err) == SP_OK);
    CHECK(put_rows(w, from, to, &err) == SP_OK);
    CHECK(pq_writer_close(w, &err) == SP_OK);
}

TEST(test_parquet_append_parts_in_order)
{
    char a[512], b[512], out[512];
    snprintf(a, sizeof a, "%s/a.parquet", test_tmpdir());
    snprintf(b, sizeof b, "%s/b.parquet", test_tmpdir());
    snprintf(out, sizeof out, "%s/out.parquet", test_tmpdir());
    write_part(a, 100, 350, 100, PQ_ZSTD);  /* 3 row groups */
    write_part(b, 350, 360, 1000, PQ_SNAPPY); /* 1 row group, another codec */

    pq_writer_options o;
    pq_writer_options_default(&o);
    pq_writer *w = NULL;
    sp_error err;
    REQUIRE(pq_writer_open(&w, out, COLS, 3, &o, &err) == SP_OK);
    CHECK(put_rows(w, 0, 100, &err) == SP_OK);
    CHECK(pq_writer_append_file(w, a, &err) == SP_OK);
    CHECK(pq_writer_append_file(w, b, &err) == SP_OK);
    CHECK(put_rows(w, 360, 400, &err) == SP_OK);
    REQUIRE(pq_writer_close(w, &err) == SP_OK);

    pq_reader *r = NULL;
    REQUIRE(pq_reader_open(&r, out, &err) == SP_OK);
    CHECK_INT(pq_reader_num_rows(r), 400);
    CHECK_INT(pq_reader_num_row_groups(r), 6);
    int64_t next = 0;
    for (size_t g = 0; g < pq_reader_num_row_groups(r); g++) {
        pq_values v[3];
        REQUIRE(pq_reader_read_row_group(r, g, v, &err) == SP_OK);
        const int64_t *ids = v[0].values, *amt = v[2].values;
        int64_t lo = INT64_MAX, hi = INT64_MIN;
        for (size_t i = 0; i < v[0].n; i++, next++) {
            CHECK_INT(ids[i], next);
            char want[16];
            int len = sprintf(want, "p%03lld", (long long)(next % 40));
            CHECK_INT(v[1].offsets[i + 1] - v[1].offsets[i], len);
            CHECK(memcmp(v[1].bytes + v[1].offsets[i], want, (size_t)len) == 0);
            bool present = next % 7 != 3;
            CHECK_INT(v[2].valid ? v[2].valid[i] : 1, present);
            if (present)
                CHECK_INT(amt[i], next * 12345 - 7);
            lo = ids[i] < lo ? ids[i] : lo;
            hi = ids[i] > hi ? ids[i] : hi;
        }
        /* statistics travel with the chunk */
        const pq_chunk_info *ci = pq_reader_chunk(r, g, 0);
        REQUIRE(ci->stats.has_min_max && ci->stats.min_len == 8);
        int64_t smin, smax;
        memcpy(&smin, ci->stats.min, 8);
        memcpy(&smax, ci->stats.max, 8);
        CHECK_INT(smin, lo);
        CHECK_INT(smax, hi);
        CHECK(pq_reader_chunk(r, g, 2)->stats.null_count >= 0);
    }
    CHECK_INT(next, 400);
    CHECK_INT(pq_reader_chunk(r, 4, 0)->codec, PQ_SNAPPY);
    pq_reader_close(r);
}

TEST(test_parquet_append_refuses_other_schema)
{
    char a[512], out[512];
    snprintf(a, sizeof a, "%s/other.parquet", test_tmpdir());
    snprintf(out, sizeof out, "%s/out2.parquet", test_tmpdir());
    pq_column_spec other[3];
    memcpy(other, COLS, sizeof other);
    other[2].scale = 2;
    pq_writer *w = NULL;
    sp_error err;
    REQUIRE(pq_writer_open(&w, a, other, 3, NULL, &err) == SP_OK);
    CHECK(pq_writer_close(w, &err) == SP_OK);
    REQUIRE(pq_writer_open(&w, out, COLS, 3, NULL, &err) == SP_OK);
    CHECK_INT(pq_writer_append_file(w, a, &err), SP_ERR_USAGE);
    CHECK_CONTAINS(err.msg, "amount");
    pq_writer_abort(w);
}
