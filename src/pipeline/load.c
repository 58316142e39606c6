/* load.c — SPEC §2 `create-tables` and `load`: the run's Parquet tables →
 * the warehouse, in ONE transaction, full or incremental (LOAD_MODE, SPEC
 * §8). The files are checked against the manifest before the warehouse is
 * touched; the manifest's "inputs" (name, bytes, sha256, rows) tell the
 * warehouse which input files the run holds, and it decides per file
 * (warehouse.h). Rows travel one row group at a time from the Parquet
 * reader to the warehouse's bulk path. Any failure rolls back: the previous
 * contents stay intact. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../parquet/parquet.h"
#include "../util/buf.h"
#include "../util/cancel.h"
#include "../util/json.h"
#include "../util/log.h"
#include "../util/owner.h"
#include "../util/progress.h"
#include "../warehouse/warehouse.h"
#include "pipeline.h"
#include "tables.h"

/* DATABASE_URL, or the RDS_* settings; existing: do not create a SQLite file. */
static int open_warehouse(pl_ctx *ctx, bool existing, wh **out, sp_error *err)
{
    const char *url = sp_config_get(ctx->cfg, "DATABASE_URL");
    wh_pg_settings pg = {
        .host = sp_config_get(ctx->cfg, "RDS_HOST"),
        .port = sp_config_get(ctx->cfg, "RDS_PORT"),
        .dbname = sp_config_get(ctx->cfg, "RDS_DB"),
        .user = sp_config_get(ctx->cfg, "RDS_USER"),
        .password = sp_config_get(ctx->cfg, "RDS_PASS"),
        .pgpassword = sp_config_get(ctx->cfg, "PGPASSWORD"),
    };
    pl_db_auth auth;
    int rc = pl_db_auth_begin(ctx, &pg, &auth, err);
    if (rc == SP_OK)
        rc = existing ? wh_open_existing(out, url, &pg, err) : wh_open_with(out, url, &pg, err);
    pl_db_auth_end(&auth);
    if (rc != SP_OK)
        return sp_error_prefix(err, "warehouse");
    if (*out)
        snprintf(ctx->warehouse, sizeof ctx->warehouse, "%s", wh_describe(*out));
    return SP_OK;
}

int pl_open_warehouse(pl_ctx *ctx, wh **out, sp_error *err)
{
    return open_warehouse(ctx, false, out, err);
}

int pl_open_existing_warehouse(pl_ctx *ctx, wh **out, sp_error *err)
{
    return open_warehouse(ctx, true, out, err);
}

int pl_create_tables(pl_ctx *ctx, sp_error *err)
{
    wh *w;
    SP_TRY(pl_open_warehouse(ctx, &w, err));
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
    sp_column cols[PL_MAX_COLS];
    char label[64];
    snprintf(label, sizeof label, "load %s", t->name);
    sp_progress_begin(label, SP_PROGRESS_ROWS, (int64_t)pq_reader_num_rows(r));
    for (size_t g = 0; g < pq_reader_num_row_groups(r); g++) {
        pq_values v[PL_MAX_COLS];
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
        sp_progress_add((int64_t)b.nrows);
    }
    return SP_OK;
}

/* The manifest's "inputs": one wh_file per input (names and hashes
 * owned: free_inputs). */
typedef struct load_inputs {
    wh_file *files;
    size_t n;
} load_inputs;

static void free_inputs(load_inputs *in)
{
    for (size_t i = 0; i < in->n; i++)
        free((char *)in->files[i].name), free((char *)in->files[i].sha256);
    free(in->files);
    in->files = NULL;
    in->n = 0;
}

enum { LOAD_MAX_INPUTS = 1000000 };

static int read_inputs(const sp_buf *m, const char *where, load_inputs *in, sp_error *err)
{
    const char *j = (const char *)m->data;
    for (size_t i = 0;; i++) {
        char path[64], name[4096], sha[80];
        snprintf(path, sizeof path, "inputs.%zu.file", i);
        if (!sp_json_get_str(j, m->len, path, name, sizeof name))
            return SP_OK;
        if (i >= LOAD_MAX_INPUTS)
            return sp_fail(err, SP_ERR_LIMIT, "%s: more than %d inputs", where, LOAD_MAX_INPUTS);
        if (i % 64 == 0) {
            wh_file *f = realloc(in->files, (i + 64) * sizeof *f);
            if (!f)
                return sp_fail(err, SP_ERR_NOMEM, "%s: out of memory", where);
            in->files = f;
        }
        wh_file *f = &in->files[i];
        *f = (wh_file){.bytes = -1, .rows = -1};
        long long v;
        snprintf(path, sizeof path, "inputs.%zu.bytes", i);
        if (sp_json_get_int(j, m->len, path, &v))
            f->bytes = v;
        snprintf(path, sizeof path, "inputs.%zu.rows", i);
        if (sp_json_get_int(j, m->len, path, &v))
            f->rows = v;
        snprintf(path, sizeof path, "inputs.%zu.sha256", i);
        bool has_sha = sp_json_get_str(j, m->len, path, sha, sizeof sha);
        f->name = strdup(name);
        f->sha256 = has_sha ? strdup(sha) : NULL;
        in->n = i + 1;
        if (!f->name || (has_sha && !f->sha256))
            return sp_fail(err, SP_ERR_NOMEM, "%s: out of memory", where);
    }
}

