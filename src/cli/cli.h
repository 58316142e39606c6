/* cli.h — the command line of SPEC §3: parsed options handed to commands.
 * main.c parses and dispatches; each command lives in its own file and
 * returns an exit status (0 ok, 1 task failed, 2 usage/configuration). */
#ifndef SP_CLI_H
#define SP_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "../config/config.h"

enum { EXIT_OK = 0, EXIT_TASK_FAILED = 1, EXIT_USAGE = 2 };

/* The command table (commands.c): one entry per command, its options and
 * help. main.c parses argv against it; add a command's entry there. */
#define CLI_MAX_OPTIONS 16
typedef struct cli_option {
    const char *name; /* "--ds" */
    const char *arg;  /* its value's name ("D") when it takes one; NULL: a switch */
    const char *help; /* one line */
} cli_option;

typedef struct cli_command {
    const char *name;    /* "run" */
    const char *args;    /* positional arguments for the synopsis ("[RUN_ID]"), or NULL */
    int positional;      /* how many positional arguments it accepts at most */
    const char *summary; /* one line for `salespipe --help` */
    const char *help;    /* its own help: lines of at most 78 columns, each ending in \n */
    const char *pending; /* not built yet: the issue that brings it; NULL when built */
    cli_option options[CLI_MAX_OPTIONS]; /* ends at the first NULL name */
} cli_command;

extern const cli_command CLI_COMMANDS[];
extern const size_t CLI_NCOMMANDS;
extern const cli_option CLI_GLOBAL_OPTIONS[]; /* ends with a NULL name */

/* The command named name, or NULL. */
const cli_command *cli_command_find(const char *name);
/* A global option, or one of c's (c may be NULL: globals only); NULL when neither. */
const cli_option *cli_option_find(const cli_command *c, const char *name);
/* The nearest command / option (of c, or global) to a mistyped word, or NULL
 * when none is close (at most 2 edits, fewer than half the word). */
const char *cli_nearest_command(const char *word);
const char *cli_nearest_option(const cli_command *c, const char *word);
/* Levenshtein distance (64 for words longer than 63 bytes). */
size_t cli_edit_distance(const char *a, const char *b);
/* `salespipe --help` and `salespipe help CMD`. */
void cli_print_usage(FILE *out);
void cli_print_command_help(const cli_command *c, FILE *out);

typedef struct sp_cli {
    const char *command;     /* "run", "inspect", … */
    const char *env_file;    /* --env-file, or NULL */
    bool json_logs;          /* --log-format json */
    int verbosity;           /* -q: -1, default 0, -v: 1 */
    /* command options (only those of the command are set) */
    const char *ds;          /* --ds YYYY-MM-DD, or NULL: the pipeline defaults to today (UTC) */
    const char *from_task, *only_task;
    const char *from_ds, *to_ds; /* backfill --from D1 --to D2 */
    bool resume;
    bool skip_gates;         /* --skip-gates (run, transform, load): SPEC §8 */
    bool json;               /* --json (runs, config) */
    const char *run_id;      /* runs RUN_ID, report RUN_ID */
    const char *out;         /* gen --out, report --out */
    long long rows;          /* gen --rows; inspect --head (-1 = all) */
    long long seed;          /* gen --seed */
    bool dirty;              /* gen --dirty */
    bool force;              /* load --force */
    bool csv;                /* inspect --csv */
    const char *file;        /* inspect FILE */
    int tf_mode;             /* transform --list/--map/--map-index/--merge: pl_transform_mode */
    const char *map_key;     /* transform --map NAME */
    long long map_index;     /* transform --map-index N */
    const char *task_run_id; /* transform --run-id ID */
    sp_config *config;       /* resolved configuration */
} sp_cli;

int cmd_inspect(const sp_cli *cli);
int cmd_config(const sp_cli *cli);
int cmd_task(const sp_cli *cli); /* preflight, stage, transform, create-tables, load */
int cmd_run(const sp_cli *cli);  /* with retries, the ledger and alerts (src/orch) */
int cmd_runs(const sp_cli *cli); /* runs [RUN_ID] [--json] */
int cmd_plan(const sp_cli *cli); /* plan [--ds D]: what run would do (src/orch/plan.c) */
int cmd_gen(const sp_cli *cli);
int cmd_report(const sp_cli *cli); /* report [RUN_ID | --ds D] [--out FILE] */
int cmd_backfill(const sp_cli *cli); /* backfill --from D1 --to D2 [--resume] (src/orch) */

#endif
