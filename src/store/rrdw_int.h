/* rrdw_int.h — what the sides of the RRD writer hand to each other: the job, the journal.
 *
 * The loop side (rrdw.c) fills a `struct job` with copies of everything the worker needs and
 * queues it; the worker side (rrdfile.c, rrdfile_work) writes it into the files and records
 * what happened in it; back on the loop thread, rrdw.c takes it back. What rrdw_close could not
 * write goes the same way, in a `struct jnl`, to rrdjournal.c, which writes it into the journal
 * file that rrdw_new reads back. Private to rrdw.c, rrdfile.c and rrdjournal.c. */
#ifndef VIGIE_RRDW_INT_H
#define VIGIE_RRDW_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "store/schema.h"

#define NFILES SCHEMA_NFILES /* per probe: the criterion file, the phases file */
#define F_CRIT SCHEMA_CRIT
#define F_PHASES SCHEMA_PHASES
#define DONE_ALL ((1u << NFILES) - 1)
#define S_STALE (1u << NFILES) /* sample flag: skipped as stale by the criterion file */

#define MSG_LEN 512

/* What a sample says. Durations are microseconds, -1 when unknown (written as U). */
enum kind { K_OK, K_FAILED, K_FLAGGED, K_MISSED };

struct sample {
    int64_t t; /* the step boundary it is written at */
    int64_t total_us, response_us, dns_us, connect_us, tls_us, ttfb_us;
    uint32_t step;
    uint8_t kind; /* enum kind */
    uint8_t done; /* bit F_CRIT, bit F_PHASES: already in that file; S_STALE */
};

/* Why a write failed. Each is logged once per file until the file works again. */
enum cause {
    C_NONE,
    C_DIR,     /* the directory cannot be created or is not one */
    C_ACCESS,  /* permission denied, read-only file system */
    C_NOSPACE, /* disk full, quota */
    C_IO,      /* the file exists but cannot be looked at */
    C_CORRUPT, /* the file is not a readable RRD */
    C_MOVE,    /* a file of another layout could not be moved aside */
    C_CREATE,  /* rrd_create_r2 failed */
    C_UPDATE,  /* rrd_update_r failed */
    C__COUNT
};

struct rrdw;
struct wfile;

/* What the worker needs to create files. */
struct layout {
    struct schema_keep keep;
    const char *daemon; /* rrdcached's address, NULL: librrd writes the files itself */
    bool local;         /* the files are on this machine (no daemon, or a unix socket) */
};

/* One file's part of a job: in, what the worker needs; out, what happened. */
struct jpart {
    const char *path;
    int64_t last;        /* in/out: its last update, 0 unknown */
    uint32_t ready_step; /* in/out: step it was verified for, 0 none */
    bool tried;          /* out: it was missing samples of the job */
    uint64_t written;    /* out: samples written into it */
    enum cause cause;    /* out: its first failure, C_NONE if none */
    const char *where;   /* out: what failed: its path, or the directory */
    char msg[MSG_LEN];
    char *moved_to;                 /* allocated by the worker when the file was moved aside */
    uint32_t moved_step, moved_for; /* its step, the new step */
    int64_t back_from, back_to;     /* out: looked at again, its last update had gone back */
    uint64_t back_n;                /* ... by this many steps: samples written, then lost */
    /* out: a file of a sub-minute step holding more rows at full resolution (big_rows) than
     * schema_rra_plan gives it now (big_plan): one created before the files were bounded. */
    unsigned long big_rows, big_plan;
};

/* One probe's part of a job. One allocation: the samples, then the strings. */
struct jfile {
    struct wfile *f; /* for job_done only: the worker never follows it */
    const char *id, *dir;
    uint64_t since;
    uint64_t stale; /* out: samples skipped as not newer than the criterion file */
    struct jpart part[NFILES];
    size_t n;
    struct sample s[];
};

struct job {
    uv_work_t req;
    struct rrdw *w; /* for job_done only */
    struct layout lay;
    bool final;
    /* The one field both threads touch while the job runs: set by the loop when rrdw_close's
     * bound has passed, read by the worker before each probe (the probes not started stay
     * untouched and go back to their rings, for the journal). */
    atomic_bool stop;
    bool daemon_down; /* out: rrdcached could not be reached, nothing was tried */
    char daemon_msg[MSG_LEN];
    size_t n;
    struct jfile *files[];
};

/* The uv_work_cb of a job (thread-pool thread): writes its samples into the files, marking
 * each sample's `done` bits, and fills the out fields of its jfiles and jparts. Reads and
 * writes only the job; stops before the next probe once `stop` is set. */
void rrdfile_work(uv_work_t *req);

/* The journal's name in the RRD directory. */
#define JOURNAL_NAME ".vigie-journal"

/* One operation on the journal file (rrdjournal.c), on the thread pool: write it with the
 * samples of `files` (replacing it atomically, durably), or remove it. */
struct jnl {
    uv_work_t req;
    struct rrdw *w;   /* for the loop side only */
    const char *dir;  /* the directory it is in, created if missing */
    const char *path; /* the journal: <dir>/JOURNAL_NAME */
    bool remove;      /* remove it (its samples are written) rather than write it */
    bool at_close;    /* rrdw_close's: the writer is freed once it is done */
    int rc;           /* out: 0 or a negative errno */
    char msg[MSG_LEN];
    uint64_t n; /* out: samples written into it */
    size_t nfiles;
    struct jfile *files[];
};

/* The uv_work_cb of a struct jnl. Reads and writes only it. */
void rrdjournal_work(uv_work_t *req);

/* Receives one sample of the journal (its `done` bits as written) for probe `id`. 0, or a
 * negative errno that stops the reading. */
typedef int (*rrdjournal_add_cb)(void *arg, const char *id, const struct sample *s);

/* Reads the journal at `path` and hands its samples to `add`, in order, only once the whole
 * file has been found valid. 0 (*n samples handed), -ENOENT when there is none, or another
 * negative errno with `msg` saying what is wrong and *line where (0: not a line's fault):
 * -EINVAL for a journal that is not whole or not ours. Blocking: at start, before the loop
 * runs. */
int rrdjournal_read(const char *path, rrdjournal_add_cb add, void *arg, uint64_t *n, size_t *line,
                    char *msg, size_t msglen);

/* Renames a journal that cannot be read to "<path>.bad" (".<n>.bad" if that exists), into `to`.
 * 0 or a negative errno. */
int rrdjournal_set_aside(const char *path, char *to, size_t len);

#endif
