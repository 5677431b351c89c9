/* demo — `vigie demo`: the lockdown spike, live on loopback (see demo.h, docs/SIMULATE.md).
 *
 * One loop, one thread: the simulated services, a SIGCHLD watcher for the daemon, SIGINT and
 * SIGTERM, the end-of-demo timer and a progress line. The daemon is a child process running the
 * same binary (`vigie run`), in its own process group so that a Ctrl-C reaches only the demo,
 * which then stops it once: no process is left behind. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "app/demo.h"
#include "base/cli.h"
#include "base/container.h"
#include "base/diag.h"
#include "base/fsx.h"
#include "base/html.h"
#include "base/log.h"
#include "base/units.h"
#include "config/config.h"
#include "sim/sim.h"
#include "view/dash.h"
#include "view/graph.h"
#include "view/report.h"

extern char **environ;

#define DEFAULT_DURATION_MS 180000
#define MAX_DURATION_MS 600000
#define KILL_AFTER_MS 30000 /* SIGKILL when the daemon has not stopped this long after SIGTERM */

struct demo {
    uv_loop_t loop;
    uv_signal_t sigint, sigterm, sigchld;
    uv_timer_t end, progress, kill;
    struct sim *sim;
    struct sim_stats st;
    pid_t pid;
    int status; /* the daemon's wait status, valid once reaped */
    bool reaped;
    bool stopping; /* SIGTERM sent */
    bool interrupted;
    uint64_t t0, t_end, duration_ms; /* loop times, ms */
    const struct config *cfg;
};

static void demo_shutdown(struct demo *d)
{
    sim_stats(d->sim, &d->st);
    d->t_end = uv_now(&d->loop);
    uv_close((uv_handle_t *)&d->sigint, NULL);
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->sigchld, NULL);
    uv_close((uv_handle_t *)&d->end, NULL);
    uv_close((uv_handle_t *)&d->progress, NULL);
    uv_close((uv_handle_t *)&d->kill, NULL);
    sim_close(d->sim, NULL, NULL);
}

static void on_kill_timer(uv_timer_t *t)
{
    struct demo *d = container_of(t, struct demo, kill);

    if (!d->reaped) {
        fprintf(stderr, "vigie demo: the daemon did not stop within %d s: SIGKILL\n",
                KILL_AFTER_MS / 1000);
        kill(-d->pid, SIGKILL);
    }
}

/* Asks the daemon to stop (once); the SIGCHLD watcher finishes the demo when it has. */
static void demo_stop(struct demo *d)
{
    if (d->stopping || d->reaped)
        return;
    d->stopping = true;
    uv_timer_stop(&d->end);
    kill(d->pid, SIGTERM);
    uv_timer_start(&d->kill, on_kill_timer, KILL_AFTER_MS, 0);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct demo *d = h->data;

    fprintf(stderr, "vigie demo: %s, stopping\n", signum == SIGINT ? "interrupted" : "SIGTERM");
    d->interrupted = true;
    demo_stop(d);
}

static void on_sigchld(uv_signal_t *h, int signum)
{
    struct demo *d = h->data;
    pid_t w;

    (void)signum;
    if (d->reaped)
        return;
    w = waitpid(d->pid, &d->status, WNOHANG);
    if (w != d->pid)
        return;
    d->reaped = true;
    /* The daemon's own children (its renderer) went with it; anything left in its group goes. */
    kill(-d->pid, SIGKILL);
    demo_shutdown(d);
}

static void on_end(uv_timer_t *t)
{
    demo_stop(container_of(t, struct demo, end));
}

static void on_progress(uv_timer_t *t)
{
    struct demo *d = container_of(t, struct demo, progress);
    struct sim_stats st;
    struct sim_state ss;
    double el = (double)(uv_now(&d->loop) - d->t0) / 1000.0;

    sim_stats(d->sim, &st);
    sim_scenario_at(SIM_SCHOOL, el * 1000.0 / (double)d->duration_ms, &ss);
    printf("vigie demo: %3.0f s / %.0f s  %-24s requests %llu (%llu 502/503, %llu reset), "
           "notifications %llu\n",
           el, d->duration_ms / 1000.0, ss.phase, (unsigned long long)st.requests,
           (unsigned long long)st.errors, (unsigned long long)st.resets,
           (unsigned long long)st.notifications);
    fflush(stdout);
}

