/* fs.c — the local-directory store backend: an object is the file
 * <root>/<key>. Puts write ".tmp-<owner>-<n>-<name>" beside the final file
 * (owner: util/owner.h), fsync it, rename it into place and fsync the
 * directory, so an object appears whole or not at all; listings never show
 * those temporary names, and fs_sweep removes those whose owner is gone.
 * Never follows a key outside the root (store.c has validated every key) and
 * never holds a whole object in memory. */
#include "store_impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/buf.h"
#include "../util/cancel.h"
#include "../util/fsutil.h"
#include "../util/owner.h"
#include "../util/sha256.h"

enum {
    FS_CHUNK = 1 << 20,           /* bytes per read/write and per get callback */
    FS_NAME_MAX = 255,            /* longest file name most filesystems allow */
    FS_MKDIR_TRIES = 3,           /* a concurrent delete may prune a new parent */
    FS_DIR_ENTRIES_MAX = 1 << 24, /* entries listed per directory */
};

typedef struct fs_store {
    char root[STORE_PATH_MAX];
} fs_store;

static atomic_ulong tmp_seq;

static const char *root_of(const store *s)
{
    return ((const fs_store *)s->impl)->root;
}

static int obj_path(store *s, const char *key, char *out, const char *op, sp_error *err)
{
    int n = snprintf(out, STORE_PATH_MAX, "%s/%s", root_of(s), key);
    if (n < 0 || n >= STORE_PATH_MAX)
        return sp_fail(err, SP_ERR_LIMIT, "store %s: %s '%s': the local path is too long",
                       s->url, op, key);
    return SP_OK;
}

/* ---- small POSIX helpers ------------------------------------------------ */

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/* fsync a directory so a rename or unlink in it survives a crash.
 * Filesystems that cannot sync directories (EINVAL) are accepted. */
static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0 && e != EINVAL && e != ENOTSUP) {
        errno = e;
        return -1;
    }
    return 0;
}

/* Directory part of path into dir (STORE_PATH_MAX); "." when there is none. */
static const char *dir_of(const char *path, char *dir)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        strcpy(dir, ".");
    } else if (slash == path) {
        strcpy(dir, "/");
    } else {
        memcpy(dir, path, (size_t)(slash - path));
        dir[slash - path] = '\0';
    }
    return dir;
}

/* ---- atomic writes -------------------------------------------------------- */

/* Where the bytes of a write come from: an open file or memory. */
typedef struct fs_source {
    int fd;            /* >= 0: read from this descriptor */
    const char *name;  /* the descriptor's path, for messages */
    const void *mem;   /* else these n bytes */
    size_t n;
} fs_source;

/* The temporary name beside dst: the owner tag (so a later sweep can tell a
 * dead process's debris from a live put) and a sequence number, then as much
 * of dst's own name as keeps the name legal. */
static int temp_name(const char *ctx, const char *dst, const char *dir, char *tmp, size_t tmpsz,
                     sp_error *err)
{
    const char *base = strrchr(dst, '/') ? strrchr(dst, '/') + 1 : dst;
    char head[128];
    int hl = snprintf(head, sizeof head, STORE_TMP_PREFIX "%s-%lu-", sp_owner_tag(),
                      (unsigned long)atomic_fetch_add(&tmp_seq, 1));
    int bl = (int)strlen(base);
    if (bl > FS_NAME_MAX - hl)
        bl = FS_NAME_MAX - hl;
    int tl = snprintf(tmp, tmpsz, "%s/%s%.*s", dir, head, bl, base);
    if (tl < 0 || tl >= (int)tmpsz)
        return sp_fail(err, SP_ERR_LIMIT, "%s: the local path %s is too long", ctx, dst);
    return SP_OK;
}

/* Create tmp exclusively; with mkparents, its missing directories first
 * (again a few times: a concurrent delete may remove an empty parent). */
