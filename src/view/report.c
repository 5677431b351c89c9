/* report — `vigie report`. See report.h and docs/REPORT.md. */
#define _XOPEN_SOURCE 700 /* realpath(3) */
#include "view/report.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "base/cli.h"
#include "base/diag.h"
#include "base/fsx.h"
#include "base/html.h"
#include "base/timex.h"
#include "net/url.h"

#define DAY 86400

void report_figures(const struct rrdq_totals *t, enum report_metric m, struct report_figures *out)
{
    double le[SCHEMA_NBUCKETS];
    double n = m == REPORT_RESPONSE ? t->response_n : t->total_n;
    double sum = m == REPORT_RESPONSE ? t->response_ms : t->total_ms;

    memset(out, 0, sizeof(*out));
    out->checks = t->checks;
    out->flagged = t->flagged;
    out->coverage = t->expected > 0 ? t->covered / t->expected : NAN;
    out->availability = out->median_ms = out->p95_ms = out->apdex = NAN;
    out->mean_ms = n > 0 ? sum / n : NAN;
    if (t->checks > 0) {
        out->availability = t->up / t->checks;
        for (int i = 0; i < SCHEMA_NBUCKETS; i++)
            le[i] = t->le[i] / t->checks;
        out->median_ms = rrdq_percentile(le, out->availability, 0.5);
        out->p95_ms = rrdq_percentile(le, out->availability, 0.95);
        out->apdex = rrdq_apdex(le);
    }
    out->avail_class = criterion_avail_class(out->availability);
    out->time_class = criterion_time_class(out->mean_ms);
    out->scored = !isnan(out->availability) && !isnan(out->mean_ms);
    if (out->scored) {
        out->avail_points = criterion_avail_points_2019(out->availability);
        out->time_points = criterion_time_points_2019(out->mean_ms);
        out->score = out->avail_points + out->time_points;
        out->score_class = criterion_score_class_2019(out->score);
    }
}

/* ---- dates ---- */

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static int num(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

int report_parse_date(const char *s, time_t *out)
{
    int y;
    unsigned m, d;

    if (strlen(s) != 10 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
        !digits(s + 8, 2))
        return -EINVAL;
    y = num(s, 4);
    m = (unsigned)num(s + 5, 2);
    d = (unsigned)num(s + 8, 2);
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > timex_month_days(y, m))
        return -EINVAL;
    *out = (time_t)(timex_days_from_civil(y, m, d) * DAY);
    return 0;
}

int report_parse_quarter(const char *s, time_t *from, time_t *to)
{
    int y, q;

    if (strlen(s) != 7 || !digits(s, 4) || s[4] != '-' || (s[5] != 'Q' && s[5] != 'q') ||
        s[6] < '1' || s[6] > '4')
        return -EINVAL;
    y = num(s, 4);
    q = s[6] - '0';
    if (y < 1970)
        return -EINVAL;
    *from = (time_t)(timex_days_from_civil(y, (unsigned)(3 * q - 2), 1) * DAY);
    *to = q == 4 ? (time_t)(timex_days_from_civil(y + 1, 1, 1) * DAY)
                 : (time_t)(timex_days_from_civil(y, (unsigned)(3 * q + 1), 1) * DAY);
    return 0;
}

void report_default_window(time_t now, time_t *from, time_t *to)
{
    int64_t today = (int64_t)now / DAY - ((int64_t)now % DAY < 0);
    int y;
    unsigned m, d;

    /* [today - 3 months, today): today's midnight ends the last full day. */
    timex_civil_from_days(today, &y, &m, &d);
    if (m <= 3) {
        y--;
        m += 9;
    } else {
        m -= 3;
    }
    if (d > timex_month_days(y, m))
        d = timex_month_days(y, m);
    *from = (time_t)(timex_days_from_civil(y, m, d) * DAY);
    *to = (time_t)(today * DAY);
}

static void fmt_date(char *buf, size_t len, time_t t)
{
    int y;
    unsigned m, d;

    timex_civil_from_days((int64_t)t / DAY - ((int64_t)t % DAY < 0), &y, &m, &d);
    snprintf(buf, len, "%04d-%02u-%02u", y, m, d);
}

/* ---- the rows ---- */

struct row {
    const struct probe *p;
    size_t probe; /* index into report.totals */
    long jdma;    /* -1: the probe has none */
    struct report_figures fig;
};

struct group {
    const char *name;
    struct rrdq_totals t;
    size_t nprobes;
    struct report_figures fig;
};

struct report {
    const struct config *cfg;
    const struct report_opts *o;
    const struct probe **probes;
    struct rrdq_totals *totals;
    bool *has_data; /* the probe's file exists */
    size_t nprobes;
    struct row *rows;
    size_t nrows;
    struct group *groups;
    size_t ngroups;
    char from[16], last[16]; /* first and last days, inclusive */
};

