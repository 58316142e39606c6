/* test_parquet_write.c — unit tests of the Parquet writer's encoders and of
 * its file contract: Thrift compact bytes, RLE/bit-packed runs and
 * DELTA_BINARY_PACKED checked against bytes derived by hand from the format
 * spec, compression checked by the codec libraries themselves, atomic
 * publish, errors (UTF-8 included), and footer bytes.
 * Never uses the Parquet reader: round trips live in test_parquet_roundtrip.c. */
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "../../src/parquet/encode.h"
#include "../../src/parquet/parquet.h"
#include "../../src/parquet/thrift_enc.h"
#include "../test.h"
#include "sample_parquet.h"

/* ---- helpers ------------------------------------------------------------- */

static int bytes_eq(const sp_buf *b, const uint8_t *want, size_t n)
{
    return !b->broken && b->len == n && memcmp(b->data, want, n) == 0;
}

static void dump_mismatch(const char *what, const sp_buf *b)
{
    fprintf(stderr, "  %s got %zu bytes:", what, b->len);
    for (size_t i = 0; i < b->len && i < 64; i++)
        fprintf(stderr, " %02x", b->data[i]);
    fprintf(stderr, "\n");
}

static int has_bytes(const uint8_t *hay, size_t hlen, const uint8_t *needle, size_t nlen)
{
    return memmem(hay, hlen, needle, nlen) != NULL;
}

/* Entries of dir (without . and ..); *tmp counts names with ".tmp-". */
static int dir_entries(const char *dir, int *tmp)
{
    DIR *d = opendir(dir);
    int n = 0;
    *tmp = 0;
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        n++;
        if (strstr(e->d_name, ".tmp-"))
            (*tmp)++;
    }
    closedir(d);
    return n;
}

static pq_writer_options uncompressed_opts(void)
{
    pq_writer_options o;
    pq_writer_options_default(&o);
    o.codec = PQ_UNCOMPRESSED;
    return o;
}

/* Write one batch to dir/name and return the file's bytes (NULL on error). */
static uint8_t *write_file(const char *name, const pq_column_spec *cols, size_t ncols,
                           const pq_values *vals, const pq_writer_options *o, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", test_tmpdir(), name);
    sp_error err;
    pq_writer *w;
    if (pq_writer_open(&w, path, cols, ncols, o, &err) != SP_OK) {
        fprintf(stderr, "  open: %s\n", err.msg);
        return NULL;
    }
    if (pq_writer_write(w, vals, &err) != SP_OK) {
        fprintf(stderr, "  write: %s\n", err.msg);
        pq_writer_abort(w);
        return NULL;
    }
    if (pq_writer_close(w, &err) != SP_OK) {
        fprintf(stderr, "  close: %s\n", err.msg);
        return NULL;
    }
    return (uint8_t *)test_read_file(path, len);
}

/* ---- Thrift compact protocol --------------------------------------------- */

TEST(parquet_write_thrift_struct_bytes)
{
    sp_buf b;
    sp_buf_init(&b, 0);
    pq_tenc t;
    pq_tenc_init(&t, &b);
    pq_tenc_struct_begin(&t);
    pq_tenc_field_i32(&t, 1, 5);           /* 0x15, zigzag 10 */
    pq_tenc_field_i64(&t, 2, -1);          /* 0x16, zigzag 1 */
    pq_tenc_field_binary(&t, 4, "ab", 2);  /* delta 2: 0x28, len 2 */
    pq_tenc_field_bool(&t, 20, true);      /* delta 16: long form 0x01, zigzag(20) */
    pq_tenc_field_struct_begin(&t, 21);    /* 0x1C */
    pq_tenc_field_bool(&t, 1, false);      /* 0x12 */
    pq_tenc_struct_end(&t);                /* 0x00 */
    pq_tenc_field_list_begin(&t, 22, PQ_TC_I32, 2); /* 0x19, 0x25 */
    pq_tenc_elem_i32(&t, 1);
    pq_tenc_elem_i32(&t, -2);
    pq_tenc_field_i32(&t, 3, 7);           /* id goes down: long form 0x05, zigzag(3) */
    pq_tenc_struct_end(&t);
    static const uint8_t want[] = {0x15, 0x0A, 0x16, 0x01, 0x28, 0x02, 'a', 'b', 0x01, 0x28,
                                   0x1C, 0x12, 0x00, 0x19, 0x25, 0x02, 0x03, 0x05, 0x06,
                                   0x0E, 0x00};
    CHECK(bytes_eq(&b, want, sizeof want));
    if (!bytes_eq(&b, want, sizeof want))
        dump_mismatch("struct", &b);
    CHECK_INT(t.depth, 0);
    sp_buf_free(&b);
}

