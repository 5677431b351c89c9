/* receivers — the alerting settings: the receivers of notifications and their secrets, and
 * vigie.yaml's `alerting:` (state and spool paths, canaries, routes, maintenance windows).
 *
 * Receivers are loaded before the probes, routes and maintenance windows after them: the names
 * they give (receivers, probe ids, groups) must exist, a typo would silently match nothing.
 * Secrets (SMTP passwords, bearer tokens, webhook URLs that are themselves secrets) are read at
 * load time from a file or the environment, never from the YAML, never quoted in a message, and
 * overwritten before they are freed. (alerting.c is the alert engine's driver, in src/alert/.) */
#include "config/config_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/container.h"
#include "net/url.h"

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
void cfg_load_alerting(struct loader *ld, const struct scope *ts)
{
    struct config *c = ld->c;
    const char *base = ld->base ? ld->base : "";

    c->alert_state_file = cfg_path_join(base, ts->state_file ? ydoc_scalar(ts->state_file, NULL)
                                                             : "state/alerts.json");
    c->spool_dir =
        cfg_path_join(base, ts->spool_dir ? ydoc_scalar(ts->spool_dir, NULL) : "state/spool");
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
        cfg_path_join(name[0] != '/' && cred && *cred ? cred : (ld->base ? ld->base : "."), name);
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

        for (size_t j = 0; k && j < ARRAY_SIZE(rkey_types); j++)
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
        int err =
            url_check_schemes(url, r->type == RECEIVER_SMTP ? smtp_schemes : http_schemes, &why);

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
        cfg_layer_fini(&sc.l);
        return;
    }
    for (size_t i = 0; i < c->nreceivers; i++) {
        if (strcmp(c->receivers[i].name, ydoc_scalar(sc.rc_name, NULL)) == 0) {
            cfg_report(ld, sc.rc_name, "duplicate receiver name \"%s\" (first defined at %s:%u:%u)",
                       c->receivers[i].name, c->receivers[i].file, c->receivers[i].line,
                       c->receivers[i].col);
            cfg_layer_fini(&sc.l);
            return;
        }
    }
    r = realloc(c->receivers, (c->nreceivers + 1) * sizeof(*r));
    if (!r) {
        cfg_report(ld, item, "out of memory");
        cfg_layer_fini(&sc.l);
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
            r->ca_file = cfg_path_join(ld->base ? ld->base : ".", ydoc_scalar(sc.l.ca_file, NULL));
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
        int err = url ? url_check_schemes(url, http_schemes, &why) : 0;

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
    cfg_layer_fini(&sc.l);
}

void cfg_load_receivers(struct loader *ld, const struct ydoc_node *seq)
{
    for (size_t i = 0; i < ydoc_count(seq); i++)
        load_receiver(ld, ydoc_item(seq, i));
}

void cfg_alerting_fini(struct config *c)
{
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
}
