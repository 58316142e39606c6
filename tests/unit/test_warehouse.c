/* test_warehouse.c — the warehouse interface on its SQLite backend: target
 * forms, idempotent schema, wrong shapes, loads read back value by value
 * (straight from SQLite), reloads, failed loads that must leave the previous
 * contents exactly as they were, and clear errors for missing schemas,
 * foreign files and read-only databases. Batches are built by hand. */
#include "../test.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/util/buf.h"
#include "../../src/util/date.h"
#include "../../src/warehouse/warehouse.h"
#include "row_text.h"

/* ---- hand-built batches ---------------------------------------------- */

enum { MAXR = 16 };

static int32_t day_of(const char *ymd)
{
    int y, m, d;
    if (sscanf(ymd, "%d-%d-%d", &y, &m, &d) != 3)
        return 0;
    return (int32_t)sp_days_from_civil(y, (unsigned)m, (unsigned)d);
}

typedef struct textcol {
    uint32_t off[MAXR + 1];
    char bytes[MAXR * 64];
} textcol;

static void text_add(textcol *t, size_t i, const char *s)
{
    size_t n = strlen(s);
    memcpy(t->bytes + t->off[i], s, n);
    t->off[i + 1] = t->off[i] + (uint32_t)n;
}

typedef struct dims {
    size_t nd, np;
    int32_t od[MAXR], day[MAXR], month[MAXR], quarter[MAXR], year[MAXR];
    textcol pid, cat;
    sp_column dcols[5], pcols[2];
    sp_batch db, pb;
} dims;

static void dims_date(dims *d, const char *ymd)
{
    int y, m, dd;
    sscanf(ymd, "%d-%d-%d", &y, &m, &dd);
    size_t i = d->nd++;
    d->od[i] = day_of(ymd);
    d->day[i] = dd;
    d->month[i] = m;
    d->quarter[i] = (m - 1) / 3 + 1;
    d->year[i] = y;
}

static void dims_product(dims *d, const char *id, const char *cat)
{
    text_add(&d->pid, d->np, id);
    text_add(&d->cat, d->np, cat);
    d->np++;
}

/* Columns deliberately in another order than the table's. */
static void dims_finish(dims *d)
{
    d->dcols[0] = (sp_column){.name = "year", .type = SP_COL_INT32, .values = d->year};
    d->dcols[1] = (sp_column){.name = "order_date", .type = SP_COL_DATE, .values = d->od};
    d->dcols[2] = (sp_column){.name = "day", .type = SP_COL_INT32, .values = d->day};
    d->dcols[3] = (sp_column){.name = "month", .type = SP_COL_INT32, .values = d->month};
    d->dcols[4] = (sp_column){.name = "quarter", .type = SP_COL_INT32, .values = d->quarter};
    d->db = (sp_batch){.nrows = d->nd, .ncols = 5, .cols = d->dcols};
    d->pcols[0] = (sp_column){.name = "category", .type = SP_COL_TEXT, .offsets = d->cat.off,
                              .bytes = (const uint8_t *)d->cat.bytes};
    d->pcols[1] = (sp_column){.name = "product_id", .type = SP_COL_TEXT, .offsets = d->pid.off,
                              .bytes = (const uint8_t *)d->pid.bytes};
    d->pb = (sp_batch){.nrows = d->np, .ncols = 2, .cols = d->pcols};
}

static void std_dims(dims *d)
{
    memset(d, 0, sizeof *d);
    dims_date(d, "2024-01-05");
    dims_date(d, "2024-02-29");
    dims_date(d, "2023-12-31");
    dims_product(d, "FUR-BO-1", "Furniture");
    dims_product(d, "OFF-PA-2", "Office Supplies");
    dims_product(d, "TEC-PH-3", "Technology");
    dims_finish(d);
}

typedef struct facts {
    size_t n;
    int32_t od[MAXR], qty[MAXR], ship[MAXR];
    int64_t total[MAXR], profit[MAXR], price[MAXR], margin[MAXR], line[MAXR];
    uint8_t qty_valid[MAXR];
    textcol pid, src;
    sp_column cols[10];
    sp_batch b;
} facts;

static void fact(facts *f, const char *date, const char *pid, int qty, int64_t total,
                 int64_t profit, int64_t price, int64_t margin)
{
    size_t i = f->n++;
    f->od[i] = day_of(date);
    text_add(&f->pid, i, pid);
    f->qty[i] = qty;
    f->qty_valid[i] = 1;
    f->total[i] = total;
    f->profit[i] = profit;
    f->price[i] = price;
    f->margin[i] = margin;
    f->ship[i] = f->od[i] + 3;
    text_add(&f->src, i, i % 2 ? "East_orders.csv" : "West_orders.csv");
    f->line[i] = (int64_t)i + 2;
}

