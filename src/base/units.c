/* units — strict parsers for durations, percentages, sizes and HTTP status sets.
 *
 * The grammars are deliberately narrow (no spaces, no signs, no fractions where they would be
 * ambiguous): a typo in a configuration must be an error, not a silently different value. Numbers
 * are checked to start with a digit before strtoull/strtod see them, since both accept leading
 * spaces, signs, hexadecimal and "inf"/"nan". */
#include "base/units.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/container.h"

#define DAY_MS (24ULL * 3600 * 1000)
#define DURATION_MAX (7305 * DAY_MS) /* 20 years: RRD retention reaches years */

static int fail(const char **why, int err, const char *msg)
{
    if (why)
        *why = msg;
    return err;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Diagnoses the character at p where a number was expected. */
static int bad_number_start(const char *p, const char **why)
{
    if (*p == '\0')
        return fail(why, -EINVAL, "empty");
    if (*p == '-')
        return fail(why, -EINVAL, "negative values are not allowed");
    if (is_space(*p))
        return fail(why, -EINVAL, "spaces are not allowed");
    return fail(why, -EINVAL, "expected a number");
}

/* Parses the decimal digits at *p (at least one, checked by the caller) into *v. */
static int parse_u64(const char **p, uint64_t *v, const char **why)
{
    unsigned long long x;
    char *end;

    errno = 0;
    x = strtoull(*p, &end, 10);
    if (errno == ERANGE || x > UINT64_MAX)
        return fail(why, -ERANGE, "number too large");
    *p = end;
    *v = (uint64_t)x;
    return 0;
}

static const struct {
    const char *name;
    uint64_t ms;
} duration_units[] = {
    {"d", DAY_MS}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1},
};

int units_duration(const char *s, uint64_t *ms, const char **why)
{
    uint64_t total = 0;
    uint64_t prev = UINT64_MAX;
    const char *p = s;

    if (!s || !*s)
        return fail(why, -EINVAL, "empty");
    if (strcmp(s, "0") == 0) {
        *ms = 0;
        return 0;
    }
    while (*p) {
        uint64_t v, unit = 0;
        size_t ulen = 0;
        int err;

        if (!is_digit(*p))
            return bad_number_start(p, why);
        err = parse_u64(&p, &v, why);
        if (err == -ERANGE)
            return fail(why, -ERANGE, "too large (at most 7305d, 20 years)");
        while (is_alpha(p[ulen]))
            ulen++;
        if (ulen == 0) {
            if (*p == '\0')
                return fail(why, -EINVAL, "missing unit (ms, s, m, h or d)");
            if (*p == '.' || *p == ',')
                return fail(why, -EINVAL, "fractions are not allowed (write 1500ms, not 1.5s)");
            if (is_space(*p))
                return fail(why, -EINVAL, "spaces are not allowed");
            return fail(why, -EINVAL, "unexpected character after the number");
        }
        for (size_t i = 0; i < ARRAY_SIZE(duration_units); i++) {
            if (strlen(duration_units[i].name) == ulen &&
                memcmp(duration_units[i].name, p, ulen) == 0)
                unit = duration_units[i].ms;
        }
        if (unit == 0)
            return fail(why, -EINVAL, "unknown unit (use ms, s, m, h or d)");
        if (unit >= prev)
            return fail(why, -EINVAL, "units must go from largest to smallest, each at most once");
        prev = unit;
        p += ulen;
        if (v > DURATION_MAX / unit || total + v * unit > DURATION_MAX)
            return fail(why, -ERANGE, "too large (at most 7305d, 20 years)");
        total += v * unit;
    }
    *ms = total;
    return 0;
}

int units_percent(const char *s, double *pct, const char **why)
{
    const char *p = s;
    const char *num_end;
    char *end;
    double v;

    if (!s || !*s)
        return fail(why, -EINVAL, "empty");
    if (!is_digit(*p))
        return bad_number_start(p, why);
    while (is_digit(*p))
        p++;
    if (*p == '.') {
        p++;
        if (!is_digit(*p))
            return fail(why, -EINVAL, "expected digits after the decimal point");
        while (is_digit(*p))
            p++;
    }
    num_end = p;
    if (*p == '%')
        p++;
    if (*p != '\0') {
        if (is_space(*p))
            return fail(why, -EINVAL, "spaces are not allowed");
        return fail(why, -EINVAL, "expected a number like 99.9 or 99.9%");
    }
    /* The digits were checked above, so only overflow (HUGE_VAL, caught by the range check) or
     * underflow (a tiny value, fine) can set errno. */
    v = strtod(s, &end);
    if (end != num_end)
        return fail(why, -EINVAL, "expected a number like 99.9 or 99.9%");
    if (v > 100.0)
        return fail(why, -ERANGE, "above 100%");
    *pct = v;
    return 0;
}

