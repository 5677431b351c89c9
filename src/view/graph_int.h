/* graph_int — what the files of the graph module share (not for other modules).
 *
 *   view/draw.c   one graph with librrd (graph_draw): the rrd_graph_v arguments, the labels,
 *                 the numbers of the legend, the atomic write of the file;
 *   view/plan.c   which graphs a pass redraws (the stale checks), and the renderer process: the
 *                 plan the daemon writes on its stdin, what it reads there, its counts;
 *   view/graph.c  the names, slugs and paths of graph.h, and the daemon's graph timer: the pass
 *                 on the thread pool, the renderer it starts, the stats and the log. */
#ifndef VIGIE_GRAPH_INT_H
#define VIGIE_GRAPH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "config/config.h"
#include "view/graph.h"

/* The plot area when the configuration or the caller says 0. */
#define GRAPH_DEF_WIDTH 720
#define GRAPH_DEF_HEIGHT 200

/* Why a render failed; each is logged once until a pass has none of it. */
enum fcause { FC_RENDER, FC_ACCESS, FC_SPACE, FC_OTHER, FC__COUNT };

/* What one pass did: written by the worker (and by the renderer, which sends it back whole on
 * its stdout), read back on the loop thread. */
struct gjob {
    uv_work_t req;
    size_t rendered, failed, skipped;
    double render_s, render_max_s, seconds;
    double fork_s; /* how long fork() took in the daemon (its page tables are copied) */
    size_t fail_n[FC__COUNT];
    char fail_msg[FC__COUNT][600];
    bool cancelled;
};

struct graph {
    uv_loop_t *loop;
    uv_timer_t timer;
    const struct config *cfg;
    struct graph_style style;
    unsigned formats;
    const char **groups; /* distinct probe groups, sorted (strings borrowed from cfg) */
    size_t ngroups;
    struct timespec *mt; /* worker scratch: per probe, mtime of its two files (0: missing) */
    void (*pass_cb)(void *arg, const struct graph_pass *pass);
    void *pass_arg;
    struct gjob job;
    int stop_fd[2]; /* graph_close writes into [1]; the pass's child polls [0] */
    bool busy, closing, timer_open;
    unsigned logged; /* bit per fcause: logged, not yet recovered */
    uint64_t seq;
    struct graph_stats st;
    struct graph_stats *close_stats;
    void (*close_cb)(void *arg);
    void *close_arg;
};

/* The graphs a pass draws. */
struct plan {
    struct graph_req *rq;
    size_t n, cap;
};

/* "fr", "en". */

/* Appends a copy of rq. Returns 0 or -ENOMEM. */
int graph_plan_add(struct plan *pl, const struct graph_req *rq);

/* Which graphs the pass draws (into pl; the up-to-date ones counted in j->skipped), from the
 * modification times of the RRD files and of the graphs. On the pool thread of the daemon.
 * Returns 0 or -ENOMEM. */
int graph_plan_due(struct graph *g, struct gjob *j, struct plan *pl);

/* Writes the plan into fd (the renderer's stdin): the settings (cfg's directories, the style)
 * and the probes of cfg, then the graphs of pl, one JSON object per line. Returns 0, or -1 with
 * errno set. */
int graph_plan_write(int fd, const struct config *cfg, const struct graph_style *st,
                     const struct plan *pl);

/* A plan as the renderer reads it: the daemon's settings and probes in `run` (only rrd_dir,
 * graphs_dir and the probes' id, group and name are set; the probes sorted by id), its style,
 * and the graphs, which point into `run`. */
struct plan_in {
    struct config run;
    size_t probes_cap;
    struct graph_style style;
    struct plan pl;
    size_t skipped; /* graphs of a probe or group that is not among the plan's probes */
};

/* Reads a plan from `in` (NULL: an empty plan) into *pi, which it initialises; the caller frees
 * it with graph_plan_in_fini, whatever the result. A line that is not one graph_plan_write
 * writes is logged with its number and skipped. Returns 0 or -ENOMEM. */
int graph_plan_read(FILE *in, struct plan_in *pi);
void graph_plan_in_fini(struct plan_in *pi);

/* Reads the renderer's counts from fd (its stdout) into *out. Returns true when they came
 * whole. */
bool graph_counts_read(int fd, struct gjob *out);

/* Monotonic seconds. */
static inline double graph_now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The probes an overview (group NULL) or a group graph sums. */
static inline bool graph_covers(const struct probe *p, const char *group)
{
    return !group || strcmp(p->group, group) == 0;
}

#endif
