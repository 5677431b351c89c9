/* dash — the dashboard's data and its writing (see dash.h and docs/DASHBOARD.md): the rows and
 * what dash_collect reads into them from the RRD files, dash_write (which probe pages are due;
 * dashpage.c makes them), and the daemon's refresh job on the thread pool. */
#include "view/dash.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/container.h"
#include "base/fnv.h"
#include "base/fsx.h"
#include "base/worker.h"
#include "view/dash_int.h"
#include "view/graph.h"

const time_t dash_window_span[DASH_NWIN] = {86400, 7 * 86400, 92 * 86400};
const time_t dash_window_refresh[DASH_NWIN] = {300, 600, 3600};

static const char *const state_names[DASH_STATE__COUNT] = {"down", "slow", "unchecked", "nodata",
                                                           "ok"};

const char *dash_state_name(enum dash_state s)
{
    return (unsigned)s < DASH_STATE__COUNT ? state_names[s] : "?";
}

/* ---- rows ---- */

void dash_row_init(struct dash_row *r, const struct probe *p)
{
    memset(r, 0, sizeof(*r));
    r->probe = p;
    r->state = DASH_NODATA;
    r->last_ms = NAN;
    for (int w = 0; w < DASH_NWIN; w++)
        r->sum_err[w] = -ENOENT;
}

