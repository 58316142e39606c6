/* sha256.h — streaming SHA-256 for input checksums (manifest, stage's
 * "identical file" test), on OpenSSL's libcrypto, which uses the CPU's SHA
 * instructions where present. Hex digests are 64 lowercase characters. */
#ifndef SP_SHA256_H
#define SP_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct sp_sha256 {
    void *ctx; /* EVP_MD_CTX, owned */
} sp_sha256;

/* Start a digest. Returns SP_OK or SP_ERR_NOMEM. */
int sp_sha256_init(sp_sha256 *h, sp_error *err);
void sp_sha256_update(sp_sha256 *h, const void *p, size_t n);
/* Finish: write 64 hex characters and a NUL into hex[65]; frees h's state. */
void sp_sha256_final(sp_sha256 *h, char hex[65]);
/* Release without finishing (NULL state is allowed). */
void sp_sha256_free(sp_sha256 *h);
/* Digest of a whole local file; errors name the path. */
int sp_sha256_file(const char *path, char hex[65], int64_t *size, sp_error *err);

#endif
