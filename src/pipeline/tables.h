/* tables.h — the Parquet shape of the star schema (SPEC §5–§6): one column
 * list per table, shared by transform (writer) and load (reader check). */
#ifndef SP_PL_TABLES_H
#define SP_PL_TABLES_H

#include <stddef.h>
#include <stdint.h>

#include "../parquet/parquet.h"
#include "../util/batch.h"

enum { PL_TABLE_DIM_DATE = 0, PL_TABLE_DIM_PRODUCT, PL_TABLE_FACT_SALES, PL_NTABLES };

/* Columns of fact_sales.parquet (the widest table); no table has more than
 * PL_MAX_COLS, so readers may size their arrays with it. */
enum { PL_FACT_NCOLS = 13, PL_MAX_COLS = 16 };

typedef struct pl_table {
    const char *name;          /* "fact_sales" */
    const char *file;          /* "fact_sales.parquet" */
    const pq_column_spec *cols;
    size_t ncols;
    uint64_t no_dictionary;    /* pq_writer_options.no_dictionary: mostly distinct columns */
} pl_table;

extern const pl_table PL_TABLES[PL_NTABLES];

/* The warehouse type of a Parquet column of ours. */
sp_coltype pl_coltype(const pq_column_spec *c);

#endif
