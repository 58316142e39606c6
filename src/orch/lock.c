/* lock.c — runs and single tasks of one ds never interleave: a flock on
 * STATE_DIR/locks/<ds>.lock, exclusive for a run's lifetime, shared for a
 * single task's (tasks of one ds may overlap, as they are built to: the
 * warehouse's own lock orders two loads), released by the kernel when the
 * process ends however it ends, so a ledger row "running" whose lock nobody
 * holds exclusively belongs to a dead process. The file holds "pid holder"
 * ("run RUN_ID" or "task NAME", the latest to take it) for the refusal
 * message; never deleted (a deleted lock file could be held by one process
 * and re-created by another). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "../util/fsutil.h"
#include "orch.h"

static int lock_path(const char *state_dir, const char *ds, char *out, size_t outsz,
                     sp_error *err)
{
    if ((size_t)snprintf(out, outsz, "%s/locks/%s.lock", state_dir, ds) >= outsz)
        return sp_fail(err, SP_ERR_USAGE, "STATE_DIR: path too long");
    return SP_OK;
}

void orch_lock_note(int fd, const char *holder)
{
    char line[128];
    int n = snprintf(line, sizeof line, "%ld %s\n", (long)getpid(), holder);
    if (n > 0 && (size_t)n < sizeof line && ftruncate(fd, 0) == 0 &&
        pwrite(fd, line, (size_t)n, 0) == n)
        return;
    /* Only the refusal message of another process reads this: not fatal. */
}

/* The refusal: names what holds the lock ("run R" or "task T") and its pid,
 * from the "pid holder" line of the lock file (empty while the holder is
 * still writing it). A two-field line is an older salespipe's "pid run_id". */
static int refuse(const char *ds, const char *path, const char *holder, sp_error *err)
{
    long pid = 0;
    char kind[16] = "", name[100] = "";
    int n = sscanf(holder, "%ld %15s %99s", &pid, kind, name);
    if (n == 2) {
        snprintf(name, sizeof name, "%s", kind);
        snprintf(kind, sizeof kind, "run");
        n = 3;
    }
    if (n == 3 && (strcmp(kind, "run") == 0 || strcmp(kind, "task") == 0))
        return sp_fail(err, SP_ERR_IO,
                       "a %s for ds %s is already in progress: %s %s (pid %ld) holds %s; "
                       "refusing to start (runs and tasks of one ds never interleave)",
                       kind, ds, kind, name, pid, path);
    return sp_fail(err, SP_ERR_IO,
                   "a run or task for ds %s is already in progress: another process holds %s; "
                   "refusing to start (runs and tasks of one ds never interleave)", ds, path);
}

int orch_lock_acquire(const char *state_dir, const char *ds, bool shared, const char *holder,
                      int *fd, bool *busy, sp_error *err)
{
    *fd = -1;
    *busy = false;
    char dir[1024], path[1100];
    if ((size_t)snprintf(dir, sizeof dir, "%s/locks", state_dir) >= sizeof dir)
        return sp_fail(err, SP_ERR_USAGE, "STATE_DIR: path too long");
    if (sp_mkdirs(dir, strlen(dir), err) != SP_OK)
        return sp_error_prefix(err, "STATE_DIR");
    SP_TRY(lock_path(state_dir, ds, path, sizeof path, err));
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (f < 0)
        return sp_fail(err, SP_ERR_IO, "run lock %s: %s", path, strerror(errno));
    /* A few quick tries: orch_lock_held() probes hold the lock (shared) for
     * an instant, which must not read as a run in progress. */
    int locked = -1, e = 0;
    for (int i = 0; i < 5 && locked != 0; i++) {
        if (i)
            usleep(20000);
        locked = flock(f, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB);
        e = errno;
        if (locked != 0 && e != EWOULDBLOCK)
            break;
    }
    if (locked != 0) {
        if (e != EWOULDBLOCK) {
            close(f);
            return sp_fail(err, SP_ERR_IO, "run lock %s: %s", path, strerror(e));
        }
        char line[128] = "";
        ssize_t n = pread(f, line, sizeof line - 1, 0);
        close(f);
        line[n > 0 ? n : 0] = '\0';
        *busy = true;
        return refuse(ds, path, line, err);
    }
    orch_lock_note(f, holder);
    *fd = f;
    return SP_OK;
}

void orch_lock_release(int fd)
{
    if (fd >= 0)
        close(fd); /* closing the only descriptor releases the flock */
}

bool orch_lock_held(const char *state_dir, const char *ds)
{
    char path[1100];
    sp_error err;
    if (lock_path(state_dir, ds, path, sizeof path, &err) != SP_OK)
        return true; /* cannot tell: never call a live run dead */
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return errno != ENOENT;
    bool held = flock(f, LOCK_SH | LOCK_NB) != 0;
    close(f);
    return held;
}
