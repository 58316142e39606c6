/* test_report.c — the report module's parts that need no store: the JSON
 * reader (a table of texts, valid and not), HTML escaping of hostile text,
 * the run's OpenLineage runId (checked against Python's uuid.uuid5), the
 * Prometheus text (labels escaped, no ds or run id in any label), and the
 * ledger's timing columns, including a ledger written before they existed.
 * The whole report in a browser is tests/report/run.sh. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/orch/orch.h"
#include "../../src/report/report.h"
#include "../test.h"

static char *cstr(sp_buf *b)
{
    sp_buf_putc(b, '\0');
    return (char *)b->data;
}

TEST(report_json_reader_table)
{
    static const struct {
        const char *text;
        int code; /* SP_OK or the failure */
    } rows[] = {
        {"{}", SP_OK},
        {"[1, -2.5e3, true, false, null, \"x\"]", SP_OK},
        {" {\"a\": {\"b\": [ {}, [] ]}} ", SP_OK},
        {"{\"a\": 1,}", SP_ERR_CORRUPT},
        {"{\"a\" 1}", SP_ERR_CORRUPT},
        {"[1 2]", SP_ERR_CORRUPT},
        {"\"unterminated", SP_ERR_CORRUPT},
        {"{} extra", SP_ERR_CORRUPT},
        {"tru", SP_ERR_CORRUPT},
        {"", SP_ERR_CORRUPT},
        {"\"a\x01\"", SP_ERR_CORRUPT},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        rp_json doc;
        sp_error err;
        sp_error_clear(&err);
        int rc = rp_json_parse(&doc, rows[i].text, strlen(rows[i].text), &err);
        if (rc != rows[i].code)
            test_fail_at(__FILE__, __LINE__, "'%s': status %d, expected %d (%s)", rows[i].text,
                         rc, rows[i].code, err.msg);
        if (rc == SP_OK)
            rp_json_free(&doc);
    }
    /* 65 levels: past the cap, a clear error rather than a deep recursion */
    char deep[200] = "";
    for (int i = 0; i < 65; i++)
        strcat(deep, "[");
    rp_json doc;
    sp_error err;
    CHECK_INT(rp_json_parse(&doc, deep, strlen(deep), &err), SP_ERR_LIMIT);
}

TEST(report_json_reader_values)
{
    const char *t = "{\"run_id\": \"r\\u00e9\\ud83d\\ude00\\n\", \"n\": 42, \"s\": \"17\", "
                    "\"list\": [{\"x\": 1}, {\"x\": 2}], \"f\": 1.5}";
    rp_json doc;
    sp_error err;
    CHECK_INT(rp_json_parse(&doc, t, strlen(t), &err), SP_OK);
    char out[64];
    CHECK_STR(rp_json_text(&doc, rp_json_get(&doc, 0, "run_id"), out, sizeof out),
              "r\xC3\xA9\xF0\x9F\x98\x80\n");
    long long v = 0;
    CHECK(rp_json_int(&doc, rp_json_get(&doc, 0, "n"), &v) && v == 42);
    CHECK(rp_json_int(&doc, rp_json_get(&doc, 0, "s"), &v) && v == 17);
    CHECK(!rp_json_int(&doc, rp_json_get(&doc, 0, "f"), &v));
    CHECK_INT(rp_json_get(&doc, 0, "missing"), -1);
    int list = rp_json_get(&doc, 0, "list"), n = 0;
    long long sum = 0;
    for (int c = doc.nodes[list].first; c >= 0; c = doc.nodes[c].next, n++)
        if (rp_json_int(&doc, rp_json_get(&doc, c, "x"), &v))
            sum += v;
    CHECK_INT(n, 2);
    CHECK_INT(sum, 3);
    CHECK_STR(rp_json_text(&doc, rp_json_get(&doc, 0, "run_id"), out, 3), "r");
    rp_json_free(&doc);
}

