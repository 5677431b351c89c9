/* The dashboard: `vigie dashboard` on real RRD files, its HTML checked against `rrdtool fetch`,
 * then loaded by a real headless Chromium (its JS run, a screenshot kept as an artefact).
 *
 * Two sources of data:
 *  - 93 days of hourly samples written by the real RRD writer (rrdw, librrd) with faked due
 *    times (the clock is the only thing faked): every window (24 h, 7 d, 3 months) is full and
 *    each probe has a known mix of failures and latencies;
 *  - a few seconds of `vigie run` against the loopback test server (status=, delay=). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "view/dash.h"
#include "base/diag.h"
#include "store/rrdq.h"
#include "store/criterion.h"
#include "store/rrdw.h"
#include "store/schema.h"
#include "testutil.h"

#define HOUR 3600

/* ------------------------------------------------------------------------------------------ */
/* Reading the HTML back. */

struct cell {
    char cls[64];
    bool has_v;
    char v[64];
    char text[512];
};

struct row {
    char state[16];
    char group[256];
    bool hidden;
    char name[256];
    size_t ncells;
    struct cell c[12];
};

/* The value of attribute `name` in the tag text [tag, end), entity-decoded, or NULL. */
static bool attr(const char *tag, const char *end, const char *name, char *out, size_t len);

/* Decodes the few entities a serialiser writes (ours or Chromium's) into out. */
static void decode(const char *s, size_t n, char *out, size_t len)
{
    static const struct {
        const char *ent, *chr;
    } ents[] = {{"&amp;", "&"},   {"&lt;", "<"},  {"&gt;", ">"},
                {"&quot;", "\""}, {"&#39;", "'"}, {"&nbsp;", "\xc2\xa0"}};
    size_t o = 0;

    for (size_t i = 0; i < n && o + 4 < len;) {
        bool done = false;

        for (size_t e = 0; e < sizeof(ents) / sizeof(ents[0]) && s[i] == '&'; e++) {
            size_t el = strlen(ents[e].ent);

            if (i + el <= n && strncmp(s + i, ents[e].ent, el) == 0) {
                size_t cl = strlen(ents[e].chr);
                memcpy(out + o, ents[e].chr, cl);
                o += cl;
                i += el;
                done = true;
                break;
            }
        }
        if (!done)
            out[o++] = s[i++];
    }
    out[o] = '\0';
}

static bool attr(const char *tag, const char *end, const char *name, char *out, size_t len)
{
    size_t nl = strlen(name);

    for (const char *p = tag; p && p < end; p = strchr(p + 1, ' ')) {
        const char *a = p + 1;

        if (strncmp(a, name, nl) != 0)
            continue;
        if (a[nl] == '=' && a[nl + 1] == '"') {
            const char *v = a + nl + 2, *q = strchr(v, '"');

            ck_assert_ptr_nonnull(q);
            decode(v, (size_t)(q - v), out, len);
            return true;
        }
        if (a[nl] == ' ' || a[nl] == '>' || a[nl] == '=') {
            out[0] = '\0';
            return true;
        }
    }
    return false;
}

/* The text content of [s, s+n): tags removed, entities decoded, ends trimmed. */
static void text_of(const char *s, size_t n, char *out, size_t len)
{
    char raw[2048];
    size_t o = 0;
    bool in_tag = false;

    for (size_t i = 0; i < n && o + 1 < sizeof(raw); i++) {
        if (s[i] == '<')
            in_tag = true;
        else if (s[i] == '>')
            in_tag = false;
        else if (!in_tag)
            raw[o++] = s[i];
    }
    raw[o] = '\0';
    decode(raw, o, out, len);
}

/* The table row of probe `id` (tr id="p-<id>") in html, parsed: false when absent. */
static bool find_row(const char *html, const char *id, struct row *r)
{
    char key[128];
    const char *hit, *tr, *tag_end, *end, *p;

    memset(r, 0, sizeof(*r));
    snprintf(key, sizeof(key), "id=\"p-%s\"", id);
    hit = strstr(html, key);
    if (!hit)
        return false;
    for (tr = hit; tr > html && strncmp(tr, "<tr", 3) != 0; tr--)
        ;
    tag_end = strchr(tr, '>');
    end = strstr(tr, "</tr>");
    ck_assert(tag_end && end);
    ck_assert(attr(tr, tag_end, "data-state", r->state, sizeof(r->state)));
    ck_assert(attr(tr, tag_end, "data-group", r->group, sizeof(r->group)));
    r->hidden = attr(tr, tag_end, "hidden", key, sizeof(key));
    p = strstr(tr, "<th");
    ck_assert(p && p < end);
    text_of(p, (size_t)(strstr(p, "</th>") - p), r->name, sizeof(r->name));
    for (p = strstr(tag_end, "<td"); p && p < end && r->ncells < 12; p = strstr(p + 3, "<td")) {
        struct cell *c = &r->c[r->ncells++];
        const char *te = strchr(p, '>'), *ce = strstr(p, "</td>");

        ck_assert(te && ce);
        attr(p, te, "class", c->cls, sizeof(c->cls));
        c->has_v = attr(p, te, "data-v", c->v, sizeof(c->v));
        text_of(te + 1, (size_t)(ce - te - 1), c->text, sizeof(c->text));
    }
    return true;
}

/* The ids of the rows of the probes table, in document order, that are not hidden. */
static size_t visible_ids(const char *html, char ids[][64], size_t max)
{
    const char *p = strstr(html, "id=\"probes\""), *end;
    size_t n = 0;

    ck_assert_ptr_nonnull(p);
    end = strstr(p, "</table>");
    for (p = strstr(p, "<tr "); p && p < end && n < max; p = strstr(p + 3, "<tr ")) {
        const char *te = strchr(p, '>');
        char id[80], h[8];

        if (!attr(p, te, "id", id, sizeof(id)) || strncmp(id, "p-", 2) != 0)
            continue;
        if (attr(p, te, "hidden", h, sizeof(h)))
            continue;
        snprintf(ids[n++], 64, "%.60s", id + 2);
    }
    return n;
}

/* Markup sanity outside <script> and <style>: every '<' opens a tag or a comment, every '&' an
 * entity (so no text reached the page unescaped). */
static void check_markup(const char *html, const char *what)
{
    for (const char *p = html; *p; p++) {
        if (strncmp(p, "<script>", 8) == 0 || strncmp(p, "<style>", 7) == 0) {
            const char *e = strstr(p, p[1] == 's' && p[2] == 'c' ? "</script>" : "</style>");

            ck_assert_msg(e != NULL, "%s: unterminated script or style", what);
            p = e;
            continue;
        }
        if (*p == '<')
            ck_assert_msg((p[1] >= 'a' && p[1] <= 'z') || p[1] == '/' || p[1] == '!',
                          "%s: stray '<' in \"%.40s\"", what, p);
        if (*p == '&') {
            size_t n = strspn(p + 1, "abcdefghijklmnopqrstuvwxyz0123456789#");

            ck_assert_msg(n > 0 && p[1 + n] == ';', "%s: stray '&' in \"%.40s\"", what, p);
        }
        if (*p == '>')
            ck_assert_msg(p > html && strchr("\"abcdefghijklmnopqrstuvwxyz0123456789/-", p[-1]),
                          "%s: stray '>' in \"%.40s\"", what, p > html + 20 ? p - 20 : html);
    }
}

