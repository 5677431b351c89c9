/* rrdw — the RRD writer.
 *
 * Two threads touch this module, and they share nothing but the job they hand to each other.
 *
 * The loop thread owns every `struct wfile` (one per probe id): its pending samples in a ring
 * that grows geometrically and is reused (rrdw_push copies a result into a 64-byte slot, with no
 * allocation in the steady state), the last timestamp queued, and for each of its two files the
 * step it was last verified for, its last update and its failure bookkeeping. rrdw_push only
 * appends to a ring; it never does I/O.
 *
 * Once a second a timer picks the files whose oldest pending sample has waited flush_ms (all of
 * them on rrdw_flush and rrdw_close, whatever their backoff), and *moves* their samples into one
 * `struct job`: one `struct jfile` per probe, holding copies of everything the worker needs (id,
 * directory, paths, the samples, and per file the step it was verified for and its last update).
 * The job goes to libuv's thread pool with uv_queue_work. From then on the job belongs to the
 * worker, and the loop does not look at it; the worker does not look at anything else (the job
 * keeps a pointer to each wfile, but only job_done, back on the loop thread, follows it).
 *
 * One job at most is in flight: there is one disk, and a second job would only compete with
 * the first for it (and take thread-pool slots other modules need). While a job runs, new
 * samples keep arriving in the (now empty) rings; a flush asked meanwhile starts the next job as
 * soon as this one is back.
 *
 * The worker's side, what one job does to the files (each of a probe's two files on its own,
 * a bit per file in each sample once that file has it), is in rrdfile.c.
 *
 * job_done (uv_after_work_cb, loop thread) takes the job back: samples that are not in both
 * files go back at the FRONT of their ring, in order (everything queued meanwhile is newer); a
 * sample counts as written once both files have it. Stats, the first failure of each cause for
 * each file and each file's recovery are logged; a probe with a failed file is retried after a
 * backoff (1 s doubling to 30 s). Then the next job may start.
 *
 * rrdw_close stops the timer, waits for the job in flight, sends one final job with everything
 * pending and waits for it: one attempt, which no backoff holds back. It is bounded: the timer,
 * started again for close_ms (rrd_close_timeout), sets the job's `stop` flag when it fires, and
 * the worker starts no probe after that; the probe being written is finished (a job cannot be
 * interrupted inside librrd), so the stop waits at most close_ms plus one probe's write: its two
 * files looked at (created, the first time: their size is the retention's rows), and its
 * pending samples in updates of 256. What is still pending then, not written in time, or
 * refused by the storage (a file failing in the final job), goes to the journal (rrdjournal.c)
 * in one write on the thread pool, fsync'd, and is logged in one line; only if that fails too
 * are the samples reported lost. Then the timer is closed and everything freed in its close
 * callback.
 *
 * rrdw_new reads the journal back before anything is pushed: its samples go first in their
 * probes' rings (they are older than any new one) and are written at once; the file stays in
 * place until they all are (a crash meanwhile replays it again: what the files already have is
 * skipped as stale, so a second replay writes nothing twice), and is then removed. rrdw_close
 * replaces it with what is left, or removes it. A journal that cannot be read is moved aside.
 *
 * The timer is unreferenced: the writer alone does not keep the loop alive (a job in flight
 * does), so a program whose other handles are gone can still run the loop to completion. */
#include "store/rrdw.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/container.h"
#include "base/fnv.h"
#include "base/heap.h"
#include "base/log.h"
#include "store/rrdw_int.h"
#include "store/schema.h"

#define DAY_S 86400u
#define TICK_MS 1000u
#define BACKOFF_MIN_MS 1000u
#define BACKOFF_MAX_MS 30000u

/* A FIFO of samples: a circular buffer that doubles when full. */
struct ring {
    struct sample *buf;
    size_t cap, head, n;
};

static const char *const cause_str[C__COUNT] = {
    [C_NONE] = "ok",
    [C_DIR] = "directory unusable",
    [C_ACCESS] = "permission denied or read-only",
    [C_NOSPACE] = "disk full",
    [C_IO] = "cannot open",
    [C_CORRUPT] = "not a readable RRD file, left untouched",
    [C_MOVE] = "cannot move the old file aside",
    [C_CREATE] = "cannot create",
    [C_UPDATE] = "update failed",
};

/* Loop-side state of one of a probe's two files. */
struct wpart {
    int64_t last;        /* its last update, as the worker last saw it */
    uint32_t ready_step; /* step it was verified for, 0 = verify on next write */
    unsigned logged;     /* bit per enum cause: already reported */
    uint64_t late;       /* samples written into it while it was failing */
    bool big_told;       /* that it is larger than the plan gives (jpart.big_rows) is logged */
};

