/* alert — rules, states and grouping of alerts. See alert.h and docs/ALERTING.md. */
#include "alert/alert.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "net/url.h"
#include "store/criterion.h"

#define SUMMARY_MAX 200
#define SELF SIZE_MAX /* the probe index of vigie itself (the impaired and overloaded alerts) */

/* One alert: a kind of trouble of one probe. */
struct rec {
    bool firing;
    bool sent; /* its firing went out on at least one route */
    bool held; /* firing during a maintenance window and not sent */
    int64_t since, ends;
    double value;
    char summary[SUMMARY_MAX];
    int64_t *last_sent; /* per route: when the firing was last sent there, 0 never */
};

struct pstate {
    const struct probe *p;
    size_t host;
    bool canary;
    int64_t last;     /* a canary's last result, 0 none */
    bool last_failed; /* that result was a network-level failure */
    long fails, oks;
    double *win; /* the last slow_window successful totals, ms */
    size_t win_n, win_i;
    struct rec rec[AK_N]; /* AK_IMPAIRED and AK_OVERLOADED unused */
};

struct host {
    char *key;
    int64_t last;     /* last result, 0 none */
    bool failed;      /* that result was a network-level failure */
    bool only_canary; /* every probe of the host is a canary: not an "unrelated host" */
};

struct pending {
    size_t probe; /* SELF for vigie */
    int kind;
    bool firing;
};

/* One notification being built: a route and a group. */
struct bucket {
    size_t route;
    const char *group;
    json_t *alerts;
    unsigned firing[AK_N], resolved;
};

struct alert {
    const struct config *c;
    alert_send_fn send;
    void *arg;
    struct pstate *ps;
    size_t n;
    struct host *hosts;
    size_t nhosts;
    struct rec self[AK_N]; /* AK_IMPAIRED and AK_OVERLOADED (self_kind) */
    char self_group[8];
    bool impaired;
    struct pending *pend;
    size_t npend, cappend;
    int64_t pend_since; /* when the oldest pending transition came */
    uint64_t seq;
    bool dirty;
    struct alert_stats st;
};

static const enum alert_severity severity_of[AK_N] = {
    [AK_DOWN] = SEV_CRITICAL,     [AK_SLOW] = SEV_WARNING,      [AK_TLS] = SEV_WARNING,
    [AK_CRITERION] = SEV_WARNING, [AK_IMPAIRED] = SEV_CRITICAL, [AK_OVERLOADED] = SEV_CRITICAL,
};

/* The kinds of vigie itself (probe "vigie"), not of a probe. */
static bool self_kind(int kind)
{
    return kind == AK_IMPAIRED || kind == AK_OVERLOADED;
}

static bool is_network(enum outcome o)
{
    return o == OUTCOME_DNS || o == OUTCOME_CONNECT || o == OUTCOME_TIMEOUT;
}

static struct rec *rec_of(struct alert *a, size_t i, int kind)
{
    return i == SELF ? &a->self[kind] : &a->ps[i].rec[kind];
}

static const char *probe_id(const struct alert *a, size_t i)
{
    return i == SELF ? "vigie" : a->ps[i].p->id;
}

static const char *group_of(const struct alert *a, size_t i)
{
    return i == SELF ? a->self_group : a->ps[i].p->group;
}

/* ---- lifecycle ---- */

static int cmp_host(const void *x, const void *y)
{
    return strcmp(((const struct host *)x)->key, ((const struct host *)y)->key);
}

static int rec_init(struct rec *r, size_t nroutes)
{
    memset(r, 0, sizeof(*r));
    r->value = NAN;
    r->last_sent = calloc(nroutes ? nroutes : 1, sizeof(*r->last_sent));
    return r->last_sent ? 0 : -ENOMEM;
}

struct alert *alert_new(const struct config *c, alert_send_fn send, void *arg)
{
    struct alert *a = calloc(1, sizeof(*a));
    struct host *hs = NULL;
    size_t nh = 0;

