/* transform_pool.c — transform's workers (THREADS of them): a queue of
 * chunks (and of checksums of chunked files) that any worker takes from.
 * When the last chunk of a file's round is read, that worker settles the
 * file: it checks the chunk boundaries, decides the file's encoding and
 * date order from all its chunks in line order, and either starts a new
 * round (the file proved Windows-1252 or day-first), fails the file, or
 * marks it settled. A chunk's dimensions are folded into its file's as
 * soon as every chunk before it is folded and its start is confirmed (the
 * previous chunk ended on its first line), and freed: memory holds one set
 * of dimensions per file in flight, whatever the file's size. Settled
 * files are merged into the run's dimensions and counts in file order at
 * once and their own dimensions freed, so memory does not grow with the
 * number of files either. It never writes outputs. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../util/sha256.h"
#include "../util/cancel.h"
#include "transform_internal.h"

#define MAX_ROUNDS 3 /* the first, one for the encoding, one for the date order */

enum { ITEM_CHUNK, ITEM_SHA };
typedef struct item {
    int kind, index; /* a chunk, or a file whose checksum to compute */
} item;

typedef struct pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    item *q;
    size_t head, tail, cap;
    int in_flight;
    tf_file *files;
    tf_chunk *chunks;
    int nchunks;
    int nfiles;
    /* the ordered folds and merge */
    pthread_mutex_t merge_mu;
    int cursor;              /* files before it are merged */
    star_dims *dims;
    star_counts *total;
    int merge_rc;
    sp_error merge_err;
} pool;

/* Caller holds p->mu. The queue was sized for every push there can be. */
static void push(pool *p, int kind, int index)
{
    if (p->tail < p->cap)
        p->q[p->tail++] = (item){kind, index};
}

/* ---- checksums of chunked files -------------------------------------------- */

static void sha_job(tf_file *f)
{
    sp_error err;
    sp_error_clear(&err);
    sp_sha256 sha;
    uint8_t *buf = malloc((size_t)1 << 20);
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    int rc = !buf ? sp_fail(&err, SP_ERR_NOMEM, "%s: out of memory", f->key)
             : fd < 0 ? sp_fail(&err, SP_ERR_IO, "%s: %s", f->key, strerror(errno))
                      : sp_sha256_init(&sha, &err);
    while (rc == SP_OK) {
        ssize_t n = read(fd, buf, (size_t)1 << 20);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = sp_fail(&err, SP_ERR_IO, "%s: read failed: %s", f->key, strerror(errno));
            sp_sha256_free(&sha);
        } else if (n == 0) {
            sp_sha256_final(&sha, f->sha256);
            break;
        } else {
            sp_sha256_update(&sha, buf, (size_t)n);
            if (sp_cancelled()) { /* a big file's checksum must not hold a stop past the 2 s */
                char what[600];
                snprintf(what, sizeof what, "checksumming %.500s", f->key);
                rc = sp_cancel_check(&err, what);
                sp_sha256_free(&sha);
            }
        }
    }
    if (fd >= 0)
        close(fd);
    free(buf);
    if (rc != SP_OK) {
        f->sha_rc = rc;
        f->sha_msg = strdup(err.msg);
    }
}

/* ---- folding a file's chunks -------------------------------------------------- */

/* Fold f's chunks into f->dims in line order, from f->folded, while each
 * was read in this round, read to its stop without an error or a restart,
 * and starts where the one before it ended (a chunk whose guessed start
 * was inside a quoted field is read again by settle: it waits for that).
 * Chunk 0's set becomes the file's; each later one is merged and freed.
 * Caller holds p->merge_mu; returns the first error (out of memory). */
