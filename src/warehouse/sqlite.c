/* sqlite.c — the embedded SQLite warehouse backend (libsqlite3): SPEC §5's
 * star schema with SQLite types plus lineage columns and etl_file, loaded
 * (full or incremental) inside one BEGIN IMMEDIATE transaction through
 * prepared statements reused row after row. The database is in WAL mode, so
 * readers never wait for a load: they read the last commit until the next.
 * Values are only ever bound, never spliced into SQL; decimals are bound as
 * their exact text ("261.9600"), never as a C double. Every message names
 * the database file and quotes SQLite's own. */
#include "wh_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "../util/cancel.h"
#include "../util/date.h"
#include "../util/decimal.h"
#include "../util/fsutil.h"

enum {
    SQ_BUSY_TIMEOUT_MS = 10000,
    SQ_CACHE_KIB = 65536, /* page cache during loads: 64 MiB */
};
/* bind_row's buffers hold a decimal's text or a date's (16 bytes). */
_Static_assert(SP_DECIMAL_TEXT_MAX >= 16, "a date fits a decimal text buffer");

/* One row per committed load (warehouse.h), written in the load's
 * transaction; the gates compare against the last one. */
#define ETL_LOAD_SQL                                                                     \
    "CREATE TABLE IF NOT EXISTS etl_load("                                               \
    " load_id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, ds TEXT NOT NULL,"              \
    " rows_kept INTEGER NOT NULL,"                                                       \
    " loaded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')));"

static const char *const SCHEMA_SQL =
    "CREATE TABLE IF NOT EXISTS dim_date("
    " date_id INTEGER PRIMARY KEY,"
    " order_date DATE NOT NULL UNIQUE,"
    " day INTEGER, month INTEGER, quarter INTEGER, year INTEGER);"
    "CREATE TABLE IF NOT EXISTS dim_product("
    " product_sk INTEGER PRIMARY KEY,"
    " product_id TEXT NOT NULL UNIQUE,"
    " category TEXT);"
    "CREATE TABLE IF NOT EXISTS fact_sales("
    " sale_id INTEGER PRIMARY KEY,"
    " date_id INTEGER NOT NULL REFERENCES dim_date(date_id),"
    " product_sk INTEGER NOT NULL REFERENCES dim_product(product_sk),"
    " quantity INTEGER, total_sales NUMERIC, profit NUMERIC, unit_price NUMERIC,"
    " profit_margin NUMERIC,"
    " region TEXT, order_id TEXT, source_file TEXT, source_line INTEGER, run_id TEXT,"
    " ship_date DATE);"
    "CREATE TABLE IF NOT EXISTS etl_file("
    " source_file TEXT PRIMARY KEY, sha256 TEXT, bytes INTEGER, rows INTEGER, run_id TEXT,"
    " ds DATE, loaded_at TEXT);"
    ETL_LOAD_SQL;

/* Columns an existing table must have (the SPEC §5 contract). */
static const char *const REQUIRED[WH_NTABLES][9] = {
    {"date_id", "order_date", "day", "month", "quarter", "year", NULL},
    {"product_sk", "product_id", "category", NULL},
    {"sale_id", "date_id", "product_sk", "quantity", "total_sales", "profit", "unit_price",
     "profit_margin", NULL},
};

/* Lineage columns of fact_sales, loaded when the table has them (a table
 * made by the reference system lacks them; create-tables adds them).
 * Catalogue order, from WH_FS_SHIP_DATE on, with their SQLite types. */
enum { SQ_NLINEAGE = 6 };
static const char *const LINEAGE[SQ_NLINEAGE] = {"ship_date", "region", "order_id",
                                                 "source_file", "source_line", "run_id"};
static const char *const LINEAGE_TYPE[SQ_NLINEAGE] = {"DATE", "TEXT", "TEXT",
                                                      "TEXT", "INTEGER", "TEXT"};
_Static_assert(WH_FS_SHIP_DATE + SQ_NLINEAGE == WH_FS_NCOLS, "lineage follows the contract");

/* The load's statements besides the INSERTs. */
enum { SQ_DD_ADD, SQ_DD_KEY, SQ_DP_GET, SQ_DP_ADD, SQ_DP_SET, SQ_RUN_DATE, SQ_RUN_PRODUCT,
       SQ_NSTMTS };
static const char *const STMT_SQL[SQ_NSTMTS] = {
    [SQ_DD_ADD] = ("INSERT INTO dim_date(order_date, day, month, quarter, year) "
                   "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(order_date) DO NOTHING"),
    [SQ_DD_KEY] = "SELECT date_id FROM dim_date WHERE order_date = ?1",
    [SQ_DP_GET] = "SELECT product_sk, category FROM dim_product WHERE product_id = ?1",
    [SQ_DP_ADD] = "INSERT INTO dim_product(product_id, category) VALUES (?1, ?2)",
    [SQ_DP_SET] = "UPDATE dim_product SET category = ?2 WHERE product_sk = ?1",
    [SQ_RUN_DATE] = "INSERT OR IGNORE INTO temp.sp_run_date(id) VALUES (?1)",
    [SQ_RUN_PRODUCT] = "INSERT OR IGNORE INTO temp.sp_run_product(id) VALUES (?1)",
};

