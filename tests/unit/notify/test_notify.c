/* notify against real receivers on loopback: the test server's webhook sink and SMTP listeners,
 * exec'd shell scripts, and a real Alertmanager (Debian's prometheus-alertmanager). Every test
 * loads a real vigie.yaml with config_load, runs notify on its own loop and closes it cleanly. */
#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "base/diag.h"
#include "net/httpc.h"
#include "notify/notify.h"
#include "testutil.h"

#define AM_BIN TEST_ALERTMANAGER

struct env {
    char *dir;
    char spool[600];
    struct config *cfg;
    uv_loop_t loop;
    uv_timer_t poll;
    struct httpc *h;
    struct notify *n;
    bool (*pred)(struct env *e);
    uint64_t want;
    bool met;
    uint64_t deadline;
};

static void on_closed(void *arg)
{
    *(int *)arg = 1;
}

/* Writes vigie.yaml (the `receivers:` given, printf-style) with one probe, loads it. */
static void env_config(struct env *e, const char *fmt, va_list ap)
{
    char yaml[8192];
    char *path;
    struct diag d;
    int err;

    vsnprintf(yaml, sizeof(yaml), fmt, ap);
    free(test_write(e->dir, "probes.d/a.yaml",
                    "group: G\nprobes:\n  - id: a\n    url: http://127.0.0.1:1/\n"));
    path = test_write(e->dir, "vigie.yaml", yaml);
    diag_init(&d);
    err = config_load(path, &e->cfg, &d);
    if (err)
        diag_print(&d, stderr);
    ck_assert_int_eq(err, 0);
    diag_fini(&d);
    free(path);
}

static void env_start(struct env *e)
{
    ck_assert_int_eq(uv_loop_init(&e->loop), 0);
    ck_assert_int_eq(uv_timer_init(&e->loop, &e->poll), 0);
    e->h = httpc_new(&e->loop);
    ck_assert_ptr_nonnull(e->h);
    ck_assert_int_eq(notify_new(&e->loop, e->h, e->cfg, e->spool, &e->n), 0);
}

static void env_init(struct env *e)
{
    memset(e, 0, sizeof(*e));
    signal(SIGPIPE, SIG_IGN); /* what vigie run does: exec receivers write to pipes */
    e->dir = test_mkdtemp();
    /* two levels that do not exist yet, like the default state/spool */
    snprintf(e->spool, sizeof(e->spool), "%s/state/spool", e->dir);
}

