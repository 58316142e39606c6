/* gates.c — the quality gates of SPEC §8 (write, audit, publish): MIN_ROWS,
 * MAX_REJECT_RATE (overall and per file) and MAX_ROW_DROP, evaluated by
 * transform before it publishes anything, and QUALITY_SQL's checks, run by
 * load inside its transaction before COMMIT. Results go to ctx->gates (the
 * manifest, the ledger, the alert). A failed gate is SP_ERR_DATA (exit 1,
 * never retried) unless GATE_ACTION=warn or --skip-gates. Never publishes,
 * commits or rolls back anything itself except a load a check refused. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/json.h"
#include "../util/log.h"
#include "../warehouse/warehouse.h"
#include "pipeline.h"

enum {
    QUALITY_FILE_MAX = 16 << 20, /* a QUALITY_SQL file: at most 16 MiB */
    SHOW_ROWS = 5,               /* offending rows shown per check */
    SHOW_FILES = 10,             /* failing files recorded one by one */
};

/* ---- results --------------------------------------------------------------- */

const char *pl_gates_action(const pl_ctx *ctx)
{
    if (ctx->skip_gates)
        return "skipped";
    const char *a = sp_config_get(ctx->cfg, "GATE_ACTION");
    return a && strcmp(a, "warn") == 0 ? "warn" : "fail";
}

static bool enforced(const pl_ctx *ctx)
{
    return strcmp(pl_gates_action(ctx), "fail") == 0;
}

/* Record a result; past PL_GATES_MAX it is only counted (NULL returned). */
static pl_gate *gate_add(pl_gates *g, const char *name, const char *subject, double figure,
                         double threshold, bool passed)
{
    if (!passed)
        g->failed++;
    if (g->n == PL_GATES_MAX) {
        g->dropped++;
        return NULL;
    }
    pl_gate *r = &g->g[g->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->subject, sizeof r->subject, "%s", subject ? subject : "");
    r->figure = figure;
    r->threshold = threshold;
    r->passed = passed;
    return r;
}

__attribute__((format(printf, 2, 3))) static void gate_note(pl_gate *r, const char *fmt, ...)
{
    if (!r)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->note, sizeof r->note, fmt, ap);
    va_end(ap);
}

static bool is_share(const pl_gate *r)
{
    return strcmp(r->name, "MAX_REJECT_RATE") == 0 || strcmp(r->name, "MAX_ROW_DROP") == 0;
}

/* "MAX_REJECT_RATE (West_orders.csv): 40.00% rejected, threshold 25.00%
 * (400 of 1000 rows; top reasons: threshold 300, sales 100)". */
static int describe(const pl_gate *r, char *out, size_t cap)
{
    char fig[48], thr[48];
    if (is_share(r)) {
        snprintf(fig, sizeof fig, "%.2f%%", r->figure * 100);
        snprintf(thr, sizeof thr, "%.2f%%", r->threshold * 100);
    } else {
        snprintf(fig, sizeof fig, "%.0f", r->figure);
        snprintf(thr, sizeof thr, "%.0f", r->threshold);
    }
    const char *what = strcmp(r->name, "MIN_ROWS") == 0          ? "rows kept"
                       : strcmp(r->name, "MAX_REJECT_RATE") == 0 ? "of rows rejected"
                       : strcmp(r->name, "MAX_ROW_DROP") == 0    ? "fewer rows kept"
                                                                 : "rows returned";
    const char *limit = strcmp(r->name, "MIN_ROWS") == 0 ? "minimum" : "maximum";
    return snprintf(out, cap, "%s%s%s%s: %s %s, %s %s%s%s%s", r->name, r->subject[0] ? " (" : "",
                    r->subject, r->subject[0] ? ")" : "", fig, what, limit, thr,
                    r->note[0] ? " (" : "", r->note, r->note[0] ? ")" : "");
}

/* JSON numbers: integers as such, shares with 6 digits. */
static void json_number(sp_buf *b, double v)
{
    if (v == (double)(long long)v && v < 9e15 && v > -9e15)
        sp_buf_printf(b, "%lld", (long long)v);
    else
        sp_buf_printf(b, "%.6f", v);
}

