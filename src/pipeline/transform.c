/* transform.c — SPEC §2 `transform`: the run's raw CSVs → the star schema
 * as Parquet, rejects.csv and _manifest.json in the processed store.
 * This file drives the task in named phases: resolve the settings, list
 * the inputs, prepare one job per file in a work directory, run the jobs
 * on a pool of worker threads (transform_file.c), then merge the parts in
 * file-name order and publish (transform_publish.c), so the output is the
 * same however the jobs were scheduled. Nothing is published unless every
 * file succeeded; the manifest goes last. Memory is bounded per worker (one
 * fact batch, one row group); only the dimensions grow with the input. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/clock.h"
#include "../util/fsutil.h"
#include "../util/log.h"
#include "../util/progress.h"
#include "transform_internal.h"

/* ---- settings ------------------------------------------------------------------ */

static int resolve_settings(const pl_ctx *ctx, tf_shared *sh, sp_error *err)
{
    const char *thr = sp_config_get(ctx->cfg, "SALES_THRESHOLD");
    if (!rules_parse_decimal(thr, strlen(thr), 4, &sh->threshold, NULL))
        return sp_fail(err, SP_ERR_USAGE, "SALES_THRESHOLD: '%s' is not a decimal number", thr);
    const char *order = sp_config_get(ctx->cfg, "DATE_ORDER");
    if (!rules_date_order_parse(order, &sh->order))
        return sp_fail(err, SP_ERR_USAGE, "DATE_ORDER: '%s' is not one of auto,mdy,dmy,ymd", order);
    const char *enc = sp_config_get(ctx->cfg, "ENCODING");
    if (strcmp(enc, "auto") == 0)
        sh->encoding = CSV_ENC_AUTO;
    else if (strcmp(enc, "utf-8") == 0)
        sh->encoding = CSV_ENC_UTF8;
    else if (strcmp(enc, "windows-1252") == 0)
        sh->encoding = CSV_ENC_CP1252;
    else
        return sp_fail(err, SP_ERR_USAGE, "ENCODING: '%s' is not one of auto,utf-8,windows-1252", enc);
    return SP_OK;
}

/* ---- the input list -------------------------------------------------------------- */

typedef struct key_list {
    tf_job *jobs;
    int n, cap;
    sp_error *err;
} key_list;

/* One input chosen by pl_inputs_select (inputs.c). */
static int collect_key(void *arg, const char *key, const char *rest, int64_t size,
                       const pl_input *recorded)
{
    (void)recorded;
    key_list *k = arg;
    if (k->n == k->cap) {
        int ncap = k->cap ? k->cap * 2 : 8;
        if (ncap > 100000)
            return sp_fail(k->err, SP_ERR_LIMIT, "more than 100000 input files");
        tf_job *nj = realloc(k->jobs, (size_t)ncap * sizeof *nj);
        if (!nj)
            return sp_fail(k->err, SP_ERR_NOMEM, "out of memory listing inputs");
        k->jobs = nj;
        k->cap = ncap;
    }
    tf_job *j = &k->jobs[k->n];
    memset(j, 0, sizeof *j);
    if (snprintf(j->key, sizeof j->key, "%s", key) >= (int)sizeof j->key ||
        snprintf(j->name, sizeof j->name, "%s", rest) >= (int)sizeof j->name)
        return sp_fail(k->err, SP_ERR_LIMIT, "input key too long: %.200s…", key);
    j->bytes = size; /* the listed size until the pass reads it (the progress line's total) */
    j->index = k->n++;
    return 0;
}

/* The run's inputs, one job each, in file-name order: exactly the files of
 * its _inputs.json (*staged true, set filled: the caller frees it), or
 * without one the objects under the prefix matching RAW_PATTERN (SPEC §8). */
static int list_inputs(pl_ctx *ctx, store *raw, pl_input_set *set, bool *staged, tf_job **jobs,
                       int *n, sp_error *err)
{
    const char *pattern = sp_config_get(ctx->cfg, "RAW_PATTERN");
    key_list kl = {NULL, 0, 0, err};
    int rc = pl_inputs_select(ctx, set, staged, collect_key, &kl, err);
    if (rc == SP_OK && kl.n == 0)
        rc = *staged ? sp_fail(err, SP_ERR_DATA, "no input files: this run's %s in %s/%s lists "
                               "none (stage found no $DATA_DIR/raw/%s)", PL_INPUTS_KEY,
                               store_url(raw), ctx->prefix, pattern)
                     : sp_fail(err, SP_ERR_DATA, "no input files: %s has no %s%s (run stage "
                               "first; it uploads $DATA_DIR/raw/%s)", store_url(raw),
                               ctx->prefix, pattern, pattern);
    if (rc != SP_OK) {
        free(kl.jobs);
        return rc;
    }
    ctx->input_set = *staged ? "staged" : "listing";
    *jobs = kl.jobs;
    *n = kl.n;
    return SP_OK;
}

