/* alerting — the alert engine (alert.h) on the loop: its one-second tick, its state file, and the
 * criterion-at-risk job that reads availability back from the RRD files.
 *
 * The loop thread only feeds results and runs the engine (pure, in memory). Disk work runs on
 * the thread pool, one job at a time: writing the state file (JSON, temp file + fsync + rename,
 * when the state changed, at most every STATE_PERIOD) and reading every probe's availability
 * over its availability_window (every alerting.criterion_every). The state file is read once,
 * synchronously, by alerting_new, before the first check. */
#ifndef VIGIE_ALERTING_H
#define VIGIE_ALERTING_H

#include <stdbool.h>
#include <uv.h>

#include "alert/alert.h"
#include "config/config.h"
#include "net/result.h"

struct alerting;

/* Starts alerting for config `c` (borrowed) on `loop`; notifications go to `send`. A state
 * file that cannot be read or parsed is logged and set aside (renamed *.bad), not fatal. NULL
 * when out of memory. */
struct alerting *alerting_new(uv_loop_t *loop, const struct config *c, alert_send_fn send,
                              void *arg);

/* While hold(arg) is true the state file is not written (it is retried every second): the
 * daemon holds it while a notification the state calls sent is not in the notify spool yet, so
 * that a crash between the two writes sends it twice, never zero times (docs/ALERTING.md). Not
 * at shutdown, where both writes complete. */
void alerting_hold_state(struct alerting *al, bool (*hold)(void *arg), void *arg);

/* A check of c->probes[i] completed. Returns true when the sample must be flagged because vigie
 * itself is impaired. */
bool alerting_result(struct alerting *al, size_t i, const struct result *r, bool flagged);

/* The scheduler's shedding factor changed (alert_overload); also at start, with factor 1, so that
 * an overloaded alert the state file brought back resolves (a new process is not shedding). */
void alerting_overload(struct alerting *al, unsigned factor, const char *cause);

/* How soon probe c->probes[i] should be checked again, in milliseconds, after the result just
 * given to alerting_result: its `alert.recheck` while its DOWN alert is being confirmed (failing
 * or recovering), else 0 (no recheck: the next tick will do). */
uint64_t alerting_recheck_ms(const struct alerting *al, size_t i);

/* Moves to configuration `c` (a reload; borrowed like in alerting_new). The transitions waiting
 * for the grouping window are sent first; then the state carries over by probe id as across a
 * restart: counters, firing alerts, what was sent on which route and when (the latency windows of
 * SLOW start again). Alerts of removed probes are dropped. The previous configuration may still
 * be read by the job in flight: `released` (may be NULL) is called with it once it is not used
 * any more, maybe before this returns. Returns 0, or -ENOMEM (nothing changed). */
int alerting_reload(struct alerting *al, const struct config *c,
                    void (*released)(void *arg, const struct config *old), void *arg);

void alerting_stats(const struct alerting *al, struct alert_stats *out);

/* Sends what is pending now (shutdown does not wait for the grouping window), writes the state
 * a last time, stops the timers, waits for the job in flight, frees, then calls cb. */
void alerting_close(struct alerting *al, void (*cb)(void *arg), void *arg);

#endif