static int create_temp(const char *ctx, const char *tmp, const char *dir, bool mkparents, int *fd,
                       sp_error *err)
{
    for (int tries = 0;; tries++) {
        *fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (*fd >= 0)
            return SP_OK;
        if (errno != ENOENT || !mkparents || tries == FS_MKDIR_TRIES)
            return sp_fail(err, SP_ERR_IO, "%s: cannot create %s: %s", ctx, tmp, strerror(errno));
        if (sp_mkdirs(dir, strlen(dir), err) != SP_OK)
            return sp_error_prefix(err, "%s", ctx);
    }
}

/* src's bytes into fd, a chunk at a time from a descriptor (polling for a
 * stop between chunks), or at once from memory. */
static int copy_source(const char *ctx, int fd, const char *tmp, const fs_source *src,
                       sp_error *err)
{
    if (src->fd < 0) {
        if (write_all(fd, src->mem, src->n) != 0)
            return sp_fail(err, SP_ERR_IO, "%s: cannot write %s: %s", ctx, tmp, strerror(errno));
        return SP_OK;
    }
    char *chunk = malloc(FS_CHUNK);
    if (!chunk)
        return sp_fail(err, SP_ERR_NOMEM, "%s: out of memory", ctx);
    int rc = SP_OK;
    for (;;) {
        if (sp_cancel_check(err, NULL) != SP_OK) {
            rc = sp_error_prefix(err, "%s", ctx);
            break;
        }
        ssize_t r = read(src->fd, chunk, FS_CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = sp_fail(err, SP_ERR_IO, "%s: cannot read %s: %s", ctx, src->name,
                         strerror(errno));
            break;
        }
        if (r == 0)
            break;
        if (write_all(fd, chunk, (size_t)r) != 0) {
            rc = sp_fail(err, SP_ERR_IO, "%s: cannot write %s: %s", ctx, tmp, strerror(errno));
            break;
        }
    }
    free(chunk);
    return rc;
}

/* The temporary file made durable (fsync), closed (*fd becomes -1) and
 * renamed over dst. */
static int publish_temp(const char *ctx, int *fd, const char *tmp, const char *dst,
                        sp_error *err)
{
    if (fsync(*fd) != 0)
        return sp_fail(err, SP_ERR_IO, "%s: cannot sync %s: %s", ctx, tmp, strerror(errno));
    int cfd = *fd;
    *fd = -1;
    if (close(cfd) != 0)
        return sp_fail(err, SP_ERR_IO, "%s: cannot close %s: %s", ctx, tmp, strerror(errno));
    if (rename(tmp, dst) != 0)
        return sp_fail(err, SP_ERR_IO, "%s: cannot rename %s to %s: %s", ctx, tmp, dst,
                       strerror(errno));
    return SP_OK;
}

/* Write src to dst atomically: a temporary file beside dst, fsync, rename,
 * fsync of the directory. mkparents creates dst's missing directories. `ctx`
 * starts every message ("store URL: put 'key'"). No temporary file is left
 * behind on failure. */
static int write_atomic(const char *ctx, const char *dst, bool mkparents, const fs_source *src,
                        sp_error *err)
{
    char dir[STORE_PATH_MAX], tmp[STORE_PATH_MAX];
    dir_of(dst, dir);
    SP_TRY(temp_name(ctx, dst, dir, tmp, sizeof tmp, err));
    int fd = -1;
    SP_TRY(create_temp(ctx, tmp, dir, mkparents, &fd, err));
    int rc = copy_source(ctx, fd, tmp, src, err);
    if (rc == SP_OK)
        rc = publish_temp(ctx, &fd, tmp, dst, err);
    if (rc != SP_OK) {
        if (fd >= 0)
            close(fd);
        if (unlink(tmp) == 0)
            sp_cancel_note("removed %s", tmp);
        return rc;
    }
    /* The rename survives a crash only once the directory is on disk too. */
    if (sync_dir(dir) != 0)
        return sp_fail(err, SP_ERR_IO, "%s: cannot sync directory %s: %s", ctx, dir,
                       strerror(errno));
    return SP_OK;
}

/* ---- the backend ---------------------------------------------------------- */