TEST(parquet_write_thrift_varints_and_long_lists)
{
    static const struct { int64_t v; uint64_t zz; } zz[] = {
        {0, 0}, {-1, 1}, {1, 2}, {-2, 3}, {2147483647, 4294967294u},
        {-2147483648LL, 4294967295u}, {INT64_MAX, UINT64_MAX - 1}, {INT64_MIN, UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof zz / sizeof zz[0]; i++)
        CHECK(pq_tenc_zigzag64(zz[i].v) == zz[i].zz);

    static const struct { uint64_t v; uint8_t b[10]; size_t n; } uv[] = {
        {0, {0x00}, 1}, {127, {0x7F}, 1}, {128, {0x80, 0x01}, 2}, {300, {0xAC, 0x02}, 2},
        {UINT64_MAX, {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}, 10},
    };
    sp_buf b;
    sp_buf_init(&b, 0);
    for (size_t i = 0; i < sizeof uv / sizeof uv[0]; i++) {
        sp_buf_reset(&b);
        pq_tenc_uvarint(&b, uv[i].v);
        CHECK(bytes_eq(&b, uv[i].b, uv[i].n));
    }

    /* 20 elements: 0xF0 | type, then the count as a varint. */
    sp_buf_reset(&b);
    pq_tenc t;
    pq_tenc_init(&t, &b);
    pq_tenc_struct_begin(&t);
    pq_tenc_field_list_begin(&t, 1, PQ_TC_I32, 20);
    for (int i = 0; i < 20; i++)
        pq_tenc_elem_i32(&t, 0);
    pq_tenc_struct_end(&t);
    CHECK_INT(b.len, 1 + 2 + 20 + 1);
    CHECK_INT(b.data[0], 0x19);
    CHECK_INT(b.data[1], 0xF5);
    CHECK_INT(b.data[2], 20);

    /* A capped buffer turns broken instead of overflowing. */
    sp_buf small;
    sp_buf_init(&small, 4);
    pq_tenc_init(&t, &small);
    pq_tenc_struct_begin(&t);
    pq_tenc_field_string(&t, 1, "longer than four bytes");
    CHECK(pq_tenc_broken(&t));
    sp_buf_free(&small);
    sp_buf_free(&b);
}

/* ---- RLE / bit-packed hybrid --------------------------------------------- */

TEST(parquet_write_rle_hybrid_table)
{
    static const uint32_t ten_ones[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    static const uint32_t zero_to_7[] = {0, 1, 2, 3, 4, 5, 6, 7};
    static const uint32_t run_then_tail[] = {5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 1, 2, 3};
    static const uint32_t wide_run[] = {300, 300, 300, 300, 300, 300, 300, 300};
    static const uint32_t three[] = {1, 0, 1};
    static const uint32_t tail_then_run[] = {1, 2, 3, 4, 5, 6, 7, 0, 4, 4, 4, 4, 4, 4, 4, 4, 4};
    static const struct {
        const char *name;
        const uint32_t *v;
        size_t n;
        int width;
        uint8_t want[16];
        size_t want_n;
    } cases[] = {
        /* RLE run: header 10 << 1 = 0x14, value in one byte */
        {"ten ones", ten_ones, 10, 1, {0x14, 0x01}, 2},
        /* Encodings.md example: 0..7 at width 3 = 10001000 11000110 11111010 */
        {"0..7 w3", zero_to_7, 8, 3, {0x03, 0x88, 0xC6, 0xFA}, 4},
        /* run of 10, then [1,2,3] padded to one group of 8 at width 3 */
        {"run+tail", run_then_tail, 13, 3, {0x14, 0x05, 0x03, 0xD1, 0x00, 0x00}, 6},
        /* width 9: the run value takes two little-endian bytes */
        {"wide run", wide_run, 8, 9, {0x10, 0x2C, 0x01}, 3},
        /* fewer than 8 values: one padded group, bits 1,0,1 */
        {"three", three, 3, 1, {0x03, 0x05}, 2},
        /* one packed group, then a run of 9 fours starting on the boundary */
        {"group+run", tail_then_run, 17, 3, {0x03, 0xD1, 0x58, 0x1F, 0x12, 0x04}, 6},
    };
    sp_buf b;
    sp_buf_init(&b, 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sp_buf_reset(&b);
        pq_enc_rle_u32(&b, cases[i].v, cases[i].n, cases[i].width);
        if (!bytes_eq(&b, cases[i].want, cases[i].want_n)) {
            test_fail_at(__FILE__, __LINE__, "rle case %s", cases[i].name);
            dump_mismatch(cases[i].name, &b);
        }
        /* The u8 variant (definition levels) must agree where values fit. */
        if (cases[i].width <= 8) {
            uint8_t v8[32];
            for (size_t k = 0; k < cases[i].n; k++)
                v8[k] = (uint8_t)cases[i].v[k];
            sp_buf_reset(&b);
            pq_enc_rle_u8(&b, v8, cases[i].n, cases[i].width);
            if (!bytes_eq(&b, cases[i].want, cases[i].want_n))
                test_fail_at(__FILE__, __LINE__, "rle u8 case %s", cases[i].name);
        }
    }

    /* A long run: 1000 sevens at width 3 -> varint(2000) = D0 0F, value 07. */
    uint32_t *many = malloc(1000 * sizeof *many);
    REQUIRE(many);
    for (int i = 0; i < 1000; i++)
        many[i] = 7;
    sp_buf_reset(&b);
    pq_enc_rle_u32(&b, many, 1000, 3);
    static const uint8_t want_many[] = {0xD0, 0x0F, 0x07};
    CHECK(bytes_eq(&b, want_many, sizeof want_many));
    free(many);

    /* Out-of-range widths mark the buffer broken. */
    sp_buf_reset(&b);
    pq_enc_rle_u32(&b, three, 3, 0);
    CHECK(b.broken);
    sp_buf_free(&b);
}

TEST(parquet_write_bit_width_and_bools)
{
    CHECK_INT(pq_enc_bit_width(0), 0);
    CHECK_INT(pq_enc_bit_width(1), 1);
    CHECK_INT(pq_enc_bit_width(2), 2);
    CHECK_INT(pq_enc_bit_width(3), 2);
    CHECK_INT(pq_enc_bit_width(255), 8);
    CHECK_INT(pq_enc_bit_width(256), 9);
    CHECK_INT(pq_enc_bit_width(UINT32_MAX), 32);

    static const uint8_t v[] = {1, 0, 1, 1, 0, 0, 0, 0, 1};
    static const uint8_t want[] = {0x0D, 0x01};
    sp_buf b;
    sp_buf_init(&b, 0);
    pq_enc_plain_bools(&b, v, sizeof v);
    CHECK(bytes_eq(&b, want, sizeof want));
    sp_buf_free(&b);
}

/* ---- compression --------------------------------------------------------- */

/* DELTA_BINARY_PACKED bytes from Encodings.md: header <128> <4> <count>
 * <zigzag first>, then per block <zigzag min delta> <4 widths> <miniblocks of
 * 32 values, 4 * width bytes each>. */
TEST(parquet_write_delta_binary_packed_bytes)
{
    static const struct {
        const char *what;
        int width;
        size_t n;
        int64_t v[5];
        uint8_t want[40];
        size_t want_len;
    } cases[] = {
        /* Spec example 1: deltas 1,1,1,1 -> min 1, width 0, no miniblock body. */
        {"1..5", 4, 5, {1, 2, 3, 4, 5}, {0x80, 0x01, 0x04, 0x05, 0x02, 0x02, 0, 0, 0, 0}, 10},
        /* One value: the header alone. */
        {"single", 8, 1, {-3}, {0x80, 0x01, 0x04, 0x01, 0x05}, 5},
        /* INT32 wraps in 32 bits: MAX -> MIN is delta +1 (width 0), not -(2^32 - 1). */
        {"int32 wrap", 4, 2, {INT32_MAX, INT32_MIN},
         {0x80, 0x01, 0x04, 0x02, 0xFE, 0xFF, 0xFF, 0xFF, 0x0F, 0x02, 0, 0, 0, 0}, 14},
        /* INT32 MIN, MAX, MIN: deltas -1, +1 (wrapped) -> min -1, packed 0, 2
         * at width 2 (never 33 bits). */
        {"int32 extremes", 4, 3, {INT32_MIN, INT32_MAX, INT32_MIN},
         {0x80, 0x01, 0x04, 0x03, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x01, 0x02, 0, 0, 0,
          0x08, 0, 0, 0, 0, 0, 0, 0},
         22},
        /* INT64 MIN, MAX, MIN: the same in 64 bits; zigzag(MIN) is 2^64 - 1. */
        {"int64 extremes", 8, 3, {INT64_MIN, INT64_MAX, INT64_MIN},
         {0x80, 0x01, 0x04, 0x03, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01,
          0x01, 0x02, 0, 0, 0, 0x08, 0, 0, 0, 0, 0, 0, 0},
         27},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint8_t in[32];
        for (size_t i = 0; i < cases[k].n; i++) {
            if (cases[k].width == 4) {
                int32_t x = (int32_t)cases[k].v[i];
                memcpy(in + i * 4, &x, 4);
            } else {
                memcpy(in + i * 8, &cases[k].v[i], 8);
            }
        }
        sp_buf b;
        sp_buf_init(&b, 0);
        pq_enc_delta(&b, in, cases[k].n, cases[k].width);
        if (!bytes_eq(&b, cases[k].want, cases[k].want_len)) {
            test_fail_at(__FILE__, __LINE__, "delta case '%s'", cases[k].what);
            dump_mismatch(cases[k].what, &b);
        }
        sp_buf_free(&b);
    }

    /* Spec example 2 with a real block size: 7,5,3,1,2,3,4,5 -> deltas
     * -2,-2,-2,1,1,1,1, min -2 (zigzag 3), packed 0,0,0,3,3,3,3 at width 2:
     * C0 3F, then the zero padding of the 32-value miniblock (8 bytes). */
    int32_t ex2[] = {7, 5, 3, 1, 2, 3, 4, 5};
    static const uint8_t want2[] = {0x80, 0x01, 0x04, 0x08, 0x0E, 0x03, 0x02, 0x00, 0x00, 0x00,
                                    0xC0, 0x3F, 0, 0, 0, 0, 0, 0};
    sp_buf b;
    sp_buf_init(&b, 0);
    pq_enc_delta(&b, (const uint8_t *)ex2, 8, 4);
    if (!bytes_eq(&b, want2, sizeof want2))
        dump_mismatch("example 2", &b), test_fail_at(__FILE__, __LINE__, "example 2");

    /* Width 64: 0, MIN, -1 -> deltas MIN, MAX; min MIN, packed 0, 2^64 - 1. */
    int64_t w64[] = {0, INT64_MIN, -1};
    sp_buf_reset(&b);
    pq_enc_delta(&b, (const uint8_t *)w64, 3, 8);
    static const uint8_t head64[] = {0x80, 0x01, 0x04, 0x03, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                     0xFF, 0xFF, 0xFF, 0xFF, 0x01, 64, 0, 0, 0};
    REQUIRE(b.len == sizeof head64 + 32 * 8);
    CHECK(memcmp(b.data, head64, sizeof head64) == 0);
    const uint8_t *body = b.data + sizeof head64;
    for (int i = 0; i < 32 * 8; i++)
        if (body[i] != (i >= 8 && i < 16 ? 0xFF : 0x00)) {
            test_fail_at(__FILE__, __LINE__, "width-64 miniblock byte %d is %02x", i, body[i]);
            break;
        }

    /* 129 values: exactly one full block of 128 deltas. 161 values: a second
     * block with one 32-delta miniblock and three width-0 ones. Ascending
     * by 3: min delta 3 (zigzag 6), every width 0. */
    int64_t asc[161];
    for (int i = 0; i < 161; i++)
        asc[i] = 100 + 3 * i;
    sp_buf_reset(&b);
    pq_enc_delta(&b, (const uint8_t *)asc, 129, 8);
    static const uint8_t want129[] = {0x80, 0x01, 0x04, 0x81, 0x01, 0xC8, 0x01, 0x06, 0, 0, 0, 0};
    if (!bytes_eq(&b, want129, sizeof want129))
        dump_mismatch("129 values", &b), test_fail_at(__FILE__, __LINE__, "129 values");
    sp_buf_reset(&b);
    asc[140] += 5; /* deltas 8 then -2 at 140 and 141: min -2, widths 4 in miniblock 0 of block 2 */
    pq_enc_delta(&b, (const uint8_t *)asc, 161, 8);
    /* header, block 1 (all deltas 3), block 2 header: min -2 -> zigzag 3, widths 4,0,0,0 */
    static const uint8_t want161[] = {0x80, 0x01, 0x04, 0xA1, 0x01, 0xC8, 0x01,
                                      0x06, 0, 0, 0, 0, 0x03, 4, 0, 0, 0};
    REQUIRE(b.len == sizeof want161 + 16);
    CHECK(memcmp(b.data, want161, sizeof want161) == 0);
    /* Block 2 deltas for values 129..160: index 140 is delta 8, 141 is -2, the
     * rest 3; minus min -2: 5 everywhere except 10 at delta 11 and 0 at 12. */
    uint8_t mb[16];
    memset(mb, 0x55, sizeof mb);
    mb[5] = 0xA5; /* delta 11 (value 140), the high nibble of byte 5: 10 */
    mb[6] = 0x50; /* delta 12 (value 141), the low nibble of byte 6: 0 */
    CHECK(memcmp(b.data + sizeof want161, mb, 16) == 0);
    sp_buf_free(&b);
}

TEST(parquet_write_compress_codecs)
{
    size_t n = 100000;
    uint8_t *src = malloc(n), *back = malloc(n);
    REQUIRE(src && back);
    for (size_t i = 0; i < n; i++)
        src[i] = (uint8_t)((i * 7) % 251 < 40 ? i : 'a');
    static const pq_codec codecs[] = {PQ_UNCOMPRESSED, PQ_ZSTD, PQ_SNAPPY, PQ_GZIP};
    for (size_t k = 0; k < 4; k++) {
        pq_compressor c;
        sp_error err;
        REQUIRE(pq_compressor_init(&c, codecs[k], 0, &err) == SP_OK);
        sp_buf out;
        sp_buf_init(&out, 0);
        sp_buf_append(&out, "xx", 2); /* pq_compress appends */
        CHECK_INT(pq_compress(&c, src, n, &out, &err), SP_OK);
        const uint8_t *p = out.data + 2;
        size_t plen = out.len - 2, got = 0;
        memset(back, 0, n);
        switch (codecs[k]) {
        case PQ_UNCOMPRESSED:
            got = plen;
            memcpy(back, p, plen < n ? plen : n);
            break;
        case PQ_ZSTD:
            got = ZSTD_decompress(back, n, p, plen);
            break;
        case PQ_SNAPPY: {
            size_t bl = n;
            CHECK(snappy_uncompress((const char *)p, plen, (char *)back, &bl) == SNAPPY_OK);
            got = bl;
            break;
        }
        default: {
            z_stream zs;
            memset(&zs, 0, sizeof zs);
            REQUIRE(inflateInit2(&zs, 15 + 16) == Z_OK); /* gzip wrapper only */
            zs.next_in = (Bytef *)p;
            zs.avail_in = (uInt)plen;
            zs.next_out = back;
            zs.avail_out = (uInt)n;
            CHECK(inflate(&zs, Z_FINISH) == Z_STREAM_END);
            got = n - zs.avail_out;
            inflateEnd(&zs);
            break;
        }
        }
        CHECK_INT(got, n);
        CHECK(memcmp(back, src, n) == 0);
        if (codecs[k] != PQ_UNCOMPRESSED)
            CHECK(plen < n / 2);
        sp_buf_free(&out);
        pq_compressor_free(&c);
    }

    pq_compressor c;
    sp_error err;
    CHECK_INT(pq_compressor_init(&c, PQ_ZSTD, 99, &err), SP_ERR_USAGE);
    CHECK_INT(pq_compressor_init(&c, (pq_codec)3, 0, &err), SP_ERR_UNSUPPORTED);
    free(src);
    free(back);
}

/* ---- file contract ------------------------------------------------------- */

static const pq_column_spec one_int[] = {{"v", PQ_INT32, PQ_LOGICAL_NONE, 0, 0, 0, false}};

TEST(parquet_write_atomic_publish)
{
    const char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/out.parquet", dir);
    sp_error err;
    pq_writer *w;
    REQUIRE(pq_writer_open(&w, path, one_int, 1, NULL, &err) == SP_OK);
    int tmp;
    CHECK_INT(dir_entries(dir, &tmp), 1);
    CHECK_INT(tmp, 1);
    CHECK(access(path, F_OK) != 0);
    int32_t v[] = {1, 2, 3};
    pq_values pv = {3, NULL, v, NULL, NULL};
    CHECK_INT(pq_writer_write(w, &pv, &err), SP_OK);
    CHECK(access(path, F_OK) != 0);
    CHECK_INT(pq_writer_close(w, &err), SP_OK);
    CHECK_INT(dir_entries(dir, &tmp), 1);
    CHECK_INT(tmp, 0);

    size_t len;
    uint8_t *f = (uint8_t *)test_read_file(path, &len);
    REQUIRE(f && len > 12);
    CHECK(memcmp(f, "PAR1", 4) == 0);
    CHECK(memcmp(f + len - 4, "PAR1", 4) == 0);
    uint32_t flen;
    memcpy(&flen, f + len - 8, 4);
    CHECK(flen > 0 && (size_t)flen + 12 <= len);
    CHECK(has_bytes(f + len - 8 - flen, flen, (const uint8_t *)"salespipe version ", 18));
    free(f);
}

TEST(parquet_write_abort_and_failed_close_leave_nothing)
{
    const char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/aborted.parquet", dir);
    sp_error err;
    pq_writer *w;
    REQUIRE(pq_writer_open(&w, path, one_int, 1, NULL, &err) == SP_OK);
    int32_t v[] = {1, 2, 3};
    pq_values pv = {3, NULL, v, NULL, NULL};
    CHECK_INT(pq_writer_write(w, &pv, &err), SP_OK);
    pq_writer_abort(w);
    pq_writer_abort(NULL);
    int tmp;
    CHECK_INT(dir_entries(dir, &tmp), 0);

    /* The final name is a non-empty directory: rename fails, temp goes. */
    char blocker[600], inside[700];
    snprintf(blocker, sizeof blocker, "%s/blocked.parquet", dir);
    snprintf(inside, sizeof inside, "%s/keep", blocker);
    REQUIRE(mkdir(blocker, 0755) == 0);
    FILE *k = fopen(inside, "w");
    REQUIRE(k);
    fclose(k);
    REQUIRE(pq_writer_open(&w, blocker, one_int, 1, NULL, &err) == SP_OK);
    CHECK_INT(pq_writer_write(w, &pv, &err), SP_OK);
    CHECK_INT(pq_writer_close(w, &err), SP_ERR_IO);
    CHECK_CONTAINS(err.msg, "blocked.parquet");
    CHECK_INT(dir_entries(dir, &tmp), 1); /* only the blocker directory */
    CHECK_INT(tmp, 0);
    CHECK(access(inside, F_OK) == 0);
}

TEST(parquet_write_open_errors_create_nothing)
{
    const char *dir = test_tmpdir();
    char path[512];
    sp_error err;
    pq_writer *w = (pq_writer *)&err; /* must be reset to NULL on failure */
    snprintf(path, sizeof path, "%s/no/such/dir/x.parquet", dir);
    CHECK_INT(pq_writer_open(&w, path, one_int, 1, NULL, &err), SP_ERR_IO);
    CHECK(w == NULL);
    CHECK_CONTAINS(err.msg, "no/such/dir/x.parquet");

    static const struct {
        pq_column_spec spec[2];
        size_t n;
        int code;
        const char *msg;
    } bad[] = {
        {{{"d", PQ_INT64, PQ_LOGICAL_DECIMAL, 19, 2, 0, false}}, 1, SP_ERR_USAGE, "DECIMAL(19,2)"},
        {{{"d", PQ_INT32, PQ_LOGICAL_DECIMAL, 10, 2, 0, false}}, 1, SP_ERR_USAGE, "DECIMAL(10,2)"},
        {{{"d", PQ_INT64, PQ_LOGICAL_DECIMAL, 5, 6, 0, false}}, 1, SP_ERR_USAGE, "DECIMAL(5,6)"},
        {{{"d", PQ_BYTE_ARRAY, PQ_LOGICAL_DECIMAL, 5, 2, 0, false}}, 1, SP_ERR_UNSUPPORTED, "d"},
        {{{"d", PQ_INT64, PQ_LOGICAL_DATE, 0, 0, 0, false}}, 1, SP_ERR_USAGE, "DATE"},
        {{{"s", PQ_INT32, PQ_LOGICAL_STRING, 0, 0, 0, false}}, 1, SP_ERR_USAGE, "STRING"},
        {{{"t", PQ_INT96, PQ_LOGICAL_NONE, 0, 0, 0, false}}, 1, SP_ERR_UNSUPPORTED, "t"},
        {{{"f", PQ_FIXED_LEN_BYTE_ARRAY, PQ_LOGICAL_NONE, 0, 0, 0, false}}, 1, SP_ERR_USAGE, "f"},
        {{{"", PQ_INT32, PQ_LOGICAL_NONE, 0, 0, 0, false}}, 1, SP_ERR_USAGE, "name"},
        {{{"a", PQ_INT32, PQ_LOGICAL_NONE, 0, 0, 0, false},
          {"a", PQ_INT64, PQ_LOGICAL_NONE, 0, 0, 0, true}}, 2, SP_ERR_USAGE, "duplicate"},
        {{{"a", PQ_INT32, PQ_LOGICAL_NONE, 0, 0, 0, false}}, 0, SP_ERR_USAGE, "columns"},
    };
    snprintf(path, sizeof path, "%s/bad.parquet", dir);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = pq_writer_open(&w, path, bad[i].spec, bad[i].n, NULL, &err);
        if (rc != bad[i].code)
            test_fail_at(__FILE__, __LINE__, "bad spec %zu: rc %d, want %d (%s)", i, rc,
                         bad[i].code, err.msg);
        CHECK_CONTAINS(err.msg, bad[i].msg);
        CHECK_CONTAINS(err.msg, "bad.parquet");
        CHECK(w == NULL);
    }
    pq_writer_options o;
    pq_writer_options_default(&o);
    o.codec = (pq_codec)4; /* LZ4 (deprecated framing): not written */
    CHECK_INT(pq_writer_open(&w, path, one_int, 1, &o, &err), SP_ERR_UNSUPPORTED);
    int tmp;
    CHECK_INT(dir_entries(dir, &tmp), 0);
}

TEST(parquet_write_null_in_required_is_rejected)
{
    const char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/req.parquet", dir);
    static const pq_column_spec cols[] = {
        {"qty", PQ_INT32, PQ_LOGICAL_NONE, 0, 0, 0, false},
        {"name", PQ_BYTE_ARRAY, PQ_LOGICAL_STRING, 0, 0, 0, true},
    };
    sp_error err;
    pq_writer *w;
    REQUIRE(pq_writer_open(&w, path, cols, 2, NULL, &err) == SP_OK);
    int32_t q[] = {1, 2, 3};
    uint8_t valid[] = {1, 0, 1};
    uint32_t off[] = {0, 1, 1, 3};
    pq_values v[2] = {{3, valid, q, NULL, NULL}, {3, valid, NULL, off, (const uint8_t *)"abc"}};
    CHECK_INT(pq_writer_write(w, v, &err), SP_ERR_DATA);
    CHECK_CONTAINS(err.msg, "qty");
    CHECK_CONTAINS(err.msg, "req.parquet");
    CHECK_CONTAINS(err.msg, "row 1");

    /* Mismatched row counts and decreasing offsets are rejected too. */
    pq_values bad[2] = {{3, NULL, q, NULL, NULL}, {2, NULL, NULL, off, (const uint8_t *)"abc"}};
    CHECK_INT(pq_writer_write(w, bad, &err), SP_ERR_USAGE);
    uint32_t dec[] = {0, 2, 1, 3};
    pq_values bad2[2] = {{3, NULL, q, NULL, NULL}, {3, NULL, NULL, dec, (const uint8_t *)"abc"}};
    CHECK_INT(pq_writer_write(w, bad2, &err), SP_ERR_USAGE);
    CHECK_CONTAINS(err.msg, "name");

    /* A rejected batch changes nothing: the writer goes on. */
    v[0].valid = NULL;
    CHECK_INT(pq_writer_write(w, v, &err), SP_OK);
    CHECK_INT(pq_writer_close(w, &err), SP_OK);
    CHECK(access(path, F_OK) == 0);
}

TEST(parquet_write_statistics_bytes)
{
    pq_writer_options o = uncompressed_opts();
    /* INT32 [5, -3, 7]: max 7, min -3 (both in the deprecated fields 1/2 and
     * in 5/6), null_count 0, exact flags 7/8. */
    int32_t v[] = {5, -3, 7};
    pq_values pv = {3, NULL, v, NULL, NULL};
    size_t len;
    uint8_t *f = write_file("stats_int.parquet", one_int, 1, &pv, &o, &len);
    REQUIRE(f);
    static const uint8_t want_int[] = {
        0x18, 0x04, 0x07, 0x00, 0x00, 0x00, 0x18, 0x04, 0xFD, 0xFF, 0xFF, 0xFF, 0x16, 0x00,
        0x28, 0x04, 0x07, 0x00, 0x00, 0x00, 0x18, 0x04, 0xFD, 0xFF, 0xFF, 0xFF, 0x11, 0x11,
        0x00};
    CHECK(has_bytes(f, len, want_int, sizeof want_int));
    free(f);

    /* Optional STRING ["b", NULL, "a", "c"]: no deprecated fields (unsigned
     * order), null_count 1 (field 3 as the first field: 0x36), max "c", min "a". */
    static const pq_column_spec str[] = {{"s", PQ_BYTE_ARRAY, PQ_LOGICAL_STRING, 0, 0, 0, true}};
    uint8_t valid[] = {1, 0, 1, 1};
    uint32_t off[] = {0, 1, 1, 2, 3};
    pq_values sv = {4, valid, NULL, off, (const uint8_t *)"bac"};
    f = write_file("stats_str.parquet", str, 1, &sv, &o, &len);
    REQUIRE(f);
    static const uint8_t want_str[] = {0x36, 0x02, 0x28, 0x01, 'c', 0x18, 0x01, 'a',
                                       0x11, 0x11, 0x00};
    CHECK(has_bytes(f, len, want_str, sizeof want_str));
    free(f);

    /* Unsigned bytewise order: 0xC3 sorts after 'z'. */
    uint32_t off2[] = {0, 1, 3};
    pq_values uv = {2, NULL, NULL, off2, (const uint8_t *)"z\xC3\xA9"};
    static const pq_column_spec str_req[] = {
        {"s", PQ_BYTE_ARRAY, PQ_LOGICAL_STRING, 0, 0, 0, false}};
    f = write_file("stats_utf8.parquet", str_req, 1, &uv, &o, &len);
    REQUIRE(f);
    static const uint8_t want_utf8[] = {0x36, 0x00, 0x28, 0x02, 0xC3, 0xA9, 0x18, 0x01, 'z',
                                        0x11, 0x11, 0x00};
    CHECK(has_bytes(f, len, want_utf8, sizeof want_utf8));
    free(f);

    /* All NULL: only null_count (3 -> zigzag 6); the Statistics struct is
     * ColumnMetaData field 12 after field 9 (no dictionary page): 0x3C. */
    static const pq_column_spec opt_int[] = {{"v", PQ_INT32, PQ_LOGICAL_NONE, 0, 0, 0, true}};
    uint8_t none[] = {0, 0, 0};
    pq_values nv = {3, none, v, NULL, NULL};
    f = write_file("stats_null.parquet", opt_int, 1, &nv, &o, &len);
    REQUIRE(f);
    static const uint8_t want_null[] = {0x3C, 0x36, 0x06, 0x00};
    CHECK(has_bytes(f, len, want_null, sizeof want_null));
    free(f);
}

TEST(parquet_write_schema_bytes)
{
    static const pq_column_spec cols[] = {
        {"x", PQ_INT64, PQ_LOGICAL_DECIMAL, 18, 4, 0, true},
        {"d", PQ_INT32, PQ_LOGICAL_DATE, 0, 0, 0, false},
        {"s", PQ_BYTE_ARRAY, PQ_LOGICAL_STRING, 0, 0, 0, true},
    };
    int64_t x[] = {12345};
    int32_t d[] = {19000};
    uint32_t off[] = {0, 2};
    pq_values v[3] = {{1, NULL, x, NULL, NULL}, {1, NULL, d, NULL, NULL},
                      {1, NULL, NULL, off, (const uint8_t *)"hi"}};
    pq_writer_options o = uncompressed_opts();
    size_t len;
    uint8_t *f = write_file("schema.parquet", cols, 3, v, &o, &len);
    REQUIRE(f);
    /* root: repetition REQUIRED, name "schema", num_children 3 */
    static const uint8_t root[] = {0x35, 0x00, 0x18, 0x06, 's', 'c', 'h', 'e', 'm', 'a',
                                   0x15, 0x06, 0x00};
    /* INT64 OPTIONAL "x", converted DECIMAL(5), scale 4, precision 18,
     * logicalType { DECIMAL { scale 4, precision 18 } } */
    static const uint8_t dec[] = {0x15, 0x04, 0x25, 0x02, 0x18, 0x01, 'x', 0x25, 0x0A, 0x15, 0x08,
                                  0x15, 0x24, 0x2C, 0x5C, 0x15, 0x08, 0x15, 0x24, 0x00, 0x00,
                                  0x00};
    /* INT32 REQUIRED "d", converted DATE(6), logicalType { DATE {} } */
    static const uint8_t date[] = {0x15, 0x02, 0x25, 0x00, 0x18, 0x01, 'd', 0x25, 0x0C,
                                   0x4C, 0x6C, 0x00, 0x00, 0x00};
    /* BYTE_ARRAY OPTIONAL "s", converted UTF8(0), logicalType { STRING {} } */
    static const uint8_t s[] = {0x15, 0x0C, 0x25, 0x02, 0x18, 0x01, 's', 0x25, 0x00,
                                0x4C, 0x1C, 0x00, 0x00, 0x00};
    /* column_orders: 3 x ColumnOrder { TYPE_ORDER {} } after created_by */
    static const uint8_t orders[] = {0x19, 0x3C, 0x1C, 0x00, 0x00, 0x1C, 0x00, 0x00,
                                     0x1C, 0x00, 0x00, 0x00};
    CHECK(has_bytes(f, len, root, sizeof root));
    CHECK(has_bytes(f, len, dec, sizeof dec));
    CHECK(has_bytes(f, len, date, sizeof date));
    CHECK(has_bytes(f, len, s, sizeof s));
    CHECK(has_bytes(f, len, orders, sizeof orders));
    CHECK(memcmp(f + len - 4 - 4 - sizeof orders, orders, sizeof orders) == 0);
    free(f);
}

TEST(parquet_write_row_groups_split)
{
    pq_writer_options o = uncompressed_opts();
    o.row_group_rows = 3;
    int32_t v[10];
    for (int i = 0; i < 10; i++)
        v[i] = i;
    pq_values pv = {10, NULL, v, NULL, NULL};
    size_t len;
    uint8_t *f = write_file("rg.parquet", one_int, 1, &pv, &o, &len);
    REQUIRE(f);
    /* FileMetaData: num_rows 10 (zigzag 20), then a list of 4 RowGroup structs. */
    static const uint8_t want[] = {0x16, 0x14, 0x19, 0x4C};
    CHECK(has_bytes(f, len, want, sizeof want));
    free(f);
}

/* Dictionary fallback: the ColumnMetaData starts with type INT64 (0x15 0x04),
 * then the encodings list, then path_in_schema ["v"] (0x19 0x18 0x01 'v'). */
TEST(parquet_write_dictionary_fallback)
{
    static const pq_column_spec col[] = {{"v", PQ_INT64, PQ_LOGICAL_NONE, 0, 0, 0, false}};
    int64_t v[300];
    for (int i = 0; i < 300; i++)
        v[i] = i;
    pq_values pv = {300, NULL, v, NULL, NULL};
    pq_writer_options o = uncompressed_opts();
    size_t len;

    /* Small values, few distinct: dictionary only -> [PLAIN, RLE_DICTIONARY]. */
    for (int i = 0; i < 300; i++)
        v[i] = i % 10;
    uint8_t *f = write_file("dict.parquet", col, 1, &pv, &o, &len);
    REQUIRE(f);
    static const uint8_t dictw[] = {0x15, 0x04, 0x19, 0x25, 0x00, 0x10, 0x19, 0x18, 0x01, 'v'};
    CHECK(has_bytes(f, len, dictw, sizeof dictw));
    free(f);

    /* Dictionary full before any page was written: the chunk is PLAIN only
     * with int_fallback PLAIN, DELTA_BINARY_PACKED only by default. */
    for (int i = 0; i < 300; i++)
        v[i] = i;
    o.dict_max_bytes = 64;
    o.int_fallback = PQ_ENC_PLAIN;
    f = write_file("plain.parquet", col, 1, &pv, &o, &len);
    REQUIRE(f);
    static const uint8_t plain[] = {0x15, 0x04, 0x19, 0x15, 0x00, 0x19, 0x18, 0x01, 'v'};
    CHECK(has_bytes(f, len, plain, sizeof plain));
    free(f);
    o.int_fallback = PQ_ENC_DELTA_BINARY_PACKED;
    f = write_file("delta.parquet", col, 1, &pv, &o, &len);
    REQUIRE(f);
    static const uint8_t delta[] = {0x15, 0x04, 0x19, 0x15, 0x0A, 0x19, 0x18, 0x01, 'v'};
    CHECK(has_bytes(f, len, delta, sizeof delta));
    /* encoding_stats: one entry, DATA_PAGE DELTA_BINARY_PACKED 1 page. */
    static const uint8_t dstats[] = {0x19, 0x1C, 0x15, 0x00, 0x15, 0x0A, 0x15, 0x02, 0x00};
    CHECK(has_bytes(f, len, dstats, sizeof dstats));
    free(f);

    /* Dictionary pages first (32 rows per page), then PLAIN pages: the
     * encodings stay [PLAIN, RLE_DICTIONARY], and encoding_stats lists the
     * dictionary page, the dictionary data pages and the PLAIN pages. */
    o.int_fallback = PQ_ENC_PLAIN;
    o.page_bytes = 64;
    o.dict_max_bytes = 800; /* 100 entries */
    f = write_file("mixed.parquet", col, 1, &pv, &o, &len);
    REQUIRE(f);
    CHECK(has_bytes(f, len, dictw, sizeof dictw));
    static const uint8_t stats3[] = {0x19, 0x3C, 0x15, 0x04, 0x15, 0x00, 0x15, 0x02, 0x00};
    CHECK(has_bytes(f, len, stats3, sizeof stats3)); /* list of 3, DICTIONARY_PAGE PLAIN 1 */
    free(f);

    /* The same with DELTA_BINARY_PACKED after the dictionary pages:
     * encodings [PLAIN, RLE_DICTIONARY, DELTA_BINARY_PACKED], and the third
     * encoding_stats entry names DELTA_BINARY_PACKED (5 -> 0x0A). */
    o.int_fallback = PQ_ENC_DELTA_BINARY_PACKED;
    f = write_file("mixed_delta.parquet", col, 1, &pv, &o, &len);
    REQUIRE(f);
    static const uint8_t mixw[] = {0x15, 0x04, 0x19, 0x35, 0x00, 0x10, 0x0A,
                                   0x19, 0x18, 0x01, 'v'};
    CHECK(has_bytes(f, len, mixw, sizeof mixw));
    CHECK(has_bytes(f, len, stats3, sizeof stats3)); /* still 3: no PLAIN data page */
    /* An entry (after the previous one's stop byte) DATA_PAGE DELTA_BINARY_PACKED. */
    static const uint8_t delta_entry[] = {0x00, 0x15, 0x00, 0x15, 0x0A, 0x15};
    CHECK(has_bytes(f, len, delta_entry, sizeof delta_entry));
    free(f);

    /* Any other fallback is refused at open. */
    o.int_fallback = PQ_ENC_BYTE_STREAM_SPLIT;
    char path[512];
    snprintf(path, sizeof path, "%s/badfb.parquet", test_tmpdir());
    sp_error err;
    pq_writer *w;
    CHECK_INT(pq_writer_open(&w, path, col, 1, &o, &err), SP_ERR_USAGE);
    CHECK_CONTAINS(err.msg, "int_fallback");
    CHECK(access(path, F_OK) != 0);
}

/* row_group_bytes counts encoded, uncompressed bytes: 100000 sequential
 * INT64 compress to almost nothing with zstd, yet 256 KiB of PLAIN values
 * (32768 rows, the check interval) close each row group: 4 groups. */
TEST(parquet_write_row_group_bytes_uncompressed)
{
    static const pq_column_spec col[] = {{"v", PQ_INT64, PQ_LOGICAL_NONE, 0, 0, 0, false}};
    enum { N = 100000 };
    int64_t *v = malloc(N * sizeof *v);
    REQUIRE(v);
    for (int i = 0; i < N; i++)
        v[i] = i;
    pq_values pv = {N, NULL, v, NULL, NULL};
    pq_writer_options o;
    pq_writer_options_default(&o);
    o.codec = PQ_ZSTD;
    o.dictionary = false;
    o.int_fallback = PQ_ENC_PLAIN;
    o.page_bytes = 4096;
    o.row_group_bytes = 256 * 1024;
    size_t len;
    uint8_t *f = write_file("rgbytes.parquet", col, 1, &pv, &o, &len);
    free(v);
    REQUIRE(f);
    /* num_rows 100000 (zigzag 200000 = C0 9A 0C), then a list of 4 RowGroups. */
    static const uint8_t want[] = {0x16, 0xC0, 0x9A, 0x0C, 0x19, 0x4C};
    CHECK(has_bytes(f, len, want, sizeof want));
    free(f);
}

/* ---- UTF-8 validation of STRING columns ------------------------------------ */

TEST(parquet_write_rejects_invalid_utf8)
{
    static const struct {
        const char *what, *bytes;
        int bad_at; /* byte of the value the message names */
    } bad[] = {
        {"0xFF byte", "ab\xFF", 2},
        {"overlong NUL C0 80", "\xC0\x80", 0},
        {"overlong E0 80 AF", "\xE0\x80\xAF", 0},
        {"surrogate ED A0 80", "x\xED\xA0\x80", 1},
        {"truncated E2 82", "\xE2\x82", 0},
        {"truncated F0 9F 98", "\xF0\x9F\x98", 0},
        {"above U+10FFFF F4 90 80 80", "\xF4\x90\x80\x80", 0},
        {"lone continuation 80", "\x80", 0},
        {"bad continuation C3 41", "\xC3\x41", 0},
        {"F5 lead byte", "\xF5\x80\x80\x80", 0},
        {"after 9 ASCII bytes", "123456789\xFE", 9},
    };
    static const char *const good[] = {
        "", "plain ascii, longer than eight bytes", "h\xC3\xA9llo", "\xE6\x97\xA5\xE6\x9C\xAC",
        "\xF0\x9F\x98\x80", "\xED\x9F\xBF",     /* U+D7FF, just below the surrogates */
        "\xEE\x80\x80",                          /* U+E000, just above */
        "\xF4\x8F\xBF\xBF",                     /* U+10FFFF */
        "\xC2\x80\xDF\xBF",
    };
    static const pq_column_spec cols[] = {
        {"n", PQ_INT32, PQ_LOGICAL_NONE, 0, 0, 0, false},
        {"s", PQ_BYTE_ARRAY, PQ_LOGICAL_STRING, 0, 0, 0, true},
        {"raw", PQ_BYTE_ARRAY, PQ_LOGICAL_NONE, 0, 0, 0, false},
    };
    char path[512];
    snprintf(path, sizeof path, "%s/utf8.parquet", test_tmpdir());
    for (int dict = 0; dict < 2; dict++) {
        pq_writer_options o;
        pq_writer_options_default(&o);
        o.dictionary = dict;
        sp_error err;
        pq_writer *w;
        REQUIRE(pq_writer_open(&w, path, cols, 3, &o, &err) == SP_OK);
        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
            /* Row 2 holds the bad value; row 1 is NULL (with the mask) or
             * ASCII. Both the no-NULL fast path and the masked path run. */
            for (int masked = 0; masked < 2; masked++) {
                char bytes[64];
                uint32_t off[4] = {0, 2, 3, 0};
                memcpy(bytes, "okz", 3);
                size_t bl = strlen(bad[k].bytes);
                memcpy(bytes + 3, bad[k].bytes, bl);
                off[3] = 3 + (uint32_t)bl;
                uint8_t valid[3] = {1, 0, 1};
                int32_t n[3] = {1, 2, 3};
                pq_values v[3] = {{3, NULL, n, NULL, NULL},
                                  {3, masked ? valid : NULL, NULL, off, (const uint8_t *)bytes},
                                  {3, NULL, NULL, off, (const uint8_t *)bytes}};
                int rc = pq_writer_write(w, v, &err);
                if (rc != SP_ERR_DATA) {
                    test_fail_at(__FILE__, __LINE__, "%s (dict %d, masked %d): rc %d", bad[k].what,
                                 dict, masked, rc);
                    continue;
                }
                char want[64];
                snprintf(want, sizeof want, "row 2 of the batch (byte %d", bad[k].bad_at);
                CHECK_CONTAINS(err.msg, "utf8.parquet");
                CHECK_CONTAINS(err.msg, "column s");
                CHECK_CONTAINS(err.msg, want);
            }
        }
        /* Valid sequences pass, in the STRING column and (unchecked) raw. */
        for (size_t k = 0; k < sizeof good / sizeof good[0]; k++) {
            uint32_t off[2] = {0, (uint32_t)strlen(good[k])};
            int32_t n[1] = {7};
            pq_values v[3] = {{1, NULL, n, NULL, NULL},
                              {1, NULL, NULL, off, (const uint8_t *)good[k]},
                              {1, NULL, NULL, off, (const uint8_t *)good[k]}};
            if (pq_writer_write(w, v, &err) != SP_OK)
                test_fail_at(__FILE__, __LINE__, "valid value %zu refused: %s", k, err.msg);
        }
        /* A non-STRING BYTE_ARRAY column takes any bytes. */
        uint32_t off[2] = {0, 1};
        int32_t n[1] = {8};
        pq_values v[3] = {{1, NULL, n, NULL, NULL},
                          {1, NULL, NULL, off, (const uint8_t *)"a"},
                          {1, NULL, NULL, off, (const uint8_t *)"\xFF"}};
        CHECK_INT(pq_writer_write(w, v, &err), SP_OK);
        /* Every rejected batch changed nothing: the file holds only the
         * accepted rows. */
        CHECK_INT(pq_writer_close(w, &err), SP_OK);
    }
}

