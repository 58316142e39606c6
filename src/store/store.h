/* store.h — where the lake's objects live: one interface (list, get, put,
 * stat, delete; streaming) over backends chosen from a URL: `fs` (a local
 * directory, path or file://) and `s3` (s3://bucket[/prefix], see s3.c and
 * docs/s3.md).
 * Knows nothing of what the bytes mean. Puts are atomic: an object appears
 * whole under its key or not at all (temporary name + rename for fs).
 * Keys are relative, '/'-separated, never absolute, never containing "..",
 * "." or empty segments (rejected with SP_ERR_USAGE). Also rejected: keys
 * over 1024 bytes, control characters, and segments starting ".tmp-" (the
 * names of unfinished puts, which listings skip).
 *
 * Ownership: store_open creates the store, store_close frees it. Strings
 * passed to callbacks are valid only during the call. */
#ifndef SP_STORE_H
#define SP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/error.h"

typedef struct store store;

/* Where a backend reads its settings (the S3 backend: AWS_* names,
 * endpoints, S3_PART_SIZE_MB, …): the value of `name`, or NULL when unset.
 * The string must stay valid until store_open returns. */
typedef const char *(*store_env_fn)(void *ctx, const char *name);

/* Open the store named by `url`: "s3://bucket[/prefix]", "file:///abs/dir",
 * or a plain path (relative to the working directory). A local directory is
 * created (with parents) on first put, not at open. An unknown scheme
 * ("ftp://…") is SP_ERR_USAGE. store_open reads settings from the process
 * environment; store_open_env from env(ctx, name) (the pipeline passes its
 * configuration, so .env files count). The S3 backend resolves credentials,
 * region and endpoint at open but sends no request. */
int store_open(store **out, const char *url, sp_error *err);
int store_open_env(store **out, const char *url, store_env_fn env, void *ctx, sp_error *err);
void store_close(store *s); /* NULL is allowed */

/* The store's URL as given (never holds secrets), for messages. */
const char *store_url(const store *s);

/* Call fn(ctx, key, size) for every object whose key starts with prefix,
 * in byte order of keys; a non-zero return from fn stops the listing and
 * is returned. Temporary files of unfinished puts are never listed. */
typedef int (*store_list_fn)(void *ctx, const char *key, int64_t size);
int store_list(store *s, const char *prefix, store_list_fn fn, void *ctx, sp_error *err);

typedef struct store_stat {
    bool exists;
    int64_t size;
    char sha256[65]; /* hex; "" when the backend does not know it cheaply */
} store_stat;

/* Look an object up. A missing object is SP_OK with exists = false.
 * want_sha256: compute / fetch the digest when the backend can (fs reads
 * the file; s3 reads the checksum stored at upload). */
int store_stat_key(store *s, const char *key, bool want_sha256, store_stat *out, sp_error *err);

/* Stream an object: fn(ctx, p, n) is called with consecutive chunks; a
 * non-zero return stops and is returned untouched. A callback that stops
 * fills the err given to store_get with its cause; one that leaves it empty
 * gets "store URL: get 'key': stopped by the consumer". A missing object is
 * SP_ERR_IO naming the store and key. */
typedef int (*store_write_fn)(void *ctx, const void *p, size_t n);
int store_get(store *s, const char *key, store_write_fn fn, void *ctx, sp_error *err);

/* Copy an object to a local file (created or replaced atomically). */
int store_get_file(store *s, const char *key, const char *local_path, sp_error *err);

/* When the object is a plain local file (fs backend), write its path into
 * buf and return buf; else return NULL (the caller uses store_get_file).
 * Does not check that the object exists. */
const char *store_local_path(const store *s, const char *key, char *buf, size_t bufsz);

/* For fs stores: the local directory that holds the store's objects, so a
 * writer can place temporary files on the same filesystem; NULL otherwise.
 * Such files should be named ".tmp-…" so listings never show them. */
const char *store_local_root(const store *s);

/* Upload a local file under key, atomically; replaces an existing object.
 * STORE_PUT_MOVE allows the backend to consume (rename) the local file: on
 * success the local file may be gone (fs: always, renamed or copied then
 * removed); on failure it is still there. */
enum { STORE_PUT_MOVE = 1 };
int store_put_file(store *s, const char *key, const char *local_path, unsigned flags,
                   sp_error *err);

/* Upload bytes from memory (small objects: manifests, probes). */
int store_put_bytes(store *s, const char *key, const void *p, size_t n, sp_error *err);

/* Delete an object; deleting a missing object is SP_OK. */
int store_delete(store *s, const char *key, sp_error *err);

/* Writable check for preflight: put and delete a small probe object under
 * `prefix`. Errors name the store and the cause. */
int store_probe(store *s, const char *prefix, sp_error *err);

/* Cap every later request of s, retries included, at `ms` milliseconds
 * (0: back to the backend's own timeouts and retry window). For checks that
 * must answer quickly (preflight) against a server that may accept a
 * connection and never answer. Local directories ignore it. */
void store_set_time_limit(store *s, long ms);

/* Readable check for preflight: list at most one object under `prefix`
 * (S3: ListObjectsV2 with max-keys=1). Errors name the store and the cause. */
int store_probe_read(store *s, const char *prefix, sp_error *err);

/* Check a key against the rules above (SP_ERR_USAGE naming it). */
int store_check_key(const char *key, sp_error *err);

#endif
