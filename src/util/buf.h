/* buf.h — a growable byte buffer with a size cap and a sticky error.
 * Builders append without checking each call; once the cap is hit or an
 * allocation fails the buffer is `broken` and later appends do nothing, so the
 * owner checks `broken` once at the end (STYLE.md habits 6 and 7). */
#ifndef SP_BUF_H
#define SP_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SP_BUF_DEFAULT_LIMIT ((size_t)1 << 30) /* 1 GiB */

typedef struct sp_buf {
    uint8_t *data;  /* owned; NULL until the first append */
    size_t len;     /* bytes in use */
    size_t cap;     /* bytes allocated */
    size_t limit;   /* len never exceeds this */
    bool broken;    /* set by an append that hit the limit or failed to allocate */
} sp_buf;

/* limit 0 means SP_BUF_DEFAULT_LIMIT. No allocation happens here. */
void sp_buf_init(sp_buf *b, size_t limit);
/* Release memory; the buffer may be re-initialised afterwards. */
void sp_buf_free(sp_buf *b);
/* Forget the contents (and the broken flag); keep the allocation. */
void sp_buf_reset(sp_buf *b);
/* Make room for `extra` more bytes. Returns 0, or -1 and sets broken. */
int sp_buf_reserve(sp_buf *b, size_t extra);
/* Grow len by n without writing (after reserve); returns the old end. */
uint8_t *sp_buf_extend(sp_buf *b, size_t n);

static inline void sp_buf_append(sp_buf *b, const void *p, size_t n)
{
    if (n == 0 || b->broken)
        return;
    if (b->cap - b->len < n && sp_buf_reserve(b, n) != 0)
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static inline void sp_buf_putc(sp_buf *b, uint8_t c)
{
    if (b->broken || (b->cap == b->len && sp_buf_reserve(b, 1) != 0))
        return;
    b->data[b->len++] = c;
}

void sp_buf_puts(sp_buf *b, const char *s);
void sp_buf_printf(sp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
