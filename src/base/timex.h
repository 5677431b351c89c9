/* timex — civil dates without the C library's time zones: proleptic Gregorian day numbers (Howard
 * Hinnant's algorithms), month lengths, the English month abbreviations of certificates and
 * mail headers, and the RFC 5322 date of a mail. Pure functions, any thread. */
#ifndef VIGIE_TIMEX_H
#define VIGIE_TIMEX_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Days since 1970-01-01 of year y, month m (1..12), day d (1..31). */
int64_t timex_days_from_civil(int64_t y, unsigned m, unsigned d);

/* The date of day z since 1970-01-01. */
void timex_civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d);

/* The days in month m (1..12) of year y. */
unsigned timex_month_days(int y, unsigned m);

/* "Jan" .. "Dec" → 1..12; 0 for anything else (case matters, as in RFC 5322 and OpenSSL). */
unsigned timex_month_parse(const char *abbr);

/* t as an RFC 5322 date in UTC, "Wed, 09 Dec 2026 03:18:43 +0000", into buf (32 bytes are
 * enough); English names whatever the process's locale. Returns buf. */
char *timex_rfc5322(char *buf, size_t len, time_t t);

#endif
