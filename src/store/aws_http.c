/* aws_http.c — one capped HTTP call on libcurl for the AWS endpoints the
 * credential chain talks to, and the JSON (jansson) and XML (expat) readers
 * of their answers (see aws_http.h). Bodies may hold secrets: they are
 * wiped when freed and never copied into a message. */
#include "aws_http.h"

#include <curl/curl.h>
#include <expat.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../util/version.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

typedef struct http_ctx {
    aws_http_resp *resp;
    const char *capture;
    bool overflow;
} http_ctx;

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    http_ctx *c = ud;
    size_t n = size * nmemb;
    if (c->resp->body.len + n > AWS_HTTP_BODY_MAX) {
        c->overflow = true;
        return 0;
    }
    sp_buf_append(&c->resp->body, p, n);
    return c->resp->body.broken ? 0 : n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    http_ctx *c = ud;
    size_t n = size * nmemb, nl = c->capture ? strlen(c->capture) : 0;
    if (nl && n > nl && strncasecmp(p, c->capture, nl) == 0 && p[nl] == ':') {
        const char *v = p + nl + 1, *e = p + n;
        while (v < e && (*v == ' ' || *v == '\t'))
            v++;
        while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
            e--;
        size_t vl = (size_t)(e - v);
        if (vl >= sizeof c->resp->header)
            vl = sizeof c->resp->header - 1;
        memcpy(c->resp->header, v, vl);
        c->resp->header[vl] = '\0';
    }
    return n;
}

void aws_url_origin(const char *url, char *out, size_t outsz)
{
    const char *s = strstr(url, "://");
    size_t n = s ? (size_t)(s - url) + 3 + strcspn(s + 3, "/?#") : strcspn(url, "/?#");
    const char *at = memchr(url, '@', n); /* never show user:password@ */
    if (at && s)
        snprintf(out, outsz, "%.*s%.*s", (int)(s - url + 3), url, (int)(url + n - at - 1), at + 1);
    else
        snprintf(out, outsz, "%.*s", (int)n, url);
}

void aws_http_resp_free(aws_http_resp *r)
{
    if (r->body.data)
        OPENSSL_cleanse(r->body.data, r->body.cap);
    sp_buf_free(&r->body);
    OPENSSL_cleanse(r->header, sizeof r->header);
}

