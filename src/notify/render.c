/* render — the text of a notification, in each receiver's format.
 *
 * A mail (headers, RFC 2047 subject, CRLF text), the JSON bodies of webhooks (vigie's own
 * format, or Slack's and Mattermost's {"text": ...} with their markup) and of Alertmanager's v2
 * API. Pure functions of the notification: no I/O, no state. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/sbuf.h"
#include "base/timex.h"
#include "notify/notify_int.h"

void render_line(struct sbuf *b, const char *s)
{
    for (const char *p = s; *p; p++) {
        char c = *p == '\r' || *p == '\n' ? ' ' : *p;

        sbuf_put(b, &c, 1);
    }
}

enum style { STYLE_TEXT, STYLE_SLACK, STYLE_MATTERMOST };

/* Slack's mrkdwn needs &, < and > escaped; elsewhere text goes as it is. */
static void sb_esc(struct sbuf *b, enum style st, const char *s)
{
    if (st != STYLE_SLACK) {
        render_line(b, s);
        return;
    }
    for (const char *p = s; *p; p++) {
        if (*p == '&')
            sbuf_puts(b, "&amp;");
        else if (*p == '<')
            sbuf_puts(b, "&lt;");
        else if (*p == '>')
            sbuf_puts(b, "&gt;");
        else if (*p == '\r' || *p == '\n')
            sbuf_puts(b, " ");
        else
            sbuf_put(b, p, 1);
    }
}

static void upper(char *dst, size_t len, const char *s)
{
    size_t i;

    for (i = 0; i + 1 < len && s[i]; i++)
        dst[i] = (char)toupper((unsigned char)s[i]);
    dst[i] = '\0';
}

/* The human text of a notification: a headline and one entry per alert. */
static void render_text(struct sbuf *b, const json_t *j, enum style st)
{
    const char *bold = st == STYLE_SLACK ? "*" : st == STYLE_MATTERMOST ? "**" : "";
    const json_t *alerts = json_object_get(j, "alerts");
    char status[16], kind[32];
    size_t i;
    json_t *a;

    upper(status, sizeof(status), jstr(j, "status"));
    sbuf_printf(b, "%s[%s]%s ", bold, status, bold);
    sb_esc(b, st, jstr(j, "title"));
    sbuf_puts(b, "\n");
    if (st == STYLE_TEXT) {
        sbuf_puts(b, "\n");
        if (*jstr(j, "group")) {
            sbuf_puts(b, "Group: ");
            render_line(b, jstr(j, "group"));
            sbuf_puts(b, "\n");
        }
        if (*jstr(j, "route")) {
            sbuf_puts(b, "Route: ");
            render_line(b, jstr(j, "route"));
            sbuf_puts(b, "\n");
        }
        sbuf_printf(b, "Alerts: %zu\n\n", json_array_size(alerts));
    }
    json_array_foreach(alerts, i, a)
    {
        const char *url = jstr(a, "url"), *name = jstr(a, "name");
        const char *ends = jstr(a, "ends");
        json_t *v = json_object_get(a, "value");

        if (!*name)
            name = jstr(a, "probe");
        upper(kind, sizeof(kind), jstr(a, "kind"));
        if (st == STYLE_TEXT) {
            sbuf_printf(b, "- %s %s (%s", kind, jstr(a, "status"), jstr(a, "severity"));
            sbuf_puts(b, "): ");
            render_line(b, name);
            sbuf_puts(b, " [");
            render_line(b, jstr(a, "probe"));
            sbuf_puts(b, "]\n");
            if (*jstr(a, "summary")) {
                sbuf_puts(b, "  ");
                render_line(b, jstr(a, "summary"));
                sbuf_puts(b, "\n");
            }
            if (json_is_number(v))
                sbuf_printf(b, "  value: %g\n", json_number_value(v));
            sbuf_puts(b, "  since: ");
            render_line(b, jstr(a, "since"));
            if (*ends) {
                sbuf_puts(b, ", ended: ");
                render_line(b, ends);
            }
            sbuf_puts(b, "\n");
            if (*url) {
                sbuf_puts(b, "  ");
                render_line(b, url);
                sbuf_puts(b, "\n");
            }
            continue;
        }
        sbuf_printf(b, "• %s%s%s ", bold, kind, bold);
        if (strcmp(jstr(a, "status"), "resolved") == 0)
            sbuf_puts(b, "(resolved) ");
        if (*url && st == STYLE_SLACK) {
            sbuf_puts(b, "<");
            sb_esc(b, st, url);
            sbuf_puts(b, "|");
            sb_esc(b, st, name);
            sbuf_puts(b, ">");
        } else if (*url) {
            sbuf_puts(b, "[");
            sb_esc(b, st, name);
            sbuf_puts(b, "](");
            sb_esc(b, st, url);
            sbuf_puts(b, ")");
        } else {
            sb_esc(b, st, name);
        }
        if (*jstr(a, "summary")) {
            sbuf_puts(b, " — ");
            sb_esc(b, st, jstr(a, "summary"));
        }
        sbuf_puts(b, "\n");
    }
}

