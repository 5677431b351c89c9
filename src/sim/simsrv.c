/* simsrv — the simulated services of `vigie simulate` (see sim.h and docs/SIMULATE.md): the
 * loopback HTTP servers on libuv, and the notification sink.
 *
 * Each service is a listener on 127.0.0.1. A connection reads the request head, then draws its
 * fate from the service's profile and the scenario's condition at that moment:
 *
 *   past `capacity` connections at once      reset at once (RST: the client sees ECONNRESET)
 *   with probability 1 - 1/load (load > 1)   turned away: reset, 502 or 503, a third each
 *   with probability 1 - uptime              503 after a short delay
 *   otherwise                                200 after a delay drawn from the latency histogram,
 *                                            times the scenario's latency multiplier
 *
 * and in a "closed" phase the listener itself is closed, so that connecting is refused
 * (ECONNREFUSED), and bound again on the same port when the phase ends. The answer's delay is a
 * uv_timer_t per connection: nothing blocks, one thread serves every service. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <uv.h>

#include "base/container.h"
#include "base/log.h"
#include "base/prng.h"
#include "sim/sim.h"
#include "sim/sim_int.h"

#define HEAD_MAX 16384
#define NOTIFY_MAX (1u << 20)
#define TICK_MS 100
#define DEFAULT_CAPACITY 32

struct sim;
static void sim_closed_one(struct sim *s);

struct svc {
    struct sim *sim;
    size_t i; /* index in cfg->probes */
    const struct probe *p;
    const struct sim_profile *prof;
    enum sim_wave wave;
    uv_tcp_t listener;
    bool listening;   /* listener open (and its handle initialised) */
    bool closing;     /* uv_close in flight */
    bool bind_failed; /* logged once */
    unsigned port;
    size_t active; /* connections open */
    struct sim_state st;
};

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wr;
    struct sim *sim;
    struct svc *svc; /* NULL: the notification sink */
    char *buf;
    size_t len, cap, need; /* need: head + body bytes expected (sink), 0 until the head is in */
    char *resp;
    int open; /* handles not closed yet */
    bool answered, closing;
    struct conn *prev, *next;
};

struct sim {
    uv_loop_t *loop;
    const struct config *cfg;
    struct sim_opts o;
    struct svc *svcs;
    size_t n;
    uv_tcp_t sink;
    bool sink_open;
    unsigned sink_port;
    uv_timer_t tick;
    uint64_t t0;
    uint64_t rng;
    const char *wave_phase[SIM_NWAVES]; /* last logged */
    struct conn *conns;
    struct sim_stats stats;
    int closing; /* handles whose close callback is pending */
    bool shut;
    void (*close_cb)(void *);
    void *close_arg;
};

/* ---- random draws ---- */

/* A total time in ms drawn from the profile's histogram: a bucket with its weight, then uniformly
 * inside it (the first bucket from 20 ms: nothing on the Internet answers faster). */
static double draw_latency_ms(struct sim *s, const struct sim_profile *pr)
{
    double u;
    unsigned lo = 20;

    if (!pr || pr->under[8] == 0) {
        double mean = pr && pr->t_total_ms ? pr->t_total_ms : 300.0;

        return mean * (0.7 + 0.6 * prng_unit(&s->rng));
    }
    u = prng_unit(&s->rng) * pr->under[8];
    for (int k = 0; k < 9; k++) {
        if (u < pr->under[k]) {
            unsigned hi = sim_bounds_ms[k];

            return lo + (hi - lo) * prng_unit(&s->rng);
        }
        lo = sim_bounds_ms[k];
    }
    return sim_bounds_ms[8];
}

/* ---- connections ---- */

static void on_conn_handle_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    struct sim *s = c->sim;

    if (--c->open > 0)
        return;
    if (c->svc)
        c->svc->active--;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c->buf);
    free(c->resp);
    free(c);
    if (s->shut)
        sim_closed_one(s);
}

