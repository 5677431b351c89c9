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
 * queued and retries; the first failure of each cause is logged, and the recovery. */
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
    const char *dir;    /* created if missing */
    uint64_t flush_ms;  /* a sample waits at most this long before its file is written;
                           default 30 s */
    size_t max_queued;  /* samples kept in memory at most, default 1,000,000; past it the
                           oldest are dropped and counted */
    uint64_t full_s;    /* retention of the full-resolution RRAs, default 2 days */
    uint64_t medium_s;  /* 10-minute RRAs, default 14 days */
    uint64_t hourly_s;  /* 1-hour RRAs, default 400 days (phases file: 92 days) */
    uint64_t daily_s;   /* 1-day RRA of the criterion file, default 5 years (1830 days) */
    const char *daemon; /* rrdcached's address ("unix:/path", "host:port"): files are created,
                           inspected and updated through it (librrd's rrdc_* client); NULL:
                           librrd writes them itself */
};

struct rrdw_stats {
    uint64_t queued;      /* samples in memory now */
    uint64_t written;     /* samples written (per probe, both files count as one) */
    uint64_t dropped;     /* samples dropped because the queue was full */
    uint64_t stale;       /* samples not newer than the file's last update, skipped */
    uint64_t failures;    /* failed write attempts */
    uint64_t files_moved; /* files moved aside (step or layout changed) */
    uint64_t rolled_back; /* samples written, then lost by the storage: a criterion file found
                             older than its last write (rrdcached killed before writing them
                             out, an older copy put back); logged per file */
    bool daemon_down;     /* rrdcached could not be reached by the last write */
};

/* Creates the writer. Zero fields of `o` take their defaults. NULL on failure. */
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

/* Flushes what is pending (one last attempt), then frees the writer and calls cb. Samples that
 * still cannot be written are counted in the log line that reports them lost. When `final` is
 * not NULL it receives the writer's last statistics (after that flush) before cb runs. */
void rrdw_close(struct rrdw *w, struct rrdw_stats *final, void (*cb)(void *arg), void *arg);

#endif
