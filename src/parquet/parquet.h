/* parquet.h — salespipe's own Parquet writer and reader (flat schemas).
 * Sits between the star builder (column batches in) and the stores/warehouse
 * (files out, column batches back). Knows nothing of sales, stores or SQL.
 * It must never trust a file: every size and count read from disk is checked
 * against the file size and a cap before anything is allocated.
 *
 * Ownership, once for the whole API: a pq_writer / pq_reader is created by its
 * open function and released by close/abort/pq_reader_close; the caller owns
 * the pq_values it passes in; pq_values returned by the reader are owned by the
 * reader and stay valid until the next read call or pq_reader_close. */
#ifndef SP_PARQUET_H
#define SP_PARQUET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/error.h"

/* Physical types, numbered as in parquet.thrift `Type`. */
typedef enum pq_physical {
    PQ_BOOLEAN = 0,
    PQ_INT32 = 1,
    PQ_INT64 = 2,
    PQ_INT96 = 3,
    PQ_FLOAT = 4,
    PQ_DOUBLE = 5,
    PQ_BYTE_ARRAY = 6,
    PQ_FIXED_LEN_BYTE_ARRAY = 7,
} pq_physical;

/* The logical types salespipe writes and understands. Others read back as
 * PQ_LOGICAL_OTHER and their physical values are still delivered. */
typedef enum pq_logical {
    PQ_LOGICAL_NONE = 0,
    PQ_LOGICAL_STRING,   /* BYTE_ARRAY, UTF-8 */
    PQ_LOGICAL_DATE,     /* INT32 days since 1970-01-01 */
    PQ_LOGICAL_DECIMAL,  /* INT32 / INT64 / FIXED_LEN_BYTE_ARRAY unscaled */
    PQ_LOGICAL_OTHER,
} pq_logical;

/* Compression codecs, numbered as in parquet.thrift `CompressionCodec`. */
typedef enum pq_codec {
    PQ_UNCOMPRESSED = 0,
    PQ_SNAPPY = 1,
    PQ_GZIP = 2,
    PQ_ZSTD = 6,
} pq_codec;

/* Encodings, numbered as in parquet.thrift `Encoding`. */
enum {
    PQ_ENC_PLAIN = 0,
    PQ_ENC_PLAIN_DICTIONARY = 2,
    PQ_ENC_RLE = 3,
    PQ_ENC_BIT_PACKED = 4,
    PQ_ENC_DELTA_BINARY_PACKED = 5,
    PQ_ENC_DELTA_LENGTH_BYTE_ARRAY = 6,
    PQ_ENC_DELTA_BYTE_ARRAY = 7,
    PQ_ENC_RLE_DICTIONARY = 8,
    PQ_ENC_BYTE_STREAM_SPLIT = 9,
};

typedef struct pq_column_spec {
    const char *name;     /* UTF-8 column name */
    pq_physical physical;
    pq_logical logical;
    int precision, scale; /* DECIMAL only */
    int type_length;      /* FIXED_LEN_BYTE_ARRAY (and INT96, read as 12 bytes) */
    bool optional;        /* false: REQUIRED (no NULLs allowed) */
} pq_column_spec;

/* One column's values for n rows. Fixed-width types use `values` with one
 * slot per row (int32_t, int64_t, float, double; BOOLEAN: uint8_t 0/1);
 * BYTE_ARRAY and FIXED_LEN_BYTE_ARRAY use offsets[n+1] into `bytes`.
 * `valid` is NULL when no row is NULL, else n bytes (1 present, 0 NULL);
 * a NULL row's slot / byte range is ignored (and empty when read). */
typedef struct pq_values {
    size_t n;
    const uint8_t *valid;
    const void *values;
    const uint32_t *offsets;
    const uint8_t *bytes;
} pq_values;

/* ---- writer ---------------------------------------------------------- */

typedef struct pq_writer_options {
    pq_codec codec;          /* default PQ_ZSTD */
    int level;               /* codec level; 0 = the codec's default (zstd 1) */
    size_t row_group_rows;   /* flush a row group after this many rows */
    /* ... or once its encoded size reaches this: the bytes of its pages as
     * encoded, before compression (page headers, dictionary pages, data pages
     * as PLAIN / dictionary indices / DELTA_BINARY_PACKED), with the page not
     * yet finished counted at its PLAIN size (indices at their bit width).
     * Checked every 32768 rows, so a group may overshoot by that much. */
    size_t row_group_bytes;
    size_t page_bytes;       /* target data page size before compression, its values
                              * counted at PLAIN size (dictionary indices at 2 bytes) */
    size_t dict_max_bytes;   /* a dictionary above this falls back (int_fallback) */
    bool dictionary;         /* try RLE_DICTIONARY first (default true) */
    /* Bit i set: column i (< 64) never tries a dictionary, for values known to
     * be mostly distinct (order ids), which would fill it in every row group
     * and fall back, hashing for nothing. Default 0. */
    uint64_t no_dictionary;
    /* Encoding of INT32 / INT64 data pages without a dictionary (dictionary
     * off, given up, or full): PQ_ENC_DELTA_BINARY_PACKED (default) or
     * PQ_ENC_PLAIN. Other columns fall back to PLAIN. */
    int int_fallback;
    const char *created_by;  /* written to FileMetaData.created_by */
    /* A scratch file (a part merged and removed within the same process):
     * close skips the fsync of the file and of its directory, which costs
     * milliseconds per file and buys nothing for a file nobody keeps. */
    bool scratch;
} pq_writer_options;

