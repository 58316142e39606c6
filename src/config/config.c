/* config.c — resolution and validation of the SPEC §3 configuration names.
 * Reads the environment and a .env file (KEY=value lines, the format of the
 * reference system's .env.example); never prints a secret value. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

enum check { C_NONE, C_STORE, C_DBURL, C_HTTP, C_DECIMAL, C_UINT, C_PORT, C_ENUM, C_RATE, C_THREADS };

typedef struct name_def {
    const char *name;
    const char *def;      /* default value, or NULL */
    bool secret;          /* value never shown */
    bool url_secret;      /* a URL whose password (or path, for webhooks) is secret */
    enum check check;
    const char *choices;  /* C_ENUM: "|a|b|c|" */
} name_def;

static const name_def NAMES[] = {
    {"DATA_DIR", "./data", false, false, C_NONE, NULL},
    {"RAW_PATTERN", "*_orders.csv", false, false, C_NONE, NULL},
    {"RAW_STORE", "./lake/raw", false, false, C_STORE, NULL},
    {"PROCESSED_STORE", "./lake/processed", false, false, C_STORE, NULL},
    {"S3_BUCKET", NULL, false, false, C_NONE, NULL},
    {"PROCESSED_BUCKET", NULL, false, false, C_NONE, NULL},
    {"S3_PREFIX", NULL, false, false, C_NONE, NULL},
    {"AWS_ACCESS_KEY_ID", NULL, false, false, C_NONE, NULL},
    {"AWS_SECRET_ACCESS_KEY", NULL, true, false, C_NONE, NULL},
    {"AWS_SESSION_TOKEN", NULL, true, false, C_NONE, NULL},
    {"AWS_DEFAULT_REGION", NULL, false, false, C_NONE, NULL},
    {"AWS_REGION", NULL, false, false, C_NONE, NULL},
    {"AWS_PROFILE", NULL, false, false, C_NONE, NULL},
    {"AWS_ENDPOINT_URL_S3", NULL, false, false, C_HTTP, NULL},
    {"AWS_ENDPOINT_URL", NULL, false, false, C_HTTP, NULL},
    {"S3_ENDPOINT_URL", NULL, false, false, C_HTTP, NULL},
    {"AWS_CA_BUNDLE", NULL, false, false, C_NONE, NULL},
    {"AWS_MAX_ATTEMPTS", NULL, false, false, C_UINT, NULL},
    {"S3_PART_SIZE_MB", NULL, false, false, C_UINT, NULL},
    {"S3_READ_TIMEOUT", NULL, false, false, C_UINT, NULL},
    {"DATABASE_URL", NULL, false, true, C_DBURL, NULL},
    {"RDS_HOST", NULL, false, false, C_NONE, NULL},
    {"RDS_PORT", NULL, false, false, C_PORT, NULL},
    {"RDS_DB", NULL, false, false, C_NONE, NULL},
    {"RDS_USER", NULL, false, false, C_NONE, NULL},
    {"RDS_PASS", NULL, true, false, C_NONE, NULL},
    {"PGPASSWORD", NULL, true, false, C_NONE, NULL},
    {"SALES_THRESHOLD", "10000", false, false, C_DECIMAL, NULL},
    {"DATE_ORDER", "auto", false, false, C_ENUM, "|auto|mdy|dmy|ymd|"},
    {"ENCODING", "auto", false, false, C_ENUM, "|auto|utf-8|windows-1252|"},
    {"ALERT_EMAIL", NULL, false, false, C_NONE, NULL},
    {"ALERT_EMAIL_FROM", NULL, false, false, C_NONE, NULL},
    {"SMTP_URL", NULL, false, true, C_NONE, NULL},
    {"ALERT_WEBHOOK_URL", NULL, false, true, C_HTTP, NULL},
    {"RETRIES", "2", false, false, C_UINT, NULL},
    {"RETRY_DELAY", "600", false, false, C_UINT, NULL},
    {"RETRY_BACKOFF", "fixed", false, false, C_ENUM, "|fixed|exponential|"},
    {"STATE_DIR", "./.salespipe", false, false, C_NONE, NULL},
    {"LOG_FORMAT", "text", false, false, C_ENUM, "|text|json|"},
    /* quality gates and load mode (SPEC §8) */
    {"MIN_ROWS", "1", false, false, C_UINT, NULL},
    {"MAX_REJECT_RATE", "0.25", false, false, C_RATE, NULL},
    {"MAX_ROW_DROP", "0.5", false, false, C_RATE, NULL},
    {"QUALITY_SQL", NULL, false, false, C_NONE, NULL},
    {"GATE_ACTION", "fail", false, false, C_ENUM, "|fail|warn|"},
    {"LOAD_MODE", "full", false, false, C_ENUM, "|full|incremental|"},
    {"THREADS", NULL, false, false, C_THREADS, NULL}, /* unset: the number of cores */
    {"CHUNK_BYTES", "33554432", false, false, C_UINT, NULL}, /* transform: bytes per chunk of a big file */
    {"DEBRIS_MAX_AGE", "86400", false, false, C_UINT, NULL}, /* s; see orch/sweep.c */
    /* telemetry (SPEC §9) */
    {"METRICS_FILE", NULL, false, false, C_NONE, NULL},
    {"OPENLINEAGE_URL", NULL, false, true, C_HTTP, NULL},
    {"OPENLINEAGE_FILE", NULL, false, false, C_NONE, NULL},
    {"OPENLINEAGE_NAMESPACE", "salespipe", false, false, C_NONE, NULL},
    {"NO_PROGRESS", NULL, false, false, C_NONE, NULL},
    /* AWS credential chain, RDS IAM auth and Secrets Manager (issue 16) */
    {"AWS_WEB_IDENTITY_TOKEN_FILE", NULL, false, false, C_NONE, NULL},
    {"AWS_ROLE_ARN", NULL, false, false, C_NONE, NULL},
    {"AWS_ROLE_SESSION_NAME", NULL, false, false, C_NONE, NULL},
    {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", NULL, false, false, C_NONE, NULL},
    {"AWS_CONTAINER_CREDENTIALS_FULL_URI", NULL, false, false, C_HTTP, NULL},
    {"AWS_CONTAINER_AUTHORIZATION_TOKEN", NULL, true, false, C_NONE, NULL},
    {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", NULL, false, false, C_NONE, NULL},
    {"AWS_EC2_METADATA_SERVICE_ENDPOINT", NULL, false, false, C_HTTP, NULL},
    {"AWS_EC2_METADATA_DISABLED", NULL, false, false, C_ENUM, "|true|false|"},
    {"AWS_ENDPOINT_URL_STS", NULL, false, false, C_HTTP, NULL},
    {"AWS_ENDPOINT_URL_SECRETS_MANAGER", NULL, false, false, C_HTTP, NULL},
    {"RDS_IAM_AUTH", NULL, false, false, C_ENUM, "|0|1|true|false|"},
    {"RDS_SECRET_ID", NULL, false, false, C_NONE, NULL},
};
#define NNAMES (sizeof NAMES / sizeof NAMES[0])
#define DOTENV_MAX_BYTES (1u << 20)
#define VALUE_MAX 4096

/* Unknown names met in the .env file, kept for the typo check. */
#define DOTENV_OTHERS_MAX 256

struct sp_config {
    char *value[NNAMES];
    sp_source source[NNAMES];
    char *dotenv[NNAMES];
    char *dotenv_path;
    size_t nothers;
    char *others[DOTENV_OTHERS_MAX]; /* "NAME" */
    int other_line[DOTENV_OTHERS_MAX];
};

static int find(const char *name)
{
    for (size_t i = 0; i < NNAMES; i++)
        if (strcmp(NAMES[i].name, name) == 0)
            return (int)i;
    return -1;
}

bool sp_config_known(const char *name) { return find(name) >= 0; }

bool sp_config_is_secret(const char *name)
{
    int i = find(name);
    return i >= 0 && NAMES[i].secret;
}

const char *sp_config_name_at(size_t i) { return i < NNAMES ? NAMES[i].name : NULL; }

sp_config *sp_config_new(void) { return calloc(1, sizeof(sp_config)); }

void sp_config_free(sp_config *c)
{
    if (!c)
        return;
    free(c->dotenv_path);
    for (size_t i = 0; i < c->nothers; i++)
        free(c->others[i]);
    for (size_t i = 0; i < NNAMES; i++) {
        free(c->value[i]);
        free(c->dotenv[i]);
    }
    free(c);
}

static int set(sp_config *c, int i, const char *v, sp_source src, sp_error *err)
{
    if (strlen(v) > VALUE_MAX)
        return sp_fail(err, SP_ERR_USAGE, "%s: value longer than %d bytes", NAMES[i].name, VALUE_MAX);
    char *copy = strdup(v);
    if (!copy)
        return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    free(c->value[i]);
    c->value[i] = copy;
    c->source[i] = src;
    return SP_OK;
}

int sp_config_set_flag(sp_config *c, const char *name, const char *value, sp_error *err)
{
    int i = find(name);
    if (i < 0)
        return sp_fail(err, SP_ERR_INTERNAL, "unknown configuration name %s", name);
    return set(c, i, value, SP_SRC_FLAG, err);
}

const char *sp_config_get(const sp_config *c, const char *name)
{
    int i = find(name);
    return i >= 0 ? c->value[i] : NULL;
}

int sp_config_threads(const sp_config *c)
{
    const char *v = sp_config_get(c, "THREADS");
    long n = v ? strtol(v, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 256 ? 256 : (int)n;
}

sp_source sp_config_source(const sp_config *c, const char *name)
{
    int i = find(name);
    return i >= 0 ? c->source[i] : SP_SRC_UNSET;
}

const char *sp_source_name(sp_source s)
{
    static const char *n[] = {"unset", "default", ".env", "environment", "flag", "derived"};
    return (unsigned)s < sizeof n / sizeof n[0] ? n[s] : "?";
}

/* ---- .env ------------------------------------------------------------ */

/* Parse one value after '=': quoted ("…" with \n \" \\ escapes, or '…'
 * literal) or bare (trimmed, a " #" starts a comment). */
static int parse_value(const char *p, char *out, size_t outsz, const char *file, int line,
                       sp_error *err)
{
    size_t n = 0;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '"' || *p == '\'') {
        char q = *p++;
        while (*p && *p != q) {
            char ch = *p++;
            if (q == '"' && ch == '\\' && *p) {
                ch = *p++;
                if (ch == 'n')
                    ch = '\n';
                else if (ch == 't')
                    ch = '\t';
            }
            if (n + 1 >= outsz)
                return sp_fail(err, SP_ERR_USAGE, "%s:%d: value too long", file, line);
            out[n++] = ch;
        }
        if (*p != q)
            return sp_fail(err, SP_ERR_USAGE, "%s:%d: unterminated %c quote", file, line, q);
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p && *p != '#')
            return sp_fail(err, SP_ERR_USAGE, "%s:%d: unexpected text after the closing quote",
                           file, line);
    } else {
        const char *end = p + strlen(p);
        const char *hash = p;
        while ((hash = strchr(hash, '#')) != NULL) {
            if (hash == p || hash[-1] == ' ' || hash[-1] == '\t') {
                end = hash;
                break;
            }
            hash++;
        }
        while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        n = (size_t)(end - p);
        if (n + 1 > outsz)
            return sp_fail(err, SP_ERR_USAGE, "%s:%d: value too long", file, line);
        memcpy(out, p, n);
    }
    out[n] = '\0';
    return SP_OK;
}

static int read_dotenv(sp_config *c, const char *path, bool required, sp_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (!required && errno == ENOENT)
            return SP_OK;
        return sp_fail(err, errno == ENOMEM ? SP_ERR_NOMEM : SP_ERR_USAGE, "env file %s: %s", path,
                       strerror(errno));
    }
    static char text[DOTENV_MAX_BYTES + 1];
    size_t len = fread(text, 1, sizeof text, f);
    int rerr = ferror(f);
    fclose(f);
    if (rerr)
        return sp_fail(err, SP_ERR_USAGE, "env file %s: read error", path);
    if (len > DOTENV_MAX_BYTES)
        return sp_fail(err, SP_ERR_USAGE, "env file %s: larger than %u bytes", path,
                       DOTENV_MAX_BYTES);
    if (memchr(text, '\0', len))
        return sp_fail(err, SP_ERR_USAGE, "env file %s: contains a NUL byte", path);
    text[len] = '\0';
    int lineno = 0;
    char *p = text;
    /* Walk lines by hand: strtok would merge empty lines and lose numbering. */
    while (p && *p) {
        lineno++;
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        char *line = p;
        p = nl ? nl + 1 : NULL;
        size_t ll = strlen(line);
        if (ll && line[ll - 1] == '\r')
            line[--ll] = '\0';
        while (*line == ' ' || *line == '\t')
            line++;
        if (*line == '\0' || *line == '#')
            continue;
        if (strncmp(line, "export ", 7) == 0)
            line += 7;
        char *eq = strchr(line, '=');
        if (!eq)
            return sp_fail(err, SP_ERR_USAGE, "%s:%d: expected NAME=value", path, lineno);
        char *name_end = eq;
        while (name_end > line && (name_end[-1] == ' ' || name_end[-1] == '\t'))
            name_end--;
        *name_end = '\0';
        if (!(isalpha((unsigned char)line[0]) || line[0] == '_'))
            return sp_fail(err, SP_ERR_USAGE, "%s:%d: '%.40s' is not a variable name", path,
                           lineno, line);
        for (char *q = line; *q; q++)
            if (!(isalnum((unsigned char)*q) || *q == '_'))
                return sp_fail(err, SP_ERR_USAGE, "%s:%d: '%.40s' is not a variable name", path,
                               lineno, line);
        char value[VALUE_MAX + 1];
        SP_TRY(parse_value(eq + 1, value, sizeof value, path, lineno, err));
        int i = find(line);
        if (i < 0) {
            /* Other tools' variables (Terraform inputs, …) are fine; kept
             * only so that a misspelt name of ours can be pointed out. */
            if (c->nothers < DOTENV_OTHERS_MAX && (c->others[c->nothers] = strdup(line)))
                c->other_line[c->nothers++] = lineno;
            continue;
        }
        free(c->dotenv[i]);
        c->dotenv[i] = strdup(value);
        if (!c->dotenv[i])
            return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    }
    return SP_OK;
}

