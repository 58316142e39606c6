/* text.c — turns Parquet values into text: the one place that decides how a
 * DATE, a DECIMAL or a double is written for `inspect`, CSV exports and text
 * COPY. Never goes through binary floating point for decimals. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/date.h"
#include "parquet.h"

/* Unscaled two's-complement integer with `scale` digits after the point. */
static void decimal_text(__int128 v, int scale, sp_buf *b)
{
    char digits[48];
    int n = 0;
    bool neg = v < 0;
    unsigned __int128 u = neg ? (unsigned __int128)0 - (unsigned __int128)v : (unsigned __int128)v;
    do {
        digits[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u && n < 40);
    while (n <= scale && n < 40)
        digits[n++] = '0';
    if (neg)
        sp_buf_putc(b, '-');
    for (int i = n - 1; i >= 0; i--) {
        sp_buf_putc(b, (uint8_t)digits[i]);
        if (i == scale && scale > 0)
            sp_buf_putc(b, '.');
    }
}

static void double_text(double d, sp_buf *b)
{
    /* Any value that reads back from k <= 15 digits prints as those k digits
     * at %.15g (DBL_DIG), so the shortest form needs at most three tries. */
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    sp_buf_puts(b, tmp);
}

/* FLOAT: the shortest text that reads back as the same float (1.1f is
 * "1.1", not the double 1.100000023841858). */
static void float_text(float f, sp_buf *b)
{
    char tmp[40];
    for (int prec = 6; prec <= 9; prec++) { /* 6 = FLT_DIG, as for doubles */
        snprintf(tmp, sizeof tmp, "%.*g", prec, (double)f);
        if (strtof(tmp, NULL) == f)
            break;
    }
    sp_buf_puts(b, tmp);
}

static void hex_text(const uint8_t *p, size_t n, sp_buf *b)
{
    static const char hex[] = "0123456789abcdef";
    sp_buf_puts(b, "0x");
    for (size_t i = 0; i < n; i++) {
        sp_buf_putc(b, (uint8_t)hex[p[i] >> 4]);
        sp_buf_putc(b, (uint8_t)hex[p[i] & 15]);
    }
}

/* Big-endian two's complement (FIXED_LEN_BYTE_ARRAY / BYTE_ARRAY decimals). */
static void be_decimal_text(const uint8_t *p, size_t n, int scale, sp_buf *b)
{
    if (n == 0 || n > 16) {
        hex_text(p, n, b);
        return;
    }
    unsigned __int128 u = (p[0] & 0x80) ? ~(unsigned __int128)0 : 0;
    for (size_t i = 0; i < n; i++)
        u = (u << 8) | p[i];
    decimal_text((__int128)u, scale, b);
}

static void bytes_text(const pq_column_spec *col, const uint8_t *p, size_t n, sp_buf *b)
{
    if (col->logical == PQ_LOGICAL_DECIMAL)
        be_decimal_text(p, n, col->scale, b);
    else if (col->physical == PQ_BYTE_ARRAY &&
             (col->logical == PQ_LOGICAL_STRING || col->logical == PQ_LOGICAL_NONE))
        sp_buf_append(b, p, n);
    else
        hex_text(p, n, b);
}

static void int_text(const pq_column_spec *col, int64_t x, sp_buf *b)
{
    if (col->logical == PQ_LOGICAL_DATE) {
        char tmp[16];
        sp_date_format(x, tmp);
        sp_buf_puts(b, tmp);
    } else if (col->logical == PQ_LOGICAL_DECIMAL) {
        decimal_text(x, col->scale, b);
    } else {
        sp_buf_printf(b, "%" PRId64, x);
    }
}

bool pq_value_text(const pq_column_spec *col, const pq_values *v, size_t row, sp_buf *b)
{
    if (v->valid && !v->valid[row])
        return false;
    switch (col->physical) {
    case PQ_BOOLEAN:
        sp_buf_puts(b, ((const uint8_t *)v->values)[row] ? "true" : "false");
        break;
    case PQ_INT32:
        int_text(col, ((const int32_t *)v->values)[row], b);
        break;
    case PQ_INT64:
        int_text(col, ((const int64_t *)v->values)[row], b);
        break;
    case PQ_FLOAT:
        float_text(((const float *)v->values)[row], b);
        break;
    case PQ_DOUBLE:
        double_text(((const double *)v->values)[row], b);
        break;
    case PQ_INT96:
    case PQ_BYTE_ARRAY:
    case PQ_FIXED_LEN_BYTE_ARRAY:
        bytes_text(col, v->bytes + v->offsets[row], v->offsets[row + 1] - v->offsets[row], b);
        break;
    }
    return true;
}

void pq_plain_text(const pq_column_spec *col, const uint8_t *p, uint32_t len, sp_buf *b)
{
    int32_t i32;
    int64_t i64;
    float f;
    double d;
    switch (col->physical) {
    case PQ_BOOLEAN:
        sp_buf_puts(b, len >= 1 && p[0] ? "true" : "false");
        return;
    case PQ_INT32:
        if (len != 4)
            break;
        memcpy(&i32, p, 4);
        int_text(col, i32, b);
        return;
    case PQ_INT64:
        if (len != 8)
            break;
        memcpy(&i64, p, 8);
        int_text(col, i64, b);
        return;
    case PQ_FLOAT:
        if (len != 4)
            break;
        memcpy(&f, p, 4);
        float_text(f, b);
        return;
    case PQ_DOUBLE:
        if (len != 8)
            break;
        memcpy(&d, p, 8);
        double_text(d, b);
        return;
    default:
        bytes_text(col, p, len, b);
        return;
    }
    hex_text(p, len, b);
}
