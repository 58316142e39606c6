/* test_parquet_faults.c — "fail everything in turn" for the Parquet codec.
 * Writer: the file system refuses to grow the file past N bytes (RLIMIT_FSIZE,
 * a real EFBIG from write(2)) for every N up to the file's size: each close
 * must fail with a message naming the file, and leave no file at all.
 * Reader: every truncation and many byte flips of a valid file must give a
 * clean error or valid values, never a crash (this suite also runs under
 * ASan/UBSan). */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "../../src/parquet/parquet.h"
#include "../test.h"

#define ROWS 300

static const pq_column_spec COLS[] = {
    {.name = "day", .physical = PQ_INT32, .logical = PQ_LOGICAL_DATE},
    {.name = "product_id", .physical = PQ_BYTE_ARRAY, .logical = PQ_LOGICAL_STRING, .optional = true},
    {.name = "total_sales", .physical = PQ_INT64, .logical = PQ_LOGICAL_DECIMAL, .precision = 18, .scale = 4},
};
#define NCOLS (sizeof COLS / sizeof COLS[0])

/* Write ROWS rows in two batches; returns the status of the first failure. */
static int write_file(const char *path, pq_codec codec, size_t rg_rows, sp_error *err)
{
    static int32_t day[ROWS];
    static int64_t amount[ROWS];
    static uint8_t valid[ROWS];
    static uint32_t off[ROWS + 1];
    static char bytes[ROWS * 16];
    off[0] = 0;
    for (int i = 0; i < ROWS; i++) {
        day[i] = 18000 + i / 7;
        amount[i] = (int64_t)i * 12345 - 99999;
        valid[i] = i % 11 != 0;
        int n = snprintf(bytes + off[i], 16, "OFF-%05d", (i * 37) % 53);
        off[i + 1] = off[i] + (uint32_t)n;
    }
    pq_writer_options opt;
    pq_writer_options_default(&opt);
    opt.codec = codec;
    opt.row_group_rows = rg_rows;
    opt.page_bytes = 256;
    pq_writer *w = NULL;
    SP_TRY(pq_writer_open(&w, path, COLS, NCOLS, &opt, err));
    for (size_t first = 0; first < ROWS; first += ROWS / 2) {
        pq_values v[NCOLS] = {
            {.n = ROWS / 2, .values = day + first},
            {.n = ROWS / 2, .valid = valid + first, .offsets = off + first, .bytes = (uint8_t *)bytes},
            {.n = ROWS / 2, .values = amount + first},
        };
        int rc = pq_writer_write(w, v, err);
        if (rc != SP_OK) {
            pq_writer_abort(w);
            return rc;
        }
    }
    return pq_writer_close(w, err);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

TEST(parquet_writer_every_write_failure_leaves_nothing)
{
    const char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/fact.parquet", dir);
    sp_error err;
    REQUIRE(write_file(path, PQ_UNCOMPRESSED, 100, &err) == SP_OK);
    struct stat st;
    REQUIRE(stat(path, &st) == 0);
    long long size = st.st_size;
    REQUIRE(remove(path) == 0);

    struct rlimit old;
    REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN); /* get EFBIG, not a signal */
    int checked = 0, bad = 0;
    /* Every limit below the size must fail: step 1 byte near the edges,
     * coarser in the middle to keep the test quick. */
    for (long long lim = 0; lim < size && bad < 3; lim += (lim < 64 || lim > size - 64) ? 1 : 7) {
        struct rlimit r = {.rlim_cur = (rlim_t)lim, .rlim_max = old.rlim_max};
        if (setrlimit(RLIMIT_FSIZE, &r) != 0)
            break;
        sp_error_clear(&err);
        int rc = write_file(path, PQ_UNCOMPRESSED, 100, &err);
        setrlimit(RLIMIT_FSIZE, &old);
        checked++;
        if (rc == SP_OK || !strstr(err.msg, "fact.parquet") || count_entries(dir) != 0) {
            test_fail_at(__FILE__, __LINE__, "limit %lld of %lld: rc %d, %d files left, msg '%s'",
                         lim, size, rc, count_entries(dir), err.msg);
            bad++;
        }
    }
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    CHECK(checked > 50);
    /* And with the limit lifted the same write succeeds. */
    CHECK_INT(write_file(path, PQ_UNCOMPRESSED, 100, &err), SP_OK);
}

