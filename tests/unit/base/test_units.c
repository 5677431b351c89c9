/* Tests for units: one table per parser, each row a loop test (its own process). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fsx.h"
#include "base/heap.h"
#include "base/html.h"
#include "base/timex.h"
#include "base/units.h"
#include "testutil.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

struct ucase {
    const char *in;
    int rc;          /* 0, -EINVAL or -ERANGE */
    uint64_t u;      /* durations and sizes */
    double pct;      /* percentages */
    const char *fmt; /* status sets: canonical form */
};

static const struct ucase durations[] = {
    {"0", 0, 0, 0, NULL},
    {"0s", 0, 0, 0, NULL},
    {"0ms", 0, 0, 0, NULL},
    {"250ms", 0, 250, 0, NULL},
    {"10s", 0, 10000, 0, NULL},
    {"5m", 0, 300000, 0, NULL},
    {"2h", 0, 7200000, 0, NULL},
    {"1d", 0, 86400000, 0, NULL},
    {"1m30s", 0, 90000, 0, NULL},
    {"1h2m3s4ms", 0, 3723004, 0, NULL},
    {"1d12h", 0, 129600000, 0, NULL},
    {"90s", 0, 90000, 0, NULL},
    {"365d", 0, 31536000000ULL, 0, NULL},
    {"7305d", 0, 631152000000ULL, 0, NULL},
    {"364d23h59m59s999ms", 0, 31535999999ULL, 0, NULL},
    {"", -EINVAL, 0, 0, NULL},
    {"10", -EINVAL, 0, 0, NULL},
    {"00", -EINVAL, 0, 0, NULL},
    {"-1s", -EINVAL, 0, 0, NULL},
    {"+1s", -EINVAL, 0, 0, NULL},
    {"1x", -EINVAL, 0, 0, NULL},
    {"1s ", -EINVAL, 0, 0, NULL},
    {" 1s", -EINVAL, 0, 0, NULL},
    {"1 s", -EINVAL, 0, 0, NULL},
    {"1.5s", -EINVAL, 0, 0, NULL},
    {"s", -EINVAL, 0, 0, NULL},
    {"10S", -EINVAL, 0, 0, NULL},
    {"10sec", -EINVAL, 0, 0, NULL},
    {"1s1m", -EINVAL, 0, 0, NULL},
    {"1s1s", -EINVAL, 0, 0, NULL},
    {"1m30", -EINVAL, 0, 0, NULL},
    {"0x10s", -EINVAL, 0, 0, NULL},
    {"1e3ms", -EINVAL, 0, 0, NULL},
    {"abc", -EINVAL, 0, 0, NULL},
    {"1s\n", -EINVAL, 0, 0, NULL},
    {"7306d", -ERANGE, 0, 0, NULL},
    {"7305d1ms", -ERANGE, 0, 0, NULL},
    {"175321h", -ERANGE, 0, 0, NULL},
    {"99999999999999999999d", -ERANGE, 0, 0, NULL},
    {"18446744073709551615ms", -ERANGE, 0, 0, NULL},
    {"18446744073709551616ms", -ERANGE, 0, 0, NULL},
    {"213503982334601d", -ERANGE, 0, 0, NULL},
};

START_TEST(test_duration)
{
    const struct ucase *c = &durations[_i];
    const char *why = NULL;
    uint64_t ms = 12345;
    int rc = units_duration(c->in, &ms, &why);

    ck_assert_msg(rc == c->rc, "units_duration(\"%s\") = %d, expected %d (why: %s)", c->in, rc,
                  c->rc, why ? why : "-");
    if (rc == 0)
        ck_assert_msg(ms == c->u, "units_duration(\"%s\") = %llu ms, expected %llu", c->in,
                      (unsigned long long)ms, (unsigned long long)c->u);
    else
        ck_assert_msg(why != NULL && *why, "no explanation for \"%s\"", c->in);
}
END_TEST

