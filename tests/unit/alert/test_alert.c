/* The alert engine fed with results on a fake clock: confirmation, recovery, repeats, grouping,
 * impairment (canaries and mass network failure), maintenance, SLOW with hysteresis, state kept
 * across a restart, and the alerting configuration's errors. The engine is pure: the clock is
 * the only thing faked, the notifications are what a receiver would get. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert/alert.h"
#include "config/config.h"
#include "base/diag.h"
#include "testutil.h"

#define SEC 1000LL
#define T0 (1800000000LL * SEC) /* 2027-01-15, a Friday */

struct sink {
    json_t *got; /* array of {receiver, notification} */
};

static void on_send(void *arg, const char *receiver, json_t *n)
{
    struct sink *s = arg;

    json_array_append_new(s->got, json_pack("{s:s, s:O}", "receiver", receiver, "n", n));
}

struct env {
    char *tmp;
    struct config *c;
    struct alert *a;
    struct sink sink;
};

/* vigie.yaml with `alerting` (indented under it) and probes: `ngroups` groups g0.. of `per`
 * probes each, p<g>-<i> on host h<g>-<i>.test. */
static void env_init(struct env *e, const char *alerting, int ngroups, int per)
{
    char yaml[8192], name[64], *path;
    struct diag d;
    size_t off;

    memset(e, 0, sizeof(*e));
    e->tmp = test_mkdtemp();
    snprintf(yaml, sizeof(yaml),
             "probes_dir: probes.d\n"
             "receivers:\n"
             "  - {name: pager, type: exec, command: [/bin/true]}\n"
             "  - {name: chat, type: exec, command: [/bin/true]}\n"
             "  - {name: archive, type: exec, command: [/bin/true]}\n"
             "alerting:\n%s",
             alerting);
    path = test_write(e->tmp, "vigie.yaml", yaml);
    for (int g = 0; g < ngroups; g++) {
        off = (size_t)snprintf(yaml, sizeof(yaml), "group: g%d\nprobes:\n", g);
        for (int i = 0; i < per; i++)
            off += (size_t)snprintf(yaml + off, sizeof(yaml) - off,
                                    "  - {id: p%d-%d, url: \"http://h%d-%d.test/\"}\n", g, i, g, i);
        snprintf(name, sizeof(name), "probes.d/g%d.yaml", g);
        free(test_write(e->tmp, name, yaml));
    }
    diag_init(&d);
    if (config_load(path, &e->c, &d) < 0) {
        diag_print(&d, stderr);
        ck_abort_msg("config_load failed");
    }
    diag_fini(&d);
    free(path);
    e->sink.got = json_array();
    e->a = alert_new(e->c, on_send, &e->sink);
    ck_assert_ptr_nonnull(e->a);
}

static void env_fini(struct env *e)
{
    alert_free(e->a);
    config_free(e->c);
    json_decref(e->sink.got);
    test_rmtree(e->tmp);
    free(e->tmp);
}

static size_t idx(const struct env *e, const char *id)
{
    const struct probe *p = config_find(e->c, id);

    ck_assert_msg(p != NULL, "no probe %s", id);
    return (size_t)(p - e->c->probes);
}

static struct result res(enum outcome o, double total_ms)
{
    struct result r;

    memset(&r, 0, sizeof(r));
    r.outcome = o;
    r.status = o == OUTCOME_OK ? 200 : o == OUTCOME_HTTP_STATUS ? 503 : 0;
    r.total_us = o == OUTCOME_OK ? (int64_t)(total_ms * 1000) : -1;
    snprintf(r.msg, sizeof(r.msg), "%s", o == OUTCOME_OK ? "" : "injected failure");
    return r;
}

static bool feed(struct env *e, const char *id, enum outcome o, int64_t now)
{
    struct result r = res(o, 50);

    return alert_result(e->a, idx(e, id), &r, false, now);
}

static size_t ngot(const struct env *e)
{
    return json_array_size(e->sink.got);
}

static json_t *got(const struct env *e, size_t i)
{
    return json_object_get(json_array_get(e->sink.got, i), "n");
}

static const char *got_str(const struct env *e, size_t i, const char *key)
{
    return json_string_value(json_object_get(got(e, i), key));
}

static size_t got_alerts(const struct env *e, size_t i)
{
    return json_array_size(json_object_get(got(e, i), "alerts"));
}

