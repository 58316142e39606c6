/* transform_publish.c — transform's last phases (SPEC §5–§6): check the
 * counts (transform_pool.c merged them in order), write dim_date,
 * dim_product, fact_sales (the chunks' fact parts, row groups copied byte
 * for byte) and rejects.csv into the work directory, build _manifest.json,
 * and publish them to the processed store with the manifest last. It never
 * reads CSV; the per-file pass (transform_file.c) made the parts. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../parquet/parquet.h"
#include "../util/date.h"
#include "../util/decimal.h"
#include "../util/json.h"
#include "../util/version.h"
#include "tables.h"
#include "transform_internal.h"

/* ---- checks ------------------------------------------------------------------ */

int tf_check_counts(const tf_outputs *o, sp_error *err)
{
    int64_t accounted = 0; /* kept + every reason: rows_in, or a row was lost */
    for (int r = 0; r < RULES_NREASONS; r++)
        accounted += o->total.rejected[r];
    if (accounted != o->total.rows_in)
        return sp_fail(err, SP_ERR_INTERNAL, "rows_in %lld != rows_kept + rejected %lld: a row was lost",
                       (long long)o->total.rows_in, (long long)accounted);
    return SP_OK;
}

/* ---- the tables ---------------------------------------------------------------- */

/* Write a whole small table (a dimension) of n rows to path. */
static int write_table(int table, const char *path, const pq_values *v, size_t n, sp_error *err)
{
    const pl_table *t = &PL_TABLES[table];
    pq_writer *w;
    SP_TRY(pq_writer_open(&w, path, t->cols, t->ncols, NULL, err));
    if (n && pq_writer_write(w, v, err) != SP_OK) {
        pq_writer_abort(w);
        return err->code;
    }
    return pq_writer_close(w, err);
}

static int write_dim_date(star_dims *d, const char *path, sp_error *err)
{
    const int32_t *dates;
    SP_TRY(star_dims_dates(d, &dates, err));
    size_t n = star_dims_ndates(d);
    int32_t *cols = malloc((n ? n : 1) * 4 * sizeof *cols);
    if (!cols)
        return sp_fail(err, SP_ERR_NOMEM, "out of memory (dim_date)");
    int32_t *day = cols, *month = cols + n, *quarter = cols + 2 * n, *year = cols + 3 * n;
    for (size_t i = 0; i < n; i++) {
        int64_t y;
        unsigned m, dd;
        sp_civil_from_days(dates[i], &y, &m, &dd);
        day[i] = (int32_t)dd;
        month[i] = (int32_t)m;
        quarter[i] = (int32_t)((m - 1) / 3 + 1);
        year[i] = (int32_t)y;
    }
    pq_values v[5] = {{n, NULL, dates, NULL, NULL}, {n, NULL, day, NULL, NULL},
                      {n, NULL, month, NULL, NULL}, {n, NULL, quarter, NULL, NULL},
                      {n, NULL, year, NULL, NULL}};
    int rc = write_table(PL_TABLE_DIM_DATE, path, v, n, err);
    free(cols);
    return rc;
}

static int write_dim_product(star_dims *d, const char *path, sp_error *err)
{
    const star_product *p;
    SP_TRY(star_dims_products(d, &p, err));
    size_t n = star_dims_nproducts(d);
    uint32_t *off = malloc((2 * n + 2) * sizeof *off);
    sp_buf ids, cats;
    sp_buf_init(&ids, 0);
    sp_buf_init(&cats, 0);
    if (!off)
        return sp_fail(err, SP_ERR_NOMEM, "out of memory (dim_product)");
    uint32_t *ioff = off, *coff = off + n + 1;
    ioff[0] = coff[0] = 0;
    for (size_t i = 0; i < n; i++) {
        sp_buf_append(&ids, p[i].id, p[i].id_len);
        sp_buf_append(&cats, p[i].category, p[i].cat_len);
        ioff[i + 1] = (uint32_t)ids.len;
        coff[i + 1] = (uint32_t)cats.len;
    }
    int rc = SP_OK;
    if (ids.broken || cats.broken || ids.len > UINT32_MAX || cats.len > UINT32_MAX) {
        rc = sp_fail(err, SP_ERR_LIMIT, "dim_product exceeds the buffer cap");
    } else {
        static const uint8_t none[1];
        pq_values v[2] = {{n, NULL, NULL, ioff, ids.data ? ids.data : none},
                          {n, NULL, NULL, coff, cats.data ? cats.data : none}};
        rc = write_table(PL_TABLE_DIM_PRODUCT, path, v, n, err);
    }
    free(off);
    sp_buf_free(&ids);
    sp_buf_free(&cats);
    return rc;
}

