/* units — parsers for the scalar value types of the configuration.
 *
 * Each returns 0 on success or -EINVAL / -ERANGE, and on failure sets *why to a static string
 * that explains the problem (suitable after "file:line:col: "). They never read past the NUL. */
#ifndef VIGIE_UNITS_H
#define VIGIE_UNITS_H

#include <stdbool.h>
#include <stdint.h>

/* "250ms", "10s", "5m", "2h", "1d", "1m30s"; a bare "0" is 0. Result in milliseconds, at most
 * 7305 days (20 years). */
int units_duration(const char *s, uint64_t *ms, const char **why);

/* "99.9%" or "99.9" → 99.9, within [0, 100]. */
int units_percent(const char *s, double *pct, const char **why);

/* "1048576", "512KiB", "1MiB", "2GiB" (also kB/MB/GB as powers of 1000). Result in bytes. */
int units_size(const char *s, uint64_t *bytes, const char **why);

/* A set of HTTP status codes, 100..599. */
struct statusset {
    uint64_t bits[10]; /* bit n set ⇔ code n is in the set, n < 640 */
};

/* "200-399", "200,204,301-308", "2xx", "2xx,3xx". Replaces *set. */
int units_statusset(const char *s, struct statusset *set, const char **why);

bool statusset_has(const struct statusset *set, long code);

/* Writes a canonical form ("200-399,404") into buf; returns buf. */
char *statusset_format(const struct statusset *set, char *buf, unsigned len);

#endif