/* Every local link and image of a page (href, src) names an existing file, but those of probe
 * `except` (no RRD file, so no graph). Returns the number of links checked. */
static size_t check_links(const char *html, const char *page_dir, const char *except)
{
    static const char *const attrs[] = {"href=\"", "src=\""};
    size_t n = 0;

    for (size_t a = 0; a < 2; a++) {
        for (const char *p = strstr(html, attrs[a]); p; p = strstr(p + 1, attrs[a])) {
            const char *v = p + strlen(attrs[a]), *q = strchr(v, '"');
            char target[512], path[2048];
            size_t len;

            ck_assert_ptr_nonnull(q);
            len = strcspn(v, "\"#");
            if (len == 0 || strncmp(v, "http", 4) == 0 || len >= sizeof(target))
                continue;
            memcpy(target, v, len);
            target[len] = '\0';
            if (except && strncmp(target, except, strlen(except)) == 0)
                continue;
            snprintf(path, sizeof(path), "%s/%s", page_dir, target);
            ck_assert_msg(access(path, F_OK) == 0, "%s/...: broken link %s", page_dir, target);
            n++;
        }
    }
    return n;
}

/* ------------------------------------------------------------------------------------------ */
/* What the files say: the window (L - span, L] read with `rrdtool fetch` at one resolution. */

struct truth {
    size_t rows;
    double avail, le[SCHEMA_NBUCKETS];
};

static const char *const le_names[SCHEMA_NBUCKETS] = {"le_200", "le_400",  "le_500", "le_600",
                                                      "le_800", "le_1000", "le_2000"};

static struct truth fetch_truth(const char *rrd, unsigned step, int64_t end, int64_t span)
{
    struct series *sr = test_fetch(rrd, "AVERAGE", step, end - span, end);
    size_t cu = series_col(sr, "up");
    struct truth t = {0};

    for (size_t i = 0; i < sr->nrows; i++) {
        const double *v = &sr->v[i * sr->nds];

        if (sr->t[i] <= end - span || sr->t[i] > end || isnan(v[cu]))
            continue;
        t.rows++;
        t.avail += v[cu];
        for (int k = 0; k < SCHEMA_NBUCKETS; k++)
            t.le[k] += v[series_col(sr, le_names[k])];
    }
    if (t.rows) {
        t.avail /= (double)t.rows;
        for (int k = 0; k < SCHEMA_NBUCKETS; k++)
            t.le[k] /= (double)t.rows;
    } else {
        t.avail = NAN;
    }
    series_free(sr);
    return t;
}

static const char *word_fr(enum criterion_class c)
{
    static const char *const w[] = {"pas de donnée", "bon", "moyen", "mauvais"};
    return w[c];
}

/* An indicator cell shows the number (data-v, to 1e-6), the class (q-<name>) and its word. */
static void check_indicator(const struct cell *c, double want, bool is_time, const char *what)
{
    enum criterion_class cls = is_time ? criterion_time_class(want) : criterion_avail_class(want);
    char want_cls[64];

    snprintf(want_cls, sizeof(want_cls), "q-%s", criterion_class_name(cls));
    ck_assert_msg(strstr(c->cls, want_cls) != NULL, "%s: class \"%s\", want %s (value %.6f)", what,
                  c->cls, want_cls, want);
    ck_assert_msg(c->has_v, "%s: no data-v", what);
    if (isnan(want)) {
        ck_assert_msg(c->v[0] == '\0', "%s: data-v \"%s\", want empty", what, c->v);
    } else if (isinf(want)) {
        ck_assert_msg(strtod(c->v, NULL) >= 1e9, "%s: data-v %s, want above the last bound", what,
                      c->v);
    } else {
        double got = strtod(c->v, NULL);
        ck_assert_msg(fabs(got - want) < 2e-6 * (fabs(want) > 1 ? fabs(want) : 1),
                      "%s: shows %.6f, rrdtool fetch says %.6f", what, got, want);
    }
    ck_assert_msg(strstr(c->text, word_fr(cls)) != NULL, "%s: text \"%s\" lacks \"%s\"", what,
                  c->text, word_fr(cls));
}

/* ------------------------------------------------------------------------------------------ */
/* 93 days of hourly samples with known mixes, through the real RRD writer. */

struct fake {
    const char *id;
    const char *expect_state;
};

/* The probes of the fake set and their state at the end. */
static const struct fake fakes[] = {
    {"fast", "ok"},   {"mix", "ok"},          {"flaky", "ok"},      {"outage", "down"},
    {"slow", "slow"}, {"stale", "unchecked"}, {"nodata", "nodata"}, {"other", "ok"},
};
#define NFAKES (sizeof(fakes) / sizeof(fakes[0]))
#define FAKE_HOURS (93 * 24)

/* The sample of probe `id` k hours before the newest (k = 0): true when there is one, with *up
 * and *ms (the total time of a success). */
static bool fake_sample(const char *id, long k, bool *up, long *ms)
{
    static const long mix_ms[] = {100, 300, 450, 700};

    *up = true;
    if (!strcmp(id, "fast"))
        *ms = 150;
    else if (!strcmp(id, "mix"))
        *ms = mix_ms[k % 4];
    else if (!strcmp(id, "flaky"))
        *up = k % 100 != 37, *ms = 250;
    else if (!strcmp(id, "outage"))
        *up = k >= 30, *ms = 120;
    else if (!strcmp(id, "slow"))
        *ms = 900;
    else if (!strcmp(id, "stale"))
        *ms = 300;
    else if (!strcmp(id, "other"))
        *up = k % 500 != 3, *ms = 50;
    else
        return false;
    return strcmp(id, "stale") != 0 || k >= 240;
}

static struct result fake_result(bool up, long ms)
{
    struct result r;

    memset(&r, 0, sizeof(r));
    r.dns_us = 1000;
    r.connect_us = 2000;
    r.tls_us = -1;
    r.pretransfer_us = 2000;
    if (up) {
        r.outcome = OUTCOME_OK;
        r.status = 200;
        r.total_us = ms * 1000;
        r.ttfb_us = r.total_us - 500;
        r.response_us = r.ttfb_us - r.pretransfer_us;
    } else {
        r.outcome = OUTCOME_HTTP_STATUS;
        r.verdict = VERDICT_DOWN;
        r.status = 503;
        r.ttfb_us = 3000;
        r.total_us = -1;
        r.response_us = 1000;
    }
    return r;
}

#define GROUP_A "Ministère <des> \"Tests\" & Cie"
#define NAME_FAST "Fast & <b>bold</b> 'quoted'"

/* Writes the configuration of the fake set under dir; returns vigie.yaml's path. */
static char *fake_config(const char *dir)
{
    free(test_write(dir, "probes.d/a.yaml",
                    "group: \"Ministère <des> \\\"Tests\\\" & Cie\"\n"
                    "defaults: {interval: 1h}\n"
                    "probes:\n"
                    "  - id: fast\n"
                    "    name: \"Fast & <b>bold</b> 'quoted'\"\n"
                    "    url: \"http://user:secret@127.0.0.1:9/x?a=1&b=2\"\n"
                    "    jdma: [101, 102]\n"
                    "  - {id: mix, url: \"http://127.0.0.1:9/mix\"}\n"
                    "  - {id: flaky, url: \"http://127.0.0.1:9/flaky\"}\n"
                    "  - {id: outage, name: \"Outage\", url: \"http://127.0.0.1:9/outage\"}\n"
                    "  - {id: slow, url: \"http://127.0.0.1:9/slow\"}\n"
                    "  - {id: stale, url: \"http://127.0.0.1:9/stale\"}\n"
                    "  - {id: nodata, url: \"http://127.0.0.1:9/nodata\"}\n"));
    free(test_write(dir, "probes.d/b.yaml",
                    "group: \"Opérateurs\"\n"
                    "probes:\n"
                    "  - {id: other, interval: 1h, url: \"http://127.0.0.1:9/other\"}\n"));
    return test_write(dir, "vigie.yaml",
                      "probes_dir: probes.d\nrrd_dir: rrd\ngraphs_dir: graphs\nrrd_flush: 1s\n");
}

