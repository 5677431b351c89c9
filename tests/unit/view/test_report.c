/* report: the rating rules at and around every boundary, the dates, every figure of a report
 * computed from RRD files written by rrdw with known contents (in-process and through
 * `vigie report` in each format), and the replay of the observatory's published figures for its
 * 221 procedures (tests/data/, docs/REPLAY.md). */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "base/diag.h"
#include "view/report.h"
#include "store/criterion.h"
#include "store/rrdw.h"
#include "store/schema.h"
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
        enum criterion_class want;
    } av[] = {
        {1.0, CRITERION_GREEN},      {0.999, CRITERION_GREEN},  {999.0 / 1000, CRITERION_GREEN},
        {0.99899, CRITERION_YELLOW}, {0.985, CRITERION_YELLOW}, {197.0 / 200, CRITERION_YELLOW},
        {0.98499, CRITERION_RED},    {0, CRITERION_RED},        {NAN, CRITERION_NONE},
    };
    static const struct {
        double ms;
        enum criterion_class want;
    } tm[] = {
        {0, CRITERION_GREEN},
        {399.999, CRITERION_GREEN},
        {400, CRITERION_YELLOW},
        {399.9999999, CRITERION_YELLOW}, /* 400 ms read back from microsecond sums */
        {400.001, CRITERION_YELLOW},
        {799.999, CRITERION_YELLOW},
        {800, CRITERION_RED},
        {800.5, CRITERION_RED},
        {INFINITY, CRITERION_RED},
        {NAN, CRITERION_NONE},
    };

    for (size_t i = 0; i < sizeof(av) / sizeof(av[0]); i++)
        ck_assert_msg(criterion_avail_class(av[i].a) == av[i].want,
                      "availability %.9f: got %d want %d", av[i].a, criterion_avail_class(av[i].a),
                      av[i].want);
    for (size_t i = 0; i < sizeof(tm) / sizeof(tm[0]); i++)
        ck_assert_msg(criterion_time_class(tm[i].ms) == tm[i].want, "%.9f ms: got %d want %d",
                      tm[i].ms, criterion_time_class(tm[i].ms), tm[i].want);
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
        enum criterion_class want;
    } sc[] = {
        {10, CRITERION_GREEN}, {8, CRITERION_GREEN}, {7, CRITERION_YELLOW}, {5, CRITERION_YELLOW},
        {4, CRITERION_RED},    {0, CRITERION_RED},   {-10, CRITERION_RED},
    };

    for (size_t i = 0; i < sizeof(av) / sizeof(av[0]); i++)
        ck_assert_msg(criterion_avail_points_2019(av[i].a) == av[i].want,
                      "availability %.9f: got %d want %d", av[i].a,
                      criterion_avail_points_2019(av[i].a), av[i].want);
    for (size_t i = 0; i < sizeof(tm) / sizeof(tm[0]); i++)
        ck_assert_msg(criterion_time_points_2019(tm[i].ms) == tm[i].want, "%.9f ms: got %d want %d",
                      tm[i].ms, criterion_time_points_2019(tm[i].ms), tm[i].want);
    for (size_t i = 0; i < sizeof(sc) / sizeof(sc[0]); i++)
        ck_assert_msg(criterion_score_class_2019(sc[i].score) == sc[i].want,
                      "score %d: got %d want %d", sc[i].score,
                      criterion_score_class_2019(sc[i].score), sc[i].want);
}
END_TEST

/* One rounding rule for every output: cut, never rounded up past a class edge, exact fractions
 * exact. */
