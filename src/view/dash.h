/* dash — the operators' dashboard: graphs_dir/index.html (every probe, its state and the
 * criterion's indicators) and graphs_dir/probe/<id>.html (one probe, its graphs, its last errors).
 *
 * Data and rendering are apart so that the daemon can feed its live state:
 *
 *   rows (one per probe) ── dash_collect (RRD files, via rrdq) ──► summaries (+ state if not live)
 *                        ── view/live (the daemon's), loop   ──► live state, last errors
 *   rows ── dash_write ──► index.html, probe/<id>.html (temp file + rename)
 *
 * dash_collect and dash_write touch the disk: a worker thread or the CLI, never the loop thread.
 * Pages are static, self-contained (inline CSS and a little JS, no external asset) and readable
 * with JS off; docs/DASHBOARD.md describes what they show and how the numbers are computed. */
#ifndef VIGIE_DASH_H
#define VIGIE_DASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "base/lang.h"
#include "config/config.h"
#include "store/rrdq.h"

/* A probe's current state, in the order of the default sort (worst first). */
enum dash_state {
    DASH_DOWN,      /* the last check failed */
    DASH_SLOW,      /* the last check succeeded at or above the probe's `slow` threshold */
    DASH_UNCHECKED, /* no check lately: the daemon has not checked it yet, or its files stopped */
    DASH_NODATA,    /* no RRD file, or no counted check in it */
    DASH_OK,
    DASH_STATE__COUNT
};

/* "down", "slow", "unchecked", "nodata", "ok" (CSS classes, filter values). */
const char *dash_state_name(enum dash_state s);

/* The windows summarised per probe: 24 h, 7 d, 3 months (92 d). */
enum dash_window { DASH_DAY, DASH_WEEK, DASH_QUARTER, DASH_NWIN };
extern const time_t dash_window_span[DASH_NWIN];
/* How old a window's summary may be before dash_collect reads it again (rows that keep their
 * summaries from one refresh to the next, like the daemon's): 5 min, 10 min, 1 h. Re-reading
 * every probe's day at every refresh was half the daemon's CPU at 10,000 probes (bench). */
extern const time_t dash_window_refresh[DASH_NWIN];

#define DASH_ERRORS_MAX 10
/* A probe's page is rewritten when what it shows changes (state, errors, summaries, the probe's
 * settings), and at least this often (its "last check" line). */
#define DASH_PAGE_KEEP 300
#define DASH_OUTCOME_MAX 32
#define DASH_MSG_MAX 256

/* One failed check, as the daemon saw it. */
struct dash_error {
    time_t time;                    /* wall clock of the check */
    char outcome[DASH_OUTCOME_MAX]; /* outcome_str(): "timeout", "http_status", ... */
    char msg[DASH_MSG_MAX];         /* result.msg: curl's message or the failed expectation */
};

/* One probe on the dashboard. The probe is borrowed (it must outlive the row); the list of last
 * errors is the row's own (allocated at the first error: most probes never fail), freed by
 * dash_row_fini. About 0.8 KB without errors. */
struct dash_row {
    const struct probe *probe;
    /* Current state. When `live` is set, the daemon owns state, last_time and last_ms and
     * dash_collect leaves them alone; otherwise dash_collect derives them from the RRD files. */
    bool live;
    enum dash_state state;
    time_t last_time; /* the last check (0: none) */
    double last_ms;   /* its total time, NAN when it failed or is unknown */
    /* Per window: rrdq_summary's result (0, -ENOENT when the file is missing, or another
     * negative errno) and the summary itself (valid only when sum_err is 0). */
    int sum_err[DASH_NWIN];
    struct rrdq_summary sum[DASH_NWIN];
    time_t sum_at[DASH_NWIN]; /* when each was read (0: never): see dash_window_refresh */
    char *sum_msg; /* librrd's or the system's message for the latest failed read other than a
                      missing file (the path relative to rrd_dir), kept while a window is in
                      error, NULL when none; the row owns it */
    unsigned long sum_step; /* the criterion file's step, as last read (0: unknown) */
    /* What probe/<id>.html showed when dash_write last wrote it (page_at 0: never): it is not
     * written again while the same, for at most DASH_PAGE_KEEP seconds. */
    uint64_t page_sig;
    time_t page_at;
    /* The last failed checks, newest first (dash_row_add_error keeps it so). Empty when the rows
     * come from the RRD files alone: the files keep no messages. */
    struct dash_error *errors; /* DASH_ERRORS_MAX of them once allocated, else NULL */
    size_t nerrors;
};

