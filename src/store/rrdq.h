/* rrdq — what a probe's RRD files say about a window of time: availability, the latency classes,
 * percentiles read off the cumulative buckets, the last sample. The one place graphs, the
 * dashboard, the reports and the criterion-at-risk alert read the criterion from, so that they
 * all show the same numbers.
 *
 * Reads only (rrd_fetch_r, rrd_lastupdate_r): safe on any thread, never on the loop thread (it
 * touches the disk). docs/RRD.md describes the files. */
#ifndef VIGIE_RRDQ_H
#define VIGIE_RRDQ_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "store/schema.h"

struct rrdq_summary {
    time_t start, end;  /* the window read, aligned on the archive's rows: (start, end] */
    unsigned long step; /* seconds per row of the archive used */
    size_t rows;        /* rows in the window */
    size_t rows_known;  /* rows holding a counted sample (valid > 0) */
    double samples;     /* counted checks in the window (sum of valid × pdp per row) */
    /* The following are fractions of the counted checks, NAN when there is none. */
    double availability;        /* AVERAGE(up) over counted checks */
    double le[SCHEMA_NBUCKETS]; /* share of counted checks that succeeded under each bound */
    /* Percentiles of `total` among successful checks, in ms, interpolated linearly between
     * bucket bounds (0 ms → 0); INFINITY when above the last bound; NAN when no success. */
    double median_ms;
    double p95_ms;
    /* The newest counted sample in the window (the full-resolution archive): */
    time_t last_time; /* 0 when none */
    bool last_up;
    double last_total_ms; /* NAN when the last check failed */
};

/* Summarises the window (end - span, end] of probe `id` in `rrd_dir` (files <id>.rrd and
 * <id>.phases.rrd). librrd picks the finest archive covering the window. `end` 0 means the file's
 * last update. Returns 0, -ENOENT when the file does not exist, or another negative errno (with
 * `err`, if not NULL, holding librrd's message, NUL-terminated within errlen). */
int rrdq_summary(const char *rrd_dir, const char *id, time_t end, time_t span,
                 struct rrdq_summary *out, char *err, size_t errlen);

/* rrdq_summary for a caller that reads the same file again and again (the dashboard): *step is
 * the file's base step when known (0: read from the file's header, which costs more than the
 * fetch itself), and is set to the step read. A step found wrong (the file's rows are finer) is
 * read again. */
int rrdq_summary_step(const char *rrd_dir, const char *id, time_t end, time_t span,
                      unsigned long *step, struct rrdq_summary *out, char *err, size_t errlen);

/* What a window of one probe's criterion file holds, as sums that add up across probes (a group's
 * figures are the sum of its probes'): the reports read this. Counts are in checks, at the
 * file's own step; a consolidated row weighs AVERAGE(valid) × its steps, as in rrdq_summary. */
struct rrdq_totals {
    double expected; /* steps in the window: (end - start) / the file's step */
    double covered;  /* steps in rows where `valid` is known (a counted or a flagged sample) */
    double checks;   /* counted checks (valid, `up` known) */
    double flagged;  /* samples flagged as taken while vigie was impaired: (1 - valid) × steps */
    double up;       /* successful counted checks */
    double le[SCHEMA_NBUCKETS]; /* counted checks that succeeded under each bound */
    /* The means of `response` and `total`, over successful checks where the row knows them. */
    double response_n, response_ms; /* checks, and the sum of their response times in ms */
    double total_n, total_ms;
};

/* Reads the window (start, end] of probe `id`'s criterion file (end - start a whole number of the
 * file's steps; librrd answers from the finest archive covering `start`) and sets *out to its
 * sums. Returns 0, -ENOENT when there is no file, or another negative errno with `err` like
 * rrdq_summary; *out is then all zero (`expected` too: it needs the file's step). */
int rrdq_totals(const char *rrd_dir, const char *id, time_t start, time_t end,
                struct rrdq_totals *out, char *err, size_t errlen);

/* Adds t into *sum (every field). */
void rrdq_totals_add(struct rrdq_totals *sum, const struct rrdq_totals *t);

/* Apdex with T = 500 ms over the counted checks, from bucket shares `le` (rrdq_summary's `le`):
 * satisfied = le_500, tolerated = le_2000 - le_500 (4T), failed checks frustrated:
 * le_500 + (le_2000 - le_500) / 2. NAN when a share is NAN. */
double rrdq_apdex(const double le[SCHEMA_NBUCKETS]);

/* The percentile p (0 < p < 1) of successful checks' total time, in ms, from bucket fractions
 * `le` (share of all counted checks) and `availability` (share that succeeded): NAN when
 * availability is 0 or NAN, INFINITY above the last bound. Exposed for tests and for callers
 * that aggregate several probes. */
double rrdq_percentile(const double le[SCHEMA_NBUCKETS], double availability, double p);

#endif
