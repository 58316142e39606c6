/* test_config.c — configuration precedence (flag > env > .env > default),
 * .env syntax, validation errors (exit 2 class) and secret masking. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/config/config.h"
#include "../test.h"

static const char *write_file(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", test_tmpdir(), name);
    FILE *f = fopen(path, "w");
    if (!f)
        return NULL;
    fputs(text, f);
    fclose(f);
    return path;
}

TEST(config_precedence_flag_env_dotenv_default)
{
    const char *envf = write_file("a.env", "SALES_THRESHOLD=500\nDATE_ORDER=dmy\nRAW_PATTERN=*.csv\n"
                                           "RETRIES=7\n");
    REQUIRE(envf);
    setenv("DATE_ORDER", "ymd", 1);
    setenv("RETRIES", "5", 1);
    sp_config *c = sp_config_new();
    sp_error err;
    sp_error_clear(&err);
    CHECK_INT(sp_config_set_flag(c, "RETRIES", "9", &err), SP_OK);
    CHECK_INT(sp_config_load(c, envf, &err), SP_OK);
    CHECK_STR(sp_config_get(c, "RETRIES"), "9");               /* flag */
    CHECK_INT(sp_config_source(c, "RETRIES"), SP_SRC_FLAG);
    CHECK_STR(sp_config_get(c, "DATE_ORDER"), "ymd");          /* env beats .env */
    CHECK_INT(sp_config_source(c, "DATE_ORDER"), SP_SRC_ENV);
    CHECK_STR(sp_config_get(c, "SALES_THRESHOLD"), "500");     /* .env beats default */
    CHECK_INT(sp_config_source(c, "SALES_THRESHOLD"), SP_SRC_DOTENV);
    CHECK_STR(sp_config_get(c, "DATA_DIR"), "./data");         /* default */
    CHECK_STR(sp_config_get(c, "RAW_STORE"), "./lake/raw");
    CHECK(sp_config_get(c, "DATABASE_URL") == NULL);
    sp_config_free(c);
    unsetenv("DATE_ORDER");
    unsetenv("RETRIES");
}

TEST(config_dotenv_syntax)
{
    const char *envf = write_file("b.env",
                                  "# comment\n\n"
                                  "export DATA_DIR=/srv/data   # trailing comment\r\n"
                                  "RAW_PATTERN=\"*_orders.csv\"\n"
                                  "S3_PREFIX='runs/a b#c/'\n"
                                  "ALERT_EMAIL = ops@example.com\n"
                                  "TF_VAR_UNRELATED=whatever\n"
                                  "RDS_DB=sales#db\n");
    sp_config *c = sp_config_new();
    sp_error err;
    sp_error_clear(&err);
    CHECK_INT(sp_config_load(c, envf, &err), SP_OK);
    CHECK_STR(sp_config_get(c, "DATA_DIR"), "/srv/data");
    CHECK_STR(sp_config_get(c, "RAW_PATTERN"), "*_orders.csv");
    CHECK_STR(sp_config_get(c, "S3_PREFIX"), "runs/a b#c/");
    CHECK_STR(sp_config_get(c, "ALERT_EMAIL"), "ops@example.com");
    CHECK_STR(sp_config_get(c, "RDS_DB"), "sales#db"); /* '#' not after a blank is data */
    sp_config_free(c);
}

