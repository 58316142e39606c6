/* test_pipeline.c — the tasks in-process on `gen --dirty` data: the reject
 * counts equal what the generator says it injected (an oracle independent
 * of the rules), create-tables twice is fine, and load holds every kept row. */
#include <stdio.h>
#include <string.h>

#include "../../src/pipeline/pipeline.h"
#include "../../src/util/log.h"
#include "../test.h"
#include "pipeline_fixture.h"

TEST(test_pipeline_dirty_counts_match_the_generator)
{
    gen_options go = {.rows = 600, .seed = 11, .dirty = true};
    gen_summary gs;
    sp_error err;
    sp_config *cfg = pipeline_fixture(test_tmpdir(), go, &gs);
    REQUIRE(cfg != NULL);
    sp_log_setup(false, -1); /* the tasks' info lines would drown the test output */
    pl_ctx ctx;
    REQUIRE(pl_ctx_init(&ctx, cfg, "2024-05-01", "test-run", &err) == SP_OK);
    CHECK(pl_preflight(&ctx, &err) == SP_OK);
    CHECK(pl_stage(&ctx, &err) == SP_OK);
    int rc = pl_transform(&ctx, &err);
    CHECK(rc == SP_OK);
    if (rc != SP_OK)
        test_fail_at(__FILE__, __LINE__, "transform: %s", err.msg);
    int64_t want[RULES_NREASONS] = {0}, rows = 0;
    for (int i = 0; i < gs.nfiles; i++) {
        rows += gs.files[i].rows;
        for (int r = 0; r < RULES_NREASONS; r++)
            want[r] += gs.files[i].expect[r];
    }
    CHECK_INT(ctx.tf.counts.rows_in, rows);
    for (int r = 0; r < RULES_NREASONS; r++)
        if (ctx.tf.counts.rejected[r] != want[r])
            test_fail_at(__FILE__, __LINE__, "%s: %lld, the generator injected %lld",
                         rules_reason_name((rules_reason)r), (long long)ctx.tf.counts.rejected[r],
                         (long long)want[r]);
    CHECK(pl_create_tables(&ctx, &err) == SP_OK);
    CHECK(pl_create_tables(&ctx, &err) == SP_OK); /* idempotent */
    CHECK(pl_load(&ctx, &err) == SP_OK);
    CHECK_INT(ctx.table_rows[2], want[RULES_KEPT]);
    pl_ctx_free(&ctx);
    sp_config_free(cfg);
    sp_log_setup(false, 0);
}
