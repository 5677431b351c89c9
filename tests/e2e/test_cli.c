/* The vigie binary: validate on the shipped and on broken configurations, check against the
 * loopback test server (table, JSON, exit statuses). */
#include <check.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srvctl.h"
#include "testutil.h"

static const char *srcdir(void)
{
    const char *s = getenv("VIGIE_SRCDIR");
    return s ? s : ".";
}

START_TEST(test_validate_shipped)
{
    char cfg[512], *out = NULL, *err = NULL;
    const char *argv[] = {"validate", "-c", cfg, NULL};
    int rc;

    snprintf(cfg, sizeof(cfg), "%s/vigie.yaml", srcdir());
    rc = test_vigie(argv, &out, &err, 20);
    ck_assert_msg(rc == 0, "exit %d, stderr:\n%s", rc, err);
    ck_assert_msg(strstr(out, ": ok, 177 probes in ") != NULL, "stdout: %s", out);
    free(out);
    free(err);
}
END_TEST

/* A copy of the shipped configuration with errors planted in two files: every error is reported
 * with its exact file:line:col, and the load fails. */
START_TEST(test_validate_broken_copy)
{
    char *dir = test_mkdtemp(), src[512], cfg[512], *out = NULL, *err = NULL;
    const char *argv[] = {"validate", "-c", cfg, NULL};
    char want[3][512];
    char *first = NULL;
    DIR *d;
    struct dirent *e;
    int rc, files = 0;

    snprintf(src, sizeof(src), "%s/probes.d", srcdir());
    d = opendir(src);
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d))) {
        char path[768], name[300], *text;
        size_t len = strlen(e->d_name);

        if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", src, e->d_name);
        text = test_slurp(path, NULL);
        if (!first || strcmp(e->d_name, first) < 0) {
            free(first);
            first = strdup(e->d_name);
        }
        snprintf(name, sizeof(name), "probes.d/%s", e->d_name);
        free(test_write(dir, name, text));
        free(text);
        files++;
    }
    closedir(d);
    ck_assert_int_gt(files, 1);

    /* Error 1: a misspelt key in the first file's first probe. */
    {
        char path[768], name[300], *text, *hit;
        unsigned line = 1;

        snprintf(path, sizeof(path), "%s/probes.d/%s", dir, first);
        text = test_slurp(path, NULL);
        hit = strstr(text, "    url: ");
        ck_assert_ptr_nonnull(hit);
        memcpy(hit + 4, "uri", 3);
        for (char *p = text; p < hit; p++)
            line += *p == '\n';
        snprintf(name, sizeof(name), "probes.d/%s", first);
        free(test_write(dir, name, text));
        free(text);
        snprintf(want[0], sizeof(want[0]), "%s:%u:5: unknown key \"uri\"", first, line);
    }
    /* Errors 2 and 3: a new file, with a bad interval and an unsupported scheme. */
    free(test_write(dir, "probes.d/zz-broken.yaml",
                    "group: \"Test\"\n"
                    "probes:\n"
                    "  - id: broken-one\n"
                    "    url: \"https://example.invalid/\"\n"
                    "    interval: 10 minutes\n"
                    "  - id: broken-two\n"
                    "    url: \"ftp://example.invalid/\"\n"));
    snprintf(want[1], sizeof(want[1]), "zz-broken.yaml:5:15: \"interval\"");
    snprintf(want[2], sizeof(want[2]), "zz-broken.yaml:7:10: \"url\"");
    free(test_write(dir, "vigie.yaml", "probes_dir: probes.d\n"));
    snprintf(cfg, sizeof(cfg), "%s/vigie.yaml", dir);

    rc = test_vigie(argv, &out, &err, 20);
    ck_assert_msg(rc == 1, "exit %d, stderr:\n%s", rc, err);
    for (int i = 0; i < 3; i++)
        ck_assert_msg(strstr(err, want[i]) != NULL, "missing \"%s\" in:\n%s", want[i], err);
    /* The misspelt key also leaves its probe without a url. */
    ck_assert_msg(strstr(err, "probe has no \"url\"") != NULL, "stderr:\n%s", err);
    ck_assert_msg(strstr(err, "4 errors") != NULL, "stderr:\n%s", err);
    free(out);
    free(err);
    free(first);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* Writes a configuration whose probes point at the test server. */
static char *write_config(const char *dir, const char *probes)
{
    char yaml[4096];

    free(test_write(dir, "probes.d/local.yaml", probes));
    snprintf(yaml, sizeof(yaml),
             "probes_dir: probes.d\n"
             "defaults:\n"
             "  timeout: 3s\n"
             "  connect_timeout: 1s\n"
             "  tls:\n"
             "    ca_file: \"%s\"\n",
             test_srv.ca);
    return test_write(dir, "vigie.yaml", yaml);
}

