/* sha256.c — SHA-256 through libcrypto's EVP interface (see sha256.h). */
#include "sha256.h"

#include "cancel.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sp_sha256_init(sp_sha256 *h, sp_error *err)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(c);
        h->ctx = NULL;
        return sp_fail(err, SP_ERR_NOMEM, "cannot start a SHA-256 digest");
    }
    h->ctx = c;
    return SP_OK;
}

void sp_sha256_update(sp_sha256 *h, const void *p, size_t n)
{
    if (h->ctx && n > 0)
        EVP_DigestUpdate(h->ctx, p, n);
}

void sp_sha256_final(sp_sha256 *h, char hex[65])
{
    unsigned char md[32];
    unsigned int len = 0;
    memset(md, 0, sizeof md);
    if (h->ctx)
        EVP_DigestFinal_ex(h->ctx, md, &len);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    hex[64] = '\0';
    sp_sha256_free(h);
}

void sp_sha256_free(sp_sha256 *h)
{
    EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
}

int sp_sha256_file(const char *path, char hex[65], int64_t *size, sp_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sp_fail(err, SP_ERR_IO, "%s: %s", path, strerror(errno));
    sp_sha256 h;
    if (sp_sha256_init(&h, err) != SP_OK) {
        close(fd);
        return err->code;
    }
    enum { CHUNK = 1 << 18 };
    unsigned char *buf = malloc(CHUNK);
    if (!buf) {
        sp_sha256_free(&h);
        close(fd);
        return sp_fail(err, SP_ERR_NOMEM, "%s: out of memory", path);
    }
    int64_t total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || sp_cancelled()) {
            int e = errno;
            free(buf);
            sp_sha256_free(&h);
            close(fd);
            if (sp_cancel_check(err, NULL) != SP_OK) /* a large file: stop within the 2 s */
                return sp_error_prefix(err, "%s: checksum", path);
            return sp_fail(err, SP_ERR_IO, "%s: %s", path, strerror(e));
        }
        if (n == 0)
            break;
        sp_sha256_update(&h, buf, (size_t)n);
        total += n;
    }
    free(buf);
    close(fd);
    sp_sha256_final(&h, hex);
    if (size)
        *size = total;
    return SP_OK;
}