static int fs_put_bytes(store *s, const char *key, const void *p, size_t n, sp_error *err)
{
    char path[STORE_PATH_MAX], ctx[STORE_KEY_MAX + 256];
    snprintf(ctx, sizeof ctx, "store %s: put '%s'", s->url, key);
    SP_TRY(obj_path(s, key, path, "put", err));
    fs_source src = {.fd = -1, .mem = p, .n = n};
    return write_atomic(ctx, path, true, &src, err);
}

/* STORE_PUT_MOVE: rename(2) the file into place; EXDEV (another filesystem)
 * falls back to a copy, after which the local file is removed so the caller
 * sees the same outcome either way. */
static int fs_put_file(store *s, const char *key, const char *local_path, unsigned flags,
                       sp_error *err)
{
    char path[STORE_PATH_MAX], dir[STORE_PATH_MAX];
    char ctx[STORE_KEY_MAX + STORE_PATH_MAX + 64];
    snprintf(ctx, sizeof ctx, "store %s: put '%s' from %s", s->url, key, local_path);
    SP_TRY(obj_path(s, key, path, "put", err));

    int in = open(local_path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return sp_fail(err, SP_ERR_IO, "%s: cannot open %s: %s", ctx, local_path, strerror(errno));
    struct stat st;
    if (fstat(in, &st) != 0) {
        int e = errno;
        close(in);
        return sp_fail(err, SP_ERR_IO, "%s: cannot stat %s: %s", ctx, local_path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(in);
        return sp_fail(err, SP_ERR_IO, "%s: %s is not a regular file", ctx, local_path);
    }

    if (flags & STORE_PUT_MOVE) {
        /* The rename publishes the file itself: its bytes must be durable first. */
        if (fsync(in) != 0) {
            int e = errno;
            close(in);
            return sp_fail(err, SP_ERR_IO, "%s: cannot sync %s: %s", ctx, local_path,
                           strerror(e));
        }
        int rc = -1;
        for (int tries = 0; tries <= FS_MKDIR_TRIES; tries++) {
            rc = rename(local_path, path);
            if (rc == 0 || errno != ENOENT)
                break;
            if (access(local_path, F_OK) != 0) /* the source vanished */
                break;
            dir_of(path, dir);
            if (sp_mkdirs(dir, strlen(dir), err) != SP_OK) {
                close(in);
                return sp_error_prefix(err, "%s", ctx);
            }
        }
        if (rc == 0) {
            close(in);
            if (sync_dir(dir_of(path, dir)) != 0)
                return sp_fail(err, SP_ERR_IO, "%s: cannot sync directory %s: %s", ctx, dir,
                               strerror(errno));
            return SP_OK;
        }
        if (errno != EXDEV) {
            int e = errno;
            close(in);
            return sp_fail(err, SP_ERR_IO, "%s: cannot rename %s to %s: %s", ctx, local_path,
                           path, strerror(e));
        }
    }

    fs_source src = {.fd = in, .name = local_path};
    int rc = write_atomic(ctx, path, true, &src, err);
    close(in);
    if (rc == SP_OK && (flags & STORE_PUT_MOVE) && unlink(local_path) != 0 && errno != ENOENT)
        return sp_fail(err, SP_ERR_IO, "%s: copied, but cannot remove %s: %s", ctx, local_path,
                       strerror(errno));
    return rc;
}

/* Open an object for reading; a missing object (or a directory) is an
 * SP_ERR_IO naming the store and key. */
static int open_object(store *s, const char *key, const char *op, char *path, int *fd,
                       sp_error *err)
{
    SP_TRY(obj_path(s, key, path, op, err));
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    int e = errno;
    struct stat st;
    if (*fd >= 0 && fstat(*fd, &st) == 0 && !S_ISREG(st.st_mode)) {
        close(*fd);
        *fd = -1;
        e = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
    }
    if (*fd < 0) {
        if (e == ENOENT || e == ENOTDIR || e == EISDIR)
            return sp_fail(err, SP_ERR_IO, "store %s: %s '%s': no such object (%s: %s)", s->url,
                           op, key, path, strerror(e));
        return sp_fail(err, SP_ERR_IO, "store %s: %s '%s': cannot open %s: %s", s->url, op, key,
                       path, strerror(e));
    }
    return SP_OK;
}

static int fs_get(store *s, const char *key, store_write_fn fn, void *ctx, sp_error *err)
{
    char path[STORE_PATH_MAX];
    int fd;
    SP_TRY(open_object(s, key, "get", path, &fd, err));
    char *chunk = malloc(FS_CHUNK);
    if (!chunk) {
        close(fd);
        return sp_fail(err, SP_ERR_NOMEM, "store %s: get '%s': out of memory", s->url, key);
    }
    int rc = SP_OK;
    for (;;) {
        if ((rc = sp_cancel_check(err, NULL)) != SP_OK) {
            sp_error_prefix(err, "store %s: get '%s'", s->url, key);
            break;
        }
        ssize_t r = read(fd, chunk, FS_CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = sp_fail(err, SP_ERR_IO, "store %s: get '%s': cannot read %s: %s", s->url, key,
                         path, strerror(errno));
            break;
        }
        if (r == 0)
            break;
        rc = fn(ctx, chunk, (size_t)r);
        if (rc != 0)
            break;
    }
    free(chunk);
    close(fd);
    return rc;
}

static int fs_get_file(store *s, const char *key, const char *local_path, sp_error *err)
{
    char path[STORE_PATH_MAX], ctx[STORE_KEY_MAX + STORE_PATH_MAX + 64];
    int fd;
    SP_TRY(open_object(s, key, "get", path, &fd, err));
    snprintf(ctx, sizeof ctx, "store %s: get '%s' into %s", s->url, key, local_path);
    fs_source src = {.fd = fd, .name = path};
    int rc = write_atomic(ctx, local_path, false, &src, err);
    close(fd);
    return rc;
}

static int fs_stat(store *s, const char *key, bool want_sha256, store_stat *out, sp_error *err)
{
    char path[STORE_PATH_MAX];
    SP_TRY(obj_path(s, key, path, "stat", err));
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return SP_OK;
        return sp_fail(err, SP_ERR_IO, "store %s: stat '%s': %s: %s", s->url, key, path,
                       strerror(errno));
    }
    if (!S_ISREG(st.st_mode))
        return SP_OK;
    out->exists = true;
    out->size = (int64_t)st.st_size;
    if (want_sha256) {
        int64_t size = 0;
        if (sp_sha256_file(path, out->sha256, &size, err) != SP_OK) {
            out->exists = false;
            return sp_error_prefix(err, "store %s: stat '%s'", s->url, key);
        }
        out->size = size; /* the size the digest covers */
    }
    return SP_OK;
}

static int fs_delete(store *s, const char *key, sp_error *err)
{
    char path[STORE_PATH_MAX];
    SP_TRY(obj_path(s, key, path, "delete", err));
    if (unlink(path) != 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == EISDIR)
            return SP_OK; /* no such object (a directory is not one) */
        return sp_fail(err, SP_ERR_IO, "store %s: delete '%s': %s: %s", s->url, key, path,
                       strerror(errno));
    }
    /* Prune parents left empty, up to (not including) the root; the first
     * one that is not empty (or not ours to remove) stops it. */
    size_t rl = strlen(root_of(s));
    for (char *slash = strrchr(path, '/'); slash && (size_t)(slash - path) > rl;
         slash = strrchr(path, '/')) {
        *slash = '\0';
        if (rmdir(path) != 0)
            break;
    }
    return SP_OK;
}

