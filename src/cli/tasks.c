/* tasks.c — the pipeline commands: one task (`preflight`, `stage`, …), `run`
 * (src/orch: the tasks in order with retries, the run ledger and alerts),
 * `runs` (the ledger's history) and `gen`. Maps task outcomes to exit codes: 0 ok, 1 a task failed, 2 the
 * configuration is unusable (SP_ERR_USAGE). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../gen/gen.h"
#include "../orch/orch.h"
#include "../pipeline/pipeline.h"
#include "../report/report.h"
#include "../util/cancel.h"
#include "../util/clock.h"
#include "../util/log.h"
#include "cli.h"

static int exit_code(int status)
{
    if (status == SP_ERR_CANCELLED && sp_cancel_signal()) /* as a shell reports a signal */
        return 128 + sp_cancel_signal();
    return status == SP_OK ? EXIT_OK : status == SP_ERR_USAGE ? EXIT_USAGE : EXIT_TASK_FAILED;
}

/* Run task t with logging; returns its status. */
static int run_logged(pl_ctx *ctx, pl_task t)
{
    sp_error err;
    sp_error_clear(&err);
    double t0 = sp_mono_seconds();
    sp_log_set_run(ctx->ds, ctx->run_id);
    sp_log_set_task(pl_task_name(t), 1);
    sp_log_event(SP_LOG_INFO, &(sp_log_fields){.event = "started"}, "%s: started (ds %s, run %s)",
                 pl_task_name(t), ctx->ds, ctx->run_id);
    int rc = pl_run_task(ctx, t, &err);
    double secs = sp_mono_seconds() - t0;
    sp_log_fields f = {.event = rc == SP_OK ? "succeeded" : "failed", .has_duration = true,
                       .duration_s = secs};
    if (rc == SP_OK && t == PL_TRANSFORM && ctx->transformed)
        pl_log_counts(&f, &ctx->tf.counts);
    if (rc != SP_OK && sp_cancelled()) {
        /* The task cleaned up on its way out; say what, last. */
        int sig = sp_cancel_signal();
        const char *notes = sp_cancel_notes();
        f.error_class = sp_status_name(SP_ERR_CANCELLED);
        sp_log_event(SP_LOG_ERROR, &f,
                     "%s: stopped by %s after %.2fs (%s); cleaned up: %s; exit status %d",
                     pl_task_name(t), sp_cancel_signal_name(sig), secs, err.msg,
                     notes[0] ? notes : "nothing was left to clean", 128 + sig);
        return SP_ERR_CANCELLED;
    }
    if (rc == SP_OK) {
        sp_log_event(SP_LOG_INFO, &f, "%s: succeeded in %.2fs", pl_task_name(t), secs);
    } else {
        f.error_class = sp_status_name(rc);
        sp_log_event(SP_LOG_ERROR, &f, "%s: failed after %.2fs: %s", pl_task_name(t), secs,
                     err.msg);
    }
    return rc;
}

/* One task alone (as Airflow, cron or a person calls it): once, no retries,
 * not in the run ledger (the scheduler calling it keeps its history), but
 * under the ds lock of src/orch (shared) for its whole duration, so it never
 * interleaves with a `run` of the same ds: it refuses at once, naming the
 * run, and a `run` refuses while it holds the lock. Tasks of one ds may
 * overlap each other, as they are built to. */
int cmd_task(const sp_cli *cli)
{
    sp_cancel_install(); /* SIGTERM/SIGINT: a clean stop (util/cancel.h) */
    int t = pl_task_parse(cli->command);
    pl_ctx ctx;
    sp_error err;
    if (pl_ctx_init(&ctx, cli->config, cli->ds, cli->task_run_id, &err) != SP_OK) {
        sp_log(SP_LOG_ERROR, "%s", err.msg);
        return exit_code(err.code);
    }
    ctx.force_load = cli->force;
    ctx.skip_gates = cli->skip_gates; /* not in a ledger: the log says it (gates.c) */
    ctx.tf_mode = (pl_transform_mode)cli->tf_mode;
    ctx.map_key = cli->map_key;
    ctx.map_index = cli->map_index;
    ctx.run_id_given = cli->task_run_id != NULL;
    char holder[64];
    snprintf(holder, sizeof holder, "task %s", pl_task_name((pl_task)t));
    int lock = -1;
    bool busy;
    if (orch_lock_acquire(sp_config_get(cli->config, "STATE_DIR"), ctx.ds, true, holder, &lock,
                          &busy, &err) != SP_OK) {
        sp_log(SP_LOG_ERROR, "%s: %s", pl_task_name((pl_task)t), err.msg);
        pl_ctx_free(&ctx);
        return exit_code(err.code);
    }
    if (t != PL_PREFLIGHT && !sp_cancelled())
        orch_sweep(&ctx); /* debris of dead processes in the stores this task uses */
    int rc = run_logged(&ctx, (pl_task)t);
    orch_lock_release(lock);
    pl_ctx_free(&ctx);
    return exit_code(rc);
}

