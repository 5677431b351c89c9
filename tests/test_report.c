/* report: the rating rules at and around every boundary, the dates, every figure of a report
 * computed from RRD files written by rrdw with known contents (in-process and through
 * `vigie report` in each format), and the replay of the observatory's published figures for its
 * 221 procedures (tests/data/, docs/REPLAY.md). */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "diag.h"
#include "report.h"
#include "rrdw.h"
#include "testutil.h"

#define DAY 86400

static void ck_close(double got, double want, double eps, const char *what)
{
    ck_assert_msg(fabs(got - want) <= eps, "%s: got %.9f, want %.9f", what, got, want);
}

static void on_closed(void *arg)
{
    (*(int *)arg)++;
}

/* ---- rules ---- */

START_TEST(test_rules_2023)
{
    static const struct {
        double a;
        enum rrdq_class want;
    } av[] = {
        {1.0, RRDQ_GREEN},      {0.999, RRDQ_GREEN},  {999.0 / 1000, RRDQ_GREEN},
        {0.99899, RRDQ_YELLOW}, {0.985, RRDQ_YELLOW}, {197.0 / 200, RRDQ_YELLOW},
        {0.98499, RRDQ_RED},    {0, RRDQ_RED},        {NAN, RRDQ_NONE},
    };
    static const struct {
        double ms;
        enum rrdq_class want;
    } tm[] = {
        {0, RRDQ_GREEN},
        {399.999, RRDQ_GREEN},
        {400, RRDQ_YELLOW},
        {399.9999999, RRDQ_YELLOW}, /* 400 ms read back from microsecond sums */
        {400.001, RRDQ_YELLOW},
        {799.999, RRDQ_YELLOW},
        {800, RRDQ_RED},
        {800.5, RRDQ_RED},
        {INFINITY, RRDQ_RED},
        {NAN, RRDQ_NONE},
    };

    for (size_t i = 0; i < sizeof(av) / sizeof(av[0]); i++)
        ck_assert_msg(report_avail_2023(av[i].a) == av[i].want, "availability %.9f: got %d want %d",
                      av[i].a, report_avail_2023(av[i].a), av[i].want);
    for (size_t i = 0; i < sizeof(tm) / sizeof(tm[0]); i++)
        ck_assert_msg(report_time_2023(tm[i].ms) == tm[i].want, "%.9f ms: got %d want %d", tm[i].ms,
                      report_time_2023(tm[i].ms), tm[i].want);
}
END_TEST

START_TEST(test_rules_2019)
{
    static const struct {
        double a;
        int want;
    } av[] = {
        {0, -6},     {0.95, -6},        {19.0 / 20, -6}, {0.9501, 0}, {0.98, 0},
        {0.9801, 2}, {0.99, 2},         {0.9901, 3},     {0.995, 3},  {0.9951, 4},
        {0.999, 4},  {999.0 / 1000, 4}, {0.99901, 6},    {1.0, 6},
    };
    static const struct {
        double ms;
        int want;
    } tm[] = {
        {0, 4},       {199.999, 4}, {200, 3},       {199.9999999, 3}, {399.999, 3},
        {400, 2},     {599.999, 2}, {600, 1},       {799, 1},         {800, 0},
        {999.999, 0}, {1000, -4},   {INFINITY, -4},
    };
    static const struct {
        int score;
        enum rrdq_class want;
    } sc[] = {
        {10, RRDQ_GREEN}, {8, RRDQ_GREEN}, {7, RRDQ_YELLOW}, {5, RRDQ_YELLOW},
        {4, RRDQ_RED},    {0, RRDQ_RED},   {-10, RRDQ_RED},
    };

    for (size_t i = 0; i < sizeof(av) / sizeof(av[0]); i++)
        ck_assert_msg(report_avail_points_2019(av[i].a) == av[i].want,
                      "availability %.9f: got %d want %d", av[i].a,
                      report_avail_points_2019(av[i].a), av[i].want);
    for (size_t i = 0; i < sizeof(tm) / sizeof(tm[0]); i++)
        ck_assert_msg(report_time_points_2019(tm[i].ms) == tm[i].want, "%.9f ms: got %d want %d",
                      tm[i].ms, report_time_points_2019(tm[i].ms), tm[i].want);
    for (size_t i = 0; i < sizeof(sc) / sizeof(sc[0]); i++)
        ck_assert_msg(report_score_class_2019(sc[i].score) == sc[i].want,
                      "score %d: got %d want %d", sc[i].score, report_score_class_2019(sc[i].score),
                      sc[i].want);
}
END_TEST

