/* report — `vigie report`: the observatory's availability and load-time criterion, per procedure
 * (one row per jdma id) and per group, over a window of whole UTC days, computed from the RRD
 * files (through rrdq) and rated by the 2023 or the 2019 rules. docs/REPORT.md explains every
 * figure and rule.
 *
 * Reads the disk (rrd_fetch_r): never on the loop thread. */
#ifndef VIGIE_REPORT_H
#define VIGIE_REPORT_H

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "config/config.h"
#include "store/criterion.h"
#include "store/rrdq.h"

enum report_format { REPORT_TABLE, REPORT_CSV, REPORT_JSON, REPORT_HTML };
enum report_rules { REPORT_RULES_2023, REPORT_RULES_2019 };
enum report_metric { REPORT_RESPONSE, REPORT_TOTAL };

struct report_opts {
    time_t from, to;     /* the window [from, to): UTC midnights */
    const char **probes; /* probe ids to report, NULL/0: every probe */
    size_t nprobes;
    const char *group; /* only this group, or NULL */
    enum report_format format;
    enum report_rules rules;
    enum report_metric metric;
    const char *output; /* the file written (HTML links to the graphs are relative to it), or NULL
                           for stdout */
};

/* The figures of one procedure or one group. NAN where there is nothing to say. */
struct report_figures {
    double checks;       /* counted checks */
    double flagged;      /* samples flagged as taken while vigie was impaired, left out */
    double coverage;     /* share of the window's steps holding a sample (counted or flagged) */
    double availability; /* successful / counted checks, 0..1 */
    double mean_ms;      /* mean of the chosen metric over successful checks */
    double median_ms;    /* of `total`, from the buckets (INFINITY: above 2 s) */
    double p95_ms;
    double apdex; /* T = 500 ms, on `total` */
    /* 2023 rules */
    enum criterion_class avail_class, time_class;
    /* 2019 rules: points and the score out of 10, `scored` false when a figure is missing */
    bool scored;
    int avail_points, time_points, score;
    enum criterion_class score_class; /* green / yellow (the observatory's orange) / red */
};

/* The figures from a probe's (or a group's summed) totals. */
void report_figures(const struct rrdq_totals *t, enum report_metric m, struct report_figures *out);

/* "YYYY-MM-DD" → that day's UTC midnight. 0 or -EINVAL. */
int report_parse_date(const char *s, time_t *out);
/* "YYYY-Qn" → [first day of the quarter, first day of the next). 0 or -EINVAL. */
int report_parse_quarter(const char *s, time_t *from, time_t *to);
/* The default window at `now`: the 3 calendar months ending with the last full UTC day. */
void report_default_window(time_t now, time_t *from, time_t *to);

/* Computes the report of `cfg`'s probes over o's window and writes it to `out` in o's format.
 * A probe whose file is missing gets a row without data; one whose file cannot be read too, with
 * a warning naming the probe and the cause on `warn`. Returns 0, -ENOENT when the selection is
 * empty (an unknown probe or group, with a message on `warn`), or a negative errno. */
int report_write(const struct config *cfg, const struct report_opts *o, FILE *out, FILE *warn);

/* `vigie report [options]` (argv[0] the command's name): parses, loads the configuration, writes
 * the report. Returns the process exit status (0 ok, 1 error, 3 bad usage). */
int report_main(int argc, char **argv);

#endif