/* ---- validation ------------------------------------------------------ */

static bool has_scheme(const char *v, const char **scheme_end)
{
    const char *p = v;
    if (!isalpha((unsigned char)*p))
        return false;
    while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
        p++;
    if (strncmp(p, "://", 3) != 0)
        return false;
    *scheme_end = p;
    return true;
}

static bool valid_bucket(const char *b, size_t n)
{
    if (n < 3 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)b[i]) || isdigit((unsigned char)b[i]) || b[i] == '-' ||
              b[i] == '.'))
            return false;
    return true;
}

/* A store: a local path, file://PATH, or s3://BUCKET[/PREFIX] with a bucket
 * name S3 would accept, so a typo fails here rather than at the first put. */
static int check_store_url(const name_def *d, const char *v, sp_error *err)
{
    const char *se;
    if (!has_scheme(v, &se))
        return SP_OK; /* a local path */
    if (strncmp(v, "file://", 7) == 0)
        return v[7] ? SP_OK : sp_fail(err, SP_ERR_USAGE, "%s: file:// URL has no path", d->name);
    if (strncmp(v, "s3://", 5) == 0) {
        const char *b = v + 5, *slash = strchr(b, '/');
        size_t n = slash ? (size_t)(slash - b) : strlen(b);
        if (!valid_bucket(b, n))
            return sp_fail(err, SP_ERR_USAGE,
                           "%s: '%.*s' is not a valid S3 bucket name (3-63 of a-z 0-9 . -)",
                           d->name, (int)(n > 80 ? 80 : n), b);
        return SP_OK;
    }
    return sp_fail(err, SP_ERR_USAGE,
                   "%s: unknown URL scheme '%.*s' (use s3://bucket[/prefix], file:// or a path)",
                   d->name, (int)(se - v > 20 ? 20 : se - v), v);
}