static const struct ucase percents[] = {
    {"99.9%", 0, 0, 99.9, NULL},
    {"99.9", 0, 0, 99.9, NULL},
    {"100", 0, 0, 100, NULL},
    {"100%", 0, 0, 100, NULL},
    {"100.000", 0, 0, 100, NULL},
    {"0", 0, 0, 0, NULL},
    {"0%", 0, 0, 0, NULL},
    {"98.5%", 0, 0, 98.5, NULL},
    {"0.001", 0, 0, 0.001, NULL},
    {"", -EINVAL, 0, 0, NULL},
    {"%", -EINVAL, 0, 0, NULL},
    {"-1", -EINVAL, 0, 0, NULL},
    {"+1", -EINVAL, 0, 0, NULL},
    {"abc", -EINVAL, 0, 0, NULL},
    {"99.9%%", -EINVAL, 0, 0, NULL},
    {"99.%", -EINVAL, 0, 0, NULL},
    {".5", -EINVAL, 0, 0, NULL},
    {"1e2", -EINVAL, 0, 0, NULL},
    {"nan", -EINVAL, 0, 0, NULL},
    {"inf", -EINVAL, 0, 0, NULL},
    {"0x10", -EINVAL, 0, 0, NULL},
    {" 5", -EINVAL, 0, 0, NULL},
    {"5 %", -EINVAL, 0, 0, NULL},
    {"99,9", -EINVAL, 0, 0, NULL},
    {"100.1%", -ERANGE, 0, 0, NULL},
    {"101", -ERANGE, 0, 0, NULL},
    {"100.0000001", -ERANGE, 0, 0, NULL},
    {"99999999999999999999999999999999999999999", -ERANGE, 0, 0, NULL},
};

START_TEST(test_percent)
{
    const struct ucase *c = &percents[_i];
    const char *why = NULL;
    double v = -1;
    int rc = units_percent(c->in, &v, &why);

    ck_assert_msg(rc == c->rc, "units_percent(\"%s\") = %d, expected %d (why: %s)", c->in, rc,
                  c->rc, why ? why : "-");
    if (rc == 0)
        ck_assert_msg(v > c->pct - 1e-9 && v < c->pct + 1e-9,
                      "units_percent(\"%s\") = %g, expected %g", c->in, v, c->pct);
    else
        ck_assert_msg(why != NULL && *why, "no explanation for \"%s\"", c->in);
}
END_TEST

static const struct ucase sizes[] = {
    {"0", 0, 0, 0, NULL},
    {"1048576", 0, 1048576, 0, NULL},
    {"10B", 0, 10, 0, NULL},
    {"512KiB", 0, 524288, 0, NULL},
    {"1MiB", 0, 1048576, 0, NULL},
    {"2GiB", 0, 2147483648ULL, 0, NULL},
    {"1kB", 0, 1000, 0, NULL},
    {"1MB", 0, 1000000, 0, NULL},
    {"3GB", 0, 3000000000ULL, 0, NULL},
    {"18446744073709551615", 0, UINT64_MAX, 0, NULL},
    {"", -EINVAL, 0, 0, NULL},
    {"KiB", -EINVAL, 0, 0, NULL},
    {"1KB", -EINVAL, 0, 0, NULL},
    {"1kib", -EINVAL, 0, 0, NULL},
    {"1 MiB", -EINVAL, 0, 0, NULL},
    {"1MiB ", -EINVAL, 0, 0, NULL},
    {"1MiBx", -EINVAL, 0, 0, NULL},
    {"1.5MiB", -EINVAL, 0, 0, NULL},
    {"-1", -EINVAL, 0, 0, NULL},
    {"abc", -EINVAL, 0, 0, NULL},
    {"18446744073709551616", -ERANGE, 0, 0, NULL},
    {"99999999999999999999999", -ERANGE, 0, 0, NULL},
    {"17179869184GiB", -ERANGE, 0, 0, NULL},
    {"18446744073709552kB", -ERANGE, 0, 0, NULL},
};

START_TEST(test_size)
{
    const struct ucase *c = &sizes[_i];
    const char *why = NULL;
    uint64_t b = 12345;
    int rc = units_size(c->in, &b, &why);

    ck_assert_msg(rc == c->rc, "units_size(\"%s\") = %d, expected %d (why: %s)", c->in, rc, c->rc,
                  why ? why : "-");
    if (rc == 0)
        ck_assert_msg(b == c->u, "units_size(\"%s\") = %llu, expected %llu", c->in,
                      (unsigned long long)b, (unsigned long long)c->u);
    else
        ck_assert_msg(why != NULL && *why, "no explanation for \"%s\"", c->in);
}
END_TEST

