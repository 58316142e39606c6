/* test_parquet_text.c — the text forms of Parquet values (text.c): what
 * `inspect --csv` prints and what text COPY will send. A table per type. */
#include <stdint.h>

#include "../../src/parquet/parquet.h"
#include "../test.h"

static const char *text_of(const pq_column_spec *col, const pq_values *v, size_t row)
{
    static char out[128];
    sp_buf b;
    sp_buf_init(&b, 0);
    if (!pq_value_text(col, v, row, &b)) {
        sp_buf_free(&b);
        return "(null)";
    }
    snprintf(out, sizeof out, "%.*s", (int)b.len, b.data ? (const char *)b.data : "");
    sp_buf_free(&b);
    return out;
}

TEST(text_decimal_int64_keeps_exact_scale)
{
    static const struct {
        int64_t unscaled;
        int scale;
        const char *want;
    } cases[] = {
        {123400, 4, "12.3400"}, {-5, 4, "-0.0005"}, {0, 4, "0.0000"}, {7, 0, "7"},
        {-100, 2, "-1.00"}, {INT64_MAX, 4, "922337203685477.5807"},
        {INT64_MIN, 4, "-922337203685477.5808"}, {1, 18, "0.000000000000000001"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pq_column_spec col = {.name = "d", .physical = PQ_INT64, .logical = PQ_LOGICAL_DECIMAL,
                              .precision = 18, .scale = cases[i].scale};
        pq_values v = {.n = 1, .values = &cases[i].unscaled};
        CHECK_STR(text_of(&col, &v, 0), cases[i].want);
    }
}

TEST(text_decimal_int32_and_fixed)
{
    int32_t x[] = {-1234, 99};
    pq_column_spec col = {.name = "d", .physical = PQ_INT32, .logical = PQ_LOGICAL_DECIMAL,
                          .precision = 9, .scale = 2};
    pq_values v = {.n = 2, .values = x};
    CHECK_STR(text_of(&col, &v, 0), "-12.34");
    CHECK_STR(text_of(&col, &v, 1), "0.99");
    /* FIXED_LEN_BYTE_ARRAY(3) big-endian: 0xFFFF85 = -123, 0x00007B = 123 */
    uint8_t bytes[] = {0xFF, 0xFF, 0x85, 0x00, 0x00, 0x7B};
    uint32_t off[] = {0, 3, 6};
    pq_column_spec fcol = {.name = "f", .physical = PQ_FIXED_LEN_BYTE_ARRAY,
                           .logical = PQ_LOGICAL_DECIMAL, .precision = 5, .scale = 1, .type_length = 3};
    pq_values fv = {.n = 2, .offsets = off, .bytes = bytes};
    CHECK_STR(text_of(&fcol, &fv, 0), "-12.3");
    CHECK_STR(text_of(&fcol, &fv, 1), "12.3");
}

TEST(text_dates_ints_bools_doubles_nulls)
{
    int32_t days[] = {0, -1, 19723, 2932896};
    uint8_t valid[] = {1, 1, 0, 1};
    pq_column_spec dcol = {.name = "d", .physical = PQ_INT32, .logical = PQ_LOGICAL_DATE, .optional = true};
    pq_values dv = {.n = 4, .values = days, .valid = valid};
    CHECK_STR(text_of(&dcol, &dv, 0), "1970-01-01");
    CHECK_STR(text_of(&dcol, &dv, 1), "1969-12-31");
    CHECK_STR(text_of(&dcol, &dv, 2), "(null)");
    CHECK_STR(text_of(&dcol, &dv, 3), "9999-12-31");

    int64_t big[] = {INT64_MIN, 42};
    pq_column_spec icol = {.name = "i", .physical = PQ_INT64};
    pq_values iv = {.n = 2, .values = big};
    CHECK_STR(text_of(&icol, &iv, 0), "-9223372036854775808");
    CHECK_STR(text_of(&icol, &iv, 1), "42");

    uint8_t bools[] = {1, 0};
    pq_column_spec bcol = {.name = "b", .physical = PQ_BOOLEAN};
    pq_values bv = {.n = 2, .values = bools};
    CHECK_STR(text_of(&bcol, &bv, 0), "true");
    CHECK_STR(text_of(&bcol, &bv, 1), "false");

    double dbl[] = {0.1, -2.5, 1e300, 1.0 / 3.0};
    pq_column_spec fcol = {.name = "f", .physical = PQ_DOUBLE};
    pq_values fv = {.n = 4, .values = dbl};
    CHECK_STR(text_of(&fcol, &fv, 0), "0.1");
    CHECK_STR(text_of(&fcol, &fv, 1), "-2.5");
    CHECK_STR(text_of(&fcol, &fv, 2), "1e+300");
    CHECK_STR(text_of(&fcol, &fv, 3), "0.3333333333333333");

    float flt[] = {1.1f, -2.2f, 1.0f / 3.0f, 16777216.0f};
    pq_column_spec gcol = {.name = "g", .physical = PQ_FLOAT};
    pq_values gv = {.n = 4, .values = flt};
    CHECK_STR(text_of(&gcol, &gv, 0), "1.1"); /* not the double 1.100000023841858 */
    CHECK_STR(text_of(&gcol, &gv, 1), "-2.2");
    CHECK_STR(text_of(&gcol, &gv, 2), "0.33333334");
    CHECK_STR(text_of(&gcol, &gv, 3), "16777216");
}

TEST(text_strings_and_plain_stats)
{
    const uint8_t bytes[] = "abcé";
    uint32_t off[] = {0, 0, 5};
    pq_column_spec scol = {.name = "s", .physical = PQ_BYTE_ARRAY, .logical = PQ_LOGICAL_STRING};
    pq_values sv = {.n = 2, .offsets = off, .bytes = bytes};
    CHECK_STR(text_of(&scol, &sv, 0), "");
    CHECK_STR(text_of(&scol, &sv, 1), "abcé");

    sp_buf b;
    sp_buf_init(&b, 0);
    int64_t m = -123456;
    pq_column_spec dcol = {.name = "d", .physical = PQ_INT64, .logical = PQ_LOGICAL_DECIMAL,
                           .precision = 18, .scale = 4};
    pq_plain_text(&dcol, (const uint8_t *)&m, 8, &b);
    sp_buf_putc(&b, 0);
    CHECK_STR((char *)b.data, "-12.3456");
    sp_buf_reset(&b);
    pq_plain_text(&dcol, (const uint8_t *)&m, 3, &b); /* wrong length: shown as hex, no crash */
    sp_buf_putc(&b, 0);
    CHECK_STR((char *)b.data, "0xc01dfe");
    sp_buf_free(&b);
}
