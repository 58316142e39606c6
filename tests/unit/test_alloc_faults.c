/* test_alloc_faults.c — every allocation fails in turn (STYLE habit 9).
 * This file replaces malloc/calloc/realloc for the plain unit-test binary
 * (glibc supports replacing them; the sanitizer build keeps its own, so the
 * file is empty there). Arming the hook makes exactly the Nth allocation
 * from then on return NULL; each codec path must then fail with a message,
 * leave no file behind, and never crash. SNAPPY is left out on purpose: its
 * C API sits on C++ `new`, which aborts instead of returning NULL. */
#include "../test.h"

#if !defined(__SANITIZE_ADDRESS__)
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/config/config.h"
#include "sample_parquet.h"

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);

static long countdown = -1; /* -1: off; 0: the next allocation fails */
static bool fired;

static bool fail_now(void)
{
    if (countdown < 0)
        return false;
    if (countdown-- == 0) {
        fired = true;
        errno = ENOMEM;
        return true;
    }
    return false;
}

void *malloc(size_t n) { return fail_now() ? NULL : __libc_malloc(n); }
void *calloc(size_t n, size_t size) { return fail_now() ? NULL : __libc_calloc(n, size); }
void *realloc(void *p, size_t n) { return fail_now() ? NULL : __libc_realloc(p, n); }

static int write_and_read(const char *path, pq_codec codec, sp_error *err)
{
    uint64_t sum = 0;
    SP_TRY(sample_parquet_write(path, codec, 150, 300, err));
    return sample_parquet_read(path, &sum, err);
}

TEST(parquet_every_allocation_failure_is_clean)
{
    static const pq_codec codecs[] = {PQ_UNCOMPRESSED, PQ_ZSTD, PQ_GZIP};
    for (size_t k = 0; k < sizeof codecs / sizeof codecs[0]; k++) {
        const char *dir = test_tmpdir();
        char path[512];
        snprintf(path, sizeof path, "%s/t.parquet", dir);
        sp_error err;
        REQUIRE(write_and_read(path, codecs[k], &err) == SP_OK);
        remove(path);
        int failures = 0, bad = 0;
        for (long n = 0; n < 100000 && bad < 3; n++) {
            sp_error_clear(&err);
            fired = false;
            countdown = n;
            int rc = write_and_read(path, codecs[k], &err);
            countdown = -1;
            if (!fired) { /* every allocation of the path has failed once */
                CHECK_INT(rc, SP_OK);
                break;
            }
            if (rc != SP_OK) {
                failures++;
                if (err.msg[0] == '\0') {
                    test_fail_at(__FILE__, __LINE__, "codec %d allocation %ld: empty message",
                                 codecs[k], n);
                    bad++;
                }
                /* A failed write leaves no temporary file (a failed read
                 * leaves the file that was fully written: that is fine). */
                if (sample_count_files(dir, "t.parquet") != 0) {
                    test_fail_at(__FILE__, __LINE__, "codec %d allocation %ld: %d files left",
                                 codecs[k], n, sample_count_files(dir, "t.parquet"));
                    bad++;
                }
            }
            remove(path);
        }
        CHECK(failures > 20);
    }
}

TEST(config_every_allocation_failure_is_clean)
{
    char path[512];
    snprintf(path, sizeof path, "%s/x.env", test_tmpdir());
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    fputs("DATA_DIR=/d\nS3_BUCKET=raw-bucket\nDATABASE_URL=postgresql://u:pw@h/db\n", f);
    fclose(f);
    int failures = 0;
    for (long n = 0; n < 10000; n++) {
        sp_error err;
        sp_error_clear(&err);
        fired = false;
        countdown = n;
        sp_config *c = sp_config_new();
        int rc = c ? sp_config_load(c, path, &err) : SP_ERR_NOMEM;
        countdown = -1;
        if (!fired) {
            CHECK_INT(rc, SP_OK);
            CHECK_STR(sp_config_get(c, "RAW_STORE"), "s3://raw-bucket");
            sp_config_free(c);
            break;
        }
        if (rc != SP_OK) {
            failures++;
            CHECK_INT(rc, SP_ERR_NOMEM);
            CHECK(!c || err.msg[0] != '\0');
        }
        sp_config_free(c);
    }
    CHECK(failures > 5);
}
#endif
