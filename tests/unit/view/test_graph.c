/* graph against real librrd files, read back with the real `rrdtool`.
 *
 * The data: three days of one-minute checks for four probes, written by the real RRD writer
 * (rrdw) with due times in the past (the clock is the only thing faked), once per test case in
 * an unchecked fixture; each test then forks and reads them. The probes:
 *
 *   fast    (group A)  always ok, 100–180 ms
 *   mixed   (group A)  1 in 10 failed, 1 in 10 at 900 ms, the rest 300 or 450 ms; the last two
 *                      hours all at 900 ms (slow)
 *   down    (group B)  ok at 500 ms over TLS, the last two hours failed (HTTP status)
 *   gap     (group B)  ok at 250 ms with 3 hours missed, 1 hour flagged, and nothing in the
 *                      last two hours (not checked)
 *   new     (group B)  no RRD file at all
 *
 * so that at the end of the window the overview counts 1 ok, 1 slow, 1 down, 2 not checked. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "config/config.h"
#include "base/diag.h"
#include "view/graph.h"
#include "view/graph_int.h"
#include "store/rrdq.h"
#include "store/criterion.h"
#include "store/rrdw.h"
#include "store/schema.h"
#include "testutil.h"

#define STEP 60
#define NSAMPLES (3 * 1440)
#define TAIL 120 /* the last two hours */

static char *g_dir;  /* the fixture's directory */
static char *g_cfgp; /* its vigie.yaml */
static time_t g_end; /* the end of the data: the last sample is written at g_end */

static const char probes_yaml[] = "group: \"Ministère A\"\n"
                                  "probes:\n"
                                  "  - id: fast\n"
                                  "    name: \"Déclaration: en ligne\"\n"
                                  "    url: http://127.0.0.1:1/fast\n"
                                  "  - id: mixed\n"
                                  "    url: http://127.0.0.1:1/mixed\n";
static const char probes_b_yaml[] = "group: \"Ministère B: Intérieur\"\n"
                                    "probes:\n"
                                    "  - id: down\n"
                                    "    url: https://127.0.0.1:1/down\n"
                                    "  - id: gap\n"
                                    "    url: http://127.0.0.1:1/gap\n"
                                    "  - id: new\n"
                                    "    url: http://127.0.0.1:1/new\n";

static struct config *load_cfg(const char *path)
{
    struct config *cfg = NULL;
    struct diag d;

    diag_init(&d);
    if (config_load(path, &cfg, &d) != 0)
        diag_print(&d, stderr);
    diag_fini(&d);
    ck_assert_ptr_nonnull(cfg);
    return cfg;
}

static void set_ok(struct result *r, int64_t total_ms, bool tls)
{
    memset(r, 0, sizeof(*r));
    r->outcome = OUTCOME_OK;
    r->verdict = total_ms >= 800 ? VERDICT_DEGRADED : VERDICT_OK;
    r->status = 200;
    r->dns_us = 2000;
    r->connect_us = 3000;
    r->tls_us = tls ? 30000 : -1;
    r->pretransfer_us = tls ? 30100 : 3100;
    r->ttfb_us = total_ms * 1000 - 5000;
    r->total_us = total_ms * 1000;
    r->response_us = r->ttfb_us - r->pretransfer_us;
}

static void set_failed(struct result *r, enum outcome o)
{
    memset(r, 0, sizeof(*r));
    r->outcome = o;
    r->verdict = VERDICT_DOWN;
    r->dns_us = 2000;
    r->connect_us = o == OUTCOME_CONNECT ? -1 : 3000;
    r->tls_us = o == OUTCOME_HTTP_STATUS ? 30000 : -1;
    r->pretransfer_us = r->ttfb_us = r->total_us = r->response_us = -1;
    if (o == OUTCOME_HTTP_STATUS) {
        r->status = 503;
        r->ttfb_us = 40000;
    }
}

static void on_closed(void *arg)
{
    *(int *)arg = 1;
}

/* Writes the data described above with rrdw. */
static void write_data(const struct config *cfg)
{
    struct rrdw_opts o = {.dir = cfg->rrd_dir, .flush_ms = 1000};
    uv_loop_t loop;
    struct rrdw *w;
    struct rrdw_stats st;
    int64_t base = (int64_t)g_end - NSAMPLES * STEP;
    int closed = 0;

    ck_assert_int_eq(uv_loop_init(&loop), 0);
    w = rrdw_new(&loop, &o);
    ck_assert_ptr_nonnull(w);
    for (int i = 0; i < NSAMPLES; i++) {
        int64_t due = base + (int64_t)i * STEP + 1;
        bool tail = i >= NSAMPLES - TAIL;
        struct result r;

        set_ok(&r, 100 + 20 * (i % 5), false);
        rrdw_push(w, config_find(cfg, "fast"), due, &r, false);

        if (tail || i % 10 == 1)
            set_ok(&r, 900, false);
        else if (i % 10 == 0)
            set_failed(&r, OUTCOME_CONNECT);
        else
            set_ok(&r, i % 10 < 6 ? 300 : 450, false);
        rrdw_push(w, config_find(cfg, "mixed"), due, &r, false);

        if (tail)
            set_failed(&r, OUTCOME_HTTP_STATUS);
        else
            set_ok(&r, 500, true);
        rrdw_push(w, config_find(cfg, "down"), due, &r, false);

        if (!tail && (i < 1000 || i >= 1180)) {
            set_ok(&r, 250, false);
            rrdw_push(w, config_find(cfg, "gap"), due, &r, i >= 1500 && i < 1560);
        }
    }
    rrdw_close(w, &st, on_closed, &closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(closed, 1);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    ck_assert_uint_eq(st.written, (uint64_t)(3 * NSAMPLES + NSAMPLES - TAIL - 180));
}

static void data_up(void)
{
    struct config *cfg;
    pid_t pid;
    int status;

    /* Whole hours, an hour ago: every period's window ends on a row of every archive. */
    g_end = (time(NULL) / 3600 - 1) * 3600;
    g_dir = test_mkdtemp();
    free(test_write(g_dir, "probes.d/a.yaml", probes_yaml));
    free(test_write(g_dir, "probes.d/b.yaml", probes_b_yaml));
    g_cfgp = test_write(g_dir, "vigie.yaml",
                        "rrd_dir: rrd\ngraphs_dir: graphs\n"
                        "graphs: {interval: 1h, formats: [png, svg], lang: en}\n");
    /* In a child: the writer's thread pool and librrd's per-thread state stay out of the
     * runner's process, which every test of the case is forked from. */
    fflush(NULL);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        cfg = load_cfg(g_cfgp);
        write_data(cfg);
        config_free(cfg);
        _exit(0);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "test_graph: writing the RRD files failed (status %d)\n", status);
        exit(1);
    }
}

