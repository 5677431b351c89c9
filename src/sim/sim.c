/* sim — the simulated services of `vigie simulate` (see sim.h and docs/SIMULATE.md).
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
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>
#include <yaml.h>

#include "base/cli.h"
#include "base/container.h"
#include "base/diag.h"
#include "base/fsx.h"
#include "base/log.h"
#include "base/units.h"
#include "net/url.h"
#include "sim/sim.h"

const unsigned sim_bounds_ms[9] = {125, 250, 500, 1000, 2000, 4000, 8000, 16000, 32000};

/* The timeline (fractions of the scenario), modelled on March 2020 (docs/SIMULATE.md, sources in
 * the project's background notes):
 * - Monday 16 March, schools closed: the school services (ENT, Pronote, CNED « Ma classe à la
 *   maison ») took 3× their usual load from 08:00, saturated by 10:00 (« tout a pété »: one ENT
 *   got 15,000 simultaneous connections for a capacity of 5,000), went down for part of the day,
 *   and recovered slowly until Wednesday, capacity raised and time slots imposed;
 * - from 25 March the short-time work service (activitepartielle.emploi.gouv.fr: 50 → 15,000
 *   simultaneous connections, requests tripled in a week, "en maintenance" for two weeks) and
 *   on 31 March the solidarity fund on impots.gouv.fr: the employment and tax services. */
const struct sim_phase sim_phases[] = {
    {"schools: rush", SIM_SCHOOL, 0.12, 0.08, 1.0, 5.0, 0.8, 2.0, false},
    {"schools: saturated", SIM_SCHOOL, 0.20, 0.16, 5.0, 20.0, 3.0, 4.0, false},
    {"schools: down", SIM_SCHOOL, 0.24, 0.06, 20.0, 20.0, 4.0, 4.0, true},
    {"schools: slow recovery", SIM_SCHOOL, 0.36, 0.26, 10.0, 1.5, 2.0, 0.8, false},
    {"employment: short-time work rush", SIM_EMPLOYMENT, 0.42, 0.20, 3.0, 8.0, 1.5, 3.0, false},
    {"tax: solidarity fund", SIM_TAX, 0.50, 0.20, 4.0, 6.0, 2.0, 2.5, false},
    {"second wave: slow recovery", SIM_EMPLOYMENT, 0.62, 0.20, 6.0, 1.0, 1.5, 0.8, false},
    {"second wave: slow recovery", SIM_TAX, 0.70, 0.14, 5.0, 1.0, 1.5, 0.8, false},
};
const size_t sim_nphases = sizeof(sim_phases) / sizeof(sim_phases[0]);

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

/* ---- the scenario and the profiles (pure) ---- */

static bool has(const char *s, const char *needle)
{
    return s && strstr(s, needle) != NULL;
}

enum sim_wave sim_wave_of(const struct probe *p)
{
    const char *f = p->file ? strrchr(p->file, '/') : NULL;

    f = f ? f + 1 : p->file;
    if (f) {
        if (strcmp(f, "education.yaml") == 0)
            return SIM_SCHOOL;
        if (strcmp(f, "emploi.yaml") == 0)
            return SIM_EMPLOYMENT;
        if (strcmp(f, "impots.yaml") == 0 || strcmp(f, "economie.yaml") == 0)
            return SIM_TAX;
    }
    if (has(p->group, "ducation nationale"))
        return SIM_SCHOOL;
    if (has(p->group, "mploi"))
        return SIM_EMPLOYMENT;
    if (has(p->group, "DGFiP") || has(p->group, "impots") || has(p->group, "conomie"))
        return SIM_TAX;
    return SIM_CALM;
}

void sim_scenario_at(enum sim_wave wave, double frac, struct sim_state *st)
{
    *st = (struct sim_state){.phase = "calm", .latency = 1.0, .load = 0.0, .closed = false};
    if (wave == SIM_CALM || frac < 0 || frac >= 1)
        return;
    for (size_t k = 0; k < sim_nphases; k++) {
        const struct sim_phase *ph = &sim_phases[k];
        double t;

        if (ph->wave != wave || frac < ph->start || frac >= ph->start + ph->dur)
            continue;
        t = (frac - ph->start) / ph->dur;
        st->phase = ph->name;
        st->latency = ph->lat_from + (ph->lat_to - ph->lat_from) * t;
        st->load = ph->load_from + (ph->load_to - ph->load_from) * t;
        st->closed = st->closed || ph->closed;
    }
}

