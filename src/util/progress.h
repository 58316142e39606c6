/* progress.h — the live progress line of a long task on a terminal (SPEC §9):
 * "transform  45.2 MiB / 120.0 MiB   37%  12.3 MiB/s  ETA 6s  1.23M rows kept".
 * Tasks feed atomic counters (safe from any thread, a few nanoseconds each,
 * nothing else); a drawing thread redraws the line at most 10 times a second
 * through the logger (log.c), which lifts it off the terminal while it writes
 * a log line. Disabled (the default), every call is a cheap no-op and
 * nothing is ever drawn: not a TTY, -q, NO_PROGRESS=1, JSON logs. */
#ifndef SP_PROGRESS_H
#define SP_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum sp_progress_unit { SP_PROGRESS_BYTES, SP_PROGRESS_ROWS } sp_progress_unit;

/* Decide once, at start-up: enabled draws (when on), color uses bold for
 * the label (off under NO_COLOR). */
void sp_progress_setup(bool enabled, bool color);
/* Is progress drawn at all? (Callers may skip computing totals when not.) */
bool sp_progress_enabled(void);

/* A task (or a phase of one, e.g. "load fact_sales") starts: label is
 * copied; total is the amount of work in unit, 0 when unknown (then no
 * percentage and no ETA). Ends any phase still open. */
void sp_progress_begin(const char *label, sp_progress_unit unit, int64_t total);
/* Work done: n more units (bytes or rows, as begun). Any thread. */
void sp_progress_add(int64_t n);
/* Rows kept, shown beside the main count (transform: its main count is
 * bytes read). Any thread. */
void sp_progress_add_rows(int64_t n);
/* The phase is over: the drawing thread stops and the line is erased.
 * Safe when nothing began. */
void sp_progress_end(void);

/* The line as drawn, for tests: label, done/total, percent, rate, ETA and
 * rows from the given figures (elapsed in seconds). Writes at most outsz
 * bytes, NUL-terminated. */
void sp_progress_format(char *out, size_t outsz, const char *label, sp_progress_unit unit,
                        int64_t done, int64_t total, int64_t rows, double elapsed);

#endif
