/* pq_fixture.c — test tool for the Parquet codec (build/pq_fixture, `make tools`).
 * `write` makes deterministic Parquet files with our writer plus the expected
 * values as CSV; `dump` / `meta` print what our reader sees, as CSV / JSON.
 * The interop suite (tests/interop) and the fuzz seeding use it. It only
 * talks to the codec through src/parquet/parquet.h and must never print a
 * value it did not get from the generator (write) or the reader (dump). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/parquet/parquet.h"
#include "../../src/util/buf.h"
#include "../../src/util/error.h"

/* ---- value formatting (the CSV contract shared with `salespipe inspect`) -- */

/* Proleptic Gregorian civil date from days since 1970-01-01 (H. Hinnant).
 * Kept apart from src/util/date.c on purpose: the expected CSV is the oracle
 * for the codec and text.c, so it must not share their code. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static void put_date(sp_buf *b, int32_t days)
{
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    sp_buf_printf(b, "%04" PRId64 "-%02u-%02u", y, m, d);
}

/* Unscaled two's-complement integer (as 128 bits) with `scale` fraction digits. */
static void put_decimal(sp_buf *b, __int128 v, int scale)
{
    unsigned __int128 mag = v < 0 ? (unsigned __int128)0 - (unsigned __int128)v
                                  : (unsigned __int128)v;
    char digits[64];
    int n = 0;
    do {
        digits[n++] = (char)('0' + (int)(mag % 10));
        mag /= 10;
    } while (mag != 0);
    while (n <= scale)
        digits[n++] = '0';
    if (v < 0)
        sp_buf_putc(b, '-');
    for (int i = n - 1; i >= 0; i--) {
        sp_buf_putc(b, (uint8_t)digits[i]);
        if (i == scale && scale > 0)
            sp_buf_putc(b, '.');
    }
}

/* Big-endian two's complement, as FIXED_LEN_BYTE_ARRAY decimals are stored. */
static bool be_to_int128(const uint8_t *p, size_t n, __int128 *out)
{
    if (n == 0 || n > 16)
        return false;
    unsigned __int128 u = (p[0] & 0x80) ? ~(unsigned __int128)0 : 0;
    for (size_t i = 0; i < n; i++)
        u = (u << 8) | p[i];
    *out = (__int128)u;
    return true;
}

static void put_hex(sp_buf *b, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        sp_buf_putc(b, (uint8_t)hex[p[i] >> 4]);
        sp_buf_putc(b, (uint8_t)hex[p[i] & 15]);
    }
}

/* RFC 4180: quote only fields holding , " CR or LF. An empty non-NULL string
 * is written `""` so that it stays distinct from NULL (an empty field). */
static void put_csv_bytes(sp_buf *b, const uint8_t *p, size_t n)
{
    bool quote = n == 0;
    for (size_t i = 0; i < n && !quote; i++)
        quote = p[i] == ',' || p[i] == '"' || p[i] == '\r' || p[i] == '\n';
    if (!quote) {
        sp_buf_append(b, p, n);
        return;
    }
    sp_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '"')
            sp_buf_putc(b, '"');
        sp_buf_putc(b, p[i]);
    }
    sp_buf_putc(b, '"');
}

/* One value as text (no CSV quoting): the typed rendering of its logical type. */
static void put_plain_value(sp_buf *b, const pq_column_spec *c, const uint8_t *p, size_t n)
{
    int32_t i32;
    int64_t i64;
    double f64;
    float f32;
    __int128 big;
    switch (c->physical) {
    case PQ_BOOLEAN:
        sp_buf_puts(b, p[0] ? "true" : "false");
        return;
    case PQ_INT32:
        memcpy(&i32, p, 4);
        if (c->logical == PQ_LOGICAL_DATE)
            put_date(b, i32);
        else if (c->logical == PQ_LOGICAL_DECIMAL)
            put_decimal(b, i32, c->scale);
        else
            sp_buf_printf(b, "%" PRId32, i32);
        return;
    case PQ_INT64:
        memcpy(&i64, p, 8);
        if (c->logical == PQ_LOGICAL_DECIMAL)
            put_decimal(b, i64, c->scale);
        else
            sp_buf_printf(b, "%" PRId64, i64);
        return;
    case PQ_FLOAT:
        memcpy(&f32, p, 4);
        sp_buf_printf(b, "%.9g", (double)f32);
        return;
    case PQ_DOUBLE:
        memcpy(&f64, p, 8);
        sp_buf_printf(b, "%.17g", f64);
        return;
    case PQ_FIXED_LEN_BYTE_ARRAY:
        if (c->logical == PQ_LOGICAL_DECIMAL && be_to_int128(p, n, &big))
            put_decimal(b, big, c->scale);
        else
            put_hex(b, p, n);
        return;
    case PQ_INT96:
        put_hex(b, p, n);
        return;
    case PQ_BYTE_ARRAY:
        sp_buf_append(b, p, n);
        return;
    }
}

