/* config_int — what the files of the config module share, and nothing outside it may include.
 *
 * The loader is cut in four:
 *   config.c     config_load and the other functions of config.h: vigie.yaml's own key tables
 *                and top-level settings, paths, the order in which the rest is loaded;
 *   cfgschema.c  the schema machinery: the key tables of the probes and of alerting's lists, the
 *                value parsers applying a table to a mapping, the messages (file:line:col,
 *                quoted values, "did you mean");
 *   probes.c     the probe settings' cascade, the probes.d files, the probes' ids and regexes;
 *   receivers.c  the alerting settings: receivers and their secrets, routes, maintenance windows.
 *
 * Each YAML mapping is checked against the key table of its context. A table entry gives the
 * key's type, its range and where the parsed value goes inside a `struct scope`, the scratch
 * state of one mapping. Strings stay borrowed from the YAML documents (`const struct ydoc_node *`)
 * until what they describe is built.
 *
 * Errors never stop the load: each one is appended to the diag with the position of the node at
 * fault and counted in the loader, the faulty value is left at its inherited setting, and the
 * load fails at the end if anything was counted. */
#ifndef VIGIE_CONFIG_INT_H
#define VIGIE_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "config/ydoc.h"

#define SEC 1000LL
#define DAY (86400LL * SEC)

/* Settings checked against each other: where each was last set (NULL for the built-in value). */
enum {
    AT_INTERVAL,
    AT_TIMEOUT,
    AT_CONNECT,
    AT_SLOW,
    AT_METHOD,
    AT_BODY,
    AT_BODY_REGEX,
    AT_RECHECK,
    AT_N
};

struct hdr {
    const struct ydoc_node *name;
    const struct ydoc_node *value;
};

/* Probe settings at one level of the cascade: built-in, vigie.yaml's defaults, the file's
 * defaults, the probe (probes.c). Nodes are borrowed from loaded documents. */
struct layer {
    uint64_t interval;
    uint64_t timeout;
    uint64_t connect_timeout;
    uint64_t slow;
    uint64_t max_bytes;
    long max_redirects;
    long min_days;
    int method; /* index in cfg_methods[] */
    int ip;     /* index in ips[], same order as enum ip_version */
    int http;   /* index in https[], same order as enum http_version */
    bool follow_redirects;
    bool reuse;
    bool tls_verify;
    struct statusset status;
    const struct ydoc_node *body;
    const struct ydoc_node *body_regex;
    const struct ydoc_node *ca_file;
    struct hdr *headers; /* owned array */
    size_t nheaders;
    /* alert: { ... } */
    bool alert_enabled;
    long confirm, recover, slow_window;
    double slow_percentile, slow_clear, avail_target;
    uint64_t avail_window;
    uint64_t recheck;
    const struct ydoc_node *at[AT_N];
};

