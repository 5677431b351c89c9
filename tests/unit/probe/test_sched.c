/* sched: phase, spread, no drift, missed ticks, concurrency bounds, drain — on a real loop with
 * real checks against the loopback test server. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "probe/sched.h"
#include "srvctl.h"
#include "testutil.h"

START_TEST(test_offsets_spread_and_stable)
{
    enum { N = 10000, BINS = 10 };
    unsigned bins[BINS] = {0};
    char id[32];

    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "probe-%d", i);
        uint64_t off = sched_offset_ms(id, 60000);
        ck_assert_uint_lt(off, 60000);
        ck_assert_uint_eq(off, sched_offset_ms(id, 60000)); /* stable */
        bins[off * BINS / 60000]++;
    }
    /* Even spread: every tenth of the interval holds 10 % ± 1.5 % of the probes. */
    for (int b = 0; b < BINS; b++)
        ck_assert_msg(bins[b] > N / BINS - 150 && bins[b] < N / BINS + 150, "bin %d: %u", b,
                      bins[b]);
}
END_TEST

/* A hand-built configuration (the scheduler does not care where it came from). */
struct fixture {
    struct config cfg;
    struct probe probes[16];
    char urls[16][128];
    char ids[16][16];
};

static char s_get[] = "GET", s_ua[] = "vigie-test", s_group[] = "g";

static void fixture_init(struct fixture *f, size_t n, uint64_t interval_ms, uint64_t timeout_ms,
                         const char *path)
{
    const char *why;

    memset(f, 0, sizeof(*f));
    f->cfg.probes = f->probes;
    f->cfg.nprobes = n;
    f->cfg.concurrency = 100;
    f->cfg.per_host = 100;
    f->cfg.user_agent = s_ua;
    for (size_t i = 0; i < n; i++) {
        struct probe *p = &f->probes[i];

        snprintf(f->ids[i], sizeof(f->ids[i]), "p%02u", (unsigned)(i % 100));
        srvctl_url(f->urls[i], sizeof(f->urls[i]), "http", test_srv.http, path);
        p->id = p->name = f->ids[i];
        p->url = f->urls[i];
        p->group = s_group;
        p->method = s_get;
        p->interval_ms = interval_ms;
        p->timeout_ms = timeout_ms;
        p->connect_timeout_ms = timeout_ms;
        p->slow_ms = 800;
        p->follow_redirects = true;
        p->max_redirects = 5;
        p->max_bytes = 1 << 20;
        ck_assert_int_eq(units_statusset("200-399", &p->status, &why), 0);
    }
}

struct rec {
    struct sched *s;
    size_t n;
    struct sched_sample smp[256];
    struct result res[256];
    uint64_t max_in_flight;
    bool stopped;
    uv_timer_t stop_timer;
    uv_timer_t watch_timer; /* samples in_flight every 10 ms */
    struct httpc *h;
    uint64_t recheck_ms;    /* when set, every completed check asks for a recheck this soon */
    int recheck_rc[8];      /* how many sched_recheck calls returned 0, -EALREADY, -ERANGE, ... */
    struct sched_stats end; /* the statistics just before the stop */
    struct sched_opts opts; /* given to the scheduler (drain_ms set by run_for) */
    /* A loop kept busy: from hog_from_ms to hog_to_ms after the start, a 10 ms timer spins
     * hog_spin_us each time it fires; at blip_ms a single spin of blip_us (a hiccup). */
    uint64_t hog_from_ms, hog_to_ms, hog_spin_us, blip_ms, blip_us;
    uv_timer_t hog_timer;
    uint64_t t0;      /* uv_hrtime() at the start */
    int64_t wall0_ms; /* the wall clock then */
    struct {
        uint64_t at_ms; /* after the start */
        struct sched_overload o;
    } changes[8]; /* the shedding factor's, from overload_cb */
    size_t nchanges;
    const struct probe *p0; /* asked for a recheck at each change to shedding */
    int recheck_shedding;   /* ... sched_recheck's answer */
};

static void on_overload(void *arg, const struct sched_overload *o)
{
    struct rec *r = arg;

    ck_assert_uint_lt(r->nchanges, 8);
    r->changes[r->nchanges].at_ms = (uv_hrtime() - r->t0) / 1000000;
    r->changes[r->nchanges++].o = *o;
    if (o->factor > 1 && r->p0)
        r->recheck_shedding = sched_recheck(r->s, r->p0, 10);
}

static int rc_index(int rc)
{
    return rc == 0 ? 0 : rc == -EALREADY ? 1 : rc == -ERANGE ? 2 : rc == -EBUSY ? 3 : 4;
}