static void copy_str(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

void dash_row_add_error(struct dash_row *r, time_t t, const char *outcome, const char *msg)
{
    size_t keep = r->nerrors < DASH_ERRORS_MAX ? r->nerrors : DASH_ERRORS_MAX - 1;

    if (!r->errors) {
        r->errors = calloc(DASH_ERRORS_MAX, sizeof(*r->errors));
        r->nerrors = keep = 0;
        if (!r->errors)
            return;
    }
    memmove(&r->errors[1], &r->errors[0], keep * sizeof(r->errors[0]));
    r->errors[0].time = t;
    copy_str(r->errors[0].outcome, sizeof(r->errors[0].outcome), outcome);
    copy_str(r->errors[0].msg, sizeof(r->errors[0].msg), msg);
    r->nerrors = keep + 1;
}

void dash_row_fini(struct dash_row *r)
{
    free(r->errors);
    r->errors = NULL;
    r->nerrors = 0;
    free(r->sum_msg);
    r->sum_msg = NULL;
}

enum dash_state dash_state_of(const struct probe *p, bool up, double total_ms)
{
    if (!up)
        return DASH_DOWN;
    if (!isnan(total_ms) && total_ms >= (double)p->slow_ms)
        return DASH_SLOW;
    return DASH_OK;
}

size_t dash_collect(const char *rrd_dir, struct dash_row *rows, size_t n, time_t now,
                    time_t flush_s)
{
    size_t have = 0;

    for (size_t i = 0; i < n; i++) {
        struct dash_row *r = &rows[i];
        const struct rrdq_summary *day = &r->sum[DASH_DAY];
        bool any = false, failing = false;

        /* the message of the latest failed read, kept while a window is in error (windows are
         * read again minutes apart: the page must not lose it in between) */
        for (int w = 0; w < DASH_NWIN; w++) {
            char msg[256];

            if (r->sum_at[w] && now - r->sum_at[w] < dash_window_refresh[w]) {
                any = any || (r->sum_err[w] == 0 && r->sum[w].samples > 0);
                continue; /* read lately: kept */
            }
            r->sum_at[w] = now;
            /* the step is the probe's interval (rrdw moves a file with another one aside): kept
             * only when it is, so that a file about to be moved is read as it is */
            if (r->sum_step != r->probe->interval_ms / 1000)
                r->sum_step = 0;
            r->sum_err[w] = rrdq_summary_step(rrd_dir, r->probe->id, now, dash_window_span[w],
                                              &r->sum_step, &r->sum[w], msg, sizeof(msg));
            if (r->sum_err[w] == 0 && r->sum[w].samples > 0)
                any = true;
            if (r->sum_err[w] != 0 && r->sum_err[w] != -ENOENT) {
                /* without the directory: the pages may be public, the server's paths are not */
                size_t dl = strlen(rrd_dir);
                bool in_dir = strncmp(msg, rrd_dir, dl) == 0 && msg[dl] == '/';

                free(r->sum_msg);
                r->sum_msg = strdup(in_dir ? msg + dl + 1 : msg); /* NULL: not said */
            }
        }
        for (int w = 0; w < DASH_NWIN; w++)
            failing = failing || (r->sum_err[w] != 0 && r->sum_err[w] != -ENOENT);
        if (!failing) {
            free(r->sum_msg);
            r->sum_msg = NULL;
        }
        have += any;
        if (r->live)
            continue;
        /* From the files alone: the newest counted sample of the last 24 hours. */
        if (!any) {
            r->state = DASH_NODATA;
            r->last_time = 0;
            r->last_ms = NAN;
            continue;
        }
        if (r->sum_err[DASH_DAY] != 0 || day->last_time == 0) {
            r->state = DASH_UNCHECKED;
            r->last_time = 0;
            r->last_ms = NAN;
            continue;
        }
        r->last_time = day->last_time;
        r->last_ms = day->last_up ? day->last_total_ms : NAN;
        if (now - day->last_time > 3 * (time_t)(r->probe->interval_ms / 1000) + flush_s)
            r->state = DASH_UNCHECKED;
        else
            r->state = dash_state_of(r->probe, day->last_up, day->last_total_ms);
    }
    return have;
}

/* ---- dash_write ---- */

/* FNV-1a over what a probe's page shows, but its "last check" line. */
static uint64_t page_sig(const char *dir, const struct dash_row *r, enum lang lang,
                         unsigned formats)
{
    uint64_t h = fnv1a_str(FNV_OFFSET, dir);
    int st = (int)r->state;

    h = fnv1a(h, &r->probe, sizeof(r->probe)); /* a reload: new settings, maybe a new name */
    h = fnv1a(h, &st, sizeof(st));
    h = fnv1a(h, &lang, sizeof(lang));
    h = fnv1a(h, &formats, sizeof(formats));
    h = fnv1a(h, r->sum_at, sizeof(r->sum_at));
    h = fnv1a(h, r->sum_err, sizeof(r->sum_err));
    if (r->sum_msg)
        h = fnv1a(h, r->sum_msg, strlen(r->sum_msg));
    h = fnv1a(h, &r->nerrors, sizeof(r->nerrors));
    if (r->errors && r->nerrors) {
        h = fnv1a(h, &r->errors[0].time, sizeof(r->errors[0].time));
        h = fnv1a(h, r->errors[0].outcome, strlen(r->errors[0].outcome));
        h = fnv1a(h, r->errors[0].msg, strlen(r->errors[0].msg));
    }
    return h;
}

int dash_write(const char *graphs_dir, struct dash_row *rows, size_t n, enum lang lang,
               unsigned formats, time_t now, char *err, size_t errlen)
{
    const struct words *wd = dash_words(lang);
    char sub[4096];
    int rc;

    if ((size_t)snprintf(sub, sizeof(sub), "%s/probe", graphs_dir) >= sizeof(sub)) {
        dash_err(err, errlen, "%s: path too long", graphs_dir);
        return -ENAMETOOLONG;
    }
    rc = fsx_mkdir_p(sub, 0755);
    if (rc != 0) {
        dash_err(err, errlen, "%s: cannot create the directory: %s", sub, strerror(-rc));
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        struct dash_row *r = &rows[i];
        uint64_t sig = page_sig(graphs_dir, r, lang, formats);

        if (r->page_at && r->page_sig == sig && now >= r->page_at &&
            now - r->page_at < DASH_PAGE_KEEP)
            continue;
        rc = dash_write_probe(graphs_dir, r, wd, formats, now, err, errlen);
        if (rc != 0)
            return rc;
        r->page_sig = sig;
        r->page_at = now;
    }
    return dash_write_index(graphs_dir, rows, n, wd, formats, now, err, errlen);
}

/* ---- dash_refresh ---- */

void dash_opts_from_config(const struct config *cfg, struct dash_refresh_opts *o)
{
    o->rrd_dir = cfg->rrd_dir;
    o->graphs_dir = cfg->graphs_dir;
    o->flush_s = (time_t)(cfg->rrd_flush_ms / 1000);
    o->lang = cfg->graphs.lang;
    o->formats = (cfg->graphs.formats & (1u << GRAPH_PNG) ? DASH_PNG : 0) |
                 (cfg->graphs.formats & (1u << GRAPH_SVG) ? DASH_SVG : 0);
}

struct dash_job {
    uv_work_t work;
    struct dash_row *rows; /* the snapshot, owned */
    size_t n;
    char *rrd_dir, *graphs_dir;
    time_t flush_s;
    enum lang lang;
    unsigned formats;
    int rc;
    char err[512];
    void (*done)(void *arg, int rc, const char *err, const struct dash_refreshed *r);
    void *arg;
};

static void job_free(struct dash_job *j)
{
    for (size_t i = 0; j->rows && i < j->n; i++)
        dash_row_fini(&j->rows[i]);
    free(j->rows);
    free(j->rrd_dir);
    free(j->graphs_dir);
    free(j);
}

/* On a worker thread: everything that touches the disk. */
static void job_work(uv_work_t *w)
{
    struct dash_job *j = container_of(w, struct dash_job, work);
    time_t now = time(NULL);

    worker_nice();
    dash_collect(j->rrd_dir, j->rows, j->n, now, j->flush_s);
    j->rc =
        dash_write(j->graphs_dir, j->rows, j->n, j->lang, j->formats, now, j->err, sizeof(j->err));
}

/* Back on the loop thread. */
static void job_done(uv_work_t *w, int status)
{
    struct dash_job *j = container_of(w, struct dash_job, work);

    if (status == UV_ECANCELED) {
        j->rc = -ECANCELED;
        snprintf(j->err, sizeof(j->err), "dashboard refresh cancelled");
    }
    if (j->done) {
        struct dash_refreshed r = {j->rows, j->n};

        j->done(j->arg, j->rc, j->rc ? j->err : "", &r);
    }
    job_free(j);
}

void dash_keep_summaries(struct dash_row *rows, size_t n, const struct dash_refreshed *r)
{
    for (size_t i = 0; i < n && i < r->n; i++) {
        memcpy(rows[i].sum, r->rows[i].sum, sizeof(rows[i].sum));
        memcpy(rows[i].sum_err, r->rows[i].sum_err, sizeof(rows[i].sum_err));
        memcpy(rows[i].sum_at, r->rows[i].sum_at, sizeof(rows[i].sum_at));
        free(rows[i].sum_msg);
        rows[i].sum_msg = r->rows[i].sum_msg ? strdup(r->rows[i].sum_msg) : NULL;
        rows[i].sum_step = r->rows[i].sum_step;
        rows[i].page_sig = r->rows[i].page_sig;
        rows[i].page_at = r->rows[i].page_at;
    }
}

int dash_refresh(uv_loop_t *loop, const struct dash_refresh_opts *o, const struct dash_row *rows,
                 size_t n,
                 void (*done)(void *arg, int rc, const char *err, const struct dash_refreshed *r),
                 void *arg)
{
    struct dash_job *j = calloc(1, sizeof(*j));
    int rc;

    if (!j)
        return -ENOMEM;
    j->rows = malloc((n ? n : 1) * sizeof(*j->rows));
    j->rrd_dir = strdup(o->rrd_dir);
    j->graphs_dir = strdup(o->graphs_dir);
    if (!j->rows || !j->rrd_dir || !j->graphs_dir) {
        job_free(j);
        return -ENOMEM;
    }
    if (n)
        memcpy(j->rows, rows, n * sizeof(*rows));
    j->n = n;
    /* the errors are the rows' own: the job gets copies (of the few probes that have some) */
    for (size_t i = 0; i < n; i++) {
        const struct dash_error *e = rows[i].errors;

        j->rows[i].errors = NULL;
        j->rows[i].nerrors = 0;
        /* a copy: the caller keeps its own (the job's may be replaced by its collect) */
        j->rows[i].sum_msg = rows[i].sum_msg ? strdup(rows[i].sum_msg) : NULL;
        if (!e || rows[i].nerrors == 0)
            continue;
        j->rows[i].errors = malloc(DASH_ERRORS_MAX * sizeof(*e));
        if (!j->rows[i].errors) {
            j->n = i + 1; /* row i owns only its message; the rows after it are the caller's */
            job_free(j);
            return -ENOMEM;
        }
        memcpy(j->rows[i].errors, e, DASH_ERRORS_MAX * sizeof(*e));
        j->rows[i].nerrors = rows[i].nerrors;
    }
    j->flush_s = o->flush_s;
    j->lang = o->lang;
    j->formats = o->formats;
    j->done = done;
    j->arg = arg;
    rc = uv_queue_work(loop, &j->work, job_work, job_done);
    if (rc != 0)
        job_free(j);
    return rc;
}