START_TEST(test_dates)
{
    static const struct {
        const char *s;
        long long want; /* -1: invalid */
    } dates[] = {
        {"1970-01-01", 0},   {"2026-07-01", 1782864000}, {"2024-02-29", 1709164800},
        {"2026-02-29", -1},  {"2026-13-01", -1},         {"2026-7-01", -1},
        {"2026-07-01x", -1}, {"2026/07/01", -1},         {"", -1},
        {"2026-04-31", -1},  {"1969-12-31", -1},         {"2026-12-31", 1798675200},
    };
    time_t t, from, to;

    for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
        int rc = report_parse_date(dates[i].s, &t);
        if (dates[i].want < 0)
            ck_assert_msg(rc == -EINVAL, "\"%s\" accepted", dates[i].s);
        else
            ck_assert_msg(rc == 0 && (long long)t == dates[i].want, "\"%s\": %d %lld", dates[i].s,
                          rc, (long long)t);
    }
    ck_assert_int_eq(report_parse_quarter("2026-Q3", &from, &to), 0);
    ck_assert_int_eq(from, 1782864000); /* 2026-07-01 */
    ck_assert_int_eq(to, 1790812800);   /* 2026-10-01 */
    ck_assert_int_eq(report_parse_quarter("2026-q4", &from, &to), 0);
    ck_assert_int_eq(from, 1790812800);
    ck_assert_int_eq(to, 1798761600); /* 2027-01-01 */
    ck_assert_int_eq(report_parse_quarter("2026-Q1", &from, &to), 0);
    ck_assert_int_eq(to - from, 90 * DAY);
    ck_assert_int_eq(report_parse_quarter("2026-Q5", &from, &to), -EINVAL);
    ck_assert_int_eq(report_parse_quarter("2026Q1", &from, &to), -EINVAL);

    /* 2026-11-29 12:00: the 3 months ending with 2026-11-28. */
    report_default_window(1795953600, &from, &to);
    ck_assert_int_eq(to, 1795910400);   /* 2026-11-29 00:00 */
    ck_assert_int_eq(from, 1787961600); /* 2026-08-29 */
    /* 2026-05-31 10:00: February has no 31st, the window starts on its last day. */
    report_default_window(1780221600, &from, &to);
    ck_assert_int_eq(from, 1772236800); /* 2026-02-28 */
    ck_assert_int_eq(to, 1780185600);   /* 2026-05-31 */
    /* 2026-01-15 00:00:00 exactly: across the year. */
    report_default_window(1768435200, &from, &to);
    ck_assert_int_eq(from, 1760486400); /* 2025-10-15 */
    ck_assert_int_eq(to, 1768435200);
}
END_TEST

/* ---- end to end on known RRD contents ---- */

#define STEP 60

/* Probe "a": a mix repeating every 10 checks (so that every 10-minute and 1-hour row is
 * complete): 0-5 succeed, total 100 ms, response 50 ms; 6-7 total 450 ms, response 300 ms;
 * 8 total 1500 ms, response 900 ms; 9 fails. */
static struct result mix(int i, bool up_only)
{
    static const int64_t total[] = {100, 100, 100, 100, 100, 100, 450, 450, 1500, -1};
    static const int64_t resp[] = {50, 50, 50, 50, 50, 50, 300, 300, 900, -1};
    struct result r;
    int k = up_only ? 0 : i % 10;

    memset(&r, 0, sizeof(r));
    r.dns_us = r.connect_us = 1000;
    r.tls_us = -1;
    r.pretransfer_us = 2000;
    if (total[k] < 0) {
        r.outcome = OUTCOME_CONNECT;
        r.ttfb_us = r.total_us = r.response_us = r.pretransfer_us = -1;
        return r;
    }
    r.outcome = OUTCOME_OK;
    r.status = 200;
    r.total_us = total[k] * 1000;
    r.response_us = resp[k] * 1000;
    r.ttfb_us = r.pretransfer_us + r.response_us;
    return r;
}