/* ---- listing -------------------------------------------------------------- */

typedef struct fs_entry {
    const char *name;
    size_t len;
    bool dir;
    int64_t size;
} fs_entry;

/* Byte order of full keys: a directory sorts as its name followed by '/',
 * so "a-b" < "a.txt" < "a/x" < "a0" comes out of a depth-first walk. */
static int entry_cmp(const void *pa, const void *pb)
{
    const fs_entry *a = pa, *b = pb;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->name, b->name, n);
    if (c != 0)
        return c;
    int ca = a->len > n ? (unsigned char)a->name[n] : a->dir ? '/' : -1;
    int cb = b->len > n ? (unsigned char)b->name[n] : b->dir ? '/' : -1;
    return ca - cb;
}

typedef struct fs_walk {
    store *s;
    store_list_fn fn;
    void *ctx;
    sp_error *err;
    char path[STORE_PATH_MAX]; /* the directory being read */
    char key[STORE_KEY_MAX + FS_NAME_MAX + 2];
} fs_walk;

/* One directory's entries: names packed in one buffer (offsets into it
 * until the reading is done, since the buffer may still move). */
typedef struct fs_entries {
    fs_entry *ents;
    size_t n, cap;
    sp_buf names;
} fs_entries;

/* What a directory entry is: 1 listed (*is_dir, *size set), 0 skipped (not
 * a regular file or directory, gone, a dangling link), -1 an error. */
