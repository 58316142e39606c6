/* policy.c — which failures the runner retries, how long it waits between
 * attempts, and the names of run and task states (see orch.h). Pure
 * functions: no I/O, no clock except orch_iso8601's formatting. */
#include <time.h>

#include "orch.h"

static const char *const STATE_NAMES[] = {"pending", "running", "succeeded", "failed", "skipped"};

const char *orch_state_name(orch_state s)
{
    return (unsigned)s < sizeof STATE_NAMES / sizeof STATE_NAMES[0] ? STATE_NAMES[s] : "?";
}

bool orch_is_retryable(const sp_error *err)
{
    return sp_error_retryable(err);
}

#define MAX_DELAY (24LL * 3600)

long long orch_retry_delay(long long delay, bool exponential, int retry)
{
    if (delay <= 0)
        return 0;
    long long d = delay > MAX_DELAY ? MAX_DELAY : delay;
    if (exponential)
        for (int i = 1; i < retry && d < MAX_DELAY; i++)
            d *= 2;
    return d > MAX_DELAY ? MAX_DELAY : d;
}

void orch_iso8601(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