static const char *const ROUTE_ALL = "  group_wait: 30s\n"
                                     "  routes:\n"
                                     "    - {name: oncall, receivers: [pager], repeat: 1h}\n";

START_TEST(test_blip_pages_nobody)
{
    struct env e;
    int64_t t = T0;

    env_init(&e, ROUTE_ALL, 1, 3);
    feed(&e, "p0-0", OUTCOME_CONNECT, t += 10 * SEC);
    feed(&e, "p0-0", OUTCOME_CONNECT, t += 10 * SEC);
    feed(&e, "p0-0", OUTCOME_OK, t += 10 * SEC);
    for (int i = 0; i < 120; i++)
        alert_tick(e.a, t += SEC);
    ck_assert_uint_eq(ngot(&e), 0);
    env_fini(&e);
}
END_TEST

START_TEST(test_outage_pages_once_repeats_recovers)
{
    struct env e;
    struct alert_stats st;
    int64_t t = T0;

    env_init(&e, ROUTE_ALL, 1, 3);
    for (int i = 0; i < 3; i++)
        feed(&e, "p0-1", OUTCOME_CONNECT, t += 10 * SEC);
    alert_tick(e.a, t + 29 * SEC);
    ck_assert_uint_eq(ngot(&e), 0); /* the grouping window is not over */
    alert_tick(e.a, t += 30 * SEC);
    ck_assert_uint_eq(ngot(&e), 1);
    ck_assert_str_eq(got_str(&e, 0, "status"), "firing");
    ck_assert_str_eq(got_str(&e, 0, "receiver"), "pager");
    ck_assert_str_eq(got_str(&e, 0, "route"), "oncall");
    ck_assert_str_eq(got_str(&e, 0, "title"), "g0: 1 down");
    ck_assert_uint_eq(got_alerts(&e, 0), 1);
    /* still down for an hour: one repeat, not one per check */
    for (int i = 0; i < 360; i++) {
        feed(&e, "p0-1", OUTCOME_CONNECT, t += 10 * SEC);
        alert_tick(e.a, t);
    }
    ck_assert_uint_eq(ngot(&e), 2);
    ck_assert_str_eq(got_str(&e, 1, "status"), "firing");
    /* one success is not a recovery (recover: 2), two are */
    feed(&e, "p0-1", OUTCOME_OK, t += 10 * SEC);
    feed(&e, "p0-1", OUTCOME_CONNECT, t += 10 * SEC);
    feed(&e, "p0-1", OUTCOME_OK, t += 10 * SEC);
    for (int i = 0; i < 40; i++)
        alert_tick(e.a, t += SEC);
    ck_assert_uint_eq(ngot(&e), 2);
    feed(&e, "p0-1", OUTCOME_OK, t += 10 * SEC);
    for (int i = 0; i < 40; i++)
        alert_tick(e.a, t += SEC);
    ck_assert_uint_eq(ngot(&e), 3);
    ck_assert_str_eq(got_str(&e, 2, "status"), "resolved");
    ck_assert_str_eq(got_str(&e, 2, "title"), "g0: 1 resolved");
    /* and nothing more */
    for (int i = 0; i < 7200; i += 10)
        alert_tick(e.a, t += 10 * SEC);
    ck_assert_uint_eq(ngot(&e), 3);
    alert_stats(e.a, &st);
    ck_assert_uint_eq(st.firing, 0);
    ck_assert_uint_eq(st.transitions, 2);
    env_fini(&e);
}
END_TEST

/* 40 procedures of one group fail together (the servers answer 503: the network is fine):
 * one notification listing the 40, not 40 pages. Another group stays quiet. */
START_TEST(test_group_gives_one_notification)
{
    struct env e;
    int64_t t = T0;

    env_init(&e, ROUTE_ALL, 2, 40);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 40; i++) {
            char id[32];

            snprintf(id, sizeof(id), "p0-%d", i);
            feed(&e, id, OUTCOME_HTTP_STATUS, t += 100);
            snprintf(id, sizeof(id), "p1-%d", i);
            feed(&e, id, OUTCOME_OK, t += 100);
        }
        alert_tick(e.a, t);
    }
    for (int i = 0; i < 40; i++)
        alert_tick(e.a, t += SEC);
    ck_assert_uint_eq(ngot(&e), 1);
    ck_assert_uint_eq(got_alerts(&e, 0), 40);
    ck_assert_str_eq(got_str(&e, 0, "title"), "g0: 40 down");
    ck_assert_str_eq(got_str(&e, 0, "group"), "g0");
    env_fini(&e);
}
END_TEST

