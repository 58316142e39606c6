/* gather.c — one run's picture for the report, metrics and lineage: the
 * run, its attempts and the last RP_TRENDS runs from the ledger; the inputs,
 * counts and gates from the run's _manifest.json; up to RP_SAMPLES raw
 * records per reject reason from rejects.csv (streamed, stopped early);
 * sales by month, category and region from fact_sales.parquet (one row
 * group at a time; dim_product's ids are the only state that grows). A part
 * that cannot be read becomes a note, not an error. Writes nothing. */
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../orch/orch.h"
#include "../parquet/parquet.h"
#include "../star/star.h"
#include "../util/date.h"
#include "../util/hash.h"
#include "../util/log.h"
#include "report.h"

#define MANIFEST_CAP ((size_t)64 << 20)

static void copy(char *dst, size_t dstsz, const char *src)
{
    snprintf(dst, dstsz, "%s", src ? src : "");
}

/* A note (why part of the report is missing), cut to fit. */
static void notef(char *dst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void notef(char *dst, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, RP_TEXT, fmt, ap);
    va_end(ap);
}

/* "2026-11-26T17:10:00Z" (optionally with .mmm) → Unix seconds, or -1. */
static double iso_seconds(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                     &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (double)timegm(&tm);
}

/* ---- the ledger -------------------------------------------------------- */

static void fill_run(const ledger_run *r, const ledger_task *tasks, int n, void *arg)
{
    rp_data *d = arg;
    copy(d->ds, sizeof d->ds, r->ds);
    copy(d->state, sizeof d->state, r->state);
    copy(d->started, sizeof d->started, r->started);
    copy(d->ended, sizeof d->ended, r->ended);
    copy(d->failed_task, sizeof d->failed_task, r->failed_task);
    copy(d->error, sizeof d->error, r->error);
    for (int i = 0; i < n && i < PL_NTASKS; i++) {
        copy(d->tasks[i].name, sizeof d->tasks[i].name, tasks[i].task);
        copy(d->tasks[i].state, sizeof d->tasks[i].state, tasks[i].state);
        d->tasks[i].attempts = tasks[i].attempts;
    }
    d->ntasks = n < PL_NTASKS ? n : PL_NTASKS;
}

static void fill_attempt(const ledger_attempt *a, void *arg)
{
    rp_data *d = arg;
    d->attempts_total++;
    if (d->nattempts >= RP_MAX_ATTEMPTS)
        return;
    rp_attempt *x = &d->attempts[d->nattempts++];
    copy(x->task, sizeof x->task, a->task);
    x->attempt = a->attempt;
    copy(x->started, sizeof x->started, a->started);
    copy(x->ended, sizeof x->ended, a->ended);
    copy(x->error, sizeof x->error, a->error);
    x->t0 = a->t_start >= 0 ? a->t_start : iso_seconds(a->started);
    x->t1 = a->t_end >= 0 ? a->t_end : iso_seconds(a->ended);
}

/* Sum of the counts in a {"reason": n, …} object. */
static long long sum_counts(const char *json)
{
    rp_json doc;
    sp_error e;
    long long sum = 0, v;
    if (!json || rp_json_parse(&doc, json, strlen(json), &e) != SP_OK)
        return 0;
    for (int c = doc.nodes[0].type == RP_J_OBJ ? doc.nodes[0].first : -1; c >= 0;
         c = doc.nodes[c].next)
        if (rp_json_int(&doc, c, &v))
            sum += v;
    rp_json_free(&doc);
    return sum;
}

static void fill_trend(const ledger_summary *s, void *arg)
{
    rp_data *d = arg;
    if (d->ntrends >= RP_TRENDS)
        return;
    rp_trend *t = &d->trends[d->ntrends++];
    copy(t->run_id, sizeof t->run_id, s->run_id);
    copy(t->ds, sizeof t->ds, s->ds);
    copy(t->state, sizeof t->state, s->state);
    t->duration = s->t_start >= 0 && s->t_end >= s->t_start ? s->t_end - s->t_start : -1;
    t->has_rows = s->has_rows;
    t->rows_in = s->rows;
    t->rejected = sum_counts(s->rejected);
}

