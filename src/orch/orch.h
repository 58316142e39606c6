/* orch.h — orchestration on top of the pipeline: `run` with per-task
 * retries, the run ledger (SQLite in STATE_DIR), the per-ds run lock,
 * resume, and the alert sent once when a run finally fails.
 * Uses pipeline and config; the tasks know nothing of it. It never exits
 * the process and never prints a secret (alerts carry no URL or password).
 *
 * Ownership: a ledger is opened by ledger_open and released by
 * ledger_close; rows handed to callbacks are views valid during the call. */
#ifndef SP_ORCH_H
#define SP_ORCH_H

#include <stdbool.h>
#include <stdint.h>

#include "../config/config.h"
#include "../pipeline/pipeline.h"
#include "../util/error.h"

/* ---- states and the retry policy (policy.c) -------------------------- */

typedef enum orch_state {
    ORCH_PENDING = 0,
    ORCH_RUNNING,
    ORCH_SUCCEEDED,
    ORCH_FAILED,
    ORCH_SKIPPED,
} orch_state;

/* "pending", "running", "succeeded", "failed", "skipped". */
const char *orch_state_name(orch_state s);

/* May trying the same task again help? sp_error_retryable (util/error.h)
 * decides: never for configuration, data, format, caps, unsupported
 * features, servers' refusals and local errors that waiting cannot fix (a
 * missing folder, a permission, a read-only or full disk); yes for
 * transient network and other I/O errors, and whenever the error says so. */
bool orch_is_retryable(const sp_error *err);

/* Seconds to wait before retry number `retry` (1-based): `delay` for a
 * fixed backoff, delay * 2^(retry-1) for exponential, capped at one day. */
long long orch_retry_delay(long long delay, bool exponential, int retry);

/* "2026-11-26T17:10:00Z" for t, into out (at least 21 bytes). */
void orch_iso8601(int64_t t, char out[32]);

/* ---- the run ledger (ledger.c) ----------------------------------------- */

typedef struct ledger ledger;

typedef struct ledger_task {
    const char *task;     /* command-line name */
    const char *state;    /* an orch_state name */
    int attempts;
    const char *started;  /* ISO 8601 UTC, or NULL */
    const char *ended;    /* ISO 8601 UTC, or NULL */
    bool has_rows;
    long long rows;       /* transform: rows in; load: fact_sales rows */
    const char *error;    /* last error, or NULL */
    const char *rejected; /* transform: JSON object of reject counts, or NULL */
    const char *gates;    /* transform, load: JSON array of gate results, or NULL */
} ledger_task;

typedef struct ledger_run {
    const char *run_id, *ds, *state;
    const char *started, *ended; /* ended NULL while running */
    long long pid;
    const char *error;           /* why the run failed, or NULL */
    const char *failed_task;     /* the task that failed, or NULL */
    bool skip_gates;             /* run with --skip-gates */
} ledger_run;

/* Open (creating) STATE_DIR/ledger.db: WAL journal, busy timeout. */
int ledger_open(ledger **out, const char *state_dir, sp_error *err);
/* Open STATE_DIR/ledger.db to read only, creating and changing nothing
 * (`plan`); *found false and *out NULL when there is none. */
int ledger_open_readonly(ledger **out, const char *state_dir, bool *found, sp_error *err);
void ledger_close(ledger *l); /* NULL is allowed */

/* Record a new run "running", its tasks "pending" or, where skip[t],
 * "skipped". */
int ledger_begin_run(ledger *l, const char *run_id, const char *ds, long long pid,
                     const bool skip[PL_NTASKS], sp_error *err);
/* A failed run starts again: state "running", no end, the new pid. */
int ledger_reopen_run(ledger *l, const char *run_id, long long pid, sp_error *err);
/* One more attempt of a task starts; *attempt receives its number across
 * every invocation of the run (attempts accumulate over resumes). */
int ledger_attempt_begin(ledger *l, const char *run_id, pl_task t, int *attempt, sp_error *err);
/* The attempt ended in `state`; rows < 0 records none; error and rejected
 * may be NULL. */
int ledger_attempt_end(ledger *l, const char *run_id, pl_task t, int attempt, orch_state state,
                       long long rows, const char *rejected, const char *error, sp_error *err);
