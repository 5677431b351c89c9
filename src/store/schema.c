/* schema — the layout of a probe's RRD files. See schema.h and docs/RRD.md. */
#include "store/schema.h"

#include <stdio.h>
#include <string.h>

#include "base/container.h"

#define DAY_S 86400u

const unsigned schema_bounds_ms[SCHEMA_NBUCKETS] = {200, 400, 500, 600, 800, 1000, 2000};

/* The le_<ms> names follow schema_bounds_ms (checked by the tests). */
static const struct schema_ds crit_ds[] = {
    {"up", "1"},     {"valid", "1"},   {"total", "U"},   {"response", "U"},
    {"le_200", "1"}, {"le_400", "1"},  {"le_500", "1"},  {"le_600", "1"},
    {"le_800", "1"}, {"le_1000", "1"}, {"le_2000", "1"},
};

static const struct schema_ds phases_ds[] = {
    {"total", "U"}, {"dns", "U"}, {"connect", "U"}, {"tls", "U"}, {"ttfb", "U"},
};

_Static_assert(ARRAY_SIZE(crit_ds) == SCHEMA_MAX_DS, "SCHEMA_MAX_DS is the largest file's");
_Static_assert(ARRAY_SIZE(crit_ds) == 4 + SCHEMA_NBUCKETS, "one le_ source per bound");

static const char *const suffix[SCHEMA_NFILES] = {".rrd", ".phases.rrd"};

const struct schema_ds *schema_ds(enum schema_file f, size_t *n)
{
    if (f == SCHEMA_PHASES) {
        *n = ARRAY_SIZE(phases_ds);
        return phases_ds;
    }
    *n = ARRAY_SIZE(crit_ds);
    return crit_ds;
}

char *schema_path(char *buf, size_t len, const char *dir, const char *id, enum schema_file f)
{
    int n = snprintf(buf, len, "%s/%s%s", dir, id, suffix[f == SCHEMA_PHASES]);

    return n >= 0 && (size_t)n < len ? buf : NULL;
}

/* Adds an archive of `span_s` seconds per row (the step itself when 0) holding `keep_s`
 * seconds; one already there with the same function and resolution keeps the longer. */
static void rra_add(struct schema_rra *r, size_t *n, const char *cf, unsigned long step,
                    uint64_t span_s, uint64_t keep_s)
{
    unsigned long pdp = span_s / step > 1 ? (unsigned long)(span_s / step) : 1;
    uint64_t per_row = (uint64_t)pdp * step;
    unsigned long rows = (unsigned long)((keep_s + per_row - 1) / per_row);

    if (rows < 1)
        rows = 1;
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(r[i].cf, cf) == 0 && r[i].pdp == pdp) {
            if (r[i].rows < rows)
                r[i].rows = rows;
            return;
        }
    }
    if (*n < SCHEMA_MAX_RRA)
        r[(*n)++] = (struct schema_rra){cf, pdp, rows};
}

size_t schema_rra_plan(struct schema_rra *r, enum schema_file f, unsigned long step,
                       const struct schema_keep *keep)
{
    static const char *const mmm[] = {"AVERAGE", "MIN", "MAX"};
    size_t n = 0;

    rra_add(r, &n, "AVERAGE", step, 0, keep->full_s);
    if (f == SCHEMA_CRIT) {
        rra_add(r, &n, "AVERAGE", step, 600, keep->medium_s);
        rra_add(r, &n, "AVERAGE", step, 3600, keep->hourly_s);
        rra_add(r, &n, "AVERAGE", step, DAY_S, keep->daily_s);
    } else {
        for (size_t i = 0; i < ARRAY_SIZE(mmm); i++)
            rra_add(r, &n, mmm[i], step, 600, keep->medium_s);
        for (size_t i = 0; i < ARRAY_SIZE(mmm); i++)
            rra_add(r, &n, mmm[i], step, 3600, keep->phases_hourly_s);
    }
    return n;
}