static void env_load(struct env *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void env_load(struct env *e, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    env_config(e, fmt, ap);
    va_end(ap);
}

static void env_up(struct env *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void env_up(struct env *e, const char *fmt, ...)
{
    va_list ap;

    env_init(e);
    va_start(ap, fmt);
    env_config(e, fmt, ap);
    va_end(ap);
    env_start(e);
}

/* Closes notify, then httpc (the documented order), then the loop, which must end empty. */
static void env_stop(struct env *e)
{
    int nclosed = 0, hclosed = 0;

    notify_close(e->n, on_closed, &nclosed);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(nclosed, 1);
    httpc_close(e->h, on_closed, &hclosed);
    uv_close((uv_handle_t *)&e->poll, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(hclosed, 1);
    ck_assert_int_eq(uv_loop_close(&e->loop), 0);
    e->n = NULL;
    e->h = NULL;
}

static void env_down(struct env *e)
{
    env_stop(e);
    config_free(e->cfg);
    test_rmtree(e->dir);
    free(e->dir);
}

static void on_poll(uv_timer_t *t)
{
    struct env *e = t->data;

    if (e->pred(e)) {
        e->met = true;
        uv_stop(&e->loop);
    } else if (uv_now(&e->loop) >= e->deadline) {
        uv_stop(&e->loop);
    }
}

/* Runs the loop until pred holds (true) or `ms` pass (false). */
static bool run_until(struct env *e, bool (*pred)(struct env *), uint64_t want, uint64_t ms)
{
    e->pred = pred;
    e->want = want;
    e->met = false;
    uv_update_time(&e->loop);
    e->deadline = uv_now(&e->loop) + ms;
    e->poll.data = e;
    uv_timer_start(&e->poll, on_poll, 10, 10);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    uv_timer_stop(&e->poll);
    return e->met;
}

static bool never(struct env *e)
{
    (void)e;
    return false;
}

static bool sent_at_least(struct env *e)
{
    struct notify_stats st;

    notify_stats(e->n, &st);
    return st.sent >= e->want;
}

static bool retried_at_least(struct env *e)
{
    struct notify_stats st;

    notify_stats(e->n, &st);
    return st.retried >= e->want;
}

/* Files in dir whose name starts with prefix (not temporaries). */
static size_t count_files(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;

    if (!d)
        return 0;
    while ((de = readdir(d)) != NULL)
        n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

/* At least `want` notification files in the spool. */
static bool spool_has(struct env *e)
{
    DIR *d = opendir(e->spool);
    struct dirent *de;
    size_t n = 0;

    while (d && (de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);

        n += de->d_name[0] != '.' && len > 5 && strcmp(de->d_name + len - 5, ".json") == 0;
    }
    if (d)
        closedir(d);
    return n >= e->want;
}

/* The recorded files DIR/<prefix>-N<ext> of the test server holding `needle`, in arrival order
 * (N ascending), concatenated with a "\n====\n" separator; their number in *count. */
static int cmp_uint(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

    return x < y ? -1 : x > y;
}

static char *records(const char *prefix, const char *ext, const char *needle, size_t *count)
{
    size_t cap = 1 << 16, len = 0, n = 0, ncap = 64;
    unsigned *nums = malloc(ncap * sizeof(*nums));
    char *all = malloc(cap);
    DIR *d = opendir(test_srv.dir);
    struct dirent *de;

    ck_assert_ptr_nonnull(all);
    ck_assert_ptr_nonnull(nums);
    ck_assert_ptr_nonnull(d);
    all[0] = '\0';
    *count = 0;
    while ((de = readdir(d)) != NULL) {
        size_t pl = strlen(prefix), nl = strlen(de->d_name), el = strlen(ext);
        char *end;
        unsigned long v;

        if (nl <= pl + 1 + el || strncmp(de->d_name, prefix, pl) != 0 || de->d_name[pl] != '-' ||
            strcmp(de->d_name + nl - el, ext) != 0)
            continue;
        v = strtoul(de->d_name + pl + 1, &end, 10);
        if (end != de->d_name + nl - el)
            continue;
        if (n == ncap) {
            unsigned *bigger = realloc(nums, ncap * 2 * sizeof(*nums));

            ck_assert_ptr_nonnull(bigger);
            nums = bigger;
            ncap *= 2;
        }
        nums[n++] = (unsigned)v;
    }
    closedir(d);
    qsort(nums, n, sizeof(*nums), cmp_uint);
    for (size_t i = 0; i < n; i++) {
        char path[512];
        char *text;
        size_t tlen;

        snprintf(path, sizeof(path), "%s/%s-%u%s", test_srv.dir, prefix, nums[i], ext);
        text = test_slurp(path, &tlen);
        if (strstr(text, needle)) {
            while (len + tlen + 8 > cap) {
                char *bigger = realloc(all, cap * 2);

                ck_assert_ptr_nonnull(bigger);
                all = bigger;
                cap *= 2;
            }
            memcpy(all + len, text, tlen);
            len += tlen;
            memcpy(all + len, "\n====\n", 7);
            len += 6;
            (*count)++;
        }
        free(text);
    }
    free(nums);
    return all;
}

/* Sends this process's stderr (the log) to a file until stderr_end; returns the saved fd. */
static int stderr_begin(const char *path)
{
    int saved = dup(2), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    dup2(fd, 2);
    close(fd);
    return saved;
}

/* Restores stderr; returns what was logged meanwhile (caller frees), echoed to stderr. */
static char *stderr_end(int saved, const char *path)
{
    char *text;

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    text = test_slurp(path, NULL);
    fputs(text, stderr);
    return text;
}

static size_t occurrences(const char *text, const char *needle)
{
    size_t n = 0;

    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* A notification with n alerts (probes p1..pn) in the documented format. */
static json_t *notif(const char *id, const char *receiver, const char *status, int n,
                     const char *title)
{
    json_t *alerts = json_array();

    for (int i = 1; i <= n; i++) {
        char probe[32], name[64], url[64];
        json_t *a;

        snprintf(probe, sizeof(probe), "p%d", i);
        snprintf(name, sizeof(name), "Procédure %d", i);
        snprintf(url, sizeof(url), "https://example.org/p%d", i);
        a = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:f}", "probe", probe, "name",
                      name, "group", "Ministère X", "url", url, "kind", "down", "severity",
                      "critical", "status", status, "since", "2026-11-29T00:00:00Z", "summary",
                      "connect: connection refused", "value", 1.5);
        ck_assert_ptr_nonnull(a);
        json_object_set_new(a, "ends",
                            strcmp(status, "resolved") == 0 ? json_string("2026-11-29T00:05:00Z")
                                                            : json_null());
        json_array_append_new(alerts, a);
    }
    json_t *j =
        json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "version", 1, "id", id, "route",
                  "oncall", "receiver", receiver, "group", "Ministère X", "created",
                  "2026-11-29T00:00:01Z", "status", status, "title", title, "alerts", alerts);
    ck_assert_ptr_nonnull(j);
    return j;
}

static void submit(struct env *e, const char *id, const char *receiver, const char *status, int n,
                   const char *title)
{
    json_t *j = notif(id, receiver, status, n, title);

    ck_assert_int_eq(notify_submit(e->n, j), 0);
    json_decref(j);
}

static void assert_has(const char *text, const char *needle)
{
    ck_assert_msg(strstr(text, needle) != NULL, "expected %s in:\n%s", needle, text);
}

/* ---- webhook ---- */

START_TEST(webhook_vigie_json)
{
    struct env e;
    struct notify_stats st;
    size_t count;
    char *got;

    env_init(&e);
    free(test_write(e.dir, "token.txt", "s3cr3t-token\n"));
    env_load(&e,
             "receivers:\n"
             "  - name: hook\n"
             "    type: webhook\n"
             "    url: http://127.0.0.1:%d/sink/vigie-json\n"
             "    headers: {X-Team: oncall}\n"
             "    token_file: token.txt\n",
             test_srv.http);
    {
        char logf[700];
        char *log;
        int saved;

        snprintf(logf, sizeof(logf), "%s/log.txt", e.dir);
        saved = stderr_begin(logf);
        env_start(&e);
        submit(&e, "n-1", "hook", "firing", 2, "2 procedures of Ministère X down");
        ck_assert(run_until(&e, sent_at_least, 1, 5000 * (uint64_t)test_timeout(1)));
        log = stderr_end(saved, logf);
        ck_assert_msg(strstr(log, "s3cr3t") == NULL, "the token was logged");
        free(log);
    }
    got = records("sink", ".req", "/sink/vigie-json", &count);
    ck_assert_uint_eq(count, 1);
    assert_has(got, "POST /sink/vigie-json HTTP/1.1");
    assert_has(got, "Content-Type: application/json");
    assert_has(got, "Authorization: Bearer s3cr3t-token");
    assert_has(got, "X-Team: oncall");
    assert_has(got, "\"id\":\"n-1\"");
    assert_has(got, "\"title\":\"2 procedures of Ministère X down\"");
    assert_has(got, "\"probe\":\"p2\"");
    notify_stats(e.n, &st);
    ck_assert_uint_eq(st.sent, 1);
    ck_assert_uint_eq(st.pending, 0);
    ck_assert_uint_eq(st.retried, 0);
    ck_assert_uint_eq(st.spool_errors, 0); /* state/spool was created, parents included */
    /* accepted: the spool file goes */
    e.want = 0;
    ck_assert(run_until(&e, never, 0, 200) == false);
    ck_assert_uint_eq(count_files(e.spool, "n-1"), 0);
    free(got);
    env_down(&e);
}
END_TEST

START_TEST(webhook_chat_templates)
{
    struct env e;
    size_t count;
    char *got;

    env_up(&e,
           "receivers:\n"
           "  - {name: slack, type: webhook, template: slack,\n"
           "     url: 'http://127.0.0.1:%d/sink/slack'}\n"
           "  - {name: mm, type: webhook, template: mattermost,\n"
           "     url: 'http://127.0.0.1:%d/sink/mattermost'}\n",
           test_srv.http, test_srv.http);
    submit(&e, "s-1", "slack", "firing", 2, "2 procedures of X <down> & out");
    submit(&e, "m-1", "mm", "resolved", 1, "1 procedure of X back");
    ck_assert(run_until(&e, sent_at_least, 2, 5000 * (uint64_t)test_timeout(1)));
    got = records("sink", ".req", "/sink/slack", &count);
    ck_assert_uint_eq(count, 1);
    assert_has(got, "{\"text\":\"*[FIRING]* 2 procedures of X &lt;down&gt; &amp; out\\n");
    assert_has(got, "<https://example.org/p1|Procédure 1>");
    free(got);
    got = records("sink", ".req", "/sink/mattermost", &count);
    ck_assert_uint_eq(count, 1);
    assert_has(got, "{\"text\":\"**[RESOLVED]** 1 procedure of X back\\n");
    assert_has(got, "[Procédure 1](https://example.org/p1)");
    free(got);
    env_down(&e);
}
END_TEST

/* A receiver down for a while (503), then back: every notification arrives, in order. */
START_TEST(webhook_down_then_back)
{
    struct env e;
    struct notify_stats st;
    char flag[600], id[16];
    size_t count;
    char *got, *p;

    snprintf(flag, sizeof(flag), "%s/hook-down", test_srv.dir);
    free(test_write(test_srv.dir, "hook-down", "1"));
    env_up(&e,
           "receivers:\n"
           "  - name: hook\n"
           "    type: webhook\n"
           "    url: http://127.0.0.1:%d/sink/down-back?down=hook-down\n"
           "    backoff_min: 100ms\n"
           "    backoff_max: 400ms\n",
           test_srv.http);
    {
        char logf[700];
        char *log;
        int saved;

        snprintf(logf, sizeof(logf), "%s/log.txt", e.dir);
        saved = stderr_begin(logf);
        for (int i = 0; i < 5; i++) {
            snprintf(id, sizeof(id), "d-%d", i);
            submit(&e, id, "hook", "firing", 1, id);
        }
        ck_assert(run_until(&e, retried_at_least, 4, 5000 * (uint64_t)test_timeout(1)));
        log = stderr_end(saved, logf);
        /* logged once for the cause, not once per retry */
        ck_assert_uint_eq(occurrences(log, "receiver \"hook\": HTTP status 503"), 1);
        free(log);
    }
    notify_stats(e.n, &st);
    ck_assert_uint_eq(st.sent, 0);
    ck_assert_uint_eq(st.pending, 5);
    ck_assert_uint_eq(count_files(e.spool, "d-"), 5);
    /* every retry is one attempt on the head: the queue does not hammer the receiver */
    ck_assert_uint_le(st.retried, 12);
    unlink(flag);
    ck_assert(run_until(&e, sent_at_least, 5, 5000 * (uint64_t)test_timeout(1)));
    got = records("sink", ".req", "/sink/down-back", &count);
    ck_assert_uint_eq(count, 5);
    p = got;
    for (int i = 0; i < 5; i++) {
        char needle[32];

        snprintf(needle, sizeof(needle), "\"id\":\"d-%d\"", i);
        p = strstr(p, needle);
        ck_assert_msg(p != NULL, "d-%d missing or out of order in:\n%s", i, got);
    }
    notify_stats(e.n, &st);
    ck_assert_uint_eq(st.pending, 0);
    ck_assert(run_until(&e, never, 0, 200) == false);
    ck_assert_uint_eq(count_files(e.spool, "d-"), 0);
    free(got);
    env_down(&e);
}
END_TEST

/* A burst (a lockdown-like wave of transitions, after grouping): every notification is spooled,
 * delivered in order and removed; the figures go to stderr for the record. */
START_TEST(webhook_burst)
{
    enum { N = 200 };
    struct env e;
    struct notify_stats st;
    uint64_t t0, ms;
    size_t count;
    char id[16], *got, *p;

    env_up(&e,
           "receivers:\n  - {name: hook, type: webhook, url: 'http://127.0.0.1:%d/sink/burst'}\n",
           test_srv.http);
    t0 = uv_hrtime();
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "b-%03d", i);
        submit(&e, id, "hook", "firing", 12, id);
    }
    ms = (uv_hrtime() - t0) / 1000000;
    ck_assert_uint_lt(ms, 1000); /* handing over is cheap: the loop never waits for the disk */
    ck_assert(run_until(&e, sent_at_least, N, 20000 * (uint64_t)test_timeout(1)));
    ms = (uv_hrtime() - t0) / 1000000;
    fprintf(stderr,
            "webhook_burst: %d notifications of 12 alerts spooled and delivered in %llu ms "
            "(%.0f/s)\n",
            N, (unsigned long long)ms, ms ? N * 1000.0 / (double)ms : 0.0);
    notify_stats(e.n, &st);
    ck_assert_uint_eq(st.pending, 0);
    ck_assert_uint_eq(st.retried, 0);
    got = records("sink", ".req", "/sink/burst", &count);
    ck_assert_uint_eq(count, N);
    p = got;
    for (int i = 0; i < N; i++) {
        char needle[32];

        snprintf(needle, sizeof(needle), "\"id\":\"b-%03d\"", i);
        p = strstr(p, needle);
        ck_assert_msg(p != NULL, "b-%03d missing or out of order", i);
    }
    free(got);
    ck_assert(run_until(&e, never, 0, 300) == false);
    ck_assert_uint_eq(count_files(e.spool, "b-"), 0);
    env_down(&e);
}
END_TEST

