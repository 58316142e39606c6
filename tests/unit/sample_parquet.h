/* sample_parquet.h — a small sales-shaped Parquet file for tests that break
 * things (fault and allocation-failure tests): a DATE, an OPTIONAL string
 * with NULLs, a DECIMAL(18,4), written in two batches. */
#ifndef SP_TEST_SAMPLE_PARQUET_H
#define SP_TEST_SAMPLE_PARQUET_H

#include <stddef.h>

#include "../../src/parquet/parquet.h"

#define SAMPLE_ROWS 400

/* Write SAMPLE_ROWS rows to path with the given codec, row group and page
 * size (0: the writer's default). Returns the first failing status. */
int sample_parquet_write(const char *path, pq_codec codec, size_t rg_rows, size_t page_bytes,
                         sp_error *err);

/* Open path and decode every row group, rendering every value as text (so
 * ASan sees any bad view); *checksum mixes the text. Returns the status. */
int sample_parquet_read(const char *path, uint64_t *checksum, sp_error *err);

/* Entries of dir other than `keep` (NULL keeps nothing); -1 if unreadable. */
int sample_count_files(const char *dir, const char *keep);

#endif
