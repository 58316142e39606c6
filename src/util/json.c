/* json.c — JSON string escaping (see json.h). */
#include "json.h"

#include "utf8.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (≤ n bytes), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    int len = sp_utf8_seq(s, n);
    return len > 0 ? (size_t)len : 0;
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

/* ---- a minimal reader: skip values, follow one path ---------------------- */

typedef struct jr {
    const char *p, *end;
    int depth;
} jr;

static void jr_ws(jr *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
        r->p++;
}

/* Skip a string at r->p; s and len receive its raw contents. */
static bool jr_string(jr *r, const char **s, size_t *len)
{
    if (r->p >= r->end || *r->p != '"')
        return false;
    const char *start = ++r->p;
    while (r->p < r->end && *r->p != '"') {
        if (*r->p == '\\' && ++r->p >= r->end)
            return false;
        r->p++;
    }
    if (r->p >= r->end)
        return false;
    *s = start;
    *len = (size_t)(r->p - start);
    r->p++;
    return true;
}

static bool jr_value(jr *r);

/* An object member's `"key" :`; k and kl receive the raw key. */
static bool jr_key(jr *r, const char **k, size_t *kl)
{
    jr_ws(r);
    if (!jr_string(r, k, kl))
        return false;
    jr_ws(r);
    return r->p < r->end && *r->p++ == ':';
}

static bool jr_container(jr *r, char close, bool object)
{
    if (++r->depth > 64)
        return false;
    r->p++;
    jr_ws(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
        r->depth--;
        return true;
    }
    for (;;) {
        const char *k;
        size_t kl;
        if (object && !jr_key(r, &k, &kl))
            return false;
        if (!jr_value(r))
            return false;
        jr_ws(r);
        if (r->p >= r->end)
            return false;
        if (*r->p == ',') {
            r->p++;
            continue;
        }
        if (*r->p++ != close)
            return false;
        r->depth--;
        return true;
    }
}

static bool jr_value(jr *r)
{
    jr_ws(r);
    if (r->p >= r->end)
        return false;
    const char *s;
    size_t len;
    switch (*r->p) {
    case '{':
        return jr_container(r, '}', true);
    case '[':
        return jr_container(r, ']', false);
    case '"':
        return jr_string(r, &s, &len);
    default: {
        const char *start = r->p;
        while (r->p < r->end && (strchr("+-.eE", *r->p) || (*r->p >= '0' && *r->p <= '9') ||
                                 (*r->p >= 'a' && *r->p <= 'z')))
            r->p++;
        return r->p > start;
    }
    }
}

/* Skip a value and the comma after it: false at the container's end. */
static bool jr_skip_member(jr *r)
{
    if (!jr_value(r))
        return false;
    jr_ws(r);
    if (r->p >= r->end || *r->p != ',')
        return false;
    r->p++;
    return true;
}

/* Position r at the value found by following path: dotted object keys,
 * and all-digit segments index arrays ("inputs.0.file"). */
static bool jr_find(jr *r, const char *path)
{
    const char *seg = path;
    for (;;) {
        const char *dot = strchr(seg, '.');
        size_t sl = dot ? (size_t)(dot - seg) : strlen(seg);
        bool index = sl > 0 && strspn(seg, "0123456789") >= sl;
        jr_ws(r);
        if (r->p >= r->end || *r->p != (index ? '[' : '{'))
            return false;
        r->p++;
        if (index) {
            long want = strtol(seg, NULL, 10);
            for (long i = 0;; i++) {
                jr_ws(r);
                if (r->p >= r->end || *r->p == ']')
                    return false;
                if (i == want)
                    break;
                if (!jr_skip_member(r))
                    return false;
            }
        } else {
            for (;;) {
                const char *k;
                size_t kl;
                if (!jr_key(r, &k, &kl))
                    return false;
                if (kl == sl && memcmp(k, seg, sl) == 0)
                    break;
                if (!jr_skip_member(r))
                    return false;
            }
        }
        if (!dot)
            break;
        seg = dot + 1;
    }
    jr_ws(r);
    return true;
}

bool sp_json_get_int(const char *j, size_t n, const char *path, long long *out)
{
    jr r = {j, j + n, 0};
    if (!jr_find(&r, path))
        return false;
    const char *start = r.p;
    bool neg = r.p < r.end && *r.p == '-';
    if (neg)
        r.p++;
    long long v = 0;
    int digits = 0;
    while (r.p < r.end && *r.p >= '0' && *r.p <= '9') {
        if (v > (LLONG_MAX - 9) / 10)
            return false;
        v = v * 10 + (*r.p++ - '0');
        digits++;
    }
    if (!digits || (r.p < r.end && strchr(".eE", *r.p)) || r.p == start)
        return false;
    *out = neg ? -v : v;
    return true;
}

bool sp_json_get_str(const char *j, size_t n, const char *path, char *out, size_t outsz)
{
    jr r = {j, j + n, 0};
    const char *s;
    size_t len;
    if (!jr_find(&r, path) || !jr_string(&r, &s, &len) || outsz == 0)
        return false;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned c = (unsigned char)s[i];
        if (c == '\\') {
            if (++i >= len)
                return false;
            switch (s[i]) {
            case '"': case '\\': case '/': c = (unsigned char)s[i]; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u': {
                if (i + 4 >= len)
                    return false;
                char hex[5] = {s[i + 1], s[i + 2], s[i + 3], s[i + 4], 0};
                char *e;
                unsigned long u = strtoul(hex, &e, 16);
                if (*e || (u >= 0xD800 && u <= 0xDFFF))
                    return false; /* surrogate pairs: not written by us */
                i += 4;
                char u8[3];
                size_t m = u < 0x80 ? 1 : u < 0x800 ? 2 : 3;
                if (m == 1)
                    u8[0] = (char)u;
                else if (m == 2)
                    u8[0] = (char)(0xC0 | (u >> 6)), u8[1] = (char)(0x80 | (u & 0x3F));
                else
                    u8[0] = (char)(0xE0 | (u >> 12)), u8[1] = (char)(0x80 | ((u >> 6) & 0x3F)),
                    u8[2] = (char)(0x80 | (u & 0x3F));
                if (o + m >= outsz)
                    return false;
                memcpy(out + o, u8, m);
                o += m;
                continue;
            }
            default: return false;
            }
        }
        if (o + 1 >= outsz)
            return false;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return true;
}