START_TEST(test_criterion_pct)
{
    static const struct {
        double a;
        int decimals;
        const char *want;
    } c[] = {
        {999.0 / 1000, 3, "99.900"},
        {999.0 / 1000, 2, "99.90"},
        {0.99899, 2, "99.89"},
        {0.99899, 3, "99.899"},
        {0.999999, 3, "99.999"},
        {1.0, 3, "100.000"},
        {0.0, 2, "0.00"},
        {197.0 / 200, 6, "98.500000"},
        {0.98499, 1, "98.4"},
        {2.0 / 3, 6, "66.666666"},
        {1.0 / 3, 0, "33"},
        {0.5, 0, "50"},
    };
    char buf[32];

    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
        ck_assert_str_eq(criterion_pct(buf, sizeof(buf), c[i].a, c[i].decimals), c[i].want);
    ck_assert_str_eq(criterion_pct(buf, sizeof(buf), NAN, 3), "");
    /* The figure and the class agree at the edges. */
    ck_assert_int_eq(criterion_avail_class(999.0 / 1000), CRITERION_GREEN);
    ck_assert_int_eq(criterion_avail_class(0.99899), CRITERION_YELLOW);
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

    /* --to alone: the 3 months ending that day, here Q1. */
    const char *t1[] = {"report", "-c", cfg, "--to", "2026-03-31", "--format", "json", NULL};
    rc = test_vigie(t1, &out, &err, 30);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    ck_assert_msg(strstr(out, "\"from\": \"2026-01-01\"") && strstr(out, "\"to\": \"2026-03-31\""),
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

/* ---- replay of the observatory's published figures ---- */

/* updown's cumulative buckets: checks answered in under N ms. */
#define NUD 9
/* The replay window: 100 days ending 2026-08-21, long enough for every procedure's samples at
 * one per hour or per half hour (4,460 at most). */
#define REPLAY_DAYS 100
static const int64_t ud_ms[NUD] = {125, 250, 500, 1000, 2000, 4000, 8000, 16000, 32000};

struct pub {
    long jdma;
    long n, f;     /* samples, failures */
    double uptime; /* % */
    double mean;   /* t_response_ms */
    double apdex;
    long under[NUD];
    /* what the replay made of it */
    long d;             /* down samples written */
    int64_t interval_s; /* one sample per interval, like updown's hourly checks */
    const char *fit;    /* how the samples were fitted (docs/REPLAY.md) */
};

/* Splits one CSV line (RFC 4180 quotes, no line breaks inside fields) in place. */
static size_t csv_split(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *w = line, *r = line;

    while (n < max) {
        fields[n++] = w;
        if (*r == '"') {
            for (r++; *r && !(*r == '"' && r[1] != '"'); r++) {
                if (*r == '"')
                    r++;
                *w++ = *r;
            }
            if (*r == '"')
                r++;
        } else {
            while (*r && *r != ',' && *r != '\n' && *r != '\r')
                *w++ = *r++;
        }
        if (*r != ',') {
            *w = '\0';
            break;
        }
        *w++ = '\0';
        r++;
    }
    return n;
}

static int col(char **names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return (int)i;
    ck_abort_msg("published data: no column \"%s\"", name);
    return -1;
}

/* The rows of the published file that have updown figures. */
static size_t read_published(const char *path, struct pub **out)
{
    char *text = test_slurp(path, NULL), *line, *save = NULL, *head[64], *v[64];
    size_t nh, cap = 0, n = 0;
    int c_jdma, c_up, c_mean, c_apdex, c_n, c_f, c_under[NUD];
    struct pub *p = NULL;

    line = strtok_r(text, "\n", &save);
    ck_assert_ptr_nonnull(line);
    nh = csv_split(line, head, 64);
    c_jdma = col(head, nh, "jdma_id");
    c_up = col(head, nh, "uptime_pct");
    c_mean = col(head, nh, "t_response_ms");
    c_apdex = col(head, nh, "apdex");
    c_n = col(head, nh, "samples");
    c_f = col(head, nh, "failures");
    for (int i = 0; i < NUD; i++) {
        char name[32];
        snprintf(name, sizeof(name), "under%lld", (long long)ud_ms[i]);
        c_under[i] = col(head, nh, name);
    }
    while ((line = strtok_r(NULL, "\n", &save))) {
        size_t nv = csv_split(line, v, 64);

        ck_assert_uint_eq(nv, nh);
        if (!v[c_up][0])
            continue; /* no updown check */
        if (n == cap) {
            struct pub *bigger;
            cap = cap ? 2 * cap : 256;
            bigger = realloc(p, cap * sizeof(*p));
            ck_assert_ptr_nonnull(bigger);
            p = bigger;
        }
        memset(&p[n], 0, sizeof(p[n]));
        p[n].jdma = strtol(v[c_jdma], NULL, 10);
        p[n].uptime = strtod(v[c_up], NULL);
        p[n].mean = strtod(v[c_mean], NULL);
        p[n].apdex = strtod(v[c_apdex], NULL);
        p[n].n = strtol(v[c_n], NULL, 10);
        p[n].f = strtol(v[c_f], NULL, 10);
        for (int i = 0; i < NUD; i++)
            p[n].under[i] = strtol(v[c_under[i]], NULL, 10);
        n++;
    }
    free(text);
    *out = p;
    return n;
}

/* The number of down samples: n × (1 − uptime) rounded to the nearest whole check whose
 * availability has the same 2023 colour and 2019 points as the published uptime (the other
 * rounding when the nearest one crosses a boundary). */
static long down_count(const struct pub *p)
{
    double x = (double)p->n * (1 - p->uptime / 100), a = p->uptime / 100;
    long lo = (long)floor(x), hi = (long)ceil(x), c[2];

    c[0] = x - (double)lo <= (double)hi - x ? lo : hi;
    c[1] = c[0] == lo ? hi : lo;
    for (int k = 0; k < 2; k++) {
        double b = (double)(p->n - c[k]) / (double)p->n;
        if (criterion_avail_class(b) == criterion_avail_class(a) &&
            criterion_avail_points_2019(b) == criterion_avail_points_2019(a))
            return c[k];
    }
    ck_abort_msg("jdma %ld: no whole count of down checks rates like %.3f %%", p->jdma, p->uptime);
    return -1;
}

/* The response times (µs) of the successful samples, *ns of them, reproducing the published
 * histogram and mean as far as they can be (docs/REPLAY.md, "How the samples are built"). */
static int64_t *fit_samples(struct pub *p, long *ns)
{
    long s = p->n - p->d, k = 0, e = p->f - p->d;
    int64_t *lo = calloc((size_t)s + 1, sizeof(*lo)), *hi = calloc((size_t)s + 1, sizeof(*hi));
    int64_t *v = calloc((size_t)s + 1, sizeof(*v)), target, sum = 0;
    const int64_t two_s = 2000000;
    double L = 0, H = 0;
    bool altered = e < 0, raised = false;

    ck_assert(lo && hi && v);
    ck_assert_int_eq(p->under[NUD - 1], p->n - p->f);
    /* The histogram's successes, slowest last; when uptime says more checks were down than
     * updown counted failures, the slowest ones become failures. */
    for (int b = 0; b < NUD; b++) {
        long count = p->under[b] - (b ? p->under[b - 1] : 0);
        for (long i = 0; i < count && k < s; i++, k++) {
            lo[k] = (b ? ud_ms[b - 1] : 0) * 1000;
            hi[k] = ud_ms[b] * 1000;
        }
    }
    /* updown failures that its uptime counts as up: successes slower than 2 s in our files. */
    for (; k < s; k++) {
        lo[k] = two_s;
        hi[k] = ud_ms[NUD - 1] * 1000;
    }
    target = (int64_t)(p->mean * 1000 + 0.5) * s;
    for (long i = 0; i < s; i++) {
        L += (double)lo[i];
        H += (double)(hi[i] - 1);
    }
    if ((double)target < L && e > 0) {
        /* Those failures-but-up were fast (an error page answered quickly): they cannot all be
         * slower than 2 s and keep the mean, so they go anywhere under 32 s, into our buckets. */
        for (long i = p->n - p->f; i < s; i++) {
            L -= (double)lo[i];
            lo[i] = 0;
        }
        altered = true;
    }
    if ((double)target >= L && (double)target <= H) {
        double t = H > L ? ((double)target - L) / (H - L) : 0;
        for (long i = 0; i < s; i++)
            v[i] = lo[i] + (int64_t)(t * (double)(hi[i] - 1 - lo[i]));
    } else if ((double)target > H) {
        /* updown's mean counts the time of failed checks, which vigie does not: the excess goes
         * to the samples slower than 2 s, which no bucket of ours tells apart. */
        long open = 0;
        for (long i = 0; i < s; i++) {
            v[i] = hi[i] - 1;
            open += lo[i] >= two_s;
        }
        if (!open) { /* the slowest sample moves past 2 s */
            lo[s - 1] = v[s - 1] = two_s;
            hi[s - 1] = INT64_MAX;
            open = 1;
            altered = true;
        }
        for (long i = 0; i < s; i++)
            sum += v[i];
        for (long i = 0; i < s; i++) {
            if (lo[i] >= two_s) {
                hi[i] = INT64_MAX;
                v[i] += (target - sum) / open;
            }
        }
        raised = true;
    } else {
        for (long i = 0; i < s; i++)
            v[i] = (int64_t)((double)lo[i] * (double)target / L);
        altered = true;
    }
    /* Whole microseconds: the remainder, one µs at a time where a sample has room. */
    sum = 0;
    for (long i = 0; i < s; i++)
        sum += v[i];
    for (long i = 0; sum != target; i = (i + 1) % s) {
        int64_t step = sum < target ? 1 : -1;
        if (v[i] + step < hi[i] && v[i] + step >= 0) {
            v[i] += step;
            sum += step;
        }
    }
    p->fit = altered ? "histogram altered" : raised ? "mean above the buckets" : "exact";
    free(lo);
    free(hi);
    *ns = s;
    return v;
}

/* Builds the samples of every procedure and writes them through rrdw into dir, one probe "j<id>"
 * per procedure, the last sample ending at `end`. */
static void replay_write(const char *dir, struct pub *p, size_t np, time_t end)
{
    struct rrdw_opts o = {.dir = dir, .flush_ms = 3600 * 1000, .max_queued = 4000000};
    struct probe *probes = calloc(np, sizeof(*probes));
    char(*ids)[32] = calloc(np, sizeof(*ids));
    uv_loop_t loop;
    struct rrdw *w;
    struct rrdw_stats st;
    int closed = 0;
    uint64_t total = 0;

    ck_assert(probes && ids);
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    w = rrdw_new(&loop, &o);
    ck_assert_ptr_nonnull(w);
    for (size_t k = 0; k < np; k++) {
        long ns, down;
        int64_t *v, start;
        uint32_t seed = (uint32_t)p[k].jdma * 2654435761u + 1;
        unsigned char *is_up;

        p[k].interval_s = (int64_t)p[k].n * 3600 <= REPLAY_DAYS * DAY ? 3600 : 1800;
        ck_assert_msg(p[k].n * p[k].interval_s <= REPLAY_DAYS * DAY, "jdma %ld: %ld samples",
                      p[k].jdma, p[k].n);
        p[k].d = down_count(&p[k]);
        v = fit_samples(&p[k], &ns);
        down = p[k].d;
        /* Where the down samples go: spread by a fixed shuffle (Fisher-Yates, an LCG). */
        is_up = calloc((size_t)p[k].n, 1);
        ck_assert_ptr_nonnull(is_up);
        for (long i = 0; i < p[k].n; i++)
            is_up[i] = i >= down;
        for (long i = p[k].n - 1; i > 0; i--) {
            long j;
            unsigned char t;
            seed = seed * 1664525u + 1013904223u;
            j = (long)(seed % (uint32_t)(i + 1));
            t = is_up[i];
            is_up[i] = is_up[j];
            is_up[j] = t;
        }
        snprintf(ids[k], sizeof(ids[k]), "j%ld", p[k].jdma);
        probes[k].id = ids[k];
        probes[k].interval_ms = (uint64_t)p[k].interval_s * 1000;
        start = (int64_t)end - p[k].n * p[k].interval_s;
        /* Half-hourly samples fill the 1-hour rows two by two. An odd count leaves the first row
         * with one sample, which the row would weigh as two (AVERAGE cannot tell a missing
         * step from a known one): a flagged sample completes it, and is counted as flagged. */
        if (start % 3600) {
            struct result r;
            memset(&r, 0, sizeof(r));
            rrdw_push(w, &probes[k], start - p[k].interval_s + 1, &r, true);
            total++;
        }
        for (long i = 0, u = 0; i < p[k].n; i++) {
            struct result r;

            memset(&r, 0, sizeof(r));
            r.tls_us = r.redirect_us = 0;
            if (is_up[i]) {
                r.outcome = OUTCOME_OK;
                r.status = 200;
                r.total_us = r.response_us = r.ttfb_us = v[u++];
            } else {
                r.outcome = OUTCOME_TIMEOUT;
                r.ttfb_us = r.total_us = r.response_us = r.pretransfer_us = -1;
            }
            rrdw_push(w, &probes[k], start + i * p[k].interval_s + 1, &r, false);
        }
        total += (uint64_t)p[k].n;
        free(is_up);
        free(v);
    }
    rrdw_close(w, &st, on_closed, &closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(closed, 1);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    ck_assert_uint_eq(st.written, total);
    free(probes);
    free(ids);
}

static json_t *find_jdma(json_t *procs, long jdma)
{
    for (size_t i = 0; i < json_array_size(procs); i++) {
        json_t *p = json_array_get(procs, i);
        if (json_integer_value(json_object_get(p, "jdma")) == jdma)
            return p;
    }
    ck_abort_msg("jdma %ld not in the report", jdma);
    return NULL;
}

static const char *cname(enum criterion_class c, bool y19)
{
    return y19 && c == CRITERION_YELLOW ? "orange" : criterion_class_name(c);
}

/* Every procedure of the published file replayed: vigie's availability and load-time ratings
 * (2023) and score (2019) are those the published figures imply, the figures themselves within
 * what whole checks allow. With VIGIE_REPLAY_TABLE set, the comparison table is written there
 * (docs/tools/replay-table.sh puts it into docs/REPLAY.md); with VIGIE_REPLAY_DIR set, the files
 * and the configuration are built there and kept. */
START_TEST(test_replay)
{
    const char *src = getenv("VIGIE_SRCDIR"), *table = getenv("VIGIE_REPLAY_TABLE");
    const char *keep = getenv("VIGIE_REPLAY_DIR"); /* kept for `vigie report` by hand */
    char *tmp = keep ? strdup(keep) : test_mkdtemp(), path[700], yaml[128], *text;
    struct pub *p;
    size_t np, len = 0, cap = 1 << 16, exact = 0, raised = 0, altered = 0;
    time_t end, from;
    struct report_opts o = {0};
    struct config *c;
    json_t *j23, *j19;
    struct timespec t0, t1;
    FILE *md = NULL;

    snprintf(path, sizeof(path), "%s/tests/data/observatoire_vde_dashlord_updown_latest.csv",
             src ? src : ".");
    np = read_published(path, &p);
    ck_assert_uint_eq(np, 221);
    ck_assert_int_eq(report_parse_date("2026-08-22", &end), 0);
    from = end - REPLAY_DAYS * DAY;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    snprintf(path, sizeof(path), "%s/rrd", tmp);
    replay_write(path, p, np, end);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "replay: %zu procedures written in %.2f s\n", np,
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);

    /* One probe per procedure in one probes file. */
    text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    len = (size_t)snprintf(text, cap, "group: replay\nprobes:\n");
    for (size_t k = 0; k < np; k++) {
        if (cap - len < 256) {
            char *bigger = realloc(text, cap * 2);
            ck_assert_ptr_nonnull(bigger);
            text = bigger;
            cap *= 2;
        }
        len += (size_t)snprintf(text + len, cap - len,
                                "  - {id: j%ld, url: \"https://j%ld.test/\", jdma: [%ld], "
                                "interval: %llds}\n",
                                p[k].jdma, p[k].jdma, p[k].jdma, (long long)p[k].interval_s);
    }
    free(test_write(tmp, "probes.d/replay.yaml", text));
    free(text);
    snprintf(yaml, sizeof(yaml), "rrd_dir: rrd\nprobes_dir: probes.d\n");
    text = test_write(tmp, "vigie.yaml", yaml);
    c = load(text);
    free(text);

    o.from = from;
    o.to = end;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    j23 = report_json(c, &o);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "replay: report of %zu procedures in %.3f s\n", np,
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    o.rules = REPORT_RULES_2019;
    j19 = report_json(c, &o);

    if (table) {
        md = fopen(table, "w");
        ck_assert_msg(md != NULL, "%s", table);
        fprintf(md,
                "| jdma | samples | failures | down | uptime %% | vigie %% | response ms | vigie "
                "ms | Apdex | vigie | 2023 availability | 2023 load time | 2019 score | "
                "samples built |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    }
    for (size_t k = 0; k < np; k++) {
        json_t *a = find_jdma(json_object_get(j23, "procedures"), p[k].jdma);
        json_t *b = find_jdma(json_object_get(j19, "procedures"), p[k].jdma);
        double ua = p[k].uptime / 100;
        enum criterion_class pa = criterion_avail_class(ua), pt = criterion_time_class(p[k].mean);
        int ps = criterion_avail_points_2019(ua) + criterion_time_points_2019(p[k].mean);
        const char *va = js(a, "rating", "availability"), *vt = js(a, "rating", "load_time");
        int vs = (int)json_integer_value(json_object_get(json_object_get(b, "rating"), "score"));
        double avail = jd(a, "availability_pct"), mean = jd(a, "mean_response_ms");
        double apdex = jd(a, "apdex");

        ck_assert_msg(strcmp(va, cname(pa, false)) == 0, "jdma %ld: availability %s, published %s",
                      p[k].jdma, va, cname(pa, false));
        ck_assert_msg(strcmp(vt, cname(pt, false)) == 0, "jdma %ld: load time %s, published %s",
                      p[k].jdma, vt, cname(pt, false));
        ck_assert_msg(vs == ps, "jdma %ld: score %d, published %d", p[k].jdma, vs, ps);
        ck_assert_str_eq(js(b, "rating", "colour"), cname(criterion_score_class_2019(ps), true));
        ck_close(jd(a, "checks"), (double)p[k].n, 1e-9, "checks");
        ck_close(avail, 100.0 * (double)(p[k].n - p[k].d) / (double)p[k].n, 1e-9, "availability");
        ck_assert_msg(fabs(avail - p[k].uptime) <= 100.0 / (double)p[k].n,
                      "jdma %ld: availability %.4f, published %.3f", p[k].jdma, avail, p[k].uptime);
        ck_close(mean, p[k].mean, 1e-6, "mean response");
        if (strcmp(p[k].fit, "histogram altered") != 0)
            ck_assert_msg(fabs(apdex - p[k].apdex) <= 0.0005 + 1e-9,
                          "jdma %ld: Apdex %.4f, published %.3f", p[k].jdma, apdex, p[k].apdex);
        exact += strcmp(p[k].fit, "exact") == 0;
        raised += strcmp(p[k].fit, "mean above the buckets") == 0;
        altered += strcmp(p[k].fit, "histogram altered") == 0;
        if (md)
            fprintf(md,
                    "| %ld | %ld | %ld | %ld | %.3f | %.3f | %.0f | %.3f | %.3f | %.3f | %s / %s "
                    "| %s / %s | %d / %d | %s |\n",
                    p[k].jdma, p[k].n, p[k].f, p[k].d, p[k].uptime, avail, p[k].mean, mean,
                    p[k].apdex, apdex, cname(pa, false), va, cname(pt, false), vt, ps, vs,
                    p[k].fit);
    }
    fprintf(stderr,
            "replay: %zu procedures match; samples built: %zu exact, %zu mean above the "
            "buckets, %zu histogram altered\n",
            np, exact, raised, altered);
    if (md) {
        fprintf(md,
                "\n%zu procedures; samples built: %zu exact, %zu mean above the buckets, %zu "
                "histogram altered.\n",
                np, exact, raised, altered);
        fclose(md);
    }
    json_decref(j23);
    json_decref(j19);
    config_free(c);
    free(p);
    if (!keep)
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
    tcase_add_test(tc, test_criterion_pct);
    tcase_add_test(tc, test_dates);
    tcase_add_test(tc, test_known_files);
    tcase_add_test(tc, test_cli);
    suite_add_tcase(s, tc);
    /* A case of its own, so that docs/tools/replay-table.sh runs it alone (CK_RUN_CASE). */
    tc = tcase_create("replay");
    tcase_set_timeout(tc, test_timeout(180));
    tcase_add_test(tc, test_replay);
    suite_add_tcase(s, tc);
    return s;
}
