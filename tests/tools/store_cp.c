/* store_cp.c — test and bench tool for the store interface (build/store_cp,
 * `make tools`): copies files to and from any store URL through the same code
 * the pipeline uses, so tests/s3 and bench/s3.sh can drive the S3 backend
 * without a pipeline around it. Settings come from the environment (AWS_*,
 * S3_*). Never prints a secret: errors are the store's own messages.
 *   store_cp put URL KEY FILE     store_cp get URL KEY FILE
 *   store_cp stat URL KEY         store_cp ls URL [PREFIX]
 *   store_cp rm URL KEY           store_cp probe URL [PREFIX]
 * Exit 0 on success, 1 on failure (message on stderr), 2 on bad usage. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../src/store/store.h"

static int print_key(void *ctx, const char *key, int64_t size)
{
    (void)ctx;
    printf("%" PRId64 "\t%s\n", size, key);
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: store_cp put|get|stat|ls|rm|probe URL [KEY] [FILE]\n");
        return 2;
    }
    const char *cmd = argv[1];
    store *s;
    sp_error err;
    sp_error_clear(&err);
    if (store_open(&s, argv[2], &err) != SP_OK) {
        fprintf(stderr, "store_cp: %s\n", err.msg);
        return 1;
    }
    int rc;
    double t0 = now();
    if (strcmp(cmd, "put") == 0 && argc == 5) {
        rc = store_put_file(s, argv[3], argv[4], 0, &err);
    } else if (strcmp(cmd, "get") == 0 && argc == 5) {
        rc = store_get_file(s, argv[3], argv[4], &err);
    } else if (strcmp(cmd, "stat") == 0 && argc == 4) {
        store_stat st;
        rc = store_stat_key(s, argv[3], true, &st, &err);
        if (rc == SP_OK)
            printf("exists=%d size=%" PRId64 " sha256=%s\n", st.exists, st.size, st.sha256);
    } else if (strcmp(cmd, "ls") == 0 && argc <= 4) {
        rc = store_list(s, argc == 4 ? argv[3] : "", print_key, NULL, &err);
    } else if (strcmp(cmd, "rm") == 0 && argc == 4) {
        rc = store_delete(s, argv[3], &err);
    } else if (strcmp(cmd, "probe") == 0 && argc <= 4) {
        rc = store_probe_read(s, argc == 4 ? argv[3] : "", &err);
        if (rc == SP_OK)
            rc = store_probe(s, argc == 4 ? argv[3] : "", &err);
    } else {
        fprintf(stderr, "store_cp: bad usage\n");
        store_close(s);
        return 2;
    }
    if (rc == SP_OK && getenv("STORE_CP_TIME"))
        fprintf(stderr, "seconds=%.3f\n", now() - t0);
    store_close(s);
    if (rc != SP_OK) {
        fprintf(stderr, "store_cp: %s\n", err.msg);
        return 1;
    }
    return 0;
}
