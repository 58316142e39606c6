/* fuzz_dims.c — libFuzzer target for a mapped transform's dimensions part
 * (star_dims_decode in src/star/star.c), which `transform --merge` reads
 * from a store anyone with write access could have touched. Any bytes must
 * decode or fail with SP_ERR_CORRUPT / SP_ERR_LIMIT, never crash or read
 * past the buffer; what decodes must encode back to the same bytes (the
 * products keep their first-seen order, dates may come back reordered, so
 * the re-encoding is decoded again and compared by counts), and merging it
 * into an empty set gives the same counts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/star/star.h"

#define ASSERT(c)                                                                          \
    do {                                                                                   \
        if (!(c))                                                                          \
            abort();                                                                       \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1); /* exact size: ASan sees any over-read */
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    star_dims *d, *again, *merged;
    sp_error err;
    ASSERT(star_dims_new(&d, &err) == SP_OK && star_dims_new(&again, &err) == SP_OK &&
           star_dims_new(&merged, &err) == SP_OK);
    int rc = star_dims_decode(d, copy, size, "fuzz", &err);
    if (rc == SP_OK) {
        sp_buf b;
        sp_buf_init(&b, 0);
        ASSERT(star_dims_encode(d, &b, &err) == SP_OK);
        ASSERT(b.len == size);
        ASSERT(star_dims_decode(again, b.data, b.len, "again", &err) == SP_OK);
        ASSERT(star_dims_ndates(again) == star_dims_ndates(d));
        ASSERT(star_dims_nproducts(again) == star_dims_nproducts(d));
        ASSERT(star_dims_conflicts(again) == star_dims_conflicts(d));
        ASSERT(star_dims_merge(merged, d, &err) == SP_OK);
        ASSERT(star_dims_nproducts(merged) == star_dims_nproducts(d));
        ASSERT(star_dims_conflicts(merged) == star_dims_conflicts(d));
        sp_buf_free(&b);
    } else {
        ASSERT(rc == SP_ERR_CORRUPT || rc == SP_ERR_LIMIT || rc == SP_ERR_NOMEM);
        ASSERT(strncmp(err.msg, "fuzz", 4) == 0 || rc != SP_ERR_CORRUPT);
    }
    star_dims_free(d);
    star_dims_free(again);
    star_dims_free(merged);
    free(copy);
    return 0;
}
