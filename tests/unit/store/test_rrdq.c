/* rrdq against real RRD files written by rrdw with faked (past) due times, so that the expected
 * figures follow from the injected mix: availability, bucket shares, interpolated percentiles,
 * flagged and missed samples left out, the coarse archives giving the same answer. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/rrdq.h"
#include "store/criterion.h"
#include "store/rrdw.h"
#include "store/schema.h"
#include "testutil.h"

#define STEP 60
#define NOK 100 /* counted samples, then 10 flagged, then 10 missed */

static void ck_close(double got, double want, double eps, const char *what)
{
    ck_assert_msg(fabs(got - want) <= eps, "%s: got %.6f, want %.6f", what, got, want);
}

static void on_closed(void *arg)
{
    (*(int *)arg)++;
}

/* The mix, by i % 10: 0-2 succeed in 100 ms, 3-5 in 300 ms, 6-8 in 700 ms, 9 fails. */
static struct result mix(int i)
{
    static const int64_t ms[] = {100, 100, 100, 300, 300, 300, 700, 700, 700, -1};
    struct result r;

    memset(&r, 0, sizeof(r));
    r.dns_us = r.connect_us = 1000;
    r.tls_us = r.pretransfer_us = -1;
    if (ms[i % 10] < 0) {
        r.outcome = OUTCOME_CONNECT;
        r.ttfb_us = r.total_us = r.response_us = -1;
        return r;
    }
    r.outcome = OUTCOME_OK;
    r.status = 200;
    r.total_us = ms[i % 10] * 1000;
    r.ttfb_us = r.total_us - 100;
    r.response_us = r.total_us / 2;
    return r;
}

/* Writes the mix for probe "p" into <tmp>/rrd every `step` seconds, starting on an hour boundary
 * 3 hours ago: `nok` counted samples, then `nbad` flagged, then `nbad` missed. `full_s` is the
 * retention at full resolution, 0 the default. */
