/* transform_internal.h — what the transform's phase files share (SPEC §2
 * `transform`): transform.c drives the task (settings, the input list, the
 * worker pool, the run's results), transform_file.c is the per-file pass
 * (CSV → rules → fact part, reject part, dimensions, counts) and
 * transform_publish.c merges the parts and publishes the outputs. Nothing
 * outside src/pipeline/transform*.c includes this; the task's face is
 * pl_transform in pipeline.h. */
#ifndef SP_TRANSFORM_INTERNAL_H
#define SP_TRANSFORM_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "../csv/csv.h"
#include "../rules/rules.h"
#include "../star/star.h"
#include "../store/store.h"
#include "../util/buf.h"
#include "../util/error.h"
#include "pipeline.h"
#include "tables.h"

#define TF_MAX_WARNINGS 4

/* The seven required columns, in rules_input order. */
extern const char *const TF_REQUIRED[7];

/* Settings every file's pass reads (resolved once per run). */
typedef struct tf_shared {
    rules_date_order order; /* DATE_ORDER */
    csv_encoding encoding;  /* ENCODING */
    int64_t threshold;      /* SALES_THRESHOLD, scale 4 */
    store *raw;
    const char *workdir;
    const char *run_id;     /* fact_sales.run_id: the manifest's */
} tf_shared;

/* One input file and everything its worker produced. */
typedef struct tf_job {
    const tf_shared *sh;
    int index;
    char key[2048];
    char name[512];          /* basename: fact_sales.source_file, rejects.csv source_file */
    char region[512];        /* fact_sales.region of rows without a Region (region_of) */
    char fact_part[PATH_MAX], rej_part[PATH_MAX];
    char input[PATH_MAX];    /* the file read: the store's own, or a download in the work dir */
    bool spooled;            /* input is a download (removed with the work dir) */
    star_dims *dims;
    star_counts counts;
    char sha256[65];
    int64_t bytes;
    csv_encoding enc_used;
    rules_date_order order_used;
    bool order_assumed;      /* no evidence: month-first by default */
    /* first line giving each kind of date-order evidence (0 = none) */
    uint64_t ev_line[2];     /* [0] day-first, [1] month-first */
    char ev_text[2][40];
    char warn[TF_MAX_WARNINGS][600];
    int nwarn;
    int rc;
    sp_error err;
} tf_job;

/* ---- transform_file.c: the per-file pass and the workers ------------------ */

/* Run every job on nthreads workers (the calling thread is one of them).
 * Each job's outcome is in its rc / err / warn fields. */
void tf_run_pool(tf_job *jobs, int njobs, int nthreads);

/* ---- transform_publish.c: merge the parts, write and publish the outputs -- */

/* The run's outputs, built in the work directory before publication. */
typedef struct tf_outputs {
    char table[PL_NTABLES][PATH_MAX]; /* indexed by PL_TABLE_* */
    char rejects[PATH_MAX];
    star_dims *dims;                  /* every file's dimensions, merged */
    star_counts total;
} tf_outputs;

/* Merge the jobs' dimensions and counts in file-name order into out
 * (out->dims is created here and freed by the caller) and check that
 * every row is accounted for. */
int tf_merge_results(tf_job *jobs, int n, tf_outputs *out, sp_error *err);

/* Write dim_date, dim_product, fact_sales (the jobs' fact parts, row groups
 * copied in order) and rejects.csv into the work directory. */
int tf_write_outputs(const char *workdir, tf_job *jobs, int n, tf_outputs *out, sp_error *err);

/* The _manifest.json text of SPEC §6 into b (sticky: check b->broken). */
void tf_build_manifest(sp_buf *b, const pl_ctx *ctx, const tf_job *jobs, int n,
                       const tf_outputs *o, const tf_shared *sh);

/* Publish under ctx->prefix: withdraw the old manifest, move the tables and
 * rejects.csv in, the manifest last. */
int tf_publish(store *processed, const char *prefix, const tf_outputs *o, const sp_buf *manifest,
               sp_error *err);

#endif
