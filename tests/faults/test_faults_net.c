/* Fault suite, network side (`make faults`; docs/RELIABILITY.md holds the table).
 *
 * Each case runs the real `vigie run` against misbehaving loopback targets
 * (tests/harness/testsrv/) with several faulty probes and healthy controls in one run, then
 * asserts, for every faulty probe: the error class of every sample (the daemon's debug line per
 * sample, its "down" log line) and that every check ended within its timeout (the total time of
 * that line; and the scheduler missed no tick); that the RRD file recorded each of those checks as
 * up = 0; for every control: up = 1 on every row, no row lost (known rows, contiguous, as many as
 * the run allows and at least as many as the samples logged); and that the daemon exits 0 with the
 * loop closed, every sample written (stats: rrd_written = completed, rrd_dropped = 0).
 *
 * DNS: there is no network in CI and whatever resolver there is must not decide the outcome,
 * so vigie runs with tests/faults/fakedns.c in LD_PRELOAD (built by `make faults`, path in
 * $VIGIE_FAKEDNS): nxdomain.vigie.test fails, blackhole.vigie.test never answers,
 * loopback.vigie.test is 127.0.0.1 (a control proving the shim is loaded).
 *
 * The security checks of the network side are here too: TLS verification is on by default and
 * turning it off is logged at start; credentials in URLs and secret headers appear in no output
 * (log, dashboard, graphs, report, notifications, alert state, `vigie check`). */
#define _XOPEN_SOURCE 700

#include <check.h>
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

/* tests/faults/faults.h is not in testutil.h (only the module suites are). */
Suite *faults_net_suite(void);

/* Extra time a check may take past its timeout before it counts as stuck: the loop wakes up a
 * little late, curl notices the timeout on its next timer. */
#define LATE_MS 500

/* One daemon run and what it left. */
struct run {
    char *dir;
    char cfg[600], errlog[600], stats[600];
    int64_t t0, t1; /* wall clock, start and end of the run */
    char *log;      /* its stderr (debug level) */
    json_t *st;     /* --stats */
};

/* What a probe's samples must show. */
struct expect {
    const char *id;
    const char *outcome; /* error class of every sample ("ok" for a control) */
    const char *msg;     /* a substring of the "down" log line's reason, or NULL */
    long timeout_ms;     /* its configured timeout */
    unsigned interval_s;
};

static const char *fakedns_path(char *buf, size_t len)
{
    const char *p = getenv("VIGIE_FAKEDNS");
    const char *srv = getenv("VIGIE_TESTSRV");

    if (p)
        snprintf(buf, len, "%s", p);
    /* next to the test server: build-X/testsrv → build-X/tests/fakedns.so */
    else if (srv && strrchr(srv, '/'))
        snprintf(buf, len, "%.*s/tests/fakedns.so", (int)(strrchr(srv, '/') - srv), srv);
    else
        snprintf(buf, len, "build/tests/fakedns.so");
    return buf;
}

/* Writes dir/vigie.yaml (1 s RRD flush, short retention, `extra` appended) and
 * dir/probes.d/net.yaml (`probes`: the YAML list). */
static void run_setup(struct run *r, const char *extra, const char *probes)
{
    char conf[4096];
    size_t len = strlen(probes) + 64;
    char *yaml = malloc(len);

    ck_assert_ptr_nonnull(yaml);
    r->dir = test_mkdtemp();
    snprintf(yaml, len, "group: \"Loopback\"\nprobes:\n%s", probes);
    free(test_write(r->dir, "probes.d/net.yaml", yaml));
    free(yaml);
    snprintf(conf, sizeof(conf),
             "probes_dir: probes.d\n"
             "rrd_dir: rrd\n"
             "rrd_flush: 1s\n"
             "rrd_retention: {full: 1h, medium: 1h, hourly: 1d, daily: 1d}\n"
             /* longer than the longest check (the drip's 3.5 s timeout): a check started just
              * before the end is drained, never aborted into a missed tick */
             "drain_timeout: 6s\n"
             /* the suite judges outcomes: a loaded machine must not turn samples into "vigie
              * saturated" flags (saturation has tests of its own), neither by a stall nor by a
              * lagging loop */
             "saturation_lag: 5s\noverload: {loop_lag: 5s}\n"
             "%s",
             extra ? extra : "graphs: {enabled: false}\n");
    free(test_write(r->dir, "vigie.yaml", conf));
    snprintf(r->cfg, sizeof(r->cfg), "%s/vigie.yaml", r->dir);
    snprintf(r->errlog, sizeof(r->errlog), "%s/vigie.log", r->dir);
    snprintf(r->stats, sizeof(r->stats), "%s/stats.json", r->dir);
}

/* The end of a log, short enough for a test failure message. */
static const char *tail(const char *log)
{
    size_t len = strlen(log);

    return len > 3000 ? log + len - 3000 : log;
}