static int classify_entry(fs_walk *w, DIR *d, const char *nm, bool *is_dir, int64_t *size)
{
    if (*is_dir)
        return 1;
    /* Symlinks to files are followed; linked directories are not walked
     * into (no loops, no objects from outside the root). */
    struct stat st;
    bool link = false;
    int sr = fstatat(dirfd(d), nm, &st, AT_SYMLINK_NOFOLLOW);
    if (sr == 0 && S_ISLNK(st.st_mode)) {
        link = true;
        sr = fstatat(dirfd(d), nm, &st, 0);
    }
    if (sr != 0) {
        if (errno == ENOENT || errno == ELOOP)
            return 0; /* deleted while we list, or a dangling link */
        sp_fail(w->err, SP_ERR_IO, "store %s: list: %s/%s: %s", w->s->url, w->path, nm,
                strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode) && !link)
        *is_dir = true;
    else if (!S_ISREG(st.st_mode))
        return 0;
    else
        *size = (int64_t)st.st_size;
    return 1;
}

/* Append one entry; the array doubles up to FS_DIR_ENTRIES_MAX. */
static int add_entry(fs_walk *w, fs_entries *l, const char *nm, bool is_dir, int64_t size)
{
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 64;
        fs_entry *ne = ncap > FS_DIR_ENTRIES_MAX ? NULL : realloc(l->ents, ncap * sizeof *ne);
        if (!ne)
            return sp_fail(w->err, ncap > FS_DIR_ENTRIES_MAX ? SP_ERR_LIMIT : SP_ERR_NOMEM,
                           "store %s: list: directory %s has too many entries for memory",
                           w->s->url, w->path);
        l->ents = ne;
        l->cap = ncap;
    }
    size_t len = strlen(nm);
    l->ents[l->n++] = (fs_entry){.name = (const char *)(uintptr_t)l->names.len, .len = len,
                                 .dir = is_dir, .size = size};
    sp_buf_append(&l->names, nm, len + 1);
    return SP_OK;
}

/* The entries of d whose names start with filter, less unfinished puts,
 * in key order (entry_cmp). */
static int read_entries(fs_walk *w, DIR *d, const char *filter, fs_entries *l)
{
    size_t flen = strlen(filter);
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno != 0)
                return sp_fail(w->err, SP_ERR_IO, "store %s: list: cannot read directory %s: %s",
                               w->s->url, w->path, strerror(errno));
            break;
        }
        const char *nm = de->d_name;
        if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0 ||
            strncmp(nm, STORE_TMP_PREFIX, strlen(STORE_TMP_PREFIX)) == 0 ||
            strncmp(nm, filter, flen) != 0)
            continue;
        bool is_dir = de->d_type == DT_DIR;
        int64_t size = 0;
        int kind = classify_entry(w, d, nm, &is_dir, &size);
        if (kind < 0)
            return w->err->code;
        if (kind > 0)
            SP_TRY(add_entry(w, l, nm, is_dir, size));
    }
    if (l->names.broken)
        return sp_fail(w->err, SP_ERR_NOMEM, "store %s: list: out of memory reading %s",
                       w->s->url, w->path);
    for (size_t i = 0; i < l->n; i++)
        l->ents[i].name = (const char *)l->names.data + (uintptr_t)l->ents[i].name;
    if (l->n > 1)
        qsort(l->ents, l->n, sizeof *l->ents, entry_cmp);
    return SP_OK;
}