/* Reloads: a receiver removed keeps its notifications in the spool (orphaned), one named again
 * gets them. */
START_TEST(reload_orphans_and_back)
{
    struct env e;
    struct notify_stats st;
    struct config *old;
    char flag[600];
    size_t count;
    char *got;

    snprintf(flag, sizeof(flag), "%s/reload-down", test_srv.dir);
    free(test_write(test_srv.dir, "reload-down", "1"));
    env_up(&e,
           "receivers:\n"
           "  - {name: hook, type: webhook, backoff_min: 100ms, backoff_max: 100ms,\n"
           "     url: 'http://127.0.0.1:%d/sink/reload?down=reload-down'}\n",
           test_srv.http);
    submit(&e, "o-1", "hook", "firing", 1, "one");
    ck_assert(run_until(&e, retried_at_least, 1, 5000 * (uint64_t)test_timeout(1)));
    old = e.cfg;
    env_load(&e, "receivers:\n  - {name: other, type: webhook, url: 'http://127.0.0.1:%d/x'}\n",
             test_srv.http);
    notify_reload(e.n, e.cfg);
    config_free(old);
    unlink(flag);
    ck_assert(run_until(&e, sent_at_least, 1, 500) == false);
    notify_stats(e.n, &st);
    ck_assert_uint_eq(st.pending, 1);
    ck_assert_uint_eq(st.orphaned, 1);
    ck_assert_uint_eq(count_files(e.spool, "o-1.json"), 1);
    old = e.cfg;
    env_load(&e,
             "receivers:\n"
             "  - {name: hook, type: webhook, url: "
             "'http://127.0.0.1:%d/sink/reload?down=reload-down'}\n",
             test_srv.http);
    notify_reload(e.n, e.cfg);
    config_free(old);
    ck_assert(run_until(&e, sent_at_least, 1, 5000 * (uint64_t)test_timeout(1)));
    notify_stats(e.n, &st);
    ck_assert_uint_eq(st.orphaned, 0);
    got = records("sink", ".req", "/sink/reload", &count);
    ck_assert_uint_eq(count, 1);
    free(got);
    env_down(&e);
}
END_TEST

