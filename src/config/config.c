/* config — vigie.yaml and the probes.d files loaded into an immutable struct config.
 *
 * The top-level document (vigie.yaml) is applied first, then the receivers, the probes.d files
 * (probes.c) and, once the probes are known, the alerting settings that name them (receivers.c).
 * The key tables and value parsers are in cfgschema.c; config_int.h says how the files share the
 * work. */
#include "config/config_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/container.h"
#include "base/fnv.h"

#define USER_AGENT "vigie/0.1"

const char *const config_alert_kinds[AK_N + 1] = {
    "down", "slow", "tls_expiry", "criterion", "impaired", "overloaded", NULL};
const char *const config_severities[SEV_N + 1] = {"warning", "critical", NULL};

/* graphs.formats: names in the order of enum graph_format (docs/GRAPHS.md). */
static const char *const graph_formats[] = {"png", "svg", NULL};

/* The tables of vigie.yaml's own settings; probes and receivers have theirs in cfgschema.c. */
static const struct key retention_keys[] = {
    {.name = "full", .type = K_DURATION, .off = S(ret_full), .min = 3600 * SEC, .max = 7305 * DAY},
    {.name = "medium",
     .type = K_DURATION,
     .off = S(ret_medium),
     .min = 3600 * SEC,
     .max = 7305 * DAY},
    {.name = "hourly", .type = K_DURATION, .off = S(ret_hourly), .min = DAY, .max = 7305 * DAY},
    {.name = "daily", .type = K_DURATION, .off = S(ret_daily), .min = DAY, .max = 7305 * DAY},
};

static const struct keytab retention_tab = {"rrd_retention", retention_keys,
                                            ARRAY_SIZE(retention_keys), NULL};

/* graphs: (docs/GRAPHS.md). */

static const struct key graphs_keys[] = {
    {.name = "enabled", .type = K_BOOL, .off = S(graphs_enabled)},
    {.name = "interval", .type = K_DURATION, .off = S(graphs_interval), .min = SEC, .max = DAY},
    {.name = "formats", .type = K_SEQ, .off = S(graphs_formats)},
    {.name = "lang", .type = K_CHOICE, .off = S(graphs_lang), .choices = lang_names},
    {.name = "width", .type = K_INT, .off = S(graphs_width), .min = 200, .max = 4000},
    {.name = "height", .type = K_INT, .off = S(graphs_height), .min = 80, .max = 2000},
};

static const struct keytab graphs_tab = {"graphs", graphs_keys, ARRAY_SIZE(graphs_keys), NULL};

/* overload: (docs/ALERTING.md, OVERLOADED). max_factor is a power of two (the ticks kept at 2f
 * are a subset of those kept at f): its index in this list is its log2. */

static const char *const factors[] = {"1", "2", "4", "8", "16", "32", "64", NULL};

static const struct key overload_keys[] = {
    {.name = "busy", .type = K_PERCENT, .off = S(ov_busy), .min = 50, .max = 100},
    {.name = "loop_lag", .type = K_DURATION, .off = S(ov_loop_lag), .min = MS(1), .max = 60 * SEC},
    {.name = "shed_after",
     .type = K_DURATION,
     .off = S(ov_shed_after),
     .min = SEC,
     .max = 3600 * SEC},
    {.name = "relax_after",
     .type = K_DURATION,
     .off = S(ov_relax_after),
     .min = SEC,
     .max = 86400 * SEC},
    {.name = "max_factor", .type = K_CHOICE, .off = S(ov_max_factor), .choices = factors},
};

static const struct keytab overload_tab = {"overload", overload_keys, ARRAY_SIZE(overload_keys),
                                           NULL};
static const struct key alerting_keys[] = {
    {.name = "state_file", .type = K_STR, .off = S(state_file)},
    {.name = "spool_dir", .type = K_STR, .off = S(spool_dir)},
    {.name = "group_wait", .type = K_DURATION, .off = S(group_wait), .min = 0, .max = 600 * SEC},
    {.name = "criterion_every",
     .type = K_DURATION,
     .off = S(criterion_every),
     .min = 60 * SEC,
     .max = DAY},
    {.name = "canaries", .type = K_STRS, .off = S(canaries)},
    {.name = "impaired_share", .type = K_PERCENT, .off = S(impaired_share), .min = 1, .max = 100},
    {.name = "impaired_min_hosts",
     .type = K_INT,
     .off = S(impaired_min_hosts),
     .min = 1,
     .max = 1000000},
    {.name = "impaired_window",
     .type = K_DURATION,
     .off = S(impaired_window),
     .min = SEC,
     .max = 3600 * SEC},
    {.name = "routes", .type = K_SEQ, .off = S(routes)},
    {.name = "maintenance", .type = K_SEQ, .off = S(maintenance)},
};

