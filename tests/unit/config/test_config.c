/* Tests for config (and the ydoc and diag modules under it).
 *
 * Error cases are a table: each row is a set of files written into a fresh directory (vigie.yaml
 * and probes.d/...) and the exact list of diagnostics config_load must produce, each written
 * "basename:line:col: text" ("basename: text" for a whole-file error). The text is one or more
 * substrings separated by '|' that the message must all contain, or, after a leading '=', the
 * whole message. Every expected entry must be matched by a distinct diagnostic and nothing else
 * may be reported. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "base/diag.h"
#include "testutil.h"
#include "config/ydoc.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

struct tfile {
    const char *name;
    const char *content;
};

struct ecase {
    const char *name;
    struct tfile files[6];
    const char *expect[8];
};

#define V "concurrency: 10\n"
#define G "group: G\nprobes:\n"
#define P1 "  - id: a\n    url: https://example.org/\n"

static const struct ecase ecases[] = {
    {"rrdcached over TCP with an absolute rrd_dir",
     {{"vigie.yaml", V "rrdcached: 127.0.0.1:42217\nrrd_dir: /var/lib/vigie/rrd\n"},
      {"probes.d/a.yaml", G P1}},
     {"vigie.yaml:3:10: =\"rrd_dir\": with a remote rrdcached, a path relative to its base "
      "directory (-b), not /var/lib/vigie/rrd"}},
    {"unknown key with a suggestion",
     {{"vigie.yaml", V}, {"probes.d/a.yaml", G P1 "    intervall: 10s\n"}},
     {"a.yaml:5:5: =unknown key \"intervall\" in probe; did you mean \"interval\"?"}},
    {"unknown keys at top level",
     {{"vigie.yaml", V "probe_dir: x\nzzzzzz: 1\n"}, {"probes.d/a.yaml", G P1}},
     {"vigie.yaml:2:1: =unknown key \"probe_dir\" in vigie.yaml; did you mean \"probes_dir\"?",
      "vigie.yaml:3:1: =unknown key \"zzzzzz\" in vigie.yaml"}},
    {"duplicate key",
     {{"vigie.yaml", V}, {"probes.d/a.yaml", G P1 "    url: https://example.com/\n"}},
     {"a.yaml:5:5: =duplicate key \"url\" (first at line 4)"}},
    {"duplicate probe id across two files",
     {{"vigie.yaml", V},
      {"probes.d/a.yaml", G "  - id: x\n    url: https://example.org/\n"},
      {"probes.d/b.yaml", G "  - id: y\n    url: https://example.org/\n"
                            "  - id: x\n    url: https://example.org/b\n"}},
     {"b.yaml:5:9: duplicate probe id \"x\" (first defined at |/probes.d/a.yaml:3:5)"}},
    {"wrong types",
     {{"vigie.yaml", V},
      {"probes.d/a.yaml", G P1 "    interval: {a: 1}\n    max_redirects: ten\n    reuse: yes\n"
                               "    name: [a]\n    follow_redirects: \"true\"\n"}},
     {"a.yaml:5:15: =\"interval\": expected a duration like 250ms, 10s, 5m, found a mapping",
      "a.yaml:6:20: =\"max_redirects\": expected an integer, found \"ten\"",
      "a.yaml:7:12: =\"reuse\": expected true or false, found \"yes\"",
      "a.yaml:8:11: =\"name\": expected a string, found a sequence",
      "a.yaml:9:23: =\"follow_redirects\": expected true or false (unquoted), found \"true\""}},
    {"wrong types for containers",
     {{"vigie.yaml", V "defaults: 10s\n"},
      {"probes.d/a.yaml", G P1 "    expect: 200\n    tls: [a]\n    headers: x\n"}},
     {"vigie.yaml:2:11: =\"defaults\": expected a mapping, found a scalar",
      "a.yaml:5:13: =\"expect\": expected a mapping, found a scalar",
      "a.yaml:6:10: =\"tls\": expected a mapping, found a sequence",
      "a.yaml:7:14: \"headers\": expected a mapping|found a scalar"}},
    {"out of range values",
     {{"vigie.yaml", "concurrency: 0\nper_host: 100001\n"},
      {"probes.d/a.yaml", G P1 "    max_redirects: 99\n    interval: 500ms\n    expect:\n"
                               "      max_bytes: 2GiB\n    tls:\n      min_days: -1\n"
                               "    timeout: 99999999999999999999d\n"}},
     {"vigie.yaml:1:14: =\"concurrency\": 0 out of range 1..100000",
      "vigie.yaml:2:11: =\"per_host\": 100001 out of range 1..100000",
      "a.yaml:5:20: =\"max_redirects\": 99 out of range 0..50",
      "a.yaml:6:15: =\"interval\": 500ms out of range 1s..1d",
      "a.yaml:8:18: =\"max_bytes\": 2GiB out of range 1..1GiB",
      "a.yaml:10:17: =\"min_days\": -1 out of range 0..3650",
      "a.yaml:11:14: \"timeout\": expected a duration|too large"}},
    {"overload out of range",
     {{"vigie.yaml", V "overload: {busy: 40%, loop_lag: 0s}\n"}, {"probes.d/a.yaml", G P1}},
     {"vigie.yaml:2:18: =\"busy\": 40% out of range 50%..100%",
      "vigie.yaml:2:33: =\"loop_lag\": 0s out of range 1ms..1m"}},
    {"overload: a factor that is not a power of two, a quiet period too short",
     {{"vigie.yaml", V "overload:\n  max_factor: 6\n  relax_after: 500ms\n"},
      {"probes.d/a.yaml", G P1}},
     {"vigie.yaml:3:15: =\"max_factor\": expected 1, 2, 4, 8, 16, 32 or 64, found \"6\"",
      "vigie.yaml:4:16: =\"relax_after\": 500ms out of range 1s..1d"}},
    {"bad urls",
     {{"vigie.yaml", V},
      {"probes.d/a.yaml", G "  - id: a\n    url: ftp://example.org/\n"
                            "  - id: b\n    url: \"http://\"\n"
                            "  - id: c\n    url: example.org\n"
                            "  - id: d\n    url: \"https://exa mple.org/\"\n"}},
     {"a.yaml:4:10: =\"url\": unsupported scheme, only http and https",
      "a.yaml:6:10: \"url\": ", "a.yaml:8:10: \"url\": ", "a.yaml:10:10: \"url\": "}},
    {"fractional interval, unreadable CA file (reported once for the file's defaults)",
     {{"vigie.yaml", V},
      {"probes.d/a.yaml", "group: G\ndefaults:\n  tls:\n    ca_file: missing.pem\nprobes:\n" P1
                          "    interval: 1500ms\n    timeout: 1s\n"
                          "  - id: b\n    url: https://example.org/b\n"}},
     {"a.yaml:4:14: \"ca_file\": ", "a.yaml:8:15: =\"interval\": 1s500ms is not a whole number of "
                                    "seconds"}},
    {"bad duration, status set and regex",
     {{"vigie.yaml", V},
      {"probes.d/a.yaml", G P1 "    timeout: 10\n    expect:\n      status: 399-200\n"
                               "      body_regex: \"a(\"\n"}},
     {"a.yaml:5:14: =\"timeout\": expected a duration like 250ms, 10s, 5m: missing unit (ms, s, "
      "m, h or d)",
      "a.yaml:7:15: =\"status\": expected a status set like 200-399, 2xx or 200,301-308: range "
      "must be ascending, like 200-399",
      "a.yaml:8:19: \"body_regex\": invalid regular expression: "}},
    {"a regex whose repetitions would exhaust memory in regcomp (found by the fuzzer)",
     {{"vigie.yaml", V},
      {"probes.d/a.yaml",
       G P1 "    expect:\n      body_regex: \"ok++++++++++++++++++++++++|fine\"\n"}},
     {"a.yaml:6:19: \"body_regex\": regular expression too costly to compile"}},
    {"timeouts against each other",
     {{"vigie.yaml", V},
      {"probes.d/a.yaml", G P1 "    interval: 5s\n    timeout: 10s\n"
                               "  - id: b\n    url: https://example.org/\n"
                               "    connect_timeout: 3s\n    timeout: 2s\n"
                               "  - id: c\n    url: https://example.org/\n    slow: 20s\n"}},
     {"a.yaml:6:14: =\"timeout\": 10s is longer than \"interval\" (5s)",
      "a.yaml:9:22: =\"connect_timeout\": 3s is longer than \"timeout\" (2s)",
      "a.yaml:13:11: =\"slow\": 20s is longer than \"timeout\" (10s)"}},
    {"inherited timeout against a probe's interval",
     {{"vigie.yaml", V "defaults:\n  timeout: 20s\n  interval: 30s\n"},
      {"probes.d/a.yaml", G P1 "    interval: 10s\n"}},
     {"a.yaml:5:15: =\"interval\": 10s is shorter than \"timeout\" (20s)"}},
    {"inconsistent defaults reported once",
     {{"vigie.yaml", V "defaults:\n  interval: 5s\n"},
      {"probes.d/a.yaml", G P1 "  - id: b\n    url: https://example.org/\n"}},
     {"vigie.yaml:3:13: =\"interval\": 5s is shorter than \"timeout\" (10s)"}},
    {"file defaults against global defaults",
     {{"vigie.yaml", V "defaults:\n  connect_timeout: 3s\n"},
      {"probes.d/a.yaml", "group: G\ndefaults:\n  timeout: 2s\nprobes:\n" P1}},
     {"a.yaml:3:12: =\"timeout\": 2s is shorter than \"connect_timeout\" (3s)"}},
    {"missing url and id",
     {{"vigie.yaml", V}, {"probes.d/a.yaml", G "  - id: a\n  - url: https://example.org/\n"}},
     {"a.yaml:3:5: =probe has no \"url\"", "a.yaml:4:5: =probe has no \"id\""}},
    {"missing group and probes",
     {{"vigie.yaml", V},
      {"probes.d/a.yaml", "probes:\n" P1},
      {"probes.d/b.yaml", "# the group\ngroup: B\n"}},
     {"a.yaml:1:1: =file has no \"group\"", "b.yaml:2:1: =file has no \"probes\""}},
    {"empty files",
     {{"vigie.yaml", V},
      {"probes.d/a.yaml", ""},
      {"probes.d/b.yaml", "# nothing here\n\n"},
      {"probes.d/c.yaml", G P1}},
     {"a.yaml: =empty file", "b.yaml: =empty file"}},
    {"empty vigie.yaml", {{"vigie.yaml", ""}}, {"vigie.yaml: =empty file"}},
    {"non-UTF-8 bytes",
     {{"vigie.yaml", V}, {"probes.d/a.yaml", G P1 "    name: \"caf\xff\xfe\"\n"}},
     {"a.yaml:5:15: invalid UTF-8: "}},
    {"UTF-16 byte order mark",
     {{"vigie.yaml", V}, {"probes.d/a.yaml", "\xff\xfeg\x00r\x00"}},
     {"a.yaml:1:1: invalid UTF-8: "}},
    {"a tab in the indentation",
     {{"vigie.yaml", V}, {"probes.d/a.yaml", G "  - id: a\n\turl: https://example.org/\n"}},
     {"a.yaml:4:1: syntax error: found a tab character that violates indentation"}},
    {"bad indentation",
     {{"vigie.yaml", V}, {"probes.d/a.yaml", G "  - id: a\n      url: https://example.org/\n"}},
     {"a.yaml:4:10: syntax error: mapping values are not allowed in this context"}},
    {"unclosed flow sequence",
     {{"vigie.yaml", V}, {"probes.d/a.yaml", "group: G\nprobes: [\n"}},
     {"a.yaml:3:1: syntax error: did not find expected node content|while parsing a flow node"}},
    {"nesting deeper than 32 levels",
     {{"vigie.yaml", V},
      {"probes.d/a.yaml", "group: G\nprobes: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                          "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n"}},
     {"a.yaml:2:40: =nesting deeper than 32 levels"}},
    {"anchors and aliases",
     {{"vigie.yaml", V},
      {"probes.d/a.yaml", G P1 "    name: &n foo\n"},
      {"probes.d/b.yaml", G "  - id: b\n    url: https://example.org/\n    name: *x\n"}},
     {"a.yaml:5:11: =anchors and aliases are not supported",
      "b.yaml:5:11: =anchors and aliases are not supported"}},
    {"more than one document",
     {{"vigie.yaml", V}, {"probes.d/a.yaml", G P1 "---\ngroup: H\n"}},
     {"a.yaml:5:1: =only one document per file"}},
    {"missing probes directory from probes_dir",
     {{"vigie.yaml", "probes_dir: nope\n"}},
     {"vigie.yaml:1:13: \"probes_dir\": cannot open directory |/nope: No such file or directory"}},
    {"missing probes directory by default",
     {{"vigie.yaml", V}},
     {"probes.d: =cannot open directory: No such file or directory"}},
    {"probes directory without probes",
     {{"vigie.yaml", V},
      {"probes.d/README.md", "no yaml here\n"},
      {"probes.d/.hidden.yaml", G P1},
      {"probes.d/a.yml", G P1}},
     {"probes.d: =no probes defined"}},
    {"probes files with empty lists",
     {{"vigie.yaml", V}, {"probes.d/a.yaml", "group: G\nprobes: []\n"}},
     {"probes.d: =no probes defined"}},
    {"root is not a mapping",
     {{"vigie.yaml", V}, {"probes.d/a.yaml", "- a\n- b\n"}, {"probes.d/b.yaml", "just text\n"}},
     {"a.yaml:1:1: =expected a mapping, found a sequence",
      "b.yaml:1:1: =expected a mapping, found a scalar"}},
    {"probe is not a mapping",
     {{"vigie.yaml", V}, {"probes.d/a.yaml", G P1 "  - just-a-string\n"}},
     {"a.yaml:5:5: =expected a mapping, found a scalar"}},
    {"probes is not a sequence",
     {{"vigie.yaml", V}, {"probes.d/a.yaml", "group: G\nprobes:\n  id: a\n"}},
     {"a.yaml:3:3: =\"probes\": expected a sequence, found a mapping"}},
    {"keys in the wrong place",
     {{"vigie.yaml", V "defaults:\n  url: https://x.org/\n  status: 200\n  verify: false\n"},
      {"probes.d/a.yaml", G P1 "    group: X\n"}},
     {"vigie.yaml:3:3: =key \"url\" is not allowed in defaults, only in a probe",
      "vigie.yaml:4:3: =unknown key \"status\" in defaults; it belongs under \"expect\"",
      "vigie.yaml:5:3: =unknown key \"verify\" in defaults; it belongs under \"tls\"",
      "a.yaml:5:5: key \"group\" is not allowed in a probe"}},
    {"headers",
     {{"vigie.yaml", V},
      {"probes.d/a.yaml", G P1 "    headers:\n      \"X A\": b\n      X-Ok: \"a\\r\\nHost: evil\"\n"
                               "      x-ok: c\n      X-Map: {a: b}\n      X-Null:\n"}},
     {"a.yaml:6:7: \"headers\": invalid header name \"X A\"",
      "a.yaml:7:13: =\"headers\": value of \"X-Ok\" contains CR, LF or NUL",
      "a.yaml:8:7: =\"headers\": duplicate header \"x-ok\" (first at line 7)",
      "a.yaml:9:14: =\"headers\": \"X-Map\": expected a string, found a mapping",
      "a.yaml:10:14: =\"headers\": \"X-Null\": expected a string, found an empty value"}},
    {"invalid ids",
     {{"vigie.yaml", V},
      {"probes.d/a.yaml", G "  - id: \"A b\"\n    url: https://example.org/\n"
                            "  - id: -x\n    url: https://example.org/\n"
                            "  - id: a01234567890123456789012345678901234567890123456789012345678"
                            "90123\n    url: https://example.org/\n"
                            "  - id: ../../etc/x\n    url: https://example.org/\n"
                            "  - id: a/../../b\n    url: https://example.org/\n"}},
     {"a.yaml:3:9: =\"id\": invalid id \"A b\" (use [a-z0-9][a-z0-9._-]{0,63})",
      "a.yaml:5:9: =\"id\": invalid id \"-x\" (use [a-z0-9][a-z0-9._-]{0,63})",
      "a.yaml:7:9: \"id\": invalid id \"a0123456789",
      "a.yaml:9:9: =\"id\": invalid id \"../../etc/x\" (use [a-z0-9][a-z0-9._-]{0,63})",
      "a.yaml:11:9: =\"id\": invalid id \"a/../../b\" (use [a-z0-9][a-z0-9._-]{0,63})"}},
    {"enumerations",
     {{"vigie.yaml", V},
      {"probes.d/a.yaml", G P1 "    method: POST\n    ip: v5\n    http: 3\n    method: get\n"}},
     {"a.yaml:5:13: =\"method\": expected GET or HEAD, found \"POST\"",
      "a.yaml:6:9: =\"ip\": expected any, v4 or v6, found \"v5\"",
      "a.yaml:7:11: =\"http\": expected auto, 1.1 or 2, found \"3\"",
      "a.yaml:8:5: =duplicate key \"method\" (first at line 5)"}},
    {"jdma and tags",
     {{"vigie.yaml", V},
      {"probes.d/a.yaml", G P1 "    jdma: [0, x, 12]\n    tags: [a, {b: c}, \"\"]\n"
                               "  - id: b\n    url: https://example.org/\n    jdma: 44\n"}},
     {"a.yaml:5:12: =\"jdma\": 0 out of range 1..999999999",
      "a.yaml:5:15: =\"jdma\": expected an integer, found \"x\"",
      "a.yaml:6:15: =\"tags\": expected a string, found a mapping",
      "a.yaml:6:23: =\"tags\": empty string",
      "a.yaml:9:11: =\"jdma\": expected a sequence of procedure ids, found a scalar"}},
    {"HEAD with a body expectation",
     {{"vigie.yaml", V},
      {"probes.d/a.yaml", G P1 "    method: HEAD\n    expect:\n      body: ok\n"
                               "  - id: b\n    url: https://example.org/\n    expect:\n"
                               "      body_regex: ok\n    method: HEAD\n"}},
     {"a.yaml:7:13: =\"body\": HEAD responses have no body to check",
      "a.yaml:11:19: =\"body_regex\": HEAD responses have no body to check"}},
    {"empty and odd strings",
     {{"vigie.yaml", "user_agent: \"a\\nb\"\n"},
      {"probes.d/a.yaml", G "  - id: a\n    url:\n    name: \"\"\n"
                            "  - id: b\n    url: https://example.org/\n    name: \"a\\0b\"\n"}},
     {"vigie.yaml:1:13: =\"user_agent\": contains a control character",
      "a.yaml:4:9: =\"url\": expected a string, found an empty value",
      "a.yaml:5:11: =\"name\": empty string", "a.yaml:8:11: =\"name\": contains a NUL byte"}},
    {"several errors in several files",
     {{"vigie.yaml", V "bogus: 1\n"},
      {"probes.d/a.yaml", G P1 "    interval: 10 s\n"},
      {"probes.d/b.yaml", G "  - id: b\n"},
      {"probes.d/c.yaml", "group: G\nprobes: [\n"},
      {"probes.d/d.yaml", "- a\n"},
      {"probes.d/e.yaml", G P1}},
     {"vigie.yaml:2:1: =unknown key \"bogus\" in vigie.yaml",
      "a.yaml:5:15: \"interval\": expected a duration like 250ms, 10s, 5m: spaces are not allowed",
      "b.yaml:3:5: =probe has no \"url\"",
      "c.yaml:3:1: syntax error: ", "d.yaml:1:1: =expected a mapping, found a sequence",
      "e.yaml:3:9: duplicate probe id \"a\" (first defined at |/probes.d/a.yaml:3:5)"}},
};

/* "basename:line:col" of a diagnostic, as the expectations write it. */
static void entry_pos(const struct diag_entry *e, char *buf, size_t len)
{
    const char *slash = strrchr(e->file, '/');
    const char *base = slash ? slash + 1 : e->file;

    if (e->line == 0)
        snprintf(buf, len, "%s", base);
    else if (e->col == 0)
        snprintf(buf, len, "%s:%u", base, e->line);
    else
        snprintf(buf, len, "%s:%u:%u", base, e->line, e->col);
}

