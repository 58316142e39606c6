/* test_parquet_read.c — unit tests of the Parquet reader and its decoders.
 * Decoders are fed hand-built bytes; files are assembled here from a tiny
 * Thrift compact writer so that each corrupt case in the table changes
 * exactly one thing, plus two small DuckDB-written files in tests/corrupt/.
 * Every corrupt file must give a clean error naming the problem, never a
 * crash, hang or huge allocation (run under ASan/UBSan too). */
#include "../test.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "../../src/parquet/decode.h"
#include "../../src/parquet/parquet.h"
#include "../../src/parquet/thrift_dec.h"

/* ---- a byte writer and a minimal Thrift compact encoder for fixtures ---- */

typedef struct tb {
    uint8_t b[16384];
    size_t n;
} tb;

static void tb_put(tb *t, const void *p, size_t n)
{
    if (t->n + n <= sizeof t->b) {
        memcpy(t->b + t->n, p, n);
        t->n += n;
    }
}
static void tb_byte(tb *t, uint8_t c) { tb_put(t, &c, 1); }
static void tb_uvar(tb *t, uint64_t v)
{
    while (v >= 0x80) {
        tb_byte(t, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    tb_byte(t, (uint8_t)v);
}
static void tb_zz(tb *t, int64_t v) { tb_uvar(t, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63)); }
static void tb_le32(tb *t, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    tb_put(t, b, 4);
}

/* Field header with the short (delta) form; ids always increase here. */
static void th_field(tb *t, int *last, int id, int type)
{
    tb_byte(t, (uint8_t)(((id - *last) << 4) | type));
    *last = id;
}
static void th_i32(tb *t, int *last, int id, int64_t v)
{
    th_field(t, last, id, PQR_T_I32);
    tb_zz(t, v);
}
static void th_i64(tb *t, int *last, int id, int64_t v)
{
    th_field(t, last, id, PQR_T_I64);
    tb_zz(t, v);
}
static void th_bin(tb *t, int *last, int id, const void *p, size_t n)
{
    th_field(t, last, id, PQR_T_BINARY);
    tb_uvar(t, n);
    tb_put(t, p, n);
}
static void th_list(tb *t, int *last, int id, int etype, size_t count)
{
    th_field(t, last, id, PQR_T_LIST);
    if (count < 15) {
        tb_byte(t, (uint8_t)((count << 4) | (size_t)etype));
    } else {
        tb_byte(t, (uint8_t)(0xf0 | etype));
        tb_uvar(t, count);
    }
}
static void th_stop(tb *t) { tb_byte(t, 0); }

/* ---- the fixture file ------------------------------------------------------
 * Two columns, 8 rows, one row group:
 *   sales INT32 OPTIONAL: 5, NULL, 7, 5, 5, NULL, 7, 9  (dictionary 5,7,9)
 *   name  BYTE_ARRAY REQUIRED STRING, PLAIN: "a", "bb", ..., "hhhhhhhh"
 * Each field below can be bent by one corrupt case. */
typedef struct fx {
    int codec;                  /* PQ_UNCOMPRESSED or PQ_ZSTD */
    int64_t rows;               /* footer and row group num_rows */
    int64_t chunk_values;       /* ColumnMetaData.num_values of sales */
    int64_t csize_set;          /* if set: data page compressed size of sales */
    int64_t usize_set;          /* if set: data page uncompressed size of sales */
    int32_t page_nv;            /* if set: sales data page num_values */
    int32_t dict_n;             /* if set: dictionary num_values */
    int64_t data_off_set;       /* if set: sales data_page_offset */
    bool bad_index, garbage_body, bad_strlen, zero_cols, nested, repeated, no_dict_page;
    bool v2;                    /* sales as a v2 data page */
    bool v2_all_null;           /* ... holding only NULLs, its values section 0 bytes even
                                 * when compressed (parquet-mr does this) */
    bool empty_zero_offsets;    /* 0 rows, chunk data_page_offset 0 (seen in the wild) */
} fx;

static const char *names[8] = {"a", "bb", "ccc", "dddd", "eeeee", "ffffff", "ggggggg",
                               "hhhhhhhh"};

/* A page: header + (maybe compressed) body appended to `f`. */
static void put_page(tb *f, const fx *p, int type, const uint8_t *body, size_t blen,
                     int64_t csize_set, int64_t usize_set, int32_t nv, int enc, int32_t dict_n,
                     bool garbage, int v2_def_len)
{
    uint8_t cbuf[4096];
    const uint8_t *stored = body;
    size_t slen = blen;
    size_t lv = (size_t)v2_def_len;
    if (p->codec == PQ_ZSTD) {
        memcpy(cbuf, body, lv);
        slen = lv + ZSTD_compress(cbuf + lv, sizeof cbuf - lv, body + lv, blen - lv, 1);
        stored = cbuf;
        if (garbage)
            memset(cbuf + lv, 0x5a, slen - lv);
    }
    tb h = {.n = 0};
    int last = 0;
    th_i32(&h, &last, 1, type);
    th_i32(&h, &last, 2, usize_set ? usize_set : (int64_t)blen);
    th_i32(&h, &last, 3, csize_set ? csize_set : (int64_t)slen);
    if (type == 2) {
        th_field(&h, &last, 7, PQR_T_STRUCT);
        int l2 = 0;
        th_i32(&h, &l2, 1, dict_n);
        th_i32(&h, &l2, 2, PQ_ENC_PLAIN);
        th_stop(&h);
    } else if (type == 0) {
        th_field(&h, &last, 5, PQR_T_STRUCT);
        int l2 = 0;
        th_i32(&h, &l2, 1, nv);
        th_i32(&h, &l2, 2, enc);
        th_i32(&h, &l2, 3, PQ_ENC_RLE);
        th_i32(&h, &l2, 4, PQ_ENC_RLE);
        th_stop(&h);
    } else {
        th_field(&h, &last, 8, PQR_T_STRUCT);
        int l2 = 0;
        th_i32(&h, &l2, 1, nv);
        th_i32(&h, &l2, 2, p->v2_all_null ? nv : 2); /* num_nulls */
        th_i32(&h, &l2, 3, nv);
        th_i32(&h, &l2, 4, enc);
        th_i32(&h, &l2, 5, v2_def_len);
        th_i32(&h, &l2, 6, 0);
        th_stop(&h);
    }
    th_stop(&h);
    tb_put(f, h.b, h.n);
    tb_put(f, stored, slen);
}

static void put_colmeta(tb *f, int type, const char *name, int codec, int64_t nv, int64_t size,
                        int64_t data_off, int64_t dict_off, int64_t nulls)
{
    int last = 0;
    th_i32(f, &last, 1, type);
    th_list(f, &last, 2, PQR_T_I32, 2);
    tb_zz(f, PQ_ENC_PLAIN);
    tb_zz(f, dict_off >= 0 ? PQ_ENC_RLE_DICTIONARY : PQ_ENC_RLE);
    th_list(f, &last, 3, PQR_T_BINARY, 1);
    tb_uvar(f, strlen(name));
    tb_put(f, name, strlen(name));
    th_i32(f, &last, 4, codec);
    th_i64(f, &last, 5, nv);
    th_i64(f, &last, 6, size);
    th_i64(f, &last, 7, size);
    th_i64(f, &last, 9, data_off);
    if (dict_off >= 0)
        th_i64(f, &last, 11, dict_off);
    th_field(f, &last, 12, PQR_T_STRUCT); /* Statistics */
    int l2 = 0;
    th_i64(f, &l2, 3, nulls);
    if (type == PQ_INT32) {
        uint8_t mx[4] = {9, 0, 0, 0}, mn[4] = {5, 0, 0, 0};
        th_bin(f, &l2, 5, mx, 4);
        th_bin(f, &l2, 6, mn, 4);
    }
    th_stop(f);
    th_stop(f);
}

/* Build the data part (from "PAR1" to the last page) and the footer. */
static void build_fixture(const fx *p, tb *data, tb *footer)
{
    data->n = footer->n = 0;
    tb_put(data, "PAR1", 4);

    /* sales */
    int64_t s_start = (int64_t)data->n, dict_off = -1;
    if (!p->no_dict_page) {
        uint8_t dict[12] = {5, 0, 0, 0, 7, 0, 0, 0, 9, 0, 0, 0};
        dict_off = s_start;
        put_page(data, p, 2, dict, sizeof dict, 0, 0, 0, 0, p->dict_n ? p->dict_n : 3, false, 0);
    }
    int64_t s_data = (int64_t)data->n;
    uint8_t idx5 = p->bad_index ? 0x0d : 0x09; /* 0x0d puts index 3 in slot 5 */
    int32_t nv = p->page_nv ? p->page_nv : 8;
    if (!p->v2) {
        uint8_t body[] = {2, 0, 0, 0, 0x03, 0xdd, 2, 0x03, 0x04, idx5};
        put_page(data, p, 0, body, sizeof body, p->csize_set, p->usize_set, nv,
                 PQ_ENC_RLE_DICTIONARY, 0, p->garbage_body, 0);
    } else if (p->v2_all_null) {
        /* levels: one RLE run of 8 zeros; no value bytes, stored as is */
        uint8_t body[] = {0x10, 0x00};
        fx raw = *p;
        raw.codec = PQ_UNCOMPRESSED;
        put_page(data, &raw, 3, body, sizeof body, 0, 0, nv, PQ_ENC_PLAIN, 0, false, 2);
    } else {
        uint8_t body[] = {0x03, 0xdd, 2, 0x03, 0x04, idx5};
        put_page(data, p, 3, body, sizeof body, p->csize_set, p->usize_set, nv,
                 PQ_ENC_RLE_DICTIONARY, 0, p->garbage_body, 2);
    }
    int64_t s_size = (int64_t)data->n - s_start;

    /* name */
    int64_t n_start = (int64_t)data->n;
    tb body = {.n = 0};
    for (int i = 0; i < 8; i++) {
        tb_le32(&body, p->bad_strlen && i == 3 ? 4000000000u : (uint32_t)strlen(names[i]));
        tb_put(&body, names[i], strlen(names[i]));
    }
    put_page(data, p, 0, body.b, body.n, 0, 0, 8, PQ_ENC_PLAIN, 0, false, 0);
    int64_t n_size = (int64_t)data->n - n_start;

    /* FileMetaData */
    int64_t rows = p->empty_zero_offsets ? 0 : p->rows ? p->rows : 8;
    int last = 0;
    th_i32(footer, &last, 1, 1);
    int nelem = p->zero_cols ? 1 : p->nested ? 4 : 3;
    th_list(footer, &last, 2, PQR_T_STRUCT, (size_t)nelem);
    { /* root */
        int l = 0;
        th_bin(footer, &l, 4, "schema", 6);
        th_i32(footer, &l, 5, p->zero_cols ? 0 : p->nested ? 1 : 2);
        th_stop(footer);
    }
    if (p->nested) { /* a group "g" holding both leaves */
        int l = 0;
        th_i32(footer, &l, 3, 1);
        th_bin(footer, &l, 4, "g", 1);
        th_i32(footer, &l, 5, 2);
        th_stop(footer);
    }
    if (!p->zero_cols) {
        int l = 0;
        th_i32(footer, &l, 1, PQ_INT32);
        th_i32(footer, &l, 3, p->repeated ? 2 : 1);
        th_bin(footer, &l, 4, "sales", 5);
        th_stop(footer);
        l = 0;
        th_i32(footer, &l, 1, PQ_BYTE_ARRAY);
        th_i32(footer, &l, 3, 0);
        th_bin(footer, &l, 4, "name", 4);
        th_i32(footer, &l, 6, 0); /* ConvertedType UTF8 */
        th_field(footer, &l, 10, PQR_T_STRUCT);
        int l3 = 0;
        th_field(footer, &l3, 1, PQR_T_STRUCT); /* LogicalType.STRING {} */
        th_stop(footer);
        th_stop(footer);
        th_stop(footer);
    }
    th_i64(footer, &last, 3, rows);
    th_list(footer, &last, 4, PQR_T_STRUCT, 1);
    { /* RowGroup */
        int l = 0;
        int ncc = p->zero_cols ? 0 : 2;
        th_list(footer, &l, 1, PQR_T_STRUCT, (size_t)ncc);
        for (int c = 0; c < ncc; c++) {
            int l2 = 0;
            th_i64(footer, &l2, 2, 0);
            th_field(footer, &l2, 3, PQR_T_STRUCT);
            if (c == 0)
                /* the all-NULL page claims SNAPPY: empty input is not valid
                 * snappy, so only a reader that skips it can pass */
                put_colmeta(footer, PQ_INT32, "sales", p->v2_all_null ? PQ_SNAPPY : p->codec,
                            p->chunk_values ? p->chunk_values : rows, s_size,
                            p->empty_zero_offsets ? 0
                            : p->data_off_set     ? p->data_off_set
                                                  : s_data,
                            dict_off, 2);
            else
                put_colmeta(footer, PQ_BYTE_ARRAY, "name", p->codec, rows, n_size,
                            p->empty_zero_offsets ? 0 : n_start, -1, 0);
            th_stop(footer);
        }
        th_i64(footer, &l, 2, s_size + n_size);
        th_i64(footer, &l, 3, rows);
        th_stop(footer);
    }
    th_bin(footer, &last, 6, "salespipe-test", 14);
    th_stop(footer);
}

static const char *write_bytes(const char *name, const uint8_t *p, size_t n)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", test_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return NULL;
    fwrite(p, 1, n, f);
    fclose(f);
    return path;
}

