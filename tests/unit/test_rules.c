/* test_rules.c — the SPEC §4 data contract (src/rules) as tables: date
 * formats and order evidence, exact decimals and their rounding, derived
 * values, and every reject reason with first-failing-check-wins rows. Each
 * table is walked by one loop; a failure names the row's index and input. */
#include <stdbool.h>
#include <stdint.h>

#include "../../src/rules/rules.h"
#include "../../src/util/date.h"
#include "../../src/util/decimal.h"
#include "../test.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define AUTO RULES_ORDER_AUTO
#define MDY RULES_MDY
#define DMY RULES_DMY
#define YMD RULES_YMD

/* A digit run far longer than any int64 holds, for the overflow rows. */
#define ZEROS10 "0000000000"
#define ZEROS100 ZEROS10 ZEROS10 ZEROS10 ZEROS10 ZEROS10 ZEROS10 ZEROS10 ZEROS10 ZEROS10 ZEROS10

TEST(test_rules_names)
{
    static const char *const want[RULES_NREASONS] = {
        "kept", "malformed", "order_date", "ship_date", "product_id",
        "quantity", "sales", "threshold", "profit",
    };
    for (int r = 0; r < RULES_NREASONS; r++)
        CHECK_STR(rules_reason_name((rules_reason)r), want[r]);
    static const struct {
        const char *text;
        bool ok;
        rules_date_order order;
    } orders[] = {
        {"auto", true, AUTO}, {"mdy", true, MDY}, {"dmy", true, DMY}, {"ymd", true, YMD},
        {"", false, AUTO},    {"MDY", false, AUTO}, {"md", false, AUTO}, {"mdyx", false, AUTO},
    };
    for (size_t i = 0; i < N(orders); i++) {
        rules_date_order got = AUTO;
        bool ok = rules_date_order_parse(orders[i].text, &got);
        if (ok != orders[i].ok || (ok && got != orders[i].order))
            test_fail_at(__FILE__, __LINE__, "order row %zu \"%s\": ok=%d order=%d", i,
                         orders[i].text, ok, (int)got);
        if (ok)
            CHECK_STR(rules_date_order_name(got), orders[i].text);
    }
}

