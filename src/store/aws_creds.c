/* aws_creds.c — the AWS credential chain (see store.h): which source is in
 * use is decided once at open from the settings alone (environment keys →
 * web identity → the profile → container credentials → IMDSv2), then
 * credentials are fetched on first use and refreshed five minutes before
 * they expire, under a lock, so the S3 backend's threads can ask before
 * every request. Talks to STS, the container endpoint and the instance
 * metadata service through aws_http.c; never logs a key, token or body. */
#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../util/log.h"
#include "../util/sha256.h"
#include "aws_config.h"
#include "aws_http.h"
#include "sigv4.h"
#include "store.h"

enum {
    REFRESH_MARGIN_S = 300,  /* refresh temporary credentials this long before they expire */
    IMDS_TOKEN_TTL_S = 21600,
    AWS_CALL_ATTEMPTS = 3,   /* STS, container endpoint */
    PROCESS_OUTPUT_MAX = 64 << 10,
};

typedef enum cred_kind {
    SRC_ENV,
    SRC_WEB_IDENTITY,   /* environment or profile: token file + role ARN → STS */
    SRC_PROFILE_KEYS,
    SRC_PROFILE_ROLE,   /* role_arn + source_profile → STS AssumeRole */
    SRC_PROFILE_PROCESS,
    SRC_CONTAINER,
    SRC_IMDS,
} cred_kind;

struct aws_chain {
    pthread_mutex_t lock;
    cred_kind kind;
    char source[8192];         /* for people: which source, where (no secret) */
    aws_settings set;
    char sts_url[1024];        /* "https://sts.REGION.amazonaws.com" or an override */
    char role_arn[2048];
    char session_name[128];
    char external_id[1300];
    char token_file[1024];     /* web identity token file */
    /* SRC_PROFILE_ROLE: the source profile's keys, or its credential_process */
    aws_creds base;
    char process_cmd[4096];    /* SRC_PROFILE_PROCESS, or the role's source */
    char container_url[2048];
    char container_token[4096];
    char container_token_file[1024];
    char imds_url[1024];
    char imds_token[1024];
    long long imds_token_expires;
    aws_creds cur;
    bool have;
};

static long long now_s(void)
{
    return (long long)time(NULL);
}

static void wipe_creds(aws_creds *c)
{
    OPENSSL_cleanse(c, sizeof *c);
}

static void register_secrets(const aws_creds *c)
{
    sp_log_add_secret(c->secret_key);
    sp_log_add_secret(c->session_token);
}

/* "value" with a header-safe check: no CR, LF or NUL may reach a header. */
static bool header_safe(const char *v)
{
    return strpbrk(v, "\r\n") == NULL;
}

/* ---- the calls -------------------------------------------------------------- */

/* The error of a non-2xx STS answer: its XML <Code> and <Message>. */
static int sts_failure(const char *what, const char *origin, const aws_http_resp *resp,
                       sp_error *err)
{
    char code[128] = "", msg[512] = "";
    char *outs[2] = {code, msg};
    const size_t sz[2] = {sizeof code, sizeof msg};
    static const char *const names[2] = {"Code", "Message"};
    sp_error ignored;
    aws_xml_fields((const char *)resp->body.data, resp->body.len, names, 2, outs, sz, what,
                   &ignored);
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    bool retry = resp->status >= 500 || strcmp(code, "Throttling") == 0 ||
                 strcmp(code, "IDPCommunicationError") == 0;
    return (retry ? sp_fail_retry : sp_fail)(err, SP_ERR_NET, "%s at %s: HTTP %ld%s%s%s%s", what,
                                             origin, resp->status, code[0] ? " " : "", code,
                                             msg[0] ? ": " : "", msg);
}

/* The Credentials of an STS answer into out. */
static int sts_credentials(const char *what, const aws_http_resp *resp, aws_creds *out,
                           sp_error *err)
{
    char expiration[64];
    char *outs[4] = {out->access_key, out->secret_key, out->session_token, expiration};
    const size_t sz[4] = {sizeof out->access_key, sizeof out->secret_key,
                          sizeof out->session_token, sizeof expiration};
    static const char *const names[4] = {"AccessKeyId", "SecretAccessKey", "SessionToken",
                                         "Expiration"};
    SP_TRY(aws_xml_fields((const char *)resp->body.data, resp->body.len, names, 4, outs, sz, what,
                          err));
    if (!out->access_key[0] || !out->secret_key[0] || !out->session_token[0])
        return sp_fail(err, SP_ERR_NET, "%s: the answer has no Credentials (AccessKeyId, "
                       "SecretAccessKey, SessionToken)", what);
    out->expires = aws_parse_time(expiration);
    if (out->expires < 0)
        return sp_fail(err, SP_ERR_NET, "%s: the Expiration '%.40s' is not an ISO 8601 time",
                       what, expiration);
    return SP_OK;
}