/* The batch, without the column named `omit` (NULL: all columns). */
static const sp_batch *facts_batch(facts *f, const char *omit)
{
    const sp_column all[10] = {
        {.name = "product_id", .type = SP_COL_TEXT, .offsets = f->pid.off,
         .bytes = (const uint8_t *)f->pid.bytes},
        {.name = "order_date", .type = SP_COL_DATE, .values = f->od},
        {.name = "quantity", .type = SP_COL_INT32, .values = f->qty, .valid = f->qty_valid},
        {.name = "total_sales", .type = SP_COL_DECIMAL, .scale = 4, .values = f->total},
        {.name = "profit", .type = SP_COL_DECIMAL, .scale = 4, .values = f->profit},
        {.name = "unit_price", .type = SP_COL_DECIMAL, .scale = 2, .values = f->price},
        {.name = "profit_margin", .type = SP_COL_DECIMAL, .scale = 2, .values = f->margin},
        {.name = "ship_date", .type = SP_COL_DATE, .values = f->ship},
        {.name = "source_file", .type = SP_COL_TEXT, .offsets = f->src.off,
         .bytes = (const uint8_t *)f->src.bytes},
        {.name = "source_line", .type = SP_COL_INT64, .values = f->line},
    };
    size_t n = 0;
    for (size_t k = 0; k < 10; k++)
        if (!omit || strcmp(all[k].name, omit) != 0)
            f->cols[n++] = all[k];
    f->b = (sp_batch){.nrows = f->n, .ncols = n, .cols = f->cols};
    return &f->b;
}

/* Two fact batches over std_dims: 4 rows, then 2. */
static void std_facts(facts *a, facts *b)
{
    memset(a, 0, sizeof *a);
    memset(b, 0, sizeof *b);
    fact(a, "2024-01-05", "FUR-BO-1", 2, 2619600, 419136, 13098, 16);
    fact(a, "2024-02-29", "OFF-PA-2", 3, 146200, -21000, 487, -14);
    fact(a, "2023-12-31", "TEC-PH-3", 1, 99999999, 1, 999999, 0);
    fact(a, "2024-01-05", "TEC-PH-3", 7, 50, -50, 1, -100);
    fact(b, "2024-02-29", "FUR-BO-1", 5, 123456789012345, 5, 2469135780, 1);
    fact(b, "2023-12-31", "OFF-PA-2", 1000, 10000, 0, 0, 0);
}

/* ---- reading back straight from SQLite -------------------------------- */