/* What the load did with each input file, one line each. */
static void log_plan(const load_inputs *in, bool incremental)
{
    for (size_t i = 0; i < in->n; i++) {
        const wh_file *f = &in->files[i];
        if (f->action == WH_FILE_SAME)
            sp_log(SP_LOG_INFO, "load: %s unchanged (same sha256), loaded by run %s: skipped",
                   f->name, f->loaded_by[0] ? f->loaded_by : "(unknown)");
        else if (incremental && f->action == WH_FILE_CHANGED)
            sp_log(SP_LOG_INFO, "load: %s replaced: %lld facts (its previous copy was loaded by "
                   "run %s)", f->name, (long long)f->facts,
                   f->loaded_by[0] ? f->loaded_by : "(unknown)");
        else if (incremental)
            sp_log(SP_LOG_INFO, "load: %s new: %lld facts", f->name, (long long)f->facts);
    }
}

/* What the run's manifest says the load must find. */
typedef struct load_manifest {
    long long want[PL_NTABLES]; /* rows per table */
    long long deferred;         /* MAX_ROW_DROP left to load: transform could not read
                                 * the warehouse */
    char made_by[128];          /* the run that made the Parquet, "" when not said */
    load_inputs inputs;
} load_manifest;

/* The run's Parquet tables, open for reading: the processed store's own
 * files, or copies in tmpdir when the store is not local. */
typedef struct load_files {
    char tmpdir[PATH_MAX]; /* "" when nothing was copied */
    pq_reader *readers[PL_NTABLES];
    char keys[PL_NTABLES][2048];
} load_files;

/* The manifest of the run's transform: its input files and the row counts
 * its tables must have. On failure nothing stays allocated. */
static int read_manifest(pl_ctx *ctx, store *processed, load_manifest *m, sp_error *err)
{
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
    const char *j = (const char *)manifest.data;
    sp_json_get_int(j, manifest.len, "row_drop_deferred", &m->deferred);
    char where[2600];
    snprintf(where, sizeof where, "%s/%s", store_url(processed), key);
    rc = read_inputs(&manifest, where, &m->inputs, err);
    /* fact_sales.run_id when its Parquet has no such column (then a reload
     * changes nothing). */
    sp_json_get_str(j, manifest.len, "run_id", m->made_by, sizeof m->made_by);
    for (int t = 0; t < PL_NTABLES && rc == SP_OK; t++) {
        char path[64];
        snprintf(path, sizeof path, "tables.%s", PL_TABLES[t].name);
        if (!sp_json_get_int(j, manifest.len, path, &m->want[t]))
            rc = sp_fail(err, SP_ERR_CORRUPT, "%s/%s: no %s count: not a salespipe manifest",
                         store_url(processed), key, path);
    }
    sp_buf_free(&manifest);
    if (rc != SP_OK)
        free_inputs(&m->inputs);
    return rc;
}

/* Every table's file opened and checked against the contract and the
 * manifest before the warehouse is touched. f->tmpdir is made first when
 * the store is not local; the caller closes and removes (close_files)
 * whatever the status. */
static int open_files(pl_ctx *ctx, store *processed, const load_manifest *m, load_files *f,
                      sp_error *err)
{
    if (!store_local_root(processed)) {
        const char *tmp = getenv("TMPDIR");
        /* The owner tag lets the next run's sweep tell our folder from debris. */
        snprintf(f->tmpdir, sizeof f->tmpdir, "%s/salespipe-load-%s-XXXXXX",
                 tmp && *tmp ? tmp : "/tmp", sp_owner_tag());
        if (!mkdtemp(f->tmpdir)) {
            int rc = sp_fail(err, SP_ERR_IO, "%s: %s", f->tmpdir, strerror(errno));
            f->tmpdir[0] = '\0';
            return rc;
        }
    }
    for (int t = 0; t < PL_NTABLES; t++) {
        char path[PATH_MAX];
        snprintf(f->keys[t], sizeof f->keys[t], "%s%s", ctx->prefix, PL_TABLES[t].file);
        SP_TRY(local_copy(processed, f->keys[t], f->tmpdir, PL_TABLES[t].file, path, sizeof path,
                          err));
        SP_TRY(pq_reader_open(&f->readers[t], path, err));
        if (!same_shape(f->readers[t], &PL_TABLES[t]))
            return sp_fail(err, SP_ERR_DATA, "%s: columns differ from the %s contract", f->keys[t],
                           PL_TABLES[t].name);
        if (pq_reader_num_rows(f->readers[t]) != m->want[t])
            return sp_fail(err, SP_ERR_DATA, "%s: %lld rows, the manifest says %lld", f->keys[t],
                           (long long)pq_reader_num_rows(f->readers[t]), m->want[t]);
    }
    return SP_OK;
}

