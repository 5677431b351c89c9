/* alerting — the alert engine's timers and disk work. See alerting.h. */
#include "alert/alerting.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/container.h"
#include "base/fsx.h"
#include "base/log.h"
#include "base/worker.h"
#include "store/rrdq.h"

#define TICK_MS 1000
#define STATE_PERIOD_MS 2000 /* a changed state is written at most this often */
#define HOLD_RETRY_MS 20     /* held by alerting_hold_state: looked at again this soon */

enum job_kind { JOB_NONE, JOB_STATE, JOB_CRITERION };

struct alerting {
    uv_loop_t *loop;
    const struct config *c;
    struct alert *a;
    alert_send_fn send;
    void *send_arg;
    uv_timer_t tick;
    uv_work_t work;
    enum job_kind job;          /* the job in flight */
    char *state_text;           /* JOB_STATE: the document to write (owned by the job) */
    int state_err;              /* JOB_STATE: 0 or -errno */
    bool state_failing;         /* the last write failed: logged once until it works again */
    double *avail;              /* JOB_CRITERION: per probe of job_c, NAN unknown */
    double *next_avail;         /* sized for c, while the job reads a replaced configuration */
    const struct config *job_c; /* the configuration the job in flight reads (c, or the one
                                   a reload replaced: released when the job ends) */
    void (*released)(void *arg, const struct config *old);
    void *released_arg;
    uint64_t last_state_ms; /* loop time of the last state write */
    uint64_t next_criterion_ms;
    bool closing;
    void (*close_cb)(void *arg);
    void *close_arg;
    bool (*hold)(void *arg); /* alerting_hold_state */
    void *hold_arg;
    int64_t wall_anchor_ms;  /* the wall clock at start... */
    uint64_t mono_anchor_ns; /* ... and the monotonic one */
};

/* The engine's clock: the wall clock read once at start, then advanced by the monotonic clock,
 * like the scheduler's. Its durations (group_wait, repeat, confirmation windows) must not
 * stretch or shrink when the wall clock is stepped: a step back of an hour would hold a pending
 * page an hour, a step forward would repeat pages at once. Timestamps in notifications and in
 * the state file are on this clock (the wall clock as it was at start, plus elapsed time). */
static int64_t wall_ms(const struct alerting *al)
{
    return al->wall_anchor_ms + (int64_t)((uv_hrtime() - al->mono_anchor_ns) / 1000000);
}

/* ---- the state file ---- */

static void load_state(struct alerting *al)
{
    const char *path = al->c->alert_state_file;
    json_error_t je;
    json_t *st;
    char bad[4096];
    int err;

    err = fsx_mkdir_parent(path, 0750);
    if (err < 0)
        log_err("cannot create the directory of the alert state %s: %s", path, strerror(-err));
    if (access(path, F_OK) != 0)
        return;
    st = json_load_file(path, 0, &je);
    if (st && alert_state_load(al->a, st, wall_ms(al)) == 0) {
        log_info("alert state restored from %s", path);
        json_decref(st);
        return;
    }
    json_decref(st);
    snprintf(bad, sizeof(bad), "%s.bad", path);
    if (rename(path, bad) == 0)
        log_err("alert state %s unreadable (%s), moved to %s; starting afresh", path,
                st ? "not an alert state" : je.text, bad);
    else
        log_err("alert state %s unreadable (%s) and cannot be moved aside: %s", path,
                st ? "not an alert state" : je.text, strerror(errno));
}

/* ---- jobs on the thread pool ---- */

static void work_run(uv_work_t *w)
{
    struct alerting *al = container_of(w, struct alerting, work);
    const struct config *c = al->job_c;

    worker_nice();
    if (al->job == JOB_STATE) {
        al->state_err = fsx_write_file(c->alert_state_file, al->state_text, strlen(al->state_text),
                                       0600, FSX_DURABLE);
        return;
    }
    for (size_t i = 0; i < c->nprobes; i++) {
        const struct probe *p = &c->probes[i];
        struct rrdq_summary s;

        al->avail[i] = NAN;
        if (!p->alert_enabled)
            continue;
        if (rrdq_summary(c->rrd_dir, p->id, 0, (time_t)(p->avail_window_ms / 1000), &s, NULL, 0) ==
                0 &&
            s.samples > 0)
            al->avail[i] = s.availability;
    }
}

