/* rules.h — the data contract of SPEC §4: dates, exact decimals, derived
 * values and the reject reasons, checked in the spec's order. Pure functions
 * on text views: no files, no allocation. Used by transform between the CSV
 * reader and the star builder. Never uses binary floating point.
 *
 * Decimals are int64 "unscaled" values: amounts with scale 4 (DECIMAL(18,4),
 * |v| <= 10^18 - 1) and derived values with scale 2 (DECIMAL(18,2)). Dates
 * are int32 days since 1970-01-01. */
#ifndef SP_RULES_H
#define SP_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Reject reasons in SPEC §4's order; the first failing check wins. */
typedef enum rules_reason {
    RULES_KEPT = 0,
    RULES_MALFORMED,  /* field count differs from the header's, or unclosed quote */
    RULES_ORDER_DATE,
    RULES_SHIP_DATE,
    RULES_PRODUCT_ID,
    RULES_QUANTITY,
    RULES_SALES,
    RULES_THRESHOLD,
    RULES_PROFIT,
    RULES_NREASONS
} rules_reason;

/* "malformed", "order_date", … ("kept" for RULES_KEPT). */
const char *rules_reason_name(rules_reason r);

typedef enum rules_date_order {
    RULES_ORDER_AUTO = 0, /* resolved per file by the caller from evidence */
    RULES_MDY,
    RULES_DMY,
    RULES_YMD,
} rules_date_order;

/* "auto", "mdy", "dmy", "ymd"; parse returns false for anything else. */
const char *rules_date_order_name(rules_date_order o);
bool rules_date_order_parse(const char *s, rules_date_order *out);

/* Parse a date: M/D/YYYY, MM/DD/YYYY, D/M/YYYY, DD-MM-YYYY (the two
 * numbers before the year are ordered by `order`: RULES_MDY or RULES_DMY;
 * '/' and '-' alike), YYYY-MM-DD and YYYY/MM/DD (always year first, any
 * order), and two-digit years as POSIX %y (69–99 → 19xx, 00–68 → 20xx).
 * With RULES_YMD only year-first forms (YY-MM-DD included) are dates.
 * Impossible dates (Feb 30) are invalid. Returns true and *days on success.
 * *evidence (may be NULL) receives RULES_DMY when the first number is
 * above 12 (and the second is a month), RULES_MDY when the second is
 * above 12 (and the first is a month), else RULES_ORDER_AUTO — whatever
 * `order` is, so the caller can detect the file's order.
 * Precisely: both separators must be the same byte; year 0 is invalid
 * (PostgreSQL has no year 0); RULES_ORDER_AUTO as `order` parses as
 * RULES_MDY. Evidence reads the text only: it is computed whenever the text
 * has the day/month-first shape (1–2 digits, 1–2 digits, then a 2- or 4-digit
 * year, nothing else), also when the date is impossible ("30/2/2020" gives
 * RULES_DMY) or not valid under `order`; any other text gives AUTO. */
bool rules_parse_date(const char *p, size_t n, rules_date_order order, int32_t *days,
                      rules_date_order *evidence);

/* Parse a plain decimal ("-12.5", "0.125", "3", "+4", ".5", "5."): no
 * exponent, no thousands separators, at least one digit. Rounded half away
 * from zero to `scale` fractional digits (*rounded set when digits were
 * dropped, may be NULL). The result must fit 18 digits (|v| < 10^18).
 * Returns false when the text is not such a number. `scale` is 0..18 (false
 * otherwise). *rounded is true whenever more than `scale` fractional digits
 * were given, even zeros ("1.00000" at scale 4); only set on success. Any
 * number of leading zeros and fractional digits is accepted. */
bool rules_parse_decimal(const char *p, size_t n, int scale, int64_t *out, bool *rounded);

/* An integer in int32 range ("+3", "007" fine; "3.0", "" not). */
bool rules_parse_int32(const char *p, size_t n, int32_t *out);

/* round(num / den) half away from zero, as PostgreSQL's round(numeric):
 * exact for any int64 operands (any __int128 in fact); den != 0 (false
 * otherwise). Returns false when the result does not fit |v| < limit (pass
 * 10^16 for DECIMAL(18,2)). */
bool rules_div_round(__int128 num, __int128 den, int64_t limit, int64_t *out);

/* The fields one row needs, as trimmed text views (from the CSV reader). */
typedef struct rules_text {
    const char *p;
    size_t n;
} rules_text;

typedef struct rules_input {
    rules_text order_date, ship_date, product_id, category, sales, quantity, profit;
} rules_input;

/* A kept row's typed values. */
typedef struct rules_row {
    int32_t order_date, ship_date; /* days */
    int32_t quantity;
    int64_t sales;         /* scale 4 */
    int64_t profit;        /* scale 4 */
    int64_t unit_price;    /* scale 2: round(sales / quantity, 2) */
    int64_t profit_margin; /* scale 2: round(profit / sales, 2) */
    bool sales_rounded, profit_rounded; /* more than 4 fractional digits */
} rules_row;

typedef struct rules_ctx {
    rules_date_order order; /* RULES_MDY, RULES_DMY or RULES_YMD (resolved) */
    int64_t threshold;      /* SALES_THRESHOLD, scale 4 */
} rules_ctx;

/* Check one well-formed row (the caller decides `malformed`) against every
 * rule in order. Product ID counts as empty when it holds only spaces and
 * tabs (SPEC §4's trimming); category is not checked. Returns RULES_KEPT and
 * fills *row (untouched otherwise; may be NULL), or the first failing
 * reason. evidence[0] and evidence[1] (order date, ship date) receive each
 * date field's order evidence as rules_parse_date gives it (RULES_MDY,
 * RULES_DMY or RULES_ORDER_AUTO), also for rejected rows; evidence may be
 * NULL. */
rules_reason rules_check(const rules_ctx *ctx, const rules_input *in, rules_row *row,
                         rules_date_order evidence[2]);

#endif
