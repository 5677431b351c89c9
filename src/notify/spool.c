/* spool — the notifications on disk, so that none is lost: written before delivery, removed once
 * accepted, resumed at start.
 *
 * One file per notification, `<id>.json`, written as `.<id>.tmp`, fsync'd, renamed, and the
 * directory fsync'd, on the thread pool; removed (unlink + directory fsync) once accepted. The
 * scan at start reads every `*.json` back in (created, id) order, removes stale temporaries and
 * renames unreadable files to `*.bad` so they are not retried forever. Each operation is a
 * `struct work` on uv_queue_work; its completion, on the loop, ends in notify_pump (or
 * notify_maybe_closed while closing). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/container.h"
#include "base/fsx.h"
#include "base/log.h"
#include "base/worker.h"
#include "notify/notify_int.h"

enum work_op { W_SCAN, W_WRITE, W_REMOVE };

struct found {
    json_t *j;
    char *file;
};

/* A spool operation on the thread pool. */
struct work {
    uv_work_t req;
    struct notify *n;
    enum work_op op;
    struct item *it; /* W_WRITE */
    char *path;      /* W_WRITE, W_REMOVE */
    char *data;      /* W_WRITE */
    size_t len;
    int err;
    char msg[ERR_MAX];
    struct found *found; /* W_SCAN */
    size_t nfound;
    unsigned bad;
};

static char *path_of(const struct notify *n, const char *name, const char *prefix,
                     const char *suffix)
{
    size_t len = strlen(n->dir) + strlen(prefix) + strlen(name) + strlen(suffix) + 2;
    char *p = malloc(len);

    if (p)
        snprintf(p, len, "%s/%s%s%s", n->dir, prefix, name, suffix);
    return p;
}

static void spool_write(struct work *w)
{
    const char *id = w->it->id;
    char *tmp = path_of(w->n, id, ".", ".tmp");
    int fd = -1, err;

    if (!tmp) {
        w->err = -ENOMEM;
        return;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        err = -errno;
        goto out;
    }
    err = fsx_write_all(fd, w->data, w->len);
    if (!err && fsync(fd) < 0)
        err = -errno;
    if (close(fd) < 0 && !err)
        err = -errno;
    fd = -1;
    if (!err && rename(tmp, w->path) < 0)
        err = -errno;
    if (!err)
        err = fsx_fsync_dir(w->n->dir);
    if (err)
        unlink(tmp);
out:
    if (err)
        snprintf(w->msg, sizeof(w->msg), "%s: %s", tmp, strerror(-err));
    w->err = err;
    free(tmp);
}

static void spool_remove(struct work *w)
{
    int err = 0;

    if (unlink(w->path) < 0 && errno != ENOENT)
        err = -errno;
    if (!err)
        err = fsx_fsync_dir(w->n->dir);
    if (err)
        snprintf(w->msg, sizeof(w->msg), "%s: %s", w->path, strerror(-err));
    w->err = err;
}

static int cmp_found(const void *a, const void *b)
{
    const struct found *x = a, *y = b;
    int r = strcmp(jstr(x->j, "created"), jstr(y->j, "created"));

    return r ? r : strcmp(jstr(x->j, "id"), jstr(y->j, "id"));
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);

    return n > k && strcmp(s + n - k, suffix) == 0;
}

static void spool_scan(struct work *w)
{
    struct notify *n = w->n;
    struct dirent *de;
    size_t cap = 0;
    DIR *d;

    /* Mode 0700 for what it creates: the spool holds what receivers will be told. */
    if ((w->err = fsx_mkdir_p(n->dir, 0700)) != 0) {
        snprintf(w->msg, sizeof(w->msg), "cannot create %s: %s", n->dir, strerror(-w->err));
        return;
    }
    d = opendir(n->dir);
    if (!d) {
        w->err = -errno;
        snprintf(w->msg, sizeof(w->msg), "cannot read %s: %s", n->dir, strerror(errno));
        return;
    }
    while ((de = readdir(d)) != NULL) {
        char *path = path_of(n, de->d_name, "", "");
        json_error_t jerr;
        const char *why;
        json_t *j;

        if (!path)
            break;
        if (de->d_name[0] == '.' && has_suffix(de->d_name, ".tmp")) {
            unlink(path); /* a write that never completed: it was never accepted */
            free(path);
            continue;
        }
        if (de->d_name[0] == '.' || !has_suffix(de->d_name, ".json")) {
            free(path);
            continue;
        }
        j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
        why = j ? notify_check(j) : jerr.text;
        if (!why) {
            size_t idlen = strlen(jstr(j, "id"));

            /* the file name is the id: anything else is not ours */
            if (strlen(de->d_name) != idlen + 5 || strncmp(de->d_name, jstr(j, "id"), idlen))
                why = "its name is not its id";
        }
        if (why) {
            char *bad = path_of(n, de->d_name, "", ".bad");

            log_err("notify: spool file %s is unreadable (%s): renamed to .bad", path, why);
            if (bad)
                rename(path, bad);
            free(bad);
            json_decref(j);
            free(path);
            w->bad++;
            continue;
        }
        if (w->nfound == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct found *f = realloc(w->found, ncap * sizeof(*f));

            if (!f) {
                json_decref(j);
                free(path);
                break;
            }
            w->found = f;
            cap = ncap;
        }
        w->found[w->nfound].j = j;
        w->found[w->nfound].file = path;
        w->nfound++;
    }
    closedir(d);
    if (w->nfound > 1)
        qsort(w->found, w->nfound, sizeof(*w->found), cmp_found);
}