static int gather_ledger(rp_data *d, const char *state_dir, const char *run_id, sp_error *err)
{
    ledger *l;
    SP_TRY(ledger_open(&l, state_dir, err));
    bool found = false;
    int rc = ledger_get_run(l, run_id, &found, fill_run, d, err);
    if (rc == SP_OK && !found)
        rc = sp_fail(err, SP_ERR_DATA, "no run %s in the run ledger (STATE_DIR=%s)", run_id,
                     state_dir);
    if (rc == SP_OK)
        rc = ledger_run_attempts(l, run_id, fill_attempt, d, err);
    if (rc == SP_OK)
        rc = ledger_recent_runs(l, RP_TRENDS, fill_trend, d, err);
    ledger_close(l);
    if (rc != SP_OK)
        return rc;
    /* trends oldest first, as charts read */
    for (int i = 0, j = d->ntrends - 1; i < j; i++, j--) {
        rp_trend t = d->trends[i];
        d->trends[i] = d->trends[j];
        d->trends[j] = t;
    }
    d->t0 = d->t1 = -1;
    for (int i = 0; i < d->nattempts; i++) {
        const rp_attempt *a = &d->attempts[i];
        if (a->t0 >= 0 && (d->t0 < 0 || a->t0 < d->t0))
            d->t0 = a->t0;
        if (a->t1 > d->t1)
            d->t1 = a->t1;
    }
    if (d->t0 < 0)
        d->t0 = iso_seconds(d->started);
    if (d->t1 < 0)
        d->t1 = iso_seconds(d->ended);
    return SP_OK;
}

/* ---- the manifest -------------------------------------------------------- */

typedef struct collector {
    sp_buf buf;
    sp_error *err;
} collector;

static int collect(void *arg, const void *p, size_t n)
{
    collector *c = arg;
    sp_buf_append(&c->buf, p, n);
    if (!c->buf.broken)
        return SP_OK;
    return sp_fail(c->err, SP_ERR_LIMIT, "larger than %zu bytes", c->buf.limit);
}

static void reasons_of(const rp_json *doc, int obj, long long *out)
{
    for (int r = RULES_MALFORMED; r < RULES_NREASONS; r++) {
        long long v = 0;
        if (rp_json_int(doc, rp_json_get(doc, obj, rules_reason_name((rules_reason)r)), &v))
            out[r] = v;
    }
}

static void fill_inputs(rp_data *d, const rp_json *doc, int arr)
{
    for (int c = arr >= 0 && doc->nodes[arr].type == RP_J_ARR ? doc->nodes[arr].first : -1; c >= 0;
         c = doc->nodes[c].next) {
        d->inputs_total++;
        long long v = 0;
        if (rp_json_int(doc, rp_json_get(doc, c, "bytes"), &v))
            d->input_bytes += v;
        if (d->ninputs >= RP_MAX_INPUTS)
            continue;
        rp_input *in = &d->inputs[d->ninputs++];
        rp_json_text(doc, rp_json_get(doc, c, "file"), in->file, sizeof in->file);
        rp_json_text(doc, rp_json_get(doc, c, "encoding"), in->encoding, sizeof in->encoding);
        rp_json_text(doc, rp_json_get(doc, c, "date_order"), in->date_order,
                     sizeof in->date_order);
        in->bytes = v;
        rp_json_int(doc, rp_json_get(doc, c, "rows"), &in->rows);
        rp_json_int(doc, rp_json_get(doc, c, "kept"), &in->kept);
        reasons_of(doc, rp_json_get(doc, c, "rejected"), in->rejected);
    }
}

static void fill_gates(rp_data *d, const rp_json *doc, int arr)
{
    d->has_gates = arr >= 0 && doc->nodes[arr].type == RP_J_ARR;
    for (int c = d->has_gates ? doc->nodes[arr].first : -1; c >= 0 && d->ngates < RP_MAX_GATES;
         c = doc->nodes[c].next) {
        rp_gate *g = &d->gates[d->ngates++];
        rp_json_text(doc, rp_json_get(doc, c, "name"), g->name, sizeof g->name);
        rp_json_text(doc, rp_json_get(doc, c, "figure"), g->figure, sizeof g->figure);
        rp_json_text(doc, rp_json_get(doc, c, "threshold"), g->threshold, sizeof g->threshold);
        int p = rp_json_get(doc, c, "passed");
        g->passed = p < 0 ? -1 : doc->nodes[p].type == RP_J_TRUE ? 1
                  : doc->nodes[p].type == RP_J_FALSE ? 0 : -1;
    }
}

