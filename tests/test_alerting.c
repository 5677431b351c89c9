/* Alerting end to end: `vigie run` against loopback targets, notifications received by real
 * receivers (an exec'd script writing what it gets, the test server's webhook sink).
 *
 * - a group of 40 procedures going down together, then coming back: one notification for the
 *   outage, one for the recovery, while another group stays quiet;
 * - canaries down (vigie's own network gone): one "impaired" notification, no DOWN, and the
 *   samples flagged in the RRD files;
 * - vigie killed with SIGKILL while a notification is pending (its receiver is down): delivered
 *   after the restart, once. */
#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

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

/* The notifications the exec receiver wrote into out/ (each "n-<id>.json"), in an array. */
static json_t *received(const char *out)
{
    json_t *all = json_array();
    DIR *d = opendir(out);
    struct dirent *e;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d))) {
        char path[1200];
        json_t *n;

        if (strncmp(e->d_name, "n-", 2) != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", out, e->d_name);
        n = json_load_file(path, 0, NULL);
        ck_assert_msg(n != NULL, "%s is not JSON", path);
        json_array_append_new(all, n);
    }
    closedir(d);
    return all;
}

/* An exec receiver: a script that keeps its stdin as out/n-$VIGIE_ID.json. */
static char *write_receiver(const char *dir, const char *out)
{
    char script[1200], *path;

    snprintf(script, sizeof(script),
             "#!/bin/sh\nset -e\ncat > \"%s/.tmp-$VIGIE_ID\"\nmv \"%s/.tmp-$VIGIE_ID\" "
             "\"%s/n-$VIGIE_ID.json\"\n",
             out, out, out);
    path = test_write(dir, "receiver.sh", script);
    ck_assert_int_eq(chmod(path, 0755), 0);
    return path;
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
    rx = write_receiver(dir, out);
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

    all = received(out);
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
    rx = write_receiver(dir, out);
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
    all = received(out);
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

Suite *alerting_suite(void)
{
    Suite *s = suite_create("alerting");
    TCase *tc = tcase_create("alerting");

    tcase_add_unchecked_fixture(tc, test_srv_up, test_srv_down);
    tcase_set_timeout(tc, test_timeout(120));
    tcase_add_test(tc, test_group_outage_one_page_one_recovery);
    tcase_add_test(tc, test_canaries_down_impaired_not_down);
    tcase_add_test(tc, test_sigkill_with_pending_notification);
    suite_add_tcase(s, tc);
    return s;
}
