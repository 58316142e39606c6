/* pipeline.h — the five tasks of SPEC §2 and the runner that chains them.
 * Sits on top: uses config, store, csv, rules, star, parquet and warehouse,
 * and knows none of their internals. Each task returns an sp_status and
 * fills an sp_error naming the cause; it never exits the process.
 *
 * Ownership: pl_ctx_init fills a caller-owned context (opening stores
 * lazily); pl_ctx_free releases what it opened. */
#ifndef SP_PIPELINE_H
#define SP_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "../config/config.h"
#include "../star/star.h"
#include "../store/store.h"
#include "../util/buf.h"
#include "../util/error.h"

typedef enum pl_task {
    PL_PREFLIGHT = 0,
    PL_STAGE,
    PL_TRANSFORM,
    PL_CREATE_TABLES,
    PL_LOAD,
    PL_NTASKS
} pl_task;

/* "preflight", "stage", "transform", "create-tables", "load". */
const char *pl_task_name(pl_task t);
/* Task by its command-line name; -1 when unknown. */
int pl_task_parse(const char *name);

/* What transform produced, for the run summary. */
typedef struct pl_transform_result {
    star_counts counts;
    int64_t dim_date, dim_product, fact_sales;
    int64_t conflicts;
    int nfiles;
} pl_transform_result;

/* ---- quality gates (gates.c, SPEC §8) ------------------------------------
 * Write, audit, publish: the count gates (MIN_ROWS, MAX_REJECT_RATE overall
 * and per file, MAX_ROW_DROP) are evaluated by transform before it publishes
 * anything; MAX_ROW_DROP reads the warehouse's last load (etl_load) and, when
 * the warehouse cannot be read at transform, is evaluated by load before its
 * transaction begins. QUALITY_SQL checks run inside the load's transaction
 * before COMMIT. A failed gate is SP_ERR_DATA (exit 1, never retried) unless
 * GATE_ACTION=warn or --skip-gates (then logged as a warning). */
enum { PL_GATES_MAX = 40 };

typedef struct pl_gate {
    char name[20];        /* MIN_ROWS, MAX_REJECT_RATE, MAX_ROW_DROP, QUALITY_SQL */
    char subject[200];    /* the file (per-file rate) or the check's name; "" for the run */
    double figure;        /* what was measured (rows, a share, rows returned) */
    double threshold;     /* the configured limit */
    bool passed;
    char note[400];       /* how it was measured, the top reasons, offending rows */
} pl_gate;

typedef struct pl_gates {
    pl_gate g[PL_GATES_MAX];
    int n;                /* results so far (more than PL_GATES_MAX checks: counted in dropped) */
    int dropped;
    int failed;
    bool row_drop_deferred; /* MAX_ROW_DROP left to load (warehouse unreadable at transform) */
} pl_gates;

/* How `transform` runs: in one process (the default), or as one process of
 * a mapped run: --list prints the run's inputs, --map / --map-index turns
 * one input into parts under <prefix>_parts/, --merge publishes them. */
typedef enum pl_transform_mode {
    PL_TF_ONE = 0,
    PL_TF_LIST,
    PL_TF_MAP,
    PL_TF_MAP_INDEX,
    PL_TF_MERGE,
} pl_transform_mode;

typedef struct pl_ctx {
    const sp_config *cfg;
    char ds[11];             /* YYYY-MM-DD */
    char run_id[64];
    char prefix[1024];       /* "runs/<ds>/", or S3_PREFIX with a trailing '/' */
    int threads;             /* THREADS: transform workers (0: one per core) */
    store *raw, *processed;  /* opened on first use */
    /* results of the tasks run with this context (for the summary) */
    bool transformed;
    pl_transform_result tf;
    bool loaded;
    bool force_load;         /* load --force: reload every file (LOAD_MODE=incremental) */
    int64_t table_rows[3];
    char warehouse[512];     /* wh_describe() of the warehouse last opened; "" before */
    /* SPEC §8 */
    bool skip_gates;         /* --skip-gates: gates evaluated and recorded, never enforced */
    pl_gates gates;          /* the gates of the last transform or load (for ledger, alert) */
    const char *input_set;   /* transform read "staged" (_inputs.json) or "listing"; NULL before */
    /* transform across processes (issue 15, transform_parts.c) */
    pl_transform_mode tf_mode;
    const char *map_key;     /* --map NAME: an input's name or raw store key */
    long long map_index;     /* --map-index N: the N-th input (0-based) */
    bool run_id_given;       /* --run-id: every process of a mapped run shares it */
} pl_ctx;

/* ds: "YYYY-MM-DD" or NULL for today (UTC). run_id may be NULL (generated). */
int pl_ctx_init(pl_ctx *ctx, const sp_config *cfg, const char *ds, const char *run_id,
                sp_error *err);
