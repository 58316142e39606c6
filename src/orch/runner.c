/* runner.c — `salespipe run`: the tasks in order, each failed attempt
 * retried (RETRIES, RETRY_DELAY, RETRY_BACKOFF) unless its error is
 * permanent (policy.c), every attempt logged and recorded in the ledger,
 * one alert when the run finally fails. Holds the ds lock (lock.c) for the
 * whole run, so a second run, or a single task, of the same ds refuses at
 * once (and the run refuses while one of those holds it). SIGINT or
 * SIGTERM (util/cancel.h) at any moment stop the task in flight, which
 * removes its temporary files and rolls its load back; the run is then
 * recorded as failed ("cancelled by SIGTERM"), alerted once, and the last
 * log line says what was stopped and cleaned (exit 128 + signal). A task
 * that finished before it saw the signal counts as done. Debris of dead
 * processes is swept (sweep.c) before the first task that uses the stores. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../util/buf.h"
#include "../util/cancel.h"
#include "../util/clock.h"
#include "../util/log.h"
#include "orch.h"

/* The run was stopped by a signal: the error says so, with what was running
 * (`what`: "during transform after 0.52s", "before load started", …) and the
 * task's own message; never retried. */
static void cancelled_error(sp_error *e, const char *what)
{
    char cause[SP_ERROR_MSG_MAX];
    snprintf(cause, sizeof cause, "%s", e->msg);
    sp_fail(e, SP_ERR_CANCELLED, "cancelled by %s %s%s%s%s",
            sp_cancel_signal_name(sp_cancel_signal()), what, cause[0] ? " (" : "", cause,
            cause[0] ? ")" : "");
}

typedef struct found_run {
    bool found;
    char run_id[64], state[16];
} found_run;

static void keep_run(const ledger_run *r, void *arg)
{
    found_run *f = arg;
    f->found = true;
    snprintf(f->run_id, sizeof f->run_id, "%s", r->run_id ? r->run_id : "");
    snprintf(f->state, sizeof f->state, "%s", r->state ? r->state : "");
}

typedef struct resume_plan {
    bool run[PL_NTASKS];
    char rejected[512];
} resume_plan;

static void plan_resume(const ledger_run *r, const ledger_task *tasks, int n, void *arg)
{
    (void)r;
    resume_plan *p = arg;
    for (int i = 0; i < n; i++) {
        int t = pl_task_parse(tasks[i].task);
        if (t >= 0)
            p->run[t] = strcmp(tasks[i].state, "succeeded") != 0 &&
                        strcmp(tasks[i].state, "skipped") != 0;
        if (t == PL_TRANSFORM && tasks[i].rejected)
            snprintf(p->rejected, sizeof p->rejected, "%s", tasks[i].rejected);
    }
}

typedef struct alive_probe {
    const char *state_dir, *own_ds;
} alive_probe;

/* A "running" row is alive while its ds lock is held. Our own ds's lock is
 * ours: any row of it still "running" belongs to a process that died. */
static bool is_alive(const char *ds, void *arg)
{
    alive_probe *p = arg;
    if (p->own_ds && strcmp(ds, p->own_ds) == 0)
        return false;
    return orch_lock_held(p->state_dir, ds);
}

/* {"malformed":n,…} of the transform's counts, into out. */
static void rejected_json(const star_counts *c, char *out, size_t outsz)
{
    size_t n = (size_t)snprintf(out, outsz, "{");
    for (int r = RULES_MALFORMED; r < RULES_NREASONS && n < outsz; r++)
        n += (size_t)snprintf(out + n, outsz - n, "%s\"%s\":%lld", r > RULES_MALFORMED ? "," : "",
                              rules_reason_name((rules_reason)r), (long long)c->rejected[r]);
    if (n < outsz)
        snprintf(out + n, outsz - n, "}");
}

static void ledger_warn(const sp_error *e)
{
    sp_log(SP_LOG_WARN, "%s (the run goes on; its record may be incomplete)", e->msg);
}

