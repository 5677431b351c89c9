/* check: expectations and verdicts, alone (check_judge) and end to end against the test server. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "probe/check.h"
#include "srvctl.h"
#include "testutil.h"

static char s_id[] = "t", s_group[] = "g", s_get[] = "GET";

/* A probe with the built-in defaults; the url is copied (probe_fini frees it). */
static void probe_init(struct probe *p, const char *url)
{
    const char *why;

    memset(p, 0, sizeof(*p));
    p->id = s_id;
    p->name = s_id;
    p->group = s_group;
    p->url = strdup(url);
    p->method = s_get;
    p->interval_ms = 60000;
    p->timeout_ms = 5000;
    p->connect_timeout_ms = 2000;
    p->slow_ms = 800;
    p->follow_redirects = true;
    p->max_redirects = 10;
    p->tls_verify = true;
    p->ca_file = test_srv.ca;
    p->tls_min_days = 14;
    p->max_bytes = 1 << 20;
    ck_assert_int_eq(units_statusset("200-399", &p->status, &why), 0);
}

static void probe_fini(struct probe *p)
{
    free(p->url);
    free(p->body);
    free(p->body_regex);
    if (p->body_regex)
        regfree(&p->body_re);
}

static struct result transport_ok(long status, int64_t total_us)
{
    struct result r;

    memset(&r, 0, sizeof(r));
    r.outcome = OUTCOME_OK;
    r.status = status;
    r.total_us = total_us;
    r.ttfb_us = total_us;
    return r;
}

START_TEST(test_judge_table)
{
    static const struct {
        const char *name;
        const char *status_set;
        const char *body_sub;
        const char *body_re;
        long status;
        int64_t total_us;
        int64_t cert_in_s; /* cert expiry from now, 0 = unknown */
        const char *body;
        enum outcome outcome;
        enum verdict verdict;
        const char *msg_part;
    } cases[] = {
        {"plain ok", NULL, NULL, NULL, 200, 100000, 0, "x", OUTCOME_OK, VERDICT_OK, ""},
        {"3xx in default set", NULL, NULL, NULL, 302, 1000, 0, "", OUTCOME_OK, VERDICT_OK, ""},
        {"503", NULL, NULL, NULL, 503, 1000, 0, "", OUTCOME_HTTP_STATUS, VERDICT_DOWN,
         "status 503 not in 200-399"},
        {"404 expected", "404", NULL, NULL, 404, 1000, 0, "", OUTCOME_OK, VERDICT_OK, ""},
        {"200 not in 2xx,404 minus", "204", NULL, NULL, 200, 1000, 0, "", OUTCOME_HTTP_STATUS,
         VERDICT_DOWN, "not in 204"},
        {"body found", NULL, "Connexion", NULL, 200, 1000, 0, "<h1>Connexion</h1>", OUTCOME_OK,
         VERDICT_OK, ""},
        {"body missing", NULL, "Connexion", NULL, 200, 1000, 0, "<h1>Maintenance</h1>",
         OUTCOME_CONTENT, VERDICT_DOWN, "does not contain \"Connexion\""},
        {"regex match", NULL, NULL, "v[0-9]+\\.[0-9]+", 200, 1000, 0, "build v12.3", OUTCOME_OK,
         VERDICT_OK, ""},
        {"regex miss", NULL, NULL, "^OK$", 200, 1000, 0, "KO", OUTCOME_CONTENT, VERDICT_DOWN,
         "does not match /^OK$/"},
        {"slow at the threshold", NULL, NULL, NULL, 200, 800000, 0, "", OUTCOME_OK,
         VERDICT_DEGRADED, "slow: 800 ms"},
        {"just under slow", NULL, NULL, NULL, 200, 799999, 0, "", OUTCOME_OK, VERDICT_OK, ""},
        {"cert in 5 days", NULL, NULL, NULL, 200, 1000, 5 * 86400 + 60, "", OUTCOME_OK,
         VERDICT_DEGRADED, "certificate expires in 5 days"},
        {"cert in 30 days", NULL, NULL, NULL, 200, 1000, 30 * 86400, "", OUTCOME_OK, VERDICT_OK,
         ""},
        {"status wins over slow", NULL, NULL, NULL, 500, 900000, 0, "", OUTCOME_HTTP_STATUS,
         VERDICT_DOWN, "status 500"},
    };
    const int64_t now = 1800000000;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct probe p;
        struct result r = transport_ok(cases[i].status, cases[i].total_us);
        const char *why;

        probe_init(&p, "http://127.0.0.1/");
        if (cases[i].status_set)
            ck_assert_int_eq(units_statusset(cases[i].status_set, &p.status, &why), 0);
        p.body = cases[i].body_sub ? strdup(cases[i].body_sub) : NULL;
        if (cases[i].body_re) {
            p.body_regex = strdup(cases[i].body_re);
            ck_assert_int_eq(regcomp(&p.body_re, cases[i].body_re, REG_EXTENDED | REG_NOSUB), 0);
        }
        if (cases[i].cert_in_s)
            r.cert_expiry = now + cases[i].cert_in_s;
        check_judge(&p, &r, cases[i].body, strlen(cases[i].body), now);
        ck_assert_msg(r.outcome == cases[i].outcome && r.verdict == cases[i].verdict,
                      "%s: %s/%s, want %s/%s (%s)", cases[i].name, outcome_str(r.outcome),
                      verdict_str(r.verdict), outcome_str(cases[i].outcome),
                      verdict_str(cases[i].verdict), r.msg);
        ck_assert_msg(strstr(r.msg, cases[i].msg_part) != NULL, "%s: message \"%s\", want \"%s\"",
                      cases[i].name, r.msg, cases[i].msg_part);
        probe_fini(&p);
    }
}
END_TEST

