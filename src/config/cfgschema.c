/* cfgschema — the schema of the probes and the receivers, and the machinery that applies a key
 * table to a YAML mapping.
 *
 * The tables of the probe settings (a defaults block, a probe, expect, tls, alert, a probes file)
 * and of alerting's lists (a route, a maintenance window, a receiver) are here; vigie.yaml's own
 * (top level, rrd_retention, graphs, alerting) are in config.c. cfg_apply_map checks each key of a
 * mapping against its table and writes what it parses into a `struct scope` (config_int.h): a bad
 * value is reported at its node with what was expected, an unknown key with a "did you mean" when
 * a known key is close, and a key put at the wrong level with where it belongs. */
#include "config/config_int.h"

#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/container.h"
#include "net/url.h"

#define MAX_HEADERS 64
#define ID_MAX_LEN 64
#define JDMA_MAX 999999999L

const char *const cfg_methods[] = {"GET", "HEAD", NULL}; /* by METHOD_* */
static const char *const ips[] = {"any", "v4", "v6", NULL};
static const char *const https[] = {"auto", "1.1", "2", NULL};
/* by enum receiver_type, enum receiver_template */
const char *const cfg_rtypes[] = {"exec", "webhook", "smtp", "alertmanager", NULL};
static const char *const templates[] = {"vigie", "slack", "mattermost", NULL};
static const char *const starttls[] = {"required", "optional", NULL};

static const struct key alert_keys[] = {
    {.name = "enabled", .type = K_BOOL, .off = S(l.alert_enabled)},
    {.name = "confirm", .type = K_INT, .off = S(l.confirm), .min = 1, .max = 100},
    {.name = "recover", .type = K_INT, .off = S(l.recover), .min = 1, .max = 100},
    {.name = "recheck",
     .type = K_DURATION,
     .off = S(l.recheck),
     .min = 0,
     .max = DAY,
     .at = AT_RECHECK + 1},
    {.name = "slow_window", .type = K_INT, .off = S(l.slow_window), .min = 1, .max = 100},
    {.name = "slow_percentile",
     .type = K_PERCENT,
     .off = S(l.slow_percentile),
     .min = 1,
     .max = 99},
    {.name = "slow_clear", .type = K_PERCENT, .off = S(l.slow_clear), .min = 10, .max = 100},
    {.name = "availability_window",
     .type = K_DURATION,
     .off = S(l.avail_window),
     .min = 3600 * SEC,
     .max = 400 * DAY},
    {.name = "availability_target",
     .type = K_PERCENT,
     .off = S(l.avail_target),
     .min = 1,
     .max = 100},
};

static const struct keytab alert_tab = {"alert", alert_keys, ARRAY_SIZE(alert_keys), NULL};

static const struct key expect_keys[] = {
    {.name = "status", .type = K_STATUS, .off = S(l.status)},
    {.name = "body", .type = K_TEXT, .off = S(l.body), .at = AT_BODY + 1},
    {.name = "body_regex", .type = K_REGEX, .off = S(l.body_regex), .at = AT_BODY_REGEX + 1},
    {.name = "max_bytes", .type = K_SIZE, .off = S(l.max_bytes), .min = 1, .max = 1LL << 30},
};

static const struct keytab expect_tab = {"expect", expect_keys, ARRAY_SIZE(expect_keys), NULL};

static const struct key tls_keys[] = {
    {.name = "verify", .type = K_BOOL, .off = S(l.tls_verify)},
    {.name = "ca_file", .type = K_STR, .off = S(l.ca_file)},
    {.name = "min_days", .type = K_INT, .off = S(l.min_days), .min = 0, .max = 3650},
};

static const struct keytab tls_tab = {"tls", tls_keys, ARRAY_SIZE(tls_keys), NULL};

