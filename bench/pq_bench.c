/* pq_bench.c — throughput of salespipe's Parquet writer and reader
 * (build/bench_pq_bench, run by bench/run.sh via `make bench`).
 * Writes a sales-fact-shaped table (DATE, ~2,000 store ids, INT32 quantity,
 * four DECIMAL(18,4)) with ZSTD, reads it back, prints rows/s and MB/s. The
 * generator is the one bench/run.sh repeats in DuckDB SQL. A benchmark, not a
 * test: it never asserts on time, only on reading back what it wrote. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../src/parquet/parquet.h"

#define BATCH 65536
#define NCOLS 7

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const pq_column_spec cols[NCOLS] = {
    {"sale_date", PQ_INT32, PQ_LOGICAL_DATE, 0, 0, 0, false},
    {"store_id", PQ_BYTE_ARRAY, PQ_LOGICAL_STRING, 0, 0, 0, false},
    {"quantity", PQ_INT32, PQ_LOGICAL_NONE, 0, 0, 0, false},
    {"unit_price", PQ_INT64, PQ_LOGICAL_DECIMAL, 18, 4, 0, false},
    {"gross", PQ_INT64, PQ_LOGICAL_DECIMAL, 18, 4, 0, false},
    {"discount", PQ_INT64, PQ_LOGICAL_DECIMAL, 18, 4, 0, false},
    {"net", PQ_INT64, PQ_LOGICAL_DECIMAL, 18, 4, 0, false},
};

/* Row i of the table. bench/run.sh has the same formulas in SQL; change both. */
typedef struct fact_row {
    int32_t day, quantity;
    int store;
    int64_t unit_price, gross, discount, net;
} fact_row;

static fact_row gen_row(int64_t i)
{
    fact_row r;
    int64_t h = (i * 2654435761LL) % 4294967296LL;
    r.day = 18262 + (int32_t)(i / 5480); /* 2020-01-01 onwards */
    r.store = (int)(h % 2000);
    r.quantity = 1 + (int32_t)((h / 2048) % 50);
    r.unit_price = 5000 + (h * 31 + i) % 9995000;
    r.gross = r.unit_price * r.quantity;
    r.discount = r.gross / 100 * ((h / 7) % 16);
    r.net = r.gross - r.discount;
    return r;
}

typedef struct batch {
    int32_t day[BATCH], quantity[BATCH];
    int64_t amt[4][BATCH];
    uint32_t offsets[BATCH + 1];
    char bytes[BATCH * 8 + 16];
    pq_values v[NCOLS];
} batch;

/* Fill rows first..first+n; returns the raw value bytes (fixed widths plus
 * string bytes) and adds quantity and net to the checksums. */