/* Canaries down: one "impaired" alert, no DOWN, and the samples are to be flagged. */
START_TEST(test_canaries_impaired)
{
    struct env e;
    struct alert_stats st;
    int64_t t = T0;

    env_init(&e,
             "  group_wait: 10s\n"
             "  canaries: [p0-0, p0-1]\n"
             "  routes:\n"
             "    - {name: oncall, receivers: [pager]}\n",
             2, 10);
    /* the canaries fail first: vigie's own network is gone */
    feed(&e, "p0-0", OUTCOME_DNS, t += SEC);
    feed(&e, "p0-1", OUTCOME_CONNECT, t += SEC);
    alert_tick(e.a, t);
    for (int round = 0; round < 5; round++) {
        for (int i = 2; i < 10; i++) {
            char id[32];

            snprintf(id, sizeof(id), "p0-%d", i);
            ck_assert(feed(&e, id, OUTCOME_TIMEOUT, t += 100));
            snprintf(id, sizeof(id), "p1-%d", i);
            ck_assert(feed(&e, id, OUTCOME_CONNECT, t += 100));
        }
        feed(&e, "p0-0", OUTCOME_DNS, t += SEC);
        feed(&e, "p0-1", OUTCOME_CONNECT, t += SEC);
        alert_tick(e.a, t);
    }
    for (int i = 0; i < 20; i++)
        alert_tick(e.a, t += SEC);
    alert_stats(e.a, &st);
    ck_assert(st.impaired);
    ck_assert_uint_eq(ngot(&e), 1);
    ck_assert_uint_eq(got_alerts(&e, 0), 1);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(got(&e, 0), "alerts"), 0), "kind")),
                     "impaired");
    /* an HTTP-level failure proves the network works: it still counts */
    ck_assert(!feed(&e, "p1-5", OUTCOME_HTTP_STATUS, t += SEC));
    /* the canaries answer again: the impaired alert resolves, still no DOWN */
    feed(&e, "p0-0", OUTCOME_OK, t += SEC);
    feed(&e, "p0-1", OUTCOME_OK, t += SEC);
    for (int i = 0; i < 20; i++)
        alert_tick(e.a, t += SEC);
    alert_stats(e.a, &st);
    ck_assert(!st.impaired);
    ck_assert_uint_eq(ngot(&e), 2);
    ck_assert_str_eq(got_str(&e, 1, "status"), "resolved");
    env_fini(&e);
}
END_TEST

/* A canary is judged on its own checks: while it answers, probes of its own host and of every
 * other host failing at the network level are real failures, not vigie's. */
START_TEST(test_canary_shares_its_host)
{
    struct env e;
    struct alert_stats st;
    char yaml[2048], *path;
    struct diag d;
    int64_t t = T0;
    size_t off;

    memset(&e, 0, sizeof(e));
    e.tmp = test_mkdtemp();
    path = test_write(e.tmp, "vigie.yaml",
                      "probes_dir: probes.d\n"
                      "receivers:\n  - {name: pager, type: exec, command: [/bin/true]}\n"
                      "alerting:\n  canaries: [canary]\n"
                      "  routes:\n    - {name: oncall, receivers: [pager]}\n");
    off = (size_t)snprintf(yaml, sizeof(yaml),
                           "group: g\nprobes:\n"
                           "  - {id: canary, url: \"http://shared.test/\"}\n");
    for (int i = 0; i < 8; i++)
        off += (size_t)snprintf(yaml + off, sizeof(yaml) - off,
                                "  - {id: s%d, url: \"http://shared.test/%d\"}\n"
                                "  - {id: o%d, url: \"http://other%d.test/\"}\n",
                                i, i, i, i);
    free(test_write(e.tmp, "probes.d/g.yaml", yaml));
    diag_init(&d);
    ck_assert_int_eq(config_load(path, &e.c, &d), 0);
    diag_fini(&d);
    free(path);
    e.sink.got = json_array();
    e.a = alert_new(e.c, on_send, &e.sink);
    ck_assert_ptr_nonnull(e.a);
    for (int round = 0; round < 5; round++) {
        feed(&e, "canary", OUTCOME_OK, t += SEC);
        /* after the canary, every other probe fails: the last result on its host is a failure */
        for (int i = 0; i < 8; i++) {
            char id[16];

            snprintf(id, sizeof(id), "s%d", i);
            ck_assert_msg(!feed(&e, id, OUTCOME_TIMEOUT, t += 100), "%s flagged", id);
            snprintf(id, sizeof(id), "o%d", i);
            ck_assert_msg(!feed(&e, id, OUTCOME_CONNECT, t += 100), "%s flagged", id);
        }
        alert_tick(e.a, t);
    }
    alert_stats(e.a, &st);
    ck_assert(!st.impaired);
    env_fini(&e);
}
END_TEST