    if (!a)
        return NULL;
    a->c = c;
    a->send = send;
    a->arg = arg;
    a->n = c->nprobes;
    a->ps = calloc(a->n ? a->n : 1, sizeof(*a->ps));
    hs = calloc(a->n ? a->n : 1, sizeof(*hs));
    if (!a->ps || !hs || rec_init(&a->self[AK_IMPAIRED], c->nroutes) < 0 ||
        rec_init(&a->self[AK_OVERLOADED], c->nroutes) < 0)
        goto fail;
    for (size_t i = 0; i < a->n; i++) {
        struct pstate *s = &a->ps[i];

        s->p = &c->probes[i];
        s->win = calloc((size_t)s->p->slow_window, sizeof(*s->win));
        if (!s->win)
            goto fail;
        for (int k = 0; k < AK_N; k++)
            if (rec_init(&s->rec[k], c->nroutes) < 0)
                goto fail;
        for (size_t j = 0; j < c->canaries.n; j++)
            if (strcmp(c->canaries.v[j], s->p->id) == 0)
                s->canary = true;
        hs[nh].key = s->p->url ? url_host(s->p->url) : NULL;
        if (!hs[nh].key)
            hs[nh].key = strdup(s->p->id);
        if (!hs[nh].key)
            goto fail;
        nh++;
    }
    /* One entry per distinct host; each probe remembers its host's index. */
    qsort(hs, nh, sizeof(*hs), cmp_host);
    a->hosts = calloc(nh ? nh : 1, sizeof(*a->hosts));
    if (!a->hosts)
        goto fail;
    for (size_t i = 0; i < nh; i++) {
        if (a->nhosts > 0 && strcmp(a->hosts[a->nhosts - 1].key, hs[i].key) == 0) {
            free(hs[i].key);
            continue;
        }
        a->hosts[a->nhosts].key = hs[i].key;
        a->hosts[a->nhosts].only_canary = true;
        a->nhosts++;
    }
    free(hs);
    hs = NULL;
    for (size_t i = 0; i < a->n; i++) {
        struct pstate *s = &a->ps[i];
        char *key = s->p->url ? url_host(s->p->url) : NULL;
        struct host k = {.key = key ? key : s->p->id}, *h;

        h = bsearch(&k, a->hosts, a->nhosts, sizeof(k), cmp_host);
        free(key);
        if (!h)
            goto fail;
        s->host = (size_t)(h - a->hosts);
        if (!s->canary)
            h->only_canary = false;
    }
    return a;
fail:
    for (size_t i = 0; hs && i < nh; i++)
        free(hs[i].key);
    free(hs);
    alert_free(a);
    return NULL;
}

void alert_free(struct alert *a)
{
    if (!a)
        return;
    for (size_t i = 0; a->ps && i < a->n; i++) {
        free(a->ps[i].win);
        for (int k = 0; k < AK_N; k++)
            free(a->ps[i].rec[k].last_sent);
    }
    free(a->ps);
    for (size_t i = 0; i < a->nhosts; i++)
        free(a->hosts[i].key);
    free(a->hosts);
    for (int k = 0; k < AK_N; k++)
        free(a->self[k].last_sent);
    free(a->pend);
    free(a);
}

/* ---- transitions ---- */

static void push_pending(struct alert *a, size_t i, int kind, bool firing, int64_t now)
{
    if (a->npend == a->cappend) {
        size_t cap = a->cappend ? a->cappend * 2 : 64;
        struct pending *np = realloc(a->pend, cap * sizeof(*np));

        if (!np) {
            log_err("alert: out of memory, %s %s not notified", probe_id(a, i),
                    config_alert_kinds[kind]);
            return;
        }
        a->pend = np;
        a->cappend = cap;
    }
    if (a->npend == 0)
        a->pend_since = now;
    a->pend[a->npend++] = (struct pending){.probe = i, .kind = kind, .firing = firing};
}

/* Drops a pending firing of (i, kind) that was never sent: a trouble that cleared within the
 * grouping window is not worth a page, nor its recovery. Returns whether one was dropped. */
