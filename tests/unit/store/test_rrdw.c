/* rrdw against real librrd files, read back with the real `rrdtool` CLI.
 *
 * The clock is the only thing faked: samples carry due times an hour or more in the past, so a
 * whole sequence is pushed at once, flushed, and the loop run until the write is done (the
 * writer's timer does not keep the loop alive, the job in flight does). Every test closes the
 * writer and then the loop. The writer's log goes to <tmp>/log (fd 2 redirected) so tests can
 * check what it says. */
#define _GNU_SOURCE /* unshare(2), for a tmpfs of our own */

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/criterion.h"
#include "store/rrdq.h"
#include "store/rrdw.h"
#include "store/schema.h"
#include "testutil.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ------------------------------------------------------------------------------------------ */
/* The environment of one test: a temporary directory, a loop, a writer, one probe. */

struct env {
    uv_loop_t loop;
    struct rrdw *w;
    char *tmp;
    char dir[512];
    char id[64];
    struct probe p;
    int closed;
    int saved_fd2;
};

static void env_init(struct env *e, const char *sub, const char *id, uint64_t interval_s)
{
    char log[600];
    int fd;

    memset(e, 0, sizeof(*e));
    e->tmp = test_mkdtemp();
    snprintf(e->dir, sizeof(e->dir), "%s/%s", e->tmp, sub);
    snprintf(e->id, sizeof(e->id), "%s", id);
    e->p.id = e->id;
    e->p.interval_ms = interval_s * 1000;
    snprintf(log, sizeof(log), "%s/log", e->tmp);
    fflush(stderr);
    fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ck_assert_int_ge(fd, 0);
    e->saved_fd2 = dup(2);
    ck_assert_int_ge(e->saved_fd2, 0);
    ck_assert_int_eq(dup2(fd, 2), 2);
    close(fd);
    ck_assert_int_eq(uv_loop_init(&e->loop), 0);
}

/* Everything the writer logged so far (owned by the caller). */
static char *env_log(struct env *e)
{
    char path[600];

    fflush(stderr);
    snprintf(path, sizeof(path), "%s/log", e->tmp);
    return test_slurp(path, NULL);
}

static struct rrdw_opts env_opts(const struct env *e)
{
    struct rrdw_opts o = {.dir = e->dir, .flush_ms = 3600 * 1000};
    return o;
}

static void env_open(struct env *e, const struct rrdw_opts *o)
{
    e->closed = 0;
    e->w = rrdw_new(&e->loop, o);
    ck_assert_ptr_nonnull(e->w);
}

static void on_closed(void *arg)
{
    (*(int *)arg)++;
}

/* Writes everything pending and waits until the job is done. */
static void env_flush(struct env *e)
{
    rrdw_flush(e->w);
    uv_run(&e->loop, UV_RUN_DEFAULT);
}

/* Closes the writer, its last statistics into *st if not NULL. */
static void env_close_stats(struct env *e, struct rrdw_stats *st)
{
    rrdw_close(e->w, st, on_closed, &e->closed);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(e->closed, 1);
    e->w = NULL;
}

static void env_close(struct env *e)
{
    env_close_stats(e, NULL);
}

static void env_fini(struct env *e)
{
    ck_assert_ptr_null(e->w);
    ck_assert_int_eq(uv_loop_close(&e->loop), 0);
    fflush(stderr);
    dup2(e->saved_fd2, 2);
    close(e->saved_fd2);
    test_rmtree(e->tmp);
    free(e->tmp);
}

static struct rrdw_stats env_stats(const struct env *e)
{
    struct rrdw_stats st;

    rrdw_stats(e->w, &st);
    return st;
}

static void env_path(const struct env *e, char *buf, size_t len, bool phases)
{
    ck_assert_ptr_nonnull(
        schema_path(buf, len, e->dir, e->id, phases ? SCHEMA_PHASES : SCHEMA_CRIT));
}

/* A start time well in the past, on an hour boundary (so on every step's boundary). */
static int64_t base_time(void)
{
    return ((int64_t)time(NULL) - 3 * 3600) / 3600 * 3600;
}

static size_t count_str(const char *hay, const char *needle)
{
    size_t n = 0;

    for (const char *s = strstr(hay, needle); s; s = strstr(s + 1, needle))
        n++;
    return n;
}

/* ------------------------------------------------------------------------------------------ */
/* Results. */

static struct result res_ok(int64_t total_ms)
{
    struct result r;
    int64_t us = total_ms * 1000;

    memset(&r, 0, sizeof(r));
    r.outcome = OUTCOME_OK;
    r.status = 200;
    r.total_us = us;
    r.dns_us = us / 10;
    r.connect_us = us / 5;
    r.tls_us = us * 3 / 10;
    r.ttfb_us = us * 8 / 10;
    r.response_us = us / 2;
    return r;
}

/* A TLS failure: name resolved and connected, the handshake failed. */
static struct result res_tls_failed(void)
{
    struct result r;

    memset(&r, 0, sizeof(r));
    r.outcome = OUTCOME_TLS;
    r.dns_us = 5000;
    r.connect_us = 12345;
    r.tls_us = -1;
    r.ttfb_us = -1;
    r.pretransfer_us = -1;
    r.total_us = 30000;
    r.response_us = -1;
    return r;
}

/* ------------------------------------------------------------------------------------------ */
/* rrdtool. */

static void check_close(double got, double want, double eps, const char *what)
{
    ck_assert_msg(fabs(got - want) <= eps, "%s: got %.12g, want %.12g", what, got, want);
}

static void check_nan_or(double got, double want, const char *what)
{
    if (isnan(want))
        ck_assert_msg(isnan(got), "%s: got %.9g, want unknown", what, got);
    else
        check_close(got, want, 1e-6, what);
}

/* ------------------------------------------------------------------------------------------ */
/* Sequences: sample i of a scenario. */

enum skind { S_OK, S_FAILED, S_FLAGGED, S_MISSED };

struct scenario {
    const char *name;
    int n;
    int missed_from, missed_to;   /* [from, to) written as missed ticks */
    int flagged_from, flagged_to; /* [from, to) flagged */
};

static const int64_t mix_ms[] = {100, 300, 450, 700, 900, 1500, 2500};

/* Every 10th check fails (i % 10 == 9); successes cycle through mix_ms. */
static enum skind kind_of(const struct scenario *sc, int i, int64_t *total_ms)
{
    *total_ms = mix_ms[(i - i / 10) % N(mix_ms)];
    if (i >= sc->missed_from && i < sc->missed_to)
        return S_MISSED;
    if (i >= sc->flagged_from && i < sc->flagged_to)
        return S_FLAGGED;
    return i % 10 == 9 ? S_FAILED : S_OK;
}

static void push_scenario(struct env *e, const struct scenario *sc, int64_t base, unsigned step)
{
    for (int i = 0; i < sc->n; i++) {
        int64_t total_ms;
        enum skind k = kind_of(sc, i, &total_ms);
        struct result r = k == S_FAILED ? res_tls_failed() : res_ok(total_ms);
        /* Due somewhere inside step i: written at the boundary ending it. */
        int64_t due = base + (int64_t)i * step + (i * 7) % step;

        rrdw_push(e->w, &e->p, due, k == S_MISSED ? NULL : &r, k == S_FLAGGED);
    }
}

static const struct scenario scenarios[] = {
    {"100 checks, 10% failed", 100, -1, -1, -1, -1},
    {"missed ticks", 100, 40, 45, -1, -1},
    {"flagged samples", 100, -1, -1, 60, 70},
};

static const char *const le_names[] = {"le_200", "le_400",  "le_500", "le_600",
                                       "le_800", "le_1000", "le_2000"};
static const int64_t le_bounds[] = {200, 400, 500, 600, 800, 1000, 2000};

/* Row i of scenario sc, at t, in the criterion file's rows c and the phases file's ph. */
static void check_row(const struct series *c, const struct series *ph, const struct scenario *sc,
                      int i, int64_t t)
{
    int64_t total_ms;
    enum skind k = kind_of(sc, i, &total_ms);
    struct result r = k == S_FAILED ? res_tls_failed() : res_ok(total_ms);
    bool counted = k == S_OK || k == S_FAILED;
    char what[64];

    snprintf(what, sizeof(what), "%s row %d up", sc->name, i);
    check_nan_or(series_at(c, t, "up"), counted ? (k == S_OK) : NAN, what);
    snprintf(what, sizeof(what), "%s row %d valid", sc->name, i);
    check_nan_or(series_at(c, t, "valid"), k == S_MISSED ? NAN : counted, what);
    snprintf(what, sizeof(what), "%s row %d total", sc->name, i);
    check_nan_or(series_at(c, t, "total"), k == S_OK ? total_ms / 1e3 : NAN, what);
    snprintf(what, sizeof(what), "%s row %d response", sc->name, i);
    check_nan_or(series_at(c, t, "response"), k == S_OK ? r.response_us / 1e6 : NAN, what);
    for (int b = 0; b < N(le_bounds); b++) {
        bool under = k == S_OK && total_ms < le_bounds[b];

        snprintf(what, sizeof(what), "%s row %d %s", sc->name, i, le_names[b]);
        check_nan_or(series_at(c, t, le_names[b]), counted ? under : NAN, what);
    }
    /* Phases: what was reached, even for a failed check; nothing for flagged or missed. */
    snprintf(what, sizeof(what), "%s row %d phases", sc->name, i);
    check_nan_or(series_at(ph, t, "total"), k == S_OK ? total_ms / 1e3 : NAN, what);
    check_nan_or(series_at(ph, t, "dns"), counted ? r.dns_us / 1e6 : NAN, what);
    check_nan_or(series_at(ph, t, "connect"), counted ? r.connect_us / 1e6 : NAN, what);
    check_nan_or(series_at(ph, t, "tls"), counted && r.tls_us >= 0 ? r.tls_us / 1e6 : NAN, what);
    check_nan_or(series_at(ph, t, "ttfb"), counted && r.ttfb_us >= 0 ? r.ttfb_us / 1e6 : NAN, what);
}

/* The criterion and phases files hold exactly the sequence; AVERAGE over the window, computed
 * from fetch and by rrdtool graph, is the exact fraction. */
