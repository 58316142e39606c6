/* clock.h — the monotonic clock, for durations and deadlines (never for
 * timestamps: those are wall-clock UTC). */
#ifndef SP_UTIL_CLOCK_H
#define SP_UTIL_CLOCK_H

#include <time.h>

/* Seconds on CLOCK_MONOTONIC, with nanosecond resolution. */
static inline double sp_mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