START_TEST(rate_limit_holds_excess)
{
    struct env e;
    struct notify_stats st;
    size_t count;
    char id[16];
    char *got;

    env_up(&e,
           "receivers:\n"
           "  - {name: hook, type: webhook, rate_limit: 2,\n"
           "     url: 'http://127.0.0.1:%d/sink/rate'}\n",
           test_srv.http);
    for (int i = 0; i < 4; i++) {
        snprintf(id, sizeof(id), "r-%d", i);
        submit(&e, id, "hook", "firing", 1, id);
    }
    ck_assert(run_until(&e, sent_at_least, 2, 5000 * (uint64_t)test_timeout(1)));
    ck_assert(run_until(&e, sent_at_least, 3, 500) == false);
    notify_stats(e.n, &st);
    ck_assert_uint_eq(st.sent, 2);
    ck_assert_uint_eq(st.pending, 2);
    ck_assert_uint_eq(st.held, 2);
    ck_assert_uint_eq(count_files(e.spool, "r-"), 2);
    got = records("sink", ".req", "/sink/rate", &count);
    ck_assert_uint_eq(count, 2);
    free(got);
    env_down(&e);
}
END_TEST

START_TEST(submit_refusals)
{
    struct env e;
    json_t *j;

    env_up(&e, "receivers:\n  - {name: hook, type: webhook, url: 'http://127.0.0.1:%d/sink/r'}\n",
           test_srv.http);
    j = notif("x-1", "nobody", "firing", 1, "t");
    ck_assert_int_eq(notify_submit(e.n, j), -ENOENT);
    json_decref(j);
    j = notif("../etc", "hook", "firing", 1, "t");
    ck_assert_int_eq(notify_submit(e.n, j), -EINVAL);
    json_decref(j);
    j = notif("x-2", "hook", "burning", 1, "t");
    ck_assert_int_eq(notify_submit(e.n, j), -EINVAL);
    json_decref(j);
    j = notif("x-3", "hook", "firing", 1, "t");
    json_object_del(j, "alerts");
    ck_assert_int_eq(notify_submit(e.n, j), -EINVAL);
    json_decref(j);
    j = notif("x-4", "hook", "firing", 1, "t");
    ck_assert_int_eq(notify_submit(e.n, j), 0);
    ck_assert_int_eq(notify_submit(e.n, j), -EEXIST);
    json_decref(j);
    {
        char a[64], b[64];

        ck_assert_int_eq(notify_make_id(e.n, a, sizeof(a)), 0);
        ck_assert_int_eq(notify_make_id(e.n, b, sizeof(b)), 0);
        ck_assert_str_ne(a, b);
        ck_assert_int_eq(notify_make_id(e.n, a, 8), -ENOSPC);
    }
    ck_assert(run_until(&e, sent_at_least, 1, 5000 * (uint64_t)test_timeout(1)));
    env_down(&e);
}
END_TEST

/* ---- spool ---- */

/* A notify instance killed with SIGKILL while notifications are pending (the receiver is down):
 * a new one on the same spool delivers them all. */
