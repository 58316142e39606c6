/* sigv4.c — AWS Signature Version 4 (see sigv4.h): canonical request →
 * string to sign → signature with a key derived from the secret by four
 * HMAC-SHA256 steps. Sits under s3.c, which builds canonical URIs and
 * queries with sigv4_uri_encode so what is signed is exactly what is sent.
 * The secret and the derived key live only on this file's stack. */
#include "sigv4.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../util/sha256.h"

bool sigv4_hmac(const void *key, size_t keylen, const void *msg, size_t msglen,
                unsigned char out[32])
{
    unsigned int len = 32;
    if (keylen > INT_MAX || !HMAC(EVP_sha256(), key, (int)keylen, msg, msglen, out, &len)) {
        memset(out, 0, 32);
        return false;
    }
    return true;
}

void sigv4_hex(const unsigned char *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}


void sigv4_uri_encode(sp_buf *out, const char *s, size_t n, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~' || (c == '/' && keep_slash)) {
            sp_buf_putc(out, c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            sp_buf_append(out, e, 3);
        }
    }
}

void sigv4_amz_date(long long unix_time, char out[17])
{
    time_t t = (time_t)unix_time;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static int cmp_header(const void *a, const void *b)
{
    return strcmp(((const sigv4_header *)a)->name, ((const sigv4_header *)b)->name);
}

/* Append a header value trimmed, with inner runs of spaces folded to one. */
static void put_trimmed(sp_buf *b, const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    bool space = false;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (c == ' ' || c == '\t') {
            space = true;
            continue;
        }
        if (space)
            sp_buf_putc(b, ' ');
        space = false;
        sp_buf_putc(b, (unsigned char)c);
    }
}

