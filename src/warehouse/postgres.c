/* postgres.c — the PostgreSQL warehouse backend (libpq): SPEC §5's star
 * schema plus the file registry etl_file, and loads (full or incremental)
 * as ONE transaction that never blocks readers for more than a moment.
 * Each input file's facts live in a child table of fact_sales (table
 * inheritance): a load fills new children with binary COPY … FREEZE,
 * builds their keys, then, in a short window under a lock_timeout, drops
 * the children it replaces and attaches the new ones, and commits. Readers
 * of fact_sales (and of views on it) see the old or the new children,
 * never a mix; fact_sales itself keeps its OID, grants and views.
 * Decimals go out in PostgreSQL's binary NUMERIC, never through a double.
 * Messages name the server (user@host:port/db), never a password.
 * docs/postgres.md says why this mechanism and what it costs. */
#include "wh_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../util/cancel.h"
#include "../util/clock.h"
#include "../util/log.h"

enum {
    PG_FLUSH_BYTES = 1 << 20,        /* hand COPY data to libpq in ~1 MiB pieces */
    PG_COPY_BUF_LIMIT = 256u << 20,  /* one row bigger than this is refused */
    PG_DAYS_1970_TO_2000 = 10957,    /* PostgreSQL's DATE epoch is 2000-01-01 */
    PG_SWAP_LOCK_TIMEOUT_MS = 50,    /* longest a reader queues behind our swap lock */
    PG_SWAP_PATIENCE_MS = 120000,    /* how long the swap keeps trying for its lock */
};
/* Both loads and create-tables take this transaction-scoped advisory lock:
 * "salespip" in ASCII, so it is recognisable in pg_locks. A load's clean-up
 * after its commit takes it at session level (after_commit). */
#define PG_LOCK_KEY "8313495815447570544"
static const char *const PG_LOCK_SQL = "SELECT pg_advisory_xact_lock(" PG_LOCK_KEY ")";

/* Type OIDs (pg_type.dat); stable across PostgreSQL versions. */
enum {
    OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_TEXT = 25,
    OID_BPCHAR = 1042, OID_VARCHAR = 1043, OID_DATE = 1082, OID_NUMERIC = 1700,
};

/* One row per committed load (warehouse.h), written in the load's
 * transaction; the gates compare against the last one. load_id is max + 1
 * under the load's advisory lock: no sequence, so a role that loads needs
 * only SELECT and INSERT on it. */
#define ETL_LOAD_SQL                                                                      \
    "CREATE TABLE IF NOT EXISTS etl_load("                                                \
    "load_id BIGINT PRIMARY KEY, run_id TEXT NOT NULL, ds DATE NOT NULL, "                \
    "rows_kept BIGINT NOT NULL, loaded_at TIMESTAMPTZ NOT NULL DEFAULT now())"

static const char *const SCHEMA_SQL =
    "CREATE TABLE IF NOT EXISTS dim_date("
    "date_id SERIAL PRIMARY KEY, order_date DATE UNIQUE, "
    "day INT, month INT, quarter INT, year INT);"
    "CREATE TABLE IF NOT EXISTS dim_product("
    "product_sk SERIAL PRIMARY KEY, product_id TEXT UNIQUE, category TEXT);"
    "CREATE TABLE IF NOT EXISTS fact_sales("
    "sale_id SERIAL PRIMARY KEY, "
    "date_id INT NOT NULL REFERENCES dim_date(date_id), "
    "product_sk INT NOT NULL REFERENCES dim_product(product_sk), "
    "quantity INT, total_sales NUMERIC, profit NUMERIC, unit_price NUMERIC, "
    "profit_margin NUMERIC, "
    "region TEXT, order_id TEXT, source_file TEXT, source_line BIGINT, run_id TEXT, "
    "ship_date DATE);"
    "CREATE TABLE IF NOT EXISTS etl_file("
    "source_file TEXT PRIMARY KEY, sha256 TEXT, bytes BIGINT, rows BIGINT, run_id TEXT, "
    "ds DATE, loaded_at TIMESTAMPTZ, fact_table TEXT);"
    ETL_LOAD_SQL;

/* A warehouse made by an earlier version: the columns it lacks. Run only
 * when one is missing (ALTER TABLE locks fact_sales even when it changes
 * nothing, and create-tables runs before every load). Adding a column to
 * fact_sales adds it to its children too. */
static const char *const MIGRATE_SQL =
    "ALTER TABLE fact_sales ADD COLUMN IF NOT EXISTS region TEXT, "
    "ADD COLUMN IF NOT EXISTS order_id TEXT, ADD COLUMN IF NOT EXISTS source_file TEXT, "
    "ADD COLUMN IF NOT EXISTS source_line BIGINT, ADD COLUMN IF NOT EXISTS run_id TEXT, "
    "ADD COLUMN IF NOT EXISTS ship_date DATE;"
    "ALTER TABLE etl_file ADD COLUMN IF NOT EXISTS fact_table TEXT";

/* The child tables a load makes are named fact_sales_t<txid>_<n>: only
 * those are ever dropped (a child someone else attached is left alone). */
static const char *const OUR_CHILD_RE = "^fact_sales_t[0-9]+_[0-9]+$";

/* Where a COPY column's value comes from. */
enum { SRC_KEY = -1, SRC_DATE_ID = -2, SRC_PRODUCT_SK = -3 };

typedef struct pg_want {
    const char *name;
    int src;      /* an index into wh_rows.col, or SRC_* */
    wh_kind kind;
    bool optional; /* lineage: loaded when the table has it */
} pg_want;

static const pg_want WANT_DD[] = {
    {"date_id", SRC_KEY, WH_K_INT, false},          {"order_date", WH_DD_ORDER_DATE, WH_K_DATE, false},
    {"day", WH_DD_DAY, WH_K_INT, false},            {"month", WH_DD_MONTH, WH_K_INT, false},
    {"quarter", WH_DD_QUARTER, WH_K_INT, false},    {"year", WH_DD_YEAR, WH_K_INT, false},
};
static const pg_want WANT_DP[] = {
    {"product_sk", SRC_KEY, WH_K_INT, false},
    {"product_id", WH_DP_PRODUCT_ID, WH_K_TEXT, false},
    {"category", WH_DP_CATEGORY, WH_K_TEXT, false},
};
static const pg_want WANT_FS[] = {
    {"sale_id", SRC_KEY, WH_K_INT, false},
    {"date_id", SRC_DATE_ID, WH_K_INT, false},
    {"product_sk", SRC_PRODUCT_SK, WH_K_INT, false},
    {"quantity", WH_FS_QUANTITY, WH_K_INT, false},
    {"total_sales", WH_FS_TOTAL_SALES, WH_K_DECIMAL, false},
    {"profit", WH_FS_PROFIT, WH_K_DECIMAL, false},
    {"unit_price", WH_FS_UNIT_PRICE, WH_K_DECIMAL, false},
    {"profit_margin", WH_FS_PROFIT_MARGIN, WH_K_DECIMAL, false},
    {"ship_date", WH_FS_SHIP_DATE, WH_K_DATE, true},
    {"region", WH_FS_REGION, WH_K_TEXT, true},
    {"order_id", WH_FS_ORDER_ID, WH_K_TEXT, true},
    {"source_file", WH_FS_SOURCE_FILE, WH_K_TEXT, true},
    {"source_line", WH_FS_SOURCE_LINE, WH_K_INT, true},
    {"run_id", WH_FS_RUN_ID, WH_K_TEXT, true},
};
static const pg_want *const WANT[WH_NTABLES] = {WANT_DD, WANT_DP, WANT_FS};
static const size_t NWANT[WH_NTABLES] = {sizeof WANT_DD / sizeof WANT_DD[0],
                                         sizeof WANT_DP / sizeof WANT_DP[0],
                                         sizeof WANT_FS / sizeof WANT_FS[0]};
enum { PG_MAX_WANT = 14 };

/* One column of a table's COPY: what to send and in which binary type. */
typedef struct pg_col {
    const pg_want *want;
    unsigned oid; /* the table's actual column type */
} pg_col;

typedef struct pg {
    PGconn *conn;
    const char *describe; /* the wh's, for messages */
    char *secret[3];      /* passwords to scrub from messages: libpq's, the URL's raw ones */
    bool in_txn;
    int copying;          /* the table in COPY, or -1 */
    int copying_file;     /* fact_sales: the file whose child is in COPY */
    size_t ncols[WH_NTABLES];
    pg_col cols[WH_NTABLES][PG_MAX_WANT];
    char col_list[WH_NTABLES][512]; /* "(a, b, …)": the COPY's columns */
    sp_buf out;           /* COPY data not yet handed to libpq */
    int64_t copied[WH_NTABLES];    /* rows the server confirmed (COPY's command tags) */
    bool committed;                /* the last load committed: copied[] is what it left */
    bool full;                     /* … and it was a full load */
    /* this load */
    const char *run_id;            /* fact_sales.run_id when the batch has none */
    int64_t sale_base;             /* sale_id of the load's fact k is sale_base + k */
    int64_t txid;                  /* names the load's children */
    uint8_t *made;                 /* per file: its child exists (1) / is attached (2) */
    size_t made_cap;
    char **drop;                   /* children this load replaces (incremental) */
    size_t ndrop;
    char copy_what[320];           /* "fact_sales (facts of West_orders.csv)", for messages */
    bool parent_cleaned;           /* delete_parent_rows ran in this load */
    bool previewing;               /* pg_temp.fact_sales shows the load's result */
    PGcancel *cancel;              /* for the SIGTERM hook (util/cancel.h) */
    int cancel_hook;               /* its slot while a load or create-tables runs, else -1 */
} pg;

static pg *pg_of(wh *w)
{
    return w->impl;
}

/* ---- stops: the statement in flight is cancelled on SIGTERM/SIGINT ------ */

static void on_cancel(void *cancel)
{
    char buf[256]; /* PQcancel is safe in a signal handler with a local buffer */
    PQcancel(cancel, buf, sizeof buf);
}

/* From BEGIN (or create-tables) until COMMIT is answered: a signal then
 * sends the server a cancel request, so a lock wait, an index build or a
 * COPY stops at once and the transaction rolls back. Returns the
 * cancellation when the signal came before the hook was in place. */
static int arm(pg *p, sp_error *err)
{
    if (p->cancel_hook < 0 && (p->cancel || (p->cancel = PQgetCancel(p->conn))))
        p->cancel_hook = sp_cancel_hook_add(on_cancel, p->cancel);
    return sp_cancel_check(err, NULL);
}

static void disarm(pg *p)
{
    sp_cancel_hook_remove(p->cancel_hook);
    p->cancel_hook = -1;
}

/* ---- messages -------------------------------------------------------- */

/* Replace every occurrence of each secret in s with "***" (in place). */
static void scrub(const pg *p, char *s)
{
    for (size_t i = 0; i < sizeof p->secret / sizeof p->secret[0]; i++) {
        const char *pw = p->secret[i];
        size_t n = pw ? strlen(pw) : 0;
        if (n < 3)
            continue;
        for (char *hit; (hit = strstr(s, pw));) {
            memcpy(hit, "***", 3);
            memmove(hit + 3, hit + n, strlen(hit + n) + 1);
        }
    }
}

/* libpq's multi-line messages on one line, without the final newline. */
static void one_line(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
    for (char *c = s; *c; c++)
        if (*c == '\n' || *c == '\r' || *c == '\t')
            *c = ' ';
}

/* SQLSTATE → our status; connection loss and lock/serialization trouble may
 * pass on their own. */
