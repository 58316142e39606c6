/* test_ledger.c — the orchestration module's pure parts and its ledger:
 * which errors are retried (a table), the backoff, the ledger's records
 * across a run, a resume and an abandoned run, the run lock, and the alert's
 * JSON body. The end-to-end behaviour is in tests/orchestration/run.sh. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../src/orch/orch.h"
#include "../../src/util/json.h"
#include "../test.h"

TEST(orch_retry_policy_table)
{
    static const struct {
        int code;
        bool retryable_flag;
        bool want;
    } rows[] = {
        {SP_ERR_USAGE, false, false},       {SP_ERR_DATA, false, false},
        {SP_ERR_CORRUPT, false, false},     {SP_ERR_LIMIT, false, false},
        {SP_ERR_UNSUPPORTED, false, false}, {SP_ERR_IO, false, true},
        {SP_ERR_NET, false, false},         {SP_ERR_NET, true, true},
        {SP_ERR_NOMEM, false, true},        {SP_ERR_INTERNAL, false, true},
        {SP_ERR_DATA, true, true},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        sp_error e;
        sp_error_clear(&e);
        e.code = rows[i].code;
        e.retryable = rows[i].retryable_flag;
        if (orch_is_retryable(&e) != rows[i].want)
            test_fail_at(__FILE__, __LINE__, "%s (retryable flag %d): expected %d",
                         sp_status_name(rows[i].code), rows[i].retryable_flag, rows[i].want);
    }
}

/* Local errors: the errno quoted in the message decides (docs/operations.md,
 * "Retries"). A message that does not quote it stays retryable. */
TEST(orch_retry_policy_errno)
{
    static const struct {
        int errnum;
        bool quoted;
        bool want;
    } rows[] = {
        {ENOENT, true, false}, {ENOTDIR, true, false}, {EACCES, true, false},
        {EPERM, true, false},  {EROFS, true, false},   {ENOSPC, true, false},
        {ENAMETOOLONG, true, false}, {EIO, true, true}, {EAGAIN, true, true},
        {EMFILE, true, true},  {ENOENT, false, true},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        sp_error e;
        sp_error_clear(&e);
        errno = rows[i].errnum;
        if (rows[i].quoted)
            sp_fail(&e, SP_ERR_IO, "input folder ./data/raw: %s", strerror(rows[i].errnum));
        else
            sp_fail(&e, SP_ERR_IO, "short read in ./x");
        if (orch_is_retryable(&e) != rows[i].want)
            test_fail_at(__FILE__, __LINE__, "%s (quoted %d): expected retryable %d",
                         strerror(rows[i].errnum), rows[i].quoted, rows[i].want);
        sp_error_prefix(&e, "stage"); /* context keeps the class */
        if (orch_is_retryable(&e) != rows[i].want)
            test_fail_at(__FILE__, __LINE__, "prefixed %s changed class", strerror(rows[i].errnum));
    }
}

TEST(orch_backoff)
{
    CHECK_INT(orch_retry_delay(600, false, 1), 600);
    CHECK_INT(orch_retry_delay(600, false, 3), 600);
    CHECK_INT(orch_retry_delay(600, true, 1), 600);
    CHECK_INT(orch_retry_delay(600, true, 2), 1200);
    CHECK_INT(orch_retry_delay(600, true, 3), 2400);
    CHECK_INT(orch_retry_delay(600, true, 60), 86400); /* capped, no overflow */
    CHECK_INT(orch_retry_delay(0, true, 5), 0);
    char iso[32];
    orch_iso8601(0, iso);
    CHECK_STR(iso, "1970-01-01T00:00:00Z");
}

typedef struct seen {
    char state[16], error[256], failed_task[32];
    int ntasks;
    char states[PL_NTASKS][16];
    int attempts[PL_NTASKS];
    long long rows[PL_NTASKS];
    int nruns;
} seen;

static void keep(const ledger_run *r, const ledger_task *t, int n, void *arg)
{
    seen *s = arg;
    snprintf(s->state, sizeof s->state, "%s", r->state);
    snprintf(s->error, sizeof s->error, "%s", r->error ? r->error : "");
    snprintf(s->failed_task, sizeof s->failed_task, "%s", r->failed_task ? r->failed_task : "");
    s->ntasks = n;
    for (int i = 0; i < n && i < PL_NTASKS; i++) {
        snprintf(s->states[i], sizeof s->states[i], "%s", t[i].state);
        s->attempts[i] = t[i].attempts;
        s->rows[i] = t[i].has_rows ? t[i].rows : -1;
    }
}