static void data_down(void)
{
    if (!getenv("VIGIE_KEEP"))
        test_rmtree(g_dir);
    else
        fprintf(stderr, "kept %s\n", g_dir);
    free(g_dir);
    free(g_cfgp);
    g_dir = g_cfgp = NULL;
}

/* ---- file checks ---------------------------------------------------------------------------- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A PNG whose IHDR says w × h. */
static void check_png(const char *path, unsigned w, unsigned h)
{
    size_t len;
    unsigned char *b = (unsigned char *)test_slurp(path, &len);

    ck_assert_msg(len > 33, "%s: %zu bytes", path, len);
    ck_assert_msg(memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0, "%s: not a PNG", path);
    ck_assert_msg(memcmp(b + 12, "IHDR", 4) == 0, "%s: no IHDR first", path);
    ck_assert_uint_eq(be32(b + 16), w);
    ck_assert_uint_eq(be32(b + 20), h);
    free(b);
}

/* An SVG document whose root says width="Wpt" height="Hpt" (cairo's output). */
static void check_svg(const char *path, unsigned w, unsigned h)
{
    char *s = test_slurp(path, NULL), *svg;
    double sw = 0, sh = 0;

    ck_assert_msg(strncmp(s, "<?xml", 5) == 0, "%s: no XML declaration", path);
    svg = strstr(s, "<svg");
    ck_assert_msg(svg != NULL, "%s: no <svg> element", path);
    ck_assert_msg(sscanf(strstr(svg, "width=\"") + 7, "%lf", &sw) == 1, "%s: no width", path);
    ck_assert_msg(sscanf(strstr(svg, "height=\"") + 8, "%lf", &sh) == 1, "%s: no height", path);
    ck_assert_uint_eq((unsigned)sw, w);
    ck_assert_uint_eq((unsigned)sh, h);
    ck_assert_msg(strstr(s, "</svg>") != NULL, "%s: truncated", path);
    free(s);
}

/* No hidden temporary file left in dir. */
static void check_no_temp(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    ck_assert_msg(d != NULL, "%s: %s", dir, strerror(errno));
    while ((e = readdir(d)) != NULL)
        ck_assert_msg(e->d_name[0] != '.' || strcmp(e->d_name, ".") == 0 ||
                          strcmp(e->d_name, "..") == 0,
                      "temporary file left: %s/%s", dir, e->d_name);
    closedir(d);
}

static void draw(const struct config *cfg, struct graph_req *rq, struct graph_image *img,
                 char *path, size_t len)
{
    struct graph_style st = {0, 0, LANG_EN};
    char err[1024];
    int rc;

    ck_assert_int_eq(graph_path(path, len, cfg->graphs_dir, rq), 0);
    if (!rq->end)
        rq->end = g_end;
    rc = graph_draw(cfg, rq, &st, path, img, err, sizeof(err));
    ck_assert_msg(rc == 0, "%s: %d %s", path, rc, err);
    ck_assert_uint_gt(img->width, st.width ? st.width : 720);
    ck_assert_uint_gt(img->height, 200);
    if (rq->format == GRAPH_PNG)
        check_png(path, img->width, img->height);
    else
        check_svg(path, img->width, img->height);
}

/* ---- tests ---------------------------------------------------------------------------------- */

START_TEST(test_slug)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"Ministère de l'Intérieur", "minist-re-de-l-int-rieur"},
        {"DGFiP (impots.gouv.fr)", "dgfip-impots-gouv-fr"},
        {"  --A--  ", "a"},
        {"", "group"},
        {"é", "group"},
        {"CAF", "caf"},
        {"a/b\\c:d", "a-b-c-d"},
    };
    char buf[64];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ck_assert_str_eq(graph_group_slug(buf, sizeof(buf), cases[i].in), cases[i].out);
    ck_assert_str_eq(graph_group_slug(buf, 4, "abcdef"), "abc");
}
END_TEST

START_TEST(test_paths)
{
    char id[] = "impots", name[] = "x", group[] = "DGFiP";
    struct probe p = {.id = id, .name = name, .group = group};
    struct graph_req rq = {
        .kind = GRAPH_LATENCY, .period = GRAPH_WEEK, .format = GRAPH_SVG, .probe = &p};
    char buf[256];

    ck_assert_int_eq(graph_path(buf, sizeof(buf), "g", &rq), 0);
    ck_assert_str_eq(buf, "g/probe/impots-latency-week.svg");
    rq.kind = GRAPH_AVAIL;
    rq.period = GRAPH_YEAR;
    rq.format = GRAPH_PNG;
    ck_assert_int_eq(graph_path(buf, sizeof(buf), "g", &rq), 0);
    ck_assert_str_eq(buf, "g/probe/impots-avail-year.png");
    rq.kind = GRAPH_OVERVIEW;
    rq.period = GRAPH_QUARTER;
    ck_assert_int_eq(graph_path(buf, sizeof(buf), "g", &rq), 0);
    ck_assert_str_eq(buf, "g/overview-quarter.png");
    rq.kind = GRAPH_GROUP;
    rq.group = "Ministère B: Intérieur";
    rq.period = GRAPH_MONTH;
    ck_assert_int_eq(graph_path(buf, sizeof(buf), "g", &rq), 0);
    ck_assert_str_eq(buf, "g/group-minist-re-b-int-rieur-month.png");
    ck_assert_int_eq(graph_path(buf, 10, "g", &rq), -ENAMETOOLONG);
    for (int i = 0; i < GRAPH_NPERIODS; i++)
        ck_assert_int_eq(graph_period_parse(graph_period_name((enum graph_period)i)), i);
    ck_assert_int_eq(graph_period_parse("days"), -1);
    ck_assert_int_eq(graph_format_parse("svg"), GRAPH_SVG);
    ck_assert_int_eq(graph_format_parse("jpg"), -1);
    {
        enum lang l = LANG_FR;

        ck_assert_int_eq(lang_parse("en", &l), 0);
        ck_assert_int_eq(l, LANG_EN);
        ck_assert_int_eq(lang_parse("de", &l), -EINVAL);
        ck_assert_str_eq(lang_name(LANG_FR), "fr");
    }
    ck_assert_int_eq((int)graph_period_span(GRAPH_QUARTER), 92 * 86400);
}
END_TEST

