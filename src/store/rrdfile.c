/* rrdfile — the worker side of the RRD writer (rrdw): what one job does to the files.
 *
 * Everything here runs on a thread-pool thread and reads only its job (store/rrdw_int.h);
 * the loop side, which fills the job and takes it back, is rrdw.c.
 *
 * The worker treats the two files of a probe independently: one that cannot be used (corrupt,
 * unwritable, of another layout that cannot be moved aside) does not keep samples from the
 * other. Per file: it verifies the file once (rrd_info_r: a readable RRD with our step and DS
 * names; a file of another layout is moved aside, an unreadable one is left alone), creates it
 * when missing (rrd_create_r2, no overwrite), skips samples not newer than its last update, and
 * writes the rest with rrd_update_r in order, stopping at its first failure. Each sample carries
 * a bit per file (criterion, phases) set when that file has it, so a sample is never written
 * twice and never dropped because only one of the two files failed. */
#include "store/rrdw_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <rrd.h>
#include <rrd_client.h>

#include "base/container.h"
#include "base/fsx.h"
#include "base/worker.h"
#include "store/schema.h"

#define UPDATE_CHUNK 256 /* samples per rrd_update_r call */
#define LINE_MAX_LEN 320 /* one update argument: "time:v:v:...", 11 values */

static enum cause errno_cause(int err, enum cause otherwise)
{
    switch (err) {
    case EACCES:
    case EPERM:
    case EROFS:
        return C_ACCESS;
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
        return C_NOSPACE;
    default:
        return otherwise;
    }
}

/* The system's message for err, on the worker thread: strerror is not thread-safe, this is
 * POSIX's strerror_r (the XSI one, returning an int, under _POSIX_C_SOURCE 200809L). */
static void errno_str(char *buf, size_t len, int err)
{
    int rc = strerror_r(err, buf, len); /* an int: the GNU variant would not compile here */

    if (rc != 0)
        snprintf(buf, len, "error %d", err);
}

/* Records the failure of file p: `where` is its path or the directory, `err` an errno value or
 * 0, `what` librrd's message or NULL for err's. Returns -err (-EIO when err is 0). */
static int part_fail(struct jpart *p, const char *where, enum cause c, int err, const char *what)
{
    p->cause = errno_cause(err, c);
    p->where = where;
    if (what && *what)
        snprintf(p->msg, sizeof(p->msg), "%s", what);
    else if (err)
        errno_str(p->msg, sizeof(p->msg), err);
    else
        snprintf(p->msg, sizeof(p->msg), "unknown error");
    return err > 0 ? -err : -EIO;
}

enum found { FOUND_OURS, FOUND_NONE, FOUND_OTHER };

/* Looks at file k: absent, ours (step and DS names match; *last = its last update, *full_rows
 * the rows of its first archive when it is the full resolution, else 0), or a valid RRD of
 * another layout (*old_step). 0, or a negative errno (recorded in e) when it cannot be read as an
 * RRD. */
static int file_inspect(struct jfile *e, int k, const struct layout *lay, uint32_t step,
                        int64_t *last, unsigned long *old_step, unsigned long *full_rows,
                        enum found *found)
{
    struct jpart *p = &e->part[k];
    struct stat st;
    rrd_info_t *info, *i;
    size_t nds = 0, nours;
    const struct schema_ds *ours = schema_ds((enum schema_file)k, &nours);
    unsigned long rows0 = 0, pdp0 = 0;
    bool same = true;
    int fd;

