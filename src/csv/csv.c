/* csv.c — the streaming CSV reader of csv.h (SPEC §4): read(2) in chunks
 * into one capped buffer, validate (UTF-8) or transcode (Windows-1252) each
 * chunk, then cut records into trimmed field views. Unquoted fields are
 * views into the buffer; only quoted fields with "" or text after the
 * closing quote are copied, to a per-record scratch. It never holds more
 * than the buffer plus one record, and never reads a whole file. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "csv_internal.h"
#include "../util/cancel.h"

#define DEFAULT_MAX_RECORD ((size_t)1 << 20)
#define DEFAULT_MAX_FIELDS ((size_t)4096)
#define MAX_RECORD_LIMIT ((size_t)1 << 30) /* larger caps are a configuration error */
#define MAX_FIELDS_LIMIT ((size_t)1 << 24)
/* The scanners load 64 bytes at a time and may look past the data end (they
 * ignore what they find there); the buffer keeps this many spare bytes. */
#define SCAN_PAD 64
/* Room beyond the record cap: a "\r" whose "\n" is not read yet and up to
 * three bytes of a UTF-8 character cut by the read size. */
#define SLACK 16

typedef enum read_mode { MODE_UTF8, MODE_AUTO, MODE_CP1252 } read_mode;
typedef enum bad_kind { BAD_NONE, BAD_UTF8, BAD_NUL } bad_kind;

struct csv_reader {
    int fd;
    char *name;
    csv_options opt; /* defaults filled in */
    size_t read_size;
    read_mode mode;

    /* buf[0, pos) is consumed, [pos, vend) checked UTF-8 text, [vend, end)
     * bytes held back (a character cut by the read, or what follows a bad
     * byte), [end, datacap) free; SCAN_PAD readable bytes follow. */
    uint8_t *buf;
    size_t datacap, pos, vend, end;
    uint8_t *raw;        /* read_size bytes: Windows-1252 input before transcoding */
    uint64_t buf_off;    /* file offset of buf[0] (UTF-8 modes: text = file bytes) */
    uint64_t line;       /* physical line of buf[pos] */
    uint64_t raw_total;  /* bytes read in this pass */
    uint64_t first_high; /* file offset of the first byte >= 0x80 (UTF-8 modes) */
    bool started, eof, had_bom, restart_pending;
    bad_kind bad;        /* what stops the text at vend */
    uint64_t bad_off;    /* its file offset */

    uint64_t nrecords; /* records returned in this pass: the first is the header */
    /* A range reader (csv_open_range): where the pass starts and the line at
     * which it stops; 0, 1, 0 for a whole file. */
    uint64_t range_start, range_line, stop_line;
    csv_field *fields;
    size_t fcap;
    char *scratch; /* unescaped quoted fields of the current record */
    size_t scap, slen;

    bool failed; /* sticky: later calls repeat the error */
    sp_error fail;
};

__attribute__((format(printf, 4, 5))) static int fail(csv_reader *r, sp_error *err, int code,
                                                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sp_failv(err, code, fmt, ap);
    va_end(ap);
    r->fail = *err;
    r->failed = true;
    return code;
}

/* ---- scanning ---------------------------------------------------------- */

/* Where ',' and '\n' are in the 64 bytes at p: bit i for p[i]. May read
 * 63 bytes past the data end (SCAN_PAD; the caller ignores matches there). */
static inline uint64_t sep_mask64(const char *p)
{
#ifdef __SSE2__
    const __m128i comma = _mm_set1_epi8(','), nl = _mm_set1_epi8('\n');
    uint64_t m = 0;
    for (int k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k));
        uint64_t b = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_cmpeq_epi8(v, comma), _mm_cmpeq_epi8(v, nl)));
        m |= b << (16 * k);
    }
    return m;
#else
    uint64_t m = 0;
    for (int k = 0; k < 64; k++)
        m |= (uint64_t)(p[k] == ',' || p[k] == '\n') << k;
    return m;
#endif
}

/* The separators of one 64-byte block of the record being cut, so the
 * fields that start in it (about five in a sales row) cost one scan, not
 * one each. Valid for one parse_record call: the buffer does not move
 * during it. */
typedef struct sep_cache {
    uintptr_t base; /* the block's first byte; 0 before the first scan */
    uint64_t mask;  /* sep_mask64(base) */
} sep_cache;