static const struct {
    const char *name;
    uint64_t mult;
} size_units[] = {
    {"B", 1},
    {"kB", 1000},
    {"MB", 1000ULL * 1000},
    {"GB", 1000ULL * 1000 * 1000},
    {"KiB", 1024},
    {"MiB", 1024ULL * 1024},
    {"GiB", 1024ULL * 1024 * 1024},
};

int units_size(const char *s, uint64_t *bytes, const char **why)
{
    const char *p = s;
    uint64_t v, mult = 0;

    if (!s || !*s)
        return fail(why, -EINVAL, "empty");
    if (!is_digit(*p))
        return bad_number_start(p, why);
    if (parse_u64(&p, &v, why) < 0)
        return -ERANGE;
    if (*p == '\0') {
        *bytes = v;
        return 0;
    }
    for (size_t i = 0; i < ARRAY_SIZE(size_units); i++) {
        if (strcmp(p, size_units[i].name) == 0)
            mult = size_units[i].mult;
    }
    if (mult == 0) {
        if (is_space(*p))
            return fail(why, -EINVAL, "spaces are not allowed");
        return fail(why, -EINVAL, "unknown unit (use B, KiB, MiB, GiB, kB, MB or GB)");
    }
    if (v > UINT64_MAX / mult)
        return fail(why, -ERANGE, "too large");
    *bytes = v * mult;
    return 0;
}

static void set_range(struct statusset *set, unsigned lo, unsigned hi)
{
    for (unsigned c = lo; c <= hi; c++)
        set->bits[c / 64] |= 1ULL << (c % 64);
}

/* One status code at *p: digits, within 100..599. */
static int parse_code(const char **p, unsigned *code, const char **why)
{
    uint64_t v;

    if (!is_digit(**p)) {
        if (**p == '\0' || **p == ',')
            return fail(why, -EINVAL, "empty element");
        return bad_number_start(*p, why);
    }
    if (parse_u64(p, &v, why) < 0 || v < 100 || v > 599)
        return fail(why, -ERANGE, "status codes are 100..599");
    *code = (unsigned)v;
    return 0;
}

int units_statusset(const char *s, struct statusset *set, const char **why)
{
    struct statusset out;
    const char *p = s;

    if (!s || !*s)
        return fail(why, -EINVAL, "empty");
    memset(&out, 0, sizeof(out));
    for (;;) {
        unsigned lo, hi;
        int err;

        if (is_digit(p[0]) && (p[1] == 'x' || p[1] == 'X')) {
            if (p[2] != 'x' && p[2] != 'X')
                return fail(why, -EINVAL, "a status class is written like 2xx");
            if (p[0] < '1' || p[0] > '5')
                return fail(why, -ERANGE, "status classes are 1xx..5xx");
            lo = (unsigned)(p[0] - '0') * 100;
            hi = lo + 99;
            p += 3;
        } else {
            err = parse_code(&p, &lo, why);
            if (err < 0)
                return err;
            hi = lo;
            if (*p == '-') {
                p++;
                if (*p == '\0' || *p == ',')
                    return fail(why, -EINVAL, "range without an end");
                err = parse_code(&p, &hi, why);
                if (err < 0)
                    return err;
                if (hi < lo)
                    return fail(why, -EINVAL, "range must be ascending, like 200-399");
            }
        }
        set_range(&out, lo, hi);
        if (*p == '\0')
            break;
        if (*p != ',') {
            if (is_space(*p))
                return fail(why, -EINVAL, "spaces are not allowed");
            return fail(why, -EINVAL, "expected a code, a range like 200-399 or a class like 2xx");
        }
        p++;
        if (*p == '\0' || *p == ',')
            return fail(why, -EINVAL, "empty element");
    }
    *set = out;
    return 0;
}

bool statusset_has(const struct statusset *set, long code)
{
    if (code < 100 || code > 599)
        return false;
    return (set->bits[code / 64] >> (code % 64)) & 1;
}

char *statusset_format(const struct statusset *set, char *buf, unsigned len)
{
    size_t off = 0;

    if (len == 0)
        return buf;
    buf[0] = '\0';
    for (long c = 100; c <= 599; c++) {
        long end = c;
        int n;

        if (!statusset_has(set, c))
            continue;
        while (end < 599 && statusset_has(set, end + 1))
            end++;
        if (end == c)
            n = snprintf(buf + off, len - off, "%s%ld", off ? "," : "", c);
        else
            n = snprintf(buf + off, len - off, "%s%ld-%ld", off ? "," : "", c, end);
        if (n < 0 || (size_t)n >= len - off) {
            buf[off] = '\0'; /* no half-written element */
            break;
        }
        off += (size_t)n;
        c = end;
    }
    return buf;
}