/* A write to the ledger failed: the run must not go on and later exit 0
 * while its record says otherwise. The first failure is kept; the run stops
 * at the next task boundary (stop_here) and exits 1. */
static void ledger_failed(sp_error *first, const sp_error *e)
{
    sp_log(SP_LOG_ERROR, "%s (the run stops at the next task boundary)", e->msg);
    if (first->code == SP_OK)
        *first = *e;
}

/* Before each attempt of a task: a stop request, or a ledger that cannot be
 * written, ends the run here, before any more work. */
static bool stop_here(const char *name, const sp_error *ledger_err, sp_error *task_err,
                      char *stopped, size_t stoppedsz)
{
    if (sp_cancelled()) {
        sp_error_clear(task_err);
        snprintf(stopped, stoppedsz, "before %s started", name);
        cancelled_error(task_err, stopped);
        return true;
    }
    if (ledger_err->code == SP_OK)
        return false;
    sp_fail(task_err, SP_ERR_IO, "%s; the run stopped before %s: its record cannot be kept",
            ledger_err->msg, name);
    return true;
}

static int run_tasks(const sp_config *cfg, const orch_options *o, bool *started, sp_error *err);

/* The end-of-run summary as one log line (SPEC §9: one JSON object with
 * the counts, the rejects by reason, the table sizes and, when the run
 * failed, the task and its error class). */
static void log_summary(const pl_ctx *ctx, const char *failed_task, const sp_error *task_err,
                        const char *stopped, double secs)
{
    sp_log_fields f = {.event = failed_task ? "failed" : "succeeded", .has_duration = true,
                       .duration_s = secs};
    char extra[1024] = "", rej[512];
    size_t n = 0;
    if (ctx->transformed) {
        pl_log_counts(&f, &ctx->tf.counts);
        rejected_json(&ctx->tf.counts, rej, sizeof rej);
        n += (size_t)snprintf(extra + n, sizeof extra - n, "\"rejected\":%s", rej);
    }
    if (ctx->loaded && n < sizeof extra)
        n += (size_t)snprintf(extra + n, sizeof extra - n,
                              "%s\"tables\":{\"dim_date\":%lld,\"dim_product\":%lld,"
                              "\"fact_sales\":%lld}", n ? "," : "",
                              (long long)ctx->table_rows[0], (long long)ctx->table_rows[1],
                              (long long)ctx->table_rows[2]);
    if (failed_task && n < sizeof extra) {
        snprintf(extra + n, sizeof extra - n, "%s\"failed_task\":\"%s\"", n ? "," : "",
                 failed_task);
        f.error_class = sp_status_name(task_err->code);
    }
    f.extra = extra;
    if (failed_task && stopped) { /* a stop: the last line says what was stopped and cleaned */
        const char *notes = sp_cancel_notes();
        int sig = sp_cancel_signal();
        sp_log_event(SP_LOG_ERROR, &f, "run %s (ds %s): stopped by %s %s; cleaned up: %s; "
                     "recorded as failed; exit status %d", ctx->run_id, ctx->ds,
                     sp_cancel_signal_name(sig), stopped,
                     notes[0] ? notes : "nothing was left to clean", 128 + sig);
    } else if (failed_task)
        sp_log_event(SP_LOG_ERROR, &f, "run %s (ds %s): failed at %s after %.2fs: %s",
                     ctx->run_id, ctx->ds, failed_task, secs, task_err->msg);
    else if (ctx->transformed)
        sp_log_event(SP_LOG_INFO, &f, "run %s (ds %s): succeeded in %.2fs: rows in %lld, kept "
                     "%lld, rejected %lld", ctx->run_id, ctx->ds, secs, (long long)f.rows_in,
                     (long long)f.rows_kept, (long long)f.rows_rejected);
    else
        sp_log_event(SP_LOG_INFO, &f, "run %s (ds %s): succeeded in %.2fs", ctx->run_id, ctx->ds,
                     secs);
}