/* Two UTC days from `day0`: probe "a" the mix on day 1 and the first 12 hours of day 2, flagged
 * samples for the next 6 hours, nothing for the last 6; probe "b" (300 ms total, 100 ms
 * response, always up) both whole days. Probe "c" has no file. */
static void write_known(const char *dir, int64_t day0)
{
    char a[] = "a", b[] = "b";
    struct probe pa = {.id = a, .interval_ms = STEP * 1000};
    struct probe pb = {.id = b, .interval_ms = STEP * 1000};
    struct rrdw_opts o = {.dir = dir, .flush_ms = 3600 * 1000};
    uv_loop_t loop;
    struct rrdw *w;
    int closed = 0;

    ck_assert_int_eq(uv_loop_init(&loop), 0);
    w = rrdw_new(&loop, &o);
    ck_assert_ptr_nonnull(w);
    for (int i = 0; i < 2 * 1440; i++) {
        int64_t due = day0 + (int64_t)i * STEP + 1;
        struct result r = mix(i, false), rb = mix(i, true);

        rb.total_us = 300000;
        rb.response_us = 100000;
        if (i < 1440 + 720)
            rrdw_push(w, &pa, due, &r, false);
        else if (i < 1440 + 1080)
            rrdw_push(w, &pa, due, &r, true);
        rrdw_push(w, &pb, due, &rb, false);
    }
    rrdw_close(w, NULL, on_closed, &closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(closed, 1);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}

/* A configuration for the three probes: group names with characters HTML must escape. */
static char *write_config(const char *tmp)
{
    char yaml[1024], *p;

    snprintf(yaml, sizeof(yaml), "rrd_dir: %s/rrd\ngraphs_dir: %s/graphs\nprobes_dir: probes.d\n",
             tmp, tmp);
    p = test_write(tmp, "vigie.yaml", yaml);
    free(test_write(tmp, "probes.d/one.yaml",
                    "group: \"G1 <b>&\\\"x\\\"\"\n"
                    "probes:\n"
                    "  - {id: a, name: \"Alpha <script>\", url: \"https://u:secret@a.test/\", "
                    "jdma: [11, 10]}\n"
                    "  - {id: c, url: \"https://c.test/\", jdma: [12]}\n"));
    free(test_write(tmp, "probes.d/two.yaml",
                    "group: G2\nprobes:\n  - {id: b, url: \"https://b.test/\"}\n"));
    return p;
}

static struct config *load(const char *path)
{
    struct config *c = NULL;
    struct diag d;

    diag_init(&d);
    if (config_load(path, &c, &d) != 0) {
        diag_print(&d, stderr);
        ck_abort_msg("config_load failed");
    }
    diag_fini(&d);
    return c;
}

static json_t *report_json(const struct config *c, struct report_opts *o)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    json_error_t e;
    json_t *j;

    ck_assert_ptr_nonnull(f);
    o->format = REPORT_JSON;
    ck_assert_int_eq(report_write(c, o, f, stderr), 0);
    fclose(f);
    j = json_loads(buf, 0, &e);
    ck_assert_msg(j != NULL, "json: %s\n%s", e.text, buf);
    free(buf);
    return j;
}

static double jd(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    ck_assert_msg(v != NULL, "no \"%s\"", key);
    if (json_is_null(v))
        return NAN;
    if (json_is_string(v))
        return INFINITY;
    return json_number_value(v);
}

static const char *js(json_t *o, const char *k1, const char *k2)
{
    json_t *v = json_object_get(o, k1);

    if (k2)
        v = json_object_get(v, k2);
    ck_assert_msg(json_is_string(v), "no string \"%s\"", k2 ? k2 : k1);
    return json_string_value(v);
}

