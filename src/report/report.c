/* report.c — where the report module meets a run and the command line:
 * the run's hooks (lineage START when it begins; when it ends, failed or
 * not: report.html into the processed store next to the run's outputs,
 * METRICS_FILE, lineage COMPLETE or FAIL) and `salespipe report`. Every
 * failure here is logged as a warning and never changes the run's outcome. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../orch/orch.h"
#include "../util/log.h"
#include "report.h"

#define HTML_CAP ((size_t)32 << 20)

static bool lineage_wanted(const sp_config *cfg)
{
    const char *u = sp_config_get(cfg, "OPENLINEAGE_URL"), *f = sp_config_get(cfg, "OPENLINEAGE_FILE");
    return (u && *u) || (f && *f);
}

static void send_event(const sp_config *cfg, const char *type, const char *run_id, const char *ds,
                       const rp_data *d)
{
    sp_buf b;
    sp_buf_init(&b, (size_t)16 << 20);
    rp_lineage_event(&b, cfg, type, run_id, ds, d);
    sp_error e;
    sp_error_clear(&e);
    if (b.broken)
        sp_log(SP_LOG_WARN, "lineage: %s event too large: not sent", type);
    else if (rp_lineage_send(cfg, (const char *)b.data, b.len, &e) != SP_OK)
        sp_log(SP_LOG_WARN, "lineage: %s event: %s (the run goes on)", type, e.msg);
    else
        sp_log(SP_LOG_DEBUG, "lineage: %s event sent", type);
    sp_buf_free(&b);
}

void rp_on_run_start(pl_ctx *ctx, void *arg)
{
    (void)arg;
    if (lineage_wanted(ctx->cfg))
        send_event(ctx->cfg, "START", ctx->run_id, ctx->ds, NULL);
}

static double last_success(const sp_config *cfg)
{
    ledger *l;
    sp_error e;
    double t = -1;
    bool found = false;
    if (ledger_open(&l, sp_config_get(cfg, "STATE_DIR"), &e) != SP_OK)
        return -1;
    if (ledger_last_success(l, &t, &found, &e) != SP_OK || !found)
        t = -1;
    ledger_close(l);
    return t;
}

static void publish_report(pl_ctx *ctx, const rp_data *d)
{
    sp_buf html;
    sp_buf_init(&html, HTML_CAP);
    rp_html(&html, d, ctx->cfg);
    store *s;
    sp_error e;
    sp_error_clear(&e);
    char key[2048];
    snprintf(key, sizeof key, "%sreport.html", ctx->prefix);
    if (html.broken)
        sp_log(SP_LOG_WARN, "report: larger than %zu bytes: not written", (size_t)HTML_CAP);
    else if (pl_processed_store(ctx, &s, &e) != SP_OK ||
             store_put_bytes(s, key, html.data, html.len, &e) != SP_OK)
        sp_log(SP_LOG_WARN, "report: not written: %s", e.msg);
    else
        sp_log(SP_LOG_INFO, "report: %s/%s", store_url(s), key);
    sp_buf_free(&html);
}

void rp_on_run_end(pl_ctx *ctx, bool succeeded, void *arg)
{
    (void)arg;
    rp_data *d = NULL;
    sp_error e;
    sp_error_clear(&e);
    if (rp_gather(ctx, ctx->run_id, &d, &e) != SP_OK) {
        sp_log(SP_LOG_WARN, "report: %s (no report, metrics or lineage for this run)", e.msg);
        if (lineage_wanted(ctx->cfg))
            send_event(ctx->cfg, succeeded ? "COMPLETE" : "FAIL", ctx->run_id, ctx->ds, NULL);
        return;
    }
    publish_report(ctx, d);
    const char *metrics = sp_config_get(ctx->cfg, "METRICS_FILE");
    if (metrics && *metrics) {
        sp_error_clear(&e);
        if (rp_metrics_write(metrics, d, last_success(ctx->cfg), &e) != SP_OK)
            sp_log(SP_LOG_WARN, "metrics: %s", e.msg);
        else
            sp_log(SP_LOG_DEBUG, "metrics: %s written", metrics);
    }
    if (lineage_wanted(ctx->cfg))
        send_event(ctx->cfg, succeeded ? "COMPLETE" : "FAIL", ctx->run_id, ctx->ds, d);
    rp_data_free(d);
}

/* ---- `salespipe report` --------------------------------------------------- */

typedef struct pick {
    bool found;
    char run_id[64], ds[11];
} pick;

static void pick_run(const ledger_run *r, void *arg)
{
    pick *p = arg;
    p->found = true;
    snprintf(p->run_id, sizeof p->run_id, "%s", r->run_id ? r->run_id : "");
    snprintf(p->ds, sizeof p->ds, "%s", r->ds ? r->ds : "");
}

static void pick_one(const ledger_run *r, const ledger_task *t, int n, void *arg)
{
    (void)t, (void)n;
    pick_run(r, arg);
}

/* Which run: RUN_ID, the newest of ds, or the newest of all. */
static int choose_run(const sp_config *cfg, const char *run_id, const char *ds, pick *p,
                      sp_error *err)
{
    const char *state_dir = sp_config_get(cfg, "STATE_DIR");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/ledger.db", state_dir);
    if (access(path, F_OK) != 0)
        return sp_fail(err, SP_ERR_DATA, "no run ledger at %s: nothing to report (run "
                       "`salespipe run` first)", path);
    ledger *l;
    SP_TRY(ledger_open(&l, state_dir, err));
    int rc;
    bool found = false;
    if (run_id)
        rc = ledger_get_run(l, run_id, &found, pick_one, p, err);
    else if (ds)
        rc = ledger_latest_run(l, ds, pick_run, p, err);
    else
        rc = ledger_each_run(l, pick_run, p, err); /* the last call is the newest */
    ledger_close(l);
    if (rc == SP_OK && !p->found)
        rc = run_id ? sp_fail(err, SP_ERR_DATA, "no run %s in the run ledger %s (see `salespipe "
                              "runs`)", run_id, path)
             : ds ? sp_fail(err, SP_ERR_DATA, "no run of ds %s in the run ledger %s", ds, path)
                  : sp_fail(err, SP_ERR_DATA, "the run ledger %s has no run", path);
    return rc;
}

int rp_command(const sp_config *cfg, const char *run_id, const char *ds, const char *out_path,
               sp_error *err)
{
    pick p = {0};
    SP_TRY(choose_run(cfg, run_id, ds, &p, err));
    pl_ctx ctx;
    SP_TRY(pl_ctx_init(&ctx, cfg, p.ds, p.run_id, err));
    rp_data *d;
    int rc = rp_gather(&ctx, p.run_id, &d, err);
    if (rc == SP_OK) {
        sp_buf html;
        sp_buf_init(&html, HTML_CAP);
        rp_html(&html, d, cfg);
        if (html.broken)
            rc = sp_fail(err, SP_ERR_LIMIT, "report: larger than %zu bytes", (size_t)HTML_CAP);
        else if (out_path)
            rc = rp_write_atomic(out_path, "--out", html.data, html.len, err);
        else if (fwrite(html.data, 1, html.len, stdout) != html.len || fflush(stdout) != 0)
            rc = sp_fail(err, SP_ERR_IO, "report: stdout: %s", strerror(errno));
        if (rc == SP_OK && out_path)
            sp_log(SP_LOG_INFO, "report: run %s (ds %s) written to %s", p.run_id, p.ds, out_path);
        sp_buf_free(&html);
        rp_data_free(d);
    }
    pl_ctx_free(&ctx);
    return rc;
}
