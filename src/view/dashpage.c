/* dashpage — the HTML of the dashboard's two pages, index.html and probe/<id>.html (see
 * dash_int.h, dash.h and docs/DASHBOARD.md).
 *
 * A page is built in memory (struct sbuf), then written to a temp file in its directory and
 * renamed over the old one, so that a browser or a web server never reads half a page. Every
 * string that comes from the configuration or from a check (names, groups, URLs, messages) goes
 * through html_esc. The table is complete in the HTML; the script only adds sorting and filtering
 * (and the #group=…&state=…&sort=… fragment), so the page reads the same with JS off. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/container.h"
#include "base/fsx.h"
#include "base/html.h"
#include "base/sbuf.h"
#include "net/url.h"
#include "store/criterion.h"
#include "store/schema.h"
#include "view/dash_int.h"
#include "view/graph.h"

/* ---- fragment values ---- */

/* A fragment parameter value (for href="#group=…"): percent-encoded UTF-8, safe in an attribute. */
static void sb_pct(struct sbuf *b, const char *s)
{
    for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
        if ((*u >= 'a' && *u <= 'z') || (*u >= 'A' && *u <= 'Z') || (*u >= '0' && *u <= '9') ||
            *u == '-' || *u == '.' || *u == '_')
            sbuf_put(b, (const char *)u, 1);
        else
            sbuf_printf(b, "%%%02X", *u);
    }
}

/* ---- numbers ---- */

static void fmt_time(char *buf, size_t len, time_t t)
{
    struct tm tm;

    if (t == 0 || !gmtime_r(&t, &tm))
        snprintf(buf, len, "-");
    else
        strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* French writes a decimal comma. */
static void decimal(char *s, const struct words *wd)
{
    if (wd->comma)
        for (; *s; s++)
            if (*s == '.')
                *s = ',';
}

/* Availability as a percentage with 2 decimals, cut as everywhere (criterion_pct). */
static void fmt_avail(char *buf, size_t len, double a, const struct words *wd)
{
    char pct[32];

    snprintf(buf, len, wd->comma ? "%s\u00a0%%" : "%s%%", criterion_pct(pct, sizeof(pct), a, 2));
    decimal(buf, wd);
}

/* A measured time. */
static void fmt_ms(char *buf, size_t len, double ms)
{
    snprintf(buf, len, "%.0f\u00a0ms", ms);
}

/* A percentile read off the buckets (rrdq_percentile): an interpolation between two bucket
 * bounds. Inside the first bucket it says nothing finer than "under its bound" (a 40 ms site and
 * a 190 ms one both interpolate around 100 ms), so that is what is shown; likewise above the
 * last bound. The text is HTML. */
static void fmt_pct_ms(char *buf, size_t len, double ms)
{
    if (isinf(ms))
        snprintf(buf, len, "&gt; %u\u00a0ms", schema_bounds_ms[SCHEMA_NBUCKETS - 1]);
    else if (ms < schema_bounds_ms[0])
        snprintf(buf, len, "&lt; %u\u00a0ms", schema_bounds_ms[0]);
    else
        snprintf(buf, len, "%.0f\u00a0ms", ms);
}

/* The sort value of a number cell: empty when unknown (sorted last), a large number for
 * "above the last bucket". */
static void sb_datav(struct sbuf *b, double v)
{
    if (isnan(v))
        sbuf_puts(b, " data-v=\"\"");
    else if (isinf(v))
        sbuf_puts(b, " data-v=\"1e9\"");
    else
        sbuf_printf(b, " data-v=\"%.6f\"", v);
}

/* An indicator cell: the number, then the class as a word in a coloured badge (colour is never
 * the only carrier). */
static void cell_indicator(struct sbuf *b, double v, bool is_time, const struct words *wd)
{
    enum criterion_class c = is_time ? criterion_time_class(v) : criterion_avail_class(v);
    char num[64];

    sbuf_printf(b, "<td class=\"num q-%s\"", criterion_class_name(c));
    sb_datav(b, v);
    if (isnan(v)) {
        sbuf_printf(b, "><span aria-hidden=\"true\">—</span><span class=\"sr\">%s</span></td>",
                    wd->no_value);
        return;
    }
    if (is_time)
        fmt_pct_ms(num, sizeof(num), v);
    else
        fmt_avail(num, sizeof(num), v, wd);
    sbuf_printf(b, ">%s <span class=\"badge\">%s</span></td>", num, wd->cls[c]);
}

static double sum_avail(const struct dash_row *r, int w)
{
    return r->sum_err[w] == 0 ? r->sum[w].availability : NAN;
}

static double sum_median(const struct dash_row *r, int w)
{
    return r->sum_err[w] == 0 ? r->sum[w].median_ms : NAN;
}

static double sum_p95(const struct dash_row *r, int w)
{
    return r->sum_err[w] == 0 ? r->sum[w].p95_ms : NAN;
}

/* ---- order: worst first ---- */

/* Red before yellow before green before nothing. */
static int class_badness(enum criterion_class c)
{
    switch (c) {
    case CRITERION_RED:
        return 3;
    case CRITERION_YELLOW:
        return 2;
    case CRITERION_GREEN:
        return 1;
    default:
        return 0;
    }
}

static int worst_class(const struct dash_row *r)
{
    int w = 0;

    for (int i = 0; i < DASH_NWIN; i++) {
        int a = class_badness(criterion_avail_class(sum_avail(r, i)));
        w = a > w ? a : w;
    }
    int t = class_badness(criterion_time_class(sum_median(r, DASH_DAY)));
    int q = class_badness(criterion_time_class(sum_median(r, DASH_QUARTER)));
    w = t > w ? t : w;
    return q > w ? q : w;
}

/* Ascending with unknown values last. */
static int cmp_num(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) - isnan(b);
    return (a > b) - (a < b);
}

