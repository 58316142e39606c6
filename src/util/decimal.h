/* decimal.h — the one exact text of an int64 "unscaled" decimal (rules'
 * manifest threshold, the warehouse's decimal binds). Digits only, never
 * through binary floating point. */
#ifndef SP_DECIMAL_H
#define SP_DECIMAL_H

#include <stdint.h>

/* Longest text, NUL included: "-9.223372036854775808" at scale 18. */
enum { SP_DECIMAL_TEXT_MAX = 24 };

/* Write v / 10^scale with exactly `scale` fractional digits ("-0.1250"),
 * NUL-terminated, into out (SP_DECIMAL_TEXT_MAX bytes). Returns the length.
 * Any int64 v; `scale` is clamped to 0..18. rules_parse_decimal reads every
 * |v| < 10^18 back exactly. */
int sp_decimal_format(int64_t v, int scale, char *out);

#endif
