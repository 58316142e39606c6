/* test_postgres.c — the PostgreSQL backend's binary NUMERIC encoder
 * (wh_pg_numeric) against hand-worked vectors of numeric_recv's format:
 * ndigits, weight, sign, dscale, base-10000 digits. The server-side round
 * trip of every loaded value is tests/postgres/run.sh's job. */
#include "../test.h"
#include "../../src/warehouse/wh_impl.h"

#include <stdint.h>

typedef struct numeric_case {
    int64_t v;
    int scale;
    int ndigits, weight, sign, dscale;
    int digits[12];
} numeric_case;

static int be16(const uint8_t *p)
{
    return (int16_t)(uint16_t)((p[0] << 8) | p[1]);
}

TEST(pg_numeric_vectors)
{
    static const numeric_case CASES[] = {
        {0, 4, 0, 0, 0, 4, {0}},
        {0, 0, 0, 0, 0, 0, {0}},
        {2619600, 4, 2, 0, 0, 4, {261, 9600}},          /* 261.9600 */
        {123456, 4, 2, 0, 0, 4, {12, 3456}},            /* 12.3456 */
        {-123456, 4, 2, 0, 0x4000, 4, {12, 3456}},      /* -12.3456 */
        {12, 4, 1, -1, 0, 4, {12}},                     /* 0.0012 */
        {1, 4, 1, -1, 0, 4, {1}},                       /* 0.0001 */
        {-5, 2, 1, -1, 0x4000, 2, {500}},               /* -0.05 */
        {10000, 0, 1, 1, 0, 0, {1}},                    /* 10000 */
        {100000000, 4, 1, 1, 0, 4, {1}},                /* 10000.0000 */
        {12345678, 2, 3, 1, 0, 2, {12, 3456, 7800}},    /* 123456.78 */
        {-100, 2, 1, 0, 0x4000, 2, {1}},                /* -1.00 */
        {1, 18, 1, -5, 0, 18, {100}},                   /* 1e-18 */
        {INT64_MAX, 0, 5, 4, 0, 0, {922, 3372, 368, 5477, 5807}},
        {INT64_MIN, 0, 5, 4, 0x4000, 0, {922, 3372, 368, 5477, 5808}},
        {INT64_MAX, 18, 6, 0, 0, 18, {9, 2233, 7203, 6854, 7758, 700}},
    };
    for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++) {
        const numeric_case *k = &CASES[c];
        uint8_t out[WH_PG_NUMERIC_MAX];
        size_t n = wh_pg_numeric(k->v, k->scale, out);
        CHECK_INT(n, 8 + 2 * (size_t)k->ndigits);
        CHECK_INT(be16(out), k->ndigits);
        CHECK_INT(be16(out + 2), k->weight);
        CHECK_INT((uint16_t)be16(out + 4), k->sign);
        CHECK_INT(be16(out + 6), k->dscale);
        for (int i = 0; i < k->ndigits && 8 + 2 * (size_t)i < n; i++)
            CHECK_INT(be16(out + 8 + 2 * i), k->digits[i]);
    }
}