TEST(test_rules_dates)
{
    static const struct {
        const char *text;
        rules_date_order order;
        bool ok;
        int y, m, d;
        rules_date_order evidence;
    } rows[] = {
        /* M/D/YYYY and MM/DD/YYYY, month first */
        {"1/5/2020", MDY, true, 2020, 1, 5, AUTO},
        {"01/05/2020", MDY, true, 2020, 1, 5, AUTO},
        {"12/31/1999", MDY, true, 1999, 12, 31, MDY},
        {"1-13-2020", MDY, true, 2020, 1, 13, MDY},
        {"2/29/2020", MDY, true, 2020, 2, 29, MDY},    /* leap year */
        {"2/29/2000", MDY, true, 2000, 2, 29, MDY},    /* 400-year leap */
        {"1/5/2020", AUTO, true, 2020, 1, 5, AUTO},    /* AUTO parses as MDY */
        {"1/13/2020", AUTO, true, 2020, 1, 13, MDY},
        /* D/M/YYYY and DD-MM-YYYY, day first */
        {"5/1/2020", DMY, true, 2020, 1, 5, AUTO},
        {"31-12-2020", DMY, true, 2020, 12, 31, DMY},
        {"05-01-2020", DMY, true, 2020, 1, 5, AUTO},
        {"13/1/2020", DMY, true, 2020, 1, 13, DMY},
        {"29/02/2024", DMY, true, 2024, 2, 29, DMY},
        /* year first, whatever the order */
        {"2020-01-05", MDY, true, 2020, 1, 5, AUTO},
        {"2020-1-5", DMY, true, 2020, 1, 5, AUTO},
        {"2020/12/31", AUTO, true, 2020, 12, 31, AUTO},
        {"2020-01-05", YMD, true, 2020, 1, 5, AUTO},
        {"0001-01-01", MDY, true, 1, 1, 1, AUTO},
        {"9999-12-31", YMD, true, 9999, 12, 31, AUTO},
        /* two-digit years as POSIX %y, both sides of the 68/69 pivot */
        {"1/5/68", MDY, true, 2068, 1, 5, AUTO},
        {"1/5/69", MDY, true, 1969, 1, 5, AUTO},
        {"1/5/00", MDY, true, 2000, 1, 5, AUTO},
        {"12/31/99", MDY, true, 1999, 12, 31, MDY},
        {"31-12-99", DMY, true, 1999, 12, 31, DMY},
        {"5/1/68", DMY, true, 2068, 1, 5, AUTO},
        {"68-01-05", YMD, true, 2068, 1, 5, AUTO},
        {"69-01-05", YMD, true, 1969, 1, 5, AUTO},
        {"20-01-05", YMD, true, 2020, 1, 5, DMY},      /* evidence reads the text, not the order */
        {"20-1-5", YMD, true, 2020, 1, 5, AUTO},       /* a 1-digit last part is no year: no D/M shape */
        /* impossible dates; evidence still comes from the numbers */
        {"2/29/2023", MDY, false, 0, 0, 0, MDY},
        {"2/30/2020", MDY, false, 0, 0, 0, MDY},
        {"30/2/2020", DMY, false, 0, 0, 0, DMY},
        {"4/31/2020", MDY, false, 0, 0, 0, MDY},
        {"13/13/2020", MDY, false, 0, 0, 0, AUTO},
        {"13/13/2020", DMY, false, 0, 0, 0, AUTO},
        {"0/1/2020", MDY, false, 0, 0, 0, AUTO},
        {"1/0/2020", MDY, false, 0, 0, 0, AUTO},
        {"13/1/2020", MDY, false, 0, 0, 0, DMY},       /* day-first text under MDY */
        {"1/13/2020", DMY, false, 0, 0, 0, MDY},
        {"32/1/2020", DMY, false, 0, 0, 0, AUTO},
        {"2023-02-29", YMD, false, 0, 0, 0, AUTO},
        {"2020-13-01", MDY, false, 0, 0, 0, AUTO},
        {"2020-00-10", MDY, false, 0, 0, 0, AUTO},
        {"0000-01-01", MDY, false, 0, 0, 0, AUTO},     /* no year 0 */
        {"1/5/0000", MDY, false, 0, 0, 0, AUTO},
        /* shapes that are not dates */
        {"", MDY, false, 0, 0, 0, AUTO},
        {"abc", MDY, false, 0, 0, 0, AUTO},
        {"Jan 5 2020", MDY, false, 0, 0, 0, AUTO},
        {"1/5/2020x", MDY, false, 0, 0, 0, AUTO},
        {"2020-1-5 junk", MDY, false, 0, 0, 0, AUTO},
        {" 1/5/2020", MDY, false, 0, 0, 0, AUTO},
        {"1/5/2020 ", MDY, false, 0, 0, 0, AUTO},
        {"1/5-2020", MDY, false, 0, 0, 0, AUTO},       /* mixed separators */
        {"1.5.2020", MDY, false, 0, 0, 0, AUTO},
        {"1/5", MDY, false, 0, 0, 0, AUTO},
        {"1/5/", MDY, false, 0, 0, 0, AUTO},
        {"1//2020", MDY, false, 0, 0, 0, AUTO},
        {"1/5/202", MDY, false, 0, 0, 0, AUTO},        /* three-digit year */
        {"1/5/2", MDY, false, 0, 0, 0, AUTO},
        {"1/5/20200", MDY, false, 0, 0, 0, AUTO},      /* beyond 9999 */
        {"10000-01-01", MDY, false, 0, 0, 0, AUTO},
        {"001/5/2020", MDY, false, 0, 0, 0, AUTO},
        {"1/005/2020", MDY, false, 0, 0, 0, AUTO},
        {"2020-001-05", MDY, false, 0, 0, 0, AUTO},
        {"2020-01-005", MDY, false, 0, 0, 0, AUTO},
        {"2020-01-2020", MDY, false, 0, 0, 0, AUTO},
        {"-1/5/2020", MDY, false, 0, 0, 0, AUTO},
        {"+1/5/2020", MDY, false, 0, 0, 0, AUTO},
        {"1/5/2020", YMD, false, 0, 0, 0, AUTO},       /* YMD takes year-first only */
        {"13/1/20", YMD, true, 2013, 1, 20, DMY},      /* YMD reads a 2-digit first number as the year */
        {"\xef\xbc\x91/5/2020", MDY, false, 0, 0, 0, AUTO}, /* full-width 1 */
    };
    for (size_t i = 0; i < N(rows); i++) {
        int32_t days = -1;
        rules_date_order ev = (rules_date_order)99;
        bool ok = rules_parse_date(rows[i].text, strlen(rows[i].text), rows[i].order, &days, &ev);
        int64_t want = rows[i].ok ? sp_days_from_civil(rows[i].y, (unsigned)rows[i].m,
                                                       (unsigned)rows[i].d)
                                  : -1;
        if (ok != rows[i].ok || (ok && days != want) || ev != rows[i].evidence)
            test_fail_at(__FILE__, __LINE__,
                         "date row %zu \"%s\" (%s): ok=%d days=%d evidence=%d, expected ok=%d "
                         "days=%lld evidence=%d",
                         i, rows[i].text, rules_date_order_name(rows[i].order), ok, (int)days,
                         (int)ev, rows[i].ok, (long long)want, (int)rows[i].evidence);
        /* evidence may be NULL and must not change the verdict */
        int32_t days2 = -1;
        CHECK(rules_parse_date(rows[i].text, strlen(rows[i].text), rows[i].order, &days2, NULL) ==
              ok);
    }
}

