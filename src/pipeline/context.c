/* context.c — a run's context: its logical date, run id, key prefix and
 * the stores, resolved once from the configuration (see pipeline.h), and
 * the summary printed from what the tasks recorded in it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../util/log.h"
#include "../util/progress.h"
#include "pipeline.h"

static const char *const TASK_NAMES[PL_NTASKS] = {"preflight", "stage", "transform",
                                                  "create-tables", "load"};

const char *pl_task_name(pl_task t)
{
    return (unsigned)t < PL_NTASKS ? TASK_NAMES[t] : "?";
}

int pl_task_parse(const char *name)
{
    for (int i = 0; i < PL_NTASKS; i++)
        if (strcmp(name, TASK_NAMES[i]) == 0)
            return i;
    return -1;
}

int pl_ctx_init(pl_ctx *ctx, const sp_config *cfg, const char *ds, const char *run_id,
                sp_error *err)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->cfg = cfg;
    ctx->threads = sp_config_threads(cfg);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    if (ds)
        snprintf(ctx->ds, sizeof ctx->ds, "%s", ds);
    else
        strftime(ctx->ds, sizeof ctx->ds, "%Y-%m-%d", &tm);
    if (run_id) {
        snprintf(ctx->run_id, sizeof ctx->run_id, "%s", run_id);
    } else {
        char stamp[32];
        strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned tag = (unsigned)((uint64_t)ts.tv_nsec * 2654435761u ^ (unsigned)getpid()) & 0xffffu;
        snprintf(ctx->run_id, sizeof ctx->run_id, "%s_%s_%04x", ctx->ds, stamp, tag);
    }
    const char *p = sp_config_get(cfg, "S3_PREFIX");
    if (p && *p) {
        while (*p == '/')
            p++;
        size_t n = strlen(p);
        while (n > 0 && p[n - 1] == '/')
            n--;
        if (n == 0 || n + 2 > sizeof ctx->prefix)
            return sp_fail(err, SP_ERR_USAGE, "S3_PREFIX: '%s' is not a usable key prefix", p);
        char tmp[sizeof ctx->prefix - 1];
        snprintf(tmp, sizeof tmp, "%.*s", (int)n, p);
        if (store_check_key(tmp, err) != SP_OK)
            return sp_error_prefix(err, "S3_PREFIX");
        snprintf(ctx->prefix, sizeof ctx->prefix, "%s/", tmp);
    } else {
        snprintf(ctx->prefix, sizeof ctx->prefix, "runs/%s/", ctx->ds);
    }
    return SP_OK;
}

void pl_ctx_free(pl_ctx *ctx)
{
    store_close(ctx->raw);
    store_close(ctx->processed);
    ctx->raw = ctx->processed = NULL;
}

const char *pl_config_env(void *cfg, const char *name)
{
    if (sp_config_known(name))
        return sp_config_get(cfg, name);
    return getenv(name);
}

static int open_store(pl_ctx *ctx, const char *name, store **slot, store **out, sp_error *err)
{
    if (!*slot) {
        const char *url = sp_config_get(ctx->cfg, name);
        if (store_open_env(slot, url, pl_config_env, (void *)ctx->cfg, err) != SP_OK)
            return sp_error_prefix(err, "%s", name);
    }
    *out = *slot;
    return SP_OK;
}

int pl_raw_store(pl_ctx *ctx, store **out, sp_error *err)
{
    return open_store(ctx, "RAW_STORE", &ctx->raw, out, err);
}

int pl_processed_store(pl_ctx *ctx, store **out, sp_error *err)
{
    return open_store(ctx, "PROCESSED_STORE", &ctx->processed, out, err);
}

static int run_task(pl_ctx *ctx, pl_task t, sp_error *err)
{
    switch (t) {
    case PL_PREFLIGHT:
        return pl_preflight(ctx, err);
    case PL_STAGE:
        return pl_stage(ctx, err);
    case PL_TRANSFORM:
        return pl_transform(ctx, err);
    case PL_CREATE_TABLES:
        return pl_create_tables(ctx, err);
    case PL_LOAD:
        return pl_load(ctx, err);
    default:
        return sp_fail(err, SP_ERR_INTERNAL, "unknown task %d", (int)t);
    }
}

int pl_run_task(pl_ctx *ctx, pl_task t, sp_error *err)
{
    int rc = run_task(ctx, t, err);
    sp_progress_end(); /* whatever phase the task left open: its line goes */
    return rc;
}

void pl_log_counts(sp_log_fields *f, const star_counts *c)
{
    f->has_rows = true;
    f->rows_in = c->rows_in;
    f->rows_kept = c->rejected[RULES_KEPT];
    f->rows_rejected = c->rows_in - c->rejected[RULES_KEPT];
}

/* Where the outputs are, naming only what exists: this run's transform
 * published them, or an earlier one's are still there (untouched), or none. */
static void print_outputs(pl_ctx *ctx)
{
    const char *proc = sp_config_get(ctx->cfg, "PROCESSED_STORE");
    const char *which = ctx->transformed ? "outputs" : NULL;
    if (!which) {
        store *s = NULL;
        store_stat st = {0};
        char key[2048];
        sp_error e;
        snprintf(key, sizeof key, "%s_manifest.json", ctx->prefix);
        if (pl_processed_store(ctx, &s, &e) == SP_OK &&
            store_stat_key(s, key, false, &st, &e) == SP_OK && st.exists)
            which = "outputs of an earlier transform (not replaced by this run)";
    }
    if (which)
        printf("  %s: %s/%s{dim_date,dim_product,fact_sales}.parquet, rejects.csv, "
               "_manifest.json\n", which, proc, ctx->prefix);
    else
        printf("  outputs: none in %s/%s\n", proc, ctx->prefix);
}

void pl_print_summary(pl_ctx *ctx)
{
    printf("\nrun %s (ds %s)\n", ctx->run_id, ctx->ds);
    if (ctx->transformed) {
        const star_counts *c = &ctx->tf.counts;
        char s1[48], s2[48];
        star_format_sum(c->sales, s1);
        star_format_sum(c->profit, s2);
        printf("  rows in %lld, kept %lld, rejected %lld\n", (long long)c->rows_in,
               (long long)c->rejected[RULES_KEPT],
               (long long)(c->rows_in - c->rejected[RULES_KEPT]));
        for (int r = RULES_MALFORMED; r < RULES_NREASONS; r++)
            if (c->rejected[r])
                printf("    %-11s %lld\n", rules_reason_name((rules_reason)r),
                       (long long)c->rejected[r]);
        printf("  sums: quantity %lld, total_sales %s, profit %s\n", (long long)c->quantity, s1,
               s2);
    }
    print_outputs(ctx);
    if (ctx->loaded)
        printf("  warehouse %s: dim_date %lld, dim_product %lld, fact_sales %lld rows\n",
               ctx->warehouse, (long long)ctx->table_rows[0], (long long)ctx->table_rows[1],
               (long long)ctx->table_rows[2]);
    else if (ctx->warehouse[0])
        printf("  warehouse %s\n", ctx->warehouse);
}