/* Sets a row for probe p: no data, no summary, no error, not live. */
void dash_row_init(struct dash_row *r, const struct probe *p);

/* Records a failed check at the front of r->errors (the oldest falls off past DASH_ERRORS_MAX).
 * The strings are copied (truncated to their fields). Out of memory, the error is not kept. */
void dash_row_add_error(struct dash_row *r, time_t t, const char *outcome, const char *msg);

/* Frees what the row owns (its errors, its summary message). */
void dash_row_fini(struct dash_row *r);

/* The state of a probe from its last check: `up` false → down; `total_ms` at or above the
 * probe's slow threshold → slow; else ok. For the daemon's live state and for dash_collect. */
enum dash_state dash_state_of(const struct probe *p, bool up, double total_ms);

/* Fills rows[0..n) from the RRD files under rrd_dir: the three summaries ending at `now` (a
 * summary read less than dash_window_refresh ago, per sum_at, is kept as it is), and
 * for rows that are not live, the state from the newest counted sample: none → nodata, older
 * than 3 intervals + `flush_s` (the writer's delay) → unchecked, else dash_state_of. Reads the
 * disk: never on the loop thread. A file that cannot be read is not fatal (its sum_err says
 * why). Returns the number of rows with at least one summary. */
size_t dash_collect(const char *rrd_dir, struct dash_row *rows, size_t n, time_t now,
                    time_t flush_s);

/* The graph formats drawn in graphs_dir (vigie.yaml's graphs.formats): the pages show the PNG
 * when there is one, else the SVG, and offer the SVG beside the PNG; 0 means no graphs (the
 * pages then have no graph section). */
#define DASH_PNG (1u << 0)
#define DASH_SVG (1u << 1)

/* Writes graphs_dir/index.html and graphs_dir/probe/<id>.html for every row, each atomically
 * (a temp file in the same directory, then rename), creating graphs_dir/probe if needed. A
 * probe's page that would show the same as when this function last wrote it for that row (per
 * page_sig; the "last check" line aside) less than DASH_PAGE_KEEP seconds ago is left as it is.
 * `formats` is a set of DASH_PNG / DASH_SVG; `now` is the generation time shown. Returns 0 or a
 * negative errno, with a message naming the file in err (NUL-terminated within errlen) when err
 * is not NULL. */
int dash_write(const char *graphs_dir, struct dash_row *rows, size_t n, enum lang lang,
               unsigned formats, time_t now, char *err, size_t errlen);

/* ---- the daemon's refresh: live rows snapshot, collected and written off the loop ---- */

struct dash_refresh_opts {
    const char *rrd_dir;    /* copied */
    const char *graphs_dir; /* copied */
    time_t flush_s;         /* the RRD writer's delay (rrd_flush), for the "unchecked" rule */
    enum lang lang;
    unsigned formats; /* DASH_PNG | DASH_SVG as drawn, 0 for none */
};

/* The options of vigie.yaml: rrd_dir, graphs_dir, rrd_flush, graphs.lang and graphs.formats.
 * The strings point into cfg. */
void dash_opts_from_config(const struct config *cfg, struct dash_refresh_opts *o);

/* What a refresh read: its rows (valid during the `done` call only), for a caller that keeps
 * the summaries for the next refresh (dash_keep_summaries). */
struct dash_refreshed {
    const struct dash_row *rows;
    size_t n;
};

/* Refreshes the pages in the background. On the calling (loop) thread: copies rows[0..n) (the
 * live state and the summaries, with copies of their errors; the rows' probes are borrowed). On
 * libuv's thread pool: dash_collect at the time the job runs, then dash_write. `done` (may be
 * NULL) runs on the loop thread afterwards with 0 or a negative errno, on error the message, and
 * the rows the job read (all valid during the call). The probes the rows point to must stay
 * valid until `done` runs (keep a replaced configuration alive until then). Running one refresh
 * at a time is the caller's choice (wait for `done`). Returns 0, -ENOMEM, or uv_queue_work's
 * error (then `done` is not called). */
int dash_refresh(uv_loop_t *loop, const struct dash_refresh_opts *o, const struct dash_row *rows,
                 size_t n,
                 void (*done)(void *arg, int rc, const char *err, const struct dash_refreshed *r),
                 void *arg);

/* Copies the summaries (sum, sum_err, sum_at, sum_msg, sum_step) and what was written (page_sig,
 * page_at) of the refreshed rows into rows[0..n),
 * the same rows (same probes, same order) the refresh started from: the next refresh reads only
 * the windows that have aged (dash_window_refresh). */
void dash_keep_summaries(struct dash_row *rows, size_t n, const struct dash_refreshed *r);

#endif
