/* utf8.h — the one rule for well-formed UTF-8 (RFC 3629, Unicode table 3-7:
 * no overlong forms, no surrogates, nothing above U+10FFFF), shared by the
 * CSV reader, the Parquet writer's STRING check and the JSON writer. Callers
 * keep their own ASCII fast paths and call this for each non-ASCII byte. */
#ifndef SP_UTF8_H
#define SP_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* The character starting at s, with n >= 1 bytes available: its length
 * (1 to 4) when well formed; 0 when not; -1 when the available bytes are a
 * well-formed beginning that n cuts short (a chunk boundary). */
static inline int sp_utf8_seq(const uint8_t *s, size_t n)
{
    uint8_t c = s[0], lo = 0x80, hi = 0xBF;
    int len;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong below U+0800 */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates U+D800..DFFF */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong below U+10000 */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0; /* 80..C1 (continuation, overlong C0/C1) or F5..FF */
    }
    size_t have = n < (size_t)len ? n : (size_t)len;
    if (have >= 2 && (s[1] < lo || s[1] > hi))
        return 0;
    for (size_t k = 2; k < have; k++)
        if ((s[k] & 0xC0) != 0x80)
            return 0;
    return have < (size_t)len ? -1 : len;
}

#endif