START_TEST(test_sequence)
{
    const struct scenario *sc = &scenarios[_i];
    const unsigned step = 10;
    struct env e;
    struct rrdw_opts o;
    int64_t base = base_time(), end;
    char crit[600], phases[600];
    struct series *c, *ph;
    double n_counted = 0, n_up = 0, n_le[N(le_bounds)] = {0}, sum_total = 0;
    int n_total = 0;
    struct rrdw_stats st;

    env_init(&e, "rrd", "seq", step);
    o = env_opts(&e);
    env_open(&e, &o);
    push_scenario(&e, sc, base, step);
    st = env_stats(&e);
    ck_assert_uint_eq(st.queued, (uint64_t)sc->n);
    ck_assert_uint_eq(st.written, 0);
    env_flush(&e);
    st = env_stats(&e);
    ck_assert_uint_eq(st.written, (uint64_t)sc->n);
    ck_assert_uint_eq(st.queued, 0);
    ck_assert_uint_eq(st.failures, 0);
    ck_assert_uint_eq(st.stale, 0);
    env_close(&e);

    end = base + (int64_t)sc->n * step;
    env_path(&e, crit, sizeof(crit), false);
    env_path(&e, phases, sizeof(phases), true);
    c = test_fetch(crit, "AVERAGE", step, base - 5 * step, end + 5 * step);
    ph = test_fetch(phases, "AVERAGE", step, base, end);
    ck_assert_uint_eq(c->nds, 11);
    ck_assert_uint_eq(ph->nds, 5);
    for (int i = 0; i < sc->n; i++) {
        int64_t total_ms;
        enum skind k = kind_of(sc, i, &total_ms);
        bool counted = k == S_OK || k == S_FAILED;

        check_row(c, ph, sc, i, base + (int64_t)(i + 1) * step);
        for (int b = 0; b < N(le_bounds); b++)
            n_le[b] += k == S_OK && total_ms < le_bounds[b];
        n_counted += counted;
        n_up += k == S_OK;
        if (k == S_OK) {
            sum_total += total_ms / 1e3;
            n_total++;
        }
    }
    /* Nothing before or after the sequence. */
    ck_assert(isnan(series_at(c, base, "up")));
    ck_assert(isnan(series_at(c, end + step, "up")));

    /* AVERAGE over the window, from the fetched rows. */
    {
        size_t cu = series_col(c, "up");
        double sum = 0;
        size_t n = 0;

        for (size_t i = 0; i < c->nrows; i++) {
            double v = c->v[i * c->nds + cu];
            if (c->t[i] > base && c->t[i] <= end && !isnan(v)) {
                sum += v;
                n++;
            }
        }
        ck_assert_uint_eq(n, (size_t)n_counted);
        check_close(sum / n, n_up / n_counted, 1e-9, "AVERAGE(up) from fetch");
        if (_i == 0)
            check_close(sum / n, 0.9, 1e-9, "availability");
    }

    /* The same by rrdtool graph's VDEF over the window. */
    {
        static const char *const names[] = {"up",     "le_200",  "le_400",  "le_500", "le_600",
                                            "le_800", "le_1000", "le_2000", "total"};
        static char defs[N(names) * 3][700];
        const char *argv[8 + N(names) * 3];
        char s[32], en[32], *out, *p;
        double want[N(names)];
        int k = 0, m = 0;

        want[0] = n_up / n_counted;
        for (int b = 0; b < N(le_bounds); b++)
            want[1 + b] = n_le[b] / n_counted;
        want[8] = sum_total / n_total;
        if (_i == 0) {
            /* The known mix: 90 successes over 7 latencies (13 of each, 2500 ms 12 times). */
            check_close(want[1], 13 / 100.0, 1e-12, "le_200 fraction");  /* 100 ms */
            check_close(want[2], 26 / 100.0, 1e-12, "le_400 fraction");  /* + 300 ms */
            check_close(want[3], 39 / 100.0, 1e-12, "le_500 fraction");  /* + 450 ms */
            check_close(want[5], 52 / 100.0, 1e-12, "le_800 fraction");  /* + 700 ms */
            check_close(want[6], 65 / 100.0, 1e-12, "le_1000 fraction"); /* + 900 ms */
            check_close(want[7], 78 / 100.0, 1e-12, "le_2000 fraction"); /* + 1500 ms */
        }
        snprintf(s, sizeof(s), "%lld", (long long)base);
        snprintf(en, sizeof(en), "%lld", (long long)end);
        argv[k++] = "graph";
        argv[k++] = "/dev/null";
        argv[k++] = "-s";
        argv[k++] = s;
        argv[k++] = "-e";
        argv[k++] = en;
        for (int i = 0; i < N(names); i++) {
            snprintf(defs[m], sizeof(defs[m]), "DEF:d%d=%s:%s:AVERAGE", i, crit, names[i]);
            argv[k++] = defs[m++];
            snprintf(defs[m], sizeof(defs[m]), "VDEF:v%d=d%d,AVERAGE", i, i);
            argv[k++] = defs[m++];
            snprintf(defs[m], sizeof(defs[m]), "PRINT:v%d:%s=%%.9lf", i, names[i]);
            argv[k++] = defs[m++];
        }
        argv[k] = NULL;
        ck_assert_int_eq(test_run("rrdtool", argv, &out, NULL, 60), 0);
        for (int i = 0; i < N(names); i++) {
            char key[32], what[64];

            snprintf(key, sizeof(key), "\n%s=", names[i]);
            p = strstr(out, key);
            ck_assert_msg(p != NULL, "graph printed no %s: %s", names[i], out);
            snprintf(what, sizeof(what), "%s: graph AVERAGE(%s)", sc->name, names[i]);
            check_close(strtod(p + strlen(key), NULL), want[i], 1e-9, what);
        }
        free(out);
    }
    series_free(c);
    series_free(ph);
    env_fini(&e);
}
END_TEST

/* Makes e->dir unusable for anyone, root included: its parent is a regular file. */
static void block_dir(const struct env *e)
{
    free(test_write(e->tmp, "blocker", "not a directory\n"));
}

static void unblock_dir(const struct env *e)
{
    char path[600];

    snprintf(path, sizeof(path), "%s/blocker", e->tmp);
    ck_assert_int_eq(unlink(path), 0);
}

/* Pushes n successes of `total_ms` for steps [from, from + n). */
static void push_ok(struct env *e, int64_t base, int from, int n, int64_t total_ms)
{
    unsigned step = (unsigned)(e->p.interval_ms / 1000);
    struct result r = res_ok(total_ms);

    for (int i = from; i < from + n; i++)
        rrdw_push(e->w, &e->p, base + (int64_t)i * step + 1, &r, false);
}

/* The directory cannot be created, then can: samples wait, nothing is lost, the failure is
 * logged once and the recovery once. */
START_TEST(test_dir_unusable_then_restored)
{
    struct env e;
    struct rrdw_opts o;
    struct rrdw_stats st;
    int64_t base = base_time();
    char crit[600], phases[600], *log;
    struct series *c, *ph;

    env_init(&e, "blocker/rrd", "ro", 10);
    block_dir(&e);
    o = env_opts(&e);
    env_open(&e, &o);
    push_ok(&e, base, 0, 20, 250);
    env_flush(&e);
    st = env_stats(&e);
    ck_assert_uint_ge(st.failures, 1);
    ck_assert_uint_eq(st.written, 0);
    ck_assert_uint_eq(st.queued, 20);
    /* Checks go on while the disk is unusable. */
    push_ok(&e, base, 20, 10, 250);
    env_flush(&e);
    env_flush(&e);
    st = env_stats(&e);
    ck_assert_uint_ge(st.failures, 3);
    ck_assert_uint_eq(st.written, 0);
    ck_assert_uint_eq(st.queued, 30);
    log = env_log(&e);
    ck_assert_msg(count_str(log, "directory unusable") == 1, "logged once: %s", log);
    ck_assert_msg(strstr(log, "directory unusable (Not a directory)") != NULL, "%s", log);
    ck_assert_msg(strstr(log, "probe ro") && strstr(log, e.dir), "%s", log);
    free(log);

    unblock_dir(&e);
    env_flush(&e);
    st = env_stats(&e);
    ck_assert_uint_eq(st.written, 30);
    ck_assert_uint_eq(st.queued, 0);
    ck_assert_uint_eq(st.dropped, 0);
    log = env_log(&e);
    ck_assert_msg(count_str(log, "works again, 30 samples written late") == 1, "%s", log);
    free(log);
    env_close(&e);

    env_path(&e, crit, sizeof(crit), false);
    env_path(&e, phases, sizeof(phases), true);
    c = test_fetch(crit, "AVERAGE", 10, base, base + 400);
    ph = test_fetch(phases, "AVERAGE", 10, base, base + 400);
    ck_assert_uint_eq(series_known(c, "up", base, base + 400), 30);
    ck_assert_uint_eq(series_known(c, "le_400", base, base + 400), 30);
    ck_assert_uint_eq(series_known(ph, "ttfb", base, base + 400), 30);
    check_close(series_at(c, base + 300, "total"), 0.25, 1e-9, "last total");
    series_free(c);
    series_free(ph);
    env_fini(&e);
}
END_TEST

/* Samples pushed while a failing write is in flight stay behind the ones it gives back. */
START_TEST(test_failed_go_back_first)
{
    struct env e;
    struct rrdw_opts o;
    struct rrdw_stats st;
    int64_t base = base_time();
    char crit[600];
    struct series *c;

    env_init(&e, "blocker/rrd", "order", 10);
    block_dir(&e);
    o = env_opts(&e);
    env_open(&e, &o);
    push_ok(&e, base, 0, 5, 100);
    rrdw_flush(e.w);              /* in flight, will fail */
    push_ok(&e, base, 5, 5, 900); /* meanwhile */
    uv_run(&e.loop, UV_RUN_DEFAULT);
    st = env_stats(&e);
    ck_assert_uint_ge(st.failures, 1);
    ck_assert_uint_eq(st.queued, 10);
    unblock_dir(&e);
    env_flush(&e);
    st = env_stats(&e);
    ck_assert_uint_eq(st.written, 10);
    ck_assert_uint_eq(st.stale, 0);
    ck_assert_uint_eq(st.queued, 0);
    env_close(&e);
    env_path(&e, crit, sizeof(crit), false);
    c = test_fetch(crit, "AVERAGE", 10, base, base + 100);
    for (int i = 0; i < 10; i++)
        check_close(series_at(c, base + (i + 1) * 10, "total"), i < 5 ? 0.1 : 0.9, 1e-9, "total");
    series_free(c);
    env_fini(&e);
}
END_TEST

/* The buckets count `total < bound`, to the microsecond. */
START_TEST(test_bucket_bounds)
{
    static const int64_t totals_us[] = {399999, 400000, 400001, 199999, 200000, 1999999, 2000000};
    struct env e;
    struct rrdw_opts o;
    int64_t base = base_time();
    char crit[600];
    struct series *c;

    env_init(&e, "rrd", "bounds", 10);
    o = env_opts(&e);
    env_open(&e, &o);
    for (int i = 0; i < N(totals_us); i++) {
        struct result r = res_ok(0);

        r.total_us = totals_us[i];
        rrdw_push(e.w, &e.p, base + i * 10, &r, false);
    }
    env_flush(&e);
    env_close(&e);
    env_path(&e, crit, sizeof(crit), false);
    c = test_fetch(crit, "AVERAGE", 10, base, base + 100);
    for (int i = 0; i < N(totals_us); i++) {
        int64_t t = base + (i + 1) * 10;

        check_close(series_at(c, t, "total"), totals_us[i] / 1e6, 1e-9, "total");
        for (int b = 0; b < N(le_bounds); b++) {
            char what[64];

            snprintf(what, sizeof(what), "%lld us %s", (long long)totals_us[i], le_names[b]);
            check_close(series_at(c, t, le_names[b]), totals_us[i] < le_bounds[b] * 1000, 0, what);
        }
    }
    series_free(c);
    env_fini(&e);
}
END_TEST

/* What is found where a file should be. */
enum bad { BAD_GARBAGE, BAD_EMPTY, BAD_TRUNCATED };

struct bad_case {
    const char *name;
    enum bad bad;
    unsigned which; /* bit 0: the criterion file, bit 1: the phases file */
};

static const struct bad_case bad_cases[] = {
    {"garbage", BAD_GARBAGE, 1},
    {"empty file", BAD_EMPTY, 1},
    {"truncated RRD", BAD_TRUNCATED, 1},
    {"garbage phases file", BAD_GARBAGE, 2},
    {"truncated phases file", BAD_TRUNCATED, 2},
    {"both files garbage", BAD_GARBAGE, 3},
};

static void make_bad(const char *path, enum bad bad)
{
    char garbage[8192];
    FILE *f;

    if (bad == BAD_TRUNCATED) {
        struct stat sb;

        ck_assert_int_eq(RRDTOOL(NULL, "create", path, "-s", "10", "DS:up:GAUGE:20:0:1",
                                 "RRA:AVERAGE:0.5:1:1000"),
                         0);
        ck_assert_int_eq(stat(path, &sb), 0);
        ck_assert_int_eq(truncate(path, sb.st_size / 2), 0);
        return;
    }
    for (size_t i = 0; i < sizeof(garbage); i++)
        garbage[i] = (char)("garbage\n"[i % 8] ^ (i % 3));
    f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    if (bad == BAD_GARBAGE)
        ck_assert_uint_eq(fwrite(garbage, 1, sizeof(garbage), f), sizeof(garbage));
    fclose(f);
}

/* Rows of `path` (a file of step 10) in (base, base + 200] where `ds` is known. */
static size_t known_rows(const char *path, const char *ds, int64_t base)
{
    struct series *sr = test_fetch(path, "AVERAGE", 10, base, base + 200);
    size_t n = series_known(sr, ds, base, base + 200);

    series_free(sr);
    return n;
}

/* Something unreadable where a file should be: left untouched, samples kept, the error logged
 * once per file; the other file of the probe gets every sample meanwhile. Once the operator
 * removes it, everything is written, and nothing twice into the file that worked. */