static char *diag_dump(const struct diag *d)
{
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);

    ck_assert_ptr_nonnull(f);
    diag_print(d, f);
    fclose(f);
    return s;
}

/* Does entry e match the expectation "pos: text"? */
static bool entry_matches(const struct diag_entry *e, const char *expect)
{
    const char *sep = strstr(expect, ": ");
    const char *text;
    char pos[512];

    if (!sep)
        return false;
    entry_pos(e, pos, sizeof(pos));
    if (strlen(pos) != (size_t)(sep - expect) || strncmp(pos, expect, strlen(pos)) != 0)
        return false;
    text = sep + 2;
    if (text[0] == '=')
        return strcmp(e->msg, text + 1) == 0;
    while (*text) {
        const char *bar = strchr(text, '|');
        size_t n = bar ? (size_t)(bar - text) : strlen(text);
        char sub[512];

        snprintf(sub, sizeof(sub), "%.*s", (int)n, text);
        if (!strstr(e->msg, sub))
            return false;
        text += n + (bar ? 1 : 0);
    }
    return true;
}

/* Checks that the diagnostics are exactly the expected ones, in any order. */
static void check_diag(const struct diag *d, const char *const *expect, int nexpect)
{
    bool used[DIAG_MAX] = {false};
    char *dump = diag_dump(d);
    int n = 0;

    while (n < nexpect && expect[n])
        n++;
    for (int i = 0; i < n; i++) {
        size_t j;

        for (j = 0; j < d->n; j++) {
            if (!used[j] && entry_matches(&d->v[j], expect[i]))
                break;
        }
        ck_assert_msg(j < d->n, "expected diagnostic\n  %s\nnot found; got:\n%s", expect[i], dump);
        used[j] = true;
    }
    ck_assert_msg(d->n == (size_t)n, "expected %d diagnostics, got %zu:\n%s", n, d->n, dump);
    free(dump);
}

