/* rrdq — reading the criterion back from a probe's RRD files. See rrdq.h and docs/RRD.md. */
#include "store/rrdq.h"

#include <errno.h>
#include <math.h>
#include <rrd.h>
#include <rrd_client.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/schema.h"

/* How far back the last sample is looked for, in rows of the full-resolution archive. */
#define LAST_ROWS 64

/* One rrd_fetch_r result, with the columns vigie reads located by name. */
struct fetch {
    time_t start, end;
    unsigned long step;
    unsigned long nds;
    char **names;
    rrd_value_t *data;
    size_t rows;
    int up, valid, total, response;
    int le[SCHEMA_NBUCKETS];
};

static void fetch_free(struct fetch *f)
{
    for (unsigned long i = 0; f->names && i < f->nds; i++)
        free(f->names[i]);
    free(f->names);
    free(f->data);
    f->names = NULL;
    f->data = NULL;
}

static int ds_index(const struct fetch *f, const char *name)
{
    for (unsigned long i = 0; i < f->nds; i++)
        if (strcmp(f->names[i], name) == 0)
            return (int)i;
    return -1;
}

__attribute__((format(printf, 4, 5))) static int set_error(char *err, size_t errlen, int rc,
                                                           const char *fmt, ...)
{
    va_list ap;

    if (err && errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Fetches (start, end] of `path` at the finest resolution librrd offers for that window. librrd
 * returns the rows labelled floor(start) + step ... floor(end) + step, one row past an aligned
 * `end`: asking for end − 1 keeps the row (end − step, end] the last one. */
static int fetch(const char *path, time_t start, time_t end, unsigned long step, struct fetch *f,
                 char *err, size_t errlen)
{
    char name[16];

    memset(f, 0, sizeof(*f));
    f->start = start;
    f->end = end - 1;
    f->step = step;
    rrd_clear_error();
    if (rrd_fetch_r(path, "AVERAGE", &f->start, &f->end, &f->step, &f->nds, &f->names, &f->data) !=
        0) {
        fetch_free(f);
        return set_error(err, errlen, -EIO, "%s", rrd_get_error());
    }
    f->rows = f->step ? (size_t)((f->end - f->start) / (time_t)f->step) : 0;
    f->up = ds_index(f, "up");
    f->valid = ds_index(f, "valid");
    f->total = ds_index(f, "total");
    f->response = ds_index(f, "response");
    for (int i = 0; i < SCHEMA_NBUCKETS; i++) {
        snprintf(name, sizeof(name), "le_%u", schema_bounds_ms[i]);
        f->le[i] = ds_index(f, name);
        if (f->le[i] < 0)
            f->up = -1;
    }
    if (f->up < 0 || f->valid < 0 || f->total < 0) {
        fetch_free(f);
        return set_error(err, errlen, -EINVAL, "%s: not a vigie criterion file (data sources)",
                         path);
    }
    return 0;
}

static double cell(const struct fetch *f, size_t row, int ds)
{
    return f->data[row * f->nds + (size_t)ds];
}

/* A row holds counted checks when some of its samples were valid and `up` is known. */
static bool row_counted(const struct fetch *f, size_t row)
{
    double v = cell(f, row, f->valid);
    return !isnan(v) && v > 0 && !isnan(cell(f, row, f->up));
}

static unsigned long base_step(const char *path)
{
    rrd_info_t *info, *i;
    unsigned long step = 0;

    info = rrd_info_r(path);
    for (i = info; i; i = i->next)
        if (strcmp(i->key, "step") == 0 && i->type == RD_I_CNT) {
            step = i->value.u_cnt;
            break;
        }
    rrd_info_free(info);
    return step;
}

static void find_last(const struct fetch *f, struct rrdq_summary *out)
{
    for (size_t r = f->rows; r-- > 0;) {
        if (!row_counted(f, r))
            continue;
        out->last_time = f->start + (time_t)((r + 1) * f->step);
        out->last_up = cell(f, r, f->up) >= 0.5;
        out->last_total_ms = out->last_up ? cell(f, r, f->total) * 1000.0 : NAN;
        return;
    }
}

/* The rows of the full-resolution archive (AVERAGE, one step per row) of `path`; 0 unknown. */
static unsigned long full_rows(const char *path)
{
    rrd_info_t *info = rrd_info_r(path), *i;
    unsigned long rows[SCHEMA_MAX_RRA] = {0}, found = 0;
    bool full[SCHEMA_MAX_RRA] = {false}, avg[SCHEMA_MAX_RRA] = {false};

    for (i = info; i; i = i->next) {
        unsigned idx;
        int at = 0;

        if (sscanf(i->key, "rra[%u].%n", &idx, &at) != 1 || at == 0 || idx >= SCHEMA_MAX_RRA)
            continue;
        if (strcmp(i->key + at, "rows") == 0 && i->type == RD_I_CNT)
            rows[idx] = i->value.u_cnt;
        else if (strcmp(i->key + at, "pdp_per_row") == 0 && i->type == RD_I_CNT)
            full[idx] = i->value.u_cnt == 1;
        else if (strcmp(i->key + at, "cf") == 0 && i->type == RD_I_STR)
            avg[idx] = strcmp(i->value.u_str, "AVERAGE") == 0;
    }
    rrd_info_free(info);
    for (size_t k = 0; k < SCHEMA_MAX_RRA && !found; k++)
        if (full[k] && avg[k])
            found = rows[k];
    return found;
}

/* The newest counted sample up to `end`, from the last LAST_ROWS rows of the full-resolution
 * archive. When that archive holds fewer rows (60 at a 60 s step with `full` at its least, 1 h),
 * librrd answers from a coarser one: the window is then the rows it holds. */
static void last_sample(const char *path, time_t end, unsigned long base, struct rrdq_summary *out)
{
    unsigned long rows = LAST_ROWS;
    struct fetch last;

    for (int pass = 0; pass < 2; pass++) {
        if (fetch(path, end - (time_t)(rows * base), end, base, &last, NULL, 0) != 0)
            return;
        if (last.step == base) {
            find_last(&last, out);
            fetch_free(&last);
            return;
        }
        fetch_free(&last);
        rows = full_rows(path);
        if (rows == 0 || rows >= LAST_ROWS)
            return;
    }
}

/* The path of probe id's criterion file into path, once it exists and rrdcached (when
 * RRDCACHED_ADDRESS is set) has written its cached values into it. 0 or a negative errno. */
static int crit_file(char *path, size_t len, const char *rrd_dir, const char *id, char *err,
                     size_t errlen)
{
    if (!schema_path(path, len, rrd_dir, id, SCHEMA_CRIT))
        return set_error(err, errlen, -ENAMETOOLONG, "%s: path too long", id);
    if (access(path, F_OK) != 0)
        return set_error(err, errlen, -ENOENT, "%s: no such file", path);
    rrd_clear_error();
    if (rrdc_flush_if_daemon(NULL, path) != 0)
        return set_error(err, errlen, -EIO, "%s: flush through rrdcached: %s", path,
                         rrd_get_error());
    return 0;
}

int rrdq_summary(const char *rrd_dir, const char *id, time_t end, time_t span,
                 struct rrdq_summary *out, char *err, size_t errlen)
{
    unsigned long step = 0;

    return rrdq_summary_step(rrd_dir, id, end, span, &step, out, err, errlen);
}

/* Sums of counted checks over rows, as rrdq_summary weighs them. */
struct acc {
    double w, up, le[SCHEMA_NBUCKETS];
    size_t rows;
};

/* Adds the counted rows of f, from `from` on (a row ends at its label), into a. Each row's
 * AVERAGE(valid) is the share of its known samples that were counted; weighting a row by it
 * (times the samples per row) gives every counted check the same weight. */
static void acc_add(struct acc *a, const struct fetch *f, unsigned long base, time_t from)
{
    for (size_t r = 0; r < f->rows; r++) {
        double w;

        if (f->start + (time_t)(r * f->step) < from || !row_counted(f, r))
            continue;
        w = cell(f, r, f->valid) * (double)(f->step / base);
        a->rows++;
        a->w += w;
        a->up += w * cell(f, r, f->up);
        for (int i = 0; i < SCHEMA_NBUCKETS; i++) {
            double le = cell(f, r, f->le[i]);
            a->le[i] += w * (isnan(le) ? 0 : le);
        }
    }
}

/* Below a one-minute step, a window longer than the full-resolution archive is read from the
 * one-minute archive (schema_rra_plan), whose newest row librrd consolidates only once its
 * minute is over: the steps after it are read into *tail, at full resolution. That keeps a
 * sub-minute probe's day as fresh as a one-minute probe's, whose day is at full resolution.
 * Returns whether *tail was fetched (from `*from` on: the end of the last consolidated row). */
static bool minute_tail(const char *path, const struct fetch *f, unsigned long base, time_t end,
                        time_t span, struct fetch *tail, time_t *from)
{
    unsigned long minute = schema_minute_pdp(base);
    time_t last, done;

    if (minute == 0 || f->step != minute * base)
        return false;
    rrd_clear_error();
    last = rrd_last_r(path);
    if (last <= 0)
        return false;
    done = last - last % (time_t)f->step;
    *from = done > end - span ? done : end - span;
    if (*from >= end || fetch(path, *from, end, base, tail, NULL, 0) != 0)
        return false;
    if (tail->step != base) {
        fetch_free(tail);
        return false;
    }
    return true;
}

int rrdq_summary_step(const char *rrd_dir, const char *id, time_t end, time_t span,
                      unsigned long *step, struct rrdq_summary *out, char *err, size_t errlen)
{
    char path[4096];
    struct acc a = {0};
    unsigned long base;
    bool hinted, have_tail;
    struct fetch f, tail;
    time_t from = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    out->availability = out->median_ms = out->p95_ms = out->last_total_ms = NAN;
    for (int i = 0; i < SCHEMA_NBUCKETS; i++)
        out->le[i] = NAN;
    if ((rc = crit_file(path, sizeof(path), rrd_dir, id, err, errlen)) != 0)
        return rc;
    /* rrd_info_r formats the whole header (hundreds of strings): a caller that reads the same
     * file again says the step it found last time. */
    hinted = *step != 0;
    base = hinted ? *step : base_step(path);
    if (base == 0)
        return set_error(err, errlen, -EIO, "%s: cannot read its step", path);
    *step = base;
    if (end == 0) {
        rrd_clear_error();
        end = rrd_last_r(path);
        if (end <= 0)
            return set_error(err, errlen, -EIO, "%s", rrd_get_error());
    }
    if (span <= 0)
        span = (time_t)base;

    rc = fetch(path, end - span, end, base, &f, err, errlen);
    if (rc < 0)
        return rc;
    if (hinted && f.step % base != 0) {
        /* rows finer than the step said: the file is another one now (recreated with a shorter
         * step); read its own */
        fetch_free(&f);
        *step = 0;
        return rrdq_summary_step(rrd_dir, id, end, span, step, out, err, errlen);
    }
    out->start = f.start;
    out->end = f.end;
    out->step = f.step;
    out->rows = f.rows;
    /* The rows of f after the tail's start are not consolidated yet: unknown, not counted. */
    acc_add(&a, &f, base, 0);
    have_tail = minute_tail(path, &f, base, end, span, &tail, &from);
    if (have_tail)
        acc_add(&a, &tail, base, from);
    out->rows_known = a.rows;
    out->samples = a.w;
    if (a.w > 0) {
        out->availability = a.up / a.w;
        for (int i = 0; i < SCHEMA_NBUCKETS; i++)
            out->le[i] = a.le[i] / a.w;
        out->median_ms = rrdq_percentile(out->le, out->availability, 0.5);
        out->p95_ms = rrdq_percentile(out->le, out->availability, 0.95);
    }

    if (f.step == base)
        find_last(&f, out);
    if (have_tail) {
        find_last(&tail, out);
        fetch_free(&tail);
    }
    if (f.step != base && out->last_time == 0)
        last_sample(path, end, base, out);
    fetch_free(&f);
    return 0;
}

int rrdq_totals(const char *rrd_dir, const char *id, time_t start, time_t end,
                struct rrdq_totals *out, char *err, size_t errlen)
{
    char path[4096];
    unsigned long base;
    struct fetch f;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = crit_file(path, sizeof(path), rrd_dir, id, err, errlen)) != 0)
        return rc;
    base = base_step(path);
    if (base == 0)
        return set_error(err, errlen, -EIO, "%s: cannot read its step", path);
    if (end <= start)
        return set_error(err, errlen, -EINVAL, "%s: empty window", path);
    out->expected = (double)(end - start) / (double)base;
    rc = fetch(path, start, end, base, &f, err, errlen);
    if (rc < 0)
        return rc;
    for (size_t r = 0; r < f.rows; r++) {
        double pdp = (double)(f.step / base), valid = cell(&f, r, f.valid), w, ok, v;

        /* Rows librrd returns outside the window asked (an archive coarser than the window's
         * alignment) are not counted. */
        if (f.start + (time_t)(r * f.step) < start || f.start + (time_t)((r + 1) * f.step) > end)
            continue;
        if (isnan(valid))
            continue;
        out->covered += pdp;
        out->flagged += (1 - valid) * pdp;
        if (!row_counted(&f, r))
            continue;
        w = valid * pdp;
        ok = w * cell(&f, r, f.up);
        out->checks += w;
        out->up += ok;
        for (int i = 0; i < SCHEMA_NBUCKETS; i++) {
            double le = cell(&f, r, f.le[i]);
            out->le[i] += w * (isnan(le) ? 0 : le);
        }
        v = cell(&f, r, f.total);
        if (ok > 0 && !isnan(v)) {
            out->total_n += ok;
            out->total_ms += ok * v * 1000.0;
        }
        v = f.response >= 0 ? cell(&f, r, f.response) : NAN;
        if (ok > 0 && !isnan(v)) {
            out->response_n += ok;
            out->response_ms += ok * v * 1000.0;
        }
    }
    fetch_free(&f);
    return 0;
}