/* The gates of a transform or load attempt (SPEC §8) into the ledger; *json
 * keeps them (replaced each attempt, freed by the caller) for the alert. */
static void record_gates(ledger *l, const pl_ctx *ctx, pl_task t, char **json)
{
    if (t != PL_TRANSFORM && t != PL_LOAD)
        return;
    free(*json);
    *json = NULL;
    if (ctx->gates.n > 0) { /* none: the attempt failed before its gates (cleared) */
        sp_buf b;
        sp_buf_init(&b, 1 << 20);
        pl_gates_json(&ctx->gates, &b);
        sp_buf_putc(&b, '\0');
        if (!b.broken)
            *json = (char *)b.data;
        else
            sp_buf_free(&b);
    }
    sp_error e;
    sp_error_clear(&e);
    if (ledger_task_gates(l, ctx->run_id, t, *json, &e) != SP_OK)
        ledger_warn(&e);
}

typedef struct local_changes {
    const pl_ctx *ctx;
    int shown;
} local_changes;

static void note_change(void *arg, const char *name, pl_input_change what)
{
    local_changes *c = arg;
    if (c->shown++ >= 10)
        return;
    const char *data_dir = sp_config_get(c->ctx->cfg, "DATA_DIR");
    if (what == PL_INPUT_CHANGED)
        sp_log(SP_LOG_WARN, "run --resume: %s/raw/%s differs from its staged copy %s%s", data_dir,
               name, c->ctx->prefix, name);
    else if (what == PL_INPUT_NEW)
        sp_log(SP_LOG_WARN, "run --resume: %s/raw/%s is not among this run's staged inputs",
               data_dir, name);
    else
        sp_log(SP_LOG_WARN, "run --resume: %s was staged by this run but is no longer in "
               "%s/raw", name, data_dir);
}

/* A resumed run reads what its stage recorded (_inputs.json), never the
 * local files again: say so when they differ, and how to start over. */
static void warn_local_changes(pl_ctx *ctx)
{
    local_changes c = {ctx, 0};
    int n = 0;
    bool found = false;
    sp_error e;
    sp_error_clear(&e);
    if (pl_inputs_local_changes(ctx, note_change, &c, &n, &found, &e) != SP_OK) {
        sp_log(SP_LOG_WARN, "run --resume: cannot compare %s/raw with the staged inputs: %s",
               sp_config_get(ctx->cfg, "DATA_DIR"), e.msg);
        return;
    }
    if (n > 10)
        sp_log(SP_LOG_WARN, "run --resume: %d more difference%s", n - 10, n == 11 ? "" : "s");
    if (n > 0)
        sp_log(SP_LOG_WARN, "run --resume: this run goes on with the staged copies, as stage "
               "recorded them; to read the local files instead, start a new run (it stages "
               "again): salespipe run --ds %s (without --resume)", ctx->ds);
}

int orch_run(const sp_config *cfg, const orch_options *o, sp_error *err)
{
    sp_cancel_install(); /* from here a signal is a clean stop, never a kill */
    bool started = false;
    int rc = run_tasks(cfg, o, &started, err);
    /* A task's failure was logged attempt by attempt; a run that could not
     * start (lock, ledger, nothing to resume) is logged here. */
    if (rc != SP_OK && !started)
        sp_log(SP_LOG_ERROR, "run: %s", err->msg);
    return rc;
}

/* One run in progress: what the phases of run_tasks share. */
typedef struct run_state {
    const sp_config *cfg;
    const orch_options *o;
    const char *state_dir;
    pl_ctx ctx;
    ledger *l;
    int lock;
    bool plan[PL_NTASKS];  /* the tasks this run (or this resume) runs */
    resume_plan rp;        /* a resume's plan; rp.rejected feeds the alert */
    char *gates;           /* the last transform or load attempt's, for the alert */
    int max_attempts;
    pl_task failed, last;  /* PL_NTASKS: none (yet) */
    int failed_attempt;
    sp_error task_err;     /* the failed task's error, the run's error */
    sp_error ledger_err;   /* the first ledger write that failed */
    char stopped[128];     /* what a signal stopped, for the last log line */
} run_state;