static char *write_files(const struct tfile *files, int nfiles)
{
    char *dir = test_mkdtemp();

    for (int i = 0; i < nfiles && files[i].name; i++) {
        free(test_write(dir, files[i].name, files[i].content));
    }
    return dir;
}

static char *join(const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *p = malloc(len);

    ck_assert_ptr_nonnull(p);
    snprintf(p, len, "%s/%s", dir, name);
    return p;
}

START_TEST(test_errors)
{
    const struct ecase *c = &ecases[_i];
    struct config dummy, *cfg = &dummy;
    struct diag d;
    char *dir = write_files(c->files, N(c->files));
    char *path = join(dir, "vigie.yaml");
    int rc;

    diag_init(&d);
    rc = config_load(path, &cfg, &d);
    ck_assert_msg(rc < 0, "case \"%s\": config_load succeeded", c->name);
    ck_assert_ptr_null(cfg);
    check_diag(&d, c->expect, N(c->expect));
    diag_fini(&d);
    test_rmtree(dir);
    free(path);
    free(dir);
}
END_TEST

START_TEST(test_missing_vigie_yaml)
{
    struct config *cfg = NULL;
    struct diag d;
    char *dir = test_mkdtemp();
    char *path = join(dir, "vigie.yaml");
    const char *expect[] = {"vigie.yaml: =cannot open: No such file or directory"};

    diag_init(&d);
    ck_assert_int_eq(config_load(path, &cfg, &d), -ENOENT);
    ck_assert_ptr_null(cfg);
    check_diag(&d, expect, 1);
    diag_fini(&d);
    test_rmtree(dir);
    free(path);
    free(dir);
}
END_TEST