static const struct keytab alerting_tab = {"alerting", alerting_keys, ARRAY_SIZE(alerting_keys),
                                           NULL};

static const struct key top_keys[] = {
    {.name = "probes_dir", .type = K_STR, .off = S(probes_dir)},
    {.name = "rrd_dir", .type = K_STR, .off = S(rrd_dir)},
    {.name = "graphs_dir", .type = K_STR, .off = S(graphs_dir)},
    {.name = "user_agent", .type = K_STR, .off = S(user_agent)},
    {.name = "contact", .type = K_STR, .off = S(contact)},
    {.name = "concurrency", .type = K_INT, .off = S(concurrency), .min = 1, .max = 100000},
    {.name = "per_host", .type = K_INT, .off = S(per_host), .min = 1, .max = 100000},
    {.name = "rrd_flush", .type = K_DURATION, .off = S(rrd_flush), .min = SEC, .max = 3600 * SEC},
    {.name = "rrd_queue_max",
     .type = K_INT,
     .off = S(rrd_queue_max),
     .min = 1000,
     .max = 100000000},
    {.name = "rrd_retention", .type = K_SUB, .sub = &retention_tab},
    {.name = "rrd_close_timeout",
     .type = K_DURATION,
     .off = S(rrd_close_timeout),
     .min = MS(100),
     .max = 600 * SEC},
    {.name = "rrdcached", .type = K_STR, .off = S(rrdcached)},
    {.name = "node", .type = K_ID, .off = S(node)},
    {.name = "saturation_lag",
     .type = K_DURATION,
     .off = S(saturation_lag),
     .min = MS(10),
     .max = 60 * SEC},
    {.name = "drain_timeout",
     .type = K_DURATION,
     .off = S(drain_timeout),
     .min = MS(100),
     .max = 300 * SEC},
    {.name = "overload", .type = K_SUB, .sub = &overload_tab},
    {.name = "graphs", .type = K_SUB, .sub = &graphs_tab},
    {.name = "defaults", .type = K_MAP, .off = S(defaults)},
    {.name = "alerting", .type = K_SUB, .sub = &alerting_tab},
    {.name = "receivers", .type = K_SEQ, .off = S(receivers)},
};

static const struct keytab top_tab = {"vigie.yaml", top_keys, ARRAY_SIZE(top_keys), NULL};

/* graphs.formats: a non-empty sequence of distinct names from graph_formats. Returns the bit
 * set (1u << index). */
static unsigned graph_formats_of(struct loader *ld, const struct ydoc_node *seq)
{
    unsigned set = 0;
    size_t n = ydoc_count(seq);
    struct qbuf q;

    if (n == 0) {
        cfg_report(ld, seq, "\"formats\": expected at least one of png, svg");
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        const struct ydoc_node *it = ydoc_item(seq, i);
        const char *s = cfg_scalar_of(ld, "formats", "png or svg", it, false);
        unsigned k;

        if (!s)
            continue;
        for (k = 0; graph_formats[k] && strcmp(graph_formats[k], s) != 0; k++)
            ;
        if (!graph_formats[k])
            cfg_report(ld, it, "\"formats\": expected png or svg, found %s", cfg_quote(&q, s));
        else if (set & (1u << k))
            cfg_report(ld, it, "\"formats\": %s is listed twice", cfg_quote(&q, s));
        else
            set |= 1u << k;
    }
    return set;
}

/* ---- files and directories ---- */

/* dir/name, or name alone when it is absolute or dir is empty. */
char *cfg_path_join(const char *dir, const char *name)
{
    size_t ld = strlen(dir), ln = strlen(name);
    char *p;

    if (name[0] == '/' || ld == 0)
        return strdup(name);
    p = malloc(ld + ln + 2);
    if (!p)
        return NULL;
    memcpy(p, dir, ld);
    if (dir[ld - 1] != '/')
        p[ld++] = '/';
    memcpy(p + ld, name, ln + 1);
    return p;
}

