/* notify — the receivers' queues, retries and the pump; the API of notify.h.
 *
 * Shape: one `struct rstate` per receiver name holds a FIFO of pending items, at most one attempt
 * in flight, its backoff (retry_at, failures) and a ring of the times of its last `rate_limit`
 * deliveries. notify_pump() walks the receivers and starts what may start; it arms the one timer
 * for the earliest moment something else may (a backoff ends, the rate window slides). Every
 * completion (a transfer, an exec'd program, a spool operation) ends in notify_pump().
 *
 * The rest of the module (notify_int.h has the map): the spool in spool.c, the back-ends in
 * exec.c, webhook.c and smtp.c, the messages' text in render.c.
 *
 * Closing: the timer is closed, transfers cancelled, programs killed; the notifier is freed when
 * the last handle and the last spool operation are done (`busy` counts them). */
#include "notify/notify.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/container.h"
#include "base/log.h"
#include "base/prng.h"
#include "notify/notify_int.h"

#define ID_MAX 128
#define HOUR_MS 3600000ULL

/* ---- small helpers ---- */

static bool id_valid(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > ID_MAX || s[0] == '.')
        return false;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("._-", *p))
            return false;
    return true;
}

const char *notify_check(const json_t *j)
{
    const json_t *alerts = json_object_get(j, "alerts");
    const char *st;
    size_t i;
    json_t *a;

    if (!json_is_object(j))
        return "not a JSON object";
    if (json_integer_value(json_object_get(j, "version")) != 1)
        return "\"version\" is not 1";
    if (!json_is_string(json_object_get(j, "id")) || !id_valid(jstr(j, "id")))
        return "\"id\" is missing or not [A-Za-z0-9._-]{1,128}";
    if (!*jstr(j, "receiver"))
        return "\"receiver\" is missing";
    st = jstr(j, "status");
    if (strcmp(st, "firing") != 0 && strcmp(st, "resolved") != 0)
        return "\"status\" is neither firing nor resolved";
    if (!json_is_string(json_object_get(j, "title")))
        return "\"title\" is missing";
    if (!json_is_array(alerts))
        return "\"alerts\" is not an array";
    json_array_foreach(alerts, i, a)
    {
        if (!json_is_object(a))
            return "an alert is not an object";
    }
    return NULL;
}

void notify_item_free(struct item *it)
{
    if (!it)
        return;
    json_decref(it->j);
    free(it->id);
    free(it->rname);
    free(it);
}

/* ---- receivers' state ---- */

static void rstate_bind(struct rstate *rs, const struct receiver *rc)
{
    size_t cap = rc && rc->rate_limit > 0 ? (size_t)rc->rate_limit : 0;

    rs->rc = rc;
    if (cap != rs->ring_cap) {
        uint64_t *ring = cap ? calloc(cap, sizeof(*ring)) : NULL;

        free(rs->ring);
        rs->ring = ring;
        rs->ring_cap = ring ? cap : 0;
        rs->ring_len = rs->ring_head = 0;
    }
}

static struct rstate *rstate_get(struct notify *n, const char *name, bool create)
{
    struct rstate *rs, **tail = &n->rs;

    for (rs = n->rs; rs; rs = rs->next) {
        if (strcmp(rs->name, name) == 0)
            return rs;
        tail = &rs->next;
    }
    if (!create)
        return NULL;
    rs = calloc(1, sizeof(*rs));
    if (!rs)
        return NULL;
    rs->name = strdup(name);
    if (!rs->name) {
        free(rs);
        return NULL;
    }
    rstate_bind(rs, config_receiver(n->cfg, name));
    *tail = rs;
    return rs;
}

static void rstate_free(struct rstate *rs)
{
    struct item *it = rs->head;

    while (it) {
        struct item *next = it->next;

        notify_item_free(it);
        it = next;
    }
    free(rs->ring);
    free(rs->name);
    free(rs);
}

void notify_enqueue(struct notify *n, struct item *it)
{
    struct rstate *rs = rstate_get(n, it->rname, true);

    if (!rs) {
        log_err("notify: out of memory, notification %s kept in the spool only", it->id);
        notify_item_free(it);
        return;
    }
    if (!rs->rc && rs->queued == 0)
        log_warn("notify: receiver \"%s\" is not configured: its notifications stay in the "
                 "spool until it is",
                 rs->name);
    it->rs = rs;
    it->next = NULL;
    if (rs->tail)
        rs->tail->next = it;
    else
        rs->head = it;
    rs->tail = it;
    rs->queued++;
    rs->st.submitted++;
}

