/* plan — which graphs a pass of the daemon redraws, and the renderer process that draws them.
 *
 * The pass (graph_plan_due, on a pool thread of the daemon) decides what to redraw from the
 * modification times of the RRD files and of the graphs. The renderer, `vigie graph
 * --render-plan` (graph_render_plan), reads the plan on its stdin: the settings the daemon runs
 * with, what the graphs need of every probe (it never reads vigie.yaml, which may have changed
 * since, or not load at all), then the graphs; it draws them one by one (view/draw.c), checks
 * its fd 3 (the daemon's stop pipe) between two renders, and writes its counts (a struct gjob)
 * on its stdout. The renderer closes every descriptor but 0-3, ignores SIGINT and SIGTERM
 * (systemd signals the whole cgroup) and runs at SCHED_IDLE. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/schema.h"
#include "view/graph_int.h"

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

/* The group named `name` as the configuration spells it (a string that lives as long as cfg). */
static const char *group_in(const struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nprobes; i++)
        if (strcmp(cfg->probes[i].group, name) == 0)
            return cfg->probes[i].group;
    return NULL;
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

/* Draws the plan, in the child; stops early when asked to. */
static void plan_draw(struct graph *g, struct gjob *j, const struct plan *pl)
{
    for (size_t i = 0; i < pl->n; i++) {
        const struct graph_req *rq = &pl->rq[i];
        struct pollfd pfd = {.fd = g->stop_fd[0], .events = POLLIN};
        struct graph_image img;
        char path[4096], err[600];
        int rc;

        if (poll(&pfd, 1, 0) != 0) { /* a byte, or the daemon is gone */
            j->cancelled = true;
            return;
        }
        graph_path(path, sizeof(path), g->cfg->graphs_dir, rq);
        rc = graph_draw(g->cfg, rq, &g->style, path, &img, err, sizeof(err));
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

static ssize_t write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    size_t done = 0;

    while (done < len) {
        ssize_t n = write(fd, p + done, len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return (ssize_t)done;
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

/* A plan field: tab, newline, carriage return and backslash as \t \n \r \\ (truncated to
 * the buffer, never mid-escape). */
static const char *plan_escape(char *buf, size_t len, const char *s)
{
    size_t o = 0;

    for (; s && *s && o + 3 < len; s++) {
        char e = *s == '\t' ? 't' : *s == '\n' ? 'n' : *s == '\r' ? 'r' : *s == '\\' ? '\\' : 0;

        if (e) {
            buf[o++] = '\\';
            buf[o++] = e;
        } else {
            buf[o++] = *s;
        }
    }
    buf[o] = '\0';
    return buf;
}

/* Undoes plan_escape in place. */
static char *plan_unescape(char *s)
{
    char *o = s;

    for (const char *i = s; *i; i++) {
        if (*i == '\\' && i[1]) {
            i++;
            *o++ = *i == 't' ? '\t' : *i == 'n' ? '\n' : *i == 'r' ? '\r' : *i;
        } else {
            *o++ = *i;
        }
    }
    *o = '\0';
    return s;
}

/* One plan line per graph: "<kind> <period> <format> <end> <probe id or group>", after the
 * header ("#", the directories and the style) and one "P" line per probe (id, group, name). */
int graph_plan_write(int fd, const struct graph *g, const struct plan *pl)
{
    char line[8400];
    int hl;

    /* First the settings the daemon runs with, which the file may no longer say. */
    hl = snprintf(line, sizeof(line), "#\t%s\t%s\t%u\t%u\t%d\n", g->cfg->rrd_dir,
                  g->cfg->graphs_dir, g->style.width, g->style.height, (int)g->style.lang);
    if (hl < 0 || hl >= (int)sizeof(line) || write_all(fd, line, (size_t)hl) != hl)
        return -1;
    /* Then what the graphs need of every probe, in the configuration's order (by id): the
     * renderer never reads vigie.yaml, which may have changed since (or not load at all). */
    for (size_t i = 0; i < g->cfg->nprobes; i++) {
        const struct probe *p = &g->cfg->probes[i];
        char id[512], group[1024], name[2048];
        int len = snprintf(
            line, sizeof(line), "P\t%s\t%s\t%s\n", plan_escape(id, sizeof(id), p->id),
            plan_escape(group, sizeof(group), p->group), plan_escape(name, sizeof(name), p->name));

        if (len < 0 || len >= (int)sizeof(line))
            continue;
        if (write_all(fd, line, (size_t)len) != len)
            return -1;
    }

    for (size_t i = 0; i < pl->n; i++) {
        const struct graph_req *rq = &pl->rq[i];
        const char *name = rq->probe ? rq->probe->id : rq->group ? rq->group : "";
        int len = snprintf(line, sizeof(line), "%d %d %d %lld %s\n", (int)rq->kind, (int)rq->period,
                           (int)rq->format, (long long)rq->end, name);

        if (len < 0 || len >= (int)sizeof(line))
            continue;
        if (write_all(fd, line, (size_t)len) != len)
            return -1;
    }
    return 0;
}

/* The probes of the plan's "P" lines, in plan order (the daemon's, by id). */
struct plan_probes {
    struct probe *v;
    size_t n, cap;
};

static int plan_probe_add(struct plan_probes *pp, char *fields)
{
    char *group = strchr(fields, '\t'), *name = group ? strchr(group + 1, '\t') : NULL;
    struct probe *p;

    if (!name)
        return 0; /* not a probe line */
    *group++ = '\0';
    *name++ = '\0';
    if (pp->n == pp->cap) {
        size_t cap = pp->cap ? 2 * pp->cap : 256;
        struct probe *v = realloc(pp->v, cap * sizeof(*v));

        if (!v)
            return -ENOMEM;
        pp->v = v;
        pp->cap = cap;
    }
    p = &pp->v[pp->n];
    memset(p, 0, sizeof(*p));
    p->id = strdup(plan_unescape(fields));
    p->group = strdup(plan_unescape(group));
    p->name = strdup(plan_unescape(name));
    pp->n++;
    return p->id && p->group && p->name ? 0 : -ENOMEM;
}

static int cmp_probe_id(const void *a, const void *b)
{
    return strcmp(((const struct probe *)a)->id, ((const struct probe *)b)->id);
}

int graph_render_plan(void)
{
    struct config run;
    struct plan_probes pp = {NULL, 0, 0};
    char *rrd_dir = NULL, *graphs_dir = NULL;
    struct graph g;
    struct gjob j;
    struct plan pl = {NULL, 0, 0};
    struct sched_param sp = {0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    bool sorted = false;
    FILE *in;
    int rc = 0;

    /* Runs only when nothing else wants the CPU; nothing inherited but its 4 descriptors. */
    sched_setscheduler(0, SCHED_IDLE, &sp);
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    close_inherited(1, 3);
    memset(&run, 0, sizeof(run));
    memset(&g, 0, sizeof(g));
    memset(&j, 0, sizeof(j));
    /* Everything comes from the plan: the configuration the daemon runs, not vigie.yaml. */
    g.cfg = &run;
    g.stop_fd[0] = 3;
    g.stop_fd[1] = -1;
    in = fdopen(0, "r");
    while (in && (len = getline(&line, &cap, in)) > 0) {
        struct graph_req rq = {0};
        int kind, period, format, off = 0;
        long long end;

        if (line[len - 1] == '\n')
            line[len - 1] = '\0';
        if (line[0] == '#' && line[1] == '\t') {
            char *rrd = line + 2, *gd = strchr(rrd, '\t'), *rest;
            unsigned w, h;
            int lang;

            if (!gd)
                continue;
            *gd++ = '\0';
            rest = strchr(gd, '\t');
            if (!rest || sscanf(rest + 1, "%u\t%u\t%d", &w, &h, &lang) != 3)
                continue;
            *rest = '\0';
            free(rrd_dir);
            free(graphs_dir);
            rrd_dir = strdup(rrd);
            graphs_dir = strdup(gd);
            if (!rrd_dir || !graphs_dir) {
                rc = -ENOMEM;
                break;
            }
            run.rrd_dir = rrd_dir;
            run.graphs_dir = graphs_dir;
            g.style.width = w;
            g.style.height = h;
            g.style.lang = (enum graph_lang)lang;
            continue;
        }
        if (line[0] == 'P' && line[1] == '\t') {
            if (plan_probe_add(&pp, line + 2) < 0) {
                rc = -ENOMEM;
                break;
            }
            sorted = false;
            continue;
        }
        if (!sorted) {
            /* config_find needs them by id: the daemon sends them so, this makes sure */
            if (pp.n > 1)
                qsort(pp.v, pp.n, sizeof(*pp.v), cmp_probe_id);
            run.probes = pp.v;
            run.nprobes = pp.n;
            sorted = true;
        }
        if (sscanf(line, "%d %d %d %lld %n", &kind, &period, &format, &end, &off) != 4)
            continue;
        rq.kind = (enum graph_kind)kind;
        rq.period = (enum graph_period)period;
        rq.format = (enum graph_format)format;
        rq.end = (time_t)end;
        if (rq.kind == GRAPH_LATENCY || rq.kind == GRAPH_AVAIL) {
            rq.probe = config_find(&run, line + off);
            if (!rq.probe) {
                j.skipped++; /* not in the plan's probes */
                continue;
            }
        } else if (rq.kind == GRAPH_GROUP) {
            rq.group = group_in(&run, line + off);
            if (!rq.group) {
                j.skipped++;
                continue;
            }
        }
        if (graph_plan_add(&pl, &rq) < 0) {
            rc = -ENOMEM;
            break;
        }
    }
    free(line);
    if (in)
        fclose(in);
    if (rc == 0 && run.rrd_dir)
        plan_draw(&g, &j, &pl);
    free(pl.rq);
    free(rrd_dir);
    free(graphs_dir);
    for (size_t i = 0; i < pp.n; i++) {
        free(pp.v[i].id);
        free(pp.v[i].group);
        free(pp.v[i].name);
    }
    free(pp.v);
    if (write_all(1, &j, sizeof(j)) != (ssize_t)sizeof(j))
        rc = -EIO;
    return rc;
}