static int row_cmp(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    int c = strcmp(x->p->group, y->p->group);

    if (c)
        return c;
    if (x->jdma != y->jdma) {
        if (x->jdma < 0 || y->jdma < 0)
            return x->jdma < 0 ? 1 : -1;
        return x->jdma < y->jdma ? -1 : 1;
    }
    return strcmp(x->p->id, y->p->id);
}

static int group_cmp(const void *a, const void *b)
{
    return strcmp(((const struct group *)a)->name, ((const struct group *)b)->name);
}

static bool selected(const struct report_opts *o, const struct probe *p)
{
    if (o->group && strcmp(o->group, p->group) != 0)
        return false;
    if (!o->nprobes)
        return true;
    for (size_t i = 0; i < o->nprobes; i++)
        if (strcmp(o->probes[i], p->id) == 0)
            return true;
    return false;
}

static void report_fini(struct report *r)
{
    free(r->probes);
    free(r->totals);
    free(r->has_data);
    free(r->rows);
    free(r->groups);
    r->probes = NULL;
    r->totals = NULL;
    r->has_data = NULL;
    r->rows = NULL;
    r->groups = NULL;
}

static int report_build(struct report *r, const struct config *cfg, const struct report_opts *o,
                        FILE *warn)
{
    size_t nrows = 0;
    char err[512];

    memset(r, 0, sizeof(*r));
    r->cfg = cfg;
    r->o = o;
    fmt_date(r->from, sizeof(r->from), o->from);
    fmt_date(r->last, sizeof(r->last), o->to - DAY);
    for (size_t i = 0; i < o->nprobes; i++) {
        if (!config_find(cfg, o->probes[i])) {
            fprintf(warn, "vigie: report: no probe with id \"%s\"\n", o->probes[i]);
            return -ENOENT;
        }
    }
    r->probes = calloc(cfg->nprobes + 1, sizeof(*r->probes));
    r->totals = calloc(cfg->nprobes + 1, sizeof(*r->totals));
    r->has_data = calloc(cfg->nprobes + 1, sizeof(*r->has_data));
    r->groups = calloc(cfg->nprobes + 1, sizeof(*r->groups));
    if (!r->probes || !r->totals || !r->has_data || !r->groups)
        return -ENOMEM;
    for (size_t i = 0; i < cfg->nprobes; i++) {
        const struct probe *p = &cfg->probes[i];
        struct group *g = NULL;
        int rc;

        if (!selected(o, p))
            continue;
        rc = rrdq_totals(cfg->rrd_dir, p->id, o->from, o->to, &r->totals[r->nprobes], err,
                         sizeof(err));
        if (rc < 0 && rc != -ENOENT)
            fprintf(warn, "vigie: report: probe %s: %s (reported without data)\n", p->id, err);
        if (rc < 0) /* nothing measured: the whole window is missing coverage */
            r->totals[r->nprobes].expected =
                (double)(o->to - o->from) /
                (double)(p->interval_ms >= 1000 ? p->interval_ms / 1000 : 1);
        r->has_data[r->nprobes] = rc == 0;
        for (size_t k = 0; k < r->ngroups && !g; k++)
            if (strcmp(r->groups[k].name, p->group) == 0)
                g = &r->groups[k];
        if (!g) {
            g = &r->groups[r->ngroups++];
            g->name = p->group;
        }
        rrdq_totals_add(&g->t, &r->totals[r->nprobes]);
        g->nprobes++;
        r->probes[r->nprobes++] = p;
        nrows += p->njdma ? p->njdma : 1;
    }
    if (!r->nprobes) {
        fprintf(warn, "vigie: report: no probe%s%s%s\n", o->group ? " in group \"" : "",
                o->group ? o->group : "", o->group ? "\"" : "");
        return -ENOENT;
    }
    r->rows = calloc(nrows, sizeof(*r->rows));
    if (!r->rows)
        return -ENOMEM;
    for (size_t i = 0; i < r->nprobes; i++) {
        const struct probe *p = r->probes[i];
        struct report_figures fig;

        report_figures(&r->totals[i], o->metric, &fig);
        for (size_t k = 0; k < (p->njdma ? p->njdma : 1); k++) {
            struct row *w = &r->rows[r->nrows++];
            w->p = p;
            w->probe = i;
            w->jdma = p->njdma ? p->jdma[k] : -1;
            w->fig = fig;
        }
    }
    qsort(r->rows, r->nrows, sizeof(*r->rows), row_cmp);
    for (size_t k = 0; k < r->ngroups; k++)
        report_figures(&r->groups[k].t, o->metric, &r->groups[k].fig);
    qsort(r->groups, r->ngroups, sizeof(*r->groups), group_cmp);
    return 0;
}