/* RFC 2047 encoded words for a header value that is not plain ASCII. */
static void sb_header_value(struct sbuf *b, const char *s)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    bool ascii = true;
    size_t len = strlen(s), i = 0;

    for (const char *p = s; *p; p++)
        if ((unsigned char)*p >= 0x80)
            ascii = false;
    if (ascii && len < 900) {
        render_line(b, s);
        return;
    }
    while (i < len) {
        /* at most 45 bytes per word (60 base64 characters), cut between characters */
        size_t k = len - i > 45 ? 45 : len - i;

        while (k > 0 && i + k < len && ((unsigned char)s[i + k] & 0xC0) == 0x80)
            k--;
        if (k == 0)
            k = len - i > 45 ? 45 : len - i;
        if (i > 0)
            sbuf_puts(b, "\r\n ");
        sbuf_puts(b, "=?UTF-8?B?");
        for (size_t o = 0; o < k; o += 3) {
            unsigned char c0 = (unsigned char)s[i + o];
            unsigned char c1 = o + 1 < k ? (unsigned char)s[i + o + 1] : 0;
            unsigned char c2 = o + 2 < k ? (unsigned char)s[i + o + 2] : 0;
            char q[4];

            /* CR and LF never reach a header, even encoded */
            c0 = c0 == '\r' || c0 == '\n' ? ' ' : c0;
            c1 = c1 == '\r' || c1 == '\n' ? ' ' : c1;
            c2 = c2 == '\r' || c2 == '\n' ? ' ' : c2;
            q[0] = b64[c0 >> 2];
            q[1] = b64[((c0 & 3) << 4) | (c1 >> 4)];
            q[2] = o + 1 < k ? b64[((c1 & 15) << 2) | (c2 >> 6)] : '=';
            q[3] = o + 2 < k ? b64[c2 & 63] : '=';
            sbuf_put(b, q, 4);
        }
        sbuf_puts(b, "?=");
        i += k;
    }
}