/* The probe keys, allowed in defaults blocks and in probes. */
static const struct key layer_keys[] = {
    {.name = "interval",
     .type = K_DURATION,
     .off = S(l.interval),
     .min = SEC,
     .max = DAY,
     .at = AT_INTERVAL + 1},
    {.name = "timeout",
     .type = K_DURATION,
     .off = S(l.timeout),
     .min = MS(100),
     .max = DAY,
     .at = AT_TIMEOUT + 1},
    {.name = "connect_timeout",
     .type = K_DURATION,
     .off = S(l.connect_timeout),
     .min = MS(100),
     .max = DAY,
     .at = AT_CONNECT + 1},
    {.name = "slow",
     .type = K_DURATION,
     .off = S(l.slow),
     .min = MS(1),
     .max = DAY,
     .at = AT_SLOW + 1},
    {.name = "method",
     .type = K_CHOICE,
     .off = S(l.method),
     .choices = cfg_methods,
     .at = AT_METHOD + 1},
    {.name = "headers", .type = K_HEADERS},
    {.name = "follow_redirects", .type = K_BOOL, .off = S(l.follow_redirects)},
    {.name = "max_redirects", .type = K_INT, .off = S(l.max_redirects), .min = 0, .max = 50},
    {.name = "ip", .type = K_CHOICE, .off = S(l.ip), .choices = ips},
    {.name = "http", .type = K_CHOICE, .off = S(l.http), .choices = https},
    {.name = "reuse", .type = K_BOOL, .off = S(l.reuse)},
    {.name = "expect", .type = K_SUB, .sub = &expect_tab},
    {.name = "tls", .type = K_SUB, .sub = &tls_tab},
    {.name = "alert", .type = K_SUB, .sub = &alert_tab},
};

const struct keytab cfg_defaults_tab = {"defaults", layer_keys, ARRAY_SIZE(layer_keys), NULL};

static const struct key probe_keys[] = {
    {.name = "id", .type = K_ID, .off = S(id)},
    {.name = "name", .type = K_STR, .off = S(name)},
    {.name = "url", .type = K_URL, .off = S(url)},
    {.name = "jdma", .type = K_JDMA, .off = S(jdma), .min = 1, .max = JDMA_MAX},
    {.name = "tags", .type = K_TAGS, .off = S(tags)},
};

const struct keytab cfg_probe_tab = {"probe", probe_keys, ARRAY_SIZE(probe_keys),
                                     &cfg_defaults_tab};

static const struct key file_keys[] = {
    {.name = "group", .type = K_STR, .off = S(group)},
    {.name = "defaults", .type = K_MAP, .off = S(defaults)},
    {.name = "probes", .type = K_SEQ, .off = S(probes)},
};

const struct keytab cfg_file_tab = {"probes file", file_keys, ARRAY_SIZE(file_keys), NULL};

static const struct key match_keys[] = {
    {.name = "group", .type = K_STRS, .off = S(r_groups)},
    {.name = "probe", .type = K_STRS, .off = S(r_probes)},
    {.name = "kind", .type = K_STRS, .off = S(r_kinds)},
    {.name = "severity", .type = K_STRS, .off = S(r_sevs)},
};

static const struct keytab match_tab = {"match", match_keys, ARRAY_SIZE(match_keys), NULL};

static const struct key route_keys[] = {
    {.name = "name", .type = K_STR, .off = S(r_name)},
    {.name = "match", .type = K_SUB, .sub = &match_tab},
    {.name = "receivers", .type = K_STRS, .off = S(r_receivers)},
    {.name = "repeat", .type = K_DURATION, .off = S(r_repeat), .min = 0, .max = 30 * DAY},
    {.name = "send_resolved", .type = K_BOOL, .off = S(r_send_resolved)},
    {.name = "continue", .type = K_BOOL, .off = S(r_continue)},
};

const struct keytab cfg_route_tab = {"route", route_keys, ARRAY_SIZE(route_keys), NULL};

static const struct key maint_keys[] = {
    {.name = "group", .type = K_STRS, .off = S(m_groups)},
    {.name = "probe", .type = K_STRS, .off = S(m_probes)},
    {.name = "from", .type = K_STR, .off = S(m_from)},
    {.name = "to", .type = K_STR, .off = S(m_to)},
    {.name = "weekly", .type = K_STR, .off = S(m_weekly)},
    {.name = "reason", .type = K_TEXT, .off = S(m_reason)},
};

const struct keytab cfg_maint_tab = {"maintenance window", maint_keys, ARRAY_SIZE(maint_keys),
                                     NULL};

static const struct key rtls_keys[] = {
    {.name = "verify", .type = K_BOOL, .off = S(l.tls_verify)},
    {.name = "ca_file", .type = K_STR, .off = S(l.ca_file)},
};

