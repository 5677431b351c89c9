/* sched — the probe's clock.
 *
 * Each probe owns a `slot`: its next due time on the monotonic clock (nanoseconds, from
 * uv_hrtime) and whether a check of it is running or waiting. Slots sit in a binary min-heap
 * ordered by due time; a single uv_timer_t is armed for the earliest one. When it fires we pop
 * every slot that is due, start (or queue, or mark missed) its check, advance its due time by
 * exactly one interval and push it back. Nothing ever waits: a check's completion comes back
 * through check.c's callback, which releases its concurrency slot and starts the next waiting
 * check.
 *
 * Phase. The offset of a probe inside its interval is a hash of its id. To keep that phase
 * across restarts the first due time is the next wall-clock instant t with
 * t ≡ offset (mod interval); it is converted once to the monotonic clock, and from then on
 * only the monotonic clock is used (a wall-clock step does not move the schedule). Wall-clock due
 * times handed to the RRD writer are derived from the monotonic ones through the anchor taken at
 * start, so they are strictly increasing per probe.
 *
 * Concurrency. A check starts only if fewer than cfg->concurrency checks are in flight and
 * fewer than cfg->per_host on its host; otherwise it waits in a FIFO. The time it waited is
 * reported apart (wait_us) and is not part of the measured latency: curl's clock starts when
 * the transfer does.
 *
 * Rechecks. sched_recheck asks for one extra check of a probe before its next tick (the alert
 * engine confirming a failure or a recovery). The slot then waits in the heap for the earlier of
 * its recheck time and its due time; the extra check runs like any other (same bounds, same
 * FIFO) but its sample is marked `extra` and the tick schedule is untouched: `due` still steps
 * by exactly one interval. A recheck still in flight when the tick is due is promoted to be
 * that tick's check (one check in flight per probe, one sample per tick, nothing missed).
 *
 * Self-measurement. A 100 ms repeating timer measures how late the loop runs it (loop lag). A
 * check is flagged when its own start lag or the loop lag while it ran exceeds the saturation
 * bound: its timings may hold vigie's delay, not the service's.
 *
 * That bound (250 ms) catches stalls, not saturation: a loop with more work than its core can do
 * runs short iterations, each taking at most the 1024 events epoll hands it, so its timers fire
 * nearly on time while every socket waits many iterations for its turn — timings swell, timeouts
 * fire, and nothing is over 250 ms. So the same timer also measures, over each period, the loop's
 * busy share (1 − idle/wall, idle being the time libuv spent blocked in epoll_wait:
 * UV_METRICS_IDLE_TIME) and the loop thread's CPU time (CLOCK_THREAD_CPUTIME_ID). A period is
 * saturated when it and the one before it were each
 *   - at least 90 % busy (busy_max): the margin a loop needs to absorb the bursts of a spread
 *     schedule (a burst of due checks, a completion storm) without queueing them; measured:
 *     8,000 checks/s keep this loop 84 % busy and on time (docs/BENCH.md), past 90 % the lag
 *     percentiles climb; or
 *   - late by 20 ms or more (loop_lag): a check needs about five loop round trips (resolve,
 *     connect, TLS, request, response), so a lag L can put up to ~5 L of vigie's own delay into
 *     its total; 20 ms keeps that near 100 ms, an eighth of the default `slow` (800 ms). This
 *     is what a thread starved of CPU by another process shows (it is woken late).
 * Two periods in a row, because one alone is a hiccup (a reload's swap, a page fault burst)
 * whose effect on a check is at most one period, and a longer stall is the 250 ms rule's. Once
 * saturated, the loop stays so until a period is clearly under the bounds (busy under
 * busy_max − 10 points and lag under half its bound): near the bound the measure wobbles (a
 * period at 89 % in the middle of a 95 % load, measured on a contended machine). A check
 * is flagged when its lifetime overlaps a saturated period: the scheduler counts saturated
 * periods (sat_epoch); a check notes the count when it starts and is flagged when it differs at
 * its end, or when the last period judged was saturated (a check shorter than a period, inside a
 * saturation). One store and two compares per check, no system call: the measurements are the
 * timer's, ten a second.
 *
 * Shedding. Flagging keeps a saturated vigie from paging, but a vigie that stays saturated
 * measures nothing. So each second is judged: overloaded when at least half of it was saturated
 * or the loop stalled past the saturation bound in it, the loop being busy at least half of
 * busy_max over the second (cause: the loop busy, or — its thread getting less than half the CPU
 * time it was not idle — starved of CPU; a loop that lags while mostly idle is starved by other
 * processes, and thinning its little work would not help: its samples are flagged, nothing is
 * shed); or else when checks waited for a global slot longer than the saturation bound, or
 * ticks were missed while their probe's previous check still waited for one (cause: slots full;
 * waits for the per-host bound do not count, a slow host must not thin every probe). After
 * shed_after of overloaded seconds the factor f doubles (up to max_factor), and again after
 * each further shed_after; after relax_after of quiet seconds it halves. Quiet is the loop under
 * 45 % of busy_max (so that doubling the load back lands under 90 % of the bound), no period
 * saturated (a lone hiccup over the lag bound is not saturation), nothing late; a second in
 * between holds f. While f > 1 a
 * probe checks only the ticks with (k + stagger) ≡ 0 (mod f), k being the tick's index on the
 * wall clock (due / interval: the same for a probe across restarts and reloads) and stagger a
 * hash of its id: the probes of one interval check on different ticks, so the load thins evenly
 * in time instead of coming in bursts; f being a power of two, the ticks kept at 2f are a subset
 * of those kept at f (a change of f moves no probe off its phase). The others are shed: one
 * sample each (shed, no result) so that the writer records them as unknown, like a missed
 * tick. One test of the tick's index per tick; nothing per check.
 */