/* data + footer + length + magic, then optional byte-level damage. */
static size_t assemble(const tb *data, const uint8_t *footer, size_t flen, uint8_t *out)
{
    memcpy(out, data->b, data->n);
    memcpy(out + data->n, footer, flen);
    size_t n = data->n + flen;
    out[n++] = (uint8_t)flen;
    out[n++] = (uint8_t)(flen >> 8);
    out[n++] = (uint8_t)(flen >> 16);
    out[n++] = (uint8_t)(flen >> 24);
    memcpy(out + n, "PAR1", 4);
    return n + 4;
}

TEST(parquet_read_fixture_valid)
{
    static const fx variants[] = {{.codec = PQ_UNCOMPRESSED}, {.codec = PQ_ZSTD},
                                  {.codec = PQ_UNCOMPRESSED, .v2 = true}, {.codec = PQ_ZSTD, .v2 = true}};
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        static tb data, footer;
        static uint8_t file[40000];
        build_fixture(&variants[v], &data, &footer);
        size_t n = assemble(&data, footer.b, footer.n, file);
        const char *path = write_bytes("ok.parquet", file, n);
        sp_error err;
        pq_reader *r;
        REQUIRE(pq_reader_open(&r, path, &err) == SP_OK);
        CHECK_INT(pq_reader_num_columns(r), 2);
        CHECK_INT(pq_reader_num_rows(r), 8);
        CHECK_STR(pq_reader_column(r, 0)->name, "sales");
        CHECK(pq_reader_column(r, 0)->optional);
        CHECK_INT(pq_reader_column(r, 1)->logical, PQ_LOGICAL_STRING);
        CHECK_STR(pq_reader_created_by(r), "salespipe-test");
        const pq_chunk_info *ci = pq_reader_chunk(r, 0, 0);
        REQUIRE(ci);
        CHECK(ci->stats.has_min_max);
        CHECK_INT(ci->stats.null_count, 2);
        CHECK_INT(ci->stats.min[0], 5);
        CHECK_INT(ci->stats.max[0], 9);
        CHECK(ci->encodings & (1u << PQ_ENC_RLE_DICTIONARY));
        pq_values out[2];
        if (pq_reader_read_row_group(r, 0, out, &err) != SP_OK) {
            CHECK_STR(err.msg, "");
        } else {
            static const int32_t want[8] = {5, 0, 7, 5, 5, 0, 7, 9};
            static const uint8_t wvalid[8] = {1, 0, 1, 1, 1, 0, 1, 1};
            REQUIRE(out[0].valid);
            for (int i = 0; i < 8; i++) {
                CHECK_INT(((const int32_t *)out[0].values)[i], want[i]);
                CHECK_INT(out[0].valid[i], wvalid[i]);
            }
            CHECK(out[1].valid == NULL);
            for (int i = 0; i < 8; i++) {
                uint32_t a = out[1].offsets[i], b = out[1].offsets[i + 1];
                CHECK_INT(b - a, strlen(names[i]));
                CHECK(memcmp(out[1].bytes + a, names[i], b - a) == 0);
            }
        }
        pq_reader_close(r);
    }
}