static bool drop_pending_firing(struct alert *a, size_t i, int kind)
{
    for (size_t j = 0; j < a->npend; j++) {
        if (a->pend[j].probe == i && a->pend[j].kind == kind && a->pend[j].firing) {
            memmove(&a->pend[j], &a->pend[j + 1], (a->npend - j - 1) * sizeof(*a->pend));
            a->npend--;
            return true;
        }
    }
    return false;
}

static void fire(struct alert *a, size_t i, int kind, int64_t now, double value, const char *fmt,
                 ...) __attribute__((format(printf, 6, 7)));

static void fire(struct alert *a, size_t i, int kind, int64_t now, double value, const char *fmt,
                 ...)
{
    struct rec *r = rec_of(a, i, kind);
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->summary, sizeof(r->summary), fmt, ap);
    va_end(ap);
    r->value = value;
    if (r->firing)
        return; /* still firing: the summary and value are refreshed */
    r->firing = true;
    r->since = now;
    r->ends = 0;
    a->st.transitions++;
    a->dirty = true;
    log_notice("alert: %s %s firing: %s", probe_id(a, i), config_alert_kinds[kind], r->summary);
    push_pending(a, i, kind, true, now);
}

static void resolve(struct alert *a, size_t i, int kind, int64_t now)
{
    struct rec *r = rec_of(a, i, kind);

    if (!r->firing)
        return;
    r->firing = false;
    r->ends = now;
    a->st.transitions++;
    a->dirty = true;
    log_notice("alert: %s %s resolved", probe_id(a, i), config_alert_kinds[kind]);
    if (drop_pending_firing(a, i, kind))
        return;
    if (r->held && !r->sent) {
        r->held = false;
        return;
    }
    if (r->sent)
        push_pending(a, i, kind, false, now);
}

/* ---- rules ---- */

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;

    return (a > b) - (a < b);
}

/* The slow_percentile of the window (nearest rank), or NAN while it is not full. */
static double window_percentile(const struct pstate *s)
{
    double sorted[100];
    size_t n = s->win_n, k;

    if (n < (size_t)s->p->slow_window)
        return NAN;
    memcpy(sorted, s->win, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), cmp_double);
    k = (size_t)ceil(s->p->slow_percentile * (double)n);
    return sorted[k > 0 ? k - 1 : 0];
}

/* Checks of the window under `bound` ms. */
static size_t window_below(const struct pstate *s, double bound)
{
    size_t n = 0;

    for (size_t j = 0; j < s->win_n; j++)
        n += s->win[j] < bound;
    return n;
}

/* The k-th smallest of the window (k = the percentile's nearest rank) is at or above a bound
 * when fewer than k checks are under it: a count decides, so the window is sorted (for the
 * message) only when the rule fires. Every check of every probe comes through here. */
static void rule_slow(struct alert *a, size_t i, double total_ms, int64_t now)
{
    struct pstate *s = &a->ps[i];
    double pct, slow = (double)s->p->slow_ms;
    size_t k;

    s->win[s->win_i] = total_ms;
    s->win_i = (s->win_i + 1) % (size_t)s->p->slow_window;
    if (s->win_n < (size_t)s->p->slow_window)
        s->win_n++;
    if (s->win_n < (size_t)s->p->slow_window)
        return;
    k = (size_t)ceil(s->p->slow_percentile * (double)s->win_n);
    if (k == 0)
        k = 1;
    if (window_below(s, slow) < k) {
        pct = window_percentile(s);
        fire(a, i, AK_SLOW, now, pct, "p%.0f of the last %ld checks is %.0f ms (threshold %.0f ms)",
             s->p->slow_percentile * 100, s->p->slow_window, pct, slow);
    } else if (window_below(s, slow * s->p->slow_clear) >= k) {
        resolve(a, i, AK_SLOW, now);
    }
}

static void rule_tls(struct alert *a, size_t i, const struct result *r, int64_t now)
{
    if (r->cert_expiry == 0)
        return;
    if (r->cert_expiring)
        fire(a, i, AK_TLS, now, r->cert_days, "the certificate expires in %d days", r->cert_days);
    else
        resolve(a, i, AK_TLS, now);
}