void pl_gates_json(const pl_gates *g, sp_buf *b)
{
    sp_buf_putc(b, '[');
    for (int i = 0; i < g->n; i++) {
        const pl_gate *r = &g->g[i];
        sp_buf_puts(b, i ? ", {\"name\": " : "{\"name\": ");
        sp_json_cstr(b, r->name);
        if (r->subject[0]) {
            sp_buf_puts(b, strcmp(r->name, "QUALITY_SQL") == 0 ? ", \"check\": " : ", \"file\": ");
            sp_json_cstr(b, r->subject);
        }
        sp_buf_puts(b, ", \"figure\": ");
        json_number(b, r->figure);
        sp_buf_puts(b, ", \"threshold\": ");
        json_number(b, r->threshold);
        sp_buf_printf(b, ", \"passed\": %s", r->passed ? "true" : "false");
        if (r->note[0]) {
            sp_buf_puts(b, ", \"note\": ");
            sp_json_cstr(b, r->note);
        }
        sp_buf_putc(b, '}');
    }
    sp_buf_putc(b, ']');
}

/* Log the results; fail with every failed gate named when enforced. */
static int conclude(pl_ctx *ctx, const char *task, int first, sp_error *err)
{
    pl_gates *g = &ctx->gates;
    char msg[SP_ERROR_MSG_MAX] = "";
    size_t len = 0;
    int failed = 0;
    for (int i = first; i < g->n; i++) {
        char line[900];
        describe(&g->g[i], line, sizeof line);
        const sp_log_fields gate_event = {.event = "gate"};
        if (g->g[i].passed) {
            sp_log_event(SP_LOG_INFO, &gate_event, "%s: gate passed: %s", task, line);
            continue;
        }
        sp_log_event(SP_LOG_WARN, &gate_event, "%s: gate failed: %s", task, line);
        failed++;
        if (len < sizeof msg)
            len += (size_t)snprintf(msg + len, sizeof msg - len, "%s%s", len ? "; " : "", line);
    }
    if (g->dropped)
        sp_log(SP_LOG_WARN, "%s: %d more gate result%s not recorded (at most %d)", task,
               g->dropped, g->dropped == 1 ? "" : "s", PL_GATES_MAX);
    if (failed == 0)
        return SP_OK;
    if (!enforced(ctx)) {
        sp_log(SP_LOG_WARN, "%s: quality gate%s failed, going on (%s): %s", task,
               failed == 1 ? "" : "s",
               ctx->skip_gates ? "--skip-gates" : "GATE_ACTION=warn", msg);
        return SP_OK;
    }
    return sp_fail(err, SP_ERR_DATA, "quality gate%s failed: %s", failed == 1 ? "" : "s", msg);
}

/* ---- the count gates (transform) ----------------------------------------------- */

static double config_share(const pl_ctx *ctx, const char *name)
{
    const char *v = sp_config_get(ctx->cfg, name);
    return v && *v ? strtod(v, NULL) : 0;
}

/* "threshold 300, sales 100": the three most frequent reject reasons. */
static void top_reasons(const star_counts *c, char *out, size_t cap)
{
    bool used[RULES_NREASONS] = {false};
    size_t len = 0;
    out[0] = '\0';
    for (int k = 0; k < 3; k++) {
        int best = -1;
        for (int r = RULES_MALFORMED; r < RULES_NREASONS; r++)
            if (!used[r] && c->rejected[r] > 0 && (best < 0 || c->rejected[r] > c->rejected[best]))
                best = r;
        if (best < 0)
            break;
        used[best] = true;
        if (len < cap)
            len += (size_t)snprintf(out + len, cap - len, "%s%s %lld", k ? ", " : "",
                                    rules_reason_name((rules_reason)best),
                                    (long long)c->rejected[best]);
    }
}

static double reject_share(const star_counts *c)
{
    int64_t rejected = c->rows_in - c->rejected[RULES_KEPT];
    return c->rows_in > 0 ? (double)rejected / (double)c->rows_in : 0;
}

static void reject_note(pl_gate *r, const star_counts *c)
{
    char top[200];
    top_reasons(c, top, sizeof top);
    gate_note(r, "%lld of %lld rows%s%s", (long long)(c->rows_in - c->rejected[RULES_KEPT]),
              (long long)c->rows_in, top[0] ? "; top reasons: " : "", top);
}

