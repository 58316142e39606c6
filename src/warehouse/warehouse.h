/* warehouse.h — the gold layer: one interface (create schema, load in one
 * transaction from column batches, commit / rollback) over backends chosen
 * from DATABASE_URL (or RDS_*): embedded SQLite and PostgreSQL (libpq,
 * binary COPY). Knows nothing of Parquet or CSV: rows arrive as sp_batch.
 * SQL is never built from data: values travel as bound parameters / COPY.
 *
 * The schema is SPEC §5's (dim_date, dim_product, fact_sales with surrogate
 * keys) plus lineage columns after the contract ones, and the file registry
 * etl_file (SPEC §8). A load is ONE transaction, full or incremental: the
 * dimensions are upserted first (a new date or product gets the next key,
 * an existing one keeps its key forever); fact batches carry natural keys
 * (order_date, product_id) resolved to date_id / product_sk through them.
 * Full: fact_sales ends with exactly this load's facts. Incremental: per
 * input file, new → inserted, same sha256 → skipped, new sha256 → its old
 * facts replaced. etl_file is written in the same transaction either way.
 * Readers of the tables are never blocked for the load (backend notes).
 *
 * Ownership: wh_open creates the handle, wh_close frees it (rolling back an
 * open load). Batches are read during the call only. A handle is used by one
 * thread at a time. */
#ifndef SP_WAREHOUSE_H
#define SP_WAREHOUSE_H

#include <stdbool.h>
#include <stdint.h>

#include "../util/batch.h"
#include "../util/error.h"

typedef enum wh_table { WH_DIM_DATE = 0, WH_DIM_PRODUCT, WH_FACT_SALES, WH_NTABLES } wh_table;

/* "dim_date", "dim_product", "fact_sales". */
const char *wh_table_name(wh_table t);

typedef struct wh wh;

/* Open the warehouse named by `target`:
 *   NULL or ""                      → SQLite at ./warehouse.db
 *   "sqlite:///relative/wh.db"      → SQLite, relative path (SQLAlchemy form)
 *   "sqlite:////absolute/wh.db"     → SQLite, absolute path
 *   a plain path ending .db/.sqlite → SQLite at that path
 *   "postgresql://…"/"postgres://…" → PostgreSQL (libpq's URI form; PG*
 *                                     variables and PGSSLMODE as libpq defines)
 *   anything else                   → SP_ERR_USAGE.
 * SQLite: the file is created when missing; foreign keys are ON.
 * PostgreSQL: connects now; a server that cannot be reached is SP_ERR_NET
 * (retryable unless the server refused the credentials or the database). */
int wh_open(wh **out, const char *target, sp_error *err);

/* PostgreSQL settings that do not come in a URL: the reference system's
 * RDS_* names, and PGPASSWORD as read from a .env file (libpq itself only
 * reads the process environment). NULL or "" fields are not given. */
/* The password of one connection, asked for when it is about to be made
 * (RDS IAM authentication: a token valid 15 minutes, so a fresh one each
 * time). host, port and user are the connection's as libpq will use them.
 * Writes a NUL-terminated password into out; returns SP_OK or fills err. */
typedef int (*wh_password_fn)(void *ctx, const char *host, const char *port, const char *user,
                              char *out, size_t outsz, sp_error *err);

typedef struct wh_pg_settings {
    const char *host, *port, *dbname, *user, *password; /* RDS_HOST … RDS_PASS */
    const char *pgpassword; /* used when neither the URL nor RDS_PASS has one */
    /* Fallbacks (a Secrets Manager secret): used for what neither the URL nor
     * the fields above give. */
    const char *fallback_host, *fallback_port, *fallback_dbname, *fallback_user;
    const char *fallback_password;
    /* When set, the password comes from password_fn and wins over every
     * other, and TLS is required: sslmode (from the URL, else PGSSLMODE)
     * disable, allow or prefer is an SP_ERR_USAGE error; unset becomes
     * require. */
    wh_password_fn password_fn;
    void *password_ctx;
} wh_pg_settings;

/* wh_open, plus: an empty target with s->host set opens PostgreSQL from the
 * RDS_* settings; a postgresql:// target without a password uses
 * s->pgpassword. s may be NULL (then it is wh_open). */
int wh_open_with(wh **out, const char *target, const wh_pg_settings *s, sp_error *err);
void wh_close(wh *w); /* NULL is allowed; an open load is rolled back */

/* How messages name it: "sqlite:./warehouse.db", "postgresql://user@host:port/db"
 * (never a password). */
const char *wh_describe(const wh *w);

/* Create the three tables and their constraints if missing (idempotent).
 * Existing tables with another shape are an SP_ERR_DATA error naming the
 * table and the column. */
int wh_create_schema(wh *w, sp_error *err);

/* Preflight: the warehouse opens, answers, and can write (a transaction
 * that is rolled back). Errors name the warehouse and the cause. */
int wh_check(wh *w, sp_error *err);

typedef enum wh_mode { WH_MODE_FULL = 0, WH_MODE_INCREMENTAL } wh_mode;

/* What the load does with one input file (filled in by wh_load_begin_with). */
typedef enum wh_action {
    WH_FILE_NEW = 0, /* not in etl_file: its facts are inserted */
    WH_FILE_SAME,    /* same name and sha256: skipped (incremental, not forced) */
    WH_FILE_CHANGED, /* in etl_file with another sha256 (or forced, or full):
                        its previous facts are replaced */
} wh_action;

/* One input file of the run, as the manifest lists it. */
typedef struct wh_file {
    const char *name;   /* as fact_sales.source_file holds it */
    const char *sha256; /* hex; NULL when unknown */
    int64_t bytes, rows; /* the input's size and data rows (-1: unknown) */
    /* filled in by wh_load_begin_with: */
    wh_action action;
    char loaded_by[64]; /* etl_file.run_id of the copy in the warehouse; "" if none */
    int64_t facts;      /* facts loaded for it by this load (after the batches) */
} wh_file;

