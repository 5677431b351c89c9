/* daemon — the run loop of `vigie run`.
 *
 * Start-up, in this order: the loop, httpc (the curl multi), notify (the receivers and their
 * spool), rrdw (the RRD writer; its writes on the thread pool), alerting, sched (the clock), the
 * signal and timer handles, the graph timer (graph: its passes on the thread pool and a renderer
 * process; without graphs the dashboard's own timer), the criterion report's schedule. Every
 * sample the scheduler produces goes to daemon_on_sample(): the alert engine judges it, the RRD
 * writer queues it (never blocking), the live state (view/live) records it for the dashboard,
 * and a change of verdict is logged. After each graph pass (or dashboard tick) the dashboard is
 * refreshed on the thread pool, and after a good refresh the criterion report when it is due.
 *
 * Shutdown (SIGINT, SIGTERM, or --duration reached), stop(): STOPPING=1 to systemd, the RRD
 * writer's queue length noted (stats), the statistics logged, the periodic timers stopped
 * (statistics, duration, STATUS=, watchdog, the dashboard's). From then on no dashboard refresh,
 * criterion report or reload starts; one already on the thread pool runs to its end (uv_run
 * waits for it) and starts nothing after it (no report, a parsed configuration is freed). Then a
 * chain of asynchronous closes, each started from the previous one's callback:
 *   1. sched_close: no new checks; the checks in flight drain for at most drain_timeout, then
 *      are aborted (their ticks count as missed). Their samples still go through
 *      daemon_on_sample: alerting and the RRD writer are open. Schedulers a reload replaced
 *      that are still draining get the same bound: the stop timer aborts every transfer in
 *      flight (httpc_abort_all) after drain_timeout. "checks drained" once the current one is
 *      closed.
 *   2. stop_continue, once every scheduler is closed and no graph timer of a replaced
 *      configuration is still closing: graph_close (its timer stopped, the pass in flight asked
 *      to stop after its current render and waited for);
 *   3. alerting_close ("sending pending alerts"): what is pending goes to notify now, without
 *      waiting for the grouping window, and the alert state is written a last time;
 *   4. rrdw_close ("flushing RRD writes"): one last flush of the samples still queued, for
 *      rrd_close_timeout at most (plus the one probe being written then); what is not written
 *      by then, or cannot be, goes to the journal in rrd_dir, which the next start replays;
 *   5. notify_close: deliveries in flight cancelled, programs killed; what was not delivered
 *      stays in the spool for the next start;
 *   6. httpc_close: the transfers left aborted, its handles closed;
 *   7. our own handles: the three signals and the five timers.
 * The loop then has nothing left and uv_run returns; daemon_run logs the totals and writes the
 * --stats file. A second SIGINT or SIGTERM during the chain aborts every check still in flight
 * (httpc_abort_all).
 *
 * Reload (SIGHUP): reload.c. A valid configuration replaces the running one in one go, an
 * invalid one is logged and the running one stays.
 */
#include "app/daemon.h"
#include "app/daemon_int.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <systemd/sd-daemon.h>
#include <uv.h>

#include "alert/alerting.h"
#include "base/container.h"
#include "base/fsx.h"
#include "base/log.h"
#include "base/worker.h"
#include "net/httpc.h"
#include "notify/notify.h"
#include "probe/sched.h"
#include "store/rrdw.h"
#include "view/graph.h"
#include "view/live.h"
#include "view/report.h"

#define STATS_PERIOD_MS 60000
#define STATUS_PERIOD_MS 10000
/* The watchdog is fed only while the scheduler is less than this far behind. */
#define WATCHDOG_BEHIND_US 5000000

/* ---- configuration generations ---- */

struct gen *daemon_gen_new(struct daemon *d, struct config *cfg)
{
    struct gen *g = calloc(1, sizeof(*g));

    if (!g)
        return NULL;
    g->cfg = cfg;
    g->refs = 1;
    g->next = d->gens;
    d->gens = g;
    return g;
}

struct gen *daemon_gen_get(struct gen *g)
{
    g->refs++;
    return g;
}

void daemon_gen_put(struct daemon *d, struct gen *g)
{
    if (!g || --g->refs > 0)
        return;
    for (struct gen **pp = &d->gens; *pp; pp = &(*pp)->next) {
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    }
    config_free(g->cfg);
    free(g);
}

/* The index of p's probe in the current configuration: p itself, or after a reload a probe of
 * an older one (a sample of a scheduler that is draining), found by id. SIZE_MAX when the probe
 * was removed. */
static size_t probe_index(const struct daemon *d, const struct probe *p)
{
    const struct config *c = d->cfg;
    uintptr_t a = (uintptr_t)p, lo = (uintptr_t)c->probes;

    if (a >= lo && a < lo + c->nprobes * sizeof(*c->probes))
        return (size_t)(p - c->probes);
    p = config_find(c, p->id);
    return p ? (size_t)(p - c->probes) : SIZE_MAX;
}