static int fold_chunks(pool *p, tf_file *f, sp_error *err)
{
    tf_chunk *cs = &p->chunks[f->first_chunk];
    while (f->folded < f->nchunks) {
        tf_chunk *c = &cs[f->folded];
        if (!c->ran || !c->complete || c->rc != SP_OK || c->restart != TF_RESTART_NONE ||
            !c->dims)
            break;
        if (f->folded > 0 && cs[f->folded - 1].end_line != c->line)
            break;
        if (!f->dims) {
            f->dims = c->dims;
        } else {
            SP_TRY(star_dims_merge(f->dims, c->dims, err));
            star_dims_free(c->dims);
        }
        c->dims = NULL;
        f->folded++;
    }
    return SP_OK;
}

/* A worker read chunk c: fold what can be of its file. `ran` is set under
 * the lock, so a worker that sees it also sees what the reading wrote. An
 * error here fails the run's merge (the file's own outcome is untouched). */
static void fold_ready(pool *p, tf_chunk *c)
{
    pthread_mutex_lock(&p->merge_mu);
    c->ran = true;
    if (p->merge_rc == SP_OK)
        p->merge_rc = fold_chunks(p, c->f, &p->merge_err);
    pthread_mutex_unlock(&p->merge_mu);
}

/* A new round for f: its folded dimensions are void. */
static void unfold(tf_file *f, tf_chunk *cs)
{
    star_dims_free(f->dims);
    f->dims = NULL;
    f->folded = 0;
    for (int k = 0; k < f->nchunks; k++)
        cs[k].ran = false;
}

/* ---- settling a file -------------------------------------------------------- */

enum { SETTLED, NEXT_ROUND, FAILED };

/* The byte offset of line `line` (> c->line), counting line ends from c's
 * start: the chunk's guessed start was inside a quoted field, and the
 * previous chunk read on to `line`. */
