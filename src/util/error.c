/* error.c — formatting for the sp_error convention (see error.h). */
#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void sp_error_clear(sp_error *err)
{
    err->code = SP_OK;
    err->retryable = false;
    err->sys_errno = 0;
    err->msg[0] = '\0';
}

static int fill(sp_error *err, int code, bool retryable, const char *fmt, va_list ap)
{
    int e = errno; /* the failed call's, when the message quotes it */
    err->code = code;
    err->retryable = retryable;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    err->sys_errno = code == SP_ERR_IO && e && strstr(err->msg, strerror(e)) ? e : 0;
    errno = e;
    return code;
}

int sp_fail(sp_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fill(err, code, false, fmt, ap);
    va_end(ap);
    return code;
}

int sp_failv(sp_error *err, int code, const char *fmt, va_list ap)
{
    return fill(err, code, false, fmt, ap);
}

int sp_fail_retry(sp_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fill(err, code, true, fmt, ap);
    va_end(ap);
    return code;
}

int sp_error_prefix(sp_error *err, const char *fmt, ...)
{
    char ctx[SP_ERROR_MSG_MAX];
    char old[SP_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* ctx first, then as much of the old message as fits */
    size_t n = strlen(ctx);
    memcpy(err->msg, ctx, n);
    memcpy(err->msg + n, ": ", 2);
    n += 2;
    size_t room = sizeof err->msg - 1 - n, ol = strlen(old);
    if (ol > room)
        ol = room;
    memcpy(err->msg + n, old, ol);
    err->msg[n + ol] = '\0';
    return err->code;
}

/* Local errors that the same call meets again however long the runner
 * waits: someone has to create, rename, free or grant something first. */
static bool lasting_errno(int e)
{
    switch (e) {
    case ENOENT: case ENOTDIR: case EISDIR: case EACCES: case EPERM: case EROFS:
    case ENOSPC: case EDQUOT: case ENAMETOOLONG: case ELOOP: case EINVAL: case EEXIST:
    case EXDEV: case EFBIG: case ENOTEMPTY: case EBADF:
        return true;
    default:
        return false;
    }
}

bool sp_error_retryable(const sp_error *err)
{
    if (err->code == SP_ERR_CANCELLED) /* the operator asked to stop */
        return false;
    if (err->retryable)
        return true;
    switch (err->code) {
    case SP_OK:
    case SP_ERR_USAGE:
    case SP_ERR_DATA:
    case SP_ERR_CORRUPT:
    case SP_ERR_LIMIT:
    case SP_ERR_UNSUPPORTED:
    case SP_ERR_NET: /* the backend marks what is transient (5xx, lost connection) */
        return false;
    case SP_ERR_IO:
        return !lasting_errno(err->sys_errno);
    default: /* nomem, internal: may pass on their own */
        return true;
    }
}

const char *sp_status_name(int code)
{
    switch (code) {
    case SP_OK: return "ok";
    case SP_ERR_USAGE: return "usage";
    case SP_ERR_IO: return "io";
    case SP_ERR_CORRUPT: return "corrupt";
    case SP_ERR_LIMIT: return "limit";
    case SP_ERR_NOMEM: return "nomem";
    case SP_ERR_UNSUPPORTED: return "unsupported";
    case SP_ERR_DATA: return "data";
    case SP_ERR_NET: return "net";
    case SP_ERR_INTERNAL: return "internal";
    case SP_ERR_CANCELLED: return "cancelled";
    }
    return "unknown";
}
