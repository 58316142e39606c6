/* rules.c — SPEC §4's data contract on one row of trimmed text views: dates,
 * exact decimals, derived values, the first failing reject reason. Runs on
 * every input row between the CSV reader and the star builder, so it scans
 * each byte once in plain digit loops. Never allocates, never calls locale-
 * dependent or floating-point code (no strtod, no sscanf, no double). */
#include "rules.h"

#include <string.h>

#include "../util/date.h"

#define DEC_LIMIT 1000000000000000000LL /* 10^18: DECIMAL(18, s) holds |v| < this */
#define MAX_SCALE 18

static const int64_t pow10_tab[MAX_SCALE + 1] = {
    1LL, 10LL, 100LL, 1000LL, 10000LL, 100000LL, 1000000LL, 10000000LL, 100000000LL,
    1000000000LL, 10000000000LL, 100000000000LL, 1000000000000LL, 10000000000000LL,
    100000000000000LL, 1000000000000000LL, 10000000000000000LL, 100000000000000000LL,
    1000000000000000000LL,
};

/* A decimal digit's value, or a number above 9 for any other byte. */
static inline unsigned digit(char c)
{
    return (unsigned)(unsigned char)c - '0';
}

const char *rules_reason_name(rules_reason r)
{
    static const char *const names[RULES_NREASONS] = {
        "kept", "malformed", "order_date", "ship_date", "product_id",
        "quantity", "sales", "threshold", "profit",
    };
    return (unsigned)r < RULES_NREASONS ? names[r] : "unknown";
}

static const char *const order_names[] = {"auto", "mdy", "dmy", "ymd"};

const char *rules_date_order_name(rules_date_order o)
{
    return (unsigned)o < 4 ? order_names[o] : "unknown";
}

bool rules_date_order_parse(const char *s, rules_date_order *out)
{
    for (unsigned i = 0; s && i < 4; i++) {
        if (strcmp(s, order_names[i]) == 0) {
            *out = (rules_date_order)i;
            return true;
        }
    }
    return false;
}

/* ---- dates ---------------------------------------------------------- */

/* Read at most 5 digits from p[*i]; returns how many (5 means "too many"
 * for any date part) and their value in *v. */
static inline unsigned date_part(const char *p, size_t n, size_t *i, unsigned *v)
{
    unsigned len = 0, acc = 0, d;
    while (*i < n && len < 5 && (d = digit(p[*i])) <= 9) {
        acc = acc * 10 + d;
        (*i)++;
        len++;
    }
    *v = acc;
    return len;
}

/* POSIX %y: 69–99 are 1969–1999, 00–68 are 2000–2068. */
static inline unsigned pivot_year(unsigned yy)
{
    return yy >= 69 ? 1900 + yy : 2000 + yy;
}

static inline rules_date_order evidence_of(unsigned first, unsigned second)
{
    if (first >= 13 && first <= 31 && second >= 1 && second <= 12)
        return RULES_DMY;
    if (second >= 13 && second <= 31 && first >= 1 && first <= 12)
        return RULES_MDY;
    return RULES_ORDER_AUTO;
}

/* Shape: A sep B sep C with the same separator ('/' or '-') twice and
 * nothing else. Year first when A has 4 digits (or 2 under RULES_YMD);
 * otherwise A and B are month and day in `order` and C the year (2 or 4
 * digits). Evidence comes from A and B whenever the text has the day/month-
 * first shape (1–2, 1–2, 2 or 4 digits), valid calendar date or not. */