const struct sim_profile *sim_profile_of(const struct probe *p, const struct sim_profile *table,
                                         size_t n)
{
    for (size_t j = 0; j < p->njdma; j++)
        for (size_t k = 0; k < n; k++)
            if (table[k].jdma == p->jdma[j])
                return &table[k];
    for (size_t k = 0; k < n; k++)
        if (strcmp(table[k].url, p->url) == 0)
            return &table[k];
    return NULL;
}

/* ---- random draws ---- */

static uint64_t rng_next(struct sim *s)
{
    /* xorshift64* */
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return s->rng * 0x2545F4914F6CDD1DULL;
}

static double rng_unit(struct sim *s)
{
    return (double)(rng_next(s) >> 11) / 9007199254740992.0; /* [0, 1) */
}

/* A total time in ms drawn from the profile's histogram: a bucket with its weight, then uniformly
 * inside it (the first bucket from 20 ms: nothing on the Internet answers faster). */
static double draw_latency_ms(struct sim *s, const struct sim_profile *pr)
{
    double u;
    unsigned lo = 20;

    if (!pr || pr->under[8] == 0) {
        double mean = pr && pr->t_total_ms ? pr->t_total_ms : 300.0;

        return mean * (0.7 + 0.6 * rng_unit(s));
    }
    u = rng_unit(s) * pr->under[8];
    for (int k = 0; k < 9; k++) {
        if (u < pr->under[k]) {
            unsigned hi = sim_bounds_ms[k];

            return lo + (hi - lo) * rng_unit(s);
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
    if (st->load > 1 && rng_unit(s) < 1 - 1 / st->load) {
        /* Turned away by an overloaded front: at once, or by a gateway after a moment. */
        uint64_t r = rng_next(s) % 3;

        if (r == 0) {
            s->stats.resets++;
            conn_close(c, true);
            return;
        }
        c->need = r == 1 ? 502 : 503;
        delay = 5 + 45 * rng_unit(s);
    } else if (rng_unit(s) * 100 >= uptime) {
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

/* ---- the generated configuration ---- */

/* s escaped for a double-quoted YAML scalar. */
static void yesc(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;

        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\x%02x", ch);
        else
            fputc(ch, f);
    }
}

/* A double-quoted YAML scalar. */
static void yq(FILE *f, const char *s)
{
    fputc('"', f);
    yesc(f, s);
    fputc('"', f);
}

static bool key_in(const char *k, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(k, *set) == 0)
            return true;
    return false;
}

/* Copies event e to the emitter (which takes it). */
static int emit(yaml_emitter_t *em, yaml_event_t *e)
{
    return yaml_emitter_emit(em, e) ? 0 : -EIO;
}

static int emit_scalar(yaml_emitter_t *em, const char *v)
{
    yaml_event_t e;

    if (!yaml_scalar_event_initialize(&e, NULL, NULL, (yaml_char_t *)(uintptr_t)v, (int)strlen(v),
                                      1, 1, YAML_ANY_SCALAR_STYLE))
        return -ENOMEM;
    return emit(em, &e);
}

/* Emits the pairs of the top-level mapping of the YAML text `extra` (its stream, document and
 * mapping events left out). */
static int emit_extra(yaml_emitter_t *em, const char *extra)
{
    yaml_parser_t p;
    yaml_event_t e;
    int depth = 0, rc = 0;
    bool done = false;

    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)extra, strlen(extra));
    while (!done && rc == 0) {
        if (!yaml_parser_parse(&p, &e)) {
            rc = -EINVAL;
            break;
        }
        switch (e.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            yaml_event_delete(&e);
            continue;
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            if (depth++ == 0) {
                yaml_event_delete(&e);
                continue;
            }
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            if (--depth == 0) {
                yaml_event_delete(&e);
                continue;
            }
            break;
        case YAML_SCALAR_EVENT:
        case YAML_ALIAS_EVENT:
            if (depth > 0)
                break;
            yaml_event_delete(&e);
            continue;
        default:
            yaml_event_delete(&e);
            continue;
        }
        rc = emit(em, &e);
    }
    yaml_parser_delete(&p);
    return rc;
}

/* Rewrites the source vigie.yaml to out, event by event (its comments are lost): top-level keys
 * in `drop` are left out, `extra`'s pairs are added at the end, alerting's state_file and
 * spool_dir are pointed into the output directory, and relative secret and CA files made
 * absolute against the source's directory (srcdir). */
