/* plan.c — `salespipe plan [--ds D]`: what `run` would do, told on stdout,
 * with nothing changed anywhere. It reads what run would read: DATA_DIR/raw
 * (with SHA-256s) against the raw store's copies, the run's prefix, the
 * warehouse (opened only when it exists) and the run ledger (read-only, never
 * created), and it writes nothing: no store object, no warehouse row, no
 * ledger row, no lock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../util/buf.h"
#include "../util/log.h"
#include "../util/sha256.h"
#include "../warehouse/warehouse.h"
#include "orch.h"

enum { PLAN_HISTORY_RUNS = 5 }; /* the estimate's sample: newest successful runs */

typedef enum stage_action { STAGE_NEW, STAGE_UNCHANGED, STAGE_CHANGED } stage_action;
/* An incremental load's fate for a file, from the warehouse's etl_file. */
typedef enum load_action { LOAD_NEW, LOAD_SKIP, LOAD_REPLACE } load_action;

typedef struct plan_file {
    char *name;
    int64_t bytes, store_bytes; /* store_bytes: the raw store's copy, -1 none */
    char sha256[65];
    stage_action stage;
    load_action load;
    char loaded_by[64];         /* etl_file.run_id of the warehouse's copy, or "" */
} plan_file;

typedef struct plan {
    pl_ctx ctx;
    char dir[4096];           /* DATA_DIR/raw */
    char local_error[SP_ERROR_MSG_MAX]; /* why stage would fail at the local folder, or "" */
    plan_file *files;
    size_t n;
    int64_t bytes;
    int ignored;              /* objects under the prefix outside the input set */
    char ignored_names[512];  /* the first few */
    bool registry;            /* the warehouse has an etl_file table */
} plan;

static const char *stage_word(stage_action a)
{
    static const char *w[] = {"new", "unchanged", "changed"};
    return w[a];
}

/* ---- the files stage would upload ------------------------------------------ */

/* One local file against the raw store's copy, as stage decides. */
static int classify(plan *p, store *raw, plan_file *f, sp_error *err)
{
    char path[8192], key[2048];
    snprintf(path, sizeof path, "%s/%s", p->dir, f->name);
    if (snprintf(key, sizeof key, "%s%s", p->ctx.prefix, f->name) >= (int)sizeof key)
        return sp_fail(err, SP_ERR_USAGE, "%s: key too long", f->name);
    SP_TRY(sp_sha256_file(path, f->sha256, &f->bytes, err));
    store_stat st;
    SP_TRY(store_stat_key(raw, key, false, &st, err));
    f->store_bytes = st.exists ? st.size : -1;
    f->stage = STAGE_NEW;
    if (!st.exists)
        return SP_OK;
    f->stage = STAGE_CHANGED;
    if (st.size != f->bytes)
        return SP_OK;
    if (!st.sha256[0])
        SP_TRY(store_stat_key(raw, key, true, &st, err));
    if (strcmp(st.sha256, f->sha256) == 0)
        f->stage = STAGE_UNCHANGED;
    return SP_OK;
}

static int plan_stage(plan *p, store *raw, sp_error *err)
{
    const char *pattern = sp_config_get(p->ctx.cfg, "RAW_PATTERN");
    snprintf(p->dir, sizeof p->dir, "%s/raw", sp_config_get(p->ctx.cfg, "DATA_DIR"));
    char **names = NULL;
    size_t n = 0;
    sp_error local;
    sp_error_clear(&local);
    if (pl_local_inputs(p->dir, pattern, &names, &n, &local) != SP_OK) {
        snprintf(p->local_error, sizeof p->local_error, "%s", local.msg);
        return SP_OK; /* what stage would say; the rest of the plan still stands */
    }
    p->files = calloc(n ? n : 1, sizeof *p->files);
    if (!p->files) {
        pl_local_inputs_free(names, n);
        return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    }
    int rc = SP_OK;
    for (size_t i = 0; i < n; i++) { /* the list takes the names */
        p->files[i].name = names[i];
        names[i] = NULL;
    }
    p->n = n;
    pl_local_inputs_free(names, n);
    for (size_t i = 0; i < p->n && rc == SP_OK; i++) {
        rc = classify(p, raw, &p->files[i], err);
        p->bytes += p->files[i].bytes;
    }
    return rc;
}

/* ---- objects transform would ignore ---------------------------------------- */