/* ---- formatting ---- */

static const char *metric_name(enum report_metric m)
{
    return m == REPORT_RESPONSE ? "response" : "total";
}

static const char *class_name(enum criterion_class c, enum report_rules rules)
{
    if (rules == REPORT_RULES_2019 && c == CRITERION_YELLOW)
        return "orange";
    return criterion_class_name(c);
}

/* A figure for the text formats: "" (csv) or "-" (table) when unknown. */
static const char *fmt_num(char *buf, size_t len, double v, int prec, double scale, bool csv)
{
    if (isnan(v))
        snprintf(buf, len, "%s", csv ? "" : "-");
    else if (isinf(v))
        snprintf(buf, len, ">%u", schema_bounds_ms[SCHEMA_NBUCKETS - 1]);
    else
        snprintf(buf, len, "%.*f", prec, v * scale);
    return buf;
}

/* The figures as strings, shared by the table, CSV and HTML. */
struct cells {
    char checks[32], flagged[32], coverage[32], avail[32], mean[32], median[32], p95[32], apdex[32],
        a_rating[16], t_rating[16], a_pts[8], t_pts[8], score[8], colour[16];
};

static void cells_fill(struct cells *c, const struct report_figures *f, enum report_rules rules,
                       bool csv)
{
    fmt_num(c->checks, sizeof(c->checks), f->checks, 0, 1, csv);
    fmt_num(c->flagged, sizeof(c->flagged), f->flagged, 0, 1, csv);
    fmt_num(c->coverage, sizeof(c->coverage), f->coverage, csv ? 4 : 1, 100, csv);
    if (isnan(f->availability))
        fmt_num(c->avail, sizeof(c->avail), NAN, 0, 1, csv);
    else
        criterion_pct(c->avail, sizeof(c->avail), f->availability, csv ? 6 : 3);
    fmt_num(c->mean, sizeof(c->mean), f->mean_ms, csv ? 3 : 1, 1, csv);
    fmt_num(c->median, sizeof(c->median), f->median_ms, csv ? 3 : 0, 1, csv);
    fmt_num(c->p95, sizeof(c->p95), f->p95_ms, csv ? 3 : 0, 1, csv);
    fmt_num(c->apdex, sizeof(c->apdex), f->apdex, csv ? 6 : 3, 1, csv);
    snprintf(c->a_rating, sizeof(c->a_rating), "%s", class_name(f->avail_class, rules));
    snprintf(c->t_rating, sizeof(c->t_rating), "%s", class_name(f->time_class, rules));
    if (f->scored) {
        snprintf(c->a_pts, sizeof(c->a_pts), "%d", f->avail_points);
        snprintf(c->t_pts, sizeof(c->t_pts), "%d", f->time_points);
        snprintf(c->score, sizeof(c->score), "%d", f->score);
        snprintf(c->colour, sizeof(c->colour), "%s", class_name(f->score_class, rules));
    } else {
        snprintf(c->a_pts, sizeof(c->a_pts), "%s", csv ? "" : "-");
        snprintf(c->t_pts, sizeof(c->t_pts), "%s", csv ? "" : "-");
        snprintf(c->score, sizeof(c->score), "%s", csv ? "" : "-");
        snprintf(c->colour, sizeof(c->colour), "none");
    }
}

