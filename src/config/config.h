/* config — vigie.yaml and the YAML files of probes.d, loaded and validated into an immutable tree.
 *
 * Layout (docs/CONFIG.md is the reference):
 *
 *   vigie.yaml                      probes.d/<group>.yaml
 *   ----------                      ---------------------
 *   probes_dir: probes.d            group: "Ministère X"        (required)
 *   rrd_dir: rrd                    defaults: { <probe keys> }  (optional)
 *   graphs_dir: graphs              probes:
 *   user_agent: "vigie/0.1"           - id: x                   (required, [a-z0-9][a-z0-9._-]*)
 *   contact: "https://..."              url: https://...        (required)
 *   concurrency: 512                    name: "..."             (default: id)
 *   per_host: 8                         jdma: [44, 45]          (procedure ids covered)
 *   rrd_flush: 30s                      tags: [a, b]
 *   rrd_queue_max: 1000000              <probe keys>
 *   rrd_retention: {full: 2d, medium: 14d, hourly: 400d, daily: 1830d}
 *   rrdcached: unix:/run/rrdcached.sock   (optional: write through rrdcached)
 *   node: paris-1                   (optional: this vantage point's files in rrd_dir/<node>/)
 *   saturation_lag: 250ms
 *   drain_timeout: 10s
 *   rrd_close_timeout: 20s          (RRD writes at stop; then what is left goes to the journal)
 *   overload: {busy: 90%, loop_lag: 20ms, shed_after: 3s, relax_after: 30s, max_factor: 8}
 *   graphs: {enabled: true, interval: 60s, formats: [png, svg], lang: fr, width: 720, height: 200}
 *   defaults: { <probe keys> }
 *   receivers: [ {name, type, ...} ]  (docs/ALERTING.md)
 *
 * Probe keys (settable in both `defaults:` blocks and in a probe): interval, timeout,
 * connect_timeout, method (GET|HEAD), headers (map), follow_redirects, max_redirects,
 * ip (any|v4|v6), http (auto|1.1|2), reuse, slow, expect: {status, body, body_regex, max_bytes},
 * tls: {verify, ca_file, min_days}. A probe value overrides its file's defaults, which override
 * vigie.yaml's defaults, which override the built-in ones.
 *
 * Relative paths in vigie.yaml are relative to the directory holding vigie.yaml. */
#ifndef VIGIE_CONFIG_H
#define VIGIE_CONFIG_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"
#include "base/lang.h"
#include "base/units.h"
#include "net/http.h"

/* What an alert is about, and how urgent it is (docs/ALERTING.md). */
enum alert_kind { AK_DOWN, AK_SLOW, AK_TLS, AK_CRITERION, AK_IMPAIRED, AK_OVERLOADED, AK_N };
enum alert_severity { SEV_WARNING, SEV_CRITICAL, SEV_N };
extern const char *const config_alert_kinds[AK_N + 1]; /* "down", "slow", "tls_expiry", ... */
extern const char *const config_severities[SEV_N + 1]; /* "warning", "critical" */

struct strlist {
    char **v;
    size_t n;
};

/* alerting.routes[]: which alerts go to which receivers. Routes are tried in order; the first
 * that matches takes the alert, unless it says `continue: true`. */
struct route {
    char *name;
    struct strlist groups;    /* match.group: empty = any */
    struct strlist probes;    /* match.probe: empty = any */
    unsigned kinds;           /* match.kind: 1 << AK_*, 0 = any */
    unsigned severities;      /* match.severity: 1 << SEV_*, 0 = any */
    struct strlist receivers; /* names from `receivers:` */
    uint64_t repeat_ms;       /* repeat: still-firing alerts re-sent, default 4h, 0 never */
    bool send_resolved;       /* default true */
    bool cont;                /* continue: also try the next routes */
};

/* alerting.maintenance[]: checks go on, notifications for matching probes are held. Either a
 * one-off [from, to) or a weekly window in the daemon's local time. */
struct maint {
    struct strlist groups; /* empty and probes empty: every probe */
    struct strlist probes;
    int64_t from, to;     /* one-off, UNIX seconds; both 0 for a weekly window */
    int wday;             /* weekly: 0 = Sunday .. 6, -1 every day */
    int min_from, min_to; /* weekly: minutes of the day; min_to <= min_from wraps past midnight */
};

