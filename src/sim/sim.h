/* sim — `vigie simulate`: the shipped procedures on loopback, with a lockdown-like spike.
 *
 * One simulated service per probe of a configuration, each an HTTP/1.1 server on its own
 * 127.0.0.1 ephemeral port, answering with the availability and latency profile the
 * observatory's data gives its procedure (src/simdata.c, generated from the updown export by
 * docs/tools/gen-simdata.sh). A scenario modelled on March 2020 (docs/SIMULATE.md) then loads the
 * school services, then the employment and tax services, past their capacity: latency ×5 to ×20,
 * connections reset past a number of concurrent connections, listeners closed (connection
 * refused) at the peak, 502/503 for the requests past the capacity, a slow recovery.
 *
 * Everything runs on the caller's loop, on one thread: one uv_tcp_t listener per service, one
 * uv_tcp_t and one uv_timer_t per connection (the answer's delay), one timer for the scenario. */
#ifndef VIGIE_SIM_H
#define VIGIE_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "config/config.h"

/* One procedure's figures in the observatory's export (one row of the CSV). */
struct sim_profile {
    long jdma;
    const char *url;
    double uptime_pct;      /* availability over the window, % */
    unsigned t_response_ms; /* mean server time (« temps de chargement ») */
    unsigned t_total_ms;    /* mean total time */
    unsigned samples, failures;
    unsigned under[9]; /* checks answered in under 125, 250, 500, ..., 32000 ms (cumulative) */
};

/* The built-in table (src/simdata.c, generated). */
extern const struct sim_profile sim_profiles[];
extern const size_t sim_nprofiles;

/* The bucket bounds of sim_profile.under, in ms. */
extern const unsigned sim_bounds_ms[9];

/* Which wave of the scenario a service takes part in. */
enum sim_wave { SIM_CALM, SIM_SCHOOL, SIM_EMPLOYMENT, SIM_TAX, SIM_NWAVES };

/* A service's condition at one moment of the scenario. */
struct sim_state {
    const char *phase; /* the phase's name, "calm" outside every phase */
    double latency;    /* multiplier of the profile's latency, >= 1 */
    double load;       /* demand / capacity: past 1, the share 1 - 1/load is turned away */
    bool closed;       /* the listener is closed: connections are refused */
};

/* The wave of a probe: from its file's name (education.yaml, emploi.yaml, impots.yaml,
 * economie.yaml) or else its group's name. */
enum sim_wave sim_wave_of(const struct probe *p);

/* The condition of a service of `wave` at `frac` of the scenario (0 start, 1 end; past 1 and
 * before 0: calm). Pure: the timeline is a static table (docs/SIMULATE.md). */
void sim_scenario_at(enum sim_wave wave, double frac, struct sim_state *st);

/* The phases of the timeline, for the documentation and the tests: phase i of n, or -1. */
struct sim_phase {
    const char *name;
    enum sim_wave wave;
    double start, dur;         /* fractions of the scenario */
    double lat_from, lat_to;   /* latency multiplier, linear over the phase */
    double load_from, load_to; /* demand / capacity, linear over the phase */
    bool closed;               /* listener closed over the phase */
};
extern const struct sim_phase sim_phases[];
extern const size_t sim_nphases;

/* The profile of a probe: the first of its jdma ids with figures, else the row with its URL,
 * else NULL (the simulator then uses a default: 99.9 %, about 300 ms). */
const struct sim_profile *sim_profile_of(const struct probe *p, const struct sim_profile *table,
                                         size_t n);

struct sim_opts {
    uint64_t scenario_ms;   /* the timeline's length; 0: no scenario (the profiles only) */
    long capacity;          /* concurrent connections a service holds; past it, reset (32) */
    double latency_scale;   /* multiplies every delay (1; the tests shorten them) */
    uint64_t seed;          /* random draws (0: from the clock) */
    const char *notify_dir; /* non-NULL: serve POST /notify, each body a file in there */
    const struct sim_profile *profiles; /* NULL: the built-in table */
    size_t nprofiles;
};

struct sim_stats {
    uint64_t requests;      /* answered or turned away, all services */
    uint64_t ok;            /* 200 */
    uint64_t errors;        /* 502/503 */
    uint64_t resets;        /* connections reset (past the capacity) */
    uint64_t closed_phases; /* listener closings */
    uint64_t notifications; /* bodies stored under notify_dir */
};

struct sim;

/* Binds one listener per probe of cfg (which must outlive the sim) on 127.0.0.1, and the
 * notification sink when asked, and starts the scenario's clock. Returns 0 and a sim the caller
 * owns (sim_close), or a negative errno. */
int sim_start(uv_loop_t *loop, const struct config *cfg, const struct sim_opts *o,
              struct sim **out);

/* The port of probe i's service (index in cfg->probes), and of the notification sink (0 when
 * none). */
unsigned sim_port(const struct sim *s, size_t i);
unsigned sim_notify_port(const struct sim *s);

/* Probe i's current condition (what its service applies now). */
void sim_state_of(const struct sim *s, size_t i, struct sim_state *st);

void sim_stats(const struct sim *s, struct sim_stats *st);

/* Closes every handle; cb(arg) runs once they are all closed, then the sim is freed. */
void sim_close(struct sim *s, void (*cb)(void *arg), void *arg);

/* What sim_write_config writes besides the probes. */
struct sim_write_opts {
    const char *source;     /* the source vigie.yaml (NULL: built-in settings) */
    uint64_t interval_ms;   /* non-zero: every probe checked at this interval (shorter timeouts) */
    bool local_receiver;    /* replace receivers and alerting with a webhook to the sim's sink */
    uint64_t group_wait_ms; /* with local_receiver */
    bool demo;              /* short RRD retention and flush, graphs every few seconds */
    uint64_t graphs_ms;     /* demo: graphs.interval */
};

/* Writes dir/vigie.yaml and dir/probes.d/ for the sim's services: the source's ids, names,
 * groups, files and jdma ids, URLs rewritten to http://127.0.0.1:PORT/<path>. vigie.yaml keeps
 * the source's settings (alerting and receivers included unless local_receiver), with the paths
 * pointed into dir. Returns 0 or a negative errno with err filled. */
int sim_write_config(const struct sim *s, const char *dir, const struct sim_write_opts *w,
                     char *err, size_t errlen);

/* `vigie simulate ...` (argv[0] the command's name). Returns the exit status. */
int sim_main(int argc, char **argv);

#endif