static long long config_number(const sp_config *cfg, const char *name, long long max)
{
    long long v = strtoll(sp_config_get(cfg, name), NULL, 10);
    if (v > max) {
        sp_log(SP_LOG_WARN, "%s=%lld: using %lld", name, v, max);
        v = max;
    }
    return v < 0 ? 0 : v;
}

/* Every task, with the configured retries (RETRIES, RETRY_DELAY,
 * RETRY_BACKOFF) and the report hooks: `run` and each day of `backfill`. */
static orch_options run_options(const sp_cli *cli)
{
    orch_options o = {.ds = cli->ds, .first = 0, .last = PL_NTASKS - 1, .resume = cli->resume,
                      .skip_gates = cli->skip_gates};
    o.retries = config_number(cli->config, "RETRIES", 100);
    o.delay = config_number(cli->config, "RETRY_DELAY", 7 * 86400);
    o.exponential = strcmp(sp_config_get(cli->config, "RETRY_BACKOFF"), "exponential") == 0;
    o.on_start = rp_on_run_start; /* lineage START */
    o.on_end = rp_on_run_end;     /* report.html, METRICS_FILE, lineage COMPLETE/FAIL */
    return o;
}

int cmd_run(const sp_cli *cli)
{
    orch_options o = run_options(cli);
    if (cli->from_task)
        o.first = pl_task_parse(cli->from_task);
    if (cli->only_task)
        o.first = o.last = pl_task_parse(cli->only_task);
    sp_error err;
    sp_error_clear(&err);
    return exit_code(orch_run(cli->config, &o, &err)); /* orch_run logs its errors */
}

int cmd_backfill(const sp_cli *cli)
{
    orch_backfill_options o = {.from = cli->from_ds, .to = cli->to_ds, .resume = cli->resume,
                               .run = run_options(cli)};
    sp_error err;
    sp_error_clear(&err);
    int64_t first, ndays;
    if (orch_backfill_range(o.from, o.to, &first, &ndays, &err) != SP_OK) {
        sp_log(SP_LOG_ERROR, "%s", err.msg);
        return EXIT_USAGE;
    }
    return exit_code(orch_backfill(cli->config, &o, &err)); /* it logs its errors */
}

int cmd_runs(const sp_cli *cli)
{
    sp_error err;
    sp_error_clear(&err);
    int rc = orch_print_runs(cli->config, cli->run_id, cli->json, &err);
    if (rc != SP_OK)
        sp_log(SP_LOG_ERROR, "runs: %s", err.msg);
    return exit_code(rc);
}

int cmd_plan(const sp_cli *cli)
{
    sp_error err;
    sp_error_clear(&err);
    int rc = orch_plan(cli->config, cli->ds, &err);
    if (rc != SP_OK)
        sp_log(SP_LOG_ERROR, "plan: %s", err.msg);
    return exit_code(rc);
}

int cmd_gen(const sp_cli *cli)
{
    gen_options o = {.out_dir = cli->out,
                     .rows = cli->rows >= 0 ? cli->rows : 2500,
                     .seed = (uint64_t)(cli->seed >= 0 ? cli->seed : 1),
                     .dirty = cli->dirty,
                     .threads = sp_config_threads(cli->config)};
    gen_summary s;
    sp_error err;
    sp_error_clear(&err);
    int rc = gen_write(&o, &s, &err);
    if (rc != SP_OK) {
        sp_log(SP_LOG_ERROR, "%s", err.msg); /* gen's messages start "gen: " */
        return exit_code(rc);
    }
    int64_t rows = 0, bytes = 0;
    for (int i = 0; i < s.nfiles; i++) {
        rows += s.files[i].rows;
        bytes += s.files[i].bytes;
        sp_log(SP_LOG_INFO, "gen: %s/%s: %lld rows, %lld bytes", cli->out, s.files[i].name,
               (long long)s.files[i].rows, (long long)s.files[i].bytes);
    }
    sp_log(SP_LOG_INFO, "gen: %d files, %lld rows, %lld bytes in %s%s", s.nfiles,
           (long long)rows, (long long)bytes, cli->out, o.dirty ? " (dirty)" : "");
    return EXIT_OK;
}