typedef struct sq {
    sqlite3 *db;
    const char *describe;               /* the wh's, for messages */
    sqlite3_stmt *insert[WH_NTABLES];   /* prepared at load begin */
    sqlite3_stmt *stmt[SQ_NSTMTS];      /* prepared at load begin */
    bool has_lineage[SQ_NLINEAGE];
    bool in_txn;
    bool full;
    bool dims_trimmed;        /* full load: the dimension rows no fact uses are gone */
    int64_t sale_base;        /* fact k of the load gets sale_id sale_base + k */
    char rollback_error[256]; /* why the last ROLLBACK failed; "" when it did not */
    int cancel_hook;          /* util/cancel.h slot while a load runs, else -1 */
} sq;

static sq *sq_of(wh *w)
{
    return w->impl;
}

/* SQLite result code → our status. Busy / locked may pass on their own. */
static int map_code(int rc, bool *retry)
{
    *retry = false;
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: *retry = true; return SP_ERR_IO;
    case SQLITE_NOMEM: return SP_ERR_NOMEM;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return SP_ERR_CORRUPT;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
    case SQLITE_RANGE: return SP_ERR_DATA;
    default: return SP_ERR_IO;
    }
}

/* Fail with "warehouse <describe>: <context>: <SQLite's message>". */
__attribute__((format(printf, 4, 5))) static int sq_fail(sq *s, int rc, sp_error *err,
                                                         const char *fmt, ...)
{
    char ctx[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    bool retry;
    int code = map_code(rc, &retry);
    const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
    if (retry)
        return sp_fail_retry(err, code, "warehouse %s: %s: %s", s->describe, ctx, msg);
    return sp_fail(err, code, "warehouse %s: %s: %s", s->describe, ctx, msg);
}

static int exec(sq *s, const char *sql, const char *what, sp_error *err)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return sq_fail(s, rc, err, "%s", what);
    return SP_OK;
}

/* Roll back whatever is open. wh_load_rollback cannot report a failure, so
 * it is kept for the next call on this handle (see sq_begin). */
/* SIGTERM during a load: the statement in flight stops (SQLITE_INTERRUPT),
 * the load fails and is rolled back. Armed from BEGIN until COMMIT is sent. */
static void on_cancel(void *db)
{
    sqlite3_interrupt(db);
}

static void disarm(sq *s)
{
    sp_cancel_hook_remove(s->cancel_hook);
    s->cancel_hook = -1;
}

static void end_txn(sq *s)
{
    disarm(s);
    if (!sqlite3_get_autocommit(s->db) &&
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
        snprintf(s->rollback_error, sizeof s->rollback_error, "%s", sqlite3_errmsg(s->db));
    s->in_txn = false;
}

/* ---- schema ------------------------------------------------------------- */

static int table_exists(sq *s, const char *table, bool *exists, sp_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db,
                                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                                -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        *exists = rc == SQLITE_ROW;
        if (rc == SQLITE_ROW || rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK)
        sq_fail(s, rc, err, "cannot look up table %s", table);
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? SP_OK : err->code;
}

/* Check an existing table's columns; note which lineage columns it has. */
static int verify_table(sq *s, wh_table t, sp_error *err)
{
    const char *table = wh_table_name(t);
    bool req[9] = {false}, lin[SQ_NLINEAGE] = {false};
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "SELECT name FROM pragma_table_info(?1)", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        for (size_t k = 0; name && REQUIRED[t][k]; k++)
            req[k] |= strcasecmp(name, REQUIRED[t][k]) == 0;
        for (size_t k = 0; name && k < SQ_NLINEAGE; k++)
            lin[k] |= strcasecmp(name, LINEAGE[k]) == 0;
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_DONE) {
        sq_fail(s, rc, err, "cannot read the columns of %s", table);
        sqlite3_finalize(st);
        return err->code;
    }
    sqlite3_finalize(st);
    for (size_t k = 0; REQUIRED[t][k]; k++)
        if (!req[k])
            return sp_fail(err, SP_ERR_DATA,
                           "warehouse %s: table %s exists but has no column %s (another "
                           "schema; drop or rename the table)",
                           s->describe, table, REQUIRED[t][k]);
    if (t == WH_FACT_SALES)
        memcpy(s->has_lineage, lin, sizeof lin);
    return SP_OK;
}

static int verify_all(sq *s, bool need_all, sp_error *err)
{
    for (int t = 0; t < WH_NTABLES; t++) {
        bool exists = false;
        SP_TRY(table_exists(s, wh_table_name((wh_table)t), &exists, err));
        if (!exists && need_all)
            return sp_fail(err, SP_ERR_DATA,
                           "warehouse %s: table %s does not exist: run create-tables first",
                           s->describe, wh_table_name((wh_table)t));
        if (exists)
            SP_TRY(verify_table(s, (wh_table)t, err));
    }
    return SP_OK;
}