static int note_other(void *arg, const char *key, int64_t size)
{
    (void)size;
    plan *p = arg;
    const char *name = key + strlen(p->ctx.prefix);
    if (strchr(name, '/') || name[0] == '_' || name[0] == '.')
        return 0;
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->files[i].name, name) == 0)
            return 0;
    if (p->ignored++ < 5) {
        size_t len = strlen(p->ignored_names);
        snprintf(p->ignored_names + len, sizeof p->ignored_names - len, "%s%s", len ? ", " : "",
                 name);
    }
    return 0;
}

/* ---- the warehouse ------------------------------------------------------------ */

/* One etl_file row: the fate of the local file of that name, as an
 * incremental load decides (same sha256: skipped; another: replaced). */
static void registry_row(void *arg, const char *source_file, const char *sha256,
                         const char *run_id)
{
    plan *p = arg;
    size_t lo = 0, hi = p->n; /* the files are sorted by name */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(p->files[mid].name, source_file);
        if (c == 0) {
            plan_file *f = &p->files[mid];
            f->load = sha256 && strcmp(sha256, f->sha256) == 0 ? LOAD_SKIP : LOAD_REPLACE;
            snprintf(f->loaded_by, sizeof f->loaded_by, "%s", run_id ? run_id : "");
            return;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
}

/* Opens the warehouse only when it exists (a SQLite file is never created);
 * reads the last recorded load for MAX_ROW_DROP. */
static void plan_warehouse(plan *p, wh_load_info *last, char *what, size_t whatsz)
{
    memset(last, 0, sizeof *last);
    wh *w = NULL;
    sp_error e;
    sp_error_clear(&e);
    if (pl_open_existing_warehouse(&p->ctx, &w, &e) != SP_OK) {
        sp_log_scrub(e.msg);
        snprintf(what, whatsz, "cannot be read now (%s): preflight would fail", e.msg);
        return;
    }
    if (!w) {
        snprintf(what, whatsz, "does not exist yet: create-tables would create it");
        return;
    }
    snprintf(what, whatsz, "%s", wh_describe(w));
    if (wh_last_load(w, last, &e) != SP_OK)
        last->found = false;
    if (strcmp(sp_config_get(p->ctx.cfg, "LOAD_MODE"), "incremental") == 0 &&
        wh_file_registry(w, registry_row, p, &p->registry, &e) != SP_OK) {
        sp_log_scrub(e.msg);
        snprintf(what + strlen(what), whatsz - strlen(what), " (its etl_file cannot be read: %s)",
                 e.msg);
    }
    wh_close(w);
}

/* ---- the estimate from the run ledger ----------------------------------------- */

typedef struct history {
    char ds[PLAN_HISTORY_RUNS * 4][16];
    double secs[PLAN_HISTORY_RUNS * 4];
    int n;
} history;

static double iso_seconds(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm))
        return -1;
    return (double)timegm(&tm);
}

/* Oldest first: keep a window of the newest successful runs. */
static void keep_success(const ledger_run *r, void *arg)
{
    history *h = arg;
    double t0 = iso_seconds(r->started), t1 = iso_seconds(r->ended);
    if (!r->state || strcmp(r->state, "succeeded") != 0 || !r->ds || t0 < 0 || t1 < t0)
        return;
    int cap = (int)(sizeof h->secs / sizeof h->secs[0]);
    if (h->n == cap) {
        memmove(h->ds, h->ds + 1, sizeof h->ds[0] * (size_t)(cap - 1));
        memmove(h->secs, h->secs + 1, sizeof h->secs[0] * (size_t)(cap - 1));
        h->n--;
    }
    snprintf(h->ds[h->n], sizeof h->ds[0], "%s", r->ds);
    h->secs[h->n++] = t1 - t0;
}

/* The bytes of one ds's input set (its raw store _inputs.json); 0: none. */
static double ds_bytes(plan *p, const char *ds)
{
    pl_ctx c;
    sp_error e;
    sp_error_clear(&e);
    if (pl_ctx_init(&c, p->ctx.cfg, ds, "plan", &e) != SP_OK)
        return 0;
    c.raw = p->ctx.raw; /* borrowed: the plan's store */
    pl_input_set set;
    pl_inputs_init(&set);
    bool have = false;
    double bytes = 0;
    if (pl_inputs_read(&c, &set, &have, &e) == SP_OK && have)
        for (size_t f = 0; f < set.n; f++)
            bytes += (double)set.files[f].bytes;
    pl_inputs_free(&set);
    c.raw = NULL;
    pl_ctx_free(&c);
    return bytes;
}

/* Bytes per second of the newest successful runs of the ledger, one per ds
 * (a ds's _inputs.json is its latest stage's), into *rate (0: no history).
 * The ledger is opened read-only and only when it exists. */
