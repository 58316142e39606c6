/* transform_internal.h — what the transform's phase files share (SPEC §2
 * `transform`): transform.c drives the task (settings, the input list, the
 * chunk plan, the work directory), transform_file.c reads one chunk of one
 * file (CSV → rules → fact part, reject part, dimensions, counts),
 * transform_pool.c runs the chunks on the workers, settles each file
 * (encoding, date order, chunk boundaries) and merges the results in order,
 * and transform_publish.c writes and publishes the outputs. Nothing outside
 * src/pipeline/transform*.c includes this; the task's face is pl_transform
 * in pipeline.h. */
#ifndef SP_TRANSFORM_INTERNAL_H
#define SP_TRANSFORM_INTERNAL_H

#include <limits.h>
#include <stdatomic.h>
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
#define TF_ROW_GROUP_ROWS 262144 /* fact_sales row groups (parts and the merge) */

/* The seven required columns, in rules_input order. */
extern const char *const TF_REQUIRED[7];

/* Settings every file's pass reads (resolved once per run). */
typedef struct tf_shared {
    rules_date_order order; /* DATE_ORDER */
    csv_encoding encoding;  /* ENCODING */
    int64_t threshold;      /* SALES_THRESHOLD, scale 4 */
    uint64_t chunk_bytes;   /* CHUNK_BYTES: a file larger than this is read in chunks */
    store *raw;
    const char *workdir;
    const char *run_id;     /* fact_sales.run_id: the manifest's */
} tf_shared;

/* How a file is read in one round: the encoding and the date order. A
 * round ends early when the file proves to be Windows-1252 or day-first;
 * the next round reads all of it again with what was learnt. */
typedef struct tf_settings {
    csv_encoding enc;
    rules_date_order order;
    bool decided;            /* the date order is settled (no round for it) */
} tf_settings;

/* Why a chunk stopped before its end without an error. */
enum { TF_RESTART_NONE = 0, TF_RESTART_ENCODING, TF_RESTART_DATE, TF_RESTART_CONFLICT };

/* One input file: its chunks are chunks[first_chunk .. first_chunk+nchunks). */
typedef struct tf_file {
    const tf_shared *sh;
    int index;
    char *key;               /* the raw store key (owned) */
    const char *name;        /* basename inside key: source_file */
    char *path;              /* the file read: the store's own, or a download (owned) */
    bool spooled;            /* path is a download in the work dir */
    int64_t size;
    int first_chunk, nchunks;
    tf_settings set;         /* the current round's */
    int rounds;              /* rounds started (at most 3: one more per restart kind) */
    atomic_int pending;      /* chunks of this round not yet read */
    bool settled;            /* its chunks are final (merged in order) */
    /* The round's dimensions, its chunks folded in line order as soon as
     * their starts are known to be right (transform_pool.c): memory holds
     * one set per file in flight, not one per chunk of it. */
    star_dims *dims;
    int folded;              /* chunks [0, folded) of this round are in dims */
    int sha_rc;              /* a chunked file's checksum job: its failure */
    char *sha_msg;
    /* results, valid once the file is settled */
    star_counts counts;
    char sha256[65];
    csv_encoding enc_used;
    bool order_assumed;      /* no evidence: month-first by default */
    uint64_t ev_line[2];     /* first line of each kind of date evidence: [0] day-first */
    char ev_text[2][40];
    char *warn[TF_MAX_WARNINGS]; /* owned */
    int nwarn;
    int rc;
    sp_error *err;           /* when rc != SP_OK (see tf_keep_error) */
} tf_file;

/* One chunk of a file: the records that start on lines [line, stop_line)
 * (stop_line 0: to the end), the first beginning at byte `start`. */
typedef struct tf_chunk {
    tf_file *f;
    int index;               /* in the run: names its parts */
    uint64_t start, line, stop_line;
    /* what its last pass found */
    bool ran;                /* read in the file's current round */
    bool complete;           /* read to its stop */
    int restart;             /* TF_RESTART_* */
    uint64_t end_line;       /* where the reader stopped (complete only) */
    star_dims *dims;
    star_counts counts;
    uint64_t ev_line[2];
    char ev_text[2][40];
    bool ambiguous_seen;     /* a date that needs the order to be read */
    bool empty;              /* chunk 0 only: no header at all */
    csv_encoding enc_used;
    char sha256[65];         /* single-chunk files: the checksum of the pass */
    int rc;
    sp_error *err;           /* when rc != SP_OK (see tf_keep_error) */
} tf_chunk;

/* Errors are kept only for what failed (an sp_error is 1 KB; a run may
 * have 100,000 files): *slot gets a copy of e (a shared "out of memory"
 * error when even that fails), returns e->code. tf_free_error frees one. */
int tf_keep_error(sp_error **slot, const sp_error *e);
void tf_free_error(sp_error *e);

