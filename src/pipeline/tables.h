/* tables.h — the Parquet shape of the star schema (SPEC §5–§6): one column
 * list per table, shared by transform (writer) and load (reader check). */
#ifndef SP_PL_TABLES_H
#define SP_PL_TABLES_H

#include <stddef.h>

#include "../parquet/parquet.h"
#include "../util/batch.h"

enum { PL_TABLE_DIM_DATE = 0, PL_TABLE_DIM_PRODUCT, PL_TABLE_FACT_SALES, PL_NTABLES };

typedef struct pl_table {
    const char *name;          /* "fact_sales" */
    const char *file;          /* "fact_sales.parquet" */
    const pq_column_spec *cols;
    size_t ncols;
} pl_table;

extern const pl_table PL_TABLES[PL_NTABLES];

/* The warehouse type of a Parquet column of ours. */
sp_coltype pl_coltype(const pq_column_spec *c);

#endif