/* Valid files other writers produce that look odd: a v2 page of NULLs only
 * whose (compressed) values section is empty, and an empty row group whose
 * chunks carry data_page_offset 0. Both must read, not fail. */
TEST(parquet_read_writer_quirks)
{
    static tb data, footer;
    static uint8_t file[40000];
    sp_error err;
    pq_reader *r;
    pq_values out[2];

    fx allnull = {.codec = PQ_UNCOMPRESSED, .v2 = true, .v2_all_null = true, .no_dict_page = true};
    build_fixture(&allnull, &data, &footer);
    const char *path = write_bytes("allnull.parquet", file, assemble(&data, footer.b, footer.n, file));
    REQUIRE(pq_reader_open(&r, path, &err) == SP_OK);
    int rc = pq_reader_read_row_group(r, 0, out, &err);
    CHECK_STR(rc == SP_OK ? "" : err.msg, "");
    if (rc == SP_OK) {
        CHECK_INT(out[0].n, 8);
        REQUIRE(out[0].valid);
        for (int i = 0; i < 8; i++)
            CHECK_INT(out[0].valid[i], 0);
    }
    pq_reader_close(r);

    fx empty = {.codec = PQ_UNCOMPRESSED, .empty_zero_offsets = true};
    build_fixture(&empty, &data, &footer);
    path = write_bytes("empty.parquet", file, assemble(&data, footer.b, footer.n, file));
    rc = pq_reader_open(&r, path, &err);
    CHECK_STR(rc == SP_OK ? "" : err.msg, "");
    if (rc == SP_OK) {
        CHECK_INT(pq_reader_num_rows(r), 0);
        CHECK_INT(pq_reader_read_row_group(r, 0, out, &err), SP_OK);
        CHECK_INT(out[0].n, 0);
        pq_reader_close(r);
    }
}

