/* commands.c — the command table of SPEC §3: every command's name, options
 * and help, in ONE place. main.c parses argv against it (which options a
 * command takes, which take a value), `salespipe --help` lists it, and
 * `salespipe help CMD` / `CMD --help` print one entry. Text only: it never
 * runs a command.
 *
 * Adding a command or an option: add its entry or option line below (help
 * included), then its handling in main.c (the option's `else if` and the
 * command's dispatch). tests/cli/run.sh checks that every command listed in
 * `salespipe --help` has its own help. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Options several commands share: one wording each. */
#define OPT_DS {"--ds", "D", "the run's logical date YYYY-MM-DD (default: today, UTC)"}
#define TASK_NOTE                                                                          \
    "Runs once, without retries and outside the run ledger (as Airflow or cron\n"           \
    "call it), under the ds lock: it refuses while a `run` of the same ds holds it.\n"

const cli_option CLI_GLOBAL_OPTIONS[] = {
    {"--env-file", "PATH", "read configuration from PATH instead of ./.env"},
    {"--log-format", "FMT", "text (default) or json: one JSON object per line"},
    {"--quiet", NULL, "errors only, no progress (also -q)"},
    {"--verbose", NULL, "debug messages too (also -v)"},
    {"--help", NULL, "this help, or a command's own (also -h)"},
    {"--version", NULL, "print the version and exit (also -V)"},
    {NULL, NULL, NULL},
};

