/* s3.c — the S3 store backend on libcurl: ListObjectsV2 (paged), streaming
 * GET and PUT, multipart upload above S3_PART_SIZE_MB, HEAD, DELETE, each
 * signed with SigV4 (sigv4.c) and sending the real payload SHA-256 and a
 * Content-MD5. Transient failures (5xx, SlowDown, resets, timeouts) are
 * retried with exponential backoff and full jitter, re-signed and re-sent
 * from the start; other errors name the S3 code, bucket, key and endpoint.
 * Never prints a secret or a signature; never holds an object in memory
 * (bodies stream through libcurl's buffers; XML answers are capped). An object
 * appears whole or not at all: a multipart upload completes last and is
 * aborted on any failure. */
#include "store_impl.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../util/buf.h"
#include "../util/cancel.h"
#include "../util/clock.h"
#include "../util/log.h"
#include "../util/sha256.h"
#include "aws_config.h"
#include "s3_xml.h"
#include "sigv4.h"

#include "../util/version.h"

enum {
    S3_POOL_MAX = 16,               /* idle curl handles kept (connection reuse) */
    S3_ERROR_BODY_MAX = 64 << 10,   /* bytes of an error answer kept */
    S3_XML_BODY_MAX = 16 << 20,     /* bytes of a list / multipart answer accepted */
    S3_PARTS_MAX = 10000,           /* S3's limit on parts per upload */
    S3_MIN_PART_MB = 5,             /* S3's minimum part size (but for the last) */
    S3_MAX_PART_MB = 5120,          /* S3's maximum part size */
    S3_DEFAULT_PART_MB = 8,         /* the AWS CLI's default */
    S3_DEFAULT_ATTEMPTS = 5,        /* the AWS SDKs' "standard" retry mode */
    S3_MAX_ATTEMPTS = 20,
    S3_DEFAULT_READ_TIMEOUT = 60,   /* seconds without a byte moving */
    S3_CONNECT_TIMEOUT = 10,        /* seconds to connect (and TLS) */
    S3_LIST_PAGE = 1000,
    S3_CHUNK = 1 << 20,
    S3_UPLOAD_THREADS = 4,          /* parts in flight per multipart upload */
    S3_BACKOFF_BASE_MS = 100,
    S3_BACKOFF_CAP_MS = 5000,
    S3_RETRY_WINDOW_MS = 120000,    /* no new attempt starts later than this */
    S3_TOKEN_MAX = 4096,
};

typedef struct s3_store {
    char bucket[64];
    char prefix[STORE_KEY_MAX + 2]; /* "" or "pre/fix/" */
    char url_base[1200];            /* scheme://authority[/base] */
    char path_base[1200];           /* canonical path of the bucket: "/base/bucket" or "" */
    char host[300];                 /* the Host header */
    char endpoint[1200];            /* for messages */
    aws_settings aws;               /* region, endpoint, CA bundle */
    aws_chain *chain;               /* credentials, asked before each attempt */
    int max_attempts;
    long read_timeout;
    long time_limit_ms; /* store_set_time_limit: per request, 0 = none */
    int64_t part_size;
    pthread_mutex_t lock;
    CURL *idle[S3_POOL_MAX];
    int nidle;
} s3_store;

static s3_store *S3(const store *s)
{
    return (s3_store *)s->impl;
}

/* ---- helpers ---------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int64_t now_ms(void)
{
    return (int64_t)(sp_mono_seconds() * 1000);
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Full jitter: uniform in [0, min(cap, base * 2^attempt)). */
static int64_t backoff_ms(int attempt)
{
    static _Thread_local unsigned seed;
    if (!seed)
        seed = (unsigned)now_ms() ^ (unsigned)getpid() ^ (unsigned)(uintptr_t)&seed;
    int64_t ceiling = S3_BACKOFF_BASE_MS;
    for (int i = 1; i < attempt && ceiling < S3_BACKOFF_CAP_MS; i++)
        ceiling *= 2;
    if (ceiling > S3_BACKOFF_CAP_MS)
        ceiling = S3_BACKOFF_CAP_MS;
    return (int64_t)(rand_r(&seed) % (unsigned)ceiling) + 1;
}

/* SHA-256 (hex) and, when asked, MD5 (base64) of a byte range, one pass.
 * A libcrypto failure is sticky and reported by digest_final. */
typedef struct s3_digest {
    EVP_MD_CTX *sha, *md5;
    bool failed;
} s3_digest;

static void digest_free(s3_digest *d)
{
    EVP_MD_CTX_free(d->sha);
    EVP_MD_CTX_free(d->md5);
    d->sha = d->md5 = NULL;
}

static int digest_init(s3_digest *d, bool with_md5)
{
    d->md5 = NULL;
    d->failed = false;
    d->sha = EVP_MD_CTX_new();
    if (with_md5)
        d->md5 = EVP_MD_CTX_new();
    if (!d->sha || (with_md5 && !d->md5) || EVP_DigestInit_ex(d->sha, EVP_sha256(), NULL) != 1 ||
        (with_md5 && EVP_DigestInit_ex(d->md5, EVP_md5(), NULL) != 1)) {
        digest_free(d);
        return -1;
    }
    return 0;
}

static void digest_update(s3_digest *d, const void *p, size_t n)
{
    if (EVP_DigestUpdate(d->sha, p, n) != 1 || (d->md5 && EVP_DigestUpdate(d->md5, p, n) != 1))
        d->failed = true;
}

/* Finish into sha_hex[65] and (with MD5) md5_b64[25]; frees the state.
 * Returns 0, or -1 when libcrypto failed along the way. */
static int digest_final(s3_digest *d, char *sha_hex, char *md5_b64)
{
    unsigned char md[32];
    unsigned int len = 0;
    bool ok = !d->failed && EVP_DigestFinal_ex(d->sha, md, &len) == 1;
    if (ok)
        sigv4_hex(md, 32, sha_hex);
    if (ok && d->md5) {
        ok = EVP_DigestFinal_ex(d->md5, md, &len) == 1;
        if (ok)
            EVP_EncodeBlock((unsigned char *)md5_b64, md, 16);
    }
    digest_free(d);
    return ok ? 0 : -1;
}

/* The digests of bytes in memory (a small PUT, a Complete body). */
static int digest_mem(const void *p, size_t n, char *sha_hex, char *md5_b64)
{
    s3_digest d;
    if (digest_init(&d, md5_b64 != NULL) != 0)
        return -1;
    digest_update(&d, p, n);
    return digest_final(&d, sha_hex, md5_b64);
}

/* ---- one request, with retries --------------------------------------------- */

typedef struct s3_body {
    int fd;          /* >= 0: bytes [off, off+len) of this file */
    const void *mem; /* else these bytes */
    int64_t off, len, pos;
    int read_errno;  /* a failed or short read of the local file */
    int sends;       /* times the body was sent from its start (ours and libcurl's retries) */
} s3_body;

typedef struct s3_call {
    /* in */
    const char *method;   /* GET PUT POST DELETE HEAD */
    const char *op;       /* "get", "put", … for messages */
    const char *key;      /* the store key, for messages ("" for the bucket) */
    const char *obj;      /* the object's key in the bucket; NULL: a bucket request */
    const char *query;    /* canonical query, "" when none */
    s3_body body;         /* PUT/POST body (len 0: none) */
    const char *payload_sha256;
    const char *content_md5;
    const char *content_type;
    const char *meta_sha256; /* x-amz-meta-sha256 to store with the object */
    bool ok404;           /* a 404 is an answer, not a failure */
    bool body_error;      /* a 200 whose body is <Error> is a failure (Complete) */
    bool cleanup;         /* an abort: runs after a stop too (once, within 1.5 s) */
    store_write_fn sink;  /* 2xx bodies stream here; else they are buffered */
    void *sink_ctx;
    size_t body_cap;      /* cap of a buffered 2xx body */
    /* out */
    long status;
    sp_buf resp;          /* buffered 2xx body, or the error body */
    char etag[256];
    char meta[80];
    int64_t length;
    bool has_length;
    char request_id[128];
    char code[64];        /* the S3 error code of the last failed answer, "" when none */
    /* internal */
    CURL *curl;
    int64_t delivered;    /* body bytes given to sink so far (resumed on retry) */
    int64_t skip;         /* bytes of a restarted body already delivered */
    int64_t resume_from;  /* delivered when this attempt started */
    bool first_chunk;     /* no body byte of this attempt seen yet */
    int64_t range_start;  /* first byte of a 206 answer's Content-Range; -1: none */
    bool bad_range;       /* a 206 that does not start where we asked */
    int sink_rc;
    bool overflow;
} s3_call;

static size_t on_read(char *buf, size_t size, size_t nmemb, void *ud)
{
    s3_body *b = ud;
    size_t want = size * nmemb;
    int64_t left = b->len - b->pos;
    if (left <= 0)
        return 0;
    if (b->pos == 0)
        b->sends++;
    if ((int64_t)want > left)
        want = (size_t)left;
    if (b->fd < 0) {
        memcpy(buf, (const char *)b->mem + b->pos, want);
    } else {
        ssize_t r;
        do
            r = pread(b->fd, buf, want, (off_t)(b->off + b->pos));
        while (r < 0 && errno == EINTR);
        if (r <= 0) {
            b->read_errno = r < 0 ? errno : EIO; /* the file shrank under us */
            return CURL_READFUNC_ABORT;
        }
        want = (size_t)r;
    }
    b->pos += (int64_t)want;
    return want;
}

