/* row_text.c — see row_text.h. */
#include "row_text.h"

#include <stdio.h>
#include <string.h>

void row_text_add(void *arg, int ncols, const char *const *names, const char *const *values)
{
    row_text *s = arg;
    size_t len = strlen(s->text);
    for (int i = 0; i < ncols && len < sizeof s->text; i++)
        len += (size_t)snprintf(s->text + len, sizeof s->text - len, "%s%s=%s", i ? "," : "",
                                names[i], values[i] ? values[i] : "NULL");
    if (len < sizeof s->text)
        snprintf(s->text + len, sizeof s->text - len, ";");
    s->n++;
}