/* Append name=value (form-encoded as AWS's query API reads it). */
static void form_param(sp_buf *b, const char *name, const char *value)
{
    if (b->len)
        sp_buf_putc(b, '&');
    sp_buf_puts(b, name);
    sp_buf_putc(b, '=');
    sigv4_uri_encode(b, value, strlen(value), false);
}

/* POST an STS query-API action. signer: NULL for unsigned calls
 * (AssumeRoleWithWebIdentity), else the credentials that sign it. */
static int sts_call(aws_chain *c, const char *what, const sp_buf *form, const aws_creds *signer,
                    aws_creds *out, sp_error *err)
{
    char origin[300], host[300], amz_date[17], payload[65], auth[1024];
    aws_url_origin(c->sts_url, origin, sizeof origin);
    if (aws_url_authority(c->sts_url, host, sizeof host) != 0)
        return sp_fail(err, SP_ERR_USAGE, "%s: the STS endpoint '%.200s' has no host", what,
                       origin);
    sigv4_amz_date(now_s(), amz_date);
    sp_sha256 h;
    SP_TRY(sp_sha256_init(&h, err));
    sp_sha256_update(&h, form->data, form->len);
    sp_sha256_final(&h, payload);
    const char *ctype = "application/x-www-form-urlencoded; charset=utf-8";
    char hl_host[320], hl_date[40], hl_sha[100], hl_auth[1100], hl_type[100];
    char *hl_token = NULL;
    const char *lines[8];
    size_t nl = 0;
    snprintf(hl_host, sizeof hl_host, "Host: %s", host);
    snprintf(hl_type, sizeof hl_type, "Content-Type: %s", ctype);
    lines[nl++] = hl_host;
    lines[nl++] = hl_type;
    lines[nl++] = "Accept: text/xml";
    if (signer) {
        sigv4_header hs[5] = {{"host", host}, {"content-type", ctype}, {"x-amz-date", amz_date},
                              {"x-amz-content-sha256", payload}};
        size_t nh = 4;
        if (signer->session_token[0])
            hs[nh++] = (sigv4_header){"x-amz-security-token", signer->session_token};
        sigv4_request r = {"POST", "/", "", hs, nh, payload, amz_date, c->set.region, "sts",
                           signer->access_key, signer->secret_key};
        if (sigv4_sign(&r, auth, sizeof auth, NULL, NULL) != 0)
            return sp_fail(err, SP_ERR_INTERNAL, "%s: cannot sign the request", what);
        snprintf(hl_date, sizeof hl_date, "X-Amz-Date: %s", amz_date);
        snprintf(hl_sha, sizeof hl_sha, "X-Amz-Content-Sha256: %s", payload);
        snprintf(hl_auth, sizeof hl_auth, "Authorization: %s", auth);
        lines[nl++] = hl_date;
        lines[nl++] = hl_sha;
        lines[nl++] = hl_auth;
        if (signer->session_token[0]) {
            size_t n = strlen(signer->session_token) + 32;
            hl_token = malloc(n);
            if (!hl_token)
                return sp_fail(err, SP_ERR_NOMEM, "%s: out of memory", what);
            snprintf(hl_token, n, "X-Amz-Security-Token: %s", signer->session_token);
            lines[nl++] = hl_token;
        }
    }
    lines[nl] = NULL;
    aws_http_req req = {.method = "POST", .url = c->sts_url, .headers = lines,
                        .body = (const char *)form->data, .body_len = form->len,
                        .timeout_s = 20, .connect_timeout_s = 5, .ca_bundle = c->set.ca_bundle,
                        .what = what};
    aws_http_resp resp;
    int rc = aws_http_retrying(&req, &resp, AWS_CALL_ATTEMPTS, err);
    if (hl_token) {
        OPENSSL_cleanse(hl_token, strlen(hl_token));
        free(hl_token);
    }
    OPENSSL_cleanse(hl_auth, sizeof hl_auth);
    if (rc == SP_OK && resp.status != 200)
        rc = sts_failure(what, origin, &resp, err);
    else if (rc == SP_OK)
        rc = sts_credentials(what, &resp, out, err);
    aws_http_resp_free(&resp);
    return rc;
}

/* Read a small token file (web identity, container authorization) into out,
 * trailing white space removed. */
static int read_token_file(const char *path, const char *what, char *out, size_t outsz,
                           sp_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return sp_fail(err, SP_ERR_IO, "%s: cannot read the token file %s: %s", what, path,
                       strerror(errno));
    size_t n = fread(out, 1, outsz - 1, f);
    bool more = fgetc(f) != EOF;
    fclose(f);
    out[n] = '\0';
    if (more)
        return sp_fail(err, SP_ERR_LIMIT, "%s: the token file %s is larger than %zu bytes", what,
                       path, outsz - 1);
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
        out[--n] = '\0';
    if (n == 0 || memchr(out, '\0', n))
        return sp_fail(err, SP_ERR_IO, "%s: the token file %s is empty or holds a NUL", what,
                       path);
    return SP_OK;
}

