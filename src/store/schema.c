/* schema — the layout of a probe's RRD files. See schema.h and docs/RRD.md. */
#include "store/schema.h"

#include <stdio.h>
#include <string.h>

#include "base/container.h"

#define DAY_S 86400u
#define HOUR_S 3600u
#define MINUTE_S 60u

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

/* Steps per row of an archive of `span_s` seconds per row: as many whole steps as fit, at least
 * one. */
static unsigned long span_pdp(unsigned long step, uint64_t span_s)
{
    return span_s / step > 1 ? (unsigned long)(span_s / step) : 1;
}

/* Adds an archive of `pdp` steps per row holding `keep_s` seconds, in at most `max_rows` rows
 * (0: no cap); one already there with the same function and resolution keeps the longer. */
static void rra_add(struct schema_rra *r, size_t *n, const char *cf, unsigned long step,
                    unsigned long pdp, uint64_t keep_s, uint64_t max_rows)
{
    uint64_t per_row = (uint64_t)pdp * step;
    uint64_t want = (keep_s + per_row - 1) / per_row;
    unsigned long rows = (unsigned long)(max_rows && want > max_rows ? max_rows : want);

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

unsigned long schema_minute_pdp(unsigned long step)
{
    return step < MINUTE_S ? (MINUTE_S + step - 1) / step : 0;
}

size_t schema_rra_plan(struct schema_rra *r, enum schema_file f, unsigned long step,
                       const struct schema_keep *keep)
{
    static const char *const mmm[] = {"AVERAGE", "MIN", "MAX"};
    /* The criterion file consolidates with AVERAGE only, the phases file with all three. */
    size_t ncf = f == SCHEMA_CRIT ? 1 : ARRAY_SIZE(mmm);
    uint64_t cap = (keep->full_s + MINUTE_S - 1) / MINUTE_S, hour = (HOUR_S + step - 1) / step;
    unsigned long minute = schema_minute_pdp(step);
    size_t n = 0;

    /* Full resolution for `full`, in no more rows than `full` takes at one minute (but an hour
     * at least): below a one-minute step the files would otherwise grow as 1 / step. */
    rra_add(r, &n, "AVERAGE", step, 1, keep->full_s, cap > hour ? cap : hour);
    if (minute)
        for (size_t i = 0; i < ncf; i++)
            rra_add(r, &n, mmm[i], step, minute, keep->full_s, 0);
    for (size_t i = 0; i < ncf; i++)
        rra_add(r, &n, mmm[i], step, span_pdp(step, 600), keep->medium_s, 0);
    if (f == SCHEMA_CRIT) {
        rra_add(r, &n, "AVERAGE", step, span_pdp(step, HOUR_S), keep->hourly_s, 0);
        rra_add(r, &n, "AVERAGE", step, span_pdp(step, DAY_S), keep->daily_s, 0);
    } else {
        for (size_t i = 0; i < ncf; i++)
            rra_add(r, &n, mmm[i], step, span_pdp(step, HOUR_S), keep->phases_hourly_s, 0);
    }
    return n;
}

uint64_t schema_file_bytes(enum schema_file f, unsigned long step, const struct schema_keep *keep)
{
    struct schema_rra r[SCHEMA_MAX_RRA];
    size_t nrra = schema_rra_plan(r, f, step, keep), nds;
    uint64_t rows = 0;

    schema_ds(f, &nds);
    for (size_t i = 0; i < nrra; i++)
        rows += r[i].rows;
    return 128 + 16 + nds * (120 + 112) + nrra * (120 + 8) + nds * nrra * 80 + nds * rows * 8;
}