/* First ',' or '\n' in [p, lim), or lim. May read up to 63 bytes past lim. */
static inline const char *find_sep(sep_cache *c, const char *p, const char *lim)
{
    for (;;) {
        uintptr_t k = (uintptr_t)p - c->base; /* wraps when p is before the block */
        if (k < 64) {
            uint64_t m = c->mask >> k;
            if (m) {
                const char *q = p + __builtin_ctzll(m);
                return q < lim ? q : lim;
            }
            p += 64 - k;
        }
        if (p >= lim)
            return lim;
        c->base = (uintptr_t)p;
        c->mask = sep_mask64(p);
    }
}

static inline bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static uint64_t count_nl(const char *p, const char *lim)
{
    uint64_t n = 0;
    while (p < lim && (p = memchr(p, '\n', (size_t)(lim - p))) != NULL) {
        n++;
        p++;
    }
    return n;
}

/* ---- record parsing ---------------------------------------------------- */

enum { P_DONE, P_MORE, P_END, P_FIELDS, P_LONG, P_NOMEM, P_OVER };

/* The field cap is a limit on the header, the only record whose width the
 * reader's memory must follow. A data record wider than the cap is not an
 * error of the file: it keeps max_fields + 1 fields (so it can never match
 * a header, and is a malformed row to the caller) and the rest are dropped
 * (P_OVER) while the record is still read to its end. */
static int grow_fields(csv_reader *r, size_t nf)
{
    size_t limit = r->nrecords ? r->opt.max_fields + 1 : r->opt.max_fields;
    if (nf >= limit)
        return r->nrecords ? P_OVER : P_FIELDS;
    size_t ncap = r->fcap ? r->fcap * 2 : 32;
    if (ncap > limit)
        ncap = limit;
    csv_field *f = realloc(r->fields, ncap * sizeof *f);
    if (!f)
        return P_NOMEM;
    r->fields = f;
    r->fcap = ncap;
    return P_DONE;
}

/* Called before each copy with the same `need` (the attempt's whole text,
 * lim - start): every scratch byte comes from a distinct input byte of the
 * attempt, so `need` bytes suffice, and only the first call of an attempt
 * can move the scratch, before any field view points into it. */
static int scratch_reserve(csv_reader *r, size_t need)
{
    if (r->scap < need) {
        char *s = realloc(r->scratch, need);
        if (!s)
            return P_NOMEM;
        r->scratch = s;
        r->scap = need;
    }
    return P_DONE;
}

static inline void scratch_put(csv_reader *r, const char *p, size_t n)
{
    memcpy(r->scratch + r->slen, p, n);
    r->slen += n;
}

/* A record being cut: where it starts, how far the parser may look, and
 * what it found so far. Set by the phases of parse_record below. */
typedef struct rec_scan {
    const char *start, *lim; /* the record's first byte; the end of what may be looked at */
    bool final;              /* lim is the end of the file: nothing more will come */
    size_t nf;               /* fields pushed */
    bool quoted, unterminated;
    const char *text_end;    /* once the record ended: end of its text, before "\r\n" */
    const char *next;        /* ... and where the next record starts */
    sep_cache seps;
} rec_scan;

/* What a field's phase leaves behind, besides the P_* results. */
enum { F_NEXT = -1, F_END = -2 }; /* a ',' follows / the record has ended */

/* One field view [a, b), trimmed of blanks. P_DONE, or a P_* error (fields
 * past the cap of a data record are dropped: P_OVER is not an error). */
static inline int push_field(csv_reader *r, rec_scan *s, const char *a, const char *b)
{
    while (a < b && is_blank(*a))
        a++;
    while (b > a && is_blank(b[-1]))
        b--;
    if (s->nf == r->fcap) {
        int rc = grow_fields(r, s->nf);
        if (rc != P_DONE)
            return rc == P_OVER ? P_DONE : rc;
    }
    r->fields[s->nf].ptr = a;
    r->fields[s->nf].len = (size_t)(b - a);
    s->nf++;
    return P_DONE;
}

/* Blank lines (nothing at all before "\n" or "\r\n") from buf[pos] are
 * consumed. P_DONE when a record starts at r->pos, else P_END or P_MORE.
 * A range reader stops at the first line start at or past its stop line,
 * whether a record or a blank line begins there. */
