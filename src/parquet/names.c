/* names.c — printable names of Parquet enums (declared in parquet.h).
 * Used by the reader's error messages and by tools that print metadata.
 * Unknown numbers get a stable placeholder; these functions never fail. */
#include "parquet.h"

const char *pq_physical_name(pq_physical t)
{
    switch (t) {
    case PQ_BOOLEAN: return "BOOLEAN";
    case PQ_INT32: return "INT32";
    case PQ_INT64: return "INT64";
    case PQ_INT96: return "INT96";
    case PQ_FLOAT: return "FLOAT";
    case PQ_DOUBLE: return "DOUBLE";
    case PQ_BYTE_ARRAY: return "BYTE_ARRAY";
    case PQ_FIXED_LEN_BYTE_ARRAY: return "FIXED_LEN_BYTE_ARRAY";
    }
    return "UNKNOWN_TYPE";
}

const char *pq_codec_name(pq_codec c)
{
    /* Numbers from parquet.thrift CompressionCodec, including the codecs
     * salespipe cannot read, so errors can name them. */
    switch ((int)c) {
    case 0: return "UNCOMPRESSED";
    case 1: return "SNAPPY";
    case 2: return "GZIP";
    case 3: return "LZO";
    case 4: return "BROTLI";
    case 5: return "LZ4";
    case 6: return "ZSTD";
    case 7: return "LZ4_RAW";
    }
    return "UNKNOWN_CODEC";
}

const char *pq_encoding_name(int enc)
{
    switch (enc) {
    case PQ_ENC_PLAIN: return "PLAIN";
    case 1: return "GROUP_VAR_INT";
    case PQ_ENC_PLAIN_DICTIONARY: return "PLAIN_DICTIONARY";
    case PQ_ENC_RLE: return "RLE";
    case PQ_ENC_BIT_PACKED: return "BIT_PACKED";
    case PQ_ENC_DELTA_BINARY_PACKED: return "DELTA_BINARY_PACKED";
    case PQ_ENC_DELTA_LENGTH_BYTE_ARRAY: return "DELTA_LENGTH_BYTE_ARRAY";
    case PQ_ENC_DELTA_BYTE_ARRAY: return "DELTA_BYTE_ARRAY";
    case PQ_ENC_RLE_DICTIONARY: return "RLE_DICTIONARY";
    case PQ_ENC_BYTE_STREAM_SPLIT: return "BYTE_STREAM_SPLIT";
    }
    return "UNKNOWN_ENCODING";
}