TEST(test_rules_decimals)
{
    static const struct {
        const char *text;
        int scale;
        bool ok;
        int64_t v;
        bool rounded;
    } rows[] = {
        {"3", 4, true, 30000, false},
        {"-12.5", 4, true, -125000, false},
        {"0.125", 4, true, 1250, false},
        {"+4", 4, true, 40000, false},
        {".5", 4, true, 5000, false},
        {"5.", 4, true, 50000, false},
        {"-.5", 4, true, -5000, false},
        {"0", 4, true, 0, false},
        {"-0", 4, true, 0, false},
        {"007.10", 4, true, 71000, false},
        {"1.2345", 4, true, 12345, false},
        /* more than 4 fractional digits: rounded half away from zero */
        {"1.23454", 4, true, 12345, true},
        {"1.23455", 4, true, 12346, true},
        {"-1.23455", 4, true, -12346, true},
        {"-1.23454999", 4, true, -12345, true},
        {"0.00005", 4, true, 1, true},
        {"-0.00005", 4, true, -1, true},
        {"0.00001", 4, true, 0, true},
        {"-0.00001", 4, true, 0, true},
        {"1.00000", 4, true, 10000, true},             /* digits dropped, value unchanged */
        {"0.99995", 4, true, 10000, true},             /* carry into the integer part */
        {"0.125", 2, true, 13, true},
        {"-0.125", 2, true, -13, true},
        {"0.12500001", 2, true, 13, true},
        {"0.12499999", 2, true, 12, true},
        {"0.135", 2, true, 14, true},                  /* not half-even */
        {"2.5", 0, true, 3, true},
        {"-2.5", 0, true, -3, true},
        {"0." ZEROS100 "1", 4, true, 0, true},         /* long fraction */
        {"0.0000" "5" ZEROS100, 4, true, 1, true},
        {ZEROS100 "12.5", 4, true, 125000, false},     /* long leading zeros */
        {"-" ZEROS100 ZEROS100 "1", 4, true, -10000, false},
        /* limits: |v| < 10^18 in scale units */
        {"99999999999999.9999", 4, true, 999999999999999999, false},
        {"-99999999999999.9999", 4, true, -999999999999999999, false},
        {"999999999999999999", 0, true, 999999999999999999, false},
        {"-999999999999999999", 0, true, -999999999999999999, false},
        {"0.999999999999999999", 18, true, 999999999999999999, false},
        {"99999999999999.99994", 4, true, 999999999999999999, true},
        {"99999999999999.99995", 4, false, 0, false},  /* rounds to 10^14 */
        {"100000000000000", 4, false, 0, false},       /* 10^14 at scale 4 = 10^18 */
        {"1000000000000000000", 0, false, 0, false},   /* 10^18 */
        {"-1000000000000000000", 0, false, 0, false},
        {"0.9999999999999999995", 18, false, 0, false},
        {"1", 18, false, 0, false},
        {"1" ZEROS100, 4, false, 0, false},
        {"99999999999999999999999999", 0, false, 0, false},
        /* not plain decimals */
        {"1e5", 4, false, 0, false},
        {"1E5", 4, false, 0, false},
        {"1,000", 4, false, 0, false},
        {"1,5", 4, false, 0, false},
        {"--1", 4, false, 0, false},
        {"+-1", 4, false, 0, false},
        {"-", 4, false, 0, false},
        {"+", 4, false, 0, false},
        {".", 4, false, 0, false},
        {"-.", 4, false, 0, false},
        {"", 4, false, 0, false},
        {" 1", 4, false, 0, false},
        {"1 ", 4, false, 0, false},
        {"0x10", 4, false, 0, false},
        {"1.2.3", 4, false, 0, false},
        {"1..2", 4, false, 0, false},
        {"1.23456x", 4, false, 0, false},              /* junk after dropped digits */
        {"$5", 4, false, 0, false},
        {"5%", 4, false, 0, false},
        {"nan", 4, false, 0, false},
        {"inf", 4, false, 0, false},
        {"\xef\xbc\x91", 4, false, 0, false},          /* full-width 1 */
        {"1", -1, false, 0, false},                    /* scale out of range */
        {"1", 19, false, 0, false},
    };
    for (size_t i = 0; i < N(rows); i++) {
        int64_t v = -7;
        bool rounded = !rows[i].rounded;
        bool ok = rules_parse_decimal(rows[i].text, strlen(rows[i].text), rows[i].scale, &v,
                                      &rounded);
        if (ok != rows[i].ok || (ok && (v != rows[i].v || rounded != rows[i].rounded)))
            test_fail_at(__FILE__, __LINE__,
                         "decimal row %zu \"%.40s\" scale %d: ok=%d v=%lld rounded=%d, expected "
                         "ok=%d v=%lld rounded=%d",
                         i, rows[i].text, rows[i].scale, ok, (long long)v, rounded, rows[i].ok,
                         (long long)rows[i].v, rows[i].rounded);
    }
    /* the view's length is honoured: no NUL needed, bytes past n unread */
    int64_t v;
    CHECK(rules_parse_decimal("12.5junk", 4, 4, &v, NULL));
    CHECK_INT(v, 125000);
}

