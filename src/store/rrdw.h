/* rrdw — the RRD writer: the only module that creates and updates RRD files (librrd's
 * thread-safe `_r` calls, on a libuv worker thread, never on the loop thread).
 *
 * Layout: store/schema.h (docs/RRD.md is the reference): two files per probe in the RRD
 * directory, step = the probe's interval, heartbeat = 2 × step.
 *
 * A sample is written at the step boundary that ends the step holding its due time, so each
 * primary data point holds exactly one check and AVERAGE over any step-aligned window is exact.
 * A missed tick is written as unknown (U) values so that the gap is not bridged by the
 * heartbeat.
 *
 * Nothing is lost: samples wait in memory (bounded) until written; a failed write keeps them
 * queued and retries; the first failure of each cause is logged, and the recovery. What is still
 * not written when the writer closes goes to a journal file, which the next rrdw_new replays. */
#ifndef VIGIE_RRDW_H
#define VIGIE_RRDW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "config/config.h"
#include "net/result.h"

struct rrdw;

struct rrdw_opts {
    const char *dir;         /* created if missing */
    uint64_t flush_ms;       /* a sample waits at most this long before its file is written;
                                default 30 s */
    size_t max_queued;       /* samples kept in memory at most, default 1,000,000; past it the
                                oldest are dropped and counted */
    uint64_t full_s;         /* retention of the full-resolution RRAs, default 2 days */
    uint64_t medium_s;       /* 10-minute RRAs, default 14 days */
    uint64_t hourly_s;       /* 1-hour RRAs, default 400 days (phases file: 92 days) */
    uint64_t daily_s;        /* 1-day RRA of the criterion file, default 5 years (1830 days) */
    const char *daemon;      /* rrdcached's address ("unix:/path", "host:port"): files are created,
                                inspected and updated through it (librrd's rrdc_* client); NULL:
                                librrd writes them itself */
    uint64_t close_ms;       /* rrdw_close writes for this long at most, default 20 s (then the rest
                                goes to the journal) */
    const char *journal_dir; /* where the journal (.vigie-journal) is kept, created if missing;
                                NULL: `dir` when the files are on this machine, none through a
                                remote rrdcached (samples not written at close are lost) */
};

struct rrdw_stats {
    uint64_t queued;      /* samples in memory now; in rrdw_close's final statistics, the samples
                             not written (in the journal: `journaled`, or lost) */
    uint64_t written;     /* samples written (per probe, both files count as one) */
    uint64_t dropped;     /* samples dropped because the queue was full */
    uint64_t stale;       /* samples not newer than the file's last update, skipped */
    uint64_t failures;    /* failed write attempts */
    uint64_t files_moved; /* files moved aside (step or layout changed) */
    uint64_t rolled_back; /* samples written, then lost by the storage: a criterion file found
                             older than its last write (rrdcached killed before writing them
                             out, an older copy put back); logged per file */
    bool daemon_down;     /* rrdcached could not be reached by the last write */
    uint64_t replayed;    /* samples read back from the journal by rrdw_new */
    uint64_t journaled;   /* samples written into the journal by rrdw_close */
};

/* Creates the writer. Zero fields of `o` take their defaults. NULL on failure.
 *
 * A journal left by rrdw_close is read first (blocking: call it before the loop runs): its
 * samples are queued ahead of any new one and written at once, and the file is removed once they
 * all are. Replaying a journal twice (a crash before its removal) writes nothing twice: samples
 * not newer than a file's last update are skipped as stale. A journal that is not whole or not
 * ours is renamed to .vigie-journal.bad with an error naming its line; never fatal. Its samples
 * are written by probe id and step, whether or not the probe is still configured. */
struct rrdw *rrdw_new(uv_loop_t *loop, const struct rrdw_opts *o);

/* Queues the sample of one check. `due` is its wall-clock due time (UNIX seconds). `flagged`
 * marks a sample taken while the probe was impaired (written with valid=0 and U elsewhere).
 * `res` NULL means a missed tick (written as U). Never blocks, never fails: past max_queued the
 * oldest sample is dropped and counted. The probe must stay valid until rrdw_close's callback or
 * until its samples are written (the writer copies the id, path and step it needs). */
void rrdw_push(struct rrdw *w, const struct probe *p, int64_t due, const struct result *res,
               bool flagged);

/* Writes everything pending now (without waiting for flush_ms). Asynchronous. */
void rrdw_flush(struct rrdw *w);

void rrdw_stats(const struct rrdw *w, struct rrdw_stats *out);

/* Flushes what is pending (one last attempt, at most close_ms, plus the one probe being written
 * then), writes what is left into the journal (one log line counts them; if the journal cannot
 * be written they are reported lost), then frees the writer and calls cb. When `final` is not
 * NULL it receives the writer's last statistics before cb runs. */
void rrdw_close(struct rrdw *w, struct rrdw_stats *final, void (*cb)(void *arg), void *arg);

#endif