static size_t fill(batch *b, int64_t first, size_t n, uint64_t *sum_qty, int64_t *sum_net)
{
    size_t raw = 0;
    b->offsets[0] = 0;
    for (size_t k = 0; k < n; k++) {
        fact_row r = gen_row(first + (int64_t)k);
        b->day[k] = r.day;
        b->quantity[k] = r.quantity;
        b->amt[0][k] = r.unit_price;
        b->amt[1][k] = r.gross;
        b->amt[2][k] = r.discount;
        b->amt[3][k] = r.net;
        char tmp[16];
        int len = snprintf(tmp, sizeof tmp, "ST-%05d", r.store);
        memcpy(b->bytes + b->offsets[k], tmp, (size_t)len);
        b->offsets[k + 1] = b->offsets[k] + (uint32_t)len;
        *sum_qty += (uint64_t)r.quantity;
        *sum_net += r.net;
    }
    raw += n * (4 + 4 + 4 * 8) + b->offsets[n];
    const void *vals[NCOLS] = {b->day, NULL, b->quantity, b->amt[0], b->amt[1], b->amt[2], b->amt[3]};
    for (int c = 0; c < NCOLS; c++)
        b->v[c] = (pq_values){n, NULL, vals[c], c == 1 ? b->offsets : NULL,
                              c == 1 ? (const uint8_t *)b->bytes : NULL};
    return raw;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_pq_bench OUT.parquet [ROWS (default 10000000)]\n");
        return 2;
    }
    const char *path = argv[1];
    int64_t rows = argc > 2 ? strtoll(argv[2], NULL, 10) : 10000000;
    batch *b = malloc(sizeof *b);
    if (!b)
        return 1;
    sp_error err;
    sp_error_clear(&err);

    /* ---- write: only codec calls are timed, not the generator ---- */
    pq_writer_options opt;
    pq_writer_options_default(&opt);
    opt.codec = PQ_ZSTD;
    opt.created_by = "salespipe pq_bench";
    uint64_t want_qty = 0;
    int64_t want_net = 0;
    size_t raw = 0;
    double t_write = 0, t0 = now();
    pq_writer *w = NULL;
    if (pq_writer_open(&w, path, cols, NCOLS, &opt, &err) != SP_OK) {
        fprintf(stderr, "pq_bench: %s\n", err.msg);
        return 1;
    }
    t_write += now() - t0;
    for (int64_t first = 0; first < rows; first += BATCH) {
        size_t n = (size_t)(rows - first < BATCH ? rows - first : BATCH);
        raw += fill(b, first, n, &want_qty, &want_net);
        t0 = now();
        if (pq_writer_write(w, b->v, &err) != SP_OK) {
            fprintf(stderr, "pq_bench: write: %s\n", err.msg);
            pq_writer_abort(w);
            return 1;
        }
        t_write += now() - t0;
    }
    t0 = now();
    if (pq_writer_close(w, &err) != SP_OK) {
        fprintf(stderr, "pq_bench: close: %s\n", err.msg);
        return 1;
    }
    t_write += now() - t0;
    struct stat st;
    if (stat(path, &st) != 0) {
        perror(path);
        return 1;
    }

    /* ---- read: open, decode every row group, sum two columns ---- */
    t0 = now();
    pq_reader *r = NULL;
    if (pq_reader_open(&r, path, &err) != SP_OK) {
        fprintf(stderr, "pq_bench: %s\n", err.msg);
        return 1;
    }
    pq_values out[NCOLS];
    uint64_t got_qty = 0;
    int64_t got_net = 0, got_rows = 0;
    size_t nrg = pq_reader_num_row_groups(r);
    for (size_t g = 0; g < nrg; g++) {
        if (pq_reader_read_row_group(r, g, out, &err) != SP_OK) {
            fprintf(stderr, "pq_bench: read: %s\n", err.msg);
            return 1;
        }
        const int32_t *q = out[2].values;
        const int64_t *net = out[6].values;
        for (size_t k = 0; k < out[2].n; k++) {
            got_qty += (uint64_t)q[k];
            got_net += net[k];
        }
        got_rows += (int64_t)out[2].n;
    }
    double t_read = now() - t0;
    pq_reader_close(r);

    double mb = 1e6, fsize = (double)st.st_size;
    printf("salespipe Parquet codec, %" PRId64 " rows x %d columns (DATE, VARCHAR ~2000 distinct, "
           "INT32, 4 x DECIMAL(18,4)), ZSTD level %d (0: default), %zu row groups\n",
           rows, NCOLS, opt.level, nrg);
    printf("raw values %.1f MB, file %.1f MB (%.1f%% of raw)\n\n", (double)raw / mb, fsize / mb,
           100.0 * fsize / (double)raw);
    printf("%-18s %10s %14s %14s %14s\n", "step", "seconds", "rows/s", "file MB/s", "raw MB/s");
    printf("%-18s %10.3f %14.0f %14.1f %14.1f\n", "write (ours)", t_write, (double)rows / t_write,
           fsize / mb / t_write, (double)raw / mb / t_write);
    printf("%-18s %10.3f %14.0f %14.1f %14.1f\n", "read (ours)", t_read, (double)rows / t_read,
           fsize / mb / t_read, (double)raw / mb / t_read);
    /* One line for bench/run.sh to parse. */
    printf("\nRESULT rows=%" PRId64 " write_s=%.6f read_s=%.6f file_bytes=%lld raw_bytes=%zu row_groups=%zu\n",
           rows, t_write, t_read, (long long)st.st_size, raw, nrg);
    free(b);
    if (got_rows != rows || got_qty != want_qty || got_net != want_net) {
        fprintf(stderr, "pq_bench: read back %" PRId64 " rows, sums %" PRIu64 "/%" PRId64
                        ", wrote %" PRId64 " rows, sums %" PRIu64 "/%" PRId64 ": figures are void\n",
                got_rows, got_qty, got_net, rows, want_qty, want_net);
        return 1;
    }
    return 0;
}
