/* reload — the daemon's reload of its configuration on SIGHUP (see daemon_int.h).
 *
 * The configuration is parsed again on the thread pool (reload_run). An invalid one is logged
 * (every error with file:line:col, the first one in STATUS=) and the running one stays. A valid
 * one is swapped in on the loop thread in one go (reload_apply): a new scheduler takes over from
 * the old one (same phase and due times for unchanged probes, see sched_takeover), alerting and
 * notify move to it (state by probe id), the live state is carried over by id (live_commit), the
 * graph timer restarts on it. Everything that can fail is done before anything is swapped: out
 * of memory, the running configuration stays too. The old configuration stays alive (`struct
 * gen`, reference counted) while anything still uses it: the old scheduler draining its checks
 * (their samples are routed by probe id), a job on the thread pool, the graph timer closing,
 * alerting until it lets go of it. Settings bound to files already open (rrd_dir, retention,
 * rrd_flush, rrd_queue_max, rrd_close_timeout, rrdcached, spool_dir) keep their running value until
 * the next restart (logged). One reload runs at a time; SIGHUPs during one make one more
 * afterwards. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>
#include <uv.h>

#include "alert/alerting.h"
#include "app/daemon_int.h"
#include "base/container.h"
#include "base/diag.h"
#include "base/log.h"
#include "base/worker.h"
#include "config/config.h"
#include "notify/notify.h"
#include "probe/sched.h"
#include "view/live.h"

static void reload_run(uv_work_t *w)
{
    struct daemon *d = container_of(w, struct daemon, reload_work);

    worker_nice();
    if (config_load(d->cfg_path, &d->reload_cfg, &d->reload_diag) != 0)
        return;
    if (d->opts.shard_n && config_shard(d->reload_cfg, d->opts.shard_i, d->opts.shard_n) == 0) {
        diag_add(&d->reload_diag, d->cfg_path ? d->cfg_path : "(built-in)", 0, 0,
                 "shard %u/%u holds none of the probes", d->opts.shard_i, d->opts.shard_n);
        config_free(d->reload_cfg);
        d->reload_cfg = NULL;
    }
}

/* The settings bound to what is already open keep their running value until a restart. */
static void keep_running_settings(const struct config *old, struct config *c)
{
#define KEEP_STR(f, name)                                                                          \
    do {                                                                                           \
        if ((old->f == NULL) != (c->f == NULL) || (old->f && strcmp(old->f, c->f) != 0)) {         \
            char *v = old->f ? strdup(old->f) : NULL;                                              \
            if (old->f && !v)                                                                      \
                break;                                                                             \
            log_warn("reload: %s changed: takes effect at the next restart", name);                \
            free(c->f);                                                                            \
            c->f = v;                                                                              \
        }                                                                                          \
    } while (0)
#define KEEP_NUM(f, name)                                                                          \
    do {                                                                                           \
        if (old->f != c->f) {                                                                      \
            log_warn("reload: %s changed: takes effect at the next restart", name);                \
            c->f = old->f;                                                                         \
        }                                                                                          \
    } while (0)
    KEEP_STR(rrd_dir, "rrd_dir");
    KEEP_STR(rrdcached, "rrdcached");
    KEEP_STR(spool_dir, "alerting.spool_dir");
    KEEP_NUM(rrd_flush_ms, "rrd_flush");
    KEEP_NUM(rrd_queue_max, "rrd_queue_max");
    KEEP_NUM(rrd_close_ms, "rrd_close_timeout");
    KEEP_NUM(rrd_full_ms, "rrd_retention.full");
    KEEP_NUM(rrd_medium_ms, "rrd_retention.medium");
    KEEP_NUM(rrd_hourly_ms, "rrd_retention.hourly");
    KEEP_NUM(rrd_daily_ms, "rrd_retention.daily");
#undef KEEP_STR
#undef KEEP_NUM
}

/* alerting_reload's callback: the configuration it replaced is not read any more. */
static void on_alerting_released(void *arg, const struct config *old)
{
    struct daemon *d = arg;

    for (struct gen *g = d->gens; g; g = g->next) {
        if (g->cfg == old) {
            daemon_gen_put(d, g);
            return;
        }
    }
}

/* Swaps in configuration c (valid, owned): see the top of this file. Returns 0, or -ENOMEM
 * with the running configuration untouched (c freed). */
