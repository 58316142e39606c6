/* config.h — salespipe's configuration: every SPEC §3 name, resolved with
 * the precedence command-line flag > environment > .env file > default.
 * Values are kept as strings and validated once at load; a value that cannot
 * be parsed is an SP_ERR_USAGE error (exit 2). Secrets are known by name and
 * never printed: use sp_config_display() for anything shown to a person. */
#ifndef SP_CONFIG_H
#define SP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "../util/error.h"

typedef enum sp_source {
    SP_SRC_UNSET = 0,
    SP_SRC_DEFAULT,
    SP_SRC_DOTENV,
    SP_SRC_ENV,
    SP_SRC_FLAG,
    SP_SRC_DERIVED, /* computed from another name (S3_BUCKET → RAW_STORE) */
} sp_source;

typedef struct sp_config sp_config;

/* Create an empty configuration (defaults only after sp_config_load). */
sp_config *sp_config_new(void);
void sp_config_free(sp_config *c); /* NULL is allowed */

/* Record a command-line value (highest precedence). `name` must be a known
 * name; the value is copied. */
int sp_config_set_flag(sp_config *c, const char *name, const char *value, sp_error *err);

/* Resolve every name: flags already set, then the process environment, then
 * the .env file (`env_file`, or ./.env when NULL and it exists; an explicit
 * file that cannot be read is an error), then defaults; then derive and
 * validate. Errors name the variable, the file and line where relevant. */
int sp_config_load(sp_config *c, const char *env_file, sp_error *err);

/* The resolved value, or NULL when unset. The string lives as long as c. */
const char *sp_config_get(const sp_config *c, const char *name);
sp_source sp_config_source(const sp_config *c, const char *name);
const char *sp_source_name(sp_source s);

/* THREADS as a number: worker threads for every part of salespipe that
 * spreads work over cores (validated 1-256; when unset, sp_config_load made
 * it the number of online cores, shown by `config` as a default). */
int sp_config_threads(const sp_config *c);

/* Is `name` one of the configuration names salespipe knows? */
bool sp_config_known(const char *name);
/* Is `name` a secret (its value never printed)? */
bool sp_config_is_secret(const char *name);

/* The value as it may be shown: secrets as "********", passwords inside URLs
 * masked; NULL when unset. Written into out (always NUL-terminated). */
const char *sp_config_display(const sp_config *c, const char *name, char *out, size_t outsz);

/* Iterate over the known names in documentation order: returns NULL past
 * the end. */
const char *sp_config_name_at(size_t i);

/* Replace the password of a URL ("scheme://user:pass@host…") with "***".
 * Copies in to out unchanged when it has none. */
void sp_mask_url(const char *in, char *out, size_t outsz);


/* Call fn once for each secret value in c: secret names' values, and the
 * passwords or tokens inside URL values (DATABASE_URL, SMTP_URL, the
 * webhook's path). Used to register them with the log scrubber. */
void sp_config_each_secret(const sp_config *c, void (*fn)(const char *secret));

/* The configuration name that `name` is probably a misspelling of (within
 * two edits, ignoring case), or NULL: our own names, the reference system's
 * other names (Terraform and compose inputs) and libpq's and the AWS tools'
 * variables never resemble anything. */
const char *sp_config_resembles(const char *name);

/* Call fn for each name in the .env file (where = "PATH:LINE") or the
 * environment (where = "the environment") that resembles a configuration
 * name without being one: the caller warns. Views valid during the call. */
void sp_config_each_suspect(const sp_config *c,
                            void (*fn)(void *ctx, const char *name, const char *like,
                                       const char *where),
                            void *ctx);
#endif
