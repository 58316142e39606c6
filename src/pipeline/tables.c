/* tables.c — the column lists of the three Parquet tables (see tables.h). */
#include "tables.h"

#define REQ(name, phys, logical) {name, phys, logical, 0, 0, 0, false}
#define OPT(name, phys, logical) {name, phys, logical, 0, 0, 0, true}
#define DEC(name, scale) {name, PQ_INT64, PQ_LOGICAL_DECIMAL, 18, scale, 0, false}

static const pq_column_spec DIM_DATE[] = {
    REQ("order_date", PQ_INT32, PQ_LOGICAL_DATE), REQ("day", PQ_INT32, PQ_LOGICAL_NONE),
    REQ("month", PQ_INT32, PQ_LOGICAL_NONE),      REQ("quarter", PQ_INT32, PQ_LOGICAL_NONE),
    REQ("year", PQ_INT32, PQ_LOGICAL_NONE),
};

static const pq_column_spec DIM_PRODUCT[] = {
    REQ("product_id", PQ_BYTE_ARRAY, PQ_LOGICAL_STRING),
    REQ("category", PQ_BYTE_ARRAY, PQ_LOGICAL_STRING),
};

/* The contract columns first (SPEC §5), then the lineage and analysis
 * columns in SPEC §5's order, then ship_date (an extra column of the first
 * version, kept for the readers that use it). docs/data-contract.md lists
 * them; transform's fact batch fills them in this order. */
static const pq_column_spec FACT_SALES[] = {
    REQ("order_date", PQ_INT32, PQ_LOGICAL_DATE),
    REQ("product_id", PQ_BYTE_ARRAY, PQ_LOGICAL_STRING),
    REQ("quantity", PQ_INT32, PQ_LOGICAL_NONE),
    DEC("total_sales", 4),
    DEC("profit", 4),
    DEC("unit_price", 2),
    DEC("profit_margin", 2),
    REQ("region", PQ_BYTE_ARRAY, PQ_LOGICAL_STRING),
    OPT("order_id", PQ_BYTE_ARRAY, PQ_LOGICAL_STRING),
    REQ("source_file", PQ_BYTE_ARRAY, PQ_LOGICAL_STRING),
    REQ("source_line", PQ_INT64, PQ_LOGICAL_NONE),
    REQ("run_id", PQ_BYTE_ARRAY, PQ_LOGICAL_STRING),
    REQ("ship_date", PQ_INT32, PQ_LOGICAL_DATE),
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

_Static_assert(N(FACT_SALES) == PL_FACT_NCOLS, "tables.h: PL_FACT_NCOLS");
_Static_assert(N(FACT_SALES) <= PL_MAX_COLS, "tables.h: PL_MAX_COLS");

const pl_table PL_TABLES[PL_NTABLES] = {
    {"dim_date", "dim_date.parquet", DIM_DATE, N(DIM_DATE), 0},
    {"dim_product", "dim_product.parquet", DIM_PRODUCT, N(DIM_PRODUCT), 0},
    /* order_id (column 8): about two rows per order, so a dictionary fills
     * up and falls back in every row group */
    {"fact_sales", "fact_sales.parquet", FACT_SALES, N(FACT_SALES), 1u << 8},
};

sp_coltype pl_coltype(const pq_column_spec *c)
{
    if (c->logical == PQ_LOGICAL_DATE)
        return SP_COL_DATE;
    if (c->logical == PQ_LOGICAL_DECIMAL)
        return SP_COL_DECIMAL;
    if (c->physical == PQ_BYTE_ARRAY)
        return SP_COL_TEXT;
    return c->physical == PQ_INT64 ? SP_COL_INT64 : SP_COL_INT32;
}