static int yaml_rewrite(const char *src, const char *srcdir, FILE *out, const char *const *drop,
                        const char *extra, char *err, size_t errlen)
{
    static const char *const rel_keys[] = {"url_file", "password_file", "token_file", "ca_file",
                                           NULL};
    yaml_parser_t p;
    yaml_emitter_t em;
    yaml_event_t e;
    FILE *in = fopen(src, "rb");
    int depth = 0, skip = 0, rc = 0;
    bool key_next[64] = {false}, done = false, is_map[64] = {false}, skip_value = false;
    char key[64] = "", path[4096];
    const char *cred = getenv("CREDENTIALS_DIRECTORY");

    if (!in) {
        snprintf(err, errlen, "%s: %s", src, strerror(errno));
        return -errno;
    }
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, in);
    yaml_emitter_initialize(&em);
    yaml_emitter_set_output_file(&em, out);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, 100);
    while (!done && rc == 0) {
        bool was_key;

        if (!yaml_parser_parse(&p, &e)) {
            snprintf(err, errlen, "%s:%zu:%zu: %s", src, p.problem_mark.line + 1,
                     p.problem_mark.column + 1, p.problem ? p.problem : "YAML error");
            rc = -EINVAL;
            break;
        }
        if (e.type == YAML_STREAM_END_EVENT)
            done = true;
        if (skip_value || skip > 0) {
            /* A dropped key's value: a scalar, or everything down to the end of its nesting. */
            bool start = e.type == YAML_MAPPING_START_EVENT || e.type == YAML_SEQUENCE_START_EVENT;
            bool end = e.type == YAML_MAPPING_END_EVENT || e.type == YAML_SEQUENCE_END_EVENT;

            if (skip_value)
                skip = start ? 1 : 0;
            else
                skip += start ? 1 : end ? -1 : 0;
            skip_value = false;
            if (skip == 0)
                key_next[depth] = true;
            yaml_event_delete(&e);
            continue;
        }
        was_key = depth >= 1 && is_map[depth] && key_next[depth];
        if (depth >= 1 && is_map[depth] &&
            (e.type == YAML_SCALAR_EVENT || e.type == YAML_MAPPING_START_EVENT ||
             e.type == YAML_SEQUENCE_START_EVENT || e.type == YAML_ALIAS_EVENT))
            key_next[depth] = !key_next[depth];
        if (was_key && e.type == YAML_SCALAR_EVENT) {
            snprintf(key, sizeof(key), "%s", (const char *)e.data.scalar.value);
            if (depth == 1 && key_in(key, drop)) {
                skip_value = true; /* and the value that follows */
                yaml_event_delete(&e);
                continue;
            }
        } else if (!was_key && e.type == YAML_SCALAR_EVENT && depth >= 1 && is_map[depth]) {
            const char *v = (const char *)e.data.scalar.value;
            const char *nv = NULL;

            if (strcmp(key, "state_file") == 0)
                nv = "state/alerts.json";
            else if (strcmp(key, "spool_dir") == 0)
                nv = "state/spool";
            else if (key_in(key, rel_keys) && v[0] != '/' && !(cred && *cred)) {
                int n = snprintf(path, sizeof(path), "%s/%s", srcdir, v);

                nv = n > 0 && (size_t)n < sizeof(path) ? path : NULL;
            }
            if (nv) {
                yaml_event_delete(&e);
                rc = emit_scalar(&em, nv);
                continue;
            }
        }
        if (e.type == YAML_MAPPING_END_EVENT && depth == 1 && extra) {
            rc = emit_extra(&em, extra);
            if (rc != 0) {
                snprintf(err, errlen, "internal: generated settings do not parse");
                yaml_event_delete(&e);
                break;
            }
        }
        if (e.type == YAML_MAPPING_START_EVENT || e.type == YAML_SEQUENCE_START_EVENT) {
            if (++depth >= 64) {
                snprintf(err, errlen, "%s: nested too deeply", src);
                rc = -EINVAL;
                yaml_event_delete(&e);
                break;
            }
            is_map[depth] = e.type == YAML_MAPPING_START_EVENT;
            key_next[depth] = true;
        } else if (e.type == YAML_MAPPING_END_EVENT || e.type == YAML_SEQUENCE_END_EVENT) {
            depth--;
        }
        rc = emit(&em, &e);
        if (rc != 0)
            snprintf(err, errlen, "cannot write the configuration: %s",
                     em.problem ? em.problem : "YAML emitter error");
    }
    yaml_emitter_delete(&em);
    yaml_parser_delete(&p);
    fclose(in);
    return rc;
}

