/* ledger.c — the run ledger: every run and every task attempt of `salespipe
 * run`, in SQLite at STATE_DIR/ledger.db (WAL journal, busy timeout, so runs
 * of different days may write it at once). `runs` reads it. It records what
 * happened; it never decides what runs (runner.c does) and holds no lock
 * between calls (lock.c keeps runs of one ds apart). */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../util/fsutil.h"
#include "orch.h"

struct ledger {
    sqlite3 *db;
    char path[1024];
};

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS runs("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL UNIQUE, ds TEXT NOT NULL,"
    " state TEXT NOT NULL, started TEXT NOT NULL, ended TEXT, pid INTEGER,"
    " failed_task TEXT, error TEXT);"
    "CREATE INDEX IF NOT EXISTS runs_ds ON runs(ds, id);"
    "CREATE TABLE IF NOT EXISTS tasks("
    " run_id TEXT NOT NULL, idx INTEGER NOT NULL, task TEXT NOT NULL, state TEXT NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0, started TEXT, ended TEXT, rows INTEGER,"
    " rejected TEXT, error TEXT, PRIMARY KEY(run_id, task));"
    "CREATE TABLE IF NOT EXISTS attempts("
    " run_id TEXT NOT NULL, task TEXT NOT NULL, attempt INTEGER NOT NULL,"
    " started TEXT NOT NULL, ended TEXT, error TEXT, t_start REAL, t_end REAL,"
    " PRIMARY KEY(run_id, task, attempt));";

/* Unix time with milliseconds, computed by SQLite: the report's timeline
 * needs more than the whole seconds of the ISO columns. */
#define NOW_EPOCH "((julianday('now') - 2440587.5) * 86400.0)"

/* Columns added after the first release (SPEC §8), for ledgers made before. */
static const struct {
    const char *table, *column, *decl;
} ADDED[] = {
    {"runs", "skip_gates", "INTEGER NOT NULL DEFAULT 0"}, /* run --skip-gates */
    {"tasks", "gates", "TEXT"},                           /* the gates' results, JSON */
};

static int db_fail(ledger *l, sp_error *err, const char *what)
{
    int rc = sqlite3_errcode(l->db);
    const char *msg = sqlite3_errmsg(l->db);
    /* The operating system's cause ("No space left on device") says what to
     * fix; SQLite's own text ("database or disk is full") does not. */
    int sys = sqlite3_system_errno(l->db);
    if (sys == 0 && (rc & 0xff) == SQLITE_FULL)
        sys = ENOSPC; /* SQLite keeps no errno for SQLITE_FULL; it means ENOSPC (or a quota) */
    char cause[160] = "";
    if (sys != 0 && rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
        snprintf(cause, sizeof cause, " (%s)", strerror(sys));
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        return sp_fail_retry(err, SP_ERR_IO, "run ledger %s: %s: %s", l->path, what, msg);
    return sp_fail(err, SP_ERR_IO, "run ledger %s: %s: %s%s", l->path, what, msg, cause);
}

static void now_iso(char out[32]) { orch_iso8601((int64_t)time(NULL), out); }

/* Prepare sql; a failure is reported through db_fail. */
static int prepare(ledger *l, sqlite3_stmt **st, const char *sql, sp_error *err)
{
    if (sqlite3_prepare_v2(l->db, sql, -1, st, NULL) != SQLITE_OK)
        return db_fail(l, err, "prepare");
    return SP_OK;
}

/* Bind text parameter i; NULL binds SQL NULL. */
static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

/* Step a statement that returns no rows, then finalize it. */
static int finish(ledger *l, sqlite3_stmt *st, const char *what, sp_error *err)
{
    int rc = sqlite3_step(st);
    int status = SP_OK;
    if (rc != SQLITE_DONE)
        status = db_fail(l, err, what);
    sqlite3_finalize(st);
    return status;
}

static int exec(ledger *l, const char *sql, const char *what, sp_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(l->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        sqlite3_free(msg);
        return db_fail(l, err, what);
    }
    return SP_OK;
}

/* End a transaction begun with BEGIN IMMEDIATE: COMMIT when rc is SP_OK,
 * else ROLLBACK and return rc (the error already in err). */
static int end_transaction(ledger *l, int rc, sp_error *err)
{
    if (rc != SP_OK) {
        sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    return exec(l, "COMMIT", "commit", err);
}

/* Ledgers written before the attempts' t_start/t_end columns get them (the
 * old rows keep NULL: the report falls back to the ISO seconds). */
static int add_timing(ledger *l, sp_error *err)
{
    sqlite3_stmt *st;
    SP_TRY(prepare(l, &st, "SELECT count(*) FROM pragma_table_info('attempts') "
                           "WHERE name = 't_start'", err));
    bool have = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) > 0;
    sqlite3_finalize(st);
    if (have)
        return SP_OK;
    return exec(l, "ALTER TABLE attempts ADD COLUMN t_start REAL;"
                   "ALTER TABLE attempts ADD COLUMN t_end REAL", "add timing columns", err);
}

static int exec(ledger *l, const char *sql, const char *what, sp_error *err);

/* ADDED's columns where missing (names from the table above, never data). */
static int add_columns(ledger *l, sp_error *err)
{
    for (size_t i = 0; i < sizeof ADDED / sizeof ADDED[0]; i++) {
        sqlite3_stmt *st;
        SP_TRY(prepare(l, &st, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2", err));
        bind_text(st, 1, ADDED[i].table);
        bind_text(st, 2, ADDED[i].column);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc == SQLITE_ROW)
            continue;
        if (rc != SQLITE_DONE)
            return db_fail(l, err, "read the schema");
        char sql[256];
        snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s %s", ADDED[i].table,
                 ADDED[i].column, ADDED[i].decl);
        SP_TRY(exec(l, sql, "add a column", err));
    }
    return SP_OK;
}

int ledger_open(ledger **out, const char *state_dir, sp_error *err)
{
    *out = NULL;
    ledger *l = calloc(1, sizeof *l);
    if (!l)
        return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    if (sp_mkdirs(state_dir, strlen(state_dir), err) != SP_OK) {
        free(l);
        return sp_error_prefix(err, "STATE_DIR");
    }
    if ((size_t)snprintf(l->path, sizeof l->path, "%s/ledger.db", state_dir) >= sizeof l->path) {
        free(l);
        return sp_fail(err, SP_ERR_USAGE, "STATE_DIR: path too long");
    }
    if (sqlite3_open_v2(l->path, &l->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        int rc = db_fail(l, err, "open");
        ledger_close(l);
        return rc;
    }
    sqlite3_busy_timeout(l->db, 15000);
    /* WAL lets readers (`runs`) and writers of other days work at once. */
    if (exec(l, "PRAGMA journal_mode=WAL", "journal mode", err) != SP_OK ||
        exec(l, "PRAGMA synchronous=NORMAL", "synchronous", err) != SP_OK ||
        exec(l, SCHEMA, "create schema", err) != SP_OK || add_timing(l, err) != SP_OK ||
        add_columns(l, err) != SP_OK) {
        ledger_close(l);
        return err->code;
    }
    *out = l;
    return SP_OK;
}

int ledger_open_readonly(ledger **out, const char *state_dir, bool *found, sp_error *err)
{
    *out = NULL;
    *found = false;
    ledger *l = calloc(1, sizeof *l);
    if (!l)
        return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    if ((size_t)snprintf(l->path, sizeof l->path, "%s/ledger.db", state_dir) >= sizeof l->path) {
        free(l);
        return sp_fail(err, SP_ERR_USAGE, "STATE_DIR: path too long");
    }
    struct stat st;
    char wal[sizeof l->path + 8];
    snprintf(wal, sizeof wal, "%s-wal", l->path);
    if (stat(l->path, &st) != 0) {
        free(l);
        return SP_OK;
    }
    /* A WAL file means a writer is at work: read through it (its -shm is
     * there). Otherwise the file is complete and nothing may be created
     * beside it: immutable. */
    char uri[3 * sizeof l->path + 32];
    size_t u = (size_t)snprintf(uri, sizeof uri, "file:");
    for (const char *c = l->path; *c; c++) /* a URI: '%', '?' and '#' escaped */
        u += (size_t)snprintf(uri + u, sizeof uri - u, strchr("%?#", *c) ? "%%%02X" : "%c",
                              (unsigned char)*c);
    if (stat(wal, &st) != 0)
        snprintf(uri + u, sizeof uri - u, "?immutable=1");
    if (sqlite3_open_v2(uri, &l->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK) {
        int rc = db_fail(l, err, "open");
        ledger_close(l);
        return rc;
    }
    sqlite3_busy_timeout(l->db, 15000);
    *found = true;
    *out = l;
    return SP_OK;
}

void ledger_close(ledger *l)
{
    if (!l)
        return;
    sqlite3_close(l->db);
    free(l);
}

int ledger_begin_run(ledger *l, const char *run_id, const char *ds, long long pid,
                     const bool skip[PL_NTASKS], sp_error *err)
{
    char now[32];
    now_iso(now);
    sqlite3_stmt *st;
    SP_TRY(exec(l, "BEGIN IMMEDIATE", "begin", err));
    int rc = prepare(l, &st, "INSERT INTO runs(run_id, ds, state, started, pid) "
                             "VALUES(?1, ?2, 'running', ?3, ?4)", err);
    if (rc == SP_OK) {
        bind_text(st, 1, run_id);
        bind_text(st, 2, ds);
        bind_text(st, 3, now);
        sqlite3_bind_int64(st, 4, pid);
        rc = finish(l, st, "record the run", err);
    }
    for (int t = 0; t < PL_NTASKS && rc == SP_OK; t++) {
        rc = prepare(l, &st, "INSERT INTO tasks(run_id, idx, task, state) VALUES(?1, ?2, ?3, ?4)",
                     err);
        if (rc != SP_OK)
            break;
        bind_text(st, 1, run_id);
        sqlite3_bind_int(st, 2, t);
        bind_text(st, 3, pl_task_name((pl_task)t));
        bind_text(st, 4, orch_state_name(skip[t] ? ORCH_SKIPPED : ORCH_PENDING));
        rc = finish(l, st, "record a task", err);
    }
    return end_transaction(l, rc, err);
}

int ledger_reopen_run(ledger *l, const char *run_id, long long pid, sp_error *err)
{
    sqlite3_stmt *st;
    SP_TRY(prepare(l, &st, "UPDATE runs SET state = 'running', ended = NULL, pid = ?2, "
                           "failed_task = NULL, error = NULL WHERE run_id = ?1", err));
    bind_text(st, 1, run_id);
    sqlite3_bind_int64(st, 2, pid);
    return finish(l, st, "reopen the run", err);
}

int ledger_attempt_begin(ledger *l, const char *run_id, pl_task t, int *attempt, sp_error *err)
{
    char now[32];
    now_iso(now);
    const char *task = pl_task_name(t);
    sqlite3_stmt *st;
    SP_TRY(exec(l, "BEGIN IMMEDIATE", "begin", err));
    int rc = prepare(l, &st, "UPDATE tasks SET state = 'running', attempts = attempts + 1, "
                             "started = coalesce(started, ?3), ended = NULL "
                             "WHERE run_id = ?1 AND task = ?2 RETURNING attempts", err);
    if (rc == SP_OK) {
        bind_text(st, 1, run_id);
        bind_text(st, 2, task);
        bind_text(st, 3, now);
        int s = sqlite3_step(st);
        if (s == SQLITE_ROW)
            *attempt = sqlite3_column_int(st, 0);
        else if (s == SQLITE_DONE)
            rc = sp_fail(err, SP_ERR_INTERNAL, "run ledger: no task %s in run %s", task, run_id);
        else
            rc = db_fail(l, err, "start an attempt");
        sqlite3_finalize(st);
    }
    if (rc == SP_OK && (rc = prepare(l, &st, "INSERT OR REPLACE INTO attempts(run_id, task, "
                                             "attempt, started, t_start) VALUES(?1, ?2, ?3, ?4, "
                                             NOW_EPOCH ")", err)) ==
                           SP_OK) {
        bind_text(st, 1, run_id);
        bind_text(st, 2, task);
        sqlite3_bind_int(st, 3, *attempt);
        bind_text(st, 4, now);
        rc = finish(l, st, "record an attempt", err);
    }
    return end_transaction(l, rc, err);
}

int ledger_attempt_end(ledger *l, const char *run_id, pl_task t, int attempt, orch_state state,
                       long long rows, const char *rejected, const char *error, sp_error *err)
{
    char now[32];
    now_iso(now);
    const char *task = pl_task_name(t);
    sqlite3_stmt *st;
    SP_TRY(exec(l, "BEGIN IMMEDIATE", "begin", err));
    int rc = prepare(l, &st, "UPDATE tasks SET state = ?3, ended = ?4, error = ?5, "
                             "rows = CASE WHEN ?6 IS NULL THEN rows ELSE ?6 END, "
                             "rejected = coalesce(?7, rejected) WHERE run_id = ?1 AND task = ?2",
                     err);
    if (rc == SP_OK) {
        bind_text(st, 1, run_id);
        bind_text(st, 2, task);
        bind_text(st, 3, orch_state_name(state));
        bind_text(st, 4, now);
        bind_text(st, 5, error);
        if (rows >= 0)
            sqlite3_bind_int64(st, 6, rows);
        else
            sqlite3_bind_null(st, 6);
        bind_text(st, 7, rejected);
        rc = finish(l, st, "end an attempt", err);
    }
    if (rc == SP_OK && (rc = prepare(l, &st, "UPDATE attempts SET ended = ?4, error = ?5, "
                                             "t_end = " NOW_EPOCH " WHERE run_id = ?1 AND "
                                             "task = ?2 AND attempt = ?3", err)) ==
                           SP_OK) {
        bind_text(st, 1, run_id);
        bind_text(st, 2, task);
        sqlite3_bind_int(st, 3, attempt);
        bind_text(st, 4, now);
        bind_text(st, 5, error);
        rc = finish(l, st, "end an attempt", err);
    }
    return end_transaction(l, rc, err);
}

int ledger_end_run(ledger *l, const char *run_id, orch_state state, const char *failed_task,
                   const char *error, sp_error *err)
{
    char now[32];
    now_iso(now);
    sqlite3_stmt *st;
    SP_TRY(prepare(l, &st, "UPDATE runs SET state = ?2, ended = ?3, failed_task = ?4, error = ?5 "
                           "WHERE run_id = ?1", err));
    bind_text(st, 1, run_id);
    bind_text(st, 2, orch_state_name(state));
    bind_text(st, 3, now);
    bind_text(st, 4, failed_task);
    bind_text(st, 5, error);
    return finish(l, st, "end the run", err);
}

int ledger_note_skip_gates(ledger *l, const char *run_id, sp_error *err)
{
    sqlite3_stmt *st;
    SP_TRY(prepare(l, &st, "UPDATE runs SET skip_gates = 1 WHERE run_id = ?1", err));
    bind_text(st, 1, run_id);
    return finish(l, st, "record --skip-gates", err);
}

int ledger_task_gates(ledger *l, const char *run_id, pl_task t, const char *gates, sp_error *err)
{
    sqlite3_stmt *st;
    SP_TRY(prepare(l, &st, "UPDATE tasks SET gates = ?3 WHERE run_id = ?1 AND task = ?2", err));
    bind_text(st, 1, run_id);
    bind_text(st, 2, pl_task_name(t));
    bind_text(st, 3, gates);
    return finish(l, st, "record the gates", err);
}

static const char *col(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

int ledger_mark_abandoned(ledger *l, bool (*is_alive)(const char *ds, void *arg), void *arg,
                          sp_error *err)
{
    sqlite3_stmt *st;
    if (prepare(l, &st, "SELECT run_id, ds, pid FROM runs WHERE state = 'running' ORDER BY id",
                err) != SP_OK)
        return -1;
    /* Collect first: the updates below must not run under an open SELECT. */
    enum { MAX_STALE = 64 };
    char ids[MAX_STALE][64];
    long long pids[MAX_STALE];
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < MAX_STALE) {
        const char *id = col(st, 0), *ds = col(st, 1);
        if (!id || !ds || is_alive(ds, arg))
            continue;
        snprintf(ids[n], sizeof ids[n], "%s", id);
        pids[n++] = sqlite3_column_int64(st, 2);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        db_fail(l, err, "find running runs");
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    char now[32];
    now_iso(now);
    /* Each run's tasks, attempts and row change together or not at all. */
    for (int i = 0; i < n; i++) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "abandoned: process %lld ended without recording an outcome (killed?)", pids[i]);
        static const char *const SQL[] = {
            "UPDATE tasks SET state = 'failed', ended = ?2, error = ?3 "
            "WHERE run_id = ?1 AND state = 'running'",
            "UPDATE attempts SET ended = ?2, error = ?3 WHERE run_id = ?1 AND ended IS NULL",
            "UPDATE runs SET state = 'failed', ended = ?2, error = ?3, failed_task = "
            "(SELECT task FROM tasks WHERE run_id = ?1 AND state = 'failed' ORDER BY idx LIMIT 1) "
            "WHERE run_id = ?1 AND state = 'running'"};
        if (exec(l, "BEGIN IMMEDIATE", "begin", err) != SP_OK)
            return -1;
        rc = SP_OK;
        for (size_t k = 0; k < sizeof SQL / sizeof SQL[0] && rc == SP_OK; k++) {
            if ((rc = prepare(l, &st, SQL[k], err)) != SP_OK)
                break;
            bind_text(st, 1, ids[i]);
            bind_text(st, 2, now);
            bind_text(st, 3, msg);
            rc = finish(l, st, "mark an abandoned run", err);
        }
        if (end_transaction(l, rc, err) != SP_OK)
            return -1;
    }
    return n;
}

#define RUN_COLUMNS "run_id, ds, state, started, ended, pid, error, failed_task, skip_gates"

static void read_run(sqlite3_stmt *st, ledger_run *r)
{
    r->run_id = col(st, 0);
    r->ds = col(st, 1);
    r->state = col(st, 2);
    r->started = col(st, 3);
    r->ended = col(st, 4);
    r->pid = sqlite3_column_int64(st, 5);
    r->error = col(st, 6);
    r->failed_task = col(st, 7);
    r->skip_gates = sqlite3_column_int(st, 8) != 0;
}

static int each(ledger *l, sqlite3_stmt *st, void (*fn)(const ledger_run *r, void *arg), void *arg,
                sp_error *err)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ledger_run r;
        read_run(st, &r);
        fn(&r, arg);
    }
    int status = rc == SQLITE_DONE ? SP_OK : db_fail(l, err, "read runs");
    sqlite3_finalize(st);
    return status;
}

int ledger_latest_run(ledger *l, const char *ds, void (*fn)(const ledger_run *r, void *arg),
                      void *arg, sp_error *err)
{
    sqlite3_stmt *st;
    SP_TRY(prepare(l, &st, "SELECT " RUN_COLUMNS " FROM runs WHERE ds = ?1 ORDER BY id DESC LIMIT 1",
                   err));
    bind_text(st, 1, ds);
    return each(l, st, fn, arg, err);
}

int ledger_each_run(ledger *l, void (*fn)(const ledger_run *r, void *arg), void *arg,
                    sp_error *err)
{
    sqlite3_stmt *st;
    SP_TRY(prepare(l, &st, "SELECT " RUN_COLUMNS " FROM runs ORDER BY id", err));
    return each(l, st, fn, arg, err);
}

int ledger_get_run(ledger *l, const char *run_id, bool *found,
                   void (*fn)(const ledger_run *r, const ledger_task *tasks, int ntasks, void *arg),
                   void *arg, sp_error *err)
{
    *found = false;
    sqlite3_stmt *rs, *ts;
    SP_TRY(prepare(l, &rs, "SELECT " RUN_COLUMNS " FROM runs WHERE run_id = ?1", err));
    bind_text(rs, 1, run_id);
    int rc = sqlite3_step(rs);
    if (rc != SQLITE_ROW) {
        int status = rc == SQLITE_DONE ? SP_OK : db_fail(l, err, "read the run");
        sqlite3_finalize(rs);
        return status;
    }
    if (prepare(l, &ts, "SELECT task, state, attempts, started, ended, rows, error, rejected, gates "
                        "FROM tasks WHERE run_id = ?1 ORDER BY idx", err) != SP_OK) {
        sqlite3_finalize(rs);
        return err->code;
    }
    bind_text(ts, 1, run_id);
    /* Column texts stay valid until the next step, so each task's row is
     * copied into storage owned here. */
    struct {
        char task[16], state[16], started[32], ended[32];
        char *error, *rejected, *gates;
    } keep[PL_NTASKS];
    ledger_task tasks[PL_NTASKS];
    int n = 0;
    while (n < PL_NTASKS && (rc = sqlite3_step(ts)) == SQLITE_ROW) {
        ledger_task *t = &tasks[n];
        snprintf(keep[n].task, sizeof keep[n].task, "%s", col(ts, 0) ? col(ts, 0) : "?");
        snprintf(keep[n].state, sizeof keep[n].state, "%s", col(ts, 1) ? col(ts, 1) : "?");
        snprintf(keep[n].started, sizeof keep[n].started, "%s", col(ts, 3) ? col(ts, 3) : "");
        snprintf(keep[n].ended, sizeof keep[n].ended, "%s", col(ts, 4) ? col(ts, 4) : "");
        keep[n].error = col(ts, 6) ? strdup(col(ts, 6)) : NULL;
        keep[n].rejected = col(ts, 7) ? strdup(col(ts, 7)) : NULL;
        keep[n].gates = col(ts, 8) ? strdup(col(ts, 8)) : NULL;
        t->task = keep[n].task;
        t->state = keep[n].state;
        t->attempts = sqlite3_column_int(ts, 2);
        t->started = col(ts, 3) ? keep[n].started : NULL;
        t->ended = col(ts, 4) ? keep[n].ended : NULL;
        t->has_rows = sqlite3_column_type(ts, 5) != SQLITE_NULL;
        t->rows = sqlite3_column_int64(ts, 5);
        t->error = keep[n].error;
        t->rejected = keep[n].rejected;
        t->gates = keep[n].gates;
        n++;
    }
    int status = SP_OK;
    if (n < PL_NTASKS && rc != SQLITE_DONE)
        status = db_fail(l, err, "read the run's tasks");
    sqlite3_finalize(ts);
    if (status == SP_OK) {
        ledger_run r;
        read_run(rs, &r);
        *found = true;
        fn(&r, tasks, n, arg);
    }
    sqlite3_finalize(rs);
    for (int i = 0; i < n; i++) {
        free(keep[i].error);
        free(keep[i].rejected);
        free(keep[i].gates);
    }
    return status;
}

int ledger_each_attempt(ledger *l, const char *run_id, const char *task,
                        void (*fn)(int attempt, const char *started, const char *ended,
                                   const char *error, void *arg),
                        void *arg, sp_error *err)
{
    sqlite3_stmt *st;
    SP_TRY(prepare(l, &st, "SELECT attempt, started, ended, error FROM attempts "
                           "WHERE run_id = ?1 AND task = ?2 ORDER BY attempt", err));
    bind_text(st, 1, run_id);
    bind_text(st, 2, task);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn(sqlite3_column_int(st, 0), col(st, 1), col(st, 2), col(st, 3), arg);
    int status = rc == SQLITE_DONE ? SP_OK : db_fail(l, err, "read attempts");
    sqlite3_finalize(st);
    return status;
}

static double real_or(sqlite3_stmt *st, int i, double none)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? none : sqlite3_column_double(st, i);
}