/* The scheduler's shedding factor changed (it logged why): the overloaded alert follows. */
static void on_overload(void *arg, const struct sched_overload *o)
{
    struct daemon *d = arg;

    if (d->alerting)
        alerting_overload(d->alerting, o->factor, sched_cause_str(o->cause));
}

void daemon_sched_opts(struct daemon *d, const struct config *c, struct sched_opts *so)
{
    memset(so, 0, sizeof(*so));
    so->overload_cb = on_overload;
    so->overload_arg = d;
    so->saturation_us = c->saturation_ms * 1000;
    so->drain_ms = c->drain_ms;
    so->busy_max = c->overload.busy;
    so->loop_lag_us = c->overload.loop_lag_ms * 1000;
    so->shed_after_ms = c->overload.shed_after_ms;
    so->relax_after_ms = c->overload.relax_after_ms;
    so->max_factor = (unsigned)c->overload.max_factor;
}

/* Statistics of every scheduler so far: the ones replaced by reloads, then `cur`. */
static void sched_stats_add(struct sched_stats *to, const struct sched_stats *st)
{
    to->started += st->started;
    to->completed += st->completed;
    to->missed += st->missed;
    to->flagged += st->flagged;
    to->rechecks += st->rechecks;
    to->promoted += st->promoted;
    to->shed += st->shed;
    to->saturated_ms += st->saturated_ms;
    if (st->factor_max > to->factor_max)
        to->factor_max = st->factor_max;
    to->factor = st->factor; /* the last one added: the current scheduler's */
    to->busy = st->busy;
    to->cpu = st->cpu;
    to->in_flight += st->in_flight;
    if (st->in_flight_max > to->in_flight_max)
        to->in_flight_max = st->in_flight_max;
    to->waiting += st->waiting;
    if (st->lag_max_us > to->lag_max_us)
        to->lag_max_us = st->lag_max_us;
    if (st->loop_lag_max_us > to->loop_lag_max_us)
        to->loop_lag_max_us = st->loop_lag_max_us;
    for (size_t i = 0; i < SCHED_LAG_FINE; i++)
        to->lag_fine[i] += st->lag_fine[i];
    for (size_t i = 0; i < SCHED_LAG_COARSE; i++)
        to->lag_coarse[i] += st->lag_coarse[i];
}

static void all_sched_stats(const struct daemon *d, struct sched_stats *out)
{
    struct sched_stats cur;

    *out = d->sched_base;
    if (d->sched) {
        sched_stats(d->sched, &cur);
        sched_stats_add(out, &cur);
    }
}

static void graph_stats_add(struct graph_stats *to, const struct graph_stats *st)
{
    to->passes += st->passes;
    to->renders += st->renders;
    to->failures += st->failures;
    to->skipped += st->skipped;
    to->render_s += st->render_s;
    if (st->render_max_s > to->render_max_s)
        to->render_max_s = st->render_max_s;
}

void daemon_on_sample(void *arg, const struct sched_sample *s)
{
    struct daemon *d = arg;
    size_t i = probe_index(d, s->p);
    const struct result *r = s->res;
    bool impaired = r && i != SIZE_MAX && alerting_result(d->alerting, i, r, s->flagged);
    uint64_t recheck =
        r && i != SIZE_MAX && !s->flagged && !impaired ? alerting_recheck_ms(d->alerting, i) : 0;
    int was;

    /* An alert being confirmed: check again sooner (alert.recheck, docs/ALERTING.md), through
     * the current scheduler. A recheck's sample (extra) is for the alert engine only: not the
     * RRD files, not the dashboard's history. */
    if (recheck)
        sched_recheck(d->sched, &d->cfg->probes[i], recheck);
    if (s->extra)
        return;
    /* A probe removed by a reload: its last check is still written (its files stay). */
    rrdw_push(d->rrdw, s->p, s->due_ms / 1000, r, s->flagged || impaired);
    if (!r || s->flagged || impaired || i == SIZE_MAX)
        return;
    was = live_record(d->live, i, s->p, r, (time_t)(s->due_ms / 1000));
    log_debug("probe %s: %s dns %lld connect %lld tls %lld ttfb %lld total %lld us, lag %lld us, "
              "wait %lld us, loop lag %lld us",
              s->p->id, outcome_str(r->outcome), (long long)r->dns_us, (long long)r->connect_us,
              (long long)r->tls_us, (long long)r->ttfb_us, (long long)r->total_us,
              (long long)s->lag_us, (long long)s->wait_us, (long long)s->loop_lag_us);
    if (r->outcome == OUTCOME_OK) {
        d->ok_samples++;
        d->total_sum_us += (double)r->total_us;
        if (d->total_min_us < 0 || r->total_us < d->total_min_us)
            d->total_min_us = r->total_us;
        if (r->total_us > d->total_max_us)
            d->total_max_us = r->total_us;
    }
    /* Log transitions only: a probe that stays down is said once. */
    if (was != (int)r->verdict) {
        if (r->verdict == VERDICT_DOWN)
            log_probe(VLOG_NOTICE, s->p->id, s->p->group, "probe %s: down (%s: %s)", s->p->id,
                      outcome_str(r->outcome), r->msg);
        else if (r->verdict == VERDICT_DEGRADED)
            log_probe(VLOG_NOTICE, s->p->id, s->p->group, "probe %s: degraded (%s)", s->p->id,
                      r->msg);
        else if (was >= 0)
            log_probe(VLOG_NOTICE, s->p->id, s->p->group, "probe %s: ok again", s->p->id);
    }
}