/* Loop-side state of one probe id. */
struct wfile {
    char *id;
    char *path[NFILES];
    struct ring q;  /* pending samples, oldest first */
    uint64_t since; /* loop time (ms) the oldest pending sample was queued */
    int64_t last_t; /* the newest timestamp queued, to keep them increasing */
    struct wpart part[NFILES];
    bool in_flight; /* its samples are in the job */
    bool in_fronts; /* has an entry in the overflow heap (rrdw.fronts), while that is valid */
    bool stale_logged;
    uint64_t retry_at;   /* loop time (ms) before which the timer leaves it alone */
    uint64_t backoff_ms; /* 0 while healthy */
    int64_t journal_t;   /* the newest sample replayed from the journal, until it is written */
};

struct rrdw {
    uv_loop_t *loop;
    uv_timer_t timer;
    char *dir;
    char *daemon;     /* rrdcached's address or NULL */
    bool daemon_down; /* the last job could not reach it (logged once) */
    uint64_t flush_ms;
    size_t max_queued;
    struct layout lay;

    struct wfile **files; /* in creation order */
    size_t nfiles, capfiles;
    struct wfile **slots; /* open addressing on the id, power of two */
    size_t nslots;

    /* Files by the time of their oldest pending sample, for dropping the oldest on overflow
     * (see trim): built at the first overflow, kept while valid. */
    struct front {
        struct wfile *f;
        int64_t t; /* f's front when entered; fronts only get newer (see trim) */
    } * fronts;
    size_t nfronts, capfronts;
    bool fronts_valid;

    uint64_t queued; /* samples in memory, in rings or in the job */
    struct rrdw_stats st;
    bool overflowing;
    uint64_t overflow_dropped;

    bool busy;       /* a job is in flight */
    struct job *job; /* that job, for the close bound's `stop` flag */
    bool flush_req;  /* rrdw_flush: take everything in the next job */
    bool closing;
    bool expired; /* rrdw_close's bound has passed: no job starts any more */
    uint64_t close_ms;

    /* The journal: <journal_dir>/JOURNAL_NAME, NULL when there is none (a remote rrdcached). */
    char *journal_dir, *journal;
    bool journal_on_disk; /* it holds replayed samples, to remove once they are written */
    size_t journal_files; /* files with replayed samples not written yet */
    bool jbusy;           /* an operation on it is on the thread pool */
    void (*close_cb)(void *arg);
    struct rrdw_stats *close_stats; /* filled just before the writer is freed */
    void *close_arg;
};

/* ------------------------------------------------------------------------------------------ */
/* The ring. */

static struct sample *ring_at(const struct ring *r, size_t i)
{
    return &r->buf[(r->head + i) % r->cap];
}

/* Makes room for `more` samples, unwrapping into a larger buffer. */
static int ring_reserve(struct ring *r, size_t more)
{
    size_t cap = r->cap ? r->cap : 8;
    struct sample *buf;

    if (r->n + more <= r->cap)
        return 0;
    while (cap < r->n + more)
        cap *= 2;
    buf = malloc(cap * sizeof(*buf));
    if (!buf)
        return -ENOMEM;
    for (size_t i = 0; i < r->n; i++)
        buf[i] = *ring_at(r, i);
    free(r->buf);
    r->buf = buf;
    r->cap = cap;
    r->head = 0;
    return 0;
}

static int ring_push(struct ring *r, const struct sample *s)
{
    if (ring_reserve(r, 1) != 0)
        return -ENOMEM;
    *ring_at(r, r->n) = *s;
    r->n++;
    return 0;
}

static void ring_pop(struct ring *r)
{
    r->head = (r->head + 1) % r->cap;
    r->n--;
}

/* Puts `n` samples back in front, in order. */
static int ring_unshift(struct ring *r, const struct sample *s, size_t n)
{
    if (ring_reserve(r, n) != 0)
        return -ENOMEM;
    r->head = (r->head + r->cap - n % r->cap) % r->cap;
    r->n += n;
    for (size_t i = 0; i < n; i++)
        *ring_at(r, i) = s[i];
    return 0;
}