static int skip_blank_lines(csv_reader *r, bool at_eof)
{
    const char *base = (const char *)r->buf;
    const char *p = base + r->pos, *vlim = base + r->vend;
    uint64_t line = r->line;
    int rc = P_DONE;
    for (;;) {
        if (r->stop_line && line >= r->stop_line) {
            rc = P_END;
            break;
        }
        if (p < vlim && *p == '\n') {
            p++;
            line++;
        } else if (p < vlim && *p == '\r' && (p + 1 < vlim || !at_eof)) {
            if (p + 1 == vlim) {
                rc = P_MORE;
                break;
            }
            if (p[1] != '\n')
                break;
            p += 2;
            line++;
        } else {
            break;
        }
    }
    r->pos = (size_t)(p - base);
    r->line = line;
    if (rc == P_DONE && p == vlim)
        rc = at_eof ? P_END : P_MORE;
    return rc;
}

/* An unquoted field at *pp: a view up to the next ',' or line end. */
static inline int scan_unquoted(csv_reader *r, rec_scan *s, const char **pp)
{
    const char *p = *pp, *e = find_sep(&s->seps, p, s->lim);
    int rc;
    if (e == s->lim) {
        if (!s->final)
            return P_MORE;
        if ((rc = push_field(r, s, p, s->lim)) != P_DONE)
            return rc;
        s->text_end = s->next = s->lim;
        return F_END;
    }
    if (*e == ',') {
        if ((rc = push_field(r, s, p, e)) != P_DONE)
            return rc;
        *pp = e + 1;
        return F_NEXT;
    }
    const char *te = e > p && e[-1] == '\r' ? e - 1 : e;
    if ((rc = push_field(r, s, p, te)) != P_DONE)
        return rc;
    s->text_end = te;
    s->next = e + 1;
    return F_END;
}

/* The closing quote of a quoted field whose text starts at `open`: *dq is
 * it (NULL: the quote never closes), *seg the start of the text not yet
 * copied; each "" before it is copied into the scratch as one quote
 * (*copied). P_DONE, P_MORE or P_NOMEM. */
static int find_closing_quote(csv_reader *r, rec_scan *s, const char *open, const char **dq,
                              const char **seg, bool *copied)
{
    const char *q = open;
    *seg = open;
    *copied = false;
    for (;;) {
        const char *d = memchr(q, '"', (size_t)(s->lim - q));
        *dq = d;
        if (!d)
            return P_DONE;
        if (d + 1 == s->lim && !s->final)
            return P_MORE;
        if (d + 1 == s->lim || d[1] != '"')
            return P_DONE;
        int rc = scratch_reserve(r, (size_t)(s->lim - s->start));
        if (rc != P_DONE)
            return rc;
        scratch_put(r, *seg, (size_t)(d + 1 - *seg)); /* keeps one quote */
        *copied = true;
        q = *seg = d + 2;
    }
}

/* After the closing quote dq: blanks, then ',' / line end / EOF, or other
 * text, which is kept literally up to the delimiter ([*after, *tail_end);
 * *after stays NULL without). F_NEXT (*pp past the ','), F_END (the record's
 * end set in s) or P_MORE. */
static int after_closing_quote(rec_scan *s, const char *dq, const char **pp,
                               const char **after, const char **tail_end)
{
    const char *a = dq + 1, *lim = s->lim;
    while (a < lim && is_blank(*a))
        a++;
    *after = *tail_end = NULL;
    if (a == lim) {
        if (!s->final)
            return P_MORE;
        s->text_end = s->next = lim;
        return F_END;
    }
    if (*a == ',') {
        *pp = a + 1;
        return F_NEXT;
    }
    if (*a == '\n') {
        s->text_end = a;
        s->next = a + 1;
        return F_END;
    }
    if (*a == '\r' && a + 1 == lim && !s->final)
        return P_MORE;
    if (*a == '\r' && a + 1 < lim && a[1] == '\n') {
        s->text_end = a;
        s->next = a + 2;
        return F_END;
    }
    *after = dq + 1;
    const char *e = find_sep(&s->seps, *after, lim);
    if (e == lim) {
        if (!s->final)
            return P_MORE;
        *tail_end = s->text_end = s->next = lim;
        return F_END;
    }
    if (*e == ',') {
        *tail_end = e;
        *pp = e + 1;
        return F_NEXT;
    }
    *tail_end = s->text_end = e > *after && e[-1] == '\r' ? e - 1 : e;
    s->next = e + 1;
    return F_END;
}

