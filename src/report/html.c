/* html.c — the run report as one self-contained HTML document: inline CSS
 * and SVG (svg.c), no script, and a Content-Security-Policy that forbids
 * loading anything, so it opens anywhere without the network. Every text
 * that comes from data (file names, product ids, raw records, errors) is
 * escaped here; configuration values are shown through sp_config_display,
 * so secrets are masked. Sections: run, timeline, inputs, rejects, gates,
 * sales, trends, configuration. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../orch/orch.h"
#include "../star/star.h"
#include "../util/utf8.h"
#include "../util/version.h"
#include "report.h"

void rp_html_escape(sp_buf *b, const char *s, size_t n)
{
    const uint8_t *p = (const uint8_t *)s;
    for (size_t i = 0; i < n;) {
        uint8_t c = p[i];
        const char *ent = c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;"
                        : c == '"' ? "&quot;" : c == '\'' ? "&#39;" : NULL;
        if (ent) {
            sp_buf_puts(b, ent);
            i++;
        } else if (c < 0x20 && c != '\n' && c != '\t') {
            sp_buf_puts(b, "\xEF\xBF\xBD"); /* U+FFFD: no control characters */
            i++;
        } else if (c < 0x80) {
            sp_buf_putc(b, c);
            i++;
        } else {
            int len = sp_utf8_seq(p + i, n - i);
            if (len > 0) {
                sp_buf_append(b, p + i, (size_t)len);
                i += (size_t)len;
            } else {
                sp_buf_puts(b, "\xEF\xBF\xBD");
                i++;
            }
        }
    }
}

static void esc(sp_buf *b, const char *s)
{
    rp_html_escape(b, s ? s : "", s ? strlen(s) : 0);
}

static const char STYLE[] =
    "body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#222;"
    "max-width:1100px}"
    "h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;margin-top:32px}"
    "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;"
    "text-align:left;vertical-align:top}th{background:#f4f4f4}td.n{text-align:right;"
    "font-variant-numeric:tabular-nums}"
    ".succeeded{color:#176b2c;font-weight:bold}.failed{color:#b00020;font-weight:bold}"
    ".note{color:#666;font-style:italic}code,pre{font:12px/1.3 ui-monospace,monospace;"
    "white-space:pre-wrap;word-break:break-all;margin:0}"
    "svg.chart{display:block;margin:8px 0;font:11px sans-serif}svg .bar rect{fill:#4e79a7}"
    "svg .bar.failed rect{fill:#e15759}svg .attempt.ok rect{fill:#59a14f}"
    "svg .attempt.failed rect{fill:#e15759}svg text{fill:#222}svg .axis{stroke:#999}";

/* ---- small helpers --------------------------------------------------------- */

static void row2(sp_buf *b, const char *name, const char *value)
{
    sp_buf_puts(b, "<tr><th>");
    esc(b, name);
    sp_buf_puts(b, "</th><td>");
    esc(b, value);
    sp_buf_puts(b, "</td></tr>\n");
}

static void note(sp_buf *b, const char *text)
{
    sp_buf_puts(b, "<p class=\"note\">");
    esc(b, text);
    sp_buf_puts(b, "</p>\n");
}

/* Open a section; when `missing` says why it has nothing to show, write
 * that as a note, close the section and return false. */
static bool section_open(sp_buf *b, const char *id, const char *title, const char *missing)
{
    sp_buf_printf(b, "<section id=\"%s\"><h2>", id);
    esc(b, title);
    sp_buf_puts(b, "</h2>\n");
    if (!missing)
        return true;
    note(b, missing);
    sp_buf_puts(b, "</section>\n");
    return false;
}

static void sum_text(__int128 v, char *out)
{
    star_format_sum(v, out);
}

/* ---- sections ------------------------------------------------------------------ */

