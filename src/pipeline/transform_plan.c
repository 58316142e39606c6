/* transform_plan.c — transform's plan: each input made a local file (the
 * store's own, or a download into the work directory), then cut into chunks
 * of about CHUNK_BYTES that workers read at once.
 *
 * Where a chunk may begin. In RFC 4180 a line end inside quotes is data, and
 * whether a byte is inside quotes depends on every quote before it, so no
 * offset can be judged on its own. We guess, then prove: chunk k is guessed
 * to begin at the first line start at or after its nominal offset, with
 * its line number from a parallel count of line ends before it; chunk k-1
 * is read from its own (proven) start and stops at the first line at or
 * past that number where a record or a blank line would begin. When that
 * line is chunk k's line, chunk k began between records and is proven;
 * otherwise (a quoted line end straddled the guess) chunk k is read again
 * from where chunk k-1 stopped (transform_pool.c). Chunk 0 begins at byte
 * 0, so by induction every chunk is read from a true record start, and the
 * result is the single reader's: the same records, lines and order. The
 * plan depends only on the file's bytes and CHUNK_BYTES, never on THREADS,
 * so the outputs are the same for any number of workers. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/cancel.h"
#include "transform_internal.h"

/* ---- running small jobs on every worker ---------------------------------- */

typedef struct par {
    int n;
    atomic_int next;
    int (*fn)(void *ctx, int i);
    void *ctx;
} par;

static void *par_worker(void *arg)
{
    par *p = arg;
    for (int i; (i = atomic_fetch_add(&p->next, 1)) < p->n;)
        p->fn(p->ctx, i);
    return NULL;
}

/* fn(ctx, i) for i in [0, n) on nthreads threads; each call records its
 * own outcome. */
static void run_parallel(int n, int nthreads, int (*fn)(void *, int), void *ctx)
{
    par p = {n, 0, fn, ctx};
    pthread_t th[256];
    int started = 0;
    for (int t = 1; t < nthreads && t < n && t < 256; t++)
        if (pthread_create(&th[started], NULL, par_worker, &p) == 0)
            started++;
    par_worker(&p);
    for (int t = 0; t < started; t++)
        pthread_join(th[t], NULL);
}

/* ---- local files ------------------------------------------------------------ */

/* The file's local path (the store's own, or a download) and its size. */
static int localize(void *ctx, int i)
{
    tf_file *f = &((tf_file *)ctx)[i];
    const tf_shared *sh = f->sh;
    char path[PATH_MAX];
    sp_error err;
    if (!store_local_path(sh->raw, f->key, path, sizeof path)) {
        snprintf(path, sizeof path, "%s/in-%d.csv", sh->workdir, f->index);
        f->spooled = true;
        if (store_get_file(sh->raw, f->key, path, &err) != SP_OK)
            return f->rc = tf_keep_error(&f->err, &err);
    }
    if (!(f->path = strdup(path))) {
        sp_fail(&err, SP_ERR_NOMEM, "%s: out of memory", f->key);
        return f->rc = tf_keep_error(&f->err, &err);
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        sp_fail(&err, SP_ERR_IO, "%s: %s", f->key, strerror(errno));
        return f->rc = tf_keep_error(&f->err, &err);
    }
    f->size = (int64_t)st.st_size;
    return SP_OK;
}

/* ---- counting line ends -------------------------------------------------------- */

/* Line ends in p[0, n): eight bytes at a time, exactly (no carries between
 * bytes: the high bit of each byte of t is set where that byte is not '\n').
 * Each byte lane adds up its own 0/1 for up to 255 words before the lanes
 * are summed: a popcount per word is a libgcc call without -mpopcnt, which
 * a portable build cannot assume (it was 4.7% of the transform's CPU). */
static uint64_t lane_sum(uint64_t acc)
{
    const uint64_t even = 0x00ff00ff00ff00ffULL;
    uint64_t pairs = (acc & even) + ((acc >> 8) & even); /* four 16-bit lanes, each <= 510 */
    return (pairs * 0x0001000100010001ULL) >> 48;
}

static uint64_t count_newlines(const uint8_t *p, size_t n)
{
    const uint64_t ones7 = 0x7f7f7f7f7f7f7f7fULL, nl = 0x0a0a0a0a0a0a0a0aULL;
    uint64_t c = 0;
    size_t i = 0;
    while (i + 8 <= n) {
        uint64_t acc = 0;
        for (int k = 0; k < 255 && i + 8 <= n; k++, i += 8) {
            uint64_t x;
            memcpy(&x, p + i, 8);
            uint64_t y = x ^ nl;
            uint64_t t = ((y & ones7) + ones7) | y;
            acc += (~t & ~ones7) >> 7;
        }
        c += lane_sum(acc);
    }
    for (; i < n; i++)
        c += p[i] == '\n';
    return c;
}

/* One range of one file to count line ends in. */
typedef struct span {
    const tf_file *f;
    uint64_t from, to;
    uint64_t newlines;
    int rc;
    sp_error err;
} span;