static void conn_close(struct conn *c, bool reset)
{
    if (c->closing)
        return;
    c->closing = true;
    uv_timer_stop(&c->timer);
    if (!reset || uv_tcp_close_reset(&c->tcp, on_conn_handle_closed) != 0)
        uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
}

static void on_write_done(uv_write_t *w, int status)
{
    struct conn *c = container_of(w, struct conn, wr);

    (void)status;
    conn_close(c, false);
}

static void conn_send(struct conn *c, int status, const char *body)
{
    const char *reason = status == 200   ? "OK"
                         : status == 400 ? "Bad Request"
                         : status == 502 ? "Bad Gateway"
                         : status == 503 ? "Service Unavailable"
                                         : "Internal Server Error";
    size_t blen = strlen(body), cap = blen + 256;
    int n;
    uv_buf_t b;

    c->answered = true;
    c->resp = malloc(cap);
    if (!c->resp) {
        conn_close(c, true);
        return;
    }
    n = snprintf(c->resp, cap,
                 "HTTP/1.1 %d %s\r\nServer: vigie-simulate\r\nContent-Type: text/html; "
                 "charset=utf-8\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n%s",
                 status, reason, blen, status == 503 ? "Retry-After: 30\r\n" : "", body);
    if (n < 0 || (size_t)n >= cap) {
        conn_close(c, true);
        return;
    }
    b = uv_buf_init(c->resp, (unsigned)n);
    if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, on_write_done) != 0)
        conn_close(c, true);
}

/* The delay is over: the service's answer. The status to send is kept in c->need. */
static void on_answer_due(uv_timer_t *t)
{
    struct conn *c = container_of(t, struct conn, timer);
    const struct probe *p = c->svc->p;
    char body[2048];

    if (c->need == 200) {
        snprintf(body, sizeof(body),
                 "<!doctype html><html><head><meta charset=\"utf-8\"><title>%s</title></head>"
                 "<body><h1>%s</h1><p>%s</p><p>Simulated by vigie simulate (%s).</p></body></html>",
                 p->name, p->name, p->body ? p->body : "", c->svc->st.phase);
        c->sim->stats.ok++;
    } else {
        snprintf(body, sizeof(body), "<html><body><h1>%d</h1><p>%s</p></body></html>", (int)c->need,
                 c->need == 502 ? "Bad Gateway" : "Service Unavailable");
        c->sim->stats.errors++;
    }
    conn_send(c, (int)c->need, body);
}

/* The request head is in: the service's condition now decides the answer and its delay. */
static void svc_decide(struct conn *c)
{
    struct sim *s = c->sim;
    struct svc *v = c->svc;
    const struct sim_state *st = &v->st;
    double uptime = v->prof ? v->prof->uptime_pct : 99.9, delay;

    s->stats.requests++;
    if (st->load > 1 && prng_unit(&s->rng) < 1 - 1 / st->load) {
        /* Turned away by an overloaded front: at once, or by a gateway after a moment. */
        uint64_t r = prng_next(&s->rng) % 3;

        if (r == 0) {
            s->stats.resets++;
            conn_close(c, true);
            return;
        }
        c->need = r == 1 ? 502 : 503;
        delay = 5 + 45 * prng_unit(&s->rng);
    } else if (prng_unit(&s->rng) * 100 >= uptime) {
        c->need = 503;
        delay = draw_latency_ms(s, v->prof) / 2;
    } else {
        c->need = 200;
        delay = draw_latency_ms(s, v->prof) * st->latency;
    }
    delay *= s->o.latency_scale;
    if (delay > 120000)
        delay = 120000;
    uv_timer_start(&c->timer, on_answer_due, (uint64_t)delay, 0);
}