/* A notification from the alert engine, for one receiver. */
/* The alert state is not written while a notification it calls sent is not spooled yet. */
static bool notify_spooling_cb(void *arg)
{
    struct daemon *d = arg;

    return d->notify && notify_spooling(d->notify);
}

static void on_alert_send(void *arg, const char *receiver, json_t *n)
{
    struct daemon *d = arg;
    int err = d->notify ? notify_submit(d->notify, n) : -ECANCELED;

    if (err < 0)
        log_err("notification to %s not taken: %s", receiver, strerror(-err));
}

/* ---- the criterion report the dashboard links to: graphs_dir/report.html ---- */

#define REPORT_PERIOD_MS (6 * 3600 * 1000ULL)

static void report_run(uv_work_t *w)
{
    struct daemon *d = container_of(w, struct daemon, report_work);
    const struct config *cfg = d->report_gen->cfg;
    struct report_opts o = {.format = REPORT_HTML};
    char path[4096], *warn_text = NULL;
    size_t warn_len = 0;
    struct fsx_atomic f;
    FILE *out = NULL, *warn;
    int rc;

    worker_nice();
    d->report_err[0] = '\0';
    snprintf(path, sizeof(path), "%s/report.html", cfg->graphs_dir);
    report_default_window(time(NULL), &o.from, &o.to);
    o.output = path;
    warn = open_memstream(&warn_text, &warn_len);
    rc = warn ? fsx_atomic_open(&f, path) : -errno;
    if (rc == 0 && !(out = fsx_atomic_stream(&f)))
        rc = -errno;
    if (rc == 0)
        rc = report_write(cfg, &o, out, warn);
    if (warn)
        rc = fsx_atomic_commit(&f, path, 0644, 0, rc, NULL);
    d->report_rc = rc;
    if (rc < 0)
        snprintf(d->report_err, sizeof(d->report_err), "%s: %s", path, strerror(-rc));
    if (warn)
        fclose(warn);
    free(warn_text); /* the probes without data show in the page itself */
}

static void report_done(uv_work_t *w, int status)
{
    struct daemon *d = container_of(w, struct daemon, report_work);

    d->report_busy = false;
    daemon_gen_put(d, d->report_gen);
    d->report_gen = NULL;
    if (status == 0 && d->report_rc < 0)
        log_err("criterion report not written: %s", d->report_err);
}

/* At start: a report younger than its period (written before a restart) is due when it ages,
 * not at once: it reads every probe's files over 3 months. */
static void report_schedule(struct daemon *d)
{
    char path[4096];
    struct stat st;
    time_t now = time(NULL);

    if ((size_t)snprintf(path, sizeof(path), "%s/report.html", d->cfg->graphs_dir) >=
            sizeof(path) ||
        stat(path, &st) != 0 || st.st_mtime > now ||
        (uint64_t)(now - st.st_mtime) * 1000 >= REPORT_PERIOD_MS)
        return;
    d->report_next_ms = uv_now(&d->loop) + REPORT_PERIOD_MS - (uint64_t)(now - st.st_mtime) * 1000;
    log_info("criterion report: %s is %lld min old, the next in %llu min", path,
             (long long)(now - st.st_mtime) / 60,
             (unsigned long long)(d->report_next_ms - uv_now(&d->loop)) / 60000);
}

/* After a dashboard refresh: the report when it is due (first after the first refresh). */
static void report_kick(struct daemon *d)
{
    uint64_t now = uv_now(&d->loop);

    if (d->report_busy || d->stopping || now < d->report_next_ms)
        return;
    d->report_next_ms = now + REPORT_PERIOD_MS;
    d->report_gen = daemon_gen_get(d->cur);
    if (uv_queue_work(&d->loop, &d->report_work, report_run, report_done) == 0) {
        d->report_busy = true;
    } else {
        daemon_gen_put(d, d->report_gen);
        d->report_gen = NULL;
    }
}