static size_t fixed_width(const pq_column_spec *c)
{
    switch (c->physical) {
    case PQ_BOOLEAN: return 1;
    case PQ_INT32: case PQ_FLOAT: return 4;
    case PQ_INT64: case PQ_DOUBLE: return 8;
    case PQ_INT96: return 12;
    default: return 0;
    }
}

/* Row `row` of column values `v` as one CSV field. */
static void put_csv_field(sp_buf *b, const pq_column_spec *c, const pq_values *v, size_t row)
{
    if (v->valid && !v->valid[row])
        return;
    if (c->physical == PQ_BYTE_ARRAY) {
        const uint8_t *p = v->bytes + v->offsets[row];
        size_t n = v->offsets[row + 1] - v->offsets[row];
        if (c->logical == PQ_LOGICAL_STRING || c->logical == PQ_LOGICAL_NONE)
            put_csv_bytes(b, p, n);
        else
            put_hex(b, p, n);
        return;
    }
    if (c->physical == PQ_FIXED_LEN_BYTE_ARRAY) {
        put_plain_value(b, c, v->bytes + v->offsets[row], v->offsets[row + 1] - v->offsets[row]);
        return;
    }
    size_t w = fixed_width(c);
    put_plain_value(b, c, (const uint8_t *)v->values + row * w, w);
}

static void put_csv_header(sp_buf *b, const pq_column_spec *cols, size_t ncols)
{
    for (size_t i = 0; i < ncols; i++) {
        if (i)
            sp_buf_putc(b, ',');
        put_csv_bytes(b, (const uint8_t *)cols[i].name, strlen(cols[i].name));
    }
    sp_buf_putc(b, '\n');
}

static void put_csv_rows(sp_buf *b, const pq_column_spec *cols, const pq_values *v, size_t ncols)
{
    size_t n = ncols ? v[0].n : 0;
    for (size_t r = 0; r < n; r++) {
        for (size_t i = 0; i < ncols; i++) {
            if (i)
                sp_buf_putc(b, ',');
            put_csv_field(b, &cols[i], &v[i], r);
        }
        sp_buf_putc(b, '\n');
    }
}

static int flush_buf(sp_buf *b, FILE *f, const char *what)
{
    if (b->broken) {
        fprintf(stderr, "pq_fixture: %s: output buffer overflow\n", what);
        return 1;
    }
    if (b->len && fwrite(b->data, 1, b->len, f) != b->len) {
        fprintf(stderr, "pq_fixture: %s: %s\n", what, strerror(errno));
        return 1;
    }
    sp_buf_reset(b);
    return 0;
}

/* ---- deterministic data ------------------------------------------------ */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int64_t rand_range(uint64_t *s, int64_t lo, int64_t hi) /* inclusive */
{
    uint64_t span = (uint64_t)hi - (uint64_t)lo + 1;
    uint64_t x = splitmix(s);
    return span == 0 ? (int64_t)x : (int64_t)((uint64_t)lo + x % span);
}