/* Starts `vigie run -c dir/vigie.yaml` in its own process group, output to dir/vigie.log. */
static int spawn_daemon(struct demo *d, const char *dir, char *err, size_t errlen)
{
    char cfgp[4096], logp[4096], statsp[4096], dur[64];
    char a0[] = "vigie", a1[] = "run", a2[] = "-c", a4[] = "--duration", a6[] = "--stats";
    char *argv[] = {a0, a1, a2, cfgp, a4, dur, a6, statsp, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    int rc;

    snprintf(cfgp, sizeof(cfgp), "%s/vigie.yaml", dir);
    snprintf(logp, sizeof(logp), "%s/vigie.log", dir);
    snprintf(statsp, sizeof(statsp), "%s/stats.json", dir);
    /* A backstop: the daemon stops by itself if the demo could not tell it to. */
    snprintf(dur, sizeof(dur), "%llums", (unsigned long long)(d->duration_ms + 60000));
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, logp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawnattr_init(&at);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    rc = posix_spawn(&d->pid, "/proc/self/exe", &fa, &at, argv, environ);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        snprintf(err, errlen, "cannot start the daemon: %s", strerror(rc));
    return -rc;
}

/* Distinct probe ids on the log lines holding `marker` ("alert: ", "probe "), the id being the
 * word after it, counted once each. */
static size_t log_distinct(const char *path, const char *marker, const char *must)
{
    FILE *f = fopen(path, "r");
    char line[2048], **seen = NULL;
    size_t n = 0, cap = 0;

    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f)) {
        char *m = strstr(line, marker), *id, *e;
        bool dup = false;

        if (!m || !strstr(m, must))
            continue;
        id = m + strlen(marker);
        e = id + strcspn(id, " :");
        *e = '\0';
        for (size_t i = 0; i < n && !dup; i++)
            dup = strcmp(seen[i], id) == 0;
        if (dup)
            continue;
        if (n == cap) {
            char **ns = realloc(seen, (cap = cap ? cap * 2 : 64) * sizeof(*seen));

            if (!ns)
                break;
            seen = ns;
        }
        seen[n] = strdup(id);
        if (seen[n])
            n++;
    }
    fclose(f);
    for (size_t i = 0; i < n; i++)
        free(seen[i]);
    free(seen);
    return n;
}

