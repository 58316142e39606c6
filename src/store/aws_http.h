/* aws_http.h — private to src/store: the small HTTP calls the credential
 * chain, STS, Secrets Manager and IMDS need (libcurl, one easy handle per
 * call, capped answers), and the parsing of their answers with Debian's
 * libraries: JSON with jansson, XML with expat. Never logs a request's
 * headers or body (they carry tokens); messages name the URL and status. */
#ifndef SP_AWS_HTTP_H
#define SP_AWS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "../util/buf.h"
#include "../util/error.h"

/* Largest answer read from an AWS endpoint (credentials, STS, secrets). */
#define AWS_HTTP_BODY_MAX (256 << 10)

typedef struct aws_http_req {
    const char *method;          /* "GET", "PUT", "POST" */
    const char *url;             /* http:// or https:// */
    const char *const *headers;  /* "Name: value" lines, NULL-terminated; may be NULL */
    const char *body;            /* POST/PUT body, body_len bytes; may be NULL */
    size_t body_len;
    long timeout_s;              /* whole request */
    long connect_timeout_s;
    const char *ca_bundle;       /* NULL or "": the system's CAs */
    const char *capture_header;  /* one answer header to keep (case-insensitive); may be NULL */
    const char *what;            /* for messages: "instance metadata (IMDSv2)", … */
} aws_http_req;

typedef struct aws_http_resp {
    long status;
    sp_buf body;                 /* owned: aws_http_resp_free; holds secrets */
    char header[256];            /* the captured header's value, "" when absent */
} aws_http_resp;

/* One request. SP_OK when an answer (of any status) arrived; a transport
 * failure is SP_ERR_NET, retryable, naming `what`, the URL's scheme and
 * host and curl's reason; an answer over AWS_HTTP_BODY_MAX is SP_ERR_LIMIT.
 * The caller frees out with aws_http_resp_free (which wipes it). */
int aws_http(const aws_http_req *r, aws_http_resp *out, sp_error *err);
void aws_http_resp_free(aws_http_resp *r);

/* aws_http, with up to `attempts` tries (backoff 0.4 s, 0.8 s, …) while the
 * transport fails or the answer is 5xx or 429. The last outcome is returned
 * as aws_http returns it. */
int aws_http_retrying(const aws_http_req *r, aws_http_resp *resp, int attempts, sp_error *err);

/* "host[:port]" of an http(s) URL, lower case (the Host header that is
 * signed); -1 when there is none or it carries user:password@. */
int aws_url_authority(const char *url, char *out, size_t outsz);

/* "scheme://host[:port]" of url into out, for messages (never a path or
 * query: they may carry tokens). */
void aws_url_origin(const char *url, char *out, size_t outsz);

/* Temporary credentials as JSON (IMDS, container endpoint, credential_process):
 * the strings under names key_id, secret, token (token may be absent when
 * token_optional) and an optional "Expiration" (ISO 8601). Fills the given
 * buffers; *expires is Unix time, 0 when absent. Errors name `what` and the
 * missing field, never a value. */
typedef struct aws_json_creds {
    char *access_key;
    size_t access_key_sz;
    char *secret_key;
    size_t secret_key_sz;
    char *session_token;
    size_t session_token_sz;
    long long *expires;
} aws_json_creds;
int aws_json_creds_parse(const char *body, size_t len, const char *token_name,
                         bool token_optional, const aws_json_creds *out, const char *what,
                         sp_error *err);

/* The string value of each of names[i] at the top level of a JSON object
 * into outs[i] (outsz[i] bytes; "" when absent; numbers are written as
 * text). Returns SP_OK, or SP_ERR_CORRUPT when the body is not a JSON
 * object (message names `what`, never the body). */
int aws_json_fields(const char *body, size_t len, const char *const *names, size_t n,
                    char *const *outs, const size_t *outsz, const char *what, sp_error *err);

/* The text of the first element named names[i] (local name, any depth) of
 * an XML document into outs[i] ("" when absent). SP_ERR_CORRUPT when the
 * document is not well-formed XML or a value does not fit (message names
 * `what`). Entities and character references are decoded by expat; DTDs
 * are refused (no entity expansion from the network). */
int aws_xml_fields(const char *body, size_t len, const char *const *names, size_t n,
                   char *const *outs, const size_t *outsz, const char *what, sp_error *err);

/* "2026-12-06T10:00:00Z" (also with fractional seconds, or a ±hh:mm
 * offset) as Unix time; -1 when malformed. */
long long aws_parse_time(const char *s);

#endif