static void on_sample(void *arg, const struct sched_sample *s)
{
    struct rec *r = arg;
    struct sched_stats st;

    ck_assert_uint_lt(r->n, 256);
    r->smp[r->n] = *s;
    if (s->res) {
        r->res[r->n] = *s->res;
        r->smp[r->n].res = &r->res[r->n];
    }
    r->n++;
    if (r->s && r->recheck_ms && s->res) {
        int rc = sched_recheck(r->s, s->p, r->recheck_ms);

        r->recheck_rc[rc_index(rc)]++;
        if (rc == 0) /* a second request while one is pending is refused */
            r->recheck_rc[rc_index(sched_recheck(r->s, s->p, r->recheck_ms))]++;
    }
    if (r->s) {
        sched_stats(r->s, &st);
        if (st.in_flight > r->max_in_flight)
            r->max_in_flight = st.in_flight;
    }
}

static void on_httpc_closed(void *arg)
{
    (void)arg;
}

static void on_stopped(void *arg)
{
    struct rec *r = arg;

    r->stopped = true;
    r->s = NULL;
    httpc_close(r->h, on_httpc_closed, NULL);
    uv_close((uv_handle_t *)&r->stop_timer, NULL);
    if (r->hog_timer.data)
        uv_close((uv_handle_t *)&r->hog_timer, NULL);
    if (r->watch_timer.data) /* started by run_for only */
        uv_close((uv_handle_t *)&r->watch_timer, NULL);
}

static void on_watch_timer(uv_timer_t *t)
{
    struct rec *r = t->data;
    struct sched_stats st;

    if (!r->s)
        return;
    sched_stats(r->s, &st);
    if (st.in_flight > r->max_in_flight)
        r->max_in_flight = st.in_flight;
}

static void spin_us(uint64_t us)
{
    uint64_t until = uv_hrtime() + us * 1000;

    while (uv_hrtime() < until)
        ;
}

static void on_hog_timer(uv_timer_t *t)
{
    struct rec *r = t->data;
    uint64_t at = (uv_hrtime() - r->t0) / 1000000;

    if (r->blip_us && at >= r->blip_ms) {
        spin_us(r->blip_us);
        r->blip_us = 0;
    }
    if (at >= r->hog_from_ms && at < r->hog_to_ms)
        spin_us(r->hog_spin_us);
}

static void on_stop_timer(uv_timer_t *t)
{
    struct rec *r = t->data;
    struct sched_stats st;

    sched_stats(r->s, &st);
    if (st.in_flight > r->max_in_flight)
        r->max_in_flight = st.in_flight;
    /* the scheduler's own high-water mark: a check shorter than the watch's 10 ms is in it */
    if (st.in_flight_max > r->max_in_flight)
        r->max_in_flight = st.in_flight_max;
    r->end = st;
    sched_close(r->s, NULL, on_stopped, r);
}

