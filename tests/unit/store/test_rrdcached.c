/* rrdw writing through a real rrdcached (Debian's, started by the test on a unix socket and on
 * 127.0.0.1): files created and updated through it, readable by `rrdtool` once flushed; samples
 * kept while rrdcached is down and written when it is back; `vigie run` with `rrdcached:`. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "store/rrdw.h"
#include "testutil.h"

struct cached {
    pid_t pid;
    char addr[700];
    char dir[512]; /* its base directory, where the RRD files go */
    char tmp[512];
};

/* Starts rrdcached in the foreground on `addr` (a unix socket under tmp when NULL). */
static void cached_start(struct cached *c, const char *tmp, const char *addr)
{
    char journal[600], pidf[600], sock[600];
    pid_t pid;

    snprintf(c->tmp, sizeof(c->tmp), "%s", tmp);
    snprintf(c->dir, sizeof(c->dir), "%s/rrd", tmp);
    snprintf(journal, sizeof(journal), "%s/journal", tmp);
    snprintf(pidf, sizeof(pidf), "%s/rrdcached.pid", tmp);
    snprintf(sock, sizeof(sock), "%s/rrdcached.sock", tmp);
    mkdir(c->dir, 0755);
    mkdir(journal, 0755);
    if (addr)
        snprintf(c->addr, sizeof(c->addr), "%s", addr);
    else
        snprintf(c->addr, sizeof(c->addr), "unix:%s", sock);
    unlink(sock);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open("/dev/null", O_RDWR);

        dup2(fd, 1);
        dup2(fd, 2);
        /* -w 3600: values stay in its cache, so a read that finds them proves the flush */
        execlp("rrdcached", "rrdcached", "-g", "-F", "-w", "3600", "-z", "1", "-l", c->addr, "-b",
               c->dir, "-j", journal, "-p", pidf, (char *)NULL);
        _exit(127);
    }
    c->pid = pid;
    test_rrdcached_wait(c->addr, 5000);
}

static void cached_stop(struct cached *c)
{
    int st;

    if (c->pid <= 0)
        return;
    kill(c->pid, SIGTERM);
    waitpid(c->pid, &st, 0);
    c->pid = 0;
}

static void on_closed(void *arg)
{
    (*(int *)arg)++;
}

static struct result ok_ms(int64_t ms)
{
    struct result r;

    memset(&r, 0, sizeof(r));
    r.outcome = OUTCOME_OK;
    r.status = 200;
    r.total_us = ms * 1000;
    r.dns_us = r.connect_us = 1000;
    r.tls_us = r.pretransfer_us = -1;
    r.ttfb_us = r.total_us - 100;
    r.response_us = r.total_us / 2;
    return r;
}

/* Rows of the first DS known in (from, to] of file `name` under c->dir, read by `rrdtool fetch`
 * once `rrdtool flushcached` made rrdcached write its cache out. `name` is given to rrdcached
 * as vigie gives it: `dir`/name. */
static size_t known_up(const struct cached *c, const char *dir, const char *name, int64_t from,
                       int64_t to)
{
    char s[32], e[32], *out = NULL, *line, dpath[800], path[800];
    size_t n = 0;

    snprintf(dpath, sizeof(dpath), "%s/%s", dir, name);
    snprintf(path, sizeof(path), "%s/%s", c->dir, name);
    ck_assert_int_eq(RRDTOOL(NULL, "flushcached", "--daemon", c->addr, dpath), 0);
    snprintf(s, sizeof(s), "%lld", (long long)from);
    snprintf(e, sizeof(e), "%lld", (long long)to);
    ck_assert_int_eq(RRDTOOL(&out, "fetch", path, "AVERAGE", "-s", s, "-e", e), 0);
    for (line = out; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        char *colon = strchr(line, ':'), *eol = strchr(line, '\n');
        char *end;
        double v;

        if (!colon || (eol && colon > eol) || strtoll(line, NULL, 10) <= from ||
            strtoll(line, NULL, 10) > to)
            continue;
        v = strtod(colon + 1, &end);
        n += end != colon + 1 && !isnan(v);
    }
    free(out);
    return n;
}