START_TEST(spool_survives_sigkill)
{
    struct env e;
    char flag[600];
    size_t count;
    pid_t pid;
    int status;
    char *got;

    snprintf(flag, sizeof(flag), "%s/kill-down", test_srv.dir);
    free(test_write(test_srv.dir, "kill-down", "1"));
    env_init(&e);
    env_load(&e,
             "receivers:\n"
             "  - {name: hook, type: webhook, backoff_min: 100ms, backoff_max: 200ms,\n"
             "     url: 'http://127.0.0.1:%d/sink/killed?down=kill-down'}\n",
             test_srv.http);
    fflush(NULL);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* the process that gets killed: its own loop, notifier and client */
        env_start(&e);
        submit(&e, "k-1", "hook", "firing", 3, "three down");
        submit(&e, "k-2", "hook", "resolved", 3, "three back");
        if (!run_until(&e, spool_has, 2, 5000) || !run_until(&e, retried_at_least, 1, 5000))
            _exit(3);
        kill(getpid(), SIGKILL);
        _exit(4);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child status %d", status);
    /* what the killed process left: the two notifications, nothing delivered */
    ck_assert_uint_eq(count_files(e.spool, "k-"), 2);
    got = records("sink", ".req", "/sink/killed", &count);
    ck_assert_uint_eq(count, 0);
    free(got);
    /* a new notifier on the same spool, the receiver back up */
    unlink(flag);
    env_start(&e);
    ck_assert(run_until(&e, sent_at_least, 2, 5000 * (uint64_t)test_timeout(1)));
    got = records("sink", ".req", "/sink/killed", &count);
    ck_assert_uint_eq(count, 2);
    ck_assert_ptr_nonnull(strstr(got, "\"id\":\"k-1\""));
    ck_assert_ptr_nonnull(strstr(strstr(got, "\"id\":\"k-1\""), "\"id\":\"k-2\""));
    ck_assert(run_until(&e, never, 0, 200) == false);
    ck_assert_uint_eq(count_files(e.spool, "k-"), 0);
    free(got);
    env_down(&e);
}
END_TEST

/* notify_close with deliveries pending leaves them in the spool; a bad file is set aside. */
START_TEST(spool_close_and_resume)
{
    struct env e;
    struct notify_stats st;
    size_t count;
    char *got;

    free(test_write(test_srv.dir, "close-down", "1"));
    env_up(&e,
           "receivers:\n"
           "  - {name: hook, type: webhook, backoff_min: 100ms, backoff_max: 200ms,\n"
           "     url: 'http://127.0.0.1:%d/sink/closed?down=close-down&delay=300'}\n",
           test_srv.http);
    submit(&e, "c-1", "hook", "firing", 1, "one");
    ck_assert(run_until(&e, spool_has, 1, 5000));
    /* close while the first attempt is in flight (the sink delays its answer) */
    env_stop(&e);
    ck_assert_uint_eq(count_files(e.spool, "c-1.json"), 1);
    free(test_write(e.spool, "garbage.json", "{not json"));
    free(test_write(e.spool, ".c-9.tmp", "{}"));
    /* The aborted attempt's request may still be waiting for the sink to read it (a loaded
     * machine): it must find the receiver down, not record a delivery nobody waits for. */
    nanosleep(&(struct timespec){.tv_sec = test_timeout(1) / 2,
                                 .tv_nsec = test_timeout(1) % 2 * 500000000L},
              NULL);
    {
        char path[700];

        snprintf(path, sizeof(path), "%s/close-down", test_srv.dir);
        unlink(path);
    }
    env_start(&e);
    ck_assert(run_until(&e, sent_at_least, 1, 5000 * (uint64_t)test_timeout(1)));
    notify_stats(e.n, &st);
    ck_assert_uint_eq(st.submitted, 1);
    got = records("sink", ".req", "/sink/closed", &count);
    ck_assert_uint_eq(count, 1);
    free(got);
    ck_assert(run_until(&e, never, 0, 200) == false);
    ck_assert_uint_eq(count_files(e.spool, "garbage.json.bad"), 1);
    ck_assert_uint_eq(count_files(e.spool, ".c-9.tmp"), 0);
    ck_assert_uint_eq(count_files(e.spool, "c-1"), 0);
    env_down(&e);
}
END_TEST

/* ---- exec ---- */

START_TEST(exec_env_and_stdin)
{
    struct env e;
    char script[4096], *path, *out, *in;
    char envf[700], inf[700];

    setenv("VIGIE_TEST_SECRET", "must-not-leak", 1);
    env_init(&e);
    snprintf(envf, sizeof(envf), "%s/env.txt", e.dir);
    snprintf(inf, sizeof(inf), "%s/stdin.json", e.dir);
    snprintf(script, sizeof(script), "#!/bin/sh\nenv > %s.tmp && mv %s.tmp %s\ncat > %s\n", envf,
             envf, envf, inf);
    path = test_write(e.dir, "hook.sh", script);
    chmod(path, 0755);
    env_load(&e,
             "receivers:\n  - name: run\n    type: exec\n    command: [%s, --flag, 'two words']\n"
             "    timeout: 5s\n",
             path);
    env_start(&e);
    submit(&e, "e-1", "run", "firing", 2, "2 procedures of Ministère X down");
    ck_assert(run_until(&e, sent_at_least, 1, 5000 * (uint64_t)test_timeout(1)));
    out = test_slurp(envf, NULL);
    assert_has(out, "VIGIE_STATUS=firing\n");
    assert_has(out, "VIGIE_TITLE=2 procedures of Ministère X down\n");
    assert_has(out, "VIGIE_ROUTE=oncall\n");
    assert_has(out, "VIGIE_GROUP=Ministère X\n");
    assert_has(out, "VIGIE_COUNT=2\n");
    assert_has(out, "VIGIE_PROBES=p1 p2\n");
    assert_has(out, "VIGIE_KINDS=down\n");
    assert_has(out, "VIGIE_SEVERITY=critical\n");
    assert_has(out, "VIGIE_ID=e-1\n");
    ck_assert_msg(strstr(out, "must-not-leak") == NULL, "the daemon's environment leaked");
    in = test_slurp(inf, NULL);
    assert_has(in, "\"id\":\"e-1\"");
    assert_has(in, "\"alerts\":[");
    free(out);
    free(in);
    free(path);
    env_down(&e);
}
END_TEST