static int fetch_web_identity(aws_chain *c, aws_creds *out, sp_error *err)
{
    char *token = malloc(16384);
    if (!token)
        return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    int rc = read_token_file(c->token_file, "web identity", token, 16384, err);
    if (rc == SP_OK) {
        sp_log_add_secret(token);
        sp_buf form;
        sp_buf_init(&form, 64 << 10);
        form_param(&form, "Action", "AssumeRoleWithWebIdentity");
        form_param(&form, "RoleArn", c->role_arn);
        form_param(&form, "RoleSessionName", c->session_name);
        form_param(&form, "Version", "2011-06-15");
        form_param(&form, "WebIdentityToken", token);
        rc = form.broken ? sp_fail(err, SP_ERR_NOMEM, "out of memory")
                         : sts_call(c, "STS AssumeRoleWithWebIdentity", &form, NULL, out, err);
        OPENSSL_cleanse(form.data, form.len);
        sp_buf_free(&form);
    }
    OPENSSL_cleanse(token, 16384);
    free(token);
    return rc;
}

/* credential_process: run the command (sh -c), read its JSON from stdout. */
static int run_process(const char *cmd, aws_creds *out, sp_error *err)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return sp_fail(err, SP_ERR_IO, "credential_process: cannot start it: %s",
                       strerror(errno));
    char *buf = malloc(PROCESS_OUTPUT_MAX + 1);
    size_t n = 0;
    bool more = false;
    if (buf) {
        n = fread(buf, 1, PROCESS_OUTPUT_MAX, p);
        char drain[4096];
        while (fread(drain, 1, sizeof drain, p) > 0) /* let the process finish writing */
            more = true;
        buf[n] = '\0';
    }
    int st = pclose(p);
    int rc = SP_OK;
    if (!buf)
        rc = sp_fail(err, SP_ERR_NOMEM, "credential_process: out of memory");
    else if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        rc = sp_fail(err, SP_ERR_IO, "credential_process: the command failed (%s %d)",
                     st != -1 && WIFEXITED(st) ? "exit status" : "signal",
                     st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    else if (more)
        rc = sp_fail(err, SP_ERR_LIMIT, "credential_process: its output is larger than %d bytes",
                     PROCESS_OUTPUT_MAX);
    if (rc == SP_OK) {
        char version[16];
        const char *vn[1] = {"Version"};
        char *vo[1] = {version};
        const size_t vs[1] = {sizeof version};
        aws_json_creds jc = {out->access_key, sizeof out->access_key, out->secret_key,
                             sizeof out->secret_key, out->session_token,
                             sizeof out->session_token, &out->expires};
        rc = aws_json_fields(buf, n, vn, 1, vo, vs, "credential_process output", err);
        if (rc == SP_OK && strcmp(version, "1") != 0)
            rc = sp_fail(err, SP_ERR_UNSUPPORTED, "credential_process output: \"Version\" is "
                         "'%.8s', not 1", version);
        if (rc == SP_OK)
            rc = aws_json_creds_parse(buf, n, "SessionToken", true, &jc,
                                      "credential_process output", err);
    }
    if (buf) {
        OPENSSL_cleanse(buf, PROCESS_OUTPUT_MAX + 1);
        free(buf);
    }
    return rc;
}

static int fetch_profile_role(aws_chain *c, aws_creds *out, sp_error *err)
{
    aws_creds src;
    if (c->process_cmd[0]) {
        SP_TRY(run_process(c->process_cmd, &src, err));
        register_secrets(&src);
    } else {
        src = c->base;
    }
    sp_buf form;
    sp_buf_init(&form, 64 << 10);
    form_param(&form, "Action", "AssumeRole");
    if (c->external_id[0])
        form_param(&form, "ExternalId", c->external_id);
    form_param(&form, "RoleArn", c->role_arn);
    form_param(&form, "RoleSessionName", c->session_name);
    form_param(&form, "Version", "2011-06-15");
    int rc = form.broken ? sp_fail(err, SP_ERR_NOMEM, "out of memory")
                         : sts_call(c, "STS AssumeRole", &form, &src, out, err);
    sp_buf_free(&form);
    wipe_creds(&src);
    return rc;
}