/* A transport failure stays down whatever the expectations say. */
START_TEST(test_judge_transport_failure)
{
    struct probe p;
    struct result r = transport_ok(0, 5000);

    probe_init(&p, "http://127.0.0.1/");
    free(p.url);
    p.url = NULL;
    r.outcome = OUTCOME_CONNECT;
    snprintf(r.msg, sizeof(r.msg), "Connection refused");
    check_judge(&p, &r, NULL, 0, 0);
    ck_assert_int_eq(r.outcome, OUTCOME_CONNECT);
    ck_assert_int_eq(r.verdict, VERDICT_DOWN);
    ck_assert_str_eq(r.msg, "Connection refused");
}
END_TEST

/* End to end: check_start against the test server. */
struct seen {
    struct result res;
    int calls;
};

static void on_checked(void *arg, const struct probe *p, const struct result *res)
{
    struct seen *s = arg;

    (void)p;
    s->res = *res;
    s->calls++;
}

static void on_closed(void *arg)
{
    (void)arg;
}

static void run_probe(const struct probe *p, struct seen *s)
{
    static char ua[] = "vigie-test";
    struct config cfg = {.user_agent = ua, .concurrency = 8, .per_host = 8};
    uv_loop_t loop;
    struct httpc *h;

    ck_assert_int_eq(uv_loop_init(&loop), 0);
    h = httpc_new(&loop);
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(check_start(h, &cfg, p, on_checked, s), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    httpc_close(h, on_closed, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    ck_assert_int_eq(s->calls, 1);
}

START_TEST(test_end_to_end)
{
    static const struct {
        const char *scheme;
        const char *path;
        const char *body;
        uint64_t slow_ms;
        enum outcome outcome;
        enum verdict verdict;
    } cases[] = {
        {"http", "/?body=Bienvenue", "Bienvenue", 800, OUTCOME_OK, VERDICT_OK},
        {"http", "/?body=Erreur", "Bienvenue", 800, OUTCOME_CONTENT, VERDICT_DOWN},
        {"http", "/?status=502", NULL, 800, OUTCOME_HTTP_STATUS, VERDICT_DOWN},
        {"http", "/?delay=150", NULL, 100, OUTCOME_OK, VERDICT_DEGRADED},
        {"https", "/", NULL, 800, OUTCOME_OK, VERDICT_OK},
        {"https-soon", "/", NULL, 800, OUTCOME_OK, VERDICT_DEGRADED},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct probe p;
        struct seen s = {0};
        char url[256];
        int soon = strcmp(cases[i].scheme, "https-soon") == 0;

        srvctl_url(url, sizeof(url), soon ? "https" : cases[i].scheme,
                   soon                                    ? test_srv.soon
                   : strcmp(cases[i].scheme, "https") == 0 ? test_srv.https
                                                           : test_srv.http,
                   cases[i].path);
        probe_init(&p, url);
        p.body = cases[i].body ? strdup(cases[i].body) : NULL;
        p.slow_ms = cases[i].slow_ms;
        run_probe(&p, &s);
        ck_assert_msg(s.res.outcome == cases[i].outcome && s.res.verdict == cases[i].verdict,
                      "%s%s: %s/%s (%s)", cases[i].scheme, cases[i].path,
                      outcome_str(s.res.outcome), verdict_str(s.res.verdict), s.res.msg);
        if (soon)
            ck_assert_msg(s.res.cert_days >= 4 && s.res.cert_days <= 5, "cert_days %d",
                          s.res.cert_days);
        probe_fini(&p);
    }
}
END_TEST

Suite *check_suite(void)
{
    Suite *s = suite_create("check");
    TCase *judge = tcase_create("judge");
    TCase *e2e = tcase_create("loopback");

    tcase_add_test(judge, test_judge_table);
    tcase_add_test(judge, test_judge_transport_failure);
    suite_add_tcase(s, judge);
    tcase_add_unchecked_fixture(e2e, test_srv_up, test_srv_down);
    tcase_set_timeout(e2e, test_timeout(20));
    tcase_add_test(e2e, test_end_to_end);
    suite_add_tcase(s, e2e);
    return s;
}
