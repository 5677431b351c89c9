/* draw — one graph drawn with librrd (graph_draw of graph.h).
 *
 * Each graph is one rrd_graph_v call whose arguments are built here (DEF, CDEF, AREA…, as
 * `rrdtool graph` takes them). The arguments live in a `struct args` (owned strings). The
 * numbers of the legend do not come from rrdtool's GPRINT but from rrdq_summary over the very
 * window drawn (the graph's --start/--end are the summary's row-aligned window), written as
 * COMMENT lines: the dashboard and the reports read the same function, so they all agree.
 *
 * rrd_graph_v keeps global state (its option parser, fonts, pango), so the process renders one
 * graph at a time: the one static mutex below, the only global of this module. The daemon
 * itself never calls it: its renderer process does (view/plan.c), or the CLI. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rrd.h>

#include "base/fsx.h"
#include "store/criterion.h"
#include "store/rrdq.h"
#include "store/schema.h"
#include "view/graph_int.h"

#define DAY_S 86400
#define CHUNK 64      /* probes summed per CDEF in an overview (keeps each expression short) */
#define TITLE_MAX 90  /* bytes of a probe's name or group in a title */
#define TEXT_MAX 1024 /* one legend or title argument */

/* The window of the rolling availability: for a year, the criterion's own three months. */
static const time_t roll_spans[GRAPH_NPERIODS] = {3600, DAY_S, 7 * DAY_S, 30 * DAY_S, 92 * DAY_S};
/* Time axis: numeric labels, so that no locale is needed (rrdtool --x-grid). */
static const char *const x_grids[GRAPH_NPERIODS] = {
    "HOUR:1:HOUR:3:HOUR:3:0:%H:%M",    "HOUR:6:DAY:1:DAY:1:86400:%d/%m",
    "DAY:1:WEEK:1:WEEK:1:0:%d/%m",     "WEEK:1:MONTH:1:MONTH:1:0:%d/%m",
    "MONTH:1:MONTH:1:MONTH:1:0:%m/%Y",
};
static const char *const format_rrd[GRAPH_NFORMATS] = {"PNG", "SVG"};

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
    [LANG_FR] =
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
    [LANG_EN] =
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
        total += graph_covers(&cfg->probes[i], group);
    if (total == 0) {
        snprintf(err, errlen, "no probe in group \"%s\"", group ? group : "");
        return -EINVAL;
    }
    /* By default the window ends at the newest sample of the probes drawn (the files are
     * written up to rrd_flush late, and their rows are labelled by their end). */
    for (size_t i = 0; end == 0 && i < cfg->nprobes; i++) {
        if (!graph_covers(&cfg->probes[i], group))
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

        if (!graph_covers(p, group))
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
static pthread_mutex_t render_lock = PTHREAD_MUTEX_INITIALIZER;

/* Renders the arguments (a->v[0] "graph", a->v[1] replaced by the temporary file) into path,
 * atomically. */
static int render(struct args *a, const char *path, struct graph_image *img, char *err,
                  size_t errlen)
{
    const char *step = NULL;
    struct fsx_atomic f;
    rrd_info_t *info;
    double t0;
    int rc = 0;

    if (a->nomem)
        return -ENOMEM;
    rc = fsx_mkdir_parent(path, 0755);
    if (rc < 0) {
        snprintf(err, errlen, "cannot create the directory of %s: %s", path, strerror(-rc));
        return rc;
    }
    /* librrd writes the temporary file by its name; fsx renames it over path when complete. */
    rc = fsx_atomic_open(&f, path);
    if (rc < 0) {
        snprintf(err, errlen, "cannot create a temporary file for %s: %s", path, strerror(-rc));
        return rc;
    }
    free(a->v[1]);
    a->v[1] = strdup(f.tmp);
    if (!a->v[1]) {
        snprintf(err, errlen, "%s: %s", f.tmp, strerror(ENOMEM));
        return fsx_atomic_commit(&f, path, 0644, 0, -ENOMEM, NULL);
    }

    pthread_mutex_lock(&render_lock);
    t0 = graph_now_s();
    rrd_clear_error();
    info = rrd_graph_v(a->n, a->v);
    img->seconds = graph_now_s() - t0;
    if (!info) {
        const char *m = rrd_get_error();

        snprintf(err, errlen, "librrd: %s", m && *m ? m : "rrd_graph_v failed, no reason given");
        rc = -EIO;
    }
    rrd_clear_error();
    pthread_mutex_unlock(&render_lock);
    if (rc < 0)
        return fsx_atomic_commit(&f, path, 0644, 0, rc, NULL);
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
    /* Readable by the web server, like any file it publishes. */
    rc = fsx_atomic_commit(&f, path, 0644, 0, 0, &step);
    if (rc < 0)
        snprintf(err, errlen, "%s %s to %s: %s", step, f.tmp, path, strerror(-rc));
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
    struct graph_style style = {GRAPH_DEF_WIDTH, GRAPH_DEF_HEIGHT, LANG_FR};
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
        style.width = st->width ? st->width : GRAPH_DEF_WIDTH;
        style.height = st->height ? st->height : GRAPH_DEF_HEIGHT;
        style.lang = st->lang == LANG_EN ? LANG_EN : LANG_FR;
    }
    if ((unsigned)rq->period >= GRAPH_NPERIODS || (unsigned)rq->format >= GRAPH_NFORMATS ||
        ((rq->kind == GRAPH_LATENCY || rq->kind == GRAPH_AVAIL) && !rq->probe) ||
        (rq->kind == GRAPH_GROUP && !rq->group) || (unsigned)rq->kind >= GRAPH_NKINDS) {
        snprintf(err, errlen, "invalid graph request");
        return -EINVAL;
    }
    L = &labels[style.lang];
    span = rq->span > 0 ? rq->span : graph_period_span(rq->period);
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