static int history_rate(plan *p, double *rate, int *used, sp_error *err)
{
    *rate = 0;
    *used = 0;
    ledger *l = NULL;
    bool found = false;
    SP_TRY(ledger_open_readonly(&l, sp_config_get(p->ctx.cfg, "STATE_DIR"), &found, err));
    if (!found)
        return SP_OK;
    history *h = calloc(1, sizeof *h);
    if (!h) {
        ledger_close(l);
        return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    }
    int rc = ledger_each_run(l, keep_success, h, err);
    ledger_close(l);
    double bytes = 0, secs = 0;
    for (int i = h->n - 1; rc == SP_OK && i >= 0 && *used < PLAN_HISTORY_RUNS; i--) {
        bool newer = false; /* a ds run again: only its newest run matches its inputs */
        for (int k = i + 1; k < h->n; k++)
            newer |= strcmp(h->ds[k], h->ds[i]) == 0;
        double b = newer ? 0 : ds_bytes(p, h->ds[i]);
        if (b > 0) {
            bytes += b;
            secs += h->secs[i] > 0 ? h->secs[i] : 0.5; /* whole seconds in the ledger */
            (*used)++;
        }
    }
    free(h);
    if (secs > 0)
        *rate = bytes / secs;
    return rc;
}

/* ---- what is printed ------------------------------------------------------------ */

static void human_bytes(double b, char *out, size_t outsz)
{
    static const char *unit[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (b >= 1024 && i < 4) {
        b /= 1024;
        i++;
    }
    snprintf(out, outsz, i ? "%.1f %s" : "%.0f %s", b, unit[i]);
}

static void print_stage(const plan *p, store *raw)
{
    const char *pattern = sp_config_get(p->ctx.cfg, "RAW_PATTERN");
    printf("stage: %s/%s → %s/%s\n", p->dir, pattern, store_url(raw), p->ctx.prefix);
    if (p->local_error[0]) {
        printf("  would fail: %s\n", p->local_error);
        return;
    }
    if (p->n == 0)
        printf("  no file matches: stage warns, and transform would fail with \"no input files\"\n");
    int count[3] = {0, 0, 0};
    for (size_t i = 0; i < p->n; i++) {
        const plan_file *f = &p->files[i];
        count[f->stage]++;
        printf("  %-10s %s (%lld bytes", stage_word(f->stage), f->name, (long long)f->bytes);
        if (f->stage == STAGE_CHANGED && f->store_bytes != f->bytes)
            printf("; the store's copy: %lld bytes", (long long)f->store_bytes);
        else if (f->stage == STAGE_CHANGED)
            printf("; the store's copy has other bytes");
        printf(")%s\n", f->stage == STAGE_UNCHANGED ? ": not copied again" : ": uploaded");
    }
    if (p->n)
        printf("  %d new, %d changed, %d unchanged\n", count[STAGE_NEW], count[STAGE_CHANGED],
               count[STAGE_UNCHANGED]);
}

static void print_inputs(const plan *p, store *processed)
{
    char b[32];
    if (p->local_error[0]) {
        printf("\ninput set: none (stage fails first)\n");
        return;
    }
    human_bytes((double)p->bytes, b, sizeof b);
    printf("\ninput set: %zu file%s, %s, recorded by stage in %s%s; transform reads exactly "
           "those\n", p->n, p->n == 1 ? "" : "s", b, p->ctx.prefix, PL_INPUTS_KEY);
    if (p->ignored)
        printf("  ignored by transform (under the prefix, not in the set): %s%s\n",
               p->ignored_names, p->ignored > 5 ? ", …" : "");
    printf("transform: writes %s/%s{dim_date,dim_product,fact_sales}.parquet, rejects.csv, "
           "_manifest.json\n", store_url(processed), p->ctx.prefix);
}

static void print_load(const plan *p, const char *wh_what)
{
    const char *mode = sp_config_get(p->ctx.cfg, "LOAD_MODE");
    printf("\nload (LOAD_MODE=%s) into the warehouse: %s\n", mode, wh_what);
    if (strcmp(mode, "incremental") != 0) {
        printf("  full: dim_date, dim_product and fact_sales end with exactly this run's rows\n");
        return;
    }
    /* The warehouse's file registry (etl_file) decides per file. */
    if (!p->registry)
        printf("  the warehouse has no file registry (etl_file) yet: every file is new\n");
    int count[3] = {0, 0, 0};
    for (size_t i = 0; i < p->n; i++) {
        const plan_file *f = &p->files[i];
        count[f->load]++;
        if (f->load == LOAD_NEW)
            printf("  load       %s: new (not in etl_file)\n", f->name);
        else if (f->load == LOAD_SKIP)
            printf("  skip       %s: same sha256 as loaded by run %s\n", f->name, f->loaded_by);
        else
            printf("  replace    %s: sha256 changed since run %s loaded it: its facts are "
                   "deleted, the new ones inserted\n", f->name, f->loaded_by);
    }
    printf("  %d to load, %d to replace, %d to skip (load --force reloads every file)\n",
           count[LOAD_NEW], count[LOAD_REPLACE], count[LOAD_SKIP]);
}

static void print_gates(const plan *p, const wh_load_info *last)
{
    const sp_config *cfg = p->ctx.cfg;
    const char *sql = sp_config_get(cfg, "QUALITY_SQL");
    char name[64], drop[160];
    printf("\nquality gates (GATE_ACTION=%s), before anything is published or committed:\n",
           sp_config_get(cfg, "GATE_ACTION"));
    snprintf(name, sizeof name, "MIN_ROWS=%s", sp_config_get(cfg, "MIN_ROWS"));
    printf("  %-24s kept rows, at least\n", name);
    snprintf(name, sizeof name, "MAX_REJECT_RATE=%s", sp_config_get(cfg, "MAX_REJECT_RATE"));
    printf("  %-24s rejected share, overall and per file, at most\n", name);
    snprintf(name, sizeof name, "MAX_ROW_DROP=%s", sp_config_get(cfg, "MAX_ROW_DROP"));
    if (last->found)
        snprintf(drop, sizeof drop, "drop against the last load (run %s, ds %s: %lld rows kept), "
                 "at most", last->run_id, last->ds, (long long)last->rows_kept);
    else
        snprintf(drop, sizeof drop, "no load recorded in the warehouse: not checked");
    printf("  %-24s %s\n", name, drop);
    printf("  %-24s %s\n", "QUALITY_SQL", sql && *sql ? sql : "unset");
}

static void print_estimate(const plan *p, double rate, int used)
{
    printf("\nestimated duration: ");
    if (rate <= 0) {
        printf("no history (no successful run with a recorded input set in the ledger)\n");
        return;
    }
    char b[32], r[32];
    human_bytes((double)p->bytes, b, sizeof b);
    human_bytes(rate, r, sizeof r);
    double secs = (double)p->bytes / rate;
    if (secs < 1)
        printf("under a second");
    else if (secs < 120)
        printf("about %.0f s", secs);
    else
        printf("about %.0f min", secs / 60);
    printf(" (%s at %s/s, the rate of the last %d successful run%s)\n", b, r, used,
           used == 1 ? "" : "s");
}

static void plan_free(plan *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->files[i].name);
    free(p->files);
    pl_ctx_free(&p->ctx);
}