static const struct keytab rtls_tab = {"tls", rtls_keys, ARRAY_SIZE(rtls_keys), NULL};

static const struct key receiver_keys[] = {
    {.name = "name", .type = K_STR, .off = S(rc_name)},
    {.name = "type", .type = K_CHOICE, .off = S(rc_type), .choices = cfg_rtypes},
    {.name = "timeout",
     .type = K_DURATION,
     .off = S(rc_timeout),
     .min = MS(100),
     .max = 3600 * SEC},
    {.name = "rate_limit", .type = K_INT, .off = S(rc_rate_limit), .min = 1, .max = 1000000},
    {.name = "backoff_min",
     .type = K_DURATION,
     .off = S(rc_backoff_min),
     .min = MS(100),
     .max = 3600 * SEC},
    {.name = "backoff_max",
     .type = K_DURATION,
     .off = S(rc_backoff_max),
     .min = MS(100),
     .max = DAY},
    {.name = "command", .type = K_TAGS, .off = S(rc_command)},
    {.name = "url", .type = K_STR, .off = S(rc_url)},
    {.name = "url_file", .type = K_STR, .off = S(rc_url_file)},
    {.name = "url_env", .type = K_STR, .off = S(rc_url_env)},
    {.name = "headers", .type = K_HEADERS},
    {.name = "template", .type = K_CHOICE, .off = S(rc_template), .choices = templates},
    {.name = "from", .type = K_STR, .off = S(rc_from)},
    {.name = "to", .type = K_TAGS, .off = S(rc_to)},
    {.name = "username", .type = K_STR, .off = S(rc_username)},
    {.name = "password_file", .type = K_STR, .off = S(rc_password_file)},
    {.name = "password_env", .type = K_STR, .off = S(rc_password_env)},
    {.name = "token_file", .type = K_STR, .off = S(rc_token_file)},
    {.name = "token_env", .type = K_STR, .off = S(rc_token_env)},
    {.name = "starttls", .type = K_CHOICE, .off = S(rc_starttls), .choices = starttls},
    {.name = "tls", .type = K_SUB, .sub = &rtls_tab},
};

const struct keytab cfg_receiver_tab = {"receiver", receiver_keys, ARRAY_SIZE(receiver_keys), NULL};

/* ---- messages ---- */

void cfg_report_at(struct loader *ld, const char *file, unsigned line, unsigned col,
                   const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    diag_add(ld->d, file, line, col, "%s", msg);
    ld->errors++;
}

void cfg_report(struct loader *ld, const struct ydoc_node *n, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cfg_report_at(ld, ydoc_file(n), ydoc_line(n), ydoc_col(n), "%s", msg);
}

const char *cfg_quote(struct qbuf *q, const char *s)
{
    size_t o = 0;

    q->s[o++] = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        /* Cut between characters, not inside a UTF-8 sequence (but never past 70 bytes). */
        if (o >= 60 && ((c & 0xC0) != 0x80 || o >= 70)) {
            memcpy(q->s + o, "...", 3);
            o += 3;
            break;
        }
        if (c == '"' || c == '\\') {
            q->s[o++] = '\\';
            q->s[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7F) {
            o += (size_t)snprintf(q->s + o, sizeof(q->s) - o, "\\x%02X", c);
        } else {
            q->s[o++] = (char)c;
        }
    }
    q->s[o++] = '"';
    q->s[o] = '\0';
    return q->s;
}

/* "1d", "1m30s", "250ms", "0". */
const char *cfg_fmt_ms(char *buf, size_t len, uint64_t ms)
{
    static const struct {
        const char *name;
        uint64_t ms;
    } u[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};
    size_t o = 0;

    buf[0] = '\0';
    if (ms == 0)
        return "0";
    for (size_t i = 0; i < ARRAY_SIZE(u) && o < len; i++) {
        if (ms >= u[i].ms) {
            int n =
                snprintf(buf + o, len - o, "%llu%s", (unsigned long long)(ms / u[i].ms), u[i].name);
            if (n < 0)
                break;
            o += (size_t)n;
            ms %= u[i].ms;
        }
    }
    return buf;
}