/* A warehouse made by an earlier version (or the reference system): add
 * the lineage columns fact_sales lacks. Nothing is ever dropped. */
static int add_lineage(sq *s, sp_error *err)
{
    for (int k = 0; k < SQ_NLINEAGE; k++) {
        if (s->has_lineage[k])
            continue;
        char sql[128];
        snprintf(sql, sizeof sql, "ALTER TABLE fact_sales ADD COLUMN %s %s", LINEAGE[k],
                 LINEAGE_TYPE[k]);
        SP_TRY(exec(s, sql, "cannot add a lineage column to fact_sales", err));
        s->has_lineage[k] = true;
    }
    return SP_OK;
}

static int sq_create_schema(wh *w, sp_error *err)
{
    sq *s = sq_of(w);
    SP_TRY(exec(s, "BEGIN IMMEDIATE", "cannot start a transaction", err));
    int rc = exec(s, SCHEMA_SQL, "cannot create the tables", err);
    if (rc == SP_OK)
        rc = verify_all(s, true, err);
    if (rc == SP_OK)
        rc = add_lineage(s, err);
    if (rc == SP_OK)
        rc = exec(s, "COMMIT", "cannot commit the new tables", err);
    if (rc != SP_OK)
        end_txn(s);
    return rc;
}

/* ---- preflight and counts ----------------------------------------------- */

static int sq_check(wh *w, sp_error *err)
{
    sq *s = sq_of(w);
    SP_TRY(exec(s, "SELECT 1", "does not answer", err));
    if (sqlite3_db_readonly(s->db, "main") == 1)
        return sp_fail(err, SP_ERR_IO, "warehouse %s: the database is read-only (check the "
                       "permissions of the file and its directory)", s->describe);
    SP_TRY(exec(s, "BEGIN IMMEDIATE", "cannot start a write transaction", err));
    /* A write that is never committed: catches a read-only file that
     * BEGIN alone lets through. */
    int rc = exec(s, "CREATE TABLE salespipe_preflight_probe(x)", "cannot write", err);
    end_txn(s);
    return rc;
}

static int sq_table_rows(wh *w, wh_table t, int64_t *rows, sp_error *err)
{
    sq *s = sq_of(w);
    static const char *const SQL[WH_NTABLES] = {
        "SELECT count(*) FROM dim_date",
        "SELECT count(*) FROM dim_product",
        "SELECT count(*) FROM fact_sales",
    };
    bool exists = false;
    SP_TRY(table_exists(s, wh_table_name(t), &exists, err));
    if (!exists)
        return sp_fail(err, SP_ERR_DATA,
                       "warehouse %s: table %s does not exist: run create-tables first",
                       s->describe, wh_table_name(t));
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, SQL[t], -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        *rows = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK)
        sq_fail(s, rc, err, "cannot count the rows of %s", wh_table_name(t));
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? SP_OK : err->code;
}

/* ---- the load ------------------------------------------------------------ */

static void finalize_inserts(sq *s)
{
    for (int t = 0; t < WH_NTABLES; t++) {
        sqlite3_finalize(s->insert[t]);
        s->insert[t] = NULL;
    }
    for (int k = 0; k < SQ_NSTMTS; k++) {
        sqlite3_finalize(s->stmt[k]);
        s->stmt[k] = NULL;
    }
}

/* The statements, from constant names only: fact_sales lists the lineage
 * columns its table has. Dimensions are upserted (STMT_SQL), so only
 * fact_sales has an INSERT. */
static int prepare_inserts(sq *s, sp_error *err)
{
    char fact[640];
    int n = snprintf(fact, sizeof fact,
                     "INSERT INTO fact_sales(sale_id, date_id, product_sk, quantity, "
                     "total_sales, profit, unit_price, profit_margin");
    for (size_t k = 0; k < SQ_NLINEAGE; k++)
        if (s->has_lineage[k])
            n += snprintf(fact + n, sizeof fact - (size_t)n, ", %s", LINEAGE[k]);
    n += snprintf(fact + n, sizeof fact - (size_t)n, ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8");
    for (int k = 0, p = 9; k < SQ_NLINEAGE; k++)
        if (s->has_lineage[k])
            n += snprintf(fact + n, sizeof fact - (size_t)n, ", ?%d", p++);
    snprintf(fact + n, sizeof fact - (size_t)n, ")");
    finalize_inserts(s);
    int rc = sqlite3_prepare_v3(s->db, fact, -1, SQLITE_PREPARE_PERSISTENT,
                                &s->insert[WH_FACT_SALES], NULL);
    for (int k = 0; k < SQ_NSTMTS && rc == SQLITE_OK; k++)
        rc = sqlite3_prepare_v3(s->db, STMT_SQL[k], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[k],
                                NULL);
    if (rc != SQLITE_OK) {
        sq_fail(s, rc, err, "cannot prepare the load's statements");
        finalize_inserts(s);
        return err->code;
    }
    return SP_OK;
}

/* Step a statement to its end (or its first row when row is set), then
 * reset it; SQLITE_OK / SQLITE_ROW / an error code. */
static int step_once(sqlite3_stmt *st, bool row)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE || (row && rc == SQLITE_ROW))
        return rc == SQLITE_DONE ? SQLITE_OK : SQLITE_ROW;
    sqlite3_reset(st);
    return rc;
}