static int reload_apply(struct daemon *d, struct config *c)
{
    struct sched_opts so;
    struct gen *og = d->cur, *ng = NULL;
    const struct config *oc = og->cfg;
    struct sched *ns = NULL;
    struct retired *rt = calloc(1, sizeof(*rt));
    int live_rc = live_prepare(d->live, c);
    size_t kept;

    keep_running_settings(oc, c);
    daemon_sched_opts(d, c, &so);
    ng = daemon_gen_new(d, c);
    if (ng)
        ns = sched_new(&d->loop, d->httpc, c, &so, daemon_on_sample, d);
    if (!rt || live_rc < 0 || !ns)
        goto fail;
    daemon_gen_get(og); /* alerting reads it until on_alerting_released */
    if (alerting_reload(d->alerting, c, on_alerting_released, d) < 0) {
        daemon_gen_put(d, og);
        goto fail;
    }
    /* The live state of the probes that stay, by id. */
    kept = live_commit(d->live);
    d->cur = ng;
    d->cfg = c;
    /* The old scheduler keeps its configuration until its last check is in. */
    rt->d = d;
    rt->g = daemon_gen_get(og);
    d->nretired++;
    sched_takeover(ns, d->sched, &rt->st, daemon_sched_retired, rt);
    d->sched = ns;
    notify_reload(d->notify, c);
    if (d->graph)
        daemon_graph_end(d); /* then daemon_graph_begin on the new configuration */
    else if (!d->graph_closing)
        daemon_graph_begin(d);
    daemon_gen_put(d, og); /* the daemon's own reference */
    log_notice("configuration reloaded: %zu probes (%zu kept, %zu added, %zu removed)", c->nprobes,
               kept, c->nprobes - kept, oc->nprobes - kept);
    daemon_log_insecure(c);
    return 0;
fail:
    if (ns)
        sched_close(ns, NULL, NULL, NULL);
    free(rt);
    live_cancel(d->live);
    if (ng)
        daemon_gen_put(d, ng);
    else
        config_free(c);
    return -ENOMEM;
}

static void reload_start(struct daemon *d);

static void reload_done(uv_work_t *w, int status)
{
    struct daemon *d = container_of(w, struct daemon, reload_work);
    struct config *c = d->reload_cfg;

    d->reload_busy = false;
    d->reload_cfg = NULL;
    if (status != 0 || d->stopping) {
        config_free(c);
        diag_fini(&d->reload_diag);
        return;
    }
    if (!c) {
        const struct diag *dg = &d->reload_diag;

        for (size_t i = 0; i < dg->n && i < DIAG_MAX; i++) {
            const struct diag_entry *e = &dg->v[i];

            if (e->line)
                log_err("reload: %s:%u:%u: %s", e->file, e->line, e->col, e->msg);
            else
                log_err("reload: %s: %s", e->file, e->msg);
        }
        if (dg->n > 0 && dg->v[0].line)
            snprintf(d->reload_err, sizeof(d->reload_err), "%zu error%s, first %s:%u:%u: %s", dg->n,
                     dg->n == 1 ? "" : "s", dg->v[0].file, dg->v[0].line, dg->v[0].col,
                     dg->v[0].msg);
        else if (dg->n > 0)
            snprintf(d->reload_err, sizeof(d->reload_err), "%zu error%s, first %s: %s", dg->n,
                     dg->n == 1 ? "" : "s", dg->v[0].file, dg->v[0].msg);
        else
            snprintf(d->reload_err, sizeof(d->reload_err), "cannot load the configuration");
        log_err("reload failed (%s): still running the previous configuration", d->reload_err);
    } else if (reload_apply(d, c) < 0) {
        snprintf(d->reload_err, sizeof(d->reload_err), "out of memory");
        log_err("reload failed (out of memory): still running the previous configuration");
    } else {
        d->reload_err[0] = '\0';
    }
    diag_fini(&d->reload_diag);
    if (d->reload_err[0])
        sd_notifyf(0,
                   "READY=1\nSTATUS=%zu probes; reload failed (%s), running the previous "
                   "configuration",
                   d->cfg->nprobes, d->reload_err);
    else
        sd_notifyf(0, "READY=1\nSTATUS=%zu probes, configuration reloaded", d->cfg->nprobes);
    if (d->reload_again)
        reload_start(d);
}

static void reload_start(struct daemon *d)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading the configuration",
               (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
    log_info("reloading the configuration (%s)", d->cfg_path ? d->cfg_path : "built-in");
    d->reload_again = false;
    d->reload_cfg = NULL;
    diag_init(&d->reload_diag);
    if (uv_queue_work(&d->loop, &d->reload_work, reload_run, reload_done) != 0) {
        diag_fini(&d->reload_diag);
        log_err("reload not started");
        sd_notify(0, "READY=1");
        return;
    }
    d->reload_busy = true;
}

void reload_request(struct daemon *d)
{
    if (d->stopping)
        return;
    if (d->reload_busy)
        d->reload_again = true;
    else
        reload_start(d);
}
