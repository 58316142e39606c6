/* pipeline_fixture.c — see pipeline_fixture.h. */
#include "pipeline_fixture.h"

#include <stdio.h>

#include "../test.h"

sp_config *pipeline_fixture(const char *dir, gen_options go, gen_summary *summary)
{
    char path[1024];
    sp_error err;
    sp_error_clear(&err);
    snprintf(path, sizeof path, "%s/data/raw", dir);
    go.out_dir = path;
    if (gen_write(&go, summary, &err) != SP_OK) {
        test_fail_at(__FILE__, __LINE__, "gen: %s", err.msg);
        return NULL;
    }
    return pipeline_config(dir);
}

sp_config *pipeline_config(const char *dir)
{
    static const char *const where[][3] = {
        {"DATA_DIR", "", "/data"},
        {"RAW_STORE", "", "/lake/raw"},
        {"PROCESSED_STORE", "", "/lake/processed"},
        {"DATABASE_URL", "sqlite:///", "/wh.db"},
    };
    char path[1024], env[1024];
    sp_error err;
    sp_error_clear(&err);
    snprintf(env, sizeof env, "%s/empty.env", dir);
    FILE *f = fopen(env, "w");
    if (f)
        fclose(f);
    sp_config *c = sp_config_new();
    if (!c)
        return NULL;
    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
        snprintf(path, sizeof path, "%s%s%s", where[i][1], dir, where[i][2]);
        if (sp_config_set_flag(c, where[i][0], path, &err) != SP_OK)
            break;
    }
    if (err.code != SP_OK || sp_config_load(c, env, &err) != SP_OK) {
        test_fail_at(__FILE__, __LINE__, "config: %s", err.msg);
        sp_config_free(c);
        return NULL;
    }
    return c;
}