/* No canary: most hosts failing at the network level at once is vigie's problem. */
START_TEST(test_mass_network_failure_impaired)
{
    struct env e;
    int64_t t = T0;

    env_init(&e, ROUTE_ALL, 3, 10);
    for (int round = 0; round < 4; round++) {
        for (int g = 0; g < 3; g++)
            for (int i = 0; i < 10; i++) {
                char id[32];

                snprintf(id, sizeof(id), "p%d-%d", g, i);
                feed(&e, id, g < 2 ? OUTCOME_CONNECT : OUTCOME_OK, t += 300);
                if (i % 3 == 0)
                    alert_tick(e.a, t);
            }
    }
    for (int i = 0; i < 40; i++)
        alert_tick(e.a, t += SEC);
    /* a few probes may have reached 3 failures before the share was seen; none is paged alone:
     * everything goes out in one batch per group, and the impaired alert is in it */
    ck_assert_uint_ge(ngot(&e), 1);
    ck_assert_uint_le(ngot(&e), 3);
    {
        bool seen = false;

        for (size_t i = 0; i < ngot(&e); i++)
            seen = seen || strcmp(got_str(&e, i, "group"), "") == 0;
        ck_assert_msg(seen, "no impaired notification");
    }
    env_fini(&e);
}
END_TEST

/* Samples flagged by the scheduler (vigie saturated: its timeouts may be its own) count for no
 * rule: timeouts on every host, for longer than confirm and the impairment window, give no DOWN,
 * no SLOW, no impaired alert and no notification; nor do they undo a confirmation in progress. */
START_TEST(test_flagged_counts_for_nothing)
{
    struct env e;
    struct alert_stats st;
    struct result slow = res(OUTCOME_OK, 5000), out = res(OUTCOME_TIMEOUT, 0);
    int64_t t = T0;

    env_init(&e, ROUTE_ALL, 3, 10);
    feed(&e, "p2-9", OUTCOME_CONNECT, t += SEC); /* one real failure, a confirmation begins */
    for (int round = 0; round < 10; round++) {
        for (int g = 0; g < 3; g++)
            for (int i = 0; i < 10; i++) {
                char id[32];

                snprintf(id, sizeof(id), "p%d-%d", g, i);
                ck_assert(!alert_result(e.a, idx(&e, id), i % 2 ? &out : &slow, true, t += 30));
            }
        alert_tick(e.a, t);
    }
    for (int i = 0; i < 70; i++)
        alert_tick(e.a, t += SEC);
    alert_stats(e.a, &st);
    ck_assert(!st.impaired);
    ck_assert_uint_eq(st.firing, 0);
    ck_assert_uint_eq(st.transitions, 0);
    ck_assert_uint_eq(ngot(&e), 0);
    ck_assert(alert_confirming(e.a, idx(&e, "p2-9"))); /* flagged samples broke no streak */
    feed(&e, "p2-9", OUTCOME_CONNECT, t += SEC);
    feed(&e, "p2-9", OUTCOME_CONNECT, t += SEC);
    alert_stats(e.a, &st);
    ck_assert_uint_eq(st.firing, 1); /* the third real failure in a row: DOWN */
    env_fini(&e);
}
END_TEST

static void local_time(char *buf, size_t len, int64_t ms)
{
    time_t tt = (time_t)(ms / 1000);
    struct tm tm;

    localtime_r(&tt, &tm);
    strftime(buf, len, "%Y-%m-%d %H:%M", &tm);
}

