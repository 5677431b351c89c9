/* sched — when each probe is checked.
 *
 * Every probe runs at its interval, at a stable offset inside the interval derived from its id
 * (so checks spread evenly and keep their phase across restarts: the phase is anchored to the
 * wall clock's multiples of the interval). Due times are absolute on the monotonic clock
 * (next += interval, never drift). A probe whose previous check is still running or still
 * waiting for a slot when its next tick is due does not stack a second check: the tick is
 * reported as missed. Checks in flight are bounded globally and per host; the time spent
 * waiting for a slot is measured apart from the target's latency (curl's clock starts when the
 * transfer starts).
 *
 * The probe measures itself: scheduling lag (start − due) per check, and every 100 ms the loop's
 * lag (how late a timer fires), its busy share (1 − idle/wall, libuv's idle-time metric) and the
 * loop thread's CPU time. A sample is flagged — not counted against the service — when vigie may
 * have distorted it: its own start lag or a loop stall over `saturation_us`, or a lifetime that
 * overlaps a saturated period (the loop busy `busy_max` of the period, or late by `loop_lag_us`,
 * two periods in a row).
 *
 * Overload is vigie's problem, never the sites': when it persists `shed_after_ms` — saturation
 * half of each second, the loop busy, or checks waiting long for a concurrency slot — every probe's
 * interval is stretched by the same factor f (2, 4, … up to `max_factor`): a probe checks only the
 * ticks whose index is ≡ −its stagger (mod f), so phases are kept and the load thins evenly in
 * time; its other ticks are shed (a sample with `shed` set and no check, like a missed tick:
 * unknown in the RRD files, counted neither for nor against the service). After `relax_after_ms` of
 * quiet (the loop under 45 % of busy_max, no saturated period, nothing late) f is halved. Each
 * change is logged and handed to `overload_cb`. */
#ifndef VIGIE_SCHED_H
#define VIGIE_SCHED_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config/config.h"
#include "net/httpc.h"
#include "net/result.h"

struct sched;

/* What one tick of one probe produced. */
struct sched_sample {
    const struct probe *p;
    int64_t due_ms;           /* wall-clock due time, UNIX milliseconds */
    int64_t lag_us;           /* start − due, slot wait included; -1 for a missed tick */
    int64_t wait_us;          /* time spent waiting for a concurrency slot */
    int64_t loop_lag_us;      /* the worst loop lag seen while the check ran */
    bool missed;              /* no check for this tick (previous one still running) */
    bool shed;                /* no check for this tick: vigie is shedding load (factor > 1) */
    bool flagged;             /* vigie was saturated: do not count against the service */
    bool extra;               /* a recheck (sched_recheck), not a tick: for the alert engine
                                 only, never written to the RRD files */
    const struct result *res; /* NULL when missed or shed */
};

typedef void (*sched_sample_cb)(void *arg, const struct sched_sample *s);

/* Why vigie is overloaded (sched_cause_str gives the words). */
enum sched_cause {
    SCHED_CAUSE_NONE,
    SCHED_CAUSE_BUSY,    /* the loop thread has more work than its core gives */
    SCHED_CAUSE_STARVED, /* the loop thread is runnable but another process has the CPU */
    SCHED_CAUSE_BEHIND,  /* checks wait for a concurrency slot past their due time */
    SCHED_CAUSE_N
};

/* "loop busy", "CPU starved", "slots full" ("" for NONE). */
const char *sched_cause_str(enum sched_cause c);

/* The load shedding state, handed to sched_opts.overload_cb at each change of factor. */
struct sched_overload {
    unsigned factor;        /* 1: every tick checked; f: one tick in f */
    enum sched_cause cause; /* what the last overloaded second was (NONE once back to 1) */
    double busy;            /* the loop's busy share over the last second judged (0..1) */
    double cpu;             /* the loop thread's CPU time over that wall time (0..1) */
    int64_t loop_lag_us;    /* the worst loop lag of that second */
};

struct sched_opts {
    uint64_t saturation_us;  /* lag bound for flagging, default 250 ms */
    uint64_t drain_ms;       /* how long sched_close waits for checks in flight, default 10 s */
    double busy_max;         /* a period the loop is busy this share of is saturated: 0.9 */
    uint64_t loop_lag_us;    /* ... or a period whose timer fires this late: 20 ms */
    uint64_t shed_after_ms;  /* overloaded this long: the factor doubles, default 3 s */
    uint64_t relax_after_ms; /* quiet this long: the factor halves, default 30 s */
    unsigned max_factor;     /* the largest factor (rounded down to a power of 2), default 8 */
    /* Called on the loop thread when the factor changes (NULL: nobody is told). Not called for
     * the state a takeover inherits, nor once the scheduler is stopping. */
    void (*overload_cb)(void *arg, const struct sched_overload *o);
    void *overload_arg;
};

/* Lag histogram: bucket i counts lags in [i*100 µs, (i+1)*100 µs) up to 100 ms, then a
 * coarse tail. Used for percentiles in stats and benches. */