#include "probe/sched.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/container.h"
#include "base/fnv.h"
#include "base/heap.h"
#include "base/log.h"
#include "net/url.h"
#include "probe/check.h"

#define LAG_PERIOD_MS 100

struct slot {
    struct sched *s;
    const struct probe *p;
    uint64_t due;     /* next due time, uv_hrtime() ns */
    uint64_t cur_due; /* due time of the check running or waiting */
    uint64_t recheck; /* a pending recheck's time (< due), 0 none */
    uint64_t queued_at;
    uint64_t started_at;
    uint64_t stall_mark; /* s->stalls when the check started */
    uint64_t sat_mark;   /* s->sat_epoch when the check started */
    int64_t loop_lag_at_start;
    size_t host; /* index into s->hosts */
    size_t heap; /* position in s->heap */
    struct slot *next_wait;
    uint64_t k;          /* the index of `due`: its wall-clock due time / interval */
    uint64_t miss_first; /* ticks missed while a check runs or waits: reported after it, */
    uint64_t miss_k;     /* (the first one's index) */
    uint32_t miss_n;     /* so that samples reach the writer in due-time order */
    uint32_t stagger;    /* which ticks it keeps while shedding: (k + stagger) % factor == 0 */
    bool running;
    bool waiting;
    bool host_bound; /* waiting only because its host had per_host checks in flight */
    bool extra;      /* the check running or waiting is a recheck */
};

struct host {
    char *name;
    size_t in_flight;
};

struct sched {
    uv_loop_t *loop;
    struct httpc *httpc;
    const struct config *cfg;
    sched_sample_cb cb;
    void *cb_arg;
    struct sched_opts opts;
    struct slot *slots;
    size_t nslots;
    struct slot **heap;
    size_t nheap;
    struct host *hosts;
    size_t nhosts;
    struct slot *wait_head, *wait_tail;
    size_t in_flight;
    uv_timer_t tick;
    uv_timer_t lag_timer;
    uv_timer_t drain_timer;
    uint64_t lag_expected; /* uv_hrtime() at which lag_timer should fire */
    int64_t loop_lag_us;   /* last measured */
    uint64_t stalls;       /* count of lag measurements over the bound */
    /* saturation, measured by on_lag over each period */
    uint64_t per_at;    /* uv_hrtime() of the period's start */
    uint64_t per_idle;  /* uv_metrics_idle_time() then */
    uint64_t per_cpu;   /* the loop thread's CPU time then, ns */
    bool per_over;      /* the last period was over a bound (busy or lag) */
    bool saturated;     /* ... and the one before it too: the last period judged saturated */
    double per_busy;    /* the last period's busy share */
    uint64_t sat_epoch; /* saturated periods so far */
    uint64_t sec_wall, sec_idle, sec_cpu; /* the periods of the second being summed up */
    uint64_t sec_sat;                     /* ... how long of it was saturated, ns */
    int64_t sec_lag_max;                  /* ... its worst loop lag, µs */
    uint64_t sec_late; /* ... checks that waited long for a slot, ticks missed waiting for one */
    /* shedding */
    unsigned factor;            /* 1, 2, 4, ... max_factor */
    enum sched_cause cause;     /* the last overloaded second's */
    uint64_t over_ns;           /* overloaded seconds in a row, their wall time */
    uint64_t quiet_ns;          /* quiet seconds in a row */
    bool max_said;              /* "still overloaded at the maximum factor" logged */
    struct sched_overload last; /* the last second judged */
    int64_t wall_anchor_ms;
    uint64_t mono_anchor;
    uint64_t flag_log_next;  /* rate limit of the "flagged" warning */
    uint64_t flag_log_quiet; /* flagged samples not logged since */
    uint64_t stall_log_next;
    uint64_t stall_log_quiet;
    unsigned handles_open;
    bool stopping;
    void (*stop_cb)(void *arg);
    void *stop_arg;
    struct sched_stats *stop_stats;
    struct sched_stats st;
};

static const char *const cause_words[SCHED_CAUSE_N] = {
    [SCHED_CAUSE_NONE] = "",
    [SCHED_CAUSE_BUSY] = "loop busy",
    [SCHED_CAUSE_STARVED] = "CPU starved",
    [SCHED_CAUSE_BEHIND] = "slots full",
};

const char *sched_cause_str(enum sched_cause c)
{
    return c >= 0 && c < SCHED_CAUSE_N ? cause_words[c] : "";
}

/* Which ticks a probe keeps while shedding: from its id, apart from its offset's hash. */
static uint32_t stagger_of(const char *id)
{
    uint64_t h = fnv1a_str(0x9e3779b97f4a7c15ULL, id);

    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return (uint32_t)h;
}

uint64_t sched_offset_ms(const char *id, uint64_t interval_ms)
{
    /* FNV-1a from its own seed (not FNV_OFFSET: phases must not move between versions), then a
     * final mix so close ids spread */
    uint64_t h = fnv1a_str(1469598103934665603ULL, id);

    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return interval_ms ? h % interval_ms : 0;
}

/* ---- heap ---- */

#define NOT_IN_HEAP SIZE_MAX

/* When the slot next needs the timer: its recheck, which is always before its tick. */
static uint64_t slot_at(const struct slot *sl)
{
    return sl->recheck ? sl->recheck : sl->due;
}

#define SLOT_LESS(a, b) (slot_at(*(a)) < slot_at(*(b)))
#define SLOT_MOVED(h, i) ((h)[i]->heap = (i))
/* cppcheck's cross-function check takes the macro's functions, all on this line, for one another
 * (it reads slots_up's index as slots_push's count pointer). */