/* A quoted field at *pp (on its opening quote): a view between the quotes
 * unless "" or text after the closing quote forces a copy into the scratch. */
static int scan_quoted(csv_reader *r, rec_scan *s, const char **pp)
{
    const char *open = *pp + 1, *seg, *dq;
    size_t s0 = r->slen;
    bool copied;
    int rc;
    s->quoted = true;
    if ((rc = find_closing_quote(r, s, open, &dq, &seg, &copied)) != P_DONE)
        return rc;
    if (!dq) {
        /* The quote never closes: the record runs to the end of file. */
        if (!s->final)
            return P_MORE;
        if (copied) {
            scratch_put(r, seg, (size_t)(s->lim - seg));
            rc = push_field(r, s, r->scratch + s0, r->scratch + r->slen);
        } else {
            rc = push_field(r, s, open, s->lim);
        }
        s->unterminated = true;
        s->text_end = s->next = s->lim;
        return rc == P_DONE ? F_END : rc;
    }
    const char *after, *tail_end;
    int ends = after_closing_quote(s, dq, pp, &after, &tail_end);
    if (ends != F_NEXT && ends != F_END)
        return ends;
    if (after || copied) {
        if ((rc = scratch_reserve(r, (size_t)(s->lim - s->start))) != P_DONE)
            return rc;
        scratch_put(r, seg, (size_t)(dq - seg));
        if (after)
            scratch_put(r, after, (size_t)(tail_end - after));
        rc = push_field(r, s, r->scratch + s0, r->scratch + r->slen);
    } else {
        rc = push_field(r, s, open, dq);
    }
    return rc == P_DONE ? ends : rc;
}

/* The record's end: its view in *rec, the line count, pos past it. */
static int finish_record(csv_reader *r, const rec_scan *s, csv_record *rec)
{
    size_t text_len = (size_t)(s->text_end - s->start);
    if (text_len > r->opt.max_record_bytes)
        return P_LONG;
    rec->fields = r->fields;
    rec->nfields = s->nf;
    rec->line = r->line;
    rec->text = s->start;
    rec->text_len = text_len;
    rec->unterminated = s->unterminated;
    r->nrecords++;
    if (s->quoted)
        r->line += count_nl(s->start, s->text_end);
    if (s->next > s->text_end)
        r->line++;
    r->pos = (size_t)(s->next - (const char *)r->buf);
    return P_DONE;
}

/* One record from buf[pos, vend). P_MORE: the text ends before the record
 * does (blank lines skipped so far stay consumed); the caller reads more and
 * calls again, and the record is parsed from its start again. */
static int parse_record(csv_reader *r, csv_record *rec)
{
    bool at_eof = r->eof && r->bad == BAD_NONE && r->vend == r->end;
    int rc = skip_blank_lines(r, at_eof);
    if (rc != P_DONE)
        return rc;

    /* Never look further than the cap allows (text, then "\r\n"), and at
     * that length do not use the end of file either: a record that long
     * fails the same way whether or not EOF was seen, whatever the read size. */
    const char *p = (const char *)r->buf + r->pos, *vlim = (const char *)r->buf + r->vend;
    rec_scan s = {.start = p, .lim = vlim, .final = at_eof};
    if ((size_t)(vlim - p) >= r->opt.max_record_bytes + 2) {
        s.lim = p + r->opt.max_record_bytes + 2;
        s.final = false;
    }
    r->slen = 0;
    do {
        while (p < s.lim && is_blank(*p))
            p++;
        rc = p == s.lim || *p != '"' ? scan_unquoted(r, &s, &p) : scan_quoted(r, &s, &p);
    } while (rc == F_NEXT);
    return rc == F_END ? finish_record(r, &s, rec) : rc;
}

/* ---- reading and encodings -------------------------------------------- */

/* The scanners may load up to 63 bytes past the data: keep those defined. */
static inline void pad_end(csv_reader *r)
{
    memset(r->buf + r->end, 0, SCAN_PAD);
}

