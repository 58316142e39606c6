/* config_cmd.c — `salespipe config [--json]`: shows every configuration
 * name with its effective value and where it came from (flag, environment,
 * .env, default). Secrets are masked; this is what to paste in a bug report. */
#include <stdio.h>

#include "../util/buf.h"
#include "../util/json.h"
#include "cli.h"

int cmd_config(const sp_cli *cli)
{
    char shown[4200];
    sp_buf out;
    sp_buf_init(&out, 0);
    if (cli->json)
        sp_buf_putc(&out, '{');
    for (size_t i = 0; sp_config_name_at(i); i++) {
        const char *name = sp_config_name_at(i);
        const char *v = sp_config_display(cli->config, name, shown, sizeof shown);
        const char *src = sp_source_name(sp_config_source(cli->config, name));
        if (cli->json) {
            sp_buf_printf(&out, "%s\"%s\":{\"value\":", i ? "," : "", name);
            sp_json_cstr(&out, v);
            sp_buf_printf(&out, ",\"source\":\"%s\"}", src);
        } else {
            sp_buf_printf(&out, "%-22s %-12s %s\n", name, src, v ? v : "");
        }
    }
    if (cli->json)
        sp_buf_puts(&out, "}\n");
    fwrite(out.data, 1, out.len, stdout);
    int bad = out.broken;
    sp_buf_free(&out);
    return fflush(stdout) == 0 && !bad ? EXIT_OK : EXIT_TASK_FAILED;
}