START_TEST(test_huge_file)
{
    struct config *cfg = NULL;
    struct diag d;
    char *dir = test_mkdtemp();
    char *path = join(dir, "vigie.yaml");
    size_t size = (4u << 20) + 1;
    char *big = malloc(size + 1);
    const char *expect[] = {"a.yaml: =file too large (4194305 bytes, limit 4 MiB)"};

    ck_assert_ptr_nonnull(big);
    /* Valid YAML all the way: comment lines of 64 bytes. */
    memcpy(big, "group: G\nprobes: []\n", 20);
    for (size_t i = 20; i < size; i++)
        big[i] = (i % 64 == 63) ? '\n' : (i % 64 == 20 ? '#' : 'x');
    big[size] = '\0';
    free(test_write(dir, "vigie.yaml", V));
    free(test_write(dir, "probes.d/a.yaml", big));
    free(test_write(dir, "probes.d/b.yaml", G P1));
    diag_init(&d);
    ck_assert_int_eq(config_load(path, &cfg, &d), -EINVAL);
    check_diag(&d, expect, 1);
    diag_fini(&d);
    free(big);
    test_rmtree(dir);
    free(path);
    free(dir);
}
END_TEST

/* Loads the files and asserts success. */
static struct config *load_ok(const struct tfile *files, int nfiles, char **dirp)
{
    struct config *cfg = NULL;
    struct diag d;
    char *dir = write_files(files, nfiles);
    char *path = join(dir, "vigie.yaml");
    char *dump;
    int rc;

    diag_init(&d);
    rc = config_load(path, &cfg, &d);
    dump = diag_dump(&d);
    ck_assert_msg(rc == 0, "config_load = %d:\n%s", rc, dump);
    ck_assert_msg(d.n == 0, "unexpected diagnostics:\n%s", dump);
    ck_assert_ptr_nonnull(cfg);
    free(dump);
    diag_fini(&d);
    free(path);
    *dirp = dir;
    return cfg;
}

static const char *header(const struct probe *p, const char *name)
{
    for (size_t i = 0; i < p->nheaders; i++) {
        if (strcmp(p->headers[i].name, name) == 0)
            return p->headers[i].value;
    }
    return NULL;
}

