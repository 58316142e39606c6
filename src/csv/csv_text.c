/* csv_text.c — the CSV module's small text helpers (csv.h): header-name
 * matching (case, spaces, '_' and '-' ignored), writing one field with
 * RFC 4180 quoting for rejects.csv, and encoding names. No I/O, no state. */
#include "../util/buf.h"
#include "csv.h"

static bool name_ignored(unsigned char c)
{
    return c == ' ' || c == '_' || c == '-';
}

static unsigned char ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

bool csv_name_matches(const char *name, size_t len, const char *want)
{
    const unsigned char *a = (const unsigned char *)name, *ae = a + len;
    const unsigned char *b = (const unsigned char *)want;
    for (;;) {
        while (a < ae && name_ignored(*a))
            a++;
        while (*b && name_ignored(*b))
            b++;
        if (a == ae || !*b)
            return a == ae && !*b;
        if (ascii_lower(*a) != ascii_lower(*b))
            return false;
        a++;
        b++;
    }
}

void csv_write_field(struct sp_buf *out, const char *text, size_t len)
{
    bool quote = len > 0 && (text[0] == ' ' || text[len - 1] == ' ');
    for (size_t i = 0; i < len && !quote; i++) {
        char c = text[i];
        quote = c == ',' || c == '"' || c == '\r' || c == '\n';
    }
    if (!quote) {
        sp_buf_append(out, text, len);
        return;
    }
    sp_buf_putc(out, '"');
    size_t from = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '"') {
            sp_buf_append(out, text + from, i + 1 - from); /* the quote, then its double */
            sp_buf_putc(out, '"');
            from = i + 1;
        }
    }
    sp_buf_append(out, text + from, len - from);
    sp_buf_putc(out, '"');
}

const char *csv_encoding_name(csv_encoding e)
{
    switch (e) {
    case CSV_ENC_AUTO: return "auto";
    case CSV_ENC_UTF8: return "utf-8";
    case CSV_ENC_CP1252: return "windows-1252";
    }
    return "unknown";
}