    if (lay->local) {
        if (stat(p->path, &st) != 0) {
            if (errno == ENOENT) {
                *found = FOUND_NONE;
                return 0;
            }
            return part_fail(p, p->path, C_IO, errno, NULL);
        }
        /* librrd's errors say less than errno: try opening it ourselves first (for reading
         * only through rrdcached, which writes it: it may belong to rrdcached's user). */
        fd = open(p->path, (lay->daemon ? O_RDONLY : O_RDWR) | O_CLOEXEC);
        if (fd < 0)
            return part_fail(p, p->path, C_IO, errno, NULL);
        close(fd);
    }
    rrd_clear_error();
    /* Through rrdcached, its view of the file: the header on disk lags behind its cache. */
    info = lay->daemon ? rrdc_info(p->path) : rrd_info_r(p->path);
    if (!info && !lay->local && strstr(rrd_get_error(), "No such file")) {
        *found = FOUND_NONE;
        return 0;
    }
    if (!info)
        return part_fail(p, p->path, C_CORRUPT, 0, rrd_get_error());
    *old_step = 0;
    *last = 0;
    *full_rows = 0;
    for (i = info; i; i = i->next) {
        const char *key = i->key;
        size_t len = strlen(key);

        if (strcmp(key, "step") == 0 && i->type == RD_I_CNT) {
            *old_step = i->value.u_cnt;
        } else if (strcmp(key, "last_update") == 0 && i->type == RD_I_CNT) {
            *last = (int64_t)i->value.u_cnt;
        } else if (strcmp(key, "rra[0].rows") == 0 && i->type == RD_I_CNT) {
            rows0 = i->value.u_cnt;
        } else if (strcmp(key, "rra[0].pdp_per_row") == 0 && i->type == RD_I_CNT) {
            pdp0 = i->value.u_cnt;
        } else if (strncmp(key, "ds[", 3) == 0 && len > 10 &&
                   strcmp(key + len - 7, "].index") == 0 && i->type == RD_I_CNT) {
            unsigned long idx = i->value.u_cnt;
            size_t nlen = len - 10;

            nds++;
            if (idx >= nours || strlen(ours[idx].name) != nlen ||
                strncmp(ours[idx].name, key + 3, nlen) != 0)
                same = false;
        }
    }
    rrd_info_free(info);
    *full_rows = pdp0 == 1 ? rows0 : 0;
    if (*old_step == 0)
        return part_fail(p, p->path, C_CORRUPT, 0, "no step in rrd_info");
    if (lay->daemon) {
        rrd_clear_error();
        *last = (int64_t)rrdc_last(p->path);
        if (*last <= 0)
            return part_fail(p, p->path, C_UPDATE, 0, rrd_get_error());
    }
    *found = same && nds == nours && *old_step == step ? FOUND_OURS : FOUND_OTHER;
    return 0;
}

/* Renames file k to "<path>.<old-step>s-<unix time>.bak" (".<n>.bak" if that exists). 0 or a
 * negative errno (recorded in e). */
static int file_move_aside(struct jfile *e, int k, const struct layout *lay, unsigned long old_step,
                           uint32_t step)
{
    struct jpart *p = &e->part[k];
    size_t len = strlen(p->path) + 64;
    char *to;
    long long now = (long long)time(NULL);
    struct stat st;

    if (!lay->local)
        return part_fail(p, p->path, C_MOVE, 0,
                         "a file of another layout is in the way on the rrdcached host; move it "
                         "aside there by hand");
    /* rrdcached must not write its cached values into the renamed file, nor keep them. */
    if (lay->daemon) {
        rrd_clear_error();
        rrdc_forget(p->path);
    }
    to = malloc(len);
    if (!to)
        return part_fail(p, p->path, C_MOVE, ENOMEM, NULL);
    snprintf(to, len, "%s.%lus-%lld.bak", p->path, old_step, now);
    for (int n = 1; lstat(to, &st) == 0 && n < 100; n++)
        snprintf(to, len, "%s.%lus-%lld.%d.bak", p->path, old_step, now, n);
    if (rename(p->path, to) != 0) {
        int err = errno;

        free(to);
        return part_fail(p, p->path, C_MOVE, err, NULL);
    }
    free(p->moved_to);
    p->moved_to = to;
    p->moved_step = (uint32_t)old_step;
    p->moved_for = step;
    return 0;
}

/* rrd_create_r2 failed, and errno was `err` just after. librrd 1.7.2 says nothing (an empty
 * message, errno ENOENT) when the file does not fit on the disk or under RLIMIT_FSIZE: those two
 * are checked here. Otherwise librrd's message, or errno's when librrd
 * gave none, saying so. Returns a negative errno (recorded in e). */
static int create_failed(struct jfile *e, int k, uint64_t need, int err)
{
    struct jpart *p = &e->part[k];
    const char *what = rrd_get_error();
    char buf[MSG_LEN], es[128];
    struct statvfs vfs;
    struct rlimit rl;

    if (statvfs(e->dir, &vfs) == 0 && (uint64_t)vfs.f_bavail * vfs.f_frsize < need) {
        snprintf(buf, sizeof(buf),
                 "no space left: %" PRIu64 " bytes available, the file needs %" PRIu64 " bytes",
                 (uint64_t)vfs.f_bavail * vfs.f_frsize, need);
        return part_fail(p, p->path, C_NOSPACE, ENOSPC, buf);
    }
    if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        snprintf(buf, sizeof(buf),
                 "the file needs %" PRIu64
                 " bytes, over the file size limit (RLIMIT_FSIZE) of %" PRIu64 " bytes",
                 need, (uint64_t)rl.rlim_cur);
        return part_fail(p, p->path, C_CREATE, EFBIG, buf);
    }
    if (what && *what)
        return part_fail(p, p->path, C_CREATE, err, what);
    if (err == 0)
        return part_fail(p, p->path, C_CREATE, 0, "librrd gave no reason");
    errno_str(es, sizeof(es), err);
    snprintf(buf, sizeof(buf), "librrd gave no reason; errno: %s", es);
    return part_fail(p, p->path, C_CREATE, err, buf);
}