/* `vigie run -v --duration` with the DNS shim preloaded; asserts a clean exit. */
static void run_daemon(struct run *r, int seconds)
{
    char dur[32], shim[600], asan[1200];
    const char *argv[] = {"run", "-v", "-c", r->cfg, "--duration", dur, "--stats", r->stats, NULL};
    const char *old = getenv("ASAN_OPTIONS");
    json_error_t je;
    pid_t pid;
    int rc;

    snprintf(dur, sizeof(dur), "%ds", seconds);
    fakedns_path(shim, sizeof(shim));
    ck_assert_msg(access(shim, R_OK) == 0, "%s: the DNS shim is not built (make faults)", shim);
    /* A sanitizer build wants its runtime first in the library list; the shim comes first. */
    snprintf(asan, sizeof(asan), "%s%sverify_asan_link_order=0", old ? old : "", old ? ":" : "");
    setenv("LD_PRELOAD", shim, 1);
    setenv("ASAN_OPTIONS", asan, 1);
    r->t0 = (int64_t)time(NULL);
    pid = test_spawn_vigie(argv, r->errlog);
    unsetenv("LD_PRELOAD");
    if (old)
        setenv("ASAN_OPTIONS", old, 1);
    else
        unsetenv("ASAN_OPTIONS");
    /* the drain (at most 6 s) and the last flush come after the duration */
    rc = test_wait_exit(pid, seconds + test_timeout(20));
    r->t1 = (int64_t)time(NULL);
    r->log = test_slurp(r->errlog, NULL);
    /* VIGIE_FAULTS_LOGS=DIR keeps each run's log there, to read after a failure */
    if (getenv("VIGIE_FAULTS_LOGS")) {
        char name[64];

        snprintf(name, sizeof(name), "faults_net-%d.log", (int)getpid());
        free(test_write(getenv("VIGIE_FAULTS_LOGS"), name, r->log));
    }
    ck_assert_msg(rc == 0, "vigie run exited %d:\n%s", rc, tail(r->log));
    ck_assert_msg(strstr(r->log, "stopped:"), "no clean stop:\n%s", tail(r->log));
    ck_assert_msg(!strstr(r->log, "did not close cleanly"), "%s", tail(r->log));
    r->st = json_load_file(r->stats, 0, &je);
    ck_assert_msg(r->st != NULL, "%s: %s", r->stats, je.text);
}

static void run_free(struct run *r)
{
    json_decref(r->st);
    free(r->log);
    test_rmtree(r->dir);
    free(r->dir);
}

static long long jint(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    ck_assert_msg(json_is_integer(v), "stats has no integer %s", key);
    return json_integer_value(v);
}

/* Every sample written, no tick missed (no check outlived its interval). */
static void assert_nothing_lost(const struct run *r)
{
    ck_assert_msg(jint(r->st, "missed") == 0, "%lld ticks missed", jint(r->st, "missed"));
    /* saturation_lag is 5 s: every sample is a measurement (none flagged as vigie's own lag) */
    ck_assert_int_eq(jint(r->st, "flagged"), 0);
    ck_assert_int_eq(jint(r->st, "rrd_dropped"), 0);
    /* rrd_failures may be > 0: an update that meets a reader's lock (the graph renderer's) is
     * retried at the next flush, written late but written */
    ck_assert_int_eq(jint(r->st, "rrd_written"), jint(r->st, "completed"));
}

/* The per-sample debug lines of probe `id`: "probe ID: OUTCOME dns .. total T us, ...". Returns
 * how many; each outcome must be `outcome` and each total at most max_us. */
static size_t samples_logged(const struct run *r, const char *id, const char *outcome,
                             long long max_us, long long *worst_us)
{
    char key[128];
    size_t n = 0, klen;
    const char *p = r->log;

    snprintf(key, sizeof(key), "vigie: probe %s: ", id);
    klen = strlen(key);
    *worst_us = 0;
    while ((p = strstr(p, key)) != NULL) {
        char got[32];
        long long total;

        p += klen;
        if (sscanf(p, "%31s dns %*d connect %*d tls %*d ttfb %*d total %lld us", got, &total) != 2)
            continue; /* a transition line ("down (...)", "ok again") */
        ck_assert_msg(strcmp(got, outcome) == 0, "probe %s: a sample is %s, want %s", id, got,
                      outcome);
        ck_assert_msg(total <= max_us, "probe %s: a check took %lld us, timeout %lld us", id, total,
                      max_us);
        if (total > *worst_us)
            *worst_us = total;
        n++;
    }
    return n;
}

static char *rrd_path(const struct run *r, const char *id, const char *suffix)
{
    char buf[1024];

    snprintf(buf, sizeof(buf), "%s/rrd/%s%s", r->dir, id, suffix);
    return strdup(buf);
}