/* ---- the corrupt-file table ------------------------------------------------ */

enum damage { D_NONE, D_TRUNCATE, D_HEAD, D_TAIL, D_FLEN, D_FOOTER, D_FOOTER_CUT, D_PARE };

typedef struct corrupt_case {
    const char *name;
    fx params;
    enum damage damage;
    int64_t arg;                 /* bytes kept / footer length value */
    const uint8_t *footer;       /* D_FOOTER: replacement footer bytes */
    size_t footer_len;
    bool at_open;                /* the error must come from pq_reader_open */
    int code;
    const char *want;
} corrupt_case;

static const uint8_t garbage_footer[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
/* Field 2 (schema) as a list of structs claiming 2^32-1 elements. */
static const uint8_t absurd_list_footer[] = {0x15, 0x02, 0x19, 0xfc, 0xff, 0xff,
                                             0xff, 0xff, 0x0f, 0x00, 0x00};
/* Field 3 as a map<binary,binary> claiming 2^28 entries: skipped, capped. */
static const uint8_t absurd_map_footer[] = {0x1b, 0xff, 0xff, 0xff, 0x7f, 0x88, 0x00, 0x00};
static uint8_t deep_footer[300];

TEST(parquet_read_corrupt_files)
{
    for (size_t i = 0; i < sizeof deep_footer; i++)
        deep_footer[i] = 0x1c; /* field +1, type struct: nesting without end */
    static const corrupt_case cases[] = {
        {"truncated to 10 bytes", {0}, D_TRUNCATE, 10, NULL, 0, true, SP_ERR_CORRUPT,
         "too small to be Parquet"},
        {"truncated in the middle", {0}, D_TRUNCATE, 60, NULL, 0, true, SP_ERR_CORRUPT,
         "bad tail magic"},
        {"bad head magic", {0}, D_HEAD, 0, NULL, 0, true, SP_ERR_CORRUPT, "bad head magic"},
        {"bad tail magic", {0}, D_TAIL, 0, NULL, 0, true, SP_ERR_CORRUPT, "bad tail magic"},
        {"encrypted footer", {0}, D_PARE, 0, NULL, 0, true, SP_ERR_UNSUPPORTED, "encrypted"},
        {"footer length past the file", {0}, D_FLEN, 0x7fffff00, NULL, 0, true, SP_ERR_CORRUPT,
         "past the start of the file"},
        {"footer length 0", {0}, D_FLEN, 0, NULL, 0, true, SP_ERR_CORRUPT, "footer length is 0"},
        {"garbage footer", {0}, D_FOOTER, 0, garbage_footer, sizeof garbage_footer, true,
         SP_ERR_CORRUPT, "footer is not valid Thrift"},
        {"unterminated struct", {0}, D_FOOTER_CUT, 1, NULL, 0, true, SP_ERR_CORRUPT, "truncated"},
        {"deep nesting", {0}, D_FOOTER, 0, deep_footer, sizeof deep_footer, true, SP_ERR_CORRUPT,
         "nested too deeply"},
        {"list count absurd", {0}, D_FOOTER, 0, absurd_list_footer, sizeof absurd_list_footer,
         true, SP_ERR_CORRUPT, "list count larger than the bytes left"},
        {"map count absurd", {0}, D_FOOTER, 0, absurd_map_footer, sizeof absurd_map_footer, true,
         SP_ERR_CORRUPT, "map count larger than the bytes left"},
        {"zero columns", {.zero_cols = true}, D_NONE, 0, NULL, 0, true, SP_ERR_CORRUPT,
         "schema has no columns"},
        {"nested schema", {.nested = true}, D_NONE, 0, NULL, 0, true, SP_ERR_UNSUPPORTED,
         "column 'g' is a group"},
        {"repeated column", {.repeated = true}, D_NONE, 0, NULL, 0, true, SP_ERR_UNSUPPORTED,
         "column 'sales' is repeated"},
        {"absurd num_rows", {.rows = INT64_C(1) << 50}, D_NONE, 0, NULL, 0, true, SP_ERR_LIMIT,
         "row group 0 claims 1125899906842624 rows"},
        {"negative num_rows", {.rows = -5}, D_NONE, 0, NULL, 0, true, SP_ERR_CORRUPT,
         "negative row count"},
        {"absurd num_values", {.chunk_values = 4000000000}, D_NONE, 0, NULL, 0, true,
         SP_ERR_CORRUPT, "column 'sales' row group 0: column chunk claims 4000000000 values"},
        {"chunk offset outside the file", {.data_off_set = 1000000000}, D_NONE, 0, NULL, 0, true,
         SP_ERR_CORRUPT, "column 'sales' row group 0: data page offset 1000000000 lies outside"},
        {"compressed size past the chunk", {.csize_set = 2000000000}, D_NONE, 0, NULL, 0, false,
         SP_ERR_CORRUPT, "page header claims 2000000000 bytes, past the end of the column chunk"},
        {"negative page size", {.csize_set = -7}, D_NONE, 0, NULL, 0, false, SP_ERR_CORRUPT,
         "negative size"},
        {"uncompressed size huge", {.usize_set = 2000000000}, D_NONE, 0, NULL, 0, false,
         SP_ERR_LIMIT, "uncompressed size of 2000000000 bytes, above the cap"},
        {"uncompressed size lies (zstd)", {.codec = PQ_ZSTD, .usize_set = 9}, D_NONE, 0, NULL, 0,
         false, SP_ERR_CORRUPT, "ZSTD"},
        {"dictionary index out of range", {.bad_index = true}, D_NONE, 0, NULL, 0, false,
         SP_ERR_CORRUPT, "dictionary index 3 out of range (dictionary has 3)"},
        {"dictionary count absurd", {.dict_n = 1000000}, D_NONE, 0, NULL, 0, false,
         SP_ERR_CORRUPT, "dictionary page claims 1000000 values but holds only 12 bytes"},
        {"dictionary page missing", {.no_dict_page = true}, D_NONE, 0, NULL, 0, false,
         SP_ERR_CORRUPT, "no dictionary page"},
        {"page values past the row group", {.page_nv = 100}, D_NONE, 0, NULL, 0, false,
         SP_ERR_CORRUPT, "page claims 100 values but only 8 rows"},
        {"chunk ends early", {.page_nv = 4}, D_NONE, 0, NULL, 0, false, SP_ERR_CORRUPT,
         "column chunk ends after 4 of 8 values"},
        {"string length past the page", {.bad_strlen = true}, D_NONE, 0, NULL, 0, false,
         SP_ERR_CORRUPT, "column 'name' row group 0: page 1"},
        {"decompression failure", {.codec = PQ_ZSTD, .garbage_body = true}, D_NONE, 0, NULL, 0,
         false, SP_ERR_CORRUPT, "ZSTD decompression failed"},
        {"decompression failure (v2)", {.codec = PQ_ZSTD, .garbage_body = true, .v2 = true},
         D_NONE, 0, NULL, 0, false, SP_ERR_CORRUPT, "ZSTD decompression failed"},
    };
    static tb data, footer;
    static uint8_t file[40000];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const corrupt_case *k = &cases[c];
        fx params = k->params;
        if (!params.codec)
            params.codec = PQ_UNCOMPRESSED;
        build_fixture(&params, &data, &footer);
        size_t n;
        if (k->damage == D_FOOTER)
            n = assemble(&data, k->footer, k->footer_len, file);
        else if (k->damage == D_FOOTER_CUT)
            n = assemble(&data, footer.b, footer.n - (size_t)k->arg, file);
        else
            n = assemble(&data, footer.b, footer.n, file);
        switch (k->damage) {
        case D_TRUNCATE: n = (size_t)k->arg; break;
        case D_HEAD: file[0] = 'X'; break;
        case D_TAIL: file[n - 1] = 'X'; break;
        case D_PARE: file[n - 1] = 'E'; break;
        case D_FLEN:
            for (int b = 0; b < 4; b++)
                file[n - 8 + (size_t)b] = (uint8_t)((uint64_t)k->arg >> (8 * b));
            break;
        default: break;
        }
        const char *path = write_bytes("bad.parquet", file, n);
        REQUIRE(path);
        sp_error err;
        sp_error_clear(&err);
        pq_reader *r = NULL;
        int rc = pq_reader_open(&r, path, &err);
        if (rc == SP_OK) {
            if (k->at_open)
                test_fail_at(__FILE__, __LINE__, "case '%s': open succeeded", k->name);
            pq_values out[2];
            rc = pq_reader_read_row_group(r, 0, out, &err);
            pq_reader_close(r);
        } else {
            CHECK(r == NULL);
        }
        if (rc != k->code)
            test_fail_at(__FILE__, __LINE__, "case '%s': code %d (%s), expected %d", k->name, rc,
                         err.msg, k->code);
        if (!strstr(err.msg, k->want) || !strstr(err.msg, "bad.parquet"))
            test_fail_at(__FILE__, __LINE__, "case '%s': message \"%s\" lacks \"%s\"", k->name,
                         err.msg, k->want);
    }
}