/* A program that hangs is killed at its timeout; one that fails is retried until it succeeds. */
START_TEST(exec_timeout_and_retry)
{
    struct env e;
    struct notify_stats st;
    char script[4096], *path, flag[700], done[700];
    uint64_t t0;

    env_init(&e);
    snprintf(flag, sizeof(flag), "%s/hang", e.dir);
    snprintf(done, sizeof(done), "%s/done", e.dir);
    free(test_write(e.dir, "hang", "1"));
    snprintf(script, sizeof(script),
             "#!/bin/sh\nif [ -e %s ]; then sleep 30; fi\ncat > /dev/null\necho ok >> %s\n", flag,
             done);
    path = test_write(e.dir, "hook.sh", script);
    chmod(path, 0755);
    env_load(&e,
             "receivers:\n  - {name: run, type: exec, command: [%s], timeout: 300ms,\n"
             "     backoff_min: 100ms, backoff_max: 200ms}\n",
             path);
    env_start(&e);
    t0 = uv_hrtime();
    submit(&e, "t-1", "run", "firing", 1, "one");
    ck_assert(run_until(&e, retried_at_least, 2, 5000 * (uint64_t)test_timeout(1)));
    /* two timeouts of 300 ms, not two sleeps of 30 s */
    ck_assert_uint_lt((uv_hrtime() - t0) / 1000000, 3000 * (uint64_t)test_timeout(1));
    notify_stats(e.n, &st);
    ck_assert_uint_eq(st.sent, 0);
    ck_assert_int_ne(access(done, F_OK), 0);
    unlink(flag);
    ck_assert(run_until(&e, sent_at_least, 1, 5000 * (uint64_t)test_timeout(1)));
    ck_assert_int_eq(access(done, F_OK), 0);
    free(path);
    env_down(&e);
}
END_TEST

/* ---- smtp ---- */

START_TEST(smtp_starttls_auth)
{
    struct env e;
    size_t count;
    char *got;

    env_init(&e);
    free(test_write(e.dir, "creds/smtp-password", "p4ss\n"));
    {
        char creds[700];

        /* systemd's LoadCredential= directory: relative secret files are looked up there */
        snprintf(creds, sizeof(creds), "%s/creds", e.dir);
        setenv("CREDENTIALS_DIRECTORY", creds, 1);
    }
    env_load(&e,
             "receivers:\n"
             "  - name: mail\n"
             "    type: smtp\n"
             "    url: smtp://127.0.0.1:%d\n"
             "    from: vigie@example.org\n"
             "    to: [oncall@example.org, chef@example.org]\n"
             "    username: vigie\n"
             "    password_file: smtp-password\n"
             "    tls: {ca_file: %s}\n",
             test_srv.smtp, test_srv.ca);
    env_start(&e);
    submit(&e, "mail-1", "mail", "firing", 2, "2 procedures of Ministère X down");
    ck_assert(run_until(&e, sent_at_least, 1, 5000 * (uint64_t)test_timeout(1)));
    got = records("mail", ".eml", "mail-1.mail@vigie", &count);
    ck_assert_uint_eq(count, 1);
    assert_has(got, "X-Testsrv-From: <vigie@example.org>\r\n");
    assert_has(got, "X-Testsrv-To: <oncall@example.org>\r\n");
    assert_has(got, "X-Testsrv-To: <chef@example.org>\r\n");
    assert_has(got, "X-Testsrv-Tls: yes\r\n");
    assert_has(got, "X-Testsrv-Auth: vigie:p4ss\r\n");
    assert_has(got, "From: <vigie@example.org>\r\n");
    assert_has(got, "To: <oncall@example.org>,\r\n <chef@example.org>\r\n");
    /* "[vigie] FIRING: 2 procedures of Ministère X down" as RFC 2047 words */
    assert_has(
        got,
        "Subject: =?UTF-8?B?W3ZpZ2llXSBGSVJJTkc6IDIgcHJvY2VkdXJlcyBvZiBNaW5pc3TDqHJlIFgg?=\r\n "
        "=?UTF-8?B?ZG93bg==?=\r\n");
    assert_has(got, "Content-Type: text/plain; charset=UTF-8\r\n");
    assert_has(got, "Message-ID: <mail-1.mail@vigie>\r\n");
    assert_has(got, "\r\n\r\n[FIRING] 2 procedures of Ministère X down\r\n");
    assert_has(got, "- DOWN firing (critical): Procédure 2 [p2]\r\n");
    assert_has(got, "  https://example.org/p2\r\n");
    free(got);
    env_down(&e);
}
END_TEST

/* smtp:// with STARTTLS required (the default) never sends the mail in clear to a server that
 * does not offer STARTTLS; `starttls: optional` does. */
START_TEST(smtp_starttls_required_or_optional)
{
    struct env e;
    struct notify_stats st;
    size_t count;
    char *got;

    env_up(&e,
           "receivers:\n"
           "  - {name: strict, type: smtp, url: 'smtp://127.0.0.1:%d', from: a@example.org,\n"
           "     to: [b@example.org], backoff_min: 100ms, backoff_max: 200ms}\n"
           "  - {name: relaxed, type: smtp, url: 'smtp://127.0.0.1:%d', from: a@example.org,\n"
           "     to: [b@example.org], starttls: optional}\n",
           test_srv.smtpplain, test_srv.smtpplain);
    submit(&e, "mail-3", "strict", "firing", 1, "strict");
    submit(&e, "mail-4", "relaxed", "firing", 1, "relaxed");
    ck_assert(run_until(&e, retried_at_least, 2, 5000 * (uint64_t)test_timeout(1)));
    ck_assert(run_until(&e, sent_at_least, 1, 5000 * (uint64_t)test_timeout(1)));
    ck_assert_int_eq(notify_receiver_stats(e.n, "strict", &st), 0);
    ck_assert_uint_eq(st.sent, 0);
    ck_assert_uint_eq(st.pending, 1);
    ck_assert_int_eq(notify_receiver_stats(e.n, "relaxed", &st), 0);
    ck_assert_uint_eq(st.sent, 1);
    ck_assert_int_eq(notify_receiver_stats(e.n, "nobody", &st), -ENOENT);
    got = records("mail", ".eml", "mail-3.strict@vigie", &count);
    ck_assert_uint_eq(count, 0);
    free(got);
    got = records("mail", ".eml", "mail-4.relaxed@vigie", &count);
    ck_assert_uint_eq(count, 1);
    assert_has(got, "X-Testsrv-Tls: no\r\n");
    free(got);
    env_down(&e);
}
END_TEST