/* What one mapping sets; the key tables point into it. */
struct scope {
    struct layer l;
    unsigned set; /* 1 << AT_* for settings written by this mapping */
    /* a probe */
    const struct ydoc_node *id, *name, *url, *jdma, *tags;
    /* a probes file */
    const struct ydoc_node *group, *defaults, *probes;
    /* vigie.yaml */
    const struct ydoc_node *probes_dir, *rrd_dir, *graphs_dir, *user_agent, *contact, *rrdcached;
    const struct ydoc_node *node;
    long concurrency;
    long per_host;
    long rrd_queue_max;
    uint64_t rrd_flush, rrd_close_timeout, saturation_lag, drain_timeout;
    uint64_t ret_full, ret_medium, ret_hourly, ret_daily;
    /* overload: */
    double ov_busy;
    uint64_t ov_loop_lag, ov_shed_after, ov_relax_after;
    int ov_max_factor; /* the index of its choice: log2 of the factor */
    /* graphs: */
    bool graphs_enabled;
    uint64_t graphs_interval;
    const struct ydoc_node *graphs_formats;
    int graphs_lang;
    long graphs_width, graphs_height;
    /* a receiver (and vigie.yaml's `receivers:`) */
    const struct ydoc_node *receivers;
    const struct ydoc_node *rc_name, *rc_command, *rc_url, *rc_from, *rc_to, *rc_username;
    const struct ydoc_node *rc_password_file, *rc_password_env, *rc_token_file, *rc_token_env;
    const struct ydoc_node *rc_url_file, *rc_url_env;
    int rc_type, rc_template, rc_starttls;
    long rc_rate_limit;
    uint64_t rc_timeout, rc_backoff_min, rc_backoff_max;
    /* vigie.yaml alerting: */
    const struct ydoc_node *state_file, *spool_dir, *canaries, *routes, *maintenance;
    uint64_t group_wait, criterion_every, impaired_window;
    double impaired_share;
    long impaired_min_hosts;
    /* one route */
    const struct ydoc_node *r_name, *r_groups, *r_probes, *r_kinds, *r_sevs, *r_receivers;
    uint64_t r_repeat;
    bool r_send_resolved, r_continue;
    /* one maintenance window */
    const struct ydoc_node *m_groups, *m_probes, *m_from, *m_to, *m_weekly, *m_reason;
};

struct pinfo;

struct loader {
    struct diag *d;
    unsigned errors;
    struct config *c;
    size_t cap;
    struct pinfo *info;                  /* parallel to c->probes while loading */
    const char *base;                    /* directory of vigie.yaml, for relative paths */
    const struct ydoc_node *ca_reported; /* a bad ca_file is reported once, not per probe */
};

/* ---- the key tables (cfgschema.c, and vigie.yaml's own in config.c) ---- */

/* A table entry's type says what the value must be and what is written at `off` in the scope:
 * a parsed value, or the node itself (strings stay borrowed from the document). */
enum ktype {
    K_STR,      /* non-empty string, no control character: node */
    K_TEXT,     /* non-empty string, control characters allowed: node */
    K_ID,       /* probe id: node */
    K_URL,      /* http(s) URL: node */
    K_REGEX,    /* POSIX extended regex: node */
    K_DURATION, /* uint64_t ms */
    K_SIZE,     /* uint64_t bytes */
    K_INT,      /* long */
    K_BOOL,     /* bool */
    K_STATUS,   /* struct statusset */
    K_CHOICE,   /* int index in choices */
    K_HEADERS,  /* merged into the layer's headers */
    K_TAGS,     /* sequence of K_STR: node */
    K_JDMA,     /* sequence of positive integers: node */
    K_MAP,      /* a mapping, handled later: node */
    K_SEQ,      /* a sequence, handled later: node */
    K_SUB,      /* a mapping of keys from `sub`, applied to the same scope */
    K_PERCENT,  /* double, a share 0..1 written as a percentage; min/max in percent */
    K_STRS,     /* a string or a sequence of strings: node */
};

struct keytab;

struct key {
    const char *name;
    enum ktype type;
    size_t off; /* into struct scope */
    long long min, max;
    const char *const *choices; /* K_CHOICE, NULL-terminated */
    const struct keytab *sub;   /* K_SUB */
    int at;                     /* AT_* + 1, or 0 */
};

struct keytab {
    const char *what; /* for "unknown key ... in <what>" */
    const struct key *keys;
    size_t n;
    const struct keytab *also; /* more keys allowed in this context */
};

/* In the tables: where a value goes in the scope; a duration of n milliseconds. */
#define S(m) offsetof(struct scope, m)
#define MS(n) ((long long)(n))

extern const struct keytab cfg_file_tab;     /* a probes.d file */
extern const struct keytab cfg_defaults_tab; /* a defaults block */
extern const struct keytab cfg_probe_tab;    /* a probe */
extern const struct keytab cfg_route_tab;    /* alerting.routes[] */
extern const struct keytab cfg_maint_tab;    /* alerting.maintenance[] */
extern const struct keytab cfg_receiver_tab; /* receivers[] */