bool rules_parse_date(const char *p, size_t n, rules_date_order order, int32_t *days,
                      rules_date_order *evidence)
{
    size_t i = 0;
    unsigned a, b, c;
    rules_date_order ev = RULES_ORDER_AUTO;
    bool ok = false;
    unsigned la = date_part(p, n, &i, &a);
    if (la == 0 || la > 4 || i >= n || (p[i] != '/' && p[i] != '-'))
        goto done;
    char sep = p[i++];
    unsigned lb = date_part(p, n, &i, &b);
    if (lb == 0 || lb > 2 || i >= n || p[i] != sep)
        goto done;
    i++;
    unsigned lc = date_part(p, n, &i, &c);
    if (lc == 0 || i != n)
        goto done;

    unsigned y, m, d;
    bool dm_shape = la <= 2 && (lc == 2 || lc == 4);
    if (dm_shape)
        ev = evidence_of(a, b);
    if (la == 4 || (order == RULES_YMD && la == 2)) {
        if (lc > 2)
            goto done;
        y = la == 4 ? a : pivot_year(a);
        m = b;
        d = c;
    } else if (order == RULES_YMD || !dm_shape) {
        goto done;
    } else {
        y = lc == 4 ? c : pivot_year(c);
        if (order == RULES_DMY) {
            d = a;
            m = b;
        } else { /* RULES_MDY, and RULES_ORDER_AUTO as its default */
            m = a;
            d = b;
        }
    }
    /* Year 0 has no spelling in PostgreSQL's DATE ("0000-01-01" is out of
     * range there), so it is as impossible as Feb 30. */
    if (y == 0 || !sp_date_valid(y, m, d))
        goto done;
    *days = (int32_t)sp_days_from_civil(y, m, d);
    ok = true;
done:
    if (evidence)
        *evidence = ev;
    return ok;
}

/* ---- exact decimals ------------------------------------------------- */

bool rules_parse_decimal(const char *p, size_t n, int scale, int64_t *out, bool *rounded)
{
    if (scale < 0 || scale > MAX_SCALE)
        return false;
    const char *s = p, *end = p + n;
    bool neg = false;
    if (s < end && (*s == '+' || *s == '-')) {
        neg = *s == '-';
        s++;
    }
    const char *start = s;
    while (s < end && *s == '0') /* leading zeros never count against the cap */
        s++;
    /* The integer part must stay below 10^(18 - scale): at most that many
     * significant digits, checked before each multiply so nothing overflows. */
    unsigned cap = (unsigned)(MAX_SCALE - scale), len = 0, d;
    uint64_t ip = 0;
    while (s < end && (d = digit(*s)) <= 9) {
        if (++len > cap)
            return false;
        ip = ip * 10 + d;
        s++;
    }
    bool any_digit = s > start;
    uint64_t fp = 0;
    unsigned kept = 0, round_digit = 0;
    bool dropped = false;
    if (s < end && *s == '.') {
        s++;
        const char *fstart = s;
        while (s < end && kept < (unsigned)scale && (d = digit(*s)) <= 9) {
            fp = fp * 10 + d;
            kept++;
            s++;
        }
        if (s < end && (round_digit = digit(*s)) <= 9) {
            /* Half away from zero needs only the first dropped digit (>= 5
             * means the dropped part is >= one half); the rest must still be
             * digits. */
            dropped = true;
            s++;
            while (s < end && digit(*s) <= 9)
                s++;
        } else {
            round_digit = 0;
        }
        any_digit |= s > fstart;
    }
    if (!any_digit || s != end)
        return false;
    uint64_t v = ip * (uint64_t)pow10_tab[scale] + fp * (uint64_t)pow10_tab[scale - (int)kept] +
                 (round_digit >= 5);
    if (v >= (uint64_t)DEC_LIMIT)
        return false;
    *out = neg ? -(int64_t)v : (int64_t)v;
    if (rounded)
        *rounded = dropped;
    return true;
}

bool rules_parse_int32(const char *p, size_t n, int32_t *out)
{
    const char *s = p, *end = p + n;
    bool neg = false;
    if (s < end && (*s == '+' || *s == '-')) {
        neg = *s == '-';
        s++;
    }
    const char *start = s;
    while (s < end && *s == '0')
        s++;
    uint64_t v = 0;
    unsigned len = 0, d;
    while (s < end && (d = digit(*s)) <= 9) {
        if (++len > 10) /* 10 digits hold any int32; more never fit */
            return false;
        v = v * 10 + d;
        s++;
    }
    if (s == start || s != end || v > (uint64_t)INT32_MAX + neg)
        return false;
    *out = neg ? (int32_t)(0 - (int64_t)v) : (int32_t)v;
    return true;
}