/* The directory part of path: "" for a bare file name (the current directory) or NULL path. */
static char *dir_of(const char *path)
{
    const char *slash = path ? strrchr(path, '/') : NULL;
    size_t n;
    char *d;

    if (!slash)
        return strdup("");
    n = slash == path ? 1 : (size_t)(slash - path);
    d = malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, path, n);
    d[n] = '\0';
    return d;
}

const struct receiver *config_receiver(const struct config *c, const char *name)
{
    for (size_t i = 0; c && name && i < c->nreceivers; i++)
        if (strcmp(c->receivers[i].name, name) == 0)
            return &c->receivers[i];
    return NULL;
}

static char *make_user_agent(const struct scope *ts)
{
    const char *ua = ts->user_agent ? ydoc_scalar(ts->user_agent, NULL) : USER_AGENT;
    const char *contact;
    size_t len;
    char *s;

    if (!ts->contact)
        return strdup(ua);
    contact = ydoc_scalar(ts->contact, NULL);
    len = strlen(ua) + strlen(contact) + 5;
    s = malloc(len);
    if (s)
        snprintf(s, len, "%s (+%s)", ua, contact);
    return s;
}

int config_load(const char *path, struct config **out, struct diag *d)
{
    struct loader ld;
    struct ydoc *top = NULL;
    struct layer global;
    struct scope ts;
    struct config *c;
    char *base = NULL;
    int err = 0;

    *out = NULL;
    memset(&ld, 0, sizeof(ld));
    memset(&ts, 0, sizeof(ts));
    ld.d = d;
    cfg_layer_builtin(&global);
    ts.concurrency = 512;
    ts.per_host = 8;
    ts.rrd_flush = 30 * SEC;
    ts.rrd_queue_max = 1000000;
    ts.rrd_close_timeout = 20 * SEC;
    ts.saturation_lag = 250;
    ts.drain_timeout = 10 * SEC;
    ts.ov_busy = 0.9;
    ts.ov_loop_lag = 20;
    ts.ov_shed_after = 3 * SEC;
    ts.ov_relax_after = 30 * SEC;
    ts.ov_max_factor = 3; /* "8" */
    ts.ret_full = 2 * DAY;
    ts.ret_medium = 14 * DAY;
    ts.ret_hourly = 400 * DAY;
    ts.ret_daily = 1830 * DAY;
    ts.graphs_enabled = true;
    ts.graphs_interval = 60 * SEC;
    ts.graphs_width = 720;
    ts.graphs_height = 200;
    ts.group_wait = 30 * SEC;
    ts.criterion_every = 300 * SEC;
    ts.impaired_share = 0.5;
    ts.impaired_min_hosts = 5;
    ts.impaired_window = 60 * SEC;
    c = ld.c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    if (path) {
        c->path = strdup(path);
        err = ydoc_load(path, &top, d);
        if (err < 0) {
            ld.errors++;
            goto out;
        }
        cfg_apply_map(&ld, ydoc_root(top), &top_tab, &ts);
        if (ts.defaults)
            cfg_apply_defaults(&ld, ts.defaults, &global);
    }
    base = dir_of(path);
    ld.base = base;
    if (base) {
        c->probes_dir =
            cfg_path_join(base, ts.probes_dir ? ydoc_scalar(ts.probes_dir, NULL) : "probes.d");
        const char *rd = ts.rrd_dir ? ydoc_scalar(ts.rrd_dir, NULL) : "rrd";
        const char *cached = ts.rrdcached ? ydoc_scalar(ts.rrdcached, NULL) : NULL;

        /* Through a remote rrdcached (host:port), the files are on its host and named relative
         * to its base directory (-b): librrd refuses absolute paths there. */
        if (cached && strncmp(cached, "unix:", 5) != 0 && cached[0] != '/') {
            if (rd[0] == '/')
                cfg_report(&ld, ts.rrd_dir,
                           "\"rrd_dir\": with a remote rrdcached, a path relative to its base "
                           "directory (-b), not %s",
                           rd);
            c->rrd_dir = strdup(rd);
        } else {
            c->rrd_dir = cfg_path_join(base, rd);
        }
        /* A node (vantage point) keeps its files apart: <rrd_dir>/<node>/. */
        if (c->rrd_dir && ts.node) {
            char *nd = cfg_path_join(c->rrd_dir, ydoc_scalar(ts.node, NULL));

            free(c->rrd_dir);
            c->rrd_dir = nd;
        }
        c->graphs_dir =
            cfg_path_join(base, ts.graphs_dir ? ydoc_scalar(ts.graphs_dir, NULL) : "graphs");
    }
    c->user_agent = make_user_agent(&ts);
    if (ts.rrdcached) {
        const char *a = ydoc_scalar(ts.rrdcached, NULL);

        if (strpbrk(a, " \t"))
            cfg_report(&ld, ts.rrdcached,
                       "\"rrdcached\": expected unix:/path/to/socket or host:port, found a space");
        else if (!(c->rrdcached = strdup(a)))
            cfg_report(&ld, ts.rrdcached, "out of memory");
    }
    c->concurrency = ts.concurrency;
    c->per_host = ts.per_host;
    c->rrd_flush_ms = ts.rrd_flush;
    c->rrd_queue_max = ts.rrd_queue_max;
    c->rrd_close_ms = ts.rrd_close_timeout;
    c->rrd_full_ms = ts.ret_full;
    c->rrd_medium_ms = ts.ret_medium;
    c->rrd_hourly_ms = ts.ret_hourly;
    c->rrd_daily_ms = ts.ret_daily;
    c->saturation_ms = ts.saturation_lag;
    c->drain_ms = ts.drain_timeout;
    c->overload.busy = ts.ov_busy;
    c->overload.loop_lag_ms = ts.ov_loop_lag;
    c->overload.shed_after_ms = ts.ov_shed_after;
    c->overload.relax_after_ms = ts.ov_relax_after;
    c->overload.max_factor = 1L << ts.ov_max_factor;
    c->graphs.enabled = ts.graphs_enabled;
    c->graphs.interval_ms = ts.graphs_interval;
    c->graphs.formats = ts.graphs_formats ? graph_formats_of(&ld, ts.graphs_formats) : 3u;
    c->graphs.lang = ts.graphs_lang;
    c->graphs.width = ts.graphs_width;
    c->graphs.height = ts.graphs_height;
    if ((path && !c->path) || !c->probes_dir || !c->rrd_dir || !c->graphs_dir || !c->user_agent) {
        cfg_report_at(&ld, path ? path : "(config)", 0, 0, "out of memory");
        goto out;
    }
    /* A probes_dir that was given but is invalid has been reported: do not go and read the
     * default directory instead. */
    if (ts.receivers)
        cfg_load_receivers(&ld, ts.receivers);
    if (!top || ts.probes_dir || !ydoc_get(ydoc_root(top), "probes_dir"))
        cfg_load_dir(&ld, ts.probes_dir, &global);
    cfg_finish_probes(&ld);
    cfg_load_alerting(&ld, &ts);
out:
    cfg_pinfo_free(&ld);
    cfg_layer_fini(&global);
    ydoc_free(top);
    free(base);
    if (ld.errors > 0) {
        config_free(c);
        return err < 0 ? err : -EINVAL;
    }
    *out = c;
    return 0;
}

