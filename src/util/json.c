/* json.c — JSON string escaping (see json.h). */
#include "json.h"

#include "utf8.h"

#include <limits.h>
#include <stdio.h>
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

bool sp_json_get_int(const char *j, size_t n, const char *path, long long *out)
{
    jr r = {j, j + n, 0};
    const char *seg = path;
    for (;;) {
        const char *dot = strchr(seg, '.');
        size_t sl = dot ? (size_t)(dot - seg) : strlen(seg);
        jr_ws(&r);
        if (r.p >= r.end || *r.p != '{')
            return false;
        r.p++;
        bool found = false;
        for (;;) {
            const char *k;
            size_t kl;
            if (!jr_key(&r, &k, &kl))
                return false;
            if (kl == sl && memcmp(k, seg, sl) == 0) {
                found = true;
                break;
            }
            if (!jr_value(&r))
                return false;
            jr_ws(&r);
            if (r.p >= r.end || *r.p != ',')
                return false;
            r.p++;
        }
        if (!found)
            return false;
        if (!dot)
            break;
        seg = dot + 1;
    }
    jr_ws(&r);
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
