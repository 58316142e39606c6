/* test_s3.c — the S3 backend without a server: settings resolution
 * (environment, profiles, endpoints, limits), messages that name bucket and
 * endpoint but never the secret, and the XML reader on hostile input. The
 * requests themselves are tested against a real server in tests/s3/. */
#include "../test.h"

#include <stdlib.h>
#include <unistd.h>

#include "../../src/store/aws_config.h"
#include "../../src/store/s3_xml.h"
#include "../../src/store/store.h"
#include "../../src/util/log.h"

/* An environment as a NULL-terminated list of "NAME=value". */
static const char *table_env(void *ctx, const char *name)
{
    size_t n = strlen(name);
    for (const char *const *e = ctx; *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

/* Settings and, through the credential chain, the credentials an
 * environment gives (long-term keys only: no request is sent). */
static int resolve(aws_settings *a, aws_creds *cr, char *source, size_t sourcesz,
                   const char *const *env, sp_error *err)
{
    int rc = aws_settings_resolve(a, table_env, (void *)env, err);
    if (rc != SP_OK)
        return rc;
    aws_chain *c;
    if ((rc = aws_chain_open(&c, table_env, (void *)env, err)) != SP_OK)
        return rc;
    snprintf(source, sourcesz, "%s", aws_chain_source(c));
    rc = aws_chain_get(c, cr, err);
    aws_chain_free(c);
    return rc;
}

TEST(s3_settings_from_the_environment)
{
    const char *env[] = {"AWS_ACCESS_KEY_ID=AKIDTEST", "AWS_SECRET_ACCESS_KEY=" SECRET,
                         "AWS_SESSION_TOKEN=tok3n", "AWS_DEFAULT_REGION=eu-west-3",
                         "S3_ENDPOINT_URL=http://low:1", "AWS_ENDPOINT_URL=http://mid:2",
                         "HOME=/nonexistent", NULL};
    aws_settings a;
    aws_creds cr;
    char src[1024];
    sp_error err;
    REQUIRE(resolve(&a, &cr, src, sizeof src, env, &err) == SP_OK);
    CHECK_STR(cr.access_key, "AKIDTEST");
    CHECK_STR(cr.secret_key, SECRET);
    CHECK_STR(cr.session_token, "tok3n");
    CHECK(cr.expires == 0);
    CHECK_STR(a.region, "eu-west-3");
    CHECK_STR(a.endpoint, "http://mid:2"); /* AWS_ENDPOINT_URL over S3_ENDPOINT_URL */
    CHECK_CONTAINS(src, "environment");
    CHECK(strstr(src, SECRET) == NULL && strstr(src, "tok3n") == NULL);

    const char *env2[] = {"AWS_ACCESS_KEY_ID=AKIDTEST", "HOME=/nonexistent", NULL};
    CHECK_INT(resolve(&a, &cr, src, sizeof src, env2, &err), SP_ERR_USAGE);
    CHECK_CONTAINS(err.msg, "AWS_SECRET_ACCESS_KEY is not");

    /* Nothing configured: the chain ends at the instance metadata service,
     * unless it is turned off. */
    const char *env3[] = {"HOME=/nonexistent", "AWS_EC2_METADATA_DISABLED=true", NULL};
    CHECK_INT(resolve(&a, &cr, src, sizeof src, env3, &err), SP_ERR_IO);
    CHECK_CONTAINS(err.msg, "no AWS credentials");
    CHECK_CONTAINS(err.msg, "/nonexistent/.aws/credentials");
    CHECK_CONTAINS(err.msg, "AWS_EC2_METADATA_DISABLED");
    aws_chain *c;
    const char *env4[] = {"HOME=/nonexistent", NULL};
    REQUIRE(aws_chain_open(&c, table_env, (void *)env4, &err) == SP_OK);
    CHECK_CONTAINS(aws_chain_source(c), "instance metadata (IMDSv2 at http://169.254.169.254");
    aws_chain_free(c);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

TEST(s3_settings_from_profiles)
{
    const char *dir = test_tmpdir();
    char cred[512], conf[512], credvar[600], confvar[600];
    snprintf(cred, sizeof cred, "%s/credentials", dir);
    snprintf(conf, sizeof conf, "%s/config", dir);
    write_text(cred, "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = "
                     "sdefault\n\n# comment\n[etl]\n  aws_access_key_id=AKIDETL \n"
                     "aws_secret_access_key = " SECRET "\naws_session_token = tok\n");
    write_text(conf, "[default]\nregion = us-west-2\n[profile etl]\nregion = ap-south-1\n"
                     "[profile cfgonly]\naws_access_key_id = AKIDCFG\naws_secret_access_key = x\n"
                     "[profile half]\naws_access_key_id = AKIDHALF\n"
                     "[profile empty]\nregion = eu-west-1\n"
                     "[profile role]\nrole_arn = arn:aws:iam::1:role/r\n"
                     "[profile role2]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = empty\n");
    snprintf(credvar, sizeof credvar, "AWS_SHARED_CREDENTIALS_FILE=%s", cred);
    snprintf(confvar, sizeof confvar, "AWS_CONFIG_FILE=%s", conf);
    aws_settings a;
    aws_creds cr;
    char src[1024];
    sp_error err;

    const char *def[] = {credvar, confvar, NULL};
    REQUIRE(resolve(&a, &cr, src, sizeof src, def, &err) == SP_OK);
    CHECK_STR(cr.access_key, "AKIDDEFAULT");
    CHECK_STR(a.region, "us-west-2");

    const char *etl[] = {credvar, confvar, "AWS_PROFILE=etl", NULL};
    REQUIRE(resolve(&a, &cr, src, sizeof src, etl, &err) == SP_OK);
    CHECK_STR(cr.access_key, "AKIDETL");
    CHECK_STR(cr.secret_key, SECRET);
    CHECK_STR(cr.session_token, "tok");
    CHECK_STR(a.region, "ap-south-1");
    CHECK_CONTAINS(src, "profile etl");
    char line[128]; /* a secret read from a profile is masked in any log line */
    snprintf(line, sizeof line, "oops %s", SECRET);
    sp_log_scrub(line);
    CHECK_STR(line, "oops ***");

    const char *etl_region[] = {credvar, confvar, "AWS_PROFILE=etl", "AWS_REGION=ca-central-1",
                                "AWS_DEFAULT_REGION=eu-west-1", NULL};
    REQUIRE(resolve(&a, &cr, src, sizeof src, etl_region, &err) == SP_OK);
    CHECK_STR(a.region, "ca-central-1"); /* AWS_REGION over AWS_DEFAULT_REGION and the file */

    const char *cfgonly[] = {credvar, confvar, "AWS_PROFILE=cfgonly", NULL};
    REQUIRE(resolve(&a, &cr, src, sizeof src, cfgonly, &err) == SP_OK);
    CHECK_STR(cr.access_key, "AKIDCFG");

    const char *half[] = {credvar, confvar, "AWS_PROFILE=half", NULL};
    CHECK_INT(resolve(&a, &cr, src, sizeof src, half, &err), SP_ERR_USAGE);
    CHECK_CONTAINS(err.msg, "no aws_secret_access_key");

    const char *missing[] = {credvar, confvar, "AWS_PROFILE=nope", NULL};
    CHECK_INT(resolve(&a, &cr, src, sizeof src, missing, &err), SP_ERR_IO);
    CHECK_CONTAINS(err.msg, "profile 'nope'");
    CHECK_CONTAINS(err.msg, "no such profile");
    CHECK(strstr(err.msg, SECRET) == NULL);

    const char *empty[] = {credvar, confvar, "AWS_PROFILE=empty", NULL};
    CHECK_INT(resolve(&a, &cr, src, sizeof src, empty, &err), SP_ERR_IO);
    CHECK_CONTAINS(err.msg, "no aws_access_key_id, role_arn or credential_process");

    const char *role[] = {credvar, confvar, "AWS_PROFILE=role", NULL};
    CHECK_INT(resolve(&a, &cr, src, sizeof src, role, &err), SP_ERR_UNSUPPORTED);
    CHECK_CONTAINS(err.msg, "role_arn needs source_profile");
    const char *role2[] = {credvar, confvar, "AWS_PROFILE=role2", NULL};
    CHECK_INT(resolve(&a, &cr, src, sizeof src, role2, &err), SP_ERR_USAGE);
    CHECK_CONTAINS(err.msg, "source_profile 'empty' has neither keys nor credential_process");

    /* A line longer than the reader's buffer is an error, not a value cut
     * short (the rest would have been read as another line). */
    static char longtok[10000];
    memset(longtok, 'T', sizeof longtok - 1);
    char *body = malloc(sizeof longtok + 200);
    REQUIRE(body != NULL);
    snprintf(body, sizeof longtok + 200,
             "[long]\naws_access_key_id = AKIDLONG\naws_secret_access_key = x1234\n"
             "aws_session_token = %s\n", longtok);
    write_text(cred, body);
    free(body);
    const char *lng[] = {credvar, confvar, "AWS_PROFILE=long", NULL};
    CHECK_INT(resolve(&a, &cr, src, sizeof src, lng, &err), SP_ERR_LIMIT);
    CHECK_CONTAINS(err.msg, "a line is longer than");
}

TEST(s3_open_checks_settings)
{
    static const struct {
        const char *url, *extra;
        int rc;
        const char *msg;
    } cases[] = {
        {"s3://raw", "", SP_OK, NULL},
        {"s3://raw/some/prefix/", "", SP_OK, NULL},
        {"s3://my.dotted.bucket", "", SP_OK, NULL},
        {"s3://Raw", "", SP_ERR_USAGE, "not a valid S3 bucket name"},
        {"s3://raw/a/../b", "", SP_ERR_USAGE, "prefix"},
        {"s3://raw", "S3_PART_SIZE_MB=4", SP_ERR_USAGE, "S3_PART_SIZE_MB"},
        {"s3://raw", "AWS_MAX_ATTEMPTS=0", SP_ERR_USAGE, "AWS_MAX_ATTEMPTS"},
        {"s3://raw", "AWS_ENDPOINT_URL_S3=ftp://x", SP_ERR_USAGE, "not an http"},
        {"s3://raw", "AWS_ENDPOINT_URL_S3=http://user:pw@host", SP_ERR_USAGE, "credentials"},
        {"s3://raw", "AWS_REGION=us east", SP_ERR_USAGE, "region"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *env[] = {"AWS_ACCESS_KEY_ID=AKID", "AWS_SECRET_ACCESS_KEY=" SECRET,
                             "HOME=/nonexistent", cases[i].extra, NULL};
        store *s = NULL;
        sp_error err;
        int rc = store_open_env(&s, cases[i].url, table_env, env, &err);
        if (rc != cases[i].rc)
            test_fail_at(__FILE__, __LINE__, "%s %s: rc %d, expected %d (%s)", cases[i].url,
                         cases[i].extra, rc, cases[i].rc, rc ? err.msg : "");
        else if (cases[i].msg)
            CHECK_CONTAINS(err.msg, cases[i].msg);
        if (rc != SP_OK)
            CHECK(strstr(err.msg, SECRET) == NULL && strstr(err.msg, ":pw@") == NULL);
        store_close(s);
    }
}

/* No server on the port: a transport failure, retryable, naming the bucket,
 * key and endpoint, never the secret. */
TEST(s3_unreachable_endpoint_message)
{
    const char *env[] = {"AWS_ACCESS_KEY_ID=AKID", "AWS_SECRET_ACCESS_KEY=" SECRET,
                         "AWS_ENDPOINT_URL_S3=http://127.0.0.1:1", "AWS_MAX_ATTEMPTS=2",
                         "HOME=/nonexistent", NULL};
    store *s = NULL;
    sp_error err;
    REQUIRE(store_open_env(&s, "s3://raw/pre", table_env, env, &err) == SP_OK);
    CHECK(store_local_root(s) == NULL);
    store_stat st;
    CHECK_INT(store_stat_key(s, "runs/a b.csv", false, &st, &err), SP_ERR_NET);
    CHECK(err.retryable);
    CHECK_CONTAINS(err.msg, "stat 'runs/a b.csv'");
    CHECK_CONTAINS(err.msg, "bucket raw");
    CHECK_CONTAINS(err.msg, "endpoint http://127.0.0.1:1");
    CHECK_CONTAINS(err.msg, "after 2 attempts");
    CHECK(strstr(err.msg, SECRET) == NULL);
    CHECK_INT(store_put_bytes(s, "x", "abc", 3, &err), SP_ERR_NET);
    CHECK(strstr(err.msg, SECRET) == NULL);
    store_close(s);
}

/* Without an endpoint the backend addresses AWS: virtual-hosted, or
 * path-style for dotted bucket names. A proxy that refuses connections keeps
 * the test off the network; the message names the endpoint chosen. */
TEST(s3_aws_endpoints)
{
    static const struct {
        const char *url, *endpoint;
    } cases[] = {
        {"s3://sales-raw/pre", "endpoint https://sales-raw.s3.eu-west-1.amazonaws.com)"},
        {"s3://sales.raw", "endpoint https://s3.eu-west-1.amazonaws.com)"},
    };
    const char *env[] = {"AWS_ACCESS_KEY_ID=AKID", "AWS_SECRET_ACCESS_KEY=" SECRET,
                         "AWS_REGION=eu-west-1", "AWS_MAX_ATTEMPTS=1", "HOME=/nonexistent",
                         NULL};
    setenv("HTTPS_PROXY", "http://127.0.0.1:1", 1);
    setenv("NO_PROXY", "", 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        store *s = NULL;
        sp_error err;
        if (store_open_env(&s, cases[i].url, table_env, env, &err) != SP_OK) {
            test_fail_at(__FILE__, __LINE__, "%s: %s", cases[i].url, err.msg);
            continue;
        }
        store_stat st;
        CHECK_INT(store_stat_key(s, "k", false, &st, &err), SP_ERR_NET);
        CHECK_CONTAINS(err.msg, cases[i].endpoint);
        store_close(s);
    }
    unsetenv("HTTPS_PROXY");
    unsetenv("NO_PROXY");
}

TEST(s3_xml_reader)
{
    const char *doc = "<R><Contents><Key>a &amp; b&#x2F;&#233;&lt;</Key><Size>12</Size>"
                      "</Contents><Prefix/><Contents><Key>c</Key></Contents><KeyCount>2"
                      "</KeyCount><Open>x";
    const char *p = doc, *end = doc + strlen(doc), *v;
    size_t vl;
    char out[64];
    REQUIRE(s3_xml_next(&p, end, "Contents", &v, &vl) == 1);
    CHECK(s3_xml_find(v, v + vl, "Key", out, sizeof out));
    CHECK_STR(out, "a & b/\xc3\xa9<");
    CHECK(s3_xml_find(v, v + vl, "Size", out, sizeof out));
    CHECK_STR(out, "12");
    REQUIRE(s3_xml_next(&p, end, "Contents", &v, &vl) == 1);
    CHECK(!s3_xml_find(v, v + vl, "Size", out, sizeof out));
    CHECK_INT(s3_xml_next(&p, end, "Contents", &v, &vl), 0);
    CHECK(s3_xml_find(doc, end, "Prefix", out, sizeof out));
    CHECK_STR(out, "");
    CHECK(s3_xml_find(doc, end, "KeyCount", out, sizeof out)); /* not confused with Key */
    CHECK_STR(out, "2");
    p = doc;
    CHECK_INT(s3_xml_next(&p, end, "Open", &v, &vl), -1); /* never closed */
    /* Empty and full elements in document order, whichever comes first. */
    const char *mix = "<L><X>1</X><X/><X>2</X><X/></L>";
    const char *want[] = {"1", "", "2", ""};
    p = mix;
    for (size_t i = 0; i < 4; i++) {
        REQUIRE(s3_xml_next(&p, mix + strlen(mix), "X", &v, &vl) == 1);
        CHECK_INT((long)vl, (long)strlen(want[i]));
        CHECK(memcmp(v, want[i], vl) == 0);
    }
    CHECK_INT(s3_xml_next(&p, mix + strlen(mix), "X", &v, &vl), 0);

    static const char *const bad[] = {"&bogus;", "&#0;", "&#xD800;", "&#x110000;", "a<b",
                                      "&amp", "&#;", "&#x;", "&#12a;"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (s3_xml_text(bad[i], strlen(bad[i]), out, sizeof out) != -1)
            test_fail_at(__FILE__, __LINE__, "'%s' decoded", bad[i]);
    CHECK_INT(s3_xml_text("abcdef", 6, out, 4), -1); /* does not fit */
    CHECK_INT(s3_xml_text("a\0b", 3, out, sizeof out), -1);
    /* A long run of '<' with no match is linear, never a read past end. */
    char big[4096];
    memset(big, '<', sizeof big);
    p = big;
    CHECK_INT(s3_xml_next(&p, big + sizeof big, "Key", &v, &vl), 0);
}
