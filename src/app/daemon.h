/* daemon — `vigie run`: the long-running probe. It owns the loop and everything hanging off it
 * (httpc, sched, rrdw), routes each sample to the RRD writer and the live state, reloads its
 * configuration on SIGHUP (an invalid one leaves the running one in place), and stops cleanly on
 * SIGINT/SIGTERM: no new checks, checks in flight drained within a bound, pending RRD writes
 * flushed, every handle closed. */
#ifndef VIGIE_DAEMON_H
#define VIGIE_DAEMON_H

#include <stdint.h>

#include "config/config.h"

struct daemon_opts {
    uint64_t duration_ms;   /* stop by itself after this long (0: run until signalled) */
    const char *stats_path; /* write a JSON summary there at exit (benches, tests) */
    unsigned shard_i;       /* --shard i/n: a reload keeps only this shard (0: no sharding) */
    unsigned shard_n;
};

/* Runs until stopped. Takes ownership of cfg. Returns the process exit status. */
int daemon_run(struct config *cfg, const struct daemon_opts *o);

#endif