enum { METHOD_GET, METHOD_HEAD };
extern const char *const cfg_methods[]; /* by METHOD_*: "GET", "HEAD" */
extern const char *const cfg_rtypes[];  /* by enum receiver_type: "exec", ... */

/* ---- cfgschema.c: applying them ---- */

/* Applies the keys of `map` to `sc` by the table `tab`: unknown keys, duplicates and bad values
 * are reported, and what was valid is written into `sc`. */
void cfg_apply_map(struct loader *ld, const struct ydoc_node *map, const struct keytab *tab,
                   struct scope *sc);

/* The text of a scalar node for key `name`, or NULL after reporting why it is not usable
 * (`expected` says what was: "a string"). */
const char *cfg_scalar_of(struct loader *ld, const char *name, const char *expected,
                          const struct ydoc_node *v, bool allow_ctrl);

/* A copy of a scalar node's text (the caller frees it), or NULL when out of memory. */
char *cfg_dup_scalar(const struct ydoc_node *n);

/* A probe id, or a receiver name: [a-z0-9][a-z0-9._-]{0,63}. */
bool cfg_id_valid(const char *s);

/* Whether s holds a control character (below 0x20, or DEL). */
bool cfg_has_ctrl(const char *s);

/* ---- cfgschema.c: messages ---- */

/* An error at file:line:col (line 0: the whole file), counted in ld->errors. */
void cfg_report_at(struct loader *ld, const char *file, unsigned line, unsigned col,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* An error at the position of node n, counted in ld->errors. */
void cfg_report(struct loader *ld, const struct ydoc_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A value shown in a message: quoted, escaped, cut after 60 bytes. */
struct qbuf {
    char s[80];
};

/* s quoted into q; returns q->s. */
const char *cfg_quote(struct qbuf *q, const char *s);

/* A duration written back the way it is read: "1d", "1m30s", "250ms", "0". Returns buf, or a
 * constant string. */
const char *cfg_fmt_ms(char *buf, size_t len, uint64_t ms);

/* ---- config.c ---- */

/* dir/name, or name alone when it is absolute or dir is empty; the caller frees it. NULL when
 * out of memory. */
char *cfg_path_join(const char *dir, const char *name);

/* ---- probes.c ---- */

/* The built-in probe settings, the top of the cascade. */
void cfg_layer_builtin(struct layer *l);
void cfg_layer_fini(struct layer *l);

/* Applies a defaults block (vigie.yaml's, or a file's) on top of l, and checks the settings it
 * wrote against each other. */
void cfg_apply_defaults(struct loader *ld, const struct ydoc_node *map, struct layer *l);

/* Loads every *.yaml of ld->c->probes_dir, in name order, on top of `global` (vigie.yaml's
 * settings). dir_node is vigie.yaml's probes_dir, for messages, or NULL. */
void cfg_load_dir(struct loader *ld, const struct ydoc_node *dir_node, const struct layer *global);

/* Reports duplicate ids, sorts the probes by id and compiles their regexes in place. */
void cfg_finish_probes(struct loader *ld);

/* Frees what the loader kept per probe while loading (ld->info). */
void cfg_pinfo_free(struct loader *ld);

/* Frees what a probe owns and zeroes it. */
void cfg_probe_fini(struct probe *p);

/* ---- receivers.c ---- */

/* Loads vigie.yaml's `receivers:` into ld->c->receivers, in file order, secrets included. */
void cfg_load_receivers(struct loader *ld, const struct ydoc_node *seq);

/* Builds the alerting settings of ld->c from vigie.yaml's scope, once the receivers and the
 * probes are loaded (the names it is given are checked against them). */
void cfg_load_alerting(struct loader *ld, const struct scope *ts);

/* Frees the alerting settings and the receivers of c, secrets wiped. */
void cfg_alerting_fini(struct config *c);

#endif