/* cppcheck-suppress ctunullpointer */
HEAP_DEFINE(slots, struct slot *, SLOT_LESS, SLOT_MOVED)

static void heap_push(struct sched *s, struct slot *sl)
{
    slots_push(s->heap, &s->nheap, sl);
}

static struct slot *heap_pop(struct sched *s)
{
    struct slot *top = slots_pop(s->heap, &s->nheap);

    top->heap = NOT_IN_HEAP;
    return top;
}

/* ---- samples ---- */

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int64_t wall_ms_of(const struct sched *s, uint64_t mono)
{
    return s->wall_anchor_ms + (int64_t)(mono - s->mono_anchor) / 1000000;
}

static void lag_record(struct sched *s, int64_t lag_us)
{
    if (lag_us < 0)
        lag_us = 0;
    if (lag_us > s->st.lag_max_us)
        s->st.lag_max_us = lag_us;
    if (lag_us < SCHED_LAG_FINE * 100)
        s->st.lag_fine[lag_us / 100]++;
    else if (lag_us / 100000 < SCHED_LAG_COARSE)
        s->st.lag_coarse[lag_us / 100000]++;
    else
        s->st.lag_coarse[SCHED_LAG_COARSE - 1]++;
}

int64_t sched_lag_quantile(const struct sched_stats *st, double q)
{
    uint64_t total = 0, want, seen = 0;

    for (size_t i = 0; i < SCHED_LAG_FINE; i++)
        total += st->lag_fine[i];
    for (size_t i = 0; i < SCHED_LAG_COARSE; i++)
        total += st->lag_coarse[i];
    if (total == 0)
        return 0;
    want = (uint64_t)(q * (double)total);
    if (want >= total)
        want = total - 1;
    for (size_t i = 0; i < SCHED_LAG_FINE; i++) {
        seen += st->lag_fine[i];
        if (seen > want)
            return (int64_t)(i + 1) * 100; /* upper bound of the bucket */
    }
    for (size_t i = 0; i < SCHED_LAG_COARSE; i++) {
        seen += st->lag_coarse[i];
        if (seen > want)
            return (int64_t)(i + 1) * 100000;
    }
    return st->lag_max_us;
}

/* Whether the tick of index k is shed (vigie shedding load, and not one the probe keeps). */
static bool tick_shed(const struct sched *s, const struct slot *sl, uint64_t k)
{
    return s->factor > 1 && ((k + sl->stagger) & (s->factor - 1)) != 0;
}

/* The sample of a tick without a check: missed, or shed (counted apart). */
static void emit_empty(struct sched *s, struct slot *sl, uint64_t due, bool shed)
{
    struct sched_sample smp = {
        .p = sl->p,
        .due_ms = wall_ms_of(s, due),
        .lag_us = -1,
        .missed = !shed,
        .shed = shed,
    };

    if (shed)
        s->st.shed++;
    else
        s->st.missed++;
    s->cb(s->cb_arg, &smp);
}

/* A tick that cannot have its own check. While an earlier check of the probe is still running or
 * waiting, its sample has not been delivered yet: the missed tick is held back and reported right
 * after it, so every probe's samples come out in due-time order (the RRD writer needs strictly
 * increasing timestamps). Held ticks are consecutive, one interval apart. */
static void tick_missed(struct sched *s, struct slot *sl, uint64_t due, uint64_t k)
{
    /* A tick that wanted a check and cannot have one because the previous one still waits for a
     * slot: vigie is behind (not for the per-host bound: politeness towards a slow host is no
     * overload; nor a tick the loop itself passed by, stalled: that is the loop's measure). */
    if (sl->waiting && !sl->host_bound && !tick_shed(s, sl, k))
        s->sec_late++;
    if (sl->running || sl->waiting) {
        if (sl->miss_n++ == 0) {
            sl->miss_first = due;
            sl->miss_k = k;
        }
        return;
    }
    emit_empty(s, sl, due, tick_shed(s, sl, k));
}

/* The ticks held back while a check ran, after its sample: shed or missed by the factor now. */
static void release_missed(struct sched *s, struct slot *sl)
{
    uint64_t iv = sl->p->interval_ms * 1000000;

    for (uint32_t j = 0; j < sl->miss_n; j++)
        emit_empty(s, sl, sl->miss_first + j * iv, tick_shed(s, sl, sl->miss_k + j));
    sl->miss_n = 0;
}

/* ---- starting and finishing checks ---- */

static void on_checked(void *arg, const struct probe *p, const struct result *res);
static void maybe_stopped(struct sched *s);

static bool can_start(const struct sched *s, const struct slot *sl)
{
    return s->in_flight < (size_t)s->cfg->concurrency &&
           s->hosts[sl->host].in_flight < (size_t)s->cfg->per_host;
}

static void start_check(struct sched *s, struct slot *sl, uint64_t now)
{
    int err;

    sl->running = true;
    sl->started_at = now;
    sl->stall_mark = s->stalls;
    sl->sat_mark = s->sat_epoch;
    sl->loop_lag_at_start = s->loop_lag_us;
    s->in_flight++;
    if (s->in_flight > s->st.in_flight_max)
        s->st.in_flight_max = s->in_flight;
    s->hosts[sl->host].in_flight++;
    s->st.started++;
    lag_record(s, (int64_t)(now - sl->cur_due) / 1000);
    err = check_start(s->httpc, s->cfg, sl->p, on_checked, sl);
    if (err) {
        struct result res;

        /* Not the service's fault: an internal failure, flagged (see on_checked). */
        result_internal(&res, "cannot start the check: %s", strerror(-err));
        on_checked(sl, sl->p, &res);
    }
}