/* Creates file k for `step`, its last update at last_up. 0 or a negative errno (recorded). */
static int file_create(struct jfile *e, int k, const struct layout *lay, uint32_t step,
                       int64_t last_up)
{
    struct schema_rra rra[SCHEMA_MAX_RRA];
    size_t nrra = schema_rra_plan(rra, (enum schema_file)k, step, &lay->keep), nds;
    const struct schema_ds *ds = schema_ds((enum schema_file)k, &nds);
    char defs[SCHEMA_MAX_DS + SCHEMA_MAX_RRA][64];
    const char *argv[SCHEMA_MAX_DS + SCHEMA_MAX_RRA];
    int argc = 0;

    /* DS:<name>:GAUGE:<heartbeat>:<min>:<max> */
    for (size_t i = 0; i < nds; i++) {
        snprintf(defs[argc], sizeof(defs[argc]), "DS:%s:GAUGE:%lu:0:%s", ds[i].name, 2ul * step,
                 ds[i].max);
        argv[argc] = defs[argc];
        argc++;
    }
    for (size_t i = 0; i < nrra; i++) {
        snprintf(defs[argc], sizeof(defs[argc]), "RRA:%s:0.5:%lu:%lu", rra[i].cf, rra[i].pdp,
                 rra[i].rows);
        argv[argc] = defs[argc];
        argc++;
    }
    rrd_clear_error();
    errno = 0;
    if ((lay->daemon
             ? rrdc_create_r2(e->part[k].path, step, (time_t)last_up, 1, NULL, NULL, argc, argv)
             : rrd_create_r2(e->part[k].path, step, (time_t)last_up, 1, NULL, NULL, argc, argv)) !=
        0)
        return create_failed(e, k, schema_file_bytes((enum schema_file)k, step, &lay->keep), errno);
    return 0;
}

/* Makes file k ready for samples of `step` starting at t_first. *dir_rc caches mkdir_p's answer
 * for the job (1 until asked). 0 or a negative errno (recorded in e). */
static int file_ready(struct jfile *e, int k, const struct layout *lay, uint32_t step,
                      int64_t t_first, int *dir_rc)
{
    struct jpart *p = &e->part[k];
    enum found found = FOUND_NONE;
    unsigned long old_step = 0, full_rows = 0;
    int64_t last = 0;
    int rc;

    if (*dir_rc > 0)
        *dir_rc = lay->local ? fsx_mkdir_p(e->dir, 0755) : 0;
    if (*dir_rc < 0)
        return part_fail(p, e->dir, C_DIR, -*dir_rc, NULL);
    rc = file_inspect(e, k, lay, step, &last, &old_step, &full_rows, &found);
    /* Ours, but of the plan from before the files were bounded below one minute (172,800 rows
     * at 1 s): its layout is ours, every reader reads it, so it is used as it is, and said. */
    if (rc == 0 && found == FOUND_OURS && schema_minute_pdp(step) != 0) {
        struct schema_rra rra[SCHEMA_MAX_RRA];

        schema_rra_plan(rra, (enum schema_file)k, step, &lay->keep);
        if (full_rows > rra[0].rows) {
            p->big_rows = full_rows;
            p->big_plan = rra[0].rows;
        }
    }
    /* Ours, but older than what we wrote into it: the samples in between were accepted and are
     * gone (rrdcached killed before it wrote them or flushed its journal, a file restored from
     * a backup). They cannot be written again; say so rather than lose them silently. */
    if (rc == 0 && found == FOUND_OURS && p->last > 0 && last < p->last) {
        p->back_from = p->last;
        p->back_to = last;
        p->back_n = (uint64_t)(p->last - last) / step;
    }
    if (rc == 0 && found == FOUND_OTHER)
        rc = file_move_aside(e, k, lay, old_step, step);
    if (rc == 0 && found != FOUND_OURS) {
        last = t_first - step;
        rc = file_create(e, k, lay, step, last);
    }
    if (rc != 0)
        return rc;
    p->last = last;
    p->ready_step = step;
    return 0;
}

