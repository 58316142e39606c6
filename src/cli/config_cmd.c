/* config_cmd.c — `salespipe config [--json]`: shows every configuration
 * name with its effective value and where it came from (flag, environment,
 * .env, default), then what is in effect: the warehouse, the stores and
 * the AWS credential source (decided from settings only: nothing is opened,
 * no request is sent). Secrets are masked; this is what to paste in a bug
 * report. */
#include <stdio.h>
#include <string.h>

#include "../pipeline/pipeline.h"
#include "../util/buf.h"
#include "../util/json.h"
#include "cli.h"

/* A store URL in words, from the configuration alone (nothing is opened). */
static void store_words(const sp_config *c, const char *name, char *out, size_t outsz)
{
    const char *v = sp_config_get(c, name);
    if (v && strncmp(v, "s3://", 5) == 0) {
        const char *ep = store_s3_endpoint(pl_config_env, (void *)c, NULL);
        const char *b = v + 5, *slash = strchr(b, '/');
        snprintf(out, outsz, "S3 bucket %.*s%s%s, at %s", (int)(slash ? slash - b : (long)strlen(b)),
                 b, slash && slash[1] ? ", key prefix " : "", slash && slash[1] ? slash + 1 : "",
                 ep ? ep : "AWS");
    } else {
        const char *path = v && strncmp(v, "file://", 7) == 0 ? v + 7 : v;
        snprintf(out, outsz, "local directory %s%s", path ? path : "?",
                 sp_config_source(c, name) == SP_SRC_DEFAULT ? " (the default)" : "");
    }
}

/* The warehouse in words, as pl_open_warehouse will choose it. */
static void warehouse_words(const sp_config *c, char *out, size_t outsz)
{
    char shown[4200];
    const char *url = sp_config_display(c, "DATABASE_URL", shown, sizeof shown);
    const char *host = sp_config_get(c, "RDS_HOST");
    if (url && strncmp(url, "sqlite:///", 10) == 0)
        snprintf(out, outsz, "SQLite file %s (DATABASE_URL)", url + 10);
    else if (url)
        snprintf(out, outsz, "PostgreSQL at %s (DATABASE_URL)", url);
    else if (host)
        snprintf(out, outsz, "PostgreSQL at %s:%s, database %s, user %s (RDS_*)", host,
                 sp_config_get(c, "RDS_PORT") ? sp_config_get(c, "RDS_PORT") : "5432",
                 sp_config_get(c, "RDS_DB") ? sp_config_get(c, "RDS_DB") : "(libpq default)",
                 sp_config_get(c, "RDS_USER") ? sp_config_get(c, "RDS_USER") : "(libpq default)");
    else if (sp_config_get(c, "RDS_SECRET_ID"))
        snprintf(out, outsz, "PostgreSQL where the secret says");
    else
        snprintf(out, outsz, "embedded SQLite file ./warehouse.db (the default: neither "
                             "DATABASE_URL nor RDS_HOST is set)");
    /* Where its credentials come from on AWS (db_auth.c). */
    const char *sid = sp_config_get(c, "RDS_SECRET_ID"), *iam = sp_config_get(c, "RDS_IAM_AUTH");
    size_t n = strlen(out);
    if (sid && n < outsz)
        n += (size_t)snprintf(out + n, outsz - n, "; credentials from Secrets Manager secret "
                              "'%s' (RDS_SECRET_ID)", sid);
    if (iam && (strcmp(iam, "1") == 0 || strcmp(iam, "true") == 0) && n < outsz)
        snprintf(out + n, outsz - n, "; password: a fresh RDS IAM token per connection, TLS "
                 "required (RDS_IAM_AUTH)");
}

int cmd_config(const sp_cli *cli)
{
    char shown[4200];
    sp_buf out;
    sp_buf_init(&out, 0);
    if (cli->json)
        sp_buf_putc(&out, '{');
    for (size_t i = 0; sp_config_name_at(i); i++) {
        const char *name = sp_config_name_at(i);
        const char *v = sp_config_display(cli->config, name, shown, sizeof shown);
        const char *src = sp_source_name(sp_config_source(cli->config, name));
        if (cli->json) {
            sp_buf_printf(&out, "%s\"%s\":{\"value\":", i ? "," : "", name);
            sp_json_cstr(&out, v);
            sp_buf_printf(&out, ",\"source\":\"%s\"}", src);
        } else {
            sp_buf_printf(&out, "%-22s %-12s %s\n", name, src, v ? v : "");
        }
    }
    /* What those values mean, in words: where the run reads and writes, and
     * which AWS credentials S3, RDS tokens and Secrets Manager would use. */
    static const char *const WHAT[] = {"warehouse", "raw store", "processed store",
                                       "AWS credentials"};
    static const char *const KEY[] = {"warehouse", "raw_store", "processed_store",
                                      "aws_credentials"};
    char words[4][4400];
    warehouse_words(cli->config, words[0], sizeof words[0]);
    store_words(cli->config, "RAW_STORE", words[1], sizeof words[1]);
    store_words(cli->config, "PROCESSED_STORE", words[2], sizeof words[2]);
    aws_chain *chain = NULL;
    sp_error aerr;
    if (aws_chain_open(&chain, pl_config_env, (void *)cli->config, &aerr) == SP_OK)
        snprintf(words[3], sizeof words[3], "%s", aws_chain_source(chain));
    else
        snprintf(words[3], sizeof words[3], "not usable: %s", aerr.msg);
    aws_chain_free(chain);
    if (cli->json)
        sp_buf_puts(&out, ",\"effective\":{");
    else
        sp_buf_puts(&out, "\nIn effect:\n");
    for (int k = 0; k < 4; k++) {
        if (cli->json) {
            sp_buf_printf(&out, "%s\"%s\":", k ? "," : "", KEY[k]);
            sp_json_cstr(&out, words[k]);
        } else {
            sp_buf_printf(&out, "  %-16s %s\n", WHAT[k], words[k]);
        }
    }
    if (cli->json)
        sp_buf_puts(&out, "}}\n");
    fwrite(out.data, 1, out.len, stdout);
    int bad = out.broken;
    sp_buf_free(&out);
    return fflush(stdout) == 0 && !bad ? EXIT_OK : EXIT_TASK_FAILED;
}
