/* json_read.c — a small JSON reader for the report: the run's
 * _manifest.json (written by transform, extended by the gates) parsed into
 * a flat array of nodes pointing into the text. Never trusts the text: depth
 * capped, node count bounded by the text's length, errors name the offset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

typedef struct jp {
    rp_json *doc;
    const char *p, *start, *end;
    int depth;
    sp_error *err;
} jp;

static void ws(jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

static int bad(jp *j, const char *what)
{
    return sp_fail(j->err, SP_ERR_CORRUPT, "JSON: %s at byte %zu", what,
                   (size_t)(j->p - j->start));
}

static int new_node(jp *j, int type)
{
    rp_json *d = j->doc;
    if (d->n == d->cap) {
        int ncap = d->cap ? d->cap * 2 : 64;
        rp_jnode *nn = realloc(d->nodes, (size_t)ncap * sizeof *nn);
        if (!nn)
            return -1;
        d->nodes = nn;
        d->cap = ncap;
    }
    rp_jnode *x = &d->nodes[d->n];
    memset(x, 0, sizeof *x);
    x->type = type;
    x->first = x->next = -1;
    return d->n++;
}

/* A string at j->p: its raw contents in *s, *n. */
static int raw_string(jp *j, const char **s, size_t *n)
{
    if (j->p >= j->end || *j->p != '"')
        return bad(j, "expected a string");
    const char *b = ++j->p;
    while (j->p < j->end && *j->p != '"') {
        if ((unsigned char)*j->p < 0x20)
            return bad(j, "control character in a string");
        if (*j->p == '\\' && ++j->p >= j->end)
            break;
        j->p++;
    }
    if (j->p >= j->end)
        return bad(j, "unterminated string");
    *s = b;
    *n = (size_t)(j->p - b);
    j->p++;
    return SP_OK;
}

static int value(jp *j, int *out);

static int container(jp *j, int node, char close, bool object)
{
    if (++j->depth > 64)
        return sp_fail(j->err, SP_ERR_LIMIT, "JSON: nested deeper than 64 levels");
    j->p++;
    ws(j);
    int last = -1;
    if (j->p < j->end && *j->p == close) {
        j->p++;
        j->depth--;
        return SP_OK;
    }
    for (;;) {
        const char *k = NULL;
        size_t kn = 0;
        ws(j);
        if (object) {
            SP_TRY(raw_string(j, &k, &kn));
            ws(j);
            if (j->p >= j->end || *j->p++ != ':')
                return bad(j, "expected ':'");
        }
        int child;
        SP_TRY(value(j, &child));
        j->doc->nodes[child].key = k;
        j->doc->nodes[child].keyn = kn;
        if (last < 0)
            j->doc->nodes[node].first = child;
        else
            j->doc->nodes[last].next = child;
        last = child;
        ws(j);
        if (j->p >= j->end)
            return bad(j, "unterminated container");
        char c = *j->p++;
        if (c == ',')
            continue;
        if (c != close)
            return bad(j, object ? "expected ',' or '}'" : "expected ',' or ']'");
        j->depth--;
        return SP_OK;
    }
}