/* The ds lock, the ledger, and the rows of runs that died marked failed.
 * On failure nothing stays open. */
static int open_run(run_state *rs, sp_error *err)
{
    SP_TRY(pl_ctx_init(&rs->ctx, rs->cfg, rs->o->ds, NULL, err));
    rs->ctx.skip_gates = rs->o->skip_gates;
    bool busy;
    char holder[96];
    snprintf(holder, sizeof holder, "run %s", rs->ctx.run_id);
    if (orch_lock_acquire(rs->state_dir, rs->ctx.ds, false, holder, &rs->lock, &busy, err) !=
        SP_OK) {
        pl_ctx_free(&rs->ctx);
        return err->code;
    }
    if (ledger_open(&rs->l, rs->state_dir, err) != SP_OK) {
        orch_lock_release(rs->lock);
        pl_ctx_free(&rs->ctx);
        return err->code;
    }
    sp_error e;
    sp_error_clear(&e);
    alive_probe probe = {rs->state_dir, rs->ctx.ds};
    int stale = ledger_mark_abandoned(rs->l, is_alive, &probe, &e);
    if (stale < 0)
        ledger_warn(&e);
    else if (stale > 0)
        sp_log(SP_LOG_WARN, "run ledger: %d abandoned run%s marked failed", stale,
               stale == 1 ? "" : "s");
    return SP_OK;
}

/* --resume: the latest run of the ds must have failed; it goes on under its
 * own run id with the tasks that did not succeed (the ledger says which). */
static int plan_resumed_run(run_state *rs, sp_error *err)
{
    pl_ctx *ctx = &rs->ctx;
    found_run f = {0};
    int rc = ledger_latest_run(rs->l, ctx->ds, keep_run, &f, err);
    if (rc == SP_OK && !f.found)
        rc = sp_fail(err, SP_ERR_DATA, "nothing to resume: the run ledger (%s) has no run "
                     "of ds %s", rs->state_dir, ctx->ds);
    else if (rc == SP_OK && strcmp(f.state, "failed") != 0)
        rc = sp_fail(err, SP_ERR_DATA, "nothing to resume: the latest run of ds %s (%s) %s",
                     ctx->ds, f.run_id, strcmp(f.state, "succeeded") == 0
                                            ? "succeeded" : "is not failed");
    bool found = false;
    if (rc == SP_OK)
        rc = ledger_get_run(rs->l, f.run_id, &found, plan_resume, &rs->rp, err);
    if (rc != SP_OK)
        return rc;
    snprintf(ctx->run_id, sizeof ctx->run_id, "%s", f.run_id);
    sp_log_set_run(ctx->ds, ctx->run_id);
    memcpy(rs->plan, rs->rp.run, sizeof rs->plan);
    char holder[96];
    snprintf(holder, sizeof holder, "run %s", ctx->run_id);
    orch_lock_note(rs->lock, holder);
    SP_TRY(ledger_reopen_run(rs->l, ctx->run_id, (long long)getpid(), err));
    char list[128] = "";
    for (int t = 0; t < PL_NTASKS; t++)
        if (rs->plan[t])
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                     list[0] ? ", " : "", pl_task_name((pl_task)t));
    sp_log_event(SP_LOG_INFO, &(sp_log_fields){.event = "started"},
                 "run %s (ds %s): resuming with %s", ctx->run_id, ctx->ds,
                 list[0] ? list : "nothing left to run");
    /* Skipping stage means reading the staged copies: say so when the local
     * files no longer match them. */
    if (!rs->plan[PL_STAGE] && (rs->plan[PL_TRANSFORM] || rs->plan[PL_LOAD]))
        warn_local_changes(ctx);
    return SP_OK;
}