static void section_run(sp_buf *b, const rp_data *d)
{
    char dur[64] = "-";
    if (d->t0 >= 0 && d->t1 >= d->t0)
        snprintf(dur, sizeof dur, "%.3f s", d->t1 - d->t0);
    sp_buf_puts(b, "<section id=\"run\"><h2>The run</h2><table>\n");
    row2(b, "ds", d->ds);
    row2(b, "run id", d->run_id);
    sp_buf_printf(b, "<tr><th>outcome</th><td id=\"outcome\" class=\"%s\">",
                  strcmp(d->state, "succeeded") == 0 ? "succeeded" : "failed");
    esc(b, d->state);
    sp_buf_puts(b, "</td></tr>\n");
    row2(b, "started", d->started);
    row2(b, "ended", d->ended[0] ? d->ended : "-");
    sp_buf_printf(b, "<tr><th>duration</th><td id=\"duration\" data-seconds=\"%.3f\">%s</td></tr>\n",
                  d->t0 >= 0 && d->t1 >= d->t0 ? d->t1 - d->t0 : -1.0, dur);
    if (d->failed_task[0]) {
        row2(b, "failed task", d->failed_task);
        row2(b, "error", d->error);
    }
    if (d->settings[0])
        row2(b, "transform settings", d->settings);
    row2(b, "processed store", d->processed_url[0] ? d->processed_url : "-");
    row2(b, "key prefix", d->prefix);
    if (d->warehouse[0])
        row2(b, "warehouse", d->warehouse);
    sp_buf_puts(b, "</table></section>\n");
}

static void section_timeline(sp_buf *b, const rp_data *d)
{
    sp_buf_puts(b, "<section id=\"timeline-section\"><h2>Task timeline</h2>\n");
    if (d->nattempts == 0) {
        note(b, "no attempt recorded");
    } else {
        rp_svg_gantt(b, d);
    }
    sp_buf_puts(b, "<table id=\"attempts\"><tr><th>task</th><th>attempt</th><th>started</th>"
                   "<th>ended</th><th>seconds</th><th>error</th></tr>\n");
    for (int i = 0; i < d->nattempts; i++) {
        const rp_attempt *a = &d->attempts[i];
        sp_buf_puts(b, "<tr><td>");
        esc(b, a->task);
        sp_buf_printf(b, "</td><td class=\"n\">%d</td><td>", a->attempt);
        esc(b, a->started);
        sp_buf_puts(b, "</td><td>");
        esc(b, a->ended[0] ? a->ended : "-");
        if (a->t0 >= 0 && a->t1 >= a->t0)
            sp_buf_printf(b, "</td><td class=\"n\">%.3f</td><td>", a->t1 - a->t0);
        else
            sp_buf_puts(b, "</td><td class=\"n\">-</td><td>");
        if (a->error[0]) {
            sp_buf_puts(b, "<code class=\"failed\">");
            esc(b, a->error);
            sp_buf_puts(b, "</code>");
        }
        sp_buf_puts(b, "</td></tr>\n");
    }
    sp_buf_puts(b, "</table>\n");
    if (d->attempts_total > d->nattempts)
        sp_buf_printf(b, "<p class=\"note\">%d more attempts not shown</p>\n",
                      d->attempts_total - d->nattempts);
    sp_buf_puts(b, "</section>\n");
}

static void reasons_cell(sp_buf *b, const long long *rejected)
{
    bool any = false;
    for (int r = RULES_MALFORMED; r < RULES_NREASONS; r++) {
        if (!rejected[r])
            continue;
        sp_buf_printf(b, "%s%s %lld", any ? ", " : "", rules_reason_name((rules_reason)r),
                      rejected[r]);
        any = true;
    }
    if (!any)
        sp_buf_puts(b, "-");
}

static long long total_rejected(const long long *rejected)
{
    long long t = 0;
    for (int r = RULES_MALFORMED; r < RULES_NREASONS; r++)
        t += rejected[r];
    return t;
}

