/* sim — the simulated services of `vigie simulate` and `vigie demo`, on 127.0.0.1 only.
 *
 * The profiles and the capacity are measured with vigie's own client (check_start through httpc,
 * libcurl) against the simulator on the same loop; the scenario's timeline as a table and live;
 * the generated configuration by loading it; and `vigie demo` end to end (the real daemon, RRD
 * files read back with rrdtool, the notifications, the pages, no process left). */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <uv.h>

#include "probe/check.h"
#include "config/config.h"
#include "base/diag.h"
#include "net/httpc.h"
#include "net/result.h"
#include "sim/sim.h"
#include "testutil.h"

static struct config *load(const char *path)
{
    struct config *cfg = NULL;
    struct diag d;

    diag_init(&d);
    if (config_load(path, &cfg, &d) != 0)
        diag_print(&d, stderr);
    diag_fini(&d);
    ck_assert_msg(cfg != NULL, "%s does not load", path);
    return cfg;
}

/* A source configuration: dir/vigie.yaml (extra settings appended) and one probes file. */
static char *source(const char *dir, const char *file, const char *probes, const char *extra)
{
    char name[256], *p;

    free(test_write(dir, "vigie.yaml", extra ? extra : "probes_dir: probes.d\n"));
    snprintf(name, sizeof(name), "probes.d/%s", file);
    free(test_write(dir, name, probes));
    p = malloc(strlen(dir) + 16);
    ck_assert_ptr_nonnull(p);
    snprintf(p, strlen(dir) + 16, "%s/vigie.yaml", dir);
    return p;
}

/* The simulator on a loop, the configuration it wrote, and vigie's client firing checks of one
 * probe, `conc` at a time, `total` in all. */
struct bench {
    uv_loop_t loop;
    struct sim *sim;
    struct httpc *h;
    struct config *src, *gen;
    const struct probe *p;
    size_t conc, total, started, done;
    size_t ok, s502, s503, reset, refused, other;
    double *ms; /* total time of each 200, ms */
    size_t nms;
    bool sim_closed;
};

static void bench_next(struct bench *b);

static void on_done(void *arg, const struct probe *p, const struct result *r)
{
    struct bench *b = arg;

    (void)p;
    b->done++;
    if (r->status == 200 && r->outcome == OUTCOME_OK) {
        b->ok++;
        b->ms[b->nms++] = r->total_us / 1000.0;
    } else if (r->status == 502) {
        b->s502++;
    } else if (r->status == 503) {
        b->s503++;
    } else if (r->outcome == OUTCOME_CONNECT) {
        b->refused++;
    } else if (r->status == 0) {
        b->reset++;
    } else {
        b->other++;
    }
    bench_next(b);
}

static void bench_next(struct bench *b)
{
    while (b->started < b->total && b->started - b->done < b->conc) {
        b->started++;
        ck_assert_int_eq(check_start(b->h, b->gen, b->p, on_done, b), 0);
    }
}

static void on_sim_closed(void *arg)
{
    ((struct bench *)arg)->sim_closed = true;
}

static void on_httpc_closed(void *arg)
{
    (void)arg;
}

static void bench_start(struct bench *b, const char *dir, const char *src_path,
                        const struct sim_opts *so)
{
    struct sim_write_opts wo = {.source = src_path};
    char gen[4096], err[512];

    httpc_global_init();
    b->src = load(src_path);
    ck_assert_int_eq(uv_loop_init(&b->loop), 0);
    ck_assert_int_eq(sim_start(&b->loop, b->src, so, &b->sim), 0);
    snprintf(gen, sizeof(gen), "%s/gen", dir);
    ck_assert_msg(sim_write_config(b->sim, gen, &wo, err, sizeof(err)) == 0, "%s", err);
    snprintf(gen, sizeof(gen), "%s/gen/vigie.yaml", dir);
    b->gen = load(gen);
    b->p = &b->gen->probes[0];
    b->h = httpc_new(&b->loop);
    ck_assert_ptr_nonnull(b->h);
}