static const char *fmt_size(char *buf, size_t len, uint64_t b)
{
    if (b >= (1ULL << 30) && b % (1ULL << 30) == 0)
        snprintf(buf, len, "%lluGiB", (unsigned long long)(b >> 30));
    else if (b >= (1ULL << 20) && b % (1ULL << 20) == 0)
        snprintf(buf, len, "%lluMiB", (unsigned long long)(b >> 20));
    else if (b >= 1024 && b % 1024 == 0)
        snprintf(buf, len, "%lluKiB", (unsigned long long)(b >> 10));
    else
        snprintf(buf, len, "%llu", (unsigned long long)b);
    return buf;
}

/* Optimal string alignment distance, for "did you mean". Long strings are simply far apart. */
static unsigned edit_distance(const char *a, const char *b)
{
    unsigned d[33][33];
    size_t la = strlen(a), lb = strlen(b);

    if (la > 32 || lb > 32)
        return 99;
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (unsigned)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            unsigned cost = a[i - 1] != b[j - 1];
            unsigned v = d[i - 1][j] + 1;

            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    }
    return d[la][lb];
}

static const struct key *tab_find(const struct keytab *tab, const char *name, size_t *index)
{
    size_t base = 0;

    for (const struct keytab *t = tab; t; t = t->also) {
        for (size_t i = 0; i < t->n; i++) {
            if (strcmp(t->keys[i].name, name) == 0) {
                if (index)
                    *index = base + i;
                return &t->keys[i];
            }
        }
        base += t->n;
    }
    return NULL;
}

static void unknown_key(struct loader *ld, const struct ydoc_node *k, const struct keytab *tab,
                        const char *name)
{
    const char *best = NULL;
    unsigned best_d = 99;
    struct qbuf q;

    if (tab == &cfg_probe_tab || tab == &cfg_defaults_tab) {
        if (tab_find(&expect_tab, name, NULL)) {
            cfg_report(ld, k, "unknown key %s in %s; it belongs under \"expect\"",
                       cfg_quote(&q, name), tab->what);
            return;
        }
        if (tab_find(&tls_tab, name, NULL)) {
            cfg_report(ld, k, "unknown key %s in %s; it belongs under \"tls\"", cfg_quote(&q, name),
                       tab->what);
            return;
        }
    }
    if (tab == &cfg_defaults_tab && tab_find(&cfg_probe_tab, name, NULL)) {
        cfg_report(ld, k, "key %s is not allowed in defaults, only in a probe",
                   cfg_quote(&q, name));
        return;
    }
    if (tab == &cfg_probe_tab && strcmp(name, "group") == 0) {
        cfg_report(ld, k,
                   "key \"group\" is not allowed in a probe: it is set once per file, at its "
                   "top level");
        return;
    }
    for (const struct keytab *t = tab; t; t = t->also) {
        for (size_t i = 0; i < t->n; i++) {
            unsigned dist = edit_distance(name, t->keys[i].name);

            if (dist < best_d) {
                best_d = dist;
                best = t->keys[i].name;
            }
        }
    }
    if (best && best_d <= (strlen(name) >= 5 ? 2u : 1u))
        cfg_report(ld, k, "unknown key %s in %s; did you mean \"%s\"?", cfg_quote(&q, name),
                   tab->what, best);
    else
        cfg_report(ld, k, "unknown key %s in %s", cfg_quote(&q, name), tab->what);
}

/* ---- values ---- */

/* "a, b or c" from a choice list (NULL-terminated). The text lives until the next call on the
 * same thread (a configuration loads on one thread at a time: the loop at start, a pool thread
 * on reload). */
static const char *choices_text(const char *const *choices)
{
    static _Thread_local char buf[256];
    size_t n = 0, len = 0;

    while (choices[n])
        n++;
    buf[0] = '\0';
    for (size_t i = 0; i < n && len < sizeof(buf); i++)
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s",
                                i == 0       ? ""
                                : i + 1 == n ? " or "
                                             : ", ",
                                choices[i]);
    return buf;
}