/* The probe's known rows of `ds` in its criterion file over the run; values in v (≤ max). */
static size_t rows_known(const struct run *r, const struct expect *e, const char *file_suffix,
                         const char *ds, double *v, size_t max, int *contiguous)
{
    char *path = rrd_path(r, e->id, file_suffix);
    struct series *sr =
        test_fetch(path, "AVERAGE", e->interval_s, r->t0 - 2 * e->interval_s, r->t1 + 2);
    size_t c = series_col(sr, ds), n = 0, first = SIZE_MAX, last = 0;

    for (size_t i = 0; i < sr->nrows; i++) {
        double x = sr->v[i * sr->nds + c];

        if (isnan(x))
            continue;
        if (n < max)
            v[n] = x;
        n++;
        if (first == SIZE_MAX)
            first = i;
        last = i;
    }
    if (contiguous)
        *contiguous = n == 0 || last - first + 1 == n;
    series_free(sr);
    free(path);
    return n;
}

/* A faulty probe: every sample of the expected class, within its timeout, logged as down with
 * its reason, and in the RRD file as up = 0. Returns the slowest check, microseconds. */
static long long assert_fault(const struct run *r, const struct expect *e, unsigned seconds)
{
    long long max_us = (e->timeout_ms + test_timeout(1) * LATE_MS) * 1000LL, worst;
    size_t n = samples_logged(r, e->id, e->outcome, max_us, &worst), k;
    char line[256];
    double v[256];

    /* a sample flagged (vigie saturated: not a measurement of the service) is not logged */
    ck_assert_msg(n + (size_t)jint(r->st, "flagged") >= seconds / e->interval_s - 1,
                  "probe %s: %zu samples in %u s", e->id, n, seconds);
    snprintf(line, sizeof(line), "probe %s: down (%s: ", e->id, e->outcome);
    ck_assert_msg(strstr(r->log, line), "no \"%s\" in the log:\n%s", line, tail(r->log));
    if (e->msg) {
        const char *at = strstr(r->log, line);
        const char *eol = strchr(at, '\n');
        const char *m = strstr(at, e->msg);

        ck_assert_msg(m && (!eol || m < eol), "probe %s: reason without \"%s\"", e->id, e->msg);
    }
    k = rows_known(r, e, ".rrd", "up", v, 256, NULL);
    ck_assert_msg(k >= n, "probe %s: %zu samples logged, %zu rows known", e->id, n, k);
    for (size_t i = 0; i < k && i < 256; i++)
        ck_assert_msg(v[i] == 0, "probe %s: up = %g in a row", e->id, v[i]);
    return worst;
}

/* A control: up on every row, no row lost. Returns its row count. */
static size_t assert_control(const struct run *r, const struct expect *e, unsigned seconds)
{
    long long worst;
    size_t n = samples_logged(r, e->id, "ok", (e->timeout_ms + test_timeout(1) * LATE_MS) * 1000LL,
                              &worst),
           k;
    int contiguous = 0;
    double v[256];

    k = rows_known(r, e, ".rrd", "valid", v, 256, &contiguous);
    ck_assert_msg(contiguous, "control %s: a gap in its rows", e->id);
    ck_assert_msg(k >= n && k + 1 >= seconds / e->interval_s,
                  "control %s: %zu rows for %zu samples logged in a %u s run", e->id, k, n,
                  seconds);
    /* a flagged sample is a known row with valid = 0 and up unknown */
    n = rows_known(r, e, ".rrd", "up", v, 256, NULL);
    ck_assert_msg(n + (size_t)jint(r->st, "flagged") >= k, "control %s: %zu rows, %zu up", e->id, k,
                  n);
    for (size_t i = 0; i < n && i < 256; i++)
        ck_assert_msg(v[i] == 1, "control %s: up = %g in a row", e->id, v[i]);
    return k;
}

/* ---- transport, HTTP and TLS faults, one run ------------------------------------------------ */

#define FAULT_INTERVAL 2
#define FAULT_TIMEOUT_MS 1000