static void push_range(struct rrdw *w, struct probe *p, int64_t base, int from, int to)
{
    for (int i = from; i < to; i++) {
        struct result r = ok_ms(100 + i);

        rrdw_push(w, p, base + (int64_t)i * 60 + 1, &r, false);
    }
}

static void run_flush(uv_loop_t *loop, struct rrdw *w)
{
    rrdw_flush(w);
    uv_run(loop, UV_RUN_DEFAULT);
}

/* `dir`: the RRD directory as vigie names it to rrdcached: its absolute path over a unix socket,
 * "." (its base directory) over TCP, where librrd refuses absolute paths. */
static void through_cached(const char *addr_or_null)
{
    char *tmp = test_mkdtemp(), id[] = "p";
    const char *dir;
    struct cached c = {0};
    struct probe p = {.id = id, .interval_ms = 60000};
    int64_t base = ((int64_t)time(NULL) - 3 * 3600) / 3600 * 3600;
    struct rrdw_opts o = {.flush_ms = 3600 * 1000};
    struct rrdw_stats st;
    uv_loop_t loop;
    struct rrdw *w;
    int closed = 0;

    signal(SIGPIPE, SIG_IGN); /* as vigie does: a daemon going away is an error, not a death */
    cached_start(&c, tmp, addr_or_null);
    dir = addr_or_null ? "." : c.dir;
    o.dir = dir;
    o.daemon = c.addr;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    w = rrdw_new(&loop, &o);
    ck_assert_ptr_nonnull(w);

    /* 30 samples through rrdcached: the files exist, the values are in its cache */
    push_range(w, &p, base, 0, 30);
    run_flush(&loop, w);
    rrdw_stats(w, &st);
    ck_assert_uint_eq(st.written, 30);
    ck_assert(!st.daemon_down);
    ck_assert_uint_eq(known_up(&c, dir, "p.rrd", base, base + 30 * 60), 30);

    /* rrdcached stops (it writes its cache out): 20 more samples wait in memory */
    cached_stop(&c);
    push_range(w, &p, base, 30, 50);
    run_flush(&loop, w);
    rrdw_stats(w, &st);
    ck_assert(st.daemon_down);
    ck_assert_uint_eq(st.written, 30);
    ck_assert_uint_eq(st.queued, 20);

    /* back: everything is written, nothing was lost */
    cached_start(&c, tmp, addr_or_null);
    run_flush(&loop, w);
    rrdw_stats(w, &st);
    ck_assert(!st.daemon_down);
    ck_assert_uint_eq(st.written, 50);
    ck_assert_uint_eq(st.queued, 0);
    ck_assert_uint_eq(known_up(&c, dir, "p.rrd", base, base + 50 * 60), 50);
    ck_assert_uint_eq(known_up(&c, dir, "p.phases.rrd", base, base + 50 * 60), 50);

    rrdw_close(w, NULL, on_closed, &closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(closed, 1);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    cached_stop(&c);
    test_rmtree(tmp);
    free(tmp);
}

START_TEST(test_unix_socket)
{
    through_cached(NULL);
}
END_TEST

START_TEST(test_tcp)
{
    char addr[64];

    /* a port of our own in the dynamic range, derived from the pid to keep runs apart */
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", 42000 + (int)(getpid() % 2000));
    through_cached(addr);
}
END_TEST

/* `vigie run` with `rrdcached:` records through it. */
START_TEST(test_daemon_through_cached)
{
    char *tmp = test_mkdtemp(), yaml[2048], *cfg, *err = NULL, url[256];
    struct cached c = {0};

    cached_start(&c, tmp, NULL);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/?status=200", test_srv.http);
    snprintf(yaml, sizeof(yaml),
             "rrd_dir: %s\nrrdcached: \"%s\"\nrrd_flush: 1s\ndefaults: {interval: 1s, timeout: "
             "900ms}\n",
             c.dir, c.addr);
    cfg = test_write(tmp, "vigie.yaml", yaml);
    snprintf(yaml, sizeof(yaml), "group: g\nprobes:\n  - {id: a, url: \"%s\"}\n", url);
    free(test_write(tmp, "probes.d/g.yaml", yaml));
    ck_assert_int_eq(test_vigie((const char *const[]){"run", "-c", cfg, "--duration", "5s", NULL},
                                NULL, &err, test_timeout(30)),
                     0);
    ck_assert_msg(known_up(&c, c.dir, "a.rrd", (int64_t)time(NULL) - 30, (int64_t)time(NULL) + 5) >=
                      3,
                  "too few samples through rrdcached; vigie said:\n%s", err);
    free(err);
    free(cfg);
    cached_stop(&c);
    test_rmtree(tmp);
    free(tmp);
}
END_TEST

/* Two nodes with --shard 1/2 and 2/2 write into one rrdcached: every probe's files are written
 * by exactly one of them, the one its id hashes to. */
START_TEST(test_two_shards_one_directory)
{
    char *tmp = test_mkdtemp(), yaml[4096], *cfg, *err = NULL, path[800];
    struct cached c = {0};
    size_t off, mine[2] = {0, 0};
    int64_t last_a[12];

    cached_start(&c, tmp, NULL);
    snprintf(yaml, sizeof(yaml),
             "rrd_dir: %s\nrrdcached: \"%s\"\nrrd_flush: 1s\ndefaults: {interval: 1s, timeout: "
             "900ms}\n",
             c.dir, c.addr);
    cfg = test_write(tmp, "vigie.yaml", yaml);
    off = (size_t)snprintf(yaml, sizeof(yaml), "group: g\nprobes:\n");
    for (int i = 0; i < 12; i++)
        off += (size_t)snprintf(yaml + off, sizeof(yaml) - off,
                                "  - {id: p%d, url: \"http://127.0.0.1:%d/?n=%d\"}\n", i,
                                test_srv.http, i);
    free(test_write(tmp, "probes.d/g.yaml", yaml));

    for (int node = 1; node <= 2; node++) {
        char shard[16];

        snprintf(shard, sizeof(shard), "%d/2", node);
        ck_assert_int_eq(test_vigie((const char *const[]){"run", "-c", cfg, "--duration", "3s",
                                                          "--shard", shard, NULL},
                                    NULL, &err, test_timeout(30)),
                         0);
        free(err);
        err = NULL;
        for (int i = 0; i < 12; i++) {
            char id[16], *out = NULL;
            unsigned owner;

            snprintf(id, sizeof(id), "p%d", i);
            owner = config_shard_of(id, 2);
            snprintf(path, sizeof(path), "%s/%s.rrd", c.dir, id);
            if (owner > (unsigned)node) {
                ck_assert_msg(access(path, F_OK) != 0, "%s written before its node ran", path);
                continue;
            }
            ck_assert_int_eq(RRDTOOL(&out, "last", "--daemon", c.addr, path), 0);
            if (node == 1) {
                last_a[i] = strtoll(out, NULL, 10);
                mine[owner - 1]++;
            } else if (owner == 1) {
                /* node 2 did not touch node 1's files */
                ck_assert_int_eq(strtoll(out, NULL, 10), last_a[i]);
            } else {
                mine[1]++;
            }
            free(out);
        }
    }
    ck_assert_uint_eq(mine[0] + mine[1], 12);
    ck_assert_uint_gt(mine[0], 0);
    ck_assert_uint_gt(mine[1], 0);
    free(cfg);
    cached_stop(&c);
    test_rmtree(tmp);
    free(tmp);
}
END_TEST

Suite *rrdcached_suite(void)
{
    Suite *s = suite_create("rrdcached");
    TCase *tc = tcase_create("rrdcached");

    tcase_add_unchecked_fixture(tc, test_srv_up, test_srv_down);
    tcase_set_timeout(tc, test_timeout(60));
    tcase_add_test(tc, test_unix_socket);
    tcase_add_test(tc, test_tcp);
    tcase_add_test(tc, test_daemon_through_cached);
    tcase_add_test(tc, test_two_shards_one_directory);
    suite_add_tcase(s, tc);
    return s;
}
