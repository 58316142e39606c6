/* transform.c — SPEC §2 `transform`: the run's raw CSVs → the star schema
 * as Parquet, rejects.csv and _manifest.json in the processed store.
 * This file drives the task in named phases: resolve the settings, list
 * the inputs, make a work directory, plan the chunks (transform_plan.c: a
 * big file is cut so that every worker reads part of it), read them on
 * THREADS workers (transform_pool.c, transform_file.c), then write and
 * publish (transform_publish.c). Parts are merged in file-name then line
 * order, so the output is the same however the work was scheduled and
 * however many workers there were. Nothing is published unless every file
 * succeeded; the manifest goes last. Memory is bounded per worker (one fact
 * batch, one row group) and per file (a few hundred bytes); only the
 * dimensions grow with the input. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/cancel.h"
#include "../util/clock.h"
#include "../util/fsutil.h"
#include "../util/log.h"
#include "../util/owner.h"
#include "../util/progress.h"
#include "transform_internal.h"

/* ---- settings ------------------------------------------------------------------ */

static int resolve_settings(const pl_ctx *ctx, tf_shared *sh, sp_error *err)
{
    const char *cb = sp_config_get(ctx->cfg, "CHUNK_BYTES");
    sh->chunk_bytes = cb ? strtoull(cb, NULL, 10) : 0;
    if (sh->chunk_bytes == 0)
        sh->chunk_bytes = (uint64_t)32 << 20;
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
    tf_file *files;
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
        tf_file *nf = realloc(k->files, (size_t)ncap * sizeof *nf);
        if (!nf)
            return sp_fail(k->err, SP_ERR_NOMEM, "out of memory listing inputs");
        k->files = nf;
        k->cap = ncap;
    }
    size_t klen = strlen(key), rlen = strlen(rest);
    if (klen >= 2048 || rlen >= 512 || rlen > klen || strcmp(key + klen - rlen, rest) != 0)
        return sp_fail(k->err, SP_ERR_LIMIT, "input key too long: %.200s…", key);
    tf_file *f = &k->files[k->n];
    memset(f, 0, sizeof *f);
    if (!(f->key = strdup(key)))
        return sp_fail(k->err, SP_ERR_NOMEM, "out of memory listing inputs");
    f->name = f->key + (klen - rlen);
    f->size = size; /* the listed size until the plan stats the file (the progress total) */
    f->index = k->n++;
    return 0;
}

static void free_file(tf_file *f)
{
    free(f->key);
    free(f->path);
    for (int w = 0; w < f->nwarn; w++)
        free(f->warn[w]);
    free(f->sha_msg);
    star_dims_free(f->dims);
    tf_free_error(f->err);
}

static void free_files(tf_file *files, int n)
{
    for (int i = 0; i < n; i++)
        free_file(&files[i]);
    free(files);
}

/* The run's inputs, one file each, in file-name order: exactly the files of
 * its _inputs.json (*staged true, set filled: the caller frees it), or
 * without one the objects under the prefix matching RAW_PATTERN (SPEC §8). */
static int list_inputs(pl_ctx *ctx, store *raw, pl_input_set *set, bool *staged, tf_file **files,
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
        free_files(kl.files, kl.n);
        return rc;
    }
    ctx->input_set = *staged ? "staged" : "listing";
    *files = kl.files;
    *n = kl.n;
    return SP_OK;
}

/* The bytes read are the bytes stage recorded, or nothing is published. */
static int verify_staged(const pl_input_set *set, const tf_file *files, int n, sp_error *err)
{
    for (int i = 0; i < n; i++)
        SP_TRY(pl_inputs_verify_digest(set, files[i].key, files[i].name, files[i].size,
                                       files[i].sha256, err));
    return SP_OK;
}

/* ---- the work directory ---------------------------------------------------------- */

/* Remove the work directory. The files are known by name, so no memory is
 * needed (this runs after out-of-memory failures too); anything else found
 * there is removed through a directory listing. */