/* Strings that break naive CSV writers, UTF-8 handling or length prefixes. */
static const char *const edge_strings[] = {
    "plain", "comma,inside", "quote\"inside\"", "line\nbreak", "carriage\rreturn",
    "crlf\r\nend", "h\xc3\xa9llo w\xc3\xb6rld", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
    "emoji \xf0\x9f\x98\x80\xf0\x9f\x8e\x89", "", " leading space", "trailing space ",
    "tab\there", "\"\"", "a,b,\"c\"\n", "\xce\xa9\xe2\x89\x88\xc3\xa7",
    "NULL", "null", "-0", "0001-01-01",
};
#define N_EDGE (sizeof edge_strings / sizeof edge_strings[0])

/* A high-cardinality string: unique per row, mixed ASCII / multi-byte. */
static void gen_note(sp_buf *b, uint64_t *s, size_t row)
{
    static const char *const parts[] = {"alpha", "\xc3\x9f", "\xe2\x82\xac", " ", "-",
                                        "\xf0\x9f\x8c\x8d", "z", "Q", ",", "9"};
    sp_buf_printf(b, "n%zu:", row);
    int k = (int)rand_range(s, 0, 24);
    for (int i = 0; i < k; i++)
        sp_buf_puts(b, parts[rand_range(s, 0, 9)]);
}

enum kind { KIND_ALL, KIND_REQUIRED, KIND_FACT };

/* Column layout per kind. `all` and `required` share columns; `required`
 * makes every column REQUIRED and never NULL. */
static const pq_column_spec all_cols[] = {
    {"id", PQ_INT64, PQ_LOGICAL_NONE, 0, 0, 0, false},
    {"i32", PQ_INT32, PQ_LOGICAL_NONE, 0, 0, 0, true},
    {"i64", PQ_INT64, PQ_LOGICAL_NONE, 0, 0, 0, true},
    {"flag", PQ_BOOLEAN, PQ_LOGICAL_NONE, 0, 0, 0, true},
    {"dbl", PQ_DOUBLE, PQ_LOGICAL_NONE, 0, 0, 0, true},
    {"name", PQ_BYTE_ARRAY, PQ_LOGICAL_STRING, 0, 0, 0, true},
    {"day", PQ_INT32, PQ_LOGICAL_DATE, 0, 0, 0, true},
    {"price", PQ_INT32, PQ_LOGICAL_DECIMAL, 9, 2, 0, true},
    {"amount", PQ_INT64, PQ_LOGICAL_DECIMAL, 18, 4, 0, false},
    {"code", PQ_BYTE_ARRAY, PQ_LOGICAL_STRING, 0, 0, 0, false},
    {"note", PQ_BYTE_ARRAY, PQ_LOGICAL_STRING, 0, 0, 0, false},
    {"nothing", PQ_INT32, PQ_LOGICAL_NONE, 0, 0, 0, true},
};
#define N_ALL (sizeof all_cols / sizeof all_cols[0])

static const pq_column_spec fact_cols[] = {
    {"sale_date", PQ_INT32, PQ_LOGICAL_DATE, 0, 0, 0, false},
    {"store_id", PQ_BYTE_ARRAY, PQ_LOGICAL_STRING, 0, 0, 0, false},
    {"quantity", PQ_INT32, PQ_LOGICAL_NONE, 0, 0, 0, false},
    {"unit_price", PQ_INT64, PQ_LOGICAL_DECIMAL, 18, 4, 0, false},
    {"gross", PQ_INT64, PQ_LOGICAL_DECIMAL, 18, 4, 0, false},
    {"discount", PQ_INT64, PQ_LOGICAL_DECIMAL, 18, 4, 0, false},
    {"net", PQ_INT64, PQ_LOGICAL_DECIMAL, 18, 4, 0, false},
};
#define N_FACT (sizeof fact_cols / sizeof fact_cols[0])

#define MAX_COLS 16

/* Column storage for one batch. */
typedef struct batch {
    size_t cap;
    uint8_t *valid[MAX_COLS];
    void *values[MAX_COLS];
    uint32_t *offsets[MAX_COLS];
    sp_buf bytes[MAX_COLS];
    pq_values v[MAX_COLS];
} batch;