static void wait_push(struct sched *s, struct slot *sl, uint64_t now)
{
    sl->waiting = true;
    sl->host_bound = s->in_flight < (size_t)s->cfg->concurrency &&
                     s->hosts[sl->host].in_flight >= (size_t)s->cfg->per_host;
    sl->queued_at = now;
    sl->next_wait = NULL;
    if (s->wait_tail)
        s->wait_tail->next_wait = sl;
    else
        s->wait_head = sl;
    s->wait_tail = sl;
}

/* Starts waiting checks, oldest first, as far as the limits allow. */
static void wait_drain(struct sched *s)
{
    struct slot **pp = &s->wait_head, *prev = NULL;
    uint64_t now;

    if (!s->wait_head || s->stopping)
        return;
    now = uv_hrtime();
    while (*pp && s->in_flight < (size_t)s->cfg->concurrency) {
        struct slot *sl = *pp;

        if (!can_start(s, sl)) {
            prev = sl;
            pp = &sl->next_wait;
            continue;
        }
        *pp = sl->next_wait;
        if (s->wait_tail == sl)
            s->wait_tail = prev;
        sl->waiting = false;
        start_check(s, sl, now);
    }
}

static void on_checked(void *arg, const struct probe *p, const struct result *res)
{
    struct slot *sl = arg;
    struct sched *s = sl->s;
    uint64_t now = uv_hrtime();
    int64_t loop_lag =
        s->loop_lag_us > sl->loop_lag_at_start ? s->loop_lag_us : sl->loop_lag_at_start;
    /* A promoted recheck started before its tick was due: no lag. */
    int64_t lag = sl->started_at > sl->cur_due ? (int64_t)(sl->started_at - sl->cur_due) / 1000 : 0;
    int64_t wait = sl->queued_at ? (int64_t)(sl->started_at - sl->queued_at) / 1000 : 0;
    /* A stall of the loop that on_lag has not seen yet (it runs in the next iteration). */
    int64_t pending = now > s->lag_expected ? (int64_t)(now - s->lag_expected) / 1000 : 0;
    bool aborted = res->aborted;
    bool extra = sl->extra;
    int64_t judged;
    struct sched_sample smp = {
        .p = p,
        .due_ms = wall_ms_of(s, sl->cur_due),
        .lag_us = lag,
        .wait_us = wait,
        .loop_lag_us = loop_lag,
        .extra = extra,
        .res = res,
    };

    sl->running = false;
    sl->extra = false;
    sl->queued_at = 0;
    s->in_flight--;
    s->hosts[sl->host].in_flight--;
    s->st.completed++;
    if (pending > loop_lag)
        loop_lag = smp.loop_lag_us = pending;
    /* Saturated: the check started late because vigie was at capacity, the loop stalled while it
     * ran, or vigie itself could not run it: its figures are vigie's, not the service's. Waiting
     * for the per-host bound is not saturation but politeness towards the host (a site down
     * with many probes must still count as down): that wait is not held against the sample. */
    judged = sl->host_bound ? lag - wait : lag;
    if (judged < 0)
        judged = 0; /* a promoted recheck waited before its tick was due */
    smp.flagged = (uint64_t)judged > s->opts.saturation_us ||
                  (uint64_t)loop_lag > s->opts.saturation_us || sl->stall_mark != s->stalls ||
                  sl->sat_mark != s->sat_epoch || s->saturated || res->outcome == OUTCOME_INTERNAL;
    /* Waited for a global slot past the bound: vigie is behind (a start delayed by the loop
     * itself is the loop's measure, not the slots'). */
    if (!aborted && !sl->host_bound && (uint64_t)wait > s->opts.saturation_us)
        s->sec_late++;
    sl->host_bound = false;
    if (aborted && extra) {
        /* An aborted recheck is no tick of the probe: nothing to report. */
        release_missed(s, sl);
        wait_drain(s);
        if (s->stopping)
            maybe_stopped(s);
        return;
    }
    if (aborted) {
        smp.missed = true;
        smp.res = NULL;
        smp.lag_us = -1;
        s->st.missed++;
    } else if (smp.flagged) {
        s->st.flagged++;
        /* Said once, then at most once a minute with a count: under saturation every sample
         * is flagged and the log must stay readable. */
        if (now >= s->flag_log_next) {
            if (res->outcome == OUTCOME_INTERNAL)
                log_probe(VLOG_WARNING, p->id, p->group, "probe %s: sample flagged: %s", p->id,
                          res->msg);
            else
                log_probe(VLOG_WARNING, p->id, p->group,
                          "probe %s: sample flagged, vigie saturated (start lag %lld ms, loop "
                          "lag %lld ms, loop busy %.0f %%)",
                          p->id, (long long)(lag / 1000), (long long)(loop_lag / 1000),
                          s->per_busy * 100);
            if (s->flag_log_quiet)
                log_warn("%llu more samples flagged in the last minute",
                         (unsigned long long)s->flag_log_quiet);
            s->flag_log_quiet = 0;
            s->flag_log_next = now + 60 * 1000000000ULL;
        } else {
            s->flag_log_quiet++;
        }
    }
    s->cb(s->cb_arg, &smp);
    release_missed(s, sl);
    wait_drain(s);
    if (s->stopping)
        maybe_stopped(s);
}

/* ---- the tick ---- */

static void on_tick(uv_timer_t *t);

