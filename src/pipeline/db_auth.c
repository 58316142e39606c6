/* db_auth.c — where the warehouse's credentials come from on AWS, before
 * PostgreSQL is opened: RDS_SECRET_ID (Secrets Manager, once per opening,
 * filling what DATABASE_URL / RDS_* leave unset) and RDS_IAM_AUTH (a fresh
 * RDS IAM token as the password of each connection, TLS required). The
 * warehouse only sees wh_pg_settings and a password function; the AWS calls
 * live in the store module. Never logs a secret (they are registered with
 * the log scrubber as they arrive). */
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../util/log.h"
#include "../warehouse/warehouse.h"
#include "pipeline.h"

static bool on(const char *v)
{
    return v && (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0);
}

static int rds_token(void *ctx, const char *host, const char *port, const char *user,
                     char *out, size_t outsz, sp_error *err)
{
    aws_chain *c = ctx;
    if (aws_rds_auth_token(c, host, port, user, out, outsz, err) != SP_OK)
        return sp_error_prefix(err, "RDS IAM token for %s@%s:%s", user, host, port);
    sp_log(SP_LOG_DEBUG, "RDS IAM token for %s@%s:%s made with credentials from %s", user, host,
           port, aws_chain_source(c));
    return SP_OK;
}

int pl_db_auth_begin(pl_ctx *ctx, wh_pg_settings *pg, pl_db_auth *a, sp_error *err)
{
    memset(a, 0, sizeof *a);
    bool iam = on(sp_config_get(ctx->cfg, "RDS_IAM_AUTH"));
    const char *sid = sp_config_get(ctx->cfg, "RDS_SECRET_ID");
    if (!iam && !(sid && *sid))
        return SP_OK;
    if (aws_chain_open(&a->chain, pl_config_env, (void *)ctx->cfg, err) != SP_OK)
        return sp_error_prefix(err, "%s", iam ? "RDS_IAM_AUTH" : "RDS_SECRET_ID");
    if (sid && *sid) {
        SP_TRY(aws_secret_db_credentials(a->chain, sid, pl_config_env, (void *)ctx->cfg,
                                         &a->secret, err));
        pg->fallback_host = a->secret.host;
        pg->fallback_port = a->secret.port;
        pg->fallback_dbname = a->secret.dbname;
        pg->fallback_user = a->secret.username;
        pg->fallback_password = a->secret.password;
        sp_log(SP_LOG_INFO, "warehouse: database credentials from Secrets Manager secret '%s' "
               "(fields: %s%s%s%s%s)", sid, a->secret.username[0] ? "username " : "",
               a->secret.password[0] ? "password " : "", a->secret.host[0] ? "host " : "",
               a->secret.port[0] ? "port " : "", a->secret.dbname[0] ? "dbname" : "");
    }
    if (iam) {
        pg->password_fn = rds_token;
        pg->password_ctx = a->chain;
    }
    return SP_OK;
}

void pl_db_auth_end(pl_db_auth *a)
{
    aws_chain_free(a->chain);
    OPENSSL_cleanse(a, sizeof *a);
}