static void section_inputs(sp_buf *b, const rp_data *d)
{
    if (!section_open(b, "inputs", "Inputs", d->has_manifest ? NULL : d->manifest_note))
        return;
    sp_buf_puts(b, "<table><tr><th>file</th><th>bytes</th><th>rows in</th><th>kept</th>"
                   "<th>rejected</th><th>by reason</th><th>encoding</th><th>date order</th></tr>\n");
    for (int i = 0; i < d->ninputs; i++) {
        const rp_input *in = &d->inputs[i];
        sp_buf_puts(b, "<tr class=\"input\"");
        sp_buf_puts(b, " data-file=\"");
        esc(b, in->file);
        sp_buf_printf(b, "\" data-bytes=\"%lld\" data-rows=\"%lld\" data-kept=\"%lld\" "
                         "data-rejected=\"%lld\"><td>", in->bytes, in->rows, in->kept,
                      total_rejected(in->rejected));
        esc(b, in->file);
        sp_buf_printf(b, "</td><td class=\"n\">%lld</td><td class=\"n\">%lld</td>"
                         "<td class=\"n\">%lld</td><td class=\"n\">%lld</td><td>",
                      in->bytes, in->rows, in->kept, total_rejected(in->rejected));
        reasons_cell(b, in->rejected);
        sp_buf_puts(b, "</td><td>");
        esc(b, in->encoding);
        sp_buf_puts(b, "</td><td>");
        esc(b, in->date_order);
        sp_buf_puts(b, "</td></tr>\n");
    }
    sp_buf_printf(b, "<tr id=\"inputs-total\" data-rows=\"%lld\" data-kept=\"%lld\" "
                     "data-rejected=\"%lld\"><th>all %d files</th><td class=\"n\">%lld</td>"
                     "<td class=\"n\">%lld</td><td class=\"n\">%lld</td><td class=\"n\">%lld</td>"
                     "<td>", d->rows_in, d->rows_kept, total_rejected(d->rejected),
                  d->inputs_total, d->input_bytes, d->rows_in, d->rows_kept,
                  total_rejected(d->rejected));
    reasons_cell(b, d->rejected);
    sp_buf_puts(b, "</td><td></td><td></td></tr></table>\n");
    if (d->inputs_total > d->ninputs)
        sp_buf_printf(b, "<p class=\"note\">%d more files not listed</p>\n",
                      d->inputs_total - d->ninputs);
    sp_buf_puts(b, "</section>\n");
}

static void section_rejects(sp_buf *b, const rp_data *d)
{
    if (!section_open(b, "rejects", "Rejects by reason", d->has_manifest ? NULL : d->manifest_note))
        return;
    rp_bar bars[RULES_NREASONS];
    char texts[RULES_NREASONS][32];
    int n = 0;
    for (int r = RULES_MALFORMED; r < RULES_NREASONS; r++) {
        snprintf(texts[n], sizeof texts[n], "%lld", d->rejected[r]);
        bars[n] = (rp_bar){rules_reason_name((rules_reason)r), (double)d->rejected[r], texts[n],
                           "failed", NULL};
        n++;
    }
    rp_svg_bars(b, "rejects-by-reason", "Rejected rows by reason", bars, n, false);
    if (d->rejects_note[0])
        note(b, d->rejects_note);
    for (int r = RULES_MALFORMED; r < RULES_NREASONS; r++) {
        if (!d->nsamples[r])
            continue;
        sp_buf_printf(b, "<h3>%s: %lld rows (first %d shown)</h3>\n<table class=\"samples\" "
                         "data-reason=\"%s\"><tr><th>file</th><th>line</th><th>raw record</th>"
                         "</tr>\n", rules_reason_name((rules_reason)r), d->rejected[r],
                      d->nsamples[r], rules_reason_name((rules_reason)r));
        for (int k = 0; k < d->nsamples[r]; k++) {
            const rp_sample *s = &d->samples[r][k];
            sp_buf_puts(b, "<tr><td>");
            esc(b, s->source_file);
            sp_buf_printf(b, "</td><td class=\"n\">%lld</td><td><code class=\"record\">",
                          s->line);
            esc(b, s->record);
            sp_buf_printf(b, "%s</code></td></tr>\n", s->cut ? "…" : "");
        }
        sp_buf_puts(b, "</table>\n");
    }
    sp_buf_puts(b, "</section>\n");
}

