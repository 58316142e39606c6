/* report.c — `salespipe runs [RUN_ID] [--json]`: the ledger as a table or
 * as JSON (a list of runs, newest last; or one run with its tasks). Reads
 * only, except that runs left "running" by a dead process (their ds lock is
 * free) are marked failed first, so the history never shows a ghost run. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../util/buf.h"
#include "../util/json.h"
#include "../util/log.h"
#include "orch.h"

typedef struct printer {
    bool json;
    int n;
    sp_buf out;
} printer;

static const char *or_dash(const char *s) { return s && *s ? s : "-"; }

/* A run's fields as the start of a JSON object (no closing brace): the
 * same keys in the list and in `runs RUN_ID --json`. */
static void run_json(sp_buf *b, const ledger_run *r)
{
    static const char *const KEYS[] = {"run_id", "ds",          "state", "started",
                                       "ended",  "failed_task", "error"};
    const char *values[] = {r->run_id, r->ds, r->state, r->started, r->ended, r->failed_task,
                            r->error};
    for (size_t i = 0; i < sizeof KEYS / sizeof KEYS[0]; i++) {
        sp_buf_printf(b, "%s\"%s\":", i ? "," : "{", KEYS[i]);
        sp_json_cstr(b, values[i]);
    }
    sp_buf_printf(b, ",\"skip_gates\":%s", r->skip_gates ? "true" : "false");
}

static void list_one(const ledger_run *r, void *arg)
{
    printer *p = arg;
    if (p->json) {
        sp_buf_puts(&p->out, p->n ? ",\n  " : "\n  ");
        run_json(&p->out, r);
        sp_buf_puts(&p->out, "}");
    } else {
        if (p->n == 0)
            sp_buf_printf(&p->out, "%-34s %-10s %-9s %-20s %-20s %s\n", "RUN_ID", "DS", "STATE",
                          "STARTED", "ENDED", "FAILED TASK");
        sp_buf_printf(&p->out, "%-34s %-10s %-9s %-20s %-20s %s\n", or_dash(r->run_id),
                      or_dash(r->ds), or_dash(r->state), or_dash(r->started), or_dash(r->ended),
                      or_dash(r->failed_task));
    }
    p->n++;
}

typedef struct one_run {
    printer *p;
    ledger *l;
} one_run;

static void attempt_line(int attempt, const char *started, const char *ended, const char *error,
                         void *arg)
{
    printer *p = arg;
    sp_buf_printf(&p->out, "      attempt %d: %s → %s%s%s\n", attempt, or_dash(started),
                  or_dash(ended), error ? "  " : "", error ? error : "");
}