static void rearm(struct sched *s)
{
    uint64_t now, ms;

    if (s->stopping || s->nheap == 0)
        return;
    now = uv_hrtime();
    /* uv timers have millisecond resolution: round up so we never wake before the due time. */
    ms = slot_at(s->heap[0]) > now ? (slot_at(s->heap[0]) - now + 999999) / 1000000 : 0;
    uv_timer_start(&s->tick, on_tick, ms, 0);
}

static void on_tick(uv_timer_t *t)
{
    struct sched *s = container_of(t, struct sched, tick);
    uint64_t now;

    uv_update_time(s->loop);
    now = uv_hrtime();
    while (s->nheap > 0 && slot_at(s->heap[0]) <= now) {
        struct slot *sl = heap_pop(s);
        uint64_t interval = sl->p->interval_ms * 1000000;

        if (sl->recheck) {
            /* A recheck is due (always before the tick): an extra check, the tick untouched. */
            uint64_t at = sl->recheck;

            sl->recheck = 0;
            if (!sl->running && !sl->waiting) {
                sl->cur_due = at;
                sl->extra = true;
                s->st.rechecks++;
                if (can_start(s, sl) && !s->wait_head)
                    start_check(s, sl, now);
                else
                    wait_push(s, sl, now);
            }
            heap_push(s, sl);
            continue;
        }
        if ((sl->running || sl->waiting) && sl->extra) {
            /* The recheck is still at it when the tick is due: it is the tick's check. Not
             * stacked, not missed, and the phase is kept (cur_due is the tick's due time). */
            sl->extra = false;
            sl->cur_due = sl->due;
            s->st.promoted++;
        } else if (sl->running || sl->waiting) {
            tick_missed(s, sl, sl->due, sl->k);
        } else if (tick_shed(s, sl, sl->k)) {
            emit_empty(s, sl, sl->due, true);
        } else {
            sl->cur_due = sl->due;
            if (can_start(s, sl) && !s->wait_head)
                start_check(s, sl, now);
            else
                wait_push(s, sl, now);
        }
        sl->due += interval;
        sl->k++;
        /* Fell behind by more than one interval (the loop was stopped, the machine suspended):
         * every tick that passed is missed (or shed), and said so. */
        while (sl->due <= now) {
            tick_missed(s, sl, sl->due, sl->k);
            sl->due += interval;
            sl->k++;
        }
        heap_push(s, sl);
    }
    wait_drain(s);
    rearm(s);
}

/* Starts measuring a period at `now`. */
static void period_begin(struct sched *s, uint64_t now)
{
    s->per_at = now;
    s->per_idle = uv_metrics_idle_time(s->loop);
    s->per_cpu = thread_cpu_ns();
}

/* The factor changed: said once, and handed to overload_cb. */
static void factor_changed(struct sched *s, unsigned was)
{
    const struct sched_overload *o = &s->last;
    unsigned long long quiet_s = s->opts.relax_after_ms / 1000;

    if (s->factor > s->st.factor_max)
        s->st.factor_max = s->factor;
    s->st.factor = s->factor;
    s->last.factor = s->factor;
    s->last.cause = s->cause;
    if (s->factor > was)
        log_warn("vigie overloaded for %llu s (%s: the loop %.0f %% busy, its thread %.0f %% on a "
                 "CPU, lag up to %lld ms): shedding load, each probe checked one tick in %u (was "
                 "%u)",
                 (unsigned long long)(s->opts.shed_after_ms / 1000), sched_cause_str(s->cause),
                 o->busy * 100, o->cpu * 100, (long long)(o->loop_lag_us / 1000), s->factor, was);
    else if (s->factor > 1)
        log_notice("vigie quiet for %llu s (the loop %.0f %% busy): each probe checked one tick in "
                   "%u (was %u)",
                   quiet_s, o->busy * 100, s->factor, was);
    else
        log_notice("vigie quiet for %llu s (the loop %.0f %% busy): every tick checked again, "
                   "shedding over",
                   quiet_s, o->busy * 100);
    if (s->opts.overload_cb)
        s->opts.overload_cb(s->opts.overload_arg, &s->last);
}

/* The second summed up: its busy and CPU shares (the statistics), then whether vigie is
 * overloaded, quiet or in between, and the factor that follows (see the top of this file). */
static void second_end(struct sched *s)
{
    uint64_t wall = s->sec_wall;
    double busy = 1.0 - (double)s->sec_idle / (double)wall, cpu = (double)s->sec_cpu / (double)wall;
    enum sched_cause cause = SCHED_CAUSE_NONE;
    bool quiet;
    unsigned was = s->factor;

    /* The loop first: saturated half of the second, or stalled past the saturation bound (its
     * ticks then come late too, but no slot is to blame), while busy enough that thinning its
     * work helps (a loop that lags while mostly idle is starved by others: its samples are
     * flagged, shedding would change nothing); then the slots. */
    if ((s->sec_sat * 2 >= wall || (uint64_t)s->sec_lag_max > s->opts.saturation_us) &&
        busy >= 0.5 * s->opts.busy_max)
        cause = busy >= s->opts.busy_max - 0.1 && cpu >= 0.5 * busy ? SCHED_CAUSE_BUSY
                                                                    : SCHED_CAUSE_STARVED;
    else if (s->sec_late > 0)
        cause = SCHED_CAUSE_BEHIND;
    quiet = busy < 0.45 * s->opts.busy_max && s->sec_sat == 0 && s->sec_late == 0;
    s->st.busy = s->last.busy = busy;
    s->st.cpu = s->last.cpu = cpu;
    s->last.loop_lag_us = s->sec_lag_max;
    s->sec_wall = s->sec_idle = s->sec_cpu = s->sec_sat = s->sec_late = 0;
    s->sec_lag_max = 0;
    if (s->stopping)
        return; /* a scheduler stopping (or replaced) changes nothing any more */
    if (cause != SCHED_CAUSE_NONE) {
        s->quiet_ns = 0;
        s->over_ns += wall;
        s->cause = cause;
        if (s->over_ns < s->opts.shed_after_ms * 1000000ULL)
            return;
        s->over_ns = 0;
        if (s->factor < s->opts.max_factor) {
            s->factor *= 2;
            factor_changed(s, was);
        } else if (!s->max_said) {
            log_warn("vigie still overloaded (%s) at the largest shedding factor: each probe "
                     "checked one tick in %u",
                     sched_cause_str(cause), s->factor);
            s->max_said = true;
        }
    } else if (quiet) {
        s->over_ns = 0;
        if (s->factor == 1)
            return;
        s->quiet_ns += wall;
        if (s->quiet_ns < s->opts.relax_after_ms * 1000000ULL)
            return;
        s->quiet_ns = 0;
        s->factor /= 2;
        s->max_said = false;
        if (s->factor == 1)
            s->cause = SCHED_CAUSE_NONE;
        factor_changed(s, was);
    } else {
        s->over_ns = 0;
        s->quiet_ns = 0;
    }
}

