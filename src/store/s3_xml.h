/* s3_xml.h — the XML the S3 backend reads (ListObjectsV2 pages, <Error>
 * bodies, multipart upload ids), parsed with expat (Debian's libexpat, the
 * same reader as STS's answers in aws_http.c): entities and character
 * references decoded by it, DTDs refused, values copied into the caller's
 * bounded buffers. Hostile bodies (not well-formed, unknown entities,
 * oversized values) give S3_XML_BAD, never a read past the end. */
#ifndef S3_XML_H
#define S3_XML_H

#include <stddef.h>

enum { S3_XML_BAD = -1, S3_XML_NOT_LIST = -2 };

/* The root element's name into out (e.g. "Error", "ListBucketResult").
 * 0, or S3_XML_BAD when the body is not well-formed XML or the name does
 * not fit. */
int s3_xml_root(const char *doc, size_t len, char *out, size_t outsz);

/* The decoded text of the first element named tag (any depth) into out,
 * "" when absent. 1 found, 0 absent, S3_XML_BAD when the body is not
 * well-formed XML or the value does not fit. */
int s3_xml_find(const char *doc, size_t len, const char *tag, char *out, size_t outsz);

/* One <Contents> entry of a ListObjectsV2 page: its Key (decoded) and the
 * text of its Size ("" when absent). A non-zero return stops the walk. */
typedef int (*s3_xml_entry_fn)(void *ctx, const char *key, const char *size);

/* Walk a ListObjectsV2 page: fn for each <Contents> child of the root, in
 * document order, with key (keysz bytes, for the longest key accepted) as
 * its buffer; IsTruncated and NextContinuationToken (children of the root)
 * into truncated and token ("" when absent). Returns 0, fn's non-zero
 * return, S3_XML_NOT_LIST when the body does not start as a
 * <ListBucketResult> document (not XML, another root), or S3_XML_BAD (not
 * well-formed further on, a value too long, an entry without <Key>). */
int s3_xml_list(const char *doc, size_t len, s3_xml_entry_fn fn, void *ctx, char *key,
                size_t keysz, char *truncated, size_t truncsz, char *token, size_t toksz);

/* One <Upload> of a ListMultipartUploads page: its Key, UploadId and
 * Initiated ("" when absent). A non-zero return stops the walk. */
typedef int (*s3_xml_upload_fn)(void *ctx, const char *key, const char *upload_id,
                                const char *initiated);

/* Walk a ListMultipartUploads page: fn for each <Upload> child of the root
 * (key: keysz bytes); IsTruncated, NextKeyMarker and NextUploadIdMarker
 * (children of the root) into more[0..2], each of moresz bytes ("" when
 * absent). Returns as s3_xml_list, S3_XML_NOT_LIST meaning another root
 * than <ListMultipartUploadsResult>. */
int s3_xml_uploads(const char *doc, size_t len, s3_xml_upload_fn fn, void *ctx, char *key,
                   size_t keysz, char more[3][1024]);

#endif