void render_mail(struct sbuf *b, const json_t *j, const struct receiver *rc)
{
    char status[16], subject[1024], date[64];
    struct sbuf text = {0};

    upper(status, sizeof(status), jstr(j, "status"));
    snprintf(subject, sizeof(subject), "[vigie] %s: %s", status, jstr(j, "title"));
    sbuf_printf(b, "From: <%s>\r\nTo: ", rc->from);
    for (size_t i = 0; i < rc->nto; i++)
        sbuf_printf(b, "%s<%s>", i ? ",\r\n " : "", rc->to[i]);
    sbuf_puts(b, "\r\nSubject: ");
    sb_header_value(b, subject);
    sbuf_printf(b, "\r\nDate: %s\r\n", timex_rfc5322(date, sizeof(date), time(NULL)));
    sbuf_printf(b, "Message-ID: <%s.%s@vigie>\r\n", jstr(j, "id"), rc->name);
    sbuf_puts(b, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                 "Content-Transfer-Encoding: 8bit\r\nAuto-Submitted: auto-generated\r\n");
    sbuf_printf(b, "X-Vigie-Status: %s\r\n\r\n", jstr(j, "status"));
    render_text(&text, j, STYLE_TEXT);
    if (text.oom)
        b->oom = true;
    /* LF to CRLF, lines cut at 990 bytes (SMTP's limit is 998) */
    for (size_t i = 0, col = 0; text.p && i < text.len; i++) {
        if (text.p[i] == '\n') {
            sbuf_puts(b, "\r\n");
            col = 0;
            continue;
        }
        if (col >= 990 && ((unsigned char)text.p[i] & 0xC0) != 0x80) {
            sbuf_puts(b, "\r\n");
            col = 0;
        }
        sbuf_put(b, &text.p[i], 1);
        col++;
    }
    free(text.p);
}

/* Alertmanager's v2 POST /api/v2/alerts body: one alert per vigie alert. */
static char *render_alertmanager(const json_t *j)
{
    const json_t *alerts = json_object_get(j, "alerts");
    json_t *arr = json_array();
    char *out = NULL;
    size_t i;
    json_t *a;

    if (!arr)
        return NULL;
    json_array_foreach(alerts, i, a)
    {
        json_t *labels = json_object(), *ann = json_object(), *al = json_object();
        const char *url = jstr(a, "url");
        const char *group = *jstr(a, "group") ? jstr(a, "group") : jstr(j, "group");

        if (!labels || !ann || !al) {
            json_decref(labels);
            json_decref(ann);
            json_decref(al);
            goto out;
        }
        json_object_set_new(labels, "alertname",
                            json_string(*jstr(a, "kind") ? jstr(a, "kind") : "vigie"));
        json_object_set_new(labels, "probe", json_string(jstr(a, "probe")));
        if (*group)
            json_object_set_new(labels, "group", json_string(group));
        if (*jstr(a, "severity"))
            json_object_set_new(labels, "severity", json_string(jstr(a, "severity")));
        if (*jstr(j, "route"))
            json_object_set_new(labels, "route", json_string(jstr(j, "route")));
        json_object_set_new(
            ann, "summary",
            json_string(*jstr(a, "summary") ? jstr(a, "summary") : jstr(j, "title")));
        if (*jstr(a, "name"))
            json_object_set_new(ann, "name", json_string(jstr(a, "name")));
        if (*url)
            json_object_set_new(ann, "url", json_string(url));
        json_object_set_new(al, "labels", labels);
        json_object_set_new(al, "annotations", ann);
        if (*jstr(a, "since"))
            json_object_set_new(al, "startsAt", json_string(jstr(a, "since")));
        if (strcmp(jstr(a, "status"), "resolved") == 0 ||
            strcmp(jstr(j, "status"), "resolved") == 0)
            json_object_set_new(
                al, "endsAt", json_string(*jstr(a, "ends") ? jstr(a, "ends") : jstr(j, "created")));
        if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0)
            json_object_set_new(al, "generatorURL", json_string(url));
        json_array_append_new(arr, al);
    }
    out = json_dumps(arr, JSON_COMPACT);
out:
    json_decref(arr);
    return out;
}

char *render_body(const json_t *j, const struct receiver *rc)
{
    struct sbuf b = {0};
    char *out;
    json_t *o;

    if (rc->type == RECEIVER_ALERTMANAGER)
        return render_alertmanager(j);
    if (rc->template == TEMPLATE_VIGIE)
        return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    render_text(&b, j, rc->template == TEMPLATE_SLACK ? STYLE_SLACK : STYLE_MATTERMOST);
    o = b.oom ? NULL : json_pack("{s:s}", "text", b.p ? b.p : "");
    out = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    free(b.p);
    return out;
}
