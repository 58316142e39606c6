/* aws_rds.c — database credentials from AWS (see store.h): RDS IAM
 * authentication tokens (a SigV4 query-string presigned "connect" for
 * rds-db, made locally with the chain's credentials) and Secrets Manager's
 * GetSecretValue (JSON protocol, SigV4 service "secretsmanager"). Used by
 * the pipeline before it opens PostgreSQL; never logs a token or a secret
 * value, and registers both with the log scrubber. */
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../util/log.h"
#include "../util/sha256.h"
#include "aws_config.h"
#include "aws_http.h"
#include "sigv4.h"
#include "store.h"

enum { RDS_TOKEN_EXPIRES_S = 900 }; /* AWS's fixed 15 minutes */

int aws_rds_auth_token(aws_chain *c, const char *host, const char *port, const char *user,
                       char *out, size_t outsz, sp_error *err)
{
    if (!host || !*host || !user || !*user)
        return sp_fail(err, SP_ERR_USAGE, "RDS IAM authentication needs the database host and "
                       "user (RDS_HOST and RDS_USER, or a DATABASE_URL with both)");
    if (!port || !*port)
        port = "5432";
    char hostport[400];
    if (snprintf(hostport, sizeof hostport, "%s:%s", host, port) >= (int)sizeof hostport)
        return sp_fail(err, SP_ERR_USAGE, "RDS IAM authentication: the host name is too long");
    aws_creds cr;
    SP_TRY(aws_chain_get(c, &cr, err));
    char amz_date[17];
    sigv4_amz_date((long long)time(NULL), amz_date);
    const sigv4_header h[1] = {{"host", hostport}};
    const sigv4_param p[2] = {{"Action", "connect"}, {"DBUser", user}};
    sigv4_request r = {"GET", "/", NULL, h, 1, SIGV4_EMPTY_SHA256, amz_date,
                       aws_chain_region(c), "rds-db", cr.access_key, cr.secret_key};
    sp_buf q;
    sp_buf_init(&q, 64 << 10);
    sp_buf_printf(&q, "%s/?", hostport);
    int rc = sigv4_presign(&r, p, 2, cr.session_token, RDS_TOKEN_EXPIRES_S, &q, NULL);
    OPENSSL_cleanse(&cr, sizeof cr);
    if (rc != 0 || q.broken)
        rc = sp_fail(err, SP_ERR_INTERNAL, "RDS IAM authentication: cannot sign the token");
    else if (q.len >= outsz)
        rc = sp_fail(err, SP_ERR_LIMIT, "RDS IAM authentication: the token is longer than %zu "
                     "bytes", outsz - 1);
    else {
        memcpy(out, q.data, q.len);
        out[q.len] = '\0';
        sp_log_add_secret(out);
        rc = SP_OK;
    }
    if (q.data)
        OPENSSL_cleanse(q.data, q.cap);
    sp_buf_free(&q);
    return rc;
}

/* ---- Secrets Manager -------------------------------------------------------- */

/* The signed POST of GetSecretValue; the answer in resp. */
static int get_secret_value(aws_chain *c, const char *url, const char *body, aws_http_resp *resp,
                            sp_error *err)
{
    char host[300], amz_date[17], payload[65], auth[1024];
    if (aws_url_authority(url, host, sizeof host) != 0)
        return sp_fail(err, SP_ERR_USAGE, "Secrets Manager: the endpoint has no host");
    sp_sha256 h;
    SP_TRY(sp_sha256_init(&h, err));
    sp_sha256_update(&h, body, strlen(body));
    sp_sha256_final(&h, payload);
    aws_creds cr;
    SP_TRY(aws_chain_get(c, &cr, err));
    sigv4_amz_date((long long)time(NULL), amz_date);
    const char *ctype = "application/x-amz-json-1.1", *target = "secretsmanager.GetSecretValue";
    sigv4_header hs[5] = {{"host", host}, {"content-type", ctype}, {"x-amz-date", amz_date},
                          {"x-amz-target", target}};
    size_t nh = 4;
    if (cr.session_token[0])
        hs[nh++] = (sigv4_header){"x-amz-security-token", cr.session_token};
    sigv4_request r = {"POST", "/", "", hs, nh, payload, amz_date, aws_chain_region(c),
                       "secretsmanager", cr.access_key, cr.secret_key};
    int rc = sigv4_sign(&r, auth, sizeof auth, NULL, NULL) == 0
                 ? SP_OK : sp_fail(err, SP_ERR_INTERNAL, "Secrets Manager: cannot sign");
    char l_host[320], l_type[80], l_date[40], l_target[80], l_auth[1100];
    char *l_token = malloc(sizeof cr.session_token + 32);
    if (rc == SP_OK && !l_token)
        rc = sp_fail(err, SP_ERR_NOMEM, "Secrets Manager: out of memory");
    if (rc == SP_OK) {
        snprintf(l_host, sizeof l_host, "Host: %s", host);
        snprintf(l_type, sizeof l_type, "Content-Type: %s", ctype);
        snprintf(l_date, sizeof l_date, "X-Amz-Date: %s", amz_date);
        snprintf(l_target, sizeof l_target, "X-Amz-Target: %s", target);
        snprintf(l_auth, sizeof l_auth, "Authorization: %s", auth);
        snprintf(l_token, sizeof cr.session_token + 32, "X-Amz-Security-Token: %s",
                 cr.session_token);
        const char *lines[7] = {l_host, l_type, l_date, l_target, l_auth,
                                cr.session_token[0] ? l_token : NULL, NULL};
        aws_http_req req = {.method = "POST", .url = url, .headers = lines, .body = body,
                            .body_len = strlen(body), .timeout_s = 20, .connect_timeout_s = 5,
                            .what = "Secrets Manager GetSecretValue"};
        rc = aws_http_retrying(&req, resp, 3, err);
        OPENSSL_cleanse(l_token, sizeof cr.session_token + 32);
        OPENSSL_cleanse(l_auth, sizeof l_auth);
    }
    free(l_token);
    OPENSSL_cleanse(&cr, sizeof cr);
    return rc;
}

