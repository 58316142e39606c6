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
#include <unistd.h>

#include "../pipeline/pipeline.h"
#include "../util/date.h"
#include "../util/log.h"
#include "../util/progress.h"
#include "cli.h"

#include "../util/version.h"

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

static void register_secret(const char *s) { sp_log_add_secret(s); }

/* "unknown command 'rnu'" + "did you mean 'run'?" when one is near. */
static int unknown_command(const char *word)
{
    const char *near = cli_nearest_command(word);
    if (near)
        return usage_error("unknown command '%s'; did you mean '%s'?", word, near);
    return usage_error("unknown command '%s'", word);
}

static int unknown_option(const cli_command *cmd, const char *opt)
{
    const char *near = cli_nearest_option(cmd, opt);
    bool of_a_command = false;
    for (size_t i = 0; !cmd && i < CLI_NCOMMANDS; i++)
        of_a_command |= cli_option_find(&CLI_COMMANDS[i], opt) != NULL;
    if (cmd)
        fprintf(stderr, "salespipe: '%s' does not take option '%s'", cmd->name, opt);
    else if (of_a_command)
        fprintf(stderr, "salespipe: '%s' is a command's option: put it after the command", opt);
    else
        fprintf(stderr, "salespipe: unknown option '%s'", opt);
    if (near)
        fprintf(stderr, "; did you mean '%s'?", near);
    fprintf(stderr, "\nTry 'salespipe %s%s--help'.\n", cmd ? cmd->name : "", cmd ? " " : "");
    return EXIT_USAGE;
}

/* -q, -v, -h, -V: the short spellings of global options. */
static const char *long_spelling(const char *opt)
{
    static const char *pairs[][2] = {
        {"-q", "--quiet"}, {"-v", "--verbose"}, {"-h", "--help"}, {"-V", "--version"}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        if (strcmp(opt, pairs[i][0]) == 0)
            return pairs[i][1];
    return opt;
}

/* --help seen: the help of the command named on the line (before or after
 * the flag), else the general one. */
static int print_help(const cli_command *cmd, int argc, char **argv)
{
    for (int i = 1; !cmd && i < argc; i++)
        if (argv[i][0] != '-')
            cmd = cli_command_find(argv[i]);
    if (cmd)
        cli_print_command_help(cmd, stdout);
    else
        cli_print_usage(stdout);
    return EXIT_OK;
}

/* `salespipe help [COMMAND]`. */
static int cmd_help(const char *name)
{
    if (!name) {
        cli_print_usage(stdout);
        return EXIT_OK;
    }
    const cli_command *c = cli_command_find(name);
    if (!c)
        return unknown_command(name);
    cli_print_command_help(c, stdout);
    return EXIT_OK;
}

/* A name one or two edits away from ours (DATABSE_URL) is almost always a
 * typo whose value is silently ignored: say so before anything runs. */
static void warn_suspect(void *ctx, const char *name, const char *like, const char *where)
{
    (void)ctx;
    sp_log(SP_LOG_WARN, "config: %s (%s) is not a salespipe name and is ignored: did you mean %s?",
           name, where, like);
}

/* The live progress line (SPEC §9): only for a person at a terminal, so
 * never when stderr is not a TTY, with -q, NO_PROGRESS set (other than 0),
 * or JSON logs (whose every line must be an object). NO_COLOR: no bold. */
static void setup_progress(const sp_config *cfg, bool json_logs, int verbosity)
{
    const char *off = sp_config_get(cfg, "NO_PROGRESS");
    const char *no_color = getenv("NO_COLOR");
    bool on = isatty(STDERR_FILENO) && !json_logs && verbosity >= 0 &&
              !(off && *off && strcmp(off, "0") != 0);
    sp_progress_setup(on, !(no_color && *no_color));
}

/* What the command line sets besides sp_cli: the flags that become
 * configuration (highest precedence) and the positional arguments. */
typedef struct cli_args {
    sp_cli cli;
    const cli_command *cmd;
    const char *positional[2];
    int npos;
    const char *retries, *retry_delay, *retry_backoff, *log_format;
} cli_args;

/* A run id given on the command line: what a scheduler's id looks like
 * (Airflow's "scheduled__2026-12-06T00:00:00+00:00"), nothing that would
 * need quoting in a key, a log line or SQL. */
static bool valid_run_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._:+-", s[i]))
            return false;
    return true;
}