static long read_some(csv_reader *r, uint8_t *dst, size_t n, sp_error *err)
{
    for (;;) {
        int sig = sp_cancel_signal(); /* SIGTERM: every reader stops here */
        if (sig)
            return -(long)fail(r, err, SP_ERR_CANCELLED, "%s: cancelled by %s", r->name,
                               sp_cancel_signal_name(sig));
        ssize_t k = read(r->fd, dst, n);
        if (k >= 0)
            return (long)k;
        if (errno != EINTR)
            return -(long)fail(r, err, SP_ERR_IO, "%s: read failed: %s", r->name,
                               strerror(errno));
    }
}

static void got_raw(csv_reader *r, const uint8_t *p, size_t n)
{
    r->raw_total += n;
    if (r->opt.on_bytes && n)
        r->opt.on_bytes(r->opt.on_bytes_ctx, p, n);
}

/* UTF-8 modes: n new file bytes sit at buf[end]. Check them (with any
 * held-back start of a character) and move vend; a NUL or an invalid
 * sequence stops vend there until the parser reaches it. */
static void ingest_utf8(csv_reader *r, size_t n)
{
    const uint8_t *s = r->buf + r->end;
    const uint8_t *z = memchr(s, 0, n);
    size_t stop = r->end + (z ? (size_t)(z - s) : n);
    r->end += n;
    size_t ok, high;
    csv_utf8_result res = csv_utf8_check(r->buf + r->vend, stop - r->vend, &ok, &high);
    if (r->first_high == UINT64_MAX && high < stop - r->vend)
        r->first_high = r->buf_off + r->vend + high;
    r->vend += ok;
    pad_end(r);
    if (res == CSV_UTF8_BAD || (res == CSV_UTF8_PARTIAL && z)) {
        r->bad = BAD_UTF8;
        r->bad_off = r->buf_off + r->vend;
    } else if (z) {
        r->bad = BAD_NUL;
        r->bad_off = r->buf_off + r->vend;
    }
}

/* Windows-1252: transcode n file bytes (file offset off) to buf[end]. */
static void ingest_cp1252(csv_reader *r, const uint8_t *src, size_t n, uint64_t off)
{
    const uint8_t *z = memchr(src, 0, n);
    size_t upto = z ? (size_t)(z - src) : n;
    r->end += csv_cp1252_to_utf8(r->buf + r->end, src, upto);
    r->vend = r->end;
    pad_end(r);
    if (z) {
        r->bad = BAD_NUL;
        r->bad_off = off + upto;
    }
}

static void at_eof(csv_reader *r)
{
    r->eof = true;
    if (r->bad == BAD_NONE && r->vend < r->end) { /* a character cut off by EOF */
        r->bad = BAD_UTF8;
        r->bad_off = r->buf_off + r->vend;
    }
}

/* ---- the read buffer, kept per thread ------------------------------------
 * A closed reader leaves its read buffer (1.75 MiB by default) to the next
 * reader of its thread, as the Parquet writer does its buffers: transform
 * opens two readers per chunk of a big file, and allocating them anew each
 * time left glibc's heap fragmented (peak RSS grew with the number of
 * chunks, +7 MB at 20 M rows). One buffer per thread; a larger one than
 * SPARE_MAX_BYTES (a raised record cap) is freed, not kept. */
#define SPARE_MAX_BYTES ((size_t)8 << 20)
typedef struct spare_buf {
    uint8_t *buf;
    size_t cap; /* bytes allocated, SCAN_PAD included */
} spare_buf;

static pthread_key_t spare_key;
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;
static bool spare_usable;

static void spare_free(void *p)
{
    spare_buf *s = p;
    if (s)
        free(s->buf);
    free(s);
}

static void spare_key_create(void)
{
    spare_usable = pthread_key_create(&spare_key, spare_free) == 0;
}

/* This thread's slot, made on first use when `make`; NULL without one. */
static spare_buf *spare_slot(bool make)
{
    pthread_once(&spare_once, spare_key_create);
    if (!spare_usable)
        return NULL;
    spare_buf *s = pthread_getspecific(spare_key);
    if (!s && make && (s = calloc(1, sizeof *s)) && pthread_setspecific(spare_key, s) != 0) {
        free(s);
        s = NULL;
    }
    return s;
}