START_TEST(test_cascade)
{
    static const struct tfile files[] = {
        {"vigie.yaml", "defaults:\n  interval: 30s\n  timeout: 5s\n"
                       "  headers: {Accept-Language: fr, X-Global: g}\n"
                       "  expect: {status: 2xx}\n"},
        {"probes.d/a.yaml", "group: Ministère A\n"
                            "defaults:\n  interval: 20s\n  tls: {min_days: 7}\n"
                            "  headers: {X-Group: a}\n"
                            "probes:\n"
                            "  - id: p1\n    url: https://example.org/1\n"
                            "  - id: p2\n    url: https://example.org/2\n    interval: 10s\n"
                            "    timeout: 2s\n    headers: {accept-language: en}\n"
                            "    slow: 1500ms\n"},
        {"probes.d/b.yaml", "group: B\nprobes:\n  - id: p3\n    url: https://example.org/3\n"},
    };
    char *dir;
    struct config *c = load_ok(files, N(files), &dir);
    const struct probe *p1 = config_find(c, "p1"), *p2 = config_find(c, "p2"),
                       *p3 = config_find(c, "p3");
    char buf[64];

    ck_assert_uint_eq(c->nprobes, 3);
    ck_assert_ptr_nonnull(p1);
    ck_assert_ptr_nonnull(p2);
    ck_assert_ptr_nonnull(p3);
    /* file defaults over global defaults over built-in */
    ck_assert_uint_eq(p1->interval_ms, 20000);
    ck_assert_uint_eq(p1->timeout_ms, 5000);
    ck_assert_uint_eq(p1->connect_timeout_ms, 5000);
    ck_assert_uint_eq(p1->slow_ms, 800);
    ck_assert_int_eq(p1->tls_min_days, 7);
    ck_assert_str_eq(statusset_format(&p1->status, buf, sizeof(buf)), "200-299");
    ck_assert_uint_eq(p1->nheaders, 3);
    ck_assert_str_eq(header(p1, "Accept-Language"), "fr");
    ck_assert_str_eq(header(p1, "X-Global"), "g");
    ck_assert_str_eq(header(p1, "X-Group"), "a");
    ck_assert_str_eq(p1->group, "Ministère A");
    /* probe over everything; an inherited connect_timeout shrinks to the timeout */
    ck_assert_uint_eq(p2->interval_ms, 10000);
    ck_assert_uint_eq(p2->timeout_ms, 2000);
    ck_assert_uint_eq(p2->connect_timeout_ms, 2000);
    ck_assert_uint_eq(p2->slow_ms, 1500);
    ck_assert_uint_eq(p2->nheaders, 3);
    ck_assert_ptr_null(header(p2, "Accept-Language"));
    ck_assert_str_eq(header(p2, "accept-language"), "en");
    ck_assert_str_eq(header(p2, "X-Group"), "a");
    /* another file: global defaults, then built-in */
    ck_assert_uint_eq(p3->interval_ms, 30000);
    ck_assert_uint_eq(p3->timeout_ms, 5000);
    ck_assert_int_eq(p3->tls_min_days, 14);
    ck_assert_uint_eq(p3->nheaders, 2);
    ck_assert_str_eq(statusset_format(&p3->status, buf, sizeof(buf)), "200-299");
    ck_assert_str_eq(p3->method, "GET");
    ck_assert_uint_eq(p3->max_bytes, 1 << 20);
    ck_assert(p3->follow_redirects);
    ck_assert_int_eq(p3->max_redirects, 10);
    ck_assert_int_eq(p3->ip, IPV_ANY);
    ck_assert_int_eq(p3->http, HTTPV_AUTO);
    ck_assert(!p3->reuse);
    ck_assert(p3->tls_verify);
    ck_assert_ptr_null(p3->ca_file);
    ck_assert_ptr_null(p3->body);
    ck_assert_ptr_null(p3->body_regex);
    ck_assert_str_eq(p3->group, "B");
    config_free(c);
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_builtin_defaults)
{
    static const struct tfile files[] = {
        {"vigie.yaml", V},
        {"probes.d/a.yaml", G "  - id: a\n    url: https://example.org/\n"
                              "  - id: b\n    url: https://example.org/\n    timeout: 3s\n"
                              "  - id: c\n    url: https://example.org/\n    timeout: 500ms\n"},
    };
    char *dir;
    struct config *c = load_ok(files, N(files), &dir);
    const struct probe *a = config_find(c, "a"), *b = config_find(c, "b"),
                       *cc = config_find(c, "c");
    char buf[64];

    ck_assert_uint_eq(a->interval_ms, 60000);
    ck_assert_uint_eq(a->timeout_ms, 10000);
    ck_assert_uint_eq(a->connect_timeout_ms, 5000);
    ck_assert_uint_eq(a->slow_ms, 800);
    ck_assert_str_eq(statusset_format(&a->status, buf, sizeof(buf)), "200-399");
    ck_assert_uint_eq(a->max_bytes, 1048576);
    ck_assert(a->follow_redirects);
    ck_assert_int_eq(a->max_redirects, 10);
    ck_assert_int_eq(a->tls_min_days, 14);
    ck_assert_str_eq(a->method, "GET");
    ck_assert_str_eq(a->name, "a");
    ck_assert_uint_eq(b->connect_timeout_ms, 3000);
    ck_assert_uint_eq(b->slow_ms, 800);
    ck_assert_uint_eq(cc->connect_timeout_ms, 500);
    ck_assert_uint_eq(cc->slow_ms, 500);
    ck_assert_int_eq(c->concurrency, 10);
    ck_assert_int_eq(c->per_host, 8);
    ck_assert_str_eq(c->user_agent, "vigie/0.1");
    ck_assert(c->overload.busy == 0.9);
    ck_assert_uint_eq(c->overload.loop_lag_ms, 20);
    ck_assert_uint_eq(c->overload.shed_after_ms, 3000);
    ck_assert_uint_eq(c->overload.relax_after_ms, 30000);
    ck_assert_int_eq(c->overload.max_factor, 8);
    config_free(c);
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_user_agent)
{
    static const struct tfile f1[] = {
        {"vigie.yaml", "contact: https://example.org/contact\n"},
        {"probes.d/a.yaml", G P1},
    };
    static const struct tfile f2[] = {
        {"vigie.yaml", "user_agent: \"monitor/2\"\ncontact: ops@example.org\n"},
        {"probes.d/a.yaml", G P1},
    };
    static const struct tfile f3[] = {
        {"vigie.yaml", "user_agent: monitor/3\n"},
        {"probes.d/a.yaml", G P1},
    };
    char *dir;
    struct config *c;

    c = load_ok(f1, N(f1), &dir);
    ck_assert_str_eq(c->user_agent, "vigie/0.1 (+https://example.org/contact)");
    config_free(c);
    test_rmtree(dir);
    free(dir);
    c = load_ok(f2, N(f2), &dir);
    ck_assert_str_eq(c->user_agent, "monitor/2 (+ops@example.org)");
    config_free(c);
    test_rmtree(dir);
    free(dir);
    c = load_ok(f3, N(f3), &dir);
    ck_assert_str_eq(c->user_agent, "monitor/3");
    config_free(c);
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_relative_dirs)
{
    char *dir = test_mkdtemp();
    char *path = join(dir, "etc/vigie.yaml");
    char *expect_probes = join(dir, "etc/../probes");
    char *expect_rrd = join(dir, "etc/data/rrd");
    struct config *c = NULL;
    struct diag d;

    free(test_write(dir, "etc/vigie.yaml",
                    "probes_dir: ../probes\nrrd_dir: data/rrd\ngraphs_dir: /var/tmp/g\n"));
    free(test_write(dir, "probes/a.yaml", G P1));
    diag_init(&d);
    ck_assert_int_eq(config_load(path, &c, &d), 0);
    ck_assert_str_eq(c->path, path);
    ck_assert_str_eq(c->probes_dir, expect_probes);
    ck_assert_str_eq(c->rrd_dir, expect_rrd);
    ck_assert_str_eq(c->graphs_dir, "/var/tmp/g");
    ck_assert_uint_eq(c->nprobes, 1);
    config_free(c);
    c = NULL;

    /* Without vigie.yaml: built-in names, relative to the current directory. */
    free(test_write(dir, "etc/probes.d/b.yaml", G "  - id: b\n    url: https://example.org/\n"));
    ck_assert_int_eq(chdir(dir), 0);
    ck_assert_int_eq(chdir("etc"), 0);
    ck_assert_int_eq(config_load(NULL, &c, &d), 0);
    ck_assert_ptr_null(c->path);
    ck_assert_str_eq(c->probes_dir, "probes.d");
    ck_assert_str_eq(c->rrd_dir, "rrd");
    ck_assert_str_eq(c->graphs_dir, "graphs");
    ck_assert_uint_eq(c->nprobes, 1);
    ck_assert_str_eq(c->probes[0].id, "b");
    ck_assert_str_eq(c->probes[0].file, "probes.d/b.yaml");
    config_free(c);

    /* A bare file name: relative to the current directory too. */
    free(test_write(dir, "etc/v2.yaml", V));
    ck_assert_int_eq(config_load("v2.yaml", &c, &d), 0);
    ck_assert_str_eq(c->probes_dir, "probes.d");
    ck_assert_str_eq(c->rrd_dir, "rrd");
    config_free(c);
    ck_assert_uint_eq(d.n, 0);
    diag_fini(&d);
    test_rmtree(dir);
    free(expect_probes);
    free(expect_rrd);
    free(path);
    free(dir);
}
END_TEST