static bool rate_spent(const struct rstate *rs, uint64_t now, uint64_t *until)
{
    uint64_t oldest;

    if (rs->ring_cap == 0 || rs->ring_len < rs->ring_cap)
        return false;
    oldest = rs->ring[rs->ring_head]; /* the ring is full: head is the oldest */
    if (now >= oldest + HOUR_MS)
        return false;
    *until = oldest + HOUR_MS;
    return true;
}

static void rate_record(struct rstate *rs, uint64_t now)
{
    if (rs->ring_cap == 0)
        return;
    if (rs->ring_len < rs->ring_cap) {
        rs->ring[(rs->ring_head + rs->ring_len++) % rs->ring_cap] = now;
    } else {
        rs->ring[rs->ring_head] = now;
        rs->ring_head = (rs->ring_head + 1) % rs->ring_cap;
    }
}

/* ---- attempts ---- */

static uint64_t backoff_ms(struct notify *n, const struct rstate *rs)
{
    const struct receiver *rc = rs->rc;
    uint64_t d = rc ? rc->backoff_min_ms : 1000, cap = rc ? rc->backoff_max_ms : 30000;

    for (unsigned i = 1; i < rs->failures && d < cap; i++)
        d *= 2;
    if (d > cap)
        d = cap;
    /* jitter: somewhere in [d/2, d], so receivers coming back are not hit all at once */
    return d / 2 + prng_next(&n->rng) % (d / 2 + 1);
}

void notify_attempt_end(struct notify *n, struct rstate *rs, struct item *it, bool ok,
                        bool rejected, const char *key, const char *why)
{
    uint64_t now = uv_now(n->loop);

    if (ok) {
        rs->head = it->next;
        if (!rs->head)
            rs->tail = NULL;
        rs->queued--;
        rs->st.sent++;
        rate_record(rs, now);
        if (rs->last_err[0])
            log_notice("notify: receiver \"%s\" accepts notifications again (after %u failed "
                       "attempt%s)",
                       rs->name, rs->failures, rs->failures == 1 ? "" : "s");
        else
            log_info("notify: %s \"%s\" delivered to \"%s\"", jstr(it->j, "status"),
                     jstr(it->j, "title"), rs->name);
        rs->last_err[0] = '\0';
        rs->failures = 0;
        rs->retry_at = 0;
        if (it->spooled)
            spool_start_remove(n, it->id);
        notify_item_free(it);
        return;
    }
    rs->failures++;
    rs->st.retried++;
    rs->retry_at = now + backoff_ms(n, rs);
    /* once per cause: a receiver down for an hour is one line, not one per retry */
    if (strcmp(rs->last_err, key) != 0) {
        log_warn("notify: receiver \"%s\": %s; %zu notification%s pending, retrying with "
                 "backoff",
                 rs->name, why, rs->queued, rs->queued == 1 ? "" : "s");
        snprintf(rs->last_err, sizeof(rs->last_err), "%s", key);
    } else {
        log_debug("notify: receiver \"%s\": %s (attempt %u)", rs->name, why, rs->failures);
    }
    if (rejected && rs->head == it && it->next) {
        rs->head = it->next;
        rs->tail->next = it;
        rs->tail = it;
        it->next = NULL;
    }
}

void notify_attempt_free(struct attempt *a)
{
    free(a->payload);
    free(a);
}

static void attempt_start(struct notify *n, struct rstate *rs)
{
    struct attempt *a = calloc(1, sizeof(*a));
    int err = -ENOMEM;

    if (a) {
        a->n = n;
        a->rs = rs;
        a->it = rs->head;
        a->exec = rs->rc->type == RECEIVER_EXEC;
        if (a->exec)
            snprintf(a->prog, sizeof(a->prog), "%s", rs->rc->command[0]);
        rs->busy = a;
        n->busy++;
        switch (rs->rc->type) {
        case RECEIVER_EXEC:
            err = exec_start(n, a);
            break;
        case RECEIVER_SMTP:
            err = smtp_start(n, a);
            break;
        case RECEIVER_WEBHOOK:
        case RECEIVER_ALERTMANAGER:
            err = webhook_start(n, a);
            break;
        }
        if (err == 0)
            return;
        rs->busy = NULL;
        n->busy--;
    }
    char why[ERR_MAX];

    snprintf(why, sizeof(why), "cannot start a delivery: %s", strerror(-err));
    notify_attempt_end(n, rs, rs->head, false, false, "start", why);
    if (a)
        notify_attempt_free(a);
}