/* What the mix of probe "a" gives, whatever the archive. */
static void check_a(json_t *p, const char *metric)
{
    ck_close(jd(p, "checks"), 2160, 1e-9, "a: checks");
    ck_close(jd(p, "flagged"), 360, 1e-9, "a: flagged");
    ck_close(jd(p, "availability_pct"), 90, 1e-9, "a: availability");
    if (strcmp(metric, "response") == 0)
        ck_close(jd(p, "mean_response_ms"), 200, 1e-9, "a: mean response");
    else
        ck_close(jd(p, "mean_total_ms"), 3000.0 / 9, 1e-9, "a: mean total");
    /* median: 45 % of the checks, under 200 ms (60 %): 150 ms; p95: 85.5 %, between 1000 ms
     * (80 %) and 2000 ms (90 %): 1550 ms; Apdex: 0.8 + 0.1 / 2. */
    ck_close(jd(p, "median_total_ms"), 150, 1e-9, "a: median");
    ck_close(jd(p, "p95_total_ms"), 1550, 1e-9, "a: p95");
    ck_close(jd(p, "apdex"), 0.85, 1e-9, "a: apdex");
}

START_TEST(test_known_files)
{
    char *tmp = test_mkdtemp(), dir[600], *cfg;
    int64_t day0 = ((int64_t)time(NULL) / DAY - 4) * DAY;
    struct config *c;
    struct report_opts o = {.from = (time_t)day0, .to = (time_t)(day0 + 2 * DAY)};
    json_t *j, *procs, *groups, *p;

    snprintf(dir, sizeof(dir), "%s/rrd", tmp);
    write_known(dir, day0);
    cfg = write_config(tmp);
    c = load(cfg);
    free(cfg);

    /* Two days, 2023 rules, response. */
    j = report_json(c, &o);
    ck_assert_str_eq(js(j, "rules", NULL), "2023");
    ck_assert_str_eq(js(j, "metric", NULL), "response");
    procs = json_object_get(j, "procedures");
    groups = json_object_get(j, "groups");
    ck_assert_uint_eq(json_array_size(procs), 4);
    ck_assert_uint_eq(json_array_size(groups), 2);
    /* Sorted by group, then jdma: a as 10 and 11, c as 12; then b without jdma. */
    for (int k = 0; k < 2; k++) {
        p = json_array_get(procs, (size_t)k);
        ck_assert_int_eq(json_integer_value(json_object_get(p, "jdma")), 10 + k);
        ck_assert_str_eq(js(p, "probe", NULL), "a");
        ck_assert_str_eq(js(p, "url", NULL), "https://a.test/"); /* credentials removed */
        check_a(p, "response");
        ck_close(jd(p, "coverage_pct"), 87.5, 1e-9, "a: coverage");
        ck_assert_str_eq(js(p, "rating", "availability"), "red");
        ck_assert_str_eq(js(p, "rating", "load_time"), "green");
    }
    p = json_array_get(procs, 2);
    ck_assert_str_eq(js(p, "probe", NULL), "c");
    ck_assert(json_is_false(json_object_get(p, "data")));
    ck_close(jd(p, "checks"), 0, 0, "c: checks");
    ck_close(jd(p, "coverage_pct"), 0, 0, "c: coverage");
    ck_assert(isnan(jd(p, "availability_pct")));
    ck_assert(isnan(jd(p, "mean_response_ms")));
    ck_assert_str_eq(js(p, "rating", "availability"), "none");
    p = json_array_get(procs, 3);
    ck_assert_str_eq(js(p, "probe", NULL), "b");
    ck_assert(json_is_null(json_object_get(p, "jdma")));
    ck_close(jd(p, "checks"), 2880, 1e-9, "b: checks");
    ck_close(jd(p, "coverage_pct"), 100, 1e-9, "b: coverage");
    ck_close(jd(p, "availability_pct"), 100, 1e-9, "b: availability");
    ck_close(jd(p, "mean_response_ms"), 100, 1e-9, "b: mean");
    ck_close(jd(p, "median_total_ms"), 300, 1e-9, "b: median");
    ck_close(jd(p, "p95_total_ms"), 390, 1e-9, "b: p95");
    ck_close(jd(p, "apdex"), 1, 1e-9, "b: apdex");
    ck_assert_str_eq(js(p, "rating", "availability"), "green");
    /* Group G1: a and c, a's checks counted once. */
    p = json_array_get(groups, 0);
    ck_assert_str_eq(js(p, "group", NULL), "G1 <b>&\"x\"");
    ck_assert_int_eq(json_integer_value(json_object_get(p, "probes")), 2);
    check_a(p, "response");
    ck_close(jd(p, "coverage_pct"), 43.75, 1e-9, "G1: coverage");
    json_decref(j);

    /* 2019 rules: 90 % → −6; a mean response of exactly 200 ms → 3 (not 4); −3 is red. b: 6 + 4. */
    o.rules = REPORT_RULES_2019;
    j = report_json(c, &o);
    p = json_array_get(json_object_get(j, "procedures"), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(p, "rating"), "score")),
                     -3);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(p, "rating"), "response_points")), 3);
    ck_assert_str_eq(js(p, "rating", "colour"), "red");
    p = json_array_get(json_object_get(j, "procedures"), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(p, "rating"), "score")),
                     10);
    ck_assert_str_eq(js(p, "rating", "colour"), "green");
    p = json_array_get(json_object_get(j, "procedures"), 2);
    ck_assert(json_is_null(json_object_get(json_object_get(p, "rating"), "score")));
    json_decref(j);

    /* Mean total time, and a window of 22 days (read from the 1-hour archive): the same figures,
     * a smaller coverage. Only probe a. */
    const char *only[] = {"a"};
    o.rules = REPORT_RULES_2023;
    o.metric = REPORT_TOTAL;
    o.from = (time_t)(day0 - 20 * DAY);
    o.probes = only;
    o.nprobes = 1;
    j = report_json(c, &o);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "procedures")), 2);
    p = json_array_get(json_object_get(j, "procedures"), 0);
    check_a(p, "total");
    ck_close(jd(p, "coverage_pct"), 100.0 * 2520 / (22 * 1440), 1e-9, "a: 22-day coverage");
    json_decref(j);

    /* An unknown probe, an empty group. */
    const char *nope[] = {"nope"};
    o.probes = nope;
    ck_assert_int_eq(report_write(c, &o, stdout, stderr), -ENOENT);
    o.nprobes = 0;
    o.group = "G9";
    ck_assert_int_eq(report_write(c, &o, stdout, stderr), -ENOENT);

    config_free(c);
    test_rmtree(tmp);
    free(tmp);
}
END_TEST

