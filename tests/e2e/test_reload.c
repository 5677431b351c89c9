/* `vigie run` reloading its configuration on SIGHUP: the real binary against the loopback test
 * server, the notify protocol read from a test-owned NOTIFY_SOCKET, the RRD files read back with
 * the real rrdtool. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
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

static char *write_config(const char *dir)
{
    return test_write(dir, "vigie.yaml",
                      "probes_dir: probes.d\n"
                      "rrd_dir: rrd\n"
                      "rrd_flush: 1s\n"
                      "rrd_retention: {full: 1h, medium: 1h, hourly: 1d, daily: 1d}\n"
                      "drain_timeout: 2s\n"
                      "graphs: {enabled: false}\n");
}

#define PROBE(id, q)                                                                               \
    "  - id: " id "\n    url: \"http://127.0.0.1:PORT/?" q "\"\n    interval: 1s\n"                \
    "    timeout: 900ms\n"

/* The notify socket and what came through it, in order, one letter per message of interest:
 * R READY, L RELOADING (with MONOTONIC_USEC), S STOPPING, F the STATUS= sent with READY saying
 * that the reload failed. */
struct nsock {
    int fd;
    char path[256];
    char seq[4096];
    size_t n;
    int bad_reloading; /* RELOADING=1 without MONOTONIC_USEC */
};