/* libcurl calls this at least once a second during a transfer (more often
 * while bytes move): a stop request ends the transfer there. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    const s3_call *c = ud;
    return !c->cleanup && sp_cancelled();
}

static int on_seek(void *ud, curl_off_t off, int origin)
{
    s3_body *b = ud;
    if (origin != SEEK_SET || off < 0 || off > b->len)
        return CURL_SEEKFUNC_FAIL;
    b->pos = off;
    return CURL_SEEKFUNC_OK;
}

static bool header_is(const char *line, size_t n, const char *name, const char **val,
                      size_t *vlen)
{
    size_t nl = strlen(name);
    if (n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return false;
    const char *v = line + nl + 1, *e = line + n;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *val = v;
    *vlen = (size_t)(e - v);
    return true;
}

static void copy_view(char *dst, size_t dsz, const char *v, size_t n)
{
    if (n >= dsz)
        n = dsz - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    s3_call *c = ud;
    size_t n = size * nmemb;
    const char *v;
    size_t vl;
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) { /* a new answer (after 100 Continue) */
        c->etag[0] = c->meta[0] = c->request_id[0] = '\0';
        c->has_length = false;
        c->range_start = -1;
    } else if (header_is(p, n, "content-range", &v, &vl)) {
        char num[32];
        copy_view(num, sizeof num, v, vl);
        char *end;
        long long x = strncmp(num, "bytes ", 6) == 0 ? strtoll(num + 6, &end, 10) : -1;
        c->range_start = x >= 0 && *end == '-' ? x : -1;
    } else if (header_is(p, n, "etag", &v, &vl)) {
        copy_view(c->etag, sizeof c->etag, v, vl);
    } else if (header_is(p, n, "x-amz-meta-sha256", &v, &vl)) {
        copy_view(c->meta, sizeof c->meta, v, vl);
    } else if (header_is(p, n, "x-amz-request-id", &v, &vl)) {
        copy_view(c->request_id, sizeof c->request_id, v, vl);
    } else if (header_is(p, n, "content-length", &v, &vl)) {
        char num[32];
        copy_view(num, sizeof num, v, vl);
        char *end;
        long long x = strtoll(num, &end, 10);
        c->has_length = vl > 0 && vl < 20 && *end == '\0' && x >= 0;
        c->length = c->has_length ? x : 0;
    }
    return n;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
    s3_call *c = ud;
    size_t n = size * nmemb;
    long st = 0;
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &st);
    bool ok = st >= 200 && st < 300;
    if (ok && c->sink) {
        if (c->first_chunk) {
            /* A retry asked for the rest with Range: a 206 is the rest, a
             * 200 (Range ignored) starts over and repeats what we have. */
            c->first_chunk = false;
            c->skip = st == 200 ? c->resume_from : 0;
            if (st == 206 && c->range_start != c->resume_from) {
                c->bad_range = true; /* appending it would corrupt the download */
                return 0;
            }
        }
        size_t off = 0;
        if (c->skip > 0) {
            off = (int64_t)n < c->skip ? n : (size_t)c->skip;
            c->skip -= (int64_t)off;
        }
        if (n > off) {
            int rc = c->sink(c->sink_ctx, p + off, n - off);
            if (rc != 0) {
                c->sink_rc = rc;
                return 0;
            }
            c->delivered += (int64_t)(n - off);
        }
        return n;
    }
    size_t cap = ok ? c->body_cap : S3_ERROR_BODY_MAX;
    if (c->resp.len + n > cap) {
        if (ok) {
            c->overflow = true;
            return 0;
        }
        n = cap - c->resp.len; /* keep the start of an error answer */
        sp_buf_append(&c->resp, p, n);
        return size * nmemb;
    }
    sp_buf_append(&c->resp, p, n);
    if (c->resp.broken) {
        c->overflow = true;
        return 0;
    }
    return n;
}

static CURL *take_handle(s3_store *s3)
{
    CURL *h = NULL;
    pthread_mutex_lock(&s3->lock);
    if (s3->nidle > 0)
        h = s3->idle[--s3->nidle];
    pthread_mutex_unlock(&s3->lock);
    return h ? h : curl_easy_init();
}

static void give_handle(s3_store *s3, CURL *h)
{
    pthread_mutex_lock(&s3->lock);
    if (s3->nidle < S3_POOL_MAX) {
        s3->idle[s3->nidle++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&s3->lock);
    if (h)
        curl_easy_cleanup(h);
}

/* The object's URL path (encoded), or the bucket's. */
static void object_path(const s3_store *s3, const char *obj, sp_buf *out)
{
    sp_buf_puts(out, s3->path_base);
    if (obj) {
        sp_buf_putc(out, '/');
        sigv4_uri_encode(out, obj, strlen(obj), true);
    } else if (!s3->path_base[0]) {
        sp_buf_putc(out, '/');
    }
    sp_buf_putc(out, '\0');
}

/* The request's headers, signed: Host, the payload hash and the date first
 * (the names SigV4 signs), then the optional ones, then Expect (off: no
 * 100-continue round trip), Content-Type and Authorization. The list is
 * the caller's to free; the Authorization line is wiped from our stack. */
static CURLcode signed_headers(const s3_store *s3, const s3_call *c, const char *path,
                               const aws_creds *cr, struct curl_slist **list, char *errbuf)
{
    char amz_date[17];
    sigv4_amz_date((long long)time(NULL), amz_date);
    sigv4_header hs[12];
    size_t nh = 0;
    char range[64] = "";
    hs[nh++] = (sigv4_header){"host", s3->host};
    hs[nh++] = (sigv4_header){"x-amz-content-sha256", c->payload_sha256};
    hs[nh++] = (sigv4_header){"x-amz-date", amz_date};
    if (cr->session_token[0])
        hs[nh++] = (sigv4_header){"x-amz-security-token", cr->session_token};
    if (c->content_md5)
        hs[nh++] = (sigv4_header){"content-md5", c->content_md5};
    if (c->meta_sha256)
        hs[nh++] = (sigv4_header){"x-amz-meta-sha256", c->meta_sha256};
    if (c->sink && c->delivered > 0) {
        /* Resume where the failed attempt stopped, from the same object. */
        snprintf(range, sizeof range, "bytes=%" PRId64 "-", c->delivered);
        hs[nh++] = (sigv4_header){"range", range};
        if (c->etag[0])
            hs[nh++] = (sigv4_header){"if-match", c->etag};
    }
    char auth[1024];
    sigv4_request r = {c->method, path, c->query, hs, nh, c->payload_sha256, amz_date,
                       s3->aws.region, "s3", cr->access_key, cr->secret_key};
    if (sigv4_sign(&r, auth, sizeof auth, NULL, NULL) != 0) {
        snprintf(errbuf, CURL_ERROR_SIZE, "cannot sign the request");
        return CURLE_BAD_FUNCTION_ARGUMENT;
    }
    bool bad = false;
    char line[4200];
    static const char *const names[] = {"Host", "x-amz-content-sha256", "x-amz-date"};
    for (size_t i = 0; i < nh; i++) {
        snprintf(line, sizeof line, "%s: %s", i < 3 ? names[i] : hs[i].name, hs[i].value);
        struct curl_slist *n2 = curl_slist_append(*list, line);
        bad |= !n2;
        *list = n2 ? n2 : *list;
    }
    const char *extra[4] = {"Expect:", NULL, NULL, NULL};
    char ctype[128] = "";
    if (c->content_type) {
        snprintf(ctype, sizeof ctype, "Content-Type: %s", c->content_type);
        extra[1] = ctype;
    }
    snprintf(line, sizeof line, "Authorization: %s", auth);
    extra[2] = line;
    for (int i = 0; i < 3; i++) {
        if (!extra[i])
            continue;
        struct curl_slist *n2 = curl_slist_append(*list, extra[i]);
        bad |= !n2;
        *list = n2 ? n2 : *list;
    }
    OPENSSL_cleanse(line, sizeof line);
    if (bad) {
        snprintf(errbuf, CURL_ERROR_SIZE, "out of memory");
        return CURLE_OUT_OF_MEMORY;
    }
    return CURLE_OK;
}

/* The request URL: the endpoint's base, the path, the query. */
static CURLcode request_url(const s3_store *s3, const s3_call *c, const char *path, sp_buf *url,
                            char *errbuf)
{
    sp_buf_puts(url, s3->url_base);
    sp_buf_puts(url, path);
    if (c->query && c->query[0]) {
        sp_buf_putc(url, '?');
        sp_buf_puts(url, c->query);
    }
    sp_buf_putc(url, '\0');
    if (url->broken) {
        snprintf(errbuf, CURL_ERROR_SIZE, "the request URL is too long");
        return CURLE_URL_MALFORMAT;
    }
    return CURLE_OK;
}

/* Every option of the attempt on h: the first that fails (out of memory
 * copying a string) stops the attempt. */
static CURLcode set_options(const s3_store *s3, s3_call *c, CURL *h, const char *url,
                            struct curl_slist *list, char *errbuf)
{
    CURLcode sc = CURLE_OK;
#define SETOPT(opt, val)                                                                           \
    do {                                                                                           \
        if (sc == CURLE_OK)                                                                        \
            sc = curl_easy_setopt(h, opt, val);                                                    \
    } while (0)
    SETOPT(CURLOPT_URL, url);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_PATH_AS_IS, 1L);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_ERRORBUFFER, errbuf);
    SETOPT(CURLOPT_USERAGENT, "salespipe/" SP_VERSION);
    SETOPT(CURLOPT_HTTPHEADER, list);
    SETOPT(CURLOPT_CONNECTTIMEOUT, (long)S3_CONNECT_TIMEOUT);
    SETOPT(CURLOPT_LOW_SPEED_LIMIT, 1L);
    SETOPT(CURLOPT_LOW_SPEED_TIME, s3->read_timeout);
    if (s3->time_limit_ms)
        SETOPT(CURLOPT_TIMEOUT_MS, s3->time_limit_ms);
    SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
    SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
    SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
    if (s3->aws.ca_bundle[0])
        SETOPT(CURLOPT_CAINFO, s3->aws.ca_bundle);
    SETOPT(CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(CURLOPT_HEADERDATA, c);
    SETOPT(CURLOPT_WRITEFUNCTION, on_write);
    SETOPT(CURLOPT_WRITEDATA, c);
    SETOPT(CURLOPT_NOPROGRESS, 0L);
    SETOPT(CURLOPT_XFERINFOFUNCTION, on_progress);
    SETOPT(CURLOPT_XFERINFODATA, c);
    if (c->cleanup && sp_cancelled())
        SETOPT(CURLOPT_TIMEOUT_MS, 1500L); /* the stop has 2 s in all */
    c->body.pos = 0;
    c->body.read_errno = 0;
    if (strcmp(c->method, "HEAD") == 0) {
        SETOPT(CURLOPT_NOBODY, 1L);
    } else if (strcmp(c->method, "PUT") == 0 || strcmp(c->method, "POST") == 0) {
        if (c->method[1] == 'U') {
            SETOPT(CURLOPT_UPLOAD, 1L);
            SETOPT(CURLOPT_INFILESIZE_LARGE, (curl_off_t)c->body.len);
        } else {
            SETOPT(CURLOPT_POST, 1L);
            SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body.len);
        }
        SETOPT(CURLOPT_READFUNCTION, on_read);
        SETOPT(CURLOPT_READDATA, &c->body);
        SETOPT(CURLOPT_SEEKFUNCTION, on_seek);
        SETOPT(CURLOPT_SEEKDATA, &c->body);
    } else if (strcmp(c->method, "DELETE") == 0) {
        SETOPT(CURLOPT_CUSTOMREQUEST, "DELETE");
    }