int aws_http(const aws_http_req *r, aws_http_resp *out, sp_error *err)
{
    memset(out, 0, sizeof *out);
    sp_buf_init(&out->body, AWS_HTTP_BODY_MAX + 1);
    char origin[300];
    aws_url_origin(r->url, origin, sizeof origin);
    pthread_once(&curl_once, curl_init);
    CURL *h = curl_init_rc == CURLE_OK ? curl_easy_init() : NULL;
    if (!h)
        return sp_fail(err, SP_ERR_NOMEM, "%s: cannot set up an HTTP request", r->what);
    struct curl_slist *list = NULL;
    bool bad = false;
    for (const char *const *hd = r->headers; hd && *hd; hd++) {
        struct curl_slist *n2 = curl_slist_append(list, *hd);
        bad |= !n2;
        list = n2 ? n2 : list;
    }
    struct curl_slist *n2 = curl_slist_append(list, "Expect:");
    bad |= !n2;
    list = n2 ? n2 : list;
    http_ctx ctx = {out, r->capture_header, false};
    char errbuf[CURL_ERROR_SIZE] = "";
    CURLcode sc = CURLE_OK;
#define SETOPT(opt, val)                                                                           \
    do {                                                                                           \
        if (sc == CURLE_OK)                                                                        \
            sc = curl_easy_setopt(h, opt, val);                                                    \
    } while (0)
    SETOPT(CURLOPT_URL, r->url);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_NOPROXY, "169.254.169.254,169.254.170.2,169.254.170.23,localhost,127.0.0.1");
    SETOPT(CURLOPT_ERRORBUFFER, errbuf);
    SETOPT(CURLOPT_USERAGENT, "salespipe/" SP_VERSION);
    SETOPT(CURLOPT_HTTPHEADER, list);
    SETOPT(CURLOPT_TIMEOUT, r->timeout_s > 0 ? r->timeout_s : 10L);
    SETOPT(CURLOPT_CONNECTTIMEOUT, r->connect_timeout_s > 0 ? r->connect_timeout_s : 5L);
    SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
    SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
    if (r->ca_bundle && r->ca_bundle[0])
        SETOPT(CURLOPT_CAINFO, r->ca_bundle);
    SETOPT(CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(CURLOPT_WRITEDATA, &ctx);
    SETOPT(CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(CURLOPT_HEADERDATA, &ctx);
    if (strcmp(r->method, "POST") == 0) {
        SETOPT(CURLOPT_POST, 1L);
        SETOPT(CURLOPT_POSTFIELDS, r->body ? r->body : "");
        SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    } else if (strcmp(r->method, "GET") != 0) {
        SETOPT(CURLOPT_CUSTOMREQUEST, r->method);
    }
#undef SETOPT
    int rc = SP_OK;
    if (bad || sc != CURLE_OK) {
        rc = sp_fail(err, SP_ERR_NOMEM, "%s: cannot set up the request to %s", r->what, origin);
    } else {
        CURLcode cc = curl_easy_perform(h);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
        if (ctx.overflow)
            rc = sp_fail(err, SP_ERR_LIMIT, "%s: the answer of %s is larger than %d bytes",
                         r->what, origin, AWS_HTTP_BODY_MAX);
        else if (cc != CURLE_OK || out->body.broken)
            rc = sp_fail_retry(err, SP_ERR_NET, "%s: %s %s: %s%s%s", r->what, r->method, origin,
                               curl_easy_strerror(cc), errbuf[0] ? ": " : "", errbuf);
    }
    curl_slist_free_all(list);
    curl_easy_cleanup(h);
    if (rc == SP_OK)
        sp_buf_putc(&out->body, '\0'); /* callers may read it as a string */
    if (rc == SP_OK && out->body.broken)
        rc = sp_fail(err, SP_ERR_NOMEM, "%s: out of memory", r->what);
    if (rc == SP_OK)
        out->body.len--;
    return rc;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int aws_http_retrying(const aws_http_req *r, aws_http_resp *resp, int attempts, sp_error *err)
{
    for (int i = 1;; i++) {
        int rc = aws_http(r, resp, err);
        bool transient = rc != SP_OK ? err->retryable
                                     : (resp->status >= 500 || resp->status == 429);
        if (!transient || i >= attempts)
            return rc;
        aws_http_resp_free(resp);
        sleep_ms(200L << i);
    }
}

int aws_url_authority(const char *url, char *out, size_t outsz)
{
    const char *a = strstr(url, "://");
    if (!a)
        return -1;
    a += 3;
    size_t n = strcspn(a, "/?#");
    if (n == 0 || n >= outsz || memchr(a, '@', n))
        return -1;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)((a[i] >= 'A' && a[i] <= 'Z') ? a[i] - 'A' + 'a' : a[i]);
    out[n] = '\0';
    return 0;
}

/* ---- time ---------------------------------------------------------------- */

long long aws_parse_time(const char *s)
{
    int y, mo, d, h, mi, sec, used = 0;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &used) != 6 ||
        used != 19)
        return -1;
    const char *p = s + used;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++) {
        }
    long off = 0;
    if (*p == 'Z' && p[1] == '\0') {
        off = 0;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int oh, om;
        if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2)
            return -1;
        off = (*p == '-' ? -1 : 1) * (oh * 3600L + om * 60L);
    } else {
        return -1;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1970)
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                    .tm_hour = h, .tm_min = mi, .tm_sec = sec};
    return (long long)timegm(&tm) - off;
}

/* ---- JSON ---------------------------------------------------------------- */

static json_t *load_object(const char *body, size_t len, const char *what, sp_error *err)
{
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root || !json_is_object(root)) {
        /* je.text may quote the input: give only the position. */
        if (root)
            sp_fail(err, SP_ERR_CORRUPT, "%s: the answer is JSON but not an object", what);
        else
            sp_fail(err, SP_ERR_CORRUPT, "%s: the answer is not JSON (line %d, column %d)", what,
                    je.line, je.column);
        json_decref(root);
        return NULL;
    }
    return root;
}

