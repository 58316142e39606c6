/* svg.c — the report's charts as inline SVG: bar charts (sales, rejects,
 * trends) and the task timeline (a Gantt chart of every attempt). Each
 * figure is drawn and also written as text and in data-* attributes, so the
 * page reads without colour and tests can check it. Every text from data
 * goes through rp_html_escape; nothing here loads anything. */
#include <stdio.h>
#include <string.h>

#include "report.h"

#define LABEL_W 170
#define VALUE_W 110
#define PLOT_W 520
#define ROW_H 20

static void attr(sp_buf *b, const char *name, const char *v)
{
    sp_buf_printf(b, " %s=\"", name);
    rp_html_escape(b, v ? v : "", v ? strlen(v) : 0);
    sp_buf_putc(b, '"');
}

static void text_node(sp_buf *b, const char *v)
{
    rp_html_escape(b, v ? v : "", v ? strlen(v) : 0);
}

/* A label cut to fit its column (whole UTF-8 characters, "…" added). */
static void short_label(sp_buf *b, const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max) {
        text_node(b, s);
        return;
    }
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    rp_html_escape(b, s, max);
    sp_buf_puts(b, "…");
}

static double max_of(const rp_bar *bars, int n)
{
    double m = 0;
    for (int i = 0; i < n; i++)
        if (bars[i].value > m)
            m = bars[i].value;
    return m > 0 ? m : 1;
}

static void open_svg(sp_buf *b, const char *id, const char *title, int w, int h)
{
    sp_buf_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\"");
    attr(b, "id", id);
    sp_buf_printf(b, " width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\"", w, h, w,
                  h);
    attr(b, "aria-label", title);
    sp_buf_puts(b, "><title>");
    text_node(b, title);
    sp_buf_puts(b, "</title>\n");
}

static void bar_group(sp_buf *b, const rp_bar *bar)
{
    sp_buf_printf(b, "<g class=\"bar%s%s\"", bar->cls ? " " : "", bar->cls ? bar->cls : "");
    attr(b, "data-label", bar->label);
    attr(b, "data-value", bar->text);
    sp_buf_puts(b, "><title>");
    text_node(b, bar->label);
    sp_buf_puts(b, ": ");
    text_node(b, bar->text);
    sp_buf_puts(b, "</title>");
}

void rp_svg_bars(sp_buf *b, const char *id, const char *title, const rp_bar *bars, int n,
                 bool vertical)
{
    double max = max_of(bars, n);
    if (!vertical) {
        int h = n * ROW_H + 10;
        open_svg(b, id, title, LABEL_W + PLOT_W + VALUE_W, h);
        for (int i = 0; i < n; i++) {
            double w = bars[i].value > 0 ? bars[i].value / max * PLOT_W : 0;
            int y = 5 + i * ROW_H;
            bar_group(b, &bars[i]);
            sp_buf_printf(b, "<text class=\"lbl\" x=\"%d\" y=\"%d\" text-anchor=\"end\">",
                          LABEL_W - 6, y + 14);
            short_label(b, bars[i].shown ? bars[i].shown : bars[i].label, 28);
            sp_buf_printf(b, "</text><rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\"/>",
                          LABEL_W, y + 2, w < 1 && bars[i].value > 0 ? 1 : w, ROW_H - 4);
            sp_buf_printf(b, "<text class=\"val\" x=\"%.1f\" y=\"%d\">", LABEL_W + w + 4, y + 14);
            text_node(b, bars[i].text);
            sp_buf_puts(b, "</text></g>\n");
        }
        sp_buf_puts(b, "</svg>\n");
        return;
    }
    /* columns: labels rotated under them, figures above */
    int col = n > 40 ? 14 : n > 15 ? 22 : 40;
    bool rotate = n > 15; /* figures stand upright over narrow columns */
    int plot_h = 180, top = rotate ? 75 : 20, bottom = 90;
    int w = 60 + n * col + 20;
    if (w < 300)
        w = 300;
    open_svg(b, id, title, w, top + plot_h + bottom);
    for (int i = 0; i < n; i++) {
        double h = bars[i].value > 0 ? bars[i].value / max * plot_h : 0;
        double x = 60 + i * col;
        bar_group(b, &bars[i]);
        sp_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%.1f\"/>", x + 1,
                      top + plot_h - h, col - 2, h < 1 && bars[i].value > 0 ? 1 : h);
        if (rotate)
            sp_buf_printf(b, "<text class=\"val\" transform=\"translate(%.1f,%.1f) "
                             "rotate(-90)\" font-size=\"9\">", x + col / 2.0 + 3,
                          top + plot_h - h - 3);
        else
            sp_buf_printf(b, "<text class=\"val\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                             "font-size=\"9\">", x + col / 2.0, top + plot_h - h - 3);
        text_node(b, bars[i].text);
        sp_buf_puts(b, "</text>");
        sp_buf_printf(b, "<text class=\"lbl\" transform=\"translate(%.1f,%d) rotate(-60)\" "
                         "text-anchor=\"end\" font-size=\"10\">", x + col / 2.0 + 3,
                      top + plot_h + 12);
        short_label(b, bars[i].shown ? bars[i].shown : bars[i].label, 16);
        sp_buf_puts(b, "</text></g>\n");
    }
    sp_buf_printf(b, "<line x1=\"58\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>\n",
                  top + plot_h, w - 10, top + plot_h);
    sp_buf_puts(b, "</svg>\n");
}

