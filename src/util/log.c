/* log.c — text/JSON log lines with structured fields, the run's context
 * and secret scrubbing (see log.h); the one writer of stderr's lines, so the
 * progress line and log lines never interleave. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "json.h"

/* Temporary AWS credentials add two secrets at each refresh: past the
 * first PINNED (the configuration's own), the oldest is replaced when full. */
#define MAX_SECRETS 256
#define PINNED_SECRETS 32

static bool log_json;
static int log_verbosity;
static char *secrets[MAX_SECRETS];
static int nsecrets, next_slot = PINNED_SECRETS;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
/* Under log_lock: the context, and the progress line shown ("" none). */
static char ctx_ds[16], ctx_run_id[64], ctx_task[32];
static int ctx_attempt;
static char status[512];
/* Secrets are added by threads that refresh credentials while others log. */
static pthread_mutex_t secrets_lock = PTHREAD_MUTEX_INITIALIZER;

void sp_log_setup(bool json, int verbosity)
{
    log_json = json;
    log_verbosity = verbosity;
}

bool sp_log_is_json(void) { return log_json; }

void sp_log_add_secret(const char *value)
{
    if (!value || strlen(value) < 4)
        return;
    pthread_mutex_lock(&secrets_lock);
    bool known = false;
    for (int i = 0; i < nsecrets && !known; i++)
        known = strcmp(secrets[i], value) == 0;
    char *copy = known ? NULL : strdup(value);
    if (copy && nsecrets < MAX_SECRETS) {
        secrets[nsecrets++] = copy;
    } else if (copy) {
        free(secrets[next_slot]);
        secrets[next_slot] = copy;
        next_slot = next_slot + 1 < MAX_SECRETS ? next_slot + 1 : PINNED_SECRETS;
    }
    pthread_mutex_unlock(&secrets_lock);
}

void sp_log_scrub(char *s)
{
    pthread_mutex_lock(&secrets_lock);
    for (int i = 0; i < nsecrets; i++) {
        size_t n = strlen(secrets[i]);
        char *p;
        while ((p = strstr(s, secrets[i])) != NULL) {
            memcpy(p, "***", 3);
            memmove(p + 3, p + n, strlen(p + n) + 1);
        }
    }
    pthread_mutex_unlock(&secrets_lock);
}

static const char *level_name(sp_log_level l)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    return names[l];
}

void sp_log_set_run(const char *ds, const char *run_id)
{
    pthread_mutex_lock(&log_lock);
    snprintf(ctx_ds, sizeof ctx_ds, "%s", ds ? ds : "");
    snprintf(ctx_run_id, sizeof ctx_run_id, "%s", run_id ? run_id : "");
    pthread_mutex_unlock(&log_lock);
}

void sp_log_set_task(const char *task, int attempt)
{
    pthread_mutex_lock(&log_lock);
    snprintf(ctx_task, sizeof ctx_task, "%s", task ? task : "");
    ctx_attempt = attempt;
    pthread_mutex_unlock(&log_lock);
}

/* "key":"value" with the value scrubbed; nothing when v is NULL or "". */
static void json_str_member(sp_buf *b, const char *key, const char *v)
{
    if (!v || !*v)
        return;
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", v);
    sp_log_scrub(copy);
    sp_buf_printf(b, ",\"%s\":", key);
    sp_json_cstr(b, copy);
}

/* The JSON object of one line; called under log_lock (reads the context). */
static void json_line(sp_buf *line, const char *ts, sp_log_level level, const char *msg,
                      const sp_log_fields *f)
{
    sp_buf_printf(line, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts, level_name(level));
    sp_json_cstr(line, msg);
    json_str_member(line, "task", ctx_task);
    json_str_member(line, "ds", ctx_ds);
    json_str_member(line, "run_id", ctx_run_id);
    if (ctx_attempt > 0 && ctx_task[0])
        sp_buf_printf(line, ",\"attempt\":%d", ctx_attempt);
    const char *event = f && f->event ? f->event : level == SP_LOG_WARN ? "warning" : NULL;
    json_str_member(line, "event", event);
    if (f) {
        json_str_member(line, "file", f->file);
        if (f->has_rows)
            sp_buf_printf(line, ",\"rows_in\":%lld,\"rows_kept\":%lld,\"rows_rejected\":%lld",
                          (long long)f->rows_in, (long long)f->rows_kept,
                          (long long)f->rows_rejected);
        if (f->has_duration)
            sp_buf_printf(line, ",\"duration_s\":%.3f", f->duration_s >= 0 ? f->duration_s : 0.0);
        json_str_member(line, "error_class", f->error_class);
        if (f->extra && *f->extra) {
            char copy[8192];
            snprintf(copy, sizeof copy, "%s", f->extra);
            sp_log_scrub(copy);
            sp_buf_printf(line, ",%s", copy);
        }
    }
    sp_buf_puts(line, "}\n");
}

/* Write one line to stderr, lifting the progress line off the terminal for
 * it and drawing it again after. */
static void emit(const void *data, size_t len)
{
    if (status[0])
        fputs("\r\033[K", stderr);
    fwrite(data, 1, len, stderr);
    if (status[0])
        fprintf(stderr, "\r%s\033[K", status);
    fflush(stderr);
}

void sp_log_status(const char *text)
{
    pthread_mutex_lock(&log_lock);
    if (text) {
        snprintf(status, sizeof status, "%s", text);
        fprintf(stderr, "\r%s\033[K", status);
    } else if (status[0]) {
        status[0] = '\0';
        fputs("\r\033[K", stderr);
    }
    fflush(stderr);
    pthread_mutex_unlock(&log_lock);
}

static void vlog(sp_log_level level, const sp_log_fields *f, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

void sp_log(sp_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, NULL, fmt, ap);
    va_end(ap);
}

void sp_log_event(sp_log_level level, const sp_log_fields *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, f, fmt, ap);
    va_end(ap);
}

static void vlog(sp_log_level level, const sp_log_fields *f, const char *fmt, va_list ap)
{
    if ((int)level > (log_verbosity < 0 ? SP_LOG_ERROR : log_verbosity == 0 ? SP_LOG_INFO : SP_LOG_DEBUG))
        return;
    char msg[4096];
    vsnprintf(msg, sizeof msg, fmt, ap);
    sp_log_scrub(msg);

    char ts[32];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);

    sp_buf line;
    sp_buf_init(&line, 1 << 16);
    pthread_mutex_lock(&log_lock);
    if (log_json) {
        json_line(&line, ts, level, msg, f);
    } else {
        char up[8];
        const char *ln = level_name(level);
        size_t i = 0;
        for (; i < sizeof up - 1 && ln[i]; i++)
            up[i] = (char)(ln[i] - 32);
        up[i] = '\0';
        sp_buf_printf(&line, "%s %-5s %s\n", ts, up, msg);
    }
    if (!line.broken)
        emit(line.data, line.len);
    pthread_mutex_unlock(&log_lock);
    sp_buf_free(&line);
}
