/* graph — drawing the RRD files with librrd, and the daemon's graph timer.
 *
 * Drawing: each graph is one rrd_graph_v call whose arguments are built here (DEF, CDEF, AREA…,
 * as `rrdtool graph` takes them). The arguments live in a `struct args` (owned strings). The
 * numbers of the legend do not come from rrdtool's GPRINT but from rrdq_summary over the very
 * window drawn (the graph's --start/--end are the summary's row-aligned window), written as
 * COMMENT lines: the dashboard and the reports read the same function, so they all agree.
 *
 * rrd_graph_v keeps global state (its option parser, fonts, pango), so the process renders one
 * graph at a time: the one static mutex below, the only global of this module.
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

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rrd.h>

#include "base/container.h"
#include "base/log.h"
#include "base/worker.h"
#include "store/criterion.h"
#include "store/rrdq.h"
#include "store/schema.h"

#define DEF_WIDTH 720
#define DEF_HEIGHT 200
#define DAY_S 86400
#define CHUNK 64      /* probes summed per CDEF in an overview (keeps each expression short) */
#define TITLE_MAX 90  /* bytes of a probe's name or group in a title */
#define TEXT_MAX 1024 /* one legend or title argument */

/* ---- names -------------------------------------------------------------------------------- */

static const char *const period_names[GRAPH_NPERIODS] = {"day", "week", "month", "quarter", "year"};
static const time_t period_spans[GRAPH_NPERIODS] = {DAY_S, 7 * DAY_S, 31 * DAY_S, 92 * DAY_S,
                                                    365 * DAY_S};
/* The window of the rolling availability: for a year, the criterion's own three months. */
static const time_t roll_spans[GRAPH_NPERIODS] = {3600, DAY_S, 7 * DAY_S, 30 * DAY_S, 92 * DAY_S};
/* Time axis: numeric labels, so that no locale is needed (rrdtool --x-grid). */
static const char *const x_grids[GRAPH_NPERIODS] = {
    "HOUR:1:HOUR:3:HOUR:3:0:%H:%M",    "HOUR:6:DAY:1:DAY:1:86400:%d/%m",
    "DAY:1:WEEK:1:WEEK:1:0:%d/%m",     "WEEK:1:MONTH:1:MONTH:1:0:%d/%m",
    "MONTH:1:MONTH:1:MONTH:1:0:%m/%Y",
};
static const char *const format_names[GRAPH_NFORMATS] = {"png", "svg"};
static const char *const format_rrd[GRAPH_NFORMATS] = {"PNG", "SVG"};
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

int graph_lang_parse(const char *s)
{
    static const char *const langs[] = {"fr", "en"};

    return find_name(langs, 2, s);
}

time_t graph_period_span(enum graph_period p)
{
    return (unsigned)p < GRAPH_NPERIODS ? period_spans[p] : DAY_S;
}

/* ---- labels ------------------------------------------------------------------------------- */

struct labels {
    const char *period[GRAPH_NPERIODS];
    const char *roll[GRAPH_NPERIODS];
    const char *latency, *avail, *overview, *group;
    const char *dns, *connect, *tls, *server, *transfer, *median, *minmax, *not_checked;
    const char *fast_line, *slow_line;
    const char *up, *down_share, *rolling, *right, *green_line, *red_line;
    const char *ok, *slow, *down;
    const char *axis_ms, *axis_pct, *axis_roll, *axis_count;
    const char *availability, *median_l, *p95, *checks, *last, *failed, *none, *now, *max;
    const char *cls[4];
    char decimal;
};

static const struct labels labels[2] = {
    [GRAPH_FR] =
        {
            .period = {"jour", "semaine", "mois", "trimestre", "année"},
            .roll = {"1 h", "24 h", "7 jours", "30 jours", "3 mois"},
            .latency = "temps de réponse",
            .avail = "disponibilité",
            .overview = "Toutes les démarches",
            .group = "démarches",
            .dns = "DNS",
            .connect = "connexion TCP",
            .tls = "TLS",
            .server = "réponse du serveur",
            .transfer = "transfert",
            .median = "médiane",
            .minmax = "min – max",
            .not_checked = "non vérifié",
            .fast_line = "400 ms (vert en dessous)",
            .slow_line = "800 ms (rouge au-delà)",
            .up = "disponible",
            .down_share = "indisponible",
            .rolling = "disponibilité glissante sur",
            .right = "(échelle de droite)",
            .green_line = "99,9 % (vert)",
            .red_line = "98,5 % (rouge en dessous)",
            .ok = "ok (moins de 800 ms)",
            .slow = "lentes (800 ms ou plus)",
            .down = "en panne",
            .axis_ms = "millisecondes",
            .axis_pct = "% des contrôles",
            .axis_roll = "disponibilité glissante %",
            .axis_count = "démarches",
            .availability = "Disponibilité",
            .median_l = "médiane",
            .p95 = "p95",
            .checks = "contrôles",
            .last = "Dernier contrôle",
            .failed = "échec",
            .none = "aucun",
            .now = "maintenant",
            .max = "max",
            .cls = {"", "vert", "jaune", "rouge"},
            .decimal = ',',
        },
    [GRAPH_EN] =
        {
            .period = {"day", "week", "month", "quarter", "year"},
            .roll = {"1 h", "24 h", "7 days", "30 days", "3 months"},
            .latency = "response time",
            .avail = "availability",
            .overview = "All procedures",
            .group = "procedures",
            .dns = "DNS",
            .connect = "TCP connect",
            .tls = "TLS",
            .server = "server response",
            .transfer = "transfer",
            .median = "median",
            .minmax = "min – max",
            .not_checked = "not checked",
            .fast_line = "400 ms (green below)",
            .slow_line = "800 ms (red above)",
            .up = "up",
            .down_share = "down",
            .rolling = "rolling availability over",
            .right = "(right axis)",
            .green_line = "99.9 % (green)",
            .red_line = "98.5 % (red below)",
            .ok = "ok (under 800 ms)",
            .slow = "slow (800 ms or more)",
            .down = "down",
            .axis_ms = "milliseconds",
            .axis_pct = "% of checks",
            .axis_roll = "rolling availability %",
            .axis_count = "procedures",
            .availability = "Availability",
            .median_l = "median",
            .p95 = "p95",
            .checks = "checks",
            .last = "Last check",
            .failed = "failed",
            .none = "none",
            .now = "now",
            .max = "max",
            .cls = {"", "green", "yellow", "red"},
            .decimal = '.',
        },
};

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

