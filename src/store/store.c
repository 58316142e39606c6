/* store.c — the store interface (see store.h): picks a backend from the URL
 * once, validates every key and prefix, then dispatches through the backend's
 * vtable (store_impl.h). Backends therefore never see a key with "..", "."
 * or empty segments, so no key can name a file outside the store. Never
 * echoes more of a URL than its scheme when the scheme is unknown (a URL may
 * carry credentials). */
#include "store_impl.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Length of "scheme" in "scheme://…" (RFC 3986 scheme characters), else 0. */
static size_t scheme_len(const char *url)
{
    size_t i = 0;
    if (!isalpha((unsigned char)url[0]))
        return 0;
    while (isalnum((unsigned char)url[i]) || url[i] == '+' || url[i] == '-' || url[i] == '.')
        i++;
    return strncmp(url + i, "://", 3) == 0 ? i : 0;
}

static const char *process_env(void *ctx, const char *name)
{
    (void)ctx;
    return getenv(name);
}

int store_open(store **out, const char *url, sp_error *err)
{
    return store_open_env(out, url, process_env, NULL, err);
}

int store_open_env(store **out, const char *url, store_env_fn env, void *ctx, sp_error *err)
{
    *out = NULL;
    if (!url || !url[0])
        return sp_fail(err, SP_ERR_USAGE, "store URL is empty");
    size_t sl = scheme_len(url);
    const char *root = url;
    bool s3 = sl == 2 && strncasecmp(url, "s3", 2) == 0;
    if (s3) {
        root = url + 5;
    } else if (sl == 4 && strncasecmp(url, "file", 4) == 0) {
        root = url + 7; /* "file://" */
        if (strncasecmp(root, "localhost/", 10) == 0)
            root += 9;
        if (root[0] != '/')
            return sp_fail(err, SP_ERR_USAGE,
                           "store %s: a file URL names an absolute local directory "
                           "(file:///dir); remote hosts are not supported",
                           url);
    } else if (sl > 0) {
        return sp_fail(err, SP_ERR_USAGE,
                       "store URL scheme '%.*s://' is not supported (use s3://bucket, "
                       "file:///dir or a local path)",
                       (int)(sl > 32 ? 32 : sl), url);
    }
    if (!s3 && strlen(root) >= STORE_PATH_MAX - STORE_KEY_MAX - 2)
        return sp_fail(err, SP_ERR_LIMIT, "store %.64s…: the directory path is too long", url);

    store *s = calloc(1, sizeof *s);
    if (!s || !(s->url = strdup(url))) {
        free(s);
        return sp_fail(err, SP_ERR_NOMEM, "store %s: out of memory", url);
    }
    int rc = s3 ? store_s3_init(s, root, env ? env : process_env, ctx, err)
                : store_fs_init(s, root, err);
    if (rc != SP_OK) {
        free(s->url);
        free(s);
        return rc;
    }
    *out = s;
    return SP_OK;
}

void store_close(store *s)
{
    if (!s)
        return;
    if (s->ops && s->ops->close)
        s->ops->close(s);
    free(s->url);
    free(s);
}

const char *store_url(const store *s)
{
    return s->url;
}

/* Is p[0..n) an acceptable key segment? */
static bool segment_ok(const char *p, size_t n)
{
    if (n == 0)
        return false;
    if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
        return false;
    /* A segment named like a temporary file would never be listed. */
    if (n >= strlen(STORE_TMP_PREFIX) && memcmp(p, STORE_TMP_PREFIX, strlen(STORE_TMP_PREFIX)) == 0)
        return false;
    return true;
}

/* Shared rule of keys and prefixes: the complete segments (all of a key; the
 * part of a prefix up to its last '/') must be valid. */
static int check_path(const char *what, const char *key, bool is_prefix, sp_error *err)
{
    size_t n = strlen(key);
    if (n > STORE_KEY_MAX)
        return sp_fail(err, SP_ERR_USAGE, "%s '%.64s…' is longer than %d bytes", what, key,
                       STORE_KEY_MAX);
    if (!is_prefix && n == 0)
        return sp_fail(err, SP_ERR_USAGE, "%s is empty", what);
    if (key[0] == '/')
        return sp_fail(err, SP_ERR_USAGE, "%s '%s' is absolute (keys are relative)", what, key);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c < 0x20 || c == 0x7f)
            return sp_fail(err, SP_ERR_USAGE, "%s '%s' contains a control character", what, key);
    }
    const char *seg = key;
    for (;;) {
        const char *slash = strchr(seg, '/');
        if (!slash && is_prefix)
            break; /* a prefix may end mid-name */
        size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
        if (!segment_ok(seg, len))
            return sp_fail(err, SP_ERR_USAGE,
                           "%s '%s' has an empty, '.', '..' or '" STORE_TMP_PREFIX
                           "…' segment",
                           what, key);
        if (!slash)
            break;
        seg = slash + 1;
    }
    return SP_OK;
}

int store_check_key(const char *key, sp_error *err)
{
    if (!key)
        return sp_fail(err, SP_ERR_USAGE, "store key is missing");
    return check_path("store key", key, false, err);
}