static void write_table(const struct report *r, FILE *out)
{
    const struct report_opts *o = r->o;
    bool y19 = o->rules == REPORT_RULES_2019;
    int w = 5, gw = 5;
    struct cells c;

    for (size_t i = 0; i < r->nrows; i++) {
        int l = (int)strlen(r->rows[i].p->id);
        w = l > w ? l : w;
    }
    for (size_t i = 0; i < r->ngroups; i++) {
        int l = (int)strlen(r->groups[i].name);
        gw = l > gw ? l : gw;
    }
    fprintf(out, "vigie report: %s to %s inclusive (UTC), rules %s, load time = mean %s time\n\n",
            r->from, r->last, y19 ? "2019" : "2023", metric_name(o->metric));
    fprintf(out, "%-6s %-*s %8s %7s %7s %8s %8s %7s %7s %6s  %s\n", "JDMA", w, "PROBE", "CHECKS",
            "FLAGGED", "COVER%", "AVAIL%", "MEAN_MS", "MEDIAN", "P95", "APDEX",
            y19 ? "AVAIL_PTS TIME_PTS SCORE COLOUR" : "AVAILABILITY LOAD_TIME");
    for (size_t i = 0; i < r->nrows; i++) {
        const struct row *x = &r->rows[i];
        char jdma[24];

        cells_fill(&c, &x->fig, o->rules, false);
        if (x->jdma < 0)
            snprintf(jdma, sizeof(jdma), "-");
        else
            snprintf(jdma, sizeof(jdma), "%ld", x->jdma);
        fprintf(out, "%-6s %-*s %8s %7s %7s %8s %8s %7s %7s %6s  ", jdma, w, x->p->id, c.checks,
                c.flagged, c.coverage, c.avail, c.mean, c.median, c.p95, c.apdex);
        if (y19)
            fprintf(out, "%9s %8s %5s %s\n", c.a_pts, c.t_pts, c.score, c.colour);
        else
            fprintf(out, "%-12s %s\n", c.a_rating, c.t_rating);
    }
    fprintf(out, "\n%-*s %6s %8s %7s %7s %8s %8s %7s %7s %6s  %s\n", gw, "GROUP", "PROBES",
            "CHECKS", "FLAGGED", "COVER%", "AVAIL%", "MEAN_MS", "MEDIAN", "P95", "APDEX",
            y19 ? "AVAIL_PTS TIME_PTS SCORE COLOUR" : "AVAILABILITY LOAD_TIME");
    for (size_t i = 0; i < r->ngroups; i++) {
        const struct group *g = &r->groups[i];

        cells_fill(&c, &g->fig, o->rules, false);
        fprintf(out, "%-*s %6zu %8s %7s %7s %8s %8s %7s %7s %6s  ", gw, g->name, g->nprobes,
                c.checks, c.flagged, c.coverage, c.avail, c.mean, c.median, c.p95, c.apdex);
        if (y19)
            fprintf(out, "%9s %8s %5s %s\n", c.a_pts, c.t_pts, c.score, c.colour);
        else
            fprintf(out, "%-12s %s\n", c.a_rating, c.t_rating);
    }
}