static int count_span(void *ctx, int i)
{
    span *s = &((span *)ctx)[i];
    int fd = open(s->f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return s->rc = sp_fail(&s->err, SP_ERR_IO, "%s: %s", s->f->key, strerror(errno));
    enum { BUF = 1 << 20 };
    uint8_t *buf = malloc(BUF);
    if (!buf) {
        close(fd);
        return s->rc = sp_fail(&s->err, SP_ERR_NOMEM, "%s: out of memory", s->f->key);
    }
    for (uint64_t off = s->from; off < s->to;) {
        size_t want = s->to - off < BUF ? (size_t)(s->to - off) : BUF;
        ssize_t n = pread(fd, buf, want, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            s->rc = sp_fail(&s->err, SP_ERR_IO, "%s: read failed: %s", s->f->key,
                            n < 0 ? strerror(errno) : "file shrank");
            break;
        }
        s->newlines += count_newlines(buf, (size_t)n);
        off += (uint64_t)n;
        if (sp_cancelled()) { /* stop within the 2 s */
            char what[600];
            snprintf(what, sizeof what, "planning the chunks of %.500s", s->f->key);
            s->rc = sp_cancel_check(&s->err, what);
            break;
        }
    }
    free(buf);
    close(fd);
    return s->rc;
}

/* The first line start at or after `at` (0 < at < size): `at` itself after
 * a line end, else just past the next line end; 0 when there is none. */
static int line_start_from(const tf_file *f, int fd, uint64_t at, uint64_t *out, sp_error *err)
{
    char buf[1 << 14];
    uint64_t off = at - 1;
    for (;;) {
        ssize_t n = pread(fd, buf, sizeof buf, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return sp_fail(err, SP_ERR_IO, "%s: read failed: %s", f->key, strerror(errno));
        if (n == 0) {
            *out = 0;
            return SP_OK;
        }
        const char *nl = memchr(buf, '\n', (size_t)n);
        if (nl) {
            *out = off + (uint64_t)(nl - buf) + 1;
            return SP_OK;
        }
        off += (uint64_t)n;
    }
}

/* ---- the plan ------------------------------------------------------------------ */

static int nominal_chunks(const tf_file *f, uint64_t chunk_bytes)
{
    uint64_t size = (uint64_t)f->size;
    if (size <= chunk_bytes)
        return 1;
    uint64_t k = (size + chunk_bytes - 1) / chunk_bytes;
    return k > 100000 ? 100000 : (int)k;
}

/* Cut file f (its spans counted: spans[0..K-1] cover [o_k, o_{k+1})) into
 * chunks appended at chunks[*n]. */
static int cut_file(tf_file *f, const span *spans, int K, tf_chunk *chunks, int *n, sp_error *err)
{
    f->first_chunk = *n;
    chunks[*n] = (tf_chunk){.f = f, .index = *n, .start = 0, .line = 1};
    (*n)++;
    if (K == 1) {
        f->nchunks = 1;
        return SP_OK;
    }
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sp_fail(err, SP_ERR_IO, "%s: %s", f->key, strerror(errno));
    uint64_t lines_before = 0; /* line ends in [0, o_k) */
    int rc = SP_OK;
    for (int k = 1; k < K && rc == SP_OK; k++) {
        lines_before += spans[k - 1].newlines;
        uint64_t o = spans[k].from, s;
        if ((rc = line_start_from(f, fd, o, &s, err)) != SP_OK)
            break;
        if (s == 0 || s >= (uint64_t)f->size)
            break; /* no line starts past o: the rest belongs to the chunk before */
        uint64_t line = 1 + lines_before + (s > o ? 1 : 0);
        tf_chunk *prev = &chunks[*n - 1];
        if (s <= prev->start)
            continue; /* one long line spans this nominal chunk */
        prev->stop_line = line;
        chunks[*n] = (tf_chunk){.f = f, .index = *n, .start = s, .line = line};
        (*n)++;
    }
    close(fd);
    f->nchunks = *n - f->first_chunk;
    return rc;
}

int tf_plan(tf_file *files, int nfiles, int nthreads, tf_chunk **chunks_out, int *nchunks_out,
            sp_error *err)
{
    *chunks_out = NULL;
    *nchunks_out = 0;
    run_parallel(nfiles, nthreads, localize, files);
    for (int i = 0; i < nfiles; i++)
        if (files[i].rc != SP_OK) {
            *err = *files[i].err;
            return files[i].rc;
        }
    const uint64_t cb = files[0].sh->chunk_bytes;
    size_t total = 0, nspans = 0;
    for (int i = 0; i < nfiles; i++) {
        int K = nominal_chunks(&files[i], cb);
        total += (size_t)K;
        if (K > 1)
            nspans += (size_t)K;
    }
    tf_chunk *chunks = calloc(total, sizeof *chunks);
    span *spans = calloc(nspans ? nspans : 1, sizeof *spans);
    if (!chunks || !spans) {
        free(chunks);
        free(spans);
        return sp_fail(err, SP_ERR_NOMEM, "out of memory (transform plan)");
    }
    size_t sp = 0;
    for (int i = 0; i < nfiles; i++) {
        int K = nominal_chunks(&files[i], cb);
        uint64_t size = (uint64_t)files[i].size;
        for (int k = 0; K > 1 && k < K; k++, sp++)
            spans[sp] = (span){.f = &files[i], .from = size * (uint64_t)k / (uint64_t)K,
                               .to = size * (uint64_t)(k + 1) / (uint64_t)K};
    }
    run_parallel((int)nspans, nthreads, count_span, spans);
    int rc = SP_OK, n = 0;
    sp = 0;
    for (size_t i = 0; i < nspans && rc == SP_OK; i++)
        if (spans[i].rc != SP_OK) {
            *err = spans[i].err;
            rc = spans[i].rc;
        }
    for (int i = 0; i < nfiles && rc == SP_OK; i++) {
        int K = nominal_chunks(&files[i], cb);
        rc = cut_file(&files[i], spans + sp, K, chunks, &n, err);
        if (K > 1)
            sp += (size_t)K;
    }
    free(spans);
    if (rc != SP_OK) {
        free(chunks);
        return rc;
    }
    *chunks_out = chunks;
    *nchunks_out = n;
    return SP_OK;
}
