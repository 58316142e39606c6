/* test_lineage.c — fact_sales' lineage columns (SPEC §5): region from the
 * Region column or the file name, order_id NULL without an Order ID column,
 * source_file, source_line at the record's first line (quoted newlines),
 * run_id equal to the manifest's. The expected rows are written here by hand
 * from the input files below; the Parquet is read back with our reader. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/parquet/parquet.h"
#include "../../src/pipeline/pipeline.h"
#include "../../src/pipeline/tables.h"
#include "../../src/util/buf.h"
#include "../../src/util/fsutil.h"
#include "../../src/util/log.h"
#include "../test.h"
#include "pipeline_fixture.h"

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[1024];
    sp_error err;
    snprintf(path, sizeof path, "%s/data/raw", dir);
    if (sp_mkdirs(path, strlen(path), &err) != SP_OK)
        test_fail_at(__FILE__, __LINE__, "%s", err.msg);
    snprintf(path, sizeof path, "%s/data/raw/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        test_fail_at(__FILE__, __LINE__, "cannot write %s", path);
        return;
    }
    fputs(text, f);
    fclose(f);
}

/* The named columns of every row, "a|b|…\n" per row, NULL as "NULL". */
static void dump_columns(const char *path, const char *const *names, size_t nnames, sp_buf *out)
{
    pq_reader *r;
    sp_error err;
    if (pq_reader_open(&r, path, &err) != SP_OK) {
        test_fail_at(__FILE__, __LINE__, "%s", err.msg);
        return;
    }
    size_t ncols = pq_reader_num_columns(r), at[16];
    for (size_t k = 0; k < nnames && k < 16; k++) {
        at[k] = ncols;
        for (size_t i = 0; i < ncols; i++)
            if (strcmp(pq_reader_column(r, i)->name, names[k]) == 0)
                at[k] = i;
        if (at[k] == ncols)
            test_fail_at(__FILE__, __LINE__, "%s: no column %s", path, names[k]);
    }
    for (size_t g = 0; g < pq_reader_num_row_groups(r); g++) {
        pq_values v[PL_MAX_COLS];
        if (ncols > PL_MAX_COLS || pq_reader_read_row_group(r, g, v, &err) != SP_OK) {
            test_fail_at(__FILE__, __LINE__, "%s: cannot read row group %zu", path, g);
            break;
        }
        for (size_t row = 0; row < v[0].n; row++)
            for (size_t k = 0; k < nnames && at[k] < ncols; k++) {
                if (!pq_value_text(pq_reader_column(r, at[k]), &v[at[k]], row, out))
                    sp_buf_puts(out, "NULL");
                sp_buf_putc(out, k + 1 < nnames ? '|' : '\n');
            }
    }
    sp_buf_putc(out, '\0');
    pq_reader_close(r);
}

/* Stage and transform DIR's inputs (RAW_PATTERN `pattern` unless NULL) as
 * run `run_id` of `ds`. Returns the configuration and fills *ctx, both for
 * the caller to free, or NULL after recording a failure. */
static sp_config *transform_in(const char *dir, const char *pattern, const char *ds,
                               const char *run_id, pl_ctx *ctx)
{
    sp_error err;
    sp_config *cfg = pipeline_config(dir);
    if (!cfg)
        return NULL;
    if ((pattern && sp_config_set_flag(cfg, "RAW_PATTERN", pattern, &err) != SP_OK) ||
        pl_ctx_init(ctx, cfg, ds, run_id, &err) != SP_OK) {
        test_fail_at(__FILE__, __LINE__, "%s", err.msg);
        sp_config_free(cfg);
        return NULL;
    }
    if (pl_stage(ctx, &err) != SP_OK || pl_transform(ctx, &err) != SP_OK)
        test_fail_at(__FILE__, __LINE__, "stage/transform: %s", err.msg);
    return cfg;
}