void pl_ctx_free(pl_ctx *ctx);

int pl_preflight(pl_ctx *ctx, sp_error *err);
int pl_stage(pl_ctx *ctx, sp_error *err);
int pl_transform(pl_ctx *ctx, sp_error *err);
int pl_create_tables(pl_ctx *ctx, sp_error *err);
int pl_load(pl_ctx *ctx, sp_error *err);

/* Run one task by number. */
int pl_run_task(pl_ctx *ctx, pl_task t, sp_error *err);

/* The stores, opened on first use (errors name the configuration name). */
int pl_raw_store(pl_ctx *ctx, store **out, sp_error *err);
int pl_processed_store(pl_ctx *ctx, store **out, sp_error *err);

/* Open the warehouse named by DATABASE_URL (errors prefixed "warehouse")
 * and remember its description for the summary. */
struct wh;
int pl_open_warehouse(pl_ctx *ctx, struct wh **out, sp_error *err);
/* The same for reading what is there: a SQLite file that does not exist is
 * neither created nor opened (SP_OK with *out NULL). */
int pl_open_existing_warehouse(pl_ctx *ctx, struct wh **out, sp_error *err);

/* rows_in, rows_kept, rows_rejected of a log line (JSON logs) from counts. */
struct sp_log_fields;
void pl_log_counts(struct sp_log_fields *f, const star_counts *c);

/* Database credentials from AWS (db_auth.c): RDS_SECRET_ID's secret fills
 * pg's fallbacks, RDS_IAM_AUTH sets its password function. a holds what pg
 * points to until pl_db_auth_end (which wipes it). */
typedef struct pl_db_auth {
    aws_chain *chain;
    aws_db_secret secret;
} pl_db_auth;
struct wh_pg_settings;
int pl_db_auth_begin(pl_ctx *ctx, struct wh_pg_settings *pg, pl_db_auth *a, sp_error *err);
void pl_db_auth_end(pl_db_auth *a);

/* Settings for the store module (AWS_*, S3_*) from the configuration, so
 * .env counts; names it does not know (AWS_CONFIG_FILE, HOME, …) from the
 * process environment. cfg is the sp_config. */
const char *pl_config_env(void *cfg, const char *name);

/* Print the run summary (rows in / kept / rejected by reason, table sizes,
 * where the outputs are: only outputs that exist) to stdout. */
void pl_print_summary(pl_ctx *ctx);

/* ---- the run's input set (inputs.c, SPEC §8) ------------------------------
 * `stage` writes <prefix>_inputs.json in the raw store, last, through the
 * store's atomic put: {"ds", "run_id", "staged", "files": [{"name", "bytes",
 * "sha256"}, …]}. `transform` reads exactly those files when it exists.
 * Ownership: a pl_input_set is filled by pl_inputs_add / _parse / _read and
 * released by pl_inputs_free; pl_inputs_find's result lives as long as the
 * set. Files are kept sorted by name (strcmp) once read. */
#define PL_INPUTS_KEY "_inputs.json"
enum { PL_INPUTS_MAX = 100000 };

typedef struct pl_input {
    char *name;        /* the file name: the key's last segment under the prefix */
    int64_t bytes;
    char sha256[65];   /* 64 lowercase hex digits */
} pl_input;

typedef struct pl_input_set {
    pl_input *files;
    size_t n, cap;
} pl_input_set;

void pl_inputs_init(pl_input_set *s);
void pl_inputs_free(pl_input_set *s);
/* Append a file (a name without '/', bytes >= 0, a hex SHA-256). */
int pl_inputs_add(pl_input_set *s, const char *name, int64_t bytes, const char *sha256,
                  sp_error *err);
/* The file of that name in a sorted set, or NULL. */
const pl_input *pl_inputs_find(const pl_input_set *s, const char *name);
/* The set as _inputs.json text, appended to b (check b->broken). */
void pl_inputs_json(const pl_input_set *s, const char *run_id, const char *ds, sp_buf *b);
/* Parse _inputs.json text; `what` names it in errors (SP_ERR_CORRUPT for
 * anything but the shape above, a name twice, a bad name/size/digest). */
int pl_inputs_parse(const char *text, size_t n, const char *what, pl_input_set *s,
                    sp_error *err);
/* Write / read the run's _inputs.json in the raw store. Reading a prefix
 * without one is SP_OK with *found false and an empty set. */
int pl_inputs_write(pl_ctx *ctx, const pl_input_set *s, sp_error *err);
int pl_inputs_read(pl_ctx *ctx, pl_input_set *s, bool *found, sp_error *err);
/* A small object of st into b (appended; the caller inits and frees b):
 * *found false when there is none, SP_ERR_LIMIT past cap bytes. `what`
 * names it in errors. */
int pl_store_read(store *st, const char *key, size_t cap, sp_buf *b, bool *found,
                  const char *what, sp_error *err);

