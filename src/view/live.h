/* live — the daemon's live state of every probe: what its last counted check said (state, time,
 * total time), its last errors and its last verdict. These are the rows the dashboard shows for
 * `vigie run` (struct dash_row with `live` set: dash_collect leaves their state alone and adds
 * the summaries of the RRD files).
 *
 * Threads. Every function here runs on the loop thread, and only the loop thread touches the
 * rows: it writes them (live_record after each counted check, live_commit at a reload, the
 * summaries a refresh brings back) and reads them (live_count, live_refresh). The dashboard
 * writer on the thread pool never sees them. It works on a snapshot that live_refresh takes on
 * the loop thread before queueing the job: dash_refresh copies every row by value and duplicates
 * what a row owns (its last errors, its summary message), borrowing only the probes. Checks
 * recorded after that are in the next refresh. When the job is done, back on the loop thread,
 * the summaries it read and what it wrote (dash_keep_summaries) are copied into the rows so that
 * the next refresh reads only the windows that aged; unless a reload was committed meanwhile
 * (the rows are then another configuration's, and the next refresh reads every window).
 *
 * Reload. In steps, so that a failure elsewhere in the reload leaves the running state as it
 * was: live_prepare allocates the rows of the new configuration (it may fail), live_commit
 * carries the state of the probes kept over by id (it cannot fail) and live_cancel drops what
 * was prepared. */
#ifndef VIGIE_LIVE_H
#define VIGIE_LIVE_H

#include <stddef.h>
#include <time.h>
#include <uv.h>

#include "config/config.h"
#include "net/result.h"

struct live;

/* A row for each probe of cfg (which must outlive the rows: until live_free, or the live_commit
 * of another configuration): live, unchecked, no error, verdict unknown. Returns NULL when out
 * of memory. */
struct live *live_new(const struct config *cfg);

/* Frees the rows and what they own. Not while a refresh is in flight. NULL is a no-op. */
void live_free(struct live *l);

/* Records a counted check of probe i of the current configuration (not a flagged one, not a
 * recheck): its state, the time of the check `t` (wall clock) and its total time, and when it
 * failed its outcome and message at the front of the last errors. p is the probe as it was
 * checked (after a reload, maybe the previous configuration's): its slow threshold rates the
 * check. Returns the verdict of i's previous counted check, -1 when there was none. */
int live_record(struct live *l, size_t i, const struct probe *p, const struct result *r, time_t t);

/* The probes whose last counted check was down, and degraded. */
void live_count(const struct live *l, size_t *down, size_t *degraded);

/* Refreshes the dashboard from a snapshot of the rows (see the top of this file): the pages in
 * the current configuration's graphs_dir, the summaries from its rrd_dir. `done` (may be NULL)
 * runs on the loop thread when the job is over, after the summaries were kept, with 0 or a
 * negative errno and then a message. The configuration must stay valid until then. One refresh
 * at a time: returns 0, -EBUSY while one is in flight, or dash_refresh's error (then `done` is
 * not called). */
int live_refresh(struct live *l, uv_loop_t *loop, void (*done)(void *arg, int rc, const char *err),
                 void *arg);

/* Allocates the rows of configuration c, a new one about to replace the current one (c must
 * outlive them, as in live_new). Returns 0 or -ENOMEM (nothing changed). A second call replaces
 * what the first prepared. */
int live_prepare(struct live *l, const struct config *c);

/* After a successful live_prepare, swaps in the prepared rows: a probe whose id was in the previous
 * configuration keeps its state, last errors, summaries and verdict; a new one starts unchecked;
 * the rows of removed probes are freed. From now on index i is c's probe i. Returns the number of
 * probes kept. */
size_t live_commit(struct live *l);

/* Drops what live_prepare allocated, if anything. */
void live_cancel(struct live *l);

#endif
