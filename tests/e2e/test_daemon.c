/* `vigie run` end to end: the real binary against the loopback test server, its RRD files read
 * back with the real rrdtool. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "srvctl.h"
#include "testutil.h"

/* Writes vigie.yaml (1 s RRD flush, short retention) and one probes file; returns the
 * configuration's path. `probes` is the YAML list of probes; PORT in it is the http port. */
/* The graphs (a forked renderer, slow under the sanitizers) are off but where a test wants them:
 * graphs != NULL is appended to vigie.yaml. */
static char *setup_with(const char *dir, const char *probes, const char *graphs);

static char *setup(const char *dir, const char *probes)
{
    return setup_with(dir, probes, "graphs: {enabled: false}\n");
}

static char *setup_with(const char *dir, const char *probes, const char *graphs)
{
    char conf[1024];

    test_write_probes(dir, probes);
    snprintf(conf, sizeof(conf),
             "probes_dir: probes.d\n"
             "rrd_dir: rrd\n"
             "rrd_flush: 1s\n"
             "rrd_retention: {full: 1h, medium: 1h, hourly: 1d, daily: 1d}\n"
             "drain_timeout: 2s\n"
             "%s",
             graphs);
    return test_write(dir, "vigie.yaml", conf);
}

static json_t *read_stats(const char *path)
{
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);

    ck_assert_msg(o != NULL, "%s: %s", path, je.text);
    return o;
}

static long long jint(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    ck_assert_msg(json_is_integer(v), "stats has no integer %s", key);
    return json_integer_value(v);
}

/* Runs `vigie run -c cfg --duration duration --stats dir/stats.json` to its end, asserts a
 * clean exit, and returns the stats (json_decref them). */
static json_t *run_for_stats(const char *dir, const char *cfg, const char *duration)
{
    char stats[1024], *err = NULL;
    const char *argv[] = {"run", "-c", cfg, "--duration", duration, "--stats", stats, NULL};
    int rc;

    snprintf(stats, sizeof(stats), "%s/stats.json", dir);
    rc = test_vigie(argv, NULL, &err, 30);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    free(err);
    return read_stats(stats);
}

static char *rrd_file(const char *dir, const char *id, const char *suffix)
{
    char buf[1024];

    snprintf(buf, sizeof(buf), "%s/rrd/%s%s", dir, id, suffix);
    return strdup(buf);
}

/* The known values of one data source, in time order. */
static size_t known_values(const char *path, const char *ds, double *out, size_t max)
{
    int64_t now = (int64_t)time(NULL);
    struct series *sr = test_fetch(path, "AVERAGE", 1, now - 120, now + 5);
    size_t c = series_col(sr, ds), n = 0;

    for (size_t i = 0; i < sr->nrows && n < max; i++)
        if (!isnan(sr->v[i * sr->nds + c]))
            out[n++] = sr->v[i * sr->nds + c];
    series_free(sr);
    return n;
}

static double mean(const double *v, size_t n)
{
    double s = 0;

    for (size_t i = 0; i < n; i++)
        s += v[i];
    return n ? s / (double)n : NAN;
}

/* After a short run, the RRD files hold the truth: `up` averages the injected failure ratio,
 * le_* the injected latency mix, the phases the injected delay. Nothing is missed or lost. */