static void on_closed(void *arg)
{
    (*(int *)arg)++;
}

/* The fake set: configuration and RRD files, the newest sample in the row ending at *last (the
 * last hour boundary before now). Returns vigie.yaml's path. */
static char *fake_build(const char *dir, int64_t *last)
{
    char *cfgpath = fake_config(dir), rrd[1024];
    struct config *cfg = NULL;
    struct diag d;
    uv_loop_t loop;
    struct rrdw *w;
    struct rrdw_stats st;
    int closed = 0;
    size_t pushed = 0;
    int64_t L = (int64_t)time(NULL) / HOUR * HOUR;

    diag_init(&d);
    if (config_load(cfgpath, &cfg, &d) != 0)
        diag_print(&d, stderr);
    ck_assert_ptr_nonnull(cfg);
    diag_fini(&d);
    snprintf(rrd, sizeof(rrd), "%s/rrd", dir);
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    w = rrdw_new(&loop, &(struct rrdw_opts){.dir = rrd, .flush_ms = 3600 * 1000});
    ck_assert_ptr_nonnull(w);
    for (long k = FAKE_HOURS - 1; k >= 0; k--) {
        for (size_t i = 0; i < cfg->nprobes; i++) {
            const struct probe *p = &cfg->probes[i];
            bool up;
            long ms;

            if (!fake_sample(p->id, k, &up, &ms))
                continue;
            struct result r = fake_result(up, ms);
            rrdw_push(w, p, L - k * HOUR - HOUR / 2, &r, false);
            pushed++;
        }
    }
    rrdw_close(w, &st, on_closed, &closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(closed, 1);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    ck_assert_uint_eq(st.written, pushed);
    config_free(cfg);
    *last = L;
    return cfgpath;
}

static char *path_in(const char *dir, const char *name)
{
    char buf[2048];

    snprintf(buf, sizeof(buf), "%s/%s", dir, name);
    return strdup(buf);
}

/* Every row of the fake set against rrdtool fetch at the hourly resolution. */
static void check_fake_rows(const char *dir, const char *html, int64_t L, const char *what)
{
    for (size_t i = 0; i < NFAKES; i++) {
        char rrdname[256], *rrd, msg[256];
        struct row r;

        snprintf(rrdname, sizeof(rrdname), "rrd/%s.rrd", fakes[i].id);
        rrd = path_in(dir, rrdname);
        ck_assert_msg(find_row(html, fakes[i].id, &r), "%s: no row for %s", what, fakes[i].id);
        ck_assert_msg(strcmp(r.state, fakes[i].expect_state) == 0, "%s: %s is %s, want %s", what,
                      fakes[i].id, r.state, fakes[i].expect_state);
        ck_assert_uint_eq(r.ncells, 8); /* group, state, 3 availabilities, 3 times */
        ck_assert_str_eq(r.group, strcmp(fakes[i].id, "other") ? GROUP_A : "Opérateurs");
        ck_assert_str_eq(r.c[0].text, r.group);
        if (access(rrd, F_OK) != 0) {
            for (size_t c = 2; c < 8; c++) {
                snprintf(msg, sizeof(msg), "%s: %s cell %zu", what, fakes[i].id, c);
                check_indicator(&r.c[c], NAN, c >= 5, msg);
            }
            free(rrd);
            continue;
        }
        struct truth t[DASH_NWIN];
        for (int w = 0; w < DASH_NWIN; w++) {
            t[w] = fetch_truth(rrd, HOUR, L, dash_window_span[w]);
            snprintf(msg, sizeof(msg), "%s: %s availability over %lld s (%zu rows)", what,
                     fakes[i].id, (long long)dash_window_span[w], t[w].rows);
            check_indicator(&r.c[2 + w], t[w].avail, false, msg);
        }
        snprintf(msg, sizeof(msg), "%s: %s median 24 h", what, fakes[i].id);
        check_indicator(&r.c[5], rrdq_percentile(t[DASH_DAY].le, t[DASH_DAY].avail, 0.5), true,
                        msg);
        snprintf(msg, sizeof(msg), "%s: %s p95 24 h", what, fakes[i].id);
        check_indicator(&r.c[6], rrdq_percentile(t[DASH_DAY].le, t[DASH_DAY].avail, 0.95), true,
                        msg);
        snprintf(msg, sizeof(msg), "%s: %s median 3 months", what, fakes[i].id);
        check_indicator(&r.c[7], rrdq_percentile(t[DASH_QUARTER].le, t[DASH_QUARTER].avail, 0.5),
                        true, msg);
        free(rrd);
    }
}

/* The figures the mixes were built for, independently of rrdtool. */
static void check_fake_figures(const char *html)
{
    struct row r;

    ck_assert(find_row(html, "flaky", &r));
    ck_assert_str_eq(r.c[2].v, "1.000000"); /* no failure in the last 24 h */
    ck_assert_double_eq_tol(strtod(r.c[3].v, NULL), 166.0 / 168, 1e-6); /* k = 37, 137 */
    ck_assert_double_eq_tol(strtod(r.c[4].v, NULL), 2186.0 / 2208, 1e-6);
    ck_assert(strstr(r.c[4].cls, "q-yellow") && strstr(r.c[4].text, "99,00"));
    ck_assert(find_row(html, "outage", &r));
    ck_assert_str_eq(r.c[2].v, "0.000000");
    ck_assert(strstr(r.c[2].text, "0,00") && strstr(r.c[2].text, "mauvais"));
    ck_assert(find_row(html, "fast", &r));
    ck_assert_double_eq_tol(strtod(r.c[5].v, NULL), 100.0, 1e-6); /* all in [0, 200) */
    ck_assert_msg(strstr(r.c[5].text, "< 200\xc2\xa0ms") && strstr(r.c[5].text, "bon"), "%s",
                  r.c[5].text);
    ck_assert(find_row(html, "slow", &r));
    ck_assert(strstr(r.c[5].cls, "q-red") && strstr(r.c[5].text, "mauvais"));
    ck_assert(find_row(html, "stale", &r));
    ck_assert(strstr(r.c[2].text, "pas de donnée") && r.c[4].v[0] != '\0');
}

/* `vigie dashboard` on the fake set: every probe, every number equal to rrdtool fetch, the
 * classes and their words, the default order worst first, escaping, the probe pages. */
START_TEST(test_dashboard_from_rrd)
{
    char *dir = test_mkdtemp(), *cfg, *out = NULL, *err = NULL, *index, *html, *page;
    int64_t L;
    char ids[16][64];
    size_t n;

    cfg = fake_build(dir, &L);
    {
        const char *argv[] = {"dashboard", "-c", cfg, NULL};
        ck_assert_msg(test_vigie(argv, &out, &err, 60) == 0, "%s", err);
    }
    ck_assert_msg(strstr(out, "8 probes, 7 with data"), "%s", out);
    index = path_in(dir, "graphs/index.html");
    html = test_slurp(index, NULL);
    ck_assert(strstr(html, "<html lang=\"fr\">"));
    check_markup(html, "index.html");
    check_fake_rows(dir, html, L, "index.html");
    check_fake_figures(html);

    /* worst first: down, slow, not checked, no data, then ok (red before yellow before green) */
    n = visible_ids(html, ids, 16);
    ck_assert_uint_eq(n, NFAKES);
    ck_assert_str_eq(ids[0], "outage");
    ck_assert_str_eq(ids[1], "slow");
    ck_assert_str_eq(ids[2], "stale");
    ck_assert_str_eq(ids[3], "nodata");
    ck_assert_str_eq(ids[4], "other"); /* ok but 95.83 % over 24 h: red */
    ck_assert_str_eq(ids[5], "flaky"); /* yellow */
    ck_assert_str_eq(ids[6], "mix");   /* yellow: median 400 ms */
    ck_assert_str_eq(ids[7], "fast");

    /* escaping: nothing from the configuration reaches the page as markup */
    ck_assert(strstr(html, "Fast &amp; &lt;b&gt;bold&lt;/b&gt; &#39;quoted&#39;"));
    ck_assert(strstr(html, "Ministère &lt;des&gt; &quot;Tests&quot; &amp; Cie"));
    ck_assert(!strstr(html, "<b>bold"));
    ck_assert(!strstr(html, "<des>"));
    /* accessibility and self-containment */
    ck_assert(strstr(html, "<caption>"));
    ck_assert(strstr(html, "<th scope=\"col\""));
    ck_assert(strstr(html, "<th scope=\"row\""));
    ck_assert(!strstr(html, "http")); /* no URL at all: no external asset, no probe URL */
    ck_assert(!strstr(html, "<link"));
    ck_assert(!strstr(html, "src=\"http"));
    /* graphs and groups */
    ck_assert(strstr(html, "src=\"overview-day.png\""));
    ck_assert(strstr(html, "href=\"overview-year.svg\""));
    ck_assert(strstr(html, "href=\"group-minist-re-des-tests-cie-quarter.png\""));
    ck_assert(strstr(html, "href=\"group-op-rateurs-week.svg\""));
    ck_assert(strstr(html, "href=\"probe/fast.html\""));
    free(html);

    /* a probe page: its facts, summaries, graphs for every period, the link back */
    page = path_in(dir, "graphs/probe/fast.html");
    html = test_slurp(page, NULL);
    check_markup(html, "probe/fast.html");
    ck_assert(strstr(html, "<h1>Fast &amp; &lt;b&gt;bold&lt;/b&gt; &#39;quoted&#39;</h1>"));
    ck_assert(strstr(html, "http://127.0.0.1:9/x?a=1&amp;b=2"));
    ck_assert_msg(!strstr(html, "secret"), "credentials of the URL on the page");
    ck_assert(strstr(html, "101, 102"));
    ck_assert(strstr(html, "href=\"../index.html#p-fast\""));
    {
        static const char *const per[] = {"day", "week", "month", "quarter", "year"};
        char want[128];

        for (size_t p = 0; p < 5; p++) {
            snprintf(want, sizeof(want), "src=\"fast-latency-%s.png\"", per[p]);
            ck_assert_msg(strstr(html, want), "no %s", want);
            snprintf(want, sizeof(want), "src=\"fast-avail-%s.png\"", per[p]);
            ck_assert_msg(strstr(html, want), "no %s", want);
            snprintf(want, sizeof(want), "href=\"fast-avail-%s.svg\"", per[p]);
            ck_assert_msg(strstr(html, want), "no %s", want);
        }
    }
    ck_assert(strstr(html, "Les fichiers RRD ne gardent pas les messages"));
    free(html);
    for (size_t i = 0; i < NFAKES; i++) {
        char name[128];

        snprintf(name, sizeof(name), "graphs/probe/%s.html", fakes[i].id);
        char *p = path_in(dir, name);
        struct stat st;
        ck_assert_msg(stat(p, &st) == 0 && (st.st_mode & 0777) == 0644, "%s", p);
        free(p);
    }

    /* the graphs drawn by `vigie graph --all`: every link and image of every page resolves */
    {
        const char *argv[] = {"graph", "-c", cfg, "--all", NULL};
        char *gdir = path_in(dir, "graphs"), *pdir = path_in(dir, "graphs/probe");
        size_t links;

        free(out);
        free(err);
        ck_assert_msg(test_vigie(argv, &out, &err, 120) == 0, "%s", err);
        /* and the criterion report the index links to */
        {
            char *rp = path_in(dir, "graphs/report.html");
            const char *rargv[] = {"report", "-c", cfg, "--format", "html", "-o", rp, NULL};

            free(out);
            free(err);
            ck_assert_msg(test_vigie(rargv, &out, &err, 120) == 0, "%s", err);
            free(rp);
        }
        html = test_slurp(index, NULL);
        links = check_links(html, gdir, NULL);
        ck_assert_msg(links >= 1 + 10 + 2 * 10 + NFAKES, "%zu links", links);
        free(html);
        for (size_t i = 0; i < NFAKES; i++) {
            char name[128];

            snprintf(name, sizeof(name), "graphs/probe/%s.html", fakes[i].id);
            char *p = path_in(dir, name);
            html = test_slurp(p, NULL);
            links = check_links(html, pdir, "nodata-");
            ck_assert_msg(strcmp(fakes[i].id, "nodata") == 0 || links >= 20, "%s: %zu links",
                          fakes[i].id, links);
            free(html);
            free(p);
        }
        free(gdir);
        free(pdir);
    }

    /* English */
    {
        const char *argv[] = {"dashboard", "-c", cfg, "--lang", "en", NULL};
        free(out);
        free(err);
        ck_assert_msg(test_vigie(argv, &out, &err, 60) == 0, "%s", err);
    }
    html = test_slurp(index, NULL);
    ck_assert(strstr(html, "<html lang=\"en\">"));
    ck_assert(strstr(html, "<h2 id=\"h-probes\">Procedures</h2>"));
    ck_assert(strstr(html, ">down</span>"));
    ck_assert(strstr(html, "99.00%"));
    free(html);

    free(out);
    free(err);
    free(index);
    free(page);
    free(cfg);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* The daemon's path: live rows with their last errors, rendered by dash_write in-process. */
START_TEST(test_live_rows)
{
    char *dir = test_mkdtemp(), *graphs = path_in(dir, "graphs"), *html, *p, err[256];
    char id[] = "live", name[] = "Live <script>alert('name')</script>", group[] = "G",
         url[] = "https://127.0.0.1:1/";
    struct probe pr = {0};
    struct dash_row r;

    pr.id = id;
    pr.name = name;
    pr.group = group;
    pr.url = url;
    pr.interval_ms = 60000;
    pr.slow_ms = 800;
    dash_row_init(&r, &pr);
    ck_assert_int_eq(r.state, DASH_NODATA);
    r.live = true;
    r.state = dash_state_of(&pr, true, 812.0);
    ck_assert_int_eq(r.state, DASH_SLOW);
    ck_assert_int_eq(dash_state_of(&pr, true, 799.9), DASH_OK);
    ck_assert_int_eq(dash_state_of(&pr, false, NAN), DASH_DOWN);
    r.last_time = 1700000000;
    for (int i = 0; i < DASH_ERRORS_MAX + 3; i++) {
        char msg[64];

        snprintf(msg, sizeof(msg), "<script>alert(%d)</script> & more", i);
        dash_row_add_error(&r, 1700000000 + i, "timeout", msg);
    }
    ck_assert_uint_eq(r.nerrors, DASH_ERRORS_MAX);
    ck_assert_int_eq(r.errors[0].time, 1700000000 + DASH_ERRORS_MAX + 2); /* newest first */
    ck_assert_int_eq(r.errors[DASH_ERRORS_MAX - 1].time, 1700000003);
    ck_assert_int_eq(
        dash_write(graphs, &r, 1, LANG_EN, DASH_PNG | DASH_SVG, 1700000100, err, sizeof(err)), 0);

    p = path_in(graphs, "probe/live.html");
    html = test_slurp(p, NULL);
    check_markup(html, "probe/live.html");
    ck_assert(strstr(html, "&lt;script&gt;alert(12)&lt;/script&gt; &amp; more"));
    ck_assert(!strstr(html, "<script>alert"));
    /* the probe's name and group are text too, on its page and on the index */
    ck_assert(strstr(html, "Live &lt;script&gt;alert("));
    ck_assert(strstr(html, "2023-11-14 22:13:32 UTC")); /* 1700000012 */
    ck_assert(strstr(html, ">slow</span>"));
    ck_assert(!strstr(html, "alert(2)&lt;")); /* fell off */
    ck_assert(strstr(html, "src=\"live-latency-week.png\""));
    ck_assert(strstr(html, "href=\"live-avail-year.svg\""));
    free(html);
    free(p);

    /* SVG only: the SVG in <img>; no graphs: no graph section, no broken image */
    {
        char *g2 = path_in(dir, "g2"), *g3 = path_in(dir, "g3");

        ck_assert_int_eq(dash_write(g2, &r, 1, LANG_FR, DASH_SVG, 1700000100, err, sizeof(err)), 0);
        ck_assert_int_eq(dash_write(g3, &r, 1, LANG_FR, 0, 1700000100, err, sizeof(err)), 0);
        p = path_in(g2, "probe/live.html");
        html = test_slurp(p, NULL);
        ck_assert(strstr(html, "src=\"live-latency-day.svg\""));
        ck_assert(!strstr(html, ".png"));
        free(html);
        free(p);
        p = path_in(g2, "index.html");
        html = test_slurp(p, NULL);
        ck_assert(strstr(html, "src=\"overview-day.svg\""));
        ck_assert(strstr(html, "href=\"group-g-month.svg\""));
        free(html);
        free(p);
        p = path_in(g3, "probe/live.html");
        html = test_slurp(p, NULL);
        ck_assert(!strstr(html, "<img") && !strstr(html, ".svg"));
        free(html);
        free(p);
        p = path_in(g3, "index.html");
        html = test_slurp(p, NULL);
        ck_assert(!strstr(html, "<img") && !strstr(html, ".svg") && !strstr(html, ".png"));
        free(html);
        free(p);
        free(g2);
        free(g3);
    }

    /* an unusable directory is an error naming the path */
    free(test_write(dir, "file", "x"));
    p = path_in(dir, "file");
    ck_assert_int_eq(dash_write(p, &r, 1, LANG_EN, DASH_SVG, 1700000100, err, sizeof(err)),
                     -ENOTDIR);
    ck_assert_msg(strstr(err, "file/probe"), "%s", err);
    free(p);
    /* no temporary file is left behind */
    {
        char *out = NULL;
        ck_assert_int_eq(
            test_run("find", (const char *const[]){graphs, "-name", ".*", NULL}, &out, NULL, 10),
            0);
        ck_assert_msg(out[0] == '\0', "left over: %s", out);
        free(out);
    }
    ck_assert_int_eq(lang_parse("de", &(enum lang){LANG_FR}), -EINVAL);
    dash_row_fini(&r);
    ck_assert_ptr_null(r.errors);
    free(graphs);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* A probe's page is written again when what it shows changes, and at least every
 * DASH_PAGE_KEEP seconds; in between, the file is left as it is (a marker written into it stays).
 */
static bool page_kept(const char *page, const char *what)
{
    char *html = test_slurp(page, NULL);
    bool kept = strcmp(html, "kept") == 0;

    if (!kept)
        check_markup(html, what);
    free(html);
    return kept;
}

START_TEST(test_page_kept)
{
    char *dir = test_mkdtemp(), *graphs = path_in(dir, "graphs"), *page, err[256];
    char id[] = "p", name[] = "P", group[] = "G", url[] = "https://127.0.0.1:1/";
    struct probe pr = {
        .id = id, .name = name, .group = group, .url = url, .interval_ms = 60000, .slow_ms = 800};
    struct dash_row r;
    time_t t = 1700000000;

    dash_row_init(&r, &pr);
    r.live = true;
    r.state = DASH_OK;
    r.last_time = t;
    r.last_ms = 12;
    page = path_in(graphs, "probe/p.html");
#define WRITE(at)                                                                                  \
    ck_assert_int_eq(dash_write(graphs, &r, 1, LANG_EN, DASH_SVG, (at), err, sizeof(err)), 0)
#define MARK() free(test_write(graphs, "probe/p.html", "kept"))
    WRITE(t);
    ck_assert(!page_kept(page, "first"));
    ck_assert_int_eq(r.page_at, t);
    MARK();
    r.last_time = t + 60; /* the last check only: kept */
    r.last_ms = 14;
    WRITE(t + 60);
    ck_assert(page_kept(page, "same"));
    r.state = DASH_DOWN; /* the state */
    WRITE(t + 61);
    ck_assert(!page_kept(page, "state"));
    MARK();
    dash_row_add_error(&r, t + 62, "connect", "refused"); /* a new error */
    WRITE(t + 62);
    ck_assert(!page_kept(page, "error"));
    MARK();
    dash_row_add_error(&r, t + 63, "connect", "refused"); /* another, alike */
    WRITE(t + 63);
    ck_assert(!page_kept(page, "error again"));
    MARK();
    r.sum_at[DASH_DAY] = t + 64; /* a summary read again */
    WRITE(t + 64);
    ck_assert(!page_kept(page, "summary"));
    MARK();
    WRITE(t + 64 + DASH_PAGE_KEEP - 1);
    ck_assert(page_kept(page, "not yet old"));
    WRITE(t + 64 + DASH_PAGE_KEEP); /* old enough: its last check line */
    ck_assert(!page_kept(page, "old"));
    MARK();
    ck_assert_int_eq(dash_write(graphs, &r, 1, LANG_FR, DASH_SVG, t + 400, err, sizeof(err)), 0);
    ck_assert(!page_kept(page, "language"));
    /* the index is always written */
    {
        char *index = test_write(graphs, "index.html", "kept");

        ck_assert_int_eq(dash_write(graphs, &r, 1, LANG_FR, DASH_SVG, t + 401, err, sizeof(err)),
                         0);
        ck_assert(!page_kept(index, "index"));
        free(index);
    }
#undef WRITE
#undef MARK
    dash_row_fini(&r);
    free(page);
    free(graphs);
    test_rmtree(dir);
    free(dir);
}
END_TEST

struct refreshed {
    int done;
    struct dash_row *rows; /* the summaries are kept in these */
    size_t n;
};

static void on_refreshed(void *arg, int rc, const char *err, const struct dash_refreshed *r)
{
    struct refreshed *rf = arg;

    ck_assert_msg(rc == 0, "refresh: %s", err);
    ck_assert_uint_eq(r->n, rf->n);
    dash_keep_summaries(rf->rows, rf->n, r);
    rf->done++;
}

/* The daemon's path: live rows (state, last errors) snapshot by dash_refresh, the summaries
 * collected from the files and the pages written on the thread pool. Live state wins over the
 * files; rows that are not live take theirs; later changes to the rows do not reach the job. */
START_TEST(test_refresh_live)
{
    char *dir = test_mkdtemp(), *cfgpath, rrd[1024], graphs[1024], *p, *html;
    struct config *cfg = NULL;
    struct dash_row *rows;
    struct diag d;
    uv_loop_t loop;
    int64_t L;
    struct refreshed rf = {0};
    struct row r;
    time_t now = time(NULL);

    cfgpath = fake_build(dir, &L);
    diag_init(&d);
    ck_assert_int_eq(config_load(cfgpath, &cfg, &d), 0);
    diag_fini(&d);
    rows = calloc(cfg->nprobes, sizeof(*rows));
    ck_assert_ptr_nonnull(rows);
    rf.rows = rows;
    rf.n = cfg->nprobes;
    for (size_t i = 0; i < cfg->nprobes; i++) {
        struct dash_row *row = &rows[i];

        dash_row_init(row, &cfg->probes[i]);
        if (!strcmp(row->probe->id, "fast")) { /* the files say ok; the daemon saw it slow */
            row->live = true;
            row->state = dash_state_of(row->probe, true, 950.0);
            row->last_time = now;
            row->last_ms = 950.0;
        } else if (!strcmp(row->probe->id, "outage")) {
            row->live = true;
            row->state = DASH_DOWN;
            row->last_time = now;
            dash_row_add_error(row, now - 60, "connect", "Connection refused <again>");
            dash_row_add_error(row, now, "http_status", "status 503 not in 200-399 & co");
        }
    }
    snprintf(rrd, sizeof(rrd), "%s/rrd", dir);
    snprintf(graphs, sizeof(graphs), "%s/graphs", dir);
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    ck_assert_int_eq(dash_refresh(&loop,
                                  &(struct dash_refresh_opts){.rrd_dir = rrd,
                                                              .graphs_dir = graphs,
                                                              .flush_s = 1,
                                                              .lang = LANG_FR,
                                                              .formats = DASH_PNG | DASH_SVG},
                                  rows, cfg->nprobes, on_refreshed, &rf),
                     0);
    for (size_t i = 0; i < cfg->nprobes; i++) /* after the snapshot: not seen by the job */
        rows[i].state = DASH_OK, rows[i].live = true;
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(rf.done, 1);
    ck_assert_int_eq(uv_loop_close(&loop), 0);

    p = path_in(graphs, "index.html");
    html = test_slurp(p, NULL);
    check_markup(html, "index.html (refresh)");
    ck_assert(find_row(html, "fast", &r));
    ck_assert_str_eq(r.state, "slow");
    {
        char *f = path_in(dir, "rrd/fast.rrd");
        struct truth t = fetch_truth(f, HOUR, L, 86400);

        check_indicator(&r.c[2], t.avail, false, "fast availability 24 h (refresh)");
        free(f);
    }
    ck_assert(find_row(html, "stale", &r));
    ck_assert_str_eq(r.state, "unchecked");
    ck_assert(find_row(html, "slow", &r));
    ck_assert_str_eq(r.state, "slow");
    free(html);
    free(p);
    p = path_in(graphs, "probe/outage.html");
    html = test_slurp(p, NULL);
    check_markup(html, "probe/outage.html (refresh)");
    {
        const char *a = strstr(html, "status 503 not in 200-399 &amp; co");
        const char *b = strstr(html, "Connection refused &lt;again&gt;");

        ck_assert_msg(a && b && a < b, "errors missing or not newest first");
    }
    ck_assert(strstr(html, ">http_status</td>"));
    free(html);
    free(p);

    /* The summaries came back: the next collect keeps them until they age (5 min, 10 min,
     * 1 h). With the file gone, the day says so when it is read again. */
    {
        size_t i = (size_t)(config_find(cfg, "fast") - cfg->probes);
        char *f = path_in(dir, "rrd/fast.rrd"), *g = path_in(dir, "rrd/fast.rrd.away");
        time_t t = time(NULL);

        ck_assert_int_eq(rows[i].sum_err[DASH_WEEK], 0);
        ck_assert(rows[i].sum_at[DASH_WEEK] >= now && rows[i].sum_at[DASH_WEEK] <= t);
        ck_assert_int_eq(rename(f, g), 0);
        dash_collect(rrd, rows, cfg->nprobes, t, 1);
        ck_assert_int_eq(rows[i].sum_err[DASH_DAY], 0);
        ck_assert_uint_eq(rows[i].sum_step, (unsigned long)HOUR);
        dash_collect(rrd, rows, cfg->nprobes, t + 301, 1);
        ck_assert_int_eq(rows[i].sum_err[DASH_DAY], -ENOENT);
        ck_assert_int_eq(rows[i].sum_err[DASH_WEEK], 0);
        ck_assert(rows[i].sum[DASH_WEEK].samples > 0);
        ck_assert_int_eq(rows[i].sum_err[DASH_QUARTER], 0);
        dash_collect(rrd, rows, cfg->nprobes, t + 601, 1);
        ck_assert_int_eq(rows[i].sum_err[DASH_WEEK], -ENOENT);
        ck_assert_int_eq(rows[i].sum_err[DASH_QUARTER], 0);
        ck_assert_ptr_null(rows[i].sum_msg); /* a missing file is no failure to tell */
        /* An unreadable file: its message stays on the row while a window is in error, also
         * through collects that read nothing again, and goes once every window reads well. */
        free(test_write(dir, "rrd/fast.rrd", "not an RRD file"));
        dash_collect(rrd, rows, cfg->nprobes, t + 902, 1);
        ck_assert_int_lt(rows[i].sum_err[DASH_DAY], 0);
        ck_assert_int_ne(rows[i].sum_err[DASH_DAY], -ENOENT);
        ck_assert_ptr_nonnull(rows[i].sum_msg);
        ck_assert_msg(rows[i].sum_msg[0] && !strstr(rows[i].sum_msg, rrd), "%s", rows[i].sum_msg);
        dash_collect(rrd, rows, cfg->nprobes, t + 903, 1);
        ck_assert_ptr_nonnull(rows[i].sum_msg);
        ck_assert_int_eq(rename(g, f), 0);
        dash_collect(rrd, rows, cfg->nprobes, t + 1203, 1);
        ck_assert_int_eq(rows[i].sum_err[DASH_DAY], 0);
        ck_assert_int_eq(rows[i].sum_err[DASH_WEEK], 0);
        ck_assert_ptr_null(rows[i].sum_msg);
        free(f);
        free(g);
    }

    for (size_t i = 0; i < cfg->nprobes; i++)
        dash_row_fini(&rows[i]);
    free(rows);
    config_free(cfg);
    free(cfgpath);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* `vigie dashboard`'s errors: a bad --lang, a graphs_dir that cannot be made, a bad config. */
START_TEST(test_cli_errors)
{
    char *dir = test_mkdtemp(), *cfg, *bad, *err = NULL;

    free(test_write(dir, "probes.d/a.yaml",
                    "group: G\nprobes:\n  - {id: a, url: \"http://127.0.0.1:9/\"}\n"));
    free(test_write(dir, "blocker", "a file where a directory should be\n"));
    cfg =
        test_write(dir, "vigie.yaml", "probes_dir: probes.d\nrrd_dir: rrd\ngraphs_dir: blocker\n");
    {
        const char *argv[] = {"dashboard", "-c", cfg, "--lang", "de", NULL};
        ck_assert_int_ne(test_vigie(argv, NULL, &err, 30), 0);
        ck_assert_msg(strstr(err, "--lang de: expected fr or en"), "%s", err);
        free(err);
    }
    {
        const char *argv[] = {"dashboard", "-c", cfg, NULL};
        ck_assert_int_eq(test_vigie(argv, NULL, &err, 30), 1);
        ck_assert_msg(strstr(err, "blocker/probe: cannot create the directory: Not a directory"),
                      "%s", err);
        free(err);
    }
    /* an unreadable RRD file: said on stderr and on the probe's page, the pages still written */
    free(test_write(dir, "rrd/a.rrd", "<not an RRD file>\n"));
    free(cfg);
    cfg = test_write(dir, "ok.yaml", "probes_dir: probes.d\nrrd_dir: rrd\ngraphs_dir: graphs\n");
    {
        const char *argv[] = {"dashboard", "-c", cfg, NULL};
        char *page, *html;

        ck_assert_int_eq(test_vigie(argv, NULL, &err, 30), 0);
        ck_assert_msg(strstr(err, "vigie: dashboard: probe a: "), "%s", err);
        free(err);
        page = path_in(dir, "graphs/probe/a.html");
        html = test_slurp(page, NULL);
        check_markup(html, "probe/a.html");
        ck_assert(strstr(html, "<p role=\"alert\">Les fichiers RRD de cette démarche"));
        free(html);
        free(page);
        page = path_in(dir, "graphs/index.html");
        html = test_slurp(page, NULL);
        ck_assert(strstr(html, "data-state=\"nodata\""));
        free(html);
        free(page);
    }
    bad = test_write(dir, "bad.yaml", "probes_dir: probes.d\nbogus: 1\n");
    {
        const char *argv[] = {"dashboard", "-c", bad, NULL};
        ck_assert_int_eq(test_vigie(argv, NULL, &err, 30), 1);
        ck_assert_msg(strstr(err, "bad.yaml:2:1"), "%s", err);
        free(err);
    }
    free(bad);
    free(cfg);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* A real run of vigie against the loopback server, then the dashboard. */

START_TEST(test_dashboard_after_run)
{
    char *dir = test_mkdtemp(), *cfg, *out = NULL, *err = NULL, *html, *index, yaml[2048];
    static const char *const ids[] = {"ok", "slowsrv", "downsrv"};
    static const char *const states[] = {"ok", "slow", "down"};

    snprintf(yaml, sizeof(yaml),
             "group: \"Loopback\"\n"
             "defaults: {interval: 1s, timeout: 900ms, slow: 300ms}\n"
             "probes:\n"
             "  - {id: ok, url: \"http://127.0.0.1:%d/?delay=20&t=dash\"}\n"
             "  - {id: slowsrv, url: \"http://127.0.0.1:%d/?delay=350&t=dash\"}\n"
             "  - {id: downsrv, url: \"http://127.0.0.1:%d/?status=503&t=dash\"}\n",
             test_srv.http, test_srv.http, test_srv.http);
    free(test_write(dir, "probes.d/l.yaml", yaml));
    cfg = test_write(dir, "vigie.yaml",
                     "probes_dir: probes.d\nrrd_dir: rrd\ngraphs_dir: graphs\nrrd_flush: 1s\n"
                     "rrd_retention: {full: 26h, medium: 1d, hourly: 1d, daily: 1d}\n"
                     "drain_timeout: 2s\n");
    {
        const char *argv[] = {"run", "-c", cfg, "--duration", "5s", NULL};
        ck_assert_msg(test_vigie(argv, NULL, &err, 30) == 0, "%s", err);
        free(err);
    }
    {
        const char *argv[] = {"dashboard", "-c", cfg, NULL};
        ck_assert_msg(test_vigie(argv, &out, &err, 60) == 0, "%s", err);
    }
    index = path_in(dir, "graphs/index.html");
    html = test_slurp(index, NULL);
    const char *gen = strstr(html, "<time datetime=\"");
    ck_assert_ptr_nonnull(gen);
    int64_t now = strtoll(gen + 16, NULL, 10);
    for (size_t i = 0; i < 3; i++) {
        char rrdname[128], *rrd, msg[128];
        struct row r;
        struct truth t;

        snprintf(rrdname, sizeof(rrdname), "rrd/%s.rrd", ids[i]);
        rrd = path_in(dir, rrdname);
        ck_assert_msg(find_row(html, ids[i], &r), "no row for %s", ids[i]);
        ck_assert_msg(strcmp(r.state, states[i]) == 0, "%s is %s", ids[i], r.state);
        /* A 1 s probe keeps an hour at full resolution (docs/RRD.md, "Archives"): its 24 h
         * are read from one-minute rows and, for the minute not consolidated yet (all of this
         * 5 s run), from the raw rows. The truth is every raw row, all in the last half hour. */
        t = fetch_truth(rrd, 1, now, 1800);
        ck_assert_uint_ge(t.rows, 3);
        ck_assert_double_eq(t.avail, i == 2 ? 0.0 : 1.0);
        snprintf(msg, sizeof(msg), "%s availability 24 h", ids[i]);
        check_indicator(&r.c[2], t.avail, false, msg);
        snprintf(msg, sizeof(msg), "%s median 24 h", ids[i]);
        check_indicator(&r.c[5], rrdq_percentile(t.le, t.avail, 0.5), true, msg);
        free(rrd);
    }
    free(html);
    free(index);
    free(out);
    free(err);
    free(cfg);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Headless Chromium. */

static bool in_path(const char *prog, char *buf, size_t len)
{
    const char *path = getenv("PATH");

    for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
        const char *e = strchr(p, ':');
        size_t n = e ? (size_t)(e - p) : strlen(p);

        snprintf(buf, len, "%.*s/%s", (int)n, p, prog);
        if (n && access(buf, X_OK) == 0)
            return true;
        p += n + (e != NULL);
    }
    return false;
}

/* Runs chromium headless on url with `mode` (--dump-dom or --screenshot=FILE), in its own process
 * group, stdout into out_path; kills the whole group after timeout_s. Returns the exit status. */
static int chromium(const char *bin, const char *tmp, const char *mode, const char *url,
                    const char *out_path, int timeout_s)
{
    char profile[1024], errlog[1024];
    int status = -1;
    pid_t pid, w = 0;
    time_t deadline;

    snprintf(profile, sizeof(profile), "--user-data-dir=%s/chromium-profile", tmp);
    snprintf(errlog, sizeof(errlog), "%s/chromium.log", tmp);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(errlog, O_WRONLY | O_CREAT | O_APPEND, 0644);

        setpgid(0, 0);
        if (fo < 0 || fe < 0)
            _exit(126);
        dup2(fo, 1);
        dup2(fe, 2);
        execl(bin, bin, "--headless", "--no-sandbox", "--disable-gpu",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--no-first-run", "--no-default-browser-check", "--disable-extensions",
              "--hide-scrollbars", "--window-size=1280,1000", profile, mode, url, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid);
    deadline = time(NULL) + test_timeout(timeout_s);
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && time(NULL) < deadline)
        nanosleep(&(struct timespec){0, 20000000}, NULL);
    kill(-pid, SIGKILL); /* its helpers too, whatever happened */
    if (w == 0) {
        waitpid(pid, &status, 0);
        ck_abort_msg("chromium did not finish within %d s (%s)", timeout_s, mode);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void copy_file(const char *from, const char *to)
{
    size_t n;
    char *data = test_slurp(from, &n);
    FILE *f = fopen(to, "wb");

    ck_assert_msg(f != NULL, "%s: %s", to, strerror(errno));
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
    free(data);
}

/* Where screenshots are kept: $VIGIE_ARTIFACTS, else tests/artifacts/ of the source tree. */
static char *artifacts_dir(void)
{
    const char *env = getenv("VIGIE_ARTIFACTS"), *src = getenv("VIGIE_SRCDIR");
    char buf[1024];
    char *out = NULL;

    if (env && *env)
        snprintf(buf, sizeof(buf), "%s", env);
    else
        snprintf(buf, sizeof(buf), "%s/tests/artifacts", src && *src ? src : ".");
    ck_assert_int_eq(test_run("mkdir", (const char *const[]){"-p", buf, NULL}, &out, NULL, 10), 0);
    free(out);
    return strdup(buf);
}

static bool is_png(const char *path, size_t min)
{
    size_t n;
    char *d = test_slurp(path, &n);
    bool ok = n >= min && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0;

    free(d);
    return ok;
}

/* Chromium loads the dashboard and runs its script: the rows it shows equal the RRD data, the
 * fragment filters and sorts, and screenshots are kept. */
START_TEST(test_chromium)
{
    char bin[1024], *dir, *cfg, *out = NULL, *err = NULL, *dom, *domfile, *shot, *art, url[2048],
                                ids[16][64], dst[2048];
    int64_t L;
    size_t n;

    if (!in_path("chromium", bin, sizeof(bin))) {
        fprintf(stderr, "test_dash: SKIPPED test_chromium: chromium is not installed "
                        "(apt-get install chromium fonts-dejavu-core)\n");
        return;
    }
    dir = test_mkdtemp();
    cfg = fake_build(dir, &L);
    {
        const char *argv[] = {"dashboard", "-c", cfg, NULL};
        ck_assert_msg(test_vigie(argv, &out, &err, 60) == 0, "%s", err);
    }
    {
        const char *argv[] = {"graph", "-c", cfg, "--all", NULL}; /* for the screenshots */
        free(out);
        free(err);
        ck_assert_msg(test_vigie(argv, &out, &err, 120) == 0, "%s", err);
    }
    domfile = path_in(dir, "dom.html");

    /* the default view, after the script ran */
    snprintf(url, sizeof(url), "file://%s/graphs/index.html", dir);
    ck_assert_int_eq(chromium(bin, dir, "--dump-dom", url, domfile, 60), 0);
    dom = test_slurp(domfile, NULL);
    ck_assert_msg(strstr(dom, "<th scope=\"col\" data-key=\"name\"><button type=\"button\">"),
                  "the script did not run: %.400s", dom);
    ck_assert(!strstr(dom, "id=\"filters\" hidden"));
    ck_assert_msg(strstr(dom, "8 démarches affichées sur 8"), "count line missing");
    check_fake_rows(dir, dom, L, "chromium");
    n = visible_ids(dom, ids, 16);
    ck_assert_uint_eq(n, NFAKES);
    ck_assert_str_eq(ids[0], "outage");
    ck_assert_str_eq(ids[7], "fast");
    free(dom);

    /* filtered by state through the fragment */
    snprintf(url, sizeof(url), "file://%s/graphs/index.html#state=down", dir);
    ck_assert_int_eq(chromium(bin, dir, "--dump-dom", url, domfile, 60), 0);
    dom = test_slurp(domfile, NULL);
    n = visible_ids(dom, ids, 16);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(ids[0], "outage");
    free(dom);

    /* filtered by group (percent-encoded UTF-8) and sorted by 24 h availability, descending */
    snprintf(url, sizeof(url), "file://%s/graphs/index.html#group=Op%%C3%%A9rateurs", dir);
    ck_assert_int_eq(chromium(bin, dir, "--dump-dom", url, domfile, 60), 0);
    dom = test_slurp(domfile, NULL);
    n = visible_ids(dom, ids, 16);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(ids[0], "other");
    free(dom);
    snprintf(url, sizeof(url), "file://%s/graphs/index.html#sort=avail-day&dir=desc", dir);
    ck_assert_int_eq(chromium(bin, dir, "--dump-dom", url, domfile, 60), 0);
    dom = test_slurp(domfile, NULL);
    n = visible_ids(dom, ids, 16);
    ck_assert_uint_eq(n, NFAKES);
    /* 100 % (fast, flaky, mix, slow, by the default order among ties), 95.8 %, 0 %, then the
     * two without 24 h data */
    ck_assert_str_eq(ids[0], "slow");
    ck_assert_str_eq(ids[4], "other");
    ck_assert_str_eq(ids[5], "outage");
    ck_assert(strstr(dom, "data-key=\"avail-day\" aria-sort=\"descending\"") ||
              strstr(dom, "aria-sort=\"descending\" data-key=\"avail-day\""));
    free(dom);

    /* screenshots, kept */
    art = artifacts_dir();
    shot = path_in(dir, "dashboard.png");
    snprintf(url, sizeof(url), "file://%s/graphs/index.html", dir);
    {
        char mode[2100];

        snprintf(mode, sizeof(mode), "--screenshot=%s", shot);
        ck_assert_int_eq(chromium(bin, dir, mode, url, domfile, 60), 0);
        ck_assert_msg(is_png(shot, 10000), "%s is not a PNG screenshot", shot);
        snprintf(dst, sizeof(dst), "%s/dashboard.png", art);
        copy_file(shot, dst);
        free(shot);
        shot = path_in(dir, "probe.png");
        snprintf(mode, sizeof(mode), "--screenshot=%s", shot);
        snprintf(url, sizeof(url), "file://%s/graphs/probe/flaky.html", dir);
        ck_assert_int_eq(chromium(bin, dir, mode, url, domfile, 60), 0);
        ck_assert_msg(is_png(shot, 10000), "%s is not a PNG screenshot", shot);
        snprintf(dst, sizeof(dst), "%s/probe.png", art);
        copy_file(shot, dst);
    }
    fprintf(stderr, "test_dash: screenshots kept in %s\n", art);

    free(art);
    free(shot);
    free(domfile);
    free(out);
    free(err);
    free(cfg);
    test_rmtree(dir);
    free(dir);
}
END_TEST

Suite *dash_suite(void)
{
    Suite *s = suite_create("dash");
    TCase *tc = tcase_create("dashboard");

    tcase_add_unchecked_fixture(tc, test_srv_up, test_srv_down);
    tcase_set_timeout(tc, test_timeout(120));
    tcase_add_test(tc, test_live_rows);
    tcase_add_test(tc, test_page_kept);
    tcase_add_test(tc, test_dashboard_from_rrd);
    tcase_add_test(tc, test_refresh_live);
    tcase_add_test(tc, test_cli_errors);
    tcase_add_test(tc, test_dashboard_after_run);
    tcase_add_test(tc, test_chromium);
    suite_add_tcase(s, tc);
    return s;
}