START_TEST(test_corrupt_file)
{
    const struct bad_case *bc = &bad_cases[_i];
    struct env e;
    struct rrdw_opts o;
    struct rrdw_stats st;
    int64_t base = base_time();
    char path[2][600], *log, *before[2] = {NULL, NULL}, *after;
    static const char *const ds[2] = {"up", "ttfb"};
    size_t lb[2], la;
    int nbad = 0;

    env_init(&e, "rrd", "corrupt", 10);
    ck_assert_int_eq(mkdir(e.dir, 0755), 0);
    for (int k = 0; k < 2; k++) {
        env_path(&e, path[k], sizeof(path[k]), k == 1);
        if (bc->which & (1u << k)) {
            make_bad(path[k], bc->bad);
            before[k] = test_slurp(path[k], &lb[k]);
            nbad++;
        }
    }

    o = env_opts(&e);
    env_open(&e, &o);
    push_ok(&e, base, 0, 10, 120);
    env_flush(&e);
    st = env_stats(&e);
    ck_assert_uint_eq(st.failures, 1);
    ck_assert_uint_eq(st.written, 0); /* not in both files */
    ck_assert_uint_eq(st.queued, 10);
    for (int k = 0; k < 2; k++)
        if (!(bc->which & (1u << k)))
            ck_assert_msg(known_rows(path[k], ds[k], base) == 10, "%s: %s not written", bc->name,
                          path[k]);
    push_ok(&e, base, 10, 5, 120);
    env_flush(&e);
    st = env_stats(&e);
    ck_assert_uint_eq(st.failures, 2);
    ck_assert_uint_eq(st.written, 0);
    ck_assert_uint_eq(st.queued, 15);
    ck_assert_uint_eq(st.files_moved, 0);
    for (int k = 0; k < 2; k++) {
        if (!(bc->which & (1u << k))) {
            ck_assert_uint_eq(known_rows(path[k], ds[k], base), 15);
            continue;
        }
        after = test_slurp(path[k], &la);
        ck_assert_uint_eq(la, lb[k]);
        ck_assert_msg(memcmp(before[k], after, la) == 0, "%s: %s was modified", bc->name, path[k]);
        free(after);
    }
    log = env_log(&e);
    ck_assert_msg(count_str(log, "not a readable RRD file") == (size_t)nbad, "%s: %s", bc->name,
                  log);
    ck_assert_msg(strstr(log, "probe corrupt") != NULL, "%s", log);
    for (int k = 0; k < 2; k++)
        if (bc->which & (1u << k))
            ck_assert_msg(strstr(log, path[k]) != NULL, "%s", log);
    ck_assert_msg(count_str(log, "works again") == 0, "%s", log);
    free(log);

    for (int k = 0; k < 2; k++)
        if (bc->which & (1u << k))
            ck_assert_int_eq(unlink(path[k]), 0);
    env_flush(&e);
    st = env_stats(&e);
    ck_assert_uint_eq(st.written, 15);
    ck_assert_uint_eq(st.queued, 0);
    ck_assert_uint_eq(st.failures, 2); /* the good file was not written twice */
    log = env_log(&e);
    ck_assert_msg(count_str(log, "works again, 15 samples written late") == 1, "%s", log);
    if (nbad == 2) {
        ck_assert_msg(strstr(log, "writing ") && strstr(log, " and "), "%s", log);
    } else {
        for (int k = 0; k < 2; k++)
            if (bc->which & (1u << k))
                ck_assert_msg(strstr(log, path[k]) != NULL, "%s", log);
    }
    free(log);
    env_close(&e);
    for (int k = 0; k < 2; k++) {
        struct series *sr = test_fetch(path[k], "AVERAGE", 10, base, base + 200);

        ck_assert_uint_eq(series_known(sr, ds[k], base, base + 200), 15);
        check_close(series_at(sr, base + 150, "total"), 0.12, 1e-9, "last total");
        series_free(sr);
        free(before[k]);
    }
    env_fini(&e);
}
END_TEST

static size_t count_baks(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0, len = strlen(prefix);

    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, prefix, len) == 0 && strlen(de->d_name) > 4 &&
            strcmp(de->d_name + strlen(de->d_name) - 4, ".bak") == 0)
            n++;
    closedir(d);
    return n;
}

/* A valid RRD of another layout (same step, other data sources) is moved aside, not used. */
START_TEST(test_other_layout)
{
    struct env e;
    struct rrdw_opts o;
    struct rrdw_stats st;
    int64_t base = base_time();
    char crit[600], *log, *text;

    env_init(&e, "rrd", "foreign", 10);
    ck_assert_int_eq(mkdir(e.dir, 0755), 0);
    env_path(&e, crit, sizeof(crit), false);
    ck_assert_int_eq(
        RRDTOOL(NULL, "create", crit, "-s", "10", "DS:temp:GAUGE:20:U:U", "RRA:AVERAGE:0.5:1:100"),
        0);
    o = env_opts(&e);
    env_open(&e, &o);
    push_ok(&e, base, 0, 4, 100);
    env_flush(&e);
    st = env_stats(&e);
    ck_assert_uint_eq(st.written, 4);
    ck_assert_uint_eq(st.files_moved, 1);
    env_close(&e);
    ck_assert_uint_eq(count_baks(e.dir, "foreign.rrd.10s-"), 1);
    ck_assert_uint_eq(count_baks(e.dir, "foreign.phases.rrd."), 0);
    text = test_rrdinfo(crit);
    ck_assert_ptr_nonnull(strstr(text, "ds[le_2000].index = 10"));
    ck_assert_ptr_null(strstr(text, "ds[temp]"));
    free(text);
    log = env_log(&e);
    ck_assert_msg(count_str(log, "has other data sources: moved aside") == 1, "%s", log);
    free(log);
    env_fini(&e);
}
END_TEST

/* How the interval changes between two series of samples. */
struct step_case {
    const char *name;
    bool reopen;      /* close the writer in between (a restart with a new config) */
    bool flush_first; /* write the first series before pushing the second */
};

static const struct step_case step_cases[] = {
    {"restart", true, true},
    {"reload, written in between", false, true},
    {"reload, both in one write", false, false},
};

/* A probe's interval changes: the old files are moved aside, new ones have the new step. */
START_TEST(test_step_change)
{
    const struct step_case *sc = &step_cases[_i];
    struct env e;
    struct rrdw_opts o;
    struct rrdw_stats st;
    int64_t base = base_time();
    char crit[600], phases[600], *text, *log;
    struct series *c;
    uint64_t moved = 0;

    env_init(&e, "rrd", "stepper", 10);
    o = env_opts(&e);
    env_open(&e, &o);
    push_ok(&e, base, 0, 5, 200);
    if (sc->flush_first)
        env_flush(&e);
    if (sc->reopen) {
        env_close(&e);
        env_open(&e, &o);
    }
    e.p.interval_ms = 20000;
    /* From base + 100 on, every 20 s. */
    push_ok(&e, base + 100, 0, 5, 300);
    env_flush(&e);
    st = env_stats(&e);
    ck_assert_uint_eq(st.queued, 0);
    ck_assert_uint_eq(st.written, sc->reopen ? 5 : 10);
    moved = st.files_moved;
    ck_assert_uint_eq(moved, 2);
    env_close(&e);

    ck_assert_uint_eq(count_baks(e.dir, "stepper.rrd.10s-"), 1);
    ck_assert_uint_eq(count_baks(e.dir, "stepper.phases.rrd.10s-"), 1);
    env_path(&e, crit, sizeof(crit), false);
    env_path(&e, phases, sizeof(phases), true);
    text = test_rrdinfo(crit);
    ck_assert_int_eq(test_info_long(text, "step"), 20);
    free(text);
    text = test_rrdinfo(phases);
    ck_assert_int_eq(test_info_long(text, "step"), 20);
    free(text);
    c = test_fetch(crit, "AVERAGE", 20, base + 80, base + 220);
    ck_assert_uint_eq(series_known(c, "up", base + 80, base + 220), 5);
    check_close(series_at(c, base + 120, "total"), 0.3, 1e-9, "first total at step 20");
    series_free(c);
    log = env_log(&e);
    ck_assert_msg(count_str(log, "moved aside") == 2, "%s", log);
    free(log);
    env_fini(&e);
}
END_TEST

/* The interval changes while the phases file is unusable: the criterion file goes on to the new
 * step at once (its old file moved aside once, not again when the phases file catches up); the
 * phases file, once repaired, gets the samples of the old step, then is moved aside too. */
START_TEST(test_step_change_one_broken)
{
    struct env e;
    struct rrdw_opts o;
    struct rrdw_stats st;
    int64_t base = base_time();
    char crit[600], phases[600], *text;

    env_init(&e, "rrd", "halfstep", 10);
    ck_assert_int_eq(mkdir(e.dir, 0755), 0);
    env_path(&e, crit, sizeof(crit), false);
    env_path(&e, phases, sizeof(phases), true);
    make_bad(phases, BAD_GARBAGE);
    o = env_opts(&e);
    env_open(&e, &o);
    push_ok(&e, base, 0, 5, 200);
    env_flush(&e);
    e.p.interval_ms = 20000;
    push_ok(&e, base + 100, 0, 5, 300);
    env_flush(&e);
    st = env_stats(&e);
    ck_assert_uint_eq(st.written, 0);
    ck_assert_uint_eq(st.queued, 10);
    ck_assert_uint_eq(st.files_moved, 1);
    text = test_rrdinfo(crit);
    ck_assert_int_eq(test_info_long(text, "step"), 20);
    free(text);

    ck_assert_int_eq(unlink(phases), 0);
    env_flush(&e);
    st = env_stats(&e);
    ck_assert_uint_eq(st.written, 10);
    ck_assert_uint_eq(st.queued, 0);
    ck_assert_uint_eq(st.files_moved, 2);
    ck_assert_uint_eq(st.failures, 2);
    env_close(&e);
    ck_assert_uint_eq(count_baks(e.dir, "halfstep.rrd.10s-"), 1);
    ck_assert_uint_eq(count_baks(e.dir, "halfstep.rrd.20s-"), 0);
    ck_assert_uint_eq(count_baks(e.dir, "halfstep.phases.rrd.10s-"), 1);
    for (int k = 0; k < 2; k++) {
        struct series *sr;

        text = test_rrdinfo(k ? phases : crit);
        ck_assert_int_eq(test_info_long(text, "step"), 20);
        free(text);
        sr = test_fetch(k ? phases : crit, "AVERAGE", 20, base + 80, base + 220);
        ck_assert_uint_eq(series_known(sr, "total", base + 80, base + 220), 5);
        check_close(series_at(sr, base + 120, "total"), 0.3, 1e-9, "first total at step 20");
        series_free(sr);
    }
    env_fini(&e);
}
END_TEST

static int write_str(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    bool ok;

    if (fd < 0)
        return -1;
    ok = write(fd, s, strlen(s)) == (ssize_t)strlen(s);
    close(fd);
    return ok ? 0 : -1;
}

/* Mounts a tmpfs on dir, in a mount namespace of this test's process alone (each test runs in a
 * process of its own). Needs root, or else unprivileged user namespaces; false without. */
static bool tmpfs_mount(const char *dir, const char *opts)
{
    if (unshare(CLONE_NEWNS) != 0) {
        char map[64];
        unsigned uid = (unsigned)getuid(), gid = (unsigned)getgid();

        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
            return false;
        snprintf(map, sizeof(map), "0 %u 1\n", uid);
        if (write_str("/proc/self/uid_map", map) != 0 ||
            write_str("/proc/self/setgroups", "deny") != 0)
            return false;
        snprintf(map, sizeof(map), "0 %u 1\n", gid);
        if (write_str("/proc/self/gid_map", map) != 0)
            return false;
    }
    /* Private first, so that nothing is seen outside this process. */
    return mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
           mount("tmpfs", dir, "tmpfs", 0, opts) == 0;
}

/* Why the criterion file (step 60: 1,443,416 bytes) cannot be created, while the phases file
 * (627,080 bytes) can. */
enum limit { LIMIT_FSIZE, LIMIT_DISK };

static const char *const limit_names[] = {"file size limit", "disk full"};

/* rrd_create_r2 fails for lack of room: librrd 1.7 then says nothing and leaves errno ENOENT;
 * the log says what is wrong (with the exact size the file needs), the phases file is written
 * meanwhile, and once there is room the criterion file gets every sample. */
