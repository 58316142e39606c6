/* aws_config.h — where the S3 backend's settings come from, as the AWS tools
 * read them: credentials from the environment (AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) or a profile (AWS_PROFILE, else
 * "default") in ~/.aws/credentials and ~/.aws/config (AWS_SHARED_CREDENTIALS_FILE
 * and AWS_CONFIG_FILE move them); region from AWS_REGION, AWS_DEFAULT_REGION
 * or the profile; the endpoint from AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or
 * S3_ENDPOINT_URL. Error messages name files and variables, never values of
 * secrets. */
#ifndef SP_AWS_CONFIG_H
#define SP_AWS_CONFIG_H

#include "store.h"

typedef struct aws_settings {
    char access_key[256];
    char secret_key[256];     /* secret: never printed */
    char session_token[4096]; /* secret: never printed */
    char region[64];
    char endpoint[1024];      /* "" for AWS itself */
    char ca_bundle[1024];     /* "" for the system's CAs */
    char cred_source[300];    /* "environment" or "profile NAME (FILE)", for messages */
} aws_settings;

/* Fill out from env(ctx, NAME) (which returns NULL for unset names). No
 * credentials anywhere is an SP_ERR_IO error naming where it looked. The
 * caller clears out (it holds secrets) when done. */
int aws_settings_resolve(aws_settings *out, store_env_fn env, void *ctx, sp_error *err);

/* The value of key in [section] of an INI-style AWS file into out. Returns 1
 * found, 0 not found (also when the file does not exist), or -1 when the file
 * exists but cannot be read or is over 1 MiB (err names it). */
int aws_ini_get(const char *path, const char *section, const char *key, char *out,
                size_t outsz, sp_error *err);

#endif
