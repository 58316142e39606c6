/* inputs.c — a run's input set (SPEC §8): `stage` records the files it
 * staged or found unchanged (name, bytes, SHA-256) as runs/<ds>/_inputs.json
 * in the raw store, last and atomically; `transform` reads exactly that set
 * (objects under the prefix outside it are named and ignored) or, without
 * it, the prefix's listing. Also the local side (DATA_DIR/raw) for stage,
 * `run --resume` and `plan`. Never deletes or rewrites a staged object. */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../util/buf.h"
#include "../util/json.h"
#include "../util/log.h"
#include "../util/sha256.h"
#include "pipeline.h"

enum {
    INPUTS_JSON_MAX = 64 << 20, /* _inputs.json read into memory: at most 64 MiB */
    INPUTS_NAME_MAX = 511,      /* a file name (a key's last segment) */
    WARN_NAMES = 10,            /* ignored objects named one by one, the rest counted */
};

/* ---- the set ---------------------------------------------------------------- */

void pl_inputs_init(pl_input_set *s)
{
    memset(s, 0, sizeof *s);
}

void pl_inputs_free(pl_input_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->files[i].name);
    free(s->files);
    memset(s, 0, sizeof *s);
}

static bool is_hex64(const char *h)
{
    for (int i = 0; i < 64; i++)
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
            return false;
    return h[64] == '\0';
}

int pl_inputs_add(pl_input_set *s, const char *name, int64_t bytes, const char *sha256,
                  sp_error *err)
{
    if (s->n >= PL_INPUTS_MAX)
        return sp_fail(err, SP_ERR_LIMIT, "more than %d input files", PL_INPUTS_MAX);
    if (!name[0] || strlen(name) > INPUTS_NAME_MAX || strchr(name, '/') || bytes < 0 ||
        !sha256 || !is_hex64(sha256))
        return sp_fail(err, SP_ERR_CORRUPT, "input '%.200s': not a file name with a size and "
                       "a SHA-256", name);
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        pl_input *f = realloc(s->files, cap * sizeof *f);
        if (!f)
            return sp_fail(err, SP_ERR_NOMEM, "out of memory for the input set");
        s->files = f;
        s->cap = cap;
    }
    pl_input *f = &s->files[s->n];
    if (!(f->name = strdup(name)))
        return sp_fail(err, SP_ERR_NOMEM, "out of memory for the input set");
    f->bytes = bytes;
    memcpy(f->sha256, sha256, 65);
    s->n++;
    return SP_OK;
}

static int cmp_input(const void *a, const void *b)
{
    return strcmp(((const pl_input *)a)->name, ((const pl_input *)b)->name);
}

/* Sort by name; a name twice is an error. */
static int sort_unique(pl_input_set *s, const char *what, sp_error *err)
{
    if (s->n > 1)
        qsort(s->files, s->n, sizeof *s->files, cmp_input);
    for (size_t i = 1; i < s->n; i++)
        if (strcmp(s->files[i - 1].name, s->files[i].name) == 0)
            return sp_fail(err, SP_ERR_CORRUPT, "%s: '%s' is listed twice", what,
                           s->files[i].name);
    return SP_OK;
}

const pl_input *pl_inputs_find(const pl_input_set *s, const char *name)
{
    pl_input key = {.name = (char *)name};
    return s->n ? bsearch(&key, s->files, s->n, sizeof *s->files, cmp_input) : NULL;
}

/* ---- JSON ------------------------------------------------------------------- */

void pl_inputs_json(const pl_input_set *s, const char *run_id, const char *ds, sp_buf *b)
{
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    sp_buf_puts(b, "{\"ds\": ");
    sp_json_cstr(b, ds);
    sp_buf_puts(b, ", \"run_id\": ");
    sp_json_cstr(b, run_id);
    sp_buf_printf(b, ", \"staged\": \"%s\", \"files\": [", now);
    for (size_t i = 0; i < s->n; i++) {
        const pl_input *f = &s->files[i];
        sp_buf_puts(b, i ? ",\n  {\"name\": " : "\n  {\"name\": ");
        sp_json_cstr(b, f->name);
        sp_buf_printf(b, ", \"bytes\": %lld, \"sha256\": \"%s\"}", (long long)f->bytes,
                      f->sha256);
    }
    sp_buf_puts(b, s->n ? "\n]}\n" : "]}\n");
}

/* A strict reader for the shape written above; unknown members are skipped. */
typedef struct jp {
    const char *p, *end, *start;
    const char *what; /* names the file in errors */
    sp_error *err;
} jp;