#define SCHED_LAG_FINE 1000
#define SCHED_LAG_COARSE 600 /* 100 ms steps up to 60 s */

struct sched_stats {
    uint64_t started;      /* checks started */
    uint64_t completed;    /* checks completed */
    uint64_t missed;       /* ticks missed */
    uint64_t flagged;      /* samples flagged */
    uint64_t rechecks;     /* extra checks started by sched_recheck (also counted in started) */
    uint64_t promoted;     /* rechecks still running at their probe's tick, taken as its sample */
    uint64_t shed;         /* ticks shed (no check: vigie overloaded), not counted in missed */
    uint64_t saturated_ms; /* wall time of the saturated 100 ms periods */
    unsigned factor;       /* the shedding factor now (1: none) */
    unsigned factor_max;   /* the largest it reached */
    double busy;           /* the loop's busy share over the last second judged */
    double cpu;            /* the loop thread's CPU share over that second */
    uint64_t in_flight;
    uint64_t in_flight_max; /* the most checks in flight at once */
    uint64_t waiting;       /* checks waiting for a slot */
    int64_t lag_max_us;
    int64_t loop_lag_max_us;
    uint64_t lag_fine[SCHED_LAG_FINE];
    uint64_t lag_coarse[SCHED_LAG_COARSE];
};

/* Creates the scheduler for every probe of cfg. cfg, h must outlive it. `cb` receives every
 * sample (completed, missed or shed) on the loop thread. Enables libuv's idle-time metric on
 * `loop` (UV_METRICS_IDLE_TIME; best before the loop first runs: idle time is counted from
 * then on). NULL on failure. */
struct sched *sched_new(uv_loop_t *loop, struct httpc *h, const struct config *cfg,
                        const struct sched_opts *o, sched_sample_cb cb, void *arg);

/* Computes the first due times and starts ticking. */
int sched_start(struct sched *s);

/* A reload: `s` (new, not started) takes over from `prev` (running) and starts ticking. A probe
 * of prev with the same id and interval keeps its next due time and the wall-clock anchor (its
 * RRD samples continue without a gap or a repeat), and its check waiting for a slot moves to s;
 * other probes start at their phase. prev stops ticking at once: its waiting checks that s did
 * not take are reported missed, its checks in flight run to their end (their samples still come
 * through prev's callback, with prev's probes); then prev frees itself, fills `final` (may be
 * NULL) and calls cb. The concurrency bounds are per scheduler: while prev drains, its checks do
 * not count against s's. The shedding state (factor, how long overloaded or quiet) carries over:
 * a reload neither ends an overload nor starts one. */
int sched_takeover(struct sched *s, struct sched *prev, struct sched_stats *final,
                   void (*cb)(void *arg), void *arg);

/* Stops ticking; waits for the checks in flight (at most drain_ms, then aborts them: their ticks
 * are reported missed), then frees the scheduler and calls cb. Samples of checks completed during
 * the drain are still delivered. When `final` is not NULL it receives the last statistics. */
void sched_close(struct sched *s, struct sched_stats *final, void (*cb)(void *arg), void *arg);

void sched_stats(const struct sched *s, struct sched_stats *out);

/* Asks for one extra check of probe `p` (one of the config's probes) in `delay_ms`: a recheck
 * while an alert is being confirmed (docs/ALERTING.md, `alert.recheck`). Its sample comes with
 * `extra` set: it is for the alert engine, not a tick's sample (not for the RRD files).
 *
 * The regular ticks keep their phase and are never missed because of a recheck: a recheck is
 * only scheduled when it is due before the probe's next tick, and a recheck still running (or
 * waiting for a slot) when that tick is due is taken as the tick's sample (`extra` clear, the
 * tick's due time, lag 0) instead of stacking a second check. So a probe never has more than
 * one check in flight, and each tick yields exactly one sample.
 *
 * Returns 0 when scheduled; -EAGAIN while shedding load (factor > 1: no extra checks on an
 * overloaded vigie); -EBUSY when a check of p is running or waiting; -EALREADY when a recheck of
 * p is already pending; -ERANGE when the next tick is due no later than the recheck would be
 * (the tick will do); -ECANCELED while stopping; -EINVAL for a probe not of the config. */
int sched_recheck(struct sched *s, const struct probe *p, uint64_t delay_ms);

/* How far behind the schedule is now: the age of the oldest due tick not yet handled, in
 * microseconds (0 when on time). The watchdog stops while this grows. */
int64_t sched_behind_us(const struct sched *s);

/* The shedding state now (factor, cause, the last second's measures). */
void sched_overload(const struct sched *s, struct sched_overload *out);

/* The lag at quantile q (0..1) from a stats histogram, in microseconds. */
int64_t sched_lag_quantile(const struct sched_stats *st, double q);

/* The stable offset of a probe inside its interval, in milliseconds (exported for tests). */
uint64_t sched_offset_ms(const char *id, uint64_t interval_ms);

#endif