/* The command line: every format, --quarter, --to inclusive, -o, errors. */
START_TEST(test_cli)
{
    char *tmp = test_mkdtemp(), dir[600], from[16], to[16], out_path[700], *cfg, *out = NULL,
         *err = NULL, *html;
    int64_t day0 = ((int64_t)time(NULL) / DAY - 4) * DAY;
    time_t t = (time_t)day0;
    struct tm tm;
    int rc;

    snprintf(dir, sizeof(dir), "%s/rrd", tmp);
    write_known(dir, day0);
    cfg = write_config(tmp);
    strftime(from, sizeof(from), "%Y-%m-%d", gmtime_r(&t, &tm));
    t += DAY; /* --to is included: the second day */
    strftime(to, sizeof(to), "%Y-%m-%d", gmtime_r(&t, &tm));

    const char *csv[] = {"report", "-c", cfg, "--from", from, "--to", to, "--format", "csv", NULL};
    rc = test_vigie(csv, &out, &err, 30);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    ck_assert_msg(strstr(out, "kind,group,jdma,probe,name,checks,flagged,coverage_pct,"
                              "availability_pct,mean_response_ms,median_total_ms,p95_total_ms,"
                              "apdex,availability_rating,load_time_rating\n") == out,
                  "%s", out);
    ck_assert_msg(strstr(out, "procedure,\"G1 <b>&\"\"x\"\"\",10,a,Alpha <script>,2160,360,87.5000,"
                              "90.000000,200.000,150.000,1550.000,0.850000,red,green\n"),
                  "%s", out);
    ck_assert_msg(strstr(out, "procedure,G2,,b,b,2880,0,100.0000,100.000000,100.000,300.000,"
                              "390.000,1.000000,green,green\n"),
                  "%s", out);
    ck_assert_msg(strstr(out, "procedure,\"G1 <b>&\"\"x\"\"\",12,c,c,0,0,0.0000,,,,,,none,none\n"),
                  "%s", out);
    ck_assert_msg(strstr(out, "group,G2,,,,2880,0,100.0000,100.000000,"), "%s", out);
    free(out);
    free(err);

    const char *table[] = {"report", "-c", cfg,       "--from", from,
                           "--to",   to,   "--rules", "2019",   NULL};
    rc = test_vigie(table, &out, &err, 30);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    ck_assert_msg(strstr(out, "rules 2019, load time = mean response time"), "%s", out);
    ck_assert_msg(
        strstr(out,
               "10     a         2160     360    87.5   90.000    200.0     150    1550  0.850 "
               "        -6        3    -3 red\n"),
        "%s", out);
    free(out);
    free(err);

    /* HTML to a file: escaped, self-contained, a quarter graph linked when it exists. */
    snprintf(out_path, sizeof(out_path), "%s/out/report.html", tmp);
    free(test_write(tmp, "out/.keep", ""));
    free(test_write(tmp, "graphs/probe/a-latency-quarter.png", "png"));
    const char *h[] = {"report", "-c",       cfg,    "--from", from,     "--to",
                       to,       "--format", "html", "-o",     out_path, NULL};
    rc = test_vigie(h, &out, &err, 30);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    html = test_slurp(out_path, NULL);
    ck_assert_ptr_nonnull(strstr(html, "<!DOCTYPE html>"));
    ck_assert_ptr_nonnull(strstr(html, "G1 &lt;b&gt;&amp;&quot;x&quot;"));
    ck_assert_ptr_nonnull(strstr(html, "Alpha &lt;script&gt;"));
    ck_assert_ptr_null(strstr(html, "<script"));
    ck_assert_ptr_null(strstr(html, "<b>&"));
    ck_assert_ptr_null(strstr(html, "secret"));
    ck_assert_ptr_nonnull(strstr(html, "src=\"../graphs/probe/a-latency-quarter.png\""));
    ck_assert_ptr_null(strstr(html, "a-avail-quarter.png"));
    ck_assert_ptr_nonnull(strstr(html, "<td class=\"r\">red</td><td class=\"g\">green</td>"));
    free(html);
    free(out);
    free(err);

    /* A quarter without any data: every procedure reported, without figures. */
    const char *q[] = {"report", "-c", cfg, "--quarter", "2020-Q1", "--format", "json", NULL};
    rc = test_vigie(q, &out, &err, 30);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    ck_assert_msg(strstr(out, "\"from\": \"2020-01-01\"") && strstr(out, "\"to\": \"2020-03-31\""),
                  "%s", out);
    free(out);
    free(err);

    static const struct {
        const char *args[6];
        const char *err;
        int status;
    } bad[] = {
        {{"--quarter", "2026-Q5"}, "--quarter \"2026-Q5\"", 3},
        {{"--from", "2026-02-30"}, "--from \"2026-02-30\": expected a date", 3},
        {{"--from", "2026-03-02", "--to", "2026-03-01"}, "the window is empty", 3},
        {{"--quarter", "2026-Q1", "--to", "2026-03-01"}, "--quarter excludes", 3},
        {{"--format", "pdf"}, "unknown format \"pdf\"", 3},
        {{"--rules", "2020"}, "unknown rules \"2020\"", 3},
        {{"--metric", "ttfb"}, "unknown metric \"ttfb\"", 3},
        {{"--probe", "a,nope"}, "no probe with id \"nope\"", 1},
        {{"--group", "G9"}, "no probe in group \"G9\"", 1},
        {{"--bogus"}, "unexpected argument \"--bogus\"", 3},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *argv[10] = {"report", "-c", cfg};
        size_t n = 3;

        for (size_t k = 0; k < 6 && bad[i].args[k]; k++)
            argv[n++] = bad[i].args[k];
        rc = test_vigie(argv, &out, &err, 30);
        ck_assert_msg(rc == bad[i].status, "case %zu: exit %d", i, rc);
        ck_assert_msg(strstr(err, bad[i].err), "case %zu: stderr: %s", i, err);
        free(out);
        free(err);
    }
    free(cfg);
    test_rmtree(tmp);
    free(tmp);
}
END_TEST

Suite *report_suite(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("report");

    tcase_set_timeout(tc, test_timeout(120));
    tcase_add_test(tc, test_rules_2023);
    tcase_add_test(tc, test_rules_2019);
    tcase_add_test(tc, test_dates);
    tcase_add_test(tc, test_known_files);
    tcase_add_test(tc, test_cli);
    suite_add_tcase(s, tc);
    return s;
}