static const char *type_name(const struct key *k)
{
    switch (k->type) {
    case K_DURATION:
        return "a duration like 250ms, 10s, 5m";
    case K_SIZE:
        return "a size like 512KiB, 1MiB";
    case K_INT:
        return "an integer";
    case K_BOOL:
        return "true or false";
    case K_STATUS:
        return "a status set like 200-399, 2xx or 200,301-308";
    case K_CHOICE:
        return choices_text(k->choices);
    case K_HEADERS:
    case K_MAP:
    case K_SUB:
        return "a mapping";
    case K_SEQ:
        return "a sequence";
    case K_TAGS:
        return "a sequence of strings";
    case K_STRS:
        return "a string or a sequence of strings";
    case K_PERCENT:
        return "a percentage like 99.9%";
    case K_JDMA:
        return "a sequence of procedure ids";
    case K_STR:
    case K_TEXT:
    case K_ID:
    case K_URL:
    case K_REGEX:
    default:
        return "a string";
    }
}

bool cfg_has_ctrl(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7F)
            return true;
    }
    return false;
}

const char *cfg_scalar_of(struct loader *ld, const char *name, const char *expected,
                          const struct ydoc_node *v, bool allow_ctrl)
{
    const char *s;
    size_t len;

    if (ydoc_kind(v) != YDOC_SCALAR || ydoc_is_null(v)) {
        cfg_report(ld, v, "\"%s\": expected %s, found %s", name, expected, ydoc_describe(v));
        return NULL;
    }
    s = ydoc_scalar(v, &len);
    if (len == 0) {
        cfg_report(ld, v, "\"%s\": empty string", name);
        return NULL;
    }
    if (strlen(s) != len) {
        cfg_report(ld, v, "\"%s\": contains a NUL byte", name);
        return NULL;
    }
    if (!allow_ctrl && cfg_has_ctrl(s)) {
        cfg_report(ld, v, "\"%s\": contains a control character", name);
        return NULL;
    }
    return s;
}

/* strtol over the whole string, within [min, max]. */
static int parse_long(struct loader *ld, const char *name, const struct ydoc_node *v, const char *s,
                      long long min, long long max, long *out)
{
    struct qbuf q;
    char *end;
    long x;

    if (!((s[0] >= '0' && s[0] <= '9') || (s[0] == '-' && s[1] >= '0' && s[1] <= '9'))) {
        cfg_report(ld, v, "\"%s\": expected an integer, found %s", name, cfg_quote(&q, s));
        return -EINVAL;
    }
    errno = 0;
    x = strtol(s, &end, 10);
    if (*end != '\0') {
        cfg_report(ld, v, "\"%s\": expected an integer, found %s", name, cfg_quote(&q, s));
        return -EINVAL;
    }
    if (errno == ERANGE || x < min || x > max) {
        cfg_report(ld, v, "\"%s\": %s out of range %lld..%lld", name, s, min, max);
        return -ERANGE;
    }
    *out = x;
    return 0;
}

bool cfg_id_valid(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > ID_MAX_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  (i > 0 && (c == '.' || c == '_' || c == '-'));

        if (!ok)
            return false;
    }
    return true;
}

static bool header_name_valid(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              (c && strchr("!#$%&'*+-.^_`|~", c))))
            return false;
    }
    return true;
}