/* RFC 4180: quoted when it holds a comma, a quote or a line break. */
static void csv_field(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static void csv_line(FILE *out, const char *kind, const char *group, const char *jdma,
                     const char *probe, const char *name, const struct report_figures *f,
                     enum report_rules rules)
{
    struct cells c;

    cells_fill(&c, f, rules, true);
    fprintf(out, "%s,", kind);
    csv_field(out, group);
    fprintf(out, ",%s,", jdma);
    csv_field(out, probe);
    fputc(',', out);
    csv_field(out, name);
    fprintf(out, ",%s,%s,%s,%s,%s,%s,%s,%s,", c.checks, c.flagged, c.coverage, c.avail, c.mean,
            c.median, c.p95, c.apdex);
    if (rules == REPORT_RULES_2019)
        fprintf(out, "%s,%s,%s,%s\n", c.a_pts, c.t_pts, c.score, c.colour);
    else
        fprintf(out, "%s,%s\n", c.a_rating, c.t_rating);
}

static void write_csv(const struct report *r, FILE *out)
{
    const struct report_opts *o = r->o;

    fprintf(out,
            "kind,group,jdma,probe,name,checks,flagged,coverage_pct,availability_pct,mean_%s_ms,"
            "median_total_ms,p95_total_ms,apdex,%s\n",
            metric_name(o->metric),
            o->rules == REPORT_RULES_2019 ? "availability_points,response_points,score,colour"
                                          : "availability_rating,load_time_rating");
    for (size_t i = 0; i < r->nrows; i++) {
        const struct row *x = &r->rows[i];
        char jdma[24] = "";

        if (x->jdma >= 0)
            snprintf(jdma, sizeof(jdma), "%ld", x->jdma);
        csv_line(out, "procedure", x->p->group, jdma, x->p->id, x->p->name, &x->fig, o->rules);
    }
    for (size_t i = 0; i < r->ngroups; i++)
        csv_line(out, "group", r->groups[i].name, "", "", "", &r->groups[i].fig, o->rules);
}

static json_t *jnum(double v)
{
    if (isnan(v))
        return json_null();
    if (isinf(v))
        return json_string(">2000");
    return json_real(v);
}

static json_t *jcount(double v)
{
    /* Counts are whole unless rows were partly flagged (no libm: vigie does not link it). */
    json_int_t r = (json_int_t)(v + 0.5);
    double diff = v - (double)r;
    return v >= 0 && diff < 1e-6 && diff > -1e-6 ? json_integer(r) : json_real(v);
}

static json_t *json_figures(const struct report_figures *f, const struct report_opts *o)
{
    json_t *j = json_object(), *rating = json_object();
    char key[32];

    json_object_set_new(j, "checks", jcount(f->checks));
    json_object_set_new(j, "flagged", jcount(f->flagged));
    json_object_set_new(j, "coverage_pct", jnum(f->coverage * 100));
    json_object_set_new(j, "availability_pct", jnum(f->availability * 100));
    snprintf(key, sizeof(key), "mean_%s_ms", metric_name(o->metric));
    json_object_set_new(j, key, jnum(f->mean_ms));
    json_object_set_new(j, "median_total_ms", jnum(f->median_ms));
    json_object_set_new(j, "p95_total_ms", jnum(f->p95_ms));
    json_object_set_new(j, "apdex", jnum(f->apdex));
    if (o->rules == REPORT_RULES_2019) {
        json_object_set_new(rating, "availability_points",
                            f->scored ? json_integer(f->avail_points) : json_null());
        json_object_set_new(rating, "response_points",
                            f->scored ? json_integer(f->time_points) : json_null());
        json_object_set_new(rating, "score", f->scored ? json_integer(f->score) : json_null());
        json_object_set_new(rating, "colour",
                            json_string(f->scored ? class_name(f->score_class, o->rules) : "none"));
    } else {
        json_object_set_new(rating, "availability",
                            json_string(class_name(f->avail_class, o->rules)));
        json_object_set_new(rating, "load_time", json_string(class_name(f->time_class, o->rules)));
    }
    json_object_set_new(j, "rating", rating);
    return j;
}

static int write_json(const struct report *r, FILE *out)
{
    const struct report_opts *o = r->o;
    json_t *root = json_object(), *procs = json_array(), *groups = json_array();
    char url[1024];
    int rc;

    json_object_set_new(root, "from", json_string(r->from));
    json_object_set_new(root, "to", json_string(r->last));
    json_object_set_new(root, "to_inclusive", json_true());
    json_object_set_new(root, "rules",
                        json_string(o->rules == REPORT_RULES_2019 ? "2019" : "2023"));
    json_object_set_new(root, "metric", json_string(metric_name(o->metric)));
    for (size_t i = 0; i < r->nrows; i++) {
        const struct row *x = &r->rows[i];
        json_t *j = json_figures(&x->fig, o);

        url_redact(x->p->url, url, sizeof(url));
        json_object_set_new(j, "jdma", x->jdma >= 0 ? json_integer(x->jdma) : json_null());
        json_object_set_new(j, "probe", json_string(x->p->id));
        json_object_set_new(j, "name", json_string(x->p->name));
        json_object_set_new(j, "group", json_string(x->p->group));
        json_object_set_new(j, "url", json_string(url));
        json_object_set_new(j, "data", json_boolean(r->has_data[x->probe]));
        json_array_append_new(procs, j);
    }
    for (size_t i = 0; i < r->ngroups; i++) {
        json_t *j = json_figures(&r->groups[i].fig, o);

        json_object_set_new(j, "group", json_string(r->groups[i].name));
        json_object_set_new(j, "probes", json_integer((json_int_t)r->groups[i].nprobes));
        json_array_append_new(groups, j);
    }
    json_object_set_new(root, "procedures", procs);
    json_object_set_new(root, "groups", groups);
    rc = json_dumpf(root, out, JSON_INDENT(1) | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(12));
    fputc('\n', out);
    json_decref(root);
    return rc == 0 ? 0 : -EIO;
}

/* ---- HTML ---- */

/* The directory of `path` (a file), resolved; NULL on failure. Owned by the caller. */
static char *dir_of(const char *path)
{
    char *copy = strdup(path), *slash, *res;

    if (!copy)
        return NULL;
    slash = strrchr(copy, '/');
    if (!slash)
        res = realpath(".", NULL);
    else if (slash == copy)
        res = realpath("/", NULL);
    else {
        *slash = '\0';
        res = realpath(copy, NULL);
    }
    free(copy);
    return res;
}

/* The relative path from directory `from` to directory `to` (both absolute, resolved), with a
 * trailing slash unless empty. */
static void rel_path(const char *from, const char *to, char *buf, size_t len)
{
    size_t common = 0, i = 0, n = 0;

    /* The longest common prefix ending on a component boundary. */
    for (;; i++) {
        bool fe = from[i] == '\0' || from[i] == '/', te = to[i] == '\0' || to[i] == '/';
        if (fe && te)
            common = i;
        if (from[i] != to[i] || from[i] == '\0')
            break;
    }
    buf[0] = '\0';
    for (const char *s = from + common; *s; s++)
        if (*s == '/' && s[1] && n + 4 < len)
            n += (size_t)snprintf(buf + n, len - n, "../");
    if (to[common] == '/' && to[common + 1])
        snprintf(buf + n, len - n, "%s/", to + common + 1);
}

static const char *css_class(enum criterion_class c)
{
    static const char *const names[] = {"none", "g", "y", "r"};
    return (unsigned)c < 4 ? names[c] : "none";
}

static void html_cells(FILE *out, const struct report_figures *f, enum report_rules rules)
{
    struct cells c;

    cells_fill(&c, f, rules, false);
    fprintf(out, "<td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>", c.checks, c.flagged,
            c.coverage, c.avail, c.mean);
    html_esc_file(out, c.median); /* ">2000" */
    fputs("</td><td>", out);
    html_esc_file(out, c.p95);
    fprintf(out, "</td><td>%s</td>", c.apdex);
    if (rules == REPORT_RULES_2019)
        fprintf(out, "<td>%s</td><td>%s</td><td class=\"%s\">%s (%s)</td>", c.a_pts, c.t_pts,
                f->scored ? css_class(f->score_class) : "none", c.score, c.colour);
    else
        fprintf(out, "<td class=\"%s\">%s</td><td class=\"%s\">%s</td>", css_class(f->avail_class),
                c.a_rating, css_class(f->time_class), c.t_rating);
}

static void html_head_row(FILE *out, const char *first, const struct report_opts *o)
{
    fprintf(out,
            "<tr>%s<th>checks</th><th>flagged</th><th>coverage %%</th><th>availability %%</th>"
            "<th>mean %s ms</th><th>median total ms</th><th>p95 total ms</th><th>Apdex</th>%s"
            "</tr>\n",
            first, metric_name(o->metric),
            o->rules == REPORT_RULES_2019
                ? "<th>availability points</th><th>response points</th><th>score /10</th>"
                : "<th>availability</th><th>load time</th>");
}

static int write_html(const struct report *r, FILE *out)
{
    const struct report_opts *o = r->o;
    char *outdir = dir_of(o->output ? o->output : "./x");
    char *gdir = r->cfg->graphs_dir ? realpath(r->cfg->graphs_dir, NULL) : NULL;
    char rel[4096] = "", url[1024], title[128];
    struct sbuf head = {0};
    bool y19 = o->rules == REPORT_RULES_2019;

    if (outdir && gdir)
        rel_path(outdir, gdir, rel, sizeof(rel));
    snprintf(title, sizeof(title), "vigie report %s to %s", r->from, r->last);
    html_head(&head, "en", title,
              "table{width:auto}th,td{border:1px solid #ccc;text-align:right}td.l{text-align:left}"
              ".g{background:#dcf3e2;color:#0b5a1f}.y{background:#fff0b3;color:#5c4200}"
              ".r{background:#fde0e0;color:#8f0d0d}.none{color:#555}"
              "figure{display:inline-block;margin:4px}section{margin-top:1.5em}");
    if (!head.oom)
        fwrite(head.p, 1, head.len, out);
    free(head.p);
    if (head.oom) {
        free(outdir);
        free(gdir);
        return -ENOMEM;
    }
    fprintf(out,
            "<h1>vigie report</h1>\n<p>From %s to %s inclusive (UTC days). Rules: %s. Load "
            "time: the mean <b>%s</b> time of successful checks.</p>\n",
            r->from, r->last,
            y19 ? "2019 (score out of 10: availability points + response points; green &ge; 8, "
                  "orange 5&ndash;7, red &le; 4)"
                : "2023 (availability green &ge; 99.9 %, yellow &ge; 98.5 %, red below; load "
                  "time green &lt; 400 ms, yellow &lt; 800 ms, red from 800 ms)",
            metric_name(o->metric));
    fputs("<p>Availability: successful / counted checks. Flagged samples (taken while vigie "
          "itself was impaired) are left out and counted; coverage is the share of the period "
          "holding samples. Median, p95 and Apdex (T = 500 ms) are of the total time, read off "
          "the latency buckets.</p>\n",
          out);
    fputs("<h2>Procedures</h2>\n<table>\n", out);
    html_head_row(out, "<th>jdma</th><th>probe</th><th>name</th><th>group</th>", o);
    for (size_t i = 0; i < r->nrows; i++) {
        const struct row *x = &r->rows[i];

        fputs("<tr><td>", out);
        if (x->jdma >= 0)
            fprintf(out, "%ld", x->jdma);
        fputs("</td><td class=\"l\"><a href=\"#p-", out);
        html_esc_file(out, x->p->id);
        fputs("\">", out);
        html_esc_file(out, x->p->id);
        fputs("</a></td><td class=\"l\">", out);
        html_esc_file(out, x->p->name);
        fputs("</td><td class=\"l\">", out);
        html_esc_file(out, x->p->group);
        fputs("</td>", out);
        html_cells(out, &x->fig, o->rules);
        fputs("</tr>\n", out);
    }
    fputs("</table>\n<h2>Groups</h2>\n<table>\n", out);
    html_head_row(out, "<th>group</th><th>probes</th>", o);
    for (size_t i = 0; i < r->ngroups; i++) {
        fputs("<tr><td class=\"l\">", out);
        html_esc_file(out, r->groups[i].name);
        fprintf(out, "</td><td>%zu</td>", r->groups[i].nprobes);
        html_cells(out, &r->groups[i].fig, o->rules);
        fputs("</tr>\n", out);
    }
    fputs("</table>\n<h2>Graphs</h2>\n", out);
    for (size_t i = 0; i < r->nprobes; i++) {
        const struct probe *p = r->probes[i];
        static const char *const kinds[] = {"latency", "avail"};
        bool any = false;

        fputs("<section id=\"p-", out);
        html_esc_file(out, p->id);
        fputs("\"><h3>", out);
        html_esc_file(out, p->name);
        fputs(" <small>(", out);
        html_esc_file(out, p->id);
        fputs(")</small></h3>\n<p>", out);
        url_redact(p->url, url, sizeof(url));
        html_esc_file(out, url);
        fputs("</p>\n", out);
        for (size_t k = 0; gdir && k < 2; k++) {
            char path[8192];

            snprintf(path, sizeof(path), "%s/probe/%s-%s-quarter.png", gdir, p->id, kinds[k]);
            if (access(path, R_OK) != 0)
                continue;
            any = true;
            fputs("<figure><img alt=\"", out);
            html_esc_file(out, kinds[k]);
            fputs("\" src=\"", out);
            html_esc_file(out, rel);
            fputs("probe/", out);
            html_esc_file(out, p->id);
            fprintf(out, "-%s-quarter.png\"></figure>\n", kinds[k]);
        }
        if (!any)
            fputs("<p class=\"none\">No quarter graphs (vigie writes them under graphs_dir).</p>\n",
                  out);
        fputs("</section>\n", out);
    }
    fputs("</body></html>\n", out);
    free(outdir);
    free(gdir);
    return 0;
}

int report_write(const struct config *cfg, const struct report_opts *o, FILE *out, FILE *warn)
{
    struct report r;
    int rc = report_build(&r, cfg, o, warn);

    if (rc < 0)
        goto out;
    switch (o->format) {
    case REPORT_TABLE:
        write_table(&r, out);
        break;
    case REPORT_CSV:
        write_csv(&r, out);
        break;
    case REPORT_JSON:
        rc = write_json(&r, out);
        break;
    case REPORT_HTML:
        rc = write_html(&r, out);
        break;
    }
    if (rc == 0 && (fflush(out) != 0 || ferror(out)))
        rc = -EIO;
out:
    report_fini(&r);
    return rc;
}

/* ---- the command line ---- */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: vigie report [-c FILE] [--from DATE] [--to DATE | --quarter YYYY-Qn]\n"
            "                    [--probe ID]... [--group G] [--format table|csv|json|html]\n"
            "                    [--rules 2023|2019] [--metric response|total] [-o FILE]\n"
            "\n"
            "  --from, --to DATE  YYYY-MM-DD, whole UTC days, --to included (default: the 3\n"
            "                     months ending with yesterday)\n"
            "  --quarter Q        e.g. 2026-Q3: 2026-07-01 to 2026-09-30\n"
            "  --probe ID         only these probes (repeat, or ID,ID)\n"
            "  --rules            2023: the two colours (default); 2019: the score out of 10\n"
            "  --metric           the load time: mean response time as published (default), or\n"
            "                     mean total time\n"
            "  -o, --output FILE  write there (atomically) instead of stdout\n");
}