/* The error of a non-200 answer: {"__type": "…#Code", "Message": "…"}. */
static int secret_failure(const char *id, const char *origin, const aws_http_resp *resp,
                          sp_error *err)
{
    char type[200] = "", msg[400] = "", msg2[400] = "";
    char *outs[3] = {type, msg, msg2};
    const size_t sz[3] = {sizeof type, sizeof msg, sizeof msg2};
    static const char *const names[3] = {"__type", "Message", "message"};
    sp_error ignored;
    aws_json_fields((const char *)resp->body.data, resp->body.len, names, 3, outs, sz,
                    "Secrets Manager", &ignored);
    const char *code = strrchr(type, '#') ? strrchr(type, '#') + 1 : type;
    const char *m = msg[0] ? msg : msg2;
    bool retry = resp->status >= 500 || strcmp(code, "ThrottlingException") == 0;
    return (retry ? sp_fail_retry : sp_fail)(
        err, SP_ERR_NET, "Secrets Manager GetSecretValue of '%s' at %s: HTTP %ld%s%s%s%s", id,
        origin, resp->status, code[0] ? " " : "", code, m[0] ? ": " : "", m);
}

int aws_secret_db_credentials(aws_chain *c, const char *secret_id, store_env_fn env, void *ctx,
                              aws_db_secret *out, sp_error *err)
{
    memset(out, 0, sizeof *out);
    char url[1100], origin[300];
    const char *ep = aws_getenv(env, ctx, "AWS_ENDPOINT_URL_SECRETS_MANAGER");
    if (!ep)
        ep = aws_getenv(env, ctx, "AWS_ENDPOINT_URL");
    if (ep) {
        size_t n = strlen(ep);
        while (n > 0 && ep[n - 1] == '/')
            n--;
        if (n + 2 > sizeof url)
            return sp_fail(err, SP_ERR_USAGE, "AWS_ENDPOINT_URL_SECRETS_MANAGER is too long");
        snprintf(url, sizeof url, "%.*s/", (int)n, ep);
    } else {
        snprintf(url, sizeof url, "https://secretsmanager.%s.amazonaws.com/", aws_chain_region(c));
    }
    aws_url_origin(url, origin, sizeof origin);
    json_t *req = json_pack("{s:s}", "SecretId", secret_id);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body)
        return sp_fail(err, SP_ERR_NOMEM, "Secrets Manager: out of memory");
    aws_http_resp resp;
    int rc = get_secret_value(c, url, body, &resp, err);
    free(body);
    if (rc != SP_OK)
        return sp_error_prefix(err, "RDS_SECRET_ID '%s' (credentials from %s)", secret_id,
                               aws_chain_source(c));
    char *str = malloc(AWS_HTTP_BODY_MAX + 1);
    if (!str)
        rc = sp_fail(err, SP_ERR_NOMEM, "Secrets Manager: out of memory");
    else if (resp.status != 200)
        rc = secret_failure(secret_id, origin, &resp, err);
    if (rc == SP_OK) {
        const char *n1[1] = {"SecretString"};
        char *o1[1] = {str};
        const size_t s1[1] = {AWS_HTTP_BODY_MAX + 1};
        rc = aws_json_fields((const char *)resp.body.data, resp.body.len, n1, 1, o1, s1,
                             "Secrets Manager GetSecretValue", err);
        if (rc == SP_OK && !str[0])
            rc = sp_fail(err, SP_ERR_UNSUPPORTED, "secret '%s' has no SecretString (a binary "
                         "secret is not database credentials)", secret_id);
    }
    if (rc == SP_OK) {
        sp_log_add_secret(str);
        static const char *const names[5] = {"username", "password", "host", "port", "dbname"};
        char *outs[5] = {out->username, out->password, out->host, out->port, out->dbname};
        const size_t sz[5] = {sizeof out->username, sizeof out->password, sizeof out->host,
                              sizeof out->port, sizeof out->dbname};
        char what[300];
        snprintf(what, sizeof what, "the SecretString of '%s'", secret_id);
        rc = aws_json_fields(str, strlen(str), names, 5, outs, sz, what, err);
        if (rc == SP_OK)
            sp_log_add_secret(out->password);
    }
    if (str) {
        OPENSSL_cleanse(str, AWS_HTTP_BODY_MAX + 1);
        free(str);
    }
    aws_http_resp_free(&resp);
    if (rc != SP_OK) {
        OPENSSL_cleanse(out, sizeof *out);
        sp_error_prefix(err, "RDS_SECRET_ID");
    }
    return rc;
}
