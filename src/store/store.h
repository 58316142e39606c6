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

/* The S3 endpoint the S3 backend talks to: the first of
 * AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, S3_ENDPOINT_URL that env(ctx, name)
 * gives non-empty, or NULL for AWS's own endpoint. *name (when not NULL)
 * gets the setting it came from. The string is env's: valid as long as env
 * keeps it. One place for the precedence, so what `salespipe config` says
 * is what store_open uses. */
const char *store_s3_endpoint(store_env_fn env, void *ctx, const char **name);

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

/* Remove debris of processes that died mid-put (kill -9, a lost machine):
 * fs: files and folders named ".tmp-<owner>-…" anywhere in the store
 * (util/owner.h) whose owner is gone, or cannot be checked (another machine,
 * an older name without an owner) and were last modified more than max_age
 * seconds ago; s3: multipart uploads under the store's prefix initiated more
 * than max_age seconds ago (S3 keeps no owner: age is the only rule). A live
 * owner's files are never touched. fn(ctx, what) is told of each item
 * removed ("removed …", "aborted …"); *removed counts them. An item that
 * cannot be removed is an error naming it, after the rest were tried. */
typedef void (*store_sweep_fn)(void *ctx, const char *what);
int store_sweep(store *s, int64_t max_age, store_sweep_fn fn, void *ctx, int *removed,
                sp_error *err);

/* Check a key against the rules above (SP_ERR_USAGE naming it). */
int store_check_key(const char *key, sp_error *err);

/* ---- AWS: the credential chain, RDS IAM tokens, Secrets Manager ----------
 * (aws_creds.c, aws_rds.c). The S3 backend asks its chain for current
 * credentials before each request; the pipeline opens a chain of its own
 * for RDS tokens and secrets. Nothing here ever logs a secret; every secret
 * obtained is registered with the log scrubber (util/log.h). */

/* Credentials at one moment. Holds secrets: wipe (OPENSSL_cleanse) a copy
 * when done with it. */
typedef struct aws_creds {
    char access_key[256];
    char secret_key[256];
    char session_token[4096]; /* "" for long-term keys */
    long long expires;        /* Unix time; 0: never (long-term keys) */
} aws_creds;

typedef struct aws_chain aws_chain;

/* Decide where credentials come from, in the AWS SDKs' order: environment
 * keys; web identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN); the
 * shared files' profile (keys, role_arn + source_profile, credential_process,
 * web_identity_token_file); container credentials
 * (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI); EC2 instance
 * metadata (IMDSv2), unless AWS_EC2_METADATA_DISABLED=true. Reads settings
 * from env(ctx, NAME) and at most the two profile files; sends no request.
 * A source that is half configured (a key without its secret, a profile
 * AWS_PROFILE names that does not exist) is an error naming it. The caller
 * frees the chain with aws_chain_free. */
int aws_chain_open(aws_chain **out, store_env_fn env, void *ctx, sp_error *err);
void aws_chain_free(aws_chain *c); /* NULL is allowed */

/* The source in use, for people ("environment (AWS_ACCESS_KEY_ID)",
 * "instance metadata (IMDSv2 at http://169.254.169.254)", …); no secret. */
const char *aws_chain_source(const aws_chain *c);
/* The region the chain's calls use (AWS_REGION, …, "us-east-1"). */
const char *aws_chain_region(const aws_chain *c);

/* Current credentials into out: fetched on first use, and again when they
 * expire within five minutes (temporary credentials), so a long run keeps
 * working. Thread-safe (one fetch at a time; others wait for it). A failure
 * names the source and why; when a refresh fails while the credentials in
 * hand are still valid, those are used (with a warning). */
int aws_chain_get(aws_chain *c, aws_creds *out, sp_error *err);

/* Forget the cached credentials (a service said they expired), so the next
 * aws_chain_get fetches new ones. */
void aws_chain_invalidate(aws_chain *c);

/* An RDS IAM authentication token for user at host:port (valid 15
 * minutes), signed with the chain's current credentials for the chain's
 * region: "host:port/?Action=connect&DBUser=…&X-Amz-…&X-Amz-Signature=…".
 * The token is a secret (it is registered with the log scrubber). */
int aws_rds_auth_token(aws_chain *c, const char *host, const char *port, const char *user,
                       char *out, size_t outsz, sp_error *err);

/* The database credentials of a Secrets Manager secret (GetSecretValue of
 * secret_id, a name or an ARN; endpoint AWS_ENDPOINT_URL_SECRETS_MANAGER or
 * AWS_ENDPOINT_URL from env, else secretsmanager.REGION.amazonaws.com). The
 * SecretString must be JSON: username, password, host, port, dbname (the
 * shape RDS writes; absent fields are ""). The password (and the raw
 * SecretString) are registered with the log scrubber; user, host, port and
 * database name are not secrets and stay readable in messages. */
typedef struct aws_db_secret {
    char username[256], password[1024], host[256], port[16], dbname[256];
} aws_db_secret;
int aws_secret_db_credentials(aws_chain *c, const char *secret_id, store_env_fn env, void *ctx,
                              aws_db_secret *out, sp_error *err);

#endif