static void on_work(uv_work_t *req)
{
    struct work *w = container_of(req, struct work, req);

    worker_nice();
    switch (w->op) {
    case W_SCAN:
        spool_scan(w);
        break;
    case W_WRITE:
        spool_write(w);
        break;
    case W_REMOVE:
        spool_remove(w);
        break;
    }
}

static void on_work_done(uv_work_t *req, int status)
{
    struct work *w = container_of(req, struct work, req);
    struct notify *n = w->n;

    if (status < 0 && !w->err) /* cancelled: never happens, but not silently */
        w->err = status;
    switch (w->op) {
    case W_SCAN:
        if (w->err) {
            n->spool_errors++;
            log_err("notify: spool: %s; notifications are delivered from memory only", w->msg);
        }
        for (size_t i = 0; i < w->nfound; i++) {
            struct item *it = calloc(1, sizeof(*it));

            if (it) {
                it->j = w->found[i].j;
                it->id = strdup(jstr(it->j, "id"));
                it->rname = strdup(jstr(it->j, "receiver"));
                it->spooled = true;
            }
            if (!it || !it->id || !it->rname || n->closing) {
                if (it)
                    notify_item_free(it);
                else
                    json_decref(w->found[i].j);
            } else {
                notify_enqueue(n, it);
            }
            free(w->found[i].file);
        }
        if (w->nfound > 0 && !n->closing)
            log_notice("notify: %zu notification%s resumed from the spool %s", w->nfound,
                       w->nfound == 1 ? "" : "s", n->dir);
        free(w->found);
        n->scanned = true;
        while (n->early) {
            struct item *it = n->early;

            n->early = it->next;
            if (n->closing) {
                notify_item_free(it);
            } else {
                notify_enqueue(n, it);
                spool_start_write(n, it);
            }
        }
        n->early_tail = NULL;
        break;
    case W_WRITE:
        if (w->err) {
            n->spool_errors++;
            log_err("notify: cannot spool notification %s (%s): delivering it from memory",
                    w->it->id, w->msg);
        }
        /* the item sits in its receiver's queue (freed with it when closing) */
        w->it->spooled = w->err == 0;
        w->it->writing = false;
        break;
    case W_REMOVE:
        if (w->err) {
            n->spool_errors++;
            log_err("notify: cannot remove a delivered notification from the spool (%s): it "
                    "will be delivered again at the next start",
                    w->msg);
        }
        break;
    }
    free(w->path);
    free(w->data);
    free(w);
    n->busy--;
    if (n->closing)
        notify_maybe_closed(n);
    else
        notify_pump(n);
}

static int work_start(struct notify *n, struct work *w)
{
    int err;

    w->n = n;
    err = uv_queue_work(n->loop, &w->req, on_work, on_work_done);
    if (err == 0)
        n->busy++;
    return err;
}

void spool_start_write(struct notify *n, struct item *it)
{
    struct work *w = calloc(1, sizeof(*w));

    it->writing = true;
    if (w) {
        w->op = W_WRITE;
        w->it = it;
        w->path = path_of(n, it->id, "", ".json");
        w->data = json_dumps(it->j, JSON_COMPACT | JSON_SORT_KEYS);
        w->len = w->data ? strlen(w->data) : 0;
    }
    if (!w || !w->path || !w->data || work_start(n, w) != 0) {
        n->spool_errors++;
        log_err("notify: cannot spool notification %s: delivering it from memory", it->id);
        if (w) {
            free(w->path);
            free(w->data);
            free(w);
        }
        it->writing = false;
    }
}

void spool_start_remove(struct notify *n, const char *id)
{
    struct work *w = calloc(1, sizeof(*w));

    if (w) {
        w->op = W_REMOVE;
        w->path = path_of(n, id, "", ".json");
    }
    if (!w || !w->path || work_start(n, w) != 0) {
        n->spool_errors++;
        log_err("notify: cannot remove notification %s from the spool: it will be delivered "
                "again at the next start",
                id);
        if (w)
            free(w->path);
        free(w);
    }
}

int spool_start_scan(struct notify *n)
{
    struct work *w = calloc(1, sizeof(*w));
    int err;

    if (!w)
        return -ENOMEM;
    w->op = W_SCAN;
    err = work_start(n, w);
    if (err)
        free(w);
    return err;
}