static void remove_workdir(const tf_shared *sh, const tf_file *files, int nfiles, int nchunks)
{
    static const char *const fixed[] = {"dim_date.parquet", "dim_product.parquet",
                                        "fact_sales.parquet", "rejects.csv"};
    const char *dir = sh->workdir;
    char path[PATH_MAX];
    for (int i = 0; i < nchunks; i++) {
        tf_fact_part(sh, i, path, sizeof path);
        unlink(path);
        tf_reject_part(sh, i, path, sizeof path);
        unlink(path);
    }
    for (int i = 0; i < nfiles; i++)
        if (files[i].spooled && files[i].path)
            unlink(files[i].path);
    for (size_t k = 0; k < sizeof fixed / sizeof fixed[0]; k++)
        if (snprintf(path, sizeof path, "%s/%s", dir, fixed[k]) < (int)sizeof path)
            unlink(path);
    sp_cancel_note("removed the work folder %s", dir);
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
        /* The owner tag lets the next run's sweep tell our folder from debris. */
        if (snprintf(out, outsz, "%s/.tmp-transform-%s-%d", root, sp_owner_tag(),
                     atomic_fetch_add(&seq, 1)) >= (int)outsz)
            return sp_fail(err, SP_ERR_USAGE, "PROCESSED_STORE path too long");
        if (mkdir(out, 0700) != 0)
            return sp_fail(err, SP_ERR_IO, "%s: %s", out, strerror(errno));
        return SP_OK;
    }
    const char *tmp = getenv("TMPDIR");
    if (snprintf(out, outsz, "%s/salespipe-transform-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp",
                 sp_owner_tag()) >= (int)outsz)
        return sp_fail(err, SP_ERR_USAGE, "TMPDIR path too long");
    if (!mkdtemp(out))
        return sp_fail(err, SP_ERR_IO, "%s: %s", out, strerror(errno));
    return SP_OK;
}

/* Every file starts with the configured encoding and date order. */
static void prepare_files(tf_file *files, int n, const tf_shared *sh)
{
    for (int i = 0; i < n; i++) {
        files[i].sh = sh;
        bool decided = sh->order != RULES_ORDER_AUTO;
        files[i].set = (tf_settings){sh->encoding, decided ? sh->order : RULES_MDY, decided};
    }
}

/* ---- running the chunks -------------------------------------------------------------- */

/* THREADS workers (0: one per core). */
static int worker_count(const pl_ctx *ctx)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return ctx->threads > 0 ? ctx->threads : (int)(cores > 0 ? cores : 1);
}

/* The progress line's total: the listed sizes of the inputs. */
static void progress_begin(const tf_file *files, int n)
{
    int64_t total = 0;
    for (int i = 0; i < n; i++)
        total += files[i].size;
    sp_progress_begin("transform", SP_PROGRESS_BYTES, total);
}

/* Log every file's counts and warnings (in file order); the first failed
 * file's error. */
static int collect_outcomes(tf_file *files, int n, sp_error *err)
{
    int rc = SP_OK;
    sp_progress_end();
    for (int i = 0; i < n; i++) {
        tf_file *f = &files[i];
        sp_log_fields lf = {.file = f->name};
        if (f->rc == SP_OK) {
            pl_log_counts(&lf, &f->counts);
            sp_log_event(SP_LOG_INFO, &lf, "transform: %s: %lld rows in, %lld kept, %lld rejected",
                         f->name, (long long)lf.rows_in, (long long)lf.rows_kept,
                         (long long)lf.rows_rejected);
        }
        lf.has_rows = false;
        for (int w = 0; w < f->nwarn; w++)
            sp_log_event(SP_LOG_WARN, &lf, "transform: %s", f->warn[w]);
        if (f->rc == SP_OK && f->sha_rc != SP_OK) {
            sp_error e;
            sp_fail(&e, f->sha_rc, "%s", f->sha_msg ? f->sha_msg : "checksum failed");
            f->rc = tf_keep_error(&f->err, &e);
        }
        if (f->rc != SP_OK && rc == SP_OK) {
            *err = *f->err;
            rc = f->rc;
        }
    }
    return rc;
}

/* ---- merge, write, publish ------------------------------------------------------------ */

static const star_counts *file_counts(void *arg, int i, const char **name)
{
    const tf_file *files = arg;
    *name = files[i].name;
    return &files[i].counts;
}

int tf_task_publish(tf_task *t, sp_error *err)
{
    pl_ctx *ctx = t->ctx;
    tf_outputs *out = &t->out;
    SP_TRY(tf_check_counts(out, err));
    /* Audit before publishing: a failed gate leaves the last outputs as they are. */
    SP_TRY(pl_gates_transform(ctx, &out->total, t->n, file_counts, (void *)t->files, err));
    SP_TRY(tf_write_outputs(&t->sh, t->nchunks, out, err));
    sp_buf manifest;
    sp_buf_init(&manifest, (size_t)64 << 20);
    tf_build_manifest(&manifest, ctx, t->files, t->n, out, &t->sh);
    int rc = manifest.broken ? sp_fail(err, SP_ERR_NOMEM, "out of memory writing the manifest")
                             : tf_publish(t->processed, ctx->prefix, out, &manifest, err);
    sp_buf_free(&manifest);
    if (rc != SP_OK)
        return rc;
    /* What the run summary and the ledger read, and the closing log lines. */
    const star_counts *total = &out->total;
    ctx->transformed = true;
    ctx->tf.counts = *total;
    ctx->tf.dim_date = (int64_t)star_dims_ndates(out->dims);
    ctx->tf.dim_product = (int64_t)star_dims_nproducts(out->dims);
    ctx->tf.fact_sales = total->rejected[RULES_KEPT];
    ctx->tf.conflicts = star_dims_conflicts(out->dims);
    ctx->tf.nfiles = t->n;
    sp_log(SP_LOG_INFO, "transform: %lld rows in, %lld kept, %lld rejected in %.2fs → %s/%s",
           (long long)total->rows_in, (long long)total->rejected[RULES_KEPT],
           (long long)(total->rows_in - total->rejected[RULES_KEPT]), sp_mono_seconds() - t->t0,
           store_url(t->processed), ctx->prefix);
    if (ctx->tf.conflicts)
        sp_log(SP_LOG_WARN, "transform: %lld product(s) seen with more than one category kept "
               "their first (see the manifest)", (long long)ctx->tf.conflicts);
    return SP_OK;
}