/* ---- the dashboard: refreshed after each graph pass (or on its own timer without graphs) ---- */

static void on_dash_done(void *arg, int rc, const char *err)
{
    struct daemon *d = arg;

    daemon_gen_put(d, d->dash_gen);
    d->dash_gen = NULL;
    if (rc < 0 && !d->dash_failing)
        log_err("dashboard not written: %s (retrying at the next refresh)", err ? err : "error");
    else if (rc == 0 && d->dash_failing)
        log_notice("dashboard written again");
    d->dash_failing = rc < 0;
    if (rc == 0)
        report_kick(d);
}

static void dash_kick(struct daemon *d)
{
    int rc;

    if (d->stopping)
        return;
    /* The rows point into the current configuration: it stays until the refresh is done. */
    rc = live_refresh(d->live, &d->loop, on_dash_done, d);
    if (rc == 0)
        d->dash_gen = daemon_gen_get(d->cur);
    else if (rc != -EBUSY)
        log_err("dashboard refresh not started: %s", strerror(-rc));
}

static void on_graph_pass(void *arg, const struct graph_pass *pass)
{
    (void)pass;
    dash_kick(arg);
}

static void on_dash_timer(uv_timer_t *t)
{
    dash_kick(container_of(t, struct daemon, dash_timer));
}

static void log_stats(struct daemon *d)
{
    struct sched_stats st;
    struct rrdw_stats rs;

    all_sched_stats(d, &st);
    rrdw_stats(d->rrdw, &rs);
    log_info("checks %llu done, %llu missed, %llu flagged, %llu shed (one tick in %u now), lag "
             "p50 %.1f ms p99 %.1f ms max %.1f ms, loop %.0f %% busy, saturated %.1f s; rrd %llu "
             "written, %llu queued, %llu dropped",
             (unsigned long long)st.completed, (unsigned long long)st.missed,
             (unsigned long long)st.flagged, (unsigned long long)st.shed, st.factor,
             sched_lag_quantile(&st, 0.5) / 1000.0, sched_lag_quantile(&st, 0.99) / 1000.0,
             st.lag_max_us / 1000.0, st.busy * 100, (double)st.saturated_ms / 1000.0,
             (unsigned long long)rs.written, (unsigned long long)rs.queued,
             (unsigned long long)rs.dropped);
    if (d->graph) {
        struct graph_stats gs;

        graph_stats(d->graph, &gs);
        log_info("graphs %llu drawn (%.1f ms each, slowest %.1f ms), %llu failed, %llu passes",
                 (unsigned long long)gs.renders,
                 gs.renders ? gs.render_s * 1000.0 / (double)gs.renders : 0.0,
                 gs.render_max_s * 1000.0, (unsigned long long)gs.failures,
                 (unsigned long long)gs.passes);
    }
}

static void on_stats_timer(uv_timer_t *t)
{
    log_stats(container_of(t, struct daemon, stats_timer));
}

/* STATUS= for `systemctl status`: probes, checks/s since the last status, down and degraded. */
static void on_status_timer(uv_timer_t *t)
{
    struct daemon *d = container_of(t, struct daemon, status_timer);
    struct sched_stats st;
    struct notify_stats ns;
    struct alert_stats as;
    struct rrdw_stats rs;
    struct sched_overload ov;
    uint64_t now = uv_hrtime();
    size_t down = 0, degraded = 0;
    char shed[96] = "";
    double rate;

    all_sched_stats(d, &st);
    rate = now > d->last_status_ns ? (double)(st.completed - d->last_completed) * 1e9 /
                                         (double)(now - d->last_status_ns)
                                   : 0;
    d->last_completed = st.completed;
    d->last_status_ns = now;
    live_count(d->live, &down, &degraded);
    notify_stats(d->notify, &ns);
    alerting_stats(d->alerting, &as);
    rrdw_stats(d->rrdw, &rs);
    sched_overload(d->sched, &ov);
    if (ov.factor > 1)
        snprintf(shed, sizeof(shed), ", overloaded (%s): one tick in %u checked",
                 sched_cause_str(ov.cause), ov.factor);
    sd_notifyf(0,
               "STATUS=%zu probes, %.1f checks/s%s, %zu down, %zu degraded, %llu missed ticks, "
               "%u alerts firing%s, %llu notifications pending%s%s%s",
               d->cfg->nprobes, rate, shed, down, degraded, (unsigned long long)st.missed,
               as.firing, as.impaired ? " (vigie impaired)" : "", (unsigned long long)ns.pending,
               rs.daemon_down ? ", rrdcached unreachable" : "",
               d->reload_err[0] ? "; last reload failed: " : "", d->reload_err);
}

