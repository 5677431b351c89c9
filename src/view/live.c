/* live — the daemon's live state of every probe (see live.h). */
#include "view/live.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "view/dash.h"

/* The state of one configuration's probes: rows[i] and verdict[i] are cfg->probes[i]'s. */
struct table {
    const struct config *cfg;
    struct dash_row *rows;
    signed char *verdict; /* the last counted check's enum verdict, -1 unknown */
};

struct live {
    struct table cur;
    struct table next; /* live_prepare's, until live_commit or live_cancel */
    unsigned commits;  /* so that a refresh knows whether its rows are still the current ones */
    /* the refresh in flight */
    bool refreshing;
    unsigned refresh_commits;
    void (*done)(void *arg, int rc, const char *err);
    void *arg;
};

/* Every probe of cfg live and unchecked, verdicts unknown. */
static int table_init(struct table *t, const struct config *cfg)
{
    size_t n = cfg->nprobes;

    t->cfg = cfg;
    t->rows = calloc(n ? n : 1, sizeof(*t->rows));
    t->verdict = malloc(n ? n : 1);
    if (!t->rows || !t->verdict) {
        free(t->rows);
        free(t->verdict);
        memset(t, 0, sizeof(*t));
        return -ENOMEM;
    }
    memset(t->verdict, -1, n);
    for (size_t i = 0; i < n; i++) {
        dash_row_init(&t->rows[i], &cfg->probes[i]);
        t->rows[i].live = true;
        t->rows[i].state = DASH_UNCHECKED;
    }
    return 0;
}

/* Frees the arrays; the rows' own memory only when `rows` is set (else it was moved). */
static void table_fini(struct table *t, bool rows)
{
    for (size_t i = 0; rows && t->rows && i < t->cfg->nprobes; i++)
        dash_row_fini(&t->rows[i]);
    free(t->rows);
    free(t->verdict);
    memset(t, 0, sizeof(*t));
}

struct live *live_new(const struct config *cfg)
{
    struct live *l = calloc(1, sizeof(*l));

    if (l && table_init(&l->cur, cfg) < 0) {
        free(l);
        l = NULL;
    }
    return l;
}

void live_free(struct live *l)
{
    if (!l)
        return;
    live_cancel(l);
    table_fini(&l->cur, true);
    free(l);
}

int live_record(struct live *l, size_t i, const struct probe *p, const struct result *r, time_t t)
{
    struct dash_row *row = &l->cur.rows[i];
    bool up = r->outcome == OUTCOME_OK;
    int was = l->cur.verdict[i];

    row->state = dash_state_of(p, up, up ? (double)r->total_us / 1000.0 : NAN);
    row->last_time = t;
    row->last_ms = up ? (double)r->total_us / 1000.0 : NAN;
    if (!up)
        dash_row_add_error(row, t, outcome_str(r->outcome), r->msg);
    l->cur.verdict[i] = (signed char)r->verdict;
    return was;
}

void live_count(const struct live *l, size_t *down, size_t *degraded)
{
    *down = *degraded = 0;
    for (size_t i = 0; i < l->cur.cfg->nprobes; i++) {
        *down += l->cur.verdict[i] == VERDICT_DOWN;
        *degraded += l->cur.verdict[i] == VERDICT_DEGRADED;
    }
}

/* dash_refresh's callback, on the loop thread. */
static void on_refreshed(void *arg, int rc, const char *err, const struct dash_refreshed *r)
{
    struct live *l = arg;

    l->refreshing = false;
    if (l->refresh_commits == l->commits)
        dash_keep_summaries(l->cur.rows, l->cur.cfg->nprobes, r);
    if (l->done)
        l->done(l->arg, rc, err);
}

int live_refresh(struct live *l, uv_loop_t *loop, void (*done)(void *arg, int rc, const char *err),
                 void *arg)
{
    struct dash_refresh_opts o;
    int rc;

    if (l->refreshing)
        return -EBUSY;
    dash_opts_from_config(l->cur.cfg, &o);
    /* the snapshot: dash_refresh copies the rows before it returns */
    rc = dash_refresh(loop, &o, l->cur.rows, l->cur.cfg->nprobes, on_refreshed, l);
    if (rc != 0)
        return rc;
    l->refreshing = true;
    l->refresh_commits = l->commits;
    l->done = done;
    l->arg = arg;
    return 0;
}

int live_prepare(struct live *l, const struct config *c)
{
    live_cancel(l);
    return table_init(&l->next, c);
}

size_t live_commit(struct live *l)
{
    const struct config *c = l->next.cfg, *oc = l->cur.cfg;
    size_t kept = 0;

    for (size_t i = 0; i < c->nprobes; i++) {
        const struct probe *op = config_find(oc, c->probes[i].id);

        if (op) {
            size_t j = (size_t)(op - oc->probes);

            l->next.rows[i] = l->cur.rows[j]; /* what row j owns moves with it */
            l->next.rows[i].probe = &c->probes[i];
            l->next.verdict[i] = l->cur.verdict[j];
            kept++;
        }
    }
    for (size_t j = 0; j < oc->nprobes; j++)
        if (!config_find(c, oc->probes[j].id))
            dash_row_fini(&l->cur.rows[j]); /* a removed probe's errors (kept ones moved) */
    table_fini(&l->cur, false);
    l->cur = l->next;
    memset(&l->next, 0, sizeof(l->next));
    l->commits++;
    return kept;
}

void live_cancel(struct live *l)
{
    if (l->next.rows)
        table_fini(&l->next, true);
}
