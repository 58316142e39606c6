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

#include <dirent.h>
#include <sqlite3.h>

#include "../../src/config/config.h"
#include "../../src/pipeline/pipeline.h"
#include "../../src/util/log.h"
#include "pipeline_fixture.h"
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

/* Work directories left in the processed store's root. */
static int leftovers(const char *dir)
{
    char root[1024];
    snprintf(root, sizeof root, "%s/lake/processed", dir);
    DIR *d = opendir(root);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += strncmp(e->d_name, ".tmp", 4) == 0;
    if (d)
        closedir(d);
    return n;
}

/* "facts|sum(quantity)|sum(total_sales)|products" of the warehouse. */
static void warehouse_state(const char *dir, char *out, size_t outsz)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/wh.db", dir);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    snprintf(out, outsz, "?");
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT count(*) || '|' || sum(quantity) || '|' || "
                               "printf('%.4f', sum(total_sales)) || '|' || "
                               "(SELECT count(*) FROM dim_product) FROM fact_sales",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        snprintf(out, outsz, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* What must hold after each failed (or not) task run; false stops the sweep. */
typedef bool (*sweep_check)(const char *dir, const char *task, long n, int rc, const void *arg);

/* Run `task` with its Nth allocation failing, for N = 0, 1, … until a run
 * needs fewer than N allocations (it must then succeed). Every failure
 * must carry a message; `check` runs after each attempt. Returns how many
 * runs failed. */
static int sweep(pl_ctx *ctx, int (*task)(pl_ctx *, sp_error *), const char *name,
                 const char *dir, sweep_check check, const void *arg)
{
    int failures = 0;
    for (long n = 0; n < 200000; n++) {
        sp_error err;
        sp_error_clear(&err);
        fired = false;
        countdown = n;
        int rc = task(ctx, &err);
        countdown = -1;
        if (!fired) {
            CHECK_INT(rc, SP_OK);
            break;
        }
        if (rc != SP_OK) {
            failures++;
            if (err.msg[0] == '\0')
                test_fail_at(__FILE__, __LINE__, "%s, allocation %ld: empty message (rc %d)", name,
                             n, rc);
        }
        if (!check(dir, name, n, rc, arg))
            break;
    }
    return failures;
}

/* transform: no work directory left behind, whatever failed. */
static bool no_leftovers(const char *dir, const char *task, long n, int rc, const void *arg)
{
    (void)arg;
    if (leftovers(dir) == 0)
        return true;
    test_fail_at(__FILE__, __LINE__, "%s, allocation %ld (rc %d): work files left", task, n, rc);
    return false;
}

/* load: the warehouse holds what it held before (a failure rolled back;
 * a success reloaded the same run). */
static bool warehouse_unchanged(const char *dir, const char *task, long n, int rc, const void *arg)
{
    char after[256];
    warehouse_state(dir, after, sizeof after);
    if (strcmp(arg, after) == 0)
        return true;
    test_fail_at(__FILE__, __LINE__, "%s, allocation %ld (rc %d): warehouse %s, was %s", task, n,
                 rc, after, (const char *)arg);
    return false;
}

TEST(pipeline_every_allocation_failure_is_clean)
{
    const char *dir = test_tmpdir();
    gen_options go = {.rows = 60, .seed = 5, .dirty = true};
    sp_config *cfg = pipeline_fixture(dir, go, NULL);
    REQUIRE(cfg != NULL);
    sp_log_setup(false, -1);
    pl_ctx ctx;
    sp_error err;
    /* 60 dirty rows per file are half rejects: let the gates pass them. */
    REQUIRE(sp_config_set_flag(cfg, "MAX_REJECT_RATE", "1", &err) == SP_OK);
    REQUIRE(pl_ctx_init(&ctx, cfg, "2024-06-01", "faults", &err) == SP_OK);
    ctx.threads = 1; /* the countdown is not thread-safe */
    REQUIRE(pl_stage(&ctx, &err) == SP_OK);
    REQUIRE(pl_transform(&ctx, &err) == SP_OK);
    REQUIRE(pl_create_tables(&ctx, &err) == SP_OK);
    REQUIRE(pl_load(&ctx, &err) == SP_OK);
    char before[256];
    warehouse_state(dir, before, sizeof before);

    CHECK(sweep(&ctx, pl_transform, "transform", dir, no_leftovers, NULL) > 50);
    REQUIRE(pl_transform(&ctx, &err) == SP_OK); /* a complete run for the load sweep */
    CHECK(sweep(&ctx, pl_load, "load", dir, warehouse_unchanged, before) > 20);
    pl_ctx_free(&ctx);
    sp_config_free(cfg);
    sp_log_setup(false, 0);
}
#endif
