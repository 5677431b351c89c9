/* Alerting end to end: `vigie run` against loopback targets, notifications received by real
 * receivers (an exec'd script writing what it gets, the test server's webhook sink).
 *
 * - a group of 40 procedures going down together, then coming back: one notification for the
 *   outage, one for the recovery, while another group stays quiet;
 * - canaries down (vigie's own network gone): one "impaired" notification, no DOWN, and the
 *   samples flagged in the RRD files;
 * - vigie killed with SIGKILL while a notification is pending (its receiver is down): delivered
 *   after the restart, once;
 * - rechecks (alert.recheck): a probe checked every 10 s with confirm 3 pages within seconds of
 *   the outage, not after 30 s, and its RRD file still gets exactly one sample per tick. */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "probe/sched.h"
#include "testutil.h"

/* Files in dir whose name starts with prefix. */
static size_t count_files(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;

    if (!d)
        return 0;
    while ((e = readdir(d)))
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

static size_t count_status(json_t *all, const char *status)
{
    size_t n = 0, i;
    json_t *v;

    json_array_foreach(all, i, v)
    {
        n += strcmp(json_string_value(json_object_get(v, "status")), status) == 0;
    }
    return n;
}

START_TEST(test_group_outage_one_page_one_recovery)
{
    char *dir = test_mkdtemp(), out[600], flag[600], yaml[16384], errlog[700], *cfg, *rx;
    const char *argv[] = {"run", "-c", NULL, "--duration", "18s", NULL};
    json_t *all;
    size_t off;
    pid_t pid;

    snprintf(out, sizeof(out), "%s/out", dir);
    mkdir(out, 0755);
    snprintf(flag, sizeof(flag), "%s/outage-%d", test_srv.dir, (int)getpid());
    rx = test_write_receiver(dir, out);
    snprintf(yaml, sizeof(yaml),
             "receivers:\n  - {name: pager, type: exec, command: [\"%s\"], timeout: 10s}\n"
             "alerting:\n  group_wait: 2s\n"
             "  routes:\n    - {name: oncall, receivers: [pager], repeat: 0s}\n"
             "defaults: {interval: 1s, timeout: 900ms, alert: {confirm: 3, recover: 2}}\n",
             rx);
    cfg = test_write(dir, "vigie.yaml", yaml);
    off = (size_t)snprintf(yaml, sizeof(yaml), "group: \"Ministère A\"\nprobes:\n");
    for (int i = 0; i < 40; i++)
        off +=
            (size_t)snprintf(yaml + off, sizeof(yaml) - off,
                             "  - {id: a%02d, url: \"http://127.0.0.1:%d/?down=outage-%d&i=%d\"}\n",
                             i, test_srv.http, (int)getpid(), i);
    free(test_write(dir, "probes.d/a.yaml", yaml));
    off = (size_t)snprintf(yaml, sizeof(yaml), "group: \"Ministère B\"\nprobes:\n");
    for (int i = 0; i < 10; i++)
        off += (size_t)snprintf(yaml + off, sizeof(yaml) - off,
                                "  - {id: b%02d, url: \"http://127.0.0.1:%d/?i=%d\"}\n", i,
                                test_srv.http, i);
    free(test_write(dir, "probes.d/b.yaml", yaml));

    free(test_write(test_srv.dir, strrchr(flag, '/') + 1, "down\n")); /* the outage is on */
    argv[2] = cfg;
    snprintf(errlog, sizeof(errlog), "%s/vigie.log", dir);
    pid = test_spawn_vigie(argv, errlog);
    test_sleep_ms(9000);
    unlink(flag); /* the outage ends */
    ck_assert_int_eq(test_wait_exit(pid, test_timeout(60)), 0);

    all = test_received(out);
    /* 40 procedures down, then back: one page, one recovery; the other group: nothing */
    ck_assert_msg(json_array_size(all) == 2, "%zu notifications, want 2; log:\n%s",
                  json_array_size(all), test_slurp(errlog, NULL));
    ck_assert_uint_eq(count_status(all, "firing"), 1);
    ck_assert_uint_eq(count_status(all, "resolved"), 1);
    for (size_t i = 0; i < 2; i++) {
        json_t *n = json_array_get(all, i);

        ck_assert_str_eq(json_string_value(json_object_get(n, "group")), "Ministère A");
        ck_assert_uint_eq(json_array_size(json_object_get(n, "alerts")), 40);
    }
    json_decref(all);
    free(rx);
    free(cfg);
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_canaries_down_impaired_not_down)
{
    char *dir = test_mkdtemp(), out[600], yaml[8192], *cfg, *rx, *fetch = NULL, rrd[700];
    size_t off, flagged = 0;
    json_t *all, *alerts;

    snprintf(out, sizeof(out), "%s/out", dir);
    mkdir(out, 0755);
    rx = test_write_receiver(dir, out);
    snprintf(yaml, sizeof(yaml),
             "receivers:\n  - {name: pager, type: exec, command: [\"%s\"]}\n"
             "alerting:\n  group_wait: 1s\n  canaries: [canary1, canary2]\n"
             "  routes:\n    - {name: oncall, receivers: [pager]}\n"
             "defaults: {interval: 1s, timeout: 900ms}\n",
             rx);
    cfg = test_write(dir, "vigie.yaml", yaml);
    /* everything, canaries included, refused: vigie cannot reach anything */
    off = (size_t)snprintf(yaml, sizeof(yaml),
                           "group: G\nprobes:\n"
                           "  - {id: canary1, url: \"http://127.0.0.1:%d/c1\"}\n"
                           "  - {id: canary2, url: \"http://127.0.0.1:%d/c2\"}\n",
                           test_srv.refused, test_srv.refused);
    for (int i = 0; i < 8; i++)
        off += (size_t)snprintf(yaml + off, sizeof(yaml) - off,
                                "  - {id: p%d, url: \"http://127.0.0.1:%d/?i=%d\"}\n", i,
                                test_srv.refused, i);
    free(test_write(dir, "probes.d/g.yaml", yaml));
    ck_assert_int_eq(test_vigie((const char *const[]){"run", "-c", cfg, "--duration", "8s", NULL},
                                NULL, NULL, test_timeout(60)),
                     0);
    all = test_received(out);
    ck_assert_uint_eq(json_array_size(all), 1);
    alerts = json_object_get(json_array_get(all, 0), "alerts");
    ck_assert_uint_eq(json_array_size(alerts), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(alerts, 0), "kind")),
                     "impaired");
    json_decref(all);

    /* the samples taken while impaired are flagged: valid = 0 */
    snprintf(rrd, sizeof(rrd), "%s/rrd/p3.rrd", dir);
    ck_assert_int_eq(RRDTOOL(&fetch, "fetch", rrd, "AVERAGE", "-s", "-60"), 0);
    for (char *l = fetch; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        double up, valid;

        if (l[0] >= '0' && l[0] <= '9' && sscanf(l, "%*d: %lf %lf", &up, &valid) == 2 && valid == 0)
            flagged++;
    }
    ck_assert_uint_ge(flagged, 4);
    free(fetch);
    free(rx);
    free(cfg);
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_sigkill_with_pending_notification)
{
    char *dir = test_mkdtemp(), yaml[4096], errlog[700], flag[600], *cfg, *req;
    char sink[64];
    const char *argv[] = {"run", "-c", NULL, NULL};
    size_t before;
    pid_t pid;
    int status;

    snprintf(sink, sizeof(sink), "rx-%d", (int)getpid());
    snprintf(flag, sizeof(flag), "%s/%s", test_srv.dir, sink);
    free(test_write(test_srv.dir, sink, "down\n")); /* the receiver answers 503 */
    snprintf(yaml, sizeof(yaml),
             "receivers:\n  - {name: hook, type: webhook, url: "
             "\"http://127.0.0.1:%d/sink?down=%s\", timeout: 2s}\n"
             "alerting:\n  group_wait: 0s\n"
             "  routes:\n    - {name: oncall, receivers: [hook]}\n"
             "defaults: {interval: 1s, timeout: 900ms, alert: {confirm: 1}}\n",
             test_srv.http, sink);
    cfg = test_write(dir, "vigie.yaml", yaml);
    snprintf(yaml, sizeof(yaml),
             "group: G\nprobes:\n  - {id: gone-%d, url: \"http://127.0.0.1:%d/\"}\n", (int)getpid(),
             test_srv.refused);
    free(test_write(dir, "probes.d/g.yaml", yaml));
    before = count_files(test_srv.dir, "sink-");

    argv[2] = cfg;
    snprintf(errlog, sizeof(errlog), "%s/vigie1.log", dir);
    pid = test_spawn_vigie(argv, errlog);
    test_sleep_ms(6000); /* DOWN, handed to notify, spooled, delivery failing */
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    ck_assert_uint_ge(count_files(dir, "state"), 1);
    ck_assert_uint_eq(count_files(test_srv.dir, "sink-"), before);

    unlink(flag); /* the receiver is back */
    ck_assert_int_eq(test_vigie((const char *const[]){"run", "-c", cfg, "--duration", "5s", NULL},
                                NULL, NULL, test_timeout(60)),
                     0);
    /* delivered once: the spooled notification, and no new page for the alert already sent */
    ck_assert_msg(count_files(test_srv.dir, "sink-") == before + 1,
                  "%zu deliveries; first log:\n%s", count_files(test_srv.dir, "sink-") - before,
                  test_slurp(errlog, NULL));
    {
        char path[700];

        snprintf(path, sizeof(path), "%s/sink-%zu.req", test_srv.dir, before + 1);
        req = test_slurp(path, NULL);
        ck_assert_ptr_nonnull(strstr(req, "\"kind\": \"down\"") ? req : strstr(req, "\"down\""));
        ck_assert_ptr_nonnull(strstr(req, "gone-"));
        free(req);
    }
    free(cfg);
    test_rmtree(dir);
    free(dir);
}
END_TEST