/* WATCHDOG=1 from the loop itself, and only while the scheduler keeps up: a stalled loop or a
 * scheduler that fell behind stops the pings, and systemd restarts the service. */
static void on_watchdog_timer(uv_timer_t *t)
{
    struct daemon *d = container_of(t, struct daemon, watchdog_timer);
    int64_t behind = sched_behind_us(d->sched);

    if (behind < WATCHDOG_BEHIND_US)
        sd_notify(0, "WATCHDOG=1");
    else
        log_err("scheduler %lld ms behind: watchdog not fed", (long long)(behind / 1000));
}

static void on_handle_closed(uv_handle_t *h)
{
    struct daemon *d = h->data;

    d->handles_open--;
}

static void on_httpc_closed(void *arg)
{
    struct daemon *d = arg;

    d->httpc = NULL;
    uv_close((uv_handle_t *)&d->sigint, on_handle_closed);
    uv_close((uv_handle_t *)&d->sigterm, on_handle_closed);
    uv_close((uv_handle_t *)&d->sighup, on_handle_closed);
    uv_close((uv_handle_t *)&d->stats_timer, on_handle_closed);
    uv_close((uv_handle_t *)&d->stop_timer, on_handle_closed);
    uv_close((uv_handle_t *)&d->status_timer, on_handle_closed);
    uv_close((uv_handle_t *)&d->watchdog_timer, on_handle_closed);
    uv_close((uv_handle_t *)&d->dash_timer, on_handle_closed);
}

static void on_notify_closed(void *arg)
{
    struct daemon *d = arg;

    d->notify = NULL;
    httpc_close(d->httpc, on_httpc_closed, d);
}

static void on_rrdw_closed(void *arg)
{
    struct daemon *d = arg;

    d->rrdw = NULL;
    notify_close(d->notify, on_notify_closed, d);
}

static void on_alerting_closed(void *arg)
{
    struct daemon *d = arg;

    d->alerting = NULL;
    log_info("flushing RRD writes");
    rrdw_close(d->rrdw, &d->final_rrdw, on_rrdw_closed, d);
}

/* The shutdown chain past the checks: once every scheduler (the current one and those a reload
 * replaced) is drained and no graph timer is closing, the graph timer, then alerting, the RRD
 * writer, notify, httpc and our handles, each from the previous one's callback. */
static void stop_continue(struct daemon *d)
{
    if (d->sched || d->nretired > 0 || d->graph_closing || d->closing_parts)
        return;
    if (d->graph) {
        daemon_graph_end(d); /* on_graph_closed comes back here */
        return;
    }
    d->closing_parts = true;
    log_info("sending pending alerts");
    alerting_stats(d->alerting, &d->final_alert);
    alerting_close(d->alerting, on_alerting_closed, d);
}

static void on_graph_closed(void *arg)
{
    struct daemon *d = arg;

    graph_stats_add(&d->graph_base, &d->graph_last);
    daemon_gen_put(d, d->graph_gen);
    d->graph_gen = NULL;
    d->graph_closing = false;
    if (d->stopping)
        stop_continue(d);
    else
        daemon_graph_begin(d); /* a reload closed the previous configuration's timer */
}

/* Closes the graph timer (at a reload or at the end); on_graph_closed follows. */
void daemon_graph_end(struct daemon *d)
{
    d->graph_closing = true;
    graph_close(d->graph, &d->graph_last, on_graph_closed, d);
    d->graph = NULL;
}

/* Starts the graph timer of the current configuration, or without graphs the dashboard's own. */
void daemon_graph_begin(struct daemon *d)
{
    const struct config *cfg = d->cfg;

    d->graph = graph_start(&d->loop, cfg, on_graph_pass, d);
    if (d->graph) {
        d->graph_gen = daemon_gen_get(d->cur);
        uv_timer_stop(&d->dash_timer);
        log_info("graphs every %llu ms in %s", (unsigned long long)cfg->graphs.interval_ms,
                 cfg->graphs_dir);
        return;
    }
    if (cfg->graphs.enabled)
        log_err("cannot start the graph timer: out of memory");
    uv_timer_start(&d->dash_timer, on_dash_timer, 1000, cfg->graphs.interval_ms);
}

static void on_sched_stopped(void *arg)
{
    struct daemon *d = arg;

    d->sched = NULL;
    sched_stats_add(&d->sched_base, &d->final_sched);
    log_info("checks drained");
    stop_continue(d);
}

/* A scheduler replaced by a reload has drained its checks. */
void daemon_sched_retired(void *arg)
{
    struct retired *rt = arg;
    struct daemon *d = rt->d;

    sched_stats_add(&d->sched_base, &rt->st);
    daemon_gen_put(d, rt->g);
    d->nretired--;
    free(rt);
    if (d->stopping)
        stop_continue(d);
}

