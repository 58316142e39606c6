/* s3_xml.c — S3's XML answers read with expat (see s3_xml.h): a streaming
 * (SAX) walk that copies the few values wanted into bounded buffers, so a
 * listing of a thousand entries never builds a tree and hostile input stops
 * the parser with an error. */
#include "s3_xml.h"

#include <expat.h>
#include <stdbool.h>
#include <string.h>

typedef struct walk {
    XML_Parser p;
    int depth;
    bool bad;
    /* s3_xml_root / s3_xml_find */
    char *root;
    size_t rootsz;
    const char *tag; /* find: the element wanted, copied into val */
    char *val;
    size_t valsz;
    bool found;
    /* the value being copied (NULL: none), its capacity and length */
    char *cur;
    size_t cursz, used;
    int cur_depth;
    /* s3_xml_list */
    s3_xml_entry_fn fn;
    void *ctx;
    int fn_rc;
    bool list_root; /* the root is <ListBucketResult> */
    bool in_entry, have_key;
    char *key, *truncated, *token;
    size_t keysz, truncsz, toksz;
    char size[32];
} walk;

static void stop(walk *w)
{
    w->bad = true;
    XML_StopParser(w->p, XML_FALSE);
}

static void capture(walk *w, char *buf, size_t sz)
{
    w->cur = buf;
    w->cursz = sz;
    w->used = 0;
    w->cur_depth = w->depth;
    buf[0] = '\0';
}

static void on_text(void *ud, const XML_Char *s, int len)
{
    walk *w = ud;
    if (!w->cur || len <= 0)
        return;
    if (w->used + (size_t)len >= w->cursz)
        return stop(w);
    memcpy(w->cur + w->used, s, (size_t)len);
    w->used += (size_t)len;
    w->cur[w->used] = '\0';
}

static void on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    (void)attrs;
    walk *w = ud;
    w->depth++;
    if (w->depth == 1 && w->root) {
        if (strlen(name) >= w->rootsz)
            return stop(w);
        strcpy(w->root, name);
    }
    if (w->cur)
        return;
    if (w->tag) {
        if (!w->found && strcmp(name, w->tag) == 0)
            capture(w, w->val, w->valsz);
        return;
    }
    if (!w->fn)
        return;
    if (w->depth == 1) {
        w->list_root = strcmp(name, "ListBucketResult") == 0;
        if (!w->list_root)
            return stop(w);
    } else if (w->depth == 2 && strcmp(name, "Contents") == 0) {
        w->in_entry = true;
        w->have_key = false;
        w->size[0] = '\0';
    } else if (w->depth == 3 && w->in_entry && strcmp(name, "Key") == 0) {
        capture(w, w->key, w->keysz);
        w->have_key = true;
    } else if (w->depth == 3 && w->in_entry && strcmp(name, "Size") == 0) {
        capture(w, w->size, sizeof w->size);
    } else if (w->depth == 2 && strcmp(name, "IsTruncated") == 0) {
        capture(w, w->truncated, w->truncsz);
    } else if (w->depth == 2 && strcmp(name, "NextContinuationToken") == 0) {
        capture(w, w->token, w->toksz);
    }
}

static void on_end(void *ud, const XML_Char *name)
{
    walk *w = ud;
    if (w->cur && w->depth == w->cur_depth) {
        w->cur = NULL;
        if (w->tag) {
            w->found = true;
            XML_StopParser(w->p, XML_FALSE); /* the first one is enough */
        }
    }
    if (w->fn && w->depth == 2 && w->in_entry && strcmp(name, "Contents") == 0) {
        w->in_entry = false;
        if (!w->have_key)
            return stop(w);
        w->fn_rc = w->fn(w->ctx, w->key, w->size);
        if (w->fn_rc != 0)
            XML_StopParser(w->p, XML_FALSE);
    }
    w->depth--;
}

static void on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                       const XML_Char *pubid, int internal)
{
    (void)name, (void)sysid, (void)pubid, (void)internal;
    stop(ud); /* S3 never sends one; refusing it rules out entity expansion */
}

/* Parse doc with w's settings. 0 or S3_XML_BAD. */
static int run(walk *w, const char *doc, size_t len)
{
    if (len > (size_t)1 << 30)
        return S3_XML_BAD;
    w->p = XML_ParserCreate("UTF-8");
    if (!w->p)
        return S3_XML_BAD;
    XML_SetUserData(w->p, w);
    XML_SetElementHandler(w->p, on_start, on_end);
    XML_SetCharacterDataHandler(w->p, on_text);
    XML_SetStartDoctypeDeclHandler(w->p, on_doctype);
    enum XML_Status st = XML_Parse(w->p, doc, (int)len, XML_TRUE);
    /* A walk stopped on purpose (found, or fn said stop) is not an error. */
    bool stopped_ok = !w->bad && (w->found || w->fn_rc != 0);
    XML_ParserFree(w->p);
    return w->bad || (st != XML_STATUS_OK && !stopped_ok) ? S3_XML_BAD : 0;
}

int s3_xml_root(const char *doc, size_t len, char *out, size_t outsz)
{
    walk w = {.root = out, .rootsz = outsz};
    if (outsz)
        out[0] = '\0';
    int rc = run(&w, doc, len);
    if (rc != 0 && outsz)
        out[0] = '\0';
    return rc;
}