/* DATABASE_URL: the message shows only the scheme, never the rest (it may
 * hold a password). */
static int check_database_url(const char *v, sp_error *err)
{
    const char *se;
    if (strncmp(v, "postgresql://", 13) == 0 || strncmp(v, "postgres://", 11) == 0)
        return SP_OK;
    if (strncmp(v, "sqlite:///", 10) == 0 && v[10])
        return SP_OK;
    if (strncmp(v, "sqlite://", 9) == 0)
        return sp_fail(err, SP_ERR_USAGE,
                       "DATABASE_URL: SQLite URLs are sqlite:///relative.db or "
                       "sqlite:////absolute.db");
    if (has_scheme(v, &se))
        return sp_fail(err, SP_ERR_USAGE,
                       "DATABASE_URL: unknown URL scheme '%.*s' (use postgresql:// or sqlite:///)",
                       (int)(se - v > 20 ? 20 : se - v), v);
    return sp_fail(err, SP_ERR_USAGE,
                   "DATABASE_URL: not a URL (use postgresql://… or sqlite:///path.db)");
}

/* At most 18 digits in all: the value must fit a 64-bit fixed-point
 * decimal. */
static int check_decimal(const name_def *d, const char *v, sp_error *err)
{
    const char *p = v;
    int digits = 0;
    if (*p == '+' || *p == '-')
        p++;
    while (isdigit((unsigned char)*p))
        p++, digits++;
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p); p++)
            digits++;
    if (*p || !digits || digits > 18)
        return sp_fail(err, SP_ERR_USAGE, "%s: '%.40s' is not a decimal number", d->name, v);
    return SP_OK;
}