/* ---- the task ------------------------------------------------------------------------ */

int tf_task_open(tf_task *t, pl_ctx *ctx, sp_error *err)
{
    memset(t, 0, sizeof *t);
    t->ctx = ctx;
    pl_inputs_init(&t->set);
    memset(&ctx->gates, 0, sizeof ctx->gates); /* this attempt's, for the ledger */
    ctx->input_set = NULL;
    SP_TRY(resolve_settings(ctx, &t->sh, err));
    SP_TRY(pl_raw_store(ctx, &t->raw, err));
    SP_TRY(pl_processed_store(ctx, &t->processed, err));
    t->sh.raw = t->raw;
    t->sh.run_id = ctx->run_id;
    SP_TRY(list_inputs(ctx, t->raw, &t->set, &t->staged, &t->files, &t->n, err));
    int rc = make_workdir(t->processed, t->workdir, sizeof t->workdir, err);
    if (rc != SP_OK) {
        t->workdir[0] = '\0';
        return sp_error_prefix(err, "PROCESSED_STORE %s: no work directory",
                               store_url(t->processed));
    }
    t->sh.workdir = t->workdir;
    prepare_files(t->files, t->n, &t->sh);
    return SP_OK;
}

void tf_task_keep_one(tf_task *t, int i)
{
    tf_file one = t->files[i];
    t->files[i] = t->files[0];
    t->files[0] = one;
    for (int k = 1; k < t->n; k++)
        free_file(&t->files[k]);
    t->files[0].index = 0;
    t->n = 1;
}

int tf_task_read(tf_task *t, sp_error *err)
{
    int threads = worker_count(t->ctx);
    t->t0 = sp_mono_seconds();
    progress_begin(t->files, t->n);
    SP_TRY(tf_plan(t->files, t->n, threads, &t->chunks, &t->nchunks, err));
    SP_TRY(star_dims_new(&t->out.dims, err));
    if (threads > t->nchunks)
        threads = t->nchunks;
    sp_log(SP_LOG_INFO, "transform: %d file(s) in %d chunk(s) from %s/%s, %d worker(s)", t->n,
           t->nchunks, store_url(t->raw), t->ctx->prefix, threads);
    int rc = tf_run_files(t->files, t->n, t->chunks, t->nchunks, threads, t->out.dims,
                          &t->out.total, err);
    int frc = collect_outcomes(t->files, t->n, err); /* a file's error comes first */
    if (frc != SP_OK)
        rc = frc;
    if (rc == SP_OK && t->staged)
        rc = verify_staged(&t->set, t->files, t->n, err);
    return rc;
}

void tf_task_close(tf_task *t)
{
    sp_progress_end(); /* when the plan failed; safe twice */
    for (int i = 0; t->chunks && i < t->nchunks; i++) {
        star_dims_free(t->chunks[i].dims);
        tf_free_error(t->chunks[i].err);
    }
    free(t->chunks);
    star_dims_free(t->out.dims);
    if (t->workdir[0])
        remove_workdir(&t->sh, t->files, t->n, t->nchunks);
    free_files(t->files, t->n);
    pl_inputs_free(&t->set);
    memset(t, 0, sizeof *t);
}

int pl_transform(pl_ctx *ctx, sp_error *err)
{
    tf_task t;
    int rc = tf_task_open(&t, ctx, err);
    if (rc == SP_OK && ctx->tf_mode != PL_TF_ONE && !ctx->run_id_given)
        tf_mapped_run_id(&t);
    if (rc == SP_OK) {
        switch (ctx->tf_mode) {
        case PL_TF_ONE:
            if ((rc = tf_task_read(&t, err)) == SP_OK)
                rc = tf_task_publish(&t, err);
            break;
        case PL_TF_LIST:
            rc = tf_list(&t, err);
            break;
        case PL_TF_MAP:
        case PL_TF_MAP_INDEX:
            rc = tf_map(&t, err);
            break;
        case PL_TF_MERGE:
            rc = tf_merge(&t, err);
            break;
        }
    }
    tf_task_close(&t);
    return rc;
}