START_TEST(test_probe_fields)
{
    static const struct tfile files[] = {
        {"vigie.yaml", V},
        {"ca.pem", "a CA file, relative to vigie.yaml's directory\n"},
        {"probes.d/m.yaml",
         "group: \"Ministère de l'Intérieur\"\n"
         "probes:\n"
         "  # first\n"
         "  - id: zeta.service_1\n"
         "    name: \"Zeta — démarche\"\n"
         "    url: https://example.org/zeta?x=1\n"
         "    jdma: [44, 45]\n"
         "    tags: [etat-civil, \"prioritaire\"]\n"
         "    method: HEAD\n"
         "    ip: v6\n"
         "    http: 1.1\n"
         "    reuse: true\n"
         "    follow_redirects: false\n"
         "    max_redirects: 0\n"
         "    headers:\n"
         "      Accept: \"text/html\"\n"
         "      X-Token: \"a b\\tc\"\n"
         "    tls:\n"
         "      verify: false\n"
         "      ca_file: ca.pem\n"
         "      min_days: 0\n"
         "  - id: alpha\n"
         "    url: http://example.org/\n"
         "    http: \"2\"\n"
         "    ip: v4\n"
         "    expect:\n"
         "      status: 200,301-308\n"
         "      body: \"Bienvenue\"\n"
         "      body_regex: \"^<!DOCTYPE (html|HTML)\"\n"
         "      max_bytes: 256KiB\n"
         "  - {id: mid, url: \"https://example.org/m\", http: auto, jdma: []}\n"},
    };
    char *dir;
    struct config *c = load_ok(files, N(files), &dir);
    const struct probe *z, *a, *m;
    char buf[64];

    ck_assert_uint_eq(c->nprobes, 3);
    /* sorted by id */
    ck_assert_str_eq(c->probes[0].id, "alpha");
    ck_assert_str_eq(c->probes[1].id, "mid");
    ck_assert_str_eq(c->probes[2].id, "zeta.service_1");
    z = config_find(c, "zeta.service_1");
    a = config_find(c, "alpha");
    m = config_find(c, "mid");
    ck_assert_ptr_eq(z, &c->probes[2]);
    ck_assert_ptr_eq(a, &c->probes[0]);
    ck_assert_ptr_eq(m, &c->probes[1]);
    ck_assert_ptr_null(config_find(c, "nope"));
    ck_assert_ptr_null(config_find(c, ""));
    ck_assert_ptr_null(config_find(c, "zz"));
    ck_assert_ptr_null(config_find(NULL, "alpha"));

    ck_assert_str_eq(z->name, "Zeta — démarche");
    ck_assert_str_eq(z->url, "https://example.org/zeta?x=1");
    ck_assert_str_eq(z->group, "Ministère de l'Intérieur");
    ck_assert_ptr_nonnull(strstr(z->file, "/probes.d/m.yaml"));
    ck_assert_uint_eq(z->line, 4);
    ck_assert_uint_eq(z->njdma, 2);
    ck_assert_int_eq(z->jdma[0], 44);
    ck_assert_int_eq(z->jdma[1], 45);
    ck_assert_uint_eq(z->ntags, 2);
    ck_assert_str_eq(z->tags[0], "etat-civil");
    ck_assert_str_eq(z->tags[1], "prioritaire");
    ck_assert_str_eq(z->method, "HEAD");
    ck_assert_int_eq(z->ip, IPV_6);
    ck_assert_int_eq(z->http, HTTPV_1_1);
    ck_assert(z->reuse);
    ck_assert(!z->follow_redirects);
    ck_assert_int_eq(z->max_redirects, 0);
    ck_assert_uint_eq(z->nheaders, 2);
    ck_assert_str_eq(z->headers[0].name, "Accept");
    ck_assert_str_eq(z->headers[0].value, "text/html");
    ck_assert_str_eq(z->headers[1].name, "X-Token");
    ck_assert_str_eq(z->headers[1].value, "a b\tc");
    ck_assert(!z->tls_verify);
    snprintf(buf, sizeof(buf), "%.50s/ca.pem", dir);
    ck_assert_str_eq(z->ca_file, buf);
    ck_assert_int_eq(z->tls_min_days, 0);

    ck_assert_str_eq(a->name, "alpha");
    ck_assert_uint_eq(a->line, 22);
    ck_assert_int_eq(a->http, HTTPV_2);
    ck_assert_int_eq(a->ip, IPV_4);
    ck_assert_uint_eq(a->njdma, 0);
    ck_assert_uint_eq(a->ntags, 0);
    ck_assert_str_eq(statusset_format(&a->status, buf, sizeof(buf)), "200,301-308");
    ck_assert_str_eq(a->body, "Bienvenue");
    ck_assert_str_eq(a->body_regex, "^<!DOCTYPE (html|HTML)");
    ck_assert_int_eq(regexec(&a->body_re, "<!DOCTYPE HTML>", 0, NULL, 0), 0);
    ck_assert_int_ne(regexec(&a->body_re, " <!DOCTYPE html>", 0, NULL, 0), 0);
    ck_assert_uint_eq(a->max_bytes, 256 * 1024);

    ck_assert_uint_eq(m->line, 31);
    ck_assert_int_eq(m->http, HTTPV_AUTO);
    ck_assert_uint_eq(m->njdma, 0);
    config_free(c);
    config_free(NULL);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* Many probes in many files: sorted, all findable. */
START_TEST(test_many_probes)
{
    char *dir = test_mkdtemp();
    char *path = join(dir, "vigie.yaml");
    struct config *c = NULL;
    struct diag d;
    char name[64], id[32], *text;
    size_t cap = 200 * 80, len;

    free(test_write(dir, "vigie.yaml", V));
    text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    for (int f = 0; f < 10; f++) {
        len = (size_t)snprintf(text, cap, "group: G%d\nprobes:\n", f);
        for (int i = 0; i < 100; i++)
            len += (size_t)snprintf(text + len, cap - len,
                                    "  - id: p%04d\n    url: https://h.example.org/\n",
                                    ((f * 100 + i) * 611) % 1000);
        snprintf(name, sizeof(name), "probes.d/f%d.yaml", f);
        free(test_write(dir, name, text));
    }
    free(text);
    diag_init(&d);
    ck_assert_int_eq(config_load(path, &c, &d), 0);
    ck_assert_uint_eq(c->nprobes, 1000);
    for (size_t i = 1; i < c->nprobes; i++)
        ck_assert_int_lt(strcmp(c->probes[i - 1].id, c->probes[i].id), 0);
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof(id), "p%04d", i);
        ck_assert_ptr_nonnull(config_find(c, id));
        ck_assert_str_eq(config_find(c, id)->id, id);
    }
    config_free(c);
    diag_fini(&d);
    test_rmtree(dir);
    free(path);
    free(dir);
}
END_TEST