/* A probe in maintenance: its outage is held, then sent when the window ends if still on. */
START_TEST(test_maintenance_holds)
{
    struct env e;
    char alerting[1024], from[32], to[32];
    int64_t t = T0;

    local_time(from, sizeof(from), T0 - 3600 * SEC);
    local_time(to, sizeof(to), T0 + 600 * SEC);
    snprintf(alerting, sizeof(alerting),
             "  group_wait: 10s\n"
             "  routes:\n"
             "    - {name: oncall, receivers: [pager, chat]}\n"
             "  maintenance:\n"
             "    - {probe: [p0-0, p0-1], from: \"%s\", to: \"%s\", reason: upgrade}\n",
             from, to);
    env_init(&e, alerting, 1, 3);
    for (int i = 0; i < 5; i++) {
        feed(&e, "p0-0", OUTCOME_CONNECT, t += 10 * SEC);
        feed(&e, "p0-1", OUTCOME_CONNECT, t);
        alert_tick(e.a, t);
    }
    feed(&e, "p0-1", OUTCOME_OK, t += 10 * SEC);
    feed(&e, "p0-1", OUTCOME_OK, t += 10 * SEC); /* p0-1 recovers inside the window */
    for (int i = 0; i < 60; i++)
        alert_tick(e.a, t += SEC);
    ck_assert_uint_eq(ngot(&e), 0);
    /* the window ends (to is rounded to the minute): p0-0 still down → sent, to both receivers */
    while (t < T0 + 720 * SEC) {
        feed(&e, "p0-0", OUTCOME_CONNECT, t += 10 * SEC);
        alert_tick(e.a, t);
    }
    ck_assert_uint_eq(ngot(&e), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(e.sink.got, 0), "receiver")),
                     "pager");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(e.sink.got, 1), "receiver")),
                     "chat");
    ck_assert_uint_eq(got_alerts(&e, 0), 1);
    env_fini(&e);
}
END_TEST

START_TEST(test_slow_hysteresis)
{
    struct env e;
    struct result r;
    size_t i;
    int64_t t = T0;

    env_init(&e, ROUTE_ALL, 1, 1);
    i = idx(&e, "p0-0");
    /* the median of 5 reaches 800 ms on the third slow check */
    for (int k = 0; k < 5; k++) {
        r = res(OUTCOME_OK, k < 2 ? 100 : 900);
        alert_result(e.a, i, &r, false, t += 10 * SEC);
    }
    for (int k = 0; k < 40; k++)
        alert_tick(e.a, t += SEC);
    ck_assert_uint_eq(ngot(&e), 1);
    ck_assert_str_eq(got_str(&e, 0, "title"), "g0: 1 slow");
    /* 750 ms: under the threshold but above 90 % of it: still slow */
    for (int k = 0; k < 5; k++) {
        r = res(OUTCOME_OK, 750);
        alert_result(e.a, i, &r, false, t += 10 * SEC);
    }
    for (int k = 0; k < 40; k++)
        alert_tick(e.a, t += SEC);
    ck_assert_uint_eq(ngot(&e), 1);
    for (int k = 0; k < 3; k++) {
        r = res(OUTCOME_OK, 300);
        alert_result(e.a, i, &r, false, t += 10 * SEC);
    }
    for (int k = 0; k < 40; k++)
        alert_tick(e.a, t += SEC);
    ck_assert_uint_eq(ngot(&e), 2);
    ck_assert_str_eq(got_str(&e, 1, "status"), "resolved");
    env_fini(&e);
}
END_TEST

/* Killed before the grouping window ended: the alert is sent after the restart. Then the
 * recovery after another restart still reaches the receiver that got the firing. */