/* Lines of the log holding `needle`. */
static size_t log_count(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    char line[2048];
    size_t n = 0;

    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

/* The notifications stored in dir, by receiver: "oncall" (pages) and the others. */
static void count_notifications(const char *dir, size_t *pages, size_t *others)
{
    DIR *dp = opendir(dir);
    struct dirent *de;

    *pages = *others = 0;
    while (dp && (de = readdir(dp))) {
        char path[8192];
        json_t *n;
        const char *r;

        if (!strstr(de->d_name, ".json"))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        n = json_load_file(path, 0, NULL);
        r = json_string_value(json_object_get(n, "receiver"));
        if (r && strcmp(r, "oncall") == 0)
            (*pages)++;
        else if (n)
            (*others)++;
        json_decref(n);
    }
    if (dp)
        closedir(dp);
}

/* The criterion report over today (UTC) into dir/graphs/report.html, where the dashboard links. */
static int write_report(const struct config *cfg)
{
    struct report_opts o = {.format = REPORT_HTML};
    char out[4096];
    time_t now = time(NULL);
    struct fsx_atomic f;
    FILE *s = NULL;
    int rc;

    snprintf(out, sizeof(out), "%s/report.html", cfg->graphs_dir);
    o.from = now - now % 86400;
    o.to = o.from + 86400;
    o.output = out;
    rc = fsx_atomic_open(&f, out);
    if (rc == 0 && !(s = fsx_atomic_stream(&f)))
        rc = -errno;
    if (rc == 0)
        rc = report_write(cfg, &o, s, stderr);
    rc = fsx_atomic_commit(&f, out, 0644, 0, rc, NULL);
    if (rc != 0)
        fprintf(stderr, "vigie demo: report: %s: %s\n", out, strerror(-rc));
    return rc;
}

/* The dashboard from the RRD files, when the daemon had not written it yet (its first graph pass
 * over every probe and period can outlast a short demo). */
static void write_dashboard(const struct config *cfg)
{
    struct dash_row *rows = calloc(cfg->nprobes ? cfg->nprobes : 1, sizeof(*rows));
    struct dash_refresh_opts o;
    char path[4096], err[512];
    time_t now = time(NULL);

    snprintf(path, sizeof(path), "%s/index.html", cfg->graphs_dir);
    if (!rows || access(path, F_OK) == 0) {
        free(rows);
        return;
    }
    for (size_t i = 0; i < cfg->nprobes; i++)
        dash_row_init(&rows[i], &cfg->probes[i]);
    dash_opts_from_config(cfg, &o);
    dash_collect(o.rrd_dir, rows, cfg->nprobes, now, o.flush_s);
    if (dash_write(o.graphs_dir, rows, cfg->nprobes, o.lang, o.formats, now, err, sizeof(err)) != 0)
        fprintf(stderr, "vigie demo: dashboard: %s\n", err);
    for (size_t i = 0; i < cfg->nprobes; i++)
        dash_row_fini(&rows[i]);
    free(rows);
}

/* One graph of the demo's window into graphs_dir/demo/NAME.png, and its <img> on the page. */
static void demo_graph(FILE *page, const struct config *cfg, struct graph_req *rq, const char *name,
                       size_t *drawn)
{
    struct graph_style st = {.width = 720, .height = 200, .lang = cfg->graphs.lang};
    char path[4096], err[1024];

    rq->format = GRAPH_PNG;
    rq->period = GRAPH_DAY;
    snprintf(path, sizeof(path), "%s/demo/%s.png", cfg->graphs_dir, name);
    if (graph_draw(cfg, rq, &st, path, NULL, err, sizeof(err)) != 0) {
        fprintf(stderr, "vigie demo: graph %s: %s\n", name, err);
        return;
    }
    (*drawn)++;
    fprintf(page, "<p><img src=\"demo/%s.png\" alt=\"", name);
    html_esc_file(page, name);
    fputs("\"></p>\n", page);
}

static bool status_is(const json_t *n, const char *want)
{
    const char *s = json_string_value(json_object_get(n, "status"));

    return s && strcmp(s, want) == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* graphs_dir/demo.html: the spike over the demo's window (overview, the groups of the two waves,
 * the school services), the scenario's timeline and every notification on-call received. */
/* Every notification received, in the order received (their files are numbered). */
static void write_notifications(FILE *f, const char *dir)
{
    char nd[4096];
    char **names = NULL;
    size_t nn = 0;
    DIR *dp;

    snprintf(nd, sizeof(nd), "%s/notifications", dir);
    dp = opendir(nd);
    for (struct dirent *de; dp && (de = readdir(dp));) {
        char **nn2;

        if (de->d_name[0] == '.' || !strstr(de->d_name, ".json"))
            continue;
        nn2 = realloc(names, (nn + 1) * sizeof(*names));
        if (!nn2)
            break;
        names = nn2;
        names[nn] = strdup(de->d_name);
        if (names[nn])
            nn++;
    }
    if (dp)
        closedir(dp);
    if (nn)
        qsort(names, nn, sizeof(*names), cmp_str);
    fprintf(f,
            "<p>%zu notifications (one per group and route, transitions gathered for "
            "<code>group_wait</code>), as the webhook receiver got them: <code>",
            nn);
    html_esc_file(f, nd);
    fputs("/</code>. Route <code>oncall</code> (severity critical: down) pages on-call, route "
          "<code>team-chat</code> (warnings: slow) goes to the team's chat.</p>\n"
          "<table><tr><th>created (UTC)</th><th>receiver</th><th>status</th><th>title</th>"
          "<th>alerts</th></tr>\n",
          f);
    for (size_t i = 0; i < nn; i++) {
        json_t *n, *alerts;
        char p2[8192];
        size_t k;
        json_t *al;

        snprintf(p2, sizeof(p2), "%s/%s", nd, names[i]);
        n = json_load_file(p2, 0, NULL);
        if (!n)
            continue;
        fputs("<tr><td>", f);
        html_esc_file(f, json_string_value(json_object_get(n, "created")));
        fputs("</td><td>", f);
        html_esc_file(f, json_string_value(json_object_get(n, "receiver")));
        fprintf(f, "</td><td class=\"%s\">", status_is(n, "resolved") ? "resolved" : "firing");
        html_esc_file(f, json_string_value(json_object_get(n, "status")));
        fputs("</td><td>", f);
        html_esc_file(f, json_string_value(json_object_get(n, "title")));
        fputs("</td><td>", f);
        alerts = json_object_get(n, "alerts");
        json_array_foreach(alerts, k, al)
        {
            fputs(k ? "<br>" : "", f);
            html_esc_file(f, json_string_value(json_object_get(al, "status")));
            fputs(" ", f);
            html_esc_file(f, json_string_value(json_object_get(al, "kind")));
            fputs(": ", f);
            html_esc_file(f, json_string_value(json_object_get(al, "name")));
            if (json_string_value(json_object_get(al, "summary"))) {
                fputs(" — ", f);
                html_esc_file(f, json_string_value(json_object_get(al, "summary")));
            }
        }
        fputs("</td></tr>\n", f);
        json_decref(n);
    }
    fputs("</table>\n", f);
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    free(names);
}

static int write_demo_page(const struct config *cfg, const char *dir, time_t t0, time_t t1,
                           uint64_t duration_ms, const char *summary, size_t *drawn)
{
    char path[4096];
    struct graph_req rq = {0};
    const char *groups[SIM_NWAVES] = {0};
    struct sbuf head = {0};
    FILE *f;

    *drawn = 0;
    snprintf(path, sizeof(path), "%s/demo", cfg->graphs_dir);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "vigie demo: %s: %s\n", path, strerror(errno));
        return -errno;
    }
    snprintf(path, sizeof(path), "%s/demo.html", cfg->graphs_dir);
    f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "vigie demo: %s: %s\n", path, strerror(errno));
        return -errno;
    }
    html_head(&head, "en", "vigie demo — the lockdown spike",
              "table{width:auto}td,th{border:1px solid #ccc}.firing{color:#b00000;font-weight:bold}"
              ".resolved{color:#0b5a1f;font-weight:bold}");
    fwrite(head.p ? head.p : "", 1, head.oom ? 0 : head.len, f);
    free(head.p);
    fputs("<h1>vigie demo: a lockdown-like spike, live on loopback</h1>\n<p>"
          "<a href=\"index.html\">the dashboard</a> · <a href=\"report.html\">the criterion "
          "report</a> · the simulated services answer with the profiles of the observatory's "
          "data, then replay, compressed, March 2020: the school services first, then the "
          "employment and tax services (docs/SIMULATE.md).</p>\n<pre>",
          f);
    html_esc_file(f, summary);
    fputs("</pre>\n<h2>The spike</h2>\n", f);
    rq.end = t1;
    rq.span = t1 - t0 > 60 ? t1 - t0 : 60;
    rq.kind = GRAPH_OVERVIEW;
    demo_graph(f, cfg, &rq, "overview", drawn);
    for (size_t i = 0; i < cfg->nprobes; i++) {
        enum sim_wave w = sim_wave_of(&cfg->probes[i]);

        if (w != SIM_CALM && !groups[w])
            groups[w] = cfg->probes[i].group;
    }
    for (int w = SIM_SCHOOL; w < SIM_NWAVES; w++) {
        char name[64];

        if (!groups[w])
            continue;
        rq.kind = GRAPH_GROUP;
        rq.group = groups[w];
        snprintf(name, sizeof(name), "group-%d", w);
        demo_graph(f, cfg, &rq, name, drawn);
        if (w == SIM_SCHOOL) {
            /* The alerts right under the first wave, then the rest of the graphs. */
            fputs("<h2>What on-call received</h2>\n", f);
            write_notifications(f, dir);
            fputs("<h2>The waves</h2>\n", f);
        }
    }
    rq.group = NULL;
    for (size_t i = 0; i < cfg->nprobes; i++) {
        char name[256];

        if (sim_wave_of(&cfg->probes[i]) != SIM_SCHOOL)
            continue;
        rq.probe = &cfg->probes[i];
        rq.kind = GRAPH_LATENCY;
        snprintf(name, sizeof(name), "%s-latency", cfg->probes[i].id);
        demo_graph(f, cfg, &rq, name, drawn);
        rq.kind = GRAPH_AVAIL;
        snprintf(name, sizeof(name), "%s-avail", cfg->probes[i].id);
        demo_graph(f, cfg, &rq, name, drawn);
    }

    fputs("<h2>The scenario</h2>\n<table><tr><th>phase</th><th>from</th><th>to</th>"
          "<th>latency ×</th><th>load / capacity</th></tr>\n",
          f);
    for (size_t k = 0; k < sim_nphases; k++) {
        const struct sim_phase *ph = &sim_phases[k];
        double a = ph->start * duration_ms / 1000.0,
               b = (ph->start + ph->dur) * duration_ms / 1000.0;

        fprintf(f, "<tr><td>");
        html_esc_file(f, ph->name);
        fprintf(f,
                "%s</td><td>+%.0f s</td><td>+%.0f s</td><td>%.0f → %.0f</td>"
                "<td>%.1f → %.1f</td></tr>\n",
                ph->closed ? " (connections refused)" : "", a, b, ph->lat_from, ph->lat_to,
                ph->load_from, ph->load_to);
    }

    fputs("</table>\n</body></html>\n", f);
    if (ferror(f) | (fclose(f) != 0)) {
        fprintf(stderr, "vigie demo: %s: write error\n", path);
        return -EIO;
    }
    return 0;
}