START_TEST(test_create_failures)
{
    struct env e;
    struct rrdw_opts o;
    struct rrdw_stats st;
    struct rlimit rl, saved;
    struct stat sb;
    int64_t base = base_time();
    char crit[600], phases[600], needle[700], *log;
    struct series *sr;

    env_init(&e, "rrd", "small", 60);
    ck_assert_int_eq(mkdir(e.dir, 0755), 0);
    env_path(&e, crit, sizeof(crit), false);
    env_path(&e, phases, sizeof(phases), true);
    if (_i == LIMIT_DISK && !tmpfs_mount(e.dir, "size=1m")) {
        printf("rrdw: %s: cannot mount a tmpfs here, skipped\n", limit_names[_i]);
        env_fini(&e);
        return;
    }
    if (_i == LIMIT_FSIZE) {
        signal(SIGXFSZ, SIG_IGN);
        ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &saved), 0);
        rl = saved;
        rl.rlim_cur = 1 << 20;
        ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    }
    o = env_opts(&e);
    env_open(&e, &o);
    push_ok(&e, base, 0, 10, 100);
    env_flush(&e);
    st = env_stats(&e);
    ck_assert_uint_eq(st.failures, 1);
    ck_assert_uint_eq(st.written, 0);
    ck_assert_uint_eq(st.queued, 10);
    ck_assert_int_eq(stat(crit, &sb), -1);
    log = env_log(&e);
    ck_assert_msg(strstr(log, crit) != NULL, "%s", log);
    ck_assert_msg(strstr(log, "No such file") == NULL, "%s: %s", limit_names[_i], log);
    if (_i == LIMIT_FSIZE)
        ck_assert_msg(strstr(log, "cannot create (the file needs 1443416 bytes, over the file size "
                                  "limit (RLIMIT_FSIZE) of 1048576 bytes)"),
                      "%s", log);
    else
        ck_assert_msg(strstr(log, "disk full (no space left: ") &&
                          strstr(log, "bytes available, the file needs 1443416 bytes)"),
                      "%s", log);
    free(log);
    sr = test_fetch(phases, "AVERAGE", 60, base, base + 600);
    ck_assert_uint_eq(series_known(sr, "total", base, base + 600), 10);
    series_free(sr);

    if (_i == LIMIT_FSIZE)
        ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &saved), 0);
    else
        ck_assert_int_eq(mount(NULL, e.dir, NULL, MS_REMOUNT, "size=8m"), 0);
    env_flush(&e);
    st = env_stats(&e);
    ck_assert_uint_eq(st.written, 10);
    ck_assert_uint_eq(st.queued, 0);
    ck_assert_uint_eq(st.failures, 1);
    /* The size the message gave is the size of the file. */
    ck_assert_int_eq(stat(crit, &sb), 0);
    ck_assert_int_eq(sb.st_size, 1443416);
    log = env_log(&e);
    snprintf(needle, sizeof(needle), "writing %s works again, 10 samples written late", crit);
    ck_assert_msg(count_str(log, needle) == 1, "%s", log);
    ck_assert_msg(count_str(log, "works again") == 1, "%s", log);
    free(log);
    env_close(&e);
    for (int k = 0; k < 2; k++) {
        sr = test_fetch(k ? phases : crit, "AVERAGE", 60, base, base + 600);
        ck_assert_uint_eq(series_known(sr, "total", base, base + 600), 10);
        series_free(sr);
    }
    if (_i == LIMIT_DISK)
        ck_assert_int_eq(umount(e.dir), 0);
    env_fini(&e);
}
END_TEST

/* Timestamps not newer than the last one are counted, not written. */
START_TEST(test_stale)
{
    struct env e;
    struct rrdw_opts o;
    struct rrdw_stats st;
    int64_t base = base_time();
    char crit[600];
    struct result down = res_tls_failed();
    struct series *c;

    env_init(&e, "rrd", "stale", 10);
    o = env_opts(&e);
    env_open(&e, &o);
    push_ok(&e, base, 0, 10, 200);
    /* The clock steps back: an older step, then the same step again. */
    rrdw_push(e.w, &e.p, base + 45, &down, false);
    rrdw_push(e.w, &e.p, base + 95, &down, false);
    st = env_stats(&e);
    ck_assert_uint_eq(st.stale, 2);
    ck_assert_uint_eq(st.queued, 10);
    env_flush(&e);
    env_close(&e);

    /* A restart with a clock behind the file: steps 5..9 are already there. */
    env_open(&e, &o);
    for (int i = 5; i < 15; i++)
        rrdw_push(e.w, &e.p, base + i * 10 + 2, &down, false);
    env_flush(&e);
    st = env_stats(&e);
    ck_assert_uint_eq(st.stale, 5);
    ck_assert_uint_eq(st.written, 5);
    ck_assert_uint_eq(st.queued, 0);
    ck_assert_uint_eq(st.failures, 0);
    env_close(&e);

    env_path(&e, crit, sizeof(crit), false);
    c = test_fetch(crit, "AVERAGE", 10, base, base + 150);
    for (int i = 0; i < 15; i++)
        check_close(series_at(c, base + (i + 1) * 10, "up"), i < 10 ? 1 : 0, 0, "up");
    series_free(c);
    env_fini(&e);
}
END_TEST

/* A gap in the file (vigie stopped a while, samples lost with rrdcached): the first sample after
 * it is kept, not turned unknown by the heartbeat, and the gap is not bridged. */
START_TEST(test_gap_keeps_next_sample)
{
    struct env e;
    struct rrdw_opts o;
    struct rrdw_stats st;
    int64_t base = base_time();
    char path[600];
    struct series *c;

    env_init(&e, "rrd", "gap", 10);
    o = env_opts(&e);
    for (int k = 0; k < 2; k++) {
        /* steps 0..4, then (a restart) 7..9, then one alone at 12: gaps of 2 steps, then 2 */
        env_open(&e, &o);
        if (k == 0) {
            push_ok(&e, base, 0, 5, 200);
        } else {
            push_ok(&e, base, 7, 3, 300);
            env_flush(&e);
            push_ok(&e, base, 12, 1, 450);
        }
        env_flush(&e);
        st = env_stats(&e);
        ck_assert_uint_eq(st.written, k == 0 ? 5 : 4);
        ck_assert_uint_eq(st.failures, 0);
        env_close(&e);
    }
    for (int ph = 0; ph < 2; ph++) {
        const char *ds = ph ? "total" : "le_400";

        env_path(&e, path, sizeof(path), ph == 1);
        c = test_fetch(path, "AVERAGE", 10, base, base + 150);
        for (int i = 0; i < 14; i++) {
            double v = series_at(c, base + (i + 1) * 10, ds);
            bool there = i < 5 || (i >= 7 && i < 10) || i == 12;

            ck_assert_msg(there ? !isnan(v) : isnan(v), "%s step %d: %g", ds, i, v);
            if (there && ph == 1)
                check_close(v, i < 5 ? 0.2 : i < 10 ? 0.3 : 0.45, 1e-9, "total");
        }
        series_free(c);
    }
    env_fini(&e);
}
END_TEST

/* The default retention (rrdw_opts, vigie.yaml's rrd_retention). */
static const struct schema_keep default_keep = {2 * 86400, 14 * 86400, 400 * 86400, 92 * 86400,
                                                1830 * 86400};

/* The largest pair of files at any interval with the default retention (docs/RRD.md): at 1 s. */
#define MAX_PAIR_BYTES 2764288

/* File sizes with the default retention, and the archives' rows. */
struct size_case {
    unsigned step;
    /* Steps per row and rows of each archive: full, 1 min (below 60 s), 10 min, 1 h, 1 d for the
     * criterion file; full, then (1 min), 10 min, 1 h each for AVERAGE, MIN and MAX for the
     * phases file. */
    size_t ncrit;
    unsigned long crit[5][2];
    size_t nphases;
    unsigned long phases[4][2];
    long crit_bytes, phases_bytes; /* measured with ls -l, as docs/RRD.md gives them */
    long max_bytes;                /* both files together, 0: no limit but MAX_PAIR_BYTES */
};

static const struct size_case size_cases[] = {
    /* Steps of 60 s and more: what they always were. */
    {60,
     4,
     {{1, 2880}, {10, 2016}, {60, 9600}, {1440, 1830}},
     3,
     {{1, 2880}, {10, 2016}, {60, 2208}},
     1443416,
     627080,
     2097152},
    {300,
     4,
     {{1, 576}, {2, 2016}, {12, 9600}, {288, 1830}},
     3,
     {{1, 576}, {2, 2016}, {12, 2208}},
     1240664,
     534920,
     0},
    /* (phases: AVERAGE, MIN and MAX of one step, 92 days; test_size_bound checks the plan) */
    {3600, 2, {{1, 9600}, {24, 1830}}, 0, {{0, 0}}, 1010552, 267848, 0},
    /* Below a minute: an hour at least at full resolution, two days of one-minute rows. */
    {1,
     5,
     {{1, 3600}, {60, 2880}, {600, 2016}, {3600, 9600}, {86400, 1830}},
     4,
     {{1, 3600}, {60, 2880}, {600, 2016}, {3600, 2208}},
     1761224,
     1003064,
     MAX_PAIR_BYTES},
    {10,
     5,
     {{1, 2880}, {6, 2880}, {60, 2016}, {360, 9600}, {8640, 1830}},
     4,
     {{1, 2880}, {6, 2880}, {60, 2016}, {360, 2208}},
     1697864,
     974264,
     0},
    {30,
     5,
     {{1, 2880}, {2, 2880}, {20, 2016}, {120, 9600}, {2880, 1830}},
     4,
     {{1, 2880}, {2, 2880}, {20, 2016}, {120, 2208}},
     1697864,
     974264,
     0},
};

/* rrdtool info's archive `r` of a file: its function, steps per row and rows. */
static void check_rra(const char *text, int r, const char *cf, unsigned long pdp,
                      unsigned long rows, const char *what)
{
    char key[64], want[64];

    snprintf(key, sizeof(key), "rra[%d].pdp_per_row", r);
    ck_assert_msg(test_info_long(text, key) == (long)pdp, "%s %s: %ld, want %lu", what, key,
                  test_info_long(text, key), pdp);
    snprintf(key, sizeof(key), "rra[%d].rows", r);
    ck_assert_msg(test_info_long(text, key) == (long)rows, "%s %s: %ld, want %lu", what, key,
                  test_info_long(text, key), rows);
    snprintf(want, sizeof(want), "rra[%d].cf = \"%s\"", r, cf);
    ck_assert_msg(strstr(text, want) != NULL, "%s: no %s", what, want);
}

START_TEST(test_sizes)
{
    static const char *const mmm[] = {"AVERAGE", "MIN", "MAX"};
    const struct size_case *sc = &size_cases[_i];
    struct env e;
    struct rrdw_opts o;
    struct stat sb[2];
    char path[2][600], key[64], *text;
    int64_t base = base_time();
    int r;

    env_init(&e, "rrd", "size", sc->step);
    o = env_opts(&e);
    env_open(&e, &o);
    push_ok(&e, base, 0, 1, 100);
    env_flush(&e);
    ck_assert_uint_eq(env_stats(&e).written, 1);
    env_close(&e);
    for (int k = 0; k < 2; k++) {
        env_path(&e, path[k], sizeof(path[k]), k == 1);
        ck_assert_int_eq(stat(path[k], &sb[k]), 0);
    }
    fprintf(stdout, "rrdw: step %u: %s %lld bytes, %s %lld bytes, total %lld bytes\n", sc->step,
            path[0] + strlen(e.dir) + 1, (long long)sb[0].st_size, path[1] + strlen(e.dir) + 1,
            (long long)sb[1].st_size, (long long)(sb[0].st_size + sb[1].st_size));
    fflush(stdout);
    ck_assert_int_eq(sb[0].st_size, sc->crit_bytes);
    ck_assert_int_eq(sb[1].st_size, sc->phases_bytes);
    /* The size the writer's messages give is the size of the file. */
    ck_assert_int_eq(sb[0].st_size, schema_file_bytes(SCHEMA_CRIT, sc->step, &default_keep));
    ck_assert_int_eq(sb[1].st_size, schema_file_bytes(SCHEMA_PHASES, sc->step, &default_keep));
    ck_assert_int_le(sb[0].st_size + sb[1].st_size, MAX_PAIR_BYTES);
    if (sc->max_bytes)
        ck_assert_int_le(sb[0].st_size + sb[1].st_size, sc->max_bytes);

    text = test_rrdinfo(path[0]);
    ck_assert_int_eq(test_info_long(text, "step"), sc->step);
    for (r = 0; r < (int)sc->ncrit; r++)
        check_rra(text, r, "AVERAGE", sc->crit[r][0], sc->crit[r][1], "criterion");
    snprintf(key, sizeof(key), "rra[%d].", r);
    ck_assert_ptr_null(strstr(text, key));
    ck_assert_ptr_null(strstr(text, "\"MIN\""));
    free(text);
    text = test_rrdinfo(path[1]);
    ck_assert_int_eq(test_info_long(text, "step"), sc->step);
    if (sc->nphases) {
        check_rra(text, 0, "AVERAGE", sc->phases[0][0], sc->phases[0][1], "phases");
        r = 1;
        for (size_t a = 1; a < sc->nphases; a++)
            for (int cf = 0; cf < 3; cf++, r++)
                check_rra(text, r, mmm[cf], sc->phases[a][0], sc->phases[a][1], "phases");
        snprintf(key, sizeof(key), "rra[%d].", r);
        ck_assert_ptr_null(strstr(text, key));
    }
    free(text);
    env_fini(&e);
}
END_TEST