#undef SETOPT
    if (sc != CURLE_OK)
        snprintf(errbuf, CURL_ERROR_SIZE, "cannot set up the request");
    return sc;
}

/* One attempt. Returns the CURLcode; c->status holds the HTTP status. */
static CURLcode attempt_once(s3_store *s3, s3_call *c, const char *path, const aws_creds *cr,
                             char *errbuf)
{
    CURL *h = c->curl;
    curl_easy_reset(h);
    struct curl_slist *list = NULL;
    sp_buf url;
    sp_buf_init(&url, 16384);
    CURLcode cc = signed_headers(s3, c, path, cr, &list, errbuf);
    if (cc == CURLE_OK)
        cc = request_url(s3, c, path, &url, errbuf);
    if (cc == CURLE_OK) {
        errbuf[0] = '\0';
        cc = set_options(s3, c, h, (const char *)url.data, list, errbuf);
    }
    if (cc == CURLE_OK) {
        cc = curl_easy_perform(h);
        c->status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
    }
    curl_slist_free_all(list);
    sp_buf_free(&url);
    return cc;
}

/* Is a transport error worth another attempt? */
static bool transient_curl(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_WEIRD_SERVER_REPLY:
        return true;
    default:
        return false;
    }
}

/* Is an HTTP answer worth another attempt? 5xx and throttling: AWS says
 * 503 SlowDown, S3-compatible servers (R2, Ceph, proxies) often 429; 408 and
 * S3's 400 RequestTimeout mean the body arrived too slowly. */
static bool transient_code(long status, const char *code)
{
    if (status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
        status == 504)
        return true;
    return strcmp(code, "RequestTimeout") == 0 || strcmp(code, "SlowDown") == 0 ||
           strcmp(code, "InternalError") == 0 || strcmp(code, "ServiceUnavailable") == 0 ||
           strcmp(code, "TooManyRequests") == 0;
}

