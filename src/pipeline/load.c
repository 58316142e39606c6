/* load.c — SPEC §2 `create-tables` and `load`: the run's Parquet tables →
 * the warehouse, in ONE transaction (full refresh). The files are checked
 * against the manifest before the warehouse is touched; rows then travel
 * one row group at a time from the Parquet reader to the warehouse's bulk
 * path. Any failure rolls back: the previous contents stay intact. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../parquet/parquet.h"
#include "../util/buf.h"
#include "../util/json.h"
#include "../util/log.h"
#include "../warehouse/warehouse.h"
#include "pipeline.h"
#include "tables.h"

static int open_warehouse(pl_ctx *ctx, wh **out, sp_error *err)
{
    const char *url = sp_config_get(ctx->cfg, "DATABASE_URL");
    if (wh_open(out, url, err) != SP_OK)
        return sp_error_prefix(err, "warehouse");
    return SP_OK;
}

int pl_create_tables(pl_ctx *ctx, sp_error *err)
{
    wh *w;
    SP_TRY(open_warehouse(ctx, &w, err));
    int rc = wh_create_schema(w, err);
    if (rc == SP_OK)
        sp_log(SP_LOG_INFO, "create-tables: dim_date, dim_product, fact_sales ready in %s",
               wh_describe(w));
    wh_close(w);
    return rc;
}

typedef struct collector {
    sp_buf buf;
    const char *key;
    sp_error *err;
} collector;

static int collect(void *ctx, const void *p, size_t n)
{
    collector *c = ctx;
    sp_buf_append(&c->buf, p, n);
    if (!c->buf.broken)
        return SP_OK;
    return sp_fail(c->err, c->buf.len + n > c->buf.limit ? SP_ERR_LIMIT : SP_ERR_NOMEM,
                   "%s: cannot hold the manifest in memory (cap %zu bytes)", c->key, c->buf.limit);
}

/* The local path of a processed object: the store's own file, or a copy
 * downloaded into tmpdir. */
static int local_copy(store *s, const char *key, const char *tmpdir, const char *name,
                      char *out, size_t outsz, sp_error *err)
{
    if (store_local_path(s, key, out, outsz))
        return SP_OK;
    if (snprintf(out, outsz, "%s/%s", tmpdir, name) >= (int)outsz)
        return sp_fail(err, SP_ERR_USAGE, "temporary path too long");
    return store_get_file(s, key, out, err);
}

static bool same_shape(const pq_reader *r, const pl_table *t)
{
    if (pq_reader_num_columns(r) != t->ncols)
        return false;
    for (size_t i = 0; i < t->ncols; i++) {
        const pq_column_spec *a = pq_reader_column(r, i), *b = &t->cols[i];
        if (strcmp(a->name, b->name) != 0 || a->physical != b->physical ||
            a->logical != b->logical ||
            (b->logical == PQ_LOGICAL_DECIMAL && a->scale != b->scale))
            return false;
    }
    return true;
}

static int load_table(wh *w, wh_table wt, const pl_table *t, pq_reader *r, const char *key,
                      sp_error *err)
{
    sp_column cols[16];
    for (size_t g = 0; g < pq_reader_num_row_groups(r); g++) {
        pq_values v[16];
        if (pq_reader_read_row_group(r, g, v, err) != SP_OK)
            return err->code;
        for (size_t i = 0; i < t->ncols; i++) {
            const pq_column_spec *c = &t->cols[i];
            cols[i] = (sp_column){c->name, pl_coltype(c), c->scale, v[i].valid, v[i].values,
                                  v[i].offsets, v[i].bytes};
        }
        sp_batch b = {v[0].n, t->ncols, cols};
        if (wh_load_batch(w, wt, &b, err) != SP_OK)
            return sp_error_prefix(err, "loading %s", key);
    }
    return SP_OK;
}