/* The plan as it was before sub-minute steps were bounded (a copy of it): the reference that
 * steps of 60 s and more must still follow exactly. */
static void old_add(struct schema_rra *r, size_t *n, const char *cf, unsigned long step,
                    unsigned long span_s, unsigned long keep_s)
{
    unsigned long pdp = span_s / step > 1 ? span_s / step : 1, per_row = pdp * step;
    unsigned long rows = (keep_s + per_row - 1) / per_row;

    for (size_t i = 0; i < *n; i++) {
        if (strcmp(r[i].cf, cf) == 0 && r[i].pdp == pdp) {
            if (r[i].rows < rows)
                r[i].rows = rows;
            return;
        }
    }
    r[(*n)++] = (struct schema_rra){cf, pdp, rows < 1 ? 1 : rows};
}

static size_t old_plan(struct schema_rra *r, enum schema_file f, unsigned long step,
                       const struct schema_keep *k)
{
    static const char *const mmm[] = {"AVERAGE", "MIN", "MAX"};
    size_t n = 0;

    old_add(r, &n, "AVERAGE", step, 0, k->full_s);
    if (f == SCHEMA_CRIT) {
        old_add(r, &n, "AVERAGE", step, 600, k->medium_s);
        old_add(r, &n, "AVERAGE", step, 3600, k->hourly_s);
        old_add(r, &n, "AVERAGE", step, 86400, k->daily_s);
    } else {
        for (int i = 0; i < 3; i++)
            old_add(r, &n, mmm[i], step, 600, k->medium_s);
        for (int i = 0; i < 3; i++)
            old_add(r, &n, mmm[i], step, 3600, k->phases_hourly_s);
    }
    return n;
}

/* Every interval from 1 s to a day: the pair of files stays within MAX_PAIR_BYTES, which the
 * 1 s step reaches; no archive holds more rows than 2 days of minutes or an hour of steps;
 * from 60 s up, the plan is exactly the one of before (the same files). */
START_TEST(test_size_bound)
{
    struct schema_rra r[SCHEMA_MAX_RRA], old[SCHEMA_MAX_RRA];
    uint64_t most = 0;
    unsigned long most_at = 0;

    for (unsigned long step = 1; step <= 86400; step++) {
        uint64_t pair = schema_file_bytes(SCHEMA_CRIT, step, &default_keep) +
                        schema_file_bytes(SCHEMA_PHASES, step, &default_keep);

        if (pair > most) {
            most = pair;
            most_at = step;
        }
        for (int f = 0; f < SCHEMA_NFILES; f++) {
            size_t n = schema_rra_plan(r, (enum schema_file)f, step, &default_keep);

            ck_assert_uint_eq(r[0].pdp, 1);
            if (step < 60) {
                ck_assert_uint_le(r[0].rows, 3600);
                for (size_t i = 1; i < n; i++)
                    ck_assert_msg(r[i].rows <= 2880 || r[i].pdp * step >= 600,
                                  "step %lu archive %zu: %lu rows", step, i, r[i].rows);
                continue;
            }
            ck_assert_uint_eq(n, old_plan(old, (enum schema_file)f, step, &default_keep));
            for (size_t i = 0; i < n; i++)
                ck_assert_msg(strcmp(r[i].cf, old[i].cf) == 0 && r[i].pdp == old[i].pdp &&
                                  r[i].rows == old[i].rows,
                              "step %lu archive %zu: %s %lu × %lu, was %s %lu × %lu", step, i,
                              r[i].cf, r[i].pdp, r[i].rows, old[i].cf, old[i].pdp, old[i].rows);
        }
    }
    printf("rrdw: the largest pair of files: %llu bytes, at %lu s\n", (unsigned long long)most,
           most_at);
    ck_assert_uint_eq(most, MAX_PAIR_BYTES);
    ck_assert_uint_eq(most_at, 1);
}
END_TEST

/* Creates `path` with rrdtool as vigie created it before the files were bounded (old_plan). */
static void create_old(const char *path, enum schema_file f, unsigned step, int64_t start)
{
    struct schema_rra r[SCHEMA_MAX_RRA];
    size_t n = old_plan(r, f, step, &default_keep), nds, argc = 0;
    const struct schema_ds *ds = schema_ds(f, &nds);
    char defs[SCHEMA_MAX_DS + SCHEMA_MAX_RRA + 2][64];
    const char *argv[SCHEMA_MAX_DS + SCHEMA_MAX_RRA + 8];

    argv[argc++] = "create";
    argv[argc++] = path;
    argv[argc++] = "--step";
    snprintf(defs[0], sizeof(defs[0]), "%u", step);
    argv[argc++] = defs[0];
    argv[argc++] = "--start";
    snprintf(defs[1], sizeof(defs[1]), "%lld", (long long)start);
    argv[argc++] = defs[1];
    for (size_t i = 0; i < nds; i++) {
        snprintf(defs[2 + i], sizeof(defs[2 + i]), "DS:%s:GAUGE:%u:0:%s", ds[i].name, 2 * step,
                 ds[i].max);
        argv[argc++] = defs[2 + i];
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(defs[2 + nds + i], sizeof(defs[2 + nds + i]), "RRA:%s:0.5:%lu:%lu", r[i].cf,
                 r[i].pdp, r[i].rows);
        argv[argc++] = defs[2 + nds + i];
    }
    argv[argc] = NULL;
    ck_assert_int_eq(test_run("rrdtool", argv, NULL, NULL, 60), 0);
}

/* Files of a sub-minute probe created before the files were bounded (17,280 rows at full
 * resolution at 10 s): their layout is ours, so they are used as they are, not moved aside;
 * a NOTICE says so once per file; the readers read them (their day at full resolution). */
START_TEST(test_old_plan)
{
    struct env e;
    struct rrdw_opts o;
    struct rrdw_stats st;
    struct rrdq_summary sum;
    int64_t base = base_time();
    char path[2][600], *text, *log, err[256];

    env_init(&e, "rrd", "old", 10);
    ck_assert_int_eq(mkdir(e.dir, 0755), 0);
    for (int k = 0; k < 2; k++) {
        env_path(&e, path[k], sizeof(path[k]), k == 1);
        create_old(path[k], (enum schema_file)k, 10, base);
    }
    o = env_opts(&e);
    env_open(&e, &o);
    push_ok(&e, base, 0, 30, 200);
    env_flush(&e);
    push_ok(&e, base, 30, 30, 200);
    env_flush(&e);
    st = env_stats(&e);
    ck_assert_uint_eq(st.written, 60);
    ck_assert_uint_eq(st.files_moved, 0);
    ck_assert_uint_eq(st.failures, 0);
    env_close(&e);
    ck_assert_uint_eq(count_baks(e.dir, "old.rrd."), 0);
    ck_assert_uint_eq(count_baks(e.dir, "old.phases.rrd."), 0);
    for (int k = 0; k < 2; k++) {
        text = test_rrdinfo(path[k]);
        ck_assert_int_eq(test_info_long(text, "rra[0].rows"), 17280);
        free(text);
    }
    log = env_log(&e);
    ck_assert_msg(count_str(log, "from before the files were bounded") == 2, "%s", log);
    ck_assert_msg(count_str(log, "old.rrd keeps 17280 rows at full resolution, from before the "
                                 "files were bounded (now 2880, and one-minute rows): used as it "
                                 "is") == 1,
                  "%s", log);
    free(log);
    ck_assert_int_eq(rrdq_summary(e.dir, "old", 0, 86400, &sum, err, sizeof(err)), 0);
    ck_assert_uint_eq(sum.step, 10);
    check_close(sum.samples, 60, 1e-9, "samples");
    check_close(sum.availability, 1, 1e-9, "availability");
    ck_assert_int_eq(sum.last_time, base + 600);
    env_fini(&e);
}
END_TEST

static long series_step(const struct series *sr)
{
    return sr->nrows > 1 ? (long)(sr->t[1] - sr->t[0]) : 0;
}

/* A probe at 1 s: its files are within the bound, every archive is read back (rrdtool fetch at
 * each resolution), and the one-minute archive holds the exact fraction of its minutes. */
START_TEST(test_one_second)
{
    struct env e;
    struct rrdw_opts o;
    int64_t base = base_time();
    char crit[600], phases[600], s[32], en[32];
    struct series *sr;
    struct stat sb[2];

    env_init(&e, "rrd", "fast", 1);
    o = env_opts(&e);
    env_open(&e, &o);
    /* 10 minutes of checks, one in 10 failed (scenarios' rule). */
    push_scenario(&e, &(struct scenario){"1 s", 600, -1, -1, -1, -1}, base, 1);
    env_flush(&e);
    ck_assert_uint_eq(env_stats(&e).written, 600);
    env_close(&e);
    env_path(&e, crit, sizeof(crit), false);
    env_path(&e, phases, sizeof(phases), true);
    ck_assert_int_eq(stat(crit, &sb[0]), 0);
    ck_assert_int_eq(stat(phases, &sb[1]), 0);
    ck_assert_int_le(sb[0].st_size + sb[1].st_size, MAX_PAIR_BYTES);
    snprintf(s, sizeof(s), "%lld", (long long)base);
    snprintf(en, sizeof(en), "%lld", (long long)base + 600);
    for (int r = 0; r < 5; r++) {
        static const char *const res[] = {"1", "60", "600", "3600", "86400"};
        ck_assert_int_eq(RRDTOOL(NULL, "fetch", crit, "AVERAGE", "-r", res[r], "-s", s, "-e", en),
                         0);
    }
    for (int cf = 0; cf < 3; cf++) {
        static const char *const cfs[] = {"AVERAGE", "MIN", "MAX"};
        ck_assert_int_eq(RRDTOOL(NULL, "fetch", phases, cfs[cf], "-r", "60", "-s", s, "-e", en), 0);
    }
    /* Raw rows: all 600. */
    sr = test_fetch(crit, "AVERAGE", 1, base, base + 600);
    ck_assert_int_eq(series_step(sr), 1);
    ck_assert_uint_eq(series_known(sr, "up", base, base + 600), 600);
    series_free(sr);
    /* Minute rows: 10, each with 6 failures in 60 (i % 10 == 9). */
    sr = test_fetch(crit, "AVERAGE", 60, base, base + 600);
    ck_assert_int_eq(series_step(sr), 60);
    ck_assert_uint_eq(series_known(sr, "up", base, base + 600), 10);
    for (int m = 1; m <= 10; m++)
        check_close(series_at(sr, base + m * 60, "up"), 0.9, 1e-9, "up per minute");
    series_free(sr);
    sr = test_fetch(phases, "MAX", 60, base, base + 600);
    ck_assert_int_eq(series_step(sr), 60);
    ck_assert_uint_eq(series_known(sr, "total", base, base + 600), 10);
    check_close(series_at(sr, base + 60, "total"), 2.5, 1e-9, "max total of the first minute");
    series_free(sr);
    env_fini(&e);
}
END_TEST