START_TEST(test_transport_faults)
{
    static const struct expect faults[] = {
        {"dns-nxdomain", "dns", "Could not resolve host", FAULT_TIMEOUT_MS, FAULT_INTERVAL},
        {"dns-blackhole", "timeout", "Resolving timed out", FAULT_TIMEOUT_MS, FAULT_INTERVAL},
        {"refused", "connect", "Couldn't connect", FAULT_TIMEOUT_MS, FAULT_INTERVAL},
        {"silence", "timeout", "0 bytes received", FAULT_TIMEOUT_MS, FAULT_INTERVAL},
        {"stalled-body", "timeout", "100 out of 1000 bytes", FAULT_TIMEOUT_MS, FAULT_INTERVAL},
        {"drip", "timeout", "out of 100 bytes", 3500, 5}, /* a few bytes arrive */
        {"garbage", "protocol", NULL, FAULT_TIMEOUT_MS, FAULT_INTERVAL},
        {"reset", "protocol", NULL, FAULT_TIMEOUT_MS, FAULT_INTERVAL},
        {"huge-header", "protocol", "headers too large", FAULT_TIMEOUT_MS, FAULT_INTERVAL},
        {"redirect-loop", "redirect_loop", "redirects followed", FAULT_TIMEOUT_MS, FAULT_INTERVAL},
        {"to-file", "protocol", "\"file\" not supported", FAULT_TIMEOUT_MS, FAULT_INTERVAL},
        {"to-ftp", "protocol", "\"ftp\" not supported", FAULT_TIMEOUT_MS, FAULT_INTERVAL},
        {"to-gopher", "protocol", "\"gopher\" not supported", FAULT_TIMEOUT_MS, FAULT_INTERVAL},
        {"to-dict", "protocol", "\"dict\" not supported", FAULT_TIMEOUT_MS, FAULT_INTERVAL},
        {"headers-redirect", "http_status", "status 302", FAULT_TIMEOUT_MS, FAULT_INTERVAL},
        {"tls-expired", "tls", "expired", FAULT_TIMEOUT_MS, FAULT_INTERVAL},
        {"tls-self-signed", "tls", "self-signed", FAULT_TIMEOUT_MS, FAULT_INTERVAL},
        {"tls-untrusted-ca", "tls", "local issuer", FAULT_TIMEOUT_MS, FAULT_INTERVAL},
        {"tls-wrong-host", "tls", "no alternative certificate subject name", FAULT_TIMEOUT_MS,
         FAULT_INTERVAL},
        {"tls-stall", "timeout", "timed out", FAULT_TIMEOUT_MS, FAULT_INTERVAL},
    };
    static const struct expect controls[] = {
        {"ctl-http", "ok", NULL, 500, 1},  {"ctl-name", "ok", NULL, 500, 1},
        {"ctl-https", "ok", NULL, 500, 1}, {"ctl-redirect", "ok", NULL, 500, 1},
        {"ctl-body", "ok", NULL, 500, 1},
    };
    const unsigned seconds = 10;
    struct run r = {0};
    char probes[8192];
    const int h = test_srv.http;
    const char *ca = test_srv.ca;
    long long worst[sizeof(faults) / sizeof(faults[0])];

    snprintf(
        probes, sizeof(probes),
        "  - {id: dns-nxdomain, url: \"http://nxdomain.vigie.test:%d/\"}\n"
        "  - {id: dns-blackhole, url: \"http://blackhole.vigie.test:%d/\"}\n"
        "  - {id: refused, url: \"http://127.0.0.1:%d/\"}\n"
        "  - {id: silence, url: \"http://127.0.0.1:%d/?mode=silence\"}\n"
        "  - {id: stalled-body, url: \"http://127.0.0.1:%d/?mode=stall\"}\n"
        "  - {id: drip, url: \"http://127.0.0.1:%d/?drip=1000&size=100\", interval: 5s,"
        " timeout: 3500ms}\n"
        "  - {id: garbage, url: \"http://127.0.0.1:%d/?mode=garbage\"}\n"
        "  - {id: reset, url: \"http://127.0.0.1:%d/?mode=reset\"}\n"
        "  - {id: huge-header, url: \"http://127.0.0.1:%d/?mode=hugeheader\"}\n"
        "  - {id: redirect-loop, url: \"http://127.0.0.1:%d/?loop=1\"}\n"
        "  - {id: to-file, url: \"http://127.0.0.1:%d/?location=file:///etc/passwd\"}\n"
        "  - {id: to-ftp, url: \"http://127.0.0.1:%d/?location=ftp://127.0.0.1:%d/\"}\n"
        "  - {id: to-gopher, url: \"http://127.0.0.1:%d/?location=gopher://127.0.0.1:%d/\"}\n"
        "  - {id: to-dict, url: \"http://127.0.0.1:%d/?location=dict://127.0.0.1:%d/d:x\"}\n"
        /* configured headers: no redirect is followed (libcurl would take them to the
         * Location's host); the 302 is the answer, outside this probe's status set */
        "  - {id: headers-redirect, url: \"https://127.0.0.1:%d/?location=http://localhost:%d/\","
        " headers: {X-Token: t}, expect: {status: \"200\"}, tls: {ca_file: \"%s\"}}\n"
        "  - {id: tls-expired, url: \"https://127.0.0.1:%d/\", tls: {ca_file: \"%s\"}}\n"
        "  - {id: tls-self-signed, url: \"https://127.0.0.1:%d/\", tls: {ca_file: \"%s\"}}\n"
        /* no ca_file: the system store does not know the test CA (verification is on) */
        "  - {id: tls-untrusted-ca, url: \"https://127.0.0.1:%d/\"}\n"
        "  - {id: tls-wrong-host, url: \"https://127.0.0.1:%d/\", tls: {ca_file: \"%s\"}}\n"
        "  - {id: tls-stall, url: \"https://127.0.0.1:%d/\", tls: {ca_file: \"%s\"}}\n"
        "  - {id: ctl-http, url: \"http://127.0.0.1:%d/?c=1\", interval: 1s, timeout: 500ms}\n"
        "  - {id: ctl-name, url: \"http://loopback.vigie.test:%d/?c=2\", interval: 1s,"
        " timeout: 500ms}\n"
        "  - {id: ctl-https, url: \"https://127.0.0.1:%d/?c=3\", interval: 1s, timeout: 500ms,"
        " tls: {ca_file: \"%s\"}}\n"
        "  - {id: ctl-redirect, url: \"http://127.0.0.1:%d/?redirect=2&c=4\", interval: 1s,"
        " timeout: 500ms}\n"
        "  - {id: ctl-body, url: \"http://127.0.0.1:%d/?body=bienvenue&c=5\", interval: 1s,"
        " timeout: 500ms, expect: {body: bienvenue}}\n",
        h, h, test_srv.refused, h, h, h, h, h, h, h, h, h, h, h, h, h, h, test_srv.https, h, ca,
        test_srv.expired, ca, test_srv.selfsigned, ca, test_srv.https, test_srv.wronghost, ca,
        test_srv.stall, ca, h, h, test_srv.https, ca, h, h);
    /* Most probes fail at the network level at once: without a canary answering, vigie would
     * take that for its own network being cut off and flag the samples (docs/ALERTING.md). The
     * canary shares its host (127.0.0.1:PORT) with failing probes: judged on its own checks. */
    run_setup(&r,
              "graphs: {enabled: false}\n"
              "alerting: {canaries: [ctl-http]}\n"
              "defaults: {interval: 2s, timeout: 1s}\n",
              probes);
    run_daemon(&r, (int)seconds);
    assert_nothing_lost(&r);
    /* the canary answers, though it shares its host with failing probes */
    ck_assert_msg(!strstr(r.log, "vigie cannot check"), "vigie thought itself impaired:\n%s",
                  tail(r.log));
    for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
        worst[i] = assert_fault(&r, &faults[i], seconds);
    for (size_t i = 0; i < sizeof(controls) / sizeof(controls[0]); i++)
        assert_control(&r, &controls[i], seconds);
    /* A name that never resolves leaves no DNS time in the phases file; one that fails neither. */
    {
        double v[64];

        ck_assert_uint_eq(rows_known(&r, &faults[0], ".phases.rrd", "dns", v, 64, NULL), 0);
        ck_assert_uint_eq(rows_known(&r, &faults[1], ".phases.rrd", "dns", v, 64, NULL), 0);
        /* the stalled body: headers arrived, so the first byte is known (every sample not
         * flagged) */
        long long w;
        size_t n = samples_logged(&r, faults[4].id, "timeout", 1LL << 62, &w);

        ck_assert_uint_ge(n, 1);
        ck_assert_uint_ge(rows_known(&r, &faults[4], ".phases.rrd", "ttfb", v, 64, NULL), n);
    }
    /* the figures for docs/RELIABILITY.md */
    for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
        fprintf(stderr, "faults_net: %-16s %-13s slowest check %.3f s\n", faults[i].id,
                faults[i].outcome, (double)worst[i] / 1e6);
    fprintf(stderr, "faults_net: transport run: %lld checks, %lld missed, %lld written\n",
            jint(r.st, "completed"), jint(r.st, "missed"), jint(r.st, "rrd_written"));
    run_free(&r);
}
END_TEST