/* Many rows, all types, NULLs, every codec, several row groups and pages:
 * exercised mostly for the sanitizers. */
TEST(parquet_write_many_rows_all_types)
{
    static const pq_column_spec cols[] = {
        {"b", PQ_BOOLEAN, PQ_LOGICAL_NONE, 0, 0, 0, true},
        {"i", PQ_INT32, PQ_LOGICAL_DATE, 0, 0, 0, false},
        {"l", PQ_INT64, PQ_LOGICAL_DECIMAL, 18, 4, 0, true},
        {"f", PQ_FLOAT, PQ_LOGICAL_NONE, 0, 0, 0, true},
        {"d", PQ_DOUBLE, PQ_LOGICAL_NONE, 0, 0, 0, false},
        {"s", PQ_BYTE_ARRAY, PQ_LOGICAL_STRING, 0, 0, 0, true},
        {"x", PQ_FIXED_LEN_BYTE_ARRAY, PQ_LOGICAL_NONE, 0, 0, 3, true},
    };
    enum { N = 50000 };
    uint8_t *b = malloc(N), *valid = malloc(N), *sb = malloc(N * 12), *xb = malloc(N * 3);
    int32_t *i32 = malloc(N * 4);
    int64_t *i64 = malloc(N * 8);
    float *f32 = malloc(N * 4);
    double *f64 = malloc(N * 8);
    uint32_t *soff = malloc((N + 1) * 4), *xoff = malloc((N + 1) * 4);
    REQUIRE(b && valid && sb && xb && i32 && i64 && f32 && f64 && soff && xoff);
    soff[0] = xoff[0] = 0;
    for (uint32_t r = 0; r < N; r++) {
        uint32_t h = r * 2654435761u;
        b[r] = (uint8_t)(h >> 7 & 1);
        valid[r] = (h >> 13) % 7 != 0;
        i32[r] = 18000 + (int32_t)(r / 1000);
        i64[r] = (int64_t)(h % 100000) - 50000;
        f32[r] = (h % 3 == 0) ? NAN : (float)(h % 1000) / 8;
        f64[r] = r * 0.5;
        int n = snprintf((char *)sb + soff[r], 12, "p%u", r < N / 2 ? h % 300 : h);
        soff[r + 1] = soff[r] + (uint32_t)n;
        memcpy(xb + xoff[r], &h, 3);
        xoff[r + 1] = xoff[r] + (valid[r] ? 3 : 0); /* NULL rows: empty range */
    }
    static const pq_codec codecs[] = {PQ_ZSTD, PQ_SNAPPY, PQ_GZIP, PQ_UNCOMPRESSED};
    for (size_t k = 0; k < 4; k++) {
        pq_writer_options o;
        pq_writer_options_default(&o);
        o.codec = codecs[k];
        o.row_group_rows = 20000;
        o.page_bytes = 8192;
        o.dict_max_bytes = 2048;
        char path[512];
        snprintf(path, sizeof path, "%s/many%zu.parquet", test_tmpdir(), k);
        sp_error err;
        pq_writer *w;
        REQUIRE(pq_writer_open(&w, path, cols, 7, &o, &err) == SP_OK);
        /* Uneven batches so slices cross page and row-group boundaries. */
        for (size_t at = 0; at < N;) {
            size_t n = (at * 7 + 1234) % 9000 + 1;
            if (n > N - at)
                n = N - at;
            uint32_t so[9001], xo[9001];
            for (size_t r = 0; r <= n; r++) {
                so[r] = soff[at + r] - soff[at];
                xo[r] = xoff[at + r] - xoff[at];
            }
            pq_values v[7] = {
                {n, valid + at, b + at, NULL, NULL},
                {n, NULL, i32 + at, NULL, NULL},
                {n, valid + at, i64 + at, NULL, NULL},
                {n, valid + at, f32 + at, NULL, NULL},
                {n, NULL, f64 + at, NULL, NULL},
                {n, valid + at, NULL, so, sb + soff[at]},
                {n, valid + at, NULL, xo, xb + xoff[at]},
            };
            if (pq_writer_write(w, v, &err) != SP_OK) {
                test_fail_at(__FILE__, __LINE__, "write: %s", err.msg);
                pq_writer_abort(w);
                goto next;
            }
            at += n;
        }
        CHECK_INT(pq_writer_close(w, &err), SP_OK);
        struct stat st;
        CHECK(stat(path, &st) == 0 && st.st_size > 1000);
    next:;
    }
    free(b), free(valid), free(sb), free(xb), free(i32), free(i64);
    free(f32), free(f64), free(soff), free(xoff);
}

