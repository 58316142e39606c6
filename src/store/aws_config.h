/* aws_config.h — private to src/store: the AWS settings read as the AWS
 * tools read them. Region from AWS_REGION, AWS_DEFAULT_REGION or the
 * profile; the S3 endpoint from AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or
 * S3_ENDPOINT_URL; the profile (AWS_PROFILE, else "default") and its files
 * ~/.aws/credentials and ~/.aws/config (AWS_SHARED_CREDENTIALS_FILE and
 * AWS_CONFIG_FILE move them). Credentials themselves come from the chain
 * (aws_creds.c). Error messages name files and variables, never values of
 * secrets. */
#ifndef SP_AWS_CONFIG_H
#define SP_AWS_CONFIG_H

#include "store.h"

typedef struct aws_settings {
    char region[64];
    char endpoint[1024];      /* S3's; "" for AWS itself */
    char ca_bundle[1024];     /* "" for the system's CAs */
    char profile[256];        /* AWS_PROFILE, else "default" */
    bool profile_explicit;    /* AWS_PROFILE was set */
    char cred_file[1024];     /* the shared credentials file's path */
    char conf_file[1024];     /* the config file's path */
} aws_settings;

/* Fill out from env(ctx, NAME) (which returns NULL for unset names). */
int aws_settings_resolve(aws_settings *out, store_env_fn env, void *ctx, sp_error *err);

/* env(ctx, name), with "" as unset (NULL). */
const char *aws_getenv(store_env_fn env, void *ctx, const char *name);

/* Copy src into dst[dsz]; too long is SP_ERR_USAGE naming `what` (never the
 * value). */
int aws_copy_setting(char *dst, size_t dsz, const char *src, const char *what, sp_error *err);

/* The value of key in profile `profile`: the credentials file's [profile]
 * first, then the config file's [profile NAME] ([default] for "default").
 * Returns 1 found (*file, when not NULL, names the file it came from), 0 not
 * found, -1 when a file cannot be read (err names it). */
int aws_profile_get(const aws_settings *s, const char *profile, const char *key, char *out,
                    size_t outsz, const char **file, sp_error *err);

/* Does the profile have a section in either file? 1 yes, 0 no, -1 error. */
int aws_profile_exists(const aws_settings *s, const char *profile, sp_error *err);

/* The value of key in [section] of an INI-style AWS file into out. Returns 1
 * found, 0 not found (also when the file does not exist), or -1 when the file
 * exists but cannot be read or is over 1 MiB (err names it). An empty key
 * only asks whether the section exists. */
int aws_ini_get(const char *path, const char *section, const char *key, char *out,
                size_t outsz, sp_error *err);

#endif