/* The sizes of the run's Parquet files and rejects.csv (for lineage). */
static void object_sizes(rp_data *d, store *s)
{
    static const char *const F[4] = {"dim_date.parquet", "dim_product.parquet",
                                      "fact_sales.parquet", "rejects.csv"};
    for (int i = 0; i < 4; i++) {
        char key[2048];
        snprintf(key, sizeof key, "%s%s", d->prefix, F[i]);
        store_stat st;
        sp_error e;
        long long size = -1;
        if (store_stat_key(s, key, false, &st, &e) == SP_OK && st.exists)
            size = st.size;
        *(i < 3 ? &d->table_bytes[i] : &d->rejects_bytes) = size;
    }
}

/* Read the manifest; whatever is missing or foreign becomes manifest_note. */
static void gather_manifest(rp_data *d, store *s)
{
    char key[2048];
    snprintf(key, sizeof key, "%s_manifest.json", d->prefix);
    sp_error e;
    sp_error_clear(&e);
    store_stat st;
    if (store_stat_key(s, key, false, &st, &e) != SP_OK || !st.exists) {
        notef(d->manifest_note, "%s",
                 e.msg[0] ? e.msg : "the processed store has no manifest for this ds "
                                    "(transform did not finish)");
        return;
    }
    collector c = {.err = &e};
    sp_buf_init(&c.buf, MANIFEST_CAP);
    rp_json doc = {0};
    if (store_get(s, key, collect, &c, &e) != SP_OK ||
        rp_json_parse(&doc, (const char *)c.buf.data, c.buf.len, &e) != SP_OK) {
        notef(d->manifest_note, "%s: %s", key, e.msg);
        sp_buf_free(&c.buf);
        return;
    }
    char owner[64];
    rp_json_text(&doc, rp_json_get(&doc, 0, "run_id"), owner, sizeof owner);
    if (strcmp(owner, d->run_id) != 0) {
        snprintf(d->manifest_note, sizeof d->manifest_note,
                 "the manifest of ds %s belongs to run %s, not to this one", d->ds, owner);
    } else {
        d->has_manifest = true;
        rp_json_int(&doc, rp_json_get(&doc, 0, "rows_in"), &d->rows_in);
        rp_json_int(&doc, rp_json_get(&doc, 0, "rows_kept"), &d->rows_kept);
        reasons_of(&doc, rp_json_get(&doc, 0, "rejected"), d->rejected);
        int tables = rp_json_get(&doc, 0, "tables");
        static const char *const T[3] = {"dim_date", "dim_product", "fact_sales"};
        for (int t = 0; t < 3; t++)
            rp_json_int(&doc, rp_json_get(&doc, tables, T[t]), &d->tables[t]);
        rp_json_text(&doc, rp_json_get(&doc, rp_json_get(&doc, 0, "sums"), "total_sales"),
                     d->total_sales, sizeof d->total_sales);
        int set = rp_json_get(&doc, 0, "settings");
        char a[64], b[64], t[64];
        snprintf(d->settings, sizeof d->settings, "sales threshold %s, date order %s, encoding %s",
                 rp_json_text(&doc, rp_json_get(&doc, set, "sales_threshold"), a, sizeof a),
                 rp_json_text(&doc, rp_json_get(&doc, set, "date_order"), b, sizeof b),
                 rp_json_text(&doc, rp_json_get(&doc, set, "encoding"), t, sizeof t));
        fill_inputs(d, &doc, rp_json_get(&doc, 0, "inputs"));
        object_sizes(d, s);
        fill_gates(d, &doc, rp_json_get(&doc, 0, "gates"));
    }
    rp_json_free(&doc);
    sp_buf_free(&c.buf);
}

/* ---- rejects.csv: the first RP_SAMPLES records of each reason ------------ */

enum { F_START, F_PLAIN, F_QUOTED, F_QUOTE };

typedef struct rej_reader {
    rp_data *d;
    int state, field;
    bool header_done;
    char f[3][256];          /* source_file, line, reason */
    size_t flen[3];
    char rec[RP_SAMPLE_BYTES];
    size_t rlen;
    bool cut;
    long long want;          /* samples still to find */
} rej_reader;

