/* transform_file.c — transform's per-file pass (SPEC §4): one raw CSV →
 * CSV records → rules → a fact part (Parquet row groups), a reject part
 * (rejects.csv rows), the file's dimensions and counts; and the worker pool
 * that runs one such job per file. A pass is restarted (at most once for
 * the encoding, once for the date order) when the file proves to be
 * Windows-1252 or day-first. Memory per worker is one fact batch and one
 * row group; it never publishes anything (transform_publish.c does). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../parquet/parquet.h"
#include "../util/progress.h"
#include "../util/sha256.h"
#include "tables.h"
#include "transform_internal.h"

#define FACT_BATCH 65536
#define FACT_ROW_GROUP_ROWS 262144
#define REJECT_FLUSH (1u << 20)

const char *const TF_REQUIRED[7] = {"Order Date", "Ship Date", "Product ID", "Category",
                                    "Sales",      "Quantity",  "Profit"};
/* Optional columns feeding fact_sales' lineage (SPEC §5). */
enum { OPT_REGION = 0, OPT_ORDER_ID, NOPTIONAL };
static const char *const OPTIONAL[NOPTIONAL] = {"Region", "Order ID"};

static void job_warn(tf_job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void job_warn(tf_job *j, const char *fmt, ...)
{
    if (j->nwarn >= TF_MAX_WARNINGS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->warn[j->nwarn++], sizeof j->warn[0], fmt, ap);
    va_end(ap);
}

/* ---- the fact batch ---------------------------------------------------- */

/* Text columns are offsets into a buffer. A value that is the same on every
 * row of a file (source_file, run_id) is a `fixed` buffer holding it once
 * per batch slot, filled when the worker takes the file; the Parquet
 * writer's dictionary then stores it once per row group. */
typedef struct fixed_text {
    uint32_t off[FACT_BATCH + 1];
    uint8_t *bytes;
} fixed_text;

typedef struct fact_batch {
    size_t n;
    int32_t order_date[FACT_BATCH], quantity[FACT_BATCH], ship_date[FACT_BATCH];
    int64_t sales[FACT_BATCH], profit[FACT_BATCH], unit_price[FACT_BATCH],
        margin[FACT_BATCH], line[FACT_BATCH];
    uint32_t pid_off[FACT_BATCH + 1], region_off[FACT_BATCH + 1], oid_off[FACT_BATCH + 1];
    uint8_t oid_valid[FACT_BATCH]; /* order_id: 0 = NULL (no Order ID column, or empty) */
    size_t oid_nulls;
    sp_buf pid, region, oid;
    fixed_text src, run_id;
} fact_batch;

static void batch_reset(fact_batch *b)
{
    b->n = 0;
    b->oid_nulls = 0;
    b->pid_off[0] = b->region_off[0] = b->oid_off[0] = 0;
    sp_buf_reset(&b->pid);
    sp_buf_reset(&b->region);
    sp_buf_reset(&b->oid);
}

/* Fill t with `text` repeated FACT_BATCH times; false when out of memory. */
static bool fixed_text_set(fixed_text *t, const char *text)
{
    size_t len = strlen(text);
    free(t->bytes);
    t->bytes = malloc(len * FACT_BATCH + 1);
    if (!t->bytes)
        return false;
    for (size_t k = 0; k <= FACT_BATCH; k++) {
        if (k < FACT_BATCH)
            memcpy(t->bytes + k * len, text, len);
        t->off[k] = (uint32_t)(k * len);
    }
    return true;
}

static int batch_flush(fact_batch *b, pq_writer *w, sp_error *err)
{
    if (b->n == 0)
        return SP_OK;
    if (b->pid.broken || b->region.broken || b->oid.broken)
        return sp_fail(err, SP_ERR_LIMIT, "product ids, regions or order ids of one batch "
                       "exceed the buffer cap");
    size_t n = b->n;
    /* In PL_TABLES' fact_sales order. A buffer still empty has no data:
     * the writer reads no byte of it but wants a pointer. */
    static const uint8_t none[1];
    pq_values v[PL_FACT_NCOLS] = {
        {n, NULL, b->order_date, NULL, NULL},
        {n, NULL, NULL, b->pid_off, b->pid.data ? b->pid.data : none},
        {n, NULL, b->quantity, NULL, NULL},
        {n, NULL, b->sales, NULL, NULL},
        {n, NULL, b->profit, NULL, NULL},
        {n, NULL, b->unit_price, NULL, NULL},
        {n, NULL, b->margin, NULL, NULL},
        {n, NULL, NULL, b->region_off, b->region.data ? b->region.data : none},
        {n, b->oid_nulls ? b->oid_valid : NULL, NULL, b->oid_off, b->oid.data ? b->oid.data : none},
        {n, NULL, NULL, b->src.off, b->src.bytes},
        {n, NULL, b->line, NULL, NULL},
        {n, NULL, NULL, b->run_id.off, b->run_id.bytes},
        {n, NULL, b->ship_date, NULL, NULL},
    };
    int rc = pq_writer_write(w, v, err);
    batch_reset(b);
    sp_progress_add_rows((int64_t)n);
    return rc;
}

/* Append one kept row; flushes a full batch to w. opt: the fields of the
 * optional columns (-1 when the file has none). */
static int batch_add(fact_batch *b, pq_writer *w, const tf_job *j, const rules_row *row,
                     const rules_text *pid, const csv_record *rec, const int opt[NOPTIONAL],
                     sp_error *err)
{
    size_t i = b->n;
    b->order_date[i] = row->order_date;
    b->ship_date[i] = row->ship_date;
    b->quantity[i] = row->quantity;
    b->sales[i] = row->sales;
    b->profit[i] = row->profit;
    b->unit_price[i] = row->unit_price;
    b->margin[i] = row->profit_margin;
    b->line[i] = (int64_t)rec->line;
    sp_buf_append(&b->pid, pid->p, pid->n);
    b->pid_off[i + 1] = (uint32_t)b->pid.len;
    /* An empty Region cell says nothing: the file's region stands in. */
    const csv_field *reg = opt[OPT_REGION] >= 0 ? &rec->fields[opt[OPT_REGION]] : NULL;
    if (reg && reg->len)
        sp_buf_append(&b->region, reg->ptr, reg->len);
    else
        sp_buf_append(&b->region, j->region, strlen(j->region));
    b->region_off[i + 1] = (uint32_t)b->region.len;
    const csv_field *oid = opt[OPT_ORDER_ID] >= 0 ? &rec->fields[opt[OPT_ORDER_ID]] : NULL;
    b->oid_valid[i] = oid && oid->len;
    if (b->oid_valid[i])
        sp_buf_append(&b->oid, oid->ptr, oid->len);
    else
        b->oid_nulls++;
    b->oid_off[i + 1] = (uint32_t)b->oid.len;
    if (++b->n == FACT_BATCH)
        return batch_flush(b, w, err);
    return SP_OK;
}

/* fact_sales.region of a file without a Region column (SPEC §5): the name's
 * part before its last "_orders" (any case): "West_orders.csv" → "West".
 * A name without "_orders" (another RAW_PATTERN) gives the name without
 * its extension. out has room for strlen(name) + 1 bytes. */
static void region_of(const char *name, char *out)
{
    static const char tag[] = "_orders";
    size_t n = strlen(name), t = sizeof tag - 1, end = n;
    const char *dot = strrchr(name, '.');
    if (dot && dot != name)
        end = (size_t)(dot - name);
    for (size_t i = n >= t ? n - t + 1 : 0; i-- > 0;)
        if (strncasecmp(name + i, tag, t) == 0) {
            end = i;
            break;
        }
    memcpy(out, name, end);
    out[end] = '\0';
}

/* Ready the batch for job j: its source_file, the run's run_id, its region. */
static bool batch_set_job(fact_batch *b, tf_job *j)
{
    region_of(j->name, j->region);
    return fixed_text_set(&b->src, j->name) && fixed_text_set(&b->run_id, j->sh->run_id);
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

/* ---- date-order evidence and the header ---------------------------------- */

enum { RESTART_NONE = 0, RESTART_ENCODING, RESTART_DATE };

static void on_bytes(void *ctx, const uint8_t *p, size_t n)
{
    sp_sha256_update(ctx, p, n);
    sp_progress_add((int64_t)n);
}

/* Looks like D/M/Y or M/D/Y (a first number of 1–2 digits)? */
static bool ambiguous_form(const rules_text *t)
{
    return (t->n > 1 && (t->p[1] == '/' || t->p[1] == '-')) ||
           (t->n > 2 && (t->p[2] == '/' || t->p[2] == '-'));
}

/* The header field named `want` into *idx (-1 when absent); a name that
 * appears twice is an error, as a row could not say which one counts. */
static int find_column(const tf_job *j, const csv_record *h, const char *want, int *idx,
                       sp_error *err)
{
    *idx = -1;
    for (size_t f = 0; f < h->nfields; f++) {
        if (!csv_name_matches(h->fields[f].ptr, h->fields[f].len, want))
            continue;
        if (*idx >= 0)
            return sp_fail(err, SP_ERR_DATA,
                           "%s: line %llu: column '%s' appears twice (fields %d and %zu)",
                           j->key, (unsigned long long)h->line, want, *idx + 1, f + 1);
        *idx = (int)f;
    }
    return SP_OK;
}

static int map_header(tf_job *j, const csv_record *h, int idx[7], int opt[NOPTIONAL],
                      sp_error *err)
{
    for (int k = 0; k < 7; k++) {
        SP_TRY(find_column(j, h, TF_REQUIRED[k], &idx[k], err));
        if (idx[k] < 0)
            return sp_fail(err, SP_ERR_DATA, "%s: missing required column '%s' (header on line %llu)",
                           j->key, TF_REQUIRED[k], (unsigned long long)h->line);
    }
    for (int k = 0; k < NOPTIONAL; k++)
        SP_TRY(find_column(j, h, OPTIONAL[k], &opt[k], err));
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

/* ---- one pass over one file ------------------------------------------------ */

/* The state of one pass: its reader, its outputs and what it has seen. */
typedef struct tf_pass {
    tf_job *j;
    fact_batch *b;
    bool decided;            /* the date order is settled (no restart for it) */
    int restart;             /* RESTART_*: the pass must start over */
    sp_sha256 sha;
    bool sha_open;
    csv_reader *r;
    pq_writer *w;
    rej_out rej;
    rules_ctx rctx;
    int idx[7];              /* field of each required column */
    int opt[NOPTIONAL];      /* field of each optional column, -1 when absent */
    size_t nfields;          /* the header's field count */
    bool ambiguous_seen;     /* a date that needs the order to be read */
} tf_pass;

/* Open the reader, the reject part and the fact part; reset the job's
 * results from any earlier pass. */
static int pass_open(tf_pass *ps, csv_encoding enc, sp_error *err)
{
    tf_job *j = ps->j;
    star_dims_clear(j->dims);
    memset(&j->counts, 0, sizeof j->counts);
    j->nwarn = 0;
    batch_reset(ps->b);
    SP_TRY(sp_sha256_init(&ps->sha, err));
    ps->sha_open = true;
    csv_options co = {.encoding = enc, .on_bytes = on_bytes, .on_bytes_ctx = &ps->sha};
    SP_TRY(csv_open(&ps->r, j->input, j->key, &co, err));
    ps->rej.fd = open(j->rej_part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (ps->rej.fd < 0)
        return sp_fail(err, SP_ERR_IO, "%s: %s", j->rej_part, strerror(errno));
    pq_writer_options po;
    pq_writer_options_default(&po);
    po.row_group_rows = FACT_ROW_GROUP_ROWS;
    const pl_table *ft = &PL_TABLES[PL_TABLE_FACT_SALES];
    po.no_dictionary = ft->no_dictionary;
    SP_TRY(pq_writer_open(&ps->w, j->fact_part, ft->cols, ft->ncols, &po, err));
    ps->rctx = (rules_ctx){.order = j->order_used, .threshold = j->sh->threshold};
    return SP_OK;
}

/* Next record: SP_OK, CSV_END, or CSV_RESTART turned into ps->restart
 * (returned as CSV_END so the caller simply stops). */
static int pass_next(tf_pass *ps, csv_record *rec, sp_error *err)
{
    int rc = csv_next(ps->r, rec, err);
    if (rc == CSV_RESTART) {
        ps->restart = RESTART_ENCODING;
        return CSV_END;
    }
    return rc;
}

/* One data record: a reject, or a kept row into the batch and the dims. */
static int pass_record(tf_pass *ps, const csv_record *rec, sp_error *err)
{
    tf_job *j = ps->j;
    if (rec->unterminated || rec->nfields != ps->nfields) {
        star_counts_rejected(&j->counts, RULES_MALFORMED);
        return rej_add(&ps->rej, j, rec->line, RULES_MALFORMED, rec, err);
    }
    const csv_field *f = rec->fields;
    const int *idx = ps->idx;
    rules_input in = {
        {f[idx[0]].ptr, f[idx[0]].len}, {f[idx[1]].ptr, f[idx[1]].len},
        {f[idx[2]].ptr, f[idx[2]].len}, {f[idx[3]].ptr, f[idx[3]].len},
        {f[idx[4]].ptr, f[idx[4]].len}, {f[idx[5]].ptr, f[idx[5]].len},
        {f[idx[6]].ptr, f[idx[6]].len},
    };
    rules_row row;
    rules_date_order ev[2];
    rules_reason why = rules_check(&ps->rctx, &in, &row, ev);
    if (j->sh->order == RULES_ORDER_AUTO) {
        if (!ps->ambiguous_seen)
            ps->ambiguous_seen = ambiguous_form(&in.order_date) || ambiguous_form(&in.ship_date);
        SP_TRY(note_evidence(j, ev[0], &in.order_date, rec->line, ps->decided, &ps->restart, err));
        SP_TRY(note_evidence(j, ev[1], &in.ship_date, rec->line, ps->decided, &ps->restart, err));
        if (ps->restart)
            return SP_OK;
    }
    if (why != RULES_KEPT) {
        star_counts_rejected(&j->counts, why);
        return rej_add(&ps->rej, j, rec->line, why, rec, err);
    }
    int rc = star_dims_add(j->dims, row.order_date, in.product_id.p, in.product_id.n,
                           in.category.p, in.category.n, err);
    if (rc != SP_OK) {
        sp_error_prefix(err, "%s: line %llu", j->key, (unsigned long long)rec->line);
        return rc;
    }
    star_counts_kept(&j->counts, &row);
    return batch_add(ps->b, ps->w, j, &row, &in.product_id, rec, ps->opt, err);
}

/* The header, then every record until the end or a restart. */
static int pass_read(tf_pass *ps, sp_error *err)
{
    tf_job *j = ps->j;
    csv_record rec;
    int rc = pass_next(ps, &rec, err);
    if (rc == CSV_END) {
        if (!ps->restart)
            job_warn(j, "%s is empty (no header, no rows)", j->key);
        return SP_OK;
    }
    if (rc != SP_OK)
        return rc;
    SP_TRY(map_header(j, &rec, ps->idx, ps->opt, err));
    ps->nfields = rec.nfields;
    while ((rc = pass_next(ps, &rec, err)) == SP_OK) {
        SP_TRY(pass_record(ps, &rec, err));
        if (ps->restart)
            return SP_OK;
    }
    if (rc != CSV_END)
        return rc;
    if (!ps->restart && j->sh->order == RULES_ORDER_AUTO && !ps->decided && !j->ev_line[0] &&
        !j->ev_line[1] && ps->ambiguous_seen)
        j->order_assumed = true;
    return SP_OK;
}

/* Flush and close both parts; record what the reader saw. */
static int pass_finish(tf_pass *ps, sp_error *err)
{
    tf_job *j = ps->j;
    SP_TRY(batch_flush(ps->b, ps->w, err));
    SP_TRY(rej_flush(&ps->rej, err));
    int rc = pq_writer_close(ps->w, err);
    ps->w = NULL;
    SP_TRY(rc);
    rc = close(ps->rej.fd);
    ps->rej.fd = -1;
    if (rc != 0)
        return sp_fail(err, SP_ERR_IO, "%s: %s", j->rej_part, strerror(errno));
    j->enc_used = csv_encoding_used(ps->r);
    j->bytes = (int64_t)csv_bytes_read(ps->r);
    return SP_OK;
}

/* Release what the pass holds; the checksum is kept only for a pass that
 * completed without a restart. */
static void pass_close(tf_pass *ps, int rc)
{
    csv_close(ps->r);
    pq_writer_abort(ps->w);
    if (ps->rej.fd >= 0)
        close(ps->rej.fd);
    sp_buf_free(&ps->rej.buf);
    if (!ps->sha_open)
        return;
    if (rc == SP_OK && !ps->restart)
        sp_sha256_final(&ps->sha, ps->j->sha256);
    else
        sp_sha256_free(&ps->sha);
}

static int one_pass(tf_job *j, fact_batch *b, csv_encoding enc, bool decided, int *restart,
                    sp_error *err)
{
    tf_pass ps = {.j = j, .b = b, .decided = decided, .rej = {.fd = -1, .path = j->rej_part}};
    sp_buf_init(&ps.rej.buf, 0);
    int rc = pass_open(&ps, enc, err);
    if (rc == SP_OK)
        rc = pass_read(&ps, err);
    if (rc == SP_OK && !ps.restart)
        rc = pass_finish(&ps, err);
    pass_close(&ps, rc);
    *restart = ps.restart;
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
        sp_buf_init(&b->region, (size_t)1 << 30);
        sp_buf_init(&b->oid, (size_t)1 << 30);
    }
    for (;;) {
        int i = atomic_fetch_add(&p->next, 1);
        if (i >= p->njobs)
            break;
        tf_job *j = &p->jobs[i];
        if (!b || !batch_set_job(b, j)) {
            j->rc = sp_fail(&j->err, SP_ERR_NOMEM, "%s: out of memory", j->key);
            continue;
        }
        j->rc = process_file(j, b, &j->err);
    }
    if (b) {
        sp_buf_free(&b->pid);
        sp_buf_free(&b->region);
        sp_buf_free(&b->oid);
        free(b->src.bytes);
        free(b->run_id.bytes);
        free(b);
    }
    return NULL;
}

void tf_run_pool(tf_job *jobs, int njobs, int nthreads)
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
}