static void per_file_rates(pl_ctx *ctx, double max, int nfiles, pl_file_counts_fn fn, void *arg)
{
    int worst = -1, nfailed = 0;
    double worst_share = -1;
    for (int i = 0; i < nfiles; i++) {
        const char *name = NULL;
        const star_counts *c = fn(arg, i, &name);
        double share = reject_share(c);
        if (share > worst_share) {
            worst_share = share;
            worst = i;
        }
        if (share > max && nfailed++ < SHOW_FILES)
            reject_note(gate_add(&ctx->gates, "MAX_REJECT_RATE", name, share, max, false), c);
        else if (share > max)
            ctx->gates.failed++;
    }
    if (nfailed > SHOW_FILES)
        sp_log(SP_LOG_WARN, "transform: %d more files above MAX_REJECT_RATE (the first %d are "
               "named)", nfailed - SHOW_FILES, SHOW_FILES);
    if (nfailed == 0 && worst >= 0) { /* the worst file, for the record */
        const char *name = NULL;
        const star_counts *c = fn(arg, worst, &name);
        reject_note(gate_add(&ctx->gates, "MAX_REJECT_RATE", name, worst_share, max, true), c);
    }
}

/* MAX_ROW_DROP against the last load w recorded; w NULL: no warehouse yet. */
static int row_drop_against(pl_ctx *ctx, struct wh *w, int64_t kept, sp_error *err)
{
    double max = config_share(ctx, "MAX_ROW_DROP");
    wh_load_info last = {0};
    if (w)
        SP_TRY(wh_last_load(w, &last, err));
    if (!last.found) {
        gate_note(gate_add(&ctx->gates, "MAX_ROW_DROP", NULL, 0, max, true),
                  "no previous load recorded in %s", w ? wh_describe(w) : "the warehouse (none yet)");
        return SP_OK;
    }
    double drop = last.rows_kept > 0 && kept < last.rows_kept
                      ? (double)(last.rows_kept - kept) / (double)last.rows_kept
                      : 0;
    gate_note(gate_add(&ctx->gates, "MAX_ROW_DROP", NULL, drop, max, drop <= max),
              "%lld rows kept, %lld in the last load: run %s, ds %s, %s", (long long)kept,
              (long long)last.rows_kept, last.run_id, last.ds, last.loaded_at);
    return SP_OK;
}

int pl_gates_transform(pl_ctx *ctx, const star_counts *total, int nfiles, pl_file_counts_fn fn,
                       void *arg, sp_error *err)
{
    memset(&ctx->gates, 0, sizeof ctx->gates);
    pl_gates *g = &ctx->gates;
    int64_t kept = total->rejected[RULES_KEPT];
    long long min_rows = strtoll(sp_config_get(ctx->cfg, "MIN_ROWS"), NULL, 10);
    gate_note(gate_add(g, "MIN_ROWS", NULL, (double)kept, (double)min_rows, kept >= min_rows),
              "of %lld rows in", (long long)total->rows_in);
    double max_rate = config_share(ctx, "MAX_REJECT_RATE");
    double share = reject_share(total);
    reject_note(gate_add(g, "MAX_REJECT_RATE", NULL, share, max_rate, share <= max_rate), total);
    per_file_rates(ctx, max_rate, nfiles, fn, arg);

    /* The warehouse read as it is; one that cannot be read now is checked
     * by load, before its transaction begins. */
    struct wh *w = NULL;
    sp_error e;
    sp_error_clear(&e);
    int rc = pl_open_existing_warehouse(ctx, &w, &e);
    if (rc == SP_OK)
        rc = row_drop_against(ctx, w, kept, &e);
    wh_close(w);
    if (rc != SP_OK) {
        g->row_drop_deferred = true;
        sp_log(SP_LOG_WARN, "transform: MAX_ROW_DROP: the warehouse cannot be read now (%s): "
               "load checks it before its transaction begins", e.msg);
    }
    return conclude(ctx, "transform", 0, err);
}