bool alert_result(struct alert *a, size_t i, const struct result *r, bool flagged, int64_t now)
{
    struct pstate *s = &a->ps[i];
    struct host *h = &a->hosts[s->host];
    bool ok = r->outcome == OUTCOME_OK;

    /* A flagged sample (vigie saturated while it ran: its timeout may be vigie's own) says
     * nothing about the service, nor about vigie's network: it counts for no rule, impairment
     * included — an overloaded vigie timing out everywhere is not cut off. */
    if (r->aborted || flagged)
        return false;
    h->last = now;
    h->failed = !ok && is_network(r->outcome);
    /* A canary is judged on its own checks: another probe of its host failing (a service down
     * behind the same name) says nothing about vigie's network. */
    s->last = now;
    s->last_failed = h->failed;
    if (!ok && is_network(r->outcome) && a->impaired)
        return true; /* vigie cannot see: neither a failure nor a success of the service */
    if (!s->p->alert_enabled)
        return false;
    if (ok) {
        s->fails = 0;
        s->oks++;
        if (s->oks >= s->p->alert_recover)
            resolve(a, i, AK_DOWN, now);
        rule_slow(a, i, (double)r->total_us / 1000.0, now);
    } else {
        s->oks = 0;
        s->fails++;
        if (s->fails >= s->p->alert_confirm)
            fire(a, i, AK_DOWN, now, NAN, "%s: %s (%ld failed checks in a row)",
                 outcome_str(r->outcome), r->msg, s->fails);
    }
    rule_tls(a, i, r, now);
    /* Only a confirmation or a recovery in progress is worth keeping across a restart; steady
     * counters are not (the state file stays small and is rarely written). */
    if (s->fails > 0 || (s->oks > 0 && s->oks < s->p->alert_recover && s->rec[AK_DOWN].firing))
        a->dirty = true;
    return false;
}

bool alert_confirming(const struct alert *a, size_t i)
{
    const struct pstate *s = &a->ps[i];

    if (a->impaired || !s->p->alert_enabled)
        return false;
    if (s->rec[AK_DOWN].firing)
        return s->oks > 0 && s->oks < s->p->alert_recover;
    return s->fails > 0 && s->fails < s->p->alert_confirm;
}

void alert_availability(struct alert *a, size_t i, double availability, int64_t now)
{
    const struct probe *p = a->ps[i].p;
    char pct[32];

    if (isnan(availability) || !p->alert_enabled)
        return;
    if (availability < p->avail_target)
        fire(a, i, AK_CRITERION, now, availability,
             "availability %s%% over %.0f days, under the %.1f%% target",
             criterion_pct(pct, sizeof(pct), availability, 3),
             (double)p->avail_window_ms / 86400000.0, p->avail_target * 100);
    else
        resolve(a, i, AK_CRITERION, now);
}

/* Impaired: every canary failed, or no canary answering and a large share of the hosts heard
 * from lately failed at the network level. */
static void judge_impaired(struct alert *a, int64_t now)
{
    const struct config *c = a->c;
    size_t recent = 0, failed = 0, can_total = 0, can_failed = 0;
    int64_t since = now - (int64_t)c->impaired_window_ms;
    bool impaired, canary_up = false;

    for (size_t i = 0; i < a->n; i++) {
        const struct pstate *s = &a->ps[i];

        if (!s->canary || s->last < since)
            continue;
        can_total++;
        can_failed += s->last_failed;
        canary_up = canary_up || !s->last_failed;
    }
    for (size_t i = 0; i < a->nhosts; i++) {
        const struct host *h = &a->hosts[i];

        if (h->only_canary || h->last < since)
            continue;
        recent++;
        failed += h->failed;
    }
    impaired = (can_total > 0 && can_failed == can_total) ||
               (!canary_up && recent >= (size_t)c->impaired_min_hosts &&
                (double)failed >= c->impaired_share * (double)recent);
    if (impaired == a->impaired)
        return;
    a->impaired = impaired;
    if (impaired)
        fire(a, SELF, AK_IMPAIRED, now, recent ? (double)failed / (double)recent : NAN,
             can_total > 0 && can_failed == can_total
                 ? "vigie cannot check: all %zu canaries fail"
                 : "vigie cannot check: %zu of the hosts fail at the network level",
             can_total > 0 && can_failed == can_total ? can_total : failed);
    else
        resolve(a, SELF, AK_IMPAIRED, now);
}