/* ---- the argument list of one rrd_graph_v call -------------------------------------------- */

struct args {
    char **v;
    int n, cap;
    bool nomem;
};

static void args_add(struct args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void args_add(struct args *a, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    int len;

    if (a->nomem)
        return;
    if (a->n + 1 >= a->cap) {
        int cap = a->cap ? a->cap * 2 : 64;
        char **v = realloc(a->v, (size_t)cap * sizeof(*v));

        if (!v) {
            a->nomem = true;
            return;
        }
        a->v = v;
        a->cap = cap;
    }
    va_start(ap, fmt);
    len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (len >= 0)
        s = malloc((size_t)len + 1);
    if (!s) {
        a->nomem = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(s, (size_t)len + 1, fmt, ap);
    va_end(ap);
    a->v[a->n++] = s;
    a->v[a->n] = NULL;
}

static void args_fini(struct args *a)
{
    for (int i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
    memset(a, 0, sizeof(*a));
}

/* Text for a legend or COMMENT: ':' escaped (rrdtool's separator), '\' replaced (it would start
 * one of rrdtool's formatting codes), at most `max` bytes of the source cut on a UTF-8 boundary
 * with an ellipsis. */
static const char *esc(char *buf, size_t len, const char *s, size_t max)
{
    size_t n = 0, i;

    for (i = 0; s[i] && n + 4 < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (i >= max && (c & 0xC0) != 0x80) {
            if (n + 4 < len) {
                memcpy(buf + n, "\xe2\x80\xa6", 3); /* … */
                n += 3;
            }
            break;
        }
        if (c == ':')
            buf[n++] = '\\';
        buf[n++] = c == '\\' ? '/' : (char)c;
    }
    buf[n] = '\0';
    return buf;
}

/* A DEF's file name: ':' must be escaped there too. */
static const char *esc_path(char *buf, size_t len, const char *s)
{
    return esc(buf, len, s, (size_t)-1);
}

/* ---- numbers of the legend ---------------------------------------------------------------- */

static void with_decimal(char *s, char decimal)
{
    for (; *s; s++)
        if (*s == '.')
            *s = decimal;
}

static const char *fmt_pct(char *buf, size_t len, double frac, const struct labels *L)
{
    char pct[32];

    if (isnan(frac))
        snprintf(buf, len, "–");
    else
        snprintf(buf, len, "%s %%", criterion_pct(pct, sizeof(pct), frac, 3));
    with_decimal(buf, L->decimal);
    return buf;
}

static const char *fmt_ms(char *buf, size_t len, double ms)
{
    if (isnan(ms))
        snprintf(buf, len, "–");
    else if (isinf(ms))
        snprintf(buf, len, "> %u ms", schema_bounds_ms[SCHEMA_NBUCKETS - 1]);
    else
        snprintf(buf, len, "%.0f ms", ms);
    return buf;
}

/* Two COMMENT lines from the summary: availability, median, p95, checks; the last check. */
static void add_summary(struct args *a, const struct rrdq_summary *s, const struct labels *L)
{
    char av[32], med[32], p95[32], last[64], when[32];
    enum criterion_class c = criterion_avail_class(s->availability);

    args_add(a, "COMMENT:\\s");
    args_add(a, "COMMENT:%s %s%s%s%s · %s %s · %s %s · %.0f %s\\l", L->availability,
             fmt_pct(av, sizeof(av), s->availability, L), c != CRITERION_NONE ? " (" : "",
             L->cls[c], c != CRITERION_NONE ? ")" : "", L->median_l,
             fmt_ms(med, sizeof(med), s->median_ms), L->p95, fmt_ms(p95, sizeof(p95), s->p95_ms),
             s->samples, L->checks);
    if (s->last_time == 0) {
        args_add(a, "COMMENT:%s \\: %s\\l", L->last, L->none);
        return;
    }
    {
        struct tm tm;
        time_t t = s->last_time;

        localtime_r(&t, &tm);
        strftime(when, sizeof(when), "%d/%m/%Y %H\\:%M", &tm);
    }
    if (s->last_up)
        snprintf(last, sizeof(last), "ok, %s", fmt_ms(med, sizeof(med), s->last_total_ms));
    else
        snprintf(last, sizeof(last), "%s", L->failed);
    args_add(a, "COMMENT:%s %s \\: %s\\l", L->last, when, last);
}

/* ---- the graphs --------------------------------------------------------------------------- */

static void add_common(struct args *a, const struct graph_req *rq, const struct graph_style *st,
                       time_t start, time_t end, const char *title)
{
    args_add(a, "--imgformat");
    args_add(a, "%s", format_rrd[rq->format]);
    args_add(a, "--start");
    args_add(a, "%lld", (long long)start);
    /* rrdtool fetches one row past an aligned --end (it labels rows by their end); end − 1
     * keeps the row (end − step, end] the last one, as rrdq does. */
    args_add(a, "--end");
    args_add(a, "%lld", (long long)end - 1);
    args_add(a, "--width");
    args_add(a, "%u", st->width);
    args_add(a, "--height");
    args_add(a, "%u", st->height);
    args_add(a, "--title");
    args_add(a, "%s", title);
    if (!rq->span) {
        args_add(a, "--x-grid");
        args_add(a, "%s", x_grids[rq->period]);
    }
    args_add(a, "--lower-limit");
    args_add(a, "0");
    args_add(a, "--units-exponent");
    args_add(a, "0");
    args_add(a, "--color");
    args_add(a, "BACK#ffffff");
    args_add(a, "--color");
    args_add(a, "CANVAS#ffffff");
}

/* Nested IFs over the buckets: for the first bucket i whose share reaches t, the value
 * `val(i)`; past the last bucket, `dflt`. RPN: c0,v0,c1,v1,…,c6,v6,dflt,IF,…,IF. */
static void add_bucket_chain(struct args *a, const char *name, int which)
{
    char expr[2048];
    size_t n = 0;
    unsigned last = schema_bounds_ms[SCHEMA_NBUCKETS - 1];

    n += (size_t)snprintf(expr + n, sizeof(expr) - n, "CDEF:%s=", name);
    for (int i = 0; i < SCHEMA_NBUCKETS && n < sizeof(expr); i++) {
        unsigned lo = i ? schema_bounds_ms[i - 1] : 0, hi = schema_bounds_ms[i];
        char lp[16];

        if (i)
            snprintf(lp, sizeof(lp), "b%d", i - 1);
        else
            snprintf(lp, sizeof(lp), "0");
        n += (size_t)snprintf(expr + n, sizeof(expr) - n, "b%d,t,GE,", i);
        if (n >= sizeof(expr))
            break;
        if (which == 0) /* linear interpolation inside the bucket */
            n += (size_t)snprintf(expr + n, sizeof(expr) - n, "t,%s,-,b%d,%s,-,/,%u,*,%u,+,", lp, i,
                                  lp, hi - lo, lo);
        else
            n += (size_t)snprintf(expr + n, sizeof(expr) - n, "%u,", which == 1 ? lo : hi);
    }
    if (n < sizeof(expr)) {
        if (which == 2)
            n += (size_t)snprintf(expr + n, sizeof(expr) - n, "INF");
        else
            n += (size_t)snprintf(expr + n, sizeof(expr) - n, "%u", last);
    }
    for (int i = 0; i < SCHEMA_NBUCKETS && n < sizeof(expr); i++)
        n += (size_t)snprintf(expr + n, sizeof(expr) - n, ",IF");
    if (n >= sizeof(expr))
        a->nomem = true;
    else
        args_add(a, "%s", expr);
}

static void build_latency(struct args *a, const struct graph_req *rq, const struct graph_style *st,
                          const struct labels *L, const char *crit, const char *phases,
                          const struct rrdq_summary *s, const char *title)
{
    add_common(a, rq, st, s->start, s->end, title);
    args_add(a, "--vertical-label");
    args_add(a, "%s", L->axis_ms);
    args_add(a, "DEF:dns=%s:dns:AVERAGE", phases);
    args_add(a, "DEF:con=%s:connect:AVERAGE", phases);
    args_add(a, "DEF:tls=%s:tls:AVERAGE", phases);
    args_add(a, "DEF:fb=%s:ttfb:AVERAGE", phases);
    args_add(a, "DEF:tot=%s:total:AVERAGE", phases);
    args_add(a, "DEF:tmin=%s:total:MIN", phases);
    args_add(a, "DEF:tmax=%s:total:MAX", phases);
    args_add(a, "DEF:up=%s:up:AVERAGE", crit);
    args_add(a, "DEF:valid=%s:valid:AVERAGE", crit);
    args_add(a, "DEF:ctot=%s:total:AVERAGE", crit);
    for (int i = 0; i < SCHEMA_NBUCKETS; i++)
        args_add(a, "DEF:b%d=%s:le_%u:AVERAGE", i, crit, schema_bounds_ms[i]);
    /* Not checked: no counted sample (missed ticks, flagged samples, vigie not running). */
    args_add(a, "CDEF:nock=up,UN,1,valid,0,EQ,IF");
    /* The phases are cumulative end times (seconds): each part is a difference, in ms, 0 where
     * unknown so that the stack stays a stack. */
    args_add(a, "CDEF:p1=dns,1000,*");
    args_add(a, "CDEF:p2=con,dns,-,1000,*,0,MAX");
    args_add(a, "CDEF:p3=tls,con,-,1000,*,0,MAX");
    args_add(a, "CDEF:p4=fb,tls,UN,con,tls,IF,-,1000,*,0,MAX");
    args_add(a, "CDEF:p5=tot,fb,-,1000,*,0,MAX");
    for (int i = 1; i <= 5; i++)
        args_add(a, "CDEF:z%d=p%d,UN,0,p%d,IF", i, i, i);
    /* The median of successful checks, read off the buckets as rrdq does (linear inside the
     * bucket that holds it); where the mean of `total` lies in that same bucket it is used
     * instead (exact for a row holding one check). */
    args_add(a, "CDEF:t=up,0.5,*");
    add_bucket_chain(a, "mi", 0);
    add_bucket_chain(a, "mlo", 1);
    add_bucket_chain(a, "mhi", 2);
    args_add(a, "CDEF:mean=ctot,1000,*");
    args_add(a, "CDEF:mb=mean,UN,mi,mean,mlo,GE,mean,mhi,LT,*,mean,mi,IF,IF");
    args_add(a, "CDEF:med=up,UN,UNKN,up,0,GT,mb,UNKN,IF,IF");
    args_add(a, "CDEF:smin=tmin,1000,*");
    args_add(a, "CDEF:sband=tmax,tmin,-,1000,*");

    /* Two spaces: rrdtool draws a TICK's legend box over the start of its text. */
    args_add(a, "TICK:nock#c8c8c8:1.0:  %s", L->not_checked);
    args_add(a, "AREA:z1#7b1fa2:%s", L->dns);
    args_add(a, "AREA:z2#1976d2:%s:STACK", L->connect);
    args_add(a, "AREA:z3#00838f:%s:STACK", L->tls);
    args_add(a, "AREA:z4#f9a825:%s:STACK", L->server);
    args_add(a, "AREA:z5#8bc34a:%s\\l:STACK", L->transfer);
    args_add(a, "AREA:smin");
    args_add(a, "AREA:sband#00000038:%s:STACK", L->minmax);
    args_add(a, "LINE2:med#000000:%s", L->median);
    args_add(a, "HRULE:%u#ef6c00:%s:dashes", schema_bounds_ms[1], L->fast_line);
    args_add(a, "HRULE:%u#c62828:%s\\l:dashes", schema_bounds_ms[4], L->slow_line);
    add_summary(a, s, L);
}

static void build_avail(struct args *a, const struct graph_req *rq, const struct graph_style *st,
                        const struct labels *L, const char *crit, const struct rrdq_summary *s,
                        const char *title)
{
    time_t roll = roll_spans[rq->period];
    char legend[256];

    add_common(a, rq, st, s->start, s->end, title);
    args_add(a, "--upper-limit");
    args_add(a, "100");
    args_add(a, "--rigid");
    args_add(a, "--vertical-label");
    args_add(a, "%s", L->axis_pct);
    /* The rolling availability is drawn against a right axis zoomed on 95–100 %, where the
     * criterion's thresholds are: right = left × 0.05 + 95. */
    args_add(a, "--right-axis");
    args_add(a, "0.05:95");
    args_add(a, "--right-axis-label");
    args_add(a, "%s", L->axis_roll);
    args_add(a, "--right-axis-format");
    args_add(a, "%%.1lf");
    args_add(a, "DEF:up=%s:up:AVERAGE", crit);
    args_add(a, "DEF:valid=%s:valid:AVERAGE", crit);
    /* The same source from one window earlier, so that the rolling average is full from the
     * first pixel. */
    args_add(a, "DEF:upr=%s:up:AVERAGE:start=%lld", crit, (long long)(s->start - roll));
    args_add(a, "CDEF:nock=up,UN,1,valid,0,EQ,IF");
    args_add(a, "CDEF:uppct=up,100,*");
    args_add(a, "CDEF:downpct=100,uppct,-");
    args_add(a, "CDEF:roll=upr,%lld,TRENDNAN,100,*", (long long)roll);
    args_add(a, "CDEF:rollr=roll,95,-,20,*,0,MAX");
    snprintf(legend, sizeof(legend), "%s %s %s", L->rolling, L->roll[rq->period], L->right);
    /* Two spaces: rrdtool draws a TICK's legend box over the start of its text. */
    args_add(a, "TICK:nock#c8c8c8:1.0:  %s", L->not_checked);
    args_add(a, "AREA:uppct#a5d6a7:%s", L->up);
    args_add(a, "AREA:downpct#e53935:%s\\l:STACK", L->down_share);
    args_add(a, "LINE2:rollr#1a237e:%s\\l", legend);
    /* 99.9 % and 98.5 % on the right axis, in left-axis units. */
    args_add(a, "HRULE:98#2e7d32:%s:dashes", L->green_line);
    args_add(a, "HRULE:70#c62828:%s\\l:dashes", L->red_line);
    add_summary(a, s, L);
}

/* Spaces that pad UTF-8 text s to `width` characters (printf pads bytes). */
static int pad(const char *s, int width)
{
    int n = 0;

    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n < width ? width - n : 0;
}

/* The probes an overview (group NULL) or a group graph sums. */
static bool in_graph(const struct probe *p, const char *group)
{
    return !group || strcmp(p->group, group) == 0;
}

/* Overview / group: per step, how many probes were ok, slow, down, not checked. Probes without a
 * criterion file yet count as not checked. Returns -ENOENT when no probe has a file. */
static int build_counts(struct args *a, const struct config *cfg, const struct graph_req *rq,
                        const struct graph_style *st, const struct labels *L, time_t *endp,
                        const char *title, char *err, size_t errlen)
{
    time_t end = *endp, newest = 0;
    const char *group = rq->kind == GRAPH_GROUP ? rq->group : NULL;
    size_t total = 0, missing = 0, nk = 0, chunk = 0;
    char path[4096], epath[8192];
    char *sums[3] = {NULL, NULL, NULL};
    size_t slen[3] = {0, 0, 0};
    FILE *fs[3] = {NULL, NULL, NULL};
    int rc = 0;

    for (size_t i = 0; i < cfg->nprobes; i++)
        total += in_graph(&cfg->probes[i], group);
    if (total == 0) {
        snprintf(err, errlen, "no probe in group \"%s\"", group ? group : "");
        return -EINVAL;
    }
    /* By default the window ends at the newest sample of the probes drawn (the files are
     * written up to rrd_flush late, and their rows are labelled by their end). */
    for (size_t i = 0; end == 0 && i < cfg->nprobes; i++) {
        if (!in_graph(&cfg->probes[i], group))
            continue;
        schema_path(path, sizeof(path), cfg->rrd_dir, cfg->probes[i].id, SCHEMA_CRIT);
        if (access(path, F_OK) == 0) {
            time_t t = rrd_last_r(path);

            if (t > newest)
                newest = t;
        }
    }
    if (end == 0)
        end = newest > 0 ? newest : time(NULL);
    *endp = end;
    add_common(a, rq, st, end - (rq->span > 0 ? rq->span : graph_period_span(rq->period)), end,
               title);
    args_add(a, "--upper-limit");
    args_add(a, "%zu", total);
    args_add(a, "--rigid");
    args_add(a, "--vertical-label");
    args_add(a, "%s", L->axis_count);
    for (int k = 0; k < 3; k++) {
        fs[k] = open_memstream(&sums[k], &slen[k]);
        if (!fs[k]) {
            rc = -ENOMEM;
            goto out;
        }
    }
    /* Per chunk of probes: nc = count of unknown `up`, us = sum of up, ls = sum of le_800 (UN
     * counted as 0 by ADDNAN, then an all-unknown chunk as 0). */
    for (size_t i = 0; i < cfg->nprobes; i++) {
        const struct probe *p = &cfg->probes[i];
        struct stat sb;

        if (!in_graph(p, group))
            continue;
        schema_path(path, sizeof(path), cfg->rrd_dir, p->id, SCHEMA_CRIT);
        if (stat(path, &sb) != 0) {
            missing++;
            continue;
        }
        esc_path(epath, sizeof(epath), path);
        args_add(a, "DEF:u%zu=%s:up:AVERAGE", nk, epath);
        args_add(a, "DEF:l%zu=%s:le_%u:AVERAGE", nk, epath, schema_bounds_ms[4]);
        nk++;
    }
    if (nk == 0) {
        schema_path(path, sizeof(path), cfg->rrd_dir, "*", SCHEMA_CRIT);
        snprintf(err, errlen, "no RRD file yet (%s)", path);
        rc = -ENOENT;
        goto out;
    }
    for (size_t c0 = 0; c0 < nk; c0 += CHUNK, chunk++) {
        size_t c1 = c0 + CHUNK < nk ? c0 + CHUNK : nk;
        char *e[3] = {NULL, NULL, NULL};
        size_t el[3];
        FILE *f[3];

        for (int k = 0; k < 3; k++) {
            f[k] = open_memstream(&e[k], &el[k]);
            if (!f[k])
                a->nomem = true;
        }
        if (!a->nomem) {
            for (size_t i = c0; i < c1; i++) {
                fprintf(f[0], i == c0 ? "u%zu,UN" : ",u%zu,UN,+", i);
                fprintf(f[1], i == c0 ? "u%zu" : ",u%zu,ADDNAN", i);
                fprintf(f[2], i == c0 ? "l%zu" : ",l%zu,ADDNAN", i);
            }
        }
        for (int k = 0; k < 3; k++)
            if (f[k])
                fclose(f[k]);
        if (!a->nomem) {
            args_add(a, "CDEF:nc%zu=%s", chunk, e[0]);
            args_add(a, "CDEF:us%zu=%s", chunk, e[1]);
            args_add(a, "CDEF:ls%zu=%s", chunk, e[2]);
            args_add(a, "CDEF:usz%zu=us%zu,UN,0,us%zu,IF", chunk, chunk, chunk);
            args_add(a, "CDEF:lsz%zu=ls%zu,UN,0,ls%zu,IF", chunk, chunk, chunk);
            fprintf(fs[0], chunk ? ",nc%zu,+" : "nc%zu", chunk);
            fprintf(fs[1], chunk ? ",usz%zu,+" : "usz%zu", chunk);
            fprintf(fs[2], chunk ? ",lsz%zu,+" : "lsz%zu", chunk);
        }
        for (int k = 0; k < 3; k++)
            free(e[k]);
    }
    for (int k = 0; k < 3; k++) {
        fclose(fs[k]);
        fs[k] = NULL;
    }
    args_add(a, "CDEF:NC=%s,%zu,+", sums[0], missing);
    args_add(a, "CDEF:UP=%s", sums[1]);
    args_add(a, "CDEF:OK=%s", sums[2]);
    args_add(a, "CDEF:SLOW=UP,OK,-,0,MAX");
    args_add(a, "CDEF:DOWN=%zu,NC,-,UP,-,0,MAX", total);
    static const char *const vn[4] = {"OK", "SLOW", "DOWN", "NC"};
    static const char *const col[4] = {"#66bb6a", "#f9a825", "#e53935", "#c8c8c8"};
    const char *leg[4] = {L->ok, L->slow, L->down, L->not_checked};
    for (int k = 0; k < 4; k++) {
        args_add(a, "VDEF:%slast=%s,LAST", vn[k], vn[k]);
        args_add(a, "VDEF:%smax=%s,MAXIMUM", vn[k], vn[k]);
        args_add(a, "AREA:%s%s:%s%*s%s", vn[k], col[k], leg[k], pad(leg[k], 24), "",
                 k ? ":STACK" : "");
        args_add(a, "GPRINT:%slast:%s %%4.0lf", vn[k], L->now);
        args_add(a, "GPRINT:%smax:%s %%4.0lf\\l", vn[k], L->max);
    }
out:
    for (int k = 0; k < 3; k++) {
        if (fs[k])
            fclose(fs[k]);
        free(sums[k]);
    }
    if (rc == 0 && a->nomem)
        rc = -ENOMEM;
    return rc;
}

/* ---- rendering ---------------------------------------------------------------------------- */

/* rrd_graph_v is not thread-safe: one render at a time in the whole process. */
extern char **environ;

static pthread_mutex_t render_lock = PTHREAD_MUTEX_INITIALIZER;

static int mkdir_p(const char *dir)
{
    char buf[4096];
    size_t len = strlen(dir);

    if (len == 0 || len >= sizeof(buf))
        return len ? -ENAMETOOLONG : 0;
    memcpy(buf, dir, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Renders the arguments (a->v[0] "graph", a->v[1] replaced by the temporary file) into path,
 * atomically. */
static int render(struct args *a, const char *path, struct graph_image *img, char *err,
                  size_t errlen)
{
    char dir[4096], tmp[4200];
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    rrd_info_t *info;
    double t0;
    int fd, rc = 0;

    if (a->nomem)
        return -ENOMEM;
    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    rc = mkdir_p(dir);
    if (rc < 0) {
        snprintf(err, errlen, "cannot create directory %s: %s", dir, strerror(-rc));
        return rc;
    }
    snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, base);
    fd = mkstemp(tmp);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot create a temporary file in %s: %s", dir, strerror(-rc));
        return rc;
    }
    /* Readable by the web server, like any file it publishes. */
    if (fchmod(fd, 0644) != 0)
        rc = -errno;
    close(fd);
    free(a->v[1]);
    a->v[1] = strdup(tmp);
    if (rc < 0 || !a->v[1]) {
        rc = rc < 0 ? rc : -ENOMEM;
        snprintf(err, errlen, "%s: %s", tmp, strerror(-rc));
        goto fail;
    }

    pthread_mutex_lock(&render_lock);
    t0 = now_s();
    rrd_clear_error();
    info = rrd_graph_v(a->n, a->v);
    img->seconds = now_s() - t0;
    if (!info) {
        const char *m = rrd_get_error();

        snprintf(err, errlen, "librrd: %s", m && *m ? m : "rrd_graph_v failed, no reason given");
        rc = -EIO;
    }
    rrd_clear_error();
    pthread_mutex_unlock(&render_lock);
    if (rc < 0)
        goto fail;
    for (rrd_info_t *i = info; i; i = i->next) {
        if (strcmp(i->key, "image_width") == 0)
            img->width = (unsigned)i->value.u_cnt;
        else if (strcmp(i->key, "image_height") == 0)
            img->height = (unsigned)i->value.u_cnt;
        else if (strncmp(i->key, "legend[", 7) == 0 && i->type == RD_I_STR) {
            size_t n = strlen(img->legend);

            snprintf(img->legend + n, sizeof(img->legend) - n, "%s\n", i->value.u_str);
        }
    }
    rrd_info_free(info);
    if (rename(tmp, path) != 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(-rc));
        goto fail;
    }
    return 0;
fail:
    unlink(tmp);
    return rc;
}

static void title_of(char *buf, size_t len, const struct graph_req *rq, const struct labels *L)
{
    char a[TEXT_MAX], b[TEXT_MAX];
    const char *per = rq->span > 0 ? "" : L->period[rq->period];
    const char *sep = rq->span > 0 ? "" : ", ";

    switch (rq->kind) {
    case GRAPH_LATENCY:
    case GRAPH_AVAIL:
        /* Titles are not parsed for ':', only truncated. */
        snprintf(a, sizeof(a), "%.*s", TITLE_MAX, rq->probe->name);
        snprintf(b, sizeof(b), "%.*s", TITLE_MAX, rq->probe->group);
        snprintf(buf, len, "%s — %s · %s%s%s", a, b,
                 rq->kind == GRAPH_LATENCY ? L->latency : L->avail, sep, per);
        break;
    case GRAPH_GROUP:
        snprintf(b, sizeof(b), "%.*s", TITLE_MAX, rq->group);
        snprintf(buf, len, "%s · %s%s%s", b, L->group, sep, per);
        break;
    default:
        snprintf(buf, len, "%s%s%s", L->overview, rq->span > 0 ? "" : " · ", per);
        break;
    }
    /* A cut inside a UTF-8 sequence would be invalid text: drop the partial character. */
    {
        size_t n = strlen(buf), k = n;

        while (k > 0 && ((unsigned char)buf[k - 1] & 0xC0) == 0x80)
            k--;
        if (k > 0 && ((unsigned char)buf[k - 1] & 0xC0) == 0xC0) {
            unsigned char lead = (unsigned char)buf[k - 1];
            size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;

            if (n - (k - 1) < need)
                buf[k - 1] = '\0';
        }
    }
}

int graph_draw(const struct config *cfg, const struct graph_req *rq, const struct graph_style *st,
               const char *path, struct graph_image *img, char *err, size_t errlen)
{
    struct graph_style style = {DEF_WIDTH, DEF_HEIGHT, GRAPH_FR};
    struct graph_image dummy;
    const struct labels *L;
    struct args a = {0};
    char title[3 * TEXT_MAX], crit[4096], phases[4096], ecrit[8192], ephases[8192];
    time_t end = rq->end, span;
    int rc;

    if (!img)
        img = &dummy;
    memset(img, 0, sizeof(*img));
    if (errlen)
        err[0] = '\0';
    if (st) {
        style.width = st->width ? st->width : DEF_WIDTH;
        style.height = st->height ? st->height : DEF_HEIGHT;
        style.lang = st->lang == GRAPH_EN ? GRAPH_EN : GRAPH_FR;
    }
    if ((unsigned)rq->period >= GRAPH_NPERIODS || (unsigned)rq->format >= GRAPH_NFORMATS ||
        ((rq->kind == GRAPH_LATENCY || rq->kind == GRAPH_AVAIL) && !rq->probe) ||
        (rq->kind == GRAPH_GROUP && !rq->group) || (unsigned)rq->kind >= GRAPH_NKINDS) {
        snprintf(err, errlen, "invalid graph request");
        return -EINVAL;
    }
    L = &labels[style.lang];
    span = rq->span > 0 ? rq->span : period_spans[rq->period];
    title_of(title, sizeof(title), rq, L);
    args_add(&a, "graph");
    args_add(&a, "%s", path); /* replaced by the temporary file */

    if (rq->kind == GRAPH_LATENCY || rq->kind == GRAPH_AVAIL) {
        struct rrdq_summary s;
        char rerr[512];
        struct stat sb;

        schema_path(crit, sizeof(crit), cfg->rrd_dir, rq->probe->id, SCHEMA_CRIT);
        schema_path(phases, sizeof(phases), cfg->rrd_dir, rq->probe->id, SCHEMA_PHASES);
        if (stat(crit, &sb) != 0 || (rq->kind == GRAPH_LATENCY && stat(phases, &sb) != 0)) {
            rc = -errno;
            snprintf(err, errlen, "probe %s: %s: %s", rq->probe->id,
                     access(crit, F_OK) != 0 ? crit : phases, strerror(-rc));
            goto out;
        }
        rc = rrdq_summary(cfg->rrd_dir, rq->probe->id, end, span, &s, rerr, sizeof(rerr));
        if (rc < 0) {
            snprintf(err, errlen, "probe %s: reading %s: %s", rq->probe->id, crit,
                     rerr[0] ? rerr : strerror(-rc));
            goto out;
        }
        esc_path(ecrit, sizeof(ecrit), crit);
        esc_path(ephases, sizeof(ephases), phases);
        if (rq->kind == GRAPH_LATENCY)
            build_latency(&a, rq, &style, L, ecrit, ephases, &s, title);
        else
            build_avail(&a, rq, &style, L, ecrit, &s, title);
        img->start = s.start;
        img->end = s.end;
    } else {
        rc = build_counts(&a, cfg, rq, &style, L, &end, title, err, errlen);
        if (rc < 0)
            goto out;
        img->start = end - span;
        img->end = end;
    }
    rc = render(&a, path, img, err, errlen);
out:
    args_fini(&a);
    if (rc == -ENOMEM && errlen && !err[0])
        snprintf(err, errlen, "out of memory");
    return rc;
}

/* Under LeakSanitizer (the ASan build of the tests), the leaks of the drawing libraries are not
 * ours: fontconfig's, pango's and cairo's caches live until exit by design, and librrd 1.7.2
 * loses the legend strings it formats with vasprintf (see the top of this file: the daemon draws
 * in child processes for that reason). vigie itself never calls vasprintf. A weak hook of the
 * sanitizer runtime; without the sanitizer it is never called. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libfontconfig.so\n"
           "leak:libpango-1.0.so\n"
           "leak:libpangoft2-1.0.so\n"
           "leak:libpangocairo-1.0.so\n"
           "leak:libcairo.so\n"
           "leak:libglib-2.0.so\n"
           "leak:libgobject-2.0.so\n"
           "leak:libexpat.so\n"
           "leak:librrd.so\n"
           "leak:rrd_graph_v\n"
           "leak:__vasprintf_internal\n";
}

/* ---- the daemon's graph timer ------------------------------------------------------------- */

/* Why a render failed; each is logged once until a pass has none of it. */
enum fcause { FC_RENDER, FC_ACCESS, FC_SPACE, FC_OTHER, FC__COUNT };

static const char *const fcause_str[FC__COUNT] = {
    [FC_RENDER] = "cannot render",
    [FC_ACCESS] = "permission denied or read-only",
    [FC_SPACE] = "disk full",
    [FC_OTHER] = "cannot draw",
};

/* What one pass did: written by the worker only, read back on the loop thread. */
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
        if (in_graph(&cfg->probes[i], rq->kind == GRAPH_GROUP ? rq->group : NULL))
            ts_max(&t, &g->mt[2 * i]);
    return t;
}

/* The graphs a pass draws. */
struct plan {
    struct graph_req *rq;
    size_t n, cap;
};

static int plan_add(struct plan *pl, const struct graph_req *rq)
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
    time_t column = period_spans[rq->period] / (time_t)g->style.width;

    if (dep.tv_sec == 0 || graph_path(path, sizeof(path), g->cfg->graphs_dir, rq) < 0) {
        j->skipped++;
        return 0;
    }
    if (stat(path, &sb) == 0 &&
        (ts_cmp(&dep, &sb.st_mtim) <= 0 || now - sb.st_mtim.tv_sec < column)) {
        j->skipped++;
        return 0;
    }
    return plan_add(pl, rq);
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
static int pass_plan(struct graph *g, struct gjob *j, struct plan *pl)
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

static ssize_t read_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    size_t done = 0;

    while (done < len) {
        ssize_t n = read(fd, p + done, len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    return (ssize_t)done;
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
static int write_plan(int fd, const struct graph *g, const struct plan *pl)
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
        if (plan_add(&pl, &rq) < 0) {
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
    ssize_t n;

    /* Rendering must never take the CPU from the loop thread, whose wake-ups time the checks:
     * this pool thread runs at the lowest priority, the renderer it starts at SCHED_IDLE. */
    worker_nice();
    t0 = now_s();
    if (pass_plan(g, j, &pl) < 0) {
        job_fail(j, "out of memory planning a pass");
        goto out;
    }
    if (pl.n == 0) /* everything is up to date: no child */
        goto out;
    /* The renderer is a fresh process (this binary, `graph --render-plan`), not a fork: a fork
     * of this multi-threaded process could inherit a lock another thread held (the allocator's,
     * librrd's rrdcached client's) and hang. The plan goes to its stdin, its counts come back on
     * its stdout, the stop pipe is its fd 3. */
    tf = now_s();
    pid = spawn_renderer(g, res, &plan_w);
    fork_s = now_s() - tf;
    if (pid < 0) {
        job_fail(j, "cannot start the renderer: %s", strerror(-pid));
        goto out;
    }
    if (write_plan(plan_w, g, &pl) < 0)
        job_fail(j, "cannot hand the plan to the renderer: %s", strerror(errno));
    close(plan_w);
    n = read_all(res[0], &got, sizeof(got));
    close(res[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (n == (ssize_t)sizeof(got)) {
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
    j->seconds = now_s() - t0;
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
    g->style.width = cfg->graphs.width > 0 ? (unsigned)cfg->graphs.width : DEF_WIDTH;
    g->style.height = cfg->graphs.height > 0 ? (unsigned)cfg->graphs.height : DEF_HEIGHT;
    g->style.lang = cfg->graphs.lang == GRAPH_EN ? GRAPH_EN : GRAPH_FR;
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
