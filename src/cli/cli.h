/* cli.h — the command line of SPEC §3: parsed options handed to commands.
 * main.c parses and dispatches; each command lives in its own file and
 * returns an exit status (0 ok, 1 task failed, 2 usage/configuration). */
#ifndef SP_CLI_H
#define SP_CLI_H

#include <stdbool.h>

#include "../config/config.h"

enum { EXIT_OK = 0, EXIT_TASK_FAILED = 1, EXIT_USAGE = 2 };

typedef struct sp_cli {
    const char *command;     /* "run", "inspect", … */
    const char *env_file;    /* --env-file, or NULL */
    bool json_logs;          /* --log-format json */
    int verbosity;           /* -q: -1, default 0, -v: 1 */
    /* command options (only those of the command are set) */
    const char *ds;          /* --ds YYYY-MM-DD, or NULL: the pipeline defaults to today (UTC) */
    const char *from_task, *only_task;
    bool resume;
    bool json;               /* --json (runs, config) */
    const char *run_id;      /* runs RUN_ID */
    const char *out;         /* gen --out */
    long long rows;          /* gen --rows; inspect --head (-1 = all) */
    long long seed;          /* gen --seed */
    bool dirty;              /* gen --dirty */
    bool csv;                /* inspect --csv */
    const char *file;        /* inspect FILE */
    sp_config *config;       /* resolved configuration */
} sp_cli;

int cmd_inspect(const sp_cli *cli);
int cmd_config(const sp_cli *cli);
int cmd_task(const sp_cli *cli); /* preflight, stage, transform, create-tables, load */
int cmd_run(const sp_cli *cli);  /* with retries, the ledger and alerts (src/orch) */
int cmd_runs(const sp_cli *cli); /* runs [RUN_ID] [--json] */
int cmd_gen(const sp_cli *cli);

#endif