static int map_state(const char *state, bool *retry)
{
    *retry = false;
    if (!state || strlen(state) != 5)
        return SP_ERR_NET;
    if (!strncmp(state, "08", 2) || !strncmp(state, "57P", 3) || !strncmp(state, "53", 2) ||
        !strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03")) {
        *retry = true;
        return SP_ERR_NET;
    }
    if (!strncmp(state, "22", 2) || !strncmp(state, "23", 2))
        return SP_ERR_DATA;
    return SP_ERR_NET; /* 42501 (a missing privilege) included: permanent */
}

/* Fail with "warehouse <describe>: <context>: <server message> (detail)
 * (hint: …) [SQLSTATE] (where: <PostgreSQL's context, e.g. COPY fact_sales,
 * line 7>)".
 * res may be NULL: the connection's message is used. */
__attribute__((format(printf, 4, 5))) static int pg_fail(pg *p, const PGresult *res,
                                                         sp_error *err, const char *fmt, ...)
{
    char ctx[512], msg[SP_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
    const char *where = res ? PQresultErrorField(res, PG_DIAG_CONTEXT) : NULL;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    bool bad = !p->conn || PQstatus(p->conn) == CONNECTION_BAD;
    if (!primary)
        primary = p->conn ? PQerrorMessage(p->conn) : "out of memory";
    if (!primary[0])
        primary = bad ? "the connection was lost" : "no message from the server";
    int n = snprintf(msg, sizeof msg, "warehouse %s: %s: %s", p->describe, ctx, primary);
    if (detail && n < (int)sizeof msg)
        n += snprintf(msg + n, sizeof msg - (size_t)n, " (%s)", detail);
    if (hint && n < (int)sizeof msg)
        n += snprintf(msg + n, sizeof msg - (size_t)n, " (hint: %s)", hint);
    if (state && n < (int)sizeof msg)
        n += snprintf(msg + n, sizeof msg - (size_t)n, " [%s]", state);
    if (where && n < (int)sizeof msg)
        snprintf(msg + n, sizeof msg - (size_t)n, " (where: %s)", where);
    one_line(msg);
    scrub(p, msg);
    bool retry;
    int code = map_state(state, &retry);
    if (bad && !state)
        retry = true, code = SP_ERR_NET;
    if (retry)
        return sp_fail_retry(err, code, "%s", msg);
    return sp_fail(err, code, "%s", msg);
}

/* Run a statement that returns no rows. */
static int exec(pg *p, const char *sql, const char *what, sp_error *err)
{
    PGresult *res = PQexec(p->conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = SP_OK;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = pg_fail(p, res, err, "%s", what);
    PQclear(res);
    return rc;
}

/* COMMIT, checked: an aborted transaction's COMMIT "succeeds" with the tag
 * ROLLBACK, which must not pass as committed. */
static int commit(pg *p, const char *what, sp_error *err)
{
    PGresult *res = PQexec(p->conn, "COMMIT");
    int rc = SP_OK;
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = pg_fail(p, res, err, "%s", what);
    else if (strcmp(PQcmdStatus(res), "COMMIT") != 0)
        rc = sp_fail(err, SP_ERR_INTERNAL, "warehouse %s: %s: the server rolled the "
                     "transaction back (%s)", p->describe, what, PQcmdStatus(res));
    PQclear(res);
    return rc;
}

/* Run a query with text parameters; *out is the result (caller PQclears). */
static int query(pg *p, const char *sql, int nparams, const char *const *params,
                 PGresult **out, const char *what, sp_error *err)
{
    *out = PQexecParams(p->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(*out) == PGRES_TUPLES_OK)
        return SP_OK;
    int rc = pg_fail(p, *out, err, "%s", what);
    PQclear(*out);
    *out = NULL;
    return rc;
}

/* One integer: the first column of a query's only row. */
static int query_int64(pg *p, const char *sql, int64_t *out, const char *what, sp_error *err)
{
    PGresult *res;
    SP_TRY(query(p, sql, 0, NULL, &res, what, err));
    *out = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return SP_OK;
}

/* ---- the schema --------------------------------------------------------- */

static bool kind_accepts(wh_kind k, unsigned oid)
{
    switch (k) {
    case WH_K_INT: return oid == OID_INT2 || oid == OID_INT4 || oid == OID_INT8;
    case WH_K_DATE: return oid == OID_DATE;
    case WH_K_TEXT: return oid == OID_TEXT || oid == OID_VARCHAR;
    case WH_K_DECIMAL: return oid == OID_NUMERIC;
    }
    return false;
}

static const char *kind_sql(wh_kind k)
{
    switch (k) {
    case WH_K_INT: return "integer, smallint or bigint";
    case WH_K_DATE: return "date";
    case WH_K_TEXT: return "text or varchar";
    case WH_K_DECIMAL: return "numeric";
    }
    return "?";
}

/* Read the three tables' columns; fill p->cols / col_list for the ones
 * that exist. exists[t] tells which do. Wrong shapes are SP_ERR_DATA naming
 * the table and column. */
static int read_schema(pg *p, bool exists[WH_NTABLES], sp_error *err)
{
    static const char *const SQL =
        "SELECT t.i, a.attname::text, a.atttypid::int8, format_type(a.atttypid, a.atttypmod) "
        "FROM unnest($1::text[]) WITH ORDINALITY AS t(name, i) "
        "JOIN pg_class c ON c.oid = to_regclass(t.name) "
        "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY t.i, a.attnum";
    const char *param = "{dim_date,dim_product,fact_sales}";
    PGresult *res;
    SP_TRY(query(p, SQL, 1, &param, &res, "cannot read the tables' columns", err));
    struct { const char *type; unsigned oid; bool found; } seen[WH_NTABLES][PG_MAX_WANT];
    memset(seen, 0, sizeof seen);
    for (int t = 0; t < WH_NTABLES; t++)
        exists[t] = false;
    for (int r = 0; r < PQntuples(res); r++) {
        int t = atoi(PQgetvalue(res, r, 0)) - 1;
        if (t < 0 || t >= WH_NTABLES)
            continue;
        exists[t] = true;
        if (PQgetisnull(res, r, 1))
            continue;
        const char *name = PQgetvalue(res, r, 1);
        for (size_t k = 0; k < NWANT[t]; k++)
            if (strcmp(name, WANT[t][k].name) == 0) {
                seen[t][k].found = true;
                seen[t][k].oid = (unsigned)strtoul(PQgetvalue(res, r, 2), NULL, 10);
                seen[t][k].type = PQgetvalue(res, r, 3);
            }
    }
    int rc = SP_OK;
    for (int t = 0; t < WH_NTABLES && rc == SP_OK; t++) {
        p->ncols[t] = 0;
        if (!exists[t])
            continue;
        const char *table = wh_table_name((wh_table)t);
        int n = snprintf(p->col_list[t], sizeof p->col_list[t], "(");
        for (size_t k = 0; k < NWANT[t] && rc == SP_OK; k++) {
            const pg_want *wt = &WANT[t][k];
            if (!seen[t][k].found) {
                if (!wt->optional)
                    rc = sp_fail(err, SP_ERR_DATA,
                                 "warehouse %s: table %s exists but has no column %s (another "
                                 "schema; drop or rename the table)",
                                 p->describe, table, wt->name);
                continue;
            }
            if (!kind_accepts(wt->kind, seen[t][k].oid)) {
                rc = sp_fail(err, SP_ERR_DATA,
                             "warehouse %s: table %s column %s is %s, expected %s (another "
                             "schema; drop or rename the table)",
                             p->describe, table, wt->name, seen[t][k].type, kind_sql(wt->kind));
                continue;
            }
            p->cols[t][p->ncols[t]++] = (pg_col){wt, seen[t][k].oid};
            n += snprintf(p->col_list[t] + n, sizeof p->col_list[t] - (size_t)n, "%s%s",
                          p->ncols[t] > 1 ? ", " : "", wt->name);
        }
        snprintf(p->col_list[t] + n, sizeof p->col_list[t] - (size_t)n, ")");
    }
    PQclear(res);
    return rc;
}

static int need_all(pg *p, const bool exists[WH_NTABLES], sp_error *err)
{
    for (int t = 0; t < WH_NTABLES; t++)
        if (!exists[t])
            return sp_fail(err, SP_ERR_DATA,
                           "warehouse %s: table %s does not exist: run create-tables first",
                           p->describe, wh_table_name((wh_table)t));
    PGresult *res;
    SP_TRY(query(p, "SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass('etl_file') "
                    "AND attname = 'fact_table' AND NOT attisdropped",
                 0, NULL, &res, "cannot look up etl_file", err));
    bool ok = strcmp(PQgetvalue(res, 0, 0), "1") == 0;
    PQclear(res);
    if (!ok)
        return sp_fail(err, SP_ERR_DATA, "warehouse %s: table etl_file (with fact_table) does not "
                       "exist: run create-tables first (it adds what this version needs)",
                       p->describe);
    return SP_OK;
}

static void end_txn(pg *p);
static int need_owner(pg *p, sp_error *err);

static int pg_create_schema(wh *w, sp_error *err)
{
    pg *p = pg_of(w);
    SP_TRY(exec(p, "BEGIN", "cannot start a transaction", err));
    p->in_txn = true;
    /* The lock keeps two concurrent create-tables (or a load) from racing
     * on IF NOT EXISTS. */
    int rc = arm(p, err);
    if (rc == SP_OK)
        rc = exec(p, PG_LOCK_SQL, "cannot take the salespipe advisory lock", err);
    if (rc == SP_OK)
        rc = exec(p, SCHEMA_SQL, "cannot create the tables", err);
    if (rc == SP_OK) {
        PGresult *res;
        rc = query(p, "SELECT count(*) FROM unnest('{fact_sales,fact_sales,fact_sales,fact_sales,"
                      "fact_sales,fact_sales,etl_file}'::text[], "
                      "'{region,order_id,source_file,source_line,run_id,ship_date,fact_table}'"
                      "::text[]) AS w(t, c) WHERE NOT EXISTS (SELECT 1 FROM "
                      "pg_attribute a WHERE a.attrelid = to_regclass(w.t) AND a.attname = w.c "
                      "AND NOT a.attisdropped)",
                   0, NULL, &res, "cannot read the tables' columns", err);
        bool missing = rc == SP_OK && strcmp(PQgetvalue(res, 0, 0), "0") != 0;
        if (rc == SP_OK)
            PQclear(res);
        if (missing)
            rc = exec(p, MIGRATE_SQL, "cannot add the lineage columns to fact_sales", err);
    }
    bool exists[WH_NTABLES];
    if (rc == SP_OK)
        rc = read_schema(p, exists, err);
    if (rc == SP_OK)
        rc = need_all(p, exists, err);
    if (rc == SP_OK)
        rc = commit(p, "cannot commit the new tables", err);
    if (rc == SP_OK) {
        p->in_txn = false;
        disarm(p);
    } else {
        end_txn(p);
    }
    return rc;
}

/* ---- preflight and counts ----------------------------------------------- */

/* The load records itself in etl_load: SELECT and INSERT on it, or the
 * right to create it. */
static int check_etl_load_privileges(pg *p, const char *user, bool can_create, sp_error *err)
{
    PGresult *res;
    SP_TRY(query(p, "SELECT has_table_privilege(c.oid, 'SELECT'), has_table_privilege(c.oid, "
                    "'INSERT') FROM pg_class c WHERE c.oid = to_regclass('etl_load')",
                 0, NULL, &res, "cannot read the role's privileges on etl_load", err));
    int rc = SP_OK;
    if (PQntuples(res) == 0 && !can_create)
        rc = sp_fail(err, SP_ERR_NET, "warehouse %s: table etl_load does not exist and role %s "
                     "may not create tables in the current schema (run create-tables as the "
                     "tables' owner)", p->describe, user);
    for (int k = 0; k < 2 && rc == SP_OK && PQntuples(res) == 1; k++)
        if (strcmp(PQgetvalue(res, 0, k), "t") != 0)
            rc = sp_fail(err, SP_ERR_NET, "warehouse %s: role %s lacks the %s privilege on "
                         "table etl_load, where each load records itself (GRANT SELECT, INSERT "
                         "ON etl_load)", p->describe, user, k ? "INSERT" : "SELECT");
    PQclear(res);
    return rc;
}

static int pg_check(wh *w, sp_error *err)
{
    pg *p = pg_of(w);
    PGresult *res;
    SP_TRY(query(p, "SELECT 1", 0, NULL, &res, "does not answer SELECT 1", err));
    PQclear(res);
    SP_TRY(query(p, "SELECT current_setting('transaction_read_only'), current_user, "
                    "current_schema() IS NOT NULL AND "
                    "has_schema_privilege(current_schema(), 'CREATE')",
                 0, NULL, &res, "cannot read the session's settings", err));
    bool read_only = strcmp(PQgetvalue(res, 0, 0), "on") == 0;
    char user[128];
    snprintf(user, sizeof user, "%s", PQgetvalue(res, 0, 1));
    bool can_create = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
    PQclear(res);
    if (read_only)
        return sp_fail_retry(err, SP_ERR_NET, "warehouse %s: the server accepts only read-only "
                       "transactions (a standby, or default_transaction_read_only)",
                       p->describe);
    bool exists[WH_NTABLES];
    SP_TRY(read_schema(p, exists, err));
    /* The load reads, adds to and deletes from the tables and moves their
     * key sequences (setval needs UPDATE on a sequence). */
    static const char *const PRIV_SQL =
        "SELECT t.name, has_table_privilege(c.oid, 'SELECT'), has_table_privilege(c.oid, "
        "'INSERT'), has_table_privilege(c.oid, 'DELETE'), "
        "coalesce(has_sequence_privilege(pg_get_serial_sequence(t.name, t.key), 'UPDATE'), "
        "true), pg_get_serial_sequence(t.name, t.key) "
        "FROM unnest($1::text[], $2::text[]) AS t(name, key) "
        "JOIN pg_class c ON c.oid = to_regclass(t.name)";
    const char *params[2] = {"{dim_date,dim_product,fact_sales}", "{date_id,product_sk,sale_id}"};
    SP_TRY(query(p, PRIV_SQL, 2, params, &res, "cannot read the role's privileges", err));
    int rc = SP_OK;
    static const char *const PRIVS[3] = {"SELECT", "INSERT", "DELETE"};
    for (int r = 0; r < PQntuples(res) && rc == SP_OK; r++) {
        for (int k = 0; k < 3 && rc == SP_OK; k++)
            if (strcmp(PQgetvalue(res, r, k + 1), "t") != 0)
                rc = sp_fail(err, SP_ERR_NET, "warehouse %s: role %s lacks the %s privilege on "
                             "table %s (GRANT it, or load as the tables' owner)",
                             p->describe, user, PRIVS[k], PQgetvalue(res, r, 0));
        if (rc == SP_OK && strcmp(PQgetvalue(res, r, 4), "t") != 0)
            rc = sp_fail(err, SP_ERR_NET, "warehouse %s: role %s lacks the UPDATE privilege on "
                         "sequence %s, which the load sets after filling %s",
                         p->describe, user, PQgetvalue(res, r, 5), PQgetvalue(res, r, 0));
    }
    PQclear(res);
    if (rc == SP_OK)
        rc = check_etl_load_privileges(p, user, can_create, err);
    for (int t = 0; t < WH_NTABLES && rc == SP_OK; t++)
        if (!exists[t] && !can_create)
            rc = sp_fail(err, SP_ERR_NET, "warehouse %s: table %s does not exist and role %s "
                         "may not create tables in the current schema (GRANT CREATE ON SCHEMA, "
                         "or set search_path)",
                         p->describe, wh_table_name((wh_table)t), user);
    if (rc == SP_OK && exists[WH_FACT_SALES])
        rc = need_owner(p, err);
    if (rc == SP_OK && !can_create)
        rc = sp_fail(err, SP_ERR_NET, "warehouse %s: role %s may not create tables in the "
                     "current schema, and each load puts an input file's facts in a table of "
                     "their own (GRANT CREATE ON SCHEMA)", p->describe, user);
    return rc;
}

static int pg_table_rows(wh *w, wh_table t, int64_t *rows, sp_error *err)
{
    pg *p = pg_of(w);
    /* Right after this handle committed a load, its counts are the ones
     * the server confirmed for each COPY: no scan of millions of rows. */
    if (p->committed && p->full) {
        *rows = p->copied[t];
        return SP_OK;
    }
    static const char *const SQL[WH_NTABLES] = {
        "SELECT count(*) FROM dim_date",
        "SELECT count(*) FROM dim_product",
        "SELECT count(*) FROM fact_sales",
    };
    PGresult *res;
    SP_TRY(query(p, SQL[t], 0, NULL, &res, "cannot count the rows", err));
    *rows = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return SP_OK;
}

/* ---- binary COPY encoding -------------------------------------------------- */

static inline uint8_t *put16(uint8_t *o, uint16_t v)
{
    o[0] = (uint8_t)(v >> 8);
    o[1] = (uint8_t)v;
    return o + 2;
}

static inline uint8_t *put32(uint8_t *o, uint32_t v)
{
    o[0] = (uint8_t)(v >> 24);
    o[1] = (uint8_t)(v >> 16);
    o[2] = (uint8_t)(v >> 8);
    o[3] = (uint8_t)v;
    return o + 4;
}

static inline uint8_t *put64(uint8_t *o, uint64_t v)
{
    return put32(put32(o, (uint32_t)(v >> 32)), (uint32_t)v);
}

static inline int floor_div4(int a)
{
    return a >= 0 ? a / 4 : -((-a + 3) / 4);
}

size_t wh_pg_numeric(int64_t v, int scale, uint8_t *out)
{
    static const uint16_t POW10[4] = {1, 10, 100, 1000};
    if (scale < 0)
        scale = 0;
    if (scale > 18)
        scale = 18;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    /* Decimal digit k (k = 0 the units of u) stands for 10^(k - scale); it
     * falls into base-10000 group floor((k - scale) / 4). */
    uint16_t groups[12] = {0};
    int ndec = 0;
    uint8_t dec[20];
    do {
        dec[ndec++] = (uint8_t)(u % 10);
        u /= 10;
    } while (u);
    int gmax = floor_div4(ndec - 1 - scale), gmin = floor_div4(-scale);
    for (int k = 0; k < ndec; k++) {
        int e = k - scale, g = floor_div4(e);
        groups[gmax - g] = (uint16_t)(groups[gmax - g] + dec[k] * POW10[e - 4 * g]);
    }
    int first = 0, last = gmax - gmin; /* inclusive, into groups[] */
    int weight = gmax;
    while (first <= last && groups[first] == 0)
        first++, weight--;
    while (last >= first && groups[last] == 0)
        last--;
    int ndigits = last - first + 1;
    if (ndigits <= 0) {
        ndigits = 0;
        weight = 0;
    }
    uint8_t *o = out;
    o = put16(o, (uint16_t)ndigits);
    o = put16(o, (uint16_t)(int16_t)weight);
    o = put16(o, v < 0 && ndigits ? 0x4000 : 0x0000);
    o = put16(o, (uint16_t)scale);
    for (int i = 0; i < ndigits; i++)
        o = put16(o, groups[first + i]);
    return (size_t)(o - out);
}

/* One integer as the column's type; false when it does not fit. */
static inline bool put_int(uint8_t **o, unsigned oid, int64_t v)
{
    if (oid == OID_INT8) {
        *o = put64(put32(*o, 8), (uint64_t)v);
    } else if (oid == OID_INT4) {
        if (v < INT32_MIN || v > INT32_MAX)
            return false;
        *o = put32(put32(*o, 4), (uint32_t)(int32_t)v);
    } else {
        if (v < INT16_MIN || v > INT16_MAX)
            return false;
        *o = put16(put32(*o, 2), (uint16_t)(int16_t)v);
    }
    return true;
}

/* The load's row number of batch row i. */
static inline int64_t rowno(const wh_rows *r, size_t i)
{
    return r->first + (int64_t)(i - r->base);
}

static int value_error(pg *p, const wh_rows *r, size_t i, const pg_col *c, sp_error *err)
{
    return sp_fail(err, SP_ERR_DATA, "warehouse %s: %s row %" PRId64 ": %s does not fit the "
                   "column's type (oid %u)", p->describe, wh_table_name(r->table),
                   rowno(r, i), c->want->name, c->oid);
}

/* Append row i of r as one binary COPY tuple. */
static int encode_row(pg *p, const wh_rows *r, size_t i, sp_error *err)
{
    wh_table t = r->table;
    size_t need = 2 + p->ncols[t] * (4 + WH_PG_NUMERIC_MAX);
    size_t run_id_len = p->run_id ? strlen(p->run_id) : 0;
    for (size_t k = 0; k < p->ncols[t]; k++) {
        const pg_want *wt = p->cols[t][k].want;
        if (wt->kind == WH_K_TEXT && r->col[wt->src] && !wh_is_null(r->col[wt->src], i)) {
            size_t len;
            wh_text_at(r->col[wt->src], i, &len);
            need += len;
        }
    }
    need += run_id_len;
    if (p->out.cap - p->out.len < need && sp_buf_reserve(&p->out, need) != 0)
        return sp_fail(err, SP_ERR_LIMIT, "warehouse %s: %s row %" PRId64 ": cannot buffer a "
                       "row of %zu bytes for COPY", p->describe, wh_table_name(t),
                       rowno(r, i), need);
    uint8_t *o = p->out.data + p->out.len;
    o = put16(o, (uint16_t)p->ncols[t]);
    for (size_t k = 0; k < p->ncols[t]; k++) {
        const pg_col *c = &p->cols[t][k];
        const pg_want *wt = c->want;
        if (wt->src == SRC_KEY || wt->src == SRC_DATE_ID || wt->src == SRC_PRODUCT_SK) {
            int64_t v = wt->src == SRC_KEY        ? rowno(r, i) + (t == WH_FACT_SALES ? p->sale_base : 0)
                        : wt->src == SRC_DATE_ID ? r->date_id[i]
                                                 : r->product_sk[i];
            if (!put_int(&o, c->oid, v))
                return value_error(p, r, i, c, err);
            continue;
        }
        const sp_column *col = r->col[wt->src];
        if (!col && wt->src == WH_FS_RUN_ID && run_id_len) { /* the Parquet's run */
            o = put32(o, (uint32_t)run_id_len);
            memcpy(o, p->run_id, run_id_len);
            o += run_id_len;
            continue;
        }
        if (!col || wh_is_null(col, i)) {
            o = put32(o, 0xFFFFFFFFu); /* NULL */
            continue;
        }
        switch (wt->kind) {
        case WH_K_INT:
            if (!put_int(&o, c->oid, wh_int_at(col, i)))
                return value_error(p, r, i, c, err);
            break;
        case WH_K_DATE: {
            /* Unsigned: a day near INT32_MIN must not overflow here; the
             * server refuses a date out of its range, naming the line. */
            uint32_t d = (uint32_t)((const int32_t *)col->values)[i];
            o = put32(put32(o, 4), d - PG_DAYS_1970_TO_2000);
            break;
        }
        case WH_K_DECIMAL: {
            int scale = col->type == SP_COL_DECIMAL ? col->scale : 0;
            size_t n = wh_pg_numeric(wh_int_at(col, i), scale, o + 4);
            o = put32(o, (uint32_t)n) + n;
            break;
        }
        case WH_K_TEXT: {
            size_t len;
            const char *s = wh_text_at(col, i, &len);
            if (len > INT32_MAX)
                return value_error(p, r, i, c, err);
            o = put32(o, (uint32_t)len);
            memcpy(o, s, len);
            o += len;
            break;
        }
        }
    }
    p->out.len = (size_t)(o - p->out.data);
    return SP_OK;
}

/* ---- COPY ---------------------------------------------------------------- */

/* Collect the server's answer after COPY ended or broke; SP_OK when it was
 * a success. */
static int copy_result(pg *p, wh_table t, sp_error *err)
{
    const char *table = p->copy_what;
    int rc = SP_OK;
    PGresult *res;
    while ((res = PQgetResult(p->conn))) {
        if (PQresultStatus(res) == PGRES_COMMAND_OK)
            p->copied[t] += strtoll(PQcmdTuples(res), NULL, 10);
        if (PQresultStatus(res) == PGRES_COPY_IN) {
            /* still in COPY: the data could not be sent; abandon it */
            PQputCopyEnd(p->conn, "salespipe abandoned the COPY");
        } else if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == SP_OK) {
            rc = pg_fail(p, res, err, "loading %s", table);
        }
        PQclear(res);
        if (PQstatus(p->conn) == CONNECTION_BAD)
            break;
    }
    if (rc == SP_OK && PQstatus(p->conn) == CONNECTION_BAD)
        rc = pg_fail(p, NULL, err, "loading %s", table);
    return rc;
}

static int flush(pg *p, sp_error *err)
{
    if (p->out.broken) /* a header or trailer append failed: never send a torn stream */
        return sp_fail(err, SP_ERR_NOMEM, "warehouse %s: out of memory for the COPY buffer",
                       p->describe);
    if (p->out.len == 0)
        return SP_OK;
    int r = PQputCopyData(p->conn, (const char *)p->out.data, (int)p->out.len);
    p->out.len = 0;
    if (r == 1)
        return SP_OK;
    wh_table t = (wh_table)p->copying;
    const char *table = p->copy_what;
    p->copying = -1;
    int rc = copy_result(p, t, err);
    if (rc == SP_OK) /* no result said why: libpq's own message does */
        rc = pg_fail(p, NULL, err, "sending %s rows", table);
    return rc;
}

static int copy_end(pg *p, sp_error *err)
{
    if (p->copying < 0)
        return SP_OK;
    uint8_t trailer[2];
    put16(trailer, 0xFFFF);
    sp_buf_append(&p->out, trailer, 2);
    SP_TRY(flush(p, err));
    wh_table t = (wh_table)p->copying;
    p->copying = -1;
    if (PQputCopyEnd(p->conn, NULL) != 1)
        return pg_fail(p, NULL, err, "ending the COPY of %s", p->copy_what);
    return copy_result(p, t, err);
}

/* COPY into `target` (a name of ours, never data), t's columns. */
static int copy_start(pg *p, wh_table t, const char *target, bool freeze, sp_error *err)
{
    char sql[700];
    snprintf(sql, sizeof sql, "COPY %s %s FROM STDIN (FORMAT binary%s)", target, p->col_list[t],
             freeze ? ", FREEZE" : "");
    PGresult *res = PQexec(p->conn, sql);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        int rc = pg_fail(p, res, err, "cannot start the COPY of %s", p->copy_what);
        PQclear(res);
        return rc;
    }
    PQclear(res);
    p->copying = (int)t;
    /* Header: signature, flags (no OIDs), no extension. */
    static const uint8_t HEADER[19] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xFF, '\r', '\n', 0,
                                       0,   0,   0,   0,   0,   0,   0,    0};
    sp_buf_append(&p->out, HEADER, sizeof HEADER);
    return SP_OK;
}