/* transform's forms (pl_transform_mode): one of --list, --map,
 * --map-index, --merge at most. */
static int set_transform_mode(sp_cli *cli, int mode, const char *opt)
{
    if (cli->tf_mode != 0 && cli->tf_mode != mode)
        return usage_error("%s cannot be combined with another of --list, --map, --map-index, "
                           "--merge", opt);
    cli->tf_mode = mode;
    return -1;
}

/* transform's options across processes (--list, --map, --map-index,
 * --merge, --run-id), and the catch-all for an option of the table that
 * nothing handles: -1 to go on, else the exit status. */
static int apply_transform_option(cli_args *a, const char *opt, const char *val)
{
    sp_cli *cli = &a->cli;
    if (strcmp(opt, "--list") == 0)
        return set_transform_mode(cli, PL_TF_LIST, opt);
    if (strcmp(opt, "--merge") == 0)
        return set_transform_mode(cli, PL_TF_MERGE, opt);
    if (strcmp(opt, "--map") == 0) {
        if (!*val)
            return usage_error("--map needs an input's name");
        cli->map_key = val;
        return set_transform_mode(cli, PL_TF_MAP, opt);
    }
    if (strcmp(opt, "--map-index") == 0) {
        if (!parse_int(val, 0, 99999999, &cli->map_index))
            return usage_error("--map-index '%s' is not an input's number (0, 1, …)", val);
        return set_transform_mode(cli, PL_TF_MAP_INDEX, opt);
    }
    if (strcmp(opt, "--run-id") == 0) {
        if (!valid_run_id(val))
            return usage_error("--run-id '%s': 1 to 63 letters, digits and . _ : + -", val);
        cli->task_run_id = val;
        return -1;
    }
    /* In the table (commands.c) but handled nowhere. */
    return usage_error("option '%s' of '%s' is not available in this version yet", opt,
                       a->cmd ? a->cmd->name : "salespipe");
}

/* One known option (its long name) and its value: -1 to go on, else the
 * exit status (a usage error, or 0 for --version). */