static char *probes_yaml(const char *const *ids, const char *const *paths, size_t n)
{
    static char buf[8192];
    size_t off;

    off = (size_t)snprintf(buf, sizeof(buf), "group: \"Loopback\"\nprobes:\n");
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(buf + off, sizeof(buf) - off,
                                "  - id: %s\n    url: \"http://127.0.0.1:%d%s\"\n", ids[i],
                                test_srv.http, paths[i]);
    return buf;
}

START_TEST(test_check_table_and_exit)
{
    const char *ids[] = {"fast", "slow", "broken", "late"};
    const char *paths[] = {"/", "/?delay=900", "/?status=503", "/?delay=200"};
    char *dir = test_mkdtemp(), *cfg, *out = NULL, *err = NULL;
    int rc;

    cfg = write_config(dir, probes_yaml(ids, paths, 4));
    {
        const char *argv[] = {"check", "-c", cfg, NULL};

        rc = test_vigie(argv, &out, &err, 20);
        ck_assert_msg(rc == 2, "exit %d (one probe down), stderr:\n%s\nstdout:\n%s", rc, err, out);
        ck_assert_msg(strstr(out, "PROBE") && strstr(out, "TTFB") && strstr(out, "VERDICT"), "%s",
                      out);
        ck_assert_msg(strstr(out, "http_status: status 503 not in 200-399"), "%s", out);
        ck_assert_msg(strstr(out, "4 probes: 2 ok, 1 degraded, 1 down"), "%s", out);
        /* The 200 ms probe's first byte column reads 200.x ms. */
        char *line = strstr(out, "\nlate ");
        ck_assert_ptr_nonnull(line);
        double ttfb = 0;
        char status[8], dns[16], con[16], tls[16];
        ck_assert_int_eq(sscanf(line, " late %7s %15s %15s %15s %lf", status, dns, con, tls, &ttfb),
                         5);
        ck_assert_msg(ttfb >= 200 && ttfb < 215 * test_timeout(1), "ttfb %.1f", ttfb);
        ck_assert_str_eq(tls, "-");
        free(out);
        free(err);
    }
    {
        const char *argv[] = {"check", "-c", cfg, "fast", "late", NULL};

        rc = test_vigie(argv, &out, &err, 20);
        ck_assert_msg(rc == 0, "exit %d, stdout:\n%s", rc, out);
        ck_assert_msg(strstr(out, "2 probes: 2 ok, 0 degraded, 0 down"), "%s", out);
        free(out);
        free(err);
    }
    {
        const char *argv[] = {"check", "-c", cfg, "fast", "slow", NULL};

        rc = test_vigie(argv, &out, &err, 20);
        ck_assert_msg(rc == 1, "exit %d (degraded), stdout:\n%s", rc, out);
        free(out);
        free(err);
    }
    {
        /* The same id twice: two rows, both measured. */
        const char *argv[] = {"check", "-c", cfg, "late", "late", NULL};

        rc = test_vigie(argv, &out, &err, 20);
        ck_assert_msg(rc == 0, "exit %d, stdout:\n%s", rc, out);
        ck_assert_msg(strstr(out, "2 probes: 2 ok, 0 degraded, 0 down"), "%s", out);
        free(out);
        free(err);
    }
    {
        const char *argv[] = {"check", "-c", cfg, "nosuchprobe", NULL};

        rc = test_vigie(argv, &out, &err, 20);
        ck_assert_int_eq(rc, 3);
        ck_assert_msg(strstr(err, "no probe with id \"nosuchprobe\""), "%s", err);
        free(out);
        free(err);
    }
    free(cfg);
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_check_json)
{
    char *dir = test_mkdtemp(), *cfg, *out = NULL, *err = NULL, probes[2048];
    const char *argv[] = {"check", "-c", NULL, "--json", NULL};
    int rc, lines = 0;

    snprintf(probes, sizeof(probes),
             "group: \"Loopback\"\nprobes:\n"
             "  - id: a-ok\n    url: \"http://127.0.0.1:%d/?delay=50\"\n"
             "  - id: b-refused\n    url: \"http://127.0.0.1:%d/\"\n"
             "  - id: c-https\n    url: \"https://127.0.0.1:%d/\"\n",
             test_srv.http, test_srv.refused, test_srv.https);
    cfg = write_config(dir, probes);
    argv[2] = cfg;
    rc = test_vigie(argv, &out, &err, 20);
    ck_assert_msg(rc == 2, "exit %d, stderr %s", rc, err);
    for (char *save = NULL, *line = strtok_r(out, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save), lines++) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        const char *probe;

        ck_assert_msg(o != NULL, "not JSON: %s (%s)", line, je.text);
        probe = json_string_value(json_object_get(o, "probe"));
        ck_assert_ptr_nonnull(probe);
        ck_assert_str_eq(json_string_value(json_object_get(o, "group")), "Loopback");
        if (strcmp(probe, "a-ok") == 0) {
            json_int_t ttfb = json_integer_value(json_object_get(o, "ttfb_us"));
            ck_assert_str_eq(json_string_value(json_object_get(o, "verdict")), "ok");
            ck_assert_int_eq(json_integer_value(json_object_get(o, "status")), 200);
            ck_assert_msg(ttfb >= 50000 && ttfb < 65000 * test_timeout(1), "ttfb %lld",
                          (long long)ttfb);
            ck_assert(json_is_null(json_object_get(o, "tls_us")));
        } else if (strcmp(probe, "b-refused") == 0) {
            ck_assert_str_eq(json_string_value(json_object_get(o, "verdict")), "down");
            ck_assert_str_eq(json_string_value(json_object_get(o, "outcome")), "connect");
        } else {
            ck_assert_str_eq(probe, "c-https");
            ck_assert_str_eq(json_string_value(json_object_get(o, "outcome")), "ok");
            ck_assert(json_integer_value(json_object_get(o, "tls_us")) > 0);
            ck_assert(json_integer_value(json_object_get(o, "cert_days")) > 300);
        }
        json_decref(o);
    }
    ck_assert_int_eq(lines, 3);
    free(out);
    free(err);
    free(cfg);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* Every command parses its arguments the same way (getopt_long): --opt=value, options after the
 * operands, and the same two messages for a mistake. */