/* ---- the load ------------------------------------------------------------ */

static void free_drop(pg *p)
{
    for (size_t i = 0; i < p->ndrop; i++)
        free(p->drop[i]);
    free(p->drop);
    p->drop = NULL;
    p->ndrop = 0;
}

/* Roll back whatever is open; a lost connection has rolled back already. */
static void end_txn(pg *p)
{
    disarm(p);
    if (p->copying >= 0 && PQstatus(p->conn) == CONNECTION_OK) {
        PQputCopyEnd(p->conn, "salespipe rolled the load back");
        PGresult *res;
        while ((res = PQgetResult(p->conn)))
            PQclear(res);
    }
    p->copying = -1;
    p->copying_file = -1;
    sp_buf_reset(&p->out); /* and its broken flag: the next load starts clean */
    if (p->in_txn && PQstatus(p->conn) == CONNECTION_OK)
        PQclear(PQexec(p->conn, "ROLLBACK"));
    p->in_txn = false;
    free_drop(p);
}

/* The name of the child holding file k's facts in this load. */
static void child_name(const pg *p, int k, char *out, size_t outsz)
{
    snprintf(out, outsz, "fact_sales_t%" PRId64 "_%d", p->txid, k);
}

/* A PostgreSQL text[] literal of the names of the files for which keep()
 * says yes: a parameter, never SQL. */