void alert_overload(struct alert *a, unsigned factor, const char *cause, int64_t now)
{
    struct rec *r = &a->self[AK_OVERLOADED];

    if (factor <= 1) {
        resolve(a, SELF, AK_OVERLOADED, now);
        return;
    }
    if (r->firing && r->value != (double)factor)
        a->dirty = true; /* the summary kept in the state file says the factor */
    fire(a, SELF, AK_OVERLOADED, now, (double)factor,
         "vigie overloaded (%s): each probe checked one tick in %u", cause, factor);
}

/* ---- maintenance ---- */

static bool in_list(const struct strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return true;
    return false;
}

static bool maint_covers(const struct maint *m, const struct probe *p, int64_t now)
{
    if (m->groups.n + m->probes.n > 0 &&
        !(p && (in_list(&m->groups, p->group) || in_list(&m->probes, p->id))))
        return false;
    if (m->from || m->to)
        return now / 1000 >= m->from && now / 1000 < m->to;
    {
        time_t t = (time_t)(now / 1000);
        struct tm tm;
        int min, wday;

        localtime_r(&t, &tm);
        min = tm.tm_hour * 60 + tm.tm_min;
        wday = tm.tm_wday;
        if (m->min_from < m->min_to)
            return (m->wday < 0 || m->wday == wday) && min >= m->min_from && min < m->min_to;
        /* wraps past midnight: the evening of the day, or the morning after */
        if (min >= m->min_from)
            return m->wday < 0 || m->wday == wday;
        return min < m->min_to && (m->wday < 0 || (m->wday + 1) % 7 == wday);
    }
}

static bool held(const struct alert *a, size_t i, int64_t now)
{
    const struct probe *p = i == SELF ? NULL : a->ps[i].p;

    for (size_t k = 0; k < a->c->nmaint; k++)
        if (maint_covers(&a->c->maint[k], p, now))
            return true;
    return false;
}

/* ---- routing and notifications ---- */

static bool route_matches(const struct route *rt, const struct alert *a, size_t i, int kind)
{
    if (rt->kinds && !(rt->kinds & (1u << kind)))
        return false;
    if (rt->severities && !(rt->severities & (1u << severity_of[kind])))
        return false;
    if (rt->groups.n && !in_list(&rt->groups, group_of(a, i)))
        return false;
    if (rt->probes.n && !in_list(&rt->probes, probe_id(a, i)))
        return false;
    return true;
}

static void rfc3339(char *buf, size_t len, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *alert_json(const struct alert *a, size_t i, int kind, bool firing)
{
    const struct rec *r = i == SELF ? &a->self[kind] : &a->ps[i].rec[kind];
    const struct probe *p = i == SELF ? NULL : a->ps[i].p;
    char since[32], ends[32];
    char url[RESULT_URL_MAX] = "";

    rfc3339(since, sizeof(since), r->since);
    rfc3339(ends, sizeof(ends), r->ends);
    if (p && p->url)
        url_redact(p->url, url, sizeof(url));
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:o}", "probe",
                     probe_id(a, i), "name", p ? p->name : "vigie", "group", group_of(a, i), "url",
                     url, "kind", config_alert_kinds[kind], "severity",
                     config_severities[severity_of[kind]], "status", firing ? "firing" : "resolved",
                     "since", since, "ends", firing ? json_null() : json_string(ends), "summary",
                     r->summary, "value", isnan(r->value) ? json_null() : json_real(r->value));
}