TEST(test_rules_int32)
{
    static const struct {
        const char *text;
        bool ok;
        int32_t v;
    } rows[] = {
        {"3", true, 3},
        {"+3", true, 3},
        {"007", true, 7},
        {"-5", true, -5},
        {"0", true, 0},
        {"2147483647", true, INT32_MAX},
        {"-2147483648", true, INT32_MIN},
        {ZEROS100 "2147483647", true, INT32_MAX},
        {"2147483648", false, 0},
        {"-2147483649", false, 0},
        {"99999999999", false, 0},
        {"1" ZEROS100, false, 0},
        {"3.0", false, 0},
        {"3.", false, 0},
        {"", false, 0},
        {"-", false, 0},
        {"+", false, 0},
        {" 3", false, 0},
        {"3 ", false, 0},
        {"1e3", false, 0},
        {"1,000", false, 0},
        {"0x10", false, 0},
        {"--3", false, 0},
        {"\xef\xbc\x91", false, 0},
    };
    for (size_t i = 0; i < N(rows); i++) {
        int32_t v = -7;
        bool ok = rules_parse_int32(rows[i].text, strlen(rows[i].text), &v);
        if (ok != rows[i].ok || (ok && v != rows[i].v))
            test_fail_at(__FILE__, __LINE__, "int32 row %zu \"%.40s\": ok=%d v=%d, expected ok=%d v=%d",
                         i, rows[i].text, ok, (int)v, rows[i].ok, (int)rows[i].v);
    }
}

