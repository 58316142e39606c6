/* owner.c — owner tags of temporary names (owner.h): this process's tag
 * and the liveness check of another's, from /proc. Reads only /proc and
 * the host name; never signals a process. */
#include "owner.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char g_tag[SP_OWNER_TAG_MAX];
static uint32_t g_host, g_boot;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* Field 22 of /proc/<pid>/stat (start time in ticks since boot); 0 when the
 * process does not exist. The command name (field 2) may hold spaces and
 * parentheses, so fields are counted after its last ')'. */
static unsigned long long start_ticks(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    /* after ") ": field 3 (state) … field 22 */
    int field = 2;
    for (p++; *p && field < 22; p++)
        if (*p == ' ')
            field++;
    return strtoull(p, NULL, 10);
}

static void init_tag(void)
{
    char host[256] = "", boot[64] = "";
    if (gethostname(host, sizeof host) != 0)
        host[0] = '\0';
    host[sizeof host - 1] = '\0';
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
    if (f) {
        if (!fgets(boot, sizeof boot, f))
            boot[0] = '\0';
        fclose(f);
    }
    boot[strcspn(boot, "\n")] = '\0';
    g_host = fnv1a(host);
    g_boot = fnv1a(boot);
    long pid = (long)getpid();
    snprintf(g_tag, sizeof g_tag, "%08" PRIx32 "%08" PRIx32 ".%ld.%llu", g_host, g_boot, pid,
             start_ticks(pid));
}

const char *sp_owner_tag(void)
{
    pthread_once(&g_once, init_tag);
    return g_tag;
}

static bool hex8(const char *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 8; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return false;
        v = v << 4 | (uint32_t)d;
    }
    *out = v;
    return true;
}

sp_owner_state sp_owner_check(const char *tag, size_t len)
{
    pthread_once(&g_once, init_tag);
    char t[SP_OWNER_TAG_MAX];
    if (len < 20 || len >= sizeof t)
        return SP_OWNER_UNKNOWN;
    memcpy(t, tag, len);
    t[len] = '\0';
    uint32_t host, boot;
    if (t[16] != '.' || !hex8(t, &host) || !hex8(t + 8, &boot))
        return SP_OWNER_UNKNOWN;
    char *end;
    long pid = strtol(t + 17, &end, 10);
    if (*end != '.' || pid <= 0)
        return SP_OWNER_UNKNOWN;
    unsigned long long start = strtoull(end + 1, &end, 10);
    if (*end != '\0')
        return SP_OWNER_UNKNOWN;
    if (host != g_host)
        return SP_OWNER_UNKNOWN;
    if (boot != g_boot)
        return SP_OWNER_GONE; /* this machine rebooted since: every process of then is gone */
    unsigned long long now = start_ticks(pid);
    return now != 0 && now == start ? SP_OWNER_ALIVE : SP_OWNER_GONE;
}

bool sp_owner_is_debris(const char *name, int64_t mtime, int64_t max_age)
{
    sp_owner_state st = sp_owner_check(name, strcspn(name, "-"));
    if (st != SP_OWNER_UNKNOWN)
        return st == SP_OWNER_GONE;
    return (int64_t)time(NULL) - mtime > max_age;
}