int s3_xml_find(const char *doc, size_t len, const char *tag, char *out, size_t outsz)
{
    if (outsz == 0)
        return S3_XML_BAD;
    walk w = {.tag = tag, .val = out, .valsz = outsz};
    out[0] = '\0';
    if (run(&w, doc, len) != 0) {
        out[0] = '\0';
        return S3_XML_BAD;
    }
    return w.found ? 1 : 0;
}

int s3_xml_list(const char *doc, size_t len, s3_xml_entry_fn fn, void *ctx, char *key,
                size_t keysz, char *truncated, size_t truncsz, char *token, size_t toksz)
{
    walk w = {.fn = fn, .ctx = ctx, .key = key, .keysz = keysz, .truncated = truncated,
              .truncsz = truncsz, .token = token, .toksz = toksz};
    truncated[0] = token[0] = key[0] = '\0';
    int rc = run(&w, doc, len);
    if (w.fn_rc != 0)
        return w.fn_rc;
    if (!w.list_root)
        return S3_XML_NOT_LIST;
    return rc;
}

/* ---- ListMultipartUploads (the debris sweep) ---------------------------- */

typedef struct uwalk {
    XML_Parser p;
    int depth;
    bool bad, root_ok, in_upload;
    s3_xml_upload_fn fn;
    void *ctx;
    int fn_rc;
    char *key;
    size_t keysz;
    char id[1024], initiated[64];
    char (*more)[1024];
    char *cur; /* the value being copied, its capacity and length */
    size_t cursz, used;
} uwalk;

static void ustop(uwalk *w)
{
    w->bad = true;
    XML_StopParser(w->p, XML_FALSE);
}

static void utext(void *ud, const XML_Char *s, int len)
{
    uwalk *w = ud;
    if (!w->cur || len <= 0)
        return;
    if (w->used + (size_t)len >= w->cursz)
        return ustop(w);
    memcpy(w->cur + w->used, s, (size_t)len);
    w->used += (size_t)len;
    w->cur[w->used] = '\0';
}

static void ucapture(uwalk *w, char *buf, size_t sz)
{
    w->cur = buf;
    w->cursz = sz;
    w->used = 0;
    buf[0] = '\0';
}

static void ustart(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    (void)attrs;
    uwalk *w = ud;
    w->depth++;
    if (w->depth == 1) {
        w->root_ok = strcmp(name, "ListMultipartUploadsResult") == 0;
        if (!w->root_ok)
            ustop(w);
    } else if (w->depth == 2 && strcmp(name, "Upload") == 0) {
        w->in_upload = true;
        w->key[0] = w->id[0] = w->initiated[0] = '\0';
    } else if (w->depth == 3 && w->in_upload) {
        if (strcmp(name, "Key") == 0)
            ucapture(w, w->key, w->keysz);
        else if (strcmp(name, "UploadId") == 0)
            ucapture(w, w->id, sizeof w->id);
        else if (strcmp(name, "Initiated") == 0)
            ucapture(w, w->initiated, sizeof w->initiated);
    } else if (w->depth == 2) {
        static const char *const MORE[3] = {"IsTruncated", "NextKeyMarker", "NextUploadIdMarker"};
        for (int i = 0; i < 3; i++)
            if (strcmp(name, MORE[i]) == 0)
                ucapture(w, w->more[i], sizeof w->more[i]);
    }
}

static void uend(void *ud, const XML_Char *name)
{
    uwalk *w = ud;
    w->cur = NULL;
    if (w->depth == 2 && w->in_upload && strcmp(name, "Upload") == 0) {
        w->in_upload = false;
        w->fn_rc = w->fn(w->ctx, w->key, w->id, w->initiated);
        if (w->fn_rc != 0)
            XML_StopParser(w->p, XML_FALSE);
    }
    w->depth--;
}

static void udoctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                     const XML_Char *pubid, int internal)
{
    (void)name, (void)sysid, (void)pubid, (void)internal;
    ustop(ud);
}

int s3_xml_uploads(const char *doc, size_t len, s3_xml_upload_fn fn, void *ctx, char *key,
                   size_t keysz, char more[3][1024])
{
    uwalk w = {.fn = fn, .ctx = ctx, .key = key, .keysz = keysz, .more = more};
    key[0] = more[0][0] = more[1][0] = more[2][0] = '\0';
    if (len > (size_t)1 << 30 || !(w.p = XML_ParserCreate("UTF-8")))
        return S3_XML_BAD;
    XML_SetUserData(w.p, &w);
    XML_SetElementHandler(w.p, ustart, uend);
    XML_SetCharacterDataHandler(w.p, utext);
    XML_SetStartDoctypeDeclHandler(w.p, udoctype);
    enum XML_Status st = XML_Parse(w.p, doc, (int)len, XML_TRUE);
    XML_ParserFree(w.p);
    if (w.fn_rc != 0)
        return w.fn_rc;
    if (!w.root_ok)
        return S3_XML_NOT_LIST;
    return w.bad || st != XML_STATUS_OK ? S3_XML_BAD : 0;
}