static void set_headers(struct loader *ld, const struct ydoc_node *map, struct layer *l)
{
    size_t n = ydoc_count(map);
    struct qbuf q;

    if (ydoc_kind(map) != YDOC_MAPPING) {
        cfg_report(ld, map, "\"headers\": expected a mapping of header names to values, found %s",
                   ydoc_describe(map));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const struct ydoc_node *k = ydoc_key(map, i), *v = ydoc_value(map, i);
        const char *name, *value;
        size_t j, vlen;
        bool dup = false;

        name = cfg_scalar_of(ld, "headers", "a header name", k, false);
        if (!name)
            continue;
        if (!header_name_valid(name)) {
            cfg_report(ld, k,
                       "\"headers\": invalid header name %s (use letters, digits and "
                       "!#$%%&'*+-.^_`|~)",
                       cfg_quote(&q, name));
            continue;
        }
        for (j = 0; j < i && !dup; j++) {
            const char *other = ydoc_scalar(ydoc_key(map, j), NULL);

            if (other && strcasecmp(other, name) == 0) {
                cfg_report(ld, k, "\"headers\": duplicate header %s (first at line %u)",
                           cfg_quote(&q, name), ydoc_line(ydoc_key(map, j)));
                dup = true;
            }
        }
        if (dup)
            continue;
        if (ydoc_kind(v) != YDOC_SCALAR || ydoc_is_null(v)) {
            cfg_report(ld, v, "\"headers\": %s: expected a string, found %s", cfg_quote(&q, name),
                       ydoc_describe(v));
            continue;
        }
        value = ydoc_scalar(v, &vlen);
        if (strlen(value) != vlen || strchr(value, '\r') || strchr(value, '\n')) {
            cfg_report(ld, v, "\"headers\": value of %s contains CR, LF or NUL",
                       cfg_quote(&q, name));
            continue;
        }
        for (const char *p = value; *p; p++) {
            if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7F) {
                cfg_report(ld, v, "\"headers\": value of %s contains a control character",
                           cfg_quote(&q, name));
                value = NULL;
                break;
            }
        }
        if (!value)
            continue;
        /* A header inherited from a defaults block is replaced; a new one is appended. */
        for (j = 0; j < l->nheaders; j++) {
            if (strcasecmp(ydoc_scalar(l->headers[j].name, NULL), name) == 0)
                break;
        }
        if (j == l->nheaders) {
            struct hdr *h;

            if (l->nheaders == MAX_HEADERS) {
                cfg_report(ld, k, "\"headers\": too many headers (limit %d)", MAX_HEADERS);
                continue;
            }
            h = realloc(l->headers, (l->nheaders + 1) * sizeof(*h));
            if (!h) {
                cfg_report(ld, k, "out of memory");
                return;
            }
            l->headers = h;
            l->nheaders++;
        }
        l->headers[j].name = k;
        l->headers[j].value = v;
    }
}

/* A sequence of strings (tags) or of integers (jdma). Returns whether it is valid. */
static bool check_seq(struct loader *ld, const struct key *kd, const struct ydoc_node *v)
{
    size_t n = ydoc_count(v);
    bool ok = true;

    if (ydoc_kind(v) != YDOC_SEQUENCE) {
        cfg_report(ld, v, "\"%s\": expected %s, found %s", kd->name, type_name(kd),
                   ydoc_describe(v));
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const struct ydoc_node *it = ydoc_item(v, i);
        const char *s;
        long x;

        if (kd->type == K_TAGS || kd->type == K_STRS) {
            s = cfg_scalar_of(ld, kd->name, "a string", it, false);
            ok = ok && s;
            continue;
        }
        s = cfg_scalar_of(ld, kd->name, "a procedure id (a positive integer)", it, false);
        if (!s || parse_long(ld, kd->name, it, s, kd->min, kd->max, &x) < 0)
            ok = false;
    }
    return ok;
}

static void store_node(void *field, const struct ydoc_node *v)
{
    memcpy(field, &v, sizeof(v));
}

/* glibc's regcomp expands repetitions by copying their subtree: a{1000} holds 1,000 copies,
 * a quantified group inside a quantified group multiplies, and every stacked operator doubles
 * (a+++...: 2^n, out of memory at 75 of them, found by the fuzzer). An upper bound of that size:
 * each atom costs 1, a quantifier multiplies what it applies to (an atom, a group, or the
 * previous quantified piece) by its count + 1. Past REGEX_COST_MAX the pattern is refused before
 * regcomp sees it. */
#define REGEX_COST_MAX 100000.0

static bool regex_too_costly(const char *re)
{
    double level[64], last[64]; /* per open group: its cost so far, the cost of its last piece */
    int d = 0;

    level[0] = last[0] = 0;
    for (const char *p = re; *p; p++) {
        double f = 0;

        switch (*p) {
        case '(':
            if (++d >= 64)
                return true;
            level[d] = last[d] = 0;
            continue;
        case ')':
            if (d == 0) {
                last[d] = 1; /* a literal ')' */
                break;
            }
            last[d - 1] = level[d] > 1 ? level[d] : 1;
            d--;
            break;
        case '*':
        case '+':
        case '?':
            f = 2;
            break;
        case '{': {
            char *end;
            const char *q;
            unsigned long a = strtoul(p + 1, &end, 10), b = a;

            if (end == p + 1) {
                last[d] = 1; /* not a bound: a literal '{' */
                break;
            }
            if (*end == ',' && isdigit((unsigned char)end[1]))
                b = strtoul(end + 1, &end, 10);
            f = (double)(a > b ? a : b) + 1;
            if (!(q = strchr(p, '}')))
                return false; /* regcomp reports it */
            p = q;
            break;
        }
        case '[': /* a bracket expression is one atom */
            p++;
            if (*p == '^')
                p++;
            if (*p == ']')
                p++;
            while (*p && *p != ']')
                p++;
            if (!*p)
                return false; /* unterminated: regcomp reports it */
            last[d] = 1;
            break;
        case '\\':
            if (p[1])
                p++;
            last[d] = 1;
            break;
        default:
            last[d] = 1;
            break;
        }
        if (f > 0) { /* the piece was counted once already */
            level[d] += last[d] * (f - 1);
            last[d] *= f;
        } else {
            level[d] += last[d];
        }
        if (level[d] > REGEX_COST_MAX || last[d] > REGEX_COST_MAX)
            return true;
    }
    return false;
}

