/* error.h — the one error convention of salespipe.
 * Every fallible function returns an int status (SP_OK = 0) and fills a
 * caller-owned sp_error with a message that names the cause (file:line,
 * column, server). `retryable` tells the runner whether trying again can help.
 * Messages must never contain secrets: callers mask them before formatting. */
#ifndef SP_ERROR_H
#define SP_ERROR_H

#include <stdarg.h>
#include <stdbool.h>

enum sp_status {
    SP_OK = 0,
    SP_ERR_USAGE,       /* command line or configuration cannot be parsed */
    SP_ERR_IO,          /* a local file could not be read or written */
    SP_ERR_CORRUPT,     /* input bytes violate their format (Parquet, CSV, …) */
    SP_ERR_LIMIT,       /* input exceeds a safety cap (size, count, length) */
    SP_ERR_NOMEM,       /* allocation failed */
    SP_ERR_UNSUPPORTED, /* valid input using a feature we do not implement */
    SP_ERR_DATA,        /* data violates the data contract (missing column, …) */
    SP_ERR_NET,         /* a server could not be reached or answered badly */
    SP_ERR_INTERNAL,    /* a bug: an invariant did not hold */
    SP_ERR_CANCELLED,   /* SIGINT/SIGTERM asked to stop (util/cancel.h): never retried */
};

#define SP_ERROR_MSG_MAX 1024

typedef struct sp_error {
    int code;                    /* an sp_status; SP_OK when nothing failed */
    bool retryable;              /* true when the same call may succeed later */
    int sys_errno;               /* SP_ERR_IO: the errno the message quotes, or 0 */
    char msg[SP_ERROR_MSG_MAX];  /* NUL-terminated, human readable, no secrets */
} sp_error;

/* Reset to "no error". */
void sp_error_clear(sp_error *err);

/* Fill err (permanent failure) and return code, so callers can write
 * `return sp_fail(err, SP_ERR_IO, "%s: %s", path, strerror(errno));`. */
int sp_fail(sp_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* sp_fail for wrappers that add their own context (see sp_error_prefix). */
int sp_failv(sp_error *err, int code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Same, but marks the failure retryable (network, server busy). */
int sp_fail_retry(sp_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepend context to an existing message: "ctx: old message". Returns code. */
int sp_error_prefix(sp_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* May trying the same work again help? True when the error says so
 * (`retryable`); false for configuration (SP_ERR_USAGE), the data contract
 * (SP_ERR_DATA), bytes that violate their format (SP_ERR_CORRUPT), safety
 * caps (SP_ERR_LIMIT), unsupported features, and servers' answers that the
 * backend did not mark transient (SP_ERR_NET); false for a local error that
 * waiting cannot fix — an SP_ERR_IO whose errno is a missing file or folder,
 * a permission, a read-only or full file system, a name too long, … (the
 * errno is taken when the message quotes strerror(errno), as every
 * "path: strerror(errno)" message does); true for other I/O, memory and
 * internal errors. */
bool sp_error_retryable(const sp_error *err);

/* Short stable name of a status ("io", "corrupt", …) for logs and JSON. */
const char *sp_status_name(int code);

/* Return early with the status of a failing call. */
#define SP_TRY(expr)                      \
    do {                                  \
        int sp_try_rc_ = (expr);          \
        if (sp_try_rc_ != SP_OK)          \
            return sp_try_rc_;            \
    } while (0)

#endif