/* ---- 100 MB bodies: cut at the cap, or streamed through without being held ------------------ */

START_TEST(test_huge_body)
{
    static const struct expect capped = {"body-capped", "too_large", "body larger than 1048576",
                                         2000, 3};
    static const struct expect kept = {"body-kept", "too_large", "body larger than 1048576", 2000,
                                       3};
    static const struct expect streamed = {"body-streamed", "ok", NULL, 2000, 3};
    static const struct expect controls[] = {
        {"ctl-a", "ok", NULL, 500, 1},
        {"ctl-b", "ok", NULL, 500, 1},
        {"ctl-c", "ok", NULL, 500, 1},
    };
    const unsigned seconds = 10;
    const long long size = 100LL * 1000 * 1000;
    struct run r = {0};
    char probes[4096];
    const int h = test_srv.http;
    long long worst, rss_kib;
    size_t n;

    snprintf(probes, sizeof(probes),
             /* the default cap, 1 MiB: cut there */
             "  - {id: body-capped, url: \"http://127.0.0.1:%d/?size=%lld&b=1\"}\n"
             /* a body expectation keeps the body in memory, up to the cap only */
             "  - {id: body-kept, url: \"http://127.0.0.1:%d/?size=%lld&b=2\","
             " expect: {body: zzz}}\n"
             /* a cap above the size: all 100 MB read, counted, and dropped as they come */
             "  - {id: body-streamed, url: \"http://127.0.0.1:%d/?size=%lld&b=3\","
             " expect: {max_bytes: 1GiB}}\n"
             "  - {id: ctl-a, url: \"http://127.0.0.1:%d/?c=a\", interval: 1s, timeout: 500ms}\n"
             "  - {id: ctl-b, url: \"http://127.0.0.1:%d/?c=b\", interval: 1s, timeout: 500ms}\n"
             "  - {id: ctl-c, url: \"http://127.0.0.1:%d/?c=c\", interval: 1s, timeout: 500ms}\n",
             h, size, h, size, h, size, h, h, h);
    run_setup(&r, "graphs: {enabled: false}\ndefaults: {interval: 3s, timeout: 2s}\n", probes);
    run_daemon(&r, (int)seconds);
    assert_nothing_lost(&r);
    assert_fault(&r, &capped, seconds);
    assert_fault(&r, &kept, seconds);
    n = samples_logged(&r, streamed.id, "ok",
                       (streamed.timeout_ms + test_timeout(1) * LATE_MS) * 1000LL, &worst);
    ck_assert_uint_ge(n, seconds / streamed.interval_s - 1);
    for (size_t i = 0; i < sizeof(controls) / sizeof(controls[0]); i++)
        assert_control(&r, &controls[i], seconds);
    /* Peak RSS of the daemon (getrusage: VmHWM at exit), against the 100 MB it read several
     * times over. A sanitizer build keeps freed memory in quarantine: a looser bound there. */
    rss_kib = jint(r.st, "maxrss_kib");
#if defined(__SANITIZE_ADDRESS__)
    ck_assert_msg(rss_kib < 160 * 1024, "peak RSS %lld KiB", rss_kib);
#else
    ck_assert_msg(rss_kib < 48 * 1024, "peak RSS %lld KiB", rss_kib);
#endif
    fprintf(stderr, "faults_net: 100 MB bodies: peak RSS %lld KiB, streamed in %.3f s at worst\n",
            rss_kib, (double)worst / 1e6);
    run_free(&r);
}
END_TEST