int pl_load(pl_ctx *ctx, sp_error *err)
{
    store *processed;
    SP_TRY(pl_processed_store(ctx, &processed, err));
    char key[2048];
    snprintf(key, sizeof key, "%s_manifest.json", ctx->prefix);
    store_stat st;
    SP_TRY(store_stat_key(processed, key, false, &st, err));
    if (!st.exists)
        return sp_fail(err, SP_ERR_DATA, "no transform output for %s: %s has no %s (run transform first)",
                       ctx->ds, store_url(processed), key);
    collector mc = {.key = key, .err = err};
    sp_buf_init(&mc.buf, (size_t)64 << 20);
    int rc = store_get(processed, key, collect, &mc, err);
    sp_buf manifest = mc.buf;
    if (rc != SP_OK) {
        sp_buf_free(&manifest);
        return rc;
    }
    long long want[PL_NTABLES];
    for (int t = 0; t < PL_NTABLES && rc == SP_OK; t++) {
        char path[64];
        snprintf(path, sizeof path, "tables.%s", PL_TABLES[t].name);
        if (!sp_json_get_int((const char *)manifest.data, manifest.len, path, &want[t]))
            rc = sp_fail(err, SP_ERR_CORRUPT, "%s/%s: no %s count: not a salespipe manifest",
                         store_url(processed), key, path);
    }
    sp_buf_free(&manifest);
    if (rc != SP_OK)
        return rc;

    char tmpdir[PATH_MAX] = "";
    pq_reader *readers[PL_NTABLES] = {0};
    char keys[PL_NTABLES][2048];
    wh *w = NULL;
    if (!store_local_root(processed)) {
        const char *tmp = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/salespipe-load-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(tmpdir)) {
            return sp_fail(err, SP_ERR_IO, "%s: %s", tmpdir, strerror(errno));
        }
    }
    /* Check every file before touching the warehouse. */
    for (int t = 0; t < PL_NTABLES && rc == SP_OK; t++) {
        char path[PATH_MAX];
        snprintf(keys[t], sizeof keys[t], "%s%s", ctx->prefix, PL_TABLES[t].file);
        rc = local_copy(processed, keys[t], tmpdir, PL_TABLES[t].file, path, sizeof path, err);
        if (rc == SP_OK)
            rc = pq_reader_open(&readers[t], path, err);
        if (rc != SP_OK)
            break;
        if (!same_shape(readers[t], &PL_TABLES[t]))
            rc = sp_fail(err, SP_ERR_DATA, "%s: columns differ from the %s contract", keys[t],
                         PL_TABLES[t].name);
        else if (pq_reader_num_rows(readers[t]) != want[t])
            rc = sp_fail(err, SP_ERR_DATA, "%s: %lld rows, the manifest says %lld",
                         keys[t], (long long)pq_reader_num_rows(readers[t]), want[t]);
    }
    if (rc == SP_OK)
        rc = open_warehouse(ctx, &w, err);
    if (rc == SP_OK && (rc = wh_load_begin(w, err)) == SP_OK) {
        static const wh_table order[PL_NTABLES] = {WH_DIM_DATE, WH_DIM_PRODUCT, WH_FACT_SALES};
        for (int t = 0; t < PL_NTABLES && rc == SP_OK; t++)
            rc = load_table(w, order[t], &PL_TABLES[t], readers[t], keys[t], err);
        if (rc == SP_OK)
            rc = wh_load_commit(w, err);
        else
            wh_load_rollback(w);
        if (rc != SP_OK)
            sp_error_prefix(err, "load rolled back, %s unchanged", wh_describe(w));
    }
    if (rc == SP_OK) {
        for (int t = 0; t < PL_NTABLES && rc == SP_OK; t++)
            rc = wh_table_rows(w, (wh_table)t, &ctx->table_rows[t], err);
        if (rc == SP_OK) {
            ctx->loaded = true;
            sp_log(SP_LOG_INFO, "load: %s now holds dim_date %lld, dim_product %lld, "
                   "fact_sales %lld rows",
                   wh_describe(w), (long long)ctx->table_rows[0], (long long)ctx->table_rows[1],
                   (long long)ctx->table_rows[2]);
        }
    }
    wh_close(w);
    for (int t = 0; t < PL_NTABLES; t++) {
        pq_reader_close(readers[t]);
        if (tmpdir[0]) {
            char path[PATH_MAX];
            if (snprintf(path, sizeof path, "%s/%s", tmpdir, PL_TABLES[t].file) < (int)sizeof path)
                unlink(path);
        }
    }
    if (tmpdir[0])
        rmdir(tmpdir);
    return rc;
}

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
        if (rc == SP_OK && (rc = store_probe(s, ctx->prefix, &e)) != SP_OK)
            sp_error_prefix(&e, "%s %s not writable", names[i], store_url(s));
        if (rc == SP_OK)
            sp_log(SP_LOG_INFO, "preflight: %s %s writable", names[i], store_url(s));
        else
            check_failed(&e, &failures, &first);
    }
    /* warehouse */
    wh *w = NULL;
    sp_error_clear(&e);
    int rc = open_warehouse(ctx, &w, &e);
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

void pl_print_summary(const pl_ctx *ctx)
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
    if (ctx->loaded)
        printf("  warehouse: dim_date %lld, dim_product %lld, fact_sales %lld rows\n",
               (long long)ctx->table_rows[0], (long long)ctx->table_rows[1],
               (long long)ctx->table_rows[2]);
    const char *proc = sp_config_get(ctx->cfg, "PROCESSED_STORE");
    const char *db = sp_config_get(ctx->cfg, "DATABASE_URL");
    printf("  outputs: %s/%s{dim_date,dim_product,fact_sales}.parquet, rejects.csv, _manifest.json\n",
           proc, ctx->prefix);
    char masked[1024];
    if (db && *db) {
        sp_mask_url(db, masked, sizeof masked);
        printf("  warehouse: %s\n", masked);
    } else {
        printf("  warehouse: ./warehouse.db (SQLite)\n");
    }
}
