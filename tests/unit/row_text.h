/* row_text.h — a wh_row_fn for tests of wh_load_query: each row the
 * warehouse hands over appended as "name=value,name=value;" (NULL as NULL),
 * so a test compares one string. */
#ifndef SP_TEST_ROW_TEXT_H
#define SP_TEST_ROW_TEXT_H

typedef struct row_text {
    int n;           /* rows received */
    char text[512];  /* cut at the size */
} row_text;

/* arg: a row_text (zeroed before the first row). */
void row_text_add(void *arg, int ncols, const char *const *names, const char *const *values);

#endif