typedef struct wh_load_opts {
    wh_mode mode;
    bool force;         /* incremental: reload every file of the run */
    const char *run_id; /* etl_file.run_id: the run that loads (may be NULL) */
    const char *fact_run_id; /* fact_sales.run_id for batches without the column:
                                the run that made the Parquet (may be NULL) */
    const char *ds;     /* etl_file.ds, YYYY-MM-DD (may be NULL) */
    wh_file *files;     /* the run's inputs; actions written back; may be NULL */
    size_t nfiles;      /* in full mode only: then facts make their own list */
} wh_load_opts;

/* Start the load's single transaction. The schema must exist (SP_ERR_DATA
 * "run create-tables first" otherwise). In incremental mode every fact's
 * source_file must be one of o->files (SP_ERR_DATA naming it otherwise).
 * o->files stays the caller's and must outlive the load. */
int wh_load_begin_with(wh *w, const wh_load_opts *o, sp_error *err);

/* wh_load_begin_with a full load and no file list. */
int wh_load_begin(wh *w, sp_error *err);

/* After a committed load: products whose category in this load differed
 * from the one the warehouse kept (incremental: the first is kept). */
int64_t wh_load_category_conflicts(const wh *w);

/* Append rows to table t. Columns are matched by name:
 *   dim_date:    order_date DATE, day, month, quarter, year INT32
 *   dim_product: product_id TEXT, category TEXT
 *   fact_sales:  order_date DATE, product_id TEXT, quantity INT32,
 *                total_sales DECIMAL(4), profit DECIMAL(4),
 *                unit_price DECIMAL(2), profit_margin DECIMAL(2),
 *                and optionally ship_date DATE, region TEXT, order_id TEXT,
 *                source_file TEXT, source_line INT64, run_id TEXT (a missing
 *                one is NULL; run_id then comes from o->fact_run_id).
 * A missing contract column is SP_ERR_DATA naming it; unknown extra columns
 * are ignored. All dim_date and dim_product batches come before the first
 * fact_sales batch. A fact whose natural key is not in this load's
 * dimensions, or any constraint failure, is SP_ERR_DATA naming the table
 * and the row (1-based within the load of that table). Facts of a file
 * the load skips are read and dropped. Decimals are stored
 * exactly (never converted through binary floating point by us).
 * Any failure here has already rolled the load back: later batches and the
 * commit are refused (SP_ERR_INTERNAL); wh_load_rollback is still allowed. */
int wh_load_batch(wh *w, wh_table t, const sp_batch *b, sp_error *err);

/* Commit the load. On failure the transaction is rolled back. */
int wh_load_commit(wh *w, sp_error *err);

/* Abandon the load: the previous contents stay as they were. */
void wh_load_rollback(wh *w);

/* Row count of a table (for the run summary). */
int wh_table_rows(wh *w, wh_table t, int64_t *rows, sp_error *err);

/* ---- the load record and quality checks (SPEC §8) ------------------------
 * etl_load(load_id, run_id, ds, rows_kept, loaded_at) holds one row per
 * committed load, written inside the load's transaction, so a row means the
 * load committed. wh_create_schema creates it; a load into an older schema
 * creates it when it records itself. */

/* wh_open_with for reading what is already there: a SQLite file that does
 * not exist is neither created nor opened (SP_OK with *out NULL). */
int wh_open_existing(wh **out, const char *target, const wh_pg_settings *s, sp_error *err);

typedef struct wh_load_info {
    bool found;       /* false: no load recorded (or no etl_load table yet) */
    char run_id[64];
    char ds[16];      /* YYYY-MM-DD */
    int64_t rows_kept;
    char loaded_at[40]; /* ISO 8601 UTC */
} wh_load_info;

/* The most recent recorded load (highest load_id) into *out. Not while a
 * load is open. */
int wh_last_load(wh *w, wh_load_info *out, sp_error *err);

/* Inside the open load, after its batches: add this load's etl_load row.
 * Any failure has rolled the load back (as wh_load_batch). */
int wh_load_record(wh *w, const char *run_id, const char *ds, int64_t rows_kept,
                   sp_error *err);

/* Inside the open load, before wh_load_commit: run one read-only query (a
 * single SELECT/WITH statement; PostgreSQL through a cursor, so only the
 * rows shown travel) and report what it returns: fn(arg, ncols, names,
 * values) for each of the first max_rows rows (values as text, NULL for SQL
 * NULL; views valid during the call; at most 32 columns), and *nrows the
 * number of rows in all. Rows are not an error here: the caller decides
 * (and rolls back with wh_load_rollback). A statement that fails, or is not
 * a query, fails naming the warehouse and quoting the server; the load has
 * then been rolled back. */
/* The file registry etl_file as it stands, read outside any load, changing
 * nothing (`plan`): fn(arg, source_file, sha256, run_id) for each row, in no
 * particular order (NULL for SQL NULL; views valid during the call). *found
 * false, and no call, when the warehouse has no etl_file. */
typedef void (*wh_registry_fn)(void *arg, const char *source_file, const char *sha256,
                               const char *run_id);
int wh_file_registry(wh *w, wh_registry_fn fn, void *arg, bool *found, sp_error *err);

typedef void (*wh_row_fn)(void *arg, int ncols, const char *const *names,
                          const char *const *values);
int wh_load_query(wh *w, const char *sql, size_t max_rows, wh_row_fn fn, void *arg,
                  int64_t *nrows, sp_error *err);

#endif
