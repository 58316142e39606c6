/* transform_file.c — transform's pass over one chunk of one raw CSV (SPEC
 * §4): CSV records → rules → a fact part (Parquet row groups), a reject
 * part (rejects.csv rows), the chunk's dimensions, counts and date-order
 * evidence. A small file is one chunk; a big one is several, read at once
 * by several workers (transform_pool.c settles them). A pass stops early
 * when the file proves to be Windows-1252 or day-first (a new round reads
 * it again). Memory per worker is one fact batch and one row group; it
 * never publishes anything (transform_publish.c does). */
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
#define REJECT_FLUSH (1u << 20)

const char *const TF_REQUIRED[7] = {"Order Date", "Ship Date", "Product ID", "Category",
                                    "Sales",      "Quantity",  "Profit"};
/* Optional columns feeding fact_sales' lineage (SPEC §5). */
enum { OPT_REGION = 0, OPT_ORDER_ID, NOPTIONAL };
static const char *const OPTIONAL[NOPTIONAL] = {"Region", "Order ID"};

static sp_error no_memory = {SP_ERR_NOMEM, false, 0, "out of memory keeping an error"};

int tf_keep_error(sp_error **slot, const sp_error *e)
{
    tf_free_error(*slot);
    *slot = malloc(sizeof **slot);
    if (*slot)
        **slot = *e;
    else
        *slot = &no_memory;
    return e->code ? e->code : SP_ERR_INTERNAL;
}

void tf_free_error(sp_error *e)
{
    if (e != &no_memory)
        free(e);
}

