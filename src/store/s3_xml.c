/* s3_xml.c — element lookup and entity decoding for S3 responses (see
 * s3_xml.h). Works on (pointer, end) pairs so bodies need no NUL and
 * nothing is read past the buffer the HTTP layer filled (capped there). */
#include "s3_xml.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *find_bytes(const char *p, const char *end, const char *s, size_t n)
{
    if (n == 0 || end - p < (long)n)
        return NULL;
    const char *last = end - n;
    while (p <= last) {
        const char *c = memchr(p, s[0], (size_t)(last - p) + 1);
        if (!c)
            return NULL;
        if (memcmp(c, s, n) == 0)
            return c;
        p = c + 1;
    }
    return NULL;
}

int s3_xml_next(const char **pos, const char *end, const char *tag, const char **val,
                size_t *vlen)
{
    char open[80], empty[80], close[80];
    size_t tl = strlen(tag);
    if (tl + 4 > sizeof open)
        return -1;
    size_t ol = (size_t)(stpcpy(stpcpy(stpcpy(open, "<"), tag), ">") - open);
    size_t el = (size_t)(stpcpy(stpcpy(stpcpy(empty, "<"), tag), "/>") - empty);
    size_t cl = (size_t)(stpcpy(stpcpy(stpcpy(close, "</"), tag), ">") - close);
    const char *o = find_bytes(*pos, end, open, ol);
    /* An empty element counts only before the next open tag; searching no
     * further keeps a page of many entries linear, not quadratic. */
    const char *e = find_bytes(*pos, o ? o : end, empty, el);
    if (e) {
        *val = e + el;
        *vlen = 0;
        *pos = e + el;
        return 1;
    }
    if (!o)
        return 0;
    const char *start = o + ol;
    const char *c = find_bytes(start, end, close, cl);
    if (!c)
        return -1;
    *val = start;
    *vlen = (size_t)(c - start);
    *pos = c + cl;
    return 1;
}

/* Append code point cp as UTF-8; false when it is not a valid scalar. */
static bool put_utf8(uint32_t cp, char *out, size_t *n, size_t outsz)
{
    unsigned char b[4];
    size_t k;
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return false;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        k = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | (cp >> 6));
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        k = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | (cp >> 12));
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
        k = 3;
    } else {
        b[0] = (unsigned char)(0xF0 | (cp >> 18));
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (unsigned char)(0x80 | (cp & 0x3F));
        k = 4;
    }
    if (*n + k >= outsz)
        return false;
    memcpy(out + *n, b, k);
    *n += k;
    return true;
}

long s3_xml_text(const char *raw, size_t len, char *out, size_t outsz)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
    size_t n = 0;
    if (outsz == 0)
        return -1;
    for (size_t i = 0; i < len;) {
        char c = raw[i];
        if (c == '\0' || c == '<')
            return -1;
        if (c != '&') {
            if (n + 1 >= outsz)
                return -1;
            out[n++] = c;
            i++;
            continue;
        }
        const char *semi = memchr(raw + i, ';', len - i < 12 ? len - i : 12);
        if (!semi)
            return -1;
        size_t elen = (size_t)(semi - (raw + i)) + 1; /* "&…;" */
        bool done = false;
        for (size_t k = 0; k < sizeof named / sizeof named[0] && !done; k++) {
            size_t nl = strlen(named[k].name);
            if (elen == nl + 1 && memcmp(raw + i + 1, named[k].name, nl) == 0) {
                if (n + 1 >= outsz)
                    return -1;
                out[n++] = named[k].c;
                done = true;
            }
        }
        if (!done) {
            if (elen < 4 || raw[i + 1] != '#')
                return -1;
            bool hex = raw[i + 2] == 'x' || raw[i + 2] == 'X';
            size_t d0 = i + (hex ? 3 : 2);
            uint32_t cp = 0;
            if (d0 >= i + elen - 1)
                return -1;
            for (size_t d = d0; d < i + elen - 1; d++) {
                char ch = raw[d];
                uint32_t v;
                if (ch >= '0' && ch <= '9')
                    v = (uint32_t)(ch - '0');
                else if (hex && ch >= 'a' && ch <= 'f')
                    v = (uint32_t)(ch - 'a' + 10);
                else if (hex && ch >= 'A' && ch <= 'F')
                    v = (uint32_t)(ch - 'A' + 10);
                else
                    return -1;
                cp = cp * (hex ? 16 : 10) + v;
                if (cp > 0x10FFFF)
                    return -1;
            }
            if (!put_utf8(cp, out, &n, outsz))
                return -1;
        }
        i += elen;
    }
    out[n] = '\0';
    return (long)n;
}

int s3_xml_find(const char *p, const char *end, const char *tag, char *out, size_t outsz)
{
    const char *val;
    size_t vlen;
    if (outsz)
        out[0] = '\0';
    if (s3_xml_next(&p, end, tag, &val, &vlen) != 1 || s3_xml_text(val, vlen, out, outsz) < 0) {
        if (outsz)
            out[0] = '\0';
        return 0;
    }
    return 1;
}