START_TEST(test_state_survives_restart)
{
    struct env e;
    json_t *st;
    int64_t t = T0;

    env_init(&e, ROUTE_ALL, 1, 3);
    for (int i = 0; i < 3; i++)
        feed(&e, "p0-2", OUTCOME_CONNECT, t += 10 * SEC);
    ck_assert(alert_dirty(e.a));
    st = alert_state_save(e.a);
    ck_assert(!alert_dirty(e.a));
    ck_assert_uint_eq(ngot(&e), 0);
    alert_free(e.a);

    e.a = alert_new(e.c, on_send, &e.sink);
    ck_assert_int_eq(alert_state_load(e.a, st, t), 0);
    json_decref(st);
    for (int i = 0; i < 40; i++)
        alert_tick(e.a, t += SEC);
    ck_assert_uint_eq(ngot(&e), 1);
    ck_assert_str_eq(got_str(&e, 0, "status"), "firing");

    st = alert_state_save(e.a);
    alert_free(e.a);
    e.a = alert_new(e.c, on_send, &e.sink);
    ck_assert_int_eq(alert_state_load(e.a, st, t), 0);
    json_decref(st);
    for (int i = 0; i < 40; i++)
        alert_tick(e.a, t += SEC);
    ck_assert_uint_eq(ngot(&e), 1); /* sent already: not again */
    feed(&e, "p0-2", OUTCOME_OK, t += 10 * SEC);
    feed(&e, "p0-2", OUTCOME_OK, t += 10 * SEC);
    for (int i = 0; i < 40; i++)
        alert_tick(e.a, t += SEC);
    ck_assert_uint_eq(ngot(&e), 2);
    ck_assert_str_eq(got_str(&e, 1, "status"), "resolved");

    st = json_pack("{s:s}", "not", "a state");
    ck_assert_int_eq(alert_state_load(e.a, st, t), -EINVAL);
    json_decref(st);
    env_fini(&e);
}
END_TEST

/* The scheduler sheds load: one "overloaded" alert of probe vigie, critical like "impaired" and
 * routed like it (a route for kinds impaired and overloaded takes it, one for down does not);
 * the factor rising again refreshes its summary without a second notification; it survives a
 * restart's state file, and a new process that is not shedding resolves it. */
START_TEST(test_overloaded)
{
    struct env e;
    struct alert_stats st;
    json_t *state, *al;
    int64_t t = T0;

    env_init(&e,
             "  group_wait: 5s\n"
             "  routes:\n"
             "    - {name: probes, match: {kind: down}, receivers: [chat]}\n"
             "    - {name: self, match: {kind: [impaired, overloaded], severity: critical},"
             " receivers: [pager], repeat: 1h}\n",
             1, 3);
    alert_overload(e.a, 2, "loop busy", t += SEC);
    alert_stats(e.a, &st);
    ck_assert(st.overloaded);
    ck_assert_uint_eq(st.firing, 1);
    for (int i = 0; i < 10; i++)
        alert_tick(e.a, t += SEC);
    alert_overload(e.a, 4, "loop busy", t += SEC); /* shedding more: the same alert */
    for (int i = 0; i < 60; i++)
        alert_tick(e.a, t += SEC);
    ck_assert_uint_eq(ngot(&e), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(e.sink.got, 0), "receiver")),
                     "pager");
    ck_assert_str_eq(got_str(&e, 0, "title"), "vigie: 1 vigie overloaded");
    al = json_array_get(json_object_get(got(&e, 0), "alerts"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(al, "kind")), "overloaded");
    ck_assert_str_eq(json_string_value(json_object_get(al, "probe")), "vigie");
    ck_assert_str_eq(json_string_value(json_object_get(al, "severity")), "critical");
    ck_assert_str_eq(json_string_value(json_object_get(al, "summary")),
                     "vigie overloaded (loop busy): each probe checked one tick in 2");
    ck_assert(alert_dirty(e.a)); /* the factor changed: the state file says 4 */

    state = alert_state_save(e.a);
    alert_free(e.a);
    e.a = alert_new(e.c, on_send, &e.sink);
    ck_assert_int_eq(alert_state_load(e.a, state, t), 0);
    json_decref(state);
    alert_stats(e.a, &st);
    ck_assert(st.overloaded);
    alert_overload(e.a, 1, "", t += SEC); /* a new process: not shedding */
    for (int i = 0; i < 10; i++)
        alert_tick(e.a, t += SEC);
    alert_stats(e.a, &st);
    ck_assert(!st.overloaded);
    ck_assert_uint_eq(st.firing, 0);
    ck_assert_uint_eq(ngot(&e), 2);
    ck_assert_str_eq(got_str(&e, 1, "status"), "resolved");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(got(&e, 1), "alerts"), 0), "summary")),
                     "vigie overloaded (loop busy): each probe checked one tick in 4");

    /* overloaded and back within group_wait: nobody is told */
    alert_overload(e.a, 2, "CPU starved", t += SEC);
    alert_overload(e.a, 1, "", t += SEC);
    for (int i = 0; i < 10; i++)
        alert_tick(e.a, t += SEC);
    ck_assert_uint_eq(ngot(&e), 2);
    env_fini(&e);
}
END_TEST

