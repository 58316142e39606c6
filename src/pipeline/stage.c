/* stage.c — SPEC §2 `stage`: upload every local $DATA_DIR/raw file matching
 * RAW_PATTERN to the raw store under the run's prefix. An object that
 * already holds the same bytes (size and SHA-256) is left alone, so staging
 * twice is a no-op; no files is a warning, not an error. Last, the run's
 * input set goes to <prefix>_inputs.json (inputs.c): transform reads those
 * files and no others. Never deletes an object. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../util/log.h"
#include "../util/progress.h"
#include "../util/sha256.h"
#include "pipeline.h"

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
    int rc = pl_local_inputs(dir, pattern, &names, &n, err);
    if (rc == SP_OK)
        rc = check_names(dir, names, n, err);
    pl_input_set set;
    pl_inputs_init(&set);
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
        /* The digest goes into _inputs.json; it also tells whether the
         * object holds the same bytes already. */
        char sha[65];
        if ((rc = sp_sha256_file(path, sha, &size, err)) != SP_OK ||
            (rc = pl_inputs_add(&set, names[i], size, sha, err)) != SP_OK)
            break;
        store_stat st;
        if ((rc = store_stat_key(raw, key, false, &st, err)) != SP_OK)
            break;
        if (st.exists && st.size == size) {
            /* Backends that know the digest cheaply (S3: stored at upload)
             * gave it already; others compute it on request. */
            if (!st.sha256[0] && (rc = store_stat_key(raw, key, true, &st, err)) != SP_OK)
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
    pl_local_inputs_free(names, n);
    /* Last: the set exists only once every file of it is in place. */
    if (rc == SP_OK)
        rc = pl_inputs_write(ctx, &set, err);
    pl_inputs_free(&set);
    if (rc == SP_OK)
        sp_log(SP_LOG_INFO, "stage: %zu uploaded, %zu unchanged; this run's inputs recorded in "
               "%s/%s%s", uploaded, unchanged, store_url(raw), ctx->prefix, PL_INPUTS_KEY);
    return rc;
}
