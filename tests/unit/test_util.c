/* test_util.c — util module: capped buffers, JSON escaping, calendar math,
 * the error convention. Tables where the contract is a table. */
#include <stdlib.h>

#include "../../src/util/buf.h"
#include "../../src/util/date.h"
#include "../../src/util/error.h"
#include "../../src/util/json.h"
#include "../../src/util/log.h"
#include "../test.h"

TEST(buf_cap_is_sticky)
{
    sp_buf b;
    sp_buf_init(&b, 10);
    sp_buf_append(&b, "12345", 5);
    CHECK(!b.broken);
    sp_buf_append(&b, "123456", 6); /* would exceed the cap of 10 */
    CHECK(b.broken);
    CHECK_INT(b.len, 5);
    sp_buf_putc(&b, 'x'); /* ignored once broken */
    CHECK_INT(b.len, 5);
    sp_buf_reset(&b);
    CHECK(!b.broken);
    sp_buf_printf(&b, "%d-%s", 42, "ok");
    CHECK_INT(b.len, 5);
    CHECK(memcmp(b.data, "42-ok", 5) == 0);
    sp_buf_free(&b);
}

TEST(buf_printf_longer_than_stack_chunk)
{
    sp_buf b;
    sp_buf_init(&b, 0);
    char big[2000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    sp_buf_printf(&b, "<%s>", big);
    CHECK_INT(b.len, 2001);
    CHECK(b.data[0] == '<' && b.data[2000] == '>');
    sp_buf_free(&b);
}

TEST(json_escapes_per_rfc8259)
{
    static const struct {
        const char *in;
        size_t len;
        const char *out;
    } cases[] = {
        {"plain", 5, "\"plain\""},
        {"q\"b\\", 4, "\"q\\\"b\\\\\""},
        {"a\nb\tc\r", 6, "\"a\\nb\\tc\\r\""},
        {"\x01", 1, "\"\\u0001\""},
        {"caf\xc3\xa9", 5, "\"caf\xc3\xa9\""},        /* valid UTF-8 kept */
        {"bad\xff", 4, "\"bad\\ufffd\""},            /* invalid byte replaced */
        {"\xc3", 1, "\"\\ufffd\""},                  /* truncated sequence */
        {"\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""}, /* surrogate */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sp_buf b;
        sp_buf_init(&b, 0);
        sp_json_string(&b, cases[i].in, cases[i].len);
        sp_buf_putc(&b, 0);
        CHECK_STR((char *)b.data, cases[i].out);
        sp_buf_free(&b);
    }
}

TEST(date_round_trips_every_day_of_a_wide_range)
{
    /* Independent reference: walk day by day with a hand-rolled calendar. */
    int64_t y = 1600;
    unsigned m = 1, d = 1;
    int64_t day = sp_days_from_civil(1600, 1, 1);
    int bad = 0;
    for (int i = 0; i < 400 * 366 * 2 && bad < 5; i++, day++) {
        int64_t yy;
        unsigned mm, dd;
        sp_civil_from_days(day, &yy, &mm, &dd);
        if (yy != y || mm != m || dd != d) {
            test_fail_at(__FILE__, __LINE__, "day %lld: got %lld-%u-%u want %lld-%u-%u",
                         (long long)day, (long long)yy, mm, dd, (long long)y, m, d);
            bad++;
        }
        if (!sp_date_valid(y, m, ++d)) {
            d = 1;
            if (++m > 12)
                m = 1, y++;
        }
    }
    CHECK_INT(sp_days_from_civil(1970, 1, 1), 0);
    CHECK_INT(sp_days_from_civil(2000, 3, 1), 11017);
    CHECK_INT(sp_days_from_civil(1969, 12, 31), -1);
}

TEST(date_validity_table)
{
    static const struct {
        int y;
        unsigned m, d;
        bool ok;
    } cases[] = {
        {2024, 2, 29, true}, {2023, 2, 29, false}, {1900, 2, 29, false}, {2000, 2, 29, true},
        {2020, 2, 30, false}, {2020, 4, 31, false}, {2020, 12, 31, true}, {2020, 13, 1, false},
        {2020, 0, 1, false}, {2020, 1, 0, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (sp_date_valid(cases[i].y, cases[i].m, cases[i].d) != cases[i].ok)
            test_fail_at(__FILE__, __LINE__, "%d-%u-%u should be %s", cases[i].y, cases[i].m,
                         cases[i].d, cases[i].ok ? "valid" : "invalid");
    char out[16];
    sp_date_format(-1, out);
    CHECK_STR(out, "1969-12-31");
    sp_date_format(sp_days_from_civil(2026, 11, 26), out);
    CHECK_STR(out, "2026-11-26");
    /* Both sides of the edges of the four-digit years. */
    CHECK_INT(sp_date_format(sp_days_from_civil(0, 1, 1), out), 10);
    CHECK_STR(out, "0000-01-01");
    CHECK_INT(sp_date_format(sp_days_from_civil(9999, 12, 31), out), 10);
    CHECK_STR(out, "9999-12-31");
    CHECK_INT(sp_date_format(sp_days_from_civil(10000, 1, 1), out), 12);
    CHECK_STR(out, "+10000-01-01");
    CHECK_INT(sp_date_format(sp_days_from_civil(-1, 12, 31), out), 8);
    CHECK_STR(out, "-1-12-31");
}

TEST(error_prefix_and_retryable)
{
    sp_error e;
    sp_error_clear(&e);
    CHECK_INT(e.code, SP_OK);
    CHECK_INT(sp_fail_retry(&e, SP_ERR_NET, "connect %s:%d refused", "127.0.0.1", 5432), SP_ERR_NET);
    CHECK(e.retryable);
    sp_error_prefix(&e, "preflight");
    CHECK_STR(e.msg, "preflight: connect 127.0.0.1:5432 refused");
    sp_fail(&e, SP_ERR_CORRUPT, "x");
    CHECK(!e.retryable);
    CHECK_STR(sp_status_name(SP_ERR_CORRUPT), "corrupt");
    /* A prefix never overflows the message. */
    char long_ctx[300];
    memset(long_ctx, 'c', sizeof long_ctx - 1);
    long_ctx[sizeof long_ctx - 1] = 0;
    for (int i = 0; i < 10; i++)
        sp_error_prefix(&e, "%s", long_ctx);
    CHECK(strlen(e.msg) < SP_ERROR_MSG_MAX);
}

TEST(log_scrub_removes_registered_secrets)
{
    sp_log_add_secret("hunter2-very-secret");
    sp_log_add_secret("abc"); /* too short to scrub safely: ignored */
    char msg[128] = "auth failed with hunter2-very-secret for abc (hunter2-very-secret)";
    sp_log_scrub(msg);
    CHECK_STR(msg, "auth failed with *** for abc (***)");
}

/* sp_json_get_int: the manifest reader of `load`, as a table. */
TEST(test_json_get_int_table)
{
    static const struct {
        const char *json, *path;
        bool found;
        long long want;
    } rows[] = {
        {"{\"a\": 5}", "a", true, 5},
        {"{\"a\": -12}", "a", true, -12},
        {"{\"x\": [1, {\"a\": 2}], \"s\": \"a\\\"}\", \"a\": 3}", "a", true, 3},
        {"{\"tables\": {\"dim_date\": 7, \"fact_sales\": 9000}}", "tables.fact_sales", true, 9000},
        {" {\n \"t\" : { \"u\" : { \"v\" : 1 } } }", "t.u.v", true, 1},
        {"{\"a\": 5}", "b", false, 0},
        {"{\"a\": {\"b\": 1}}", "a.c", false, 0},
        {"{\"a\": \"5\"}", "a", false, 0},
        {"{\"a\": 1.5}", "a", false, 0},
        {"{\"a\": 1e3}", "a", false, 0},
        {"{\"a\": 99999999999999999999}", "a", false, 0},
        {"{\"a\": 5", "b", false, 0},
        {"{\"x\": [1, 2, \"a\": 5}", "a", false, 0},
        {"[1, 2]", "a", false, 0},
        {"", "a", false, 0},
        {"{\"b\": true, \"c\": null, \"a\": 4}", "a", true, 4},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        long long v = -777;
        bool found = sp_json_get_int(rows[i].json, strlen(rows[i].json), rows[i].path, &v);
        if (found != rows[i].found || (found && v != rows[i].want))
            test_fail_at(__FILE__, __LINE__, "row %zu (%s in %s): found %d value %lld", i,
                         rows[i].path, rows[i].json, found, v);
    }
}
