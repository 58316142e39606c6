/* encoding.c — the CSV reader's byte-level encoding work: strict UTF-8
 * validation (ASCII fast path, 16 bytes per step) and Windows-1252 to UTF-8
 * transcoding with the WHATWG table. Pure functions on caller buffers: no
 * allocation, no I/O, and never a read outside [s, s+n). */
#include <string.h>

#include "../util/utf8.h"
#include "csv_internal.h"

#define HIGH_BITS 0x8080808080808080ULL

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w);
    return w;
}

csv_utf8_result csv_utf8_check(const uint8_t *s, size_t n, size_t *ok_len, size_t *first_high)
{
    size_t i = 0;
    *first_high = n;
    for (;;) {
        /* ASCII runs: two words per step, no branch per byte. */
        while (i + 16 <= n && ((load64(s + i) | load64(s + i + 8)) & HIGH_BITS) == 0)
            i += 16;
        while (i < n && s[i] < 0x80)
            i++;
        if (i >= n)
            break;
        if (*first_high == n)
            *first_high = i;
        int len = sp_utf8_seq(s + i, n - i);
        if (len <= 0) {
            *ok_len = i;
            return len == 0 ? CSV_UTF8_BAD : CSV_UTF8_PARTIAL;
        }
        i += (size_t)len;
    }
    *ok_len = n;
    return CSV_UTF8_OK;
}

/* Code points of 0x80..0x9F; 0xA0..0xFF are U+00A0..U+00FF. The five bytes
 * the WHATWG table leaves undefined (0x81 0x8D 0x8F 0x90 0x9D) map to the C1
 * control of the same number, as browsers do. */
static const uint16_t cp1252_c1[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

static inline uint32_t cp1252_code(uint8_t b)
{
    return b >= 0xA0 ? b : cp1252_c1[b - 0x80];
}

size_t csv_cp1252_to_utf8(uint8_t *dst, const uint8_t *src, size_t n)
{
    uint8_t *o = dst;
    size_t i = 0;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t w = load64(src + i);
            if ((w & HIGH_BITS) == 0) {
                memcpy(o, &w, 8);
                o += 8;
                i += 8;
                continue;
            }
        }
        uint8_t b = src[i++];
        if (b < 0x80) {
            *o++ = b;
            continue;
        }
        uint32_t cp = cp1252_code(b);
        if (cp < 0x800) {
            *o++ = (uint8_t)(0xC0 | (cp >> 6));
            *o++ = (uint8_t)(0x80 | (cp & 0x3F));
        } else {
            *o++ = (uint8_t)(0xE0 | (cp >> 12));
            *o++ = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
            *o++ = (uint8_t)(0x80 | (cp & 0x3F));
        }
    }
    return (size_t)(o - dst);
}

size_t csv_cp1252_utf8_len(const uint8_t *src, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = src[i];
        len += b < 0x80 ? 1 : cp1252_code(b) < 0x800 ? 2 : 3;
    }
    return len;
}