TEST(parquet_read_memory_limit)
{
    static tb data, footer;
    static uint8_t file[40000];
    fx p = {.codec = PQ_UNCOMPRESSED};
    build_fixture(&p, &data, &footer);
    size_t n = assemble(&data, footer.b, footer.n, file);
    const char *path = write_bytes("lim.parquet", file, n);
    sp_error err;
    pq_reader *r;
    REQUIRE(pq_reader_open(&r, path, &err) == SP_OK);
    pq_reader_set_memory_limit(r, 16);
    pq_values out[2];
    CHECK_INT(pq_reader_read_row_group(r, 0, out, &err), SP_ERR_LIMIT);
    CHECK_CONTAINS(err.msg, "memory limit");
    pq_reader_set_memory_limit(r, 1 << 20);
    CHECK_INT(pq_reader_read_row_group(r, 0, out, &err), SP_OK);
    CHECK_INT(pq_reader_read_row_group(r, 1, out, &err), SP_ERR_USAGE);
    pq_reader_close(r);
}

TEST(parquet_read_missing_file)
{
    sp_error err;
    pq_reader *r;
    CHECK_INT(pq_reader_open(&r, "/nonexistent/x.parquet", &err), SP_ERR_IO);
    CHECK_CONTAINS(err.msg, "/nonexistent/x.parquet");
    CHECK(r == NULL);
    pq_reader_close(NULL);
}

/* ---- DuckDB-written files (tests/corrupt/, generated from range(300)) ----- */

TEST(parquet_read_duckdb_files)
{
    static const char *files[] = {"tests/corrupt/duckdb_v1_zstd.parquet",
                                  "tests/corrupt/duckdb_v2_snappy.parquet"};
    for (size_t f = 0; f < 2; f++) {
        sp_error err;
        pq_reader *r;
        FILE *probe = fopen(files[f], "rb");
        if (!probe)
            SKIP("tests/corrupt fixtures not found (run from the project root)");
        fclose(probe);
        REQUIRE(pq_reader_open(&r, files[f], &err) == SP_OK);
        REQUIRE(pq_reader_num_columns(r) == 5);
        CHECK(pq_reader_num_row_groups(r) >= 1);
        CHECK_INT(pq_reader_column(r, 3)->logical, PQ_LOGICAL_DECIMAL);
        CHECK_INT(pq_reader_column(r, 3)->precision, 18);
        CHECK_INT(pq_reader_column(r, 3)->scale, 4);
        CHECK_INT(pq_reader_column(r, 4)->logical, PQ_LOGICAL_DATE);
        int64_t row = 0;
        pq_values v[5];
        for (size_t g = 0; g < pq_reader_num_row_groups(r); g++) {
            if (pq_reader_read_row_group(r, g, v, &err) != SP_OK) {
                CHECK_STR(err.msg, "");
                break;
            }
            for (size_t k = 0; k < v[0].n; k++, row++) {
                CHECK_INT(((const int32_t *)v[0].values)[k], row);
                if (row % 7 == 0) {
                    CHECK(v[1].valid && !v[1].valid[k]);
                    CHECK_INT(v[1].offsets[k + 1] - v[1].offsets[k], 0);
                } else {
                    char want[16];
                    snprintf(want, sizeof want, "k%d", (int)(row % 13));
                    uint32_t a = v[1].offsets[k], b = v[1].offsets[k + 1];
                    CHECK(b - a == strlen(want) && memcmp(v[1].bytes + a, want, b - a) == 0);
                }
                CHECK(((const double *)v[2].values)[k] == (double)row * 0.25);
                CHECK_INT(((const int64_t *)v[3].values)[k], (row * 100 + 5) * 10000);
                CHECK_INT(((const int32_t *)v[4].values)[k], 19782 + row);
            }
        }
        CHECK_INT(row, 300);
        pq_reader_close(r);
    }
}