static void rej_byte(rej_reader *r, char c)
{
    if (r->field < 3) {
        if (r->flen[r->field] + 1 < sizeof r->f[0])
            r->f[r->field][r->flen[r->field]++] = c;
    } else if (r->field == 3) {
        if (r->rlen + 1 < sizeof r->rec)
            r->rec[r->rlen++] = c;
        else
            r->cut = true;
    }
}

static void rej_record_end(rej_reader *r)
{
    for (int i = 0; i < 3; i++)
        r->f[i][r->flen[i]] = '\0';
    r->rec[r->rlen] = '\0';
    if (r->header_done) {
        for (int k = RULES_MALFORMED; k < RULES_NREASONS; k++) {
            if (strcmp(r->f[2], rules_reason_name((rules_reason)k)) != 0)
                continue;
            if (r->d->nsamples[k] < RP_SAMPLES) {
                rp_sample *s = &r->d->samples[k][r->d->nsamples[k]++];
                copy(s->source_file, sizeof s->source_file, r->f[0]);
                s->line = strtoll(r->f[1], NULL, 10);
                memcpy(s->record, r->rec, r->rlen + 1);
                s->cut = r->cut;
                r->want--;
            }
            break;
        }
    }
    r->header_done = true;
    r->field = 0;
    r->flen[0] = r->flen[1] = r->flen[2] = r->rlen = 0;
    r->cut = false;
    r->state = F_START;
}

/* RFC 4180, streamed: quotes may span chunks and lines. */
static int rej_chunk(void *arg, const void *p, size_t n)
{
    rej_reader *r = arg;
    const char *s = p;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (r->state == F_QUOTED) {
            if (c == '"')
                r->state = F_QUOTE;
            else
                rej_byte(r, c);
            continue;
        }
        if (r->state == F_QUOTE && c == '"') {
            rej_byte(r, '"');
            r->state = F_QUOTED;
            continue;
        }
        if (c == ',') {
            r->field++;
            r->state = F_START;
        } else if (c == '\n') {
            rej_record_end(r);
            if (r->want <= 0)
                return -1; /* every sample found: stop reading */
        } else if (c == '\r') {
            continue;
        } else if (c == '"' && r->state == F_START) {
            r->state = F_QUOTED;
        } else {
            r->state = F_PLAIN;
            rej_byte(r, c);
        }
    }
    return 0;
}

static void gather_rejects(rp_data *d, store *s)
{
    rej_reader *r = calloc(1, sizeof *r);
    if (!r) {
        notef(d->rejects_note, "out of memory");
        return;
    }
    r->d = d;
    for (int k = RULES_MALFORMED; k < RULES_NREASONS; k++)
        r->want += d->rejected[k] < RP_SAMPLES ? d->rejected[k] : RP_SAMPLES;
    if (r->want > 0) {
        char key[2048];
        snprintf(key, sizeof key, "%srejects.csv", d->prefix);
        sp_error e;
        sp_error_clear(&e);
        int rc = store_get(s, key, rej_chunk, r, &e);
        if (rc != SP_OK && rc != -1)
            notef(d->rejects_note, "%s", e.msg);
    }
    free(r);
}

/* ---- fact_sales: sales by month, category, region ------------------------ */

/* Group index of key in g, adding it (or using "(other)" past the cap). */
static int group_of(rp_groups *g, const char *key, size_t n)
{
    if (n >= sizeof g->g[0].key)
        n = sizeof g->g[0].key - 1;
    for (int i = 0; i < g->n; i++)
        if (strlen(g->g[i].key) == n && memcmp(g->g[i].key, key, n) == 0)
            return i;
    if (g->n < RP_MAX_GROUPS) {
        memcpy(g->g[g->n].key, key, n);
        g->g[g->n].key[n] = '\0';
        return g->n++;
    }
    g->other_used = true;
    snprintf(g->g[RP_MAX_GROUPS].key, sizeof g->g[0].key, "(other)");
    return RP_MAX_GROUPS;
}

/* dim_product: product id → category group, in an open-addressing table. */
typedef struct product_map {
    sp_buf ids;              /* the ids, back to back */
    uint32_t *off;           /* product i: ids[off[i] .. off[i+1]) */
    uint8_t *cat;            /* its category group */
    uint32_t *slot;          /* 0 empty, else product index + 1 */
    size_t n, nslots;
} product_map;