const cli_command CLI_COMMANDS[] = {
    {.name = "run",
     .summary = "the five tasks in order, with retries and the run ledger",
     .help = "Runs preflight, stage, transform, create-tables and load in order. A failed\n"
             "attempt is retried (RETRIES, RETRY_DELAY, RETRY_BACKOFF) unless its error is\n"
             "permanent; every attempt is recorded in the run ledger (STATE_DIR, see\n"
             "`salespipe runs`), and a final failure is alerted (ALERT_EMAIL,\n"
             "ALERT_WEBHOOK_URL). Prints a summary of rows in, kept and rejected.\n",
     .options = {OPT_DS,
                 {"--from", "TASK", "start at TASK, skipping the tasks before it"},
                 {"--only", "TASK", "run TASK alone (still with retries and the ledger)"},
                 {"--resume", NULL, "continue the latest failed run of --ds where it failed"},
                 {"--retries", "N", "retries per task, 0-100 (RETRIES, default 2)"},
                 {"--retry-delay", "SEC", "seconds between attempts (RETRY_DELAY)"},
                 {"--retry-backoff", "MODE", "fixed or exponential (RETRY_BACKOFF)"},
                 {"--skip-gates", NULL, "quality gates recorded, not enforced, for this run"}}},
    {.name = "preflight",
     .summary = "check the stores and the warehouse are usable",
     .help = "Fails fast, naming the cause, when the input folder, a store or the\n"
             "warehouse is unreachable, misconfigured or not writable.\n" TASK_NOTE,
     .options = {OPT_DS}},
    {.name = "stage",
     .summary = "upload $DATA_DIR/raw/*_orders.csv to the raw store",
     .help = "Uploads every local $DATA_DIR/raw file matching RAW_PATTERN to the raw\n"
             "store under runs/<ds>/ (or S3_PREFIX). An identical copy already there is\n"
             "left alone.\n" TASK_NOTE,
     .options = {OPT_DS}},
    {.name = "transform",
     .summary = "clean the raw CSVs into the star schema (Parquet)",
     .help = "Reads the run's raw CSV files, applies the cleaning rules (SPEC §4), and\n"
             "writes dim_date, dim_product and fact_sales as Parquet, rejects.csv and\n"
             "_manifest.json to the processed store under runs/<ds>/. It reads exactly\n"
             "the files stage recorded in runs/<ds>/_inputs.json, and publishes nothing\n"
             "when a quality gate fails (MIN_ROWS, MAX_REJECT_RATE, MAX_ROW_DROP).\n"
             "Across machines: `--map NAME` (or `--map-index N`) per input, any number at\n"
             "once, then `--merge`: the same outputs as one process (docs/deploy.md). The\n"
             "processes of one mapped run share a run id made from the input set.\n" TASK_NOTE,
     .options = {OPT_DS,
                 {"--skip-gates", NULL, "quality gates recorded, not enforced"},
                 {"--list", NULL, "print the run's input names, one per line; change nothing"},
                 {"--map", "NAME", "transform input NAME alone into parts (runs/<ds>/_parts/)"},
                 {"--map-index", "N", "the same for the N-th input of --list (0-based)"},
                 {"--merge", NULL, "check every input's part, publish the outputs, drop parts"},
                 {"--run-id", "ID", "the run id written in fact_sales.run_id and the manifest"}}},
    {.name = "create-tables",
     .summary = "create the warehouse schema if missing",
     .help = "Creates dim_date, dim_product and fact_sales in the warehouse (DATABASE_URL,\n"
             "or ./warehouse.db) when they are missing. Running it again changes nothing.\n"
             TASK_NOTE,
     .options = {OPT_DS}},
    {.name = "load",
     .summary = "load the run's Parquet tables into the warehouse",
     .help = "Loads the run's Parquet tables from the processed store into the warehouse\n"
             "in ONE transaction (LOAD_MODE): any failure rolls back and leaves the\n"
             "previous contents intact. LOAD_MODE=incremental loads only the input files\n"
             "the warehouse does not hold yet (etl_file) and replaces those that changed.\n"
             "QUALITY_SQL's checks run before COMMIT: a row returned rolls the load back.\n"
             TASK_NOTE,
     .options = {OPT_DS,
                 {"--force", NULL, "reload every file of the run (LOAD_MODE=incremental)"},
                 {"--skip-gates", NULL, "quality gates recorded, not enforced"}}},
    {.name = "backfill",
     .summary = "one run per ds from D1 to D2, in date order",
     .help = "Runs the pipeline (as `run`: five tasks, retries, alert) once per ds from\n"
             "--from to --to inclusive, in date order, each a recorded run of its own\n"
             "(see `salespipe runs`); stops at the first ds whose run fails (exit 1,\n"
             "naming it). --resume skips the days whose latest run succeeded, resumes\n"
             "a failed run where it stopped, and goes on with the days after it. Each\n"
             "ds stages the current $DATA_DIR/raw files under its own runs/<ds>/.\n"
             "At most 3660 days in one backfill; a malformed or inverted range is\n"
             "exit 2. Airflow's `catchup` does the same with the DAG.\n",
     .options = {{"--from", "D1", "the first ds YYYY-MM-DD"},
                 {"--to", "D2", "the last ds YYYY-MM-DD (inclusive, not before D1)"},
                 {"--resume", NULL, "skip succeeded days; resume the failed one; go on"}}},
    {.name = "plan",
     .summary = "what `run` would do; changes nothing",
     .help = "Says what `run --ds D` would do, without changing anything: the files to\n"
             "stage, the run's input set, which files an incremental load would load,\n"
             "skip or replace, the stores and warehouse it would touch, the quality\n"
             "gates in force, and an estimated duration from the run ledger.\n",
     .options = {OPT_DS}},
    {.name = "report",
     .args = "[RUN_ID]",
     .positional = 1,
     .summary = "a run's report as one self-contained HTML file",
     .help = "Writes the report of RUN_ID, or of the latest run of --ds, or of the newest\n"
             "run, as one self-contained HTML file (no script, nothing loaded): the run,\n"
             "its task timeline, inputs, rejects with samples, quality gates, sales, and\n"
             "trends over the last 30 runs. `run` leaves the same as runs/<ds>/report.html\n"
             "in the processed store.\n",
     .options = {OPT_DS, {"--out", "FILE", "where to write it (default: stdout)"}}},
    {.name = "runs",
     .args = "[RUN_ID]",
     .positional = 1,
     .summary = "run history, or one run's tasks, attempts and counts",
     .help = "Without RUN_ID: the recent runs of the run ledger (STATE_DIR), newest first.\n"
             "With RUN_ID: that run's tasks and every attempt, with errors and counts.\n",
     .options = {{"--json", NULL, "print JSON instead of a table"}}},
    {.name = "gen",
     .summary = "synthetic regional CSV files (demo and test data)",
     .help = "Writes one synthetic *_orders.csv file per region into DIR, the same\n"
             "every time for a given seed. --rows is PER FILE: `gen --rows 1000` writes\n"
             "1000 data rows in each regional file.\n",
     .options = {{"--out", "DIR", "where to write the files (required; created if missing)"},
                 {"--rows", "N", "data rows per file (default 2500)"},
                 {"--seed", "S", "random seed (default 1)"},
                 {"--dirty", NULL, "mix in rows that the cleaning rules reject"}}},
    {.name = "inspect",
     .args = "FILE.parquet",
     .positional = 1,
     .summary = "a Parquet file's schema, row groups, stats and rows",
     .help = "Prints a local Parquet file's schema, row groups, column statistics and,\n"
             "with --head or --csv, its rows.\n",
     .options = {{"--head", "N", "print the first N rows"},
                 {"--csv", NULL, "print the rows as CSV (with a header)"}}},
    {.name = "config",
     .summary = "the effective configuration (secrets masked)",
     .help = "Prints every configuration name with its effective value and where it came\n"
             "from (flag, environment, .env, default). Secrets are masked: this is what\n"
             "to paste in a bug report.\n",
     .options = {{"--json", NULL, "print JSON instead of a table"}}},
    {.name = "help",
     .args = "[COMMAND]",
     .positional = 1,
     .summary = "this list, or one command's own help",
     .help = "Without COMMAND: the list of commands. With COMMAND: its options and what\n"
             "it does (the same as `salespipe COMMAND --help`).\n"},
};

