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

/* Log a failed preflight check and remember the first. */
static void check_failed(const sp_error *e, int *failures, sp_error *first)
{
    sp_log(SP_LOG_ERROR, "preflight: %s", e->msg);
    if ((*failures)++ == 0)
        *first = *e;
}

int pl_preflight(pl_ctx *ctx, sp_error *err)
{
    int failures = 0;
    sp_error first, e;
    sp_error_clear(&first);
    /* input folder */
    const char *data_dir = sp_config_get(ctx->cfg, "DATA_DIR");
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/raw", data_dir);
    if (access(dir, R_OK | X_OK) != 0) {
        sp_fail(&e, SP_ERR_IO, "input folder %s: %s (DATA_DIR=%s)", dir, strerror(errno), data_dir);
        check_failed(&e, &failures, &first);
    } else {
        sp_log(SP_LOG_INFO, "preflight: input folder %s readable", dir);
    }
    /* stores */
    const char *names[2] = {"RAW_STORE", "PROCESSED_STORE"};
    for (int i = 0; i < 2; i++) {
        store *s;
        sp_error_clear(&e);
        int rc = i == 0 ? pl_raw_store(ctx, &s, &e) : pl_processed_store(ctx, &s, &e);
        /* List one object (S3: max-keys=1), then put and delete a probe. */
        if (rc == SP_OK && (rc = store_probe_read(s, ctx->prefix, &e)) != SP_OK)
            sp_error_prefix(&e, "%s %s not readable", names[i], store_url(s));
        else if (rc == SP_OK && (rc = store_probe(s, ctx->prefix, &e)) != SP_OK)
            sp_error_prefix(&e, "%s %s not writable", names[i], store_url(s));
        if (rc == SP_OK)
            sp_log(SP_LOG_INFO, "preflight: %s %s readable and writable", names[i], store_url(s));
        else
            check_failed(&e, &failures, &first);
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
        check_failed(&e, &failures, &first);
    wh_close(w);
    if (failures == 1) {
        *err = first;
        return first.code;
    }
    if (failures)
        return sp_fail(err, first.code, "%d checks failed; first: %s", failures, first.msg);
    return SP_OK;
}
