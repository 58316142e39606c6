/* test_inputs.c — the run's input set (src/pipeline/inputs.c): the
 * _inputs.json text written and read back, lookups, and the reader's
 * refusals of text `stage` never writes (tests as data). The store side
 * (stale objects ignored, tampered copies) is tests/gates/run.sh's. */
#include <stdlib.h>
#include <string.h>

#include "../../src/pipeline/pipeline.h"
#include "../test.h"

static const char SHA_A[] = "4ac679dbbf37d689be06568ccd4b6278e4701d1cae754432a089310273ac9cc0";
static const char SHA_B[] = "9e0ca1d98581b93804fce53739f89aaf8f3d47f3c9f2b04b9bc1914cd086524b";

TEST(test_inputs_round_trip)
{
    pl_input_set s, back;
    sp_error err;
    pl_inputs_init(&s);
    CHECK_INT(pl_inputs_add(&s, "West_orders.csv", 11079, SHA_A, &err), SP_OK);
    CHECK_INT(pl_inputs_add(&s, "Ost \"Q1\" é\t.csv", 0, SHA_B, &err), SP_OK);
    sp_buf b;
    sp_buf_init(&b, 0);
    pl_inputs_json(&s, "run-1", "2024-01-01", &b);
    REQUIRE(!b.broken);
    CHECK_INT(pl_inputs_parse((const char *)b.data, b.len, "x", &back, &err), SP_OK);
    CHECK_INT(back.n, 2);
    /* read back sorted by name */
    if (back.n == 2) {
        CHECK_STR(back.files[0].name, "Ost \"Q1\" é\t.csv");
        CHECK_INT(back.files[0].bytes, 0);
        CHECK_STR(back.files[1].name, "West_orders.csv");
        CHECK_INT(back.files[1].bytes, 11079);
        CHECK_STR(back.files[1].sha256, SHA_A);
    }
    const pl_input *f = pl_inputs_find(&back, "West_orders.csv");
    CHECK(f && f->bytes == 11079);
    CHECK(pl_inputs_find(&back, "East_orders.csv") == NULL);
    CHECK_INT(pl_inputs_verify_digest(&back, "k/West_orders.csv", "West_orders.csv", 11079, SHA_A,
                                      &err), SP_OK);
    CHECK_INT(pl_inputs_verify_digest(&back, "k/West_orders.csv", "West_orders.csv", 11079, SHA_B,
                                      &err), SP_ERR_DATA);
    CHECK_CONTAINS(err.msg, "k/West_orders.csv");
    CHECK_CONTAINS(err.msg, "no longer matches _inputs.json");
    pl_inputs_free(&back);

    /* An empty set is a set: transform then reads no file at all. */
    pl_inputs_free(&s);
    sp_buf_reset(&b);
    pl_inputs_json(&s, "run-2", "2024-01-02", &b);
    CHECK_INT(pl_inputs_parse((const char *)b.data, b.len, "x", &back, &err), SP_OK);
    CHECK_INT(back.n, 0);
    pl_inputs_free(&back);
    sp_buf_free(&b);
}