static void count(const ledger_run *r, void *arg)
{
    (void)r;
    ((seen *)arg)->nruns++;
}

static bool dead(const char *ds, void *arg)
{
    (void)ds, (void)arg;
    return false;
}

TEST(ledger_records_a_run_and_its_resume)
{
    ledger *l;
    sp_error err;
    CHECK_INT(ledger_open(&l, test_tmpdir(), &err), SP_OK);
    if (!l)
        return;
    bool skip[PL_NTASKS] = {false};
    CHECK_INT(ledger_begin_run(l, "r1", "2024-01-02", 42, skip, &err), SP_OK);
    int a = 0;
    CHECK_INT(ledger_attempt_begin(l, "r1", PL_PREFLIGHT, &a, &err), SP_OK);
    CHECK_INT(a, 1);
    CHECK_INT(ledger_attempt_end(l, "r1", PL_PREFLIGHT, a, ORCH_SUCCEEDED, -1, NULL, NULL, &err), SP_OK);
    for (int i = 1; i <= 2; i++) {
        CHECK_INT(ledger_attempt_begin(l, "r1", PL_STAGE, &a, &err), SP_OK);
        CHECK_INT(a, i);
        CHECK_INT(ledger_attempt_end(l, "r1", PL_STAGE, a, ORCH_FAILED, -1, NULL, "disk full", &err),
                  SP_OK);
    }
    CHECK_INT(ledger_end_run(l, "r1", ORCH_FAILED, "stage", "disk full", &err), SP_OK);
    seen s = {0};
    bool found;
    CHECK_INT(ledger_get_run(l, "r1", &found, keep, &s, &err), SP_OK);
    CHECK(found);
    CHECK_STR(s.state, "failed");
    CHECK_STR(s.failed_task, "stage");
    CHECK_INT(s.ntasks, PL_NTASKS);
    CHECK_STR(s.states[PL_PREFLIGHT], "succeeded");
    CHECK_STR(s.states[PL_STAGE], "failed");
    CHECK_STR(s.states[PL_LOAD], "pending");
    CHECK_INT(s.attempts[PL_STAGE], 2);

    /* Resume: attempts go on from 2; rows are kept. */
    CHECK_INT(ledger_reopen_run(l, "r1", 43, &err), SP_OK);
    CHECK_INT(ledger_attempt_begin(l, "r1", PL_STAGE, &a, &err), SP_OK);
    CHECK_INT(a, 3);
    CHECK_INT(ledger_attempt_end(l, "r1", PL_STAGE, a, ORCH_SUCCEEDED, 7, NULL, NULL, &err), SP_OK);
    CHECK_INT(ledger_end_run(l, "r1", ORCH_SUCCEEDED, NULL, NULL, &err), SP_OK);
    memset(&s, 0, sizeof s);
    CHECK_INT(ledger_get_run(l, "r1", &found, keep, &s, &err), SP_OK);
    CHECK_STR(s.state, "succeeded");
    CHECK_STR(s.error, "");
    CHECK_INT(s.attempts[PL_STAGE], 3);
    CHECK_INT(s.rows[PL_STAGE], 7);
    CHECK_INT(s.rows[PL_PREFLIGHT], -1);

    /* An unknown run is not found, and not an error. */
    CHECK_INT(ledger_get_run(l, "nope", &found, keep, &s, &err), SP_OK);
    CHECK(!found);
    ledger_close(l);
}

TEST(ledger_marks_abandoned_runs_failed)
{
    ledger *l;
    sp_error err;
    CHECK_INT(ledger_open(&l, test_tmpdir(), &err), SP_OK);
    if (!l)
        return;
    bool skip[PL_NTASKS] = {true, false, true, true, true};
    CHECK_INT(ledger_begin_run(l, "r2", "2024-01-03", 4242, skip, &err), SP_OK);
    int a;
    CHECK_INT(ledger_attempt_begin(l, "r2", PL_STAGE, &a, &err), SP_OK);
    CHECK_INT(ledger_mark_abandoned(l, dead, NULL, &err), 1);
    CHECK_INT(ledger_mark_abandoned(l, dead, NULL, &err), 0); /* once */
    seen s = {0};
    bool found;
    CHECK_INT(ledger_get_run(l, "r2", &found, keep, &s, &err), SP_OK);
    CHECK_STR(s.state, "failed");
    CHECK_STR(s.failed_task, "stage");
    CHECK_CONTAINS(s.error, "process 4242");
    CHECK_STR(s.states[PL_PREFLIGHT], "skipped");
    CHECK_STR(s.states[PL_STAGE], "failed");
    CHECK_INT(ledger_each_run(l, count, &s, &err), SP_OK);
    CHECK_INT(s.nruns, 1);
    ledger_close(l);
}