static void set_key(struct loader *ld, const struct key *kd, const struct ydoc_node *v,
                    struct scope *sc)
{
    void *field = (char *)sc + kd->off;
    const char *s, *why = "";
    char b1[48], b2[48];
    struct qbuf q;
    regex_t re;
    uint64_t u;
    long x;
    int err;

    switch (kd->type) {
    case K_SUB:
    case K_MAP:
    case K_SEQ:
        if (ydoc_kind(v) != (kd->type == K_SEQ ? YDOC_SEQUENCE : YDOC_MAPPING)) {
            cfg_report(ld, v, "\"%s\": expected %s, found %s", kd->name, type_name(kd),
                       ydoc_describe(v));
        } else if (kd->type == K_SUB) {
            cfg_apply_map(ld, v, kd->sub, sc);
        } else {
            store_node(field, v);
        }
        return;
    case K_HEADERS:
        set_headers(ld, v, &sc->l);
        return;
    case K_TAGS:
    case K_JDMA:
        if (check_seq(ld, kd, v))
            store_node(field, v);
        return;
    case K_STRS:
        if (ydoc_kind(v) == YDOC_SEQUENCE
                ? check_seq(ld, kd, v)
                : cfg_scalar_of(ld, kd->name, type_name(kd), v, false) != NULL)
            store_node(field, v);
        return;
    default:
        break;
    }