TEST(config_errors_name_the_cause)
{
    static const struct {
        const char *dotenv;
        const char *want;
    } cases[] = {
        {"SALES_THRESHOLD=lots\n", "SALES_THRESHOLD: 'lots' is not a decimal number"},
        {"DATE_ORDER=yolo\n", "DATE_ORDER: 'yolo' is not one of auto,mdy,dmy,ymd"},
        {"RAW_STORE=ftp://x/y\n", "RAW_STORE: unknown URL scheme 'ftp'"},
        {"PROCESSED_STORE=s3://Bad_Bucket\n", "not a valid S3 bucket name"},
        {"DATABASE_URL=mysql://u@h/db\n", "DATABASE_URL: unknown URL scheme 'mysql'"},
        {"DATABASE_URL=sqlite://wh.db\n", "sqlite:///relative.db"},
        {"RDS_PORT=99999\n", "RDS_PORT: '99999' is not a port number"},
        {"RETRIES=-1\n", "RETRIES: '-1' is not a non-negative integer"},
        {"ENCODING=latin9\n", "ENCODING: 'latin9' is not one of auto,utf-8,windows-1252"},
        {"just words\n", ":1: expected NAME=value"},
        {"\nRAW_PATTERN=\"open\n", ":2: unterminated \" quote"},
        {"9LIVES=1\n", "'9LIVES' is not a variable name"},
        {"AWS_ENDPOINT_URL=localhost:9000\n", "AWS_ENDPOINT_URL: expected an http:// or https:// URL"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *envf = write_file("c.env", cases[i].dotenv);
        sp_config *c = sp_config_new();
        sp_error err;
        sp_error_clear(&err);
        int rc = sp_config_load(c, envf, &err);
        CHECK_INT(rc, SP_ERR_USAGE);
        CHECK_CONTAINS(err.msg, cases[i].want);
        sp_config_free(c);
    }
    sp_config *c = sp_config_new();
    sp_error err;
    CHECK_INT(sp_config_load(c, "/nonexistent/x.env", &err), SP_ERR_USAGE);
    CHECK_CONTAINS(err.msg, "/nonexistent/x.env");
    sp_config_free(c);
}

TEST(config_bucket_names_become_s3_stores)
{
    setenv("S3_BUCKET", "sales-raw", 1);
    const char *envf = write_file("d.env", "PROCESSED_BUCKET=sales-processed\n"
                                           "PROCESSED_STORE=./mine\n");
    sp_config *c = sp_config_new();
    sp_error err;
    CHECK_INT(sp_config_load(c, envf, &err), SP_OK);
    CHECK_STR(sp_config_get(c, "RAW_STORE"), "s3://sales-raw");
    /* an explicit store at the same level wins over the bucket name */
    CHECK_STR(sp_config_get(c, "PROCESSED_STORE"), "./mine");
    sp_config_free(c);
    unsetenv("S3_BUCKET");
}

static char seen[8][128];
static int nseen;
static void collect(const char *s)
{
    if (nseen < 8)
        snprintf(seen[nseen++], sizeof seen[0], "%s", s);
}

TEST(config_masks_secrets)
{
    const char *envf = write_file("e.env",
                                  "DATABASE_URL=postgresql://etl:s3cr%40t@db.example:5432/sales\n"
                                  "RDS_PASS=rds-password-1\n"
                                  "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG\n"
                                  "SMTP_URL=smtps://alerts:mailpass@smtp.example:465\n"
                                  "ALERT_WEBHOOK_URL=https://hooks.slack.com/services/T0/B0/tok3n\n");
    sp_config *c = sp_config_new();
    sp_error err;
    REQUIRE(sp_config_load(c, envf, &err) == SP_OK);
    char out[256];
    CHECK_STR(sp_config_display(c, "DATABASE_URL", out, sizeof out),
              "postgresql://etl:***@db.example:5432/sales");
    CHECK_STR(sp_config_display(c, "RDS_PASS", out, sizeof out), "********");
    CHECK_STR(sp_config_display(c, "AWS_SECRET_ACCESS_KEY", out, sizeof out), "********");
    CHECK_STR(sp_config_display(c, "SMTP_URL", out, sizeof out), "smtps://alerts:***@smtp.example:465");
    CHECK_STR(sp_config_display(c, "ALERT_WEBHOOK_URL", out, sizeof out), "https://hooks.slack.com/***");
    CHECK_STR(sp_config_display(c, "DATA_DIR", out, sizeof out), "./data");
    nseen = 0;
    sp_config_each_secret(c, collect);
    int found_db = 0, found_rds = 0, found_tok = 0;
    for (int i = 0; i < nseen; i++) {
        found_db += strcmp(seen[i], "s3cr%40t") == 0;
        found_rds += strcmp(seen[i], "rds-password-1") == 0;
        found_tok += strstr(seen[i], "tok3n") != NULL;
    }
    CHECK(found_db == 1 && found_rds == 1 && found_tok == 1);
    sp_config_free(c);

    static const struct {
        const char *in, *out;
    } urls[] = {
        {"postgresql://u:p@h/db", "postgresql://u:***@h/db"},
        {"postgresql://u@h/db", "postgresql://u@h/db"},
        {"postgresql://h/db?sslmode=require&password=pw", "postgresql://h/db?sslmode=require&password=***"},
        {"postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"},
        {"sqlite:///wh.db", "sqlite:///wh.db"},
    };
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        sp_mask_url(urls[i].in, out, sizeof out);
        CHECK_STR(out, urls[i].out);
    }
}

/* The daily-operation names (SPEC §8, §9): defaults, and malformed values
 * refused with the name in the message (exit 2 class). */
