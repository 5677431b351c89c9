/* config — vigie.yaml and the probes.d files loaded into an immutable struct config.
 *
 * The top-level document (vigie.yaml) is applied first, then the receivers, the probes.d files
 * (probes.c) and, once the probes are known, the alerting settings that name them (receivers.c).
 * The key tables and value parsers are in cfgschema.c; config_int.h says how the files share the
 * work. */
#include "config/config_int.h"

#include <dirent.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>

#include "base/fnv.h"
#include "net/httpc.h"

#define USER_AGENT "vigie/0.1"

struct pinfo {
    unsigned id_line, id_col; /* the id value, for a duplicate */
    unsigned col;             /* the probe mapping's column */
    char *regex;              /* body_regex source, until compiled in place */
};

static char *path_join(const char *dir, const char *name);

const char *const config_alert_kinds[AK_N + 1] = {"down",      "slow",     "tls_expiry",
                                                  "criterion", "impaired", NULL};
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

static const struct keytab retention_tab = {
    "rrd_retention", retention_keys, sizeof(retention_keys) / sizeof(retention_keys[0]), NULL};

/* graphs: (docs/GRAPHS.md). Names in the order of enum graph_lang. */
static const char *const graph_langs[] = {"fr", "en", NULL};

static const struct key graphs_keys[] = {
    {.name = "enabled", .type = K_BOOL, .off = S(graphs_enabled)},
    {.name = "interval", .type = K_DURATION, .off = S(graphs_interval), .min = SEC, .max = DAY},
    {.name = "formats", .type = K_SEQ, .off = S(graphs_formats)},
    {.name = "lang", .type = K_CHOICE, .off = S(graphs_lang), .choices = graph_langs},
    {.name = "width", .type = K_INT, .off = S(graphs_width), .min = 200, .max = 4000},
    {.name = "height", .type = K_INT, .off = S(graphs_height), .min = 80, .max = 2000},
};

static const struct keytab graphs_tab = {"graphs", graphs_keys,
                                         sizeof(graphs_keys) / sizeof(graphs_keys[0]), NULL};
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

static const struct keytab alerting_tab = {"alerting", alerting_keys,
                                           sizeof(alerting_keys) / sizeof(alerting_keys[0]), NULL};

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
    {.name = "graphs", .type = K_SUB, .sub = &graphs_tab},
    {.name = "defaults", .type = K_MAP, .off = S(defaults)},
    {.name = "alerting", .type = K_SUB, .sub = &alerting_tab},
    {.name = "receivers", .type = K_SEQ, .off = S(receivers)},
};

static const struct keytab top_tab = {"vigie.yaml", top_keys,
                                      sizeof(top_keys) / sizeof(top_keys[0]), NULL};

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

/* ---- the cascade ---- */

static void layer_builtin(struct layer *l)
{
    const char *why;

    memset(l, 0, sizeof(*l));
    l->interval = 60 * 1000;
    l->timeout = 10 * 1000;
    l->connect_timeout = 5 * 1000;
    l->slow = 800;
    l->max_bytes = 1 << 20;
    l->max_redirects = 10;
    l->min_days = 14;
    l->method = METHOD_GET;
    l->ip = IPV_ANY;
    l->http = HTTPV_AUTO;
    l->follow_redirects = true;
    l->reuse = false;
    l->tls_verify = true;
    l->alert_enabled = true;
    l->confirm = 3;
    l->recover = 2;
    l->slow_window = 5;
    l->slow_percentile = 0.5;
    l->slow_clear = 0.9;
    l->avail_window = 7 * DAY;
    l->avail_target = 0.999;
    units_statusset("200-399", &l->status, &why);
}

static void layer_fini(struct layer *l)
{
    free(l->headers);
    l->headers = NULL;
    l->nheaders = 0;
}

static int layer_copy(struct layer *dst, const struct layer *src)
{
    *dst = *src;
    dst->headers = NULL;
    if (src->nheaders == 0)
        return 0;
    dst->headers = malloc(src->nheaders * sizeof(*dst->headers));
    if (!dst->headers) {
        dst->nheaders = 0;
        return -ENOMEM;
    }
    memcpy(dst->headers, src->headers, src->nheaders * sizeof(*dst->headers));
    return 0;
}

#define SET_HERE(sc, i) (((sc)->set >> (i)) & 1u)

/* Checks settings against each other once a mapping has been applied. Only a mapping that wrote
 * one of the settings involved is blamed, at the key it wrote, so a bad pair inherited from a
 * defaults block is reported once, there, and not again for every probe. */
