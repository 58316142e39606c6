/* wh_impl.h — private face of the warehouse module: the backend vtable that
 * warehouse.c dispatches through, the column catalogue of the three tables,
 * and the value accessors backends use on the hot path. warehouse.c does
 * everything backend-neutral (target parsing, column matching, surrogate
 * keys, the load's state); a backend only runs SQL. Only files in
 * src/warehouse/ include it. */
#ifndef SP_WH_IMPL_H
#define SP_WH_IMPL_H

#include <stddef.h>
#include <string.h>

#include "../util/buf.h"
#include "warehouse.h"

/* ---- the column catalogue ---------------------------------------------- */

typedef enum wh_kind {
    WH_K_INT,     /* SP_COL_INT32 or SP_COL_INT64 */
    WH_K_DATE,    /* SP_COL_DATE */
    WH_K_DECIMAL, /* SP_COL_DECIMAL (any scale 0..18), or an integer column */
    WH_K_TEXT,    /* SP_COL_TEXT */
} wh_kind;

typedef struct wh_coldef {
    const char *name;
    wh_kind kind;
    bool optional; /* lineage: NULL when the batch lacks it */
} wh_coldef;

enum { WH_MAX_COLS = 13, WH_QUERY_MAX_COLS = 32 };

/* Batch columns per table, in this order (the order of wh_rows.col):
 *   dim_date:    order_date, day, month, quarter, year
 *   dim_product: product_id, category
 *   fact_sales:  order_date, product_id, quantity, total_sales, profit,
 *                unit_price, profit_margin, ship_date?, region?, order_id?,
 *                source_file?, source_line?, run_id?
 *                (order_date / product_id arrive resolved) */
enum { WH_DD_ORDER_DATE, WH_DD_DAY, WH_DD_MONTH, WH_DD_QUARTER, WH_DD_YEAR, WH_DD_NCOLS };
enum { WH_DP_PRODUCT_ID, WH_DP_CATEGORY, WH_DP_NCOLS };
enum {
    WH_FS_ORDER_DATE, WH_FS_PRODUCT_ID, WH_FS_QUANTITY, WH_FS_TOTAL_SALES, WH_FS_PROFIT,
    WH_FS_UNIT_PRICE, WH_FS_PROFIT_MARGIN, WH_FS_SHIP_DATE, WH_FS_REGION, WH_FS_ORDER_ID,
    WH_FS_SOURCE_FILE, WH_FS_SOURCE_LINE, WH_FS_RUN_ID, WH_FS_NCOLS
};

const wh_coldef *wh_columns(wh_table t, size_t *ncols);

/* One batch (or, for fact_sales, the rows of one input file in it),
 * matched and resolved by warehouse.c, for a backend to insert: rows
 * base .. base + n - 1 of the columns. Fact row base + k is the load's
 * (first + k)-th fact. Dimension rows are upserted: the backend writes
 * each row's surrogate key (existing or new) to keys[k]. */
typedef struct wh_rows {
    wh_table table;
    size_t base, n;
    int64_t first;                     /* 1-based, within this table's load */
    int file;                          /* fact_sales: index into wh.files */
    const sp_column *col[WH_MAX_COLS]; /* catalogue order; NULL: optional, absent */
    const int32_t *date_id;            /* fact_sales: keys of the batch's rows */
    const int32_t *product_sk;         /* fact_sales: keys of the batch's rows */
    int32_t *keys;                     /* dimensions: n keys, filled by the backend */
} wh_rows;

/* ---- the backend vtable ---------------------------------------------- */

