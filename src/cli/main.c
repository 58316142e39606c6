/* main.c — salespipe's entry point: parses the command line of SPEC §3,
 * resolves the configuration, sets up logging and dispatches to a command.
 * Knows nothing of how tasks work; only maps their outcome to exit codes
 * (0 ok, 1 a task failed, 2 the command line or configuration is wrong). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../pipeline/pipeline.h"
#include "../util/date.h"
#include "../util/log.h"
#include "cli.h"

#include "../util/version.h"

static const char USAGE[] =
    "usage: salespipe [--env-file PATH] [--log-format text|json] [-q|-v] COMMAND [options]\n"
    "\n"
    "Consolidates regional sales CSV files into a star schema: raw store → Parquet\n"
    "in the processed store → warehouse (PostgreSQL, or embedded SQLite).\n"
    "\n"
    "pipeline tasks (in this order; `run` does all five):\n"
    "  preflight       check that the stores and the warehouse are reachable and writable\n"
    "  stage           upload $DATA_DIR/raw/*_orders.csv to the raw store under runs/<ds>/\n"
    "  transform       clean the raw CSVs, write the star schema as Parquet + rejects.csv\n"
    "  create-tables   create the warehouse schema if missing\n"
    "  load            load the run's Parquet tables into the warehouse in one transaction\n"
    "  run [--ds D] [--from TASK] [--only TASK] [--resume] [--retries N] [--retry-delay SEC]\n"
    "      [--retry-backoff fixed|exponential]   the tasks in order, with retries, recorded\n"
    "      in the run ledger (STATE_DIR); --resume continues the latest failed run of --ds\n"
    "\n"
    "tools:\n"
    "  runs [RUN_ID] [--json]                      run history, or one run's tasks\n"
    "  gen --out DIR [--rows N] [--seed S] [--dirty]  synthetic regional CSV files\n"
    "  inspect FILE.parquet [--head N] [--csv]     schema, row groups, statistics, rows\n"
    "  config [--json]                             the effective configuration (secrets masked)\n"
    "\n"
    "Every task takes --ds YYYY-MM-DD (default: today, UTC).\n"
    "Configuration: flags > environment > .env (./.env or --env-file) > defaults;\n"
    "see `salespipe config` and the README for every name.\n"
    "Exit status: 0 success, 1 a task failed, 2 bad command line or configuration.\n";

typedef struct command {
    const char *name;
    const char *opts;    /* allowed options, "|--ds|--json|" */
    int positional;      /* max positional arguments */
    const char *pending; /* not built yet: the issue that brings it */
} command;

static const command COMMANDS[] = {
    {"run", "|--ds|--from|--only|--resume|--retries|--retry-delay|--retry-backoff|", 0, NULL},
    {"preflight", "|--ds|", 0, NULL},
    {"stage", "|--ds|", 0, NULL},
    {"transform", "|--ds|", 0, NULL},
    {"create-tables", "|--ds|", 0, NULL},
    {"load", "|--ds|", 0, NULL},
    {"runs", "|--json|", 1, NULL},
    {"gen", "|--out|--rows|--seed|--dirty|", 0, NULL},
    {"inspect", "|--head|--csv|", 1, NULL},
    {"config", "|--json|", 0, NULL},
};

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "salespipe: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'salespipe --help'.\n");
    return EXIT_USAGE;
}

static bool valid_ds(const char *s)
{
    unsigned y, m, d;
    char tail;
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
            return false;
    if (sscanf(s, "%4u-%2u-%2u%c", &y, &m, &d, &tail) != 3)
        return false;
    return sp_date_valid(y, m, d);
}

