/* test_parquet_faults.c — "fail everything in turn" for the Parquet codec.
 * Writer: the file system refuses to grow the file past N bytes (RLIMIT_FSIZE,
 * a real EFBIG from write(2)) for every N up to the file's size: each close
 * must fail with a message naming the file, and leave no file at all.
 * Reader: every truncation and many byte flips of a valid file must give a
 * clean error or valid values, never a crash (this suite also runs under
 * ASan/UBSan). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "../test.h"
#include "sample_parquet.h"

TEST(parquet_writer_every_write_failure_leaves_nothing)
{
    const char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/fact.parquet", dir);
    sp_error err;
    REQUIRE(sample_parquet_write(path, PQ_UNCOMPRESSED, 100, 256, &err) == SP_OK);
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
        int rc = sample_parquet_write(path, PQ_UNCOMPRESSED, 100, 256, &err);
        setrlimit(RLIMIT_FSIZE, &old);
        checked++;
        if (rc == SP_OK || !strstr(err.msg, "fact.parquet") || sample_count_files(dir, NULL) != 0) {
            test_fail_at(__FILE__, __LINE__, "limit %lld of %lld: rc %d, %d files left, msg '%s'",
                         lim, size, rc, sample_count_files(dir, NULL), err.msg);
            bad++;
        }
    }
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    CHECK(checked > 50);
    /* And with the limit lifted the same write succeeds. */
    CHECK_INT(sample_parquet_write(path, PQ_UNCOMPRESSED, 100, 256, &err), SP_OK);
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

/* 0 when path now holds exactly data[0..n). */
static int save(const char *path, const uint8_t *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t put = fwrite(data, 1, n, f);
    return fclose(f) == 0 && put == n ? 0 : -1;
}

TEST(parquet_reader_every_truncation_is_a_clean_error)
{
    const char *dir = test_tmpdir();
    char good[512], cut[512];
    snprintf(good, sizeof good, "%s/good.parquet", dir);
    snprintf(cut, sizeof cut, "%s/cut.parquet", dir);
    sp_error err;
    uint64_t sum = 0;
    REQUIRE(sample_parquet_write(good, PQ_ZSTD, 64, 256, &err) == SP_OK);
    REQUIRE(sample_parquet_read(good, &sum, &err) == SP_OK);
    uint8_t *data = NULL;
    long long n = load(good, &data);
    REQUIRE(n > 0);
    int bad = 0;
    for (long long len = 0; len < n && bad < 3; len++) {
        REQUIRE(save(cut, data, (size_t)len) == 0);
        sp_error_clear(&err);
        uint64_t s2 = 0;
        int rc = sample_parquet_read(cut, &s2, &err);
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
        REQUIRE(sample_parquet_write(good, c, 128, 256, &err) == SP_OK);
        uint8_t *data = NULL;
        long long n = load(good, &data);
        REQUIRE(n > 0);
        int errors = 0, oks = 0, unnamed = 0;
        for (long long pos = 0; pos < n; pos += 3) {
            /* pos steps by 3, so pos % 3 would always pick the first mask. */
            static const uint8_t xors[] = {0x01, 0x80, 0xff};
            uint8_t orig = data[pos];
            data[pos] ^= xors[(pos / 3) % 3];
            int saved = save(flip, data, (size_t)n);
            data[pos] = orig;
            REQUIRE(saved == 0);
            sp_error_clear(&err);
            uint64_t s = 0;
            int rc = sample_parquet_read(flip, &s, &err);
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