TEST(test_rules_div_round)
{
    static const struct {
        int64_t num, den, limit;
        bool ok;
        int64_t v;
    } rows[] = {
        {125, 1000, 1000, true, 0},                       /* 0.125 → 0 */
        {1250, 100, 1000, true, 13},                      /* 12.5 → 13 */
        {-1250, 100, 1000, true, -13},
        {1250, -100, 1000, true, -13},
        {-1250, -100, 1000, true, 13},
        {1249, 100, 1000, true, 12},
        {-1249, 100, 1000, true, -12},
        {1251, 100, 1000, true, 13},
        {5, 10, 1000, true, 1},                           /* exactly half */
        {-5, 10, 1000, true, -1},
        {4, 10, 1000, true, 0},
        {0, 7, 1000, true, 0},
        {2500, 200, 1000, true, 13},                      /* 0.25 / 2 at scale 2 */
        {7, 3, 1000, true, 2},
        {-7, 3, 1000, true, -2},
        {8, 3, 1000, true, 3},
        {999, 1, 1000, true, 999},
        {1000, 1, 1000, false, 0},                        /* |v| must stay < limit */
        {-1000, 1, 1000, false, 0},
        {1999, 2, 1000, false, 0},                        /* 999.5 rounds to 1000 */
        {1997, 2, 1000, true, 999},                       /* 998.5 → 999 */
        {INT64_MAX, 1, INT64_MAX, false, 0},
        {INT64_MAX - 1, 1, INT64_MAX, true, INT64_MAX - 1},
        {INT64_MIN, 1, INT64_MAX, false, 0},
        {INT64_MIN, -1, INT64_MAX, false, 0},
        {INT64_MIN, INT64_MIN, 1000, true, 1},
        {INT64_MIN, INT64_MAX, 1000, true, -1},
        {INT64_MAX, INT64_MIN, 1000, true, -1},           /* 0.99999… rounds away */
        {1, INT64_MAX, 1000, true, 0},
        {1, 0, 1000, false, 0},                           /* den 0: never a value */
        {1, 2, 0, false, 0},                              /* nothing fits limit 0 */
    };
    for (size_t i = 0; i < N(rows); i++) {
        int64_t v = -7;
        bool ok = rules_div_round(rows[i].num, rows[i].den, rows[i].limit, &v);
        if (ok != rows[i].ok || (ok && v != rows[i].v))
            test_fail_at(__FILE__, __LINE__,
                         "div row %zu %lld/%lld limit %lld: ok=%d v=%lld, expected ok=%d v=%lld",
                         i, (long long)rows[i].num, (long long)rows[i].den,
                         (long long)rows[i].limit, ok, (long long)v, rows[i].ok,
                         (long long)rows[i].v);
    }
    /* wider than int64: the derived-value products rules_check forms */
    int64_t v;
    __int128 big = (__int128)999999999999999999 * 100;
    CHECK(rules_div_round(big, (__int128)999999999999999999 * 100, 10000000000000000LL, &v));
    CHECK_INT(v, 1);
    CHECK(!rules_div_round(big, 1, 10000000000000000LL, &v));
    __int128 most_negative = -(__int128)(((unsigned __int128)1 << 127) - 1) - 1;
    CHECK(rules_div_round(most_negative, most_negative, 10, &v));
    CHECK_INT(v, 1);
    CHECK(!rules_div_round(most_negative, -1, INT64_MAX, &v));
}

TEST(test_rules_format_decimal)
{
    static const struct {
        int64_t v;
        int scale;
        const char *text;
    } rows[] = {
        {0, 4, "0.0000"},
        {-1, 4, "-0.0001"},
        {1, 4, "0.0001"},
        {-1250, 4, "-0.1250"},
        {125000, 4, "12.5000"},
        {13, 2, "0.13"},
        {-13, 2, "-0.13"},
        {-100, 2, "-1.00"},
        {42, 0, "42"},
        {-42, 0, "-42"},
        {0, 0, "0"},
        {999999999999999999, 4, "99999999999999.9999"},
        {-999999999999999999, 4, "-99999999999999.9999"},
        {999999999999999999, 18, "0.999999999999999999"},
        {INT64_MAX, 4, "922337203685477.5807"},
        {INT64_MIN, 4, "-922337203685477.5808"},
        {INT64_MIN, 0, "-9223372036854775808"},
        {INT64_MIN, 18, "-9.223372036854775808"},
    };
    for (size_t i = 0; i < N(rows); i++) {
        char out[24];
        int len = sp_decimal_format(rows[i].v, rows[i].scale, out);
        if (len != (int)strlen(rows[i].text) || strcmp(out, rows[i].text) != 0)
            test_fail_at(__FILE__, __LINE__, "format row %zu %lld scale %d: \"%s\" (%d), expected \"%s\"",
                         i, (long long)rows[i].v, rows[i].scale, out, len, rows[i].text);
    }
}