TEST(orch_lock_is_exclusive_per_ds)
{
    const char *dir = test_tmpdir();
    sp_error err;
    int fd1 = -1, fd2 = -1, fd3 = -1, fd4 = -1;
    bool busy;
    CHECK(!orch_lock_held(dir, "2024-01-02"));
    CHECK_INT(orch_lock_acquire(dir, "2024-01-02", false, "run run-a", &fd1, &busy, &err), SP_OK);
    CHECK(orch_lock_held(dir, "2024-01-02"));
    /* A run refuses a second run, and a task, of its ds. */
    CHECK(orch_lock_acquire(dir, "2024-01-02", false, "run run-b", &fd2, &busy, &err) != SP_OK);
    CHECK(busy);
    CHECK_CONTAINS(err.msg, "a run for ds 2024-01-02 is already in progress: run run-a (pid ");
    CHECK(orch_lock_acquire(dir, "2024-01-02", true, "task stage", &fd2, &busy, &err) != SP_OK);
    CHECK(busy);
    CHECK_CONTAINS(err.msg, "a run for ds 2024-01-02 is already in progress: run run-a (pid ");
    /* Tasks of one ds share the lock; a run refuses while one holds it. */
    CHECK_INT(orch_lock_acquire(dir, "2024-01-03", true, "task stage", &fd3, &busy, &err), SP_OK);
    CHECK(!orch_lock_held(dir, "2024-01-03"));
    CHECK_INT(orch_lock_acquire(dir, "2024-01-03", true, "task load", &fd4, &busy, &err), SP_OK);
    CHECK(orch_lock_acquire(dir, "2024-01-03", false, "run run-c", &fd2, &busy, &err) != SP_OK);
    CHECK(busy);
    CHECK_CONTAINS(err.msg, "a task for ds 2024-01-03 is already in progress: task load (pid ");
    orch_lock_release(fd1);
    orch_lock_release(fd3);
    orch_lock_release(fd4);
    CHECK(!orch_lock_held(dir, "2024-01-02"));
    CHECK_INT(orch_lock_acquire(dir, "2024-01-02", false, "run run-b", &fd2, &busy, &err), SP_OK);
    orch_lock_release(fd2);
    CHECK_INT(orch_lock_acquire(dir, "2024-01-03", false, "run run-c", &fd2, &busy, &err), SP_OK);
    orch_lock_release(fd2);
}

TEST(orch_alert_json_body)
{
    orch_alert a = {"r9", "2024-01-02", "transform", 3, "bad \"quote\"\nline",
                    "{\"malformed\":2,\"sales\":1}",
                    "[{\"name\": \"MIN_ROWS\", \"figure\": 0, \"threshold\": 1, \"passed\": false}]"};
    char *j = NULL;
    sp_error err;
    CHECK_INT(orch_alert_json(&a, &j, &err), SP_OK);
    if (!j)
        return;
    long long v;
    CHECK(sp_json_get_int(j, strlen(j), "attempts", &v) && v == 3);
    CHECK(sp_json_get_int(j, strlen(j), "rejected.malformed", &v) && v == 2);
    CHECK_CONTAINS(j, "\"task\":\"transform\"");
    CHECK_CONTAINS(j, "\"error\":\"bad \\\"quote\\\"\\nline\"");
    CHECK_CONTAINS(j, "\"text\":\"salespipe run r9 (ds 2024-01-02) failed at task transform after 3 attempts");
    CHECK_CONTAINS(j, ",\"gates\":[{\"name\": \"MIN_ROWS\", \"figure\": 0, \"threshold\": 1, "
                      "\"passed\": false}]");
    free(j);
    a.rejected = NULL;
    a.gates = NULL;
    CHECK_INT(orch_alert_json(&a, &j, &err), SP_OK);
    if (j)
        CHECK_CONTAINS(j, "\"rejected\":null");
    if (j)
        CHECK_CONTAINS(j, "\"gates\":null");
    free(j);
}