/* This thread's kept buffer when it holds at least `need` bytes, else NULL. */
static uint8_t *spare_take(size_t need)
{
    spare_buf *s = spare_slot(false);
    if (!s || !s->buf || s->cap < need)
        return NULL;
    uint8_t *b = s->buf;
    s->buf = NULL;
    return b;
}

/* Keep r's read buffer for the next reader of this thread, or free it. */
static void spare_keep(csv_reader *r)
{
    size_t cap = r->datacap + SCAN_PAD;
    spare_buf *s = cap <= SPARE_MAX_BYTES ? spare_slot(true) : NULL;
    if (s && !s->buf) {
        s->buf = r->buf;
        s->cap = cap;
    } else {
        free(r->buf);
    }
    r->buf = NULL;
}

static int alloc_buffers(csv_reader *r, sp_error *err)
{
    if (r->buf)
        return SP_OK;
    r->datacap = r->opt.max_record_bytes + SLACK + 3 * r->read_size;
    r->buf = spare_take(r->datacap + SCAN_PAD);
    /* malloc, not calloc: a small file touches only the pages it needs. */
    if (!r->buf)
        r->buf = malloc(r->datacap + SCAN_PAD);
    if (!r->buf)
        return fail(r, err, SP_ERR_NOMEM, "%s: out of memory for the read buffer", r->name);
    return SP_OK;
}

static int alloc_raw(csv_reader *r, sp_error *err)
{
    if (!r->raw && !(r->raw = malloc(r->read_size)))
        return fail(r, err, SP_ERR_NOMEM, "%s: out of memory for the read buffer", r->name);
    return SP_OK;
}

/* First bytes of a pass: up to three, to recognise a BOM even when reads
 * return less. */
static int start_pass(csv_reader *r, sp_error *err)
{
    SP_TRY(alloc_buffers(r, err));
    if (r->mode == MODE_CP1252)
        SP_TRY(alloc_raw(r, err));
    uint8_t pre[3];
    size_t n = 0;
    while (n < sizeof pre) {
        size_t want = sizeof pre - n < r->read_size ? sizeof pre - n : r->read_size;
        long k = read_some(r, pre + n, want, err);
        if (k < 0)
            return (int)-k;
        if (k == 0) {
            r->eof = true;
            break;
        }
        n += (size_t)k;
    }
    got_raw(r, pre, n);
    size_t skip = 0;
    if (r->range_start == 0 && n == 3 && pre[0] == 0xEF && pre[1] == 0xBB && pre[2] == 0xBF) {
        r->had_bom = true;
        skip = 3;
    }
    r->buf_off = r->range_start + skip;
    if (r->mode == MODE_CP1252) {
        ingest_cp1252(r, pre + skip, n - skip, r->range_start + skip);
    } else {
        memcpy(r->buf + r->end, pre + skip, n - skip);
        ingest_utf8(r, n - skip);
    }
    if (r->eof)
        at_eof(r);
    r->started = true;
    return SP_OK;
}

/* Read until `want` more text bytes arrived (so that re-parsing a long
 * record costs linear time even with tiny reads), EOF, or a bad byte. */
static int fill(csv_reader *r, size_t want, sp_error *err)
{
    size_t got = 0;
    do {
        size_t need = r->mode == MODE_CP1252 ? 3 * r->read_size : r->read_size;
        if (r->datacap - r->end < need && r->pos > 0) {
            memmove(r->buf, r->buf + r->pos, r->end - r->pos);
            r->buf_off += r->pos;
            r->vend -= r->pos;
            r->end -= r->pos;
            r->pos = 0;
        }
        if (r->datacap - r->end < need) {
            if (got > 0)
                return SP_OK;
            return fail(r, err, SP_ERR_INTERNAL, "%s: CSV read buffer full", r->name);
        }
        uint8_t *dst = r->mode == MODE_CP1252 ? r->raw : r->buf + r->end;
        long k = read_some(r, dst, r->read_size, err);
        if (k < 0)
            return (int)-k;
        if (k == 0) {
            at_eof(r);
            return SP_OK;
        }
        got_raw(r, dst, (size_t)k);
        size_t before = r->end;
        if (r->mode == MODE_CP1252)
            ingest_cp1252(r, dst, (size_t)k, r->raw_total - (uint64_t)k);
        else
            ingest_utf8(r, (size_t)k);
        got += r->end - before;
    } while (got < want && r->bad == BAD_NONE);
    return SP_OK;
}