/* A new run of tasks o->first..o->last; the others are recorded as skipped. */
static int plan_new_run(run_state *rs, sp_error *err)
{
    const orch_options *o = rs->o;
    bool skip[PL_NTASKS];
    for (int t = 0; t < PL_NTASKS; t++) {
        rs->plan[t] = t >= o->first && t <= o->last;
        skip[t] = !rs->plan[t];
    }
    int rc = ledger_begin_run(rs->l, rs->ctx.run_id, rs->ctx.ds, (long long)getpid(), skip, err);
    sp_log_set_run(rs->ctx.ds, rs->ctx.run_id);
    if (rc == SP_OK)
        sp_log_event(SP_LOG_INFO, &(sp_log_fields){.event = "started"},
                     "run %s (ds %s): started (retries %lld, delay %llds%s)", rs->ctx.run_id,
                     rs->ctx.ds, o->retries, o->delay,
                     o->exponential ? ", exponential backoff" : "");
    return rc;
}

/* One attempt of task t: logged, run, logged again, its gates and its end
 * recorded in the ledger. *n gets the attempt's number in the run (a resume
 * goes on counting). Returns the task's status (task_err says why). */
static int attempt_task(run_state *rs, pl_task t, int a, int *n)
{
    pl_ctx *ctx = &rs->ctx;
    const char *name = pl_task_name(t);
    sp_error e, *task_err = &rs->task_err;
    *n = a;
    sp_error_clear(&e);
    if (ledger_attempt_begin(rs->l, ctx->run_id, t, n, &e) != SP_OK)
        ledger_failed(&rs->ledger_err, &e);
    char total[48] = "";
    if (*n != a)
        snprintf(total, sizeof total, ", attempt %d of the run", *n);
    sp_log_set_task(name, *n);
    sp_log_event(SP_LOG_INFO, &(sp_log_fields){.event = "started"},
                 "%s: started (ds %s, run %s, attempt %d of %d%s)", name, ctx->ds, ctx->run_id,
                 a, rs->max_attempts, total);
    sp_error_clear(task_err);
    double t0 = sp_mono_seconds();
    int trc = pl_run_task(ctx, t, task_err);
    double secs = sp_mono_seconds() - t0;
    long long rows = -1;
    char rej[512] = "";
    sp_log_fields lf = {.has_duration = true, .duration_s = secs};
    if (trc == SP_OK && t == PL_TRANSFORM && ctx->transformed) {
        rows = ctx->tf.counts.rows_in;
        rejected_json(&ctx->tf.counts, rej, sizeof rej);
        snprintf(rs->rp.rejected, sizeof rs->rp.rejected, "%s", rej);
        pl_log_counts(&lf, &ctx->tf.counts);
    } else if (trc == SP_OK && t == PL_LOAD && ctx->loaded) {
        rows = ctx->table_rows[2];
    }
    if (trc != SP_OK && sp_cancelled()) {
        snprintf(rs->stopped, sizeof rs->stopped, "during %s after %.2fs", name, secs);
        cancelled_error(task_err, rs->stopped);
        trc = SP_ERR_CANCELLED;
    }
    if (trc == SP_OK) {
        lf.event = "succeeded";
        sp_log_event(SP_LOG_INFO, &lf, "%s: succeeded in %.2fs (attempt %d of %d)", name, secs,
                     a, rs->max_attempts);
    } else {
        if (task_err->msg[0] == '\0')
            snprintf(task_err->msg, sizeof task_err->msg, "%s failed (%s)", name,
                     sp_status_name(trc));
        task_err->code = trc;
        sp_log_scrub(task_err->msg);
        lf.event = "failed";
        lf.error_class = sp_status_name(trc);
        sp_log_event(SP_LOG_ERROR, &lf, "%s: failed after %.2fs (attempt %d of %d): %s", name,
                     secs, a, rs->max_attempts, task_err->msg);
    }
    record_gates(rs->l, ctx, t, &rs->gates);
    sp_error_clear(&e);
    if (ledger_attempt_end(rs->l, ctx->run_id, t, *n, trc == SP_OK ? ORCH_SUCCEEDED : ORCH_FAILED,
                           rows, rej[0] ? rej : NULL, trc == SP_OK ? NULL : task_err->msg,
                           &e) != SP_OK)
        ledger_failed(&rs->ledger_err, &e);
    return trc;
}

