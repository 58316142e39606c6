/* batch.h — a column batch: n rows of a few typed columns, the plain data
 * type that moves rows between modules (Parquet reader → warehouse) without
 * either knowing the other. Layout matches pq_values, so a batch read from
 * Parquet is passed on with pointer copies only.
 * Ownership: a batch only points at memory owned by its producer, valid until
 * the producer's next call; consumers copy what they keep. */
#ifndef SP_BATCH_H
#define SP_BATCH_H

#include <stddef.h>
#include <stdint.h>

typedef enum sp_coltype {
    SP_COL_INT32,   /* values: int32_t[n] */
    SP_COL_INT64,   /* values: int64_t[n] */
    SP_COL_DATE,    /* values: int32_t[n], days since 1970-01-01 */
    SP_COL_DECIMAL, /* values: int64_t[n], unscaled; value = v / 10^scale */
    SP_COL_TEXT,    /* offsets[n+1] into bytes, UTF-8 */
} sp_coltype;

typedef struct sp_column {
    const char *name;        /* warehouse column name */
    sp_coltype type;
    int scale;               /* SP_COL_DECIMAL only */
    const uint8_t *valid;    /* NULL: no NULLs; else n bytes, 0 = NULL */
    const void *values;      /* fixed-width types */
    const uint32_t *offsets; /* SP_COL_TEXT */
    const uint8_t *bytes;    /* SP_COL_TEXT */
} sp_column;

typedef struct sp_batch {
    size_t nrows;
    size_t ncols;
    const sp_column *cols;
} sp_batch;

#endif