/* ENCODING=auto met invalid UTF-8 before any non-ASCII text was returned:
 * everything not yet returned is re-read as Windows-1252 from the bytes
 * still in the buffer (in UTF-8 mode they are the file's own bytes). */
static int switch_to_cp1252(csv_reader *r, sp_error *err)
{
    SP_TRY(alloc_raw(r, err));
    size_t n = r->end - r->pos;
    uint8_t *tmp = malloc(n ? n : 1);
    if (!tmp)
        return fail(r, err, SP_ERR_NOMEM, "%s: out of memory", r->name);
    memcpy(tmp, r->buf + r->pos, n);
    uint64_t off = r->buf_off + r->pos;
    r->pos = r->vend = r->end = 0;
    r->mode = MODE_CP1252;
    r->bad = BAD_NONE;
    const uint8_t *z = memchr(tmp, 0, n);
    if (csv_cp1252_utf8_len(tmp, z ? (size_t)(z - tmp) : n) > r->datacap) {
        free(tmp);
        return fail(r, err, SP_ERR_LIMIT, "%s:%" PRIu64 ": record longer than %zu bytes",
                    r->name, r->line, r->opt.max_record_bytes);
    }
    ingest_cp1252(r, tmp, n, off);
    free(tmp);
    if (r->eof)
        at_eof(r);
    return SP_OK;
}

/* The parser reached a NUL or an invalid UTF-8 sequence. */
static int resolve_bad(csv_reader *r, sp_error *err)
{
    uint64_t line = r->line + count_nl((const char *)r->buf + r->pos, (const char *)r->buf + r->vend);
    if (r->bad == BAD_NUL)
        return fail(r, err, SP_ERR_DATA, "%s:%" PRIu64 ": NUL byte: not a text file? (offset %" PRIu64 ")",
                    r->name, line, r->bad_off);
    if (r->mode == MODE_UTF8)
        return fail(r, err, SP_ERR_DATA,
                    "%s:%" PRIu64 ": invalid UTF-8 (byte 0x%02X at offset %" PRIu64
                    "); set ENCODING=windows-1252 if the file is not UTF-8",
                    r->name, line, r->buf[r->vend], r->bad_off);
    if (r->first_high < r->buf_off + r->pos) {
        r->restart_pending = true;
        return CSV_RESTART;
    }
    return switch_to_cp1252(r, err);
}

/* ---- public API -------------------------------------------------------- */

static read_mode mode_of(csv_encoding e)
{
    return e == CSV_ENC_UTF8 ? MODE_UTF8 : e == CSV_ENC_CP1252 ? MODE_CP1252 : MODE_AUTO;
}

static void reset_pass(csv_reader *r)
{
    r->pos = r->vend = r->end = 0;
    r->buf_off = r->range_start;
    r->line = r->range_line ? r->range_line : 1;
    r->raw_total = r->range_start; /* file offsets, for the messages */
    r->nrecords = r->range_start ? 1 : 0; /* a range past 0 holds no header */
    r->first_high = UINT64_MAX;
    r->started = r->eof = r->had_bom = r->restart_pending = false;
    r->bad = BAD_NONE;
    r->failed = false;
}

int csv_open(csv_reader **out, const char *path, const char *name, const csv_options *opt,
             sp_error *err)
{
    *out = NULL;
    csv_options o = {0};
    if (opt)
        o = *opt;
    if (o.max_record_bytes == 0)
        o.max_record_bytes = DEFAULT_MAX_RECORD;
    if (o.max_fields == 0)
        o.max_fields = DEFAULT_MAX_FIELDS;
    if (o.max_record_bytes > MAX_RECORD_LIMIT || o.max_fields > MAX_FIELDS_LIMIT)
        return sp_fail(err, SP_ERR_USAGE, "%s: CSV caps too large (record %zu bytes, %zu fields)",
                       name, o.max_record_bytes, o.max_fields);
    if (o.encoding != CSV_ENC_AUTO && o.encoding != CSV_ENC_UTF8 && o.encoding != CSV_ENC_CP1252)
        return sp_fail(err, SP_ERR_USAGE, "%s: unknown CSV encoding %d", name, (int)o.encoding);
    csv_reader *r = calloc(1, sizeof *r);
    if (r)
        r->fd = -1;
    if (!r || !(r->name = strdup(name))) {
        csv_close(r);
        return sp_fail(err, SP_ERR_NOMEM, "%s: out of memory", name);
    }
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        int e = errno;
        csv_close(r);
        return sp_fail(err, SP_ERR_IO, "%s: cannot open: %s", name, strerror(e));
    }
    r->opt = o;
    r->read_size = CSV_READ_SIZE;
    r->mode = mode_of(o.encoding);
    reset_pass(r);
    *out = r;
    return SP_OK;
}

