/* transform.c — SPEC §2 `transform`: the run's raw CSVs → the star schema
 * as Parquet, rejects.csv and _manifest.json in the processed store.
 * Each input file is one job, run by a pool of worker threads: CSV records
 * → rules → fact part file + reject part + dimensions and counts. The
 * parts are then merged in file-name order (Parquet row groups copied byte
 * for byte), so the output is the same however the jobs were scheduled.
 * Nothing is published unless every file succeeded; the manifest goes last.
 * Memory is bounded per worker (one fact batch, one row group); only the
 * dimensions grow with the input. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../csv/csv.h"
#include "../parquet/parquet.h"
#include "../rules/rules.h"
#include "../util/buf.h"
#include "../util/clock.h"
#include "../util/date.h"
#include "../util/decimal.h"
#include "../util/fsutil.h"
#include "../util/json.h"
#include "../util/log.h"
#include "../util/sha256.h"
#include "pipeline.h"
#include "tables.h"

#include "../util/version.h"

#define FACT_BATCH 65536
#define FACT_ROW_GROUP_ROWS 262144
#define REJECT_FLUSH (1u << 20)
#define MAX_WARNINGS 4

/* The seven required columns, in rules_input order. */
static const char *const REQUIRED[7] = {"Order Date", "Ship Date", "Product ID", "Category",
                                        "Sales",      "Quantity",  "Profit"};

typedef struct tf_shared {
    rules_date_order order; /* DATE_ORDER */
    csv_encoding encoding;  /* ENCODING */
    int64_t threshold;      /* SALES_THRESHOLD, scale 4 */
    store *raw;
    const char *workdir;
} tf_shared;

/* One input file and everything its worker produced. */
typedef struct tf_job {
    const tf_shared *sh;
    int index;
    char key[2048];
    char name[512];          /* basename: fact_sales.source_file, rejects.csv source_file */
    char fact_part[PATH_MAX], rej_part[PATH_MAX];
    char input[PATH_MAX];    /* the file read: the store's own, or a download in the work dir */
    bool spooled;            /* input is a download (removed with the work dir) */
    star_dims *dims;
    star_counts counts;
    char sha256[65];
    int64_t bytes;
    csv_encoding enc_used;
    rules_date_order order_used;
    bool order_assumed;      /* no evidence: month-first by default */
    /* first line giving each kind of date-order evidence (0 = none) */
    uint64_t ev_line[2];     /* [0] day-first, [1] month-first */
    char ev_text[2][40];
    char warn[MAX_WARNINGS][600];
    int nwarn;
    int rc;
    sp_error err;
} tf_job;

