/* aws_probe.c — test tool for the AWS credential chain (build/aws_probe,
 * `make tools`; used by tests/aws/run.sh): drives the chain, the S3 backend,
 * RDS IAM tokens and Secrets Manager through the same code the pipeline
 * uses, with settings from the environment. Prints no secret except the RDS
 * token asked for with `rds-token` (the test recomputes its signature).
 *   aws_probe source                      the source the chain would use
 *   aws_probe put URL ROUNDS SLEEP_S      ROUNDS puts of a small object, SLEEP_S apart
 *   aws_probe rds-token HOST PORT USER    one RDS IAM token on stdout
 *   aws_probe secret ID                   the secret's user, host, port, dbname (not the password)
 * Exit 0 on success, 1 on failure (message on stderr), 2 on bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/store/store.h"

static const char *process_env(void *ctx, const char *name)
{
    (void)ctx;
    return getenv(name);
}

static int fail(const sp_error *err)
{
    fprintf(stderr, "aws_probe: %s\n", err->msg);
    return 1;
}

static int rounds_of_puts(const char *url, int rounds, int sleep_s)
{
    store *s;
    sp_error err;
    if (store_open(&s, url, &err) != SP_OK)
        return fail(&err);
    int rc = 0;
    for (int i = 0; i < rounds && rc == 0; i++) {
        if (i)
            sleep((unsigned)sleep_s);
        char key[64], body[64];
        snprintf(key, sizeof key, "probe/round-%d.txt", i);
        int n = snprintf(body, sizeof body, "round %d\n", i);
        if (store_put_bytes(s, key, body, (size_t)n, &err) != SP_OK)
            rc = fail(&err);
        else
            printf("round %d: put %s\n", i, key);
        fflush(stdout);
    }
    store_close(s);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: aws_probe source|put|rds-token|secret …\n");
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "put") == 0)
        return argc == 5 ? rounds_of_puts(argv[2], atoi(argv[3]), atoi(argv[4])) : 2;
    aws_chain *c;
    sp_error err;
    if (aws_chain_open(&c, process_env, NULL, &err) != SP_OK)
        return fail(&err);
    int rc = 0;
    if (strcmp(cmd, "source") == 0) {
        printf("%s\n", aws_chain_source(c));
    } else if (strcmp(cmd, "rds-token") == 0 && argc == 5) {
        char token[8192];
        if (aws_rds_auth_token(c, argv[2], argv[3], argv[4], token, sizeof token, &err) != SP_OK)
            rc = fail(&err);
        else
            printf("%s\n", token);
    } else if (strcmp(cmd, "secret") == 0 && argc == 3) {
        aws_db_secret sec;
        if (aws_secret_db_credentials(c, argv[2], process_env, NULL, &sec, &err) != SP_OK)
            rc = fail(&err);
        else
            printf("username=%s host=%s port=%s dbname=%s password_bytes=%zu\n", sec.username,
                   sec.host, sec.port, sec.dbname, strlen(sec.password));
    } else {
        rc = 2;
    }
    aws_chain_free(c);
    return rc;
}