/* The plan the daemon writes to its renderer and the renderer reads: one JSON object per line,
 * every string through intact (tab, newline, backslash, quote, non-ASCII), every graph pointing
 * at the probe or group it names; a line that is not one of the plan's is skipped. */
START_TEST(test_plan_protocol)
{
    char id0[] = "a\tb\nc\\d\"é✓", group0[] = "G\t\n\\\"ü\r", name0[] = "N\"\\\t\nß ✓";
    char id1[] = "plain", group1[] = "Plain group", name1[] = "Plain";
    char rrd[] = "rrd\t\\dir\n\"é", graphs[] = "graphs ✓";
    struct probe probes[2] = {{.id = id0, .group = group0, .name = name0},
                              {.id = id1, .group = group1, .name = name1}};
    struct config cfg = {.rrd_dir = rrd, .graphs_dir = graphs, .probes = probes, .nprobes = 2};
    struct graph_style st = {640, 180, LANG_EN};
    const struct graph_req want[] = {
        {.kind = GRAPH_LATENCY,
         .period = GRAPH_WEEK,
         .format = GRAPH_SVG,
         .probe = &probes[0],
         .end = 1234567890},
        {.kind = GRAPH_AVAIL, .period = GRAPH_DAY, .format = GRAPH_PNG, .probe = &probes[1]},
        {.kind = GRAPH_GROUP, .period = GRAPH_MONTH, .format = GRAPH_PNG, .group = group0},
        {.kind = GRAPH_OVERVIEW, .period = GRAPH_YEAR, .format = GRAPH_SVG},
    };
    static const char junk[] =
        "not JSON\n"
        "{\"type\":\"graph\",\"kind\":\"pie\",\"period\":\"day\",\"format\":\"png\",\"end\":0}\n"
        "{\"type\":\"graph\",\"kind\":\"avail\",\"period\":\"day\",\"format\":\"png\",\"end\":0,"
        "\"probe\":\"nobody\"}\n";
    struct plan pl = {NULL, 0, 0};
    struct plan_in pi;
    FILE *f = tmpfile();
    char *text, *line, *save = NULL;
    size_t len, lines = 0;

    ck_assert_ptr_nonnull(f);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        ck_assert_int_eq(graph_plan_add(&pl, &want[i]), 0);
    ck_assert_int_eq(graph_plan_write(fileno(f), &cfg, &st, &pl), 0);

    /* Settings, 2 probes, 4 graphs: 7 lines, each one JSON object. */
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    len = (size_t)ftell(f);
    rewind(f);
    text = calloc(1, len + 1);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(fread(text, 1, len, f), len);
    ck_assert_msg(len > 0 && text[len - 1] == '\n', "%s", text);
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);

        ck_assert_msg(json_is_object(o), "line %zu: %s: %s", lines + 1, line, je.text);
        json_decref(o);
        lines++;
    }
    ck_assert_uint_eq(lines, 7);
    free(text);

    /* (from reading to writing: a seek in between) */
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    ck_assert_int_ge(fputs(junk, f), 0);
    rewind(f);
    ck_assert_int_eq(graph_plan_read(f, &pi), 0);
    ck_assert_str_eq(pi.run.rrd_dir, rrd);
    ck_assert_str_eq(pi.run.graphs_dir, graphs);
    ck_assert_uint_eq(pi.style.width, 640);
    ck_assert_uint_eq(pi.style.height, 180);
    ck_assert_int_eq(pi.style.lang, LANG_EN);
    ck_assert_uint_eq(pi.run.nprobes, 2);
    for (size_t i = 0; i < 2; i++) {
        ck_assert_str_eq(pi.run.probes[i].id, probes[i].id);
        ck_assert_str_eq(pi.run.probes[i].group, probes[i].group);
        ck_assert_str_eq(pi.run.probes[i].name, probes[i].name);
    }
    ck_assert_uint_eq(pi.pl.n, 4);
    for (size_t i = 0; i < pi.pl.n; i++) {
        const struct graph_req *rq = &pi.pl.rq[i];

        ck_assert_int_eq(rq->kind, want[i].kind);
        ck_assert_int_eq(rq->period, want[i].period);
        ck_assert_int_eq(rq->format, want[i].format);
        ck_assert_int_eq((long long)rq->end, (long long)want[i].end);
        if (want[i].probe)
            ck_assert_ptr_eq(rq->probe, &pi.run.probes[want[i].probe - probes]);
        else
            ck_assert_ptr_null(rq->probe);
        if (want[i].group)
            ck_assert_ptr_eq(rq->group, pi.run.probes[0].group);
        else
            ck_assert_ptr_null(rq->group);
    }
    /* The graph of a probe the plan does not list is counted as skipped; the other junk is not
     * one of the plan's lines. */
    ck_assert_uint_eq(pi.skipped, 1);
    graph_plan_in_fini(&pi);
    free(pl.rq);
    fclose(f);
}
END_TEST

/* Every period, kind and format: a valid image of the size librrd reported, atomically. */
START_TEST(test_all_files)
{
    struct config *cfg = load_cfg(g_cfgp);
    struct graph_image img;
    char path[4096], sub[4200];
    size_t n = 0;

    for (int per = 0; per < GRAPH_NPERIODS; per++) {
        for (int f = 0; f < GRAPH_NFORMATS; f++) {
            for (int k = 0; k < GRAPH_NKINDS; k++) {
                struct graph_req rq = {.kind = (enum graph_kind)k,
                                       .period = (enum graph_period)per,
                                       .format = (enum graph_format)f,
                                       .probe = config_find(cfg, "mixed"),
                                       .group = "Ministère B: Intérieur"};

                draw(cfg, &rq, &img, path, sizeof(path));
                ck_assert_int_eq(access(path, R_OK), 0);
                n++;
            }
        }
    }
    ck_assert_uint_eq(n, 40);
    check_no_temp(cfg->graphs_dir);
    snprintf(sub, sizeof(sub), "%s/probe", cfg->graphs_dir);
    check_no_temp(sub);
    config_free(cfg);
}
END_TEST