static void demo_usage(FILE *f)
{
    fprintf(f,
            "usage: vigie demo [-c FILE] [--out DIR] [--duration D] [--interval D] [--seed N]\n"
            "  -c FILE         the probes to simulate (default: ./vigie.yaml, the shipped ones)\n"
            "  --out DIR       where everything goes (default: ./vigie-demo); must not hold\n"
            "                  a previous demo's rrd/\n"
            "  --duration D    how long (default 3m, at most 10m)\n"
            "  --interval D    the checks' interval (default 5s)\n"
            "(docs/SIMULATE.md)\n");
}

int demo_main(int argc, char **argv)
{
    struct demo d = {.duration_ms = DEFAULT_DURATION_MS};
    struct sim_opts so = {0};
    struct sim_write_opts wo = {.demo = true, .local_receiver = true};
    struct config *cfg = NULL, *gcfg = NULL;
    struct diag dg;
    const char *out = "vigie-demo", *src = NULL;
    char *summary = NULL;
    size_t summary_len = 0, drawn = 0;
    FILE *sum;
    time_t wall0 = 0;
    uint64_t interval = 5000;
    char err[1024], path[4096], nd[4096];
    json_t *stats = NULL;
    size_t njdma = 0, changed, down, down_tr, slow_tr, pages = 0, warnings = 0;
    int rc = 1, opt, mk;
    enum { O_OUT = 256, O_DURATION, O_INTERVAL, O_SEED };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"out", required_argument, NULL, O_OUT},
        {"duration", required_argument, NULL, O_DURATION},
        {"interval", required_argument, NULL, O_INTERVAL},
        {"seed", required_argument, NULL, O_SEED},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct cli cl;

    cli_init(&cl, "vigie: demo", argc, argv, "c:vh", opts);
    while ((opt = cli_next(&cl)) != -1) {
        const char *why = NULL;
        char *e;

        switch (opt) {
        case 'h':
            demo_usage(stdout);
            return 0;
        case 'v':
            log_set_level(VLOG_DEBUG);
            break;
        case 'c':
            src = optarg;
            break;
        case O_OUT:
            out = optarg;
            break;
        case O_DURATION:
            if (units_duration(optarg, &d.duration_ms, &why) == 0 &&
                (d.duration_ms < 20000 || d.duration_ms > MAX_DURATION_MS))
                why = "between 20s and 10m";
            break;
        case O_INTERVAL:
            if (units_duration(optarg, &interval, &why) == 0 &&
                (interval < 1000 || interval > 60000))
                why = "between 1s and 1m";
            break;
        case O_SEED:
            so.seed = strtoull(optarg, &e, 10);
            why = *e ? "expected a number" : NULL;
            break;
        default:
            demo_usage(stderr);
            return 1;
        }
        if (why) {
            fprintf(stderr, "vigie: demo: %s %s: %s\n", cl.name, optarg, why);
            return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vigie: demo: unexpected argument \"%s\"\n", argv[optind]);
        demo_usage(stderr);
        return 1;
    }
    if (!src && access("vigie.yaml", F_OK) == 0)
        src = "vigie.yaml";
    snprintf(path, sizeof(path), "%s/rrd", out);
    if (access(path, F_OK) == 0) {
        fprintf(stderr, "vigie: demo: %s holds a previous demo: remove it first (rm -r %s)\n", out,
                out);
        return 1;
    }
    diag_init(&dg);
    if (config_load(src, &cfg, &dg) != 0) {
        diag_print(&dg, stderr);
        fprintf(stderr, "vigie: %zu error%s, configuration not loaded\n", dg.n,
                dg.n == 1 ? "" : "s");
        diag_fini(&dg);
        return 1;
    }
    diag_fini(&dg);
    for (size_t i = 0; i < cfg->nprobes; i++)
        njdma += cfg->probes[i].njdma;
    d.cfg = cfg;

    snprintf(nd, sizeof(nd), "%s/notifications", out);
    if ((mk = fsx_mkdir_p(nd, 0755)) != 0) {
        fprintf(stderr, "vigie: demo: %s: %s\n", nd, strerror(-mk));
        goto out;
    }
    so.notify_dir = nd;
    so.scenario_ms = d.duration_ms;
    if (uv_loop_init(&d.loop) != 0)
        goto out;
    if (sim_start(&d.loop, cfg, &so, &d.sim) != 0) {
        fprintf(stderr, "vigie: demo: cannot start the simulated services\n");
        uv_run(&d.loop, UV_RUN_DEFAULT);
        uv_loop_close(&d.loop);
        goto out;
    }
    wo.source = src;
    wo.interval_ms = interval;
    wo.group_wait_ms = interval < 5000 ? interval : 5000;
    /* Graphs: often enough to follow the spike, not so often that drawing 177 probes' graphs
     * keeps the machine busy. */
    wo.graphs_ms = d.duration_ms / 12 < 5000 ? 5000 : d.duration_ms / 12;
    if (sim_write_config(d.sim, out, &wo, err, sizeof(err)) != 0 ||
        spawn_daemon(&d, out, err, sizeof(err)) != 0) {
        fprintf(stderr, "vigie: demo: %s\n", err);
        sim_close(d.sim, NULL, NULL);
        uv_run(&d.loop, UV_RUN_DEFAULT);
        uv_loop_close(&d.loop);
        goto out;
    }
    printf("vigie demo: %zu procedures' services simulated on 127.0.0.1, probed by `vigie run` "
           "(pid %ld) every %llu s for %llu s\n"
           "  files in %s/ (daemon log: %s/vigie.log), Ctrl-C stops early\n",
           cfg->nprobes, (long)d.pid, (unsigned long long)(interval / 1000),
           (unsigned long long)(d.duration_ms / 1000), out, out);
    fflush(stdout);

    uv_signal_init(&d.loop, &d.sigint);
    uv_signal_init(&d.loop, &d.sigterm);
    uv_signal_init(&d.loop, &d.sigchld);
    uv_timer_init(&d.loop, &d.end);
    uv_timer_init(&d.loop, &d.progress);
    uv_timer_init(&d.loop, &d.kill);
    d.sigint.data = d.sigterm.data = d.sigchld.data = &d;
    uv_signal_start(&d.sigint, on_signal, SIGINT);
    uv_signal_start(&d.sigterm, on_signal, SIGTERM);
    uv_signal_start(&d.sigchld, on_sigchld, SIGCHLD);
    d.t0 = uv_now(&d.loop);
    wall0 = time(NULL);
    uv_timer_start(&d.end, on_end, d.duration_ms, 0);
    uv_timer_start(&d.progress, on_progress, 15000, 15000);
    on_sigchld(&d.sigchld, SIGCHLD); /* it may have failed already */
    uv_run(&d.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&d.loop) != 0)
        log_warn("demo: event loop closed with handles still open");

    if (!WIFEXITED(d.status) || WEXITSTATUS(d.status) != 0) {
        fprintf(stderr, "vigie demo: the daemon failed (%s %d): see %s/vigie.log\n",
                WIFEXITED(d.status) ? "exit status" : "signal",
                WIFEXITED(d.status) ? WEXITSTATUS(d.status) : WTERMSIG(d.status), out);
        goto out;
    }
    snprintf(path, sizeof(path), "%s/vigie.yaml", out);
    diag_init(&dg);
    if (config_load(path, &gcfg, &dg) != 0) {
        diag_print(&dg, stderr);
        diag_fini(&dg);
        goto out;
    }
    diag_fini(&dg);
    write_report(gcfg);
    write_dashboard(gcfg);

    snprintf(path, sizeof(path), "%s/stats.json", out);
    stats = json_load_file(path, 0, NULL);
    snprintf(path, sizeof(path), "%s/vigie.log", out);
    changed = log_distinct(path, "alert: ", " firing");
    down = log_distinct(path, "probe ", ": down");
    sum = open_memstream(&summary, &summary_len);
    if (!sum)
        goto out;
    down_tr = log_count(path, " down firing") + log_count(path, " down resolved");
    slow_tr = log_count(path, " slow firing") + log_count(path, " slow resolved");
    count_notifications(nd, &pages, &warnings);
    fprintf(sum,
            "vigie demo: %s after %.0f s\n"
            "  procedures simulated: %zu services (%zu procedures by jdma id), %llu requests\n"
            "                        answered (%llu 502/503, %llu connections reset)\n"
            "  checks done:          %lld (%lld missed ticks)\n"
            "  state changes:        %zu probes had failed checks, %zu changed alert state:\n"
            "                        %zu DOWN and %zu SLOW transitions (firing, resolved)\n"
            "  on-call received:     %zu pages for those %zu DOWN transitions\n"
            "                        (route oncall: severity critical)\n"
            "  team chat received:   %zu notifications for the %zu SLOW transitions\n",
            d.interrupted ? "interrupted" : "done", (double)(d.t_end - d.t0) / 1000.0, cfg->nprobes,
            njdma, (unsigned long long)d.st.requests, (unsigned long long)d.st.errors,
            (unsigned long long)d.st.resets,
            (long long)json_integer_value(json_object_get(stats, "completed")),
            (long long)json_integer_value(json_object_get(stats, "missed")), down, changed, down_tr,
            slow_tr, pages, down_tr, warnings, slow_tr);
    if (fclose(sum) != 0)
        goto out;
    {
        /* The window of the checks: from the first interval (the daemon's first checks come
         * within it) to the last full one before the stop (the drain leaves the rows after it
         * half known). */
        uint64_t ran = d.t_end - d.t0 < d.duration_ms ? d.t_end - d.t0 : d.duration_ms;
        time_t step = (time_t)(interval / 1000);

        write_demo_page(gcfg, out, wall0 + step, wall0 + (time_t)(ran / 1000) - step, d.duration_ms,
                        summary, &drawn);
    }
    printf("\n%s"
           "  notifications:        %s/\n"
           "  report:               %s/report.html\n"
           "  the spike and alerts: %s/demo.html (%zu graphs of the demo's window)\n"
           "  open:                 %s/index.html\n",
           summary, nd, gcfg->graphs_dir, gcfg->graphs_dir, drawn, gcfg->graphs_dir);
    rc = d.interrupted ? 130 : 0;
out:
    json_decref(stats);
    free(summary);
    config_free(gcfg);
    config_free(cfg);
    return rc;
}