void tf_file_warn(tf_file *f, const char *fmt, ...)
{
    if (f->nwarn >= TF_MAX_WARNINGS)
        return;
    char text[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if ((f->warn[f->nwarn] = strdup(text)) != NULL) /* else lost to out-of-memory */
        f->nwarn++;
}

void tf_fact_part(const tf_shared *sh, int chunk, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s/fact-%d.parquet", sh->workdir, chunk);
}

void tf_reject_part(const tf_shared *sh, int chunk, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s/rejects-%d.csv", sh->workdir, chunk);
}

/* ---- the fact batch ---------------------------------------------------- */

/* Text columns are offsets into a buffer. A value that is the same on every
 * row of a file (source_file, run_id) is a `fixed` buffer holding it once
 * per row, written at flush only for the rows there are (a one-row file
 * costs one copy, not a batch of them) and kept while the value stays; the
 * Parquet writer's dictionary then stores it once per row group. */
typedef struct fixed_text {
    const char *text;        /* the value (not owned; compared by address) */
    size_t len;
    size_t rows;             /* rows of off/bytes already holding it */
    uint32_t off[FACT_BATCH + 1];
    uint8_t *bytes;
    size_t cap;
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

static void fixed_text_set(fixed_text *t, const char *text)
{
    if (t->text == text)
        return;
    t->text = text;
    t->len = strlen(text);
    t->rows = 0;
}

/* Make t hold its value on rows [0, n). */
static int fixed_text_fill(fixed_text *t, size_t n, sp_error *err)
{
    if (n <= t->rows)
        return SP_OK;
    size_t need = FACT_BATCH * t->len + 1;
    if (need > t->cap) {
        uint8_t *p = realloc(t->bytes, need);
        if (!p)
            return sp_fail(err, SP_ERR_NOMEM, "out of memory (fact_sales text column)");
        t->bytes = p;
        t->cap = need;
    }
    for (size_t k = t->rows; k <= n; k++) {
        if (k < n)
            memcpy(t->bytes + k * t->len, t->text, t->len);
        t->off[k] = (uint32_t)(k * t->len);
    }
    t->rows = n;
    return SP_OK;
}

static int batch_flush(fact_batch *b, pq_writer *w, sp_error *err)
{
    if (b->n == 0)
        return SP_OK;
    if (b->pid.broken || b->region.broken || b->oid.broken)
        return sp_fail(err, SP_ERR_LIMIT, "product ids, regions or order ids of one batch "
                       "exceed the buffer cap");
    size_t n = b->n;
    SP_TRY(fixed_text_fill(&b->src, n, err));
    SP_TRY(fixed_text_fill(&b->run_id, n, err));
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
 * optional columns (-1 when the file has none); region: the file's own. */
static int batch_add(fact_batch *b, pq_writer *w, const char *region, const rules_row *row,
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
        sp_buf_append(&b->region, region, strlen(region));
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

/* ---- rejects ------------------------------------------------------------ */

typedef struct rej_out {
    int fd;
    char path[PATH_MAX];
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

static int rej_add(rej_out *r, const tf_file *f, uint64_t line, rules_reason why,
                   const csv_record *rec, sp_error *err)
{
    csv_write_field(&r->buf, f->name, strlen(f->name));
    sp_buf_printf(&r->buf, ",%llu,%s,", (unsigned long long)line, rules_reason_name(why));
    csv_write_field(&r->buf, rec->text, rec->text_len);
    sp_buf_putc(&r->buf, '\n');
    return r->buf.len >= REJECT_FLUSH || r->buf.broken ? rej_flush(r, err) : SP_OK;
}

/* ---- date-order evidence and the header ---------------------------------- */

/* Every byte read: the progress line, and the checksum of a one-chunk file. */
static void on_bytes(void *ctx, const uint8_t *p, size_t n)
{
    if (ctx)
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
static int find_column(const tf_file *f, const csv_record *h, const char *want, int *idx,
                       sp_error *err)
{
    *idx = -1;
    for (size_t i = 0; i < h->nfields; i++) {
        if (!csv_name_matches(h->fields[i].ptr, h->fields[i].len, want))
            continue;
        if (*idx >= 0)
            return sp_fail(err, SP_ERR_DATA,
                           "%s: line %llu: column '%s' appears twice (fields %d and %zu)",
                           f->key, (unsigned long long)h->line, want, *idx + 1, i + 1);
        *idx = (int)i;
    }
    return SP_OK;
}

static int map_header(const tf_file *f, const csv_record *h, int idx[7], int opt[NOPTIONAL],
                      sp_error *err)
{
    for (int k = 0; k < 7; k++) {
        SP_TRY(find_column(f, h, TF_REQUIRED[k], &idx[k], err));
        if (idx[k] < 0)
            return sp_fail(err, SP_ERR_DATA, "%s: missing required column '%s' (header on line %llu)",
                           f->key, TF_REQUIRED[k], (unsigned long long)h->line);
    }
    for (int k = 0; k < NOPTIONAL; k++)
        SP_TRY(find_column(f, h, OPTIONAL[k], &opt[k], err));
    return SP_OK;
}

/* Record date-order evidence. The chunk stops (for the file to be settled)
 * when it holds both kinds, or day-first evidence while the order is not
 * decided (the file needs a day-first round). */
static void note_evidence(tf_chunk *c, rules_date_order ev, const rules_text *t, uint64_t line)
{
    if (ev != RULES_DMY && ev != RULES_MDY)
        return;
    int k = ev == RULES_DMY ? 0 : 1;
    if (c->ev_line[k] == 0) {
        c->ev_line[k] = line;
        snprintf(c->ev_text[k], sizeof c->ev_text[k], "%.*s", (int)(t->n < 32 ? t->n : 32), t->p);
    }
    if (c->ev_line[0] && c->ev_line[1])
        c->restart = TF_RESTART_CONFLICT;
    else if (!c->f->set.decided && ev != c->f->set.order)
        c->restart = TF_RESTART_DATE;
}

/* ---- one pass over one chunk ------------------------------------------------ */

struct tf_worker {
    fact_batch b;
};

int tf_worker_new(tf_worker **out, sp_error *err)
{
    tf_worker *w = calloc(1, sizeof *w);
    if (!w)
        return sp_fail(err, SP_ERR_NOMEM, "out of memory (transform worker)");
    sp_buf_init(&w->b.pid, (size_t)1 << 30);
    sp_buf_init(&w->b.region, (size_t)1 << 30);
    sp_buf_init(&w->b.oid, (size_t)1 << 30);
    *out = w;
    return SP_OK;
}

void tf_worker_free(tf_worker *w)
{
    if (!w)
        return;
    sp_buf_free(&w->b.pid);
    sp_buf_free(&w->b.region);
    sp_buf_free(&w->b.oid);
    free(w->b.src.bytes);
    free(w->b.run_id.bytes);
    free(w);
}

/* The state of one pass: its reader, its outputs and what it has seen. */
typedef struct tf_pass {
    tf_chunk *c;
    fact_batch *b;
    sp_sha256 sha;
    bool sha_open;
    csv_reader *r;
    pq_writer *w;
    rej_out rej;
    rules_ctx rctx;
    int idx[7];              /* field of each required column */
    int opt[NOPTIONAL];      /* field of each optional column, -1 when absent */
    size_t nfields;          /* the header's field count */
    char region[512];        /* fact_sales.region of rows without a Region (region_of) */
} tf_pass;

/* A chunk past the first reads the header on its own (one record). */
static int read_header(tf_pass *ps, sp_error *err)
{
    tf_file *f = ps->c->f;
    csv_options co = {.encoding = f->set.enc};
    csv_reader *h;
    SP_TRY(csv_open(&h, f->path, f->key, &co, err));
    csv_record rec;
    int rc = csv_next(h, &rec, err);
    if (rc == SP_OK) {
        rc = map_header(f, &rec, ps->idx, ps->opt, err);
        ps->nfields = rec.nfields;
    } else if (rc == CSV_END || rc == CSV_RESTART) {
        rc = SP_OK; /* chunk 0 says so; this chunk holds no records then */
    }
    csv_close(h);
    return rc;
}

/* Open the reader, the reject part and the fact part; reset the chunk's
 * results from any earlier pass. */
static int pass_open(tf_pass *ps, sp_error *err)
{
    tf_chunk *c = ps->c;
    tf_file *f = c->f;
    if (!c->dims)
        SP_TRY(star_dims_new(&c->dims, err));
    star_dims_clear(c->dims);
    batch_reset(ps->b);
    fixed_text_set(&ps->b->src, f->name);
    fixed_text_set(&ps->b->run_id, f->sh->run_id);
    region_of(f->name, ps->region);
    if (c->start > 0)
        SP_TRY(read_header(ps, err));
    csv_options co = {.encoding = f->set.enc, .on_bytes = on_bytes};
    if (f->nchunks == 1) { /* a chunked file's checksum is a job of its own */
        SP_TRY(sp_sha256_init(&ps->sha, err));
        ps->sha_open = true;
        co.on_bytes_ctx = &ps->sha;
    }
    SP_TRY(csv_open_range(&ps->r, f->path, f->key, &co, c->start, c->line, c->stop_line, err));
    tf_reject_part(f->sh, c->index, ps->rej.path, sizeof ps->rej.path);
    ps->rej.fd = open(ps->rej.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (ps->rej.fd < 0)
        return sp_fail(err, SP_ERR_IO, "%s: %s", ps->rej.path, strerror(errno));
    pq_writer_options po;
    pq_writer_options_default(&po);
    po.row_group_rows = TF_ROW_GROUP_ROWS;
    po.scratch = true;
    const pl_table *ft = &PL_TABLES[PL_TABLE_FACT_SALES];
    po.no_dictionary = ft->no_dictionary;
    char part[PATH_MAX];
    tf_fact_part(f->sh, c->index, part, sizeof part);
    SP_TRY(pq_writer_open(&ps->w, part, ft->cols, ft->ncols, &po, err));
    ps->rctx = (rules_ctx){.order = f->set.order, .threshold = f->sh->threshold};
    return SP_OK;
}

/* Next record: SP_OK, CSV_END, or CSV_RESTART turned into c->restart
 * (returned as CSV_END so the caller simply stops). */
static int pass_next(tf_pass *ps, csv_record *rec, sp_error *err)
{
    int rc = csv_next(ps->r, rec, err);
    if (rc == CSV_RESTART) {
        ps->c->restart = TF_RESTART_ENCODING;
        return CSV_END;
    }
    return rc;
}

/* One data record: a reject, or a kept row into the batch and the dims. */
static int pass_record(tf_pass *ps, const csv_record *rec, sp_error *err)
{
    tf_chunk *c = ps->c;
    const tf_file *f = c->f;
    if (rec->unterminated || rec->nfields != ps->nfields) {
        star_counts_rejected(&c->counts, RULES_MALFORMED);
        return rej_add(&ps->rej, f, rec->line, RULES_MALFORMED, rec, err);
    }
    const csv_field *fl = rec->fields;
    const int *idx = ps->idx;
    rules_input in = {
        {fl[idx[0]].ptr, fl[idx[0]].len}, {fl[idx[1]].ptr, fl[idx[1]].len},
        {fl[idx[2]].ptr, fl[idx[2]].len}, {fl[idx[3]].ptr, fl[idx[3]].len},
        {fl[idx[4]].ptr, fl[idx[4]].len}, {fl[idx[5]].ptr, fl[idx[5]].len},
        {fl[idx[6]].ptr, fl[idx[6]].len},
    };
    rules_row row;
    rules_date_order ev[2];
    rules_reason why = rules_check(&ps->rctx, &in, &row, ev);
    if (f->sh->order == RULES_ORDER_AUTO) {
        if (!c->ambiguous_seen)
            c->ambiguous_seen = ambiguous_form(&in.order_date) || ambiguous_form(&in.ship_date);
        note_evidence(c, ev[0], &in.order_date, rec->line);
        if (!c->restart)
            note_evidence(c, ev[1], &in.ship_date, rec->line);
        if (c->restart)
            return SP_OK;
    }
    if (why != RULES_KEPT) {
        star_counts_rejected(&c->counts, why);
        return rej_add(&ps->rej, f, rec->line, why, rec, err);
    }
    int rc = star_dims_add(c->dims, row.order_date, in.product_id.p, in.product_id.n,
                           in.category.p, in.category.n, err);
    if (rc != SP_OK) {
        sp_error_prefix(err, "%s: line %llu", f->key, (unsigned long long)rec->line);
        return rc;
    }
    star_counts_kept(&c->counts, &row);
    return batch_add(ps->b, ps->w, ps->region, &row, &in.product_id, rec, ps->opt, err);
}

/* The header (chunk 0), then every record until the stop or a restart. */
static int pass_read(tf_pass *ps, sp_error *err)
{
    tf_chunk *c = ps->c;
    csv_record rec;
    int rc;
    if (c->start == 0) {
        rc = pass_next(ps, &rec, err);
        if (rc == CSV_END) {
            c->empty = !c->restart;
            return SP_OK;
        }
        if (rc != SP_OK)
            return rc;
        SP_TRY(map_header(c->f, &rec, ps->idx, ps->opt, err));
        ps->nfields = rec.nfields;
    }
    while ((rc = pass_next(ps, &rec, err)) == SP_OK) {
        SP_TRY(pass_record(ps, &rec, err));
        if (c->restart)
            return SP_OK;
    }
    return rc == CSV_END ? SP_OK : rc;
}

/* Flush and close both parts; record where the reader stopped. */
static int pass_finish(tf_pass *ps, sp_error *err)
{
    tf_chunk *c = ps->c;
    SP_TRY(batch_flush(ps->b, ps->w, err));
    SP_TRY(rej_flush(&ps->rej, err));
    int rc = pq_writer_close(ps->w, err);
    ps->w = NULL;
    SP_TRY(rc);
    rc = close(ps->rej.fd);
    ps->rej.fd = -1;
    if (rc != 0)
        return sp_fail(err, SP_ERR_IO, "%s: %s", ps->rej.path, strerror(errno));
    c->enc_used = csv_encoding_used(ps->r);
    c->end_line = csv_line(ps->r);
    c->complete = true;
    return SP_OK;
}

/* Release what the pass holds; the checksum is kept only for a pass that
 * read the whole file. */
static void pass_close(tf_pass *ps)
{
    csv_close(ps->r);
    pq_writer_abort(ps->w);
    if (ps->rej.fd >= 0)
        close(ps->rej.fd);
    sp_buf_free(&ps->rej.buf);
    if (!ps->sha_open)
        return;
    if (ps->c->complete)
        sp_sha256_final(&ps->sha, ps->c->sha256);
    else
        sp_sha256_free(&ps->sha);
}

void tf_run_chunk(tf_worker *w, tf_chunk *c)
{
    c->complete = false;
    c->restart = TF_RESTART_NONE;
    c->empty = false;
    c->ambiguous_seen = false;
    memset(&c->counts, 0, sizeof c->counts);
    memset(c->ev_line, 0, sizeof c->ev_line);
    sp_error err;
    sp_error_clear(&err);
    tf_pass ps = {.c = c, .b = &w->b, .rej = {.fd = -1}};
    sp_buf_init(&ps.rej.buf, 0);
    int rc = pass_open(&ps, &err);
    if (rc == SP_OK)
        rc = pass_read(&ps, &err);
    if (rc == SP_OK && !c->restart)
        rc = pass_finish(&ps, &err);
    pass_close(&ps);
    c->rc = rc == SP_OK ? SP_OK : tf_keep_error(&c->err, &err);
}
