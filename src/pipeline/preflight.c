/* preflight.c — SPEC §2 `preflight`: fail fast, naming the cause, when the
 * input folder, a store or the warehouse is unreachable or not writable.
 * Runs every check and logs each result, so one run shows every problem. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../util/log.h"
#include "../warehouse/warehouse.h"
#include "pipeline.h"

/* A store that accepts connections and never answers must not hold the
 * preflight for minutes: each store's checks get this long (two stores plus
 * PostgreSQL's 10 s connect_timeout stay within 30 s). */
#define PREFLIGHT_STORE_MS 6000L

/* The failed checks so far: how many, the first (its message leads), and
 * the first that waiting cannot fix (its class decides whether the runner
 * retries: retrying helps only when every failed check may pass later). */
typedef struct failed_checks {
    int n;
    sp_error first, lasting;
    bool any_lasting;
} failed_checks;

static void check_failed(const sp_error *e, failed_checks *f)
{
    sp_log(SP_LOG_ERROR, "preflight: %s", e->msg);
    if (f->n++ == 0)
        f->first = *e;
    if (!sp_error_retryable(e) && !f->any_lasting) {
        f->lasting = *e;
        f->any_lasting = true;
    }
}

/* One error for all failed checks, with the class of the set. */
static int checks_result(const failed_checks *f, sp_error *err)
{
    if (f->n == 0)
        return SP_OK;
    if (f->n == 1) {
        *err = f->first;
        return err->code;
    }
    *err = f->any_lasting ? f->lasting : f->first;
    err->retryable = !f->any_lasting;
    memcpy(err->msg, f->first.msg, sizeof err->msg);
    return sp_error_prefix(err, "%d checks failed; first", f->n);
}

int pl_preflight(pl_ctx *ctx, sp_error *err)
{
    failed_checks failed = {0};
    sp_error e;
    /* input folder */
    const char *data_dir = sp_config_get(ctx->cfg, "DATA_DIR");
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/raw", data_dir);
    if (access(dir, R_OK | X_OK) != 0) {
        sp_fail(&e, SP_ERR_IO, "input folder %s: %s (DATA_DIR=%s)", dir, strerror(errno), data_dir);
        check_failed(&e, &failed);
    } else {
        sp_log(SP_LOG_INFO, "preflight: input folder %s readable", dir);
    }
    /* stores */
    const char *names[2] = {"RAW_STORE", "PROCESSED_STORE"};
    for (int i = 0; i < 2; i++) {
        store *s = NULL;
        sp_error_clear(&e);
        int rc = i == 0 ? pl_raw_store(ctx, &s, &e) : pl_processed_store(ctx, &s, &e);
        if (rc == SP_OK)
            store_set_time_limit(s, PREFLIGHT_STORE_MS);
        /* List one object (S3: max-keys=1), then put and delete a probe. */
        if (rc == SP_OK && (rc = store_probe_read(s, ctx->prefix, &e)) != SP_OK)
            sp_error_prefix(&e, "%s %s not readable", names[i], store_url(s));
        else if (rc == SP_OK && (rc = store_probe(s, ctx->prefix, &e)) != SP_OK)
            sp_error_prefix(&e, "%s %s not writable", names[i], store_url(s));
        if (s)
            store_set_time_limit(s, 0);
        if (rc == SP_OK)
            sp_log(SP_LOG_INFO, "preflight: %s %s readable and writable", names[i], store_url(s));
        else
            check_failed(&e, &failed);
    }
    /* warehouse */
    wh *w = NULL;
    sp_error_clear(&e);
    int rc = pl_open_warehouse(ctx, &w, &e);
    if (rc == SP_OK)
        rc = wh_check(w, &e);
    if (rc == SP_OK)
        sp_log(SP_LOG_INFO, "preflight: warehouse %s reachable and writable", wh_describe(w));
    else
        check_failed(&e, &failed);
    wh_close(w);
    return checks_result(&failed, err);
}