static bool valid_date(const char *d)
{
    if (!d || strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z')
        return false;
    for (int i = 0; i < 15; i++)
        if (i != 8 && (d[i] < '0' || d[i] > '9'))
            return false;
    return true;
}

/* The signature of a request whose canonical query and headers are given:
 * canonical request → string to sign → HMAC chain. sighex[65] gets the hex
 * signature, signed_names the ';'-joined header names (NUL-terminated),
 * scope the credential scope. Appends the canonical request and string to
 * sign to canonical / to_sign when they are not NULL. 0 or -1. */
static int sign_core(const sigv4_request *r, sp_buf *signed_names, char scope[160],
                     char sighex[65], sp_buf *canonical, sp_buf *to_sign)
{
    if (r->nheaders > SIGV4_MAX_HEADERS || !valid_date(r->amz_date) || !r->payload_sha256 ||
        !r->secret_key || !r->access_key)
        return -1;
    sigv4_header h[SIGV4_MAX_HEADERS];
    memcpy(h, r->headers, r->nheaders * sizeof *h);
    qsort(h, r->nheaders, sizeof *h, cmp_header);

    sp_buf creq, sts;
    sp_buf_init(&creq, (size_t)1 << 20);
    sp_buf_init(&sts, 4096);
    sp_buf_printf(&creq, "%s\n%s\n%s\n", r->method, r->canonical_uri,
                  r->canonical_query ? r->canonical_query : "");
    for (size_t i = 0; i < r->nheaders; i++) {
        sp_buf_printf(&creq, "%s:", h[i].name);
        put_trimmed(&creq, h[i].value ? h[i].value : "");
        sp_buf_putc(&creq, '\n');
        if (i)
            sp_buf_putc(signed_names, ';');
        sp_buf_puts(signed_names, h[i].name);
    }
    sp_buf_putc(signed_names, '\0');
    sp_buf_putc(&creq, '\n');
    sp_buf_printf(&creq, "%s\n%s", signed_names->broken ? "" : (char *)signed_names->data,
                  r->payload_sha256);

    char creq_hash[65];
    int sl = snprintf(scope, 160, "%.8s/%s/%s/aws4_request", r->amz_date, r->region,
                      r->service);
    int rc = -1;
    if (creq.broken || signed_names->broken || sl < 0 || sl >= 160)
        goto out;
    sp_sha256 digest;
    sp_error e;
    if (sp_sha256_init(&digest, &e) != SP_OK)
        goto out;
    sp_sha256_update(&digest, creq.data, creq.len);
    sp_sha256_final(&digest, creq_hash);
    sp_buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s\n%s", r->amz_date, scope, creq_hash);
    if (sts.broken)
        goto out;

    /* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
     * "aws4_request") */
    unsigned char k[32];
    size_t secl = strlen(r->secret_key);
    char *ksecret = malloc(secl + 5);
    if (!ksecret)
        goto out;
    memcpy(ksecret, "AWS4", 4);
    memcpy(ksecret + 4, r->secret_key, secl + 1);
    bool hmac_ok = sigv4_hmac(ksecret, secl + 4, r->amz_date, 8, k);
    OPENSSL_cleanse(ksecret, secl + 4);
    free(ksecret);
    hmac_ok = hmac_ok && sigv4_hmac(k, 32, r->region, strlen(r->region), k) &&
              sigv4_hmac(k, 32, r->service, strlen(r->service), k) &&
              sigv4_hmac(k, 32, "aws4_request", 12, k);
    unsigned char sig[32];
    hmac_ok = hmac_ok && sigv4_hmac(k, 32, sts.data, sts.len, sig);
    OPENSSL_cleanse(k, sizeof k);
    if (!hmac_ok) /* a signature from a zero key would only earn a 403 */
        goto out;
    sigv4_hex(sig, 32, sighex);
    if (canonical)
        sp_buf_append(canonical, creq.data, creq.len);
    if (to_sign)
        sp_buf_append(to_sign, sts.data, sts.len);
    rc = 0;
out:
    sp_buf_free(&creq);
    sp_buf_free(&sts);
    return rc;
}

int sigv4_sign(const sigv4_request *r, char *auth, size_t authsz, sp_buf *canonical,
               sp_buf *to_sign)
{
    sp_buf signed_names;
    sp_buf_init(&signed_names, 4096);
    char scope[160], sighex[65];
    int rc = sign_core(r, &signed_names, scope, sighex, canonical, to_sign);
    if (rc == 0) {
        int n = snprintf(auth, authsz,
                         "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                         r->access_key, scope, (char *)signed_names.data, sighex);
        rc = n < 0 || (size_t)n >= authsz ? -1 : 0;
    }
    sp_buf_free(&signed_names);
    return rc;
}

typedef struct qparam {
    char *name, *value; /* encoded */
} qparam;

static int cmp_param(const void *a, const void *b)
{
    const qparam *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

static char *encoded(const char *s)
{
    sp_buf b;
    sp_buf_init(&b, 1 << 16);
    sigv4_uri_encode(&b, s, strlen(s), false);
    sp_buf_putc(&b, '\0');
    if (b.broken) {
        sp_buf_free(&b);
        return NULL;
    }
    return (char *)b.data;
}

int sigv4_presign(const sigv4_request *r, const sigv4_param *params, size_t nparams,
                  const char *session_token, long expires, sp_buf *query, sp_buf *canonical)
{
    if (nparams > SIGV4_MAX_PARAMS || expires < 1 || expires > 604800 ||
        !valid_date(r->amz_date) || !r->access_key)
        return -1;
    /* The signed header names go in the query before signing. */
    sigv4_header h[SIGV4_MAX_HEADERS];
    if (r->nheaders > SIGV4_MAX_HEADERS)
        return -1;
    memcpy(h, r->headers, r->nheaders * sizeof *h);
    qsort(h, r->nheaders, sizeof *h, cmp_header);
    sp_buf names;
    sp_buf_init(&names, 4096);
    for (size_t i = 0; i < r->nheaders; i++) {
        if (i)
            sp_buf_putc(&names, ';');
        sp_buf_puts(&names, h[i].name);
    }
    sp_buf_putc(&names, '\0');
    char credential[512], exp[24];
    int cl = snprintf(credential, sizeof credential, "%s/%.8s/%s/%s/aws4_request", r->access_key,
                      r->amz_date, r->region, r->service);
    snprintf(exp, sizeof exp, "%ld", expires);

    qparam q[SIGV4_MAX_PARAMS + 6];
    size_t nq = 0;
    const char *fixed[6][2] = {{"X-Amz-Algorithm", "AWS4-HMAC-SHA256"},
                               {"X-Amz-Credential", credential},
                               {"X-Amz-Date", r->amz_date},
                               {"X-Amz-Expires", exp},
                               {"X-Amz-SignedHeaders", names.broken ? "" : (char *)names.data},
                               {"X-Amz-Security-Token", session_token}};
    bool bad = names.broken || cl < 0 || cl >= (int)sizeof credential;
    for (size_t i = 0; i < nparams + 6 && !bad; i++) {
        const char *n = i < nparams ? params[i].name : fixed[i - nparams][0];
        const char *v = i < nparams ? params[i].value : fixed[i - nparams][1];
        if (!v || (i >= nparams && i - nparams == 5 && !*v))
            continue; /* no session token */
        q[nq].name = encoded(n);
        q[nq].value = encoded(v);
        bad = !q[nq].name || !q[nq].value;
        nq++;
    }
    sp_buf cq;
    sp_buf_init(&cq, 1 << 16);
    if (!bad) {
        qsort(q, nq, sizeof *q, cmp_param);
        for (size_t i = 0; i < nq; i++)
            sp_buf_printf(&cq, "%s%s=%s", i ? "&" : "", q[i].name, q[i].value);
        sp_buf_putc(&cq, '\0');
    }
    for (size_t i = 0; i < nq; i++) {
        free(q[i].name);
        OPENSSL_cleanse(q[i].value, strlen(q[i].value));
        free(q[i].value);
    }
    int rc = -1;
    if (!bad && !cq.broken) {
        sigv4_request r2 = *r;
        r2.canonical_query = (const char *)cq.data;
        sp_buf signed_names;
        sp_buf_init(&signed_names, 4096);
        char scope[160], sighex[65];
        rc = sign_core(&r2, &signed_names, scope, sighex, canonical, NULL);
        sp_buf_free(&signed_names);
        if (rc == 0) {
            sp_buf_append(query, cq.data, cq.len - 1);
            sp_buf_printf(query, "&X-Amz-Signature=%s", sighex);
            rc = query->broken ? -1 : 0;
        }
    }
    if (cq.data)
        OPENSSL_cleanse(cq.data, cq.len);
    sp_buf_free(&cq);
    sp_buf_free(&names);
    return rc;
}
