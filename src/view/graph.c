/* graph — the names, slugs and paths of graph.h, and the daemon's graph timer.
 *
 * The drawing of one graph is view/draw.c; the plan of a pass and the renderer process are
 * view/plan.c (view/graph_int.h is what the three share).
 *
 * The timer: struct graph lives on the loop thread. Every interval it hands one job (a pass over
 * every graph of the configuration) to libuv's thread pool, unless a pass is still running. The
 * worker reads only what does not change after graph_start (the config, the style, the list of
 * groups) and writes only into its job; back on the loop thread (pass_done) the job's counts go
 * into the stats and the log.
 *
 * The worker decides what to redraw (stat of the RRD files and of the graphs); when something
 * is, it starts a renderer process, `vigie graph --render-plan` (posix_spawn: a fork of this
 * multi-threaded process could inherit a lock another thread held and hang), writes it the list
 * on its stdin and reads its counts on its stdout. librrd 1.7.2 leaks a few hundred bytes per
 * rrd_graph_v call (the strings of the legend it reports), and pango/fontconfig keep caches: in
 * a daemon drawing thousands of graphs an hour that would grow without bound; the renderer's
 * memory goes away with it. The renderer closes every descriptor but 0-3, ignores SIGINT and
 * SIGTERM (systemd signals the whole cgroup) and runs at SCHED_IDLE. The daemon process itself
 * never calls rrd_graph_v. graph_close writes a byte into the stop pipe (the renderer's fd 3),
 * which the renderer checks between two renders (its end of file too: the daemon died), then
 * waits for the job. */
#include "view/graph.h"

#include <errno.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/container.h"
#include "base/log.h"
#include "base/worker.h"
#include "view/graph_int.h"

#define DAY_S 86400

/* ---- names -------------------------------------------------------------------------------- */

static const char *const period_names[GRAPH_NPERIODS] = {"day", "week", "month", "quarter", "year"};
static const time_t period_spans[GRAPH_NPERIODS] = {DAY_S, 7 * DAY_S, 31 * DAY_S, 92 * DAY_S,
                                                    365 * DAY_S};
static const char *const format_names[GRAPH_NFORMATS] = {"png", "svg"};
static const char *const kind_names[GRAPH_NKINDS] = {"latency", "avail", "overview", "group"};
const char *graph_period_name(enum graph_period p)
{
    return (unsigned)p < GRAPH_NPERIODS ? period_names[p] : "?";
}

const char *graph_format_name(enum graph_format f)
{
    return (unsigned)f < GRAPH_NFORMATS ? format_names[f] : "?";
}

const char *graph_kind_name(enum graph_kind k)
{
    return (unsigned)k < GRAPH_NKINDS ? kind_names[k] : "?";
}