/* The median of successful checks from bucket shares, computed here independently: linear
 * inside the bucket that holds it. */
static double pct(const double le[SCHEMA_NBUCKETS], double up, double p)
{
    static const double b[SCHEMA_NBUCKETS] = {200, 400, 500, 600, 800, 1000, 2000};
    double want = p * up, lo = 0, lof = 0;

    for (int i = 0; i < SCHEMA_NBUCKETS; i++) {
        if (le[i] >= want)
            return le[i] <= lof ? lo : lo + (want - lof) / (le[i] - lof) * (b[i] - lo);
        lo = b[i];
        lof = le[i];
    }
    return INFINITY;
}

static void fmt_ms(char *buf, size_t len, double ms)
{
    if (isinf(ms))
        snprintf(buf, len, "> 2000 ms");
    else
        snprintf(buf, len, "%.0f ms", ms);
}

/* The legend's availability, median, p95, count and last check against `rrdtool fetch` of the
 * window drawn. */
static void check_legend(const struct config *cfg, const char *id, enum graph_period per,
                         unsigned step)
{
    struct graph_req rq = {
        .kind = GRAPH_AVAIL, .period = per, .format = GRAPH_PNG, .probe = config_find(cfg, id)};
    struct graph_image img;
    char path[4096], rrd[4096], want[512], med[32], p95[32], when[32], pc[32];
    double sw = 0, sup = 0, sle[SCHEMA_NBUCKETS] = {0}, up, le[SCHEMA_NBUCKETS];
    int64_t last_t = 0;
    double last_up = 0, last_total = 0;
    struct series *sr;
    static const char *const names[SCHEMA_NBUCKETS] = {"le_200", "le_400",  "le_500", "le_600",
                                                       "le_800", "le_1000", "le_2000"};

    draw(cfg, &rq, &img, path, sizeof(path));
    schema_path(rrd, sizeof(rrd), cfg->rrd_dir, id, SCHEMA_CRIT);
    sr = test_fetch(rrd, "AVERAGE", step, img.start, img.end);
    for (size_t r = 0; r < sr->nrows; r++) {
        int64_t t = sr->t[r];
        double v = series_at(sr, t, "valid"), u = series_at(sr, t, "up");

        if (t <= img.start || t > img.end || isnan(v) || v <= 0 || isnan(u))
            continue;
        sw += v;
        sup += v * u;
        for (int i = 0; i < SCHEMA_NBUCKETS; i++)
            sle[i] += v * series_at(sr, t, names[i]);
    }
    series_free(sr);
    ck_assert(sw > 0);
    up = sup / sw;
    for (int i = 0; i < SCHEMA_NBUCKETS; i++)
        le[i] = sle[i] / sw;
    fmt_ms(med, sizeof(med), pct(le, up, 0.5));
    fmt_ms(p95, sizeof(p95), pct(le, up, 0.95));
    /* The one rounding rule of every output (criterion_pct, tested in the report suite). */
    snprintf(want, sizeof(want), "Availability %s %% (%s) · median %s · p95 %s · %.0f checks",
             criterion_pct(pc, sizeof(pc), up, 3), criterion_class_name(criterion_avail_class(up)),
             med, p95, sw * (double)(step / STEP));
    ck_assert_msg(strstr(img.legend, want) != NULL, "%s %s: want \"%s\" in legend:\n%s", id,
                  graph_period_name(per), want, img.legend);

    if (strcmp(id, "gap") == 0) {
        /* Nothing in the last two hours: rrdq looks back a few rows only. */
        ck_assert_msg(strstr(img.legend, "Last check : none") != NULL, "%s", img.legend);
        return;
    }
    /* The last counted check, at full resolution. */
    sr = test_fetch(rrd, "AVERAGE", STEP, img.end - 6 * 3600, img.end);
    for (size_t r = 0; r < sr->nrows; r++) {
        int64_t t = sr->t[r];
        double v = series_at(sr, t, "valid");

        if (t > img.end || isnan(v) || v <= 0 || isnan(series_at(sr, t, "up")))
            continue;
        last_t = t;
        last_up = series_at(sr, t, "up");
        last_total = series_at(sr, t, "total");
    }
    series_free(sr);
    ck_assert(last_t > 0);
    {
        struct tm tm;
        time_t t = (time_t)last_t;

        localtime_r(&t, &tm);
        strftime(when, sizeof(when), "%d/%m/%Y %H:%M", &tm);
    }
    if (last_up >= 0.5) {
        fmt_ms(med, sizeof(med), last_total * 1000);
        snprintf(want, sizeof(want), "Last check %s : ok, %s", when, med);
    } else {
        snprintf(want, sizeof(want), "Last check %s : failed", when);
    }
    ck_assert_msg(strstr(img.legend, want) != NULL, "want \"%s\" in legend:\n%s", want, img.legend);
}

START_TEST(test_legend_matches_fetch)
{
    struct config *cfg = load_cfg(g_cfgp);

    check_legend(cfg, "mixed", GRAPH_DAY, 60);
    check_legend(cfg, "mixed", GRAPH_WEEK, 600);
    check_legend(cfg, "fast", GRAPH_DAY, 60);
    check_legend(cfg, "down", GRAPH_DAY, 60);
    check_legend(cfg, "gap", GRAPH_WEEK, 600);
    config_free(cfg);
}
END_TEST

/* "<label> ... now N" in the overview's legend. */
static long legend_now(const char *legend, const char *label)
{
    const char *p = strstr(legend, label);
    long v = -1;

    ck_assert_msg(p != NULL, "no \"%s\" in legend:\n%s", label, legend);
    p = strstr(p, "now");
    ck_assert_msg(p != NULL && sscanf(p, "now %ld", &v) == 1, "no count after %s in:\n%s", label,
                  legend);
    return v;
}

