/* fuzz_aws_answers.c — libFuzzer target for what AWS endpoints send back,
 * built and run by scripts/fuzz.sh (`make fuzz`): the whole input as an S3
 * answer (s3_xml.c: root, lookups, a ListObjectsV2 walk), an STS answer
 * (aws_xml_fields), credentials JSON (IMDS, container, credential_process)
 * and a Secrets Manager answer (aws_json_fields), and as an ISO 8601 time.
 * Properties: no crash, no read past the input (an exact-size heap copy),
 * every value written NUL-terminated within its buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/store/aws_http.h"
#include "../../src/store/s3_xml.h"

static int entry(void *ctx, const char *key, const char *size)
{
    size_t *n = ctx;
    if (strlen(key) > 1024 || strlen(size) > 31)
        abort(); /* a value longer than its buffer */
    return ++*n > 5000 ? 1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *p = malloc(size + 1);
    if (!p)
        return 0;
    memcpy(p, data, size);
    p[size] = '\0'; /* for the time parser only: the others get (p, size) */

    char root[32], out[256], key[1025], trunc[16], token[1024];
    s3_xml_root(p, size, root, sizeof root);
    s3_xml_find(p, size, "Code", out, sizeof out);
    size_t n = 0;
    s3_xml_list(p, size, entry, &n, key, sizeof key, trunc, sizeof trunc, token, sizeof token);

    sp_error err;
    char a[64], s[64], t[256], e[40];
    char *outs[4] = {a, s, t, e};
    const size_t sz[4] = {sizeof a, sizeof s, sizeof t, sizeof e};
    static const char *const xml_names[4] = {"AccessKeyId", "SecretAccessKey", "SessionToken",
                                             "Expiration"};
    aws_xml_fields(p, size, xml_names, 4, outs, sz, "fuzz", &err);
    long long exp;
    aws_json_creds jc = {a, sizeof a, s, sizeof s, t, sizeof t, &exp};
    aws_json_creds_parse(p, size, "Token", false, &jc, "fuzz", &err);
    aws_json_creds_parse(p, size, "SessionToken", true, &jc, "fuzz", &err);
    static const char *const json_names[4] = {"username", "password", "host", "port"};
    aws_json_fields(p, size, json_names, 4, outs, sz, "fuzz", &err);
    aws_parse_time(p);
    free(p);
    return 0;
}
