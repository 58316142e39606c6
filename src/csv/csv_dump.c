/* csv_dump.c — the canonical text form of everything the CSV reader returns
 * for one file (csv_internal.h): golden tests compare it byte for byte and
 * the fuzz target compares it across read sizes. One line per record, so a
 * diff points at the record that changed. Test support: not on any hot path. */
#include <inttypes.h>

#include "csv_internal.h"

static void put_escaped(sp_buf *out, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        switch (c) {
        case '\n': sp_buf_puts(out, "\\n"); break;
        case '\r': sp_buf_puts(out, "\\r"); break;
        case '\t': sp_buf_puts(out, "\\t"); break;
        case '\\': sp_buf_puts(out, "\\\\"); break;
        case '|': sp_buf_puts(out, "\\|"); break;
        default:
            if (c < 0x20 || c == 0x7F)
                sp_buf_printf(out, "\\x%02X", c);
            else
                sp_buf_putc(out, c);
        }
    }
}

int csv_dump(sp_buf *out, const char *path, const char *name, const csv_options *opt,
             size_t read_size, sp_error *err)
{
    csv_reader *r;
    SP_TRY(csv_open(&r, path, name, opt, err));
    csv_set_read_size(r, read_size);
    int restarts = 0;
    for (;;) {
        csv_record rec;
        sp_error e;
        sp_error_clear(&e);
        int rc = csv_next(r, &rec, &e);
        if (rc == SP_OK) {
            sp_buf_printf(out, "line %" PRIu64 " fields %zu [", rec.line, rec.nfields);
            for (size_t i = 0; i < rec.nfields; i++) {
                if (i)
                    sp_buf_putc(out, '|');
                put_escaped(out, rec.fields[i].ptr, rec.fields[i].len);
            }
            sp_buf_puts(out, "] text [");
            put_escaped(out, rec.text, rec.text_len);
            sp_buf_puts(out, rec.unterminated ? "] unterminated\n" : "]\n");
            continue;
        }
        if (rc == CSV_RESTART && restarts++ == 0) {
            sp_buf_puts(out, "restart\n");
            if (csv_rewind(r, &e) == SP_OK)
                continue;
            rc = e.code;
        }
        if (rc == CSV_END)
            sp_buf_printf(out, "end encoding=%s bom=%s bytes=%" PRIu64 "\n",
                          csv_encoding_name(csv_encoding_used(r)), csv_had_bom(r) ? "yes" : "no",
                          csv_bytes_read(r));
        else if (rc == CSV_RESTART)
            sp_buf_puts(out, "error: CSV_RESTART twice\n");
        else
            sp_buf_printf(out, "error: %s\n", e.msg);
        break;
    }
    csv_close(r);
    if (out->broken)
        return sp_fail(err, SP_ERR_LIMIT, "%s: CSV dump over its buffer cap", name);
    return SP_OK;
}