static void close_files(load_files *f)
{
    for (int t = 0; t < PL_NTABLES; t++) {
        pq_reader_close(f->readers[t]);
        if (f->tmpdir[0]) {
            char path[PATH_MAX];
            if (snprintf(path, sizeof path, "%s/%s", f->tmpdir, PL_TABLES[t].file) <
                (int)sizeof path)
                unlink(path);
        }
    }
    if (f->tmpdir[0] && rmdir(f->tmpdir) == 0)
        sp_cancel_note("removed the work folder %s", f->tmpdir);
}

/* The tables, the run's etl_load record and the QUALITY_SQL checks in ONE
 * transaction: committed whole, or rolled back leaving the warehouse as it
 * was. */
static int load_in_one_transaction(pl_ctx *ctx, wh *w, const wh_load_opts *opts,
                                   const load_files *f, const load_manifest *m,
                                   pl_quality *quality, sp_error *err)
{
    SP_TRY(wh_load_begin_with(w, opts, err));
    static const wh_table order[PL_NTABLES] = {WH_DIM_DATE, WH_DIM_PRODUCT, WH_FACT_SALES};
    int rc = SP_OK;
    for (int t = 0; t < PL_NTABLES && rc == SP_OK; t++)
        rc = load_table(w, order[t], &PL_TABLES[t], f->readers[t], f->keys[t], err);
    /* In the same transaction: the record exists only if the load does. */
    if (rc == SP_OK)
        rc = wh_load_record(w, ctx->run_id, ctx->ds, m->want[PL_TABLE_FACT_SALES], err);
    if (rc == SP_OK)
        rc = pl_gates_quality(ctx, quality, w, err);
    if (rc == SP_OK)
        rc = wh_load_commit(w, err);
    else
        wh_load_rollback(w);
    if (rc != SP_OK) {
        sp_error_prefix(err, "load rolled back, %s unchanged", wh_describe(w));
        sp_cancel_note("rolled back the load (%s unchanged)", wh_describe(w));
        return rc;
    }
    bool incremental = opts->mode == WH_MODE_INCREMENTAL;
    log_plan(&m->inputs, incremental);
    if (wh_load_category_conflicts(w) > 0)
        sp_log(SP_LOG_WARN, "load: %lld product(s) came with another category than "
               "dim_product's: %s", (long long)wh_load_category_conflicts(w),
               incremental ? "each keeps its first" : "this run's category is kept");
    return SP_OK;
}

/* The tables' sizes after the load, for the run's summary. */
static int count_tables(pl_ctx *ctx, wh *w, bool incremental, sp_error *err)
{
    for (int t = 0; t < PL_NTABLES; t++)
        SP_TRY(wh_table_rows(w, (wh_table)t, &ctx->table_rows[t], err));
    ctx->loaded = true;
    sp_log(SP_LOG_INFO, "load (%s): %s now holds dim_date %lld, dim_product %lld, "
           "fact_sales %lld rows", incremental ? "incremental" : "full",
           wh_describe(w), (long long)ctx->table_rows[0], (long long)ctx->table_rows[1],
           (long long)ctx->table_rows[2]);
    return SP_OK;
}

int pl_load(pl_ctx *ctx, sp_error *err)
{
    memset(&ctx->gates, 0, sizeof ctx->gates); /* this attempt's, for the ledger */
    store *processed;
    SP_TRY(pl_processed_store(ctx, &processed, err));
    load_manifest m = {0};
    SP_TRY(read_manifest(ctx, processed, &m, err));
    const char *mode = sp_config_get(ctx->cfg, "LOAD_MODE");
    bool incremental = mode && strcmp(mode, "incremental") == 0;
    wh_load_opts opts = {.mode = incremental ? WH_MODE_INCREMENTAL : WH_MODE_FULL,
                         .force = ctx->force_load, .run_id = ctx->run_id, .ds = ctx->ds,
                         .fact_run_id = m.made_by[0] ? m.made_by : ctx->run_id,
                         .files = m.inputs.files, .nfiles = m.inputs.n};

    load_files f = {.tmpdir = ""};
    wh *w = NULL;
    pl_quality quality = {0};
    int rc = open_files(ctx, processed, &m, &f, err);
    /* The gates before the warehouse changes: QUALITY_SQL read now, a
     * deferred MAX_ROW_DROP evaluated now. */
    if (rc == SP_OK)
        rc = pl_quality_open(ctx, &quality, err);
    if (rc == SP_OK)
        rc = pl_open_warehouse(ctx, &w, err);
    if (rc == SP_OK && m.deferred)
        rc = pl_gates_row_drop(ctx, w, m.want[PL_TABLE_FACT_SALES], err);
    if (rc == SP_OK)
        rc = load_in_one_transaction(ctx, w, &opts, &f, &m, &quality, err);
    if (rc == SP_OK)
        rc = count_tables(ctx, w, incremental, err);
    wh_close(w);
    pl_quality_close(&quality);
    close_files(&f);
    free_inputs(&m.inputs);
    return rc;
}