static void write_ms(FILE *f, const char *key, uint64_t ms)
{
    fprintf(f, "    %s: %llums\n", key, (unsigned long long)ms);
}

/* dir/probes.d/<file>: one per source file, its probes in the source's order by id. */
static int write_probes(const struct sim *s, const char *dir, const struct sim_write_opts *w,
                        char *err, size_t errlen)
{
    const struct config *cfg = s->cfg;
    bool *done = calloc(cfg->nprobes ? cfg->nprobes : 1, sizeof(*done));
    char path[4096];
    int rc = 0;

    if (!done)
        return -ENOMEM;
    for (size_t i = 0; i < cfg->nprobes && rc == 0; i++) {
        const char *file = cfg->probes[i].file, *base;
        FILE *f;

        if (done[i])
            continue;
        base = file ? strrchr(file, '/') : NULL;
        base = base ? base + 1 : file ? file : "probes.yaml";
        snprintf(path, sizeof(path), "%s/probes.d/%s", dir, base);
        f = fopen(path, "w");
        if (!f) {
            rc = -errno;
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            break;
        }
        fprintf(f,
                "# Generated by `vigie simulate` from %s: the same probes, on the simulated\n"
                "# services of 127.0.0.1 (docs/SIMULATE.md).\ngroup: ",
                file ? file : "the source configuration");
        yq(f, cfg->probes[i].group);
        fputs("\nprobes:\n", f);
        for (size_t j = i; j < cfg->nprobes; j++) {
            const struct probe *p = &cfg->probes[j];
            uint64_t interval = w->interval_ms ? w->interval_ms : p->interval_ms;
            uint64_t timeout = p->timeout_ms, connect = p->connect_timeout_ms;
            struct url_parts u;

            if (done[j] || !(p->file == file || (p->file && file && strcmp(p->file, file) == 0)))
                continue;
            done[j] = true;
            rc = url_parts(p->url, &u);
            if (rc != 0) {
                snprintf(err, errlen, "%s: %s: cannot read its URL: %s", path, p->id,
                         strerror(-rc));
                break;
            }
            if (w->interval_ms) {
                /* An answer must come within the interval: 80 % of it at most. */
                timeout = timeout < interval * 4 / 5 ? timeout : interval * 4 / 5;
                timeout = timeout < 100 ? 100 : timeout;
            }
            connect = connect < timeout ? connect : timeout;
            fprintf(f, "  - id: %s\n    name: ", p->id);
            yq(f, p->name);
            fprintf(f, "\n    url: \"http://127.0.0.1:%u", sim_port(s, j));
            yesc(f, u.path);
            url_parts_fini(&u);
            fputs("\"\n", f);
            if (p->njdma) {
                fputs("    jdma: [", f);
                for (size_t k = 0; k < p->njdma; k++)
                    fprintf(f, "%s%ld", k ? ", " : "", p->jdma[k]);
                fputs("]\n", f);
            }
            if (p->ntags) {
                fputs("    tags: [", f);
                for (size_t k = 0; k < p->ntags; k++) {
                    fputs(k ? ", " : "", f);
                    yq(f, p->tags[k]);
                }
                fputs("]\n", f);
            }
            if (p->method && strcmp(p->method, "HEAD") == 0)
                fputs("    method: HEAD\n", f);
            write_ms(f, "interval", interval);
            write_ms(f, "timeout", timeout);
            write_ms(f, "connect_timeout", connect);
            write_ms(f, "slow", p->slow_ms);
            if (p->body) {
                fputs("    expect:\n      body: ", f);
                yq(f, p->body);
                fputc('\n', f);
            }
            fprintf(f,
                    "    alert:\n      enabled: %s\n      confirm: %ld\n      recover: %ld\n"
                    "      slow_window: %ld\n",
                    p->alert_enabled ? "true" : "false", p->alert_confirm, p->alert_recover,
                    p->slow_window);
        }
        if ((ferror(f) | (fclose(f) != 0)) && rc == 0) {
            rc = -EIO;
            snprintf(err, errlen, "%s: write error", path);
        }
    }
    free(done);
    return rc;
}

