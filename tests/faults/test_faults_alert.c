/* Fault suite (`make faults`): notification receivers unreachable for 2 minutes while procedures
 * go down and come back, then reachable again. The real daemon, real receivers on loopback: the
 * test server's webhook sink (a second testsrv, tests/harness/testsrv/, bound to a fixed port,
 * stopped: the port refuses connections) and a real Alertmanager (stopped and started again on its
 * port).
 *
 * What must hold (docs/ALERTING.md, "Never lost"): every notification arrives once the receiver
 * is back, in order for each alert (a resolution never before its firing), none lost; a
 * notification may only arrive twice with the same id (at least once). The delay between the
 * receiver's return and the deliveries depends on the backoff cap (`backoff_max`): it is
 * measured and printed, and bounded here by the default cap. */
#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

Suite *faults_alert_suite(void);

#define AM_BIN TEST_ALERTMANAGER
#define DOWN_MS 120000       /* how long the receivers are unreachable */
#define BACKOFF_MAX_MS 30000 /* the default backoff_max (docs/CONFIG.md) */

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void am_stop(pid_t pid)
{
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

/* Whether Alertmanager lists an active `down` alert of probe `id`. */
static bool am_active(int port, const char *id)
{
    int status;
    char *body = test_http_get(port, "/api/v2/alerts?active=true", &status);
    json_t *arr = body && status == 200 ? json_loads(body, 0, NULL) : NULL, *a;
    bool found = false;
    size_t i;

    json_array_foreach(arr, i, a)
    {
        json_t *labels = json_object_get(a, "labels");
        const char *p = json_string_value(json_object_get(labels, "probe"));
        const char *st = json_string_value(json_object_get(json_object_get(a, "status"), "state"));

        found = found || (p && strcmp(p, id) == 0 && st && strcmp(st, "active") == 0);
    }
    json_decref(arr);
    free(body);
    return found;
}

/* The notifications the sink of server `dir` recorded, in arrival order, appended to `all`
 * (each the JSON body of one POST). */
static void sink_collect(const char *dir, json_t *all)
{
    for (unsigned n = 1;; n++) {
        char path[700], *req, *body;
        json_t *j;

        snprintf(path, sizeof(path), "%s/sink-%u.req", dir, n);
        if (access(path, F_OK) != 0)
            return;
        req = test_slurp(path, NULL);
        body = strstr(req, "\r\n\r\n");
        ck_assert_ptr_nonnull(body);
        j = json_loads(body + 4, 0, NULL);
        ck_assert_msg(j != NULL, "%s: not JSON", path);
        json_array_append_new(all, j);
        free(req);
    }
}

/* Per alert, the statuses it was notified with, in order, one entry per distinct notification
 * id: "a1:FR" is a1's firing then its resolution. Duplicates (same id again) are counted. */
static void sequences(json_t *all, char *out, size_t len, unsigned *dups)
{
    static const char *const probes[] = {"a1", "a2", "a3", "b1", "b2"};
    json_t *seen = json_object(), *n, *a;
    size_t i, k, off = 0;

    *dups = 0;
    for (size_t p = 0; p < sizeof(probes) / sizeof(probes[0]); p++) {
        off += (size_t)snprintf(out + off, len - off, "%s%s:", p ? " " : "", probes[p]);
        json_array_foreach(all, i, n)
        {
            const char *id = json_string_value(json_object_get(n, "id"));

            if (p == 0 && json_object_get(seen, id))
                (*dups)++;
            json_object_set_new(seen, id, json_true());
            /* only the first copy of a notification counts */
            for (size_t e = 0; e < i; e++)
                if (strcmp(json_string_value(json_object_get(json_array_get(all, e), "id")), id) ==
                    0)
                    goto next;
            json_array_foreach(json_object_get(n, "alerts"), k, a)
            {
                const char *st = json_string_value(json_object_get(a, "status"));

                if (strcmp(json_string_value(json_object_get(a, "probe")), probes[p]) != 0 ||
                    strcmp(json_string_value(json_object_get(a, "kind")), "down") != 0)
                    continue;
                off += (size_t)snprintf(out + off, len - off, "%c", st[0] == 'f' ? 'F' : 'R');
            }
        next:;
        }
    }
    json_decref(seen);
}

static void flag_set(const char *name, bool on)
{
    char path[600];

    snprintf(path, sizeof(path), "%s/%s", test_srv.dir, name);
    if (on)
        free(test_write(test_srv.dir, name, "down\n"));
    else
        unlink(path);
}

static void sleep_until(int64_t t)
{
    int64_t left = t - now_ms();

    if (left > 0)
        test_sleep_ms((long)left);
}

START_TEST(receivers_down_two_minutes)
{
    static const char *const ids[] = {"a1", "a2", "a3", "b1", "b2"};
    static const char expect[] = "a1:FR a2:FRFR a3:FR b1:FR b2:F";
    char *dir = test_mkdtemp(), yaml[8192], errlog[700], spool[700], flag[5][64], seq[256];
    char dir1[300], *cfg;
    const char *argv[] = {"run", "-c", NULL, NULL};
    struct srvctl rx;
    int hook_port = test_free_port(), am_port = 0;
    bool with_am = access(AM_BIN, X_OK) == 0;
    int64_t t0, t_back, t_back_am = 0, t_first = -1, t_all = -1, t_am = -1;
    unsigned dups = 0;
    size_t off;
    json_t *all;
    pid_t vigie, am = -1;

    if (!with_am)
        fprintf(stderr,
                "SKIPPED the Alertmanager half of receivers_down_two_minutes: %s is not "
                "installed (apt-get install prometheus-alertmanager)\n",
                AM_BIN);
    else
        am_port = test_free_port();
    for (int i = 0; i < 5; i++)
        snprintf(flag[i], sizeof(flag[i]), "fa-%d-%s", (int)getpid(), ids[i]);
    off = (size_t)snprintf(yaml, sizeof(yaml),
                           "receivers:\n"
                           "  - {name: hook, type: webhook, url: "
                           "\"http://127.0.0.1:%d/sink/faults\", timeout: 2s}\n",
                           hook_port);
    if (with_am)
        off += (size_t)snprintf(yaml + off, sizeof(yaml) - off,
                                "  - {name: am, type: alertmanager, url: "
                                "\"http://127.0.0.1:%d/\", timeout: 2s}\n",
                                am_port);
    snprintf(yaml + off, sizeof(yaml) - off,
             "alerting:\n  group_wait: 1s\n"
             "  routes:\n    - {name: oncall, receivers: [%s], repeat: 0s}\n"
             "graphs: {enabled: false}\n"
             "defaults: {interval: 1s, timeout: 900ms, alert: {confirm: 2, recover: 2}}\n",
             with_am ? "hook, am" : "hook");
    cfg = test_write(dir, "vigie.yaml", yaml);
    off = 0;
    for (int g = 0; g < 2; g++) {
        off = (size_t)snprintf(yaml, sizeof(yaml), "group: \"Ministère %c\"\nprobes:\n", 'A' + g);
        for (int i = 0; i < 5; i++)
            if (ids[i][0] == 'a' + g)
                off += (size_t)snprintf(yaml + off, sizeof(yaml) - off,
                                        "  - {id: %s, url: \"http://127.0.0.1:%d/?down=%s\"}\n",
                                        ids[i], test_srv.http, flag[i]);
        free(test_write(dir, g ? "probes.d/b.yaml" : "probes.d/a.yaml", yaml));
    }

    /* The receivers are up; a1 is down from the start: its page is delivered. */
    ck_assert_int_eq(srvctl_start_at(&rx, hook_port), 0);
    if (with_am)
        am = test_alertmanager_start(dir, am_port);
    flag_set(flag[0], true);
    argv[2] = cfg;
    snprintf(errlog, sizeof(errlog), "%s/vigie.log", dir);
    vigie = test_spawn_vigie(argv, errlog);
    for (int i = 0; i < 300; i++) {
        char first[700];

        snprintf(first, sizeof(first), "%s/sink-1.req", rx.dir);
        if (access(first, F_OK) == 0 && (!with_am || am_active(am_port, "a1")))
            break;
        test_sleep_ms(50);
    }
    {
        char first[700];

        snprintf(first, sizeof(first), "%s/sink-1.req", rx.dir);
        ck_assert_msg(access(first, F_OK) == 0, "a1's page not delivered; log:\n%s",
                      test_slurp(errlog, NULL));
    }
    ck_assert_msg(with_am ? am_active(am_port, "a1") : true, "a1 not in Alertmanager");

    /* The receivers go away for 2 minutes: the sink's port and Alertmanager's refuse
     * connections. Meanwhile procedures fall and come back. The sink's records are kept. */
    snprintf(dir1, sizeof(dir1), "%s.kept", rx.dir);
    ck_assert_int_eq(rename(rx.dir, dir1), 0);
    mkdir(rx.dir, 0700);
    srvctl_stop(&rx);
    if (with_am)
        am_stop(am);
    t0 = now_ms();
    sleep_until(t0 + 5000);
    flag_set(flag[0], false); /* a1 back */
    flag_set(flag[1], true);  /* a2, a3 down */
    flag_set(flag[2], true);
    sleep_until(t0 + 25000);
    flag_set(flag[3], true); /* b1 down */
    sleep_until(t0 + 45000);
    flag_set(flag[1], false); /* a2, a3 back */
    flag_set(flag[2], false);
    sleep_until(t0 + 65000);
    flag_set(flag[1], true); /* a2 down again */
    sleep_until(t0 + 85000);
    flag_set(flag[3], false); /* b1 back, b2 down (and stays down) */
    flag_set(flag[4], true);
    sleep_until(t0 + 100000);
    flag_set(flag[1], false); /* a2 back */

    /* Back after 2 minutes, at the same addresses. */
    sleep_until(t0 + DOWN_MS);
    ck_assert_int_eq(srvctl_start_at(&rx, hook_port), 0);
    t_back = now_ms();
    if (with_am) {
        am = test_alertmanager_start(dir, am_port);
        t_back_am = now_ms();
    }
    while (now_ms() < t_back + BACKOFF_MAX_MS + 15000 * (int64_t)test_timeout(1)) {
        char first[700];

        snprintf(first, sizeof(first), "%s/sink-1.req", rx.dir);
        if (t_first < 0 && access(first, F_OK) == 0)
            t_first = now_ms();
        if (t_all < 0) {
            all = json_array();
            sink_collect(dir1, all);
            sink_collect(rx.dir, all);
            sequences(all, seq, sizeof(seq), &dups);
            json_decref(all);
            if (strcmp(seq, expect) == 0)
                t_all = now_ms();
        }
        if (with_am && t_am < 0 && am_active(am_port, "b2"))
            t_am = now_ms();
        if (t_all >= 0 && (!with_am || t_am >= 0))
            break;
        test_sleep_ms(50);
    }
    fprintf(stderr,
            "faults_alert: receivers down %d s; webhook: first delivery %lld ms after its return, "
            "all %lld ms after; alertmanager: b2 listed %lld ms after its return\n",
            DOWN_MS / 1000, (long long)(t_first < 0 ? -1 : t_first - t_back),
            (long long)(t_all < 0 ? -1 : t_all - t_back),
            (long long)(t_am < 0 ? -1 : t_am - t_back_am));
    test_sleep_ms(3000); /* anything more (a duplicate) would come now */
    kill(vigie, SIGTERM);
    ck_assert_int_eq(test_wait_exit(vigie, test_timeout(60)), 0);

    all = json_array();
    sink_collect(dir1, all);
    sink_collect(rx.dir, all);
    sequences(all, seq, sizeof(seq), &dups);
    fprintf(stderr, "faults_alert: %zu webhook notifications (%u duplicates): %s\n",
            json_array_size(all), dups, seq);
    ck_assert_msg(strcmp(seq, expect) == 0, "per alert %s, want %s; log:\n%s", seq, expect,
                  test_slurp(errlog, NULL));
    ck_assert_uint_eq(dups, 0); /* nothing restarted: at least once is exactly once here */
    ck_assert_int_ge(t_all, 0);
    ck_assert_msg(t_all - t_back <= BACKOFF_MAX_MS + 5000 * (int64_t)test_timeout(1),
                  "delivered %lld ms after the receiver's return", (long long)(t_all - t_back));
    json_decref(all);
    if (with_am) {
        /* every notification reached Alertmanager: b2 fires there, the resolved ones do not */
        ck_assert_int_ge(t_am, 0);
        ck_assert_msg(t_am - t_back_am <= BACKOFF_MAX_MS + 5000 * (int64_t)test_timeout(1),
                      "Alertmanager got them %lld ms after its return",
                      (long long)(t_am - t_back_am));
        for (int i = 0; i < 4; i++)
            ck_assert_msg(!am_active(am_port, ids[i]), "%s still active in Alertmanager", ids[i]);
        am_stop(am);
    }
    /* nothing left undelivered: the spool is empty */
    snprintf(spool, sizeof(spool), "%s/state/spool", dir);
    {
        DIR *d = opendir(spool);
        struct dirent *e;
        size_t left = 0;

        ck_assert_ptr_nonnull(d);
        while ((e = readdir(d)))
            left += e->d_name[0] != '.';
        closedir(d);
        ck_assert_msg(left == 0, "%zu notifications left in %s", left, spool);
    }
    for (int i = 0; i < 5; i++)
        flag_set(flag[i], false);
    srvctl_stop(&rx);
    test_rmtree(dir1);
    free(cfg);
    test_rmtree(dir);
    free(dir);
}
END_TEST

Suite *faults_alert_suite(void)
{
    Suite *s = suite_create("faults_alert");
    TCase *tc = tcase_create("receivers");

    tcase_add_unchecked_fixture(tc, test_srv_up, test_srv_down);
    tcase_set_timeout(tc, test_timeout(300));
    tcase_add_test(tc, receivers_down_two_minutes);
    suite_add_tcase(s, tc);
    return s;
}
