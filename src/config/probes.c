/* probes — the probes.d files: the cascade of probe settings, each file's group, defaults and
 * probes, their ids, and the regexes they expect.
 *
 * Probe settings live in a `struct layer`, one per level of the cascade: built-in, vigie.yaml's
 * defaults, the file's defaults, the probe. A level starts as a copy of the one above and applies
 * its own keys on top, so a value set at one level is parsed and checked once, at the place where
 * it is written; strings stay borrowed from the YAML documents until a probe is finalized. */
#include "config/config_int.h"

#include <dirent.h>
#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pinfo {
    unsigned id_line, id_col; /* the id value, for a duplicate */
    unsigned col;             /* the probe mapping's column */
    char *regex;              /* body_regex source, until compiled in place */
};

/* ---- the cascade ---- */

void cfg_layer_builtin(struct layer *l)
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

void cfg_layer_fini(struct layer *l)
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

void cfg_apply_defaults(struct loader *ld, const struct ydoc_node *map, struct layer *l)
{
    struct scope sc;

    memset(&sc, 0, sizeof(sc));
    sc.l = *l; /* moved in and back out: the headers array changes hands */
    cfg_apply_map(ld, map, &cfg_defaults_tab, &sc);
    check_layer(ld, &sc);
    *l = sc.l;
}

/* ---- probes ---- */

void cfg_probe_fini(struct probe *p)
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
        char *path = cfg_path_join(ld->base ? ld->base : ".", p->ca_file);

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
    cfg_layer_fini(&ps.l);
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
        cfg_apply_defaults(ld, fs.defaults, &fl);
    for (size_t i = 0; fs.probes && i < ydoc_count(fs.probes); i++)
        load_probe(ld, ydoc_item(fs.probes, i), &fl, fs.group ? ydoc_scalar(fs.group, NULL) : "",
                   file);
    cfg_layer_fini(&fl);
out:
    ydoc_free(doc);
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

void cfg_load_dir(struct loader *ld, const struct ydoc_node *dir_node, const struct layer *global)
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
        char *file = cfg_path_join(dirname, names[i]);

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
void cfg_finish_probes(struct loader *ld)
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

void cfg_pinfo_free(struct loader *ld)
{
    for (size_t i = 0; i < ld->c->nprobes && ld->info; i++)
        free(ld->info[i].regex);
    free(ld->info);
    ld->info = NULL;
}