/* ---- security: TLS verification, credentials and secret headers ---------------------------- */

#define SECRET_PW "PwInUrl-7f3a9c"
#define SECRET_PW2 "PwInRedirect-51d2e8"
/* SECRET_PW2 percent-encoded: the probe's URL holds it only in this form, in its query (vigie
 * redacts the user information of URLs, not their queries); the test server decodes it into
 * the Location it answers, so the literal secret is in the URL vigie ends at. */
#define SECRET_PW2_ENC                                                                             \
    "%%50%%77%%49%%6e%%52%%65%%64%%69%%72%%65%%63%%74%%2d%%35%%31%%64%%32%%65%%38"
#define SECRET_TOKEN "TokenHdr-c0ffee42"
#define SECRET_KEY "ApiKeyHdr-9b8a7c"

static const char *const secrets[] = {SECRET_PW, SECRET_PW2, SECRET_TOKEN, SECRET_KEY};

static bool has_bytes(const char *buf, size_t len, const char *needle)
{
    size_t n = strlen(needle);

    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(buf + i, needle, n) == 0)
            return true;
    return false;
}

/* Asserts no secret in buf; `what` names it. */
static void assert_clean(const char *what, const char *buf, size_t len)
{
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
        ck_assert_msg(!has_bytes(buf, len, secrets[i]), "%s holds the secret %s", what, secrets[i]);
}

/* Every regular file under dir: no secret. Returns how many files were read. */
static size_t assert_tree_clean(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;

    if (!d)
        return 0;
    while ((e = readdir(d))) {
        char path[2048];
        struct stat st;

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            n += assert_tree_clean(path);
        } else if (S_ISREG(st.st_mode)) {
            size_t len;
            char *buf = test_slurp(path, &len);

            assert_clean(path, buf, len);
            free(buf);
            n++;
        }
    }
    closedir(d);
    return n;
}

static char *file_in(const struct run *r, const char *name)
{
    char buf[1024];

    snprintf(buf, sizeof(buf), "%s/%s", r->dir, name);
    return strdup(buf);
}