static int apply_option(cli_args *a, const char *opt, const char *val)
{
    sp_cli *cli = &a->cli;
    long long x;
    if (strcmp(opt, "--version") == 0) {
        printf("salespipe %s\n", SP_VERSION);
        return EXIT_OK;
    } else if (strcmp(opt, "--quiet") == 0) {
        cli->verbosity = -1;
    } else if (strcmp(opt, "--verbose") == 0) {
        cli->verbosity = 1;
    } else if (strcmp(opt, "--env-file") == 0) {
        cli->env_file = val;
    } else if (strcmp(opt, "--log-format") == 0) {
        a->log_format = val;
    } else if (strcmp(opt, "--ds") == 0) {
        if (!valid_ds(val))
            return usage_error("--ds '%s' is not a date YYYY-MM-DD", val);
        cli->ds = val;
    } else if (a->cmd && strcmp(a->cmd->name, "backfill") == 0 &&
               (strcmp(opt, "--from") == 0 || strcmp(opt, "--to") == 0)) {
        /* dates here (checked with the range by orch_backfill_range) */
        *(opt[2] == 'f' ? &cli->from_ds : &cli->to_ds) = val;
    } else if (strcmp(opt, "--from") == 0 || strcmp(opt, "--only") == 0) {
        if (!is_task(val))
            return usage_error("'%s' is not a task (preflight, stage, transform, "
                               "create-tables, load)", val);
        *(opt[2] == 'f' ? &cli->from_task : &cli->only_task) = val;
    } else if (strcmp(opt, "--resume") == 0) {
        cli->resume = true;
    } else if (strcmp(opt, "--skip-gates") == 0) {
        cli->skip_gates = true;
    } else if (strcmp(opt, "--retries") == 0) {
        if (!parse_int(val, 0, 100, &x))
            return usage_error("--retries '%s' is not a number from 0 to 100", val);
        a->retries = val;
    } else if (strcmp(opt, "--retry-delay") == 0) {
        if (!parse_int(val, 0, 86400 * 7, &x))
            return usage_error("--retry-delay '%s' is not a number of seconds", val);
        a->retry_delay = val;
    } else if (strcmp(opt, "--retry-backoff") == 0) {
        if (strcmp(val, "fixed") != 0 && strcmp(val, "exponential") != 0)
            return usage_error("--retry-backoff '%s' is not fixed or exponential", val);
        a->retry_backoff = val;
    } else if (strcmp(opt, "--json") == 0) {
        cli->json = true;
    } else if (strcmp(opt, "--csv") == 0) {
        cli->csv = true;
    } else if (strcmp(opt, "--dirty") == 0) {
        cli->dirty = true;
    } else if (strcmp(opt, "--force") == 0) {
        cli->force = true;
    } else if (strcmp(opt, "--out") == 0) {
        cli->out = val;
    } else if (strcmp(opt, "--rows") == 0 || strcmp(opt, "--head") == 0) {
        if (!parse_int(val, 0, 1000000000000LL, &cli->rows))
            return usage_error("'%s' is not a non-negative row count", val);
    } else if (strcmp(opt, "--seed") == 0) {
        if (!parse_int(val, 0, 0x7fffffffffffffffLL, &cli->seed))
            return usage_error("--seed '%s' is not a non-negative integer", val);
    } else {
        return apply_transform_option(a, opt, val);
    }
    return -1;
}

/* Commands, positional arguments and options of argv (against the command
 * table): -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, cli_args *a)
{
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i];
        char opt[64];
        const char *val = NULL;
        if (strcmp(arg, "--") == 0 || arg[0] != '-' || arg[1] == '\0') {
            if (!a->cmd) {
                a->cmd = cli_command_find(arg);
                if (!a->cmd)
                    return unknown_command(arg);
                a->cli.command = a->cmd->name;
            } else if (a->npos < a->cmd->positional) {
                a->positional[a->npos++] = arg;
            } else {
                return usage_error("unexpected argument '%s'", arg);
            }
            continue;
        }
        /* --name=value or --name value; options are those of the table
         * (commands.c): global ones anywhere, a command's after it. */
        const char *eq = strchr(arg, '=');
        size_t olen = eq ? (size_t)(eq - arg) : strlen(arg);
        if (olen >= sizeof opt)
            return usage_error("unknown option '%.60s'", arg);
        memcpy(opt, arg, olen);
        opt[olen] = '\0';
        const cli_option *known = cli_option_find(a->cmd, long_spelling(opt));
        if (!known)
            return unknown_option(a->cmd, opt);
        if (strcmp(known->name, "--help") == 0)
            return print_help(a->cmd, argc, argv);
        if (known->arg) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else
                return usage_error("option '%s' needs a value", opt);
        } else if (eq) {
            return usage_error("option '%s' takes no value", opt);
        }
        int rc = apply_option(a, known->name, val);
        if (rc >= 0)
            return rc;
    }
    return -1;
}