static char *query(const char *db_path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    sp_buf b;
    sp_buf_init(&b, 0);
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        sp_buf_printf(&b, "SQL error: %s", sqlite3_errmsg(db));
    } else {
        while (sqlite3_step(st) == SQLITE_ROW) {
            for (int k = 0; k < sqlite3_column_count(st); k++) {
                const unsigned char *v = sqlite3_column_text(st, k);
                sp_buf_printf(&b, "%s%s", k ? "|" : "", v ? (const char *)v : "NULL");
            }
            sp_buf_putc(&b, '\n');
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    sp_buf_putc(&b, '\0');
    return (char *)b.data;
}

static void sql_exec(const char *db_path, const char *sql)
{
    sqlite3 *db = NULL;
    char *msg = NULL;
    if (sqlite3_open(db_path, &db) != SQLITE_OK ||
        sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        test_fail_at(__FILE__, __LINE__, "%s: %s", sql, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    sqlite3_close(db);
}

/* Every table, ordered, decimals printed as their contract scale. */
static char *dump(const char *db_path)
{
    return query(db_path,
                 "SELECT 'd', date_id, order_date, day, month, quarter, year FROM dim_date "
                 "UNION ALL SELECT 'p', product_sk, product_id, category, NULL, NULL, NULL "
                 "FROM dim_product ORDER BY 1, 2;");
}

static char *dump_facts(const char *db_path)
{
    return query(db_path,
                 "SELECT f.sale_id, d.order_date, p.product_id, p.category, f.quantity,"
                 " printf('%.4f', f.total_sales), printf('%.4f', f.profit),"
                 " printf('%.2f', f.unit_price), printf('%.2f', f.profit_margin),"
                 " f.ship_date, f.source_file, f.source_line"
                 " FROM fact_sales f JOIN dim_date d ON d.date_id = f.date_id"
                 " JOIN dim_product p ON p.product_sk = f.product_sk ORDER BY f.sale_id");
}

/* Compares text read back (query(), dump(), dump_facts()) with what is
 * expected, failing at the caller's line, and frees it. */
static void check_text(char *got, const char *want, int line)
{
    if (!got || strcmp(got, want) != 0)
        test_fail_at(__FILE__, line, "read back \"%s\", expected \"%s\"", got ? got : "(null)",
                     want);
    free(got);
}

static const char STD_DIMS[] = "d|1|2024-01-05|5|1|1|2024\n"
                               "d|2|2024-02-29|29|2|1|2024\n"
                               "d|3|2023-12-31|31|12|4|2023\n"
                               "p|1|FUR-BO-1|Furniture|NULL|NULL|NULL\n"
                               "p|2|OFF-PA-2|Office Supplies|NULL|NULL|NULL\n"
                               "p|3|TEC-PH-3|Technology|NULL|NULL|NULL\n";

static const char STD_FACTS[] =
    "1|2024-01-05|FUR-BO-1|Furniture|2|261.9600|41.9136|130.98|0.16|2024-01-08|West_orders.csv|2\n"
    "2|2024-02-29|OFF-PA-2|Office Supplies|3|14.6200|-2.1000|4.87|-0.14|2024-03-03|East_orders.csv|3\n"
    "3|2023-12-31|TEC-PH-3|Technology|1|9999.9999|0.0001|9999.99|0.00|2024-01-03|West_orders.csv|4\n"
    "4|2024-01-05|TEC-PH-3|Technology|7|0.0050|-0.0050|0.01|-1.00|2024-01-08|East_orders.csv|5\n"
    "5|2024-02-29|FUR-BO-1|Furniture|5|12345678901.2345|0.0005|24691357.80|0.01|2024-03-03|West_orders.csv|2\n"
    "6|2023-12-31|OFF-PA-2|Office Supplies|1000|1.0000|0.0000|0.00|0.00|2024-01-03|East_orders.csv|3\n";

static char *db_in(const char *dir, const char *name)
{
    static char path[8][600];
    static int k;
    char *p = path[k++ % 8];
    snprintf(p, sizeof path[0], "%s/%s", dir, name);
    return p;
}

static wh *open_db(const char *path)
{
    wh *w = NULL;
    sp_error err;
    if (wh_open(&w, path, &err) != SP_OK) {
        test_fail_at(__FILE__, __LINE__, "wh_open(%s): %s", path, err.msg);
        return NULL;
    }
    return w;
}

/* create-tables, then the standard load, committed. */
static int std_load(wh *w, sp_error *err)
{
    dims d;
    facts a, b;
    std_dims(&d);
    std_facts(&a, &b);
    SP_TRY(wh_create_schema(w, err));
    SP_TRY(wh_load_begin(w, err));
    SP_TRY(wh_load_batch(w, WH_DIM_DATE, &d.db, err));
    SP_TRY(wh_load_batch(w, WH_DIM_PRODUCT, &d.pb, err));
    SP_TRY(wh_load_batch(w, WH_FACT_SALES, facts_batch(&a, NULL), err));
    SP_TRY(wh_load_batch(w, WH_FACT_SALES, facts_batch(&b, NULL), err));
    return wh_load_commit(w, err);
}

/* ---- tests --------------------------------------------------------------- */

TEST(test_wh_open_targets)
{
    const char *dir = test_tmpdir();
    char cwd[1024];
    REQUIRE(getcwd(cwd, sizeof cwd));
    REQUIRE(chdir(dir) == 0);
    wh *w = NULL;
    sp_error err;
    CHECK_INT(wh_open(&w, NULL, &err), SP_OK);
    if (w)
        CHECK_STR(wh_describe(w), "sqlite:./warehouse.db");
    wh_close(w);
    CHECK(access("warehouse.db", F_OK) == 0);
    CHECK_INT(wh_open(&w, "", &err), SP_OK);
    wh_close(w);
    CHECK_INT(wh_open(&w, "sqlite:///rel/dir/wh.db", &err), SP_OK); /* parents made */
    if (w)
        CHECK_STR(wh_describe(w), "sqlite:rel/dir/wh.db");
    wh_close(w);
    CHECK(access("rel/dir/wh.db", F_OK) == 0);
    CHECK_INT(wh_open(&w, "plain.sqlite", &err), SP_OK);
    wh_close(w);
    CHECK(access("plain.sqlite", F_OK) == 0);
    REQUIRE(chdir(cwd) == 0);

    char url[700];
    snprintf(url, sizeof url, "sqlite:///%s/abs/wh.db", dir); /* dir starts with '/' */
    CHECK_INT(wh_open(&w, url, &err), SP_OK);
    wh_close(w);
    CHECK(access(db_in(dir, "abs/wh.db"), F_OK) == 0);
    CHECK_INT(wh_open(&w, db_in(dir, "x.db"), &err), SP_OK);
    wh_close(w);

    /* PostgreSQL on a closed loopback port: a network error naming the
     * server, without the password. */
    CHECK_INT(wh_open(&w, "postgresql://etl:s3cr3t@127.0.0.1:1/sales", &err), SP_ERR_NET);
    CHECK_CONTAINS(err.msg, "postgresql://etl@127.0.0.1:1/sales");
    CHECK(strstr(err.msg, "s3cr3t") == NULL);
    CHECK(w == NULL);
    CHECK_INT(wh_open(&w, "postgres://etl:s3cr3t@127.0.0.1:1/sales", &err), SP_ERR_NET);
    CHECK(strstr(err.msg, "s3cr3t") == NULL);
    /* A URL libpq cannot parse: its message quotes the bad token, written
     * before libpq knows any password; the server is named from the URL. */
    CHECK_INT(wh_open(&w, "postgresql://etl:s3%zzcr3t@127.0.0.1:1/sales?sslmode=require", &err),
              SP_ERR_NET);
    CHECK_CONTAINS(err.msg, "percent-encoded");
    CHECK_CONTAINS(err.msg, "warehouse postgresql://etl@127.0.0.1:1/sales: ");
    CHECK(strstr(err.msg, "s3%zzcr3t") == NULL);
    CHECK(!err.retryable);
    CHECK_INT(wh_open(&w, "postgresql://etl@127.0.0.1:1/sales?password=t0p%zzsecret", &err),
              SP_ERR_NET);
    CHECK_CONTAINS(err.msg, "percent-encoded");
    CHECK(strstr(err.msg, "t0p%zzsecret") == NULL);
    CHECK_INT(wh_open(&w, "mysql://etl:s3cr3t@db/sales", &err), SP_ERR_USAGE);
    CHECK_CONTAINS(err.msg, "mysql://");
    CHECK(strstr(err.msg, "s3cr3t") == NULL);
    CHECK_INT(wh_open(&w, "warehouse.txt", &err), SP_ERR_USAGE);
    CHECK_INT(wh_open(&w, "sqlite://", &err), SP_ERR_USAGE);
    CHECK_INT(wh_open(&w, "sqlite:///", &err), SP_ERR_USAGE);
    CHECK_INT(wh_open(&w, "sqlite://host/x.db", &err), SP_ERR_USAGE);
    wh_close(NULL);
    CHECK_STR(wh_table_name(WH_DIM_DATE), "dim_date");
    CHECK_STR(wh_table_name(WH_DIM_PRODUCT), "dim_product");
    CHECK_STR(wh_table_name(WH_FACT_SALES), "fact_sales");
}

TEST(test_wh_create_schema_twice)
{
    const char *path = db_in(test_tmpdir(), "wh.db");
    wh *w = open_db(path);
    REQUIRE(w);
    sp_error err;
    CHECK_INT(wh_create_schema(w, &err), SP_OK);
    CHECK_INT(wh_create_schema(w, &err), SP_OK);
    for (int t = 0; t < WH_NTABLES; t++) {
        int64_t n = -1;
        CHECK_INT(wh_table_rows(w, (wh_table)t, &n, &err), SP_OK);
        CHECK_INT(n, 0);
    }
    wh_close(w);
    char *cols = query(path, "SELECT group_concat(name, ',') FROM pragma_table_info('fact_sales')");
    CHECK_STR(cols, "sale_id,date_id,product_sk,quantity,total_sales,profit,unit_price,"
                    "profit_margin,region,order_id,source_file,source_line,run_id,ship_date\n");
    free(cols);
    cols = query(path, "SELECT group_concat(name, ',') FROM pragma_table_info('dim_date')");
    CHECK_STR(cols, "date_id,order_date,day,month,quarter,year\n");
    free(cols);
    cols = query(path, "SELECT \"table\", \"from\", \"to\" FROM pragma_foreign_key_list('fact_sales')"
                       " ORDER BY 1");
    CHECK_STR(cols, "dim_date|date_id|date_id\ndim_product|product_sk|product_sk\n");
    free(cols);
    /* A second handle on the same file: still fine. */
    w = open_db(path);
    REQUIRE(w);
    CHECK_INT(wh_create_schema(w, &err), SP_OK);
    CHECK_INT(wh_check(w, &err), SP_OK);
    wh_close(w);
}

TEST(test_wh_wrong_shape_table)
{
    const char *path = db_in(test_tmpdir(), "wh.db");
    sql_exec(path, "CREATE TABLE dim_product(product_sk INTEGER PRIMARY KEY, product_id TEXT)");
    wh *w = open_db(path);
    REQUIRE(w);
    sp_error err;
    CHECK_INT(wh_create_schema(w, &err), SP_ERR_DATA);
    CHECK_CONTAINS(err.msg, "dim_product");
    CHECK_CONTAINS(err.msg, "category");
    CHECK_CONTAINS(err.msg, path);
    /* Nothing half-made: the other tables were rolled back with it. */
    char *t = query(path, "SELECT group_concat(name) FROM sqlite_master WHERE type = 'table'");
    CHECK_STR(t, "dim_product\n");
    free(t);
    CHECK_INT(wh_load_begin(w, &err), SP_ERR_DATA);
    wh_close(w);
}

TEST(test_wh_load_and_read_back)
{
    const char *path = db_in(test_tmpdir(), "wh.db");
    wh *w = open_db(path);
    REQUIRE(w);
    sp_error err;
    int rc = std_load(w, &err);
    CHECK_INT(rc, SP_OK);
    if (rc != SP_OK)
        printf("  %s\n", err.msg);
    int64_t n = 0;
    CHECK_INT(wh_table_rows(w, WH_DIM_DATE, &n, &err), SP_OK);
    CHECK_INT(n, 3);
    CHECK_INT(wh_table_rows(w, WH_DIM_PRODUCT, &n, &err), SP_OK);
    CHECK_INT(n, 3);
    CHECK_INT(wh_table_rows(w, WH_FACT_SALES, &n, &err), SP_OK);
    CHECK_INT(n, 6);
    wh_close(w);

    check_text(dump(path), STD_DIMS, __LINE__);
    /* inner joins: every fact finds both dimensions */
    check_text(dump_facts(path), STD_FACTS, __LINE__);
    /* Stored as numbers (NUMERIC affinity), not as text. */
    check_text(query(path, "SELECT DISTINCT typeof(total_sales) FROM fact_sales ORDER BY 1"),
               "integer\nreal\n", __LINE__);
    check_text(query(path, "SELECT sum(quantity) FROM fact_sales"), "1018\n", __LINE__);
    check_text(query(path, "PRAGMA foreign_key_check"), "", __LINE__);
}

TEST(test_wh_reload_same_contents)
{
    const char *path = db_in(test_tmpdir(), "wh.db");
    wh *w = open_db(path);
    REQUIRE(w);
    sp_error err;
    CHECK_INT(std_load(w, &err), SP_OK);
    char *d1 = dump(path), *f1 = dump_facts(path);
    CHECK_INT(std_load(w, &err), SP_OK);
    wh_close(w);
    w = open_db(path); /* and from a fresh handle */
    REQUIRE(w);
    CHECK_INT(std_load(w, &err), SP_OK);
    wh_close(w);
    char *d2 = dump(path), *f2 = dump_facts(path);
    CHECK_STR(d2, d1);
    CHECK_STR(f2, f1);
    CHECK_STR(f2, STD_FACTS);
    char *n = query(path, "SELECT count(*) FROM fact_sales");
    CHECK_STR(n, "6\n");
    free(n);
    free(d1);
    free(f1);
    free(d2);
    free(f2);
}

/* Standard load first; then a load that fails in `how`; the contents must
 * be the standard ones, and the handle usable for another full load. */
typedef enum { BAD_PRODUCT, BAD_DATE, MISSING_COLUMN, WRONG_TYPE, DUP_DIM, TRIGGER, DIM_AFTER_FACT,
               NULL_KEY } failure;

static void failed_load_keeps_previous(failure how, int want_code, const char *want_msg)
{
    const char *path = db_in(test_tmpdir(), "wh.db");
    wh *w = open_db(path);
    REQUIRE(w);
    sp_error err;
    REQUIRE(std_load(w, &err) == SP_OK);
    if (how == TRIGGER)
        sql_exec(path, "CREATE TRIGGER no_big BEFORE INSERT ON fact_sales WHEN NEW.quantity > 999 "
                       "BEGIN SELECT RAISE(ABORT, 'quantity over 999'); END");
    dims d;
    facts a, b;
    std_dims(&d);
    std_facts(&a, &b);
    if (how == BAD_PRODUCT) {
        memset(&b, 0, sizeof b);
        fact(&b, "2024-02-29", "FUR-BO-1", 5, 1, 1, 1, 1);
        fact(&b, "2023-12-31", "NOPE-1", 1, 1, 1, 1, 1);
    }
    if (how == BAD_DATE) {
        memset(&b, 0, sizeof b);
        fact(&b, "2024-02-28", "FUR-BO-1", 5, 1, 1, 1, 1);
    }
    if (how == DUP_DIM) {
        memset(&d, 0, sizeof d);
        dims_date(&d, "2024-01-05");
        dims_date(&d, "2024-01-05");
        dims_product(&d, "P", "C");
        dims_finish(&d);
    }
    if (how == NULL_KEY)
        b.qty_valid[0] = 0; /* a NULL quantity is fine ... */
    CHECK_INT(wh_load_begin(w, &err), SP_OK);
    int rc = wh_load_batch(w, WH_DIM_DATE, &d.db, &err);
    if (rc == SP_OK)
        rc = wh_load_batch(w, WH_DIM_PRODUCT, &d.pb, &err);
    if (rc == SP_OK)
        rc = wh_load_batch(w, WH_FACT_SALES, facts_batch(&a, NULL), &err);
    if (rc == SP_OK && how == DIM_AFTER_FACT)
        rc = wh_load_batch(w, WH_DIM_PRODUCT, &d.pb, &err);
    if (rc == SP_OK) {
        const sp_batch *bb = facts_batch(&b, how == MISSING_COLUMN ? "profit" : NULL);
        sp_column cols[10];
        sp_batch typed;
        if (how == WRONG_TYPE) {
            memcpy(cols, bb->cols, bb->ncols * sizeof *cols);
            cols[2].type = SP_COL_TEXT; /* quantity */
            typed = (sp_batch){.nrows = bb->nrows, .ncols = bb->ncols, .cols = cols};
            bb = &typed;
        }
        if (how == NULL_KEY) {
            uint8_t valid[MAXR];
            memset(valid, 1, sizeof valid);
            valid[1] = 0; /* ... a NULL product_id is not */
            memcpy(cols, bb->cols, bb->ncols * sizeof *cols);
            cols[0].valid = valid;
            typed = (sp_batch){.nrows = bb->nrows, .ncols = bb->ncols, .cols = cols};
            rc = wh_load_batch(w, WH_FACT_SALES, &typed, &err);
        } else {
            rc = wh_load_batch(w, WH_FACT_SALES, bb, &err);
        }
    }
    CHECK_INT(rc, want_code);
    CHECK_CONTAINS(err.msg, want_msg);
    CHECK_CONTAINS(err.msg, path);
    /* The load is over: more batches and the commit are refused. */
    CHECK_INT(wh_load_batch(w, WH_FACT_SALES, facts_batch(&a, NULL), &err), SP_ERR_INTERNAL);
    CHECK_INT(wh_load_commit(w, &err), SP_ERR_INTERNAL);
    char *s = dump(path), *f = dump_facts(path);
    CHECK_STR(s, STD_DIMS);
    CHECK_STR(f, STD_FACTS);
    free(s);
    free(f);
    /* Readable by others while the handle stays open, and loadable again. */
    if (how != TRIGGER)
        CHECK_INT(std_load(w, &err), SP_OK);
    wh_close(w);
    check_text(dump_facts(path), STD_FACTS, __LINE__);
}

TEST(test_wh_failed_load_unknown_product_keeps_previous)
{
    failed_load_keeps_previous(BAD_PRODUCT, SP_ERR_DATA,
                               "fact_sales row 6: product_id 'NOPE-1' is not in dim_product");
}

TEST(test_wh_failed_load_unknown_date_keeps_previous)
{
    failed_load_keeps_previous(BAD_DATE, SP_ERR_DATA,
                               "fact_sales row 5: order_date 2024-02-28 is not in dim_date");
}

TEST(test_wh_failed_load_missing_column_keeps_previous)
{
    failed_load_keeps_previous(MISSING_COLUMN, SP_ERR_DATA,
                               "fact_sales batch has no column 'profit'");
}

TEST(test_wh_failed_load_wrong_type_keeps_previous)
{
    failed_load_keeps_previous(WRONG_TYPE, SP_ERR_DATA, "fact_sales column 'quantity' is TEXT");
}

TEST(test_wh_failed_load_duplicate_dim_keeps_previous)
{
    failed_load_keeps_previous(DUP_DIM, SP_ERR_DATA,
                               "dim_date row 2: order_date 2024-01-05 appears twice in the load");
}

TEST(test_wh_failed_load_constraint_keeps_previous)
{
    failed_load_keeps_previous(TRIGGER, SP_ERR_DATA, "fact_sales row 6: quantity over 999");
}

TEST(test_wh_failed_load_null_key_keeps_previous)
{
    failed_load_keeps_previous(NULL_KEY, SP_ERR_DATA, "fact_sales row 6: product_id is NULL");
}

TEST(test_wh_dims_after_facts_rejected)
{
    failed_load_keeps_previous(DIM_AFTER_FACT, SP_ERR_INTERNAL,
                               "dim_product batch after fact_sales batches");
}

TEST(test_wh_close_rolls_back_open_load)
{
    const char *path = db_in(test_tmpdir(), "wh.db");
    wh *w = open_db(path);
    REQUIRE(w);
    sp_error err;
    REQUIRE(std_load(w, &err) == SP_OK);
    dims d;
    memset(&d, 0, sizeof d);
    dims_date(&d, "1999-09-09");
    dims_product(&d, "ONLY-1", "Only");
    dims_finish(&d);
    CHECK_INT(wh_load_begin(w, &err), SP_OK);
    CHECK_INT(wh_load_begin(w, &err), SP_ERR_INTERNAL); /* one load at a time */
    CHECK_INT(wh_load_batch(w, WH_DIM_DATE, &d.db, &err), SP_OK);
    CHECK_INT(wh_load_batch(w, WH_DIM_PRODUCT, &d.pb, &err), SP_OK);
    CHECK_INT(wh_create_schema(w, &err), SP_ERR_INTERNAL);
    wh_close(w); /* never committed */
    check_text(dump(path), STD_DIMS, __LINE__);

    /* An explicit rollback, then a smaller load that commits. */
    w = open_db(path);
    REQUIRE(w);
    CHECK_INT(wh_load_begin(w, &err), SP_OK);
    CHECK_INT(wh_load_batch(w, WH_DIM_DATE, &d.db, &err), SP_OK);
    wh_load_rollback(w);
    wh_load_rollback(w); /* twice is harmless */
    check_text(dump(path), STD_DIMS, __LINE__);
    CHECK_INT(wh_load_begin(w, &err), SP_OK);
    CHECK_INT(wh_load_batch(w, WH_DIM_DATE, &d.db, &err), SP_OK);
    CHECK_INT(wh_load_batch(w, WH_DIM_PRODUCT, &d.pb, &err), SP_OK);
    CHECK_INT(wh_load_commit(w, &err), SP_OK);
    wh_close(w);
    /* Dimensions are upserted: the new date and product get the next keys
     * (the previous rows had 1-3); the rows no fact uses any more are gone. */
    check_text(dump(path), "d|4|1999-09-09|9|9|3|1999\np|4|ONLY-1|Only|NULL|NULL|NULL\n", __LINE__);
    /* full refresh: the old facts are gone */
    check_text(query(path, "SELECT count(*) FROM fact_sales"), "0\n", __LINE__);
}

TEST(test_wh_nulls_and_reference_schema)
{
    /* A fact_sales made with SPEC §5's DDL only (no lineage columns), as the
     * reference system left it: loads still work, without lineage. */
    const char *path = db_in(test_tmpdir(), "wh.db");
    sql_exec(path,
             "CREATE TABLE dim_date(date_id INTEGER PRIMARY KEY, order_date DATE UNIQUE, day INT,"
             " month INT, quarter INT, year INT);"
             "CREATE TABLE dim_product(product_sk INTEGER PRIMARY KEY, product_id TEXT UNIQUE,"
             " category TEXT);"
             "CREATE TABLE fact_sales(sale_id INTEGER PRIMARY KEY,"
             " date_id INT NOT NULL REFERENCES dim_date(date_id),"
             " product_sk INT NOT NULL REFERENCES dim_product(product_sk), quantity INT,"
             " total_sales NUMERIC, profit NUMERIC, unit_price NUMERIC, profit_margin NUMERIC);");
    wh *w = open_db(path);
    REQUIRE(w);
    sp_error err;
    CHECK_INT(wh_create_schema(w, &err), SP_OK);
    dims d;
    facts a, b;
    std_dims(&d);
    std_facts(&a, &b);
    a.qty_valid[1] = 0;
    CHECK_INT(wh_load_begin(w, &err), SP_OK);
    CHECK_INT(wh_load_batch(w, WH_DIM_DATE, &d.db, &err), SP_OK);
    CHECK_INT(wh_load_batch(w, WH_DIM_PRODUCT, &d.pb, &err), SP_OK);
    /* Lineage columns absent from the batch and from the table. */
    sp_batch empty = {.nrows = 0, .ncols = 0, .cols = NULL};
    CHECK_INT(wh_load_batch(w, WH_FACT_SALES, &empty, &err), SP_ERR_DATA);
    CHECK_CONTAINS(err.msg, "no column 'order_date'");
    CHECK_INT(wh_load_begin(w, &err), SP_OK);
    CHECK_INT(wh_load_batch(w, WH_DIM_DATE, &d.db, &err), SP_OK);
    CHECK_INT(wh_load_batch(w, WH_DIM_PRODUCT, &d.pb, &err), SP_OK);
    facts_batch(&a, NULL);
    a.b.ncols = 7; /* drop ship_date, source_file, source_line */
    CHECK_INT(wh_load_batch(w, WH_FACT_SALES, &a.b, &err), SP_OK);
    CHECK_INT(wh_load_commit(w, &err), SP_OK);
    wh_close(w);
    check_text(query(path, "SELECT sale_id, quantity, printf('%.4f', total_sales) FROM fact_sales"
                           " ORDER BY sale_id"),
               "1|2|261.9600\n2|NULL|14.6200\n3|1|9999.9999\n4|7|0.0050\n", __LINE__);
}

TEST(test_wh_lineage_absent_from_batch)
{
    const char *path = db_in(test_tmpdir(), "wh.db");
    wh *w = open_db(path);
    REQUIRE(w);
    sp_error err;
    dims d;
    facts a, b;
    std_dims(&d);
    std_facts(&a, &b);
    CHECK_INT(wh_create_schema(w, &err), SP_OK);
    CHECK_INT(wh_load_begin(w, &err), SP_OK);
    CHECK_INT(wh_load_batch(w, WH_DIM_DATE, &d.db, &err), SP_OK);
    CHECK_INT(wh_load_batch(w, WH_DIM_PRODUCT, &d.pb, &err), SP_OK);
    CHECK_INT(wh_load_batch(w, WH_FACT_SALES, facts_batch(&b, "source_file"), &err), SP_OK);
    CHECK_INT(wh_load_commit(w, &err), SP_OK);
    wh_close(w);
    check_text(query(path, "SELECT sale_id, ship_date, source_file, source_line FROM fact_sales"),
               "1|2024-03-03|NULL|2\n2|2024-01-03|NULL|3\n", __LINE__);
}

TEST(test_wh_load_without_schema)
{
    const char *path = db_in(test_tmpdir(), "fresh.db");
    wh *w = open_db(path);
    REQUIRE(w);
    sp_error err;
    CHECK_INT(wh_load_begin(w, &err), SP_ERR_DATA);
    CHECK_CONTAINS(err.msg, "run create-tables first");
    CHECK_CONTAINS(err.msg, path);
    int64_t n = 7;
    CHECK_INT(wh_table_rows(w, WH_FACT_SALES, &n, &err), SP_ERR_DATA);
    CHECK_CONTAINS(err.msg, "run create-tables first");
    CHECK_INT(n, 0);
    dims d;
    std_dims(&d);
    CHECK_INT(wh_load_batch(w, WH_DIM_DATE, &d.db, &err), SP_ERR_INTERNAL);
    CHECK_CONTAINS(err.msg, "without an open load");
    CHECK_INT(wh_load_commit(w, &err), SP_ERR_INTERNAL);
    /* Nothing was left open: create-tables works on the same handle. */
    CHECK_INT(wh_create_schema(w, &err), SP_OK);
    CHECK_INT(wh_load_begin(w, &err), SP_OK);
    CHECK_INT(wh_load_commit(w, &err), SP_OK);
    wh_close(w);
}

TEST(test_wh_not_a_database)
{
    const char *dir = test_tmpdir();
    const char *path = db_in(dir, "notes.db");
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    for (int i = 0; i < 64; i++)
        fputs("This is a text file that happens to be named like a database.\n", f);
    fclose(f);
    wh *w = NULL;
    sp_error err;
    CHECK_INT(wh_open(&w, path, &err), SP_ERR_CORRUPT);
    CHECK(w == NULL);
    CHECK_CONTAINS(err.msg, path);
    CHECK_CONTAINS(err.msg, "file is not a database");
    CHECK(!err.retryable);

    /* A directory where the file should be. */
    const char *dpath = db_in(dir, "adir.db");
    REQUIRE(mkdir(dpath, 0700) == 0);
    CHECK(wh_open(&w, dpath, &err) != SP_OK);
    CHECK_CONTAINS(err.msg, dpath);
    /* A parent that is a file. */
    CHECK(wh_open(&w, db_in(dir, "notes.db/inner.db"), &err) != SP_OK);
    CHECK_CONTAINS(err.msg, "notes.db");
}

TEST(test_wh_check)
{
    const char *dir = test_tmpdir();
    const char *path = db_in(dir, "wh.db");
    wh *w = open_db(path);
    REQUIRE(w);
    sp_error err;
    CHECK_INT(wh_check(w, &err), SP_OK);
    CHECK_INT(wh_create_schema(w, &err), SP_OK);
    CHECK_INT(wh_check(w, &err), SP_OK);
    wh_close(w);
    /* The probe left nothing behind. */
    check_text(query(path, "SELECT count(*) FROM sqlite_master WHERE name LIKE '%probe%'"), "0\n",
               __LINE__);
}

TEST(test_wh_check_read_only)
{
    if (geteuid() == 0)
        SKIP("running as root: file permissions do not make a database read-only for root");
    const char *dir = test_tmpdir();
    const char *path = db_in(dir, "ro.db");
    wh *w = open_db(path);
    REQUIRE(w);
    sp_error err;
    CHECK_INT(std_load(w, &err), SP_OK);
    wh_close(w);
    REQUIRE(chmod(path, 0444) == 0);
    REQUIRE(chmod(dir, 0555) == 0);
    int rc = wh_open(&w, path, &err);
    if (rc == SP_OK) {
        rc = wh_check(w, &err);
        CHECK_INT(rc, SP_ERR_IO);
        CHECK_CONTAINS(err.msg, path);
        CHECK_CONTAINS(err.msg, "read");
        CHECK_INT(wh_load_begin(w, &err), SP_ERR_IO);
        CHECK_CONTAINS(err.msg, path);
        wh_close(w);
    } else {
        CHECK_CONTAINS(err.msg, path);
    }
    chmod(dir, 0700);
    chmod(path, 0644);
    check_text(dump_facts(path), STD_FACTS, __LINE__);
}

/* ---- etl_load and quality checks (SPEC §8) ------------------------------- */

TEST(test_wh_etl_load_record_and_checks)
{
    const char *dir = test_tmpdir();
    const char *path = db_in(dir, "wh.db");
    sp_error err;
    /* Reading a warehouse that is not there creates nothing. */
    wh *w = (wh *)1;
    CHECK_INT(wh_open_existing(&w, path, NULL, &err), SP_OK);
    CHECK(w == NULL);
    CHECK(access(path, F_OK) != 0);

    w = open_db(path);
    REQUIRE(w);
    wh_load_info last;
    CHECK_INT(wh_last_load(w, &last, &err), SP_OK); /* no etl_load yet */
    CHECK(!last.found);
    CHECK_INT(std_load(w, &err), SP_OK); /* not recorded: no wh_load_record */
    CHECK_INT(wh_last_load(w, &last, &err), SP_OK);
    CHECK(!last.found);

    dims d;
    facts a, b;
    std_dims(&d);
    std_facts(&a, &b);
    /* A load recorded and checked: rows of a check are reported, not an error. */
    CHECK_INT(wh_load_begin(w, &err), SP_OK);
    CHECK_INT(wh_load_batch(w, WH_DIM_DATE, &d.db, &err), SP_OK);
    CHECK_INT(wh_load_batch(w, WH_DIM_PRODUCT, &d.pb, &err), SP_OK);
    CHECK_INT(wh_load_batch(w, WH_FACT_SALES, facts_batch(&a, NULL), &err), SP_OK);
    CHECK_INT(wh_load_batch(w, WH_FACT_SALES, facts_batch(&b, NULL), &err), SP_OK);
    CHECK_INT(wh_load_record(w, "run-1", "2024-03-01", 6, &err), SP_OK);
    row_text s = {0};
    int64_t n = -1;
    CHECK_INT(wh_load_query(w, "SELECT sale_id, quantity FROM fact_sales WHERE quantity > 4 "
                               "ORDER BY sale_id -- trailing comment\n",
                            1, row_text_add, &s, &n, &err), SP_OK);
    CHECK_INT(n, 3); /* quantities 7, 5 and 1000 */
    CHECK_INT(s.n, 1);
    CHECK_STR(s.text, "sale_id=4,quantity=7;");
    CHECK_INT(wh_load_query(w, "SELECT NULL AS x FROM fact_sales WHERE 0", 5, row_text_add, &s, &n,
                            &err), SP_OK);
    CHECK_INT(n, 0);
    CHECK_INT(wh_load_commit(w, &err), SP_OK);
    CHECK_INT(wh_last_load(w, &last, &err), SP_OK);
    CHECK(last.found);
    CHECK_STR(last.run_id, "run-1");
    CHECK_STR(last.ds, "2024-03-01");
    CHECK_INT(last.rows_kept, 6);
    CHECK(strlen(last.loaded_at) == 20 && last.loaded_at[19] == 'Z');

    /* A check that fails, or is not a query, rolls the load back. */
    CHECK_INT(wh_load_begin(w, &err), SP_OK);
    CHECK_INT(wh_load_record(w, "run-2", "2024-03-02", 0, &err), SP_OK);
    CHECK(wh_load_query(w, "SELECT nope FROM fact_sales", 5, row_text_add, &s, &n, &err) != SP_OK);
    CHECK_CONTAINS(err.msg, "nope");
    CHECK_CONTAINS(err.msg, path);
    CHECK_INT(wh_load_commit(w, &err), SP_ERR_INTERNAL); /* rolled back already */
    CHECK_INT(wh_load_begin(w, &err), SP_OK);
    CHECK_INT(wh_load_query(w, "DELETE FROM fact_sales", 5, row_text_add, &s, &n, &err), SP_ERR_USAGE);
    CHECK_CONTAINS(err.msg, "one query");
    CHECK_INT(wh_load_begin(w, &err), SP_OK);
    CHECK_INT(wh_load_query(w, "SELECT 1; DELETE FROM fact_sales", 5, row_text_add, &s, &n, &err),
              SP_ERR_USAGE);
    CHECK_INT(wh_load_record(w, "x", "2024-03-03", 1, &err), SP_ERR_INTERNAL); /* not open */
    wh_close(w);
    check_text(query(path, "SELECT run_id, ds, rows_kept FROM etl_load"), "run-1|2024-03-01|6\n",
               __LINE__);
    check_text(query(path, "SELECT count(*) FROM fact_sales"), "6\n", __LINE__);

    /* The handle found by wh_open_existing reads the same record. */
    CHECK_INT(wh_open_existing(&w, path, NULL, &err), SP_OK);
    REQUIRE(w);
    CHECK_INT(wh_last_load(w, &last, &err), SP_OK);
    CHECK_STR(last.run_id, "run-1");
    wh_close(w);
}
