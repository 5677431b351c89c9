/* url — URLs through libcurl's URL API (see url.h).
 *
 * Every URL is read with CURLU_NON_SUPPORT_SCHEME (the checks name the schemes they accept, so
 * an unknown scheme is theirs to refuse, with their message) and CURLU_PATH_AS_IS (what is
 * written back keeps its dot segments, as the user wrote it). */
#include "net/url.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#define URL_FLAGS (CURLU_NON_SUPPORT_SCHEME | CURLU_PATH_AS_IS)

/* A new handle holding url. Returns 0, -ENOMEM, or -EINVAL with *why libcurl's reason. */
static int url_open(const char *url, CURLU **out, const char **why)
{
    CURLU *u = curl_url();
    CURLUcode rc;

    *out = NULL;
    if (!u) {
        *why = "out of memory";
        return -ENOMEM;
    }
    rc = curl_url_set(u, CURLUPART_URL, url, URL_FLAGS);
    if (rc != CURLUE_OK) {
        *why = curl_url_strerror(rc);
        curl_url_cleanup(u);
        return rc == CURLUE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
    }
    *out = u;
    return 0;
}

/* One part of u (curl_free it), or NULL when absent. */
static char *url_get(CURLU *u, CURLUPart what, unsigned flags)
{
    char *v = NULL;

    if (curl_url_get(u, what, &v, flags) != CURLUE_OK)
        return NULL;
    return v;
}

static bool has_part(CURLU *u, CURLUPart what)
{
    char *v = url_get(u, what, 0);

    curl_free(v);
    return v != NULL;
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* The checks of url_check and url_check_schemes: absolute, a scheme of `schemes` (else *why is
 * bad_scheme), a host, and when no_credentials, no user name nor password (-EPERM). */
static int check(const char *url, const char *const *schemes, const char *bad_scheme,
                 bool no_credentials, const char **why)
{
    CURLU *u;
    char *scheme = NULL, *host = NULL;
    size_t i;
    int err = url_open(url, &u, why);

    if (err != 0)
        return err;
    err = -EINVAL;
    scheme = url_get(u, CURLUPART_SCHEME, 0);
    if (!scheme) {
        *why = "no scheme";
        goto out;
    }
    lower(scheme);
    for (i = 0; schemes[i]; i++)
        if (strcmp(scheme, schemes[i]) == 0)
            break;
    if (!schemes[i]) {
        *why = bad_scheme;
        goto out;
    }
    host = url_get(u, CURLUPART_HOST, 0);
    if (!host || !*host) {
        *why = "no host";
        goto out;
    }
    if (no_credentials && (has_part(u, CURLUPART_USER) || has_part(u, CURLUPART_PASSWORD))) {
        *why = "credentials in the URL";
        err = -EPERM;
        goto out;
    }
    err = 0;
out:
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return err;
}

int url_check(const char *url, const char **why)
{
    static const char *const http[] = {"http", "https", NULL};

    return check(url, http, "unsupported scheme, only http and https", false, why);
}

int url_check_schemes(const char *url, const char *const *schemes, const char **why)
{
    return check(url, schemes, "unsupported scheme", true, why);
}

char *url_host(const char *url)
{
    struct url_parts p;
    char *out;
    size_t len;

    if (url_parts(url, &p) != 0)
        return NULL;
    len = strlen(p.host) + 12;
    out = malloc(len);
    if (out) {
        snprintf(out, len, "%s:%u", p.host, p.port);
        lower(out);
    }
    url_parts_fini(&p);
    return out;
}

/* url_redact for what libcurl does not parse: "scheme://" then what follows the last "@" of the
 * authority (a password may hold an "@": none of it is shown). */
static void redact_text(const char *url, char *buf, size_t len)
{
    const char *auth = strstr(url, "://");
    const char *at, *end;

    if (!auth) {
        snprintf(buf, len, "%s", url);
        return;
    }
    auth += 3;
    end = auth + strcspn(auth, "/?#");
    at = NULL;
    for (const char *p = auth; p < end; p++)
        if (*p == '@')
            at = p;
    if (!at) {
        snprintf(buf, len, "%s", url);
        return;
    }
    snprintf(buf, len, "%.*s%s", (int)(auth - url), url, at + 1);
}

void url_redact(const char *url, char *buf, size_t len)
{
    CURLU *u;
    const char *why;
    char *clean = NULL;

    if (len == 0)
        return;
    if (url_open(url, &u, &why) != 0) {
        redact_text(url, buf, len);
        return;
    }
    if (!has_part(u, CURLUPART_USER) && !has_part(u, CURLUPART_PASSWORD) &&
        !has_part(u, CURLUPART_OPTIONS)) {
        snprintf(buf, len, "%s", url);
    } else if (curl_url_set(u, CURLUPART_USER, NULL, 0) == CURLUE_OK &&
               curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) == CURLUE_OK &&
               curl_url_set(u, CURLUPART_OPTIONS, NULL, 0) == CURLUE_OK &&
               (clean = url_get(u, CURLUPART_URL, 0))) {
        snprintf(buf, len, "%s", clean);
    } else {
        redact_text(url, buf, len);
    }
    curl_free(clean);
    curl_url_cleanup(u);
}

/* prefix ("?" or "#") and s onto the end of out, when s is not NULL. */
static void append(char *out, size_t cap, const char *prefix, const char *s)
{
    size_t n = strlen(out);

    if (s)
        snprintf(out + n, cap - n, "%s%s", prefix, s);
}

int url_parts(const char *url, struct url_parts *u)
{
    CURLU *h;
    const char *why;
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL, *frag = NULL;
    char *end;
    size_t cap;
    unsigned long pn;
    int err = url_open(url, &h, &why);

    *u = (struct url_parts){0};
    if (err != 0)
        return err;
    err = -EINVAL;
    scheme = url_get(h, CURLUPART_SCHEME, 0);
    host = url_get(h, CURLUPART_HOST, 0);
    port = url_get(h, CURLUPART_PORT, CURLU_DEFAULT_PORT);
    path = url_get(h, CURLUPART_PATH, 0);
    query = url_get(h, CURLUPART_QUERY, 0);
    frag = url_get(h, CURLUPART_FRAGMENT, 0);
    if (!scheme || !host || !*host || !port || !path)
        goto out;
    pn = strtoul(port, &end, 10);
    if (*end || pn > 65535)
        goto out;
    cap = strlen(path) + (query ? strlen(query) + 1 : 0) + (frag ? strlen(frag) + 1 : 0) + 2;
    err = -ENOMEM;
    u->scheme = strdup(scheme);
    u->host = strdup(host);
    u->path = malloc(cap);
    if (!u->scheme || !u->host || !u->path) {
        url_parts_fini(u);
        goto out;
    }
    lower(u->scheme);
    u->port = (unsigned)pn;
    snprintf(u->path, cap, "%s", *path ? path : "/");
    append(u->path, cap, "?", query);
    append(u->path, cap, "#", frag);
    err = 0;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_free(frag);
    curl_url_cleanup(h);
    return err;
}

void url_parts_fini(struct url_parts *u)
{
    free(u->scheme);
    free(u->host);
    free(u->path);
    *u = (struct url_parts){0};
}