TEST(test_inputs_parse_table)
{
    static const struct {
        const char *text;
        int rc;
        size_t n;
        const char *msg; /* part of the error */
    } CASES[] = {
        {"{\"files\": []}", SP_OK, 0, NULL},
        {" {\"v\": {\"x\": [1, \"]\", null]}, \"files\": [{\"name\": \"a.csv\", \"bytes\": 3, "
         "\"sha256\": \"4ac679dbbf37d689be06568ccd4b6278e4701d1cae754432a089310273ac9cc0\", "
         "\"extra\": true}]} ",
         SP_OK, 1, NULL},
        {"{\"files\": [{\"name\": \"\\u00e9\\ud83d\\ude00.csv\", \"bytes\": 1, \"sha256\": "
         "\"4ac679dbbf37d689be06568ccd4b6278e4701d1cae754432a089310273ac9cc0\"}]}",
         SP_OK, 1, NULL},
        {"", SP_ERR_CORRUPT, 0, "an object was expected"},
        {"{}", SP_ERR_CORRUPT, 0, "no \"files\" list"},
        {"{\"files\": {}}", SP_ERR_CORRUPT, 0, "not a list"},
        {"{\"files\": []} x", SP_ERR_CORRUPT, 0, "text after the object"},
        {"{\"files\": [{\"name\": \"a.csv\", \"bytes\": -1, \"sha256\": "
         "\"4ac679dbbf37d689be06568ccd4b6278e4701d1cae754432a089310273ac9cc0\"}]}",
         SP_ERR_CORRUPT, 0, "non-negative integer"},
        {"{\"files\": [{\"name\": \"a.csv\", \"bytes\": 1.5, \"sha256\": "
         "\"4ac679dbbf37d689be06568ccd4b6278e4701d1cae754432a089310273ac9cc0\"}]}",
         SP_ERR_CORRUPT, 0, "non-negative integer"},
        {"{\"files\": [{\"name\": \"a.csv\", \"bytes\": 1, \"sha256\": \"ABC\"}]}", SP_ERR_CORRUPT,
         0, "lacks a usable name"},
        {"{\"files\": [{\"name\": \"../a.csv\", \"bytes\": 1, \"sha256\": "
         "\"4ac679dbbf37d689be06568ccd4b6278e4701d1cae754432a089310273ac9cc0\"}]}",
         SP_ERR_CORRUPT, 0, "lacks a usable name"},
        {"{\"files\": [{\"name\": \"_inputs.json\", \"bytes\": 1, \"sha256\": "
         "\"4ac679dbbf37d689be06568ccd4b6278e4701d1cae754432a089310273ac9cc0\"}]}",
         SP_ERR_CORRUPT, 0, "lacks a usable name"},
        {"{\"files\": [{\"name\": \"a.csv\", \"bytes\": 1, \"sha256\": "
         "\"4ac679dbbf37d689be06568ccd4b6278e4701d1cae754432a089310273ac9cc0\"}, {\"name\": "
         "\"a.csv\", \"bytes\": 1, \"sha256\": "
         "\"4ac679dbbf37d689be06568ccd4b6278e4701d1cae754432a089310273ac9cc0\"}]}",
         SP_ERR_CORRUPT, 0, "listed twice"},
        {"{\"files\": [{\"name\": \"a\\ud800.csv\"}]}", SP_ERR_CORRUPT, 0, "lone surrogate"},
        {"{\"files\": [{\"name\": \"a\x01.csv\"}]}", SP_ERR_CORRUPT, 0, "control character"},
        {"{\"files\": [{\"name\": \"a.csv", SP_ERR_CORRUPT, 0, "unterminated string"},
        {"{\"files\": [{\"bytes\": 99999999999999999999}]}", SP_ERR_CORRUPT, 0, "too large"},
        {"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", SP_ERR_CORRUPT, 0, "an object was expected"},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        pl_input_set s;
        sp_error err;
        sp_error_clear(&err);
        int rc = pl_inputs_parse(CASES[i].text, strlen(CASES[i].text), "raw/_inputs.json", &s,
                                 &err);
        if (rc != CASES[i].rc)
            test_fail_at(__FILE__, __LINE__, "case %zu: status %d, expected %d (%s)", i, rc,
                         CASES[i].rc, err.msg);
        if (rc == SP_OK && s.n != CASES[i].n)
            test_fail_at(__FILE__, __LINE__, "case %zu: %zu files, expected %zu", i, s.n,
                         CASES[i].n);
        if (CASES[i].msg && (!strstr(err.msg, CASES[i].msg) || !strstr(err.msg, "raw/_inputs.json")))
            test_fail_at(__FILE__, __LINE__, "case %zu: message '%s' lacks '%s'", i, err.msg,
                         CASES[i].msg);
        pl_inputs_free(&s);
    }
}

/* Deeply nested unknown members hit the depth cap, never the stack. */
TEST(test_inputs_parse_deep_nesting)
{
    enum { DEPTH = 100000 };
    char *t = malloc(DEPTH * 2 + 32);
    REQUIRE(t);
    size_t n = (size_t)sprintf(t, "{\"x\": ");
    for (int i = 0; i < DEPTH; i++)
        t[n++] = '[';
    for (int i = 0; i < DEPTH; i++)
        t[n++] = ']';
    n += (size_t)sprintf(t + n, ", \"files\": []}");
    pl_input_set s;
    sp_error err;
    CHECK_INT(pl_inputs_parse(t, n, "x", &s, &err), SP_ERR_CORRUPT);
    free(t);
}