static void section_gates(sp_buf *b, const rp_data *d)
{
    if (!section_open(b, "gates", "Quality gates",
                      !d->has_manifest ? d->manifest_note
                      : !d->has_gates  ? "this run's manifest records no quality gates"
                                       : NULL))
        return;
    sp_buf_puts(b, "<table><tr><th>gate</th><th>figure</th><th>threshold</th><th>result</th>"
                   "</tr>\n");
    for (int i = 0; i < d->ngates; i++) {
        const rp_gate *g = &d->gates[i];
        const char *res = g->passed == 1 ? "passed" : g->passed == 0 ? "failed" : "-";
        sp_buf_puts(b, "<tr class=\"gate\" data-gate=\"");
        esc(b, g->name);
        sp_buf_puts(b, "\" data-figure=\"");
        esc(b, g->figure);
        sp_buf_printf(b, "\" data-passed=\"%s\"><td>", res);
        esc(b, g->name);
        sp_buf_puts(b, "</td><td class=\"n\">");
        esc(b, g->figure);
        sp_buf_puts(b, "</td><td class=\"n\">");
        esc(b, g->threshold);
        sp_buf_printf(b, "</td><td class=\"%s\">%s</td></tr>\n",
                      g->passed == 1 ? "succeeded" : "failed", res);
    }
    sp_buf_puts(b, "</table></section>\n");
}

static void group_chart(sp_buf *b, const char *id, const char *title, const rp_groups *g,
                        bool vertical)
{
    rp_bar bars[RP_MAX_GROUPS + 1];
    char texts[RP_MAX_GROUPS + 1][48];
    int n = 0;
    for (int i = 0; i < g->n; i++) {
        sum_text(g->g[i].sales, texts[n]);
        bars[n] = (rp_bar){g->g[i].key, (double)g->g[i].sales / 1e4, texts[n], NULL, NULL};
        n++;
    }
    if (g->other_used) {
        sum_text(g->g[RP_MAX_GROUPS].sales, texts[n]);
        bars[n] = (rp_bar){g->g[RP_MAX_GROUPS].key, (double)g->g[RP_MAX_GROUPS].sales / 1e4,
                           texts[n], NULL, NULL};
        n++;
    }
    sp_buf_puts(b, "<h3>");
    esc(b, title);
    sp_buf_puts(b, "</h3>\n");
    rp_svg_bars(b, id, title, bars, n, vertical);
}

static void section_sales(sp_buf *b, const rp_data *d)
{
    if (!section_open(b, "sales", "Sales (this run's facts)", d->has_facts ? NULL : d->facts_note))
        return;
    sp_buf_puts(b, "<p>total_sales of every kept row; total <span id=\"sales-total\">");
    esc(b, d->total_sales);
    sp_buf_puts(b, "</span> (the manifest's).</p>\n");
    group_chart(b, "sales-by-month", "Sales by month (order date)", &d->months, true);
    group_chart(b, "sales-by-category", "Sales by category", &d->categories, false);
    group_chart(b, "sales-by-region",
                d->regions_from_source ? "Sales by source file (the facts have no region column)"
                                       : "Sales by region",
                &d->regions, false);
    sp_buf_puts(b, "</section>\n");
}

