/* csv_bench.c — throughput of the streaming CSV reader (build/bench_csv_bench).
 * Writes ~200 MB of Superstore-shaped CSV (21 columns, quoted product names,
 * some with commas or doubled quotes) to a temporary file, then reads it
 * with csv_next and touches every field; prints MB/s and records/s per
 * encoding. A benchmark, not a test: it only checks the record count.
 * Usage: bench_csv_bench [MB] (default 200). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../src/csv/csv.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *ship_modes[] = {"Second Class", "Standard Class", "First Class", "Same Day"};
static const char *names[] = {"Claire Gute", "Darrin Van Huff", "Sean O'Donnell", "Brosina Hoffman",
                              "Andrew Allen", "Irene Maddox", "Harold Pawlan", "Pete Kriz"};
static const char *segments[] = {"Consumer", "Corporate", "Home Office"};
static const char *cities[][2] = {{"Henderson", "Kentucky"}, {"Los Angeles", "California"},
                                  {"Fort Lauderdale", "Florida"}, {"Concord", "North Carolina"},
                                  {"Seattle", "Washington"}, {"Fort Worth", "Texas"}};
static const char *regions[] = {"South", "West", "East", "Central"};
static const char *cats[][3] = {{"FUR", "Furniture", "Bookcases"}, {"FUR", "Furniture", "Chairs"},
                                {"OFF", "Office Supplies", "Labels"}, {"TEC", "Technology", "Phones"},
                                {"OFF", "Office Supplies", "Binders"}};
static const char *products[] = {
    "\"Bush Somerset Collection Bookcase\"",
    "\"Hon Deluxe Fabric Upholstered Stacking Chairs, Rounded Back\"",
    "\"Self-Adhesive Address Labels for Typewriters by Universal\"",
    "\"Mitel 5320 IP Phone VoIP phone\"",
    "\"DXL Angle-View Binders with Locking Rings by Samsill\"",
    "\"Eldon Expressions Wood Desk Accessories, \"\"Cherry\"\"\"",
};

#define N(a) (sizeof a / sizeof a[0])

static int gen_row(char *out, size_t cap, uint64_t i)
{
    uint64_t h = i * 2654435761u;
    int m = (int)(h % 12) + 1, d = (int)(h / 12 % 28) + 1, y = 2014 + (int)(h / 336 % 4);
    const char *const *c = cities[h % N(cities)];
    const char *const *k = cats[h / 7 % N(cats)];
    long cents = (long)(h % 2000000) + 100;
    return snprintf(out, cap,
                    "%" PRIu64 ",CA-%d-%06" PRIu64 ",%d/%d/%d,%d/%d/%d,%s,%c%c-%05" PRIu64
                    ",%s,%s,United States,%s,%s,%05" PRIu64 ",%s,%s-%.2s-%08" PRIu64
                    ",%s,%s,%s,%ld.%02ld,%d,%.1f,%s%ld.%04ld\n",
                    i + 1, y, h % 1000000, m, d, y, m, d + 3 > 28 ? 28 : d + 3, y,
                    ship_modes[h % N(ship_modes)], 'A' + (int)(h % 26), 'A' + (int)(h / 26 % 26),
                    h % 100000, names[h / 3 % N(names)], segments[h / 5 % N(segments)], c[0], c[1],
                    h % 99999, regions[h / 11 % N(regions)], k[0], k[2], h % 100000000, k[1], k[2],
                    products[h / 13 % N(products)], cents / 100, cents % 100, (int)(h % 14) + 1,
                    (double)(h % 8) / 10.0, h % 5 ? "" : "-", (long)(h % 5000), (long)(h % 10000));
}

static int run(const char *path, csv_encoding enc, uint64_t want_rows, uint64_t bytes)
{
    double best = 1e30;
    uint64_t sum = 0;
    for (int rep = 0; rep < 3; rep++) {
        csv_options opt = {.encoding = enc};
        csv_reader *r;
        sp_error err;
        if (csv_open(&r, path, "bench.csv", &opt, &err) != SP_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        double t0 = now();
        csv_record rec;
        uint64_t rows = 0;
        int rc;
        while ((rc = csv_next(r, &rec, &err)) == SP_OK) {
            rows++;
            for (size_t f = 0; f < rec.nfields; f++)
                sum += rec.fields[f].len + (uint8_t)(rec.fields[f].len ? rec.fields[f].ptr[0] : 0);
        }
        double t = now() - t0;
        csv_close(r);
        if (rc != CSV_END || rows != want_rows) {
            fprintf(stderr, "bench: rc %d (%s), %" PRIu64 " rows, expected %" PRIu64 "\n", rc,
                    rc == CSV_END ? "end" : err.msg, rows, want_rows);
            return 1;
        }
        if (t < best)
            best = t;
    }
    printf("%-14s %8.3f s %10.1f MB/s %12.0f records/s   (checksum %" PRIu64 ")\n",
           csv_encoding_name(enc), best, (double)bytes / 1e6 / best, (double)want_rows / best, sum);
    printf("RESULT encoding=%s mb_s=%.1f records_s=%.0f\n", csv_encoding_name(enc),
           (double)bytes / 1e6 / best, (double)want_rows / best);
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t target = (uint64_t)(argc > 1 ? atof(argv[1]) : 200.0) * 1000000;
    char path[] = "/tmp/csv_bench_XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        perror("csv_bench: temporary file");
        return 1;
    }
    static char chunk[1 << 20];
    size_t used = 0;
    uint64_t bytes = 0, rows = 0;
    used += (size_t)snprintf(chunk, sizeof chunk,
                             "Row ID,Order ID,Order Date,Ship Date,Ship Mode,Customer ID,Customer Name,"
                             "Segment,Country,City,State,Postal Code,Region,Product ID,Category,"
                             "Sub-Category,Product Name,Sales,Quantity,Discount,Profit\n");
    rows++;
    while (bytes + used < target) {
        if (sizeof chunk - used < 1024) {
            fwrite(chunk, 1, used, f);
            bytes += used;
            used = 0;
        }
        used += (size_t)gen_row(chunk + used, sizeof chunk - used, rows - 1);
        rows++;
    }
    fwrite(chunk, 1, used, f);
    bytes += used;
    if (fclose(f) != 0) {
        perror("csv_bench: write");
        unlink(path);
        return 1;
    }
    printf("== CSV reader: %.1f MB, %" PRIu64 " records of 21 fields (page cache, best of 3)\n",
           (double)bytes / 1e6, rows);
    if (getenv("CSV_BENCH_KEEP"))
        printf("file kept: %s\n", path);
    int rc = run(path, CSV_ENC_AUTO, rows, bytes) || run(path, CSV_ENC_UTF8, rows, bytes) ||
             run(path, CSV_ENC_CP1252, rows, bytes);
    if (!getenv("CSV_BENCH_KEEP"))
        unlink(path);
    return rc;
}