/* After failed attempt a of task t: true when the task has failed for good
 * (stopped, a permanent error, no attempt left, or a stop while waiting);
 * otherwise it waits the retry delay and returns false. */
static bool give_up_after(run_state *rs, pl_task t, int a, int trc)
{
    const char *name = pl_task_name(t);
    sp_error *task_err = &rs->task_err;
    if (trc == SP_ERR_CANCELLED)
        return true;
    if (!orch_is_retryable(task_err)) {
        sp_log_event(SP_LOG_ERROR, &(sp_log_fields){.error_class = sp_status_name(task_err->code)},
                     "%s: permanent error (%s): not retried", name,
                     sp_status_name(task_err->code));
        return true;
    }
    if (a == rs->max_attempts) {
        if (rs->max_attempts > 1)
            sp_log(SP_LOG_ERROR, "%s: failed after %d attempts", name, rs->max_attempts);
        return true;
    }
    long long d = orch_retry_delay(rs->o->delay, rs->o->exponential, a);
    sp_log_event(SP_LOG_WARN,
                 &(sp_log_fields){.event = "retrying",
                                  .error_class = sp_status_name(task_err->code)},
                 "%s: retrying in %llds (attempt %d of %d next)", name, d, a + 1,
                 rs->max_attempts);
    if (sp_cancel_sleep((double)d) != 0) {
        snprintf(rs->stopped, sizeof rs->stopped, "while waiting to retry %s", name);
        sp_error_prefix(task_err, "last error");
        cancelled_error(task_err, rs->stopped);
        sp_log(SP_LOG_ERROR, "%s: %s", name, task_err->msg);
        return true;
    }
    return false;
}

/* The planned tasks in order, each attempted until it succeeds or gives up;
 * the first that gives up ends the run (rs->failed). */
static void run_planned_tasks(run_state *rs)
{
    bool swept = false;
    for (int t = 0; t < PL_NTASKS && rs->failed == PL_NTASKS; t++) {
        if (!rs->plan[t])
            continue;
        const char *name = pl_task_name((pl_task)t);
        rs->last = (pl_task)t;
        if (!swept && t != PL_PREFLIGHT && !sp_cancelled()) {
            swept = true; /* after preflight: the stores answer */
            orch_sweep(&rs->ctx);
        }
        for (int a = 1; a <= rs->max_attempts; a++) {
            if (stop_here(name, &rs->ledger_err, &rs->task_err, rs->stopped,
                          sizeof rs->stopped)) {
                rs->failed = (pl_task)t;
                break;
            }
            int n;
            int trc = attempt_task(rs, (pl_task)t, a, &n);
            if (trc == SP_OK)
                break;
            rs->failed_attempt = n;
            if (give_up_after(rs, (pl_task)t, a, trc)) {
                rs->failed = (pl_task)t;
                break;
            }
        }
    }
    if (rs->failed == PL_NTASKS && rs->ledger_err.code != SP_OK && rs->last != PL_NTASKS) {
        /* Every task ran, but the ledger does not say so: not a success. */
        rs->failed = rs->last;
        sp_fail(&rs->task_err, SP_ERR_IO, "%s; the run cannot be recorded as succeeded",
                rs->ledger_err.msg);
    }
}

/* The run's end: recorded in the ledger (a run the ledger cannot record as
 * succeeded has failed), one alert when it failed, the on_end hook, the
 * summary line and, for people, the summary and how to resume. Returns
 * the final state. */