static int batch_init(batch *bt, const pq_column_spec *cols, size_t ncols, size_t cap)
{
    memset(bt, 0, sizeof *bt);
    bt->cap = cap;
    for (size_t i = 0; i < ncols; i++) {
        bt->valid[i] = malloc(cap);
        bt->values[i] = malloc(cap * 8);
        bt->offsets[i] = malloc((cap + 1) * sizeof(uint32_t));
        sp_buf_init(&bt->bytes[i], 0);
        if (!bt->valid[i] || !bt->values[i] || !bt->offsets[i])
            return -1;
        (void)cols;
    }
    return 0;
}

static void batch_free(batch *bt, size_t ncols)
{
    for (size_t i = 0; i < ncols; i++) {
        free(bt->valid[i]);
        free(bt->values[i]);
        free(bt->offsets[i]);
        sp_buf_free(&bt->bytes[i]);
    }
}

/* NULL for row `row` of an optional column: ~15%, never in the first rows
 * (which hold the extremes), always for `nothing`. */
static bool pick_null(uint64_t *s, size_t row, const pq_column_spec *c, bool nulls)
{
    if (!c->optional || !nulls)
        return false;
    if (strcmp(c->name, "nothing") == 0)
        return true;
    if (row < 8)
        return false;
    return rand_range(s, 0, 99) < 15;
}

static int64_t pick_int(uint64_t *s, size_t row, int64_t lo, int64_t hi)
{
    switch (row) {
    case 0: return lo;
    case 1: return hi;
    case 2: return 0;
    case 3: return -1;
    case 4: return 1;
    default: return rand_range(s, lo, hi);
    }
}

static double pick_double(uint64_t *s, size_t row)
{
    static const double edges[] = {0.0, -0.0, 1e300, -1e300, 5e-324, 1.7976931348623157e308,
                                   0.1, -2.5};
    if (row < sizeof edges / sizeof edges[0])
        return edges[row];
    if (rand_range(s, 0, 1))
        return (double)rand_range(s, -1000000000, 1000000000) / 1024.0;
    return ((double)(splitmix(s) >> 11) / 9007199254740992.0 - 0.5) * 1e6;
}

/* Days since 1970 between 0001-01-01 and 9999-12-31, edges first. */
static int32_t pick_date(uint64_t *s, size_t row)
{
    static const int32_t edges[] = {-719162, 2932896, 0, -1, 59, -25567, 10957, 11016};
    if (row < sizeof edges / sizeof edges[0])
        return edges[row];
    if (rand_range(s, 0, 3) == 0)
        return (int32_t)rand_range(s, -719162, 2932896);
    return (int32_t)rand_range(s, -36524, 36524); /* 1870 .. 2069 */
}