static void bench_run(struct bench *b, size_t total, size_t conc)
{
    b->total += total;
    b->conc = conc;
    b->ms = realloc(b->ms, b->total * sizeof(*b->ms));
    ck_assert_ptr_nonnull(b->ms);
    bench_next(b);
    while (b->done < b->total)
        uv_run(&b->loop, UV_RUN_ONCE);
}

static void bench_stop(struct bench *b)
{
    httpc_close(b->h, on_httpc_closed, NULL);
    sim_close(b->sim, on_sim_closed, b);
    uv_run(&b->loop, UV_RUN_DEFAULT);
    ck_assert(b->sim_closed);
    ck_assert_int_eq(uv_loop_close(&b->loop), 0);
    config_free(b->gen);
    config_free(b->src);
    free(b->ms);
}

/* jdma 1734 (the road-safety exam results): 90.275 % uptime in the observatory's data. Over 400
 * requests its service answers about 9.7 % errors (binomial sd 1.5 %). */
START_TEST(test_profile_availability)
{
    char *dir = test_mkdtemp();
    char *src = source(dir, "x.yaml",
                       "group: G\nprobes:\n  - id: permis\n    url: http://example.org/r\n"
                       "    jdma: [1734]\n",
                       NULL);
    struct sim_opts so = {.latency_scale = 0.02, .seed = 42, .capacity = 64};
    struct bench b = {0};
    double share;

    bench_start(&b, dir, src, &so);
    bench_run(&b, 400, 16);
    share = (double)b.s503 / 400;
    ck_assert_msg(b.ok + b.s503 == 400, "ok %zu 503 %zu 502 %zu reset %zu refused %zu other %zu",
                  b.ok, b.s503, b.s502, b.reset, b.refused, b.other);
    ck_assert_msg(fabs(share - 0.09725) < 0.045, "errors %.3f, expected 0.097 +- 0.045", share);
    bench_stop(&b);
    free(src);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* jdma 44 (ameli): of 1,977 answers, 613 under 125 ms, 1,372 under 250 ms, 1,973 under 500 ms.
 * With every delay × 0.5, the shares under 62.5, 125 and 250 ms are those, within 0.08. */
START_TEST(test_profile_latency)
{
    static const double bound[3] = {62.5, 125, 250},
                        want[3] = {613 / 1977.0, 1372 / 1977.0, 1973 / 1977.0};
    char *dir = test_mkdtemp();
    char *src = source(dir, "x.yaml",
                       "group: G\nprobes:\n  - id: ameli\n    url: http://example.org/\n"
                       "    jdma: [44]\n",
                       NULL);
    struct sim_opts so = {.latency_scale = 0.5, .seed = 7, .capacity = 64};
    struct bench b = {0};

    bench_start(&b, dir, src, &so);
    bench_run(&b, 400, 24);
    ck_assert_uint_ge(b.ok, 390);
    for (int k = 0; k < 3; k++) {
        size_t under = 0;
        double share;

        for (size_t i = 0; i < b.nms; i++)
            under += b.ms[i] < bound[k];
        share = (double)under / (double)b.nms;
        ck_assert_msg(fabs(share - want[k]) < 0.08, "under %.0f ms: %.3f, expected %.3f +- 0.08",
                      bound[k], share, want[k]);
    }
    bench_stop(&b);
    free(src);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* Past `capacity` connections at once, the service resets the connection: 12 checks at once of
 * a service answering in about 200 ms with a capacity of 4 give 4 answers and 8 resets. */
START_TEST(test_capacity)
{
    char *dir = test_mkdtemp();
    char *src = source(dir, "x.yaml",
                       "group: G\nprobes:\n  - id: ameli\n    url: http://example.org/\n"
                       "    jdma: [44]\n",
                       NULL);
    struct sim_opts so = {.latency_scale = 2, .seed = 3, .capacity = 4};
    struct bench b = {0};
    struct sim_stats st;

    bench_start(&b, dir, src, &so);
    bench_run(&b, 12, 12);
    sim_stats(b.sim, &st);
    ck_assert_msg(b.ok >= 3 && b.ok <= 4, "ok %zu reset %zu", b.ok, b.reset);
    /* Reset before the request was read: curl reports a connect or receive failure. */
    ck_assert_msg(b.ok + b.s503 + b.reset + b.refused + b.other == 12,
                  "ok %zu 503 %zu reset %zu refused %zu other %zu", b.ok, b.s503, b.reset,
                  b.refused, b.other);
    ck_assert_uint_ge(st.resets, 8);
    /* Once they are done, the service answers again. */
    bench_run(&b, 4, 4);
    ck_assert_uint_ge(b.ok, 7);
    bench_stop(&b);
    free(src);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* The timeline as a table: each wave at the fractions docs/SIMULATE.md gives. */
START_TEST(test_scenario_table)
{
    static const struct {
        enum sim_wave w;
        double frac;
        const char *phase;
        bool closed;
        double lat_min, lat_max, load_min;
    } cases[] = {
        {SIM_SCHOOL, 0.05, "calm", false, 1, 1, 0},
        {SIM_SCHOOL, 0.16, "schools: rush", false, 2.5, 3.5, 1.3},
        {SIM_SCHOOL, 0.22, "schools: saturated", false, 5, 8, 3},
        {SIM_SCHOOL, 0.27, "schools: down", true, 20, 20, 4},
        {SIM_SCHOOL, 0.33, "schools: saturated", false, 15, 20, 3.5},
        {SIM_SCHOOL, 0.49, "schools: slow recovery", false, 5, 6.5, 1.3},
        {SIM_SCHOOL, 0.70, "calm", false, 1, 1, 0},
        {SIM_EMPLOYMENT, 0.30, "calm", false, 1, 1, 0},
        {SIM_EMPLOYMENT, 0.52, "employment: short-time work rush", false, 5, 6, 2},
        {SIM_EMPLOYMENT, 0.72, "second wave: slow recovery", false, 3, 4, 1},
        {SIM_EMPLOYMENT, 0.90, "calm", false, 1, 1, 0},
        {SIM_TAX, 0.45, "calm", false, 1, 1, 0},
        {SIM_TAX, 0.60, "tax: solidarity fund", false, 4.9, 5.1, 2.2},
        {SIM_TAX, 0.77, "second wave: slow recovery", false, 2.9, 3.1, 1.1},
        {SIM_TAX, 0.95, "calm", false, 1, 1, 0},
        {SIM_CALM, 0.27, "calm", false, 1, 1, 0},
        {SIM_SCHOOL, 1.2, "calm", false, 1, 1, 0},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sim_state st;

        sim_scenario_at(cases[i].w, cases[i].frac, &st);
        ck_assert_msg(strcmp(st.phase, cases[i].phase) == 0, "case %zu: phase \"%s\"", i, st.phase);
        ck_assert_msg(st.closed == cases[i].closed, "case %zu: closed %d", i, st.closed);
        ck_assert_msg(st.latency >= cases[i].lat_min - 1e-9 && st.latency <= cases[i].lat_max,
                      "case %zu: latency %.2f", i, st.latency);
        ck_assert_msg(st.load >= cases[i].load_min, "case %zu: load %.2f", i, st.load);
    }
}
END_TEST

/* The waves by file and by group. */
START_TEST(test_wave_of)
{
    struct probe p = {0};
    char f1[] = "/x/probes.d/education.yaml", f2[] = "/x/probes.d/other.yaml";
    char g1[] = "Travail et emploi", g2[] = "DGFiP (impots.gouv.fr)", g3[] = "CAF";

    p.file = f1;
    p.group = g3;
    ck_assert_int_eq(sim_wave_of(&p), SIM_SCHOOL);
    p.file = f2;
    ck_assert_int_eq(sim_wave_of(&p), SIM_CALM);
    p.group = g1;
    ck_assert_int_eq(sim_wave_of(&p), SIM_EMPLOYMENT);
    p.group = g2;
    ck_assert_int_eq(sim_wave_of(&p), SIM_TAX);
}
END_TEST

/* Live, over a 6 s scenario: a school service answers in the calm, refuses connections while
 * "schools: down" (24-30 % of the run, 1.44-1.8 s), and answers again once it is over. */
static void run_until(struct bench *b, uint64_t t0, uint64_t ms)
{
    /* The scenario's tick (100 ms) keeps the loop waking up. */
    while (uv_now(&b->loop) - t0 < ms)
        uv_run(&b->loop, UV_RUN_ONCE);
}

START_TEST(test_scenario_live)
{
    char *dir = test_mkdtemp();
    char *src = source(dir, "education.yaml",
                       "group: \"Éducation nationale\"\nprobes:\n  - id: ent\n"
                       "    url: http://example.org/ent\n    jdma: [3084]\n",
                       NULL);
    struct sim_opts so = {.latency_scale = 0.05, .seed = 5, .scenario_ms = 6000};
    struct bench b = {0};
    struct sim_state st;
    size_t before;
    uint64_t t0;

    bench_start(&b, dir, src, &so);
    t0 = uv_now(&b.loop);
    bench_run(&b, 3, 3);
    ck_assert_uint_le(uv_now(&b.loop) - t0, 600);
    ck_assert_uint_eq(b.ok, 3);

    run_until(&b, t0, 1600);
    sim_state_of(b.sim, 0, &st);
    ck_assert_str_eq(st.phase, "schools: down");
    ck_assert(st.closed);
    bench_run(&b, 2, 2);
    ck_assert_msg(b.refused == 2, "refused %zu (ok %zu, reset %zu, 5xx %zu)", b.refused, b.ok,
                  b.reset, b.s502 + b.s503);

    run_until(&b, t0, 6250);
    sim_state_of(b.sim, 0, &st);
    ck_assert_str_eq(st.phase, "calm");
    ck_assert(!st.closed);
    before = b.ok;
    bench_run(&b, 3, 3);
    ck_assert_uint_eq(b.ok - before, 3);
    bench_stop(&b);
    free(src);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* The generated configuration: same ids, names, groups, files and jdma ids, URLs on 127.0.0.1,
 * the source's receivers and routes kept (state paths moved into the output), or replaced by the
 * local receiver when asked. */
START_TEST(test_write_config)
{
    char *dir = test_mkdtemp();
    char *src = source(dir, "education.yaml",
                       "group: \"Éducation nationale\"\nprobes:\n"
                       "  - id: ent\n    name: \"ENT \\\"Île\\\"\"\n"
                       "    url: https://ent.example.org/a/b?c=d#/x\n    jdma: [3084, 1731]\n"
                       "    expect: {body: Connexion}\n"
                       "  - id: plain\n    url: http://example.org\n",
                       "probes_dir: probes.d\nrrd_dir: /var/lib/vigie/rrd\n"
                       "receivers:\n  - {name: hook, type: webhook, url: \"https://h.example/x\"}\n"
                       "alerting:\n  state_file: /var/lib/vigie/alerts.json\n"
                       "  routes:\n    - {name: r, receivers: [hook]}\n");
    struct sim_opts so = {.seed = 1, .notify_dir = dir};
    struct sim_write_opts wo = {.source = src, .interval_ms = 2000};
    struct config *cfg, *gen;
    struct sim *sim;
    uv_loop_t loop;
    char path[4096], err[512];
    const struct probe *p;

    cfg = load(src);
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    ck_assert_int_eq(sim_start(&loop, cfg, &so, &sim), 0);
    snprintf(path, sizeof(path), "%s/gen", dir);
    ck_assert_msg(sim_write_config(sim, path, &wo, err, sizeof(err)) == 0, "%s", err);
    snprintf(path, sizeof(path), "%s/gen/vigie.yaml", dir);
    gen = load(path);
    ck_assert_uint_eq(gen->nprobes, 2);
    p = config_find(gen, "ent");
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(p->name, "ENT \"Île\"");
    ck_assert_str_eq(p->group, "Éducation nationale");
    ck_assert_uint_eq(p->njdma, 2);
    ck_assert_int_eq(p->jdma[0], 3084);
    ck_assert_int_eq(p->jdma[1], 1731);
    ck_assert_str_eq(p->body, "Connexion");
    ck_assert_uint_eq(p->interval_ms, 2000);
    ck_assert_uint_le(p->timeout_ms, 1600);
    snprintf(path, sizeof(path), "http://127.0.0.1:%u/a/b?c=d#/x",
             sim_port(sim, (size_t)(config_find(cfg, "ent") - cfg->probes)));
    ck_assert_str_eq(p->url, path);
    ck_assert_ptr_nonnull(strstr(p->file, "/gen/probes.d/education.yaml"));
    ck_assert_uint_eq(gen->nreceivers, 1);
    ck_assert_str_eq(gen->receivers[0].url, "https://h.example/x");
    ck_assert_uint_eq(gen->nroutes, 1);
    ck_assert_ptr_nonnull(strstr(gen->alert_state_file, "/gen/state/alerts.json"));
    ck_assert_ptr_nonnull(strstr(gen->rrd_dir, "/gen/rrd"));
    config_free(gen);

    /* The local receiver instead. */
    wo.local_receiver = true;
    snprintf(path, sizeof(path), "%s/gen2", dir);
    ck_assert_msg(sim_write_config(sim, path, &wo, err, sizeof(err)) == 0, "%s", err);
    snprintf(path, sizeof(path), "%s/gen2/vigie.yaml", dir);
    gen = load(path);
    ck_assert_uint_eq(gen->nreceivers, 2);
    ck_assert_str_eq(gen->receivers[0].name, "oncall");
    ck_assert_str_eq(gen->receivers[1].name, "team-chat");
    snprintf(path, sizeof(path), "http://127.0.0.1:%u/notify", sim_notify_port(sim));
    ck_assert_str_eq(gen->receivers[0].url, path);
    ck_assert_uint_eq(gen->nroutes, 2);
    ck_assert_uint_eq(gen->group_wait_ms, 5000);
    config_free(gen);

    sim_close(sim, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    config_free(cfg);
    free(src);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* `vigie simulate` as operators run it: the files written, the paths printed, the duration kept,
 * the local receiver's directory; bad arguments refused with a reason. */
START_TEST(test_simulate_cli)
{
    char *dir = test_mkdtemp(), *out = NULL, *err = NULL, *yaml;
    char src[2048], outd[2048], path[4096];
    time_t t0;
    int rc;

    free(test_write(dir, "src/vigie.yaml", "probes_dir: probes.d\n"));
    free(test_write(dir, "src/probes.d/impots.yaml",
                    "group: \"DGFiP (impots.gouv.fr)\"\nprobes:\n"
                    "  - {id: impots, url: \"https://cfspart-idp.impots.gouv.fr/x\", "
                    "jdma: [3060]}\n"));
    snprintf(src, sizeof(src), "%s/src/vigie.yaml", dir);
    snprintf(outd, sizeof(outd), "%s/sim", dir);
    t0 = time(NULL);
    rc = test_vigie((const char *const[]){"simulate", "-c", src, "--out", outd, "--duration", "2s",
                                          "--speed", "100000", "--local-receiver", NULL},
                    &out, &err, 30);
    ck_assert_msg(rc == 0, "simulate: %d\n%s\n%s", rc, out, err);
    ck_assert_int_ge(time(NULL) - t0, 1);
    ck_assert_msg(strstr(out, "1 services on 127.0.0.1") && strstr(out, "vigie run -c ") &&
                      strstr(out, "stopped (duration over)"),
                  "%s", out);
    snprintf(path, sizeof(path), "%s/probes.d/impots.yaml", outd);
    yaml = test_slurp(path, NULL);
    ck_assert_msg(strstr(yaml, "url: \"http://127.0.0.1:") && strstr(yaml, "/x\"") &&
                      strstr(yaml, "jdma: [3060]"),
                  "%s", yaml);
    free(yaml);
    snprintf(path, sizeof(path), "%s/notifications", outd);
    ck_assert_int_eq(access(path, F_OK), 0);
    free(out);
    free(err);

    rc = test_vigie((const char *const[]){"simulate", "--out", outd, "--speed", "0", NULL}, &out,
                    &err, 30);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(err, "--speed 0: expected a factor"), "%s", err);
    free(out);
    free(err);
    rc = test_vigie((const char *const[]){"simulate", "-c", src, NULL}, &out, &err, 30);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(err, "--out DIR is required"), "%s", err);
    free(out);
    free(err);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* Processes whose command line mentions `needle` (the demo's directory). */
static int procs_with(const char *needle)
{
    DIR *d = opendir("/proc");
    struct dirent *de;
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d))) {
        char path[300], buf[8192];
        FILE *f;
        size_t len;

        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
        f = fopen(path, "rb");
        if (!f)
            continue;
        len = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        for (size_t i = 0; i < len; i++)
            if (buf[i] == '\0')
                buf[i] = ' ';
        buf[len] = '\0';
        n += strstr(buf, needle) != NULL;
    }
    closedir(d);
    return n;
}

/* The mean of ds over the rows in (from, to] where it is known (and, if up_only, where the
 * check succeeded: the turned-away requests are answered fast). */
static double mean_known(const struct series *sr, const char *ds, int64_t from, int64_t to,
                         bool up_only, size_t *n)
{
    size_t c = series_col(sr, ds), cu = series_col(sr, "up");
    double sum = 0;

    *n = 0;
    for (size_t r = 0; r < sr->nrows; r++) {
        double v = sr->v[r * sr->nds + c], up = sr->v[r * sr->nds + cu];

        if (sr->t[r] > from && sr->t[r] <= to && !isnan(v) && (!up_only || up > 0.99)) {
            sum += v;
            (*n)++;
        }
    }
    return *n ? sum / (double)*n : NAN;
}

/* `vigie demo` for 40 s on ten probes, checked every second: the school service's availability
 * falls and its latency rises in the RRD files, on-call got notifications, the dashboard, the
 * demo page and the report exist, and no process is left. */
START_TEST(test_demo_end_to_end)
{
    char *dir = test_mkdtemp();
    char cfgp[2048], outd[2048], path[4096], *out = NULL, *err = NULL;
    struct series *sr;
    time_t t0, t1;
    double up_calm, up_peak, lat_calm, lat_rush;
    size_t n1, n2, nnotif = 0;
    DIR *nd;
    struct dirent *de;
    int rc;

    free(test_write(dir, "src/vigie.yaml", "probes_dir: probes.d\n"));
    /* Six school services with teleservices.education.gouv.fr's profile (one per procedure id):
     * enough samples for the latency to tell. */
    free(test_write(
        dir, "src/probes.d/education.yaml",
        "group: \"Éducation nationale\"\nprobes:\n"
        "  - {id: education-teleservices, url: \"https://teleservices.education.gouv.fr/\", "
        "jdma: [1731]}\n"
        "  - {id: t1732, url: \"https://teleservices.education.gouv.fr/a\", jdma: [1732]}\n"
        "  - {id: t1733, url: \"https://teleservices.education.gouv.fr/b\", jdma: [1733]}\n"
        "  - {id: t1740, url: \"https://teleservices.education.gouv.fr/c\", jdma: [1740]}\n"
        "  - {id: t1741, url: \"https://teleservices.education.gouv.fr/d\", jdma: [1741]}\n"
        "  - {id: t1742, url: \"https://teleservices.education.gouv.fr/e\", jdma: [1742]}\n"));
    free(test_write(
        dir, "src/probes.d/emploi.yaml",
        "group: \"Travail et emploi\"\nprobes:\n"
        "  - {id: activitepartielle, url: \"https://activitepartielle.emploi.gouv.fr/aparts/\", "
        "jdma: [1775]}\n"));
    free(test_write(
        dir, "src/probes.d/impots.yaml",
        "group: \"DGFiP (impots.gouv.fr)\"\nprobes:\n"
        "  - {id: impots-espace-particulier, url: \"https://cfspart-idp.impots.gouv.fr/\", "
        "jdma: [3060]}\n"));
    free(test_write(dir, "src/probes.d/autres.yaml",
                    "group: \"Assurance Maladie\"\nprobes:\n"
                    "  - {id: ameli, url: \"https://assure.ameli.fr/\", jdma: [44]}\n"));
    snprintf(cfgp, sizeof(cfgp), "%s/src/vigie.yaml", dir);
    snprintf(outd, sizeof(outd), "%s/demo-out", dir);
    t0 = time(NULL);
    rc = test_vigie((const char *const[]){"demo", "-c", cfgp, "--out", outd, "--duration", "40s",
                                          "--interval", "1s", "--seed", "11", NULL},
                    &out, &err, 150);
    t1 = time(NULL);
    ck_assert_msg(rc == 0, "vigie demo: %d\n%s\n%s", rc, out, err);
    ck_assert_msg(strstr(out, "on-call received:") && strstr(out, "checks done:"), "%s", out);
    ck_assert_int_le(t1 - t0, test_timeout(75));
    ck_assert_int_eq(procs_with(outd), 0);

    /* The school services: down at the peak (22-36 % of the run), up in the calm after the
     * recovery (70-95 %); their successful checks slower in the slow recovery (37-60 %: latency
     * x9.5 to x2.3) than in that calm. (The calm before the spike is short, and the daemon may take
     * a few seconds to start under the sanitizers.) */
    {
        static const char *const ids[] = {
            "education-teleservices", "t1732", "t1733", "t1740", "t1741", "t1742"};
        double sum_calm = 0, sum_rush = 0;
        size_t nc = 0, nr = 0;

        for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
            snprintf(path, sizeof(path), "%s/rrd/%s.rrd", outd, ids[i]);
            ck_assert_msg(access(path, F_OK) == 0, "%s missing", path);
            sr = test_fetch(path, "AVERAGE", 1, t0, t1);
            if (i == 0) {
                up_calm = mean_known(sr, "up", t0 + 28, t0 + 38, false, &n1);
                up_peak = mean_known(sr, "up", t0 + 9, t0 + 14, false, &n2);
                ck_assert_msg(n1 >= 2 && n2 >= 3, "known rows: calm %zu peak %zu", n1, n2);
                ck_assert_msg(up_calm > 0.7 && up_peak < 0.5, "up: calm %.2f, peak %.2f", up_calm,
                              up_peak);
            }
            lat_calm = mean_known(sr, "total", t0 + 28, t0 + 38, true, &n1);
            lat_rush = mean_known(sr, "total", t0 + 15, t0 + 24, true, &n2);
            sum_calm += n1 ? lat_calm * (double)n1 : 0;
            sum_rush += n2 ? lat_rush * (double)n2 : 0;
            nc += n1;
            nr += n2;
            series_free(sr);
        }
        ck_assert_msg(nc >= 30 && nr >= 6 && sum_rush / (double)nr > 1.8 * sum_calm / (double)nc,
                      "total: calm %.3f s (%zu checks), recovery %.3f s (%zu checks)",
                      nc ? sum_calm / (double)nc : NAN, nc, nr ? sum_rush / (double)nr : NAN, nr);
    }

    snprintf(path, sizeof(path), "%s/notifications", outd);
    nd = opendir(path);
    ck_assert_ptr_nonnull(nd);
    while ((de = readdir(nd)))
        nnotif += strstr(de->d_name, ".json") != NULL;
    closedir(nd);
    ck_assert_uint_ge(nnotif, 1);
    {
        static const char *const files[] = {"graphs/index.html", "graphs/report.html",
                                            "graphs/demo.html", "graphs/demo/overview.png",
                                            "stats.json"};

        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
            snprintf(path, sizeof(path), "%s/%s", outd, files[i]);
            ck_assert_msg(access(path, F_OK) == 0, "%s missing", path);
        }
    }
    free(out);
    free(err);
    test_rmtree(dir);
    free(dir);
}
END_TEST

Suite *sim_suite(void)
{
    Suite *s = suite_create("sim");
    TCase *tc = tcase_create("sim");

    tcase_set_timeout(tc, test_timeout(150));
    tcase_add_test(tc, test_scenario_table);
    tcase_add_test(tc, test_wave_of);
    tcase_add_test(tc, test_profile_availability);
    tcase_add_test(tc, test_profile_latency);
    tcase_add_test(tc, test_capacity);
    tcase_add_test(tc, test_scenario_live);
    tcase_add_test(tc, test_write_config);
    tcase_add_test(tc, test_simulate_cli);
    tcase_add_test(tc, test_demo_end_to_end);
    suite_add_tcase(s, tc);
    return s;
}