/* rrdtool info, fetch (every archive) and graph read both files. */
START_TEST(test_rrdtool_reads)
{
    struct env e;
    struct rrdw_opts o;
    int64_t base = base_time();
    char crit[600], phases[600], png[600], s[32], en[32], d1[700], d2[700], d3[700], d4[700];
    struct stat sb;
    char *out;

    env_init(&e, "rrd", "readable", 10);
    o = env_opts(&e);
    env_open(&e, &o);
    push_scenario(&e, &scenarios[0], base, 10);
    env_flush(&e);
    env_close(&e);
    env_path(&e, crit, sizeof(crit), false);
    env_path(&e, phases, sizeof(phases), true);
    snprintf(png, sizeof(png), "%s/out.png", e.tmp);
    snprintf(s, sizeof(s), "%lld", (long long)base);
    snprintf(en, sizeof(en), "%lld", (long long)base + 3600);
    ck_assert_int_eq(RRDTOOL(NULL, "info", crit), 0);
    ck_assert_int_eq(RRDTOOL(NULL, "info", phases), 0);
    for (int r = 0; r < 4; r++) {
        static const char *const res[] = {"10", "600", "3600", "86400"};
        ck_assert_int_eq(RRDTOOL(NULL, "fetch", crit, "AVERAGE", "-r", res[r], "-s", s, "-e", en),
                         0);
    }
    for (int cf = 0; cf < 3; cf++) {
        static const char *const cfs[] = {"AVERAGE", "MIN", "MAX"};
        ck_assert_int_eq(RRDTOOL(NULL, "fetch", phases, cfs[cf], "-r", "600", "-s", s, "-e", en),
                         0);
    }
    snprintf(d1, sizeof(d1), "DEF:up=%s:up:AVERAGE", crit);
    snprintf(d2, sizeof(d2), "DEF:fast=%s:le_400:AVERAGE", crit);
    snprintf(d3, sizeof(d3), "DEF:ttfb=%s:ttfb:AVERAGE", phases);
    snprintf(d4, sizeof(d4), "DEF:ttfbmax=%s:ttfb:MAX", phases);
    ck_assert_int_eq(RRDTOOL(&out, "graph", png, "-s", s, "-e", en, d1, d2, d3, d4,
                             "CDEF:pct=up,100,*", "LINE1:pct#00a000:availability %",
                             "LINE1:ttfb#0000ff:ttfb", "LINE1:ttfbmax#ff0000:ttfb max",
                             "VDEF:a=up,AVERAGE", "PRINT:a:avail=%.4lf"),
                     0);
    ck_assert_msg(strstr(out, "avail=0.9000") != NULL, "%s", out);
    free(out);
    ck_assert_int_eq(stat(png, &sb), 0);
    ck_assert_int_gt(sb.st_size, 1000);
    env_fini(&e);
}
END_TEST

/* Past max_queued the oldest samples go; the newest are written once the disk is back. */
START_TEST(test_overflow)
{
    struct env e;
    struct rrdw_opts o;
    struct rrdw_stats st;
    int64_t base = base_time();
    char crit[600], *log;
    struct series *c;

    env_init(&e, "blocker/rrd", "overflow", 10);
    block_dir(&e);
    o = env_opts(&e);
    o.max_queued = 10;
    env_open(&e, &o);
    push_ok(&e, base, 0, 15, 100);
    st = env_stats(&e);
    ck_assert_uint_eq(st.dropped, 5);
    ck_assert_uint_eq(st.queued, 10);
    env_flush(&e);
    st = env_stats(&e);
    ck_assert_uint_ge(st.failures, 1);
    ck_assert_uint_eq(st.queued, 10);
    log = env_log(&e);
    ck_assert_msg(count_str(log, "dropping the oldest") == 1, "%s", log);
    free(log);
    unblock_dir(&e);
    env_flush(&e);
    st = env_stats(&e);
    ck_assert_uint_eq(st.written, 10);
    ck_assert_uint_eq(st.dropped, 5);
    ck_assert_uint_eq(st.queued, 0);
    env_close(&e);
    env_path(&e, crit, sizeof(crit), false);
    c = test_fetch(crit, "AVERAGE", 10, base, base + 200);
    for (int i = 0; i < 15; i++) {
        double v = series_at(c, base + (i + 1) * 10, "up");
        ck_assert_msg(i < 5 ? isnan(v) : v == 1, "step %d: %g", i, v);
    }
    series_free(c);
    env_fini(&e);
}
END_TEST

/* Overflow with several probes drops the oldest samples of any of them, not the newest. */
START_TEST(test_overflow_oldest_first)
{
    struct env e;
    struct rrdw_opts o;
    struct rrdw_stats st;
    int64_t base = base_time();
    char ids[3][16];
    struct probe p[3];
    struct result r = res_ok(100);

    env_init(&e, "blocker/rrd", "x", 10);
    block_dir(&e);
    o = env_opts(&e);
    o.max_queued = 20;
    env_open(&e, &o);
    for (int k = 0; k < 3; k++) {
        snprintf(ids[k], sizeof(ids[k]), "p%d", k);
        p[k] = e.p;
        p[k].id = ids[k];
    }
    /* p0 starts an hour earlier than p1 and p2. */
    for (int i = 0; i < 10; i++)
        rrdw_push(e.w, &p[0], base - 3600 + i * 10, &r, false);
    for (int i = 0; i < 10; i++) {
        rrdw_push(e.w, &p[1], base + i * 10, &r, false);
        rrdw_push(e.w, &p[2], base + i * 10 + 5, &r, false);
    }
    st = env_stats(&e);
    ck_assert_uint_eq(st.dropped, 10);
    ck_assert_uint_eq(st.queued, 20);
    unblock_dir(&e);
    env_flush(&e);
    st = env_stats(&e);
    ck_assert_uint_eq(st.written, 20);
    env_close(&e);
    for (int k = 0; k < 3; k++) {
        char path[600];
        struct stat sb;

        ck_assert_ptr_nonnull(schema_path(path, sizeof(path), e.dir, ids[k], SCHEMA_CRIT));
        ck_assert_int_eq(stat(path, &sb) == 0, k > 0);
    }
    env_fini(&e);
}
END_TEST

/* Overflow against a model: 40 probes pushed in a random interleaving (each in its own order),
 * a queue of 100, and in the middle a flush that fails while samples keep coming (its job holds
 * what was queued, which cannot be dropped; it gives it all back when it returns). What is
 * dropped is always the oldest sample outside the job: the number of probes that have a value at
 * each step must be the model's (which probe loses a tie is not specified, how many is). */
static void model_drop(int *model, int n, int *queued, int *dropped)
{
    for (int i = 0; i < n; i++)
        if (model[i] > 0) {
            model[i]--;
            (*queued)--;
            (*dropped)++;
            return;
        }
}

START_TEST(test_overflow_model)
{
    enum { P = 40, N = 12, MAX = 100 };
    struct env e;
    struct rrdw_opts o;
    struct rrdw_stats st;
    int64_t base = base_time();
    char ids[P][16];
    struct probe p[P];
    struct result r = res_ok(100);
    int next[P] = {0}, model[N] = {0}, job[N] = {0}, queued = 0, dropped = 0, left = P * N;
    uint32_t seed = 12345;

    env_init(&e, "blocker/rrd", "m", 10);
    block_dir(&e);
    o = env_opts(&e);
    o.max_queued = MAX;
    env_open(&e, &o);
    for (int k = 0; k < P; k++) {
        snprintf(ids[k], sizeof(ids[k]), "m%02d", k);
        p[k] = e.p;
        p[k].id = ids[k];
    }
    while (left > 0) {
        int k;

        seed = seed * 1103515245u + 12345u;
        k = (int)((seed >> 16) % P);
        if (next[k] == N)
            continue;
        if (queued >= MAX)
            model_drop(model, N, &queued, &dropped);
        rrdw_push(e.w, &p[k], base + (int64_t)next[k] * 10 + 1, &r, false);
        model[next[k]++]++;
        queued++;
        left--;
        if (left == P * N / 2) { /* the job takes everything queued */
            rrdw_flush(e.w);
            memcpy(job, model, sizeof(job));
            memset(model, 0, sizeof(model));
        } else if (left == P * N / 2 - 150) { /* ... fails, and gives it back */
            uv_run(&e.loop, UV_RUN_DEFAULT);
            for (int i = 0; i < N; i++)
                model[i] += job[i];
            while (queued > MAX)
                model_drop(model, N, &queued, &dropped);
        }
    }
    st = env_stats(&e);
    ck_assert_uint_ge(st.failures, 1);
    ck_assert_uint_eq(st.queued, MAX);
    ck_assert_uint_eq(st.dropped, (uint64_t)dropped);
    unblock_dir(&e);
    env_flush(&e);
    st = env_stats(&e);
    ck_assert_uint_eq(st.written, MAX);
    env_close(&e);
    {
        int have[N] = {0};

        /* One fetch per probe (an rrdtool process each), every step read from it. */
        for (int k = 0; k < P; k++) {
            char path[600];
            struct series *c;

            ck_assert_ptr_nonnull(schema_path(path, sizeof(path), e.dir, ids[k], SCHEMA_CRIT));
            if (access(path, F_OK) != 0)
                continue;
            c = test_fetch(path, "AVERAGE", 10, base, base + N * 10 + 10);
            for (int i = 0; i < N; i++)
                have[i] += series_at(c, base + (i + 1) * 10, "up") == 1;
            series_free(c);
        }
        for (int i = 0; i < N; i++)
            ck_assert_msg(have[i] == model[i], "step %d: %d probes have a value, the model says %d",
                          i, have[i], model[i]);
    }
    env_fini(&e);
}
END_TEST

static void on_poll(uv_timer_t *t)
{
    struct env *e = t->data;

    if (env_stats(e).written > 0)
        uv_timer_stop(t);
}

/* Without rrdw_flush, a file is written once its oldest sample has waited flush_ms. */
START_TEST(test_timer_flush)
{
    struct env e;
    struct rrdw_opts o;
    uv_timer_t poll;
    uint64_t t0, ms;
    int64_t base = base_time();

    env_init(&e, "rrd", "timer", 10);
    o = env_opts(&e);
    o.flush_ms = 300;
    env_open(&e, &o);
    push_ok(&e, base, 0, 3, 100);
    ck_assert_uint_eq(env_stats(&e).written, 0);
    ck_assert_int_eq(uv_timer_init(&e.loop, &poll), 0);
    poll.data = &e;
    uv_timer_start(&poll, on_poll, 20, 20);
    t0 = uv_hrtime();
    uv_run(&e.loop, UV_RUN_DEFAULT);
    ms = (uv_hrtime() - t0) / 1000000;
    ck_assert_uint_eq(env_stats(&e).written, 3);
    ck_assert_msg(ms >= 250 && ms < 300 + 2000u * (unsigned)test_timeout(1),
                  "written after %llu ms", (unsigned long long)ms);
    uv_close((uv_handle_t *)&poll, NULL);
    env_close(&e);
    env_fini(&e);
}
END_TEST

/* n probes like e->p, named probe-000, probe-001, ... in ids. */
static void many_probes(const struct env *e, struct probe *p, char (*ids)[24], int n)
{
    for (int k = 0; k < n; k++) {
        snprintf(ids[k], sizeof(ids[k]), "probe-%03d", k);
        p[k] = e->p;
        p[k].id = ids[k];
    }
}

/* Samples pushed while a write is in flight wait for the next one; a flush asked meanwhile is
 * honoured when the first write is done. Many probes: every file is created. */
START_TEST(test_push_during_write)
{
    enum { NPROBES = 300 };
    struct env e;
    struct rrdw_opts o;
    struct rrdw_stats st;
    int64_t base = base_time();
    static char ids[NPROBES][24];
    static struct probe p[NPROBES];
    struct result r = res_ok(150);

    env_init(&e, "rrd", "many", 10);
    o = env_opts(&e);
    env_open(&e, &o);
    many_probes(&e, p, ids, NPROBES);
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < NPROBES; k++)
            rrdw_push(e.w, &p[k], base + i * 10, &r, false);
    rrdw_flush(e.w); /* the job is queued, not done */
    for (int i = 3; i < 6; i++)
        for (int k = 0; k < NPROBES; k++)
            rrdw_push(e.w, &p[k], base + i * 10, &r, false);
    rrdw_flush(e.w); /* busy: remembered */
    st = env_stats(&e);
    ck_assert_uint_eq(st.queued, 6 * NPROBES);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    st = env_stats(&e);
    ck_assert_uint_eq(st.written, 6 * NPROBES);
    ck_assert_uint_eq(st.queued, 0);
    env_close(&e);
    for (int k = 0; k < NPROBES; k += 37) {
        char path[600];
        struct series *c;

        ck_assert_ptr_nonnull(schema_path(path, sizeof(path), e.dir, ids[k], SCHEMA_PHASES));
        c = test_fetch(path, "AVERAGE", 10, base, base + 60);
        ck_assert_uint_eq(series_known(c, "total", base, base + 60), 6);
        series_free(c);
    }
    env_fini(&e);
}
END_TEST

/* Closing with samples that cannot be written: reported lost, the loop closes cleanly. */
START_TEST(test_close_loses_loudly)
{
    struct env e;
    struct rrdw_opts o;
    int64_t base = base_time();
    char *log;

    env_init(&e, "blocker/rrd", "lost", 10);
    block_dir(&e);
    o = env_opts(&e);
    env_open(&e, &o);
    push_ok(&e, base, 0, 7, 100);
    env_close(&e);
    log = env_log(&e);
    ck_assert_msg(strstr(log, "7 samples could not be written and are lost") != NULL, "%s", log);
    free(log);
    env_fini(&e);
}
END_TEST

