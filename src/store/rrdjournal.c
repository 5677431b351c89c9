/* rrdjournal — the RRD writer's journal: the samples rrdw_close could not write in time (or at
 * all), kept in a file of the RRD directory until the next start writes them.
 *
 * One line per sample, in the order of each probe's queue (docs/RRD.md, "The journal"):
 *
 *     vigie-journal 1
 *     <id> <step> <t> <kind> <done> <total> <response> <dns> <connect> <tls> <ttfb>
 *     ...
 *     end <samples>
 *
 * `t` is the step boundary the sample is written at (UNIX seconds, a multiple of `step`), `kind`
 * ok, failed, flagged or missed, `done` the files that already have it (1 the criterion file,
 * 2 the phases file, 4: the criterion file skipped it as stale), the durations in microseconds,
 * -1 unknown. The last line counts the samples: a journal without it, or with another count, is
 * not whole. It is written beside its final name and renamed over it after an fsync (the
 * directory's fsync after), so a reader sees a whole journal or none.
 *
 * Writing and removing run on the thread pool (rrdjournal_work); reading runs at start, before
 * the loop (rrdjournal_read): the whole file is checked before the first sample is handed over,
 * so a damaged journal queues nothing. */
#include "store/rrdw_int.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/container.h"
#include "base/fsx.h"
#include "base/worker.h"

#define JOURNAL_MAGIC "vigie-journal 1"
#define JOURNAL_ID_MAX 64     /* a probe id's length at most (config: ID_MAX_LEN) */
#define JOURNAL_LINE_MAX 1024 /* longer lines are not ours */
#define DUR_MAX (INT64_MAX / 4)

static const char *const kind_str[] = {
    [K_OK] = "ok", [K_FAILED] = "failed", [K_FLAGGED] = "flagged", [K_MISSED] = "missed"};

/* ------------------------------------------------------------------------------------------ */
/* Writing and removing, on the thread pool. */

static void jnl_fail(struct jnl *jn, int rc, const char *step)
{
    char es[128];

    if (strerror_r(-rc, es, sizeof(es)) != 0)
        snprintf(es, sizeof(es), "error %d", -rc);
    snprintf(jn->msg, sizeof(jn->msg), "%s: %s", step, es);
    jn->rc = rc;
}

static void jnl_print(FILE *fp, const struct jfile *e, const struct sample *s)
{
    fprintf(fp,
            "%s %" PRIu32 " %" PRId64 " %s %u %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64
            " %" PRId64 " %" PRId64 "\n",
            e->id, s->step, s->t, kind_str[s->kind], (unsigned)s->done, s->total_us, s->response_us,
            s->dns_us, s->connect_us, s->tls_us, s->ttfb_us);
}

static void jnl_write(struct jnl *jn)
{
    struct fsx_atomic a;
    const char *step = "write";
    FILE *fp;
    int rc = fsx_mkdir_p(jn->dir, 0755);

    if (rc == 0)
        rc = fsx_atomic_open(&a, jn->path);
    if (rc != 0) {
        jnl_fail(jn, rc, "create");
        return;
    }
    fp = fsx_atomic_stream(&a);
    if (!fp) {
        rc = errno ? -errno : -ENOMEM;
    } else {
        fprintf(fp, "%s\n", JOURNAL_MAGIC);
        for (size_t i = 0; i < jn->nfiles; i++) {
            const struct jfile *e = jn->files[i];

            for (size_t k = 0; k < e->n; k++)
                jnl_print(fp, e, &e->s[k]);
            jn->n += e->n;
        }
        fprintf(fp, "end %" PRIu64 "\n", jn->n);
        if (fflush(fp) != 0 || ferror(fp))
            rc = errno ? -errno : -EIO;
    }
    rc = fsx_atomic_commit(&a, jn->path, 0640, FSX_DURABLE, rc, &step);
    if (rc != 0)
        jnl_fail(jn, rc, step);
}

static void jnl_remove(struct jnl *jn)
{
    int rc;

    if (unlink(jn->path) != 0) {
        if (errno != ENOENT)
            jnl_fail(jn, -errno, "unlink");
        return;
    }
    rc = fsx_fsync_dir(jn->dir);
    if (rc != 0)
        jnl_fail(jn, rc, "fsync of the directory");
}

void rrdjournal_work(uv_work_t *req)
{
    struct jnl *jn = container_of(req, struct jnl, req);

    worker_nice();
    if (jn->remove)
        jnl_remove(jn);
    else
        jnl_write(jn);
}

/* ------------------------------------------------------------------------------------------ */
/* Reading, at start. */

/* The next space-separated field of *p (NUL-terminated in place), or NULL at the end. */
static char *field(char **p)
{
    char *s = *p, *end;

    if (!s || !*s)
        return NULL;
    end = strchr(s, ' ');
    if (end) {
        *end = '\0';
        *p = end + 1;
    } else {
        *p = NULL;
    }
    return s;
}

static bool num(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    long long v;

    if (!s || !*s || (*s != '-' && (*s < '0' || *s > '9')))
        return false;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static bool id_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > JOURNAL_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              (i > 0 && (c == '.' || c == '_' || c == '-'))))
            return false;
    }
    return true;
}