void rp_svg_gantt(sp_buf *b, const rp_data *d)
{
    int rows = d->ntasks > 0 ? d->ntasks : 1;
    double t0 = d->t0, span = d->t1 - d->t0;
    for (int i = 0; i < d->nattempts; i++)
        if (d->attempts[i].t1 > t0 + span)
            span = d->attempts[i].t1 - t0;
    if (!(span > 0.001))
        span = 0.001;
    int h = rows * 26 + 40;
    open_svg(b, "timeline", "Task timeline (every attempt)", LABEL_W + PLOT_W + VALUE_W, h);
    for (int r = 0; r < d->ntasks; r++) {
        sp_buf_printf(b, "<text class=\"lbl\" x=\"%d\" y=\"%d\" text-anchor=\"end\">",
                      LABEL_W - 6, 20 + r * 26 + 13);
        text_node(b, d->tasks[r].name);
        sp_buf_puts(b, "</text>\n");
    }
    for (int i = 0; i < d->nattempts; i++) {
        const rp_attempt *a = &d->attempts[i];
        int row = 0;
        for (int r = 0; r < d->ntasks; r++)
            if (strcmp(d->tasks[r].name, a->task) == 0)
                row = r;
        double s = a->t0 >= 0 && t0 >= 0 ? a->t0 - t0 : 0;
        double e = a->t1 >= 0 && t0 >= 0 ? a->t1 - t0 : s;
        double x = LABEL_W + s / span * PLOT_W, w = (e - s) / span * PLOT_W;
        if (w < 2)
            w = 2;
        bool failed = a->error[0] != '\0';
        sp_buf_printf(b, "<g class=\"attempt %s\" data-task=\"", failed ? "failed" : "ok");
        text_node(b, a->task);
        sp_buf_printf(b, "\" data-attempt=\"%d\" data-start=\"%.3f\" data-duration=\"%.3f\">",
                      a->attempt, s, e - s);
        sp_buf_puts(b, "<title>");
        text_node(b, a->task);
        sp_buf_printf(b, " attempt %d: %.3f s", a->attempt, e - s);
        if (failed) {
            sp_buf_puts(b, " — ");
            text_node(b, a->error);
        }
        sp_buf_puts(b, "</title>");
        sp_buf_printf(b, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"18\"/>", x,
                      20 + row * 26, w);
        sp_buf_printf(b, "<text class=\"val\" x=\"%.1f\" y=\"%d\">#%d %.2fs</text></g>\n",
                      x + w + 3, 20 + row * 26 + 13, a->attempt, e - s);
    }
    sp_buf_printf(b, "<text class=\"lbl\" x=\"%d\" y=\"%d\">0 s</text>", LABEL_W, h - 6);
    sp_buf_printf(b, "<text class=\"lbl\" x=\"%d\" y=\"%d\" text-anchor=\"end\">%.2f s</text>\n",
                  LABEL_W + PLOT_W, h - 6, span);
    sp_buf_puts(b, "</svg>\n");
}