static char *names_array(const wh *w, bool (*keep)(const wh_file *f))
{
    sp_buf b;
    sp_buf_init(&b, 0);
    sp_buf_puts(&b, "{");
    bool first = true;
    for (size_t i = 0; i < w->nfiles; i++) {
        const wh_file *f = &w->files[i];
        if (!f->name[0] || !keep(f))
            continue;
        sp_buf_puts(&b, first ? "\"" : ",\"");
        first = false;
        for (const char *c = f->name; *c; c++) {
            if (*c == '"' || *c == '\\')
                sp_buf_append(&b, "\\", 1);
            sp_buf_append(&b, c, 1);
        }
        sp_buf_puts(&b, "\"");
    }
    sp_buf_append(&b, "}", 2); /* with the NUL */
    if (b.broken) {
        sp_buf_free(&b);
        return NULL;
    }
    return (char *)b.data; /* the caller frees */
}

static bool is_any(const wh_file *f)
{
    (void)f;
    return true;
}

static bool is_loaded(const wh_file *f)
{
    return f->action != WH_FILE_SAME;
}

/* Only the owner of fact_sales may attach children to it. */
static int need_owner(pg *p, sp_error *err)
{
    PGresult *res;
    SP_TRY(query(p, "SELECT pg_has_role(c.relowner, 'USAGE'), current_user, "
                    "pg_get_userbyid(c.relowner) FROM pg_class c WHERE c.oid = "
                    "'fact_sales'::regclass",
                 0, NULL, &res, "cannot read the owner of fact_sales", err));
    int rc = SP_OK;
    if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
        rc = sp_fail(err, SP_ERR_NET, "warehouse %s: role %s does not own fact_sales (%s does): "
                     "a load attaches each input file's facts to fact_sales as a child table, "
                     "which only its owner may do (GRANT %s TO %s, or load as %s)",
                     p->describe, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
                     PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
    PQclear(res);
    return rc;
}

/* Read etl_file and decide each file's action (warehouse.h). */
static int plan_files(wh *w, pg *p, sp_error *err)
{
    PGresult *res;
    SP_TRY(query(p, "SELECT source_file, coalesce(sha256, ''), coalesce(run_id, ''), "
                    "coalesce(fact_table, ''), fact_table IS NULL OR EXISTS (SELECT 1 FROM "
                    "pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = "
                    "'fact_sales'::regclass AND c.relname = fact_table) FROM etl_file",
                 0, NULL, &res, "cannot read etl_file", err));
    int rc = SP_OK;
    for (int r = 0; r < PQntuples(res) && rc == SP_OK; r++) {
        const char *name = PQgetvalue(res, r, 0);
        int k = wh_file_find(w, name, strlen(name));
        if (k < 0)
            continue;
        wh_file *f = &w->files[k];
        snprintf(f->loaded_by, sizeof f->loaded_by, "%s", PQgetvalue(res, r, 2));
        bool intact = strcmp(PQgetvalue(res, r, 4), "t") == 0;
        if (w->mode == WH_MODE_INCREMENTAL && !w->force && intact && f->sha256 &&
            strcmp(f->sha256, PQgetvalue(res, r, 1)) == 0) {
            f->action = WH_FILE_SAME;
            continue;
        }
        f->action = WH_FILE_CHANGED;
        const char *part = PQgetvalue(res, r, 3);
        if (!part[0])
            continue;
        char **d = realloc(p->drop, (p->ndrop + 1) * sizeof *d);
        if (!d || !(d[p->ndrop] = strdup(part))) {
            if (d)
                p->drop = d;
            rc = sp_fail(err, SP_ERR_NOMEM, "warehouse %s: out of memory", p->describe);
            break;
        }
        p->drop = d;
        p->ndrop++;
    }
    PQclear(res);
    return rc;
}

/* The first sale_id of an incremental load: past every key in use or
 * handed out. A full load starts again at 1 (it replaces every fact). */
static int read_sale_base(pg *p, sp_error *err)
{
    return query_int64(p, "SELECT greatest(coalesce((SELECT max(sale_id) FROM fact_sales), 0), "
                          "coalesce(pg_sequence_last_value(pg_get_serial_sequence('fact_sales', "
                          "'sale_id')::regclass), 0))",
                       &p->sale_base, "cannot read the last sale_id", err);
}

static int pg_begin(wh *w, sp_error *err)
{
    pg *p = pg_of(w);
    p->committed = false;
    p->full = w->mode == WH_MODE_FULL;
    p->run_id = w->fact_run_id[0] ? w->fact_run_id : NULL;
    p->sale_base = 0;
    p->copying_file = -1;
    p->parent_cleaned = p->previewing = false;
    memset(p->copied, 0, sizeof p->copied);
    if (p->made)
        memset(p->made, 0, p->made_cap);
    free_drop(p);
    if (PQstatus(p->conn) != CONNECTION_OK)
        return pg_fail(p, NULL, err, "the connection is lost");
    SP_TRY(exec(p, "BEGIN", "cannot start the load's transaction", err));
    p->in_txn = true;
    /* Two loads never interleave: the second waits here for the first to
     * commit or roll back (or for a SIGTERM: arm). */
    int rc = arm(p, err);
    if (rc == SP_OK)
        rc = exec(p, PG_LOCK_SQL, "cannot take the salespipe advisory lock", err);
    bool exists[WH_NTABLES];
    if (rc == SP_OK)
        rc = read_schema(p, exists, err);
    if (rc == SP_OK)
        rc = need_all(p, exists, err);
    if (rc == SP_OK)
        rc = need_owner(p, err);
    if (rc == SP_OK)
        rc = plan_files(w, p, err);
    if (rc == SP_OK && !p->full)
        rc = read_sale_base(p, err);
    if (rc == SP_OK)
        rc = query_int64(p, "SELECT txid_current()", &p->txid, "cannot read the transaction id",
                         err);
    /* The dimensions of this load, row by row, for the upsert. */
    if (rc == SP_OK)
        rc = exec(p, "CREATE TEMP TABLE sp_dim_date (LIKE dim_date) ON COMMIT DROP; "
                     "CREATE TEMP TABLE sp_dim_product (LIKE dim_product) ON COMMIT DROP",
                  "cannot create the load's temporary tables", err);
    if (rc != SP_OK)
        end_txn(p);
    return rc;
}

/* Run a statement with text parameters that returns no rows; *affected
 * (may be NULL) receives its row count. */
static int exec_params(pg *p, const char *sql, int n, const char *const *params,
                       int64_t *affected, const char *what, sp_error *err)
{
    PGresult *res = PQexecParams(p->conn, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    int rc = SP_OK;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = pg_fail(p, res, err, "%s", what);
    else if (affected)
        *affected = strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return rc;
}

/* Upsert one dimension batch: COPY it into the load's temporary table
 * (its key column holds the row's number in the load), add the natural
 * keys the table lacks (in load order, keys from the table's sequence),
 * and read every row's key back. Products: a full load takes this load's
 * category; an incremental one keeps the first and counts the conflict. */
static int upsert_dims(wh *w, pg *p, const wh_rows *r, sp_error *err)
{
    bool dd = r->table == WH_DIM_DATE;
    SP_TRY(copy_end(p, err));
    snprintf(p->copy_what, sizeof p->copy_what, "%s", wh_table_name(r->table));
    SP_TRY(copy_start(p, r->table, dd ? "pg_temp.sp_dim_date" : "pg_temp.sp_dim_product", false,
                      err));
    for (size_t i = r->base; i < r->base + r->n; i++) {
        SP_TRY(encode_row(p, r, i, err));
        if (p->out.len >= PG_FLUSH_BYTES)
            SP_TRY(flush(p, err));
    }
    SP_TRY(copy_end(p, err));
    char lo[24], hi[24];
    snprintf(lo, sizeof lo, "%" PRId64, r->first);
    snprintf(hi, sizeof hi, "%" PRId64, r->first + (int64_t)r->n - 1);
    const char *params[2] = {lo, hi};
    static const char *const ADD[2] = {
        "INSERT INTO dim_date (order_date, day, month, quarter, year) SELECT s.order_date, "
        "s.day, s.month, s.quarter, s.year FROM pg_temp.sp_dim_date s WHERE s.date_id BETWEEN "
        "$1 AND $2 AND NOT EXISTS (SELECT 1 FROM dim_date d WHERE d.order_date = s.order_date) "
        "ORDER BY s.date_id",
        "INSERT INTO dim_product (product_id, category) SELECT s.product_id, s.category FROM "
        "pg_temp.sp_dim_product s WHERE s.product_sk BETWEEN $1 AND $2 AND NOT EXISTS (SELECT 1 "
        "FROM dim_product d WHERE d.product_id = s.product_id) ORDER BY s.product_sk"};
    static const char *const KEYS[2] = {
        "SELECT d.date_id FROM pg_temp.sp_dim_date s LEFT JOIN dim_date d USING (order_date) "
        "WHERE s.date_id BETWEEN $1 AND $2 ORDER BY s.date_id",
        "SELECT d.product_sk FROM pg_temp.sp_dim_product s LEFT JOIN dim_product d USING "
        "(product_id) WHERE s.product_sk BETWEEN $1 AND $2 ORDER BY s.product_sk"};
    SP_TRY(exec_params(p, ADD[dd ? 0 : 1], 2, params, NULL, dd ? "adding new dates to dim_date"
                       : "adding new products to dim_product", err));
    if (!dd) {
        int64_t n = 0;
        if (p->full)
            SP_TRY(exec_params(p, "UPDATE dim_product d SET category = s.category FROM "
                               "pg_temp.sp_dim_product s WHERE s.product_sk BETWEEN $1 AND $2 "
                               "AND d.product_id = s.product_id AND d.category IS DISTINCT FROM "
                               "s.category", 2, params, &n, "updating categories in dim_product",
                               err));
        else {
            PGresult *res;
            SP_TRY(query(p, "SELECT count(*) FROM pg_temp.sp_dim_product s JOIN dim_product d "
                            "USING (product_id) WHERE s.product_sk BETWEEN $1 AND $2 AND "
                            "d.category IS DISTINCT FROM s.category",
                         2, params, &res, "comparing categories with dim_product", err));
            n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
            PQclear(res);
        }
        w->conflicts += n;
    }
    PGresult *res;
    SP_TRY(query(p, KEYS[dd ? 0 : 1], 2, params, &res, "reading the dimension keys back", err));
    int rc = SP_OK;
    if ((size_t)PQntuples(res) != r->n)
        rc = sp_fail(err, SP_ERR_INTERNAL, "warehouse %s: %s: %d keys came back for %zu rows",
                     p->describe, wh_table_name(r->table), PQntuples(res), r->n);
    for (size_t k = 0; rc == SP_OK && k < r->n; k++)
        r->keys[k] = PQgetisnull(res, (int)k, 0) ? 0 : (int32_t)atol(PQgetvalue(res, (int)k, 0));
    PQclear(res);
    return rc;
}

/* Make file k's child (same columns and CHECK constraints as fact_sales,
 * no keys yet: they are built once it is full) and start its COPY. */
static int open_child(wh *w, pg *p, int k, sp_error *err)
{
    if ((size_t)k >= p->made_cap) {
        size_t cap = p->made_cap ? p->made_cap : 16;
        while (cap <= (size_t)k)
            cap *= 2;
        uint8_t *m = realloc(p->made, cap);
        if (!m)
            return sp_fail(err, SP_ERR_NOMEM, "warehouse %s: out of memory", p->describe);
        memset(m + p->made_cap, 0, cap - p->made_cap);
        p->made = m;
        p->made_cap = cap;
    }
    char name[64], sql[256];
    child_name(p, k, name, sizeof name);
    snprintf(p->copy_what, sizeof p->copy_what, "fact_sales (facts of %.256s)",
             w->files[k].name[0] ? w->files[k].name : "no source_file");
    if (!p->made[k]) {
        snprintf(sql, sizeof sql, "CREATE TABLE %s (LIKE fact_sales INCLUDING CONSTRAINTS)",
                 name);
        SP_TRY(exec(p, sql, "cannot create a table for an input file's facts", err));
        p->made[k] = 1;
    }
    /* FREEZE: the table is new in this transaction, so its rows are
     * written frozen, and nobody sees them before the commit anyway. */
    SP_TRY(copy_start(p, WH_FACT_SALES, name, true, err));
    p->copying_file = k;
    return SP_OK;
}

static int pg_insert(wh *w, const wh_rows *r, sp_error *err)
{
    pg *p = pg_of(w);
    if (r->table != WH_FACT_SALES)
        return upsert_dims(w, p, r, err);
    if (p->copying != WH_FACT_SALES || p->copying_file != r->file) {
        SP_TRY(copy_end(p, err));
        SP_TRY(open_child(w, p, r->file, err));
    }
    for (size_t i = r->base; i < r->base + r->n; i++) {
        SP_TRY(encode_row(p, r, i, err));
        if (p->out.len >= PG_FLUSH_BYTES) {
            SP_TRY(sp_cancel_check(err, NULL)); /* a batch takes seconds under load */
            SP_TRY(flush(p, err));
        }
    }
    return SP_OK;
}

/* Each new child's primary key, built once over its rows (far cheaper
 * than one index insertion per row), before the swap window. */
static int build_child_keys(wh *w, pg *p, sp_error *err)
{
    bool any = false;
    for (size_t k = 0; k < w->nfiles && k < p->made_cap; k++) {
        if (!p->made[k])
            continue;
        if (!any)
            SP_TRY(exec(p, "SET LOCAL maintenance_work_mem = '256MB'",
                        "cannot size the index build", err));
        any = true;
        char name[64], sql[160];
        child_name(p, (int)k, name, sizeof name);
        snprintf(sql, sizeof sql, "ALTER TABLE %s ADD PRIMARY KEY (sale_id)", name);
        SP_TRY(exec(p, sql, "cannot build the primary key of an input file's facts", err));
    }
    return SP_OK;
}

/* Run sql with $1 = the names of the files keep() picks, as a text[]. */
static int exec_on_names(wh *w, pg *p, bool (*keep)(const wh_file *f), const char *sql,
                         const char *what, sp_error *err)
{
    char *names = names_array(w, keep);
    if (!names)
        return sp_fail(err, SP_ERR_NOMEM, "warehouse %s: out of memory", p->describe);
    const char *params[1] = {names};
    int rc = exec_params(p, sql, 1, params, NULL, what, err);
    free(names);
    return rc;
}

/* Facts an earlier version kept in fact_sales itself (not in a child):
 * a full load deletes them all, an incremental one those of the files it
 * loads (new to etl_file, but maybe not to fact_sales). MVCC: readers see
 * them until the commit. */
static int delete_parent_rows(wh *w, pg *p, sp_error *err)
{
    if (p->parent_cleaned)
        return SP_OK;
    p->parent_cleaned = true;
    PGresult *res;
    SP_TRY(query(p, "SELECT EXISTS (SELECT 1 FROM ONLY fact_sales)", 0, NULL, &res,
                 "cannot look at fact_sales' own rows", err));
    bool any = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (!any)
        return SP_OK;
    if (p->full)
        return exec(p, "DELETE FROM ONLY fact_sales", "cannot delete the previous facts", err);
    return exec_on_names(w, p, is_loaded, "DELETE FROM ONLY fact_sales WHERE source_file = "
                         "ANY($1::text[])", "cannot delete the replaced files' previous facts",
                         err);
}

/* etl_file, in the load's transaction: one row per file loaded; a full
 * load also forgets the files it no longer holds. */
static int write_registry(wh *w, pg *p, sp_error *err)
{
    for (size_t k = 0; k < w->nfiles; k++) {
        const wh_file *f = &w->files[k];
        if (f->action == WH_FILE_SAME || !f->name[0])
            continue;
        char bytes[24], rows[24], child[64];
        snprintf(bytes, sizeof bytes, "%" PRId64, f->bytes);
        snprintf(rows, sizeof rows, "%" PRId64, f->rows >= 0 ? f->rows : f->facts);
        bool made = k < p->made_cap && p->made[k];
        if (made)
            child_name(p, (int)k, child, sizeof child);
        const char *params[7] = {f->name, f->sha256, f->bytes >= 0 ? bytes : NULL, rows,
                                 w->run_id[0] ? w->run_id : NULL, w->ds[0] ? w->ds : NULL,
                                 made ? child : NULL};
        SP_TRY(exec_params(p, "INSERT INTO etl_file (source_file, sha256, bytes, rows, run_id, "
                              "ds, loaded_at, fact_table) VALUES ($1, $2, $3::bigint, "
                              "$4::bigint, $5, $6::date, now(), $7) ON CONFLICT (source_file) "
                              "DO UPDATE SET sha256 = excluded.sha256, bytes = excluded.bytes, "
                              "rows = excluded.rows, run_id = excluded.run_id, ds = excluded.ds, "
                              "loaded_at = excluded.loaded_at, fact_table = excluded.fact_table",
                           7, params, NULL, "cannot record an input file in etl_file", err));
    }
    if (!p->full)
        return SP_OK;
    return exec_on_names(w, p, is_any, "DELETE FROM etl_file WHERE NOT (source_file = "
                         "ANY($1::text[]))", "cannot update etl_file", err);
}

/* The children this load replaces (p->drop), as a text[] literal: our
 * names, [a-z0-9_] only. NULL when out of memory; the caller frees. */
static char *drop_array(const pg *p)
{
    sp_buf b;
    sp_buf_init(&b, 0);
    sp_buf_puts(&b, "{");
    for (size_t i = 0; i < p->ndrop; i++) {
        sp_buf_puts(&b, i ? "," : "");
        sp_buf_puts(&b, p->drop[i]);
    }
    sp_buf_append(&b, "}", 2);
    if (b.broken) {
        sp_buf_free(&b);
        return NULL;
    }
    return (char *)b.data;
}

/* QUALITY_SQL (SPEC §8) queries fact_sales inside the open load, before
 * the swap makes the new children part of it. So, in this session only, a
 * temporary view named fact_sales (pg_temp comes first in the search path
 * for tables and views) shows what fact_sales will hold: its own rows (those
 * of reloaded files deleted), the children this load keeps, and the new
 * children. No lock: other sessions still read the previous contents.
 * Dropped before the swap (end_preview). */
static int preview(wh *w, pg *p, sp_error *err)
{
    if (p->previewing)
        return SP_OK;
    SP_TRY(delete_parent_rows(w, p, err));
    char *drops = drop_array(p);
    if (!drops)
        return sp_fail(err, SP_ERR_NOMEM, "warehouse %s: out of memory", p->describe);
    /* The server writes the view's text from catalog names. */
    const char *params[3] = {drops, p->full ? "t" : "f", OUR_CHILD_RE};
    PGresult *res;
    int rc = query(p, "WITH cols AS (SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) "
                      "AS l FROM pg_attribute WHERE attrelid = 'fact_sales'::regclass AND attnum > 0 "
                      "AND NOT attisdropped) SELECT 'CREATE TEMP VIEW fact_sales AS SELECT ' || l || "
                      "' FROM ONLY ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || "
                      "coalesce((SELECT string_agg(' UNION ALL SELECT ' || l || ' FROM ' || "
                      "quote_ident(kn.nspname) || '.' || quote_ident(k.relname), '' ORDER BY "
                      "k.relname) FROM pg_inherits i JOIN pg_class k ON k.oid = i.inhrelid JOIN "
                      "pg_namespace kn ON kn.oid = k.relnamespace WHERE i.inhparent = c.oid AND NOT "
                      "(k.relname = ANY($1::text[]) OR ($2::bool AND k.relname ~ $3))), ''), l "
                      "FROM cols, pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                      "WHERE c.oid = 'fact_sales'::regclass",
               3, params, &res, "cannot write the preview of fact_sales", err);
    free(drops);
    SP_TRY(rc);
    sp_buf sql;
    sp_buf_init(&sql, 0);
    sp_buf_puts(&sql, PQgetvalue(res, 0, 0));
    for (size_t k = 0; k < w->nfiles && k < p->made_cap; k++) {
        if (!p->made[k])
            continue;
        char name[64];
        child_name(p, (int)k, name, sizeof name);
        sp_buf_puts(&sql, " UNION ALL SELECT ");
        sp_buf_puts(&sql, PQgetvalue(res, 0, 1));
        sp_buf_puts(&sql, " FROM ");
        sp_buf_puts(&sql, name);
    }
    sp_buf_append(&sql, "", 1);
    PQclear(res);
    if (sql.broken)
        rc = sp_fail(err, SP_ERR_NOMEM, "warehouse %s: out of memory", p->describe);
    else
        rc = exec(p, (const char *)sql.data, "cannot create the preview of fact_sales", err);
    sp_buf_free(&sql);
    if (rc == SP_OK)
        p->previewing = true;
    return rc;
}

static int end_preview(pg *p, sp_error *err)
{
    if (!p->previewing)
        return SP_OK;
    p->previewing = false;
    return exec(p, "CLOSE ALL; DROP VIEW pg_temp.fact_sales", "cannot drop the preview of "
                "fact_sales", err);
}

/* Take fact_sales (and so its children) ACCESS EXCLUSIVE without ever
 * making readers queue behind us for long: each attempt waits at most
 * PG_SWAP_LOCK_TIMEOUT_MS (readers that arrive meanwhile wait as long),
 * then steps back (ROLLBACK TO SAVEPOINT) and lets them through before
 * trying again. A transaction that keeps reading fact_sales for
 * PG_SWAP_PATIENCE_MS fails the load (retryable). */
static int take_swap_lock(pg *p, sp_error *err)
{
    char sql[64];
    snprintf(sql, sizeof sql, "SET LOCAL lock_timeout = %d", PG_SWAP_LOCK_TIMEOUT_MS);
    SP_TRY(exec(p, sql, "cannot set lock_timeout", err));
    double start = sp_mono_seconds();
    for (int attempt = 1;; attempt++) {
        SP_TRY(exec(p, "SAVEPOINT sp_swap", "cannot set a savepoint", err));
        PGresult *res = PQexec(p->conn, "LOCK TABLE fact_sales IN ACCESS EXCLUSIVE MODE");
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        bool timeout = !ok && state && strcmp(state, "55P03") == 0;
        if (!ok && !timeout) {
            int rc = pg_fail(p, res, err, "cannot lock fact_sales for the swap");
            PQclear(res);
            return rc;
        }
        PQclear(res);
        if (ok)
            break;
        SP_TRY(exec(p, "ROLLBACK TO SAVEPOINT sp_swap", "cannot roll back to a savepoint", err));
        if ((sp_mono_seconds() - start) * 1000 > PG_SWAP_PATIENCE_MS)
            return sp_fail_retry(err, SP_ERR_NET, "warehouse %s: fact_sales stayed in use for "
                                 "%d s (%d tries to lock it for the swap; a long transaction "
                                 "reads it: see pg_stat_activity): the load rolled back",
                                 p->describe, PG_SWAP_PATIENCE_MS / 1000, attempt);
        /* Let the queued readers through: a pause that grows to 0.5 s. */
        struct timespec ts = {0, (attempt < 10 ? attempt * 50 : 500) * 1000000L};
        nanosleep(&ts, NULL);
    }
    SP_TRY(exec(p, "RELEASE SAVEPOINT sp_swap", "cannot release a savepoint", err));
    return exec(p, "SET LOCAL lock_timeout = 0", "cannot reset lock_timeout", err);
}

/* Run each statement the server wrote (one per row of sql's result):
 * statements built by the server with format() from catalog names. */
static int exec_generated(pg *p, const char *sql, int n, const char *const *params,
                          const char *what, sp_error *err)
{
    PGresult *res;
    SP_TRY(query(p, sql, n, params, &res, what, err));
    int rc = SP_OK;
    for (int r = 0; r < PQntuples(res) && rc == SP_OK; r++)
        if (!PQgetisnull(res, r, 0))
            rc = exec(p, PQgetvalue(res, r, 0), what, err);
    PQclear(res);
    return rc;
}

/* Apply verb ("DROP TABLE %s", or "ALTER TABLE %s NO INHERIT fact_sales")
 * to each child this load replaces: a full load's are all of ours. */
static int on_replaced_children(pg *p, const char *verb, sp_error *err)
{
    char *drops = drop_array(p);
    if (!drops)
        return sp_fail(err, SP_ERR_NOMEM, "warehouse %s: out of memory", p->describe);
    const char *params[4] = {drops, p->full ? "t" : "f", OUR_CHILD_RE, verb};
    int rc = exec_generated(p, "SELECT format($4, c.oid::regclass) FROM pg_inherits i JOIN "
                               "pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = "
                               "'fact_sales'::regclass AND c.relname ~ $3 AND ($2::bool OR "
                               "c.relname = ANY($1::text[]))",
                            4, params, "cannot detach the previous facts", err);
    free(drops);
    return rc;
}

/* A full load whose dimensions lack rows the warehouse has: those rows
 * go, in the swap window, once no child refers to them. */
static int has_stale_dims(pg *p, bool *stale, sp_error *err)
{
    int64_t n = 0;
    *stale = false;
    if (!p->full)
        return SP_OK;
    /* Counted, not EXISTS: for an EXISTS the planner wants its first row
     * fast and picks a nested-loop anti-join over the unindexed temporary
     * tables (79 ms for 1,461 dates and 1,800 products, inside the load's
     * transaction); a count takes hash anti-joins (about 1 ms). */
    SP_TRY(query_int64(p, "SELECT (SELECT count(*) FROM dim_date d WHERE NOT EXISTS (SELECT 1 "
                          "FROM pg_temp.sp_dim_date s WHERE s.order_date = d.order_date)) + "
                          "(SELECT count(*) FROM dim_product d WHERE NOT EXISTS (SELECT 1 FROM "
                          "pg_temp.sp_dim_product s WHERE s.product_id = d.product_id))",
                       &n, "cannot compare the dimensions", err));
    *stale = n != 0;
    return SP_OK;
}

/* The swap window (fact_sales locked, readers wait). The children this
 * load replaces are detached (NO INHERIT) and dropped after the commit
 * (drop_detached): unlinking their files is the slowest part of a COMMIT.
 * Only when a full load must delete dimension rows that they refer to are
 * they dropped here, before the deletes (no child refers to those rows
 * then, and the new children have no foreign keys yet, so PostgreSQL's
 * checks scan nothing). Then each new child gets fact_sales' foreign keys
 * (NOT VALID: no scan here; validated after the commit) and is attached.
 * Catalog work only. */
static int swap(wh *w, pg *p, sp_error *err)
{
    bool stale;
    SP_TRY(has_stale_dims(p, &stale, err));
    SP_TRY(take_swap_lock(p, err));
    if (stale) {
        SP_TRY(on_replaced_children(p, "DROP TABLE %s", err));
        SP_TRY(exec(p, "DELETE FROM dim_date d WHERE NOT EXISTS (SELECT 1 FROM "
                       "pg_temp.sp_dim_date s WHERE s.order_date = d.order_date)",
                    "cannot delete the dates no fact uses any more", err));
        SP_TRY(exec(p, "DELETE FROM dim_product d WHERE NOT EXISTS (SELECT 1 FROM "
                       "pg_temp.sp_dim_product s WHERE s.product_id = d.product_id)",
                    "cannot delete the products no fact uses any more", err));
    } else {
        SP_TRY(on_replaced_children(p, "ALTER TABLE %s NO INHERIT fact_sales", err));
    }
    PGresult *res;
    SP_TRY(query(p, "SELECT coalesce(string_agg(format('ADD %s NOT VALID', "
                    "pg_get_constraintdef(oid)), ', ' ORDER BY conname), '') FROM pg_constraint "
                    "WHERE conrelid = 'fact_sales'::regclass AND contype = 'f'",
                 0, NULL, &res, "cannot read fact_sales' foreign keys", err));
    char *fks = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (!fks)
        return sp_fail(err, SP_ERR_NOMEM, "warehouse %s: out of memory", p->describe);
    int rc = SP_OK;
    sp_buf sql;
    sp_buf_init(&sql, 0);
    for (size_t k = 0; k < w->nfiles && k < p->made_cap && rc == SP_OK; k++) {
        if (!p->made[k])
            continue;
        char name[64];
        child_name(p, (int)k, name, sizeof name);
        sp_buf_reset(&sql);
        sp_buf_puts(&sql, "ALTER TABLE ");
        sp_buf_puts(&sql, name);
        sp_buf_puts(&sql, " ");
        sp_buf_puts(&sql, fks);
        sp_buf_puts(&sql, fks[0] ? ", INHERIT fact_sales" : "INHERIT fact_sales");
        sp_buf_append(&sql, "", 1);
        if (sql.broken)
            rc = sp_fail(err, SP_ERR_NOMEM, "warehouse %s: out of memory", p->describe);
        else
            rc = exec(p, (const char *)sql.data, "cannot attach an input file's facts to "
                      "fact_sales", err);
        if (rc == SP_OK)
            p->made[k] = 2;
    }
    sp_buf_free(&sql);
    free(fks);
    return rc;
}

/* Each key sequence past the last key in use (a full load: exactly there,
 * as a fresh table would be; an incremental one never moves back). */
static int set_sequences(pg *p, sp_error *err)
{
    static const char *const SQL[WH_NTABLES] = {
        "SELECT coalesce(max(date_id), 0) FROM dim_date",
        "SELECT coalesce(max(product_sk), 0) FROM dim_product",
        "SELECT coalesce(max(sale_id), 0) FROM fact_sales",
    };
    static const char *const KEYS[WH_NTABLES][2] = {
        {"dim_date", "date_id"}, {"dim_product", "product_sk"}, {"fact_sales", "sale_id"}};
    for (int t = 0; t < WH_NTABLES; t++) {
        PGresult *res;
        int64_t last;
        SP_TRY(query_int64(p, SQL[t], &last, "cannot read the last key", err));
        char m[24];
        snprintf(m, sizeof m, "%" PRId64, last);
        const char *params[4] = {KEYS[t][0], KEYS[t][1], m, p->full ? "t" : "f"};
        SP_TRY(query(p, "SELECT setval(s, greatest(v, 1), v > 0) FROM pg_get_serial_sequence($1, "
                        "$2) AS s, LATERAL (SELECT CASE WHEN $4::bool THEN $3::bigint ELSE "
                        "greatest($3::bigint, coalesce(pg_sequence_last_value(s::regclass), 0)) "
                        "END AS v) AS x WHERE s IS NOT NULL",
                     4, params, &res, "cannot set the key sequence", err));
        PQclear(res);
    }
    return SP_OK;
}

/* After the commit: drop our children that are attached to nothing (the
 * ones this load detached, or a load killed before doing so). Nobody reads
 * them: a reader of fact_sales never plans them again. A table still held
 * (someone reading it by name) is left for the next load. */
static void drop_detached(pg *p)
{
    sp_error ignored;
    if (exec(p, "SET lock_timeout = '5s'", "set", &ignored) != SP_OK)
        return;
    const char *params[1] = {OUR_CHILD_RE};
    exec_generated(p, "SELECT format('DROP TABLE %s', c.oid::regclass) FROM pg_class c WHERE "
                      "c.relkind = 'r' AND c.relname ~ $1 AND c.relnamespace = (SELECT "
                      "relnamespace FROM pg_class WHERE oid = 'fact_sales'::regclass) AND NOT "
                      "EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid)",
                   1, params, "dropping detached facts", &ignored);
    exec(p, "RESET lock_timeout", "reset", &ignored);
}

/* After the commit: validate the children's foreign keys (added NOT
 * VALID in the swap window). A scan of each new child, under a lock that
 * readers never wait for; one left by a load killed here is validated by
 * the next load. */
static int validate_children(pg *p, sp_error *err)
{
    return exec_generated(p, "SELECT format('ALTER TABLE %s VALIDATE CONSTRAINT %I', "
                             "k.conrelid::regclass, k.conname) FROM pg_constraint k JOIN "
                             "pg_inherits i ON i.inhrelid = k.conrelid WHERE i.inhparent = "
                             "'fact_sales'::regclass AND k.contype = 'f' AND NOT k.convalidated",
                          0, NULL, "cannot validate the foreign keys of the loaded facts", err);
}

/* The clean-up after a commit, under the loads' lock again. The commit
 * released it, and the next load may hold it already, reading the
 * dimension tables that dropping a child must lock: the two would
 * deadlock. So the lock is tried, not awaited: while another load holds
 * it, the clean-up is that load's, after its own commit (both steps take
 * whatever is left, not only this load's). Session level, so that each
 * DROP and VALIDATE commits on its own; given back before returning. */
static int after_commit(pg *p, sp_error *err)
{
    sp_error ignored;
    int64_t got = 0;
    if (query_int64(p, "SELECT pg_try_advisory_lock(" PG_LOCK_KEY ")::int", &got,
                    "cannot try the salespipe advisory lock", &ignored) != SP_OK) {
        /* The load is committed: it stands, and says why its clean-up waits. */
        sp_log(SP_LOG_WARN, "load committed; its clean-up is left to the next load: %s",
               ignored.msg);
        return SP_OK;
    }
    if (!got)
        return SP_OK;
    drop_detached(p);
    int rc = validate_children(p, err);
    exec(p, "SELECT pg_advisory_unlock(" PG_LOCK_KEY ")", "cannot release the advisory lock",
         &ignored);
    return rc;
}

static int pg_commit(wh *w, sp_error *err)
{
    pg *p = pg_of(w);
    SP_TRY(copy_end(p, err));
    for (int t = 0; t < WH_NTABLES; t++)
        if (p->copied[t] != w->rows[t])
            return sp_fail(err, SP_ERR_INTERNAL, "warehouse %s: %s: the server took %" PRId64
                           " rows, %" PRId64 " were sent", p->describe,
                           wh_table_name((wh_table)t), p->copied[t], w->rows[t]);
    SP_TRY(build_child_keys(w, p, err));
    SP_TRY(delete_parent_rows(w, p, err));
    SP_TRY(end_preview(p, err));
    SP_TRY(write_registry(w, p, err));
    SP_TRY(swap(w, p, err));
    SP_TRY(set_sequences(p, err));
    SP_TRY(commit(p, "cannot commit the load", err));
    p->in_txn = false;
    p->committed = true;
    disarm(p); /* committed: a signal from now on must not fail what follows */
    free_drop(p);
    return after_commit(p, err);
}

static void pg_rollback(wh *w)
{
    end_txn(pg_of(w));
}

static void pg_close(wh *w)
{
    pg *p = pg_of(w);
    if (!p)
        return;
    if (p->conn) {
        end_txn(p);
        PQfinish(p->conn);
    }
    disarm(p);
    if (p->cancel)
        PQfreeCancel(p->cancel);
    sp_buf_free(&p->out);
    free(p->made);
    for (size_t i = 0; i < sizeof p->secret / sizeof p->secret[0]; i++)
        if (p->secret[i]) {
            memset(p->secret[i], 0, strlen(p->secret[i]));
            free(p->secret[i]);
        }
    free(p);
    w->impl = NULL;
}

/* ---- etl_load and quality checks ------------------------------------------ */

/* Does etl_load exist (on the search path)? A role without CREATE on the
 * schema may still load into one create-tables made. */
static int etl_load_exists(pg *p, bool *exists, sp_error *err)
{
    PGresult *res;
    SP_TRY(query(p, "SELECT to_regclass('etl_load') IS NOT NULL", 0, NULL, &res,
                 "cannot look up etl_load", err));
    *exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return SP_OK;
}

static int pg_last_load(wh *w, wh_load_info *out, sp_error *err)
{
    pg *p = pg_of(w);
    bool exists;
    SP_TRY(etl_load_exists(p, &exists, err));
    if (!exists)
        return SP_OK;
    PGresult *res;
    SP_TRY(query(p, "SELECT run_id, ds::text, rows_kept, to_char(loaded_at AT TIME ZONE 'UTC', "
                    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM etl_load ORDER BY load_id DESC LIMIT 1",
                 0, NULL, &res, "cannot read the last load from etl_load", err));
    if (PQntuples(res) == 1) {
        out->found = true;
        snprintf(out->run_id, sizeof out->run_id, "%s", PQgetvalue(res, 0, 0));
        snprintf(out->ds, sizeof out->ds, "%s", PQgetvalue(res, 0, 1));
        out->rows_kept = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
        snprintf(out->loaded_at, sizeof out->loaded_at, "%s", PQgetvalue(res, 0, 3));
    }
    PQclear(res);
    return SP_OK;
}

static int pg_registry(wh *w, wh_registry_fn fn, void *arg, bool *found, sp_error *err)
{
    pg *p = pg_of(w);
    PGresult *res;
    SP_TRY(query(p, "SELECT to_regclass('etl_file') IS NOT NULL", 0, NULL, &res,
                 "cannot look up etl_file", err));
    *found = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (!*found)
        return SP_OK;
    SP_TRY(query(p, "SELECT source_file, sha256, run_id FROM etl_file", 0, NULL, &res,
                 "cannot read etl_file", err));
    for (int r = 0; r < PQntuples(res); r++) {
        const char *v[3];
        for (int c = 0; c < 3; c++)
            v[c] = PQgetisnull(res, r, c) ? NULL : PQgetvalue(res, r, c);
        fn(arg, v[0], v[1], v[2]);
    }
    PQclear(res);
    return SP_OK;
}

static int pg_record(wh *w, const char *run_id, const char *ds, int64_t rows_kept, sp_error *err)
{
    pg *p = pg_of(w);
    SP_TRY(copy_end(p, err));
    bool exists;
    SP_TRY(etl_load_exists(p, &exists, err));
    if (!exists)
        SP_TRY(exec(p, ETL_LOAD_SQL, "cannot create etl_load (run create-tables as the tables' "
                    "owner)", err));
    char n[24];
    snprintf(n, sizeof n, "%" PRId64, rows_kept);
    const char *params[3] = {run_id, ds, n};
    PGresult *res = PQexecParams(p->conn, "INSERT INTO etl_load(load_id, run_id, ds, rows_kept) "
                                          "SELECT coalesce(max(load_id), 0) + 1, $1, $2::date, "
                                          "$3::bigint FROM etl_load",
                                 3, NULL, params, NULL, NULL, 0);
    int rc = SP_OK;
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = pg_fail(p, res, err, "cannot record the load in etl_load");
    PQclear(res);
    return rc;
}

/* FETCH the first rows of the open cursor to fn, MOVE over the rest to
 * count them. */
static int fetch_check_rows(pg *p, size_t max_rows, wh_row_fn fn, void *arg, int64_t *nrows,
                            sp_error *err)
{
    PGresult *res;
    if (max_rows > 0) {
        char sql[64];
        snprintf(sql, sizeof sql, "FETCH FORWARD %zu FROM salespipe_check", max_rows);
        SP_TRY(query(p, sql, 0, NULL, &res, "the query failed", err));
        int ncols = PQnfields(res);
        if (ncols > WH_QUERY_MAX_COLS)
            ncols = WH_QUERY_MAX_COLS;
        const char *names[WH_QUERY_MAX_COLS], *values[WH_QUERY_MAX_COLS];
        for (int r = 0; r < PQntuples(res); r++) {
            for (int i = 0; i < ncols; i++) {
                names[i] = PQfname(res, i);
                values[i] = PQgetisnull(res, r, i) ? NULL : PQgetvalue(res, r, i);
            }
            if (fn)
                fn(arg, ncols, names, values);
        }
        *nrows = PQntuples(res);
        PQclear(res);
        if ((size_t)*nrows < max_rows)
            return SP_OK;
    }
    res = PQexec(p->conn, "MOVE FORWARD ALL IN salespipe_check");
    int rc = SP_OK;
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = pg_fail(p, res, err, "the query failed");
    else
        *nrows += strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return rc;
}

static int pg_query(wh *w, const char *sql, size_t max_rows, wh_row_fn fn, void *arg,
                    int64_t *nrows, sp_error *err)
{
    pg *p = pg_of(w);
    SP_TRY(copy_end(p, err));
    /* The statement comes from the operator's QUALITY_SQL file, never from
     * data. A cursor admits only queries and sends only the rows asked for. */
    static const char DECLARE[] = "DECLARE salespipe_check NO SCROLL CURSOR FOR ";
    size_t n = strlen(sql);
    char *text = malloc(sizeof DECLARE + n);
    if (!text)
        return sp_fail(err, SP_ERR_NOMEM, "warehouse %s: out of memory", p->describe);
    memcpy(text, DECLARE, sizeof DECLARE - 1);
    memcpy(text + sizeof DECLARE - 1, sql, n + 1);
    int rc = preview(w, p, err);
    if (rc == SP_OK)
        rc = exec(p, text, "the query failed", err);
    free(text);
    if (rc == SP_OK)
        rc = fetch_check_rows(p, max_rows, fn, arg, nrows, err);
    if (rc == SP_OK)
        rc = exec(p, "CLOSE salespipe_check", "cannot close the query's cursor", err);
    return rc;
}

static const wh_ops postgres_ops = {
    .name = "postgresql",
    .create_schema = pg_create_schema,
    .check = pg_check,
    .begin = pg_begin,
    .insert = pg_insert,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .table_rows = pg_table_rows,
    .close = pg_close,
    .last_load = pg_last_load,
    .record = pg_record,
    .query = pg_query,
    .registry = pg_registry,
};

/* ---- opening --------------------------------------------------------- */

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* "relation already exists, skipping" and the like */
}

/* Where the password of a postgresql:// URL's user info sits, found as
 * libpq's parser finds it: the user info ends at the first '@' or '/', the
 * password follows its first ':'. *len is 0 when there is none. */
static size_t url_password(const char *url, size_t *len)
{
    const char *info = strstr(url, "://");
    *len = 0;
    if (!info)
        return 0;
    info += 3;
    const char *at = info + strcspn(info, "@/");
    const char *colon = memchr(info, ':', (size_t)(at - info));
    if (*at != '@' || !colon)
        return 0;
    *len = (size_t)(at - colon - 1);
    return (size_t)(colon + 1 - url);
}

/* A copy of the URL's password exactly as written (percent-encoded), and
 * of a "password=" query parameter's: libpq quotes such text when it cannot
 * parse it, before it knows any password. */
static void keep_url_secrets(pg *p, const char *url)
{
    size_t len, off = url_password(url, &len);
    if (len)
        p->secret[1] = strndup(url + off, len);
    const char *q = strchr(url, '?');
    for (const char *k = q; k; k = strchr(k + 1, '&'))
        if (strncmp(k + 1, "password=", 9) == 0) {
            p->secret[2] = strndup(k + 10, strcspn(k + 10, "&"));
            break;
        }
}

/* "postgresql://user@host:port/db" as libpq resolved it; when libpq could
 * not even parse the URL, the URL itself without its password and query. */
static char *describe_conn(PGconn *c, const char *url)
{
    if (url && (!c || !PQdb(c))) {
        size_t len, off = url_password(url, &len), end = strcspn(url, "?#");
        char *d = strndup(url, end);
        if (d && len && off + len < end)
            memmove(d + off - 1, d + off + len, end - off - len + 1); /* drops ":pw" */
        return d;
    }
    const char *host = c ? PQhost(c) : NULL, *port = c ? PQport(c) : NULL;
    const char *db = c ? PQdb(c) : NULL, *user = c ? PQuser(c) : NULL;
    char buf[768];
    snprintf(buf, sizeof buf, "postgresql://%s%s%s:%s/%s", user && *user ? user : "",
             user && *user ? "@" : "", host && *host ? host : "(default host)",
             port && *port ? port : "5432", db && *db ? db : "");
    return strdup(buf);
}

static const char *first_set(const char *a, const char *b, const char *c)
{
    return a && *a ? a : b && *b ? b : c && *c ? c : NULL;
}

/* The value of keyword in a parsed conninfo; NULL when unset. */
static const char *opt(PQconninfoOption *o, const char *keyword)
{
    for (; o && o->keyword; o++)
        if (strcmp(o->keyword, keyword) == 0)
            return o->val && *o->val ? o->val : NULL;
    return NULL;
}

/* Password from s->password_fn (RDS IAM): the connection's host, port and
 * user as libpq will take them; TLS required. Writes the password into
 * token and *sslmode ("require" when nothing asks for more, else NULL). */
static int ask_password(const char *url, const wh_pg_settings *s, char *token, size_t tokensz,
                        const char **sslmode, sp_error *err)
{
    PQconninfoOption *o = NULL;
    if (url) {
        char *msg = NULL;
        o = PQconninfoParse(url, &msg);
        if (!o) {
            PQfreemem(msg);
            return sp_fail(err, SP_ERR_USAGE, "warehouse: DATABASE_URL cannot be parsed");
        }
    }
    const char *host = first_set(url ? opt(o, "host") : s->host, s->fallback_host,
                                 getenv("PGHOST"));
    const char *port = first_set(url ? opt(o, "port") : s->port, s->fallback_port,
                                 getenv("PGPORT"));
    const char *user = first_set(url ? opt(o, "user") : s->user, s->fallback_user,
                                 getenv("PGUSER"));
    const char *mode = first_set(url ? opt(o, "sslmode") : NULL, getenv("PGSSLMODE"), NULL);
    int rc = SP_OK;
    if (mode && (strcmp(mode, "disable") == 0 || strcmp(mode, "allow") == 0 ||
                 strcmp(mode, "prefer") == 0))
        rc = sp_fail(err, SP_ERR_USAGE, "RDS_IAM_AUTH=1 needs TLS: sslmode '%s' (from %s) could "
                     "send the token in clear; use require, verify-ca or verify-full (AWS "
                     "recommends verify-full with its CA bundle as sslrootcert)", mode,
                     url && opt(o, "sslmode") ? "DATABASE_URL" : "PGSSLMODE");
    else if (!host || !user || host[0] == '/' || strchr(host, ','))
        rc = sp_fail(err, SP_ERR_USAGE, "RDS_IAM_AUTH=1 needs one database host name and a "
                     "user (RDS_HOST and RDS_USER, or a DATABASE_URL naming both)");
    else
        rc = s->password_fn(s->password_ctx, host, port ? port : "5432", user, token, tokensz,
                            err);
    *sslmode = mode ? NULL : "require";
    PQconninfoFree(o);
    return rc;
}

/* PQconnectdbParams without its blocking wait: libpq's own loop restarts its
 * poll on EINTR, so a SIGTERM would wait up to connect_timeout. Here the
 * wait is ours: a stop request ends it within 100 ms. PQconnectPoll ignores
 * connect_timeout, so it is applied here, per host tried (a new socket), as
 * libpq applies it. `why` gets the reason when this loop gave up ("" when
 * libpq decided the outcome). */
static PGconn *connect_params(const char *const *keys, const char *const *vals, int expand,
                              char *why, size_t whysz)
{
    why[0] = '\0';
    PGconn *c = PQconnectStartParams(keys, vals, expand);
    if (!c || PQstatus(c) == CONNECTION_BAD)
        return c;
    int timeout = 0;
    PQconninfoOption *opts = PQconninfo(c);
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, "connect_timeout") == 0 && o->val)
            timeout = atoi(o->val);
    PQconninfoFree(opts);
    if (timeout == 1)
        timeout = 2; /* libpq's minimum */
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    int sock = -1;
    double deadline = 0;
    while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
        if (PQsocket(c) != sock) {
            sock = PQsocket(c);
            deadline = sp_mono_seconds() + timeout;
        }
        struct pollfd pfd = {sock, (short)(st == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0};
        int r = poll(&pfd, 1, 100);
        if (sp_cancelled()) {
            snprintf(why, whysz, "cancelled by %s", sp_cancel_signal_name(sp_cancel_signal()));
            break;
        }
        if (r == 0 || (r < 0 && errno == EINTR)) {
            if (timeout > 0 && sp_mono_seconds() > deadline) {
                snprintf(why, whysz, "timeout expired");
                break;
            }
            continue;
        }
        st = PQconnectPoll(c);
    }
    return c;
}