void csv_set_read_size(csv_reader *r, size_t n)
{
    if (r->started) /* the buffers are in use: too late for this pass */
        return;
    free(r->buf);
    free(r->raw);
    r->buf = r->raw = NULL;
    r->read_size = n ? n : CSV_READ_SIZE;
}

void csv_close(csv_reader *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    free(r->name);
    if (r->buf)
        spare_keep(r);
    free(r->raw);
    free(r->fields);
    free(r->scratch);
    free(r);
}

int csv_next(csv_reader *r, csv_record *rec, sp_error *err)
{
    if (r->failed) {
        *err = r->fail;
        return r->fail.code;
    }
    if (r->restart_pending)
        return CSV_RESTART;
    if (!r->started)
        SP_TRY(start_pass(r, err));
    for (;;) {
        switch (parse_record(r, rec)) {
        case P_DONE: return SP_OK;
        case P_END: return CSV_END;
        case P_FIELDS:
            return fail(r, err, SP_ERR_LIMIT, "%s:%" PRIu64 ": more than %zu fields", r->name,
                        r->line, r->opt.max_fields);
        case P_LONG:
            return fail(r, err, SP_ERR_LIMIT, "%s:%" PRIu64 ": record longer than %zu bytes",
                        r->name, r->line, r->opt.max_record_bytes);
        case P_NOMEM: return fail(r, err, SP_ERR_NOMEM, "%s: out of memory", r->name);
        default: break; /* P_MORE */
        }
        /* First the cap: the parser stops looking there, before any bad
         * byte further on. */
        size_t partial = r->vend - r->pos;
        if (partial > r->opt.max_record_bytes + 1)
            return fail(r, err, SP_ERR_LIMIT, "%s:%" PRIu64 ": record longer than %zu bytes",
                        r->name, r->line, r->opt.max_record_bytes);
        if (r->bad != BAD_NONE) {
            SP_TRY(resolve_bad(r, err));
            continue;
        }
        if (r->eof)
            return fail(r, err, SP_ERR_INTERNAL, "%s:%" PRIu64 ": CSV parser stalled at end of file",
                        r->name, r->line);
        SP_TRY(fill(r, partial ? partial : 1, err));
    }
}

int csv_open_range(csv_reader **out, const char *path, const char *name, const csv_options *opt,
                   uint64_t start, uint64_t line, uint64_t stop_line, sp_error *err)
{
    SP_TRY(csv_open(out, path, name, opt, err));
    csv_reader *r = *out;
    r->range_start = start;
    r->range_line = line;
    r->stop_line = stop_line;
    reset_pass(r);
    if (start && lseek(r->fd, (off_t)start, SEEK_SET) < 0) {
        int e = errno;
        csv_close(r);
        *out = NULL;
        return sp_fail(err, SP_ERR_IO, "%s: cannot seek to %" PRIu64 ": %s", name, start, strerror(e));
    }
    return SP_OK;
}

uint64_t csv_line(const csv_reader *r)
{
    return r->line;
}

int csv_rewind(csv_reader *r, sp_error *err)
{
    if (lseek(r->fd, (off_t)r->range_start, SEEK_SET) < 0)
        return fail(r, err, SP_ERR_IO, "%s: cannot rewind: %s", r->name, strerror(errno));
    if (r->restart_pending)
        r->mode = MODE_CP1252;
    reset_pass(r);
    return SP_OK;
}

csv_encoding csv_encoding_used(const csv_reader *r)
{
    return r->mode == MODE_CP1252 ? CSV_ENC_CP1252 : CSV_ENC_UTF8;
}

uint64_t csv_bytes_read(const csv_reader *r)
{
    return r->raw_total - r->range_start;
}

bool csv_had_bom(const csv_reader *r)
{
    return r->had_bom;
}
