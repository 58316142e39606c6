/* log.c — text/JSON log lines with secret scrubbing (see log.h). */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "json.h"

#define MAX_SECRETS 16

static bool log_json;
static int log_verbosity;
static char *secrets[MAX_SECRETS];
static int nsecrets;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void sp_log_setup(bool json, int verbosity)
{
    log_json = json;
    log_verbosity = verbosity;
}

void sp_log_add_secret(const char *value)
{
    if (!value || strlen(value) < 4 || nsecrets == MAX_SECRETS)
        return;
    for (int i = 0; i < nsecrets; i++)
        if (strcmp(secrets[i], value) == 0)
            return;
    char *copy = strdup(value);
    if (copy)
        secrets[nsecrets++] = copy;
}

void sp_log_scrub(char *s)
{
    for (int i = 0; i < nsecrets; i++) {
        size_t n = strlen(secrets[i]);
        char *p;
        while ((p = strstr(s, secrets[i])) != NULL) {
            memcpy(p, "***", 3);
            memmove(p + 3, p + n, strlen(p + n) + 1);
        }
    }
}

static const char *level_name(sp_log_level l)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    return names[l];
}

void sp_log(sp_log_level level, const char *fmt, ...)
{
    if ((int)level > (log_verbosity < 0 ? SP_LOG_ERROR : log_verbosity == 0 ? SP_LOG_INFO : SP_LOG_DEBUG))
        return;
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sp_log_scrub(msg);

    char ts[32];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);

    sp_buf line;
    sp_buf_init(&line, 1 << 16);
    if (log_json) {
        sp_buf_printf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts, level_name(level));
        sp_json_cstr(&line, msg);
        sp_buf_puts(&line, "}\n");
    } else {
        char up[8];
        const char *ln = level_name(level);
        size_t i = 0;
        for (; i < sizeof up - 1 && ln[i]; i++)
            up[i] = (char)(ln[i] - 32);
        up[i] = '\0';
        sp_buf_printf(&line, "%s %-5s %s\n", ts, up, msg);
    }
    if (!line.broken) {
        pthread_mutex_lock(&log_lock);
        fwrite(line.data, 1, line.len, stderr);
        fflush(stderr);
        pthread_mutex_unlock(&log_lock);
    }
    sp_buf_free(&line);
}