TEST(test_lineage_columns_of_fact_sales)
{
    const char *dir = test_tmpdir();
    char path[1024];
    sp_error err;
    /* Region and Order ID spelled otherwise (header matching), in another
     * order; an empty Region falls back to the file's; an empty Order ID is
     * NULL; record 2 spans lines 3-4 (a quoted newline), then a blank line. */
    write_text(dir, "West_orders.csv",
               "ORDER-ID,Order Date,Ship Date,Product ID,Category,Sales,Quantity,Profit,region\n"
               "A-1,1/2/2020,1/3/2020,P1,Cat,10.5,2,1.0,North\n"
               ",1/2/2020,1/3/2020,P2,\"Cat\nwith a newline\",10.5,2,1.0,\n"
               "\n"
               "A-3,1/2/2020,1/3/2020,P1,Cat,10.5,2,1.0, Nord \n"
               "A-4,1/2/2020,1/3/2020,,Cat,10.5,2,1.0,South\n"
               "A-5,1/2/2020,1/3/2020,P3,Cat,10.5,2,1.0,South\n");
    /* No Region, no Order ID: the name before "_orders", NULL. */
    write_text(dir, "Far_East_orders.csv",
               "Order Date,Ship Date,Product ID,Category,Sales,Quantity,Profit\n"
               "1/2/2020,1/3/2020,P1,Cat,10.5,2,1.0\n");
    sp_log_setup(false, -1); /* the tasks' info lines would drown the test output */
    pl_ctx ctx;
    sp_config *cfg = transform_in(dir, NULL, "2024-05-02", "lineage-run-1", &ctx);
    REQUIRE(cfg != NULL);

    snprintf(path, sizeof path, "%s/lake/processed/runs/2024-05-02/fact_sales.parquet", dir);
    static const char *const cols[] = {"product_id", "region", "order_id", "source_file",
                                       "source_line", "run_id"};
    sp_buf got;
    sp_buf_init(&got, 0);
    dump_columns(path, cols, 6, &got);
    CHECK_STR((const char *)got.data,
              "P1|Far_East|NULL|Far_East_orders.csv|2|lineage-run-1\n"
              "P1|North|A-1|West_orders.csv|2|lineage-run-1\n"
              "P2|West|NULL|West_orders.csv|3|lineage-run-1\n"
              "P1|Nord|A-3|West_orders.csv|6|lineage-run-1\n"
              "P3|South|A-5|West_orders.csv|8|lineage-run-1\n");
    sp_buf_free(&got);

    /* run_id is the manifest's */
    size_t len;
    snprintf(path, sizeof path, "%s/lake/processed/runs/2024-05-02/_manifest.json", dir);
    char *m = test_read_file(path, &len);
    REQUIRE(m != NULL);
    CHECK_CONTAINS(m, "\"run_id\": \"lineage-run-1\"");
    free(m);

    /* The contract columns come first, in SPEC §5's order, then lineage. */
    const pl_table *ft = &PL_TABLES[PL_TABLE_FACT_SALES];
    static const char *const order[] = {
        "order_date", "product_id", "quantity", "total_sales", "profit", "unit_price",
        "profit_margin", "region", "order_id", "source_file", "source_line", "run_id",
        "ship_date"};
    CHECK_INT(ft->ncols, sizeof order / sizeof order[0]);
    for (size_t i = 0; i < ft->ncols && i < sizeof order / sizeof order[0]; i++)
        CHECK_STR(ft->cols[i].name, order[i]);
    /* the writer's no-dictionary hint names order_id and nothing else */
    for (size_t i = 0; i < ft->ncols; i++)
        CHECK_INT((ft->no_dictionary >> i) & 1, strcmp(ft->cols[i].name, "order_id") == 0);

    /* load takes the new file (the warehouse keeps the columns it knows) */
    CHECK(pl_create_tables(&ctx, &err) == SP_OK);
    int rc = pl_load(&ctx, &err);
    if (rc != SP_OK)
        test_fail_at(__FILE__, __LINE__, "load: %s", err.msg);
    CHECK_INT(ctx.table_rows[2], 5);
    pl_ctx_free(&ctx);
    sp_config_free(cfg);
    sp_log_setup(false, 0);
}

/* Another RAW_PATTERN: a name without "_orders" gives its stem. */
TEST(test_lineage_region_without_orders_in_the_name)
{
    const char *dir = test_tmpdir();
    char path[1024];
    write_text(dir, "pacific.csv",
               "Order Date,Ship Date,Product ID,Category,Sales,Quantity,Profit,Order ID\n"
               "1/2/2020,1/3/2020,P1,Cat,10.5,2,1.0,Z-9\n");
    write_text(dir, "Mid_ORDERS.csv",
               "Order Date,Ship Date,Product ID,Category,Sales,Quantity,Profit\n"
               "1/2/2020,1/3/2020,P1,Cat,10.5,2,1.0\n");
    sp_log_setup(false, -1);
    pl_ctx ctx;
    sp_config *cfg = transform_in(dir, "*.csv", "2024-05-03", "lineage-run-2", &ctx);
    REQUIRE(cfg != NULL);
    snprintf(path, sizeof path, "%s/lake/processed/runs/2024-05-03/fact_sales.parquet", dir);
    static const char *const cols[] = {"region", "order_id", "source_file"};
    sp_buf got;
    sp_buf_init(&got, 0);
    dump_columns(path, cols, 3, &got);
    CHECK_STR((const char *)got.data, "Mid|NULL|Mid_ORDERS.csv\n"
                                      "pacific|Z-9|pacific.csv\n");
    sp_buf_free(&got);
    pl_ctx_free(&ctx);
    sp_config_free(cfg);
    sp_log_setup(false, 0);
}