/* The run ended; failed_task and error are NULL on success. */
int ledger_end_run(ledger *l, const char *run_id, orch_state state, const char *failed_task,
                   const char *error, sp_error *err);

/* The run was started with --skip-gates (SPEC §8). */
int ledger_note_skip_gates(ledger *l, const char *run_id, sp_error *err);
/* The gates' results of a task's last attempt, a JSON array (NULL clears). */
int ledger_task_gates(ledger *l, const char *run_id, pl_task t, const char *gates, sp_error *err);

/* Every run "running" whose process is gone (is_alive says no) becomes
 * "failed" with an error naming the pid; its running tasks fail too.
 * Returns the number so marked, or -1 on error. */
int ledger_mark_abandoned(ledger *l, bool (*is_alive)(const char *ds, void *arg), void *arg,
                          sp_error *err);

/* The newest run of ds: calls fn once (or not at all when there is none). */
int ledger_latest_run(ledger *l, const char *ds, void (*fn)(const ledger_run *r, void *arg),
                      void *arg, sp_error *err);
/* Every run, oldest first. */
int ledger_each_run(ledger *l, void (*fn)(const ledger_run *r, void *arg), void *arg,
                    sp_error *err);
/* One run and its tasks in pipeline order; *found false when unknown. */
int ledger_get_run(ledger *l, const char *run_id, bool *found,
                   void (*fn)(const ledger_run *r, const ledger_task *tasks, int ntasks, void *arg),
                   void *arg, sp_error *err);
/* Every attempt of one task of a run, in order (for `runs RUN_ID`). */
int ledger_each_attempt(ledger *l, const char *run_id, const char *task,
                        void (*fn)(int attempt, const char *started, const char *ended,
                                   const char *error, void *arg),
                        void *arg, sp_error *err);

/* One attempt as the report's timeline needs it: t_start / t_end are Unix
 * seconds with milliseconds, < 0 when not recorded (older ledgers, an
 * attempt still running or abandoned). */
typedef struct ledger_attempt {
    const char *task;
    int attempt;
    const char *started, *ended, *error;
    double t_start, t_end;
} ledger_attempt;
/* Every attempt of a run, in the order they started. */
int ledger_run_attempts(ledger *l, const char *run_id,
                        void (*fn)(const ledger_attempt *a, void *arg), void *arg, sp_error *err);

/* A run's figures for trends: t_start / t_end (Unix seconds, < 0 unknown)
 * span its attempts; rows and rejected are the transform's. */
typedef struct ledger_summary {
    const char *run_id, *ds, *state, *started, *ended;
    double t_start, t_end;
    bool has_rows;
    long long rows;
    const char *rejected; /* JSON object of reject counts, or NULL */
} ledger_summary;
/* The newest n runs, newest first. */
int ledger_recent_runs(ledger *l, int n, void (*fn)(const ledger_summary *s, void *arg), void *arg,
                       sp_error *err);
/* When the newest succeeded run ended (Unix seconds); *found false if none. */
int ledger_last_success(ledger *l, double *t, bool *found, sp_error *err);

/* ---- the per-ds lock (lock.c) ------------------------------------------ */

/* Take STATE_DIR/locks/<ds>.lock for the lifetime of a run (exclusive:
 * shared false) or of a single task run alone (shared: tasks of one ds may
 * overlap; a run and a task may not) and write "pid holder" into it; holder
 * is "run RUN_ID" or "task NAME". When another process holds it in a
 * conflicting mode, fails at once with *busy set and a message naming the
 * holder recorded in the file and its pid. On success *fd is the lock;
 * orch_lock_release closes it. */
int orch_lock_acquire(const char *state_dir, const char *ds, bool shared, const char *holder,
                      int *fd, bool *busy, sp_error *err);
/* Rewrite the holder recorded in the lock (after the run_id is known). */
void orch_lock_note(int fd, const char *holder);
void orch_lock_release(int fd);
/* Is the lock of ds held exclusively (by a run) right now? (Probes without
 * blocking; a lock file that does not exist is not held.) */
bool orch_lock_held(const char *state_dir, const char *ds);

/* ---- alerts (alert.c) --------------------------------------------------- */

typedef struct orch_alert {
    const char *run_id, *ds, *task;
    int attempts;
    const char *error;
    const char *rejected; /* JSON object text of reject counts, or NULL */
    const char *gates;    /* JSON array text of the failed task's gate results, or NULL */
} orch_alert;