/* The notification sink: the body of a complete POST goes to notify_dir/NNNN.json. */
static void sink_store(struct conn *c, const char *body, size_t len)
{
    struct sim *s = c->sim;
    char path[4096];
    FILE *f;
    int ok;

    snprintf(path, sizeof(path), "%s/%04llu.json", s->o.notify_dir,
             (unsigned long long)s->stats.notifications + 1);
    f = fopen(path, "wb");
    ok = f && fwrite(body, 1, len, f) == len;
    if (f && fclose(f) != 0)
        ok = 0;
    if (!ok) {
        log_err("simulate: cannot store a notification in %s: %s", path, strerror(errno));
        conn_send(c, 500, "");
        return;
    }
    s->stats.notifications++;
    conn_send(c, 200, "");
}

/* The end of the head, or NULL. */
static const char *head_end(const char *buf, size_t len)
{
    for (size_t i = 3; i < len; i++)
        if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r')
            return buf + i + 1;
    return NULL;
}

static long content_length(const char *head, size_t len)
{
    static const char key[] = "\ncontent-length:";
    size_t k = sizeof(key) - 1;

    for (size_t i = 0; i + k <= len; i++) {
        if (strncasecmp(head + i, key, k) == 0) {
            char *end;
            long v = strtol(head + i + k, &end, 10);

            return end == head + i + k || v < 0 ? -1 : v;
        }
    }
    return 0;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    struct conn *c = h->data;
    size_t max = c->svc ? HEAD_MAX : NOTIFY_MAX;

    (void)hint;
    if (c->cap - c->len < 4096 && c->cap < max) {
        size_t ncap = c->cap ? c->cap * 2 : 8192;
        char *nb;

        ncap = ncap > max ? max : ncap;
        nb = realloc(c->buf, ncap);
        if (nb) {
            c->buf = nb;
            c->cap = ncap;
        }
    }
    *b = uv_buf_init(c->buf ? c->buf + c->len : NULL, (unsigned)(c->cap - c->len));
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    struct conn *c = st->data;
    const char *end;

    (void)b;
    if (nread < 0) {
        conn_close(c, false);
        return;
    }
    c->len += (size_t)nread;
    if (c->answered || !(end = head_end(c->buf, c->len))) {
        if (!c->answered && c->len >= c->cap && c->len >= (c->svc ? HEAD_MAX : NOTIFY_MAX))
            conn_close(c, true);
        return;
    }
    if (c->svc) {
        uv_read_stop(st);
        svc_decide(c);
        return;
    }
    if (c->need == 0) {
        long cl = content_length(c->buf, (size_t)(end - c->buf));

        if (cl < 0 || (size_t)cl > NOTIFY_MAX - (size_t)(end - c->buf)) {
            uv_read_stop(st);
            conn_send(c, 400, "");
            return;
        }
        c->need = (size_t)(end - c->buf) + (size_t)cl;
    }
    if (c->len >= c->need) {
        uv_read_stop(st);
        sink_store(c, end, c->need - (size_t)(end - c->buf));
    }
}

static struct conn *conn_accept(struct sim *s, uv_stream_t *server, struct svc *v)
{
    struct conn *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->sim = s;
    c->svc = v;
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->open = 2;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    if (v)
        v->active++;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c, false);
        return NULL;
    }
    return c;
}

