/* date.h — proleptic Gregorian calendar arithmetic on days since 1970-01-01,
 * the representation Parquet DATE and the warehouse use. Pure functions. */
#ifndef SP_DATE_H
#define SP_DATE_H

#include <stdbool.h>
#include <stdint.h>

/* Days since 1970-01-01 for a valid y-m-d (callers check validity first). */
int64_t sp_days_from_civil(int64_t y, unsigned m, unsigned d);
/* The civil date of a day number. */
void sp_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);
/* Does y-m-d exist (Feb 29 only in leap years)? */
bool sp_date_valid(int64_t y, unsigned m, unsigned d);
/* "YYYY-MM-DD" (years outside 0..9999 get a sign / more digits);
 * out needs 16 bytes. Returns the length written. */
int sp_date_format(int64_t days, char *out);

#endif