static int cmp_worst(const void *pa, const void *pb)
{
    const struct dash_row *a = *(const struct dash_row *const *)pa;
    const struct dash_row *b = *(const struct dash_row *const *)pb;
    int c;

    if (a->state != b->state)
        return (int)a->state - (int)b->state;
    if ((c = worst_class(b) - worst_class(a)) != 0)
        return c;
    for (int w = DASH_NWIN - 1; w >= 0; w--)
        if ((c = cmp_num(sum_avail(a, w), sum_avail(b, w))) != 0)
            return c;
    if ((c = cmp_num(-sum_median(a, DASH_DAY), -sum_median(b, DASH_DAY))) != 0)
        return c;
    return strcmp(a->probe->id, b->probe->id);
}

/* ---- files ---- */

void dash_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || !errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* A page written atomically: into dir/.name.XXXXXX (mode 0644: a web server reads it), renamed
 * over path when complete, removed otherwise. A big page (the index at 10,000 probes is 9 MB)
 * goes out in pieces as it is built, so that it is never whole in memory. */
struct page_file {
    struct fsx_atomic a;
};

static int page_open(struct page_file *f, const char *path, char *err, size_t errlen)
{
    int rc = fsx_atomic_open(&f->a, path);

    if (rc == -ENAMETOOLONG)
        dash_err(err, errlen, "%s: path too long", path);
    else if (rc != 0)
        dash_err(err, errlen, "%s: cannot create a temporary file: %s", path, strerror(-rc));
    return rc;
}

/* Writes what b holds and empties it (its memory is kept for what follows). */
static int page_put(struct page_file *f, struct sbuf *b, const char *path, char *err, size_t errlen)
{
    int rc;

    if (b->oom) {
        dash_err(err, errlen, "%s: out of memory", path);
        return -ENOMEM;
    }
    rc = fsx_atomic_write(&f->a, b->p, b->len);
    if (rc != 0) {
        dash_err(err, errlen, "%s: write: %s", f->a.tmp, strerror(-rc));
        return rc;
    }
    b->len = 0;
    return 0;
}

/* rc 0: the file becomes path (mode 0644: a web server reads it); else (or when that fails) it
 * is removed. Returns the outcome. */
static int page_close(struct page_file *f, const char *path, int rc, char *err, size_t errlen)
{
    const char *step;
    int was = rc;

    if (f->a.fd < 0)
        return rc;
    rc = fsx_atomic_commit(&f->a, path, 0644, 0, rc, &step);
    if (rc != 0 && was == 0)
        dash_err(err, errlen, "%s: %s: %s", strcmp(step, "rename") == 0 ? path : f->a.tmp, step,
                 strerror(-rc));
    return rc;
}