static bool parse_int(const char *s, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static bool is_task(const char *s)
{
    return pl_task_parse(s) >= 0;
}

static bool opt_allowed(const command *c, const char *opt)
{
    char pat[80];
    snprintf(pat, sizeof pat, "|%s|", opt);
    return strlen(opt) < 40 && strstr(c->opts, pat) != NULL;
}

static void register_secret(const char *s) { sp_log_add_secret(s); }

/* Options that take a value; the rest are switches. */
static bool takes_value(const char *opt)
{
    static const char *v[] = {"--ds", "--from", "--only", "--retries", "--retry-delay", "--retry-backoff",
                              "--out", "--rows", "--seed", "--head", "--env-file", "--log-format"};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (strcmp(v[i], opt) == 0)
            return true;
    return false;
}

int main(int argc, char **argv)
{
    sp_cli cli = {.rows = -1, .seed = 1};
    const command *cmd = NULL;
    const char *positional[2] = {NULL, NULL};
    int npos = 0;
    const char *retries = NULL, *retry_delay = NULL, *retry_backoff = NULL, *log_format = NULL;
    bool help = false;

    for (int i = 1; i < argc; i++) {
        char *arg = argv[i];
        char opt[64];
        const char *val = NULL;
        if (strcmp(arg, "--") == 0 || arg[0] != '-' || arg[1] == '\0') {
            if (!cmd) {
                for (size_t k = 0; k < sizeof COMMANDS / sizeof COMMANDS[0]; k++)
                    if (strcmp(COMMANDS[k].name, arg) == 0)
                        cmd = &COMMANDS[k];
                if (!cmd)
                    return usage_error("unknown command '%s'", arg);
                cli.command = cmd->name;
            } else if (npos < cmd->positional) {
                positional[npos++] = arg;
            } else {
                return usage_error("unexpected argument '%s'", arg);
            }
            continue;
        }
        /* --name=value or --name value */
        const char *eq = strchr(arg, '=');
        size_t olen = eq ? (size_t)(eq - arg) : strlen(arg);
        if (olen >= sizeof opt)
            return usage_error("unknown option '%.60s'", arg);
        memcpy(opt, arg, olen);
        opt[olen] = '\0';
        if (takes_value(opt)) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else
                return usage_error("option '%s' needs a value", opt);
        } else if (eq) {
            return usage_error("option '%s' takes no value", opt);
        }
        if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
            help = true;
        } else if (strcmp(opt, "--version") == 0 || strcmp(opt, "-V") == 0) {
            printf("salespipe %s\n", SP_VERSION);
            return EXIT_OK;
        } else if (strcmp(opt, "-q") == 0 || strcmp(opt, "--quiet") == 0) {
            cli.verbosity = -1;
        } else if (strcmp(opt, "-v") == 0 || strcmp(opt, "--verbose") == 0) {
            cli.verbosity = 1;
        } else if (strcmp(opt, "--env-file") == 0) {
            cli.env_file = val;
        } else if (strcmp(opt, "--log-format") == 0) {
            log_format = val;
        } else if (!cmd || !opt_allowed(cmd, opt)) {
            if (cmd)
                fprintf(stderr, "salespipe: '%s' does not take option '%s'\n", cmd->name, opt);
            else
                fprintf(stderr, "salespipe: unknown option '%s'\n", opt);
            fprintf(stderr, "Try 'salespipe --help'.\n");
            return EXIT_USAGE;
        } else if (strcmp(opt, "--ds") == 0) {
            if (!valid_ds(val))
                return usage_error("--ds '%s' is not a date YYYY-MM-DD", val);
            cli.ds = val;
        } else if (strcmp(opt, "--from") == 0 || strcmp(opt, "--only") == 0) {
            if (!is_task(val))
                return usage_error("'%s' is not a task (preflight, stage, transform, "
                                   "create-tables, load)", val);
            *(opt[2] == 'f' ? &cli.from_task : &cli.only_task) = val;
        } else if (strcmp(opt, "--resume") == 0) {
            cli.resume = true;
        } else if (strcmp(opt, "--retries") == 0) {
            long long x;
            if (!parse_int(val, 0, 100, &x))
                return usage_error("--retries '%s' is not a number from 0 to 100", val);
            retries = val;
        } else if (strcmp(opt, "--retry-delay") == 0) {
            long long x;
            if (!parse_int(val, 0, 86400 * 7, &x))
                return usage_error("--retry-delay '%s' is not a number of seconds", val);
            retry_delay = val;
        } else if (strcmp(opt, "--retry-backoff") == 0) {
            if (strcmp(val, "fixed") != 0 && strcmp(val, "exponential") != 0)
                return usage_error("--retry-backoff '%s' is not fixed or exponential", val);
            retry_backoff = val;
        } else if (strcmp(opt, "--json") == 0) {
            cli.json = true;
        } else if (strcmp(opt, "--csv") == 0) {
            cli.csv = true;
        } else if (strcmp(opt, "--dirty") == 0) {
            cli.dirty = true;
        } else if (strcmp(opt, "--out") == 0) {
            cli.out = val;
        } else if (strcmp(opt, "--rows") == 0 || strcmp(opt, "--head") == 0) {
            if (!parse_int(val, 0, 1000000000000LL, &cli.rows))
                return usage_error("'%s' is not a non-negative row count", val);
        } else if (strcmp(opt, "--seed") == 0) {
            if (!parse_int(val, 0, 0x7fffffffffffffffLL, &cli.seed))
                return usage_error("--seed '%s' is not a non-negative integer", val);
        }
    }

    if (help || !cmd) {
        fputs(USAGE, help ? stdout : stderr);
        return help ? EXIT_OK : EXIT_USAGE;
    }
    if (cli.from_task && cli.only_task)
        return usage_error("--from and --only cannot be used together");
    if (cli.resume && (cli.from_task || cli.only_task))
        return usage_error("--resume continues where the failed run stopped: it cannot be "
                           "combined with --from or --only");
    if (strcmp(cmd->name, "inspect") == 0) {
        if (npos != 1)
            return usage_error("inspect needs a FILE.parquet");
        cli.file = positional[0];
    }
    if (strcmp(cmd->name, "runs") == 0)
        cli.run_id = positional[0];
    if (strcmp(cmd->name, "gen") == 0 && !cli.out)
        return usage_error("gen needs --out DIR");

    /* Configuration: flags first (highest precedence), then load the rest. */
    sp_error err;
    sp_error_clear(&err);
    cli.config = sp_config_new();
    if (!cli.config) {
        fprintf(stderr, "salespipe: out of memory\n");
        return EXIT_TASK_FAILED;
    }
    if ((retries && sp_config_set_flag(cli.config, "RETRIES", retries, &err)) ||
        (retry_delay && sp_config_set_flag(cli.config, "RETRY_DELAY", retry_delay, &err)) ||
        (retry_backoff && sp_config_set_flag(cli.config, "RETRY_BACKOFF", retry_backoff, &err)) ||
        (log_format && sp_config_set_flag(cli.config, "LOG_FORMAT", log_format, &err)) ||
        sp_config_load(cli.config, cli.env_file, &err)) {
        /* Register what was resolved so far: the message must not leak it. */
        sp_config_each_secret(cli.config, register_secret);
        sp_log_scrub(err.msg);
        fprintf(stderr, "salespipe: %s\n", err.msg);
        sp_config_free(cli.config);
        return err.code == SP_ERR_USAGE ? EXIT_USAGE : EXIT_TASK_FAILED;
    }
    sp_config_each_secret(cli.config, register_secret);
    sp_log_setup(strcmp(sp_config_get(cli.config, "LOG_FORMAT"), "json") == 0, cli.verbosity);

    int rc;
    if (cmd->pending) {
        fprintf(stderr, "salespipe: '%s' is not available in this version yet (it comes with %s)\n",
                cmd->name, cmd->pending);
        rc = EXIT_USAGE;
    } else if (strcmp(cmd->name, "inspect") == 0) {
        rc = cmd_inspect(&cli);
    } else if (strcmp(cmd->name, "run") == 0) {
        rc = cmd_run(&cli);
    } else if (strcmp(cmd->name, "runs") == 0) {
        rc = cmd_runs(&cli);
    } else if (strcmp(cmd->name, "gen") == 0) {
        rc = cmd_gen(&cli);
    } else if (is_task(cmd->name)) {
        rc = cmd_task(&cli);
    } else {
        rc = cmd_config(&cli);
    }
    sp_config_free(cli.config);
    return rc;
}