static bool dir_has_yaml(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    bool found = false;

    if (!d)
        return false;
    while (!found && (de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);

        found = de->d_name[0] != '.' && n > 5 && strcmp(de->d_name + n - 5, ".yaml") == 0;
    }
    closedir(d);
    return found;
}

START_TEST(test_shipped_config)
{
    const char *src = getenv("VIGIE_SRCDIR");
    struct config *c = NULL;
    char *path, *probes, *dump;
    struct diag d;
    int rc;

    if (!src) {
        fprintf(stderr, "note: VIGIE_SRCDIR is not set, shipped configuration not checked\n");
        return;
    }
    path = join(src, "vigie.yaml");
    probes = join(src, "probes.d");
    if (!dir_has_yaml(probes) || access(path, R_OK) != 0) {
        fprintf(stderr, "note: %s or %s/*.yaml missing, shipped configuration not checked yet\n",
                path, probes);
        free(path);
        free(probes);
        return;
    }
    diag_init(&d);
    rc = config_load(path, &c, &d);
    dump = diag_dump(&d);
    ck_assert_msg(rc == 0, "the shipped configuration does not load:\n%s", dump);
    ck_assert_uint_eq(c->nprobes, 177);
    ck_assert_uint_eq(c->nfiles, 22);
    for (size_t i = 0; i < c->nprobes; i++)
        ck_assert_msg(c->probes[i].njdma > 0, "probe %s (%s:%u) has no jdma id", c->probes[i].id,
                      c->probes[i].file, c->probes[i].line);
    config_free(c);
    free(dump);
    diag_fini(&d);
    free(path);
    free(probes);
}
END_TEST

/* ---- ydoc ---- */