static void check_layer(struct loader *ld, const struct scope *sc)
{
    const struct layer *l = &sc->l;
    char a[48], b[48];

    /* RRD steps are whole seconds: one check per step needs a whole-second interval. */
    if (SET_HERE(sc, AT_INTERVAL) && l->interval % 1000 != 0)
        cfg_report(ld, l->at[AT_INTERVAL], "\"interval\": %s is not a whole number of seconds",
                   cfg_fmt_ms(a, sizeof(a), l->interval));
    if ((SET_HERE(sc, AT_TIMEOUT) || SET_HERE(sc, AT_INTERVAL)) && l->timeout > l->interval) {
        if (SET_HERE(sc, AT_TIMEOUT))
            cfg_report(ld, l->at[AT_TIMEOUT], "\"timeout\": %s is longer than \"interval\" (%s)",
                       cfg_fmt_ms(a, sizeof(a), l->timeout), cfg_fmt_ms(b, sizeof(b), l->interval));
        else
            cfg_report(ld, l->at[AT_INTERVAL], "\"interval\": %s is shorter than \"timeout\" (%s)",
                       cfg_fmt_ms(a, sizeof(a), l->interval), cfg_fmt_ms(b, sizeof(b), l->timeout));
    }
    if (l->at[AT_CONNECT] && (SET_HERE(sc, AT_CONNECT) || SET_HERE(sc, AT_TIMEOUT)) &&
        l->connect_timeout > l->timeout) {
        if (SET_HERE(sc, AT_CONNECT))
            cfg_report(
                ld, l->at[AT_CONNECT], "\"connect_timeout\": %s is longer than \"timeout\" (%s)",
                cfg_fmt_ms(a, sizeof(a), l->connect_timeout), cfg_fmt_ms(b, sizeof(b), l->timeout));
        else
            cfg_report(
                ld, l->at[AT_TIMEOUT], "\"timeout\": %s is shorter than \"connect_timeout\" (%s)",
                cfg_fmt_ms(a, sizeof(a), l->timeout), cfg_fmt_ms(b, sizeof(b), l->connect_timeout));
    }
    if (l->at[AT_SLOW] && (SET_HERE(sc, AT_SLOW) || SET_HERE(sc, AT_TIMEOUT)) &&
        l->slow > l->timeout) {
        if (SET_HERE(sc, AT_SLOW))
            cfg_report(ld, l->at[AT_SLOW], "\"slow\": %s is longer than \"timeout\" (%s)",
                       cfg_fmt_ms(a, sizeof(a), l->slow), cfg_fmt_ms(b, sizeof(b), l->timeout));
        else
            cfg_report(ld, l->at[AT_TIMEOUT], "\"timeout\": %s is shorter than \"slow\" (%s)",
                       cfg_fmt_ms(a, sizeof(a), l->timeout), cfg_fmt_ms(b, sizeof(b), l->slow));
    }
    /* A recheck is an extra check between two ticks: 0s (off), or at least 1s and shorter than
     * the interval. */
    if (SET_HERE(sc, AT_RECHECK) && l->recheck > 0 && l->recheck < 1000)
        cfg_report(ld, l->at[AT_RECHECK],
                   "\"recheck\": %s is too short (0s for off, or at least 1s)",
                   cfg_fmt_ms(a, sizeof(a), l->recheck));
    else if ((SET_HERE(sc, AT_RECHECK) || SET_HERE(sc, AT_INTERVAL)) && l->recheck > 0 &&
             l->recheck >= l->interval) {
        if (SET_HERE(sc, AT_RECHECK))
            cfg_report(ld, l->at[AT_RECHECK],
                       "\"recheck\": %s is not shorter than \"interval\" (%s)",
                       cfg_fmt_ms(a, sizeof(a), l->recheck), cfg_fmt_ms(b, sizeof(b), l->interval));
        else
            cfg_report(ld, l->at[AT_INTERVAL],
                       "\"interval\": %s is not longer than \"alert.recheck\" (%s)",
                       cfg_fmt_ms(a, sizeof(a), l->interval), cfg_fmt_ms(b, sizeof(b), l->recheck));
    }
    if (l->method == METHOD_HEAD && (l->body || l->body_regex) &&
        (SET_HERE(sc, AT_METHOD) || SET_HERE(sc, AT_BODY) || SET_HERE(sc, AT_BODY_REGEX))) {
        if (SET_HERE(sc, AT_BODY))
            cfg_report(ld, l->at[AT_BODY], "\"body\": HEAD responses have no body to check");
        else if (SET_HERE(sc, AT_BODY_REGEX))
            cfg_report(ld, l->at[AT_BODY_REGEX],
                       "\"body_regex\": HEAD responses have no body to check");
        else
            cfg_report(ld, l->at[AT_METHOD],
                       "\"method\": HEAD responses have no body, but a body is expected");
    }
}

static void apply_defaults(struct loader *ld, const struct ydoc_node *map, struct layer *l)
{
    struct scope sc;

    memset(&sc, 0, sizeof(sc));
    sc.l = *l; /* moved in and back out: the headers array changes hands */
    cfg_apply_map(ld, map, &cfg_defaults_tab, &sc);
    check_layer(ld, &sc);
    *l = sc.l;
}

/* ---- probes ---- */

static void probe_fini(struct probe *p)
{
    free(p->id);
    free(p->name);
    free(p->url);
    free(p->group);
    free(p->file);
    free(p->jdma);
    for (size_t i = 0; i < p->ntags; i++)
        free(p->tags[i]);
    free(p->tags);
    free(p->method);
    for (size_t i = 0; i < p->nheaders; i++) {
        free(p->headers[i].name);
        free(p->headers[i].value);
    }
    free(p->headers);
    free(p->body);
    if (p->body_regex)
        regfree(&p->body_re);
    free(p->body_regex);
    free(p->ca_file);
    memset(p, 0, sizeof(*p));
}

/* Builds the probe from its scope. Regexes are compiled later, once the array stops moving. */
static int probe_fill(struct probe *p, const struct scope *sc, const struct ydoc_node *item,
                      const char *group, const char *file, char **regex)
{
    const struct layer *l = &sc->l;
    bool ok = true;

    p->id = cfg_dup_scalar(sc->id);
    p->name = cfg_dup_scalar(sc->name ? sc->name : sc->id);
    p->url = sc->url ? cfg_dup_scalar(sc->url) : NULL;
    p->group = strdup(group);
    p->file = strdup(file);
    p->line = ydoc_line(item);
    ok = p->id && p->name && (p->url || !sc->url) && p->group && p->file;
    if (sc->jdma && ydoc_count(sc->jdma) > 0) {
        p->jdma = calloc(ydoc_count(sc->jdma), sizeof(*p->jdma));
        ok = ok && p->jdma;
        for (size_t i = 0; p->jdma && i < ydoc_count(sc->jdma); i++)
            p->jdma[p->njdma++] = strtol(ydoc_scalar(ydoc_item(sc->jdma, i), NULL), NULL, 10);
    }
    if (sc->tags && ydoc_count(sc->tags) > 0) {
        p->tags = calloc(ydoc_count(sc->tags), sizeof(*p->tags));
        ok = ok && p->tags;
        for (size_t i = 0; p->tags && i < ydoc_count(sc->tags); i++) {
            p->tags[i] = cfg_dup_scalar(ydoc_item(sc->tags, i));
            p->ntags++;
            ok = ok && p->tags[i];
        }
    }
    p->method = strdup(cfg_methods[l->method]);
    ok = ok && p->method;
    if (l->nheaders > 0) {
        p->headers = calloc(l->nheaders, sizeof(*p->headers));
        ok = ok && p->headers;
        for (size_t i = 0; p->headers && i < l->nheaders; i++) {
            p->headers[i].name = cfg_dup_scalar(l->headers[i].name);
            p->headers[i].value = cfg_dup_scalar(l->headers[i].value);
            p->nheaders++;
            ok = ok && p->headers[i].name && p->headers[i].value;
        }
    }
    p->interval_ms = l->interval;
    p->timeout_ms = l->timeout;
    /* Inherited (never written) connect_timeout and slow shrink to fit a short timeout. */
    p->connect_timeout_ms = l->connect_timeout;
    if (!l->at[AT_CONNECT] && p->connect_timeout_ms > p->timeout_ms)
        p->connect_timeout_ms = p->timeout_ms;
    p->slow_ms = l->slow;
    if (!l->at[AT_SLOW] && p->slow_ms > p->timeout_ms)
        p->slow_ms = p->timeout_ms;
    p->follow_redirects = l->follow_redirects;
    p->max_redirects = l->max_redirects;
    p->ip = (enum ip_version)l->ip;
    p->http = (enum http_version)l->http;
    p->reuse = l->reuse;
    p->status = l->status;
    if (l->body) {
        p->body = cfg_dup_scalar(l->body);
        ok = ok && p->body;
    }
    if (l->body_regex) {
        *regex = cfg_dup_scalar(l->body_regex);
        ok = ok && *regex;
    }
    p->max_bytes = l->max_bytes;
    p->tls_verify = l->tls_verify;
    if (l->ca_file) {
        p->ca_file = cfg_dup_scalar(l->ca_file);
        ok = ok && p->ca_file;
    }
    p->tls_min_days = l->min_days;
    p->alert_enabled = l->alert_enabled;
    p->alert_confirm = l->confirm;
    p->alert_recover = l->recover;
    p->recheck_ms = l->recheck;
    p->slow_window = l->slow_window;
    p->slow_percentile = l->slow_percentile;
    p->slow_clear = l->slow_clear;
    p->avail_window_ms = l->avail_window;
    p->avail_target = l->avail_target;
    return ok ? 0 : -ENOMEM;
}