static int take_string(json_t *root, const char *name, char *out, size_t outsz, bool optional,
                       const char *what, sp_error *err)
{
    json_t *v = json_object_get(root, name);
    out[0] = '\0';
    if (!v || json_is_null(v)) {
        if (optional)
            return SP_OK;
        return sp_fail(err, SP_ERR_CORRUPT, "%s: the answer has no \"%s\"", what, name);
    }
    if (!json_is_string(v))
        return sp_fail(err, SP_ERR_CORRUPT, "%s: \"%s\" is not a string", what, name);
    size_t n = json_string_length(v);
    if (n >= outsz || memchr(json_string_value(v), '\0', n))
        return sp_fail(err, SP_ERR_CORRUPT, "%s: \"%s\" is longer than %zu bytes or holds a NUL",
                       what, name, outsz - 1);
    memcpy(out, json_string_value(v), n + 1);
    return SP_OK;
}

/* jansson keeps the parsed strings in its own allocations: wipe them too. */
static void wipe_decref(json_t *root)
{
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v) {
        if (json_is_string(v))
            OPENSSL_cleanse((void *)json_string_value(v), json_string_length(v));
    }
    json_decref(root);
}

int aws_json_creds_parse(const char *body, size_t len, const char *token_name,
                         bool token_optional, const aws_json_creds *o, const char *what,
                         sp_error *err)
{
    json_t *root = load_object(body, len, what, err);
    if (!root)
        return err->code;
    char expiration[64];
    int rc = SP_OK;
    json_t *code = json_object_get(root, "Code");
    if (json_is_string(code) && strcmp(json_string_value(code), "Success") != 0) {
        char c[64], m[200] = "";
        snprintf(c, sizeof c, "%s", json_string_value(code));
        take_string(root, "Message", m, sizeof m, true, what, err);
        rc = sp_fail(err, SP_ERR_NET, "%s: the answer says %s%s%s", what, c, m[0] ? ": " : "", m);
    }
    if (rc == SP_OK)
        rc = take_string(root, "AccessKeyId", o->access_key, o->access_key_sz, false, what, err);
    if (rc == SP_OK)
        rc = take_string(root, "SecretAccessKey", o->secret_key, o->secret_key_sz, false, what,
                         err);
    if (rc == SP_OK)
        rc = take_string(root, token_name, o->session_token, o->session_token_sz, token_optional,
                         what, err);
    if (rc == SP_OK)
        rc = take_string(root, "Expiration", expiration, sizeof expiration, true, what, err);
    *o->expires = 0;
    if (rc == SP_OK && expiration[0] && (*o->expires = aws_parse_time(expiration)) < 0)
        rc = sp_fail(err, SP_ERR_CORRUPT, "%s: \"Expiration\" '%s' is not an ISO 8601 time",
                     what, expiration);
    if (rc == SP_OK && (!o->access_key[0] || !o->secret_key[0]))
        rc = sp_fail(err, SP_ERR_CORRUPT, "%s: AccessKeyId or SecretAccessKey is empty", what);
    wipe_decref(root);
    return rc;
}