/* Routes: first match wins; kind and group filters; `continue`. */
START_TEST(test_routes)
{
    struct env e;
    int64_t t = T0;

    env_init(&e,
             "  group_wait: 5s\n"
             "  routes:\n"
             "    - {name: g1-slow, match: {group: g1, kind: slow}, receivers: [chat]}\n"
             "    - {name: critical, match: {severity: critical}, receivers: [pager],"
             " continue: true}\n"
             "    - {name: all, receivers: [archive], send_resolved: false}\n",
             2, 2);
    for (int i = 0; i < 3; i++) {
        feed(&e, "p0-0", OUTCOME_CONNECT, t += 10 * SEC);
        feed(&e, "p1-0", OUTCOME_CONNECT, t);
    }
    for (int i = 0; i < 10; i++)
        alert_tick(e.a, t += SEC);
    /* DOWN is critical: "critical" (pager) and, by continue, "all" (archive), per group */
    ck_assert_uint_eq(ngot(&e), 4);
    for (size_t i = 0; i < 4; i++)
        ck_assert_msg(strcmp(got_str(&e, i, "receiver"), "pager") == 0 ||
                          strcmp(got_str(&e, i, "receiver"), "archive") == 0,
                      "receiver %s", got_str(&e, i, "receiver"));
    feed(&e, "p0-0", OUTCOME_OK, t += 10 * SEC);
    feed(&e, "p0-0", OUTCOME_OK, t += 10 * SEC);
    for (int i = 0; i < 10; i++)
        alert_tick(e.a, t += SEC);
    /* resolved: to the pager only (archive has send_resolved: false) */
    ck_assert_uint_eq(ngot(&e), 5);
    ck_assert_str_eq(got_str(&e, 4, "receiver"), "pager");
    env_fini(&e);
}
END_TEST