static void gen_all(batch *bt, const pq_column_spec *cols, size_t ncols, size_t first,
                    size_t n, uint64_t seed, bool nulls)
{
    for (size_t i = 0; i < ncols; i++) {
        sp_buf_reset(&bt->bytes[i]);
        bt->offsets[i][0] = 0;
    }
    for (size_t k = 0; k < n; k++) {
        size_t row = first + k;
        uint64_t s = seed ^ (row * 0xD1B54A32D192ED03ull);
        for (size_t i = 0; i < ncols; i++) {
            const pq_column_spec *c = &cols[i];
            bool null = pick_null(&s, row, c, nulls);
            bt->valid[i][k] = !null;
            const char *nm = c->name;
            int32_t *v32 = bt->values[i];
            int64_t *v64 = bt->values[i];
            sp_buf *bb = &bt->bytes[i];
            if (strcmp(nm, "id") == 0)
                v64[k] = (int64_t)row;
            else if (strcmp(nm, "i32") == 0 || strcmp(nm, "nothing") == 0)
                v32[k] = (int32_t)pick_int(&s, row, INT32_MIN, INT32_MAX);
            else if (strcmp(nm, "i64") == 0)
                v64[k] = pick_int(&s, row, INT64_MIN, INT64_MAX);
            else if (strcmp(nm, "flag") == 0)
                ((uint8_t *)bt->values[i])[k] = (uint8_t)(row < 2 ? row : (size_t)rand_range(&s, 0, 1));
            else if (strcmp(nm, "dbl") == 0)
                ((double *)bt->values[i])[k] = pick_double(&s, row);
            else if (strcmp(nm, "day") == 0)
                v32[k] = pick_date(&s, row);
            else if (strcmp(nm, "price") == 0)
                v32[k] = (int32_t)pick_int(&s, row, -999999999, 999999999);
            else if (strcmp(nm, "amount") == 0)
                v64[k] = pick_int(&s, row, -999999999999999999ll, 999999999999999999ll);
            else if (strcmp(nm, "name") == 0) {
                if (!null) {
                    if (row < N_EDGE || rand_range(&s, 0, 2) == 0)
                        sp_buf_puts(bb, edge_strings[row < N_EDGE ? row : (size_t)rand_range(&s, 0, N_EDGE - 1)]);
                    else
                        sp_buf_printf(bb, "name-%" PRId64, rand_range(&s, 0, 999));
                }
            } else if (strcmp(nm, "code") == 0)
                sp_buf_printf(bb, "C%02d", (int)rand_range(&s, 0, 49));
            else if (strcmp(nm, "note") == 0)
                gen_note(bb, &s, row);
            if (c->physical == PQ_BYTE_ARRAY)
                bt->offsets[i][k + 1] = (uint32_t)bb->len;
        }
    }
    for (size_t i = 0; i < ncols; i++) {
        bool any_null = false;
        for (size_t k = 0; k < n && !any_null; k++)
            any_null = !bt->valid[i][k];
        bt->v[i] = (pq_values){n, any_null ? bt->valid[i] : NULL, bt->values[i],
                               bt->offsets[i], bt->bytes[i].data};
    }
}

/* The benchmark's fact shape: 2,000 store ids, four DECIMAL(18,4) amounts. */
static void gen_fact(batch *bt, size_t first, size_t n, uint64_t seed)
{
    sp_buf_reset(&bt->bytes[1]);
    bt->offsets[1][0] = 0;
    int32_t *day = bt->values[0], *qty = bt->values[2];
    int64_t *a[4] = {bt->values[3], bt->values[4], bt->values[5], bt->values[6]};
    for (size_t k = 0; k < n; k++) {
        size_t row = first + k;
        uint64_t s = seed ^ (row * 0xD1B54A32D192ED03ull);
        day[k] = 18262 + (int32_t)(row / 5479); /* 2020-01-01, ~1825 days over 10M rows */
        sp_buf_printf(&bt->bytes[1], "ST-%05d", (int)rand_range(&s, 0, 1999));
        bt->offsets[1][k + 1] = (uint32_t)bt->bytes[1].len;
        qty[k] = (int32_t)rand_range(&s, 1, 50);
        a[0][k] = rand_range(&s, 5000, 9999999);          /* 0.5000 .. 999.9999 */
        a[1][k] = a[0][k] * qty[k];
        a[2][k] = a[1][k] / 100 * rand_range(&s, 0, 15);  /* 0..15 % */
        a[3][k] = a[1][k] - a[2][k];
    }
    for (size_t i = 0; i < N_FACT; i++)
        bt->v[i] = (pq_values){n, NULL, bt->values[i], bt->offsets[i], bt->bytes[i].data};
}

/* ---- commands ------------------------------------------------------------ */

static int usage(void)
{
    fprintf(stderr,
            "usage: pq_fixture write KIND OUT.parquet EXPECTED.csv [--codec zstd|snappy|gzip|none]\n"
            "                  [--rows N] [--rg-rows N] [--batch N] [--seed N] [--no-dict]\n"
            "                  [--page-bytes N] [--dict-max N] [--level N]\n"
            "                  [--int-fallback plain|delta]\n"
            "         KIND: all (every type, NULLs, edge values) | required (same, no NULLs)\n"
            "               | fact (the benchmark's sales fact shape)\n"
            "       pq_fixture dump IN.parquet    (our reader, as CSV on stdout)\n"
            "       pq_fixture meta IN.parquet    (our reader's footer view, as JSON)\n");
    return 2;
}