static void maybe_start_job(struct alerting *al);
static void finish_close(struct alerting *al);
static void on_tick(uv_timer_t *t);

static void work_done(uv_work_t *w, int status)
{
    struct alerting *al = container_of(w, struct alerting, work);
    enum job_kind job = al->job;
    const struct config *jc = al->job_c;

    al->job = JOB_NONE;
    al->job_c = NULL;
    if (job == JOB_STATE) {
        free(al->state_text);
        al->state_text = NULL;
        if (al->state_err < 0 && !al->state_failing)
            log_err("cannot write the alert state to %s: %s (kept in memory, retrying)",
                    jc->alert_state_file, strerror(-al->state_err));
        else if (al->state_err == 0 && al->state_failing)
            log_notice("alert state written to %s again", jc->alert_state_file);
        al->state_failing = al->state_err < 0;
    } else if (job == JOB_CRITERION && status == 0) {
        int64_t now = wall_ms(al);

        /* Probes by id: a reload may have replaced the configuration the job read. */
        for (size_t i = 0; i < jc->nprobes; i++) {
            const struct probe *p =
                jc == al->c ? &jc->probes[i] : config_find(al->c, jc->probes[i].id);

            if (p)
                alert_availability(al->a, (size_t)(p - al->c->probes), al->avail[i], now);
        }
    }
    if (jc != al->c) {
        /* the job's configuration was replaced by a reload, and its per-probe array */
        free(al->avail);
        al->avail = al->next_avail;
        al->next_avail = NULL;
        if (al->released)
            al->released(al->released_arg, jc);
    }
    if (al->closing)
        finish_close(al);
    else
        maybe_start_job(al);
}

static void start_state_job(struct alerting *al)
{
    json_t *st = alert_state_save(al->a);

    al->state_text = st ? json_dumps(st, JSON_COMPACT) : NULL;
    json_decref(st);
    if (!al->state_text) {
        log_err("alert state: out of memory");
        return;
    }
    al->job = JOB_STATE;
    al->job_c = al->c;
    al->last_state_ms = uv_now(al->loop);
    uv_queue_work(al->loop, &al->work, work_run, work_done);
}

static void maybe_start_job(struct alerting *al)
{
    uint64_t now = uv_now(al->loop);

    if (al->job != JOB_NONE)
        return;
    if (alert_dirty(al->a) && (al->closing || now - al->last_state_ms >= STATE_PERIOD_MS)) {
        /* A notification the state calls sent is being spooled: write the state right after
         * it (the sooner, the shorter the window where a crash sends it twice), not a tick
         * later, and start nothing that would delay it. */
        if (!al->closing && al->hold && al->hold(al->hold_arg)) {
            uv_timer_start(&al->tick, on_tick, HOLD_RETRY_MS, TICK_MS);
            return;
        }
        start_state_job(al);
    } else if (!al->closing && now >= al->next_criterion_ms) {
        al->next_criterion_ms = now + al->c->criterion_every_ms;
        al->job = JOB_CRITERION;
        al->job_c = al->c;
        uv_queue_work(al->loop, &al->work, work_run, work_done);
    }
}

static void on_tick(uv_timer_t *t)
{
    struct alerting *al = container_of(t, struct alerting, tick);

    alert_tick(al->a, wall_ms(al));
    maybe_start_job(al);
}

/* ---- lifecycle ---- */

