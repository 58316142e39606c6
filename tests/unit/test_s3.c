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

/* The endpoint's precedence, as a table: the S3 backend and `salespipe
 * config` both ask store_s3_endpoint, so this is what each of them uses. An
 * empty value counts as unset. */
TEST(s3_endpoint_precedence)
{
    static const struct {
        const char *env[4];
        const char *endpoint, *name; /* NULL: AWS's own endpoint */
    } cases[] = {
        {{NULL}, NULL, NULL},
        {{"S3_ENDPOINT_URL=http://low:1", NULL}, "http://low:1", "S3_ENDPOINT_URL"},
        {{"S3_ENDPOINT_URL=http://low:1", "AWS_ENDPOINT_URL=http://mid:2", NULL}, "http://mid:2",
         "AWS_ENDPOINT_URL"},
        {{"S3_ENDPOINT_URL=http://low:1", "AWS_ENDPOINT_URL=http://mid:2",
          "AWS_ENDPOINT_URL_S3=http://top:3", NULL},
         "http://top:3", "AWS_ENDPOINT_URL_S3"},
        {{"AWS_ENDPOINT_URL_S3=", "S3_ENDPOINT_URL=http://low:1", NULL}, "http://low:1",
         "S3_ENDPOINT_URL"},
        {{"AWS_ENDPOINT_URL_S3=", "AWS_ENDPOINT_URL=", "S3_ENDPOINT_URL=", NULL}, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *name = "untouched";
        const char *ep = store_s3_endpoint(table_env, (void *)cases[i].env, &name);
        if (cases[i].endpoint) {
            REQUIRE(ep != NULL);
            CHECK_STR(ep, cases[i].endpoint);
            CHECK_STR(name, cases[i].name);
        } else {
            CHECK(ep == NULL);
            CHECK_STR(name, "untouched");
        }
        CHECK(store_s3_endpoint(table_env, (void *)cases[i].env, NULL) == ep);
    }
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

typedef struct entries {
    char got[4][80];
    int n, stop_at;
} entries;

static int take_entry(void *ctx, const char *key, const char *size)
{
    entries *e = ctx;
    if (e->n < 4)
        snprintf(e->got[e->n], sizeof e->got[0], "%s|%s", key, size);
    return ++e->n == e->stop_at ? 42 : 0;
}

/* S3's XML through expat: entities and character references decoded, the
 * entries of a page in order, element names matched exactly (KeyCount is
 * not Key), values capped, and hostile bodies refused. */
TEST(s3_xml_reader)
{
    const char *doc = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult><Contents>"
                      "<Key>a &amp; b&#x2F;&#233;&lt;</Key><Size>12</Size></Contents><Prefix/>"
                      "<Contents><Key>c</Key></Contents><KeyCount>2</KeyCount>"
                      "<IsTruncated>true</IsTruncated><NextContinuationToken>t+1=</NextContinuationToken>"
                      "</ListBucketResult>";
    char out[64], key[64], trunc[16], token[32];
    CHECK_INT(s3_xml_root(doc, strlen(doc), out, sizeof out), 0);
    CHECK_STR(out, "ListBucketResult");
    entries e = {.stop_at = -1};
    CHECK_INT(s3_xml_list(doc, strlen(doc), take_entry, &e, key, sizeof key, trunc, sizeof trunc,
                          token, sizeof token), 0);
    CHECK_INT(e.n, 2);
    CHECK_STR(e.got[0], "a & b/\xc3\xa9<|12");
    CHECK_STR(e.got[1], "c|");
    CHECK_STR(trunc, "true");
    CHECK_STR(token, "t+1=");
    entries stop = {.stop_at = 1}; /* the callback's own status comes back */
    CHECK_INT(s3_xml_list(doc, strlen(doc), take_entry, &stop, key, sizeof key, trunc,
                          sizeof trunc, token, sizeof token), 42);
    CHECK_INT(stop.n, 1);
    CHECK_INT(s3_xml_find(doc, strlen(doc), "Prefix", out, sizeof out), 1);
    CHECK_STR(out, "");
    CHECK_INT(s3_xml_find(doc, strlen(doc), "KeyCount", out, sizeof out), 1);
    CHECK_STR(out, "2");
    CHECK_INT(s3_xml_find(doc, strlen(doc), "UploadId", out, sizeof out), 0);
    CHECK_INT(s3_xml_find(doc, strlen(doc), "Key", out, 4), S3_XML_BAD); /* does not fit */

    static const char *const bad[] = {
        "<R><Key>&bogus;</Key></R>", "<R><Key>&#0;</Key></R>", "<R><Key>&#xD800;</Key></R>",
        "<R><Key>&#x110000;</Key></R>", "<R><Key>a<b</Key></R>", "<R><Key>&amp</Key></R>",
        "<R><Key>&#;</Key></R>", "<R><Key>&#12a;</Key></R>", "<R><Key>x</R>",
        "<!DOCTYPE R [<!ENTITY a \"aaaa\">]><R><Key>&a;</Key></R>", "not xml at all", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (s3_xml_find(bad[i], strlen(bad[i]), "Key", out, sizeof out) != S3_XML_BAD)
            test_fail_at(__FILE__, __LINE__, "'%s' accepted", bad[i]);
    /* A listing: another root or no XML is not a listing; a listing that
     * goes wrong further on is malformed. */
    static const struct {
        const char *doc;
        int rc;
    } lists[] = {
        {"not xml at all", S3_XML_NOT_LIST},
        {"<Error><Contents><Key>a</Key></Contents></Error>", S3_XML_NOT_LIST},
        {"<ListBucketResult><Contents><Key>a</Key><Size>1</ListBucketResult>", S3_XML_BAD},
        {"<ListBucketResult><Contents><Key>&bogus;</Key></Contents></ListBucketResult>",
         S3_XML_BAD},
        {"<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>", S3_XML_BAD},
    };
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        entries none = {.stop_at = -1};
        int rc = s3_xml_list(lists[i].doc, strlen(lists[i].doc), take_entry, &none, key,
                             sizeof key, trunc, sizeof trunc, token, sizeof token);
        if (rc != lists[i].rc || none.n != 0)
            test_fail_at(__FILE__, __LINE__, "'%s': %d (%d entries), expected %d", lists[i].doc,
                         rc, none.n, lists[i].rc);
    }
    const char *err = "<Error><Code>NoSuchKey</Code><Message>x &gt; y</Message></Error>";
    CHECK_INT(s3_xml_root(err, strlen(err), out, sizeof out), 0);
    CHECK_STR(out, "Error");
    CHECK_INT(s3_xml_find(err, strlen(err), "Message", out, sizeof out), 1);
    CHECK_STR(out, "x > y");
    /* A long run of '<' is an error, never a read past the end. */
    char big[4096];
    memset(big, '<', sizeof big);
    CHECK_INT(s3_xml_find(big, sizeof big, "Key", out, sizeof out), S3_XML_BAD);
}