static int relocate(tf_chunk *c, uint64_t line, sp_error *err)
{
    int fd = open(c->f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sp_fail(err, SP_ERR_IO, "%s: %s", c->f->key, strerror(errno));
    char buf[1 << 16];
    uint64_t off = c->start, want = line - c->line;
    int rc = SP_OK;
    while (want > 0) {
        ssize_t n = pread(fd, buf, sizeof buf, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = sp_fail(err, SP_ERR_INTERNAL, "%s: line %llu not found past offset %llu",
                         c->f->key, (unsigned long long)line, (unsigned long long)c->start);
            break;
        }
        for (ssize_t i = 0; i < n && want > 0; i++)
            if (buf[i] == '\n' && --want == 0)
                off += (uint64_t)i + 1;
        if (want > 0)
            off += (uint64_t)n;
    }
    close(fd);
    if (rc == SP_OK) {
        c->start = off;
        c->line = line;
    }
    return rc;
}

static int fail_file(tf_file *f, const sp_error *err)
{
    f->rc = tf_keep_error(&f->err, err);
    return FAILED;
}

/* After a round: settle f from its chunks, in line order (the first event
 * in the file decides, as a single reader would meet them). */
static int settle(tf_worker *w, tf_file *f, tf_chunk *cs)
{
    const tf_shared *sh = f->sh;
    memset(f->ev_line, 0, sizeof f->ev_line);
    bool switched = false, ambiguous = false;
    for (int k = 0; k < f->nchunks; k++) {
        tf_chunk *c = &cs[k];
        if (k > 0 && cs[k - 1].end_line != c->line) {
            /* a wrong guess: this chunk began inside a quoted field */
            sp_error err;
            if (relocate(c, cs[k - 1].end_line, &err) != SP_OK)
                return fail_file(f, &err);
            if (!w) {
                sp_fail(&err, SP_ERR_NOMEM, "%s: out of memory", f->key);
                return fail_file(f, &err);
            }
            tf_run_chunk(w, c);
        }
        for (int e = 0; e < 2; e++)
            if (!f->ev_line[e] && c->ev_line[e]) {
                f->ev_line[e] = c->ev_line[e];
                memcpy(f->ev_text[e], c->ev_text[e], sizeof f->ev_text[e]);
            }
        if (f->ev_line[0] && f->ev_line[1]) {
            sp_error err;
            sp_fail(&err, SP_ERR_DATA,
                    "%s: dates are day-first on line %llu ('%s') and month-first on line %llu "
                    "('%s'): set DATE_ORDER=dmy or DATE_ORDER=mdy for this data",
                    f->key, (unsigned long long)f->ev_line[0], f->ev_text[0],
                    (unsigned long long)f->ev_line[1], f->ev_text[1]);
            return fail_file(f, &err);
        }
        if (c->rc != SP_OK)
            return fail_file(f, c->err);
        if (c->restart == TF_RESTART_ENCODING) {
            f->set.enc = CSV_ENC_CP1252;
            return NEXT_ROUND;
        }
        if (c->restart == TF_RESTART_DATE) {
            f->set.order = f->ev_line[0] ? RULES_DMY : RULES_MDY;
            f->set.decided = true;
            return NEXT_ROUND;
        }
        if (c->empty)
            tf_file_warn(f, "%s is empty (no header, no rows)", f->key);
        switched |= c->enc_used == CSV_ENC_CP1252;
        ambiguous |= c->ambiguous_seen;
    }
    /* One chunk switched to Windows-1252 on its own: the whole file is. */
    if (switched && f->set.enc != CSV_ENC_CP1252)
        for (int k = 0; k < f->nchunks; k++)
            if (cs[k].enc_used != CSV_ENC_CP1252) {
                f->set.enc = CSV_ENC_CP1252;
                return NEXT_ROUND;
            }
    f->enc_used = switched ? CSV_ENC_CP1252 : CSV_ENC_UTF8;
    memset(&f->counts, 0, sizeof f->counts);
    for (int k = 0; k < f->nchunks; k++)
        star_counts_merge(&f->counts, &cs[k].counts);
    if (f->nchunks == 1)
        memcpy(f->sha256, cs[0].sha256, sizeof f->sha256);
    if (f->enc_used == CSV_ENC_CP1252 && sh->encoding == CSV_ENC_AUTO)
        tf_file_warn(f, "%s is not valid UTF-8: read as windows-1252 and transcoded", f->key);
    f->order_assumed = sh->order == RULES_ORDER_AUTO && !f->set.decided && !f->ev_line[0] &&
                       !f->ev_line[1] && ambiguous;
    if (f->order_assumed)
        tf_file_warn(f, "%s: no date tells day-first from month-first: read as month-first "
                     "(set DATE_ORDER to be sure)", f->key);
    return SETTLED;
}

/* Merge the settled files at the cursor, in order, and free their dims. */
static void merge_ready(pool *p)
{
    pthread_mutex_lock(&p->merge_mu);
    while (p->cursor < p->nfiles && p->files[p->cursor].settled) {
        tf_file *f = &p->files[p->cursor++];
        if (f->rc == SP_OK && p->merge_rc == SP_OK) {
            p->merge_rc = fold_chunks(p, f, &p->merge_err);
            if (p->merge_rc == SP_OK && f->folded != f->nchunks)
                p->merge_rc = sp_fail(&p->merge_err, SP_ERR_INTERNAL, "%s: %d of %d chunks "
                                      "in its dimensions", f->key, f->folded, f->nchunks);
            star_counts_merge(p->total, &f->counts);
            if (p->merge_rc == SP_OK && f->dims)
                p->merge_rc = star_dims_merge(p->dims, f->dims, &p->merge_err);
        }
        star_dims_free(f->dims);
        f->dims = NULL;
        for (int k = 0; k < f->nchunks; k++) { /* a failed file's, unfolded */
            star_dims_free(p->chunks[f->first_chunk + k].dims);
            p->chunks[f->first_chunk + k].dims = NULL;
        }
    }
    pthread_mutex_unlock(&p->merge_mu);
}

/* The last chunk of f's round was read: settle it, or queue a new round. */
static void file_done(pool *p, tf_worker *w, tf_file *f)
{
    tf_chunk *cs = &p->chunks[f->first_chunk];
    int verdict = settle(w, f, cs);
    if (verdict == NEXT_ROUND && ++f->rounds > MAX_ROUNDS) {
        sp_error err;
        sp_fail(&err, SP_ERR_INTERNAL, "%s: too many restarts", f->key);
        verdict = fail_file(f, &err);
    }
    if (verdict == NEXT_ROUND) {
        pthread_mutex_lock(&p->merge_mu);
        unfold(f, cs);
        pthread_mutex_unlock(&p->merge_mu);
        atomic_store(&f->pending, f->nchunks);
        pthread_mutex_lock(&p->mu);
        for (int k = 0; k < f->nchunks; k++)
            push(p, ITEM_CHUNK, f->first_chunk + k);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        return;
    }
    pthread_mutex_lock(&p->merge_mu);
    f->settled = true;
    pthread_mutex_unlock(&p->merge_mu);
    merge_ready(p);
}

/* ---- the workers -------------------------------------------------------------- */

static void run_item(pool *p, tf_worker *w, item it)
{
    if (it.kind == ITEM_SHA) {
        sha_job(&p->files[it.index]);
        return;
    }
    tf_chunk *c = &p->chunks[it.index];
    if (w) {
        tf_run_chunk(w, c);
    } else {
        sp_error err;
        sp_fail(&err, SP_ERR_NOMEM, "%s: out of memory", c->f->key);
        c->rc = tf_keep_error(&c->err, &err);
        c->complete = false;
    }
    fold_ready(p, c);
    if (atomic_fetch_sub(&c->f->pending, 1) == 1)
        file_done(p, w, c->f);
}

static void *worker(void *arg)
{
    pool *p = arg;
    tf_worker *w = NULL;
    sp_error err;
    if (tf_worker_new(&w, &err) != SP_OK)
        w = NULL; /* its chunks fail with "out of memory" */
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (p->head < p->tail) {
            item it = p->q[p->head++];
            p->in_flight++;
            pthread_mutex_unlock(&p->mu);
            run_item(p, w, it);
            pthread_mutex_lock(&p->mu);
            p->in_flight--;
            if (p->head == p->tail && p->in_flight == 0)
                pthread_cond_broadcast(&p->cv);
        } else if (p->in_flight == 0) {
            break;
        } else {
            pthread_cond_wait(&p->cv, &p->mu);
        }
    }
    pthread_mutex_unlock(&p->mu);
    tf_worker_free(w);
    return NULL;
}