TEST(test_rules_format_parse_round_trip)
{
    static const int64_t values[] = {
        0, 1, -1, 9, -9, 10, 99, 100, 1250, -1250, 5000, 12345, -12345, 1000000,
        123456789012345678, -123456789012345678, 999999999999999999, -999999999999999999,
        100000000000000000, -100000000000000000, 500000000000000000, INT32_MAX, INT32_MIN,
    };
    static const int scales[] = {0, 2, 4, 9, 18};
    for (size_t s = 0; s < N(scales); s++) {
        for (size_t i = 0; i < N(values); i++) {
            char out[24];
            int len = sp_decimal_format(values[i], scales[s], out);
            int64_t back = -7;
            bool rounded = true;
            bool ok = rules_parse_decimal(out, (size_t)len, scales[s], &back, &rounded);
            if (!ok || back != values[i] || rounded)
                test_fail_at(__FILE__, __LINE__, "round trip %lld scale %d: \"%s\" → ok=%d %lld",
                             (long long)values[i], scales[s], out, ok, (long long)back);
        }
    }
    /* a pseudo-random spread across every magnitude, both signs */
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int64_t v = (int64_t)(x % 999999999999999999ULL) >> (x >> 58);
        if (x & 1)
            v = -v;
        char out[24];
        int len = sp_decimal_format(v, 4, out);
        int64_t back = -7;
        if (!rules_parse_decimal(out, (size_t)len, 4, &back, NULL) || back != v) {
            test_fail_at(__FILE__, __LINE__, "round trip %lld: \"%s\" → %lld", (long long)v, out,
                         (long long)back);
            break;
        }
    }
}

/* One row per case; category is always "Tech" (never checked). */
typedef struct check_row {
    const char *od, *sd, *pid, *qty, *sales, *profit;
    rules_date_order order;
    rules_reason want;
    int64_t unit_price, margin; /* scale 2, kept rows only */
    rules_date_order ev0, ev1;
} check_row;

