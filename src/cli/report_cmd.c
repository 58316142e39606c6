/* report_cmd.c — `salespipe report [RUN_ID | --ds D] [--out FILE]`: the HTML
 * report of one run from the ledger and the processed store (src/report),
 * to FILE or stdout. Exit 0, 1 when the run or its ledger cannot be read,
 * 2 for a configuration error. */
#include "../report/report.h"
#include "../util/log.h"
#include "cli.h"

int cmd_report(const sp_cli *cli)
{
    sp_error err;
    sp_error_clear(&err);
    int rc = rp_command(cli->config, cli->run_id, cli->ds, cli->out, &err);
    if (rc != SP_OK)
        sp_log(SP_LOG_ERROR, "report: %s", err.msg);
    return rc == SP_OK ? EXIT_OK : rc == SP_ERR_USAGE ? EXIT_USAGE : EXIT_TASK_FAILED;
}
