/* plan — which graphs a pass of the daemon redraws, and the renderer process that draws them.
 *
 * The pass (graph_plan_due, on a pool thread of the daemon) decides what to redraw from the
 * modification times of the RRD files and of the graphs. The renderer, `vigie graph
 * --render-plan` (graph_render_plan), reads the plan on its stdin, one JSON object per line: the
 * settings the daemon runs with, what the graphs need of every probe (it never reads vigie.yaml,
 * which may have changed since, or not load at all), then the graphs (graph_plan_write has the
 * format); it draws them one by one (view/draw.c), checks its fd 3 (the daemon's stop pipe)
 * between two renders, and writes its counts (a struct gjob) on its stdout. The renderer closes
 * every descriptor but 0-3, ignores SIGINT and SIGTERM (systemd signals the whole cgroup) and
 * runs at SCHED_IDLE. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsx.h"
#include "base/log.h"
#include "store/schema.h"
#include "view/graph_int.h"

/* ---- the plan of a pass --------------------------------------------------------------------- */

static int ts_cmp(const struct timespec *a, const struct timespec *b)
{
    if (a->tv_sec != b->tv_sec)
        return a->tv_sec < b->tv_sec ? -1 : 1;
    return a->tv_nsec < b->tv_nsec ? -1 : a->tv_nsec > b->tv_nsec;
}

static void ts_max(struct timespec *acc, const struct timespec *t)
{
    if (ts_cmp(t, acc) > 0)
        *acc = *t;
}

/* The newest modification of the RRD files graph rq is drawn from; 0 when one it needs is
 * missing (a probe graph) or when none exists (an overview or group). */
static struct timespec deps_mtime(const struct graph *g, const struct graph_req *rq)
{
    const struct config *cfg = g->cfg;
    struct timespec t = {0, 0};

    if (rq->kind == GRAPH_LATENCY || rq->kind == GRAPH_AVAIL) {
        const struct timespec *m = &g->mt[2 * (size_t)(rq->probe - cfg->probes)];

        if (m[0].tv_sec == 0 || (rq->kind == GRAPH_LATENCY && m[1].tv_sec == 0))
            return t;
        t = m[0];
        if (rq->kind == GRAPH_LATENCY)
            ts_max(&t, &m[1]);
        return t;
    }
    for (size_t i = 0; i < cfg->nprobes; i++)
        if (graph_covers(&cfg->probes[i], rq->kind == GRAPH_GROUP ? rq->group : NULL))
            ts_max(&t, &g->mt[2 * i]);
    return t;
}

int graph_plan_add(struct plan *pl, const struct graph_req *rq)
{
    if (pl->n == pl->cap) {
        size_t cap = pl->cap ? 2 * pl->cap : 256;
        struct graph_req *v = realloc(pl->rq, cap * sizeof(*v));

        if (!v)
            return -ENOMEM;
        pl->rq = v;
        pl->cap = cap;
    }
    pl->rq[pl->n++] = *rq;
    return 0;
}

/* One graph of a pass: to be redrawn when missing, or when its data changed after it was
 * written and it is older than one pixel column of its period. In the daemon, on the pool
 * thread. Returns -ENOMEM or 0. */
static int plan_one(struct graph *g, struct gjob *j, struct plan *pl, const struct graph_req *rq,
                    time_t now)
{
    struct timespec dep = deps_mtime(g, rq);
    char path[4096];
    struct stat sb;
    time_t column = graph_period_span(rq->period) / (time_t)g->style.width;

    if (dep.tv_sec == 0 || graph_path(path, sizeof(path), g->cfg->graphs_dir, rq) < 0) {
        j->skipped++;
        return 0;
    }
    if (stat(path, &sb) == 0 &&
        (ts_cmp(&dep, &sb.st_mtim) <= 0 || now - sb.st_mtim.tv_sec < column)) {
        j->skipped++;
        return 0;
    }
    return graph_plan_add(pl, rq);
}

/* Which graphs the pass draws: the RRD files' and the graphs' modification times, on the pool
 * thread of the daemon. Day graphs first: they change most often. */