/* Printable, single-line copy of a server string (it may be hostile). */
static void sanitize(char *s)
{
    for (unsigned char *p = (unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = ' ';
}

/* Describe the failed attempt into cause (no secrets: codes, messages,
 * curl's text); sets *transient. */
static void describe(s3_call *c, CURLcode cc, const char *errbuf, char *cause,
                     size_t causesz, bool *transient)
{
    if (cc != CURLE_OK) {
        *transient = transient_curl(cc);
        snprintf(cause, causesz, "%s%s%s", curl_easy_strerror(cc), errbuf[0] ? ": " : "",
                 errbuf);
        sanitize(cause);
        return;
    }
    char code[128] = "", msg[256] = "";
    const char *b = (const char *)c->resp.data, *e = b ? b + c->resp.len : NULL;
    char root[16];
    if (b && s3_xml_root(b, (size_t)(e - b), root, sizeof root) == 0 &&
        strcmp(root, "Error") == 0) {
        s3_xml_find(b, (size_t)(e - b), "Code", code, sizeof code);
        s3_xml_find(b, (size_t)(e - b), "Message", msg, sizeof msg);
    }
    sanitize(code);
    sanitize(msg);
    copy_view(c->code, sizeof c->code, code, strlen(code));
    *transient = transient_code(c->status, code);
    if (code[0])
        snprintf(cause, causesz, "%s (HTTP %ld)%s%s", code, c->status, msg[0] ? ": " : "", msg);
    else if (c->status == 404)
        snprintf(cause, causesz, "NoSuchKey (HTTP 404)");
    else if (c->status == 403)
        snprintf(cause, causesz, "AccessDenied or SignatureDoesNotMatch (HTTP 403, no details "
                                 "in a %s answer)", c->method);
    else
        snprintf(cause, causesz, "HTTP %ld%s", c->status,
                 c->status >= 200 && c->status < 300 ? " with an unexpected answer" : "");
}

/* The call's URL path, defaults and a curl handle (from the pool). On
 * failure nothing is held. */
static int call_begin(store *s, s3_call *c, sp_buf *path, sp_error *err)
{
    s3_store *s3 = S3(s);
    sp_buf_init(path, 8192);
    object_path(s3, c->obj, path);
    if (path->broken) {
        sp_buf_free(path);
        return sp_fail(err, SP_ERR_NOMEM, "store %s: %s '%s': out of memory", s->url, c->op,
                       c->key);
    }
    if (!c->payload_sha256)
        c->payload_sha256 = SIGV4_EMPTY_SHA256;
    if (!c->body_cap)
        c->body_cap = S3_XML_BODY_MAX;
    c->curl = take_handle(s3);
    if (!c->curl) {
        sp_buf_free(path);
        return sp_fail(err, SP_ERR_NOMEM, "store %s: %s '%s': cannot create a curl handle",
                       s->url, c->op, c->key);
    }
    return SP_OK;
}

/* A fresh attempt: the last one's answer and flags forgotten; a download
 * goes on from what was delivered. */
static void reset_attempt(s3_call *c)
{
    sp_buf_free(&c->resp);
    sp_buf_init(&c->resp, 0);
    c->overflow = false;
    c->sink_rc = 0;
    c->code[0] = '\0';
    c->resume_from = c->delivered;
    c->first_chunk = true;
    c->skip = 0;
    c->range_start = -1;
    c->bad_range = false;
}

/* Failures on our side of the attempt, never retried: a stop, the consumer
 * refusing bytes, the local file unreadable, a resumed download that does
 * not line up, an answer over its cap. SP_OK when none. */
static int local_failure(store *s, s3_call *c, sp_error *err)
{
    s3_store *s3 = S3(s);
    if (!c->cleanup && sp_cancel_check(err, NULL) != SP_OK)
        return sp_error_prefix(err, "store %s: %s '%s'", s->url, c->op, c->key);
    if (c->sink_rc != 0)
        return c->sink_rc; /* the consumer stopped; its error is in err */
    if (c->body.read_errno)
        return sp_fail(err, SP_ERR_IO, "store %s: %s '%s': cannot read the local file: %s",
                       s->url, c->op, c->key, strerror(c->body.read_errno));
    if (c->bad_range)
        return sp_fail(err, SP_ERR_NET, "store %s: %s '%s': asked for the bytes from %" PRId64
                       ", the server answered 206 with a range starting at %" PRId64
                       " (bucket %s, endpoint %s)", s->url, c->op, c->key, c->resume_from,
                       c->range_start, s3->bucket, s3->endpoint);
    if (c->overflow)
        return sp_fail(err, SP_ERR_LIMIT,
                       "store %s: %s '%s': the answer is larger than %zu bytes (bucket %s, "
                       "endpoint %s)",
                       s->url, c->op, c->key, c->body_cap, s3->bucket, s3->endpoint);
    return SP_OK;
}

static bool answer_ok(const s3_call *c, CURLcode cc)
{
    bool ok = cc == CURLE_OK && ((c->status >= 200 && c->status < 300) ||
                                 (c->ok404 && c->status == 404));
    /* CompleteMultipartUpload can fail after its 200 has started. */
    if (ok && c->body_error && c->resp.data && memmem(c->resp.data, c->resp.len, "<Error>", 7))
        ok = false;
    return ok;
}

/* After failed attempt `attempt` (started `start_ms`; `before` bytes had
 * been delivered): true with err filled when the call fails for good (not
 * transient, out of attempts, out of the retry window, or a cleanup call
 * during a stop); false with *wait the backoff before the next attempt. */
static bool give_up(store *s, s3_call *c, CURLcode cc, const char *errbuf, int attempt,
                    int64_t before, int64_t start_ms, int64_t *wait, sp_error *err)
{
    s3_store *s3 = S3(s);
    char cause[700];
    bool transient = false;
    describe(c, cc, errbuf, cause, sizeof cause, &transient);
    if (strcmp(c->code, "ExpiredToken") == 0 && attempt == 1) {
        /* Revoked or expired early: new credentials, one more try. */
        aws_chain_invalidate(s3->chain);
        transient = true;
    }
    if (c->sink && c->status == 412 && before > 0)
        transient = false; /* the object changed between attempts */
    int64_t elapsed = now_ms() - start_ms;
    *wait = backoff_ms(attempt);
    int64_t window = s3->time_limit_ms ? s3->time_limit_ms : S3_RETRY_WINDOW_MS;
    if (!transient || attempt >= s3->max_attempts || elapsed + *wait > window ||
        (c->cleanup && sp_cancelled())) {
        char tries[48] = "";
        if (attempt > 1)
            snprintf(tries, sizeof tries, " after %d attempts", attempt);
        int code = cc == CURLE_OK && c->status == 404 ? SP_ERR_IO : SP_ERR_NET;
        (transient ? sp_fail_retry : sp_fail)(
            err, code, "store %s: %s '%s': %s%s (bucket %s, endpoint %s)", s->url, c->op, c->key,
            cause, tries, s3->bucket, s3->endpoint);
        return true;
    }
    sp_log(SP_LOG_WARN, "store %s: %s '%s': %s; attempt %d of %d, retrying in %.2fs", s->url,
           c->op, c->key, cause, attempt, s3->max_attempts, (double)*wait / 1000);
    return false;
}

/* Run c until it succeeds, fails for good, or runs out of attempts. SP_OK:
 * c->status is 2xx (or 404 when c->ok404). Errors say "store URL: op 'key':
 * cause (bucket B, endpoint E)". */
static int perform(store *s, s3_call *c, sp_error *err)
{
    s3_store *s3 = S3(s);
    sp_buf path;
    SP_TRY(call_begin(s, c, &path, err));
    int64_t start = now_ms();
    int rc = SP_OK;
    char errbuf[CURL_ERROR_SIZE];
    for (int attempt = 1;; attempt++) {
        reset_attempt(c);
        int64_t before = c->delivered;
        /* Credentials now, not at open: temporary ones are refreshed by
         * the chain before they expire, also in the middle of a long run. */
        aws_creds cr;
        sp_error ce;
        if (aws_chain_get(s3->chain, &cr, &ce) != SP_OK) {
            rc = (ce.retryable ? sp_fail_retry : sp_fail)(
                err, ce.code, "store %s: %s '%s': %s (bucket %s, endpoint %s)", s->url, c->op,
                c->key, ce.msg, s3->bucket, s3->endpoint);
            break;
        }
        CURLcode cc = attempt_once(s3, c, (const char *)path.data, &cr, errbuf);
        OPENSSL_cleanse(&cr, sizeof cr);
        if ((rc = local_failure(s, c, err)) != SP_OK || answer_ok(c, cc))
            break;
        int64_t wait;
        if (give_up(s, c, cc, errbuf, attempt, before, start, &wait, err)) {
            rc = err->code;
            break;
        }
        /* A cleanup (an abort during a stop) must still run: it waits
         * without polling for the stop. */
        if (c->cleanup) {
            sleep_ms(wait);
        } else if (sp_cancel_sleep((double)wait / 1000) != 0) {
            sp_cancel_check(err, "waiting to retry");
            rc = sp_error_prefix(err, "store %s: %s '%s'", s->url, c->op, c->key);
            break;
        }
    }
    give_handle(s3, c->curl);
    c->curl = NULL;
    sp_buf_free(&path);
    return rc;
}

static void call_free(s3_call *c)
{
    sp_buf_free(&c->resp);
}

/* The object key in the bucket: the store's prefix and key. */
static int full_key(store *s, const char *key, char *out, const char *op, sp_error *err)
{
    s3_store *s3 = S3(s);
    int n = snprintf(out, STORE_KEY_MAX + 1, "%s%s", s3->prefix, key);
    if (n < 0 || n > STORE_KEY_MAX)
        return sp_fail(err, SP_ERR_USAGE, "store %s: %s '%s': with the prefix, the key is longer "
                       "than %d bytes", s->url, op, key, STORE_KEY_MAX);
    return SP_OK;
}

/* ---- list ------------------------------------------------------------------- */

/* One page's entries, checked as they are read (see list_entry). */
typedef struct list_walk {
    store *s;
    const char *prefix, *full;
    char *last;  /* the previous key (keys only go up) */
    size_t plen; /* length of the store's own prefix */
    store_list_fn fn;
    void *ctx;
    sp_error *err;
    bool stopped; /* fn returned fn_rc (any value, even S3_XML_BAD's) */
    int fn_rc;
} list_walk;

static int list_entry(void *ud, const char *key, const char *size_s)
{
    list_walk *w = ud;
    s3_store *s3 = S3(w->s);
    char *e2 = NULL;
    long long size = size_s[0] ? strtoll(size_s, &e2, 10) : -1;
    if (size < 0 || !e2 || *e2)
        return sp_fail(w->err, SP_ERR_NET, "store %s: list '%s': a malformed <Contents> entry in "
                       "the answer (bucket %s, endpoint %s)", w->s->url, w->prefix, s3->bucket,
                       s3->endpoint);
    if (strncmp(key, w->full, strlen(w->full)) != 0)
        return sp_fail(w->err, SP_ERR_NET, "store %s: list '%s': the server returned a key "
                       "outside the prefix (bucket %s, endpoint %s)", w->s->url, w->prefix,
                       s3->bucket, s3->endpoint);
    if (w->last[0] && strcmp(key, w->last) <= 0)
        return sp_fail(w->err, SP_ERR_NET, "store %s: list '%s': the server returned keys out "
                       "of order or repeated (bucket %s, endpoint %s)", w->s->url, w->prefix,
                       s3->bucket, s3->endpoint);
    strcpy(w->last, key);
    sp_error ignore;
    if (store_check_key(key + w->plen, &ignore) != SP_OK)
        return SP_OK; /* not a key this store could have written (e.g. "a//b") */
    w->fn_rc = w->fn(w->ctx, key + w->plen, (int64_t)size);
    w->stopped = w->fn_rc != 0;
    return w->stopped ? 1 : 0;
}

static int list_pages(store *s, const char *prefix, int page, bool one_page, store_list_fn fn,
                      void *ctx, sp_error *err)
{
    s3_store *s3 = S3(s);
    char full[STORE_KEY_MAX + 1];
    SP_TRY(full_key(s, prefix[0] ? prefix : "", full, "list", err));
    /* A server must not page forever over the same listing: keys only go
     * up, and a continuation token never comes back (Brent's cycle check:
     * each token is compared with one saved at power-of-two pages, so a
     * cycle of any length is caught in bounded memory). */
    char *token = calloc(1, S3_TOKEN_MAX + 1), *saved = calloc(1, S3_TOKEN_MAX + 1);
    char *key = malloc(STORE_KEY_MAX + 8), *last = calloc(1, STORE_KEY_MAX + 8);
    long pages_since_save = 0, power = 1;
    sp_buf q;
    sp_buf_init(&q, 64 << 10);
    int rc = SP_OK;
    if (!token || !saved || !key || !last) {
        rc = sp_fail(err, SP_ERR_NOMEM, "store %s: list: out of memory", s->url);
        goto out;
    }
    size_t plen = strlen(s3->prefix);
    for (;;) {
        sp_buf_reset(&q);
        if (token[0]) {
            sp_buf_puts(&q, "continuation-token=");
            sigv4_uri_encode(&q, token, strlen(token), false);
            sp_buf_putc(&q, '&');
        }
        sp_buf_printf(&q, "list-type=2&max-keys=%d&prefix=", page);
        sigv4_uri_encode(&q, full, strlen(full), false);
        sp_buf_putc(&q, '\0');
        if (q.broken) {
            rc = sp_fail(err, SP_ERR_NOMEM, "store %s: list: out of memory", s->url);
            break;
        }
        s3_call c = {.method = "GET", .op = "list", .key = prefix, .query = (char *)q.data,
                     .body = {.fd = -1}};
        if ((rc = perform(s, &c, err)) != SP_OK) {
            call_free(&c);
            break;
        }
        const char *b = (const char *)c.resp.data;
        list_walk lw = {s, prefix, full, last, plen, fn, ctx, err, false, 0};
        char truncated[16] = "";
        rc = b ? s3_xml_list(b, c.resp.len, list_entry, &lw, key, STORE_KEY_MAX + 1, truncated,
                             sizeof truncated, token, S3_TOKEN_MAX + 1)
               : S3_XML_NOT_LIST;
        if (lw.stopped)
            rc = lw.fn_rc;
        else if (rc == S3_XML_NOT_LIST)
            rc = sp_fail(err, SP_ERR_NET, "store %s: list '%s': the answer is not a "
                         "ListObjectsV2 result (bucket %s, endpoint %s)", s->url, prefix,
                         s3->bucket, s3->endpoint);
        else if (rc == S3_XML_BAD)
            rc = sp_fail(err, SP_ERR_NET, "store %s: list '%s': a malformed <Contents> entry or "
                         "page in the answer (bucket %s, endpoint %s)", s->url, prefix,
                         s3->bucket, s3->endpoint);
        bool more = strcmp(truncated, "true") == 0;
        if (rc == SP_OK && more && !one_page && (!token[0] || strcmp(token, saved) == 0))
            rc = sp_fail(err, SP_ERR_NET, "store %s: list '%s': a truncated page without a new "
                         "continuation token (bucket %s, endpoint %s)", s->url, prefix,
                         s3->bucket, s3->endpoint);
        if (++pages_since_save == power) {
            strcpy(saved, token);
            power *= 2;
            pages_since_save = 0;
        }
        call_free(&c);
        if (rc != SP_OK || !more || one_page)
            break;
    }
out:
    free(token);
    free(saved);
    free(key);
    free(last);
    sp_buf_free(&q);
    return rc;
}

static int s3_list(store *s, const char *prefix, store_list_fn fn, void *ctx, sp_error *err)
{
    return list_pages(s, prefix, S3_LIST_PAGE, false, fn, ctx, err);
}

static int ignore_key(void *ctx, const char *key, int64_t size)
{
    (void)ctx, (void)key, (void)size;
    return 0;
}

static int s3_probe_read(store *s, const char *prefix, sp_error *err)
{
    return list_pages(s, prefix, 1, true, ignore_key, NULL, err);
}

/* ---- stat, delete ----------------------------------------------------------- */

static bool is_hex64(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

static int s3_stat(store *s, const char *key, bool want_sha256, store_stat *out, sp_error *err)
{
    (void)want_sha256; /* the checksum comes with the HEAD answer anyway */
    char obj[STORE_KEY_MAX + 1];
    SP_TRY(full_key(s, key, obj, "stat", err));
    s3_call c = {.method = "HEAD", .op = "stat", .key = key, .obj = obj, .query = "",
                 .body = {.fd = -1}, .ok404 = true};
    int rc = perform(s, &c, err);
    if (rc == SP_OK && c.status != 404) {
        if (!c.has_length) {
            rc = sp_fail(err, SP_ERR_NET, "store %s: stat '%s': no Content-Length in the answer "
                         "(bucket %s, endpoint %s)", s->url, key, S3(s)->bucket,
                         S3(s)->endpoint);
        } else {
            out->exists = true;
            out->size = c.length;
            if (is_hex64(c.meta))
                memcpy(out->sha256, c.meta, 65);
        }
    }
    call_free(&c);
    return rc;
}

static int s3_delete(store *s, const char *key, sp_error *err)
{
    char obj[STORE_KEY_MAX + 1];
    SP_TRY(full_key(s, key, obj, "delete", err));
    s3_call c = {.method = "DELETE", .op = "delete", .key = key, .obj = obj, .query = "",
                 .body = {.fd = -1}, .ok404 = true};
    int rc = perform(s, &c, err);
    call_free(&c);
    return rc;
}

/* ---- get -------------------------------------------------------------------- */

typedef struct get_sink {
    store_write_fn fn;
    void *ctx;
    sp_sha256 sha;
} get_sink;

static int get_through(void *ud, const void *p, size_t n)
{
    get_sink *g = ud;
    sp_sha256_update(&g->sha, p, n);
    return g->fn(g->ctx, p, n);
}

static int s3_get(store *s, const char *key, store_write_fn fn, void *ctx, sp_error *err)
{
    s3_store *s3 = S3(s);
    char obj[STORE_KEY_MAX + 1];
    SP_TRY(full_key(s, key, obj, "get", err));
    get_sink g = {fn, ctx, {NULL}};
    if (sp_sha256_init(&g.sha, err) != SP_OK)
        return sp_error_prefix(err, "store %s: get '%s'", s->url, key);
    s3_call c = {.method = "GET", .op = "get", .key = key, .obj = obj, .query = "",
                 .body = {.fd = -1}, .sink = get_through, .sink_ctx = &g};
    int rc = perform(s, &c, err);
    if (rc == SP_OK) {
        char hex[65];
        sp_sha256_final(&g.sha, hex);
        /* The checksum stored at upload, when we uploaded it. */
        if (is_hex64(c.meta) && strcmp(hex, c.meta) != 0)
            rc = sp_fail(err, SP_ERR_CORRUPT, "store %s: get '%s': the bytes received have "
                         "SHA-256 %s, the object's x-amz-meta-sha256 says %s (bucket %s, "
                         "endpoint %s)", s->url, key, hex, c.meta, s3->bucket, s3->endpoint);
    }
    sp_sha256_free(&g.sha);
    call_free(&c);
    return rc;
}

typedef struct file_sink {
    int fd;
    const char *path;
    sp_error *err;
} file_sink;

static int to_file(void *ud, const void *p, size_t n)
{
    file_sink *f = ud;
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(f->fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return sp_fail(f->err, SP_ERR_IO, "cannot write %s: %s", f->path, strerror(errno));
        c += w;
        n -= (size_t)w;
    }
    return SP_OK;
}

static int s3_get_file(store *s, const char *key, const char *local_path, sp_error *err)
{
    static atomic_ulong seq;
    char tmp[STORE_PATH_MAX];
    const char *slash = strrchr(local_path, '/');
    int dl = slash ? (int)(slash - local_path + 1) : 0;
    int n = snprintf(tmp, sizeof tmp, "%.*s" STORE_TMP_PREFIX "s3-%ld-%lu", dl, local_path,
                     (long)getpid(), (unsigned long)atomic_fetch_add(&seq, 1));
    if (n < 0 || n >= (int)sizeof tmp)
        return sp_fail(err, SP_ERR_LIMIT, "store %s: get '%s': the local path %s is too long",
                       s->url, key, local_path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0)
        return sp_fail(err, SP_ERR_IO, "store %s: get '%s': cannot create %s: %s", s->url, key,
                       tmp, strerror(errno));
    file_sink f = {fd, tmp, err};
    int rc = s3_get(s, key, to_file, &f, err);
    if (rc == SP_OK && fsync(fd) != 0)
        rc = sp_fail(err, SP_ERR_IO, "store %s: get '%s': cannot sync %s: %s", s->url, key, tmp,
                     strerror(errno));
    if (close(fd) != 0 && rc == SP_OK)
        rc = sp_fail(err, SP_ERR_IO, "store %s: get '%s': cannot close %s: %s", s->url, key, tmp,
                     strerror(errno));
    if (rc == SP_OK && rename(tmp, local_path) != 0)
        rc = sp_fail(err, SP_ERR_IO, "store %s: get '%s': cannot rename %s to %s: %s", s->url,
                     key, tmp, local_path, strerror(errno));
    if (rc != SP_OK && unlink(tmp) == 0)
        sp_cancel_note("removed %s", tmp);
    return rc;
}

/* ---- put -------------------------------------------------------------------- */

static int put_single(store *s, const char *key, const char *obj, s3_body body,
                      const char *sha_hex, const char *md5_b64, sp_error *err)
{
    s3_call c = {.method = "PUT", .op = "put", .key = key, .obj = obj, .query = "",
                 .body = body, .payload_sha256 = sha_hex, .content_md5 = md5_b64,
                 .content_type = "application/octet-stream", .meta_sha256 = sha_hex};
    int rc = perform(s, &c, err);
    call_free(&c);
    return rc;
}

static int s3_put_bytes(store *s, const char *key, const void *p, size_t n, sp_error *err)
{
    char obj[STORE_KEY_MAX + 1], sha[65], md5[25];
    SP_TRY(full_key(s, key, obj, "put", err));
    if (digest_mem(p, n, sha, md5) != 0)
        return sp_fail(err, SP_ERR_NOMEM, "store %s: put '%s': cannot compute the checksums",
                       s->url, key);
    s3_body b = {.fd = -1, .mem = p, .len = (int64_t)n};
    return put_single(s, key, obj, b, sha, md5, err);
}

typedef struct part_info {
    char etag[128];
} part_info;

/* SHA-256 (hex) and, when md5_b64 is not NULL, MD5 (base64) of bytes
 * [off, off+len) of the file, streamed through a 1 MiB buffer. */
static int hash_range(store *s, const char *key, const char *path, int fd, int64_t off,
                      int64_t len, char *sha_hex, char *md5_b64, sp_error *err)
{
    unsigned char *buf = malloc(S3_CHUNK);
    s3_digest d = {0};
    if (!buf || digest_init(&d, md5_b64 != NULL) != 0) {
        free(buf);
        return sp_fail(err, SP_ERR_NOMEM, "store %s: put '%s': out of memory", s->url, key);
    }
    int rc = SP_OK;
    for (int64_t done = 0; done < len;) {
        if ((rc = sp_cancel_check(err, NULL)) != SP_OK) {
            sp_error_prefix(err, "store %s: put '%s': reading %s", s->url, key, path);
            break;
        }
        size_t want = len - done < S3_CHUNK ? (size_t)(len - done) : S3_CHUNK;
        ssize_t r = pread(fd, buf, want, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = sp_fail(err, SP_ERR_IO, "store %s: put '%s': cannot read %s: %s", s->url, key,
                         path, r < 0 ? strerror(errno) : "the file shrank while reading");
            break;
        }
        digest_update(&d, buf, (size_t)r);
        done += r;
    }
    if (rc == SP_OK && digest_final(&d, sha_hex, md5_b64) != 0)
        rc = sp_fail(err, SP_ERR_NOMEM, "store %s: put '%s': cannot compute the checksums of %s",
                     s->url, key, path);
    digest_free(&d);
    free(buf);
    return rc;
}

static void abort_upload(store *s, const char *key, const char *obj, const char *upload_id,
                         const char *upload_q)
{
    sp_error e;
    s3_call c = {.method = "DELETE", .op = "abort multipart upload", .key = key, .obj = obj,
                 .query = upload_q, .body = {.fd = -1}, .ok404 = true, .cleanup = true};
    if (perform(s, &c, &e) != SP_OK)
        sp_log(SP_LOG_ERROR, "%s; upload id %s: its parts stay on the server until the next "
               "run sweeps it (DEBRIS_MAX_AGE) or a lifecycle rule removes it", e.msg,
               upload_id);
    else
        sp_cancel_note("aborted the multipart upload of %s/%s", s->url, key);
    call_free(&c);
}

/* A CompleteMultipartUpload sent more than once (its answer lost: a reset
 * or timeout after the server acted; the retry is ours or libcurl's own on a
 * reused connection) whose last answer is NoSuchUpload: an earlier one may
 * have completed the upload, which then no longer exists. As AWS advises,
 * look at the object: it is ours when a HEAD gives the file's size and our
 * x-amz-meta-sha256. True so; else false, with err (the NoSuchUpload from
 * perform) saying what the HEAD found. */
static bool complete_landed(store *s, const char *key, int sends, int64_t size, const char *sha,
                            sp_error *err)
{
    store_stat st = {0};
    sp_error e;
    char found[400];
    if (s3_stat(s, key, true, &st, &e) != SP_OK)
        snprintf(found, sizeof found, "the HEAD to check the object failed: %.300s", e.msg);
    else if (!st.exists)
        snprintf(found, sizeof found, "no object at the key");
    else if (st.size == size && strcmp(st.sha256, sha) == 0) {
        sp_log(SP_LOG_INFO, "store %s: put '%s': CompleteMultipartUpload, sent %d times, last "
               "answered NoSuchUpload, but the object has the file's size (%" PRId64 ") and "
               "SHA-256: an earlier Complete succeeded and its answer was lost", s->url, key,
               sends, size);
        return true;
    } else
        snprintf(found, sizeof found, "the object there is not this file (%" PRId64 " bytes, "
                 "x-amz-meta-sha256 '%s'; the file: %" PRId64 " bytes, %s)", st.size, st.sha256,
                 size, sha);
    char first[SP_ERROR_MSG_MAX];
    memcpy(first, err->msg, sizeof first);
    sp_fail(err, err->code, "%s; Complete was sent %d times, and %s", first, sends, found);
    return false;
}

/* The parts of one upload, shared by its workers: each takes the next part
 * number, hashes that part, then sends it; the first failure stops them. */
typedef struct mp_upload {
    store *s;
    const char *key, *obj, *path, *upload_q;
    int fd;
    int64_t size, part_size;
    int nparts;
    part_info *parts;
    atomic_int next;
    atomic_bool failed;
    pthread_mutex_t lock;
    int rc;
    sp_error err; /* the first failure */
} mp_upload;

static int upload_part(mp_upload *u, int i, sp_error *err)
{
    int64_t off = (int64_t)i * u->part_size;
    int64_t len = u->size - off < u->part_size ? u->size - off : u->part_size;
    char sha[65], md5[25], what[48], q[1200];
    SP_TRY(hash_range(u->s, u->key, u->path, u->fd, off, len, sha, md5, err));
    snprintf(what, sizeof what, "put (part %d of %d)", i + 1, u->nparts);
    if (snprintf(q, sizeof q, "partNumber=%d&%s", i + 1, u->upload_q) >= (int)sizeof q)
        return sp_fail(err, SP_ERR_NET, "store %s: put '%s': the upload id is too long",
                       u->s->url, u->key);
    s3_call c = {.method = "PUT", .op = what, .key = u->key, .obj = u->obj, .query = q,
                 .body = {.fd = u->fd, .off = off, .len = len},
                 .payload_sha256 = sha, .content_md5 = md5};
    int rc = perform(u->s, &c, err);
    if (rc == SP_OK && !c.etag[0])
        rc = sp_fail(err, SP_ERR_NET, "store %s: %s '%s': no ETag in the answer (bucket %s, "
                     "endpoint %s)", u->s->url, what, u->key, S3(u->s)->bucket,
                     S3(u->s)->endpoint);
    if (rc == SP_OK)
        copy_view(u->parts[i].etag, sizeof u->parts[i].etag, c.etag, strlen(c.etag));
    call_free(&c);
    return rc;
}

static void *part_worker(void *arg)
{
    mp_upload *u = arg;
    sp_error e;
    while (!atomic_load(&u->failed)) {
        int i = atomic_fetch_add(&u->next, 1);
        if (i >= u->nparts)
            break;
        int rc = upload_part(u, i, &e);
        if (rc != SP_OK) {
            pthread_mutex_lock(&u->lock);
            if (u->rc == SP_OK) {
                u->rc = rc;
                u->err = e;
            }
            pthread_mutex_unlock(&u->lock);
            atomic_store(&u->failed, true);
        }
    }
    return NULL;
}

/* CreateMultipartUpload, with the whole file's SHA-256 as the object's
 * metadata (it must be given now, not at Complete). upload_id gets S3's id. */
static int create_upload(store *s, const char *key, const char *obj, const char *whole_sha,
                         char *upload_id, size_t idsz, sp_error *err)
{
    s3_store *s3 = S3(s);
    s3_call init = {.method = "POST", .op = "put (create multipart upload)", .key = key,
                    .obj = obj, .query = "uploads=", .body = {.fd = -1},
                    .content_type = "application/octet-stream", .meta_sha256 = whole_sha};
    int rc = perform(s, &init, err);
    if (rc == SP_OK) {
        const char *b = (const char *)init.resp.data;
        if (!b || s3_xml_find(b, init.resp.len, "UploadId", upload_id, idsz) != 1 ||
            !upload_id[0])
            rc = sp_fail(err, SP_ERR_NET, "store %s: put '%s': no UploadId in the answer to "
                         "CreateMultipartUpload (bucket %s, endpoint %s)", s->url, key,
                         s3->bucket, s3->endpoint);
    }
    call_free(&init);
    return rc;
}

/* Every part sent by up to S3_UPLOAD_THREADS workers (this thread is one);
 * the first failure stops them and is the result. u->parts gets the ETags. */
static int upload_parts(mp_upload *u, sp_error *err)
{
    atomic_init(&u->next, 0);
    atomic_init(&u->failed, false);
    pthread_mutex_init(&u->lock, NULL);
    pthread_t th[S3_UPLOAD_THREADS];
    int nth = 0;
    for (int t = 1; t < S3_UPLOAD_THREADS && t < u->nparts; t++)
        if (pthread_create(&th[nth], NULL, part_worker, u) == 0)
            nth++; /* fewer threads is slower, not wrong */
    part_worker(u);
    for (int t = 0; t < nth; t++)
        pthread_join(th[t], NULL);
    pthread_mutex_destroy(&u->lock);
    if (u->rc != SP_OK)
        *err = u->err;
    return u->rc;
}

/* The CompleteMultipartUpload body: each part's number and ETag (escaped:
 * the ETag is the server's text). */
static void complete_xml(sp_buf *xml, const part_info *parts, int nparts)
{
    sp_buf_puts(xml, "<CompleteMultipartUpload>");
    for (int i = 0; i < nparts; i++) {
        sp_buf_printf(xml, "<Part><PartNumber>%d</PartNumber><ETag>", i + 1);
        for (const char *e = parts[i].etag; *e; e++) {
            if (*e == '"')
                sp_buf_puts(xml, "&quot;");
            else if (*e == '&')
                sp_buf_puts(xml, "&amp;");
            else if (*e == '<')
                sp_buf_puts(xml, "&lt;");
            else
                sp_buf_putc(xml, (unsigned char)*e);
        }
        sp_buf_puts(xml, "</ETag></Part>");
    }
    sp_buf_puts(xml, "</CompleteMultipartUpload>");
}

/* CompleteMultipartUpload. A Complete that was sent again and then answered
 * NoSuchUpload may have landed the first time: *completed says the object
 * there is this file (complete_landed), which is a success. */
static int complete_upload(mp_upload *u, const sp_buf *xml, const char *whole_sha,
                           bool *completed, sp_error *err)
{
    store *s = u->s;
    s3_store *s3 = S3(s);
    char xsha[65], xmd5[25];
    if (xml->broken || digest_mem(xml->data, xml->len, xsha, xmd5) != 0)
        return sp_fail(err, SP_ERR_NOMEM, "store %s: put '%s': out of memory", s->url, u->key);
    s3_call c = {.method = "POST", .op = "put (complete multipart upload)", .key = u->key,
                 .obj = u->obj, .query = u->upload_q,
                 .body = {.fd = -1, .mem = xml->data, .len = (int64_t)xml->len},
                 .payload_sha256 = xsha, .content_md5 = xmd5,
                 .content_type = "application/xml", .body_error = true};
    int rc = perform(s, &c, err);
    const char *b = (const char *)c.resp.data;
    if (rc != SP_OK && c.body.sends > 1 && strcmp(c.code, "NoSuchUpload") == 0) {
        if (complete_landed(s, u->key, c.body.sends, u->size, whole_sha, err))
            *completed = true;
    } else if (rc == SP_OK && (!b || !memmem(b, c.resp.len, "CompleteMultipartUploadResult", 29)))
        rc = sp_fail(err, SP_ERR_NET, "store %s: put '%s': the answer to "
                     "CompleteMultipartUpload is not a result (bucket %s, endpoint %s)",
                     s->url, u->key, s3->bucket, s3->endpoint);
    call_free(&c);
    return rc;
}

static int put_multipart(store *s, const char *key, const char *obj, const char *path, int fd,
                         int64_t size, sp_error *err)
{
    s3_store *s3 = S3(s);
    /* Parts of S3_PART_SIZE_MB, doubled until S3's 10,000 parts hold the file. */
    int64_t part_size = s3->part_size;
    while ((size + part_size - 1) / part_size > S3_PARTS_MAX)
        part_size *= 2;
    int nparts = (int)((size + part_size - 1) / part_size);
    part_info *parts = calloc((size_t)nparts, sizeof *parts);
    if (!parts)
        return sp_fail(err, SP_ERR_NOMEM, "store %s: put '%s': out of memory", s->url, key);
    char whole_sha[65], upload_id[1024] = "";
    bool completed = false; /* a lost answer to Complete, whose object checks out */
    sp_buf xml, uq;
    sp_buf_init(&xml, (size_t)S3_PARTS_MAX * 300);
    sp_buf_init(&uq, 1100);
    int rc = hash_range(s, key, path, fd, 0, size, whole_sha, NULL, err);
    if (rc != SP_OK)
        goto out;
    rc = create_upload(s, key, obj, whole_sha, upload_id, sizeof upload_id, err);
    if (rc != SP_OK)
        goto out;
    sp_buf_puts(&uq, "uploadId=");
    sigv4_uri_encode(&uq, upload_id, strlen(upload_id), false);
    sp_buf_putc(&uq, '\0');
    if (uq.broken) {
        rc = sp_fail(err, SP_ERR_NET, "store %s: put '%s': the upload id is too long", s->url,
                     key);
        goto out;
    }
    const char *upload_q = (const char *)uq.data;
    sp_log(SP_LOG_DEBUG, "store %s: put '%s': multipart upload of %" PRId64 " bytes in %d parts",
           s->url, key, size, nparts);
    mp_upload u = {.s = s, .key = key, .obj = obj, .path = path, .upload_q = upload_q, .fd = fd,
                   .size = size, .part_size = part_size, .nparts = nparts, .parts = parts,
                   .rc = SP_OK};
    rc = upload_parts(&u, err);
    if (rc == SP_OK) {
        complete_xml(&xml, parts, nparts);
        rc = complete_upload(&u, &xml, whole_sha, &completed, err);
    }
    /* Nothing of a failed upload may stay billed in the bucket. */
    if (completed)
        rc = SP_OK;
    else if (rc != SP_OK)
        abort_upload(s, key, obj, upload_id, upload_q);
out:
    sp_buf_free(&uq);
    sp_buf_free(&xml);
    free(parts);
    return rc;
}

static int s3_put_file(store *s, const char *key, const char *local_path, unsigned flags,
                       sp_error *err)
{
    char obj[STORE_KEY_MAX + 1];
    SP_TRY(full_key(s, key, obj, "put", err));
    int fd = open(local_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sp_fail(err, SP_ERR_IO, "store %s: put '%s': cannot open %s: %s", s->url, key,
                       local_path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = errno;
        close(fd);
        return sp_fail(err, SP_ERR_IO, "store %s: put '%s': %s is not a readable regular file%s%s",
                       s->url, key, local_path, e ? ": " : "", e ? strerror(e) : "");
    }
    int64_t size = (int64_t)st.st_size;
    int rc;
    if (size > S3(s)->part_size) {
        rc = put_multipart(s, key, obj, local_path, fd, size, err);
    } else {
        char sha[65], md5[25];
        rc = hash_range(s, key, local_path, fd, 0, size, sha, md5, err);
        if (rc == SP_OK) {
            s3_body b = {.fd = fd, .off = 0, .len = size};
            rc = put_single(s, key, obj, b, sha, md5, err);
        }
    }
    close(fd);
    if (rc == SP_OK && (flags & STORE_PUT_MOVE))
        unlink(local_path); /* consumed, as the contract allows */
    return rc;
}

/* ---- debris: multipart uploads left open ------------------------------------ */

/* "2026-12-06T08:39:30.000Z" → seconds since the epoch; -1 when malformed. */
static int64_t parse_initiated(const char *s)
{
    struct tm tm = {0};
    char z = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    z = s[strlen(s) - 1];
    if (z != 'Z')
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm);
}

typedef struct sweep_ctx {
    store *s;
    int64_t max_age;
    store_sweep_fn fn;
    void *ctx;
    int *removed;
    sp_error *err;
} sweep_ctx;

/* Abort one listed upload when it is older than max_age. */
static int sweep_upload(void *arg, const char *key, const char *id, const char *initiated)
{
    sweep_ctx *w = arg;
    store *s = w->s;
    s3_store *s3 = S3(s);
    if (!key[0] || !id[0] || !initiated[0])
        return sp_fail(w->err, SP_ERR_NET, "store %s: sweep: a malformed <Upload> in the answer "
                       "to ListMultipartUploads (bucket %s, endpoint %s)", s->url, s3->bucket,
                       s3->endpoint);
    int64_t t = parse_initiated(initiated);
    if (strncmp(key, s3->prefix, strlen(s3->prefix)) != 0 || t < 0 ||
        (int64_t)time(NULL) - t <= w->max_age)
        return SP_OK; /* not ours, or young enough to belong to a live upload */
    sp_buf q;
    sp_buf_init(&q, 2048);
    sp_buf_puts(&q, "uploadId=");
    sigv4_uri_encode(&q, id, strlen(id), false);
    sp_buf_putc(&q, '\0');
    const char *rel = key + strlen(s3->prefix);
    s3_call c = {.method = "DELETE", .op = "sweep: abort multipart upload", .key = rel,
                 .obj = key, .query = (const char *)q.data, .body = {.fd = -1}, .ok404 = true};
    int rc = q.broken ? sp_fail(w->err, SP_ERR_NOMEM, "store %s: sweep: out of memory", s->url)
                      : perform(s, &c, w->err);
    call_free(&c);
    sp_buf_free(&q);
    if (rc == SP_OK) {
        char what[STORE_KEY_MAX + 200];
        snprintf(what, sizeof what, "aborted the multipart upload of %s/%s started %s", s->url,
                 rel, initiated);
        w->fn(w->ctx, what);
        (*w->removed)++;
    }
    return rc;
}

static int s3_sweep(store *s, int64_t max_age, store_sweep_fn fn, void *ctx, int *removed,
                    sp_error *err)
{
    s3_store *s3 = S3(s);
    sweep_ctx w = {s, max_age, fn, ctx, removed, err};
    char *key = malloc(STORE_KEY_MAX + 8), *kmark = calloc(1, STORE_KEY_MAX + 8);
    char umark[1024] = "", (*more)[1024] = malloc(3 * sizeof *more);
    sp_buf q;
    sp_buf_init(&q, 64 << 10);
    int rc = key && kmark && more ? SP_OK
                                  : sp_fail(err, SP_ERR_NOMEM, "store %s: sweep: out of memory",
                                            s->url);
    for (int page = 0; rc == SP_OK && page < 10000; page++) {
        sp_buf_reset(&q);
        if (kmark[0]) {
            sp_buf_puts(&q, "key-marker=");
            sigv4_uri_encode(&q, kmark, strlen(kmark), false);
            sp_buf_putc(&q, '&');
        }
        sp_buf_puts(&q, "prefix=");
        sigv4_uri_encode(&q, s3->prefix, strlen(s3->prefix), false);
        if (umark[0]) {
            sp_buf_puts(&q, "&upload-id-marker=");
            sigv4_uri_encode(&q, umark, strlen(umark), false);
        }
        sp_buf_puts(&q, "&uploads=");
        sp_buf_putc(&q, '\0');
        s3_call c = {.method = "GET", .op = "sweep: list multipart uploads", .key = "",
                     .query = (const char *)q.data, .body = {.fd = -1}};
        if ((rc = perform(s, &c, err)) != SP_OK) {
            call_free(&c);
            break;
        }
        const char *b = (const char *)c.resp.data;
        int xr = b ? s3_xml_uploads(b, c.resp.len, sweep_upload, &w, key, STORE_KEY_MAX + 1, more)
                   : S3_XML_NOT_LIST;
        call_free(&c);
        if (xr == S3_XML_NOT_LIST || xr == S3_XML_BAD) {
            rc = sp_fail(err, SP_ERR_NET, "store %s: sweep: the answer is not a "
                         "ListMultipartUploads result%s (bucket %s, endpoint %s)", s->url,
                         xr == S3_XML_BAD ? " (not well-formed)" : "", s3->bucket, s3->endpoint);
            break;
        }
        if ((rc = xr) != SP_OK || strcmp(more[0], "true") != 0)
            break;
        if (!more[1][0] || (strcmp(more[1], kmark) == 0 && strcmp(more[2], umark) == 0)) {
            rc = sp_fail(err, SP_ERR_NET, "store %s: sweep: a truncated ListMultipartUploads "
                         "page without new markers (bucket %s, endpoint %s)", s->url,
                         s3->bucket, s3->endpoint);
            break;
        }
        snprintf(kmark, STORE_KEY_MAX + 8, "%s", more[1]);
        snprintf(umark, sizeof umark, "%s", more[2]);
    }
    free(key);
    free(kmark);
    free(more);
    sp_buf_free(&q);
    return rc;
}

/* ---- open, close ------------------------------------------------------------ */

static void s3_close(store *s)
{
    s3_store *s3 = S3(s);
    if (!s3)
        return;
    for (int i = 0; i < s3->nidle; i++)
        curl_easy_cleanup(s3->idle[i]);
    pthread_mutex_destroy(&s3->lock);
    aws_chain_free(s3->chain);
    OPENSSL_cleanse(&s3->aws, sizeof s3->aws);
    free(s3);
    s->impl = NULL;
}

static void s3_set_time_limit(store *s, long ms)
{
    S3(s)->time_limit_ms = ms > 0 ? ms : 0;
}

static const store_ops s3_ops = {
    .name = "s3",
    .list = s3_list,
    .stat = s3_stat,
    .get = s3_get,
    .get_file = s3_get_file,
    .put_file = s3_put_file,
    .put_bytes = s3_put_bytes,
    .del = s3_delete,
    .probe_read = s3_probe_read,
    .set_time_limit = s3_set_time_limit,
    .local_root = NULL,
    .sweep = s3_sweep,
    .close = s3_close,
};

/* A whole number setting in [lo, hi], or def when unset. */
static int int_setting(store_env_fn env, void *ctx, const char *name, long def, long lo, long hi,
                       long *out, sp_error *err)
{
    const char *v = env(ctx, name);
    *out = def;
    if (!v || !*v)
        return SP_OK;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (*end || errno || x < lo || x > hi)
        return sp_fail(err, SP_ERR_USAGE, "%s: '%.40s' is not a whole number from %ld to %ld",
                       name, v, lo, hi);
    *out = x;
    return SP_OK;
}

static bool valid_bucket(const char *b, size_t n)
{
    if (n < 3 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '-' ||
              b[i] == '.'))
            return false;
    return true;
}

/* Split an endpoint URL into base URL, host and base path. */
static int parse_endpoint(s3_store *s3, const char *ep, const char *url, sp_error *err)
{
    const char *auth;
    if (strncasecmp(ep, "http://", 7) == 0)
        auth = ep + 7;
    else if (strncasecmp(ep, "https://", 8) == 0)
        auth = ep + 8;
    else
        return sp_fail(err, SP_ERR_USAGE, "store %s: the S3 endpoint '%.100s' is not an http:// "
                       "or https:// URL", url, ep);
    size_t al = strcspn(auth, "/?#");
    if (al == 0 || memchr(auth, '@', al))
        return sp_fail(err, SP_ERR_USAGE, "store %s: the S3 endpoint has no host, or carries "
                       "credentials (put them in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)", url);
    const char *path = auth + al;
    if (strpbrk(path, "?#"))
        return sp_fail(err, SP_ERR_USAGE, "store %s: the S3 endpoint '%.100s' has a query or "
                       "fragment", url, ep);
    size_t pl = strlen(path);
    while (pl > 0 && path[pl - 1] == '/')
        pl--;
    if (al >= sizeof s3->host)
        return sp_fail(err, SP_ERR_USAGE, "store %s: the S3 endpoint host is too long", url);
    memcpy(s3->host, auth, al);
    s3->host[al] = '\0';
    for (char *h = s3->host; *h; h++)
        if (*h >= 'A' && *h <= 'Z')
            *h = (char)(*h - 'A' + 'a');
    int n1 = snprintf(s3->url_base, sizeof s3->url_base, "%.*s", (int)(auth - ep + al), ep);
    int n2 = snprintf(s3->path_base, sizeof s3->path_base, "%.*s/%s", (int)pl, path, s3->bucket);
    int n3 = snprintf(s3->endpoint, sizeof s3->endpoint, "%.*s%.*s", (int)(auth - ep + al), ep,
                      (int)pl, path);
    if (n1 < 0 || n2 < 0 || n3 < 0 || n1 >= (int)sizeof s3->url_base ||
        n2 >= (int)sizeof s3->path_base || n3 >= (int)sizeof s3->endpoint)
        return sp_fail(err, SP_ERR_USAGE, "store %s: the S3 endpoint is too long", url);
    return SP_OK;
}

int store_s3_init(store *s, const char *bp, store_env_fn env, void *ctx, sp_error *err)
{
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return sp_fail(err, SP_ERR_INTERNAL, "store %s: libcurl failed to initialise", s->url);
    size_t bl = strcspn(bp, "/");
    if (!valid_bucket(bp, bl))
        return sp_fail(err, SP_ERR_USAGE, "store %s: '%.*s' is not a valid S3 bucket name (3-63 "
                       "of a-z 0-9 . -)", s->url, (int)(bl > 80 ? 80 : bl), bp);
    s3_store *s3 = calloc(1, sizeof *s3);
    if (!s3)
        return sp_fail(err, SP_ERR_NOMEM, "store %s: out of memory", s->url);
    memcpy(s3->bucket, bp, bl);
    const char *p = bp + bl;
    while (*p == '/')
        p++;
    size_t pl = strlen(p);
    while (pl > 0 && p[pl - 1] == '/')
        pl--;
    int rc = SP_OK;
    if (pl > 0) {
        char tmp[STORE_KEY_MAX + 1];
        if (pl > STORE_KEY_MAX - 1) {
            rc = sp_fail(err, SP_ERR_USAGE, "store %.80s…: the key prefix is too long", s->url);
            goto fail;
        }
        memcpy(tmp, p, pl);
        tmp[pl] = '\0';
        if (store_check_key(tmp, err) != SP_OK) {
            rc = sp_error_prefix(err, "store %s: prefix", s->url);
            goto fail;
        }
        snprintf(s3->prefix, sizeof s3->prefix, "%s/", tmp);
    }
    if ((rc = aws_settings_resolve(&s3->aws, env, ctx, err)) != SP_OK ||
        (rc = aws_chain_open(&s3->chain, env, ctx, err)) != SP_OK) {
        sp_error_prefix(err, "store %s", s->url);
        goto fail;
    }
    long part_mb, attempts, timeout;
    if ((rc = int_setting(env, ctx, "S3_PART_SIZE_MB", S3_DEFAULT_PART_MB, S3_MIN_PART_MB,
                          S3_MAX_PART_MB, &part_mb, err)) != SP_OK ||
        (rc = int_setting(env, ctx, "AWS_MAX_ATTEMPTS", S3_DEFAULT_ATTEMPTS, 1, S3_MAX_ATTEMPTS,
                          &attempts, err)) != SP_OK ||
        (rc = int_setting(env, ctx, "S3_READ_TIMEOUT", S3_DEFAULT_READ_TIMEOUT, 1, 3600,
                          &timeout, err)) != SP_OK) {
        sp_error_prefix(err, "store %s", s->url);
        goto fail;
    }
    s3->part_size = (int64_t)part_mb << 20;
    s3->max_attempts = (int)attempts;
    s3->read_timeout = timeout;
    if (s3->aws.endpoint[0]) {
        if ((rc = parse_endpoint(s3, s3->aws.endpoint, s->url, err)) != SP_OK)
            goto fail;
    } else {
        /* AWS: virtual-hosted style, except for dotted names (which do not
         * match the wildcard certificate) that stay path-style. */
        bool dotted = strchr(s3->bucket, '.') != NULL;
        if (dotted)
            snprintf(s3->host, sizeof s3->host, "s3.%s.amazonaws.com", s3->aws.region);
        else
            snprintf(s3->host, sizeof s3->host, "%s.s3.%s.amazonaws.com", s3->bucket,
                     s3->aws.region);
        snprintf(s3->url_base, sizeof s3->url_base, "https://%s", s3->host);
        snprintf(s3->endpoint, sizeof s3->endpoint, "https://%s", s3->host);
        if (dotted)
            snprintf(s3->path_base, sizeof s3->path_base, "/%s", s3->bucket);
    }
    pthread_mutex_init(&s3->lock, NULL);
    s->ops = &s3_ops;
    s->impl = s3;
    return SP_OK;
fail:
    aws_chain_free(s3->chain);
    OPENSSL_cleanse(&s3->aws, sizeof s3->aws);
    free(s3);
    return rc;
}