/* Judges the period that ends at `now` (its timer `lag` µs late): saturated or not. */
static void period_end(struct sched *s, uint64_t now, int64_t lag)
{
    uint64_t idle = uv_metrics_idle_time(s->loop), cpu = thread_cpu_ns();
    uint64_t wall = now > s->per_at ? now - s->per_at : 0;
    uint64_t d_idle = idle > s->per_idle ? idle - s->per_idle : 0;
    uint64_t d_cpu = cpu > s->per_cpu ? cpu - s->per_cpu : 0;
    bool over;

    if (wall == 0)
        return;
    if (d_idle > wall)
        d_idle = wall; /* the idle clock is read apart from ours */
    s->per_busy = 1.0 - (double)d_idle / (double)wall;
    over = s->per_busy >= s->opts.busy_max || (uint64_t)lag >= s->opts.loop_lag_us;
    if (s->saturated)
        s->saturated =
            s->per_busy >= s->opts.busy_max - 0.1 || (uint64_t)lag >= s->opts.loop_lag_us / 2;
    else
        s->saturated = over && s->per_over;
    s->per_over = over;
    if (s->saturated) {
        s->sat_epoch++;
        s->st.saturated_ms += wall / 1000000;
        s->sec_sat += wall;
    }
    if (lag > s->sec_lag_max)
        s->sec_lag_max = lag;
    s->sec_wall += wall;
    s->sec_idle += d_idle;
    s->sec_cpu += d_cpu;
    if (s->sec_wall >= 1000000000ULL)
        second_end(s);
    s->per_at = now;
    s->per_idle = idle;
    s->per_cpu = cpu;
}

static void on_lag(uv_timer_t *t)
{
    struct sched *s = container_of(t, struct sched, lag_timer);
    uint64_t now = uv_hrtime();
    int64_t lag = now > s->lag_expected ? (int64_t)(now - s->lag_expected) / 1000 : 0;

    s->loop_lag_us = lag;
    if (lag > s->st.loop_lag_max_us)
        s->st.loop_lag_max_us = lag;
    if ((uint64_t)lag > s->opts.saturation_us) {
        s->stalls++;
        /* The first stall is said; then at most one summary a minute. */
        if (now >= s->stall_log_next) {
            log_warn("event loop stalled for %lld ms", (long long)(lag / 1000));
            if (s->stall_log_quiet)
                log_warn("%llu more stalls in the last minute",
                         (unsigned long long)s->stall_log_quiet);
            s->stall_log_quiet = 0;
            s->stall_log_next = now + 60 * 1000000000ULL;
        } else {
            s->stall_log_quiet++;
        }
    }
    s->lag_expected = now + LAG_PERIOD_MS * 1000000ULL;
    period_end(s, now, lag);
}

/* ---- lifecycle ---- */

struct host_key {
    char *name;
    size_t slot;
};

static int cmp_host_key(const void *a, const void *b)
{
    return strcmp(((const struct host_key *)a)->name, ((const struct host_key *)b)->name);
}

/* Gives every slot the index of its host (host:port as libcurl parses it). Sorting the names
 * keeps this O(n log n): a fleet of 100,000 probes starts in milliseconds. */
static int hosts_build(struct sched *s)
{
    struct host_key *k = calloc(s->nslots ? s->nslots : 1, sizeof(*k));
    int err = 0;

    if (!k)
        return -ENOMEM;
    for (size_t i = 0; i < s->nslots; i++) {
        k[i].slot = i;
        k[i].name = url_host(s->slots[i].p->url);
        if (!k[i].name)
            err = -ENOMEM;
    }
    if (!err) {
        qsort(k, s->nslots, sizeof(*k), cmp_host_key);
        for (size_t i = 0; i < s->nslots; i++) {
            if (i == 0 || strcmp(k[i].name, s->hosts[s->nhosts - 1].name) != 0) {
                s->hosts[s->nhosts].name = k[i].name;
                s->hosts[s->nhosts++].in_flight = 0;
                k[i].name = NULL; /* owned by s->hosts now */
            }
            s->slots[k[i].slot].host = s->nhosts - 1;
        }
    }
    for (size_t i = 0; i < s->nslots; i++)
        free(k[i].name);
    free(k);
    return err;
}