static int jp_fail(jp *j, const char *why)
{
    return sp_fail(j->err, SP_ERR_CORRUPT, "%s: %s at byte %zu (not as `stage` writes it: run "
                   "stage again, or remove it to read the prefix's listing)",
                   j->what, why, (size_t)(j->p - j->start));
}

static void jp_ws(jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

static bool jp_lit(jp *j, char c)
{
    jp_ws(j);
    if (j->p < j->end && *j->p == c) {
        j->p++;
        return true;
    }
    return false;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static bool read_u4(jp *j, unsigned *v)
{
    if (j->end - j->p < 4)
        return false;
    *v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(j->p[i]);
        if (h < 0)
            return false;
        *v = *v << 4 | (unsigned)h;
    }
    j->p += 4;
    return true;
}

/* A string into out (decoded, NUL-terminated; at most cap - 1 bytes). */
static int jp_string(jp *j, char *out, size_t cap)
{
    if (!jp_lit(j, '"'))
        return jp_fail(j, "a string was expected");
    size_t n = 0;
    while (j->p < j->end && *j->p != '"') {
        char tmp[4];
        size_t k = 1;
        unsigned char c = (unsigned char)*j->p++;
        if (c < 0x20)
            return jp_fail(j, "a control character in a string");
        tmp[0] = (char)c;
        if (c == '\\') {
            if (j->p >= j->end)
                break;
            char e = *j->p++;
            const char *simple = strchr("\"\\/bfnrt", e);
            if (e && simple) {
                tmp[0] = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
            } else if (e == 'u') {
                unsigned cp, lo;
                if (!read_u4(j, &cp))
                    return jp_fail(j, "a bad \\u escape");
                if (cp >= 0xD800 && cp < 0xDC00) {
                    if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
                        return jp_fail(j, "a lone surrogate");
                    j->p += 2;
                    if (!read_u4(j, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                        return jp_fail(j, "a lone surrogate");
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else if (cp >= 0xDC00 && cp < 0xE000) {
                    return jp_fail(j, "a lone surrogate");
                }
                k = put_utf8(tmp, cp);
            } else {
                return jp_fail(j, "a bad escape");
            }
        }
        if (n + k >= cap)
            return jp_fail(j, "a string too long");
        memcpy(out + n, tmp, k);
        n += k;
    }
    if (j->p >= j->end)
        return jp_fail(j, "an unterminated string");
    j->p++;
    out[n] = '\0';
    return SP_OK;
}

static int jp_int(jp *j, int64_t *v)
{
    jp_ws(j);
    const char *start = j->p;
    int64_t x = 0;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
        if (x > (INT64_MAX - 9) / 10)
            return jp_fail(j, "a number too large");
        x = x * 10 + (*j->p++ - '0');
    }
    if (j->p == start || (j->p < j->end && strchr(".eE-+", *j->p)))
        return jp_fail(j, "a non-negative integer was expected");
    *v = x;
    return SP_OK;
}

/* Skip any value (unknown members), at most 32 levels deep. */
static int jp_skip(jp *j, int depth)
{
    jp_ws(j);
    if (j->p >= j->end || depth > 32)
        return jp_fail(j, "a value was expected");
    char c = *j->p;
    if (c == '"') {
        char tmp[1024];
        return jp_string(j, tmp, sizeof tmp);
    }
    if (c == '{' || c == '[') {
        j->p++;
        char close = c == '{' ? '}' : ']';
        if (jp_lit(j, close))
            return SP_OK;
        do {
            if (c == '{') {
                char key[256];
                SP_TRY(jp_string(j, key, sizeof key));
                if (!jp_lit(j, ':'))
                    return jp_fail(j, "':' was expected");
            }
            SP_TRY(jp_skip(j, depth + 1));
        } while (jp_lit(j, ','));
        return jp_lit(j, close) ? SP_OK : jp_fail(j, "',' or the end was expected");
    }
    const char *start = j->p;
    while (j->p < j->end && (strchr("+-.eE", *j->p) || (*j->p >= '0' && *j->p <= '9') ||
                             (*j->p >= 'a' && *j->p <= 'z')))
        j->p++;
    return j->p > start ? SP_OK : jp_fail(j, "a value was expected");
}

static int jp_file(jp *j, pl_input_set *s)
{
    char name[INPUTS_NAME_MAX + 2] = "", sha[80] = "";
    int64_t bytes = -1;
    if (!jp_lit(j, '{'))
        return jp_fail(j, "a file object was expected");
    if (!jp_lit(j, '}')) {
        do {
            char key[64];
            SP_TRY(jp_string(j, key, sizeof key));
            if (!jp_lit(j, ':'))
                return jp_fail(j, "':' was expected");
            if (strcmp(key, "name") == 0)
                SP_TRY(jp_string(j, name, sizeof name));
            else if (strcmp(key, "sha256") == 0)
                SP_TRY(jp_string(j, sha, sizeof sha));
            else if (strcmp(key, "bytes") == 0)
                SP_TRY(jp_int(j, &bytes));
            else
                SP_TRY(jp_skip(j, 1));
        } while (jp_lit(j, ','));
        if (!jp_lit(j, '}'))
            return jp_fail(j, "',' or '}' was expected");
    }
    if (!name[0] || bytes < 0 || !is_hex64(sha) || strchr(name, '/') || name[0] == '_' ||
        name[0] == '.')
        return sp_fail(j->err, SP_ERR_CORRUPT, "%s: file %zu ('%.200s') lacks a usable name, "
                       "bytes or sha256 (run stage again, or remove it to read the prefix's "
                       "listing)", j->what, s->n + 1, name);
    return pl_inputs_add(s, name, bytes, sha, j->err);
}

int pl_inputs_parse(const char *text, size_t n, const char *what, pl_input_set *s,
                    sp_error *err)
{
    pl_inputs_init(s);
    jp j = {text, text + n, text, what, err};
    bool files = false;
    int rc = SP_OK;
    if (!jp_lit(&j, '{'))
        rc = jp_fail(&j, "an object was expected");
    if (rc == SP_OK && !jp_lit(&j, '}')) {
        do {
            char key[64];
            if ((rc = jp_string(&j, key, sizeof key)) != SP_OK)
                break;
            if (!jp_lit(&j, ':')) {
                rc = jp_fail(&j, "':' was expected");
                break;
            }
            if (strcmp(key, "files") != 0) {
                rc = jp_skip(&j, 1);
                continue;
            }
            files = true;
            if (!jp_lit(&j, '[')) {
                rc = jp_fail(&j, "\"files\" is not a list");
                break;
            }
            if (jp_lit(&j, ']'))
                continue;
            do
                rc = jp_file(&j, s);
            while (rc == SP_OK && jp_lit(&j, ','));
            if (rc == SP_OK && !jp_lit(&j, ']'))
                rc = jp_fail(&j, "',' or ']' was expected");
        } while (rc == SP_OK && jp_lit(&j, ','));
        if (rc == SP_OK && !jp_lit(&j, '}'))
            rc = jp_fail(&j, "',' or '}' was expected");
    }
    jp_ws(&j);
    if (rc == SP_OK && j.p != j.end)
        rc = jp_fail(&j, "text after the object");
    if (rc == SP_OK && !files)
        rc = sp_fail(err, SP_ERR_CORRUPT, "%s: no \"files\" list (run stage again, or remove "
                     "it to read the prefix's listing)", what);
    if (rc == SP_OK)
        rc = sort_unique(s, what, err);
    if (rc != SP_OK)
        pl_inputs_free(s);
    return rc;
}

/* ---- in the raw store --------------------------------------------------------- */

int pl_inputs_write(pl_ctx *ctx, const pl_input_set *s, sp_error *err)
{
    store *raw;
    SP_TRY(pl_raw_store(ctx, &raw, err));
    sp_buf b;
    sp_buf_init(&b, INPUTS_JSON_MAX);
    pl_inputs_json(s, ctx->run_id, ctx->ds, &b);
    char key[2048];
    int rc;
    if (b.broken)
        rc = sp_fail(err, SP_ERR_NOMEM, "out of memory writing %s", PL_INPUTS_KEY);
    else if (snprintf(key, sizeof key, "%s%s", ctx->prefix, PL_INPUTS_KEY) >= (int)sizeof key)
        rc = sp_fail(err, SP_ERR_USAGE, "key prefix too long");
    else
        rc = store_put_bytes(raw, key, b.data, b.len, err);
    sp_buf_free(&b);
    return rc;
}

static int collect_bytes(void *arg, const void *p, size_t n)
{
    sp_buf *b = arg;
    sp_buf_append(b, p, n);
    return b->broken ? SP_ERR_LIMIT : SP_OK;
}

int pl_store_read(store *st, const char *key, size_t cap, sp_buf *b, bool *found,
                  const char *what, sp_error *err)
{
    *found = false;
    store_stat ss;
    SP_TRY(store_stat_key(st, key, false, &ss, err));
    if (!ss.exists)
        return SP_OK;
    if (ss.size > (int64_t)cap)
        return sp_fail(err, SP_ERR_LIMIT, "%s: %lld bytes, more than the %zu KiB cap", what,
                       (long long)ss.size, cap >> 10);
    int rc = store_get(st, key, collect_bytes, b, err);
    if (rc == SP_ERR_LIMIT || (rc == SP_OK && (b->broken || b->len > cap)))
        return sp_fail(err, b->len >= cap ? SP_ERR_LIMIT : SP_ERR_NOMEM,
                       "%s: cannot hold it in memory (cap %zu KiB)", what, cap >> 10);
    if (rc == SP_OK)
        *found = true;
    return rc;
}

int pl_inputs_read(pl_ctx *ctx, pl_input_set *s, bool *found, sp_error *err)
{
    pl_inputs_init(s);
    *found = false;
    store *raw;
    SP_TRY(pl_raw_store(ctx, &raw, err));
    char key[2048], what[2200];
    if (snprintf(key, sizeof key, "%s%s", ctx->prefix, PL_INPUTS_KEY) >= (int)sizeof key)
        return sp_fail(err, SP_ERR_USAGE, "key prefix too long");
    snprintf(what, sizeof what, "%s/%s", store_url(raw), key);
    sp_buf b;
    sp_buf_init(&b, INPUTS_JSON_MAX);
    bool there;
    int rc = pl_store_read(raw, key, INPUTS_JSON_MAX, &b, &there, what, err);
    if (rc == SP_OK && there)
        rc = pl_inputs_parse(b.len ? (const char *)b.data : "", b.len, what, s, err);
    sp_buf_free(&b);
    if (rc == SP_OK)
        *found = there;
    return rc;
}

/* ---- the local side: DATA_DIR/raw ------------------------------------------------ */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void pl_local_inputs_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int pl_local_inputs(const char *dir, const char *pattern, char ***names, size_t *n, sp_error *err)
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
        if (*n >= PL_INPUTS_MAX) {
            rc = sp_fail(err, SP_ERR_LIMIT, "%s: more than %d input files", dir, PL_INPUTS_MAX);
            break;
        }
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
    if (rc != SP_OK) {
        pl_local_inputs_free(*names, *n);
        *names = NULL;
        *n = 0;
        return rc;
    }
    if (*n > 1)
        qsort(*names, *n, sizeof **names, cmp_str);
    return SP_OK;
}

int pl_inputs_local_changes(pl_ctx *ctx, pl_input_change_fn fn, void *arg, int *nchanges,
                            bool *found, sp_error *err)
{
    *nchanges = 0;
    pl_input_set set;
    SP_TRY(pl_inputs_read(ctx, &set, found, err));
    if (!*found)
        return SP_OK;
    const char *data_dir = sp_config_get(ctx->cfg, "DATA_DIR");
    const char *pattern = sp_config_get(ctx->cfg, "RAW_PATTERN");
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/raw", data_dir) >= (int)sizeof dir) {
        pl_inputs_free(&set);
        return sp_fail(err, SP_ERR_USAGE, "DATA_DIR is too long");
    }
    char **names = NULL;
    size_t n = 0;
    int rc = pl_local_inputs(dir, pattern, &names, &n, err);
    /* Both lists are sorted: walk them together. */
    size_t i = 0, k = 0;
    while (rc == SP_OK && (i < n || k < set.n)) {
        int c = i >= n ? 1 : k >= set.n ? -1 : strcmp(names[i], set.files[k].name);
        if (c < 0) {
            fn(arg, names[i++], PL_INPUT_NEW);
            (*nchanges)++;
            continue;
        }
        if (c > 0) {
            fn(arg, set.files[k++].name, PL_INPUT_GONE);
            (*nchanges)++;
            continue;
        }
        char path[PATH_MAX], sha[65];
        int64_t size = -1;
        struct stat st;
        if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) < (int)sizeof path &&
            stat(path, &st) == 0)
            size = (int64_t)st.st_size;
        bool same = size == set.files[k].bytes;
        if (same && (rc = sp_sha256_file(path, sha, NULL, err)) == SP_OK)
            same = strcmp(sha, set.files[k].sha256) == 0;
        if (rc == SP_OK && !same) {
            fn(arg, names[i], PL_INPUT_CHANGED);
            (*nchanges)++;
        }
        i++, k++;
    }
    pl_local_inputs_free(names, n);
    pl_inputs_free(&set);
    return rc;
}