void rrdq_totals_add(struct rrdq_totals *sum, const struct rrdq_totals *t)
{
    sum->expected += t->expected;
    sum->covered += t->covered;
    sum->checks += t->checks;
    sum->flagged += t->flagged;
    sum->up += t->up;
    for (int i = 0; i < SCHEMA_NBUCKETS; i++)
        sum->le[i] += t->le[i];
    sum->response_n += t->response_n;
    sum->response_ms += t->response_ms;
    sum->total_n += t->total_n;
    sum->total_ms += t->total_ms;
}

double rrdq_apdex(const double le[SCHEMA_NBUCKETS])
{
    /* le_500 and le_2000: T and 4T. */
    return le[2] + (le[6] - le[2]) / 2;
}

double rrdq_percentile(const double le[SCHEMA_NBUCKETS], double availability, double p)
{
    double want, lo_ms = 0, lo_f = 0;

    if (isnan(availability) || availability <= 0 || p <= 0 || p >= 1)
        return NAN;
    want = p * availability;
    for (int i = 0; i < SCHEMA_NBUCKETS; i++) {
        double hi_f = le[i], hi_ms = schema_bounds_ms[i];
        if (isnan(hi_f))
            return NAN;
        if (hi_f >= want) {
            if (hi_f <= lo_f)
                return lo_ms;
            return lo_ms + (want - lo_f) / (hi_f - lo_f) * (hi_ms - lo_ms);
        }
        lo_ms = hi_ms;
        lo_f = hi_f;
    }
    return INFINITY;
}