/* Read etl_file and set each file's action (warehouse.h); delete the
 * facts of the files the load loads (all facts in a full load). */
static int plan_files(wh *w, sq *s, sp_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "SELECT source_file, coalesce(sha256, ''), "
                                "coalesce(run_id, '') FROM etl_file", -1, &st, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        rc = SQLITE_OK;
        const char *name = (const char *)sqlite3_column_text(st, 0);
        int k = name ? wh_file_find(w, name, strlen(name)) : -1;
        if (k < 0)
            continue;
        wh_file *f = &w->files[k];
        snprintf(f->loaded_by, sizeof f->loaded_by, "%s", sqlite3_column_text(st, 2));
        bool same = f->sha256 && strcmp(f->sha256, (const char *)sqlite3_column_text(st, 1)) == 0;
        f->action = w->mode == WH_MODE_INCREMENTAL && !w->force && same ? WH_FILE_SAME
                                                                         : WH_FILE_CHANGED;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return sq_fail(s, rc, err, "cannot read etl_file");
    if (s->full)
        return exec(s, "DELETE FROM fact_sales", "cannot delete the previous facts", err);
    rc = sqlite3_prepare_v2(s->db, "DELETE FROM fact_sales WHERE source_file = ?1", -1, &st,
                            NULL);
    /* New files too: a warehouse an earlier version loaded holds facts
     * that etl_file does not know of. */
    for (size_t k = 0; k < w->nfiles && rc == SQLITE_OK; k++) {
        if (w->files[k].action == WH_FILE_SAME)
            continue;
        rc = sqlite3_bind_text(st, 1, w->files[k].name, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = step_once(st, false);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return sq_fail(s, rc, err, "cannot delete the replaced files' previous facts");
    return SP_OK;
}

static int sq_begin(wh *w, sp_error *err)
{
    sq *s = sq_of(w);
    if (!sqlite3_get_autocommit(s->db))
        return sp_fail(err, SP_ERR_IO, "warehouse %s: a transaction is still open because an "
                       "earlier rollback failed: %s", s->describe,
                       s->rollback_error[0] ? s->rollback_error : "(no message)");
    s->full = w->mode == WH_MODE_FULL;
    s->dims_trimmed = false;
    SP_TRY(exec(s, "BEGIN IMMEDIATE", "cannot start the load's transaction", err));
    s->in_txn = true;
    bool etl = false;
    s->cancel_hook = sp_cancel_hook_add(on_cancel, s->db);
    int rc = sp_cancel_check(err, "starting the load");
    if (rc == SP_OK)
        rc = verify_all(s, true, err);
    if (rc == SP_OK)
        rc = table_exists(s, "etl_file", &etl, err);
    if (rc == SP_OK && !etl)
        rc = sp_fail(err, SP_ERR_DATA, "warehouse %s: table etl_file does not exist: run "
                     "create-tables first (it adds what this version needs)", s->describe);
    if (rc == SP_OK)
        rc = exec(s, "CREATE TEMP TABLE IF NOT EXISTS sp_run_date(id INTEGER PRIMARY KEY);"
                     "CREATE TEMP TABLE IF NOT EXISTS sp_run_product(id INTEGER PRIMARY KEY);"
                     "DELETE FROM temp.sp_run_date; DELETE FROM temp.sp_run_product",
                  "cannot create the load's temporary tables", err);
    if (rc == SP_OK)
        rc = prepare_inserts(s, err);
    if (rc == SP_OK)
        rc = plan_files(w, s, err);
    /* sale_id is left to SQLite (NULL: the largest key + 1, without the
     * uniqueness seek an explicit key costs); sq_insert checks it. */
    s->sale_base = 0;
    if (rc == SP_OK && !s->full) {
        sqlite3_stmt *st = NULL;
        int r = sqlite3_prepare_v2(s->db, "SELECT coalesce(max(sale_id), 0) FROM fact_sales", -1,
                                   &st, NULL);
        if (r == SQLITE_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
            s->sale_base = sqlite3_column_int64(st, 0);
            r = SQLITE_OK;
        }
        sqlite3_finalize(st);
        if (r != SQLITE_OK)
            rc = sq_fail(s, r, err, "cannot read the last sale_id");
    }
    if (rc != SP_OK)
        end_txn(s);
    return rc;
}

static inline int bind_int(sqlite3_stmt *st, int p, const sp_column *c, size_t i)
{
    if (!c || wh_is_null(c, i))
        return sqlite3_bind_null(st, p);
    return sqlite3_bind_int64(st, p, wh_int_at(c, i));
}

/* buf must stay untouched until the statement has been stepped. */
static inline int bind_date(sqlite3_stmt *st, int p, const sp_column *c, size_t i, char *buf)
{
    if (!c || wh_is_null(c, i))
        return sqlite3_bind_null(st, p);
    int n = sp_date_format(((const int32_t *)c->values)[i], buf);
    return sqlite3_bind_text(st, p, buf, n, SQLITE_STATIC);
}

/* Exact text ("-261.9600"); an integer column is a decimal of scale 0. */
static inline int bind_decimal(sqlite3_stmt *st, int p, const sp_column *c, size_t i, char *buf)
{
    if (!c || wh_is_null(c, i))
        return sqlite3_bind_null(st, p);
    int scale = c->type == SP_COL_DECIMAL ? c->scale : 0;
    int n = sp_decimal_format(wh_int_at(c, i), scale, buf);
    return sqlite3_bind_text(st, p, buf, n, SQLITE_STATIC);
}

/* The batch's bytes outlive the step; bindings are cleared after the batch.
 * The 64-bit bind lets SQLite itself refuse an over-long text, so its
 * message ("string or blob too big") is there for sq_fail. */
static inline int bind_text(sqlite3_stmt *st, int p, const sp_column *c, size_t i)
{
    if (!c || wh_is_null(c, i))
        return sqlite3_bind_null(st, p);
    size_t len;
    const char *t = wh_text_at(c, i, &len);
    return sqlite3_bind_text64(st, p, t, len, SQLITE_STATIC, SQLITE_UTF8);
}

/* Bind through B(): the first failing bind's code is kept. */
#define B(call)                                  \
    do {                                         \
        int b_ = (call);                         \
        if (b_ != SQLITE_OK && rc == SQLITE_OK)  \
            rc = b_;                             \
    } while (0)
static int bind_fact(sq *s, const wh *w, const wh_rows *r, size_t i,
                     char bufs[][SP_DECIMAL_TEXT_MAX])
{
    sqlite3_stmt *st = s->insert[WH_FACT_SALES];
    const sp_column *const *c = r->col;
    int rc = SQLITE_OK;
    B(sqlite3_bind_null(st, 1));
    B(sqlite3_bind_int(st, 2, r->date_id[i]));
    B(sqlite3_bind_int(st, 3, r->product_sk[i]));
    B(bind_int(st, 4, c[WH_FS_QUANTITY], i));
    B(bind_decimal(st, 5, c[WH_FS_TOTAL_SALES], i, bufs[0]));
    B(bind_decimal(st, 6, c[WH_FS_PROFIT], i, bufs[1]));
    B(bind_decimal(st, 7, c[WH_FS_UNIT_PRICE], i, bufs[2]));
    B(bind_decimal(st, 8, c[WH_FS_PROFIT_MARGIN], i, bufs[3]));
    for (int k = 0, p = 9; k < SQ_NLINEAGE; k++) {
        if (!s->has_lineage[k])
            continue;
        const sp_column *col = c[WH_FS_SHIP_DATE + k];
        switch (WH_FS_SHIP_DATE + k) {
        case WH_FS_SHIP_DATE: B(bind_date(st, p, col, i, bufs[4])); break;
        case WH_FS_SOURCE_LINE: B(bind_int(st, p, col, i)); break;
        case WH_FS_RUN_ID:
            if (!col && w->fact_run_id[0]) { /* the run that made the Parquet */
                B(sqlite3_bind_text(st, p, w->fact_run_id, -1, SQLITE_STATIC));
                break;
            }
            /* fall through */
        default: B(bind_text(st, p, col, i)); break;
        }
        p++;
    }
    return rc;
}

/* Upsert one dimension row; *key receives its surrogate key. */
static int upsert_dim(wh *w, sq *s, const wh_rows *r, size_t i, char *buf, int32_t *key)
{
    const sp_column *const *c = r->col;
    int rc = SQLITE_OK;
    sqlite3_stmt *st;
    if (r->table == WH_DIM_DATE) {
        st = s->stmt[SQ_DD_ADD];
        B(bind_date(st, 1, c[WH_DD_ORDER_DATE], i, buf));
        B(bind_int(st, 2, c[WH_DD_DAY], i));
        B(bind_int(st, 3, c[WH_DD_MONTH], i));
        B(bind_int(st, 4, c[WH_DD_QUARTER], i));
        B(bind_int(st, 5, c[WH_DD_YEAR], i));
        if (rc == SQLITE_OK)
            rc = step_once(st, false);
        sqlite3_reset(st);
        st = s->stmt[SQ_DD_KEY];
        if (rc == SQLITE_OK)
            rc = bind_date(st, 1, c[WH_DD_ORDER_DATE], i, buf);
        if (rc == SQLITE_OK && (rc = step_once(st, true)) == SQLITE_ROW) {
            *key = sqlite3_column_int(st, 0);
            rc = SQLITE_OK;
        }
        sqlite3_reset(st);
    } else {
        st = s->stmt[SQ_DP_GET];
        B(bind_text(st, 1, c[WH_DP_PRODUCT_ID], i));
        bool found = false, differs = false;
        if (rc == SQLITE_OK && (rc = step_once(st, true)) == SQLITE_ROW) {
            found = true;
            *key = sqlite3_column_int(st, 0);
            size_t len;
            const char *cat = wh_is_null(c[WH_DP_CATEGORY], i)
                                  ? NULL : wh_text_at(c[WH_DP_CATEGORY], i, &len);
            const unsigned char *old = sqlite3_column_text(st, 1);
            differs = cat ? !old || (size_t)sqlite3_column_bytes(st, 1) != len ||
                                memcmp(old, cat, len) != 0
                          : old != NULL;
            rc = SQLITE_OK;
        }
        sqlite3_reset(st);
        if (rc == SQLITE_OK && found && differs) {
            w->conflicts++;
            if (s->full) { /* a full load's categories are the truth */
                st = s->stmt[SQ_DP_SET];
                B(sqlite3_bind_int(st, 1, *key));
                B(bind_text(st, 2, c[WH_DP_CATEGORY], i));
                if (rc == SQLITE_OK)
                    rc = step_once(st, false);
                sqlite3_reset(st);
            }
        } else if (rc == SQLITE_OK && !found) {
            st = s->stmt[SQ_DP_ADD];
            B(bind_text(st, 1, c[WH_DP_PRODUCT_ID], i));
            B(bind_text(st, 2, c[WH_DP_CATEGORY], i));
            if (rc == SQLITE_OK)
                rc = step_once(st, false);
            sqlite3_reset(st);
            *key = (int32_t)sqlite3_last_insert_rowid(s->db);
        }
    }
    /* A full load remembers its dimension rows: the others go (trim_dims). */
    st = s->stmt[r->table == WH_DIM_DATE ? SQ_RUN_DATE : SQ_RUN_PRODUCT];
    if (rc == SQLITE_OK && s->full) {
        B(sqlite3_bind_int(st, 1, *key));
        if (rc == SQLITE_OK)
            rc = step_once(st, false);
        sqlite3_reset(st);
    }
    return rc;
}
#undef B

/* Full load, before its first fact: delete the dimension rows this load
 * does not have. fact_sales is empty then, so the foreign key checks of
 * the deletions find nothing to scan. */
static int trim_dims(sq *s, sp_error *err)
{
    if (!s->full || s->dims_trimmed)
        return SP_OK;
    s->dims_trimmed = true;
    SP_TRY(exec(s, "DELETE FROM dim_date WHERE date_id NOT IN (SELECT id FROM temp.sp_run_date)",
                "cannot delete the dates no fact uses any more", err));
    return exec(s, "DELETE FROM dim_product WHERE product_sk NOT IN "
                "(SELECT id FROM temp.sp_run_product)",
                "cannot delete the products no fact uses any more", err);
}

static int sq_insert(wh *w, const wh_rows *r, sp_error *err)
{
    sq *s = sq_of(w);
    const char *table = wh_table_name(r->table);
    char bufs[5][SP_DECIMAL_TEXT_MAX];
    int result = SP_OK;
    if (r->table != WH_FACT_SALES) {
        for (size_t k = 0; k < r->n && result == SP_OK; k++) {
            int rc = upsert_dim(w, s, r, r->base + k, bufs[0], &r->keys[k]);
            if (rc != SQLITE_OK)
                result = sq_fail(s, rc, err, "%s row %" PRId64, table, r->first + (int64_t)k);
        }
        return result;
    }
    SP_TRY(trim_dims(s, err));
    sqlite3_stmt *st = s->insert[WH_FACT_SALES];
    for (size_t i = r->base; i < r->base + r->n; i++) {
        /* sqlite3_interrupt only stops a statement in flight; between the
         * rows of a batch the flag is looked at here. */
        if (((i - r->base) & 4095) == 0 && (result = sp_cancel_check(err, NULL)) != SP_OK)
            break;
        int64_t rowno = r->first + (int64_t)(i - r->base);
        int rc = bind_fact(s, w, r, i, bufs);
        if (rc != SQLITE_OK) {
            result = sq_fail(s, rc, err, "%s row %" PRId64 ": cannot bind a value", table, rowno);
            break;
        }
        rc = sqlite3_step(st);
        if (rc != SQLITE_DONE) {
            result = sq_fail(s, rc, err, "%s row %" PRId64, table, rowno);
            sqlite3_reset(st);
            break;
        }
        sqlite3_reset(st);
    }
    /* Bindings point into the batch and our stack: drop them now. */
    sqlite3_clear_bindings(st);
    int64_t last = s->sale_base + r->first + (int64_t)r->n - 1;
    if (result == SP_OK && sqlite3_last_insert_rowid(s->db) != last)
        return sp_fail(err, SP_ERR_INTERNAL,
                       "warehouse %s: fact_sales row %" PRId64 " got sale_id %lld",
                       s->describe, last - s->sale_base,
                       (long long)sqlite3_last_insert_rowid(s->db));
    return result;
}

/* etl_file, in the load's transaction (see postgres.c's write_registry). */
static int write_registry(wh *w, sq *s, sp_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db,
                                "INSERT INTO etl_file(source_file, sha256, bytes, rows, run_id, "
                                "ds, loaded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                                "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) ON CONFLICT(source_file) "
                                "DO UPDATE SET sha256 = excluded.sha256, bytes = excluded.bytes, "
                                "rows = excluded.rows, run_id = excluded.run_id, ds = excluded.ds, "
                                "loaded_at = excluded.loaded_at",
                                -1, &st, NULL);
    for (size_t k = 0; k < w->nfiles && rc == SQLITE_OK; k++) {
        const wh_file *f = &w->files[k];
        if (f->action == WH_FILE_SAME || !f->name[0])
            continue;
        sqlite3_bind_text(st, 1, f->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, f->sha256, -1, SQLITE_STATIC); /* NULL binds NULL */
        if (f->bytes >= 0)
            sqlite3_bind_int64(st, 3, f->bytes);
        else
            sqlite3_bind_null(st, 3);
        sqlite3_bind_int64(st, 4, f->rows >= 0 ? f->rows : f->facts);
        sqlite3_bind_text(st, 5, w->run_id[0] ? w->run_id : NULL, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, w->ds[0] ? w->ds : NULL, -1, SQLITE_STATIC);
        rc = step_once(st, false);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return sq_fail(s, rc, err, "cannot record an input file in etl_file");
    if (!s->full)
        return SP_OK;
    /* A full load forgets the files it no longer holds. */
    SP_TRY(exec(s, "CREATE TEMP TABLE IF NOT EXISTS sp_run_file(name TEXT PRIMARY KEY);"
                   "DELETE FROM temp.sp_run_file", "cannot list the run's files", err));
    rc = sqlite3_prepare_v2(s->db, "INSERT OR IGNORE INTO temp.sp_run_file(name) VALUES (?1)", -1,
                            &st, NULL);
    for (size_t k = 0; k < w->nfiles && rc == SQLITE_OK; k++) {
        sqlite3_bind_text(st, 1, w->files[k].name, -1, SQLITE_STATIC);
        rc = step_once(st, false);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return sq_fail(s, rc, err, "cannot list the run's files");
    return exec(s, "DELETE FROM etl_file WHERE source_file NOT IN (SELECT name FROM "
                   "temp.sp_run_file)", "cannot update etl_file", err);
}

static int sq_commit(wh *w, sp_error *err)
{
    sq *s = sq_of(w);
    SP_TRY(trim_dims(s, err));
    SP_TRY(write_registry(w, s, err));
    disarm(s); /* COMMIT itself is not interrupted: its outcome is the truth */
    int rc = exec(s, "COMMIT", "cannot commit the load", err);
    if (rc == SP_OK) {
        s->in_txn = false;
        /* Fold the load into the database file now, as far as readers allow:
         * a PASSIVE checkpoint never makes a reader wait (see sq_open). */
        sqlite3_exec(s->db, "PRAGMA wal_checkpoint(PASSIVE)", NULL, NULL, NULL);
    }
    return rc;
}

static void sq_rollback(wh *w)
{
    sq *s = sq_of(w);
    if (s->in_txn)
        end_txn(s);
}

static void sq_close(wh *w)
{
    sq *s = sq_of(w);
    if (!s)
        return;
    finalize_inserts(s);
    if (s->db) {
        end_txn(s);
        sqlite3_close_v2(s->db);
    }
    free(s);
    w->impl = NULL;
}

/* ---- etl_load and quality checks ------------------------------------------ */

static int sq_last_load(wh *w, wh_load_info *out, sp_error *err)
{
    sq *s = sq_of(w);
    bool exists = false;
    SP_TRY(table_exists(s, "etl_load", &exists, err));
    if (!exists)
        return SP_OK;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "SELECT run_id, ds, rows_kept, loaded_at FROM etl_load "
                                       "ORDER BY load_id DESC LIMIT 1", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *v[4];
        for (int i = 0; i < 4; i++)
            v[i] = (const char *)sqlite3_column_text(st, i);
        out->found = true;
        snprintf(out->run_id, sizeof out->run_id, "%s", v[0] ? v[0] : "");
        snprintf(out->ds, sizeof out->ds, "%s", v[1] ? v[1] : "");
        out->rows_kept = sqlite3_column_int64(st, 2);
        snprintf(out->loaded_at, sizeof out->loaded_at, "%s", v[3] ? v[3] : "");
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK)
        sq_fail(s, rc, err, "cannot read the last load from etl_load");
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? SP_OK : err->code;
}

static int sq_registry(wh *w, wh_registry_fn fn, void *arg, bool *found, sp_error *err)
{
    sq *s = sq_of(w);
    SP_TRY(table_exists(s, "etl_file", found, err));
    if (!*found)
        return SP_OK;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "SELECT source_file, sha256, run_id FROM etl_file", -1, &st,
                                NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        fn(arg, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
           (const char *)sqlite3_column_text(st, 2));
        rc = SQLITE_OK;
    }
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    if (rc != SQLITE_OK)
        sq_fail(s, rc, err, "cannot read etl_file");
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? SP_OK : err->code;
}

