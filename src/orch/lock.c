/* lock.c — one run per ds at a time: an exclusive flock on
 * STATE_DIR/locks/<ds>.lock, held for the run's lifetime and released by the
 * kernel when the process ends however it ends, so a ledger row "running"
 * whose lock nobody holds belongs to a dead process. The file holds
 * "pid run_id" of the holder for the refusal message; never deleted (a
 * deleted lock file could be held by one process and re-created by another). */
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

void orch_lock_note(int fd, const char *run_id)
{
    char line[128];
    int n = snprintf(line, sizeof line, "%ld %s\n", (long)getpid(), run_id);
    if (ftruncate(fd, 0) == 0 && pwrite(fd, line, (size_t)n, 0) == n)
        return;
    /* Only the refusal message of another run reads this: not fatal. */
}

int orch_lock_acquire(const char *state_dir, const char *ds, const char *run_id, int *fd,
                      bool *busy, sp_error *err)
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
        locked = flock(f, LOCK_EX | LOCK_NB);
        e = errno;
        if (locked != 0 && e != EWOULDBLOCK)
            break;
    }
    if (locked != 0) {
        if (e != EWOULDBLOCK) {
            close(f);
            return sp_fail(err, SP_ERR_IO, "run lock %s: %s", path, strerror(e));
        }
        char holder[128] = "";
        ssize_t n = pread(f, holder, sizeof holder - 1, 0);
        close(f);
        holder[n > 0 ? n : 0] = '\0';
        long pid = 0;
        char id[100] = "";
        *busy = true;
        if (sscanf(holder, "%ld %99s", &pid, id) == 2)
            return sp_fail(err, SP_ERR_IO,
                           "a run for ds %s is already in progress: run %s (pid %ld) holds %s; "
                           "refusing to start another (runs of one ds never interleave)",
                           ds, id, pid, path);
        return sp_fail(err, SP_ERR_IO,
                       "a run for ds %s is already in progress: another process holds %s; "
                       "refusing to start another (runs of one ds never interleave)", ds, path);
    }
    orch_lock_note(f, run_id);
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
