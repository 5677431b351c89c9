/* vigie — command line: run, validate, check, graph, report, dashboard. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "app/daemon.h"
#include "app/demo.h"
#include "base/cli.h"
#include "base/diag.h"
#include "base/log.h"
#include "base/units.h"
#include "config/config.h"
#include "net/httpc.h"
#include "net/url.h"
#include "probe/check.h"
#include "sim/sim.h"
#include "view/dash.h"
#include "view/graph.h"
#include "view/report.h"

#define VIGIE_VERSION "0.1"

/* Exit statuses of `vigie check`, as Nagios plugins use them. */
enum { EXIT_OK = 0, EXIT_DEGRADED = 1, EXIT_DOWN = 2, EXIT_UNKNOWN = 3 };

struct opts {
    const char *config;
    const char *stats;
    uint64_t duration_ms;
    unsigned shard_i, shard_n; /* --shard i/n, 0/0 when not given */
    bool json;
    bool config_given;
    enum lang lang;
    bool lang_given;
    const char **ids;
    size_t nids;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: vigie run [-c FILE] [--duration D] [--stats FILE] [--shard I/N]\n"
            "       vigie validate [-c FILE]\n"
            "       vigie check [-c FILE] [--json] [ID...]\n"
            "       vigie graph [-c FILE] ID [--kind latency|avail] [--period P] [--format F]\n"
            "                   [--lang fr|en] [--end TIME] [-o FILE]\n"
            "       vigie graph [-c FILE] --overview | --group NAME  [--period P] [...]\n"
            "       vigie graph [-c FILE] --all [--end TIME]\n"
            "       vigie report [-c FILE] [--quarter YYYY-Qn | --from DATE --to DATE] ...\n"
            "                    (vigie report --help)\n"
            "       vigie dashboard [-c FILE] [--lang fr|en]\n"
            "       vigie simulate [-c FILE] --out DIR [--duration D] [--speed X] ...\n"
            "                      (vigie simulate --help)\n"
            "       vigie demo [-c FILE] [--out DIR] [--duration D] (vigie demo --help)\n"
            "       vigie version\n"
            "\n"
            "  -c, --config FILE  vigie.yaml (default: ./vigie.yaml if present, else the\n"
            "                     built-in settings with ./probes.d)\n"
            "  --json             one JSON object per probe and line\n"
            "  --duration D       run: stop by itself after D (e.g. 90s, 10m)\n"
            "  --stats FILE       run: write a JSON summary (checks, lag, CPU, RSS) at exit\n"
            "  --shard I/N        run: only this node's share of the probes (1 <= I <= N),\n"
            "                     stable by id: N nodes with I = 1..N cover every probe once\n"
            "  --period P         graph: day (default), week, month, quarter or year\n"
            "  --format F         graph: png (default) or svg\n"
            "  -o FILE            graph: write there (default: its place under graphs_dir)\n"
            "  --all              graph: every graph of every probe, group and period into\n"
            "                     graphs_dir, in the formats of vigie.yaml's graphs:\n"
            "  --lang fr|en       dashboard: the pages' language (default: graphs.lang of\n"
            "                     vigie.yaml, fr)\n"
            "  -v, --verbose      debug logging\n");
}

/* The options every command shares; graph adds its own. */
enum {
    OPT_JSON = 256,
    OPT_STATS,
    OPT_DURATION,
    OPT_SHARD,
    OPT_LANG,
    OPT_PERIOD,
    OPT_FORMAT,
    OPT_KIND,
    OPT_END,
    OPT_GROUP,
    OPT_OVERVIEW,
    OPT_ALL,
};

static const struct option common_opts[] = {
    {"config", required_argument, NULL, 'c'},
    {"json", no_argument, NULL, OPT_JSON},
    {"stats", required_argument, NULL, OPT_STATS},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"shard", required_argument, NULL, OPT_SHARD},
    {"lang", required_argument, NULL, OPT_LANG},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Parses argv[1..argc) (argv[0] the command). Returns 0 or -1 after printing why. */