static void check_counts(const struct config *cfg, enum graph_kind k, const char *group, long ok,
                         long slow, long down, long nc)
{
    struct graph_req rq = {.kind = k, .period = GRAPH_DAY, .format = GRAPH_SVG, .group = group};
    struct graph_image img;
    char path[4096];

    draw(cfg, &rq, &img, path, sizeof(path));
    ck_assert_int_eq(legend_now(img.legend, "ok (under 800 ms)"), ok);
    ck_assert_int_eq(legend_now(img.legend, "slow (800 ms or more)"), slow);
    ck_assert_int_eq(legend_now(img.legend, "down"), down);
    ck_assert_int_eq(legend_now(img.legend, "not checked"), nc);
}

START_TEST(test_overview_counts)
{
    struct config *cfg = load_cfg(g_cfgp);

    check_counts(cfg, GRAPH_OVERVIEW, NULL, 1, 1, 1, 2);
    check_counts(cfg, GRAPH_GROUP, "Ministère A", 1, 1, 0, 0);
    check_counts(cfg, GRAPH_GROUP, "Ministère B: Intérieur", 0, 0, 1, 2);
    config_free(cfg);
}
END_TEST

/* Titles and labels in French by default. */
START_TEST(test_french)
{
    struct config *cfg = load_cfg(g_cfgp);
    struct graph_req rq = {.kind = GRAPH_LATENCY,
                           .period = GRAPH_DAY,
                           .format = GRAPH_PNG,
                           .probe = config_find(cfg, "mixed"),
                           .end = g_end};
    struct graph_style st = {0, 0, LANG_FR};
    struct graph_image img;
    char path[4096], err[512];

    snprintf(path, sizeof(path), "%s/fr.png", g_dir);
    ck_assert_int_eq(graph_draw(cfg, &rq, &st, path, &img, err, sizeof(err)), 0);
    ck_assert_msg(strstr(img.legend, "Disponibilité 90,833 % (rouge)") != NULL, "%s", img.legend);
    ck_assert_msg(strstr(img.legend, "réponse du serveur") != NULL, "%s", img.legend);
    ck_assert_msg(strstr(img.legend, "médiane") != NULL, "%s", img.legend);
    config_free(cfg);
}
END_TEST

START_TEST(test_draw_errors)
{
    struct config *cfg = load_cfg(g_cfgp);
    struct graph_req rq = {.kind = GRAPH_LATENCY,
                           .period = GRAPH_DAY,
                           .format = GRAPH_PNG,
                           .probe = config_find(cfg, "new")};
    char path[4096], err[512];

    snprintf(path, sizeof(path), "%s/x.png", g_dir);
    ck_assert_int_eq(graph_draw(cfg, &rq, NULL, path, NULL, err, sizeof(err)), -ENOENT);
    ck_assert_msg(strstr(err, "new.rrd") != NULL, "%s", err);
    rq.kind = GRAPH_GROUP;
    rq.group = "Nobody";
    ck_assert_int_eq(graph_draw(cfg, &rq, NULL, path, NULL, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, "Nobody") != NULL, "%s", err);
    /* An output directory that cannot be created. */
    rq.kind = GRAPH_AVAIL;
    rq.probe = config_find(cfg, "fast");
    snprintf(path, sizeof(path), "%s/vigie.yaml/x.png", g_dir);
    ck_assert_int_lt(graph_draw(cfg, &rq, NULL, path, NULL, err, sizeof(err)), 0);
    ck_assert_msg(strstr(err, "vigie.yaml") != NULL, "%s", err);
    ck_assert_int_eq(access(path, F_OK), -1);
    config_free(cfg);
}
END_TEST

START_TEST(test_cli)
{
    char end[32], out[4200], *o = NULL, *e = NULL;
    struct stat sb;

    snprintf(end, sizeof(end), "%lld", (long long)g_end);
    snprintf(out, sizeof(out), "%s/cli.svg", g_dir);
    {
        const char *argv[] = {"graph", "-c",    g_cfgp, "mixed", "--period", "week", "--format",
                              "svg",   "--end", end,    "-o",    out,        NULL};

        ck_assert_int_eq(test_vigie(argv, &o, &e, 60), 0);
        ck_assert_msg(strstr(o, out) != NULL, "%s", o);
        ck_assert_int_eq(stat(out, &sb), 0);
        ck_assert_int_gt(sb.st_size, 1000);
        free(o);
        free(e);
    }
    {
        const char *argv[] = {"graph", "-c", g_cfgp, "nope", NULL};

        ck_assert_int_eq(test_vigie(argv, &o, &e, 60), 1);
        ck_assert_msg(strstr(e, "no probe with id \"nope\"") != NULL, "%s", e);
        free(o);
        free(e);
    }
    {
        const char *argv[] = {"graph", "-c", g_cfgp, "new", NULL};

        ck_assert_int_eq(test_vigie(argv, &o, &e, 60), 1);
        ck_assert_msg(strstr(e, "new.rrd: No such file or directory") != NULL, "%s", e);
        free(o);
        free(e);
    }
    {
        const char *argv[] = {"graph", "-c", g_cfgp, "fast", "--period", "fortnight", NULL};

        ck_assert_int_eq(test_vigie(argv, &o, &e, 60), 1);
        ck_assert_msg(strstr(e, "--period") != NULL, "%s", e);
        free(o);
        free(e);
    }
    {
        const char *argv[] = {"graph", "-c", g_cfgp, "fast", "--overview", NULL};

        ck_assert_int_eq(test_vigie(argv, &o, &e, 60), 1);
        ck_assert_msg(strstr(e, "one of") != NULL, "%s", e);
        free(o);
        free(e);
    }
    {
        const char *argv[] = {"graph", "-c", g_cfgp, "--group", "Nobody", NULL};

        ck_assert_int_eq(test_vigie(argv, &o, &e, 60), 1);
        ck_assert_msg(strstr(e, "no probe in group \"Nobody\"") != NULL, "%s", e);
        free(o);
        free(e);
    }
}
END_TEST

