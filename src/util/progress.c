/* progress.c — the live progress line (see progress.h). Counters are C11
 * atomics bumped by any thread; one drawing thread per phase wakes every
 * 100 ms, formats the line and hands it to the logger (sp_log_status), so a
 * log line and the progress line never interleave. Never draws when
 * disabled, and never blocks a task: a draw is a read of two atomics. */
#include "progress.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define REDRAW_NS 100000000L /* at most 10 redraws a second */

static bool enabled, color;
static int columns = 80;
static atomic_llong done, rows;

/* The open phase: written by begin/end (the task's thread) while no drawer
 * runs, read by the drawer. */
static char label[48];
static sp_progress_unit unit;
static int64_t total;
static double t0;
static pthread_t drawer;
static bool drawing;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv;
static bool stopping;

void sp_progress_setup(bool on, bool use_color)
{
    enabled = on;
    color = use_color;
    struct winsize ws;
    if (on && ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        columns = ws.ws_col;
}

bool sp_progress_enabled(void) { return enabled; }

void sp_progress_add(int64_t n)
{
    if (enabled)
        atomic_fetch_add_explicit(&done, n, memory_order_relaxed);
}

void sp_progress_add_rows(int64_t n)
{
    if (enabled)
        atomic_fetch_add_explicit(&rows, n, memory_order_relaxed);
}

/* 1536 → "1.5 KiB"; rows: 1234567 → "1.23M". */
static void human(char *out, size_t outsz, double v, sp_progress_unit u)
{
    static const char *bytes[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    static const char *count[] = {"", "k", "M", "G", "T"};
    double step = u == SP_PROGRESS_BYTES ? 1024 : 1000;
    int i = 0;
    while (v >= step && i < 4) {
        v /= step;
        i++;
    }
    if (u == SP_PROGRESS_BYTES)
        snprintf(out, outsz, i ? "%.1f %s" : "%.0f %s", v, bytes[i]);
    else
        snprintf(out, outsz, i ? "%.2f%s rows" : "%.0f%s rows", v, count[i]);
}

static void duration(char *out, size_t outsz, double s)
{
    long long t = (long long)(s + 0.5);
    if (t >= 3600)
        snprintf(out, outsz, "%lldh%02lldm", t / 3600, t / 60 % 60);
    else if (t >= 60)
        snprintf(out, outsz, "%lldm%02llds", t / 60, t % 60);
    else
        snprintf(out, outsz, "%llds", t);
}

void sp_progress_format(char *out, size_t outsz, const char *what, sp_progress_unit u,
                        int64_t d, int64_t tot, int64_t nrows, double elapsed)
{
    char a[32], b[32], r[32], e[32], rw[32];
    if (tot > 0 && d > tot) /* a pass read again (encoding restart) */
        d = tot;
    human(a, sizeof a, (double)d, u);
    size_t n = (size_t)snprintf(out, outsz, "%s  %s", what, a);
    if (tot > 0 && n < outsz) {
        human(b, sizeof b, (double)tot, u);
        n += (size_t)snprintf(out + n, outsz - n, " / %s  %3d%%", b, (int)(100 * d / tot));
    }
    double rate = elapsed > 0 ? (double)d / elapsed : 0;
    if (rate > 0 && n < outsz) {
        human(r, sizeof r, rate, u);
        n += (size_t)snprintf(out + n, outsz - n, "  %s/s", r);
        if (tot > 0 && d < tot && n < outsz) {
            duration(e, sizeof e, (double)(tot - d) / rate);
            n += (size_t)snprintf(out + n, outsz - n, "  ETA %s", e);
        }
    }
    if (nrows > 0 && n < outsz) {
        human(rw, sizeof rw, (double)nrows, SP_PROGRESS_ROWS);
        snprintf(out + n, outsz - n, "  %s kept", rw);
    }
}

static void draw(void)
{
    char line[256], shown[300];
    sp_progress_format(line, sizeof line, label, unit,
                       atomic_load_explicit(&done, memory_order_relaxed), total,
                       atomic_load_explicit(&rows, memory_order_relaxed), sp_mono_seconds() - t0);
    /* Never wider than the terminal: a wrapped line cannot be redrawn. */
    if ((int)strlen(line) > columns - 1)
        line[columns - 1] = '\0';
    if (color) {
        size_t ll = strlen(label) < strlen(line) ? strlen(label) : strlen(line);
        snprintf(shown, sizeof shown, "\033[1m%.*s\033[0m%s", (int)ll, line, line + ll);
        sp_log_status(shown);
    } else {
        sp_log_status(line);
    }
}

static void *draw_loop(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    while (!stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += REDRAW_NS;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        int rc = 0;
        while (!stopping && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&cv, &mu, &until);
        if (!stopping)
            draw();
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

void sp_progress_end(void)
{
    if (!drawing)
        return;
    pthread_mutex_lock(&mu);
    stopping = true;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    pthread_join(drawer, NULL);
    drawing = false;
    sp_log_status(NULL);
}

void sp_progress_begin(const char *what, sp_progress_unit u, int64_t tot)
{
    if (!enabled)
        return;
    sp_progress_end();
    snprintf(label, sizeof label, "%s", what);
    unit = u;
    total = tot > 0 ? tot : 0;
    atomic_store(&done, 0);
    atomic_store(&rows, 0);
    t0 = sp_mono_seconds();
    static bool cv_ready;
    if (!cv_ready) {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&cv, &ca);
        pthread_condattr_destroy(&ca);
        cv_ready = true;
    }
    stopping = false;
    /* No thread, no line: the task runs on without progress. */
    drawing = pthread_create(&drawer, NULL, draw_loop, NULL) == 0;
}