/* Send the alert to ALERT_WEBHOOK_URL and/or by mail to ALERT_EMAIL through
 * SMTP_URL, whichever are set, with short timeouts. Delivery failures are
 * logged (without secrets) and counted in the return value; they are never
 * the run's error. */
int orch_alert_send(const sp_config *cfg, const orch_alert *a);

/* The webhook's JSON body (exposed for tests); caller frees *out. */
int orch_alert_json(const orch_alert *a, char **out, sp_error *err);

/* ---- debris (sweep.c) --------------------------------------------------- */

/* Remove what processes that died mid-task left: ".tmp-…" items in the raw
 * and processed stores and multipart uploads left open (store_sweep), and
 * TMPDIR's salespipe-transform-* / salespipe-load-* work folders, when their
 * owner is gone (or, unknowable, they are older than DEBRIS_MAX_AGE). Each
 * removal is logged; failures are warnings, never the caller's error.
 * Returns the number of items removed. */
int orch_sweep(pl_ctx *ctx);

/* ---- the runner (runner.c) --------------------------------------------- */

typedef struct orch_options {
    const char *ds;          /* NULL: today (UTC) */
    int first, last;         /* task range to run (inclusive) for a new run */
    bool resume;             /* continue the latest failed run of ds */
    long long retries;       /* retries per task (after the first attempt) */
    long long delay;         /* seconds before the first retry */
    bool exponential;        /* backoff doubles each retry */
    /* Called once the run is recorded as started, and once its outcome is
     * in the ledger (failed runs too): the report, metrics and lineage
     * events (src/report) hang here, so orch knows nothing of them. Either
     * may be NULL; they must not fail the run. */
    void (*on_start)(pl_ctx *ctx, void *arg);
    void (*on_end)(pl_ctx *ctx, bool succeeded, void *arg);
    void *hook_arg;
    bool skip_gates;         /* --skip-gates: gates recorded, not enforced (SPEC §8) */
} orch_options;

/* Run the tasks with retries, recording everything in the ledger, alerting
 * once if the run finally fails, printing the summary. Every error is logged
 * here (callers only map the status to an exit code). Returns SP_OK, or the
 * status of the failure (the failing task's, or the ledger's / lock's when
 * the run could not start: then nothing ran and nothing was alerted). */
int orch_run(const sp_config *cfg, const orch_options *o, sp_error *err);

/* `salespipe plan [--ds D]` (plan.c): what `run` would do, on stdout;
 * changes nothing (no store object, warehouse row, ledger row or lock). */
int orch_plan(const sp_config *cfg, const char *ds, sp_error *err);

/* `salespipe runs [RUN_ID] [--json]`: print the history or one run to
 * stdout. SP_ERR_DATA with a message when RUN_ID is unknown. */
int orch_print_runs(const sp_config *cfg, const char *run_id, bool json, sp_error *err);

/* ---- backfill (backfill.c) ---------------------------------------------- */

#define ORCH_BACKFILL_MAX_DAYS 3660 /* ten years and a few days */

typedef struct orch_backfill_options {
    const char *from, *to;   /* first and last ds, YYYY-MM-DD, inclusive */
    bool resume;             /* skip succeeded days, resume a failed one, then go on */
    orch_options run;        /* retries and delays of each day's run (ds, resume: ours) */
} orch_backfill_options;

/* Check a backfill's range: SP_ERR_USAGE naming the problem when a date is
 * malformed or impossible, --to is before --from, or the range exceeds
 * ORCH_BACKFILL_MAX_DAYS. *first receives --from as days since 1970-01-01,
 * *ndays the number of days. */
int orch_backfill_range(const char *from, const char *to, int64_t *first, int64_t *ndays,
                        sp_error *err);

/* `salespipe backfill`: orch_run once per ds from o->from to o->to, in date
 * order, each its own run in the ledger; stops at the first day whose run
 * fails (its status returned, err prefixed "ds D (run R)"). With o->resume,
 * days whose latest run succeeded are skipped and a failed latest run is
 * resumed. Logs its progress and errors itself. */
int orch_backfill(const sp_config *cfg, const orch_backfill_options *o, sp_error *err);

#endif