/* The bytes read are the bytes stage recorded, or nothing is published. */
static int verify_staged(const pl_input_set *set, const tf_job *jobs, int n, sp_error *err)
{
    for (int i = 0; i < n; i++)
        SP_TRY(pl_inputs_verify_digest(set, jobs[i].key, jobs[i].name, jobs[i].bytes,
                                       jobs[i].sha256, err));
    return SP_OK;
}

/* ---- the work directory ---------------------------------------------------------- */

/* Remove the work directory. The files are known by name, so no memory is
 * needed (this runs after out-of-memory failures too); anything else found
 * there is removed through a directory listing. */
static void remove_workdir(const char *dir, const tf_job *jobs, int n)
{
    static const char *const fixed[] = {"dim_date.parquet", "dim_product.parquet",
                                        "fact_sales.parquet", "rejects.csv"};
    char path[PATH_MAX];
    for (int i = 0; i < n; i++) {
        unlink(jobs[i].fact_part);
        unlink(jobs[i].rej_part);
        if (jobs[i].spooled)
            unlink(jobs[i].input);
    }
    for (size_t k = 0; k < sizeof fixed / sizeof fixed[0]; k++)
        if (snprintf(path, sizeof path, "%s/%s", dir, fixed[k]) < (int)sizeof path)
            unlink(path);
    if (rmdir(dir) == 0 || errno == ENOENT)
        return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path)
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static int make_workdir(store *processed, char *out, size_t outsz, sp_error *err)
{
    static atomic_int seq;
    const char *root = store_local_root(processed);
    if (root) {
        SP_TRY(sp_mkdirs(root, strlen(root), err));
        if (snprintf(out, outsz, "%s/.tmp-transform-%d-%d", root, (int)getpid(),
                     atomic_fetch_add(&seq, 1)) >= (int)outsz)
            return sp_fail(err, SP_ERR_USAGE, "PROCESSED_STORE path too long");
        if (mkdir(out, 0700) != 0)
            return sp_fail(err, SP_ERR_IO, "%s: %s", out, strerror(errno));
        return SP_OK;
    }
    const char *tmp = getenv("TMPDIR");
    if (snprintf(out, outsz, "%s/salespipe-transform-XXXXXX", tmp && *tmp ? tmp : "/tmp") >=
        (int)outsz)
        return sp_fail(err, SP_ERR_USAGE, "TMPDIR path too long");
    if (!mkdtemp(out))
        return sp_fail(err, SP_ERR_IO, "%s: %s", out, strerror(errno));
    return SP_OK;
}

/* Name each job's parts in the work directory and give it its dimensions. */
static int prepare_jobs(tf_job *jobs, int n, const tf_shared *sh, sp_error *err)
{
    for (int i = 0; i < n; i++) {
        jobs[i].sh = sh;
        snprintf(jobs[i].fact_part, sizeof jobs[i].fact_part, "%s/fact-%d.parquet", sh->workdir, i);
        snprintf(jobs[i].rej_part, sizeof jobs[i].rej_part, "%s/rejects-%d.csv", sh->workdir, i);
        SP_TRY(star_dims_new(&jobs[i].dims, err));
    }
    return SP_OK;
}

/* ---- running the jobs -------------------------------------------------------------- */

/* THREADS workers (0: one per core), never more than there are jobs. */
static int worker_count(const pl_ctx *ctx, int njobs)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = ctx->threads > 0 ? ctx->threads : (int)(cores > 0 ? cores : 1);
    return threads > njobs ? njobs : threads;
}

/* The progress line's total: the listed sizes of the inputs. */
static void progress_begin(const tf_job *jobs, int n)
{
    int64_t total = 0;
    for (int i = 0; i < n; i++)
        total += jobs[i].bytes;
    sp_progress_begin("transform", SP_PROGRESS_BYTES, total);
}

/* Log every job's counts and warnings (in file order); the first failed
 * job's error. */
static int collect_outcomes(tf_job *jobs, int n, sp_error *err)
{
    int rc = SP_OK;
    sp_progress_end();
    for (int i = 0; i < n; i++) {
        sp_log_fields f = {.file = jobs[i].name};
        if (jobs[i].rc == SP_OK) {
            pl_log_counts(&f, &jobs[i].counts);
            sp_log_event(SP_LOG_INFO, &f, "transform: %s: %lld rows in, %lld kept, %lld rejected",
                         jobs[i].name, (long long)f.rows_in, (long long)f.rows_kept,
                         (long long)f.rows_rejected);
        }
        f.has_rows = false;
        for (int w = 0; w < jobs[i].nwarn; w++)
            sp_log_event(SP_LOG_WARN, &f, "transform: %s", jobs[i].warn[w]);
        if (jobs[i].rc != SP_OK && rc == SP_OK) {
            *err = jobs[i].err;
            rc = jobs[i].rc;
        }
    }
    return rc;
}

