/* graph — the graphs of the RRD files (librrd's rrd_graph_v), and the daemon's graph timer.
 *
 * docs/GRAPHS.md is the reference: what each graph shows, how its numbers are computed, the file
 * layout under graphs_dir and when the daemon redraws a graph.
 *
 * Per probe and period (day, week, month, quarter, year):
 *   latency  the phases stacked (DNS, connect, TLS, server response, transfer), the median line
 *            (from the le_ buckets), the min–max "smoke" band of total, the 400 / 800 ms
 *            thresholds, the time the probe could not check shaded;
 *   avail    uptime per step as bars (down share in red), the rolling availability against
 *            99.9 % and 98.5 %;
 * both with a legend whose numbers (availability, median, p95, last check) come from
 * rrdq_summary over the graph's window, so graphs, dashboard and reports agree.
 * Per period, over all probes (overview) and over the probes of each group: how many are ok,
 * slow (≥ 800 ms), down and not checked, stacked.
 *
 * Files (the dashboard links to these):
 *   graphs_dir/overview-<period>.<fmt>
 *   graphs_dir/group-<slug>-<period>.<fmt>
 *   graphs_dir/probe/<id>-latency-<period>.<fmt>
 *   graphs_dir/probe/<id>-avail-<period>.<fmt>
 * Each is written atomically: rendered into a hidden temporary file of the same directory, then
 * renamed over the old one.
 *
 * Rendering touches the disk and the CPU: never on the loop thread. rrd_graph_v is not
 * thread-safe, so every render in the process goes through one mutex (one render at a time). */
#ifndef VIGIE_GRAPH_H
#define VIGIE_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "base/lang.h"
#include "config/config.h"

enum graph_period { GRAPH_DAY, GRAPH_WEEK, GRAPH_MONTH, GRAPH_QUARTER, GRAPH_YEAR, GRAPH_NPERIODS };
enum graph_format { GRAPH_PNG, GRAPH_SVG, GRAPH_NFORMATS };
/* What a graph shows. */
enum graph_kind { GRAPH_LATENCY, GRAPH_AVAIL, GRAPH_OVERVIEW, GRAPH_GROUP, GRAPH_NKINDS };

/* Names used in file names and on the command line ("day", "png", "latency", "fr"), and their
 * parsers (-1 when unknown). */
const char *graph_period_name(enum graph_period p);
const char *graph_format_name(enum graph_format f);
const char *graph_kind_name(enum graph_kind k);
int graph_period_parse(const char *s);
int graph_format_parse(const char *s);
int graph_kind_parse(const char *s);

/* The period's span in seconds: 1, 7, 31, 92 and 365 days. */
time_t graph_period_span(enum graph_period p);

/* One graph. */
struct graph_req {
    enum graph_kind kind;
    enum graph_period period;
    enum graph_format format;
    const struct probe *probe; /* GRAPH_LATENCY, GRAPH_AVAIL */
    const char *group;         /* GRAPH_GROUP: the group's name (probe->group) */
    time_t end;                /* the window's end (UNIX time); 0: now */
    time_t span; /* the window's length in seconds; 0: the period's. A custom span (`vigie demo`
                  * draws its few minutes) lets rrdtool choose the time axis; the title still
                  * names the period only when span is 0. */
};

/* How graphs look: the plot area in pixels (rrdtool adds axes, title and legend around it). */
struct graph_style {
    unsigned width, height; /* 0: 720 × 200 */
    enum lang lang;
};

/* What a render produced. */
struct graph_image {
    unsigned width, height; /* the whole image, in pixels (rrd_graph_v's image_width/height) */
    time_t start, end;      /* the window drawn */
    double seconds;         /* time spent in rrd_graph_v */
    char legend[4096];      /* the legend's lines as drawn (rrd_graph_v's legend[i]), each ending
                               with '\n'; truncated if longer */
};

/* The group's slug for file names: lowercase ASCII letters and digits, every run of other bytes
 * (spaces, punctuation, UTF-8 accents) becomes one '-', no leading or trailing '-'; "group" when
 * nothing is left. Writes into buf (truncated to len - 1) and returns buf. */
char *graph_group_slug(char *buf, size_t len, const char *group);

/* The path of graph `rq` under graphs_dir (layout above). Returns 0, or -ENAMETOOLONG. */
int graph_path(char *buf, size_t len, const char *graphs_dir, const struct graph_req *rq);

/* Draws graph `rq` from the RRD files of cfg->rrd_dir into `path` (created atomically; its
 * directory is created if missing). Returns 0; -ENOENT when the probe's RRD file (for an overview
 * or group: every probe's) does not exist, with err naming it; -EINVAL for a request that makes
 * no sense (no probe, unknown group); another negative errno with librrd's or the system's
 * message in err. Blocking (disk, CPU): never on the loop thread. Serialised with every other
 * render of the process. */
int graph_draw(const struct config *cfg, const struct graph_req *rq, const struct graph_style *st,
               const char *path, struct graph_image *img, char *err, size_t errlen);

/* ---- the daemon's graph timer ------------------------------------------------------------ */

struct graph;

struct graph_stats {
    uint64_t passes;     /* passes completed */
    uint64_t renders;    /* graph files written */
    uint64_t failures;   /* renders that failed */
    uint64_t skipped;    /* graphs looked at and found up to date */
    double render_s;     /* total time in rrd_graph_v */
    double render_max_s; /* the slowest render */
    double last_pass_s;  /* wall time of the last pass */
};

/* What one pass did, given to the pass callback. */
struct graph_pass {
    uint64_t seq;    /* 1 for the first pass */
    size_t rendered; /* files written */
    size_t failed;   /* renders that failed */
    size_t skipped;  /* up to date */
    double seconds;  /* wall time of the pass */
    double render_s; /* of which in rrd_graph_v */
};

/* Starts the timer: every cfg->graphs.interval_ms, one pass over every graph of the config
 * (cfg->graphs.formats), run on libuv's thread pool as one job (one job at a time: a tick that
 * comes while a pass runs is skipped). A pass redraws a graph when its file is missing, or when
 * one of its RRD files was modified after the graph file AND the graph file is older than one
 * pixel column of its period (span / width). The first pass starts after one interval.
 * `pass_cb` (may be NULL) runs on the loop thread after each completed pass. cfg must outlive the
 * object. Returns NULL on failure (out of memory), or when cfg->graphs.enabled is false. */
struct graph *graph_start(uv_loop_t *loop, const struct config *cfg,
                          void (*pass_cb)(void *arg, const struct graph_pass *pass), void *arg);

/* Asks for a pass now (if none is running). */
void graph_kick(struct graph *g);

void graph_stats(const struct graph *g, struct graph_stats *out);

/* Stops the timer, asks the pass in flight to stop after its current render, waits for it,
 * frees everything and calls cb (may be NULL). `final`, if not NULL, receives the last stats. */
void graph_close(struct graph *g, struct graph_stats *final, void (*cb)(void *arg), void *arg);

/* The renderer process of the daemon's passes (`vigie graph --render-plan`): reads the plan
 * from stdin (the directories, the style and the probes of the configuration the daemon runs,
 * then the graphs: it never reads vigie.yaml), draws it, polls fd 3 (the daemon's stop pipe)
 * between graphs, writes its counts to stdout. Not for people. Returns 0 or a negative errno. */
int graph_render_plan(void);

#endif