START_TEST(test_config_errors)
{
    static const char *const bad[][2] = {
        {"alerting:\n  canaries: [nope]\n", "vigie.yaml:2:14: unknown probe \"nope\""},
        {"alerting:\n  routes:\n    - {match: {kind: dwon}, receivers: [x]}\n",
         "vigie.yaml:3:22: \"kind\": unknown kind \"dwon\""},
        {"alerting:\n  routes:\n    - {match: {group: g9}, receivers: [x]}\n",
         "vigie.yaml:3:23: unknown group \"g9\""},
        {"alerting:\n  routes:\n    - {name: x}\n", "vigie.yaml:3:7: route has no \"receivers\""},
        {"alerting:\n  maintenance:\n    - {weekly: \"sunday 2:00\"}\n",
         "vigie.yaml:3:16: \"weekly\": expected a day"},
        {"alerting:\n  maintenance:\n    - {from: \"2026-12-01 10:00\", to: \"2026-12-01 "
         "09:00\"}\n",
         "vigie.yaml:3:38: \"to\": the window ends before it starts"},
        {"alerting:\n  impaired_share: 150%\n",
         "vigie.yaml:2:19: \"impaired_share\": expected a percentage like 99.9%: above 100%"},
        {"defaults:\n  alert: {confirm: 0}\n", "vigie.yaml:2:20: \"confirm\": 0 out of range"},
        {"defaults:\n  alert: {recheck: 500ms}\n",
         "vigie.yaml:2:20: \"recheck\": 500ms is too short (0s for off, or at least 1s)"},
        {"defaults:\n  interval: 10s\n  timeout: 5s\n  alert: {recheck: 10s}\n",
         "vigie.yaml:4:20: \"recheck\": 10s is not shorter than \"interval\" (10s)"},
        {"defaults:\n  alert: {recheck: 5s}\n  interval: 5s\n  timeout: 2s\n",
         "vigie.yaml:2:20: \"recheck\": 5s is not shorter than \"interval\" (5s)"},
        {"defaults:\n  alert: {recheck: 2h}\n", "vigie.yaml:2:20: \"recheck\": 2h is not shorter"},
        {"alerting:\n  group_wiat: 5s\n", "vigie.yaml:2:3: unknown key \"group_wiat\""},
        {"alerting:\n  routes:\n    - {receivers: [pagr]}\n",
         "vigie.yaml:3:20: unknown receiver \"pagr\" (not in \"receivers\")"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *tmp = test_mkdtemp(), *path, yaml[1024], line[512];
        struct config *c = NULL;
        struct diag d;
        bool found = false;

        snprintf(yaml, sizeof(yaml), "%s", bad[i][0]);
        path = test_write(tmp, "vigie.yaml", yaml);
        free(test_write(tmp, "probes.d/g.yaml",
                        "group: g0\nprobes:\n  - {id: a, url: \"http://a.test/\"}\n"));
        diag_init(&d);
        ck_assert_int_lt(config_load(path, &c, &d), 0);
        for (size_t k = 0; k < d.n; k++) {
            const char *base = strrchr(d.v[k].file, '/');

            snprintf(line, sizeof(line), "%s:%u:%u: %s", base ? base + 1 : d.v[k].file, d.v[k].line,
                     d.v[k].col, d.v[k].msg);
            found = found || strncmp(line, bad[i][1], strlen(bad[i][1])) == 0;
        }
        if (!found)
            diag_print(&d, stderr);
        ck_assert_msg(found, "case %zu: no diagnostic starting with %s", i, bad[i][1]);
        diag_fini(&d);
        free(path);
        test_rmtree(tmp);
        free(tmp);
    }
}
END_TEST

/* Confirming: failures short of `confirm` before DOWN, successes short of `recover` after; never
 * while vigie is impaired. The daemon rechecks sooner meanwhile (alert.recheck). */
START_TEST(test_confirming)
{
    struct env e;
    size_t i;
    int64_t t = T0;

    env_init(&e, "  group_wait: 0s\n  routes: [{receivers: [pager]}]\n", 1, 1);
    i = idx(&e, "p0-0");
    ck_assert(!alert_confirming(e.a, i));
    feed(&e, "p0-0", OUTCOME_CONNECT, t += SEC);
    ck_assert(alert_confirming(e.a, i)); /* 1 of 3 */
    feed(&e, "p0-0", OUTCOME_CONNECT, t += SEC);
    ck_assert(alert_confirming(e.a, i)); /* 2 of 3 */
    feed(&e, "p0-0", OUTCOME_CONNECT, t += SEC);
    ck_assert(!alert_confirming(e.a, i)); /* DOWN: confirmed */
    feed(&e, "p0-0", OUTCOME_CONNECT, t += SEC);
    ck_assert(!alert_confirming(e.a, i));
    feed(&e, "p0-0", OUTCOME_OK, t += SEC);
    ck_assert(alert_confirming(e.a, i)); /* recovering: 1 of 2 */
    feed(&e, "p0-0", OUTCOME_CONNECT, t += SEC);
    ck_assert(!alert_confirming(e.a, i)); /* still down */
    feed(&e, "p0-0", OUTCOME_OK, t += SEC);
    feed(&e, "p0-0", OUTCOME_OK, t += SEC);
    ck_assert(!alert_confirming(e.a, i)); /* recovered */
    feed(&e, "p0-0", OUTCOME_OK, t += SEC);
    ck_assert(!alert_confirming(e.a, i));
    env_fini(&e);
}
END_TEST

Suite *alert_suite(void)
{
    Suite *s = suite_create("alert");
    TCase *tc = tcase_create("alert");

    tcase_set_timeout(tc, test_timeout(30));
    tcase_add_test(tc, test_blip_pages_nobody);
    tcase_add_test(tc, test_outage_pages_once_repeats_recovers);
    tcase_add_test(tc, test_group_gives_one_notification);
    tcase_add_test(tc, test_canaries_impaired);
    tcase_add_test(tc, test_mass_network_failure_impaired);
    tcase_add_test(tc, test_canary_shares_its_host);
    tcase_add_test(tc, test_flagged_counts_for_nothing);
    tcase_add_test(tc, test_overloaded);
    tcase_add_test(tc, test_maintenance_holds);
    tcase_add_test(tc, test_slow_hysteresis);
    tcase_add_test(tc, test_state_survives_restart);
    tcase_add_test(tc, test_routes);
    tcase_add_test(tc, test_config_errors);
    tcase_add_test(tc, test_confirming);
    suite_add_tcase(s, tc);
    return s;
}