int graph_plan_due(struct graph *g, struct gjob *j, struct plan *pl)
{
    const struct config *cfg = g->cfg;
    char path[4096];
    time_t now = time(NULL);
    int rc = 0;

    for (size_t i = 0; i < cfg->nprobes; i++) {
        struct stat sb;

        for (int k = 0; k < 2; k++) {
            struct timespec *m = &g->mt[2 * i + (size_t)k];

            schema_path(path, sizeof(path), cfg->rrd_dir, cfg->probes[i].id, (enum schema_file)k);
            if (stat(path, &sb) == 0)
                *m = sb.st_mtim;
            else
                m->tv_sec = m->tv_nsec = 0;
        }
    }
    for (int per = 0; per < GRAPH_NPERIODS && rc == 0; per++) {
        for (int f = 0; f < GRAPH_NFORMATS && rc == 0; f++) {
            struct graph_req rq = {.period = (enum graph_period)per,
                                   .format = (enum graph_format)f};

            if (!(g->formats & (1u << f)))
                continue;
            rq.kind = GRAPH_OVERVIEW;
            rc = plan_one(g, j, pl, &rq, now);
            rq.kind = GRAPH_GROUP;
            for (size_t k = 0; k < g->ngroups && rc == 0; k++) {
                rq.group = g->groups[k];
                rc = plan_one(g, j, pl, &rq, now);
            }
            rq.group = NULL;
            for (size_t i = 0; i < cfg->nprobes && rc == 0; i++) {
                rq.probe = &cfg->probes[i];
                rq.kind = GRAPH_LATENCY;
                rc = plan_one(g, j, pl, &rq, now);
                rq.kind = GRAPH_AVAIL;
                if (rc == 0)
                    rc = plan_one(g, j, pl, &rq, now);
            }
        }
    }
    return rc;
}
/* ---- the plan on the renderer's stdin: JSON lines ----------------------------------------- */

/* Writes o (taken) as one line of compact JSON (json_dumps escapes every control character:
 * no newline inside). Returns 0; 1 when o cannot be written (NULL, a string that is not UTF-8,
 * out of memory); -1 on a write error. */
static int write_line(int fd, json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    int rc = 1;

    json_decref(o);
    if (s) {
        size_t len = strlen(s);

        rc = fsx_write_all(fd, s, len) == 0 && fsx_write_all(fd, "\n", 1) == 0 ? 0 : -1;
        free(s);
    }
    return rc;
}

/* One JSON object per line:
 *   {"type":"settings","rrd_dir":…,"graphs_dir":…,"width":720,"height":200,"lang":"fr"}
 * then one per probe, in the configuration's order (by id),
 *   {"type":"probe","id":…,"group":…,"name":…}
 * then one per graph ("probe": its id for a latency or avail graph, "group" for a group graph)
 *   {"type":"graph","kind":"latency","period":"day","format":"png","end":0,"probe":…} */
int graph_plan_write(int fd, const struct config *cfg, const struct graph_style *st,
                     const struct plan *pl)
{
    int rc;

    /* First the settings the daemon runs with, which the file may no longer say. */
    rc = write_line(fd, json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "type", "settings", "rrd_dir",
                                  cfg->rrd_dir, "graphs_dir", cfg->graphs_dir, "width",
                                  (json_int_t)st->width, "height", (json_int_t)st->height, "lang",
                                  lang_name(st->lang)));
    if (rc != 0) {
        if (rc > 0)
            errno = EINVAL;
        return -1;
    }
    /* Then what the graphs need of every probe: the renderer never reads vigie.yaml, which may
     * have changed since (or not load at all). A probe or a graph that cannot be written is left
     * out. */
    for (size_t i = 0; i < cfg->nprobes; i++) {
        const struct probe *p = &cfg->probes[i];

        if (write_line(fd, json_pack("{s:s, s:s, s:s, s:s}", "type", "probe", "id", p->id, "group",
                                     p->group, "name", p->name)) < 0)
            return -1;
    }
    for (size_t i = 0; i < pl->n; i++) {
        const struct graph_req *rq = &pl->rq[i];

        if (write_line(
                fd, json_pack("{s:s, s:s, s:s, s:s, s:I, s:s*, s:s*}", "type", "graph", "kind",
                              graph_kind_name(rq->kind), "period", graph_period_name(rq->period),
                              "format", graph_format_name(rq->format), "end", (json_int_t)rq->end,
                              "probe", rq->probe ? rq->probe->id : NULL, "group", rq->group)) < 0)
            return -1;
    }
    return 0;
}

/* A line of the plan that is not one the daemon writes: reported with its number, skipped. */
static int plan_bad(size_t lineno, const char *why)
{
    log_err("graphs: renderer: plan line %zu: %s", lineno, why);
    return 0;
}

/* The group named `name` as the plan's probes spell it (a string that lives as long as they). */
static const char *group_in(const struct config *cfg, const char *name)
{
    for (size_t i = 0; name && i < cfg->nprobes; i++)
        if (strcmp(cfg->probes[i].group, name) == 0)
            return cfg->probes[i].group;
    return NULL;
}