/* One probe: one URL checked at one interval. Read-only once loaded. */
struct probe {
    char *id; /* stable, used for file names */
    char *name;
    char *url;
    char *group; /* the file's `group:` */
    char *file;  /* where it was declared */
    unsigned line;
    long *jdma; /* observatory procedure ids this URL covers */
    size_t njdma;
    char **tags;
    size_t ntags;
    char *method; /* "GET" or "HEAD" */
    struct header *headers;
    size_t nheaders;
    uint64_t interval_ms;        /* default 60s, 1s..1d */
    uint64_t timeout_ms;         /* default 10s, 100ms..interval */
    uint64_t connect_timeout_ms; /* default 5s, capped at timeout */
    uint64_t slow_ms;            /* default 800ms: verdict degraded at or above */
    bool follow_redirects;       /* default true */
    long max_redirects;          /* default 10, 0..50 */
    enum ip_version ip;          /* default any */
    enum http_version http;      /* default auto (HTTP/2 over TLS via ALPN, else 1.1) */
    bool reuse;                  /* default false: a fresh connection and DNS lookup per check */
    struct statusset status;     /* default 200-399, judged after redirects */
    char *body;                  /* expected substring, or NULL */
    char *body_regex;            /* POSIX extended regex source, or NULL */
    regex_t body_re;             /* compiled body_regex, valid iff body_regex */
    uint64_t max_bytes;          /* default 1 MiB, body cap */
    bool tls_verify;             /* default true */
    char *ca_file;               /* NULL: the system store */
    long tls_min_days;           /* default 14, 0 disables */
    /* alert: { ... } */
    bool alert_enabled;       /* enabled, default true */
    long alert_confirm;       /* confirm: DOWN after this many failed checks in a row, default 3 */
    long alert_recover;       /* recover: OK after this many successes in a row, default 2 */
    uint64_t recheck_ms;      /* recheck: checks this soon while confirming, default 0s (off) */
    long slow_window;         /* slow_window: SLOW judged on the last K checks, default 5 */
    double slow_percentile;   /* slow_percentile: of those, default 50% (the median), 0..1 */
    double slow_clear;        /* slow_clear: SLOW clears under this share of `slow`, default 90% */
    uint64_t avail_window_ms; /* availability_window: criterion at risk over, default 7d */
    double avail_target;      /* availability_target: default 99.9%, 0..1 */
};

/* graphs: in vigie.yaml — the daemon's graph timer (src/graph.h, docs/GRAPHS.md). */
struct graphs_conf {
    bool enabled;         /* default true */
    uint64_t interval_ms; /* default 60s, 1s..1d: how often the daemon looks for graphs to redraw */
    unsigned formats;     /* bit (1u << enum graph_format): default png and svg */
    enum lang lang;       /* fr (default) or en */
    long width, height;   /* the plot area in pixels, default 720 × 200 */
};

/* overload: when vigie judges itself saturated (docs/ALERTING.md, "OVERLOADED"). */
struct overload_conf {
    double busy;             /* a 100 ms period the loop is this busy is saturated, default 90% */
    uint64_t loop_lag_ms;    /* ... or whose timer fires this late, default 20ms */
    uint64_t shed_after_ms;  /* overloaded this long: shed (the factor doubles), default 3s */
    uint64_t relax_after_ms; /* quiet this long: the factor halves, default 30s */
    long max_factor;         /* the largest factor, a power of two, default 8 */
};

enum receiver_type { RECEIVER_EXEC, RECEIVER_WEBHOOK, RECEIVER_SMTP, RECEIVER_ALERTMANAGER };
enum receiver_template { TEMPLATE_VIGIE, TEMPLATE_SLACK, TEMPLATE_MATTERMOST };

/* One receiver of notifications (`receivers:` in vigie.yaml, docs/ALERTING.md). Secrets are read
 * at load time from a file or the environment, never from the YAML; config_free wipes them. */