/* Closing with a write in flight waits for it, then writes what came after. */
START_TEST(test_close_while_writing)
{
    struct env e;
    struct rrdw_opts o;
    int64_t base = base_time();
    char crit[600];
    struct series *c;

    env_init(&e, "rrd", "closing", 10);
    o = env_opts(&e);
    env_open(&e, &o);
    push_ok(&e, base, 0, 5, 100);
    rrdw_flush(e.w);
    push_ok(&e, base, 5, 5, 100);
    env_close(&e);
    env_path(&e, crit, sizeof(crit), false);
    c = test_fetch(crit, "AVERAGE", 10, base, base + 100);
    ck_assert_uint_eq(series_known(c, "up", base, base + 100), 10);
    series_free(c);
    env_fini(&e);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* The close bound and the journal. */

static void env_journal(const struct env *e, char *buf, size_t len)
{
    snprintf(buf, len, "%s/.vigie-journal", e->dir);
}

/* The journal's lines that are samples of probe `id`. */
static size_t journal_count(const char *text, const char *id)
{
    char key[80];

    ck_assert_int_lt(snprintf(key, sizeof(key), "\n%s ", id), (int)sizeof(key));
    return count_str(text, key);
}

/* Closing with more to write than rrd_close_timeout allows (300 probes at 1 s whose files are
 * created at close, a few milliseconds each): rrdw_close returns within the bound plus one
 * probe's write; each probe is either written whole or in the journal whole; the next writer
 * replays the journal first, every sample ends up in the files, and the journal is removed. */
START_TEST(test_close_bounded)
{
    enum { NPROBES = 300, NS = 10, BOUND_MS = 100 };
    struct env e;
    struct rrdw_opts o;
    struct rrdw_stats st;
    static char ids[NPROBES][24];
    static struct probe p[NPROBES];
    struct result r = res_ok(120);
    int64_t base = base_time();
    uint64_t t0, ms;
    size_t in_journal = 0;
    char jpath[600], path[700], *text, *log;

    env_init(&e, "rrd", "bounded", 1);
    o = env_opts(&e);
    o.close_ms = BOUND_MS;
    env_open(&e, &o);
    many_probes(&e, p, ids, NPROBES);
    for (int i = 0; i < NS; i++)
        for (int k = 0; k < NPROBES; k++)
            rrdw_push(e.w, &p[k], base + i, &r, false);
    t0 = uv_hrtime();
    env_close_stats(&e, &st);
    ms = (uv_hrtime() - t0) / 1000000;
    printf("rrdw: close bounded at %d ms: closed after %llu ms, %llu written, %llu journaled\n",
           BOUND_MS, (unsigned long long)ms, (unsigned long long)st.written,
           (unsigned long long)st.journaled);
    ck_assert_msg(ms < BOUND_MS + 1500u * (unsigned)test_timeout(1), "closed after %llu ms",
                  (unsigned long long)ms);
    ck_assert_uint_gt(st.journaled, 0);
    ck_assert_uint_eq(st.written + st.journaled, NPROBES * NS);
    ck_assert_uint_eq(st.queued, st.journaled);
    ck_assert_uint_eq(st.dropped, 0);
    log = env_log(&e);
    ck_assert_msg(strstr(log, "rrd_close_timeout (100 ms) reached"), "%s", log);
    snprintf(path, sizeof(path), "%llu samples not written kept in",
             (unsigned long long)st.journaled);
    ck_assert_msg(count_str(log, path) == 1, "%s", log);
    free(log);

    /* Exactly the samples not written: a probe is in the journal whole, and then has no file. */
    env_journal(&e, jpath, sizeof(jpath));
    text = test_slurp(jpath, NULL);
    ck_assert_uint_eq(count_str(text, "\n"), st.journaled + 2);
    for (int k = 0; k < NPROBES; k++) {
        size_t n = journal_count(text, ids[k]);

        ck_assert_msg(n == 0 || n == NS, "%s: %zu samples in the journal", ids[k], n);
        ck_assert_ptr_nonnull(schema_path(path, sizeof(path), e.dir, ids[k], SCHEMA_CRIT));
        ck_assert_msg((access(path, F_OK) == 0) == (n == 0), "%s: journaled %zu, file %s", ids[k],
                      n, access(path, F_OK) == 0 ? "present" : "absent");
        in_journal += n > 0;
    }
    ck_assert_uint_eq(in_journal * NS, st.journaled);
    free(text);

    /* The next start: replayed first, all written, the journal removed. */
    o.close_ms = 0;
    env_open(&e, &o);
    st = env_stats(&e);
    ck_assert_uint_eq(st.replayed, in_journal * NS);
    ck_assert_uint_eq(st.queued, in_journal * NS);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    env_close_stats(&e, &st);
    ck_assert_uint_eq(st.written, in_journal * NS);
    ck_assert_uint_eq(st.queued, 0);
    ck_assert_uint_eq(st.journaled, 0);
    ck_assert_int_eq(access(jpath, F_OK), -1);
    log = env_log(&e);
    snprintf(path, sizeof(path), "%zu samples of %zu probes replayed from %s", in_journal * NS,
             in_journal, jpath);
    ck_assert_msg(strstr(log, path), "want '%s': %s", path, log);
    ck_assert_msg(strstr(log, "are written: removed"), "%s", log);
    free(log);
    /* (every 5th probe: rrdtool is a process per file, and the machine may be busy) */
    for (int k = 0; k < NPROBES; k += 5) {
        struct series *c;

        ck_assert_ptr_nonnull(schema_path(path, sizeof(path), e.dir, ids[k], SCHEMA_CRIT));
        c = test_fetch(path, "AVERAGE", 1, base - 5, base + NS + 5);
        ck_assert_msg(series_known(c, "up", base, base + NS + 5) == NS, "%s: %zu rows", ids[k],
                      series_known(c, "up", base, base + NS + 5));
        series_free(c);
    }
    env_fini(&e);
}
END_TEST

/* e's files hold exactly scenario sc, pushed at `base` every `step`, and nothing after it. */
static void check_scenario(const struct env *e, const struct scenario *sc, int64_t base,
                           unsigned step)
{
    int64_t end = base + (int64_t)sc->n * step;
    char crit[600], phases[600];
    struct series *c, *ph;

    env_path(e, crit, sizeof(crit), false);
    env_path(e, phases, sizeof(phases), true);
    c = test_fetch(crit, "AVERAGE", step, base - 5 * step, end + 5 * step);
    ph = test_fetch(phases, "AVERAGE", step, base, end);
    for (int i = 0; i < sc->n; i++)
        check_row(c, ph, sc, i, base + (int64_t)(i + 1) * step);
    ck_assert(isnan(series_at(c, end + step, "up")));
    series_free(c);
    series_free(ph);
}

static const struct {
    const char *name;
    bool crit; /* the criterion file refuses too, not only the phases file */
} refuse_cases[] = {{"both files refuse", true}, {"the phases file refuses", false}};

/* A storage that refuses every write at close (the files are directories): every sample goes
 * to the journal (with what each file already has), missed and flagged ones too; once the files
 * can be written, the next writer writes them all, exactly; replaying the same journal again
 * writes nothing twice. */
START_TEST(test_close_journal_replay)
{
    static const struct scenario sc = {"missed and flagged", 60, 20, 25, 40, 45};
    const unsigned step = 10;
    struct env e;
    struct rrdw_opts o;
    struct rrdw_stats st;
    int64_t base = base_time();
    char crit[600], phases[600], jpath[600], want[700], *text, *log;

    env_init(&e, "rrd", "refused", step);
    env_path(&e, crit, sizeof(crit), false);
    env_path(&e, phases, sizeof(phases), true);
    env_journal(&e, jpath, sizeof(jpath));
    ck_assert_int_eq(mkdir(e.dir, 0755), 0);
    ck_assert_int_eq(mkdir(phases, 0755), 0);
    if (refuse_cases[_i].crit)
        ck_assert_int_eq(mkdir(crit, 0755), 0);
    o = env_opts(&e);
    env_open(&e, &o);
    push_scenario(&e, &sc, base, step);
    env_close_stats(&e, &st);
    ck_assert_uint_eq(st.written, 0);
    ck_assert_uint_eq(st.journaled, (uint64_t)sc.n);
    log = env_log(&e);
    ck_assert_msg(strstr(log, "60 samples not written kept in"), "%s", log);
    ck_assert_msg(strstr(log, "not written, for the journal"), "%s", log);
    free(log);
    text = test_slurp(jpath, NULL);
    ck_assert_uint_eq(journal_count(text, "refused"), (size_t)sc.n);
    ck_assert_ptr_nonnull(strstr(text, "vigie-journal 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nend 60\n"));
    /* Each sample says which file has it already (the criterion file, when only the phases
     * file refused): the replay does not write it there again. */
    {
        const char *done = refuse_cases[_i].crit ? "0" : "1";
        size_t n[4];
        static const char *const kinds[] = {"ok", "failed", "missed", "flagged"};

        for (int k = 0; k < 4; k++) {
            snprintf(want, sizeof(want), " %s %s ", kinds[k], done);
            n[k] = count_str(text, want);
        }
        ck_assert_uint_eq(n[0] + n[1], 50);
        ck_assert_uint_eq(n[1], 6);
        ck_assert_uint_eq(n[2], 5);
        ck_assert_uint_eq(n[3], 5);
    }

    /* The storage is back: the next start writes them. */
    ck_assert_int_eq(rmdir(phases), 0);
    if (refuse_cases[_i].crit)
        ck_assert_int_eq(rmdir(crit), 0);
    env_open(&e, &o);
    ck_assert_uint_eq(env_stats(&e).replayed, (uint64_t)sc.n);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    env_close_stats(&e, &st);
    ck_assert_uint_eq(st.written, (uint64_t)sc.n);
    ck_assert_uint_eq(st.stale, 0);
    ck_assert_uint_eq(st.failures, 0);
    ck_assert_int_eq(access(jpath, F_OK), -1);
    check_scenario(&e, &sc, base, step);

    /* A crash before the journal was removed: replaying it again writes nothing twice. */
    free(test_write(e.dir, ".vigie-journal", text));
    env_open(&e, &o);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    env_close_stats(&e, &st);
    ck_assert_uint_eq(st.written + st.stale, (uint64_t)sc.n);
    ck_assert_uint_eq(st.failures, 0);
    ck_assert_int_eq(access(jpath, F_OK), -1);
    check_scenario(&e, &sc, base, step);
    snprintf(want, sizeof(want), "samples not newer than the last update of %s", crit);
    log = env_log(&e);
    ck_assert_msg(!refuse_cases[_i].crit || strstr(log, want), "%s", log);
    free(log);
    free(text);
    env_fini(&e);
}
END_TEST

/* The journal's format (docs/RRD.md): a hand-written one is replayed as it says. */
START_TEST(test_journal_format)
{
    struct env e;
    struct rrdw_opts o;
    struct rrdw_stats st;
    int64_t base = base_time();
    char crit[600], phases[600], text[1024];
    struct series *c, *ph;

    env_init(&e, "rrd", "hand", 10);
    snprintf(text, sizeof(text),
             "vigie-journal 1\n"
             "hand 10 %lld ok 0 250000 125000 25000 50000 75000 200000\n"
             "hand 10 %lld failed 0 -1 -1 5000 12345 -1 -1\n"
             "hand 10 %lld missed 0 -1 -1 -1 -1 -1 -1\n"
             "hand 10 %lld flagged 0 -1 -1 -1 -1 -1 -1\n"
             "end 4\n",
             (long long)base + 10, (long long)base + 20, (long long)base + 30,
             (long long)base + 40);
    free(test_write(e.dir, ".vigie-journal", text));
    o = env_opts(&e);
    env_open(&e, &o);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    env_close_stats(&e, &st);
    ck_assert_uint_eq(st.replayed, 4);
    ck_assert_uint_eq(st.written, 4);
    env_path(&e, crit, sizeof(crit), false);
    env_path(&e, phases, sizeof(phases), true);
    c = test_fetch(crit, "AVERAGE", 10, base, base + 60);
    ph = test_fetch(phases, "AVERAGE", 10, base, base + 60);
    check_close(series_at(c, base + 10, "up"), 1, 0, "ok: up");
    check_close(series_at(c, base + 10, "total"), 0.25, 1e-9, "ok: total");
    check_close(series_at(c, base + 10, "le_400"), 1, 0, "ok: le_400");
    check_close(series_at(ph, base + 10, "ttfb"), 0.2, 1e-9, "ok: ttfb");
    check_close(series_at(c, base + 20, "up"), 0, 0, "failed: up");
    check_close(series_at(ph, base + 20, "connect"), 0.012345, 1e-9, "failed: connect");
    ck_assert(isnan(series_at(c, base + 30, "valid")));
    check_close(series_at(c, base + 40, "valid"), 0, 0, "flagged: valid");
    ck_assert(isnan(series_at(c, base + 40, "up")));
    series_free(c);
    series_free(ph);
    env_fini(&e);
}
END_TEST

/* A journal that is not whole or not ours: moved aside with an error naming its line, nothing
 * replayed, the writer works. */
static const struct {
    const char *name;
    const char *text; /* T: a time on a 10 s boundary, U: 3 s after it */
    int line;
    const char *msg;
} bad_journals[] = {
    {"not ours", "hello\n", 1, "not a vigie journal"},
    {"empty", "", 1, "empty"},
    {"no end line", "vigie-journal 1\nalpha 10 T ok 0 1 1 1 1 1 1\n", 3, "truncated (no end line)"},
    {"cut in a line", "vigie-journal 1\nalpha 10 T ok 0 1 1", 2, "truncated (no end of line)"},
    {"wrong count", "vigie-journal 1\nalpha 10 T ok 0 1 1 1 1 1 1\nend 2\n", 3,
     "the end line counts 2 samples, 1 read"},
    {"bad kind", "vigie-journal 1\nalpha 10 T great 0 1 1 1 1 1 1\nend 1\n", 2,
     "expected ok, failed, flagged or missed"},
    {"off the step", "vigie-journal 1\nalpha 10 U ok 0 1 1 1 1 1 1\nend 1\n", 2,
     "expected a time on a step boundary"},
    {"a field short", "vigie-journal 1\nalpha 10 T ok 0 1 1 1 1 1\nend 1\n", 2,
     "expected 6 durations"},
    {"out of order",
     "vigie-journal 1\nalpha 10 T ok 0 1 1 1 1 1 1\nalpha 10 T ok 0 1 1 1 1 1 1\nend 2\n", 3,
     "probe alpha: sample at"},
    {"after the end", "vigie-journal 1\nend 0\nalpha 10 T ok 0 1 1 1 1 1 1\n", 3,
     "a line after the end"},
};

START_TEST(test_journal_bad)
{
    struct env e;
    struct rrdw_opts o;
    struct rrdw_stats st;
    char text[512], t[32], jpath[600], aside[700], want[1400], *got, *log;
    const char *src = bad_journals[_i].text;
    size_t n = 0;

    env_init(&e, "rrd", "alpha", 10);
    /* T: a time on the step */
    snprintf(t, sizeof(t), "%lld", (long long)(time(NULL) / 3600 * 3600));
    for (const char *q = src; *q && n + 32 < sizeof(text); q++) {
        if ((*q == 'T' || *q == 'U') && (q == src || q[-1] == ' ')) {
            n += (size_t)snprintf(text + n, sizeof(text) - n, "%lld",
                                  strtoll(t, NULL, 10) + (*q == 'U' ? 3 : 0));
            continue;
        }
        text[n++] = *q;
    }
    text[n] = '\0';
    free(test_write(e.dir, ".vigie-journal", text));
    env_journal(&e, jpath, sizeof(jpath));
    snprintf(aside, sizeof(aside), "%s.bad", jpath);
    o = env_opts(&e);
    env_open(&e, &o);
    st = env_stats(&e);
    ck_assert_uint_eq(st.queued, 0);
    ck_assert_uint_eq(st.replayed, 0);
    ck_assert_int_eq(access(jpath, F_OK), -1);
    got = test_slurp(aside, NULL);
    ck_assert_str_eq(got, text);
    free(got);
    log = env_log(&e);
    snprintf(want, sizeof(want), "rrd: %s:%d: %s", jpath, bad_journals[_i].line,
             bad_journals[_i].msg);
    ck_assert_msg(strstr(log, want), "%s: want '%s' in: %s", bad_journals[_i].name, want, log);
    snprintf(want, sizeof(want), "moved aside to %s, nothing replayed", aside);
    ck_assert_msg(strstr(log, want), "%s: %s", bad_journals[_i].name, log);
    free(log);
    /* the writer works, and a second bad journal does not replace the first one aside */
    push_ok(&e, base_time(), 0, 3, 100);
    env_close_stats(&e, &st);
    ck_assert_uint_eq(st.written, 3);
    free(test_write(e.dir, ".vigie-journal", "hello\n"));
    env_open(&e, &o);
    env_close(&e);
    snprintf(want, sizeof(want), "%s.2.bad", jpath);
    ck_assert_int_eq(access(want, F_OK), 0);
    got = test_slurp(aside, NULL);
    ck_assert_str_eq(got, text);
    free(got);
    env_fini(&e);
}
END_TEST

START_TEST(test_path)
{
    char buf[64];

    ck_assert_str_eq(schema_path(buf, sizeof(buf), "/var/lib/vigie/rrd", "impots", SCHEMA_CRIT),
                     "/var/lib/vigie/rrd/impots.rrd");
    ck_assert_str_eq(schema_path(buf, sizeof(buf), "rrd", "caf.fr", SCHEMA_PHASES),
                     "rrd/caf.fr.phases.rrd");
    ck_assert_ptr_null(schema_path(buf, 10, "rrd", "caf.fr", SCHEMA_PHASES));
}
END_TEST

static void check_plan(const struct schema_rra *r, size_t i, const char *cf, unsigned long pdp,
                       unsigned long rows)
{
    ck_assert_msg(strcmp(r[i].cf, cf) == 0 && r[i].pdp == pdp && r[i].rows == rows,
                  "archive %zu: %s %lu × %lu, want %s %lu × %lu", i, r[i].cf, r[i].pdp, r[i].rows,
                  cf, pdp, rows);
}

/* The schema's tables agree with each other: one le_<ms> source per bound, in order; every
 * file's plan starts with its full resolution and merges what the step already covers. */
START_TEST(test_schema)
{
    size_t n;
    const struct schema_ds *ds = schema_ds(SCHEMA_CRIT, &n);
    struct schema_keep keep = {2 * 86400, 14 * 86400, 400 * 86400, 92 * 86400, 1830 * 86400};
    struct schema_rra r[SCHEMA_MAX_RRA];
    char name[16];

    ck_assert_uint_eq(n, 4 + SCHEMA_NBUCKETS);
    for (int i = 0; i < SCHEMA_NBUCKETS; i++) {
        snprintf(name, sizeof(name), "le_%u", schema_bounds_ms[i]);
        ck_assert_str_eq(ds[4 + i].name, name);
        if (i > 0)
            ck_assert_uint_gt(schema_bounds_ms[i], schema_bounds_ms[i - 1]);
    }
    ds = schema_ds(SCHEMA_PHASES, &n);
    ck_assert_uint_eq(n, 5);
    ck_assert_str_eq(ds[0].name, "total");

    /* 60 s: full (2 days), 10 min, 1 h, 1 day. */
    ck_assert_uint_eq(schema_rra_plan(r, SCHEMA_CRIT, 60, &keep), 4);
    ck_assert_uint_eq(r[0].pdp, 1);
    ck_assert_uint_eq(r[0].rows, 2 * 1440);
    ck_assert_uint_eq(r[3].pdp, 1440);
    ck_assert_uint_eq(r[3].rows, 1830);
    /* 3600 s: full, 10 min and 1 h are one archive, kept 400 days. */
    ck_assert_uint_eq(schema_rra_plan(r, SCHEMA_CRIT, 3600, &keep), 2);
    ck_assert_uint_eq(r[0].pdp, 1);
    ck_assert_uint_eq(r[0].rows, 400 * 24);
    /* 1 s: an hour at full resolution (more than 2 days' minutes: 2880), 2 days of minutes. */
    ck_assert_uint_eq(schema_rra_plan(r, SCHEMA_CRIT, 1, &keep), 5);
    check_plan(r, 0, "AVERAGE", 1, 3600);
    check_plan(r, 1, "AVERAGE", 60, 2880);
    check_plan(r, 2, "AVERAGE", 600, 2016);
    check_plan(r, 4, "AVERAGE", 86400, 1830);
    ck_assert_uint_eq(schema_rra_plan(r, SCHEMA_PHASES, 1, &keep), 10);
    check_plan(r, 0, "AVERAGE", 1, 3600);
    check_plan(r, 1, "AVERAGE", 60, 2880);
    check_plan(r, 2, "MIN", 60, 2880);
    check_plan(r, 3, "MAX", 60, 2880);
    check_plan(r, 6, "MAX", 600, 2016);
    check_plan(r, 9, "MAX", 3600, 92 * 24);
    /* 30 s: 2 days' minutes at full resolution (24 h), minutes of 2 steps for 2 days. */
    ck_assert_uint_eq(schema_rra_plan(r, SCHEMA_CRIT, 30, &keep), 5);
    check_plan(r, 0, "AVERAGE", 1, 2880);
    check_plan(r, 1, "AVERAGE", 2, 2880);
    check_plan(r, 2, "AVERAGE", 20, 2016);
    ck_assert_uint_eq(schema_rra_plan(r, SCHEMA_PHASES, 30, &keep), 10);
    check_plan(r, 3, "MAX", 2, 2880);
    check_plan(r, 9, "MAX", 120, 92 * 24);
    /* 45 s: the "minute" is the fewest steps lasting one, 90 s: no more rows than 2880. */
    ck_assert_uint_eq(schema_rra_plan(r, SCHEMA_CRIT, 45, &keep), 5);
    check_plan(r, 0, "AVERAGE", 1, 2880);
    check_plan(r, 1, "AVERAGE", 2, 1920);
    /* Retention at its least (1 h): below a minute, full resolution keeps that hour. */
    keep.full_s = 3600;
    ck_assert_uint_eq(schema_rra_plan(r, SCHEMA_CRIT, 1, &keep), 5);
    check_plan(r, 0, "AVERAGE", 1, 3600);
    check_plan(r, 1, "AVERAGE", 60, 60);
    ck_assert_uint_eq(schema_rra_plan(r, SCHEMA_CRIT, 10, &keep), 5);
    check_plan(r, 0, "AVERAGE", 1, 360);
}
END_TEST

Suite *rrdw_suite(void)
{
    Suite *s = suite_create("rrdw");
    TCase *tc = tcase_create("files");

    tcase_set_timeout(tc, test_timeout(30));
    tcase_add_loop_test(tc, test_sequence, 0, N(scenarios));
    tcase_add_test(tc, test_dir_unusable_then_restored);
    tcase_add_test(tc, test_failed_go_back_first);
    tcase_add_test(tc, test_bucket_bounds);
    tcase_add_test(tc, test_schema);
    tcase_add_loop_test(tc, test_corrupt_file, 0, N(bad_cases));
    tcase_add_test(tc, test_other_layout);
    tcase_add_loop_test(tc, test_step_change, 0, N(step_cases));
    tcase_add_test(tc, test_step_change_one_broken);
    tcase_add_loop_test(tc, test_create_failures, 0, N(limit_names));
    tcase_add_test(tc, test_stale);
    tcase_add_loop_test(tc, test_sizes, 0, N(size_cases));
    tcase_add_test(tc, test_one_second);
    tcase_add_test(tc, test_size_bound);
    tcase_add_test(tc, test_old_plan);
    tcase_add_test(tc, test_rrdtool_reads);
    tcase_add_test(tc, test_overflow);
    tcase_add_test(tc, test_overflow_oldest_first);
    tcase_add_test(tc, test_overflow_model);
    tcase_add_test(tc, test_timer_flush);
    tcase_add_test(tc, test_push_during_write);
    tcase_add_test(tc, test_close_loses_loudly);
    tcase_add_test(tc, test_close_while_writing);
    tcase_add_test(tc, test_close_bounded);
    tcase_add_loop_test(tc, test_close_journal_replay, 0, N(refuse_cases));
    tcase_add_test(tc, test_journal_format);
    tcase_add_loop_test(tc, test_journal_bad, 0, N(bad_journals));
    tcase_add_test(tc, test_path);
    tcase_add_test(tc, test_gap_keeps_next_sample);
    suite_add_tcase(s, tc);
    return s;
}