/* no_dictionary: the marked column is written without a dictionary (PLAIN),
 * its twin with one; both read back the same values. */
TEST(parquet_write_no_dictionary_column)
{
    static const pq_column_spec cols[] = {
        {"with", PQ_BYTE_ARRAY, PQ_LOGICAL_STRING, 0, 0, 0, false},
        {"without", PQ_BYTE_ARRAY, PQ_LOGICAL_STRING, 0, 0, 0, false},
    };
    uint32_t off[] = {0, 2, 4, 6, 8};
    const uint8_t *bytes = (const uint8_t *)"abababab";
    pq_values v[2] = {{4, NULL, NULL, off, bytes}, {4, NULL, NULL, off, bytes}};
    pq_writer_options o = uncompressed_opts();
    o.no_dictionary = 1u << 1;
    char path[512];
    snprintf(path, sizeof path, "%s/no_dict.parquet", test_tmpdir());
    sp_error err;
    pq_writer *w;
    REQUIRE(pq_writer_open(&w, path, cols, 2, &o, &err) == SP_OK);
    CHECK(pq_writer_write(w, v, &err) == SP_OK);
    REQUIRE(pq_writer_close(w, &err) == SP_OK);
    pq_reader *r;
    REQUIRE(pq_reader_open(&r, path, &err) == SP_OK);
    CHECK(pq_reader_chunk(r, 0, 0)->encodings & (1u << PQ_ENC_RLE_DICTIONARY));
    CHECK(!(pq_reader_chunk(r, 0, 1)->encodings & (1u << PQ_ENC_RLE_DICTIONARY)));
    CHECK_INT(pq_reader_chunk(r, 0, 1)->dictionary_page_offset, -1);
    pq_values got[2];
    REQUIRE(pq_reader_read_row_group(r, 0, got, &err) == SP_OK);
    for (int c = 0; c < 2; c++) {
        CHECK_INT(got[c].n, 4);
        CHECK_INT(got[c].offsets[4] - got[c].offsets[0], 8);
        CHECK(memcmp(got[c].bytes + got[c].offsets[0], bytes, 8) == 0);
    }
    pq_reader_close(r);
}