START_TEST(test_records_truth)
{
    char *dir = test_mkdtemp(), *cfg;
    static const int cycle_ok[] = {1, 1, 1, 0};         /* cycle=200,200,200,503 */
    static const int cycle_ms[] = {100, 300, 450, 700}; /* cycle_delay */
    static const struct {
        const char *ds;
        int bound;
    } les[] = {{"le_200", 200}, {"le_400", 400}, {"le_500", 500}, {"le_800", 800}};
    double v[256], w[256];
    size_t n;
    json_t *st;

    cfg = setup(dir, "  - id: flaky\n"
                     "    url: \"http://127.0.0.1:PORT/?cycle=200,200,200,503&t=truth\"\n"
                     "    interval: 1s\n    timeout: 900ms\n"
                     "  - id: mix\n"
                     "    url: \"http://127.0.0.1:PORT/?cycle_delay=100,300,450,700&t=truth\"\n"
                     "    interval: 1s\n    timeout: 900ms\n"
                     "  - id: delayed\n"
                     "    url: \"http://127.0.0.1:PORT/?delay=200&t=truth\"\n"
                     "    interval: 1s\n    timeout: 900ms\n");
    st = run_for_stats(dir, cfg, "7s");
    ck_assert_int_eq(jint(st, "missed"), 0);
    ck_assert_int_eq(jint(st, "flagged"), 0);
    ck_assert_int_ge(jint(st, "completed"), 15);
    ck_assert_int_eq(jint(st, "rrd_written"), jint(st, "completed"));
    ck_assert_int_eq(jint(st, "rrd_dropped"), 0);

    /* flaky: up is 1, 1, 1, 0, 1, 1, 1, 0, ... in request order. */
    {
        char *path = rrd_file(dir, "flaky", ".rrd");
        size_t ok = 0;

        n = known_values(path, "up", v, 256);
        ck_assert_uint_ge(n, 5);
        for (size_t i = 0; i < n; i++) {
            ck_assert_msg(v[i] == cycle_ok[i % 4], "flaky row %zu: up %g", i, v[i]);
            ok += (size_t)cycle_ok[i % 4];
        }
        ck_assert_msg(fabs(mean(v, n) - (double)ok / (double)n) < 1e-9, "up average %.9f",
                      mean(v, n));
        free(path);
    }
    /* mix: each le_B averages the exact fraction of the injected delays under B. */
    {
        char *path = rrd_file(dir, "mix", ".rrd");

        for (size_t l = 0; l < sizeof(les) / sizeof(les[0]); l++) {
            size_t under = 0;

            n = known_values(path, les[l].ds, v, 256);
            ck_assert_uint_ge(n, 5);
            for (size_t i = 0; i < n; i++)
                under += cycle_ms[i % 4] < les[l].bound;
            ck_assert_msg(fabs(mean(v, n) - (double)under / (double)n) < 1e-9,
                          "%s: average %.9f, want %zu/%zu", les[l].ds, mean(v, n), under, n);
        }
        /* total, row by row, close to the injected delay (loopback adds about a millisecond) */
        n = known_values(path, "total", v, 256);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(v[i] >= cycle_ms[i % 4] / 1000.0 &&
                              v[i] < cycle_ms[i % 4] / 1000.0 + 0.015 * test_timeout(1),
                          "mix row %zu: total %.6f s, injected %d ms", i, v[i], cycle_ms[i % 4]);
        free(path);
    }
    /* delayed: the phases file has the first byte at 200 ms, connect and dns well before. */
    {
        char *path = rrd_file(dir, "delayed", ".phases.rrd");

        n = known_values(path, "ttfb", v, 256);
        ck_assert_uint_ge(n, 5);
        ck_assert_uint_eq(known_values(path, "connect", w, 256), n);
        for (size_t i = 0; i < n; i++) {
            ck_assert_msg(v[i] >= 0.200 && v[i] < 0.200 + 0.015 * test_timeout(1), "ttfb %.6f s",
                          v[i]);
            ck_assert_msg(w[i] < 0.010 * test_timeout(1), "connect %.6f s", w[i]);
        }
        free(path);
    }
    json_decref(st);
    free(cfg);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* A target slower than the interval: ticks are missed, not stacked, and written as unknown. */
START_TEST(test_missed_ticks)
{
    char *dir = test_mkdtemp(), *cfg;
    json_t *st;

    cfg = setup(dir, "  - id: stuck\n"
                     "    url: \"http://127.0.0.1:PORT/?delay=1500&t=missed\"\n"
                     "    interval: 1s\n    timeout: 1s\n    slow: 900ms\n"
                     "    connect_timeout: 1s\n");
    st = run_for_stats(dir, cfg, "5s");
    /* Each check lasts the whole interval (it times out at 1 s after starting late by a hair),
     * so about every other tick finds it still running. */
    ck_assert_int_ge(jint(st, "missed"), 1);
    ck_assert_int_ge(jint(st, "completed"), 2);
    ck_assert_int_le(jint(st, "completed") + jint(st, "missed"), 7);
    json_decref(st);
    free(cfg);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* SIGTERM mid-run: clean exit, every check completed is in the files, which rrdtool reads. And
 * the RRD directory made unusable mid-run, then restored: no sample lost. */
START_TEST(test_sigterm_and_unusable_dir)
{
    char *dir = test_mkdtemp(), *cfg, stats[1024], errlog[1024], rrd[1024], aside[1024];
    const char *argv[] = {"run", "-c", NULL, "--stats", stats, NULL};
    const char *ids[] = {"alpha", "beta"};
    double v[256];
    json_t *st;
    pid_t pid;
    int rc;

    cfg = setup(dir, "  - id: alpha\n"
                     "    url: \"http://127.0.0.1:PORT/?t=term\"\n"
                     "    interval: 1s\n    timeout: 900ms\n"
                     "  - id: beta\n"
                     "    url: \"http://127.0.0.1:PORT/?delay=300&t=term\"\n"
                     "    interval: 1s\n    timeout: 900ms\n");
    argv[2] = cfg;
    snprintf(stats, sizeof(stats), "%s/stats.json", dir);
    snprintf(errlog, sizeof(errlog), "%s/stderr.log", dir);
    snprintf(rrd, sizeof(rrd), "%s/rrd", dir);
    snprintf(aside, sizeof(aside), "%s/rrd.aside", dir);
    pid = test_spawn_vigie(argv, errlog);

    /* Let it create its files (their first write: about 2 s here, later on a loaded machine or
     * under a sanitizer), then make the directory unusable for ~3 s: its path becomes a regular
     * file (this fails for root too, unlike chmod). */
    test_sleep_ms(2500);
    for (int waited = 0; waited < test_timeout(20) * 10; waited++) {
        char p[1100];
        bool all = true;

        for (size_t k = 0; k < 4; k++) {
            snprintf(p, sizeof(p), "%s/%s%s", rrd, ids[k / 2], k % 2 ? ".phases.rrd" : ".rrd");
            all = all && access(p, F_OK) == 0;
        }
        if (all)
            break;
        test_sleep_ms(100);
    }
    ck_assert_int_eq(rename(rrd, aside), 0);
    free(test_write(dir, "rrd", "not a directory\n"));
    test_sleep_ms(3000);
    ck_assert_int_eq(unlink(rrd), 0);
    ck_assert_int_eq(rename(aside, rrd), 0);
    test_sleep_ms(1500);
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    rc = test_wait_exit(pid, 20);
    {
        char *log = test_slurp(errlog, NULL);

        ck_assert_msg(rc == 0, "exit %d: %s", rc, log);
        ck_assert_msg(strstr(log, "stopping (SIGTERM)"), "%s", log);
        ck_assert_msg(strstr(log, "update failed"), "the failure is logged: %s", log);
        ck_assert_msg(strstr(log, "written late"), "the recovery is logged: %s", log);
        free(log);
    }
    st = read_stats(stats);
    ck_assert_int_gt(jint(st, "rrd_failures"), 0);
    ck_assert_int_eq(jint(st, "rrd_dropped"), 0);
    ck_assert_int_eq(jint(st, "rrd_written"), jint(st, "completed") + jint(st, "missed"));
    /* Every completed check is a known row in its file. */
    {
        size_t rows = 0;

        for (int i = 0; i < 2; i++) {
            char *path = rrd_file(dir, ids[i], ".rrd");
            char *info = test_rrdinfo(path);

            rows += known_values(path, "valid", v, 256);
            free(info);
            free(path);
            path = rrd_file(dir, ids[i], ".phases.rrd");
            info = test_rrdinfo(path);
            free(info);
            free(path);
        }
        ck_assert_int_eq((long long)rows, jint(st, "completed"));
        ck_assert_int_ge((long long)rows, 12);
    }
    json_decref(st);
    free(cfg);
    test_rmtree(dir);
    free(dir);
}
END_TEST

static uint64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* SIGTERM with writes slower than rrd_close_timeout (the files of 200 probes at 1 s all created
 * at the stop) and one probe whose files refuse every write (directories in their place): the
 * stop takes drain_timeout + rrd_close_timeout and one probe's write at most; every sample not
 * written is in the journal; the next run replays it first, and the files hold every sample of
 * the first run, failed and missed ones included. */
START_TEST(test_sigterm_journal)
{
    enum { NOK = 200, NIDS = NOK + 3 };
    static char ids[NIDS][16], probes[NIDS * 160];
    char *dir = test_mkdtemp(), *cfg, stats[1024], errlog[1024], path[1100], want[1200];
    char *err = NULL;
    const char *argv[] = {"run", "-c", NULL, "--stats", stats, NULL};
    const char *argv2[] = {"run", "-c", NULL, "--duration", "4s", "--stats", stats, NULL};
    long long completed1, missed1, written1, queued1, rows = 0;
    int64_t t_start = (int64_t)time(NULL), t_end;
    uint64_t t0, ms;
    json_t *st;
    pid_t pid;
    size_t n = 0;
    int rc;

    /* (more than test_write_probes takes) */
    n = (size_t)snprintf(probes, sizeof(probes), "group: \"Loopback\"\nprobes:\n");
    for (int i = 0; i < NOK; i++) {
        snprintf(ids[i], sizeof(ids[i]), "p%03d", i);
        n += (size_t)snprintf(probes + n, sizeof(probes) - n,
                              "  - {id: %s, url: \"http://127.0.0.1:%d/?delay=%d&t=jnl\", "
                              "interval: 1s, timeout: 900ms}\n",
                              ids[i], test_srv.http, 20 * (i % 10));
    }
    snprintf(ids[NOK], sizeof(ids[NOK]), "failing");
    snprintf(ids[NOK + 1], sizeof(ids[NOK + 1]), "stuck");
    snprintf(ids[NOK + 2], sizeof(ids[NOK + 2]), "refuse");
    n += (size_t)snprintf(
        probes + n, sizeof(probes) - n,
        "  - {id: failing, url: \"http://127.0.0.1:%d/?status=503&t=jnl\", interval: 1s, "
        "timeout: 900ms}\n"
        "  - {id: stuck, url: \"http://127.0.0.1:%d/?delay=1500&t=jnl\", interval: 1s, "
        "timeout: 1s, connect_timeout: 1s}\n"
        "  - {id: refuse, url: \"http://127.0.0.1:%d/?t=jnl\", interval: 1s, timeout: 900ms}\n",
        test_srv.http, test_srv.http, test_srv.http);
    ck_assert_uint_lt(n, sizeof(probes));
    free(test_write(dir, "probes.d/local.yaml", probes));
    cfg = test_write(dir, "vigie.yaml",
                     "probes_dir: probes.d\nrrd_dir: rrd\nrrd_flush: 1h\n"
                     "rrd_retention: {full: 1d, medium: 1d, hourly: 1d, daily: 1d}\n"
                     "drain_timeout: 2s\nrrd_close_timeout: 100ms\ngraphs: {enabled: false}\n");
    snprintf(path, sizeof(path), "%s/rrd", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof(path), "%s/rrd/refuse%s", dir, k ? ".phases.rrd" : ".rrd");
        ck_assert_int_eq(mkdir(path, 0755), 0);
    }
    argv[2] = argv2[2] = cfg;
    snprintf(stats, sizeof(stats), "%s/stats.json", dir);
    snprintf(errlog, sizeof(errlog), "%s/stderr.log", dir);
    pid = test_spawn_vigie(argv, errlog);
    test_sleep_ms(4500);
    t0 = mono_ms();
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    rc = test_wait_exit(pid, test_timeout(30));
    ms = mono_ms() - t0;
    t_end = (int64_t)time(NULL);
    {
        char *log = test_slurp(errlog, NULL);

        ck_assert_msg(rc == 0, "exit %d: %s", rc, log);
        printf("daemon: SIGTERM with a 100 ms rrd_close_timeout: exited after %llu ms\n",
               (unsigned long long)ms);
        ck_assert_msg(ms < 2000 + 100 + 3000u * (unsigned)test_timeout(1),
                      "stopped after %llu ms: %s", (unsigned long long)ms, log);
        ck_assert_msg(strstr(log, "rrd_close_timeout (100 ms) reached"), "%s", log);
        st = read_stats(stats);
        completed1 = jint(st, "completed");
        missed1 = jint(st, "missed");
        written1 = jint(st, "rrd_written");
        queued1 = jint(st, "rrd_queued");
        json_decref(st);
        ck_assert_int_ge(missed1, 1);
        ck_assert_int_gt(queued1, 0);
        ck_assert_int_eq(written1 + queued1, completed1 + missed1);
        snprintf(want, sizeof(want), "rrd: %lld samples not written kept in %s/rrd/.vigie-journal",
                 queued1, dir);
        ck_assert_msg(strstr(log, want), "want '%s': %s", want, log);
        free(log);
    }

    /* The storage works again; the next run replays the journal first, then stops in time. */
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof(path), "%s/rrd/refuse%s", dir, k ? ".phases.rrd" : ".rrd");
        ck_assert_int_eq(rmdir(path), 0);
    }
    free(test_write(dir, "vigie.yaml",
                    "probes_dir: probes.d\nrrd_dir: rrd\nrrd_flush: 1s\n"
                    "rrd_retention: {full: 1d, medium: 1d, hourly: 1d, daily: 1d}\n"
                    "drain_timeout: 2s\nrrd_close_timeout: 60s\ngraphs: {enabled: false}\n"));
    test_sleep_ms(1500);
    rc = test_vigie(argv2, NULL, &err, test_timeout(60));
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    snprintf(want, sizeof(want), "rrd: %lld samples of ", queued1);
    ck_assert_msg(strstr(err, want) && strstr(err, "replayed from"), "want '%s': %s", want, err);
    ck_assert_msg(strstr(err, "are written: removed"), "%s", err);
    free(err);
    st = read_stats(stats);
    ck_assert_int_eq(jint(st, "rrd_written"), jint(st, "completed") + jint(st, "missed") + queued1);
    ck_assert_int_eq(jint(st, "rrd_queued"), 0);
    ck_assert_int_eq(jint(st, "rrd_stale"), 0);
    json_decref(st);
    snprintf(path, sizeof(path), "%s/rrd/.vigie-journal", dir);
    ck_assert_int_eq(access(path, F_OK), -1);
    /* Every check of the first run is a row (`valid` known: ok or failed) of its window. */
    for (size_t i = 0; i < NIDS; i++) {
        struct series *sr;

        snprintf(path, sizeof(path), "%s/rrd/%.15s.rrd", dir, ids[i]);
        sr = test_fetch(path, "AVERAGE", 1, t_start - 5, t_end + 1);
        rows += (long long)series_known(sr, "valid", t_start - 5, t_end + 1);
        series_free(sr);
    }
    ck_assert_int_eq(rows, completed1);
    free(cfg);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* The systemd protocol through libsystemd, to a real notification socket made by the test and
 * read while vigie runs (as systemd does): READY=1 once running, WATCHDOG=1 at half of
 * WATCHDOG_USEC, STATUS=, STOPPING=1 at the end. */
