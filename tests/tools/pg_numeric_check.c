/* pg_numeric_check.c — test tool for the PostgreSQL backend's NUMERIC
 * encoder (build/pg_numeric_check, `make tools`; run by tests/postgres).
 * Sends edge and pseudo-random int64 values at every scale 0..18 through a
 * binary COPY built with wh_pg_numeric into a temporary table, reads them
 * back as PostgreSQL's text, and compares with sp_decimal_format: the server
 * is the judge of the wire format. Usage: pg_numeric_check CONNINFO.
 * Never prints the connection string (it may hold a password). */
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/util/decimal.h"
#include "../../src/warehouse/wh_impl.h"

enum { RANDOM_PER_SCALE = 400, MAX_VALUES = 19 * (64 + RANDOM_PER_SCALE) };

static int64_t values[MAX_VALUES];
static int scales[MAX_VALUES];
static size_t nvalues;

static void add(int64_t v, int scale)
{
    if (nvalues < MAX_VALUES) {
        values[nvalues] = v;
        scales[nvalues++] = scale;
    }
}

static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void be32(uint8_t *o, uint32_t v)
{
    o[0] = (uint8_t)(v >> 24), o[1] = (uint8_t)(v >> 16), o[2] = (uint8_t)(v >> 8), o[3] = (uint8_t)v;
}

static int fail(PGconn *c, const char *what)
{
    fprintf(stderr, "pg_numeric_check: %s: %s\n", what, c ? PQerrorMessage(c) : "no connection");
    PQfinish(c);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: pg_numeric_check CONNINFO\n");
        return 2;
    }
    uint64_t seed = 0x9E3779B97F4A7C15u;
    for (int scale = 0; scale <= 18; scale++) {
        static const int64_t EDGES[] = {0, 1, 9, 10, 99, 999, 1000, 9999, 10000, 10001, 99999999,
                                        100000000, 123456789, 1000000000000000000LL,
                                        999999999999999999LL, INT64_MAX};
        for (size_t k = 0; k < sizeof EDGES / sizeof EDGES[0]; k++) {
            add(EDGES[k], scale);
            add(-EDGES[k], scale);
        }
        add(INT64_MIN, scale);
        for (int k = 0; k < RANDOM_PER_SCALE; k++) {
            int64_t v = (int64_t)next_random(&seed);
            int digits = (int)(next_random(&seed) % 19) + 1; /* spread the magnitudes */
            int64_t mod = 1;
            for (int d = 0; d < digits && d < 18; d++)
                mod *= 10;
            add(digits == 19 ? v : v % mod, scale);
        }
    }

    PGconn *c = PQconnectdb(argv[1]);
    if (PQstatus(c) != CONNECTION_OK)
        return fail(c, "cannot connect");
    PGresult *r = PQexec(c, "CREATE TEMP TABLE numeric_check(i int, v numeric)");
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return PQclear(r), fail(c, "create");
    PQclear(r);
    r = PQexec(c, "COPY numeric_check FROM STDIN (FORMAT binary)");
    if (PQresultStatus(r) != PGRES_COPY_IN)
        return PQclear(r), fail(c, "copy");
    PQclear(r);
    static const uint8_t HEADER[19] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xFF, '\r', '\n'};
    if (PQputCopyData(c, (const char *)HEADER, sizeof HEADER) != 1)
        return fail(c, "send");
    for (size_t i = 0; i < nvalues; i++) {
        uint8_t row[2 + 8 + 4 + WH_PG_NUMERIC_MAX];
        row[0] = 0, row[1] = 2;
        be32(row + 2, 4);
        be32(row + 6, (uint32_t)i);
        size_t n = wh_pg_numeric(values[i], scales[i], row + 14);
        be32(row + 10, (uint32_t)n);
        if (PQputCopyData(c, (const char *)row, (int)(14 + n)) != 1)
            return fail(c, "send");
    }
    if (PQputCopyData(c, "\xff\xff", 2) != 1 || PQputCopyEnd(c, NULL) != 1)
        return fail(c, "end copy");
    r = PQgetResult(c);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return fprintf(stderr, "pg_numeric_check: %s", PQresultErrorMessage(r)), PQclear(r),
               fail(c, "copy rejected");
    PQclear(r);
    while ((r = PQgetResult(c)))
        PQclear(r);
    r = PQexec(c, "SELECT i, v::text FROM numeric_check ORDER BY i");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || (size_t)PQntuples(r) != nvalues)
        return PQclear(r), fail(c, "read back");
    size_t bad = 0;
    for (size_t i = 0; i < nvalues; i++) {
        char want[SP_DECIMAL_TEXT_MAX];
        sp_decimal_format(values[i], scales[i], want);
        const char *got = PQgetvalue(r, (int)i, 1);
        if (strcmp(got, want) != 0 && bad++ < 10)
            fprintf(stderr, "value %" PRId64 " scale %d: server reads %s, expected %s\n",
                    values[i], scales[i], got, want);
    }
    PQclear(r);
    PQfinish(c);
    if (bad) {
        fprintf(stderr, "pg_numeric_check: %zu of %zu values differ\n", bad, nvalues);
        return 1;
    }
    printf("%zu values at scales 0..18 read back exactly\n", nvalues);
    return 0;
}