static const check_row check_rows[] = {
    /* kept, with the derived rounding of SPEC §4 */
    {"1/5/2020", "1/7/2020", "P-1", "2", "0.25", "0", MDY, RULES_KEPT, 13, 0, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "1", "1", "-0.125", MDY, RULES_KEPT, 100, -13, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "1", "1", "0.125", MDY, RULES_KEPT, 100, 13, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "3", "10", "-1", MDY, RULES_KEPT, 333, -10, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "3", "20", "2", MDY, RULES_KEPT, 667, 10, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "2", "0.00005", "0", MDY, RULES_KEPT, 0, 0, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "1", "10000", "0", MDY, RULES_KEPT, 1000000, 0, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "1", "10000.00004", "0", MDY, RULES_KEPT, 1000000, 0, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "2147483647", "5000", "1", MDY, RULES_KEPT, 0, 0, AUTO, AUTO},
    {"13/1/2020", "25-12-2020", "P-1", "4", "261.96", "41.9136", DMY, RULES_KEPT, 6549, 16, DMY, DMY},
    {"2020-01-05", "2020/01/07", "P-1", "1", "1", "0", YMD, RULES_KEPT, 100, 0, AUTO, AUTO},
    {"20-01-05", "20-01-07", "P-1", "1", "1", "0", YMD, RULES_KEPT, 100, 0, DMY, DMY},
    {"1/13/2020", "1/15/2020", "P-1", "1", "1", "0", AUTO, RULES_KEPT, 100, 0, MDY, MDY},
    {"2020-01-05", "1/7/2020", "P-1", "1", "1", "0", DMY, RULES_KEPT, 100, 0, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", " P ", "1", "1", "0", MDY, RULES_KEPT, 100, 0, AUTO, AUTO},
    /* DECIMAL(18,2) holds up to 9999999999999999.99: margin2 = profit4 * 100
     * / sales4 must stay below 10^18 (scale-2 units) */
    {"1/5/2020", "1/7/2020", "P-1", "1", "0.0001", "9999999999.9999", MDY, RULES_KEPT, 0,
     9999999999999900, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "1", "0.0001", "10000000000", MDY, RULES_KEPT, 0,
     10000000000000000, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "1", "0.0001", "-10000000000", MDY, RULES_KEPT, 0,
     -10000000000000000, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "1", "0.02", "1999999999999.9999", MDY, RULES_KEPT, 2,
     10000000000000000, AUTO, AUTO}, /* 9999999999999999.5 rounds up */
    {"1/5/2020", "1/7/2020", "P-1", "1", "0.02", "1999999999999.9997", MDY, RULES_KEPT, 2,
     9999999999999999, AUTO, AUTO}, /* 9999999999999998.5 rounds up */
    {"1/5/2020", "1/7/2020", "P-1", "1", "0.0001", "999999999999.9999", MDY, RULES_KEPT, 0,
     999999999999999900, AUTO, AUTO}, /* 9999999999999999.00: the largest that fits */
    {"1/5/2020", "1/7/2020", "P-1", "1", "0.0003", "2999999999999.9999", MDY, RULES_KEPT, 0,
     999999999999999967, AUTO, AUTO}, /* …966.67 rounds to …967 */
    {"1/5/2020", "1/7/2020", "P-1", "1", "0.0001", "1000000000000", MDY, RULES_PROFIT, 0, 0, AUTO,
     AUTO}, /* 10^16 does not fit */
    {"1/5/2020", "1/7/2020", "P-1", "1", "0.0003", "3000000000000", MDY, RULES_PROFIT, 0, 0, AUTO,
     AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "1", "0.0001", "-1000000000000", MDY, RULES_PROFIT, 0, 0, AUTO,
     AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "1", "0.0001", "99999999999999.9999", MDY, RULES_PROFIT, 0, 0, AUTO,
     AUTO},
    /* order_date: first failing check wins over every later bad field */
    {"", "1/7/2020", "P-1", "1", "1", "0", MDY, RULES_ORDER_DATE, 0, 0, AUTO, AUTO},
    {"2/30/2020", "1/7/2020", "P-1", "1", "1", "0", MDY, RULES_ORDER_DATE, 0, 0, MDY, AUTO},
    {"13/1/2020", "1/13/2020", "P-1", "1", "1", "0", MDY, RULES_ORDER_DATE, 0, 0, DMY, MDY},
    {"junk", "junk", "", "0", "-1", "x", MDY, RULES_ORDER_DATE, 0, 0, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "1", "1", "0", YMD, RULES_ORDER_DATE, 0, 0, AUTO, AUTO},
    /* ship_date */
    {"1/5/2020", "", "P-1", "1", "1", "0", MDY, RULES_SHIP_DATE, 0, 0, AUTO, AUTO},
    {"1/5/2020", "2/29/2023", "P-1", "1", "1", "0", MDY, RULES_SHIP_DATE, 0, 0, AUTO, MDY},
    {"5/1/2020", "1/13/2020", "", "0", "-1", "x", DMY, RULES_SHIP_DATE, 0, 0, AUTO, MDY},
    /* product_id: empty or only spaces and tabs */
    {"1/5/2020", "1/7/2020", "", "1", "1", "0", MDY, RULES_PRODUCT_ID, 0, 0, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", " \t ", "1", "1", "0", MDY, RULES_PRODUCT_ID, 0, 0, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", "", "0", "0", "x", MDY, RULES_PRODUCT_ID, 0, 0, AUTO, AUTO},
    /* quantity: an int32 above zero */
    {"1/5/2020", "1/7/2020", "P-1", "0", "1", "0", MDY, RULES_QUANTITY, 0, 0, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "-1", "1", "0", MDY, RULES_QUANTITY, 0, 0, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "1.5", "1", "0", MDY, RULES_QUANTITY, 0, 0, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "2.0", "1", "0", MDY, RULES_QUANTITY, 0, 0, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "2147483648", "1", "0", MDY, RULES_QUANTITY, 0, 0, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "", "1", "0", MDY, RULES_QUANTITY, 0, 0, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "two", "-5", "x", MDY, RULES_QUANTITY, 0, 0, AUTO, AUTO},
    /* sales: a decimal above zero after rounding */
    {"1/5/2020", "1/7/2020", "P-1", "1", "0", "0", MDY, RULES_SALES, 0, 0, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "1", "-1", "0", MDY, RULES_SALES, 0, 0, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "1", "0.00001", "0", MDY, RULES_SALES, 0, 0, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "1", "1e5", "0", MDY, RULES_SALES, 0, 0, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "1", "1,000", "0", MDY, RULES_SALES, 0, 0, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "1", "", "0", MDY, RULES_SALES, 0, 0, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "1", "100000000000000", "0", MDY, RULES_SALES, 0, 0, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "1", "abc", "x", MDY, RULES_SALES, 0, 0, AUTO, AUTO},
    /* threshold: sales above SALES_THRESHOLD (10000 in this table) */
    {"1/5/2020", "1/7/2020", "P-1", "1", "10000.0001", "0", MDY, RULES_THRESHOLD, 0, 0, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "1", "10000.00005", "0", MDY, RULES_THRESHOLD, 0, 0, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "1", "99999999999999.9999", "x", MDY, RULES_THRESHOLD, 0, 0, AUTO,
     AUTO},
    /* profit: any sign, but a decimal */
    {"1/5/2020", "1/7/2020", "P-1", "1", "1", "", MDY, RULES_PROFIT, 0, 0, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "1", "1", "abc", MDY, RULES_PROFIT, 0, 0, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "1", "1", "--1", MDY, RULES_PROFIT, 0, 0, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "1", "1", "1e5", MDY, RULES_PROFIT, 0, 0, AUTO, AUTO},
    {"1/5/2020", "1/7/2020", "P-1", "1", "1", "100000000000000", MDY, RULES_PROFIT, 0, 0, AUTO, AUTO},
};

static rules_text view(const char *s)
{
    return (rules_text){s, strlen(s)};
}

TEST(test_rules_check_reasons_in_order)
{
    int seen[RULES_NREASONS] = {0};
    for (size_t i = 0; i < N(check_rows); i++) {
        const check_row *c = &check_rows[i];
        rules_ctx ctx = {c->order, 100000000}; /* 10000.0000 */
        rules_input in = {view(c->od), view(c->sd), view(c->pid), view("Tech"),
                          view(c->sales), view(c->qty), view(c->profit)};
        rules_row row;
        memset(&row, 0xab, sizeof row);
        rules_date_order ev[2] = {(rules_date_order)99, (rules_date_order)99};
        rules_reason got = rules_check(&ctx, &in, &row, ev);
        seen[got]++;
        bool bad = got != c->want || ev[0] != c->ev0 || ev[1] != c->ev1;
        if (got == RULES_KEPT && c->want == RULES_KEPT)
            bad |= row.unit_price != c->unit_price || row.profit_margin != c->margin;
        if (bad)
            test_fail_at(__FILE__, __LINE__,
                         "check row %zu (%s|%s|%s|%s|%s|%s, %s): %s unit_price=%lld margin=%lld "
                         "ev=%d,%d; expected %s %lld %lld ev=%d,%d",
                         i, c->od, c->sd, c->pid, c->qty, c->sales, c->profit,
                         rules_date_order_name(c->order), rules_reason_name(got),
                         (long long)row.unit_price, (long long)row.profit_margin, (int)ev[0],
                         (int)ev[1], rules_reason_name(c->want), (long long)c->unit_price,
                         (long long)c->margin, (int)c->ev0, (int)c->ev1);
        /* a rejected row leaves *row untouched */
        rules_row untouched;
        memset(&untouched, 0xab, sizeof untouched);
        if (got != RULES_KEPT && memcmp(&row, &untouched, sizeof row) != 0)
            test_fail_at(__FILE__, __LINE__, "check row %zu: *row written on reject", i);
        /* NULL evidence or NULL row changes nothing */
        CHECK(rules_check(&ctx, &in, &row, NULL) == got);
        CHECK(rules_check(&ctx, &in, NULL, ev) == got);
    }
    /* every reason rules_check decides appears in the table */
    for (int r = 0; r < RULES_NREASONS; r++)
        if (r != RULES_MALFORMED && seen[r] == 0)
            test_fail_at(__FILE__, __LINE__, "no row ends as %s", rules_reason_name((rules_reason)r));
}

TEST(test_rules_check_kept_row_values)
{
    rules_ctx ctx = {RULES_MDY, 100000000};
    rules_input in = {view("11/8/2016"), view("11/11/2016"), view("FUR-BO-10001798"),
                      view("Furniture"), view("261.96"), view("2"), view("41.913649")};
    rules_row row;
    REQUIRE(rules_check(&ctx, &in, &row, NULL) == RULES_KEPT);
    CHECK_INT(row.order_date, sp_days_from_civil(2016, 11, 8));
    CHECK_INT(row.ship_date, sp_days_from_civil(2016, 11, 11));
    CHECK_INT(row.quantity, 2);
    CHECK_INT(row.sales, 2619600);
    CHECK_INT(row.profit, 419136);
    CHECK(!row.sales_rounded);
    CHECK(row.profit_rounded);
    CHECK_INT(row.unit_price, 13098);   /* 130.98 */
    CHECK_INT(row.profit_margin, 16);   /* 0.16 */
}
