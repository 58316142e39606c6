/* aws_config.c — region, endpoint and profile files for the S3 backend and
 * the credential chain (see aws_config.h). Reads at most two small INI
 * files; values are copied into fixed buffers (too long is an error naming
 * the setting, never its value). */
#include "aws_config.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


#define AWS_INI_MAX (1 << 20)

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

int aws_ini_get(const char *path, const char *section, const char *key, char *out,
                size_t outsz, sp_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        return sp_fail(err, SP_ERR_IO, "AWS file %s: %s", path, strerror(errno)), -1;
    }
    char line[8192]; /* room for the longest value we keep (a 4 KiB session token) */
    long total = 0;
    bool in = false;
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        size_t ll = strlen(line);
        total += (long)ll;
        if (ll == sizeof line - 1 && line[ll - 1] != '\n' && !feof(f)) {
            /* fgets would hand back the rest as another line: a value cut
             * short without a word (a truncated token only fails at AWS). */
            OPENSSL_cleanse(line, sizeof line);
            fclose(f);
            return sp_fail(err, SP_ERR_LIMIT, "AWS file %s: a line is longer than %zu bytes",
                           path, sizeof line - 2), -1;
        }
        if (total > AWS_INI_MAX) {
            fclose(f);
            return sp_fail(err, SP_ERR_LIMIT, "AWS file %s: larger than %d bytes", path,
                           AWS_INI_MAX), -1;
        }
        char *s = trim(line);
        if (*s == '#' || *s == ';' || *s == '\0')
            continue;
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (close) {
                *close = '\0';
                in = strcmp(trim(s + 1), section) == 0;
                if (in && !key[0])
                    found = 1;
            }
            continue;
        }
        if (!key[0])
            continue;
        if (!in)
            continue;
        char *eq = strchr(s, '=');
        if (!eq)
            continue;
        *eq = '\0';
        if (strcasecmp(trim(s), key) != 0)
            continue;
        const char *v = trim(eq + 1);
        if (strlen(v) >= outsz) {
            fclose(f);
            return sp_fail(err, SP_ERR_LIMIT, "AWS file %s: [%s] %s is too long", path, section,
                           key), -1;
        }
        strcpy(out, v);
        found = 1; /* the last one wins, as in the AWS CLI */
    }
    bool bad = ferror(f);
    OPENSSL_cleanse(line, sizeof line); /* it may hold a secret */
    fclose(f);
    if (bad)
        return sp_fail(err, SP_ERR_IO, "AWS file %s: read error", path), -1;
    return found;
}

const char *aws_getenv(store_env_fn env, void *ctx, const char *name)
{
    const char *v = env(ctx, name);
    return v && *v ? v : NULL;
}

const char *store_s3_endpoint(store_env_fn env, void *ctx, const char **name)
{
    static const char *const names[] = {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL",
                                        "S3_ENDPOINT_URL"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *e = aws_getenv(env, ctx, names[i]);
        if (e) {
            if (name)
                *name = names[i];
            return e;
        }
    }
    return NULL;
}

int aws_copy_setting(char *dst, size_t dsz, const char *src, const char *what, sp_error *err)
{
    if (strlen(src) >= dsz)
        return sp_fail(err, SP_ERR_USAGE, "%s is longer than %zu bytes", what, dsz - 1);
    strcpy(dst, src);
    return SP_OK;
}

/* "~/.aws/NAME" unless the variable names another file. */
static int aws_file(store_env_fn env, void *ctx, const char *var, const char *name, char *out,
                    size_t outsz)
{
    const char *p = aws_getenv(env, ctx, var);
    if (p)
        return snprintf(out, outsz, "%s", p) < (int)outsz ? 0 : -1;
    const char *home = aws_getenv(env, ctx, "HOME");
    if (!home)
        return snprintf(out, outsz, "~/.aws/%s", name) < (int)outsz ? 0 : -1; /* never exists */
    return snprintf(out, outsz, "%s/.aws/%s", home, name) < (int)outsz ? 0 : -1;
}

int aws_profile_get(const aws_settings *st, const char *profile, const char *key, char *out,
                    size_t outsz, const char **file, sp_error *err)
{
    char conf_section[300];
    if (strcmp(profile, "default") == 0)
        snprintf(conf_section, sizeof conf_section, "default");
    else if (snprintf(conf_section, sizeof conf_section, "profile %s", profile) >=
             (int)sizeof conf_section)
        return sp_fail(err, SP_ERR_USAGE, "AWS profile name '%.64s…' is too long", profile), -1;
    const char *files[2] = {st->cred_file, st->conf_file};
    const char *sections[2] = {profile, conf_section};
    for (int i = 0; i < 2; i++) {
        int r = aws_ini_get(files[i], sections[i], key, out, outsz, err);
        if (r != 0) {
            if (r > 0 && file)
                *file = files[i];
            return r;
        }
    }
    return 0;
}

int aws_profile_exists(const aws_settings *st, const char *profile, sp_error *err)
{
    char unused[2];
    return aws_profile_get(st, profile, "", unused, sizeof unused, NULL, err);
}

int aws_settings_resolve(aws_settings *o, store_env_fn env, void *ctx, sp_error *err)
{
    memset(o, 0, sizeof *o);
    const char *profile = aws_getenv(env, ctx, "AWS_PROFILE");
    o->profile_explicit = profile != NULL;
    SP_TRY(aws_copy_setting(o->profile, sizeof o->profile, profile ? profile : "default", "AWS_PROFILE", err));
    if (aws_file(env, ctx, "AWS_SHARED_CREDENTIALS_FILE", "credentials", o->cred_file,
                 sizeof o->cred_file) != 0 ||
        aws_file(env, ctx, "AWS_CONFIG_FILE", "config", o->conf_file, sizeof o->conf_file) != 0)
        return sp_fail(err, SP_ERR_USAGE, "the AWS credentials or config file path is too long");

    const char *region = aws_getenv(env, ctx, "AWS_REGION");
    if (!region)
        region = aws_getenv(env, ctx, "AWS_DEFAULT_REGION");
    if (region) {
        SP_TRY(aws_copy_setting(o->region, sizeof o->region, region, "AWS_REGION", err));
    } else {
        char conf_section[300];
        snprintf(conf_section, sizeof conf_section, "%s%s",
                 strcmp(o->profile, "default") ? "profile " : "", o->profile);
        int r = aws_ini_get(o->conf_file, conf_section, "region", o->region, sizeof o->region,
                            err);
        if (r < 0)
            return err->code;
        if (r == 0)
            strcpy(o->region, "us-east-1");
    }
    for (const char *c = o->region; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-'))
            return sp_fail(err, SP_ERR_USAGE, "AWS region '%.63s' is not a region name", o->region);

    const char *endpoint_name = NULL;
    const char *endpoint = store_s3_endpoint(env, ctx, &endpoint_name);
    if (endpoint)
        SP_TRY(aws_copy_setting(o->endpoint, sizeof o->endpoint, endpoint, endpoint_name, err));
    const char *ca = aws_getenv(env, ctx, "AWS_CA_BUNDLE");
    if (ca)
        SP_TRY(aws_copy_setting(o->ca_bundle, sizeof o->ca_bundle, ca, "AWS_CA_BUNDLE", err));
    return SP_OK;
}
