/* test_log_progress.c — the structured JSON log line (context, fields,
 * secrets scrubbed from fields too) and the progress line's text. The log
 * goes to stderr, so the log test points fd 2 at a file for its duration. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/util/log.h"
#include "../../src/util/progress.h"
#include "../test.h"

/* Log through fn with JSON lines on, and return what reached stderr. */
static char *capture_log(void (*fn)(void))
{
    char path[512];
    snprintf(path, sizeof path, "%s/log.txt", test_tmpdir());
    fflush(stderr);
    int saved = dup(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (saved < 0 || fd < 0)
        return NULL;
    dup2(fd, 2);
    close(fd);
    sp_log_setup(true, 0);
    fn();
    fflush(stderr);
    sp_log_setup(false, 0);
    sp_log_set_run(NULL, NULL);
    sp_log_set_task(NULL, 0);
    dup2(saved, 2);
    close(saved);
    size_t len;
    return test_read_file(path, &len);
}

static void log_a_run(void)
{
    sp_log_add_secret("Sw0rdfish-log-test");
    sp_log(SP_LOG_INFO, "before the run");
    sp_log_set_run("2024-01-02", "2024-01-02_run");
    sp_log_set_task("transform", 2);
    sp_log_event(SP_LOG_INFO,
                 &(sp_log_fields){.event = "succeeded", .file = "x_Sw0rdfish-log-test.csv",
                                  .has_rows = true, .rows_in = 10, .rows_kept = 7,
                                  .rows_rejected = 3, .has_duration = true, .duration_s = 1.5,
                                  .extra = "\"tables\":{\"fact_sales\":7}"},
                 "transform: done");
    sp_log(SP_LOG_WARN, "careful");
    sp_log_set_task(NULL, 0);
    sp_log_event(SP_LOG_ERROR, &(sp_log_fields){.event = "failed", .error_class = "net"},
                 "run failed");
}

TEST(log_json_fields_and_context)
{
    char *out = capture_log(log_a_run);
    REQUIRE(out);
    char *l1 = out, *l2 = strchr(l1, '\n');
    REQUIRE(l2);
    *l2++ = '\0';
    char *l3 = strchr(l2, '\n');
    REQUIRE(l3);
    *l3++ = '\0';
    char *l4 = strchr(l3, '\n');
    REQUIRE(l4);
    *l4++ = '\0';
    /* no context yet: ts, level, msg alone */
    CHECK(strstr(l1, "\"msg\":\"before the run\"}") != NULL);
    CHECK(strstr(l1, "\"task\"") == NULL && strstr(l1, "\"event\"") == NULL);
    CHECK_CONTAINS(l2, "\"level\":\"info\",\"msg\":\"transform: done\",\"task\":\"transform\","
                       "\"ds\":\"2024-01-02\",\"run_id\":\"2024-01-02_run\",\"attempt\":2,"
                       "\"event\":\"succeeded\",\"file\":\"x_***.csv\",\"rows_in\":10,"
                       "\"rows_kept\":7,\"rows_rejected\":3,\"duration_s\":1.500,"
                       "\"tables\":{\"fact_sales\":7}}");
    CHECK(strstr(out, "Sw0rdfish") == NULL);
    CHECK_CONTAINS(l3, "\"level\":\"warn\",\"msg\":\"careful\",\"task\":\"transform\"");
    CHECK_CONTAINS(l3, "\"event\":\"warning\"");
    /* the task cleared: no task, no attempt; the run stays */
    CHECK_CONTAINS(l4, "\"msg\":\"run failed\",\"ds\":\"2024-01-02\",\"run_id\":\"2024-01-02_run\","
                       "\"event\":\"failed\",\"error_class\":\"net\"}");
    free(out);
}

TEST(progress_line_text)
{
    static const struct {
        sp_progress_unit unit;
        int64_t done, total, rows;
        double elapsed;
        const char *want;
    } cases[] = {
        {SP_PROGRESS_BYTES, 50 << 20, 100 << 20, 0, 5.0,
         "stage  50.0 MiB / 100.0 MiB   50%  10.0 MiB/s  ETA 5s"},
        {SP_PROGRESS_BYTES, 30 << 20, 120 << 20, 1234567, 2.0,
         "stage  30.0 MiB / 120.0 MiB   25%  15.0 MiB/s  ETA 6s  1.23M rows kept"},
        {SP_PROGRESS_ROWS, 500, 1000, 0, 0.0, "stage  500 rows / 1.00k rows   50%"},
        {SP_PROGRESS_ROWS, 250000, 0, 0, 1.0, "stage  250.00k rows  250.00k rows/s"},
        /* a pass read again: never above the total; no ETA when done */
        {SP_PROGRESS_BYTES, 2048, 1024, 0, 1.0, "stage  1.0 KiB / 1.0 KiB  100%  1.0 KiB/s"},
        {SP_PROGRESS_ROWS, 100, 7300, 0, 1.0, "stage  100 rows / 7.30k rows    1%  100 rows/s  ETA 1m12s"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char line[256];
        sp_progress_format(line, sizeof line, "stage", cases[i].unit, cases[i].done,
                           cases[i].total, cases[i].rows, cases[i].elapsed);
        CHECK_STR(line, cases[i].want);
    }
    char tiny[12];
    sp_progress_format(tiny, sizeof tiny, "transform", SP_PROGRESS_BYTES, 1, 2, 3, 1.0);
    CHECK_STR(tiny, "transform  ");
}

TEST(progress_disabled_is_silent)
{
    /* Off (as in every test run): no thread, no line, no crash. */
    sp_progress_setup(false, false);
    CHECK(!sp_progress_enabled());
    sp_progress_begin("load", SP_PROGRESS_ROWS, 10);
    sp_progress_add(5);
    sp_progress_add_rows(5);
    sp_progress_end();
    sp_progress_end();
}