static int read_settings(struct plan_in *pi, json_t *o, size_t lineno)
{
    const char *rrd, *gd, *lang;
    json_int_t w, h;
    json_error_t je;
    enum lang l = LANG_FR;
    int lrc;

    if (json_unpack_ex(o, &je, 0, "{s:s, s:s, s:I, s:I, s:s}", "rrd_dir", &rrd, "graphs_dir", &gd,
                       "width", &w, "height", &h, "lang", &lang) != 0)
        return plan_bad(lineno, je.text);
    lrc = lang_parse(lang, &l);
    if (w < 0 || w > UINT_MAX || h < 0 || h > UINT_MAX || lrc < 0)
        return plan_bad(lineno, "width, height or lang out of range");
    free(pi->run.rrd_dir);
    free(pi->run.graphs_dir);
    pi->run.rrd_dir = strdup(rrd);
    pi->run.graphs_dir = strdup(gd);
    if (!pi->run.rrd_dir || !pi->run.graphs_dir)
        return -ENOMEM;
    pi->style.width = (unsigned)w;
    pi->style.height = (unsigned)h;
    pi->style.lang = l;
    return 0;
}

static int read_probe(struct plan_in *pi, json_t *o, size_t lineno)
{
    const char *id, *group, *name;
    json_error_t je;
    struct probe *p;

    if (json_unpack_ex(o, &je, 0, "{s:s, s:s, s:s}", "id", &id, "group", &group, "name", &name) !=
        0)
        return plan_bad(lineno, je.text);
    if (pi->run.nprobes == pi->probes_cap) {
        size_t cap = pi->probes_cap ? 2 * pi->probes_cap : 256;
        struct probe *v = realloc(pi->run.probes, cap * sizeof(*v));

        if (!v)
            return -ENOMEM;
        pi->run.probes = v;
        pi->probes_cap = cap;
    }
    p = &pi->run.probes[pi->run.nprobes];
    memset(p, 0, sizeof(*p));
    p->id = strdup(id);
    p->group = strdup(group);
    p->name = strdup(name);
    pi->run.nprobes++;
    return p->id && p->group && p->name ? 0 : -ENOMEM;
}

static int cmp_probe_id(const void *a, const void *b)
{
    return strcmp(((const struct probe *)a)->id, ((const struct probe *)b)->id);
}

static int read_graph(struct plan_in *pi, json_t *o, size_t lineno)
{
    const char *kind, *period, *format, *probe = NULL, *group = NULL;
    struct graph_req rq = {0};
    json_int_t end;
    json_error_t je;
    int k, per, f;

    if (json_unpack_ex(o, &je, 0, "{s:s, s:s, s:s, s:I, s?s, s?s}", "kind", &kind, "period",
                       &period, "format", &format, "end", &end, "probe", &probe, "group",
                       &group) != 0)
        return plan_bad(lineno, je.text);
    k = graph_kind_parse(kind);
    per = graph_period_parse(period);
    f = graph_format_parse(format);
    if (k < 0 || per < 0 || f < 0)
        return plan_bad(lineno, "unknown kind, period or format");
    rq.kind = (enum graph_kind)k;
    rq.period = (enum graph_period)per;
    rq.format = (enum graph_format)f;
    rq.end = (time_t)end;
    if (rq.kind == GRAPH_LATENCY || rq.kind == GRAPH_AVAIL) {
        rq.probe = config_find(&pi->run, probe);
        if (!rq.probe) {
            pi->skipped++; /* not in the plan's probes */
            return 0;
        }
    } else if (rq.kind == GRAPH_GROUP) {
        rq.group = group_in(&pi->run, group);
        if (!rq.group) {
            pi->skipped++;
            return 0;
        }
    }
    return graph_plan_add(&pi->pl, &rq);
}

int graph_plan_read(FILE *in, struct plan_in *pi)
{
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t len;
    bool graphs = false; /* a graph came: the probes are sorted, and fixed (graphs point at them) */
    int rc = 0;

    memset(pi, 0, sizeof(*pi));
    while (rc == 0 && in && (len = getline(&line, &cap, in)) > 0) {
        const char *type;
        json_error_t je;
        json_t *o;

        lineno++;
        o = json_loadb(line, (size_t)len, 0, &je);
        if (!o) {
            plan_bad(lineno, je.text);
            continue;
        }
        if (json_unpack_ex(o, &je, 0, "{s:s}", "type", &type) != 0) {
            rc = plan_bad(lineno, je.text);
        } else if (strcmp(type, "settings") == 0) {
            rc = read_settings(pi, o, lineno);
        } else if (strcmp(type, "probe") == 0) {
            rc = graphs ? plan_bad(lineno, "a probe after the graphs") : read_probe(pi, o, lineno);
        } else if (strcmp(type, "graph") == 0) {
            /* config_find needs the probes by id: the daemon sends them so, this makes sure */
            if (!graphs && pi->run.nprobes > 1)
                qsort(pi->run.probes, pi->run.nprobes, sizeof(*pi->run.probes), cmp_probe_id);
            graphs = true;
            rc = read_graph(pi, o, lineno);
        } else {
            rc = plan_bad(lineno, "unknown type");
        }
        json_decref(o);
    }
    free(line);
    return rc;
}