/* ---- decoders -------------------------------------------------------------- */

typedef struct hybrid_case {
    const char *name;
    uint8_t bytes[16];
    size_t len;
    int bw;
    size_t n;
    uint32_t want[12];
    const char *err; /* NULL: must succeed */
} hybrid_case;

TEST(parquet_dec_hybrid)
{
    static const hybrid_case cases[] = {
        {"rle run", {0x0a, 0x07}, 2, 3, 5, {7, 7, 7, 7, 7}, NULL},
        {"bit-packed bw3", {0x03, 0x88, 0xc6, 0xfa}, 4, 3, 8, {0, 1, 2, 3, 4, 5, 6, 7}, NULL},
        {"rle then packed", {0x04, 0x01, 0x03, 0x04, 0x09}, 5, 2, 6, {1, 1, 0, 1, 0, 0}, NULL},
        {"two-byte rle value", {0x06, 0x34, 0x12}, 3, 13, 3, {0x1234, 0x1234, 0x1234}, NULL},
        {"bit width 0", {0x10}, 1, 0, 8, {0}, NULL},
        {"short final packed run", {0x05, 0xff}, 2, 1, 8, {1, 1, 1, 1, 1, 1, 1, 1}, NULL},
        {"ends early", {0x04, 0x01}, 2, 2, 6, {0}, "ends after 2 of 6"},
        {"rle value truncated", {0x0a}, 1, 9, 5, {0}, "truncated"},
        {"rle value too wide", {0x0a, 0x05}, 2, 2, 5, {0}, "wider than 2 bits"},
        {"bit width too big", {0x0a}, 1, 33, 5, {0}, "above 32"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const hybrid_case *k = &cases[c];
        uint32_t out[16];
        sp_error err;
        sp_error_clear(&err);
        int rc = pq_dec_hybrid_u32(k->bytes, k->len, k->bw, out, k->n, &err);
        if (k->err) {
            if (rc == SP_OK || !strstr(err.msg, k->err))
                test_fail_at(__FILE__, __LINE__, "case '%s': rc %d msg \"%s\"", k->name, rc,
                             err.msg);
            continue;
        }
        if (rc != SP_OK) {
            test_fail_at(__FILE__, __LINE__, "case '%s': %s", k->name, err.msg);
            continue;
        }
        for (size_t i = 0; i < k->n; i++)
            if (out[i] != k->want[i])
                test_fail_at(__FILE__, __LINE__, "case '%s': value %zu is %u, want %u", k->name,
                             i, out[i], k->want[i]);
    }
}

/* A straightforward DELTA_BINARY_PACKED encoder, written from the spec, to
 * round-trip the decoder on awkward values (one block = 4 miniblocks of 32). */
static size_t delta_encode(const int64_t *v, size_t n, uint8_t *out)
{
    tb t = {.n = 0};
    tb_uvar(&t, 128);
    tb_uvar(&t, 4);
    tb_uvar(&t, n);
    tb_zz(&t, n ? v[0] : 0);
    for (size_t i = 1; i < n; i += 128) {
        uint64_t d[128];
        size_t m = n - i < 128 ? n - i : 128;
        int64_t mind = INT64_MAX;
        for (size_t k = 0; k < m; k++) {
            d[k] = (uint64_t)v[i + k] - (uint64_t)v[i + k - 1];
            if ((int64_t)d[k] < mind)
                mind = (int64_t)d[k];
        }
        tb_zz(&t, mind);
        uint8_t widths[4] = {0, 0, 0, 0};
        for (size_t k = 0; k < m; k++) {
            uint64_t rel = d[k] - (uint64_t)mind;
            int w = 0;
            while (w < 64 && (rel >> w))
                w++;
            if (w > widths[k / 32])
                widths[k / 32] = (uint8_t)w;
        }
        tb_put(&t, widths, 4);
        for (size_t mb = 0; mb * 32 < m; mb++) {
            uint8_t bytes[256];
            memset(bytes, 0, sizeof bytes);
            for (size_t k = 0; k < 32 && mb * 32 + k < m; k++) {
                uint64_t rel = d[mb * 32 + k] - (uint64_t)mind;
                for (int b = 0; b < widths[mb]; b++)
                    if ((rel >> b) & 1) {
                        size_t bit = k * widths[mb] + (size_t)b;
                        bytes[bit / 8] |= (uint8_t)(1u << (bit % 8));
                    }
            }
            tb_put(&t, bytes, (size_t)widths[mb] * 4);
        }
    }
    memcpy(out, t.b, t.n);
    return t.n;
}

TEST(parquet_dec_delta)
{
    /* The spec's example: 7 5 3 1 2 3 4 5 → min delta -2, one miniblock of width 2. */
    static const uint8_t ex[] = {0x80, 0x01, 0x04, 0x08, 0x0e, 0x03, 0x02, 0x00, 0x00, 0x00,
                                 0xc0, 0x3f, 0, 0, 0, 0, 0, 0};
    int64_t out[600];
    size_t used;
    sp_error err;
    REQUIRE(pq_dec_delta(ex, sizeof ex, out, 8, &used, &err) == SP_OK);
    static const int64_t want[8] = {7, 5, 3, 1, 2, 3, 4, 5};
    for (int i = 0; i < 8; i++)
        CHECK_INT(out[i], want[i]);
    CHECK_INT(used, sizeof ex);
    CHECK_INT(pq_dec_delta(ex, sizeof ex, out, 9, &used, &err), SP_ERR_CORRUPT);
    CHECK_CONTAINS(err.msg, "says 8 values");
    CHECK_INT(pq_dec_delta(ex, 12, out, 8, &used, &err), SP_OK); /* unpadded last miniblock */
    CHECK_INT(pq_dec_delta(ex, 10, out, 8, &used, &err), SP_ERR_CORRUPT);

    static int64_t vals[600];
    static uint8_t enc[16000];
    uint64_t seed = 42;
    for (int round = 0; round < 4; round++) {
        for (size_t i = 0; i < 600; i++) {
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            switch (round) {
            case 0: vals[i] = (int64_t)(i * 3) - 50; break;
            case 1: vals[i] = (int64_t)(seed >> 40) - (1 << 23); break;
            case 2: vals[i] = (int64_t)seed; break; /* full 64-bit range, wraps */
            default: vals[i] = i % 2 ? INT64_MAX : INT64_MIN; break;
            }
        }
        size_t elen = delta_encode(vals, 600, enc);
        memset(out, 0, sizeof out);
        if (pq_dec_delta(enc, elen, out, 600, &used, &err) != SP_OK) {
            CHECK_STR(err.msg, "");
            continue;
        }
        CHECK_INT(used, elen);
        for (size_t i = 0; i < 600; i++)
            if (out[i] != vals[i]) {
                test_fail_at(__FILE__, __LINE__, "round %d value %zu", round, i);
                break;
            }
    }
}

TEST(parquet_dec_delta_byte_arrays)
{
    static const char *words[] = {"apple", "applesauce", "apply", "banana", "", "band"};
    int64_t prefix[6] = {0, 5, 4, 0, 0, 0}, suffix[6];
    const char *sfx[6] = {"apple", "sauce", "y", "banana", "", "band"};
    for (int i = 0; i < 6; i++)
        suffix[i] = (int64_t)strlen(sfx[i]);
    static uint8_t page[2000];
    size_t n = delta_encode(prefix, 6, page);
    n += delta_encode(suffix, 6, page + n);
    for (int i = 0; i < 6; i++) {
        memcpy(page + n, sfx[i], strlen(sfx[i]));
        n += strlen(sfx[i]);
    }
    sp_buf out;
    sp_buf_init(&out, 1 << 20);
    uint32_t ends[6];
    int64_t scratch[12];
    sp_error err;
    REQUIRE(pq_dec_delta_bytes(page, n, 6, 0, scratch, &out, ends, &err) == SP_OK);
    uint32_t a = 0;
    for (int i = 0; i < 6; i++) {
        CHECK_INT(ends[i] - a, strlen(words[i]));
        CHECK(memcmp(out.data + a, words[i], ends[i] - a) == 0);
        a = ends[i];
    }
    /* A prefix longer than the previous value is corrupt. */
    prefix[1] = 6;
    n = delta_encode(prefix, 6, page);
    n += delta_encode(suffix, 6, page + n);
    sp_buf_reset(&out);
    CHECK_INT(pq_dec_delta_bytes(page, n + 30, 6, 0, scratch, &out, ends, &err), SP_ERR_CORRUPT);
    CHECK_CONTAINS(err.msg, "prefix 6 longer");

    /* DELTA_LENGTH_BYTE_ARRAY: lengths then the bytes. */
    int64_t lens[3] = {3, 0, 4};
    n = delta_encode(lens, 3, page);
    memcpy(page + n, "foobarz", 7);
    sp_buf_reset(&out);
    REQUIRE(pq_dec_delta_length_bytes(page, n + 7, 3, scratch, &out, ends, &err) == SP_OK);
    CHECK_INT(ends[0], 3);
    CHECK_INT(ends[1], 3);
    CHECK_INT(ends[2], 7);
    CHECK(memcmp(out.data, "foobarz", 7) == 0);
    sp_buf_reset(&out);
    CHECK_INT(pq_dec_delta_length_bytes(page, n + 6, 3, scratch, &out, ends, &err), SP_ERR_CORRUPT);
    CHECK_CONTAINS(err.msg, "sum to 7 bytes");
    sp_buf_free(&out);
}

TEST(parquet_dec_plain_and_dictionary)
{
    sp_error err;
    /* BOOLEAN PLAIN is LSB-first bits. */
    uint8_t bits[2] = {0x05, 0x01}, b[9];
    REQUIRE(pq_dec_plain_bool(bits, 2, b, 9, &err) == SP_OK);
    static const uint8_t wb[9] = {1, 0, 1, 0, 0, 0, 0, 0, 1};
    CHECK(memcmp(b, wb, 9) == 0);
    CHECK_INT(pq_dec_plain_bool(bits, 1, b, 9, &err), SP_ERR_CORRUPT);

    /* BYTE_ARRAY PLAIN: a length past the page is refused before copying. */
    static const uint8_t ba[] = {2, 0, 0, 0, 'h', 'i', 9, 0, 0, 0, 'x'};
    sp_buf out;
    sp_buf_init(&out, 1 << 20);
    uint32_t ends[4];
    CHECK_INT(pq_dec_plain_bytes(ba, 6, 1, &out, ends, &err), SP_OK);
    CHECK_INT(ends[0], 2);
    CHECK_INT(pq_dec_plain_bytes(ba, sizeof ba, 2, &out, ends, &err), SP_ERR_CORRUPT);
    CHECK_CONTAINS(err.msg, "claims 9 bytes");
    /* The output cap turns into SP_ERR_LIMIT. */
    sp_buf small;
    sp_buf_init(&small, 1);
    CHECK_INT(pq_dec_plain_bytes(ba, 6, 1, &small, ends, &err), SP_ERR_LIMIT);
    sp_buf_free(&small);

    /* Dictionary gather with an index out of range. */
    int32_t dict[3] = {10, 20, 30}, vals[4];
    uint32_t idx[4] = {2, 0, 1, 2};
    CHECK_INT(pq_dec_gather_fixed(dict, 3, 4, idx, vals, 4, &err), SP_OK);
    CHECK_INT(vals[0], 30);
    CHECK_INT(vals[2], 20);
    idx[3] = 3;
    CHECK_INT(pq_dec_gather_fixed(dict, 3, 4, idx, vals, 4, &err), SP_ERR_CORRUPT);
    CHECK_CONTAINS(err.msg, "index 3 out of range");
    uint32_t doff[3] = {0, 2, 5};
    idx[3] = 1;
    sp_buf_reset(&out);
    CHECK_INT(pq_dec_gather_bytes(doff, (const uint8_t *)"hiyou", 2, idx, 2, &out, ends, &err),
              SP_ERR_CORRUPT);
    idx[0] = 1;
    CHECK_INT(pq_dec_gather_bytes(doff, (const uint8_t *)"hiyou", 2, idx, 2, &out, ends, &err),
              SP_OK);
    CHECK(memcmp(out.data, "youhi", 5) == 0);

    /* Index page: bit width byte then runs. */
    static const uint8_t ip[] = {2, 0x03, 0x04, 0x09};
    uint32_t ix[6];
    REQUIRE(pq_dec_dict_indices(ip, sizeof ip, ix, 6, &err) == SP_OK);
    CHECK_INT(ix[5], 2);
    static const uint8_t ipw[] = {40, 0x03};
    CHECK_INT(pq_dec_dict_indices(ipw, 2, ix, 1, &err), SP_ERR_CORRUPT);

    /* BYTE_STREAM_SPLIT of two floats. */
    float f[2] = {1.5f, -2.25f}, g[2];
    uint8_t src[8], *fp = (uint8_t *)f;
    for (int s = 0; s < 4; s++)
        for (int i = 0; i < 2; i++)
            src[s * 2 + i] = fp[i * 4 + s];
    REQUIRE(pq_dec_byte_stream_split(src, 8, 4, (uint8_t *)g, 2, &err) == SP_OK);
    CHECK(g[0] == 1.5f && g[1] == -2.25f);

    /* Deprecated BIT_PACKED levels are MSB first. */
    uint8_t lv[1] = {0xa0}, valid[3];
    size_t present, used;
    REQUIRE(pq_dec_def_levels_bitpacked(lv, 1, valid, 3, &present, &used, &err) == SP_OK);
    CHECK(valid[0] == 1 && valid[1] == 0 && valid[2] == 1);
    CHECK_INT(present, 2);
    sp_buf_free(&out);
}

TEST(parquet_dec_decompress)
{
    static uint8_t src[4000], comp[5000], back[4000];
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)(i % 17 + i / 500);
    pq_dec_codec codec = {0};
    sp_error err;

    /* gzip header (windowBits 31) and zlib header (15) both inflate. */
    for (int wbits = 15; wbits <= 31; wbits += 16) {
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        REQUIRE(deflateInit2(&zs, 6, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY) == Z_OK);
        zs.next_in = src;
        zs.avail_in = sizeof src;
        zs.next_out = comp;
        zs.avail_out = sizeof comp;
        REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
        size_t clen = sizeof comp - zs.avail_out;
        deflateEnd(&zs);
        memset(back, 0, sizeof back);
        CHECK_INT(pq_decompress(&codec, PQ_GZIP, comp, clen, back, sizeof back, &err), SP_OK);
        CHECK(memcmp(src, back, sizeof src) == 0);
        CHECK_INT(pq_decompress(&codec, PQ_GZIP, comp, clen, back, 100, &err), SP_ERR_CORRUPT);
        CHECK_INT(pq_decompress(&codec, PQ_GZIP, comp, clen / 2, back, sizeof back, &err),
                  SP_ERR_CORRUPT);
    }
    size_t zl = ZSTD_compress(comp, sizeof comp, src, sizeof src, 3);
    CHECK_INT(pq_decompress(&codec, PQ_ZSTD, comp, zl, back, sizeof back, &err), SP_OK);
    CHECK(memcmp(src, back, sizeof src) == 0);
    CHECK_INT(pq_decompress(&codec, PQ_ZSTD, comp, zl, back, 10, &err), SP_ERR_CORRUPT);
    CHECK_INT(pq_decompress(&codec, PQ_SNAPPY, comp, zl, back, sizeof back, &err), SP_ERR_CORRUPT);
    CHECK_CONTAINS(err.msg, "SNAPPY");
    CHECK_INT(pq_decompress(&codec, 4, comp, zl, back, sizeof back, &err), SP_ERR_UNSUPPORTED);
    CHECK_CONTAINS(err.msg, "BROTLI");
    pq_dec_codec_free(&codec);
}

