/* criterion — the criterion's rules. See criterion.h. */
#include "store/criterion.h"

#include <math.h>
#include <stdio.h>

#include "base/container.h"

#define EPS 1e-9    /* availability, a fraction of checks: 999/1000 is 99.9 % */
#define EPS_MS 1e-6 /* load time: microseconds summed and read back as doubles */

enum criterion_class criterion_avail_class(double a)
{
    if (isnan(a))
        return CRITERION_NONE;
    if (a >= 0.999 - EPS)
        return CRITERION_GREEN;
    return a >= 0.985 - EPS ? CRITERION_YELLOW : CRITERION_RED;
}

enum criterion_class criterion_time_class(double ms)
{
    if (isnan(ms))
        return CRITERION_NONE;
    if (ms < 400 - EPS_MS)
        return CRITERION_GREEN;
    return ms < 800 - EPS_MS ? CRITERION_YELLOW : CRITERION_RED;
}

const char *criterion_class_name(enum criterion_class c)
{
    static const char *const names[] = {"none", "green", "yellow", "red"};
    return (size_t)c < ARRAY_SIZE(names) ? names[c] : "none";
}

/* urlScore: ranges=[95,98,99,99.5,99.9,100], scores=[-6,0,2,3,4,6], the first range with
 * availability <= boundary. */
int criterion_avail_points_2019(double a)
{
    static const double ranges[] = {0.95, 0.98, 0.99, 0.995, 0.999};
    static const int scores[] = {-6, 0, 2, 3, 4};

    for (size_t i = 0; i < ARRAY_SIZE(ranges); i++)
        if (a <= ranges[i] + EPS)
            return scores[i];
    return 6;
}

/* ranges=[200,400,600,800,1000], scores=[4,3,2,1,0] with responseTime < boundary, else -4. */
int criterion_time_points_2019(double ms)
{
    static const double ranges[] = {200, 400, 600, 800, 1000};
    static const int scores[] = {4, 3, 2, 1, 0};

    for (size_t i = 0; i < ARRAY_SIZE(ranges); i++)
        if (ms < ranges[i] - EPS_MS)
            return scores[i];
    return -4;
}

/* computeUrlScoreBadgeStyle: value > 7 success, 4 < value <= 7 warning, else danger. */
enum criterion_class criterion_score_class_2019(int score)
{
    return score > 7 ? CRITERION_GREEN : score > 4 ? CRITERION_YELLOW : CRITERION_RED;
}

char *criterion_pct(char *buf, size_t len, double a, int decimals)
{
    double scale = 100.0;

    if (len == 0)
        return buf;
    if (isnan(a)) {
        buf[0] = '\0';
        return buf;
    }
    if (decimals < 0)
        decimals = 0;
    if (decimals > 9)
        decimals = 9;
    for (int i = 0; i < decimals; i++)
        scale *= 10.0;
    snprintf(buf, len, "%.*f", decimals, floor(a * scale + EPS * scale) / (scale / 100.0));
    return buf;
}