static void add_probe(struct loader *ld, const struct scope *sc, const struct ydoc_node *item,
                      const char *group, const char *file)
{
    struct config *c = ld->c;
    struct probe *p;
    struct pinfo *in;

    if (c->nprobes == ld->cap) {
        size_t cap = ld->cap ? ld->cap * 2 : 64;
        struct probe *np = realloc(c->probes, cap * sizeof(*np));

        if (np)
            c->probes = np;
        in = np ? realloc(ld->info, cap * sizeof(*in)) : NULL;
        if (!np || !in) {
            cfg_report(ld, item, "out of memory");
            return;
        }
        ld->info = in;
        ld->cap = cap;
    }
    p = &c->probes[c->nprobes];
    in = &ld->info[c->nprobes];
    memset(p, 0, sizeof(*p));
    memset(in, 0, sizeof(*in));
    c->nprobes++;
    in->id_line = ydoc_line(sc->id);
    in->id_col = ydoc_col(sc->id);
    in->col = ydoc_col(item);
    if (probe_fill(p, sc, item, group, file, &in->regex) < 0) {
        cfg_report(ld, item, "out of memory");
        return;
    }
    /* The CA file is read at every check: resolve it like the other paths (relative to
     * vigie.yaml's directory) and make sure it is readable now, not at the first check. */
    if (p->ca_file) {
        char *path = path_join(ld->base ? ld->base : ".", p->ca_file);

        if (!path) {
            cfg_report(ld, item, "out of memory");
            return;
        }
        free(p->ca_file);
        p->ca_file = path;
        if (access(path, R_OK) != 0 && ld->ca_reported != sc->l.ca_file) {
            cfg_report(ld, sc->l.ca_file, "\"ca_file\": %s: %s", path, strerror(errno));
            ld->ca_reported = sc->l.ca_file;
        }
    }
}

static void load_probe(struct loader *ld, const struct ydoc_node *item, const struct layer *fl,
                       const char *group, const char *file)
{
    struct scope ps;

    if (ydoc_kind(item) != YDOC_MAPPING) {
        cfg_report(ld, item, "expected a mapping, found %s", ydoc_describe(item));
        return;
    }
    memset(&ps, 0, sizeof(ps));
    if (layer_copy(&ps.l, fl) < 0) {
        cfg_report(ld, item, "out of memory");
        return;
    }
    cfg_apply_map(ld, item, &cfg_probe_tab, &ps);
    check_layer(ld, &ps);
    if (!ydoc_get(item, "id"))
        cfg_report(ld, item, "probe has no \"id\"");
    if (!ydoc_get(item, "url"))
        cfg_report(ld, item, "probe has no \"url\"");
    if (ps.id)
        add_probe(ld, &ps, item, group, file);
    layer_fini(&ps.l);
}

static void load_file(struct loader *ld, const char *file, const struct layer *global)
{
    struct ydoc *doc = NULL;
    const struct ydoc_node *root;
    struct scope fs;
    struct layer fl;

    if (ydoc_load(file, &doc, ld->d) < 0) {
        ld->errors++;
        return;
    }
    root = ydoc_root(doc);
    memset(&fs, 0, sizeof(fs));
    cfg_apply_map(ld, root, &cfg_file_tab, &fs);
    if (ydoc_kind(root) != YDOC_MAPPING)
        goto out;
    if (!ydoc_get(root, "group"))
        cfg_report(ld, root, "file has no \"group\"");
    if (!ydoc_get(root, "probes"))
        cfg_report(ld, root, "file has no \"probes\"");
    if (layer_copy(&fl, global) < 0) {
        cfg_report(ld, root, "out of memory");
        goto out;
    }
    if (fs.defaults)
        apply_defaults(ld, fs.defaults, &fl);
    for (size_t i = 0; fs.probes && i < ydoc_count(fs.probes); i++)
        load_probe(ld, ydoc_item(fs.probes, i), &fl, fs.group ? ydoc_scalar(fs.group, NULL) : "",
                   file);
    layer_fini(&fl);
out:
    ydoc_free(doc);
}

/* ---- files and directories ---- */

/* dir/name, or name alone when it is absolute or dir is empty. */
static char *path_join(const char *dir, const char *name)
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

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_yaml_name(const char *name)
{
    size_t n = strlen(name);

    return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".yaml") == 0;
}

static void load_dir(struct loader *ld, const struct ydoc_node *dir_node,
                     const struct layer *global)
{
    const char *dirname = ld->c->probes_dir;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    DIR *dir;

    dir = opendir(dirname);
    if (!dir) {
        if (dir_node)
            cfg_report(ld, dir_node, "\"probes_dir\": cannot open directory %s: %s", dirname,
                       strerror(errno));
        else
            cfg_report_at(ld, dirname, 0, 0, "cannot open directory: %s", strerror(errno));
        return;
    }
    while ((de = readdir(dir)) != NULL) {
        if (!is_yaml_name(de->d_name))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            char **nn = realloc(names, ncap * sizeof(*nn));

            if (!nn)
                goto nomem;
            names = nn;
            cap = ncap;
        }
        names[n] = strdup(de->d_name);
        if (!names[n])
            goto nomem;
        n++;
    }
    closedir(dir);
    dir = NULL;
    if (n > 0)
        qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n; i++) {
        char *file = path_join(dirname, names[i]);

        if (!file)
            goto nomem;
        load_file(ld, file, global);
        ld->c->nfiles++;
        free(file);
    }
    if (ld->c->nprobes == 0 && ld->errors == 0)
        cfg_report_at(ld, dirname, 0, 0, "no probes defined");
    goto out;