TEST(config_gate_and_mode_names)
{
    sp_config *c = sp_config_new();
    sp_error err;
    sp_error_clear(&err);
    CHECK_INT(sp_config_load(c, "/dev/null", &err), SP_OK);
    CHECK_STR(sp_config_get(c, "MIN_ROWS"), "1");
    CHECK_STR(sp_config_get(c, "MAX_REJECT_RATE"), "0.25");
    CHECK_STR(sp_config_get(c, "MAX_ROW_DROP"), "0.5");
    CHECK_STR(sp_config_get(c, "GATE_ACTION"), "fail");
    CHECK_STR(sp_config_get(c, "LOAD_MODE"), "full");
    /* THREADS unset: the number of cores, shown as a default */
    char cores[16];
    snprintf(cores, sizeof cores, "%ld", sysconf(_SC_NPROCESSORS_ONLN));
    CHECK_STR(sp_config_get(c, "THREADS"), cores);
    CHECK_INT(sp_config_source(c, "THREADS"), SP_SRC_DEFAULT);
    CHECK_INT(sp_config_threads(c), (int)atol(cores));
    sp_config_free(c);

    static const char *bad[][2] = {
        {"MAX_REJECT_RATE", "1.5"}, {"MAX_REJECT_RATE", "-0.1"}, {"MAX_ROW_DROP", "half"},
        {"GATE_ACTION", "ignore"},  {"LOAD_MODE", "append"},     {"THREADS", "0"},
        {"THREADS", "many"},        {"MIN_ROWS", "-1"},          {"RDS_IAM_AUTH", "yes"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c = sp_config_new();
        sp_error_clear(&err);
        CHECK_INT(sp_config_set_flag(c, bad[i][0], bad[i][1], &err), SP_OK);
        CHECK_INT(sp_config_load(c, "/dev/null", &err), SP_ERR_USAGE);
        CHECK(strstr(err.msg, bad[i][0]) != NULL);
        sp_config_free(c);
    }
}

static void collect_suspect(void *ctx, const char *name, const char *like, const char *where)
{
    char *out = ctx;
    size_t n = strlen(out);
    snprintf(out + n, 2048 - n, "%s>%s@%s;", name, like, where);
}

/* Misspelt names warn with the name they resemble; the reference system's
 * other names (Terraform, compose) and other tools' variables never do. */
TEST(config_typo_suspects)
{
    static const char *const table[][2] = {
        {"DATABSE_URL", "DATABASE_URL"},   {"SALES_TRESHOLD", "SALES_THRESHOLD"},
        {"data_dir", "DATA_DIR"},          {"MAX_REJECT_RATES", "MAX_REJECT_RATE"},
        {"AWS_SECRET_ACCES_KEY", "AWS_SECRET_ACCESS_KEY"}, {"RETRY_DELAYS", "RETRY_DELAY"},
        {"LOADMODE", "LOAD_MODE"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const char *got = sp_config_resembles(table[i][0]);
        if (!got || strcmp(got, table[i][1]) != 0)
            test_fail_at(__FILE__, __LINE__, "%s: resembles %s, want %s", table[i][0],
                      got ? got : "(nothing)", table[i][1]);
    }
    static const char *const never[] = {
        "ALLOWED_CIDR", "DB_INSTANCE_CLASS", "PROJECT_NAME", "HOST_DATA_DIR", "PIPELINE_IMAGE",
        "ENVIRONMENT",  "POSTGRES_PASSWORD", "PGSSLMODE",    "TF_VAR_s3_bucket", "HOME",
        "PATH",         "HOSTNAME",          "DATA_DIR",     "PGUSER",          "SHELL",
        "LOGNAME",      "OLDPWD",            "NO_COLOR",     "TERM",            "LANG",
    };
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++) {
        const char *got = sp_config_resembles(never[i]);
        if (got)
            test_fail_at(__FILE__, __LINE__, "%s resembles %s", never[i], got);
    }
    /* Both sources: the .env file (with its line) and the environment. */
    const char *envf = write_file("typo.env", "DATABSE_URL=sqlite:///x.db\nALLOWED_CIDR=1.2.3.4/32\n"
                                              "PROJECT_NAME=p\n");
    setenv("SALES_TRESHOLD", "5", 1);
    sp_config *c = sp_config_new();
    sp_error err;
    sp_error_clear(&err);
    CHECK_INT(sp_config_load(c, envf, &err), SP_OK);
    static char found[2048];
    found[0] = '\0';
    sp_config_each_suspect(c, collect_suspect, found);
    CHECK(strstr(found, "DATABSE_URL>DATABASE_URL@") != NULL);
    CHECK(strstr(found, "typo.env:1;") != NULL);
    CHECK(strstr(found, "SALES_TRESHOLD>SALES_THRESHOLD@the environment;") != NULL);
    CHECK(strstr(found, "ALLOWED_CIDR") == NULL);
    CHECK(strstr(found, "PROJECT_NAME") == NULL);
    sp_config_free(c);
    unsetenv("SALES_TRESHOLD");
}
