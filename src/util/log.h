/* log.h — salespipe's logger: one line per event on stderr, as text
 * ("2026-11-26T14:21:11Z INFO message") or JSON ({"ts","level","msg"}).
 * Every registered secret value is scrubbed from every line before it is
 * written, as a last line of defence: callers still never format secrets. */
#ifndef SP_LOG_H
#define SP_LOG_H

#include <stdbool.h>

typedef enum sp_log_level { SP_LOG_ERROR, SP_LOG_WARN, SP_LOG_INFO, SP_LOG_DEBUG } sp_log_level;

/* json: JSON lines instead of text; verbosity: -1 errors only (-q),
 * 0 warnings and info, 1 debug too (-v). */
void sp_log_setup(bool json, int verbosity);
/* Remember a secret (copied); values shorter than 4 bytes are ignored
 * because scrubbing them would mangle ordinary text. */
void sp_log_add_secret(const char *value);
/* Replace every registered secret in s (in place) with "***". */
void sp_log_scrub(char *s);
void sp_log(sp_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