/* --all: every graph of every probe with data, group and period, in both formats. */
START_TEST(test_cli_all)
{
    char end[32], path[4200], *o = NULL, *e = NULL;
    const char *argv[] = {"graph", "-c", g_cfgp, "--all", "--end", end, NULL};
    struct config *cfg = load_cfg(g_cfgp);
    size_t lines = 0;

    snprintf(end, sizeof(end), "%lld", (long long)g_end);
    ck_assert_int_eq(test_vigie(argv, &o, &e, 120), 0);
    for (const char *p = o; (p = strchr(p, '\n')) != NULL; p++)
        lines++;
    /* (overview + 2 groups + 4 probes × 2 kinds) × 5 periods × 2 formats */
    ck_assert_uint_eq(lines, (1 + 2 + 8) * 5 * 2);
    ck_assert_msg(strstr(e, "110 graphs drawn") && strstr(e, "20 skipped"), "%s", e);
    snprintf(path, sizeof(path), "%s/probe/gap-avail-year.svg", cfg->graphs_dir);
    ck_assert_int_eq(access(path, R_OK), 0);
    snprintf(path, sizeof(path), "%s/group-minist-re-a-quarter.png", cfg->graphs_dir);
    ck_assert_int_eq(access(path, R_OK), 0);
    snprintf(path, sizeof(path), "%s/probe/new-latency-day.png", cfg->graphs_dir);
    ck_assert_int_eq(access(path, F_OK), -1);
    free(o);
    free(e);
    config_free(cfg);
}
END_TEST

/* ---- the timer ------------------------------------------------------------------------------ */

struct tenv {
    uv_loop_t loop;
    struct graph *g;
    struct graph_pass last;
    int passes, closed;
};

static void on_pass(void *arg, const struct graph_pass *p)
{
    struct tenv *t = arg;

    t->last = *p;
    t->passes++;
}

static struct graph_pass kick(struct tenv *t)
{
    int before = t->passes;

    graph_kick(t->g);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(t->passes, before + 1);
    return t->last;
}

static void set_mtime(const char *path, time_t t)
{
    struct timespec ts[2] = {{t, 0}, {t, 0}};

    ck_assert_msg(utimensat(AT_FDCWD, path, ts, 0) == 0, "%s: %s", path, strerror(errno));
}

/* Points cfg at a graphs directory of its own (the other tests of the case share one). */
static void own_graphs_dir(struct config *cfg, const char *name)
{
    char buf[4096];

    snprintf(buf, sizeof(buf), "%s/%s", g_dir, name);
    free(cfg->graphs_dir);
    cfg->graphs_dir = strdup(buf);
    ck_assert_ptr_nonnull(cfg->graphs_dir);
}

/* A pass draws what is missing; the next draws nothing; a graph is redrawn only when its data
 * changed after it AND it is older than one pixel column of its period. */
START_TEST(test_timer_redraws_only_changed)
{
    struct config *cfg = load_cfg(g_cfgp);
    struct tenv t = {0};
    struct graph_pass p;
    struct graph_stats st;
    char rrd[4096], day[4200], week[4200];
    time_t now = time(NULL);

    cfg->graphs.formats = 1u << GRAPH_PNG;
    own_graphs_dir(cfg, "timer-graphs");
    ck_assert_int_eq(uv_loop_init(&t.loop), 0);
    t.g = graph_start(&t.loop, cfg, on_pass, &t);
    ck_assert_ptr_nonnull(t.g);

    p = kick(&t);
    /* (overview + 2 groups) × 5 + 4 probes × 2 kinds × 5; "new" has no file. */
    ck_assert_uint_eq(p.rendered, 15 + 40);
    ck_assert_uint_eq(p.failed, 0);
    ck_assert_uint_eq(p.skipped, 10);

    p = kick(&t);
    ck_assert_uint_eq(p.rendered, 0);
    ck_assert_uint_eq(p.skipped, 65);

    /* fast's data changes now; its day graph was drawn 10 s ago: less than a column (120 s). */
    schema_path(rrd, sizeof(rrd), cfg->rrd_dir, "fast", SCHEMA_CRIT);
    snprintf(day, sizeof(day), "%s/probe/fast-latency-day.png", cfg->graphs_dir);
    snprintf(week, sizeof(week), "%s/probe/fast-latency-week.png", cfg->graphs_dir);
    set_mtime(rrd, now);
    set_mtime(day, now - 10);
    p = kick(&t);
    ck_assert_uint_eq(p.rendered, 0);

    /* 200 s ago: more than a day column, less than a week column (840 s). */
    set_mtime(rrd, now + 1);
    set_mtime(day, now - 200);
    set_mtime(week, now - 200);
    p = kick(&t);
    ck_assert_uint_eq(p.rendered, 1);
    {
        struct stat sb;

        ck_assert_int_eq(stat(day, &sb), 0);
        ck_assert_int_ge(sb.st_mtime, now);
        ck_assert_int_eq(stat(week, &sb), 0);
        ck_assert_int_eq(sb.st_mtime, now - 200);
    }
    graph_stats(t.g, &st);
    ck_assert_uint_eq(st.passes, 4);
    ck_assert_uint_eq(st.renders, 56);
    ck_assert(st.render_s > 0 && st.render_max_s > 0 && st.render_max_s <= st.render_s);
    graph_close(t.g, &st, on_closed, &t.closed);
    uv_run(&t.loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(t.closed, 1);
    ck_assert_uint_eq(st.renders, 56);
    ck_assert_int_eq(uv_loop_close(&t.loop), 0);
    config_free(cfg);
}
END_TEST

/* Closing during a pass stops it after the render in flight and waits for it. */
START_TEST(test_timer_close_in_pass)
{
    struct config *cfg = load_cfg(g_cfgp);
    struct tenv t = {0};
    struct graph_stats st;

    own_graphs_dir(cfg, "close-graphs");
    mkdir(cfg->graphs_dir, 0755);
    ck_assert_int_eq(uv_loop_init(&t.loop), 0);
    t.g = graph_start(&t.loop, cfg, on_pass, &t);
    ck_assert_ptr_nonnull(t.g);
    graph_kick(t.g);
    uv_run(&t.loop, UV_RUN_NOWAIT);
    graph_close(t.g, &st, on_closed, &t.closed);
    uv_run(&t.loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(t.closed, 1);
    ck_assert_int_eq(t.passes, 0);
    ck_assert_uint_lt(st.renders, 110);
    ck_assert_int_eq(uv_loop_close(&t.loop), 0);
    check_no_temp(cfg->graphs_dir);
    config_free(cfg);
}
END_TEST

static size_t count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0, sl = strlen(suffix);

    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);

        n += l > sl && strcmp(e->d_name + l - sl, suffix) == 0;
    }
    closedir(d);
    return n;
}