/* A part of fewer rows than this is decoded and re-encoded into the open
 * row group instead of copied: 10,000 one-row files make a few row groups,
 * not 10,000 (whose footer entries would grow with the number of files). */
#define COALESCE_ROWS 65536

/* Append one fact part: its row groups copied byte for byte, or (a small
 * part) its rows added to the open row group. */
static int append_part(pq_writer *w, const char *part, sp_error *err)
{
    pq_reader *r;
    SP_TRY(pq_reader_open(&r, part, err));
    int rc = SP_OK;
    if (pq_reader_num_rows(r) >= COALESCE_ROWS) {
        pq_reader_close(r);
        return pq_writer_append_file(w, part, err);
    }
    pq_values v[16];
    if (pq_reader_num_columns(r) > sizeof v / sizeof v[0])
        rc = sp_fail(err, SP_ERR_INTERNAL, "%s: too many columns", part);
    for (size_t g = 0; rc == SP_OK && g < pq_reader_num_row_groups(r); g++) {
        rc = pq_reader_read_row_group(r, g, v, err);
        if (rc == SP_OK && v[0].n > 0)
            rc = pq_writer_write(w, v, err);
    }
    pq_reader_close(r);
    return rc;
}

/* fact_sales: every fact part, in chunk order (file name order, then line
 * order). The result depends only on the parts, never on the workers. */
static int write_facts(const tf_shared *sh, int n, const char *path, sp_error *err)
{
    const pl_table *ft = &PL_TABLES[PL_TABLE_FACT_SALES];
    pq_writer_options po;
    pq_writer_options_default(&po);
    po.row_group_rows = TF_ROW_GROUP_ROWS;
    po.no_dictionary = ft->no_dictionary;
    pq_writer *w;
    SP_TRY(pq_writer_open(&w, path, ft->cols, ft->ncols, &po, err));
    int rc = SP_OK;
    char part[PATH_MAX];
    for (int i = 0; i < n && rc == SP_OK; i++) {
        tf_fact_part(sh, i, part, sizeof part);
        rc = append_part(w, part, err);
    }
    if (rc != SP_OK) {
        pq_writer_abort(w);
        return rc;
    }
    return pq_writer_close(w, err);
}

static int append_file(int out, const char *out_path, const char *in_path, sp_error *err)
{
    int in = open(in_path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return sp_fail(err, SP_ERR_IO, "%s: %s", in_path, strerror(errno));
    char buf[1 << 16];
    int rc = SP_OK;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = sp_fail(err, SP_ERR_IO, "%s: %s", in_path, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = sp_fail(err, SP_ERR_IO, "%s: %s", out_path, strerror(errno));
                break;
            }
            off += w;
        }
        if (rc)
            break;
    }
    close(in);
    return rc;
}