bool rules_div_round(__int128 num, __int128 den, int64_t limit, int64_t *out)
{
    if (den == 0 || limit <= 0)
        return false;
    /* Magnitudes as unsigned so even the most negative __int128 is exact. */
    unsigned __int128 un = num < 0 ? -(unsigned __int128)num : (unsigned __int128)num;
    unsigned __int128 ud = den < 0 ? -(unsigned __int128)den : (unsigned __int128)den;
    unsigned __int128 q;
    if ((uint64_t)(un >> 64) == 0 && (uint64_t)(ud >> 64) == 0) {
        /* Every row's operands fit 64 bits but the margin's of huge profits:
         * a 64-bit divide is several times cheaper than a 128-bit one. */
        uint64_t n64 = (uint64_t)un, d64 = (uint64_t)ud, r64 = n64 % d64;
        q = n64 / d64 + (r64 >= d64 - r64); /* 2r >= d without overflowing 2r */
    } else {
        unsigned __int128 r = un % ud;
        q = un / ud + (r >= ud - r);
    }
    if (q >= (unsigned __int128)limit)
        return false;
    *out = (num < 0) != (den < 0) ? -(int64_t)q : (int64_t)q;
    return true;
}

/* ---- one row -------------------------------------------------------- */

/* Empty after trimming SPEC §4's spaces and tabs. */
static inline bool blank(rules_text t)
{
    for (size_t i = 0; i < t.n; i++)
        if (t.p[i] != ' ' && t.p[i] != '\t')
            return false;
    return true;
}

rules_reason rules_check(const rules_ctx *ctx, const rules_input *in, rules_row *row,
                         rules_date_order evidence[2])
{
    rules_row r;
    rules_date_order ev[2];
    rules_date_order order = ctx->order;
    /* Both dates are parsed before any verdict: the caller needs both
     * fields' evidence even from rows rejected for an earlier field. */
    bool order_ok = rules_parse_date(in->order_date.p, in->order_date.n, order,
                                     &r.order_date, &ev[0]);
    bool ship_ok = rules_parse_date(in->ship_date.p, in->ship_date.n, order,
                                    &r.ship_date, &ev[1]);
    if (evidence) {
        evidence[0] = ev[0];
        evidence[1] = ev[1];
    }
    if (!order_ok)
        return RULES_ORDER_DATE;
    if (!ship_ok)
        return RULES_SHIP_DATE;
    if (blank(in->product_id))
        return RULES_PRODUCT_ID;
    if (!rules_parse_int32(in->quantity.p, in->quantity.n, &r.quantity) || r.quantity <= 0)
        return RULES_QUANTITY;
    if (!rules_parse_decimal(in->sales.p, in->sales.n, 4, &r.sales, &r.sales_rounded) ||
        r.sales <= 0)
        return RULES_SALES;
    if (r.sales > ctx->threshold)
        return RULES_THRESHOLD;
    if (!rules_parse_decimal(in->profit.p, in->profit.n, 4, &r.profit, &r.profit_rounded))
        return RULES_PROFIT;
    /* Scale 4 in, scale 2 out: sales4 / (quantity * 100) and
     * profit4 * 100 / sales4, each rounded once from the exact quotient.
     * unit_price cannot exceed sales, so only the margin can overflow. */
    if (!rules_div_round(r.sales, (__int128)r.quantity * 100, DEC_LIMIT, &r.unit_price) ||
        !rules_div_round((__int128)r.profit * 100, r.sales, DEC_LIMIT, &r.profit_margin))
        return RULES_PROFIT;
    if (row)
        *row = r;
    return RULES_KEPT;
}