nomem:
    cfg_report_at(ld, dirname, 0, 0, "out of memory");
out:
    if (dir)
        closedir(dir);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* ---- finishing ---- */

struct order {
    const char *id;
    size_t idx;
};

static int cmp_order(const void *a, const void *b)
{
    const struct order *x = a, *y = b;
    int r = strcmp(x->id, y->id);

    if (r != 0)
        return r;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Reports duplicate ids, puts the probes in id order (the first definition first among equals)
 * and compiles their regexes in their final place. */
static void finish_probes(struct loader *ld)
{
    struct config *c = ld->c;
    struct order *ord = NULL;
    struct probe *sorted = NULL;
    struct pinfo *info = NULL;
    size_t n = c->nprobes;

    if (n == 0)
        return;
    ord = calloc(n, sizeof(*ord));
    sorted = calloc(n, sizeof(*sorted));
    info = calloc(n, sizeof(*info));
    if (!ord || !sorted || !info) {
        cfg_report_at(ld, c->probes_dir, 0, 0, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        ord[i].id = c->probes[i].id;
        ord[i].idx = i;
    }
    qsort(ord, n, sizeof(*ord), cmp_order);
    for (size_t i = 1, first = 0; i < n; i++) {
        const struct probe *p0 = &c->probes[ord[first].idx];
        const struct probe *p = &c->probes[ord[i].idx];
        const struct pinfo *in = &ld->info[ord[i].idx];
        struct qbuf q;

        if (strcmp(p0->id, p->id) != 0) {
            first = i;
            continue;
        }
        cfg_report_at(ld, p->file, in->id_line, in->id_col,
                      "duplicate probe id %s (first defined at %s:%u:%u)", cfg_quote(&q, p->id),
                      p0->file, p0->line, ld->info[ord[first].idx].col);
    }
    for (size_t i = 0; i < n; i++) {
        sorted[i] = c->probes[ord[i].idx];
        info[i] = ld->info[ord[i].idx];
    }
    free(c->probes);
    c->probes = sorted;
    sorted = NULL;
    free(ld->info);
    ld->info = info;
    info = NULL;
    ld->cap = n;
    for (size_t i = 0; i < n; i++) {
        struct probe *p = &c->probes[i];
        int err;

        if (!ld->info[i].regex)
            continue;
        err = regcomp(&p->body_re, ld->info[i].regex, REG_EXTENDED | REG_NOSUB);
        if (err != 0) {
            char eb[256];

            regerror(err, &p->body_re, eb, sizeof(eb));
            cfg_report_at(ld, p->file, p->line, 0, "\"body_regex\": %s", eb);
            continue;
        }
        p->body_regex = ld->info[i].regex;
        ld->info[i].regex = NULL;
    }
out:
    free(ord);
    free(sorted);
    free(info);
}

/* ---- alerting ---- */

static void strlist_free(struct strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* The strings of a K_STRS node (one scalar or a sequence), copied. */
static int strlist_from(struct strlist *l, const struct ydoc_node *n)
{
    size_t count;

    memset(l, 0, sizeof(*l));
    if (!n)
        return 0;
    count = ydoc_kind(n) == YDOC_SEQUENCE ? ydoc_count(n) : 1;
    l->v = calloc(count ? count : 1, sizeof(*l->v));
    if (!l->v)
        return -ENOMEM;
    for (size_t i = 0; i < count; i++) {
        l->v[i] = cfg_dup_scalar(ydoc_kind(n) == YDOC_SEQUENCE ? ydoc_item(n, i) : n);
        if (!l->v[i])
            return -ENOMEM;
        l->n++;
    }
    return 0;
}

/* The node of the i-th string of a K_STRS node, for messages. */
static const struct ydoc_node *strs_item(const struct ydoc_node *n, size_t i)
{
    return ydoc_kind(n) == YDOC_SEQUENCE ? ydoc_item(n, i) : n;
}

static bool group_exists(const struct config *c, const char *g)
{
    for (size_t i = 0; i < c->nprobes; i++)
        if (strcmp(c->probes[i].group, g) == 0)
            return true;
    return false;
}

/* Probe ids and group names given in alerting must exist: a typo would silently match nothing. */
static void check_names(struct loader *ld, const struct ydoc_node *n, const struct strlist *l,
                        bool groups)
{
    struct qbuf q;

    for (size_t i = 0; i < l->n; i++) {
        if (groups ? group_exists(ld->c, l->v[i]) : config_find(ld->c, l->v[i]) != NULL)
            continue;
        cfg_report(ld, strs_item(n, i), "unknown %s %s", groups ? "group" : "probe",
                   cfg_quote(&q, l->v[i]));
    }
}

/* 1 << index of each string in `names`, or reports the ones that are not there. */
static unsigned name_bits(struct loader *ld, const char *what, const struct ydoc_node *n,
                          const char *const *names)
{
    unsigned bits = 0;
    size_t count;
    struct qbuf q;

    if (!n)
        return 0;
    count = ydoc_kind(n) == YDOC_SEQUENCE ? ydoc_count(n) : 1;
    for (size_t i = 0; i < count; i++) {
        const char *v = ydoc_scalar(strs_item(n, i), NULL);
        size_t k;

        for (k = 0; names[k] && strcmp(names[k], v) != 0; k++)
            ;
        if (names[k])
            bits |= 1u << k;
        else
            cfg_report(ld, strs_item(n, i), "\"%s\": unknown %s %s", what, what, cfg_quote(&q, v));
    }
    return bits;
}

static void load_route(struct loader *ld, const struct ydoc_node *item, struct route *r)
{
    struct scope sc;

    memset(&sc, 0, sizeof(sc));
    sc.r_repeat = 4 * 3600 * SEC;
    sc.r_send_resolved = true;
    cfg_apply_map(ld, item, &cfg_route_tab, &sc);
    if (ydoc_kind(item) != YDOC_MAPPING)
        return;
    if (!sc.r_receivers)
        cfg_report(ld, item, "route has no \"receivers\"");
    if ((sc.r_name && !(r->name = cfg_dup_scalar(sc.r_name))) ||
        strlist_from(&r->groups, sc.r_groups) < 0 || strlist_from(&r->probes, sc.r_probes) < 0 ||
        strlist_from(&r->receivers, sc.r_receivers) < 0) {
        cfg_report(ld, item, "out of memory");
        return;
    }
    check_names(ld, sc.r_groups, &r->groups, true);
    check_names(ld, sc.r_probes, &r->probes, false);
    for (size_t i = 0; i < r->receivers.n; i++) {
        struct qbuf q;

        if (!config_receiver(ld->c, r->receivers.v[i]))
            cfg_report(ld, strs_item(sc.r_receivers, i),
                       "unknown receiver %s (not in \"receivers\")",
                       cfg_quote(&q, r->receivers.v[i]));
    }
    r->kinds = name_bits(ld, "kind", sc.r_kinds, config_alert_kinds);
    r->severities = name_bits(ld, "severity", sc.r_sevs, config_severities);
    r->repeat_ms = sc.r_repeat;
    r->send_resolved = sc.r_send_resolved;
    r->cont = sc.r_continue;
}

/* "2026-12-24 18:00" in the daemon's local time. */
static int parse_when(const char *s, int64_t *out)
{
    struct tm tm;
    int n = 0;
    time_t t;

    memset(&tm, 0, sizeof(tm));
    if (sscanf(s, "%4d-%2d-%2d %2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &n) != 5 ||
        s[n] != '\0' || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59)
        return -EINVAL;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_isdst = -1;
    t = mktime(&tm);
    if (t == (time_t)-1)
        return -EINVAL;
    *out = (int64_t)t;
    return 0;
}

/* "sun 02:00-04:00", or "* 02:00-04:00" for every day. */
static int parse_weekly(const char *s, struct maint *m)
{
    static const char *const days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
    int h1, m1, h2, m2, n = 0;
    char day[4] = "";

    if (sscanf(s, "%3s %2d:%2d-%2d:%2d%n", day, &h1, &m1, &h2, &m2, &n) != 5 || s[n] != '\0' ||
        h1 > 23 || h2 > 24 || m1 > 59 || m2 > 59 || h1 < 0 || h2 < 0 || m1 < 0 || m2 < 0 ||
        (h2 == 24 && m2 != 0))
        return -EINVAL;
    m->wday = -2;
    if (strcmp(day, "*") == 0)
        m->wday = -1;
    for (int i = 0; i < 7; i++)
        if (strcmp(day, days[i]) == 0)
            m->wday = i;
    if (m->wday == -2)
        return -EINVAL;
    m->min_from = h1 * 60 + m1;
    m->min_to = h2 * 60 + m2;
    return m->min_from == m->min_to ? -EINVAL : 0;
}

static void load_maint(struct loader *ld, const struct ydoc_node *item, struct maint *m)
{
    struct scope sc;
    struct qbuf q;

    memset(&sc, 0, sizeof(sc));
    cfg_apply_map(ld, item, &cfg_maint_tab, &sc);
    if (ydoc_kind(item) != YDOC_MAPPING)
        return;
    if (strlist_from(&m->groups, sc.m_groups) < 0 || strlist_from(&m->probes, sc.m_probes) < 0) {
        cfg_report(ld, item, "out of memory");
        return;
    }
    check_names(ld, sc.m_groups, &m->groups, true);
    check_names(ld, sc.m_probes, &m->probes, false);
    if (sc.m_weekly) {
        const char *w = ydoc_scalar(sc.m_weekly, NULL);

        if (sc.m_from || sc.m_to)
            cfg_report(ld, sc.m_weekly,
                       "\"weekly\": a window is either weekly or from/to, not both");
        else if (parse_weekly(w, m) < 0)
            cfg_report(ld, sc.m_weekly,
                       "\"weekly\": expected a day (sun..sat or *) and a time range like "
                       "\"sun 02:00-04:00\", found %s",
                       cfg_quote(&q, w));
        return;
    }
    if (!sc.m_from || !sc.m_to) {
        cfg_report(ld, item, "maintenance window needs \"from\" and \"to\", or \"weekly\"");
        return;
    }
    if (parse_when(ydoc_scalar(sc.m_from, NULL), &m->from) < 0)
        cfg_report(ld, sc.m_from,
                   "\"from\": expected a local time like \"2026-12-24 18:00\", found %s",
                   cfg_quote(&q, ydoc_scalar(sc.m_from, NULL)));
    else if (parse_when(ydoc_scalar(sc.m_to, NULL), &m->to) < 0)
        cfg_report(ld, sc.m_to, "\"to\": expected a local time like \"2026-12-24 18:00\", found %s",
                   cfg_quote(&q, ydoc_scalar(sc.m_to, NULL)));
    else if (m->to <= m->from)
        cfg_report(ld, sc.m_to, "\"to\": the window ends before it starts");
}

/* Builds the alerting settings once the probes are known (names are checked against them). */
static void load_alerting(struct loader *ld, const struct scope *ts)
{
    struct config *c = ld->c;
    const char *base = ld->base ? ld->base : "";

    c->alert_state_file =
        path_join(base, ts->state_file ? ydoc_scalar(ts->state_file, NULL) : "state/alerts.json");
    c->spool_dir =
        path_join(base, ts->spool_dir ? ydoc_scalar(ts->spool_dir, NULL) : "state/spool");
    c->group_wait_ms = ts->group_wait;
    c->criterion_every_ms = ts->criterion_every;
    c->impaired_share = ts->impaired_share;
    c->impaired_min_hosts = ts->impaired_min_hosts;
    c->impaired_window_ms = ts->impaired_window;
    if (!c->alert_state_file || !c->spool_dir || strlist_from(&c->canaries, ts->canaries) < 0) {
        cfg_report_at(ld, c->path ? c->path : "(config)", 0, 0, "out of memory");
        return;
    }
    check_names(ld, ts->canaries, &c->canaries, false);
    if (ts->routes && ydoc_count(ts->routes) > 0) {
        c->routes = calloc(ydoc_count(ts->routes), sizeof(*c->routes));
        if (!c->routes) {
            cfg_report(ld, ts->routes, "out of memory");
            return;
        }
        for (size_t i = 0; i < ydoc_count(ts->routes); i++)
            load_route(ld, ydoc_item(ts->routes, i), &c->routes[c->nroutes++]);
    }
    if (ts->maintenance && ydoc_count(ts->maintenance) > 0) {
        c->maint = calloc(ydoc_count(ts->maintenance), sizeof(*c->maint));
        if (!c->maint) {
            cfg_report(ld, ts->maintenance, "out of memory");
            return;
        }
        for (size_t i = 0; i < ydoc_count(ts->maintenance); i++)
            load_maint(ld, ydoc_item(ts->maintenance, i), &c->maint[c->nmaint++]);
    }
}

/* ---- receivers ---- */

#define SECRET_MAX 4096

enum {
    R_EXEC = 1u << RECEIVER_EXEC,
    R_WEBHOOK = 1u << RECEIVER_WEBHOOK,
    R_SMTP = 1u << RECEIVER_SMTP,
    R_AM = 1u << RECEIVER_ALERTMANAGER,
};

/* Keys that only some types of receiver take. */
static const struct {
    const char *key;
    unsigned types;
} rkey_types[] = {
    {"command", R_EXEC},
    {"url", R_WEBHOOK | R_SMTP | R_AM},
    {"url_file", R_WEBHOOK},
    {"url_env", R_WEBHOOK},
    {"headers", R_WEBHOOK},
    {"template", R_WEBHOOK},
    {"from", R_SMTP},
    {"to", R_SMTP},
    {"username", R_SMTP},
    {"password_file", R_SMTP},
    {"password_env", R_SMTP},
    {"starttls", R_SMTP},
    {"token_file", R_WEBHOOK | R_AM},
    {"token_env", R_WEBHOOK | R_AM},
    {"tls", R_WEBHOOK | R_SMTP | R_AM},
};

/* Overwrites a secret before freeing it: it must not linger in freed memory. */
static void secret_free(char *s)
{
    if (!s)
        return;
    for (volatile char *p = s; *p; p++)
        *p = '\0';
    free(s);
}

static void receiver_fini(struct receiver *r)
{
    free(r->name);
    free(r->file);
    for (size_t i = 0; i < r->ncommand; i++)
        free(r->command[i]);
    free(r->command);
    secret_free(r->url); /* may come from url_file / url_env */
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    free(r->from);
    for (size_t i = 0; i < r->nto; i++)
        free(r->to[i]);
    free(r->to);
    free(r->username);
    secret_free(r->secret);
    free(r->ca_file);
    memset(r, 0, sizeof(*r));
}

/* A mail address as SMTP takes it: local@domain, no spaces, no angle brackets. */
static bool address_valid(const char *s)
{
    const char *at = strchr(s, '@');

    return at && at != s && at[1] && !strchr(at + 1, '@') && !strpbrk(s, " \t<>,;\"()[]\\");
}

/* Reads a secret from a file (`key` names the setting). A relative path is taken in
 * $CREDENTIALS_DIRECTORY (systemd's LoadCredential=) when it is set, else next to vigie.yaml. One
 * trailing newline is dropped; the secret must be one line. NULL after reporting. */
static char *secret_read(struct loader *ld, const char *key, const struct ydoc_node *v)
{
    const char *name = ydoc_scalar(v, NULL);
    const char *cred = getenv("CREDENTIALS_DIRECTORY");
    char *path =
        path_join(name[0] != '/' && cred && *cred ? cred : (ld->base ? ld->base : "."), name);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = NULL;
    int c;

    if (!path) {
        cfg_report(ld, v, "out of memory");
        return NULL;
    }
    f = fopen(path, "re");
    if (!f) {
        cfg_report(ld, v, "\"%s\": %s: %s", key, path, strerror(errno));
        goto fail;
    }
    buf = malloc(SECRET_MAX + 1);
    if (!buf) {
        cfg_report(ld, v, "out of memory");
        goto fail;
    }
    while ((c = getc(f)) != EOF && len <= SECRET_MAX)
        buf[len++] = (char)c;
    if (ferror(f)) {
        cfg_report(ld, v, "\"%s\": %s: %s", key, path, strerror(errno));
        goto fail;
    }
    if (len > SECRET_MAX) {
        cfg_report(ld, v, "\"%s\": %s: longer than %d bytes", key, path, SECRET_MAX);
        goto fail;
    }
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    buf[len] = '\0';
    if (len == 0) {
        cfg_report(ld, v, "\"%s\": %s is empty", key, path);
        goto fail;
    }
    if (strlen(buf) != len || cfg_has_ctrl(buf)) {
        cfg_report(ld, v, "\"%s\": %s holds more than one line or control characters", key, path);
        goto fail;
    }
    fclose(f);
    free(path);
    return buf;
fail:
    if (f)
        fclose(f);
    free(path);
    if (buf) {
        memset(buf, 0, SECRET_MAX + 1);
        free(buf);
    }
    return NULL;
}

static char *secret_env(struct loader *ld, const char *key, const struct ydoc_node *v)
{
    const char *name = ydoc_scalar(v, NULL);
    const char *val = getenv(name);
    struct qbuf q;

    if (!val || !*val) {
        cfg_report(ld, v, "\"%s\": environment variable %s is not set", key, cfg_quote(&q, name));
        return NULL;
    }
    if (cfg_has_ctrl(val)) {
        cfg_report(ld, v, "\"%s\": environment variable %s holds control characters", key,
                   cfg_quote(&q, name));
        return NULL;
    }
    return strdup(val);
}

/* A sequence of strings copied into a NULL-terminated array. */
static int dup_seq(const struct ydoc_node *seq, char ***out, size_t *n)
{
    size_t count = ydoc_count(seq);
    char **a = calloc(count + 1, sizeof(*a));

    *out = a;
    *n = 0;
    if (!a)
        return -ENOMEM;
    for (size_t i = 0; i < count; i++) {
        a[i] = cfg_dup_scalar(ydoc_item(seq, i));
        if (!a[i])
            return -ENOMEM;
        (*n)++;
    }
    return 0;
}

static void check_receiver(struct loader *ld, const struct ydoc_node *item, const struct scope *sc,
                           struct receiver *r)
{
    static const char *const http_schemes[] = {"http", "https", NULL};
    static const char *const smtp_schemes[] = {"smtp", "smtps", NULL};
    const char *type = cfg_rtypes[r->type], *why = "";
    struct qbuf q;

    for (size_t i = 0; i < ydoc_count(item); i++) {
        const char *k = ydoc_scalar(ydoc_key(item, i), NULL);

        for (size_t j = 0; k && j < sizeof(rkey_types) / sizeof(rkey_types[0]); j++)
            if (strcmp(k, rkey_types[j].key) == 0 && !(rkey_types[j].types & (1u << r->type)))
                cfg_report(ld, ydoc_key(item, i), "key %s does not apply to a receiver of type %s",
                           cfg_quote(&q, k), type);
    }
    if (r->type == RECEIVER_EXEC) {
        if (!sc->rc_command || ydoc_count(sc->rc_command) == 0) {
            cfg_report(ld, sc->rc_command ? sc->rc_command : item,
                       "%s receiver needs a \"command\": [/path/to/program, args...]", type);
        } else {
            const struct ydoc_node *prog = ydoc_item(sc->rc_command, 0);
            const char *path = ydoc_scalar(prog, NULL);

            if (path[0] != '/')
                cfg_report(ld, prog, "\"command\": %s is not an absolute path (no shell, no PATH)",
                           cfg_quote(&q, path));
            else if (access(path, X_OK) != 0)
                cfg_report(ld, prog, "\"command\": %s: %s", path, strerror(errno));
        }
    } else if (!sc->rc_url && !sc->rc_url_file && !sc->rc_url_env) {
        cfg_report(ld, item, "%s receiver has no \"url\"%s", type,
                   r->type == RECEIVER_WEBHOOK ? " (or \"url_file\", \"url_env\")" : "");
    } else if (!!sc->rc_url + !!sc->rc_url_file + !!sc->rc_url_env > 1) {
        cfg_report(ld, sc->rc_url_env ? sc->rc_url_env : sc->rc_url_file,
                   "only one of \"url\", \"url_file\" and \"url_env\"");
    } else if (sc->rc_url) {
        const char *url = ydoc_scalar(sc->rc_url, NULL);
        int err = httpc_url_check_schemes(
            url, r->type == RECEIVER_SMTP ? smtp_schemes : http_schemes, &why);

        if (err == -EPERM)
            cfg_report(ld, sc->rc_url, "\"url\": credentials do not belong in the URL (use %s)",
                       r->type == RECEIVER_SMTP ? "username and password_file" : "token_file");
        else if (err < 0)
            cfg_report(ld, sc->rc_url, "\"url\": %s%s", why,
                       strcmp(why, "unsupported scheme") == 0
                           ? (r->type == RECEIVER_SMTP ? ", use smtp:// or smtps://"
                                                       : ", use http:// or https://")
                           : "");
    }
    if (r->type == RECEIVER_SMTP) {
        if (!sc->rc_from)
            cfg_report(ld, item, "smtp receiver has no \"from\"");
        else if (!address_valid(ydoc_scalar(sc->rc_from, NULL)))
            cfg_report(ld, sc->rc_from, "\"from\": %s is not a mail address like vigie@example.org",
                       cfg_quote(&q, ydoc_scalar(sc->rc_from, NULL)));
        if (!sc->rc_to || ydoc_count(sc->rc_to) == 0)
            cfg_report(ld, sc->rc_to ? sc->rc_to : item, "smtp receiver needs \"to\": [addresses]");
        for (size_t i = 0; sc->rc_to && i < ydoc_count(sc->rc_to); i++) {
            const struct ydoc_node *a = ydoc_item(sc->rc_to, i);

            if (!address_valid(ydoc_scalar(a, NULL)))
                cfg_report(ld, a, "\"to\": %s is not a mail address like oncall@example.org",
                           cfg_quote(&q, ydoc_scalar(a, NULL)));
        }
        if (sc->rc_username && !sc->rc_password_file && !sc->rc_password_env)
            cfg_report(ld, sc->rc_username,
                       "\"username\" needs \"password_file\" or \"password_env\"");
        if (!sc->rc_username && (sc->rc_password_file || sc->rc_password_env))
            cfg_report(ld, sc->rc_password_file ? sc->rc_password_file : sc->rc_password_env,
                       "a password needs a \"username\"");
    }
    for (size_t i = 0; i < sc->l.nheaders; i++)
        if (strcasecmp(ydoc_scalar(sc->l.headers[i].name, NULL), "Authorization") == 0)
            cfg_report(ld, sc->l.headers[i].name,
                       "\"headers\": no Authorization in the configuration: secrets are read from "
                       "\"token_file\" or \"token_env\"");
    if (sc->rc_password_file && sc->rc_password_env)
        cfg_report(ld, sc->rc_password_env, "\"password_env\": \"password_file\" is already set");
    if (sc->rc_token_file && sc->rc_token_env)
        cfg_report(ld, sc->rc_token_env, "\"token_env\": \"token_file\" is already set");
    if (r->backoff_max_ms < r->backoff_min_ms)
        cfg_report(ld, ydoc_get(item, "backoff_max") ? ydoc_get(item, "backoff_max") : item,
                   "\"backoff_max\" is shorter than \"backoff_min\"");
}

static void load_receiver(struct loader *ld, const struct ydoc_node *item)
{
    struct config *c = ld->c;
    struct receiver *r;
    struct scope sc;
    unsigned before = ld->errors;
    bool ok = true;

    if (ydoc_kind(item) != YDOC_MAPPING) {
        cfg_report(ld, item, "expected a mapping, found %s", ydoc_describe(item));
        return;
    }
    memset(&sc, 0, sizeof(sc));
    sc.rc_type = -1;
    sc.rc_timeout = 10 * SEC;
    sc.rc_backoff_min = SEC;
    sc.rc_backoff_max = 30 * SEC;
    sc.l.tls_verify = true;
    cfg_apply_map(ld, item, &cfg_receiver_tab, &sc);
    if (!sc.rc_name)
        cfg_report(ld, item, "receiver has no \"name\"");
    else if (!cfg_id_valid(ydoc_scalar(sc.rc_name, NULL)))
        cfg_report(ld, sc.rc_name, "\"name\": invalid name %s (use [a-z0-9][a-z0-9._-]{0,63})",
                   ydoc_scalar(sc.rc_name, NULL));
    if (sc.rc_type < 0 && !ydoc_get(item, "type"))
        cfg_report(ld, item, "receiver has no \"type\" (exec, webhook, smtp or alertmanager)");
    if (sc.rc_type < 0 || !sc.rc_name) {
        layer_fini(&sc.l);
        return;
    }
    for (size_t i = 0; i < c->nreceivers; i++) {
        if (strcmp(c->receivers[i].name, ydoc_scalar(sc.rc_name, NULL)) == 0) {
            cfg_report(ld, sc.rc_name, "duplicate receiver name \"%s\" (first defined at %s:%u:%u)",
                       c->receivers[i].name, c->receivers[i].file, c->receivers[i].line,
                       c->receivers[i].col);
            layer_fini(&sc.l);
            return;
        }
    }
    r = realloc(c->receivers, (c->nreceivers + 1) * sizeof(*r));
    if (!r) {
        cfg_report(ld, item, "out of memory");
        layer_fini(&sc.l);
        return;
    }
    c->receivers = r;
    r = &c->receivers[c->nreceivers++];
    memset(r, 0, sizeof(*r));
    r->type = (enum receiver_type)sc.rc_type;
    r->template = (enum receiver_template)sc.rc_template;
    r->timeout_ms = sc.rc_timeout;
    r->rate_limit = sc.rc_rate_limit;
    r->backoff_min_ms = sc.rc_backoff_min;
    r->backoff_max_ms = sc.rc_backoff_max;
    r->starttls_optional = sc.rc_starttls == 1;
    r->tls_verify = sc.l.tls_verify;
    r->line = ydoc_line(item);
    r->col = ydoc_col(item);
    r->name = cfg_dup_scalar(sc.rc_name);
    r->file = strdup(ydoc_file(item));
    ok = r->name && r->file;
    check_receiver(ld, item, &sc, r);
    if (ld->errors == before) {
        if (sc.rc_command)
            ok = ok && dup_seq(sc.rc_command, &r->command, &r->ncommand) == 0;
        if (sc.rc_to)
            ok = ok && dup_seq(sc.rc_to, &r->to, &r->nto) == 0;
        if (sc.rc_url)
            ok = ok && (r->url = cfg_dup_scalar(sc.rc_url)) != NULL;
        if (sc.rc_from)
            ok = ok && (r->from = cfg_dup_scalar(sc.rc_from)) != NULL;
        if (sc.rc_username)
            ok = ok && (r->username = cfg_dup_scalar(sc.rc_username)) != NULL;
        if (sc.l.ca_file) {
            r->ca_file = path_join(ld->base ? ld->base : ".", ydoc_scalar(sc.l.ca_file, NULL));
            ok = ok && r->ca_file;
            if (r->ca_file && access(r->ca_file, R_OK) != 0)
                cfg_report(ld, sc.l.ca_file, "\"ca_file\": %s: %s", r->ca_file, strerror(errno));
        }
        if (sc.l.nheaders > 0) {
            r->headers = calloc(sc.l.nheaders, sizeof(*r->headers));
            ok = ok && r->headers;
            for (size_t i = 0; r->headers && i < sc.l.nheaders; i++) {
                r->headers[i].name = cfg_dup_scalar(sc.l.headers[i].name);
                r->headers[i].value = cfg_dup_scalar(sc.l.headers[i].value);
                r->nheaders++;
                ok = ok && r->headers[i].name && r->headers[i].value;
            }
        }
    }
    /* A webhook URL that is itself a secret (Slack's, Mattermost's): read like a password,
     * checked like a URL, never shown (the messages do not quote it). */
    if ((sc.rc_url_file || sc.rc_url_env) && r->type == RECEIVER_WEBHOOK && !r->url) {
        static const char *const http_schemes[] = {"http", "https", NULL};
        const struct ydoc_node *at = sc.rc_url_file ? sc.rc_url_file : sc.rc_url_env;
        const char *key = sc.rc_url_file ? "url_file" : "url_env";
        char *url = sc.rc_url_file ? secret_read(ld, key, at) : secret_env(ld, key, at);
        const char *why = "";
        int err = url ? httpc_url_check_schemes(url, http_schemes, &why) : 0;

        if (err == -EPERM)
            cfg_report(ld, at, "\"%s\": credentials do not belong in the URL (use token_file)",
                       key);
        else if (err < 0)
            cfg_report(ld, at, "\"%s\": not a usable http(s) URL: %s", key, why);
        if (err < 0)
            secret_free(url);
        else
            r->url = url;
    }
    /* read even when something else is wrong: a missing secret is reported in the same pass */
    if (sc.rc_password_file)
        r->secret = secret_read(ld, "password_file", sc.rc_password_file);
    else if (sc.rc_password_env)
        r->secret = secret_env(ld, "password_env", sc.rc_password_env);
    else if (sc.rc_token_file)
        r->secret = secret_read(ld, "token_file", sc.rc_token_file);
    else if (sc.rc_token_env)
        r->secret = secret_env(ld, "token_env", sc.rc_token_env);
    if (!ok)
        cfg_report(ld, item, "out of memory");
    layer_fini(&sc.l);
}

static void load_receivers(struct loader *ld, const struct ydoc_node *seq)
{
    for (size_t i = 0; i < ydoc_count(seq); i++)
        load_receiver(ld, ydoc_item(seq, i));
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
    layer_builtin(&global);
    ts.concurrency = 512;
    ts.per_host = 8;
    ts.rrd_flush = 30 * SEC;
    ts.rrd_queue_max = 1000000;
    ts.saturation_lag = 250;
    ts.drain_timeout = 10 * SEC;
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
            apply_defaults(&ld, ts.defaults, &global);
    }
    base = dir_of(path);
    ld.base = base;
    if (base) {
        c->probes_dir =
            path_join(base, ts.probes_dir ? ydoc_scalar(ts.probes_dir, NULL) : "probes.d");
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
            c->rrd_dir = path_join(base, rd);
        }
        /* A node (vantage point) keeps its files apart: <rrd_dir>/<node>/. */
        if (c->rrd_dir && ts.node) {
            char *nd = path_join(c->rrd_dir, ydoc_scalar(ts.node, NULL));

            free(c->rrd_dir);
            c->rrd_dir = nd;
        }
        c->graphs_dir =
            path_join(base, ts.graphs_dir ? ydoc_scalar(ts.graphs_dir, NULL) : "graphs");
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
    c->rrd_full_ms = ts.ret_full;
    c->rrd_medium_ms = ts.ret_medium;
    c->rrd_hourly_ms = ts.ret_hourly;
    c->rrd_daily_ms = ts.ret_daily;
    c->saturation_ms = ts.saturation_lag;
    c->drain_ms = ts.drain_timeout;
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
        load_receivers(&ld, ts.receivers);
    if (!top || ts.probes_dir || !ydoc_get(ydoc_root(top), "probes_dir"))
        load_dir(&ld, ts.probes_dir, &global);
    finish_probes(&ld);
    load_alerting(&ld, &ts);
out:
    for (size_t i = 0; i < c->nprobes && ld.info; i++)
        free(ld.info[i].regex);
    free(ld.info);
    layer_fini(&global);
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
        probe_fini(&c->probes[i]);
    free(c->probes);
    free(c->path);
    free(c->probes_dir);
    free(c->rrd_dir);
    free(c->graphs_dir);
    free(c->user_agent);
    free(c->rrdcached);
    free(c->alert_state_file);
    free(c->spool_dir);
    for (size_t i = 0; i < c->nreceivers; i++)
        receiver_fini(&c->receivers[i]);
    free(c->receivers);
    strlist_free(&c->canaries);
    for (size_t i = 0; i < c->nroutes; i++) {
        free(c->routes[i].name);
        strlist_free(&c->routes[i].groups);
        strlist_free(&c->routes[i].probes);
        strlist_free(&c->routes[i].receivers);
    }
    free(c->routes);
    for (size_t i = 0; i < c->nmaint; i++) {
        strlist_free(&c->maint[i].groups);
        strlist_free(&c->maint[i].probes);
    }
    free(c->maint);
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
            probe_fini(&c->probes[k]);
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