typedef struct wh_ops {
    const char *name; /* "sqlite", "postgresql" */
    int (*create_schema)(wh *w, sp_error *err);
    int (*check)(wh *w, sp_error *err);
    /* Open the transaction, check the schema, read etl_file and set each
     * file's action (w->files). On failure nothing is left open. */
    int (*begin)(wh *w, sp_error *err);
    /* Insert resolved rows. On failure the caller rolls back. */
    int (*insert)(wh *w, const wh_rows *rows, sp_error *err);
    int (*commit)(wh *w, sp_error *err); /* on failure the caller rolls back */
    void (*rollback)(wh *w);             /* harmless when nothing is open */
    int (*table_rows)(wh *w, wh_table t, int64_t *rows, sp_error *err);
    void (*close)(wh *w); /* frees impl only */
    /* etl_load and quality checks (warehouse.h); record and query run
     * inside the open load, on failure the caller rolls back. */
    int (*last_load)(wh *w, wh_load_info *out, sp_error *err);
    int (*record)(wh *w, const char *run_id, const char *ds, int64_t rows_kept, sp_error *err);
    int (*query)(wh *w, const char *sql, size_t max_rows, wh_row_fn fn, void *arg,
                 int64_t *nrows, sp_error *err);
    /* etl_file read outside any load (warehouse.h: wh_file_registry). */
    int (*registry)(wh *w, wh_registry_fn fn, void *arg, bool *found, sp_error *err);
} wh_ops;

/* Natural key → surrogate key: open addressing over copied key bytes. */
typedef struct wh_keymap {
    struct wh_slot *slots; /* power-of-two count, NULL until the first put */
    size_t nslots, count;
    sp_buf keys;           /* the keys' bytes, back to back */
} wh_keymap;

typedef enum wh_load_state { WH_IDLE, WH_LOADING } wh_load_state;

struct wh {
    const wh_ops *ops;
    void *impl;     /* the backend's state, owned by the backend */
    char *describe; /* "sqlite:./warehouse.db", owned */
    wh_load_state state;
    bool facts_started;
    int64_t rows[WH_NTABLES]; /* rows loaded so far in this load */
    wh_keymap dates;          /* int32 day → date_id */
    wh_keymap products;       /* product_id bytes → product_sk */
    int32_t *resolved;        /* fact batch scratch: date_id[cap], product_sk[cap] */
    size_t resolved_cap;
    /* the load's options (wh_load_begin_with), owned copies */
    wh_mode mode;
    bool force;
    char run_id[128], fact_run_id[128], ds[16];
    wh_file *files;           /* names owned (strdup); grows in full mode */
    size_t nfiles, files_cap;
    wh_file *caller_files;    /* where actions and counts are copied back */
    size_t caller_nfiles;
    int64_t conflicts;        /* products whose category differed */
};

/* The file whose name is p[0..n) in w->files; -1 when absent. */
int wh_file_find(const wh *w, const char *p, size_t n);

/* The SQLite backend on the file at `path` (created when missing, with its
 * parent directory). Sets w->ops and w->impl. */
int wh_sqlite_open(wh *w, const char *path, sp_error *err);

/* The PostgreSQL backend (postgres.c): connect with the URL (libpq's URI
 * form; `s` supplies only a fallback password) or, when url is NULL, with
 * s's host/port/dbname/user/password; PG* variables fill in the rest as
 * libpq defines. Sets w->ops, w->impl and w->describe (replacing it), also
 * on failure, so the caller can name the server. */
int wh_pg_open(wh *w, const char *url, const wh_pg_settings *s, sp_error *err);

/* PostgreSQL's binary NUMERIC (numeric_recv's input: ndigits, weight, sign,
 * dscale as int16, then base-10000 digits) for v / 10^scale, scale 0..18,
 * exactly. Writes at most WH_PG_NUMERIC_MAX bytes to out; returns the count. */
enum { WH_PG_NUMERIC_MAX = 8 + 2 * 12 };
size_t wh_pg_numeric(int64_t v, int scale, uint8_t *out);

/* ---- value accessors (hot path) ------------------------------------ */

static inline bool wh_is_null(const sp_column *c, size_t i)
{
    return c->valid && !c->valid[i];
}

/* An INT32, INT64, DATE or unscaled DECIMAL value as int64. */
static inline int64_t wh_int_at(const sp_column *c, size_t i)
{
    if (c->type == SP_COL_INT64 || c->type == SP_COL_DECIMAL)
        return ((const int64_t *)c->values)[i];
    return ((const int32_t *)c->values)[i];
}

static inline const char *wh_text_at(const sp_column *c, size_t i, size_t *len)
{
    *len = c->offsets[i + 1] - c->offsets[i];
    return (const char *)c->bytes + c->offsets[i];
}

#endif