struct report_cli {
    const char *config, *from, *to, *quarter, *output;
    bool config_given;
    struct report_opts o;
};

static int pick(const char *v, const char *const *names, int n, const char *what)
{
    for (int i = 0; i < n; i++)
        if (strcmp(v, names[i]) == 0)
            return i;
    fprintf(stderr, "vigie: report: unknown %s \"%s\"\n", what, v);
    return -1;
}

static int cli_parse(int argc, char **argv, struct report_cli *c)
{
    static const char *const formats[] = {"table", "csv", "json", "html"};
    static const char *const rules[] = {"2023", "2019"};
    static const char *const metrics[] = {"response", "total"};
    enum { O_FROM = 256, O_TO, O_QUARTER, O_PROBE, O_GROUP, O_FORMAT, O_RULES, O_METRIC };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"from", required_argument, NULL, O_FROM},
        {"to", required_argument, NULL, O_TO},
        {"quarter", required_argument, NULL, O_QUARTER},
        {"probe", required_argument, NULL, O_PROBE},
        {"group", required_argument, NULL, O_GROUP},
        {"format", required_argument, NULL, O_FORMAT},
        {"rules", required_argument, NULL, O_RULES},
        {"metric", required_argument, NULL, O_METRIC},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct cli cl;
    int k, opt;

    cli_init(&cl, "vigie: report", argc, argv, "c:o:h", opts);
    while ((opt = cli_next(&cl)) != -1) {
        switch (opt) {
        case 'h':
            usage(stdout);
            exit(0);
        case 'c':
            c->config = optarg;
            c->config_given = true;
            break;
        case O_FROM:
            c->from = optarg;
            break;
        case O_TO:
            c->to = optarg;
            break;
        case O_QUARTER:
            c->quarter = optarg;
            break;
        case O_GROUP:
            c->o.group = optarg;
            break;
        case 'o':
            c->output = optarg;
            break;
        case O_PROBE:
            /* optarg is argv's, ours to split: "a,b" becomes two ids. */
            for (char *s = optarg, *comma; s; s = comma ? comma + 1 : NULL) {
                comma = strchr(s, ',');
                if (comma)
                    *comma = '\0';
                if (*s)
                    c->o.probes[c->o.nprobes++] = s;
            }
            break;
        case O_FORMAT:
            if ((k = pick(optarg, formats, 4, "format")) < 0)
                return -1;
            c->o.format = (enum report_format)k;
            break;
        case O_RULES:
            if ((k = pick(optarg, rules, 2, "rules")) < 0)
                return -1;
            c->o.rules = (enum report_rules)k;
            break;
        case O_METRIC:
            if ((k = pick(optarg, metrics, 2, "metric")) < 0)
                return -1;
            c->o.metric = (enum report_metric)k;
            break;
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vigie: report: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return -1;
    }
    return 0;
}