START_TEST(test_ydoc_tree)
{
    char *dir = test_mkdtemp();
    char *path = test_write(dir, "t.yaml",
                            "# comment\n"
                            "a: 1\n"
                            "list:\n"
                            "  - plain\n"
                            "  - \"quoted\"\n"
                            "  - {k: v, n: ~}\n"
                            "\"a\": dup\n"
                            "e:\n");
    const struct ydoc_node *root, *list, *m;
    struct ydoc *doc = NULL;
    struct diag d;
    size_t len = 0;

    diag_init(&d);
    ck_assert_int_eq(ydoc_load(path, &doc, &d), 0);
    ck_assert_uint_eq(d.n, 0);
    ck_assert_str_eq(ydoc_path(doc), path);
    root = ydoc_root(doc);
    ck_assert_int_eq(ydoc_kind(root), YDOC_MAPPING);
    ck_assert_uint_eq(ydoc_line(root), 2);
    ck_assert_uint_eq(ydoc_col(root), 1);
    ck_assert_uint_eq(ydoc_count(root), 4);
    ck_assert_str_eq(ydoc_scalar(ydoc_key(root, 0), NULL), "a");
    ck_assert_str_eq(ydoc_scalar(ydoc_get(root, "a"), &len), "1");
    ck_assert_uint_eq(len, 1);
    ck_assert_uint_eq(ydoc_col(ydoc_get(root, "a")), 4);
    list = ydoc_get(root, "list");
    ck_assert_int_eq(ydoc_kind(list), YDOC_SEQUENCE);
    ck_assert_str_eq(ydoc_describe(list), "a sequence");
    ck_assert_uint_eq(ydoc_count(list), 3);
    ck_assert_ptr_null(ydoc_scalar(list, NULL));
    ck_assert(ydoc_is_plain(ydoc_item(list, 0)));
    ck_assert(!ydoc_is_plain(ydoc_item(list, 1)));
    ck_assert_uint_eq(ydoc_line(ydoc_item(list, 1)), 5);
    ck_assert_uint_eq(ydoc_col(ydoc_item(list, 1)), 5);
    ck_assert_ptr_null(ydoc_item(list, 3));
    ck_assert_ptr_null(ydoc_key(list, 0));
    m = ydoc_item(list, 2);
    ck_assert_str_eq(ydoc_describe(m), "a mapping");
    ck_assert(ydoc_is_null(ydoc_get(m, "n")));
    ck_assert(!ydoc_is_null(ydoc_get(m, "k")));
    ck_assert_ptr_null(ydoc_get(m, "zz"));
    ck_assert_ptr_null(ydoc_value(m, 2));
    /* quoted "a" is the same key: ydoc keeps both, duplicates are the loader's business */
    ck_assert_str_eq(ydoc_scalar(ydoc_value(root, 2), NULL), "dup");
    ck_assert(ydoc_is_null(ydoc_get(root, "e")));
    ck_assert_str_eq(ydoc_describe(ydoc_get(root, "e")), "an empty value");
    ck_assert_str_eq(ydoc_file(ydoc_get(root, "e")), path);
    ydoc_free(doc);
    ydoc_free(NULL);
    diag_fini(&d);
    test_rmtree(dir);
    free(path);
    free(dir);
}
END_TEST

START_TEST(test_ydoc_errors)
{
    static const struct {
        const char *content;
        const char *expect;
    } cases[] = {
        {"a: [1, 2\n", "t.yaml:2:1: syntax error: "},
        {"a: b: c\n", "t.yaml:1:5: syntax error: mapping values are not allowed"},
        {"a: 'x\n", "t.yaml:2:1: syntax error: found unexpected end of stream"},
        {"a: \"\\q\"\n", "t.yaml:1:5: syntax error: found unknown escape character"},
        {"a: \x01\n", "t.yaml:1:4: invalid character: control characters are not allowed"},
        {"a: \xc3\n", "t.yaml:1:5: invalid UTF-8: invalid trailing UTF-8 octet #x0A"},
        {"!!map &x {}\n", "t.yaml:1:1: =anchors and aliases are not supported"},
        {"--- a\n--- b\n", "t.yaml:2:1: =only one document per file"},
    };
    char *dir = test_mkdtemp();

    for (int i = 0; i < N(cases); i++) {
        char *path = test_write(dir, "t.yaml", cases[i].content);
        struct ydoc *doc = (struct ydoc *)&doc;
        struct diag d;

        diag_init(&d);
        ck_assert_int_lt(ydoc_load(path, &doc, &d), 0);
        ck_assert_ptr_null(doc);
        check_diag(&d, &cases[i].expect, 1);
        diag_fini(&d);
        free(path);
    }
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_ydoc_directory)
{
    char *dir = test_mkdtemp();
    struct ydoc *doc = NULL;
    struct diag d;

    diag_init(&d);
    ck_assert_int_lt(ydoc_load(dir, &doc, &d), 0);
    ck_assert_uint_eq(d.n, 1);
    ck_assert_str_eq(d.v[0].msg, "cannot read: Is a directory");
    diag_fini(&d);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- diag ---- */

START_TEST(test_diag_print)
{
    struct diag d;
    char *out;

    diag_init(&d);
    diag_add(&d, "a.yaml", 3, 7, "bad %s", "thing");
    diag_add(&d, "b.yaml", 0, 0, "empty file");
    diag_add(&d, "c.yaml", 4, 0, "line only");
    diag_add(&d, NULL, 0, 0, "no file");
    out = diag_dump(&d);
    ck_assert_str_eq(out, "a.yaml:3:7: bad thing\nb.yaml: empty file\nc.yaml:4: line only\n"
                          "(config): no file\n");
    free(out);
    diag_fini(&d);
    ck_assert_uint_eq(d.n, 0);
    ck_assert_ptr_null(d.v);
    diag_fini(&d);
}
END_TEST

START_TEST(test_diag_cap)
{
    struct diag d;
    char *out, *tail;

    diag_init(&d);
    for (int i = 0; i < DIAG_MAX + 5; i++)
        diag_add(&d, "f", (unsigned)i + 1, 1, "error %d", i);
    ck_assert_uint_eq(d.n, DIAG_MAX);
    ck_assert_str_eq(d.v[DIAG_MAX - 1].msg, "error 999");
    out = diag_dump(&d);
    tail = strstr(out, "f:1000:1: error 999\n");
    ck_assert_ptr_nonnull(tail);
    ck_assert_str_eq(tail, "f:1000:1: error 999\n... and 5 more errors\n");
    free(out);
    diag_fini(&d);
    diag_add(&d, "g", 1, 1, "again");
    ck_assert_uint_eq(d.n, 1);
    out = diag_dump(&d);
    ck_assert_str_eq(out, "g:1:1: again\n");
    free(out);
    diag_fini(&d);
}
END_TEST

Suite *config_suite(void); /* called by tests/harness/runner.c */

Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("errors");

    tcase_set_timeout(tc, test_timeout(10));
    tcase_add_loop_test(tc, test_errors, 0, N(ecases));
    tcase_add_test(tc, test_missing_vigie_yaml);
    tcase_add_test(tc, test_huge_file);
    suite_add_tcase(s, tc);

    tc = tcase_create("load");
    tcase_set_timeout(tc, test_timeout(10));
    tcase_add_test(tc, test_cascade);
    tcase_add_test(tc, test_builtin_defaults);
    tcase_add_test(tc, test_user_agent);
    tcase_add_test(tc, test_relative_dirs);
    tcase_add_test(tc, test_probe_fields);
    tcase_add_test(tc, test_many_probes);
    tcase_add_test(tc, test_shipped_config);
    suite_add_tcase(s, tc);

    tc = tcase_create("ydoc");
    tcase_set_timeout(tc, test_timeout(10));
    tcase_add_test(tc, test_ydoc_tree);
    tcase_add_test(tc, test_ydoc_errors);
    tcase_add_test(tc, test_ydoc_directory);
    suite_add_tcase(s, tc);

    tc = tcase_create("diag");
    tcase_add_test(tc, test_diag_print);
    tcase_add_test(tc, test_diag_cap);
    suite_add_tcase(s, tc);
    return s;
}