static struct bucket *bucket_for(struct bucket **bs, size_t *nb, size_t route, const char *group)
{
    struct bucket *nbs;

    for (size_t j = 0; j < *nb; j++)
        if ((*bs)[j].route == route && strcmp((*bs)[j].group, group) == 0)
            return &(*bs)[j];
    nbs = realloc(*bs, (*nb + 1) * sizeof(*nbs));
    if (!nbs)
        return NULL;
    *bs = nbs;
    memset(&nbs[*nb], 0, sizeof(nbs[*nb]));
    nbs[*nb].route = route;
    nbs[*nb].group = group;
    nbs[*nb].alerts = json_array();
    if (!nbs[*nb].alerts)
        return NULL;
    return &nbs[(*nb)++];
}

static void add_to(struct alert *a, struct bucket **bs, size_t *nb, size_t route, size_t i,
                   int kind, bool firing)
{
    struct bucket *b = bucket_for(bs, nb, route, group_of(a, i));

    if (!b || json_array_append_new(b->alerts, alert_json(a, i, kind, firing)) < 0) {
        log_err("alert: out of memory, %s %s not notified", probe_id(a, i),
                config_alert_kinds[kind]);
        return;
    }
    if (firing)
        b->firing[kind]++;
    else
        b->resolved++;
}

static void append(char *buf, size_t len, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
    va_list ap;
    int w;

    if (*off >= len)
        return;
    va_start(ap, fmt);
    w = vsnprintf(buf + *off, len - *off, fmt, ap);
    va_end(ap);
    if (w > 0)
        *off += (size_t)w;
}

/* "Ministère X: 12 down, 3 slow; 2 resolved" */
static void title(const struct bucket *b, char *buf, size_t len)
{
    static const char *const words[AK_N] = {"down",
                                            "slow",
                                            "certificate expiring",
                                            "criterion at risk",
                                            "vigie impaired",
                                            "vigie overloaded"};
    const char *sep = " ";
    size_t off = 0;

    buf[0] = '\0';
    append(buf, len, &off, "%s:", b->group[0] ? b->group : "vigie");
    for (int k = 0; k < AK_N; k++) {
        if (!b->firing[k])
            continue;
        append(buf, len, &off, "%s%u %s", sep, b->firing[k], words[k]);
        sep = ", ";
    }
    if (b->resolved)
        append(buf, len, &off, "%s%u resolved", sep[0] == ',' ? "; " : " ", b->resolved);
}

static void send_buckets(struct alert *a, struct bucket *bs, size_t nb, int64_t now)
{
    char created[32], t[256], id[64];

    rfc3339(created, sizeof(created), now);
    for (size_t j = 0; j < nb; j++) {
        const struct route *rt = &a->c->routes[bs[j].route];
        bool any_firing = false;

        for (int k = 0; k < AK_N; k++)
            any_firing = any_firing || bs[j].firing[k];
        title(&bs[j], t, sizeof(t));
        for (size_t r = 0; r < rt->receivers.n; r++) {
            json_t *n;

            snprintf(id, sizeof(id), "%lld-%ld-%llu", (long long)now, (long)getpid(),
                     (unsigned long long)++a->seq);
            n = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O}", "version", 1, "id", id,
                          "route", rt->name ? rt->name : "", "receiver", rt->receivers.v[r],
                          "group", bs[j].group, "created", created, "status",
                          any_firing ? "firing" : "resolved", "title", t, "alerts", bs[j].alerts);
            if (!n) {
                log_err("alert: out of memory, notification to %s lost", rt->receivers.v[r]);
                continue;
            }
            a->st.notifications++;
            a->send(a->arg, rt->receivers.v[r], n);
            json_decref(n);
        }
        json_decref(bs[j].alerts);
    }
    free(bs);
}

