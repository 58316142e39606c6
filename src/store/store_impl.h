/* store_impl.h — private face of the store module: the backend vtable that
 * store.c dispatches through, and each backend's constructor. Only files in
 * src/store/ include it. store.c validates keys and prefixes before calling a
 * backend, so backends may assume them well formed; backends never see URLs
 * of another scheme. */
#ifndef SP_STORE_IMPL_H
#define SP_STORE_IMPL_H

#include "store.h"

/* Longest key accepted (S3's own limit), and longest local path built. */
#define STORE_KEY_MAX 1024
#define STORE_PATH_MAX 4096

/* Temporary files of unfinished puts start with this; listings skip them. */
#define STORE_TMP_PREFIX ".tmp-"

typedef struct store_ops {
    const char *name; /* "fs", "s3" */
    int (*list)(store *s, const char *prefix, store_list_fn fn, void *ctx, sp_error *err);
    int (*stat)(store *s, const char *key, bool want_sha256, store_stat *out, sp_error *err);
    int (*get)(store *s, const char *key, store_write_fn fn, void *ctx, sp_error *err);
    int (*get_file)(store *s, const char *key, const char *local_path, sp_error *err);
    int (*put_file)(store *s, const char *key, const char *local_path, unsigned flags,
                    sp_error *err);
    int (*put_bytes)(store *s, const char *key, const void *p, size_t n, sp_error *err);
    int (*del)(store *s, const char *key, sp_error *err);
    /* List at most one object (preflight); NULL: store.c lists and stops. */
    int (*probe_read)(store *s, const char *prefix, sp_error *err);
    /* store_set_time_limit; NULL for backends whose calls cannot hang. */
    void (*set_time_limit)(store *s, long ms);
    /* NULL for backends without a local directory. */
    const char *(*local_root)(const store *s);
    /* store_sweep; NULL: nothing to sweep. */
    int (*sweep)(store *s, int64_t max_age, store_sweep_fn fn, void *ctx, int *removed,
                 sp_error *err);
    void (*close)(store *s); /* frees impl only; store.c frees the rest */
} store_ops;

struct store {
    const store_ops *ops;
    char *url;  /* as given to store_open, owned */
    void *impl; /* the backend's state, owned by the backend */
};

/* The local-directory backend rooted at `root` (a path, no scheme). Sets
 * s->ops and s->impl. Does not touch the filesystem. */
int store_fs_init(store *s, const char *root, sp_error *err);

/* The S3 backend for s3://`bucket_and_prefix` ("bucket" or "bucket/pre/fix"),
 * settings from env(ctx, name). Sets s->ops and s->impl. Sends no request. */
int store_s3_init(store *s, const char *bucket_and_prefix, store_env_fn env, void *ctx,
                  sp_error *err);

#endif