START_TEST(test_options)
{
    char cfg[512], cfgeq[600];
    static const char *const unused = "/nonexistent/vigie-test";
    struct {
        const char *argv[8];
        int status;
        const char *err; /* in stderr, NULL: stderr is not looked at */
        const char *out; /* in stdout */
    } c[] = {
        {{"validate", cfgeq}, 0, NULL, ": ok, 177 probes"},
        {{"validate", cfg, "-c"}, 3, "vigie: -c needs a value", NULL},
        {{"report", cfgeq, "--from=2026-02-30"},
         3,
         "vigie: report: --from \"2026-02-30\": expected a date",
         NULL},
        {{"report", cfgeq, "--format=pdf"}, 3, "vigie: report: unknown format \"pdf\"", NULL},
        {{"report", cfgeq, "--rules"}, 3, "vigie: report: --rules needs a value", NULL},
        {{"report", cfgeq, "stray"}, 3, "vigie: report: unexpected argument \"stray\"", NULL},
        {{"run", "--bogus"}, 3, "vigie: unexpected argument \"--bogus\"", NULL},
        {{"check", "-vx"}, 3, "vigie: unexpected argument \"-x\"", NULL},
        {{"check", "--json=1"}, 3, "vigie: unexpected argument \"--json=1\"", NULL},
        {{"run", "--duration=5x"}, 3, "vigie: --duration 5x:", NULL},
        {{"graph", "--period"}, 1, "vigie: --period needs a value", NULL},
        {{"graph", "--kind=pie", "x"}, 1, "vigie: --kind: expected latency or avail", NULL},
        {{"dashboard", "--lang=de"}, 3, "vigie: --lang de: expected fr or en", NULL},
        {{"simulate", "--out", unused, "--speed=0"},
         1,
         "vigie: simulate: --speed 0: expected a factor",
         NULL},
        {{"simulate", "--out"}, 1, "vigie: simulate: --out needs a value", NULL},
        {{"demo", "--out", unused, "--seed=abc"},
         1,
         "vigie: demo: --seed abc: expected a number",
         NULL},
        {{"demo", "extra"}, 1, "vigie: demo: unexpected argument \"extra\"", NULL},
    };

    snprintf(cfg, sizeof(cfg), "%s/vigie.yaml", srcdir());
    snprintf(cfgeq, sizeof(cfgeq), "--config=%s/vigie.yaml", srcdir());
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        char *out = NULL, *err = NULL;
        int rc = test_vigie(c[i].argv, &out, &err, 20);

        ck_assert_msg(rc == c[i].status, "%s %s: exit %d, want %d; stderr:\n%s", c[i].argv[0],
                      c[i].argv[1], rc, c[i].status, err);
        if (c[i].err)
            ck_assert_msg(strstr(err, c[i].err), "%s %s: stderr:\n%s\nwant: %s", c[i].argv[0],
                          c[i].argv[1], err, c[i].err);
        if (c[i].out)
            ck_assert_msg(strstr(out, c[i].out), "%s: stdout:\n%s", c[i].argv[0], out);
        free(out);
        free(err);
    }
}
END_TEST

Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("vigie");

    tcase_add_unchecked_fixture(tc, test_srv_up, test_srv_down);
    tcase_set_timeout(tc, test_timeout(60));
    tcase_add_test(tc, test_validate_shipped);
    tcase_add_test(tc, test_validate_broken_copy);
    tcase_add_test(tc, test_check_table_and_exit);
    tcase_add_test(tc, test_check_json);
    tcase_add_test(tc, test_options);
    suite_add_tcase(s, tc);
    return s;
}