int sim_write_config(const struct sim *s, const char *dir, const struct sim_write_opts *w,
                     char *err, size_t errlen)
{
    static const char *const drop_base[] = {"probes_dir", "rrd_dir", "graphs_dir", "per_host",
                                            "rrdcached",  "node",    NULL};
    const char *drop[16];
    size_t nd = 0;
    char path[4096], srcdir[4096], *extra = NULL;
    size_t extra_len = 0;
    FILE *x, *f;
    int rc;

    err[0] = '\0';
    for (const char *const *k = drop_base; *k; k++)
        drop[nd++] = *k;
    snprintf(path, sizeof(path), "%s/probes.d", dir);
    if ((rc = fsx_mkdir_p(path, 0755)) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(-rc));
        return rc;
    }
    rc = write_probes(s, dir, w, err, errlen);
    if (rc != 0)
        return rc;

    x = open_memstream(&extra, &extra_len);
    if (!x)
        return -ENOMEM;
    fprintf(x, "probes_dir: probes.d\nrrd_dir: rrd\ngraphs_dir: graphs\nper_host: %ld\n",
            s->cfg->concurrency);
    if (w->demo) {
        drop[nd++] = "rrd_flush";
        drop[nd++] = "rrd_retention";
        drop[nd++] = "graphs";
        fprintf(x,
                "rrd_flush: 2s\n"
                "rrd_retention: {full: 1d, medium: 2d, hourly: 3d, daily: 7d}\n"
                "graphs: {enabled: true, interval: %llums, formats: [png], lang: %s, "
                "width: %ld, height: %ld}\n",
                (unsigned long long)(w->graphs_ms ? w->graphs_ms : 10000),
                s->cfg->graphs.lang ? "en" : "fr", s->cfg->graphs.width, s->cfg->graphs.height);
    }
    if (w->local_receiver) {
        drop[nd++] = "receivers";
        drop[nd++] = "alerting";
        /* Pages (critical: down) and warnings (slow, criterion, TLS) apart, as most teams route
         * them; both reach the simulator's sink, each notification naming its receiver. */
        fprintf(x,
                "receivers:\n"
                "  - {name: oncall, type: webhook, url: \"http://127.0.0.1:%u/notify\", "
                "timeout: 5s}\n"
                "  - {name: team-chat, type: webhook, url: \"http://127.0.0.1:%u/notify\", "
                "timeout: 5s}\n"
                "alerting:\n"
                "  group_wait: %llums\n"
                "  routes:\n"
                "    - {name: oncall, match: {severity: critical}, receivers: [oncall], "
                "repeat: 0s}\n"
                "    - {name: team-chat, match: {severity: warning}, receivers: [team-chat], "
                "repeat: 0s}\n",
                sim_notify_port(s), sim_notify_port(s),
                (unsigned long long)(w->group_wait_ms ? w->group_wait_ms : 5000));
    }
    drop[nd] = NULL;
    if (fclose(x) != 0) {
        free(extra);
        return -ENOMEM;
    }

    snprintf(path, sizeof(path), "%s/vigie.yaml", dir);
    f = fopen(path, "w");
    if (!f) {
        rc = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        free(extra);
        return rc;
    }
    fprintf(f,
            "# Generated by `vigie simulate` from %s (docs/SIMULATE.md): its settings,\n"
            "# with the paths pointed here%s.\n",
            w->source ? w->source : "the built-in settings",
            w->local_receiver ? " and alerts sent to the simulator's own receiver"
                              : " (alerting and receivers kept)");
    if (w->source) {
        const char *slash = strrchr(w->source, '/');

        if (!slash)
            snprintf(srcdir, sizeof(srcdir), ".");
        else
            snprintf(srcdir, sizeof(srcdir), "%.*s", (int)(slash - w->source), w->source);
        if (srcdir[0] != '/') {
            char cwd[2048];

            int n =
                getcwd(cwd, sizeof(cwd)) ? snprintf(path, sizeof(path), "%s/%s", cwd, srcdir) : -1;

            if (n > 0 && (size_t)n < sizeof(srcdir))
                memcpy(srcdir, path, (size_t)n + 1);
        }
        fflush(f);
        rc = yaml_rewrite(w->source, srcdir, f, drop, extra, err, errlen);
    } else {
        fputs(extra, f);
        rc = 0;
    }
    if ((ferror(f) | (fclose(f) != 0)) && rc == 0) {
        rc = -EIO;
        snprintf(err, errlen, "%s/vigie.yaml: write error", dir);
    }
    free(extra);
    return rc;
}

/* ---- `vigie simulate` ---- */

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
