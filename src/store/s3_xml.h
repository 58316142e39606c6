/* s3_xml.h — the little XML the S3 backend reads: ListObjectsV2 pages,
 * <Error> bodies, multipart upload ids. Not a general parser: it finds
 * flat elements by name inside a bounded buffer and decodes the five named
 * entities and numeric references. Hostile bodies (unclosed tags, bad
 * entities, oversized values) give -1, never a read past the end. */
#ifndef SP_S3_XML_H
#define SP_S3_XML_H

#include <stddef.h>

/* Find the next <tag>…</tag> (or <tag/>) in [*pos, end). On 1 (found),
 * *val and *vlen give the raw content (a view into the buffer; entities not yet
 * decoded) and *pos moves past the closing tag. 0: none left. -1: an
 * opening tag without its closing tag. */
int s3_xml_next(const char **pos, const char *end, const char *tag, const char **val,
                size_t *vlen);

/* Decode raw[0..n) (entities, numeric references as UTF-8) into out, NUL-
 * terminated. Returns the decoded length, or -1 when an entity is
 * malformed, a NUL or markup ('<') appears, or it does not fit outsz. */
long s3_xml_text(const char *raw, size_t n, char *out, size_t outsz);

/* The decoded text of the first <tag> in [p, end) into out; "" when absent
 * or malformed. Returns 1 when found and decoded, else 0. */
int s3_xml_find(const char *p, const char *end, const char *tag, char *out, size_t outsz);

#endif
