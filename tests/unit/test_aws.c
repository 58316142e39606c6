/* test_aws.c — the AWS answers' readers without a server (aws_http.c):
 * ISO 8601 times, credentials JSON (IMDS, container, credential_process)
 * with missing or hostile fields, STS XML with entities, errors and a DTD
 * refused; messages never quote a secret. The requests themselves are
 * tested against loopback stand-ins in tests/aws/. */
#include "../test.h"

#include "../../src/store/aws_http.h"

TEST(aws_iso8601_times)
{
    CHECK(aws_parse_time("1970-01-01T00:00:00Z") == 0);
    CHECK(aws_parse_time("2026-12-06T10:00:00Z") == 1796551200LL);
    CHECK(aws_parse_time("2026-12-06T10:00:00.123Z") == 1796551200LL);
    CHECK(aws_parse_time("2026-12-06T12:00:00+02:00") == 1796551200LL);
    CHECK(aws_parse_time("2026-12-06T05:30:00-04:30") == 1796551200LL);
    static const char *const bad[] = {"", "2026-12-06", "2026-12-06T10:00:00", "2026-13-06T10:00:00Z",
                                      "2026-12-06T10:00:00Zjunk", "2026-12-06 10:00:00Z",
                                      "2026-12-06T10:00:00+0200"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (aws_parse_time(bad[i]) != -1)
            test_fail_at(__FILE__, __LINE__, "'%s' parsed", bad[i]);
}

#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

TEST(aws_json_credentials)
{
    char ak[64], sk[64], tok[64];
    long long exp;
    aws_json_creds o = {ak, sizeof ak, sk, sizeof sk, tok, sizeof tok, &exp};
    sp_error err;
    const char *good = "{\"Code\":\"Success\",\"Type\":\"AWS-HMAC\",\"AccessKeyId\":\"ASIAX\","
                       "\"SecretAccessKey\":\"" SECRET "\",\"Token\":\"t\\u00e9\","
                       "\"Expiration\":\"2026-12-06T10:00:00Z\"}";
    REQUIRE(aws_json_creds_parse(good, strlen(good), "Token", false, &o, "imds", &err) == SP_OK);
    CHECK_STR(ak, "ASIAX");
    CHECK_STR(sk, SECRET);
    CHECK_STR(tok, "t\xc3\xa9");
    CHECK(exp == 1796551200LL);

    static const struct {
        const char *body, *msg;
    } cases[] = {
        {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"" SECRET "\"}", "no \"Token\""},
        {"{\"AccessKeyId\":\"A\",\"Token\":\"t\"}", "no \"SecretAccessKey\""},
        {"{\"AccessKeyId\":1,\"SecretAccessKey\":\"" SECRET "\",\"Token\":\"t\"}", "not a string"},
        {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"" SECRET "\",\"Token\":\"t\","
         "\"Expiration\":\"soon\"}", "not an ISO 8601 time"},
        {"{\"Code\":\"Failure\",\"Message\":\"no role\"}", "says Failure: no role"},
        {"[1,2]", "not an object"},
        {"{\"AccessKeyId\":\"" SECRET, "not JSON"},
        {"{\"AccessKeyId\":\"A\",\"AccessKeyId\":\"B\"}", "not JSON"},
        {"{\"AccessKeyId\":\"A\\u0000B\",\"SecretAccessKey\":\"" SECRET "\",\"Token\":\"t\"}",
         "not JSON"}, /* jansson refuses \u0000 */
        {"{\"AccessKeyId\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
         "\",\"SecretAccessKey\":\"s\",\"Token\":\"t\"}", "longer than 63 bytes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = aws_json_creds_parse(cases[i].body, strlen(cases[i].body), "Token", false, &o,
                                      "imds", &err);
        if (rc == SP_OK)
            test_fail_at(__FILE__, __LINE__, "case %zu accepted", i);
        else
            CHECK_CONTAINS(err.msg, cases[i].msg);
        CHECK(strstr(err.msg, SECRET) == NULL && strstr(err.msg, "imds") == err.msg);
    }
    /* credential_process: the session token may be absent. */
    const char *lt = "{\"Version\":1,\"AccessKeyId\":\"AKIA\",\"SecretAccessKey\":\"s\"}";
    REQUIRE(aws_json_creds_parse(lt, strlen(lt), "SessionToken", true, &o, "process", &err) ==
            SP_OK);
    CHECK_STR(tok, "");
    CHECK(exp == 0);
}

TEST(aws_xml_fields_sts)
{
    const char *ok = "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
                     "<AssumeRoleResult><Credentials><AccessKeyId>ASIA</AccessKeyId>"
                     "<SecretAccessKey>a&amp;b&#x2F;c</SecretAccessKey><SessionToken>tok"
                     "</SessionToken><Expiration>2026-12-06T10:00:00Z</Expiration></Credentials>"
                     "</AssumeRoleResult></AssumeRoleResponse>";
    char a[16], s[16], t[16], e[32];
    char *outs[4] = {a, s, t, e};
    const size_t sz[4] = {sizeof a, sizeof s, sizeof t, sizeof e};
    static const char *const names[4] = {"AccessKeyId", "SecretAccessKey", "SessionToken",
                                         "Expiration"};
    sp_error err;
    REQUIRE(aws_xml_fields(ok, strlen(ok), names, 4, outs, sz, "sts", &err) == SP_OK);
    CHECK_STR(a, "ASIA");
    CHECK_STR(s, "a&b/c");
    CHECK_STR(t, "tok");
    CHECK_STR(e, "2026-12-06T10:00:00Z");

    const char *missing = "<ErrorResponse><Error><Code>AccessDenied</Code></Error></ErrorResponse>";
    REQUIRE(aws_xml_fields(missing, strlen(missing), names, 4, outs, sz, "sts", &err) == SP_OK);
    CHECK_STR(a, "");

    static const char *const bad[] = {
        "<R><AccessKeyId>x</R>", "<R><AccessKeyId>&nope;</AccessKeyId></R>",
        "<!DOCTYPE R [<!ENTITY x \"y\">]><R><AccessKeyId>&x;</AccessKeyId></R>",
        "<R><AccessKeyId>0123456789abcdefXYZ</AccessKeyId></R>"};
    static const char *const why[] = {"not well-formed", "not well-formed", "DTD", "too long"};
    for (size_t i = 0; i < 4; i++) {
        CHECK_INT(aws_xml_fields(bad[i], strlen(bad[i]), names, 4, outs, sz, "sts", &err),
                  SP_ERR_CORRUPT);
        CHECK_CONTAINS(err.msg, why[i]);
    }
}

TEST(aws_url_origin_and_authority)
{
    char out[128];
    aws_url_origin("http://169.254.170.2/v2/credentials/abc?x=1", out, sizeof out);
    CHECK_STR(out, "http://169.254.170.2");
    aws_url_origin("https://user:pw@host:8443/p", out, sizeof out);
    CHECK_STR(out, "https://host:8443");
    CHECK_INT(aws_url_authority("https://STS.eu-west-1.AmazonAWS.com/", out, sizeof out), 0);
    CHECK_STR(out, "sts.eu-west-1.amazonaws.com");
    CHECK_INT(aws_url_authority("http://a:b@host/", out, sizeof out), -1);
    CHECK_INT(aws_url_authority("nohost", out, sizeof out), -1);
}