static void job_warn(tf_job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void job_warn(tf_job *j, const char *fmt, ...)
{
    if (j->nwarn >= MAX_WARNINGS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->warn[j->nwarn++], sizeof j->warn[0], fmt, ap);
    va_end(ap);
}

/* ---- the fact batch ---------------------------------------------------- */

typedef struct fact_batch {
    size_t n;
    int32_t order_date[FACT_BATCH], quantity[FACT_BATCH], ship_date[FACT_BATCH];
    int64_t sales[FACT_BATCH], profit[FACT_BATCH], unit_price[FACT_BATCH],
        margin[FACT_BATCH], line[FACT_BATCH];
    uint32_t pid_off[FACT_BATCH + 1], src_off[FACT_BATCH + 1];
    sp_buf pid;
    uint8_t *src;            /* the file name repeated FACT_BATCH times */
} fact_batch;

static int batch_flush(fact_batch *b, pq_writer *w, sp_error *err)
{
    if (b->n == 0)
        return SP_OK;
    if (b->pid.broken)
        return sp_fail(err, SP_ERR_LIMIT, "product ids of one batch exceed the buffer cap");
    size_t n = b->n;
    pq_values v[10] = {
        {n, NULL, b->order_date, NULL, NULL},
        {n, NULL, NULL, b->pid_off, b->pid.data},
        {n, NULL, b->quantity, NULL, NULL},
        {n, NULL, b->sales, NULL, NULL},
        {n, NULL, b->profit, NULL, NULL},
        {n, NULL, b->unit_price, NULL, NULL},
        {n, NULL, b->margin, NULL, NULL},
        {n, NULL, b->ship_date, NULL, NULL},
        {n, NULL, NULL, b->src_off, b->src},
        {n, NULL, b->line, NULL, NULL},
    };
    int rc = pq_writer_write(w, v, err);
    b->n = 0;
    b->pid_off[0] = 0;
    sp_buf_reset(&b->pid);
    return rc;
}

/* ---- rejects ------------------------------------------------------------ */

typedef struct rej_out {
    int fd;
    const char *path;
    sp_buf buf;
} rej_out;

static int rej_flush(rej_out *r, sp_error *err)
{
    if (r->buf.broken)
        return sp_fail(err, SP_ERR_NOMEM, "%s: out of memory", r->path);
    size_t off = 0;
    while (off < r->buf.len) {
        ssize_t w = write(r->fd, r->buf.data + off, r->buf.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return sp_fail(err, SP_ERR_IO, "%s: %s", r->path, strerror(errno));
        off += (size_t)w;
    }
    sp_buf_reset(&r->buf);
    return SP_OK;
}

static int rej_add(rej_out *r, const tf_job *j, uint64_t line, rules_reason why,
                   const csv_record *rec, sp_error *err)
{
    csv_write_field(&r->buf, j->name, strlen(j->name));
    sp_buf_printf(&r->buf, ",%llu,%s,", (unsigned long long)line, rules_reason_name(why));
    csv_write_field(&r->buf, rec->text, rec->text_len);
    sp_buf_putc(&r->buf, '\n');
    return r->buf.len >= REJECT_FLUSH || r->buf.broken ? rej_flush(r, err) : SP_OK;
}

/* ---- one pass over one file ------------------------------------------------ */

enum { RESTART_NONE = 0, RESTART_ENCODING, RESTART_DATE };

static void on_bytes(void *ctx, const uint8_t *p, size_t n)
{
    sp_sha256_update(ctx, p, n);
}

/* Looks like D/M/Y or M/D/Y (a first number of 1–2 digits)? */
static bool ambiguous_form(const rules_text *t)
{
    return (t->n > 1 && (t->p[1] == '/' || t->p[1] == '-')) ||
           (t->n > 2 && (t->p[2] == '/' || t->p[2] == '-'));
}

static int map_header(tf_job *j, const csv_record *h, int idx[7], sp_error *err)
{
    for (int k = 0; k < 7; k++) {
        idx[k] = -1;
        for (size_t f = 0; f < h->nfields; f++) {
            if (!csv_name_matches(h->fields[f].ptr, h->fields[f].len, REQUIRED[k]))
                continue;
            if (idx[k] >= 0)
                return sp_fail(err, SP_ERR_DATA,
                               "%s: line %llu: column '%s' appears twice (fields %d and %zu)",
                               j->key, (unsigned long long)h->line, REQUIRED[k], idx[k] + 1,
                               f + 1);
            idx[k] = (int)f;
        }
        if (idx[k] < 0)
            return sp_fail(err, SP_ERR_DATA, "%s: missing required column '%s' (header on line %llu)",
                           j->key, REQUIRED[k], (unsigned long long)h->line);
    }
    return SP_OK;
}

/* Record date-order evidence; returns a restart request or an error. */
static int note_evidence(tf_job *j, rules_date_order ev, const rules_text *t, uint64_t line,
                         bool decided, int *restart, sp_error *err)
{
    if (ev != RULES_DMY && ev != RULES_MDY)
        return SP_OK;
    int k = ev == RULES_DMY ? 0 : 1;
    if (j->ev_line[k] == 0) {
        j->ev_line[k] = line;
        snprintf(j->ev_text[k], sizeof j->ev_text[k], "%.*s", (int)(t->n < 32 ? t->n : 32), t->p);
    }
    if (j->ev_line[0] && j->ev_line[1])
        return sp_fail(err, SP_ERR_DATA,
                       "%s: dates are day-first on line %llu ('%s') and month-first on line %llu "
                       "('%s'): set DATE_ORDER=dmy or DATE_ORDER=mdy for this data",
                       j->key, (unsigned long long)j->ev_line[0], j->ev_text[0],
                       (unsigned long long)j->ev_line[1], j->ev_text[1]);
    if (!decided && ev != j->order_used)
        *restart = RESTART_DATE;
    return SP_OK;
}

static int one_pass(tf_job *j, fact_batch *b, csv_encoding enc, bool decided, int *restart,
                    sp_error *err)
{
    *restart = RESTART_NONE;
    star_dims_clear(j->dims);
    memset(&j->counts, 0, sizeof j->counts);
    j->nwarn = 0;
    b->n = 0;
    b->pid_off[0] = 0;
    sp_buf_reset(&b->pid);

    sp_sha256 sha;
    SP_TRY(sp_sha256_init(&sha, err));
    csv_options co = {.encoding = enc, .on_bytes = on_bytes, .on_bytes_ctx = &sha};
    csv_reader *r = NULL;
    pq_writer *w = NULL;
    rej_out rej = {.fd = -1, .path = j->rej_part};
    sp_buf_init(&rej.buf, 0);
    int rc = csv_open(&r, j->input, j->key, &co, err);
    if (rc != SP_OK)
        goto out;
    rej.fd = open(j->rej_part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (rej.fd < 0) {
        rc = sp_fail(err, SP_ERR_IO, "%s: %s", j->rej_part, strerror(errno));
        goto out;
    }
    pq_writer_options po;
    pq_writer_options_default(&po);
    po.row_group_rows = FACT_ROW_GROUP_ROWS;
    const pl_table *ft = &PL_TABLES[PL_TABLE_FACT_SALES];
    if ((rc = pq_writer_open(&w, j->fact_part, ft->cols, ft->ncols, &po, err)) != SP_OK)
        goto out;

    rules_ctx rctx = {.order = j->order_used, .threshold = j->sh->threshold};
    csv_record rec;
    rc = csv_next(r, &rec, err);
    if (rc == CSV_END) {
        job_warn(j, "%s is empty (no header, no rows)", j->key);
        rc = SP_OK;
        goto finish;
    }
    if (rc == CSV_RESTART) {
        *restart = RESTART_ENCODING;
        rc = SP_OK;
        goto out;
    }
    if (rc != SP_OK)
        goto out;
    int idx[7];
    if ((rc = map_header(j, &rec, idx, err)) != SP_OK)
        goto out;
    size_t nfields = rec.nfields;
    bool ambiguous_seen = false;
    for (;;) {
        rc = csv_next(r, &rec, err);
        if (rc == CSV_END) {
            rc = SP_OK;
            break;
        }
        if (rc == CSV_RESTART) {
            *restart = RESTART_ENCODING;
            rc = SP_OK;
            goto out;
        }
        if (rc != SP_OK)
            goto out;
        if (rec.unterminated || rec.nfields != nfields) {
            star_counts_rejected(&j->counts, RULES_MALFORMED);
            if ((rc = rej_add(&rej, j, rec.line, RULES_MALFORMED, &rec, err)) != SP_OK)
                goto out;
            continue;
        }
        const csv_field *f = rec.fields;
        rules_input in = {
            {f[idx[0]].ptr, f[idx[0]].len}, {f[idx[1]].ptr, f[idx[1]].len},
            {f[idx[2]].ptr, f[idx[2]].len}, {f[idx[3]].ptr, f[idx[3]].len},
            {f[idx[4]].ptr, f[idx[4]].len}, {f[idx[5]].ptr, f[idx[5]].len},
            {f[idx[6]].ptr, f[idx[6]].len},
        };
        rules_row row;
        rules_date_order ev[2];
        rules_reason why = rules_check(&rctx, &in, &row, ev);
        if (j->sh->order == RULES_ORDER_AUTO) {
            if (!ambiguous_seen)
                ambiguous_seen = ambiguous_form(&in.order_date) || ambiguous_form(&in.ship_date);
            if ((rc = note_evidence(j, ev[0], &in.order_date, rec.line, decided, restart, err)) ||
                (rc = note_evidence(j, ev[1], &in.ship_date, rec.line, decided, restart, err)))
                goto out;
            if (*restart)
                goto out;
        }
        if (why != RULES_KEPT) {
            star_counts_rejected(&j->counts, why);
            if ((rc = rej_add(&rej, j, rec.line, why, &rec, err)) != SP_OK)
                goto out;
            continue;
        }
        if ((rc = star_dims_add(j->dims, row.order_date, in.product_id.p, in.product_id.n,
                                in.category.p, in.category.n, err)) != SP_OK) {
            sp_error_prefix(err, "%s: line %llu", j->key, (unsigned long long)rec.line);
            goto out;
        }
        star_counts_kept(&j->counts, &row);
        size_t i = b->n;
        b->order_date[i] = row.order_date;
        b->ship_date[i] = row.ship_date;
        b->quantity[i] = row.quantity;
        b->sales[i] = row.sales;
        b->profit[i] = row.profit;
        b->unit_price[i] = row.unit_price;
        b->margin[i] = row.profit_margin;
        b->line[i] = (int64_t)rec.line;
        sp_buf_append(&b->pid, in.product_id.p, in.product_id.n);
        b->pid_off[i + 1] = (uint32_t)b->pid.len;
        if (++b->n == FACT_BATCH && (rc = batch_flush(b, w, err)) != SP_OK)
            goto out;
    }
    if (j->sh->order == RULES_ORDER_AUTO && !decided && !j->ev_line[0] && !j->ev_line[1] &&
        ambiguous_seen)
        j->order_assumed = true;
finish:
    if ((rc = batch_flush(b, w, err)) != SP_OK || (rc = rej_flush(&rej, err)) != SP_OK)
        goto out;
    rc = pq_writer_close(w, err);
    w = NULL;
    if (rc != SP_OK)
        goto out;
    if (close(rej.fd) != 0) {
        rej.fd = -1;
        rc = sp_fail(err, SP_ERR_IO, "%s: %s", j->rej_part, strerror(errno));
        goto out;
    }
    rej.fd = -1;
    j->enc_used = csv_encoding_used(r);
    j->bytes = (int64_t)csv_bytes_read(r);
out:
    csv_close(r);
    pq_writer_abort(w);
    if (rej.fd >= 0)
        close(rej.fd);
    sp_buf_free(&rej.buf);
    if (rc == SP_OK && !*restart)
        sp_sha256_final(&sha, j->sha256);
    else
        sp_sha256_free(&sha);
    return rc;
}

static int process_file(tf_job *j, fact_batch *b, sp_error *err)
{
    const tf_shared *sh = j->sh;
    if (!store_local_path(sh->raw, j->key, j->input, sizeof j->input)) {
        snprintf(j->input, sizeof j->input, "%s/in-%d.csv", sh->workdir, j->index);
        j->spooled = true;
        SP_TRY(store_get_file(sh->raw, j->key, j->input, err));
    }
    csv_encoding enc = sh->encoding;
    bool decided = sh->order != RULES_ORDER_AUTO;
    j->order_used = decided ? sh->order : RULES_MDY;
    memset(j->ev_line, 0, sizeof j->ev_line);
    /* At most one restart for the encoding and one for the date order. */
    for (int pass = 0; pass < 3; pass++) {
        int restart;
        SP_TRY(one_pass(j, b, enc, decided, &restart, err));
        if (restart == RESTART_NONE) {
            if (j->enc_used == CSV_ENC_CP1252 && sh->encoding == CSV_ENC_AUTO)
                job_warn(j, "%s is not valid UTF-8: read as windows-1252 and transcoded", j->key);
            if (j->order_assumed)
                job_warn(j, "%s: no date tells day-first from month-first: read as month-first "
                         "(set DATE_ORDER to be sure)", j->key);
            return SP_OK;
        }
        if (restart == RESTART_ENCODING)
            enc = CSV_ENC_CP1252;
        if (restart == RESTART_DATE) {
            j->order_used = j->ev_line[0] ? RULES_DMY : RULES_MDY;
            decided = true;
        }
    }
    return sp_fail(err, SP_ERR_INTERNAL, "%s: too many restarts", j->key);
}

/* ---- the worker pool ------------------------------------------------------- */

typedef struct pool {
    tf_job *jobs;
    int njobs;
    atomic_int next;
} pool;

static void *worker(void *arg)
{
    pool *p = arg;
    fact_batch *b = calloc(1, sizeof *b);
    if (b) {
        sp_buf_init(&b->pid, (size_t)1 << 30);
        b->src = NULL;
    }
    for (;;) {
        int i = atomic_fetch_add(&p->next, 1);
        if (i >= p->njobs)
            break;
        tf_job *j = &p->jobs[i];
        if (!b) {
            j->rc = sp_fail(&j->err, SP_ERR_NOMEM, "%s: out of memory", j->key);
            continue;
        }
        /* source_file: the name repeated once per batch slot */
        size_t nl = strlen(j->name);
        free(b->src);
        b->src = malloc(nl * FACT_BATCH + 1);
        if (!b->src) {
            j->rc = sp_fail(&j->err, SP_ERR_NOMEM, "%s: out of memory", j->key);
            continue;
        }
        for (size_t k = 0; k < FACT_BATCH; k++) {
            memcpy(b->src + k * nl, j->name, nl);
            b->src_off[k] = (uint32_t)(k * nl);
        }
        b->src_off[FACT_BATCH] = (uint32_t)(FACT_BATCH * nl);
        j->rc = process_file(j, b, &j->err);
    }
    if (b) {
        sp_buf_free(&b->pid);
        free(b->src);
        free(b);
    }
    return NULL;
}

static int run_pool(tf_job *jobs, int njobs, int nthreads)
{
    pool p = {jobs, njobs, 0};
    pthread_t th[64];
    int started = 0;
    for (int t = 1; t < nthreads && t < 64; t++)
        if (pthread_create(&th[started], NULL, worker, &p) == 0)
            started++;
    worker(&p); /* the calling thread works too */
    for (int t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    return started + 1;
}

/* ---- outputs ------------------------------------------------------------------ */

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

static int write_rejects(tf_job *jobs, int n, const char *path, sp_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return sp_fail(err, SP_ERR_IO, "%s: %s", path, strerror(errno));
    static const char header[] = "source_file,line,reason,record\n";
    int rc = SP_OK;
    if (write(fd, header, sizeof header - 1) != (ssize_t)(sizeof header - 1))
        rc = sp_fail(err, SP_ERR_IO, "%s: %s", path, strerror(errno));
    for (int i = 0; i < n && rc == SP_OK; i++)
        rc = append_file(fd, path, jobs[i].rej_part, err);
    if (rc == SP_OK && fsync(fd) != 0)
        rc = sp_fail(err, SP_ERR_IO, "%s: %s", path, strerror(errno));
    if (close(fd) != 0 && rc == SP_OK)
        rc = sp_fail(err, SP_ERR_IO, "%s: %s", path, strerror(errno));
    return rc;
}

static void json_reasons(sp_buf *b, const int64_t *rejected)
{
    sp_buf_putc(b, '{');
    for (int r = RULES_MALFORMED; r < RULES_NREASONS; r++)
        sp_buf_printf(b, "%s\"%s\": %lld", r > RULES_MALFORMED ? ", " : "",
                      rules_reason_name((rules_reason)r), (long long)rejected[r]);
    sp_buf_putc(b, '}');
}

static void build_manifest(sp_buf *b, const pl_ctx *ctx, const tf_job *jobs, int n,
                           const star_counts *c, int64_t ndates, int64_t nproducts,
                           int64_t conflicts, const tf_shared *sh)
{
    char now[32], s1[48], s2[48], thr[32];
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
    sp_buf_printf(b, ",\n  \"settings\": {\"sales_threshold\": \"%s\", \"date_order\": \"%s\", "
                     "\"encoding\": \"%s\"}",
                  thr, rules_date_order_name(sh->order), csv_encoding_name(sh->encoding));
    sp_buf_puts(b, ",\n  \"inputs\": [");
    for (int i = 0; i < n; i++) {
        const tf_job *j = &jobs[i];
        sp_buf_puts(b, i ? ",\n    {\"file\": " : "\n    {\"file\": ");
        sp_json_cstr(b, j->name);
        sp_buf_puts(b, ", \"key\": ");
        sp_json_cstr(b, j->key);
        sp_buf_printf(b, ", \"bytes\": %lld, \"sha256\": \"%s\", \"rows\": %lld, \"kept\": %lld, "
                         "\"encoding\": \"%s\", \"date_order\": \"%s\", \"rejected\": ",
                      (long long)j->bytes, j->sha256, (long long)j->counts.rows_in,
                      (long long)j->counts.rejected[RULES_KEPT], csv_encoding_name(j->enc_used),
                      rules_date_order_name(j->order_used));
        json_reasons(b, j->counts.rejected);
        sp_buf_putc(b, '}');
    }
    star_format_sum(c->sales, s1);
    star_format_sum(c->profit, s2);
    sp_buf_printf(b, "\n  ],\n  \"rows_in\": %lld,\n  \"rows_kept\": %lld,\n  \"rejected\": ",
                  (long long)c->rows_in, (long long)c->rejected[RULES_KEPT]);
    json_reasons(b, c->rejected);
    sp_buf_printf(b, ",\n  \"rounded\": {\"total_sales\": %lld, \"profit\": %lld}",
                  (long long)c->rounded_sales, (long long)c->rounded_profit);
    sp_buf_printf(b, ",\n  \"product_category_conflicts\": %lld", (long long)conflicts);
    sp_buf_printf(b, ",\n  \"tables\": {\"dim_date\": %lld, \"dim_product\": %lld, "
                     "\"fact_sales\": %lld}",
                  (long long)ndates, (long long)nproducts, (long long)c->rejected[RULES_KEPT]);
    sp_buf_printf(b, ",\n  \"sums\": {\"quantity\": %lld, \"total_sales\": \"%s\", "
                     "\"profit\": \"%s\"}",
                  (long long)c->quantity, s1, s2);
    sp_buf_puts(b, ",\n  \"outputs\": [\"dim_date.parquet\", \"dim_product.parquet\", "
                   "\"fact_sales.parquet\", \"rejects.csv\"]\n}\n");
}

/* ---- the task ------------------------------------------------------------------ */

typedef struct key_list {
    const char *prefix, *pattern;
    size_t plen;
    tf_job *jobs;
    int n, cap;
    sp_error *err;
} key_list;

static int collect_key(void *arg, const char *key, int64_t size)
{
    (void)size;
    key_list *k = arg;
    const char *rest = key + k->plen;
    if (strchr(rest, '/') || fnmatch(k->pattern, rest, 0) != 0)
        return 0;
    if (k->n == k->cap) {
        int ncap = k->cap ? k->cap * 2 : 8;
        if (ncap > 100000)
            return sp_fail(k->err, SP_ERR_LIMIT, "more than 100000 input files");
        tf_job *nj = realloc(k->jobs, (size_t)ncap * sizeof *nj);
        if (!nj)
            return sp_fail(k->err, SP_ERR_NOMEM, "out of memory listing inputs");
        k->jobs = nj;
        k->cap = ncap;
    }
    tf_job *j = &k->jobs[k->n];
    memset(j, 0, sizeof *j);
    if (snprintf(j->key, sizeof j->key, "%s", key) >= (int)sizeof j->key ||
        snprintf(j->name, sizeof j->name, "%s", rest) >= (int)sizeof j->name)
        return sp_fail(k->err, SP_ERR_LIMIT, "input key too long: %.200s…", key);
    j->index = k->n++;
    return 0;
}

/* Remove the work directory. The files are known by name, so no memory is
 * needed (this runs after out-of-memory failures too); anything else found
 * there is removed through a directory listing. */
static void remove_workdir(const char *dir, const tf_job *jobs, int n)
{
    static const char *const fixed[] = {"dim_date.parquet", "dim_product.parquet",
                                        "fact_sales.parquet", "rejects.csv"};
    char path[PATH_MAX];
    for (int i = 0; i < n; i++) {
        unlink(jobs[i].fact_part);
        unlink(jobs[i].rej_part);
        if (jobs[i].spooled)
            unlink(jobs[i].input);
    }
    for (size_t k = 0; k < sizeof fixed / sizeof fixed[0]; k++)
        if (snprintf(path, sizeof path, "%s/%s", dir, fixed[k]) < (int)sizeof path)
            unlink(path);
    if (rmdir(dir) == 0 || errno == ENOENT)
        return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path)
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static int make_workdir(store *processed, char *out, size_t outsz, sp_error *err)
{
    static atomic_int seq;
    const char *root = store_local_root(processed);
    if (root) {
        SP_TRY(sp_mkdirs(root, strlen(root), err));
        if (snprintf(out, outsz, "%s/.tmp-transform-%d-%d", root, (int)getpid(),
                     atomic_fetch_add(&seq, 1)) >= (int)outsz)
            return sp_fail(err, SP_ERR_USAGE, "PROCESSED_STORE path too long");
        if (mkdir(out, 0700) != 0)
            return sp_fail(err, SP_ERR_IO, "%s: %s", out, strerror(errno));
        return SP_OK;
    }
    const char *tmp = getenv("TMPDIR");
    if (snprintf(out, outsz, "%s/salespipe-transform-XXXXXX", tmp && *tmp ? tmp : "/tmp") >=
        (int)outsz)
        return sp_fail(err, SP_ERR_USAGE, "TMPDIR path too long");
    if (!mkdtemp(out))
        return sp_fail(err, SP_ERR_IO, "%s: %s", out, strerror(errno));
    return SP_OK;
}

static int resolve_settings(const pl_ctx *ctx, tf_shared *sh, sp_error *err)
{
    const char *thr = sp_config_get(ctx->cfg, "SALES_THRESHOLD");
    if (!rules_parse_decimal(thr, strlen(thr), 4, &sh->threshold, NULL))
        return sp_fail(err, SP_ERR_USAGE, "SALES_THRESHOLD: '%s' is not a decimal number", thr);
    const char *order = sp_config_get(ctx->cfg, "DATE_ORDER");
    if (!rules_date_order_parse(order, &sh->order))
        return sp_fail(err, SP_ERR_USAGE, "DATE_ORDER: '%s' is not one of auto,mdy,dmy,ymd", order);
    const char *enc = sp_config_get(ctx->cfg, "ENCODING");
    if (strcmp(enc, "auto") == 0)
        sh->encoding = CSV_ENC_AUTO;
    else if (strcmp(enc, "utf-8") == 0)
        sh->encoding = CSV_ENC_UTF8;
    else if (strcmp(enc, "windows-1252") == 0)
        sh->encoding = CSV_ENC_CP1252;
    else
        return sp_fail(err, SP_ERR_USAGE, "ENCODING: '%s' is not one of auto,utf-8,windows-1252", enc);
    return SP_OK;
}

int pl_transform(pl_ctx *ctx, sp_error *err)
{
    tf_shared sh = {0};
    SP_TRY(resolve_settings(ctx, &sh, err));
    store *raw, *processed;
    SP_TRY(pl_raw_store(ctx, &raw, err));
    SP_TRY(pl_processed_store(ctx, &processed, err));
    sh.raw = raw;
    const char *pattern = sp_config_get(ctx->cfg, "RAW_PATTERN");
    key_list kl = {ctx->prefix, pattern, strlen(ctx->prefix), NULL, 0, 0, err};
    int rc = store_list(raw, ctx->prefix, collect_key, &kl, err);
    if (rc == SP_OK && kl.n == 0)
        rc = sp_fail(err, SP_ERR_DATA, "no input files: %s has no %s%s (run stage first; it "
                     "uploads $DATA_DIR/raw/%s)", store_url(raw), ctx->prefix, pattern, pattern);
    if (rc != SP_OK) {
        free(kl.jobs);
        return rc;
    }
    char workdir[PATH_MAX - 64]; /* room for the names of files inside */
    if ((rc = make_workdir(processed, workdir, sizeof workdir, err)) != SP_OK) {
        sp_error_prefix(err, "PROCESSED_STORE %s: no work directory", store_url(processed));
        free(kl.jobs);
        return rc;
    }
    sh.workdir = workdir;
    tf_job *jobs = kl.jobs;
    int n = kl.n;
    star_dims *all = NULL;
    for (int i = 0; i < n && rc == SP_OK; i++) {
        jobs[i].sh = &sh;
        snprintf(jobs[i].fact_part, sizeof jobs[i].fact_part, "%s/fact-%d.parquet", workdir, i);
        snprintf(jobs[i].rej_part, sizeof jobs[i].rej_part, "%s/rejects-%d.csv", workdir, i);
        rc = star_dims_new(&jobs[i].dims, err);
    }
    if (rc != SP_OK)
        goto out;

    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = ctx->threads > 0 ? ctx->threads : (int)(cores > 0 ? cores : 1);
    if (threads > n)
        threads = n;
    double t0 = sp_mono_seconds();
    sp_log(SP_LOG_INFO, "transform: %d file(s) from %s/%s, %d worker(s)", n, store_url(raw),
           ctx->prefix, threads);
    run_pool(jobs, n, threads);
    for (int i = 0; i < n; i++) {
        for (int w = 0; w < jobs[i].nwarn; w++)
            sp_log(SP_LOG_WARN, "transform: %s", jobs[i].warn[w]);
        if (jobs[i].rc != SP_OK && rc == SP_OK) {
            *err = jobs[i].err;
            rc = jobs[i].rc;
        }
    }
    if (rc != SP_OK)
        goto out;

    /* Merge in file-name order. */
    star_counts total = {0};
    if ((rc = star_dims_new(&all, err)) != SP_OK)
        goto out;
    for (int i = 0; i < n && rc == SP_OK; i++) {
        star_counts_merge(&total, &jobs[i].counts);
        rc = star_dims_merge(all, jobs[i].dims, err);
    }
    if (rc != SP_OK)
        goto out;
    char path[3][PATH_MAX], rej[PATH_MAX];
    for (int t = 0; t < PL_NTABLES; t++)
        snprintf(path[t], sizeof path[t], "%s/%s", workdir, PL_TABLES[t].file);
    snprintf(rej, sizeof rej, "%s/rejects.csv", workdir);
    if ((rc = write_dim_date(all, path[PL_TABLE_DIM_DATE], err)) != SP_OK ||
        (rc = write_dim_product(all, path[PL_TABLE_DIM_PRODUCT], err)) != SP_OK)
        goto out;
    {
        const pl_table *ft = &PL_TABLES[PL_TABLE_FACT_SALES];
        pq_writer *w;
        if ((rc = pq_writer_open(&w, path[PL_TABLE_FACT_SALES], ft->cols, ft->ncols, NULL, err)))
            goto out;
        for (int i = 0; i < n && rc == SP_OK; i++)
            rc = pq_writer_append_file(w, jobs[i].fact_part, err);
        if (rc == SP_OK)
            rc = pq_writer_close(w, err);
        else
            pq_writer_abort(w);
        if (rc != SP_OK)
            goto out;
    }
    if ((rc = write_rejects(jobs, n, rej, err)) != SP_OK)
        goto out;
    int64_t accounted = 0; /* kept + every reason: rows_in, or a row was lost */
    for (int r = 0; r < RULES_NREASONS; r++)
        accounted += total.rejected[r];
    if (accounted != total.rows_in) {
        rc = sp_fail(err, SP_ERR_INTERNAL, "rows_in %lld != rows_kept + rejected %lld: a row was lost",
                     (long long)total.rows_in, (long long)accounted);
        goto out;
    }
    sp_buf manifest;
    sp_buf_init(&manifest, (size_t)64 << 20);
    build_manifest(&manifest, ctx, jobs, n, &total, (int64_t)star_dims_ndates(all),
                   (int64_t)star_dims_nproducts(all), star_dims_conflicts(all), &sh);
    if (manifest.broken) {
        sp_buf_free(&manifest);
        rc = sp_fail(err, SP_ERR_NOMEM, "out of memory writing the manifest");
        goto out;
    }
    /* Publish: withdraw the old manifest, then the data, the manifest last. */
    char key[2048];
    snprintf(key, sizeof key, "%s_manifest.json", ctx->prefix);
    rc = store_delete(processed, key, err);
    for (int t = 0; t < PL_NTABLES && rc == SP_OK; t++) {
        snprintf(key, sizeof key, "%s%s", ctx->prefix, PL_TABLES[t].file);
        rc = store_put_file(processed, key, path[t], STORE_PUT_MOVE, err);
    }
    if (rc == SP_OK) {
        snprintf(key, sizeof key, "%srejects.csv", ctx->prefix);
        rc = store_put_file(processed, key, rej, STORE_PUT_MOVE, err);
    }
    if (rc == SP_OK) {
        snprintf(key, sizeof key, "%s_manifest.json", ctx->prefix);
        rc = store_put_bytes(processed, key, manifest.data, manifest.len, err);
    }
    sp_buf_free(&manifest);
    if (rc != SP_OK)
        goto out;
    double secs = sp_mono_seconds() - t0;
    ctx->transformed = true;
    ctx->tf.counts = total;
    ctx->tf.dim_date = (int64_t)star_dims_ndates(all);
    ctx->tf.dim_product = (int64_t)star_dims_nproducts(all);
    ctx->tf.fact_sales = total.rejected[RULES_KEPT];
    ctx->tf.conflicts = star_dims_conflicts(all);
    ctx->tf.nfiles = n;
    sp_log(SP_LOG_INFO, "transform: %lld rows in, %lld kept, %lld rejected in %.2fs → %s/%s",
           (long long)total.rows_in, (long long)total.rejected[RULES_KEPT],
           (long long)(total.rows_in - total.rejected[RULES_KEPT]), secs, store_url(processed),
           ctx->prefix);
    if (ctx->tf.conflicts)
        sp_log(SP_LOG_WARN, "transform: %lld product(s) seen with more than one category kept "
               "their first (see the manifest)", (long long)ctx->tf.conflicts);
out:
    for (int i = 0; i < n; i++)
        star_dims_free(jobs[i].dims);
    star_dims_free(all);
    remove_workdir(workdir, jobs, n);
    free(jobs);
    return rc;
}