static int sq_record(wh *w, const char *run_id, const char *ds, int64_t rows_kept, sp_error *err)
{
    sq *s = sq_of(w);
    SP_TRY(exec(s, ETL_LOAD_SQL, "cannot create etl_load", err));
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "INSERT INTO etl_load(run_id, ds, rows_kept) "
                                       "VALUES (?1, ?2, ?3)", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, ds, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 3, rows_kept);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_DONE)
        rc = SQLITE_OK;
    if (rc != SQLITE_OK)
        sq_fail(s, rc, err, "cannot record the load in etl_load");
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? SP_OK : err->code;
}

/* Only whitespace and comments left after a statement? */
static bool only_trivia(const char *p)
{
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ';')
            p++;
        if (p[0] == '-' && p[1] == '-') {
            p += strcspn(p, "\n");
        } else if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            if (!e)
                return true;
            p = e + 2;
        } else {
            return *p == '\0';
        }
    }
}

static int sq_query(wh *w, const char *sql, size_t max_rows, wh_row_fn fn, void *arg,
                    int64_t *nrows, sp_error *err)
{
    sq *s = sq_of(w);
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, &tail);
    if (rc != SQLITE_OK)
        return sq_fail(s, rc, err, "the query does not prepare");
    if (!st || !sqlite3_stmt_readonly(st) || sqlite3_column_count(st) == 0 ||
        (tail && !only_trivia(tail))) {
        sqlite3_finalize(st);
        return sp_fail(err, SP_ERR_USAGE, "warehouse %s: a check must be one query (SELECT or "
                       "WITH … SELECT) returning the rows that violate it", s->describe);
    }
    int ncols = sqlite3_column_count(st);
    if (ncols > WH_QUERY_MAX_COLS)
        ncols = WH_QUERY_MAX_COLS;
    const char *names[WH_QUERY_MAX_COLS], *values[WH_QUERY_MAX_COLS];
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((size_t)*nrows < max_rows && fn) {
            for (int i = 0; i < ncols; i++) {
                names[i] = sqlite3_column_name(st, i);
                values[i] = (const char *)sqlite3_column_text(st, i);
            }
            fn(arg, ncols, names, values);
        }
        (*nrows)++;
    }
    if (rc != SQLITE_DONE)
        sq_fail(s, rc, err, "the query failed");
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SP_OK : err->code;
}

