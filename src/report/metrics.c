/* metrics.c — METRICS_FILE: the last run as Prometheus text exposition
 * (format 0.0.4), written the node_exporter textfile way: a temporary file
 * in the same directory, fsync, rename, so a scrape never sees half a file.
 * Series are few and stable: labels are task, reason, gate, table or
 * outcome, never ds or run_id. It never fails a run: callers warn. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "report.h"

static void help(sp_buf *b, const char *name, const char *type, const char *text)
{
    sp_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

/* A label value: backslash, double quote and newline escaped. */
static void label_value(sp_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            sp_buf_putc(b, '\\');
        if (*s == '\n')
            sp_buf_puts(b, "\\n");
        else
            sp_buf_putc(b, (uint8_t)*s);
    }
}

static void sample(sp_buf *b, const char *name, const char *label, const char *value, double v)
{
    sp_buf_puts(b, name);
    if (label) {
        sp_buf_printf(b, "{%s=\"", label);
        label_value(b, value);
        sp_buf_puts(b, "\"}");
    }
    /* integers exactly, others to 15 significant digits (no binary noise) */
    if (v == (double)(long long)v && v < 9e15 && v > -9e15)
        sp_buf_printf(b, " %lld\n", (long long)v);
    else
        sp_buf_printf(b, " %.15g\n", v);
}

static bool number(const char *s, double *v)
{
    char *end;
    if (!s || !*s)
        return false;
    *v = strtod(s, &end);
    return *end == '\0';
}

static void run_metrics(sp_buf *b, const rp_data *d, double last_success)
{
    bool ok = strcmp(d->state, "succeeded") == 0;
    help(b, "salespipe_run_success", "gauge", "1 if the last run succeeded, else 0.");
    sample(b, "salespipe_run_success", NULL, NULL, ok);
    help(b, "salespipe_run_outcome", "gauge", "The last run's outcome: 1 for the outcome it had.");
    sample(b, "salespipe_run_outcome", "outcome", "succeeded", ok);
    sample(b, "salespipe_run_outcome", "outcome", "failed", !ok);
    if (d->t0 >= 0 && d->t1 >= d->t0) {
        help(b, "salespipe_run_duration_seconds", "gauge", "Duration of the last run.");
        sample(b, "salespipe_run_duration_seconds", NULL, NULL, d->t1 - d->t0);
        help(b, "salespipe_run_end_timestamp_seconds", "gauge", "When the last run ended.");
        sample(b, "salespipe_run_end_timestamp_seconds", NULL, NULL, d->t1);
    }
    help(b, "salespipe_last_success_timestamp_seconds", "gauge",
         "When the newest successful run ended (0: none yet).");
    sample(b, "salespipe_last_success_timestamp_seconds", NULL, NULL,
           last_success >= 0 ? last_success : 0);
}

static void task_metrics(sp_buf *b, const rp_data *d)
{
    help(b, "salespipe_task_attempts", "gauge", "Attempts of each task in the last run.");
    for (int t = 0; t < d->ntasks; t++)
        sample(b, "salespipe_task_attempts", "task", d->tasks[t].name, d->tasks[t].attempts);
    help(b, "salespipe_task_duration_seconds", "gauge",
         "Seconds spent in each task's attempts in the last run.");
    for (int t = 0; t < d->ntasks; t++) {
        double secs = 0;
        for (int i = 0; i < d->nattempts; i++) {
            const rp_attempt *a = &d->attempts[i];
            if (strcmp(a->task, d->tasks[t].name) == 0 && a->t0 >= 0 && a->t1 >= a->t0)
                secs += a->t1 - a->t0;
        }
        sample(b, "salespipe_task_duration_seconds", "task", d->tasks[t].name, secs);
    }
    help(b, "salespipe_task_succeeded", "gauge", "1 if the task succeeded in the last run.");
    for (int t = 0; t < d->ntasks; t++)
        sample(b, "salespipe_task_succeeded", "task", d->tasks[t].name,
               strcmp(d->tasks[t].state, "succeeded") == 0);
}