static orch_state finish_run(run_state *rs, double run_t0)
{
    pl_ctx *ctx = &rs->ctx;
    sp_error e, *task_err = &rs->task_err;
    sp_log_set_task(NULL, 0);
    orch_state final = rs->failed == PL_NTASKS ? ORCH_SUCCEEDED : ORCH_FAILED;
    sp_error_clear(&e);
    if (ledger_end_run(rs->l, ctx->run_id, final,
                       final == ORCH_FAILED ? pl_task_name(rs->failed) : NULL,
                       final == ORCH_FAILED ? task_err->msg : NULL, &e) != SP_OK) {
        sp_log(SP_LOG_ERROR, "%s", e.msg);
        if (final == ORCH_SUCCEEDED) { /* exit 0 would contradict the ledger */
            final = ORCH_FAILED;
            rs->failed = rs->last;
            sp_fail(task_err, SP_ERR_IO, "%s; the run cannot be recorded as succeeded", e.msg);
        }
    }
    const char *failed = final == ORCH_FAILED ? pl_task_name(rs->failed) : NULL;
    if (failed) {
        orch_alert alert = {ctx->run_id, ctx->ds, failed, rs->failed_attempt, task_err->msg,
                            rs->rp.rejected[0] ? rs->rp.rejected : NULL,
                            rs->failed == PL_TRANSFORM || rs->failed == PL_LOAD ? rs->gates
                                                                                 : NULL};
        int lost = orch_alert_send(rs->cfg, &alert);
        if (lost)
            sp_log(SP_LOG_WARN, "alert: %d delivery failure%s (the run's own error is above)",
                   lost, lost == 1 ? "" : "s");
    }
    if (rs->o->on_end)
        rs->o->on_end(ctx, final == ORCH_SUCCEEDED, rs->o->hook_arg);
    log_summary(ctx, failed, task_err, task_err->code == SP_ERR_CANCELLED ? rs->stopped : NULL,
                sp_mono_seconds() - run_t0);
    if (!sp_log_is_json()) /* JSON logs: the summary object above says it all */
        pl_print_summary(ctx);
    if (failed && !sp_log_is_json())
        printf("  FAILED at %s after %d attempt%s: %s\n  resume with: salespipe run --ds %s "
               "--resume\n", failed, rs->failed_attempt, rs->failed_attempt == 1 ? "" : "s",
               task_err->msg, ctx->ds);
    fflush(stdout);
    return final;
}

static void close_run(run_state *rs)
{
    free(rs->gates);
    ledger_close(rs->l);
    orch_lock_release(rs->lock);
    pl_ctx_free(&rs->ctx);
}

static int run_tasks(const sp_config *cfg, const orch_options *o, bool *started, sp_error *err)
{
    run_state rs = {.cfg = cfg, .o = o, .state_dir = sp_config_get(cfg, "STATE_DIR"), .lock = -1,
                    .max_attempts = (int)o->retries + 1, .failed = PL_NTASKS,
                    .last = PL_NTASKS};
    sp_error_clear(&rs.task_err);
    sp_error_clear(&rs.ledger_err);
    SP_TRY(open_run(&rs, err));
    int rc = o->resume ? plan_resumed_run(&rs, err) : plan_new_run(&rs, err);
    if (rc == SP_OK && o->skip_gates) {
        sp_log(SP_LOG_WARN, "run %s: --skip-gates: quality gates are evaluated and recorded but "
               "not enforced", rs.ctx.run_id);
        rc = ledger_note_skip_gates(rs.l, rs.ctx.run_id, err);
    }
    if (rc != SP_OK) {
        close_run(&rs);
        return rc;
    }

    *started = true;
    double run_t0 = sp_mono_seconds();
    if (o->on_start)
        o->on_start(&rs.ctx, o->hook_arg);
    run_planned_tasks(&rs);
    orch_state final = finish_run(&rs, run_t0);
    close_run(&rs);
    sp_log_set_run(NULL, NULL);
    if (final == ORCH_FAILED) {
        *err = rs.task_err;
        err->code = rs.task_err.code ? rs.task_err.code : SP_ERR_INTERNAL;
        return err->code;
    }
    return SP_OK;
}