/* ---- buffers handed from one writer to the next ---------------------------- */

/* A writer hands its buffers and compression context to the next writer of
 * its thread: the bytes must not depend on it. Each file is written once by
 * a thread of its own (nothing to inherit) and again after writers of other
 * shapes, codecs and an aborted one, on this thread. */
typedef struct reuse_job {
    const char *path;
    pq_codec codec;
    size_t page_bytes;
    int rc;
} reuse_job;

static void *reuse_fresh(void *arg)
{
    reuse_job *j = arg;
    sp_error err;
    j->rc = sample_parquet_write(j->path, j->codec, 150, j->page_bytes, &err);
    return NULL;
}

TEST(parquet_write_reused_buffers_same_bytes)
{
    static const pq_codec codecs[] = {PQ_ZSTD, PQ_GZIP, PQ_UNCOMPRESSED, PQ_ZSTD};
    static const size_t pages[] = {300, 0, 1000, 0};
    const char *dir = test_tmpdir();
    char fresh[512], again[512], other[512];
    snprintf(other, sizeof other, "%s/reuse-other.parquet", dir);
    for (size_t k = 0; k < sizeof codecs / sizeof codecs[0]; k++) {
        snprintf(fresh, sizeof fresh, "%s/reuse-fresh-%zu.parquet", dir, k);
        snprintf(again, sizeof again, "%s/reuse-again-%zu.parquet", dir, k);
        reuse_job j = {fresh, codecs[k], pages[k], -1};
        pthread_t th;
        REQUIRE(pthread_create(&th, NULL, reuse_fresh, &j) == 0);
        pthread_join(th, NULL);
        CHECK_INT(j.rc, SP_OK);

        /* Before the second copy: a writer of another shape (more columns,
         * another codec, dictionaries grown), and one aborted mid-way. */
        sp_error err;
        const pq_column_spec wide[] = {
            {.name = "a", .physical = PQ_INT64}, {.name = "b", .physical = PQ_INT64},
            {.name = "c", .physical = PQ_INT32}, {.name = "d", .physical = PQ_INT64},
        };
        static int64_t big[5000];
        static int32_t small[5000];
        for (int i = 0; i < 5000; i++)
            big[i] = (int64_t)i * 2654435761u, small[i] = i % 3;
        pq_values v[4] = {{.n = 5000, .values = big}, {.n = 5000, .values = big},
                          {.n = 5000, .values = small}, {.n = 5000, .values = big}};
        pq_writer_options o;
        pq_writer_options_default(&o);
        o.codec = k % 2 ? PQ_ZSTD : PQ_GZIP;
        pq_writer *w = NULL;
        REQUIRE(pq_writer_open(&w, other, wide, 4, &o, &err) == SP_OK);
        CHECK_INT(pq_writer_write(w, v, &err), SP_OK);
        CHECK_INT(pq_writer_close(w, &err), SP_OK);
        REQUIRE(pq_writer_open(&w, other, wide, 4, NULL, &err) == SP_OK);
        CHECK_INT(pq_writer_write(w, v, &err), SP_OK);
        pq_writer_abort(w);

        CHECK_INT(sample_parquet_write(again, codecs[k], 150, pages[k], &err), SP_OK);
        size_t na = 0, nb = 0;
        char *a = test_read_file(fresh, &na), *b = test_read_file(again, &nb);
        REQUIRE(a && b);
        CHECK(na > 0 && na == nb && memcmp(a, b, na) == 0);
        free(a);
        free(b);
    }
}