/* Routes one transition into the buckets. */
static void route_one(struct alert *a, struct bucket **bs, size_t *nb, size_t i, int kind,
                      bool firing, int64_t now)
{
    struct rec *r = rec_of(a, i, kind);

    for (size_t k = 0; k < a->c->nroutes; k++) {
        const struct route *rt = &a->c->routes[k];

        if (firing) {
            if (!route_matches(rt, a, i, kind))
                continue;
            add_to(a, bs, nb, k, i, kind, true);
            r->last_sent[k] = now;
        } else {
            if (!r->last_sent[k])
                continue; /* the firing went elsewhere */
            if (rt->send_resolved)
                add_to(a, bs, nb, k, i, kind, false);
            r->last_sent[k] = 0;
            continue;
        }
        if (!rt->cont)
            break;
    }
    r->sent = firing;
    r->held = false;
}

void alert_flush(struct alert *a, int64_t now)
{
    struct bucket *bs = NULL;
    size_t nb = 0;

    for (size_t j = 0; j < a->npend; j++) {
        const struct pending *pd = &a->pend[j];
        struct rec *r = rec_of(a, pd->probe, pd->kind);

        if (pd->firing) {
            if (!r->firing)
                continue;
            if (held(a, pd->probe, now)) {
                r->held = true;
                a->st.held++;
                continue;
            }
        } else if (!r->sent) {
            continue;
        }
        route_one(a, &bs, &nb, pd->probe, pd->kind, pd->firing, now);
        a->dirty = true;
    }
    a->npend = 0;
    send_buckets(a, bs, nb, now);
}

/* Alerts still firing: held ones whose window ended, and repeats that are due. */
static void revisit(struct alert *a, int64_t now)
{
    struct bucket *bs = NULL;
    size_t nb = 0;

    for (size_t i = 0; i <= a->n; i++) {
        size_t pi = i == a->n ? SELF : i;

        for (int kind = 0; kind < AK_N; kind++) {
            struct rec *r;

            if ((pi == SELF) != self_kind(kind))
                continue;
            r = rec_of(a, pi, kind);
            if (!r->firing)
                continue;
            if (r->held) {
                if (!held(a, pi, now)) {
                    route_one(a, &bs, &nb, pi, kind, true, now);
                    a->dirty = true;
                }
                continue;
            }
            for (size_t k = 0; r->sent && k < a->c->nroutes; k++) {
                const struct route *rt = &a->c->routes[k];

                if (r->last_sent[k] && rt->repeat_ms &&
                    now - r->last_sent[k] >= (int64_t)rt->repeat_ms) {
                    add_to(a, &bs, &nb, k, pi, kind, true);
                    r->last_sent[k] = now;
                    a->dirty = true;
                }
            }
        }
    }
    send_buckets(a, bs, nb, now);
}

void alert_tick(struct alert *a, int64_t now)
{
    judge_impaired(a, now);
    if (a->npend > 0 && now - a->pend_since >= (int64_t)a->c->group_wait_ms)
        alert_flush(a, now);
    revisit(a, now);
}

void alert_stats(const struct alert *a, struct alert_stats *out)
{
    *out = a->st;
    out->firing = a->self[AK_IMPAIRED].firing + a->self[AK_OVERLOADED].firing;
    for (size_t i = 0; i < a->n; i++)
        for (int k = 0; k < AK_N; k++)
            out->firing += a->ps[i].rec[k].firing;
    out->impaired = a->impaired;
    out->overloaded = a->self[AK_OVERLOADED].firing;
}

bool alert_dirty(const struct alert *a)
{
    return a->dirty;
}

/* ---- state ---- */

static json_t *rec_save(const struct alert *a, const struct rec *r)
{
    json_t *sent = json_object();

    for (size_t k = 0; sent && k < a->c->nroutes; k++)
        if (r->last_sent[k] && a->c->routes[k].name)
            json_object_set_new(sent, a->c->routes[k].name, json_integer(r->last_sent[k]));
    return json_pack("{s:I, s:b, s:b, s:s, s:o, s:o}", "since", (json_int_t)r->since, "sent",
                     r->sent, "held", r->held, "summary", r->summary, "value",
                     isnan(r->value) ? json_null() : json_real(r->value), "last_sent",
                     sent ? sent : json_object());
}