START_TEST(smtps_implicit_tls)
{
    struct env e;
    size_t count;
    char *got;

    env_up(&e,
           "receivers:\n"
           "  - {name: mail, type: smtp, url: 'smtps://127.0.0.1:%d', from: a@example.org,\n"
           "     to: [b@example.org], tls: {ca_file: '%s'}}\n",
           test_srv.smtps, test_srv.ca);
    submit(&e, "mail-2", "mail", "resolved", 1, "back");
    ck_assert(run_until(&e, sent_at_least, 1, 5000 * (uint64_t)test_timeout(1)));
    got = records("mail", ".eml", "mail-2.mail@vigie", &count);
    ck_assert_uint_eq(count, 1);
    assert_has(got, "X-Testsrv-Tls: yes\r\n");
    assert_has(got, "Subject: [vigie] RESOLVED: back\r\n");
    ck_assert_ptr_null(strstr(got, "X-Testsrv-Auth"));
    free(got);
    env_down(&e);
}
END_TEST

/* ---- alertmanager ---- */

START_TEST(alertmanager_v2)
{
    struct env e;
    int port, status;
    pid_t am;
    char *body;
    json_t *arr, *a;
    size_t i, found = 0;

    if (access(AM_BIN, X_OK) != 0) {
        fprintf(stderr,
                "SKIPPED alertmanager_v2: %s is not installed (apt-get install "
                "prometheus-alertmanager)\n",
                AM_BIN);
        return;
    }
    port = test_free_port();
    env_up(&e, "receivers:\n  - {name: am, type: alertmanager, url: 'http://127.0.0.1:%d/'}\n",
           port);
    am = test_alertmanager_start(e.dir, port);
    submit(&e, "am-1", "am", "firing", 2, "2 procedures down");
    ck_assert(run_until(&e, sent_at_least, 1, 10000 * (uint64_t)test_timeout(1)));
    body = test_http_get(port, "/api/v2/alerts", &status);
    ck_assert_int_eq(status, 200);
    arr = json_loads(body, 0, NULL);
    ck_assert_msg(json_is_array(arr), "not a JSON array: %s", body);
    json_array_foreach(arr, i, a)
    {
        json_t *labels = json_object_get(a, "labels"), *ann = json_object_get(a, "annotations");

        if (strcmp(json_string_value(json_object_get(labels, "alertname")), "down") != 0)
            continue;
        found++;
        ck_assert_str_eq(json_string_value(json_object_get(labels, "group")), "Ministère X");
        ck_assert_str_eq(json_string_value(json_object_get(labels, "severity")), "critical");
        ck_assert_str_eq(json_string_value(json_object_get(ann, "summary")),
                         "connect: connection refused");
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(a, "status"), "state")),
                         "active");
        ck_assert_ptr_nonnull(
            strstr(json_string_value(json_object_get(ann, "url")), "https://example.org/p"));
        ck_assert_str_eq(json_string_value(json_object_get(a, "startsAt")),
                         "2026-11-29T00:00:00.000Z");
    }
    ck_assert_uint_eq(found, 2);
    json_decref(arr);
    free(body);
    /* the resolution ends both: the active list no longer has them */
    submit(&e, "am-2", "am", "resolved", 2, "2 procedures back");
    ck_assert(run_until(&e, sent_at_least, 2, 10000 * (uint64_t)test_timeout(1)));
    body = test_http_get(port, "/api/v2/alerts?active=true", &status);
    ck_assert_int_eq(status, 200);
    ck_assert_msg(strstr(body, "\"probe\":\"p1\"") == NULL, "still active: %s", body);
    free(body);
    kill(am, SIGTERM);
    waitpid(am, NULL, 0);
    env_down(&e);
}
END_TEST

/* ---- configuration errors ---- */

START_TEST(bad_receivers)
{
    static const char *const expect[] = {
        "vigie.yaml:4:10: \"url\": unsupported scheme, use http:// or https://",
        "vigie.yaml:5:11: duplicate receiver name \"a\" (first defined at",
        "vigie.yaml:9:15: \"command\": \"relative/prog\" is not an absolute path",
        "vigie.yaml:13:11: \"from\": \"nobody\" is not a mail address",
        "vigie.yaml:15:20: a password needs a \"username\"",
        "missing.txt: No such file or directory",
        "vigie.yaml:16:5: key \"command\" does not apply to a receiver of type smtp",
        "vigie.yaml:19:10: \"url\": credentials do not belong in the URL (use token_file)",
        "vigie.yaml:20:15: \"headers\": no Authorization in the configuration",
        "vigie.yaml:21:5: unknown key \"tempalte\" in receiver; did you mean \"template\"?",
        "vigie.yaml:22:16: \"token_env\": environment variable \"VIGIE_TEST_NO_SUCH_VAR\" is not "
        "set",
        "vigie.yaml:24:11: \"type\": expected exec, webhook, smtp or alertmanager, found "
        "\"pager\"",
        "vigie.yaml:25:5: alertmanager receiver has no \"url\"",
        "vigie.yaml:27:14: \"timeout\": 2h out of range 100ms..1h",
        "vigie.yaml:28:18: \"backoff_max\" is shorter than \"backoff_min\"",
    };
    const char *yaml = "receivers:\n"                                 /* 1 */
                       "  - name: a\n"                                /* 2 */
                       "    type: webhook\n"                          /* 3 */
                       "    url: ftp://x/\n"                          /* 4 */
                       "  - name: a\n"                                /* 5 */
                       "    type: exec\n"                             /* 6 */
                       "  - name: e\n"                                /* 7 */
                       "    type: exec\n"                             /* 8 */
                       "    command: [relative/prog]\n"               /* 9 */
                       "  - name: m\n"                                /* 10 */
                       "    type: smtp\n"                             /* 11 */
                       "    url: smtp://127.0.0.1/\n"                 /* 12 */
                       "    from: nobody\n"                           /* 13 */
                       "    to: [ok@example.org]\n"                   /* 14 */
                       "    password_file: missing.txt\n"             /* 15 */
                       "    command: [/bin/true]\n"                   /* 16 */
                       "  - name: w\n"                                /* 17 */
                       "    type: webhook\n"                          /* 18 */
                       "    url: https://user:pw@example.org/hook\n"  /* 19 */
                       "    headers: {Authorization: \"Bearer x\"}\n" /* 20 */
                       "    tempalte: slack\n"                        /* 21 */
                       "    token_env: VIGIE_TEST_NO_SUCH_VAR\n"      /* 22 */
                       "  - name: x\n"                                /* 23 */
                       "    type: pager\n"                            /* 24 */
                       "  - name: k\n"                                /* 25 */
                       "    type: alertmanager\n"                     /* 26 */
                       "    timeout: 2h\n"                            /* 27 */
                       "    backoff_max: 100ms\n"                     /* 28 */
                       "    backoff_min: 1s\n";                       /* 29 */
    char *dir = test_mkdtemp(), *path, text[8192];
    struct config *cfg = NULL;
    struct diag d;
    size_t o = 0;

    unsetenv("VIGIE_TEST_NO_SUCH_VAR");
    free(test_write(dir, "probes.d/a.yaml", "group: G\nprobes:\n  - id: a\n    url: http://x/\n"));
    path = test_write(dir, "vigie.yaml", yaml);
    diag_init(&d);
    ck_assert_int_eq(config_load(path, &cfg, &d), -EINVAL);
    ck_assert_ptr_null(cfg);
    text[0] = '\0';
    for (size_t i = 0; i < d.n; i++) {
        const char *base = strrchr(d.v[i].file, '/');

        o += (size_t)snprintf(text + o, sizeof(text) - o, "%s:%u:%u: %s\n",
                              base ? base + 1 : d.v[i].file, d.v[i].line, d.v[i].col, d.v[i].msg);
    }
    for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++)
        assert_has(text, expect[i]);
    ck_assert_msg(d.n == sizeof(expect) / sizeof(expect[0]), "unexpected errors:\n%s", text);
    diag_fini(&d);
    free(path);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* Secrets: from the environment (and the URL in logs is never the problem: credentials are
 * refused in URLs); a secret file relative to vigie.yaml without $CREDENTIALS_DIRECTORY. */