static void show_run(const ledger_run *r, const ledger_task *tasks, int n, void *arg)
{
    one_run *o = arg;
    printer *p = o->p;
    if (p->json) {
        run_json(&p->out, r);
        sp_buf_puts(&p->out, ",\"tasks\":[");
        for (int i = 0; i < n; i++) {
            const ledger_task *t = &tasks[i];
            sp_buf_puts(&p->out, i ? ",\n  " : "\n  ");
            sp_buf_puts(&p->out, "{\"task\":");
            sp_json_cstr(&p->out, t->task);
            sp_buf_puts(&p->out, ",\"state\":");
            sp_json_cstr(&p->out, t->state);
            sp_buf_printf(&p->out, ",\"attempts\":%d,\"started\":", t->attempts);
            sp_json_cstr(&p->out, t->started);
            sp_buf_puts(&p->out, ",\"ended\":");
            sp_json_cstr(&p->out, t->ended);
            if (t->has_rows)
                sp_buf_printf(&p->out, ",\"rows\":%lld", t->rows);
            else
                sp_buf_puts(&p->out, ",\"rows\":null");
            sp_buf_puts(&p->out, ",\"error\":");
            sp_json_cstr(&p->out, t->error);
            /* written by the pipeline as a JSON array (gates.c) */
            sp_buf_puts(&p->out, ",\"gates\":");
            sp_buf_puts(&p->out, t->gates && t->gates[0] == '[' ? t->gates : "null");
            sp_buf_puts(&p->out, "}");
        }
        sp_buf_puts(&p->out, "\n]}\n");
        return;
    }
    sp_buf_printf(&p->out, "run %s  ds %s  %s\n  started %s  ended %s  pid %lld\n",
                  or_dash(r->run_id), or_dash(r->ds), or_dash(r->state), or_dash(r->started),
                  or_dash(r->ended), r->pid);
    if (r->error)
        sp_buf_printf(&p->out, "  failed at %s: %s\n", or_dash(r->failed_task), r->error);
    if (r->skip_gates)
        sp_buf_puts(&p->out, "  quality gates not enforced (--skip-gates)\n");
    sp_buf_printf(&p->out, "  %-14s %-9s %8s %-20s %-20s %s\n", "TASK", "STATE", "ATTEMPTS",
                  "STARTED", "ENDED", "ROWS");
    for (int i = 0; i < n; i++) {
        const ledger_task *t = &tasks[i];
        char rows[32] = "-";
        if (t->has_rows)
            snprintf(rows, sizeof rows, "%lld", t->rows);
        sp_buf_printf(&p->out, "  %-14s %-9s %8d %-20s %-20s %s\n", t->task, t->state,
                      t->attempts, or_dash(t->started), or_dash(t->ended), rows);
        if (t->rejected)
            sp_buf_printf(&p->out, "      rejected: %s\n", t->rejected);
        if (t->gates)
            sp_buf_printf(&p->out, "      gates: %s\n", t->gates);
        if (t->attempts > 0) {
            sp_error e;
            ledger_each_attempt(o->l, r->run_id, t->task, attempt_line, p, &e);
        }
    }
}

static bool lock_held(const char *ds, void *arg)
{
    return orch_lock_held((const char *)arg, ds);
}

int orch_print_runs(const sp_config *cfg, const char *run_id, bool json, sp_error *err)
{
    const char *state_dir = sp_config_get(cfg, "STATE_DIR");
    char path[1100];
    snprintf(path, sizeof path, "%s/ledger.db", state_dir);
    bool exists = access(path, F_OK) == 0;
    if (!exists && run_id)
        return sp_fail(err, SP_ERR_DATA, "no run %s: the run ledger %s does not exist", run_id,
                       path);
    if (!exists) {
        if (json)
            fputs("[]\n", stdout);
        else
            printf("no runs recorded (STATE_DIR=%s)\n", state_dir);
        return SP_OK;
    }
    ledger *l;
    SP_TRY(ledger_open(&l, state_dir, err));
    sp_error e;
    if (ledger_mark_abandoned(l, lock_held, (void *)state_dir, &e) < 0)
        sp_log(SP_LOG_WARN, "%s", e.msg);
    printer p = {.json = json};
    sp_buf_init(&p.out, 1u << 28);
    int rc;
    if (run_id) {
        bool found;
        one_run o = {&p, l};
        rc = ledger_get_run(l, run_id, &found, show_run, &o, err);
        if (rc == SP_OK && !found)
            rc = sp_fail(err, SP_ERR_DATA, "no run %s in the run ledger %s (see `salespipe runs`)",
                         run_id, path);
    } else {
        if (json)
            sp_buf_puts(&p.out, "[");
        rc = ledger_each_run(l, list_one, &p, err);
        if (json)
            sp_buf_puts(&p.out, p.n ? "\n]\n" : "]\n");
        else if (p.n == 0)
            sp_buf_printf(&p.out, "no runs recorded (STATE_DIR=%s)\n", state_dir);
    }
    ledger_close(l);
    if (rc == SP_OK && p.out.broken)
        rc = sp_fail(err, SP_ERR_NOMEM, "runs: output too large");
    if (rc == SP_OK && p.out.len)
        fwrite(p.out.data, 1, p.out.len, stdout);
    sp_buf_free(&p.out);
    return rc;
}