TEST(report_html_escapes_hostile_text)
{
    sp_buf b;
    sp_buf_init(&b, 0);
    const char hostile[] = "<script>alert(\"x\")</script>&'\x01\xff";
    rp_html_escape(&b, hostile, sizeof hostile - 1);
    CHECK_STR(cstr(&b), "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"
                        "\xEF\xBF\xBD\xEF\xBF\xBD");
    sp_buf_free(&b);
}

TEST(report_lineage_run_uuid_is_uuid5)
{
    /* python3 -c "import uuid; print(uuid.uuid5(uuid.NAMESPACE_URL,
     *   'salespipe:run:2026-01-02_20261206T084432Z_2ae6'))" */
    char u[37];
    rp_lineage_uuid("2026-01-02_20261206T084432Z_2ae6", u);
    CHECK_STR(u, "2ffb9e43-a344-565e-ab9f-0f252792252a");
    char v[37];
    rp_lineage_uuid("2026-01-02_20261206T084432Z_2ae7", v);
    CHECK(strcmp(u, v) != 0);
}

TEST(report_metrics_text)
{
    rp_data *d = calloc(1, sizeof *d);
    if (!d)
        return;
    snprintf(d->run_id, sizeof d->run_id, "2026-01-02_RUNID");
    snprintf(d->ds, sizeof d->ds, "2026-01-02");
    snprintf(d->state, sizeof d->state, "failed");
    d->t0 = 100;
    d->t1 = 102.5;
    d->ntasks = 1;
    snprintf(d->tasks[0].name, sizeof d->tasks[0].name, "load");
    snprintf(d->tasks[0].state, sizeof d->tasks[0].state, "failed");
    d->tasks[0].attempts = 3;
    d->has_manifest = d->has_gates = true;
    d->rows_in = 10;
    d->rows_kept = 7;
    d->rejected[RULES_SALES] = 3;
    d->ngates = 1;
    snprintf(d->gates[0].name, sizeof d->gates[0].name, "odd\"name\\");
    snprintf(d->gates[0].figure, sizeof d->gates[0].figure, "0.3");
    d->gates[0].passed = 0;
    sp_buf b;
    sp_buf_init(&b, 0);
    rp_metrics_text(&b, d, 1234.5);
    const char *t = cstr(&b);
    CHECK_CONTAINS(t, "# TYPE salespipe_rows_kept gauge\nsalespipe_rows_kept 7\n");
    CHECK_CONTAINS(t, "salespipe_rows_rejected{reason=\"sales\"} 3\n");
    CHECK_CONTAINS(t, "salespipe_run_outcome{outcome=\"failed\"} 1\n");
    CHECK_CONTAINS(t, "salespipe_run_duration_seconds 2.5\n");
    CHECK_CONTAINS(t, "salespipe_task_attempts{task=\"load\"} 3\n");
    CHECK_CONTAINS(t, "salespipe_last_success_timestamp_seconds 1234.5\n");
    CHECK_CONTAINS(t, "salespipe_gate_passed{gate=\"odd\\\"name\\\\\"} 0\n");
    CHECK_CONTAINS(t, "salespipe_gate_figure{gate=\"odd\\\"name\\\\\"} 0.3\n");
    CHECK(!strstr(t, "RUNID") && !strstr(t, "2026-01-02"));
    sp_buf_free(&b);
    /* the file: written whole, and a failed run keeps the last success */
    char path[1024];
    snprintf(path, sizeof path, "%s/m.prom", test_tmpdir());
    sp_error err;
    CHECK_INT(rp_metrics_write(path, d, -1, &err), SP_OK);
    size_t flen;
    char *f = test_read_file(path, &flen);
    CHECK_CONTAINS(f, "salespipe_last_success_timestamp_seconds 0\n");
    free(f);
    CHECK_INT(rp_metrics_write(path, d, 99.25, &err), SP_OK);
    CHECK_INT(rp_metrics_write(path, d, -1, &err), SP_OK);
    f = test_read_file(path, &flen);
    CHECK_CONTAINS(f, "salespipe_last_success_timestamp_seconds 99.25\n");
    free(f);
    free(d);
}

typedef struct timed {
    int n, with_times;
    char last_task[16];
} timed;