struct alerting *alerting_new(uv_loop_t *loop, const struct config *c, alert_send_fn send,
                              void *arg)
{
    struct alerting *al = calloc(1, sizeof(*al));

    if (!al)
        return NULL;
    al->loop = loop;
    al->c = c;
    al->send = send;
    al->send_arg = arg;
    {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        al->mono_anchor_ns = uv_hrtime();
        al->wall_anchor_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }
    al->a = alert_new(c, send, arg);
    al->avail = calloc(c->nprobes ? c->nprobes : 1, sizeof(*al->avail));
    if (!al->a || !al->avail) {
        alert_free(al->a);
        free(al->avail);
        free(al);
        return NULL;
    }
    load_state(al);
    /* The first reading after one period, like the next ones: a restart does not re-read every
     * file at once. */
    al->next_criterion_ms = uv_now(loop) + c->criterion_every_ms;
    uv_timer_init(loop, &al->tick);
    uv_timer_start(&al->tick, on_tick, TICK_MS, TICK_MS);
    uv_unref((uv_handle_t *)&al->tick);
    return al;
}

void alerting_hold_state(struct alerting *al, bool (*hold)(void *arg), void *arg)
{
    al->hold = hold;
    al->hold_arg = arg;
}

bool alerting_result(struct alerting *al, size_t i, const struct result *r, bool flagged)
{
    return alert_result(al->a, i, r, flagged, wall_ms(al));
}

void alerting_overload(struct alerting *al, unsigned factor, const char *cause)
{
    alert_overload(al->a, factor, cause, wall_ms(al));
}

uint64_t alerting_recheck_ms(const struct alerting *al, size_t i)
{
    uint64_t ms = al->c->probes[i].recheck_ms;

    return ms && alert_confirming(al->a, i) ? ms : 0;
}

int alerting_reload(struct alerting *al, const struct config *c,
                    void (*released)(void *arg, const struct config *old), void *arg)
{
    const struct config *old = al->c;
    int64_t now = wall_ms(al);
    double *avail = calloc(c->nprobes ? c->nprobes : 1, sizeof(*avail));
    struct alert *a = alert_new(c, al->send, al->send_arg);
    json_t *st;

    if (!avail || !a) {
        free(avail);
        alert_free(a);
        return -ENOMEM;
    }
    /* What waits for the grouping window goes now: the state below does not carry it. */
    alert_flush(al->a, now);
    st = alert_state_save(al->a);
    if (!st || alert_state_load(a, st, now) != 0) {
        json_decref(st);
        free(avail);
        alert_free(a);
        return -ENOMEM;
    }
    json_decref(st);
    alert_free(al->a);
    al->a = a;
    al->c = c;
    al->released = released;
    al->released_arg = arg;
    if (al->job == JOB_NONE) {
        free(al->avail);
        al->avail = avail;
        if (released)
            released(arg, old);
    } else {
        /* The job in flight reads job_c and fills al->avail: both stay until it ends
         * (work_done). A configuration in between (two reloads during one job) is not used. */
        free(al->next_avail);
        al->next_avail = avail;
        if (al->job_c != old && released)
            released(arg, old);
    }
    maybe_start_job(al); /* the state of the new configuration is written */
    return 0;
}

void alerting_stats(const struct alerting *al, struct alert_stats *out)
{
    alert_stats(al->a, out);
}

static void on_tick_closed(uv_handle_t *h)
{
    struct alerting *al = container_of((uv_timer_t *)h, struct alerting, tick);
    void (*cb)(void *) = al->close_cb;
    void *arg = al->close_arg;

    alert_free(al->a);
    free(al->avail);
    free(al->next_avail);
    free(al->state_text);
    free(al);
    if (cb)
        cb(arg);
}

/* Called when no job is in flight: one last state write if needed, then the timer. */
static void finish_close(struct alerting *al)
{
    if (alert_dirty(al->a) && !al->state_failing) {
        start_state_job(al);
        if (al->job != JOB_NONE)
            return;
    }
    uv_close((uv_handle_t *)&al->tick, on_tick_closed);
}

void alerting_close(struct alerting *al, void (*cb)(void *arg), void *arg)
{
    al->closing = true;
    al->close_cb = cb;
    al->close_arg = arg;
    uv_timer_stop(&al->tick);
    alert_flush(al->a, wall_ms(al));
    if (al->job == JOB_NONE)
        finish_close(al);
}