/* rejects.csv: the header, then every reject part in chunk order. */
static int write_rejects(const tf_shared *sh, int n, const char *path, sp_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return sp_fail(err, SP_ERR_IO, "%s: %s", path, strerror(errno));
    static const char header[] = "source_file,line,reason,record\n";
    int rc = SP_OK;
    if (write(fd, header, sizeof header - 1) != (ssize_t)(sizeof header - 1))
        rc = sp_fail(err, SP_ERR_IO, "%s: %s", path, strerror(errno));
    char part[PATH_MAX];
    for (int i = 0; i < n && rc == SP_OK; i++) {
        tf_reject_part(sh, i, part, sizeof part);
        rc = append_file(fd, path, part, err);
    }
    if (rc == SP_OK && fsync(fd) != 0)
        rc = sp_fail(err, SP_ERR_IO, "%s: %s", path, strerror(errno));
    if (close(fd) != 0 && rc == SP_OK)
        rc = sp_fail(err, SP_ERR_IO, "%s: %s", path, strerror(errno));
    return rc;
}

int tf_write_outputs(const tf_shared *sh, int nchunks, tf_outputs *o, sp_error *err)
{
    for (int t = 0; t < PL_NTABLES; t++)
        snprintf(o->table[t], sizeof o->table[t], "%s/%s", sh->workdir, PL_TABLES[t].file);
    snprintf(o->rejects, sizeof o->rejects, "%s/rejects.csv", sh->workdir);
    SP_TRY(write_dim_date(o->dims, o->table[PL_TABLE_DIM_DATE], err));
    SP_TRY(write_dim_product(o->dims, o->table[PL_TABLE_DIM_PRODUCT], err));
    SP_TRY(write_facts(sh, nchunks, o->table[PL_TABLE_FACT_SALES], err));
    return write_rejects(sh, nchunks, o->rejects, err);
}

/* ---- the manifest ------------------------------------------------------------- */

static void json_reasons(sp_buf *b, const int64_t *rejected)
{
    sp_buf_putc(b, '{');
    for (int r = RULES_MALFORMED; r < RULES_NREASONS; r++)
        sp_buf_printf(b, "%s\"%s\": %lld", r > RULES_MALFORMED ? ", " : "",
                      rules_reason_name((rules_reason)r), (long long)rejected[r]);
    sp_buf_putc(b, '}');
}