static void count_timed(const ledger_attempt *a, void *arg)
{
    timed *t = arg;
    t->n++;
    t->with_times += a->t_start > 1e9 && a->t_end >= a->t_start;
    snprintf(t->last_task, sizeof t->last_task, "%s", a->task);
}

TEST(ledger_attempt_times_and_old_ledgers)
{
    /* A ledger of the previous version: attempts without t_start/t_end. */
    const char *dir = test_tmpdir();
    char path[1024];
    snprintf(path, sizeof path, "%s/ledger.db", dir);
    sqlite3 *db;
    CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_INT(sqlite3_exec(db, "CREATE TABLE attempts(run_id TEXT NOT NULL, task TEXT NOT NULL,"
                               " attempt INTEGER NOT NULL, started TEXT NOT NULL, ended TEXT,"
                               " error TEXT, PRIMARY KEY(run_id, task, attempt));",
                           NULL, NULL, NULL),
              SQLITE_OK);
    sqlite3_close(db);
    ledger *l;
    sp_error err;
    CHECK_INT(ledger_open(&l, dir, &err), SP_OK);
    if (!l)
        return;
    bool skip[PL_NTASKS] = {false};
    CHECK_INT(ledger_begin_run(l, "r1", "2024-01-02", 42, skip, &err), SP_OK);
    int a;
    for (int t = PL_PREFLIGHT; t <= PL_STAGE; t++) {
        CHECK_INT(ledger_attempt_begin(l, "r1", (pl_task)t, &a, &err), SP_OK);
        CHECK_INT(ledger_attempt_end(l, "r1", (pl_task)t, a, ORCH_SUCCEEDED, -1, NULL, NULL, &err),
                  SP_OK);
    }
    CHECK_INT(ledger_end_run(l, "r1", ORCH_SUCCEEDED, NULL, NULL, &err), SP_OK);
    timed t = {0};
    CHECK_INT(ledger_run_attempts(l, "r1", count_timed, &t, &err), SP_OK);
    CHECK_INT(t.n, 2);
    CHECK_INT(t.with_times, 2);
    CHECK_STR(t.last_task, "stage");
    double when = 0;
    bool found = false;
    CHECK_INT(ledger_last_success(l, &when, &found, &err), SP_OK);
    CHECK(found && when > 1e9);
    ledger_close(l);
}

typedef struct recent {
    int n;
    char first[16], last[16];
    long long rows_first;
} recent;

static void keep_recent(const ledger_summary *s, void *arg)
{
    recent *r = arg;
    if (r->n == 0) {
        snprintf(r->first, sizeof r->first, "%s", s->run_id);
        r->rows_first = s->has_rows ? s->rows : -1;
    }
    snprintf(r->last, sizeof r->last, "%s", s->run_id);
    r->n++;
}

TEST(ledger_recent_runs_newest_first_capped)
{
    ledger *l;
    sp_error err;
    CHECK_INT(ledger_open(&l, test_tmpdir(), &err), SP_OK);
    if (!l)
        return;
    bool skip[PL_NTASKS] = {false};
    for (int i = 1; i <= 35; i++) {
        char id[16];
        snprintf(id, sizeof id, "r%02d", i);
        CHECK_INT(ledger_begin_run(l, id, "2024-01-02", 42, skip, &err), SP_OK);
        int a;
        CHECK_INT(ledger_attempt_begin(l, id, PL_TRANSFORM, &a, &err), SP_OK);
        CHECK_INT(ledger_attempt_end(l, id, PL_TRANSFORM, a, ORCH_SUCCEEDED, 100 + i,
                                     "{\"sales\":2}", NULL, &err),
                  SP_OK);
        CHECK_INT(ledger_end_run(l, id, ORCH_SUCCEEDED, NULL, NULL, &err), SP_OK);
    }
    recent r = {0};
    CHECK_INT(ledger_recent_runs(l, RP_TRENDS, keep_recent, &r, &err), SP_OK);
    CHECK_INT(r.n, 30);
    CHECK_STR(r.first, "r35");
    CHECK_STR(r.last, "r06");
    CHECK_INT(r.rows_first, 135);
    ledger_close(l);
}
