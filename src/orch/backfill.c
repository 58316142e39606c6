/* backfill.c — `salespipe backfill --from D1 --to D2 [--resume]`: the
 * runner (runner.c) once per ds, in date order, each a run of its own in
 * the ledger (its lock, retries, alert), stopping at the first ds whose run
 * fails. --resume skips the days whose latest run succeeded, resumes a
 * failed (or abandoned) run where it stopped, and starts the days never
 * run. It never runs two days at once and never retries a whole day. */
#include <stdio.h>
#include <string.h>

#include "../util/date.h"
#include "../util/log.h"
#include "orch.h"

/* Days since 1970-01-01 of a "YYYY-MM-DD" ds; false when it is not one. */
static bool ds_days(const char *s, int64_t *days)
{
    unsigned y, m, d;
    char tail;
    if (!s || strlen(s) != 10 || sscanf(s, "%4u-%2u-%2u%c", &y, &m, &d, &tail) != 3 ||
        s[4] != '-' || s[7] != '-' || !sp_date_valid(y, m, d))
        return false;
    *days = sp_days_from_civil(y, m, d);
    return true;
}

int orch_backfill_range(const char *from, const char *to, int64_t *first, int64_t *ndays,
                        sp_error *err)
{
    int64_t a, b;
    if (!ds_days(from, &a))
        return sp_fail(err, SP_ERR_USAGE, "backfill: --from '%s' is not a date YYYY-MM-DD",
                       from ? from : "");
    if (!ds_days(to, &b))
        return sp_fail(err, SP_ERR_USAGE, "backfill: --to '%s' is not a date YYYY-MM-DD",
                       to ? to : "");
    if (b < a)
        return sp_fail(err, SP_ERR_USAGE, "backfill: --to %s is before --from %s", to, from);
    if (b - a + 1 > ORCH_BACKFILL_MAX_DAYS)
        return sp_fail(err, SP_ERR_USAGE, "backfill: %s to %s is %lld days; at most %d in one "
                       "backfill (split the range)", from, to, (long long)(b - a + 1),
                       ORCH_BACKFILL_MAX_DAYS);
    *first = a;
    *ndays = b - a + 1;
    return SP_OK;
}

typedef struct latest {
    bool found;
    char run_id[64], state[16];
} latest;

static void keep_latest(const ledger_run *r, void *arg)
{
    latest *l = arg;
    l->found = true;
    snprintf(l->run_id, sizeof l->run_id, "%s", r->run_id ? r->run_id : "");
    snprintf(l->state, sizeof l->state, "%s", r->state ? r->state : "");
}

/* The newest run of ds in the ledger (l->found false when there is none). */
static int latest_run(const sp_config *cfg, const char *ds, latest *l, sp_error *err)
{
    memset(l, 0, sizeof *l);
    ledger *lg;
    SP_TRY(ledger_open(&lg, sp_config_get(cfg, "STATE_DIR"), err));
    int rc = ledger_latest_run(lg, ds, keep_latest, l, err);
    ledger_close(lg);
    return rc;
}

/* Run (or, resuming, skip or continue) one day. *ran tells whether a run
 * took place; on failure err names the day. */
static int backfill_day(const sp_config *cfg, const orch_backfill_options *o, const char *ds,
                        bool *ran, sp_error *err)
{
    orch_options day = o->run;
    day.ds = ds;
    day.resume = false;
    *ran = true;
    if (o->resume) {
        latest l;
        SP_TRY(latest_run(cfg, ds, &l, err));
        if (l.found && strcmp(l.state, "succeeded") == 0) {
            sp_log(SP_LOG_INFO, "backfill: ds %s already succeeded (run %s): skipped", ds,
                   l.run_id);
            *ran = false;
            return SP_OK;
        }
        /* failed, or "running" with its process gone (the runner marks it
         * failed first); a live run holds the ds lock and the resume refuses */
        day.resume = l.found;
    }
    int rc = orch_run(cfg, &day, err);
    if (rc == SP_OK)
        return SP_OK;
    latest l;
    sp_error e;
    if (latest_run(cfg, ds, &l, &e) == SP_OK && l.found)
        return sp_error_prefix(err, "ds %s (run %s)", ds, l.run_id);
    return sp_error_prefix(err, "ds %s", ds);
}

int orch_backfill(const sp_config *cfg, const orch_backfill_options *o, sp_error *err)
{
    int64_t first, n;
    SP_TRY(orch_backfill_range(o->from, o->to, &first, &n, err));
    sp_log(SP_LOG_INFO, "backfill: %lld day%s from %s to %s%s", (long long)n, n == 1 ? "" : "s",
           o->from, o->to, o->resume ? ", resuming" : "");
    int64_t done = 0, skipped = 0;
    for (int64_t i = 0; i < n; i++) {
        char ds[32];
        sp_date_format(first + i, ds);
        bool ran;
        int rc = backfill_day(cfg, o, ds, &ran, err);
        if (rc != SP_OK) {
            sp_log(SP_LOG_ERROR, "backfill: stopped at %s; %lld of %lld days done; continue "
                   "with: salespipe backfill --from %s --to %s --resume",
                   err->msg, (long long)(done + skipped), (long long)n, o->from, o->to);
            return rc;
        }
        done += ran;
        skipped += !ran;
    }
    sp_log(SP_LOG_INFO, "backfill: %s to %s done: %lld run%s, %lld already succeeded", o->from,
           o->to, (long long)done, done == 1 ? "" : "s", (long long)skipped);
    return SP_OK;
}