/* What the options mean together: -1 when they make sense. */
static int check_combinations(cli_args *a)
{
    sp_cli *cli = &a->cli;
    const char *name = a->cmd->name;
    if (cli->from_task && cli->only_task)
        return usage_error("--from and --only cannot be used together");
    if (cli->resume && (cli->from_task || cli->only_task))
        return usage_error("--resume continues where the failed run stopped: it cannot be "
                           "combined with --from or --only");
    if (strcmp(name, "inspect") == 0) {
        if (a->npos != 1)
            return usage_error("inspect needs a FILE.parquet");
        cli->file = a->positional[0];
    }
    if (strcmp(name, "runs") == 0 || strcmp(name, "report") == 0)
        cli->run_id = a->positional[0];
    if (strcmp(name, "report") == 0 && cli->run_id && cli->ds)
        return usage_error("report takes a RUN_ID or --ds, not both");
    if (strcmp(name, "backfill") == 0 && (!cli->from_ds || !cli->to_ds))
        return usage_error("backfill needs --from D1 and --to D2");
    if (strcmp(name, "gen") == 0 && !cli->out)
        return usage_error("gen needs --out DIR");
    if (cli->skip_gates && (cli->tf_mode == PL_TF_MAP || cli->tf_mode == PL_TF_MAP_INDEX ||
                            cli->tf_mode == PL_TF_LIST))
        return usage_error("--skip-gates belongs to --merge (a map has no gates)");
    return -1;
}

/* Configuration: flags first (highest precedence), then the rest; logging
 * and progress set up from it. -1 to go on, else the exit status. */
static int load_config(cli_args *a)
{
    sp_cli *cli = &a->cli;
    sp_error err;
    sp_error_clear(&err);
    cli->config = sp_config_new();
    if (!cli->config) {
        fprintf(stderr, "salespipe: out of memory\n");
        return EXIT_TASK_FAILED;
    }
    if ((a->retries && sp_config_set_flag(cli->config, "RETRIES", a->retries, &err)) ||
        (a->retry_delay && sp_config_set_flag(cli->config, "RETRY_DELAY", a->retry_delay, &err)) ||
        (a->retry_backoff &&
         sp_config_set_flag(cli->config, "RETRY_BACKOFF", a->retry_backoff, &err)) ||
        (a->log_format && sp_config_set_flag(cli->config, "LOG_FORMAT", a->log_format, &err)) ||
        sp_config_load(cli->config, cli->env_file, &err)) {
        /* Register what was resolved so far: the message must not leak it. */
        sp_config_each_secret(cli->config, register_secret);
        sp_log_scrub(err.msg);
        fprintf(stderr, "salespipe: %s\n", err.msg);
        sp_config_free(cli->config);
        return err.code == SP_ERR_USAGE ? EXIT_USAGE : EXIT_TASK_FAILED;
    }
    sp_config_each_secret(cli->config, register_secret);
    bool json_logs = strcmp(sp_config_get(cli->config, "LOG_FORMAT"), "json") == 0;
    sp_log_setup(json_logs, cli->verbosity);
    setup_progress(cli->config, json_logs, cli->verbosity);
    sp_config_each_suspect(cli->config, warn_suspect, NULL);
    return -1;
}

static int dispatch(const cli_command *cmd, const sp_cli *cli)
{
    static const struct {
        const char *name;
        int (*fn)(const sp_cli *);
    } table[] = {{"inspect", cmd_inspect}, {"run", cmd_run},       {"runs", cmd_runs},
                 {"backfill", cmd_backfill}, {"plan", cmd_plan},   {"report", cmd_report},
                 {"gen", cmd_gen}};
    if (cmd->pending) {
        fprintf(stderr, "salespipe: '%s' is not available in this version yet (it comes with %s)\n",
                cmd->name, cmd->pending);
        return EXIT_USAGE;
    }
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(cmd->name, table[i].name) == 0)
            return table[i].fn(cli);
    return is_task(cmd->name) ? cmd_task(cli) : cmd_config(cli);
}

int main(int argc, char **argv)
{
    cli_args a = {.cli = {.rows = -1, .seed = 1}};
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    if (!a.cmd) {
        cli_print_usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(a.cmd->name, "help") == 0)
        return cmd_help(a.positional[0]);
    if ((rc = check_combinations(&a)) >= 0 || (rc = load_config(&a)) >= 0)
        return rc;
    rc = dispatch(a.cmd, &a.cli);
    sp_config_free(a.cli.config);
    return rc;
}