/* libpq's keyword/value lists for the connection (NULL-terminated, at most
 * 23 pairs). Keywords before "dbname" are fallbacks: the URL's own values
 * override them; keywords after it override the URL. Returns expand_dbname
 * (1 when dbname is the URL). */
static int connection_keywords(const char *url, const wh_pg_settings *s, const char *token,
                               const char *force_ssl, const char **keys, const char **vals)
{
    int n = 0;
    const char *password =
        s ? first_set(s->password, s->pgpassword, s->fallback_password) : NULL;
    if (password && *password)
        keys[n] = "password", vals[n++] = password;
    if (!getenv("PGCONNECT_TIMEOUT"))
        keys[n] = "connect_timeout", vals[n++] = "10";
    keys[n] = "fallback_application_name", vals[n++] = "salespipe";
    int expand = 0;
    if (url) {
        if (s && s->fallback_host && *s->fallback_host)
            keys[n] = "host", vals[n++] = s->fallback_host;
        if (s && s->fallback_port && *s->fallback_port)
            keys[n] = "port", vals[n++] = s->fallback_port;
        if (s && s->fallback_user && *s->fallback_user)
            keys[n] = "user", vals[n++] = s->fallback_user;
        keys[n] = "dbname", vals[n++] = url;
        expand = 1;
    } else if (s) {
        const char *v;
        if ((v = first_set(s->host, s->fallback_host, NULL)))
            keys[n] = "host", vals[n++] = v;
        if ((v = first_set(s->port, s->fallback_port, NULL)))
            keys[n] = "port", vals[n++] = v;
        if ((v = first_set(s->dbname, s->fallback_dbname, NULL)))
            keys[n] = "dbname", vals[n++] = v;
        if ((v = first_set(s->user, s->fallback_user, NULL)))
            keys[n] = "user", vals[n++] = v;
    }
    keys[n] = "client_encoding", vals[n++] = "UTF8";
    if (token)
        keys[n] = "password", vals[n++] = token;
    if (force_ssl)
        keys[n] = "sslmode", vals[n++] = force_ssl;
    keys[n] = NULL, vals[n] = NULL;
    return expand;
}

