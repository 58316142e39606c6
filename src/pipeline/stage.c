/* stage.c — SPEC §2 `stage`: upload every local $DATA_DIR/raw file matching
 * RAW_PATTERN to the raw store under the run's prefix. An object that
 * already holds the same bytes (size and SHA-256) is left alone, so staging
 * twice is a no-op; no files is a warning, not an error. */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../util/log.h"
#include "../util/progress.h"
#include "../util/sha256.h"
#include "pipeline.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names of regular files in dir matching pattern. */
static int list_inputs(const char *dir, const char *pattern, char ***names, size_t *n,
                       sp_error *err)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return sp_fail(err, SP_ERR_IO, "input folder %s: %s", dir, strerror(errno));
    size_t cap = 0;
    struct dirent *e;
    int rc = SP_OK;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || fnmatch(pattern, e->d_name, 0) != 0)
            continue;
        char path[PATH_MAX];
        struct stat st;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path ||
            stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(*names, cap * sizeof *nn);
            if (!nn) {
                rc = sp_fail(err, SP_ERR_NOMEM, "out of memory listing %s", dir);
                break;
            }
            *names = nn;
        }
        if (!((*names)[*n] = strdup(e->d_name))) {
            rc = sp_fail(err, SP_ERR_NOMEM, "out of memory listing %s", dir);
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (*n > 1)
        qsort(*names, *n, sizeof **names, cmp_str);
    return rc;
}

/* A local file name that cannot become a store key (a control character:
 * newline, tab, …) is the file's fault, not the command line's: SP_ERR_DATA,
 * checked before anything is uploaded. The name is shown escaped. */
static int check_names(const char *dir, char **names, size_t n, sp_error *err)
{
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = (const unsigned char *)names[i];
        bool bad = false;
        for (const unsigned char *q = p; *q; q++)
            bad |= *q < 0x20 || *q == 0x7f;
        if (!bad)
            continue;
        char shown[400];
        size_t k = 0;
        for (; *p && k + 5 < sizeof shown; p++) {
            if (*p < 0x20 || *p == 0x7f)
                k += (size_t)snprintf(shown + k, sizeof shown - k, "\\x%02x", *p);
            else
                shown[k++] = (char)*p;
        }
        shown[k] = '\0';
        return sp_fail(err, SP_ERR_DATA,
                       "%s/%s: the file name holds a control character, so it cannot become a "
                       "store key; rename the file (nothing was staged)",
                       dir, shown);
    }
    return SP_OK;
}

/* The bytes to stage, for the progress line (0 when not drawn). */
static int64_t total_bytes(const char *dir, char **names, size_t n)
{
    int64_t sum = 0;
    for (size_t i = 0; i < n && sp_progress_enabled(); i++) {
        char path[PATH_MAX];
        struct stat st;
        if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) < (int)sizeof path &&
            stat(path, &st) == 0)
            sum += (int64_t)st.st_size;
    }
    return sum;
}

int pl_stage(pl_ctx *ctx, sp_error *err)
{
    const char *data_dir = sp_config_get(ctx->cfg, "DATA_DIR");
    const char *pattern = sp_config_get(ctx->cfg, "RAW_PATTERN");
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/raw", data_dir) >= (int)sizeof dir)
        return sp_fail(err, SP_ERR_USAGE, "DATA_DIR is too long");
    store *raw;
    SP_TRY(pl_raw_store(ctx, &raw, err));
    char **names;
    size_t n;
    int rc = list_inputs(dir, pattern, &names, &n, err);
    if (rc == SP_OK)
        rc = check_names(dir, names, n, err);
    if (rc == SP_OK && n == 0)
        sp_log(SP_LOG_WARN, "stage: no files matching %s in %s: nothing to stage "
               "(transform will fail with \"no input files\")", pattern, dir);
    size_t uploaded = 0, unchanged = 0;
    if (rc == SP_OK)
        sp_progress_begin("stage", SP_PROGRESS_BYTES, total_bytes(dir, names, n));
    for (size_t i = 0; i < n && rc == SP_OK; i++) {
        char path[PATH_MAX], key[2048];
        if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= (int)sizeof path ||
            snprintf(key, sizeof key, "%s%s", ctx->prefix, names[i]) >= (int)sizeof key) {
            rc = sp_fail(err, SP_ERR_USAGE, "%s/%s: path too long", dir, names[i]);
            break;
        }
        struct stat lst;
        if (stat(path, &lst) != 0) {
            rc = sp_fail(err, SP_ERR_IO, "%s: %s", path, strerror(errno));
            break;
        }
        int64_t size = (int64_t)lst.st_size;
        /* Checksums only when the object could be the same file. */
        store_stat st;
        if ((rc = store_stat_key(raw, key, false, &st, err)) != SP_OK)
            break;
        if (st.exists && st.size == size) {
            char sha[65];
            /* Backends that know the digest cheaply (S3: stored at upload)
             * gave it already; others compute it on request. */
            if ((rc = sp_sha256_file(path, sha, NULL, err)) != SP_OK ||
                (!st.sha256[0] && (rc = store_stat_key(raw, key, true, &st, err)) != SP_OK))
                break;
            if (strcmp(st.sha256, sha) == 0) {
                sp_log_event(SP_LOG_INFO, &(sp_log_fields){.file = names[i]},
                             "stage: %s unchanged in %s, not copied again", names[i],
                             store_url(raw));
                unchanged++;
                sp_progress_add(size);
                continue;
            }
        }
        if ((rc = store_put_file(raw, key, path, 0, err)) != SP_OK)
            break;
        sp_log_event(SP_LOG_INFO, &(sp_log_fields){.file = names[i]},
                     "stage: %s → %s/%s (%lld bytes)", path, store_url(raw), key,
                     (long long)size);
        uploaded++;
        sp_progress_add(size);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (rc == SP_OK)
        sp_log(SP_LOG_INFO, "stage: %zu uploaded, %zu unchanged", uploaded, unchanged);
    return rc;
}