/* List w->path (whose key prefix is w->key[0..klen)) for names starting with
 * `filter`, recursing into subdirectories. */
static int walk_dir(fs_walk *w, size_t plen, size_t klen, const char *filter)
{
    DIR *d = opendir(w->path);
    if (!d) {
        if ((errno == ENOENT || errno == ENOTDIR) && klen > 0)
            return SP_OK; /* the prefix names no directory: nothing to list */
        return sp_fail(w->err, SP_ERR_IO, "store %s: list: cannot open directory %s: %s",
                       w->s->url, w->path, strerror(errno));
    }
    fs_entries l = {0};
    sp_buf_init(&l.names, 0);
    int rc = read_entries(w, d, filter, &l);
    closedir(d);
    for (size_t i = 0; rc == SP_OK && i < l.n; i++) {
        const fs_entry *e = &l.ents[i];
        if (klen + e->len + 1 > STORE_KEY_MAX || plen + e->len + 2 > sizeof w->path) {
            rc = sp_fail(w->err, SP_ERR_LIMIT,
                         "store %s: list: %s/%s: the key would be longer than %d bytes",
                         w->s->url, w->path, e->name, STORE_KEY_MAX);
            break;
        }
        memcpy(w->key + klen, e->name, e->len + 1);
        if (!e->dir) {
            rc = w->fn(w->ctx, w->key, e->size);
            continue;
        }
        w->path[plen] = '/';
        memcpy(w->path + plen + 1, e->name, e->len + 1);
        w->key[klen + e->len] = '/';
        w->key[klen + e->len + 1] = '\0';
        rc = walk_dir(w, plen + 1 + e->len, klen + e->len + 1, "");
        w->path[plen] = '\0';
    }
    w->key[klen] = '\0';
    free(l.ents);
    sp_buf_free(&l.names);
    return rc;
}

static int fs_list(store *s, const char *prefix, store_list_fn fn, void *ctx, sp_error *err)
{
    fs_walk *w = malloc(sizeof *w);
    if (!w)
        return sp_fail(err, SP_ERR_NOMEM, "store %s: list: out of memory", s->url);
    w->s = s;
    w->fn = fn;
    w->ctx = ctx;
    w->err = err;
    /* "runs/2024-0" → directory "runs", names starting "2024-0". */
    const char *slash = strrchr(prefix, '/');
    size_t klen = slash ? (size_t)(slash - prefix) + 1 : 0;
    memcpy(w->key, prefix, klen);
    w->key[klen] = '\0';
    int pl = klen ? snprintf(w->path, sizeof w->path, "%s/%.*s", root_of(s), (int)(klen - 1), prefix)
                  : snprintf(w->path, sizeof w->path, "%s", root_of(s));
    int rc;
    if (pl < 0 || pl >= (int)sizeof w->path) {
        rc = sp_fail(err, SP_ERR_LIMIT, "store %s: list '%s': the local path is too long", s->url,
                     prefix);
    } else {
        rc = walk_dir(w, (size_t)pl, klen, prefix + klen);
        if (rc == SP_OK && klen > 0) {
            /* A root that is a file would look like an empty listing. */
            struct stat st;
            if (stat(root_of(s), &st) == 0 && !S_ISDIR(st.st_mode))
                rc = sp_fail(err, SP_ERR_IO, "store %s: list: %s is not a directory", s->url,
                             root_of(s));
        }
    }
    free(w);
    return rc;
}

static int fs_list_root(store *s, const char *prefix, store_list_fn fn, void *ctx, sp_error *err)
{
    /* A root that does not exist yet (created on first put) holds nothing. */
    struct stat st;
    if (stat(root_of(s), &st) != 0 && errno == ENOENT)
        return SP_OK;
    return fs_list(s, prefix, fn, ctx, err);
}

/* ---- debris ---------------------------------------------------------------- */

typedef struct fs_sweeper {
    const store *s;
    int64_t max_age;
    store_sweep_fn fn;
    void *ctx;
    int removed;
    int rc;
    sp_error *err;
    char path[STORE_PATH_MAX];
} fs_sweeper;