static int parse_codec(const char *s, pq_codec *c)
{
    if (strcmp(s, "zstd") == 0) *c = PQ_ZSTD;
    else if (strcmp(s, "snappy") == 0) *c = PQ_SNAPPY;
    else if (strcmp(s, "gzip") == 0) *c = PQ_GZIP;
    else if (strcmp(s, "none") == 0 || strcmp(s, "uncompressed") == 0) *c = PQ_UNCOMPRESSED;
    else return -1;
    return 0;
}

static int cmd_write(int argc, char **argv)
{
    if (argc < 3)
        return usage();
    const char *kind_s = argv[0], *out = argv[1], *csv = argv[2];
    enum kind kind;
    if (strcmp(kind_s, "all") == 0) kind = KIND_ALL;
    else if (strcmp(kind_s, "required") == 0) kind = KIND_REQUIRED;
    else if (strcmp(kind_s, "fact") == 0) kind = KIND_FACT;
    else return usage();

    pq_writer_options opt;
    pq_writer_options_default(&opt);
    opt.created_by = "salespipe pq_fixture";
    size_t rows = 1000, batch_rows = 777;
    uint64_t seed = 42;
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--no-dict") == 0) {
            opt.dictionary = false;
            continue;
        }
        if (!val)
            return usage();
        i++;
        if (strcmp(a, "--codec") == 0) {
            if (parse_codec(val, &opt.codec) != 0)
                return usage();
        } else if (strcmp(a, "--rows") == 0) rows = strtoull(val, NULL, 10);
        else if (strcmp(a, "--rg-rows") == 0) opt.row_group_rows = strtoull(val, NULL, 10);
        else if (strcmp(a, "--batch") == 0) batch_rows = strtoull(val, NULL, 10);
        else if (strcmp(a, "--seed") == 0) seed = strtoull(val, NULL, 10);
        else if (strcmp(a, "--page-bytes") == 0) opt.page_bytes = strtoull(val, NULL, 10);
        else if (strcmp(a, "--dict-max") == 0) opt.dict_max_bytes = strtoull(val, NULL, 10);
        else if (strcmp(a, "--level") == 0) opt.level = atoi(val);
        else if (strcmp(a, "--int-fallback") == 0) {
            if (strcmp(val, "plain") == 0)
                opt.int_fallback = PQ_ENC_PLAIN;
            else if (strcmp(val, "delta") == 0)
                opt.int_fallback = PQ_ENC_DELTA_BINARY_PACKED;
            else
                return usage();
        } else return usage();
    }
    if (batch_rows == 0)
        batch_rows = 1;

    pq_column_spec cols[MAX_COLS];
    size_t ncols = kind == KIND_FACT ? N_FACT : N_ALL;
    memcpy(cols, kind == KIND_FACT ? fact_cols : all_cols, ncols * sizeof cols[0]);
    if (kind == KIND_REQUIRED) {
        ncols--; /* `nothing` is the all-NULL column */
        for (size_t i = 0; i < ncols; i++)
            cols[i].optional = false;
    }

    FILE *f = fopen(csv, "wb");
    if (!f) {
        fprintf(stderr, "pq_fixture: %s: %s\n", csv, strerror(errno));
        return 1;
    }
    batch bt;
    sp_error err;
    sp_error_clear(&err);
    pq_writer *w = NULL;
    sp_buf text;
    sp_buf_init(&text, 0);
    int rc = 1;
    if (batch_init(&bt, cols, ncols, batch_rows) != 0) {
        fprintf(stderr, "pq_fixture: out of memory\n");
        goto done;
    }
    if (pq_writer_open(&w, out, cols, ncols, &opt, &err) != SP_OK) {
        fprintf(stderr, "pq_fixture: open %s: %s\n", out, err.msg);
        goto done;
    }
    put_csv_header(&text, cols, ncols);
    for (size_t first = 0; first < rows; first += batch_rows) {
        size_t n = rows - first < batch_rows ? rows - first : batch_rows;
        if (kind == KIND_FACT)
            gen_fact(&bt, first, n, seed);
        else
            gen_all(&bt, cols, ncols, first, n, seed, kind == KIND_ALL);
        if (pq_writer_write(w, bt.v, &err) != SP_OK) {
            fprintf(stderr, "pq_fixture: write %s rows %zu..%zu: %s\n", out, first, first + n, err.msg);
            pq_writer_abort(w);
            w = NULL;
            goto done;
        }
        put_csv_rows(&text, cols, bt.v, ncols);
        if (flush_buf(&text, f, csv) != 0)
            goto done;
    }
    if (flush_buf(&text, f, csv) != 0) /* the header alone, for 0 rows */
        goto done;
    pq_writer *closing = w;
    w = NULL;
    if (pq_writer_close(closing, &err) != SP_OK) {
        fprintf(stderr, "pq_fixture: close %s: %s\n", out, err.msg);
        goto done;
    }
    rc = 0;