void pq_writer_options_default(pq_writer_options *opt);

typedef struct pq_writer pq_writer;

/* Create `path` (written as `path.tmp-<pid>` until pq_writer_close publishes
 * it with rename). cols[] is copied. On failure *out is NULL and nothing is
 * left on disk. opt may be NULL for the defaults. */
int pq_writer_open(pq_writer **out, const char *path, const pq_column_spec *cols,
                   size_t ncols, const pq_writer_options *opt, sp_error *err);

/* Append n rows: cols[i] holds column i's values, all with the same n.
 * A NULL in a REQUIRED column is an error. Flushes row groups as they fill. */
int pq_writer_write(pq_writer *w, const pq_values *cols, sp_error *err);

/* Flush, write the footer, fsync, rename to the final name, free w.
 * On failure the temporary file is removed and w is freed all the same. */
int pq_writer_close(pq_writer *w, sp_error *err);

/* Discard: remove the temporary file and free w. NULL is allowed. */
void pq_writer_abort(pq_writer *w);

/* Append every row group of the Parquet file at `path` — written by
 * pq_writer with the same columns — after the rows written so far, copying
 * its column chunks byte for byte (no decoding or re-compression) and
 * carrying their statistics over. This is how transform merges the parts
 * it writes in parallel, one per input file, in input order. The open row
 * group is flushed first. A schema that differs is SP_ERR_USAGE. */
int pq_writer_append_file(pq_writer *w, const char *path, sp_error *err);

/* ---- reader ---------------------------------------------------------- */

typedef struct pq_stats {
    bool has_min_max;
    const uint8_t *min, *max; /* PLAIN-encoded, owned by the reader */
    uint32_t min_len, max_len;
    int64_t null_count;       /* -1 when the file does not say */
} pq_stats;

typedef struct pq_chunk_info {
    pq_codec codec;
    int64_t num_values;
    int64_t compressed_size, uncompressed_size;
    uint32_t encodings;       /* bit (1u << PQ_ENC_x) for each encoding used */
    int64_t data_page_offset;
    int64_t dictionary_page_offset; /* -1 when absent */
    pq_stats stats;
} pq_chunk_info;

typedef struct pq_reader pq_reader;

/* Open and validate the footer. Every later error names `path`. */
int pq_reader_open(pq_reader **out, const char *path, sp_error *err);
void pq_reader_close(pq_reader *r); /* NULL is allowed */

size_t pq_reader_num_columns(const pq_reader *r);
const pq_column_spec *pq_reader_column(const pq_reader *r, size_t i);
int64_t pq_reader_num_rows(const pq_reader *r);
size_t pq_reader_num_row_groups(const pq_reader *r);
int64_t pq_reader_row_group_rows(const pq_reader *r, size_t rg);
int64_t pq_reader_row_group_bytes(const pq_reader *r, size_t rg); /* total_byte_size */
const pq_chunk_info *pq_reader_chunk(const pq_reader *r, size_t rg, size_t col);
const char *pq_reader_created_by(const pq_reader *r); /* "" when absent */

/* Decode row group rg (< num_row_groups, else SP_ERR_USAGE): out[i] receives
 * column i (out has num_columns slots). INT96 values come as 12-byte values
 * through offsets.
 * The values are owned by the reader until the next read or close. Memory is
 * bounded by one row group and capped (SP_ERR_LIMIT beyond the cap). */
int pq_reader_read_row_group(pq_reader *r, size_t rg, pq_values *out, sp_error *err);

/* Cap on the decoded size of one row group (default 1 GiB; 0 restores it). */
void pq_reader_set_memory_limit(pq_reader *r, size_t bytes);

/* Names for printing: "INT32", "ZSTD", "RLE_DICTIONARY", … */
const char *pq_physical_name(pq_physical t);
const char *pq_codec_name(pq_codec c);
const char *pq_encoding_name(int enc);



/* ---- text forms (inspect, CSV export, COPY text) ----------------------- */
#include "../util/buf.h"

/* Append the text of row `row` of v (column col) to b: DATE as YYYY-MM-DD,
 * DECIMAL with exactly `scale` fractional digits, integers plain, BOOLEAN
 * true/false, floating point in the shortest form that reads back exactly,
 * strings as their bytes, other binary as hex. Returns false (and appends
 * nothing) when the value is NULL. */
bool pq_value_text(const pq_column_spec *col, const pq_values *v, size_t row, sp_buf *b);

/* Append the text of one PLAIN-encoded value (a min/max statistic). */
void pq_plain_text(const pq_column_spec *col, const uint8_t *p, uint32_t len, sp_buf *b);
#endif