START_TEST(secrets_env_and_file)
{
    char *dir = test_mkdtemp(), *path, yaml[1024];
    struct config *cfg = NULL;
    struct diag d;

    unsetenv("CREDENTIALS_DIRECTORY");
    setenv("VIGIE_TEST_TOKEN", "tok-from-env", 1);
    free(test_write(dir, "secrets/pw", "pw-from-file\n"));
    free(test_write(dir, "probes.d/a.yaml", "group: G\nprobes:\n  - id: a\n    url: http://x/\n"));
    setenv("VIGIE_TEST_HOOK_URL", "https://hooks.example.org/services/T0/B0/secret", 1);
    snprintf(yaml, sizeof(yaml),
             "receivers:\n"
             "  - {name: w, type: webhook, url: 'https://example.org/h', token_env: "
             "VIGIE_TEST_TOKEN}\n"
             "  - {name: s, type: webhook, template: slack, url_env: VIGIE_TEST_HOOK_URL}\n"
             "  - {name: m, type: smtp, url: 'smtps://mail.example.org', from: a@example.org,\n"
             "     to: [b@example.org], username: u, password_file: secrets/pw,\n"
             "     starttls: optional}\n");
    path = test_write(dir, "vigie.yaml", yaml);
    diag_init(&d);
    if (config_load(path, &cfg, &d) != 0)
        diag_print(&d, stderr);
    ck_assert_ptr_nonnull(cfg);
    ck_assert_str_eq(config_receiver(cfg, "w")->secret, "tok-from-env");
    ck_assert_str_eq(config_receiver(cfg, "m")->secret, "pw-from-file");
    ck_assert(config_receiver(cfg, "m")->starttls_optional);
    ck_assert_uint_eq(config_receiver(cfg, "m")->timeout_ms, 10000);
    ck_assert_uint_eq(config_receiver(cfg, "m")->backoff_max_ms, 30000);
    ck_assert_ptr_null(config_receiver(cfg, "nope"));
    {
        char spool[700];

        snprintf(spool, sizeof(spool), "%s/state/spool", dir); /* alerting.spool_dir */
        ck_assert_str_eq(cfg->spool_dir, spool);
    }
    ck_assert_str_eq(config_receiver(cfg, "s")->url,
                     "https://hooks.example.org/services/T0/B0/secret");
    ck_assert_int_eq(config_receiver(cfg, "s")->template, TEMPLATE_SLACK);
    config_free(cfg);
    diag_fini(&d);
    free(path);
    test_rmtree(dir);
    free(dir);
}
END_TEST

Suite *notify_suite(void)
{
    Suite *s = suite_create("notify");
    TCase *tc = tcase_create("receivers");
    TCase *tcc = tcase_create("config");

    tcase_add_unchecked_fixture(tc, test_srv_up, test_srv_down);
    tcase_set_timeout(tc, test_timeout(30));
    tcase_add_test(tc, webhook_vigie_json);
    tcase_add_test(tc, webhook_chat_templates);
    tcase_add_test(tc, webhook_down_then_back);
    tcase_add_test(tc, webhook_burst);
    tcase_add_test(tc, rate_limit_holds_excess);
    tcase_add_test(tc, reload_orphans_and_back);
    tcase_add_test(tc, submit_refusals);
    tcase_add_test(tc, spool_survives_sigkill);
    tcase_add_test(tc, spool_close_and_resume);
    tcase_add_test(tc, exec_env_and_stdin);
    tcase_add_test(tc, exec_timeout_and_retry);
    tcase_add_test(tc, smtp_starttls_auth);
    tcase_add_test(tc, smtp_starttls_required_or_optional);
    tcase_add_test(tc, smtps_implicit_tls);
    tcase_add_test(tc, alertmanager_v2);
    suite_add_tcase(s, tc);
    tcase_add_test(tcc, bad_receivers);
    tcase_add_test(tcc, secrets_env_and_file);
    suite_add_tcase(s, tcc);
    return s;
}