json_t *alert_state_save(struct alert *a)
{
    json_t *probes = json_object(), *root;

    for (size_t i = 0; probes && i < a->n; i++) {
        const struct pstate *s = &a->ps[i];
        json_t *alerts;

        if (s->fails == 0 && !s->rec[AK_DOWN].firing && !s->rec[AK_SLOW].firing &&
            !s->rec[AK_TLS].firing && !s->rec[AK_CRITERION].firing)
            continue;
        alerts = json_object();
        for (int k = 0; alerts && k < AK_N; k++)
            if (s->rec[k].firing)
                json_object_set_new(alerts, config_alert_kinds[k], rec_save(a, &s->rec[k]));
        json_object_set_new(probes, s->p->id,
                            json_pack("{s:I, s:I, s:o}", "fails", (json_int_t)s->fails, "oks",
                                      (json_int_t)s->oks, "alerts", alerts ? alerts : json_null()));
    }
    root = json_pack("{s:i, s:o, s:o, s:o}", "vigie_alert_state", 1, "probes", probes, "impaired",
                     a->self[AK_IMPAIRED].firing ? rec_save(a, &a->self[AK_IMPAIRED]) : json_null(),
                     "overloaded",
                     a->self[AK_OVERLOADED].firing ? rec_save(a, &a->self[AK_OVERLOADED])
                                                   : json_null());
    a->dirty = false;
    return root;
}

static void rec_load(struct alert *a, size_t i, int kind, const json_t *j, int64_t now)
{
    struct rec *r = rec_of(a, i, kind);
    json_t *sent = json_object_get(j, "last_sent"), *v;
    const char *summary = json_string_value(json_object_get(j, "summary"));

    r->firing = true;
    r->since = json_integer_value(json_object_get(j, "since"));
    r->sent = json_is_true(json_object_get(j, "sent"));
    r->held = json_is_true(json_object_get(j, "held"));
    v = json_object_get(j, "value");
    r->value = json_is_number(v) ? json_number_value(v) : NAN;
    snprintf(r->summary, sizeof(r->summary), "%s", summary ? summary : "");
    for (size_t k = 0; k < a->c->nroutes; k++)
        if (a->c->routes[k].name)
            r->last_sent[k] = json_integer_value(json_object_get(sent, a->c->routes[k].name));
    /* A firing alert not sent yet (or sent on routes that no longer exist) goes out again. */
    if (!r->held && !r->sent)
        push_pending(a, i, kind, true, now);
}

int alert_state_load(struct alert *a, const json_t *state, int64_t now)
{
    json_t *probes = json_object_get(state, "probes"), *imp, *ov;

    if (!json_is_object(state) ||
        json_integer_value(json_object_get(state, "vigie_alert_state")) != 1 ||
        !json_is_object(probes))
        return -EINVAL;
    for (size_t i = 0; i < a->n; i++) {
        struct pstate *s = &a->ps[i];
        json_t *ps = json_object_get(probes, s->p->id), *alerts;

        if (!json_is_object(ps))
            continue;
        s->fails = (long)json_integer_value(json_object_get(ps, "fails"));
        s->oks = (long)json_integer_value(json_object_get(ps, "oks"));
        alerts = json_object_get(ps, "alerts");
        for (int k = 0; k < AK_N; k++) {
            json_t *j = json_object_get(alerts, config_alert_kinds[k]);

            if (!self_kind(k) && json_is_object(j))
                rec_load(a, i, k, j, now);
        }
    }
    imp = json_object_get(state, "impaired");
    if (json_is_object(imp)) {
        rec_load(a, SELF, AK_IMPAIRED, imp, now);
        a->impaired = true;
    }
    /* Firing until the daemon says otherwise (alert_overload): at a start, that it is not
     * shedding (a new process starts at factor 1); at a reload, nothing (the shedding goes on). */
    ov = json_object_get(state, "overloaded");
    if (json_is_object(ov))
        rec_load(a, SELF, AK_OVERLOADED, ov, now);
    return 0;
}