/* ---- the pump ---- */

static void on_wake(uv_timer_t *t)
{
    notify_pump(container_of(t, struct notify, timer));
}

void notify_pump(struct notify *n)
{
    uint64_t now, wake = UINT64_MAX;

    if (n->closing)
        return;
    now = uv_now(n->loop);
    for (struct rstate *rs = n->rs; rs; rs = rs->next) {
        uint64_t until;

        rs->held = false;
        if (rs->busy || !rs->head || !rs->rc || rs->head->writing)
            continue;
        if (rs->retry_at > now) {
            if (rs->retry_at < wake)
                wake = rs->retry_at;
            continue;
        }
        if (rate_spent(rs, now, &until)) {
            if (!rs->held_logged)
                log_warn("notify: receiver \"%s\": rate limit of %ld per hour reached, %zu "
                         "notification%s held in the spool",
                         rs->name, rs->rc->rate_limit, rs->queued, rs->queued == 1 ? "" : "s");
            rs->held = true;
            rs->held_logged = true;
            if (until < wake)
                wake = until;
            continue;
        }
        rs->held_logged = false;
        attempt_start(n, rs);
        if (!rs->busy && rs->retry_at > now && rs->retry_at < wake)
            wake = rs->retry_at;
    }
    if (wake != UINT64_MAX)
        uv_timer_start(&n->timer, on_wake, wake - now, 0);
    else
        uv_timer_stop(&n->timer);
}

/* ---- the API ---- */

int notify_new(uv_loop_t *loop, struct httpc *h, const struct config *cfg, const char *spool_dir,
               struct notify **out)
{
    struct notify *n = calloc(1, sizeof(*n));
    int err = -ENOMEM;

    *out = NULL;
    if (!n)
        return -ENOMEM;
    n->loop = loop;
    n->h = h;
    n->cfg = cfg;
    n->rng = uv_hrtime() ^ ((uint64_t)getpid() << 32) ^ 0x9E3779B97F4A7C15ULL;
    n->dir = strdup(spool_dir);
    if (!n->dir)
        goto fail;
    for (size_t i = 0; cfg && i < cfg->nreceivers; i++)
        if (!rstate_get(n, cfg->receivers[i].name, true))
            goto fail;
    err = uv_timer_init(loop, &n->timer);
    if (err)
        goto fail;
    n->busy = 1; /* the timer */
    if (spool_start_scan(n) != 0) {
        /* no scan: deliver from memory, and say so */
        n->scanned = true;
        n->spool_errors++;
        log_err("notify: cannot scan the spool %s", n->dir);
    }
    *out = n;
    return 0;
fail:
    while (n->rs) {
        struct rstate *rs = n->rs;

        n->rs = rs->next;
        rstate_free(rs);
    }
    free(n->dir);
    free(n);
    return err;
}

int notify_make_id(struct notify *n, char *buf, size_t len)
{
    struct timespec ts;
    int k;

    clock_gettime(CLOCK_REALTIME, &ts);
    k = snprintf(buf, len, "%013lld-%d-%llu", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
                 (int)getpid(), (unsigned long long)++n->seq);
    return k < 0 || (size_t)k >= len ? -ENOSPC : 0;
}