/* Add a warning to the file (at most TF_MAX_WARNINGS are kept). */
void tf_file_warn(tf_file *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The names of a chunk's parts in the work directory. */
void tf_fact_part(const tf_shared *sh, int chunk, char *out, size_t outsz);
void tf_reject_part(const tf_shared *sh, int chunk, char *out, size_t outsz);

/* ---- transform_plan.c: local files and chunks ---------------------------------- */

/* Make every file local (downloads in the work dir, on nthreads workers),
 * then cut each into chunks (see the file's comment). *chunks (allocated,
 * the caller frees) gets every file's chunks in file order, then line order. */
int tf_plan(tf_file *files, int nfiles, int nthreads, tf_chunk **chunks, int *nchunks,
            sp_error *err);

/* ---- transform_file.c: one pass over one chunk -------------------------------- */

/* Per-worker buffers (the fact batch), reused from chunk to chunk. */
typedef struct tf_worker tf_worker;
int tf_worker_new(tf_worker **out, sp_error *err);
void tf_worker_free(tf_worker *w);

/* Read chunk c with the file's current settings into its parts, dims and
 * counts (reset first). A failure is in c->rc / c->err; a stop for a new
 * round in c->restart. */
void tf_run_chunk(tf_worker *w, tf_chunk *c);

/* ---- transform_pool.c: the workers, settling files, the ordered merge --------- */

/* Run every file on nthreads workers (the calling thread is one of them):
 * chunks, checksums of chunked files, new rounds, boundary checks. Each
 * settled file's chunks are merged in order into dims/total (their own dims
 * freed at once, so memory does not grow with the number of files). Each
 * file's outcome is in its rc / err / warnings; a merge failure in *err. */
int tf_run_files(tf_file *files, int nfiles, tf_chunk *chunks, int nchunks, int nthreads,
                 star_dims *dims, star_counts *total, sp_error *err);

/* ---- transform_publish.c: write and publish the outputs ----------------------- */

/* The run's outputs, built in the work directory before publication. */
typedef struct tf_outputs {
    char table[PL_NTABLES][PATH_MAX]; /* indexed by PL_TABLE_* */
    char rejects[PATH_MAX];
    star_dims *dims;                  /* every file's dimensions, merged */
    star_counts total;
} tf_outputs;

/* Check that every row is accounted for (kept + rejected = read). */
int tf_check_counts(const tf_outputs *o, sp_error *err);

/* Write dim_date, dim_product, fact_sales (the chunks' fact parts, row
 * groups copied in order) and rejects.csv into the work directory. */
int tf_write_outputs(const tf_shared *sh, int nchunks, tf_outputs *out, sp_error *err);

/* The _manifest.json text of SPEC §6 into b (sticky: check b->broken). */
void tf_build_manifest(sp_buf *b, const pl_ctx *ctx, const tf_file *files, int n,
                       const tf_outputs *o, const tf_shared *sh);

/* Publish under ctx->prefix: withdraw the old manifest, move the tables and
 * rejects.csv in, the manifest last. */
int tf_publish(store *processed, const char *prefix, const tf_outputs *o, const sp_buf *manifest,
               sp_error *err);

/* ---- transform.c: one transform's state and phases ---------------------------- */

/* What one transform process holds, from its settings to its work directory:
 * the one-process task, --map and --merge share these phases. */
typedef struct tf_task {
    pl_ctx *ctx;
    tf_shared sh;
    store *raw, *processed;
    pl_input_set set;        /* _inputs.json when staged */
    bool staged;
    tf_file *files;          /* the inputs, in name order */
    int n;
    char workdir[PATH_MAX - 64]; /* room for the names of files inside; "" before */
    tf_chunk *chunks;
    int nchunks;
    tf_outputs out;
    double t0;               /* when the reading began (for the closing line) */
} tf_task;

/* Settings, stores, the run's inputs (all of them), and a work directory. */
int tf_task_open(tf_task *t, pl_ctx *ctx, sp_error *err);
/* Keep only t->files[i] (a mapped process reads one input). */
void tf_task_keep_one(tf_task *t, int i);
/* Plan the chunks and read them on THREADS workers into the work directory
 * (parts, dims, counts), every file's outcome logged; verify the staged
 * digests. */
int tf_task_read(tf_task *t, sp_error *err);
/* Gates, the outputs written from the parts, the manifest, publication, and
 * the results for the summary and the ledger. */
int tf_task_publish(tf_task *t, sp_error *err);
/* Free everything and remove the work directory. */
void tf_task_close(tf_task *t);

/* ---- transform_parts.c: a transform across processes -------------------------- */

/* transform --list / --map / --map-index / --merge (pl_transform_mode). */
int tf_list(tf_task *t, sp_error *err);
int tf_map(tf_task *t, sp_error *err);
int tf_merge(tf_task *t, sp_error *err);
/* The run id every process of a mapped run derives from the input set
 * (unless --run-id gave one), so they agree without talking. */
void tf_mapped_run_id(tf_task *t);

#endif