/* ds, run_id, when, by what, where, with which settings. */
static void manifest_head(sp_buf *b, const pl_ctx *ctx, const tf_shared *sh)
{
    char now[32], thr[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    sp_decimal_format(sh->threshold, 4, thr);
    sp_buf_puts(b, "{\n  \"ds\": ");
    sp_json_cstr(b, ctx->ds);
    sp_buf_puts(b, ",\n  \"run_id\": ");
    sp_json_cstr(b, ctx->run_id);
    sp_buf_printf(b, ",\n  \"created\": \"%s\",\n  \"salespipe_version\": ", now);
    sp_json_cstr(b, SP_VERSION);
    sp_buf_puts(b, ",\n  \"prefix\": ");
    sp_json_cstr(b, ctx->prefix);
    sp_buf_puts(b, ",\n  \"input_set\": ");
    sp_json_cstr(b, ctx->input_set);
    sp_buf_printf(b, ",\n  \"settings\": {\"sales_threshold\": \"%s\", \"date_order\": \"%s\", "
                     "\"encoding\": \"%s\"}",
                  thr, rules_date_order_name(sh->order), csv_encoding_name(sh->encoding));
}

/* "inputs": one object per file, in file-name order. */
static void manifest_inputs(sp_buf *b, const tf_file *files, int n)
{
    sp_buf_puts(b, ",\n  \"inputs\": [");
    for (int i = 0; i < n; i++) {
        const tf_file *j = &files[i];
        sp_buf_puts(b, i ? ",\n    {\"file\": " : "\n    {\"file\": ");
        sp_json_cstr(b, j->name);
        sp_buf_puts(b, ", \"key\": ");
        sp_json_cstr(b, j->key);
        sp_buf_printf(b, ", \"bytes\": %lld, \"sha256\": \"%s\", \"rows\": %lld, \"kept\": %lld, "
                         "\"encoding\": \"%s\", \"date_order\": \"%s\", \"rejected\": ",
                      (long long)j->size, j->sha256, (long long)j->counts.rows_in,
                      (long long)j->counts.rejected[RULES_KEPT], csv_encoding_name(j->enc_used),
                      rules_date_order_name(j->set.order));
        json_reasons(b, j->counts.rejected);
        sp_buf_putc(b, '}');
    }
    sp_buf_puts(b, "\n  ]");
}

/* The run's totals, table sizes and outputs. */
static void manifest_totals(sp_buf *b, const tf_outputs *o)
{
    const star_counts *c = &o->total;
    char s1[48], s2[48];
    star_format_sum(c->sales, s1);
    star_format_sum(c->profit, s2);
    sp_buf_printf(b, ",\n  \"rows_in\": %lld,\n  \"rows_kept\": %lld,\n  \"rejected\": ",
                  (long long)c->rows_in, (long long)c->rejected[RULES_KEPT]);
    json_reasons(b, c->rejected);
    sp_buf_printf(b, ",\n  \"rounded\": {\"total_sales\": %lld, \"profit\": %lld}",
                  (long long)c->rounded_sales, (long long)c->rounded_profit);
    sp_buf_printf(b, ",\n  \"product_category_conflicts\": %lld",
                  (long long)star_dims_conflicts(o->dims));
    sp_buf_printf(b, ",\n  \"tables\": {\"dim_date\": %lld, \"dim_product\": %lld, "
                     "\"fact_sales\": %lld}",
                  (long long)star_dims_ndates(o->dims), (long long)star_dims_nproducts(o->dims),
                  (long long)c->rejected[RULES_KEPT]);
    sp_buf_printf(b, ",\n  \"sums\": {\"quantity\": %lld, \"total_sales\": \"%s\", "
                     "\"profit\": \"%s\"}",
                  (long long)c->quantity, s1, s2);
    sp_buf_puts(b, ",\n  \"outputs\": [\"dim_date.parquet\", \"dim_product.parquet\", "
                   "\"fact_sales.parquet\", \"rejects.csv\"]\n}\n");
}

/* The quality gates (SPEC §8): how failures were treated and each result. */
static void manifest_gates(sp_buf *b, const pl_ctx *ctx)
{
    sp_buf_puts(b, ",\n  \"gate_action\": ");
    sp_json_cstr(b, pl_gates_action(ctx));
    sp_buf_printf(b, ",\n  \"row_drop_deferred\": %d,\n  \"gates\": ",
                  ctx->gates.row_drop_deferred ? 1 : 0);
    pl_gates_json(&ctx->gates, b);
}

void tf_build_manifest(sp_buf *b, const pl_ctx *ctx, const tf_file *files, int n,
                       const tf_outputs *o, const tf_shared *sh)
{
    manifest_head(b, ctx, sh);
    manifest_inputs(b, files, n);
    manifest_gates(b, ctx);
    manifest_totals(b, o);
}

/* ---- publish ------------------------------------------------------------------ */

int tf_publish(store *processed, const char *prefix, const tf_outputs *o, const sp_buf *manifest,
               sp_error *err)
{
    char key[2048];
    snprintf(key, sizeof key, "%s_manifest.json", prefix);
    SP_TRY(store_delete(processed, key, err));
    for (int t = 0; t < PL_NTABLES; t++) {
        snprintf(key, sizeof key, "%s%s", prefix, PL_TABLES[t].file);
        SP_TRY(store_put_file(processed, key, o->table[t], STORE_PUT_MOVE, err));
    }
    snprintf(key, sizeof key, "%srejects.csv", prefix);
    SP_TRY(store_put_file(processed, key, o->rejects, STORE_PUT_MOVE, err));
    snprintf(key, sizeof key, "%s_manifest.json", prefix);
    return store_put_bytes(processed, key, manifest->data, manifest->len, err);
}