void graph_plan_in_fini(struct plan_in *pi)
{
    for (size_t i = 0; i < pi->run.nprobes; i++) {
        free(pi->run.probes[i].id);
        free(pi->run.probes[i].group);
        free(pi->run.probes[i].name);
    }
    free(pi->run.probes);
    free(pi->run.rrd_dir);
    free(pi->run.graphs_dir);
    free(pi->pl.rq);
    memset(pi, 0, sizeof(*pi));
}

bool graph_counts_read(int fd, struct gjob *out)
{
    char *p = (char *)out;
    size_t done = 0;

    while (done < sizeof(*out)) {
        ssize_t n = read(fd, p + done, sizeof(*out) - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    return done == sizeof(*out);
}

/* ---- the renderer ------------------------------------------------------------------------- */

/* In the child: closes every inherited descriptor but stdio and keep[0..1]. The daemon's
 * sockets, its epoll and signal descriptors must not outlive their closing in the daemon (a
 * connection the daemon closed would stay open while the child holds a copy). */
static void close_inherited(int keep0, int keep1)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;

    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);

        if (*end || end == e->d_name || fd <= 2 || fd == keep0 || fd == keep1 || fd == dirfd(d))
            continue;
        close((int)fd);
    }
    closedir(d);
}

static enum fcause fcause_of(int rc)
{
    switch (-rc) {
    case EIO:
        return FC_RENDER;
    case EACCES:
    case EPERM:
    case EROFS:
        return FC_ACCESS;
    case ENOSPC:
    case EDQUOT:
        return FC_SPACE;
    default:
        return FC_OTHER;
    }
}

/* Draws the plan, in the renderer; stops early when asked to (a byte on stop_fd, or its end of
 * file). */
static void plan_draw(const struct config *cfg, const struct graph_style *st, int stop_fd,
                      struct gjob *j, const struct plan *pl)
{
    for (size_t i = 0; i < pl->n; i++) {
        const struct graph_req *rq = &pl->rq[i];
        struct pollfd pfd = {.fd = stop_fd, .events = POLLIN};
        struct graph_image img;
        char path[4096], err[600];
        int rc;

        if (poll(&pfd, 1, 0) != 0) { /* a byte, or the daemon is gone */
            j->cancelled = true;
            return;
        }
        graph_path(path, sizeof(path), cfg->graphs_dir, rq);
        rc = graph_draw(cfg, rq, st, path, &img, err, sizeof(err));
        j->render_s += img.seconds;
        if (img.seconds > j->render_max_s)
            j->render_max_s = img.seconds;
        if (rc == 0) {
            j->rendered++;
        } else if (rc == -ENOENT) {
            j->skipped++; /* a file went away since the pass looked: nothing to draw */
        } else {
            enum fcause c = fcause_of(rc);

            j->failed++;
            if (j->fail_n[c]++ == 0)
                snprintf(j->fail_msg[c], sizeof(j->fail_msg[c]), "%s", err);
        }
    }
}

/* Linux's SCHED_IDLE (not visible under _POSIX_C_SOURCE): the renderer runs only when nothing
 * else wants the CPU. */
#ifndef SCHED_IDLE
#define SCHED_IDLE 5
#endif

int graph_render_plan(void)
{
    struct plan_in pi;
    struct gjob j;
    struct sched_param sp = {0};
    FILE *in;
    int rc;

    /* Runs only when nothing else wants the CPU; nothing inherited but its 4 descriptors. */
    sched_setscheduler(0, SCHED_IDLE, &sp);
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    close_inherited(1, 3);
    memset(&j, 0, sizeof(j));
    /* Everything comes from the plan: the configuration the daemon runs, not vigie.yaml. */
    in = fdopen(0, "r");
    rc = graph_plan_read(in, &pi);
    if (in)
        fclose(in);
    j.skipped = pi.skipped;
    if (rc == 0 && pi.run.rrd_dir)
        plan_draw(&pi.run, &pi.style, 3, &j, &pi.pl);
    graph_plan_in_fini(&pi);
    if (fsx_write_all(1, &j, sizeof(j)) != 0)
        rc = -EIO;
    return rc;
}