/* A probe whose id, group and name hold a tab, a newline, a quote, a backslash (not in the id:
 * its RRD file names are drawn from DEFs, where rrdtool reads '\' as an escape) and non-ASCII
 * characters: the daemon hands them to its renderer process, which finds the probe and its group
 * by them and draws every graph of both at the paths graph_path gives. */
START_TEST(test_timer_odd_names)
{
    static const char odd_id[] = "odd\tid\n\"é✓";
    static const char odd_group[] = "Groupe \\ \"odd\"\t\nété";
    static const char odd_name[] = "Nom\t\n\\ \"ü\" ✓";
    struct config *cfg = load_cfg(g_cfgp);
    struct probe *p = NULL;
    struct tenv t = {0};
    struct graph_pass pass;
    struct graph_stats st;
    char from[4096], to[4096], rrd[4096], path[4200], pdir[4200];

    cfg->graphs.formats = 1u << GRAPH_PNG;
    own_graphs_dir(cfg, "odd-graphs");
    /* An RRD directory of its own that holds the files of "fast" under the odd id only. */
    snprintf(rrd, sizeof(rrd), "%s/odd-rrd", g_dir);
    ck_assert_int_eq(mkdir(rrd, 0755), 0);
    for (int k = 0; k < 2; k++) {
        schema_path(from, sizeof(from), cfg->rrd_dir, "fast", (enum schema_file)k);
        schema_path(to, sizeof(to), rrd, odd_id, (enum schema_file)k);
        ck_assert_msg(symlink(from, to) == 0, "%s: %s", to, strerror(errno));
    }
    free(cfg->rrd_dir);
    cfg->rrd_dir = strdup(rrd);
    for (size_t i = 0; i < cfg->nprobes; i++)
        if (strcmp(cfg->probes[i].id, "fast") == 0)
            p = &cfg->probes[i];
    ck_assert_ptr_nonnull(p);
    free(p->id);
    free(p->group);
    free(p->name);
    p->id = strdup(odd_id);
    p->group = strdup(odd_group);
    p->name = strdup(odd_name);
    ck_assert(cfg->rrd_dir && p->id && p->group && p->name);

    ck_assert_int_eq(uv_loop_init(&t.loop), 0);
    t.g = graph_start(&t.loop, cfg, on_pass, &t);
    ck_assert_ptr_nonnull(t.g);
    pass = kick(&t);
    /* Per period: the overview, the odd group and the odd probe's two graphs; the other groups
     * and probes have no file in this RRD directory. */
    ck_assert_uint_eq(pass.failed, 0);
    ck_assert_uint_eq(pass.rendered, 5 * 4);
    ck_assert_uint_eq(pass.skipped, 5 * (2 + 4 * 2));
    for (int per = 0; per < GRAPH_NPERIODS; per++) {
        for (int k = 0; k < GRAPH_NKINDS; k++) {
            struct graph_req rq = {.kind = (enum graph_kind)k,
                                   .period = (enum graph_period)per,
                                   .format = GRAPH_PNG,
                                   .probe = p,
                                   .group = odd_group};

            ck_assert_int_eq(graph_path(path, sizeof(path), cfg->graphs_dir, &rq), 0);
            ck_assert_msg(access(path, R_OK) == 0, "%s: %s", path, strerror(errno));
        }
        snprintf(path, sizeof(path), "%s/probe/%s-latency-%s.png", cfg->graphs_dir, odd_id,
                 graph_period_name((enum graph_period)per));
        ck_assert_msg(access(path, R_OK) == 0, "%s: %s", path, strerror(errno));
    }
    snprintf(pdir, sizeof(pdir), "%s/probe", cfg->graphs_dir);
    ck_assert_uint_eq(count_files(pdir, ".png"), 5 * 2);
    ck_assert_uint_eq(count_files(cfg->graphs_dir, ".png"), 5 * 2);
    graph_close(t.g, &st, on_closed, &t.closed);
    uv_run(&t.loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(t.closed, 1);
    ck_assert_int_eq(uv_loop_close(&t.loop), 0);
    config_free(cfg);
}
END_TEST

START_TEST(test_timer_disabled)
{
    char *dir = test_mkdtemp();
    char *cfgp;
    struct config *cfg;
    uv_loop_t loop;

    free(test_write(dir, "probes.d/a.yaml", probes_yaml));
    cfgp = test_write(dir, "vigie.yaml", "graphs:\n  enabled: false\n");
    cfg = load_cfg(cfgp);
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    ck_assert_ptr_null(graph_start(&loop, cfg, NULL, NULL));
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    config_free(cfg);
    free(cfgp);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- graphs: in vigie.yaml ------------------------------------------------------------------ */

START_TEST(test_config)
{
    static const struct {
        const char *yaml, *err; /* err NULL: valid */
    } cases[] = {
        {"graphs: {interval: 30s, formats: [svg], lang: en, width: 400, height: 100}\n", NULL},
        {"graphs: {formats: [png, svg, png]}\n",
         "vigie.yaml:1:30: \"formats\": \"png\" is listed twice"},
        {"graphs: {formats: [gif]}\n",
         "vigie.yaml:1:20: \"formats\": expected png or svg, found \"gif\""},
        {"graphs: {formats: []}\n", "\"formats\": expected at least one of png, svg"},
        {"graphs: {lang: de}\n", "vigie.yaml:1:16: \"lang\""},
        {"graphs: {interval: 0}\n", "\"interval\""},
        {"graphs: {width: 50}\n", "\"width\": 50 out of range 200..4000"},
        {"graphs: {colour: red}\n", "unknown key \"colour\" in graphs"},
        {"graphs: {enabled: yes}\n", "\"enabled\": expected true or false"},
        {"graphs: {lang: de}\n", "\"lang\": expected fr or en, found \"de\""},
    };
    char *dir = test_mkdtemp();

    free(test_write(dir, "probes.d/a.yaml", probes_yaml));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *cfgp = test_write(dir, "vigie.yaml", cases[i].yaml);
        struct config *cfg = NULL;
        struct diag d;
        char *text = NULL;
        size_t len = 0;
        FILE *f;
        int rc;

        diag_init(&d);
        rc = config_load(cfgp, &cfg, &d);
        f = open_memstream(&text, &len);
        diag_print(&d, f);
        fclose(f);
        if (!cases[i].err) {
            ck_assert_msg(rc == 0, "%s: %s", cases[i].yaml, text);
            ck_assert_uint_eq(cfg->graphs.interval_ms, 30000);
            ck_assert_uint_eq(cfg->graphs.formats, 1u << GRAPH_SVG);
            ck_assert_int_eq(cfg->graphs.lang, LANG_EN);
            ck_assert_int_eq(cfg->graphs.width, 400);
            ck_assert_int_eq(cfg->graphs.height, 100);
            ck_assert(cfg->graphs.enabled);
        } else {
            ck_assert_msg(rc < 0, "%s: accepted", cases[i].yaml);
            ck_assert_msg(strstr(text, cases[i].err) != NULL, "%s: want \"%s\", got:\n%s",
                          cases[i].yaml, cases[i].err, text);
        }
        free(text);
        diag_fini(&d);
        config_free(cfg);
        free(cfgp);
    }
    /* The defaults. */
    {
        char *cfgp = test_write(dir, "vigie.yaml", "rrd_dir: rrd\n");
        struct config *cfg = load_cfg(cfgp);

        ck_assert(cfg->graphs.enabled);
        ck_assert_uint_eq(cfg->graphs.interval_ms, 60000);
        ck_assert_uint_eq(cfg->graphs.formats, 3);
        ck_assert_int_eq(cfg->graphs.lang, LANG_FR);
        ck_assert_int_eq(cfg->graphs.width, 720);
        ck_assert_int_eq(cfg->graphs.height, 200);
        config_free(cfg);
        free(cfgp);
    }
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- vigie run draws the graphs ------------------------------------------------------------- */

START_TEST(test_daemon_draws)
{
    char *dir = test_mkdtemp(), *cfgp, yaml[2048], stats[600], gdir[600], pdir[700];
    char *err = NULL;
    const char *argv[] = {"run", "-c", NULL, "--duration", "8s", "--stats", stats, NULL};
    json_error_t je;
    json_t *o;
    int rc;

    snprintf(yaml, sizeof(yaml),
             "group: \"Loopback\"\n"
             "probes:\n"
             "  - id: ok\n"
             "    url: http://127.0.0.1:%d/?delay=20\n"
             "    interval: 1s\n"
             "    timeout: 900ms\n"
             "  - id: broken\n"
             "    url: http://127.0.0.1:%d/?status=503\n"
             "    interval: 1s\n"
             "    timeout: 900ms\n",
             test_srv.http, test_srv.http);
    free(test_write(dir, "probes.d/l.yaml", yaml));
    cfgp = test_write(dir, "vigie.yaml",
                      "rrd_dir: rrd\ngraphs_dir: graphs\nrrd_flush: 1s\n"
                      "rrd_retention: {full: 1h, medium: 1h, hourly: 1d, daily: 1d}\n"
                      "drain_timeout: 2s\n"
                      "graphs: {interval: 1s, formats: [svg]}\n");
    argv[2] = cfgp;
    snprintf(stats, sizeof(stats), "%s/stats.json", dir);
    rc = test_vigie(argv, NULL, &err, 60);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    o = json_load_file(stats, 0, &je);
    ck_assert_msg(o != NULL, "%s", je.text);
    snprintf(gdir, sizeof(gdir), "%s/graphs", dir);
    snprintf(pdir, sizeof(pdir), "%s/graphs/probe", dir);
    /* The day graphs come first in a pass: overview, the group, 2 probes × 2 kinds. */
    {
        static const char *const day[] = {
            "overview-day.svg",       "group-loopback-day.svg",       "probe/ok-latency-day.svg",
            "probe/ok-avail-day.svg", "probe/broken-latency-day.svg", "probe/broken-avail-day.svg"};
        char path[1024];

        for (size_t i = 0; i < sizeof(day) / sizeof(day[0]); i++) {
            snprintf(path, sizeof(path), "%s/%s", gdir, day[i]);
            ck_assert_msg(access(path, R_OK) == 0, "%s missing", path);
        }
    }
    /* Several passes, each graph drawn once: the data changed every second, but no graph got
     * older than one pixel column (2 min for a day) during the run. */
    ck_assert_int_ge(json_integer_value(json_object_get(o, "graph_passes")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "graph_renders")),
                     (json_int_t)(count_files(gdir, ".svg") + count_files(pdir, ".svg")));
    ck_assert_int_eq(json_integer_value(json_object_get(o, "graph_failures")), 0);
    check_no_temp(gdir);
    check_no_temp(pdir);
    json_decref(o);
    free(err);
    free(cfgp);
    test_rmtree(dir);
    free(dir);
}
END_TEST

Suite *graph_suite(void)
{
    Suite *s = suite_create("graph");
    TCase *tc = tcase_create("names");
    TCase *data = tcase_create("data");
    TCase *run = tcase_create("run");

    tcase_add_test(tc, test_slug);
    tcase_add_test(tc, test_paths);
    tcase_add_test(tc, test_plan_protocol);
    tcase_add_test(tc, test_config);
    tcase_add_test(tc, test_timer_disabled);
    suite_add_tcase(s, tc);

    tcase_add_unchecked_fixture(data, data_up, data_down);
    tcase_set_timeout(data, test_timeout(120));
    tcase_add_test(data, test_all_files);
    tcase_add_test(data, test_legend_matches_fetch);
    tcase_add_test(data, test_overview_counts);
    tcase_add_test(data, test_french);
    tcase_add_test(data, test_draw_errors);
    tcase_add_test(data, test_cli);
    tcase_add_test(data, test_cli_all);
    tcase_add_test(data, test_timer_redraws_only_changed);
    tcase_add_test(data, test_timer_close_in_pass);
    tcase_add_test(data, test_timer_odd_names);
    suite_add_tcase(s, data);

    tcase_add_unchecked_fixture(run, test_srv_up, test_srv_down);
    tcase_set_timeout(run, test_timeout(60));
    tcase_add_test(run, test_daemon_draws);
    suite_add_tcase(s, run);
    return s;
}