static int parse_opts(int argc, char **argv, bool allow_ids, struct opts *o)
{
    struct cli cl;
    int opt;

    o->ids = calloc((size_t)argc + 1, sizeof(*o->ids));
    if (!o->ids)
        return -1;
    cli_init(&cl, "vigie", argc, argv, "c:vh", common_opts);
    while ((opt = cli_next(&cl)) != -1) {
        switch (opt) {
        case 'c':
            o->config = optarg;
            o->config_given = true;
            break;
        case OPT_JSON:
            o->json = true;
            break;
        case OPT_STATS:
            o->stats = optarg;
            break;
        case OPT_DURATION: {
            const char *why;

            if (units_duration(optarg, &o->duration_ms, &why) != 0) {
                fprintf(stderr, "vigie: --duration %s: %s\n", optarg, why);
                return -1;
            }
            break;
        }
        case OPT_SHARD: {
            unsigned si, sn;
            int end = 0;

            if (sscanf(optarg, "%u/%u%n", &si, &sn, &end) != 2 || optarg[end] != '\0' || sn < 1 ||
                sn > 10000 || si < 1 || si > sn) {
                fprintf(stderr, "vigie: --shard %s: expected I/N with 1 <= I <= N <= 10000\n",
                        optarg);
                return -1;
            }
            o->shard_i = si;
            o->shard_n = sn;
            break;
        }
        case OPT_LANG:
            if (lang_parse(optarg, &o->lang) != 0) {
                fprintf(stderr, "vigie: --lang %s: expected fr or en\n", optarg);
                return -1;
            }
            o->lang_given = true;
            break;
        case 'v':
            log_set_level(VLOG_DEBUG);
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    for (int i = optind; i < argc; i++) {
        if (!allow_ids) {
            fprintf(stderr, "vigie: unexpected argument \"%s\"\n", argv[i]);
            usage(stderr);
            return -1;
        }
        o->ids[o->nids++] = argv[i];
    }
    if (!o->config_given && access("vigie.yaml", F_OK) == 0)
        o->config = "vigie.yaml";
    return 0;
}

static struct config *load(const struct opts *o)
{
    struct config *cfg = NULL;
    struct diag d;

    diag_init(&d);
    if (config_load(o->config, &cfg, &d) != 0) {
        diag_print(&d, stderr);
        fprintf(stderr, "vigie: %zu error%s, configuration not loaded\n", d.n, d.n == 1 ? "" : "s");
    }
    diag_fini(&d);
    return cfg;
}

static int cmd_validate(const struct opts *o)
{
    struct config *cfg = load(o);

    if (!cfg)
        return 1;
    printf("%s: ok, %zu probes in %zu files under %s\n", cfg->path ? cfg->path : "(built-in)",
           cfg->nprobes, cfg->nfiles, cfg->probes_dir);
    config_free(cfg);
    return 0;
}

/* `vigie check`: every selected probe once, at most cfg->concurrency at a time. */
struct run {
    const struct config *cfg;
    struct httpc *httpc;
    const struct probe **probes;
    struct result *results;
    struct slot {
        struct run *r;
        size_t i;
    } * slots; /* the callback argument of check i */
    size_t n, next, done;
};

static void start_next(struct run *r);

static void on_checked(void *arg, const struct probe *p, const struct result *res)
{
    struct slot *sl = arg;

    (void)p;
    sl->r->results[sl->i] = *res;
    sl->r->done++;
    start_next(sl->r);
}

static void start_next(struct run *r)
{
    while (r->next < r->n && httpc_active(r->httpc) < (size_t)r->cfg->concurrency) {
        size_t i = r->next++;
        int err;

        r->slots[i].r = r;
        r->slots[i].i = i;
        err = check_start(r->httpc, r->cfg, r->probes[i], on_checked, &r->slots[i]);

        if (err) {
            result_internal(&r->results[i], "cannot start: %s", strerror(-err));
            r->done++;
        }
    }
}

static void fmt_ms(char *buf, size_t len, int64_t us)
{
    if (us < 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.1f", us / 1000.0);
}

static json_t *json_us(int64_t us)
{
    return us < 0 ? json_null() : json_integer(us);
}

static void print_json(const struct probe *p, const struct result *res)
{
    json_t *o = json_object(), *jdma = json_array();
    char url[RESULT_URL_MAX];
    char *s;

    for (size_t i = 0; i < p->njdma; i++)
        json_array_append_new(jdma, json_integer(p->jdma[i]));
    json_object_set_new(o, "probe", json_string(p->id));
    json_object_set_new(o, "group", json_string(p->group));
    json_object_set_new(o, "jdma", jdma);
    json_object_set_new(o, "verdict", json_string(verdict_str(res->verdict)));
    json_object_set_new(o, "outcome", json_string(outcome_str(res->outcome)));
    json_object_set_new(o, "status", json_integer(res->status));
    json_object_set_new(o, "dns_us", json_us(res->dns_us));
    json_object_set_new(o, "connect_us", json_us(res->connect_us));
    json_object_set_new(o, "tls_us", json_us(res->tls_us));
    json_object_set_new(o, "ttfb_us", json_us(res->ttfb_us));
    json_object_set_new(o, "response_us", json_us(res->response_us));
    json_object_set_new(o, "total_us", json_us(res->total_us));
    json_object_set_new(o, "redirect_us", json_us(res->redirect_us));
    json_object_set_new(o, "redirects", json_integer(res->redirects));
    json_object_set_new(o, "http_version",
                        res->http_version == 0    ? json_null()
                        : res->http_version == 10 ? json_string("1.0")
                        : res->http_version == 11 ? json_string("1.1")
                        : res->http_version == 20 ? json_string("2")
                                                  : json_string("3"));
    json_object_set_new(o, "bytes", json_integer(res->bytes));
    if (!res->url[0])
        url_redact(p->url, url, sizeof(url));
    json_object_set_new(o, "url", json_string(res->url[0] ? res->url : url));
    json_object_set_new(o, "cert_days",
                        res->cert_expiry ? json_integer(res->cert_days) : json_null());
    json_object_set_new(o, "message", json_string(res->msg));
    s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (s)
        puts(s);
    free(s);
    json_decref(o);
}

static void print_table(const struct run *r)
{
    int w = 5;

    for (size_t i = 0; i < r->n; i++) {
        int l = (int)strlen(r->probes[i]->id);
        w = l > w ? l : w;
    }
    printf("%-*s %6s %8s %8s %8s %8s %8s %8s  %-8s %s\n", w, "PROBE", "STATUS", "DNS", "CONNECT",
           "TLS", "TTFB", "RESPONSE", "TOTAL", "VERDICT", "REASON");
    for (size_t i = 0; i < r->n; i++) {
        const struct result *res = &r->results[i];
        char t[6][24];

        fmt_ms(t[0], sizeof(t[0]), res->dns_us);
        fmt_ms(t[1], sizeof(t[1]), res->connect_us);
        fmt_ms(t[2], sizeof(t[2]), res->tls_us);
        fmt_ms(t[3], sizeof(t[3]), res->ttfb_us);
        fmt_ms(t[4], sizeof(t[4]), res->response_us);
        fmt_ms(t[5], sizeof(t[5]), res->total_us);
        const char *why = res->outcome != OUTCOME_OK ? outcome_str(res->outcome) : "";
        const char *sep = res->outcome != OUTCOME_OK && res->msg[0] ? ": " : "";

        printf("%-*s %6ld %8s %8s %8s %8s %8s %8s  %s", w, r->probes[i]->id, res->status, t[0],
               t[1], t[2], t[3], t[4], t[5], verdict_str(res->verdict));
        if (why[0] || res->msg[0])
            printf("%*s%s%s%s", 9 - (int)strlen(verdict_str(res->verdict)), "", why, sep, res->msg);
        putchar('\n');
    }
}

static void on_httpc_closed(void *arg)
{
    (void)arg;
}

static int cmd_check(const struct opts *o)
{
    struct config *cfg = load(o);
    struct run r = {0};
    uv_loop_t loop;
    uint64_t t0;
    size_t count[3] = {0, 0, 0};
    int status = EXIT_UNKNOWN;

    if (!cfg)
        return EXIT_UNKNOWN;
    r.cfg = cfg;
    r.n = o->nids ? o->nids : cfg->nprobes;
    r.probes = calloc(r.n, sizeof(*r.probes));
    r.results = calloc(r.n, sizeof(*r.results));
    r.slots = calloc(r.n, sizeof(*r.slots));
    if (!r.probes || !r.results || !r.slots)
        goto out;
    for (size_t i = 0; i < r.n; i++) {
        r.probes[i] = o->nids ? config_find(cfg, o->ids[i]) : &cfg->probes[i];
        if (!r.probes[i]) {
            fprintf(stderr, "vigie: no probe with id \"%s\"\n", o->ids[i]);
            goto out;
        }
    }
    if (uv_loop_init(&loop) != 0)
        goto out;
    r.httpc = httpc_new(&loop);
    if (!r.httpc) {
        uv_loop_close(&loop);
        goto out;
    }
    t0 = uv_hrtime();
    start_next(&r);
    uv_run(&loop, UV_RUN_DEFAULT);
    httpc_close(r.httpc, on_httpc_closed, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0)
        log_warn("event loop closed with handles still open");

    if (!o->json)
        print_table(&r);
    for (size_t i = 0; i < r.n; i++) {
        if (o->json)
            print_json(r.probes[i], &r.results[i]);
        count[r.results[i].verdict]++;
    }
    if (!o->json)
        printf("%zu probes: %zu ok, %zu degraded, %zu down in %.2f s\n", r.n, count[VERDICT_OK],
               count[VERDICT_DEGRADED], count[VERDICT_DOWN], (uv_hrtime() - t0) / 1e9);
    status = count[VERDICT_DOWN] ? EXIT_DOWN : count[VERDICT_DEGRADED] ? EXIT_DEGRADED : EXIT_OK;
out:
    free(r.probes);
    free(r.results);
    free(r.slots);
    config_free(cfg);
    return status;
}

/* `vigie graph`: one graph on demand, or all of them. */
struct graph_cli {
    struct opts o;
    const char *id, *group, *out;
    enum lang lang;
    bool lang_given;
    bool overview, all;
    int kind, period, format;
    time_t end;
};

static int graph_args(int argc, char **argv, struct graph_cli *g)
{
    static const struct option graph_opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"period", required_argument, NULL, OPT_PERIOD},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"kind", required_argument, NULL, OPT_KIND},
        {"lang", required_argument, NULL, OPT_LANG},
        {"end", required_argument, NULL, OPT_END},
        {"output", required_argument, NULL, 'o'},
        {"group", required_argument, NULL, OPT_GROUP},
        {"overview", no_argument, NULL, OPT_OVERVIEW},
        {"all", no_argument, NULL, OPT_ALL},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct cli cl;
    int opt;

    g->kind = GRAPH_LATENCY;
    g->period = GRAPH_DAY;
    g->format = GRAPH_PNG;
    cli_init(&cl, "vigie", argc, argv, "c:o:vh", graph_opts);
    while ((opt = cli_next(&cl)) != -1) {
        switch (opt) {
        case 'c':
            g->o.config = optarg;
            g->o.config_given = true;
            break;
        case OPT_PERIOD:
            if ((g->period = graph_period_parse(optarg)) < 0) {
                fprintf(stderr, "vigie: --period: expected day, week, month, quarter or year\n");
                return -1;
            }
            break;
        case OPT_FORMAT:
            if ((g->format = graph_format_parse(optarg)) < 0) {
                fprintf(stderr, "vigie: --format: expected png or svg\n");
                return -1;
            }
            break;
        case OPT_KIND:
            g->kind = graph_kind_parse(optarg);
            if (g->kind != GRAPH_LATENCY && g->kind != GRAPH_AVAIL) {
                fprintf(stderr, "vigie: --kind: expected latency or avail\n");
                return -1;
            }
            break;
        case OPT_LANG:
            if (lang_parse(optarg, &g->lang) < 0) {
                fprintf(stderr, "vigie: --lang: expected fr or en\n");
                return -1;
            }
            g->lang_given = true;
            break;
        case OPT_END: {
            char *e = NULL;
            long long t = strtoll(optarg, &e, 10);

            if (*e || t <= 0) {
                fprintf(stderr, "vigie: --end: expected a UNIX time in seconds\n");
                return -1;
            }
            g->end = (time_t)t;
            break;
        }
        case 'o':
            g->out = optarg;
            break;
        case OPT_GROUP:
            g->group = optarg;
            break;
        case OPT_OVERVIEW:
            g->overview = true;
            break;
        case OPT_ALL:
            g->all = true;
            break;
        case 'v':
            log_set_level(VLOG_DEBUG);
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    for (int i = optind; i < argc; i++) {
        if (g->id) {
            fprintf(stderr, "vigie: unexpected argument \"%s\"\n", argv[i]);
            usage(stderr);
            return -1;
        }
        g->id = argv[i];
    }
    if ((g->id != NULL) + g->overview + (g->group != NULL) + g->all != 1) {
        fprintf(stderr, "vigie: graph: give one of ID, --overview, --group NAME or --all\n");
        return -1;
    }
    if (g->all && g->out) {
        fprintf(stderr, "vigie: graph: -o cannot be used with --all (files go to graphs_dir)\n");
        return -1;
    }
    if (!g->o.config_given && access("vigie.yaml", F_OK) == 0)
        g->o.config = "vigie.yaml";
    return 0;
}

static int graph_one(const struct config *cfg, const struct graph_req *rq,
                     const struct graph_style *st, const char *out, bool quiet_missing)
{
    char path[4096], err[1024];
    struct graph_image img;
    int rc;

    if (!out) {
        if (graph_path(path, sizeof(path), cfg->graphs_dir, rq) < 0) {
            fprintf(stderr, "vigie: graph: path too long under %s\n", cfg->graphs_dir);
            return -ENAMETOOLONG;
        }
        out = path;
    }
    rc = graph_draw(cfg, rq, st, out, &img, err, sizeof(err));
    if (rc == 0) {
        printf("%s %ux%u %.3f s\n", out, img.width, img.height, img.seconds);
        if (log_get_level() >= VLOG_DEBUG)
            fputs(img.legend, stdout);
    } else if (rc != -ENOENT || !quiet_missing)
        fprintf(stderr, "vigie: graph: %s\n", err);
    return rc;
}

static int cmp_group(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmd_graph(int argc, char **argv)
{
    struct graph_cli g = {0};
    struct graph_style st = {0};
    struct graph_req rq = {0};
    struct config *cfg;
    int rc, failed = 0, drawn = 0;

    if (graph_args(argc, argv, &g) != 0)
        return 1;
    cfg = load(&g.o);
    if (!cfg)
        return 1;
    /* Through rrdcached, as the daemon writes: librrd flushes a file there before drawing it. */
    if (cfg->rrdcached && !getenv("RRDCACHED_ADDRESS"))
        setenv("RRDCACHED_ADDRESS", cfg->rrdcached, 1);
    st.width = (unsigned)cfg->graphs.width;
    st.height = (unsigned)cfg->graphs.height;
    st.lang = g.lang_given ? g.lang : cfg->graphs.lang;
    rq.period = (enum graph_period)g.period;
    rq.format = (enum graph_format)g.format;
    rq.end = g.end;
    if (g.id) {
        rq.kind = (enum graph_kind)g.kind;
        rq.probe = config_find(cfg, g.id);
        if (!rq.probe) {
            fprintf(stderr, "vigie: graph: no probe with id \"%s\"\n", g.id);
            failed = 1;
        } else {
            failed = graph_one(cfg, &rq, &st, g.out, false) != 0;
        }
    } else if (g.overview || g.group) {
        rq.kind = g.overview ? GRAPH_OVERVIEW : GRAPH_GROUP;
        rq.group = g.group;
        failed = graph_one(cfg, &rq, &st, g.out, false) != 0;
    } else {
        /* --all: what the daemon's timer draws, unconditionally; probes without RRD files yet
         * are skipped (counted). */
        size_t missing = 0, ngroups = 0;
        const char **groups = calloc(cfg->nprobes ? cfg->nprobes : 1, sizeof(*groups));

        if (!groups) {
            config_free(cfg);
            return 1;
        }
        /* The distinct groups, sorted. */
        for (size_t i = 0; i < cfg->nprobes; i++)
            groups[i] = cfg->probes[i].group;
        qsort(groups, cfg->nprobes, sizeof(*groups), cmp_group);
        for (size_t i = 0; i < cfg->nprobes; i++)
            if (ngroups == 0 || strcmp(groups[ngroups - 1], groups[i]) != 0)
                groups[ngroups++] = groups[i];
        for (int per = 0; per < GRAPH_NPERIODS; per++) {
            for (int f = 0; f < GRAPH_NFORMATS; f++) {
                if (!(cfg->graphs.formats & (1u << f)))
                    continue;
                rq.period = (enum graph_period)per;
                rq.format = (enum graph_format)f;
                rq.kind = GRAPH_OVERVIEW;
                rq.probe = NULL;
                rq.group = NULL;
                rc = graph_one(cfg, &rq, &st, NULL, true);
                drawn += rc == 0;
                failed += rc != 0 && rc != -ENOENT;
                for (size_t i = 0; i < ngroups; i++) {
                    rq.kind = GRAPH_GROUP;
                    rq.group = groups[i];
                    rc = graph_one(cfg, &rq, &st, NULL, true);
                    drawn += rc == 0;
                    failed += rc != 0 && rc != -ENOENT;
                }
                rq.group = NULL;
                for (size_t i = 0; i < cfg->nprobes; i++) {
                    rq.probe = &cfg->probes[i];
                    for (int k = GRAPH_LATENCY; k <= GRAPH_AVAIL; k++) {
                        rq.kind = (enum graph_kind)k;
                        rc = graph_one(cfg, &rq, &st, NULL, true);
                        drawn += rc == 0;
                        failed += rc != 0 && rc != -ENOENT;
                        missing += rc == -ENOENT;
                    }
                }
            }
        }
        fprintf(stderr, "vigie: %d graphs drawn in %s, %d failed, %zu skipped (no RRD file yet)\n",
                drawn, cfg->graphs_dir, failed, missing);
        free(groups);
    }
    config_free(cfg);
    return failed ? 1 : 0;
}

static int cmd_run(const struct opts *o)
{
    struct daemon_opts d = {.duration_ms = o->duration_ms,
                            .stats_path = o->stats,
                            .shard_i = o->shard_i,
                            .shard_n = o->shard_n};
    struct config *cfg = load(o);

    if (!cfg)
        return 1;
    if (o->shard_n) {
        size_t all = cfg->nprobes, kept = config_shard(cfg, o->shard_i, o->shard_n);

        log_info("shard %u/%u: %zu of %zu probes", o->shard_i, o->shard_n, kept, all);
        if (kept == 0) {
            fprintf(stderr, "vigie: shard %u/%u holds none of the %zu probes\n", o->shard_i,
                    o->shard_n, all);
            config_free(cfg);
            return 1;
        }
    }
    return daemon_run(cfg, &d);
}

/* `vigie dashboard`: the pages from the RRD files alone (no live state, no error messages). */
static int cmd_dashboard(const struct opts *o)
{
    struct config *cfg = load(o);
    struct dash_row *rows = NULL;
    struct dash_refresh_opts dopts;
    char err[512];
    size_t have;
    time_t now = time(NULL);
    int rc = 1;

    if (!cfg)
        return 1;
    rows = calloc(cfg->nprobes ? cfg->nprobes : 1, sizeof(*rows));
    if (!rows) {
        fprintf(stderr, "vigie: out of memory\n");
        goto out;
    }
    for (size_t i = 0; i < cfg->nprobes; i++)
        dash_row_init(&rows[i], &cfg->probes[i]);
    /* Values still cached by rrdcached are flushed to the files before they are read. */
    if (cfg->rrdcached)
        setenv("RRDCACHED_ADDRESS", cfg->rrdcached, 1);
    dash_opts_from_config(cfg, &dopts);
    if (o->lang_given)
        dopts.lang = o->lang;
    have = dash_collect(dopts.rrd_dir, rows, cfg->nprobes, now, dopts.flush_s);
    for (size_t i = 0; i < cfg->nprobes; i++)
        if (rows[i].sum_msg)
            fprintf(stderr, "vigie: dashboard: probe %s: %s\n", rows[i].probe->id, rows[i].sum_msg);
    if (dash_write(dopts.graphs_dir, rows, cfg->nprobes, dopts.lang, dopts.formats, now, err,
                   sizeof(err)) != 0) {
        fprintf(stderr, "vigie: dashboard: %s\n", err);
        goto out;
    }
    printf("%s/index.html: %zu probes, %zu with data in %s\n", cfg->graphs_dir, cfg->nprobes, have,
           cfg->rrd_dir);
    rc = 0;
out:
    for (size_t i = 0; rows && i < cfg->nprobes; i++)
        dash_row_fini(&rows[i]);
    free(rows);
    config_free(cfg);
    return rc;
}

int main(int argc, char **argv)
{
    struct opts o = {0};
    const char *cmd = argc > 1 ? argv[1] : NULL;
    int rc;

    log_open(); /* stderr may be the journal: see log.h */
    if (!cmd || strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(cmd ? stdout : stderr);
        return cmd ? 0 : EXIT_UNKNOWN;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("vigie %s (%s)\n", VIGIE_VERSION, httpc_version());
        return 0;
    }
    if (httpc_global_init() != 0) {
        fprintf(stderr, "vigie: cannot initialise libcurl\n");
        return EXIT_UNKNOWN;
    }
    if (strcmp(cmd, "run") == 0) {
        rc = parse_opts(argc - 1, argv + 1, false, &o) ? EXIT_UNKNOWN : cmd_run(&o);
    } else if (strcmp(cmd, "validate") == 0) {
        rc = parse_opts(argc - 1, argv + 1, false, &o) ? EXIT_UNKNOWN : cmd_validate(&o);
    } else if (strcmp(cmd, "graph") == 0 && argc > 2 && strcmp(argv[2], "--render-plan") == 0) {
        /* the daemon's renderer (src/view/plan.c): everything comes from the plan on stdin, and
         * rrdcached's address from the daemon's environment */
        rc = graph_render_plan() == 0 ? 0 : 1;
    } else if (strcmp(cmd, "graph") == 0) {
        rc = cmd_graph(argc - 1, argv + 1);
    } else if (strcmp(cmd, "report") == 0) {
        rc = report_main(argc - 1, argv + 1);
    } else if (strcmp(cmd, "dashboard") == 0) {
        rc = parse_opts(argc - 1, argv + 1, false, &o) ? EXIT_UNKNOWN : cmd_dashboard(&o);
    } else if (strcmp(cmd, "simulate") == 0) {
        rc = sim_main(argc - 1, argv + 1);
    } else if (strcmp(cmd, "demo") == 0) {
        rc = demo_main(argc - 1, argv + 1);
    } else if (strcmp(cmd, "check") == 0) {
        rc = parse_opts(argc - 1, argv + 1, true, &o) ? EXIT_UNKNOWN : cmd_check(&o);
    } else {
        fprintf(stderr, "vigie: unknown command \"%s\"\n", cmd);
        usage(stderr);
        rc = EXIT_UNKNOWN;
    }
    free(o.ids);
    httpc_global_cleanup();
    return rc;
}
