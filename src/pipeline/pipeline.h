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
    int64_t table_rows[3];
    char warehouse[512];     /* wh_describe() of the warehouse last opened; "" before */
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
 * where the outputs are) to stdout. */
void pl_print_summary(const pl_ctx *ctx);

#endif