static int write_atomic(const char *path, struct sbuf *b, char *err, size_t errlen)
{
    struct page_file f;
    int rc;

    if (b->oom) {
        dash_err(err, errlen, "%s: out of memory", path);
        return -ENOMEM;
    }
    rc = page_open(&f, path, err, errlen);
    if (rc == 0)
        rc = page_put(&f, b, path, err, errlen);
    return page_close(&f, path, rc, err, errlen);
}

/* ---- the page frame ---- */

static void page_head(struct sbuf *b, const struct words *wd, const char *title)
{
    html_head(b, wd->lang, title, dash_css);
}

static void page_foot(struct sbuf *b, const struct words *wd, time_t now)
{
    char t[64];

    fmt_time(t, sizeof(t), now);
    sbuf_printf(b,
                "<footer><p class=\"meta\">%s <time datetime=\"%lld\">%s</time> — vigie</p>"
                "</footer>\n",
                wd->generated, (long long)now, t);
}

/* The format shown in <img>: PNG when drawn (small, fast to decode), else SVG. */
static const char *img_ext(unsigned formats)
{
    return formats & DASH_PNG ? "png" : "svg";
}

/* Links to one graph for every period: "day (SVG) · week (SVG) · …", the period linking to the
 * PNG and "(SVG)" offered when both are drawn. The file is prefix + period + "." + format. */
static void graph_links(struct sbuf *b, const struct words *wd, const char *prefix,
                        unsigned formats)
{
    sbuf_puts(b, "<ul class=\"inline\">");
    for (enum graph_period p = GRAPH_DAY; p < GRAPH_NPERIODS; p++) {
        sbuf_puts(b, "<li><a href=\"");
        html_esc(b, prefix);
        sbuf_printf(b, "%s.%s\">%s</a>", graph_period_name(p), img_ext(formats), wd->period[p]);
        if ((formats & DASH_PNG) && (formats & DASH_SVG)) {
            sbuf_puts(b, " (<a href=\"");
            html_esc(b, prefix);
            sbuf_printf(b, "%s.svg\">%s</a>)", graph_period_name(p), wd->svg);
        }
        sbuf_puts(b, "</li>");
    }
    sbuf_puts(b, "</ul>");
}

/* ---- index.html ---- */

static const char *const col_keys[9] = {"name",      "group",      "state",
                                        "avail-day", "avail-week", "avail-quarter",
                                        "median",    "p95",        "median-quarter"};