/* Digits only (no sign, no blanks: strtoll alone would take " -1"), within
 * [min, max]; `what` says the range in words. */
static int check_integer(const name_def *d, const char *v, long long min, long long max,
                         const char *what, sp_error *err)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!isdigit((unsigned char)*v) || *end || errno || x < min || x > max)
        return sp_fail(err, SP_ERR_USAGE, "%s: '%.40s' is not %s", d->name, v, what);
    return SP_OK;
}

/* A share: a decimal from 0 to 1. */
static int check_rate(const name_def *d, const char *v, sp_error *err)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (!(isdigit((unsigned char)*v) || *v == '.') || *end || errno || !(x >= 0.0 && x <= 1.0))
        return sp_fail(err, SP_ERR_USAGE, "%s: '%.40s' is not a share from 0 to 1 (e.g. 0.25)",
                       d->name, v);
    return SP_OK;
}

/* One of d->choices ("|a|b|"); the message lists them as "a,b". */
static int check_enum(const name_def *d, const char *v, sp_error *err)
{
    char pat[64];
    snprintf(pat, sizeof pat, "|%s|", v);
    if (strlen(v) < 40 && strstr(d->choices, pat))
        return SP_OK;
    char list[64];
    snprintf(list, sizeof list, "%s", d->choices + 1);
    list[strlen(list) - 1] = '\0';
    for (char *q = list; *q; q++)
        if (*q == '|')
            *q = ',';
    return sp_fail(err, SP_ERR_USAGE, "%s: '%.40s' is not one of %s", d->name, v, list);
}