int orch_plan(const sp_config *cfg, const char *ds, sp_error *err)
{
    plan *p = calloc(1, sizeof *p);
    if (!p)
        return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    store *raw, *processed;
    int rc = pl_ctx_init(&p->ctx, cfg, ds, "plan", err);
    if (rc == SP_OK && (rc = pl_raw_store(&p->ctx, &raw, err)) == SP_OK)
        rc = pl_processed_store(&p->ctx, &processed, err);
    if (rc == SP_OK)
        rc = plan_stage(p, raw, err);
    if (rc == SP_OK && !p->local_error[0])
        rc = store_list(raw, p->ctx.prefix, note_other, p, err);
    double rate = 0;
    int used = 0;
    if (rc == SP_OK)
        rc = history_rate(p, &rate, &used, err);
    if (rc != SP_OK) {
        plan_free(p);
        free(p);
        return rc;
    }
    char wh_what[1200];
    wh_load_info last;
    plan_warehouse(p, &last, wh_what, sizeof wh_what);
    printf("plan for `salespipe run --ds %s` (nothing was changed)\n\n", p->ctx.ds);
    print_stage(p, raw);
    print_inputs(p, processed);
    print_load(p, wh_what);
    print_gates(p, &last);
    char shown[1200];
    const char *url = sp_config_display(cfg, "DATABASE_URL", shown, sizeof shown);
    printf("\ntouches: raw store %s, processed store %s, warehouse %s, run ledger %s/"
           "ledger.db\n", store_url(raw), store_url(processed), p->ctx.warehouse[0] ?
           p->ctx.warehouse : url && *url ? url : "./warehouse.db (SQLite)",
           sp_config_get(cfg, "STATE_DIR"));
    print_estimate(p, rate, used);
    plan_free(p);
    free(p);
    return fflush(stdout) == 0 ? SP_OK : sp_fail(err, SP_ERR_IO, "stdout: write failed");
}
