/* log.h — salespipe's logger: one line per event on stderr, as text
 * ("2026-11-26T14:21:11Z INFO message") or JSON, one object per line:
 * {"ts","level","msg"} plus, where they apply, the run's context (task, ds,
 * run_id, attempt: set by the runner) and a line's own fields (event, file,
 * rows_in, rows_kept, rows_rejected, duration_s, error_class; see
 * docs/operations.md). Every registered secret value is scrubbed from every
 * line before it is written, as a last line of defence: callers still never
 * format secrets. It also owns the terminal's progress line (progress.c). */
#ifndef SP_LOG_H
#define SP_LOG_H

#include <stdbool.h>
#include <stdint.h>

typedef enum sp_log_level { SP_LOG_ERROR, SP_LOG_WARN, SP_LOG_INFO, SP_LOG_DEBUG } sp_log_level;

/* json: JSON lines instead of text; verbosity: -1 errors only (-q),
 * 0 warnings and info, 1 debug too (-v). */
void sp_log_setup(bool json, int verbosity);
/* Are lines JSON objects (--log-format json)? */
bool sp_log_is_json(void);
/* Remember a secret (copied); values shorter than 4 bytes are ignored
 * because scrubbing them would mangle ordinary text. */
void sp_log_add_secret(const char *value);
/* Replace every registered secret in s (in place) with "***". */
void sp_log_scrub(char *s);
void sp_log(sp_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A line's own structured fields (JSON logs only; the text format shows the
 * message alone, which says the same). Zero-initialise and set what applies:
 *   sp_log_fields f = {.event = "succeeded", .has_duration = true, .duration_s = s};
 * Strings are copied and scrubbed; NULL means absent. */
typedef struct sp_log_fields {
    const char *event;       /* started, succeeded, failed, retrying, gate, warning (a
                                WARN line without one gets "warning") */
    const char *file;        /* the input file the line is about */
    const char *error_class; /* sp_status_name() of a failure: "net", "data", … */
    bool has_rows;           /* rows_in, rows_kept, rows_rejected are set */
    int64_t rows_in, rows_kept, rows_rejected;
    bool has_duration;
    double duration_s;
    const char *extra;       /* more members, already JSON, without braces:
                                "\"tables\":{\"fact_sales\":3}" */
} sp_log_fields;

void sp_log_event(sp_log_level level, const sp_log_fields *f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The context every line carries until changed (JSON logs): the run's ds
 * and run_id (NULL clears), the task and its attempt number (NULL / 0
 * clear). Set by the runner and the task command; any thread may log. */
void sp_log_set_run(const char *ds, const char *run_id);
void sp_log_set_task(const char *task, int attempt);

/* The progress line (progress.c): drawn on stderr with \r, lifted before
 * each log line and drawn again after it; NULL erases it. */
void sp_log_status(const char *line);

#endif
