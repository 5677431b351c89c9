/* timex — civil dates. See timex.h. */
#include "base/timex.h"

#include <locale.h>
#include <stdbool.h>
#include <string.h>

static const char *const months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

int64_t timex_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void timex_civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;

    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)((int64_t)yoe + era * 400 + (*m <= 2));
}

unsigned timex_month_days(int y, unsigned m)
{
    static const unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    if (m < 1 || m > 12)
        return 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

unsigned timex_month_parse(const char *abbr)
{
    for (unsigned m = 0; m < 12; m++)
        if (strcmp(abbr, months[m]) == 0)
            return m + 1;
    return 0;
}

char *timex_rfc5322(char *buf, size_t len, time_t t)
{
    static locale_t c_locale;
    struct tm tm;

    /* The C locale's names, whatever setlocale(3) did (a race on first use only creates the
     * same locale twice). */
    if (!c_locale)
        c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    gmtime_r(&t, &tm);
    if (!c_locale || strftime_l(buf, len, "%a, %d %b %Y %H:%M:%S +0000", &tm, c_locale) == 0) {
        if (len)
            buf[0] = '\0';
    }
    return buf;
}
