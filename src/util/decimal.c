/* decimal.c — exact decimal text (see decimal.h). */
#include "decimal.h"

int sp_decimal_format(int64_t v, int scale, char *out)
{
    if (scale < 0)
        scale = 0;
    if (scale > 18)
        scale = 18;
    char tmp[SP_DECIMAL_TEXT_MAX];
    int t = sizeof tmp;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    /* Digits from the right: `scale` fractional ones, the point, then the
     * integer part (at least one digit). */
    for (int k = 0; k < scale; k++) {
        tmp[--t] = (char)('0' + u % 10);
        u /= 10;
    }
    if (scale > 0)
        tmp[--t] = '.';
    do {
        tmp[--t] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--t] = '-';
    int len = (int)sizeof tmp - t;
    for (int k = 0; k < len; k++)
        out[k] = tmp[t + k];
    out[len] = '\0';
    return len;
}