static int find_name(const char *const *names, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

int graph_period_parse(const char *s)
{
    return find_name(period_names, GRAPH_NPERIODS, s);
}

int graph_format_parse(const char *s)
{
    return find_name(format_names, GRAPH_NFORMATS, s);
}

int graph_kind_parse(const char *s)
{
    return find_name(kind_names, GRAPH_NKINDS, s);
}

time_t graph_period_span(enum graph_period p)
{
    return (unsigned)p < GRAPH_NPERIODS ? period_spans[p] : DAY_S;
}

/* ---- slugs and paths ---------------------------------------------------------------------- */

char *graph_group_slug(char *buf, size_t len, const char *group)
{
    size_t n = 0;
    bool dash = false;

    if (len == 0)
        return buf;
    for (const unsigned char *s = (const unsigned char *)(group ? group : ""); *s; s++) {
        int c = *s;

        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')) {
            if (dash && n > 0 && n + 1 < len)
                buf[n++] = '-';
            dash = false;
            if (n + 1 < len)
                buf[n++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        } else {
            dash = true;
        }
    }
    if (n == 0)
        snprintf(buf, len, "group");
    else
        buf[n] = '\0';
    return buf;
}

int graph_path(char *buf, size_t len, const char *graphs_dir, const struct graph_req *rq)
{
    const char *per = graph_period_name(rq->period), *fmt = graph_format_name(rq->format);
    char slug[128];
    int n;

    switch (rq->kind) {
    case GRAPH_OVERVIEW:
        n = snprintf(buf, len, "%s/overview-%s.%s", graphs_dir, per, fmt);
        break;
    case GRAPH_GROUP:
        n = snprintf(buf, len, "%s/group-%s-%s.%s", graphs_dir,
                     graph_group_slug(slug, sizeof(slug), rq->group), per, fmt);
        break;
    case GRAPH_LATENCY:
    case GRAPH_AVAIL:
        if (!rq->probe)
            return -EINVAL;
        n = snprintf(buf, len, "%s/probe/%s-%s-%s.%s", graphs_dir, rq->probe->id,
                     graph_kind_name(rq->kind), per, fmt);
        break;
    default:
        return -EINVAL;
    }
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* ---- the daemon's graph timer ------------------------------------------------------------- */

extern char **environ;

static const char *const fcause_str[FC__COUNT] = {
    [FC_RENDER] = "cannot render",
    [FC_ACCESS] = "permission denied or read-only",
    [FC_SPACE] = "disk full",
    [FC_OTHER] = "cannot draw",
};

static void job_fail(struct gjob *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void job_fail(struct gjob *j, const char *fmt, ...)
{
    va_list ap;

    j->failed++;
    if (j->fail_n[FC_OTHER]++ == 0) {
        va_start(ap, fmt);
        vsnprintf(j->fail_msg[FC_OTHER], sizeof(j->fail_msg[FC_OTHER]), fmt, ap);
        va_end(ap);
    }
}

/* Starts `<this binary> graph --render-plan`: stdin the plan (*plan_w, the
 * caller writes and closes it), stdout res[0] (the caller reads the counts), fd 3 the stop
 * pipe. Returns its pid, or a negative errno. */
static pid_t spawn_renderer(struct graph *g, int res[2], int *plan_w)
{
    static char a0[] = "vigie", a1[] = "graph", a2[] = "--render-plan";
    char *argv[4] = {a0, a1, a2, NULL};
    posix_spawn_file_actions_t fa;
    const char *exe;
    int plan[2], rc;
    pid_t pid;

    if (pipe(plan) != 0)
        return -errno;
    if (pipe(res) != 0) {
        rc = -errno;
        close(plan[0]);
        close(plan[1]);
        return rc;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, plan[0], 0);
    posix_spawn_file_actions_adddup2(&fa, res[1], 1);
    posix_spawn_file_actions_adddup2(&fa, g->stop_fd[0], 3);
    /* This binary; VIGIE_RENDERER names another vigie (the tests, whose process is not vigie) */
    exe = getenv("VIGIE_RENDERER");
    rc = posix_spawn(&pid, exe && *exe ? exe : "/proc/self/exe", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(plan[0]);
    close(res[1]);
    if (rc != 0) {
        close(plan[1]);
        close(res[0]);
        return -rc;
    }
    *plan_w = plan[1];
    return pid;
}

/* On a pool thread: plans the pass, starts the renderer and waits for its counts. */
static void pass_work(uv_work_t *req)
{
    struct graph *g = container_of(req, struct graph, job.req);
    struct gjob *j = &g->job;
    struct plan pl = {NULL, 0, 0};
    struct gjob got;
    int res[2], status = 0, plan_w = -1;
    double t0, tf, fork_s;
    pid_t pid;
    bool whole;

    /* Rendering must never take the CPU from the loop thread, whose wake-ups time the checks:
     * this pool thread runs at the lowest priority, the renderer it starts at SCHED_IDLE. */
    worker_nice();
    t0 = graph_now_s();
    if (graph_plan_due(g, j, &pl) < 0) {
        job_fail(j, "out of memory planning a pass");
        goto out;
    }
    if (pl.n == 0) /* everything is up to date: no child */
        goto out;
    /* The renderer is a fresh process (this binary, `graph --render-plan`), not a fork: a fork
     * of this multi-threaded process could inherit a lock another thread held (the allocator's,
     * librrd's rrdcached client's) and hang. The plan goes to its stdin, its counts come back on
     * its stdout, the stop pipe is its fd 3. */
    tf = graph_now_s();
    pid = spawn_renderer(g, res, &plan_w);
    fork_s = graph_now_s() - tf;
    if (pid < 0) {
        job_fail(j, "cannot start the renderer: %s", strerror(-pid));
        goto out;
    }
    if (graph_plan_write(plan_w, g->cfg, &g->style, &pl) < 0)
        job_fail(j, "cannot hand the plan to the renderer: %s", strerror(errno));
    close(plan_w);
    whole = graph_counts_read(res[0], &got);
    close(res[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (whole) {
        /* the renderer's counts; its uv_work_t is meaningless here: keep ours */
        j->rendered += got.rendered;
        j->failed += got.failed;
        j->skipped += got.skipped;
        j->render_s = got.render_s;
        j->render_max_s = got.render_max_s;
        j->cancelled = got.cancelled;
        for (int c = 0; c < FC__COUNT; c++) {
            if (got.fail_n[c] && !j->fail_n[c])
                memcpy(j->fail_msg[c], got.fail_msg[c], sizeof(j->fail_msg[c]));
            j->fail_n[c] += got.fail_n[c];
        }
    } else {
        if (WIFSIGNALED(status))
            job_fail(j, "the renderer was killed by signal %d", WTERMSIG(status));
        else
            job_fail(j, "the renderer exited with status %d", WEXITSTATUS(status));
    }
    j->fork_s = fork_s;
out:
    j->seconds = graph_now_s() - t0;
    free(pl.rq);
}

static void finish_close(struct graph *g);

/* Back on the loop thread. */
static void pass_done(uv_work_t *req, int status)
{
    struct graph *g = container_of(req, struct graph, job.req);
    struct gjob *j = &g->job;
    struct graph_pass pass = {0};

    (void)status;
    g->busy = false;
    g->st.renders += j->rendered;
    g->st.failures += j->failed;
    g->st.skipped += j->skipped;
    g->st.render_s += j->render_s;
    if (j->render_max_s > g->st.render_max_s)
        g->st.render_max_s = j->render_max_s;
    for (int c = 0; c < FC__COUNT; c++) {
        if (j->fail_n[c] && !(g->logged & (1u << c))) {
            log_err("graphs: %zu graph%s failed: %s: %s", j->fail_n[c],
                    j->fail_n[c] == 1 ? "" : "s", fcause_str[c], j->fail_msg[c]);
            g->logged |= 1u << c;
        } else if (!j->fail_n[c] && (g->logged & (1u << c)) && !j->cancelled) {
            log_notice("graphs: drawing works again (%s is over)", fcause_str[c]);
            g->logged &= ~(1u << c);
        }
    }
    if (!j->cancelled) {
        g->st.passes++;
        g->st.last_pass_s = j->seconds;
        pass.seq = ++g->seq;
        pass.rendered = j->rendered;
        pass.failed = j->failed;
        pass.skipped = j->skipped;
        pass.seconds = j->seconds;
        pass.render_s = j->render_s;
        log_debug("graphs: pass %" PRIu64 ": %zu drawn, %zu up to date, %zu failed in %.3f s "
                  "(%.3f s rendering, fork %.2f ms)",
                  pass.seq, pass.rendered, pass.skipped, pass.failed, pass.seconds, pass.render_s,
                  j->fork_s * 1000.0);
    }
    if (g->closing) {
        finish_close(g);
        return;
    }
    if (!j->cancelled && g->pass_cb)
        g->pass_cb(g->pass_arg, &pass);
}

static void pass_start(struct graph *g)
{
    if (g->busy || g->closing)
        return;
    memset(&g->job, 0, sizeof(g->job));
    g->busy = true;
    /* uv_queue_work fails only on invalid arguments. */
    if (uv_queue_work(g->loop, &g->job.req, pass_work, pass_done) != 0) {
        g->busy = false;
        log_err("graphs: cannot queue a pass");
    }
}

static void on_timer(uv_timer_t *t)
{
    pass_start(container_of(t, struct graph, timer));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

struct graph *graph_start(uv_loop_t *loop, const struct config *cfg,
                          void (*pass_cb)(void *arg, const struct graph_pass *pass), void *arg)
{
    struct graph *g;
    size_t n = cfg->nprobes ? cfg->nprobes : 1;
    uint64_t first;

    if (!cfg->graphs.enabled)
        return NULL;
    g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    g->loop = loop;
    g->cfg = cfg;
    g->style.width = cfg->graphs.width > 0 ? (unsigned)cfg->graphs.width : GRAPH_DEF_WIDTH;
    g->style.height = cfg->graphs.height > 0 ? (unsigned)cfg->graphs.height : GRAPH_DEF_HEIGHT;
    g->style.lang = cfg->graphs.lang == LANG_EN ? LANG_EN : LANG_FR;
    g->formats = cfg->graphs.formats ? cfg->graphs.formats : (1u << GRAPH_NFORMATS) - 1;
    g->pass_cb = pass_cb;
    g->pass_arg = arg;
    g->stop_fd[0] = g->stop_fd[1] = -1;
    if (pipe(g->stop_fd) != 0) {
        g->stop_fd[0] = g->stop_fd[1] = -1;
        goto fail;
    }
    g->mt = calloc(2 * n, sizeof(*g->mt));
    g->groups = calloc(n, sizeof(*g->groups));
    if (!g->mt || !g->groups)
        goto fail;
    for (size_t i = 0; i < cfg->nprobes; i++)
        g->groups[i] = cfg->probes[i].group;
    qsort(g->groups, cfg->nprobes, sizeof(*g->groups), cmp_str);
    for (size_t i = 0; i < cfg->nprobes; i++)
        if (g->ngroups == 0 || strcmp(g->groups[g->ngroups - 1], g->groups[i]) != 0)
            g->groups[g->ngroups++] = g->groups[i];
    if (uv_timer_init(loop, &g->timer) != 0)
        goto fail;
    g->timer_open = true;
    /* The first pass as soon as the RRD writer has written the files once (rrd_flush), so that
     * graphs and dashboard appear shortly after start; then every interval. */
    first = cfg->rrd_flush_ms + 5000 < cfg->graphs.interval_ms ? cfg->rrd_flush_ms + 5000
                                                               : cfg->graphs.interval_ms;
    uv_timer_start(&g->timer, on_timer, first, cfg->graphs.interval_ms);
    /* The timer alone does not keep the loop alive (a pass in flight does). */
    uv_unref((uv_handle_t *)&g->timer);
    return g;
fail:
    if (g->stop_fd[0] >= 0) {
        close(g->stop_fd[0]);
        close(g->stop_fd[1]);
    }
    free(g->mt);
    free(g->groups);
    free(g);
    return NULL;
}

void graph_kick(struct graph *g)
{
    pass_start(g);
}

void graph_stats(const struct graph *g, struct graph_stats *out)
{
    *out = g->st;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct graph *g = container_of((uv_timer_t *)h, struct graph, timer);

    g->timer_open = false;
    finish_close(g);
}

/* Frees g once both the timer is closed and no pass is in flight. */
static void finish_close(struct graph *g)
{
    void (*cb)(void *) = g->close_cb;
    void *arg = g->close_arg;

    if (g->busy || g->timer_open)
        return;
    if (g->close_stats)
        *g->close_stats = g->st;
    close(g->stop_fd[0]);
    close(g->stop_fd[1]);
    free(g->mt);
    free(g->groups);
    free(g);
    if (cb)
        cb(arg);
}

void graph_close(struct graph *g, struct graph_stats *final, void (*cb)(void *arg), void *arg)
{
    if (g->closing)
        return;
    g->closing = true;
    g->close_stats = final;
    g->close_cb = cb;
    g->close_arg = arg;
    /* The pass in flight, if any, stops after its current render. */
    if (write(g->stop_fd[1], "", 1) != 1)
        log_warn("graphs: cannot ask the renderer to stop: %s", strerror(errno));
    uv_timer_stop(&g->timer);
    uv_close((uv_handle_t *)&g->timer, on_timer_closed);
}
