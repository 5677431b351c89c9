/* notify — delivery of notifications to receivers, from a spool on disk, never lost.
 *
 * The alert engine hands over ready notifications (one per receiver); notify writes each to the
 * spool directory (a temporary file, fsync, rename, on the thread pool) and then delivers it to
 * its receiver: an exec'd program, a webhook, a mail over SMTP or Alertmanager's v2 API (see
 * docs/ALERTING.md). A notification leaves the spool only once its receiver accepted it; until
 * then it is retried with exponential backoff (backoff_min doubling up to backoff_max, with
 * jitter), and held while the receiver's rate_limit per hour is spent. A new notify on the same
 * spool resumes every notification left there (after a crash, a SIGKILL, a restart): delivery is
 * at least once.
 *
 * Per receiver, notifications go out one at a time and in order (an Alertmanager must not see a
 * resolution before its firing); a receiver that fails is retried after its backoff, the others
 * are not slowed down. A notification the receiver rejects outright (HTTP 4xx but 408 and 429)
 * moves behind the others so that it cannot block them, and is retried like any failure.
 *
 * The notification (also the spool file's content, JSON):
 *   { "version": 1, "id": "<[A-Za-z0-9._-]{1,128}, unique>", "route": "...", "receiver": "<name>",
 *     "group": "...", "created": "<RFC 3339 UTC>", "status": "firing"|"resolved",
 *     "title": "12 procedures of Ministère X down",
 *     "alerts": [ { "probe": "id", "name": "...", "group": "...", "url": "...",
 *                   "kind": "down"|"slow"|"unknown"|"impaired"|"overloaded"|"tls_expiry"
 *                           |"criterion",
 *                   "severity": "critical"|"warning", "status": "firing"|"resolved",
 *                   "since": "<RFC 3339>", "ends": "<RFC 3339>"|null, "summary": "...",
 *                   "value": number|null } ] }
 * version, id, receiver, status, title and alerts are required; the rest defaults to "" / null.
 *
 * Everything runs on the loop thread but the spool's file operations (uv_queue_work). Exec
 * receivers write to a pipe: the process must ignore SIGPIPE (vigie run does). */
#ifndef VIGIE_NOTIFY_H
#define VIGIE_NOTIFY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config/config.h"
#include "net/httpc.h"

struct notify;

/* Counters, totals over receivers or for one. */
struct notify_stats {
    uint64_t submitted;    /* taken by notify_submit or resumed from the spool */
    uint64_t sent;         /* accepted by their receiver (and removed from the spool) */
    uint64_t retried;      /* failed attempts, each followed by a retry */
    uint64_t pending;      /* gauge: not yet accepted (in the spool, in flight or waiting) */
    uint64_t held;         /* gauge: of those, waiting because the rate limit is spent */
    uint64_t orphaned;     /* gauge: of those, for a receiver not in the configuration */
    uint64_t spool_errors; /* spool writes or removals that failed (delivery goes on) */
};

/* Creates the notifier on `loop`, delivering through `h` (webhooks, mail, Alertmanager) to the
 * receivers of `cfg` (borrowed: it must outlive the notifier or be replaced by notify_reload
 * before it is freed). `spool_dir` (copied) is created (mode 0700) if missing. Scanning the spool
 * and resuming what it holds happens on the thread pool right after; notifications submitted
 * meanwhile are spooled once the scan is over. Returns 0 and *out, or a negative errno. */
int notify_new(uv_loop_t *loop, struct httpc *h, const struct config *cfg, const char *spool_dir,
               struct notify **out);

/* Hands over one notification. It is validated and copied (the caller keeps its reference),
 * written to the spool, and delivered once written (or, if the spool cannot be written, from
 * memory, the error counted and logged). Returns 0; -EINVAL when it does not follow the format
 * above (logged with the reason); -ENOENT when its receiver is not configured; -EEXIST when a
 * notification with this id is still pending; -ECANCELED while closing; -ENOMEM. */
int notify_submit(struct notify *n, json_t *notification);

/* Writes a fresh id ("<unix ms>-<pid>-<counter>") into buf (≥ 48 bytes). Returns 0, or -ENOSPC
 * when buf is too small. */
int notify_make_id(struct notify *n, char *buf, size_t len);

/* Switches to the receivers of a new configuration (after a reload), matched by name: pending
 * notifications, counters and backoff carry over; notifications for a receiver that disappeared
 * stay in the spool (orphaned) until a configuration names it again. `cfg` is borrowed like in
 * notify_new; the old one may be freed once this returns. */
void notify_reload(struct notify *n, const struct config *cfg);

/* Totals over all receivers. */
void notify_stats(const struct notify *n, struct notify_stats *st);

/* True while a submitted notification is not yet in the spool on disk (its file being written,
 * or it was submitted before the spool was scanned): a crash now would lose it. The alert state
 * saying it was sent must not be written before (alerting_hold_state). */
bool notify_spooling(const struct notify *n);

/* One receiver's counters. Returns 0, or -ENOENT if notify knows no receiver by that name. */
int notify_receiver_stats(const struct notify *n, const char *name, struct notify_stats *st);

/* Stops delivering: transfers in flight are cancelled (through httpc_cancel, so call this before
 * httpc_close), exec'd programs killed, spool writes in flight finished. Nothing accepted is lost:
 * what was not delivered stays in the spool for the next notify_new. `cb` runs once everything is
 * closed and n has been freed. */
void notify_close(struct notify *n, void (*cb)(void *arg), void *arg);

#endif