static void map_free(product_map *m)
{
    sp_buf_free(&m->ids);
    free(m->off);
    free(m->cat);
    free(m->slot);
}

static int map_find(const product_map *m, const uint8_t *id, size_t n)
{
    if (!m->nslots)
        return -1;
    for (size_t h = sp_hash_bytes(id, n) & (m->nslots - 1);; h = (h + 1) & (m->nslots - 1)) {
        uint32_t s = m->slot[h];
        if (!s)
            return -1;
        size_t i = s - 1;
        if (m->off[i + 1] - m->off[i] == n && memcmp(m->ids.data + m->off[i], id, n) == 0)
            return (int)i;
    }
}

static size_t column_named(pq_reader *r, const char *name)
{
    for (size_t i = 0; i < pq_reader_num_columns(r); i++)
        if (strcmp(pq_reader_column(r, i)->name, name) == 0)
            return i;
    return SIZE_MAX;
}

static int load_products(product_map *m, rp_groups *cats, const char *path, sp_error *err)
{
    pq_reader *r;
    SP_TRY(pq_reader_open(&r, path, err));
    size_t cid = column_named(r, "product_id"), ccat = column_named(r, "category");
    int64_t rows = pq_reader_num_rows(r);
    int rc = SP_OK;
    if (cid == SIZE_MAX || ccat == SIZE_MAX || rows < 0 || (uint64_t)rows > STAR_MAX_PRODUCTS)
        rc = sp_fail(err, SP_ERR_DATA, "%s: not a dim_product table", path);
    size_t nslots = 16;
    while (rc == SP_OK && nslots < (size_t)rows * 2)
        nslots *= 2;
    sp_buf_init(&m->ids, STAR_MAX_KEY_BYTES);
    if (rc == SP_OK) {
        m->off = calloc((size_t)rows + 1, sizeof *m->off);
        m->cat = calloc((size_t)rows + 1, 1);
        m->slot = calloc(nslots, sizeof *m->slot);
        m->nslots = nslots;
        if (!m->off || !m->cat || !m->slot)
            rc = sp_fail(err, SP_ERR_NOMEM, "out of memory reading %s", path);
    }
    for (size_t g = 0; rc == SP_OK && g < pq_reader_num_row_groups(r); g++) {
        pq_values v[16];
        if (pq_reader_num_columns(r) > 16) {
            rc = sp_fail(err, SP_ERR_DATA, "%s: too many columns", path);
            break;
        }
        if ((rc = pq_reader_read_row_group(r, g, v, err)) != SP_OK)
            break;
        for (size_t i = 0; i < v[cid].n && m->n < (size_t)rows; i++) {
            const uint8_t *id = v[cid].bytes + v[cid].offsets[i];
            size_t idn = v[cid].offsets[i + 1] - v[cid].offsets[i];
            const uint8_t *cat = v[ccat].bytes + v[ccat].offsets[i];
            size_t catn = v[ccat].offsets[i + 1] - v[ccat].offsets[i];
            if (m->ids.len + idn > UINT32_MAX) {
                rc = sp_fail(err, SP_ERR_LIMIT, "%s: product ids too large", path);
                break;
            }
            sp_buf_append(&m->ids, id, idn);
            m->off[m->n + 1] = (uint32_t)m->ids.len;
            m->cat[m->n] = (uint8_t)group_of(cats, (const char *)cat, catn);
            size_t h = sp_hash_bytes(id, idn) & (nslots - 1);
            while (m->slot[h])
                h = (h + 1) & (nslots - 1);
            m->slot[h] = (uint32_t)++m->n;
        }
        if (rc == SP_OK && m->ids.broken)
            rc = sp_fail(err, SP_ERR_NOMEM, "out of memory reading %s", path);
    }
    pq_reader_close(r);
    return rc;
}

typedef struct month_sums {
    __int128 sales[400 * 12]; /* 1900-01 … 2299-12 */
    long long rows[400 * 12];
} month_sums;

static void add(rp_groups *g, int i, __int128 sales)
{
    g->g[i].sales += sales;
    g->g[i].rows++;
}

