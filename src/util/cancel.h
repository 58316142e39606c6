/* cancel.h — the process-wide stop request (SIGINT, SIGTERM; SPEC §8 "Stops").
 * The runner and the task commands install the handler; long loops (CSV
 * reads, store puts and gets, S3 transfers and retry sleeps, COPY, the
 * runner's retry delay) poll sp_cancelled() and return SP_ERR_CANCELLED
 * through their ordinary failure path, which removes their temporary files.
 * The handler never does work itself beyond setting the flag and calling
 * the registered hooks (PQcancel, sqlite3_interrupt); a second signal exits
 * at once with 128 + signal. Knows nothing of the modules that poll it. */
#ifndef SP_UTIL_CANCEL_H
#define SP_UTIL_CANCEL_H

#include <stdbool.h>

#include "error.h"

/* Install the SIGINT and SIGTERM handler (sigaction, no SA_RESTART, so a
 * blocking call returns EINTR); sp_cancel_uninstall restores the default
 * action. The flag stays set until sp_cancel_reset. */
void sp_cancel_install(void);
void sp_cancel_uninstall(void);

/* The signal that asked to stop, or 0. Async-signal-safe, any thread. */
int sp_cancel_signal(void);
static inline bool sp_cancelled(void) { return sp_cancel_signal() != 0; }

/* "SIGTERM", "SIGINT", or "signal N". */
const char *sp_cancel_signal_name(int sig);

/* SP_OK when no stop was asked; else fills err with SP_ERR_CANCELLED,
 * "cancelled by SIGTERM" followed by `what` (", while …"; may be NULL), and
 * returns it. Never retryable. */
int sp_cancel_check(sp_error *err, const char *what);

/* Sleep up to `seconds`, waking within 50 ms of a stop request: returns the
 * signal that woke it, or 0 after the full sleep. */
int sp_cancel_sleep(double seconds);

/* Act as if signal sig had arrived once (tests, and callers that stop on
 * their own); sp_cancel_reset clears the flag and the notes (tests). */
void sp_cancel_request(int sig);
void sp_cancel_reset(void);

/* A hook runs inside the signal handler when the first signal arrives (so
 * it must be async-signal-safe: PQcancel with a local buffer,
 * sqlite3_interrupt). Returns a slot for sp_cancel_hook_remove, or -1 when
 * all SP_CANCEL_HOOKS slots are taken (the caller then relies on polling).
 * After remove returns, the hook is not running and will not run again, so
 * its argument may be freed. */
enum { SP_CANCEL_HOOKS = 8 };
typedef void (*sp_cancel_hook_fn)(void *arg);
int sp_cancel_hook_add(sp_cancel_hook_fn fn, void *arg);
void sp_cancel_hook_remove(int slot);

/* What the stop cleaned up, for the last log line: failure paths call
 * sp_cancel_note("removed %s", tmp) after they removed something; the note is
 * kept only while a stop is in progress (else it is ignored). Notes are
 * joined with "; " and capped (the rest is counted as "and N more").
 * sp_cancel_notes returns "" when nothing was noted. Thread-safe; not for
 * signal handlers. */
void sp_cancel_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *sp_cancel_notes(void);

#endif