/* The window from --from/--to/--quarter, defaults filled in. */
static int cli_window(struct report_cli *c)
{
    time_t t;

    report_default_window(time(NULL), &c->o.from, &c->o.to);
    if (c->quarter) {
        if (c->from || c->to) {
            fprintf(stderr, "vigie: report: --quarter excludes --from and --to\n");
            return -1;
        }
        if (report_parse_quarter(c->quarter, &c->o.from, &c->o.to) < 0) {
            fprintf(stderr, "vigie: report: --quarter \"%s\": expected YYYY-Qn, n in 1..4\n",
                    c->quarter);
            return -1;
        }
        return 0;
    }
    if (c->to) {
        if (report_parse_date(c->to, &t) < 0) {
            fprintf(stderr, "vigie: report: --to \"%s\": expected a date YYYY-MM-DD\n", c->to);
            return -1;
        }
        c->o.to = t + DAY;
        if (!c->from)
            report_default_window(c->o.to, &c->o.from, &t);
    }
    if (c->from && report_parse_date(c->from, &c->o.from) < 0) {
        fprintf(stderr, "vigie: report: --from \"%s\": expected a date YYYY-MM-DD\n", c->from);
        return -1;
    }
    if (c->o.from >= c->o.to) {
        fprintf(stderr, "vigie: report: the window is empty (--from after --to)\n");
        return -1;
    }
    return 0;
}