/* ---- merge, write, publish ------------------------------------------------------------ */

static int merge_and_publish(pl_ctx *ctx, store *processed, const tf_shared *sh, tf_job *jobs,
                             int n, tf_outputs *out, sp_error *err)
{
    SP_TRY(tf_merge_results(jobs, n, out, err));
    SP_TRY(tf_write_outputs(sh->workdir, jobs, n, out, err));
    sp_buf manifest;
    sp_buf_init(&manifest, (size_t)64 << 20);
    tf_build_manifest(&manifest, ctx, jobs, n, out, sh);
    int rc = manifest.broken ? sp_fail(err, SP_ERR_NOMEM, "out of memory writing the manifest")
                             : tf_publish(processed, ctx->prefix, out, &manifest, err);
    sp_buf_free(&manifest);
    return rc;
}

/* What the run summary and the ledger read, and the closing log lines. */
static void record_results(pl_ctx *ctx, store *processed, const tf_outputs *o, int n, double secs)
{
    const star_counts *total = &o->total;
    ctx->transformed = true;
    ctx->tf.counts = *total;
    ctx->tf.dim_date = (int64_t)star_dims_ndates(o->dims);
    ctx->tf.dim_product = (int64_t)star_dims_nproducts(o->dims);
    ctx->tf.fact_sales = total->rejected[RULES_KEPT];
    ctx->tf.conflicts = star_dims_conflicts(o->dims);
    ctx->tf.nfiles = n;
    sp_log(SP_LOG_INFO, "transform: %lld rows in, %lld kept, %lld rejected in %.2fs → %s/%s",
           (long long)total->rows_in, (long long)total->rejected[RULES_KEPT],
           (long long)(total->rows_in - total->rejected[RULES_KEPT]), secs, store_url(processed),
           ctx->prefix);
    if (ctx->tf.conflicts)
        sp_log(SP_LOG_WARN, "transform: %lld product(s) seen with more than one category kept "
               "their first (see the manifest)", (long long)ctx->tf.conflicts);
}

/* ---- the task ------------------------------------------------------------------------ */

int pl_transform(pl_ctx *ctx, sp_error *err)
{
    tf_shared sh = {0};
    SP_TRY(resolve_settings(ctx, &sh, err));
    store *raw, *processed;
    SP_TRY(pl_raw_store(ctx, &raw, err));
    SP_TRY(pl_processed_store(ctx, &processed, err));
    sh.raw = raw;
    sh.run_id = ctx->run_id;
    tf_job *jobs;
    int n;
    pl_input_set set;
    bool staged;
    int rc = list_inputs(ctx, raw, &set, &staged, &jobs, &n, err);
    if (rc != SP_OK) {
        pl_inputs_free(&set);
        return rc;
    }
    char workdir[PATH_MAX - 64]; /* room for the names of files inside */
    if ((rc = make_workdir(processed, workdir, sizeof workdir, err)) != SP_OK) {
        sp_error_prefix(err, "PROCESSED_STORE %s: no work directory", store_url(processed));
        pl_inputs_free(&set);
        free(jobs);
        return rc;
    }
    sh.workdir = workdir;
    tf_outputs out = {0};
    if ((rc = prepare_jobs(jobs, n, &sh, err)) != SP_OK)
        goto done;

    int threads = worker_count(ctx, n);
    double t0 = sp_mono_seconds();
    sp_log(SP_LOG_INFO, "transform: %d file(s) from %s/%s, %d worker(s)", n, store_url(raw),
           ctx->prefix, threads);
    progress_begin(jobs, n);
    tf_run_pool(jobs, n, threads);
    if ((rc = collect_outcomes(jobs, n, err)) != SP_OK ||
        (staged && (rc = verify_staged(&set, jobs, n, err)) != SP_OK))
        goto done;
    if ((rc = merge_and_publish(ctx, processed, &sh, jobs, n, &out, err)) != SP_OK)
        goto done;
    record_results(ctx, processed, &out, n, sp_mono_seconds() - t0);
done:
    for (int i = 0; i < n; i++)
        star_dims_free(jobs[i].dims);
    star_dims_free(out.dims);
    remove_workdir(workdir, jobs, n);
    free(jobs);
    pl_inputs_free(&set);
    return rc;
}