/* A ".tmp-" name: what follows the head is the owner tag, after the kind of
 * item for the work folders (".tmp-transform-<owner>-<n>") and downloads
 * (".tmp-s3-<owner>-<n>"). */
static bool fs_is_debris(const char *name, const struct stat *st, int64_t max_age)
{
    const char *rest = name + strlen(STORE_TMP_PREFIX);
    if (strncmp(rest, "transform-", 10) == 0)
        rest += 10;
    else if (strncmp(rest, "s3-", 3) == 0)
        rest += 3;
    return sp_owner_is_debris(rest, (int64_t)st->st_mtime, max_age);
}

/* Walk w->path (of length len) for debris; never into a live ".tmp-" folder
 * nor through a symbolic link. */
static void sweep_dir(fs_sweeper *w, size_t len, int depth)
{
    DIR *d = opendir(w->path);
    if (!d)
        return; /* gone meanwhile, or not ours to read: nothing to sweep */
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0)
            continue;
        size_t nl = strlen(nm);
        if (len + 1 + nl >= sizeof w->path)
            continue;
        w->path[len] = '/';
        memcpy(w->path + len + 1, nm, nl + 1);
        struct stat st;
        if (lstat(w->path, &st) == 0) {
            if (strncmp(nm, STORE_TMP_PREFIX, strlen(STORE_TMP_PREFIX)) == 0) {
                if (fs_is_debris(nm, &st, w->max_age)) {
                    sp_error e;
                    if (sp_remove_tree(w->path, &e) == SP_OK) {
                        char what[STORE_PATH_MAX + 16];
                        snprintf(what, sizeof what, "removed %s", w->path);
                        w->fn(w->ctx, what);
                        w->removed++;
                    } else if (w->rc == SP_OK) {
                        w->rc = sp_fail(w->err, SP_ERR_IO, "store %s: sweep: %s", w->s->url, e.msg);
                    }
                }
            } else if (S_ISDIR(st.st_mode) && depth < 64) {
                sweep_dir(w, len + 1 + nl, depth + 1);
            }
        }
        w->path[len] = '\0';
    }
    closedir(d);
}

static int fs_sweep(store *s, int64_t max_age, store_sweep_fn fn, void *ctx, int *removed,
                    sp_error *err)
{
    fs_sweeper *w = malloc(sizeof *w);
    if (!w)
        return sp_fail(err, SP_ERR_NOMEM, "store %s: sweep: out of memory", s->url);
    *w = (fs_sweeper){.s = s, .max_age = max_age, .fn = fn, .ctx = ctx, .err = err};
    snprintf(w->path, sizeof w->path, "%s", root_of(s));
    sweep_dir(w, strlen(w->path), 0);
    int rc = w->rc;
    *removed = w->removed;
    free(w);
    return rc;
}

static const char *fs_local_root(const store *s)
{
    return root_of(s);
}

static void fs_close(store *s)
{
    free(s->impl);
    s->impl = NULL;
}

static const store_ops fs_ops = {
    .name = "fs",
    .list = fs_list_root,
    .stat = fs_stat,
    .get = fs_get,
    .get_file = fs_get_file,
    .put_file = fs_put_file,
    .put_bytes = fs_put_bytes,
    .del = fs_delete,
    .local_root = fs_local_root,
    .sweep = fs_sweep,
    .close = fs_close,
};

int store_fs_init(store *s, const char *root, sp_error *err)
{
    fs_store *f = calloc(1, sizeof *f);
    if (!f)
        return sp_fail(err, SP_ERR_NOMEM, "store %s: out of memory", s->url);
    size_t n = strlen(root);
    if (n >= sizeof f->root) {
        free(f);
        return sp_fail(err, SP_ERR_LIMIT, "store %.64s…: the directory path is too long", s->url);
    }
    memcpy(f->root, root, n + 1);
    while (n > 1 && f->root[n - 1] == '/')
        f->root[--n] = '\0'; /* "lake/" and "lake" are one store */
    s->ops = &fs_ops;
    s->impl = f;
    return SP_OK;
}