int notify_submit(struct notify *n, json_t *notification)
{
    const char *why = notify_check(notification);
    const char *id, *rname;
    struct item *it;

    if (n->closing)
        return -ECANCELED;
    if (why) {
        log_err("notify: notification refused: %s", why);
        return -EINVAL;
    }
    id = jstr(notification, "id");
    rname = jstr(notification, "receiver");
    if (!config_receiver(n->cfg, rname)) {
        log_err("notify: notification %s refused: no receiver named \"%s\"", id, rname);
        return -ENOENT;
    }
    for (struct rstate *rs = n->rs; rs; rs = rs->next)
        for (struct item *p = rs->head; p; p = p->next)
            if (strcmp(p->id, id) == 0)
                return -EEXIST;
    for (struct item *p = n->early; p; p = p->next)
        if (strcmp(p->id, id) == 0)
            return -EEXIST;
    it = calloc(1, sizeof(*it));
    if (!it)
        return -ENOMEM;
    it->j = json_deep_copy(notification);
    it->id = strdup(id);
    it->rname = strdup(rname);
    if (!it->j || !it->id || !it->rname) {
        notify_item_free(it);
        return -ENOMEM;
    }
    if (!n->scanned) {
        /* the scan would find its file and resume it a second time */
        if (n->early_tail)
            n->early_tail->next = it;
        else
            n->early = it;
        n->early_tail = it;
        return 0;
    }
    /* queued now, so that a receiver gets notifications in the order they were submitted */
    notify_enqueue(n, it);
    spool_start_write(n, it);
    return 0;
}

bool notify_spooling(const struct notify *n)
{
    if (n->early)
        return true;
    for (const struct rstate *rs = n->rs; rs; rs = rs->next)
        for (const struct item *p = rs->head; p; p = p->next)
            if (p->writing)
                return true;
    return false;
}

void notify_reload(struct notify *n, const struct config *cfg)
{
    n->cfg = cfg;
    for (struct rstate *rs = n->rs; rs; rs = rs->next) {
        const struct receiver *rc = config_receiver(cfg, rs->name);

        if (!rc && rs->rc && rs->queued > 0)
            log_warn("notify: receiver \"%s\" was removed: %zu notification%s kept in the "
                     "spool until it is back",
                     rs->name, rs->queued, rs->queued == 1 ? "" : "s");
        rstate_bind(rs, rc);
    }
    for (size_t i = 0; cfg && i < cfg->nreceivers; i++)
        rstate_get(n, cfg->receivers[i].name, true);
    notify_pump(n);
}

static void stats_add(struct notify_stats *st, const struct rstate *rs)
{
    st->submitted += rs->st.submitted;
    st->sent += rs->st.sent;
    st->retried += rs->st.retried;
    st->pending += rs->queued;
    if (rs->held)
        st->held += rs->queued;
    if (!rs->rc)
        st->orphaned += rs->queued;
}

void notify_stats(const struct notify *n, struct notify_stats *st)
{
    memset(st, 0, sizeof(*st));
    for (const struct rstate *rs = n->rs; rs; rs = rs->next)
        stats_add(st, rs);
    for (const struct item *p = n->early; p; p = p->next) {
        st->submitted++;
        st->pending++;
    }
    st->spool_errors = n->spool_errors;
}

int notify_receiver_stats(const struct notify *n, const char *name, struct notify_stats *st)
{
    memset(st, 0, sizeof(*st));
    for (const struct rstate *rs = n->rs; rs; rs = rs->next) {
        if (strcmp(rs->name, name) == 0) {
            stats_add(st, rs);
            return 0;
        }
    }
    return -ENOENT;
}

void notify_maybe_closed(struct notify *n)
{
    void (*cb)(void *);
    void *arg;

    if (!n->closing || n->busy > 0)
        return;
    while (n->rs) {
        struct rstate *rs = n->rs;

        n->rs = rs->next;
        rstate_free(rs);
    }
    while (n->early) {
        struct item *it = n->early;

        n->early = it->next;
        notify_item_free(it);
    }
    cb = n->close_cb;
    arg = n->close_arg;
    free(n->dir);
    free(n);
    if (cb)
        cb(arg);
}

static void on_timer_closed(uv_handle_t *handle)
{
    struct notify *n = container_of((uv_timer_t *)handle, struct notify, timer);

    n->busy--;
    notify_maybe_closed(n);
}

void notify_close(struct notify *n, void (*cb)(void *arg), void *arg)
{
    n->closing = true;
    n->close_cb = cb;
    n->close_arg = arg;
    n->busy++; /* hold off maybe_closed until every cancellation below has run */
    for (struct rstate *rs = n->rs; rs; rs = rs->next) {
        struct attempt *a = rs->busy;

        if (!a)
            continue;
        if (a->exec)
            exec_kill(a); /* ends in exec_closed */
        else
            httpc_cancel(n->h, a); /* ends in webhook_sent, now */
    }
    uv_close((uv_handle_t *)&n->timer, on_timer_closed);
    n->busy--;
    notify_maybe_closed(n);
}