static int fetch_container(aws_chain *c, aws_creds *out, sp_error *err)
{
    char *token = calloc(1, 16384), *line = calloc(1, 16400);
    int rc = SP_OK;
    if (!token || !line)
        rc = sp_fail(err, SP_ERR_NOMEM, "out of memory");
    else if (c->container_token_file[0])
        rc = read_token_file(c->container_token_file, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                             token, 16384, err);
    else
        snprintf(token, 16384, "%s", c->container_token);
    if (rc == SP_OK && !header_safe(token))
        rc = sp_fail(err, SP_ERR_USAGE, "the container authorization token holds a line break");
    if (rc == SP_OK) {
        const char *lines[3] = {"Accept: application/json", NULL, NULL};
        if (token[0]) {
            sp_log_add_secret(token);
            snprintf(line, 16400, "Authorization: %s", token);
            lines[1] = line;
        }
        aws_http_req req = {.method = "GET", .url = c->container_url, .headers = lines,
                            .timeout_s = 5, .connect_timeout_s = 2,
                            .ca_bundle = c->set.ca_bundle, .what = "container credentials"};
        aws_http_resp resp;
        rc = aws_http_retrying(&req, &resp, AWS_CALL_ATTEMPTS, err);
        if (rc == SP_OK && resp.status != 200) {
            char code[128] = "", msg[300] = "";
            char *outs[2] = {code, msg};
            const size_t sz[2] = {sizeof code, sizeof msg};
            static const char *const names[2] = {"code", "message"};
            sp_error ignored;
            aws_json_fields((const char *)resp.body.data, resp.body.len, names, 2, outs, sz,
                            "container credentials", &ignored);
            rc = sp_fail(err, SP_ERR_NET, "container credentials: GET answered HTTP %ld%s%s%s%s%s",
                         resp.status, code[0] ? " " : "", code, msg[0] ? ": " : "", msg,
                         resp.status == 401 || resp.status == 403
                             ? " (is the authorization token right?)" : "");
        } else if (rc == SP_OK) {
            aws_json_creds jc = {out->access_key, sizeof out->access_key, out->secret_key,
                                 sizeof out->secret_key, out->session_token,
                                 sizeof out->session_token, &out->expires};
            rc = aws_json_creds_parse((const char *)resp.body.data, resp.body.len, "Token", true,
                                      &jc, "container credentials", err);
        }
        aws_http_resp_free(&resp);
    }
    if (token)
        OPENSSL_cleanse(token, 16384);
    if (line)
        OPENSSL_cleanse(line, 16400);
    free(token);
    free(line);
    return rc;
}

/* ---- IMDSv2 ----------------------------------------------------------------- */

static int imds_token(aws_chain *c, sp_error *err)
{
    if (c->imds_token[0] && now_s() + 1 < c->imds_token_expires)
        return SP_OK;
    char url[1200], ttl_line[80];
    snprintf(url, sizeof url, "%s/latest/api/token", c->imds_url);
    snprintf(ttl_line, sizeof ttl_line, "X-aws-ec2-metadata-token-ttl-seconds: %d",
             IMDS_TOKEN_TTL_S);
    const char *lines[2] = {ttl_line, NULL};
    aws_http_req req = {.method = "PUT", .url = url, .headers = lines, .timeout_s = 2,
                        .connect_timeout_s = 1, .capture_header =
                        "X-aws-ec2-metadata-token-ttl-seconds", .what = "IMDSv2 token"};
    aws_http_resp resp;
    int rc = aws_http_retrying(&req, &resp, 2, err);
    if (rc == SP_OK && resp.status != 200)
        rc = sp_fail(err, SP_ERR_NET, "IMDSv2 token: PUT /latest/api/token answered HTTP %ld%s",
                     resp.status, resp.status == 403 ? " (the instance metadata service is "
                     "turned off)" : resp.status == 405 ? " (not an IMDSv2 service)" : "");
    if (rc == SP_OK && (resp.body.len == 0 || resp.body.len >= sizeof c->imds_token ||
                        !header_safe((const char *)resp.body.data)))
        rc = sp_fail(err, SP_ERR_NET, "IMDSv2 token: the answer is not a token (%zu bytes)",
                     resp.body.len);
    if (rc == SP_OK) {
        memcpy(c->imds_token, resp.body.data, resp.body.len + 1);
        sp_log_add_secret(c->imds_token);
        long ttl = resp.header[0] ? strtol(resp.header, NULL, 10) : IMDS_TOKEN_TTL_S;
        if (ttl <= 0 || ttl > IMDS_TOKEN_TTL_S)
            ttl = IMDS_TOKEN_TTL_S;
        c->imds_token_expires = now_s() + ttl;
    }
    aws_http_resp_free(&resp);
    return rc;
}

/* GET a metadata path with the token; a 401 (token expired early) gets a
 * new token and one more try. */
static int imds_get(aws_chain *c, const char *path, aws_http_resp *resp, sp_error *err)
{
    for (int round = 0;; round++) {
        SP_TRY(imds_token(c, err));
        char url[1400], line[1100];
        snprintf(url, sizeof url, "%s%s", c->imds_url, path);
        snprintf(line, sizeof line, "X-aws-ec2-metadata-token: %s", c->imds_token);
        const char *lines[2] = {line, NULL};
        aws_http_req req = {.method = "GET", .url = url, .headers = lines, .timeout_s = 2,
                            .connect_timeout_s = 1, .what = "instance metadata"};
        int rc = aws_http_retrying(&req, resp, 2, err);
        OPENSSL_cleanse(line, sizeof line);
        if (rc != SP_OK)
            return rc;
        if (resp->status == 401 && round == 0) {
            aws_http_resp_free(resp);
            c->imds_token[0] = '\0';
            continue;
        }
        if (resp->status != 200) {
            long st = resp->status;
            aws_http_resp_free(resp);
            return sp_fail(err, SP_ERR_NET, "instance metadata: GET %s answered HTTP %ld%s", path,
                           st, st == 404 ? " (no IAM role attached to the instance?)" : "");
        }
        return SP_OK;
    }
}