done:
    pq_writer_abort(w);
    if (fclose(f) != 0 && rc == 0) {
        fprintf(stderr, "pq_fixture: %s: %s\n", csv, strerror(errno));
        rc = 1;
    }
    batch_free(&bt, ncols);
    sp_buf_free(&text);
    return rc;
}

/* Open path with our reader; on failure say why on stderr and return NULL. */
static pq_reader *open_or_complain(const char *path)
{
    sp_error err;
    sp_error_clear(&err);
    pq_reader *r = NULL;
    if (pq_reader_open(&r, path, &err) != SP_OK)
        fprintf(stderr, "pq_fixture: %s\n", err.msg);
    return r;
}

static int cmd_dump(const char *path)
{
    sp_error err;
    pq_reader *r = open_or_complain(path);
    if (!r)
        return 1;
    size_t ncols = pq_reader_num_columns(r);
    pq_column_spec *cols = calloc(ncols ? ncols : 1, sizeof *cols);
    pq_values *v = calloc(ncols ? ncols : 1, sizeof *v);
    sp_buf text;
    sp_buf_init(&text, 0);
    int rc = 1;
    if (!cols || !v)
        goto done;
    for (size_t i = 0; i < ncols; i++)
        cols[i] = *pq_reader_column(r, i);
    put_csv_header(&text, cols, ncols);
    if (flush_buf(&text, stdout, "stdout") != 0)
        goto done;
    for (size_t rg = 0; rg < pq_reader_num_row_groups(r); rg++) {
        if (pq_reader_read_row_group(r, rg, v, &err) != SP_OK) {
            fprintf(stderr, "pq_fixture: row group %zu: %s\n", rg, err.msg);
            flush_buf(&text, stdout, "stdout");
            goto done;
        }
        for (size_t i = 0; i < ncols; i++) {
            if ((int64_t)v[i].n != pq_reader_row_group_rows(r, rg)) {
                fprintf(stderr, "pq_fixture: row group %zu column %zu: %zu values, footer says %" PRId64 "\n",
                        rg, i, v[i].n, pq_reader_row_group_rows(r, rg));
                goto done;
            }
        }
        put_csv_rows(&text, cols, v, ncols);
        if (flush_buf(&text, stdout, "stdout") != 0)
            goto done;
    }
    rc = 0;
done:
    if (fflush(stdout) != 0)
        rc = 1;
    sp_buf_free(&text);
    free(cols);
    free(v);
    pq_reader_close(r);
    return rc;
}

static void put_json_string(sp_buf *b, const uint8_t *p, size_t n)
{
    sp_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '"' || p[i] == '\\')
            sp_buf_printf(b, "\\%c", p[i]);
        else if (p[i] < 0x20)
            sp_buf_printf(b, "\\u%04x", p[i]);
        else
            sp_buf_putc(b, p[i]);
    }
    sp_buf_putc(b, '"');
}

static void put_json_cstr(sp_buf *b, const char *s)
{
    put_json_string(b, (const uint8_t *)s, strlen(s));
}

/* A statistics bound as JSON: typed text, or null when it cannot be shown. */
static void put_json_stat(sp_buf *b, const pq_column_spec *c, const uint8_t *p, uint32_t n)
{
    size_t w = fixed_width(c);
    if (!p || (w && n != w)) {
        sp_buf_puts(b, "null");
        return;
    }
    sp_buf tmp;
    sp_buf_init(&tmp, 0);
    put_plain_value(&tmp, c, p, n);
    put_json_string(b, tmp.data ? tmp.data : (const uint8_t *)"", tmp.len);
    sp_buf_free(&tmp);
}

