/* url — URLs as libcurl reads them. Every function here parses with libcurl's own URL API
 * (CURLU: curl_url, curl_url_set, curl_url_get), so that what the configuration accepts, what
 * the per-host bounds key on, what the logs show and what the simulator rewrites is what the
 * transfers will request. Pure: no loop, no global state (curl_global_init need not have run:
 * the URL API does not use it). */
#ifndef VIGIE_URL_H
#define VIGIE_URL_H

#include <stddef.h>

/* Checks that `url` is an absolute http:// or https:// URL with a host. Returns 0, -EINVAL with
 * *why set to a static string, or -ENOMEM (*why "out of memory"). A user name or password is
 * allowed (a probe may send basic authentication). */
int url_check(const char *url, const char **why);

/* Checks that `url` is absolute, with a host, and a scheme among `schemes` (a NULL-terminated
 * list, lower case; the URL's scheme is compared case-insensitively). Returns 0; -EPERM when it
 * carries a user name or password (secrets do not belong in a URL); -EINVAL with *why set to a
 * static string otherwise; -ENOMEM (*why "out of memory"). */
int url_check_schemes(const char *url, const char *const *schemes, const char **why);

/* "host:port" of a URL, lower-cased, the port explicit (the scheme's default when absent; an
 * IPv6 host keeps its brackets: "[::1]:8080"): the key of the per-host concurrency bound.
 * Returns a string the caller frees, or NULL when the URL does not parse or has no port. */
char *url_host(const char *url);

/* Copies `url` into buf (len bytes, truncated, always NUL-terminated when len > 0) without its
 * user, password and login options, for logs and results. A URL without them is copied as it
 * is; one with them as libcurl writes it back once they are removed (scheme in lower case, "/"
 * for an empty path). A URL libcurl does not parse still loses what lies between "://" and the
 * first "@" of its authority. */
void url_redact(const char *url, char *buf, size_t len);

/* The parts of an absolute URL. */
struct url_parts {
    char *scheme;  /* lower case */
    char *host;    /* as written; an IPv6 address keeps its brackets */
    unsigned port; /* explicit, else the scheme's default */
    char *path;    /* path ("/" at least), then "?query" and "#fragment" when present; as
                    * written: percent-encoding and dot segments untouched */
};

/* Parses `url` (any scheme) into *u, which the caller releases with url_parts_fini. Returns 0,
 * -EINVAL when the URL does not parse or has no host, or no port and a scheme without a
 * default one, or -ENOMEM; on error *u holds no allocation. */
int url_parts(const char *url, struct url_parts *u);

/* Frees what url_parts allocated (a zeroed struct is fine too) and zeroes *u. */
void url_parts_fini(struct url_parts *u);

#endif