static const struct ucase statussets[] = {
    {"200-399", 0, 0, 0, "200-399"},
    {"200,204,301-308", 0, 0, 0, "200,204,301-308"},
    {"2xx", 0, 0, 0, "200-299"},
    {"2XX", 0, 0, 0, "200-299"},
    {"2xx,3xx", 0, 0, 0, "200-399"},
    {"1xx,5xx", 0, 0, 0, "100-199,500-599"},
    {"404", 0, 0, 0, "404"},
    {"100", 0, 0, 0, "100"},
    {"599", 0, 0, 0, "599"},
    {"200,201", 0, 0, 0, "200-201"},
    {"301-308,200", 0, 0, 0, "200,301-308"},
    {"200-200", 0, 0, 0, "200"},
    {"2xx,204,250-260", 0, 0, 0, "200-299"},
    {"", -EINVAL, 0, 0, NULL},
    {"abc", -EINVAL, 0, 0, NULL},
    {"399-200", -EINVAL, 0, 0, NULL},
    {"2xx,", -EINVAL, 0, 0, NULL},
    {",2xx", -EINVAL, 0, 0, NULL},
    {"200,,204", -EINVAL, 0, 0, NULL},
    {"200-", -EINVAL, 0, 0, NULL},
    {"-200", -EINVAL, 0, 0, NULL},
    {"200 - 299", -EINVAL, 0, 0, NULL},
    {"200, 204", -EINVAL, 0, 0, NULL},
    {"2x", -EINVAL, 0, 0, NULL},
    {"2xxx", -EINVAL, 0, 0, NULL},
    {"200x", -EINVAL, 0, 0, NULL},
    {"200-299-300", -EINVAL, 0, 0, NULL},
    {"600", -ERANGE, 0, 0, NULL},
    {"99", -ERANGE, 0, 0, NULL},
    {"0", -ERANGE, 0, 0, NULL},
    {"200-600", -ERANGE, 0, 0, NULL},
    {"6xx", -ERANGE, 0, 0, NULL},
    {"0xx", -ERANGE, 0, 0, NULL},
    {"99999999999999999999999", -ERANGE, 0, 0, NULL},
};

START_TEST(test_statusset)
{
    const struct ucase *c = &statussets[_i];
    struct statusset set, before;
    const char *why = NULL;
    char buf[128];
    int rc;

    memset(&set, 0xA5, sizeof(set));
    before = set;
    rc = units_statusset(c->in, &set, &why);
    ck_assert_msg(rc == c->rc, "units_statusset(\"%s\") = %d, expected %d (why: %s)", c->in, rc,
                  c->rc, why ? why : "-");
    if (rc == 0) {
        statusset_format(&set, buf, sizeof(buf));
        ck_assert_msg(strcmp(buf, c->fmt) == 0,
                      "units_statusset(\"%s\") formats as \"%s\", expected \"%s\"", c->in, buf,
                      c->fmt);
    } else {
        ck_assert_msg(why != NULL && *why, "no explanation for \"%s\"", c->in);
        ck_assert_msg(memcmp(&set, &before, sizeof(set)) == 0, "set changed on failure");
    }
}
END_TEST

START_TEST(test_statusset_has)
{
    struct statusset set;
    const char *why;

    ck_assert_int_eq(units_statusset("2xx,404", &set, &why), 0);
    ck_assert(statusset_has(&set, 200));
    ck_assert(statusset_has(&set, 299));
    ck_assert(statusset_has(&set, 404));
    ck_assert(!statusset_has(&set, 300));
    ck_assert(!statusset_has(&set, 403));
    ck_assert(!statusset_has(&set, 199));
    ck_assert(!statusset_has(&set, 0));
    ck_assert(!statusset_has(&set, -1));
    ck_assert(!statusset_has(&set, 600));
    ck_assert(!statusset_has(&set, 639));
    ck_assert(!statusset_has(&set, 100000));
}
END_TEST

START_TEST(test_statusset_format_truncates)
{
    struct statusset set;
    const char *why;
    char buf[16];

    ck_assert_int_eq(units_statusset("200-299,404,500-503", &set, &why), 0);
    /* Only whole elements are written. */
    ck_assert_str_eq(statusset_format(&set, buf, 12), "200-299,404");
    ck_assert_str_eq(statusset_format(&set, buf, 11), "200-299");
    ck_assert_str_eq(statusset_format(&set, buf, 1), "");
    buf[0] = 'x';
    ck_assert_ptr_eq(statusset_format(&set, buf, 0), buf);
    ck_assert_int_eq(buf[0], 'x');
    memset(&set, 0, sizeof(set));
    ck_assert_str_eq(statusset_format(&set, buf, sizeof(buf)), "");
}
END_TEST