    s = cfg_scalar_of(ld, kd->name, type_name(kd), v, kd->type == K_TEXT || kd->type == K_REGEX);
    if (!s)
        return;
    switch (kd->type) {
    case K_ID:
        if (!cfg_id_valid(s)) {
            cfg_report(ld, v, "\"%s\": invalid id %s (use [a-z0-9][a-z0-9._-]{0,63})", kd->name,
                       cfg_quote(&q, s));
            return;
        }
        store_node(field, v);
        break;
    case K_URL:
        if (url_check(s, &why) < 0) {
            cfg_report(ld, v, "\"%s\": %s", kd->name, why);
            return;
        }
        store_node(field, v);
        break;
    case K_REGEX:
        if (regex_too_costly(s)) {
            cfg_report(ld, v,
                       "\"%s\": regular expression too costly to compile (its repetitions multiply "
                       "past %.0f copies: stacked or nested quantifiers, large {n,m} bounds)",
                       kd->name, REGEX_COST_MAX);
            return;
        }
        err = regcomp(&re, s, REG_EXTENDED | REG_NOSUB);
        if (err != 0) {
            char eb[256];

            regerror(err, &re, eb, sizeof(eb));
            cfg_report(ld, v, "\"%s\": invalid regular expression: %s", kd->name, eb);
            return;
        }
        regfree(&re);
        store_node(field, v);
        break;
    case K_DURATION:
        if (units_duration(s, &u, &why) < 0) {
            cfg_report(ld, v, "\"%s\": expected %s: %s", kd->name, type_name(kd), why);
            return;
        }
        if (u < (uint64_t)kd->min || u > (uint64_t)kd->max) {
            cfg_report(ld, v, "\"%s\": %s out of range %s..%s", kd->name, s,
                       cfg_fmt_ms(b1, sizeof(b1), (uint64_t)kd->min),
                       cfg_fmt_ms(b2, sizeof(b2), (uint64_t)kd->max));
            return;
        }
        memcpy(field, &u, sizeof(u));
        break;
    case K_SIZE:
        if (units_size(s, &u, &why) < 0) {
            cfg_report(ld, v, "\"%s\": expected %s: %s", kd->name, type_name(kd), why);
            return;
        }
        if (u < (uint64_t)kd->min || u > (uint64_t)kd->max) {
            cfg_report(ld, v, "\"%s\": %s out of range %s..%s", kd->name, s,
                       fmt_size(b1, sizeof(b1), (uint64_t)kd->min),
                       fmt_size(b2, sizeof(b2), (uint64_t)kd->max));
            return;
        }
        memcpy(field, &u, sizeof(u));
        break;
    case K_INT:
        if (parse_long(ld, kd->name, v, s, kd->min, kd->max, &x) < 0)
            return;
        memcpy(field, &x, sizeof(x));
        break;
    case K_BOOL: {
        bool b = strcmp(s, "true") == 0;

        if (!ydoc_is_plain(v) || (!b && strcmp(s, "false") != 0)) {
            cfg_report(ld, v, "\"%s\": expected true or false%s, found %s", kd->name,
                       ydoc_is_plain(v) ? "" : " (unquoted)", cfg_quote(&q, s));
            return;
        }
        memcpy(field, &b, sizeof(b));
        break;
    }
    case K_PERCENT: {
        double pct;

        if (units_percent(s, &pct, &why) < 0) {
            cfg_report(ld, v, "\"%s\": expected %s: %s", kd->name, type_name(kd), why);
            return;
        }
        if (pct < (double)kd->min || pct > (double)kd->max) {
            cfg_report(ld, v, "\"%s\": %s out of range %lld%%..%lld%%", kd->name, s, kd->min,
                       kd->max);
            return;
        }
        pct /= 100.0;
        memcpy(field, &pct, sizeof(pct));
        break;
    }
    case K_STATUS: {
        struct statusset set;

        if (units_statusset(s, &set, &why) < 0) {
            cfg_report(ld, v, "\"%s\": expected %s: %s", kd->name, type_name(kd), why);
            return;
        }
        memcpy(field, &set, sizeof(set));
        break;
    }
    case K_CHOICE: {
        int i;

        for (i = 0; kd->choices[i]; i++) {
            if (strcmp(kd->choices[i], s) == 0)
                break;
        }
        if (!kd->choices[i]) {
            cfg_report(ld, v, "\"%s\": expected %s, found %s", kd->name, type_name(kd),
                       cfg_quote(&q, s));
            return;
        }
        memcpy(field, &i, sizeof(i));
        break;
    }
    case K_STR:
    case K_TEXT:
    default:
        store_node(field, v);
        break;
    }
    if (kd->at) {
        sc->l.at[kd->at - 1] = v;
        sc->set |= 1u << (kd->at - 1);
    }
}

void cfg_apply_map(struct loader *ld, const struct ydoc_node *map, const struct keytab *tab,
                   struct scope *sc)
{
    const struct ydoc_node *seen[64] = {NULL}; /* by key index: more than any table has */
    size_t n = ydoc_count(map);
    struct qbuf q;

    if (ydoc_kind(map) != YDOC_MAPPING) {
        cfg_report(ld, map, "expected a mapping, found %s", ydoc_describe(map));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const struct ydoc_node *k = ydoc_key(map, i);
        const struct key *kd;
        const char *name;
        size_t idx = 0, len = 0;

        name = ydoc_scalar(k, &len);
        if (!name) {
            cfg_report(ld, k, "expected a key, found %s", ydoc_describe(k));
            continue;
        }
        kd = strlen(name) == len ? tab_find(tab, name, &idx) : NULL;
        if (!kd) {
            unknown_key(ld, k, tab, name);
            continue;
        }
        if (idx < ARRAY_SIZE(seen)) {
            if (seen[idx]) {
                cfg_report(ld, k, "duplicate key %s (first at line %u)", cfg_quote(&q, name),
                           ydoc_line(seen[idx]));
                continue;
            }
            seen[idx] = k;
        }
        set_key(ld, kd, ydoc_value(map, i), sc);
    }
}

char *cfg_dup_scalar(const struct ydoc_node *n)
{
    return strdup(ydoc_scalar(n, NULL));
}