TEST(parquet_thrift_skip_every_type)
{
    /* struct { 1: double, 2: map<i32,string>{1:"a"}, 3: set<bool>{t,f},
     *          4: struct { 1: list<struct{}> [ {} ] }, 5: i8 -3, 6: true } then
     * field 7: i32 42, which must be found after skipping 1..6. */
    static const uint8_t b[] = {0x17, 1, 2, 3, 4, 5, 6, 7, 8,       /* double */
                                0x1b, 0x01, 0x58, 0x02, 0x01, 'a', /* map */
                                0x1a, 0x21, 0x01, 0x02,            /* set<bool> */
                                0x1c, 0x19, 0x1c, 0x00, 0x00,      /* struct{list<struct>} */
                                0x13, 0xfd,                        /* i8 */
                                0x11,                              /* bool true */
                                0x15, 0x54,                        /* i32 42 */
                                0x00};
    pqr_thrift t;
    pqr_thrift_init(&t, b, sizeof b);
    int16_t last = 0, id;
    int ft;
    int32_t got = -1;
    pqr_thrift_struct_begin(&t);
    while (pqr_thrift_next_field(&t, &last, &ft, &id)) {
        if (id == 7)
            got = pqr_thrift_i32(&t, ft);
        else
            pqr_thrift_skip(&t, ft);
    }
    pqr_thrift_struct_end(&t);
    CHECK(t.why == NULL);
    CHECK_INT(got, 42);
    CHECK_INT(pqr_thrift_pos(&t), sizeof b);

    /* Every prefix of it fails cleanly, never reading past the end. */
    for (size_t cut = 0; cut < sizeof b; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, b, cut);
        pqr_thrift_init(&t, copy, cut);
        last = 0;
        pqr_thrift_struct_begin(&t);
        while (pqr_thrift_next_field(&t, &last, &ft, &id))
            pqr_thrift_skip(&t, ft);
        pqr_thrift_struct_end(&t);
        CHECK(t.why != NULL);
        free(copy);
    }
}