static int scan_facts(rp_data *d, const product_map *m, month_sums *ms, const char *path,
                      sp_error *err)
{
    pq_reader *r;
    SP_TRY(pq_reader_open(&r, path, err));
    size_t cdate = column_named(r, "order_date"), cpid = column_named(r, "product_id");
    size_t csales = column_named(r, "total_sales"), creg = column_named(r, "region");
    size_t ccat = column_named(r, "category");
    d->regions_from_source = creg == SIZE_MAX;
    if (creg == SIZE_MAX)
        creg = column_named(r, "source_file");
    int rc = SP_OK;
    if (cdate == SIZE_MAX || cpid == SIZE_MAX || csales == SIZE_MAX || creg == SIZE_MAX ||
        pq_reader_num_columns(r) > 32 || pq_reader_column(r, csales)->scale != 4 ||
        pq_reader_column(r, csales)->physical != PQ_INT64 ||
        pq_reader_column(r, cdate)->physical != PQ_INT32 ||
        pq_reader_column(r, creg)->physical != PQ_BYTE_ARRAY ||
        pq_reader_column(r, cpid)->physical != PQ_BYTE_ARRAY)
        rc = sp_fail(err, SP_ERR_DATA, "%s: not a fact_sales table of this version", path);
    for (size_t g = 0; rc == SP_OK && g < pq_reader_num_row_groups(r); g++) {
        pq_values v[32];
        if ((rc = pq_reader_read_row_group(r, g, v, err)) != SP_OK)
            break;
        const int32_t *date = v[cdate].values;
        const int64_t *sales = v[csales].values;
        int last_reg = -1;
        const uint8_t *last_key = NULL;
        size_t last_n = 0;
        for (size_t i = 0; i < v[cdate].n; i++) {
            __int128 s = sales[i];
            int64_t y;
            unsigned mo, day;
            sp_civil_from_days(date[i], &y, &mo, &day);
            int64_t slot = (y - 1900) * 12 + (int64_t)mo - 1;
            if (slot >= 0 && slot < 400 * 12) {
                ms->sales[slot] += s;
                ms->rows[slot]++;
            } else {
                add(&d->months, group_of(&d->months, "(other)", 7), s);
            }
            const uint8_t *key = v[creg].bytes + v[creg].offsets[i];
            size_t kn = v[creg].offsets[i + 1] - v[creg].offsets[i];
            if (last_reg < 0 || kn != last_n || memcmp(key, last_key, kn) != 0) {
                last_reg = group_of(&d->regions, (const char *)key, kn);
                last_key = key;
                last_n = kn;
            }
            add(&d->regions, last_reg, s);
            int cat;
            if (ccat != SIZE_MAX) {
                cat = group_of(&d->categories,
                               (const char *)v[ccat].bytes + v[ccat].offsets[i],
                               v[ccat].offsets[i + 1] - v[ccat].offsets[i]);
            } else {
                int p = map_find(m, v[cpid].bytes + v[cpid].offsets[i],
                                 v[cpid].offsets[i + 1] - v[cpid].offsets[i]);
                cat = p >= 0 ? m->cat[p] : group_of(&d->categories, "(unknown product)", 17);
            }
            add(&d->categories, cat, s);
        }
    }
    pq_reader_close(r);
    return rc;
}

/* The months in order; past RP_MAX_GROUPS the earliest sum in "(other)". */
static void months_out(rp_data *d, const month_sums *ms)
{
    int used = 0, first = -1;
    for (int i = 0; i < 400 * 12; i++)
        used += ms->rows[i] > 0;
    int skip = used > RP_MAX_GROUPS - 1 ? used - (RP_MAX_GROUPS - 1) : 0;
    __int128 other = 0;
    long long other_rows = 0;
    for (int i = 0; i < 400 * 12; i++) {
        if (!ms->rows[i])
            continue;
        if (skip > 0) {
            skip--;
            other += ms->sales[i];
            other_rows += ms->rows[i];
            continue;
        }
        char key[16];
        snprintf(key, sizeof key, "%04d-%02d", 1900 + i / 12, i % 12 + 1);
        int g = group_of(&d->months, key, strlen(key));
        d->months.g[g].sales += ms->sales[i];
        d->months.g[g].rows += ms->rows[i];
        if (first < 0)
            first = g;
    }
    if (other_rows) {
        int g = group_of(&d->months, "(earlier)", 9);
        d->months.g[g].sales += other;
        d->months.g[g].rows += other_rows;
    }
}