static void on_svc_connection(uv_stream_t *server, int status)
{
    struct svc *v = container_of((uv_tcp_t *)server, struct svc, listener);
    struct sim *s = v->sim;
    struct conn *c;

    if (status < 0)
        return;
    c = conn_accept(s, server, v);
    if (!c)
        return;
    if (s->shut || v->active > (size_t)s->o.capacity) {
        /* Past the capacity: the front resets the connection, as a saturated one does. */
        s->stats.requests++;
        s->stats.resets++;
        conn_close(c, true);
        return;
    }
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_sink_connection(uv_stream_t *server, int status)
{
    struct sim *s = container_of((uv_tcp_t *)server, struct sim, sink);
    struct conn *c;

    if (status < 0)
        return;
    c = conn_accept(s, server, NULL);
    if (c)
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* ---- listeners ---- */

/* Binds h on 127.0.0.1:*port (0: any) and listens; *port gets the port. */
static int listen_on(uv_loop_t *loop, uv_tcp_t *h, unsigned *port, uv_connection_cb cb)
{
    struct sockaddr_in a;
    struct sockaddr_storage got;
    int len = sizeof(got), rc;

    uv_tcp_init(loop, h);
    uv_ip4_addr("127.0.0.1", (int)*port, &a);
    rc = uv_tcp_bind(h, (const struct sockaddr *)&a, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)h, 511, cb);
    if (rc == 0)
        rc = uv_tcp_getsockname(h, (struct sockaddr *)&got, &len);
    if (rc == 0)
        *port = ntohs(((struct sockaddr_in *)&got)->sin_port);
    return rc;
}

static void on_listener_closed(uv_handle_t *h)
{
    struct svc *v = container_of((uv_tcp_t *)h, struct svc, listener);

    v->closing = false;
    if (v->sim->shut)
        sim_closed_one(v->sim);
}

static void svc_apply(struct svc *v)
{
    struct sim *s = v->sim;

    if (v->closing || s->shut)
        return;
    if (v->st.closed && v->listening) {
        v->listening = false;
        v->closing = true;
        s->stats.closed_phases++;
        uv_close((uv_handle_t *)&v->listener, on_listener_closed);
    } else if (!v->st.closed && !v->listening) {
        unsigned port = v->port;
        int rc = listen_on(s->loop, &v->listener, &port, on_svc_connection);

        if (rc == 0) {
            v->listening = true;
            v->bind_failed = false;
            return;
        }
        if (!v->bind_failed)
            log_warn("simulate: %s: cannot listen on 127.0.0.1:%u again: %s (retrying)", v->p->id,
                     v->port, uv_strerror(rc));
        v->bind_failed = true;
        v->closing = true;
        uv_close((uv_handle_t *)&v->listener, on_listener_closed);
    }
}

static void on_tick(uv_timer_t *t)
{
    struct sim *s = container_of(t, struct sim, tick);
    double frac = s->o.scenario_ms ? (double)(uv_now(s->loop) - s->t0) / s->o.scenario_ms : 2;

    for (size_t i = 0; i < s->n; i++) {
        sim_scenario_at(s->svcs[i].wave, frac, &s->svcs[i].st);
        svc_apply(&s->svcs[i]);
    }
    /* Each wave's phase changes are logged once, with how many services take part. */
    for (int w = SIM_SCHOOL; w < SIM_NWAVES; w++) {
        struct sim_state st;
        size_t n = 0;

        sim_scenario_at((enum sim_wave)w, frac, &st);
        if (st.phase == s->wave_phase[w])
            continue;
        if (!s->wave_phase[w] && strcmp(st.phase, "calm") == 0) {
            s->wave_phase[w] = st.phase; /* the start: nothing to say */
            continue;
        }
        s->wave_phase[w] = st.phase;
        for (size_t i = 0; i < s->n; i++)
            n += (int)s->svcs[i].wave == w;
        if (n && s->o.scenario_ms)
            log_info("simulate: %.0f%% of the scenario: %s (%zu %s services), latency x%.1f, "
                     "load %.1f x capacity%s",
                     frac * 100, st.phase, n,
                     w == SIM_SCHOOL ? "school"
                     : w == SIM_TAX  ? "tax"
                                     : "employment",
                     st.latency, st.load, st.closed ? ", listeners closed" : "");
    }
}

/* ---- the sim ---- */

int sim_start(uv_loop_t *loop, const struct config *cfg, const struct sim_opts *o, struct sim **out)
{
    struct sim *s = calloc(1, sizeof(*s));
    int rc = -ENOMEM;

    *out = NULL;
    if (!s)
        return -ENOMEM;
    s->loop = loop;
    s->cfg = cfg;
    s->o = *o;
    if (s->o.capacity <= 0)
        s->o.capacity = DEFAULT_CAPACITY;
    if (!(s->o.latency_scale > 0))
        s->o.latency_scale = 1.0;
    if (!s->o.profiles) {
        s->o.profiles = sim_profiles;
        s->o.nprofiles = sim_nprofiles;
    }
    s->rng = s->o.seed ? s->o.seed : uv_hrtime() | 1;
    s->n = cfg->nprobes;
    s->svcs = calloc(s->n ? s->n : 1, sizeof(*s->svcs));
    if (!s->svcs) {
        s->n = 0;
        goto fail;
    }
    uv_update_time(loop);
    s->t0 = uv_now(loop);
    for (size_t i = 0; i < s->n; i++) {
        struct svc *v = &s->svcs[i];

        v->sim = s;
        v->i = i;
        v->p = &cfg->probes[i];
        v->prof = sim_profile_of(v->p, s->o.profiles, s->o.nprofiles);
        v->wave = s->o.scenario_ms ? sim_wave_of(v->p) : SIM_CALM;
        sim_scenario_at(SIM_CALM, 0, &v->st);
        rc = listen_on(loop, &v->listener, &v->port, on_svc_connection);
        v->listening = true; /* initialised: closed below on failure */
        if (rc != 0) {
            log_err("simulate: %s: cannot listen on 127.0.0.1: %s", v->p->id, uv_strerror(rc));
            rc = -EADDRNOTAVAIL;
            goto fail;
        }
    }
    if (s->o.notify_dir) {
        rc = listen_on(loop, &s->sink, &s->sink_port, on_sink_connection);
        s->sink_open = true;
        if (rc != 0) {
            log_err("simulate: notification sink: %s", uv_strerror(rc));
            rc = -EADDRNOTAVAIL;
            goto fail;
        }
    }
    uv_timer_init(loop, &s->tick);
    uv_timer_start(&s->tick, on_tick, 0, TICK_MS);
    *out = s;
    return 0;
fail:
    /* Handles initialised so far are closed; the sim goes once they are. */
    uv_timer_init(loop, &s->tick);
    sim_close(s, NULL, NULL);
    return rc;
}

unsigned sim_port(const struct sim *s, size_t i)
{
    return i < s->n ? s->svcs[i].port : 0;
}

unsigned sim_notify_port(const struct sim *s)
{
    return s->sink_open ? s->sink_port : 0;
}

void sim_state_of(const struct sim *s, size_t i, struct sim_state *st)
{
    *st = s->svcs[i].st;
}

void sim_stats(const struct sim *s, struct sim_stats *st)
{
    *st = s->stats;
}

static void on_sim_handle_closed(uv_handle_t *h)
{
    sim_closed_one(h->data);
}

static void sim_closed_one(struct sim *s)
{
    void (*cb)(void *) = s->close_cb;
    void *arg = s->close_arg;

    if (--s->closing > 0)
        return;
    free(s->svcs);
    free(s);
    if (cb)
        cb(arg);
}

void sim_close(struct sim *s, void (*cb)(void *arg), void *arg)
{
    s->shut = true;
    s->close_cb = cb;
    s->close_arg = arg;
    s->closing = 1; /* the tick timer */
    uv_timer_stop(&s->tick);
    s->tick.data = s;
    for (size_t i = 0; i < s->n; i++) {
        struct svc *v = &s->svcs[i];

        if (v->closing) {
            s->closing++; /* its callback counts it */
        } else if (v->listening) {
            s->closing++;
            v->listening = false;
            v->closing = true;
            uv_close((uv_handle_t *)&v->listener, on_listener_closed);
        }
    }
    if (s->sink_open) {
        s->closing++;
        s->sink_open = false;
        s->sink.data = s;
        uv_close((uv_handle_t *)&s->sink, on_sim_handle_closed);
    }
    for (struct conn *c = s->conns; c; c = c->next) {
        s->closing++;
        conn_close(c, false);
    }
    uv_close((uv_handle_t *)&s->tick, on_sim_handle_closed);
}

const struct config *sim_config(const struct sim *s)
{
    return s->cfg;
}