static int64_t wall_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The first instant ≡ off (mod iv) at or after t: when the scheduler ticks a probe. */
static int64_t next_tick(int64_t t, int64_t off, int64_t iv)
{
    int64_t k = t - t % iv + off;

    return k < t ? k + iv : k;
}

/* Ticks in [from, to). */
static int64_t ticks_in(int64_t from, int64_t to, int64_t off, int64_t iv)
{
    int64_t n = 0;

    for (int64_t k = next_tick(from, off, iv); k < to; k += iv)
        n++;
    return n;
}

/* A webhook delivery to `path` with this status, or NULL (the caller frees it). */
static char *sink_find(const char *path, const char *status)
{
    DIR *d = opendir(test_srv.dir);
    struct dirent *e;
    char *found = NULL, want[80];

    snprintf(want, sizeof(want), "\"%s\"", status);
    ck_assert_ptr_nonnull(d);
    while (!found && (e = readdir(d))) {
        char file[700];
        char *req;

        if (strncmp(e->d_name, "sink-", 5) != 0)
            continue;
        snprintf(file, sizeof(file), "%s/%s", test_srv.dir, e->d_name);
        req = test_slurp(file, NULL);
        if (strstr(req, path) && strstr(req, want))
            found = req;
        else
            free(req);
    }
    closedir(d);
    return found;
}