/* The local path of a processed object: the store's own file, or a copy in
 * *tmpdir (created on first use). */
static int local_copy(store *s, const char *key, char *tmpdir, const char *name, char *out,
                      size_t outsz, sp_error *err)
{
    if (store_local_path(s, key, out, outsz))
        return SP_OK;
    if (!tmpdir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(tmpdir, PATH_MAX, "%s/salespipe-report.XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(tmpdir)) {
            tmpdir[0] = '\0';
            return sp_fail(err, SP_ERR_IO, "temporary directory: %s", strerror(errno));
        }
    }
    snprintf(out, outsz, "%s/%s", tmpdir, name);
    return store_get_file(s, key, out, err);
}

static void gather_facts(rp_data *d, store *s)
{
    char tmpdir[PATH_MAX] = "", facts[PATH_MAX], dims[PATH_MAX], key[2048];
    product_map m;
    memset(&m, 0, sizeof m);
    month_sums *ms = calloc(1, sizeof *ms);
    sp_error e;
    sp_error_clear(&e);
    int rc = ms ? SP_OK : sp_fail(&e, SP_ERR_NOMEM, "out of memory");
    snprintf(key, sizeof key, "%sdim_product.parquet", d->prefix);
    if (rc == SP_OK)
        rc = local_copy(s, key, tmpdir, "dim_product.parquet", dims, sizeof dims, &e);
    if (rc == SP_OK)
        rc = load_products(&m, &d->categories, dims, &e);
    snprintf(key, sizeof key, "%sfact_sales.parquet", d->prefix);
    if (rc == SP_OK)
        rc = local_copy(s, key, tmpdir, "fact_sales.parquet", facts, sizeof facts, &e);
    if (rc == SP_OK)
        rc = scan_facts(d, &m, ms, facts, &e);
    if (rc == SP_OK) {
        months_out(d, ms);
        d->has_facts = true;
    } else {
        notef(d->facts_note, "%s", e.msg);
    }
    if (tmpdir[0]) {
        static const char *const COPIES[2] = {"fact_sales.parquet", "dim_product.parquet"};
        for (int i = 0; i < 2; i++) {
            char p[PATH_MAX + 32];
            snprintf(p, sizeof p, "%s/%s", tmpdir, COPIES[i]);
            unlink(p);
        }
        rmdir(tmpdir);
    }
    map_free(&m);
    free(ms);
}

/* ---- together ------------------------------------------------------------- */

int rp_gather(pl_ctx *ctx, const char *run_id, rp_data **out, sp_error *err)
{
    *out = NULL;
    rp_data *d = calloc(1, sizeof *d);
    if (!d || !(d->attempts = calloc(RP_MAX_ATTEMPTS, sizeof *d->attempts)) ||
        !(d->inputs = calloc(RP_MAX_INPUTS, sizeof *d->inputs))) {
        rp_data_free(d);
        return sp_fail(err, SP_ERR_NOMEM, "report: out of memory");
    }
    copy(d->run_id, sizeof d->run_id, run_id);
    copy(d->prefix, sizeof d->prefix, ctx->prefix);
    copy(d->warehouse, sizeof d->warehouse, ctx->warehouse);
    int rc = gather_ledger(d, sp_config_get(ctx->cfg, "STATE_DIR"), run_id, err);
    if (rc != SP_OK) {
        rp_data_free(d);
        return rc;
    }
    store *s = NULL;
    sp_error e;
    sp_error_clear(&e);
    if (pl_raw_store(ctx, &s, &e) == SP_OK)
        copy(d->raw_url, sizeof d->raw_url, store_url(s));
    if (pl_processed_store(ctx, &s, &e) != SP_OK) {
        notef(d->manifest_note, "%s", e.msg);
    } else {
        copy(d->processed_url, sizeof d->processed_url, store_url(s));
        gather_manifest(d, s);
    }
    if (d->has_manifest) {
        gather_rejects(d, s);
        gather_facts(d, s);
    } else {
        notef(d->facts_note, "no facts: %s", d->manifest_note);
    }
    *out = d;
    return SP_OK;
}

void rp_data_free(rp_data *d)
{
    if (!d)
        return;
    free(d->attempts);
    free(d->inputs);
    free(d);
}
