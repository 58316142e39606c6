/* fuzz_rules.c — libFuzzer target for the data contract (src/rules/rules.c),
 * built and run by scripts/fuzz.sh (`make fuzz`). The whole input goes to the
 * date, decimal and int32 parsers under every order and scale; then it is
 * split into 7 fields on its first byte and checked as a row. Properties: a
 * parsed decimal formats and re-parses to itself, a parsed date is a valid
 * civil date that re-parses from its ISO text, a kept row obeys every rule.
 * The parsers must never read past their view, overflow or crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/rules/rules.h"
#include "../../src/util/date.h"
#include "../../src/util/decimal.h"

/* The views handed to the parsers are exact-size heap copies, so ASan flags
 * any read past n (libFuzzer's own buffer may be followed by slack). */
static char *copy(const uint8_t *p, size_t n)
{
    char *c = malloc(n ? n : 1);
    if (c && n)
        memcpy(c, p, n);
    return c;
}

static void check_date(const char *p, size_t n)
{
    for (int o = RULES_ORDER_AUTO; o <= RULES_YMD; o++) {
        int32_t days;
        rules_date_order ev = (rules_date_order)99;
        bool ok = rules_parse_date(p, n, (rules_date_order)o, &days, &ev);
        if (ev != RULES_ORDER_AUTO && ev != RULES_MDY && ev != RULES_DMY)
            abort();
        if (!ok)
            continue;
        int64_t y;
        unsigned m, d;
        sp_civil_from_days(days, &y, &m, &d);
        if (y < 1 || y > 9999 || !sp_date_valid(y, m, d))
            abort();
        /* The same day, written year first, parses under every order. */
        char iso[16];
        int len = sp_date_format(days, iso);
        for (int o2 = RULES_ORDER_AUTO; o2 <= RULES_YMD; o2++) {
            int32_t again;
            if (!rules_parse_date(iso, (size_t)len, (rules_date_order)o2, &again, NULL) ||
                again != days)
                abort();
        }
    }
}

static void check_decimal(const char *p, size_t n)
{
    static const int scales[] = {0, 2, 4, 18};
    for (size_t i = 0; i < sizeof scales / sizeof scales[0]; i++) {
        int64_t v;
        bool rounded;
        if (!rules_parse_decimal(p, n, scales[i], &v, &rounded))
            continue;
        if (v <= -1000000000000000000LL || v >= 1000000000000000000LL)
            abort();
        char out[24];
        int len = sp_decimal_format(v, scales[i], out);
        int64_t back;
        bool again;
        if (len <= 0 || len >= 24 || (size_t)len != strlen(out) ||
            !rules_parse_decimal(out, (size_t)len, scales[i], &back, &again) || back != v ||
            again)
            abort();
    }
    int32_t q;
    int64_t v;
    if (rules_parse_int32(p, n, &q) &&
        (!rules_parse_decimal(p, n, 0, &v, NULL) || v != q))
        abort(); /* every int32 is also a scale-0 decimal of the same value */
}

static void check_row(const uint8_t *data, size_t size)
{
    if (size < 1)
        return;
    /* first byte: separator; the rest: 7 fields (missing ones empty) */
    uint8_t sep = data[0];
    rules_text f[7] = {{0}};
    const char *base = (const char *)data + 1;
    size_t n = size - 1, start = 0;
    int k = 0;
    for (size_t i = 0; i <= n && k < 7; i++) {
        if (i == n || (uint8_t)base[i] == sep) {
            f[k].p = base + start;
            f[k].n = i - start;
            k++;
            start = i + 1;
        }
    }
    for (; k < 7; k++)
        f[k].p = base + n, f[k].n = 0;
    rules_input in = {f[0], f[1], f[2], f[3], f[4], f[5], f[6]};
    for (int o = RULES_ORDER_AUTO; o <= RULES_YMD; o++) {
        rules_ctx ctx = {(rules_date_order)o, 100000000};
        rules_row row;
        rules_date_order ev[2];
        rules_reason r = rules_check(&ctx, &in, &row, ev);
        if (r == RULES_MALFORMED || r >= RULES_NREASONS)
            abort();
        if (r != RULES_KEPT)
            continue;
        if (row.quantity <= 0 || row.sales <= 0 || row.sales > ctx.threshold ||
            row.unit_price < 0 || row.unit_price >= 1000000000000000000LL ||
            row.profit_margin <= -1000000000000000000LL ||
            row.profit_margin >= 1000000000000000000LL)
            abort();
        int64_t up;
        if (!rules_div_round(row.sales, (__int128)row.quantity * 100, INT64_MAX, &up) ||
            up != row.unit_price)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *p = copy(data, size);
    if (!p)
        return 0;
    check_date(p, size);
    check_decimal(p, size);
    check_row((const uint8_t *)p, size); /* the parsers never write: the same copy serves */
    free(p);
    return 0;
}