/* Moves everything into `out`. A buffer grown large by an outage is given back. */
static void ring_take(struct ring *r, struct sample *out)
{
    for (size_t i = 0; i < r->n; i++)
        out[i] = *ring_at(r, i);
    r->n = 0;
    r->head = 0;
    if (r->cap > 1024) {
        free(r->buf);
        r->buf = NULL;
        r->cap = 0;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Paths and the table of files. */

static struct wfile **slot_of(struct wfile **slots, size_t nslots, const char *id)
{
    size_t i = (size_t)fnv1a_str(FNV_OFFSET, id) & (nslots - 1);

    while (slots[i] && strcmp(slots[i]->id, id) != 0)
        i = (i + 1) & (nslots - 1);
    return &slots[i];
}

static void wfile_free(struct wfile *f)
{
    if (!f)
        return;
    free(f->id);
    for (int k = 0; k < NFILES; k++)
        free(f->path[k]);
    free(f->q.buf);
    free(f);
}

static struct wfile *wfile_new(const char *dir, const char *id)
{
    struct wfile *f = calloc(1, sizeof(*f));
    size_t len = strlen(dir) + strlen(id) + 16;

    if (!f)
        return NULL;
    f->id = strdup(id);
    if (!f->id)
        goto fail;
    for (int k = 0; k < NFILES; k++) {
        f->path[k] = malloc(len);
        if (!f->path[k] || !schema_path(f->path[k], len, dir, id, (enum schema_file)k))
            goto fail;
    }
    return f;
fail:
    wfile_free(f);
    return NULL;
}

/* The state of probe `id`, created on first use. NULL when out of memory. */
static struct wfile *file_get(struct rrdw *w, const char *id)
{
    struct wfile *f = w->nslots ? *slot_of(w->slots, w->nslots, id) : NULL;

    if (f)
        return f;
    if ((w->nfiles + 1) * 2 > w->nslots) {
        size_t n = w->nslots ? w->nslots * 2 : 64;
        struct wfile **slots = calloc(n, sizeof(*slots));

        if (!slots)
            return NULL;
        for (size_t i = 0; i < w->nfiles; i++)
            *slot_of(slots, n, w->files[i]->id) = w->files[i];
        free(w->slots);
        w->slots = slots;
        w->nslots = n;
    }
    if (w->nfiles == w->capfiles) {
        size_t n = w->capfiles ? w->capfiles * 2 : 64;
        struct wfile **files = realloc(w->files, n * sizeof(*files));

        if (!files)
            return NULL;
        w->files = files;
        w->capfiles = n;
    }
    f = wfile_new(w->dir, id);
    if (!f)
        return NULL;
    w->files[w->nfiles++] = f;
    *slot_of(w->slots, w->nslots, id) = f;
    return f;
}

/* ------------------------------------------------------------------------------------------ */
/* Loop side. */

static void start_job(struct rrdw *w);

static void drop_oldest_log(struct rrdw *w)
{
    if (!w->overflowing) {
        log_warn("rrd: more than %zu samples waiting to be written: dropping the oldest",
                 w->max_queued);
        w->overflowing = true;
        w->overflow_dropped = 0;
    }
}

/* A binary min-heap on front.t. */
#define FRONT_LESS(a, b) ((a)->t < (b)->t)
HEAP_DEFINE(fheap, struct front, FRONT_LESS, HEAP_NOTHING)

static int fronts_push(struct rrdw *w, struct wfile *f, int64_t t)
{
    if (w->nfronts == w->capfronts) {
        size_t cap = w->capfronts ? w->capfronts * 2 : 256;
        struct front *v = realloc(w->fronts, cap * sizeof(*v));

        if (!v)
            return -1;
        w->fronts = v;
        w->capfronts = cap;
    }
    fheap_push(w->fronts, &w->nfronts, (struct front){f, t});
    f->in_fronts = true;
    return 0;
}

static struct front fronts_pop(struct rrdw *w)
{
    struct front top = fheap_pop(w->fronts, &w->nfronts);

    top.f->in_fronts = false;
    return top;
}

/* Every file with pending samples, keyed by its front: O(files), once per overflow episode. */
static bool fronts_build(struct rrdw *w)
{
    w->nfronts = 0;
    for (size_t i = 0; i < w->nfiles; i++)
        if (w->files[i]->q.n > 0 &&
            fronts_push(w, w->files[i], ring_at(&w->files[i]->q, 0)->t) != 0)
            return false;
    w->fronts_valid = true;
    return true;
}

/* Drops f's oldest pending sample, counted as an overflow drop. */
static void drop_front(struct rrdw *w, struct wfile *f)
{
    drop_oldest_log(w);
    ring_pop(&f->q);
    w->queued--;
    w->st.dropped++;
    w->overflow_dropped++;
}

/* Drops the oldest samples until the total fits `limit`, when they are not in the job.
 *
 * A full queue drops one sample per sample pushed, so finding the oldest must not cost a scan of
 * every file (10,000 probes at 5,000 checks/s made that 50 million steps a second and stalled
 * the loop for seconds). The heap holds at most one entry per file, and it is right as long as
 * every file with pending samples has one whose key is not newer than its front: a front only
 * gets newer (a drop, a job taking the ring, new samples after that: all newer than the key), a
 * file without an entry gets one when a sample arrives (rrdw_push), and the one event that makes
 * a front older, a job giving samples back, drops the heap (rebuilt at the next overflow). A
 * popped entry whose file emptied is skipped; one whose front moved on is entered again. */
static void trim(struct rrdw *w, uint64_t limit)
{
    while (w->queued > limit) {
        struct front e;
        int64_t t;

        if (!w->fronts_valid && !fronts_build(w))
            goto scan;
        if (w->nfronts == 0)
            return; /* everything left is in the job */
        e = fronts_pop(w);
        if (e.f->q.n == 0)
            continue;
        t = ring_at(&e.f->q, 0)->t;
        if (t != e.t) {
            if (fronts_push(w, e.f, t) != 0)
                goto scan;
            continue;
        }
        drop_front(w, e.f);
        if (e.f->q.n > 0 && fronts_push(w, e.f, ring_at(&e.f->q, 0)->t) != 0)
            goto scan;
    }
    return;
scan:
    /* Out of memory for the heap: the slow way, a scan per sample. */
    w->fronts_valid = false;
    while (w->queued > limit) {
        struct wfile *v = NULL;

        for (size_t i = 0; i < w->nfiles; i++)
            if (w->files[i]->q.n > 0 &&
                (!v || ring_at(&w->files[i]->q, 0)->t < ring_at(&v->q, 0)->t))
                v = w->files[i];
        if (!v)
            return;
        drop_front(w, v);
    }
}

/* The boundary ending the step that holds `due`. */
static int64_t step_end(int64_t due, uint32_t step)
{
    int64_t q = due / step;

    if (due % step != 0 && due < 0)
        q--;
    return (q + 1) * step;
}

/* Appends s (newer than f->last_t) to f's ring, dropping the oldest sample past max_queued.
 * 0, or -ENOMEM (s is not queued). */
static int enqueue(struct rrdw *w, struct wfile *f, const struct sample *s)
{
    if (w->queued >= w->max_queued)
        trim(w, w->max_queued - 1);
    if (f->q.n == 0) {
        f->since = uv_now(w->loop);
        /* (duplicates, when a job emptied a file that had an entry, are skipped by trim;
         * past twice the files, the heap is dropped and rebuilt when needed) */
        if (w->fronts_valid && (w->nfronts > 2 * w->nfiles + 256 || fronts_push(w, f, s->t) != 0))
            w->fronts_valid = false;
    }
    if (ring_push(&f->q, s) != 0)
        return -ENOMEM;
    f->last_t = s->t;
    w->queued++;
    return 0;
}

void rrdw_push(struct rrdw *w, const struct probe *p, int64_t due, const struct result *res,
               bool flagged)
{
    uint64_t step_s = p->interval_ms / 1000;
    struct sample s = {.total_us = -1,
                       .response_us = -1,
                       .dns_us = -1,
                       .connect_us = -1,
                       .tls_us = -1,
                       .ttfb_us = -1};
    struct wfile *f;

    if (w->closing) {
        w->st.dropped++;
        return;
    }
    s.step = (uint32_t)(step_s < 1 ? 1 : step_s > UINT32_MAX ? UINT32_MAX : step_s);
    s.t = step_end(due, s.step);
    if (!res) {
        s.kind = K_MISSED;
    } else if (flagged) {
        s.kind = K_FLAGGED;
    } else {
        s.kind = res->outcome == OUTCOME_OK ? K_OK : K_FAILED;
        if (s.kind == K_OK) {
            s.total_us = res->total_us;
            s.response_us = res->response_us;
        }
        s.dns_us = res->dns_us;
        s.connect_us = res->connect_us;
        s.tls_us = res->tls_us;
        s.ttfb_us = res->ttfb_us;
    }
    f = file_get(w, p->id);
    if (!f) {
        w->st.dropped++;
        return;
    }
    if (s.t <= f->last_t) {
        w->st.stale++;
        if (!f->stale_logged)
            log_notice("rrd: probe %s: sample at %" PRId64 " not newer than %" PRId64
                       " (clock stepped back?), skipped",
                       f->id, s.t, f->last_t);
        f->stale_logged = true;
        return;
    }
    if (enqueue(w, f, &s) != 0)
        w->st.dropped++;
}

static void jfile_free(struct jfile *e)
{
    if (!e)
        return;
    for (int k = 0; k < NFILES; k++)
        free(e->part[k].moved_to);
    free(e);
}

/* Copies what the worker needs of f, and moves its samples. */
static struct jfile *jfile_new(struct rrdw *w, struct wfile *f)
{
    size_t n = f->q.n;
    size_t lid = strlen(f->id) + 1, ldir = strlen(w->dir) + 1;
    size_t lp[NFILES], size = sizeof(struct jfile) + n * sizeof(struct sample) + lid + ldir;
    struct jfile *e;
    char *p;

    for (int k = 0; k < NFILES; k++)
        size += lp[k] = strlen(f->path[k]) + 1;
    e = calloc(1, size);
    if (!e)
        return NULL;
    p = (char *)&e->s[n];
    e->id = memcpy(p, f->id, lid);
    p += lid;
    e->dir = memcpy(p, w->dir, ldir);
    p += ldir;
    for (int k = 0; k < NFILES; k++) {
        e->part[k].path = memcpy(p, f->path[k], lp[k]);
        p += lp[k];
        e->part[k].last = f->part[k].last;
        e->part[k].ready_step = f->part[k].ready_step;
    }
    e->f = f;
    e->since = f->since;
    e->n = n;
    ring_take(&f->q, e->s);
    f->in_flight = true;
    return e;
}

static bool due_now(const struct rrdw *w, const struct wfile *f, bool all, uint64_t now)
{
    if (f->q.n == 0 || f->in_flight)
        return false;
    return all || (now >= f->retry_at && now - f->since >= w->flush_ms);
}

static void close_journal(struct rrdw *w);
static void journal_start(struct rrdw *w, bool at_close);
static void job_done(uv_work_t *req, int status);

/* Sends the files that are due (all of them on flush or close) to the worker, unless a job is
 * already in flight. */
static void start_job(struct rrdw *w)
{
    bool all = w->flush_req || w->closing;
    uint64_t now = uv_now(w->loop);
    size_t n = 0;
    struct job *j;

    if (w->busy)
        return;
    if (w->closing && w->expired) {
        close_journal(w);
        return;
    }
    for (size_t i = 0; i < w->nfiles; i++)
        n += due_now(w, w->files[i], all, now);
    if (n == 0) {
        w->flush_req = false;
        if (w->closing)
            close_journal(w);
        return;
    }
    j = calloc(1, sizeof(*j) + n * sizeof(j->files[0]));
    if (!j)
        goto nomem;
    j->w = w;
    j->lay = w->lay;
    j->final = w->closing;
    atomic_init(&j->stop, false);
    for (size_t i = 0; i < w->nfiles && j->n < n; i++) {
        struct wfile *f = w->files[i];

        if (!due_now(w, f, all, now))
            continue;
        j->files[j->n] = jfile_new(w, f);
        if (!j->files[j->n])
            break; /* this one and the rest wait for the next job */
        j->n++;
    }
    if (j->n == 0) {
        free(j);
        goto nomem;
    }
    w->flush_req = false;
    w->busy = true;
    w->job = j;
    /* uv_queue_work fails only on invalid arguments. */
    if (uv_queue_work(w->loop, &j->req, rrdfile_work, job_done) != 0)
        job_done(&j->req, UV_ECANCELED);
    return;
nomem:
    log_err("rrd: out of memory preparing a write, retrying");
    if (w->closing)
        close_journal(w);
}

/* Back on the loop thread, what happened to file k of e. */
static void part_done(struct rrdw *w, struct jfile *e, int k)
{
    struct jpart *p = &e->part[k];
    struct wpart *fp = &e->f->part[k];

    fp->ready_step = p->ready_step;
    fp->last = p->last;
    if (p->back_n > 0) {
        if (k == F_CRIT)
            w->st.rolled_back += p->back_n;
        log_err("rrd: probe %s: %s went back from %" PRId64 " to %" PRId64 ": %" PRIu64
                " samples written into it are lost (rrdcached killed before "
                "writing them out, or an older copy put back)",
                e->id, p->path, p->back_from, p->back_to, p->back_n);
    }
    if (p->big_rows && !fp->big_told) {
        fp->big_told = true;
        log_notice("rrd: probe %s: %s keeps %lu rows at full resolution, from before the files "
                   "were bounded (now %lu, and one-minute rows): used as it is; docs/RRD.md says "
                   "how to bring it within the bound",
                   e->id, p->path, p->big_rows, p->big_plan);
    }
    if (!p->moved_to)
        return;
    w->st.files_moved++;
    if (p->moved_step != p->moved_for)
        log_notice("rrd: probe %s: %s has step %" PRIu32 " s, the probe now runs every %" PRIu32
                   " s: moved aside to %s, new file created",
                   e->id, p->path, p->moved_step, p->moved_for, p->moved_to);
    else
        log_notice("rrd: probe %s: %s has other data sources: moved aside to %s, new file created",
                   e->id, p->path, p->moved_to);
}

/* Logs the first failure of each cause of each file (a directory both files failed on once),
 * and the files that work again (both in one line when they recover together). `missing[k]`:
 * samples that file k still lacks. Returns whether a file failed. */
static bool parts_report(struct jfile *e, const size_t *missing, bool final)
{
    struct wfile *f = e->f;
    enum cause dir_logged = C_NONE;
    bool failed = false, back[NFILES];
    uint64_t late[NFILES];

    for (int k = 0; k < NFILES; k++) {
        struct jpart *p = &e->part[k];
        struct wpart *fp = &f->part[k];

        back[k] = false;
        if (p->cause == C_NONE) {
            /* It took everything it was given: if it had failed, it works again. */
            back[k] = p->tried && fp->logged;
            late[k] = fp->late + p->written;
            continue;
        }
        failed = true;
        fp->late += p->written;
        if (!(fp->logged & (1u << p->cause)) && !(p->where == e->dir && p->cause == dir_logged)) {
            log_err("rrd: probe %s: %s: %s (%s); %zu samples %s", e->id, p->where,
                    cause_str[p->cause], p->msg, missing[k],
                    final ? "not written, for the journal" : "kept in memory, retrying");
            if (p->where == e->dir)
                dir_logged = p->cause;
        }
        fp->logged |= 1u << p->cause;
    }
    if (back[F_CRIT] && back[F_PHASES] && late[F_CRIT] == late[F_PHASES]) {
        log_notice("rrd: probe %s: writing %s and %s works again, %" PRIu64 " samples written late",
                   e->id, e->part[F_CRIT].path, e->part[F_PHASES].path, late[F_CRIT]);
    } else {
        for (int k = 0; k < NFILES; k++)
            if (back[k])
                log_notice("rrd: probe %s: writing %s works again, %" PRIu64
                           " samples written late",
                           e->id, e->part[k].path, late[k]);
    }
    for (int k = 0; k < NFILES; k++) {
        if (back[k]) {
            f->part[k].logged = 0;
            f->part[k].late = 0;
        }
    }
    return failed;
}

/* Back on the loop thread: f takes back the samples that are not in both files yet. */
static void jfile_done(struct rrdw *w, struct jfile *e, bool final)
{
    struct wfile *f = e->f;
    uint64_t now = uv_now(w->loop);
    size_t left = 0, missing[NFILES] = {0};

    f->in_flight = false;
    for (int k = 0; k < NFILES; k++)
        part_done(w, e, k);
    if (e->part[F_CRIT].last > f->last_t)
        f->last_t = e->part[F_CRIT].last;
    w->st.stale += e->stale;
    /* One line per episode, from here or from rrdw_push (which skips the next samples of the
     * same seconds itself); the episode ends when a sample goes in. */
    if (e->stale && !f->stale_logged)
        log_notice("rrd: probe %s: %" PRIu64 " samples not newer than the last update of %s, "
                   "skipped",
                   e->id, e->stale, e->part[F_CRIT].path);
    if (e->stale)
        f->stale_logged = true;
    if (e->part[F_CRIT].written > 0)
        f->stale_logged = false;

    /* A sample in both files is done: written, unless the criterion file skipped it as stale.
     * Compact the others, in order, and put them back in front. */
    for (size_t i = 0; i < e->n; i++) {
        const struct sample *s = &e->s[i];

        if ((s->done & DONE_ALL) == DONE_ALL) {
            w->st.written += !(s->done & S_STALE);
            continue;
        }
        for (int k = 0; k < NFILES; k++)
            missing[k] += !(s->done & (1u << k));
        e->s[left++] = *s;
    }
    w->queued -= e->n - left;
    if (left > 0) {
        if (f->q.n == 0)
            f->since = e->since;
        else if (e->since < f->since)
            f->since = e->since;
        if (ring_unshift(&f->q, e->s, left) == 0) {
            w->fronts_valid = false; /* an older front: see trim */
        } else {
            w->queued -= left;
            w->st.dropped += left;
            log_err("rrd: probe %s: out of memory, %zu samples lost", e->id, left);
            memset(missing, 0, sizeof(missing));
        }
    }
    /* Its samples from the journal are all done once its oldest pending one is newer. */
    if (f->journal_t && (f->q.n == 0 || ring_at(&f->q, 0)->t > f->journal_t)) {
        f->journal_t = 0;
        w->journal_files--;
    }

    if (parts_report(e, missing, final)) {
        w->st.failures++;
        f->backoff_ms = f->backoff_ms ? f->backoff_ms * 2 : BACKOFF_MIN_MS;
        if (f->backoff_ms > BACKOFF_MAX_MS)
            f->backoff_ms = BACKOFF_MAX_MS;
        f->retry_at = now + f->backoff_ms;
    } else {
        f->backoff_ms = 0;
        f->retry_at = 0;
    }
}

static void job_done(uv_work_t *req, int status)
{
    struct job *j = container_of(req, struct job, req);
    struct rrdw *w = j->w;
    bool final = j->final;

    (void)status; /* never cancelled; if it were, nothing is marked done and all goes back */
    if (j->daemon_down && !w->daemon_down)
        log_err("rrd: rrdcached at %s unreachable (%s); samples kept in memory, retrying",
                w->daemon, j->daemon_msg);
    else if (!j->daemon_down && w->daemon_down)
        log_notice("rrd: rrdcached at %s reachable again", w->daemon);
    w->daemon_down = j->daemon_down;
    for (size_t i = 0; i < j->n; i++) {
        jfile_done(w, j->files[i], final);
        jfile_free(j->files[i]);
    }
    /* rrdcached went away: once it is back every file is looked at again, to see what the new
     * one holds (a killed rrdcached loses the updates it had not written out or journaled). */
    if (j->daemon_down)
        for (size_t i = 0; i < w->nfiles; i++)
            for (int k = 0; k < NFILES; k++)
                w->files[i]->part[k].ready_step = 0;
    free(j);
    w->busy = false;
    w->job = NULL;
    if (w->journal_on_disk && w->journal_files == 0 && !w->jbusy && !w->closing)
        journal_start(w, false);
    if (w->queued > w->max_queued)
        trim(w, w->max_queued);
    if (w->overflowing && w->queued <= w->max_queued / 2) {
        log_notice("rrd: queue back under half its limit, %" PRIu64 " samples were dropped",
                   w->overflow_dropped);
        w->overflowing = false;
        w->fronts_valid = false; /* not kept up outside an overflow */
    }
    if (final)
        close_journal(w);
    else if (w->closing || w->flush_req)
        start_job(w);
}

static void on_tick(uv_timer_t *t)
{
    start_job(container_of(t, struct rrdw, timer));
}

void rrdw_flush(struct rrdw *w)
{
    if (w->closing)
        return;
    w->flush_req = true;
    start_job(w);
}

void rrdw_stats(const struct rrdw *w, struct rrdw_stats *out)
{
    *out = w->st;
    out->queued = w->queued;
    out->daemon_down = w->daemon_down;
}

static void rrdw_free(struct rrdw *w)
{
    for (size_t i = 0; i < w->nfiles; i++)
        wfile_free(w->files[i]);
    free(w->files);
    free(w->slots);
    free(w->fronts);
    free(w->dir);
    free(w->daemon);
    free(w->journal_dir);
    free(w->journal);
    free(w);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct rrdw *w = container_of((uv_timer_t *)h, struct rrdw, timer);
    void (*cb)(void *) = w->close_cb;
    void *arg = w->close_arg;

    if (w->close_stats)
        rrdw_stats(w, w->close_stats);
    rrdw_free(w);
    if (cb)
        cb(arg);
}

static void finish_close(struct rrdw *w)
{
    uv_close((uv_handle_t *)&w->timer, on_timer_closed);
}

/* ------------------------------------------------------------------------------------------ */
/* The journal. */

static void jnl_free(struct jnl *jn)
{
    for (size_t i = 0; i < jn->nfiles; i++)
        jfile_free(jn->files[i]);
    free(jn);
}

static void journal_done(uv_work_t *req, int status)
{
    struct jnl *jn = container_of(req, struct jnl, req);
    struct rrdw *w = jn->w;
    bool at_close = jn->at_close;

    (void)status; /* never cancelled */
    w->jbusy = false;
    if (jn->remove) {
        /* Not removed: replaying it again at the next start writes nothing twice (stale). */
        if (jn->rc == 0)
            log_notice("rrd: the %" PRIu64 " samples replayed from %s are written: removed",
                       w->st.replayed, w->journal);
        else
            log_err("rrd: cannot remove %s (%s); its samples are written, replaying them again "
                    "at the next start is harmless",
                    w->journal, jn->msg);
        w->journal_on_disk = false;
    } else if (jn->rc == 0) {
        w->st.journaled = jn->n;
        log_notice("rrd: %" PRIu64 " samples not written kept in %s, written at the next start",
                   jn->n, w->journal);
    } else {
        log_err("rrd: cannot write the journal %s (%s): %" PRIu64
                " samples could not be written and are lost",
                w->journal, jn->msg, w->queued);
    }
    jnl_free(jn);
    if (at_close)
        finish_close(w);
    else if (w->closing)
        close_journal(w); /* a removal was in flight when rrdw_close came */
}

/* Writes every pending sample into the journal (at close), or removes it. */
static void journal_start(struct rrdw *w, bool at_close)
{
    size_t n = 0;
    struct jnl *jn;

    for (size_t i = 0; at_close && i < w->nfiles; i++)
        n += w->files[i]->q.n > 0;
    jn = calloc(1, sizeof(*jn) + n * sizeof(jn->files[0]));
    if (!jn)
        goto nomem;
    jn->w = w;
    jn->dir = w->journal_dir;
    jn->path = w->journal;
    jn->at_close = at_close;
    jn->remove = n == 0;
    for (size_t i = 0; i < w->nfiles && jn->nfiles < n; i++) {
        if (w->files[i]->q.n == 0)
            continue;
        jn->files[jn->nfiles] = jfile_new(w, w->files[i]);
        if (!jn->files[jn->nfiles]) {
            jnl_free(jn);
            goto nomem;
        }
        jn->nfiles++;
    }
    w->jbusy = true;
    if (uv_queue_work(w->loop, &jn->req, rrdjournal_work, journal_done) != 0)
        journal_done(&jn->req, UV_ECANCELED);
    return;
nomem:
    if (!at_close)
        return; /* tried again after the next job */
    log_err("rrd: out of memory writing the journal: %" PRIu64
            " samples could not be written and are lost",
            w->queued);
    finish_close(w);
}

/* rrdw_close, once no job is in flight and none will start: the journal gets what is left. */
static void close_journal(struct rrdw *w)
{
    if (w->jbusy)
        return; /* journal_done comes back here */
    if (w->queued > 0 && !w->journal) {
        log_err("rrd: %" PRIu64 " samples could not be written and are lost", w->queued);
        finish_close(w);
    } else if (w->queued > 0 || w->journal_on_disk) {
        journal_start(w, true);
    } else {
        finish_close(w);
    }
}

static void on_close_bound(uv_timer_t *t)
{
    struct rrdw *w = container_of(t, struct rrdw, timer);

    w->expired = true;
    if (!w->busy)
        return;
    atomic_store(&w->job->stop, true);
    log_notice("rrd: rrd_close_timeout (%" PRIu64 " ms) reached: the probe being written is "
               "finished, the samples not written go to the journal",
               w->close_ms);
}

void rrdw_close(struct rrdw *w, struct rrdw_stats *final, void (*cb)(void *arg), void *arg)
{
    if (w->closing)
        return;
    w->closing = true;
    w->close_stats = final;
    w->close_cb = cb;
    w->close_arg = arg;
    uv_timer_stop(&w->timer);
    uv_timer_start(&w->timer, on_close_bound, w->close_ms, 0);
    start_job(w); /* or, if one is in flight, job_done starts the final one */
}

/* A sample of the journal, at start: queued as rrdw_push would have. */
static int replay_add(void *arg, const char *id, const struct sample *s)
{
    struct rrdw *w = arg;
    struct wfile *f = file_get(w, id);

    if (!f)
        return -ENOMEM;
    if (s->t <= f->last_t) { /* the same probe further up the journal */
        w->st.stale++;
        return 0;
    }
    if (enqueue(w, f, s) != 0)
        return -ENOMEM;
    if (!f->journal_t)
        w->journal_files++;
    f->journal_t = s->t;
    w->st.replayed++;
    return 0;
}

/* Queues the samples of the journal, if there is one, and starts writing them. */
static void replay(struct rrdw *w)
{
    char msg[MSG_LEN], where[4200], aside[4200];
    uint64_t n = 0;
    size_t line = 0;
    int rc, arc;

    rc = rrdjournal_read(w->journal, replay_add, w, &n, &line, msg, sizeof(msg));
    if (rc == -ENOENT)
        return;
    if (rc == 0 || w->st.replayed > 0) {
        w->journal_on_disk = true;
        log_notice("rrd: %" PRIu64 " samples of %zu probes replayed from %s, written first",
                   w->st.replayed, w->journal_files, w->journal);
    }
    if (rc == 0) {
        if (w->journal_files == 0)
            journal_start(w, false); /* nothing left in it: removed now */
    } else if (w->st.replayed > 0) {
        /* The file is whole, the memory for its samples was not: it stays for the next start
         * (until rrdw_close replaces it with what is pending then). */
        log_err("rrd: %s: %s", w->journal, msg);
        w->journal_files++;
    } else {
        if (line)
            snprintf(where, sizeof(where), "%s:%zu", w->journal, line);
        else
            snprintf(where, sizeof(where), "%s", w->journal);
        arc = rrdjournal_set_aside(w->journal, aside, sizeof(aside));
        if (arc == 0)
            log_err("rrd: %s: %s: moved aside to %s, nothing replayed", where, msg, aside);
        else
            log_err("rrd: %s: %s: cannot move it aside (%s), nothing replayed", where, msg,
                    strerror(-arc));
    }
    w->flush_req = w->queued > 0;
    start_job(w);
}

static char *path_join(const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *p = malloc(len);

    if (p)
        snprintf(p, len, "%s/%s", dir, name);
    return p;
}

struct rrdw *rrdw_new(uv_loop_t *loop, const struct rrdw_opts *o)
{
    struct rrdw *w = calloc(1, sizeof(*w));
    uint64_t tick;

    if (!w)
        return NULL;
    w->loop = loop;
    w->dir = strdup(o && o->dir ? o->dir : "rrd");
    if (!w->dir)
        goto fail;
    if (o && o->daemon) {
        w->daemon = strdup(o->daemon);
        if (!w->daemon)
            goto fail;
    }
    w->lay.daemon = w->daemon;
    w->lay.local = !w->daemon || strncmp(w->daemon, "unix:", 5) == 0 || w->daemon[0] == '/';
    if (o && o->journal_dir)
        w->journal_dir = strdup(o->journal_dir);
    else if (w->lay.local)
        w->journal_dir = strdup(w->dir);
    if (w->journal_dir && !(w->journal = path_join(w->journal_dir, JOURNAL_NAME)))
        goto fail;
    if (((o && o->journal_dir) || w->lay.local) && !w->journal)
        goto fail;
    w->flush_ms = o && o->flush_ms ? o->flush_ms : 30000;
    w->close_ms = o && o->close_ms ? o->close_ms : 20000;
    w->max_queued = o && o->max_queued ? o->max_queued : 1000000;
    w->lay.keep.full_s = o && o->full_s ? o->full_s : 2 * DAY_S;
    w->lay.keep.medium_s = o && o->medium_s ? o->medium_s : 14 * DAY_S;
    w->lay.keep.hourly_s = o && o->hourly_s ? o->hourly_s : 400 * DAY_S;
    w->lay.keep.phases_hourly_s =
        w->lay.keep.hourly_s < 92 * DAY_S ? w->lay.keep.hourly_s : 92 * DAY_S;
    w->lay.keep.daily_s = o && o->daily_s ? o->daily_s : 1830 * DAY_S;
    if (uv_timer_init(loop, &w->timer) != 0)
        goto fail;
    tick = w->flush_ms < TICK_MS ? w->flush_ms : TICK_MS;
    uv_timer_start(&w->timer, on_tick, tick, tick);
    uv_unref((uv_handle_t *)&w->timer);
    if (w->journal)
        replay(w);
    return w;
fail:
    free(w->dir);
    free(w->daemon);
    free(w->journal_dir);
    free(w->journal);
    free(w);
    return NULL;
}