int pl_gates_row_drop(pl_ctx *ctx, struct wh *w, int64_t rows_kept, sp_error *err)
{
    int first = ctx->gates.n;
    SP_TRY(row_drop_against(ctx, w, rows_kept, err));
    return conclude(ctx, "load", first, err);
}

/* ---- QUALITY_SQL ------------------------------------------------------------------ */

/* Skip a quoted literal or identifier starting at t[i] (the quote). */
static size_t skip_quoted(const char *t, size_t n, size_t i, int *line)
{
    char q = t[i++];
    while (i < n) {
        if (t[i] == '\n')
            (*line)++;
        if (t[i] == q) {
            if (i + 1 < n && t[i + 1] == q) { /* doubled quote */
                i += 2;
                continue;
            }
            return i + 1;
        }
        i++;
    }
    return n;
}

/* The name in a leading "-- name: x" comment of the statement text. */
static void check_name(const char *s, size_t n, pl_check *c)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
            i++;
        if (i + 1 >= n || s[i] != '-' || s[i + 1] != '-')
            return;
        size_t end = i;
        while (end < n && s[end] != '\n')
            end++;
        size_t k = i + 2;
        while (k < end && (s[k] == ' ' || s[k] == '\t'))
            k++;
        if (end - k > 5 && strncmp(s + k, "name:", 5) == 0) {
            k += 5;
            while (k < end && (s[k] == ' ' || s[k] == '\t'))
                k++;
            size_t e = end;
            while (e > k && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r'))
                e--;
            if (e > k) {
                c->name = s + k;
                c->name_len = e - k;
                return;
            }
        }
        i = end;
    }
}

/* Where the first code is (not whitespace, not a comment): its offset, or
 * n when there is none. */
static size_t first_code(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')
            continue;
        if (i + 1 < n && s[i] == '-' && s[i + 1] == '-') {
            while (i < n && s[i] != '\n')
                i++;
            continue;
        }
        if (i + 1 < n && s[i] == '/' && s[i + 1] == '*') {
            size_t k = i + 2;
            while (k + 1 < n && !(s[k] == '*' && s[k + 1] == '/'))
                k++;
            if (k + 1 >= n)
                return n;
            i = k + 1;
            continue;
        }
        return i;
    }
    return n;
}

int pl_quality_split(const char *t, size_t n, pl_check_fn fn, void *arg)
{
    int line = 1, start_line = 1, index = 0;
    size_t start = 0, i = 0;
    while (i <= n) {
        if (i == n || t[i] == ';') {
            size_t code = first_code(t + start, i - start);
            if (code < i - start) {
                pl_check c = {.sql = t + start, .sql_len = i - start, .line = start_line,
                              .index = ++index};
                check_name(c.sql, c.sql_len, &c);
                for (size_t k = 0; k < code; k++) /* the line of its first code */
                    c.line += c.sql[k] == '\n';
                int rc = fn(arg, &c);
                if (rc != 0)
                    return rc;
            }
            start = i + 1;
            start_line = line;
            i++;
            continue;
        }
        char ch = t[i];
        if (ch == '\n') {
            line++;
            i++;
        } else if (ch == '\'' || ch == '"') {
            i = skip_quoted(t, n, i, &line);
        } else if (ch == '-' && i + 1 < n && t[i + 1] == '-') {
            while (i < n && t[i] != '\n')
                i++;
        } else if (ch == '/' && i + 1 < n && t[i + 1] == '*') {
            i += 2;
            while (i < n && !(t[i] == '*' && i + 1 < n && t[i + 1] == '/')) {
                if (t[i] == '\n')
                    line++;
                i++;
            }
            i = i < n ? i + 2 : n;
        } else {
            i++;
        }
    }
    return 0;
}

typedef struct quality_run {
    pl_ctx *ctx;
    struct wh *w;
    const char *path;
    sp_error *err;
    char rows[360]; /* the offending rows shown, as text */
    size_t rows_len;
} quality_run;