#define CHECK_KEY(s, key, err)                                              \
    do {                                                                    \
        if (store_check_key(key, err) != SP_OK)                             \
            return sp_error_prefix(err, "store %s", (s)->url);              \
    } while (0)

int store_list(store *s, const char *prefix, store_list_fn fn, void *ctx, sp_error *err)
{
    if (!prefix)
        prefix = "";
    if (check_path("store prefix", prefix, true, err) != SP_OK)
        return sp_error_prefix(err, "store %s", s->url);
    return s->ops->list(s, prefix, fn, ctx, err);
}

int store_stat_key(store *s, const char *key, bool want_sha256, store_stat *out, sp_error *err)
{
    memset(out, 0, sizeof *out);
    CHECK_KEY(s, key, err);
    return s->ops->stat(s, key, want_sha256, out, err);
}

int store_get(store *s, const char *key, store_write_fn fn, void *ctx, sp_error *err)
{
    CHECK_KEY(s, key, err);
    /* Cleared first so that a consumer that stopped without a word is told
     * apart from one that filled err (and no older message is passed off as
     * the cause). */
    sp_error_clear(err);
    int rc = s->ops->get(s, key, fn, ctx, err);
    if (rc != SP_OK && err->code == SP_OK && !err->msg[0])
        sp_fail(err, rc, "store %s: get '%s': stopped by the consumer (status %d)", s->url, key,
                rc);
    return rc;
}

int store_get_file(store *s, const char *key, const char *local_path, sp_error *err)
{
    CHECK_KEY(s, key, err);
    if (!local_path || !local_path[0])
        return sp_fail(err, SP_ERR_USAGE, "store %s: get '%s': no local path given", s->url, key);
    return s->ops->get_file(s, key, local_path, err);
}

const char *store_local_path(const store *s, const char *key, char *buf, size_t bufsz)
{
    const char *root = store_local_root(s);
    sp_error e;
    if (!root || !key || store_check_key(key, &e) != SP_OK)
        return NULL;
    int n = snprintf(buf, bufsz, "%s/%s", root, key);
    if (n < 0 || (size_t)n >= bufsz)
        return NULL;
    return buf;
}

const char *store_local_root(const store *s)
{
    return s->ops->local_root ? s->ops->local_root(s) : NULL;
}

int store_put_file(store *s, const char *key, const char *local_path, unsigned flags,
                   sp_error *err)
{
    CHECK_KEY(s, key, err);
    if (!local_path || !local_path[0])
        return sp_fail(err, SP_ERR_USAGE, "store %s: put '%s': no local file given", s->url, key);
    return s->ops->put_file(s, key, local_path, flags, err);
}

int store_put_bytes(store *s, const char *key, const void *p, size_t n, sp_error *err)
{
    CHECK_KEY(s, key, err);
    if (!p && n > 0)
        return sp_fail(err, SP_ERR_INTERNAL, "store %s: put '%s': NULL bytes", s->url, key);
    return s->ops->put_bytes(s, key, p ? p : "", n, err);
}

int store_delete(store *s, const char *key, sp_error *err)
{
    CHECK_KEY(s, key, err);
    return s->ops->del(s, key, err);
}

static int stop_at_first(void *ctx, const char *key, int64_t size)
{
    (void)ctx, (void)key, (void)size;
    return 1;
}

int store_probe_read(store *s, const char *prefix, sp_error *err)
{
    if (!prefix)
        prefix = "";
    if (check_path("store prefix", prefix, true, err) != SP_OK)
        return sp_error_prefix(err, "store %s", s->url);
    if (s->ops->probe_read)
        return s->ops->probe_read(s, prefix, err);
    int rc = s->ops->list(s, prefix, stop_at_first, NULL, err);
    return rc == 1 ? SP_OK : rc;
}

void store_set_time_limit(store *s, long ms)
{
    if (s->ops->set_time_limit)
        s->ops->set_time_limit(s, ms);
}

int store_probe(store *s, const char *prefix, sp_error *err)
{
    if (!prefix)
        prefix = "";
    char key[STORE_KEY_MAX + 1];
    size_t pl = strlen(prefix);
    const char *sep = (pl == 0 || prefix[pl - 1] == '/') ? "" : "/";
    int n = snprintf(key, sizeof key, "%s%s.salespipe-probe-%ld", prefix, sep, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof key)
        return sp_fail(err, SP_ERR_USAGE, "store %s: probe prefix '%.64s…' is too long", s->url,
                       prefix);
    static const char body[] = "salespipe write probe\n";
    int rc = store_put_bytes(s, key, body, sizeof body - 1, err);
    if (rc != SP_OK)
        return sp_error_prefix(err, "write probe failed");
    rc = store_delete(s, key, err);
    if (rc != SP_OK)
        return sp_error_prefix(err, "write probe could not be deleted");
    return SP_OK;
}

int store_sweep(store *s, int64_t max_age, store_sweep_fn fn, void *ctx, int *removed,
                sp_error *err)
{
    *removed = 0;
    if (!s->ops->sweep)
        return SP_OK;
    return s->ops->sweep(s, max_age, fn, ctx, removed, err);
}
