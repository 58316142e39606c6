/* sigv4.h — AWS Signature Version 4 for the S3 backend and the AWS calls
 * (STS, Secrets Manager, RDS IAM tokens): canonical request, string to sign,
 * HMAC-SHA256 key derivation (libcrypto), the URI encoding AWS expects;
 * header signing and query-string presigning. Pure functions of their
 * inputs (no clock, no I/O), so unit tests check them against AWS's
 * published test vectors. Never logs or returns the secret key or the
 * derived signing key. */
#ifndef SP_SIGV4_H
#define SP_SIGV4_H

#include <stdbool.h>
#include <stddef.h>

#include "../util/buf.h"

/* The hex SHA-256 of no bytes: the payload hash of bodiless requests. */
#define SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* Most headers one request may sign. */
#define SIGV4_MAX_HEADERS 24

/* One header to sign: the name in lower case; the value as sent (the
 * signer trims it and folds inner runs of spaces, as AWS does). */
typedef struct sigv4_header {
    const char *name;
    const char *value;
} sigv4_header;

typedef struct sigv4_request {
    const char *method;          /* "GET", "PUT", … */
    const char *canonical_uri;   /* already percent-encoded ("/bucket/a%20b") */
    const char *canonical_query; /* already sorted and encoded ("a=1&b="), "" if none */
    const sigv4_header *headers; /* must include host and x-amz-date; any order */
    size_t nheaders;             /* at most SIGV4_MAX_HEADERS */
    const char *payload_sha256;  /* 64 lowercase hex characters */
    const char *amz_date;        /* "YYYYMMDDTHHMMSSZ" (its first 8 are the scope date) */
    const char *region;          /* "us-east-1" */
    const char *service;         /* "s3" */
    const char *access_key;
    const char *secret_key;
} sigv4_request;

/* Write the Authorization header value ("AWS4-HMAC-SHA256 Credential=…,
 * SignedHeaders=…, Signature=…") into auth (NUL-terminated). When
 * canonical is not NULL the canonical request is appended to it, and when
 * to_sign is not NULL the string to sign (both for tests and debugging;
 * neither holds a secret). Returns 0, or -1 when an input is malformed
 * (too many headers, a bad date, auth too small, out of memory, libcrypto
 * failing). */
int sigv4_sign(const sigv4_request *r, char *auth, size_t authsz, sp_buf *canonical,
               sp_buf *to_sign);

/* One query parameter of a presigned request, not encoded. */
typedef struct sigv4_param {
    const char *name;
    const char *value;
} sigv4_param;

/* Most parameters of a presigned request besides the X-Amz-* ones. */
#define SIGV4_MAX_PARAMS 16

/* Query-string signing (AWS's "presigned URL"; RDS IAM tokens): appends to
 * query the canonical query string (params and the X-Amz-Algorithm,
 * -Credential, -Date, -Expires, -SignedHeaders and, when session_token is
 * not NULL or "", -Security-Token parameters, encoded and sorted) followed by
 * "&X-Amz-Signature=…". r->canonical_query is ignored; r->headers name the
 * signed headers (host at least). expires is in seconds (1..604800). When
 * canonical is not NULL the canonical request is appended to it. The query
 * holds the session token: the caller treats it as a secret. 0 or -1. */
int sigv4_presign(const sigv4_request *r, const sigv4_param *params, size_t nparams,
                  const char *session_token, long expires, sp_buf *query, sp_buf *canonical);

/* Append s[0..n) percent-encoded: every byte except A-Z a-z 0-9 - . _ ~
 * becomes %XX (upper-case hex); '/' is kept when keep_slash (object keys in
 * paths) and encoded otherwise (query values). */
void sigv4_uri_encode(sp_buf *out, const char *s, size_t n, bool keep_slash);

/* HMAC-SHA256 of msg under key into out[32]. false (out zeroed) when
 * libcrypto fails. */
bool sigv4_hmac(const void *key, size_t keylen, const void *msg, size_t msglen,
                unsigned char out[32]);

/* Lowercase hex of n bytes into out (2n+1 bytes with the NUL). */
void sigv4_hex(const unsigned char *p, size_t n, char *out);

/* "YYYYMMDDTHHMMSSZ" for the given Unix time, into out[17]. */
void sigv4_amz_date(long long unix_time, char out[17]);

#endif