/* "{sale_id=7, quantity=-2}" per row, joined with "; ", capped. */
static void show_row(void *arg, int ncols, const char *const *names, const char *const *values)
{
    quality_run *q = arg;
    size_t cap = sizeof q->rows;
    if (q->rows_len + 8 >= cap)
        return;
    q->rows_len += (size_t)snprintf(q->rows + q->rows_len, cap - q->rows_len, "%s{",
                                    q->rows_len ? "; " : "");
    for (int i = 0; i < ncols && q->rows_len < cap; i++)
        q->rows_len += (size_t)snprintf(q->rows + q->rows_len, cap - q->rows_len, "%s%s=%.60s",
                                        i ? ", " : "", names[i], values[i] ? values[i] : "NULL");
    if (q->rows_len < cap)
        q->rows_len += (size_t)snprintf(q->rows + q->rows_len, cap - q->rows_len, "}");
    if (q->rows_len >= cap) { /* cut: mark it */
        q->rows_len = cap - 1;
        memcpy(q->rows + cap - 4, "…", 3);
    }
}

static int run_check(void *arg, const pl_check *c)
{
    quality_run *q = arg;
    char name[160], *sql = malloc(c->sql_len + 1);
    if (!sql)
        return sp_fail(q->err, SP_ERR_NOMEM, "QUALITY_SQL %s: out of memory", q->path);
    memcpy(sql, c->sql, c->sql_len);
    sql[c->sql_len] = '\0';
    if (c->name)
        snprintf(name, sizeof name, "%.*s", (int)c->name_len, c->name);
    else
        snprintf(name, sizeof name, "check %d", c->index);
    q->rows_len = 0;
    q->rows[0] = '\0';
    int64_t nrows = 0;
    int rc = wh_load_query(q->w, sql, SHOW_ROWS, show_row, q, &nrows, q->err);
    free(sql);
    if (rc != SP_OK)
        return sp_error_prefix(q->err, "QUALITY_SQL %s: check '%s' (line %d)", q->path, name,
                               c->line);
    pl_gate *r = gate_add(&q->ctx->gates, "QUALITY_SQL", name, (double)nrows, 0, nrows == 0);
    if (nrows > 0)
        gate_note(r, "line %d of %s; %s%s", c->line, q->path, q->rows,
                  nrows > SHOW_ROWS ? "; …" : "");
    return SP_OK;
}

int pl_quality_open(pl_ctx *ctx, pl_quality *q, sp_error *err)
{
    memset(q, 0, sizeof *q);
    const char *path = sp_config_get(ctx->cfg, "QUALITY_SQL");
    if (!path || !*path)
        return SP_OK;
    snprintf(q->path, sizeof q->path, "%s", path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return sp_fail(err, SP_ERR_IO, "QUALITY_SQL %s: %s", path, strerror(errno));
    q->text = malloc(QUALITY_FILE_MAX + 1);
    if (!q->text) {
        fclose(f);
        return sp_fail(err, SP_ERR_NOMEM, "QUALITY_SQL %s: out of memory", path);
    }
    q->len = fread(q->text, 1, QUALITY_FILE_MAX + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || q->len > QUALITY_FILE_MAX) {
        pl_quality_close(q);
        return bad ? sp_fail(err, SP_ERR_IO, "QUALITY_SQL %s: cannot read it", path)
                   : sp_fail(err, SP_ERR_LIMIT, "QUALITY_SQL %s: more than %d MiB", path,
                             QUALITY_FILE_MAX >> 20);
    }
    q->text[q->len] = '\0';
    if (memchr(q->text, '\0', q->len)) {
        pl_quality_close(q);
        return sp_fail(err, SP_ERR_DATA, "QUALITY_SQL %s: not a text file (a NUL byte)", path);
    }
    return SP_OK;
}

void pl_quality_close(pl_quality *q)
{
    free(q->text);
    q->text = NULL;
    q->len = 0;
}

int pl_gates_quality(pl_ctx *ctx, pl_quality *q, struct wh *w, sp_error *err)
{
    if (!q->text)
        return SP_OK;
    int first = ctx->gates.n;
    quality_run run = {ctx, w, q->path, err, "", 0};
    int rc = pl_quality_split(q->text, q->len, run_check, &run);
    if (rc != SP_OK)
        return rc; /* a check that failed has rolled the load back */
    rc = conclude(ctx, "load", first, err);
    if (rc != SP_OK)
        wh_load_rollback(w);
    return rc;
}