/* Every value is checked when the configuration is read, so a typo is a
 * usage error (exit 2) naming the setting before any task has started. */
static int check_value(const name_def *d, const char *v, sp_error *err)
{
    switch (d->check) {
    case C_NONE:
        return SP_OK;
    case C_STORE:
        return check_store_url(d, v, err);
    case C_DBURL:
        return check_database_url(v, err);
    case C_HTTP:
        if (strncmp(v, "http://", 7) == 0 || strncmp(v, "https://", 8) == 0)
            return SP_OK;
        return sp_fail(err, SP_ERR_USAGE, "%s: expected an http:// or https:// URL", d->name);
    case C_DECIMAL:
        return check_decimal(d, v, err);
    case C_UINT:
        return check_integer(d, v, 0, 1000000000LL, "a non-negative integer", err);
    case C_PORT:
        return check_integer(d, v, 1, 65535, "a port number (1-65535)", err);
    case C_RATE:
        return check_rate(d, v, err);
    case C_THREADS:
        return check_integer(d, v, 1, 256, "a thread count (1-256)", err);
    case C_ENUM:
        return check_enum(d, v, err);
    }
    return SP_OK;
}

int sp_config_load(sp_config *c, const char *env_file, sp_error *err)
{
    const char *dotenv = env_file ? env_file : ".env";
    free(c->dotenv_path);
    c->dotenv_path = strdup(dotenv);
    SP_TRY(read_dotenv(c, dotenv, env_file != NULL, err));
    for (size_t i = 0; i < NNAMES; i++) {
        if (c->source[i] == SP_SRC_FLAG)
            continue;
        const char *e = getenv(NAMES[i].name);
        if (e && *e)
            SP_TRY(set(c, (int)i, e, SP_SRC_ENV, err));
        else if (c->dotenv[i] && *c->dotenv[i])
            SP_TRY(set(c, (int)i, c->dotenv[i], SP_SRC_DOTENV, err));
    }
    /* The reference's bucket names stand for s3:// stores unless a store URL
     * was given at the same or a higher level. */
    static const char *pairs[][2] = {{"S3_BUCKET", "RAW_STORE"}, {"PROCESSED_BUCKET", "PROCESSED_STORE"}};
    for (size_t k = 0; k < 2; k++) {
        int b = find(pairs[k][0]), s = find(pairs[k][1]);
        if (c->value[b] && c->source[s] < c->source[b]) {
            char url[VALUE_MAX + 8];
            snprintf(url, sizeof url, "s3://%s", c->value[b]);
            SP_TRY(set(c, s, url, SP_SRC_DERIVED, err));
        }
    }
    int th = find("THREADS");
    if (!c->value[th]) { /* the default is the machine's: one worker per core */
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        char n[16];
        snprintf(n, sizeof n, "%ld", cores < 1 ? 1L : cores > 256 ? 256L : cores);
        SP_TRY(set(c, th, n, SP_SRC_DEFAULT, err));
    }
    for (size_t i = 0; i < NNAMES; i++) {
        if (!c->value[i] && NAMES[i].def)
            SP_TRY(set(c, (int)i, NAMES[i].def, SP_SRC_DEFAULT, err));
        if (c->value[i] && check_value(&NAMES[i], c->value[i], err) != SP_OK)
            return sp_error_prefix(err, "configuration (%s)", sp_source_name(c->source[i]));
    }
    return SP_OK;
}

