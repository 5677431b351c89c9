/* simcli — `vigie simulate`: its options, the services on a loop of its own until the duration
 * is over or a signal comes, the configuration written for them, a summary at the end. */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "base/cli.h"
#include "base/container.h"
#include "base/diag.h"
#include "base/fsx.h"
#include "base/log.h"
#include "base/units.h"
#include "sim/sim.h"

/* The scenario models three weeks, 13 March to 3 April 2020: --speed X plays it X times faster
 * than real time. */
#define SCENARIO_REAL_MS (21ULL * 24 * 3600 * 1000)

struct sim_cli {
    uv_loop_t loop;
    uv_signal_t sigint, sigterm;
    uv_timer_t stop;
    struct sim *sim;
    struct sim_stats st; /* read as it stops */
    const char *why;
};

static void cli_stop(struct sim_cli *c, const char *why)
{
    if (c->why)
        return;
    c->why = why;
    sim_stats(c->sim, &c->st);
    uv_timer_stop(&c->stop);
    uv_close((uv_handle_t *)&c->stop, NULL);
    uv_close((uv_handle_t *)&c->sigint, NULL);
    uv_close((uv_handle_t *)&c->sigterm, NULL);
    sim_close(c->sim, NULL, NULL);
}

static void on_cli_signal(uv_signal_t *h, int signum)
{
    struct sim_cli *c = h->data;

    cli_stop(c, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

static void on_cli_timer(uv_timer_t *t)
{
    cli_stop(container_of(t, struct sim_cli, stop), "duration over");
}

static void sim_usage(FILE *f)
{
    fprintf(f,
            "usage: vigie simulate [-c FILE] --out DIR [--duration D] [--speed X | --scenario D]\n"
            "                      [--interval D] [--local-receiver] [--no-scenario]\n"
            "                      [--capacity N] [--seed N]\n"
            "  --out DIR         where to write vigie.yaml and probes.d/ for the simulation\n"
            "  --duration D      serve this long, then stop (default: until SIGINT/SIGTERM)\n"
            "  --scenario D      the lockdown scenario's length (default: --duration, or 10m)\n"
            "  --speed X         or: three weeks of March 2020 played X times faster\n"
            "  --interval D      every probe checked at this interval (default: as the source)\n"
            "  --local-receiver  alerts go to the simulator (DIR/notifications/), not to the\n"
            "                    source's receivers\n"
            "  --no-scenario     the procedures' usual profiles only\n"
            "  --capacity N      concurrent connections a service holds (default 32)\n"
            "  --seed N          random draws (default: from the clock)\n"
            "(docs/SIMULATE.md)\n");
}

int sim_main(int argc, char **argv)
{
    struct sim_cli c = {0};
    struct sim_opts so = {0};
    struct sim_write_opts wo = {0};
    struct config *cfg = NULL;
    struct diag d;
    const char *out = NULL, *src = NULL;
    uint64_t duration = 0, scenario = 0;
    double speed = 0;
    bool no_scenario = false;
    char err[1024], nd[4096];
    int rc = 1, opt;
    enum {
        O_LOCAL = 256,
        O_NO_SCENARIO,
        O_OUT,
        O_DURATION,
        O_SCENARIO,
        O_INTERVAL,
        O_SPEED,
        O_CAPACITY,
        O_SEED
    };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"out", required_argument, NULL, O_OUT},
        {"duration", required_argument, NULL, O_DURATION},
        {"scenario", required_argument, NULL, O_SCENARIO},
        {"interval", required_argument, NULL, O_INTERVAL},
        {"speed", required_argument, NULL, O_SPEED},
        {"capacity", required_argument, NULL, O_CAPACITY},
        {"seed", required_argument, NULL, O_SEED},
        {"local-receiver", no_argument, NULL, O_LOCAL},
        {"no-scenario", no_argument, NULL, O_NO_SCENARIO},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct cli cl;

    cli_init(&cl, "vigie: simulate", argc, argv, "c:vh", opts);
    while ((opt = cli_next(&cl)) != -1) {
        const char *why = NULL;
        char *e;

        switch (opt) {
        case 'h':
            sim_usage(stdout);
            return 0;
        case 'v':
            log_set_level(VLOG_DEBUG);
            break;
        case O_LOCAL:
            wo.local_receiver = true;
            break;
        case O_NO_SCENARIO:
            no_scenario = true;
            break;
        case 'c':
            src = optarg;
            break;
        case O_OUT:
            out = optarg;
            break;
        case O_DURATION:
            units_duration(optarg, &duration, &why);
            break;
        case O_SCENARIO:
            units_duration(optarg, &scenario, &why);
            break;
        case O_INTERVAL:
            if (units_duration(optarg, &wo.interval_ms, &why) == 0 && wo.interval_ms < 1000)
                why = "at least 1s";
            break;
        case O_SPEED:
            speed = strtod(optarg, &e);
            if (*e || !(speed >= 1))
                why = "expected a factor >= 1, e.g. 10080 (three weeks in 3 minutes)";
            break;
        case O_CAPACITY:
            so.capacity = strtol(optarg, &e, 10);
            if (*e || so.capacity < 1 || so.capacity > 100000)
                why = "expected 1..100000";
            break;
        case O_SEED:
            so.seed = strtoull(optarg, &e, 10);
            if (*e)
                why = "expected a number";
            break;
        default:
            sim_usage(stderr);
            return 1;
        }
        if (why) {
            fprintf(stderr, "vigie: simulate: %s %s: %s\n", cl.name, optarg, why);
            return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vigie: simulate: unexpected argument \"%s\"\n", argv[optind]);
        sim_usage(stderr);
        return 1;
    }
    if (!out) {
        fprintf(stderr, "vigie: simulate: --out DIR is required\n");
        sim_usage(stderr);
        return 1;
    }
    if (!src && access("vigie.yaml", F_OK) == 0)
        src = "vigie.yaml";
    diag_init(&d);
    if (config_load(src, &cfg, &d) != 0) {
        diag_print(&d, stderr);
        fprintf(stderr, "vigie: %zu error%s, configuration not loaded\n", d.n, d.n == 1 ? "" : "s");
        diag_fini(&d);
        return 1;
    }
    diag_fini(&d);

    if (!no_scenario)
        so.scenario_ms = scenario       ? scenario
                         : speed > 0    ? (uint64_t)(SCENARIO_REAL_MS / speed)
                         : duration > 0 ? duration
                                        : 600000;
    if (wo.local_receiver) {
        snprintf(nd, sizeof(nd), "%s/notifications", out);
        int mk = fsx_mkdir_p(nd, 0755);

        if (mk != 0) {
            fprintf(stderr, "vigie: simulate: %s: %s\n", nd, strerror(-mk));
            goto out;
        }
        so.notify_dir = nd;
    }
    if (uv_loop_init(&c.loop) != 0)
        goto out;
    if (sim_start(&c.loop, cfg, &so, &c.sim) != 0) {
        uv_run(&c.loop, UV_RUN_DEFAULT);
        uv_loop_close(&c.loop);
        fprintf(stderr, "vigie: simulate: cannot start the services\n");
        goto out;
    }
    wo.source = src;
    if (sim_write_config(c.sim, out, &wo, err, sizeof(err)) != 0) {
        fprintf(stderr, "vigie: simulate: %s\n", err);
        sim_close(c.sim, NULL, NULL);
        uv_run(&c.loop, UV_RUN_DEFAULT);
        uv_loop_close(&c.loop);
        goto out;
    }
    printf("vigie simulate: %zu services on 127.0.0.1, one port each", cfg->nprobes);
    if (so.scenario_ms)
        printf(", the lockdown scenario over %.0f s", so.scenario_ms / 1000.0);
    printf("\n  configuration: %s/vigie.yaml\n  probe them:    vigie run -c %s/vigie.yaml\n", out,
           out);
    if (so.notify_dir)
        printf("  notifications: %s/\n", so.notify_dir);
    if (duration)
        printf("  serving for %.0f s (Ctrl-C stops)\n", duration / 1000.0);
    else
        printf("  serving until Ctrl-C\n");
    fflush(stdout);

    uv_signal_init(&c.loop, &c.sigint);
    uv_signal_init(&c.loop, &c.sigterm);
    uv_timer_init(&c.loop, &c.stop);
    c.sigint.data = c.sigterm.data = &c;
    uv_signal_start(&c.sigint, on_cli_signal, SIGINT);
    uv_signal_start(&c.sigterm, on_cli_signal, SIGTERM);
    if (duration)
        uv_timer_start(&c.stop, on_cli_timer, duration, 0);
    uv_run(&c.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&c.loop) != 0)
        log_warn("simulate: event loop closed with handles still open");
    printf("vigie simulate: stopped (%s): %llu requests, %llu ok, %llu 502/503, %llu reset, "
           "%llu listener closings, %llu notifications\n",
           c.why ? c.why : "?", (unsigned long long)c.st.requests, (unsigned long long)c.st.ok,
           (unsigned long long)c.st.errors, (unsigned long long)c.st.resets,
           (unsigned long long)c.st.closed_phases, (unsigned long long)c.st.notifications);
    rc = 0;
out:
    config_free(cfg);
    return rc;
}
