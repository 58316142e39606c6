/* fuzz_csv.c — libFuzzer target for the CSV reader (src/csv), built and run
 * by scripts/fuzz.sh (`make fuzz`), seeded from tests/fuzz/seeds-csv/.
 * Each input is a whole file (through a memfd), read under every encoding,
 * with default and tiny caps: every record must keep the contract (lines
 * never go back, trimmed fields, valid UTF-8 out, no NUL, every raw byte to
 * on_bytes once and in order), and the result must not depend on the read
 * size. The reader must never crash, hang or allocate without bound. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../src/csv/csv.h"
#include "../../src/csv/csv_internal.h"
#include "../../src/util/buf.h"

#define ASSERT(c)                    \
    do {                             \
        if (!(c))                    \
            __builtin_trap();        \
    } while (0)

static volatile uint64_t sink; /* keeps the reads of every field byte */

typedef struct seen {
    const uint8_t *data;
    size_t size, off;
} seen;

static void on_bytes(void *ctx, const uint8_t *p, size_t n)
{
    seen *s = ctx;
    ASSERT(n <= s->size - s->off && memcmp(p, s->data + s->off, n) == 0);
    s->off += n;
}

static bool valid_utf8(const char *p, size_t n)
{
    size_t ok, high;
    return csv_utf8_check((const uint8_t *)p, n, &ok, &high) == CSV_UTF8_OK &&
           memchr(p, 0, n) == NULL;
}

/* Read every record through the API and check each against the contract. */
static void walk(const char *path, const uint8_t *data, size_t size, const csv_options *base,
                 size_t read_size)
{
    seen s = {data, size, 0};
    csv_options opt = *base;
    opt.on_bytes = on_bytes;
    opt.on_bytes_ctx = &s;
    size_t cap = opt.max_record_bytes;
    size_t max_fields = opt.max_fields ? opt.max_fields : 4096;
    csv_reader *r;
    sp_error err;
    if (csv_open(&r, path, "fuzz.csv", &opt, &err) != SP_OK)
        return;
    csv_set_read_size(r, read_size);
    uint64_t last_line = 1;
    int restarts = 0;
    size_t nrec = 0; /* the header is capped at max_fields, a later record keeps one more */
    for (;;) {
        csv_record rec;
        int rc = csv_next(r, &rec, &err);
        if (rc == SP_OK) {
            ASSERT(rec.line >= last_line);
            last_line = rec.line;
            ASSERT(rec.text_len <= cap);
            ASSERT(rec.nfields >= 1 && rec.nfields <= max_fields + (nrec++ ? 1 : 0));
            ASSERT(valid_utf8(rec.text, rec.text_len));
            for (size_t i = 0; i < rec.nfields; i++) {
                const csv_field *f = &rec.fields[i];
                ASSERT(valid_utf8(f->ptr, f->len));
                if (f->len) {
                    ASSERT(f->ptr[0] != ' ' && f->ptr[0] != '\t');
                    ASSERT(f->ptr[f->len - 1] != ' ' && f->ptr[f->len - 1] != '\t');
                }
                /* a field is never longer than the record it came from */
                ASSERT(f->len <= rec.text_len);
                for (size_t k = 0; k < f->len; k++)
                    sink += (uint8_t)f->ptr[k];
            }
            if (!rec.unterminated)
                ASSERT(rec.text_len == 0 || rec.text[rec.text_len - 1] != '\n');
            continue;
        }
        if (rc == CSV_RESTART) {
            ASSERT(base->encoding == CSV_ENC_AUTO && restarts++ == 0);
            ASSERT(csv_rewind(r, &err) == SP_OK);
            ASSERT(csv_encoding_used(r) == CSV_ENC_CP1252);
            s.off = 0;
            last_line = 1;
            nrec = 0;
            continue;
        }
        if (rc == CSV_END) {
            ASSERT(s.off == size && csv_bytes_read(r) == size);
            ASSERT(csv_next(r, &rec, &err) == CSV_END);
        } else {
            ASSERT(err.msg[0] != '\0' && strstr(err.msg, "fuzz.csv") == err.msg);
            ASSERT(rc == SP_ERR_DATA || rc == SP_ERR_LIMIT);
        }
        break;
    }
    csv_close(r);
}

static char *dump(const char *path, const csv_options *opt, size_t read_size)
{
    sp_buf b;
    sp_error err;
    sp_buf_init(&b, 0);
    ASSERT(csv_dump(&b, path, "fuzz.csv", opt, read_size, &err) == SP_OK);
    sp_buf_putc(&b, 0);
    ASSERT(!b.broken);
    return (char *)b.data;
}

static const char *after_restart(const char *d)
{
    const char *r = strstr(d, "restart\n");
    return r ? r + 8 : d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("csv_fuzz", 0);
        if (fd < 0)
            return 0;
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        return 0;
    /* Byte-sized reads cost a system call each: keep them for small inputs,
     * and about 64 reads per pass for larger ones. */
    size_t small = size <= 128 ? 1 : 1 + size / 64, odd = size <= 1024 ? 5 : 509;
    /* "Uncapped" is 256 KiB and one read takes a whole input: for inputs
     * up to 64 KiB (tripled by Windows-1252) that behaves as the defaults,
     * with a buffer a quarter the size (ASan makes big buffers slow). */
    const size_t whole = 65536;
    for (int enc = 0; enc < 3; enc++) {
        for (int capped = 0; capped < 2; capped++) {
            csv_options opt = {.encoding = (csv_encoding)enc, .max_record_bytes = (size_t)256 << 10};
            if (capped) {
                opt.max_record_bytes = 48;
                opt.max_fields = 6;
            }
            walk(path, data, size, &opt, whole);
            walk(path, data, size, &opt, small);
            char *a = dump(path, &opt, whole), *b = dump(path, &opt, small), *c = dump(path, &opt, odd);
            ASSERT(strcmp(after_restart(a), after_restart(b)) == 0);
            ASSERT(strcmp(after_restart(a), after_restart(c)) == 0);
            free(a);
            free(b);
            free(c);
        }
    }
    return 0;
}