const size_t CLI_NCOMMANDS = sizeof CLI_COMMANDS / sizeof CLI_COMMANDS[0];

const cli_command *cli_command_find(const char *name)
{
    for (size_t i = 0; i < CLI_NCOMMANDS; i++)
        if (strcmp(CLI_COMMANDS[i].name, name) == 0)
            return &CLI_COMMANDS[i];
    return NULL;
}

static const cli_option *option_in(const cli_option *opts, size_t n, const char *name)
{
    for (size_t i = 0; i < n && opts[i].name; i++)
        if (strcmp(opts[i].name, name) == 0)
            return &opts[i];
    return NULL;
}

const cli_option *cli_option_find(const cli_command *c, const char *name)
{
    const cli_option *o = option_in(CLI_GLOBAL_OPTIONS, (size_t)-1, name);
    if (!o && c)
        o = option_in(c->options, CLI_MAX_OPTIONS, name);
    return o;
}

/* Edit distance counting an insertion, a deletion, a substitution or a
 * swap of two neighbours as one edit ("rnu" is one edit from "run"); words
 * longer than 63 bytes are "far" (64). */
size_t cli_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 64;
    size_t d[64][64];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[la][lb];
}

/* Close enough to be a typo: at most 2 edits, and fewer than half the word
 * (so "ls" does not suggest "gen"). Options compare without their dashes, so
 * "--csv" is not near "--ds". */
static bool near(const char *word, const char *cand, size_t *best)
{
    while (*word == '-')
        word++;
    while (*cand == '-')
        cand++;
    size_t d = cli_edit_distance(word, cand);
    size_t len = strlen(word);
    if (d > 2 || d * 2 >= len || d >= *best)
        return false;
    *best = d;
    return true;
}

