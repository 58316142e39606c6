/* sweep.c — debris of processes that died mid-task (kill -9, a lost
 * machine), removed by the next run or task that uses the same stores:
 * ".tmp-…" files and folders in both stores and S3 multipart uploads left
 * open (store_sweep), and the work folders in TMPDIR. Only what a dead
 * owner left: the owner tag in each name (util/owner.h) protects a live
 * concurrent run's files; what no tag can vouch for waits DEBRIS_MAX_AGE.
 * Never fails a run: a sweep that cannot finish is a warning. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../util/fsutil.h"
#include "../util/log.h"
#include "../util/owner.h"
#include "orch.h"

static void tell(void *ctx, const char *what)
{
    sp_log(SP_LOG_INFO, "sweep: %s (debris of a process that is gone)", what);
    (*(int *)ctx)++;
}

/* TMPDIR/salespipe-{transform,load}-<owner>-XXXXXX: transform's and load's
 * work folders when the processed store is not local. */
static void sweep_tmpdir(int64_t max_age, int *removed)
{
    static const char *const HEADS[] = {"salespipe-transform-", "salespipe-load-"};
    const char *tmp = getenv("TMPDIR");
    const char *dir = tmp && *tmp ? tmp : "/tmp";
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        for (size_t h = 0; h < sizeof HEADS / sizeof HEADS[0]; h++) {
            size_t hl = strlen(HEADS[h]);
            if (strncmp(e->d_name, HEADS[h], hl) != 0)
                continue;
            char path[PATH_MAX];
            struct stat st;
            if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path ||
                lstat(path, &st) != 0 || !S_ISDIR(st.st_mode) ||
                !sp_owner_is_debris(e->d_name + hl, (int64_t)st.st_mtime, max_age))
                continue;
            sp_error err;
            if (sp_remove_tree(path, &err) == SP_OK) {
                char what[PATH_MAX + 16];
                snprintf(what, sizeof what, "removed %s", path);
                tell(removed, what);
            } else {
                sp_log(SP_LOG_WARN, "sweep: %s", err.msg);
            }
        }
    }
    closedir(d);
}

int orch_sweep(pl_ctx *ctx)
{
    long long max_age = strtoll(sp_config_get(ctx->cfg, "DEBRIS_MAX_AGE"), NULL, 10);
    int removed = 0;
    store *stores[2] = {NULL, NULL};
    sp_error err;
    if (pl_raw_store(ctx, &stores[0], &err) != SP_OK)
        sp_log(SP_LOG_WARN, "sweep: %s", err.msg);
    if (pl_processed_store(ctx, &stores[1], &err) != SP_OK)
        sp_log(SP_LOG_WARN, "sweep: %s", err.msg);
    for (int i = 0; i < 2; i++) {
        int n = 0;
        if (!stores[i] || (i == 1 && stores[1] == stores[0]))
            continue;
        sp_error_clear(&err);
        if (store_sweep(stores[i], max_age, tell, &removed, &n, &err) != SP_OK)
            sp_log(SP_LOG_WARN, "%s (the run goes on)", err.msg);
    }
    sweep_tmpdir(max_age, &removed);
    return removed;
}