int aws_json_fields(const char *body, size_t len, const char *const *names, size_t n,
                    char *const *outs, const size_t *outsz, const char *what, sp_error *err)
{
    json_t *root = load_object(body, len, what, err);
    if (!root)
        return err->code;
    int rc = SP_OK;
    for (size_t i = 0; i < n && rc == SP_OK; i++) {
        json_t *v = json_object_get(root, names[i]);
        if (json_is_integer(v))
            snprintf(outs[i], outsz[i], "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        else if (json_is_string(v) || !v || json_is_null(v))
            rc = take_string(root, names[i], outs[i], outsz[i], true, what, err);
        else
            rc = sp_fail(err, SP_ERR_CORRUPT, "%s: \"%s\" is neither a string nor a number",
                         what, names[i]);
    }
    wipe_decref(root);
    return rc;
}

/* ---- XML ----------------------------------------------------------------- */

typedef struct xml_ctx {
    XML_Parser p;
    const char *const *names;
    char *const *outs;
    const size_t *outsz;
    size_t n;
    int active;       /* index of the element being read, -1 none */
    size_t used;      /* bytes written into outs[active] */
    bool *done;       /* per name: first occurrence read */
    bool too_long, dtd;
} xml_ctx;

static const char *local_name(const char *name)
{
    const char *c = strrchr(name, ' '); /* namespace separator, when set */
    c = c ? c + 1 : name;
    const char *colon = strrchr(c, ':');
    return colon ? colon + 1 : c;
}

static void on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    (void)attrs;
    xml_ctx *c = ud;
    if (c->active >= 0)
        return;
    const char *ln = local_name(name);
    for (size_t i = 0; i < c->n; i++)
        if (!c->done[i] && strcmp(ln, c->names[i]) == 0) {
            c->active = (int)i;
            c->used = 0;
            c->outs[i][0] = '\0';
            return;
        }
}

static void on_end(void *ud, const XML_Char *name)
{
    xml_ctx *c = ud;
    if (c->active >= 0 && strcmp(local_name(name), c->names[c->active]) == 0) {
        c->done[c->active] = true;
        c->active = -1;
    }
}

static void on_text(void *ud, const XML_Char *s, int len)
{
    xml_ctx *c = ud;
    if (c->active < 0 || len <= 0)
        return;
    size_t cap = c->outsz[c->active];
    if (c->used + (size_t)len >= cap) {
        c->too_long = true;
        XML_StopParser(c->p, XML_FALSE);
        return;
    }
    memcpy(c->outs[c->active] + c->used, s, (size_t)len);
    c->used += (size_t)len;
    c->outs[c->active][c->used] = '\0';
}

static void on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                       const XML_Char *pubid, int internal)
{
    (void)name, (void)sysid, (void)pubid, (void)internal;
    xml_ctx *c = ud;
    c->dtd = true; /* AWS never sends one; refusing it rules out entity bombs */
    XML_StopParser(c->p, XML_FALSE);
}

int aws_xml_fields(const char *body, size_t len, const char *const *names, size_t n,
                   char *const *outs, const size_t *outsz, const char *what, sp_error *err)
{
    bool done[32] = {false};
    if (n > 32 || len > (size_t)1 << 30)
        return sp_fail(err, SP_ERR_INTERNAL, "%s: too many XML fields asked for", what);
    for (size_t i = 0; i < n; i++)
        outs[i][0] = '\0';
    XML_Parser p = XML_ParserCreate("UTF-8");
    if (!p)
        return sp_fail(err, SP_ERR_NOMEM, "%s: cannot create an XML parser", what);
    xml_ctx c = {p, names, outs, outsz, n, -1, 0, done, false, false};
    XML_SetUserData(p, &c);
    XML_SetElementHandler(p, on_start, on_end);
    XML_SetCharacterDataHandler(p, on_text);
    XML_SetStartDoctypeDeclHandler(p, on_doctype);
    enum XML_Status st = XML_Parse(p, body, (int)len, XML_TRUE);
    int rc = SP_OK;
    if (c.too_long)
        rc = sp_fail(err, SP_ERR_CORRUPT, "%s: <%s> in the answer is too long", what,
                     names[c.active >= 0 ? c.active : 0]);
    else if (c.dtd)
        rc = sp_fail(err, SP_ERR_CORRUPT, "%s: the answer holds a DTD (refused)", what);
    else if (st != XML_STATUS_OK)
        rc = sp_fail(err, SP_ERR_CORRUPT, "%s: the answer is not well-formed XML (line %lu: %s)",
                     what, (unsigned long)XML_GetCurrentLineNumber(p),
                     XML_ErrorString(XML_GetErrorCode(p)));
    XML_ParserFree(p);
    if (rc != SP_OK)
        for (size_t i = 0; i < n; i++)
            OPENSSL_cleanse(outs[i], outsz[i]);
    return rc;
}