static void on_stop_timer(uv_timer_t *t);

static void stop(struct daemon *d, const char *why)
{
    if (d->stopping) {
        if (d->httpc)
            httpc_abort_all(d->httpc);
        return;
    }
    d->stopping = true;
    if (d->rrdw) {
        struct rrdw_stats rs;

        rrdw_stats(d->rrdw, &rs);
        d->rrd_queued_at_stop = rs.queued;
    }
    sd_notifyf(0, "STOPPING=1\nSTATUS=stopping (%s): draining checks, flushing RRD writes", why);
    log_info("stopping (%s)", why);
    log_stats(d);
    uv_timer_stop(&d->stats_timer);
    uv_timer_stop(&d->stop_timer);
    uv_timer_stop(&d->status_timer);
    uv_timer_stop(&d->watchdog_timer);
    uv_timer_stop(&d->dash_timer);
    /* Schedulers replaced by a reload are bounded like the current one: after drain_timeout
     * their checks are aborted too (the current one does it for its own). */
    if (d->nretired > 0)
        uv_timer_start(&d->stop_timer, on_stop_timer, d->cfg->drain_ms, 0);
    sched_close(d->sched, &d->final_sched, on_sched_stopped, d);
}

static void on_sighup(uv_signal_t *sig, int signum)
{
    (void)signum;
    reload_request(sig->data);
}

