/* Fault suite (`make faults`): vigie overloaded on purpose while every site is healthy. Overload
 * is vigie's problem, never the sites' (docs/ALERTING.md, "When vigie itself is saturated").
 *
 * The real daemon, pinned to one CPU at nice 15, checks 200 procedures every second on the
 * loopback test server (pinned to another CPU: the sites stay fast); from 2 s to 8 s two CPU hogs
 * at nice 0 take that CPU: the daemon gets 1.4 % of it (CFS weights 29 against 2 × 1024), about
 * half of what its checks need (3 % of a core here; at nice 10 it got 5 %, which was sometimes
 * enough). The webhook receiver is the test server's sink. What must hold:
 *   - no notification about a procedure (no DOWN, SLOW, nor `impaired`: confirm 1 and
 *     impaired_min_hosts 1, so a single timeout counted against a site, or a single host seen
 *     failing, would page);
 *   - exactly one `overloaded` alert, fired then resolved once vigie is quiet again;
 *   - samples flagged and ticks shed, counted in --stats (shed_factor_max >= 2, back to 1);
 *   - every procedure's availability over the run, read back from its RRD file as the reports
 *     do (rrdq_totals), is 100 %: flagged and shed samples are not counted.
 * About 20 s. Skipped where the test cannot have two CPUs. */
#define _GNU_SOURCE /* sched_setaffinity(2), CPU_SET */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/rrdq.h"
#include "testutil.h"

Suite *faults_overload_suite(void);

#define NPROBES 200
#define HOGS 2
#define HOG_FROM_MS 2000
#define HOG_MS 6000
#define RUN_S 16
#define VIGIE_NICE 15

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* Two CPUs this process may run on: vigie's and the rest's. -1 when there is only one. */
static int pick_cpus(int *vigie, int *other)
{
    cpu_set_t set;

    *vigie = *other = -1;
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return -1;
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (!CPU_ISSET(c, &set))
            continue;
        if (*other < 0)
            *other = c;
        else
            *vigie = c;
    }
    return *vigie >= 0 ? 0 : -1;
}

static void pin(pid_t pid, int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(pid, sizeof(set), &set);
}

/* A process spinning on `cpu` for `ms`, then exiting; it dies with the test process. */
static pid_t hog_start(int cpu, long ms)
{
    pid_t parent = getpid(), pid = fork();

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct timespec t0, t;

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        pin(0, cpu);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        do
            clock_gettime(CLOCK_MONOTONIC, &t);
        while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
        _exit(0);
    }
    return pid;
}

/* `vigie run -c cfg --duration RUN_S --stats stats`, on `cpu` at nice VIGIE_NICE (every thread it
 * starts inherits both), its stderr into errlog. */
static pid_t vigie_start(const char *cfg, const char *stats, const char *errlog, int cpu)
{
    const char *bin = getenv("VIGIE_BIN");
    char dur[16];
    pid_t pid;

    snprintf(dur, sizeof(dur), "%ds", RUN_S);
    fflush(NULL);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        pin(0, cpu);
        if (fd < 0 || dup2(fd, 2) < 0 || setpriority(PRIO_PROCESS, 0, VIGIE_NICE) != 0)
            _exit(127);
        execl(bin, bin, "run", "-c", cfg, "--duration", dur, "--stats", stats, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* The notifications the sink of the test server recorded for this test (its query names
 * `mark`), each the JSON body of one POST. */
static json_t *sink_collect(const char *mark)
{
    json_t *all = json_array();
    DIR *d = opendir(test_srv.dir);
    struct dirent *e;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d))) {
        char path[700], *req, *body;

        if (strncmp(e->d_name, "sink-", 5) != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", test_srv.dir, e->d_name);
        req = test_slurp(path, NULL);
        body = strstr(req, "\r\n\r\n");
        if (strstr(req, mark) && body && body < strstr(req, mark) + 1000)
            json_array_append_new(all, json_loads(body + 4, 0, NULL));
        free(req);
    }
    closedir(d);
    return all;
}

static json_int_t jint(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    ck_assert_msg(json_is_integer(v), "stats has no integer %s", key);
    return json_integer_value(v);
}