/* Appends ":<seconds>" with the microseconds exact (no floating point), or ":U". */
static void put_us(char **p, const char *end, int64_t us)
{
    int n = us < 0 ? snprintf(*p, (size_t)(end - *p), ":U")
                   : snprintf(*p, (size_t)(end - *p), ":%" PRId64 ".%06" PRId64, us / 1000000,
                              us % 1000000);

    if (n > 0 && n < end - *p)
        *p += n;
}

/* Appends ":1", ":0", or ":U" when v < 0. */
static void put_bit(char **p, const char *end, int v)
{
    int n = snprintf(*p, (size_t)(end - *p), v < 0 ? ":U" : v ? ":1" : ":0");

    if (n > 0 && n < end - *p)
        *p += n;
}

/* One rrd_update_r argument. */
static void format_line(char *p, size_t len, int k, const struct sample *s)
{
    const char *end = p + len;
    bool counted = s->kind == K_OK || s->kind == K_FAILED;

    p += snprintf(p, len, "%" PRId64, s->t);
    if (k == F_CRIT) {
        put_bit(&p, end, counted ? s->kind == K_OK : -1);
        put_bit(&p, end, s->kind == K_MISSED ? -1 : counted);
        put_us(&p, end, s->total_us);
        put_us(&p, end, s->response_us);
        for (size_t i = 0; i < SCHEMA_NBUCKETS; i++)
            put_bit(&p, end,
                    counted ? s->total_us >= 0 && s->total_us < schema_bounds_ms[i] * 1000ll : -1);
    } else {
        put_us(&p, end, s->total_us);
        put_us(&p, end, s->dns_us);
        put_us(&p, end, s->connect_us);
        put_us(&p, end, s->tls_us);
        put_us(&p, end, s->ttfb_us);
    }
}

/* The update that closes a gap: every source unknown at `t`. */
static void format_gap(char *p, size_t len, int k, int64_t t)
{
    const char *end = p + len;
    size_t nds;

    schema_ds((enum schema_file)k, &nds);
    p += snprintf(p, len, "%" PRId64, t);
    for (size_t i = 0; i < nds; i++)
        put_bit(&p, end, -1);
}

#define GAP SIZE_MAX /* idx of a gap line: not a sample */

/* Writes samples [from, to) (one step) into file k, skipping those it already has. 0 or a
 * negative errno (recorded in e).
 *
 * A sample after a gap in the file (vigie stopped or killed, samples lost with rrdcached) is
 * preceded by an update with every source unknown one step before it. Without it, librrd would
 * take the whole time since the file's last update as the sample's interval: longer than the
 * heartbeat (2 steps), the sample would be stored as unknown, and lost; of 2 steps, it would be
 * bridged over the missing step. */
static int file_update(struct jfile *e, int k, const struct layout *lay, size_t from, size_t to,
                       char *lines, const char **argv)
{
    struct jpart *p = &e->part[k];
    size_t i = from;

    while (i < to) {
        size_t idx[UPDATE_CHUNK];
        int argc = 0, nsamples = 0;
        int64_t prev = p->last;

        for (; i < to && argc < UPDATE_CHUNK - 1; i++) {
            struct sample *s = &e->s[i];

            if (s->done & (1u << k))
                continue;
            if (s->t <= p->last) {
                /* Not newer than the file: after a clock step, or written by someone else. */
                s->done |= (uint8_t)(1u << k);
                if (k == F_CRIT) {
                    s->done |= S_STALE;
                    e->stale++;
                }
                continue;
            }
            if (prev > 0 && s->t - (int64_t)s->step > prev) {
                format_gap(lines + (size_t)argc * LINE_MAX_LEN, LINE_MAX_LEN, k,
                           s->t - (int64_t)s->step);
                argv[argc] = lines + (size_t)argc * LINE_MAX_LEN;
                idx[argc++] = GAP;
            }
            format_line(lines + (size_t)argc * LINE_MAX_LEN, LINE_MAX_LEN, k, s);
            argv[argc] = lines + (size_t)argc * LINE_MAX_LEN;
            idx[argc++] = i;
            nsamples++;
            prev = s->t;
        }
        if (argc == 0)
            continue;
        rrd_clear_error();
        errno = 0;
        if ((lay->daemon ? rrdc_update(p->path, argc, argv)
                         : rrd_update_r(p->path, NULL, argc, argv)) != 0) {
            int err = errno, rc;
            time_t last;

            rc = part_fail(p, p->path, C_UPDATE, err, rrd_get_error());
            /* A failed call may have written its first arguments: the file knows. */
            rrd_clear_error();
            last = lay->daemon ? rrdc_last(p->path) : rrd_last_r(p->path);
            rrd_clear_error();
            for (int j = 0; j < argc && last > 0; j++) {
                if (idx[j] == GAP)
                    continue;
                if (e->s[idx[j]].t > (int64_t)last)
                    break;
                e->s[idx[j]].done |= (uint8_t)(1u << k);
                p->written++;
                p->last = e->s[idx[j]].t;
            }
            return rc;
        }
        for (int j = 0; j < argc; j++)
            if (idx[j] != GAP)
                e->s[idx[j]].done |= (uint8_t)(1u << k);
        p->written += (uint64_t)nsamples;
        p->last = e->s[idx[argc - 1]].t;
    }
    return 0;
}

