/* test_sigv4.c — the SigV4 signer against AWS's published vectors: the
 * aws-sig-v4-test-suite cases (AKIDEXAMPLE, service "service") and the S3
 * API reference examples (AKIAIOSFODNN7EXAMPLE, examplebucket, 20130524),
 * as a table; then the URI encoding of awkward keys. */
#include "../test.h"

#include "../../src/store/sigv4.h"

typedef struct vector {
    const char *name;
    const char *method, *uri, *query;
    sigv4_header headers[6];
    const char *payload;
    int suite; /* 0: aws-sig-v4-test-suite; 1: S3 API reference */
    const char *signed_headers, *signature;
} vector;

#define SUITE_DATE "20150830T123600Z"
#define S3_DATE "20130524T000000Z"
#define S3_HOST "examplebucket.s3.amazonaws.com"
#define FORM_SHA "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"
#define WELCOME_SHA "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"

static const vector VECTORS[] = {
    {"get-vanilla", "GET", "/", "",
     {{"host", "example.amazonaws.com"}, {"x-amz-date", SUITE_DATE}}, SIGV4_EMPTY_SHA256, 0,
     "host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    {"get-vanilla-query-order-key-case", "GET", "/", "Param1=value1&Param2=value2",
     {{"x-amz-date", SUITE_DATE}, {"host", "example.amazonaws.com"}}, SIGV4_EMPTY_SHA256, 0,
     "host;x-amz-date", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
    {"get-utf8", "GET", "/%E1%88%B4", "",
     {{"host", "example.amazonaws.com"}, {"x-amz-date", SUITE_DATE}}, SIGV4_EMPTY_SHA256, 0,
     "host;x-amz-date", "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
    {"post-x-www-form-urlencoded (signed body)", "POST", "/", "",
     {{"x-amz-date", SUITE_DATE},
      {"content-type", "application/x-www-form-urlencoded"},
      {"host", "example.amazonaws.com"},
      {"content-length", "13"},
      {"x-amz-content-sha256", FORM_SHA}},
     FORM_SHA, 0, "content-length;content-type;host;x-amz-content-sha256;x-amz-date",
     "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b"},
    {"S3 GET object with Range", "GET", "/test.txt", "",
     {{"host", S3_HOST},
      {"range", "bytes=0-9"},
      {"x-amz-content-sha256", SIGV4_EMPTY_SHA256},
      {"x-amz-date", S3_DATE}},
     SIGV4_EMPTY_SHA256, 1, "host;range;x-amz-content-sha256;x-amz-date",
     "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"},
    {"S3 PUT object ($ in the key, storage class)", "PUT", "/test%24file.text", "",
     {{"date", "Fri, 24 May 2013 00:00:00 GMT"},
      {"host", S3_HOST},
      {"x-amz-content-sha256", WELCOME_SHA},
      {"x-amz-date", S3_DATE},
      {"x-amz-storage-class", "REDUCED_REDUNDANCY"}},
     WELCOME_SHA, 1, "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
     "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"},
    {"S3 GET bucket lifecycle (empty-valued subresource)", "GET", "/", "lifecycle=",
     {{"host", S3_HOST}, {"x-amz-content-sha256", SIGV4_EMPTY_SHA256}, {"x-amz-date", S3_DATE}},
     SIGV4_EMPTY_SHA256, 1, "host;x-amz-content-sha256;x-amz-date",
     "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"},
    {"S3 GET bucket (list objects, sorted query)", "GET", "/", "max-keys=2&prefix=J",
     {{"host", S3_HOST}, {"x-amz-content-sha256", SIGV4_EMPTY_SHA256}, {"x-amz-date", S3_DATE}},
     SIGV4_EMPTY_SHA256, 1, "host;x-amz-content-sha256;x-amz-date",
     "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"},
};

TEST(sigv4_published_vectors)
{
    for (size_t i = 0; i < sizeof VECTORS / sizeof VECTORS[0]; i++) {
        const vector *v = &VECTORS[i];
        size_t nh = 0;
        while (nh < 6 && v->headers[nh].name)
            nh++;
        sigv4_request r = {
            .method = v->method,
            .canonical_uri = v->uri,
            .canonical_query = v->query,
            .headers = v->headers,
            .nheaders = nh,
            .payload_sha256 = v->payload,
            .amz_date = v->suite ? S3_DATE : SUITE_DATE,
            .region = "us-east-1",
            .service = v->suite ? "s3" : "service",
            .access_key = v->suite ? "AKIAIOSFODNN7EXAMPLE" : "AKIDEXAMPLE",
            .secret_key = v->suite ? "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
                                   : "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        };
        char auth[512], want[512];
        if (sigv4_sign(&r, auth, sizeof auth, NULL, NULL) != 0) {
            test_fail_at(__FILE__, __LINE__, "%s: sigv4_sign failed", v->name);
            continue;
        }
        snprintf(want, sizeof want,
                 "AWS4-HMAC-SHA256 Credential=%s/%.8s/us-east-1/%s/aws4_request, "
                 "SignedHeaders=%s, Signature=%s",
                 r.access_key, r.amz_date, r.service, v->signed_headers, v->signature);
        if (strcmp(auth, want) != 0)
            test_fail_at(__FILE__, __LINE__, "%s:\n  got  %s\n  want %s", v->name, auth, want);
    }
}

/* The S3 reference spells out the canonical request and string to sign of
 * its GET-with-Range example; check both, not only the final signature. */
TEST(sigv4_canonical_request_and_string_to_sign)
{
    const sigv4_header h[] = {{"x-amz-date", S3_DATE},
                              {"range", "  bytes=0-9 "},
                              {"x-amz-content-sha256", SIGV4_EMPTY_SHA256},
                              {"host", S3_HOST}};
    sigv4_request r = {"GET", "/test.txt", "", h, 4, SIGV4_EMPTY_SHA256, S3_DATE, "us-east-1",
                       "s3", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"};
    sp_buf creq, sts;
    sp_buf_init(&creq, 0);
    sp_buf_init(&sts, 0);
    char auth[512];
    REQUIRE(sigv4_sign(&r, auth, sizeof auth, &creq, &sts) == 0);
    sp_buf_putc(&creq, 0);
    sp_buf_putc(&sts, 0);
    CHECK_STR((char *)creq.data,
              "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
              "x-amz-content-sha256:" SIGV4_EMPTY_SHA256 "\nx-amz-date:20130524T000000Z\n\n"
              "host;range;x-amz-content-sha256;x-amz-date\n" SIGV4_EMPTY_SHA256);
    CHECK_STR((char *)sts.data,
              "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
              "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
    CHECK(strstr(auth, "wJalr") == NULL); /* the secret never leaves the signer */
    sp_buf_free(&creq);
    sp_buf_free(&sts);
}

TEST(sigv4_rejects_malformed_inputs)
{
    const sigv4_header h[] = {{"host", "h"}};
    sigv4_request r = {"GET", "/", "", h, 1, SIGV4_EMPTY_SHA256, "2013-05-24", "us-east-1",
                       "s3", "AK", "SK"};
    char auth[512];
    CHECK_INT(sigv4_sign(&r, auth, sizeof auth, NULL, NULL), -1);
    r.amz_date = S3_DATE;
    CHECK_INT(sigv4_sign(&r, auth, 20, NULL, NULL), -1); /* no room */
    r.nheaders = SIGV4_MAX_HEADERS + 1;
    CHECK_INT(sigv4_sign(&r, auth, sizeof auth, NULL, NULL), -1);
}

TEST(sigv4_uri_encoding)
{
    static const struct {
        const char *in;
        bool keep_slash;
        const char *out;
    } cases[] = {
        {"runs/2024-01-02/West_orders.csv", true, "runs/2024-01-02/West_orders.csv"},
        {"a b/c=d+e", true, "a%20b/c%3Dd%2Be"},
        {"a b/c=d+e", false, "a%20b%2Fc%3Dd%2Be"},
        {"caf\xc3\xa9~x.y_z-", true, "caf%C3%A9~x.y_z-"},
        {"100%&?#*", true, "100%25%26%3F%23%2A"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sp_buf b;
        sp_buf_init(&b, 0);
        sigv4_uri_encode(&b, cases[i].in, strlen(cases[i].in), cases[i].keep_slash);
        sp_buf_putc(&b, 0);
        CHECK_STR((char *)b.data, cases[i].out);
        sp_buf_free(&b);
    }
    char d[17];
    sigv4_amz_date(1440938160, d);
    CHECK_STR(d, SUITE_DATE);
}

/* Query-string signing: the S3 API reference's presigned URL example (GET
 * test.txt, valid 86400 s, UNSIGNED-PAYLOAD) gives its documented query and
 * signature; then an RDS-style token (parameters of our own, a session
 * token) keeps AWS's order: every parameter sorted by name. */
TEST(sigv4_presign_published_example)
{
    const sigv4_header h[] = {{"host", S3_HOST}};
    sigv4_request r = {"GET", "/test.txt", NULL, h, 1, "UNSIGNED-PAYLOAD", S3_DATE, "us-east-1",
                       "s3", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"};
    sp_buf q;
    sp_buf_init(&q, 0);
    REQUIRE(sigv4_presign(&r, NULL, 0, NULL, 86400, &q, NULL) == 0);
    sp_buf_putc(&q, 0);
    CHECK_STR((char *)q.data,
              "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524"
              "%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
              "&X-Amz-SignedHeaders=host&X-Amz-Signature="
              "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    sp_buf_free(&q);

    const sigv4_header rh[] = {{"host", "db.example.com:5432"}};
    sigv4_param p[] = {{"DBUser", "etl user"}, {"Action", "connect"}};
    sigv4_request rr = {"GET", "/", NULL, rh, 1, SIGV4_EMPTY_SHA256, S3_DATE, "eu-west-1",
                        "rds-db", "ASIATEMP", "secret"};
    sp_buf_init(&q, 0);
    sp_buf creq;
    sp_buf_init(&creq, 0);
    REQUIRE(sigv4_presign(&rr, p, 2, "tok/en+=", 900, &q, &creq) == 0);
    sp_buf_putc(&q, 0);
    sp_buf_putc(&creq, 0);
    static const char want[] =
                  "Action=connect&DBUser=etl%20user&X-Amz-Algorithm=AWS4-HMAC-SHA256&"
                  "X-Amz-Credential=ASIATEMP%2F20130524%2Feu-west-1%2Frds-db%2Faws4_request&"
                  "X-Amz-Date=20130524T000000Z&X-Amz-Expires=900&"
                  "X-Amz-Security-Token=tok%2Fen%2B%3D&X-Amz-SignedHeaders=host&X-Amz-Signature=";
    CHECK(strncmp((char *)q.data, want, sizeof want - 1) == 0);
    CHECK(strlen((char *)q.data) == sizeof want - 1 + 64);
    CHECK_CONTAINS((char *)creq.data, "\nhost:db.example.com:5432\n\nhost\n" SIGV4_EMPTY_SHA256);
    CHECK_INT(sigv4_presign(&rr, p, 2, NULL, 0, &q, NULL), -1); /* expires out of range */
    sp_buf_free(&q);
    sp_buf_free(&creq);
}