/* A NULL `why` is tolerated, and the result is left alone on failure. */
START_TEST(test_null_why)
{
    uint64_t v = 7;
    double d = 7;

    ck_assert_int_eq(units_duration("10", &v, NULL), -EINVAL);
    ck_assert_int_eq(units_size("1KB", &v, NULL), -EINVAL);
    ck_assert_int_eq(units_percent("101", &d, NULL), -ERANGE);
    ck_assert_int_eq((int)v, 7);
    ck_assert(d == 7);
}
END_TEST

/* Entries of dir other than . and .. */
static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* fsx: mkdir -p (nested, existing, a file in the way), a file replaced whole with its mode, and
 * nothing left behind when a write is abandoned. */
START_TEST(test_fsx)
{
    char *dir = test_mkdtemp(), path[4096], file[4096], *got;
    struct fsx_atomic f;
    struct stat st;
    const char *step = NULL;
    mode_t um = umask(022);
    size_t len;

    snprintf(path, sizeof(path), "%s/a/b/c", dir);
    ck_assert_int_eq(fsx_mkdir_p(path, 0750), 0);
    ck_assert_int_eq(fsx_mkdir_p(path, 0750), 0);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_int_eq(st.st_mode & 0777, 0750);

    snprintf(file, sizeof(file), "%s/a/b/c/f.json", dir);
    ck_assert_int_eq(fsx_write_file(file, "first", 5, 0640, FSX_DURABLE), 0);
    ck_assert_int_eq(fsx_write_file(file, "second", 6, 0600, 0), 0);
    got = test_slurp(file, &len);
    ck_assert_str_eq(got, "second");
    free(got);
    ck_assert_int_eq(stat(file, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(fsx_mkdir_p(file, 0755), -ENOTDIR);

    /* Abandoned: the old content stays, no temporary file remains. */
    ck_assert_int_eq(fsx_atomic_open(&f, file), 0);
    ck_assert_int_eq(fsx_atomic_write(&f, "third", 5), 0);
    ck_assert_int_eq(fsx_atomic_commit(&f, file, 0644, 0, -EIO, NULL), -EIO);
    got = test_slurp(file, &len);
    ck_assert_str_eq(got, "second");
    free(got);
    ck_assert_int_eq(dir_entries(path), 1);

    /* Through a stream; a rename that cannot happen names its step. */
    ck_assert_int_eq(fsx_atomic_open(&f, file), 0);
    ck_assert_ptr_nonnull(fsx_atomic_stream(&f));
    fprintf(f.stream, "%d", 42);
    ck_assert_int_eq(fsx_atomic_commit(&f, file, 0644, FSX_DURABLE, 0, NULL), 0);
    got = test_slurp(file, &len);
    ck_assert_str_eq(got, "42");
    free(got);
    /* path is a directory: the rename fails, and says so; a/b holds only c still. */
    ck_assert_int_eq(fsx_atomic_open(&f, path), 0);
    ck_assert_int_eq(fsx_atomic_commit(&f, path, 0644, 0, 0, &step), -EISDIR);
    ck_assert_str_eq(step, "rename");
    snprintf(file, sizeof(file), "%s/a/b", dir);
    ck_assert_int_eq(dir_entries(file), 1);

    snprintf(file, sizeof(file), "%s/x/y/state.json", dir);
    ck_assert_int_eq(fsx_mkdir_parent(file, 0700), 0);
    snprintf(path, sizeof(path), "%s/x/y", dir);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_int_eq(fsx_mkdir_parent("bare", 0700), 0);
    umask(um);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* timex against the C library's own UTC conversion over 400 years of days, and the fixed
 * formats. */
START_TEST(test_timex)
{
    char buf[64];

    for (int64_t z = -719468; z < 146097 * 2; z += 37) {
        time_t t = (time_t)(z * 86400);
        struct tm tm;
        int y;
        unsigned m, d;

        gmtime_r(&t, &tm);
        timex_civil_from_days(z, &y, &m, &d);
        ck_assert_int_eq(y, tm.tm_year + 1900);
        ck_assert_uint_eq(m, (unsigned)tm.tm_mon + 1);
        ck_assert_uint_eq(d, (unsigned)tm.tm_mday);
        ck_assert_int_eq(timex_days_from_civil(y, m, d), z);
    }
    ck_assert_uint_eq(timex_month_days(2024, 2), 29);
    ck_assert_uint_eq(timex_month_days(2100, 2), 28);
    ck_assert_uint_eq(timex_month_days(2000, 2), 29);
    ck_assert_uint_eq(timex_month_days(2026, 4), 30);
    ck_assert_uint_eq(timex_month_days(2026, 13), 0);
    ck_assert_uint_eq(timex_month_parse("Jan"), 1);
    ck_assert_uint_eq(timex_month_parse("Dec"), 12);
    ck_assert_uint_eq(timex_month_parse("dec"), 0);
    ck_assert_uint_eq(timex_month_parse("Sept"), 0);
    ck_assert_str_eq(timex_rfc5322(buf, sizeof(buf), 1796786323),
                     "Wed, 09 Dec 2026 03:18:43 +0000");
    ck_assert_str_eq(timex_rfc5322(buf, sizeof(buf), 0), "Thu, 01 Jan 1970 00:00:00 +0000");
}
END_TEST

/* One escaper for every page: the five characters, in text and in attributes, the same through
 * a buffer and through a stream; the frame escapes its title. */
START_TEST(test_html)
{
    static const char in[] = "<a href='x' title=\"y\">Q&A</a> — é";
    static const char want[] =
        "&lt;a href=&#39;x&#39; title=&quot;y&quot;&gt;Q&amp;A&lt;/a&gt; — é";
    struct sbuf b = {0};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    html_esc(&b, in);
    ck_assert_str_eq(b.p, want);
    ck_assert_ptr_nonnull(f);
    html_esc_file(f, in);
    html_esc_file(f, NULL);
    fclose(f);
    ck_assert_str_eq(text, want);
    free(text);
    b.len = 0;
    html_head(&b, "fr", "a < b", "p{x:y}");
    ck_assert_ptr_nonnull(strstr(b.p, "<html lang=\"fr\">"));
    ck_assert_ptr_nonnull(strstr(b.p, "<title>a &lt; b</title>"));
    ck_assert_ptr_nonnull(strstr(b.p, "p{x:y}</style>"));
    ck_assert_ptr_nonnull(strstr(b.p, ".q-green .badge"));
    free(b.p);
}
END_TEST

/* The heap: elements come out in order, equal keys included, and the back-index follows every
 * move so that a decreased key can be moved up in place (the scheduler's recheck). */
struct hnode {
    unsigned key;
    size_t at;
};
#define HNODE_LESS(a, b) ((*(a))->key < (*(b))->key)
#define HNODE_MOVED(h, i) ((h)[i]->at = (i))
HEAP_DEFINE(th, struct hnode *, HNODE_LESS, HNODE_MOVED)

START_TEST(test_heap)
{
    enum { N = 1000 };
    static struct hnode nodes[N];
    static struct hnode *h[N];
    size_t n = 0;
    uint64_t x = 88172645463325252ull;
    unsigned last = 0;

    for (size_t i = 0; i < N; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        nodes[i].key = (unsigned)(x % 300);
        th_push(h, &n, &nodes[i]);
    }
    for (size_t i = 0; i < n; i++)
        ck_assert(h[i]->at == i);
    /* Decrease some keys, then move them up from where the back-index says they are. */
    for (size_t i = 0; i < N; i += 7) {
        nodes[i].key /= 2;
        th_up(h, nodes[i].at);
    }
    for (size_t i = 0; i < N; i++) {
        struct hnode *top = th_pop(h, &n);
        bool ok = true;

        ck_assert_uint_ge(top->key, last);
        last = top->key;
        /* The back-index, every 50 pops (each full check is O(n)). */
        for (size_t k = 0; i % 50 == 0 && k < n; k++)
            ok = ok && h[k]->at == k;
        ck_assert_msg(ok, "back-index wrong after %zu pops", i + 1);
    }
    ck_assert_uint_eq(n, 0);
}
END_TEST

Suite *units_suite(void); /* called by tests/harness/runner.c */

Suite *units_suite(void)
{
    Suite *s = suite_create("units");
    TCase *tc = tcase_create("parsers");

    tcase_add_loop_test(tc, test_duration, 0, N(durations));
    tcase_add_loop_test(tc, test_percent, 0, N(percents));
    tcase_add_loop_test(tc, test_size, 0, N(sizes));
    tcase_add_loop_test(tc, test_statusset, 0, N(statussets));
    tcase_add_test(tc, test_statusset_has);
    tcase_add_test(tc, test_statusset_format_truncates);
    tcase_add_test(tc, test_null_why);
    tcase_add_test(tc, test_fsx);
    tcase_add_test(tc, test_timex);
    tcase_add_test(tc, test_html);
    tcase_add_test(tc, test_heap);
    suite_add_tcase(s, tc);
    return s;
}