/* Runs the scheduler over f for run_ms, then stops it and closes everything. */
static void run_for(struct fixture *f, struct rec *r, uint64_t run_ms, uint64_t drain_ms)
{
    uv_loop_t loop;
    struct sched_opts o = r->opts;
    struct timespec ts;

    o.drain_ms = drain_ms;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    r->h = httpc_new(&loop);
    ck_assert_ptr_nonnull(r->h);
    r->s = sched_new(&loop, r->h, &f->cfg, &o, on_sample, r);
    ck_assert_ptr_nonnull(r->s);
    uv_timer_init(&loop, &r->stop_timer);
    r->stop_timer.data = r;
    uv_timer_start(&r->stop_timer, on_stop_timer, run_ms, 0);
    uv_timer_init(&loop, &r->watch_timer);
    r->watch_timer.data = r;
    uv_timer_start(&r->watch_timer, on_watch_timer, 10, 10);
    if (r->hog_spin_us || r->blip_us) {
        uv_timer_init(&loop, &r->hog_timer);
        r->hog_timer.data = r;
        uv_timer_start(&r->hog_timer, on_hog_timer, 10, 10);
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    r->t0 = uv_hrtime();
    r->wall0_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    ck_assert_int_eq(sched_start(r->s), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert(r->stopped);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}

/* Each probe's samples come out in due-time order, one interval apart at least (the RRD writer
 * needs strictly increasing timestamps), missed ticks included. */
static void assert_in_order(const struct fixture *f, const struct rec *r)
{
    for (size_t i = 0; i < f->cfg.nprobes; i++) {
        int64_t prev = -1;

        for (size_t k = 0; k < r->n; k++) {
            if (r->smp[k].p != &f->probes[i] || r->smp[k].extra)
                continue;
            if (prev >= 0)
                ck_assert_msg(r->smp[k].due_ms >= prev + (int64_t)f->probes[i].interval_ms - 1,
                              "%s: sample %zu due %lld after %lld", f->probes[i].id, k,
                              (long long)r->smp[k].due_ms, (long long)prev);
            prev = r->smp[k].due_ms;
        }
    }
}

/* Due times keep the probe's phase (≡ offset mod interval), step by exactly one interval (no
 * drift), and checks start on time. */
START_TEST(test_phase_and_no_drift)
{
    static struct fixture f;
    static struct rec r;

    fixture_init(&f, 8, 500, 400, "/");
    run_for(&f, &r, 2600, 1000);
    ck_assert_uint_ge(r.n, 8 * 4);
    for (size_t i = 0; i < f.cfg.nprobes; i++) {
        int64_t prev = -1;
        uint64_t off = sched_offset_ms(f.probes[i].id, 500);
        int seen = 0;

        for (size_t k = 0; k < r.n; k++) {
            if (r.smp[k].p != &f.probes[i])
                continue;
            seen++;
            ck_assert(!r.smp[k].missed);
            ck_assert(!r.smp[k].flagged);
            ck_assert_int_eq(r.res[k].outcome, OUTCOME_OK);
            /* The anchor maps monotonic to wall time at ms precision: allow 1 ms. */
            int64_t phase = r.smp[k].due_ms % 500;
            ck_assert_msg(llabs(phase - (int64_t)off) <= 1 || llabs(phase - (int64_t)off) >= 499,
                          "%s: due %lld phase %lld, offset %llu", f.probes[i].id,
                          (long long)r.smp[k].due_ms, (long long)phase, (unsigned long long)off);
            if (prev >= 0)
                ck_assert_int_eq(r.smp[k].due_ms - prev, 500);
            prev = r.smp[k].due_ms;
            ck_assert_msg(r.smp[k].lag_us < 20000 * test_timeout(1), "lag %lld us",
                          (long long)r.smp[k].lag_us);
        }
        ck_assert_int_ge(seen, 4);
        ck_assert_int_le(seen, 6);
    }
}
END_TEST

/* A target slower than the interval: ticks are missed, never stacked. */
START_TEST(test_missed_not_stacked)
{
    static struct fixture f;
    static struct rec r;
    int checks = 0, missed = 0;

    /* The check lasts 700 ms, the interval is 300 ms. */
    fixture_init(&f, 1, 300, 2000, "/?delay=700");
    run_for(&f, &r, 2500, 2000);
    assert_in_order(&f, &r);
    ck_assert_uint_eq(r.max_in_flight, 1);
    for (size_t k = 0; k < r.n; k++) {
        if (r.smp[k].missed)
            missed++;
        else
            checks++;
    }
    /* ~8 ticks in 2.5 s: about one in three runs. */
    ck_assert_msg(checks >= 2 && checks <= 4, "%d checks", checks);
    ck_assert_msg(missed >= 4, "%d missed", missed);
    ck_assert_int_ge(checks + missed, 7);
}
END_TEST

/* The global bound holds; slot waiting is measured apart from latency. */
START_TEST(test_concurrency_bound)
{
    static struct fixture f;
    static struct rec r;
    int waited = 0;

    /* 6 probes of 1 s interval needing 500 ms each, 2 slots: demand is 3 s of work per second
     * for 2 s of capacity, so checks must wait. */
    fixture_init(&f, 6, 1000, 990, "/?delay=500");
    f.cfg.concurrency = 2;
    run_for(&f, &r, 2500, 3000);
    assert_in_order(&f, &r);
    ck_assert_uint_le(r.max_in_flight, 2);
    ck_assert_uint_ge(r.n, 6);
    for (size_t k = 0; k < r.n; k++) {
        if (r.smp[k].missed)
            continue;
        /* The measured latency is the target's ~500 ms, not the queueing. */
        ck_assert_msg(r.res[k].total_us >= 500000 &&
                          r.res[k].total_us < 500000 + 50000 * test_timeout(1),
                      "total %lld", (long long)r.res[k].total_us);
        if (r.smp[k].wait_us > 100000)
            waited++;
    }
    ck_assert_int_ge(waited, 1);
}
END_TEST

/* The per-host bound holds across probes of one host. */
START_TEST(test_per_host_bound)
{
    static struct fixture f;
    static struct rec r;

    fixture_init(&f, 4, 2000, 1500, "/?delay=200");
    f.cfg.per_host = 1;
    run_for(&f, &r, 1900, 3000);
    ck_assert_uint_le(r.max_in_flight, 1);
    /* Waiting for the host's bound is politeness, not saturation: no sample is flagged. */
    for (size_t k = 0; k < r.n; k++)
        ck_assert_msg(!r.smp[k].flagged, "sample %zu flagged after waiting %lld us", k,
                      (long long)r.smp[k].wait_us);
}
END_TEST

/* The per-host bound is per host: two hosts run side by side, each one check at a time. */
START_TEST(test_per_host_two_hosts)
{
    static struct fixture f;
    static struct rec r;

    fixture_init(&f, 4, 1000, 900, "/?delay=700");
    for (size_t i = 2; i < 4; i++)
        snprintf(f.urls[i], sizeof(f.urls[i]), "http://localhost:%d/?delay=700", test_srv.http);
    f.cfg.per_host = 1;
    run_for(&f, &r, 2500, 3000);
    assert_in_order(&f, &r);
    ck_assert_uint_eq(r.max_in_flight, 2);
}
END_TEST

/* Stopping waits for the checks in flight, within the bound, then aborts them. */
START_TEST(test_drain)
{
    static struct fixture f;
    static struct rec r;
    uint64_t t0;

    /* Checks that would outlive the run (timeout 5 s, longer than the interval: only a
     * hand-built configuration can say that). */
    fixture_init(&f, 2, 1000, 5000, "/?mode=silence");
    t0 = uv_hrtime();
    run_for(&f, &r, 1100, 200);
    assert_in_order(&f, &r);
    /* Stopped about 200 ms after the stop request, the aborted checks reported as missed. */
    ck_assert_msg((uv_hrtime() - t0) / 1000000 <
                      (uint64_t)1100 + 200 + 150 * (uint64_t)test_timeout(1),
                  "%llu ms", (unsigned long long)((uv_hrtime() - t0) / 1000000));
    ck_assert_uint_ge(r.n, 2);
    for (size_t k = 0; k < r.n; k++)
        ck_assert(r.smp[k].missed);
}
END_TEST

/* Checks that complete during the drain are ordinary samples: not missed, not flagged (the loop
 * lag is still measured while draining). */
START_TEST(test_drain_completes)
{
    static struct fixture f;
    static struct rec r;
    size_t done = 0;

    /* Each probe is busy 80 % of the time: at the stop, checks with up to 800 ms to go. */
    fixture_init(&f, 8, 1000, 950, "/?delay=800");
    run_for(&f, &r, 1500, 3000);
    assert_in_order(&f, &r);
    for (size_t k = 0; k < r.n; k++) {
        ck_assert_msg(!r.smp[k].flagged, "sample %zu flagged (loop lag %lld us)", k,
                      (long long)r.smp[k].loop_lag_us);
        done += !r.smp[k].missed;
    }
    ck_assert_uint_ge(done, 8);
}
END_TEST

/* A loop with more work than it can do runs its timers nearly on time — here a 10 ms timer that
 * spins 9.5 ms: the loop is 95 % busy, its lag under 20 ms, far under the 250 ms stall bound —
 * while every socket waits for its turn. Checks overlapping that saturation are flagged (the
 * busy share, from libuv's idle time); checks before and after are not, nor around a single
 * 60 ms hiccup (one period over the bounds is not saturation). */
START_TEST(test_busy_loop_flagged)
{
    static struct fixture f;
    static struct rec r;
    size_t before = 0, during = 0, after = 0;

    fixture_init(&f, 4, 200, 150, "/?t=busy");
    r.blip_ms = 400;
    r.blip_us = 60000;
    r.hog_from_ms = 1200;
    r.hog_to_ms = 2400;
    r.hog_spin_us = 9500;
    run_for(&f, &r, 3800, 1000);
    assert_in_order(&f, &r);
    for (size_t k = 0; k < r.n; k++) {
        int64_t at = r.smp[k].due_ms - r.wall0_ms;

        ck_assert_msg(!r.smp[k].missed, "sample %zu missed", k);
        if (at < 1100) {
            ck_assert_msg(!r.smp[k].flagged, "sample %zu due at %lld ms flagged", k, (long long)at);
            before++;
        } else if (at >= 1600 && at < 2300) { /* entered within 2 periods, 3 on a busy machine */
            ck_assert_msg(r.smp[k].flagged, "sample %zu due at %lld ms not flagged", k,
                          (long long)at);
            during++;
        } else if (at >= 2800) {
            ck_assert_msg(!r.smp[k].flagged, "sample %zu due at %lld ms flagged", k, (long long)at);
            after++;
        }
    }
    ck_assert_uint_ge(before, 4 * 4);
    ck_assert_uint_ge(during, 4 * 3);
    ck_assert_uint_ge(after, 4 * 3);
    /* the old bound saw nothing: no stall over 250 ms */
    ck_assert_int_lt(r.end.loop_lag_max_us, 250000);
    ck_assert_msg(r.end.saturated_ms >= 800 && r.end.saturated_ms <= 1400, "saturated %llu ms",
                  (unsigned long long)r.end.saturated_ms);
    ck_assert_uint_ge(r.end.flagged, during);
}
END_TEST

/* The factor in effect at `at_ms` after the start, or 0 within 100 ms of a change. */
static unsigned factor_at(const struct rec *r, int64_t at_ms)
{
    unsigned f = 1;

    for (size_t c = 0; c < r->nchanges; c++) {
        int64_t t = (int64_t)r->changes[c].at_ms;

        if (llabs(at_ms - t) < 100)
            return 0;
        if (t <= at_ms)
            f = r->changes[c].o.factor;
    }
    return f;
}

/* Saturation that persists: the factor doubles after shed_after (1 s here), again after another
 * second, then holds at max_factor (4); once the loop is quiet it halves after relax_after (1 s)
 * and again. While shedding, every tick still has its sample, one interval apart in phase (shed
 * ones without a check); a probe keeps the ticks of one residue of its tick index modulo the
 * factor, the residue at 4 being one of those at 2 (nested: its phase kept); no recheck. */
START_TEST(test_shed_and_relax)
{
    static struct fixture f;
    static struct rec r;
    static const unsigned want[] = {2, 4, 2, 1};
    size_t shed = 0;

    fixture_init(&f, 6, 250, 200, "/?t=shed");
    r.opts.shed_after_ms = 1000;
    r.opts.relax_after_ms = 1000;
    r.opts.max_factor = 5; /* rounded down to 4 */
    r.opts.overload_cb = on_overload;
    r.opts.overload_arg = &r;
    r.p0 = &f.probes[0];
    r.hog_from_ms = 500;
    r.hog_to_ms = 3500;
    r.hog_spin_us = 9500;
    run_for(&f, &r, 8000, 1000);
    ck_assert_msg(r.nchanges == 4, "%zu changes of the factor, the last to %u at %llu ms",
                  r.nchanges, r.nchanges ? r.changes[r.nchanges - 1].o.factor : 1,
                  r.nchanges ? (unsigned long long)r.changes[r.nchanges - 1].at_ms : 0ULL);
    for (size_t c = 0; c < 4; c++) {
        ck_assert_uint_eq(r.changes[c].o.factor, want[c]);
        /* the cause stays the last overloaded second's until shedding is over: the loop (busy,
         * or starved when a neighbour takes the CPU from the spinning thread) */
        if (c < 3)
            ck_assert_msg(r.changes[c].o.cause == SCHED_CAUSE_BUSY ||
                              r.changes[c].o.cause == SCHED_CAUSE_STARVED,
                          "change %zu: cause %s", c, sched_cause_str(r.changes[c].o.cause));
        else
            ck_assert_int_eq(r.changes[c].o.cause, SCHED_CAUSE_NONE);
    }
    ck_assert_msg(r.changes[0].at_ms >= 1500 && r.changes[0].at_ms < 2600, "shed at %llu ms",
                  (unsigned long long)r.changes[0].at_ms);
    /* relaxed once the spinning stopped (a second that saw its last 0.4 s may already be quiet:
     * under 40 % busy) */
    ck_assert_msg(r.changes[2].at_ms >= 3500, "factor %u at %llu ms, %u at %llu, %u at %llu",
                  r.changes[0].o.factor, (unsigned long long)r.changes[0].at_ms,
                  r.changes[1].o.factor, (unsigned long long)r.changes[1].at_ms,
                  r.changes[2].o.factor, (unsigned long long)r.changes[2].at_ms);
    ck_assert_int_eq(r.recheck_shedding, -EAGAIN);
    for (size_t i = 0; i < f.cfg.nprobes; i++) {
        uint64_t iv = f.probes[i].interval_ms, off = sched_offset_ms(f.probes[i].id, iv);
        int64_t prev = -1;
        int kept2 = -1, kept4 = -1;

        for (size_t k = 0; k < r.n; k++) {
            const struct sched_sample *sm = &r.smp[k];
            int64_t tick = sm->due_ms / (int64_t)iv;
            unsigned fa = factor_at(&r, sm->due_ms - r.wall0_ms);

            if (sm->p != &f.probes[i])
                continue;
            ck_assert_msg(!sm->extra, "a recheck while shedding");
            ck_assert_msg(llabs(sm->due_ms % (int64_t)iv - (int64_t)off) <= 1 ||
                              llabs(sm->due_ms % (int64_t)iv - (int64_t)off) >= (int64_t)iv - 1,
                          "%s: due %lld out of phase", f.probes[i].id, (long long)sm->due_ms);
            if (prev >= 0)
                ck_assert_int_eq(sm->due_ms - prev, (int64_t)iv);
            prev = sm->due_ms;
            if (sm->shed) {
                shed++;
                ck_assert_ptr_null(sm->res);
                ck_assert(!sm->missed && !sm->flagged);
                ck_assert_msg(fa != 1, "%s: tick %lld shed at factor 1", f.probes[i].id,
                              (long long)(sm->due_ms - r.wall0_ms));
            }
            if (fa == 2 && !sm->shed && !sm->missed) {
                ck_assert(kept2 < 0 || kept2 == (int)(tick % 2));
                kept2 = (int)(tick % 2);
            }
            if (fa == 4 && !sm->shed && !sm->missed) {
                ck_assert(kept4 < 0 || kept4 == (int)(tick % 4));
                kept4 = (int)(tick % 4);
            }
            if (fa == 4 && sm->shed && kept4 >= 0)
                ck_assert_int_ne(kept4, (int)(tick % 4));
        }
        ck_assert_msg(kept4 >= 0 && kept2 >= 0, "%s: kept %d at 2, %d at 4", f.probes[i].id, kept2,
                      kept4);
        ck_assert_int_eq(kept4 % 2, kept2);
    }
    ck_assert_uint_eq(r.end.shed, shed);
    ck_assert_uint_ge(shed, 6 * 4); /* at least a second at 4 for each probe: 3 of 4 ticks */
    ck_assert_uint_eq(r.end.factor_max, 4);
    ck_assert_uint_eq(r.end.factor, 1);
    ck_assert_uint_eq(r.end.missed, 0);
}
END_TEST

/* Regular samples of probe i: in phase, exactly one interval apart, none missed nor extra between
 * first and last; returns how many. */
static int assert_ticks_kept(const struct fixture *f, const struct rec *r, size_t i)
{
    uint64_t iv = f->probes[i].interval_ms, off = sched_offset_ms(f->probes[i].id, iv);
    int64_t prev = -1;
    int n = 0;

    for (size_t k = 0; k < r->n; k++) {
        int64_t phase;

        if (r->smp[k].p != &f->probes[i] || r->smp[k].extra)
            continue;
        ck_assert_msg(!r->smp[k].missed, "tick %lld missed", (long long)r->smp[k].due_ms);
        phase = r->smp[k].due_ms % (int64_t)iv;
        ck_assert_msg(llabs(phase - (int64_t)off) <= 1 ||
                          llabs(phase - (int64_t)off) >= (int64_t)iv - 1,
                      "due %lld phase %lld, offset %llu", (long long)r->smp[k].due_ms,
                      (long long)phase, (unsigned long long)off);
        if (prev >= 0)
            ck_assert_int_eq(r->smp[k].due_ms - prev, (int64_t)iv);
        prev = r->smp[k].due_ms;
        n++;
    }
    return n;
}

/* Rechecks run at the asked delay between the ticks; the ticks keep their phase, none is missed;
 * a recheck that would not come before the next tick is refused (the tick will do). */
START_TEST(test_recheck_timing)
{
    static struct fixture f;
    static struct rec r;
    int ticks, extra = 0;
    int64_t prev_due = -1;

    fixture_init(&f, 1, 2000, 1000, "/?status=500");
    r.recheck_ms = 300;
    run_for(&f, &r, 6500, 2000);
    ticks = assert_ticks_kept(&f, &r, 0);
    ck_assert_int_ge(ticks, 3);
    for (size_t k = 0; k < r.n; k++) {
        if (r.smp[k].extra) {
            extra++;
            ck_assert(!r.smp[k].missed);
            ck_assert_ptr_nonnull(r.smp[k].res);
            ck_assert_int_eq(r.res[k].outcome, OUTCOME_HTTP_STATUS);
            /* asked at the previous check's end, 300 ms later: due 300 ms after it at least */
            ck_assert_msg(r.smp[k].due_ms - prev_due >= 300 &&
                              r.smp[k].due_ms - prev_due < 300 + 100 * test_timeout(1),
                          "recheck due %lld ms after the previous check",
                          (long long)(r.smp[k].due_ms - prev_due));
        }
        prev_due = r.smp[k].due_ms;
    }
    /* ~6 rechecks fit in each 2 s interval (300 ms apart plus the check's few ms) */
    ck_assert_msg(extra >= 4 * (ticks - 1) && extra <= 7 * ticks, "%d rechecks for %d ticks", extra,
                  ticks);
    ck_assert_int_eq(r.end.rechecks, extra);
    ck_assert_int_eq(r.end.missed, 0);
    ck_assert_int_ge(r.recheck_rc[rc_index(-EALREADY)], extra);
    ck_assert_int_ge(r.recheck_rc[rc_index(-ERANGE)], ticks - 1); /* the last before each tick */
    ck_assert_int_eq(r.recheck_rc[rc_index(-EBUSY)] + r.recheck_rc[4], 0);
    ck_assert_uint_eq(r.max_in_flight, 1);
}
END_TEST

/* A recheck still running when the tick is due is taken as the tick's check: never two checks of
 * a probe at once, no missed tick, one sample per tick, phase kept. */
START_TEST(test_recheck_not_stacked)
{
    static struct fixture f;
    static struct rec r;
    int ticks, extra = 0;

    /* Each check lasts 700 ms; a recheck asked 200 ms after a check ends (tick + 900 ms) is
     * still running at the next tick (tick + 1000 ms). */
    fixture_init(&f, 1, 1000, 900, "/?delay=700");
    r.recheck_ms = 200;
    run_for(&f, &r, 4600, 2000);
    assert_in_order(&f, &r);
    ticks = assert_ticks_kept(&f, &r, 0);
    for (size_t k = 0; k < r.n; k++) {
        extra += r.smp[k].extra;
        ck_assert_msg(!r.smp[k].flagged, "sample %zu flagged (lag %lld us)", k,
                      (long long)r.smp[k].lag_us);
        ck_assert_int_ge(r.smp[k].lag_us, 0);
    }
    ck_assert_uint_eq(r.max_in_flight, 1);
    ck_assert_int_ge(ticks, 4);
    ck_assert_int_eq(r.end.missed, 0);
    /* every recheck but perhaps one cut by the stop became its tick's check */
    ck_assert_int_ge(r.end.promoted, ticks - 2);
    ck_assert_int_le(extra, 1);
}
END_TEST

/* Bad requests are refused. */
START_TEST(test_recheck_refused)
{
    static struct fixture f;
    uv_loop_t loop;
    struct httpc *h;
    struct sched *s;
    struct probe other;

    fixture_init(&f, 1, 1000, 900, "/");
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    h = httpc_new(&loop);
    s = sched_new(&loop, h, &f.cfg, NULL, on_sample, &(struct rec){0});
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(sched_recheck(s, &other, 100), -EINVAL);
    ck_assert_int_eq(sched_start(s), 0);
    /* the first tick is at most one interval away: a recheck after it is refused */
    ck_assert_int_eq(sched_recheck(s, &f.probes[0], 1000), -ERANGE);
    sched_close(s, NULL, NULL, NULL);
    ck_assert_int_eq(sched_recheck(s, &f.probes[0], 1), -ECANCELED);
    uv_run(&loop, UV_RUN_DEFAULT);
    httpc_close(h, on_httpc_closed, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* A reload: B takes over from A mid-run. The probe that stays keeps its due times exactly (every
 * interval, none skipped, none twice, A's samples before B's); the removed one stops with A;
 * the added one and the one whose interval changed start in B at their phase; A frees itself
 * once its checks are in. */
struct takeover {
    struct rec r;
    struct fixture *b;
    struct sched *a_s;
    bool a_stopped;
    uv_timer_t swap_timer;
    uv_loop_t *loop;
};

static void on_a_retired(void *arg)
{
    struct takeover *t = arg;

    t->a_stopped = true;
}

static void on_swap_timer(uv_timer_t *tm)
{
    struct takeover *t = tm->data;
    struct sched_opts o = {.drain_ms = 1000};
    struct sched *b = sched_new(t->loop, t->r.h, &t->b->cfg, &o, on_sample, &t->r);

    ck_assert_ptr_nonnull(b);
    t->a_s = t->r.s;
    ck_assert_int_eq(sched_takeover(b, t->a_s, NULL, on_a_retired, t), 0);
    t->r.s = b;
    uv_close((uv_handle_t *)tm, NULL);
}

START_TEST(test_takeover)
{
    static struct fixture a, b;
    static struct takeover t;
    struct sched_opts o = {.drain_ms = 1000};
    uv_loop_t loop;
    int64_t prev = -1, swap_wall = 0;
    size_t n_a = 0, n_b = 0;
    bool seen_b = false;

    fixture_init(&a, 3, 200, 150, "/?t=takeover");
    fixture_init(&b, 3, 200, 150, "/?t=takeover");
    /* b: p00 stays, p01 stays with a new interval, p02 is gone and p03 comes */
    b.probes[1].interval_ms = 300;
    snprintf(b.ids[2], sizeof(b.ids[2]), "p03");
    memset(&t, 0, sizeof(t));
    t.b = &b;
    t.loop = &loop;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    t.r.h = httpc_new(&loop);
    t.r.s = sched_new(&loop, t.r.h, &a.cfg, &o, on_sample, &t.r);
    ck_assert_ptr_nonnull(t.r.s);
    uv_timer_init(&loop, &t.swap_timer);
    t.swap_timer.data = &t;
    uv_timer_start(&t.swap_timer, on_swap_timer, 1100, 0);
    uv_timer_init(&loop, &t.r.stop_timer);
    t.r.stop_timer.data = &t.r;
    uv_timer_start(&t.r.stop_timer, on_stop_timer, 2300, 0);
    ck_assert_int_eq(sched_start(t.r.s), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert(t.r.stopped && t.a_stopped);
    ck_assert_int_eq(uv_loop_close(&loop), 0);

    for (size_t k = 0; k < t.r.n; k++) {
        const struct sched_sample *sm = &t.r.smp[k];

        ck_assert_msg(!sm->missed, "sample %zu missed", k);
        if (sm->p == &a.probes[0] || sm->p == &b.probes[0]) {
            bool in_b = sm->p == &b.probes[0];

            if (prev >= 0)
                ck_assert_msg(sm->due_ms == prev + 200, "p00: %lld after %lld",
                              (long long)sm->due_ms, (long long)prev);
            ck_assert_msg(!(seen_b && !in_b), "p00: a sample of A after one of B");
            if (in_b && !seen_b)
                swap_wall = sm->due_ms;
            seen_b = seen_b || in_b;
            n_a += !in_b;
            n_b += in_b;
            prev = sm->due_ms;
        } else if (sm->p == &a.probes[2]) {
            ck_assert(!seen_b || sm->due_ms < swap_wall);
        } else {
            ck_assert(sm->p == &b.probes[1] || sm->p == &b.probes[2] || sm->p == &a.probes[1]);
        }
    }
    /* about 1.1 s under A and 1.2 s under B at 5 a second */
    ck_assert_msg(n_a >= 4 && n_b >= 4, "p00: %zu samples under A, %zu under B", n_a, n_b);
    for (size_t k = 0, got = 0; k <= t.r.n; k++) {
        if (k == t.r.n) {
            ck_assert_msg(got >= 2, "p03 and p01 (300 ms) ran %zu times under B", got);
            break;
        }
        got += t.r.smp[k].p == &b.probes[1] || t.r.smp[k].p == &b.probes[2];
    }
}
END_TEST

/* Rechecks across a reload: the ticks of a probe that stays continue exactly, nothing is missed,
 * and rechecks go on under the new scheduler (a pending one is carried over). */
START_TEST(test_recheck_takeover)
{
    static struct fixture a, b;
    static struct takeover t;
    struct sched_opts o = {.drain_ms = 1000};
    uv_loop_t loop;
    int64_t prev = -1, last_a = -1;
    size_t extra_b = 0, ticks = 0;

    fixture_init(&a, 1, 1000, 500, "/?status=500&t=rt");
    fixture_init(&b, 1, 1000, 500, "/?status=500&t=rt");
    memset(&t, 0, sizeof(t));
    t.b = &b;
    t.loop = &loop;
    t.r.recheck_ms = 300;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    t.r.h = httpc_new(&loop);
    t.r.s = sched_new(&loop, t.r.h, &a.cfg, &o, on_sample, &t.r);
    ck_assert_ptr_nonnull(t.r.s);
    uv_timer_init(&loop, &t.swap_timer);
    t.swap_timer.data = &t;
    uv_timer_start(&t.swap_timer, on_swap_timer, 2100, 0);
    uv_timer_init(&loop, &t.r.stop_timer);
    t.r.stop_timer.data = &t.r;
    uv_timer_start(&t.r.stop_timer, on_stop_timer, 4600, 0);
    ck_assert_int_eq(sched_start(t.r.s), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert(t.r.stopped && t.a_stopped);
    ck_assert_int_eq(uv_loop_close(&loop), 0);

    for (size_t k = 0; k < t.r.n; k++) {
        const struct sched_sample *sm = &t.r.smp[k];

        ck_assert_msg(!sm->missed, "sample %zu missed", k);
        if (sm->p == &a.probes[0])
            last_a = sm->due_ms;
        else
            extra_b += sm->extra;
        if (sm->extra) {
            ck_assert_int_gt(sm->due_ms, prev); /* after the tick before it */
            continue;
        }
        if (prev >= 0)
            ck_assert_int_eq(sm->due_ms - prev, 1000);
        prev = sm->due_ms;
        ticks++;
    }
    ck_assert_int_ge(last_a, 0);
    ck_assert_uint_ge(ticks, 4);
    ck_assert_uint_ge(extra_b, 3); /* rechecks go on under B */
}
END_TEST

Suite *sched_suite(void)
{
    Suite *s = suite_create("sched");
    TCase *pure = tcase_create("offsets");
    TCase *tc = tcase_create("loopback");

    tcase_add_test(pure, test_offsets_spread_and_stable);
    suite_add_tcase(s, pure);
    tcase_add_unchecked_fixture(tc, test_srv_up, test_srv_down);
    tcase_set_timeout(tc, test_timeout(20));
    tcase_add_test(tc, test_phase_and_no_drift);
    tcase_add_test(tc, test_missed_not_stacked);
    tcase_add_test(tc, test_concurrency_bound);
    tcase_add_test(tc, test_per_host_bound);
    tcase_add_test(tc, test_per_host_two_hosts);
    tcase_add_test(tc, test_drain);
    tcase_add_test(tc, test_drain_completes);
    tcase_add_test(tc, test_busy_loop_flagged);
    tcase_add_test(tc, test_shed_and_relax);
    tcase_add_test(tc, test_recheck_timing);
    tcase_add_test(tc, test_recheck_not_stacked);
    tcase_add_test(tc, test_recheck_refused);
    tcase_add_test(tc, test_takeover);
    tcase_add_test(tc, test_recheck_takeover);
    suite_add_tcase(s, tc);
    return s;
}
