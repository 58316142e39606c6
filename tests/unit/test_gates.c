/* test_gates.c — the pure parts of the quality gates (src/pipeline/gates.c):
 * QUALITY_SQL split into named checks at ';' outside quotes and comments
 * (tests as data), and the results' JSON. The gates against real stores and
 * warehouses are tests/gates/run.sh's. */
#include <stdio.h>
#include <string.h>

#include "../../src/pipeline/pipeline.h"
#include "../test.h"

typedef struct split_out {
    char text[1024];
} split_out;

/* "name@line:sql|" per check, the SQL with its newlines as '/'. */
static int keep_check(void *arg, const pl_check *c)
{
    split_out *o = arg;
    size_t len = strlen(o->text);
    len += (size_t)snprintf(o->text + len, sizeof o->text - len, "%.*s@%d:",
                            c->name ? (int)c->name_len : 1, c->name ? c->name : "-", c->line);
    for (size_t i = 0; i < c->sql_len && len + 2 < sizeof o->text; i++)
        o->text[len++] = c->sql[i] == '\n' ? '/' : c->sql[i];
    snprintf(o->text + len, sizeof o->text - len, "|");
    return 0;
}

TEST(test_quality_split_table)
{
    static const struct {
        const char *file, *want;
    } CASES[] = {
        {"", ""},
        {"  \n-- only a comment\n/* and; another */ ;;", ""},
        {"SELECT 1", "-@1:SELECT 1|"},
        {"SELECT 1;SELECT 2;", "-@1:SELECT 1|-@1:SELECT 2|"},
        {"-- name: positive qty\nSELECT * FROM f WHERE q <= 0;\n",
         "positive qty@2:-- name: positive qty/SELECT * FROM f WHERE q <= 0|"},
        {"--name:x\nSELECT ';' AS a, \"c;d\" FROM t -- trailing; comment\n;",
         "x@2:--name:x/SELECT ';' AS a, \"c;d\" FROM t -- trailing; comment/|"},
        {"SELECT 'it''s; fine'; /* a;\nb */ SELECT 2",
         "-@1:SELECT 'it''s; fine'|-@2: /* a;/b */ SELECT 2|"},
        {"-- a note first\n-- name:   spaced name  \n\nSELECT 1",
         "spaced name@4:-- a note first/-- name:   spaced name  //SELECT 1|"},
        {"SELECT 'unterminated; string", "-@1:SELECT 'unterminated; string|"},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        split_out o = {""};
        CHECK_INT(pl_quality_split(CASES[i].file, strlen(CASES[i].file), keep_check, &o), 0);
        if (strcmp(o.text, CASES[i].want) != 0)
            test_fail_at(__FILE__, __LINE__, "case %zu: got \"%s\", expected \"%s\"", i, o.text,
                         CASES[i].want);
    }
}

static int stop_at_second(void *arg, const pl_check *c)
{
    (void)arg;
    return c->index == 2 ? 7 : 0;
}

TEST(test_quality_split_stops)
{
    const char *f = "SELECT 1; SELECT 2; SELECT 3";
    CHECK_INT(pl_quality_split(f, strlen(f), stop_at_second, NULL), 7);
}

TEST(test_gates_json)
{
    pl_gates g;
    memset(&g, 0, sizeof g);
    g.n = 2;
    snprintf(g.g[0].name, sizeof g.g[0].name, "MIN_ROWS");
    g.g[0].figure = 0;
    g.g[0].threshold = 1;
    snprintf(g.g[1].name, sizeof g.g[1].name, "MAX_REJECT_RATE");
    snprintf(g.g[1].subject, sizeof g.g[1].subject, "West \"1\".csv");
    g.g[1].figure = 0.4;
    g.g[1].threshold = 0.25;
    g.g[1].passed = true;
    snprintf(g.g[1].note, sizeof g.g[1].note, "40 of 100 rows");
    sp_buf b;
    sp_buf_init(&b, 0);
    pl_gates_json(&g, &b);
    sp_buf_putc(&b, '\0');
    REQUIRE(!b.broken);
    CHECK_STR((const char *)b.data,
              "[{\"name\": \"MIN_ROWS\", \"figure\": 0, \"threshold\": 1, \"passed\": false}, "
              "{\"name\": \"MAX_REJECT_RATE\", \"file\": \"West \\\"1\\\".csv\", \"figure\": "
              "0.400000, \"threshold\": 0.250000, \"passed\": true, \"note\": \"40 of 100 rows\"}]");
    sp_buf_free(&b);
}