/* Read everything; return the status. Values are touched so ASan sees any
 * out-of-bounds view the reader hands out. */
static int read_all(const char *path, sp_error *err, uint64_t *checksum)
{
    pq_reader *r = NULL;
    SP_TRY(pq_reader_open(&r, path, err));
    pq_reader_set_memory_limit(r, 16u << 20);
    int rc = SP_OK;
    size_t nc = pq_reader_num_columns(r);
    pq_values out[8];
    if (nc > 8)
        nc = 0;
    for (size_t g = 0; g < pq_reader_num_row_groups(r) && nc && rc == SP_OK; g++) {
        rc = pq_reader_read_row_group(r, g, out, err);
        for (size_t c = 0; rc == SP_OK && c < nc; c++) {
            sp_buf b;
            sp_buf_init(&b, 0);
            for (size_t i = 0; i < out[c].n; i++)
                pq_value_text(pq_reader_column(r, c), &out[c], i, &b);
            for (size_t i = 0; i < b.len; i++)
                *checksum = *checksum * 31 + b.data[i];
            sp_buf_free(&b);
        }
    }
    pq_reader_close(r);
    return rc;
}

static long long load(const char *path, uint8_t **data)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *data = malloc((size_t)n);
    if (!*data || fread(*data, 1, (size_t)n, f) != (size_t)n)
        n = -1;
    fclose(f);
    return n;
}

static void save(const char *path, const uint8_t *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

TEST(parquet_reader_every_truncation_is_a_clean_error)
{
    const char *dir = test_tmpdir();
    char good[512], cut[512];
    snprintf(good, sizeof good, "%s/good.parquet", dir);
    snprintf(cut, sizeof cut, "%s/cut.parquet", dir);
    sp_error err;
    uint64_t sum = 0;
    REQUIRE(write_file(good, PQ_ZSTD, 64, &err) == SP_OK);
    REQUIRE(read_all(good, &err, &sum) == SP_OK);
    uint8_t *data = NULL;
    long long n = load(good, &data);
    REQUIRE(n > 0);
    int bad = 0;
    for (long long len = 0; len < n && bad < 3; len++) {
        save(cut, data, (size_t)len);
        sp_error_clear(&err);
        uint64_t s2 = 0;
        int rc = read_all(cut, &err, &s2);
        /* A prefix of a Parquet file loses its footer: it cannot be valid. */
        if (rc == SP_OK || !strstr(err.msg, "cut.parquet")) {
            test_fail_at(__FILE__, __LINE__, "truncated to %lld of %lld: rc %d msg '%s'", len, n,
                         rc, err.msg);
            bad++;
        }
    }
    free(data);
}

TEST(parquet_reader_byte_flips_never_crash)
{
    const char *dir = test_tmpdir();
    char good[512], flip[512];
    snprintf(good, sizeof good, "%s/good.parquet", dir);
    snprintf(flip, sizeof flip, "%s/flip.parquet", dir);
    sp_error err;
    for (int codec = 0; codec < 3; codec++) {
        pq_codec c = codec == 0 ? PQ_UNCOMPRESSED : codec == 1 ? PQ_SNAPPY : PQ_ZSTD;
        REQUIRE(write_file(good, c, 128, &err) == SP_OK);
        uint8_t *data = NULL;
        long long n = load(good, &data);
        REQUIRE(n > 0);
        int errors = 0, oks = 0, unnamed = 0;
        for (long long pos = 0; pos < n; pos += 3) {
            static const uint8_t xors[] = {0x01, 0x80, 0xff};
            uint8_t orig = data[pos];
            data[pos] ^= xors[pos % 3];
            save(flip, data, (size_t)n);
            data[pos] = orig;
            sp_error_clear(&err);
            uint64_t s = 0;
            int rc = read_all(flip, &err, &s);
            if (rc == SP_OK) {
                oks++; /* a flipped value byte is still a valid file */
            } else {
                errors++;
                unnamed += strstr(err.msg, "flip.parquet") == NULL;
            }
        }
        CHECK(errors > 0);
        CHECK(oks > 0);
        CHECK_INT(unnamed, 0);
        free(data);
    }
}