/* The local files of `dir` matching `pattern` (regular files, not hidden),
 * sorted; the caller frees them with pl_local_inputs_free. */
int pl_local_inputs(const char *dir, const char *pattern, char ***names, size_t *n,
                    sp_error *err);
void pl_local_inputs_free(char **names, size_t n);

/* DATA_DIR/raw against the run's _inputs.json (size, then SHA-256): fn is
 * called for each difference, in name order. *found false (and no call)
 * when the raw store has no _inputs.json for the run. */
typedef enum pl_input_change { PL_INPUT_CHANGED, PL_INPUT_NEW, PL_INPUT_GONE } pl_input_change;
typedef void (*pl_input_change_fn)(void *arg, const char *name, pl_input_change what);
int pl_inputs_local_changes(pl_ctx *ctx, pl_input_change_fn fn, void *arg, int *nchanges,
                            bool *found, sp_error *err);

/* What transform reads, in key order: with _inputs.json (*staged true, set
 * filled) exactly its files, each of which must be there with its recorded
 * size (SP_ERR_DATA naming it otherwise), other objects under the prefix
 * named in one warning and ignored; without it, every object directly under
 * the prefix matching RAW_PATTERN (logged). Never inputs: sub-folders and
 * names starting with '_' or '.'. fn(arg, key, name, size, recorded) per
 * input (recorded NULL in listing mode); a non-zero return stops and is
 * returned. The caller frees set. */
typedef int (*pl_input_fn)(void *arg, const char *key, const char *name, int64_t size,
                           const pl_input *recorded);
int pl_inputs_select(pl_ctx *ctx, pl_input_set *set, bool *staged, pl_input_fn fn, void *arg,
                     sp_error *err);
/* After reading a staged file: its size and SHA-256 against the set
 * (SP_ERR_DATA naming key when they differ; SP_OK for a name not in it). */
int pl_inputs_verify_digest(const pl_input_set *set, const char *key, const char *name,
                            int64_t bytes, const char *sha256, sp_error *err);

/* ---- quality gates (gates.c) ------------------------------------------------- */

/* One file's counts, by index, for the per-file reject rate. */
typedef const star_counts *(*pl_file_counts_fn)(void *arg, int i, const char **name);

/* The count gates, before transform publishes (ctx->gates is reset and
 * filled). Returns SP_ERR_DATA naming every failed gate (figure and
 * threshold) when gates are enforced; otherwise SP_OK. */
int pl_gates_transform(pl_ctx *ctx, const star_counts *total, int nfiles, pl_file_counts_fn fn,
                       void *arg, sp_error *err);
/* MAX_ROW_DROP for a load whose transform could not read the warehouse,
 * before the load's transaction begins (appends to ctx->gates). */
int pl_gates_row_drop(pl_ctx *ctx, struct wh *w, int64_t rows_kept, sp_error *err);
/* The QUALITY_SQL file, read before the load touches the warehouse (an
 * unreadable file is an error naming it; unset: no checks, text NULL).
 * pl_quality_close frees it. */
typedef struct pl_quality {
    char *text;        /* NUL-terminated, owned; NULL when QUALITY_SQL is unset */
    size_t len;
    char path[1024];
} pl_quality;
int pl_quality_open(pl_ctx *ctx, pl_quality *q, sp_error *err);
void pl_quality_close(pl_quality *q);
/* QUALITY_SQL's checks inside the open load (appends to ctx->gates). When
 * enforced and a check returns rows, the load is rolled back and the error
 * names the check and shows up to 5 rows; a check that fails is an error
 * naming the file and the check (the load rolled back). */
int pl_gates_quality(pl_ctx *ctx, pl_quality *q, struct wh *w, sp_error *err);
/* "fail", "warn" or "skipped" (--skip-gates): how failed gates are treated. */
const char *pl_gates_action(const pl_ctx *ctx);
/* The results as a JSON array (for the manifest, the ledger, the alert). */
void pl_gates_json(const pl_gates *g, sp_buf *b);

/* One QUALITY_SQL statement: its name (the leading "-- name:" comment, else
 * "check N"), its text and the line where it starts. Views into the file's
 * text (the statement without its ';'), valid during the call. */
typedef struct pl_check {
    const char *name;
    size_t name_len;
    const char *sql;
    size_t sql_len;
    int line;
    int index;         /* 1-based */
} pl_check;
typedef int (*pl_check_fn)(void *arg, const pl_check *c);
/* Split a QUALITY_SQL file's text into statements at ';' outside quotes
 * ('…', "…") and comments ("--" to the line's end, and block comments);
 * statements with nothing but comments are skipped. A non-zero return of
 * fn stops and is returned. */
int pl_quality_split(const char *text, size_t n, pl_check_fn fn, void *arg);

#endif