static int fetch_imds(aws_chain *c, aws_creds *out, sp_error *err)
{
    const char *base = "/latest/meta-data/iam/security-credentials/";
    aws_http_resp resp;
    SP_TRY(imds_get(c, base, &resp, err));
    char role[256];
    size_t rl = strcspn((const char *)resp.body.data, "\r\n");
    int rc = SP_OK;
    if (rl == 0 || rl >= sizeof role)
        rc = sp_fail(err, SP_ERR_NET, "instance metadata: %s names no role", base);
    else
        snprintf(role, sizeof role, "%.*s", (int)rl, (const char *)resp.body.data);
    aws_http_resp_free(&resp);
    for (const char *p = role; rc == SP_OK && *p; p++)
        if (*p == '/' || *p == '?' || *p == '#' || (unsigned char)*p <= ' ')
            rc = sp_fail(err, SP_ERR_NET, "instance metadata: the role name is not a name");
    if (rc != SP_OK)
        return rc;
    char path[400];
    snprintf(path, sizeof path, "%s%s", base, role);
    SP_TRY(imds_get(c, path, &resp, err));
    aws_json_creds jc = {out->access_key, sizeof out->access_key, out->secret_key,
                         sizeof out->secret_key, out->session_token, sizeof out->session_token,
                         &out->expires};
    rc = aws_json_creds_parse((const char *)resp.body.data, resp.body.len, "Token", false, &jc,
                              "instance metadata", err);
    aws_http_resp_free(&resp);
    return rc;
}

static int fetch(aws_chain *c, aws_creds *out, sp_error *err)
{
    memset(out, 0, sizeof *out);
    switch (c->kind) {
    case SRC_ENV:
    case SRC_PROFILE_KEYS:
        *out = c->base;
        return SP_OK;
    case SRC_WEB_IDENTITY:
        return fetch_web_identity(c, out, err);
    case SRC_PROFILE_ROLE:
        return fetch_profile_role(c, out, err);
    case SRC_PROFILE_PROCESS:
        return run_process(c->process_cmd, out, err);
    case SRC_CONTAINER:
        return fetch_container(c, out, err);
    case SRC_IMDS:
        return fetch_imds(c, out, err);
    }
    return sp_fail(err, SP_ERR_INTERNAL, "unknown credential source");
}

int aws_chain_get(aws_chain *c, aws_creds *out, sp_error *err)
{
    pthread_mutex_lock(&c->lock);
    long long now = now_s();
    int rc = SP_OK;
    if (!c->have || (c->cur.expires && c->cur.expires - now <= REFRESH_MARGIN_S)) {
        aws_creds fresh;
        sp_error e;
        sp_error_clear(&e);
        rc = fetch(c, &fresh, &e);
        if (rc == SP_OK) {
            register_secrets(&fresh);
            if (c->have)
                sp_log(SP_LOG_INFO, "AWS credentials from %s refreshed (they expired in %llds)",
                       c->source, c->cur.expires - now);
            c->cur = fresh;
            c->have = true;
        } else if (c->have && c->cur.expires > now + 10) {
            sp_log(SP_LOG_WARN, "AWS credentials from %s: refresh failed (%s); using the current "
                   "ones, valid %llds more", c->source, e.msg, c->cur.expires - now);
            rc = SP_OK;
        } else {
            if (e.retryable)
                sp_fail_retry(err, e.code, "AWS credentials from %s: %s", c->source, e.msg);
            else
                sp_fail(err, e.code, "AWS credentials from %s: %s", c->source, e.msg);
        }
        wipe_creds(&fresh);
    }
    if (rc == SP_OK)
        *out = c->cur;
    pthread_mutex_unlock(&c->lock);
    return rc;
}

void aws_chain_invalidate(aws_chain *c)
{
    pthread_mutex_lock(&c->lock);
    if (c->kind != SRC_ENV && c->kind != SRC_PROFILE_KEYS)
        c->have = false;
    pthread_mutex_unlock(&c->lock);
}

const char *aws_chain_source(const aws_chain *c)
{
    return c->source;
}

const char *aws_chain_region(const aws_chain *c)
{
    return c->set.region;
}

void aws_chain_free(aws_chain *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    OPENSSL_cleanse(c, sizeof *c);
    free(c);
}

/* ---- choosing the source (no request) ------------------------------------- */