static void data_metrics(sp_buf *b, const rp_data *d)
{
    help(b, "salespipe_rows_in", "gauge", "Data records read by the last run's transform.");
    sample(b, "salespipe_rows_in", NULL, NULL, (double)d->rows_in);
    help(b, "salespipe_rows_kept", "gauge", "Rows kept (fact_sales) by the last run.");
    sample(b, "salespipe_rows_kept", NULL, NULL, (double)d->rows_kept);
    help(b, "salespipe_rows_rejected", "gauge", "Rows rejected by the last run, by reason.");
    for (int r = RULES_MALFORMED; r < RULES_NREASONS; r++)
        sample(b, "salespipe_rows_rejected", "reason", rules_reason_name((rules_reason)r),
               (double)d->rejected[r]);
    help(b, "salespipe_input_bytes", "gauge", "Bytes of the last run's input files.");
    sample(b, "salespipe_input_bytes", NULL, NULL, (double)d->input_bytes);
    help(b, "salespipe_input_files", "gauge", "Input files of the last run.");
    sample(b, "salespipe_input_files", NULL, NULL, d->inputs_total);
    static const char *const T[3] = {"dim_date", "dim_product", "fact_sales"};
    help(b, "salespipe_table_rows", "gauge", "Rows of each table the last run produced.");
    for (int t = 0; t < 3; t++)
        sample(b, "salespipe_table_rows", "table", T[t], (double)d->tables[t]);
    if (!d->has_gates)
        return;
    help(b, "salespipe_gate_passed", "gauge", "1 if the quality gate passed in the last run.");
    for (int i = 0; i < d->ngates; i++)
        if (d->gates[i].passed >= 0)
            sample(b, "salespipe_gate_passed", "gate", d->gates[i].name, d->gates[i].passed);
    help(b, "salespipe_gate_figure", "gauge", "The figure each quality gate measured.");
    for (int i = 0; i < d->ngates; i++) {
        double v;
        if (number(d->gates[i].figure, &v))
            sample(b, "salespipe_gate_figure", "gate", d->gates[i].name, v);
    }
    help(b, "salespipe_gate_threshold", "gauge", "The threshold of each quality gate.");
    for (int i = 0; i < d->ngates; i++) {
        double v;
        if (number(d->gates[i].threshold, &v))
            sample(b, "salespipe_gate_threshold", "gate", d->gates[i].name, v);
    }
}

void rp_metrics_text(sp_buf *b, const rp_data *d, double last_success)
{
    run_metrics(b, d, last_success);
    task_metrics(b, d);
    if (d->has_manifest)
        data_metrics(b, d);
}

/* The last-success figure of a previous file, or -1. */
static double previous_success(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[256];
    double v = -1;
    static const char KEY[] = "salespipe_last_success_timestamp_seconds ";
    while (fgets(line, sizeof line, f))
        if (strncmp(line, KEY, sizeof KEY - 1) == 0)
            v = strtod(line + sizeof KEY - 1, NULL);
    fclose(f);
    return v > 0 ? v : -1;
}

int rp_metrics_write(const char *path, const rp_data *d, double last_success, sp_error *err)
{
    if (last_success < 0)
        last_success = previous_success(path);
    sp_buf b;
    sp_buf_init(&b, 1 << 20);
    rp_metrics_text(&b, d, last_success);
    if (b.broken) {
        sp_buf_free(&b);
        return sp_fail(err, SP_ERR_NOMEM, "METRICS_FILE %s: out of memory", path);
    }
    int rc = rp_write_atomic(path, "METRICS_FILE", b.data, b.len, err);
    sp_buf_free(&b);
    return rc;
}

int rp_write_atomic(const char *path, const char *what, const void *p, size_t n, sp_error *err)
{
    const char *slash = strrchr(path, '/');
    char tmp[PATH_MAX];
    /* ".name.tmp-PID" beside it: same filesystem, and not "*.prom", so a
     * textfile collector never reads it half written. */
    if (snprintf(tmp, sizeof tmp, "%.*s.%s.tmp-%ld", slash ? (int)(slash - path + 1) : 0, path,
                 slash ? slash + 1 : path, (long)getpid()) >= (int)sizeof tmp)
        return sp_fail(err, SP_ERR_USAGE, "%s %s: path too long", what, path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return sp_fail(err, SP_ERR_IO, "%s %s: %s", what, tmp, strerror(errno));
    int rc = SP_OK;
    if (write(fd, p, n) != (ssize_t)n || fsync(fd) != 0)
        rc = sp_fail(err, SP_ERR_IO, "%s %s: %s", what, tmp, strerror(errno));
    if (close(fd) != 0 && rc == SP_OK)
        rc = sp_fail(err, SP_ERR_IO, "%s %s: %s", what, tmp, strerror(errno));
    if (rc == SP_OK && rename(tmp, path) != 0)
        rc = sp_fail(err, SP_ERR_IO, "%s %s: %s", what, path, strerror(errno));
    if (rc != SP_OK)
        unlink(tmp);
    return rc;
}