START_TEST(test_secrets_and_tls_verify)
{
    static const struct expect creds = {"creds", "http_status", "status 503", 1500, 2};
    static const struct expect creds_redirect = {"creds-redirect", "http_status", "status 500",
                                                 1500, 2};
    static const struct expect header = {"secret-header", "http_status", "status 500", 1500, 2};
    static const struct expect expired = {"tls-default", "tls", "certificate problem", 1500, 2};
    static const struct expect control = {"ctl", "ok", NULL, 1500, 2};
    const int h = test_srv.http;
    const unsigned seconds = (unsigned)test_timeout(10); /* the renderer is slow under ASan */
    char probes[4096], extra[2048], out[700], today[16], want[128], *rx, *path, *o = NULL,
                                                                                *e = NULL;
    struct run r = {0};
    struct tm tm;
    time_t now = time(NULL);
    size_t files;

    snprintf(
        probes, sizeof(probes),
        "  - {id: creds, url: \"http://alice:" SECRET_PW "@127.0.0.1:%d/?status=503\"}\n"
        "  - {id: creds-redirect, url: \"http://127.0.0.1:%d/?location=http://bob:" SECRET_PW2_ENC
        "@127.0.0.1:%d/%%3Fstatus=500\"}\n"
        "  - {id: secret-header, url: \"http://127.0.0.1:%d/?status=500\", headers: "
        "{Authorization: \"Bearer " SECRET_TOKEN "\", X-Api-Key: \"" SECRET_KEY "\"}}\n"
        /* verification on by default: the expired certificate fails */
        "  - {id: tls-default, url: \"https://127.0.0.1:%d/\"}\n"
        /* off for this probe only, explicitly: it is measured (and said at start) */
        "  - {id: tls-off, url: \"https://127.0.0.1:%d/\", tls: {verify: false}}\n"
        "  - {id: ctl, url: \"http://127.0.0.1:%d/?c=s\"}\n",
        h, h, h, h, test_srv.expired, test_srv.expired, h);
    /* the exec receiver keeps each notification as out/n-<id>.json */
    run_setup(&r, "graphs: {enabled: false}\n", probes); /* makes r.dir, rewritten below */
    snprintf(out, sizeof(out), "%s/out", r.dir);
    ck_assert_int_eq(mkdir(out, 0755), 0);
    {
        char script[4096];

        snprintf(script, sizeof(script),
                 "#!/bin/sh\nset -e\ncat > \"%s/.tmp-$VIGIE_ID\"\n"
                 "mv \"%s/.tmp-$VIGIE_ID\" \"%s/n-$VIGIE_ID.json\"\n",
                 out, out, out);
        rx = test_write(r.dir, "receiver.sh", script);
        ck_assert_int_eq(chmod(rx, 0755), 0);
    }
    snprintf(extra, sizeof(extra),
             "probes_dir: probes.d\nrrd_dir: rrd\nrrd_flush: 1s\n"
             "rrd_retention: {full: 1h, medium: 1h, hourly: 1d, daily: 1d}\n"
             "drain_timeout: 3s\nsaturation_lag: 5s\noverload: {loop_lag: 5s}\n"
             "graphs: {interval: 2s, formats: [svg, png], lang: en}\n"
             "receivers:\n  - {name: pager, type: exec, command: [\"%s\"], timeout: 10s}\n"
             "alerting:\n  group_wait: 1s\n"
             "  routes:\n    - {name: all, receivers: [pager], repeat: 0s}\n"
             "defaults: {interval: 2s, timeout: 1500ms, alert: {confirm: 2, recover: 1}}\n",
             rx);
    free(test_write(r.dir, "vigie.yaml", extra));
    run_daemon(&r, (int)seconds);
    assert_nothing_lost(&r);

    /* TLS: the default verifies; turning it off is said at start, for that probe only */
    assert_fault(&r, &expired, seconds);
    ck_assert_msg(strstr(r.log, "probe tls-off: TLS certificate verification is off"),
                  "no start-up warning for tls.verify: false:\n%s", tail(r.log));
    ck_assert_msg(!strstr(r.log, "probe tls-default: TLS certificate verification is off"), "%s",
                  tail(r.log));
    {
        const char *warn = strstr(r.log, "verification is off");
        const char *first = strstr(r.log, "vigie: probe tls-off: ok dns");

        ck_assert_msg(warn && first && warn < first, "the warning comes before the first check");
    }

    /* the failing probes are failing, so their reasons and URLs reach every output */
    assert_fault(&r, &creds, seconds);
    assert_fault(&r, &creds_redirect, seconds);
    assert_fault(&r, &header, seconds);
    assert_control(&r, &control, seconds);

    /* the daemon's own outputs: its log (debug level), the dashboard it kept (with the last
     * errors), the graphs (titles), the criterion report, the notifications and the alert state */
    assert_clean("the daemon's log", r.log, strlen(r.log));
    path = file_in(&r, "graphs/probe/creds.html");
    {
        char *page = test_slurp(path, NULL);

        ck_assert_msg(strstr(page, "http_status") && strstr(page, "503"),
                      "the dashboard has no last error for creds");
        ck_assert_ptr_nonnull(strstr(page, "http://127.0.0.1:"));
        free(page);
    }
    free(path);
    path = file_in(&r, "graphs/report.html");
    ck_assert_msg(access(path, R_OK) == 0, "no criterion report");
    free(path);
    path = file_in(&r, "graphs");
    files = assert_tree_clean(path);
    ck_assert_uint_ge(files, 10);
    free(path);
    /* outputs written by `vigie check`, `vigie report` and `vigie dashboard` */
    {
        const char *argv[] = {"check", "-c", r.cfg, "--json", NULL};

        ck_assert_int_eq(test_vigie(argv, &o, &e, 60), 2);
        ck_assert_ptr_nonnull(strstr(o, "\"creds\""));
        /* the redirect's target, without its user information */
        snprintf(want, sizeof(want), "\"url\":\"http://127.0.0.1:%d/?status=500\"", h);
        ck_assert_msg(strstr(o, want), "no %s in\n%s", want, o);
        assert_clean("vigie check --json (stdout)", o, strlen(o));
        assert_clean("vigie check --json (stderr)", e, strlen(e));
        free(o);
        free(e);
        argv[3] = NULL;
        ck_assert_int_eq(test_vigie(argv, &o, &e, 60), 2);
        assert_clean("vigie check (stdout)", o, strlen(o));
        assert_clean("vigie check (stderr)", e, strlen(e));
        free(o);
        free(e);
    }
    gmtime_r(&now, &tm);
    strftime(today, sizeof(today), "%Y-%m-%d", &tm);
    for (int f = 0; f < 4; f++) {
        static const char *const fmts[] = {"table", "csv", "json", "html"};
        const char *argv[] = {"report", "-c",  r.cfg,      "--from", today,
                              "--to",   today, "--format", fmts[f],  NULL};

        ck_assert_int_le(test_vigie(argv, &o, &e, 60), 1);
        ck_assert_msg(strstr(o, "creds"), "report %s without the probe:\n%s", fmts[f], o);
        assert_clean(fmts[f], o, strlen(o));
        assert_clean("vigie report (stderr)", e, strlen(e));
        free(o);
        free(e);
    }
    {
        const char *argv[] = {"dashboard", "-c", r.cfg, NULL};

        ck_assert_int_eq(test_vigie(argv, &o, &e, 60), 0);
        assert_clean("vigie dashboard", o, strlen(o));
        assert_clean("vigie dashboard (stderr)", e, strlen(e));
        free(o);
        free(e);
    }
    path = file_in(&r, "graphs"); /* as `vigie dashboard` rewrote it */
    assert_tree_clean(path);
    free(path);

    path = file_in(&r, "state");
    assert_tree_clean(path);
    free(path);
    {
        size_t nn = assert_tree_clean(out);
        char *all = NULL;
        size_t all_len = 0;
        FILE *cat = open_memstream(&all, &all_len);
        DIR *d = opendir(out);
        struct dirent *de;

        ck_assert_uint_ge(nn, 1);
        while ((de = readdir(d))) {
            char p2[1200];

            if (strncmp(de->d_name, "n-", 2) != 0)
                continue;
            snprintf(p2, sizeof(p2), "%s/%s", out, de->d_name);
            char *t = test_slurp(p2, NULL);
            fputs(t, cat);
            free(t);
        }
        closedir(d);
        fclose(cat);
        /* the notifications name the failing probes and their (redacted) URLs */
        ck_assert_msg(strstr(all, "\"creds\"") && strstr(all, "\"secret-header\""),
                      "notifications:\n%s", all);
        ck_assert_msg(strstr(all, "http://127.0.0.1:"), "notifications:\n%s", all);
        free(all);
    }
    fprintf(stderr, "faults_net: secrets: %zu files under graphs/ and every output clean\n", files);
    free(rx);
    run_free(&r);
}
END_TEST