static void on_signal(uv_signal_t *sig, int signum)
{
    struct daemon *d = sig->data;

    stop(d, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

static void on_stop_timer(uv_timer_t *t)
{
    stop(container_of(t, struct daemon, stop_timer), "duration reached");
}

static int write_stats(struct daemon *d, const char *path)
{
    const struct sched_stats *st = &d->sched_base;
    struct rusage ru;
    json_t *o = json_object();
    double secs = (uv_hrtime() - d->t0) / 1e9;
    int rc;

    getrusage(RUSAGE_SELF, &ru);
    json_object_set_new(o, "probes", json_integer((json_int_t)d->cfg->nprobes));
    json_object_set_new(o, "seconds", json_real(secs));
    json_object_set_new(o, "started", json_integer((json_int_t)st->started));
    json_object_set_new(o, "completed", json_integer((json_int_t)st->completed));
    json_object_set_new(o, "missed", json_integer((json_int_t)st->missed));
    json_object_set_new(o, "flagged", json_integer((json_int_t)st->flagged));
    json_object_set_new(o, "rechecks", json_integer((json_int_t)st->rechecks));
    json_object_set_new(o, "rechecks_promoted", json_integer((json_int_t)st->promoted));
    json_object_set_new(o, "saturated_s", json_real((double)st->saturated_ms / 1000.0));
    json_object_set_new(o, "shed", json_integer((json_int_t)st->shed));
    json_object_set_new(o, "shed_factor", json_integer((json_int_t)d->final_sched.factor));
    json_object_set_new(o, "shed_factor_max", json_integer((json_int_t)st->factor_max));
    json_object_set_new(o, "lag_p50_us", json_integer(sched_lag_quantile(st, 0.5)));
    json_object_set_new(o, "lag_p99_us", json_integer(sched_lag_quantile(st, 0.99)));
    json_object_set_new(o, "lag_max_us", json_integer(st->lag_max_us));
    json_object_set_new(o, "loop_lag_max_us", json_integer(st->loop_lag_max_us));
    json_object_set_new(o, "ok_samples", json_integer((json_int_t)d->ok_samples));
    json_object_set_new(o, "total_mean_us",
                        json_real(d->ok_samples ? d->total_sum_us / (double)d->ok_samples : 0));
    json_object_set_new(o, "total_min_us", json_integer(d->total_min_us));
    json_object_set_new(o, "total_max_us", json_integer(d->total_max_us));
    json_object_set_new(o, "rrd_written", json_integer((json_int_t)d->final_rrdw.written));
    json_object_set_new(o, "rrd_dropped", json_integer((json_int_t)d->final_rrdw.dropped));
    json_object_set_new(o, "rrd_failures", json_integer((json_int_t)d->final_rrdw.failures));
    json_object_set_new(o, "rrd_stale", json_integer((json_int_t)d->final_rrdw.stale));
    json_object_set_new(o, "rrd_queued", json_integer((json_int_t)d->final_rrdw.queued));
    json_object_set_new(o, "rrd_queued_at_stop", json_integer((json_int_t)d->rrd_queued_at_stop));
    json_object_set_new(o, "rrd_rolled_back", json_integer((json_int_t)d->final_rrdw.rolled_back));
    json_object_set_new(o, "rrd_files_moved", json_integer((json_int_t)d->final_rrdw.files_moved));
    json_object_set_new(o, "graph_passes", json_integer((json_int_t)d->graph_base.passes));
    json_object_set_new(o, "graph_renders", json_integer((json_int_t)d->graph_base.renders));
    json_object_set_new(o, "graph_failures", json_integer((json_int_t)d->graph_base.failures));
    json_object_set_new(o, "graph_skipped", json_integer((json_int_t)d->graph_base.skipped));
    json_object_set_new(o, "graph_render_s", json_real(d->graph_base.render_s));
    json_object_set_new(o, "graph_render_max_s", json_real(d->graph_base.render_max_s));
    json_object_set_new(o, "alert_transitions",
                        json_integer((json_int_t)d->final_alert.transitions));
    json_object_set_new(o, "alert_notifications",
                        json_integer((json_int_t)d->final_alert.notifications));
    json_object_set_new(o, "cpu_user_s", json_real(ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6));
    json_object_set_new(o, "cpu_sys_s", json_real(ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6));
    json_object_set_new(o, "maxrss_kib", json_integer(ru.ru_maxrss));
    rc = json_dump_file(o, path, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(o);
    if (rc != 0)
        log_err("cannot write stats to %s", path);
    return rc;
}

/* Turning TLS verification off is a per-probe (per-receiver) choice that must never be silent:
 * each one is said at start and at every reload, where an operator reading the journal sees it. */
void daemon_log_insecure(const struct config *cfg)
{
    for (size_t i = 0; i < cfg->nprobes; i++)
        if (!cfg->probes[i].tls_verify)
            log_probe(VLOG_WARNING, cfg->probes[i].id, cfg->probes[i].group,
                      "probe %s: TLS certificate verification is off (tls.verify: false)",
                      cfg->probes[i].id);
    for (size_t i = 0; i < cfg->nreceivers; i++)
        if (!cfg->receivers[i].tls_verify)
            log_warn("receiver %s: TLS certificate verification is off (tls.verify: false)",
                     cfg->receivers[i].name);
}

int daemon_run(struct config *cfg, const struct daemon_opts *o)
{
    struct daemon *d = calloc(1, sizeof(*d));
    struct rrdw_opts ro = {0};
    struct sched_opts so = {0};
    char *journal_dir = NULL;
    int rc = 1;

    if (!d) {
        config_free(cfg);
        return 1;
    }
    d->cfg = cfg;
    d->cur = daemon_gen_new(d, cfg);
    if (!d->cur) {
        config_free(cfg);
        free(d);
        return 1;
    }
    if (o)
        d->opts = *o;
    if (cfg->path && !(d->cfg_path = strdup(cfg->path)))
        goto out_free;
    d->total_min_us = -1;
    /* glibc raises its mmap threshold each time a large block is freed; from then on the large,
     * short-lived buffers (the dashboard's row snapshot, the RRD writer's jobs) come from the
     * heap and stay there as fragmentation: RSS grew 120 MiB an hour in the soak (bench
     * scenario 6). A fixed threshold keeps them mapped and unmapped at free: RSS flat. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    /* A write past a file-size limit must fail (and be retried), not kill the process; a peer
     * closing a socket must not either. */
    signal(SIGXFSZ, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    d->live = live_new(cfg);
    if (!d->live)
        goto out_free;
    if (uv_loop_init(&d->loop) != 0)
        goto out_free;
    d->httpc = httpc_new(&d->loop);
    ro.dir = cfg->rrd_dir;
    ro.flush_ms = cfg->rrd_flush_ms;
    ro.max_queued = (size_t)cfg->rrd_queue_max;
    ro.full_s = cfg->rrd_full_ms / 1000;
    ro.medium_s = cfg->rrd_medium_ms / 1000;
    ro.hourly_s = cfg->rrd_hourly_ms / 1000;
    ro.daily_s = cfg->rrd_daily_ms / 1000;
    ro.daemon = cfg->rrdcached;
    ro.close_ms = cfg->rrd_close_ms;
    /* Through a remote rrdcached, rrd_dir is on its host: the journal goes beside the alert
     * state, on this one. */
    if (cfg->rrdcached && strncmp(cfg->rrdcached, "unix:", 5) != 0 && cfg->rrdcached[0] != '/') {
        const char *slash = strrchr(cfg->alert_state_file, '/');

        journal_dir = slash
                          ? strndup(cfg->alert_state_file, (size_t)(slash - cfg->alert_state_file))
                          : strdup(".");
        if (!journal_dir)
            goto out_free;
        ro.journal_dir = journal_dir;
    }
    /* Readers (graphs, reports, the criterion job) flush a file through rrdcached before
     * reading it: librrd's rrd_graph and rrdc_flush_if_daemon take the address from here. Set
     * before any thread starts. */
    if (cfg->rrdcached)
        setenv("RRDCACHED_ADDRESS", cfg->rrdcached, 1);
    daemon_sched_opts(d, cfg, &so);
    if (d->httpc && notify_new(&d->loop, d->httpc, cfg, cfg->spool_dir, &d->notify) < 0)
        d->notify = NULL;
    d->rrdw = d->notify ? rrdw_new(&d->loop, &ro) : NULL;
    d->alerting = d->rrdw ? alerting_new(&d->loop, cfg, on_alert_send, d) : NULL;
    if (d->alerting) {
        alerting_hold_state(d->alerting, notify_spooling_cb, d);
        alerting_overload(d->alerting, 1, ""); /* not shedding yet, whatever the state says */
    }
    d->sched = d->alerting ? sched_new(&d->loop, d->httpc, cfg, &so, daemon_on_sample, d) : NULL;
    if (!d->sched) {
        /* Partial start-up: close what was opened, so that the loop closes cleanly. */
        log_err("cannot start: out of memory");
        if (d->alerting)
            alerting_close(d->alerting, NULL, NULL);
        if (d->rrdw)
            rrdw_close(d->rrdw, NULL, NULL, NULL);
        if (d->notify)
            notify_close(d->notify, NULL, NULL);
        if (d->httpc)
            httpc_close(d->httpc, NULL, NULL);
        uv_run(&d->loop, UV_RUN_DEFAULT);
        uv_loop_close(&d->loop);
        goto out_free;
    }
    uv_signal_init(&d->loop, &d->sigint);
    uv_signal_init(&d->loop, &d->sigterm);
    uv_signal_init(&d->loop, &d->sighup);
    uv_timer_init(&d->loop, &d->stats_timer);
    uv_timer_init(&d->loop, &d->stop_timer);
    uv_timer_init(&d->loop, &d->status_timer);
    uv_timer_init(&d->loop, &d->watchdog_timer);
    d->sigint.data = d->sigterm.data = d->sighup.data = d->stats_timer.data = d;
    d->stop_timer.data = d;
    d->status_timer.data = d->watchdog_timer.data = d;
    uv_timer_init(&d->loop, &d->dash_timer);
    d->dash_timer.data = d;
    d->handles_open = 8;
    uv_signal_start(&d->sigint, on_signal, SIGINT);
    uv_signal_start(&d->sigterm, on_signal, SIGTERM);
    uv_signal_start(&d->sighup, on_sighup, SIGHUP);
    uv_timer_start(&d->stats_timer, on_stats_timer, STATS_PERIOD_MS, STATS_PERIOD_MS);
    if (d->opts.duration_ms)
        uv_timer_start(&d->stop_timer, on_stop_timer, d->opts.duration_ms, 0);

    d->t0 = d->last_status_ns = uv_hrtime();
    sched_start(d->sched);
    /* Graphs read the RRD files on the thread pool; a failure to start them is not fatal. */
    daemon_graph_begin(d);
    report_schedule(d);
    uv_timer_start(&d->status_timer, on_status_timer, STATUS_PERIOD_MS, STATUS_PERIOD_MS);
    {
        uint64_t wd_us = 0;

        /* Half the period systemd gives (WATCHDOG_USEC), as sd_watchdog_enabled(3) advises. */
        if (sd_watchdog_enabled(0, &wd_us) > 0 && wd_us >= 2000) {
            uv_timer_start(&d->watchdog_timer, on_watchdog_timer, 0, wd_us / 2000);
            log_info("watchdog every %llu ms", (unsigned long long)(wd_us / 2000));
        }
    }
    sd_notifyf(0, "READY=1\nSTATUS=%zu probes, started", cfg->nprobes);
    log_info("running %zu probes, RRD files in %s", cfg->nprobes, cfg->rrd_dir);
    daemon_log_insecure(cfg);
    uv_run(&d->loop, UV_RUN_DEFAULT);
    if (d->handles_open != 0 || uv_loop_close(&d->loop) != 0) {
        log_err("event loop did not close cleanly");
        goto out_free;
    }
    log_info("stopped: %llu checks, %llu missed, %llu RRD samples written",
             (unsigned long long)d->sched_base.completed, (unsigned long long)d->sched_base.missed,
             (unsigned long long)d->final_rrdw.written);
    rc = 0;
    if (d->opts.stats_path && write_stats(d, d->opts.stats_path) != 0)
        rc = 1;
out_free:
    free(journal_dir);
    live_free(d->live);
    free(d->cfg_path);
    while (d->gens) {
        struct gen *g = d->gens;

        d->gens = g->next;
        config_free(g->cfg);
        free(g);
    }
    free(d);
    return rc;
}