int tf_run_files(tf_file *files, int nfiles, tf_chunk *chunks, int nchunks, int nthreads,
                 star_dims *dims, star_counts *total, sp_error *err)
{
    pool p = {.files = files, .nfiles = nfiles, .chunks = chunks, .nchunks = nchunks,
              .dims = dims, .total = total};
    /* every chunk at most MAX_ROUNDS times, every checksum once */
    p.cap = (size_t)nchunks * MAX_ROUNDS + (size_t)nfiles;
    p.q = malloc(p.cap * sizeof *p.q);
    if (!p.q)
        return sp_fail(err, SP_ERR_NOMEM, "out of memory (transform queue)");
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    pthread_mutex_init(&p.merge_mu, NULL);
    /* checksums of chunked files first: each is one long sequential job */
    for (int i = 0; i < nfiles; i++) {
        files[i].rounds = 1;
        atomic_store(&files[i].pending, files[i].nchunks);
        if (files[i].nchunks > 1)
            push(&p, ITEM_SHA, i);
    }
    for (int c = 0; c < nchunks; c++)
        push(&p, ITEM_CHUNK, c);
    pthread_t th[256];
    int started = 0;
    for (int t = 1; t < nthreads && t < 256; t++)
        if (pthread_create(&th[started], NULL, worker, &p) == 0)
            started++; /* fewer threads is slower, not wrong */
    worker(&p); /* the calling thread works too */
    for (int t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    merge_ready(&p);
    int rc = p.merge_rc;
    if (rc != SP_OK)
        *err = p.merge_err;
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.cv);
    pthread_mutex_destroy(&p.merge_mu);
    free(p.q);
    return rc;
}