struct receiver {
    char *name; /* unique */
    enum receiver_type type;
    char *file; /* where it was declared */
    unsigned line, col;
    uint64_t timeout_ms;     /* default 10s: an attempt taking longer failed (exec: killed) */
    long rate_limit;         /* notifications accepted per hour at most, 0: no limit */
    uint64_t backoff_min_ms; /* first retry after this (default 1s), doubling ... */
    uint64_t backoff_max_ms; /* ... up to this (default 30s), with jitter */
    char **command;          /* exec: argv, NULL-terminated, command[0] absolute */
    size_t ncommand;
    char *url; /* webhook: POST target; smtp: smtp(s)://host[:port]; alertmanager: base URL */
    struct header *headers; /* webhook */
    size_t nheaders;
    enum receiver_template template; /* webhook */
    char *from;                      /* smtp */
    char **to;
    size_t nto;
    char *username;         /* smtp */
    bool starttls_optional; /* smtp://: `starttls: optional` */
    char *secret;           /* smtp password, or webhook/alertmanager bearer token, or NULL */
    bool tls_verify;        /* default true */
    char *ca_file;          /* NULL: the system store */
};

struct config {
    char *path;       /* vigie.yaml, or NULL when none was given */
    char *probes_dir; /* resolved */
    char *rrd_dir;
    char *graphs_dir;
    char *user_agent;       /* full header value, contact included */
    long concurrency;       /* checks in flight at once, default 512 */
    long per_host;          /* checks in flight per host, default 8 */
    uint64_t rrd_flush_ms;  /* rrd_flush: a sample waits at most this long, default 30s */
    long rrd_queue_max;     /* rrd_queue_max: samples kept in memory, default 1,000,000 */
    uint64_t rrd_close_ms;  /* rrd_close_timeout: RRD writes at stop, then the journal, 20s */
    uint64_t rrd_full_ms;   /* rrd_retention.full: full resolution, default 2d */
    uint64_t rrd_medium_ms; /* rrd_retention.medium: 10-minute rows, default 14d */
    uint64_t rrd_hourly_ms; /* rrd_retention.hourly: 1-hour rows, default 400d */
    uint64_t rrd_daily_ms;  /* rrd_retention.daily: 1-day rows, default 1830d */
    char *rrdcached;        /* rrdcached: "unix:/path" or "host:port", NULL: direct writes */
    uint64_t saturation_ms; /* saturation_lag: flag samples past this lag, default 250ms */
    uint64_t drain_ms;      /* drain_timeout: wait for checks at stop, default 10s */
    struct graphs_conf graphs;
    struct overload_conf overload;
    /* alerting: { ... } */
    char *alert_state_file;      /* state_file, default state/alerts.json */
    char *spool_dir;             /* spool_dir, default state/spool */
    uint64_t group_wait_ms;      /* group_wait: transitions gathered this long, default 30s */
    uint64_t criterion_every_ms; /* criterion_every: availability re-read from RRD, default 5m */
    struct strlist canaries;     /* canaries: probe ids whose failure means vigie is blind */
    double impaired_share;       /* impaired_share: of hosts failing at once, default 50% */
    long impaired_min_hosts;     /* impaired_min_hosts: judged from this many hosts, default 5 */
    uint64_t impaired_window_ms; /* impaired_window: "at once", default 60s */
    struct route *routes;
    size_t nroutes;
    struct maint *maint;
    size_t nmaint;
    struct probe *probes; /* sorted by id */
    size_t nprobes;
    size_t nfiles;              /* probes files read */
    struct receiver *receivers; /* receivers: in file order */
    size_t nreceivers;
};

/* Loads `path` (vigie.yaml; NULL means built-in settings with probes_dir "probes.d" relative to
 * the current directory) and every *.yaml in its probes_dir, in name order. Every problem in every
 * file is appended to `d`. Returns 0 and a config the caller owns (config_free) on success, or a
 * negative errno with *out = NULL when anything was wrong. */
int config_load(const char *path, struct config **out, struct diag *d);

void config_free(struct config *c);

/* The receiver with this name, or NULL. */
const struct receiver *config_receiver(const struct config *c, const char *name);
/* Sharding (`vigie run --shard i/n`): the shard 1..n of a probe id, stable across versions and
 * machines (FNV-1a of the id, modulo n). */
unsigned config_shard_of(const char *id, unsigned n);

/* Keeps only the probes of shard i of n (1 <= i <= n), in order; returns how many remain. */
size_t config_shard(struct config *c, unsigned i, unsigned n);

/* The probe with this id, or NULL. */
const struct probe *config_find(const struct config *c, const char *id);

#endif