/* ---- what transform reads ---------------------------------------------------------- */

typedef struct selector {
    const pl_input_set *set; /* NULL: listing mode */
    const char *pattern;
    size_t plen;
    pl_input_fn fn;
    void *arg;
    size_t matched; /* set mode: files of the set seen */
    int ignored;
    char ignored_names[WARN_NAMES][160];
    sp_error *err;
} selector;

static int select_key(void *arg, const char *key, int64_t size)
{
    selector *s = arg;
    const char *name = key + s->plen;
    /* Sub-folders (_parts/), our own records (_inputs.json, _manifest.json)
     * and hidden objects are never inputs. */
    if (!name[0] || strchr(name, '/') || name[0] == '_' || name[0] == '.')
        return SP_OK;
    if (!s->set) {
        if (fnmatch(s->pattern, name, 0) != 0)
            return SP_OK;
        return s->fn(s->arg, key, name, size, NULL);
    }
    const pl_input *want = pl_inputs_find(s->set, name);
    if (!want) {
        if (s->ignored < WARN_NAMES)
            snprintf(s->ignored_names[s->ignored], sizeof s->ignored_names[0], "%s", name);
        s->ignored++;
        return SP_OK;
    }
    s->matched++;
    if (size != want->bytes)
        return sp_fail(s->err, SP_ERR_DATA, "%s: the staged copy has %lld bytes, %s recorded "
                       "%lld: it changed after stage (stage again: a new run without --resume)",
                       key, (long long)size, PL_INPUTS_KEY, (long long)want->bytes);
    return s->fn(s->arg, key, name, size, want);
}