static void section_trends(sp_buf *b, const rp_data *d)
{
    sp_buf_printf(b, "<section id=\"trends\"><h2>Trends: the last %d runs</h2>\n", d->ntrends);
    rp_bar bars[RP_TRENDS];
    char texts[RP_TRENDS][32];
    static const char *const IDS[3] = {"trend-rows-kept", "trend-reject-rate", "trend-duration"};
    static const char *const TITLES[3] = {"Rows kept", "Reject rate", "Duration (s)"};
    for (int c = 0; c < 3; c++) {
        int n = 0;
        for (int i = 0; i < d->ntrends; i++) {
            const rp_trend *t = &d->trends[i];
            double v = 0;
            if (c == 0 && t->has_rows) {
                v = (double)(t->rows_in - t->rejected);
                snprintf(texts[n], sizeof texts[n], "%lld", t->rows_in - t->rejected);
            } else if (c == 1 && t->has_rows) {
                v = t->rows_in > 0 ? (double)t->rejected / (double)t->rows_in : 0;
                snprintf(texts[n], sizeof texts[n], "%.4f", v);
            } else if (c == 2 && t->duration >= 0) {
                v = t->duration;
                snprintf(texts[n], sizeof texts[n], "%.3f", v);
            } else {
                snprintf(texts[n], sizeof texts[n], "-");
            }
            bars[n] = (rp_bar){t->run_id, v, texts[n],
                               strcmp(t->state, "succeeded") == 0 ? NULL : "failed", t->ds};
            n++;
        }
        sp_buf_puts(b, "<h3>");
        esc(b, TITLES[c]);
        sp_buf_puts(b, "</h3>\n");
        rp_svg_bars(b, IDS[c], TITLES[c], bars, n, true);
    }
    sp_buf_puts(b, "<p class=\"note\">Oldest first; failed runs in red. Runs that never "
                   "transformed have no rows.</p></section>\n");
}

static void section_config(sp_buf *b, const sp_config *cfg)
{
    sp_buf_puts(b, "<section id=\"config\"><h2>Configuration in effect</h2>\n<p class=\"note\">"
                   "As resolved by the process that wrote this report; secrets masked.</p>\n"
                   "<table><tr><th>name</th><th>value</th><th>from</th></tr>\n");
    for (size_t i = 0;; i++) {
        const char *name = sp_config_name_at(i);
        if (!name)
            break;
        char shown[1024];
        if (!sp_config_display(cfg, name, shown, sizeof shown))
            continue;
        sp_buf_puts(b, "<tr><td>");
        esc(b, name);
        sp_buf_puts(b, "</td><td><code>");
        esc(b, shown);
        sp_buf_puts(b, "</code></td><td>");
        esc(b, sp_source_name(sp_config_source(cfg, name)));
        sp_buf_puts(b, "</td></tr>\n");
    }
    sp_buf_puts(b, "</table></section>\n");
}

void rp_html(sp_buf *b, const rp_data *d, const sp_config *cfg)
{
    char now[32];
    orch_iso8601((int64_t)time(NULL), now);
    sp_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                   "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                   "style-src 'unsafe-inline'\">\n<meta name=\"viewport\" "
                   "content=\"width=device-width, initial-scale=1\">\n<title>salespipe run ");
    esc(b, d->run_id);
    sp_buf_puts(b, " (ds ");
    esc(b, d->ds);
    sp_buf_puts(b, "): ");
    esc(b, d->state);
    sp_buf_printf(b, "</title>\n<style>%s</style></head>\n<body>\n<h1>salespipe run ", STYLE);
    esc(b, d->run_id);
    sp_buf_printf(b, " <span class=\"%s\">", strcmp(d->state, "succeeded") == 0 ? "succeeded"
                                                                                 : "failed");
    esc(b, d->state);
    sp_buf_puts(b, "</span></h1>\n");
    section_run(b, d);
    section_timeline(b, d);
    section_inputs(b, d);
    section_rejects(b, d);
    section_gates(b, d);
    section_sales(b, d);
    section_trends(b, d);
    section_config(b, cfg);
    sp_buf_printf(b, "<footer><p class=\"note\">Written by salespipe %s at %s.</p></footer>\n"
                     "</body></html>\n", SP_VERSION, now);
}
