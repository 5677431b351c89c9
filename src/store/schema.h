/* schema — the one description of a probe's RRD files (docs/RRD.md is the reference): their
 * names, their data sources, the latency bucket bounds and the plan of archives. rrdw creates the
 * files from it, rrdq and the graphs read them through it.
 *
 *   <id>.rrd         the criterion file. DS: up (0/1), valid (1 counted, 0 flagged: taken while
 *                    vigie itself was impaired), total, response (seconds),
 *                    le_200 le_400 le_500 le_600 le_800 le_1000 le_2000 (1 if total < bound, 0
 *                    otherwise or when the check failed). AVERAGE only, at full resolution,
 *                    10 min, 1 h and 1 day.
 *   <id>.phases.rrd  the latency file. DS: total dns connect tls ttfb (seconds). AVERAGE at full
 *                    resolution; AVERAGE, MIN and MAX at 10 min and 1 h.
 *
 * Constant tables and pure functions: safe on any thread. */
#ifndef VIGIE_SCHEMA_H
#define VIGIE_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

/* The files of one probe. */
enum schema_file { SCHEMA_CRIT, SCHEMA_PHASES, SCHEMA_NFILES };

/* The latency bounds of the criterion file's `le_<ms>` data sources, ascending. */
#define SCHEMA_NBUCKETS 7
extern const unsigned schema_bounds_ms[SCHEMA_NBUCKETS];

/* One data source: every one is a GAUGE with min 0 and heartbeat 2 × step. */
struct schema_ds {
    const char *name;
    const char *max; /* "1" for the 0/1 sources, "U" for durations */
};

#define SCHEMA_MAX_DS 11 /* the criterion file's */

/* The data sources of file `f`, in their order in the file; *n is set to their count. */
const struct schema_ds *schema_ds(enum schema_file f, size_t *n);

/* "<dir>/<id>.rrd" or "<dir>/<id>.phases.rrd" into buf; NULL when it does not fit. */
char *schema_path(char *buf, size_t len, const char *dir, const char *id, enum schema_file f);

/* How long each resolution is kept, in seconds (vigie.yaml's rrd_keep). */
struct schema_keep {
    uint64_t full_s;          /* the step itself */
    uint64_t medium_s;        /* 10 minutes */
    uint64_t hourly_s;        /* 1 hour, criterion file */
    uint64_t phases_hourly_s; /* 1 hour, phases file */
    uint64_t daily_s;         /* 1 day, criterion file only */
};

/* One archive: consolidation function, steps per row, rows. */
struct schema_rra {
    const char *cf;
    unsigned long pdp, rows;
};

#define SCHEMA_MAX_RRA 12

/* The archives of file `f` at `step` seconds, into r (SCHEMA_MAX_RRA entries); returns their
 * count. An archive whose resolution the step already gives (step ≥ 10 min, say) is merged with
 * the finer one, keeping the longer retention. */
size_t schema_rra_plan(struct schema_rra *r, enum schema_file f, unsigned long step,
                       const struct schema_keep *keep);

#endif