const char *cli_nearest_command(const char *word)
{
    const char *found = NULL;
    size_t best = (size_t)-1;
    for (size_t i = 0; i < CLI_NCOMMANDS; i++)
        if (near(word, CLI_COMMANDS[i].name, &best))
            found = CLI_COMMANDS[i].name;
    return found;
}

const char *cli_nearest_option(const cli_command *c, const char *word)
{
    const char *found = NULL;
    size_t best = (size_t)-1;
    for (size_t i = 0; CLI_GLOBAL_OPTIONS[i].name; i++)
        if (near(word, CLI_GLOBAL_OPTIONS[i].name, &best))
            found = CLI_GLOBAL_OPTIONS[i].name;
    for (size_t i = 0; c && i < CLI_MAX_OPTIONS && c->options[i].name; i++)
        if (near(word, c->options[i].name, &best))
            found = c->options[i].name;
    return found;
}

/* "run [--ds D] [--from TASK] …" on lines of at most 78 columns. */
static void print_synopsis(const cli_command *c, FILE *out)
{
    int col = fprintf(out, "usage: salespipe %s", c->name);
    int indent = (int)strlen("usage: salespipe ") + (int)strlen(c->name);
    for (size_t i = 0; i < CLI_MAX_OPTIONS && c->options[i].name; i++) {
        char item[96];
        const cli_option *o = &c->options[i];
        snprintf(item, sizeof item, " [%s%s%s]", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        if (col + (int)strlen(item) > 78)
            col = fprintf(out, "\n%*s", indent, "") - 1;
        col += fprintf(out, "%s", item);
    }
    if (c->args)
        fprintf(out, " %s", c->args);
    fputc('\n', out);
}

static void print_options(const cli_option *opts, size_t max, FILE *out)
{
    for (size_t i = 0; i < max && opts[i].name; i++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", opts[i].name, opts[i].arg ? " " : "",
                 opts[i].arg ? opts[i].arg : "");
        fprintf(out, "  %-20s %s\n", left, opts[i].help);
    }
}

void cli_print_command_help(const cli_command *c, FILE *out)
{
    print_synopsis(c, out);
    fprintf(out, "\n%s", c->help);
    if (c->options[0].name) {
        fprintf(out, "\noptions:\n");
        print_options(c->options, CLI_MAX_OPTIONS, out);
    }
    fprintf(out, "\nglobal options (before the command):\n");
    print_options(CLI_GLOBAL_OPTIONS, (size_t)-1, out);
    fprintf(out, "\nExit status: 0 success, 1 a task failed, 2 bad command line or configuration,\n"
            "128 + signal (143, 130) stopped by SIGTERM or SIGINT.\n");
}

void cli_print_usage(FILE *out)
{
    fprintf(out,
            "usage: salespipe [--env-file PATH] [--log-format text|json] [-q|-v]\n"
            "                 COMMAND [options]\n"
            "\n"
            "Consolidates regional sales CSV files into a star schema: raw store → Parquet\n"
            "in the processed store → warehouse (PostgreSQL, or embedded SQLite).\n"
            "\n"
            "commands (`run` does the five tasks preflight … load, in order):\n");
    for (size_t i = 0; i < CLI_NCOMMANDS; i++) {
        const cli_command *c = &CLI_COMMANDS[i];
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", c->name, c->args ? " " : "", c->args ? c->args : "");
        fprintf(out, "  %-21s %s%s\n", left, c->summary, c->pending ? " (not available yet)" : "");
    }
    fprintf(out,
            "\n"
            "`salespipe help COMMAND` or `salespipe COMMAND --help`: that command's options.\n"
            "Configuration: flags > environment > .env (./.env or --env-file) > defaults;\n"
            "see `salespipe config` and the README for every name.\n"
            "Exit status: 0 success, 1 a task failed, 2 bad command line or configuration,\n"
            "128 + signal (143, 130) stopped by SIGTERM or SIGINT.\n");
}