static const char *logical_name(pq_logical l)
{
    switch (l) {
    case PQ_LOGICAL_NONE: return "NONE";
    case PQ_LOGICAL_STRING: return "STRING";
    case PQ_LOGICAL_DATE: return "DATE";
    case PQ_LOGICAL_DECIMAL: return "DECIMAL";
    default: return "OTHER";
    }
}

static int cmd_meta(const char *path)
{
    pq_reader *r = open_or_complain(path);
    if (!r)
        return 1;
    sp_buf b;
    sp_buf_init(&b, 0);
    size_t ncols = pq_reader_num_columns(r), nrg = pq_reader_num_row_groups(r);
    sp_buf_printf(&b, "{\"num_rows\":%" PRId64 ",\"created_by\":", pq_reader_num_rows(r));
    put_json_cstr(&b, pq_reader_created_by(r));
    sp_buf_puts(&b, ",\"columns\":[");
    for (size_t i = 0; i < ncols; i++) {
        const pq_column_spec *c = pq_reader_column(r, i);
        sp_buf_puts(&b, i ? ",{\"name\":" : "{\"name\":");
        put_json_cstr(&b, c->name);
        sp_buf_printf(&b, ",\"physical\":\"%s\",\"logical\":\"%s\",\"precision\":%d,\"scale\":%d,"
                          "\"type_length\":%d,\"optional\":%s}",
                      pq_physical_name(c->physical), logical_name(c->logical), c->precision,
                      c->scale, c->type_length, c->optional ? "true" : "false");
    }
    sp_buf_puts(&b, "],\"row_groups\":[");
    for (size_t rg = 0; rg < nrg; rg++) {
        sp_buf_printf(&b, "%s{\"rows\":%" PRId64 ",\"bytes\":%" PRId64 ",\"chunks\":[", rg ? "," : "",
                      pq_reader_row_group_rows(r, rg), pq_reader_row_group_bytes(r, rg));
        for (size_t i = 0; i < ncols; i++) {
            const pq_chunk_info *ch = pq_reader_chunk(r, rg, i);
            const pq_column_spec *c = pq_reader_column(r, i);
            sp_buf_printf(&b, "%s{\"codec\":\"%s\",\"num_values\":%" PRId64
                              ",\"compressed\":%" PRId64 ",\"uncompressed\":%" PRId64 ",\"encodings\":[",
                          i ? "," : "", pq_codec_name(ch->codec), ch->num_values,
                          ch->compressed_size, ch->uncompressed_size);
            int k = 0;
            for (int e = 0; e < 32; e++)
                if (ch->encodings & (1u << e))
                    sp_buf_printf(&b, "%s\"%s\"", k++ ? "," : "", pq_encoding_name(e));
            sp_buf_printf(&b, "],\"dictionary\":%s,\"null_count\":%" PRId64 ",\"min\":",
                          ch->dictionary_page_offset >= 0 ? "true" : "false", ch->stats.null_count);
            put_json_stat(&b, c, ch->stats.has_min_max ? ch->stats.min : NULL, ch->stats.min_len);
            sp_buf_puts(&b, ",\"max\":");
            put_json_stat(&b, c, ch->stats.has_min_max ? ch->stats.max : NULL, ch->stats.max_len);
            sp_buf_putc(&b, '}');
        }
        sp_buf_puts(&b, "]}");
    }
    sp_buf_puts(&b, "]}\n");
    int rc = flush_buf(&b, stdout, "stdout");
    sp_buf_free(&b);
    pq_reader_close(r);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "write") == 0)
        return cmd_write(argc - 2, argv + 2);
    if (argc == 3 && strcmp(argv[1], "dump") == 0)
        return cmd_dump(argv[2]);
    if (argc == 3 && strcmp(argv[1], "meta") == 0)
        return cmd_meta(argv[2]);
    return usage();
}