/* The connection failed: err says why in one line with every secret
 * scrubbed, retryable unless it cannot fix itself; w is closed. */
static int connect_failed(wh *w, pg *p, const char *why, sp_error *err)
{
    char msg[SP_ERROR_MSG_MAX];
    snprintf(msg, sizeof msg, "%s",
             why[0] ? why : p->conn ? PQerrorMessage(p->conn) : "out of memory");
    one_line(msg);
    scrub(p, msg);
    /* A refused password or a missing database will not fix itself. */
    bool permanent = strstr(msg, "authentication failed") || strstr(msg, "does not exist") ||
                     strstr(msg, "invalid") || strstr(msg, "missing");
    if (sp_cancelled())
        sp_fail(err, SP_ERR_CANCELLED, "warehouse %s: connecting: %s", w->describe, msg);
    else if (permanent)
        sp_fail(err, SP_ERR_NET, "warehouse %s: cannot connect: %s", w->describe, msg);
    else
        sp_fail_retry(err, SP_ERR_NET, "warehouse %s: cannot connect: %s", w->describe, msg);
    pg_close(w);
    w->ops = NULL;
    return err->code;
}

int wh_pg_open(wh *w, const char *url, const wh_pg_settings *s, sp_error *err)
{
    const char *keys[24], *vals[24];
    char *token = NULL; /* a password from password_fn (an RDS IAM token, a secret's) */
    const char *force_ssl = NULL;
    if (s && s->password_fn) {
        token = calloc(1, 8192);
        if (!token)
            return sp_fail(err, SP_ERR_NOMEM, "warehouse postgresql: out of memory");
        if (ask_password(url, s, token, 8192, &force_ssl, err) != SP_OK) {
            free(token);
            return err->code;
        }
    }
    int expand = connection_keywords(url, s, token, force_ssl, keys, vals);

    pg *p = calloc(1, sizeof *p);
    if (!p) {
        free(token);
        return sp_fail(err, SP_ERR_NOMEM, "warehouse postgresql: out of memory");
    }
    p->copying = -1;
    p->copying_file = -1;
    p->cancel_hook = -1;
    sp_buf_init(&p->out, PG_COPY_BUF_LIMIT);
    w->ops = &postgres_ops;
    w->impl = p;
    char why[64];
    p->conn = connect_params(keys, vals, expand, why, sizeof why);
    if (token) {
        explicit_bzero(token, 8192);
        free(token);
    }
    free(w->describe);
    w->describe = describe_conn(p->conn, url);
    if (!w->describe) {
        pg_close(w);
        return sp_fail(err, SP_ERR_NOMEM, "warehouse postgresql: out of memory");
    }
    p->describe = w->describe;
    /* Every password in play goes to the scrubber of this connection's
     * messages. */
    const char *used = p->conn ? PQpass(p->conn) : NULL;
    if (used && *used)
        p->secret[0] = strdup(used);
    if (url)
        keep_url_secrets(p, url);
    if (!p->conn || why[0] || PQstatus(p->conn) != CONNECTION_OK)
        return connect_failed(w, p, why, err);
    PQsetNoticeProcessor(p->conn, ignore_notice, NULL);
    return SP_OK;
}