static int set_sts_url(aws_chain *c, store_env_fn env, void *ctx, sp_error *err)
{
    const char *e = aws_getenv(env, ctx, "AWS_ENDPOINT_URL_STS");
    if (!e)
        e = aws_getenv(env, ctx, "AWS_ENDPOINT_URL");
    if (e) {
        SP_TRY(aws_copy_setting(c->sts_url, sizeof c->sts_url, e, "AWS_ENDPOINT_URL_STS", err));
        size_t n = strlen(c->sts_url);
        while (n > 0 && c->sts_url[n - 1] == '/')
            c->sts_url[--n] = '\0';
        strcat(c->sts_url, "/");
    } else {
        snprintf(c->sts_url, sizeof c->sts_url, "https://sts.%s.amazonaws.com/", c->set.region);
    }
    return SP_OK;
}

static void default_session_name(aws_chain *c, const char *given)
{
    if (given && *given)
        snprintf(c->session_name, sizeof c->session_name, "%s", given);
    else
        snprintf(c->session_name, sizeof c->session_name, "salespipe-%lld", now_s());
}

/* A profile's static keys into base; 1 found, 0 none, -1 error. */
static int profile_keys(aws_chain *c, const char *profile, aws_creds *base, const char **file,
                        sp_error *err)
{
    int a = aws_profile_get(&c->set, profile, "aws_access_key_id", base->access_key,
                            sizeof base->access_key, file, err);
    if (a <= 0)
        return a;
    int s = aws_profile_get(&c->set, profile, "aws_secret_access_key", base->secret_key,
                            sizeof base->secret_key, NULL, err);
    if (s < 0)
        return -1;
    if (s == 0)
        return sp_fail(err, SP_ERR_USAGE, "AWS profile '%s' in %s has aws_access_key_id but no "
                       "aws_secret_access_key", profile, *file), -1;
    if (aws_profile_get(&c->set, profile, "aws_session_token", base->session_token,
                        sizeof base->session_token, NULL, err) < 0)
        return -1;
    register_secrets(base);
    return 1;
}

/* The profile's role: role_arn with source_profile (keys or
 * credential_process) or web_identity_token_file. */
static int open_profile_role(aws_chain *c, const char *file, sp_error *err)
{
    const char *p = c->set.profile;
    char source[256] = "", cs[64] = "", sess[128] = "";
    if (aws_profile_get(&c->set, p, "role_session_name", sess, sizeof sess, NULL, err) < 0 ||
        aws_profile_get(&c->set, p, "external_id", c->external_id, sizeof c->external_id, NULL,
                        err) < 0)
        return err->code;
    default_session_name(c, sess);
    int w = aws_profile_get(&c->set, p, "web_identity_token_file", c->token_file,
                            sizeof c->token_file, NULL, err);
    if (w < 0)
        return err->code;
    if (w > 0) {
        c->kind = SRC_WEB_IDENTITY;
        snprintf(c->source, sizeof c->source, "profile %s (%s): web identity, role %s, token "
                 "file %s, through STS at %s", p, file, c->role_arn, c->token_file, c->sts_url);
        return SP_OK;
    }
    int s = aws_profile_get(&c->set, p, "source_profile", source, sizeof source, NULL, err);
    if (s < 0 || aws_profile_get(&c->set, p, "credential_source", cs, sizeof cs, NULL, err) < 0)
        return err->code;
    if (s == 0)
        return sp_fail(err, SP_ERR_UNSUPPORTED, "AWS profile '%s' in %s: role_arn needs "
                       "source_profile or web_identity_token_file%s", p, file,
                       cs[0] ? " (credential_source is not supported)" : "");
    const char *sfile = file;
    int k = profile_keys(c, source, &c->base, &sfile, err);
    if (k < 0)
        return err->code;
    if (k == 0) {
        int pr = aws_profile_get(&c->set, source, "credential_process", c->process_cmd,
                                 sizeof c->process_cmd, &sfile, err);
        if (pr < 0)
            return err->code;
        if (pr == 0)
            return sp_fail(err, SP_ERR_USAGE, "AWS profile '%s' in %s: its source_profile '%s' "
                           "has neither keys nor credential_process (chains of roles are not "
                           "supported)", p, file, source);
    }
    c->kind = SRC_PROFILE_ROLE;
    snprintf(c->source, sizeof c->source, "profile %s (%s): role %s assumed through STS at %s "
             "with profile %s's %s", p, file, c->role_arn, c->sts_url, source,
             k ? "keys" : "credential_process");
    return SP_OK;
}

/* 1: the profile gives credentials (c filled); 0: no such profile; <0 error. */
static int open_profile(aws_chain *c, sp_error *err)
{
    const char *p = c->set.profile, *file = NULL;
    int r = aws_profile_get(&c->set, p, "role_arn", c->role_arn, sizeof c->role_arn, &file, err);
    if (r < 0)
        return -1;
    if (r > 0)
        return open_profile_role(c, file, err) == SP_OK ? 1 : -1;
    r = profile_keys(c, p, &c->base, &file, err);
    if (r < 0)
        return -1;
    if (r > 0) {
        c->kind = SRC_PROFILE_KEYS;
        snprintf(c->source, sizeof c->source, "profile %s (%s)", p, file);
        return 1;
    }
    r = aws_profile_get(&c->set, p, "credential_process", c->process_cmd, sizeof c->process_cmd,
                        &file, err);
    if (r < 0)
        return -1;
    if (r > 0) {
        c->kind = SRC_PROFILE_PROCESS;
        snprintf(c->source, sizeof c->source, "profile %s (%s): credential_process", p, file);
        return 1;
    }
    return 0;
}