static int value(jp *j, int *out)
{
    ws(j);
    if (j->p >= j->end)
        return bad(j, "unexpected end");
    char c = *j->p;
    int type = c == '{' ? RP_J_OBJ : c == '[' ? RP_J_ARR : c == '"' ? RP_J_STR
             : c == 't' ? RP_J_TRUE : c == 'f' ? RP_J_FALSE : c == 'n' ? RP_J_NULL : RP_J_NUM;
    int node = new_node(j, type);
    if (node < 0)
        return sp_fail(j->err, SP_ERR_NOMEM, "JSON: out of memory");
    *out = node;
    if (type == RP_J_OBJ || type == RP_J_ARR)
        return container(j, node, type == RP_J_OBJ ? '}' : ']', type == RP_J_OBJ);
    const char *s;
    size_t n;
    if (type == RP_J_STR) {
        SP_TRY(raw_string(j, &s, &n));
    } else {
        s = j->p;
        while (j->p < j->end && (strchr("+-.eE", *j->p) || (*j->p >= '0' && *j->p <= '9') ||
                                 (*j->p >= 'a' && *j->p <= 'z')))
            j->p++;
        n = (size_t)(j->p - s);
        static const char *const WORDS[] = {"null", "false", "true"};
        if (type != RP_J_NUM && (n != strlen(WORDS[type]) || memcmp(s, WORDS[type], n) != 0))
            return bad(j, "unknown word");
        if (type == RP_J_NUM && (n == 0 || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9'))))
            return bad(j, "unexpected character");
    }
    j->doc->nodes[node].s = s;
    j->doc->nodes[node].n = n;
    return SP_OK;
}

int rp_json_parse(rp_json *doc, const char *text, size_t n, sp_error *err)
{
    memset(doc, 0, sizeof *doc);
    jp j = {doc, text, text, text + n, 0, err};
    int root;
    int rc = value(&j, &root);
    if (rc == SP_OK) {
        ws(&j);
        if (j.p != j.end)
            rc = bad(&j, "text after the value");
    }
    if (rc != SP_OK)
        rp_json_free(doc);
    return rc;
}

void rp_json_free(rp_json *doc)
{
    free(doc->nodes);
    memset(doc, 0, sizeof *doc);
}

int rp_json_get(const rp_json *doc, int obj, const char *key)
{
    if (obj < 0 || obj >= doc->n || doc->nodes[obj].type != RP_J_OBJ)
        return -1;
    size_t kl = strlen(key);
    for (int c = doc->nodes[obj].first; c >= 0; c = doc->nodes[c].next)
        if (doc->nodes[c].keyn == kl && memcmp(doc->nodes[c].key, key, kl) == 0)
            return c;
    return -1;
}

bool rp_json_int(const rp_json *doc, int i, long long *out)
{
    if (i < 0 || i >= doc->n)
        return false;
    const rp_jnode *x = &doc->nodes[i];
    if (x->type != RP_J_NUM && x->type != RP_J_STR)
        return false;
    char tmp[32];
    if (x->n == 0 || x->n >= sizeof tmp)
        return false;
    memcpy(tmp, x->s, x->n);
    tmp[x->n] = '\0';
    char *end;
    long long v = strtoll(tmp, &end, 10);
    if (*end)
        return false;
    *out = v;
    return true;
}

static unsigned hex4(const char *p)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p[k];
        v = v * 16 + (unsigned)(c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                : c >= 'A' && c <= 'F' ? c - 'A' + 10 : 0);
    }
    return v;
}

/* The UTF-8 bytes of code point cp into u; returns their count. */
static size_t utf8_put(unsigned cp, char u[4])
{
    if (cp < 0x80) {
        u[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        u[0] = (char)(0xC0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12);
        u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    u[0] = (char)(0xF0 | cp >> 18);
    u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    u[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    u[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decode the escapes of a raw string into out (UTF-8), cut at outsz-1
 * bytes on a character boundary. */
static void decode(const char *s, size_t n, char *out, size_t outsz)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        char u[4];
        size_t len = 1;
        if (s[i] != '\\') {
            u[0] = s[i++];
        } else {
            char e = i + 1 < n ? s[i + 1] : 'x';
            i += 2;
            const char *simple = e ? strchr("\"\\/bfnrt", e) : NULL;
            if (simple) {
                u[0] = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
            } else if (e == 'u' && i + 4 <= n) {
                unsigned cp = hex4(s + i);
                i += 4;
                if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= n && s[i] == '\\' &&
                    s[i + 1] == 'u') {
                    unsigned lo = hex4(s + i + 2);
                    if (lo >= 0xDC00 && lo <= 0xDFFF) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        i += 6;
                    }
                }
                len = utf8_put(cp >= 0xD800 && cp <= 0xDFFF ? 0xFFFD : cp, u);
            } else {
                continue;
            }
        }
        if (o + len >= outsz)
            break;
        memcpy(out + o, u, len);
        o += len;
    }
    out[o] = '\0';
}

const char *rp_json_text(const rp_json *doc, int i, char *out, size_t outsz)
{
    out[0] = '\0';
    if (i < 0 || i >= doc->n)
        return out;
    const rp_jnode *x = &doc->nodes[i];
    if (x->type == RP_J_STR)
        decode(x->s, x->n, out, outsz);
    else if (x->type != RP_J_OBJ && x->type != RP_J_ARR)
        snprintf(out, outsz, "%.*s", (int)x->n, x->s);
    return out;
}