static char *write_probe(unsigned step, int nok, int nbad, uint64_t full_s, int64_t *base_out)
{
    char *tmp = test_mkdtemp();
    char dir[600];
    int64_t base = ((int64_t)time(NULL) - 3 * 3600) / 3600 * 3600;
    char id[] = "p";
    struct probe p = {.id = id, .interval_ms = step * 1000};
    struct rrdw_opts o = {.dir = dir, .flush_ms = 3600 * 1000, .full_s = full_s};
    uv_loop_t loop;
    struct rrdw *w;
    int closed = 0;

    snprintf(dir, sizeof(dir), "%s/rrd", tmp);
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    w = rrdw_new(&loop, &o);
    ck_assert_ptr_nonnull(w);
    for (int i = 0; i < nok + 2 * nbad; i++) {
        struct result r = mix(i);
        rrdw_push(w, &p, base + (int64_t)i * step + (step > 1), i < nok + nbad ? &r : NULL,
                  i >= nok);
    }
    rrdw_close(w, NULL, on_closed, &closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(closed, 1);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    *base_out = base;
    return tmp;
}

/* The mix for probe "p" every STEP seconds: NOK counted, 10 flagged, 10 missed. */
static char *write_mix(int64_t *base_out)
{
    return write_probe(STEP, NOK, 10, 0, base_out);
}

static void check_mix(const struct rrdq_summary *s, const char *what)
{
    char m[128];

    snprintf(m, sizeof(m), "%s: samples", what);
    ck_close(s->samples, NOK, 1e-6, m);
    snprintf(m, sizeof(m), "%s: availability", what);
    ck_close(s->availability, 0.9, 1e-9, m);
    ck_close(s->le[0], 0.3, 1e-9, "le_200");
    ck_close(s->le[1], 0.6, 1e-9, "le_400");
    ck_close(s->le[3], 0.6, 1e-9, "le_600");
    ck_close(s->le[4], 0.9, 1e-9, "le_800");
    ck_close(s->le[6], 0.9, 1e-9, "le_2000");
    /* Median of the successes: 45 % of all checks, between 200 ms (30 %) and 400 ms (60 %). */
    ck_close(s->median_ms, 300, 1e-6, "median");
    /* p95: 85.5 % of all checks, between 600 ms (60 %) and 800 ms (90 %). */
    ck_close(s->p95_ms, 770, 1e-6, "p95");
}

START_TEST(test_summary_full_resolution)
{
    struct rrdq_summary s;
    int64_t base;
    char *tmp = write_mix(&base), dir[600], err[256];
    time_t end = (time_t)(base + (NOK + 20) * STEP);

    snprintf(dir, sizeof(dir), "%s/rrd", tmp);
    ck_assert_int_eq(rrdq_summary(dir, "p", end, (NOK + 20) * STEP, &s, err, sizeof(err)), 0);
    ck_assert_uint_eq(s.step, STEP);
    ck_assert_uint_eq(s.rows, NOK + 20);
    ck_assert_uint_eq(s.rows_known, NOK);
    ck_assert_int_eq(s.end, end);
    check_mix(&s, "full");
    /* The last counted sample: i = 99, a failure, written at the end of its step. */
    ck_assert_int_eq(s.last_time, base + NOK * STEP);
    ck_assert(!s.last_up);
    ck_assert(isnan(s.last_total_ms));

    /* end = 0: the file's last update, the same window. */
    ck_assert_int_eq(rrdq_summary(dir, "p", 0, (NOK + 20) * STEP, &s, err, sizeof(err)), 0);
    ck_assert_int_eq(s.end, end);
    check_mix(&s, "last update");

    /* A window of 30 steps holding samples 60..89: three rounds of the mix, 30 % in 600-800 ms. */
    ck_assert_int_eq(
        rrdq_summary(dir, "p", (time_t)(base + 90 * STEP), 30 * STEP, &s, err, sizeof(err)), 0);
    ck_close(s.samples, 30, 1e-6, "window samples");
    ck_close(s.le[4] - s.le[3], 0.3, 1e-9, "600-800 ms share");
    test_rmtree(tmp);
    free(tmp);
}
END_TEST

/* The dashboard's reader says the step it found last time: the same figures without reading the
 * header again; a step the file's rows contradict is read again from the file. */
START_TEST(test_summary_known_step)
{
    struct rrdq_summary s;
    int64_t base;
    char *tmp = write_mix(&base), dir[600], err[256];
    time_t end = (time_t)(base + (NOK + 20) * STEP);
    unsigned long step = 0;

    snprintf(dir, sizeof(dir), "%s/rrd", tmp);
    ck_assert_int_eq(
        rrdq_summary_step(dir, "p", end, (NOK + 20) * STEP, &step, &s, err, sizeof(err)), 0);
    ck_assert_uint_eq(step, STEP);
    check_mix(&s, "step read");
    ck_assert_int_eq(
        rrdq_summary_step(dir, "p", end, (NOK + 20) * STEP, &step, &s, err, sizeof(err)), 0);
    ck_assert_uint_eq(step, STEP);
    check_mix(&s, "step known");
    ck_assert_int_eq(s.last_time, base + NOK * STEP);
    step = 7 * STEP; /* a file recreated with a shorter step than the one remembered */
    ck_assert_int_eq(
        rrdq_summary_step(dir, "p", end, (NOK + 20) * STEP, &step, &s, err, sizeof(err)), 0);
    ck_assert_uint_eq(step, STEP);
    check_mix(&s, "wrong step");
    step = 0;
    ck_assert_int_eq(rrdq_summary_step(tmp, "nope", 0, 3600, &step, &s, err, sizeof(err)), -ENOENT);
    ck_assert_uint_eq(step, 0);
    test_rmtree(tmp);
    free(tmp);
}
END_TEST

/* Fourteen days: librrd answers from the 10-minute archive; every counted check keeps its weight
 * (rows of flagged samples are left out, missed ones are unknown). The last sample still comes
 * from the full-resolution archive. */
START_TEST(test_summary_coarse_archive)
{
    struct rrdq_summary s;
    int64_t base;
    char *tmp = write_mix(&base), dir[600], err[256];
    time_t end = (time_t)(base + (NOK + 20) * STEP);

    snprintf(dir, sizeof(dir), "%s/rrd", tmp);
    ck_assert_int_eq(rrdq_summary(dir, "p", end, 14 * 86400, &s, err, sizeof(err)), 0);
    ck_assert_uint_eq(s.step, 600);
    ck_assert_uint_eq(s.rows_known, NOK / 10);
    check_mix(&s, "10 min");
    ck_assert_int_eq(s.last_time, base + NOK * STEP);
    test_rmtree(tmp);
    free(tmp);
}
END_TEST

/* A probe at 1 s keeps an hour at full resolution and its days in one-minute rows: a day's window
 * is read from those, and the minute not consolidated yet from the raw rows, so that every
 * sample counts once; the last sample is the newest raw row. */
START_TEST(test_summary_one_second)
{
    struct rrdq_summary s;
    int64_t base;
    char *tmp = write_probe(1, 150, 0, 0, &base), dir[600], err[256];
    time_t end = (time_t)(base + 150), ends[] = {end, 0, time(NULL)};
    unsigned long step = 0;

    snprintf(dir, sizeof(dir), "%s/rrd", tmp);
    for (size_t k = 0; k < sizeof(ends) / sizeof(ends[0]); k++) {
        char what[64];

        snprintf(what, sizeof(what), "24 h, end %lld", (long long)ends[k]);
        ck_assert_int_eq(rrdq_summary(dir, "p", ends[k], 86400, &s, err, sizeof(err)), 0);
        ck_assert_uint_eq(s.step, 60);
        /* two minutes, then the 30 raw rows after them */
        ck_assert_uint_eq(s.rows_known, 2 + 30);
        ck_close(s.samples, 150, 1e-6, what);
        ck_close(s.availability, 0.9, 1e-9, what);
        ck_close(s.le[1], 0.6, 1e-9, "le_400");
        ck_close(s.le[4], 0.9, 1e-9, "le_800");
        ck_close(s.median_ms, 300, 1e-6, "median");
        /* the last counted sample: i = 149, a failure */
        ck_assert_int_eq(s.last_time, end);
        ck_assert(!s.last_up);
    }
    /* The dashboard's reader, the step known: the same. */
    ck_assert_int_eq(rrdq_summary_step(dir, "p", end, 86400, &step, &s, err, sizeof(err)), 0);
    ck_assert_int_eq(rrdq_summary_step(dir, "p", time(NULL), 86400, &step, &s, err, sizeof(err)),
                     0);
    ck_assert_uint_eq(step, 1);
    ck_close(s.samples, 150, 1e-6, "known step");
    ck_assert_int_eq(s.last_time, end);
    /* Within the hour: the raw rows alone. */
    ck_assert_int_eq(rrdq_summary(dir, "p", end, 600, &s, err, sizeof(err)), 0);
    ck_assert_uint_eq(s.step, 1);
    ck_assert_uint_eq(s.rows_known, 150);
    ck_close(s.availability, 0.9, 1e-9, "10 min");
    /* A window ending inside the second minute: its rows, as librrd aligns them (the second
     * minute whole), nothing twice. */
    ck_assert_int_eq(rrdq_summary(dir, "p", (time_t)(base + 90), 86400, &s, err, sizeof(err)), 0);
    ck_assert_uint_eq(s.step, 60);
    ck_close(s.samples, 120, 1e-6, "to the second minute");
    test_rmtree(tmp);
    free(tmp);
}
END_TEST

/* With `full` at its least (1 h), a 60 s probe's full-resolution archive holds 60 rows, fewer
 * than the last sample's window (64): the last sample is looked for in the rows it holds. */
START_TEST(test_summary_short_full)
{
    struct rrdq_summary s;
    int64_t base;
    char *tmp = write_probe(STEP, NOK, 0, 3600, &base), dir[600], err[256];
    time_t end = (time_t)(base + NOK * STEP);

    snprintf(dir, sizeof(dir), "%s/rrd", tmp);
    ck_assert_int_eq(rrdq_summary(dir, "p", end, 86400, &s, err, sizeof(err)), 0);
    ck_assert_uint_gt(s.step, STEP);
    ck_assert_int_eq(s.last_time, end);
    ck_assert(!s.last_up);
    test_rmtree(tmp);
    free(tmp);
}
END_TEST

START_TEST(test_summary_errors)
{
    struct rrdq_summary s;
    char *tmp = test_mkdtemp(), path[600], err[256];

    ck_assert_int_eq(rrdq_summary(tmp, "nope", 0, 3600, &s, err, sizeof(err)), -ENOENT);
    ck_assert_ptr_nonnull(strstr(err, "nope.rrd"));
    ck_assert(isnan(s.availability));

    /* An RRD file that is not one of ours. */
    snprintf(path, sizeof(path), "%s/other.rrd", tmp);
    ck_assert_int_eq(RRDTOOL(NULL, "create", path, "--step", "60", "DS:x:GAUGE:120:0:U",
                             "RRA:AVERAGE:0.5:1:100"),
                     0);
    ck_assert_int_eq(rrdq_summary(tmp, "other", 0, 3600, &s, err, sizeof(err)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "not a vigie criterion file"));
    test_rmtree(tmp);
    free(tmp);
}
END_TEST

START_TEST(test_percentile)
{
    static const struct {
        double le[SCHEMA_NBUCKETS], avail, p, want;
    } cases[] = {
        /* all under 200 ms, uniformly: the median is half way */
        {{1, 1, 1, 1, 1, 1, 1}, 1, 0.5, 100},
        /* nothing succeeded */
        {{0, 0, 0, 0, 0, 0, 0}, 0, 0.5, NAN},
        /* everything slower than 2 s */
        {{0, 0, 0, 0, 0, 0, 0}, 1, 0.5, INFINITY},
        /* half the successes between 1 and 2 s, availability 50 %: median at 1 s exactly */
        {{0, 0, 0, 0, 0, 0.25, 0.5}, 0.5, 0.5, 1000},
        /* an empty bucket below the target: no interpolation across it */
        {{0.5, 0.5, 0.5, 0.5, 1, 1, 1}, 1, 0.75, 700},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double got = rrdq_percentile(cases[i].le, cases[i].avail, cases[i].p);
        if (isnan(cases[i].want))
            ck_assert_msg(isnan(got), "case %zu: got %f, want NAN", i, got);
        else if (isinf(cases[i].want))
            ck_assert_msg(isinf(got), "case %zu: got %f, want inf", i, got);
        else
            ck_close(got, cases[i].want, 1e-9, "percentile");
    }
}
END_TEST

START_TEST(test_classes)
{
    ck_assert_int_eq(criterion_avail_class(1.0), CRITERION_GREEN);
    ck_assert_int_eq(criterion_avail_class(999.0 / 1000.0), CRITERION_GREEN);
    ck_assert_int_eq(criterion_avail_class(0.9989), CRITERION_YELLOW);
    ck_assert_int_eq(criterion_avail_class(0.985), CRITERION_YELLOW);
    ck_assert_int_eq(criterion_avail_class(0.9849), CRITERION_RED);
    ck_assert_int_eq(criterion_avail_class(NAN), CRITERION_NONE);
    ck_assert_int_eq(criterion_time_class(399.9), CRITERION_GREEN);
    ck_assert_int_eq(criterion_time_class(400), CRITERION_YELLOW);
    ck_assert_int_eq(criterion_time_class(799.9), CRITERION_YELLOW);
    ck_assert_int_eq(criterion_time_class(800), CRITERION_RED);
    ck_assert_int_eq(criterion_time_class(INFINITY), CRITERION_RED);
    ck_assert_int_eq(criterion_time_class(NAN), CRITERION_NONE);
    ck_assert_str_eq(criterion_class_name(CRITERION_YELLOW), "yellow");
}
END_TEST

/* The additive sums of a window: counted checks, flagged samples, coverage, the means of
 * `response` and `total` over successes, Apdex; and the same through the 10-minute archive. */
START_TEST(test_totals)
{
    struct rrdq_totals t, sum;
    int64_t base;
    char *tmp = write_mix(&base), dir[600], err[256];
    time_t end = (time_t)(base + (NOK + 20) * STEP);
    double le[SCHEMA_NBUCKETS];

    snprintf(dir, sizeof(dir), "%s/rrd", tmp);
    ck_assert_int_eq(rrdq_totals(dir, "p", (time_t)base, end, &t, err, sizeof(err)), 0);
    ck_close(t.expected, NOK + 20, 1e-9, "expected");
    ck_close(t.covered, NOK + 10, 1e-9, "covered");
    ck_close(t.checks, NOK, 1e-9, "checks");
    ck_close(t.flagged, 10, 1e-9, "flagged");
    ck_close(t.up, 90, 1e-9, "up");
    ck_close(t.le[2], 60, 1e-9, "le_500");
    ck_close(t.le[6], 90, 1e-9, "le_2000");
    ck_close(t.response_n, 90, 1e-9, "response_n");
    ck_close(t.response_ms / t.response_n, 550.0 / 3, 1e-6, "mean response");
    ck_close(t.total_ms / t.total_n, 1100.0 / 3, 1e-6, "mean total");
    for (int i = 0; i < SCHEMA_NBUCKETS; i++)
        le[i] = t.le[i] / t.checks;
    ck_close(rrdq_apdex(le), 0.75, 1e-9, "apdex");

    sum = t;
    rrdq_totals_add(&sum, &t);
    ck_close(sum.checks, 2 * NOK, 1e-9, "summed checks");
    ck_close(sum.response_ms / sum.response_n, 550.0 / 3, 1e-6, "summed mean");

    /* Two days ending on the next 10-minute boundary: the 10-minute rows hold the same counts. */
    ck_assert_int_eq(rrdq_totals(dir, "p", end - 3 * 86400, end, &t, err, sizeof(err)), 0);
    ck_close(t.expected, 3 * 1440, 1e-9, "3 days: expected");
    ck_close(t.checks, NOK, 1e-9, "3 days: checks");
    ck_close(t.flagged, 10, 1e-9, "3 days: flagged");
    ck_close(t.covered, NOK + 10, 1e-9, "3 days: covered");
    ck_close(t.response_ms / t.response_n, 550.0 / 3, 1e-6, "3 days: mean response");

    ck_assert_int_eq(rrdq_totals(dir, "nope", (time_t)base, end, &t, err, sizeof(err)), -ENOENT);
    ck_assert_int_eq(rrdq_totals(dir, "p", end, end, &t, err, sizeof(err)), -EINVAL);
    test_rmtree(tmp);
    free(tmp);
}
END_TEST

Suite *rrdq_suite(void)
{
    Suite *s = suite_create("rrdq");
    TCase *tc = tcase_create("rrdq");

    tcase_set_timeout(tc, test_timeout(60));
    tcase_add_test(tc, test_summary_full_resolution);
    tcase_add_test(tc, test_summary_known_step);
    tcase_add_test(tc, test_summary_coarse_archive);
    tcase_add_test(tc, test_summary_one_second);
    tcase_add_test(tc, test_summary_short_full);
    tcase_add_test(tc, test_summary_errors);
    tcase_add_test(tc, test_percentile);
    tcase_add_test(tc, test_classes);
    tcase_add_test(tc, test_totals);
    suite_add_tcase(s, tc);
    return s;
}