struct sched *sched_new(uv_loop_t *loop, struct httpc *h, const struct config *cfg,
                        const struct sched_opts *o, sched_sample_cb cb, void *arg)
{
    struct sched *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->loop = loop;
    s->httpc = h;
    s->cfg = cfg;
    s->cb = cb;
    s->cb_arg = arg;
    if (o)
        s->opts = *o;
    if (!s->opts.saturation_us)
        s->opts.saturation_us = 250000;
    if (!s->opts.drain_ms)
        s->opts.drain_ms = 10000;
    if (s->opts.busy_max <= 0)
        s->opts.busy_max = 0.9;
    if (!s->opts.loop_lag_us)
        s->opts.loop_lag_us = 20000;
    if (!s->opts.shed_after_ms)
        s->opts.shed_after_ms = 3000;
    if (!s->opts.relax_after_ms)
        s->opts.relax_after_ms = 30000;
    if (!s->opts.max_factor)
        s->opts.max_factor = 8;
    while (s->opts.max_factor & (s->opts.max_factor - 1))
        s->opts.max_factor &= s->opts.max_factor - 1; /* a power of two */
    s->factor = s->st.factor = s->st.factor_max = s->last.factor = 1;
    s->nslots = cfg->nprobes;
    s->slots = calloc(s->nslots ? s->nslots : 1, sizeof(*s->slots));
    s->heap = calloc(s->nslots ? s->nslots : 1, sizeof(*s->heap));
    s->hosts = calloc(s->nslots ? s->nslots : 1, sizeof(*s->hosts));
    if (!s->slots || !s->heap || !s->hosts)
        goto fail;
    for (size_t i = 0; i < s->nslots; i++) {
        s->slots[i].s = s;
        s->slots[i].p = &cfg->probes[i];
        s->slots[i].heap = NOT_IN_HEAP;
        s->slots[i].stagger = stagger_of(cfg->probes[i].id);
    }
    if (hosts_build(s) != 0)
        goto fail;
    /* The busy share needs libuv's idle time; set again by a reload's scheduler, harmlessly. */
    uv_loop_configure(loop, UV_METRICS_IDLE_TIME);
    uv_timer_init(loop, &s->tick);
    uv_timer_init(loop, &s->lag_timer);
    uv_timer_init(loop, &s->drain_timer);
    s->handles_open = 3;
    return s;
fail:
    for (size_t i = 0; s->hosts && i < s->nhosts; i++)
        free(s->hosts[i].name);
    free(s->hosts);
    free(s->heap);
    free(s->slots);
    free(s);
    return NULL;
}

/* The first due time of a slot: the next wall-clock instant ≡ its offset (mod its interval),
 * strictly after `mono` (now), on the monotonic clock through the scheduler's anchor; and its
 * index. */
static void first_due(const struct sched *s, struct slot *sl, uint64_t mono)
{
    uint64_t iv = sl->p->interval_ms;
    uint64_t off = sched_offset_ms(sl->p->id, iv);
    uint64_t wall_ms = (uint64_t)wall_ms_of(s, mono);
    uint64_t base = wall_ms - wall_ms % iv + off;

    if (base <= wall_ms)
        base += iv;
    sl->due = mono + (base - wall_ms) * 1000000;
    sl->k = base / iv;
}

int sched_start(struct sched *s)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    s->mono_anchor = uv_hrtime();
    s->wall_anchor_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    for (size_t i = 0; i < s->nslots; i++) {
        first_due(s, &s->slots[i], s->mono_anchor);
        heap_push(s, &s->slots[i]);
    }
    s->lag_expected = uv_hrtime() + LAG_PERIOD_MS * 1000000ULL;
    period_begin(s, uv_hrtime());
    uv_timer_start(&s->lag_timer, on_lag, LAG_PERIOD_MS, LAG_PERIOD_MS);
    rearm(s);
    return 0;
}

/* Moves a check of `from` (of prev) that waits for a slot to `to` (of s): same due time, same
 * queueing time, same held missed ticks. */
static void wait_move(struct sched *prev, struct slot *from, struct sched *s, struct slot *to)
{
    struct slot **pp = &prev->wait_head, *before = NULL;

    while (*pp != from) {
        before = *pp;
        pp = &(*pp)->next_wait;
    }
    *pp = from->next_wait;
    if (prev->wait_tail == from)
        prev->wait_tail = before;
    from->waiting = false;
    to->cur_due = from->cur_due;
    to->extra = from->extra; /* a recheck waiting stays one */
    from->extra = false;
    to->miss_first = from->miss_first;
    to->miss_k = from->miss_k;
    to->miss_n = from->miss_n;
    from->miss_n = 0;
    wait_push(s, to, from->queued_at);
    to->host_bound = from->host_bound;
}

