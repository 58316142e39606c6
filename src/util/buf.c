/* buf.c — growable capped buffer (see buf.h). */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void sp_buf_init(sp_buf *b, size_t limit)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->limit = limit ? limit : SP_BUF_DEFAULT_LIMIT;
    b->broken = false;
}

void sp_buf_free(sp_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->broken = false;
}

void sp_buf_reset(sp_buf *b)
{
    b->len = 0;
    b->broken = false;
}

int sp_buf_reserve(sp_buf *b, size_t extra)
{
    if (b->broken)
        return -1;
    if (extra > b->limit || b->len > b->limit - extra) {
        b->broken = true;
        return -1;
    }
    size_t need = b->len + extra;
    if (need <= b->cap)
        return 0;
    size_t ncap = b->cap ? b->cap : 256;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    if (ncap > b->limit)
        ncap = b->limit;
    uint8_t *p = realloc(b->data, ncap);
    if (!p) {
        b->broken = true;
        return -1;
    }
    b->data = p;
    b->cap = ncap;
    return 0;
}

uint8_t *sp_buf_extend(sp_buf *b, size_t n)
{
    if (b->broken)
        return NULL;
    if (b->cap - b->len < n && sp_buf_reserve(b, n) != 0)
        return NULL;
    uint8_t *p = b->data + b->len;
    b->len += n;
    return p;
}

void sp_buf_puts(sp_buf *b, const char *s)
{
    sp_buf_append(b, s, strlen(s));
}

void sp_buf_printf(sp_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->broken = true;
        return;
    }
    if ((size_t)n < sizeof tmp) {
        sp_buf_append(b, tmp, (size_t)n);
        return;
    }
    if (sp_buf_reserve(b, (size_t)n + 1) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}