/* Writes into file k the samples of e it does not have yet, one run of samples of the same step
 * after the other. Stops at its first failure (its later samples must not go in before those);
 * the other file does not depend on it. Runs it already has are not looked at: it may have
 * moved on to a newer step since. */
static void part_write(struct jfile *e, int k, const struct layout *lay, int *dir_rc, char *lines,
                       const char **argv)
{
    struct jpart *p = &e->part[k];
    size_t i = 0;

    while (i < e->n) {
        uint32_t step = e->s[i].step;
        size_t first = SIZE_MAX, end = i;

        for (; end < e->n && e->s[end].step == step; end++)
            if (first == SIZE_MAX && !(e->s[end].done & (1u << k)))
                first = end;
        if (first != SIZE_MAX) {
            p->tried = true;
            if (p->ready_step != step && file_ready(e, k, lay, step, e->s[first].t, dir_rc) != 0)
                break;
            if (file_update(e, k, lay, first, end, lines, argv) != 0)
                break;
        }
        i = end;
    }
    /* After a failure, look at the file again next time (it may have been removed). */
    if (p->cause != C_NONE)
        p->ready_step = 0;
}

static void jfile_write(struct jfile *e, const struct layout *lay)
{
    char *lines = malloc((size_t)UPDATE_CHUNK * LINE_MAX_LEN);
    const char **argv = malloc(UPDATE_CHUNK * sizeof(*argv));
    int dir_rc = 1;

    if (!lines || !argv) {
        for (int k = 0; k < NFILES; k++)
            part_fail(&e->part[k], e->part[k].path, C_UPDATE, ENOMEM, NULL);
        goto out;
    }
    for (int k = 0; k < NFILES; k++)
        part_write(e, k, lay, &dir_rc, lines, argv);
out:
    free(lines);
    free(argv);
}

void rrdfile_work(uv_work_t *req)
{
    struct job *j = container_of(req, struct job, req);

    /* A burst of RRD updates must not take the CPU from the loop thread, whose wake-ups time the
     * checks. */
    worker_nice();
    /* Through rrdcached: one connection for the job (librrd reconnects it when the daemon came
     * back); when it cannot be had, nothing is tried and every sample stays queued. */
    if (j->lay.daemon && !rrdc_is_connected(j->lay.daemon)) {
        rrd_clear_error();
        if (rrdc_connect(j->lay.daemon) != 0 || !rrdc_is_connected(j->lay.daemon)) {
            const char *why = rrd_get_error();

            j->daemon_down = true;
            snprintf(j->daemon_msg, sizeof(j->daemon_msg), "%s",
                     why && *why ? why : "cannot connect");
            return;
        }
    }
    for (size_t i = 0; i < j->n; i++) {
        struct jfile *e = j->files[i];

        /* rrdw_close's bound has passed: the probes not started go back untouched. */
        if (atomic_load(&j->stop))
            break;
        jfile_write(e, &j->lay);
        /* librrd drops the connection on a socket error: rrdcached went away. That is one
         * failure for the job, not one per file: what this file did not get stays queued. */
        if (j->lay.daemon && !rrdc_is_connected(j->lay.daemon)) {
            j->daemon_down = true;
            for (int k = 0; k < NFILES; k++) {
                if (e->part[k].cause != C_NONE && !j->daemon_msg[0])
                    snprintf(j->daemon_msg, sizeof(j->daemon_msg), "%s", e->part[k].msg);
                e->part[k].cause = C_NONE;
                e->part[k].tried = false;
                e->part[k].ready_step = 0;
            }
            if (!j->daemon_msg[0])
                snprintf(j->daemon_msg, sizeof(j->daemon_msg), "connection lost");
            break;
        }
    }
}