int sched_takeover(struct sched *s, struct sched *prev, struct sched_stats *final,
                   void (*cb)(void *arg), void *arg)
{
    uint64_t now = uv_hrtime();

    /* The same anchor: the wall-clock due times handed to the writer continue exactly. */
    s->wall_anchor_ms = prev->wall_anchor_ms;
    s->mono_anchor = prev->mono_anchor;
    for (size_t i = 0; i < s->nslots; i++) {
        struct slot *sl = &s->slots[i];
        const struct probe *op = config_find(prev->cfg, sl->p->id);
        struct slot *ol = op ? &prev->slots[op - prev->cfg->probes] : NULL;

        if (ol && ol->p->interval_ms == sl->p->interval_ms) {
            sl->due = ol->due;
            sl->k = ol->k;
            sl->recheck = ol->recheck; /* a pending recheck too (still before the tick) */
            if (ol->waiting)
                wait_move(prev, ol, s, sl);
        } else {
            first_due(s, sl, now);
        }
        heap_push(s, sl);
    }
    s->lag_expected = now + LAG_PERIOD_MS * 1000000ULL;
    period_begin(s, now);
    /* A saturation in progress goes on under s. */
    s->per_over = prev->per_over;
    s->saturated = prev->saturated;
    s->st.busy = prev->st.busy;
    s->st.cpu = prev->st.cpu;
    /* ... and so does the shedding: a reload is no cure for an overload */
    s->factor = s->st.factor = prev->factor;
    s->st.factor_max = prev->factor;
    s->cause = prev->cause;
    s->over_ns = prev->over_ns;
    s->quiet_ns = prev->quiet_ns;
    s->max_said = prev->max_said;
    s->last = prev->last;
    uv_timer_start(&s->lag_timer, on_lag, LAG_PERIOD_MS, LAG_PERIOD_MS);
    /* prev stops ticking now; its waiting checks that s did not take (probes removed or with a
     * new interval) are missed; its checks in flight end by their own timeout. */
    prev->stopping = true;
    prev->stop_stats = final;
    prev->stop_cb = cb;
    prev->stop_arg = arg;
    uv_timer_stop(&prev->tick);
    while (prev->wait_head) {
        struct slot *sl = prev->wait_head;

        prev->wait_head = sl->next_wait;
        sl->waiting = false;
        if (!sl->extra) /* a recheck is no tick */
            emit_empty(prev, sl, sl->cur_due, false);
        sl->extra = false;
        release_missed(prev, sl);
    }
    prev->wait_tail = NULL;
    maybe_stopped(prev);
    wait_drain(s);
    rearm(s);
    return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct sched *s = h->data;

    if (--s->handles_open > 0)
        return;
    void (*cb)(void *) = s->stop_cb;
    void *arg = s->stop_arg;

    if (s->stop_stats)
        sched_stats(s, s->stop_stats);
    for (size_t i = 0; i < s->nhosts; i++)
        free(s->hosts[i].name);
    free(s->hosts);
    free(s->heap);
    free(s->slots);
    free(s);
    if (cb)
        cb(arg);
}

static void maybe_stopped(struct sched *s)
{
    if (s->in_flight > 0 || uv_is_closing((uv_handle_t *)&s->tick))
        return;
    s->tick.data = s->lag_timer.data = s->drain_timer.data = s;
    uv_close((uv_handle_t *)&s->tick, on_handle_closed);
    uv_close((uv_handle_t *)&s->lag_timer, on_handle_closed);
    uv_close((uv_handle_t *)&s->drain_timer, on_handle_closed);
}

static void on_drain_timeout(uv_timer_t *t)
{
    struct sched *s = container_of(t, struct sched, drain_timer);

    log_warn("%zu checks still running after %llu ms, aborting them", s->in_flight,
             (unsigned long long)s->opts.drain_ms);
    /* Each aborted check comes back through on_checked as a missed tick. */
    httpc_abort_all(s->httpc);
}

void sched_close(struct sched *s, struct sched_stats *final, void (*cb)(void *arg), void *arg)
{
    s->stopping = true;
    s->stop_stats = final;
    s->stop_cb = cb;
    s->stop_arg = arg;
    uv_timer_stop(&s->tick);
    /* The lag timer keeps running during the drain: checks completing then are judged too. */
    /* Checks waiting for a slot never started: their ticks are missed. */
    while (s->wait_head) {
        struct slot *sl = s->wait_head;

        s->wait_head = sl->next_wait;
        sl->waiting = false;
        if (!sl->extra)
            emit_empty(s, sl, sl->cur_due, false);
        sl->extra = false;
        release_missed(s, sl);
    }
    s->wait_tail = NULL;
    if (s->in_flight > 0)
        uv_timer_start(&s->drain_timer, on_drain_timeout, s->opts.drain_ms, 0);
    maybe_stopped(s);
}

int64_t sched_behind_us(const struct sched *s)
{
    uint64_t now = uv_hrtime();

    if (s->nheap == 0 || slot_at(s->heap[0]) >= now)
        return 0;
    return (int64_t)(now - slot_at(s->heap[0])) / 1000;
}

int sched_recheck(struct sched *s, const struct probe *p, uint64_t delay_ms)
{
    uintptr_t a = (uintptr_t)p, lo = (uintptr_t)s->cfg->probes;
    struct slot *sl;
    uint64_t at;

    /* compared as integers: p may point anywhere (a probe of a replaced configuration) */
    if (a < lo || a >= lo + s->nslots * sizeof(*p))
        return -EINVAL;
    if (s->stopping)
        return -ECANCELED;
    if (s->factor > 1)
        return -EAGAIN;
    sl = &s->slots[p - s->cfg->probes];
    if (sl->running || sl->waiting)
        return -EBUSY;
    if (sl->recheck)
        return -EALREADY;
    at = uv_hrtime() + delay_ms * 1000000;
    if (at >= sl->due)
        return -ERANGE;
    sl->recheck = at;
    /* Out of the heap only while on_tick handles it; it is pushed back with its new key. */
    if (sl->heap != NOT_IN_HEAP) {
        slots_up(s->heap, sl->heap);
        if (sl->heap == 0)
            rearm(s);
    }
    return 0;
}

void sched_overload(const struct sched *s, struct sched_overload *out)
{
    *out = s->last;
    out->factor = s->factor;
    out->cause = s->cause;
}

void sched_stats(const struct sched *s, struct sched_stats *out)
{
    *out = s->st;
    out->in_flight = s->in_flight;
    out->waiting = 0;
    for (const struct slot *sl = s->wait_head; sl; sl = sl->next_wait)
        out->waiting++;
}