void config_free(struct config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nprobes; i++)
        cfg_probe_fini(&c->probes[i]);
    free(c->probes);
    free(c->path);
    free(c->probes_dir);
    free(c->rrd_dir);
    free(c->graphs_dir);
    free(c->user_agent);
    free(c->rrdcached);
    cfg_alerting_fini(c);
    free(c);
}

unsigned config_shard_of(const char *id, unsigned n)
{
    return n ? (unsigned)(fnv1a_str(FNV_OFFSET, id) % n) + 1 : 1;
}

size_t config_shard(struct config *c, unsigned i, unsigned n)
{
    size_t kept = 0;

    for (size_t k = 0; k < c->nprobes; k++) {
        if (config_shard_of(c->probes[k].id, n) != i) {
            cfg_probe_fini(&c->probes[k]);
            continue;
        }
        if (kept != k)
            c->probes[kept] = c->probes[k];
        kept++;
    }
    c->nprobes = kept;
    return kept;
}

static int cmp_find(const void *key, const void *elem)
{
    const struct probe *p = elem;

    return strcmp(key, p->id);
}

const struct probe *config_find(const struct config *c, const char *id)
{
    if (!c || !id || c->nprobes == 0)
        return NULL;
    return bsearch(id, c->probes, c->nprobes, sizeof(*c->probes), cmp_find);
}