int report_main(int argc, char **argv)
{
    struct report_cli c = {0};
    struct config *cfg = NULL;
    struct diag d;
    struct fsx_atomic f;
    FILE *out = stdout;
    int status = 3, rc;
    size_t ids = (size_t)argc + 1; /* --probe a,b,c: at most one id per comma more */

    for (int i = 0; i < argc; i++)
        for (const char *x = strchr(argv[i], ','); x; x = strchr(x + 1, ','))
            ids++;
    c.o.probes = calloc(ids, sizeof(*c.o.probes));
    if (!c.o.probes)
        return 1;
    if (cli_parse(argc, argv, &c) < 0 || cli_window(&c) < 0)
        goto out;
    if (!c.config_given && access("vigie.yaml", F_OK) == 0)
        c.config = "vigie.yaml";
    status = 1;
    diag_init(&d);
    if (config_load(c.config, &cfg, &d) != 0) {
        diag_print(&d, stderr);
        fprintf(stderr, "vigie: %zu error%s, configuration not loaded\n", d.n, d.n == 1 ? "" : "s");
    }
    diag_fini(&d);
    if (!cfg)
        goto out;
    c.o.output = c.output;
    if (c.output) {
        rc = fsx_atomic_open(&f, c.output);
        if (rc == 0 && !(out = fsx_atomic_stream(&f)))
            rc = -errno;
        if (rc != 0) {
            fprintf(stderr, "vigie: report: %s: cannot create a temporary file: %s\n", c.output,
                    strerror(-rc));
            fsx_atomic_commit(&f, c.output, 0644, 0, rc, NULL);
            goto out;
        }
    }
    rc = report_write(cfg, &c.o, out, stderr);
    if (c.output)
        rc = fsx_atomic_commit(&f, c.output, 0644, 0, rc, NULL);
    if (rc < 0 && rc != -ENOENT)
        fprintf(stderr, "vigie: report: %s\n", strerror(-rc));
    status = rc < 0 ? 1 : 0;
out:
    free(c.o.probes);
    config_free(cfg);
    return status;
}