/* One sample line into *s and id (JOURNAL_ID_MAX + 1 bytes). NULL, or what is wrong. */
static const char *parse_sample(char *line, char *id, struct sample *s)
{
    char *p = line, *f;
    int64_t v, *dur[] = {&s->total_us,   &s->response_us, &s->dns_us,
                         &s->connect_us, &s->tls_us,      &s->ttfb_us};
    int k;

    memset(s, 0, sizeof(*s));
    f = field(&p);
    if (!f || !id_ok(f))
        return "expected a probe id";
    snprintf(id, JOURNAL_ID_MAX + 1, "%s", f);
    if (!num(field(&p), 1, UINT32_MAX, &v))
        return "expected a step (seconds)";
    s->step = (uint32_t)v;
    if (!num(field(&p), 1, INT64_MAX / 2, &s->t) || s->t % s->step != 0)
        return "expected a time on a step boundary";
    f = field(&p);
    for (k = 0; f && k < (int)ARRAY_SIZE(kind_str); k++)
        if (strcmp(f, kind_str[k]) == 0)
            break;
    if (!f || k == (int)ARRAY_SIZE(kind_str))
        return "expected ok, failed, flagged or missed";
    s->kind = (uint8_t)k;
    if (!num(field(&p), 0, DONE_ALL | S_STALE, &v) || (v & DONE_ALL) == DONE_ALL)
        return "expected the files that have it: 0, 1, 2 (4 for stale)";
    s->done = (uint8_t)v;
    for (size_t i = 0; i < ARRAY_SIZE(dur); i++)
        if (!num(field(&p), -1, DUR_MAX, dur[i]))
            return "expected 6 durations in microseconds (-1 unknown)";
    if (p)
        return "more fields than a sample has";
    return NULL;
}

/* Goes through the journal: checks it (add NULL) or hands its samples over. */
static int journal_pass(FILE *fp, rrdjournal_add_cb add, void *arg, uint64_t *n, size_t *lineno,
                        char *msg, size_t msglen)
{
    char *line = NULL, id[JOURNAL_ID_MAX + 1], prev[JOURNAL_ID_MAX + 1] = "";
    size_t cap = 0;
    ssize_t len;
    int64_t prev_t = 0, count = -1;
    const char *what = NULL;
    int rc = 0;

    *n = 0;
    *lineno = 0;
    while ((len = getline(&line, &cap, fp)) >= 0) {
        struct sample s;

        ++*lineno;
        if (len == 0 || line[len - 1] != '\n') {
            what = "truncated (no end of line)";
            break;
        }
        line[--len] = '\0';
        if (count >= 0) {
            what = "a line after the end";
            break;
        }
        if (len > JOURNAL_LINE_MAX || memchr(line, '\0', (size_t)len)) {
            what = "not a journal line";
            break;
        }
        if (*lineno == 1) {
            if (strcmp(line, JOURNAL_MAGIC) != 0) {
                what = "not a vigie journal (expected \"" JOURNAL_MAGIC "\")";
                break;
            }
            continue;
        }
        if (strncmp(line, "end ", 4) == 0) {
            if (!num(line + 4, 0, INT64_MAX, &count) || (uint64_t)count != *n) {
                snprintf(msg, msglen, "the end line counts %s samples, %" PRIu64 " read", line + 4,
                         *n);
                rc = -EINVAL;
                goto out;
            }
            continue;
        }
        what = parse_sample(line, id, &s);
        if (what)
            break;
        if (strcmp(id, prev) == 0 && s.t <= prev_t) {
            snprintf(msg, msglen, "probe %s: sample at %" PRId64 " not after %" PRId64, id, s.t,
                     prev_t);
            rc = -EINVAL;
            goto out;
        }
        snprintf(prev, sizeof(prev), "%s", id);
        prev_t = s.t;
        if (add && (rc = add(arg, id, &s)) != 0) {
            snprintf(msg, msglen, "cannot queue its samples (%s)",
                     rc == -ENOMEM ? "out of memory" : "error");
            goto out;
        }
        ++*n;
    }
    if (!what && ferror(fp)) {
        int err = errno ? errno : EIO;

        *lineno = 0;
        if (strerror_r(err, msg, msglen) != 0)
            snprintf(msg, msglen, "error %d", err);
        rc = -err;
        goto out;
    }
    if (!what && count < 0) {
        what = *lineno == 0 ? "empty" : "truncated (no end line)";
        ++*lineno;
    }
    if (what) {
        snprintf(msg, msglen, "%s", what);
        rc = -EINVAL;
    }
out:
    free(line);
    return rc;
}

int rrdjournal_read(const char *path, rrdjournal_add_cb add, void *arg, uint64_t *n, size_t *line,
                    char *msg, size_t msglen)
{
    FILE *fp = fopen(path, "re");
    int rc;

    *n = 0;
    *line = 0;
    if (!fp) {
        rc = -errno;
        if (strerror_r(errno, msg, msglen) != 0)
            snprintf(msg, msglen, "error %d", -rc);
        return rc;
    }
    rc = journal_pass(fp, NULL, NULL, n, line, msg, msglen);
    if (rc == 0) {
        rewind(fp);
        rc = journal_pass(fp, add, arg, n, line, msg, msglen);
    }
    fclose(fp);
    return rc;
}

int rrdjournal_set_aside(const char *path, char *to, size_t len)
{
    struct stat st;

    snprintf(to, len, "%s.bad", path);
    for (int i = 2; lstat(to, &st) == 0 && i < 100; i++)
        snprintf(to, len, "%s.%d.bad", path, i);
    return rename(path, to) == 0 ? 0 : -errno;
}