int ledger_run_attempts(ledger *l, const char *run_id,
                        void (*fn)(const ledger_attempt *a, void *arg), void *arg, sp_error *err)
{
    sqlite3_stmt *st;
    SP_TRY(prepare(l, &st, "SELECT a.task, a.attempt, a.started, a.ended, a.error, a.t_start, "
                           "a.t_end FROM attempts a LEFT JOIN tasks t ON t.run_id = a.run_id AND "
                           "t.task = a.task WHERE a.run_id = ?1 "
                           "ORDER BY a.started, coalesce(a.t_start, 0), t.idx, a.attempt", err));
    bind_text(st, 1, run_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ledger_attempt a = {col(st, 0), sqlite3_column_int(st, 1), col(st, 2), col(st, 3),
                            col(st, 4), real_or(st, 5, -1), real_or(st, 6, -1)};
        fn(&a, arg);
    }
    int status = rc == SQLITE_DONE ? SP_OK : db_fail(l, err, "read attempts");
    sqlite3_finalize(st);
    return status;
}

int ledger_recent_runs(ledger *l, int n, void (*fn)(const ledger_summary *s, void *arg), void *arg,
                       sp_error *err)
{
    sqlite3_stmt *st;
    SP_TRY(prepare(l, &st, "SELECT r.run_id, r.ds, r.state, r.started, r.ended, "
                           "(SELECT min(t_start) FROM attempts a WHERE a.run_id = r.run_id), "
                           "(SELECT max(t_end) FROM attempts a WHERE a.run_id = r.run_id), "
                           "t.rows, t.rejected, CAST(strftime('%s', r.started) AS REAL), "
                           "CAST(strftime('%s', r.ended) AS REAL) FROM runs r "
                           "LEFT JOIN tasks t ON t.run_id = r.run_id AND t.task = 'transform' "
                           "ORDER BY r.id DESC LIMIT ?1", err));
    sqlite3_bind_int(st, 1, n);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ledger_summary s = {col(st, 0), col(st, 1), col(st, 2), col(st, 3), col(st, 4),
                            real_or(st, 5, real_or(st, 9, -1)), real_or(st, 6, real_or(st, 10, -1)),
                            sqlite3_column_type(st, 7) != SQLITE_NULL,
                            sqlite3_column_int64(st, 7), col(st, 8)};
        fn(&s, arg);
    }
    int status = rc == SQLITE_DONE ? SP_OK : db_fail(l, err, "read recent runs");
    sqlite3_finalize(st);
    return status;
}

int ledger_last_success(ledger *l, double *t, bool *found, sp_error *err)
{
    *found = false;
    sqlite3_stmt *st;
    SP_TRY(prepare(l, &st, "SELECT coalesce((SELECT max(t_end) FROM attempts a WHERE a.run_id = "
                           "r.run_id), CAST(strftime('%s', r.ended) AS REAL)) FROM runs r "
                           "WHERE r.state = 'succeeded' ORDER BY r.id DESC LIMIT 1", err));
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        *t = sqlite3_column_double(st, 0);
        *found = true;
    }
    int status = rc == SQLITE_ROW || rc == SQLITE_DONE ? SP_OK : db_fail(l, err, "read the last success");
    sqlite3_finalize(st);
    return status;
}