static void warn_ignored(const selector *s, const char *where)
{
    if (s->ignored == 0)
        return;
    char list[WARN_NAMES * 170] = "";
    size_t len = 0;
    for (int i = 0; i < s->ignored && i < WARN_NAMES; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "",
                                s->ignored_names[i]);
    if (s->ignored > WARN_NAMES)
        snprintf(list + len, sizeof list - len, " and %d more", s->ignored - WARN_NAMES);
    sp_log(SP_LOG_WARN, "transform: %d object%s under %s %s not in this run's %s, ignored (not "
           "deleted): %s", s->ignored, s->ignored == 1 ? "" : "s", where,
           s->ignored == 1 ? "is" : "are", PL_INPUTS_KEY, list);
}

int pl_inputs_select(pl_ctx *ctx, pl_input_set *set, bool *staged, pl_input_fn fn, void *arg,
                     sp_error *err)
{
    pl_inputs_init(set);
    *staged = false;
    store *raw;
    SP_TRY(pl_raw_store(ctx, &raw, err));
    SP_TRY(pl_inputs_read(ctx, set, staged, err));
    char where[2200];
    snprintf(where, sizeof where, "%s/%s", store_url(raw), ctx->prefix);
    selector s = {.set = *staged ? set : NULL,
                  .pattern = sp_config_get(ctx->cfg, "RAW_PATTERN"),
                  .plen = strlen(ctx->prefix),
                  .fn = fn,
                  .arg = arg,
                  .err = err};
    if (!*staged)
        sp_log(SP_LOG_INFO, "transform: no %s under %s (files delivered without stage): reading "
               "every object there matching %s", PL_INPUTS_KEY, where, s.pattern);
    int rc = store_list(raw, ctx->prefix, select_key, &s, err);
    if (rc != SP_OK)
        return rc;
    warn_ignored(&s, where);
    if (*staged && s.matched != set->n) {
        for (size_t i = 0; i < set->n; i++) {
            char key[2048];
            snprintf(key, sizeof key, "%s%s", ctx->prefix, set->files[i].name);
            store_stat st;
            SP_TRY(store_stat_key(raw, key, false, &st, err));
            if (!st.exists)
                return sp_fail(err, SP_ERR_DATA, "%s%s: staged by this run (%s) but no longer "
                               "in the raw store (stage again: a new run without --resume)",
                               where, set->files[i].name, PL_INPUTS_KEY);
        }
    }
    return SP_OK;
}

int pl_inputs_verify_digest(const pl_input_set *set, const char *key, const char *name,
                            int64_t bytes, const char *sha256, sp_error *err)
{
    const pl_input *want = pl_inputs_find(set, name);
    if (!want)
        return SP_OK;
    if (bytes != want->bytes || strcmp(sha256, want->sha256) != 0)
        return sp_fail(err, SP_ERR_DATA, "%s: the staged copy no longer matches %s (%lld bytes, "
                       "sha256 %.12s…; recorded %lld bytes, sha256 %.12s…): it changed after "
                       "stage (stage again: a new run without --resume)",
                       key, PL_INPUTS_KEY, (long long)bytes, sha256, (long long)want->bytes,
                       want->sha256);
    return SP_OK;
}