/* Is host (of an http:// FULL_URI) one the SDKs allow without TLS? */
static bool container_host_allowed(const char *url)
{
    char auth[300];
    if (aws_url_authority(url, auth, sizeof auth) != 0)
        return false;
    char *h = auth;
    if (*h == '[') { /* [::1]:port */
        char *e = strchr(h, ']');
        if (!e)
            return false;
        *e = '\0';
        h++;
        return strcmp(h, "::1") == 0 || strcmp(h, "fd00:ec2::23") == 0;
    }
    char *colon = strchr(h, ':');
    if (colon)
        *colon = '\0';
    return strncmp(h, "127.", 4) == 0 || strcmp(h, "localhost") == 0 ||
           strcmp(h, "169.254.170.2") == 0 || strcmp(h, "169.254.170.23") == 0;
}

static int open_container(aws_chain *c, store_env_fn env, void *ctx, sp_error *err)
{
    const char *rel = aws_getenv(env, ctx, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = aws_getenv(env, ctx, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (rel) {
        if (rel[0] != '/' ||
            snprintf(c->container_url, sizeof c->container_url, "http://169.254.170.2%s", rel) >=
                (int)sizeof c->container_url)
            return sp_fail(err, SP_ERR_USAGE, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must be a "
                           "path starting with '/'");
    } else {
        SP_TRY(aws_copy_setting(c->container_url, sizeof c->container_url, full,
                            "AWS_CONTAINER_CREDENTIALS_FULL_URI", err));
        if (strncasecmp(full, "https://", 8) != 0 &&
            (strncasecmp(full, "http://", 7) != 0 || !container_host_allowed(full)))
            return sp_fail(err, SP_ERR_USAGE, "AWS_CONTAINER_CREDENTIALS_FULL_URI: plain http is "
                           "allowed only to a loopback address, 169.254.170.2 (ECS) or "
                           "169.254.170.23 / fd00:ec2::23 (EKS Pod Identity); use https");
    }
    const char *tf = aws_getenv(env, ctx, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *tok = aws_getenv(env, ctx, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
    if (tf)
        SP_TRY(aws_copy_setting(c->container_token_file, sizeof c->container_token_file, tf,
                            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", err));
    else if (tok)
        SP_TRY(aws_copy_setting(c->container_token, sizeof c->container_token, tok,
                            "AWS_CONTAINER_AUTHORIZATION_TOKEN", err));
    char origin[300];
    aws_url_origin(c->container_url, origin, sizeof origin);
    c->kind = SRC_CONTAINER;
    snprintf(c->source, sizeof c->source, "container credentials (%s at %s%s)",
             rel ? "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" : "AWS_CONTAINER_CREDENTIALS_FULL_URI",
             origin, tf ? ", token from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
                        : tok ? ", token from AWS_CONTAINER_AUTHORIZATION_TOKEN" : "");
    return SP_OK;
}

static int open_env_keys(aws_chain *c, store_env_fn env, void *ctx, bool *done, sp_error *err)
{
    const char *ak = aws_getenv(env, ctx, "AWS_ACCESS_KEY_ID");
    const char *sk = aws_getenv(env, ctx, "AWS_SECRET_ACCESS_KEY");
    *done = false;
    if (ak && sk) {
        SP_TRY(aws_copy_setting(c->base.access_key, sizeof c->base.access_key, ak,
                            "AWS_ACCESS_KEY_ID", err));
        SP_TRY(aws_copy_setting(c->base.secret_key, sizeof c->base.secret_key, sk,
                            "AWS_SECRET_ACCESS_KEY", err));
        const char *tok = aws_getenv(env, ctx, "AWS_SESSION_TOKEN");
        if (tok)
            SP_TRY(aws_copy_setting(c->base.session_token, sizeof c->base.session_token, tok,
                                "AWS_SESSION_TOKEN", err));
        c->kind = SRC_ENV;
        snprintf(c->source, sizeof c->source, "environment (AWS_ACCESS_KEY_ID%s)",
                 tok ? ", AWS_SESSION_TOKEN" : "");
        *done = true;
    } else if ((ak || sk) && !c->set.profile_explicit) {
        return sp_fail(err, SP_ERR_USAGE, "%s is set but %s is not: set both (or AWS_PROFILE)",
                       ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                       ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
    }
    return SP_OK;
}

static int open_web_identity(aws_chain *c, store_env_fn env, void *ctx, bool *done,
                             sp_error *err)
{
    const char *tf = aws_getenv(env, ctx, "AWS_WEB_IDENTITY_TOKEN_FILE");
    const char *role = aws_getenv(env, ctx, "AWS_ROLE_ARN");
    *done = false;
    if (!tf && !role)
        return SP_OK;
    if (!tf || !role)
        return sp_fail(err, SP_ERR_USAGE, "web identity: %s is set but %s is not: set both",
                       tf ? "AWS_WEB_IDENTITY_TOKEN_FILE" : "AWS_ROLE_ARN",
                       tf ? "AWS_ROLE_ARN" : "AWS_WEB_IDENTITY_TOKEN_FILE");
    SP_TRY(aws_copy_setting(c->token_file, sizeof c->token_file, tf, "AWS_WEB_IDENTITY_TOKEN_FILE",
                        err));
    SP_TRY(aws_copy_setting(c->role_arn, sizeof c->role_arn, role, "AWS_ROLE_ARN", err));
    const char *sess = aws_getenv(env, ctx, "AWS_ROLE_SESSION_NAME");
    if (sess && strlen(sess) > 64)
        return sp_fail(err, SP_ERR_USAGE, "AWS_ROLE_SESSION_NAME is longer than 64 characters");
    default_session_name(c, sess);
    c->kind = SRC_WEB_IDENTITY;
    snprintf(c->source, sizeof c->source, "web identity (AWS_ROLE_ARN %s, token file %s, "
             "through STS at %s)", c->role_arn, c->token_file, c->sts_url);
    *done = true;
    return SP_OK;
}

static int open_source(aws_chain *c, store_env_fn env, void *ctx, sp_error *err)
{
    bool done;
    SP_TRY(open_env_keys(c, env, ctx, &done, err));
    if (done)
        return SP_OK;
    SP_TRY(open_web_identity(c, env, ctx, &done, err));
    if (done)
        return SP_OK;
    int p = open_profile(c, err);
    if (p < 0)
        return err->code;
    if (p > 0)
        return SP_OK;
    if (c->set.profile_explicit) {
        int e = aws_profile_exists(&c->set, c->set.profile, err);
        if (e < 0)
            return err->code;
        return sp_fail(err, SP_ERR_IO, "AWS_PROFILE '%s': %s %s or %s (looked for profile '%s')",
                       c->set.profile, e ? "no aws_access_key_id, role_arn or credential_process "
                       "in it, in" : "no such profile in", c->set.cred_file, c->set.conf_file,
                       c->set.profile);
    }
    if (aws_getenv(env, ctx, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") ||
        aws_getenv(env, ctx, "AWS_CONTAINER_CREDENTIALS_FULL_URI"))
        return open_container(c, env, ctx, err);
    const char *off = aws_getenv(env, ctx, "AWS_EC2_METADATA_DISABLED");
    if (off && strcasecmp(off, "true") == 0)
        return sp_fail(err, SP_ERR_IO, "no AWS credentials: set AWS_ACCESS_KEY_ID and "
                       "AWS_SECRET_ACCESS_KEY, AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN, "
                       "AWS_PROFILE with a profile in %s or %s (looked for profile '%s'), or "
                       "AWS_CONTAINER_CREDENTIALS_*; instance metadata is off "
                       "(AWS_EC2_METADATA_DISABLED=true)",
                       c->set.cred_file, c->set.conf_file, c->set.profile);
    const char *ep = aws_getenv(env, ctx, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
    SP_TRY(aws_copy_setting(c->imds_url, sizeof c->imds_url, ep ? ep : "http://169.254.169.254",
                        "AWS_EC2_METADATA_SERVICE_ENDPOINT", err));
    size_t n = strlen(c->imds_url);
    while (n > 0 && c->imds_url[n - 1] == '/')
        c->imds_url[--n] = '\0';
    c->kind = SRC_IMDS;
    snprintf(c->source, sizeof c->source, "instance metadata (IMDSv2 at %s; no keys in the "
             "environment, no web identity, no profile '%s' in %s or %s, no container "
             "credentials)", c->imds_url, c->set.profile, c->set.cred_file, c->set.conf_file);
    return SP_OK;
}

int aws_chain_open(aws_chain **out, store_env_fn env, void *ctx, sp_error *err)
{
    *out = NULL;
    aws_chain *c = calloc(1, sizeof *c);
    if (!c)
        return sp_fail(err, SP_ERR_NOMEM, "AWS credentials: out of memory");
    int rc = aws_settings_resolve(&c->set, env, ctx, err);
    if (rc == SP_OK)
        rc = set_sts_url(c, env, ctx, err);
    if (rc == SP_OK)
        rc = open_source(c, env, ctx, err);
    if (rc == SP_OK && (c->kind == SRC_ENV || c->kind == SRC_PROFILE_KEYS)) {
        c->cur = c->base; /* long-term keys: nothing to fetch, never expire */
        c->cur.expires = 0;
        c->have = true;
    }
    if (rc != SP_OK) {
        OPENSSL_cleanse(c, sizeof *c);
        free(c);
        return rc;
    }
    pthread_mutex_init(&c->lock, NULL);
    *out = c;
    return SP_OK;
}
