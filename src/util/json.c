/* json.c — JSON string escaping (see json.h). */
#include "json.h"

#include <stdio.h>

/* Length of the valid UTF-8 sequence at s (≤ n bytes), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, min = 0x10000;
    else
        return 0;
    if (len > n)
        return 0;
    unsigned cp = c & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

void sp_json_string(sp_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    sp_buf_putc(b, '"');
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            sp_buf_putc(b, '\\');
            sp_buf_putc(b, c);
            i++;
        } else if (c < 0x20) {
            switch (c) {
            case '\n': sp_buf_puts(b, "\\n"); break;
            case '\r': sp_buf_puts(b, "\\r"); break;
            case '\t': sp_buf_puts(b, "\\t"); break;
            default: sp_buf_printf(b, "\\u%04x", c); break;
            }
            i++;
        } else if (c < 0x80) {
            sp_buf_putc(b, c);
            i++;
        } else {
            size_t len = utf8_len(p + i, n - i);
            if (len) {
                sp_buf_append(b, p + i, len);
                i += len;
            } else {
                sp_buf_puts(b, "\\ufffd");
                i++;
            }
        }
    }
    sp_buf_putc(b, '"');
}

void sp_json_cstr(sp_buf *b, const char *s)
{
    if (!s)
        sp_buf_puts(b, "null");
    else
        sp_json_string(b, s, strlen(s));
}
