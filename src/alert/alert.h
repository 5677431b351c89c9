/* alert — the alert engine: turns check results into alerts that are right and few.
 *
 * A pure state machine: no I/O, no clock of its own (every entry point takes `now`, wall-clock
 * milliseconds), so that every rule is tested by feeding it results. The daemon calls it from
 * the loop thread and hands the notifications it produces to `notify` (delivery, spool, retries).
 *
 * Per probe (settings in the probe's `alert:` block, docs/ALERTING.md):
 *   DOWN       after `confirm` failed checks in a row; resolved after `recover` successes in a row.
 *   SLOW       when the `slow_percentile` of the last `slow_window` successful checks' total time
 *              reaches the probe's `slow`; resolved under `slow_clear` × `slow` (hysteresis).
 *   TLS        the certificate expires within `tls.min_days`; resolved by a check that sees a
 *              certificate with more days left.
 *   CRITERION  the availability over `availability_window`, read from the RRD files by the
 *              daemon (alert_availability), is under `availability_target`.
 * For vigie itself:
 *   IMPAIRED   every canary failed, or (no canary answering) at least `impaired_share` of the
 *              hosts checked in the last `impaired_window` failed at the network level (DNS,
 *              connect, timeout) and at least `impaired_min_hosts` were checked. While impaired,
 *              network-level failures do not count against the services: the probes stay as
 *              they were (UNKNOWN to a reader), the samples are to be flagged.
 *   OVERLOADED vigie sheds load (its scheduler checks one tick in f, f > 1: sched.h): fired by
 *              alert_overload when shedding starts, its summary naming the cause and the factor
 *              as it changes (one alert, not one per change), resolved when shedding ends.
 *
 * Notifications: a transition waits in a pending list; `group_wait` after the oldest pending one,
 * all pending transitions are routed (alerting.routes, first match unless `continue`) and
 * gathered per route and group into one notification per receiver. Firing alerts are repeated
 * every route's `repeat`. Alerts of probes in a maintenance window are held, and sent when the
 * window ends if they still fire. A resolution is sent only for an alert whose firing was sent. */
#ifndef VIGIE_ALERT_H
#define VIGIE_ALERT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "net/result.h"

struct alert;

/* Receives each notification (the JSON described in docs/ALERTING.md) for one receiver. The
 * callee takes its own reference if it keeps it. */
typedef void (*alert_send_fn)(void *arg, const char *receiver, json_t *notification);

struct alert_stats {
    uint64_t transitions;   /* alert state changes (firing or resolved) */
    uint64_t notifications; /* notifications handed to the send callback */
    uint64_t held;          /* transitions held by a maintenance window */
    unsigned firing;        /* alerts firing now */
    bool impaired;          /* vigie judges itself impaired now */
    bool overloaded;        /* the overloaded alert fires */
};

/* The engine for config `c` (borrowed: it must outlive the engine). NULL when out of memory. */
struct alert *alert_new(const struct config *c, alert_send_fn send, void *arg);
void alert_free(struct alert *a);

/* A check of probe `c->probes[i]` completed at `now`. `flagged`: the sample was taken while the
 * scheduler was saturated: it counts for no rule (no DOWN, SLOW, TLS, recovery, nor impairment:
 * its failure may be vigie's own). Returns true when the sample must be written as flagged
 * because vigie is impaired (a network-level failure while impaired). */
bool alert_result(struct alert *a, size_t i, const struct result *r, bool flagged, int64_t now);

/* Whether probe i's DOWN alert is being confirmed: failed checks in a row short of `confirm`
 * (not firing yet), or successes in a row short of `recover` (firing). The daemon then rechecks
 * the probe sooner (`alert.recheck`). False while vigie is impaired (its failures do not count)
 * and for probes that do not alert. */
bool alert_confirming(const struct alert *a, size_t i);

/* The availability of probe i over its availability_window (0..1; NAN: no data, ignored). */
void alert_availability(struct alert *a, size_t i, double availability, int64_t now);

/* The scheduler's shedding factor changed to `factor` (1: not shedding), for `cause` (words,
 * "loop busy"...): OVERLOADED fires (or its summary and value follow the factor) or resolves. */
void alert_overload(struct alert *a, unsigned factor, const char *cause, int64_t now);

/* Re-evaluates impairment, maintenance windows and repeats, and sends the pending transitions
 * that waited group_wait. Call it about every second. */
void alert_tick(struct alert *a, int64_t now);

/* Sends every pending transition now (at shutdown, or in tests). */
void alert_flush(struct alert *a, int64_t now);

void alert_stats(const struct alert *a, struct alert_stats *out);

/* Whether the state changed since the last alert_state_save. */
bool alert_dirty(const struct alert *a);

/* The state to keep across restarts (counters, firing alerts, what was sent): a new reference
 * the caller owns. Clears the dirty flag. */
json_t *alert_state_save(struct alert *a);

/* Restores a state saved by alert_state_save (probes are matched by id; unknown ids and kinds
 * are ignored). Firing alerts whose notification had not been sent are pending again. Returns
 * 0, or -EINVAL for a document that is not an alert state. */
int alert_state_load(struct alert *a, const json_t *state, int64_t now);

#endif
