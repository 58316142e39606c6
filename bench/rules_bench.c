/* rules_bench.c — cost of the data contract per row (build/bench_rules_bench
 * [calls]): rules_check over a pool of 4096 Superstore-shaped rows (varied
 * date forms, 1–4 fractional digits, 5% rejects of every kind), 10M calls by
 * default. Rows are built before timing, so only rules_check is measured.
 * A benchmark, not a test: it never asserts on time. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/rules/rules.h"

#define POOL 4096
#define FIELD 40

static char text[POOL][7][FIELD];
static rules_input rows[POOL];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* snprintf into row `row`, column `col` of the pool, as a view. */
#define SET(row, col, ...) \
    ((rules_text){text[row][col], (size_t)snprintf(text[row][col], FIELD, __VA_ARGS__)})

static void build_pool(void)
{
    /* one row per reject reason rules_check decides (fields in rules_input order) */
    static const struct bad_field {
        int field;
        const char *text;
    } bad[] = {{0, "2/30/2020"}, {1, ""}, {2, ""}, {4, "0"}, {5, "1e5"}, {5, "20000"}, {6, "--1"}};
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < POOL; i++) {
        uint64_t h = next(&x);
        unsigned y = 2014 + (unsigned)(h % 6), m = 1 + (unsigned)(h >> 8) % 12,
                 d = 1 + (unsigned)(h >> 16) % 28;
        rules_input *r = &rows[i];
        /* month-first dates, with or without leading zeros */
        r->order_date = (h >> 24) & 1 ? SET(i, 0, "%u/%u/%u", m, d, y)
                                      : SET(i, 0, "%02u/%02u/%u", m, d, y);
        r->ship_date = SET(i, 1, "%u/%u/%u", m, d + (unsigned)(h >> 25) % 4, y);
        r->product_id = SET(i, 2, "OFF-PA-1000%04u", (unsigned)(h >> 28) % 10000);
        r->category = SET(i, 3, "Office Supplies");
        r->quantity = SET(i, 4, "%u", 1 + (unsigned)(h >> 32) % 14);
        unsigned cents = 100 + (unsigned)(h >> 36) % 900000;
        switch ((h >> 56) & 3) { /* 2, 3 (a trailing zero), 4 and 1 fractional digits */
        case 0: r->sales = SET(i, 5, "%u.%02u", cents / 100, cents % 100); break;
        case 1: r->sales = SET(i, 5, "%u.%02u0", cents / 100, cents % 100); break;
        case 2: r->sales = SET(i, 5, "%u.%02u96", cents / 100, cents % 100); break;
        default: r->sales = SET(i, 5, "%u.%u", cents / 100, cents % 10); break;
        }
        unsigned p = (unsigned)(h >> 40) % 300000;
        r->profit = (h >> 58) & 1 ? SET(i, 6, "-%u.%04u", p / 10000, p % 10000)
                                  : SET(i, 6, "%u.%04u", p / 10000, p % 10000);
        if ((h >> 60) == 0) { /* 1 in 16 rows gets one bad field: ~6% rejected */
            const struct bad_field *bf = &bad[(h >> 44) % (sizeof bad / sizeof bad[0])];
            rules_text *f[] = {&r->order_date, &r->ship_date, &r->product_id, &r->category,
                               &r->quantity, &r->sales, &r->profit};
            *f[bf->field] = (rules_text){bf->text, strlen(bf->text)};
        }
    }
}

int main(int argc, char **argv)
{
    long long calls = argc > 1 ? atoll(argv[1]) : 10000000;
    build_pool();
    rules_ctx ctx = {RULES_MDY, 100000000};
    int64_t counts[RULES_NREASONS] = {0};
    int64_t sink = 0;
    rules_row row = {0};
    /* warm the caches and the branch predictors */
    for (int i = 0; i < POOL; i++)
        counts[rules_check(&ctx, &rows[i], &row, NULL)]++;
    memset(counts, 0, sizeof counts);
    double t0 = now();
    for (long long i = 0; i < calls; i++) {
        rules_date_order ev[2];
        rules_reason r = rules_check(&ctx, &rows[i & (POOL - 1)], &row, ev);
        counts[r]++;
        sink += row.unit_price + ev[0];
    }
    double t = now() - t0;
    printf("rules_check: %lld calls in %.3f s: %.1f ns/row (%.1f M rows/s)\n", calls, t,
           t * 1e9 / (double)calls, (double)calls / t / 1e6);
    for (int r = 0; r < RULES_NREASONS; r++)
        if (counts[r])
            printf("  %-10s %" PRId64 "\n", rules_reason_name((rules_reason)r), counts[r]);
    printf("RESULT ns_per_row=%.2f sink=%" PRId64 "\n", t * 1e9 / (double)calls, sink);
    return 0;
}