/* Probe URLs of other schemes are refused at load, with the place. */
START_TEST(test_scheme_refused_at_load)
{
    static const char *const urls[] = {"file:///etc/passwd", "ftp://127.0.0.1/", "gopher://h/",
                                       "dict://h/d:x", "ldap://h/"};

    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        char *dir = test_mkdtemp(), yaml[512], *e = NULL, *cfg;
        const char *argv[] = {"validate", "-c", NULL, NULL};

        snprintf(yaml, sizeof(yaml), "group: G\nprobes:\n  - {id: p, url: \"%s\"}\n", urls[i]);
        free(test_write(dir, "probes.d/a.yaml", yaml));
        cfg = test_write(dir, "vigie.yaml", "probes_dir: probes.d\n");
        argv[2] = cfg;
        ck_assert_int_ne(test_vigie(argv, NULL, &e, 30), 0);
        ck_assert_msg(strstr(e, "a.yaml:3:") && strstr(e, "only http and https"), "%s: %s", urls[i],
                      e);
        free(e);
        free(cfg);
        test_rmtree(dir);
        free(dir);
    }
}
END_TEST

Suite *faults_net_suite(void)
{
    Suite *s = suite_create("faults_net");
    TCase *tc = tcase_create("network faults");

    tcase_add_unchecked_fixture(tc, test_srv_up, test_srv_down);
    tcase_set_timeout(tc, test_timeout(90));
    tcase_add_test(tc, test_transport_faults);
    tcase_add_test(tc, test_huge_body);
    tcase_add_test(tc, test_secrets_and_tls_verify);
    tcase_add_test(tc, test_scheme_refused_at_load);
    suite_add_tcase(s, tc);
    return s;
}