START_TEST(test_overload_pages_nobody)
{
    char *dir = test_mkdtemp(), *cfg, yaml[65536], mark[64], stats[700], errlog[700], rrd[700];
    int cpu_vigie, cpu_other;
    int64_t t_start, t_end;
    pid_t pid, hogs[HOGS];
    json_t *all, *st;
    size_t off, firing = 0, resolved = 0;
    double checks = 0, flagged = 0, covered = 0, expected = 0;

    if (pick_cpus(&cpu_vigie, &cpu_other) != 0) {
        fprintf(stderr, "faults_overload: SKIPPED: one CPU only (the sites would share vigie's)\n");
        free(dir);
        return;
    }
    pin(test_srv.pid, cpu_other);
    pin(0, cpu_other);
    snprintf(mark, sizeof(mark), "t=overload-%d", (int)getpid());
    snprintf(yaml, sizeof(yaml),
             "probes_dir: probes.d\nrrd_dir: rrd\nrrd_flush: 5s\n"
             "rrd_retention: {full: 1h, medium: 1h, hourly: 1d, daily: 1d}\n"
             "graphs: {enabled: false}\n"
             "concurrency: 1000\nper_host: 1000\ndrain_timeout: 2s\n"
             "overload: {shed_after: 2s, relax_after: 2s}\n"
             "receivers:\n  - {name: hook, type: webhook, timeout: 5s,"
             " url: \"http://127.0.0.1:%d/sink?%s\"}\n"
             "alerting:\n  group_wait: 1s\n  impaired_min_hosts: 1\n"
             "  routes:\n    - {name: all, receivers: [hook], repeat: 0s}\n"
             "defaults: {interval: 1s, timeout: 500ms, alert: {confirm: 1, recover: 1}}\n",
             test_srv.http, mark);
    cfg = test_write(dir, "vigie.yaml", yaml);
    off = (size_t)snprintf(yaml, sizeof(yaml), "group: G\nprobes:\n");
    for (int i = 0; i < NPROBES; i++)
        off += (size_t)snprintf(yaml + off, sizeof(yaml) - off,
                                "  - {id: p%03d, url: \"http://127.0.0.1:%d/?i=%d\"}\n", i,
                                test_srv.http, i);
    free(test_write(dir, "probes.d/g.yaml", yaml));
    snprintf(stats, sizeof(stats), "%s/stats.json", dir);
    snprintf(errlog, sizeof(errlog), "%s/vigie.log", dir);

    t_start = now_s();
    pid = vigie_start(cfg, stats, errlog, cpu_vigie);
    test_sleep_ms(HOG_FROM_MS);
    for (int i = 0; i < HOGS; i++)
        hogs[i] = hog_start(cpu_vigie, HOG_MS);
    for (int i = 0; i < HOGS; i++)
        waitpid(hogs[i], NULL, 0);
    ck_assert_int_eq(test_wait_exit(pid, test_timeout(RUN_S + 30)), 0);
    t_end = now_s();

    all = sink_collect(mark);
    for (size_t i = 0; i < json_array_size(all); i++) {
        json_t *n = json_array_get(all, i), *alerts = json_object_get(n, "alerts");
        json_t *a = json_array_get(alerts, 0);
        const char *status = json_string_value(json_object_get(n, "status"));

        ck_assert_msg(json_array_size(alerts) == 1 &&
                          strcmp(json_string_value(json_object_get(a, "kind")), "overloaded") ==
                              0 &&
                          strcmp(json_string_value(json_object_get(a, "probe")), "vigie") == 0,
                      "notification %zu: %s; log:\n%s", i, json_dumps(n, JSON_COMPACT),
                      test_slurp(errlog, NULL));
        ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(a, "summary")),
                                     "each probe checked one tick in "));
        firing += strcmp(status, "firing") == 0;
        resolved += strcmp(status, "resolved") == 0;
    }
    ck_assert_msg(firing == 1 && resolved == 1, "%zu firing, %zu resolved; log:\n%s", firing,
                  resolved, test_slurp(errlog, NULL));
    json_decref(all);

    st = json_load_file(stats, 0, NULL);
    ck_assert_ptr_nonnull(st);
    fprintf(stderr,
            "faults_overload: %lld checks, %lld flagged, %lld shed, %lld missed, factor up to "
            "%lld, saturated %.1f s, %lld notifications\n",
            (long long)jint(st, "completed"), (long long)jint(st, "flagged"),
            (long long)jint(st, "shed"), (long long)jint(st, "missed"),
            (long long)jint(st, "shed_factor_max"),
            json_real_value(json_object_get(st, "saturated_s")),
            (long long)jint(st, "alert_notifications"));
    ck_assert_int_gt(jint(st, "flagged"), 0);
    ck_assert_int_gt(jint(st, "shed"), 0);
    ck_assert_int_ge(jint(st, "shed_factor_max"), 2);
    ck_assert_int_eq(jint(st, "shed_factor"), 1);
    ck_assert_int_eq(jint(st, "alert_notifications"), 2);
    ck_assert(json_real_value(json_object_get(st, "saturated_s")) > 0.5);
    json_decref(st);

    /* Every procedure 100 % available over the run: what was flagged or shed is not counted. */
    snprintf(rrd, sizeof(rrd), "%s/rrd", dir);
    for (int i = 0; i < NPROBES; i++) {
        struct rrdq_totals t;
        char id[16], err[256];

        snprintf(id, sizeof(id), "p%03d", i);
        ck_assert_msg(
            rrdq_totals(rrd, id, (time_t)t_start - 2, (time_t)t_end + 2, &t, err, sizeof(err)) == 0,
            "%s: %s", id, err);
        ck_assert_msg(t.checks > 0 && t.up == t.checks, "%s: %.0f of %.0f checks up", id, t.up,
                      t.checks);
        checks += t.checks;
        flagged += t.flagged;
        covered += t.covered;
        expected += t.expected;
    }
    fprintf(stderr,
            "faults_overload: RRD files: %.0f checks counted, all up; %.0f flagged; %.1f %% of "
            "the steps known\n",
            checks, flagged, 100.0 * covered / expected);
    ck_assert(flagged > 0);
    ck_assert(covered < expected); /* shed ticks are unknown */
    free(cfg);
    test_rmtree(dir);
    free(dir);
}
END_TEST

Suite *faults_overload_suite(void)
{
    Suite *s = suite_create("faults_overload");
    TCase *tc = tcase_create("overload");

    tcase_add_unchecked_fixture(tc, test_srv_up, test_srv_down);
    tcase_set_timeout(tc, test_timeout(RUN_S + 60));
    tcase_add_test(tc, test_overload_pages_nobody);
    suite_add_tcase(s, tc);
    return s;
}