START_TEST(test_sd_notify)
{
    char *dir = test_mkdtemp(), *cfg, sock_path[256], errlog[512], buf[4096];
    const char *argv[] = {"run", "-c", NULL, "--duration", "2s", NULL};
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd, rc = -1, ready = 0, watchdog = 0, stopping = 0, status = 0, order_ok = 1;
    pid_t pid;

    cfg = setup(dir, "  - id: alpha\n"
                     "    url: \"http://127.0.0.1:PORT/?t=notify\"\n"
                     "    interval: 1s\n    timeout: 900ms\n");
    argv[2] = cfg;
    snprintf(sock_path, sizeof(sock_path), "%s/notify.sock", dir);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%.100s", sock_path);
    snprintf(errlog, sizeof(errlog), "%s/stderr.log", dir);
    fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    setenv("NOTIFY_SOCKET", sock_path, 1);
    setenv("WATCHDOG_USEC", "400000", 1);
    pid = test_spawn_vigie(argv, errlog);
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    for (int i = 0; i < test_timeout(30) * 100; i++) {
        int status_code;
        ssize_t n;

        while ((n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0) {
            buf[n] = '\0';
            ready += strstr(buf, "READY=1") != NULL;
            if (strstr(buf, "WATCHDOG=1")) {
                watchdog++;
                order_ok = order_ok && ready > 0;
            }
            status += strstr(buf, "STATUS=") != NULL;
            stopping += strstr(buf, "STOPPING=1") != NULL;
        }
        if (waitpid(pid, &status_code, WNOHANG) == pid) {
            rc = WIFEXITED(status_code) ? WEXITSTATUS(status_code) : -1;
            break;
        }
        test_sleep_ms(10);
    }
    if (rc < 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    close(fd);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(ready, 1);
    ck_assert_int_eq(stopping, 1);
    ck_assert_int_ge(status, 2);
    /* 2 s at one ping per 200 ms. */
    ck_assert_msg(watchdog >= 5 && watchdog <= 14, "%d watchdog pings", watchdog);
    ck_assert(order_ok);
    free(cfg);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* Under systemd, stderr is the journal (JOURNAL_STREAM): messages go through journald's native
 * protocol with PRIORITY= and, about a probe, VIGIE_PROBE= and VIGIE_GROUP=. The test plays
 * journald: it binds /run/systemd/journal/socket (where libsystemd sends) when this machine has
 * no journald (CI: a fresh container, as root), and reads the datagrams. */
START_TEST(test_journal_fields)
{
    char *dir = test_mkdtemp(), *cfg, errlog[512], js[64], buf[8192];
    const char *argv[] = {"run", "-c", NULL, "--duration", "3s", NULL};
    const char *sock = "/run/systemd/journal/socket";
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd, down = 0, plain = 0, created_dir = 0;
    struct stat st;
    pid_t pid;

    if (access(sock, F_OK) == 0 || geteuid() != 0) {
        fprintf(stderr, "test_journal_fields: skipped (needs root and no journald here)\n");
        test_rmtree(dir);
        free(dir);
        return;
    }
    if (mkdir("/run/systemd", 0755) != 0 && errno != EEXIST)
        ck_abort_msg("mkdir /run/systemd: %s", strerror(errno));
    if (mkdir("/run/systemd/journal", 0755) == 0)
        created_dir = 1;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
    fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);

    cfg = setup(dir, "  - id: gone\n"
                     "    url: \"http://127.0.0.1:1/\"\n"
                     "    interval: 1s\n    timeout: 500ms\n");
    argv[2] = cfg;
    snprintf(errlog, sizeof(errlog), "%s/stderr.log", dir);
    free(test_write(dir, "stderr.log", ""));
    ck_assert_int_eq(stat(errlog, &st), 0);
    snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    setenv("JOURNAL_STREAM", js, 1);
    pid = test_spawn_vigie(argv, errlog);
    unsetenv("JOURNAL_STREAM");
    ck_assert_int_eq(test_wait_exit(pid, test_timeout(30)), 0);
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

        if (n <= 0)
            break;
        buf[n] = '\0';
        if (strstr(buf, "MESSAGE=probe gone: down") && strstr(buf, "\nPRIORITY=5\n") &&
            strstr(buf, "\nVIGIE_PROBE=gone\n") && strstr(buf, "\nVIGIE_GROUP=Loopback\n") &&
            strstr(buf, "\nSYSLOG_IDENTIFIER=vigie\n"))
            down++;
        if (strstr(buf, "MESSAGE=running 1 probes") && !strstr(buf, "VIGIE_PROBE="))
            plain++;
    }
    close(fd);
    unlink(sock);
    if (created_dir)
        rmdir("/run/systemd/journal");
    ck_assert_int_eq(down, 1);
    ck_assert_int_eq(plain, 1);
    /* nothing went to stderr: the journal had it all */
    {
        char *text = test_slurp(errlog, NULL);

        ck_assert_msg(strstr(text, "probe gone: down") == NULL, "%s", text);
        free(text);
    }
    free(cfg);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* The daemon keeps the dashboard: after a short run, graphs/index.html lists every probe with its
 * live state, the page of a failing probe shows its last errors (which the RRD files do not
 * hold), and the criterion report it links to is there. */
START_TEST(test_dashboard_live)
{
    char *dir = test_mkdtemp(), *cfg, path[1024], *page;

    cfg = setup_with(dir,
                     "  - {id: fine, url: \"http://127.0.0.1:PORT/?status=200\", interval: 1s, "
                     "timeout: 900ms}\n"
                     "  - {id: broken, url: \"http://127.0.0.1:PORT/?status=503\", interval: 1s, "
                     "timeout: 900ms}\n",
                     "graphs: {interval: 2s}\n"); /* the dashboard follows each graph pass */
    snprintf(path, sizeof(path), "%ds", test_timeout(9)); /* the renderer is slow under ASan */
    json_decref(run_for_stats(dir, cfg, path));
    snprintf(path, sizeof(path), "%s/graphs/index.html", dir);
    page = test_slurp(path, NULL);
    ck_assert_ptr_nonnull(strstr(page, "probe/fine.html"));
    ck_assert_ptr_nonnull(strstr(page, "probe/broken.html"));
    free(page);
    snprintf(path, sizeof(path), "%s/graphs/probe/broken.html", dir);
    page = test_slurp(path, NULL);
    ck_assert_msg(strstr(page, "http_status") && strstr(page, "503"),
                  "no last error on the page of a failing probe");
    free(page);
    /* the criterion report the dashboard links to */
    snprintf(path, sizeof(path), "%s/graphs/report.html", dir);
    page = test_slurp(path, NULL);
    ck_assert_ptr_nonnull(strstr(page, "broken"));
    free(page);
    /* A restart does not read 3 months of every file again for a report younger than its period
     * (6 h); an older one is written again at the first refresh. */
    for (int old = 0; old <= 1; old++) {
        char secs[32], *out;
        struct timespec ts[2] = {{.tv_sec = time(NULL) - (old ? 7 * 3600 : 60)}};

        free(test_write(dir, "graphs/report.html", "kept"));
        ts[1] = ts[0];
        ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
        /* as long as the first run: the report follows the first graph pass's dashboard */
        snprintf(secs, sizeof(secs), "%ds", test_timeout(9));
        json_decref(run_for_stats(dir, cfg, secs));
        out = test_slurp(path, NULL);
        ck_assert_msg(old ? strstr(out, "broken") != NULL : strcmp(out, "kept") == 0,
                      "%s report.html: %.40s", old ? "7 h old" : "1 min old", out);
        free(out);
    }
    free(cfg);
    test_rmtree(dir);
    free(dir);
}
END_TEST

Suite *daemon_suite(void)
{
    Suite *s = suite_create("daemon");
    TCase *tc = tcase_create("vigie run");

    tcase_add_unchecked_fixture(tc, test_srv_up, test_srv_down);
    tcase_set_timeout(tc, test_timeout(60));
    tcase_add_test(tc, test_records_truth);
    tcase_add_test(tc, test_missed_ticks);
    tcase_add_test(tc, test_sigterm_and_unusable_dir);
    tcase_add_test(tc, test_sigterm_journal);
    tcase_add_test(tc, test_sd_notify);
    tcase_add_test(tc, test_journal_fields);
    tcase_add_test(tc, test_dashboard_live);
    suite_add_tcase(s, tc);
    return s;
}