static const wh_ops sqlite_ops = {
    .name = "sqlite",
    .create_schema = sq_create_schema,
    .check = sq_check,
    .begin = sq_begin,
    .insert = sq_insert,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .table_rows = sq_table_rows,
    .close = sq_close,
    .last_load = sq_last_load,
    .record = sq_record,
    .query = sq_query,
    .registry = sq_registry,
};

/* ---- opening --------------------------------------------------------- */

int wh_sqlite_open(wh *w, const char *path, sp_error *err)
{
    const char *slash = strrchr(path, '/'); /* create the directories above the file */
    if (slash && sp_mkdirs(path, (size_t)(slash - path), err) != SP_OK)
        return sp_error_prefix(err, "warehouse %s", w->describe);
    sq *s = calloc(1, sizeof *s);
    if (!s)
        return sp_fail(err, SP_ERR_NOMEM, "warehouse %s: out of memory", w->describe);
    s->describe = w->describe;
    s->cancel_hook = -1;
    w->ops = &sqlite_ops;
    w->impl = s;
    /* NOMUTEX: a handle is used by one thread at a time, so SQLite need not
     * lock on every bind and step. */
    int rc = sqlite3_open_v2(path, &s->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        sq_fail(s, rc, err, "cannot open");
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, SQ_BUSY_TIMEOUT_MS);
    /* The last connection to close would checkpoint the whole WAL holding an
     * EXCLUSIVE lock on the database file, and a reader starting meanwhile
     * gets "database is locked" (seen in tests/loads under load). We never
     * checkpoint on close: sq_commit's PASSIVE checkpoint does the work
     * without locking readers out; the WAL file stays, as WAL files do,
     * its size kept down by journal_size_limit. */
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
    sqlite3_exec(s->db, "PRAGMA journal_size_limit = 67108864", NULL, NULL, NULL);
    /* The first read tells a file that is not a database apart. */
    if (exec(s, "SELECT count(*) FROM sqlite_master", "cannot read", err) != SP_OK)
        goto fail;
    if (exec(s, "PRAGMA foreign_keys = ON", "cannot enable foreign keys", err) != SP_OK)
        goto fail;
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA cache_size = -%d", SQ_CACHE_KIB);
    if (exec(s, pragma, "cannot size the page cache", err) != SP_OK)
        goto fail;
    /* WAL lets readers (dashboards) go on during a load. A database that
     * cannot switch (read-only, in use) keeps its mode: writes will then
     * report the real cause. */
    sqlite3_exec(s->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
    return SP_OK;

fail:
    sq_close(w);
    w->ops = NULL;
    return err->code;
}