static void nsock_open(struct nsock *ns, const char *dir)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    memset(ns, 0, sizeof(*ns));
    snprintf(ns->path, sizeof(ns->path), "%s/notify.sock", dir);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%.100s", ns->path);
    ns->fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    ck_assert_int_ge(ns->fd, 0);
    ck_assert_int_eq(bind(ns->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
}

static void nsock_poll(struct nsock *ns)
{
    char buf[4096];
    ssize_t n;

    while ((n = recv(ns->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0) {
        buf[n] = '\0';
        if (ns->n + 4 >= sizeof(ns->seq))
            continue;
        if (strstr(buf, "RELOADING=1")) {
            ns->seq[ns->n++] = 'L';
            ns->bad_reloading += strstr(buf, "MONOTONIC_USEC=") == NULL;
        }
        if (strstr(buf, "READY=1"))
            ns->seq[ns->n++] = 'R';
        if (strstr(buf, "READY=1") && strstr(buf, "STATUS=") && strstr(buf, "reload failed"))
            ns->seq[ns->n++] = 'F';
        if (strstr(buf, "STOPPING=1"))
            ns->seq[ns->n++] = 'S';
        ns->seq[ns->n] = '\0';
    }
}

/* Polls the socket for `ms` milliseconds. */
static void nsock_wait(struct nsock *ns, long ms)
{
    for (long t = 0; t < ms; t += 10) {
        nsock_poll(ns);
        test_sleep_ms(10);
    }
    nsock_poll(ns);
}

static pid_t spawn_run(const char *cfg, const char *errlog, struct nsock *ns, const char *stats)
{
    const char *argv[] = {"run", "-c", cfg, "--stats", stats, NULL};
    pid_t pid;

    setenv("NOTIFY_SOCKET", ns->path, 1);
    pid = test_spawn_vigie(argv, errlog);
    unsetenv("NOTIFY_SOCKET");
    return pid;
}

/* Waits for the exit while reading the socket; returns the exit status (-1: killed). */
static int wait_exit(pid_t pid, struct nsock *ns)
{
    for (int i = 0; i < test_timeout(30) * 100; i++) {
        int st;

        nsock_poll(ns);
        if (waitpid(pid, &st, WNOHANG) == pid) {
            nsock_poll(ns);
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        }
        test_sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

/* The timestamps where probe id's criterion file holds a sample, in [from, to]: `valid` is known
 * for every check written (1 counted, 0 flagged because vigie was saturated), unknown for a
 * missed tick or no sample at all. */
static size_t known_times(const char *dir, const char *id, int64_t from, int64_t to, int64_t *out,
                          size_t max)
{
    char path[1024];
    struct series *sr;
    size_t c, n = 0;

    snprintf(path, sizeof(path), "%s/rrd/%s.rrd", dir, id);
    sr = test_fetch(path, "AVERAGE", 1, from, to);
    c = series_col(sr, "valid");
    for (size_t i = 0; i < sr->nrows && n < max; i++)
        if (!isnan(sr->v[i * sr->nds + c]) && sr->t[i] >= from && sr->t[i] <= to)
            out[n++] = sr->t[i];
    series_free(sr);
    return n;
}

/* Every step from the first known sample to the last is known: no gap. Returns the count. */
static size_t assert_no_gap(const char *dir, const char *id, int64_t from, int64_t to)
{
    int64_t t[512];
    size_t n = known_times(dir, id, from, to, t, 512);

    ck_assert_msg(n >= 2, "probe %s: %zu samples", id, n);
    for (size_t i = 1; i < n; i++)
        ck_assert_msg(t[i] == t[i - 1] + 1, "probe %s: gap between %lld and %lld", id,
                      (long long)t[i - 1], (long long)t[i]);
    return n;
}

static json_t *read_json(const char *path)
{
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);

    ck_assert_msg(o != NULL, "%s: %s", path, je.text);
    return o;
}

/* A valid change applies: the unchanged probe keeps every step, the added one starts, the removed
 * one stops and keeps its files; then an invalid change is refused with file:line:col and the
 * running set goes on. The notify protocol says RELOADING (with MONOTONIC_USEC) and READY around
 * each, and STATUS= says when a reload failed. */
START_TEST(test_reload_valid_then_invalid)
{
    char *dir = test_mkdtemp(), *cfg, errlog[512], stats[512], *log, *bad;
    struct nsock ns;
    int64_t t0, t1, t2, t3, tt[64];
    json_t *st;
    pid_t pid;

    test_write_probes(dir, PROBE("alpha", "t=reload-a") PROBE("beta", "t=reload-b"));
    cfg = write_config(dir);
    snprintf(errlog, sizeof(errlog), "%s/stderr.log", dir);
    snprintf(stats, sizeof(stats), "%s/stats.json", dir);
    nsock_open(&ns, dir);
    t0 = (int64_t)time(NULL);
    pid = spawn_run(cfg, errlog, &ns, stats);
    nsock_wait(&ns, 3500);

    /* alpha stays (renamed), beta goes, gamma comes */
    test_write_probes(dir, "  - id: alpha\n    name: \"Alpha renamed\"\n"
                           "    url: \"http://127.0.0.1:PORT/?t=reload-a\"\n    interval: 1s\n"
                           "    timeout: 900ms\n" PROBE("gamma", "t=reload-g"));
    t1 = (int64_t)time(NULL);
    ck_assert_int_eq(kill(pid, SIGHUP), 0);
    nsock_wait(&ns, 3500);

    /* line 13, column 15: a duration that is not one */
    test_write_probes(
        dir, PROBE("alpha", "t=reload-a")
                 PROBE("gamma", "t=reload-g") "  - id: delta\n    url: "
                                              "\"http://127.0.0.1:PORT/\"\n    interval: soon\n");
    t2 = (int64_t)time(NULL);
    ck_assert_int_eq(kill(pid, SIGHUP), 0);
    nsock_wait(&ns, 3000);
    t3 = (int64_t)time(NULL);
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    ck_assert_int_eq(wait_exit(pid, &ns), 0);
    close(ns.fd);

    log = test_slurp(errlog, NULL);
    ck_assert_msg(strcmp(ns.seq, "RLRLRFS") == 0, "notify sequence %s", ns.seq);
    ck_assert_int_eq(ns.bad_reloading, 0);
    ck_assert_msg(strstr(log, "configuration reloaded: 2 probes (1 kept, 1 added, 1 removed)"),
                  "%s", log);
    /* the invalid file is named with line and column, and the old set stays */
    bad = strstr(log, "probes.d/local.yaml:");
    ck_assert_msg(bad && strstr(log, "reload failed") &&
                      strstr(log, "still running the previous configuration"),
                  "%s", log);
    ck_assert_msg(strstr(log, "local.yaml:13:15: "), "%s", log);
    ck_assert_ptr_null(strstr(log, "delta"));

    /* alpha: every second from its first sample to its last, through both reloads */
    ck_assert_uint_ge(assert_no_gap(dir, "alpha", t0, t3 + 2), (size_t)(t3 - t0 - 3));
    /* gamma: from the first reload on, without a gap, also after the refused one */
    ck_assert_uint_ge(assert_no_gap(dir, "gamma", t1, t3 + 2), (size_t)(t3 - t1 - 3));
    ck_assert_uint_ge(known_times(dir, "gamma", t2 + 1, t3 + 2, tt, 64), 1);
    ck_assert_uint_eq(known_times(dir, "gamma", t0, t1 - 1, tt, 64), 0);
    /* beta: its file stays, nothing new after the reload took it away */
    ck_assert_uint_ge(known_times(dir, "beta", t0, t1, tt, 64), 2);
    ck_assert_uint_eq(known_times(dir, "beta", t1 + 2, t3 + 2, tt, 64), 0);

    st = read_json(stats);
    ck_assert_int_eq(json_integer_value(json_object_get(st, "missed")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(st, "rrd_dropped")), 0);
    json_decref(st);
    free(log);
    free(cfg);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* 100 SIGHUPs in a second: reloads are coalesced (one at a time, one more for the signals that
 * came meanwhile), every RELOADING is answered by a READY, no tick is missed, no step lost. */
START_TEST(test_reload_storm)
{
    char *dir = test_mkdtemp(), *cfg, errlog[512], stats[512], *log, *p;
    struct nsock ns;
    int64_t t0, t1;
    size_t reloads = 0, l = 0, r = 0;
    json_t *st;
    pid_t pid;

    test_write_probes(dir, PROBE("p1", "t=storm1") PROBE("p2", "t=storm2") PROBE("p3", "t=storm3")
                               PROBE("p4", "delay=50") PROBE("p5", "t=storm5"));
    cfg = write_config(dir);
    snprintf(errlog, sizeof(errlog), "%s/stderr.log", dir);
    snprintf(stats, sizeof(stats), "%s/stats.json", dir);
    nsock_open(&ns, dir);
    t0 = (int64_t)time(NULL);
    pid = spawn_run(cfg, errlog, &ns, stats);
    nsock_wait(&ns, 2500);
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(kill(pid, SIGHUP), 0);
        nsock_wait(&ns, 10);
    }
    nsock_wait(&ns, 3000);
    t1 = (int64_t)time(NULL);
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    ck_assert_int_eq(wait_exit(pid, &ns), 0);
    close(ns.fd);

    log = test_slurp(errlog, NULL);
    for (p = log; (p = strstr(p, "configuration reloaded")) != NULL; p++)
        reloads++;
    for (size_t i = 0; i < ns.n; i++) {
        l += ns.seq[i] == 'L';
        r += ns.seq[i] == 'R';
    }
    st = read_json(stats);
    fprintf(stderr, "reload storm: %zu reloads for 100 SIGHUPs, %lld samples flagged\n", reloads,
            (long long)json_integer_value(json_object_get(st, "flagged")));
    json_decref(st);
    ck_assert_msg(reloads >= 2 && reloads <= 100, "%zu reloads", reloads);
    ck_assert_msg(l == reloads && r == reloads + 1, "sequence %s, %zu reloads", ns.seq, reloads);
    ck_assert_int_eq(ns.bad_reloading, 0);
    for (int i = 1; i <= 5; i++) {
        char id[16];

        snprintf(id, sizeof(id), "p%d", i);
        ck_assert_uint_ge(assert_no_gap(dir, id, t0, t1 + 2), (size_t)(t1 - t0 - 3));
    }
    st = read_json(stats);
    ck_assert_int_eq(json_integer_value(json_object_get(st, "missed")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(st, "rrd_dropped")), 0);
    json_decref(st);
    free(log);
    free(cfg);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* Of the notifications kept in out/: how many with this status, and the alerts they carried. */
static size_t count_received(const char *out, const char *status, size_t *alerts)
{
    json_t *all = test_received(out), *j;
    size_t n = 0, i;

    *alerts = 0;
    json_array_foreach(all, i, j)
    {
        if (strcmp(json_string_value(json_object_get(j, "status")), status) == 0) {
            n++;
            *alerts += json_array_size(json_object_get(j, "alerts"));
        }
    }
    json_decref(all);
    return n;
}

/* Alert state survives a reload: three procedures down are paged once; a reload (which adds a
 * probe) pages nobody again; their recovery is sent once. */
START_TEST(test_reload_keeps_alerts)
{
    char *dir = test_mkdtemp(), out[600], flag[600], yaml[4096], errlog[600], stats[600], *cfg;
    char *rx, *log;
    struct nsock ns;
    size_t alerts;
    pid_t pid;

    snprintf(out, sizeof(out), "%s/out", dir);
    mkdir(out, 0755);
    rx = test_write_receiver(dir, out);
    snprintf(yaml, sizeof(yaml),
             "probes_dir: probes.d\nrrd_dir: rrd\nrrd_flush: 1s\n"
             "rrd_retention: {full: 1h, medium: 1h, hourly: 1d, daily: 1d}\n"
             "graphs: {enabled: false}\n"
             "receivers:\n  - {name: pager, type: exec, command: [\"%s\"], timeout: 10s}\n"
             "alerting:\n  group_wait: 1s\n"
             "  routes:\n    - {name: oncall, receivers: [pager], repeat: 0s}\n"
             "defaults: {interval: 1s, timeout: 900ms, alert: {confirm: 2, recover: 2}}\n",
             rx);
    cfg = test_write(dir, "vigie.yaml", yaml);
    snprintf(flag, sizeof(flag), "%s/reload-outage-%d", test_srv.dir, (int)getpid());
    snprintf(yaml, sizeof(yaml),
             "group: \"Ministère R\"\nprobes:\n"
             "  - {id: r1, url: \"http://127.0.0.1:%d/?down=reload-outage-%d&i=1\"}\n"
             "  - {id: r2, url: \"http://127.0.0.1:%d/?down=reload-outage-%d&i=2\"}\n"
             "  - {id: r3, url: \"http://127.0.0.1:%d/?down=reload-outage-%d&i=3\"}\n",
             test_srv.http, (int)getpid(), test_srv.http, (int)getpid(), test_srv.http,
             (int)getpid());
    free(test_write(dir, "probes.d/r.yaml", yaml));
    free(test_write(test_srv.dir, strrchr(flag, '/') + 1, "down\n"));
    snprintf(errlog, sizeof(errlog), "%s/stderr.log", dir);
    snprintf(stats, sizeof(stats), "%s/stats.json", dir);
    nsock_open(&ns, dir);
    pid = spawn_run(cfg, errlog, &ns, stats);
    nsock_wait(&ns, 5000); /* confirmed after 2 checks, sent after group_wait */
    ck_assert_uint_eq(count_received(out, "firing", &alerts), 1);

    free(test_write(dir, "probes.d/more.yaml",
                    "group: \"Ministère S\"\nprobes:\n  - {id: s1, url: \"http://127.0.0.1:1/\", "
                    "alert: {enabled: false}}\n"));
    ck_assert_int_eq(kill(pid, SIGHUP), 0);
    nsock_wait(&ns, 3000);
    unlink(flag); /* the outage ends */
    nsock_wait(&ns, 5000);
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    ck_assert_int_eq(wait_exit(pid, &ns), 0);
    close(ns.fd);

    log = test_slurp(errlog, NULL);
    ck_assert_msg(strstr(log, "configuration reloaded: 4 probes (3 kept, 1 added, 0 removed)"),
                  "%s", log);
    ck_assert_msg(count_received(out, "firing", &alerts) == 1 && alerts == 3, "%s", log);
    ck_assert_msg(count_received(out, "resolved", &alerts) == 1 && alerts == 3, "%s", log);
    free(log);
    free(rx);
    free(cfg);
    test_rmtree(dir);
    free(dir);
}
END_TEST

Suite *reload_suite(void)
{
    Suite *s = suite_create("reload");
    TCase *tc = tcase_create("reload");

    tcase_add_checked_fixture(tc, test_srv_up, test_srv_down);
    tcase_set_timeout(tc, test_timeout(60));
    tcase_add_test(tc, test_reload_valid_then_invalid);
    tcase_add_test(tc, test_reload_storm);
    tcase_add_test(tc, test_reload_keeps_alerts);
    suite_add_tcase(s, tc);
    return s;
}