static void index_row(struct sbuf *b, const struct dash_row *r, size_t rank, const struct words *wd)
{
    const struct probe *p = r->probe;

    sbuf_printf(b, "<tr class=\"st-%s\" data-rank=\"%zu\" data-state=\"%s\" data-group=\"",
                dash_state_name(r->state), rank, dash_state_name(r->state));
    html_esc(b, p->group);
    sbuf_puts(b, "\" id=\"p-");
    html_esc(b, p->id);
    sbuf_puts(b, "\"><th scope=\"row\"><a href=\"probe/");
    html_esc(b, p->id);
    sbuf_puts(b, ".html\">");
    html_esc(b, p->name);
    sbuf_puts(b, "</a></th><td class=\"grp\">");
    html_esc(b, p->group);
    sbuf_printf(b, "</td><td data-v=\"%d\"><span class=\"state s-%s\">%s</span></td>",
                (int)r->state, dash_state_name(r->state), wd->state[r->state]);
    for (int w = 0; w < DASH_NWIN; w++)
        cell_indicator(b, sum_avail(r, w), false, wd);
    cell_indicator(b, sum_median(r, DASH_DAY), true, wd);
    cell_indicator(b, sum_p95(r, DASH_DAY), true, wd);
    cell_indicator(b, sum_median(r, DASH_QUARTER), true, wd);
    sbuf_puts(b, "</tr>\n");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The distinct groups of the rows, sorted (pointers into the probes). Caller frees. */
static const char **groups_of(const struct dash_row *rows, size_t n, size_t *ng)
{
    const char **g = calloc(n ? n : 1, sizeof(*g));
    size_t k = 0;

    if (!g)
        return NULL;
    for (size_t i = 0; i < n; i++)
        g[i] = rows[i].probe->group;
    qsort(g, n, sizeof(*g), cmp_str);
    for (size_t i = 0; i < n; i++)
        if (k == 0 || strcmp(g[k - 1], g[i]) != 0)
            g[k++] = g[i];
    *ng = k;
    return g;
}

static void index_groups(struct sbuf *b, const struct dash_row *rows, size_t n, const char **g,
                         size_t ng, const struct words *wd, unsigned formats)
{
    sbuf_printf(b,
                "<section aria-labelledby=\"h-groups\"><h2 id=\"h-groups\">%s</h2>\n"
                "<table id=\"groups\"><caption class=\"sr\">%s</caption><thead><tr>"
                "<th scope=\"col\">%s</th><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
                "<th scope=\"col\">%s</th>",
                wd->groups, wd->groups, wd->group, wd->probes, wd->state[DASH_DOWN],
                wd->state[DASH_SLOW]);
    if (formats)
        sbuf_printf(b, "<th scope=\"col\">%s</th>", wd->graphs);
    sbuf_puts(b, "</tr></thead><tbody>\n");
    for (size_t k = 0; k < ng; k++) {
        size_t count = 0, down = 0, slow = 0;
        char slug[512], prefix[600];

        for (size_t i = 0; i < n; i++) {
            if (strcmp(rows[i].probe->group, g[k]) != 0)
                continue;
            count++;
            down += rows[i].state == DASH_DOWN;
            slow += rows[i].state == DASH_SLOW;
        }
        graph_group_slug(slug, sizeof(slug), g[k]);
        snprintf(prefix, sizeof(prefix), "group-%s-", slug);
        sbuf_puts(b, "<tr><th scope=\"row\"><a href=\"#group=");
        sb_pct(b, g[k]);
        sbuf_puts(b, "\">");
        html_esc(b, g[k]);
        sbuf_printf(b,
                    "</a></th><td class=\"num\">%zu</td><td class=\"num\">%zu</td>"
                    "<td class=\"num\">%zu</td>",
                    count, down, slow);
        if (formats) {
            sbuf_puts(b, "<td>");
            graph_links(b, wd, prefix, formats);
            sbuf_puts(b, "</td>");
        }
        sbuf_puts(b, "</tr>\n");
    }
    sbuf_puts(b, "</tbody></table></section>\n");
}

int dash_write_index(const char *dir, const struct dash_row *rows, size_t n, const struct words *wd,
                     unsigned formats, time_t now, char *err, size_t errlen)
{
    struct sbuf b = {0};
    const struct dash_row **order = calloc(n ? n : 1, sizeof(*order));
    const char **groups = NULL;
    size_t ng = 0, count[DASH_STATE__COUNT] = {0};
    char path[4096];
    struct page_file f = {.a.fd = -1};
    int rc = 0;

    if (!order) {
        dash_err(err, errlen, "out of memory");
        return -ENOMEM;
    }
    groups = groups_of(rows, n, &ng);
    if (!groups) {
        free(order);
        dash_err(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        order[i] = &rows[i];
        count[rows[i].state]++;
    }
    qsort(order, n, sizeof(*order), cmp_worst);

    page_head(&b, wd, wd->title);
    sbuf_printf(&b, "<a class=\"skip\" href=\"#probes\">%s</a>\n", wd->skip);
    sbuf_printf(&b, "<header><h1>%s</h1><p>%s</p><p class=\"meta\">", wd->title, wd->intro);
    for (int s = 0; s < DASH_STATE__COUNT; s++)
        sbuf_printf(&b, "%s<span class=\"state s-%s\">%s</span> %zu", s ? " · " : "",
                    dash_state_name((enum dash_state)s), wd->state[s], count[s]);
    /* report.html: written by the daemon (vigie run) every few hours, or by `vigie report` */
    sbuf_printf(&b, "</p><p><a href=\"report.html\">%s</a></p></header>\n<main>\n", wd->report);

    /* the overview graph */
    if (formats) {
        sbuf_printf(&b,
                    "<section aria-labelledby=\"h-overview\"><h2 id=\"h-overview\">%s</h2>"
                    "<figure><img src=\"overview-day.%s\" alt=\"%s\"><figcaption>%s ",
                    wd->overview, img_ext(formats), wd->overview_alt, wd->other_periods);
        graph_links(&b, wd, "overview-", formats);
        sbuf_puts(&b, "</figcaption></figure></section>\n");
    }

    /* the table */
    sbuf_printf(&b, "<section aria-labelledby=\"h-probes\"><h2 id=\"h-probes\">%s</h2>\n",
                wd->heading);
    sbuf_printf(&b,
                "<form id=\"filters\" hidden onsubmit=\"return false\">"
                "<label>%s<select id=\"f-group\"><option value=\"\">%s</option>",
                wd->filter_group, wd->all);
    for (size_t k = 0; k < ng; k++) {
        sbuf_puts(&b, "<option value=\"");
        html_esc(&b, groups[k]);
        sbuf_puts(&b, "\">");
        html_esc(&b, groups[k]);
        sbuf_puts(&b, "</option>");
    }
    sbuf_printf(&b,
                "</select></label><label>%s<select id=\"f-state\"><option value=\"\">%s</option>",
                wd->filter_state, wd->all);
    for (int s = 0; s < DASH_STATE__COUNT; s++)
        sbuf_printf(&b, "<option value=\"%s\">%s</option>", dash_state_name((enum dash_state)s),
                    wd->state[s]);
    sbuf_printf(&b,
                "</select></label><button type=\"button\" id=\"worst\">%s</button>"
                "<p id=\"count\" role=\"status\" aria-live=\"polite\" data-of=\"%s\"></p>"
                "</form>\n<noscript><p class=\"meta\">%s</p></noscript>\n",
                wd->worst_first, wd->shown, wd->js_off);
    /* a wide table scrolls in its own focusable region, the page does not (WCAG 1.4.10) */
    sbuf_printf(&b,
                "<div class=\"scroll\" role=\"region\" aria-labelledby=\"h-probes\" "
                "tabindex=\"0\"><table id=\"probes\"><caption>%s</caption>\n<thead><tr>",
                wd->caption);
    for (int c = 0; c < 9; c++)
        sbuf_printf(&b, "<th scope=\"col\" data-key=\"%s\">%s</th>", col_keys[c], wd->col[c]);
    sbuf_puts(&b, "</tr></thead>\n<tbody>\n");
    snprintf(path, sizeof(path), "%s/index.html", dir);
    rc = page_open(&f, path, err, errlen);
    for (size_t i = 0; i < n && rc == 0; i++) {
        index_row(&b, order[i], i, wd);
        if (b.len >= 64 * 1024)
            rc = page_put(&f, &b, path, err, errlen);
    }
    sbuf_puts(&b, "</tbody></table></div>\n");
    sbuf_printf(&b, "<h3>%s</h3><ul><li>%s</li><li>%s</li><li>%s</li></ul></section>\n", wd->legend,
                wd->legend_state, wd->legend_avail, wd->legend_time);

    index_groups(&b, rows, n, groups, ng, wd, formats);
    sbuf_puts(&b, "</main>\n");
    page_foot(&b, wd, now);
    sbuf_puts(&b, "<script>");
    sbuf_puts(&b, dash_script);
    sbuf_puts(&b, "</script>\n</body>\n</html>\n");

    if (rc == 0)
        rc = page_put(&f, &b, path, err, errlen);
    rc = page_close(&f, path, rc, err, errlen);
    free(b.p);
    free(order);
    free(groups);
    return rc;
}

/* ---- probe/<id>.html ---- */

static void probe_summary(struct sbuf *b, const struct dash_row *r, const struct words *wd)
{
    static const unsigned under[] = {400, 800};

    sbuf_printf(b,
                "<section aria-labelledby=\"h-sum\"><h2 id=\"h-sum\">%s</h2>\n"
                "<table id=\"summary\"><caption class=\"sr\">%s</caption><thead><tr>"
                "<th scope=\"col\">%s</th><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
                "<th scope=\"col\">%s</th>",
                wd->summary, wd->summary, wd->window, wd->availability, wd->median, wd->p95);
    for (size_t u = 0; u < ARRAY_SIZE(under); u++)
        sbuf_printf(b, "<th scope=\"col\">%s %u\u00a0ms</th>", wd->under, under[u]);
    sbuf_printf(b, "<th scope=\"col\">%s</th></tr></thead><tbody>\n", wd->checks);
    for (int w = 0; w < DASH_NWIN; w++) {
        const struct rrdq_summary *s = &r->sum[w];
        bool ok = r->sum_err[w] == 0;

        sbuf_printf(b, "<tr><th scope=\"row\">%s</th>", wd->win[w]);
        cell_indicator(b, sum_avail(r, w), false, wd);
        cell_indicator(b, sum_median(r, w), true, wd);
        cell_indicator(b, sum_p95(r, w), true, wd);
        for (size_t u = 0; u < ARRAY_SIZE(under); u++) {
            double share = NAN;

            for (int k = 0; ok && k < SCHEMA_NBUCKETS; k++)
                if (schema_bounds_ms[k] == under[u] && s->availability > 0)
                    share = s->le[k] / s->availability;
            if (isnan(share)) {
                sbuf_printf(b, "<td class=\"num\" data-v=\"\">—<span class=\"sr\"> %s</span></td>",
                            wd->no_value);
            } else {
                char num[64];

                snprintf(num, sizeof(num), wd->comma ? "%.1f\u00a0%%" : "%.1f%%", share * 100.0);
                decimal(num, wd);
                sbuf_printf(b, "<td class=\"num\" data-v=\"%.6f\">%s</td>", share, num);
            }
        }
        sbuf_printf(b, "<td class=\"num\" data-v=\"%.0f\">%.0f</td></tr>\n", ok ? s->samples : 0.0,
                    ok ? s->samples : 0.0);
    }
    sbuf_puts(b, "</tbody></table></section>\n");
}

static void probe_graphs(struct sbuf *b, const struct probe *p, const struct words *wd,
                         unsigned formats)
{
    static const char *const kinds[] = {"latency", "avail"};

    if (!formats)
        return;
    sbuf_printf(b, "<section aria-labelledby=\"h-graphs\"><h2 id=\"h-graphs\">%s</h2>\n",
                wd->graphs);
    for (enum graph_period per = GRAPH_DAY; per < GRAPH_NPERIODS; per++) {
        sbuf_printf(b, "<h3>%s</h3><div class=\"graphs\">", wd->period[per]);
        for (size_t k = 0; k < 2; k++) {
            const char *title = k ? wd->avail_graph : wd->latency;
            const char *alt = k ? wd->alt_avail : wd->alt_latency;

            sbuf_puts(b, "<figure><img loading=\"lazy\" src=\"");
            html_esc(b, p->id);
            sbuf_printf(b, "-%s-%s.%s\" alt=\"%s %s — ", kinds[k], graph_period_name(per),
                        img_ext(formats), alt, wd->period[per]);
            html_esc(b, p->name);
            sbuf_printf(b, "\"><figcaption>%s, %s", title, wd->period[per]);
            if ((formats & DASH_PNG) && (formats & DASH_SVG)) {
                sbuf_puts(b, " — <a href=\"");
                html_esc(b, p->id);
                sbuf_printf(b, "-%s-%s.svg\">%s</a>", kinds[k], graph_period_name(per), wd->svg);
            }
            sbuf_puts(b, "</figcaption></figure>");
        }
        sbuf_puts(b, "</div>\n");
    }
    sbuf_puts(b, "</section>\n");
}

static void probe_errors(struct sbuf *b, const struct dash_row *r, const struct words *wd)
{
    sbuf_printf(b, "<section aria-labelledby=\"h-err\"><h2 id=\"h-err\">%s</h2>\n", wd->errors);
    if (r->nerrors == 0) {
        sbuf_printf(b, "<p>%s</p>", r->live ? wd->no_errors : wd->errors_rrd);
        sbuf_puts(b, "</section>\n");
        return;
    }
    sbuf_printf(b,
                "<table id=\"errors\"><caption class=\"sr\">%s</caption><thead><tr>"
                "<th scope=\"col\">%s</th><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
                "</tr></thead><tbody>\n",
                wd->errors, wd->when, wd->outcome, wd->message);
    for (size_t i = 0; i < r->nerrors && i < DASH_ERRORS_MAX; i++) {
        const struct dash_error *e = &r->errors[i];
        char t[64];

        fmt_time(t, sizeof(t), e->time);
        sbuf_printf(b, "<tr><th scope=\"row\"><time datetime=\"%lld\">%s</time></th><td>",
                    (long long)e->time, t);
        html_esc(b, e->outcome);
        sbuf_puts(b, "</td><td>");
        html_esc(b, e->msg);
        sbuf_puts(b, "</td></tr>\n");
    }
    sbuf_puts(b, "</tbody></table></section>\n");
}

int dash_write_probe(const char *dir, const struct dash_row *r, const struct words *wd,
                     unsigned formats, time_t now, char *err, size_t errlen)
{
    const struct probe *p = r->probe;
    struct sbuf b = {0};
    char path[4096], t[64];
    size_t ulen = strlen(p->url) + 1;
    char *url = malloc(ulen);
    int rc;

    if (!url) {
        dash_err(err, errlen, "out of memory");
        return -ENOMEM;
    }
    url_redact(p->url, url, ulen);
    {
        char *title = malloc(strlen(p->name) + sizeof(" — vigie"));

        if (title)
            snprintf(title, strlen(p->name) + sizeof(" — vigie"), "%s — vigie", p->name);
        page_head(&b, wd, title ? title : p->name);
        free(title);
    }
    sbuf_printf(&b, "<nav><a href=\"../index.html#p-");
    html_esc(&b, p->id);
    sbuf_printf(&b, "\">← %s</a></nav>\n<header><h1>", wd->back);
    html_esc(&b, p->name);
    sbuf_printf(&b, "</h1><p><span class=\"state s-%s\">%s</span> ", dash_state_name(r->state),
                wd->state[r->state]);
    fmt_time(t, sizeof(t), r->last_time);
    sbuf_printf(&b, "<span class=\"meta\">%s %s", wd->last_check, r->last_time ? t : wd->never);
    if (r->last_time && !isnan(r->last_ms)) {
        char ms[64];

        fmt_ms(ms, sizeof(ms), r->last_ms);
        sbuf_printf(&b, ", %s", ms);
    }
    sbuf_puts(&b, "</span></p></header>\n<main>\n<dl class=\"facts\">");
    sbuf_printf(&b, "<dt>%s</dt><dd>", wd->group);
    html_esc(&b, p->group);
    sbuf_printf(&b, "</dd><dt>%s</dt><dd><a href=\"", wd->url);
    html_esc(&b, url);
    sbuf_puts(&b, "\" rel=\"noreferrer\">");
    html_esc(&b, url);
    sbuf_printf(&b, "</a></dd><dt>%s</dt><dd><code>", wd->id);
    html_esc(&b, p->id);
    sbuf_printf(&b, "</code></dd><dt>%s</dt><dd>", wd->jdma);
    if (p->njdma == 0)
        sbuf_puts(&b, "—");
    for (size_t i = 0; i < p->njdma; i++)
        sbuf_printf(&b, "%s%ld", i ? ", " : "", p->jdma[i]);
    sbuf_printf(&b, "</dd><dt>%s</dt><dd>%llu\u00a0s</dd><dt>%s</dt><dd>%llu\u00a0ms</dd></dl>\n",
                wd->interval, (unsigned long long)(p->interval_ms / 1000), wd->slow,
                (unsigned long long)p->slow_ms);
    if (r->sum_msg) {
        sbuf_printf(&b, "<p role=\"alert\">%s ", wd->unreadable);
        html_esc(&b, r->sum_msg);
        sbuf_puts(&b, "</p>\n");
    }
    probe_summary(&b, r, wd);
    probe_graphs(&b, p, wd, formats);
    probe_errors(&b, r, wd);
    sbuf_puts(&b, "</main>\n");
    page_foot(&b, wd, now);
    sbuf_puts(&b, "</body>\n</html>\n");

    snprintf(path, sizeof(path), "%s/probe/%s.html", dir, p->id);
    rc = write_atomic(path, &b, err, errlen);
    free(b.p);
    free(url);
    return rc;
}
