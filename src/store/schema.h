/* schema — the one description of a probe's RRD files (docs/RRD.md is the reference): their
 * names, their data sources, the latency bucket bounds and the plan of archives. rrdw creates the
 * files from it, rrdq and the graphs read them through it.
 *
 *   <id>.rrd         the criterion file. DS: up (0/1), valid (1 counted, 0 flagged: taken while
 *                    vigie itself was impaired), total, response (seconds),
 *                    le_200 le_400 le_500 le_600 le_800 le_1000 le_2000 (1 if total < bound, 0
 *                    otherwise or when the check failed). AVERAGE only, at full resolution,
 *                    (below a one-minute step) 1 min, 10 min, 1 h and 1 day.
 *   <id>.phases.rrd  the latency file. DS: total dns connect tls ttfb (seconds). AVERAGE at full
 *                    resolution; AVERAGE, MIN and MAX at (below a one-minute step) 1 min, 10 min
 *                    and 1 h.
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

/* How long each resolution is kept, in seconds (vigie.yaml's rrd_retention). */
struct schema_keep {
    uint64_t full_s;          /* the step itself (below one minute: see schema_rra_plan) */
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
 * the finer one, keeping the longer retention.
 *
 * The full-resolution archive (always the first) keeps `full_s`, but in no more rows than
 * `full_s` takes at one minute, ceil(full_s / 60), or an hour if that is more: from a one-minute
 * step up that cap never bites (the files are what they always were); below one minute it keeps
 * max(full_s × step / 60, 1 h), at most full_s (1 h at 1 s, 8 h at 10 s with the default 2 days).
 * Below one minute, an archive of rows of schema_minute_pdp(step) steps, with the functions of
 * the 10-minute one, keeps `full_s`. So a file's size is bounded whatever the step. */
size_t schema_rra_plan(struct schema_rra *r, enum schema_file f, unsigned long step,
                       const struct schema_keep *keep);

/* Steps per row of the one-minute archive of a file at `step` seconds: the fewest whole steps
 * lasting at least a minute (so that it too holds no more rows than `full_s` at one minute);
 * 0 from a one-minute step up, which has no such archive. */
unsigned long schema_minute_pdp(unsigned long step);

/* The size in bytes of file `f` as rrd_create_r2 writes it from schema_rra_plan, fully
 * allocated: the header (the structures of librrd 1.x's rrd_format.h on LP64: stat_head 128
 * bytes, live_head 16, per DS ds_def 120 and pdp_prep 112, per RRA rra_def 120 and rra_ptr 8, per
 * DS and RRA cdp_prep 80), then 8 bytes per DS per row. The tests compare it with real files. */
uint64_t schema_file_bytes(enum schema_file f, unsigned long step, const struct schema_keep *keep);

#endif