/* Polls for the delivery for up to timeout_ms; returns the wall time it was seen, or -1. */
static int64_t sink_wait(const char *path, const char *status, int64_t timeout_ms, char **req)
{
    int64_t end = wall_now_ms() + timeout_ms;

    while (wall_now_ms() < end) {
        char *got = sink_find(path, status);

        if (got) {
            if (req)
                *req = got;
            else
                free(got);
            return wall_now_ms();
        }
        test_sleep_ms(20);
    }
    return -1;
}

START_TEST(test_recheck_pages_fast_one_sample_per_tick)
{
    char *dir = test_mkdtemp(), yaml[4096], errlog[700], stats[700], flag[600], id[64];
    char sink[80], *cfg, *req = NULL;
    const char *argv[] = {"run", "-c", NULL, "--stats", NULL, NULL};
    const int64_t iv = 10000;
    int64_t off, t_spawn, t_tick, t_out, t_fire, t_back, t_res, t_stop;
    json_t *st;
    long long completed, rechecks, promoted, written, missed, lo, hi;
    pid_t pid;

    snprintf(id, sizeof(id), "rc-%d", (int)getpid());
    snprintf(sink, sizeof(sink), "/sink/%s", id);
    snprintf(flag, sizeof(flag), "%s/out-%s", test_srv.dir, id);
    snprintf(
        yaml, sizeof(yaml),
        "receivers:\n  - {name: hook, type: webhook, url: \"http://127.0.0.1:%d%s\", "
        "timeout: 2s}\n"
        "alerting:\n  group_wait: 0s\n"
        "  routes:\n    - {name: oncall, receivers: [hook], repeat: 0s}\n"
        "graphs: {enabled: false}\n"
        "defaults: {interval: 10s, timeout: 2s, alert: {confirm: 3, recover: 2, recheck: 1s}}\n",
        test_srv.http, sink);
    cfg = test_write(dir, "vigie.yaml", yaml);
    snprintf(yaml, sizeof(yaml),
             "group: G\nprobes:\n  - {id: %s, url: \"http://127.0.0.1:%d/?down=out-%s\"}\n", id,
             test_srv.http, id);
    free(test_write(dir, "probes.d/g.yaml", yaml));
    off = (int64_t)sched_offset_ms(id, (uint64_t)iv);

    argv[2] = cfg;
    snprintf(stats, sizeof(stats), "%s/stats.json", dir);
    argv[4] = stats;
    snprintf(errlog, sizeof(errlog), "%s/vigie.log", dir);
    t_spawn = wall_now_ms();
    pid = test_spawn_vigie(argv, errlog);
    /* The outage starts 400 ms before a tick at least 2.5 s away (vigie is up by then). */
    t_tick = next_tick(t_spawn + 2500, off, iv);
    test_sleep_ms((long)(t_tick - 400 - wall_now_ms()));
    free(test_write(test_srv.dir, strrchr(flag, '/') + 1, "down\n"));
    t_out = wall_now_ms();
    /* the tick fails, two rechecks 1 s apart confirm: paged in ~2.5 s (+ the 1 s alert tick),
     * where 3 ticks would take 20 to 30 s */
    t_fire = sink_wait(sink, "firing", 15000 * (int64_t)test_timeout(1), &req);
    ck_assert_msg(t_fire > 0, "no page; log:\n%s", test_slurp(errlog, NULL));
    fprintf(stderr, "recheck: paged %lld ms after the outage began\n", (long long)(t_fire - t_out));
    ck_assert_msg(t_fire - t_out <= 4000 + 1000 * (int64_t)test_timeout(1),
                  "paged %lld ms after the outage", (long long)(t_fire - t_out));
    ck_assert_ptr_nonnull(strstr(req, "3 failed checks in a row"));
    free(req);
    unlink(flag); /* the outage ends: the next tick succeeds, a recheck 1 s later confirms */
    t_back = wall_now_ms();
    t_res = sink_wait(sink, "resolved", 15000 * (int64_t)test_timeout(1), NULL);
    ck_assert_msg(t_res > 0, "no recovery; log:\n%s", test_slurp(errlog, NULL));
    fprintf(stderr, "recheck: recovered %lld ms after the outage ended (next tick %lld ms)\n",
            (long long)(t_res - t_back), (long long)(next_tick(t_back, off, iv) - t_back));
    ck_assert_msg(t_res <= next_tick(t_back, off, iv) + 2500 * (int64_t)test_timeout(1),
                  "resolved %lld ms after the next tick",
                  (long long)(t_res - next_tick(t_back, off, iv)));
    kill(pid, SIGTERM);
    t_stop = wall_now_ms();
    ck_assert_int_eq(test_wait_exit(pid, test_timeout(60)), 0);

    /* One RRD sample per tick: rechecks are not written. */
    st = json_load_file(stats, 0, NULL);
    ck_assert_ptr_nonnull(st);
    completed = json_integer_value(json_object_get(st, "completed"));
    rechecks = json_integer_value(json_object_get(st, "rechecks"));
    promoted = json_integer_value(json_object_get(st, "rechecks_promoted"));
    written = json_integer_value(json_object_get(st, "rrd_written"));
    missed = json_integer_value(json_object_get(st, "missed"));
    json_decref(st);
    fprintf(stderr, "recheck: %lld checks, %lld rechecks (%lld promoted), %lld RRD samples\n",
            completed, rechecks, promoted, written);
    ck_assert_int_ge(rechecks, 3); /* 2 confirming the failure, 1 the recovery */
    ck_assert_int_eq(missed, 0);
    ck_assert_int_eq(written, completed - rechecks + promoted);
    lo = ticks_in(t_spawn + 1000, t_stop, off, iv);
    hi = ticks_in(t_spawn, t_stop + 1000, off, iv);
    ck_assert_msg(written >= lo && written <= hi, "%lld samples for %lld..%lld ticks", written, lo,
                  hi);
    {
        /* Each tick's sample fills its own 10 s row (rrdw writes at the step boundary): as many
         * known rows as samples, each exactly up (1) or down (0), the failure among them. */
        char rrd[700];
        struct series *sr;
        int64_t from = t_spawn / 1000 - 20, to = t_stop / 1000 + 20;
        size_t known, downs = 0;

        snprintf(rrd, sizeof(rrd), "%s/rrd/%s.rrd", dir, id);
        sr = test_fetch(rrd, "AVERAGE", 10, from, to);
        known = series_known(sr, "up", from, to);
        ck_assert_int_eq((long long)known, written);
        for (size_t k = 0; k < sr->nrows; k++) {
            double up = sr->v[k * sr->nds + series_col(sr, "up")];

            if (isnan(up))
                continue;
            ck_assert_msg(up == 0 || up == 1, "row %lld: up %g", (long long)sr->t[k], up);
            downs += up == 0;
        }
        ck_assert_uint_eq(downs, 1);
        series_free(sr);
    }
    free(cfg);
    test_rmtree(dir);
    free(dir);
}
END_TEST

Suite *alerting_suite(void)
{
    Suite *s = suite_create("alerting");
    TCase *tc = tcase_create("alerting");
    TCase *rc = tcase_create("recheck");

    tcase_add_unchecked_fixture(tc, test_srv_up, test_srv_down);
    tcase_set_timeout(tc, test_timeout(120));
    tcase_add_test(tc, test_group_outage_one_page_one_recovery);
    tcase_add_test(tc, test_canaries_down_impaired_not_down);
    tcase_add_test(tc, test_sigkill_with_pending_notification);
    suite_add_tcase(s, tc);
    tcase_add_unchecked_fixture(rc, test_srv_up, test_srv_down);
    tcase_set_timeout(rc, test_timeout(120));
    tcase_add_test(rc, test_recheck_pages_fast_one_sample_per_tick);
    suite_add_tcase(s, rc);
    return s;
}