/* ---- masking --------------------------------------------------------- */

/* Does a query parameter named like a secret start at p? Returns its key length. */
static size_t secret_param(const char *p)
{
    static const char *keys[] = {"password=", "sslpassword=", "secret=", "token="};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        if (strncasecmp(p, keys[k], strlen(keys[k])) == 0)
            return strlen(keys[k]);
    return 0;
}

void sp_mask_url(const char *in, char *out, size_t outsz)
{
    const char *se, *pass = NULL, *at = NULL;
    if (has_scheme(in, &se)) {
        const char *auth = se + 3;
        size_t hostlen = strcspn(auth, "/?#");
        for (size_t i = 0; i < hostlen; i++)
            if (auth[i] == '@')
                at = auth + i; /* the last '@' ends the userinfo */
        if (at)
            pass = memchr(auth, ':', (size_t)(at - auth));
    }
    size_t n = 0;
    for (const char *p = in; *p && n + 4 < outsz;) {
        size_t key;
        if (pass && p == pass + 1) {
            memcpy(out + n, "***", 3), n += 3;
            p = at;
        } else if ((p > in && (p[-1] == '?' || p[-1] == '&')) && (key = secret_param(p))) {
            if (n + key + 4 >= outsz)
                break;
            memcpy(out + n, p, key), n += key;
            memcpy(out + n, "***", 3), n += 3;
            p += key + strcspn(p + key, "&#");
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
}

const char *sp_config_display(const sp_config *c, const char *name, char *out, size_t outsz)
{
    int i = find(name);
    if (i < 0 || !c->value[i])
        return NULL;
    if (NAMES[i].secret) {
        snprintf(out, outsz, "********");
    } else if (NAMES[i].url_secret && strcmp(name, "ALERT_WEBHOOK_URL") == 0) {
        /* Webhook URLs (Slack, Teams) carry their token in the path. */
        const char *v = c->value[i], *se;
        if (has_scheme(v, &se)) {
            size_t host = strcspn(se + 3, "/?#");
            snprintf(out, outsz, "%.*s/***", (int)(se + 3 + host - v), v);
        } else {
            snprintf(out, outsz, "********");
        }
    } else if (NAMES[i].url_secret) {
        sp_mask_url(c->value[i], out, outsz);
    } else {
        snprintf(out, outsz, "%s", c->value[i]);
    }
    return out;
}

void sp_config_each_secret(const sp_config *c, void (*fn)(const char *secret))
{
    for (size_t i = 0; i < NNAMES; i++) {
        const char *v = c->value[i], *se;
        if (!v)
            continue;
        if (NAMES[i].secret) {
            fn(v);
        } else if (NAMES[i].url_secret && has_scheme(v, &se)) {
            char tmp[VALUE_MAX + 1];
            const char *auth = se + 3;
            size_t hostlen = strcspn(auth, "/?#");
            const char *at = NULL;
            for (size_t k = 0; k < hostlen; k++)
                if (auth[k] == '@')
                    at = auth + k;
            const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
            if (colon) {
                snprintf(tmp, sizeof tmp, "%.*s", (int)(at - colon - 1), colon + 1);
                fn(tmp);
            }
            if (strcmp(NAMES[i].name, "ALERT_WEBHOOK_URL") == 0 && auth[hostlen]) {
                snprintf(tmp, sizeof tmp, "%s", auth + hostlen + 1);
                fn(tmp);
            }
        }
    }
}

/* ---- names that look like ours --------------------------------------- */

/* Names of the tools around us (the reference system's Terraform and compose
 * inputs, libpq's and the AWS tools' own variables): never a typo of ours,
 * however close they look. */
static const char *const NEIGHBOURS[] = {
    "PROJECT_NAME", "ENVIRONMENT", "ALLOWED_CIDR", "DB_INSTANCE_CLASS", "DB_ALLOCATED_STORAGE",
    "DB_ENGINE_VERSION", "DB_BACKUP_RETENTION_DAYS", "PUBLICLY_ACCESSIBLE", "FORCE_DESTROY",
    "HOST_DATA_DIR", "PIPELINE_IMAGE", "POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD",
    "POSTGRES_HOST_PORT", "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD", "MINIO_API_PORT",
    "MINIO_CONSOLE_PORT", "MINIO_IMAGE", "MINIO_MC_IMAGE", "AIRFLOW_IMAGE", "AIRFLOW_PORT",
    "AIRFLOW_ADMIN_USER", "AIRFLOW_ADMIN_PASSWORD", "AIRFLOW_UID", "DOCKER_GID",
    "SALESPIPE_DAG_MODE", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGSSLMODE",
    "PGSSLROOTCERT", "PGSSLCERT", "PGSSLKEY", "PGCONNECT_TIMEOUT", "PGAPPNAME", "PGSERVICE",
    "PGPASSFILE", "PGOPTIONS", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_SDK_LOAD_CONFIG", "AWS_RETRY_MODE", "AWS_PAGER", "NO_COLOR",
};

static bool neighbour(const char *name)
{
    if (strncmp(name, "TF_VAR_", 7) == 0 || strncmp(name, "AIRFLOW", 7) == 0)
        return true;
    for (size_t k = 0; k < sizeof NEIGHBOURS / sizeof NEIGHBOURS[0]; k++)
        if (strcmp(name, NEIGHBOURS[k]) == 0)
            return true;
    return false;
}

/* Edits (insert, delete, substitute, swap two neighbours) from a to b,
 * ignoring case; anything above 2 is reported as 3. */
static int edits(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na > 64 || nb > 64 || (na > nb ? na - nb : nb - na) > 2)
        return 3;
    int d[66][66];
    for (size_t i = 0; i <= na; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= nb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= na; i++)
        for (size_t j = 1; j <= nb; j++) {
            int cost = toupper((unsigned char)a[i - 1]) != toupper((unsigned char)b[j - 1]);
            int v = d[i - 1][j - 1] + cost;
            if (d[i - 1][j] + 1 < v)
                v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && toupper((unsigned char)a[i - 1]) == toupper((unsigned char)b[j - 2]) &&
                toupper((unsigned char)a[i - 2]) == toupper((unsigned char)b[j - 1]) &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[na][nb] > 2 ? 3 : d[na][nb];
}

const char *sp_config_resembles(const char *name)
{
    if (find(name) >= 0 || neighbour(name) || strlen(name) < 5)
        return NULL;
    const char *best = NULL;
    int best_d = 3;
    for (size_t i = 0; i < NNAMES; i++) {
        int d = edits(name, NAMES[i].name);
        /* Short names need a closer match: two edits turn most 5-letter
         * words into each other. */
        if (d < best_d && (d <= 1 || strlen(NAMES[i].name) >= 8))
            best = NAMES[i].name, best_d = d;
    }
    return best;
}

extern char **environ;

void sp_config_each_suspect(const sp_config *c,
                            void (*fn)(void *ctx, const char *name, const char *like,
                                       const char *where),
                            void *ctx)
{
    char where[600];
    for (size_t i = 0; i < c->nothers; i++) {
        const char *like = sp_config_resembles(c->others[i]);
        if (like) {
            snprintf(where, sizeof where, "%s:%d", c->dotenv_path ? c->dotenv_path : ".env",
                     c->other_line[i]);
            fn(ctx, c->others[i], like, where);
        }
    }
    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        char name[80];
        if (!eq || eq == *e || (size_t)(eq - *e) >= sizeof name)
            continue;
        memcpy(name, *e, (size_t)(eq - *e));
        name[eq - *e] = '\0';
        const char *like = sp_config_resembles(name);
        if (like)
            fn(ctx, name, like, "the environment");
    }
}
