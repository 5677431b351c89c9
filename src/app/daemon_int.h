/* daemon_int — what the files of the daemon share; not for use outside src/app/daemon*.c and
 * src/app/reload.c.
 *
 * The daemon, cut in two:
 *   daemon.c   daemon_run: start-up, the samples, the criterion report, the dashboard's refresh,
 *              stats and sd_notify, the graph timer, the shutdown chain, the configuration
 *              generations;
 *   reload.c   the reload on SIGHUP: the parse on the thread pool, then on the loop the swap of
 *              a valid configuration (or the running one kept).
 *
 * Everything here runs on the loop thread but reload.c's parse, which reads only the daemon's
 * options and configuration path and writes only reload_cfg and reload_diag. */
#ifndef VIGIE_DAEMON_INT_H
#define VIGIE_DAEMON_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "alert/alert.h"
#include "app/daemon.h"
#include "base/diag.h"
#include "config/config.h"
#include "probe/sched.h"
#include "store/rrdw.h"
#include "view/graph.h"

struct live;

/* A loaded configuration and how many still use it: the daemon while it is the current one,
 * and after a reload a scheduler draining its checks, the graph timer closing, a job on the
 * thread pool. Freed when the last one lets go. */
struct gen {
    struct config *cfg;
    unsigned refs;
    struct gen *next;
};

/* A scheduler replaced by a reload, draining its checks. */
struct retired {
    struct daemon *d;
    struct gen *g;
    struct sched_stats st;
};

struct daemon {
    uv_loop_t loop;
    struct config *cfg; /* cur->cfg */
    struct gen *cur;
    struct gen *gens; /* every generation still alive, the current one included */
    struct daemon_opts opts;
    char *cfg_path; /* what a reload loads (NULL: the built-in settings) */
    struct httpc *httpc;
    struct sched *sched;
    struct rrdw *rrdw;
    struct graph *graph; /* NULL when graphs are disabled */
    struct alerting *alerting;
    struct notify *notify;
    uv_signal_t sigint;
    uv_signal_t sigterm;
    uv_signal_t sighup;
    uv_timer_t stats_timer;
    uv_timer_t stop_timer;
    uv_timer_t status_timer;   /* sd_notify STATUS= */
    uv_timer_t watchdog_timer; /* sd_notify WATCHDOG=1, when WATCHDOG_USEC is set */
    uint64_t last_completed;   /* for checks/s in STATUS= */
    uint64_t last_status_ns;
    unsigned handles_open;
    bool stopping;
    bool closing_parts; /* the shutdown chain went past the schedulers */
    uint64_t t0;
    /* reload */
    uv_work_t reload_work;
    bool reload_busy;          /* a configuration is being parsed */
    bool reload_again;         /* SIGHUP(s) came meanwhile: parse once more afterwards */
    struct config *reload_cfg; /* the job's result */
    struct diag reload_diag;
    char reload_err[512];          /* why the last reload failed, "" after a good one (STATUS=) */
    unsigned nretired;             /* schedulers still draining */
    struct sched_stats sched_base; /* what the schedulers replaced so far counted */
    struct graph_stats graph_base;
    struct gen *graph_gen; /* the configuration the graph timer runs */
    bool graph_closing;    /* the graph timer of a replaced configuration is closing */
    struct graph_stats graph_last;
    struct gen *dash_gen;   /* the refresh in flight's */
    struct gen *report_gen; /* the report in flight's */
    struct live *live;      /* per probe: the last check's state, last errors, verdict */
    uv_timer_t dash_timer;  /* refreshes the dashboard when no graph pass does */
    bool dash_failing;      /* the last refresh failed (logged once) */
    uv_work_t report_work;  /* graphs_dir/report.html, the criterion over the last 3 months */
    bool report_busy;
    uint64_t report_next_ms; /* loop time of the next one */
    int report_rc;
    char report_err[4400];
    uint64_t ok_samples;
    double total_sum_us;
    int64_t total_min_us;
    int64_t total_max_us;
    struct sched_stats final_sched; /* the last scheduler's, added to sched_base */
    struct rrdw_stats final_rrdw;
    uint64_t rrd_queued_at_stop; /* samples waiting for the writer when the stop began */
    struct alert_stats final_alert;
};

/* ---- daemon.c ---- */

/* A new generation for cfg (owned), referenced once (by the caller); NULL when out of memory
 * (cfg is not freed then). */
struct gen *daemon_gen_new(struct daemon *d, struct config *cfg);

/* One more reference to g. */
struct gen *daemon_gen_get(struct gen *g);

/* Lets go of g (NULL is a no-op): the last reference frees it and its configuration. */
void daemon_gen_put(struct daemon *d, struct gen *g);

/* The scheduler's options for configuration c (at start and at a reload). */
void daemon_sched_opts(struct daemon *d, const struct config *c, struct sched_opts *so);

/* The schedulers' sample callback (arg: the daemon). */
void daemon_on_sample(void *arg, const struct sched_sample *s);

/* sched_takeover's callback (arg: the struct retired, freed here): a scheduler replaced by a
 * reload has drained its checks. */
void daemon_sched_retired(void *arg);

/* Starts the graph timer of the current configuration, or without graphs the dashboard's own. */
void daemon_graph_begin(struct daemon *d);

/* Closes the graph timer (at a reload or at the end); when it is closed, the shutdown goes on,
 * or after a reload daemon_graph_begin runs for the new configuration. */
void daemon_graph_end(struct daemon *d);

/* Says every probe and receiver whose TLS verification is off (at start and at every reload). */
void daemon_log_insecure(const struct config *cfg);

/* ---- reload.c ---- */

/* SIGHUP: a reload, one at a time; signals during one make exactly one more afterwards. Ignored
 * once the daemon is stopping. */
void reload_request(struct daemon *d);

#endif
